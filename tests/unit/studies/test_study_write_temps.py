"""The temp files of a study's atomic writes: a study rewrites a trained cell's config.json (its score settings,
before the cell is evaluated) under the cell's run lock, as every write of a run's config.json is made (a resume
deletes the temp files of those writes that it finds, data.run_temps, which must never be this write's in progress);
and the study folder's own files written whole (tables.md, tables.csv, comparisons.*, results.jsonl rewritten) are
written holding the folder, so that a study's start deletes the temp files a killed one left, and says so, never
those of a write in progress."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from wildgan.config import DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset, write_run_config
from wildgan.errors import ConfigError

from fake_mounts import mount_as
from killed_writes import temps_left_by_a_kill
from study_rows import study_base


def test_a_cells_config_is_rewritten_only_under_its_lock(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    from wildgan.studies.study import _take_score_settings
    from wildgan.training.run import run_lock

    cell = tmp_path / "study" / "runs" / "0"
    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02), preset="tiny")
    write_run_config(cfg, cell)
    before = (cell / "config.json").read_bytes()
    said: list[str] = []
    now = replace(cfg, score=ScoreConfig(lam=0.5))
    with run_lock(cell):                          # (a process training the cell holds it so)
        with pytest.raises(ConfigError, match="in use by another wildgan process"):
            _take_score_settings(now, cell, said.append)
    assert (cell / "config.json").read_bytes() == before and said == []
    _take_score_settings(now, cell, said.append)
    assert b'"lam": 0.5' in (cell / "config.json").read_bytes(), said
    assert not (cell / ".wildgan.lock").exists()  # (the lock file goes with the lock)


def test_a_cells_config_is_read_again_under_its_lock_before_it_is_rewritten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resume of the cell that rewrites its config.json between the study's first read and the lock it then takes
    (the resume holds that lock while it trains) is kept: the score sections are put into the config.json read under
    the lock, not into the one read before it."""
    pytest.importorskip("fcntl")
    from contextlib import contextmanager

    from wildgan.studies import study as study_mod
    from wildgan.training.run import run_lock

    cell = tmp_path / "study" / "runs" / "0"
    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02), preset="tiny")
    write_run_config(cfg, cell)
    resumed = replace(cfg, train=replace(cfg.train, total_kimg=0.04))

    @contextmanager
    def lock_after_a_resume(run_dir: Path):       # (the resume wrote config.json, then let the lock go)
        write_run_config(resumed, run_dir)
        with run_lock(run_dir):
            yield

    monkeypatch.setattr(study_mod, "run_lock", lock_after_a_resume)
    study_mod._take_score_settings(replace(cfg, score=ScoreConfig(lam=0.5)), cell, lambda m: None)
    text = (cell / "config.json").read_text()
    assert '"lam": 0.5' in text and '"total_kimg": 0.04' in text, text


@pytest.mark.usefixtures("local_folder_locks")
def test_a_studys_start_removes_the_temp_files_a_killed_study_left_and_says_so(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    st = tmp_path / "st"
    study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=lambda m: None)
    tables = (st / "tables.md").read_text()
    left = temps_left_by_a_kill(st, ("tables.md", "tables.csv", "results.jsonl", "comparisons.jsonl"))
    mine = temps_left_by_a_kill(st, ("mine.csv",)) + temps_left_by_a_kill(st / "runs", ("tables.md",))
    said: list[str] = []
    study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=said.append)   # (nothing to train)
    assert not any(p.exists() for p in left) and all(p.is_file() for p in mine)
    assert [m for m in said if m.startswith(("removed ", "left "))] == [
        f"removed 4 temporary files that writes killed before their rename left in {st}: "
        f"{', '.join(p.name for p in left)}"], said
    assert (st / "tables.md").read_text() == tables
    # while another process writes one of those files (holding the folder as they do), its temp file is kept
    import fcntl
    import os

    busy = temps_left_by_a_kill(st, ("tables.md",))
    fd = os.open(st, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        said.clear()
        study_mod.write_tables(st, study_mod.read_rows(st / "results.jsonl"))
        assert study_mod._remove_killed_writes_temps(st, said.append) == [] and said == []
        assert busy[0].is_file()
    finally:
        os.close(fd)
    study_mod.write_tables(st, study_mod.read_rows(st / "results.jsonl"))     # (alone now: deletes it first)
    assert not busy[0].exists()


@pytest.mark.parametrize("kind", ["nfs4", "cifs", "fuse.sshfs"])
def test_a_study_folder_on_a_network_file_system_keeps_the_temp_files_there(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On NFS, SMB, sshfs, ... a study folder's lock holds on this machine only (fileio.host_only_locks): a temp file
    there may be a study's or write_tables' in progress on another machine, so a study's start deletes none. It said
    nothing of them either, and as nothing else names a study's files (`wildgan info` reads a run), every killed
    write's piled up unseen: it says them, why they are kept, and the rm that deletes them."""
    pytest.importorskip("fcntl")
    import shlex

    from wildgan.studies import study as study_mod

    st = tmp_path / "my st"                        # (a space: the rm's words are quoted)
    left = temps_left_by_a_kill(st, ("tables.md", "results.jsonl"))
    mine = temps_left_by_a_kill(st, ("mine.csv",))          # (not a study's write: not the study's to name)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(st, kind)])
    said: list[str] = []
    assert study_mod._remove_killed_writes_temps(st, said.append) == []
    assert all(p.is_file() for p in left + mine)
    rm = " ".join(shlex.quote(str(p)) for p in left)
    # (the writers named as the docs name them: on NFS a `wildgan study` on another machine is refused by the study's
    # lock, which the server holds; studies.write_tables, from Python, takes no such lock, on any machine)
    assert said == [f"left 2 temporary files of the study's writes in {st} ({left[0].name}, {left[1].name}): writes "
                    f"killed before their rename left them, or a study or studies.write_tables on another machine is "
                    f"writing them now: the folder is on {kind}, whose folder locks hold on this machine only, so "
                    f"nothing tells which, and nothing of wildgan's deletes them there; delete them by hand once no "
                    f"study or studies.write_tables on any machine writes into the study folder: rm {rm}"], said
    assert shlex.split(said[0].split(": rm ", 1)[1]) == [str(p) for p in left]
    left[1].unlink()
    said.clear()
    study_mod._remove_killed_writes_temps(st, said.append)
    assert said == [f"left 1 temporary file of the study's writes in {st} ({left[0].name}): a write killed before "
                    f"its rename left it, or a study or studies.write_tables on another machine is writing it now: "
                    f"the folder is on {kind}, whose folder locks hold on this machine only, so nothing tells which, "
                    f"and nothing of wildgan's deletes it there; delete it by hand once no study or "
                    f"studies.write_tables on any machine writes into the study folder: "
                    f"rm {shlex.quote(str(left[0]))}"], said
    left[0].unlink()
    said.clear()
    assert study_mod._remove_killed_writes_temps(st, said.append) == [] and said == []
