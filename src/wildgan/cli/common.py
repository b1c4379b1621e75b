"""What the commands share: their output on stdout (`write_stdout`), their lines on stderr (`eprint`, `say_end`,
`warn`, `show`, a torchrun rank's tag), the options given (`option_given`) and how messages name them (`option_flag`,
`csv_list`), and the refusals made before a command's work (an --out file that cannot be written, a saved Detector
where a run folder is wanted, a path with spaces split by the shell). Imports no other module of the CLI."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import as_typed
from ..errors import ConfigError, WildganError, eprint, output_gone, shell_word
from ..fileio import unwritable_error
from ..runlog import WARNING, RunLog, said


def option_flag(dest: str) -> str:
    """The option an argparse dest comes from, as messages name it: total_kimg -> --total-kimg."""
    return "--" + dest.replace("_", "-")


def csv_list(text: str, kind: type, option: str) -> list[Any]:
    try:
        values = [kind(t.strip()) for t in str(text).split(",") if t.strip()]
    except ValueError:
        kinds = {int: "whole numbers", float: "numbers"}.get(kind, "values")
        raise ConfigError(f"{option}: cannot read {as_typed(text)} as a comma-separated list of {kinds}") from None
    if not values:
        # e.g. --contamination ',': a study of no cells finished at once with exit 0, and --seeds ',' or
        # --normal ',' raised a bare IndexError
        # (its parts too: a --config file's value is then named by the file and its key, cli.config_args)
        raise ConfigError(f"{option} {text!r}: no values; give one or more, comma separated",
                          setting=option[2:].replace("-", "_"), flag=option,
                          problem="must give one or more values, comma separated", value=text)
    return values


# train options that only the progressive GAN's loop reads (wildgan and search), never f-AnoGAN's
PGAN_ONLY_OPTIONS = ("preset", "width", "latent_size", "total_kimg", "phase_kimg", "transition_kimg", "lr",
                     "sample_kimg", "ema_warmup", "amp", "compile", "gp_precision", "channels_last", "cuda_graphs",
                     "gp_target")


def rank_tag() -> str:
    """' (rank R of W)' on a torchrun rank other than 0, else ''. The environment is looked at first: importing
    wildgan.training loads torch and the training loop (seconds), which every command's start (`--help`, a typo)
    would otherwise wait for. The words are training.distributed.rank_tag's, which its own shutdown warning says."""
    if "WORLD_SIZE" not in os.environ:
        return ""
    from ..training import distributed

    return distributed.rank_tag()


def write_stdout(text: str) -> None:
    """`text` to stdout, all of it or a BrokenPipeError (a reader gone: main's exit 141): every command's output of
    more than a line goes through here. Unbuffered (python -u, PYTHONUNBUFFERED, as in many containers),
    sys.stdout.write makes one write(2), and takes a short one as done: the rest of `score --out - | head -1`'s CSV was
    dropped without a word and the command said it wrote the CSV, exit 0, where `--out /dev/stdout` (written in full,
    by fileio) ended 141. There, the text's bytes are written until none is left, in stdout's own encoding, as
    sys.stdout.write would. A non-blocking stdout (O_NONBLOCK set by the parent on a pipe both share) that is full
    for now is waited on, not taken as done: print lost the rest there (raw: write returns None) or raised
    BlockingIOError (buffered).

    Where stdout's binary layer takes all it is given (buffered, over a blocking file: the usual case), the text goes
    through sys.stdout.write as print's does, so that its newlines are what the text layer makes of them: on Windows
    '\n' is written '\r\n', a capture's stream keeps it as it is, and the text layer does not say which it does. The
    bytes written past it have '\n' as os.linesep, as the interpreter's own stdout (the one that -u leaves raw) and a
    TextIOWrapper of the default newline write it. No stdout at all (None: pythonw, an interpreter embedded without a
    console): nothing is written, as print() wrote nothing there."""
    out = sys.stdout
    if out is None:
        return
    binary = getattr(out, "buffer", None)
    if binary is None or _takes_all(binary):
        # (a stream of text only, as a caller's io.StringIO, takes all of it too)
        out.write(text)
        out.flush()
        return
    _flush_when_it_can(out)         # (what print() left in the text layer goes first)
    if os.linesep != "\n":
        text = text.replace("\n", os.linesep)
    data = memoryview(text.encode(out.encoding or "utf-8", out.errors or "strict"))
    while data:
        try:
            n = binary.write(data)
        except BlockingIOError as e:
            # (buffered: the first characters_written bytes were taken, written or held in its buffer; sending them
            # again would repeat them)
            data = data[e.characters_written:]
            _wait_until_writable(binary)
            continue
        if n is None:               # (raw and full for now: nothing was written)
            _wait_until_writable(binary)
            continue
        data = data[n:]
    _flush_when_it_can(binary)


def _takes_all(binary: Any) -> bool:
    """Whether a write to `binary`, stdout's binary layer, takes all its bytes or raises: a buffered one (a
    BufferedWriter writes again after a short write(2)) over a blocking file, or one in memory. Not a raw one (python
    -u's FileIO, Windows' console under -u), whose write may be short, nor one over a file set O_NONBLOCK, whose
    buffered write raises BlockingIOError having taken a part that the text layer above it cannot tell."""
    if isinstance(binary, io.RawIOBase):
        return False
    try:
        return os.get_blocking(binary.fileno())
    except (AttributeError, OSError, ValueError):
        # (no file: io.BytesIO, io.UnsupportedOperation; no os.get_blocking: Windows before Python 3.12, where a
        # pipe is never non-blocking)
        return True


def _flush_when_it_can(stream: Any) -> None:
    # a BufferedWriter keeps what a non-blocking flush could not write, so flushing again later loses nothing (the
    # text layer's few pending bytes of a print fit its buffer, which the flush empties first)
    while True:
        try:
            stream.flush()
            return
        except BlockingIOError:
            _wait_until_writable(stream)


def _wait_until_writable(stream: Any) -> None:
    import select

    select.select([], [stream.fileno()], [])


def say_end(line: str) -> None:
    """main's line for how a command ended (its error, its stop) and a note said just before it, on stderr, which may
    be gone by then: a terminal hung up (EIO: the SIGHUP of a dropped ssh session), a pipe whose reader left (EPIPE),
    a stream closed. The line is dropped where it cannot be written (a command that writes a log.txt has its
    `stopped:` line there already): the failed write made main die with a traceback or without a word (a closed
    stream's ValueError), or answer 141 for a reader gone, instead of the command's own exit code."""
    if sys.stderr is None:          # (pythonw)
        return
    try:
        eprint(line)
    except (OSError, ValueError) as e:
        # (a reader gone or a dead terminal: stdout and stderr pointed at os.devnull, so that what is still buffered
        # does not fail in its turn at exit, exit status 120)
        output_gone(e)


def warn(msg: str) -> None:
    # the ranks other than 0 say which they are in the words of main's errors and the Python warnings, after the
    # line's kind: "wildgan: warning (rank 1 of 2): ..." (this said "wildgan (rank 1 of 2): warning: ...", so that
    # one rank's warnings came in two forms); a line of no kind as main's stops: "wildgan (rank 1 of 2): ..."
    tag = rank_tag()
    if msg.startswith(WARNING):
        eprint(f"wildgan: warning{tag}: {msg[len(WARNING):]}")
        said(msg[len(WARNING):])        # into a run's log.txt too, as a Python warning is (runlog.copying_warnings)
    else:
        eprint(f"wildgan{tag}: {msg}")


def show(msg: str) -> None:
    """A line of a command's progress on stderr: a warning or a note looks like the CLI's own ("wildgan: warning:
    ..."), any other line is shown as is (a run's log.txt keeps every line as is)."""
    from ..progress import beside_bars

    with beside_bars():     # (a line said while training's bar is drawn went on after the bar's text)
        eprint(f"wildgan: {msg}" if msg.startswith(("warning:", "note:")) else msg)


def log_to(run_dir: Path) -> RunLog:
    """The command's log.txt in `run_dir`, its lines shown on stderr too; the wildgan warnings said while it is given
    to copying_warnings go into it as well (held until its first line: a refused command writes nothing)."""
    return RunLog(run_dir / "log.txt", show=show, make_folder=True)


def option_given(a: argparse.Namespace, dest: str) -> bool:
    """Whether an option was given (in any spelling argparse accepts, abbreviations too): typed on the command line
    (main records which, a.typed), even at its default value; else, for a namespace parsed without main, whether it
    differs from its default."""
    if getattr(a, "typed", None) is not None:
        return dest in a.typed
    return getattr(a, dest) != a.defaults.get(dest) if getattr(a, "defaults", None) else False


def counted(n: int, noun: str) -> str:
    """'1 image', '0 images', '4 images': a summary line's count with its noun (it read '1 of 1 images flagged')."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def use_threads(a: argparse.Namespace) -> None:
    """--threads of score / evaluate / report: torch's intra-op thread count for this process."""
    if a.threads:
        import torch

        torch.set_num_threads(int(a.threads))


# what to do when --out cannot be written (fileio.unwritable_error: a read-only place, no permission, a full disk)
WRITABLE_OUT = "give --out a folder you can write to"


def check_out_file(out: str, example: str, *, suffixes: tuple[str, ...], what: str, starts: bytes | None = None,
                   only: bool = False) -> None:
    """--out must be a file that can be written: refused before the (possibly long) work, not when the result is
    written (a folder, a parent that is a file, a read-only or missing-permission place); and one that replaces no
    file of another kind than the command's output, `what` (fileio.refuse_replacing_another_kind: `suffixes` and
    `starts` say which files are of its kind), nor names an image. only: the name must end in one of `suffixes`
    (export's .onnx, as its help says)."""
    import tempfile

    from ..data.image_decode import IMAGE_EXTS, OTHER_IMAGE_EXTS
    from ..fileio import is_stream, refuse_replacing_another_kind
    from ..training.run import refuse_a_run_or_study_file

    p = Path(out)
    if p.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name, e.g. {p / example}")
    if out.endswith(("/", os.sep)) and out.rstrip("/" + os.sep):
        # 'results/' names a folder, as cp and mkdir read it: Path drops the slash, and the scores were written to a
        # file named 'results', without an extension, where a folder was meant
        raise ConfigError(f"--out {out} names a folder (it ends in '/'); give a file name, e.g. {p / example}")
    # (a run's or a study's own file, or one in a folder wildgan rewrites: the rule of every writer, the API's too;
    # a stream's too, `>> RUN/config.json`, into which a CSV is appended)
    refuse_a_run_or_study_file(out, example)
    if is_stream(out):
        # /dev/null, a FIFO, /dev/stdout (even under `>> old.log`): written into as given (fileio.atomic_write_stream),
        # nothing replaced, so neither resolved (a pipe's /proc/PID/fd/pipe:[N] is no path) nor probed with a file
        if only:
            raise ConfigError(f"--out {out} is not a regular file (a pipe, a device or standard output): {what} is "
                              f"written to a file; give a name ending in {suffixes[0]}, e.g. {example}")
        if not os.access(out, os.W_OK):
            raise ConfigError(f"cannot write --out {out}: permission denied")
        return
    if p.is_symlink():
        p = p.resolve()                 # (written through the link: its target is what must be writable)
    refuse_replacing_another_kind(out, suffixes, what, example, label="--out", starts=starts)
    # a new file, but a name that says another kind: a CSV named .png among the images was read as a broken image by
    # the next command that read the folder; and export's help promises an .onnx
    suffix = Path(out).suffix.lower()
    if suffix not in suffixes and (suffix in IMAGE_EXTS or suffix in OTHER_IMAGE_EXTS):
        raise ConfigError(f"--out {out} names an image file ({suffix}), but {what} is written there; give a name "
                          f"ending in {suffixes[0]}, e.g. {Path(out).parent / example}")
    if only and suffix not in suffixes:
        raise ConfigError(f"--out {out} does not end in {suffixes[0]}: {what} is written there; give a name ending "
                          f"in {suffixes[0]}, e.g. {Path(out).with_suffix(suffixes[0])}")
    blocking = next((q for q in p.parents if q.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise ConfigError(f"cannot write --out {out}: {blocking} is a file, not a folder")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)         # (created at the end anyway, by the atomic write)
        with tempfile.NamedTemporaryFile(dir=p.parent, prefix=f".{p.name}.", suffix=".probe"):
            pass
    except OSError as e:
        raise (unwritable_error(e, out, "give --out a file in a folder you can write to", label="--out", at=p.parent)
               or ConfigError(f"cannot write --out {out}: {e.strerror or e} ({e.filename or p.parent})")) from None


def data_path_if_valid(a: argparse.Namespace) -> str | None:
    """The data path the config will record, for the --out checks made before the data is read; None when it does
    not resolve (the reading of the data then says what is wrong with it)."""
    from ..data.readers import absolute_data_path

    try:
        return absolute_data_path(a.data, a.dataset)
    except WildganError:
        return None


def refuse_missing_data(a: argparse.Namespace) -> None:
    """A typed --data that names nothing, refused naming --data before the data is read (train, study; score checks
    its own list): the reader's 'PATH: no such file or folder' named the absolute path and no option. And a typed
    --download that would fetch nothing (data.readers.unused_download), refused naming both options. A --config
    file's `data:` is not typed (build_run_config names the file), and a $WILDGAN_DATA root that is gone is named as
    the variable's (data.readers.absolute_data_path)."""
    from ..data.readers import given_data_missing, unused_download

    if option_given(a, "data"):
        err = given_data_missing(a.data, "--data", getattr(a, "dataset", "auto"), bool(getattr(a, "download", False)))
        if err is not None:
            raise err
    # a typed --download that would fetch nothing (`--data x.npz --download`) was ignored in silence, as though the
    # download had been tried; a --config file's recorded download is not refused (a run made so replays as it was)
    if getattr(a, "download", False) and option_given(a, "download"):
        why = unused_download(a.data, getattr(a, "dataset", "auto"))
        if why is not None:
            data = f" with --data {shell_word(str(a.data))}" if a.data not in (None, "") else ""
            raise ConfigError(f"--download{data}: {why}; drop --download (or give --dataset cifar10 and --data a "
                              f"new folder to fetch CIFAR-10 into)")


def refuse_a_saved_detector(path: str, command: str) -> None:
    """Refuse, saying what to do instead, a RUN_DIR argument that names a Detector saved by the Python API: the
    library's rule (checkpoint.refuse_saved_detector, which the API's run readers apply too), in the command's words."""
    from ..checkpoint import refuse_saved_detector

    refuse_saved_detector(path, command, cli=True, scoring_hint=command != "export")


def path_exists(path: str) -> bool:
    try:
        return Path(path).expanduser().exists()
    except (OSError, ValueError):          # a name too long, a NUL byte: no such path
        return False


def refuse_split_paths(words: Sequence[str] | None, option: str) -> None:
    """A path with spaces typed without quotes reaches a list option (score --data, report --image) as several words,
    the first of which does not exist: 'new: no such file or folder' did not say why. Refused naming the path."""
    import shlex

    words = list(words or [])
    for i, w in enumerate(words):
        if path_exists(w):
            continue
        for j in range(i + 2, min(len(words), i + 6) + 1):
            joined = " ".join(words[i:j])
            if path_exists(joined):
                raise ConfigError(f"{w}: no such file or folder ({option}); {joined!r} is one path with spaces in "
                                  f"it, split by the shell into words: put it in quotes ({shlex.quote(joined)})")


def check_tqdm_environment() -> None:
    """ConfigError naming the TQDM_* environment variables where tqdm cannot read them. tqdm reads them as it is
    imported (torch imports it too), so `TQDM_MININTERVAL=abc`, the variable docs/cli.md names for the bars' interval
    in a log, ended every command but --help with a traceback, `ValueError: could not convert string to float:
    'abc'`, from inside torch's import. Nothing to read where none is set or tqdm is imported already."""
    given = sorted((k, v) for k, v in os.environ.items() if k.startswith("TQDM_"))
    if not given or "tqdm" in sys.modules:
        return
    try:
        import tqdm  # noqa: F401  (its import reads the variables)
    except (ValueError, TypeError) as e:
        names = ", ".join(f"{k}={as_typed(v)}" for k, v in given)
        hint = " (TQDM_MININTERVAL takes seconds, e.g. 60)" if "TQDM_MININTERVAL" in dict(given) else ""
        raise ConfigError(f"{names}: tqdm, which draws the progress bars, cannot read "
                          f"{'it' if len(given) == 1 else 'them'} ({e}): fix or unset "
                          f"{'it' if len(given) == 1 else 'the one that is wrong'}{hint}") from None
