"""Progress bars (tqdm: count, rate and ETA) that suit both a terminal and a log file."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .errors import output_gone

# tqdm redraws a bar every 0.1 s. On a terminal each redraw replaces the last; written to a file or a pipe (a batch
# job's log, `2> log.txt`) every one of them is kept: about 1,100 for the 2.5-minute demo, megabytes for a long run.
# There a bar is redrawn every LOG_INTERVAL_S seconds instead (TQDM_MININTERVAL, tqdm's own variable, still wins).
LOG_INTERVAL_S = 30.0


def progress_bar(iterable: Any = None, *, on_closed: Callable[[BaseException], None] | None = None, **kw: Any) -> Any:
    """tqdm.auto.tqdm(iterable, **kw), redrawn at most every LOG_INTERVAL_S seconds when its stream (kw['file'],
    default stderr) is not a terminal; a notebook's widget and an explicit `mininterval` are left as they are.

    on_closed: a redraw that meets its stream gone (errors.output_gone: the reader of a pipe left, a terminal hung up)
    is given to on_closed(error) instead of raised from the bar's update (training's loop stops at its next safe
    point rather than where the bar happened to redraw); the stream is silenced then, and the bar goes on into it."""
    from tqdm.auto import tqdm

    notebook = any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)
    stream = kw.get("file") or sys.stderr
    if stream is None and not notebook:
        # no stderr at all (pythonw, an interpreter embedded without a console): tqdm wrote its first frame to None
        # and the AttributeError ended the command it was counting; no bar, as no warning is shown there
        kw["disable"] = True
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
    if on_closed is not None and not notebook:
        kw["file"] = _Guarded(stream, on_closed)
    return tqdm(iterable, **kw)


class _Guarded:
    """The stream a bar draws on, whose write or flush that meets it gone (errors.output_gone, which silences it) is
    told to `on_closed` and absorbed: tqdm would raise a BrokenPipeError out of whichever update redrew the bar (its
    own guard takes only a terminal's EIO), and from its monitor thread. Anything else is the stream's own."""

    def __init__(self, stream: Any, on_closed: Callable[[BaseException], None]) -> None:
        self._stream = stream
        self._on_closed = on_closed

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            self._gone(e)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            self._gone(e)

    def _gone(self, e: OSError) -> None:
        if not output_gone(e):
            raise e
        self._on_closed(e)

    def __getattr__(self, name: str) -> Any:
        if name == "_stream":       # (not set yet: a copy made without __init__ must not recurse here for good)
            raise AttributeError(name)
        return getattr(self._stream, name)

    # tqdm tells the bars on a stream by equality (external_write_mode, which clears them before a log line is written
    # below them: beside_bars): this is its stream
    def __eq__(self, other: object) -> bool:
        return bool(self._stream == (other._stream if isinstance(other, _Guarded) else other))

    def __hash__(self) -> int:
        return hash(self._stream)


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
