"""Exceptions a user sees. The CLI prints their message (no traceback unless --debug) and exits non-zero."""

from __future__ import annotations

import contextvars
import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence


@contextmanager
def holding(var: contextvars.ContextVar[Any], value: Any) -> Iterator[None]:
    """`var` set to `value` within the block, and put back as it was after it, exceptions included: the one
    set/reset shape of the per-call wordings below and of progress.progress_label (context variables, so another
    thread's or task's value is not touched meanwhile)."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


# Why a data set cannot be given a run's labelled split (DataError's and ConfigError's `split_problem`): its classes
# do not give one (it has none, none is chosen, the run's normal class is not among them, ...), or it holds too few
# training images of its normal classes for the protocol's split. `wildgan score --data FILE` adds its ways to score
# such a file all the same by it (cli.score._labelled_split): it told them by the words "class" and "training images
# of the normal class" in the text, which any message about a class matched (a damaged file's class_names) and a
# reworded one missed ("only 1 training image of the normal class(es)", in the singular, never named --whole).
SPLIT_CLASSES = "classes"
SPLIT_TOO_SMALL = "too small"


class WildganError(Exception):
    """Base class of every error wildgan raises on purpose. split_problem: see SPLIT_CLASSES; None but where a
    DataError or ConfigError says it."""

    split_problem: str | None = None


class DataError(WildganError, ValueError):
    """Bad input data: the message names the file (or array) and the problem. A ValueError too, as scikit-learn's
    callers expect of bad input (`except ValueError`); WildganError first, so that `except WildganError` (and the
    CLI's exit 2) take it as before. Our own `except ValueError` around code that can raise it re-raises it first
    (a clear refusal is not a fallback's cue). split_problem: why the data cannot be given a run's labelled split
    (SPLIT_CLASSES, SPLIT_TOO_SMALL), where that is what is refused; None otherwise. A pickled copy keeps it."""

    def __init__(self, message: str, *, split_problem: str | None = None) -> None:
        super().__init__(message)
        self.split_problem = split_problem


class ConfigError(WildganError, ValueError):
    """An option or config file value is invalid. A ValueError too, as scikit-learn's bad parameters are
    (InvalidParameterError); see DataError. An argparse type= function must not let one through: argparse would
    take it for its own "invalid value" and drop our message (cli.parser._device turns it into an ArgumentTypeError).

    A refusal whose ways on include starting the run over (training.run.start_again_words: '--overwrite' / another
    '--out', or train_run's keywords) keeps that advice apart, as `start_again`, between `message` (what comes before
    it) and `then` (what follows it): a caller with its own way to start over (a study's cell, whose folder is the
    study's) says its own by with_start_again, not by matching the words in the text, which broke on any rewording.
    A refusal of one setting's value (config.bad_setting) keeps its parts too: `setting`, the field ('total_kimg',
    'train.total_kimg'), None for any other refusal; `flag`, the option that sets it ('--total-kimg'), None where none
    does; `problem` ('must be a positive number') and `value`, the value refused. For a caller that knows where the
    value came from, to name it as that place spells it (a --config file's key: cli.config_args), not by matching the
    words in the text. A refusal of settings that cannot go together (config.combined_settings) keeps `settings`, a
    (flag, field, value as the option takes it, value) for each, and `problem`, its words with {0}, {1}, ... where
    each is named; () for any other refusal. A refusal of a config file (config.in_file, the file's own options, keys
    and values, and one that cannot be read or parsed: read_config_file, read_run_config) keeps `file`, that file as
    its words name it, None for any other refusal: a caller that says where a value came from leaves such a refusal
    as it is, as it names its place already (cli.config_args told it by the words starting with the file's name,
    which a refusal of `train.lr` took for one of a file named `train`, and a reworded one missed). split_problem: as
    DataError's.

    Instance attributes: a pickled copy keeps them."""

    def __init__(self, message: str, *, start_again: str | None = None, then: str = "", setting: str | None = None,
                 flag: str | None = None, problem: str = "", value: object = None,
                 settings: tuple[tuple[str, str, str, object], ...] = (), file: str | None = None,
                 split_problem: str | None = None) -> None:
        super().__init__(f"{message}{start_again or ''}{then}")
        self.message = message
        self.start_again = start_again or None
        self.then = then
        self.setting, self.flag, self.problem, self.value = setting, flag, problem, value
        self.settings = settings
        self.file = file
        self.split_problem = split_problem

    def with_start_again(self, start_again: str) -> ConfigError:
        """The same refusal with `start_again` as its advice to start over (only where it gave one: self otherwise),
        its setting's parts kept (setting, flag, problem, value, settings, file, split_problem): a caller that names
        the refused value as its user gave it reads them from the error it is handed, whichever advice that error
        gives."""
        if self.start_again is None:
            return self
        return ConfigError(self.message, start_again=start_again, then=self.then, setting=self.setting,
                           flag=self.flag, problem=self.problem, value=self.value, settings=self.settings,
                           file=self.file, split_problem=self.split_problem)

    def within(self, where: str, after: str = "", *, file: str | None = None) -> ConfigError:
        """The same refusal said of a place its caller knows ("WHERE: MESSAGE", then its advice to start again and
        `then`, then `after`), its parts kept as with_start_again keeps them (start_again, setting, flag, problem,
        value, settings, file, split_problem): the one way to re-raise a refusal with its context (a config file's
        name, config.in_file; a study's cell, studies.study). A ConfigError built by hand from another's fields
        dropped those its builder forgot (the start-again advice, settings, file, split_problem), and a caller that
        reads them found none. file: the file the refusal is now of (in_file's), else the refusal's own."""
        return ConfigError(f"{where}: {self.message}", start_again=self.start_again, then=f"{self.then}{after}",
                           setting=self.setting, flag=self.flag, problem=self.problem, value=self.value,
                           settings=self.settings, file=self.file if file is None else file,
                           split_problem=self.split_problem)


def reworded(e: WildganError, before: str = "", after: str = "") -> WildganError:
    """e said with `before` ahead of its message and `after` behind it, as an error of its own class with all its
    attributes (a ConfigError's start_again, setting, ..., split_problem; a DataError's split_problem and unreadable;
    __notes__), its cause and its traceback kept: the way to add a caller's context to a refusal it lets through
    (`raise reworded(e, after=...)` in e's handler). `raise type(e)(f"{e} ...")` kept the message alone, so that a
    caller reading the attributes found none (and a subclass whose __init__ takes other arguments could not be built
    so). A ConfigError's `before` goes ahead of its `message` and `after` behind its `then`, so that
    with_start_again and within keep them."""
    out = type(e).__new__(type(e), f"{before}{e}{after}")
    out.__dict__.update(e.__dict__)
    if isinstance(out, ConfigError):
        out.message, out.then = f"{before}{out.message}", f"{out.then}{after}"
    # raised in e's handler, out's context is e, the same refusal in fewer words: not shown (as `from None` did),
    # while e's own cause is (an OSError that made a DataError)
    out.__cause__, out.__suppress_context__ = e.__cause__, True
    return out.with_traceback(e.__traceback__)


class CheckpointError(WildganError):
    """A checkpoint is missing, truncated, corrupt, or not a wildgan checkpoint."""


class DivergenceError(WildganError):
    """Training produced NaN/inf in a loss or a weight.

    Beside the message (what diverged, then the ways on in the words of train_run or the CLI): `what`, what diverged
    and where ('non-finite D/loss at 0.3 kimg'), and `lr_setting`, the setting that lowers the learning rate that
    diverged ('train.lr', 'fanogan.enc_lr'), for a caller whose ways on are others and that words its own message
    from them, not by matching the text (Detector.fit, which has neither train_run's resume and on_divergence nor a
    learning rate). None where the raiser gave none (an error rebuilt from another rank's message). Instance
    attributes, as TrainingInterrupted's: a pickled copy keeps them."""

    def __init__(self, message: str, *, what: str | None = None, lr_setting: str | None = None) -> None:
        super().__init__(message)
        self.what = what
        self.lr_setting = lr_setting


# The errors that keep their class when one rank of a torchrun job tells the others that it failed (training's
# start_together and the rank-R-error.txt a rank leaves when training fails, sharded scoring's gather): the rank sends
# its class's name with the message (error_kind) and the others build that class from this table alone
# (rebuilt_error). The table limits which classes a peer's word can make here: only these, each from a message alone
# (not every class can be), whatever a rank sends. It is no defence against a hostile peer: the ranks of a job trust
# each other, and all_gather_object unpickles what each sends anyway. Without it rank 0 raised a StartFailed or a
# plain WildganError, so `except DataError` around a distributed job missed another rank's unreadable file.
CARRIED_ERRORS: dict[str, type[WildganError]] = {c.__name__: c for c in (ConfigError, DataError, CheckpointError,
                                                                        DivergenceError)}


def error_kind(exc: BaseException) -> str | None:
    """The name under which `exc`'s class goes to the other ranks: that of its nearest class in CARRIED_ERRORS (a
    subclass such as checkpoint.NewerFormatError goes as its CheckpointError), else None (told as a WildganError)."""
    return next((c.__name__ for c in type(exc).__mro__ if CARRIED_ERRORS.get(c.__name__) is c), None)


def shared_kind(kinds: Iterable[str | None]) -> str | None:
    """The class that failures on one or more ranks (`kinds`: error_kind of each) are raised as on the other ranks:
    its name in CARRIED_ERRORS when they all had that same one, else None (e.g. a DataError on one rank and a
    ConfigError on another, or an OSError). A name outside CARRIED_ERRORS is read as no class at all. One rule for
    every place a peer's failure is raised (rebuilt_error, training.distributed's StartFailed)."""
    found = set(kinds)
    kind = found.pop() if len(found) == 1 else None
    return kind if kind in CARRIED_ERRORS else None


def rebuilt_error(kinds: Iterable[str | None], message: str) -> WildganError:
    """The error that failures on one or more ranks (`kinds`: error_kind of each) are raised as here, with `message`:
    of their shared_kind's class, else a plain WildganError."""
    kind = shared_kind(kinds)
    return (CARRIED_ERRORS[kind] if kind is not None else WildganError)(message)


class TrainingInterrupted(WildganError):
    """Raised after SIGINT/SIGTERM (and the CLI's SIGHUP), once a checkpoint has been saved. `signum`: the signal (the
    CLI exits with 128 + signum, the shell's convention: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP; SIGPIPE's
    141 for a stop because stdout's or stderr's reader went away, see OUTPUT_CLOSED). `where`: how far training got
    (e.g. 'at 10.3 of 20 kimg'), `checkpoint_dir`: where the checkpoint is, for a caller that words its own message (the
    Python API, whose way to continue is not --resume). `complete`: the stop came as training ended, whose final
    networks are saved; only what was to follow it (the training scores, an evaluation) was not run.

    `not_run`: what the stop left undone that was to follow the training (e.g. 'the training scores, --evaluate'),
    said after `message` by after_training_words; `resume_advice`: how the run continues (the loops'
    errors.resume_advice). Both kept apart from `message`, what happened: str(e) is the three joined ('MESSAGE;
    what was to follow it (NOT_RUN) was not run; ADVICE'), `e.without_advice` all but the advice, `e.message` the
    message alone. A caller whose own terms replace them (the demo, a study) sets the fields of a new error from
    these, not by matching their words in the text, which broke on any rewording (and on a run path that held them).
    All are instance attributes: a pickled copy (the errors the ranks of a torchrun job send each other) keeps them."""

    def __init__(self, message: str, signum: int | None = None, *, where: str | None = None,
                 checkpoint_dir: str | None = None, complete: bool = False,
                 resume_advice: str | None = None, not_run: str | None = None) -> None:
        said = f"{message}; {after_training_words(not_run)}" if not_run else message
        super().__init__(f"{said}; {resume_advice}" if resume_advice else said)
        self.signum = signum
        self.where = where
        self.checkpoint_dir = checkpoint_dir
        self.complete = complete
        self.resume_advice = resume_advice or None
        self.not_run = not_run or None
        self.message = message
        self.without_advice = said


def after_training_words(not_run: str) -> str:
    """What a stop as training ended left undone (TrainingInterrupted.not_run: what was to follow the training, in
    the terms of the caller that runs it, e.g. 'the training scores, --evaluate' or 'the cell's evaluation')."""
    return f"what was to follow it ({not_run}) was not run"


def left_after_training() -> str:
    """What the loops' stop as training ended leaves undone (their TrainingInterrupted.not_run), in the words of the
    call in progress: every step `wildgan train` may take after the training (its training scores, --evaluate) during
    a command, which the command narrows to those its options asked for; a Python caller's own next steps otherwise,
    as train_run (and a loop called directly) runs nothing after the training, and a caller told of --evaluate was
    told of an option it cannot pass. (The demo, a study and Detector.fit word their own.)"""
    return option_words("the training scores, --evaluate", "the caller's next steps")


def resume_advice(run_dir: object, distributed: bool = False, signum: int | None = None) -> str:
    """How a run stopped by a signal continues, as the training loops give it to their TrainingInterrupted: during a
    command of the CLI, a command to paste (it said 'continue with --resume', an option without the command or the run
    it goes with); for a Python caller of train_run, the call with resume=True (option_words: a command line told a
    Python caller of options it had not typed). distributed: the job ran under torchrun, whose options the message
    cannot know. signum: the stop's signal; a SIGHUP under torchrun adds torchrun_hangup_note."""
    if not in_cli():
        again = f"train_run(cfg, {str(run_dir)!r}, resume=True) with the same cfg"
        if distributed:
            return f"continue with the same torchrun command, its script calling {again}{torchrun_hangup_note(signum)}"
        return f"continue with {again}"
    cmd = f"wildgan train --out {shell_word(run_dir)} --resume"
    if distributed:
        return f"continue with the same torchrun command and `{cmd} --distributed`{torchrun_hangup_note(signum)}"
    return f"continue with `{cmd}`"


def torchrun_hangup_note(signum: int | None) -> str:
    """For a torchrun job stopped by SIGHUP (`signum`), how the next one outlives its terminal, after the advice that
    continues it; '' for any other signal. torchrun sets its own SIGHUP handler over the one `nohup` ignores and passes
    the signal on to every rank, so `nohup torchrun ...` stopped all the same when its terminal closed (measured with
    torch 2.13): the same command again would stop again at the next hangup."""
    if signum is None or signum != SIGHUP:
        return ""
    return (" (torchrun passes a closed terminal's SIGHUP on to every rank, under nohup too: to outlive the terminal, "
            "run it in tmux or screen, or give torchrun --signals-to-handle SIGTERM,SIGINT,SIGQUIT)")


def shell_word(path: object) -> str:
    """A path as one word of a command the user may copy from a message: quoted where it has spaces or other
    characters the shell splits or reads (`wildgan score 'runs/my run' ...`), as typed otherwise."""
    import shlex

    return shlex.quote(str(path))


def signal_name(signum: int | None) -> str:
    """A stop signal as wildgan names it on the terminal and in log.txt: 'SIGINT (Ctrl-C)', 'SIGTERM', another by its
    name ('SIGHUP'); never its bare number ('signal 2' read as a code to look up)."""
    if not signum:
        return "a signal"
    if signum == signal.SIGINT:
        return "SIGINT (Ctrl-C)"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# (not on Windows, which has neither)
SIGHUP: int | None = getattr(signal, "SIGHUP", None)
# SIGPIPE's number (13) where the platform has none (Windows): it also names a stop because the output's reader went
# away (training.resume.StopFlag.output_closed, exit 141), which Windows has too; None there left that stop unset,
# and training went on with its output closed
SIGPIPE: int = getattr(signal, "SIGPIPE", 13)


def stop_words(signum: int | None) -> str:
    """How a command stopped by a signal says so, in one form everywhere (train's checkpointed stop, any other
    command's, a study's, log.txt's `stopped: ...`): 'interrupted by SIGINT (Ctrl-C)', 'terminated by SIGTERM',
    'hung up by SIGHUP (...)' with the cause it nearly always has (nobody types it). SIGPIPE stands for training
    stopped because its output's reader went away (training.resume.StopFlag.output_closed: Python ignores the signal
    itself, the write fails instead), said as OUTPUT_CLOSED, as any other command stopped that way is."""
    if signum is not None and signum == SIGPIPE:
        return OUTPUT_CLOSED
    if signum is not None and signum == SIGHUP:
        return "hung up by SIGHUP (its terminal closed, e.g. an ssh connection dropped)"
    verb = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}.get(signum or 0, "stopped")
    return f"{verb} by {signal_name(signum)}"


INTERRUPTED = stop_words(signal.SIGINT)
TERMINATED = stop_words(signal.SIGTERM)


# log.txt's `stopped: ...` for a command whose stdout or stderr was a pipe its reader closed (`wildgan study ... 2>&1 |
# head`): what happened in words, not Python's "[Errno 32] Broken pipe", which read as a failure of the command
OUTPUT_CLOSED = "the reader of its output went away (a pipe closed early, e.g. by `| head`)"


def closed_outputs() -> list[int] | None:
    """The file descriptors of stdout and stderr (1, 2 for a command) that are pipes, sockets or terminals whose
    reading end has gone: a write to them fails with BrokenPipeError. Told without writing (poll's POLLERR / POLLHUP),
    so that a command can tell its output's reader leaving from another pipe breaking (a worker process's). [] where
    a stream has no descriptor (a notebook's, a test's capture); None where it cannot be told (no poll: Windows)."""
    import select
    import sys

    if not hasattr(select, "poll"):
        return None
    gone = []
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        p = select.poll()
        p.register(fd, select.POLLOUT)
        if any(ev & (select.POLLERR | select.POLLHUP) and not ev & select.POLLNVAL for _, ev in p.poll(0)):
            gone.append(fd)
    return gone


def silence_closed_outputs() -> None:
    """After a BrokenPipeError (or a terminal's EIO): stdout and stderr, where their reader has gone, pointed at
    os.devnull (the Python docs' recipe, "Note on SIGPIPE"), so that what is still buffered for them, and what is
    written to them later, has nowhere to fail (Python's flush on exit made the exit status 120). Where which is
    closed cannot be told (no poll), stdout, as the recipe does."""
    import os
    import sys

    closed = closed_outputs()
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        if fd in (closed if closed is not None else [1]):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)


# told of each stop that a signal asks for, as it comes (stop_asked): the CLI's watch on its outputs while a command
# runs (cli.signals.StuckOutputs, through told_of_stops); a library caller has none
_STOP_LISTENERS: list[Callable[[int], None]] = []


def stop_asked(signum: int) -> None:
    """A signal handler has taken `signum` for a stop of the work in progress (training's StopFlag, a commit's
    stops_deferred, the CLI's Terminated): told to the listeners of told_of_stops. In the main thread, where Python
    runs its signal handlers; a listener must not raise."""
    for listener in list(_STOP_LISTENERS):
        listener(signum)


@contextmanager
def told_of_stops(listener: Callable[[int], None]) -> Iterator[None]:
    """While inside, `listener` is told of every stop_asked. The handlers that take a stop belong to the layer that
    stops (training keeps a checkpoint first), and the CLI, a later layer, learns of it this way."""
    _STOP_LISTENERS.append(listener)
    try:
        yield
    finally:
        _STOP_LISTENERS.remove(listener)


# the handlers that take a stop at this moment, innermost last: training's StopFlag (resume.install_signals), a
# commit's stops_deferred. The CLI's SIGHUP handler passes a hangup to the innermost (cli.signals.on_sighup) rather
# than to SIGTERM's handler: where the launcher ignored SIGTERM (or set it from C) neither takes SIGTERM over, and the
# hangup, finding no handler of ours there, was raised wherever the main thread was, a checkpoint's write cut in two
_STOP_TAKERS: list[Callable[[int, Any], None]] = []


def take_stops(handler: Callable[[int, Any], None]) -> Callable[[], None]:
    """`handler` (a signal handler) takes the stops that the CLI's SIGHUP asks for, until the function returned is
    called. In the main thread only, where Python runs its signal handlers."""
    _STOP_TAKERS.append(handler)

    def done() -> None:
        if handler in _STOP_TAKERS:
            _STOP_TAKERS.remove(handler)
    return done


def stop_taker() -> Callable[[int, Any], None] | None:
    """The innermost handler that takes a stop now (take_stops); None outside training's loops and commits."""
    return _STOP_TAKERS[-1] if _STOP_TAKERS else None


def eprint(line: str) -> None:
    """`line` and its newline to stderr in one write. print() writes them apart, and under torchrun the ranks share
    the terminal: with stderr unbuffered (python -u, PYTHONUNBUFFERED) or a message of several lines, another rank's
    line could land between them ("...exit codewildgan (rank 1 of 2): ..."). The CLI's lines go through it
    (cli.common), and so do those of a lower layer that has no warning to say them by (training.distributed's). No
    stderr at all (None: pythonw, an interpreter embedded without a console): the line is dropped, as Python's own
    warnings are there, not an AttributeError out of the command that only meant to warn."""
    import sys

    err = sys.stderr
    if err is None:
        return
    err.write(line + "\n")
    err.flush()


def output_gone(e: BaseException) -> bool:
    """Whether `e`, raised by a write, is stdout's or stderr's reader gone: a BrokenPipeError (`| head` left) or an
    EIO (a terminal hung up: an ssh connection dropped), with closed_outputs naming one of them, so not another pipe
    (a worker process's). If so, those streams are silenced (silence_closed_outputs): the writes that follow (the
    rest of a progress bar, the stop's own line) go nowhere instead of failing in their turn."""
    import errno

    if not isinstance(e, OSError) or e.errno not in (errno.EPIPE, errno.EIO) or not closed_outputs():
        return False
    silence_closed_outputs()
    return True


def stop_text(e: BaseException) -> str:
    """An exception that ended a command as log.txt's `stopped: ...` says it: Ctrl-C's KeyboardInterrupt, which
    has no message, as the terminal says it (INTERRUPTED), not as its class name; a broken pipe that is the command's
    own output closed by its reader as OUTPUT_CLOSED; any other by its message, else its class name."""
    if isinstance(e, KeyboardInterrupt) and not str(e):
        return INTERRUPTED
    if isinstance(e, BrokenPipeError) and closed_outputs():
        return OUTPUT_CLOSED
    return str(e) or type(e).__name__


class Terminated(BaseException):
    """SIGTERM (a job scheduler's stop, passed on by torchrun to every rank), as the CLI raises it during a command
    other than train's loop (which saves a checkpoint on it): the CLI says `terminated by SIGTERM` and exits 143. Not a
    WildganError, whose exit is 2, and not an Exception, as KeyboardInterrupt is not: it can land anywhere, e.g. while
    an image is decoded, whose `except Exception` took it for a corrupt file (skipped with --skip-bad, the scoring going
    on). So it also passes the handlers that gather each rank's error to raise it on every rank (scoring.run.
    score_files): every rank received the signal, and each says so as one process does.

    `signum`: the signal, SIGTERM unless said (the CLI's SIGHUP raises it with SIGHUP's wording, `score` stopped by
    Ctrl-C with SIGINT's, to say how to continue): the CLI exits with 128 + it."""

    def __init__(self, message: str = TERMINATED, signum: int = signal.SIGTERM) -> None:
        super().__init__(message)
        self.signum = signum


# skip_bad as the user gives it, in the messages that advise leaving unreadable image files out: the Python API's
# keyword (Detector, DataConfig, score_files, load_images, ... all take skip_bad=True), except while the command line
# runs a command, whose option it is (cli._main sets it with skip_bad_said_as). A setting read where such a message is
# made, not a parameter passed down: the readers that make them sit under a dozen Python entry points and every
# command, and a message made in the CLI's words told a Python caller of an option it cannot pass. A context variable,
# per call, as _DEPTH16_SAID_AS: process-wide, a Python caller reading images on another thread while cli.main ran a
# command was told of --skip-bad and the CLI's options (in_cli reads it). No thread the package starts makes such a
# message; a decoding pool's workers (processes) are handed it (decode_pool._decode_task)
API_SKIP_BAD = "skip_bad=True"
CLI_SKIP_BAD = "--skip-bad"
_SKIP_BAD_SAID_AS: contextvars.ContextVar[str] = contextvars.ContextVar("wildgan_skip_bad_said_as",
                                                                        default=API_SKIP_BAD)


def skip_bad_option() -> str:
    """How the user of the call in progress leaves unreadable files out: API_SKIP_BAD, or CLI_SKIP_BAD during a
    command of the CLI."""
    return _SKIP_BAD_SAID_AS.get()


@contextmanager
def skip_bad_said_as(option: str) -> Iterator[None]:
    """While inside, messages name `option` as the way to leave unreadable files out (the CLI: CLI_SKIP_BAD); the
    setting before is put back on the way out, so that a script that calls cli.main and then the API reads the API's
    words again. Per thread (and per asyncio task): another thread's calls keep their own words."""
    with holding(_SKIP_BAD_SAID_AS, option):
        yield


# set within words_for: the user option_words words a message for, whatever the call in progress is, over
# _SKIP_BAD_SAID_AS. A context variable as that one is: a message made for a record in the other user's words (a decoded
# cache's warnings, imageset.warn_of_data) changes nothing another thread says meanwhile
_WORDS_FOR_CLI: contextvars.ContextVar[bool | None] = contextvars.ContextVar("wildgan_words_for_cli", default=None)


@contextmanager
def words_for(cli: bool) -> Iterator[None]:
    """Within it, in_cli (and so option_words) answers `cli`: the messages made name the options as the CLI's user
    (True) or a Python caller (False) gives them."""
    with holding(_WORDS_FOR_CLI, bool(cli)):
        yield


def in_cli() -> bool:
    """Whether the call in progress is a command of the CLI (cli._main's skip_bad_said_as(CLI_SKIP_BAD) in force), whose
    user types options, not a Python caller, who passes keyword arguments: the one setting that option_words reads
    (but within words_for, which sets what it answers)."""
    told = _WORDS_FOR_CLI.get()
    return _SKIP_BAD_SAID_AS.get() == CLI_SKIP_BAD if told is None else told


def option_words(cli: str, api: str) -> str:
    """An option as a message names it to the user of the call in progress: `cli` (e.g. '--normal CLASS') during a
    command of the CLI, `api` (e.g. "normal=('CLASS',)") otherwise. For the messages made below a Python entry point
    (data reading, splits, decoding, a report's arguments), where a flag told a Python caller of an option it cannot
    pass; read where the message is made, as skip_bad_option is, not passed down."""
    return cli if in_cli() else api


# How the 16-bit rule that reads the images in progress is chosen, where that is no option of the call's user (None:
# their option, option_words' --depth16 / depth16=). `wildgan score` and `wildgan evaluate` read a run's images by
# the rule the run recorded and take no --depth16: a mode-I or float image refused there said it was "made 8-bit by
# --depth16", an option the command refuses. A context variable, per call: process-wide, a Detector scoring on another
# thread while `wildgan score` or run_study ran was told their words. No thread the package starts reads images; a
# decoding pool's workers (processes) are handed it (decode_pool._decode_task), and a caller's own thread pool is
# told the words of the calls it makes
RUN_DEPTH16 = "the run's recorded depth16 setting"
# (score_files given a `conversion` of the caller's reads by its 'depth16' entry: the keyword that sets it there)
CONVERSION_DEPTH16 = "conversion['depth16']"
_DEPTH16_SAID_AS: contextvars.ContextVar[str | None] = contextvars.ContextVar("wildgan_depth16_said_as", default=None)


# The Python keyword that sets the 16-bit rule, as a message names it to a Python caller (the CLI's is --depth16):
# 'depth16=' (a DataConfig's, the Detector's), or an entry point's own where its caller sets the rule elsewhere:
# run_study's base config, 'data.depth16='. A context variable, as _DEPTH16_SAID_AS; handed to a decoding pool's workers
DEPTH16_KEYWORD = "depth16="
STUDY_DEPTH16 = "data.depth16="
_DEPTH16_KEYWORD: contextvars.ContextVar[str] = contextvars.ContextVar("wildgan_depth16_keyword",
                                                                       default=DEPTH16_KEYWORD)


def depth16_keyword() -> str:
    """The keyword depth16_keyword_as put in force, else DEPTH16_KEYWORD."""
    return _DEPTH16_KEYWORD.get()


@contextmanager
def depth16_keyword_as(words: str) -> Iterator[None]:
    """While inside, the 16-bit rule is named `words` to a Python caller (STUDY_DEPTH16 within run_study), and a
    public reader called within (evaluate_run) names it too, not its own record; the setting before is put back."""
    with holding(_DEPTH16_KEYWORD, words):
        yield


def depth16_user_option() -> str:
    """The user's own setting of the 16-bit rule: '--depth16' during a command of the CLI, else depth16_keyword()."""
    return option_words("--depth16", _DEPTH16_KEYWORD.get())


def depth16_said() -> str | None:
    """The words depth16_said_as put in force (None: none, the user's option is named)."""
    return _DEPTH16_SAID_AS.get()


def depth16_option() -> str:
    """The setting that chooses the 16-bit rule of the read in progress, as a message names it: the words of
    depth16_said_as where in force (RUN_DEPTH16 for a command that reads by a run's record), else the user's option,
    '--depth16' during a command of the CLI, depth16_keyword() for a Python caller."""
    said = _DEPTH16_SAID_AS.get()
    return said if said is not None else depth16_user_option()


@contextmanager
def depth16_said_as(words: str | None) -> Iterator[None]:
    """While inside, depth16_option says `words` (None: the user's option); the setting before is put back."""
    with holding(_DEPTH16_SAID_AS, words):
        yield


class WildganWarning(UserWarning):
    """Every warning wildgan gives about the user's data, run or options (mixed image sizes, skipped files, a run
    that stopped early ...). warn_user locates them at the user's own line, so filter them by this category, not by
    module: warnings.filterwarnings("ignore", category=WildganWarning)."""


class WildganRuntimeWarning(WildganWarning, RuntimeWarning):
    """A WildganWarning about numbers gone wrong (NaN scores from diverged networks): both categories match it."""


# set within warnings_about: the argument whose images the warnings said meanwhile are about. Detector.fit reads X
# and scores X_val, and each said 'images that are not square ...' (twice, word for word, where both were cropped)
# without saying which set it meant. A context variable: another thread's warnings are not renamed meanwhile
_WARNINGS_ABOUT: contextvars.ContextVar[str | None] = contextvars.ContextVar("wildgan_warnings_about", default=None)


@contextmanager
def warnings_about(name: str) -> Iterator[None]:
    """Within it, warn_user prefixes each warning with '`name`: ' (e.g. 'X_val: '), unless it already starts so."""
    with holding(_WARNINGS_ABOUT, name):
        yield


def warn_user(message: str, category: type[Warning] = WildganWarning) -> None:
    """warnings.warn, located at the first caller outside the wildgan package (the user's `det.fit(...)` line, or
    their script), whatever the depth of the call inside the package: a fixed stacklevel points into our own code on
    one path or another (Python 3.12's skip_file_prefixes does this; we support 3.10). contextlib's frames are passed
    over too: a warning given as a `with` enters one of our context managers (fileio.writing_temps saying that it
    waits) was located at contextlib's __enter__ line, not at the caller's `with`."""
    import contextlib
    import os
    import sys
    import warnings

    pkg = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep
    ctx = os.path.normcase(os.path.abspath(contextlib.__file__))
    level, f = 2, sys._getframe(1)
    while f is not None and ((where := os.path.normcase(os.path.abspath(f.f_code.co_filename))).startswith(pkg)
                             or where == ctx):
        f, level = f.f_back, level + 1
    about = _WARNINGS_ABOUT.get()
    if about is not None and not message.startswith(f"{about}: "):
        message = f"{about}: {message}"
    warnings.warn(utf8_safe(message), category, stacklevel=level)


def utf8_safe(text: str) -> str:
    """`text` with the lone surrogates a file name that is not UTF-8 leaves in it (os.fsdecode: b'd\xe9faut.png' is
    'd\udce9faut.png') written as Python's stderr writes them, '\\udce9': a warning naming such a file could be
    neither logged to a UTF-8 file (logging.captureWarnings) nor carried by pytest-xdist to its controller, which
    failed the whole run with a UnicodeEncodeError; the name stays recognisable, and the rest of the text as it was."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class HeldWarning:
    """A warning held back, so that a later one of the same cause joins it: one warning, not two. The warning of a
    labelled run's rebuilt split that names files unreadable since training (evaluation.run.split_for_run) is held
    while the training scores are read, whose warning that they leave those same files out joins it
    (scoring.train_scores.warn_left_out); so is its warning that the data changed since training, which the training
    scores' warning of the same differences joins (scoring.train_scores.run_training_scores): one warning with both
    consequences, the test split's and the threshold's. What is left unsaid is said (say) before any long work that
    follows (the scoring of a split, behind its progress bar), and by the holder in any case. Nothing held: says
    nothing."""

    def __init__(self) -> None:
        self.text = ""
        self.paths: tuple[str, ...] = ()      # the files the held warning names
        self.said = False
        self._log: Callable[[str], None] = warn_user
        # the rebuilt split's warning that the data changed since training (split_for_run), held the same way: the
        # training scores, when they find the same differences, join their consequence to it (hold_change)
        self.change = ""
        self.change_diffs: tuple[str, ...] = ()
        self.change_said = False
        self.change_tail = ""
        self._change_log: Callable[[str], None] = warn_user

    def hold(self, text: str, paths: Sequence[str], log: Callable[[str], None]) -> None:
        """Hold `text` (naming the files `paths`), to be said by `log`."""
        self.text, self.paths, self._log = text, tuple(paths), log

    def hold_change(self, text: str, diffs: Sequence[str], log: Callable[[str], None], tail: str = "") -> None:
        """Hold `text`, the warning that the data differs from the run's record by `diffs`, to be said by `log` after
        the warning held by hold (it follows from what that one names). `tail` (what to do about it) ends the
        warning, after whatever say_change joins to `text`."""
        self.change, self.change_diffs, self._change_log, self.change_tail = text, tuple(diffs), log, tail

    def holds_change(self, diffs: Sequence[str]) -> bool:
        """Whether a change warning listing exactly `diffs` is held and not said yet (say_change can join it)."""
        return bool(self.change) and not self.change_said and tuple(diffs) == self.change_diffs

    def say(self, more: str = "", change: bool = True) -> None:
        """Say the held warnings, with `more` joined to the end of the first (hold's); each once (later calls say
        nothing). change=False: hold's alone, the change warning still held (the training scores' reader joins its
        own consequence to it once it knows where the threshold comes from)."""
        if self.text and not self.said:
            self.said = True
            self._log(self.text + more)
        if change:
            self.say_change()

    def say_change(self, more: str = "") -> None:
        """Say the held change warning with `more` joined to its end (hold's warning first, as it is); once."""
        if self.text and not self.said:
            self.said = True
            self._log(self.text)
        if self.change and not self.change_said:
            self.change_said = True
            self._change_log(self.change + more + self.change_tail)

    def drop_change(self) -> None:
        """Never say the held change warning: an error that lists the same differences stops the command instead."""
        self.change_said = True


def moved_name(old_module: str, name: str, new_module: object) -> object:
    """A name asked for at its old import path (a module's PEP 562 __getattr__): the object from new_module, with a
    DeprecationWarning that names where to import it from now."""
    new = getattr(new_module, "__name__")
    warn_user(f"{old_module}.{name} has moved to {new}.{name}: import it from there (the old path will be removed)",
              DeprecationWarning)
    return getattr(new_module, name)
