"""Progress bars (tqdm: count, rate and ETA) that suit both a terminal and a log file."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

from .errors import holding, output_gone

# tqdm redraws a bar every 0.1 s. On a terminal each redraw replaces the last; written to a file or a pipe (a batch
# job's log, `2> log.txt`) every one of them is kept: about 1,100 for the 2.5-minute demo, megabytes for a long run.
# There a bar is redrawn every LOG_INTERVAL_S seconds instead (TQDM_MININTERVAL, tqdm's own variable, still wins).
LOG_INTERVAL_S = 30.0

# what the bars drawn inside progress_label(...) count, added to their description: an evaluation scores the same
# images three times (trained networks, the other generator, the untrained control) through the same scoring code,
# whose bars said "score" alike. A context variable, not a parameter through every scoring method's signature, and
# per thread / task, so a scoring elsewhere meanwhile keeps its own bars
_LABEL: ContextVar[str | None] = ContextVar("wildgan_progress_label", default=None)


@contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Bars made inside this block say `label` beside their description ("score (untrained networks, ...)")."""
    with holding(_LABEL, label):
        yield


def progress_bar(iterable: Any = None, *, on_closed: Callable[[BaseException], None] | None = None, **kw: Any) -> Any:
    """tqdm.auto.tqdm(iterable, **kw), redrawn at most every LOG_INTERVAL_S seconds when its stream (kw['file'],
    default stderr) is not a terminal; a notebook's widget and an explicit `mininterval` are left as they are.

    on_closed: a redraw that meets its stream gone (errors.output_gone: the reader of a pipe left, a terminal hung up)
    is given to on_closed(error) instead of raised from the bar's update (training's loop stops at its next safe
    point rather than where the bar happened to redraw); the stream is silenced then, and the bar goes on into it."""
    from tqdm.auto import tqdm

    label = _LABEL.get()
    if label:
        kw["desc"] = f"{kw['desc']} ({label})" if kw.get("desc") else label
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
    # off a terminal each redraw becomes a line of its own (tqdm starts each with a carriage return, so a log held
    # one line of every redraw glued by "\r": `less` showed ^M, `grep` the whole run as one match); a notebook's
    # stream (ipykernel's, not a terminal either) draws a carriage return in place, as a terminal does
    lines = not tty and not notebook and stream is not None and not _in_place(stream)
    if (on_closed is not None or lines) and not notebook:
        kw["file"] = _Guarded(stream, on_closed, lines=lines)
    return tqdm(iterable, **kw)


def _in_place(stream: Any) -> bool:
    """Whether `stream`, not a terminal, still redraws a line on a carriage return: a Jupyter kernel's output."""
    return type(stream).__module__.split(".")[0] in ("ipykernel", "google")


class _Guarded:
    """The stream a bar draws on. With `on_closed`: a write or flush that meets it gone (errors.output_gone, which
    silences it) is told to `on_closed` and absorbed: tqdm would raise a BrokenPipeError out of whichever update redrew
    the bar (its own guard takes only a terminal's EIO), and from its monitor thread. Anything else is the stream's own.

    With `lines` (a log file or a pipe): each frame tqdm draws ("\\r" + text + padding, then a flush) is written as a
    line of its own, its padding dropped, when tqdm flushes it; a clear (carriage return, blanks, carriage return) and
    close's final newline write nothing, so a log reads one line per redraw and a log line said beside the bar
    (beside_bars) starts a line of its own."""

    def __init__(self, stream: Any, on_closed: Callable[[BaseException], None] | None = None, *,
                 lines: bool = False) -> None:
        self._stream = stream
        self._on_closed = on_closed
        self._lines = lines
        self._frame = ""        # (lines: the text since the last carriage return or newline, not written yet)

    def write(self, text: str) -> int:
        if not self._lines:
            return self._put(text)
        *ended, self._frame = (self._frame + text).replace("\n", "\r").split("\r")
        done = "".join(f"{t.rstrip()}\n" for t in ended if t.strip())
        if done:
            self._put(done)
        return len(text)

    def flush(self) -> None:
        if self._lines and self._frame.strip():
            frame, self._frame = self._frame, ""
            self._put(f"{frame.rstrip()}\n")
        try:
            self._stream.flush()
        except OSError as e:
            self._gone(e)

    def _put(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            self._gone(e)
            return len(text)

    def _gone(self, e: OSError) -> None:
        if self._on_closed is None or not output_gone(e):
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
