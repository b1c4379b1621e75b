#!/usr/bin/env python
"""Are the paired tests of two AUCs calibrated on larger test sets? The type-I error rate at alpha 0.05 of DeLong's
paired test, of the paired permutation test (Bandos, Rockette & Gur 2005) and of its studentized version (since
2026-12-03) where the two scores have the same true AUC, on test sets of 500, 2,000 and 5,000 images (20,000 and
60,000 with --sizes), and the time a test takes:
to check where `wildgan.evaluation.auc_difference` switches from the permutation test to DeLong's (a bound on the
images, PERMUTATION_MAX_IMAGES, which benchmarks/auc_paired_size.py measured up to about 2,000 images only: 2,000,
then 5,000, then none from 2026-12-03, once the permutation test cost little more at 60,000 images than DeLong's).

The scores are auc_paired_size.py's binormal pair (imported from it, so that the two studies' cells are the same
model): the first's normal images N(0, 1), anomalies N(d1, 1); the second's noise correlated rho with the first's,
its anomalies N(d2, sd2^2), mapped by exp(x / 3) * 100 to another scale. d1 and d2 give both the same true AUC.
'crossing' sd2 = 2: the second ROC curve has the same area but another shape, so the two curves cross (the
permutation test's null hypothesis, exchangeable ranks, is false there although the AUCs are equal);
'non-crossing' sd2 = 1: one ROC curve, both tests' null hypothesis.

Tests, each two-sided at alpha 0.05:
  delong       DeLong's paired test (normal p of diff / se, DeLong's se; Newcombe's hybrid se where it is 0, as
               auc_difference), rejecting at p < alpha
  permutation  wildgan.evaluation.metrics.paired_permutation_p (exact, or Monte-Carlo with 2^14 draws where the
               exact distribution costs too much), rejecting at p <= alpha
  studentized  wildgan.evaluation.metrics.paired_studentized_permutation_p: the same swaps, the statistic the
               difference over its own DeLong se (asymptotically valid for equal AUCs where the curves cross;
               added 2026-12-03), rejecting at p <= alpha

A cell's rejection rate has a Monte-Carlo standard error of about sqrt(0.05 * 0.95 / reps): 0.013 at 300.

    OMP_NUM_THREADS=1 python benchmarks/paired_test_calibration.py     # the default grid: about 30 min, one core
    OMP_NUM_THREADS=1 python benchmarks/paired_test_calibration.py --sizes 500                     # about 90 s
    OMP_NUM_THREADS=1 python benchmarks/paired_test_calibration.py --reps 100 --sizes 500 --anomalies 5
    OMP_NUM_THREADS=1 python benchmarks/paired_test_calibration.py --reps 200 --sizes 20000,60000   # about 2 min
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# the sibling module found from this folder (run from anywhere, or imported by the tests), and the folder taken off
# sys.path again: left on it, it stayed first on the importing process's path (the whole pytest session), where every
# benchmark's name shadowed any module of that name
sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from auc_paired_size import draw  # noqa: E402  (the sibling study's model of two scores, not a copy of it)
finally:
    sys.path.pop(0)

from wildgan.evaluation.metrics import (  # noqa: E402
    auc_difference,
    delong,
    paired_permutation_p,
    paired_studentized_permutation_p,
    uses_permutation,
)

ALPHA = 0.05
TESTS = ("delong", "permutation", "studentized")


def delong_p(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong's paired p of the two AUCs, computed as auc_difference computes it where it uses DeLong's test (its
    p is not taken from auc_difference itself, which runs the permutation test instead on small classes)."""
    aucs, cov = delong(y, [a, b])
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if var > 0.0:
        return math.erfc(abs(diff) / math.sqrt(var) / math.sqrt(2.0))
    if diff == 0.0:
        return 1.0
    # (both AUCs 0/1 or all tied: auc_difference's Newcombe hybrid se; rare here, so its extra cost is not timed
    # apart from the rest)
    se = auc_difference(y, a, b)["se"]
    return math.erfc(abs(diff) / se / math.sqrt(2.0))


def wildgan_uses(m: int, n: int) -> str:
    """Which of TESTS auc_difference's p is on m anomalies and n normal images."""
    return "permutation" if uses_permutation(m, n) else "DeLong"


def cell(rng: np.random.Generator, images: int, m: int, auc: float, rho: float, sd2: float,
         reps: int) -> dict:
    """One null cell: `reps` test sets of m anomalies among `images` images, every test on each."""
    reject = dict.fromkeys(TESTS, 0)
    seconds: dict[str, list[float]] = {t: [] for t in TESTS}
    kinds: set[str] = set()
    for _ in range(reps):
        y, a, b = draw(rng, m, images - m, auc, auc, rho, sd2, False)
        t0 = time.perf_counter()
        p_d = delong_p(y, a, b)
        t1 = time.perf_counter()
        p_p, kind = paired_permutation_p(y, a, b)
        t2 = time.perf_counter()
        p_s = paired_studentized_permutation_p(y, a, b)[0]
        t3 = time.perf_counter()
        kinds.add(kind)
        seconds["delong"].append(t1 - t0)
        seconds["permutation"].append(t2 - t1)
        seconds["studentized"].append(t3 - t2)
        reject["delong"] += p_d < ALPHA
        reject["permutation"] += p_p <= ALPHA
        reject["studentized"] += p_s <= ALPHA
    return {"images": images, "anomalies": m, "auc": auc, "rho": rho, "shape_sd": sd2, "crossing": sd2 != 1.0,
            "reps": reps, **{t: reject[t] / reps for t in TESTS},
            **{f"{t}_ms": 1e3 * statistics.median(seconds[t]) for t in TESTS},
            "permutation_kind": " / ".join(sorted(kinds)),
            "wildgan_uses": wildgan_uses(m, images - m)}


def study(sizes: list[int], anomalies: list[int], aucs: list[float], rhos: list[float], shapes: list[float],
          reps: int, seed: int) -> list[dict]:
    """Every null cell, each one's line printed as it is done (the large cells take minutes: a run stopped early
    keeps what it printed)."""
    rng = np.random.default_rng(seed)
    rows = []
    print(CELL_HEADER, flush=True)
    for images in sizes:
        for m in anomalies:
            for auc in aucs:
                for rho in rhos:
                    for sd2 in shapes:
                        rows.append(cell(rng, images, m, auc, rho, sd2, reps))
                        print(cell_line(rows[-1]), flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per (images, anomalies) and ROC shape: each test's mean and largest rejection rate over the null cells, how
    many cells exceed 0.075 (300 samples of a test of size 0.05 exceed it with probability 0.02), and the
    median time per test over the cells."""
    out = []
    for images, m in dict.fromkeys((r["images"], r["anomalies"]) for r in rows):
        for crossing in (False, True):
            cs = [r for r in rows if (r["images"], r["anomalies"], r["crossing"]) == (images, m, crossing)]
            if not cs:
                continue
            s: dict = {"images": images, "anomalies": m, "crossing": crossing, "cells": len(cs),
                       "wildgan_uses": cs[0]["wildgan_uses"]}
            for t in TESTS:
                v = [r[t] for r in cs]
                s[t] = {"mean": float(np.mean(v)), "max": float(np.max(v)),
                        "above_0.075": int(sum(x > 0.075 for x in v)),
                        "ms": float(np.median([r[f"{t}_ms"] for r in cs]))}
            out.append(s)
    return out


CELL_HEADER = "\n".join([
    f"Type-I error rate at alpha {ALPHA} (equal true AUCs), one line per null cell (ms: median a test):", "",
    "| images | anomalies | AUC | rho | ROC curves | " + " | ".join(TESTS) + " | "
    + " | ".join(f"ms {t}" for t in TESTS) + " |", "|---" * (5 + 2 * len(TESTS)) + "|"])


def cell_line(r: dict) -> str:
    return (f"| {r['images']:,} | {r['anomalies']} | {r['auc']:g} | {r['rho']:g} | "
            f"{'crossing' if r['crossing'] else 'one shape'} | " + " | ".join(f"{r[t]:.3f}" for t in TESTS) + " | "
            + " | ".join(f"{r[t + '_ms']:.1f}" for t in TESTS) + " |")


def markdown(summ: list[dict]) -> str:
    lines = ["Over the null cells of each test set and ROC shape (mean / largest / cells above 0.075; median ms a "
             "test):", "",
              "| images | anomalies | ROC curves | cells | wildgan uses | " + " | ".join(TESTS) + " | "
              + " | ".join(f"ms {t}" for t in TESTS) + " |", "|---" * (5 + 2 * len(TESTS)) + "|"]
    for s in summ:
        rates = [f"{s[t]['mean']:.3f} / {s[t]['max']:.3f} / {s[t]['above_0.075']}" for t in TESTS]
        lines.append(f"| {s['images']:,} | {s['anomalies']} | {'crossing' if s['crossing'] else 'one shape'} | "
                     f"{s['cells']} | {s['wildgan_uses']} | " + " | ".join(rates) + " | "
                     + " | ".join(f"{s[t]['ms']:.1f}" for t in TESTS) + " |")
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.replace(",", " ").split()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.replace(",", " ").split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=300, help="test sets per cell (se of a rate near 0.05: 0.013)")
    ap.add_argument("--sizes", type=_ints, default=[500, 2000, 5000], help="images per test set (both classes)")
    ap.add_argument("--anomalies", type=_ints, default=[5, 9],
                    help="anomalies per test set: auc_difference uses the permutation test below 10 (at 10, DeLong's)")
    ap.add_argument("--aucs", type=_floats, default=[0.75, 0.95], help="the true AUC, both scores")
    ap.add_argument("--rhos", type=_floats, default=[0.0, 0.9], help="the two scores' correlation per class")
    ap.add_argument("--shapes", type=_floats, default=[1.0, 2.0],
                    help="the second score's anomalies' sd: 1 one ROC curve, else crossing curves")
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--json", help="also write the rows and the summary here")
    a = ap.parse_args()
    t = time.perf_counter()
    rows = study(a.sizes, a.anomalies, a.aucs, a.rhos, a.shapes, a.reps, a.seed)
    summ = summary(rows)
    print("\n" + markdown(summ))
    print(f"\n{a.reps} test sets a cell, seed {a.seed}, {time.perf_counter() - t:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"reps": a.reps, "seed": a.seed, "alpha": ALPHA, "rows": rows, "summary": summ}, f, indent=1)


if __name__ == "__main__":
    main()
