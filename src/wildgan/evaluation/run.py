"""Evaluating a run on its test set, with the controls beside every result (issue: a trained score means little
on its own; on CIFAR_CAR the untrained networks already reach AUC 0.61 and -||Q|| 0.62).

Python equivalent of `wildgan evaluate`."""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

from ..checkpoint import refuse_saved_detector
from ..config import (SCORE_NAMES, DataConfig, RunConfig, ScoreConfig, is_sample_path, own_score, read_run_config,
                      scoring_changes, scoring_settings)
from ..data import (AnomalySplit, build_split, conversion_opts, newly_skipped, recorded_normal_classes, skipped_reasons,
                    split_differences, split_summary)
from ..data.dataset_files import dataset_file_stem, labels_needed_by
from ..data.imageset import resize_warning, scale_warning, scoring_depth16
from ..data.readers import (channel_warning, data_source_path, detect_format, given_data_missing, is_pile,
                             missing_run_data_error, same_data_source, single_class_text, trained_gray_share,
                             trained_kind)
from ..data.source_identity import restore_advice, source_replaced
from ..data.splits import (decoding_change, image_hashes, other_images_read, read_fingerprint_comparable,
                           read_train_hashes, reads_decoded_cache, resolve_classes, seen_in_training)
from ..errors import (DEPTH16_KEYWORD, RUN_DEPTH16, SPLIT_CLASSES, ConfigError, HeldWarning, WildganError,
                      depth16_keyword, depth16_said, depth16_said_as, in_cli, option_words, shell_word,
                      skip_bad_option, warn_user)
from ..data.eval_files import (BY_CLASS_CSV, CONTROLS_CSV, EVAL_FILES, EVAL_JSON, LATENTS_NPY, SCORES_CSV, SEARCH_CACHE,
                               SIDE_FILES_FIELD, eval_temp_files, names_text, unmatched_beside, unmatched_why)
from ..fileio import atomic_write_files, digesting, leave_out_defaults, writing_temps
from ..progress import progress_label
from ..scoring.run import UNTRAINED, LoadedModel, load_model, read_split_info, scores_csv_text, untrained_model
from ..scoring.pgan_scores import ScoreResult
from ..scoring.scores import SCORES_VERSION, SCORES_VERSION_ABSENT, UNRECORDED_SCORES_VERSION
from ..training.run import networks_record
from ..training.schedule import recorded_kimg_text
from .by_class import auc_by_class, by_class_csv_text, by_class_lines
from .metrics import (auc_uncertainty, evaluate_scores, interval_text, p_text, paired_test_text, pixel_statistics,
                      pixel_tests_text)



def _warn_other_scale(split: AnomalySplit, recorded: dict[str, Any], resolution: int, data: str,
                      log: Callable[[str], None] | None) -> None:
    """Other data of one image size (an .npz, CIFAR-10) read for a run whose training images were another: the
    scale and resize warnings that `score` gives image files (data.imageset), said of the data set. Only for one
    size: a mixed-size tree's split records its sides' range, not which image had which size."""
    trained, now = recorded.get("native_sides"), split.info.get("native_sides")
    if not trained or not now or now[0] != now[1]:
        return
    sizes = {(int(now[0]), int(now[0])): data}
    fit = (recorded.get("conversion") or {}).get("fit", "resize")
    msg = scale_warning(sizes, trained, resolution) or resize_warning(sizes, trained, resolution, fit)
    if msg:
        _say(log, f"warning: {msg}")


def _warn_other_channels(split: AnomalySplit, recorded: dict[str, Any], data: str,
                         log: Callable[[str], None] | None) -> None:
    """Other data whose images are of the other kind (colour, gray) than the run's training images, all of one kind:
    the warning `score` gives image files (data.readers.channel_warning), said of the data set, which was converted
    to the run's channels without a word. Counted as `score` counts (readers.trained_kind): by what the images hold
    (the reader's gray_held, RGB-stored gray as gray), or by their files' mode (gray_files) for a colour run recorded
    so; where the reader did not count what they hold (a folder-tar's decode cache), by mode."""
    conv = split.info.get("conversion") or {}
    opts = conversion_opts(recorded)
    trained_on, by_content = trained_kind(opts)
    share = trained_gray_share(opts)       # (a colour run with some gray training images)
    n_read, n_gray = split.info.get("n_read"), conv.get("gray_held") if by_content and \
        isinstance(conv.get("gray_held"), int) else conv.get("gray_files")
    if not isinstance(n_gray, int) or not isinstance(n_read, int):
        return                                    # (not counted by this reader: nothing known to say)
    # only the test split is scored, while the reader counted every image read (an .npz's training images too: "60
    # colour images" of which 20 were scored). Data all of one kind: its test images are that kind, so counted true;
    # mixed data: the reader's count, said as what it is (which of them are in the test split is not recorded)
    n_test = len(split.test_x)
    if n_gray in (0, n_read):
        gray_test = n_test if n_gray else 0
        msg = channel_warning(gray_test, n_test - gray_test, trained_on, share)
        of = ""
    else:
        msg = channel_warning(n_gray, n_read - n_gray, trained_on, share)
        of = f" (of the {n_read} images read, training and test sets together; {n_test} of them are scored)"
    if msg:
        _say(log, f"warning: {data}: {msg}{of}")


class _SaidOnly(str):
    """A message said to the user and not kept in eval.json's warnings: one whose words may go stale while the file
    stays (the note that data was not checked for a run's training images, because the run kept no train_hashes.npz:
    a resume of the run writes one, and so does a later evaluation where rebuilding it is cheap, rebuilt_train_hashes,
    while no eval.json of an earlier evaluation is written again). Nothing reads eval.json's warnings back (the report,
    the studies and the CLI do not), so it is not kept there at all."""


def _warn_training_images(split: AnomalySplit, run_dir: Path, cfg: RunConfig, recorded: dict[str, Any], data: str,
                           log: Callable[[str], None] | None) -> None:
    """Other data whose test images include the run's own training images (the same pixels, by the checksum of each
    that the run keeps: data.splits.read_train_hashes): a pile run evaluated on labelled copies of its pile. Their
    scores are of images the networks saw, and the AUC over them is not one of new images. A run without those
    checksums (trained before they were kept) has them made from its training images rebuilt, where that is cheap
    beside the evaluation (rebuilt_train_hashes); otherwise one short line says that the data was not checked, and
    why, at every evaluation of such a run (not once per run: see below)."""
    if not len(split.test_x):
        return
    trained = read_train_hashes(run_dir, recorded)
    if trained is None:
        trained, why = rebuilt_train_hashes(run_dir, cfg, recorded, len(split.test_x))
        if trained is None:
            # said each time, not remembered in the run folder as said once: the check is of the data evaluated, which
            # may be other data each time, and a clean check says nothing. Said once, a later evaluation (of labelled
            # copies of the pile, say) would be as silent as a checked one, and its AUC read as one of new images; nor
            # is the note kept in eval.json (_SaidOnly), so that evaluation's own output is the only place to say it.
            # Hence one short line
            _say(log, _SaidOnly(f"note: {data}: not checked for images {run_dir} was trained on ({why})"))
            return
    seen = seen_in_training(split.test_x, trained)
    m = int(seen.sum())
    if not m:
        return
    n_anomalous = int(np.asarray(split.test_y)[seen].sum())
    _say(log, f"warning: {data}: {m} of its {len(split.test_x)} test images ({m - n_anomalous} normal, {n_anomalous} "
              f"anomalous) are images {run_dir} was trained on (the same pixels): their scores are of images the "
              f"networks saw, which tend to score as normal, so the AUCs are not those of new images; evaluate on "
              f"images the run did not train on for those")


# formats whose images are arrays (no image file decoded): rebuilding a run's training images from them costs about
# one pass over their pixels, less than scoring any number of images beside them
_ARRAY_FORMATS = ("npz", "unlabelled-npz", "cifar-batches", "unlabelled-cifar-batches")


def rebuilt_train_hashes(run_dir: Path, cfg: RunConfig, recorded: dict[str, Any], n_scored: int
                         ) -> tuple[np.ndarray | None, str]:
    """The image_hashes of a run's training images, rebuilt from its data as training read it (the run's split.json
    `recorded`, its config `cfg`), for a run that keeps no train_hashes.npz (or one not of them); kept there for next
    time where the run folder takes it. Only where rebuilding costs little beside an evaluation that scores n_scored
    images: an array data set (one read, no file decoded), an archive of class folders whose decoded cache (left by
    the run's own read of it, or a later one) is there to load (data.splits.reads_decoded_cache), or image files no
    more numerous than the images scored (each of which is decoded as well, then scored by several networks). None,
    with why in words, otherwise: the data gone, unreadable, or not the images split.json records (their pixel
    checksum), which would count other images as the training ones."""
    from ..data.replay import as_fit_read
    from ..data.splits import (HASHES_MISSING, HASHES_UNREADABLE, TRAIN_HASHES_FILE, pixels_sha256, train_hashes_kept,
                               write_train_hashes)

    # (the caller's note names the run: `why` is said in as few words as it takes. A file that cannot be read, empty
    # or cut short, was said to be 'of other images', at every evaluation, which was false and hid what was wrong)
    state = train_hashes_kept(run_dir, recorded)[1]
    kept = (f"it keeps no {TRAIN_HASHES_FILE}" if state == HASHES_MISSING else
            f"its {TRAIN_HASHES_FILE} cannot be read (damaged)" if state == HASHES_UNREADABLE else
            f"its {TRAIN_HASHES_FILE} is of other images")
    src = cfg.data.data
    where = src or "the run's data"
    pixels = recorded.get("train_pixels_sha256")
    if not isinstance(pixels, str):
        return None, f"{kept}, and its split.json has no checksum of its training images"
    if recorded.get("detector_input") and not src:
        return None, f"{kept}, and Detector.fit's images given in memory or as a list of files cannot be read again"
    data = cfg.data
    if recorded.get("detector_input"):
        # a fit of an earlier wildgan recorded dataset 'auto' for what it read whole (as the training scores read it)
        data = (as_fit_read(cfg, run_dir / "config.json", note=lambda _: None) or cfg).data
    # (before the cost below: data that is gone cannot be rebuilt at any cost, and a deleted archive, which has no
    # decoded cache to be found by, was told that rebuilding would decode its images again)
    if missing_run_data_error(src, run_dir) is not None:
        return None, f"{kept}, and the run's data {src} is gone"
    # every image the run's data holds is decoded again, not only its training images: the split is drawn from them
    # all (split.json's n_read counts them, a labelled set's test images and those of neither split too)
    n_read = recorded.get("n_read", recorded.get("n_train"))
    fmt = recorded.get("format")
    if fmt is None and recorded.get("detector_input"):
        # a Detector.fit's split.json records no format: its file's, by the readers' rule, so that a fit on an .npz
        # is rebuilt as cheaply as a `wildgan train` run on it (it was said to need its images decoded again)
        try:
            fmt = detect_format(Path(src))
        except (WildganError, OSError):
            fmt = None
    # (an archive's read writes its decoded cache, which every later read loads instead of decoding: counted by its
    # images, a run on a .tar.gz was said to need them decoded again, and was not checked, where the check was a load)
    if fmt not in _ARRAY_FORMATS and not (isinstance(n_read, int) and n_read <= n_scored) and \
            not (fmt == "folder-tar" and reads_decoded_cache(data)):
        if not isinstance(n_read, int):
            return None, f"{kept}, and rebuilding it would decode the images of the run's data again, how many " \
                         f"split.json does not say"
        n_train = recorded.get("n_train")
        drawn = f" (its {n_train} training images are drawn from them all)" if isinstance(n_train, int) and \
            n_train < n_read else ""
        return None, f"{kept}, and rebuilding it would decode the {n_read} images of the run's data " \
                     f"again{drawn}, more than the {n_scored} scored here"
    import warnings

    try:
        with warnings.catch_warnings():
            # what the run's data says of itself (tiny images, files changed since) belongs to its own commands:
            # here it is read for a count only, whose outcome is the one line said
            warnings.simplefilter("ignore")
            train_x = build_split(data, recorded=recorded, progress=False).train_x
    except (WildganError, OSError) as e:
        return None, f"{kept}, and rebuilding it from {where} failed: {e}"
    if pixels_sha256(train_x) != pixels:
        return None, f"{kept}, and the images rebuilt from {where} are not the training images split.json records"
    hashes = image_hashes(train_x)
    if os.access(run_dir, os.W_OK):
        try:
            write_train_hashes(run_dir, train_x, pixels, hashes=hashes)
        except OSError:
            pass               # (a record for next time only: this evaluation has what it needs)
    return hashes, ""


def _next_steps(run_dir: Path | str) -> str:
    """What a run without a test split of its own is used for, as the user of the call in progress does it (errors.
    option_words): the CLI's commands, or the Python API's calls (evaluate_run, Detector.from_run)."""
    if in_cli():
        return (f"score new images with `wildgan score {shell_word(run_dir)} --data IMAGES --threshold "
                f"contamination`, or evaluate on labelled data with `wildgan evaluate {shell_word(run_dir)} --data "
                f"PATH --normal CLASS`")
    return (f"score new images with Detector.from_run({str(run_dir)!r}).predict(IMAGES), or evaluate on labelled data "
            f"with evaluate_run({str(run_dir)!r}, data=PATH, normal=('CLASS',))")


def _runs_own_normal(recorded: dict[str, Any], normal: str | tuple[str, ...] | None, source: str) -> bool:
    """Whether `normal` (split_for_run's: None for none given) names the normal classes of the run whose split.json is
    `recorded`, as evaluation_dir compares them (the names build_split resolves them to). Another normal class of the
    run's own data is no split the run trained on: none injected, nothing rotated, as other data."""
    if normal is None:
        return True
    # (as DataConfig reads --normal: a comma-separated str, or classes one by one)
    given = [c.strip() for c in str(normal).split(",") if c.strip()] \
        if isinstance(normal, (str, numbers.Integral)) else [str(c) for c in normal]
    own = recorded_normal_classes(recorded)
    names = [str(n) for n in recorded.get("class_names") or []]
    if names:
        # resolved as build_split resolves them, against the run's classes: evaluation_dir compares the names it
        # resolved to. A name compared folded instead took --normal 0 (the index of the run's class 'good') for
        # another class, so RUN/eval.json got a split without the run's contamination; and of classes 'Good'
        # and 'good', --normal Good (exactly that class, not the run's) for the run's, split with it in eval-*/
        try:
            return [names[i] for i in resolve_classes(tuple(given), names, "normal", source)] == own
        except WildganError:
            return False
    # (a split.json without class_names, of an older wildgan: by name, stripped and case folded)
    return bool(own) and [c.strip().casefold() for c in given] == [str(c).strip().casefold() for c in own]


def _names_runs_own_split(data: str, dataset: str, recorded: dict[str, Any],
                          normal: str | tuple[str, ...] | None) -> bool:
    """Whether `data`, given to evaluate or score the run whose split.json is `recorded`, is the run's own data (the
    path it was read from, however spelled: data.readers.same_data_source of the path resolved) with its own normal
    classes: the split is the run's, built with its contamination and rotations as the run's was. Built without them,
    as other data is, `wildgan evaluate RUN --data ITS_DATA` wrote RUN/eval.json, the run's own evaluation, with a
    split of gamma 0 and no contaminants (its training part not the run's), beside the split.json of the same test
    split that says otherwise. Data at another path (a copy, the folder of a tar) is other data, as evaluation_dir
    files its evaluation apart."""
    source = recorded.get("source")
    if not source or recorded.get("protocol") == "unlabelled" or recorded.get("detector_input"):
        return False
    if not _runs_own_normal(recorded, normal, str(source)):
        return False
    # (the path compared is the one the data is read from, resolved, as evaluation_dir compares the split's source:
    # the path as typed, equal to the recorded one, was the run's own even where a link now stands there, whose
    # target the split's source names, so the run's contamination went into eval-*/)
    if is_sample_path(data) and is_sample_path(source):
        return True
    try:
        return same_data_source(str(data_source_path(data, dataset).resolve()), source)
    except (WildganError, OSError):
        return False


def split_for_run(run_dir: Path, data: str | None = None, log: Callable[[str], None] | None = None,
                  normal: str | tuple[str, ...] | None = None, skip_bad: bool = False,
                  whole: bool | None = None, held: HeldWarning | None = None,
                  progress: bool | None = None) -> AnomalySplit:
    """The run's own test split (rebuilt deterministically from its saved DataConfig), optionally on other data.

    Rebuilding the run's own split from data that changed on disk since training (files added, removed or moved
    between classes) gives another split, whose test images may have been training images: log (default: a
    Python warning) says so, naming what differs from split.json. normal: the normal class(es) of `data` (needed
    for a labelled class-folder tree when the run itself was trained on unlabelled images). whole: evaluate on
    every labelled image of `data` (build_split(whole=True)) instead of its protocol's test split; default (None):
    whole when the run was trained on unlabelled images or by Detector.fit, which never held labelled images out.
    held: the warning that names files unreadable since training (skip_bad) is held there, not said: it is said once
    the training scores are read (before any scoring), joined by their warning when they leave the same files out.
    progress: the decoding bar of the images read (build_split's: None is tqdm's auto, shown on a terminal only)."""
    cfg = read_run_config(run_dir)
    recorded = read_split_info(Path(run_dir))
    if normal is not None and not isinstance(normal, numbers.Integral) and \
            not [c for c in (normal.split(",") if isinstance(normal, str) else normal) if str(c).strip()]:
        # ("" or (): no class named, as without it: the run's own are taken over.) Tested below by `is not None`, not
        # truth: the label 0 (normal=0) was dropped as no class given, and the run's own normal class evaluated
        # instead; and "" or () were other data's split, without the run's contamination, of the run's own data and
        # classes, which evaluation_dir wrote as the run's own evaluation (RUN/eval.json)
        normal = None
    if data is None and recorded.get("detector_input"):
        # trained by Detector.fit, which holds no test split out: on arrays, or on a folder or file that split.json
        # names as its source ('in-memory images' was said of a fit on a folder too), and the next step is that of
        # an unlabelled pile: score new images, or evaluate on labelled ones
        src = str(recorded.get("source") or "")
        given = "in-memory images" if not src or src.startswith("in-memory") else f"the images of {src}"
        raise ConfigError(f"{run_dir}: this run was trained by Detector.fit on {given}, which holds no test split "
                          f"out, so there is none to evaluate or score by default; {_next_steps(run_dir)}")
    if data is None and recorded.get("protocol") == "unlabelled":
        raise ConfigError(f"{run_dir}: trained on unlabelled images, so there is no test split to evaluate or "
                          f"score by default; {_next_steps(run_dir)}")
    if data is None:
        # (no word of --data: report, which reads the run's split here too, has none)
        gone = missing_run_data_error(cfg.data.data, run_dir)
        if gone is not None:
            raise gone
    dc: DataConfig = cfg.data if data is None else replace(cfg.data, data=str(data))
    # other data that names nothing: said naming the option (the reader named the absolute path and no option, so
    # `wildgan evaluate RUN --data nope/` did not say which argument was wrong)
    gone = given_data_missing(data, option_words("--data", "data="), dc.dataset, dc.download)
    if gone is not None:
        raise gone
    if data is not None and dc.dataset == "unlabelled":
        dc = replace(dc, dataset="auto")            # the run's own protocol does not describe labelled data
    own_data = data is not None and _names_runs_own_split(data, dc.dataset, recorded, normal)
    if (data is not None and not own_data) or (data is None and not _runs_own_normal(recorded, normal,
                                                                                       str(recorded.get("source")))):
        # other data is only tested on: the run's contamination injected into a training part that nothing trains on
        # refused data whose training part holds no anomaly (train/good, test/good + test/bad) with advice to pass
        # --contamination 0, which evaluate and score have not, and warned of its rounding there; and a chula-rbc12
        # run's 3 rotated copies of that training part cost about 1 ms an image. The test split depends on neither
        # (its draws have their own seed streams, and test images are never rotated). So too another normal class of
        # the run's own data, with or without --data: the one folder both write, eval-data-normal-C/, recorded a
        # split with the run's contamination of one and without it of the other
        dc = replace(dc, contamination=0.0, rotations=0)
    if data is not None:
        # taken over by the names the run's split resolved them to (a class given as an index, "0", is a name
        # there, "ones"): the names are what can match the other data's classes (build_split(inherited=...))
        if recorded_normal_classes(recorded) and normal is None:
            dc = replace(dc, normal=tuple(recorded_normal_classes(recorded)))
        if recorded.get("excluded_classes") is not None:
            dc = replace(dc, exclude_classes=tuple(str(c) for c in recorded["excluded_classes"]))
    if normal is not None:
        # (DataConfig reads a str: one class, or a comma-separated list as --normal, where tuple() of it was its
        # letters; and a whole-number label. Any other collection as tuple() took it: DataConfig takes lists and
        # tuples only, and refused a set as a config file's data.normal)
        dc = replace(dc, normal=normal if isinstance(normal, (str, numbers.Integral)) else tuple(normal))
    if data is not None and dc.dataset == "auto" and is_pile(data):
        # said before the read: read as a pile, it met the training's minimum of images first ("need at least 16
        # (one minibatch ...)"), and a one class folder was asked for "class folders", which it had given
        one = single_class_text(data)
        raise ConfigError(f"{data}: no labels to evaluate with.{one}." if one else
                          f"{data}: unlabelled images (no class folders or labels), so there is no normal class to "
                          f"evaluate against: pass labelled data (class folders, e.g. DATA/normal/ and "
                          f"DATA/anomalous/, CIFAR-10, an .npz with labels) and its normal class with "
                          f"{option_words('--normal', 'normal=')}", split_problem=SPLIT_CLASSES)
    if skip_bad:
        dc = replace(dc, skip_bad=True)
    if whole is None:   # runs without a protocol of their own never held labelled images out
        whole = data is not None and (recorded.get("protocol") == "unlabelled" or bool(recorded.get("detector_input")))
    if whole and data is None:
        # (the run's own data given as --data is taken too, with a warning that its test set then holds the
        # training images: "images the run was not split from" read as a refusal of it)
        raise ConfigError(f"{run_dir}: whole-data evaluation needs {option_words('--data', 'data=')}: labelled "
                          f"images, evaluated whole (other data; or the run's own, the training images included); "
                          f"without it the run's own data is evaluated on its held-out test split")
    # other data: the run's normal classes (without --normal) and exclusions are taken over by class name only
    # (other data: what its images hold is counted too, for _warn_other_channels)
    # other data is read as `wildgan score` reads images for this run (scoring_depth16: a run trained on 16-bit images
    # only reads an 8-bit file on the 16-bit scale, one trained on 8-bit ones a 16-bit file by value / 257), where the
    # training rule kept such a file as it is, or stretched it: one file had two scores, evaluate's and score's. (The
    # run's own data holds no file of the other depth: its record counts every file read)
    read_depth16 = None if data is None else other_data_depth16(recorded, dc.depth16)
    # (with the caller's progress choice: left to tqdm's auto, the decoding bar was drawn on a terminal under
    # --no-progress, the only bar that did)
    split = build_split(dc, whole=whole, progress=progress,
                        inherited=() if data is None else ("exclude_classes",) if normal is not None
                        else ("normal", "exclude_classes"), recorded=recorded if data is None else None,
                        count_held=data is not None,
                        read_depth16=None if read_depth16 == dc.depth16 else read_depth16,
                        # (an older run's photos split across its hold-out: said as `evaluate RUN` says it)
                        own_run=recorded if own_data else None)
    trained_on_it = bool(whole and recorded.get("source") and same_data_source(split.info.get("source"),
                                                                               recorded.get("source")))
    if trained_on_it:
        _say(log, f"warning: {dc.data} is the data {run_dir} was trained on: evaluated whole, its test set includes "
                  f"the training images (the in-the-wild setting: how well the pile's own anomalies are found), "
                  f"not only held-out ones")
    if data is not None and split.info.get("normal_default_used") and split.info.get("normal_classes"):
        # the run has no normal class of its own to carry over (trained on an unlabelled pile or by Detector.fit),
        # so the data's protocol default decided what counts as normal (CIFAR-10's automobile): said, as training
        # says it, since a pile of one's own photos in CIFAR-named folders may mean another class
        _say(log, f"note: {dc.data}: evaluated with normal class "
                  f"{', '.join(map(str, split.info['normal_classes']))}, the data set's default "
                  f"({option_words('--normal', 'normal=')} chooses)")
    if data is not None:
        _warn_other_scale(split, recorded, int(cfg.net.resolution), str(dc.data), log)
        _warn_other_channels(split, recorded, str(dc.data), log)
        if not trained_on_it:             # (the run's own data: said above, of all its images)
            _warn_training_images(split, Path(run_dir), cfg, recorded, str(dc.data), log)
    if len(split.test_x) == 0:
        raise ConfigError(f"{dc.data}: unlabelled images: no test split to evaluate; pass labelled data (class "
                          f"folders, CIFAR-10, an .npz with labels) and its normal class with "
                          f"{option_words('--normal', 'normal=')}", split_problem=SPLIT_CLASSES)
    left_out = (split.info.get("skipped") or []) if data is not None else []
    if left_out:
        # other data's unreadable files (skip_bad) left out of its test split: said as training says its own data's
        # (eval.json alone listed them, and the counts changed without a word)
        _say(log, f"warning: {dc.data}: {len(left_out)} unreadable file{'s' if len(left_out) != 1 else ''} left out "
                  f"({skip_bad_option()}): {skipped_reasons(left_out)}")
    skipped = newly_skipped(split, recorded) if data is None else []
    if skipped:
        # one warning for one cause: the files, each with the part of the recorded split it was in (build_split drew
        # over them as if read), and what leaving them out changed (split_differences(skips_said) lists only the
        # differences they cannot account for). A file without a place (its reader did not list it: a decode cache
        # of an older wildgan) redraws a hold-out over the files read, which is another one
        were = split.info.get("skipped_were", {})
        redrawn = (split.info.get("test_source") == "hold-out" and any(s.get("path") not in were for s in skipped)
                   and split_summary(split)["test_ids_sha256"] != recorded.get("test_ids_sha256"))
        placed = [{**s, "reason": f"{s.get('reason') or s.get('path')} ({_WERE[were[s['path']]]})"}
                  if s.get("path") in were else s for s in skipped]
        msg = (f"warning: {dc.data}: {len(skipped)} file{'s' if len(skipped) != 1 else ''} unreadable since "
               f"{run_dir} was trained left out: {skipped_reasons(placed)}. The rebuilt split has "
               f"{len(split.train_x)} training and {len(split.test_x)} test images (split.json: "
               f"{recorded.get('n_train', '?')} and {recorded.get('n_test', '?')})" + (
                   "; its hold-out is drawn over the files read, so the test split is not the recorded one and "
                   "may contain training images" if redrawn else ""))
        if held is not None:
            held.hold(msg, [str(s.get("path")) for s in skipped], lambda m: _say(log, m))
        else:
            _say(log, msg)
    # (a split.json without normal_classes, of an older wildgan, is compared in full unless --normal is given)
    own_classes = normal is None or [str(c) for c in split.info.get("normal_classes") or []] == \
        recorded_normal_classes(recorded)
    # the data source's identity (data.source_identity) says whether another file or folder is at the recorded place,
    # or the file was edited: said after the differences it explains. The same training and test images from other
    # bytes (an .npz saved again) are not said: the split, which is what is evaluated, is the run's own
    replaced = source_replaced(recorded, split.info) if data is None else None
    restore = f". {replaced}: {restore_advice(split.info.get('source'))}" if replaced else ""
    changed = None
    if data is not None:
        diffs = []
    elif own_classes:
        diffs = split_differences(split, recorded, skips_said=bool(skipped))
    else:
        # another normal class of the run's own data: a split of the same images drawn otherwise by design, whose
        # counts and checksums differ from split.json's whether or not the data changed. Its test part is drawn as the
        # run's was (a test split, photo or stratified hold-out: none depends on the normal class), so only data that
        # changed can put training images in it: what the record says of the data alone, the images read (their count
        # and fingerprint: _read_change), is compared (less the files named above as unreadable since, as
        # split_differences counts them)
        changed = _read_change(split, recorded, len(skipped))
        if changed:
            if held is not None:
                held.say()
            _say(log, f"warning: {dc.data} changed since {run_dir} was trained ({changed}): the test split of normal "
                      f"{', '.join(map(str, split.info.get('normal_classes') or []))} may contain training images"
                      f"{restore}")
        diffs = []
    if diffs:
        msg = (f"warning: {dc.data or 'the data'} changed since {run_dir} was trained ({'; '.join(diffs)}): the "
               f"rebuilt test split is not the one recorded in split.json, and may contain training images")
        if held is not None:
            # held after the warning naming unreadable files (said first, as without held: these are the differences
            # those files cannot account for): the training scores of this split, finding the same differences, join
            # the threshold's consequence to it instead of listing them again in a warning of their own; what to do
            # about a replaced source (restore) still ends it
            held.hold_change(msg, diffs, lambda m: _say(log, m), tail=restore)
        else:
            _say(log, msg + restore)
    elif replaced and not changed and other_images_read(split.info, recorded, len(skipped)):
        # the run's training and test images, but other images read beside them (a class added, unused images
        # edited): the evaluation is of the run's own split, and the data is no longer what it was trained from
        _say(log, f"warning: {replaced}; the split rebuilt from it has the training and test images that split.json "
                  f"recorded (their ids and pixels), so what is evaluated is the run's own split, but other images "
                  f"read from it differ (split.json's read_fingerprint): {restore_advice(split.info.get('source'))}")
    return split


def other_data_depth16(recorded: dict[str, Any], depth16: str) -> str:
    """The depth16 rule `evaluate --data OTHER` reads OTHER's files by, for a run whose split.json is `recorded` and
    whose data section's rule is `depth16`: `wildgan score`'s (imageset.scoring_depth16), by the bit depth of the
    run's training images."""
    conv = recorded.get("conversion") if isinstance(recorded.get("conversion"), dict) else {}
    return scoring_depth16(depth16, conv.get("trained_depth"))


def reading_change(ev: dict[str, Any], recorded: dict[str, Any], depth16: str) -> str | None:
    """How the evaluation `ev` (an eval.json of other data) read its files of the other bit depth than the run's
    training images otherwise than evaluate reads them now, in words; None when it read them alike. Evaluate reads
    other data by other_data_depth16 since 92cfa84 and records that rule (eval.json's read_depth16) where it is not
    the run's own; an eval.json written before kept an 8-bit file of a run trained on 16-bit images as it was, and
    stretched a 16-bit file of a run trained on 8-bit ones, so its scores of those files are not what the networks
    give now. Only files of the other depth read otherwise: an evaluation whose data held none (its conversion
    counts, data.conversion.files_8bit / files_16bit) read every file as now, and one that did not count them cannot
    tell (None)."""
    now = other_data_depth16(recorded, depth16)
    if now == depth16:
        return None               # (the run's own rule: every evaluation read its data so)
    was = ev.get("read_depth16", depth16)
    if was == now:
        return None
    data = ev.get("data") if isinstance(ev.get("data"), dict) else {}
    conv = data.get("conversion") if isinstance(data.get("conversion"), dict) else {}
    eight = recorded["conversion"]["trained_depth"] == "16bit"     # (now != depth16: an 8-bit or 16-bit run)
    n = conv.get("files_8bit" if eight else "files_16bit")
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        return None
    s = "s" if n != 1 else ""
    if was != depth16:
        return (f"its {n} {'8' if eight else '16'}-bit file{s} read by depth16 {was}, not {now} as evaluate reads "
                f"them now")
    if eight:
        return (f"its {n} 8-bit file{s} kept as {'they were' if n != 1 else 'it was'} by an older wildgan, where "
                f"evaluate, as `wildgan score`, now reads 8-bit files for this run trained on 16-bit images on the "
                f"16-bit scale (value * 257) and stretches them as its training images were")
    return (f"its {n} 16-bit file{s} stretched each to its own min..max by an older wildgan, where evaluate, as "
            f"`wildgan score`, now reads 16-bit files for this run trained on 8-bit images by value / 257, as their "
            f"8-bit copies")


def _read_change(split: AnomalySplit, recorded: dict[str, Any], n_skipped: int) -> str | None:
    """What says that the images read for `split` are not those the run's split.json recorded, whichever class is
    normal; None when nothing does. The fingerprint of every image read with its id and class (read_fingerprint)
    tells an image replaced or relabelled under the same count; it is compared only when the record has one of this
    scheme, of images read at the shape they are read at now (a run trained without --resolution read them at their
    own size), and no file became unreadable since (n_skipped, said apart: those images are missing from the fingerprint
    anyway). Otherwise the count of images read, the one check of older records."""
    n_read, now = recorded.get("n_read"), split.info.get("n_read")
    if isinstance(n_read, int) and n_read - n_skipped != now:
        return f"images read {n_read} -> {now}"
    was, fingerprint = recorded.get("read_fingerprint"), split.info.get("read_fingerprint")
    if n_skipped or not isinstance(was, str) or not isinstance(fingerprint, str) or \
            not read_fingerprint_comparable(was, fingerprint) or was == fingerprint:
        return None
    # the same files can decode a level or so apart in another Pillow or libjpeg, or by another wildgan reader
    decoding = decoding_change(recorded)
    return (f"the same number of images, {now}, but not the same images, ids or classes: split.json's read_fingerprint "
            f"differs" + (f"; the decoding changed since, which alone can change pixels by a level: {decoding}"
                          if decoding else ""))


# where a file unreadable since training was in the run's split (AnomalySplit.info['skipped_were'])
_WERE = {"train": "a training image", "test": "a test image", "unused": "in neither the training nor the test set"}


def _say(log: Callable[[str], None] | None, msg: str) -> None:
    """A message for the user: to log, or as a Python warning when no log is given (library use)."""
    if log is None:
        warn_user(msg.removeprefix("warning: "))    # (a warning says so itself: not 'warning: warning: ...')
    else:
        log(msg)


# CONTROLS_CSV (data.eval_files), beside test_scores.csv: each test image's scores by the untrained networks
# (untrained_a, ...), its pixel controls (pixel_norm, pixel_std, pixel_mean) and, for a wildgan run, its scores with
# the other generator (G_a, ...)


# one file of an evaluation: (its name in the evaluation's folder, what writes it, or None where this evaluation has
# none: an earlier evaluation's file of that name is removed, lest it stand beside this one's eval.json as its own)
EvalFile = tuple[str, "Callable[[BinaryIO], object] | None"]


def write_evaluation(out_dir: Path, files: list[EvalFile], check: Callable[[], object] | None = None) -> None:
    """Write an evaluation's files into out_dir together (fileio.atomic_write_files): a failure in any of them (a
    full disk, a file that cannot be written) leaves every file of the earlier evaluation there as it was, none
    half-written, and no temp file. Renamed in the order given: the caller puts eval.json, the record, last, so that
    a new eval.json never stands beside an earlier evaluation's scores or latents. check(): called holding the
    folder, once every file is written and before the renames (atomic_write_files' before_renames); where it raises,
    nothing is replaced.

    A process killed outright while it wrote the temp files leaves them there (no clean-up runs after a kill): they
    are deleted first (data.eval_files.eval_temp_files), unless another process writes an evaluation into out_dir
    now, whose temp files they may be (fileio.writing_temps: every evaluation's write holds the folder while its temp
    files exist; `wildgan evaluate` takes no run lock, so two of one folder, or one beside a training, may write at
    once)."""
    out_dir = Path(out_dir)
    with writing_temps(out_dir, lambda: eval_temp_files(out_dir)):
        atomic_write_files([(out_dir / name, write) for name, write in files], before_renames=check)


def refuse_replaced_networks(run_dir: Path, model: LoadedModel, eval_json: Path, ev: dict[str, Any]) -> None:
    """CheckpointError when the checkpoint `model` was loaded from (its source) no longer holds the networks it
    scored (its sha256, as its JSON records it, another, or the file gone): the run was trained anew (`--overwrite`, a
    new training after it) or on (a --resume that wrote new final networks, a training that pruned the checkpoint)
    while the evaluation scored. Its files would land beside the new networks, the scores of the old ones. Called
    holding the evaluation's folder (write_evaluation's check), which a --overwrite's removal waits for; only the
    checkpoint's JSON is read (its weights' sha256), not the weights. ev: the eval.json that would be written at
    eval_json (for the command that evaluates again). Where a training is at work in the run (its lock held), the
    error says to evaluate once it has ended: its checkpoints replace one another, and an evaluation slower than a
    few of them (a search run's) met the same refusal each time it was run again."""
    from ..checkpoint import read_meta
    from ..errors import CheckpointError
    from ..training.run import check_lock_free, evaluate_command, networks_changed

    if model.source == UNTRAINED:
        return
    source = Path(model.source)
    try:
        changed = networks_changed(networks_record(model.meta), read_meta(source))
    except (WildganError, OSError):       # gone (removed by --overwrite, pruned), or not (yet) whole
        changed = f"{source} is gone or unreadable"
    else:
        if changed is None:
            return
        changed = f"it scored {changed}, not those of {source} now"
    cmd = evaluate_command(run_dir, eval_json, ev)
    try:
        check_lock_free(run_dir)
    except ConfigError:                   # (a training holds the run now)
        again = option_words(f"run `{cmd}` again", "call evaluate_run again")
        again = (f"A training is at work in the run now (its lock is held), whose checkpoints replace one another: "
                 f"{again} once it has ended, to evaluate its final networks")
    else:
        again = option_words(f"Run `{cmd}` again", "Call evaluate_run again") + " to evaluate the networks there now"
    raise CheckpointError(f"{run_dir}: the run's networks changed while this evaluation scored them ({changed}; the "
                          f"run was trained anew or on meanwhile): nothing was written, its results being of networks "
                          f"no longer the run's. {again}")


@dataclass(frozen=True)
class Controls:
    """The controls of a trained model's scores of some images (score_controls): the same scores by its untrained
    networks and the pixel statistics, each beside its AUC / AP. evaluate_model and the report's diagnose_run both
    take them from score_controls, so that eval.json's controls and the report's cannot come to differ."""

    untrained: dict[str, np.ndarray]     # score name -> [N], SCORE_NAMES order (no z_norm)
    pixel: dict[str, np.ndarray]         # pixel_norm, pixel_std, pixel_mean -> [N] (metrics.pixel_statistics)
    result: ScoreResult                  # the untrained networks' whole result (a search run keeps its latents)
    auc: dict[str, Any]                  # eval.json's 'controls': {'untrained': {score: AUC}, 'pixel_norm': AUC, ...}
    ap: dict[str, Any]                   # its 'controls_ap', likewise


# what each scoring of an evaluation (and of the report's diagnose step) says on its progress bar, beside the scoring
# code's own description: the three scorings of the same images drew bars alike, each a bare "score"
UNTRAINED_LABEL = "untrained networks, the control"


def generator_words(generator: str) -> str:
    """'raw G' or 'averaged Gs': which generator a scoring used, for its bar and its log line."""
    return "raw G" if generator == "G" else "averaged Gs"


def trained_label(model: LoadedModel) -> str:
    """The progress bar's label of `model`'s own scoring: its trained networks, and the generator it scores with
    (f-AnoGAN's has one generator, not a choice)."""
    if model.cfg.method == "fanogan":
        return "trained networks"
    return f"trained networks, {model.cfg.score.generator}"


def score_controls(model: LoadedModel, x_u8: np.ndarray, y: np.ndarray,
                   score: Callable[[LoadedModel], ScoreResult] | None = None) -> Controls:
    """The controls of `model`'s scores of the images x_u8 (labels y, 1 = anomaly): its untrained networks (the same
    architecture with the run's initial weights: untrained_model of its config, whose seed they are drawn with) and
    the pixel statistics. The untrained networks are scored at the trained ones' lod: a run stopped before full growth
    is scored at the resolution it reached, and its control must see the same reduced images, or a trained AUC is
    compared with networks of another resolution. score(untrained networks): how to score them (the report: with a
    search run's cached latents, its batch mode); default their score(x_u8)."""
    un_model = untrained_model(model.cfg, model.device)
    un_model.meta["lod"] = model.lod
    with progress_label(UNTRAINED_LABEL):
        un = score(un_model) if score is not None else un_model.score(x_u8)
    untrained = {k: un.scores[k] for k in SCORE_NAMES if k in un.scores}
    pixel = pixel_statistics(x_u8)
    mu, px = evaluate_scores(untrained, y), evaluate_scores(pixel, y)
    return Controls(untrained=untrained, pixel=pixel, result=un, auc={"untrained": mu["auc"], **px["auc"]},
                    ap={"untrained": mu["ap"], **px["ap"]})


@dataclass(frozen=True)
class OtherGenerator:
    """A wildgan run's scores with the generator it is not scored with (other_generator_scores): raw G beside Gs
    (or Gs beside G), which shows whether the EMA generator has caught up with the one E was trained against."""

    generator: str                       # "G" or "Gs"
    scores: dict[str, np.ndarray]        # score name -> [N], SCORE_NAMES order (no z_norm)
    auc: dict[str, Any]                  # score name -> AUC

    def record(self) -> dict[str, Any]:
        """eval.json's and the report's metrics.json 'other_generator': {'generator': ..., 'auc': {...}}."""
        return {"generator": self.generator, "auc": self.auc}


def other_generator(sc: ScoreConfig) -> str:
    """The generator a wildgan run is not scored with (score.generator's other one): 'G' beside 'Gs', and back."""
    return "G" if sc.generator == "Gs" else "Gs"


def other_generator_scores(model: LoadedModel, x_u8: np.ndarray, y: np.ndarray, *, progress: bool = False,
                           batch_mode: str = "mixed") -> OtherGenerator:
    """`model`'s (a wildgan run's) scores of x_u8 (labels y, 1 = anomaly) with its other generator than
    score.generator, and their AUCs. evaluate_model and the report's diagnose_run both take them from here, so that
    eval.json's other_generator and the report's cannot come to differ; progress, batch_mode: as model.score's."""
    other = other_generator(model.cfg.score)
    with progress_label(f"the other generator, {generator_words(other)}"):
        ro = model.score(x_u8, score_cfg=replace(model.cfg.score, generator=other), progress=progress,
                         batch_mode=batch_mode)
    scores = {k: ro.scores[k] for k in SCORE_NAMES if k in ro.scores}
    return OtherGenerator(generator=other, scores=scores, auc=evaluate_scores(scores, y)["auc"])


def control_columns(untrained: Mapping[str, np.ndarray] | None, pixel: Mapping[str, np.ndarray] | None
                    ) -> dict[str, np.ndarray]:
    """The controls' per-image scores by the names CONTROLS_CSV and by_class give them (untrained_a, ...,
    pixel_norm, ...); none where there are no controls (None or empty: --no-controls)."""
    return {**{f"untrained_{k}": v for k, v in (untrained or {}).items()}, **(pixel or {})}


def mean_latent_norms(z_norm: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """eval.json's and the report's mean_z_norm: the mean ||E(Q)|| of the normal (y == 0) and of the anomalous
    (y == 1) images, which both turn into "anomalies sit nearer to the origin" (the two sides swapped once passed
    every test)."""
    return {"normal": float(z_norm[y == 0].mean()), "anomalous": float(z_norm[y == 1].mean())}


def evaluate_model(model: LoadedModel, split: AnomalySplit, *, controls: bool = True, progress: bool = False,
                   out_dir: Path | None = None) -> dict[str, Any]:
    """AUC / AP of every score of `model` on the split's test images, the controls (untrained networks, pixel
    statistics) beside them, counts and timing; out_dir: where test_scores.csv, CONTROLS_CSV and test_latents.npy go
    (write_evaluation: all of them, or, where one cannot be written, none)."""
    out, files = _evaluate_model(model, split, controls=controls, progress=progress)
    if out_dir is not None:
        try:
            write_evaluation(Path(out_dir), files)
        except OSError as e:
            # e.g. someone else's read-only run: the numbers computed above are the result; losing them to a
            # side file that cannot be written would throw the whole scoring away
            warn_user(f"could not write the per-image scores into {out_dir} ({e}); its files are as they were, and "
                      f"the metrics are unaffected")
    return out


def _evaluate_model(model: LoadedModel, split: AnomalySplit, *, controls: bool, progress: bool
                    ) -> tuple[dict[str, Any], list[EvalFile]]:
    """evaluate_model's result, and the files that record it (test_scores.csv, ..., without eval.json), for the
    caller to write together: written one by one, a failure halfway left some files new and the rest an earlier
    evaluation's."""
    if split.test_classes is not None and len(split.test_classes) != len(split.test_y):
        # (before the scoring, which takes minutes on a CPU)
        raise ValueError(f"AnomalySplit.test_classes holds {len(split.test_classes)} class names for "
                         f"{len(split.test_y)} test images; give one per test image, in test_ids' order, or None")
    t0 = time.time()
    with progress_label(trained_label(model)):
        res = model.score(split.test_x, progress=progress)
    dt = time.time() - t0
    y = split.test_y.astype(int)
    trained = {k: res.scores[k] for k in SCORE_NAMES if k in res.scores}
    m = evaluate_scores(trained, y)
    z_norm = res.scores.get("z_norm")
    out: dict[str, Any] = {"auc": m["auc"], "ap": m["ap"]}
    # the per-image scores behind every other AUC eval.json holds (CONTROLS_CSV), so that each can be checked
    beside: dict[str, np.ndarray] = {}
    if model.cfg.method == "wildgan":
        # Spec 4.2/9.8: evaluate with Gs, and log the raw G as well. E was trained against G, and in short runs Gs
        # (EMA 0.999 per iteration) is still largely its random initialisation, so the two can differ a lot.
        # (a bar as the trained scoring's: a search run's takes as long, and was silent)
        og = other_generator_scores(model, split.test_x, y, progress=progress)
        beside.update({f"{og.generator}_{k}": v for k, v in og.scores.items()})
        out["other_generator"] = og.record()
    # a latent search is the slow part of a search run's evaluation: its latents are kept (SEARCH_CACHE) so that the
    # report rescores them in one pass instead of searching again
    search_cache: dict[str, np.ndarray] = {}
    if model.cfg.method == "search" and res.z is not None:
        search_cache.update(z=res.z, a=res.scores["a"])
    untrained: dict[str, np.ndarray] = {}
    pixel: dict[str, np.ndarray] = {}
    if controls:
        ctl = score_controls(model, split.test_x, y, lambda un_model: un_model.score(split.test_x, progress=progress))
        un = ctl.result
        if search_cache and un.z is not None:
            search_cache.update(z_untrained=un.z, a_untrained=un.scores["a"])
        untrained, pixel = ctl.untrained, ctl.pixel
        beside.update(control_columns(untrained, pixel))
        out["controls"] = ctl.auc
        out["controls_ap"] = ctl.ap
    # what the AUCs are worth on this many test images: a 95% interval each, and a paired test against every control
    # (the same images scored both ways), so that 'above its controls' is a measured claim, not a reading of digits
    out.update(auc_uncertainty(trained, y, untrained, pixel))
    out["n_test"] = int(len(y))
    out["n_anomalous"] = int(y.sum())
    out["n_train"] = int(len(split.train_x))   # the split's training part: the run's own for its own data
    out["n_train_anomalous"] = int(np.sum(split.train_is_anomaly))
    if z_norm is not None:
        out["mean_z_norm"] = mean_latent_norms(z_norm, y)
    lod = model.lod          # (f-AnoGAN's: 0, LoadedModel.lod, as the report's metrics.json records it)
    # networks_record: the weights' sha256 and training position, which a reader compares with the run's networks
    # as they are then (a --resume trains on after this evaluation: training.run.stale_evaluation)
    out["model"] = {"source": model.source, "method": model.cfg.method, **networks_record(model.meta),
                    "status": model.meta.get("status"), "lod": lod,
                    # a run stopped before full growth (e.g. by --minutes) is scored at the resolution it reached
                    "scored_resolution": int(model.cfg.net.resolution / 2 ** math.floor(lod))}
    out["score_config"] = res.info
    # the scoring rules: a reader tells numbers of other formulas apart (written above version 1 only, as every
    # record of scores: fileio.leave_out_defaults)
    out.update(leave_out_defaults({"scores_version": SCORES_VERSION}, SCORES_VERSION_ABSENT))
    out["score_seconds"] = dt
    out["score_images_per_s"] = len(y) / max(dt, 1e-9)
    # which anomalous classes each score catches and which it calls normal, where the data has classes: one AUC
    # over all the anomalies hides a class ranked below the normals (evaluation.by_class)
    classes = split.test_classes
    if classes is not None and y.any():
        rank_by = own_score(model.cfg.method)
        out["by_class"] = auc_by_class(
            y, classes, trained, rank_by if rank_by in trained else next(iter(trained)),
            controls=control_columns(untrained, pixel),
            order=[str(c) for c in split.info.get("class_names") or []])
    # (the run's own files, which write_scores_csv refuses to replace for a caller); each image's class last, so that
    # a reader of the columns before it reads the file as it did. Each written when the files are, not before: a
    # caller that writes none (write=False) makes none of their text
    ids = split.test_ids
    files: list[EvalFile] = [
        (SCORES_CSV, _text_writer(lambda: scores_csv_text(ids, res, y, extra={"class": classes}
                                                          if classes is not None else None))),
        # (data without classes: no table)
        (BY_CLASS_CSV, _text_writer(lambda: by_class_csv_text(out["by_class"])) if "by_class" in out else None),
        # 17 digits: the pixel statistics are float64, whose distinct values 9 digits could tie; none after
        # --no-controls of an f-AnoGAN or search run
        (CONTROLS_CSV, _text_writer(lambda: scores_csv_text(ids, {}, y, extra={
            k: [f"{v:.17g}" for v in a] for k, a in beside.items()})) if beside else None),
        (LATENTS_NPY, None if res.z is None else lambda f: np.save(f, res.z, allow_pickle=False)),
        (SEARCH_CACHE, (lambda f: f.write(search_cache_bytes(ids, res.info, search_cache))) if search_cache
         else None)]
    return out, files


def _text_writer(text: Callable[[], str]) -> Callable[[BinaryIO], object]:
    """A file writer of the text text() makes, in UTF-8 (surrogateescape, as fileio.atomic_write_text)."""
    return lambda f: f.write(text().encode("utf-8", "surrogateescape"))


def score_settings_changes(ev: dict[str, Any], cfg: RunConfig) -> list[str]:
    """The score/search settings of cfg (config.scoring_settings) that the evaluation `ev` (an eval.json) was scored
    with other values of, as 'score.lam: 0.2 -> 0.05'. Read from its score_config (the ScoreResult.info every
    eval.json holds), which names them without their section; one it does not hold is not compared."""
    info = ev.get("score_config")
    info = info if isinstance(info, dict) else {}
    now = scoring_settings(cfg)
    return scoring_changes({k: info[k.split(".")[1]] for k in now if k.split(".")[1] in info}, now)


# the search settings' generator as a cache kept before search_info named it is read (every such cache was searched
# with Gs unless score.generator was set to G): left out of the key when Gs, so that those caches, and an older
# wildgan reading this one's, are still used (fileio.leave_out_defaults)
SEARCH_INFO_ABSENT = {"generator": "Gs"}


def _ids_digest(ids: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(map(str, ids)).encode("utf-8", "surrogateescape")).hexdigest()


def search_cache_bytes(ids: list[str], info: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of OUT_DIR/SEARCH_CACHE, which a search run's evaluation writes with its other files (the files of
    _evaluate_model, written together by write_evaluation): the latents it found (trained networks: z, a; untrained
    control: z_untrained, a_untrained), with what they depend on (the test images' ids, the search settings). A plain
    npz (no pickles): read_search_cache loads it with allow_pickle=False. Its one writer: the tests write theirs with
    it too (tests/helpers/search_caches.py)."""
    import io

    meta = json.dumps(leave_out_defaults({"ids_sha256": _ids_digest(ids), "n": len(ids),
                                          "info": leave_out_defaults(info, SEARCH_INFO_ABSENT),
                                          "scores_version": SCORES_VERSION}, SCORES_VERSION_ABSENT),
                      sort_keys=True, default=str)
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(meta), **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def read_search_cache(out_dir: Path, ids: list[str], info: dict[str, Any], latent_size: int
                      ) -> tuple[dict[str, np.ndarray] | None, str]:
    """(the arrays an evaluation kept for these test images and search settings, "") or (None, why not): a
    damaged or foreign file is never an error, only a reason to search again. The caller checks the latents
    against its networks (rescoring them must give the kept scores)."""
    import zipfile

    path = out_dir / SEARCH_CACHE
    if not path.is_file():
        return None, f"no {SEARCH_CACHE} (evaluated before it was kept, or never evaluated)"
    if unmatched_beside(out_dir, (SEARCH_CACHE,)):
        return None, (f"{path} differs from what the evaluation of the {EVAL_JSON} beside it wrote (by the size and "
                      f"sha256 it records): {unmatched_why(1)}; `wildgan evaluate` writes both anew")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        return None, f"{path} is unreadable ({e})"
    if not isinstance(meta, dict):
        return None, f"{path} is not a search cache"
    want = json.loads(json.dumps(leave_out_defaults(info, SEARCH_INFO_ABSENT), sort_keys=True, default=str))
    n = len(ids)
    if meta.get("ids_sha256") != _ids_digest(ids) or meta.get("n") != n:
        return None, f"{path} was kept for other test images"
    # (a file from before the field was kept by the rules of its time); rescoring its latents would not tell another
    # search objective apart, only another score formula
    version = meta.get("scores_version", UNRECORDED_SCORES_VERSION)
    if version != SCORES_VERSION:
        return None, f"{path} was kept by the scoring rules of version {version}, this wildgan's are {SCORES_VERSION}"
    if meta.get("info") != want:
        return None, f"{path} was kept with other search settings ({meta.get('info')} against {want})"
    shapes = {"z": (n, latent_size), "a": (n,), "z_untrained": (n, latent_size), "a_untrained": (n,)}
    if "z" not in arrays or "a" not in arrays or ("z_untrained" in arrays) != ("a_untrained" in arrays) or any(
            k in arrays and (arrays[k].shape != shape or not np.issubdtype(arrays[k].dtype, np.floating))
            for k, shape in shapes.items()):
        return None, f"{path} does not hold {n} latents of size {latent_size} with their scores"
    return arrays, ""


def evaluate_run(run_dir: Path, data: str | None = None, *, device: str = "auto", controls: bool = True,
                 progress: bool = False, write: bool = True, log: Callable[[str], None] | None = None,
                 normal: str | tuple[str, ...] | None = None, whole: bool | None = None,
                 model: LoadedModel | None = None, own_split: AnomalySplit | None = None,
                 skip_bad: bool = False) -> dict[str, Any]:
    """AUC and AP of every score on the run's test set, plus the controls; writes eval.json + test_scores.csv.
    Warnings (e.g. the data changed since training) go to log (default: Python warnings) and to out['warnings']
    (so eval.json keeps them; the printed table does not repeat what log already said). `model`: the run's
    networks, when the caller has loaded them already (else loaded from run_dir). `own_split`: the run's own split
    as training built it (`wildgan train --evaluate`), used instead of rebuilding it from the data when `data` is
    None: the same split, without reading the data again (and repeating every warning about it). skip_bad: image
    files that are unreadable are left out (those unreadable since training named in a warning) instead of stopping
    the evaluation. progress: the bars of the decoding (a split rebuilt from the data) and of the scoring."""
    # (AUCs need every test image's label: a refusal of damaged ones, the run's data's or `data`'s, names mending
    # them, not dataset='unlabelled', an option of the Detector's and a DataConfig's, not evaluate_run's. Within
    # `wildgan evaluate` or run_study, the caller's setting stands: what the user called is named)
    # (evaluate_run takes no depth16=: a Python caller's refused image names the run's recorded rule, which reads
    # the run's data and, by scoring_depth16, other data. A command's words stand: `wildgan evaluate` names the
    # record already, `train --evaluate` and `study` their --depth16, which set that record)
    # (run_study's Python caller sets the rule by its base config's data.depth16=, errors.depth16_keyword_as: named as
    # its --depth16 is within `wildgan study`; it was told of the run's record, which it does not write itself)
    own = depth16_said() is not None or in_cli() or depth16_keyword() != DEPTH16_KEYWORD
    said = depth16_said() if own else RUN_DEPTH16
    with labels_needed_by("evaluate", "evaluate_run", unless_said=True), depth16_said_as(said):
        return _evaluate_run(run_dir, data, device=device, controls=controls, progress=progress, write=write,
                             log=log, normal=normal, whole=whole, model=model, own_split=own_split,
                             skip_bad=skip_bad)


def _evaluate_run(run_dir: Path, data: str | None, *, device: str, controls: bool, progress: bool, write: bool,
                  log: Callable[[str], None] | None, normal: str | tuple[str, ...] | None, whole: bool | None,
                  model: LoadedModel | None, own_split: AnomalySplit | None, skip_bad: bool) -> dict[str, Any]:
    """evaluate_run's work, within its labels_needed_by."""
    refuse_saved_detector(run_dir, "evaluate_run")
    run_dir = Path(run_dir)
    model = model if model is not None else load_model(run_dir, device)
    said: list[str] = []

    def note(msg: str) -> None:
        if not isinstance(msg, _SaidOnly):
            said.append(msg)
        _say(log, msg)

    if own_split is not None and data is None and normal is None and not whole:
        split = own_split
        if len(split.test_x) == 0:
            raise ConfigError(f"{run_dir}: no test split to evaluate")
    else:
        split = split_for_run(run_dir, data, log=note, normal=normal, whole=whole, skip_bad=skip_bad,
                              progress=progress)
    out_dir = evaluation_dir(run_dir, read_split_info(run_dir), split.info)
    out, files = _evaluate_model(model, split, controls=controls, progress=progress)
    if data is not None or out_dir != run_dir:
        # other data, or another normal class of the run's own: the training part of that split is no set the
        # networks ever trained on, so eval.json's training counts are the run's own (split.json's)
        recorded = read_split_info(run_dir)
        out["n_train"], out["n_train_anomalous"] = recorded.get("n_train"), recorded.get("n_train_anomalous")
        if recorded.get("protocol") == "unlabelled" or recorded.get("detector_input"):
            # split.json's 0 is "none injected": how many anomalies a pile holds is not known (a user's pile of 412
            # cells with 12 abnormal ones read "n_train_anomalous": 0), so null, as a study's rows allow
            out["n_train_anomalous"] = None
    if said:
        out["warnings"] = said
    out["run_dir"] = str(run_dir)
    out["data"] = split.info
    if data is not None:
        # the rule other data's files were read by, where it is not the run's own (split.info's conversion keeps the
        # run's): an eval.json without it, of files of the other depth, was read by an older rule (reading_change)
        rule = other_data_depth16(read_split_info(run_dir), model.cfg.data.depth16)
        if rule != model.cfg.data.depth16:
            out["read_depth16"] = rule
    if write:
        # each side file's size and sha256, taken as it is written, into eval.json (written after them): a reader
        # tells them from another evaluation's (data.eval_files.unmatched_side_files: one killed in its renames)
        written: dict[str, dict[str, Any]] = {}
        sides = [(name, None if w is None else digesting(w, name, written)) for name, w in files]

        def check() -> None:
            refuse_replaced_networks(run_dir, model, out_dir / EVAL_JSON, out)

        # first before anything is made (an eval-*/ folder that a --overwrite removed, not made again), then again
        # holding the folder, once the files are written (a --overwrite's removal waits for that hold)
        check()
        try:
            # eval.json, the record, last: renamed into place once every file beside it is this evaluation's, and
            # only while the networks scored are still the run's
            write_evaluation(out_dir, [*sides, (EVAL_JSON, _text_writer(
                lambda: json.dumps({**out, SIDE_FILES_FIELD: written}, indent=2, default=str)))], check=check)
            out[SIDE_FILES_FIELD] = written
            out["written_to"] = str(out_dir / EVAL_JSON)
        except OSError as e:
            # nothing replaced: an earlier evaluation there keeps its eval.json with its own scores and latents
            there = [name for name in EVAL_FILES if (out_dir / name).is_file()]
            kept = f"; {names_text(there)} there are an earlier evaluation's, as they were" if there else ""
            note(f"warning: could not write the evaluation into {out_dir} ({e}): the results are printed only{kept}")
    return out


def evaluation_dir(run_dir: Path, recorded: dict[str, Any], info: dict[str, Any]) -> Path:
    """Where an evaluation's eval.json / test_scores.csv go: the run folder for the run's own test split (what the
    report and the studies read), and RUN/eval-<data>[-<hash of its path>][-normal-<classes>][-whole]/ for other data
    or other normal classes of a run that has a test split of its own, which another evaluation must not overwrite.
    The split infos are compared (resolved source paths, the embedded sample wherever it lies, normal class names),
    not the arguments as typed. A run without a test split of its own (trained on an unlabelled pile, or by
    Detector.fit) keeps its latest evaluation in the run folder."""
    return _evaluation_dir(run_dir, recorded, info, dataset_file_stem)


def _earlier_stem(p: Path) -> str:
    """p's name as an eval- folder's name took it before evaluation_dir used dataset_file_stem: its own list of
    suffixes, stripped one after the other, kept .tar.bz2 and .tar.xz (eval-cells.tar.bz2-<hash>)."""
    stem = p.name
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".npz"):
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    return stem


def evaluation_dirs(run_dir: Path, recorded: dict[str, Any], info: dict[str, Any]) -> list[Path]:
    """evaluation_dir, then the folder an earlier wildgan gave the same evaluation where its name differs (an
    archive's .tar.bz2 or .tar.xz kept in it): where to look for what an evaluation kept (its search latents, read
    only: the earlier folder is neither renamed nor written), newest name first."""
    dirs = [evaluation_dir(run_dir, recorded, info)]
    earlier = _evaluation_dir(run_dir, recorded, info, _earlier_stem)
    return dirs + ([earlier] if earlier != dirs[0] else [])


def _evaluation_dir(run_dir: Path, recorded: dict[str, Any], info: dict[str, Any],
                    stem_of: Callable[[Path], str]) -> Path:
    """evaluation_dir, the data's part of the folder's name given by stem_of."""
    import hashlib
    import re

    own_protocol = recorded.get("protocol") != "unlabelled" and not recorded.get("detector_input")
    source = str(info.get("source"))
    # (the embedded sample is the same data at whatever path the installation that trained the run had it)
    same_data = same_data_source(source, recorded.get("source"))
    normal = [str(c) for c in info.get("normal_classes") or []]
    same_normal = normal == recorded_normal_classes(recorded)
    whole = info.get("test_size") == "whole"
    if not own_protocol or (same_data and same_normal and not whole):
        return run_dir
    stem = stem_of(Path(source))
    # two data sets of one name (a/x.npz, b/x.npz) must not share a folder
    slug = (stem + "-" + hashlib.sha256(source.encode()).hexdigest()[:6] if not same_data else "data") + \
        (f"-normal-{'+'.join(normal)}" if not same_normal else "") + ("-whole" if whole else "")
    return run_dir / ("eval-" + re.sub(r"[^A-Za-z0-9._+-]+", "_", slug).strip("_"))


def below_chance_hint(own: str, auc: dict[str, float], ci: dict[str, Any]) -> str | None:
    """A line for the table when the method's own score `a` ranks the anomalies below the normals (its whole 95%
    interval under 0.5) and the residual L_r ranks them better, and above chance: after a short training a, almost
    exactly the latent norm L_o, can still follow the pixels as an untrained encoder's does, and call a class of
    anomalies the most normal images of all (the red-blood-cell elliptocytes: AUC 0.004 under a, 1.000 under L_r;
    README, 'Which score after a short training'). The table's AUC alone did not say which score to read instead."""
    interval = ci.get(own) or (None, None)
    high = interval[1] if len(interval) == 2 else None
    if own != "a" or high is None or high >= 0.5 or "L_r" not in auc or not auc["L_r"] > auc[own]:
        return None
    # L_r is named as the score to rank and flag by only where it ranks above chance (its whole interval over 0.5,
    # or, without one, its AUC): better than a is not enough, an a of 0.30 beside an L_r of 0.45 was told to flag by
    # a score that also ranks the anomalies below the normals
    r_interval = ci.get("L_r") or (None, None)
    r_low = r_interval[0] if len(r_interval) == 2 else None
    if not (r_low > 0.5 if r_low is not None else auc["L_r"] > 0.5):
        return None
    how = option_words("wildgan score --score L_r", "Detector(score='L_r')")
    return (f"{own} ranks the anomalies below the normals (AUC {auc[own]:.3f}, 95% CI up to {high:.3f}): after a "
            f"short training its latent norm can still follow the pixels; the residual L_r ranks them at "
            f"{auc['L_r']:.3f} here ({how} ranks and flags by it; README, 'Which score after a short training')")


def format_table(result: dict[str, Any]) -> str:
    """Plain-text AUC/AP table with the controls beside every score."""
    auc, ap = result["auc"], result["ap"]
    ctl = result.get("controls", {})
    un = ctl.get("untrained", {})
    og = result.get("other_generator")
    # (an eval.json written before the intervals were kept has neither: its table is printed as it was)
    ci = result.get("auc_ci95") or {}
    vs = result.get("auc_vs_controls") or {}
    p_untrained = bool(un) and any("untrained" in vs.get(k, {}) for k in auc)
    lines = [f"{'score':<12}{'AUC':>8}" + (f"{'95% CI':>14}" if ci else "") + f"{'AP':>8}"
             + (f"{'AUC untrained':>15}" if un else "") + (f"{'p':>8}" if p_untrained else "")
             + (f"{'AUC with ' + og['generator']:>14}" if og else "")]
    for k in SCORE_NAMES:
        if k in auc:
            lines.append(f"{k:<12}{auc[k]:>8.3f}" + (f"{interval_text(ci.get(k)):>14}" if ci else "")
                         + f"{ap[k]:>8.3f}"
                         + (f"{un.get(k, float('nan')):>15.3f}" if un else "")
                         + (f"{p_text(vs.get(k, {}).get('untrained', {}).get('p')):>8}" if p_untrained else "")
                         + (f"{og['auc'].get(k, float('nan')):>14.3f}" if og else ""))
    if not ctl:
        again = option_words("run without --no-controls", "evaluate with controls=True")
        lines.append(f"(no controls: {again} to see the untrained networks and pixel statistics)")
    for k in ("pixel_norm", "pixel_std", "pixel_mean"):
        if k in ctl:
            # a control below 0.5 separates as well with its sign flipped: that is the baseline to beat
            flip = f"  (sign flipped: {1 - ctl[k]:.3f})" if ctl[k] < 0.5 else ""
            lines.append(f"{k:<12}{ctl[k]:>8.3f}" + (" " * 14 if ci else "")
                         + f"{result['controls_ap'][k]:>8.3f}{'(control)':>15}{flip}")
    # the method's own score (f-AnoGAN's A: its a is not what it ranks by)
    own = own_score(str((result.get("model") or {}).get("method")))
    against = pixel_tests_text(vs.get(own), flipped=" flipped")
    if against:
        lines.append(f"{own} minus each pixel control ({paired_test_text(vs)}): {against}")
    hint = below_chance_hint(own, auc, ci)
    if hint:
        lines.append(hint)
    # which anomalous classes the method's own score catches, beside the residual and its controls
    # (one line a class, for 2..20 classes: eval.json's by_class and auc_by_class.csv hold every score's)
    lines += by_class_lines(result.get("by_class"), [own, *(["L_r"] if own != "L_r" else []), "untrained_" + own,
                                                     "pixel_norm"])
    if ci:
        lines.append("95% CI: over the test images (DeLong logit + Newcombe score, evaluation.auc_ci)"
                     + (f"; p: {paired_test_text(vs)} of each AUC against its untrained control" if p_untrained
                        else "")
                     # (without the p column, --no-controls, the interval alone is left to say it of)
                     + (". Neither counts" if p_untrained else ". It does not count")
                     + " training's own spread (another seed), often the larger")
    info = result.get("data") or {}
    src = info.get("test_source")
    normal = info.get("normal_classes")
    n, k = result["n_test"], result["n_anomalous"]
    # AP's chance level is the share of anomalies, not 0.5 as AUC's is: 0.21 on a check set of 38 images, 8
    # anomalous, where an AP of 0.3 is little better than a random ranking
    chance = f"  (AP by chance: {k / n:.3f})" if isinstance(n, int) and isinstance(k, int) and n > 0 else ""
    lines.append(f"n_test={n}  n_anomalous={k}{chance}"
                 + (f"  normal: {', '.join(map(str, normal))}" if normal else "") + (f"  ({src})" if src else ""))
    m = result.get("model") or {}
    if (m.get("lod") or 0) > 0:
        lines.append(f"scored at lod {m['lod']:g} ({m['scored_resolution']}x{m['scored_resolution']}"
                     f"{', fading in' if m['lod'] % 1 else ''}): training stopped ("
                     # a checkpoint (a run still training, or interrupted) records no status: 'status None' before
                     + (f"status {m['status']}, " if m.get("status") is not None else "a checkpoint, ")
                     + f"{recorded_kimg_text(m.get('kimg'))} kimg) before the networks reached full resolution")
    if "mean_z_norm" in result:
        z = result["mean_z_norm"]
        # a search run has no encoder: its latent is the searched z*, whose norm L_o scores as the paper does E(Q)'s
        what = "||z*|| (searched)" if m.get("method") == "search" else "||E(Q)||"
        lines.append(f"mean {what}: normal {z['normal']:.3f}  anomalous {z['anomalous']:.3f}")
    return "\n".join(lines)
