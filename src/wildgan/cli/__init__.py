"""Command-line interface: a thin layer over the Python API (parse -> config -> one library call).

Map of this file, top to bottom (each part under a `# === ... ===` header):

* option types and help texts shared by the parsers (`_threads`, `_device`, DEVICE_HELP, ...);
* the parser: `make_parser` builds every command's options (examples in EXAMPLES_*; `report`'s in add_report_parser);
* train's options -> RunConfig: `--config FILE` and `--resume` install a file's values as option defaults
  (`_set_from_config`, `_resume_config`), and `build_run_config` turns the options into the run's config and split;
* messages and checks shared by the commands (`_warn`, `_check_out_file`, `_refuse_saved_detector`, ...);
* one section per command, in the order `wildgan --help` lists them: `cmd_train`, `cmd_score`, `cmd_export`,
  `cmd_evaluate`, `cmd_info`, `cmd_study`, `cmd_demo`, `cmd_report` (each takes the parsed options, returns the
  exit code);
* `main`: parses, dispatches, and turns each way a command ends into one line on stderr and an exit code
  (a WildganError: "wildgan: error: ...", 2; training stopped by a signal, with a checkpoint: 128 + the signal;
  Ctrl-C 130; SIGTERM 143; SIGHUP 129 for the commands that train (`train`, `study`, `demo`: `_on_sighup`; the
  others keep Python's default); out of memory or an OSError 1; a closed stdout or stderr pipe 141, quietly).

Every `train` option can also come from a YAML/TOML/JSON config file (`--config FILE`, e.g. a run's own
config.yaml); options given on the command line win over the file. A run's own config replays that run exactly,
including the fields that have no option (see build_run_config); explicit flags change only what they control.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

# nothing heavy at import time (no torch): `wildgan --help` is instant, and Ctrl-C while a command's own imports load
# still ends in main's one-line "interrupted"
from ..config import (DEFAULT_CONTAMINATION, DEFAULT_MAD_K, SCORE_NAMES, as_typed,
                     kernels_from_env, square_name, unknown_names_text)

from ..errors import (CLI_SKIP_BAD, INTERRUPTED, ConfigError, DataError, HeldWarning, Terminated, TrainingInterrupted,
                     WildganError, WildganWarning, closed_outputs, moved_name, output_gone, shell_word,
                     silence_closed_outputs, skip_bad_said_as, stop_text, stop_words)
from ..fileio import check_can_make_folder, unwritable_error
from ..runlog import WARNING, RunLog, copying_warnings, said

if TYPE_CHECKING:  # types only: the CLI imports torch-heavy modules lazily, inside the commands
    from ..config import DataConfig, NetConfig, RunConfig
    from ..data import AnomalySplit, LoadedData


# === Option types and help texts shared by the parsers ================================================================

def _flag(dest: str) -> str:
    """The option an argparse dest comes from, as messages name it: total_kimg -> --total-kimg."""
    return "--" + dest.replace("_", "-")


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
    from ..devices import check_device_name

    if text != "auto":
        try:
            check_device_name(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("device ")) from None
    return text


def _csv(text: str, kind: type, option: str) -> list[Any]:
    try:
        values = [kind(t.strip()) for t in str(text).split(",") if t.strip()]
    except ValueError:
        kinds = {int: "whole numbers", float: "numbers"}.get(kind, "values")
        raise ConfigError(f"{option}: cannot read {as_typed(text)} as a comma-separated list of {kinds}") from None
    if not values:
        # e.g. --contamination ',': a study of no cells finished at once with exit 0, and --seeds ',' or
        # --normal ',' raised a bare IndexError
        raise ConfigError(f"{option} {text!r}: no values; give one or more, comma separated")
    return values


DEVICE_HELP = "auto (CUDA when available) | cpu | cuda | cuda:N (default auto)"


THREADS_HELP = ("CPU threads for the networks (default or 0: torch's, the core count; scores move by float noise "
                "between counts)")


THRESHOLD_RULES_HELP = ("contamination = the 100*(1-G) percentile of the run's training-split scores, mad = their "
                        "median + K * 1.4826 * MAD")


# train options that only the progressive GAN's loop reads (wildgan and search), never f-AnoGAN's
_PGAN_ONLY_OPTIONS = ("preset", "width", "latent_size", "total_kimg", "phase_kimg", "transition_kimg", "lr",
                      "sample_kimg", "ema_warmup", "amp", "compile", "gp_precision", "channels_last", "cuda_graphs")


# === The parser: every command's options, in the order `wildgan --help` lists the commands ============================

EXAMPLES_TRAIN = """examples:
  # the embedded MNIST sample, normal digit 2, fast preset, the paper's schedule
  wildgan train --out runs/mnist
  # the paper's CIFAR_CAR at 2% contamination, the authors' networks, on a GPU
  wildgan train --data ~/data/cifar-10-batches-py --normal automobile \\
                --contamination 0.02 --preset paper --seed 0 --out runs/car-g2 \\
                --device cuda
  # red-blood-cell crops (64x64), the paper's schedule with 40-kimg phases
  wildgan train --data ~/data/chula-rbc12-gray64.npz --dataset chula-rbc12 \\
                --preset fast --phase-kimg 40 --out runs/cells
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


class _CommandParser(argparse.ArgumentParser):
    """A command's parser, whose error for a missing positional says why where an option takes a list: `wildgan score
    --data new/ runs/x` gives runs/x to --data (it takes every word up to the next option), and argparse then said
    only 'the following arguments are required: run_dir', of a command line that has one."""

    _given: list[str] | None = None

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
            if named and not given[i + 1].startswith("-"):
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


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wildgan", description="Unsupervised image anomaly detection with a "
                                "progressive GAN and a jointly trained encoder (Berg et al.), for training data "
                                "that is not clean. Higher score = more anomalous; label 1 = anomaly.")
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
    t.add_argument("--dist-timeout", type=float, metavar="MINUTES",
                   help="with --distributed: how long a rank waits for the others before the job stops (a rank that "
                        "hangs; default 30, and torch's 10 for NCCL's GPU collectives unless given). Keep it above "
                        "what one rank does while the others wait: rank 0 writing a checkpoint (under 1 GB at the "
                        "paper preset), every rank reading the data before they start together")
    t.add_argument("--config", help="YAML/TOML/JSON file with option values; a run's config.yaml replays that run "
                                    "exactly (explicit flags change only what they control)")
    t.add_argument("--dry-run", action="store_true",
                   help="print the resolved config and exit; settings the start would refuse (the minibatch sizes, "
                        "the memory, ...) are refused as it refuses them, the --out folder is not checked")
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
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("score", help="score images with a trained run", epilog=EXAMPLES_SCORE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("run_dir", help="a run directory written by `wildgan train`")
    s.add_argument("--data", nargs="*",
                   help="image files and/or folders: every image in them, folders recursively; or ONE data set "
                        "file (.npz, .tar.gz, a CIFAR-10 batch folder): its test split under the run's protocol, "
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
    s.add_argument("--out", required=True, help="CSV file: id, label (when known), every score (- : standard output)")
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
    s.add_argument("--dist-timeout", type=float, metavar="MINUTES",
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
                   help="score every chunk again, deleting OUT.chunks/ first: a pile read in several chunks keeps "
                        "each finished chunk's scores there (deleted once OUT is written), and by default a rerun "
                        "with the same --out, files, run and options takes them from there instead of scoring them "
                        "again (an interrupted scoring resumes; chunks whose files changed are scored again)")
    s.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    s.set_defaults(func=cmd_score)
    s.set_defaults(defaults={act.dest: act.default for act in s._actions})   # for warnings about unused options

    x = sub.add_parser("export", help="export the scoring graph (E, Gs and the scores; f-AnoGAN runs too) for "
                       "onnxruntime",
                       epilog="example:\n  wildgan export runs/mnist --format onnx --out mnist.onnx",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("run_dir", help="a run directory written by `wildgan train` (method wildgan or fanogan)")
    x.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default onnx)")
    x.add_argument("--out", required=True, help="output file (.onnx)")
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
    x.set_defaults(func=cmd_export)
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
    e.set_defaults(func=cmd_evaluate)

    i = sub.add_parser("info", help="parameter counts and FLOPs of a preset",
                       epilog="example:\n  wildgan info --preset paper --resolution 32 --channels 3",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("--preset", choices=("paper", "fast", "tiny"), default="paper", help="network width (default paper)")
    i.add_argument("--resolution", type=int, default=32, help="image side, a power of two (default 32)")
    i.add_argument("--channels", type=int, choices=(1, 3), default=3, help="1 = gray, 3 = RGB (default 3)")
    i.add_argument("--width", type=int, help="override the preset's channel width, as train --width")
    i.add_argument("--latent-size", type=int, metavar="N_Z", help="latent size N_z, as train --latent-size")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=cmd_info)

    st = sub.add_parser("study", help="the paper's contamination study as one resumable grid",
                        epilog=EXAMPLES_STUDY, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_train_args(st, study=True)
    st.add_argument("--normal", help="normal class(es), comma separated: one one-vs-rest cell each (join classes "
                                     "with + for one cell with several normal classes, e.g. 0+1), or 'all' (every "
                                     "class; default: the protocol's default normal class(es), as one cell: "
                                     "automobile for CIFAR-10, the normal RBCs for chula-rbc12, 2 for MNIST; other "
                                     "labelled folders and .npz files have none and need it)")
    st.add_argument("--contamination", default="0,0.02",
                    help="gammas, comma separated: the fractions of anomalies injected into each cell's training "
                         "set, each in [0, 1) (default 0,0.02)")
    st.add_argument("--methods", default="wildgan", help="comma separated: wildgan,fanogan,search (default wildgan)")
    st.add_argument("--encoder-loss", default="image",
                    help="comma separated: image,latent (default image; wildgan cells only)")
    st.add_argument("--seeds", default="0", help="comma separated seeds (default 0)")
    st.add_argument("--out", required=True, help="study directory (results.jsonl, tables.md, runs/)")
    st.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. for logs)")
    st.set_defaults(func=cmd_study)

    d = sub.add_parser("demo", help="train + evaluate on the embedded MNIST sample (the README's main job)",
                       epilog="example:\n  wildgan demo --out runs/demo",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", default="runs/demo",
                   help="run directory (default runs/demo; a later demo replaces only a demo's own output)")
    # Sized to finish in a few minutes on 2 CPU cores; a real model needs --preset fast/paper and the paper's
    # schedule (wildgan train).
    d.add_argument("--normal", default="1", help="the normal digit (default 1)")
    d.add_argument("--preset", choices=("paper", "fast", "tiny"), default="tiny", help="network width (default tiny)")
    d.add_argument("--total-kimg", type=float, default=30.0, help="training length in kimg (default 30)")
    d.add_argument("--phase-kimg", type=float, default=4.0, help="kimg per fade / stable phase (default 4)")
    d.add_argument("--threads", type=_threads, default=1, metavar="N",
                   help="CPU threads (default 1: numbers that do not depend on the core count; 0 = torch's "
                        "default)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--device", default="auto", type=_device, help=DEVICE_HELP)
    d.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. for logs)")
    d.set_defaults(func=cmd_demo)

    add_report_parser(sub)
    return p


def _add_train_args(p: argparse.ArgumentParser, study: bool = False) -> None:
    """Options shared by train and study; `study` leaves out the ones a study takes as lists."""
    g = p.add_argument_group("data")
    if study:
        # a study measures AUC on each cell's test split: cmd_study refuses unlabelled data, which train takes
        g.add_argument("--data", help="labelled data: a tree of class folders, a CIFAR-10 batch dir, an .npz with "
                                      "labels, or a .tar.gz of class folders or CIFAR-10's batches (default: "
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
        g.add_argument("--data", help="folder tree, CIFAR-10 batch dir, .npz or .tar.gz (default: $WILDGAN_DATA, "
                                      "else the embedded MNIST sample)")
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
                        "(without --data: into $WILDGAN_CACHE/cifar10, by default ~/.cache/wildgan/cifar10)")
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
        + ", ".join(_flag(o) for o in _PGAN_ONLY_OPTIONS) + " and --tensorboard"
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
    g.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate of G, D, E (default 1e-3; f-AnoGAN keeps its own 1e-4)")
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
    g.add_argument("--fanogan-dim", type=int, help="f-AnoGAN: base width DIM (default 64, the official value)")
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
                   help=f"K of --threshold mad (default {DEFAULT_MAD_K:g}; a run that Detector.fit thresholded by "
                        f"this rule: the k it recorded, for any --score, where {fit_match} are fit's)")
    p.add_argument("--score", default=None, choices=SCORE_NAMES, help=score_help)


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `wildgan report` on the CLI's subparsers object."""
    r = sub.add_parser("report", help="HTML + Markdown report of a run or a study (figures, heat maps, metrics)",
                       epilog=EXAMPLES_REPORT, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("path", metavar="RUN_DIR|STUDY_DIR")
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
    r.set_defaults(func=cmd_report)
    return r


def _sub_parser(p: argparse.ArgumentParser, cmd: str) -> argparse.ArgumentParser:
    return p._subparsers._group_actions[0].choices[cmd]  # type: ignore[union-attr]


def _sub_parser_names(p: argparse.ArgumentParser) -> set[str]:
    return set(p._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


# === train's options -> RunConfig: --config files, --resume replays, explicit flags ===================================

def _typed_options(p: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests of the options typed on this command line (exactly, or as an unambiguous abbreviation, as argparse
    accepts them), before --config or --resume add the values of a file."""
    strings = p._option_string_actions
    typed = set()
    for tok in argv:
        if not tok.startswith("--"):
            continue
        name = tok.split("=", 1)[0]
        hits = [name] if name in strings else [o for o in strings if o.startswith(name)]
        if len(hits) == 1:
            typed.add(strings[hits[0]].dest)
    return typed


def _resume_config(argv: Sequence[str], log: Callable[[str], None] = lambda line: None) -> list[str]:
    """`wildgan train --out RUN --resume` continues RUN as it was configured: its config.yaml is read as if given with
    --config (flags given beside it change only what they control, and --resume refuses changes that do not fit).
    log: takes the lines said on stderr (without the `wildgan: ` prefix), for the run's log.txt, made later."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    pre.add_argument("--out")
    pre.add_argument("--resume", action="store_true")
    pre.add_argument("--overwrite", action="store_true")
    pre.add_argument("--data")
    known, _ = pre.parse_known_args(argv)
    if known.resume and known.overwrite:
        # said before "resuming with the settings of ...", which would announce a resume that cannot happen
        raise ConfigError("--resume continues the run in place and --overwrite deletes it: give one of them")
    saved = Path(known.out) / "config.yaml" if known.out else None
    if not known.resume or saved is None or not saved.is_file() or not saved.with_suffix(".json").is_file():
        # (without config.json there is nothing to resume, as check_run_dir says: not after "resuming with ...")
        return list(argv)
    from ..data.readers import missing_run_data_error

    def refuse_if_gone(data: str | None) -> None:
        gone = missing_run_data_error(data, known.out)
        if gone is not None:
            raise gone

    if known.config:
        if known.data is None and Path(known.config).is_file():
            # the run's own data, named in the given config too (e.g. RUN/config.yaml itself), moved since: said
            # as a plain --resume says it, not as a bare 'PATH: no such file or folder'
            data = config_file_to_args(saved).get("data")
            if config_file_to_args(Path(known.config)).get("data") == data:
                refuse_if_gone(data)
        return list(argv)
    from ..scoring.run import read_split_info

    try:
        info = read_split_info(Path(known.out))
    except WildganError as e:
        if config_file_to_args(saved).get("data") is None:
            # no data file in the config: the embedded sample, or images a Detector.fit got in memory, which only
            # split.json tells apart; resuming the latter would train on the sample
            raise ConfigError(f"{e}; and {saved} names no data file, so whether the run was trained on the embedded "
                              f"sample or by Detector.fit on in-memory images cannot be told: restore split.json, "
                              f"or start again with --overwrite") from None
        # a damaged split.json is rewritten by the resume (train_run warns); it must not block the resume itself
        _eprint(f"wildgan: {WARNING}{e}; it is rewritten when the run continues")
        log(f"{WARNING}{e}; it is rewritten when the run continues")
        info = {}
    if info.get("detector_input"):
        # its images were given in memory: the config's data (none) would silently train on the default sample
        how = "on images given in memory" if str(info.get("source") or "in-memory").startswith("in-memory") else \
            f"on {info.get('source')}, read by the Python API's rules"
        raise ConfigError(f"{known.out} was trained by Detector.fit {how}; `wildgan train --resume` cannot "
                          f"continue it: Detector(..., run_dir={str(known.out)!r}).fit(X, resume=True), with the "
                          f"same parameters and X, does (or train anew with --data)")
    extra: list[str] = []
    data = config_file_to_args(saved).get("data")
    from ..config import SAMPLE_TOKEN

    if data and data != SAMPLE_TOKEN and not Path(data).exists() and info.get("source") and \
            Path(info["source"]).exists():
        extra = ["--data", info["source"]]       # a run of an older version recorded a relative path
    elif known.data is None:
        refuse_if_gone(data)
    _warn_if_run_files_disagree(Path(known.out))
    _eprint(f"wildgan: resuming with the settings of {saved}")
    log(f"resuming with the settings of {saved}")
    return [*argv, "--config", str(saved), *extra]


def _warn_if_run_files_disagree(run: Path) -> None:
    """A run's config.json and config.yaml that differ (one edited by hand): `--resume` alone takes config.yaml's
    settings and checks them against config.json, so an edit of config.json's total_kimg was dropped in silence (or
    refused as shorter than trained), and one of its lr refused as "settings that differ from the saved run", options
    the user had not typed, without a word of the two files."""
    from ..config import RunConfig, read_run_config, run_config_file
    from ..errors import warn_user
    from ..training.run import run_differences

    try:
        from_json, from_yaml = read_run_config(run), run_config_file(run / "config.yaml")
    except (WildganError, OSError):
        return                 # a file that does not read: the resume's own reading of it says which
    if not isinstance(from_yaml, RunConfig):
        return
    # not the data path: read_run_config names the data of an older run as split.json or the sample's name does,
    # which a config.yaml recorded relative or by the sample's path does not, and the resume reads it so anyway
    from_yaml = replace(from_yaml, data=replace(from_yaml.data, data=from_json.data.data))
    apart = run_differences(from_json, from_yaml, frozenset())
    if apart:
        warn_user(f"{run}: its config.json and config.yaml disagree (edited by hand?): {'; '.join(apart)} "
                  f"(config.json -> config.yaml); --resume continues with config.yaml's settings and refuses those "
                  f"that define another run than config.json's: make the two files say the same")


def _set_from_config(p: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Pre-parse --config and install its values as defaults, so explicit CLI flags still win."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if not known.config:
        return
    path = Path(known.config)
    values = config_file_to_args(path)
    actions = _config_file_options(p)
    unknown = sorted(set(values) - set(actions))
    if unknown:
        sections = [k for k in unknown if k in ("data", "net", "train", "score", "fanogan", "search")]
        hint = f"; {_whole_config_hint(sections)}" if sections else ""
        # (the keys with _, as config_file_to_args made them; the options are too many to list on the line)
        said = unknown_names_text("option", unknown, list(actions), list_known=False)
        raise ConfigError(f"{known.config}: {said}; use the long option names of `wildgan train --help` (with _ "
                          f"or -){hint}")
    p.set_defaults(**{k: _option_value(actions[k], v, path) for k, v in values.items()})


def _config_file_options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """{key: action} of the options a --config file may set (its keys are the long option names with _): every
    option of the command but --help and --config itself, which set nothing of a run. Why: a typo was answered with
    'did you mean help?' or 'config?', and a file holding them was taken without a word."""
    return {a.dest: a for a in p._actions if a.option_strings and not isinstance(a, argparse._HelpAction)
            and a.dest != "config"}


def _whole_config_hint(sections: list[str]) -> str:
    """What a --config file with sections must hold, and where a few settings go instead."""
    return (f"a file with sections ({', '.join(sections)}) must be a whole run config (data, net and train, as a "
            f"run's config.yaml); for a few settings use flat option names (e.g. total_kimg: 100)")


def _option_value(action: argparse.Action, v: Any, path: Path) -> Any:
    """A config-file value checked and converted as the command line would be (type, choices). argparse does not
    check defaults, so without this a bad value would surface later as a traceback or a message not naming the file."""
    from ..config import shown

    name = _flag(action.dest)
    if v is None:
        return None
    if action.nargs == 0:                                   # store_true flags
        if not isinstance(v, bool):
            raise ConfigError(f"{path}: {name} must be true or false, got {shown(v, from_file=True)}")
        return v
    if action.type in (int, float):
        conv = None
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            try:
                conv = action.type(v)
            except ValueError:
                pass
        if conv is None or (action.type is int and isinstance(v, float) and not v.is_integer()):
            kind = "a whole number" if action.type is int else "a number"
            raise ConfigError(f"{path}: {name} must be {kind}, got {shown(v, from_file=True)}")
        v = conv
    elif isinstance(v, list) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v):
        v = ",".join(map(str, v))                           # e.g. normal: [airplane, ship]
    elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
        if action.type is not None and isinstance(v, float) and v.is_integer():
            v = int(v)                                      # threads: 2.0, as the int options take it
        v = str(v)                                          # e.g. normal: 2
        if action.type is not None:
            # an option with its own parser (--threads, --keep-checkpoints, --device): argparse runs it on this
            # string default too, but its error would name the option and not the file the value came from
            try:
                action.type(v)
            except (argparse.ArgumentTypeError, ValueError) as e:
                raise ConfigError(f"{path}: {name} {e}") from None
    else:
        raise ConfigError(f"{path}: {name} must be a string, got {shown(v, from_file=True)}")
    if action.choices is not None and v not in action.choices:
        raise ConfigError(f"{path}: {name} must be one of {', '.join(map(str, action.choices))}, got {as_typed(v)}")
    return v


def config_file_to_args(path: Path) -> dict[str, Any]:
    """A flat file uses CLI option names (total_kimg: 100); a run's config.json/yaml (sections data/net/train)
    is mapped back onto the options so that `--config RUN_DIR/config.yaml` replays the run. The fields no option
    expresses are taken from the file by build_run_config (see there)."""
    from ..config import load_config_file, run_config_in

    d = load_config_file(path)
    if "train" in d and "data" in d and isinstance(d["train"], dict) and "net" not in d:
        # a hand-written file in a run config's layout with only the sections it changes: run_config_in's bare
        # "missing the 'net' section" did not say that a few settings go in a flat file, as a lone train: section's
        # refusal (_set_from_config) does
        raise ConfigError(f"{path}: config is missing the 'net' section; {_whole_config_hint(['data', 'train'])}")
    cfg = _as_fit_read(run_config_in(d, path), path)
    if cfg is None:
        out: dict[str, Any] = {}
        for k, v in d.items():
            dest = k.replace("-", "_")
            if dest in out and out[dest] != v:
                # total-kimg: 1 and total_kimg: 2 both name --total-kimg: one of them was dropped without a word
                raise ConfigError(f"{path}: {_flag(dest)} is given twice, with different values ({as_typed(out[dest])} "
                                  f"and {as_typed(v)}, spelt with - and with _); keep one")
            out[dest] = v
        return out
    return run_config_to_options(cfg)


_FIT_READ_SAID: set[str] = set()


def _as_fit_read(cfg: RunConfig | None, config: Path) -> RunConfig | None:
    """A run's config file as `--config` replays it (data.replay.as_fit_read: a Detector.fit's run as fit read its
    data), its note said once a command: the file is read several times for one (main clears the set)."""
    from ..data.replay import as_fit_read

    def note(msg: str) -> None:
        if str(config) not in _FIT_READ_SAID:
            _FIT_READ_SAID.add(str(config))
            _eprint(f"wildgan: note: {msg}")

    return as_fit_read(cfg, config, note)


def run_config_to_options(cfg: Any) -> dict[str, Any]:
    """The CLI option values (argparse dests) that describe a RunConfig, as far as options can.

    Derived values are left out, so they are derived again from their inputs: total_kimg when it equals the paper
    schedule for the run's resolution / phase / transition, checkpoint_kimg when it equals max(1, ceil(total/20)).
    A replay without flags then derives the very same values, and a flag that changes an input (--total-kimg,
    --phase-kimg, ...) also changes what is derived from it, as it would have in the original command."""
    from ..config import PRESETS, default_checkpoint_kimg, paper_total_kimg

    data, net, train, fan = cfg.data, cfg.net, cfg.train, cfg.fanogan
    named = cfg.preset in PRESETS
    tri = {None: None, True: "on", False: "off"}
    out = {"data": data.data, "dataset": data.dataset, "normal": ",".join(map(str, data.normal)) or None,
           "contamination": data.contamination, "resolution": data.resolution or net.resolution,
           "channels": data.channels or net.channels, "rotations": data.rotations, "test_size": data.test_size,
           "exclude": ",".join(map(str, data.exclude_classes)), "skip_bad": data.skip_bad, "resize": data.resize,
           "square": data.square, "depth16": data.depth16, "download": data.download, "method": cfg.method,
           "preset": cfg.preset if named else None,
           "total_kimg": train.total_kimg, "phase_kimg": train.phase_kimg, "transition_kimg": train.transition_kimg,
           "minutes": train.minutes, "encoder_loss": train.encoder_loss if train.encoder_loss != "none" else None,
           "lr": train.lr, "seed": train.seed, "checkpoint_kimg": train.checkpoint_kimg,
           "on_divergence": train.on_divergence, "device": train.device, "amp": train.amp, "compile": train.compile,
           "channels_last": tri[train.channels_last], "cuda_graphs": tri[train.cuda_graphs],
           "gp_precision": train.gp_precision,
           "tensorboard": train.tensorboard, "ema_warmup": "on" if train.ema_warmup else "off",
           "threads": train.threads,
           "keep_checkpoints": "all" if train.keep_checkpoints is None else train.keep_checkpoints,
           "sample_kimg": train.sample_kimg, "no_train_scores": not train.train_scores,
           "width": net.fmap_max if named and net.fmap_max != PRESETS[cfg.preset]["fmap_max"] else None,
           "latent_size": net.latent_size if named and net.latent_size != net.nf(0) else None,
           "fanogan_iters": fan.gan_iters, "fanogan_enc_iters": fan.enc_iters, "fanogan_dim": fan.dim,
           "fanogan_bn_warmup": "on" if fan.bn_warmup else "off", "search_steps": cfg.search.steps}
    if _same(train.total_kimg, paper_total_kimg(net.resolution, train.phase_kimg, train.fade_kimg)):
        del out["total_kimg"]
    if _same(train.checkpoint_kimg, default_checkpoint_kimg(train.total_kimg)):
        del out["checkpoint_kimg"]
    return {k: v for k, v in out.items() if v is not None}


def _same(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def data_config_from_args(a: argparse.Namespace) -> DataConfig:
    """The DataConfig the options describe (resolution/channels as given: None = from the data)."""
    from ..config import DataConfig
    from ..data.readers import absolute_data_path

    # ("" is not given, as a config file may write it; ',' alone was "choose the normal class(es)", as if --normal
    # had not been typed, and --exclude ',' excluded nothing in silence, where study and evaluate refuse it)
    normal = tuple(_csv(a.normal, str, "--normal")) if a.normal else ()
    exclude = tuple(_csv(a.exclude, str, "--exclude")) if a.exclude else ()
    return DataConfig(data=absolute_data_path(a.data, a.dataset), dataset=a.dataset, normal=normal,
                      contamination=a.contamination, resolution=a.resolution, channels=a.channels, seed=a.seed,
                      rotations=a.rotations,
                      test_size=a.test_size, exclude_classes=exclude, skip_bad=a.skip_bad, resize=a.resize,
                      depth16=a.depth16, square=square_name(a.square),        # (main warned of an old name)
                      download=a.download)


def net_config_from_args(a: argparse.Namespace, preset: str, resolution: int, channels: int) -> NetConfig:
    """The preset's NetConfig with --width / --latent-size applied (train and info)."""
    from ..config import net_config_for_preset

    width, latent_size = getattr(a, "width", None), getattr(a, "latent_size", None)
    for flag, v in (("--width", width), ("--latent-size", latent_size)):
        if v is not None and v < 1:
            raise ConfigError(f"{flag} must be >= 1, got {v}")       # (in the option's name, not the API's)
    return net_config_for_preset(preset, resolution, channels, width=width, latent_size=latent_size)


def run_config_from_args(a: argparse.Namespace, resolution: int, channels: int) -> RunConfig:
    """The RunConfig the options describe, for data of this resolution and channels. Pure: loads no data."""
    from ..config import (
        PRESETS,
        FAnoGANConfig,
        RunConfig,
        ScoreConfig,
        SearchConfig,
        TrainConfig,
        default_checkpoint_kimg,
        paper_total_kimg,
    )

    data = replace(data_config_from_args(a), resolution=resolution, channels=channels)  # recorded explicitly
    preset = a.preset or "fast"
    net = net_config_from_args(a, preset, resolution, channels)
    fade = a.transition_kimg if a.transition_kimg is not None else a.phase_kimg
    total = a.total_kimg if a.total_kimg is not None else paper_total_kimg(resolution, a.phase_kimg, fade)
    ck = a.checkpoint_kimg if a.checkpoint_kimg is not None else default_checkpoint_kimg(total)
    method = a.method
    train = TrainConfig(total_kimg=total, phase_kimg=a.phase_kimg, transition_kimg=a.transition_kimg,
                        minibatch=dict(PRESETS[preset]["minibatch"]), lr=a.lr,
                        encoder_loss="none" if method == "search" else a.encoder_loss, seed=a.seed,
                        minutes=a.minutes, checkpoint_kimg=ck, device=a.device, on_divergence=a.on_divergence,
                        amp=a.amp, compile=a.compile, gp_precision=a.gp_precision,
                        channels_last={"auto": None, "on": True, "off": False}[a.channels_last],
                        cuda_graphs={"auto": None, "on": True, "off": False}[a.cuda_graphs],
                        tensorboard=a.tensorboard, ema_warmup=a.ema_warmup != "off", threads=a.threads or None,
                        keep_checkpoints=a.keep_checkpoints, sample_kimg=a.sample_kimg,
                        train_scores=not getattr(a, "no_train_scores", False))
    fan = FAnoGANConfig(seed=a.seed, minutes=a.minutes, device=a.device, gan_iters=a.fanogan_iters,
                        **({"enc_iters": a.fanogan_enc_iters} if a.fanogan_enc_iters is not None else {}),
                        bn_warmup=a.fanogan_bn_warmup != "off",
                        **({"dim": a.fanogan_dim} if a.fanogan_dim is not None else {}))
    search = SearchConfig(**({"steps": a.search_steps} if getattr(a, "search_steps", None) is not None else {}))
    return RunConfig(data=data, net=net, train=train, score=ScoreConfig(), preset=preset, method=method,
                     fanogan=fan, search=search)


def _file_reference_args(config: str) -> argparse.Namespace:
    """The options `wildgan train --config FILE` resolves to with no other flag: the reference that tells which
    fields the real command line's explicit flags changed."""
    t = _sub_parser(make_parser(), "train")
    _set_from_config(t, ["--config", config])
    return t.parse_args(["--config", config, "--out", "-"])


def _with_network_of(cfg: RunConfig, src: RunConfig) -> RunConfig:
    """cfg with src's preset name, network widths and minibatch table (the things --preset / --width set)."""
    net = replace(src.net, resolution=cfg.net.resolution, channels=cfg.net.channels)
    return replace(cfg, preset=src.preset, net=net, train=replace(cfg.train, minibatch=dict(src.train.minibatch)))


def _values_of(config: str | None) -> Any:
    """The context the options are checked in: with a --config file, the checks' messages spell its values as the
    file does (`got null`, not Python's `got None`; config.file_values)."""
    from contextlib import nullcontext

    from ..config import file_values

    return file_values() if config else nullcontext()


def build_run_config(a: argparse.Namespace, loaded: LoadedData | None = None) -> tuple[RunConfig, AnomalySplit]:
    """argparse namespace -> (RunConfig, AnomalySplit). The split is built first because the network's
    resolution and channels default to the data's (from `loaded`, the data as load_split_data read it, when given).

    When a.config is a run's own config file, the result is that run's config with only what the explicit flags
    change: the options are resolved twice, with the real command line and with `--config FILE` alone, and each
    field where the two agree is taken from the file (so fields without an option, e.g. train.gp_target,
    train.minibatch, net.latent_size, the score and search sections, survive), each field where they differ from
    the real command line. Values derived from other options follow their inputs (see run_config_to_options)."""
    from ..data import build_split

    config = getattr(a, "config", None)
    try:
        with _values_of(config):
            data = _asked_data_config(a)
        # once: it only depends on the (merged) data section; --no-progress hides its decoding bar too
        split = build_split(data, progress=False if getattr(a, "no_progress", False) else None, loaded=loaded)
    except ConfigError as e:
        if not config or str(e).startswith(str(config)):
            raise
        raise ConfigError(f"{e} (options from the command line and {config})") from None
    except DataError as e:
        where = _config_data_missing(a)
        if where is None:
            raise
        raise DataError(f"{e} ({where})") from None
    return run_config_for_shape(a, split.resolution, split.channels), split


def _config_data_missing(a: argparse.Namespace) -> str | None:
    """Where the data path that does not exist came from, when a --config file gave it (no --data typed): its
    `data:` value and the file, and for a relative value that it is read from the current folder (and then under
    $WILDGAN_DATA), not from the config file's folder. None when --data was typed, the file names no data, the data
    is there (the error is about something else), or --download fetches it (its error is the download's). Why: a
    `data: images/` in my.yaml run from another folder failed with '/elsewhere/images: no such file or folder', a
    path the user never wrote, with no word of the file it came from."""
    from ..config import is_sample_path
    from ..data.readers import resolve_data_root

    config = getattr(a, "config", None)
    if not config or _given(a, "data") or getattr(a, "download", False):
        return None
    try:
        raw = config_file_to_args(Path(config)).get("data")
    except (WildganError, OSError):
        return None                   # (read once already; a file changed since is not this error's to explain)
    if not isinstance(raw, str) or not raw or is_sample_path(raw) or \
            resolve_data_root(raw, getattr(a, "dataset", "auto")).exists():
        return None
    said = f"data: {as_typed(raw)} in {config}"
    if Path(raw).expanduser().is_absolute():
        return said
    under = ", then under $WILDGAN_DATA" if os.environ.get("WILDGAN_DATA") else ""
    return (f"{said}; a relative path in a config file is read from the current folder, {os.getcwd()}{under}, not "
            f"from the config file's folder")


def _asked_data_config(a: argparse.Namespace) -> DataConfig:
    """The data section the options ask for (a run's --config FILE with the explicit flags over it), resolution and
    channels None where left to the data."""
    from ..config import overlay_changes, run_config_file

    data = data_config_from_args(a)
    config = getattr(a, "config", None)
    file_cfg = _as_fit_read(run_config_file(Path(config)), Path(config)) if config else None
    if file_cfg is not None:
        data = overlay_changes(file_cfg.data, data_config_from_args(_file_reference_args(config)), data)
        from ..data.replay import refuse_in_memory_replay

        refuse_in_memory_replay(Path(config), file_cfg, data)
    return data


def run_config_for_shape(a: argparse.Namespace, res: int, ch: int) -> RunConfig:
    """build_run_config's RunConfig for data of resolution res and channels ch, known without building the split
    (build_run_config reads them from the data; a finished study from its cells' records)."""
    from ..config import PRESETS, overlay_changes, run_config_file

    config = getattr(a, "config", None)
    file_cfg = _as_fit_read(run_config_file(Path(config)), Path(config)) if config else None
    try:
        with _values_of(config):
            cfg = run_config_from_args(a, res, ch)
            if file_cfg is not None:
                ref = _file_reference_args(str(config))
                ref_cfg = run_config_from_args(ref, file_cfg.net.resolution, file_cfg.net.channels)
                if file_cfg.preset not in PRESETS:
                    # A custom network: no option expresses it, so the reference (which resolved to the default
                    # preset) is given the file's network, and so is the command line unless it names a preset or a
                    # width itself. Without this an explicit --preset fast would look like no flag at all.
                    ref_cfg = _with_network_of(ref_cfg, file_cfg)
                    if a.preset is None and not getattr(a, "width", None):
                        cfg = _with_network_of(cfg, file_cfg)
                cfg = overlay_changes(file_cfg, ref_cfg, cfg)
                cfg = replace(cfg, data=replace(cfg.data, resolution=res, channels=ch),
                              net=replace(cfg.net, resolution=res, channels=ch))
    except ConfigError as e:
        if not config or str(e).startswith(str(config)):
            raise
        raise ConfigError(f"{e} (options from the command line and {config})") from None
    return cfg


# === Messages and checks shared by the commands =======================================================================

def _rank_tag() -> str:
    """' (rank R of W)' on a torchrun rank other than 0, else ''. The environment is looked at first: importing
    wildgan.training loads torch and the training loop (seconds), which every command's start (`--help`, a typo)
    would otherwise wait for."""
    if "WORLD_SIZE" not in os.environ:
        return ""
    from ..training.distributed import torchrun_world

    rank, world = torchrun_world()
    return f" (rank {rank} of {world})" if rank > 0 else ""


def _eprint(line: str) -> None:
    """`line` and its newline to stderr in one write. print() writes them apart, and under torchrun the ranks share
    the terminal: with stderr unbuffered (python -u, PYTHONUNBUFFERED) or a message of several lines, another rank's
    line could land between them ("...exit codewildgan (rank 1 of 2): ...")."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _warn(msg: str) -> None:
    # (the ranks other than 0 say which they are, as main's errors do)
    _eprint(f"wildgan{_rank_tag()}: {msg}")
    if msg.startswith(WARNING):
        said(msg[len(WARNING):])        # into a run's log.txt too, as a Python warning is (runlog.copying_warnings)


def _show(msg: str) -> None:
    """A line of a command's progress on stderr: a warning or a note looks like the CLI's own ("wildgan: warning:
    ..."), any other line is shown as is (a run's log.txt keeps every line as is)."""
    from ..progress import beside_bars

    with beside_bars():     # (a line said while training's bar is drawn went on after the bar's text)
        _eprint(f"wildgan: {msg}" if msg.startswith(("warning:", "note:")) else msg)


def _log_to(run_dir: Path) -> RunLog:
    """The command's log.txt in `run_dir`, its lines shown on stderr too; the wildgan warnings said while it is given
    to copying_warnings go into it as well (held until its first line: a refused command writes nothing)."""
    return RunLog(run_dir / "log.txt", show=_show, make_folder=True)


def _given(a: argparse.Namespace, dest: str) -> bool:
    """Whether an option was given (in any spelling argparse accepts, abbreviations too): typed on the command line
    (main records which, a.typed), even at its default value; else, for a namespace parsed without main, whether it
    differs from its default."""
    if getattr(a, "typed", None) is not None:
        return dest in a.typed
    return getattr(a, dest) != a.defaults.get(dest) if getattr(a, "defaults", None) else False


def _follow_fit_record(a: argparse.Namespace, run_dir: Path,
                       lookup: Callable[[str], tuple[float | None, str]]) -> None:
    """score / export --threshold of a run that Detector.fit wrote: the rule's parameter (c, k) not given is the one
    fit recorded (thresholds.FIT_THRESHOLD_FILE) where the rule is the recorded one and the networks are those it was
    taken with, whatever --score and --batch-mode (c, k is the share of training images to flag, fitted again on the
    chosen score's training scores), as Detector.from_run(RUN) and export_onnx take it (the CLI's defaults
    thresholded such a run otherwise than the fitted Detector and from_run, without a word); `lookup(rule)`:
    thresholds.fit_record_param for the command's networks, export.export_fit_param (export: the one rule of
    export_onnx too). a.fit_record: that file, for the threshold line, else None; a.fit_record_not: why a record of
    this rule is not taken (other networks), for the same line, else ''. A record that cannot be read or used is
    warned about, naming the file, as from_run warns (the line said 'the default' as if there were none)."""
    from ..thresholds import FIT_THRESHOLD_FILE, follow_fit_record

    a.fit_record, a.fit_record_not = None, ""
    dest = {"contamination": "expected_contamination", "mad": "mad_k"}.get(a.threshold or "")
    if dest is None or _given(a, dest):
        return
    path = run_dir / FIT_THRESHOLD_FILE
    option = "--expected-contamination" if dest == "expected_contamination" else "--mad-k"
    # (the library's rule, run_threshold's and export_onnx's too; said as the CLI says its warnings)
    value, a.fit_record_not = follow_fit_record(
        run_dir, a.threshold, lookup, warn=lambda m: _warn(f"warning: {m}"),
        fallback=f"--threshold {a.threshold} takes the default {option} {getattr(a, dest):g}")
    if value is not None:
        setattr(a, dest, value)
        a.fit_record = path


def _fit_record_note(a: argparse.Namespace) -> str:
    """Where the parameter of --threshold mad came from, when it was Detector.fit's record or a record of this rule
    not taken ('' otherwise); for contamination, _contamination_note says it."""
    if a.threshold != "mad":
        return ""
    if getattr(a, "fit_record", None) is not None:
        return f"k = {float(a.mad_k):g} (Detector.fit's, recorded in {a.fit_record}; --mad-k K chooses another)"
    if getattr(a, "fit_record_not", ""):
        return f"k = {float(a.mad_k):g} (the default --mad-k; {a.fit_record_not})"
    return ""


def _contamination_note(a: argparse.Namespace, gamma: float) -> str:
    """For score's and export's threshold line: the c that --threshold contamination used and where it came from,
    beside the run's training contamination γ (its config's data.contamination). The default c is not γ: a study's run
    knows its γ (the report's Threshold section gives c = γ a row of its own), and a run on the user's own data
    records γ = 0 with its real share of anomalies unknown, so c is the user's to give (or Detector.fit's record of
    it: _follow_fit_record). The mad rule's note where its k is fit's record (_fit_record_note), else ''."""
    if a.threshold != "contamination":
        return _fit_record_note(a)
    c = float(a.expected_contamination)
    given = _given(a, "expected_contamination")
    record = getattr(a, "fit_record", None)
    # (the percentile, not "c of the training images score above it": that share is only near c, e.g. 4 of 64
    # above the 95th percentile, and 2 of 24)
    skipped = getattr(a, "fit_record_not", "")
    origin = ("as given" if given else
              f"Detector.fit's, recorded in {record}; --expected-contamination G chooses another" if record else
              "the default --expected-contamination" + (f"; {skipped}" if skipped else ""))
    note = f"c = {c:g} ({origin}): the threshold is percentile {100 * (1 - c):g} of the training images' scores"
    if 0 < gamma <= 0.5 and not math.isclose(c, gamma):
        # (the report gives c = γ a row of its own only when γ is not the default c, whose row is its first)
        row = "'c = γ' row" if gamma != DEFAULT_CONTAMINATION else f"first rule, c = {DEFAULT_CONTAMINATION:g}"
        note += (f"; this run was trained with a share γ = {gamma:g} of anomalies: --expected-contamination "
                 f"{gamma:g} sets c = γ (the report's {row})")
    elif gamma == 0 and not given and not record:
        note += ("; the run records γ = 0 (clean training images, or your own data with an unknown share of "
                 "anomalies): --expected-contamination G sets the share you expect")
    return note


def _threshold_lines(text: str, width: int = 100) -> str:
    """score's and export's threshold line, with its c / k note, wrapped to `width` columns, continuation lines
    indented: one line of ~400 characters did not read in a terminal. Words stay whole (a path, a flag:
    --expected-contamination is not split at its hyphens), so a line with a long path can be wider."""
    return textwrap.fill(text, width=width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def _counted(n: int, noun: str) -> str:
    """'1 image', '0 images', '4 images': a summary line's count with its noun (it read '1 of 1 images flagged')."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _warn_unused_threshold_options(a: argparse.Namespace, dests: Sequence[str], without: str) -> None:
    """score / export: the option the chosen --threshold rule does not read, or (without --threshold) the given
    `dests` that only matter with one, said to be ignored (`without`: what is then not written)."""
    if a.threshold:
        unused = "mad_k" if a.threshold == "contamination" else "expected_contamination"
        if _given(a, unused):
            _warn(f"warning: {_flag(unused)} is not used by --threshold {a.threshold}")
        return
    given = [o for o in dests if _given(a, o)]
    if given:
        _warn(f"warning: {', '.join(_flag(o) for o in given)} {'only matters' if len(given) == 1 else 'only matter'} "
              f"with --threshold: {without} is written without it")


def _use_threads(a: argparse.Namespace) -> None:
    """--threads of score / evaluate / report: torch's intra-op thread count for this process."""
    if a.threads:
        import torch

        torch.set_num_threads(int(a.threads))


# what to do when --out cannot be written (fileio.unwritable_error: a read-only place, no permission, a full disk)
_WRITABLE_OUT = "give --out a folder you can write to"


def _check_out_file(out: str, example: str) -> None:
    """--out must be a file that can be written: refused before the (possibly long) work, not when the result is
    written (a folder, a parent that is a file, a read-only or missing-permission place)."""
    import tempfile

    from ..training.run import refuse_a_run_or_study_file

    p = Path(out)
    if p.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name, e.g. {p / example}")
    if out.endswith(("/", os.sep)) and out.rstrip("/" + os.sep):
        # 'results/' names a folder, as cp and mkdir read it: Path drops the slash, and the scores were written to a
        # file named 'results', without an extension, where a folder was meant
        raise ConfigError(f"--out {out} names a folder (it ends in '/'); give a file name, e.g. {p / example}")
    if p.is_symlink():
        p = p.resolve()                 # (written through the link: its target is what must be writable)
    # (a run's or a study's own file, or one in a folder wildgan rewrites: the rule of every writer, the API's too)
    refuse_a_run_or_study_file(out, example)
    if p.exists() and not p.is_file():
        # /dev/null, a FIFO: written to directly (fileio.atomic_write_stream), never replaced by a file
        if not os.access(p, os.W_OK):
            raise ConfigError(f"cannot write --out {out}: permission denied")
        return
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


def _data_path_if_valid(a: argparse.Namespace) -> str | None:
    """The data path the config will record, for the --out checks made before the data is read; None when it does
    not resolve (the reading of the data then says what is wrong with it)."""
    from ..data.readers import absolute_data_path

    try:
        return absolute_data_path(a.data, a.dataset)
    except WildganError:
        return None


def _refuse_saved_detector(path: str, command: str) -> None:
    """Refuse, saying what to do instead, a RUN_DIR argument that names a Detector saved by the Python API: the
    library's rule (checkpoint.refuse_saved_detector, which the API's run readers apply too), in the command's words."""
    from ..checkpoint import refuse_saved_detector

    refuse_saved_detector(path, command, cli=True, scoring_hint=command != "export")


def _warn_dist_timeout_alone(a: argparse.Namespace) -> None:
    """train / score --dist-timeout without --distributed: there are no ranks to wait for, and the value was taken
    silently, as if a one-process run honoured it."""
    if a.dist_timeout is not None and not a.distributed:
        _warn("warning: --dist-timeout only matters with --distributed (how long its ranks wait for each other): "
              "ignored")


def _init_distributed(a: argparse.Namespace) -> Any:
    """train / score --distributed: join torchrun's process group (RANK/WORLD_SIZE/LOCAL_RANK; NCCL or gloo) and
    return its context, None without --distributed. Only rank 0 shows progress bars."""
    if not a.distributed:
        return None
    from ..training.distributed import init_distributed

    ctx = init_distributed(a.device, timeout_min=a.dist_timeout)
    if not ctx.is_main:
        a.no_progress = True
    return ctx


def _on_every_rank(ctx: Any, setup: Callable[[], Any], run_dir: Path, run_log: RunLog | None = None) -> Any:
    """setup(), through start_together under --distributed: the ranks agree on how it went, and a refusal frees the
    process group as a failed start does, rather than leaving it to the interpreter's exit, where gloo can abort the
    process. run_log: the run's log, which rank 0's `stopped:` line goes through (after the warnings it holds)."""
    if ctx is None:
        return setup()
    from ..training.distributed import start_together

    return start_together(ctx, setup, run_dir, log=None if run_log is None else run_log.write)


def _shutdown(ctx: Any, together: bool = True) -> None:
    """Free a --distributed job's process groups now, not at interpreter exit (where gloo can abort the process)."""
    if ctx is not None:
        from ..training.distributed import shutdown

        shutdown(together=together)


def _refuse_torchrun_without_distributed(a: argparse.Namespace) -> None:
    """Under torchrun (several ranks) without --distributed every rank would run the whole command: train's second
    rank was refused by the run lock with no word of --distributed, score's ranks each scored everything into the
    same CSV and chunk folder. Refused at once instead, on every rank: `train` and `score` name --distributed; the
    other commands that write (evaluate, study, report, export, demo) run in one process. `info` only prints."""
    if "WORLD_SIZE" not in os.environ or a.cmd == "info" or getattr(a, "distributed", False):
        return
    from ..training.distributed import torchrun_world

    rank, world = torchrun_world()
    if world <= 1:
        return
    where = (f"this process is rank {rank} of {world} started by torchrun (WORLD_SIZE={world}), but --distributed "
             f"was not given")
    if a.cmd in ("train", "score"):
        raise ConfigError(f"{where}: each of the {world} processes would {a.cmd} alone and write the same files. Add "
                          f"--distributed to share the work (torchrun --nproc_per_node={world} -m wildgan {a.cmd} "
                          f"{'RUN --data FILES ' if a.cmd == 'score' else ''}--distributed ...), or run it without "
                          f"torchrun")
    raise ConfigError(f"{where}, and `wildgan {a.cmd}` runs in one process (it has no --distributed): each of the "
                      f"{world} processes would run it alone and write the same files. Run it without torchrun")


# === wildgan train ====================================================================================================

def cmd_train(a: argparse.Namespace) -> int:
    from ..training.distributed import torchrun_world

    run_log = _log_to(Path(a.out))
    if torchrun_world()[0] == 0:         # (only rank 0 writes log.txt)
        run_log.hold(getattr(a, "said_before", []))
    # every wildgan warning said during the command into the run's log.txt too: those about its data are said while
    # the data is read, before the run folder is written (held until its first line). Only rank 0 of a --distributed
    # job writes log.txt (the other ranks' warnings are on the terminal, tagged with their rank)
    with copying_warnings(run_log if torchrun_world()[0] == 0 else None):
        return _train(a, run_log)


def _train(a: argparse.Namespace, run_log: RunLog) -> int:
    from ..config import run_config_to_dict
    from ..training.run import kimg_text, train_run

    _warn_dist_timeout_alone(a)
    ctx = _init_distributed(a)
    run_dir = Path(a.out)
    if not a.dry_run:
        # what --out alone refuses, before the data is decoded (minutes for a large folder, wasted by a refusal after
        # it); check_run_dir (in _train_setup) adds what needs the config, whose resolution and channels come from the
        # data. Under torchrun the ranks agree on the answer (the same folder and path give the same one, unless their
        # file systems differ; rank 0's refusal of a busy folder stops the others)
        _on_every_rank(ctx, lambda: _check_train_out(a, ctx), run_dir, run_log)
    # every rank learns whether each one started: one that failed alone (data only it cannot read) stops them all
    # together, its error in the run folder, instead of leaving rank 0 only the echo of it
    cfg, split = _on_every_rank(ctx, lambda: _train_setup(a, ctx), run_dir, run_log)
    if a.dry_run:
        _eprint(json.dumps(run_config_to_dict(cfg), indent=2))
        _shutdown(ctx)
        return 0
    if cfg.method == "fanogan" and cfg.train.tensorboard:
        _warn("warning: --tensorboard logs wildgan and search runs; an f-AnoGAN run writes its numbers to "
              "stats.jsonl only")
    is_main = ctx is None or ctx.is_main
    log: Callable[[str], None] = run_log if is_main else (lambda m: None)
    try:
        # (its own warning of networks not grown to full resolution, in the options' words: _warn_if_not_grown)
        res = train_run(cfg, run_dir, resume=a.resume, overwrite=a.overwrite, progress=not a.no_progress,
                        log=log, split=split, before_unlock=getattr(a, "before_unlock", None), warn_not_grown=False)
    except BaseException as e:
        from ..training.distributed import met_by_every_rank, peer_end_error, record_how_training_ended

        # a caller's own words for a stop (the demo's: the command that continues it), the same in log.txt as on
        # the terminal, where the caller raises them (cmd_demo)
        reword = getattr(a, "reword_stop", None)
        said = reword(e) if reword is not None and isinstance(e, TrainingInterrupted) else e
        record_how_training_ended(run_dir, ctx, said, run_log.write)
        # the ranks leave together only when they all stopped alike (a preemption: they agreed on it; an error that
        # every rank met), never waiting for a peer that failed on its own
        _shutdown(ctx, together=isinstance(e, TrainingInterrupted) or met_by_every_rank(e))
        echo = peer_end_error(run_dir, ctx, e)
        if echo is not None:
            raise echo from e
        raise
    _shutdown(ctx)
    if not is_main:
        return 0
    if cfg.train.threads is not None:
        import torch

        # --threads for the rest of the command too (the training scores, --evaluate), as training set it: train_run
        # put back the count it found on the way out, and main() puts back the caller's when the command ends
        torch.set_num_threads(cfg.train.threads)
    what = f"f-AnoGAN: {res.detail}" if res.detail else f"{kimg_text(res.nimg)} kimg"
    log(f"trained {what} ({res.status}); networks in {res.final}")
    _warn_if_not_grown(cfg, res, log)
    if res.final is not None and cfg.train.train_scores:
        _score_training_images(a, cfg, split, log)
    if res.final is not None and not a.evaluate:
        _say_next_after_train(Path(a.out), split)
    if a.evaluate:
        # the split just trained on: rebuilding it would read the data again and repeat its warnings
        return cmd_evaluate(argparse.Namespace(run_dir=a.out, data=None, normal=None, whole=None, json=False,
                                               device=a.device, no_controls=False, no_progress=a.no_progress,
                                               threads=None, own_split=split, skip_bad=a.skip_bad,
                                               table_to=run_log.write))
    return 0


def _check_train_out(a: argparse.Namespace, ctx: Any) -> None:
    """What --out refuses before the data is read: a folder another process trains in, or one holding a run that
    --resume / --overwrite do not allow for."""
    from ..training.run import check_lock_free, check_out_dir

    data = _data_path_if_valid(a)
    if ctx is None or ctx.is_main:
        # a folder another process trains in, first (its advice is to wait, not to --resume or --overwrite
        # it); rank 0 alone asks, as it alone takes the job's lock (train_run), which stays the guarantee
        check_lock_free(Path(a.out))
    check_out_dir(Path(a.out), data, resume=a.resume, overwrite=a.overwrite)
    # a read-only place, no permission, a full disk: said now, in terms of --out, not after the data is decoded as
    # a bare "[Errno 30] Read-only file system" from the first mkdir
    check_can_make_folder(a.out, _WRITABLE_OUT, label="--out")


def _train_setup(a: argparse.Namespace, ctx: Any) -> tuple[RunConfig, AnomalySplit]:
    """(config, split) of `wildgan train`, and its refusals; each rank of a --distributed job runs it on its own."""
    from ..training.run import (check_minibatch_sizes, check_run_dir, check_the_settings, check_training_memory,
                               refuse_fanogan_over_ranks)

    cfg, split = build_run_config(a)
    if a.config and not a.resume and (ctx is None or ctx.is_main):
        from ..data.replay import warn_if_replay_reads_other_images

        # (its warning and note in the command's words, on stderr and into log.txt, as the other warnings said here)
        warn_if_replay_reads_other_images(Path(a.config), cfg, split, warn=lambda m: _warn(f"{WARNING}{m}"),
                                          note=lambda m: _eprint(f"wildgan: note: {m}"))
    if a.evaluate and split.info.get("protocol") == "unlabelled":
        # refused now, not said after the training (the split is built before it starts): an evaluation needs labels
        raise ConfigError(f"--evaluate: {split.info.get('source')} is unlabelled (a pile of images, no classes), so "
                          f"the run has no test split to evaluate on. Leave out --evaluate; evaluate later on "
                          f"labelled images with `wildgan evaluate {shell_word(a.out)} --data LABELLED --normal CLASS` "
                          f"(a folder of "
                          f"class folders, or an .npz with labels), or score new images with thresholds from the "
                          f"training scores: `wildgan score {shell_word(a.out)} --data NEW_IMAGES --threshold "
                          f"contamination --out scores.csv`")
    # its loop has no ranks: each process would train alone into the same folder (train_run refuses it too)
    refuse_fanogan_over_ranks(cfg, ctx, who="--distributed",
                              fix="drop --distributed (or torchrun) for --method fanogan")
    _warn_other_methods_options(a, cfg.method)
    if cfg.method != "fanogan":
        # asked by train_run too, but --dry-run stops before it, and only here is the file the table came from known
        check_minibatch_sizes(cfg, _minibatch_source(a), resume=a.resume)
    if a.dry_run:
        # the rest of what the start would refuse of the settings (an f-AnoGAN run's image size, the memory, a
        # WILDGAN_DATA_ON_GPU typo, ...): the dry run printed them as a config that would train. (The folder is
        # not asked: a dry run writes nothing there.)
        check_the_settings(cfg, split, resume=a.resume, is_main=ctx is None or ctx.is_main)
    else:
        check_run_dir(cfg, Path(a.out), resume=a.resume, overwrite=a.overwrite)   # refuse before anything is written
        if ctx is not None:
            from ..training.distributed import check_batches

            # minibatches the ranks cannot split: refused as the ranks start, before the folder is written (train_run
            # asks again, as it is also the Python API's start)
            check_batches(cfg.train.minibatch, cfg.net, ctx.world)
            # asked here too (train_run asks again): a rank whose GPU is smaller than the others' tells them all
            check_training_memory(cfg, ctx.device)
            if ctx.is_main and cfg.train.tensorboard and cfg.method != "fanogan":
                from ..training.tblog import require_tensorboard

                # only rank 0 asks (train_run too): refused here, the other ranks would wait for it at the run lock
                require_tensorboard()
    return cfg, split


def _minibatch_source(a: argparse.Namespace) -> str | None:
    """The --config file (a run's config, or --resume's config.yaml) whose train.minibatch the run uses, or None when
    the table is the preset's (a flat --config file has no minibatch)."""
    if not a.config:
        return None
    from ..config import load_config_file

    d = load_config_file(Path(a.config))
    return str(a.config) if isinstance(d.get("train"), dict) and "minibatch" in d["train"] else None


def _warn_other_methods_options(a: argparse.Namespace, method: str) -> None:
    """Options that belong to another --method are accepted (a script may pass one set of flags to every method) but
    said to be ignored, rather than recorded silently as if they had an effect. Only options typed on the command
    line: a --resume or --config replay brings every section of the run's config.yaml back as option values."""
    typed = getattr(a, "typed", set())
    ignored = []
    if method != "wildgan" and "encoder_loss" in typed:
        ignored.append("--encoder-loss")            # f-AnoGAN trains its own izi_f encoder; search has no encoder
    if method != "fanogan":
        ignored += [_flag(o) for o in ("fanogan_iters", "fanogan_enc_iters", "fanogan_dim", "fanogan_bn_warmup")
                    if o in typed]
    else:
        # the progressive GAN's schedule, size and fast path: f-AnoGAN has its own (epochs or --fanogan-iters, its
        # lr 1e-4, --fanogan-dim, N_z 128, fp32)
        ignored += [_flag(o) for o in _PGAN_ONLY_OPTIONS if o in typed]
    if method != "search" and "search_steps" in typed:
        ignored.append("--search-steps")
    if ignored:
        _warn(f"warning: {', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to --method "
              f"{method}: ignored")


def _score_training_images(a: argparse.Namespace, cfg: RunConfig, split: AnomalySplit,
                            log: Callable[[str], None]) -> None:
    """The training scores that `wildgan score --threshold` and the report compare new images with, now, while the
    training images are at hand (they may be moved or deleted later); latent search is too slow for this. log: the
    run's log (log.txt and stderr), which says what became of them."""
    if cfg.method == "search":
        log("latent search: the training images are not scored now (an optimisation per image); `wildgan score "
                "--threshold` scores them when it first needs them")
        return
    if not len(split.train_x):
        return
    from ..scoring.run import load_model
    from ..scoring.train_scores import has_train_scores, score_training_split

    model = load_model(Path(a.out), a.device)
    if has_train_scores(Path(a.out), model, split):
        # (a --resume of a finished run: the same networks and images, already scored, minutes for a large set)
        log(f"the training images' scores in {Path(a.out) / 'train_scores.csv'} are of these networks: kept")
        return
    score_training_split(Path(a.out), model, split, progress=not a.no_progress)
    log(f"scored the {len(split.train_x)} training images (thresholds of wildgan score --threshold): "
            f"{Path(a.out) / 'train_scores.csv'}")


def _say_next_after_train(run_dir: Path, split: AnomalySplit) -> None:
    """The commands that use a finished run, on the terminal only (not log.txt): a training on one's own folder ended
    on its training-scores line, where the demo names the report and score (cmd_demo); an --evaluate run ends on its
    table instead."""
    run = shell_word(run_dir)
    report = f"`wildgan report {run}` writes {run_dir / 'report' / 'report.html'}"
    if split.info.get("protocol") == "unlabelled":
        _eprint(f"next: {report} (the most anomalous images of the pile, with their heat maps); `wildgan score {run} "
                f"--data NEW_IMAGES --threshold contamination --out flagged.csv` flags new images against the "
                f"training scores")
    else:
        _eprint(f"next: `wildgan evaluate {run}` measures its AUCs on the test split, with their controls; {report} "
                f"(the most anomalous test images, with their heat maps)")


def _warn_if_not_grown(cfg: Any, res: Any, log: Any) -> None:
    """A --total-kimg (or a --minutes budget) that ends before the last fade-in leaves networks that never reached
    full resolution (scored at the resolution they reached); said when training ends, not only later by evaluate,
    as Detector.fit warns. train_run's warning (training.run.not_grown_warning), in the RunConfig's terms, is left
    out for it."""
    from ..training.run import lod_short_of_full

    lod = lod_short_of_full(cfg, res)
    if lod is not None:
        from ..training.schedule import growth_advice, kimg_to_the_image

        t, r = cfg.train, cfg.net.resolution
        # a budget stop needs more minutes too: --resume keeps the run's --minutes unless given
        budget = res.status == "budget"
        # (to the image: the threshold is exact (3600.128), and a rounded one (3600) would still end fading in)
        g = growth_advice(t, r, budget)
        # (phases shorter than a round of minibatches: the paper's total ends before growth too, and is not said)
        said_paper = (f", and the paper's schedule (the default --total-kimg) trains {g.paper} kimg"
                      if g.paper_grows else "")
        # (a budget stop of a run whose own total already grows them: minutes only, growth_advice)
        how = (f"--resume and a larger --minutes (its --total-kimg {g.own_total} grows them)" if g.total is None
               else f"--resume --total-kimg {g.total}{' and a larger --minutes' if g.minutes else ''}")
        log(f"warning: training ended at {kimg_to_the_image(res.nimg / 1000)} kimg (lod {lod:g}"
            f"{f', the --minutes {t.minutes:g} budget ran out' if budget else ''}), before the networks finished "
            f"growing to {r}x{r}: with phases of {kimg_to_the_image(t.phase_kimg)} kimg they are grown at {g.grown} "
            f"kimg (the end of the first round of minibatches at full resolution){said_paper}. The run is scored "
            f"at the resolution it reached; continue it with {how}")


# === wildgan score ====================================================================================================

def _peer_failures_told(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Under --distributed, a rank's error that is only the echo of another rank's end (gloo's "Connection closed by
    peer", a collective that timed out, torchrun's SIGTERM) says so and where that rank's own error is: sharded
    scoring has no run folder to record it in, as training has (training.distributed.explain_failure)."""
    def run(a: argparse.Namespace) -> int:
        try:
            return cmd(a)
        except (Exception, Terminated) as e:
            if not a.distributed:
                raise
            from ..training.distributed import DEFAULT_TIMEOUT_MIN, peer_failure, torchrun_world

            rank, world = torchrun_world()
            # (a SIGTERM raised while a failed collective was handled is torchrun's, after that peer's end: the echo;
            # one that came while this rank still waited in it is this rank's own stop, said as `terminated`)
            why = peer_failure(e, rank, 60 * (a.dist_timeout or DEFAULT_TIMEOUT_MIN))
            if why is not None:
                raise WildganError(why) from e
            if isinstance(e, Terminated) and world > 1:
                # a scheduler's stop, or torchrun's after another rank ended: which, this rank cannot tell (one
                # rank alone has no other to point to)
                raise Terminated(f"{e}: torchrun sends it to every rank when the job is stopped, and to the ranks "
                                 f"still running once one has ended; if another rank failed, its error is on the "
                                 f"terminal above, tagged with its rank, and torchrun's report names it") from e
            raise
    return run


@_peer_failures_told
def cmd_score(a: argparse.Namespace) -> int:
    from ..data.dataset_files import npz_has_labels
    from ..data.readers import detect_format, is_dataset_file, is_pile, single_class_text
    from ..scoring.run import load_model, read_split_info, scores_csv_text, write_scores_csv

    _refuse_saved_detector(a.run_dir, "score")
    _refuse_split_paths(a.data, "--data")
    _check_score_options(a)
    run_dir, resume_dir = Path(a.run_dir), _resume_dir(a)
    one_file = a.data[0] if a.data and len(a.data) == 1 else None
    # one folder with --normal: a class-folder tree, labelled like its .tar.gz would be (the test split, with labels)
    dataset_file = bool(one_file and (is_dataset_file(one_file) or (a.normal and Path(one_file).is_dir()
                                                                    and not is_pile(one_file))))
    tar = dataset_file and detect_format(Path(one_file)) == "folder-tar"
    pile_tar = tar and is_pile(one_file)     # a tar of a pile (loose images, at most one folder): no labels
    if a.whole is not None and not (dataset_file and not pile_tar):
        raise ConfigError("--whole applies to a labelled data set given with --data (an .npz with labels, CIFAR-10 "
                          "batches, a class-folder tree or its .tar.gz with --normal); image files and folders are "
                          "always scored whole")
    label_free = dataset_file and Path(one_file).suffix.lower() == ".npz" and not npz_has_labels(one_file)
    if a.normal and (not dataset_file or label_free or pile_tar):
        # (before the training scores of --threshold: they were scored, or refused for data changed since, first)
        one = single_class_text(one_file) if one_file else ""       # (a folder of normal crops only: says what to add)
        raise ConfigError("--normal labels the rows of one labelled data-set --data (an .npz with labels, a tar or "
                          "folder of class folders, CIFAR-10); " + ("the run's own test split keeps the run's normal "
                          "classes" if not a.data else "these images have no labels to use" + (f".{one}" if one
                                                                                              else "")))
    if a.distributed and (not a.data or (dataset_file and not pile_tar)):
        raise ConfigError("--distributed shares image files, folders and tar archives of a pile between the "
                          "processes; a data set (or the run's own test split) is scored by one process")
    ctx = _init_distributed(a)
    model = load_model(run_dir, ctx.device if ctx is not None else a.device, checkpoint=_checkpoint_arg(a, run_dir))
    if a.no_A and model.cfg.method != "wildgan":
        raise ConfigError(f"--no-A applies to wildgan runs; {run_dir} is a {model.cfg.method} run (its scores need "
                          f"the critic anyway)")
    if a.batch_mode != "mixed" and model.cfg.method != "wildgan":
        _warn(f"warning: --batch-mode applies to wildgan runs (the encoder's minibatch stddev); this "
              f"{model.cfg.method} run scores as it always does")
        a.batch_mode = "mixed"        # and its thresholds come from its one cache of training scores
    from ..thresholds import fit_record_param

    _follow_fit_record(a, run_dir, lambda rule: fit_record_param(run_dir, rule, model.meta.get("sha256")))
    train_scores, own_split = None, None
    if a.threshold in ("contamination", "mad") and (ctx is None or ctx.is_main):
        # (--skip-bad: the own split's warning naming files unreadable since training, held until the training
        # scores are read, and said before they are scored where they are not cached: where they leave those files
        # out, their warning joins it, one warning for one cause)
        held = HeldWarning()
        if not a.data:                  # (--normal without --data is refused above)
            # the run's own test split, built first: its training part is what the training scores are of, so a
            # missing train_scores.csv does not decode the run's data a second time (read with --skip-bad as the
            # training scores below are)
            own_split = _labelled_split(a, run_dir, None, False, held)
        # the training scores the threshold comes from, before the (possibly long) scoring: computed now if missing
        # (and cached), or an error now (e.g. the training images were moved) rather than after the whole pile
        from ..scoring.train_scores import run_training_scores

        # kept for the threshold and the percentiles below: the scores of a --checkpoint (not the run's final
        # networks) are not cached, and asking again scored the whole training split two more times
        # (--skip-bad: training files unreadable since training are left out of them, named in a warning)
        try:
            train_scores = run_training_scores(run_dir, model, batch_mode=a.batch_mode, progress=not a.no_progress,
                                               split=own_split, skip_bad=a.skip_bad, held=held)
        finally:
            held.say()
        if a.score not in train_scores:
            raise ConfigError(f"--score {as_typed(a.score)} is not available for this run; it has "
                              f"{', '.join(train_scores)}")
    split_info = read_split_info(run_dir)
    no_protocol = split_info.get("protocol") == "unlabelled" or bool(split_info.get("detector_input"))
    labels = None
    x = None                                  # images in memory (a data set); a pile of files is scored in chunks
    got = None
    if tar and (pile_tar or (no_protocol and not a.normal)):
        # a tar of images to score one by one: a pile, or any tar after a run without a protocol of its own
        # (unlabelled, Detector.fit) and no --normal to label it; unpacked once into the cache and read like a
        # folder (in chunks), ids inside the archive
        got = _score_pile(model, a, ctx, archive=Path(one_file))
        what = f"every image of {one_file}" + ("" if pile_tar else " (labels not used; --normal CLASS labels the rows)")
    elif dataset_file and (label_free or (no_protocol and not a.normal)):
        # an array data set read as a pile: images without labels, or any after a run that has no protocol of its
        # own and no --normal to label it: every image, converted like the run's training data (the Detector's
        # reader: one implementation)
        from ..data.readers import trained_kind
        from ..detector import to_images

        trained_on, by_content = trained_kind(model.conversion)
        x, ids = to_images(one_file, model.cfg.net.resolution, model.cfg.net.channels, skip_bad=a.skip_bad,
                           resize_mode=model.conversion.get("fit", "resize"),
                           depth16=model.conversion.get("depth16", "per-image"),
                           native_sides=model.conversion.get("native_sides"),
                           # colour images scored by a run trained on gray ones were converted without a word here,
                           # while the same images as files were warned about
                           trained_on=trained_on, by_content=by_content,
                           # 16-bit images with a run of 8-bit ones: read as their 8-bit copies, said
                           trained_depth=model.conversion.get("trained_depth"))
        what = f"every image of {one_file} (" + ("no labels)" if label_free else
                                                  "labels not used; --normal CLASS labels the rows)")
    elif not a.data or dataset_file:
        split = own_split if own_split is not None else _labelled_split(a, run_dir, one_file, tar)
        x, ids, labels = split.test_x, split.test_ids, split.test_y
        what = ("every labelled image of " if split.info.get("test_size") == "whole" else "the test split of ") \
            + (one_file or "the run's data")
    else:
        # a pile of files, read and scored in chunks (memory: one chunk), converted like the training data (e.g.
        # MNIST's 28 -> 32 zero padding)
        got = _score_pile(model, a, ctx)
        # (the folders' note only where a folder was given: it followed the scoring of a single file too)
        what = ("every image file given, folders read recursively" if any(Path(p).is_dir() for p in a.data) else
                "the image file given" if len(a.data) == 1 else "every image file given")
    if ctx is not None and not ctx.is_main:       # rank 0 has the scores and writes the CSV
        return 0
    if a.chunk_size is not None and got is None:
        _warn("warning: --chunk-size applies to image files, folders and tar archives of images; a data set (or the "
              "run's own test split) is read whole")
    if got is not None:
        ids, labels = got.ids, None
        n_skip = len(got.skipped)
        what += (f"; {n_skip} unreadable skipped" if n_skip else "") + \
            (f"; read in {got.chunks} chunks of up to {got.chunk_size}" if got.chunks > 1 else "") + \
            (f"; {got.resumed} of them resumed from {resume_dir}" if got.resumed else "")
    res = got.scores if got is not None else model.score(x, progress=not a.no_progress,
                                                         batch_mode=a.batch_mode, with_A=not a.no_A).scores
    extra = None
    if a.threshold:
        from ..thresholds import flag_scores

        thr, extra = flag_scores(model, run_dir, a.threshold, res, score=a.score,
                                 contamination=a.expected_contamination, k=a.mad_k, labels=labels,
                                 batch_mode=a.batch_mode, progress=not a.no_progress, train_scores=train_scores,
                                 skip_bad=a.skip_bad)
        note = _contamination_note(a, float(model.cfg.data.contamination))
        _eprint(_threshold_lines(f"threshold for score {a.score}: {thr.describe()} (chosen on the "
                                 f"{thr.params['source']}); {int(extra['is_anomaly'].sum())} of "
                                 f"{_counted(len(ids), 'image')} flagged (is_anomaly = 1)"
                                 + (f"; {note}" if note else "")))
    if a.no_A:
        what += "; A left out (--no-A)"
    if a.out == "-":
        # standard output, for a pipe (`| tail -n +2 | sort -t, -k2 -gr`); every message goes to stderr
        sys.stdout.write(scores_csv_text(ids, res, labels, extra=extra))
        sys.stdout.flush()
        _eprint(f"scored {_counted(len(ids), 'image')} ({what}) with {model.source}; wrote the CSV "
                f"to standard output")
        return 0
    from contextlib import nullcontext

    from ..training.distributed import stops_deferred

    # the CSV, the removal of the chunks it now holds and the line that says it is written: one commit, a SIGTERM or
    # Ctrl-C held until its end (then `terminated`, 143, or `interrupted`, 130, as any other). One that cut it left
    # the new CSV beside its chunk folder, said as `terminated` / `interrupted` (the CSV, written atomically, read as
    # the earlier one at that path). Not held for a FIFO or device (written directly, no commit), whose stalled
    # reader would keep it held
    out = Path(a.out)
    special = out.exists() and not out.is_file() and not out.is_dir()
    with nullcontext() if special else stops_deferred():
        write_scores_csv(Path(a.out), ids, res, labels, extra=extra)
        if resume_dir is not None:
            from ..scoring.run import is_resume_dir, remove_resume_dir

            try:
                if is_resume_dir(resume_dir):
                    remove_resume_dir(resume_dir)          # the CSV holds every chunk's scores now
            except OSError as e:                            # the CSV is written: only the clean-up failed
                _warn(f"warning: could not delete {resume_dir} ({e.strerror or e}); the scores are in {a.out}, "
                      f"delete it yourself")
        _eprint(f"scored {_counted(len(ids), 'image')} ({what}) with {model.source}; wrote {a.out}")
    return 0


def _check_score_options(a: argparse.Namespace) -> None:
    """score's refusals and warnings that need no model, before the (possibly long) work; fills in --score's default
    (the run's own score) and the --data paths as found (relative ones may be under $WILDGAN_DATA)."""
    from ..thresholds import check_threshold_args

    if a.out != "-":
        _check_out_file(a.out, "scores.csv")
    resume_dir = _resume_dir(a)
    if a.no_resume and resume_dir is not None and int(os.environ.get("RANK", "0")) == 0:
        from ..scoring.run import is_resume_dir, remove_resume_dir

        if is_resume_dir(resume_dir):     # the finished chunks of an earlier scoring: discarded, as asked
            remove_resume_dir(resume_dir)
            _warn(f"--no-resume: deleted {resume_dir} (an earlier scoring's finished chunks)")
    if a.threshold:
        # before the (possibly long) scoring: a bad value should not cost a scoring pass
        check_threshold_args(a.threshold, contamination=a.expected_contamination, k=a.mad_k)
    _warn_unused_threshold_options(a, ("expected_contamination", "mad_k", "score"), "no is_anomaly column")
    _warn_dist_timeout_alone(a)
    if a.score is None:
        # the run's own score, as `report` ranks by
        from ..config import own_score, read_run_config

        try:
            a.score = own_score(read_run_config(Path(a.run_dir)).method)
        except WildganError:
            a.score = "a"                 # (not a run: the loading below names the problem)
    if a.no_A and a.threshold and a.score == "A":
        raise ConfigError("--threshold with --score A needs the A score: leave out --no-A")
    _use_threads(a)
    if a.data:
        from ..data.readers import missing_path_error, under_data_root

        a.data = [str(under_data_root(d)) for d in a.data]      # relative paths may be under $WILDGAN_DATA
        for d in a.data:
            if not Path(d).exists():        # one looked for in two places says so (list_image_files would not)
                raise missing_path_error(d)
    if a.data is not None and not a.data:
        # `--data` with nothing after it (an unset $DIR): not the run's own test split, which no --data means
        raise ConfigError("--data is given without a path: name image files, folders or a data set (leave --data out "
                          "to score the run's own test split)")


def _labelled_split(a: argparse.Namespace, run_dir: Path, one_file: str | None, tar: bool,
                    held: HeldWarning | None = None) -> AnomalySplit:
    """The labelled test split score reads: of the run's own data (one_file None) or of one data-set file, under the
    run's protocol. A data set it cannot label (no normal class given, ...) is refused with the way to score every
    image of it without labels instead. held: see split_for_run."""
    from ..data.readers import is_dataset_file
    from ..evaluation.run import split_for_run

    try:
        split = split_for_run(run_dir, one_file, log=_warn, skip_bad=a.skip_bad,
                              normal=tuple(_csv(a.normal, str, "--normal")) if a.normal else None, whole=a.whole,
                              held=held)
    except (DataError, ConfigError) as e:     # e.g. no normal class given
        if not one_file or "class" not in str(e):
            raise
        # how to score every image without labels depends on what was given: a folder is read as a pile without
        # --normal, a tar once unpacked, an array file only by the Python API (which reads any file whole)
        if Path(one_file).is_dir() and not is_dataset_file(one_file):
            whole = "leave out --normal"
        elif tar:
            whole = "unpack it and pass the folder without --normal"
        else:
            whole = (f"use the Python API, Detector.from_run({str(run_dir)!r}).decision_function("
                     f"{str(one_file)!r})")
        # (--whole needs no training part: the way out of a data set too small to split, with its labels)
        small = not a.whole and "training images of the normal class" in str(e)
        with_labels = "; to score every image of it with its labels, add --whole" if small else ""
        raise type(e)(f"{e}. A data-set file is scored as a labelled test split under the run's protocol "
                      f"(--normal CLASS chooses its normal classes){with_labels}; to score every image of it "
                      f"without labels, {whole}") from None
    return split


def _score_pile(model: Any, a: argparse.Namespace, ctx: Any, archive: Path | None = None) -> Any:
    """score_files on --data, or on the images of a tar `archive` (score_files reads it: unpacked once into the
    cache; ids, warnings and errors name the files inside the archive), skipped files named on stderr as they are
    met. None on a distributed rank other than 0."""
    import warnings

    from ..data.readers import ids_under_folder
    from ..scoring.run import score_files

    with warnings.catch_warnings():
        # one line per skipped file (even from the same source line), on stderr as it is met, whatever the caller's
        # warning filters (restored on exit)
        warnings.simplefilter("always")
        # (under torchrun, a rank other than 0 says which it is, as main's warnings do: a file skipped is its chunk's)
        tag = _rank_tag()
        warnings.showwarning = lambda msg, *_a, **_k: _eprint(f"wildgan: warning{tag}: {msg}")
        try:
            got = score_files(model, [archive] if archive is not None else a.data, chunk_size=a.chunk_size,
                              skip_bad=a.skip_bad, progress=not a.no_progress, ctx=ctx, batch_mode=a.batch_mode,
                              resume_dir=_resume_dir(a), with_A=not a.no_A)
        finally:
            _shutdown(ctx, together=sys.exc_info()[0] is None)
    if got is not None and archive is None:
        # one folder: ids relative to it (data.readers.ids_under_folder), as its class-folder tree's with --normal,
        # a tar's, `evaluate`'s and a study's are; the same file had two ids (`tree/test/good/0.png` here,
        # `test/good/0.png` with --normal, or an absolute path where the folder was typed so)
        got.ids = ids_under_folder(got.ids, a.data)
    return got


def _resume_dir(a: argparse.Namespace) -> Path | None:
    """Where `wildgan score` keeps finished chunks' scores until --out is written (None: --out -)."""
    if a.out == "-":
        return None
    return Path(a.out).with_name(Path(a.out).name + ".chunks")


def _checkpoint_arg(a: argparse.Namespace, run_dir: Path) -> Path | None:
    """score --checkpoint: a file, or the name of one in RUN/checkpoints (either half of the .json / .safetensors
    pair)."""
    if not a.checkpoint:
        return None
    given = Path(a.checkpoint)
    if given.is_dir():
        # (it was "no such file", which sent the user looking for a path that is there)
        from ..checkpoint import list_checkpoints

        found = list_checkpoints(given)
        example = f", e.g. its newest, {found[-1].with_suffix('.json')}" if found else ""
        raise ConfigError(f"--checkpoint {a.checkpoint}: a folder; give one checkpoint file{example}")
    for p in (given, run_dir / "checkpoints" / given.name):
        if p.is_file():
            return p.with_suffix(".json")
    raise ConfigError(f"--checkpoint {a.checkpoint}: no such file (this run's checkpoints are in "
                      f"{run_dir / 'checkpoints'})")


# === wildgan export ===================================================================================================

def cmd_export(a: argparse.Namespace) -> int:
    from ..export import export_fit_param, export_onnx, onnx_metadata, onnx_threshold

    _refuse_saved_detector(a.run_dir, "export")
    _check_out_file(a.out, "model.onnx")
    _warn_unused_threshold_options(a, ("expected_contamination", "mad_k", "score", "device", "skip_bad"),
                                   "no threshold")
    a.fit_record = None
    if a.threshold:
        # export_onnx's own rule for a c (k) not given, run here for the threshold line's note
        _follow_fit_record(a, Path(a.run_dir), lambda rule: export_fit_param(a.run_dir, rule))
    path = export_onnx(Path(a.run_dir), Path(a.out), batch_size=a.batch_size, opset=a.opset,
                       input_type=a.input_type, include_A=not a.no_A, threshold=a.threshold,
                       contamination=a.expected_contamination, mad_k=a.mad_k, score=a.score, device=a.device,
                       progress=not a.no_progress, skip_bad=a.skip_bad,
                       param_from=None if a.fit_record is None else f"Detector.fit's record, {a.fit_record}")
    _eprint(f"wrote {path} (ONNX opset {a.opset}, {a.input_type} input; each image is scored on its own, any batch "
            "size)")
    thr = onnx_threshold(path)
    if thr is None:
        # --batch-mode is a wildgan-run option: an f-AnoGAN graph scores like a plain `wildgan score` (eval mode)
        isolated = " --batch-mode isolated" if onnx_metadata(path).get("batch_mode") == "isolated" else ""
        _eprint("no threshold in its metadata: --threshold contamination|mad records one from the run's training "
                f"split (else take it from `wildgan score RUN{isolated} --threshold RULE`, the graph's "
                "protocol)")
    else:
        alone = ", each image scored alone as the graph does" if thr.params.get("batch_mode") == "isolated" else ""
        from ..config import read_run_config

        note = _contamination_note(a, float(read_run_config(Path(a.run_dir)).data.contamination))
        _eprint(_threshold_lines(f"threshold for output {thr.params['score']}: {thr.describe()} (chosen on the "
                                 f"run's training split{alone}), in its metadata_props: threshold, threshold_rule, "
                                 f"threshold_score, threshold_params" + (f"; {note}" if note else "")))
    return 0


# === wildgan evaluate =================================================================================================

def cmd_evaluate(a: argparse.Namespace) -> int:
    from ..evaluation.run import evaluate_run, format_table

    _refuse_saved_detector(a.run_dir, "evaluate")
    _use_threads(a)
    out = evaluate_run(Path(a.run_dir), a.data, device=a.device, controls=not a.no_controls,
                       progress=not a.no_progress, log=_warn,
                       normal=tuple(_csv(a.normal, str, "--normal")) if a.normal else None, whole=a.whole,
                       own_split=getattr(a, "own_split", None),     # (train --evaluate: the split it trained on)
                       skip_bad=a.skip_bad)
    written = out.get("written_to")
    if written and Path(written).parent != Path(a.run_dir):
        # the run's own evaluation (eval.json, test_scores.csv) stays as it was
        _warn(f"evaluation on other data or normal classes written to {Path(written).parent} (the run's own "
              f"eval.json is kept)")
    if a.json:
        keep = ("auc", "ap", "auc_ci95", "auc_vs_controls", "controls", "controls_ap", "other_generator", "n_test",
                "n_anomalous", "mean_z_norm", "model")
        print(json.dumps({k: out[k] for k in keep if k in out}))
    else:
        table = format_table(out)
        print(table)
        # train --evaluate (the demo): the table, controls with it, into the run's log.txt too (not shown again),
        # where whoever closed the terminal looks for it; `wildgan evaluate` alone leaves log.txt to the training
        to_log = getattr(a, "table_to", None)
        if to_log is not None:
            for line in table.splitlines():
                to_log(line)
    return 0


# === wildgan info =====================================================================================================

def cmd_info(a: argparse.Namespace) -> int:
    from ..nets.info import network_info

    net = net_config_from_args(a, a.preset, a.resolution, a.channels)
    info = network_info(net)
    if a.json:
        print(json.dumps(info, indent=2))
        return 0
    width = f" (width {a.width})" if a.width is not None else ""
    print(f"preset {a.preset}{width}, {a.resolution}x{a.resolution}x{a.channels}, N_z = {info['latent_size']}")
    print(f"{'net':<4}{'parameters':>14}{'fwd GFLOP/img':>16}")
    for k in ("G", "D", "E"):
        print(f"{k:<4}{info['params'][k]:>14,}{info['forward_gflop'][k]:>16.3f}")
    print(f"training GFLOP per real image at full resolution (7g + 14d + 3e, spec 8.2): "
          f"{info['train_gflop_per_image']:.2f}")
    return 0


# === wildgan study ====================================================================================================

def cmd_study(a: argparse.Namespace) -> int:
    study_log = _log_to(Path(a.out))
    # every wildgan warning said during the command into the study's log.txt too (those about the data, read before
    # the study writes its folder, held until its first line); each cell's log.txt has those said while it ran
    # (studies.study._run_study)
    with copying_warnings(study_log):
        return _study(a, study_log)


def _normal_cells(text: str) -> list[str]:
    """A study's --normal: one cell per comma-separated entry, its classes joined by + (as train's --normal a,b)."""
    cells = []
    for n in _csv(text, str, "--normal"):
        classes = [c.strip() for c in n.split("+")]
        if not all(classes):
            # ('0+' made a cell of normal classes 0 and '', refused by the cell check as "class '' does not exist")
            raise ConfigError(f"--normal {as_typed(text)}: {as_typed(n)} names an empty class; join one cell's classes "
                              f"with + (e.g. 0+1) and separate cells with commas")
        cells.append(",".join(classes))
    return cells


def _study(a: argparse.Namespace, study_log: RunLog) -> int:
    from ..data import load_split_data
    from ..data.splits import read_for, with_protocol_shape
    from ..studies import cell_config, check_cells, grid, read_rows
    from ..studies.study import (check_study_data, check_study_dir, check_study_out_dir, first_kept_class,
                                listed_default_cell, listed_study_classes, study_base)
    from ..training.run import check_lock_free

    gammas = _csv(a.contamination, float, "--contamination")
    for g in gammas:
        if not 0.0 <= g < 1.0:
            raise ConfigError(f"--contamination: each gamma must be in [0, 1), got {g:g}")
    seeds = _csv(a.seeds, int, "--seeds")
    methods = _csv(a.methods, str, "--methods")
    for m in methods:
        if m not in ("wildgan", "fanogan", "search"):
            raise ConfigError(f"unknown method {as_typed(m)} in --methods; choose from wildgan, fanogan, search")
    encs = _csv(a.encoder_loss, str, "--encoder-loss")
    for e in encs:
        if e not in ("image", "latent"):
            raise ConfigError(f"unknown encoder loss {as_typed(e)} in --encoder-loss; choose from image, latent")
    # what --out alone refuses, before the data is decoded (as train's check_out_dir); run_study's check_study_dir
    # adds what needs the base config, whose resolution and channels come from the data. A folder another study
    # process holds first; run_study's lock on it stays the guarantee.
    check_lock_free(Path(a.out))
    check_study_out_dir(Path(a.out), _data_path_if_valid(a))
    check_can_make_folder(a.out, _WRITABLE_OUT, label="--out")
    check_study_data(a.data, a.dataset)
    # the lines of its results.jsonl that are no rows named now, before the data is decoded (minutes for a large
    # folder) and the cells train (hours), and only now in this command (run_study's rows_named)
    read_rows(Path(a.out) / "results.jsonl")
    # one base config (first normal class, gamma 0) resolves resolution/channels and the schedule
    study_cells = None if a.normal in (None, "all") else _normal_cells(a.normal)
    first = None if study_cells is None else study_cells[0]
    ns = argparse.Namespace(**{**vars(a), "contamination": 0.0, "seed": seeds[0], "method": "wildgan",
                               "encoder_loss": encs[0], "normal": first})
    # one one-vs-rest cell per class; classes joined by + make one cell with several normal classes (as `train
    # --normal a,b` does). --normal all, or none (the protocol's default): the classes as the data's labels give
    # them, without decoding its images (data.splits.list_data), where a finished study's cells may need no more
    known = (study_cells if study_cells is not None
             else listed_study_classes(_asked_data_config(ns), Path(a.out)) if a.normal == "all"
             else listed_default_cell(_asked_data_config(ns), Path(a.out), log=_warn))
    if known:
        cells = grid(known, gammas, methods, encs, seeds)
        base = _finished_study_config(argparse.Namespace(**{**vars(ns), "normal": known[0]}), cells, Path(a.out))
        if base is not None:
            # every cell done: run_study only re-makes the tables from results.jsonl (each row holds its cell's AUCs
            # and controls), which a full decode of the data (minutes for CIFAR-10's JPEGs) would only delay. Its
            # refusals of other settings come first, so that "every one done" is not said of a study then refused
            check_study_dir(study_base(base, Path(a.out)), cells, Path(a.out))
            _eprint(f"study: {_counted(len(cells), 'cell')} -> {a.out}, every one done: the tables are made again from "
                    f"{Path(a.out) / 'results.jsonl'} (the images are not decoded)")
            return _run_the_study(a, base, cells, study_log)
    # the data set is read once: for the base config, the class names of --normal all, every cell's check, and the
    # cells' training. The cells read at the resolution and channels the base config finds; where the data's labels
    # already tell them (CIFAR-10's 32x32 RGB, chula-rbc12's 64x64 gray), it is read at those in the first place, so
    # that the cells take this read (before, a folder tree was decoded a second time for the cells)
    unsized = argparse.Namespace(**vars(ns))
    sized, protocol = with_protocol_shape(data_config_from_args(ns))
    ns.resolution, ns.channels = sized.resolution, sized.channels
    read_log = RunLog()     # (no file: it collects what the read shows, which each cell's log.txt is given)
    with copying_warnings(read_log):
        loaded = load_split_data(sized, progress=False if a.no_progress else None)
    if a.normal == "all":
        # the base config's normal class: the first one not excluded (the first class itself, when excluded, made
        # every `--normal all --exclude FIRST` a "both normal and excluded" error)
        ns.normal = unsized.normal = first_kept_class(loaded.train.class_names,
                                                      data_config_from_args(ns).exclude_classes)
    base, split = build_run_config(ns, loaded=loaded)
    if protocol is not None and split.info["protocol"] != protocol:
        # (the labels told another protocol than the images: read as before, at the size the data gives)
        ns, loaded = unsized, None
        with copying_warnings(read_log):
            loaded = load_split_data(data_config_from_args(ns), progress=False if a.no_progress else None)
        base, split = build_run_config(ns, loaded=loaded)
    if a.normal == "all":
        normals = [n for n in split.info["class_names"] if n not in split.info.get("excluded_classes", [])]
    elif a.normal is None:
        # the protocol's default normal set (e.g. chula: the normal RBC class) as one cell
        normals = [",".join(split.info["normal_classes"])]
    if a.normal in (None, "all"):
        cells = grid(normals, gammas, methods, encs, seeds)
    del split
    # every cell's split and method, before any trains: a bad cell would otherwise fail when reached, hours in
    checked_log = RunLog()  # (no file: what the check shows, which each cell's own split says again into its log)
    with copying_warnings(checked_log):
        check_cells(base, cells, Path(a.out), loaded=loaded)
    # the read as the cells read it: itself, or (a generic tree or .npz read at its own size) converted to their size
    # where that is their read byte for byte (read_for); else None, not held while the cells train (they read the data
    # as they want it)
    loaded = read_for(cell_config(base, cells[0]).data, loaded) if cells else None
    _eprint(f"study: {_counted(len(cells), 'cell')} -> {a.out}")
    # (the read handed on: the cells, which read the data alike, train on it)
    return _run_the_study(a, base, cells, study_log, data_said=read_log.warnings_given, loaded=loaded,
                          checked_said=checked_log.warnings_given)


def _finished_study_config(a: argparse.Namespace, cells: list[Any], out: Path) -> RunConfig | None:
    """The study's base config when every cell of `cells` is done as the command asks (a row in results.jsonl,
    computed as this command computes it), built without reading the data: the resolution and channels the data
    gives are taken from what the cells recorded (studies.study.recorded_shape). None when the data must be read: a
    cell to train or evaluate, no record, or a --resolution / --channels (or a --config's) other than the recorded
    ones (the decode path then refuses it by name, check_study_dir). Which cells the command has was found from the
    data's labels as they are now (its class folders or label arrays: studies.study.listed_study_classes,
    listed_default_cell), so a class added or relabelled since is a cell to train. What is not checked here is
    whether the data's images changed since the cells were read: their pixels, or their size (for a folder tree the
    median size of every image, which only the decode gives); the tables are made from the rows, which that change
    would not alter."""
    from ..studies.study import cells_to_compute, recorded_shape

    shape = recorded_shape(cells, out)
    if shape is None:
        return None
    asked = _asked_data_config(a)
    if asked.resolution not in (None, shape[0]) or asked.channels not in (None, shape[1]):
        return None
    base = run_config_for_shape(a, *shape)
    return None if cells_to_compute(base, cells, out) else base


def _run_the_study(a: argparse.Namespace, base: RunConfig, cells: list[Any], study_log: RunLog,
                   data_said: Sequence[str] = (), loaded: LoadedData | None = None,
                   checked_said: Sequence[str] = ()) -> int:
    from ..studies import run_study

    try:
        import shlex

        # (a namespace parsed without main has no command line: the study's log then names the command only)
        command = shlex.join(getattr(a, "command_line", None) or ["wildgan", "study"])
        run_study(base, cells, Path(a.out), progress=not a.no_progress, log=study_log, cells_checked=True,
                  rows_named=True, data_said=data_said, loaded=loaded, checked_said=checked_said, command=command)
    except BaseException as e:
        # the study's log.txt says how it stopped, once: a cell that stopped has said it there already
        line = f"stopped: {stop_text(e)}"
        if Path(a.out).is_dir() and not isinstance(e, ConfigError) and study_log.last_line != line:
            study_log.write(line)
        raise
    print((Path(a.out) / "tables.md").read_text())
    return 0


# === wildgan demo =====================================================================================================

def cmd_demo(a: argparse.Namespace) -> int:
    """The README's main job: train on the embedded MNIST sample, evaluate, print the AUC table."""
    from ..training.run import DEMO_MARKER, check_lock_free, previous_run

    out = Path(a.out)
    marker = out / DEMO_MARKER
    # a folder another process holds is refused first, as train does (before the data is read); the marker is
    # written only under the demo's own run lock (mark, below), so a folder taken after this check is never marked
    check_lock_free(out)
    # the demo is re-runnable: it replaces its own previous output, and only that (never another run in --out)
    found = previous_run(out) if out.is_dir() else []
    if found and not marker.is_file():
        raise ConfigError(f"{out} already holds a run that is not a demo ({', '.join(found)}): choose another --out "
                          f"(the demo replaces only its own earlier output; a demo run by an older wildgan has no "
                          f"{DEMO_MARKER}: delete that folder first)")
    argv = ["train", "--out", a.out, "--preset", a.preset, "--normal", a.normal, "--total-kimg", str(a.total_kimg),
            "--phase-kimg", str(a.phase_kimg), "--seed", str(a.seed), "--device", a.device, "--evaluate"]
    if found:
        argv.append("--overwrite")      # (deletes the marker with the other run outputs; mark writes it again)
        _warn(f"replacing the previous demo in {out} (its networks, evaluation and report); --out DIR keeps it")
    if a.threads:
        # A short GAN run amplifies float-summation differences between intra-op thread counts: a fixed count
        # makes the demo's numbers independent of the core count (another CPU's kernels can still round otherwise:
        # README, Results; and one thread is the fastest for tiny nets).
        argv += ["--threads", str(a.threads)]
    if a.no_progress:
        argv.append("--no-progress")

    def mark() -> None:
        # called by train_run while the demo's own train holds the run lock, as it ends however it ends: what is in
        # --out then is the demo's. (Written after the train returned, the mark landed on the run of a process that
        # took the folder after the check above, once the demo's train was refused.)
        if not previous_run(out):
            return
        try:
            marker.write_text("written by `wildgan demo`: a later demo may replace this run\n")
        except OSError as e:
            # (a full disk, say) the marker only lets a later demo replace this run (the check above): the finished
            # training and the evaluation that follows do not need it, so the demo says so and goes on
            later = "" if marker.is_file() else (f": a later `wildgan demo --out {shell_word(out)}` will refuse to "
                                                 f"replace this run (delete the folder first)")
            _warn(f"warning: could not write {marker} ({e}){later}")

    import shlex

    from ..errors import without_resume_advice

    def reword(e: TrainingInterrupted) -> TrainingInterrupted:
        # train's advice (errors.resume_advice) continues the training only, and a demo run again starts over: the
        # train command that continues this one and prints the demo's table. The run's log.txt says it too
        # (cmd_train records its stop in these words: reword_stop)
        run = shlex.quote(str(out))
        said = (without_resume_advice(e)
                .replace("(the training scores, --evaluate)", "(the training scores, the evaluation)"))
        return TrainingInterrupted(
            f"{said}; to {'finish' if e.complete else 'continue'} the demo and print its table, `wildgan train "
            f"--out {run} --resume --evaluate` (`wildgan demo --out {run}` starts it over)", e.signum, where=e.where,
            checkpoint_dir=e.checkpoint_dir, complete=e.complete)

    t = make_parser().parse_args(argv)
    t.typed, t.before_unlock, t.reword_stop = set(), mark, reword
    try:
        rc = cmd_train(t)
    except TrainingInterrupted as e:
        raise reword(e) from None
    if rc == 0:
        # the demo is a newcomer's first command, and its table is where it ended: it said nothing of the report
        # (heat maps of the most anomalous digits) or of scoring images of one's own, the README's next steps
        run = shlex.quote(str(out))
        _eprint(f"next: `wildgan report {run}` writes {out / 'report' / 'report.html'} (the most anomalous test "
                f"digits with their heat maps); `wildgan score {run} --data FOLDER --out scores.csv` scores "
                f"images of your own")
    return rc


# === wildgan report ===================================================================================================

def cmd_report(a: argparse.Namespace) -> int:
    from ..evaluation.report import check_report_args, report

    _refuse_saved_detector(a.path, "report")
    scores = list(dict.fromkeys(a.score or []))
    study = not (Path(a.path) / "config.json").is_file() and (Path(a.path) / "results.jsonl").is_file()
    if len(scores) > 1 and not study:
        raise ConfigError(f"--score is given {len(scores)} times ({', '.join(scores)}); a run's report ranks its "
                          f"images by one score (several are for a study's figures)")
    _refuse_split_paths(a.image, "--image")
    check_report_args(None if study or not scores else scores[0], a.top_k, a.tsne_points, a.image)
    if a.batch_mode != "mixed" and not study and (Path(a.path) / "config.json").is_file():
        from ..config import read_run_config

        try:
            method = read_run_config(Path(a.path)).method
        except WildganError:
            method = "wildgan"           # (a damaged config: the report's own reading names the problem)
        if method != "wildgan":
            # as score says it, and falls back: search and f-AnoGAN have one protocol (and one training-score cache)
            _warn(f"warning: --batch-mode applies to wildgan runs (the encoder's minibatch stddev); this "
                  f"{method} run scores as it always does")
            a.batch_mode = "mixed"
    _use_threads(a)
    views = []
    if study and scores:
        from ..studies.study import score_views

        # made and checked from the rows before anything is written (a score some method lacks is refused here)
        views = score_views(Path(a.path), scores)
    # the file itself: report() reads it and names it in every complaint about the masks
    out = report(a.path, top_k_images=a.top_k, images=a.image, score=None if study or not scores else scores[0],
                 masks=a.masks, device=a.device, controls=not a.no_controls, tsne_points=a.tsne_points, log=_show,
                 skip_bad=a.skip_bad, progress=not a.no_progress, study_views=views, batch_mode=a.batch_mode)
    print(out)
    return 0


# === main: parse, dispatch, and one line (and exit code) per way a command ends =======================================

def _split_path(argv: Sequence[str], word: str) -> str | None:
    """The path with spaces that `word` (an unrecognized argument) ends, when the shell split it into words: the
    word and up to 5 words before it, joined by spaces, name a file or folder that exists (e.g. `wildgan score
    runs/my run ...` typed without quotes: 'run' was unrecognized, and the hint sent the user to --data)."""
    for j, w in enumerate(argv):
        if w != word:
            continue
        for k in range(j - 1, max(-1, j - 6), -1):
            if argv[k].startswith("-"):
                break
            joined = " ".join(argv[k:j + 1])
            if _exists(joined):
                return joined
    return None


def _exists(path: str) -> bool:
    try:
        return Path(path).expanduser().exists()
    except (OSError, ValueError):          # a name too long, a NUL byte: no such path
        return False


def _refuse_split_paths(words: Sequence[str] | None, option: str) -> None:
    """A path with spaces typed without quotes reaches a list option (score --data, report --image) as several words,
    the first of which does not exist: 'new: no such file or folder' did not say why. Refused naming the path."""
    import shlex

    words = list(words or [])
    for i, w in enumerate(words):
        if _exists(w):
            continue
        for j in range(i + 2, min(len(words), i + 6) + 1):
            joined = " ".join(words[i:j])
            if _exists(joined):
                raise ConfigError(f"{w}: no such file or folder ({option}); {joined!r} is one path with spaces in "
                                  f"it, split by the shell into words: put it in quotes ({shlex.quote(joined)})")


def _unrecognized(p: argparse.ArgumentParser, cmd: str, extra: list[str], argv: Sequence[str] = ()) -> None:
    """argparse's 'unrecognized arguments' comes from the top-level parser, with its usage: say it with the command's
    own usage instead, and suggest the options the words were probably meant to be (a typo, a forgotten --data, a
    path with spaces not quoted)."""
    import difflib
    import shlex

    sub = _sub_parser(p, cmd)
    options = [o for act in sub._actions for o in act.option_strings if o.startswith("--")]
    hints = []
    splits = {w: _split_path(argv, w) for w in extra if not w.startswith("-")}
    for w in extra:
        if splits.get(w) is not None:
            if not any(shlex.quote(splits[w]) in h for h in hints):
                hints.append(f"{w}: {splits[w]!r} is one path with spaces in it, split by the shell into words: put "
                             f"it in quotes ({shlex.quote(splits[w])})")
        elif w.startswith("-"):
            close = difflib.get_close_matches(w.split("=", 1)[0], options, n=1, cutoff=0.6)
            if close:
                hints.append(f"{w}: did you mean {close[0]}?")
        elif "--data" in options and not hints and not any(splits.values()):
            # (a word of a path with spaces is no forgotten --data: its hint, above, says what is wrong)
            hints.append(f"{w}: image files, folders and data sets go after --data")
    sub.error(f"unrecognized arguments: {' '.join(extra)}" + "".join(f"\n  {h}" for h in hints))


def _on_sigterm() -> tuple[Any, dict[str, bool]]:
    """Make SIGTERM end the command like Ctrl-C does (one line, exit 143; a SIGHUP passed here by _on_sighup, 129)
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
        # (SIGHUP too, for a command that trains: _on_sighup passes it here outside training's loop)
        raise Terminated(stop_words(signum), signum)

    return signal.signal(signal.SIGTERM, term), state


# the commands that train, whose SIGHUP stops them as SIGTERM does (_on_sighup)
_TRAINING_COMMANDS = ("train", "study", "demo")


def _on_sighup(command: str | None) -> tuple[bool, Any]:
    """For a command that trains: SIGHUP (its terminal gone, e.g. a dropped ssh connection, where it ran without tmux or
    nohup) handled as SIGTERM is, rather than Python's default, which killed the process with no checkpoint: in
    training's loop a checkpoint, then the stop (exit 129); anywhere else the command's one-line stop (Terminated).
    Handled by passing the signal to whatever handles SIGTERM at that moment (the loop's StopFlag, a commit's
    stops_deferred, _on_sigterm's): one way to stop, not two to keep alike. A SIGHUP that is ignored (nohup's, which
    asked the command to outlive its terminal) is left so; so is every other command's. Returns whether a handler
    was set, and the previous one to restore."""
    import signal
    import threading

    if command not in _TRAINING_COMMANDS or not hasattr(signal, "SIGHUP") or \
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


def _say_stop(line: str) -> None:
    """main's line for a command stopped by a signal or a closed output, on stderr. Its terminal may be gone (a SIGHUP's
    dead ssh session, EIO) or its pipe closed (what stopped training): the stop is said in log.txt already, and the
    write that cannot be done must not turn the clean stop into a traceback and exit 1."""
    try:
        _eprint(line)
    except OSError as e:
        if not output_gone(e):
            raise


def main(argv: Sequence[str] | None = None) -> int:
    """`wildgan ARGV` (sys.argv's by default): the command's exit code (_main). What it printed is flushed here, on
    every way out (its result, an error, --help's or a usage error's SystemExit), as the Python docs' "Note on
    SIGPIPE" does it: a reader gone is then exit 141 without a word, not a failure of the flush at Python's exit,
    which printed "Exception ignored ... BrokenPipeError" and made the exit status 120 (`wildgan study ... | head`,
    `wildgan --help | head -1`)."""
    try:
        try:
            return _main(argv)
        finally:
            if sys.stdout is not None:      # (None under pythonw)
                sys.stdout.flush()
    except BrokenPipeError:
        # (the command's own BrokenPipeError is handled by _main: this is the flush's, so stdout's reader is gone;
        # what is still buffered, stderr's too with `2>&1 | head`, must have nowhere to fail on exit: status 120)
        silence_closed_outputs()
        return 141


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    given = list(argv)
    _FIT_READ_SAID.clear()              # (said once a command, not once a process: main is called again in one)
    p = make_parser()
    debug = "--debug" in argv
    if not [w for w in argv if w != "--debug"]:
        # a bare `wildgan` (a newcomer's first try): the commands, not argparse's "the following arguments are
        # required: COMMAND"; still exit 2, a usage error, so that a script that lost its command does not pass
        p.print_help()
        return 2
    import warnings

    saved_format = warnings.formatwarning
    # under torchrun every rank prints its own errors and warnings to the one terminal: the ranks other than 0 say
    # which they are, so that a message printed once per rank reads as the same one, and a rank's own (a file of its
    # chunk) as that rank's. Not kept quiet: what fails on rank 1 alone must be seen.
    tag = _rank_tag()
    if not debug:
        # our warnings are messages for the user (mixed image sizes, changed data, skipped files): one line each,
        # without Python's file:line prefix; restored on the way out, so library users' warnings keep theirs
        warnings.formatwarning = lambda msg, cat, *args, **kw: (  # type: ignore[assignment]
            f"wildgan: warning{tag}: {msg}\n" if issubclass(cat, UserWarning) else f"{cat.__name__}: {msg}\n")
    saved_term, term_state = _on_sigterm()
    hup_set, saved_hup = _on_sighup(next((w for w in argv if not w.startswith("-")), None))
    # image files are decoded by a pool of processes (data.decode_pool.decode_workers): the command's own main module is
    # safe to import again in them, unlike an arbitrary user script (the library default is one process)
    saved_workers = os.environ.get("WILDGAN_DECODE_WORKERS")
    os.environ.setdefault("WILDGAN_DECODE_WORKERS", "auto")
    # --threads sets torch's intra-op thread count for the command (its training, scoring, evaluation), and training
    # seeds torch's global RNG: both put back on the way out as the warning format is, so that main() called again
    # in one process (a notebook, the tests) leaves what runs after it at the caller's count and random stream (float
    # sums differ with the count; a 1-thread pytest-xdist worker left at 2 threads by one test oversubscribed the
    # cores for the rest of it). torch not imported yet: nothing to keep (and no import of it for `wildgan --help`)
    kept = ExitStack()
    # the messages that advise leaving unreadable files out name --skip-bad during a command, and the Python API's
    # skip_bad=True again after it (a script that calls main, then the API)
    kept.enter_context(skip_bad_said_as(CLI_SKIP_BAD))
    if "torch" in sys.modules:
        from ..devices import caller_torch_state_kept

        kept.enter_context(caller_torch_state_kept())
    try:
        try:
            # the command is the first word that is not a global option (`wildgan --debug train ...`)
            at = next((i for i, w in enumerate(argv) if not w.startswith("-")), None)
            typed: set[str] = set()
            if at is not None and argv[at] in _sub_parser_names(p):
                # the options typed, whatever their values: a default typed out is given all the same (and said so)
                typed = _typed_options(_sub_parser(p, argv[at]), argv[at + 1:])
            # (no file: what --resume says while the command line is read, which the run's log.txt is given)
            said_before = RunLog()
            if at is not None and argv[at] == "train":
                # `--config FILE` and `--resume` install a file's values as the defaults of train's options
                train = _sub_parser(p, "train")
                with copying_warnings(said_before):
                    argv = [*argv[:at + 1], *_resume_config(argv[at + 1:], said_before.write)]
                _set_from_config(train, argv[at + 1:])
            a, extra = p.parse_known_args(argv)
            if extra:
                _unrecognized(p, a.cmd, extra, argv)
            a.said_before = said_before.held_lines()
            a.typed = typed
            a.command_line = ["wildgan", *given]    # (as typed: a study's log.txt records it)
            if hasattr(a, "square"):
                # (typed, or from a flat --config file; a run's own config.json records letterbox, or its 'pad' was
                # read as letterbox already)
                a.square = square_name(a.square, given="cli", warn=lambda m: _warn(WARNING + m))
            kernels_from_env()          # (a typo in WILDGAN_KERNELS is said now, not at the first forward)
            _refuse_torchrun_without_distributed(a)
            return int(a.func(a) or 0)
        finally:
            term_state["ending"] = True     # the outcome is decided (see _on_sigterm)
    except TrainingInterrupted as e:
        _say_stop(f"wildgan{tag}: {e}")
        return 128 + (e.signum or 2)
    except WildganError as e:
        if debug:
            raise
        _eprint(f"wildgan: error{tag}: {e}")
        return 2
    except WildganWarning as e:
        # one of our warnings raised by a filter the user set (python -W error, PYTHONWARNINGS=error): they asked
        # for it to stop the command, not for a traceback; other libraries' warnings raised so stay tracebacks
        if debug:
            raise
        _eprint(f"wildgan: error{tag}: {e} (a warning, raised as an error by the warnings filter: -W error or "
                f"PYTHONWARNINGS)")
        return 2
    except KeyboardInterrupt:
        _eprint(f"wildgan: {INTERRUPTED}")
        return 130
    except MemoryError as e:
        if debug:
            raise
        # numpy's _ArrayMemoryError says how much it wanted; the decoded images are held in memory as uint8 (training
        # holds about 3x them: the decode, the pyramid, the training array)
        _eprint(f"wildgan: error{tag}: out of memory{f' ({e})' if str(e) else ''}: the images are decoded into memory; "
                f"use a smaller --resolution, --channels 1, or fewer images (training needs about 3x the decoded "
                f"pixels)")
        return 1
    except Terminated as e:
        # e.g. a job scheduler's kill: said like Ctrl-C (a --out file is written only at the end, atomically, so an
        # earlier one at that path is kept; one that came while it was written waited for its line, `wrote ...`);
        # `train` handles SIGTERM itself, with a checkpoint. (SIGHUP's 129 for a command that trains: _on_sighup)
        _say_stop(f"wildgan{tag}: {e}")
        return 128 + e.signum
    except BrokenPipeError as e:
        if closed_outputs() == []:
            # neither stdout nor stderr is closed: another pipe broke (a decode worker's), an error to say as any
            # OSError is, not a reader that left
            if debug:
                raise
            _eprint(f"wildgan: error{tag}: {e}")
            return 1
        # e.g. `wildgan info | head`, `wildgan study ... 2>&1 | head`: the reader left; no traceback, no error line
        # (there is no one to read it), and no second error when Python flushes the streams on exit
        silence_closed_outputs()
        return 141
    except OSError as e:  # after BrokenPipeError, one of its kind
        # a full disk, a read-only folder, a path that is a file: one line naming the file, not a traceback
        if debug:
            raise
        _eprint(f"wildgan: error{tag}: {e}")
        return 1
    finally:
        warnings.formatwarning = saved_format
        if saved_workers is None:
            os.environ.pop("WILDGAN_DECODE_WORKERS", None)
        kept.close()
        if saved_term is not None:
            import signal

            signal.signal(signal.SIGTERM, saved_term)
        if hup_set:
            import signal

            # (None: a handler set from C, which Python cannot put back; the default action then)
            signal.signal(signal.SIGHUP, signal.SIG_DFL if saved_hup is None else saved_hup)


# === names that moved out of this module (old import paths) ==========================================================
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


if __name__ == "__main__":
    sys.exit(main())
