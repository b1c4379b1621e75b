"""fileio's log appends: one line per write, whole, and a log that may fail without stopping anything."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from wildgan.errors import ConfigError
from wildgan.fileio import append_line, append_log_line, check_can_make_folder, make_folder


def _writer(path: str, tag: str) -> None:
    for _ in range(200):
        append_line(Path(path), tag * 20_000)          # far above any stdio buffer: one write keeps it whole


def test_lines_appended_by_several_processes_stay_whole(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("start\n")
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(log), t)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = log.read_text().splitlines()
    assert lines[0] == "start" and len(lines) == 401
    assert all(line in ("a" * 20_000, "b" * 20_000) for line in lines[1:])


def test_a_log_line_that_cannot_be_written_is_not_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "log.txt"
    with pytest.raises(OSError):
        append_line(missing, "x")
    append_log_line(missing, "x")                      # (the log copies the terminal: never why a run stops)
    append_line(tmp_path / "log.txt", "one\n")
    append_line(tmp_path / "log.txt", "two")
    assert (tmp_path / "log.txt").read_text() == "one\ntwo\n"


def test_version_state() -> None:
    from wildgan.fileio import version_state

    assert [version_state(v, 2) for v in (1, 2, 3)] == ["ok", "ok", "newer"]
    assert {version_state(v, 2) for v in (0, -1, True, 1.0, "1", None)} == {"damaged"}


@pytest.mark.parametrize("err, why", [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied"),
                                      (errno.ENOSPC, "no space left on the device")])
def test_a_folder_that_cannot_be_made_is_a_config_error_naming_it(err, why, tmp_path: Path, monkeypatch) -> None:
    """make_folder / check_can_make_folder: the OSErrors that mean "not writable here" are said with the path given,
    why and what to do (a ConfigError: bad input, exit 2); the probe leaves nothing behind; other OSErrors stay."""
    (tmp_path / "ok").mkdir()
    check_can_make_folder(tmp_path / "ok" / "new", "do X")
    assert list((tmp_path / "ok").iterdir()) == []                  # the probe folder is gone, nothing made
    (tmp_path / "ro").mkdir()
    mkdir = os.mkdir

    def failing(p, *a, **k):
        if "ro" in Path(p).parts:
            raise OSError(err, os.strerror(err), os.fsdecode(p))
        return mkdir(p, *a, **k)

    monkeypatch.setattr(os, "mkdir", failing)
    with pytest.raises(ConfigError, match=rf"cannot write --out {tmp_path / 'ro' / 'run'}: {why} \(at "
                                          rf"{tmp_path / 'ro'}\); do X$"):
        check_can_make_folder(tmp_path / "ro" / "run", "do X", label="--out")
    with pytest.raises(ConfigError, match=rf"cannot write the run folder {tmp_path / 'ro' / 'run'}: {why}; do Y$"):
        make_folder(tmp_path / "ro" / "run", "do Y", label="the run folder")
    monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error",
                                                                                         os.fsdecode(p))))
    with pytest.raises(OSError, match="Input/output error") as e:
        make_folder(tmp_path / "x", "do Y")
    assert not isinstance(e.value, ConfigError)


def test_files_written_together_are_all_new_or_all_as_they_were(tmp_path: Path) -> None:
    """atomic_write_files: every file written into a temp first; a writer that raises leaves every path as it was
    (the removal asked for not done either) and no temp file; once all are written they are renamed in order, a
    symlink written through and None removing its path."""
    from wildgan.fileio import atomic_write_files

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "gone.csv").write_text("old gone")
    (tmp_path / "target.json").write_text("old target")
    (tmp_path / "link.json").symlink_to("target.json")

    def half_then_fail(f) -> None:
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write_files([(tmp_path / "a.csv", lambda f: f.write(b"new a")), (tmp_path / "gone.csv", None),
                            (tmp_path / "b.npy", half_then_fail), (tmp_path / "link.json", lambda f: f.write(b"{}"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "gone.csv", "link.json", "target.json"]
    assert [(tmp_path / n).read_text() for n in ("a.csv", "gone.csv", "target.json")] == ["old a", "old gone",
                                                                                          "old target"]
    atomic_write_files([(tmp_path / "a.csv", lambda f: f.write(b"new a")), (tmp_path / "gone.csv", None),
                        (tmp_path / "link.json", lambda f: f.write(b"{}"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "link.json", "target.json"]
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "target.json").read_text() == "{}"
    assert (tmp_path / "a.csv").read_text() == "new a"
