"""How a command ends on a signal: SIGTERM as Ctrl-C is (one line, exit 143), SIGHUP as SIGTERM for every command
but `info` (exit 129). main says the stop's line with common.say_end, even where the terminal is gone. Once the
command's outcome is decided, the program's teardown ends on either with the command's exit code (TeardownExit)."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import Terminated, stop_words


def on_sigterm() -> tuple[Any, dict[str, bool]]:
    """Make SIGTERM end the command like Ctrl-C does (one line, exit 143; a SIGHUP passed here by on_sighup, 129)
    instead of dying without a word; returns
    the previous handler to restore (None where a handler cannot be set: not the main thread) and the command's
    state, whose "ending" main sets once the command's outcome is decided (its result returned, or its error about to
    be said): a SIGTERM after that is let pass."""
    import signal
    import threading

    state = {"ending": False}
    if threading.current_thread() is not threading.main_thread():
        return None, state

    def term(signum: int, frame: Any) -> None:
        if state["ending"]:
            # the command is on its way out with its own exit code, its error said or being said: a SIGTERM now
            # (torchrun ends a job's other ranks once one has died, while rank 0 says why it stopped) must not turn
            # that outcome into a traceback
            return
        # (SIGHUP too: on_sighup passes it here outside training's loop and score's CSV commit)
        raise Terminated(stop_words(signum), signum)

    return signal.signal(signal.SIGTERM, term), state


# the commands whose SIGHUP stops them as SIGTERM does (on_sighup): those that train (a checkpoint), score (its
# finished chunks kept, its CSV commit not cut in two, and the way to continue said), and the others that read and
# score images for minutes on a large test split (evaluate, report, export --threshold: their writes' temporary files
# removed, and a stop said where stderr outlives the terminal, `> log 2>&1 &`). Not `info`: done in a moment, it
# writes nothing, so Python's default kill loses nothing and leaves nothing behind
_HANGUP_STOPS = ("train", "study", "demo", "score", "evaluate", "report", "export")


def on_sighup(command: str | None) -> tuple[bool, Any]:
    """For the commands of _HANGUP_STOPS: SIGHUP (its terminal gone, e.g. a dropped ssh connection, where it ran without
    tmux or nohup; a background job's at the shell's end) handled as SIGTERM is, rather than Python's default, which
    killed the process without a word: in training's loop a checkpoint, then the stop (exit 129); in score's CSV commit
    the commit first; anywhere else the command's one-line stop (Terminated). Handled by passing the signal to
    whatever handles SIGTERM at that moment (the loop's StopFlag, a commit's stops_deferred, on_sigterm's): one way to
    stop, not two to keep alike. A SIGHUP that is ignored (nohup's, which asked the command to outlive its terminal)
    is left so; so is `info`'s. Returns whether a handler was set, and the previous one to restore."""
    import signal
    import threading

    if command not in _HANGUP_STOPS or not hasattr(signal, "SIGHUP") or \
            threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        return False, None

    def hup(signum: int, frame: Any) -> None:
        term = signal.getsignal(signal.SIGTERM)
        if callable(term):
            term(signum, frame)
        else:       # (SIGTERM not ours: a command stopped all the same, never killed without a word)
            raise Terminated(stop_words(signum), signum)

    return True, signal.signal(signal.SIGHUP, hup)


class TeardownExit:
    """What SIGTERM, SIGHUP and Ctrl-C do once `wildgan` as a program (cli.run) has decided its command's outcome,
    through Python's and torch's teardown: SIGTERM and SIGHUP end the process at once with the command's exit code
    (torchrun's SIGTERM to the ranks still running once one has ended: a rank in its teardown was reported with
    exitcode -15, as if killed mid-work), Ctrl-C is ignored. main installs it in place of putting back the handlers
    it replaced, so that no signal lands between the two on the default action; the exit code is known only once
    main has returned (`ended`): a signal before that waits for it. An ignored SIGTERM or SIGHUP (nohup's) stays
    ignored."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.pending: int | None = None
        self.replaced: dict[int, Any] = {}

    def install(self, term: Any, hup_set: bool, hup: Any) -> None:
        """Set the teardown's handlers in place of main's, where main would put back `term` (on_sigterm's) and, where
        `hup_set`, `hup` (on_sighup's)."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        self.replaced[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        if hasattr(signal, "SIGHUP") and not hup_set:       # (left alone by main: `info`'s, nohup's ignored one)
            hup = signal.getsignal(signal.SIGHUP)
        for signum, before in ((signal.SIGTERM, term), (getattr(signal, "SIGHUP", None), hup)):
            if signum is not None:
                signal.signal(signum, signal.SIG_IGN if before is signal.SIG_IGN else self.signalled)
                self.replaced[signum] = before

    def signalled(self, signum: int, frame: Any) -> None:
        if self.code is None:       # (main is on its way back with the code: `ended` exits with it)
            self.pending = signum
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):       # (a reader gone, a stream closed: nothing more to say there)
                pass
        os._exit(self.code)

    def ended(self, code: int) -> None:
        """The command's exit code, main's: a SIGTERM or SIGHUP from now on (or one that came while main returned)
        ends the process with it."""
        self.code = code
        if self.pending is not None:
            self.signalled(self.pending, None)

    def abandon(self) -> None:
        """main raised instead of returning a code (--debug's traceback on its way): the handlers main would have put
        back, and a signal that came meanwhile delivered to them, as it would have been without the teardown's."""
        import signal

        for signum, before in self.replaced.items():
            signal.signal(signum, signal.SIG_DFL if before is None else before)
        if self.pending is not None:
            signal.raise_signal(self.pending)
