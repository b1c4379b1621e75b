"""benchmarks/paired_test_speed.py timed the paired permutation test before and after 2026-12-03 (RESULTS.md): its
'before' is a git revision's metrics.py loaded apart from the wildgan on the path, and a before column that was the
new code again, or a p compared across different scores, would have put a false speed-up into RESULTS.md."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from repo_root import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import paired_test_speed as speed  # noqa: E402

sys.path.pop(0)

from wildgan.evaluation import metrics  # noqa: E402


def _has_history(rev: str) -> bool:
    if shutil.which("git") is None:
        return False
    return subprocess.run(["git", "cat-file", "-e", f"{rev}:src/wildgan/evaluation/metrics.py"], cwd=speed.ROOT,
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_history("4349d58"), reason="needs the git history (the revision timed as 'before')")
def test_before_is_the_sign_per_image_code_and_gives_the_same_test():
    before = speed.module_at("4349d58")
    assert before is not metrics and hasattr(before, "PERMUTATION_MAX_IMAGES")
    assert not hasattr(before, "_monte_carlo_as_large") and hasattr(metrics, "_monte_carlo_as_large")
    rng = np.random.default_rng(31)
    y = np.r_[np.ones(4, int), np.zeros(300, int)]
    a, b = rng.normal(size=304) + y, rng.normal(size=304) + 0.5 * y
    assert before.paired_permutation_p(y, a, b) == metrics.paired_permutation_p(y, a, b)     # (exact: the same)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_missing_revision_names_the_file_and_the_problem():
    with pytest.raises(SystemExit, match="git show no-such-rev:src/wildgan/evaluation/metrics.py failed"):
        speed.module_at("no-such-rev")


def test_z_is_the_difference_over_its_standard_error():
    assert speed.z_of(0.05, 0.05, 2 ** 14) == 0.0
    se = np.sqrt(2 * 0.05 * 0.95 / 2 ** 14)
    assert speed.z_of(0.05 + se, 0.05, 2 ** 14) == pytest.approx(1.0, rel=0.02)
