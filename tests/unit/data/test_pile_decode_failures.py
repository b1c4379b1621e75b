"""Decoding a real pile: a process of the pool that dies is said with the file it was on; a file the system will not
let be read is not called corrupt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.data import decode_pool
from wildgan.data.readers import load_images
from wildgan.errors import WildganError

CRASHES_ON = "07.png"


def _task_dying_on_one_file(paths, *args):
    """decode_pool._decode_task in a worker whose decoder dies (os._exit: a segfault in a codec, the OOM killer) on
    CRASHES_ON. Runs in the spawned worker, where decode_pool is the real module: only its _decode_one is wrapped."""
    from wildgan.data import decode_pool as worker_module

    real = worker_module._decode_one

    def one(f, *a, **k):
        if Path(f).name == CRASHES_ON:
            os._exit(3)
        return real(f, *a, **k)

    worker_module._decode_one = one
    return worker_module._decode_task(paths, *args)


def test_a_decoding_process_that_dies_names_the_file_it_was_decoding(tmp_path, monkeypatch):
    # said only as "a process decoding the image files died (out of memory?)": in a pile of thousands of photos the
    # user could not tell which file (a huge scan, a file that crashes a codec) to look at or take out
    root = tmp_path / "pile"
    root.mkdir()
    for i in range(12):
        Image.fromarray(np.full((8, 8), i * 20, np.uint8)).save(root / f"{i:02d}.png")
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
    monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 4)
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    monkeypatch.setattr(decode_pool, "_decode_task", _task_dying_on_one_file)   # (pickled by name: the worker's)
    with pytest.raises(WildganError, match="a process decoding the image files died .*WILDGAN_DECODE_WORKERS=1") as e:
        load_images([root], 8, 1)
    msg = str(e.value)
    assert str(root / CRASHES_ON) in msg, msg
    # the other process's file at most besides it (it was stopped mid-file too), never the whole queue
    assert sum(str(root / f"{i:02d}.png") in msg for i in range(12)) <= 2, msg


def test_a_file_gone_or_unreadable_when_opened_is_not_called_corrupt(tmp_path, monkeypatch):
    # a pile changes while it is read (a sync deletes a file after it was listed) or holds files of another user
    # (mode 600): the open's FileNotFoundError / PermissionError was said as "truncated or corrupt image", and the
    # user went looking for damage in a file that was fine
    import errno

    from wildgan.data import image_decode
    from wildgan.errors import DataError

    gone, locked = tmp_path / "gone.png", tmp_path / "locked.png"
    for f in (gone, locked):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(f)
    real_open = image_decode.Image.open

    def opened(fp, *a, **k):
        if Path(fp) == gone:
            gone.unlink()                   # removed after it was listed and its size read
        if Path(fp) == locked:              # (as root here: a mode of 000 would not stop the read)
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(fp))
        return real_open(fp, *a, **k)

    monkeypatch.setattr(image_decode.Image, "open", opened)
    for f, why in ((gone, "No such file or directory"), (locked, "Permission denied")):
        with pytest.raises(DataError) as e:
            image_decode.read_image(f)
        assert str(e.value) == f"{f}: cannot read file ({why})"


def _task_recording_each_file(paths, *args):
    """decode_pool._decode_task in a worker, each file slow (a large scan) and recorded, once decoded, as a file in
    the folder named by $WILDGAN_TEST_DECODED (the worker's environment is the caller's, taken when it starts)."""
    import time

    from wildgan.data import decode_pool as worker_module

    real = worker_module._decode_one
    done = Path(os.environ["WILDGAN_TEST_DECODED"])

    def one(f, *a, **k):
        time.sleep(0.05)
        r = real(f, *a, **k)
        (done / Path(f).name).touch()
        return r

    worker_module._decode_one = one
    return worker_module._decode_task(paths, *args)


def test_a_stop_mid_decode_ends_the_workers_at_their_next_file_not_their_task(tmp_path, monkeypatch):
    # Ctrl-C (or a caller that stops early: too many bad files) cancelled the tasks not yet handed to a process, but
    # those running and those already queued to the processes (workers + 1) were decoded to their end, 64 files each
    # (with large scans: minutes of "hanging" after Ctrl-C, for results never taken). Each worker now stops at its
    # next file.
    from wildgan.data import imageset

    root, done = tmp_path / "pile", tmp_path / "decoded"
    root.mkdir()
    done.mkdir()
    for i in range(64):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(root / f"{i:02d}.png")
    files = sorted(root.glob("*.png"))
    monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 16)
    monkeypatch.setattr(decode_pool, "_decode_task", _task_recording_each_file)
    monkeypatch.setenv("WILDGAN_TEST_DECODED", str(done))
    results = decode_pool._pooled(files, imageset.Opts(), None, 2)
    next(results)           # the first task is done, the second (the other process's) about done, two more queued
    results.close()         # (what a Ctrl-C in the caller's loop does: _pooled's finally closes the pool)
    decoded = len(list(done.iterdir()))
    # the first two tasks' 32 files, and the file each process was on when told to stop (34; the margin is for a
    # loaded machine, where this process may take a while from the result to the close): not all 64, whose last
    # two tasks had been handed to the processes' queue and ran to their end
    assert decoded <= 3 * 16, decoded


def test_an_image_with_a_damaged_exif_block_is_read_as_stored(tmp_path):
    # a PNG whose eXIf chunk does not parse (written by a buggy tool) has good pixels, but reading its orientation
    # raised inside exif_transpose and the whole image was refused as "truncated or corrupt"; with no orientation to
    # be read it is shown as stored, as every viewer shows it (and as _swaps_sides already took it)
    from wildgan.data import image_decode

    a = np.random.default_rng(0).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    f = tmp_path / "damaged-exif.png"
    Image.fromarray(a).save(f, exif=b"\x13\x37" * 20)             # no TIFF header: Pillow cannot parse it
    got, shown = image_decode.read_image_sized(f)
    np.testing.assert_array_equal(got, a)
    assert shown == (6, 10)
    # an orientation that does read is still applied (6: turned a quarter clockwise to be shown)
    ex = Image.Exif()
    ex[0x0112] = 6
    Image.fromarray(a).save(tmp_path / "turned.png", exif=ex)
    np.testing.assert_array_equal(image_decode.read_image(tmp_path / "turned.png"), np.rot90(a, -1))


def test_automatic_workers_keep_to_a_containers_cpu_limit(tmp_path, monkeypatch):
    # a pod or `docker run --cpus 2` on a 64-core machine: the affinity mask shows all 64 cores, the cgroup's cpu.max
    # allows 2. `wildgan` (WILDGAN_DECODE_WORKERS=auto) started 8 decoding processes there, which on 2 cores is
    # slower than one (measured: a pool of 2 on 2 cores, 0.6-1.3x) and holds 8 copies of numpy and Pillow
    pod, node = tmp_path / "pod", tmp_path / "node"
    pod.mkdir()
    node.mkdir()
    (pod / "cpu.max").write_text("200000 100000\n")            # 2 CPUs' time
    (node / "cpu.max").write_text("max 100000\n")
    monkeypatch.setattr(decode_pool, "_cgroup_dirs", lambda: [pod, node])
    monkeypatch.setattr(decode_pool.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "auto")
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    n = 10 * decode_pool.PARALLEL_DECODE_MIN_FILES
    assert decode_pool.decode_workers(n) == 1                   # (1: no pool, decoded in the main process)
    (pod / "cpu.max").write_text("650000 100000\n")             # 6.5 CPUs: 6 whole ones, one of them the main's
    assert decode_pool.decode_workers(n) == 5
    monkeypatch.setattr(decode_pool, "_cgroup_dirs", lambda: [node])     # no limit: the cores, at most 8
    assert decode_pool.decode_workers(n) == 8


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes: POSIX")
def test_a_named_pipe_among_the_images_is_refused_not_waited_on(tmp_path):
    # a named pipe with an image's name (a capture tool's output left in the folder) is not a regular file: the
    # decode says so (and skip_bad leaves it out), but the memory estimate before it opened the file's header, and
    # the split's record of the folder's bytes (what `wildgan train` does next) read it, and opening a pipe waits
    # for a writer: load_dataset and build_split hung for good without a word
    import threading

    from wildgan.config import DataConfig
    from wildgan.data import build_split, load_dataset

    root = tmp_path / "pile"
    root.mkdir()
    for i in range(16):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(root / f"{i:02d}.png")
    pipe, bare = root / "zz.png", root / "capture"      # (a file without an extension: its first bytes are looked at)
    os.mkfifo(pipe)
    os.mkfifo(bare)

    def in_time(call):
        got: list = []
        worker = threading.Thread(target=lambda: got.append(call()), daemon=True)
        worker.start()
        worker.join(timeout=10)
        waited = worker.is_alive()
        for _ in range(30):             # let the blocked opens go (a writer comes and goes), then fail
            if not worker.is_alive():
                break
            for f in (pipe, bare):
                try:
                    os.close(os.open(f, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:         # (no reader waiting on this one)
                    pass
            worker.join(timeout=1)
        if waited:
            pytest.fail("the read waited on a named pipe")
        return got[0]

    from wildgan.data.image_decode import header_opens

    # (iter_images checks the later chunks' files by their headers after a bad one: `wildgan score` on the pile)
    assert in_time(lambda: header_opens(pipe)) is False
    train = in_time(lambda: load_dataset(root, "unlabelled", skip_bad=True))[0]
    assert len(train) == 16 and train.info["skipped"][0]["path"] == str(pipe), train.info
    assert "not a regular file" in train.info["skipped"][0]["reason"]
    split = in_time(lambda: build_split(DataConfig(data=str(root), dataset="unlabelled", skip_bad=True)))
    assert split.info["source_identity"]["n_files"] == 17             # the pipe listed, its bytes never read


def test_workers_that_cannot_start_say_why_not_out_of_memory(tmp_path):
    # WILDGAN_DECODE_WORKERS set for a script without `if __name__ == "__main__":`: each spawned worker imports the
    # script again, which fails in multiprocessing's bootstrap check, and the pool's error said "a process decoding
    # the image files died (out of memory?)", the last line the user reads, of a cause that is not memory at all
    import subprocess
    import sys

    import wildgan

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(pile / f"{i}.png")
    script = tmp_path / "unguarded.py"
    script.write_text("from wildgan.data import decode_pool\n"
                      "from wildgan.data.readers import load_images\n"
                      "decode_pool.PARALLEL_DECODE_MIN_FILES = 0\n"
                      f"load_images([{str(pile)!r}], 8, 1)\n")
    env = {**os.environ, "WILDGAN_DECODE_WORKERS": "2",
           "PYTHONPATH": os.pathsep.join([str(Path(wildgan.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("wildgan.errors.WildganError: ") and 'if __name__ == "__main__":' in last, last
    assert "out of memory" not in last, last


def test_a_dying_process_names_its_file_whole_under_a_long_non_ascii_path(tmp_path, monkeypatch):
    # each worker's slot held the path's first 1,023 bytes: under deep folders of CJK names (3 bytes a character) the
    # error named a folder, cut mid-character (a stray escape where a character was), not the file to take out
    root = tmp_path
    for _ in range(6):
        root = root / ("画像" * 40)           # 240 bytes a folder, 1,446 in all: under PATH_MAX, as a real pile's
    root.mkdir(parents=True)
    for i in range(8):
        Image.fromarray(np.full((8, 8), i * 20, np.uint8)).save(root / f"{i:02d}.png")
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
    monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 8)
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    monkeypatch.setattr(decode_pool, "_decode_task", _task_dying_on_one_file)
    with pytest.raises(WildganError, match="a process decoding the image files died") as e:
        load_images([root], 8, 1)
    assert f" while decoding {root / CRASHES_ON};" in str(e.value), str(e.value)


def test_a_path_longer_than_its_slot_is_named_by_its_end_cut_at_a_character(monkeypatch):
    # (longer than a slot: kept is the end, which holds the file's own name, marked as cut, from a whole character)
    import multiprocessing as mp

    pool = decode_pool.DecodePool(2)
    pool._doing = mp.get_context("spawn").RawArray("c", 2 * decode_pool._SLOT_BYTES)
    monkeypatch.setattr(decode_pool, "_DOING", (pool._doing, 1))
    for lead in ("", "a", "ab"):                 # (each cut falls at another byte of a 3-byte character)
        path = "/" + lead + "画" * decode_pool._SLOT_BYTES + "/scan 17.tif"
        decode_pool._mark_doing(path)
        (named,) = pool.being_decoded()
        assert named.startswith("...画") and named.endswith("画/scan 17.tif"), named[:20]
        assert path.endswith(named[3:]) and len(os.fsencode(named)) < decode_pool._SLOT_BYTES
        decode_pool._mark_doing("")
        assert pool.being_decoded() == []


def _exif_orientation(tag_type: int, count: int, value: bytes) -> bytes:
    """An EXIF block (little-endian TIFF) holding only an orientation of the given TIFF type, as a tool wrote it."""
    import struct

    inline = value.ljust(4, b"\0") if len(value) <= 4 else struct.pack("<I", 26)
    ifd = struct.pack("<HHHI", 1, 0x0112, tag_type, count) + inline + struct.pack("<I", 0)
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd + (b"" if len(value) <= 4 else value)


def test_an_orientation_that_is_no_whole_number_leaves_the_image_as_stored(tmp_path):
    # the tag read as int(...): a damaged one of 6.7 (a FLOAT), 13/2 (a RATIONAL) or the text "6" turned the photo a
    # quarter, which no viewer (nor Pillow's exif_transpose) does, and swapped its sides; a whole 6 of any type turns
    import struct

    from wildgan.data import image_decode

    a = np.random.default_rng(1).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    for name, (tag_type, count, value), turned in (
            ("float", (11, 1, struct.pack("<f", 6.7)), False), ("half", (5, 1, struct.pack("<II", 13, 2)), False),
            ("text", (2, 2, b"6\0"), False), ("long", (4, 1, struct.pack("<I", 6)), True),
            ("rational", (5, 1, struct.pack("<II", 6, 1)), True)):
        f = tmp_path / f"{name}.png"
        Image.fromarray(a).save(f, exif=_exif_orientation(tag_type, count, value))
        want = np.rot90(a, -1) if turned else a
        np.testing.assert_array_equal(image_decode.read_image(f), want, err_msg=name)
        assert image_decode.read_image_sized(f)[1] == want.shape[:2], name


def test_a_network_shares_read_error_is_not_called_corrupt(tmp_path, monkeypatch):
    # only EIO of the system's errors was said as such: NFS's stale handle (the file replaced on the server), a soft
    # mount's timeout, or a process out of open files was "truncated or corrupt image", and the user looked for
    # damage in a file that was fine
    import errno

    from wildgan.data import image_decode
    from wildgan.errors import DataError

    f = tmp_path / "on-share.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(f)
    for code in (errno.ESTALE, errno.ETIMEDOUT, errno.EMFILE):
        def opened(fp, *a, _code=code, **k):
            raise OSError(_code, os.strerror(_code), str(fp))

        monkeypatch.setattr(image_decode.Image, "open", opened)
        with pytest.raises(DataError) as e:
            image_decode.read_image(f)
        assert str(e.value) == f"{f}: cannot read file ({os.strerror(code)})"
    # a corrupt file's error from Pillow carries no errno, and a bogus offset's seek (EINVAL) is the file's fault
    for err in (OSError("image file is truncated"), OSError(errno.EINVAL, os.strerror(errno.EINVAL))):
        def failing(fp, *a, _err=err, **k):
            raise _err

        monkeypatch.setattr(image_decode.Image, "open", failing)
        with pytest.raises(DataError, match="truncated or corrupt image"):
            image_decode.read_image(f)
