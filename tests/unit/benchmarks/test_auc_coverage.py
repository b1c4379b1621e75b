"""benchmarks/auc_coverage.py chose auc_ci's interval by comparing candidates; a candidate computed wrongly would
have been judged on numbers that are not its own."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from repo_root import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import auc_coverage  # noqa: E402

sys.path.pop(0)


def test_hanley_mcneil_variance_pairs_the_anomalies_count_with_q1():
    """Hanley and McNeil's variance is [t(1 - t) + (m - 1)(Q1 - t^2) + (n - 1)(Q2 - t^2)] / (m n), m anomalies
    (the class ranked higher), Q1 = t / (2 - t) the chance that two anomalies both outrank a normal image. It is
    exact for exponential scores, so it must match the AUC's variance over 4,000 draws of 3 anomalies and 30
    normal images; with the counts swapped (newcombe3 until 2026-12-02) it was less than half of it."""
    m, n, theta = 3, 30, 0.8
    q1, q2 = theta / (2 - theta), 2 * theta ** 2 / (1 + theta)
    want = (theta * (1 - theta) + (m - 1) * (q1 - theta ** 2) + (n - 1) * (q2 - theta ** 2)) / (m * n)
    got = float(auc_coverage.hm_variance(np.array(theta), m, n, m - 1, n - 1))
    assert got == pytest.approx(want, rel=1e-12)
    rng = np.random.default_rng(0)
    rate = (1 - theta) / theta                     # P(Exp(rate) > Exp(1)) = 1 / (1 + rate) = theta
    aucs, _ = auc_coverage.delong_rows(rng.exponential(1 / rate, (4000, m)), rng.exponential(1.0, (4000, n)))
    assert abs(aucs.mean() - theta) < 0.01 and aucs.var(ddof=1) == pytest.approx(got, rel=0.1)
