"""The report's threshold row of a run's own contamination where rounding changed it.

A run asked for γ = 0.08 of 16 normal training images trained on 1 anomaly (a share of 1/17 = 0.0588; training
warns of it), and `wildgan score RUN --threshold contamination` says so and advises --expected-contamination 0.0588.
The report's Threshold section still had a row "c = γ = 0.08", a share the training images never held, and no row
of the c that score's line advised; of a run asked for γ 0.04 of 16 normal images, trained on none, it gave a row
flagging 4% of clean training images as "the run's training contamination". (The whole way, `wildgan report RUN`
beside score's line: tests/unit/cli/test_score_contaminated_runs.py.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from wildgan.evaluation.report import RunDiagnostics, _Page, _threshold_section

pytestmark = pytest.mark.usefixtures("one_thread")


def _rows(md: str) -> dict[str, list[str]]:
    lines = md[md.index("## Threshold"):].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows = {}
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if not all(set(c) <= set(":- ") for c in cells) and cells[0] != "rule":       # (nor the header)
            rows[cells[0]] = cells
    return rows


def _section(tmp_path: Path, gamma: float, rounded: tuple[int, int] | None) -> tuple[dict[str, list[str]], str]:
    rng = np.random.default_rng(0)
    train = {"a": rng.normal(size=170)}
    diag = RunDiagnostics(y=np.r_[np.zeros(5), np.ones(5)].astype(int), ids=[str(i) for i in range(10)],
                          x=np.zeros((10, 4, 4, 1), np.uint8), scores={"a": rng.normal(size=10)},
                          z=np.zeros((10, 2)), recon=None, controls={}, metrics={})
    page = _Page(title="t", md_dir=tmp_path)
    _threshold_section(page, diag, SimpleNamespace(method="wildgan", data=SimpleNamespace(contamination=gamma)),
                       "a", (train, "train_scores.csv"), rounded=rounded)
    md = "\n".join(page.md_parts)
    return _rows(md), " ".join(md.split())


def test_the_runs_own_row_is_of_the_share_it_trained_on_where_rounding_changed_gamma(tmp_path):
    rows, md = _section(tmp_path, 0.08, (16, 1))
    assert list(rows)[:2] == ["contamination, c = 0.05", "mad, k = 3"]
    assert "contamination, c = γ = 0.08" not in rows, list(rows)
    own = rows["contamination, c = 0.0588, the share trained on"]
    train = np.random.default_rng(0).normal(size=170)
    assert float(own[1]) == pytest.approx(np.percentile(train, 100 * (1 - 0.0588)), rel=1e-5)
    assert "this run asked for γ = 0.08 of anomalies, which rounding made 1 of its 17 training images, a share of " \
           "0.0588 (`--expected-contamination 0.0588`)" in md, md
    assert "`--expected-contamination 0.08`" not in md
    # γ kept by the rounding: the row of γ, as before
    rows, md = _section(tmp_path, 0.1, None)
    assert "contamination, c = γ = 0.1" in rows and "`--expected-contamination 0.1`" in md


def test_a_run_that_rounding_left_clean_has_no_row_of_a_contamination(tmp_path):
    rows, md = _section(tmp_path, 0.04, (16, 0))
    assert list(rows) == ["contamination, c = 0.05", "mad, k = 3"], list(rows)
    assert "this run asked for γ = 0.04 of anomalies, which rounding made none beside its 16 normal training " \
           "images: they are clean" in md, md
    assert "`--expected-contamination 0.04`" not in md
