"""`wildgan info RUN` lists the temp files of atomic writes other than a checkpoint's weights or an evaluation's
outputs (".config.json.XXXXXXXX.tmp", a checkpoint's JSON, a sample grid, the training-score cache, an output of the
user's written into the run folder), which a process killed between the temp file and the rename leaves: kind
write_temp, with the writer whose files they are (data.run_temps), the size, what removes them and the exact rm. Not
while a write in progress may own them and a lock says so: the training's own while a process holds the run's lock,
the shared files' while a process holds the run folder as their writers do."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from wildgan.cli import main
from wildgan.errors import shell_word

from killed_writes import killed_mid_write, temps_left_by_a_kill, writing_now


def _config_only_run(folder: Path) -> Path:
    """A run folder holding its config.json (a tiny 8x8 gray run's; never trained: only its files matter here)."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config

    write_run_config(RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                               train=TrainConfig(total_kimg=0.02), preset="tiny"), folder)
    return folder


def _info(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[dict[str, Any]]]:
    """`wildgan info RUN`'s text and its --json's leftover_files, checked to leave every file as it was."""
    before = sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file())
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    text = capsys.readouterr().out
    assert main(["info", str(run), "--json"]) == 0
    left = json.loads(capsys.readouterr().out)["leftover_files"]
    assert sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()) == before
    return text, left


def _write_temps(left: list[dict[str, Any]]) -> list[tuple[Path, str]]:
    return [(Path(f["path"]), f["writer"]) for f in left if f["kind"] == "write_temp"]


@pytest.mark.usefixtures("local_folder_locks")
def test_info_lists_every_killed_writes_temp_file_with_its_writer_size_and_rm(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _config_only_run(tmp_path / "my run")
    training = temps_left_by_a_kill(run, ("config.json", "split.json", "stats.jsonl"))
    training += temps_left_by_a_kill(run / "checkpoints", ("ckpt-000000001000.json",))
    training += temps_left_by_a_kill(run / "samples", ("fakes000001.png",), content=bytes(3 << 20))
    shared = temps_left_by_a_kill(run, ("train_scores.csv", "train_hashes.npz"))
    other = temps_left_by_a_kill(run, ("mine.csv",)) + temps_left_by_a_kill(run / "notes" / "deep", ("a.txt",))
    # a Detector's weights saved into the run folder (det.save(RUN/model)): no training's, so no resume's to delete
    detector = [run / ".model.4242.0a1b2c3d.safetensors.tmp"]
    detector[-1].write_bytes(b"d")
    # told apart and listed as their own kinds, or not at all: an evaluation's output's temp file, a checkpoint's
    # weights', a report being staged (a hidden folder, removed whole by a later report), an export's fixed name
    evaluation = temps_left_by_a_kill(run, ("eval.json",))
    weights = run / "checkpoints" / ".ckpt-000000001000.4242.0a1b2c3d.safetensors.tmp"
    weights.write_bytes(b"w")
    temps_left_by_a_kill(run / ".report-partial-k2x9q0aa", ("report.html",))
    (run / ".model.onnx.tmp").write_bytes(b"o")
    text, left = _info(run, capsys)
    assert _write_temps(left) == ([(p, "training") for p in sorted(training)] + [(p, "shared") for p in shared] +
                                  [(p, "detector") for p in detector] + [(p, "other") for p in sorted(other)]), left
    assert [(Path(f["path"]), f["kind"]) for f in left if f["kind"] != "write_temp"] == [
        (weights, "temp"), (evaluation[0], "eval_temp")], left
    for f in left:
        assert f["bytes"] == Path(f["path"]).stat().st_size
        assert f["what_to_do"].endswith(f": rm {shell_word(f['path'])}"), f
    resume = f"`wildgan train --out {shell_word(run)} --resume`"
    assert all(resume in f["what_to_do"] for f in left if f.get("writer") in ("training", "shared")), left
    assert all("--resume" not in f["what_to_do"] and "by hand" in f["what_to_do"] and "being written now" in f["why"]
               for f in left if f.get("writer") == "other"), left
    # the text: one group per writer, its files with their sizes, and one rm of them all
    assert f"{len(left)} files left by interrupted or damaged checkpoints, interrupted evaluations and other " \
           f"interrupted writes" in text, text
    assert f"    {training[-1]} (3.0 MiB)\n" in text, text
    assert f"    {training[0]} (4 bytes)\n" in text, text
    assert f"deletes them; or delete them by hand: rm {' '.join(shell_word(p) for p in sorted(training))}\n" in text
    assert f"as does the next write of those files (`wildgan score --threshold`); or delete them by hand: " \
           f"rm {' '.join(shell_word(p) for p in shared)}\n" in text, text
    assert f"rm {' '.join(shell_word(p) for p in sorted(other))}\n" in text, text


def test_info_lists_the_temp_file_of_a_process_killed_mid_write(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A real writer killed outright (SIGKILL) between its temp file and the rename: its config.json stays the old
    one, and info lists the temp file it left, as the training's, which a resume deletes."""
    run = _config_only_run(tmp_path / "run")
    old = (run / "config.json").read_bytes()
    tmp = killed_mid_write(run / "config.json")
    assert (run / "config.json").read_bytes() == old and tmp.read_bytes() == b"half"
    text, left = _info(run, capsys)
    assert [(Path(f["path"]), f["bytes"], f["kind"], f["writer"]) for f in left] == [(tmp, 4, "write_temp",
                                                                                      "training")], left
    assert f"    {tmp} (4 bytes)\n" in text and "killed before it renamed it into place" in text, text
    assert "1 file left by interrupted writes (4 bytes in all" in text, text
    assert f"rm {shell_word(tmp)}\n" in text, text


@pytest.mark.usefixtures("local_folder_locks")
def test_info_leaves_out_the_temp_files_a_lock_says_may_be_a_write_in_progress(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """While a process holds the run's lock (it trains), the training's own temp files may be its writes: left out;
    while a process writes the training scores (it holds the run folder), theirs are; a file whose writer no lock
    covers is listed all the same, said to be possibly written now."""
    pytest.importorskip("fcntl")
    from wildgan.training.run import run_lock

    run = _config_only_run(tmp_path / "run")
    training = temps_left_by_a_kill(run, ("config.json",))
    shared = temps_left_by_a_kill(run, ("train_scores.json",))
    other = temps_left_by_a_kill(run, ("mine.csv",))
    with run_lock(run):
        _, left = _info(run, capsys)
    assert _write_temps(left) == [(shared[0], "shared"), (other[0], "other")], left
    with writing_now(run / "train_scores.csv", shared=True) as in_progress:
        assert not shared[0].exists()        # (the writer, alone in the folder as it began, deleted the killed one's)
        _, left = _info(run, capsys)
        assert _write_temps(left) == [(training[0], "training"), (other[0], "other")], left
    # its writer killed too: its temp file is a leftover now
    _, left = _info(run, capsys)
    assert _write_temps(left) == [(training[0], "training"), (in_progress, "shared"), (other[0], "other")], left


@pytest.mark.usefixtures("local_folder_locks")
def test_a_temp_file_of_a_shared_file_is_deleted_by_the_next_write_of_one_unless_a_write_holds_the_folder(
        tmp_path: Path) -> None:
    """The writers of the training scores' cache and the records beside it hold the run folder (data.run_temps.
    writing_shared_files): the next one deletes what a killed one left, never what one at work now writes."""
    pytest.importorskip("fcntl")
    from wildgan.data.run_temps import shared_write_temps, writing_shared_files

    run = _config_only_run(tmp_path / "run")
    other = temps_left_by_a_kill(run, ("config.json", "mine.csv"))
    with writing_now(run / "train_scores.csv", shared=True) as in_progress:
        stale = temps_left_by_a_kill(run, ("fit_ids.json",))     # (as a write killed while this one writes leaves)
        with writing_shared_files(run) as gone:
            assert gone == []
        assert sorted(shared_write_temps(run)) == sorted(stale + [in_progress])
    with writing_shared_files(run) as gone:
        assert sorted(gone) == sorted(stale + [in_progress])
    assert shared_write_temps(run) == [] and all(p.is_file() for p in other)
    assert sorted(os.listdir(run)) == sorted([p.name for p in other] + ["config.json", "config.yaml"])


def _killed_detector_save(run: Path, name: str) -> list[Path]:
    """The temp files a det.save(RUN/NAME) killed before its renames leaves: its weights' (save_checkpoint's
    ".NAME.PID.HEX.safetensors.tmp") and its JSON's (".NAME.json.XXXXXXXX.tmp"), sorted."""
    weights = run / f".{name}.4242.0a1b2c3d.safetensors.tmp"
    weights.write_bytes(b"weights")
    return sorted([weights, *temps_left_by_a_kill(run, (f"{name}.json",))])


def test_info_says_a_killed_detector_saves_temp_files_are_the_next_saves_to_delete(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """det.save holds the folder it writes in (fileio.writing_temps) and its next save of the pair deletes what a
    killed one left: info said of them "no lock of wildgan's tells which" and "delete by hand", as of a file no lock
    covers, and listed the JSON's temp file as a file of the user's."""
    pytest.importorskip("fcntl")
    run = _config_only_run(tmp_path / "run")
    saved = _killed_detector_save(run, "model")
    mine = temps_left_by_a_kill(run, ("mine.json",))        # (a JSON of the user's, beside no weights: not a save's)
    text, left = _info(run, capsys)
    assert _write_temps(left) == [(p, "detector") for p in saved] + [(mine[0], "other")], left
    for f in left:
        if f["writer"] == "detector":
            assert "det.save" in f["why"] and "no lock" not in f["why"], f
            assert f["what_to_do"].startswith("the next det.save of that pair deletes it"), f
            # (a save holds its folder alone and waits for the other writes there: it deletes them whatever holds
            # the folder now, where the words made that a condition)
            assert "(once no other write or load holds its folder: it waits for them)" in f["what_to_do"], f
    assert f"rm {' '.join(shell_word(p) for p in saved)}\n" in text, text


def test_info_leaves_out_a_detector_saves_temp_files_while_a_process_holds_the_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A det.save(RUN/model) at work holds the run folder as the shared files' writers do: while one does, its temp
    files may be that write's (info told the user to rm them, hundreds of MB of weights being written). On a network
    file system that hold tells nothing of another machine's save: listed, with the file system's type."""
    pytest.importorskip("fcntl")
    from fake_mounts import mount_as

    run = _config_only_run(tmp_path / "run")
    saved = _killed_detector_save(run, "model")
    with writing_now(run / "train_scores.csv", shared=True):
        _, left = _info(run, capsys)
        assert _write_temps(left) == [], left
        mount_as(monkeypatch, tmp_path / "mountinfo", [(tmp_path, "nfs4")])
        _, left = _info(run, capsys)
        assert [(Path(f["path"]), f["host_only_locks"]) for f in left if f.get("writer") == "detector"] == [
            (p, "nfs4") for p in saved], left
        monkeypatch.undo()
    _, left = _info(run, capsys)
    assert [p for p, w in _write_temps(left) if w == "detector"] == saved, left


def test_info_lists_a_detector_saves_temp_files_in_a_folder_below_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A det.save(RUN/models/m) killed: info listed its JSON's temp file as a file of the user's and left out its
    weights' (hundreds of MB) altogether; and one at work holds its own folder, not the run folder."""
    pytest.importorskip("fcntl")
    run = _config_only_run(tmp_path / "run")
    (run / "models").mkdir()
    below = _killed_detector_save(run / "models", "m")
    beside = _killed_detector_save(run, "model")
    _, left = _info(run, capsys)
    assert _write_temps(left) == [(p, "detector") for p in sorted(beside + below)], left
    with writing_now(run / "models" / "x.csv", shared=True) as holder:
        _, left = _info(run, capsys)
        assert _write_temps(left) == [(p, "detector") for p in beside] + [(holder, "other")], left
