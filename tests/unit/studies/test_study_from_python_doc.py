"""docs/python_api.md's "The contamination study" example runs as written: a two-cell study from Python, with what
the text around it says it writes and that a second call runs no cell again."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from markdown_blocks import python_blocks, readme_section
from repo_root import REPO

HEADING = "## The contamination study"


def test_the_study_example_runs_and_writes_what_the_text_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    section = readme_section((REPO / "docs" / "python_api.md").read_text(encoding="utf-8"), HEADING)
    assert section is not None, f"docs/python_api.md: no '{HEADING}' section"
    blocks = python_blocks(section)
    assert len(blocks) == 1, blocks
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    namespace: dict = {"__name__": "__doc_example__"}
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "docs/python_api.md", "exec"), namespace)
    # (the example's own lines, among run_study's log, which prints by default)
    lines = [ln.split() for ln in out.getvalue().splitlines() if re.fullmatch(r"[0-9.]+( [0-9.e-]+){3}", ln)]
    assert [ln[0] for ln in lines] == ["0.0", "0.05"], out.getvalue()
    assert all(0.0 <= float(v) <= 1.0 for ln in lines for v in ln[1:]), out.getvalue()
    study = tmp_path / "study"
    for name in ("results.jsonl", "tables.md", "tables.csv", "auc_vs_gamma.png"):
        assert (study / name).is_file(), name
    assert len(list((study / "runs").iterdir())) == 2
    from wildgan.studies import read_rows

    assert [r["cell"] for r in read_rows(study / "results.jsonl")] == [r["cell"] for r in namespace["rows"]]
    # a second call with the same folder trains no cell again: the rows come back as they were
    before = (study / "results.jsonl").read_bytes()
    again = namespace["run_study"](namespace["base"], namespace["cells"], study, progress=False, log=lambda m: None)
    assert (study / "results.jsonl").read_bytes() == before
    assert json.dumps(again, sort_keys=True) == json.dumps(namespace["rows"], sort_keys=True)
