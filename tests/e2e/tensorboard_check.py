#!/usr/bin/python3
"""An independent reader of rnn_dist's TensorBoard folders (tests/e2e/tensorboard.sh).

It uses only Debian's python3-protobuf and python3-crc32c, and proto/tensorboard.proto compiled
here with protoc (so the messages are decoded by protobuf's own Python runtime, not by rnn_dist):

  tensorboard_check.py --proto proto/tensorboard.proto --scratch DIR EVENTS_DIR
      [--history history.csv] [--steps N --every K] [--lr LR] [--files N] [--same-as DIR2]

Checks every record of every events file in EVENTS_DIR (name order, as TensorBoard reads them):
the length and data CRCs (masked CRC-32C), that the data decodes as an Event holding a
file_version, a summary of simple_value scalars or a session log, and that every file starts with
file_version "brain.Event:2". Then, over all files together: every tag's steps strictly increase
(nothing duplicated); batch_loss/batch_acc are at exactly the steps K, 2K, ... <= N; the epoch
scalars equal history.csv's rows (to its 6 printed digits) and epoch_learning_rate is LR;
--same-as: every tag but epoch_examples_per_second has the same (step, value) points as DIR2.
Prints what it found and every failure; exits 1 on any failure.
"""
import argparse
import csv
import os
import struct
import subprocess
import sys

import crc32c

BATCH_TAGS = ("batch_loss", "batch_acc")
HISTORY_TAGS = {"epoch_loss": "loss", "epoch_acc": "acc", "epoch_val_loss": "val_loss",
                "epoch_val_acc": "val_acc",
                "epoch_examples_per_second": "examples_per_second"}
failures = []


def fail(message):
    failures.append(message)
    print("  FAIL  " + message)


def load_messages(proto, scratch):
    """Compiles proto with protoc into scratch and imports the generated module."""
    folder, name = os.path.split(os.path.abspath(proto))
    subprocess.run(["protoc", "--proto_path=" + folder, "--python_out=" + scratch, name],
                   check=True)
    sys.path.insert(0, scratch)
    import tensorboard_pb2  # pylint: disable=import-outside-toplevel
    return tensorboard_pb2


def masked(data):
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    """The data of every record of path; a damaged or truncated record is a failure."""
    with open(path, "rb") as f:
        raw = f.read()
    pos, out = 0, []
    while pos < len(raw):
        where = "%s: record %d at byte %d" % (os.path.basename(path), len(out) + 1, pos)
        if len(raw) - pos < 12:
            fail(where + ": truncated header")
            break
        (length,), (length_crc,) = struct.unpack("<Q", raw[pos:pos + 8]), \
            struct.unpack("<I", raw[pos + 8:pos + 12])
        if masked(raw[pos:pos + 8]) != length_crc:
            fail(where + ": length CRC mismatch")
            break
        end = pos + 12 + length
        if end + 4 > len(raw):
            fail(where + ": truncated (%d bytes of data announced)" % length)
            break
        data = raw[pos + 12:end]
        if masked(data) != struct.unpack("<I", raw[end:end + 4])[0]:
            fail(where + ": data CRC mismatch")
            break
        out.append(data)
        pos = end + 4
    return out


def read_folder(folder, pb):
    """{tag: [(step, value)]} over the folder's events files in name order; the number of files
    and of SessionLog START events."""
    files = sorted(f for f in os.listdir(folder) if "tfevents" in f)
    scalars, starts = {}, []
    for name in files:
        events = []
        for data in records(os.path.join(folder, name)):
            event = pb.Event()
            try:
                event.ParseFromString(data)
            except Exception as e:  # pylint: disable=broad-except
                fail("%s: an Event that does not decode: %s" % (name, e))
                continue
            events.append(event)
        if not events or events[0].file_version != "brain.Event:2":
            fail("%s: does not start with file_version brain.Event:2" % name)
        for event in events:
            what = event.WhichOneof("what")
            if what == "session_log" and event.session_log.status == pb.SessionLog.START:
                starts.append(event.step)
            elif what == "summary":
                for value in event.summary.value:
                    if value.WhichOneof("value") != "simple_value":
                        fail("%s: tag %s at step %d holds no simple_value"
                             % (name, value.tag, event.step))
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
            elif what != "file_version":
                fail("%s: an event of kind %s" % (name, what))
    return files, scalars, starts


def check_increasing(scalars):
    for tag, points in sorted(scalars.items()):
        steps = [s for s, _ in points]
        bad = [(a, b) for a, b in zip(steps, steps[1:]) if b <= a]
        if bad:
            fail("%s: steps not strictly increasing across the files: %s" % (tag, bad[:5]))


def close(a, b):
    return abs(a - b) <= 1e-5 * abs(b) + 1e-6


def check_history(scalars, history, lr):
    with open(history, newline="") as f:
        rows = list(csv.DictReader(f))
    for tag, column in HISTORY_TAGS.items():
        values = [v for _, v in scalars.get(tag, [])]
        if len(values) != len(rows):
            fail("%s: %d points, history.csv has %d epochs" % (tag, len(values), len(rows)))
            continue
        for row, value in zip(rows, values):
            if not close(value, float(row[column])):
                fail("%s epoch %s: %r, history.csv %s" % (tag, row["epoch"], value, row[column]))
    want = struct.unpack("<f", struct.pack("<f", lr))[0]
    got = [v for _, v in scalars.get("epoch_learning_rate", [])]
    if len(got) != len(rows) or any(v != want for v in got):
        fail("epoch_learning_rate: %s, want %d x %r" % (got, len(rows), want))
    print("  epoch scalars of %d epoch(s) compared with %s" % (len(rows), history))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--proto", required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--history")
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--every", type=int)
    parser.add_argument("--files", type=int)
    parser.add_argument("--same-as")
    args = parser.parse_args()
    pb = load_messages(args.proto, args.scratch)

    files, scalars, starts = read_folder(args.folder, pb)
    print("  %s: %d file(s), SessionLog START at steps %s, %s" % (
        args.folder, len(files), starts,
        ", ".join("%s %d points (steps %d..%d)" % (t, len(p), p[0][0], p[-1][0])
                  for t, p in sorted(scalars.items()))))
    if args.files is not None and len(files) != args.files:
        fail("%d events files, want %d: %s" % (len(files), args.files, files))
    check_increasing(scalars)
    if args.steps is not None:
        want = list(range(args.every, args.steps + 1, args.every))
        for tag in BATCH_TAGS:
            got = [s for s, _ in scalars.get(tag, [])]
            if got != want:
                fail("%s at steps %s, want %s" % (tag, got, want))
    if args.history:
        check_history(scalars, args.history, args.lr)
    if args.same_as:
        _, other, _ = read_folder(args.same_as, pb)
        for tag in sorted(set(scalars) | set(other)):
            if tag != "epoch_examples_per_second" and scalars.get(tag) != other.get(tag):
                fail("%s differs from %s's: %s vs %s" % (tag, args.same_as, scalars.get(tag),
                                                          other.get(tag)))
    if failures:
        print("  tensorboard_check: %d failure(s)" % len(failures))
        return 1
    print("  tensorboard_check: every record and value checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
