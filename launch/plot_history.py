#!/usr/bin/python3
"""plot_history.py HISTORY_CSV [OUTDIR]: the Keras IMDB tutorial's two figures of a run.

Reads the history.csv that rank 0 of `rnn_dist train` writes (columns epoch, loss, acc, val_loss,
val_acc, ...; val_* empty when the run had no validation split) and draws, as the tutorial does:

  OUTDIR/accuracy.png  "Training and validation accuracy": acc as dots ('bo'), val_acc as a line ('b')
  OUTDIR/loss.png      "Training and validation loss":     loss as dots,       val_loss as a line

OUTDIR defaults to the CSV's folder. Uses matplotlib's Agg backend (no display needed); run it
with Debian's /usr/bin/python3 and python3-matplotlib.

Exit status: 0 written, 1 bad input (missing, empty or malformed CSV) or no matplotlib,
2 usage error. Errors are one line on stderr.
"""
import csv
import math
import os
import sys
import tempfile

PROG = "plot_history.py"
REQUIRED = ("epoch", "loss", "acc", "val_loss", "val_acc")
USAGE = f"usage: {PROG} HISTORY_CSV [OUTDIR]   (writes OUTDIR/accuracy.png and OUTDIR/loss.png)"


class InputError(Exception):
    """A problem with the CSV or the output folder: one line for the user, exit status 1."""


def read_history(path):
    """Returns {column: [values]} for REQUIRED columns; missing val_* values are NaN."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text CSV file") from None
    if not text.strip():
        raise InputError(f"{path} is empty (expected a header line and one row per epoch)")
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"{path}: header lacks column(s) {', '.join(missing)} "
                         f"(expected {','.join(REQUIRED)},...; got {','.join(header)})")
    index = {c: header.index(c) for c in REQUIRED}
    columns = {c: [] for c in REQUIRED}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}:{line_no}: {len(row)} fields, the header has {len(header)}")
        for c in REQUIRED:
            cell = row[index[c]].strip()
            if cell == "" and c.startswith("val_"):
                columns[c].append(math.nan)  # no validation split (or no metrics that epoch)
                continue
            try:
                value = int(cell) if c == "epoch" else float(cell)
            except ValueError:
                raise InputError(f"{path}:{line_no}: {c} '{cell}' is not a number") from None
            columns[c].append(value)
    if not columns["epoch"]:
        raise InputError(f"{path} has a header but no epoch rows (did the run finish an epoch?)")
    return columns


def draw(columns, outdir):
    """Writes accuracy.png and loss.png into outdir; returns their paths."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise InputError(f"matplotlib is not installed for {sys.executable} "
                         "(Debian: apt-get install python3-matplotlib; run /usr/bin/python3)") from None
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder {outdir}: {e.strerror}") from None

    umask = os.umask(0)
    os.umask(umask)
    epochs = columns["epoch"]
    written = []
    for metric, title, name in (("acc", "Training and validation accuracy", "accuracy.png"),
                                ("loss", "Training and validation loss", "loss.png")):
        fig, ax = plt.subplots()
        ax.plot(epochs, columns[metric], "bo", label=f"Training {metric}")
        val = columns["val_" + metric]
        if any(not math.isnan(v) for v in val):
            ax.plot(epochs, val, "b", label=f"Validation {metric}")
        ax.set_title(title)
        ax.set_xlabel("Epochs")
        ax.set_ylabel("Accuracy" if metric == "acc" else "Loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
        # Write to a temporary file in the same folder and rename, so that a reader never sees
        # half a PNG.
        path = os.path.join(outdir, name)
        fd, tmp = tempfile.mkstemp(prefix="." + name, suffix=".tmp", dir=outdir)
        try:
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the PNG the usual mode
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, format="png")
            os.replace(tmp, path)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise InputError(f"cannot write {path}: {e.strerror}") from None
        finally:
            plt.close(fig)
        written.append(path)
    return written


def main(argv):
    if len(argv) >= 2 and argv[1] in ("-h", "--help"):
        print(USAGE)
        return 0
    if len(argv) not in (2, 3):
        print(f"{PROG}: error: expected HISTORY_CSV [OUTDIR]\n{USAGE}", file=sys.stderr)
        return 2
    csv_path = argv[1]
    outdir = argv[2] if len(argv) == 3 else (os.path.dirname(csv_path) or ".")
    try:
        written = draw(read_history(csv_path), outdir)
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(f"{PROG}: wrote {' and '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
