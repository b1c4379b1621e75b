"""How a command ends on a signal: SIGTERM as Ctrl-C is (one line, exit 143), SIGHUP as SIGTERM for every command
but `info` (exit 129). main says the stop's line with common.say_end, even where the terminal is gone. Once the
command's outcome is decided, the program's teardown ends on either with the command's exit code (TeardownExit)."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from ..errors import Terminated, stop_asked, stop_taker, stop_words


def _close_quietly(fd: int) -> None:
    """Closes fd, where an OSError is ignored: the watches close their own ends of pipes on their way out, when the
    fd may be closed already (a fork's child, the other side's cleanup) and nothing is left to tell of it."""
    try:
        os.close(fd)
    except OSError:
        pass


def on_sigterm(late: Callable[[], None] | None = None) -> tuple[Any, dict[str, bool]]:
    """Make SIGTERM end the command like Ctrl-C does (one line, exit 143; a SIGHUP passed here by on_sighup, 129)
    instead of dying without a word; returns
    the previous handler to restore (None where a handler cannot be set: not the main thread) and the command's
    state, whose "ending" main sets once the command's outcome is decided (its result returned, or its error about to
    be said): a SIGTERM after that is let pass, and told to `late` (the program's TeardownExit.late_stop, which
    bounds main's way out from then on: a line blocked for good on a full pipe must not keep the process). A SIGTERM
    that whoever started the program ignored is left so (SIG_IGN returned, what main and the teardown put back), as
    on_sighup leaves an ignored SIGHUP: handled here, training's loop found this handler, not SIG_IGN, and stopped.
    So is one set from C (None: by an application that embeds Python), which Python could not put back: main kept
    this handler after it returned, and it let every later SIGTERM pass without a word (`ending`). The state's "stop"
    is the handler, set or not: on_sighup's for a hangup that neither training nor a commit takes."""
    import signal
    import threading

    state: dict[str, Any] = {"ending": False}
    if threading.current_thread() is not threading.main_thread():
        return None, state

    def term(signum: int, frame: Any) -> None:
        stop_asked(signum)      # (the command's way out from here: its outputs' writes bounded, StuckOutputs)
        if state["ending"]:
            # the command is on its way out with its own exit code, its error said or being said: a SIGTERM now
            # (torchrun ends a job's other ranks once one has died, while rank 0 says why it stopped) must not turn
            # that outcome into a traceback
            if late is not None:
                late()
            return
        # (SIGHUP too: on_sighup passes it here outside training's loop and score's CSV commit)
        raise Terminated(stop_words(signum), signum)

    state["stop"] = term
    now = signal.getsignal(signal.SIGTERM)
    if now is signal.SIG_IGN or now is None:
        return now, state       # (None: nothing set, nothing for main to put back)
    return signal.signal(signal.SIGTERM, term), state


# the commands whose SIGHUP stops them as SIGTERM does (on_sighup): those that train (a checkpoint), score (its
# finished chunks kept, its CSV commit not cut in two, and the way to continue said), and the others that read and
# score images for minutes on a large test split (evaluate, report, export --threshold: their writes' temporary files
# removed, and a stop said where stderr outlives the terminal, `> log 2>&1 &`). Not `info`: done in a moment, it
# writes nothing, so Python's default kill loses nothing and leaves nothing behind
_HANGUP_STOPS = ("train", "study", "demo", "score", "evaluate", "report", "export")


def on_sighup(command: str | None, term_state: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """For the commands of _HANGUP_STOPS: SIGHUP (its terminal gone, e.g. a dropped ssh connection, where it ran without
    tmux or nohup; a background job's at the shell's end) handled as SIGTERM is, rather than Python's default, which
    killed the process without a word: in training's loop a checkpoint, then the stop (exit 129); in score's CSV commit
    the commit first; anywhere else the command's one-line stop (Terminated). Handled by passing the signal to
    whatever takes a stop at that moment (the loop's StopFlag, a commit's stops_deferred: errors.stop_taker), else to
    on_sigterm's handler (`term_state`'s "stop"): one way to stop, not two to keep alike. Not to SIGTERM's handler of
    the moment: where the launcher ignored SIGTERM (`trap '' TERM`) or set it from C, none of those takes SIGTERM over,
    and the hangup was raised wherever the main thread was, cutting a checkpoint's write in two (its weights without
    their .json). A SIGHUP that is ignored (nohup's, which asked the command to outlive its terminal)
    is left so; so is `info`'s, and one set from C (None: an application that embeds Python), which Python could not
    put back (the default action took its place). Returns whether a handler was set, and the previous one to
    restore."""
    import signal
    import threading

    if command not in _HANGUP_STOPS or not hasattr(signal, "SIGHUP") or \
            threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGHUP) in (signal.SIG_IGN, None):
        return False, None

    def hup(signum: int, frame: Any) -> None:
        take = stop_taker() or (term_state or {}).get("stop") or signal.getsignal(signal.SIGTERM)
        if callable(take):
            take(signum, frame)
        else:       # (no handler of ours: a command stopped all the same, never killed without a word)
            raise Terminated(stop_words(signum), signum)

    return True, signal.signal(signal.SIGHUP, hup)


# how long the watcher (TeardownExit.watch) leaves a SIGTERM or SIGHUP to the Python handler before it ends the process
# itself: where the main thread is in the interpreter the handler runs within microseconds, so the watcher acts only
# on a main thread blocked in C
_GRACE_S = 0.5
# how long stdout and stderr are given to flush before the teardown's os._exit (_flush_within)
_FLUSH_S = 1.0
# how long an output may take no write at all once a SIGTERM or SIGHUP has asked for a stop before it is let go
# (StuckOutputs.watch): a reader that merely pauses (`| (sleep 3; cat)`, a stalled ssh) must get the stop's last lines
# where it reads again within it (at 2 s, a reader back 3 s after the SIGTERM lost the stop's line and stdout's last
# lines), while one that never reads (`| sleep 1000`) holds the process that long once, within a scheduler's or
# `docker stop`'s grace before its SIGKILL (10 s and more) with the checkpoint's own time beside it
_STUCK_S = 5.0
# how long main's way out may take once a SIGTERM or SIGHUP has stopped the command (TeardownExit.stopping): saying
# its line, putting back what it changed and flushing its output take milliseconds, unless a write is blocked, which
# StuckOutputs lets go after _STUCK_S without a write taken; past _STUCK_S, so that a reader which resumes within it
# is not cut off by this bound instead (a way out held by something else than its outputs, or where StuckOutputs
# cannot watch: no poll, no thread)
_WAY_OUT_S = _STUCK_S + 2.0


# how often StuckOutputs looks whether stdout and stderr can be written
_STUCK_POLL_S = 0.1
# how long the signals' watch (StuckOutputs.caught) leaves a SIGTERM or SIGHUP to its Python handler before it wakes
# the main thread, and how many times it wakes it at most: the handler runs within microseconds where the main thread
# is in the interpreter or in a blocked system call (cut by the signal itself), so a wake is for the one it missed
_WAKE_S = 0.1
_WAKES = 20


def _unwritable(fds: list[int]) -> list[int]:
    """Those of `fds` (stdout's and stderr's) that a write would block on: a pipe filled to the brim whose reader has
    stopped reading, a terminal held by Ctrl-S (poll without POLLOUT). Not one whose reader is gone (POLLERR,
    POLLHUP: a write fails at once there, and errors.output_gone silences it)."""
    import select

    stuck = []
    for fd in fds:
        p = select.poll()
        p.register(fd, select.POLLOUT)
        events = [ev for _, ev in p.poll(0)]
        if not any(ev & (select.POLLOUT | select.POLLERR | select.POLLHUP | select.POLLNVAL) for ev in events):
            stuck.append(fd)
    return stuck


def _output_fds() -> list[int] | None:
    """stdout's and stderr's file descriptors, for _unwritable (None: no poll to look at them with, Windows)."""
    import select

    if not hasattr(select, "poll"):
        return None
    fds = []
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):      # (no descriptor: nothing to block on)
            continue
        if fd not in fds:
            fds.append(fd)
    return fds


def _woken(signum: int, frame: Any) -> None:
    # (StuckOutputs' wake-up: only for the signal to cut the main thread's blocked write, which Python retries
    # once this returns, into os.devnull by then)
    return


class StuckOutputs:
    """The writes to stdout and stderr once a signal has asked the command to stop (errors.stop_asked: training's
    StopFlag, a commit's stops_deferred, on_sigterm's Terminated): the way out that follows (training's round and
    checkpoint, the progress bar's last redraw, log.txt's `stopped:` line, main's own line) wrote to an output that is a
    full pipe nobody reads (`wildgan train ... 2>&1 | sleep 1000`) and blocked there for good: the progress bar's close
    after the checkpoint (training.loop) took a second SIGTERM, which then cut the command's way out short (log.txt said
    `stopped: terminated by SIGTERM`, without the checkpoint and the command that resumes it). From a stop on, an output
    that no write could go into for _STUCK_S in a row (a reader taking anything starts the count again: one that only
    pauses gets the stop's lines, TeardownExit.stopping's bound past it) is let go: pointed at os.devnull, as
    errors.silence_closed_outputs does with an output whose reader left, and the main thread woken from its write by a
    signal of no other use (SIGURG), so that the write goes there and the way out goes on, its files written whole. What
    the pipe already holds stays for its reader. SIGTERM and SIGHUP only: a terminal's Ctrl-C stops the pipe's reader
    too, so the write fails instead of blocking. The program's alone (cli.run): it changes the process's file
    descriptors.

    A stop's handler runs only once the main thread is back in the interpreter, and a write cut by a signal is what
    brings it back: a SIGTERM that lands after the main thread has called into write(2) but before the call blocks
    (a few microseconds, a preempted process's milliseconds) is only noted by Python's C-level handler, and the
    write then blocks on the full pipe for good, its stop never asked (`kill PID` of a command whose output's reader
    stopped reading hung). So, from the command's start (`start`), the signals also wake a thread (`caught`, through
    signal.set_wakeup_fd, as TeardownExit's watcher is woken), which, where no stop was asked within _WAKE_S of a
    SIGTERM or SIGHUP, wakes the main thread with the same signal of no other use: its write is cut, Python runs the
    handlers, the stop's among them, and retries the write, bounded from then on as above."""

    def __init__(self) -> None:
        import _thread

        self.fds: list[int] = []
        self.watching = False
        # (held while the watch lets an output go and wakes the main thread, and by close as it ends the watch: no
        # wake-up once its handler is put back, where its default action would end the process)
        self.lock = _thread.allocate_lock()
        self.over = False
        self.wake: int | None = None
        self.wake_before: Any = None
        self.main: int | None = None
        # the signals' watch (start, caught): the wakeup pipe's ends (None: no watch), the wakeup fd it replaced, and
        # how many SIGTERMs and SIGHUPs Python's C-level handler wrote to it (`seen`) and how many stops their Python
        # handlers asked for (`handled`, stop_asked's): fewer handled than seen is a stop not asked yet
        self.told: int | None = None
        self.caught_fd: int | None = None
        self.told_before = -1
        self.seen = 0
        self.handled = 0

    def start(self) -> None:
        """The command's start (main, in the main thread, where the wakeup fd and the handlers can be set): the
        wake-up's handler set, and the signals' watch started (`caught`). Where either cannot be (not POSIX, not the
        main interpreter), a stop is taken as before, by its handler alone."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread() or not hasattr(os, "register_at_fork") or \
                not hasattr(signal, "pthread_kill") or not self.wake_set():
            return
        read, write = os.pipe()         # (not inherited by the programs a command starts: PEP 446)
        os.set_blocking(write, False)   # (set_wakeup_fd's rule: a C signal handler must never block)
        try:
            self.told_before = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except (ValueError, OSError):   # (not the main interpreter: the handlers alone, as before)
            os.close(read)
            os.close(write)
            return
        self.told, self.caught_fd, self.main = write, read, threading.get_ident()
        # (a process forked from here on would have its signals written to this pipe, and woken this one's main
        # thread: the child puts back the wakeup fd that was there before)
        os.register_at_fork(after_in_child=self.forked)
        threading.Thread(target=self.caught, args=(read,), name="wildgan-stop-wake", daemon=True).start()

    def wake_set(self) -> bool:
        """The wake-up's handler set (main thread), once: whether it is."""
        import signal

        if self.wake is not None:
            return True
        # (SIGURG: sent by nobody else to a process that asked for no socket's urgent data, and ignored by default,
        # so that one sent as close puts the handler back does nothing)
        wake = getattr(signal, "SIGURG", None)
        if wake is None:
            return False
        try:
            self.wake_before = signal.signal(wake, _woken)
        except (ValueError, OSError):
            return False
        self.wake = wake
        return True

    def caught(self, read: int) -> None:
        """The signals' watch's thread: each signal's number as Python's C-level handler writes it; where a SIGTERM or
        SIGHUP has no stop asked for it within _WAKE_S (its Python handler not run: the main thread blocked in a write
        the signal did not cut), the main thread woken, every _WAKE_S, _WAKES times at most (a handler that asks for
        no stop, or two signals that Python ran one handler for, must not have it woken for good). The pipe's write
        end closed (close): the thread ends."""
        import signal
        import time

        stops = {signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
        try:
            while got := os.read(read, 64):
                if self.told_before >= 0:       # (the wakeup fd this one replaced still told, as it would have been)
                    try:
                        os.write(self.told_before, got)
                    except OSError:
                        pass
                self.seen += sum(n in stops for n in got)
                if self.handled >= self.seen:   # (its stop asked already: the handler ran as the signal landed)
                    continue
                for _ in range(_WAKES):
                    time.sleep(_WAKE_S)
                    if self.handled >= self.seen:
                        break
                    with self.lock:
                        if self.over or self.wake is None or self.main is None:
                            return
                        try:
                            signal.pthread_kill(self.main, self.wake)
                        except OSError:     # (the main thread gone)
                            return
                else:
                    self.seen = self.handled    # (given up: the signals to come judged by themselves)
        except OSError:         # (the read end closed under it: nothing more to watch)
            return
        finally:
            _close_quietly(read)

    def forked(self) -> None:
        # (register_at_fork's after_in_child: the parent's pipe is not the child's to write to.) Only while the watch
        # runs (its write end still ours, as TeardownExit.forked checks): registered for good, this runs in every
        # child forked after the command too, where caught_fd is a number the watch's thread closed and the process
        # may have given to a file of its own since (a multiprocessing worker's pipe to its parent)
        if self.told is not None:
            self.told_put_back()
            if self.caught_fd is not None:
                _close_quietly(self.caught_fd)
        self.caught_fd = None

    def told_put_back(self) -> None:
        # the wakeup fd the watch's replaced put back, and the pipe's write end closed (the watch then reads the
        # pipe's end, and ends)
        import signal

        for fd in (self.told_before, -1):       # (-1: the fd before it was closed since)
            try:
                signal.set_wakeup_fd(fd)
                break
            except (ValueError, OSError):
                pass
        if self.told is not None:
            os.close(self.told)
            self.told = None

    def stop_asked(self, signum: int) -> None:
        """errors.stop_asked's listener: the watch started on the first SIGTERM or SIGHUP (in the main thread, where
        Python runs its signal handlers: the wake-up's handler can be set only there)."""
        import _thread
        import signal
        import threading

        if signum not in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            return
        self.handled += 1       # (its stop asked: the signals' watch need not wake the main thread for it, caught)
        if self.watching or self.over:
            return
        if threading.current_thread() is not threading.main_thread() or not hasattr(os, "dup2"):
            return
        fds = _output_fds()
        if not fds:     # (Windows: no poll, and no pipe that a SIGTERM meets full; or no descriptor to block on)
            return
        self.fds = fds
        self.wake_set()         # (set by start already, where it ran)
        self.main = threading.get_ident()
        self.watching = True
        try:
            _thread.start_new_thread(self.watch, ())
        except RuntimeError:        # (no new thread: the outputs unbounded, as before)
            self.watching = False

    def watch(self) -> None:
        """The watch's thread (a low-level one, _thread: started from a signal handler, which must not take
        threading's locks that the main thread it interrupted may hold): every _STUCK_POLL_S, which outputs a write
        would block on; one blocked so for _STUCK_S is let go."""
        import signal
        import time

        since: dict[int, float] = {}
        while not self.over:
            now = time.monotonic()
            stuck = _unwritable(self.fds)
            since = {fd: since.get(fd, now) for fd in stuck}
            late = [fd for fd, t in since.items() if now - t >= _STUCK_S]
            if late:
                with self.lock:
                    if self.over:
                        return
                    try:
                        devnull = os.open(os.devnull, os.O_WRONLY)
                        for fd in late:
                            os.dup2(devnull, fd)
                            since.pop(fd)
                        os.close(devnull)
                        if self.wake is not None and self.main is not None:
                            signal.pthread_kill(self.main, self.wake)
                    except OSError:     # (no os.devnull to open, a thread gone: the outputs as they were)
                        return
            time.sleep(_STUCK_POLL_S)

    def close(self) -> None:
        """The command over (main's way out): the watches ended, the wakeup fd and the wake-up's handler put back (the
        teardown's own watch follows, TeardownExit.install). In the main thread."""
        import signal

        with self.lock:
            self.over = True
        if self.told is not None:
            self.told_put_back()
        # (the read end is the watch's thread's to close, on its way out: the number is no longer ours to name)
        self.caught_fd = None
        if self.wake is not None:
            signal.signal(self.wake, signal.SIG_DFL if self.wake_before is None else self.wake_before)
            self.wake = None


def _flush(stream: Any) -> None:
    """`stream` (stdout or stderr) flushed where it can be, before os._exit (which would drop what is buffered)."""
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError, RuntimeError):
        # (a reader gone, a stream closed: nothing more to say there; RuntimeError: "reentrant call", a flush made
        # by the thread that is inside the stream's own write, as a signal handler run within it is)
        pass


def _flush_within(seconds: float) -> None:
    """stdout and stderr flushed before os._exit, each by a thread of its own, waited for `seconds` at most: a
    stream whose pipe is full and whose reader has stopped reading would block its flush for good (a write cut by a
    signal is retried, PEP 475), and a main thread blocked in its write holds the stream's lock, which the flush
    waits for. Low-level threads (_thread), so that the signal handler that calls this needs none of threading's
    locks, which the main thread it interrupted may hold; where a thread cannot run (the interpreter finalizing),
    its flush is not waited for past `seconds`."""
    import _thread
    import time

    deadline = time.monotonic() + seconds
    flushing = []
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        done = _thread.allocate_lock()
        done.acquire()

        def flush(stream: Any = stream, done: Any = done) -> None:
            try:
                _flush(stream)
            finally:
                done.release()

        try:
            _thread.start_new_thread(flush, ())
        except RuntimeError:        # (no new thread at all: left unflushed, the exit not delayed)
            continue
        flushing.append(done)
    for done in flushing:
        done.acquire(timeout=max(0.0, deadline - time.monotonic()))


class TeardownExit:
    """What SIGTERM, SIGHUP and Ctrl-C do once `wildgan` as a program (cli.run) has decided its command's outcome,
    through Python's and torch's teardown: SIGTERM and SIGHUP end the process at once with the command's exit code
    (torchrun's SIGTERM to the ranks still running once one has ended: a rank in its teardown was reported with
    exitcode -15, as if killed mid-work), Ctrl-C is ignored. main installs it in place of putting back the handlers
    it replaced, so that no signal lands between the two on the default action; the exit code is known only once
    main has returned (`ended`): a signal before that waits for it. An ignored SIGTERM or SIGHUP (nohup's) stays
    ignored. What stdout and stderr still hold is flushed before the exit, for _FLUSH_S at most (_flush_within): a
    pipe whose reader stopped reading must not keep the process from ending.

    A Python signal handler runs only once the main thread is back in the interpreter: a teardown blocked in C (a
    c10d/NCCL destroy, a C++ thread join, a native deadlock) would only have the signal's flag set, and run on until
    SIGKILL, where the default action used to end it. So the signals also wake a daemon thread (`watch`, through
    signal.set_wakeup_fd: Python's C-level handler writes the signal's number to a pipe), which, where the Python
    handler has not ended the process within _GRACE_S, calls os._exit with the exit code itself. Its limits, which
    are those of any thread in Python: it must take the GIL to run, so a main thread blocked in C while it holds the
    GIL (a C extension that did not release it) is not ended by it (os._exit, once called, needs no GIL; reaching the
    call does); and it runs only while Python's threads do, through the atexit callbacks (torch's, multiprocessing's
    joins, the program's own) but not after them, where Python's finalization has begun and a daemon thread can no
    longer take the GIL. Soon after, before the modules' clean-up (the objects a teardown frees, their C++
    destructors), Python puts back the default action of the signals it handled: a SIGTERM or SIGHUP there ends the
    process by the signal (exit -15, -1), as before the program's handlers, and an ignored Ctrl-C stays ignored."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.pending: int | None = None
        self.replaced: dict[int, Any] = {}
        # the watcher's: the wakeup pipe's ends (None: no watcher), the wakeup fd it replaced, and `settled`, set
        # once main's outcome is known (ended) or given up (abandon)
        self.wakeup: int | None = None
        self.watched: int | None = None
        self.wakeup_before = -1
        self.settled: Any = None
        # main's way out after a stop (stopping, late_stop): the code it decided, whether a SIGTERM or SIGHUP came
        # while it said its line (let pass by on_sigterm), the lock its deadline waits on (None: not armed), which
        # out_flushed releases, and whether that way out is over
        self.stop_code: int | None = None
        self.late = False
        self.way_out: Any = None
        self.way_out_over = False

    def install(self, term: Any, hup_set: bool, hup: Any) -> None:
        """Set the teardown's handlers in place of main's, where main would put back `term` (on_sigterm's) and, where
        `hup_set`, `hup` (on_sighup's); and, where either SIGTERM or SIGHUP is handled (not ignored), start the
        watcher that ends a teardown blocked in C. A signal ignored by whoever started the program stays so, and one
        set from C (getsignal's None: an application that embeds Python) is left to it, as on_sigterm and on_sighup
        leave them: Python cannot put such a handler back, so the teardown's replaced it for good (after cli.run
        returned, a SIGTERM ended the application with the command's code; after Py_FinalizeEx its Ctrl-C stayed
        ignored and its SIGTERM and SIGHUP took the default action). Nothing is recorded for those in `replaced`."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        if hasattr(signal, "SIGHUP") and not hup_set:       # (left alone by main: `info`'s, nohup's ignored one)
            hup = signal.getsignal(signal.SIGHUP)
        for signum, before, ours in ((signal.SIGINT, signal.getsignal(signal.SIGINT), signal.SIG_IGN),
                                     (signal.SIGTERM, term, self.signalled),
                                     (getattr(signal, "SIGHUP", None), hup, self.signalled)):
            if signum is not None and before is not signal.SIG_IGN and before is not None:
                signal.signal(signum, ours)
                self.replaced[signum] = before
        if any(signal.getsignal(n) == self.signalled for n in self.replaced):
            self.start_watch()

    def start_watch(self) -> None:
        # (main thread only: set_wakeup_fd's rule; install's caller checked)
        import signal
        import threading

        if not hasattr(os, "register_at_fork"):
            # (not POSIX: Windows has no SIGHUP, its SIGTERM is only ever raised by the process itself, and its wakeup
            # fd must be a socket; the Python handlers alone)
            return
        read, write = os.pipe()         # (not inherited by the programs a teardown starts: PEP 446)
        os.set_blocking(write, False)   # (set_wakeup_fd's rule: a C signal handler must never block)
        try:
            self.wakeup_before = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except (ValueError, OSError):   # (not the main interpreter: the Python handlers alone, as before)
            os.close(read)
            os.close(write)
            return
        self.wakeup, self.watched, self.settled = write, read, threading.Event()
        # a process forked from here on (a teardown's multiprocessing) would have its signals written to this pipe,
        # and its SIGTERM end this process: the child puts back the wakeup fd that was there before
        os.register_at_fork(after_in_child=self.forked)
        threading.Thread(target=self.watch, args=(read,), name="wildgan-teardown-exit", daemon=True).start()

    def watch(self, read: int) -> None:
        """The watcher's thread: each signal's number as Python's C-level handler writes it; a SIGTERM or SIGHUP
        whose handler is still the teardown's (not one ignored: those write nothing; not one whose handler a
        teardown replaced) ends the process with main's exit code, after _GRACE_S given to the Python handler to do
        so. The pipe's write end closed (abandon): the thread ends."""
        import signal
        import time

        ends = {signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
        try:
            while got := os.read(read, 64):
                if self.wakeup_before >= 0:     # (the wakeup fd this one replaced still told, as it would have been)
                    try:
                        os.write(self.wakeup_before, got)
                    except OSError:
                        pass
                if any(n in ends and signal.getsignal(n) == self.signalled for n in got):
                    time.sleep(_GRACE_S)
                    self.settled.wait()         # (the code: main's return, or a signal before it, waits for it)
                    if self.code is None:       # (abandoned: the handlers main would have put back decide)
                        return
                    # (a main thread blocked in a write to stdout, a reader that stopped reading, holds the
                    # stream's lock: the exit must not wait for it)
                    _flush_within(_FLUSH_S)
                    os._exit(self.code)
        except OSError:         # (the read end closed under it: nothing more to watch)
            return
        finally:
            _close_quietly(read)

    def forked(self) -> None:
        # (register_at_fork's after_in_child: the parent's pipe is not the child's to write to)
        if self.wakeup is not None and self.watched is not None:
            self.wakeup_put_back()
            os.close(self.watched)
            self.watched = None

    def wakeup_put_back(self) -> None:
        # the wakeup fd the watcher's replaced put back, and the pipe's write end closed (the watcher then reads the
        # pipe's end, and ends)
        import signal

        for fd in (self.wakeup_before, -1):     # (-1: the fd before it was closed since)
            try:
                signal.set_wakeup_fd(fd)
                break
            except (ValueError, OSError):
                pass
        if self.wakeup is not None:
            os.close(self.wakeup)
            self.wakeup = None

    def signalled(self, signum: int, frame: Any) -> None:
        if self.code is None:       # (main is on its way back with the code: `ended` exits with it)
            self.pending = signum
            return
        # not flushed here, in the main thread: the handler may run inside a write to stdout blocked on a full pipe
        # (the write retried once the handler returns), where a flush is a "reentrant call", or elsewhere while that
        # pipe is full, where it blocks as the write did. Nor at all once Python is finalizing: what it runs between
        # the atexit callbacks and putting back the default handlers is its last flush of stdout and stderr, which
        # holds the stream's lock, and no other thread can run there
        if not sys.is_finalizing():
            _flush_within(_FLUSH_S)
        os._exit(self.code)

    def stopping(self, code: int, signum: int | None) -> None:
        """main's exit code decided, `code`, for a command stopped by `signum` (None: an error, a result), as main
        says the command's line and flushes its output. A SIGTERM or SIGHUP was handled by raising the command's stop
        (on_sigterm's Terminated, training's checkpoint then TrainingInterrupted), so the teardown's handlers, set only
        after that line, never saw it: a write blocked there for good (stdout or stderr a full pipe whose reader
        stopped reading: `wildgan score ... | sleep 1000`, its output held in stdout's buffer for main's flush, or
        `2>&1 |`, the stop's own line) kept the process running until a second SIGTERM, or for good. From such a
        stop, or a SIGTERM or SIGHUP let pass while main says its line (late_stop), main's way out ends once stdout or
        stderr has taken no write for _STUCK_S (a reader that only pauses gets the rest), or after _WAY_OUT_S in all:
        its outputs are then flushed for _FLUSH_S at most and the process ends with `code`. Not
        Ctrl-C's: the teardown ignores it, and a terminal's Ctrl-C stops the pipe's reader too, so the write fails
        instead of blocking."""
        import signal

        self.stop_code = code
        if signum in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)) or self.late:
            self.arm_way_out()

    def late_stop(self) -> None:
        # (on_sigterm's `late`: a SIGTERM or SIGHUP let pass once the outcome was decided; the deadline armed now
        # where main has told its code, else when it does, in stopping)
        self.late = True
        if self.stop_code is not None:
            self.arm_way_out()

    def arm_way_out(self) -> None:
        """The deadline of main's way out (stopping): a thread that waits for out_flushed while stdout or stderr
        takes a write within _STUCK_S (a reader that paused and reads again: StuckOutputs' bound, which main's last
        flush, after the command's watch is over, is given too) and _WAY_OUT_S in all, then flushes stdout and stderr
        for _FLUSH_S at most and ends the process with main's code. Armed once; not once main's output is flushed. A
        low-level thread (_thread), as _flush_within's: armed from a signal handler too (late_stop), which must not
        take threading's locks that the main thread it interrupted may hold."""
        import _thread
        import time

        if self.way_out is not None or self.way_out_over or self.stop_code is None:
            return
        done = _thread.allocate_lock()
        done.acquire()
        code = self.stop_code
        fds = _output_fds()

        def deadline() -> None:
            start = time.monotonic()
            stuck_since: float | None = None
            while not done.acquire(timeout=_STUCK_POLL_S):
                now = time.monotonic()
                # (where no output can be polled, the bound in all alone)
                if fds is not None and _unwritable(fds):
                    stuck_since = now if stuck_since is None else stuck_since
                else:
                    stuck_since = None
                if now - start >= _WAY_OUT_S or (stuck_since is not None and now - stuck_since >= _STUCK_S):
                    _flush_within(_FLUSH_S)
                    os._exit(code)

        try:
            _thread.start_new_thread(deadline, ())
        except RuntimeError:        # (no new thread: the way out unbounded, as before)
            return
        self.way_out = done

    def out_flushed(self) -> None:
        """main's output flushed (or given up: a reader gone): its way out is over, and the deadline, if armed, let
        go; what follows is Python's and torch's teardown, which a SIGTERM or SIGHUP ends (signalled, watch)."""
        if self.way_out is not None and not self.way_out_over:
            self.way_out.release()
        self.way_out_over = True

    def ended(self, code: int) -> None:
        """The command's exit code, main's: a SIGTERM or SIGHUP from now on (or one that came while main returned)
        ends the process with it."""
        self.code = code
        if self.late:
            # (a SIGTERM let pass as main returned a result, on_sigterm's: its flush bounded as after a stop)
            self.stopping(code, None)
        if self.settled is not None:
            self.settled.set()
        if self.pending is not None:
            self.signalled(self.pending, None)

    def abandon(self) -> None:
        """main raised instead of returning a code (--debug's traceback on its way): the handlers main would have put
        back, and a signal that came meanwhile delivered to them, as it would have been without the teardown's; the
        watcher stopped, the wakeup fd it replaced put back."""
        import signal

        for signum, before in self.replaced.items():       # (never None: install records no handler set from C)
            signal.signal(signum, before)
        if self.wakeup is not None:
            self.wakeup_put_back()
            self.settled.set()
        if self.pending is not None:
            signal.raise_signal(self.pending)
