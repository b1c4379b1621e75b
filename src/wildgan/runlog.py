"""A run folder's log.txt for one session (a `wildgan train`, a study, a study cell, a Detector.fit): the lines the
session says, and the wildgan warnings said meanwhile (copying_warnings), in the order they were said. log.txt is the
file a person opens later to learn how the run went; the warnings about its data (mixed image sizes, a resize, files
left out) are said as Python warnings by code that knows of no run folder, so they reach it only through here."""

from __future__ import annotations

import re
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import WildganWarning
from .fileio import append_log_line

WARNING = "warning: "       # how log.txt starts a warning's line (the session's own warning lines start so too)
# the line that starts a training session in log.txt (training.run._log_start: 'training wildgan (tiny) on ...',
# 'resuming fanogan (DIM 8) on ...'), and those that end one: trained_line's 'trained ...' and 'stopped: ...'
_SESSION_START = re.compile(r"^(training|resuming) (wildgan|search|fanogan) \(")
_SESSION_END = ("trained ", "stopped: ")


class RunLog:
    """log.txt of a run folder for one session. A line said (the log called, or `write`) is appended; a wildgan
    warning (`warned`, given by copying_warnings) is appended as `warning: <text>`, like the warning lines the session
    says itself.

    The data is read and checked before the run folder is written, so the warnings said until the session's first
    line are held and written just before it: a session refused before its first line (a ConfigError, a folder
    another process trains in, a bad --out) creates and writes nothing. A warning is written at most once per session,
    and not after a line of the same words: some are said both ways (a quiet Detector writes its log's warning line,
    then says the same words as a Python warning).

    path: the log file; None until known (a Detector chooses its run folder after it has read the images), lines held
    until then. show: how a line is also shown (the CLI: on stderr), after it is written, so that a warning filtered
    to an error, raised by `show`, still leaves its line in the log. make_folder: create the folder on a line (the CLI,
    whose run folder may have been cleared by --overwrite); never for a folder that may be removed on purpose (a
    Detector's temporary run)."""

    def __init__(self, path: Path | None = None, *, show: Callable[[str], None] | None = None,
                 make_folder: bool = False) -> None:
        self.path = None if path is None else Path(path)
        self.show = show
        self.make_folder = make_folder
        self._held: list[str] = []
        self._started = False
        self._warnings: set[str] = set()    # the warning lines of this session, written or held
        self.warnings_given: list[str] = []     # the texts `warned` took, each once, in order
        # the last line given to `write`: a caller that says how a session stopped can tell whether what it called
        # (a study, whose cell logs its own stop) has said the same line already
        self.last_line: str | None = None

    def __call__(self, msg: str) -> None:
        self.write(msg)
        if self.show is not None:
            self.show(msg)

    def write(self, line: str) -> None:
        """`line` into log.txt (not shown), after the warnings held until this session's first line."""
        self.last_line = line
        if line.startswith(WARNING):
            self._warnings.add(line)
        if self.path is None:
            self._held.append(line)
            return
        if self.make_folder:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        held, self._held, self._started = self._held, [], True
        for h in held:
            append_log_line(self.path, h)
        append_log_line(self.path, line)

    def held_lines(self) -> list[str]:
        """The lines held (said, warnings too) and not written yet, in order: all of a log without a file."""
        return list(self._held)

    def hold(self, lines: list[str]) -> None:
        """Lines said before this log was made (`train --resume`'s "resuming with the settings of ..." and its
        warnings, said while the command line is read), into log.txt as the terminal showed them: before this
        session's first line, with the warnings held (a warning line as `warned` takes it, once)."""
        for line in lines:
            if line.startswith(WARNING):
                self.warned(line[len(WARNING):])
            elif self._started and self.path is not None:
                append_log_line(self.path, line)
            else:
                self._held.append(line)

    def warned(self, text: str) -> None:
        """A wildgan warning shown on the terminal: its line into log.txt, held until the session's first line."""
        line = WARNING + text
        if line in self._warnings:
            return
        self._warnings.add(line)
        self.warnings_given.append(text)
        if self._started and self.path is not None:
            append_log_line(self.path, line)
        else:
            self._held.append(line)


@contextmanager
def copying_warnings(*logs: RunLog | None) -> Iterator[None]:
    """While inside, each wildgan warning (WildganWarning) that Python shows is shown as before (on stderr, or into a
    caller's catch_warnings(record=True)) and also given to every log of `logs` (None: no log, e.g. a rank of a
    distributed job other than 0, which writes no log.txt). It is the warnings filters' decision, made before showing,
    so the log copies what the terminal shows: a warning they ignore is not copied, one they turn into an error is
    raised as before and not copied. Other libraries' warnings are not copied. Nests: an inner block's logs get the
    warnings said inside it, the outer block's too.

    A block with a log starts with Python's memory of the wildgan warnings already shown cleared (_forget_shown), so
    that a warning said again in this session (the next study cell, a second Detector.fit) is shown once more and
    reaches this session's log: the default filter shows a warning once per source location, and the log would miss
    one that an earlier session had said. So the terminal says such a warning once per session (each study cell
    under its own lines), as the log does; within a session Python's once-per-location still holds.

    A block copies the warnings said in its own thread only: warnings.showwarning is one for the process, and two
    Detector.fit in two threads each put the other's warnings into their log.txt (wildgan says none from a thread of
    its own)."""
    into = [log for log in logs if log is not None]
    owner = threading.get_ident()
    if into:
        _forget_shown()
    before = warnings.showwarning
    _ACTIVE.append((owner, into))

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        before(message, category, filename, lineno, file, line)
        if issubclass(category, WildganWarning) and threading.get_ident() == owner:
            for log in into:
                log.warned(str(message))

    warnings.showwarning = show
    try:
        yield
    finally:
        _ACTIVE.remove((owner, into))
        # blocks left out of order (two Detector.fit in two threads: A enters, B enters, A leaves, B leaves) must not
        # put back a hook of a block already left: B restored A's `show`, which then copied every later wildgan
        # warning of the process into A's finished log.txt. A block left under another's hook goes on passing the
        # warnings through (that hook calls it) but copies no more
        into.clear()
        if warnings.showwarning is show:
            warnings.showwarning = before


def _forget_shown() -> None:
    """Remove the wildgan warnings from the modules' warning registries (`__warningregistry__`, where Python's
    default and 'module' actions note a warning shown, keyed (text, category, line)), so that each is shown again when
    said again. Other libraries' warnings are left as they are (the terminal would repeat them for nothing), and so
    is warnings.onceregistry: a user's 'once' filter asked for each warning once in the process. Filters that ignore
    a warning or raise it are asked before the registry is, so they decide as before."""
    import sys

    for module in list(sys.modules.values()):
        try:
            registry = getattr(module, "__dict__", {}).get("__warningregistry__")
        except Exception:       # (an odd object put in sys.modules: a log's completeness never stops a session)
            continue
        if not isinstance(registry, dict):
            continue
        for key in list(registry):
            if isinstance(key, tuple) and len(key) == 3 and isinstance(key[1], type) \
                    and issubclass(key[1], WildganWarning):
                registry.pop(key, None)


# (thread, logs) of the copying_warnings blocks the process is inside, innermost last (said() gives a warning to each of
# its thread's)
_ACTIVE: list[tuple[int, list[RunLog]]] = []


def kept_by_caller(path: Path) -> bool:
    """Whether a session's own RunLog writes the log file `path` and collects this thread's wildgan warnings (a
    copying_warnings block the thread is inside): a Detector.fit, a study's cell, the CLI. A callee that would write
    that log.txt itself (training.run.train_run, for a Python caller) leaves it to that log, which then has every line
    once. Paths are compared as the files they name (a relative and an absolute spelling of one folder are one)."""
    me = threading.get_ident()
    target = Path(path).resolve()
    return any(log.path is not None and log.path.resolve() == target
               for owner, into in list(_ACTIVE) if owner == me for log in into)


def said(text: str) -> None:
    """A warning the CLI printed on stderr itself rather than as a Python warning (an option that does not apply to
    the chosen method, say): into the logs of the copying_warnings blocks the process is inside, as a shown warning
    is, so that log.txt does not miss it."""
    me = threading.get_ident()
    for log in dict.fromkeys(log for owner, into in list(_ACTIVE) if owner == me for log in into):
        log.warned(text)


def last_session_unclosed(path: Path) -> bool:
    """Whether the last training session of log.txt (`path`) has no line that says how it ended (trained ...,
    stopped: ...): what a process killed by a signal it cannot catch (kill -9, the out-of-memory killer) leaves, or
    one whose run folder became unwritable meanwhile. A session still running has none either: the caller asks the
    run's lock first. False where the file is missing or unreadable, or holds no session start."""
    # read from the end back to the last session's end or start line, a block at a time: `wildgan info` and every
    # resume ask it, and a long run's log.txt of tens of MB read whole and split took most of a second and twice its
    # size in memory
    try:
        for line in _lines_backwards(path):
            if line.startswith(_SESSION_END):
                return False
            if _SESSION_START.match(line):
                return True
    except OSError:
        return False
    return False


def last_session_ended_abruptly(path: Path, finished: bool) -> bool | None:
    """last_session_unclosed of log.txt (`path`), or None (not known) where its last session has no end line, none
    of its sessions has one, and the run is `finished` (it holds final networks, which the session that wrote them
    ended with its `trained` line): such a log is of a wildgan that wrote no end lines there (a study cell's log.txt
    before they were written into it), whose every finished cell read as ended abruptly. (A kill in the moment
    between a session's final networks and its end line is not told apart: not known either.)"""
    if not last_session_unclosed(path):
        return False
    if finished:
        try:
            if not any(line.startswith(_SESSION_END) for line in _lines_backwards(path)):
                return None
        except OSError:
            return None
    return True


_BACKWARDS_BLOCK = 1 << 16


def _lines_backwards(path: Path) -> Iterator[str]:
    """The lines of the text file `path`, last first, as str.splitlines splits the file's text (UTF-8, undecodable
    bytes replaced), read a block at a time from its end."""
    def pieces(raw: bytes) -> list[str]:
        # (a b"\n" is never inside a UTF-8 sequence: each such line decodes as it does within the whole text)
        return list(reversed(raw.decode("utf-8", errors="replace").splitlines() or [""]))

    with open(path, "rb") as f:
        pos = f.seek(0, 2)
        tail: list[bytes] = []              # the end of the line the blocks read so far begin inside, last part first
        while pos > 0:
            step = min(_BACKWARDS_BLOCK, pos)
            pos -= step
            f.seek(pos)
            parts = f.read(step).split(b"\n")
            if len(parts) == 1:
                tail.append(parts[0])       # (a line longer than a block: joined once its beginning is read)
                continue
            yield from pieces(parts[-1] + b"".join(reversed(tail)))
            for raw in reversed(parts[1:-1]):
                yield from pieces(raw)
            tail = [parts[0]]
        yield from pieces(b"".join(reversed(tail)))
