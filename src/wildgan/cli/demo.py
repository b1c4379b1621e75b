"""`wildgan demo`: train + evaluate on the embedded MNIST sample (the README's main job), as a train command."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import SAMPLE_TOKEN
from ..errors import ConfigError, TrainingInterrupted, shell_word
from .common import eprint, warn
from .parser import make_option_parser
from .train import cmd_train


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
    # the sample by name: without --data, train reads $WILDGAN_DATA first, and the demo trained on the user's data
    # root (or, the variable naming nothing, told them to pass a --data that demo does not take)
    argv = ["train", "--out", a.out, "--data", SAMPLE_TOKEN, "--preset", a.preset, "--normal", a.normal,
            "--total-kimg", str(a.total_kimg), "--phase-kimg", str(a.phase_kimg), "--seed", str(a.seed),
            "--device", a.device, "--evaluate"]
    if found:
        argv.append("--overwrite")      # (deletes the marker with the other run outputs; mark writes it again)
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
            warn(f"warning: could not write {marker} ({e}){later}")

    import shlex

    def reword(e: TrainingInterrupted) -> TrainingInterrupted:
        # train's advice (errors.resume_advice) continues the training only, and a demo run again starts over: the
        # train command that continues this one and prints the demo's table. The run's log.txt says it too
        # (cmd_train records its stop in these words: reword_stop). What the stop left undone is the demo's too:
        # its --evaluate is not the user's option
        run = shlex.quote(str(out))
        return TrainingInterrupted(
            e.message, e.signum, where=e.where, checkpoint_dir=e.checkpoint_dir, complete=e.complete,
            not_run="the training scores, the evaluation" if e.not_run else None,
            resume_advice=f"to {'finish' if e.complete else 'continue'} the demo and print its table, `wildgan "
                          f"train --out {run} --resume --evaluate` (`wildgan demo --out {run}` starts it over)")

    t = make_option_parser().parse_args(argv)
    t.typed, t.before_unlock, t.reword_stop = set(), mark, reword
    if found:
        # said once train_run has checked the start (its before_start): said first, it announced a replacement that
        # a refusal (an unknown --normal class, a misspelt WILDGAN_ variable) then did not make
        t.before_start = lambda: warn(f"replacing the previous demo in {out} (its networks, evaluation and report); "
                                      f"--out DIR keeps it")
    try:
        rc = cmd_train(t)
    except TrainingInterrupted as e:
        raise reword(e) from None
    if rc == 0:
        # the demo is a newcomer's first command, and its table is where it ended: it said nothing of the report
        # (heat maps of the most anomalous digits) or of scoring images of one's own, the README's next steps
        run = shlex.quote(str(out))
        eprint(f"next: `wildgan report {run}` writes {out / 'report' / 'report.html'} (the most anomalous test "
               f"digits with their heat maps); `wildgan score {run} --data FOLDER --out scores.csv` scores "
               f"images of your own")
    return rc
