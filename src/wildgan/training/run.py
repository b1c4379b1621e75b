"""A training run from a RunConfig, start to finish: the Python equivalent of `wildgan train`.

The entry point is `train_run(cfg, run_dir, resume=..., overwrite=...)`; the CLI (train, demo), Detector.fit and a
study's cells all call it. A run goes through these steps, each a function below:

1. `_check_the_start`: every refusal that can be asked before anything is written (the folder: check_run_dir; the
   device, the networks' memory, WILDGAN_DATA_ON_GPU, TensorBoard, f-AnoGAN's image size, its one process and its
   seed, device and budget against the train section's: check_fanogan_shared), so that a refused start leaves no
   half-made run behind.
2. `_take_the_folder`: rank 0 takes RUN_DIR/.wildgan.lock (`run_lock`) and asks again whether a run is there; under
   torchrun every rank learns the answer.
3. `_train_run`, under the lock: build the split, `_clear_old_run` (--overwrite, or a start that never trained),
   `_resumed_config` (what a resume keeps of the saved run), `_check_resumed_split` (the same training images),
   write config.json/config.yaml and split.json, `_log_start`, `_train_method` (train_pgan or `_train_fanogan`), and
   `_note_stale_evaluations` (of a resume's earlier networks, or of a checkpoint evaluated as it trained).
4. As the session ends, however it ends, `before_unlock` runs while the lock is still held.
5. After the lock: a pGAN run that ended before its networks grew to full resolution is warned of
   (`not_grown_warning`), unless the caller says it itself.

Around it all, RUN/log.txt for a caller that does not keep it itself (train_run's docstring): the lines said, the
warnings, `trained_line` or `stopped: ...`. Its refusals name the ways on in the caller's words (`resume_words`,
`start_again_words`, `another_out_words`: the CLI's options during a command, train_run's keywords otherwise).

Where things are, top to bottom:

* The run folder: what a run writes (RUN_OUTPUTS), whether one is there (`previous_run`, `never_trained`); a
  user's output file never replaces a run's or a study's own (`refuse_a_run_or_study_file`: the CLI's --out and the
  API's writers).
* Refusals before anything is written: `check_out_dir` (the paths alone: asked before the data is decoded),
  `check_run_dir` (adds the config: a resume must keep what defines the run, `run_differences`),
  `check_training_memory`.
* The lock: `run_lock` (held while training), `check_lock_free` (a glance before the data is decoded).
* `train_run` and its steps; `replay_run`, a saved run's config file trained again with the command line's checks
  of a replay (data.replay).
* Evaluations saved before a resume: `networks_record`, `networks_changed`, `stale_evaluation`,
  `evaluate_command` (evaluation.run and evaluation.report use them too).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shlex
import shutil
import socket
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

from ..checkpoint import list_checkpoints, read_meta, remove_orphan_weights, remove_stale_temp
from ..config import (FANOGAN_LEGACY_BN, PRESETS, SAMPLE_TOKEN, DataConfig, RunConfig, check_api_call,
                      default_checkpoint_kimg, kernels_from_env, read_run_config,
                      refuse_untrained_encoder, run_config_in, shown, run_config_to_dict, write_run_config)
from ..fileio import atomic_write_text, holding_off_writes, make_folder, remove_files, writing_temps
from ..data import AnomalySplit, build_split, split_differences, split_summary
from ..data.image_decode import IMAGE_EXTS
from ..data.imageset import resolution_settled
from ..data.run_temps import remove_training_write_temps, writing_shared_files
from ..data.replay import (ReplayFiles, as_fit_read, in_run_order, refuse_in_memory_replay,
                           warn_if_replay_reads_other_images)
from ..data.source_identity import restore_advice, source_replaced
from ..data.eval_files import EVAL_FILES, EVAL_JSON, eval_files_there, eval_temp_files, names_text
from ..data.train_score_files import TRAIN_SCORE_FILES
from ..data.splits import (PROTOCOL_DEFAULTS, TRAIN_FIELDS, decoded_apart, follow_train_order,
                           keep_cached_fit_ids_before_resume, keep_channels_origin, keep_fit_ids, keep_fit_record,
                           names_files, other_images_read, resolve_classes, square_fit, training_record, write_fit_ids,
                           write_train_hashes)
from ..data.readers import (absolute_data_path, is_run_dir, is_study_dir, missing_run_data_error,
                            resolve_data_root, same_data_source)
from ..devices import caller_torch_state_kept, resolve_device
from ..errors import (ConfigError, TrainingInterrupted, WildganError, in_cli, option_words, shell_word, skip_bad_option,
                      torchrun_hangup_note, warn_user)
from ..runlog import RunLog, copying_warnings, kept_by_caller, last_session_ended_abruptly
from .data_placement import data_on_gpu_setting
from .loop import TrainResult, train_pgan
from .schedule import kimg_text, kimg_to_the_image, not_grown_text
from .tblog import require_tensorboard

def writable_run_dir_words() -> str:
    """What to do when the run folder cannot be written (read-only, no permission, a full disk), in the words of the
    call in progress (errors.option_words): a command's --out, or the run_dir of a Python call (Detector, train_run),
    who was told of both and could pass only one."""
    return f"train into a folder that can be written ({option_words('--out DIR', 'run_dir=DIR')})"


# The ways on that train_run's refusals name, in the words of the call in progress (errors.option_words): the CLI's
# options during a command, train_run's keyword arguments for a Python caller, who was told of options it cannot pass.
# Read where a message is made; a caller that words a refusal in its own terms (Detector.fit, a study's cell) matches
# what they return, in the same call, not a copy of the text.
def resume_words() -> str:
    """How the caller continues the run in place: '--resume', or train_run's 'resume=True'."""
    return option_words("--resume", "resume=True")


def start_again_words() -> str:
    """The advice to train the run again from scratch, deleting it: 'start again with --overwrite' (the CLI's), or
    'start again with overwrite=True' (train_run's)."""
    return f"start again with {option_words('--overwrite', 'overwrite=True')}"


def another_out_words() -> str:
    """Another folder for the run: 'another --out', or 'another run_dir' (train_run's)."""
    return option_words("another --out", "another run_dir")


def out_words(kind: str = "run") -> str:
    """The folder a refusal names, as its user gave it: '--out' during a command, else the Python call's parameter,
    train_run's (and Detector's) 'run_dir' for a `kind` 'run', run_study's 'study_dir' for a 'study'."""
    return option_words("--out", "study_dir" if kind == "study" else "run_dir")


def _rewritten_by(evaluate: bool = True) -> str:
    """What rewrites a run's own subfolders (report/, checkpoints/ ..., and eval-*/ where `evaluate`), in the
    caller's words."""
    also = "evaluate, " if evaluate else ""
    return option_words(f"report, {also}--resume, --overwrite", f"report, {also}resume=True, overwrite=True")


# ------------------------------------------------------------------------------------------------------------------
# The run folder

# `wildgan demo`'s marker of its run: a later demo replaces only a run that has it
DEMO_MARKER = "DEMO.txt"

# What a run directory holds after training / evaluating / reporting (removed by overwrite=True).
RUN_OUTPUTS = ("config.json", "config.yaml", "split.json", "skipped.txt", "stats.jsonl", "log.txt", "checkpoints",
               DEMO_MARKER,  # a run trained over a demo (--overwrite) is no demo any more
               "DETECTOR.txt",   # Detector.fit's: a later fit may replace the run, a `wildgan train` one it may not
               "samples", "tensorboard", "network-final.json", "network-final.safetensors", "fanogan-final.json",
               "fanogan-final.safetensors",
               *EVAL_FILES,                 # `wildgan evaluate`'s outputs (data.eval_files)
               "report",
               *TRAIN_SCORE_FILES,          # the training-score caches (data.train_score_files)
               "detector_threshold.json",   # Detector.fit's threshold (thresholds.FIT_THRESHOLD_FILE)
               "fit_ids.json",              # Detector.fit's training ids (data.splits.FIT_IDS_FILE)
               "train_hashes.npz")          # each training image's checksum (data.splits.TRAIN_HASHES_FILE)
# Any of these means a run was started here.
_RUN_MARKERS = ("config.json", "stats.jsonl", "checkpoints", "network-final.json", "fanogan-final.json")


def previous_run(run_dir: Path) -> list[str]:
    """The run outputs already in run_dir (empty when none)."""
    return [n for n in _RUN_MARKERS if (Path(run_dir) / n).exists()]

# what a start leaves behind before its first training step: nothing else of RUN_OUTPUTS may be there for a new start
# to replace it without --overwrite
_START_FILES = frozenset({"config.json", "config.yaml", "split.json", "skipped.txt", "log.txt", DEMO_MARKER,
                          "DETECTOR.txt", "fit_ids.json", "train_hashes.npz"})


def never_trained(run_dir: Path) -> bool:
    """run_dir holds a wildgan run that was started but refused or failed before its first training step (e.g. a
    device or a package that turned out missing): its config.json reads as a run's, and of the run outputs only what
    a start writes is there (an empty stats.jsonl and checkpoints/ included). A new start replaces it instead of
    asking for --overwrite, which would be a ceremony for nothing; anything more (samples, a report, a folder whose
    config.json is someone else's) is refused as before."""
    run_dir = Path(run_dir)
    for name in RUN_OUTPUTS:
        p = run_dir / name
        if not p.exists() or name in _START_FILES:
            continue
        if name == "stats.jsonl" and p.is_file() and p.stat().st_size == 0:
            continue
        if name == "checkpoints" and p.is_dir() and not any(p.iterdir()):
            continue
        return False
    # (an eval-*/ folder of the user's files alone, what an --overwrite keeps of one, is no evaluation)
    if any(p.is_dir() and ((p / EVAL_JSON).exists() or eval_temp_files(p)) for p in run_dir.glob("eval-*")):
        return False
    try:
        read_run_config(run_dir)
    except (WildganError, ValueError, TypeError, KeyError, OSError):
        return False
    return True


def _images_seen(run_dir: Path) -> int:
    """Images the run's networks have seen: its final networks' or newest checkpoint's count (0 when none)."""
    seen = 0
    for p in [run_dir / "network-final.json", *list_checkpoints(run_dir / "checkpoints")[-1:]]:
        try:
            seen = max(seen, int(read_meta(p).get("nimg", 0)))
        except (WildganError, ValueError, TypeError, OSError):
            pass              # a damaged file: the resume itself says which (and falls back, or refuses)
    return seen


def write_split_info(split: AnomalySplit, run_dir: Path, summary: dict[str, Any] | None = None) -> None:
    """RUN/split.json: the split's record (what a resume checks its images against, what evaluations read), and
    RUN/skipped.txt when --skip-bad left files out. summary: split_summary(split), when the caller has it."""
    info = dict(split.info)
    info.update(split_summary(split) if summary is None else summary)
    atomic_write_text(run_dir / "split.json", json.dumps(info, indent=2, default=str))
    skipped = info.get("skipped") or []
    if skipped:
        # one line per file: "path<TAB>why" (the reason without the path it would repeat)
        def line(s: object) -> str:
            if isinstance(s, dict):
                path, why = str(s.get("path", "")), str(s.get("reason", ""))
                why = why[len(path) + 2:] if why.startswith(path + ": ") else why
                return f"{path}\t{why}"
            return str(s)

        atomic_write_text(run_dir / "skipped.txt", "".join(f"{line(s)}\n" for s in skipped))


# ------------------------------------------------------------------------------------------------------------------
# Refusals before anything is written

def check_run_dir(cfg: RunConfig, run_dir: Path, *, resume: bool = False, overwrite: bool = False,
                  files: ReplayFiles | None = None) -> None:
    """Raise ConfigError when training cfg into run_dir with these flags would be refused; touches nothing.

    A run_dir that already holds a run is refused unless resume=True (continue it) or overwrite=True (delete its
    outputs first): starting afresh on top of an old run would mix its checkpoints and logs with the new ones.
    A resume must keep what defines the run (see below). check_out_dir asks the refusals that need no config.
    files: the run's config.json and split.json as the caller read them (saved_run_files), not read again. A cfg
    that is not a RunConfig, or files that are not a ReplayFiles, is a TypeError (a RunConfig whose data is no
    DataConfig cannot be made: RunConfig refuses it)."""
    # internal misuse, said at entry: the data section passed for the RunConfig failed as an AttributeError on
    # cfg.data.data, and a config file's path passed for `files` as one inside read_saved_config; neither named the
    # argument. A resume needs both whole: as_fit_read's reading of an earlier fit's record takes over only where
    # run_differences finds cfg's DataConfig the same as it
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"check_run_dir: cfg must be a wildgan.config.RunConfig, got a {type(cfg).__name__}")
    if files is not None and not isinstance(files, ReplayFiles):
        raise TypeError(f"check_run_dir: files must be a wildgan.data.replay.ReplayFiles (saved_run_files(run_dir)) "
                        f"or None, got a {type(files).__name__}")
    run_dir = Path(run_dir)
    check_out_dir(run_dir, cfg.data.data, resume=resume, overwrite=overwrite)
    if resume:
        check_resumed_settings(cfg, run_dir, files)


def check_resumed_settings(cfg: RunConfig, run_dir: Path, files: ReplayFiles | None = None) -> None:
    """Raise ConfigError when cfg differs from the run saved in run_dir in what a resume may not change (the part of
    check_run_dir that compares the settings; nothing where run_dir holds no config.json). `wildgan train --dry-run
    --resume` asks it without the checks of the folder's state: it printed the config of a resume with a setting
    that the resume itself refuses (--lr 0.5 on a run trained at 0.001) as one that would train. files: as
    check_run_dir's."""
    run_dir = Path(run_dir)
    if (run_dir / "config.json").is_file():
        files = saved_run_files(run_dir) if files is None else files
        saved_cfg = read_saved_config(run_dir, files)
        # a Detector.fit of an earlier wildgan recorded dataset 'auto' for the data it read whole, which the command
        # line's resume reads as that fit did ('unlabelled': data.replay.as_fit_read, which said so): compared with
        # the run as it was trained where cfg reads the data just so, not refused for the name. fit(resume=True)
        # on its folder or data-set file comes here too, and either resume's record then says 'unlabelled', what
        # was trained on (one kept as 'auto' replays by a protocol). Any other data section is compared with the
        # record as it is (a DataConfig's 'unlabelled' that differs besides is told its dataset too, as before)
        as_read = as_fit_read(saved_cfg, run_dir / "config.json", note=lambda m: None, files=files)
        if as_read is not None and as_read is not saved_cfg and \
                not any(d.startswith("data.") for d in run_differences(as_read, cfg)):
            saved_cfg = as_read
        check_fanogan_shared(cfg, saved_cfg)     # (a new start: check_the_settings, which has no saved run)
        diffs = run_differences(saved_cfg, cfg)
        if saved_cfg.preset != cfg.preset and any(d.startswith(("net.", "train.minibatch:")) for d in diffs):
            # the option that was typed, first: `--resume --preset fast` on a tiny run was told only of what the
            # preset sets, net.fmap_base, net.fmap_max, ... and train.minibatch, none of them a command-line option
            diffs.insert(0, f"{option_words('--preset', 'preset')}: {saved_cfg.preset!r} -> {cfg.preset!r}")
        reached = _images_seen(run_dir) if cfg.method != "fanogan" else 0
        if cfg.method != "fanogan" and cfg.train.total_kimg < saved_cfg.train.total_kimg and \
                cfg.train.total_kimg * 1000 < reached:
            # the networks are already past the new end: the config would describe a run that never was
            diffs.append(f"{option_words('--total-kimg', 'train.total_kimg')} {kimg_to_the_image(cfg.train.total_kimg)}"
                         f" is shorter than the "
                         f"{kimg_to_the_image(reached / 1000)} kimg the run has trained (a resume may lengthen a "
                         f"run, not shorten it)")
        if diffs:
            alone = option_words(f"`wildgan train --out {shell_word(run_dir)} --resume` alone uses the run's own "
                                 f"config.yaml",
                                 f"train_run(read_run_config({str(run_dir)!r}), {str(run_dir)!r}, resume=True) "
                                 f"resumes with the run's own config (wildgan.config.read_run_config)")
            # (f-AnoGAN trains a fixed count of iterations, compared as any setting, and reads no total_kimg: named
            # to it, a resume took --total-kimg and then trained nothing, "the run was already finished")
            may = (option_words("give only the options that may change (e.g. --minutes, --device): ",
                                "only the settings that may change may differ (e.g. fanogan.minutes, "
                                "fanogan.device): ") if cfg.method == "fanogan" else
                   option_words("give only the options that may change (e.g. --total-kimg, --minutes): ",
                                "only the settings that may change may differ (e.g. train.total_kimg, "
                                "train.minutes): "))
            err = ConfigError(f"{run_dir}: {resume_words()} with settings that differ from the saved run: "
                              f"{'; '.join(diffs)}; {may}{alone}{_moved_data_hint(saved_cfg, cfg)}")
            # the way on, kept apart for a caller that words the refusal in its own terms (Detector.fit's
            # resume=True cuts it): found by value, not parsed back out of the message, whatever the path holds
            err.cli_advice = alone      # type: ignore[attr-defined]
            # (and the list, which the command line follows with the options given that set them: cli.train)
            err.differences = diffs      # type: ignore[attr-defined]
            raise err


def saved_run_files(run_dir: Path) -> ReplayFiles:
    """What a resume reads of the run saved in run_dir: its config.json and split.json (data.replay.ReplayFiles of
    RUN/config.yaml: run_json, split_json), each read once, when first asked, for all its checks. Each check read
    them on its own (the command's check_run_dir, train_run's again, the resumed config, fit's ids, the train order
    and the check of the images: config.json three times, split.json five), so a file saved meanwhile gave one check
    one version and the next another. `wildgan train --resume` passes its own, which its checks before the options
    are parsed have read already (cli.config_args.ConfigReader.replay_files)."""
    return ReplayFiles(Path(run_dir) / "config.yaml")


def read_saved_config(run_dir: Path, files: ReplayFiles) -> RunConfig:
    """read_run_config of run_dir through `files` (saved_run_files): its config.json and split.json as read there. A
    config.json that does not read is refused in read_run_config's words (which read it once more, to say why)."""
    try:
        raw = files.run_json().contents
    except ConfigError:
        return read_run_config(run_dir)
    return read_run_config(run_dir, raw, files.split_json)


# the settings TrainConfig and FAnoGANConfig both have: f-AnoGAN's loop reads its own section's, while the device of a
# study's evaluation of the cell, for one, is the train section's
FANOGAN_SHARED = ("seed", "device", "minutes")


def check_fanogan_shared(cfg: RunConfig, saved: RunConfig | None = None) -> None:
    """Refuse an f-AnoGAN config whose train and fanogan sections give another seed, device or minutes
    (FANOGAN_SHARED). `wildgan train` (--seed, --device, --minutes), the Detector and a study's cells set both alike;
    a RunConfig(method="fanogan", train=TrainConfig(seed=3, device="cpu")) built in Python trained with
    FAnoGANConfig's own seed 0 on the "auto" device, without a word. Neither is taken from the other: a saved run
    recorded so means what it trained with, its fanogan values. saved: the run a resume continues (its config),
    whose own difference a resume keeps (a run trained so before this check goes on as it trained); only another
    difference than the saved run's is refused. Asked before anything is written, by check_the_settings for a new
    start and by check_run_dir for a resume."""
    if cfg.method != "fanogan":
        return
    differ = []
    for k in FANOGAN_SHARED:
        t, f = getattr(cfg.train, k), getattr(cfg.fanogan, k)
        kept = saved is not None and saved.method == "fanogan" and \
            (getattr(saved.train, k), getattr(saved.fanogan, k)) == (t, f)
        if t != f and not kept:
            differ.append(k)
    if differ:
        said = "; ".join(f"train.{k} {shown(getattr(cfg.train, k))}, fanogan.{k} {shown(getattr(cfg.fanogan, k))}"
                         for k in differ)
        fix = ", ".join(f"{k}={getattr(cfg.train, k)!r}" for k in differ)
        raise ConfigError(f"the run config (method fanogan) gives its train and fanogan sections different values "
                          f"({said}): f-AnoGAN trains with the fanogan section's, which would not be the seed, device "
                          f"or budget the train section asks for (`wildgan train` --seed, --device, --minutes and "
                          f"Detector set both from one value). Give both the same: replace(cfg, fanogan=replace("
                          f"cfg.fanogan, {fix})) takes the train section's; in a config file, edit one section")


def _moved_data_hint(saved: RunConfig, now: RunConfig) -> str:
    """What a --resume refused for its --data should add when the run's own data is gone (moved there, most likely):
    the refusal's advice, to drop --data, then stops on the missing data, and the way on (a link from the recorded
    place, which the data is compared by) was said only there."""
    old, new = saved.data.data, now.data.data
    if not old or not new or old == new or missing_run_data_error(old, "") is None:
        return ""
    return (f". The data the run was trained on, {old}, is gone: if it moved to {new}, link it there (ln -s "
            f"{shell_word(new)} {shell_word(old)}) and resume "
            f"{option_words('without --data', 'with the data path the run records (read_run_config(RUN).data)')}")


def check_out_dir(run_dir: Path, data: str | None, *, resume: bool = False, overwrite: bool = False) -> None:
    """The refusals of check_run_dir that need only the data's path (`data`, as cfg.data.data records it), not the
    data: `wildgan train` asks them before it decodes the images, which can take minutes that a refusal would then
    waste. Touches nothing."""
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ConfigError(f"{resume_words()} continues the run in place and "
                          f"{option_words('--overwrite', 'overwrite=True')} deletes it: give one of them")
    for d in (run_dir, *run_dir.parents):
        if d.exists() and not d.is_dir():
            raise ConfigError(f"{out_words()} {run_dir}: {d} is a file; give a folder for the run")
    refuse_run_inside_data(data, run_dir, resume=resume)
    refuse_inside_a_runs_own_folder(run_dir, resume=resume)
    if is_study_dir(run_dir):
        # a study keeps its cells' runs in runs/ and its rows in results.jsonl: a run written over it would leave both
        # beside the run's files, and --overwrite would delete none of them
        raise ConfigError(f"{out_words()} {run_dir} is a wildgan study folder (written by `wildgan study`); give "
                          f"{another_out_words()} for the run (a study's cells are its runs/CELL folders)")
    _refuse_a_folder_of_images(run_dir)
    if resume and not (run_dir / "config.json").is_file():
        there = previous_run(run_dir)
        if there:
            # "start a run there without --resume" sent the user to a start that refuses (a run is there) and then to
            # --overwrite, which deletes the checkpoints that config.json alone is missing to continue from
            raise ConfigError(f"{run_dir}: cannot resume: its config.json is missing, while other files of the run "
                              f"are there ({', '.join(there)}); restore config.json from a copy of the run to "
                              f"continue it, ", start_again=f"or {start_again_words()}", then=" (which deletes them)")
        why = "no such folder" if not run_dir.exists() else "no run in it: no config.json"
        # (the option named in a command, as a missing --data is: beside --config and --data paths, the folder
        # alone did not say which argument was wrong)
        raise ConfigError(f"{run_dir}{option_words(' (--out)', '')}: nothing to resume ({why}); start a run there "
                          f"without {resume_words()}, or give the run's folder")
    _refuse_an_existing_run(run_dir, resume=resume, overwrite=overwrite)
    if resume and (run_dir / "config.json").is_file():
        _refuse_resume_without_checkpoints(run_dir)


def _refuse_a_folder_of_images(run_dir: Path) -> None:
    """A new run in a folder that holds image files (a mistyped --out, e.g. the folder of new images to score) put its
    files, sample grids and report figures among them and made the folder a run: `wildgan score RUN --data FOLDER`
    then refused it as a run directory, not images, and a score of the folder above it left its images out without a
    word (the readers skip run folders). Refused, --overwrite too (it deletes run outputs, not images); a folder that
    already holds a run is _refuse_an_existing_run's to judge, as before."""
    if not run_dir.is_dir() or previous_run(run_dir):
        return
    refuse_images_in_out(run_dir, "run", "the run's files, sample grids and report figures")


def refuse_images_in_out(out: Path, kind: str, files: str) -> None:
    """--out `out` of a new `kind` ('run', 'study') that holds image files and none of that kind (the caller asks
    that): refused in one wording for train, demo and study, `files` being what the command would write there."""
    try:
        # (the first one found: a folder of a million images need not be listed to the end)
        image = next((p.name for p in out.iterdir() if p.suffix.lower() in IMAGE_EXTS
                      and not p.name.startswith(".") and p.is_file()), None)
    except OSError:
        return                       # an unreadable folder: where the output is written, that is said
    if image is not None:
        raise ConfigError(f"{out_words(kind)} {out} holds image files (e.g. {image}) and no {kind}: {files} would "
                          f"mix with them, and wildgan would then read the folder as a {kind}, not as images "
                          f"({option_words(f'`wildgan score RUN --data {shell_word(out)}`', 'scoring it')} refuses "
                          f"it, a folder above it is scored without its images); give a new or empty folder as "
                          f"{out_words(kind)}")


def _refuse_an_existing_run(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """A new start (neither resume nor overwrite) into a folder that holds a run is refused, except a run that never
    trained (never_trained: replaced as --overwrite would). Asked by check_out_dir, and again by train_run under the
    lock: another start may have trained there in between. Its advice to start over is the error's `start_again`,
    which a study's cell replaces by its own (its folder is the study's: no --overwrite, no other --out)."""
    if not resume and not overwrite and previous_run(run_dir) and not never_trained(run_dir):
        found = ", ".join(previous_run(run_dir))
        if not (run_dir / "config.json").is_file():
            # a resume would be refused for the missing config.json (check_out_dir), so it is no way on: what that
            # refusal asks for is, and the study's cell, which resumes wherever config.json is, is continued by it too
            raise ConfigError(f"{run_dir} already holds a run ({found}) without its config.json, which continuing it "
                              f"needs: restore config.json from a copy of the run to continue it, ",
                              start_again=f"or {start_again_words()} (or {another_out_words()})")
        raise ConfigError(f"{run_dir} already holds a run ({found}): use {resume_words()} to continue it, ",
                          start_again=f"{option_words('--overwrite', 'overwrite=True')} to delete it and start "
                                      f"again, or {another_out_words()}")


def _data_place(data: str | None) -> str:
    return str(resolve_data_root(data).resolve())      # symlinks and '..' folded: the same file is the same place


def data_folder_holding(data: str | None, run_dir: Path) -> Path | None:
    """The data folder run_dir is in (or is), else None. `data`: cfg.data.data."""
    if not data:
        return None
    try:
        place = Path(_data_place(data))
    except WildganError:
        return None                              # missing or ambiguous data: the data loader says what is wrong
    if not place.is_dir():
        return None                              # an .npz or a tar: what the run writes beside it is not read
    out = Path(run_dir).resolve()
    return place if out == place or place in out.parents else None


def refuse_run_inside_data(data: str | None, run_dir: Path, resume: bool = False) -> None:
    """A run written into its own data folder (or below it) mixes its sample grids and report figures with the
    images the folder holds: wildgan's readers leave a run folder out, but any other tool reading the data sees
    them, and the data folder itself (--out = --data) would read as a run. A new run there is refused; a run an
    older wildgan wrote there may be resumed (_train_run says where it is)."""
    place = data_folder_holding(data, run_dir)
    if place is None or (resume and (Path(run_dir) / "config.json").is_file() and Path(run_dir).resolve() != place):
        return
    raise ConfigError(f"{out_words()} {run_dir} is inside the data folder {place}: the run's sample grids and report "
                      f"figures would mix with the data's images; choose {option_words('an --out', 'another run_dir')} "
                      f"outside {place}")


# the folders of a run that its own commands rewrite: `wildgan report` replaces report/ (its samples/ with it), a
# --resume prunes checkpoints/, --overwrite deletes them all
RUN_OWN_FOLDERS = ("checkpoints", "samples", "tensorboard", "report")


def refuse_inside_a_runs_own_folder(run_dir: Path, resume: bool = False, kind: str = "run") -> None:
    """A new run in another run's checkpoints/, samples/, report/ ... (a mistyped --out, e.g. RUN/report) was written
    there, and the next `wildgan report RUN` deleted its sample grids. A run an older wildgan wrote there may be
    resumed, as for a run inside its data folder (resume: run_dir holds it). Also a study's --out (`kind` 'study'):
    its cells would be refused one by one."""
    if resume and (Path(run_dir) / "config.json").is_file():
        return
    held = run_folder_holding(run_dir)
    if held is not None:
        raise ConfigError(f"{out_words(kind)} {run_dir} is inside the run {held[0]}, in its {held[1]}/ folder, which "
                          f"wildgan rewrites for that run ({_rewritten_by()}); choose "
                          f"{option_words('an --out', f'another {out_words(kind)}')} outside it")


def run_folder_holding(run_dir: Path, evals: bool = True) -> tuple[Path, str] | None:
    """(the other run, its folder) when run_dir is inside one of the folders another run's commands rewrite
    (RUN_OWN_FOLDERS, and with evals its eval-* folders), else None."""
    out = Path(run_dir).resolve()
    for owner in out.parents:
        below = out.relative_to(owner).parts[0]
        if (below in RUN_OWN_FOLDERS or (evals and below.startswith("eval-"))) and is_run_dir(owner):
            return owner, below
    return None


# the files `wildgan study` writes at the top of its folder, and reads back (results.jsonl: the cells done); its
# figures are auc_vs_gamma.png and one auc_vs_gamma-normal-N.png per normal class (is_study_file). Its cells, under
# runs/, are runs, checked as such; its report/ folder is rewritten by `wildgan report STUDY`.
STUDY_FILES = ("results.jsonl", "tables.md", "tables.csv", "comparisons.jsonl", "comparisons.csv", "log.txt",
               "auc_vs_gamma.png")


def is_study_file(name: str) -> bool:
    """Whether a file of this name at the top of a study folder is one the study writes (STUDY_FILES)."""
    return name in STUDY_FILES or (name.startswith("auc_vs_gamma-") and name.endswith(".png"))


def refuse_a_run_or_study_file(path: str | Path, example: str, label: str = "--out") -> None:
    """ConfigError when `path`, a file about to be written for the user (`wildgan score --out`, `export --out`,
    export_onnx, write_scores_csv, Detector.save, heatmap_panel), is a run's or a study's own file, or lies in a
    folder their commands rewrite. `score RUN --out RUN/config.json` (or test_scores.csv, network-final.safetensors,
    ...) replaced the run's own file: a run that no command could read any more, or an evaluation whose per-image
    scores were others; and a file in RUN/report/ was deleted with report/ by the next `wildgan report RUN` (likewise
    checkpoints/, samples/, tensorboard/: a --resume or --overwrite rewrites them). Asked before the work, so that a
    refusal leaves every file as it was. `example`: a file name to suggest instead; `label`: what the message calls
    the path ('--out', "export_onnx's path"), followed by the path as given."""
    out = str(path)
    p = Path(path)
    linked = p.is_symlink()
    if linked:
        p = p.resolve()                 # (written through the link: its target is what would be replaced)
    folder = p.parent
    # a link is named with the file it leads to, and the other name offered beside that file: beside the link, the
    # name offered for `--out /dev/stdout >> RUN/config.json` was /dev/scores.csv, and for /proc/self/fd/1
    # /proc/self/fd/scores.csv, paths no one can write
    said = f"{out} (which leads to {p})" if linked else out
    other = "write to another file" if linked else "give another name"
    instead = (p if linked else Path(out)).parent / example
    # (in an eval-* folder only the evaluation's own files are refused, below)
    held = run_folder_holding(folder, evals=False)
    if held is not None:
        raise ConfigError(f"{label} {said} is inside the run {held[0]}, in its {held[1]}/ folder, which wildgan "
                          f"rewrites for that run ({_rewritten_by(evaluate=False)}); give a file outside it, e.g. "
                          f"{held[0] / example}")
    owner = folder if is_run_dir(folder) else folder.parent if folder.name.startswith("eval-") and \
        is_run_dir(folder.parent) else None
    if owner is not None and p.name in RUN_OUTPUTS:
        raise ConfigError(f"{label} {said} is a file of the run {owner}, which wildgan writes and reads; {other}, "
                          f"e.g. {instead}")
    if is_study_file(p.name) and is_study_dir(folder):
        raise ConfigError(f"{label} {said} is a file of the study {folder}, which wildgan writes and reads; "
                          f"{other}, e.g. {instead}")
    resolved = folder.resolve()
    study = next((s for s in (resolved, *resolved.parents) if s.parent != s and s.name == "report"
                  and is_study_dir(s.parent)), None)
    if study is not None:
        raise ConfigError(f"{label} {said} is inside the study {study.parent}, in its report/ folder, which `wildgan "
                          f"report` rewrites; give a file outside it, e.g. {study.parent / example}")


def _refuse_resume_without_checkpoints(run_dir: Path) -> None:
    """A resume restarts from the newest periodic checkpoint, and with none at all from scratch. That is right for a
    run killed before its first checkpoint (nothing is lost that could be kept), but not for one that has final
    networks: starting from scratch would overwrite them and drop its training log. Refused instead."""
    finals = [n for n in ("network-final.json", "fanogan-final.json") if (run_dir / n).is_file()]
    if finals and not list_checkpoints(run_dir / "checkpoints"):
        raise ConfigError(f"{run_dir}: cannot resume: the run has trained networks ({finals[0]}) but no periodic "
                          f"checkpoint to continue from ({run_dir / 'checkpoints'} is empty or missing), so a resume "
                          f"would start over on top of them; restore its checkpoints/ folder, ",
                          start_again=f"or {start_again_words()} (or {another_out_words()})")


# Length, budget, device, checkpoint cadence and speed switches may change on resume; what defines the run (data,
# architecture, method, schedule, losses, optimiser) may not: a different phase length would move the schedule under
# the saved weights.
RESUME_MAY_CHANGE = frozenset({"total_kimg", "minutes", "device", "threads", "checkpoint_kimg", "on_divergence",
                               "log_every", "sample_kimg", "keep_checkpoints", "amp", "channels_last", "compile",
                               "cuda_graphs", "tensorboard", "train_scores", "gp_precision"})


# the settings among RESUME_MAY_CHANGE that change the numbers (float summation order, precision), not only the speed
NUMERIC_SETTINGS = frozenset({"device", "threads", "amp", "channels_last", "compile", "cuda_graphs",
                              "gp_precision"})


def legacy_fanogan_bn(cfg: RunConfig) -> bool:
    """Whether a saved run's f-AnoGAN BatchNorm settings are those read back for a record written before the fields
    existed (config.FANOGAN_LEGACY_BN): today's options cannot express them, so they are kept, not compared."""
    return all(getattr(cfg.fanogan, k) == v for k, v in FANOGAN_LEGACY_BN.items())


def run_differences(saved: RunConfig, now: RunConfig, may_change: frozenset[str] = RESUME_MAY_CHANGE) -> list[str]:
    """The settings that define a run and differ between the saved run and `now`, as 'section.key: saved -> now'.

    `may_change`: train-section keys left out. Only what the method uses is compared: a wildgan run does not care
    about the f-AnoGAN section (whose defaults may change between versions) and f-AnoGAN does not use the pGAN's
    net/train sections (the search section only matters at scoring time). The f-AnoGAN BatchNorm fields of a run
    recorded before they existed (legacy_fanogan_bn) are taken from the saved run on resume (see train_run), so it
    still resumes; a newer run compares them like any other field (--fanogan-bn-warmup is not ignored)."""
    old, new = run_config_to_dict(saved), run_config_to_dict(now)
    # (the draw rule is left out of the dicts where its absence says it: compared here as the configs hold it)
    old["data"]["contamination_draw"], new["data"]["contamination_draw"] = (saved.data.contamination_draw,
                                                                            now.data.contamination_draw)
    # (likewise g_image_loss, left out at 0: a saved run without it said as 0.0, not as None)
    old["train"]["g_image_loss"], new["train"]["g_image_loss"] = saved.train.g_image_loss, now.train.g_image_loss
    # the data path is compared as the place it names (runs record it absolute now, earlier ones as typed)
    old["data"]["data"], new["data"]["data"] = (_data_place(d["data"]["data"]) for d in (old, new))
    for key in ("resolution", "channels"):
        # a resolution or channel count left to the data (None: a RunConfig built in Python, or the config.json
        # train_run wrote for one before it recorded the value resolved) is the same setting as the value it resolved
        # to, which the networks were built for (net.resolution / net.channels, compared on their own): a CLI
        # --resume of such a run, whose config.yaml replay resolves it, was refused "data.resolution: None -> 8"
        # though nothing was typed, and a train_run(cfg, RUN, resume=True) with the cfg that started the run would be
        # refused against the value recorded now
        # f-AnoGAN builds its networks for the split's size, not net's (which it leaves as given: NetConfig()'s 32x32x3
        # for 64x64 gray images): the value recorded (o) is theirs, and a None asked for now is taken as it, the data
        # then checked against the run's by the split's record (_check_resumed_split). Compared with net, the cfg
        # that started such a run was refused on its resume, 'data.channels: 1 -> None'
        o, n, net = old["data"][key], new["data"][key], getattr(now.net, key)
        if (o is None) != (n is None) and (getattr(saved.net, key) == net and (n if o is None else o) == net
                                           or now.method == "fanogan" and n is None):
            old["data"][key] = n
    out = [f"method: {old['method']} -> {new['method']}"] if old["method"] != new["method"] else []
    sections = ("data", "fanogan") if now.method == "fanogan" else ("data", "net", "train")
    legacy = legacy_fanogan_bn(saved)
    skip = {"fanogan": {"minutes", "device", *(FANOGAN_LEGACY_BN if legacy else ())}, "train": set(may_change),
            # without contamination nothing is drawn: a run recorded before the nested draw ("choice") has the same
            # training set under either rule, and resumes under today's default (a Detector's, the Python API's)
            "data": {"contamination_draw"} if old["data"]["contamination"] == new["data"]["contamination"] == 0
            else set()}
    for sec in sections:
        keys = old[sec] if sec == "fanogan" else {**old[sec], **new[sec]}
        for k in keys:
            if k not in skip.get(sec, ()) and old[sec].get(k) != new[sec].get(k):
                out.append(f"{sec}.{k}: {old[sec].get(k)!r} -> {new[sec].get(k)!r}")
    return out


def training_state_bytes(cfg: RunConfig) -> int:
    """Bytes of a pGAN run's training state before any activation: G, Gs, D, E in fp32, the gradients of G, D, E and
    their two Adam moments. Counted on networks built on the meta device (shapes only, nothing allocated)."""
    import torch

    from ..nets import build_pgan, count_parameters

    with torch.device("meta"):
        nets = build_pgan(cfg.net, 0)
    trained = sum(count_parameters(m) for m in (nets.G, nets.D, nets.E))
    return 4 * (trained + count_parameters(nets.Gs) + 3 * trained)


def _device_memory(device: Any) -> int | None:
    """Total memory of the device training runs on (None when unknown)."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_training_memory(cfg: RunConfig, device: Any) -> None:
    """Refuse, before anything is written, networks whose weights and optimiser state alone exceed the device's
    memory (e.g. a mistyped --width 100000: 640 GB asked of the allocator, a traceback, and with --overwrite the old
    run already deleted). Activations come on top, so passing this check does not promise the run fits."""
    need, have = training_state_bytes(cfg), _device_memory(device)
    if have is not None and need > have:
        raise ConfigError(f"networks of width {cfg.net.fmap_max} at {cfg.net.resolution}x{cfg.net.resolution} need "
                          f"{need / 2**30:,.1f} GiB for their weights and optimiser state alone, more than the "
                          f"{have / 2**30:,.1f} GiB of {device.type}; choose a smaller "
                          f"{option_words('--width', 'width=')} or preset")


def _check_fanogan_images(cfg: RunConfig, split: AnomalySplit) -> None:
    """f-AnoGAN takes 32x32 or 64x64 images only: refused before anything of a run is written."""
    if cfg.method == "fanogan":
        from .fanogan_loop import check_image_shape

        check_image_shape(split.resolution, split.resolution, split.channels)


# ------------------------------------------------------------------------------------------------------------------
# The lock

LOCK_NAME = ".wildgan.lock"

# how long run_lock waits for a lock that is held only by check_lock_free's glance at it (an instant), before it
# takes it for another process's
_LOCK_GLANCE_WAIT_S = 0.25
# the errors of a non-blocking flock that another holder of the lock causes (EWOULDBLOCK; EACCES, which POSIX allows
# for a conflicting byte-range lock, as which NFS passes flock on); any other (ENOLCK: NFS without its lock service,
# ENOSYS: Lustre mounted with noflock) is the file system refusing locks, which no waiting for a holder ends
_HELD_ERRNOS = frozenset({errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES})


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold RUN_DIR/.wildgan.lock while training there: a second process training into the same folder (two
    --resume, or --overwrite of a running run) would mix two runs' checkpoints, logs and config.

    The lock is an flock on that file, so the kernel releases it when its process ends, however it ends (a killed
    job's lock never blocks its --resume, whatever its pid or host); the JSON in it (pid, host, start) only names the
    holder in the refusal. Without fcntl (Windows) there is no lock."""
    try:
        import fcntl
    except ImportError:              # pragma: no cover - not POSIX
        fcntl = None                 # type: ignore[assignment]
    if fcntl is None:
        # (the training runs outside the except clause: an error of its own must not be chained to the ImportError)
        yield
        return
    path = Path(run_dir) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        # a moment's grace: another start's check_lock_free holds the lock shared for an instant, and must not make
        # this start refused as if a process were training there
        deadline = time.monotonic() + _LOCK_GLANCE_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in _HELD_ERRNOS:
                    os.close(fd)
                    raise _not_lockable(run_dir, e) from None
                if _only_glanced_at(fd) and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                refusal = _in_use(run_dir, fd)
                os.close(fd)
                raise refusal from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)                 # the holder we waited on removed that file: lock the one at the path now
    try:
        # (inside the try: a record that cannot be written, on a full disk, must not keep the lock held)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode("utf-8"))
        yield
    finally:
        try:
            path.unlink()            # while still locked: a process that opened it meanwhile sees another inode
        except OSError:
            pass
        os.close(fd)


def check_lock_free(run_dir: Path) -> None:
    """Refuse run_dir, as run_lock would, when another process holds its lock now; touches nothing (no folder or lock
    file is made, nothing is written). `wildgan train` and `wildgan study` ask it before they decode the images,
    which can take minutes that the refusal at the lock would then waste.

    A courtesy, not the guarantee: the folder may be taken between this check and run_lock, which alone keeps a
    second process out. Under torchrun only rank 0 may ask it, and only before it takes the job's lock: the lock is
    rank 0's for every rank of the job, so another rank would find it held by its own job."""
    try:
        import fcntl
    except ImportError:              # pragma: no cover - not POSIX (run_lock has no lock there either)
        return
    path = Path(run_dir) / LOCK_NAME
    try:
        # no O_CREAT: a holder keeps its file at the path until it releases it, so no file means no holder
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return                       # no lock file, or none that can be read: run_lock says what is wrong
    try:
        try:
            # shared: glances at the same lock (several starts, several ranks) do not refuse one another
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in _HELD_ERRNOS:
                return               # (locks refused here: run_lock says so)
            raise _in_use(run_dir, fd) from None
    finally:
        os.close(fd)                 # (releases the shared lock at once)


def _only_glanced_at(fd: int) -> bool:
    """Whether the lock on fd, which this process could not take exclusively, is held shared only (check_lock_free's
    glances), not by a process that holds the run (run_lock's exclusive lock, which no shared lock gets past): that
    one's refusal is certain, and needs no grace."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def _not_lockable(run_dir: Path, e: OSError) -> ConfigError:
    """The refusal of a folder whose file system refuses the run's lock (e: flock's error): it was said as "in use by
    another wildgan process (pid ? on ?)", which no wait ends."""
    return ConfigError(f"{run_dir} cannot hold the run's lock: the file system refuses flock on "
                       f"{Path(run_dir) / LOCK_NAME} ({e.strerror or e}; as NFS does where its lock service, "
                       f"rpc.statd, does not run, and Lustre mounted with noflock): train into a folder on a file "
                       f"system with locks (a local disk), or have it mounted with them (Lustre: -o flock)")


def _in_use(run_dir: Path, fd: int) -> ConfigError:
    """The refusal of a folder whose lock another process holds, naming the holder from what the lock file (open as
    fd) records."""
    try:
        other = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        other = {}
    if not isinstance(other, dict):
        other = {}
    return ConfigError(f"{run_dir} is in use by another wildgan process (pid {other.get('pid', '?')} on "
                       f"{other.get('host', '?')}, since {other.get('since', '?')}): wait for it to end")


# ------------------------------------------------------------------------------------------------------------------
# train_run and its steps

def train_run(cfg: RunConfig, run_dir: Path, *, resume: bool = False, overwrite: bool = False,
              progress: bool = True, log: Callable[[str], None] = print,
              split: AnomalySplit | None = None, before_unlock: Callable[[], None] | None = None,
              warn_not_grown: bool = True, before_start: Callable[[], None] | None = None,
              evaluate_after: bool = False, saved: ReplayFiles | None = None) -> TrainResult:
    """Train the method named by cfg.method on the split described by cfg.data; returns where the result is.

    RUN_DIR/log.txt is written as `wildgan train` writes it: what is trained on what, the lines said (given to `log`
    too, default print), the wildgan warnings said meanwhile (held until the first line: a refused start writes
    nothing), and how the session ended: `trained ... (done); networks in ...` (trained_line) or `stopped: ...`.
    Not where the caller keeps that log.txt itself: `log` is a RunLog (the CLI's, replay_run's), or a RunLog of that
    file collects the caller's warnings (copying_warnings: Detector.fit, a study's cell), which the lines given to
    `log` reach; only rank 0 of a torchrun job writes it. Another rank that fails on its own leaves its error there
    (RUN/rank-R-error.txt and a line in log.txt, as `wildgan train --distributed` does), which rank 0's `stopped:`
    line and the error it raises (of that rank's class where it is a wildgan one) name, rather than only the closed
    connection rank 0 met.

    Refusals as check_run_dir; overwrite=True deletes the run outputs already in run_dir first. before_unlock is
    called (on rank 0) as this session ends, however it ends, while it still holds the run lock: what it writes into
    run_dir lands on this run, never on another process's (`wildgan demo` marks its run so). Not called when the
    start is refused. before_start is called (on rank 0) once the start's checks have passed, under the lock, before
    the old run's files are deleted or the new one's written (a resume's checks of its saved run come after): a
    caller's word on what the start does (`wildgan demo`'s "replacing the previous demo"), never followed by a
    refusal that then did nothing. A relative cfg.data.data is recorded absolute, as the CLI records --data, and so is
    no path (the default data: $WILDGAN_DATA, else the sample) where the split is that data.

    evaluate_after: the caller evaluates the run on its own test split once this returns (`wildgan train
    --evaluate`), which writes RUN/eval.json anew: a resume's note that the RUN/eval.json there is of the earlier
    networks then says that it is replaced, not that it is kept (_note_stale_evaluations).

    saved: for a resume, the run's config.json and split.json as the caller read them for its own checks
    (saved_run_files; `wildgan train --resume`'s), not read again; None reads them here, once for all of a resume's
    checks.

    A pGAN run whose total_kimg or minutes budget ended it before its networks grew to full resolution is said as a
    WildganWarning once the run is written (not_grown_warning); warn_not_grown=False leaves it to a caller that says
    it in its own words (`wildgan train`, Detector.fit, a study's cells).

    Training sets torch's thread count (cfg.train.threads) and seeds its global RNG: both are put back as the caller
    had them when this returns or raises (devices.caller_torch_state_kept)."""
    from .distributed import current, torchrun_world

    run_dir = check_api_call("train_run", cfg, "cfg", run_dir, "run_dir")
    # before anything is written: a RunConfig of method wildgan without an encoder is built for reading the runs an
    # earlier wildgan trained so, and training one (anew or on) would score with a random E
    refuse_untrained_encoder(cfg, resumed=run_dir if resume and (run_dir / "config.json").is_file() else None)
    # a Python caller's run had no log.txt, while the command's has one: the file a person opens later to learn what
    # the run trained and how it ended
    own = None
    rank = torchrun_world()[0]
    if rank == 0 and not isinstance(log, RunLog) and not kept_by_caller(run_dir / "log.txt"):
        own = RunLog(run_dir / "log.txt", show=log, make_folder=True)
    with caller_torch_state_kept(), copying_warnings(own):
        try:
            result = _train_run_held(cfg, run_dir, resume=resume, overwrite=overwrite, progress=progress,
                                     log=log if own is None else own, split=split, before_unlock=before_unlock,
                                     before_start=before_start, evaluate_after=evaluate_after,
                                     saved=saved_run_files(run_dir) if saved is None else saved)
        except BaseException as e:
            # as the command's log.txt: how the training ended. Told here where no caller keeps the run's log (rank
            # 0's), and on every other rank of a torchrun job, which has no log of its own: a Python caller's rank
            # that failed alone left no record, and rank 0 could only say that a peer stopped without a word. A
            # caller that tells the end too (the CLI, replay_run) writes nothing twice (the exception is marked)
            echo = (_told_end(run_dir, e, None if own is None else own.write) if own is not None or rank != 0
                    else None)
            if echo is not None:
                raise echo from e
            raise
        if own is not None:
            own(trained_line(result))
        # after the lock is let go (and the line that the run is done): a warnings filter that makes it an error
        # raises it over a run finished and written
        said = not_grown_warning(cfg, result) if warn_not_grown and _on_rank_0(current()) else None
        if said is not None:
            warn_user(said)
        return result


def trained_line(result: TrainResult) -> str:
    """The line that ends a training session's log, as `wildgan train` says it: what was trained, how it ended
    (result.status: done, budget) and where the networks are."""
    what = f"f-AnoGAN: {result.detail}" if result.detail else f"{kimg_text(result.nimg)} kimg"
    return f"trained {what} ({result.status}); networks in {result.final}"


def replay_run(config: str | Path, run_dir: str | Path, *, data: str | Path | None = None,
               dataset: str | None = None, **train_kw: Any) -> TrainResult:
    """Train the run that `config` (a run's config.json or config.yaml, or a copy of one) records again, into
    `run_dir`: `wildgan train --config CONFIG --out RUN_DIR` in Python, with its checks (data.replay). A
    Detector.fit's run is read as fit read its data (a WildganWarning where an older record said 'auto'), one on
    images given in memory is refused unless `data` gives them again, and a warning says where the images read are
    not the ones the run trained on (this then trains another run). `data` / `dataset`: as --data / --dataset (other
    images, asked for on purpose, are not compared). train_kw: train_run's (resume, overwrite, progress, log,
    warn_not_grown). Other changes: edit `wildgan.config.run_config_file(config)` with dataclasses.replace and call
    train_run (without these checks).

    RUN_DIR/log.txt is written as the command writes it: the lines said (given to `log` too, default print), the
    wildgan warnings said meanwhile (the replay's own that its images are not the run's, those about the data, the
    networks not grown), held until the first line (a refused start writes nothing), and `stopped: ...` where the
    training fails. Only rank 0 of a torchrun job writes it; another rank that fails on its own leaves its error
    there (RUN/rank-R-error.txt and a line in log.txt, as `wildgan train --distributed` does), which rank 0's
    `stopped:` line and the error it raises name, rather than only the closed connection rank 0 met. A stop
    (TrainingInterrupted) advises replay_run(CONFIG, RUN_DIR, ..., resume=True), the call that continues it."""
    from .distributed import torchrun_world

    log = train_kw.pop("log", print)
    main = torchrun_world()[0] == 0
    # (without it the replay's warning reached only the caller: a run's log.txt is what a person reads later to
    # learn how the run came about, and a `wildgan train --config` run's says it)
    run_log = RunLog(Path(run_dir) / "log.txt", show=log, make_folder=True) if main else None
    with copying_warnings(run_log):
        return _replay_run(Path(config), Path(run_dir), data, dataset, run_log, log, **train_kw)


def _replay_run(config: Path, run_dir: Path, data: str | Path | None, dataset: str | None, run_log: RunLog | None,
                log: Callable[[str], None], **train_kw: Any) -> TrainResult:
    """replay_run's steps, inside its run log's block (run_log: None on a rank other than 0, which says its lines
    to `log` alone)."""
    # read once, with split.json and config.json beside it, for every check below (as `wildgan train --config` reads
    # them): read again by each, a file saved meanwhile gave the replay one version's settings and its checks another's
    files = ReplayFiles(config)
    file_cfg = as_fit_read(run_config_in(files.file().contents, config), config, files=files)
    if file_cfg is None:
        raise ConfigError(f"{config}: a file of command-line options, not a run's config (data, net and train "
                          f"sections): `wildgan train --config {shell_word(config)}` reads it; from Python, build a "
                          f"wildgan.config.RunConfig and call train_run", file=str(config))
    asked = replace(file_cfg.data, **({"data": str(data)} if data is not None else {}),
                    **({"dataset": dataset} if dataset is not None else {}))
    refuse_in_memory_replay(config, file_cfg, asked, give=f"again: replay_run({str(config)!r}, RUN_DIR, data=PATH, "
                                                         f"dataset='unlabelled') (a folder or a data-set file),",
                            files=files)
    cfg = replace(file_cfg, data=asked)
    # a replay into the config file's own run folder (replay_run(RUN/config.json, RUN, resume=True)) resumes the run
    # whose split.json and config.json `files` read: train_run's checks read them through it, not again, where a
    # version saved in between was checked by one read and trained by the other. Another folder's run is read once too
    saved = files if config.parent.resolve() == run_dir.resolve() else saved_run_files(run_dir)
    train_kw.setdefault("saved", saved)
    if train_kw.get("resume", False):
        # a resume on other settings than the run's (data=, dataset=, the file's sections edited) is refused before
        # the images are decoded: train_run asks the same of the same cfg, but only once build_split below read them
        # all (minutes for a large folder). Whether the images themselves changed needs their pixels: asked after
        # (its data path made absolute first, as train_run records and compares it: a config file's relative path)
        try:
            recorded = _data_recorded_absolute(cfg)
        except WildganError:
            recorded = None           # (a path that does not resolve: build_split says what is missing)
        if recorded is not None:
            check_run_dir(recorded, run_dir, resume=True, overwrite=bool(train_kw.get("overwrite", False)),
                          files=train_kw["saved"])
    # built here, as the command builds it, to compare its images with the run's before anything is trained
    # (True, not tqdm's auto None: the decoding bar shows off a terminal as the training's does, progress_bar)
    with resolution_settled() if train_kw.get("resume", False) else nullcontext():
        split = build_split(cfg.data, progress=bool(train_kw.get("progress", True)))
    # a Detector.fit's run trained its images in the order it read them, which build_split shuffles: put back
    split = in_run_order(config, split, files=files)
    if not train_kw.get("resume", False):
        warn_if_replay_reads_other_images(config, cfg, split, replayer="replay_run", files=files)
    # (the networks not grown said here, after the session's `trained ...` line, as train_run says them after its own)
    warn_not_grown = train_kw.pop("warn_not_grown", True)
    from .distributed import current

    try:
        result = train_run(cfg, run_dir, split=split, log=log if run_log is None else run_log, warn_not_grown=False,
                           **train_kw)
    except BaseException as caught:
        # a stop's advice names train_run(cfg, RUN, resume=True) "with the same cfg", a cfg this caller never had:
        # the call that continues the replay instead (the same in log.txt's `stopped:` line)
        e = _replay_stop(caught, config, run_dir, data, dataset, current() is not None)
        # rank 0's end said in the run log this keeps, after the warnings held (a failure before training writes
        # nothing, as the command's does not); train_run told the other ranks' ends already
        echo = _told_end(run_dir, e, None if run_log is None else run_log.write)
        if echo is not None:
            raise echo from e
        if e is not caught:
            raise e from None
        raise
    if run_log is not None:
        # how the session ended, as train_run ends a log.txt of its own (this one is the caller's, kept here): without
        # it the finished replay's session read as one killed (runlog.last_session_unclosed: `wildgan info` and a
        # resume said it ended abruptly)
        run_log(trained_line(result))
    said = not_grown_warning(cfg, result) if warn_not_grown and _on_rank_0(current()) else None
    if said is not None:
        warn_user(said)
    return result


def _replay_stop(e: BaseException, config: Path, run_dir: Path, data: str | Path | None, dataset: str | None,
                 distributed: bool) -> BaseException:
    """`e`, or for a TrainingInterrupted with the loops' resume_advice (train_run's call, to a Python caller), the
    same stop advising the replay_run call that continues it: its CONFIG, RUN_DIR, data and dataset, resume=True (under
    torchrun, `distributed`, with torchrun_hangup_note for a SIGHUP)."""
    if not isinstance(e, TrainingInterrupted) or not e.resume_advice or in_cli():
        return e
    args = [repr(str(config)), repr(str(run_dir)), *([f"data={str(data)!r}"] if data is not None else []),
            *([f"dataset={dataset!r}"] if dataset is not None else []), "resume=True"]
    again = f"replay_run({', '.join(args)})"
    # (under torchrun a closed terminal's SIGHUP stops the next job too: its note, as resume_advice gives it; one
    # process under nohup outlives the terminal, so there the note would be wrong)
    advice = (f"continue with the same torchrun command, its script calling {again}{torchrun_hangup_note(e.signum)}"
              if distributed else f"continue with {again}")
    again_said = TrainingInterrupted(e.message, e.signum, where=e.where, checkpoint_dir=e.checkpoint_dir,
                                     complete=e.complete, resume_advice=advice, not_run=e.not_run)
    # how train_run told this end (training.distributed's marks on the exception) goes with it, so that it is not
    # recorded a second time under the new advice
    again_said.__dict__.update({k: v for k, v in vars(e).items() if k.startswith("_wildgan_")})
    return again_said


def _told_end(run_dir: Path, e: BaseException, write: Callable[[str], None] | None) -> WildganError | None:
    """A training session's end by `e`, told as `wildgan train --distributed` tells it (training.distributed's
    record_how_training_ended, peer_end_error); returns the error to raise instead of `e`, if any. `write`: how rank
    0 (or the one process) writes its `stopped: ...` line into log.txt, None where its caller does.

    Every rank: one other than 0 records its own failure (RUN/rank-R-error.txt, its line in log.txt), or a peer that
    did not answer, before the caller's shutdown closes its sockets and rank 0's collective fails, so that rank 0's
    line names it. A refusal (the run folder another process's) writes nothing. The error returned: where `e` is only
    the echo of another rank's end (a closed connection, a timeout), on rank 0 the failed rank's own error, of its
    class, else where that error is."""
    from .distributed import current, peer_end_error, record_how_training_ended

    ctx = current()
    # (rank 0 without `write` leaves its line to the caller, which records it: marked recorded here, it was lost)
    if write is not None or (ctx is not None and not ctx.is_main):
        record_how_training_ended(run_dir, ctx, e, write if write is not None else (lambda m: None))
    return peer_end_error(run_dir, ctx, e) if isinstance(e, Exception) else None


def _train_run_held(cfg: RunConfig, run_dir: Path, *, resume: bool, overwrite: bool, progress: bool,
                    log: Callable[[str], None], split: AnomalySplit | None,
                    before_unlock: Callable[[], None] | None,
                    before_start: Callable[[], None] | None = None, evaluate_after: bool = False,
                    saved: ReplayFiles | None = None) -> TrainResult:
    """train_run's steps, inside the block that puts the caller's torch state back. saved: as train_run's."""
    from .distributed import current

    cfg = _data_recorded_absolute(cfg, split)
    if split is not None:
        _refuse_split_not_of(cfg, split)
    ctx = current()
    is_main = _on_rank_0(ctx)
    split = _check_the_start(cfg, run_dir, resume=resume, overwrite=overwrite, split=split, is_main=is_main,
                             saved=saved)
    make_folder(run_dir, writable_run_dir_words(), label="the run folder")
    with ExitStack() as held:
        _take_the_folder(held, run_dir, ctx, resume=resume, overwrite=overwrite, saved=saved)
        if is_main and resume:
            # an older Detector.fit run keeps fit's ids only in its training-score cache, which the resume scores its
            # images into after split.json records their ids: kept in fit_ids.json first, under the lock, before
            # anything is written (the CLI's resume, replay_run's and fit's come through here too). Rank 0 alone
            # writes, as below; another rank meets its stop at the next collective. Holding the run folder meanwhile:
            # that write's own hold (data.run_temps.writing_shared_files) then finds it held and deletes no killed
            # write's temp file, which _train_run deletes, and says, once the resume is known to go on
            with writing_temps(run_dir, lambda: []):
                keep_cached_fit_ids_before_resume(run_dir, None if saved is None else saved.split_json)
        if is_main:
            remove_stale_temp(run_dir)      # half-written weights of a killed process (and in checkpoints/)
            # (and a killed checkpoint write's weights without their JSON: at once, not at the next checkpoint, which
            # a resume that trains nothing more never writes)
            remove_orphan_weights(run_dir / "checkpoints")
        try:
            result = _train_run(cfg, run_dir, resume=resume, overwrite=overwrite, progress=progress, log=log,
                                split=split, ctx=ctx, before_start=before_start, evaluate_after=evaluate_after,
                                saved=saved)
        except BaseException as e:
            if before_unlock is not None and is_main:
                try:
                    before_unlock()
                except Exception as e2:     # (an unwritable folder, say): the training's own error is the one raised
                    log(f"as the run ended after {type(e).__name__}: {type(e2).__name__}: {e2}")
            raise
        if before_unlock is not None and is_main:
            before_unlock()
    return result


def _remove_killed_writes_temps(run_dir: Path, log: Callable[[str], None]) -> list[Path]:
    """Delete the temp files that atomic writes of the run's files left when their process was killed before the
    rename (config.json's, a checkpoint's JSON, the training-score cache's, ...: data.run_temps), and say so in one
    line; returns what was deleted. Under the run's lock (the caller holds it), so the training's own can be no
    write in progress; the others' writers hold the run folder, and writing_shared_files deletes theirs only where
    none does now. Another file's temp file (a user's output written into the folder) is left: no lock covers its
    writer."""
    # (a clean-up refused, by permissions say, must not stop the training it precedes: what was deleted is said)
    gone: list[Path] = []
    try:
        gone += remove_training_write_temps(run_dir)
    except OSError:
        pass
    try:
        with writing_shared_files(run_dir) as shared:
            gone += shared
    except OSError:
        pass
    if gone:
        names = ", ".join(str(p.relative_to(run_dir)) for p in sorted(gone))
        log(f"removed {len(gone)} temporary file{'s' if len(gone) > 1 else ''} that "
            f"{'writes' if len(gone) > 1 else 'a write'} killed before {'their' if len(gone) > 1 else 'its'} rename "
            f"left in {run_dir}: {names}")
    return gone


def _data_recorded_absolute(cfg: RunConfig, split: AnomalySplit | None = None) -> RunConfig:
    """cfg with its data path absolute, as the CLI records --data (absolute_data_path): a Detector.fit on a
    DataConfig, or any caller of train_run, with a relative path recorded it as typed, so that a --config replay from
    another folder did not find the data, and an evaluate, score or report there read that folder's file of the same
    name, if any (read_run_config falls back on split.json's source only for a path not found). Asked here, where
    every trained config passes, not in each caller; a path already absolute (the CLI's, a study's) is left as it is.

    No path means the default data ($WILDGAN_DATA, else the sample): recorded as the place it is now, as the CLI
    records a train without --data, since a run that records none reads whatever $WILDGAN_DATA names later (a
    DataConfig() fit, evaluated after the variable changed, scored the other data set without a word). Only where
    the split is that data: built here from cfg (split None), or a given split whose source is that place; a split
    of images in memory (Detector.fit on arrays) keeps no path, as the place would name data it was not trained on,
    and any other given split is refused (_refuse_split_not_of: the default data is not what it was built from)."""
    data = cfg.data.data
    if data in (None, ""):
        if split is not None and split.info.get("detector_input"):
            return cfg
        try:
            where = absolute_data_path(None, cfg.data.dataset)
        except WildganError:
            return cfg                    # (no default data now: reading the split says what is missing)
        if where is None or (split is not None and not same_data_source(
                split.info.get("source"), where if where == SAMPLE_TOKEN else str(Path(where).resolve()))):
            return cfg
        return replace(cfg, data=replace(cfg.data, data=where))
    if Path(data).is_absolute():
        return cfg
    return replace(cfg, data=replace(cfg.data, data=absolute_data_path(data, cfg.data.dataset)))


def _refuse_split_not_of(cfg: RunConfig, split: AnomalySplit) -> None:
    """A split given to train_run (split=) that cfg.data does not describe is refused before anything is written:
    the run trains on the split and records cfg.data in config.json, which evaluate, report, a replay and
    resume=True read back, so the run would claim data, a resolution or a draw it was not trained on (a resume
    rebuilt the split from cfg.data and was refused for 'training images changed'; another image size failed only
    in the loop, after config.json and split.json were written). Compared: every setting of cfg.data that the split
    records and that would rebuild other images (or none) from the same data, with a setting left to its default
    (None, an empty normal=) read as the split's protocol reads it; a resolution or channel count left to the data
    (None) where the protocol, or the data's images as the split records them, settle what a rebuild takes
    (_automatic_shape_differences). Left to the split where it alone cannot tell what a rebuild would do: chula-rbc12's
    default normal classes (its labels decide), dataset='auto' against a named format or an .npz read as a pile (the
    data's content decides), resize= (it refuses images of other sizes, and changes none). Images given in memory
    (Detector.fit's, info['detector_input']) record no source or draw to compare."""
    d, info = cfg.data, split.info
    diffs: list[str] = []
    if d.resolution is not None and d.resolution != split.resolution:
        diffs.append(f"split= has {split.resolution}x{split.resolution} images, cfg.data.resolution={d.resolution}")
    if d.channels is not None and d.channels != split.channels:
        diffs.append(f"split= has {split.channels}-channel images, cfg.data.channels={d.channels}")
    if (d.resolution is None or d.channels is None) and not info.get("detector_input"):
        diffs += _automatic_shape_differences(d, split)
    if cfg.method != "fanogan" and not diffs and (cfg.net.resolution, cfg.net.channels) != (split.resolution,
                                                                                          split.channels):
        # (cfg.net is what the networks are built at: a split of another size fails in the loop otherwise)
        diffs.append(f"split= has {split.resolution}x{split.resolution}x{split.channels} images, cfg.net builds "
                     f"networks for {cfg.net.resolution}x{cfg.net.resolution}x{cfg.net.channels}")
    if not info.get("detector_input"):
        diffs += _split_source_differences(d, info)
        protocol = _split_protocol_difference(d, info)
        diffs += [protocol] if protocol else []
        diffs += _split_draw_differences(d, info)
        # (read by another protocol, the data has other classes and defaults than those the split's are compared to)
        diffs += _split_class_differences(d, info) if protocol is None else []
        diffs += _split_decoding_differences(d, info)
    if diffs:
        raise ConfigError(f"split= is not the split cfg describes ({'; '.join(diffs)}): the run would train on "
                          f"split= and record cfg.data in its config.json, which evaluate, report, a replay and "
                          f"resume=True read back; give the cfg.data the split was built from, or build the split "
                          f"from cfg.data (wildgan.data.build_split(cfg.data))")


def _automatic_shape_differences(d: DataConfig, split: AnomalySplit) -> list[str]:
    """_refuse_split_not_of's differences of a resolution or channel count that cfg.data leaves to the data (None),
    said only where a rebuild from cfg.data certainly takes another one. Why: config.json records the None, which
    resume=True, evaluate and a replay rebuild the split by (a 16x16 split of 8x8 images, trained, was refused on
    resume as 'the files themselves changed'). What build_split takes there: the protocol's size and channels
    (CIFAR-10's, chula-rbc12's, MNIST's; the protocol as data.splits.list_data finds it from the labels), else the
    data's own: the next power of two of the training images' short side (their median one where sizes are mixed),
    at most MAX_AUTO_RESOLUTION, and 1 channel where every image holds gray, else 3. The split records its data's
    shortest and longest side (native_sides), its gray files (conversion.gray_files) and, where counted, the images
    that hold gray (conversion.gray_held): those bound the data's own size and channels. Where list_data cannot tell
    the protocol, data of the digits 0-9 may be MNIST's (its images decide): either is allowed then."""
    from ..data.splits import list_data
    from ..data.transforms import MAX_AUTO_RESOLUTION, next_pow2

    info = split.info
    if d.dataset == "unlabelled":
        protocols = ["unlabelled"]
    else:
        try:
            listed = list_data(d)
        except (WildganError, OSError, ValueError):
            return []                     # (data that cannot be listed: a rebuild says what is wrong with it)
        digits = info.get("class_names") == [str(i) for i in range(10)]
        protocols = [listed.protocol] if listed is not None else ["generic"] + (["mnist"] if digits else [])
    sides = info.get("native_sides")
    conv = info.get("conversion") if isinstance(info.get("conversion"), dict) else {}
    n_read = info.get("n_read")
    sizes: list[tuple[int, int, str]] = []      # (smallest, largest, as said) of what a rebuild may take
    channels: list[tuple[int, str]] = []
    for p in protocols:
        fixed = PROTOCOL_DEFAULTS.get(p, {})
        if fixed.get("resolution"):
            r = int(fixed["resolution"])
            sizes.append((r, r, f"{r}x{r} (the {p} protocol's)"))
        elif isinstance(sides, list) and len(sides) == 2 and all(isinstance(v, int) and v > 0 for v in sides):
            short, long = sides
            top = min(next_pow2(long), MAX_AUTO_RESOLUTION)
            # an image larger than the cap is shrunk while read, its short side with it: no floor is certain then
            low = next_pow2(short) if long <= MAX_AUTO_RESOLUTION else 4
            span = f"{low}x{low}" if low == top else f"{low}x{low} to {top}x{top}"
            sizes.append((low, top, f"{span} (the next power of two of its {short}x{short} images' side)"
                          if short == long else
                          f"{span} (the next power of two of its images' short side; their sides are {short} to "
                          f"{long} px)"))
        else:
            sizes.append((4, MAX_AUTO_RESOLUTION, ""))             # (its images' sizes not recorded: any)
        if fixed.get("channels"):
            c = int(fixed["channels"])
            channels.append((c, f"{c} (the {p} protocol's)"))
        elif isinstance(n_read, int) and n_read > 0 and conv.get("gray_files") == n_read:
            channels.append((1, "1 (every image of it is gray)"))
        elif isinstance(n_read, int) and n_read > 0 and conv.get("gray_held") == 0:
            channels.append((3, "3 (none of its images holds gray)"))
        else:
            channels += [(1, ""), (3, "")]
    diffs: list[str] = []
    if d.resolution is None and not any(lo <= split.resolution <= hi for lo, hi, _ in sizes):
        diffs.append(f"split= has {split.resolution}x{split.resolution} images, cfg.data.resolution=None leaves "
                     f"them to the data, which makes them {' or '.join(how for _, _, how in sizes)}")
    if d.channels is None and split.channels not in {c for c, _ in channels}:
        diffs.append(f"split= has {split.channels}-channel images, cfg.data.channels=None leaves them to the data, "
                     f"which makes them {' or '.join(how for _, how in channels)}")
    return diffs


# the data sets whose name alone chooses the protocol a split is built by (data.splits.detect_protocol)
_PROTOCOL_NAMES = ("unlabelled", "cifar10", "chula-rbc12", "mnist")


def _split_source_differences(d: DataConfig, info: dict[str, Any]) -> list[str]:
    """_refuse_split_not_of's difference of the data read: the place cfg.data.data names, or the default data."""
    from ..data.readers import data_source_path

    diffs: list[str] = []
    source = info.get("source")
    if d.data not in (None, "") and source:
        try:
            place = str(data_source_path(d.data, d.dataset).resolve())
        except (WildganError, OSError):
            place = None
        if not same_data_source(source, d.data) and (place is None or not same_data_source(source, place)):
            diffs.append(f"split= was built from {source}, cfg.data.data={d.data!r}")
    elif source:
        # no path is the default data, which _data_recorded_absolute records where the split is of it: still None
        # here, the split is of other data, and evaluate, report and resume=True would read the default data as the
        # run's (evaluated with only a warning that 'the data changed', a resume refused for changed images)
        try:
            where = absolute_data_path(None, d.dataset)
        except WildganError as e:
            diffs.append(f"split= was built from {source}, cfg.data.data={d.data!r} names the default data, which "
                         f"is not there ({e})")
        else:
            if where is not None:      # (None: CIFAR-10 without a default place, read or fetched where it is asked)
                default = "the embedded sample" if where == SAMPLE_TOKEN else where
                diffs.append(f"split= was built from {source}, cfg.data.data={d.data!r} names the default data "
                             f"({default})")
    return diffs


def _split_protocol_difference(d: DataConfig, info: dict[str, Any]) -> str | None:
    """_refuse_split_not_of's difference of the protocol: a cfg.data.dataset that reads the split's data by another
    protocol (its own classes, defaults, test set), where the name alone tells; None where it does not."""
    protocol = info.get("protocol")
    if d.dataset in _PROTOCOL_NAMES and protocol in PROTOCOL_DEFAULTS and d.dataset != protocol:
        return f"split= was built by the {protocol} protocol, cfg.data.dataset={d.dataset!r}"
    if protocol == "unlabelled" and info.get("dataset") == "unlabelled" and d.dataset != "unlabelled" and \
            not str(info.get("format") or "").startswith("unlabelled-"):
        # a labelled tree (an archive, CIFAR-10's batches) read as a pile by dataset='unlabelled': any other dataset
        # reads its classes. (An .npz read so is 'unlabelled-npz' with labels or without: not told apart here)
        return f"split= was built by the unlabelled protocol (dataset='unlabelled'), cfg.data.dataset={d.dataset!r}"
    return None


def _split_draw_differences(d: DataConfig, info: dict[str, Any]) -> list[str]:
    """_refuse_split_not_of's differences of the draw: seed, contamination and its draw, the test set, rotations."""
    diffs: list[str] = []
    labelled = info.get("protocol") != "unlabelled"
    if "seed" in info and info["seed"] != d.seed:
        diffs.append(f"split= was drawn with seed {info['seed']}, cfg.data.seed={d.seed}")
    if "gamma" in info and not math.isclose(float(info["gamma"]), float(d.contamination), abs_tol=1e-12):
        diffs.append(f"split= has contamination {info['gamma']}, cfg.data.contamination={d.contamination}")
    injected = info.get("n_contamination") if "n_contamination" in info else info.get("gamma")
    if info.get("contamination_draw") not in (None, d.contamination_draw) and injected:
        # (without contaminants both rules draw nothing, and turn the same images by the same angles)
        diffs.append(f"split= drew its contaminants by {info['contamination_draw']!r}, "
                     f"cfg.data.contamination_draw={d.contamination_draw!r}")
    if labelled and info.get("test_size") not in (None, d.test_size):
        diffs.append(f"split= has test_size {info['test_size']!r}, cfg.data.test_size={d.test_size!r}")
    if "test_fraction" in info and not math.isclose(float(info["test_fraction"]), float(d.test_fraction),
                                                    abs_tol=1e-12):
        diffs.append(f"split= held out test_fraction {info['test_fraction']}, cfg.data.test_fraction={d.test_fraction}")
    default = PROTOCOL_DEFAULTS.get(str(info.get("protocol")), {}).get("rotations")
    want = d.rotations if d.rotations is not None else default
    if isinstance(info.get("rotations"), int) and want is not None and int(want) != info["rotations"]:
        said = f"cfg.data.rotations={d.rotations}" + (f" (the {info['protocol']} protocol's {default})"
                                                      if d.rotations is None else "")
        diffs.append(f"split= has {info['rotations']} rotated cop{'y' if info['rotations'] == 1 else 'ies'} of each "
                     f"training image, {said}")
    return diffs


def _split_class_differences(d: DataConfig, info: dict[str, Any]) -> list[str]:
    """_refuse_split_not_of's differences of the classes: the normal ones and those excluded. A class that cfg.data
    names and the split's data lacks is one: build_split(cfg.data) refuses it, so evaluate, report and resume=True
    would, after a run trained on the split."""
    names = info.get("class_names")
    if info.get("protocol") == "unlabelled":
        given = [f"cfg.data.{k}={tuple(getattr(d, k))}" for k in ("normal", "exclude_classes") if getattr(d, k)]
        return [f"split= is of unlabelled images (no classes), {' and '.join(given)}"] if given else []
    if not isinstance(names, list) or not names or not isinstance(info.get("normal_labels"), list):
        return []
    names = [str(n) for n in names]
    source = str(info.get("source"))

    def resolved(entries: tuple[str, ...], field: str) -> list[int] | str:
        try:
            return resolve_classes(entries, names, "normal", source)
        except WildganError:
            unknown = [e for e in entries if not _names_a_class(e, names)]
            # 'all' (a study's cell for each class) is no normal set: a run has normal and anomalous classes, and
            # build_split reads 'all' as the name of a class, like any other (a Python caller is told no CLI option)
            every = " ('all' is no set of classes here: name the normal class(es))" if any(
                str(e).strip().lower() == "all" for e in unknown) and field == "normal" else ""
            return (f"cfg.data.{field}={entries} names {'classes' if len(unknown) > 1 else 'a class'} that split='s "
                    f"data lacks: {', '.join(map(repr, unknown))} (its classes: {', '.join(names)}){every}")

    diffs: list[str] = []
    protocol = str(info.get("protocol"))
    default = tuple(PROTOCOL_DEFAULTS.get(protocol, {}).get("normal", ()))
    if d.normal:
        normal = resolved(tuple(d.normal), "normal")
    elif info.get("normal_default_used") is False and default:
        normal = resolved(default, "normal")
        normal = [] if isinstance(normal, str) else normal     # (no class of the protocol's default: said as ())
    elif info.get("normal_default_used") is False and protocol == "generic":
        # labelled data of no named protocol has no default normal class: build_split(cfg.data) asks for one
        normal = (f"split= has normal class(es) {info.get('normal_classes')}, cfg.data.normal=() (this data has no "
                  f"default normal class)")
    else:
        normal = list(info["normal_labels"])    # (chula-rbc12's default: its labels decide, not known here)
    if isinstance(normal, str):
        diffs.append(normal)
    elif sorted(normal) != sorted(int(c) for c in info["normal_labels"]):
        said = f"cfg.data.normal={tuple(d.normal)}" if d.normal else \
            f"cfg.data.normal=() (the {protocol} protocol's {list(default)})"
        diffs.append(f"split= has normal class(es) {info.get('normal_classes')}, {said}")
    if isinstance(info.get("excluded_classes"), list):
        excluded = resolved(tuple(d.exclude_classes), "exclude_classes")
        if isinstance(excluded, str):
            diffs.append(excluded)
        elif sorted(names[i] for i in excluded) != sorted(str(c) for c in info["excluded_classes"]):
            diffs.append(f"split= excludes class(es) {info['excluded_classes']}, "
                         f"cfg.data.exclude_classes={tuple(d.exclude_classes)}")
    return diffs


def _names_a_class(entry: str, names: list[str]) -> bool:
    """Whether resolve_classes reads `entry` as one of `names`."""
    try:
        resolve_classes((entry,), names, "normal", "")
    except WildganError:
        return False
    return True


def _split_decoding_differences(d: DataConfig, info: dict[str, Any]) -> list[str]:
    """_refuse_split_not_of's differences of how files became the split's pixels: the fit of other sizes (fit=,
    square=), the 16-bit rule (depth16=, where the data held 16-bit files or did not count them) and unreadable
    files left out (skip_bad=)."""
    conv = info.get("conversion") if isinstance(info.get("conversion"), dict) else {}
    diffs: list[str] = []
    protocol = PROTOCOL_DEFAULTS.get(str(info.get("protocol")))
    if protocol is not None and conv.get("fit") is not None:
        want = square_fit(d.fit or protocol["fit"], d.square)
        if want != conv["fit"]:
            diffs.append(f"split= fit its images by {conv['fit']!r}, cfg.data.fit={d.fit!r} with "
                         f"cfg.data.square={d.square!r} fits them by {want!r}")
    if conv.get("depth16") not in (None, d.depth16) and conv.get("files_16bit") != 0:
        diffs.append(f"split= read its 16-bit images by depth16 {conv['depth16']!r}, cfg.data.depth16={d.depth16!r}")
    skipped = info.get("skipped")
    if isinstance(skipped, list) and skipped and not d.skip_bad:
        # (build_split(cfg.data) refuses the first unreadable file)
        diffs.append(f"split= left out {len(skipped)} unreadable file{'s' if len(skipped) > 1 else ''} (skip_bad), "
                     f"cfg.data.skip_bad=False")
    return diffs


def _training_settings(cfg: RunConfig) -> dict[str, Any]:
    """The settings that decide what a rank trains, by name ('method', 'net.KEY', 'train.KEY'), as config.json records
    them: what the ranks of a torchrun job must agree on (distributed.same_training_on_every_rank). Not the data's
    settings: which images they give is compared by the images themselves (their paths may differ between nodes)."""
    d = run_config_to_dict(cfg)
    return {"method": d["method"], **{f"{part}.{k}": v for part in ("net", "train") for k, v in d[part].items()}}


def _on_rank_0(ctx: Any) -> bool:
    """Whether this process writes the run: always, unless it is a rank other than 0 of a torchrun job (ctx:
    training.distributed.current())."""
    return ctx is None or ctx.is_main


def _check_the_start(cfg: RunConfig, run_dir: Path, *, resume: bool, overwrite: bool, split: AnomalySplit | None,
                     is_main: bool, saved: ReplayFiles | None = None) -> AnomalySplit | None:
    """What would fail once training starts, asked before the folder is written (a refused start must not leave a
    run behind that the next attempt then has to --overwrite). Returns the split, built here for an f-AnoGAN run
    (its image size is checked now), else as given (None: built under the lock). saved: as train_run's."""
    check_run_dir(cfg, run_dir, resume=resume, overwrite=overwrite, files=saved)
    return check_the_settings(cfg, split, resume=resume, is_main=is_main)


def check_the_settings(cfg: RunConfig, split: AnomalySplit | None, *, resume: bool = False,
                       is_main: bool = True) -> AnomalySplit | None:
    """The part of _check_the_start that is about the settings, not the folder: what `wildgan train --dry-run`,
    which leaves the folder alone, says too. Returns the split as _check_the_start does."""
    from .distributed import current

    refuse_fanogan_over_ranks(cfg, current())
    if not resume:
        check_fanogan_shared(cfg)             # (a resume: check_run_dir, which compares with the saved run)
    device = resolve_device(cfg.fanogan.device if cfg.method == "fanogan" else cfg.train.device)
    if cfg.method != "fanogan":
        check_minibatch_sizes(cfg, resume=resume, sizes_from="TrainConfig.minibatch")
        _check_split_over_ranks(cfg)
        check_training_memory(cfg, device)
    data_on_gpu_setting()                     # a typo in WILDGAN_DATA_ON_GPU (both loops read it), before the data
    # a typo in WILDGAN_KERNELS (the API's callers: `wildgan` asks it itself): on the CPU, or for f-AnoGAN, nothing
    # read it before the first checkpoint's versions record, which failed after the training
    kernels_from_env()
    if cfg.train.tensorboard and cfg.method != "fanogan" and is_main:
        # rank 0 alone writes TensorBoard: another rank needs no package it never uses. (`wildgan train
        # --distributed` asks rank 0 before its ranks start together too, so that they all stop on the refusal.)
        require_tensorboard()
    if split is None and cfg.method == "fanogan":
        split = build_split(cfg.data)        # (a study cell's call): its image size is checked before the folder
    if split is not None:
        _check_fanogan_images(cfg, split)    # (else once the split is built, under the lock: before any run file)
    return split


def refuse_fanogan_over_ranks(cfg: RunConfig, ctx: Any,
                              who: str = "train_run under torchrun (training.distributed.init_distributed)",
                              fix: str = "train it in a process of its own, without init_distributed") -> None:
    """f-AnoGAN's loop has no ranks: under torchrun (ctx: training.distributed.current(), set by init_distributed)
    every process would train it alone into the same folder, each writing its checkpoints there. Refused before
    anything is written, by `wildgan train --distributed` (in its options' words: `who`, `fix`) and by train_run
    (check_the_settings), whose Python callers it let train so without a word."""
    if ctx is not None and cfg.method == "fanogan":
        raise ConfigError(f"{who} trains the wildgan method (and search) over several processes; f-AnoGAN trains in "
                          f"one process: {fix}")


def _check_split_over_ranks(cfg: RunConfig) -> None:
    """Under torchrun (training.distributed.current(), several ranks): refuse minibatches that do not split over the
    ranks, here, before the folder is written; the loop asked only once it had started, after --overwrite had
    deleted the old run and the new config and split were written."""
    from .distributed import check_batches, current

    ctx = current()
    if ctx is not None and ctx.world > 1:
        check_batches(cfg.train.minibatch, cfg.net, ctx.world)


def check_minibatch_sizes(cfg: RunConfig, source: str | None = None, *, resume: bool = False,
                          sizes_from: str | None = "a run config given with --config") -> None:
    """Refuse a schedule that grows, within its total_kimg, to a resolution without a minibatch size (a hand-edited
    train.minibatch, a resolution above the presets' 256): it was a KeyError traceback once training reached it, the
    run folder written. A run whose total stops before such a resolution trains (and resumes) as it always did.
    `source`: the config file the table came from, named first; `resume`: the table is the run's, which a --resume
    cannot change; `sizes_from`: where the caller's user sets the sizes (None: nowhere, e.g. a study, which takes the
    presets'). (Asked here, not by RunConfig, so that such a run's config still reads.)"""
    from .schedule import first_round_without_a_size, lod_at

    t, r = cfg.train, cfg.net.resolution
    total_nimg = int(round(t.total_kimg * 1000))
    first = first_round_without_a_size(total_nimg, r, t.phase_kimg, t.fade_kimg, t.minibatch, t.minibatch_repeats)
    if first is None:
        return
    nimg, res = first
    # the others the schedule reaches by its end, from the lod formula alone (no sizes needed to know where it goes)
    top = int(r / 2 ** math.floor(lod_at(max(total_nimg - 1, 0), r, t.phase_kimg, t.fade_kimg)))
    missing = [q for q in (4 << i for i in range(r.bit_length() - 2)) if res <= q <= top and q not in t.minibatch]
    stop = kimg_text(nimg)
    # (a size missing at 4x4, where every run starts, leaves no total that stops before it)
    shorter = f"a {option_words('--total-kimg', 'total_kimg')} of at most {stop}, which stops before it" if nimg else ""
    if resume:
        fix = (f"a run's minibatch sizes cannot change on {option_words('--resume', 'resume=True')}" +
               (f", so this one trains to at most {stop} kimg "
                f"({option_words(f'--total-kimg {stop}', f'total_kimg={stop}')})" if nimg else "") +
               "; for more, train a new run whose train.minibatch has them")
    elif sizes_from:
        fix = f"add the size(s) to train.minibatch ({sizes_from})" + (f", or give {shorter}" if nimg else "")
    else:
        fix = (f"the presets' sizes go up to {max(t.minibatch)}x{max(t.minibatch)}: give a "
               f"{option_words('--resolution', 'resolution')} of at most {max(t.minibatch)}" +
               (f", or {shorter}" if nimg else ""))
    raise ConfigError(f"{source + ': ' if source else ''}train.minibatch has no size for resolution(s) "
                      f"{', '.join(map(str, missing))}, which the {r}x{r} run's schedule reaches from {stop} kimg on "
                      f"(of its total {kimg_to_the_image(t.total_kimg)}); it has {t.minibatch}. "
                      f"{fix[0].upper()}{fix[1:]}")


def _take_the_folder(held: ExitStack, run_dir: Path, ctx: Any, *, resume: bool, overwrite: bool,
                     saved: ReplayFiles | None = None) -> None:
    """Take run_dir's lock (held until `held` closes) and ask again, under it, whether a new start may go there;
    raise ConfigError when not. Rank 0 holds the lock for all the ranks of one torchrun job, and tells them whether
    it got it: a refused job's other ranks must not touch the folder either (or wait forever for a rank 0 that
    left). saved: a resume's files of the run as read before the lock (saved_run_files), refused where the run was
    rewritten since (_refuse_rewritten_since_read)."""
    # (message, start_again, then, file): the refusal's parts, not its text alone, so that a study's cell can still
    # put its own advice to start over in place of train's (ConfigError.with_start_again)
    refused: tuple[str, str | None, str, str | None] | None = None
    if _on_rank_0(ctx):
        try:
            held.enter_context(run_lock(run_dir))
            # asked again under the lock: another start may have trained here since check_run_dir
            _refuse_an_existing_run(run_dir, resume=resume, overwrite=overwrite)
            if resume and saved is not None:
                _refuse_rewritten_since_read(saved)
        except ConfigError as e:
            refused = (e.message, e.start_again, e.then, e.file)
    if ctx is not None and ctx.world > 1:
        import torch.distributed as tdist

        box = [refused]
        tdist.broadcast_object_list(box, src=0, group=ctx.ctrl_group)
        refused = box[0]
    if refused is not None:
        raise ConfigError(refused[0], start_again=refused[1], then=refused[2], file=refused[3])


def _geometry_recorded(cfg: RunConfig, split: AnomalySplit) -> RunConfig:
    """cfg as its run's config.json records it: a data.resolution or data.channels left to the data (None, a RunConfig
    built in Python) as the value the split resolved it to, as the CLI records the automatic --resolution and
    --channels. Recorded None, the run's config said nothing of the size its images were converted to (`wildgan info`
    and a reader of config.json had to look at net.resolution), and a --resume replaying config.yaml resolved it
    afresh from the data. What the run trains does not change: the split is built already."""
    d = cfg.data
    if d.resolution is not None and d.channels is not None:
        return cfg
    return replace(cfg, data=replace(d, resolution=split.resolution if d.resolution is None else d.resolution,
                                     channels=split.channels if d.channels is None else d.channels))


def _refuse_rewritten_since_read(saved: ReplayFiles) -> None:
    """A resume checks the run by its config.json and split.json (and `wildgan train --resume` takes its settings
    from config.yaml), read once before the lock is taken and the data decoded (saved_run_files); the lock alone keeps
    another process out from then on. Where one wrote the run in between (a resume of it that ran and finished
    meanwhile: both files are rewritten as a session starts), this resume went on by the record of before: settings
    compared with the old config, the images with the old split.json, and the files written anew from them. Refused,
    with nothing written, naming the file: the next resume reads the run as it is then. Told by each file's time,
    size and inode, not read again."""
    changed = saved.changed_since_read()
    if changed is not None:
        raise ConfigError(f"{changed}: rewritten since this resume read it, before it took the run's lock (another "
                          f"process wrote the run meanwhile, e.g. a resume of it that finished): nothing was "
                          f"written; resume again, which reads the run as it is now", file=str(changed))


def _train_run(cfg: RunConfig, run_dir: Path, *, resume: bool, overwrite: bool, progress: bool,
               log: Callable[[str], None], split: AnomalySplit | None, ctx: Any = None,
               before_start: Callable[[], None] | None = None, evaluate_after: bool = False,
               saved: ReplayFiles | None = None) -> TrainResult:
    """train_run's work under the lock: the folder made ready, the run's record written, the method trained. saved:
    the run's config.json and split.json, read once for all a resume's checks (saved_run_files); None reads them."""
    saved = saved_run_files(run_dir) if saved is None else saved
    # under torchrun only rank 0 changes the folder (two ranks deleting the same files race, and a slow rank could
    # delete what rank 0 has just written); the others wait for it at a barrier before reading it
    is_main = _on_rank_0(ctx)
    several = ctx is not None and ctx.world > 1
    if split is None:
        # before --overwrite deletes anything: bad data must leave the old run. Its decoding bar as the training's
        # (a resume reads it for the run's own resolution: no word that another one would keep to the images')
        with resolution_settled() if resume else nullcontext():
            split = build_split(cfg.data, progress=progress)
        _check_fanogan_images(cfg, split)
    # what a resume says about itself is said once it is known to go on: one refused for its changed training images
    # (_check_resumed_split) wrote 'note: resumed with other numeric settings' into log.txt, a resume that never was,
    # and with it the warnings its run log held for the session's first line
    said: list[str] = []
    noted: frozenset[str] = frozenset()
    if resume and (run_dir / "config.json").is_file():
        cfg, noted = _resumed_config(cfg, run_dir, said.append, saved)
    # the note names a threads setting changed: the loop's warning of another intra-op thread count is not said too
    threads_noted = "threads" in noted
    inside = data_folder_holding(cfg.data.data, run_dir) if resume else None
    if inside is not None:
        # (an older wildgan took such an --out): the readers leave the run's folder out of the data, so the split
        # below is rebuilt from the data's own images and checked against split.json as for any resume
        said.append(f"warning: {run_dir} is inside its data folder {inside} (an older wildgan allowed that; a new run "
                    f"there is refused): the run's own files are left out whenever the data is read")
    nested = run_folder_holding(run_dir) if resume else None
    if nested is not None:
        # (an older wildgan took such an --out): resumed, as its files are this run's, but the other run's commands
        # may delete them
        said.append(f"warning: {run_dir} is inside the run {nested[0]}, in its {nested[1]}/ folder (an older wildgan "
                    f"allowed that; a new run there is refused), which wildgan rewrites for that run "
                    f"({_rewritten_by()}): move this run out of it")
    recorded = _recorded_split(saved) if resume else None
    if resume:
        # a run trained in the order its images were read (a replay of a Detector.fit's run: split.json's
        # train_order) resumes in it, though the command line's split of its pile comes shuffled by the seed
        split = follow_train_order(split, recorded)
    summary = split_summary(split)     # (hashes every pixel: once, for the check and the record)
    if several:
        from .distributed import same_training_on_every_rank

        # before the record is written: ranks given other settings, or whose --data differs (a node's own copy),
        # would train on, their gradients averaged, into a run that none of them describes
        same_training_on_every_rank(ctx, _training_settings(cfg), {k: summary[k] for k in TRAIN_FIELDS})
    # only now, the ranks agreed (what comes above reads the old run, a resume's, and deletes nothing): a job refused
    # for ranks that differ had --overwrite delete the old run first, and the caller's word on the start said
    if before_start is not None and is_main:
        # every refusal is behind (the start's checks, the lock, the data): said first, the caller's word on what the
        # start does (the demo's "replacing") came before a refusal that then did nothing
        before_start()
    _clear_old_run(run_dir, is_main=is_main, resume=resume, overwrite=overwrite, log=log)
    if several:
        ctx.barrier()
    same_pixels = _check_resumed_split(split, run_dir, said.append, summary, saved) if resume else True
    finals = [run_dir / n for n in ("network-final.json", "fanogan-final.json")]
    if is_main and resume and last_session_ended_abruptly(run_dir / "log.txt",
                                                          finished=any(f.is_file() for f in finals)):
        # (asked under the run's lock, which no session at work lets go: the session without an end in log.txt is
        # over, and its process could not say how; `wildgan info` says the same of such a run. Not where that is not
        # known: a finished study cell of an older wildgan, whose log.txt has no end line of any session)
        log(f"note: the previous session of {run_dir} ended abruptly (log.txt has no `stopped:` or `trained` line "
            f"of it: killed by a signal it could not catch, kill -9 or the out-of-memory killer, or its folder "
            f"became unwritable); this one continues from what it saved")
    for line in said:
        log(line)
    if is_main:
        # the temp files of killed writes, deleted and said once every refusal is behind (the start's checks, the
        # data, a resume's changed images) and before the first write below (of fit_ids.json, whose own hold would
        # delete the shared files' ones unsaid): a refused start deletes nothing and writes nothing into log.txt
        _remove_killed_writes_temps(run_dir, log)
    if several:
        ctx.barrier()                  # every rank has read the old record before rank 0 replaces it
    if is_main and not same_pixels:
        # before split.json is replaced: a kill in between must not leave a cache beside a record of other pixels
        _drop_training_scores(run_dir, log)
    if is_main:
        # a Detector.fit's run resumed from the command line's pile of its images (the same ones: checked above)
        # stays a fit's run in its record
        written = keep_fit_record(recorded, split)
        summary = keep_fit_ids(recorded, split, written, summary, run_dir)
        if split.info.get("detector_input") and names_files(split.train_ids):
            # which files fit trained on, by name (split.json: their checksum alone), for the training scores to be
            # read back and a file gone from them named (scoring.train_scores). Before split.json: a crash between
            # leaves ids that the old record's checksum does not match, which are then ignored
            write_fit_ids(run_dir, split.train_ids)
        # each training image's checksum, for an evaluation on other data to count the training images among its
        # own; before split.json too, for the same reason
        write_train_hashes(run_dir, split.train_x, summary["train_pixels_sha256"])
        # config.yaml names the images too (a comment): a copy of it without this split.json still tells a replay
        write_run_config(_geometry_recorded(cfg, split), run_dir, trained_on=training_record(written, summary))
        write_split_info(written, run_dir, summary)
    _log_start(cfg, split, run_dir, resume=resume, log=log, ctx=ctx)
    result = _train_method(cfg, split, run_dir, resume=resume, progress=progress, log=log,
                           threads_noted=threads_noted)
    # (every session, not only a resume's: `wildgan evaluate RUN` while the run trains evaluates its newest checkpoint,
    # with a warning, and its eval.json was left beside the final networks without a word at the training's end)
    if is_main and result.final is not None:
        _note_stale_evaluations(run_dir, result.final, log, evaluate_after=evaluate_after)
    return result


def _clear_old_run(run_dir: Path, *, is_main: bool, resume: bool, overwrite: bool,
                   log: Callable[[str], None]) -> None:
    """Delete the run outputs already in run_dir for overwrite=True, and for a new start into a run that never
    trained (check_run_dir, and train_run again under the lock, let such a start in only for that reason: replaced,
    as --overwrite would). Only rank 0 deletes; every rank makes sure the folder exists."""
    replaced = is_main and not overwrite and not resume and bool(previous_run(run_dir))
    if is_main and (overwrite or replaced) and previous_run(run_dir):
        # evaluations on other data (RUN/eval-*/, see evaluation.run.evaluation_dir) belong to the old networks too:
        # those with an eval.json, and those whose first evaluation is being written or was killed while it wrote
        # (its temp files alone there), which the old networks' evaluation would otherwise stand in the new run
        others = sorted(p.name for p in run_dir.glob("eval-*") if p.is_dir() and ((p / EVAL_JSON).is_file()
                                                                                  or eval_temp_files(p)))
        # the tracebacks a failed rank left (training.distributed.record_failure) are of the old job's failure
        others += sorted(p.name for p in run_dir.glob("rank-*-*.txt") if p.is_file()
                         and p.name.endswith(("-error.txt", "-timeout.txt")))
        # an evaluation writing into the run now (`wildgan evaluate` takes no run lock) holds its folder while it
        # writes (fileio.writing_temps): its write is let finish first, then removed with the rest, not emptied from
        # under it (its renames failed, or its folder came back after the removal with the old networks' eval.json)
        def said(folder: Path) -> None:
            # (the run folder is held by the writers of the training scores' cache too: score --threshold,
            # Detector.fit; data.run_temps; by a Detector saved into it, det.save(RUN/model), whose files are the
            # user's, not removed; and by a Detector.load of one while it reads, fileio.reading_held)
            log(f"note: waiting for the write into {folder} in progress (an evaluation, a training scores' "
                f"cache, a det.save into it, or a Detector.load from it) to finish, to remove its files with the "
                f"rest (a `wildgan evaluate` or `wildgan score`, or a det.save, stopped with Ctrl-Z holds it until it "
                f"goes on)")

        kept: dict[str, list[str]] = {}
        with holding_off_writes([run_dir, *(run_dir / name for name in others if name.startswith("eval-"))],
                                on_wait=said) as held:
            for name in (*RUN_OUTPUTS, *others):
                path = run_dir / name
                if name.startswith("eval-") and path.is_dir():
                    # only the evaluation's own files: removed whole, the folder took a det.save(RUN/eval-x/m) or a
                    # `score --out RUN/eval-x/mine.csv` with it, files refuse_a_run_or_study_file lets the user put
                    # there (theirs, as a det.save into the run folder is, which stays too)
                    left = _remove_evaluation_files(path)
                    if left:
                        kept[name] = left
                elif path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            # the temp files a killed evaluation left in the run folder (its eval-*/ folders' went above): no
            # evaluation writes there while the folder is held (fileio.writing_temps), so they are a killed one's.
            # Not where it could not be locked, nor on a network file system whose folder locks hold on this machine
            # only (NFS, SMB, sshfs: fileio.host_only_locks): there they may be a live evaluation's, as writing_temps
            # says
            if run_dir in held:
                remove_files(eval_temp_files(run_dir))
        for name, left in kept.items():
            one = len(left) == 1
            log(f"note: kept {len(left)} file{'' if one else 's'} in {run_dir / name} that no evaluation wrote "
                f"({', '.join(left)}): {'it is' if one else 'they are'} yours, not the old run's; the old "
                f"evaluation's own files there were removed")
    run_dir.mkdir(parents=True, exist_ok=True)
    if replaced:
        log(f"note: {run_dir} held a run that failed before its first training step (only its config, split "
            f"and log): started afresh")


def _remove_evaluation_files(folder: Path) -> list[str]:
    """Remove from an eval-*/ folder of a run what evaluations write there (EVAL_FILES, and the temp files of a killed
    or, on a network file system, another machine's evaluation, which the folder's whole removal took too), and the
    folder once nothing else is in it; returns the names of what else is there, kept, sorted."""
    for name in EVAL_FILES:
        p = folder / name
        if p.is_file() or p.is_symlink():
            p.unlink()
    remove_files(eval_temp_files(folder))
    left = sorted(p.name for p in folder.iterdir())
    if not left:
        # (an eval-*/ folder linked to another disk: the link is the run's, the folder it leads to not; rmdir of the
        # link failed, not a directory, and stopped the --overwrite)
        if folder.is_symlink():
            folder.unlink()
        else:
            folder.rmdir()
    return left


_NUMERIC_NOTE = "note: resumed with other numeric settings "


def _resumed_config(cfg: RunConfig, run_dir: Path, log: Callable[[str], None],
                    files: ReplayFiles | None = None) -> tuple[RunConfig, frozenset[str]]:
    """cfg as a resume of the run saved in run_dir trains it (check_run_dir has refused what may not change), and the
    names of the numeric settings (NUMERIC_SETTINGS) whose change it noted: the f-AnoGAN BatchNorm of a run recorded
    before those fields existed is kept. Other numeric settings than the saved run's are allowed, and noted (not for
    f-AnoGAN, whose loop warns of another thread count itself); not for a run already finished (_run_finished), pGAN
    or f-AnoGAN, which trains nothing under them: its saved thread count is kept (config.yaml and config.json record
    what trained the weights). files: the run's files as read for the resume's other checks (saved_run_files)."""
    saved = read_saved_config(run_dir, saved_run_files(run_dir) if files is None else files)
    if legacy_fanogan_bn(saved):                      # continue with the BatchNorm the run was trained with
        cfg = replace(cfg, fanogan=replace(cfg.fanogan,
                                           **{k: getattr(saved.fanogan, k) for k in FANOGAN_LEGACY_BN}))
    # gp_precision only matters under autocast (amp bf16, or auto on a GPU): with amp off in both it changes nothing
    no_amp = saved.train.amp == cfg.train.amp == "off" or (
        saved.train.amp == cfg.train.amp == "auto" and resolve_device(cfg.train.device).type != "cuda")
    names = [k for k in sorted(NUMERIC_SETTINGS)
             if getattr(saved.train, k) != getattr(cfg.train, k) and not (k == "gp_precision" and no_amp)]
    if not names:
        return cfg, frozenset()
    if _run_finished(cfg, run_dir):
        # nothing trains: 'the weights were trained under both' would be false, and config.yaml would record a
        # thread count that never trained them (the other settings stay this session's: the device, say, is where
        # its training scores are computed)
        return replace(cfg, train=replace(cfg.train, threads=saved.train.threads)), frozenset()
    if cfg.method == "fanogan":
        return cfg, frozenset()
    # allowed, but config.yaml keeps only the new values: a --config replay then runs every session with them
    changed = [f"{k} {_setting_word(k, getattr(saved.train, k))} -> {_setting_word(k, getattr(cfg.train, k))}"
               for k in names]
    log(f"{_NUMERIC_NOTE}({'; '.join(changed)}): the weights were trained under "
        f"both, config.yaml records the new ones, so {option_words('a `--config` replay', 'a replay_run')} of this "
        f"run matches it only up to float noise")
    return cfg, frozenset(names)


def _setting_word(name: str, value: object) -> str:
    """A numeric setting's value as the resume note says it: an unset one (None) by what it then is, torch's thread
    count or the device's automatic choice, where 'threads None -> 1' sent a user to the code."""
    if value is None:
        return "torch's default" if name == "threads" else "auto"
    return repr(value)


def _run_finished(cfg: RunConfig, run_dir: Path) -> bool:
    """Whether a resume of the run in run_dir under cfg trains nothing, told before its loop restores it: its newest
    checkpoint whose sidecar reads has seen cfg's total images (a pGAN run: the loop's `done`), or has done both of
    f-AnoGAN's stages (train_fanogan's 'already finished': its planned critic and encoder iterations). Only the
    sidecars are read (the loop verifies the weights): a newest checkpoint whose weights are damaged counts here, and
    the loop then trains from an older one at the saved thread count, which is what the records then say."""
    total = int(round(cfg.train.total_kimg * 1000))
    for path in reversed(list_checkpoints(run_dir / "checkpoints")):
        try:
            meta = read_meta(path)
            if cfg.method != "fanogan":
                return int(meta["nimg"]) >= total
            from .fanogan_loop import planned_gan_iters

            # (planned from the images the checkpoint saw: a resume of other training images is refused before)
            return (int(meta["gan_iters_done"]) >= planned_gan_iters(cfg.fanogan, int(meta["n_train"]))
                    and int(meta["enc_iters_done"]) >= int(cfg.fanogan.enc_iters))
        except (WildganError, OSError, KeyError):
            continue
    return False


def _drop_training_scores(run_dir: Path, log: Callable[[str], None]) -> None:
    """Remove the run's training-score caches when a resume goes on with training images whose pixels are not the
    ones split.json recorded (another decoder or reader, or no record of them): the caches' keys name the weights,
    score protocol and data config, not the pixels, so a finished run's resume (the same weights) would keep scores
    of the old pixels beside a split.json of the new ones. Removed, its training images are scored again."""
    gone = []
    # (each key file before its rows: the key marks a cache as complete, data.train_score_files.TRAIN_SCORE_FILES)
    for name in TRAIN_SCORE_FILES:
        path = run_dir / name
        if path.is_file():
            path.unlink()
            gone.append(name)
    csvs = [n for n in gone if n.endswith(".csv")]
    if csvs:
        log(f"note: {', '.join(csvs)} scored the training images' pixels as split.json recorded them, not as they "
            f"are read now: removed (the training images are scored again)")


def _recorded_split(files: ReplayFiles) -> dict[str, Any] | None:
    """RUN/split.json as read (through `files`, saved_run_files), or None where it is missing or unreadable
    (_check_resumed_split says which)."""
    try:
        return files.split_json()
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _without_fit_ids(split: AnomalySplit, recorded: Any) -> Any:
    """A run's split.json as a resume compares it with the split it trains on: without the training images' ids
    where either is a Detector.fit's (detector_input). fit names its images by the paths it was given (absolute, or
    relative as typed), the command line's reader of the same folder by their place in it: a fit's run resumed by
    `wildgan train --resume`, by a fit given the folder under another spelling, or by a fit after such a resume, was
    refused as trained on other images, though they were the same. Their count, shape and pixels in order, which
    are what the networks learn from, are compared all the same."""
    if not isinstance(recorded, dict) or not (recorded.get("detector_input") or split.info.get("detector_input")):
        return recorded
    return {k: v for k, v in recorded.items() if k != "train_ids_sha256"}


def _fit_read_otherwise(split: AnomalySplit, recorded: dict[str, Any], run_dir: Path) -> str:
    """The way on, for a refused resume of a Detector.fit's run (its split.json's detector_input) from a split that
    fit did not read (`wildgan train --resume`, train_run): fit reads by the Python API's rules (a float .npz by its
    pixel range, ...), which a pile's reader may not repeat, so the images may be the run's though their pixels
    differ here. '' for any other run."""
    if not recorded.get("detector_input") or split.info.get("detector_input"):
        return ""
    return (f". This run was trained by Detector.fit, whose reading of {recorded.get('source') or 'its images'} "
            f"this one may not repeat: if they are unchanged, Detector(..., run_dir={str(run_dir)!r}).fit(X, "
            f"resume=True), with the same parameters and X, continues it")


def _check_resumed_split(split: AnomalySplit, run_dir: Path, log: Callable[[str], None],
                         now: dict[str, Any], files: ReplayFiles | None = None) -> bool:
    """A resume must train on the images its run started on: refused (nothing written) when the training split
    differs from the run's split.json; a changed test split is only said. Training pixels that differ under the
    same ids are refused too, unless the decoding changed since (decoding_change): then they are said. An unreadable
    split.json is said too, and written again from the data as it is now. now: split_summary(split). Returns
    whether the training pixels are the ones split.json recorded (False where it records none, or is unreadable:
    the run's training-score cache cannot be vouched for then). files: the run's files as read for the resume's
    other checks (saved_run_files)."""
    split_json = run_dir / "split.json"
    if not split_json.is_file():
        return False
    try:
        recorded = (saved_run_files(run_dir) if files is None else files).split_json()
        test_diffs = split_differences(split, {k: v for k, v in recorded.items() if k not in TRAIN_FIELDS}, now=now)
        compared = _without_fit_ids(split, recorded)
        train_diffs = split_differences(split, compared, train_only=True, now=now)
        # only the pixels under the same ids, which another Pillow / libjpeg / reader version can change alone (ids
        # compared: a fit's images named otherwise are not vouched for as the same files, and are refused)
        decoding = decoded_apart(split, recorded, now) if train_diffs else None
        same_pixels = recorded.get("train_pixels_sha256") == now["train_pixels_sha256"]
        # another file (or folder) at the recorded place, or the file edited: said with the differences, or alone
        replaced = source_replaced(recorded, split.info) if isinstance(recorded, dict) else None
    except (ValueError, OSError, AttributeError):
        log(f"warning: {split_json} was unreadable; it is written again from the data as it is now")
        train_diffs = test_diffs = []
        decoding = None
        same_pixels = False
        replaced = None
        recorded = {}
    also = f". {replaced}" if replaced else ""
    if not train_diffs or decoding:
        # the same images: the channel count the resume reads from config.yaml is the run's, of the run's origin
        keep_channels_origin(split, recorded)
    if train_diffs and decoding:
        # Not refused: a resume after a Pillow upgrade (or a reader change) would otherwise be blocked for good for
        # pixels a level or so apart; said, since a replaced image is not told apart from that here.
        log(f"warning: the training images' pixels differ from this run's split.json under the same image ids, and "
            f"the decoding changed since it was recorded ({decoding}), which alone can change pixels by a level or "
            f"so: training continues, and split.json records the pixels as they are now. If images were also "
            f"replaced or reordered under the same names, stop and restore them, or {start_again_words()}"
            + (f". The source itself is not the one recorded: {replaced}" if replaced else ""))
    elif train_diffs:
        # Training on other images from the middle of a run mixes two data sets in one set of networks (and a
        # different image count breaks the saved sampler position): refused, with nothing written, so that the
        # run's split.json still describes what its networks were trained on.
        # (another file or folder at the recorded place: where to put the run's data back, as score and evaluate
        # say it, not only that the bytes differ)
        raise ConfigError(f"{run_dir}: the training images changed since this run started "
                          f"({'; '.join(train_diffs)}); a resume must train on the same images: restore them, ",
                          start_again=f"or {start_again_words()}",
                          then=also + (f": {restore_advice(split.info.get('source'))}" if replaced else "")
                          + _fit_read_otherwise(split, recorded, run_dir))
    if test_diffs:
        # only the test split: the networks are not affected; evaluations from now on use the new one
        log(f"warning: the test images changed since this run started ({'; '.join(test_diffs)}): training "
            f"continues, and split.json records the test split as it is now{also}")
    elif replaced and not train_diffs and other_images_read(split.info, recorded):
        log(f"warning: {replaced}; its training and test images are the ones split.json recorded (their ids and "
            f"pixels), but other images read from it differ (split.json's read_fingerprint): training continues, and "
            f"split.json records this source as the run's from now on")
    return same_pixels


def _rotated_copies(split: AnomalySplit) -> int:
    """How many rotated copies of each original training image the split holds (split.info's rotations: the data
    layer's _augment puts them after the originals), 0 where it has none or its images do not divide so (a split
    given by a caller, whose record of rotations need not describe its images)."""
    r = split.info.get("rotations")
    n = len(split.train_x)
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0 or n == 0 or n % (r + 1):
        return 0
    return r


def _log_start(cfg: RunConfig, split: AnomalySplit, run_dir: Path, *, resume: bool,
               log: Callable[[str], None], ctx: Any = None) -> None:
    """The line that says what is trained on what, and the unreadable files skip_bad left out. ctx: the torchrun
    job's (training.distributed.current()), whose processes the line names, as log.txt's record of the session: a
    resume in another number of processes says its own (the checkpoints' and stats rows' world_size record it too)."""
    s = {"n_train": len(split.train_x), "n_train_anomalous": int(split.train_is_anomaly.sum())}   # (no hashing)
    normal = split.info.get("normal_classes") or []
    # the normal class is named: a data set's default (CIFAR-10 automobile, MNIST 2) is otherwise only in split.json
    normal_chosen = f", the data set default ({option_words('--normal', 'normal=')} chooses)"
    rotated = _rotated_copies(split)
    unit = "crop" if split.info.get("protocol") == "chula-rbc12" else "original"

    def counted(n: int, noun: str, nouns: str | None = None) -> str:
        # the noun agrees with its number: the line read "1 injected anomalies" ("... (1 crops)")
        return f"{n} {noun if n == 1 else nouns or noun + 's'}"

    # with rotations the total alone (17484 images) hid that they are 4371 crops seen at four angles: the figure a
    # reader compares with the data set's size
    rotations = (f"{counted(s['n_train'] // (rotated + 1), unit)}, each also in {rotated} random "
                 f"rotation{'s' if rotated != 1 else ''}; " if rotated else "")
    injected = counted(s["n_train_anomalous"], "injected anomaly", "injected anomalies")
    if rotated and s["n_train_anomalous"]:
        injected += f" ({counted(s['n_train_anomalous'] // (rotated + 1), unit)})"
    # (a Detector.fit of images, protocol 'detector', is such a pile too: its zeros are no count of injected
    # anomalies, which '0 injected anomalies' read as where the CLI's pile said 'anomalies unknown')
    what = rotations + ("an unlabelled pile: anomalies unknown" if split.info.get("protocol") in ("unlabelled",
                                                                                                   "detector")
                        else (f"normal: {', '.join(map(str, normal))}"
                              f"{normal_chosen if split.info.get('normal_default_used') else ''}"
                              f"; " if normal else "") + injected)
    # f-AnoGAN ignores --preset (the CLI warns so): naming the preset there would contradict that warning; a --width
    # override is named as `wildgan info` names it, since 'paper' alone would claim the authors' 512-wide networks
    preset = PRESETS.get(cfg.preset)
    nets = (f"DIM {cfg.fanogan.dim}" if cfg.method == "fanogan"
            else f"{cfg.preset}, width {cfg.net.fmap_max}" if preset and cfg.net.fmap_max != preset["fmap_max"]
            else cfg.preset)
    log(f"{'resuming' if resume else 'training'} {cfg.method} ({nets}) on {s['n_train']} images ({what}), "
        f"{split.resolution}x{split.resolution}x{split.channels}, "
        f"seed {cfg.train.seed if cfg.method != 'fanogan' else cfg.fanogan.seed}{_processes_words(ctx)} -> {run_dir}")
    skipped = split.info.get("skipped") or []
    if skipped:
        # (skip_bad as this session's user gave it: the CLI's --skip-bad, a DataConfig's or a Detector's skip_bad=True)
        log(f"warning: skipped {len(skipped)} unreadable file{'s' if len(skipped) != 1 else ''} ({skip_bad_option()}), "
            f"listed in {run_dir / 'skipped.txt'}")


def _processes_words(ctx: Any) -> str:
    """', in 2 processes (torchrun, gloo)' for a torchrun job of several ranks; '' for one process, as the line
    always read (the one-process run is the common one, and its record says world_size 1)."""
    from .distributed import processes_record

    procs = processes_record(ctx)
    if procs["world_size"] <= 1:
        return ""
    return f", in {procs['world_size']} processes (torchrun, {procs['dist_backend']})"


def _train_method(cfg: RunConfig, split: AnomalySplit, run_dir: Path, *, resume: bool, progress: bool,
                  log: Callable[[str], None], threads_noted: bool = False) -> TrainResult:
    """Train cfg.method's networks on the split's training images (its loop writes checkpoints and final networks).
    threads_noted: the resume's note already named a changed threads setting (f-AnoGAN's resume gives no such note)."""
    if cfg.method in ("wildgan", "search"):
        # (train_run says a run not grown to full resolution itself, or leaves it to its caller: not_grown_warning)
        return train_pgan(split.train_x, cfg, run_dir, resume=resume, progress=progress, log=log,
                          threads_noted=threads_noted, warn_not_grown=False)
    if cfg.method == "fanogan":
        return _train_fanogan(cfg, split, run_dir, resume=resume, progress=progress, log=log)
    raise ConfigError(f"unknown method {cfg.method!r}; choose wildgan, search or fanogan")


def lod_short_of_full(cfg: RunConfig, result: TrainResult) -> float | None:
    """The level of detail (> 0) at which a pGAN run ended, by its total_kimg or its minutes budget (result.status
    done or budget), before its networks grew to full resolution: read from its final networks' record. None where
    they grew, for f-AnoGAN (which does not grow), and where no final networks were written or cannot be read."""
    if cfg.method == "fanogan" or result.final is None or result.status not in ("done", "budget"):
        return None
    try:
        lod = float(json.loads(Path(result.final).read_text(encoding="utf-8")).get("lod") or 0.0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return lod if lod > 0 else None


def planned_short_of_full(cfg: RunConfig) -> tuple[int, float] | None:
    """(images shown, lod > 0) at which a pGAN training of cfg ends by its total_kimg before its networks grow to full
    resolution, from the schedule alone (a dry run's plan): the loop finishes the round that crosses the total
    (end_of_rounds) and records the lod that round trained at (lod_of_last_round), which lod_short_of_full reads
    back once it has trained. None where they grow, for f-AnoGAN (which does not grow), and where the minibatch
    table lacks a size the rounds need (check_minibatch_sizes says that). A --minutes budget may end it sooner: not
    known before it runs."""
    from .schedule import end_of_rounds, lod_of_last_round

    t, r = cfg.train, cfg.net.resolution
    if cfg.method == "fanogan" or t.total_kimg is None:
        return None
    try:
        end = end_of_rounds(0, int(round(t.total_kimg * 1000)), r, t.phase_kimg, t.fade_kimg, t.minibatch,
                            t.minibatch_repeats)
        lod = float(lod_of_last_round(end, r, t.phase_kimg, t.fade_kimg, t.minibatch, t.minibatch_repeats))
    except KeyError:
        return None
    return (end, lod) if lod > 0 else None


def not_grown_warning(cfg: RunConfig, result: TrainResult) -> str | None:
    """What train_run warns of a run whose networks never reached full resolution (lod_short_of_full), in the
    RunConfig's terms: they are scored at the resolution they reached, and nothing else a Python caller gets says so.
    None for a run that grew. `wildgan train` and Detector.fit say it in their options' words, a study's cells in its
    own line (train_run's warn_not_grown=False)."""
    lod = lod_short_of_full(cfg, result)
    if lod is None:
        return None
    return not_grown_text(cfg.train, cfg.net.resolution, result.nimg, lod, result.status == "budget", "train_run")


FANOGAN_CHECKPOINT_ITERS = 1000


def fanogan_checkpoint_every(cfg: RunConfig) -> int:
    """f-AnoGAN's checkpoint interval in iterations: every FANOGAN_CHECKPOINT_ITERS, unless the run's checkpoint_kimg
    was chosen (it differs from default_checkpoint_kimg, which is derived from the pGAN schedule's total and means
    nothing for f-AnoGAN's iterations); then that many kimg of critic (or encoder) batches. The same test as
    run_config_to_options', so a --resume replays the same interval."""
    ck = cfg.train.checkpoint_kimg
    if ck is None or math.isclose(ck, default_checkpoint_kimg(cfg.train.total_kimg), rel_tol=1e-9, abs_tol=1e-12):
        return FANOGAN_CHECKPOINT_ITERS
    return max(1, round(ck * 1000 / cfg.fanogan.batch_size))


def _train_fanogan(cfg: RunConfig, split: AnomalySplit, run_dir: Path, *, resume: bool, progress: bool,
                   log: Callable[[str], None]) -> TrainResult:
    """f-AnoGAN's loop, its result said as a TrainResult (in images shown, as the pGAN's)."""
    import torch

    from .fanogan_loop import train_fanogan

    if cfg.train.threads is not None:
        # --threads: as the pGAN loop sets it (training.loop), for this run's training (train_run puts the caller's
        # count back; `wildgan train` sets it for its training scores and --evaluate too); f-AnoGAN's own config has
        # no field of its own for it
        torch.set_num_threads(cfg.train.threads)
    final = train_fanogan(split.train_x, cfg.fanogan, run_dir, progress=progress, log=log, resume=resume,
                          checkpoint_every=fanogan_checkpoint_every(cfg),
                          keep_checkpoints=cfg.train.keep_checkpoints, on_divergence=cfg.train.on_divergence)
    meta = read_meta(final)
    # f-AnoGAN counts iterations, not images: critic iterations x batch = real images shown
    nimg = int(meta.get("gan_iters_done", 0)) * cfg.fanogan.batch_size
    detail = (f"{int(meta.get('gan_iters_done', 0))} critic iterations, {kimg_text(nimg)} kimg shown to the "
              f"critic; {int(meta.get('enc_iters_done', 0))} encoder iterations")
    return TrainResult(run_dir=run_dir, nimg=nimg, final=final,
                       status="budget" if meta.get("stopped_early") else "done", detail=detail)


def _note_stale_evaluations(run_dir: Path, final: Path, log: Callable[[str], None], *,
                            evaluate_after: bool = False) -> None:
    """After a session (a resume's; a first one's too, for an evaluation made of a checkpoint as it trained): say which
    saved evaluations are of the networks before its end. They are the user's results and stay where they are
    (`wildgan report` marks them as from earlier networks); the note gives the command that evaluates the networks
    trained now. evaluate_after: the caller evaluates the run's own test split next (`wildgan
    train --resume --evaluate`, the way a stopped demo continues), which rewrites RUN/eval.json: that one is said to
    be replaced (it was said to be 'kept as it is' by the very command that then rewrote it); the evaluations on
    other data (RUN/eval-*/) are kept."""
    try:
        meta = read_meta(final)
    except (WildganError, OSError):
        return
    for path in saved_evaluations(run_dir):
        stale = stale_evaluation(run_dir, path, meta)
        if stale is None:
            continue
        # the files of that evaluation there beside it, each as stale (data.eval_files: a new output is named too)
        beside = [name for name in eval_files_there(path) if name != EVAL_JSON]
        what = (f"note: {path}{f' (with its {names_text(beside)})' if beside else ''} is an evaluation of "
                f"{stale[0]}")
        if evaluate_after and path == Path(run_dir) / EVAL_JSON:
            log(f"{what}: the evaluation that follows ({option_words('--evaluate', 'evaluate_after=True')}) "
                f"replaces it with one of the networks trained now")
        else:
            log(f"{what}: kept as it is; `{stale[1]}` evaluates the networks trained now")


# ------------------------------------------------------------------------------------------------------------------
# Evaluations saved before a resume: of which networks, and the command that evaluates the current ones

def networks_record(meta: dict[str, Any]) -> dict[str, Any]:
    """What a result computed from networks records about them, from their checkpoint metadata: the weights'
    sha256 (which the checkpoint JSON holds, so no file is read), and where training stood (kimg; f-AnoGAN counts
    critic iterations). networks_changed compares such a record with the networks of the run as they are now."""
    out = {"weights_sha256": meta.get("sha256"), "kimg": meta.get("kimg")}
    if meta.get("gan_iters_done") is not None:
        out["gan_iters_done"] = meta.get("gan_iters_done")
    return out


def _position(rec: dict[str, Any]) -> str | None:
    if rec.get("kimg") is not None:
        return f"{kimg_text(int(round(float(rec['kimg']) * 1000)))} kimg"
    if rec.get("gan_iters_done") is not None:
        return f"{int(rec['gan_iters_done'])} critic iterations"
    return None


def networks_changed(recorded: dict[str, Any], meta: dict[str, Any]) -> str | None:
    """How the networks a result was computed from (`recorded`: its networks_record, e.g. eval.json's "model")
    differ from those whose checkpoint metadata is `meta` (the run's current networks), in words for a message:
    "earlier networks (2.048 kimg; the run is now at 6.016 kimg)"; None when they are the same networks, or when the
    record cannot tell (written before the weights' digest was recorded, and with no training position either).
    The weights' sha256 decides when both sides have it; an older record is compared by its training position."""
    was, now = recorded.get("weights_sha256"), meta.get("sha256")
    then, current = _position(recorded), _position(networks_record(meta))
    if was and now:
        if was == now:
            return None
    elif then is None or current is None or then == current:
        return None          # an older record (no digest) at the same position: nothing says they differ
    if then is None or current is None or then == current:
        return "other networks (their weights differ from the run's current ones)"
    which = "other"
    for key in ("kimg", "gan_iters_done"):               # earlier when both count the same unit and it grew since
        if recorded.get(key) is not None and meta.get(key) is not None:
            try:
                which = "earlier" if float(recorded[key]) < float(meta[key]) else "other"
            except (TypeError, ValueError):
                pass
            break
    return f"{which} networks ({then}; the run is now at {current})"


def saved_evaluations(run_dir: Path) -> list[Path]:
    """The evaluations `wildgan evaluate` saved in the run: RUN/eval.json and RUN/eval-*/eval.json (other data)."""
    run_dir = Path(run_dir)
    return [p for p in [run_dir / EVAL_JSON, *sorted(run_dir.glob(f"eval-*/{EVAL_JSON}"))] if p.is_file()]


def stale_evaluation(run_dir: Path, path: Path, meta: dict[str, Any]) -> tuple[str, str] | None:
    """(how its networks differ, the command that evaluates the current ones) when the evaluation saved at `path`
    (RUN/eval.json, RUN/eval-*/eval.json) was computed from other networks than those whose checkpoint metadata
    is `meta` (e.g. before a --resume trained on); None when it is of them, when its record cannot tell, or when
    it is unreadable (which its reader reports)."""
    try:
        ev = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model = ev.get("model") if isinstance(ev, dict) else None
    try:
        why = networks_changed(model, meta) if isinstance(model, dict) else None
    except (TypeError, ValueError):       # a hand-edited record (kimg "six"): it cannot tell
        return None
    return None if why is None else (why, evaluate_command(run_dir, path, ev))


def evaluate_command(run_dir: Path, path: Path, ev: dict[str, Any]) -> str:
    """The `wildgan evaluate` command that writes the evaluation saved at `path` (eval.json `ev`) again: plain for
    the run's own test split, else with the --data, --normal and --whole it was made with (as recorded in its split
    info), so that it lands in the same place (evaluation.run.evaluation_dir)."""
    run_dir = Path(run_dir)
    recorded = _split_info_quietly(run_dir)
    own_protocol = recorded.get("protocol") != "unlabelled" and not recorded.get("detector_input")
    cmd = f"wildgan evaluate {shlex.quote(str(run_dir))}"
    info = ev.get("data") if isinstance(ev.get("data"), dict) else {}
    if own_protocol and Path(path).parent == run_dir:
        return cmd
    if info.get("source"):
        cmd += f" --data {shlex.quote(str(info['source']))}"
    if info.get("normal_classes"):
        cmd += f" --normal {shlex.quote(','.join(map(str, info['normal_classes'])))}"
    if own_protocol and info.get("test_size") == "whole":
        cmd += " --whole"                   # (the default for a run without a test split of its own)
    return cmd


def _split_info_quietly(run_dir: Path) -> dict[str, Any]:
    """RUN/split.json, or {} when it is missing or unreadable (for a message, never a reason to fail)."""
    try:
        info = json.loads((Path(run_dir) / "split.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
