"""An evaluation's files (data.eval_files: eval.json, test_scores.csv, test_controls.csv, auc_by_class.csv,
test_latents.npy) are written together: a write that fails partway leaves the earlier evaluation's files as they
were, each readable, with no temp file behind, and eval.json, the record, is renamed into place last. Written one
by one (test_latents.npy by a plain np.save), a failure left a new eval.json beside an earlier or half-written
test_latents.npy, with a warning only."""

from __future__ import annotations

import csv
import errno
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wildgan import fileio
from wildgan.data.eval_files import CONTROLS_CSV, EVAL_FILES, EVAL_JSON, LATENTS_NPY, SCORES_CSV
from wildgan.evaluation.run import evaluate_run


def _run(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the tiny run, evaluated once with its controls: the earlier evaluation."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    evaluate_run(run, device="cpu", log=lambda m: None)
    return run


def _files(run: Path) -> dict[str, bytes]:
    return {name: (run / name).read_bytes() for name in EVAL_FILES if (run / name).is_file()}


def _readable(run: Path) -> None:
    """Every evaluation file there reads whole: eval.json's test images are the CSVs' rows and the latents'."""
    n = json.loads((run / EVAL_JSON).read_text())["n_test"]
    for name in (SCORES_CSV, CONTROLS_CSV):
        with open(run / name, newline="") as f:
            assert len(list(csv.reader(f))) == n + 1, name
    assert np.load(run / LATENTS_NPY, allow_pickle=False).shape[0] == n


def _temps(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp"))


def test_a_latents_write_that_fails_partway_leaves_the_earlier_evaluation(trained_run: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(trained_run, tmp_path)
    before = _files(run)
    assert {EVAL_JSON, SCORES_CSV, CONTROLS_CSV, LATENTS_NPY} <= set(before)

    def disk_full(file: Any, arr: Any, **k: Any) -> None:
        # the start of the header, then the disk is full (into a file object, or a path np.save opens itself)
        start = b"\x93NUMPY\x01\x00" + b" " * 64
        if isinstance(file, (str, Path)):
            Path(file).write_bytes(start)
        else:
            file.write(start)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    said: list[str] = []
    # --no-controls: an eval.json and test_controls.csv other than the earlier ones
    out = evaluate_run(run, device="cpu", controls=False, log=said.append)
    monkeypatch.undo()
    assert "written_to" not in out and "controls" not in out
    assert _files(run) == before
    _readable(run)
    assert _temps(run) == []
    (msg,) = [m for m in said if "could not write" in m]
    assert msg.startswith(f"warning: could not write the evaluation into {run} (") and "No space left" in msg, msg
    assert "the results are printed only" in msg and "an earlier evaluation's, as they were" in msg, msg


@pytest.mark.parametrize("failing", range(5))
def test_a_write_that_fails_at_any_file_leaves_the_earlier_evaluation(trained_run: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      failing: int) -> None:
    """The disk fails at the `failing`-th file of the five (test_scores.csv, auc_by_class.csv, test_controls.csv,
    test_latents.npy, eval.json), once its bytes are written: at its fsync."""
    run = _run(trained_run, tmp_path)
    before = _files(run)
    assert len(before) == 5
    real, calls = fileio.os.fsync, {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == failing + 1:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(fileio.os, "fsync", failing_fsync)
    out = evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    monkeypatch.undo()
    assert "written_to" not in out
    assert _files(run) == before
    _readable(run)
    assert _temps(run) == []


def test_eval_json_is_renamed_into_place_last(trained_run: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed among the renames leaves no new eval.json beside an earlier evaluation's files."""
    run = _run(trained_run, tmp_path)
    real, renamed = fileio.os.replace, []

    def replace(src: str, dst: Any) -> None:
        renamed.append(Path(dst).name)
        real(src, dst)

    monkeypatch.setattr(fileio.os, "replace", replace)
    out = evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    monkeypatch.undo()
    assert out["written_to"] == str(run / EVAL_JSON)
    assert renamed[-1] == EVAL_JSON and sorted(renamed) == sorted(_files(run)), renamed
    assert "controls" not in json.loads((run / EVAL_JSON).read_text())
    _readable(run)
