#!/usr/bin/python3
"""PyTorch reference fixtures for rnn_dist's Model (forward logits, BCE loss, all gradients).

WHAT IT COMPUTES
  For a few small fixed models  Embedding -> recurrent stack -> Dense(1)  (sigmoid folded into a
  binary cross-entropy on logits), in float64, from parameters drawn here with a seeded numpy RNG
  and rounded to float32 (so the reference is the float64 answer for exactly the float32 values
  the C++ test loads):
    - logits (B), the pre-sigmoid output of the Dense(1) head;
    - loss = mean over the batch of BCE-with-logits(logit, label);
    - dlogits = dloss/dlogits = (sigmoid(z) - y) / B;
    - grad/<name>: dloss/d(every parameter tensor), in KERAS LAYOUT, under rnn_dist's tensor names
      (the names Model gives: embedding/embeddings, lstm/kernel, ..., gru_1/bias, dense/kernel).
  The recurrent layers run through torch.nn.LSTM / GRU / RNN(tanh) (unmasked cases) or, step by
  step, through torch.nn.LSTMCell / GRUCell / RNNCell with Keras mask_zero semantics (masked
  cases: where token == 0 the layer's state AND output are carried over from the previous step,
  zero before the first step). The script asserts that the step-by-step path with no mask agrees
  with the full-sequence modules (logits and gradients), so the two PyTorch paths check each
  other, and that a plain numpy forward written from the Keras equations in Keras layout (no
  conversion at all) gives the same logits, which checks the layout conversions below.

LAYOUT CONVERSIONS (Keras -> PyTorch; the inverse maps the gradients back)
  Embedding: Keras embeddings (V, d) == torch.nn.Embedding.weight (V, d).
  Dense(1):  Keras kernel (n, 1), bias (1); logits = h @ kernel + bias (done by hand).
  SimpleRNN: kernel (n, u) -> weight_ih_l0 = kernel.T (u, n); recurrent_kernel (u, u) ->
             weight_hh_l0 = recurrent_kernel.T; bias (u) -> bias_ih_l0; bias_hh_l0 = 0 (frozen).
             h_t = tanh(W x_t + b + U h_{t-1}) in both.
  LSTM:      kernel (n, 4u) -> weight_ih_l0 = kernel.T (4u, n); recurrent_kernel (u, 4u) ->
             weight_hh_l0 = recurrent_kernel.T (4u, u); bias (4u) -> bias_ih_l0, bias_hh_l0 = 0.
             Gate order is the same in both: Keras i, f, c, o == PyTorch i, f, g, o.
  GRU:       Keras reset_after=True: kernel (n, 3u), recurrent_kernel (u, 3u), bias (2, 3u) with
             row 0 = input bias, row 1 = recurrent bias, gate order z, r, h along the 3u axis.
             PyTorch weight_ih_l0 (3u, n), weight_hh_l0 (3u, u), bias_ih_l0 (3u), bias_hh_l0 (3u),
             gate order r, z, n. So, with P = the block permutation [r, z, h] of Keras's [z, r, h]:
               weight_ih = P(kernel).T, weight_hh = P(recurrent_kernel).T,
               bias_ih = P(bias[0]), bias_hh = P(bias[1]).
             The math is identical: PyTorch n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) is
             Keras reset_after, and h' = (1 - z) * n + z * h in both.
  Gradients come back through the exact inverses (transpose, inverse block permutation), and the
  script checks that keras -> torch -> keras round-trips every tensor.
  Bias gradients: with bias_hh frozen at zero (LSTM, SimpleRNN), d/d(Keras bias) = d/d(bias_ih).

TOKENS AND LABELS
  Fixed ids in [0, num_words); written time-major like Model::forward wants (tokens[t*B + b]).
  Unmasked cases also contain id 0 as an ordinary token (so embedding row 0 gets a gradient);
  masked cases use Keras pre-padding (leading zeros), and the edge cases an all-padding example
  and a zero in the middle of a sequence (Keras mask_zero masks that step too).

FIXTURE FORMAT (one file per case, <case>.txt, plain text, %.17g values)
  '# ...'                                  comment
  'meta <key> <value>'                     num_words, embed_dim, layers (rnn_dist --layers text,
                                           e.g. lstm:4,gru:3), mask_padding (0/1), T, B
  'tensor <name> <rank> <d0..> <values>'   row-major values of a tensor of the given Keras shape:
                                           tokens (T, B), labels (B), every parameter by rnn_dist
                                           name, logits (B), loss (scalar, rank 0), dlogits (B),
                                           grad/<parameter name>

REGENERATE (from the repository root; needs Debian's python3-torch, hence /usr/bin/python3):
  /usr/bin/python3 tests/model/reference/make_reference.py tests/model/reference/
The output is deterministic (fixed seeds, float64 CPU arithmetic); tests/model/test_reference.cc
reads the files.
"""

import os
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def f32(a):
    """Rounds to float32 and back: the values the C++ side holds exactly."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# --------------------------------------------------------------------------------------------
# Keras <-> PyTorch parameter conversions, one pair per layer type.

def gru_keras_to_torch_rows(m, u):
    """Keras [z r h] column blocks of an (.., 3u) array -> PyTorch [r z n] row blocks (transposed)."""
    z, r, h = m[..., 0:u], m[..., u:2 * u], m[..., 2 * u:3 * u]
    return np.concatenate([r, z, h], axis=-1)


def gru_torch_to_keras_rows(m, u):
    """Inverse of gru_keras_to_torch_rows: PyTorch [r z n] -> Keras [z r h] along the last axis."""
    r, z, h = m[..., 0:u], m[..., u:2 * u], m[..., 2 * u:3 * u]
    return np.concatenate([z, r, h], axis=-1)


def keras_to_torch(kind, u, p):
    """p: dict kernel/recurrent_kernel/bias in Keras layout -> dict of PyTorch weight arrays."""
    if kind in ("lstm", "simplernn"):
        return {"weight_ih": p["kernel"].T.copy(), "weight_hh": p["recurrent_kernel"].T.copy(),
                "bias_ih": p["bias"].copy(), "bias_hh": np.zeros_like(p["bias"])}
    if kind == "gru":
        return {"weight_ih": gru_keras_to_torch_rows(p["kernel"], u).T.copy(),
                "weight_hh": gru_keras_to_torch_rows(p["recurrent_kernel"], u).T.copy(),
                "bias_ih": gru_keras_to_torch_rows(p["bias"][0], u),
                "bias_hh": gru_keras_to_torch_rows(p["bias"][1], u)}
    raise ValueError(kind)


def torch_to_keras(kind, u, t):
    """Inverse of keras_to_torch (used for the gradients). For LSTM/SimpleRNN bias_hh is frozen
    at zero and the Keras bias is bias_ih."""
    if kind in ("lstm", "simplernn"):
        return {"kernel": t["weight_ih"].T.copy(), "recurrent_kernel": t["weight_hh"].T.copy(),
                "bias": t["bias_ih"].copy()}
    if kind == "gru":
        return {"kernel": gru_torch_to_keras_rows(t["weight_ih"].T, u),
                "recurrent_kernel": gru_torch_to_keras_rows(t["weight_hh"].T, u),
                "bias": np.stack([gru_torch_to_keras_rows(t["bias_ih"], u),
                                  gru_torch_to_keras_rows(t["bias_hh"], u)])}
    raise ValueError(kind)


def keras_shapes(kind, n, u):
    g = {"simplernn": 1, "lstm": 4, "gru": 3}[kind]
    bias = (2, 3 * u) if kind == "gru" else (g * u,)
    return {"kernel": (n, g * u), "recurrent_kernel": (u, g * u), "bias": bias}


def keras_names(layers):
    """rnn_dist's (Keras's) layer names: simple_rnn, lstm, gru, then _1, _2 for repeats."""
    seen, names = {}, []
    for kind, _ in layers:
        base = "simple_rnn" if kind == "simplernn" else kind
        k = seen.get(base, 0)
        names.append(base if k == 0 else "%s_%d" % (base, k))
        seen[base] = k + 1
    return names


# --------------------------------------------------------------------------------------------
# The recurrent layers in PyTorch.

def make_seq_module(kind, n, u):
    if kind == "lstm":
        return torch.nn.LSTM(n, u)
    if kind == "gru":
        return torch.nn.GRU(n, u)
    return torch.nn.RNN(n, u, nonlinearity="tanh")


def make_cell(kind, n, u):
    if kind == "lstm":
        return torch.nn.LSTMCell(n, u)
    if kind == "gru":
        return torch.nn.GRUCell(n, u)
    return torch.nn.RNNCell(n, u, nonlinearity="tanh")


def load_torch_params(module, tp, suffix):
    """Copies PyTorch-layout arrays into module's parameters (names + suffix, e.g. '_l0')."""
    with torch.no_grad():
        for key, value in tp.items():
            getattr(module, key + suffix).copy_(torch.from_numpy(value))
    # bias_hh of LSTM/SimpleRNN stands for nothing in Keras: keep it at zero, no gradient needed.


def torch_grads(module, suffix):
    return {key: getattr(module, key + suffix).grad.numpy().copy()
            for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def run_stepwise(kind, cell, x, mask):
    """x: (T, B, n); mask: (T, B) bool or None. Keras mask_zero semantics: at a masked step the
    state and the output are the previous step's (zeros before the first step).
    Returns the output sequence (T, B, u)."""
    T, B, _ = x.shape
    u = cell.hidden_size
    h = torch.zeros(B, u)
    c = torch.zeros(B, u)
    outs = []
    for t in range(T):
        if kind == "lstm":
            h_new, c_new = cell(x[t], (h, c))
        else:
            h_new, c_new = cell(x[t], h), c
        if mask is not None:
            m = mask[t].unsqueeze(1)
            h_new = torch.where(m, h_new, h)
            c_new = torch.where(m, c_new, c)
        h, c = h_new, c_new
        outs.append(h)
    return torch.stack(outs)

# --------------------------------------------------------------------------------------------
# An independent forward pass in numpy written from the Keras equations (Keras layout, no
# conversion): it checks the conversions above, the GRU gate permutation in particular.

def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def keras_forward_numpy(params, layers, tokens, mask_padding):
    T, B = tokens.shape
    x = params["embedding/embeddings"][tokens]  # (T, B, d)
    mask = tokens != 0 if mask_padding else np.ones((T, B), dtype=bool)
    for name, (kind, u) in zip(keras_names(layers), layers):
        K = params[name + "/kernel"]
        R = params[name + "/recurrent_kernel"]
        b = params[name + "/bias"]
        h = np.zeros((B, u))
        c = np.zeros((B, u))
        outs = []
        for t in range(T):
            if kind == "simplernn":
                h_new, c_new = np.tanh(x[t] @ K + b + h @ R), c
            elif kind == "lstm":
                z = x[t] @ K + h @ R + b
                i, f = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u])
                g, o = np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
                c_new = f * c + i * g
                h_new = o * np.tanh(c_new)
            else:  # GRU, reset_after: bias row 0 input side, row 1 recurrent side; [z r h]
                xs = x[t] @ K + b[0]
                hs = h @ R + b[1]
                zg = sigmoid(xs[:, :u] + hs[:, :u])
                rg = sigmoid(xs[:, u:2 * u] + hs[:, u:2 * u])
                hh = np.tanh(xs[:, 2 * u:] + rg * hs[:, 2 * u:])
                h_new, c_new = zg * h + (1 - zg) * hh, c
            m = mask[t][:, None]
            h = np.where(m, h_new, h)
            c = np.where(m, c_new, c)
            outs.append(h)
        x = np.stack(outs)
    return (x[-1] @ params["dense/kernel"] + params["dense/bias"])[:, 0]


# --------------------------------------------------------------------------------------------

def draw_params(rng, num_words, embed_dim, layers):
    """Keras-layout parameters, float32-representable, by rnn_dist tensor name (ordered)."""
    params = {"embedding/embeddings": f32(rng.uniform(-0.5, 0.5, (num_words, embed_dim)))}
    n = embed_dim
    for name, (kind, u) in zip(keras_names(layers), layers):
        for key, shape in keras_shapes(kind, n, u).items():
            params["%s/%s" % (name, key)] = f32(rng.uniform(-0.5, 0.5, shape))
        n = u
    params["dense/kernel"] = f32(rng.uniform(-1.0, 1.0, (n, 1)))
    params["dense/bias"] = f32(rng.uniform(-0.2, 0.2, (1,)))
    return params


def run_model(params, layers, tokens, labels, mask_padding, stepwise):
    """Forward + backward in PyTorch. tokens (T, B) int, labels (B). Returns logits, loss,
    dlogits and the Keras-layout gradients by name."""
    T, B = tokens.shape
    num_words, embed_dim = params["embedding/embeddings"].shape
    emb = torch.nn.Embedding(num_words, embed_dim)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(params["embedding/embeddings"]))
    tok = torch.from_numpy(tokens.astype(np.int64))
    mask = (tok != 0) if mask_padding else None
    x = emb(tok)  # (T, B, d): PyTorch's RNNs are time-major by default, like rnn_dist
    modules = []
    n = embed_dim
    names = keras_names(layers)
    for name, (kind, u) in zip(names, layers):
        kp = {key: params["%s/%s" % (name, key)] for key in keras_shapes(kind, n, u)}
        tp = keras_to_torch(kind, u, kp)
        # The conversion must round-trip exactly (it is a transpose and a block permutation).
        back = torch_to_keras(kind, u, tp)
        for key in kp:
            assert np.array_equal(back[key], kp[key]), (name, key)
        if stepwise or mask is not None:
            mod = make_cell(kind, n, u)
            load_torch_params(mod, tp, "")
            x = run_stepwise(kind, mod, x, mask)
            suffix = ""
        else:
            mod = make_seq_module(kind, n, u)
            load_torch_params(mod, tp, "_l0")
            x, _ = mod(x)
            suffix = "_l0"
        modules.append((name, kind, u, mod, suffix))
        n = u
    last = x[-1]  # (B, u): with carried-over state this is also Keras's masked final output
    wd = torch.from_numpy(params["dense/kernel"]).requires_grad_()
    bd = torch.from_numpy(params["dense/bias"]).requires_grad_()
    logits = (last @ wd + bd).squeeze(1)
    logits.retain_grad()
    y = torch.from_numpy(labels.astype(np.float64))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="mean")
    loss.backward()

    grads = {"embedding/embeddings": emb.weight.grad.numpy().copy()}
    for name, kind, u, mod, suffix in modules:
        for key, value in torch_to_keras(kind, u, torch_grads(mod, suffix)).items():
            grads["%s/%s" % (name, key)] = value
        if kind != "gru":
            # bias_hh enters exactly like bias_ih: its gradient must equal the Keras bias's.
            g = torch_grads(mod, suffix)
            assert np.allclose(g["bias_hh"], g["bias_ih"], rtol=0, atol=1e-15)
    grads["dense/kernel"] = wd.grad.numpy().copy()
    grads["dense/bias"] = bd.grad.numpy().copy()
    return {"logits": logits.detach().numpy().copy(), "loss": loss.item(),
            "dlogits": logits.grad.numpy().copy(), "grads": grads}


def fmt_tensor(name, a):
    a = np.asarray(a)
    dims = " ".join(str(d) for d in a.shape)
    if a.dtype.kind in "iu":
        vals = " ".join(str(int(v)) for v in a.reshape(-1))
    else:
        vals = " ".join("%.17g" % v for v in a.reshape(-1))
    head = "tensor %s %d" % (name, a.ndim) + (" " + dims if dims else "")
    return head + " " + vals + "\n"


def write_case(out_dir, case, num_words, embed_dim, layers, tokens, labels, mask_padding, seed,
               note):
    rng = np.random.default_rng(seed)
    params = draw_params(rng, num_words, embed_dim, layers)
    ref = run_model(params, layers, tokens, labels, mask_padding, stepwise=False)
    # Independent numpy forward from the Keras equations (checks the layout conversions).
    np_logits = keras_forward_numpy(params, layers, tokens, mask_padding)
    assert np.allclose(np_logits, ref["logits"], rtol=1e-12, atol=1e-13), (np_logits, ref["logits"])
    if not mask_padding:
        # Cross-check the two PyTorch paths (full-sequence module vs cell loop) on this case.
        alt = run_model(params, layers, tokens, labels, False, stepwise=True)
        assert np.allclose(alt["logits"], ref["logits"], rtol=1e-12, atol=1e-13)
        for key in ref["grads"]:
            assert np.allclose(alt["grads"][key], ref["grads"][key], rtol=1e-10, atol=1e-13), key
    T, B = tokens.shape
    layers_text = ",".join("%s:%d" % l for l in layers)
    path = os.path.join(out_dir, case + ".txt")
    with open(path, "w") as f:
        f.write("# rnn_dist PyTorch reference fixture, written by make_reference.py; do not edit.\n")
        f.write("# %s\n" % note)
        f.write("# torch %s, float64; parameters float32-representable, Keras layout.\n"
                % torch.__version__)
        f.write("meta num_words %d\nmeta embed_dim %d\nmeta layers %s\n" %
                (num_words, embed_dim, layers_text))
        f.write("meta mask_padding %d\nmeta T %d\nmeta B %d\n" % (int(mask_padding), T, B))
        f.write(fmt_tensor("tokens", tokens.astype(np.int64)))
        f.write(fmt_tensor("labels", labels.astype(np.float64)))
        for name, value in params.items():
            f.write(fmt_tensor(name, value))
        f.write(fmt_tensor("logits", ref["logits"]))
        f.write(fmt_tensor("loss", np.array(ref["loss"])))
        f.write(fmt_tensor("dlogits", ref["dlogits"]))
        for name in params:
            f.write(fmt_tensor("grad/" + name, ref["grads"][name]))
    print("%-20s %-14s mask=%d loss=%.6f logits=%s" %
          (path, layers_text, int(mask_padding), ref["loss"], np.array2string(ref["logits"],
                                                                             precision=4)))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 make_reference.py <output folder>")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    V, d = 20, 5

    # Unmasked: (T=7, B=3) batch-major rows for readability, transposed to time-major below.
    plain = np.array([[1, 5, 19, 7, 0, 3, 12],
                      [1, 2, 2, 9, 14, 6, 4],
                      [0, 0, 1, 11, 8, 17, 13]]).T.copy()
    labels3 = np.array([1, 0, 1])
    # Keras pre-padding (lengths 7, 4, 1).
    prepad = np.array([[1, 5, 19, 7, 16, 3, 12],
                       [0, 0, 0, 1, 14, 6, 4],
                       [0, 0, 0, 0, 0, 0, 9]]).T.copy()
    # Edge cases for masking: an all-padding example (output stays zero, logit = dense bias),
    # a zero in the middle of a sequence (masked too), a full row, a pre-padded row.
    edge = np.array([[1, 5, 19, 7, 16, 3, 12],
                     [0, 0, 0, 0, 0, 0, 0],
                     [0, 1, 8, 0, 0, 15, 4],
                     [0, 0, 1, 2, 10, 18, 6]]).T.copy()
    labels4 = np.array([1, 0, 0, 1])

    cases = [
        ("lstm", [("lstm", 4)], plain, labels3, False, 101,
         "Embedding(20,5) -> LSTM(4) -> Dense(1); token 0 is an ordinary token (no mask)"),
        ("simple_rnn", [("simplernn", 4)], plain, labels3, False, 102,
         "Embedding(20,5) -> SimpleRNN(4, tanh) -> Dense(1); no mask"),
        ("gru", [("gru", 4)], plain, labels3, False, 103,
         "Embedding(20,5) -> GRU(4, reset_after) -> Dense(1); no mask"),
        ("stacked", [("lstm", 4), ("gru", 3)], plain, labels3, False, 104,
         "Embedding(20,5) -> LSTM(4, return_sequences) -> GRU(3) -> Dense(1); no mask"),
        ("lstm_masked", [("lstm", 4)], prepad, labels3, True, 105,
         "Embedding(20,5, mask_zero) -> LSTM(4) -> Dense(1); pre-padded (lengths 7, 4, 1)"),
        ("simple_rnn_masked", [("simplernn", 4)], prepad, labels3, True, 106,
         "Embedding(20,5, mask_zero) -> SimpleRNN(4) -> Dense(1); pre-padded (lengths 7, 4, 1)"),
        ("gru_masked", [("gru", 4)], prepad, labels3, True, 107,
         "Embedding(20,5, mask_zero) -> GRU(4) -> Dense(1); pre-padded (lengths 7, 4, 1)"),
        ("stacked_masked_edge", [("lstm", 4), ("gru", 3), ("simplernn", 2)], edge, labels4,
         True, 108,
         "Embedding(20,5, mask_zero) -> LSTM(4) -> GRU(3) -> SimpleRNN(2) -> Dense(1); "
         "an all-padding example and a zero mid-sequence"),
    ]
    for case, layers, tokens, labels, masked, seed, note in cases:
        write_case(out_dir, case, V, d, layers, tokens, labels, masked, seed, note)


if __name__ == "__main__":
    main()
