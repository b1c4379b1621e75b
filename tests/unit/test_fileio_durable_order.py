"""What makes fileio's atomic writes survive a power cut, not only a crash of the process: each temp file fsynced
before it is renamed over its path, the folder fsynced after the renames, and atomic_write_files' renames in the
order given (the record last: a cut in the renames leaves new files beside the old record, never a new record
beside old files). None of it showed in a file's contents on a machine that stays up, so no test saw it dropped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wildgan import fileio


def _watched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync (of the file or folder its descriptor is open on) and rename, in the order they happen."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append(("rename", f"{os.fspath(src)} -> {os.fspath(dst)}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _check_durable(events: list[tuple[str, str]], folder: Path, names: list[str]) -> None:
    renames = [(i, e[1].split(" -> ")) for i, e in enumerate(events) if e[0] == "rename"]
    assert [Path(dst).name for _, (_, dst) in renames] == names            # in the order given
    for i, (tmp, _) in renames:
        tmp = str(Path(tmp).resolve())              # (as /proc names it: the folder's links resolved)
        assert ("fsync", tmp) in events[:i], f"{tmp} renamed without an fsync first: {events}"
    last = renames[-1][0]
    assert ("fsync", str(folder)) in events[last + 1:], f"the folder not fsynced after the renames: {events}"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fsynced descriptor's file by /proc")
def test_one_file_is_fsynced_renamed_and_its_folder_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _watched(monkeypatch)
    fileio.atomic_write_text(tmp_path / "eval.json", "{}")
    _check_durable(events, tmp_path.resolve(), ["eval.json"])
    assert (tmp_path / "eval.json").read_text() == "{}"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fsynced descriptor's file by /proc")
def test_files_written_together_are_each_fsynced_then_renamed_in_order(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    events = _watched(monkeypatch)
    names = ["scores.csv", "z.npy", "eval.json"]
    fileio.atomic_write_files([(tmp_path / n, lambda f, n=n: f.write(n.encode())) for n in names])
    _check_durable(events, tmp_path.resolve(), names)
    assert [(tmp_path / n).read_text() for n in names] == names
