"""dupJP: the close of a watch's own fd on its way out, one helper where the watches had a copy each."""

from __future__ import annotations

import os

from wildgan.cli import signals


def test_close_quietly_closes_an_fd_and_ignores_one_closed_already() -> None:
    read, write = os.pipe()
    signals._close_quietly(read)
    signals._close_quietly(read)                # (closed already, as in a fork's child: no OSError)
    os.close(write)
    try:
        os.fstat(read)
    except OSError:
        pass
    else:
        raise AssertionError(f"fd {read} is still open")
