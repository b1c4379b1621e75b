#!/usr/bin/env python
"""How often the paired tests of two AUCs reject equal AUCs at alpha 0.05 (their size, which should be at most
0.05) and how often they find a real difference (their power): a Monte-Carlo study over small and large test sets,
to choose where `wildgan.evaluation.auc_difference` uses the permutation test instead of DeLong's.

Two scores of the same images, both binormal: the first's normal images N(0, 1) and anomalies N(d1, 1); the
second's built from a noise correlated rho with the first's (rho within each class), anomalies N(d2, sd2^2), then
mapped by exp(x / 3) * 100, a monotone map to another scale (as our methods' scores do not share one). d1, d2 are
chosen for true AUCs Phi(d1 / sqrt(2)), Phi(d2 / sqrt(1 + sd2^2)). Under the null hypothesis both are the same AUC;
'shape' sd2 = 1 makes the two methods' ranks exchangeable (the permutation test's own null hypothesis), sd2 = 2 gives
ROC curves of the same area but another shape (crossing), which it is not built for. 'ties': both scores rounded to
multiples of 0.5 (in normal sds) before the map. Tests, each two-sided at 0.05:

  delong       DeLong's paired test: normal p of diff / se, DeLong's se (Newcombe's hybrid where it is 0): wildgan's
               auc_difference before 2026-12-02's change, and still on large test sets
  permutation  the exact paired permutation test of within-method ranks (Bandos, Rockette & Gur 2005):
               wildgan.evaluation.metrics.paired_permutation_p; not computed above --perm-max images
  studentized  the same swaps with the difference over its own DeLong se as the statistic:
               wildgan.evaluation.metrics.paired_studentized_permutation_p (2026-12-03); not above --perm-max either
  wildgan      what auc_difference gives now: the permutation test where uses_permutation(m, n), else delong

    python benchmarks/auc_paired_size.py                 # the default grid, about a minute on one core
    python benchmarks/auc_paired_size.py --reps 1000 --json /tmp/auc_paired_size.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from statistics import NormalDist

import numpy as np

from wildgan.evaluation.metrics import (
    auc_difference,
    paired_permutation_p,
    paired_studentized_permutation_p,
    uses_permutation,
)

ALPHA = 0.05
TESTS = ("delong", "permutation", "studentized", "wildgan")


def draw(rng: np.random.Generator, m: int, n: int, auc1: float, auc2: float, rho: float, sd2: float,
         ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, first, second) of m anomalies and n normal images, as the module docstring says."""
    d1 = math.sqrt(2.0) * NormalDist().inv_cdf(auc1)
    d2 = math.sqrt(1.0 + sd2 * sd2) * NormalDist().inv_cdf(auc2)
    e = rng.standard_normal((2, m + n))
    f = rho * e[0] + math.sqrt(1.0 - rho * rho) * e[1]
    y = np.r_[np.ones(m, int), np.zeros(n, int)]
    a = e[0] + d1 * y
    b = np.where(y == 1, f * sd2 + d2, f)
    if ties:
        a, b = np.round(a / 0.5) * 0.5, np.round(b / 0.5) * 0.5
    return y, a, np.exp(b / 3.0) * 100.0


def cell(rng: np.random.Generator, m: int, n: int, auc1: float, auc2: float, rho: float, sd2: float, ties: bool,
         reps: int, perm_max: int) -> dict:
    reject = dict.fromkeys(TESTS, 0)
    perm = m + n <= perm_max
    for _ in range(reps):
        y, a, b = draw(rng, m, n, auc1, auc2, rho, sd2, ties)
        d = auc_difference(y, a, b)
        p_delong = 1.0 if d["se"] == 0.0 else math.erfc(abs(d["diff"]) / d["se"] / math.sqrt(2.0))
        p_perm = paired_permutation_p(y, a, b)[0] if perm else float("nan")
        p_stud = paired_studentized_permutation_p(y, a, b)[0] if perm else float("nan")
        reject["delong"] += p_delong < ALPHA
        reject["permutation"] += p_perm <= ALPHA
        reject["studentized"] += p_stud <= ALPHA
        reject["wildgan"] += d["p"] <= ALPHA if d["test"] != "DeLong" else d["p"] < ALPHA
    out = {"anomalies": m, "normals": n, "auc1": auc1, "auc2": auc2, "rho": rho, "shape_sd": sd2, "ties": ties,
           "reps": reps}
    out.update({k: (v / reps if perm or k == "delong" or not uses_permutation(m, n) else None)
                for k, v in reject.items()})
    if not perm:
        out["permutation"] = out["studentized"] = None
    return out


def study(sizes: list[tuple[int, int]], aucs: list[float], rhos: list[float], shapes: list[float],
          alternatives: list[tuple[float, float]], reps: int, seed: int, perm_max: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for m, n in sizes:
        for auc in aucs:
            for rho in rhos:
                for sd2 in shapes:
                    rows.append(cell(rng, m, n, auc, auc, rho, sd2, False, reps, perm_max))
            rows.append(cell(rng, m, n, auc, auc, 0.5, 1.0, True, reps, perm_max))
        for a1, a2 in alternatives:
            rows.append(cell(rng, m, n, a1, a2, 0.5, 1.0, False, reps, perm_max))
    return rows


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def summary(rows: list[dict]) -> list[dict]:
    """Per test set size, over the null cells: the mean and the largest rejection rate of each test."""
    out = []
    for m, n in dict.fromkeys((r["anomalies"], r["normals"]) for r in rows):
        null = [r for r in rows if (r["anomalies"], r["normals"]) == (m, n) and r["auc1"] == r["auc2"]]
        s: dict = {"anomalies": m, "normals": n, "uses_permutation": uses_permutation(m, n)}
        for t in TESTS:
            v = [r[t] for r in null if r[t] is not None]
            s[t] = {"mean": float(np.mean(v)) if v else None, "max": float(np.max(v)) if v else None,
                    "cells_above_0.075": int(sum(x > 0.075 for x in v))}
        out.append(s)
    return out


def markdown(rows: list[dict], summ: list[dict]) -> str:
    lines = [f"Rejection rate at alpha {ALPHA} (size where the AUCs are equal, power where not).", "",
             "| anomalies + normals | AUCs | rho | shape sd | ties | " + " | ".join(TESTS) + " |",
             "|" + "---|" * (5 + len(TESTS))]
    for r in rows:
        aucs = f"{r['auc1']:g}" if r["auc1"] == r["auc2"] else f"**{r['auc1']:g} vs {r['auc2']:g}**"
        lines.append(f"| {r['anomalies']} + {r['normals']} | {aucs} | {r['rho']:g} | {r['shape_sd']:g} | "
                     f"{'grid' if r['ties'] else '-'} | " + " | ".join(_rate(r[t]) for t in TESTS) + " |")
    lines += ["", "Size over the null cells of each test set (mean / largest / cells above 0.075):", "",
              "| anomalies + normals | wildgan uses | " + " | ".join(TESTS) + " |", "|" + "---|" * (2 + len(TESTS))]
    for s in summ:
        cells = [("-" if s[t]["mean"] is None else
                  f"{s[t]['mean']:.3f} / {s[t]['max']:.3f} / {s[t]['cells_above_0.075']}") for t in TESTS]
        lines.append(f"| {s['anomalies']} + {s['normals']} | {'permutation' if s['uses_permutation'] else 'DeLong'} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pairs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in p.split(",")) for p in text.split()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200, help="samples per cell (a size's Monte-Carlo se is about "
                    "sqrt(0.05 * 0.95 / reps): 0.015 at 200, 0.007 at 1000)")
    ap.add_argument("--sizes", type=_pairs, default=_pairs("3,10 5,5 5,50 10,10 10,100 20,20 20,200 50,50 200,200"),
                    help="'anomalies,normals ...'")
    ap.add_argument("--aucs", type=_floats, default=[0.6, 0.75, 0.95], help="true AUCs of the null cells")
    ap.add_argument("--rhos", type=_floats, default=[0.0, 0.5, 0.9])
    ap.add_argument("--shapes", type=_floats, default=[1.0, 2.0], help="the second score's anomalies' sd")
    ap.add_argument("--alternatives", type=lambda t: [tuple(_floats(p)) for p in t.split()],
                    default=[(0.75, 0.6), (0.9, 0.75), (0.95, 0.8)], help="'auc1,auc2 ...' for the power cells")
    ap.add_argument("--perm-max", type=int, default=250, help="no permutation test above this many images (its "
                    "exact distribution costs images x range: 0.1 s at 200 + 200)")
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--json", help="also write the rows and the summary here")
    a = ap.parse_args()
    t = time.perf_counter()
    rows = study(a.sizes, a.aucs, a.rhos, a.shapes, a.alternatives, a.reps, a.seed, a.perm_max)
    summ = summary(rows)
    print(markdown(rows, summ))
    print(f"\n{a.reps} samples a cell, seed {a.seed}, {time.perf_counter() - t:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"reps": a.reps, "seed": a.seed, "alpha": ALPHA, "rows": rows, "summary": summ}, f, indent=1)


if __name__ == "__main__":
    main()
