"""fileio's log appends: one line per write, whole, and a log that may fail without stopping anything; files
written together; the temp files of a writer killed outright, which the next writer removes (writing_temps)."""

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


# a writer killed outright in atomic_write_files, its temp files written: the first whole, the second half-written
# (then it says so, and waits for its kill), while it holds the folder as writing_temps does
_KILLED_WRITER = """
import sys, time
from pathlib import Path
from wildgan.fileio import atomic_write_files, temp_files, writing_temps
folder = Path(sys.argv[1])

def half_then_wait(f):
    f.write(b"half")
    f.flush()
    (folder.parent / "ready").write_text("")
    time.sleep(60)

with writing_temps(folder, lambda: temp_files(folder, ["a.csv", "b.npy"])):
    atomic_write_files([(folder / "a.csv", lambda f: f.write(b"new a")), (folder / "b.npy", half_then_wait)])
"""


def _killed_writer(folder: Path) -> list[Path]:
    """Run _KILLED_WRITER on folder, kill it (SIGKILL: no clean-up of its own runs) once its temp files are there,
    checking meanwhile that its hold is seen and its files kept; returns the temp files it left."""
    import signal
    import subprocess
    import sys
    import time

    from wildgan.fileio import temp_files, temps_being_written, writing_temps

    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(folder)])
    try:
        deadline = time.monotonic() + 60
        while not (folder.parent / "ready").exists():
            assert child.poll() is None and time.monotonic() < deadline, "the writer ended before writing"
            time.sleep(0.02)
        left = temp_files(folder, ["a.csv", "b.npy"])
        assert [p.name.split(".")[1:3] for p in left] == [["a", "csv"], ["b", "npy"]], left
        # while it writes, its temp files are not stale: another writer deletes none of them, and says so
        assert temps_being_written(folder)
        with writing_temps(folder, lambda: temp_files(folder, ["a.csv", "b.npy"])) as gone:
            assert gone == []
        assert temp_files(folder, ["a.csv", "b.npy"]) == left
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    return left


@pytest.mark.usefixtures("local_folder_locks")
def test_the_next_writer_removes_the_temp_files_of_a_killed_one_and_only_those(tmp_path: Path) -> None:
    """A process killed outright while atomic_write_files wrote its temp files leaves them (its own clean-up never
    runs); the kernel drops its hold on the folder with it, so the next writer of those names deletes them, and
    nothing else: not another name's temp file, nor a temp file of a longer name, nor a checkpoint's."""
    pytest.importorskip("fcntl")
    from wildgan.fileio import temp_files, temps_being_written, writing_temps

    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"old a")
    others = [folder / n for n in (".a.csv.bak.k2x9q0aa.tmp", ".c.csv.k2x9q0aa.tmp", ".config.json.k2x9q0aa.tmp",
                                   ".ckpt-000000001000.4242.0a1b2c3d.safetensors.tmp", "a.csv.tmp")]
    for p in others:
        p.write_bytes(b"x")
    left = _killed_writer(folder)
    assert all(p.is_file() for p in left) and (folder / "a.csv").read_bytes() == b"old a"
    assert not temps_being_written(folder)          # (the kill released its hold)
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv", "b.npy"])) as gone:
        assert gone == left
        assert temps_being_written(folder)          # (held while this one writes)
    assert temp_files(folder, ["a.csv", "b.npy"]) == []
    assert all(p.is_file() for p in others)
    assert not temps_being_written(folder)


def test_a_folder_that_cannot_be_locked_keeps_its_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where flock fails on a folder (refused by the file system), another process's temp files cannot be told from
    a killed one's: nothing is deleted, and nothing reported as stale. (Not NFS's case: a folder's flock succeeds
    there, on this machine only: test_fileio_network_folders.)"""
    fcntl = pytest.importorskip("fcntl")
    from wildgan.fileio import temp_files, temps_being_written, writing_temps

    stale = tmp_path / ".a.csv.k2x9q0aa.tmp"
    stale.write_bytes(b"x")

    def no_lock(fd: int, op: int) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(fcntl, "flock", no_lock)
    with writing_temps(tmp_path, lambda: temp_files(tmp_path, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file() and temps_being_written(tmp_path)
    assert not temps_being_written(tmp_path / "missing")


def test_a_stale_temp_file_that_cannot_be_deleted_does_not_stop_the_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clean-up of a killed writer's temp files comes before this writer's own files: a deletion the file system
    refuses (permissions) leaves that file where it is and lets the write go on, rather than failing it."""
    pytest.importorskip("fcntl")
    from wildgan.fileio import atomic_write_files, temp_files, writing_temps

    stale = tmp_path / ".a.csv.k2x9q0aa.tmp"
    stale.write_bytes(b"x")
    real_unlink = Path.unlink

    def refused(self: Path, missing_ok: bool = False) -> None:
        if self == stale:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    with writing_temps(tmp_path, lambda: temp_files(tmp_path, ["a.csv"])) as gone:
        assert gone == []
        atomic_write_files([(tmp_path / "a.csv", lambda f: f.write(b"new"))])
    assert (tmp_path / "a.csv").read_bytes() == b"new" and stale.is_file()


def test_remove_files_passes_over_a_refused_deletion_and_names_the_files_it_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean-up of leftovers (a resume's, a checkpoint folder's) says which files it deleted: one deletion the file
    system refuses leaves that file, deletes the others after it, and does not lose the names of those before it."""
    from wildgan.fileio import remove_files

    files = [tmp_path / f".{n}.csv.k2x9q0aa.tmp" for n in "abc"]
    for f in files:
        f.write_bytes(b"x")
    real_unlink = Path.unlink

    def refused(self: Path, missing_ok: bool = False) -> None:
        if self == files[1]:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    assert remove_files([*files, tmp_path / "gone-meanwhile.tmp"]) == [files[0], files[2]]
    assert [f.exists() for f in files] == [False, True, False]


def test_a_check_before_the_renames_that_raises_replaces_nothing(tmp_path: Path) -> None:
    """before_renames runs once every temp file is written and before the first rename: an output found unwanted
    then (an evaluation whose networks were replaced meanwhile) leaves every path as it was, and no temp file."""
    from wildgan.fileio import atomic_write_files

    (tmp_path / "a.csv").write_bytes(b"old a")
    (tmp_path / "gone.csv").write_bytes(b"old gone")
    seen: list[list[str]] = []

    def unwanted() -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))       # (the temp files, written whole)
        raise ConfigError("no longer wanted")

    with pytest.raises(ConfigError, match="no longer wanted"):
        atomic_write_files([(tmp_path / "a.csv", lambda f: f.write(b"new a")), (tmp_path / "gone.csv", None),
                            (tmp_path / "b.json", lambda f: f.write(b"{}"))], before_renames=unwanted)
    assert len(seen) == 1 and len(seen[0]) == 4 and {"a.csv", "gone.csv"} <= set(seen[0]), seen
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "gone.csv"]
    assert (tmp_path / "a.csv").read_bytes() == b"old a" and (tmp_path / "gone.csv").read_bytes() == b"old gone"
    atomic_write_files([(tmp_path / "a.csv", lambda f: f.write(b"new a"))], before_renames=lambda: None)
    assert (tmp_path / "a.csv").read_bytes() == b"new a"


def test_digesting_records_the_size_and_sha256_of_what_was_written(tmp_path: Path) -> None:
    """Taken from the bytes as written (np.save writes an array's buffer, not bytes), once the whole file is: a
    writer that fails records nothing."""
    import hashlib

    import numpy as np

    from wildgan.fileio import atomic_write_files, digesting

    record: dict[str, dict] = {}
    z = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_write_files([(tmp_path / "z.npy", digesting(lambda f: np.save(f, z, allow_pickle=False), "z.npy", record)),
                        (tmp_path / "a.csv", digesting(lambda f: f.write(b"id\n1\n"), "a.csv", record))])
    assert record == {n: {"bytes": (tmp_path / n).stat().st_size,
                          "sha256": hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()}
                      for n in ("z.npy", "a.csv")}
    assert np.array_equal(np.load(tmp_path / "z.npy"), z)

    def fails(f) -> None:
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write_files([(tmp_path / "b.csv", digesting(fails, "b.csv", record))])
    assert "b.csv" not in record


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_an_atomic_write_that_the_file_system_refuses_for_its_size_names_the_file(tmp_path: Path) -> None:
    """A write to a file object fails without a file name: `wildgan train` whose disk filled as it wrote
    train_scores.csv ended on `error: [Errno 28] No space left on device`, naming nothing. A real refusal here
    (`ulimit -f`: Python ignores SIGXFSZ, so the write gets EFBIG): the error names the file being written, the file
    there before is kept, and no temp file is left."""
    import resource

    from wildgan.fileio import atomic_write_bytes

    target = tmp_path / "train_scores.csv"
    target.write_bytes(b"old")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError) as caught:
            atomic_write_bytes(target, bytes(200_000))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert caught.value.errno == errno.EFBIG and caught.value.filename == str(target)
    assert str(target) in str(caught.value)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["train_scores.csv"]


def test_an_atomic_write_keeps_an_error_of_the_writer_s_own_that_is_not_the_file_system_s(tmp_path: Path) -> None:
    """Only the file system's refusals of the bytes are given the file's name: an OSError of what the writer itself
    reads (a download's connection reset) keeps its own words."""
    from wildgan.fileio import atomic_write_stream

    def reset(f: object) -> None:
        raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

    with pytest.raises(ConnectionResetError) as caught:
        atomic_write_stream(reset, tmp_path / "cifar.tar.gz")
    assert caught.value.filename is None and not list(tmp_path.iterdir())


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_write_by_name_that_the_file_system_refuses_for_its_size_names_the_file(tmp_path: Path) -> None:
    """atomic_write_by_name's writer opens the temp file itself (torch.onnx.export, onnx.save): its full disk named no
    file either, and `wildgan export` to a full disk ended on a bare `[Errno 28] No space left on device` (measured
    on a 60 kB tmpfs). A real refusal (`ulimit -f`): the error names the model's path, and no temp file is left."""
    import resource

    from wildgan.fileio import atomic_write_by_name

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(bytes(200_000))

    target = tmp_path / "model.onnx"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError) as caught:
            atomic_write_by_name(fill, target)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert caught.value.errno == errno.EFBIG and caught.value.filename == str(target)
    assert not list(tmp_path.iterdir())
