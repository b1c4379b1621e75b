"""The options of every command, in the order `wildgan --help` lists the commands (`make_option_parser`), with the
option types and help texts they share and each command's examples.

The parser names no command's function: the commands' modules import it (demo parses its train command line, the
--config replay parses train's options), so `wildgan.cli.make_parser` gives each command's parser the function that
runs it."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import Any, NoReturn

from ..config import DEFAULT_CONTAMINATION, DEFAULT_MAD_K, SCORE_NAMES, as_typed, dist_timeout_problem
from ..errors import ConfigError, shell_word
from .common import PGAN_ONLY_OPTIONS, option_flag, path_exists, write_stdout


def _whole_number(text: str, least: int, other: str = "") -> int:
    """An option's whole number >= least (`other`: what else the option takes, for the message)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number{other}, got {as_typed(text)}") from None
    if v < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}{other}, got {v}")
    return v


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _threads(text: str) -> int:
    return _whole_number(text, 0, " (0 = torch's default)")


def _keep_count(text: str) -> int | None:
    """--keep-checkpoints: a whole number >= 0, or 'all' (None)."""
    if str(text).strip().lower() == "all":
        return None
    return _whole_number(text, 0, " or 'all'")


def _device(text: str) -> str:
    """A --device value checked when the options are read: a typo must not get as far as a run folder."""
    if text != "auto":
        # (imported here: devices imports torch, seconds, which the default, converted at every parse, does not need)
        from ..devices import check_device_name

        try:
            check_device_name(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("device ")) from None
    return text


def _dist_minutes(text: str) -> float:
    """--dist-timeout: checked when the options are read, so that a bad value is refused without --distributed too
    (where the option is ignored with a warning), not only when a torchrun job starts. (config's check, not
    training.distributed's module: that one imports torch, seconds, for every command line with --dist-timeout.)"""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {as_typed(text)}") from None
    problem = dist_timeout_problem(v, as_typed(text))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return v


DEVICE_HELP = "auto (CUDA when available) | cpu | cuda | cuda:N (default auto)"


THREADS_HELP = ("CPU threads for the networks (default or 0: torch's, the core count; scores move by float noise "
                "between counts)")


# (mad's part says what it flags: called a robust alternative, it flagged none of the training images in every
# walkthrough run, its bound being beyond a clean fit's scores)
THRESHOLD_RULES_HELP = ("contamination = the 100*(1-G) percentile of the run's training-split scores, mad = only "
                        "their outliers, above median + K * 1.4826 * MAD (not a share of them: on a clean fit it may "
                        "flag none)")


EXAMPLES_TRAIN = """examples:
  # a folder of your own images (loose files: an unlabelled pile, anomalies and all,
  # as the README's quick tour starts): fast preset, the paper's schedule, hours on a CPU
  wildgan train --data my_images/ --out runs/mine
  # ... a first try of it on a CPU: a few minutes on 2 cores
  wildgan train --data my_images/ --preset tiny --phase-kimg 1.5 --threads 1 \\
                --out runs/mine-try
  # the embedded MNIST sample, normal digit 2, fast preset, the paper's schedule
  wildgan train --out runs/mnist
  # the paper's CIFAR_CAR at 2% contamination, the authors' networks, on a GPU
  wildgan train --data ~/data/cifar-10-batches-py --normal automobile \\
                --contamination 0.02 --preset paper --seed 0 --out runs/car-g2 \\
                --device cuda
  # red-blood-cell crops (64x64), the paper's schedule with 40-kimg phases
  wildgan train --data ~/data/chula-rbc12-gray64.npz --dataset chula-rbc12 \\
                --preset fast --phase-kimg 40 --out runs/cells
  # the f-AnoGAN baseline (32x32 or 64x64 images), a first try on a CPU: DIM 16, as
  # its official 64 (the default) takes seconds per critic iteration there
  wildgan train --data ~/data/cifar-10-batches-py --normal automobile \\
                --method fanogan --fanogan-dim 16 --fanogan-iters 200 \\
                --fanogan-enc-iters 200 --out runs/car-fanogan-try
  # replay a run exactly; continue a run after a crash (or for a longer one)
  wildgan train --config runs/car-g2/config.yaml --out runs/car-g2-replay
  wildgan train --out runs/mnist --resume
"""


EXAMPLES_SCORE = """examples:
  wildgan score runs/car-g2 --out scores.csv       # the run's own test split
  # every image in a folder (recursively); individual files
  wildgan score runs/car-g2 --data ~/new_images/ --out new.csv
  wildgan score runs/car-g2 --data a.png b.jpg --out two.csv
  # flag new images by the run's training scores (5% expected anomalies)
  wildgan score runs/car-g2 --data ~/new_images/ --threshold contamination \\
                --out flagged.csv
  # ... at the share of anomalies the run was trained with (gamma 2%)
  wildgan score runs/car-g2 --data ~/new_images/ --threshold contamination \\
                --expected-contamination 0.02 --out flagged.csv
  # most anomalous first (column 2 is a for files and folders; a labelled
  # data set has label there and a in column 3)
  wildgan score runs/car-g2 --data new/ --out - | tail -n +2 | sort -t, -k2 -gr | head
"""


EXAMPLES_EVAL = """examples:
  wildgan evaluate runs/car-g2
  wildgan evaluate runs/car-g2 --json > eval.json
  # every image of labelled/ (class folders), after a run on unlabelled images
  wildgan evaluate runs/pile --data labelled/ --normal good
  # every image of other.npz, not its test split
  wildgan evaluate runs/car-g2 --data other.npz --whole
"""


EXAMPLES_STUDY = """examples:
  # the paper's CIFAR_CAR comparison: gamma 0 and 2%, all methods, both
  # encoder losses, 3 seeds
  wildgan study --data ~/data/cifar-10-batches-py --dataset cifar10 \\
                --normal automobile --contamination 0,0.02 \\
                --methods wildgan,fanogan,search --encoder-loss image,latent \\
                --seeds 0,1,2 --preset paper --out studies/cifar-car
  # one-vs-rest over all ten CIFAR-10 classes
  wildgan study --data ~/data/cifar-10-batches-py --normal all \\
                --contamination 0 --preset fast --out studies/ovr
  # re-running the same command skips finished cells and resumes an
  # interrupted one
"""


EXAMPLES_REPORT = """examples:
  # RUN_DIR/report/report.html (+ report.md, PNGs)
  wildgan report runs/car-g2
  wildgan report runs/car-g2 --top-k 16 --image odd1.png odd2.png
  # a study: tables, AUC vs gamma, every result row
  wildgan report studies/cifar-car
  # ... with the figure and table of the plain residual L_r for every method (from its rows, no retraining)
  wildgan report studies/cifar-car --score L_r
"""


# A word argparse takes for a value (a negative number), not for an option: one that starts with a minus and a digit, or
# a minus, a point and a digit (matched at the start only), Python 3.14's own rule (gh-124823). Python 3.11 to 3.13 know
# only whole numbers and plain decimals (-1, -0.5, -.5; the 3.12 and 3.13 backports of gh-123945's underscores were
# closed unmerged): `--lr -1e-3` was refused as "--lr: expected one argument" instead of reaching the check that says
# what is wrong with the number. A word such as -1x is a value too, as `--lr=-1x` always was: refused by the option's
# type, which names the option and the word ("argument --lr: invalid float value: '-1x'"), or taken by an option of any
# text (`--out -1x`). Every parser of wildgan sets it, so that the command line reads alike on every Python; no option
# of wildgan starts with a minus and a digit, so the wider rule hides none. The words float() reads as a negative
# infinity or NaN (-inf, -infinity, -nan, any case) are values too, on every Python: `--lr -inf` was refused as
# "argument --lr: expected one argument" where `--lr=-inf` reached the check that says the rate must be a positive
# number. Only those whole words (not -info), and wildgan has no one-dash option but -h, so they hide no option either.
_NEGATIVE_NUMBER = re.compile(r"-\.?\d|-(?:inf|infinity|nan)\Z", re.IGNORECASE)


def reads_as_option(word: str) -> bool:
    """Whether a wildgan parser reads `word` on a command line as an option, not as a value: it starts with a minus,
    and is neither a negative number (_NEGATIVE_NUMBER: -1, -0.5, -inf) nor a lone minus, argparse's rules. The
    checks that look at the words themselves (which option took a word, which words a path split by the shell is
    made of) use it, so that they read `--data -1.png` as argparse does: a word that starts with a minus told them
    it was an option where argparse had taken it for a value."""
    return word.startswith("-") and word != "-" and not _NEGATIVE_NUMBER.match(word)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (every command's parser is one of these: the subparsers' parser_class; argparse reads it when it parses)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def print_help(self, file: Any = None) -> None:
        # (a command's help is pages long: argparse's one write to an unbuffered stdout could be cut short, as any
        # command's output, common.write_stdout)
        if file is None or file is sys.stdout:
            write_stdout(self.format_help())
        else:
            super().print_help(file)


class _PreParseError(Exception):
    """A pre_parser's refusal of the command line, which the command's own parser says instead (pre_parse)."""


class _PreParser(_Parser):
    def error(self, message: str) -> NoReturn:
        # (not argparse's exit with this hidden parser's usage: pre_parse has the command say it)
        raise _PreParseError(message)


def pre_parser() -> argparse.ArgumentParser:
    """A parser for the few options read before the command line's parse (config_args: --config, --out, --resume of
    `train`), which reads a word after an option as a value or as an option as the command's parser does
    (_NEGATIVE_NUMBER): a plain ArgumentParser, Python's own rule, refused `train --out -1e-3` ("argument --out:
    expected one argument", with the usage of that hidden parser) where the command's parser takes the folder. Read
    it with pre_parse, which has the command's parser say a refusal."""
    return _PreParser(add_help=False)


def pre_parse(pre: argparse.ArgumentParser, argv: Sequence[str],
              command: Callable[[], argparse.ArgumentParser]) -> argparse.Namespace:
    """The options of pre_parser `pre` in argv (the words after the command's name), the others left for the command
    line's parse. Words it refuses (`train --preset tiny --out`, no folder after --out) are refused by the command's
    parser (`command()`, made only then), as the command line's parse refuses them: with the command's usage and
    `wildgan train: error: argument --out: expected one argument`, not with the usage of a hidden parser of five
    options named after the Python file that runs (`usage: __main__.py [--config CONFIG] [--out OUT] ...`)."""
    try:
        return pre.parse_known_args(list(argv))[0]
    except _PreParseError as e:
        own = command()
        # its parse exits with its own error: the first the command line has, as the parse after this would say it
        own.parse_known_args(list(argv))
        # (its options are a superset of pre's, read by the same rule, so a word pre refuses it refuses too; were
        # one taken, the refusal is still said as the command's, not lost)
        own.error(str(e))


class _CommandParser(_Parser):
    """A command's parser, whose error for a missing positional says why where an option takes a list: `wildgan score
    --data new/ runs/x` gives runs/x to --data (it takes every word up to the next option), and argparse then said
    only 'the following arguments are required: run_dir', of a command line that has one."""

    _given: list[str] | None = None     # (None until a parse: error then assumes every list option took words)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # the words given to this command (the subparsers' action passes them here), for error's hint
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def _took_words(self, action: argparse.Action) -> bool:
        """Whether the command line gave `action` (a list option) a word after it, by its name or a prefix of it
        (argparse's abbreviations; not `--data=X`, which takes X alone): only then can it have taken the run folder.
        Unknown (no words recorded): assumed so."""
        given = self._given
        if given is None:
            return True
        for i, word in enumerate(given[:-1]):
            named = word in action.option_strings or (
                self.allow_abbrev and word.startswith("--") and len(word) > 2 and "=" not in word
                and any(o.startswith(word) for o in action.option_strings))
            if named and not reads_as_option(given[i + 1]):
                return True
        return False

    def error(self, message: str) -> NoReturn:
        # (only the list options the command line used: `wildgan score` with no run folder, or with none after
        # --data, got a hint of a --data that was never typed)
        lists = [a.option_strings[-1] for a in self._actions if a.option_strings and a.nargs in ("*", "+")
                 and self._took_words(a)]
        missing = [str(a.metavar or a.dest) for a in self._actions if not a.option_strings
                   and a.required and str(a.metavar or a.dest) in message]
        if message.startswith("the following arguments are required:") and lists and missing:
            message += (f" ({' and '.join(lists)} {'takes' if len(lists) == 1 else 'take'} every word after it up "
                        f"to the next option, so a {missing[0]} typed after {' or '.join(lists)} is read as one of "
                        f"its paths: give {missing[0]} first, e.g. `{self.prog} RUN {lists[0]} ...`)")
        super().error(message)


def make_option_parser() -> argparse.ArgumentParser:
    """`wildgan` and every command's options, without the functions that run the commands (`func`: wildgan.cli's
    make_parser adds them)."""
    p = _Parser(prog="wildgan", description="Unsupervised image anomaly detection with a progressive GAN and a "
                "jointly trained encoder (Berg et al.), for training data that is not clean. Higher score = more "
                "anomalous; label 1 = anomaly.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    from .. import __version__

    p.add_argument("--version", action="version", version=f"wildgan {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND", parser_class=_CommandParser,
                           title="commands (wildgan COMMAND --help for each)")

    t = sub.add_parser("train", help="train a model", epilog=EXAMPLES_TRAIN,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_train_args(t)
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--resume", action="store_true",
                   help="continue from the newest good checkpoint in --out, with the run's own settings "
                        "(RUN/config.yaml; options given beside it change only what they control, e.g. a longer "
                        "--total-kimg)")
    t.add_argument("--overwrite", action="store_true",
                   help="delete a previous run in --out and start again (without it, an existing run is refused, "
                        "except one that failed before its first training step: only its config, split and log)")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training over the processes started by torchrun, e.g. "
                        "torchrun --nproc_per_node=2 -m wildgan train --distributed ... (rank 0 writes the run)")
    t.add_argument("--dist-timeout", type=_dist_minutes, metavar="MINUTES",
                   help="with --distributed: how long a rank waits for the others before the job stops (a rank that "
                        "hangs; default 30, and torch's 10 for NCCL's GPU collectives unless given). Keep it above "
                        "what one rank does while the others wait: rank 0 writing a checkpoint (under 1 GB at the "
                        "paper preset), every rank reading the data before they start together")
    t.add_argument("--config", help="YAML/TOML/JSON file with option values; a run's config.yaml replays that run "
                                    "exactly (explicit flags change only what they control)")
    t.add_argument("--dry-run", action="store_true",
                   help="print the resolved config (JSON, on stdout) and exit; settings the start would refuse (the "
                        "minibatch sizes, the memory, ...) are refused as it refuses them, and so is an --out inside "
                        "the --data folder and, with --resume, a setting the resume may not change; what else the "
                        "--out folder holds is not checked")
    t.add_argument("--evaluate", action="store_true", help="evaluate on the test split after training")
    t.add_argument("--no-train-scores", action="store_true",
                   help="do not score the training images at the end (recorded in the run's config: a --resume "
                        "remembers it; by default wildgan and f-AnoGAN runs score them, once, "
                        "and cache them in RUN_DIR/train_scores.csv: the thresholds of `wildgan score --threshold`; "
                        "without them, "
                        "the first thresholded scoring computes them, and needs the training images then)")
    # the same dest, so that `--resume --train-scores` undoes a recorded --no-train-scores (the explicit flag
    # differs from what the run's config file gives, so build_run_config takes it)
    t.add_argument("--train-scores", dest="no_train_scores", action="store_false", default=False,
                   help="score the training images at the end (the default; undoes a --no-train-scores that a "
                        "--resume or --config would otherwise remember)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = sub.add_parser("score", help="score images with a trained run", epilog=EXAMPLES_SCORE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("run_dir", help="a run directory written by `wildgan train`")
    s.add_argument("--data", nargs="*",
                   help="image files and/or folders: every image in them, folders recursively; or ONE data set "
                        "file (.npz, .tar.gz, .zip, a CIFAR-10 batch folder): its test split under the run's protocol, "
                        "with labels (default: the run's own test split); an .npz without labels, or any data-set "
                        "file after a run trained on unlabelled images / by Detector.fit: every image (labelled "
                        "with --normal)")
    s.add_argument("--skip-bad", action="store_true",
                   help="leave out unreadable image files (each one is named in a warning) instead of stopping; "
                        "with --threshold, also the run's training images unreadable since training, when its "
                        "training scores are computed again (the threshold records how many it comes from)")
    s.add_argument("--checkpoint", metavar="FILE",
                   help="score with this checkpoint (RUN/checkpoints/ckpt-*.json, or its name) instead of the run's "
                        "final networks; --threshold then takes the checkpoint's own training scores, computed from "
                        "the run's training images and not cached (the run's cache stays its final networks')")
    s.add_argument("--out", required=True, help="CSV file: id, label (when known), every score (- : standard output); "
                                                "an existing file is replaced only if it is a scores CSV (its "
                                                "first line id,...) or empty")
    s.add_argument("--device", default="auto", type=_device, help=DEVICE_HELP)
    s.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. for logs)")
    _threshold_options(s, "add is_anomaly (0/1), threshold, threshold_rule, threshold_score and train_percentile "
                          "columns for --score: " + THRESHOLD_RULES_HELP + " (an F1-optimal threshold needs a "
                          "labelled validation set: Python API, Detector.from_run(RUN_DIR, threshold='f1', "
                          "X_val=..., y_val=...))",
                       "the score --threshold flags by (default: the method's own, A for f-AnoGAN, else a, as report "
                       "ranks by; e.g. L_r, the residual)")
    s.add_argument("--normal", help="normal class(es) of a labelled data-set --data, comma separated: labels "
                                    "the rows (after a run trained on unlabelled images, which has no classes)")
    s.add_argument("--whole", action=argparse.BooleanOptionalAction, default=None,
                   help="with a labelled data set for --data: score every image of it, labelled (normal classes = 0, "
                        "the rest = 1), not its protocol's test split (as evaluate --whole)")
    s.add_argument("--no-A", dest="no_A", action="store_true",
                   help="wildgan runs: leave out f-AnoGAN's A score (the CSV has no A column). A needs the critic's "
                        "features of every image and of its reconstruction, about half of the scoring's work; a, "
                        "L_n, L_o and L_r do not change")
    s.add_argument("--distributed", action="store_true",
                   help="share the image files between the processes started by torchrun, e.g. "
                        "torchrun --nproc_per_node=4 -m wildgan score RUN --data pile/ --distributed --out s.csv "
                        "(each process reads and scores its chunks on its GPU; rank 0 writes the CSV; the scores "
                        "are those of one process)")
    s.add_argument("--dist-timeout", type=_dist_minutes, metavar="MINUTES",
                   help="with --distributed: how long a rank waits for the others before the job stops (a rank that "
                        "hangs; default 30). Raise it for --threshold on a run without saved training scores (latent "
                        "search, --checkpoint): rank 0 scores the training images first while the others wait")
    s.add_argument("--batch-mode", choices=("mixed", "isolated"), default="mixed",
                   help="wildgan runs: 'mixed' (default; the paper's protocol) scores images in shuffled batches of "
                        "64, whose minibatch-stddev groups of 4 couple their scores a little; 'isolated' scores each "
                        "image on its own, so an image scored alone (streaming) gets the score it gets among others "
                        "(the ONNX export's protocol); --threshold and train_percentile then use training scores made "
                        "the same way")
    s.add_argument("--chunk-size", type=_positive_int, metavar="N",
                   help="image files are read and scored about N at a time (wildgan runs: whole score batches, "
                        "at least 64), "
                        "so memory holds one chunk whatever the size of the pile (default: 64 MB of pixels, e.g. "
                        "21,824 images at 32x32x3, 320 at 256x256x3, the most an interruption loses; 512 MB with "
                        "--out -, which keeps nothing to resume from; an eighth of that for latent search); "
                        "the scores do not depend on N")
    s.add_argument("--no-resume", action="store_true",
                   help="score every chunk again, deleting OUT.chunks/ as the scoring starts (a refused command "
                        "keeps it): a pile read in several chunks keeps each finished chunk's scores there (deleted "
                        "once OUT is written), and by default a rerun with the same --out, files, run and options "
                        "takes them from there instead of scoring them again (an interrupted scoring resumes; chunks "
                        "whose files changed are scored again)")
    s.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    s.set_defaults(defaults={act.dest: act.default for act in s._actions})   # for warnings about unused options

    x = sub.add_parser("export", help="export the scoring graph (E, Gs and the scores; f-AnoGAN runs too) for "
                       "onnxruntime",
                       epilog="example:\n  wildgan export runs/mnist --format onnx --out mnist.onnx",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("run_dir", help="a run directory written by `wildgan train` (method wildgan or fanogan)")
    x.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default onnx)")
    x.add_argument("--out", required=True, help="output file (.onnx; an existing one is replaced)")
    x.add_argument("--batch-size", type=int, default=64,
                   help="example batch the graph is traced with; the batch axis stays dynamic (default 64)")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    x.add_argument("--input-type", choices=("uint8", "float"), default="uint8",
                   help="uint8 [N, R, R, C] images (default) or float32 [N, C, R, R] in [-1, 1]")
    x.add_argument("--no-A", action="store_true", help="leave the f-AnoGAN score A (and D) out of the graph")
    _threshold_options(x, "record a threshold for --score in the model's metadata_props (threshold, threshold_rule, "
                          "threshold_score, threshold_params): " + THRESHOLD_RULES_HELP + "; the scores are those of "
                          "the graph's protocol (wildgan runs: each image alone, as score --batch-mode isolated; "
                          "cached in RUN/train_scores-isolated.csv, computed when missing). Default: no threshold",
                       "the output --threshold applies to (default: the method's own, A for f-AnoGAN, else a)")
    x.add_argument("--device", default="auto", type=_device,
                   help="where the training split is scored for --threshold when its scores are not cached (the "
                        "export itself runs on the CPU): " + DEVICE_HELP)
    x.add_argument("--no-progress", action="store_true", help="no progress bar while the training split is scored")
    x.add_argument("--skip-bad", action="store_true",
                   help="--threshold: leave the run's training images that are unreadable since training out of "
                        "its training scores (each named in a warning; threshold_params records n, the images it "
                        "comes from, and n_trained) instead of stopping")
    x.set_defaults(defaults={act.dest: act.default for act in x._actions})   # for warnings about unused options

    e = sub.add_parser("evaluate", help="AUC/AP of every score, with controls", epilog=EXAMPLES_EVAL,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("run_dir", help="a run directory written by `wildgan train`")
    e.add_argument("--data", help="evaluate on this data instead of the run's own (same protocol)")
    e.add_argument("--normal", help="normal class(es) of --data, comma separated (default: the run's own, or the "
                                    "protocol's default; needed for a class-folder tree after an unlabelled run)")
    e.add_argument("--whole", action=argparse.BooleanOptionalAction, default=None,
                   help="with --data: evaluate on every labelled image of it (normal classes = 0, the rest = 1), "
                        "not on its protocol's test split (the default after a run trained on unlabelled images or "
                        "by Detector.fit; --no-whole: the protocol's test split)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--device", default="auto", type=_device, help=DEVICE_HELP)
    e.add_argument("--no-controls", action="store_true",
                   help="skip the untrained-network and pixel controls: eval.json then has no 'controls', and "
                        "test_controls.csv keeps only the other generator's columns (G_a, ...) of a wildgan run, and "
                        "is removed for f-AnoGAN and search runs (no earlier evaluation's controls left beside it)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. for logs)")
    e.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    e.add_argument("--skip-bad", action="store_true",
                   help="leave out unreadable image files instead of stopping (those unreadable since training are "
                        "named in a warning, with the test images that remain)")

    i = sub.add_parser("info", help="parameter counts and FLOPs of a preset (or of a run's networks)",
                       epilog="examples:\n  wildgan info --preset paper --resolution 32 --channels 3\n"
                              "  wildgan info RUN    # a trained run's networks (its results: wildgan report RUN)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    # (a run folder, as every other command takes it first: `wildgan info RUN` was refused as an unknown argument)
    i.add_argument("run", nargs="?", metavar="RUN", help="a run folder: its own networks, from its config.json, and "
                   "the files that killed or damaged checkpoint writes left in it (read only: nothing is deleted)")
    # (defaults applied by cmd_info, so that one given beside RUN is told apart from the default)
    i.add_argument("--preset", choices=("paper", "fast", "tiny"), help="network width (default paper)")
    i.add_argument("--resolution", type=int, help="image side, a power of two (default 32)")
    i.add_argument("--channels", type=int, choices=(1, 3), help="1 = gray, 3 = RGB (default 3)")
    i.add_argument("--width", type=int, help="override the preset's channel width, as train --width")
    i.add_argument("--latent-size", type=int, metavar="N_Z", help="latent size N_z, as train --latent-size")
    i.add_argument("--json", action="store_true", help="print one JSON object")

    st = sub.add_parser("study", help="the paper's contamination study as one resumable grid",
                        epilog=EXAMPLES_STUDY, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_train_args(st, study=True)
    st.add_argument("--normal", help="normal class(es), comma separated: one one-vs-rest cell each (join classes "
                                     "with + for one cell with several normal classes, e.g. 0+1), or 'all' (every "
                                     "class; default: the protocol's default normal class(es), as one cell: "
                                     "automobile for CIFAR-10, the normal RBCs for chula-rbc12, 2 for MNIST; other "
                                     "labelled folders and .npz files have none and need it)")
    # (train's placeholders, as lists: the same option reads the same in both commands' help)
    st.add_argument("--contamination", default="0,0.02", metavar="GAMMA,...",
                    help="gammas, comma separated: the fractions of anomalies injected into each cell's training "
                         "set, each in [0, 1) (default 0,0.02)")
    st.add_argument("--methods", default="wildgan", metavar="{wildgan,fanogan,search},...",
                    help="comma separated: wildgan,fanogan,search (default wildgan)")
    st.add_argument("--encoder-loss", default="image", metavar="{image,latent},...",
                    help="comma separated: image,latent (default image; wildgan cells only)")
    st.add_argument("--seeds", default="0", metavar="SEED,...", help="comma separated seeds (default 0)")
    st.add_argument("--out", required=True, help="study directory (results.jsonl, tables.md, runs/)")
    st.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. for logs)")

    d = sub.add_parser("demo", help="train + evaluate on the embedded MNIST sample (the README's main job)",
                       description="Train + evaluate on the embedded MNIST sample, always: $WILDGAN_DATA is not "
                                   "read\n(`wildgan train --data PATH` trains on data of your own).",
                       epilog="example:\n  wildgan demo --out runs/demo",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", default="runs/demo",
                   help="run directory (default runs/demo; a later demo replaces only a demo's own output)")
    # Sized to finish in a few minutes on 2 CPU cores; a real model needs --preset fast/paper and the paper's
    # schedule (wildgan train).
    d.add_argument("--normal", default="1", metavar="DIGITS",
                   help="the normal digit(s), comma separated (default 1; e.g. 1,7: both are normal, the other "
                        "digits the anomalies)")
    d.add_argument("--preset", choices=("paper", "fast", "tiny"), default="tiny", help="network width (default tiny)")
    d.add_argument("--total-kimg", type=float, default=30.0, help="training length in kimg (default 30)")
    d.add_argument("--phase-kimg", type=float, default=4.0, help="kimg per fade / stable phase (default 4)")
    d.add_argument("--threads", type=_threads, default=1, metavar="N",
                   help="CPU threads (default 1: numbers that do not depend on the core count; 0 = torch's "
                        "default)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--device", default="auto", type=_device, help=DEVICE_HELP)
    d.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. for logs)")

    add_report_parser(sub)
    return p


def _add_train_args(p: argparse.ArgumentParser, study: bool = False) -> None:
    """Options shared by train and study; `study` leaves out the ones a study takes as lists."""
    g = p.add_argument_group("data")
    if study:
        # a study measures AUC on each cell's test split: cmd_study refuses unlabelled data, which train takes
        g.add_argument("--data", help="labelled data: a tree of class folders, a CIFAR-10 batch dir, an .npz with "
                                      "labels, or a .tar.gz or .zip of class folders or CIFAR-10's batches (default: "
                                      "$WILDGAN_DATA, else the embedded MNIST sample)")
        g.add_argument("--dataset", default="auto",
                       help="protocol of every cell's split: auto | cifar10 | chula-rbc12 | mnist | folder | npz "
                            "(default: auto, chosen by the data; labelled data of other kinds takes the generic "
                            "one-vs-rest protocol); cifar-batches insists on CIFAR-10's python batches (the cifar10 "
                            "protocol). Each cell trains on its --normal class(es) plus the gamma fraction of "
                            "anomalies drawn from the other classes and is evaluated on the protocol's test split; "
                            "unlabelled data (a folder of loose images, --dataset unlabelled) has no test split "
                            "and is refused")
    else:
        g.add_argument("--data", help="folder tree, CIFAR-10 batch dir, .npz, .tar.gz or .zip (default: "
                                      "$WILDGAN_DATA, else the embedded MNIST sample)")
        g.add_argument("--dataset", default="auto",
                       help="protocol: auto | cifar10 | chula-rbc12 | mnist | folder | npz | unlabelled (default: "
                            "auto; a folder of loose images is unlabelled: all of it is trained on, no test split); "
                            "cifar-batches insists on CIFAR-10's python batches (the cifar10 protocol)")
    if not study:
        g.add_argument("--normal", help="normal class name(s) or integer label(s), comma separated "
                                        "(default: the protocol's: automobile for CIFAR-10, normal (the normal "
                                        "RBCs) for chula-rbc12, 2 for MNIST; other labelled folders and .npz files "
                                        "have none "
                                        "and need it)")
        g.add_argument("--contamination", type=float, default=0.0, metavar="GAMMA",
                       help="fraction of anomalies injected into the training set, in [0, 1) (default 0)")
    g.add_argument("--resolution", type=int, help="power-of-two resolution (default: from the data)")
    g.add_argument("--channels", type=int, choices=(1, 3), help="1 = gray, 3 = RGB (default: from the data)")
    g.add_argument("--rotations", type=int, help="random rotations added per training image "
                                                  "(default 3 for chula-rbc12, else 0)")
    g.add_argument("--test-size", choices=("paper", "all"), default="paper",
                   help="paper (default): the paper's test-set size, every normal held-out image and as many anomalies "
                        "(chula-rbc12: 256 + 256); all: every held-out image")
    g.add_argument("--exclude", default="", help="class(es) to drop everywhere, comma separated")
    g.add_argument("--download", action="store_true",
                   help="with --dataset cifar10: download the python batches into --data when it does not exist "
                        "or its cifar-10-batches-py is not whole (that one is moved aside) (without --data: into "
                        "$WILDGAN_CACHE/cifar10, by default ~/.cache/wildgan/cifar10); refused with other data "
                        "(an .npz, a folder of images), which it would not fetch")
    g.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable images (listed in " + ("each cell's STUDY_DIR/runs/CELL/skipped.txt)" if study
                                                                else "RUN_DIR/skipped.txt)"))
    g.add_argument("--resize", choices=("resize", "error"), default="resize",
                   help="images of another size: resize them (default) or stop with an error")
    # ('pad', the first name of letterbox, still taken: main warns and reads it as letterbox; left out of the usage)
    g.add_argument("--square", choices=("crop", "letterbox", "pad"), default="crop", metavar="{crop,letterbox}",
                   help="images that are not square: centre-crop them (default; the long edges are lost) or "
                        "letterbox them: pad to a square with black bars, for defects near the edges (split.json: "
                        "fit 'letterbox'). 'pad' is the old name of letterbox, taken with a warning")
    g.add_argument("--depth16", choices=("per-image", "global", "shift", *(f"bits:{n}" for n in range(9, 17))),
                   default="per-image", metavar="{per-image,global,shift,bits:N}",
                   help="16-bit images -> 8 bit: per-image min-max (default; removes brightness differences between "
                        "images), global /257, >>8, or bits:N for N-bit camera data (N = 9..16, e.g. bits:12: "
                        "value*255/4095, values above 2^N-1 clipped)")
    # (wrapped here: the command's RawDescriptionHelpFormatter, kept for the examples, prints it as it is)
    g = p.add_argument_group("model and training", textwrap.fill(
        ("f-AnoGAN (the fanogan cells of --methods)" if study else "f-AnoGAN (--method fanogan)")
        + " has its own networks, schedule and precision: it ignores "
        + ", ".join(option_flag(o) for o in PGAN_ONLY_OPTIONS) + " and --tensorboard"
        + (" (with a warning)" if not study else ""), 76))
    if not study:
        g.add_argument("--method", choices=("wildgan", "search", "fanogan"), default="wildgan",
                       help="wildgan: pGAN + jointly trained encoder (default); search: pGAN without encoder "
                            "(AnoGAN-style latent search at test time); fanogan: the f-AnoGAN baseline")
    # default None (= fast) so that a replayed run with a custom network can tell an explicit --preset fast
    g.add_argument("--preset", choices=("paper", "fast", "tiny"),
                   help="network width: paper (512 ch), fast (64 ch, ~64x cheaper, the default), "
                        "tiny (16 ch: tests, demo)")
    g.add_argument("--total-kimg", type=float,
                   help="training length in kimg, thousands of real images shown (default: the paper's schedule "
                        "for resolution R, (log2 R - 2) x (phase + transition) + 2/3 phase: 4000 kimg at 32x32 "
                        "with the default phases)")
    g.add_argument("--phase-kimg", type=float, default=600.0,
                   help="kimg of the stable phase per resolution (default 600)")
    g.add_argument("--transition-kimg", type=float, help="kimg of each fade-in (default: = --phase-kimg)")
    # what a kill -9 loses is not counted: the budget is of the training the run keeps (and trains again), so it
    # stays the same however often, or wherever between checkpoints, a session was killed
    kept = ("; counted over all the sessions of a resumed run, each up to its last checkpoint: what a session "
            "killed without one (kill -9, a crash) trained after it is trained again, and its time is not counted")
    g.add_argument("--minutes", type=float,
                   help="wall-clock budget of each cell's training, in minutes; stops it with a checkpoint when "
                        "reached" + kept if study else
                   "wall-clock budget of the training, in minutes; stops with a checkpoint when reached (the "
                   "training images are then scored once, see --no-train-scores)" + kept)
    if not study:
        g.add_argument("--encoder-loss", choices=("image", "latent"), default="image",
                       help="the encoder's loss, wildgan method only: image: d_I = |G(z) - G(E(G(z)))| (proposed, the "
                            "default); latent: d_z = |z - E(G(z))| (ablation)")
    g.add_argument("--g-image-loss", type=float, default=0.0, metavar="W",
                   help=("ablation, the wildgan cells only (their --encoder-loss image; the fanogan and search cells "
                         "record 0)" if study else "ablation, wildgan method with --encoder-loss image only")
                   + ": also add W x d_I to G's loss, -D(G(z)) + W |G(z) - G(E(G(z)))|, the gradient reaching G "
                     "through both G's (E frozen in that step); default 0: d_I updates E only, as in the authors' "
                     "code. 1 is the paper's joint objective")
    g.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate of G, D, E (default 1e-3; f-AnoGAN keeps its own 1e-4)")
    g.add_argument("--gp-target", type=float, default=1.0, metavar="T",
                   help="target norm of the critic's gradient penalty, lambda (|grad| - T)^2 / T^2 (default 1, "
                        "the authors' code; 750 is the pGAN paper's CIFAR-10 value, an ablation; f-AnoGAN keeps "
                        "its own 1)")
    if not study:
        g.add_argument("--seed", type=int, default=0, help="drives data draw, initialisation and sampling (default 0)")
    g.add_argument("--checkpoint-kimg", type=float,
                   help="checkpoint interval in kimg (default: ceil(total/20), at least 1; "
                   "f-AnoGAN: every 1000 iterations, or this many kimg of its batches when given)")
    g.add_argument("--keep-checkpoints", type=_keep_count, default=2, metavar="N|all",
                   help="older checkpoints kept beside the newest (default 2, fallbacks for a resume); 'all' keeps "
                        "every one, e.g. for tools/auc_over_training.py")
    g.add_argument("--sample-kimg", type=float, default=0.0, metavar="K",
                   help="also write a grid of generated samples every K kimg (default 0: at each checkpoint only)")
    g.add_argument("--on-divergence", choices=("stop", "rollback"), default="stop",
                   help="on NaN/inf: stop (default), or roll back to the last good checkpoint with half the lr "
                        "(f-AnoGAN: that of the stage that diverged)")
    g.add_argument("--fanogan-iters", type=int, help="f-AnoGAN: critic iterations (default: 7 epochs)")
    g.add_argument("--fanogan-enc-iters", type=int, help="f-AnoGAN: izi_f encoder iterations (default 50000)")
    g.add_argument("--fanogan-dim", type=int,
                   help="f-AnoGAN: base width DIM (default 64, the official value, seconds per critic iteration on "
                        "a CPU: 16 for a short try there)")
    g.add_argument("--fanogan-bn-warmup", choices=("on", "off"), default="on",
                   help="f-AnoGAN: warm-up of the BatchNorm moving-average decay (default on; off = the official "
                        "constant 0.99)")
    g.add_argument("--search-steps", type=int, metavar="N",
                   help="search: Adam steps of the latent search per image whenever the run scores images (default "
                        "500, AnoGAN's); the scoring of a search run costs about N forward and backward passes of G "
                        "and D per image, so fewer steps are faster and fit each image less closely")
    g = p.add_argument_group("run")
    g.add_argument("--device", default="auto", type=_device, help=DEVICE_HELP)
    g.add_argument("--amp", choices=("auto", "off", "bf16"), default="auto",
                   help="bf16 autocast of the G/D/E forwards (default auto: on for CUDA, off on CPU)")
    g.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                   help="channels_last memory format (default auto: CUDA only)")
    g.add_argument("--compile", choices=("off", "default", "reduce-overhead", "max-autotune-no-cudagraphs"),
                   default="off", help="torch.compile the G/D/E forwards (default off)")
    g.add_argument("--cuda-graphs", choices=("auto", "on", "off"), default="auto",
                   help="whole-iteration CUDA graphs (default auto: on for CUDA with one process)")
    g.add_argument("--gp-precision", choices=("fp32", "amp"), default="fp32",
                   help="the gradient penalty's critic pass and double backward: fp32 (default) or under --amp's "
                        "autocast (17-20%% faster at 32x32 on an H200, benchmarks/RESULTS.md; slightly less accurate)")
    g.add_argument("--threads", type=_threads, metavar="N",
                   help="CPU threads for training (default or 0: torch's, the core count); fix it for results "
                        "that do not depend on the core count, and keep 1 where other jobs share the cores (2 threads "
                        "beside another job on 2 cores ran 2.4-8.8x slower than 1, benchmarks/RESULTS.md)")
    g.add_argument("--ema-warmup", choices=("on", "off"), default="on",
                   help="warm up the Gs EMA, beta_t = min(0.999, (1+t)/(10+t)) (default on: makes Gs usable in short "
                        "runs, the same after ~9k iterations); off = the authors' constant 0.999")
    g.add_argument("--tensorboard", action="store_true",
                   help="also log scalars and sample grids for TensorBoard ("
                        + ("each cell's STUDY_DIR/runs/CELL/tensorboard; wildgan and search cells" if study else
                           "RUN_DIR/tensorboard; wildgan and search runs")
                        + "; needs `pip install tensorboard`)")
    # same dest: `--resume --no-tensorboard` continues a run recorded with --tensorboard where the package is missing
    g.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", default=False,
                   help="no TensorBoard logs (the default" + (")" if study else
                                                                "; undoes a --tensorboard that --resume would "
                                                                "remember)"))
    g.add_argument("--width", type=int, help="override the preset's channel width (fmap_max; fmap_base = 16x)")
    g.add_argument("--latent-size", type=int, metavar="N_Z",
                   help="latent size N_z (default: the width, nf(0), as in the authors' code: 512 / 64 / 16 for "
                        "paper / fast / tiny); e.g. --preset fast --latent-size 512 keeps the paper's latent space")


def _threshold_options(p: argparse.ArgumentParser, threshold_help: str, score_help: str) -> None:
    """--threshold, --expected-contamination, --mad-k and --score: the same rule's options for score and export
    (fit_match: what must be Detector.fit's for its recorded c or k to be taken: its networks alone; not --score nor
    score's --batch-mode, since c (k) is the share of training images to flag, fitted again on the chosen score's own
    training scores, as the fitted Detector's set_params(score=...) keeps it: thresholds.fit_record_apart)."""
    fit_match = "these networks"
    p.add_argument("--threshold", choices=("contamination", "mad"), help=threshold_help)
    p.add_argument("--expected-contamination", type=float, default=DEFAULT_CONTAMINATION, metavar="G",
                   help=f"G (c) of --threshold contamination: the expected fraction of anomalies among the "
                        f"training images, whose scores' 100*(1-G) percentile is the threshold (default "
                        f"{DEFAULT_CONTAMINATION:g}, whatever the run was trained with: a run trained with "
                        f"--contamination γ flags at that share with --expected-contamination γ, the report's 'c = γ' "
                        f"row; a run on your own data records γ = 0, its real share not known; a run that "
                        f"Detector.fit thresholded by this rule: the c it recorded, as Detector.from_run takes it, "
                        f"for any --score, where {fit_match} are fit's)")
    p.add_argument("--mad-k", type=float, default=DEFAULT_MAD_K, metavar="K",
                   help=f"K of --threshold mad, which flags the training-split scores more than K robust standard "
                        f"deviations (1.4826 * MAD) above their median (default {DEFAULT_MAD_K:g}; a lower K flags "
                        f"more; a run that Detector.fit thresholded by "
                        f"this rule: the k it recorded, for any --score, where {fit_match} are fit's)")
    p.add_argument("--score", default=None, choices=SCORE_NAMES, help=score_help)


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `wildgan report`'s options on the CLI's subparsers object (its function: wildgan.cli.make_parser)."""
    r = sub.add_parser("report", help="HTML + Markdown report of a run or a study (figures, heat maps, metrics)",
                       epilog=EXAMPLES_REPORT, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("path", metavar="RUN_DIR|STUDY_DIR",
                   help="a run directory written by `wildgan train`, or a study directory written by `wildgan study`; "
                        "the report goes into its report/ folder")
    r.add_argument("--top-k", type=int, default=8, metavar="K",
                   help="heat maps of the K most anomalous test images (training images for an unlabelled run; "
                        "default 8)")
    r.add_argument("--image", nargs="+", action="extend", default=[], metavar="PATH",
                   help="also score and map these image files/folders (repeatable)")
    r.add_argument("--skip-bad", action="store_true",
                   help="leave unreadable files among the --image paths out (each named in a warning), and an "
                        "unlabelled run's training images unreadable since training out of its ranking; --image "
                        "files are then placed among training scores cached by score --threshold --skip-bad too")
    r.add_argument("--score", action="append", default=None, choices=SCORE_NAMES,
                   help="a run: the score that ranks the most anomalous images (default: the method's own, A for "
                        "f-AnoGAN, else a). A study: the AUC-versus-gamma figure and table of this score for every "
                        "method, with the controls, from its rows (nothing is scored again), before the study's "
                        "own (each method's own score); repeat it for several (--score L_r --score a)")
    r.add_argument("--masks", help=".npy of ground-truth defect masks [N, H, W] aligned with the run's test "
                                   "split: adds the pixel-level ROC AUC of the heat maps")
    r.add_argument("--device", default="auto", type=_device, help=DEVICE_HELP)
    r.add_argument("--no-progress", action="store_true",
                   help="no progress bars while the test split and the --image files are read and scored (e.g. for "
                        "logs)")
    r.add_argument("--no-controls", action="store_true",
                   help="skip the untrained-network and pixel controls (faster; the page says so); the run's eval.json "
                        "and test_controls.csv are left as they are")
    r.add_argument("--tsne-points", type=int, default=2000, metavar="N",
                   help="at most this many test latents in the t-SNE, a seeded subsample (default 2000)")
    r.add_argument("--batch-mode", choices=("mixed", "isolated"), default="mixed",
                   help="wildgan runs, as score --batch-mode: 'mixed' (default; evaluate's protocol) scores the test "
                        "split (an unlabelled run's pile) and the --image files in shuffled batches of 64, 'isolated' "
                        "each image on its own, so that the report's scores, percentiles and flags are those of "
                        "`score --batch-mode isolated`; thresholds and percentiles then come from training scores "
                        "made the same way (RUN/train_scores-isolated.csv, which score --batch-mode isolated "
                        "--threshold caches)")
    r.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    return r


def sub_parser(p: argparse.ArgumentParser, cmd: str) -> argparse.ArgumentParser:
    return p._subparsers._group_actions[0].choices[cmd]  # type: ignore[union-attr]


def sub_parser_names(p: argparse.ArgumentParser) -> set[str]:
    return set(p._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def _split_path(argv: Sequence[str], word: str) -> str | None:
    """The path with spaces that `word` (an unrecognized argument) ends, when the shell split it into words: the
    word and up to 5 words before it, joined by spaces, name a file or folder that exists (e.g. `wildgan score
    runs/my run ...` typed without quotes: 'run' was unrecognized, and the hint sent the user to --data)."""
    for j, w in enumerate(argv):
        if w != word:
            continue
        for k in range(j - 1, max(-1, j - 6), -1):
            if reads_as_option(argv[k]):
                break
            joined = " ".join(argv[k:j + 1])
            if path_exists(joined):
                return joined
    return None


def _words_after_data(argv: Sequence[str]) -> list[str]:
    """The words that follow the path of the last --data in argv, up to the next option: the paths beyond the first
    that a shell pattern gave a --data of one path."""
    after: list[str] = []
    for i, a in enumerate(argv):
        start = i + 2 if a == "--data" else i + 1 if a.startswith("--data=") else None
        if start is None:
            continue
        after = []
        for w in argv[start:]:
            if reads_as_option(w):
                break
            after.append(w)
    return after


def refuse_unrecognized(p: argparse.ArgumentParser, cmd: str, extra: list[str], argv: Sequence[str] = ()) -> None:
    """argparse's 'unrecognized arguments' comes from the top-level parser, with its usage: say it with the command's
    own usage instead, and suggest the options the words were probably meant to be (a typo, a forgotten --data, a
    path with spaces not quoted)."""
    import difflib
    import shlex

    sub = sub_parser(p, cmd)
    options = [o for act in sub._actions for o in act.option_strings if o.startswith("--")]
    hints = []
    splits = {w: _split_path(argv, w) for w in extra if not reads_as_option(w)}
    # --data of one path (train, evaluate, study: not score's, which takes several) given, and words left over: more
    # paths after it, most often a shell pattern that gave it every file (`--data imgs/*.png`), not a forgotten --data
    # (only the words right after its path: `--normal cat dog` left 'dog' over, which is no second --data path)
    one_data = any(act.nargs is None for act in sub._actions if "--data" in act.option_strings)
    after = _words_after_data(argv) if one_data else []
    strays = [w for w in extra if not reads_as_option(w) and splits.get(w) is None and w in after]
    for w in extra:
        if splits.get(w) is not None:
            if not any(shlex.quote(splits[w]) in h for h in hints):
                hints.append(f"{w}: {splits[w]!r} is one path with spaces in it, split by the shell into words: put "
                             f"it in quotes ({shlex.quote(splits[w])})")
        elif reads_as_option(w):
            close = difflib.get_close_matches(w.split("=", 1)[0], options, n=1, cutoff=0.6)
            if close:
                hints.append(f"{w}: did you mean {close[0]}?")
        elif w in strays and not hints and not any(splits.values()):
            folder = str(PurePath(w).parent)
            inside = "" if folder == "." else f"{shell_word(folder)}/"
            there = f"the folder, --data {inside}" if inside else "the folder they are in (--data .)"
            hints.append(f"{w}: --data takes one path (a folder of images, an archive or a data-set file), and it was "
                         f"given {len(strays) + 1} (a shell pattern such as --data {inside}*.png gives it every "
                         f"file): give {there}")
        elif "--data" in options and not hints and not any(splits.values()):
            # (a word of a path with spaces is no forgotten --data: its hint, above, says what is wrong)
            hints.append(f"{w}: image files, folders and data sets go after --data")
    sub.error(f"unrecognized arguments: {' '.join(extra)}" + "".join(f"\n  {h}" for h in hints))
