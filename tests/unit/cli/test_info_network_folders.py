"""`wildgan info RUN` on a run folder on a network file system (NFS, SMB, sshfs, ...), whose folder locks hold on this
machine only (fileio.host_only_locks): the temp files of an evaluation's and of the shared files' writes there may be
a write's in progress on another machine, which no lock of this machine's sees. They are listed all the same, with
the file system's type and words that say so, and the advice to delete them by hand once no machine writes there,
not as a killed process's that the next write deletes (it deletes nothing there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wildgan.cli import main

from fake_mounts import mount_as
from killed_writes import temps_left_by_a_kill

pytest.importorskip("fcntl")


def _run_with_temps(run: Path) -> list[Path]:
    """A config-only run folder (never trained: only its files matter) with the temp files a killed evaluation left
    in it and in an eval-*/ folder, and one of a killed write of the training scores' cache."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config

    write_run_config(RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                               train=TrainConfig(total_kimg=0.02), preset="tiny"), run)
    return (temps_left_by_a_kill(run, ("eval.json",)) + temps_left_by_a_kill(run / "eval-other", ("eval.json",))
            + temps_left_by_a_kill(run, ("train_scores.csv",)))


def _info(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[dict[str, Any]]]:
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    text = capsys.readouterr().out
    assert main(["info", str(run), "--json"]) == 0
    return text, json.loads(capsys.readouterr().out)["leftover_files"]


def _listed_on(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
               ) -> tuple[Path, list[Path], str, list[dict[str, Any]]]:
    """(run, its temp files, info's text, its --json leftover_files) for _run_with_temps's run on a folder of file
    system type `kind`; every temp file is listed."""
    run = tmp_path / "run"
    temps = _run_with_temps(run)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(tmp_path, kind)])
    text, left = _info(run, capsys)
    assert sorted(Path(f["path"]) for f in left) == sorted(temps)
    return run, temps, text, left


@pytest.mark.parametrize("kind", ["nfs4", "cifs", "fuse.sshfs", "lustre"])
def test_info_says_the_temp_files_on_a_network_folder_may_be_another_machines_write(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    run, temps, text, left = _listed_on(kind, tmp_path, capsys, monkeypatch)
    for f in left:
        assert f["host_only_locks"] == kind
        assert "another machine" in f["why"] and kind in f["why"]
        assert f["what_to_do"].startswith("delete it by hand once no wildgan command on any machine writes")
        assert "next" not in f["what_to_do"] and "--resume" not in f["what_to_do"]
    # (a group for the evaluation's files in the run folder, one for those in eval-*/, one for the cache's)
    assert text.count("another machine") == 3
    assert all(str(t) in text for t in temps)
    # (only read: every file is still there)
    assert all(t.is_file() for t in temps)


@pytest.mark.parametrize("kind", ["ext4", "tmpfs", "overlay"])
def test_info_lists_the_same_temp_files_on_a_local_folder_as_a_killed_writes(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    run, temps, text, left = _listed_on(kind, tmp_path, capsys, monkeypatch)
    assert not any("host_only_locks" in f or "another machine" in f["why"] for f in left)
    assert "another machine" not in text


@pytest.mark.parametrize("kind", ["nfs4", "fuse.sshfs"])
def test_info_on_a_network_folder_says_what_deletes_each_temp_file_as_it_is(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # every such file was said to be deleted by "nothing of wildgan's" there, while `wildgan train --overwrite`
    # removes the old run's eval-*/ folders' evaluation files, their temp files too, on a network file system as
    # well: the words of each are checked against what a resume's clean-up and an --overwrite then do to it
    from wildgan.training.run import _clear_old_run, _remove_killed_writes_temps

    run, temps, text, left = _listed_on(kind, tmp_path, capsys, monkeypatch)
    _remove_killed_writes_temps(run, lambda m: None)
    assert all(t.is_file() for t in temps)              # (a resume's clean-up deletes none of them there)
    _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=lambda m: None)
    for f in left:
        gone = not Path(f["path"]).exists()
        assert gone == (Path(f["path"]).parent.name == "eval-other")
        if gone:
            assert f"nothing of wildgan's deletes it there but a `wildgan train --out {run} --overwrite`, which " \
                   f"removes the evaluation files of its eval-*/ folder, these included" in f["why"], f
        else:
            assert "nothing of wildgan's deletes it there, not even a `wildgan train --overwrite` of the run" \
                in f["why"], f
    # the text says the same, in a group of its own for the eval-*/ folder's
    assert text.count("but a `wildgan train --out") == 1 and text.count("not even a `wildgan train --overwrite`") == 2
