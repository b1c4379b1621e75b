"""The cache of a run's training-set scores: RUN_DIR/train_scores.csv (id + every score) and train_scores.json (the
key: weights checksum, score protocol, data config), train_scores-isolated.* for batch mode 'isolated'. Thresholds
(`wildgan score --threshold`, Detector.from_run) and percentiles (train_percentile, the report) come from it, so a
stale cache must never be read: read_train_scores returns None unless its key matches the model as it is now. A
damaged one (its CSV cut short or holding a field that is not a number, rows missing against its key, the key
unreadable) is not read either, and is said, naming the file and the fault: scored again, and written anew whole
(fileio.atomic_write_text: a crash leaves the old file or the new one, never half of one).

Scores computed with --skip-bad (skip_bad=True) while files of the run's data had become unreadable leave those
files out: the key lists them ("skipped"), and such a cache is read only by a caller that skips too, so a threshold
is never silently taken from fewer training images than the run had; without --skip-bad the split is read again
(the error then names the files, or, once they are readable again, a complete cache replaces the partial one)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..config import SQUARE_OLD_NAMES, as_typed
# (the files' names and the CSV's layout, shared with the data layer's reader of its ids, splits.cached_fit_ids)
from ..data.train_score_files import (ID_COLUMN, TrainScoreTableError, read_train_score_text, split_train_score_table,
                                      train_score_header, train_score_names)
from ..errors import DataError, HeldWarning, WildganError, skip_bad_option, warn_user
from ..fileio import leave_out_defaults
from .scores import SCORES_VERSION, SCORES_VERSION_ABSENT, UNRECORDED_SCORES_VERSION


def score_key(model: Any, batch_mode: str, n: int | None = None) -> dict[str, Any]:
    """What the cached training scores depend on: the weights, the score protocol and the data."""
    from ..config import run_config_to_dict, to_dict

    d = run_config_to_dict(model.cfg)
    # scores_version only above 1: an older wildgan takes a key field it does not know for a change (stale cache)
    return leave_out_defaults({"scores_version": SCORES_VERSION, "weights_sha256": model.meta.get("sha256"),
            "source": Path(model.source).name,
            "lod": getattr(model, "lod", None),            # the level of detail scored at (recorded beside the weights)
            "batch_mode": batch_mode if model.cfg.method == "wildgan" else "n/a", "score": to_dict(model.cfg.score),
            "search": d["search"] if model.cfg.method == "search" else None, "data": d["data"],
            **({"n": n} if n is not None else {})}, SCORES_VERSION_ABSENT)


# Fields added to the training-score cache key (or to a config section in it) after keys were first written, by
# path: a key without them was written before they existed, when a run could only have had their defaults
# (scores_version: read_train_scores compares it first, a missing one as UNRECORDED_SCORES_VERSION;
# data.contamination_draw: the run's config.json of that time reads back as "choice", the rule it was drawn by).
KEY_FIELDS_ADDED = {(): {"lod", "scores_version"}, ("data",): {"square", "fit", "contamination_draw"}}
# Values renamed since keys were first written, by path: the same setting under its old name (data.square 'pad',
# --square letterbox's first name: config.SQUARE_OLD_NAMES), so that the rename leaves a run's cache valid
KEY_VALUES_RENAMED = {("data", "square"): SQUARE_OLD_NAMES}


def same_key(saved: dict[str, Any], now: dict[str, Any], path: tuple[str, ...] = ()) -> bool:
    """Whether a saved cache key describes the same scores as now. Only the fields in KEY_FIELDS_ADDED may be
    missing from the saved key (an older wildgan's cache stays valid, which matters for Detector.fit runs that
    cannot rebuild their training images); any other difference makes the cache stale."""
    added = KEY_FIELDS_ADDED.get(path, set())
    if set(now) - set(saved) - added or set(saved) - set(now):
        return False
    for k, v in saved.items():
        if isinstance(v, dict) and isinstance(now[k], dict):
            if not same_key(v, now[k], path + (k,)):
                return False
        elif (KEY_VALUES_RENAMED[path + (k,)].get(v, v) if path + (k,) in KEY_VALUES_RENAMED and isinstance(v, str)
              else v) != now[k]:
            return False
    return True


def cache_paths(run_dir: Path, batch_mode: str) -> tuple[Path, Path]:
    csv_name, key_name = train_score_names(batch_mode)
    return run_dir / csv_name, run_dir / key_name


def write_train_scores(run_dir: Path, model: Any, ids: Sequence[str], scores: dict[str, np.ndarray],
                       batch_mode: str, skipped: Sequence[dict[str, str]] = (), pixels: str | None = None) -> None:
    """Write RUN_DIR/train_scores.csv (id + every score, repr precision so thresholds are exact) and its key file
    (written last: it marks the cache as complete). skipped: the unreadable files of the run's data that these
    scores leave out (see the module docstring), recorded in the key. pixels: the checksum of the training pixels
    scored, where they are not those split.json recorded (see read_train_scores)."""
    import csv
    import io

    from ..data.run_temps import writing_shared_files
    from ..fileio import atomic_write_text

    run_dir = Path(run_dir)
    names = list(scores)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(train_score_header(names))
    for i, id_ in enumerate(ids):
        w.writerow([id_] + [repr(float(scores[k][i])) for k in names])
    csv_path, key_path = cache_paths(run_dir, batch_mode)
    key = {**score_key(model, batch_mode, len(ids)), **({"skipped": list(skipped)} if skipped else {}),
           **({"train_pixels_sha256": pixels} if pixels else {})}
    # holding the run folder (data.run_temps): `wildgan score --threshold` writes the cache without the run's lock,
    # so its temp files are told from a killed write's, and deleted, by this hold alone
    with writing_shared_files(run_dir):
        atomic_write_text(csv_path, buf.getvalue())
        atomic_write_text(key_path, json.dumps(key, indent=2))


class _Damaged(Exception):
    """Internal: a training-score cache file that cannot be what write_train_scores wrote (the reason)."""


def _read_scores_csv(path: Path, n: int, key_name: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """A train_scores*.csv as write_train_scores writes it -> (ids, {score: float64 [n]}), or _Damaged saying what
    is wrong with it (a line cut short, a field that is not a number, rows missing against its key's count n)."""
    text = read_train_score_text(path)
    try:
        header, rows = split_train_score_table(text)         # (as the data layer's reader of the ids checks it)
    except TrainScoreTableError as e:
        raise _Damaged(str(e)) from None
    if len(rows) != n:
        raise _Damaged(f"{len(rows)} row{'s' if len(rows) != 1 else ''}, where its key {key_name} records {n}")
    scores = {}
    for j, name in enumerate(header):
        if name in (ID_COLUMN, "label"):
            continue
        col = np.empty(len(rows), np.float64)
        for i, r in enumerate(rows):
            try:
                col[i] = float(r[j])
            except ValueError:
                raise _Damaged(f"line {i + 2}, column {as_typed(name)}: {as_typed(r[j])} is not a number") from None
        scores[name] = col
    return [r[0] for r in rows], scores


def _say_damaged(path: Path, why: str, damaged: list[str] | None) -> None:
    """Warn that a training-score cache file is damaged, naming it and what is wrong; damaged: the caller's list of
    reasons ('PATH: why'), which gets this one (run_training_scores' errors then say 'damaged', not 'missing or
    stale')."""
    if damaged is not None:
        damaged.append(f"{path}: {why}")
    warn_user(f"{path}: damaged ({why}): not used; the training images are scored again where they can be, and "
              f"the cache written anew (atomically: replaced whole or not at all)")


def _protocol_paths(run_dir: Path, model: Any, batch_mode: str) -> tuple[Path, Path]:
    """cache_paths of the protocol's cache as read_train_scores reads it (the CSV, its key)."""
    csv_path, key_path = cache_paths(run_dir, batch_mode)
    if model.cfg.method != "wildgan" and not (key_path.is_file() and csv_path.is_file()):
        # search and f-AnoGAN have one protocol (key batch_mode 'n/a'): a Detector.fit(batch_mode='isolated') of an
        # older wildgan cached it under the isolated name
        csv_path, key_path = cache_paths(run_dir, "mixed" if batch_mode == "isolated" else "isolated")
    return csv_path, key_path


def _current_key(csv_path: Path, key_path: Path, model: Any, batch_mode: str, pixels: str | None,
                 damaged: list[str] | None, say: bool) -> tuple[int, Any] | None:
    """(the row count, the left-out files) of a cache whose key matches the model as it is now (see
    read_train_scores), or None: missing, stale, or its key damaged or of other scoring rules, which with `say` is
    said in a warning (without it: a caller that only asks about the cache, after or before the read that says it)."""
    if not (key_path.is_file() and csv_path.is_file()):
        return None
    try:
        key = json.loads(key_path.read_text())
        if not isinstance(key, dict):
            raise ValueError("a JSON object expected")
        if "n" not in key:
            raise ValueError("it records no row count n")
        n = key.pop("n")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            # (a JSON file's value as JSON writes it, as evaluation.rows says a bad field: "5", not Python's '5')
            raise ValueError(f"its row count n is {json.dumps(n)[:40]}, not a whole number of rows")
    except (OSError, ValueError) as e:   # (json.JSONDecodeError and UnicodeDecodeError: ValueErrors)
        if say:
            _say_damaged(key_path, f"not a readable cache key: {e}", damaged)
        return None
    try:
        skipped = key.pop("skipped", [])
        if key.pop("train_pixels_sha256", None) != pixels:
            return None  # scores of other pixels than the caller's (split.json's where it gives none)
        version = key.get("scores_version", UNRECORDED_SCORES_VERSION)   # (a key from before the field: version 1)
        if version != SCORES_VERSION:
            # computed by other score formulas: said, since nothing else would tell why the scores are computed
            # again (or, for a run that cannot rebuild its training images, why its thresholds are gone)
            if say:
                warn_user(f"{csv_path}: computed by the scoring rules of version {version}, this wildgan's "
                          f"are version {SCORES_VERSION}: not used (the training images are scored again where they "
                          f"can be)")
            return None
        # (a key of this version that spells out the version 1 that score_key leaves out is the same key)
        saved = leave_out_defaults(key, SCORES_VERSION_ABSENT)
        now = json.loads(json.dumps(score_key(model, batch_mode)))
        if isinstance(saved.get("data"), dict) and "contamination_draw" not in now["data"]:
            # a clean run's key leaves out its draw rule, moot at gamma 0 (run_config_to_dict); one written before
            # that named it ("nested", or "choice" for a run recorded before the rule): the same scores
            saved["data"] = {k: v for k, v in saved["data"].items() if k != "contamination_draw"}
        if not same_key(saved, now):
            return None  # other weights, protocol or data: the cache is stale
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # (fields of the wrong kind, e.g. a list where a section was: not what write_train_scores wrote)
        if say:
            _say_damaged(key_path, f"not a readable cache key: {type(e).__name__}: {e}", damaged)
        return None
    return n, skipped


def cache_left_out(run_dir: Path, model: Any, batch_mode: str) -> list[dict[str, str]] | None:
    """The unreadable files that the protocol's training-score cache of this model leaves out (write_train_scores'
    "skipped": [] for none), or None where there is no current cache: missing, stale (its key checked as
    read_train_scores checks it), or damaged. Says nothing: for a caller that tells why a cache was not read (a
    left-out file is read only with skip_bad), whose read said what was wrong with it."""
    csv_path, key_path = _protocol_paths(Path(run_dir), model, batch_mode)
    got = _current_key(csv_path, key_path, model, batch_mode, None, None, say=False)
    return None if got is None else list(got[1]) if isinstance(got[1], list) else []


def read_train_scores(run_dir: Path, model: Any, batch_mode: str, ids: Sequence[str] | None = None,
                      skip_bad: bool = False, skip_option: str | None = None,
                      held: HeldWarning | None = None, pixels: str | None = None,
                      damaged: list[str] | None = None, say: bool = True) -> dict[str, np.ndarray] | None:
    """The cached training scores of this model and protocol, or None when missing, stale (other weights, score
    protocol or data than now: see score_key) or damaged; with `ids`, also None unless the cache's rows are those
    images in that order. A damaged cache (its key unreadable, or, under a key that matches, a CSV cut short or
    holding a field that is not a number, or fewer rows than its key records) is said in a warning naming the file
    and what is wrong, and its reason added to `damaged` (when given); a stale one, whose CSV is never read, is
    not. A cache that leaves unreadable files out is read only with skip_bad (or a run trained
    with it), and then says so in a warning, which names skip_bad as the caller's user gives it: skip_option (the
    CLI's --skip-bad; the Python API's skip_bad=True); held: see warn_left_out. A cache of training pixels other than
    split.json's (its key names them, train_pixels_sha256) is read only by a caller that rebuilt the split and gives
    that very checksum (pixels): any other takes the run's data to be split.json's, which it is not. say=False: no
    warning at all (for a caller that only asks whether the cache is there, before the read that says it)."""
    skip_option = skip_option or skip_bad_option()
    csv_path, key_path = _protocol_paths(run_dir, model, batch_mode)
    got = _current_key(csv_path, key_path, model, batch_mode, pixels, damaged, say=say)
    if got is None:
        return None
    n, skipped = got
    if skipped and not (skip_bad or model.cfg.data.skip_bad):
        return None  # not the whole training split: read again, the error names the files that stop it
    try:
        got_ids, scores = _read_scores_csv(csv_path, n, key_path.name)
    except OSError as e:
        if say:
            _say_damaged(csv_path, f"unreadable: {e.strerror or e}", damaged)
        return None
    except _Damaged as e:
        if say:
            _say_damaged(csv_path, str(e), damaged)
        return None
    if ids is not None and got_ids != [str(i) for i in ids]:
        return None      # the scores of other images than the caller's split (not damage: another split)
    if skipped and say:
        run_skips = bool(model.cfg.data.skip_bad)
        from .run import read_split_info

        info = read_split_info(run_dir)
        # (a Detector.fit trained on every image it read, as a pile's run does: its cache's left-out files were
        # training images, as run_training_scores said when it wrote them, not maybe test or unused ones)
        pile = info.get("protocol") == "unlabelled" or bool(info.get("detector_input"))
        warn_left_out(skipped, f"{csv_path}{'' if run_skips else f' (scored with {skip_option})'}", n, run_skips,
                      skip_option, pile, held)
    return scores


def warn_left_out(skipped: Sequence[dict[str, str]], where: str, n: int, run_skips: bool = False,
                  skip_option: str | None = None, pile: bool = True, held: HeldWarning | None = None) -> None:
    """Name the unreadable files that a run's training scores leave out (each, up to 10; the cache key lists all).
    run_skips: the run was trained with --skip-bad, so its training images are always read so (with or without
    --skip-bad now), and its cache of them is read as it is: advice about --skip-bad would be wrong. skip_option:
    skip_bad as the caller's user gives it (the CLI's --skip-bad; the Python API's skip_bad=True; None: the call's,
    errors.skip_bad_option). pile: the run was
    trained on an unlabelled pile, every file of which is a training image; a labelled run's file is one where the
    rebuild placed it (marked "part": "train" by newly_skipped), else it may have been a training, test or unused
    image, which a split rebuilt without it cannot tell (an older split.json). held: the warning of the run's
    rebuilt test split (split_for_run), which names the unreadable files it left out: this warning joins it when it
    leaves out some of those same files (one warning for one cause), referring to them there, not naming them a
    second time; one said already is referred to as above."""
    from ..data import skipped_reasons

    skip_option = skip_option or skip_bad_option()

    s = "s" if len(skipped) != 1 else ""
    new = [f for f in skipped if held is None or f.get("path") not in held.paths]
    above = len(skipped) - len(new)
    joined = bool(above) and held is not None and not held.said
    before = (("that file" if above == 1 else f"those {above} files") if joined
              else f"the {'file' if above == 1 else f'{above} files'} named above")
    named = "; ".join(([skipped_reasons(new)] if new else []) + ([before] if above else []))
    # (every file of a pile is a training image; a labelled run's only where the rebuild placed it: "part")
    training = pile or all(f.get("part") == "train" for f in skipped)
    what = (f"the training scores leave out {len(skipped)} unreadable {'' if pile else 'training '}file{s} of the "
            f"run's data ({n} images scored)"
            if training else f"{len(skipped)} unreadable file{s} of the run's data {'are' if s else 'is'} left out of "
            f"its rebuilt split (a training, test or unused image each, which the rebuild cannot tell; the training "
            f"scores are of the {n} training images read)")
    msg = f"{where}: {what}, so thresholds and percentiles come from those {n}: {named}. " + (
        f"The run was trained with {skip_option}, which leaves out what is unreadable whenever its "
        f"training images are read (delete its train_scores*.csv to score them again once readable)"
        if run_skips else f"Without {skip_option} they are read again (and scored once readable)")
    if joined and held is not None:
        held.say(f". {msg}", change=False)
    else:
        warn_user(msg)


def is_run_final(run_dir: Path, model: Any) -> bool:
    """Whether model holds the run's own current networks (its final networks, else its newest checkpoint), read
    from that very file: only those may write the run's training-score cache, which `wildgan score --threshold`
    reads. A checkpoint chosen by hand, or a saved Detector (even one saved inside the run folder), may not."""
    from ..checkpoint import read_meta
    from .run import final_checkpoint

    try:
        own = final_checkpoint(Path(run_dir))
        same_file = Path(model.source).resolve() == own.resolve()
        return same_file and read_meta(own).get("sha256") == model.meta.get("sha256")
    except (WildganError, OSError):
        return False


def run_training_scores(run_dir: str | Path, model: Any = None, *, batch_mode: str = "mixed", device: str = "auto",
                        progress: bool = False, write: bool | None = None, split: Any = None,
                        skip_bad: bool = False, skip_option: str | None = None,
                        held: HeldWarning | None = None) -> dict[str, np.ndarray]:
    """Every score of the run's own training split (build_split(cfg.data).train_x), computed once and cached in
    RUN_DIR/train_scores.csv (+ train_scores.json, the cache key: weights checksum, score protocol, data config);
    batch_mode='isolated' uses train_scores-isolated.{csv,json}. write: whether computed scores go into that cache
    (None: only for the run's own current networks, is_run_final). split: that very split, when the caller has
    built it already (`wildgan score` of the run's own test split, read with the same skip_bad): not decoded a second
    time. skip_bad: training files that have become unreadable are left out (named in a warning, listed in the
    cache key) instead of stopping the threshold; skip_option: how the caller's user gives skip_bad, as that warning
    names it (the CLI's --skip-bad; Detector: skip_bad=True; None: the call's, errors.skip_bad_option). held: the
    warning of that split's rebuild, naming the unreadable files it left out, which the warning about them here joins
    (see warn_left_out); said before the training split is scored. A Detector.fit run's training split is the
    folder or data-set file fit read, or the list of files it was given (its fit_ids.json), read again in fit's order
    and checked by its pixels (fit named the images by the paths it was given); one of a fit on in-memory images
    cannot be read again, and is refused, as is one on a list of files by a wildgan before fit_ids.json, unless a
    training-score cache of the run names them by absolute paths (_fit_files; relative ones, whose working directory
    nothing records, are refused wherever they are read from)."""
    from ..data import build_split, newly_skipped, skipped_reasons, split_differences, split_summary
    from ..data.splits import FIT_IDS_FILE, decoded_apart
    from ..data.decode_pool import unreadable_files_error
    from ..data.dataset_files import is_archive, labels_needed_by
    from ..data.readers import is_dataset_file, missing_run_data_error
    from ..data.replay import as_fit_read
    from ..data.source_identity import restore_advice, source_replaced
    from .run import load_model, read_split_info

    run_dir = Path(run_dir)
    skip_option = skip_option or skip_bad_option()
    model = model if model is not None else load_model(run_dir, device)
    damaged: list[str] = []            # (a damaged cache, said by read_train_scores: the errors below say so too)
    cached = read_train_scores(run_dir, model, batch_mode, skip_bad=skip_bad, skip_option=skip_option, held=held,
                               damaged=damaged)
    if cached is not None:
        if held is not None:
            # the rebuilt test split's warning that the data changed since training (split_for_run), if any: the
            # threshold does not follow the data, it comes from the scores of the images the networks trained on
            held.say_change(f"; the threshold and percentiles come from {cache_paths(run_dir, batch_mode)[0]}, the "
                            f"cached scores of the training images as {run_dir} was trained on them, not from the "
                            f"data as it is now")
        return cached
    info = read_split_info(run_dir)

    csv_path = cache_paths(run_dir, batch_mode)[0]

    def state() -> str:
        # what is wrong with the cache, as the errors below say it: damaged (said above by read_train_scores, the
        # CSV's reason, or its key's named); current but leaving out files unreadable when it was written, which
        # only skip_bad reads (not "missing or stale": it is there, and skip_bad is the way to it); else not there
        # or not of these networks
        if damaged:
            own = f"{csv_path}: "
            return f"is damaged ({damaged[0][len(own):] if damaged[0].startswith(own) else damaged[0]})"
        left = [] if skip_bad or model.cfg.data.skip_bad else cache_left_out(run_dir, model, batch_mode) or []
        if left:
            s = "s" if len(left) != 1 else ""
            return (f"was computed with {skip_option}, which left out {len(left)} file{s} unreadable by then (such a "
                    f"cache is read only with {skip_option})")
        return "is missing or stale"

    fit = bool(info.get("detector_input"))
    # the ids a Detector.fit gave its training images, read once here (fit_ids.json, else an older run's training-
    # score cache: tens of thousands of rows for a large fit), for all that needs them below: the list of files read
    # back, a folder's files named as fit named them, the files changed since, and the ids kept before the cache
    # is replaced
    fit_ids = _fit_ids(run_dir, info) if fit else None
    # a Detector.fit on a list of file paths: the files, as its fit_ids.json names them, or, for a run trained before
    # fit wrote that file, as its training-score cache does (one trained on images given in memory records none)
    listed = _fit_files(fit_ids) if fit and not model.cfg.data.data else None
    if listed is not None and listed.base is None:
        # paths relative to fit's working directory, which neither the cache nor fit_ids.json kept from it records:
        # read from this one, they may name other files (the pixel check would catch it, but the error would call
        # the run's files changed), and from the right one they were taken without a word of which directory counts
        kept = (f"only {listed.record} records (an older wildgan, before {FIT_IDS_FILE}), not the working "
                f"directory they are relative to" if listed.record.name != FIT_IDS_FILE else
                f"{listed.record} records without the working directory they are relative to (as where they were "
                f"kept from the training-score cache of an older wildgan, before {FIT_IDS_FILE}, which does not "
                f"record it)")
        raise DataError(f"{run_dir}: trained by Detector.fit on a list of files named by relative paths "
                        f"({_first_paths(listed.ids, 3)}), which {kept}; and {csv_path.name} {state()}: the training "
                        f"scores cannot be computed from the run alone; from the directory Detector.fit ran in, "
                        f"{_fit_again(run_dir)} (and records the files in {FIT_IDS_FILE})")
    if fit and not model.cfg.data.data and listed is None:
        # A Detector.fit on arrays records no place to read them from; a fit on a folder or a data-set file records
        # its absolute path, and one on a list of files the files, and is read back below (in the order fit read
        # it: build_split follows split.json's train_order), its pixels checked against split.json's as any run's are
        src = str(info.get("source") or "in-memory images")
        raise DataError(f"{run_dir}: trained by Detector.fit on images given in memory ({src}), which the run "
                        f"cannot read again, and {csv_path.name} {state()}: the training scores cannot be computed "
                        f"from the run alone; {_fit_again(run_dir)}")
    data = model.cfg.data
    if fit:
        # a fit of an earlier wildgan on a data-set file recorded dataset 'auto', which reads a labelled one by its
        # protocol (a normal class asked for, CIFAR-10's automobile alone): fit read every image (as_fit_read)
        data = (as_fit_read(model.cfg, run_dir / "config.json", note=lambda _: None) or model.cfg).data
    data = replace(data, skip_bad=True) if skip_bad else data
    # (a list's files named in the errors below as the files fit was given: the list itself is nowhere else)
    files_of = f"the files Detector.fit was given (listed in {listed.record if listed else run_dir / FIT_IDS_FILE})"
    try:
        # (a labelled run's training split is chosen by its labels: a refusal of damaged ones (a batches.meta without
        # label_names) names mending them, and the warning about a class-folder tree's images beside its class folders
        # says they are left out, as the run's training left them out; neither names dataset='unlabelled', an option
        # of a Detector's and a DataConfig's, not run_training_scores'. A caller's own setting stands: `wildgan
        # score`'s, `wildgan export`'s, export_onnx's, Detector.from_run's)
        with labels_needed_by("score", "run_training_scores", unless_said=True):
            if split is None and listed is not None and listed.base is not None:
                split = _read_fit_files(listed.ids, listed.base, model, info, bool(data.skip_bad), files_of)
            split = build_split(data, recorded=info) if split is None else split
    except DataError as e:
        name = cache_paths(run_dir, batch_mode)[0].name
        bad = getattr(e, "unreadable", None)     # unreadable files: said with skip_bad as the caller's user gives it
        # data moved since training: the bare 'PATH: no such file or folder' said nothing of where that path came
        # from or that linking the data's new place there is the way back (the report and evaluate say so too)
        gone = None if bad else missing_run_data_error(model.cfg.data.data, run_dir)
        why = unreadable_files_error(bad, skip_option) if bad else (gone or e)
        raise DataError(f"{run_dir / name} {state()}, and computing the training scores again needs the "
                        f"run's training images: {why}") from None
    other_images, now = None, None
    # a fit names its images by the paths it was given, this read of its folder by their place in it: the same
    # images under other ids, compared by their count, shape and pixels in order (what the networks learn from), as a
    # resume of a fit's run compares them (training.run._without_fit_ids)
    split = _named_as_fit(split, info, fit_ids) if fit and listed is None else split
    recorded = {k: v for k, v in info.items() if k != "train_ids_sha256"} if fit else info
    if info:
        # (what files unreadable since training account for is said once, by the warning below that names them)
        now = split_summary(split)        # (hashes every pixel: once, for both comparisons and the cache key)
        diffs = split_differences(split, recorded, skips_said=True, now=now)
        # the training part read now is not the one split.json recorded: refused where the files changed (below);
        # where only their decoding did (pixels a level apart under another Pillow, the same files), warned, and
        # cached under these pixels' checksum only: read by this comparison alone, never by a threshold or report
        # that takes the data for split.json's, nor once the data is restored; and not scored again at each
        # threshold while the data stays as it is now
        where = split.info.get("source") or model.cfg.data.data or "the data"
        train_diffs = split_differences(split, recorded, train_only=True, skips_said=True, now=now)
        if train_diffs and decoded_apart(split, recorded, now, skips_said=True) is None:
            # other images than the networks were trained on (added, removed, replaced or edited since): scores of
            # images the networks never saw, maybe the very ones being scored, would set the threshold, and where the
            # run's cache is present it is the trained-on images' that do (above): one command, two thresholds.
            # Refused, as a resume on them is; only another decoding of the same files goes on (below)
            gone = newly_skipped(split, info, training=True)
            new = [f for f in gone if held is None or f.get("path") not in held.paths]
            above = len(gone) - len(new)
            # (said after the differences' parenthesis, not in it: a reader's reason may have one of its own)
            left_out = (f". {len(new)} unreadable, left out: {skipped_reasons(new)}" if new else "") + \
                (f". The unreadable file{'s' if above > 1 else ''} named above {'are' if above > 1 else 'is'} left "
                 f"out" if above else "")
            if held is not None:
                held.drop_change()       # (the error lists the same differences)
                held.say()               # the file named above: named before the error that refers to it
            # another file or folder at the recorded place (data.source_identity): which, and where to put it back
            replaced = source_replaced(info, split.info)
            names_them = listed.record.name if listed else FIT_IDS_FILE
            fix = (f"{replaced}: {restore_advice(split.info.get('source'))}" if replaced else
                   f"Restore those files as they were when {run_dir} was trained ({names_them} names them, "
                   f"split.json records their pixel checksums), or train a run on the data as it is now"
                   if listed is not None else
                   f"Restore {where} as it was when {run_dir} was trained (split.json records its image ids and "
                   f"pixel checksums), or train a run on the data as it is now")
            # (by name for a folder's or an archive's files only: an array data set's images are places in it, which
            # a shorter array renumbers, and an .npz that lost its first image had "1 trained-on file not there now:
            # d:x:23" said of it)
            by_name = fit and (not is_dataset_file(where) or is_archive(Path(where)))
            files = _files_changed(fit_ids, split, where, {str(f.get("path")) for f in gone}) if by_name else []
            if fit and listed is None and not files and \
                    all(now.get(k) == info.get(k) for k in ("n_train", "resolution", "channels")):
                # the same number of images, other pixels: read here by the pile's reader, not by fit's, which reads
                # by the Python API's rules (a float .npz by its pixel range, say), which this one may not repeat.
                # Not where files are named gone and added (one renamed, say): "if it is unchanged" denied the list
                fix += (f". {run_dir} was trained by Detector.fit, whose reading of {where} this one may not repeat: "
                        f"if it is unchanged, {_fit_again(run_dir)}")
            if files:
                # which files: "n_train 24 -> 23" alone left the user to find the one gone among the folder's. Their
                # pixels then differ too, which says nothing more (as split_differences leaves them out where the
                # ids differ), and its note on them ("edited in place under the same names") would mislead
                rest = {k: v for k, v in recorded.items() if k != "train_pixels_sha256"}
                train_diffs = split_differences(split, rest, train_only=True, skips_said=True, now=now)
                train_diffs[1 if train_diffs and train_diffs[0].startswith("n_train ") else 0:0] = files
            raise DataError(f"{where} changed since {run_dir} was trained ({'; '.join(train_diffs)}), and "
                            f"{csv_path}, the scores of the training images it was trained on, {state()}: "
                            f"thresholds and percentiles come from the images the networks were trained on, which "
                            f"are not there any more{left_out}. {fix}")
        if train_diffs:
            other_images = now["train_pixels_sha256"]
        if diffs:
            # (only the test images changed: the training images are the recorded ones, and "as they are now" would
            # say that they changed too)
            then = ("the threshold is taken from the training images as they are now" +
                    (f" ({len(split.train_x)} of them, split.json: {info.get('n_train', '?')}), their scores cached "
                     f"for these pixels only" if other_images else "") if train_diffs else
                    "the training images are those it was trained on, and the threshold comes from them")
            if held is not None and held.holds_change(diffs):
                # the rebuilt test split's warning of the same differences (split_for_run): one warning, both
                # consequences (the list said twice read as two changes); which file is at the recorded place now
                # already ends that warning
                held.say_change(f"; and {then}")
            else:
                # (which file is at the recorded place now, where it is not the one read: data.source_identity)
                replaced = source_replaced(info, split.info)
                warn_user(f"{where} changed since {run_dir} was trained ({'; '.join(diffs)}): {then}" +
                          (f". {replaced}: {restore_advice(split.info.get('source'))}" if replaced else ""))
    write = is_run_final(run_dir, model) if write is None else write
    # (not a test image or a file added since: the training scores leave out nothing, and their cache is whole)
    skipped = newly_skipped(split, info, training=True)
    if skipped:
        warn_left_out(skipped, f"{run_dir}", len(split.train_x), bool(model.cfg.data.skip_bad), skip_option,
                      info.get("protocol") == "unlabelled" or fit, held)     # (fit trains on every image)
    if held is not None:
        # the rebuilt split's warning, where nothing here joined it (its files were no training images): said before
        # the scoring's progress bar, not after the whole training split is scored
        held.say()
    if other_images:
        cached = read_train_scores(run_dir, model, batch_mode, ids=split.train_ids, skip_bad=skip_bad,
                                   skip_option=skip_option, pixels=other_images)
        if cached is not None:
            return cached
    scores = score_training_split(run_dir, model, split, batch_mode=batch_mode, progress=progress, write=False)
    if write:
        if fit and not _keep_fit_ids(run_dir, fit_ids):
            return scores
        try:
            write_train_scores(run_dir, model, split.train_ids, scores, batch_mode, skipped, other_images)
        except OSError as e:
            # a cache only: a run folder on a read-only file system (or full) still gives its threshold
            warn_user(f"could not cache the training scores in {run_dir} ({e}); they are computed again next time")
    return scores


def _fit_again(run_dir: Path) -> str:
    """The way to a Detector.fit run's training scores where the run cannot give them: fit's resume scores its
    training images and writes their caches, training nothing more where the run is finished."""
    return (f"Detector(..., run_dir={str(run_dir)!r}).fit(X, resume=True), with the same parameters and images X, "
            f"writes them again")


class FitIds(NamedTuple):
    """The ids a Detector.fit gave its training images, as the run records them (_fit_ids). ids: in fit's order.
    cwd: the working directory relative ones are relative to, where recorded (fit_ids.json's; a cache records none).
    record: the file they were read from, fit_ids.json or, for a run trained before fit wrote it, a training-score
    cache (data.splits.cached_fit_ids)."""
    ids: list[str]
    cwd: str | None
    record: Path


def _fit_ids(run_dir: Path, info: dict[str, Any]) -> FitIds | None:
    """The ids a Detector.fit gave its training images (FitIds): from the run's fit_ids.json (data.splits.
    read_fit_ids), else, for a run trained before fit wrote it, where a training-score cache of the run still holds
    them (data.splits.cached_fit_ids). None where neither does. Each file read once, by run_training_scores, which
    hands what was read to all that needs it (_fit_files, _named_as_fit, _files_changed, _keep_fit_ids): the caches
    of a large fit hold tens of thousands of rows."""
    from ..data.splits import FIT_IDS_FILE, cached_fit_ids, read_fit_ids

    got = read_fit_ids(run_dir, info)
    if got is not None:
        return FitIds(got[0], got[1], Path(run_dir) / FIT_IDS_FILE)
    cached = cached_fit_ids(run_dir, info)
    return FitIds(cached[0], None, cached[1]) if cached is not None else None


def _keep_fit_ids(run_dir: Path, fit_ids: FitIds | None) -> bool:
    """data.splits.keep_cached_fit_ids before a Detector.fit run's training-score cache is replaced by a re-score
    (whose rows may be under the reader's ids: a file left out as unreadable stops them being named as fit named
    them), from the ids already read (_fit_ids): written to fit_ids.json where a training-score cache was their only
    record. Returns whether the cache may be replaced: not where the ids could not be written (said)."""
    from ..data.splits import FIT_IDS_FILE, write_cached_fit_ids

    if fit_ids is None or fit_ids.record.name == FIT_IDS_FILE:
        return True          # (none recorded, or fit_ids.json holds them already)
    try:
        write_cached_fit_ids(run_dir, fit_ids.ids)
    except OSError as e:
        warn_user(f"could not write {run_dir / FIT_IDS_FILE} ({e}): the training scores are not cached, as the "
                  f"old cache in {run_dir} holds the only record of the ids Detector.fit gave its training images")
        return False
    return True


def _files_changed(fit_ids: FitIds | None, split: Any, where: str, unreadable: set[str], shown: int = 5
                   ) -> list[str]:
    """The files a Detector.fit trained on that are gone from its folder, and those found there that it did not
    train on, as items of a list of differences (the first `shown` of each, and how many more); none where the run
    no longer holds fit's ids (fit_ids: _fit_ids' read of them, None). split: the folder's images as its reader
    names them (relative to it), which fit named by the path it was given joined to each: that path is found as the
    part of the recorded ids before an id read now, the one most of them share (the folder's absolute path or one
    relative to the caller's directory). `unreadable`: paths left out as unreadable, which the caller names with
    their reasons."""
    if fit_ids is None:
        return []
    recorded = fit_ids.ids
    read_ids = split.train_ids
    if split.info.get("fit_files"):
        # a fit on a list of files, read back from that list (_read_fit_files): none added, the ones not read gone,
        # named where they were (a relative one under fit's working directory)
        listed = _fit_files(fit_ids)
        base = listed.base if listed else None
        now_read = set(read_ids)
        lost = [str(base / r) if base else r for r in recorded if r not in now_read]
        # (one there but unreadable, left out under skip_bad, is named by the read's warning, not as gone)
        lost = [p for p in lost if p not in unreadable and not Path(p).is_file()]
        return [f"{len(lost)} trained-on file{'s' if len(lost) != 1 else ''} not there now: "
                f"{_first_paths(lost, shown)}"] if lost else []
    now = set(read_ids)
    # the place most recorded ids are found under, not the first id's: a file moved up a folder (000/x.png to x.png),
    # read first, put it at pngs/000, and every other trained-on file was then said gone and added again
    votes: Counter[Path] = Counter()
    for r in recorded:
        parts = Path(r).parts
        votes.update(Path(*parts[:k]) for k in range(len(parts)) if Path(*parts[k:]).as_posix() in now)
    prefix = votes.most_common(1)[0][0] if votes else None

    def as_read(r: str) -> str:
        try:
            return Path(r).relative_to(prefix).as_posix() if prefix is not None else r
        except ValueError:
            return r

    trained = [as_read(r) for r in recorded]
    kept = set(trained)
    # named in the folder, as the files added are: a fit given a relative path recorded ids relative to its own
    # working directory ("pngs/007.png"), which need not be the caller's
    gone = [str(Path(where) / t) if t != r else r for r, t in zip(recorded, trained)
            if t not in now and r not in unreadable and str(Path(where) / t) not in unreadable]
    new = [str(Path(where) / i) for i in read_ids if i not in kept]

    def listed(paths: list[str], what: str) -> list[str]:
        return [f"{len(paths)} {what}: {_first_paths(paths, shown)}"] if paths else []

    return (listed(gone, f"trained-on file{'s' if len(gone) != 1 else ''} not there now") +
            listed(new, f"file{'s' if len(new) != 1 else ''} not trained on"))


def _first_paths(paths: list[str], shown: int = 5) -> str:
    """The first `shown` paths, comma-separated, and how many more ('a, b and 3 more')."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return f"{', '.join(paths[:shown])}{more}"


def _named_as_fit(split: Any, info: dict[str, Any], fit_ids: FitIds | None) -> Any:
    """A Detector.fit's training images read back from its folder (`split`), under the ids fit gave them, so that
    its cache is written as fit wrote it: where the run holds fit's ids (fit_ids: _fit_ids' read of them) and each,
    in order, is the id read now under the path fit was given (absolute or relative, whichever working directory it
    was relative to), or, for a run without them, where split.json's checksum of those ids says they are the
    recorded source's path joined to each image's place in it (a fit given the folder's absolute path). Any other
    keeps the reader's ids."""
    from ..data.splits import ids_sha256

    recorded = fit_ids.ids if fit_ids is not None else None
    if recorded is not None and len(recorded) == len(split.train_ids) and \
            all(_same_file(r, i) for r, i in zip(recorded, split.train_ids)):
        return replace(split, train_ids=list(recorded))
    src = info.get("source")
    if not isinstance(src, str) or not Path(src).is_absolute() or not split.train_ids:
        return split
    ids = [str(Path(src) / i) for i in split.train_ids]
    return replace(split, train_ids=ids) if ids_sha256(ids) == info.get("train_ids_sha256") else split


def _same_file(fit_id: str, read_id: str) -> bool:
    """Whether fit's id of an image (the path it was given joined to the file's place) names the file a reader of
    that folder names read_id (its place in the folder): the same, or read_id's path ends it."""
    theirs, ours = Path(fit_id).parts, Path(read_id).parts
    return fit_id == read_id or 0 < len(ours) <= len(theirs) and theirs[len(theirs) - len(ours):] == ours


class FitFiles(NamedTuple):
    """The files a Detector.fit on a list of file paths trained on (_fit_files). ids: as fit named them, in its order.
    base: the folder relative ones are relative to (fit's working directory, where recorded; this one where every
    id is absolute, which reads back from any), None where some are relative and nothing records that directory:
    such ids name no file for sure, and are refused (run_training_scores). record: the file they were read from,
    fit_ids.json or, for a run trained before fit wrote it, a training-score cache (data.splits.cached_fit_ids)."""
    ids: list[str]
    base: Path | None
    record: Path


def _fit_files(fit_ids: FitIds | None) -> FitFiles | None:
    """The files a Detector.fit on a list of file paths trained on (FitFiles), from the ids the run records
    (fit_ids: _fit_ids' one read of its fit_ids.json, else, for a run trained before fit wrote it, of a training-score
    cache that holds them, checked against split.json's checksum of fit's ids and their count); or None where the
    run holds none (a run trained on images given in memory, whose ids name no file: arrays, PIL images). Relative
    ids whose working directory is not recorded (a cache's, or a fit_ids.json that kept them from one: data.splits.
    keep_cached_fit_ids) get base None, wherever they came from."""
    from ..data.splits import IN_MEMORY_ID

    # (a list that mixed arrays or PIL images with paths: those images cannot be read back)
    if fit_ids is None or not fit_ids.ids or any(IN_MEMORY_ID.fullmatch(i) for i in fit_ids.ids):
        return None
    ids, cwd, record = fit_ids
    if cwd is not None:
        return FitFiles(ids, Path(cwd), record)
    # (relative to no recorded directory: read from the current one, they would name whatever files are found there)
    return FitFiles(ids, Path.cwd() if all(Path(i).is_absolute() for i in ids) else None, record)


def _read_fit_files(ids: list[str], base: Path, model: Any, info: dict[str, Any], skip_bad: bool, where: str
                    ) -> Any:
    """The training split of a Detector.fit on a list of file paths, read back from those files (ids: as fit named
    them; relative ones under `base`), in fit's order, by fit's own reader (data.inputs.decode_items, converted by
    the run's resolution, channels, resize rule and bit-depth rule: its data config), under fit's ids. A file not
    there now is left out, for the comparison with split.json to name it (_files_changed); an unreadable one stops
    the read (skip_bad: left out, recorded as a folder's read records it, info 'skipped', for the training scores'
    warning to name it and the comparison to account for it)."""
    from ..data import AnomalySplit, skipped_reasons
    from ..data.inputs import convert_items, decode_items, refit

    data = model.cfg.data
    at = {str(base / i): i for i in ids}
    there = [p for p in at if Path(p).is_file()]
    skipped: list[dict[str, str]] = []
    if not there:
        # named as a single file gone is (_files_changed): a count alone said neither which files nor where their
        # list is, and a moved folder is found by its old paths
        raise DataError(f"none of {where} is there now ({len(at)} file{'s' if len(at) != 1 else ''}: "
                        f"{_first_paths(list(at))}): put them back at those paths (or link their new place there)")
    while True:
        if not there:
            # every file still there left out as unreadable (skip_bad): not gone, which the advice above would say
            gone = len(at) - len(skipped)
            raise DataError(f"none of {where} is readable now ({len(skipped)} unreadable: "
                            f"{skipped_reasons(skipped)}{f'; {gone} not there' if gone else ''})")
        try:
            # (read without decode_items' own skip_bad, whose warning names no reason a split can record)
            items, read = decode_items(there, data.depth16, skip_bad=False, stats={}, limit=data.resolution,
                                       fit=data.fit, channels=data.channels)
            break
        except DataError as e:
            # the unreadable files, each 'PATH: why' (at most a few per read: read again without them)
            bad = getattr(e, "unreadable", None) or []
            out = [(p, why) for why in bad for p in there if why.startswith(f"{p}: ")]
            if not skip_bad or not out:
                raise
            gone = {p for p, _ in out}
            skipped += [{"path": p, "reason": why} for p, why in out]
            there = [p for p in there if p not in gone]
    refit(items, data.resolution, data.depth16, data.fit, data.channels)
    x = convert_items(items, data.resolution, data.channels, data.fit)
    # (decode_items names each file as listed: a path given is kept as it is, so each maps back to fit's id)
    ids_read = [at.get(r, at.get(str(Path(r)), r)) for r in read]
    split_info = {"source": where, "detector_input": True, "fit_files": True, "protocol": info.get("protocol"),
                  "train_order": info.get("train_order"), **({"skipped": skipped} if skipped else {})}
    return AnomalySplit(x, np.zeros(len(x), np.int8), ids_read, x[:0], np.zeros(0, np.int8), [], data.resolution,
                        data.channels, split_info)


def has_train_scores(run_dir: str | Path, model: Any, split: Any, batch_mode: str = "mixed") -> bool:
    """Whether RUN_DIR's training-score cache already holds this model's scores of split.train_x, as
    score_training_split would write them: its key matches (the weights' sha256, score protocol, data config: see
    score_key), its rows are split.train_ids in order, and it leaves no file out (score_training_split's never does).
    A --resume of a finished run keeps the same weights (the sha256 of network-final's safetensors), so its training
    images need no second scoring. The key does not name the pixels: a resume whose training pixels are not the ones
    split.json recorded (another decoder) removes the caches before it records the new ones (training.run)."""
    _, key_path = cache_paths(Path(run_dir), batch_mode)
    try:
        if "skipped" in json.loads(key_path.read_text()):
            return False
    except (OSError, ValueError, TypeError):
        return False
    return read_train_scores(Path(run_dir), model, batch_mode, ids=split.train_ids) is not None


def score_training_split(run_dir: str | Path, model: Any, split: Any, *, batch_mode: str = "mixed",
                         progress: bool = False, write: bool = True,
                         skipped: Sequence[dict[str, str]] = (), pixels: str | None = None) -> dict[str, np.ndarray]:
    """Score a run's training split (data.AnomalySplit) and (write=True) cache the scores in
    RUN_DIR/train_scores.csv (skipped, pixels: see write_train_scores)."""
    res = model.score(split.train_x, batch_mode=batch_mode, progress=progress)
    if write:
        write_train_scores(Path(run_dir), model, split.train_ids, res.scores, batch_mode, skipped, pixels)
    return res.scores
