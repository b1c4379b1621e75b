"""The temp files of fileio's atomic writes between their creation and their rename: their mode, from the umask read
without setting it, and their removal wherever a Ctrl-C (KeyboardInterrupt) lands in that window, for each writer
(atomic_write_bytes, _stream, _text, _files, _by_name) and checkpoint.save_checkpoint's weights."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

import wildgan.checkpoint as ckpt
import wildgan.fileio as fileio


def _proc_tells_the_umask() -> bool:
    try:
        return any(line.startswith("Umask:") for line in Path("/proc/self/status").read_text().splitlines())
    except OSError:
        return False


@pytest.mark.skipif(not _proc_tells_the_umask(), reason="needs Linux's /proc/self/status with a Umask line")
def test_a_write_reads_the_umask_without_setting_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # _write_temp read the umask with os.umask(0) and set it back: for that moment the process umask was 0, and a
    # file another thread created then was writable by every user
    old = os.umask(0o027)
    try:
        def never(mask: int) -> int:
            raise AssertionError(f"os.umask({mask:#o}) called: the process umask was changed for a moment")

        with monkeypatch.context() as m:
            m.setattr(os, "umask", never)
            fileio.atomic_write_bytes(tmp_path / "a.json", b"{}")
            assert fileio.umask() == 0o027
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640


def _interrupted_after_the_temp(monkeypatch: pytest.MonkeyPatch, at: int = 1) -> list[str]:
    """fileio._write_temp made to return its `at`-th temp file and then take a KeyboardInterrupt, as a Ctrl-C landing
    right after it returns, before the caller renames or removes the temp file; returns the temp files it made."""
    real = fileio._write_temp
    made: list[str] = []

    def then_ctrl_c(*args: Any, **kwargs: Any) -> str:
        tmp = real(*args, **kwargs)
        made.append(tmp)
        if len(made) == at:
            raise KeyboardInterrupt
        return tmp

    monkeypatch.setattr(fileio, "_write_temp", then_ctrl_c)
    return made


def _by_name(path: Path, data: bytes) -> None:
    fileio.atomic_write_by_name(lambda p: p.write_bytes(data), path)


def _with_a_written_temp(path: Path, data: bytes) -> None:
    # (a caller's own temp file, written whole beforehand, renamed with the text: a checkpoint's weights)
    side = path.with_name("side.bin")
    pre = path.with_name(".side.bin.own.tmp")
    pre.write_bytes(data)
    fileio.atomic_write_text(path, data.decode(), written=[(side, pre)])


WRITERS: dict[str, Callable[[Path, bytes], None]] = {
    "bytes": fileio.atomic_write_bytes,
    "stream": lambda path, data: fileio.atomic_write_stream(lambda f: f.write(data), path),
    "text": lambda path, data: fileio.atomic_write_text(path, data.decode()),
    "text_with_written": _with_a_written_temp,
    "files": lambda path, data: fileio.atomic_write_files([(path, lambda f: f.write(data))]),
    "by_name": _by_name,
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_ctrl_c_right_after_the_temp_file_is_written_leaves_no_temp_file(
        writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the callers kept the temp file's name only once _write_temp had returned, and removed it only inside a try
    # entered after that: a Ctrl-C landing in between left ".NAME.XXXXXXXX.tmp" beside the file for good
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    made = _interrupted_after_the_temp(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        WRITERS[writer](target, b"new")
    assert len(made) == 1
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_ctrl_c_after_the_second_of_several_temp_files_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # atomic_write_files put each temp file in its list of temps to remove only after _write_temp returned it
    first, second = tmp_path / "a.csv", tmp_path / "b.json"
    first.write_bytes(b"old a")
    second.write_bytes(b"old b")
    made = _interrupted_after_the_temp(monkeypatch, at=2)
    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_write_files([(first, lambda f: f.write(b"new a")), (second, lambda f: f.write(b"new b"))])
    assert len(made) == 2
    assert (first.read_bytes(), second.read_bytes()) == (b"old a", b"old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json"]


def _saved_before(folder: Path) -> tuple[Path, str]:
    path = ckpt.save_checkpoint(folder, "network-final", {"w": torch.zeros(3)}, {"kind": ckpt.NETWORKS_KIND})
    return path, ckpt.read_meta(path)["sha256"]


def _only_the_checkpoint_left(folder: Path, path: Path, sha256: str) -> None:
    assert ckpt.load_checkpoint(path)[1]["sha256"] == sha256
    assert sorted(p.name for p in folder.iterdir()) == ["network-final.json", "network-final.safetensors"]


def test_a_ctrl_c_right_after_a_checkpoint_json_temp_is_written_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (the weights' temp file, and the JSON's, which _write_temp made for atomic_write_text)
    path, sha256 = _saved_before(tmp_path)
    made = _interrupted_after_the_temp(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path, "network-final", {"w": torch.ones(3)}, {"kind": ckpt.NETWORKS_KIND})
    assert len(made) == 1
    monkeypatch.undo()
    _only_the_checkpoint_left(tmp_path, path, sha256)


class _OsCtrlCAtClose:
    """The os module for checkpoint's use, whose close() of the descriptor of a checkpoint's weights temp file, just
    made, closes it and then takes a KeyboardInterrupt: a Ctrl-C landing right after the temp file is made."""

    def __init__(self) -> None:
        self.hit: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def close(self, fd: int) -> None:
        made = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else ""
        os.close(fd)
        if made.endswith(".safetensors.tmp") and not self.hit:
            self.hit.append(made)
            raise KeyboardInterrupt


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="tells the descriptor's file by Linux's /proc")
def test_a_ctrl_c_right_after_the_weights_temp_file_is_made_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # save_checkpoint made its weights' temp file (os.close(os.open(..., O_EXCL))) before the try that removes it
    path, sha256 = _saved_before(tmp_path)
    fake = _OsCtrlCAtClose()
    monkeypatch.setattr(ckpt, "os", fake)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path, "network-final", {"w": torch.ones(3)}, {"kind": ckpt.NETWORKS_KIND})
    assert len(fake.hit) == 1
    monkeypatch.undo()
    _only_the_checkpoint_left(tmp_path, path, sha256)


def test_a_weights_temp_file_of_the_same_name_is_not_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the removal covers the file from its creation, so it must not cover one that O_EXCL found there: not this save's
    there = tmp_path / ".network-final.1.00000000.safetensors.tmp"
    there.write_bytes(b"someone else's")
    monkeypatch.setattr(ckpt.os, "getpid", lambda: 1)
    monkeypatch.setattr(ckpt.os, "urandom", lambda n: bytes(n))
    with pytest.raises(FileExistsError):
        ckpt.save_checkpoint(tmp_path, "network-final", {"w": torch.ones(3)}, {"kind": ckpt.NETWORKS_KIND})
    assert there.read_bytes() == b"someone else's"


def test_threads_reading_the_umask_without_proc_leave_it_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    # without /proc (macOS, Windows) the umask is read by setting it and setting it back, at every atomic write now:
    # two threads doing so at once, the second read the first one's 0o077 and set it back last, so the process kept
    # 0o077 for good (every later file private), and that second write's file was made 0600
    import threading
    import time

    real_read_text = Path.read_text

    def no_proc(self: Path, *a: Any, **k: Any) -> str:
        if str(self).startswith("/proc/"):
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return real_read_text(self, *a, **k)

    state = {"mask": 0o022}

    def slow_umask(mask: int) -> int:
        # (the process umask as a variable: os.umask's swap, with a pause after it that lets another thread in)
        old, state["mask"] = state["mask"], mask
        time.sleep(0.05)
        return old

    monkeypatch.setattr(Path, "read_text", no_proc)
    monkeypatch.setattr(os, "umask", slow_umask)
    read: list[int] = []
    threads = [threading.Thread(target=lambda: read.append(fileio.umask())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    monkeypatch.undo()
    assert (read, state["mask"]) == ([0o022, 0o022], 0o022)
