#!/usr/bin/env python3
"""Fits a simple cost model of a data-parallel step to tests/bench/network.sh's figures and
predicts larger jobs.

    tests/bench/cost_model.py RESULTS_TSV ONE_RANK_EXAMPLES_PER_S [--cores C]
                              [--gradient-floats-1024 N] [--alpha-us A]

Model of one step at P ranks, global batch B, ring all-reduce of G floats:

    t_step = c * B / P                      compute, c = seconds per example on one core
           + 2 (P - 1) * alpha              the ring's 2 (P - 1) message steps, alpha each
           + 2 (P - 1) / P * 4 G / (eta * R) the bytes each rank sends, at eta x the link rate R

c comes from the one-rank run (no network). alpha and eta are fitted by least squares to the
measured all-reduce time (its share of the step times the step time) of the ring's rows with at
most C ranks (default 2: on a 2-core machine more ranks share cores, and the time a descheduled
peer costs shows up as all-reduce time), with the bytes each host really sent. The other rows
are printed against the model for comparison. The fitted alpha is what one message costs over
veth and TCP inside this VM (kernel copies included), far more than a real NIC's; --alpha-us
prints the predictions again with another alpha (the README uses 20 us, typical of TCP on a real
10/100 GbE network), keeping the fitted eta. Predictions assume one rank per host with its
own core(s), i.e. compute scales as 1 / P, which the 2-core machine cannot show at 3 ranks.
"""
import csv
import sys

RATES = {"gbit": 1e9, "mbit": 1e6, "kbit": 1e3}


def rate_bits(text):
    for unit, scale in RATES.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(f"unknown rate {text!r}")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    rows = [r for r in csv.DictReader(open(argv[1]), delimiter="\t") if r["algorithm"] == "ring"]
    one = float(argv[2])
    g1024 = 328353.0
    cores = int(argv[argv.index("--cores") + 1]) if "--cores" in argv else 2
    if "--gradient-floats-1024" in argv:
        g1024 = float(argv[argv.index("--gradient-floats-1024") + 1])
    batch = 128
    c = 1.0 / one  # seconds per example, one core
    # Least squares for t = 2 (P - 1) alpha + bytes / R * (1 / eta): unknowns alpha, k = 1 / eta.
    a11 = a12 = a22 = b1 = b2 = 0.0
    points = []
    for r in rows:
        p = int(r["ranks"])
        step = batch / float(r["examples_per_s"])
        t = float(r["allreduce_pct"]) / 100.0 * step
        sent = sum(float(r[f"h{k}_bytes"]) for k in range(1, p + 1)) / p  # bytes per rank per step
        x1, x2 = 2 * (p - 1), 8 * sent / rate_bits(r["rate"])
        points.append((r["rate"], p, t, x1, x2, sent))
        if p > cores:
            continue
        a11 += x1 * x1
        a12 += x1 * x2
        a22 += x2 * x2
        b1 += x1 * t
        b2 += x2 * t
    det = a11 * a22 - a12 * a12
    alpha = (b1 * a22 - b2 * a12) / det
    k = (a11 * b2 - a12 * b1) / det
    eta = 1.0 / k
    print(f"compute: {c * 1e6:.1f} us per example on one core ({one:.0f} examples/s)")
    print(f"fit: alpha = {alpha * 1e6:.1f} us per ring step, link efficiency eta = {eta:.2f}")
    print(f"(fitted to the rows with at most {cores} ranks)")
    print("rate     ranks  all-reduce measured  model   (bytes per rank per step)")
    for rate, p, t, x1, x2, sent in points:
        print(f"{rate:8s} {p:5d}  {t * 1e3:10.2f} ms     {(alpha * x1 + k * x2) * 1e3:6.2f} ms"
              f"   ({sent / 1e3:.0f} kB)")
    # Gradient floats the row-sparse all-reduce sends: measured at batch 128 (bytes of the 2-rank
    # ring / (2 (P - 1) / P * 4)); at 1024 nearly every embedding row is touched, so the whole
    # gradient goes (RowSparseAllreduce's dense fallback above 75% of the rows).
    two = [pt for pt in points if pt[1] == 2]
    g128 = min(pt[5] for pt in two) / 4.0 if two else 136000.0
    print(f"gradient sent: {g128:.0f} floats at global batch 128 (measured), "
          f"{g1024:.0f} at 1024 (all of it)")
    predict(c, alpha, eta, g128, g1024, f"fitted alpha {alpha * 1e6:.0f} us")
    if "--alpha-us" in argv:
        a = float(argv[argv.index("--alpha-us") + 1]) * 1e-6
        predict(c, a, eta, g128, g1024, f"alpha {a * 1e6:.0f} us (given)")


def predict(c, alpha, eta, g128, g1024, label):
    print()
    print(f"predicted examples/s (and all-reduce share of the step), one rank per host, {label}:")
    print(f"{'ranks':>6} {'link':>9} {'batch 128':>24} {'batch 1024':>24}")
    for p in (8, 64, 256):
        for gbit in (10, 100):
            cells = []
            for b, g in ((128, g128), (1024, g1024)):
                if b < p:
                    cells.append(f"{'(batch < ranks)':>24}")
                    continue
                comp = c * b / p
                comm = 2 * (p - 1) * alpha + 2 * (p - 1) / p * 4 * g * 8 / (eta * gbit * 1e9)
                cells.append(f"{b / (comp + comm):>12,.0f} ({100 * comm / (comp + comm):4.1f}%)"
                             .rjust(24))
            print(f"{p:>6} {gbit:>5} Gb/s {cells[0]} {cells[1]}")


if __name__ == "__main__":
    main(sys.argv)
