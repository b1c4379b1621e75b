"""stats.jsonl's row written on a disk that is full (training.loop._StatsLog): the error names the file, and the
loop's clean-up, which closes the log, does not replace it with a second, nameless one."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from wildgan.training import loop


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_stats_row_that_the_file_system_refuses_names_stats_jsonl_and_close_does_not_fail_again(
        tmp_path: Path) -> None:
    """A real refusal (`ulimit -f`, the stand-in for a full disk: Python ignores SIGXFSZ, so the write gets EFBIG):
    stats.jsonl is already at the limit, the next row's flush fails. It ended `wildgan train` on
    `error: [Errno 27] File too large`, naming no file; and the buffered row failed again in close(), called by the
    loop's `finally`, whose error replaced the first."""
    import resource

    limit = 64 * 1024
    (tmp_path / "stats.jsonl").write_bytes(b"{}\n" * (limit // 3))
    log = loop._StatsLog(tmp_path, is_main=True, tensorboard=False, resume_nimg=None, nimg=0)
    log.add({"D/loss": torch.tensor(1.0)})
    state = SimpleNamespace(nimg=32, iteration=2, lr=1e-3)
    phase = SimpleNamespace(resolution=4, lod=3.0, batch=16)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        with pytest.raises(OSError) as caught:
            log.write_row(state, phase, torch.device("cpu"), None)     # type: ignore[arg-type]
        log.close()                                                    # (the loop's finally: no second error)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert caught.value.errno == errno.EFBIG
    assert caught.value.filename == str(tmp_path / "stats.jsonl") and "stats.jsonl" in str(caught.value)
