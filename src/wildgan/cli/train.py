"""`wildgan train`: the run's config and split, its refusals before anything is written, the training, then the
training images' scores and (--evaluate) the evaluation."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import (ConfigError, Terminated, TrainingInterrupted, shell_word, stop_text, stop_words,
                      torchrun_hangup_note)
from ..fileio import FULL_DISK, check_can_make_folder
from ..runlog import WARNING, RunLog, copying_warnings
from .common import (PGAN_ONLY_OPTIONS, WRITABLE_OUT, data_path_if_valid, eprint, log_to, option_flag,
                     option_given, refuse_missing_data, say_end, warn, write_stdout)
from .config_args import build_run_config, check_options_before_data, config_contents, replay_files
from .distributed import distributed_context, on_every_rank, shutdown_ranks, warn_dist_timeout_alone
from .evaluate import cmd_evaluate

if TYPE_CHECKING:  # types only: the CLI imports torch-heavy modules lazily, inside the commands
    from ..config import RunConfig
    from ..data import AnomalySplit
    from ..data.replay import ReplayFiles


def cmd_train(a: argparse.Namespace) -> int:
    from ..training.distributed import torchrun_world

    run_log = log_to(Path(a.out))
    if torchrun_world()[0] == 0:         # (only rank 0 writes log.txt)
        run_log.hold(getattr(a, "said_before", []))
    # every wildgan warning said during the command into the run's log.txt too: those about its data are said while
    # the data is read, before the run folder is written (held until its first line). Only rank 0 of a --distributed
    # job writes log.txt (the other ranks' warnings are on the terminal, tagged with their rank)
    with copying_warnings(run_log if torchrun_world()[0] == 0 else None):
        return _train(a, run_log)


def _train(a: argparse.Namespace, run_log: RunLog) -> int:
    from ..config import run_config_to_dict
    from ..training.run import train_run, trained_line

    warn_dist_timeout_alone(a)
    ctx = distributed_context(a)
    run_dir = Path(a.out)
    if not a.dry_run:
        # what --out alone refuses, before the data is decoded (minutes for a large folder, wasted by a refusal after
        # it); check_run_dir (in _train_setup) adds what needs the config, whose resolution and channels come from the
        # data. Under torchrun the ranks agree on the answer (the same folder and path give the same one, unless their
        # file systems differ; rank 0's refusal of a busy folder stops the others)
        on_every_rank(ctx, lambda: _check_train_out(a, ctx), run_dir, run_log)
    # every rank learns whether each one started: one that failed alone (data only it cannot read) stops them all
    # together, its error in the run folder, instead of leaving rank 0 only the echo of it
    cfg, split = on_every_rank(ctx, lambda: _train_setup(a, ctx), run_dir, run_log)
    if a.dry_run:
        if ctx is None or ctx.is_main:
            # on stdout, alone, as `info --json` and `evaluate --json` print theirs: `--dry-run > cfg.json` kept an
            # empty file and the JSON went to stderr among the data's warnings. Rank 0's alone under torchrun, whose
            # ranks share the one stdout (one JSON document, not one per rank)
            write_stdout(json.dumps(run_config_to_dict(cfg), indent=2) + "\n")
            _warn_of_planned_growth(cfg)
        shutdown_ranks(ctx)
        return 0
    if cfg.method == "fanogan" and cfg.train.tensorboard:
        warn("warning: --tensorboard logs wildgan and search runs; an f-AnoGAN run writes its numbers to "
             "stats.jsonl only")
    is_main = ctx is None or ctx.is_main
    log: Callable[[str], None] = run_log if is_main else (lambda m: None)
    try:
        # (its own warning of networks not grown to full resolution, in the options' words: _warn_if_not_grown)
        res = train_run(cfg, run_dir, resume=a.resume, overwrite=a.overwrite, progress=not a.no_progress,
                        log=log, split=split, before_unlock=getattr(a, "before_unlock", None), warn_not_grown=False,
                        # a caller's line about what the start will do (the demo's "replacing the previous demo"):
                        # train_run says it once its own checks passed (memory, WILDGAN_* settings, the lock)
                        before_start=getattr(a, "before_start", None),
                        # --evaluate rewrites RUN/eval.json: a resume's note does not call the old one kept
                        evaluate_after=bool(a.evaluate), saved=_resumed_files(a))
    except BaseException as caught:
        from ..training.distributed import (met_by_every_rank, peer_end_error, raised_in_collective,
                                            record_how_training_ended)

        e = _stop_left_by_this_command(caught, a, cfg, split, ctx is not None)
        # the ranks leave together only when they all stopped alike (a preemption: they agreed on it; an error that
        # every rank met), never waiting for a peer that failed on its own. Decided by the stop as it came: a second
        # Ctrl-C that aborted a rank at once is said below as a stop with its checkpoints, but the ranks did not agree
        # on it, and a barrier would wait for peers that may be gone
        together = isinstance(e, TrainingInterrupted) or met_by_every_rank(e)
        if ctx is None or (ctx.is_main and not raised_in_collective(e)):
            # rank 0's words alone, as its log.txt line: the advice once on the terminal, not once per rank. Not a
            # Ctrl-C that followed a failed collective: that is the echo of a peer's end, which peer_end_error names
            e = _abort_with_checkpoints(e, run_dir, ctx is not None)
        # a caller's own words for a stop (the demo's: the command that continues it), the same in log.txt as on
        # the terminal, where the caller raises them (cmd_demo)
        reword = getattr(a, "reword_stop", None)
        said = reword(e) if reword is not None and isinstance(e, TrainingInterrupted) else e
        record_how_training_ended(run_dir, ctx, said, run_log.write)
        shutdown_ranks(ctx, together=together)
        echo = peer_end_error(run_dir, ctx, e)
        if echo is not None:
            raise echo from e
        if isinstance(e, OSError) and not isinstance(e, BrokenPipeError) and (ctx is None or ctx.is_main):
            _tell_checkpoint_kept(e, a, run_dir, ctx is not None, run_log)
        if e is not caught:
            raise e from None
        raise
    shutdown_ranks(ctx)
    if not is_main:
        return 0
    if cfg.train.threads is not None:
        import torch

        # --threads for the rest of the command too (the training scores, --evaluate), as training set it: train_run
        # put back the count it found on the way out, and main() puts back the caller's when the command ends
        torch.set_num_threads(cfg.train.threads)
    left = _left_after_training(a, cfg, split)
    begun = False           # whether a step of `left` began (what a stop or an error is said to have come during)
    try:
        # (in the try: a terminal gone (EIO) as these lines are shown left log.txt on `trained ... (done)`)
        log(trained_line(res))
        _warn_if_not_grown(cfg, res, log, a.out, ctx is not None)
        begun = True
        if res.final is not None and cfg.train.train_scores:
            _score_training_images(a, cfg, split, log)
        left = [s for s in left if s != "the training scores"]
        if res.final is not None and not a.evaluate:
            _say_next_after_train(Path(a.out), split, cfg.method, res.nimg)
        if a.evaluate:
            # the split just trained on: rebuilding it would read the data again and repeat its warnings
            return cmd_evaluate(argparse.Namespace(run_dir=a.out, data=None, normal=None, whole=None, json=False,
                                                   device=a.device, no_controls=False, no_progress=a.no_progress,
                                                   threads=None, own_split=split, skip_bad=a.skip_bad,
                                                   table_to=run_log.write))
    except (Terminated, KeyboardInterrupt) as caught:
        # a stop a moment after the training's last round said only `terminated by SIGTERM`, on the terminal alone:
        # log.txt ended on `trained ... (done)` as if the run were whole, and under torchrun a closed terminal's
        # SIGHUP left no word anywhere. Said as a stop as training ended is: what is left, the command that finishes it
        e = _stopped_after_training(caught, a, res, left, ctx is not None, begun)
        # (in log.txt in a caller's own words, as a stop in the training is: the demo's, which rewords it as it goes up)
        reword = getattr(a, "reword_stop", None)
        run_log.write(f"stopped: {reword(e) if reword is not None else e}")
        raise e from None
    except Exception as caught:
        # an error there (a full disk as the training scores are written, an error of --evaluate) reached the terminal
        # alone, and log.txt ended on `trained ... (done)` as if the run were whole: recorded as the stop above is,
        # then raised as it came, for main's line and exit code
        _tell_failed_after_training(caught, a, res, left, ctx is not None, run_log, begun)
        raise
    return 0


def _tell_checkpoint_kept(e: OSError, a: argparse.Namespace, run_dir: Path, distributed: bool,
                          run_log: RunLog) -> None:
    """For an OSError that ended the training (`e`: a full disk as a checkpoint or a stats row was written, a run
    folder made read-only), the newest checkpoint the run keeps and the command that continues from it, in log.txt
    after its `stopped:` line and on the terminal above main's line for the error. A stop by a signal says both; such
    an error said only itself, though the run goes on from there once the disk has room (measured: a tiny run whose
    disk filled at its 5th checkpoint, resumed, ended bit for bit as one never stopped). Nothing where the run has no
    checkpoint yet: it starts again."""
    from ..checkpoint import list_checkpoints

    try:
        kept = list_checkpoints(run_dir / "checkpoints")
    except OSError:          # (the folder unreadable: nothing to promise)
        return
    if not kept:
        return
    again = f"wildgan train --out {shell_word(a.out)} --resume{' --evaluate' if a.evaluate else ''}"
    how = f"the same torchrun command and `{again} --distributed`" if distributed else f"`{again}`"
    why = " (space freed)" if e.errno in FULL_DISK else ""
    note = (f"the run's checkpoints up to {kept[-1].stem} are kept in {kept[-1].parent}: once the cause of the error "
            f"is fixed{why}, continue with {how}")
    run_log.write(f"note: {note}")
    say_end(f"wildgan: note: {note}")


def _stop_left_by_this_command(e: BaseException, a: argparse.Namespace, cfg: RunConfig, split: AnomalySplit,
                               distributed: bool) -> BaseException:
    """`e`, or for a stop as training ended (TrainingInterrupted.complete) the same stop naming what this command
    would still have done: the loops name every step `wildgan train` may take after training (the training scores,
    --evaluate), and told a user of --no-train-scores without --evaluate that something was left undone, with
    nothing to finish. Where something is left, the command that finishes it (a resume trains nothing more, then
    runs what follows, --no-train-scores kept by the run's config); where nothing is, neither is said."""
    if not isinstance(e, TrainingInterrupted) or not e.complete:
        return e
    left = _left_after_training(a, cfg, split)
    told = TrainingInterrupted(e.message, e.signum, where=e.where, checkpoint_dir=e.checkpoint_dir, complete=True,
                               resume_advice=_finish_advice(a, left, distributed, e.signum),
                               not_run=", ".join(left) or None)
    # how train_run told this end (training.distributed's marks on the exception) goes with it, so that it is not
    # recorded a second time in these words
    told.__dict__.update({k: v for k, v in vars(e).items() if k.startswith("_wildgan_")})
    return told


def _abort_with_checkpoints(e: BaseException, run_dir: Path, distributed: bool = False) -> BaseException:
    """`e`, or for a Ctrl-C that aborted the training at once (a second one: resume.StopFlag's KeyboardInterrupt; or
    one before the loop took SIGINT) in a run that has periodic checkpoints, that stop with the command that
    continues from the newest of them. It said only `interrupted by SIGINT (Ctrl-C)` where the run could go on.
    distributed: a torchrun job's rank 0, continued by the same torchrun command with --resume --distributed."""
    import signal

    from ..checkpoint import list_checkpoints
    from ..errors import INTERRUPTED, resume_advice

    if not isinstance(e, KeyboardInterrupt):
        return e
    try:
        kept = list_checkpoints(run_dir / "checkpoints")
    except OSError:          # (the folder unreadable: nothing to promise)
        return e
    if not kept:
        return e
    told = TrainingInterrupted(f"{INTERRUPTED}; checkpoints kept in {kept[-1].parent} (the newest: {kept[-1].stem})",
                               signal.SIGINT, checkpoint_dir=str(kept[-1].parent),
                               resume_advice=resume_advice(run_dir, distributed, signum=signal.SIGINT))
    # (how train_run told this end, training.distributed's marks on the exception, goes with it: not recorded twice)
    told.__dict__.update({k: v for k, v in vars(e).items() if k.startswith("_wildgan_")})
    return told


def _left_after_training(a: argparse.Namespace, cfg: RunConfig, split: AnomalySplit) -> list[str]:
    """The steps `wildgan train` runs after the training, as _train runs them: latent search leaves its training
    scores to `wildgan score --threshold`, and a split without training images has none to score."""
    return [*(["the training scores"] if cfg.train.train_scores and cfg.method != "search" and len(split.train_x)
              else []), *(["--evaluate"] if a.evaluate else [])]


def _finish_advice(a: argparse.Namespace, left: list[str], distributed: bool, signum: int | None) -> str | None:
    """The command that runs what a stop (by `signum`) after the training's last round left undone (`left`): a resume
    trains nothing more, then runs what follows, --no-train-scores kept by the run's config. Under torchrun,
    --distributed in the same torchrun command, as the advice of a stop during training words it (with its note for a
    SIGHUP). None where nothing is left."""
    if not left:
        return None
    again = f"wildgan train --out {shell_word(a.out)} --resume{' --evaluate' if a.evaluate else ''}"
    return (f"to finish, run the same torchrun command with `{again} --distributed`{torchrun_hangup_note(signum)}"
            if distributed else f"to finish, run `{again}`")


def _stopped_after_training(e: BaseException, a: argparse.Namespace, res: Any, left: list[str],
                            distributed: bool, begun: bool) -> TrainingInterrupted:
    """A Ctrl-C, SIGTERM or SIGHUP (`e`: KeyboardInterrupt, Terminated) that came after the training, as `left[0]`
    ran (the training scores, --evaluate; `left`: what _train had still to run; begun False: before it, as the
    training's last lines were said), as the stop it is: the training complete and its networks saved, what was
    left, and the command that finishes it (exit 128 + the signal, as a stop in the training's loop)."""
    import signal

    signum = e.signum if isinstance(e, Terminated) else signal.SIGINT
    return _after_training(f"{stop_words(signum)} after the training{_during(left) if begun else ''}; "
                           f"{_complete(res)}", signum, a, left, distributed)


def _tell_failed_after_training(e: Exception, a: argparse.Namespace, res: Any, left: list[str], distributed: bool,
                                run_log: RunLog, begun: bool) -> None:
    """An error (`e`) after the training, as `left[0]` ran (`left`: what _train had still to run; begun False: before
    it, as the training's last lines were said), told as a stop after it is: in log.txt, `stopped:` with the error,
    the training complete, what was left and the command that finishes it; on the terminal, where something was
    left, a note of the same before main's own line for the error. In a caller's words where it has its own
    (a.reword_stop: the demo's)."""
    reword = getattr(a, "reword_stop", None) or (lambda told: told)
    failed = f"failed after the training{_during(left) if begun else ''}: {stop_text(e)}; {_complete(res)}"
    run_log.write(f"stopped: {reword(_after_training(failed, None, a, left, distributed))}")
    if left:
        # (said as main says the error: a terminal gone by now must not turn the error into another one)
        say_end(f"wildgan: note: {reword(_after_training(_complete(res), None, a, left, distributed))}")


def _during(left: list[str]) -> str:
    """Which step after the training was running, from `left` (what _train had still to run): ', while ...'."""
    return {"the training scores": ", while the training images were scored",
            "--evaluate": ", while the run was evaluated (--evaluate)"}.get(left[0], "") if left else ""


def _complete(res: Any) -> str:
    """What a stop or an error after the training leaves of it (`res`: train_run's TrainResult)."""
    saved = f" ({res.final})" if res.final is not None else ""
    return f"the training is complete and its networks are saved{saved}"


def _after_training(message: str, signum: int | None, a: argparse.Namespace, left: list[str],
                    distributed: bool) -> TrainingInterrupted:
    """An end after the training (`message`), by `signum` (None for an error, told in these words but not raised as
    a stop), with what was left (`left`) and the command that finishes it."""
    return TrainingInterrupted(message, signum, where="after the training",
                               checkpoint_dir=str(Path(a.out) / "checkpoints"), complete=True,
                               resume_advice=_finish_advice(a, left, distributed, signum),
                               not_run=", ".join(left) or None)


def _check_train_out(a: argparse.Namespace, ctx: Any) -> None:
    """What --out refuses before the data is read: a folder another process trains in, or one holding a run that
    --resume / --overwrite do not allow for."""
    from ..training.run import check_lock_free, check_out_dir

    data = data_path_if_valid(a)
    if ctx is None or ctx.is_main:
        # a folder another process trains in, first (its advice is to wait, not to --resume or --overwrite
        # it); rank 0 alone asks, as it alone takes the job's lock (train_run), which stays the guarantee
        check_lock_free(Path(a.out))
    check_out_dir(Path(a.out), data, resume=a.resume, overwrite=a.overwrite)
    # a read-only place, no permission, a full disk: said now, in terms of --out, not after the data is decoded as
    # a bare "[Errno 30] Read-only file system" from the first mkdir
    check_can_make_folder(a.out, WRITABLE_OUT, label="--out")
    # (an older Detector.fit run's ids, kept only in its training-score cache, are kept in fit_ids.json by train_run
    # itself before a resume writes anything: data.splits.keep_cached_fit_ids_before_resume, for every caller. That
    # comes after the data is decoded; a run folder that cannot be written at all is refused by the probe above,
    # before it: only a fault of that one file, in a folder that can be written, is left to train_run to say)


def _resumed_files(a: argparse.Namespace) -> ReplayFiles | None:
    """The run's config.json and split.json as --resume's own checks read them (config_args.resume_config, through
    the command's ConfigReader), for train_run's checks of the saved run: read once a command, not once a check.
    None where nothing was read (no --resume, or a namespace made without the reader): train_run reads them."""
    read = getattr(a, "config_reader", None)
    if not a.resume or read is None:
        return None
    return read.replay_files(Path(a.out) / "config.yaml")


def _train_setup(a: argparse.Namespace, ctx: Any) -> tuple[RunConfig, AnomalySplit]:
    """(config, split) of `wildgan train`, and its refusals; each rank of a --distributed job runs it on its own."""
    from ..training.run import (check_minibatch_sizes, check_resumed_settings, check_run_dir, check_the_settings,
                               check_training_memory, refuse_fanogan_over_ranks, refuse_run_inside_data)

    refuse_missing_data(a)
    # a bad value of an option (--lr -1, --g-image-loss nan, ...) before build_run_config decodes the data
    check_options_before_data(a)
    if a.dry_run:
        # the one refusal of --out that is not about the folder's state but about where it is: no start can train
        # there, so a dry run printing the config as one that trains misled; asked before the data is decoded, as
        # the start asks it (_check_train_out), and again below with the data a --config file named
        refuse_run_inside_data(data_path_if_valid(a), Path(a.out), resume=a.resume)
    elif a.resume:
        _refuse_resumed_data_early(a)
    from contextlib import nullcontext

    from ..data.imageset import FANOGAN_SIZES, resolution_settled, resolutions_taken

    # (a resume reads its data for the run's own resolution: no word that another one would keep to the images'.
    # f-AnoGAN's networks take 32 or 64 only: the word of the automatic resolution's enlargement advised
    # --resolution 16 for images trained at 32, which the run then refused)
    with resolution_settled() if a.resume else nullcontext(), \
            resolutions_taken(*FANOGAN_SIZES) if getattr(a, "method", None) == "fanogan" else nullcontext():
        cfg, split = build_run_config(a)
    if a.config:
        from ..data.replay import in_run_order

        # a Detector.fit's run trained its pile in the order read, which build_split shuffles: put it back (on every
        # rank: they must all train one order)
        split = in_run_order(Path(a.config), split, files=replay_files(a))
    if a.config and not a.resume and (ctx is None or ctx.is_main):
        from ..data.replay import warn_if_replay_reads_other_images

        # (its warning and note in the command's words, on stderr and into log.txt, as the other warnings said here)
        warn_if_replay_reads_other_images(Path(a.config), cfg, split, warn=lambda m: warn(f"{WARNING}{m}"),
                                          note=lambda m: eprint(f"wildgan: note: {m}"),
                                          files=replay_files(a))
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
        # WILDGAN_DATA_ON_GPU typo, ...): the dry run printed them as a config that would train. (What the folder
        # holds is not asked: a dry run writes nothing there; only where it lies, with the data the config records,
        # as check_run_dir asks it.)
        refuse_run_inside_data(cfg.data.data, Path(a.out), resume=a.resume)
        check_the_settings(cfg, split, resume=a.resume, is_main=ctx is None or ctx.is_main)
        if a.resume:
            # (but the saved run's settings are: a resume refuses a setting it may not change, which the dry run
            # printed as a config that would train)
            try:
                check_resumed_settings(cfg, Path(a.out), files=_resumed_files(a))
            except ConfigError as e:
                raise _said_with_sources(e, a) from None
    else:
        # refuse before anything is written
        try:
            check_run_dir(cfg, Path(a.out), resume=a.resume, overwrite=a.overwrite, files=_resumed_files(a))
        except ConfigError as e:
            raise _said_with_sources(e, a) from None
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


def _refuse_resumed_data_early(a: argparse.Namespace) -> None:
    """A --resume on other settings than the run's (--data, --seed, --normal, ...) refused as check_run_dir refuses
    it after build_run_config, but before that decodes the data (minutes for a large folder, for a refusal the
    settings alone decide): the config is built as build_run_config builds it (run_config_for_shape), with the saved
    run's resolution and channels standing in for the data's, which the check after decoding compares. Options that
    do not resolve, or a saved run that does not read, are left to the steps after to say. Whether the images
    themselves changed since the run started needs their pixels: asked once they are decoded (train_run)."""
    from ..errors import WildganError
    from ..training.run import check_run_dir, read_saved_config, saved_run_files
    from .config_args import run_config_for_shape

    run_dir = Path(a.out)
    files = _resumed_files(a)
    files = saved_run_files(run_dir) if files is None else files
    try:
        saved = read_saved_config(run_dir, files)
        cfg = run_config_for_shape(a, saved.net.resolution, saved.net.channels)
    except WildganError:
        return
    try:
        check_run_dir(cfg, run_dir, resume=True, overwrite=a.overwrite, files=files)
    except ConfigError as e:
        raise _said_with_sources(e, a) from None


# the option (its argparse dest) that sets a field of a run config named otherwise than the option; any other field
# `section.key` is set by the option `key` (train.lr: --lr, data.seed and train.seed: --seed)
_FIELD_OPTIONS = {"net.fmap_max": "width", "net.latent_size": "latent_size", "data.exclude_classes": "exclude",
                  "fanogan.gan_iters": "fanogan_iters", "fanogan.enc_iters": "fanogan_enc_iters",
                  "fanogan.dim": "fanogan_dim", "fanogan.bn_warmup": "fanogan_bn_warmup",
                  "search.steps": "search_steps",
                  # (no option sets these: --lr and --latent-size set the pGAN's train.lr and net.latent_size, which
                  # f-AnoGAN ignores, and were named as the source of a run config's differing f-AnoGAN fields)
                  "fanogan.lr": "", "fanogan.latent_size": ""}


def _said_with_sources(e: ConfigError, a: argparse.Namespace) -> ConfigError:
    """check_run_dir's refusal of a resume's settings (its `.differences`, as `section.key: saved -> now`) followed by
    the options given that set them: a flag typed (`--lr 0.5`), a flat --config file's key beside --resume (`lr: 0.5
    in FILE`). The fields alone (train.lr: 0.001 -> 0.5) did not say which of the options given was refused, nor that
    a value came from a file and not from the command line. Settings from the run's own config.yaml, or a whole run
    config given, are named by their fields alone, as they are written there. Any other error is returned as is."""
    from ..config import as_typed, shown

    diffs = getattr(e, "differences", None)
    if not diffs:
        return e
    written = getattr(a, "config_written", None) or {}
    flat = getattr(a, "config_written_in", None)
    typed: list[str] = []
    filed: list[str] = []
    for diff in diffs:
        field = diff.split(":", 1)[0]
        dest = _FIELD_OPTIONS.get(field, field.partition(".")[2])
        if not dest or not hasattr(a, dest):
            continue                 # (a line of its own words: --preset, a --total-kimg shorter than trained)
        if option_given(a, dest):
            value = getattr(a, dest)
            said, into = (option_flag(dest) if isinstance(value, bool) else f"{option_flag(dest)} {as_typed(value)}",
                          typed)
        elif dest in written and flat:
            key, raw = written[dest]
            said, into = f"{key}: {shown(raw, from_file=True)}", filed
        else:
            continue
        if said not in into:
            into.append(said)
    given = typed + ([f"{', '.join(filed)} in {flat}"] if filed else [])
    listed = "; ".join(diffs)
    if not given or listed not in str(e):
        return e
    said = ConfigError(str(e).replace(listed, f"{listed} (given as: {'; '.join(given)})", 1), file=e.file)
    said.cli_advice = getattr(e, "cli_advice", None)      # type: ignore[attr-defined]
    said.differences = diffs                              # type: ignore[attr-defined]
    return said


def _minibatch_source(a: argparse.Namespace) -> str | None:
    """The --config file (a run's config, or --resume's config.yaml) whose train.minibatch the run uses, or None when
    the table is the preset's (a flat --config file has no minibatch)."""
    if not a.config:
        return None
    d = config_contents(a) or {}
    return str(a.config) if isinstance(d.get("train"), dict) and "minibatch" in d["train"] else None


def _warn_other_methods_options(a: argparse.Namespace, method: str) -> None:
    """Options that belong to another --method are accepted (a script may pass one set of flags to every method) but
    said to be ignored, rather than recorded silently as if they had an effect. Only options typed on the command
    line: a --resume or --config replay brings every section of the run's config.yaml back as option values."""
    typed = getattr(a, "typed", set())
    ignored = []
    if method != "wildgan":
        # f-AnoGAN trains its own izi_f encoder; search has no encoder
        ignored += [option_flag(o) for o in ("encoder_loss", "g_image_loss") if o in typed]
    if method != "fanogan":
        ignored += [option_flag(o) for o in ("fanogan_iters", "fanogan_enc_iters", "fanogan_dim", "fanogan_bn_warmup")
                    if o in typed]
    else:
        # the progressive GAN's schedule, size and fast path: f-AnoGAN has its own (epochs or --fanogan-iters, its
        # lr 1e-4, --fanogan-dim, N_z 128, fp32)
        ignored += [option_flag(o) for o in PGAN_ONLY_OPTIONS if o in typed]
    if method != "search" and "search_steps" in typed:
        ignored.append("--search-steps")
    if ignored:
        from ..config import FAnoGANConfig

        # a --preset tiny (or --width) asked for small networks, the pGAN's short try: f-AnoGAN's width is its own
        # option, whose default (the official DIM 64) takes seconds per critic iteration on a CPU
        width = (f" (f-AnoGAN's networks are set by --fanogan-dim: {FAnoGANConfig().dim} by default, 16 for a short "
                 f"try on a CPU)" if method == "fanogan" and {"preset", "width"} & set(typed) else "")
        warn(f"warning: {', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to --method "
             f"{method}: ignored{width}")


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


def _say_next_after_train(run_dir: Path, split: AnomalySplit, method: str = "wildgan", nimg: int | None = None) -> None:
    """The commands that use a finished run, on the terminal only (not log.txt): a training on one's own folder ended
    on its training-scores line, where the demo names the report and score (cmd_demo); an --evaluate run ends on its
    table instead. A pile has no labels to check `a` against its controls, so after a short wildgan training (nimg
    images, under SHORT_TRAINING_KIMG) the commands for a pile rank and flag by L_r, as the README's rule says: the
    default `a` had flagged none of 9 anomalies hidden in a pile of 300 cell crops after 13 kimg, and ranked the one
    on another background (an elliptocyte) the most normal of all, where L_r ranked it first and flagged it."""
    from ..config import short_training

    run = shell_word(run_dir)
    short = short_training(method, nimg)     # (the rule Detector.fit warns by: config.SHORT_TRAINING_KIMG)
    report = f"`wildgan report {run}` writes {run_dir / 'report' / 'report.html'}"
    if split.info.get("protocol") == "unlabelled":
        score = " --score L_r" if short else ""
        report = f"`wildgan report {run}{score}` writes {run_dir / 'report' / 'report.html'}"
        why = (f"; --score L_r since after a short training ({(nimg or 0) / 1000:g} kimg) the default score a can "
               f"still follow the pixels, and rank anomalies as the most normal images (README, 'Which score after a "
               f"short training')") if short else ""
        eprint(f"next: {report} (the most anomalous images of the pile, with their heat maps); `wildgan score {run} "
               f"--data NEW_IMAGES{score} --threshold contamination --out flagged.csv` flags new images against the "
               f"training scores{why}")
    else:
        eprint(f"next: `wildgan evaluate {run}` measures its AUCs on the test split, with their controls; {report} "
               f"(the most anomalous test images, with their heat maps)")


def _warn_if_not_grown(cfg: Any, res: Any, log: Any, out: str | Path, distributed: bool = False) -> None:
    """A --total-kimg (or a --minutes budget) that ends before the last fade-in leaves networks that never reached
    full resolution (scored at the resolution they reached); said when training ends, not only later by evaluate,
    as Detector.fit warns. train_run's warning (training.run.not_grown_warning), in the RunConfig's terms, is left
    out for it. The way on is the whole command for the run in `out`, as a stop's advice gives it (resume_advice;
    under torchrun, its same command with --distributed): '--resume --total-kimg 13' named no command and no run."""
    from ..training.run import lod_short_of_full
    from ..training.schedule import kimg_to_the_image

    lod = lod_short_of_full(cfg, res)
    if lod is not None:
        t, r = cfg.train, cfg.net.resolution
        # a budget stop needs more minutes too: --resume keeps the run's --minutes unless given
        budget = res.status == "budget"
        g, grown = _growth_words(cfg, budget)
        # (a budget stop of a run whose own total already grows them: minutes only, growth_advice)
        # the whole command, as a stop's advice gives it (a bare '--resume --total-kimg 13' named no command or run);
        # a budget's new number is the user's to choose: a placeholder, with the one it must exceed
        total = f" --total-kimg {g.total}" if g.total is not None else ""
        minutes = " --minutes MINUTES" if g.minutes else ""      # (a budget stop: growth_advice)
        cmd = (f"`wildgan train --out {shell_word(out)} --resume{total}{minutes}"
               f"{' --distributed' if distributed else ''}`")
        if distributed:
            cmd = f"the same torchrun command with {cmd}"
        how = (f"{cmd}, MINUTES above its {t.minutes:g}" if minutes else cmd) + \
            (f" (its --total-kimg {g.own_total} grows them)" if g.total is None else "")
        log(f"warning: training ended at {kimg_to_the_image(res.nimg / 1000)} kimg (lod {lod:g}"
            f"{f', the --minutes {t.minutes:g} budget ran out' if budget else ''}), before the networks finished "
            f"growing to {r}x{r}: {grown}. The run is scored at the resolution it reached; continue it with {how}")


def _growth_words(cfg: Any, budget: bool) -> tuple[Any, str]:
    """(schedule.growth_advice, 'with phases of P kimg they are grown at G kimg (...)') of a run whose networks do
    not grow to full resolution: the one rule of the end-of-training warning (_warn_if_not_grown) and of the dry
    run's plan (_warn_of_planned_growth), so the two cannot disagree on where they are grown or what grows them."""
    from ..training.schedule import growth_advice, kimg_to_the_image

    t = cfg.train
    # (to the image: the threshold is exact (3600.128), and a rounded one (3600) would still end fading in)
    g = growth_advice(t, cfg.net.resolution, budget)
    # (phases shorter than a round of minibatches: the paper's total ends before growth too, and is not said)
    said_paper = f", and the paper's schedule (the default --total-kimg) trains {g.paper} kimg" if g.paper_grows else ""
    return g, (f"with phases of {kimg_to_the_image(t.phase_kimg)} kimg they are grown at {g.grown} kimg (the end of "
               f"the first round of minibatches at full resolution){said_paper}")


def _warn_of_planned_growth(cfg: Any) -> None:
    """--dry-run: a --total-kimg that ends the training before the networks grow to full resolution, said before it
    starts (the training itself warns of it only at its end, _warn_if_not_grown, by the same rule: _growth_words).
    On stderr, as the dry run's other warnings: its stdout is the config's JSON, which `--config` reads back."""
    from ..training.run import planned_short_of_full
    from ..training.schedule import kimg_to_the_image

    short = planned_short_of_full(cfg)
    if short is None:
        return
    nimg, lod = short
    r = cfg.net.resolution
    reached = int(r / 2 ** math.ceil(lod))          # grown (stable) so far; a fractional lod is fading in to the next
    fading = f", fading in to {2 * reached}x{2 * reached}" if lod != math.ceil(lod) else ""
    g, grown = _growth_words(cfg, budget=False)
    warn(f"warning: the run reaches {reached}x{reached} of {r}x{r} at --total-kimg "
         f"{kimg_to_the_image(cfg.train.total_kimg)}: training ends at {kimg_to_the_image(nimg / 1000)} kimg (lod "
         f"{lod:g}{fading}), before the networks finish growing to {r}x{r}: {grown}. It would be scored at the "
         f"resolution it reaches; --total-kimg {g.total} grows them")
