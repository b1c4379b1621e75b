"""An evaluation's files (data.eval_files: eval.json, test_scores.csv, test_controls.csv, auc_by_class.csv,
test_latents.npy) are written together: a write that fails partway leaves the earlier evaluation's files as they
were, each readable, with no temp file behind, and eval.json, the record, is renamed into place last. Written one
by one (test_latents.npy by a plain np.save), a failure left a new eval.json beside an earlier or half-written
test_latents.npy, with a warning only. A process killed outright while it wrote the temp files leaves them: the
next evaluation into that folder deletes them, unless another evaluation writes there now."""

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

from killed_writes import temps_left_by_a_kill


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


def _not_ours(folder: Path) -> list[Path]:
    """Temp files in folder that are no evaluation output's: another file's (config.json's, a name that starts with
    an output's), a checkpoint's (a resume's to remove)."""
    others = [folder / n for n in (".config.json.k2x9q0aa.tmp", ".eval.json.bak.k2x9q0aa.tmp",
                                   ".network-final.4242.0a1b2c3d.safetensors.tmp")]
    for p in others:
        p.write_bytes(b"x")
    return others


@pytest.mark.usefixtures("local_folder_locks")
def test_an_evaluation_removes_the_temp_files_a_killed_evaluation_left(trained_run: Path, tmp_path: Path) -> None:
    """In the run folder and in an eval-*/ folder (other data or classes, here --normal 1): the next evaluation there
    deletes the temp files of the evaluation outputs that a killed evaluation left, and no other file."""
    run = _run(trained_run, tmp_path)
    own = temps_left_by_a_kill(run, EVAL_FILES, b"half-written")
    others = _not_ours(run)
    before = _files(run)
    out = evaluate_run(run, device="cpu", log=lambda m: None)
    assert out["written_to"] == str(run / EVAL_JSON)
    assert not any(p.exists() for p in own), own
    assert all(p.is_file() for p in others)
    assert set(_files(run)) == set(before)
    _readable(run)

    out = evaluate_run(run, device="cpu", normal=("1",), log=lambda m: None)
    folder = Path(out["written_to"]).parent
    assert folder.parent == run and folder.name.startswith("eval-"), folder
    own = temps_left_by_a_kill(folder, EVAL_FILES, b"half-written")
    others = _not_ours(folder)
    evaluate_run(run, device="cpu", normal=("1",), log=lambda m: None)
    assert not any(p.exists() for p in own), own
    assert all(p.is_file() for p in others)


@pytest.mark.usefixtures("local_folder_locks")
def test_an_evaluation_leaves_the_temp_files_of_one_being_written(trained_run: Path, tmp_path: Path) -> None:
    """`wildgan evaluate` takes no run lock: two evaluations of one folder may write at once. While another process
    holds the folder as writing_temps does (a shared flock on it), the temp files there may be its own, written
    now: kept; once it lets go, the next evaluation deletes them. The per-image files an evaluate_model writes into
    its out_dir (the Python API's) clean up by the same rule."""
    fcntl = pytest.importorskip("fcntl")
    import os

    from wildgan.evaluation.run import evaluate_model, split_for_run
    from wildgan.scoring.run import load_model

    run = _run(trained_run, tmp_path)
    own = temps_left_by_a_kill(run, EVAL_FILES, b"half-written")
    fd = os.open(run, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)           # (another open file: locks as another process's would)
        out = evaluate_run(run, device="cpu", log=lambda m: None)
        assert out["written_to"] == str(run / EVAL_JSON)
        assert all(p.is_file() for p in own)
    finally:
        os.close(fd)
    evaluate_model(load_model(run, "cpu"), split_for_run(run, log=lambda m: None), out_dir=run)
    assert not any(p.exists() for p in own), own
