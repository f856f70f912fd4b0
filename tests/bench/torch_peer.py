#!/usr/bin/python3
"""PyTorch CPU peer of bench_train: the same Keras-tutorial model and training step in PyTorch.

Run with Debian's python3 (python3-torch, PyTorch 1.13), NOT a pyenv `python3` from PATH:

  # default BLAS (Debian's reference libblas.so.3; slow for LSTM, keep --steps small):
  /usr/bin/python3 tests/bench/torch_peer.py --layer lstm --threads 1,2 --steps 5
  # OpenBLAS (apt-get install libopenblas0-openmp), without changing the system default:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      /usr/bin/python3 tests/bench/torch_peer.py --layer lstm --threads 1,2 --steps 20

  Note: installing libopenblas0-openmp makes its postinst switch the libblas.so.3/liblapack.so.3
  alternatives to OpenBLAS (auto mode, priority 95). To keep the reference BLAS the system
  default, set them back:
    update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/blas/libblas.so.3
    update-alternatives --set liblapack.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3
  The BLAS this process actually loaded is printed (from /proc/self/maps).

Model: nn.Embedding(10000, 32) -> nn.LSTM(32, 32, batch_first=True) (or nn.RNN, tanh) -> last
step -> nn.Linear(32, 1) -> BCEWithLogitsLoss; RMSprop(lr=1e-3, alpha=0.9, eps=1e-7); batch 128,
maxlen 500; random token ids in [1, 10000) with leading zero padding, lengths from the same
IMDB-like log-normal as bench_train (median 174, sigma 0.755, clipped to [10, maxlen]); no masking
(PyTorch computes all maxlen steps, as Keras without mask_zero does).

Prints one human line and one `RESULT key=value ...` line per (layer, threads) case.
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, layer, num_words, embed, units):
        super().__init__()
        self.embedding = nn.Embedding(num_words, embed)
        if layer == "lstm":
            self.rnn = nn.LSTM(embed, units, batch_first=True)
        elif layer == "gru":
            self.rnn = nn.GRU(embed, units, batch_first=True)
        else:
            self.rnn = nn.RNN(embed, units, nonlinearity="tanh", batch_first=True)
        self.dense = nn.Linear(units, 1)

    def forward(self, tokens):
        out, _ = self.rnn(self.embedding(tokens))
        return self.dense(out[:, -1, :]).squeeze(1)


def loaded_blas():
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "blas" in path or "lapack" in path:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return ",".join(sorted(libs)) or "none"


def make_batches(count, batch, maxlen, num_words, seed):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        lengths = np.clip(np.rint(rng.lognormal(np.log(174.0), 0.755, batch)), 10, maxlen).astype(int)
        tokens = np.zeros((batch, maxlen), dtype=np.int64)
        for b, length in enumerate(lengths):
            tokens[b, maxlen - length:] = rng.integers(1, num_words, length)
        labels = rng.integers(0, 2, batch).astype(np.float32)
        batches.append((torch.from_numpy(tokens), torch.from_numpy(labels)))
    return batches


def run(layer, threads, args):
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    model = Net(layer, args.num_words, args.embed, args.units)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    batches = make_batches(args.warmup + args.steps, args.batch, args.maxlen, args.num_words,
                           args.seed)
    elapsed = 0.0
    for s, (tokens, labels) in enumerate(batches):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(tokens), labels)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s >= args.warmup:
            elapsed += dt
    eps = args.steps * args.batch / elapsed
    blas = "openblas" if "openblas" in loaded_blas() else "default"
    print(f"torch {torch.__version__} {layer}:{args.units} threads {threads} blas {blas}: "
          f"{eps:8.1f} examples/s  {1e3 * elapsed / args.steps:8.2f} ms/step "
          f"({args.steps} steps after {args.warmup} warm-up)", flush=True)
    print(f"RESULT peer=torch layers={layer}:{args.units} threads={threads} blas={blas} "
          f"batch={args.batch} maxlen={args.maxlen} steps={args.steps} examples_per_s={eps:.2f} "
          f"ms_per_step={1e3 * elapsed / args.steps:.3f} loss={loss.item():.4f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layer", default="lstm", help="lstm, simplernn or gru (comma list)")
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--num-words", type=int, default=10000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--maxlen", type=int, default=500)
    p.add_argument("--threads", default="1,2", help="comma list")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    print(f"BLAS loaded: {loaded_blas()}", flush=True)
    for layer in args.layer.split(","):
        for t in (int(x) for x in args.threads.split(",")):
            run(layer.strip().lower(), t, args)


if __name__ == "__main__":
    main()
