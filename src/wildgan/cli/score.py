"""`wildgan score`: score a run's own test split, a data set, or image files and folders (a pile, read and scored in
chunks that a rerun resumes), optionally flagged by a threshold from the run's training scores."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..config import as_typed
from ..errors import (INTERRUPTED, RUN_DEPTH16, SPLIT_CLASSES, SPLIT_TOO_SMALL, ConfigError, DataError, HeldWarning,
                      Terminated, WildganError, WildganWarning, depth16_said_as, reworded, shell_word)
from .common import (check_out_file, counted, csv_list, eprint, rank_tag, refuse_a_saved_detector, refuse_split_paths,
                     say_end, use_threads, warn, write_stdout)
from .distributed import distributed_context, peer_failures_told, shutdown_ranks, warn_dist_timeout_alone
from .threshold_notes import contamination_note, take_fit_record, threshold_lines, warn_unused_threshold_options

if TYPE_CHECKING:  # types only: the CLI imports torch-heavy modules lazily, inside the commands
    from ..data import AnomalySplit
    from ..scoring.run import ResumeRecord


def cmd_score(a: argparse.Namespace) -> int:
    """`wildgan score`; a stop by a signal (Ctrl-C, SIGTERM, SIGHUP: a dropped ssh session) that leaves finished chunks
    in OUT.chunks says so, and how to go on: the stop's line is all the user has to go by (score keeps no log), and
    a rerun that is not the same command (another --out, --no-resume) scores the whole pile again."""
    from ..scoring.run import ResumeRecord

    record = ResumeRecord()
    try:
        # the images are read by the run's recorded 16-bit rule (split.json), which score takes no option for: a
        # refusal of an image no rule reads (mode I beyond 16 bits, a float TIFF out of range) names that setting, not
        # --depth16, which score refuses
        with depth16_said_as(RUN_DEPTH16):
            return _score(a, record)
    except (Terminated, KeyboardInterrupt) as e:
        kept = _chunks_kept(a, record)
        if not kept:
            raise
        if isinstance(e, KeyboardInterrupt):        # (said by main as `interrupted by SIGINT (Ctrl-C)`, 130, as before)
            raise Terminated(f"{INTERRUPTED}; {kept}", signal.SIGINT) from None
        raise Terminated(f"{e}; {kept}", e.signum) from None
    except OSError as e:
        # a full disk as the CSV was written (a chunk that cannot be saved does not stop the scoring): the chunks kept
        # said, as after a stop, above main's line for the error, where it said only the error and the chunks were
        # there to continue from once space is freed. (Not a reader gone: main's own 141, without a word)
        kept = "" if isinstance(e, BrokenPipeError) else _chunks_kept(a, record)
        if kept:
            say_end(f"wildgan: note: {kept}")
        raise


def _chunks_kept(a: argparse.Namespace, record: ResumeRecord) -> str:
    """What a stopped scoring leaves to continue from, and how: '' where nothing (--out -, a pile of one chunk, a
    stop before the first chunk was finished or after the CSV took them), and on a rank other than 0 (rank 0 says it
    for the job). Only the chunks this scoring (`record`, scoring.run.ResumeRecord) would take on the same command:
    not those of an older scoring into the same --out that it had not yet deleted, nor any before it knew what it
    scores (a stop while the model or the file list was read)."""
    d = _resume_dir(a)
    if d is None or int(os.environ.get("RANK", "0")) != 0:
        return ""
    from ..scoring.run import resumable_chunks

    try:
        done, total = resumable_chunks(record)
    except OSError:             # (the folder unreadable: nothing to promise)
        return ""
    if not done:
        return ""
    of = f" of {total}" if total else ""
    again = " without --no-resume" if a.no_resume else ""
    return (f"{done}{of} chunk{'s' if (total or done) != 1 else ''} scored and kept in {d}: the same command"
            f"{again} continues from them, scoring only the rest")


@peer_failures_told
def _score(a: argparse.Namespace, record: ResumeRecord | None = None) -> int:
    from ..data.dataset_files import npz_has_labels
    from ..data.readers import class_tree_refusal, detect_format, is_dataset_file, is_pile, single_class_text
    from ..scoring.run import load_model, read_split_info, scores_csv_text, write_scores_csv

    refuse_a_saved_detector(a.run_dir, "score")
    refuse_split_paths(a.data, "--data")
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
                          "batches, a class-folder tree or its .tar.gz / .zip with --normal); image files and folders "
                          "are always scored whole")
    label_free = dataset_file and Path(one_file).suffix.lower() == ".npz" and not npz_has_labels(one_file)
    if a.normal and (not dataset_file or label_free or pile_tar):
        # (before the training scores of --threshold: they were scored, or refused for data changed since, first)
        one = single_class_text(one_file) if one_file else ""       # (a folder of normal crops only: says what to add)
        raise ConfigError("--normal labels the rows of one labelled data-set --data (an .npz with labels, a tar, "
                          "zip or folder of class folders, CIFAR-10); " + ("the run's own test split keeps the run's "
                          "normal classes" if not a.data else "these images have no labels to use" + (f".{one}" if one
                                                                                              else "")))
    if a.distributed and (not a.data or (dataset_file and not pile_tar)):
        raise ConfigError("--distributed shares image files, folders and tar or zip archives of a pile between the "
                          "processes; a data set (or the run's own test split) is scored by one process")
    ctx = distributed_context(a)
    # (--checkpoint: a file, or the name of one in RUN/checkpoints, refused in this command's words by load_model's
    # scoring.run.checkpoint_path, the Python API's rule)
    model = load_model(run_dir, ctx.device if ctx is not None else a.device, checkpoint=a.checkpoint or None)
    if a.no_A and model.cfg.method != "wildgan":
        raise ConfigError(f"--no-A applies to wildgan runs; {run_dir} is a {model.cfg.method} run (its scores need "
                          f"the critic anyway)")
    if a.batch_mode != "mixed" and model.cfg.method != "wildgan":
        warn(f"warning: --batch-mode applies to wildgan runs (the encoder's minibatch stddev); this "
             f"{model.cfg.method} run scores as it always does")
        a.batch_mode = "mixed"        # and its thresholds come from its one cache of training scores
    from ..thresholds import fit_record_param

    take_fit_record(a, run_dir, lambda rule: fit_record_param(run_dir, rule, model.meta.get("sha256")))
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
        from ..data.dataset_files import unlabelled_way_said_by_caller

        try:
            # (the run's own data, read again here where --data gave other images: a warning made while reading it,
            # e.g. images beside its class folders, names score's way to score every image of it, as the run's own
            # split above does, not --dataset unlabelled, an option score has not)
            whole = _own_data_whole(run_dir)[1]
            with unlabelled_way_said_by_caller(f"to score every image without labels, {whole}" if whole else ""):
                train_scores = run_training_scores(run_dir, model, batch_mode=a.batch_mode,
                                                   progress=not a.no_progress, split=own_split, skip_bad=a.skip_bad,
                                                   held=held)
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
        got = _score_pile(model, a, ctx, archive=Path(one_file), record=record)
        # (--normal offered only where its labelled reading of the class folders is not refused, e.g. an empty one)
        refused = None if pile_tar else class_tree_refusal(one_file)
        what = f"every image of {one_file}" + ("" if pile_tar else " (labels not used; " + (
            f"--normal is refused for it: {refused})" if refused else "--normal CLASS labels the rows)"))
    elif dataset_file and (label_free or (no_protocol and not a.normal)):
        # an array data set read as a pile: images without labels, or any after a run that has no protocol of its
        # own and no --normal to label it: every image, converted like the run's training data (the Detector's
        # reader: one implementation)
        from ..data.readers import trained_gray_share, trained_kind
        from ..detector import to_images

        trained_on, by_content = trained_kind(model.conversion)
        (x, ids), damaged = _noting_damaged_labels(lambda: to_images(
            one_file, model.cfg.net.resolution, model.cfg.net.channels, skip_bad=a.skip_bad,
            resize_mode=model.conversion.get("fit", "resize"), depth16=model.conversion.get("depth16", "per-image"),
            native_sides=model.conversion.get("native_sides"),
            # colour images scored by a run trained on gray ones were converted without a word here, while the same
            # images as files were warned about
            trained_on=trained_on, by_content=by_content,
            # gray images far more common than among a colour run's training images: said, as files are
            gray_share=trained_gray_share(model.conversion),
            # 16-bit images with a run of 8-bit ones: read as their 8-bit copies, said
            trained_depth=model.conversion.get("trained_depth")))
        # (--normal offered only where it works: a file whose labels are damaged, read without them, is refused it)
        what = f"every image of {one_file} (" + (
            "no labels)" if label_free else "its labels are damaged: read without them)"
            if damaged else "labels not used; --normal CLASS labels the rows)")
    elif not a.data or dataset_file:
        split = own_split if own_split is not None else _labelled_split(a, run_dir, one_file, tar,
                                                                        no_protocol=no_protocol)
        x, ids, labels = split.test_x, split.test_ids, split.test_y
        what = ("every labelled image of " if split.info.get("test_size") == "whole" else "the test split of ") \
            + (one_file or "the run's data")
    else:
        # a pile of files, read and scored in chunks (memory: one chunk), converted like the training data (e.g.
        # MNIST's 28 -> 32 zero padding)
        got = _score_pile(model, a, ctx, record=record)
        # (the folders' note only where a folder was given: it followed the scoring of a single file too)
        what = ("every image file given, folders read recursively" if any(Path(p).is_dir() for p in a.data) else
                "the image file given" if len(a.data) == 1 else "every image file given")
    if ctx is not None and not ctx.is_main:       # rank 0 has the scores and writes the CSV
        return 0
    if a.chunk_size is not None and got is None:
        warn("warning: --chunk-size applies to image files, folders and tar or zip archives of images; a data set "
             "(or the run's own test split) is read whole")
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
        from ..data.splits import rounded_contamination

        note = contamination_note(a, float(model.cfg.data.contamination), thr, rounded_contamination(split_info))
        eprint(threshold_lines(f"threshold for score {a.score}: {thr.describe()} (chosen on the "
                               f"{thr.params['source']}); {int(extra['is_anomaly'].sum())} of "
                               f"{counted(len(ids), 'image')} flagged (is_anomaly = 1)"
                               + (f"; {note}" if note else "")))
        _note_short_training(a, model, no_protocol)
    if a.no_A:
        what += "; A left out (--no-A)"
    if a.out == "-":
        # standard output, for a pipe (`| tail -n +2 | sort -t, -k2 -gr`); every message goes to stderr
        write_stdout(scores_csv_text(ids, res, labels, extra=extra))
        eprint(f"scored {counted(len(ids), 'image')} ({what}) with {model.source}; wrote the CSV "
               f"to standard output")
        return 0
    from contextlib import nullcontext

    from ..training.distributed import stops_deferred

    # the CSV, the removal of the chunks it now holds and the line that says it is written: one commit, a SIGTERM or
    # Ctrl-C held until its end (then `terminated`, 143, or `interrupted`, 130, as any other). One that cut it left
    # the new CSV beside its chunk folder, said as `terminated` / `interrupted` (the CSV, written atomically, read as
    # the earlier one at that path). Not held for a FIFO or device (written directly, no commit), whose stalled
    # reader would keep it held
    from ..fileio import is_stream

    with nullcontext() if is_stream(a.out) else stops_deferred():
        write_scores_csv(Path(a.out), ids, res, labels, extra=extra)
        if resume_dir is not None:
            from ..scoring.run import is_resume_dir, remove_resume_dir

            try:
                if is_resume_dir(resume_dir):
                    remove_resume_dir(resume_dir)          # the CSV holds every chunk's scores now
            except OSError as e:                            # the CSV is written: only the clean-up failed
                warn(f"warning: could not delete {resume_dir} ({e.strerror or e}); the scores are in {a.out}, "
                     f"delete it yourself")
        eprint(f"scored {counted(len(ids), 'image')} ({what}) with {model.source}; wrote {a.out}")
    return 0


def _note_short_training(a: argparse.Namespace, model: Any, no_protocol: bool) -> None:
    """After a short wildgan training on a pile (no labels to check `a` against its controls), the default score a
    can still follow the pixels: the README's quick tour, copied as written, flagged 1 of 40 new images, 20 of them
    other digits, that --score L_r ranked at AUC 1.0 (a: 0.17). train's next: line and the report already say to use
    L_r; `score --threshold` flagged by a without a word. Said for the default score only: --score a is a choice."""
    from ..config import short_training

    nimg = model.meta.get("nimg")
    if getattr(a, "score_given", True) or a.score != "a" or not no_protocol:
        return
    if not short_training(model.cfg.method, nimg):
        return
    eprint(threshold_lines(f"note: after a short training ({int(nimg) / 1000:g} kimg) the default score a can still "
                           f"follow the pixels and rank anomalies as the most normal images; --score L_r flags by the "
                           f"residual instead (README, 'Which score after a short training')"))


def _check_score_options(a: argparse.Namespace) -> None:
    """score's refusals and warnings that need no model, before the (possibly long) work; fills in --score's default
    (the run's own score) and the --data paths as found (relative ones may be under $WILDGAN_DATA)."""
    from ..thresholds import check_threshold_args

    if a.out != "-":
        _refuse_an_input_as_out(a)
        # (a scores CSV written earlier under a name without .csv starts as every one does, with its id column)
        check_out_file(a.out, "scores.csv", suffixes=(".csv",), what="a scores CSV", starts=b"id,")
    # (--no-resume's deletion of OUT.chunks waits for the scoring itself, _score_pile: made here, a typo in the run
    # path or a bad --expected-contamination threw away the kept chunks of an interrupted scoring all the same)
    if a.threshold:
        # before the (possibly long) scoring: a bad value should not cost a scoring pass
        check_threshold_args(a.threshold, contamination=a.expected_contamination, k=a.mad_k)
    warn_unused_threshold_options(a, ("expected_contamination", "mad_k", "score"), "no is_anomaly column")
    warn_dist_timeout_alone(a)
    a.score_given = a.score is not None         # (the short-training note below is for the default score only)
    if a.score is None:
        # the run's own score, as `report` ranks by
        from ..config import own_score, read_run_config

        try:
            a.score = own_score(read_run_config(Path(a.run_dir)).method)
        except WildganError:
            a.score = "a"                 # (not a run: the loading below names the problem)
    if a.no_A and a.threshold and a.score == "A":
        raise ConfigError("--threshold with --score A needs the A score: leave out --no-A")
    use_threads(a)
    if a.data:
        from ..data.readers import missing_path_error, under_data_root

        a.data = [str(under_data_root(d)) for d in a.data]      # relative paths may be under $WILDGAN_DATA
        for d in a.data:
            if not Path(d).exists():        # one looked for in two places says so (list_image_files would not)
                raise missing_path_error(d, "--data")
    if a.data is not None and not a.data:
        # `--data` with nothing after it (an unset $DIR): not the run's own test split, which no --data means
        raise ConfigError("--data is given without a path: name image files, folders or a data set (leave --data out "
                          "to score the run's own test split)")


def _refuse_an_input_as_out(a: argparse.Namespace) -> None:
    """--out one of the files being scored: a --data file itself (an image, an archive, a data set) or an image in a
    --data folder. The CSV replaced the image it had just scored, and the command exited 0."""
    from ..data.image_decode import IMAGE_EXTS
    from ..data.readers import under_data_root
    from ..fileio import is_stream

    if is_stream(a.out):                # (written into, not replaced: /dev/stdout under `>> data.log`)
        return
    out = Path(a.out).resolve()
    for d in a.data or []:
        given = under_data_root(d)
        if given.is_file() and out.exists() and out.samefile(given):
            raise ConfigError(f"--out {a.out} is one of the files given to score (--data {d}): the CSV would replace "
                              f"it; give another name, e.g. {Path(a.out).parent / 'scores.csv'}")
        if given.is_dir() and out.is_file() and out.suffix.lower() in IMAGE_EXTS and \
                out.is_relative_to(given.resolve()):
            raise ConfigError(f"--out {a.out} is one of the images in --data {d}, which are scored: the CSV would "
                              f"replace it; give another name, e.g. {given / 'scores.csv'}")


def _labelled_split(a: argparse.Namespace, run_dir: Path, one_file: str | None, tar: bool,
                    held: HeldWarning | None = None, no_protocol: bool = False) -> AnomalySplit:
    """The labelled test split score reads: of the run's own data (one_file None) or of one data-set file, under the
    run's protocol. A data set it cannot label (no normal class given, ...) is refused with the way to score every
    image of it without labels instead. held: see split_for_run. no_protocol: the run has no protocol of its own
    (unlabelled, Detector.fit), after which any data-set file given without --normal is scored whole."""
    from ..data.dataset_files import unlabelled_way_said_by_caller
    from ..data.readers import is_dataset_file
    from ..evaluation.run import split_for_run

    # how to score every image without labels depends on the run and what was given: after a run without a protocol
    # of its own any file is scored whole without --normal (_score's pile branches), and a folder is read as a pile
    # without it after any run; otherwise a tar once unpacked, an array file only by the Python API (which reads any
    # file whole). The run's own data: _own_data_whole
    if not one_file:
        whole = _own_data_whole(run_dir)[1]
    elif no_protocol or (Path(one_file).is_dir() and not is_dataset_file(one_file)):
        whole = "leave out --normal"
    elif tar:
        whole = "unpack it and pass the folder without --normal"
    else:
        whole = _from_run_way(run_dir, Path(one_file))
    try:
        # (a refusal of the data's labels is followed by score's own way to read it without them, below: a damaged
        # batches.meta's then names no --dataset unlabelled, an option score has not. The run's own data too: it
        # keeps the refusal, its test split being made by its labels, with score's way instead of that option. A
        # warning of images a class-folder tree leaves out, beside its class folders, names that way too)
        with unlabelled_way_said_by_caller(f"to score every image without labels, {whole}" if whole else ""):
            split = split_for_run(run_dir, one_file, log=warn, skip_bad=a.skip_bad,
                                  normal=tuple(csv_list(a.normal, str, "--normal")) if a.normal else None,
                                  whole=a.whole, held=held, progress=not a.no_progress)
    except (DataError, ConfigError) as e:     # e.g. no normal class given
        # (by the refusal's kind, set where it is raised, not by its words: errors.SPLIT_CLASSES)
        if not one_file and e.split_problem == SPLIT_CLASSES:
            raise reworded(e, after=f". {_own_data_way(run_dir)}")
        if not one_file or e.split_problem not in (SPLIT_CLASSES, SPLIT_TOO_SMALL):
            raise
        # (--whole needs no training part: the way out of a data set too small to split, with its labels)
        small = not a.whole and e.split_problem == SPLIT_TOO_SMALL
        with_labels = "; to score every image of it with its labels, add --whole" if small else ""
        way = f"to score every image of it without labels, {whole}"
        raise reworded(e, after=f". A data-set file is scored as a labelled test split under the run's protocol "
                                 f"(--normal CLASS chooses its normal classes){with_labels}; {way}")
    return split


def _own_data_whole(run_dir: Path) -> tuple[Path | None, str]:
    """(the run's own data, score's way to score every image of it without labels; it has no --dataset unlabelled):
    a folder given with --data, read as files; a class-folder tar once unpacked; an array data set by the Python API,
    which reads any file whole (_from_run_way). (None, '') where the run's
    config does not tell its data: split_for_run refuses it, in its own words."""
    from ..config import read_run_config
    from ..data.readers import detect_format, is_dataset_file, resolve_data_root

    try:
        dc = read_run_config(run_dir).data
        data = resolve_data_root(dc.data, dc.dataset)
        if data.is_dir() and not is_dataset_file(data):
            return data, f"give it with --data {shell_word(data)} (without --normal)"
        if data.is_file() and detect_format(data) == "folder-tar":
            return data, "unpack it and give the folder with --data (without --normal)"
    except (WildganError, OSError):
        return None, ""
    return data, _from_run_way(run_dir, data)


def _own_data_way(run_dir: Path) -> str:
    """What score says after a refusal of the labels of the run's own data (a batches.meta without label_names, an
    .npz missing some): the test split it scores is made by them, so the refusal stands, and every image of the data
    is scored without labels in score's own way (_own_data_whole)."""
    data, whole = _own_data_whole(run_dir)
    cmd = f"`wildgan score {shell_word(run_dir)}`"
    return (f"{cmd} scores the run's test split, which its data's labels make" +
            (f"; to score every image of {data} without labels, {whole}" if whole else ""))


def _from_run_way(run_dir: Path, data: Path) -> str:
    """score's advice to score every image of the data-set file `data` without labels by the Python API, whose
    decision_function reads any file whole. It works on the run's own data too, whatever its labels: from_run reads
    the run's training scores (which its labels choose) only at a call that needs them (a threshold), and
    decision_function needs none."""
    return f"use the Python API, Detector.from_run({str(run_dir)!r}).decision_function({str(data)!r})"


def _noting_damaged_labels(read: Callable[[], Any]) -> tuple[Any, bool]:
    """read() (the Detector's reading of a data-set file's every image) -> (what it returns, whether it said that the
    file's labels are damaged, data.dataset_files.LabelsUnreadWarning: --normal, which labels the rows, is then
    refused). Its warnings are given as they came once it is done (or failed), through the caller's filters: an
    "error" one still stops the command, an "ignore" one still hides them, though the labels' warning is noted."""
    import warnings

    from ..data.dataset_files import LabelsUnreadWarning

    said: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", LabelsUnreadWarning)     # (noted whatever the caller's filters say)
            got = read()
    finally:
        for w in said:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return got, any(issubclass(w.category, LabelsUnreadWarning) for w in said)


def _score_pile(model: Any, a: argparse.Namespace, ctx: Any, archive: Path | None = None,
                record: ResumeRecord | None = None) -> Any:
    """score_files on --data, or on the images of a tar or zip `archive` (score_files reads it: unpacked once into the
    cache; ids, warnings and errors name the files inside the archive), skipped files named on stderr as they are
    met. None on a distributed rank other than 0. `record`: score_files' resume_record (what a stop says is kept)."""
    import warnings

    from ..data.readers import ids_under_folder
    from ..scoring.run import score_files

    with warnings.catch_warnings():
        # one line per skipped file (even from the same source line), on stderr as it is met: the caller's filters
        # (restored on exit), with wildgan's warnings shown every time where they would be shown once; an "error"
        # filter (-W error) still stops the scoring, and an "ignore" one still hides them
        _shown_every_time(WildganWarning)
        # (under torchrun, a rank other than 0 says which it is, as main's warnings do: a file skipped is its chunk's)
        tag = rank_tag()
        warnings.showwarning = lambda msg, *_a, **_k: eprint(f"wildgan: warning{tag}: {msg}")
        try:
            if ctx is None or ctx.is_main:
                # every check done (the run loaded, the options and --data accepted, the training scores of
                # --threshold read): only now are the kept chunks discarded. The other ranks touch the folder only
                # after score_files' first collective (the file list), which rank 0 reaches after this
                _discard_kept_chunks(a)
            got = score_files(model, [archive] if archive is not None else a.data, chunk_size=a.chunk_size,
                              skip_bad=a.skip_bad, progress=not a.no_progress, ctx=ctx, batch_mode=a.batch_mode,
                              resume_dir=_resume_dir(a), with_A=not a.no_A, resume_record=record)
        finally:
            shutdown_ranks(ctx, together=sys.exc_info()[0] is None)
    if got is not None and archive is None:
        # one folder: ids relative to it (data.readers.ids_under_folder), as its class-folder tree's with --normal,
        # a tar's, `evaluate`'s and a study's are; the same file had two ids (`tree/test/good/0.png` here,
        # `test/good/0.png` with --normal, or an absolute path where the folder was typed so)
        got.ids = ids_under_folder(got.ids, a.data)
    return got


def _discard_kept_chunks(a: argparse.Namespace) -> None:
    """--no-resume: delete OUT.chunks, an earlier scoring's finished chunks, so that every chunk is scored again."""
    from ..scoring.run import is_resume_dir, remove_resume_dir

    resume_dir = _resume_dir(a)
    if a.no_resume and resume_dir is not None and is_resume_dir(resume_dir):
        remove_resume_dir(resume_dir)
        warn(f"--no-resume: deleted {resume_dir} (an earlier scoring's finished chunks)")


def _shown_every_time(category: type[Warning]) -> None:
    """Within a warnings.catch_warnings block: the warning filters as they are, except that a warning of `category`
    that a filter (or the default action) would show once, per place or per module ("default", "once", "module"),
    is shown every time ("always"). Why not simplefilter("always"): that one filter goes first and so replaces them
    all, the user's "error" of `python -W error` / PYTHONWARNINGS=error and their "ignore" too. A filter that covers
    more than `category` (`default::UserWarning`) is left as it is for the other warnings: an "always" narrowed to
    `category` goes just before it."""
    import warnings

    once = ("default", "once", "module")
    kept: list[tuple[Any, ...]] = []
    for action, message, cat, module, lineno in warnings.filters:
        if action in once and issubclass(cat, category):
            kept.append(("always", message, cat, module, lineno))
            continue
        if action in once and issubclass(category, cat):
            kept.append(("always", message, category, module, lineno))
        kept.append((action, message, cat, module, lineno))
    if warnings.defaultaction in once:      # (what no filter matches)
        kept.append(("always", None, category, None, 0))
    # (rebuilt through the public API, which tells the module that its filters changed: its "once per place"
    # registries are then reset; it takes patterns, where a filter holds a compiled one, None, or a plain string
    # that must equal the text, as the module name of Python's own `default::DeprecationWarning:__main__`)
    warnings.resetwarnings()
    for action, message, cat, module, lineno in kept:
        warnings.filterwarnings(action, _pattern(message), cat, _pattern(module), lineno, append=True)


def _pattern(match: Any) -> str:
    """The pattern warnings.filterwarnings takes for what a filter in warnings.filters holds to match a message or a
    module: a compiled pattern's own, '' for None (anything), and for a plain string, which the warnings module
    compares for equality, the pattern that matches it alone."""
    import re

    if match is None:
        return ""
    return match.pattern if isinstance(match, re.Pattern) else re.escape(match) + r"\Z"


def _resume_dir(a: argparse.Namespace) -> Path | None:
    """Where `wildgan score` keeps finished chunks' scores until --out is written (None: --out - or another stream,
    fileio.is_stream: /dev/stdout.chunks is no folder to make, and the next command's stdout not the same file)."""
    from ..fileio import is_stream

    if a.out == "-" or is_stream(a.out):
        return None
    return Path(a.out).with_name(Path(a.out).name + ".chunks")
