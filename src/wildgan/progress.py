"""Progress bars (tqdm: count, rate and ETA) that suit both a terminal and a log file."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

# tqdm redraws a bar every 0.1 s. On a terminal each redraw replaces the last; written to a file or a pipe (a batch
# job's log, `2> log.txt`) every one of them is kept: about 1,100 for the 2.5-minute demo, megabytes for a long run.
# There a bar is redrawn every LOG_INTERVAL_S seconds instead (TQDM_MININTERVAL, tqdm's own variable, still wins).
LOG_INTERVAL_S = 30.0


def progress_bar(iterable: Any = None, **kw: Any) -> Any:
    """tqdm.auto.tqdm(iterable, **kw), redrawn at most every LOG_INTERVAL_S seconds when its stream (kw['file'],
    default stderr) is not a terminal; a notebook's widget and an explicit `mininterval` are left as they are."""
    from tqdm.auto import tqdm

    notebook = any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)
    stream = kw.get("file") or sys.stderr
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):          # (no isatty, or a closed stream)
        tty = False
    if tty and not notebook and "ncols" not in kw and _columns(stream) == 0:
        # a pseudo-terminal nobody gave a size (`script -c` in a batch job, a container started with -t but no
        # size): tqdm fits the bar to its 0 columns and draws blank lines, no count, no rate, no ETA
        # (its rows too: tqdm draws nothing on a screen of -1 rows, what it reads for 0)
        kw["dynamic_ncols"], kw["ncols"] = False, 80
        kw.setdefault("nrows", 24)
    if "mininterval" not in kw and not notebook and "TQDM_MININTERVAL" not in os.environ and not tty:
        kw["mininterval"] = LOG_INTERVAL_S
        # tqdm's monitor thread forces a redraw of a bar not redrawn for `maxinterval` (10 s) once it draws more
        # than one step at a time, which it does after the first spaced-out redraw: an extra line 10 s after
        # each one, repeating its count. Twice the interval leaves the monitor only a stalled bar to redraw
        if "maxinterval" not in kw and "TQDM_MAXINTERVAL" not in os.environ:
            kw["maxinterval"] = 2 * LOG_INTERVAL_S
    return tqdm(iterable, **kw)


def _columns(stream: Any) -> int | None:
    """The terminal width of `stream` as the system reports it (0: a pty without a size), None where unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


@contextmanager
def beside_bars(stream: Any = None) -> Iterator[None]:
    """Lines written to `stream` (default stderr) inside start a line of their own below the progress bars drawn on
    it, which are drawn again after them (tqdm's external_write_mode). A bar leaves the cursor at the end of its text:
    a log line written as is went on after it, "... eta=00:08, res=64]wall-clock budget of 2.0 min reached", in a
    terminal and in a log file alike. No bar (tqdm never imported): nothing to do."""
    if "tqdm" not in sys.modules:
        yield
        return
    from tqdm.auto import tqdm

    with tqdm.external_write_mode(file=stream if stream is not None else sys.stderr):
        yield
