"""Small timing helpers shared by the benchmark scripts (run as `python benchmarks/X.py`, which puts this folder on
sys.path)."""

from __future__ import annotations

import time
from typing import Any, Callable


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(the best of `repeat` wall times of fn() in seconds, fn's last result): the best, as other work on a shared
    machine only ever adds time."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
