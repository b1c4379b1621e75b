"""Reading a child's pipe up to a marker within a time limit, for the tests that stop a command blocked on a full
pipe (test_cli's full-pipe tests, test_sigterm_on_full_output_pipe): a thread reads, so that a child that never says
it cannot hang the test, and the failure shows what did come."""

from __future__ import annotations

import os
import threading


def read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    """What the pipe `fd` holds up to and with `wanted`, read within `seconds` (else what came, for the failure)."""
    got = bytearray()

    def read() -> None:
        while wanted not in got:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            got.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert wanted in got, f"no {wanted!r} within {seconds} s: {bytes(got)[-2000:]!r}"
    return bytes(got)
