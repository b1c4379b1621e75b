"""`--overwrite` beside an evaluation writing into the run (`wildgan evaluate` takes no run lock): the removal of the
old run's evaluations (training.run._clear_old_run) waits for an evaluation's write in progress there (it holds the
folder: fileio.writing_temps) and then removes what it wrote. Removed under it, the write's temp files vanished
(its renames failed), or its folder was made again after the removal with the old networks' evaluation in it, or
the removal itself failed on a file made in the folder while it emptied it (shutil.rmtree: directory not empty)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from wildgan.data.eval_files import EVAL_FILES, EVAL_JSON, SCORES_CSV, eval_temp_files
from wildgan.fileio import atomic_write_files, writing_temps
from wildgan.training.run import _clear_old_run

from fake_mounts import mount_as
from killed_writes import temps_left_by_a_kill
from overwrite_during_a_write import overwrite_during

pytest.importorskip("fcntl")         # (no folder locks without it: writing_temps and the removal hold nothing)


def _old_run(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    other = run / "eval-other"
    other.mkdir(parents=True)
    (run / "config.json").write_text("{}")            # (a run marker: previous_run)
    for folder in (run, other):
        (folder / EVAL_JSON).write_text('{"old": true}')
        (folder / SCORES_CSV).write_text("id,label\n")
    return run, other


def _overwrite_during_an_evaluation(run: Path, folder: Path, *, temp_first: bool = False) -> list[str]:
    """`--overwrite`'s removal of `run` (_clear_old_run) started while an evaluation's write into `folder`
    (evaluation.run.write_evaluation) holds it, slow enough that the removal starts inside it; temp_first: the write
    has made a temp file there before (the first files of an eval-*/ folder). Returns what the removal said; the
    write ended without an error."""
    held = threading.Event()

    def evaluation() -> None:
        with writing_temps(folder, lambda: eval_temp_files(folder)):
            if temp_first:
                temps_left_by_a_kill(folder, (SCORES_CSV,))        # (its write under way: a temp file there)
            held.set()
            time.sleep(1.0)
            atomic_write_files([(folder / SCORES_CSV, lambda f: f.write(b"id,label\nx,0\n")),
                                (folder / EVAL_JSON, lambda f: f.write(b'{"new": true}'))])

    return overwrite_during(run, evaluation, held)


@pytest.mark.parametrize("in_eval_dir", [True, False], ids=["eval-dir", "run-dir"])
def test_overwrite_waits_for_an_evaluation_writing_and_removes_it(tmp_path, in_eval_dir):
    run, other = _old_run(tmp_path)
    folder = other if in_eval_dir else run
    said = _overwrite_during_an_evaluation(run, folder)
    # the evaluation's write whole, then removed with the old run: none of it stands beside the new run
    assert not (run / EVAL_JSON).exists() and not (run / SCORES_CSV).exists()
    assert not other.exists()
    assert not eval_temp_files(run)
    # the wait is said (a `wildgan evaluate` stopped with Ctrl-Z would hold it with no word of why)
    assert [m for m in said if "waiting for the write into" in m] == [
        f"note: waiting for the write into {folder} in progress (an evaluation, a training scores' cache, a "
        f"det.save into it, or a Detector.load from it) to finish, to remove its files with the rest (a `wildgan "
        f"evaluate` or `wildgan score`, or a det.save, stopped with Ctrl-Z holds it until it goes on)"], said


def test_overwrite_with_no_evaluation_writing_says_no_wait(tmp_path: Path) -> None:
    run, other = _old_run(tmp_path)
    said: list[str] = []
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=said.append)
    assert not other.exists() and not (run / EVAL_JSON).exists()
    assert not [m for m in said if "waiting" in m], said


def test_overwrite_says_no_wait_for_a_write_of_an_instant(tmp_path: Path) -> None:
    """A write into the run that holds it for an instant (a training scores' cache, a Detector.load reading there)
    is waited for without a word, as the other folder holds wait (fileio._WAIT_SAID_AFTER): the removal said its
    wait as soon as it found the folder held, however short the hold."""
    import fcntl
    import os

    run, other = _old_run(tmp_path)
    fd = os.open(run, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)                 # (a write holding the run folder, as writing_temps holds it)
    threading.Timer(0.2, os.close, (fd,)).start()  # (its end, an instant later: releases the lock)
    said: list[str] = []
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=said.append)
    assert not other.exists() and not (run / EVAL_JSON).exists()
    assert not [m for m in said if "waiting" in m], said


@pytest.mark.usefixtures("local_folder_locks")
def test_overwrite_removes_the_temp_files_a_killed_evaluation_left_in_the_run_folder(tmp_path: Path) -> None:
    """A kill while an evaluation wrote its temp files leaves them (`.eval.json.XXXXXXXX.tmp`, ...): those in an
    eval-*/ folder went with the folder, those in the run folder stood beside the new run (and `wildgan info` listed
    them as an interrupted evaluation of it). Removed with the rest, under the hold that no evaluation writes
    through; temp files of no evaluation output are not the removal's to take."""
    run, other = _old_run(tmp_path)
    left = temps_left_by_a_kill(run, EVAL_FILES) + temps_left_by_a_kill(other, EVAL_FILES)
    (run / ".notes.txt.k2x9q0aa.tmp").write_bytes(b"x")          # (a user's file, named like a temp file)
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=lambda m: None)
    assert not any(p.exists() for p in left), [p for p in left if p.exists()]
    assert sorted(p.name for p in run.iterdir()) == [".notes.txt.k2x9q0aa.tmp"]


def test_overwrite_keeps_evaluation_temp_files_where_the_run_folder_cannot_be_locked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where folders cannot be locked (a flock refused), no hold tells a killed evaluation's temp files from those of
    one writing now: kept, as an evaluation's own clean-up keeps them there (fileio.writing_temps); the run's files go
    as before."""
    import errno

    import fcntl

    run, _ = _old_run(tmp_path)
    left = temps_left_by_a_kill(run, EVAL_FILES)

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=lambda m: None)
    monkeypatch.undo()
    assert all(p.exists() for p in left)
    assert not (run / EVAL_JSON).exists() and not (run / "config.json").exists()


@pytest.mark.parametrize("kind", ["nfs4", "fuse.sshfs"])
def test_overwrite_keeps_evaluation_temp_files_of_a_run_folder_on_a_network_file_system(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On NFS, sshfs, ... the folder's flock succeeds but holds on this machine only (fileio.host_only_locks): the
    evaluation temp files there may be a live evaluation's on another machine, which the removal does not hold off.
    Kept; the run's files go as before, and its eval-*/ folders whole, a first evaluation's temp files alone in one
    too, as docs/cli.md says."""
    run, other = _old_run(tmp_path)
    left = temps_left_by_a_kill(run, EVAL_FILES)
    first = temps_left_by_a_kill(run / "eval-first", EVAL_FILES)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(tmp_path, kind)])
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=lambda m: None)
    assert all(p.exists() for p in left)
    assert not (run / EVAL_JSON).exists() and not (run / "config.json").exists()
    assert not other.exists() and not first[0].parent.exists()


def test_overwrite_removes_an_eval_folder_whose_first_evaluation_was_killed(tmp_path: Path) -> None:
    """A first evaluation on other data, killed while it wrote its temp files, leaves RUN/eval-*/ with those alone (no
    eval.json yet): the removal took only the eval-*/ folders with an eval.json, so the old run's temp files stood in
    the new run (and `wildgan info` listed them, "removed by a --overwrite" as the docs say). A folder of the user's
    named eval-* with no evaluation's file in it is not the removal's."""
    run, _ = _old_run(tmp_path)
    killed = run / "eval-cells-normal-1"
    left = temps_left_by_a_kill(killed, EVAL_FILES)
    mine = run / "eval-notes"
    (mine / "todo.txt").parent.mkdir()
    (mine / "todo.txt").write_text("mine")
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=lambda m: None)
    assert not any(p.exists() for p in left) and not killed.exists()
    assert (mine / "todo.txt").read_text() == "mine"


def test_overwrite_waits_for_the_first_evaluation_into_an_eval_folder(tmp_path: Path) -> None:
    """An evaluation writing the first files of an eval-*/ folder (temp files, no eval.json yet) holds it as any
    other: the removal waits for it and then removes the folder, not leaving the old networks' evaluation in the
    new run."""
    run, _ = _old_run(tmp_path)
    folder = run / "eval-cells-normal-1"
    _overwrite_during_an_evaluation(run, folder, temp_first=True)
    assert not folder.exists(), sorted(p.name for p in folder.iterdir())


def test_overwrite_keeps_the_users_files_in_an_eval_folder_and_says_so(tmp_path: Path) -> None:
    """An --overwrite removed the old run's eval-*/ folders whole, a det.save(RUN/eval-other/m) of the user's with
    them (refuse_a_run_or_study_file lets any name but an evaluation's be written there). Only the evaluation's own
    files go now; the user's stay, named in a note, and a folder of the evaluation's files alone goes whole."""
    run, other = _old_run(tmp_path)
    mine = {"m.json": "{}", "m.safetensors": "w", "notes.txt": "mine"}
    for name, text in mine.items():
        (other / name).write_text(text)
    temps = temps_left_by_a_kill(other, EVAL_FILES)
    gone = run / "eval-gone"
    (gone / EVAL_JSON).parent.mkdir()
    (gone / EVAL_JSON).write_text("{}")
    said: list[str] = []
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=said.append)
    assert {p.name: p.read_text() for p in other.iterdir()} == mine
    assert not any(p.exists() for p in temps) and not gone.exists()
    assert [m for m in said if m.startswith("note: kept")] == [
        f"note: kept 3 files in {other} that no evaluation wrote (m.json, m.safetensors, notes.txt): they are "
        f"yours, not the old run's; the old evaluation's own files there were removed"], said


def test_overwrite_that_waits_for_a_detector_load_names_it(tmp_path: Path) -> None:
    """A Detector.load of a Detector saved into the run (det.save(RUN/model)) holds the run folder while it reads
    (fileio.reading_held): the removal waits for it, and its note named only writes, a load among none of them."""
    import os

    from wildgan.fileio import reading_held

    run, _ = _old_run(tmp_path)
    said: list[str] = []
    loading, done = threading.Event(), threading.Event()

    def load() -> None:
        with reading_held(run):
            loading.set()
            deadline = time.monotonic() + 60
            while not any("waiting for" in m for m in said) and time.monotonic() < deadline:
                time.sleep(0.02)
        done.set()

    t = threading.Thread(target=load)
    t.start()
    assert loading.wait(10)
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=said.append)
    t.join(60)
    assert done.is_set() and not (run / EVAL_JSON).exists() and os.path.isdir(run)
    waits = [m for m in said if "waiting for" in m]
    assert len(waits) == 1 and "a Detector.load from it" in waits[0], said


def test_overwrite_of_an_eval_folder_that_is_a_link_removes_the_link_not_the_folder(tmp_path: Path) -> None:
    """An eval-*/ folder linked to another disk (ln -s /big/eval-other RUN/eval-other): its evaluation's files went,
    then rmdir of the link failed (not a directory) and the --overwrite stopped on the error; shutil.rmtree, before,
    refused the link outright. The link goes once its folder holds nothing else; the folder it leads to stays."""
    run, other = _old_run(tmp_path)
    elsewhere = tmp_path / "big" / "eval-cells"
    elsewhere.parent.mkdir()
    other.rename(elsewhere)
    other.symlink_to(elsewhere, target_is_directory=True)
    kept = run / "eval-kept"
    (tmp_path / "big" / "eval-kept").mkdir()
    for name in (EVAL_JSON, "mine.txt"):
        (tmp_path / "big" / "eval-kept" / name).write_text("x")
    kept.symlink_to(tmp_path / "big" / "eval-kept", target_is_directory=True)
    said: list[str] = []
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=said.append)
    assert not other.is_symlink() and not other.exists()
    assert elsewhere.is_dir() and not any(elsewhere.iterdir())
    assert kept.is_symlink() and sorted(p.name for p in kept.iterdir()) == ["mine.txt"]


def test_a_run_that_never_trained_beside_a_kept_eval_folder_is_still_one(tmp_path: Path) -> None:
    """What an --overwrite keeps of an eval-*/ folder (the user's files alone) is no evaluation: a run that then failed
    before its first step is still one that never trained (a new start replaces it), while an eval-*/ folder with an
    evaluation's eval.json, or the temp files of one being written, is an evaluation of trained networks."""
    from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig, write_run_config
    from wildgan.training.run import never_trained

    run = tmp_path / "run"
    write_run_config(RunConfig(data=DataConfig(normal=("0",), resolution=8, channels=1), net=NetConfig(),
                               train=TrainConfig()), run)
    (run / "eval-other").mkdir()
    (run / "eval-other" / "model.json").write_text("{}")            # (a det.save of the user's, kept)
    assert never_trained(run)
    temps = temps_left_by_a_kill(run / "eval-other", (SCORES_CSV,))
    assert not never_trained(run)
    temps[0].unlink()
    (run / "eval-other" / EVAL_JSON).write_text("{}")
    assert not never_trained(run)
