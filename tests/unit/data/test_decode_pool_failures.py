"""A pool of decoding processes on a real pile: a process that dies mid-decode is said with the file it was on."""

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
