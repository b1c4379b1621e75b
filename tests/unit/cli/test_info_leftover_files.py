"""`wildgan info RUN` reports the files that killed or damaged checkpoint writes left in a run (the weights of a
checkpoint whose JSON was never written, a checkpoint's temporary file, a checkpoint set aside as corrupt): which
files, their size, why they are there and what to do (the resume that removes them, or the exact `rm`). A run killed
and never resumed keeps them for good, and no other command says so; `info` stays read-only: it deletes and renames
nothing, and it leaves out the write in progress of a run being trained. The temp files of an evaluation killed
outright (in the run folder or an eval-*/ folder) are listed too, but not while an evaluation writes there."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wildgan import checkpoint as ckpt
from wildgan.cli import main
from wildgan.errors import shell_word

from killed_writes import temps_left_by_a_kill


def _tiny_config() -> Any:
    """The RunConfig of a tiny 8x8 gray run (its networks are never built here: only the files matter)."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset

    return RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=0.02), preset="tiny")


def _run(folder: Path, checkpoints: tuple[int, ...] = (1000, 2000), method: str = "wildgan") -> Path:
    """A run folder (its config.json) with complete checkpoints at those image counts."""
    import torch

    from wildgan.config import write_run_config

    write_run_config(replace(_tiny_config(), method=method), folder)
    for n in checkpoints:
        ckpt.save_checkpoint(folder / "checkpoints", ckpt.checkpoint_name(n), {"w": torch.zeros(300)},
                             {"kind": ckpt.TRAIN_STATE_KIND, "nimg": n})
    return folder


def _listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    # every file under folder, with its size, mtime and inode: what `info` must leave as it was
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _info(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    """`wildgan info RUN` and `wildgan info RUN --json`, checked to leave every file of the run as it was."""
    before = _listing(run)
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    text = capsys.readouterr().out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert _listing(run) == before, "wildgan info changed the run's files"
    return text, got


def _orphan(run: Path, n: int) -> Path:
    """A checkpoint write cut between its two files: the weights of ckpt-n, its JSON never written."""
    weights = run / "checkpoints" / f"{ckpt.checkpoint_name(n)}.safetensors"
    (run / "checkpoints" / f"{ckpt.checkpoint_name(n)}.json").unlink()
    return weights


def test_info_reports_an_orphan_weights_file_and_leaves_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "my run", (1000, 2000, 3000))
    orphan = _orphan(run, 3000)
    text, got = _info(run, capsys)
    size = orphan.stat().st_size
    assert orphan.is_file()
    # which file, its size, why it is there, and what to do: the resume that deletes it, or the exact rm
    assert f"    {orphan} ({size:,} bytes)\n" in text, text
    assert "1 file left by interrupted or damaged checkpoints" in text, text
    assert "whose JSON was never written" in text, text
    assert f"`wildgan train --out {shell_word(run)} --resume`" in text, text
    assert f"rm {shell_word(orphan)}\n" in text, text
    # the complete checkpoints are not listed among the leftovers (the newest is named above them, as where a resume
    # would continue: info's training line, test_info_run.py)
    assert ckpt.checkpoint_name(2000) not in text[text.index("left by interrupted"):], text
    assert f"the newest checkpoint at 2 of 0.02 kimg ({run / 'checkpoints' / ckpt.checkpoint_name(2000)}.json)" in text
    # --json: the same facts
    assert [(f["path"], f["bytes"], f["kind"]) for f in got["leftover_files"]] == [(str(orphan), size,
                                                                                     "orphan_weights")], got
    assert got["leftover_files"][0]["what_to_do"].endswith(f"rm {shell_word(orphan)}"), got
    assert "never written" in got["leftover_files"][0]["why"], got


def test_info_lists_the_orphans_that_the_resumes_removal_removes(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """One rule (checkpoint.orphan_weights) for what info reports and what a resume removes: after
    remove_orphan_weights, info reports none; and it names each file that was removed."""
    run = _run(tmp_path / "run", (1000, 2000, 3000, 4000))
    orphans = sorted([_orphan(run, 2000), _orphan(run, 4000)])
    _, got = _info(run, capsys)
    assert [Path(f["path"]) for f in got["leftover_files"]] == orphans == ckpt.orphan_weights(run / "checkpoints")
    assert sorted(ckpt.remove_orphan_weights(run / "checkpoints")) == orphans
    text, got = _info(run, capsys)
    assert got["leftover_files"] == [] and "left by" not in text, (text, got)


def test_info_reports_checkpoints_set_aside_as_corrupt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "run", (1000, 2000))
    ck = run / "checkpoints"
    json_aside = ckpt.set_aside(ck / f"{ckpt.checkpoint_name(2000)}.json")
    weights_aside = ck / f"{ckpt.checkpoint_name(2000)}.corrupt.safetensors"
    assert ckpt.set_aside_files(ck) == [json_aside, weights_aside]
    text, got = _info(run, capsys)
    assert json_aside.is_file() and weights_aside.is_file()
    assert "2 files left by" in text and "a resume found damaged" in text, text
    for p in (json_aside, weights_aside):
        assert f"    {p} ({p.stat().st_size:,} bytes)\n" in text, text
    # nothing removes them: by hand, both at once
    assert f"delete them by hand once no longer wanted: rm {shell_word(json_aside)} {shell_word(weights_aside)}\n" \
        in text, text
    assert "--resume" not in text.split("left by", 1)[1], text
    assert [(f["path"], f["kind"]) for f in got["leftover_files"]] == [(str(json_aside), "set_aside"),
                                                                       (str(weights_aside), "set_aside")], got


def test_info_tells_an_orphan_of_a_set_aside_checkpoint_from_a_plain_one(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A set_aside cut between its two renames leaves ckpt-N.corrupt.json beside ckpt-N.safetensors: the resume sets
    those weights aside beside it rather than deleting them, and info says so."""
    run = _run(tmp_path / "run", (1000, 2000))
    ck = run / "checkpoints"
    name = ckpt.checkpoint_name(2000)
    os.replace(ck / f"{name}.json", ck / f"{name}.corrupt.json")
    text, got = _info(run, capsys)
    assert [(Path(f["path"]).name, f["kind"]) for f in got["leftover_files"]] == [
        (f"{name}.safetensors", "orphan_of_set_aside"), (f"{name}.corrupt.json", "set_aside")], got
    assert "sets it aside beside the JSON" in text, text
    ckpt.remove_orphan_weights(ck)       # what the resume does: now both are set aside
    _, got = _info(run, capsys)
    assert [(Path(f["path"]).name, f["kind"]) for f in got["leftover_files"]] == [
        (f"{name}.corrupt.json", "set_aside"), (f"{name}.corrupt.safetensors", "set_aside")], got


def test_info_reports_a_killed_writes_temporary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "run")
    tmp = run / "checkpoints" / f".{ckpt.checkpoint_name(3000)}.4242.0a1b2c3d.safetensors.tmp"
    tmp.write_bytes(bytes(3 << 20))
    text, got = _info(run, capsys)
    assert tmp.is_file()
    assert f"    {tmp} (3.0 MiB)\n" in text and "temporary file" in text, text
    assert [(f["path"], f["bytes"], f["kind"]) for f in got["leftover_files"]] == [(str(tmp), 3 << 20, "temp")]


def test_info_of_a_run_being_trained_leaves_its_write_in_progress_out(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """While a process holds the run's lock, weights without their JSON are its checkpoint being written, not an
    orphan to delete by hand; the set-aside files are still listed."""
    pytest.importorskip("fcntl")
    from wildgan.training.run import run_lock

    run = _run(tmp_path / "run", (1000, 2000, 3000))
    _orphan(run, 3000)
    aside = ckpt.set_aside(run / "checkpoints" / f"{ckpt.checkpoint_name(2000)}.json")
    with run_lock(run):
        _, got = _info(run, capsys)
    assert [(f["path"], f["kind"]) for f in got["leftover_files"]][:1] == [(str(aside), "set_aside")], got
    assert {f["kind"] for f in got["leftover_files"]} == {"set_aside"}, got
    _, got = _info(run, capsys)           # the lock released: the orphan is one now
    assert "orphan_weights" in {f["kind"] for f in got["leftover_files"]}, got


def test_info_of_an_f_anogan_run_reports_its_orphans_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "run", (5, 10), method="fanogan")
    orphan = _orphan(run, 10)
    text, got = _info(run, capsys)
    assert text.startswith(f"run {run}: f-AnoGAN") and f"    {orphan} (" in text, text
    assert [(f["path"], f["kind"]) for f in got["leftover_files"]] == [(str(orphan), "orphan_weights")], got


def test_info_of_a_clean_trained_run_says_nothing_more_and_a_resume_removes_what_it_reported(
        tmp_path: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trained run without leftovers: info's text is the networks' table and where the rest is, nothing more, and
    --json's leftover_files is empty. With an orphan planted, the advice given (the resume) removes it."""
    import shutil

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(run)]) == 0
    text, got = _info(run, capsys)
    assert text.endswith(f"its settings: {run}/config.json\n"), text
    assert got["leftover_files"] == [], got
    kept = ckpt.list_checkpoints(run / "checkpoints")[-1]
    orphan = run / "checkpoints" / f"{ckpt.checkpoint_name(1)}.safetensors"
    shutil.copyfile(kept.with_suffix(".safetensors"), orphan)
    text, got = _info(run, capsys)
    assert f"    {orphan} (" in text and orphan.is_file(), text
    resume = got["leftover_files"][0]["what_to_do"].split("`")[1]
    assert resume == f"wildgan train --out {run} --resume", resume
    assert main(resume.split()[1:] + ["--no-progress"]) == 0
    assert not orphan.exists()
    text, got = _info(run, capsys)
    assert got["leftover_files"] == [] and "left by" not in text, (text, got)


@pytest.mark.usefixtures("local_folder_locks")
def test_info_reports_a_killed_evaluations_temp_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In the run folder and in its eval-*/ folders (an evaluation on other data or classes): what they are, that the
    next evaluation into their folder deletes them, the exact rm. Not another file's temp file, nor an eval-*
    file; and while a process writes an evaluation into a folder (holding it as fileio.writing_temps does), that
    folder's are its own: left out."""
    fcntl = pytest.importorskip("fcntl")
    from wildgan.data.eval_files import EVAL_JSON, SCORES_CSV, eval_temp_files
    from wildgan.fileio import temp_files, writing_temps

    run = _run(tmp_path / "run")
    own = temps_left_by_a_kill(run, (EVAL_JSON, SCORES_CSV))
    other = temps_left_by_a_kill(run / "eval-cells-0a1b2c", (SCORES_CSV,))
    config = run / ".config.json.k2x9q0aa.tmp"
    config.write_bytes(b"x")      # (not an evaluation output's: listed apart, test_info_leftover_write_temps.py)
    (run / "eval-notes.txt").write_text("a file, not an evaluation's folder")
    text, got = _info(run, capsys)
    assert [(Path(f["path"]), f["bytes"], f["kind"]) for f in got["leftover_files"]] == [
        (p, 4, "eval_temp") for p in own + other] + [(config, 1, "write_temp")], got
    assert "4 files left by interrupted evaluations and other interrupted writes (13 bytes in all" in text, text
    assert "killed while it wrote the evaluation" in text, text
    assert "the next evaluation written into their folder deletes them" in text, text
    assert f"`wildgan evaluate {shell_word(run)}`" in text, text
    assert f"rm {' '.join(shell_word(p) for p in own + other)}\n" in text, text
    assert got["leftover_files"][0]["what_to_do"].endswith(f"rm {shell_word(own[0])}"), got
    # beside a checkpoint's leftover: both said, each kind with its own advice
    tmp = run / "checkpoints" / f".{ckpt.checkpoint_name(3000)}.4242.0a1b2c3d.safetensors.tmp"
    tmp.write_bytes(b"x")
    text, _ = _info(run, capsys)
    assert "5 files left by interrupted or damaged checkpoints, interrupted evaluations and other interrupted writes" \
        in text, text

    # an evaluation writing into the run folder now: its temp files there are left out, eval-*'s still listed
    fd = os.open(run, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        _, got = _info(run, capsys)
    finally:
        os.close(fd)
    assert [Path(f["path"]) for f in got["leftover_files"] if f["kind"] == "eval_temp"] == other, got
    # one rule: what the next evaluation's write deletes (evaluation.run.write_evaluation) is what info listed
    for folder in (run, run / "eval-cells-0a1b2c"):
        with writing_temps(folder, lambda: eval_temp_files(folder)) as gone:
            assert gone == [p for p in own + other if p.parent == folder]
    _, got = _info(run, capsys)
    assert {f["kind"] for f in got["leftover_files"]} == {"temp", "write_temp"}, got
    assert temp_files(run, ["config.json"]) == [run / ".config.json.k2x9q0aa.tmp"]
