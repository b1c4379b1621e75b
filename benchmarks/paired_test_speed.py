#!/usr/bin/env python
"""How long one paired permutation test of two AUCs takes (`wildgan.evaluation.metrics.paired_permutation_p`),
before and after its faster Monte-Carlo (2026-12-03), on test sets of 500 to 60,000 images with 5 or 100 anomalies.

Before: the code of a git revision's src/wildgan/evaluation/metrics.py (--before REV, loaded from `git show` as a
module of its own: it imports numpy only), which drew a fair sign per image per draw. After: the wildgan on the
path. Both run on the same scores: paired_test_calibration.py's slowest cell (binormal, both true AUCs 0.75,
uncorrelated, one ROC shape; auc_paired_size.draw). Each time is the median of --repeats calls (fewer where the
calls take over 5 s together). 'p before / after' shows that both give the same test: exact p-values are equal,
Monte-Carlo ones differ by their Monte-Carlo error ('z': the difference over its standard error, both p's own
sqrt(p (1 - p) / 2^14) combined).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/paired_test_speed.py --before 4349d58
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/paired_test_speed.py --sizes 500,5000 --anomalies 5
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

# the sibling module found from this folder (run from anywhere, or imported by the tests), and the folder taken off
# sys.path again: left on it, it stayed first on the importing process's path (the whole pytest session), where every
# benchmark's name shadowed any module of that name
sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from auc_paired_size import draw  # noqa: E402  (the calibration study's model of two scores)
finally:
    sys.path.pop(0)

from wildgan.evaluation import metrics  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def module_at(rev: str) -> ModuleType:
    """metrics.py as it was at git revision `rev`, loaded as a module apart from the wildgan on the path."""
    try:
        text = subprocess.run(["git", "show", f"{rev}:src/wildgan/evaluation/metrics.py"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"paired_test_speed.py: git show {rev}:src/wildgan/evaluation/metrics.py failed in "
                         f"{ROOT}: {e.stderr.strip()}") from None
    path = Path(tempfile.mkdtemp(prefix="paired_test_speed_")) / "metrics_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("metrics_before", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(fn: Callable[[], Any], repeats: int, budget_s: float = 5.0) -> tuple[float, Any]:
    """(median seconds of up to `repeats` calls, stopping once they took budget_s together; the last result)."""
    times: list[float] = []
    out = None
    while len(times) < repeats and sum(times) < budget_s:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def z_of(p1: float, p2: float, draws: int) -> float:
    """The difference of two independent Monte-Carlo p-values over its standard error."""
    se = math.sqrt(max(p1 * (1 - p1) + p2 * (1 - p2), 1e-12) / draws)
    return abs(p1 - p2) / se


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", help="git revision whose metrics.py is 'before' (none: the after column only)")
    ap.add_argument("--sizes", default="500,2000,5000,20000,60000", help="images per test set, comma-separated")
    ap.add_argument("--anomalies", default="5,100", help="anomalies per test set, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261203)
    args = ap.parse_args(argv)
    before = module_at(args.before) if args.before else None
    sizes = [int(v) for v in args.sizes.split(",")]
    anomalies = [int(v) for v in args.anomalies.split(",")]
    draws = metrics.PERMUTATION_DRAWS
    print("| images | anomalies | test | ms before | ms after | speed-up | p before / after (z) |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(args.seed)
    for images in sizes:
        for m in anomalies:
            y, a, b = draw(rng, m, images - m, 0.75, 0.75, 0.0, 1.0, False)
            t_after, (p_after, kind) = timed(lambda: metrics.paired_permutation_p(y, a, b), args.repeats)
            if before is None:
                cols = ["–", f"{1e3 * t_after:.1f}", "–", f"{p_after:.4f}"]
            else:
                t_before, (p_before, kind_before) = timed(lambda: before.paired_permutation_p(y, a, b), args.repeats)
                if kind_before != kind:
                    raise SystemExit(f"paired_test_speed.py: {images} images, {m} anomalies: the test was "
                                     f"'{kind_before}' before and '{kind}' after")
                z = "" if kind.startswith("exact") else f" ({z_of(p_before, p_after, draws):.1f})"
                cols = [f"{1e3 * t_before:.1f}", f"{1e3 * t_after:.1f}", f"{t_before / t_after:.1f}x",
                        f"{p_before:.4f} / {p_after:.4f}{z}"]
            print(f"| {images:,} | {m} | {kind.split()[0]} | " + " | ".join(cols) + " |", flush=True)


if __name__ == "__main__":
    main()
