"""A resume deletes the temp files that atomic writes of the run's files left when their process was killed between
the temp file and the rename (config.json's, a checkpoint's JSON, a sample grid, the training-score cache's, ...:
data.run_temps), under the run's lock, and says so in one line of its log; never the temp file of a write in
progress (one that holds the run folder as the training scores' writers do), nor one of a file whose writer no lock
covers (an output of the user's written into the run folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wildgan.cli import main

from killed_writes import killed_mid_write, temps_left_by_a_kill, writing_now

_REMOVED = "temporary file"          # (the line's words: "removed N temporary files that writes killed before ...")


def _resume(run: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`wildgan train --out RUN --resume` of a finished run (it trains nothing more); its stderr."""
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0
    return capsys.readouterr().err


def _removal_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("removed ") and _REMOVED in line]


def test_a_resume_removes_the_temp_files_of_killed_writes_and_says_so(trained_run: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fcntl")
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    split = (run / "split.json").read_bytes()
    killed = killed_mid_write(run / "split.json")          # a real writer, killed outright half way
    assert (run / "split.json").read_bytes() == split
    left = [killed, *temps_left_by_a_kill(run, ("config.json", "stats.jsonl", "train_scores.csv")),
            *temps_left_by_a_kill(run / "checkpoints", ("ckpt-000000000050.json",)),
            *temps_left_by_a_kill(run / "samples", ("fakes000050.png",))]
    mine = temps_left_by_a_kill(run, ("mine.csv",))        # a user's output written into the run: no lock covers it
    err = _resume(run, capsys)
    assert not any(p.exists() for p in left), [p for p in left if p.exists()]
    assert all(p.is_file() for p in mine)
    lines = _removal_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"removed {len(left)} temporary files that writes killed before their rename left in "
                               f"{run}: "), lines
    assert sorted(lines[0].split(": ", 1)[1].split(", ")) == sorted(str(p.relative_to(run)) for p in left), lines
    # the run's log has it too, and info lists only the user's file's temp file now
    assert lines[0] in (run / "log.txt").read_text().splitlines()
    capsys.readouterr()
    import json

    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["leftover_files"]
    assert [(Path(f["path"]), f["kind"], f["writer"]) for f in got] == [(mine[0], "write_temp", "other")], got
    # a resume with nothing to remove says nothing of it
    assert _removal_lines(_resume(run, capsys)) == []


def test_a_resume_leaves_the_temp_file_of_a_write_in_progress(trained_run: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A `wildgan score --threshold` writing the training scores' cache (no run lock; it holds the run folder) while
    the run resumes: its temp file is its own, not deleted; a killed one's beside it is, once no write holds the
    folder, by the next write of those files."""
    pytest.importorskip("fcntl")
    from wildgan.data.run_temps import shared_write_temps, writing_shared_files

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    with writing_now(run / "train_scores.csv", shared=True) as in_progress:
        stale = temps_left_by_a_kill(run, ("train_scores.json",))
        config = temps_left_by_a_kill(run, ("config.json",))
        err = _resume(run, capsys)
        assert in_progress.is_file() and stale[0].is_file()
        assert not config[0].exists()             # (the training's own: under the run's lock, no write of another)
        assert _removal_lines(err) == [f"removed 1 temporary file that a write killed before its rename left in {run}: "
                                       f"{config[0].name}"], err
    assert sorted(shared_write_temps(run)) == sorted([in_progress, stale[0]])
    with writing_shared_files(run) as gone:       # (its writer killed now: the next write deletes both)
        assert sorted(gone) == sorted([in_progress, stale[0]])
