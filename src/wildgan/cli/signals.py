"""How a command ends on a signal: SIGTERM as Ctrl-C is (one line, exit 143), SIGHUP as SIGTERM for every command
but `info` (exit 129). main says the stop's line with common.say_end, even where the terminal is gone."""

from __future__ import annotations

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
