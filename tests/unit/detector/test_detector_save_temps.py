"""The temp files of det.save(PATH) (save_checkpoint's weights' ".PATH.PID.HEX.safetensors.tmp" and its JSON's
".PATH.json.XXXXXXXX.tmp"): those a killed save left, which the next save of PATH deletes where no other save holds the
folder (and nowhere on a network file system), and those of a save in progress in a run folder, which a resume's
clean-up of the training's own temp files leaves alone."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

import wildgan.checkpoint as ckpt
from fake_mounts import mount_as
from killed_writes import KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN, writing_now
from no_fcntl import refuse_fcntl_import
from overwrite_during_a_write import overwrite_during
from saves_held import in_thread, save_waits_said
from tiny_detector_fit import fit_quietly, random_images, tiny_fit_kwargs
from wildgan import Detector
from wildgan.errors import WildganWarning, shell_word

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def det(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    return fit_quietly(Detector(**tiny_fit_kwargs(tmp_path_factory.mktemp("save_temps") / "run")), random_images())


# Detector.load(argv[1]).save(argv[2]), killed once its JSON's temp file is written, before the renames
# (killed_writes.KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN): what a kill of det.save leaves
_KILLED_SAVE = KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN + """
from wildgan import Detector
Detector.load(sys.argv[1]).save(sys.argv[2])
"""


def _killed_save(saved: Path, target: Path) -> list[Path]:
    """det.save(target) by a process killed before its renames, of the Detector saved at `saved`; the temp files it
    left."""
    before = set(target.parent.iterdir())
    done = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(saved), str(target)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 9, done.stderr            # killed where meant, not failed before
    left = sorted(set(target.parent.iterdir()) - before)
    assert sorted(p.name.endswith(".safetensors.tmp") for p in left) == [False, True], left
    return left


def _pair(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _kept_and_said(det: Detector, folder: Path, left: list[Path], said: str) -> None:
    """det.save(folder / "m") where its temp files cannot be told from a live save's: it warns `said` (a regex) and
    keeps the killed save's temp files `left`; a save of another name, with none of its own there, says nothing."""
    with pytest.warns(WildganWarning, match=said):
        det.save(folder / "m")
    assert all(p.exists() for p in left)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        det.save(folder / "other")                  # (no word where there is none of them)


def test_the_next_save_deletes_the_temp_files_a_killed_save_left(det: Detector, tmp_path: Path) -> None:
    # nothing removed them (a resume removes only a run's own), nor said they were there: each killed save of a
    # Detector (hundreds of MB of weights at the paper preset) stayed in the user's folder for good
    folder = tmp_path / "models"
    saved = det.save(folder / "m")
    left = _killed_save(saved, folder / "m")
    others = [folder / ".other.json.abcdefgh.tmp", folder / ".m.json.bak.abcdefgh.tmp"]   # (not this save's)
    for p in others:
        p.write_bytes(b"x")
    # and said, naming what went and why: they were deleted without a word, files the user may have seen and wondered
    # about (hundreds of MB each at the paper preset)
    names = re.escape(", ".join(p.name for p in left))
    with pytest.warns(WildganWarning, match=rf"^det\.save\({re.escape(repr(str(folder / 'm')))}\) removed 2 temporary "
                                            rf"files in {re.escape(str(folder))} left by an earlier save to 'm' that "
                                            rf"was killed before its renames: {names}$"):
        saved = det.save(folder / "m")
    assert Detector.load(saved).threshold_ == det.threshold_
    assert not any(p.exists() for p in left)
    assert all(p.exists() for p in others)
    assert _pair(folder) == sorted(["m.json", "m.safetensors", *(p.name for p in others)])


def test_a_save_waits_for_a_write_in_progress_whose_temp_file_it_keeps(det: Detector, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # another process writing into the folder holds it while it writes: its temp file is not a killed one's. A save
    # holds the folder alone (two saves of one pair at once interleaved their renames), so it waits for that write,
    # says so, and deletes the temp file only once its writer is gone (killed here, its temp file left)
    pytest.importorskip("fcntl")
    folder = tmp_path / "models"
    det.save(folder / "m")
    waits, done, out = save_waits_said(monkeypatch), threading.Event(), {}
    with writing_now(folder / "m.json", shared=True) as theirs:
        t = in_thread("save", lambda: det.save(folder / "m"), done, out)
        while not (waits.wait(0.05) or done.is_set()):
            pass
        assert not done.is_set() and theirs.exists()
    t.join(120)
    assert not isinstance(out["save"], BaseException), out
    assert Detector.load(out["save"]).threshold_ == det.threshold_
    assert not theirs.exists()


def test_on_a_network_file_system_the_temp_files_are_kept(det: Detector, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # the folder's lock reaches no other machine there: a save in progress on another host cannot be told apart
    folder = tmp_path / "share"
    saved = det.save(folder / "m")
    left = _killed_save(saved, folder / "m")
    mount_as(monkeypatch, tmp_path / "mountinfo", [(folder, "nfs4")])
    # nor did anything say they were there: det.save is the one place that can, with the exact rm
    rm = " ".join(shell_word(p) for p in left)
    _kept_and_said(det, folder, left, rf"^2 temporary files of det\.save\({re.escape(repr(str(folder / 'm')))}\) "
                                      rf"are in {re.escape(str(folder))}, left by a save killed before its "
                                      rf"renames or being written now by another: on a nfs4 file system .* "
                                      rf"delete them: rm {re.escape(rm)}$")


def test_a_resume_clean_up_meanwhile_leaves_a_save_into_the_run_folder_whole(
        det: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    # a resume (training.run, under the run's lock, which det.save does not take) deleted every ".*.safetensors.tmp"
    # in the run folder: the weights' temp file of a det.save(RUN/model) under way, which then failed (no such file)
    run = Path(det.run_dir_)
    real = ckpt.save_file

    def then_a_resume_starts(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        ckpt.remove_stale_temp(run)

    monkeypatch.setattr(ckpt, "save_file", then_a_resume_starts)
    saved = det.save(run / "model")
    monkeypatch.undo()
    assert Detector.load(saved).threshold_ == det.threshold_
    assert ckpt.checkpoint_temp_files(run, "model") == []


@pytest.mark.parametrize("why", ["no_fcntl", "flock_refused"])
def test_where_the_folder_cannot_be_locked_the_temp_files_are_kept_and_said(
        why: str, det: Detector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no save holds the folder there (no fcntl on Windows; a file system that refuses flock), so none can tell a
    # killed save's temp files from a live one's and none deletes them: they stayed for good, hundreds of MB each,
    # without a word (the docs said the next save deletes them, where no other save writes there)
    import errno

    folder = tmp_path / "models"
    saved = det.save(folder / "m")
    left = _killed_save(saved, folder / "m")
    if why == "no_fcntl":
        refuse_fcntl_import(monkeypatch)
    else:
        import fcntl

        def refuse(fd: int, op: int) -> None:
            raise OSError(errno.ENOLCK, "No locks available")

        monkeypatch.setattr(fcntl, "flock", refuse)
    rm = " ".join(shell_word(p) for p in left)
    _kept_and_said(det, folder, left, rf"^2 temporary files of det\.save\(.*\) are in {re.escape(str(folder))}, "
                                      rf"left by a save killed before its renames or being written now by "
                                      rf"another: .*cannot be locked.* delete them: rm {re.escape(rm)}$")


def test_an_overwrite_of_the_run_waits_for_a_save_into_it_and_says_what_it_waits_for(
        det: Detector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every det.save holds its folder now, so `wildgan train --overwrite` of a run waits for a det.save(RUN/model)
    # under way as for an evaluation's write: its note named an evaluation or a training scores' cache only, and the
    # commands `wildgan evaluate` or `wildgan score`, where a Python session's det.save was what it waited for
    import threading
    import time

    pytest.importorskip("fcntl")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")            # (a run marker: training.run.previous_run)
    real = ckpt.save_file
    writing = threading.Event()

    def slowly(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        writing.set()
        time.sleep(1.0)

    monkeypatch.setattr(ckpt, "save_file", slowly)
    said = overwrite_during(run, lambda: det.save(run / "model"), writing)
    monkeypatch.undo()
    waits = [m for m in said if "waiting for the write into" in m]
    assert len(waits) == 1 and "det.save" in waits[0], said
    assert Detector.load(run / "model").threshold_ == det.threshold_     # (a user's file: not the run's to remove)
    assert not (run / "config.json").exists() and ckpt.checkpoint_temp_files(run, "model") == []


@pytest.mark.parametrize("where", ["network", "unlockable"])
def test_a_save_into_a_folder_it_cannot_list_is_not_failed_by_the_look_for_temp_files(
        where: str, det: Detector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a folder written into but not readable (a drop box: mode 0333, or 0730 for a group) cannot be listed: the look
    # for a killed save's temp files after the save, on a network file system or where the folder cannot be locked,
    # raised PermissionError from a save that had written both files
    import os

    folder = tmp_path / "drop"
    folder.mkdir()
    if where == "network":
        mount_as(monkeypatch, tmp_path / "mountinfo", [(folder, "nfs4")])
    real_open, real_iterdir = os.open, Path.iterdir

    def unreadable(path, flags, *rest):
        if Path(path) == folder:                    # (as a folder without read permission refuses it)
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *rest)

    def unlisted(self: Path):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", unlisted)
    if where == "unlockable":
        monkeypatch.setattr(os, "open", unreadable)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        saved = det.save(folder / "m")
    monkeypatch.undo()
    assert Detector.load(saved).threshold_ == det.threshold_
