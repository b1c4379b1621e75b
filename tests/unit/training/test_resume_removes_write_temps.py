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


@pytest.mark.usefixtures("local_folder_locks")
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


@pytest.mark.usefixtures("local_folder_locks")
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


@pytest.mark.usefixtures("local_folder_locks")
def test_a_refused_resume_removes_nothing_and_writes_nothing_into_its_log(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A resume refused under the lock (its training images changed since the run started) is a resume that never
    was: its log.txt stays as it was (a refused start writes nothing into the run it refused) and the temp files of
    killed writes stay for the resume that goes on, which deletes and names them."""
    import numpy as np

    pytest.importorskip("fcntl")
    rng = np.random.default_rng(0)
    npz, run = tmp_path / "tiny.npz", tmp_path / "run"
    arrays = {"x_train": rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), "y_train": np.arange(40) % 2,
              "x_test": rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), "y_test": np.arange(20) % 2}
    np.savez(npz, **arrays)
    assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    left = temps_left_by_a_kill(run, ("config.json", "train_scores.csv"))
    log = (run / "log.txt").read_text()
    edited = {**arrays, "x_train": arrays["x_train"].copy()}
    edited["x_train"][0] = 255 - edited["x_train"][0]          # a normal training image edited in place
    np.savez(npz, **edited)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the training images changed since this run started" in err, err
    assert _removal_lines(err) == [], err
    assert (run / "log.txt").read_text() == log
    assert all(p.is_file() for p in left), left
    np.savez(npz, **arrays)                                    # restored: the resume goes on, and deletes them
    err = _resume(run, capsys)
    assert not any(p.exists() for p in left)
    assert _removal_lines(err) == [f"removed 2 temporary files that writes killed before their rename left in {run}: "
                                   f"{', '.join(p.name for p in left)}"], err


@pytest.mark.usefixtures("local_folder_locks")
def test_a_resume_of_an_older_fits_run_names_the_temp_files_its_first_write_would_have_deleted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A resume of a Detector.fit run from before fit_ids.json writes that file first, under the lock, before its
    checks (data.splits.keep_cached_fit_ids_before_resume): that write, holding the run folder as every writer of the
    shared files does, would delete a killed write's temp file of those files without a word. The resume's own
    removal, once it goes on, deletes and names it."""
    import warnings

    from png_piles import gray_png_pile

    from wildgan import Detector

    pytest.importorskip("fcntl")
    pile, run = gray_png_pile(tmp_path / "pile", 24), tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                 contamination=0.2).fit(str(pile))
    (run / "fit_ids.json").unlink()                        # a run of a wildgan before fit_ids.json
    left = temps_left_by_a_kill(run, ("train_scores-isolated.csv",))
    err = _resume(run, capsys)
    assert (run / "fit_ids.json").is_file()                # (kept from the cache, as before)
    assert not left[0].exists()
    assert _removal_lines(err) == [f"removed 1 temporary file that a write killed before its rename left in {run}: "
                                   f"{left[0].name}"], err
