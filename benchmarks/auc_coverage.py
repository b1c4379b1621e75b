#!/usr/bin/env python
"""How often a 95% interval of a ROC AUC contains the true AUC: a Monte-Carlo study of candidate intervals over
the test images, to choose the one `wildgan.evaluation.auc_ci` gives.

Scores are binormal: normal images N(0, 1), anomalies N(d, 1) (N(d, sd^2) with --anomaly-sd), d chosen so that
the true AUC Phi(d / sqrt(1 + sd^2)) is each of --aucs; each (anomalies, normals) of --sizes is drawn --reps times,
once with continuous scores and once rounded to a grid of --grid (ties, whose true AUC counts a tie half and is
computed from the binned distributions). For each candidate the table gives the coverage of the true AUC, the mean
width, and the share of degenerate (zero-width) intervals. Candidates, each at 95%:

  wald       DeLong's variance, AUC +- 1.96 se, clipped to [0, 1] (auc_ci up to 2026-12-02)
  logit      DeLong's variance on the logit scale, logit(AUC) +- 1.96 se / (AUC (1 - AUC)), transformed back;
             zero width at an AUC of 0 or 1, where the logit is infinite, or with DeLong's variance 0
  logit_n5   logit, and newcombe5 where logit has zero width (a boundary correction)
  newcombe3  Newcombe's (2006, Stat Med 25:559) score interval with Hanley and McNeil's variance V(theta) as a
             function of the true AUC: the thetas with (AUC - theta)^2 <= 1.96^2 V(theta) ('method 3', the counts
             of anomalies and normals as they are)
  newcombe5  the same with both counts replaced by their mean (Newcombe's 'method 5', recommended there; V then
             does not depend on which class is called positive)
  scaled5    newcombe5's V(theta) scaled by DeLong's variance over V(AUC) at the observed AUC (1 where DeLong's
             variance is 0): DeLong's level with Newcombe's shape in theta
  hull       the smallest interval holding logit_n5 and newcombe5: wildgan's auc_ci (from 2026-12-02, after a few
             hours of hull_f50), which the study checks against the library's on a few samples of each cell
  logit_f50  logit with DeLong's variance raised to at least half of newcombe5's V at the observed AUC, and
             newcombe5 at an AUC of 0 or 1: near AUC 1, DeLong's variance rests on the few pairs ranked wrong and is
             often far too small. On 1000 + 1000 binormal scores DeLong's variance is 0.88 V at AUC 0.9, 0.67 V
             at 0.97, 0.47 V at 0.99 and 0.36 V at 0.995 (medians), so a floor of 0.5 V leaves large test sets
             with DeLong's interval below AUC 0.98. But the floor, about (1 - AUC) / n, is large on the logit
             scale near 1: one pair ranked wrong of 20 x 200 puts the lower end near 0.1
  score_fC   scaled5 with the scale not below C (newcombe5 where DeLong's variance is 0)
  hull_f50   the smallest interval holding logit_n5 and score_f50 (wildgan's auc_ci for a few hours of 2026-12-02:
             not monotone in the ranking, below)
  hull_f50e  hull_f50 with the scale 1/2 also at an AUC of 0 or 1 (the limit of the floor as DeLong's variance
             goes to 0): hull_f50's scale 1 there gives a perfect ranking a lower end below that of one with a
             pair ranked wrong (0.880 against 0.936 on 10 + 50 images)

    python benchmarks/auc_coverage.py                   # the default grid, about 30 s on one core
    python benchmarks/auc_coverage.py --reps 400 --json /tmp/auc_coverage.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from statistics import NormalDist

import numpy as np

from wildgan.evaluation.metrics import auc_ci

Z = NormalDist().inv_cdf(0.975)
FLOORS = (0.4, 0.5, 0.6)
METHODS = ("wald", "logit", "logit_n5", "newcombe3", "newcombe5", "scaled5", "hull", "logit_f50") + tuple(
    f"score_f{c * 100:.0f}" for c in FLOORS) + ("hull_f50", "hull_f50e")
CHOSEN = "hull"
SHOWN = ("wald", "logit_n5", "newcombe5", "logit_f50", "score_f50", CHOSEN)


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, ties at their average rank (row by row)."""
    order = np.argsort(x, axis=-1, kind="stable")
    s = np.take_along_axis(x, order, axis=-1)
    n = x.shape[-1]
    i = np.broadcast_to(np.arange(n), x.shape)
    starts = np.ones(x.shape, bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    ends = np.ones(x.shape, bool)
    ends[..., :-1] = starts[..., 1:]
    first = np.maximum.accumulate(np.where(starts, i, 0), axis=-1)
    last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, i, n), axis=-1), axis=-1), axis=-1)
    r = np.empty(x.shape)
    np.put_along_axis(r, order, (first + last) / 2.0 + 1.0, axis=-1)
    return r


def delong_rows(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUC, DeLong variance) of each row of anomaly scores pos [R, m] and normal scores neg [R, n]."""
    m, n = pos.shape[1], neg.shape[1]
    r = _midranks(np.concatenate([pos, neg], axis=1))
    v10 = (r[:, :m] - _midranks(pos)) / n
    v01 = 1.0 - (r[:, m:] - _midranks(neg)) / m
    return v10.mean(axis=1), v10.var(axis=1, ddof=1) / m + v01.var(axis=1, ddof=1) / n


def hm_variance(theta: np.ndarray, m: int, n: int, m_star: float, n_star: float) -> np.ndarray:
    """Hanley and McNeil's variance of the AUC as a function of the true AUC theta, with m_star, n_star in place of
    (anomalies - 1, normals - 1) (Newcombe 2006). Anomalies - 1 goes with Q1 - theta^2 = theta (1 - theta)^2 /
    (2 - theta), two anomalies above one normal image (newcombe3 had the counts swapped until 2026-12-02)."""
    return theta * (1 - theta) * (1 + m_star * (1 - theta) / (2 - theta) + n_star * theta / (1 + theta)) / (m * n)


def score_interval(auc: np.ndarray, m: int, n: int, m_star: float, n_star: float,
                   scale: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The thetas with (auc - theta)^2 <= Z^2 scale V(theta), by bisection on each side of auc (vectorised, 60
    halvings; the library's bisects one AUC at a time to adjacent floats)."""
    def f(t: np.ndarray) -> np.ndarray:
        return (auc - t) ** 2 - Z * Z * scale * hm_variance(t, m, n, m_star, n_star)

    bounds = []
    for a, b in ((np.zeros_like(auc), auc.copy()), (np.ones_like(auc), auc.copy())):
        # f(a) >= 0 at the end (V(0) = V(1) = 0), f(b) <= 0 at the AUC: keep the sign change between a and b
        for _ in range(60):
            mid = (a + b) / 2
            out = f(mid) > 0
            a, b = np.where(out, mid, a), np.where(out, b, mid)
        bounds.append(b)
    return bounds[0], bounds[1]


def intervals(pos: np.ndarray, neg: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    m, n = pos.shape[1], neg.shape[1]
    auc, var = delong_rows(pos, neg)
    se = np.sqrt(np.maximum(var, 0.0))
    out = {"wald": (np.clip(auc - Z * se, 0, 1), np.clip(auc + Z * se, 0, 1))}
    inside = (auc > 0) & (auc < 1) & (var > 0)       # (all scores tied: an AUC of 0.5 and no variance)
    a = np.where((auc > 0) & (auc < 1), auc, 0.5)
    half = Z * se / (a * (1 - a))
    lg = np.log(a / (1 - a))
    lo, hi = 1 / (1 + np.exp(-(lg - half))), 1 / (1 + np.exp(-(lg + half)))
    out["logit"] = (np.where(inside, lo, auc), np.where(inside, hi, auc))
    half_n = (m + n) / 2 - 1
    out["newcombe3"] = score_interval(auc, m, n, m - 1, n - 1)
    out["newcombe5"] = n5 = score_interval(auc, m, n, half_n, half_n)
    out["logit_n5"] = (np.where(inside, lo, n5[0]), np.where(inside, hi, n5[1]))
    v5 = hm_variance(auc, m, n, half_n, half_n)
    scale = np.where((var > 0) & (v5 > 0), var / np.where(v5 > 0, v5, 1.0), 1.0)
    out["scaled5"] = score_interval(auc, m, n, half_n, half_n, scale)
    out["hull"] = (np.minimum(out["logit_n5"][0], n5[0]), np.maximum(out["logit_n5"][1], n5[1]))
    hf = Z * np.sqrt(np.maximum(var, 0.5 * v5)) / (a * (1 - a))
    lf, uf = 1 / (1 + np.exp(-(lg - hf))), 1 / (1 + np.exp(-(lg + hf)))
    boundary = (auc == 0) | (auc == 1)
    out["logit_f50"] = (np.where(boundary, n5[0], lf), np.where(boundary, n5[1], uf))
    for c in FLOORS:
        out[f"score_f{c * 100:.0f}"] = score_interval(auc, m, n, half_n, half_n, np.where(inside, np.maximum(scale, c),
                                                                                             1.0))
    g = out["score_f50"]
    out["hull_f50"] = (np.minimum(out["logit_n5"][0], g[0]), np.maximum(out["logit_n5"][1], g[1]))
    e = score_interval(auc, m, n, half_n, half_n,
                       np.where(inside, np.maximum(scale, 0.5), np.where(boundary, 0.5, 1.0)))
    out["hull_f50e"] = (np.minimum(np.where(inside, lo, e[0]), e[0]), np.maximum(np.where(inside, hi, e[1]), e[1]))
    return out


def true_auc(d: float, sd: float, grid: float) -> float:
    """P(anomaly > normal) + P(tie) / 2 for N(d, sd^2) against N(0, 1), both rounded to multiples of grid (0: no
    rounding)."""
    if grid == 0:
        return NormalDist().cdf(d / math.sqrt(1 + sd * sd))
    k = np.arange(math.floor((-9) / grid), math.ceil((d + 9 * sd) / grid) + 1)
    cdf = np.vectorize(NormalDist().cdf)
    p = cdf((k + 0.5) * grid) - cdf((k - 0.5) * grid)            # normal images in the bin of k * grid
    q = cdf(((k + 0.5) * grid - d) / sd) - cdf(((k - 0.5) * grid - d) / sd)    # anomalies there
    below = np.cumsum(p) - p
    return float((q * (below + p / 2)).sum())


def study(sizes: list[tuple[int, int]], aucs: list[float], grid: float, reps: int, seed: int,
          sd: float = 1.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for ties in (False, True):
        for m, n in sizes:
            for target in aucs:
                d = math.sqrt(1 + sd * sd) * NormalDist().inv_cdf(target)
                pos = rng.standard_normal((reps, m)) * sd + d
                neg = rng.standard_normal((reps, n))
                g = grid if ties else 0.0
                if ties:
                    pos, neg = np.round(pos / grid) * grid, np.round(neg / grid) * grid
                theta = true_auc(d, sd, g)
                ivs = intervals(pos, neg)
                for i in range(3):          # the library's auc_ci is CHOSEN, computed another way
                    got = auc_ci(np.r_[np.ones(m, int), np.zeros(n, int)], np.r_[pos[i], neg[i]])
                    want = (ivs[CHOSEN][0][i], ivs[CHOSEN][1][i])
                    assert np.allclose(got, want, rtol=0, atol=1e-9), (m, n, got, want)
                row = {"anomalies": m, "normals": n, "ties": ties, "target_auc": target, "true_auc": theta}
                wald = ivs["wald"]
                for name, (lo, hi) in ivs.items():
                    row[name] = {"coverage": float(((lo <= theta) & (theta <= hi)).mean()),
                                 "width": float((hi - lo).mean()),
                                 "degenerate": float((hi - lo <= 0).mean()),
                                 "max_vs_wald": float(np.maximum(abs(lo - wald[0]), abs(hi - wald[1])).max()),
                                 "outside_01": int(((lo < 0) | (hi > 1)).sum())}
                rows.append(row)
    return rows


def summary(rows: list[dict], largest: tuple[int, int]) -> list[dict]:
    out = []
    for name in METHODS:
        cov = np.array([r[name]["coverage"] for r in rows])
        big = [r for r in rows if (r["anomalies"], r["normals"]) == largest]
        out.append({"method": name, "mean_abs_error": float(np.abs(cov - 0.95).mean()),
                    "worst_coverage": float(cov.min()), "cells_below_0.925": int((cov < 0.925).sum()),
                    "cells_above_0.99": int((cov > 0.99).sum()),
                    "degenerate": float(np.mean([r[name]["degenerate"] for r in rows])),
                    "outside_01": sum(r[name]["outside_01"] for r in rows),
                    "max_vs_wald_largest": max(r[name]["max_vs_wald"] for r in big) if big else float("nan")})
    return out


def markdown(rows: list[dict], summ: list[dict], largest: tuple[int, int]) -> str:
    head = "| anomalies + normals | ties | true AUC | " + " | ".join(SHOWN) + " |"
    lines = ["Coverage of the true AUC (target 0.95) / mean width; degenerate (zero-width) share in brackets where "
             "non-zero.", "", head, "|" + "---|" * (3 + len(SHOWN))]
    for r in rows:
        cells = []
        for name in SHOWN:
            c = r[name]
            deg = f" [{c['degenerate']:.0%}]" if c["degenerate"] > 0 else ""
            cells.append(f"{c['coverage']:.3f} / {c['width']:.3f}{deg}")
        lines.append(f"| {r['anomalies']} + {r['normals']} | {'grid' if r['ties'] else '-'} | {r['true_auc']:.3f} | "
                     + " | ".join(cells) + " |")
    lines += ["", f"| method | mean abs(coverage - 0.95) | worst coverage | cells < 0.925 | cells > 0.99 | "
              f"degenerate share | bounds outside [0, 1] | max abs(bound - wald) at {largest[0]} + {largest[1]} |",
              "|---|---|---|---|---|---|---|---|"]
    for s in summ:
        lines.append(f"| {s['method']} | {s['mean_abs_error']:.3f} | {s['worst_coverage']:.3f} | "
                     f"{s['cells_below_0.925']} | {s['cells_above_0.99']} | {s['degenerate']:.1%} | "
                     f"{s['outside_01']} | {s['max_vs_wald_largest']:.4f} |")
    return "\n".join(lines)


def _pairs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in p.split(",")) for p in text.split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=4000, help="samples per cell (coverage's Monte-Carlo se is about "
                    "sqrt(0.95 * 0.05 / reps): 0.0034 at 4000)")
    ap.add_argument("--sizes", type=_pairs, default=_pairs("3,10 5,5 10,50 20,200 50,50 100,1000 1000,1000"),
                    help="'anomalies,normals ...'")
    ap.add_argument("--aucs", type=lambda t: [float(v) for v in t.split(",")], default=[0.6, 0.75, 0.9, 0.97, 0.995])
    ap.add_argument("--grid", type=float, default=0.5, help="the rounding of the tied scores (in normal sds)")
    ap.add_argument("--anomaly-sd", type=float, default=1.0, help="the anomalies' sd (the normal images': 1); "
                    "unequal sds make ROC curves that Hanley and McNeil's variance does not model")
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--json", help="also write the rows and the summary here")
    a = ap.parse_args()
    t = time.perf_counter()
    rows = study(a.sizes, a.aucs, a.grid, a.reps, a.seed, a.anomaly_sd)
    largest = max(a.sizes, key=lambda p: p[0] * p[1])
    summ = summary(rows, largest)
    print(markdown(rows, summ, largest))
    print(f"\n{a.reps} samples a cell, anomalies' sd {a.anomaly_sd:g}, seed {a.seed}, "
          f"{time.perf_counter() - t:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"reps": a.reps, "seed": a.seed, "grid": a.grid, "anomaly_sd": a.anomaly_sd, "rows": rows,
                       "summary": summ}, f, indent=1)


if __name__ == "__main__":
    main()
