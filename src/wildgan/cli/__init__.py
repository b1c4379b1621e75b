"""Command-line interface: a thin layer over the Python API (parse -> config -> one library call).

The package, one file per command and the parts they share (each file imports only those listed before it;
tests/unit/test_layering.py checks it):

* common.py: what every command says and checks (`eprint`, `warn`, `check_out_file`, ...);
* threshold_notes.py: score's and export's --threshold line and Detector.fit's recorded parameter;
* distributed.py: train and score --distributed under torchrun;
* parser.py: every command's options (`make_option_parser`; examples in EXAMPLES_*, `report`'s in
  add_report_parser), their types and help texts;
* config_args.py: train's options -> RunConfig: `--config FILE` and `--resume` install a file's values as option
  defaults (`set_from_config`, `resume_config`), and `build_run_config` turns the options into the run's config and
  split;
* signals.py: SIGTERM and SIGHUP;
* one module per command: evaluate.py, export.py, info.py, report.py, score.py, train.py, study.py, demo.py (each
  `cmd_NAME` takes the parsed options and returns the exit code);
* here, `make_parser` (the options, each command's parser given its `cmd_NAME`) and `main`: parses, dispatches, and
  turns each way a command ends into one line on stderr and an exit code (a WildganError: "wildgan: error: ...", 2;
  training stopped by a signal, with a checkpoint: 128 + the signal; Ctrl-C 130; SIGTERM 143; SIGHUP 129 for every
  command but `info` (signals.on_sighup; `info` keeps Python's default); out of memory or an OSError 1; a closed
  stdout or stderr pipe 141, quietly, but for --debug's traceback). That line is said by common.say_end, which drops
  it where stderr is gone by then, the exit code kept.

How a `--config FILE` and the command line combine is said once, in config_args.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

# nothing heavy at import time (no torch): `wildgan --help` is instant, and Ctrl-C while a command's own imports load
# still ends in main's one-line "interrupted"
from ..config import UNTRAINED_ENCODER_SAID, kernels_from_env, square_name, typed_option_texts, typed_settings
from ..errors import (CLI_SKIP_BAD, INTERRUPTED, Terminated, TrainingInterrupted, WildganError, WildganWarning,
                      closed_outputs, moved_name, silence_closed_outputs, skip_bad_said_as, told_of_stops)
from ..runlog import WARNING, RunLog, copying_warnings
from .common import check_tqdm_environment, rank_tag, say_end, warn
from .config_args import (FIT_READ_SAID, build_run_config, config_file_to_args, config_reader, data_config_from_args,
                          net_config_from_args, resume_config, run_config_for_shape, run_config_from_args,
                          run_config_to_options, set_from_config, typed_options, typed_setting_values,
                          typed_texts)
from .demo import cmd_demo
from .distributed import refuse_torchrun_without_distributed
from .evaluate import cmd_evaluate
from .export import cmd_export
from .info import cmd_info
from .parser import (DEVICE_HELP, EXAMPLES_EVAL, EXAMPLES_REPORT, EXAMPLES_SCORE, EXAMPLES_STUDY, EXAMPLES_TRAIN,
                     THREADS_HELP, THRESHOLD_RULES_HELP, add_report_parser, make_option_parser, refuse_unrecognized,
                     sub_parser, sub_parser_names)
from .report import cmd_report
from .score import cmd_score
from .signals import StuckOutputs, TeardownExit, on_sighup, on_sigterm
from .study import cmd_study
from .train import cmd_train

# the names scripts and tests import from wildgan.cli, as before it was a package
__all__ = ["DEVICE_HELP", "EXAMPLES_EVAL", "EXAMPLES_REPORT", "EXAMPLES_SCORE", "EXAMPLES_STUDY", "EXAMPLES_TRAIN",
           "THREADS_HELP", "THRESHOLD_RULES_HELP", "add_report_parser", "build_run_config", "cmd_demo",
           "cmd_evaluate", "cmd_export", "cmd_info", "cmd_report", "cmd_score", "cmd_study", "cmd_train",
           "config_file_to_args", "data_config_from_args", "main", "make_parser", "net_config_from_args", "run",
           "run_config_for_shape", "run_config_from_args", "run_config_to_options"]


def make_parser() -> argparse.ArgumentParser:
    """Every command's options (parser.make_option_parser), each command's parser given the function that runs it,
    `func`, which main calls. Attached here, not in parser.py: the commands' modules import the parser (demo parses
    its train command line, a --config replay train's options), so the parser cannot import them. Looked up here
    when the parser is made: a test that replaces cli.cmd_NAME replaces the command main runs."""
    p = make_option_parser()
    for name, run in (("train", cmd_train), ("score", cmd_score), ("export", cmd_export), ("evaluate", cmd_evaluate),
                      ("info", cmd_info), ("study", cmd_study), ("demo", cmd_demo), ("report", cmd_report)):
        sub_parser(p, name).set_defaults(func=run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`wildgan ARGV` (sys.argv's by default): the command's exit code (_main). What it printed is flushed here, on
    every way out (its result, an error, --help's or a usage error's SystemExit), as the Python docs' "Note on
    SIGPIPE" does it: a reader gone is then exit 141 without a word, not a failure of the flush at Python's exit,
    which printed "Exception ignored ... BrokenPipeError" and made the exit status 120 (`wildgan study ... | head`,
    `wildgan --help | head -1`)."""
    return _main_flushed(argv, None)


def _main_flushed(argv: Sequence[str] | None, teardown: TeardownExit | None) -> int:
    # (main's; `teardown`: run's, which main installs in place of putting back the handlers it replaced)
    try:
        try:
            code = _main(argv, teardown)
        except SystemExit as e:     # (--help's, a usage error's: the outcome is decided, and said)
            if teardown is not None:
                teardown.ended(_exit_status(e))
            raise
        else:
            if teardown is not None:
                # the code told before the flush below: a flush blocked for good (stdout a full pipe whose reader
                # stopped reading) left a SIGTERM waiting for a code that never came, and the process running on
                teardown.ended(code)
            return code
        finally:
            if sys.stdout is not None:      # (None under pythonw)
                sys.stdout.flush()
    except BrokenPipeError:
        # (the command's own BrokenPipeError is handled by _main: this is the flush's, so stdout's reader is gone;
        # what is still buffered, stderr's too with `2>&1 | head`, must have nowhere to fail on exit: status 120)
        return _reader_gone("--debug" in (sys.argv[1:] if argv is None else argv))


def run() -> int:
    """`wildgan` as a program (the console script, `python -m wildgan`): main's exit code, with Ctrl-C ignored from
    the moment the command is finished, its output written and said. What is left is Python's and torch's teardown
    (atexit callbacks, then the modules' clean-up: a second or two once torch is loaded), where a Ctrl-C printed a
    KeyboardInterrupt traceback ("Exception ignored in atexit callback"), or, once Python had put back the default
    handler, killed the process silently with exit 130, "stopped by Ctrl-C", for a command that had done all its work.
    An ignored SIGINT stays ignored through Python's finalization (a handler of its own does not). SIGTERM and SIGHUP
    still end the teardown at once (the way to end one that hangs, a closed terminal), but with the command's exit
    code (signals.TeardownExit, installed by main as it returns, so that no signal meets the default action between
    the two); a library caller of main keeps its handlers. A SIGTERM or SIGHUP that stopped the command, or came as
    main said its outcome, gives main's way out (its line, its output's flush) seconds, not forever where that output
    is a full pipe nobody reads (TeardownExit.stopping)."""
    teardown = TeardownExit()
    try:
        code = _main_flushed(None, teardown)
    except SystemExit:          # (not abandoned: its code told to the teardown as it was raised)
        raise
    except BaseException:       # (--debug's traceback on its way: the handlers main would have put back)
        teardown.abandon()
        raise
    finally:
        teardown.out_flushed()  # (main's way out over: its deadline after a stop let go, TeardownExit.stopping)
    teardown.ended(code)        # (again where the flush changed it: 141, stdout's reader gone)
    return code


def _exit_status(e: SystemExit) -> int:
    # (the process's exit status for a SystemExit: its int, 0 for None, 1 for a message, which Python prints)
    return e.code if isinstance(e.code, int) else 0 if e.code is None else 1


def _reader_gone(debug: bool) -> int:
    """The exit of a command whose stdout's or stderr's reader went away (a BrokenPipeError being handled): 141,
    without a word, since nobody reads the output any more; but with --debug, which asked for what happened, the
    traceback on stderr where it is still open (`wildgan --debug info | head -1` closes stdout only). Then both
    streams silenced where closed, so that what is still buffered has nowhere to fail on exit (status 120)."""
    if debug:
        import traceback

        try:
            traceback.print_exc()
            sys.stderr.flush()
        except OSError:         # (stderr is the closed one, `2>&1 | head`: nobody to show it to)
            pass
    silence_closed_outputs()
    return 141


def _main(argv: Sequence[str] | None, teardown: TeardownExit | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    given = list(argv)
    FIT_READ_SAID.clear()              # (said once a command, not once a process: main is called again in one)
    UNTRAINED_ENCODER_SAID.clear()     # (the same)
    p = make_parser()
    debug = "--debug" in argv
    import warnings

    saved_format = warnings.formatwarning
    # under torchrun every rank prints its own errors and warnings to the one terminal: the ranks other than 0 say
    # which they are, so that a message printed once per rank reads as the same one, and a rank's own (a file of its
    # chunk) as that rank's. Not kept quiet: what fails on rank 1 alone must be seen.
    tag = rank_tag()
    if not debug:
        # our warnings are messages for the user (mixed image sizes, changed data, skipped files): one line each,
        # without Python's file:line prefix; restored on the way out, so library users' warnings keep theirs
        warnings.formatwarning = lambda msg, cat, *args, **kw: (  # type: ignore[assignment]
            f"wildgan: warning{tag}: {msg}\n" if issubclass(cat, UserWarning) else f"{cat.__name__}: {msg}\n")
    # image files are decoded by a pool of processes (data.decode_pool.decode_workers): the command's own main module is
    # safe to import again in them, unlike an arbitrary user script (the library default is one process)
    saved_workers = os.environ.get("WILDGAN_DECODE_WORKERS")
    # --threads sets torch's intra-op thread count for the command (its training, scoring, evaluation), and training
    # seeds torch's global RNG: both put back on the way out as the warning format is, so that main() called again
    # in one process (a notebook, the tests) leaves what runs after it at the caller's count and random stream (float
    # sums differ with the count; a 1-thread pytest-xdist worker left at 2 threads by one test oversubscribed the
    # cores for the rest of it). torch not imported yet: nothing to keep (and no import of it for `wildgan --help`)
    kept = ExitStack()
    # (set in the try below, whose finally puts them back: set before it, a failure in between, the signals' watch
    # whose thread or pipe could not be made, left SIGTERM's and SIGHUP's handlers installed after main)
    saved_term: Any = None
    term_state = {"ending": False}
    hup_set, saved_hup = False, None

    def end(line: str, code: int, signum: int | None = None) -> int:
        # how the command ended, said: its code told first to the program's teardown, which bounds the way out from
        # here where a SIGTERM or SIGHUP (`signum`) stopped the command (TeardownExit.stopping): the line itself may
        # block for good, on a stderr that is a full pipe nobody reads
        if teardown is not None:
            teardown.stopping(code, signum)
        say_end(line)
        return code

    try:
        # (a SIGTERM let pass once the outcome is decided still bounds the program's way out: TeardownExit.stopping)
        saved_term, term_state = on_sigterm(None if teardown is None else teardown.late_stop)
        hup_set, saved_hup = on_sighup(next((w for w in argv if not w.startswith("-")), None), term_state)
        os.environ.setdefault("WILDGAN_DECODE_WORKERS", "auto")
        # the messages that advise leaving unreadable files out name --skip-bad during a command, and the Python API's
        # skip_bad=True again after it (a script that calls main, then the API)
        kept.enter_context(skip_bad_said_as(CLI_SKIP_BAD))
        if teardown is not None:
            # (the program's: once a SIGTERM or SIGHUP asks for a stop, an output that is a full pipe nobody reads is
            # let go, so that the way out, the files it writes and main's line, does not hang on it for good)
            stuck = StuckOutputs()
            kept.enter_context(told_of_stops(stuck.stop_asked))
            kept.callback(stuck.close)
            stuck.start()       # (a SIGTERM that a blocked write missed wakes it all the same: StuckOutputs.caught)
        if "torch" in sys.modules:
            from ..devices import caller_torch_state_kept

            kept.enter_context(caller_torch_state_kept())
        try:
            if not [w for w in argv if w != "--debug"]:
                # a bare `wildgan` (a newcomer's first try): the commands, not argparse's "the following arguments
                # are required: COMMAND"; still exit 2, a usage error, so that a script that lost its command does
                # not pass. Said within the try, as every other way out is: the program's teardown gets its
                # handlers from the finally (Ctrl-C ignored there, not a KeyboardInterrupt traceback)
                p.print_help()
                return 2
            # (before anything imports torch, which imports tqdm: a TQDM_* variable it cannot read is a traceback there)
            check_tqdm_environment()
            # the command is the first word that is not a global option (`wildgan --debug train ...`)
            at = next((i for i, w in enumerate(argv) if not w.startswith("-")), None)
            typed: set[str] = set()
            texts: dict[str, str] = {}
            if at is not None and argv[at] in sub_parser_names(p):
                # the options typed, whatever their values: a default typed out is given all the same (and said so)
                typed = typed_options(sub_parser(p, argv[at]), argv[at + 1:])
                # and their values as typed, which a refusal echoes (-1, not the -1.0 of type=float)
                texts = typed_texts(sub_parser(p, argv[at]), argv[at + 1:])
            # (no file: what --resume says while the command line is read, which the run's log.txt is given)
            said_before = RunLog()
            read = None
            if at is not None and argv[at] == "train":
                # `--config FILE` and `--resume` install a file's values as the defaults of train's options
                train = sub_parser(p, "train")
                # a run's own config file given with --config (or --resume's) takes the value of a flag typed beside
                # it for a setting it refuses: its refusal names that flag as the way to change it
                kept.enter_context(typed_settings(typed_setting_values(argv[at + 1:])))
                # one reading of each file for both: --resume's checks of RUN/config.yaml and the values installed
                # from it are of one version of the file, not of two where it was saved in between
                read = config_reader()
                with copying_warnings(said_before):
                    argv = [*argv[:at + 1], *resume_config(argv[at + 1:], said_before.write, read)]
                set_from_config(train, argv[at + 1:], read=read)
            a, extra = p.parse_known_args(argv)
            if extra:
                refuse_unrecognized(p, a.cmd, extra, argv)
            a.said_before = said_before.held_lines()
            # (train's: the files --resume read for its checks, its run's config.json and split.json among them, read
            # again by nothing of the command: cli.train passes them on to train_run)
            a.config_reader = read
            a.typed = typed
            a.command_line = ["wildgan", *given]    # (as typed: a study's log.txt records it)
            if hasattr(a, "square"):
                # (typed, or from a flat --config file; a run's own config.json records letterbox, or its 'pad' was
                # read as letterbox already)
                a.square = square_name(a.square, given="cli", warn=lambda m: warn(WARNING + m))
            kernels_from_env()          # (a typo in WILDGAN_KERNELS is said now, not at the first forward)
            refuse_torchrun_without_distributed(a)
            with typed_option_texts(texts):
                return int(a.func(a) or 0)
        finally:
            term_state["ending"] = True     # the outcome is decided (see on_sigterm)
    except TrainingInterrupted as e:
        return end(f"wildgan{tag}: {e}", 128 + (e.signum or 2), e.signum)
    except WildganError as e:
        if debug:
            raise
        return end(f"wildgan: error{tag}: {e}", 2)
    except WildganWarning as e:
        # one of our warnings raised by a filter the user set (python -W error, PYTHONWARNINGS=error): they asked
        # for it to stop the command, not for a traceback; other libraries' warnings raised so stay tracebacks
        if debug:
            raise
        return end(f"wildgan: error{tag}: {e} (a warning, raised as an error by the warnings filter: -W error or "
                   f"PYTHONWARNINGS)", 2)
    except KeyboardInterrupt:
        return end(f"wildgan{tag}: {INTERRUPTED}", 130)
    except MemoryError as e:
        if debug:
            raise
        # numpy's _ArrayMemoryError says how much it wanted; the decoded images are held in memory as uint8 (training
        # holds about 3x them: the decode, the pyramid, the training array)
        return end(f"wildgan: error{tag}: out of memory{f' ({e})' if str(e) else ''}: the images are decoded into "
                   f"memory; use a smaller --resolution, --channels 1, or fewer images (training needs about 3x the "
                   f"decoded pixels)", 1)
    except Terminated as e:
        # e.g. a job scheduler's kill: said like Ctrl-C (a --out file is written only at the end, atomically, so an
        # earlier one at that path is kept; one that came while it was written waited for its line, `wrote ...`);
        # `train` handles SIGTERM itself, with a checkpoint. (SIGHUP's 129: on_sighup)
        return end(f"wildgan{tag}: {e}", 128 + e.signum, e.signum)
    except BrokenPipeError as e:
        if closed_outputs() == []:
            # neither stdout nor stderr is closed: another pipe broke (a decode worker's), an error to say as any
            # OSError is, not a reader that left
            if debug:
                raise
            return end(f"wildgan: error{tag}: {e}", 1)
        # e.g. `wildgan info | head`, `wildgan study ... 2>&1 | head`: the reader left; no traceback (but for
        # --debug's), no error line (there is no one to read it), and no second error when Python flushes the
        # streams on exit
        return _reader_gone(debug)
    except OSError as e:  # after BrokenPipeError, one of its kind
        # a full disk, a read-only folder, a path that is a file: one line naming the file, not a traceback
        if debug:
            raise
        return end(f"wildgan: error{tag}: {e}", 1)
    finally:
        warnings.formatwarning = saved_format
        if saved_workers is None:
            os.environ.pop("WILDGAN_DECODE_WORKERS", None)
        kept.close()
        if teardown is not None:
            # (the program's: its teardown's handlers at once, not the default action until run sets them)
            teardown.install(saved_term, hup_set, saved_hup)
        else:
            import signal

            if saved_term is not None:
                signal.signal(signal.SIGTERM, saved_term)
            if hup_set:
                # (never None: on_sighup leaves a handler set from C alone, as Python could not put it back)
                signal.signal(signal.SIGHUP, saved_hup)


def __getattr__(name: str) -> Any:
    # PEP 562: scripts that imported these from wildgan.cli keep working, with a DeprecationWarning naming the new
    # place; imported only when asked for, so that `import wildgan.cli` stays free of torch and PIL
    if name == "DEMO_MARKER":
        from ..training import run as new
    elif name == "absolute_data_path":
        from ..data import readers as new
    elif name in ("load_config_file", "run_config_file"):
        from .. import config as new
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return moved_name(__name__, name, new)
