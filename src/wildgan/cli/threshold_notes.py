"""score's and export's --threshold: the rule's parameter that Detector.fit recorded (`take_fit_record`), and the
threshold line each command prints, with where its c or k came from (`contamination_note`, `threshold_lines`)."""

from __future__ import annotations

import argparse
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..config import DEFAULT_CONTAMINATION
from .common import option_flag, option_given, warn

if TYPE_CHECKING:
    from ..thresholds import Threshold


def take_fit_record(a: argparse.Namespace, run_dir: Path,
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

    a.fit_record, a.fit_record_not, a.fit_record_score = None, "", None
    dest = {"contamination": "expected_contamination", "mad": "mad_k"}.get(a.threshold or "")
    if dest is None or option_given(a, dest):
        return
    path = run_dir / FIT_THRESHOLD_FILE
    option = "--expected-contamination" if dest == "expected_contamination" else "--mad-k"
    # (the library's rule, run_threshold's and export_onnx's too; said as the CLI says its warnings)
    value, a.fit_record_not = follow_fit_record(
        run_dir, a.threshold, lookup, warn=lambda m: warn(f"warning: {m}"),
        fallback=f"--threshold {a.threshold} takes the default {option} {getattr(a, dest):g}")
    if value is not None:
        setattr(a, dest, value)
        a.fit_record = path
        # the score fit flagged by, for the threshold line (_fit_score_note): fit's c (k) is taken for any --score,
        # and a Detector fit with score='L_r' was thresholded by `wildgan score RUN --threshold contamination` by a,
        # the command's default, flagging other images than det.predict and from_run(RUN) flag, without a word
        from ..thresholds import read_fit_threshold

        got = read_fit_threshold(run_dir)
        a.fit_record_score = str(got[0].params.get("score") or "") if got is not None else None


def _fit_score_note(a: argparse.Namespace, thr: Threshold | None) -> str:
    """Where Detector.fit's recorded c (k) was taken but fit flagged by another score than this command's: that
    score, and the --score that flags as the fitted Detector and Detector.from_run(RUN) flag ('' otherwise)."""
    fit_score = getattr(a, "fit_record_score", None)
    score = thr.params.get("score") if thr is not None else None
    if getattr(a, "fit_record", None) is None or not fit_score or not score or fit_score == score:
        return ""
    return (f"; Detector.fit flagged by {fit_score}, not {score} (as det.predict and Detector.from_run(RUN) do): "
            f"--score {fit_score} flags as they do")


def _fit_record_note(a: argparse.Namespace) -> str:
    """Where the parameter of --threshold mad came from, when it was Detector.fit's record or a record of this rule
    not taken ('' otherwise); for contamination, contamination_note says it."""
    if a.threshold != "mad":
        return ""
    if getattr(a, "fit_record", None) is not None:
        return f"k = {float(a.mad_k):g} (Detector.fit's, recorded in {a.fit_record}; --mad-k K chooses another)"
    if getattr(a, "fit_record_not", ""):
        return f"k = {float(a.mad_k):g} (the default --mad-k; {a.fit_record_not})"
    return ""


def _mad_note(a: argparse.Namespace, thr: Threshold | None) -> str:
    """What --threshold mad flags, for score's and export's threshold line: only the training scores' outliers, not a
    share of the images (its help called it a robust alternative and nothing more, and in every walkthrough run it
    flagged none of the training images, without a word); with the threshold (run_threshold's, whose params give its
    median, MAD and n_above), how many training images lie above it, and where none does, that it flags none, with
    its value. After where its k came from (_fit_record_note)."""
    p = thr.params if thr is not None and thr.rule == "mad" else {}
    k = float(p.get("k", a.mad_k))
    med, mad = p.get("median"), p.get("mad")
    known = isinstance(med, (int, float)) and isinstance(mad, (int, float))
    bound = f"median {med:.6g} + k * 1.4826 * MAD {mad:.6g}" if known else "median + k * 1.4826 * MAD"
    note = (f"mad flags only outliers, training scores above {bound} (k = {k:g}), not a share of the images "
            f"(--threshold contamination flags one)")
    n, above = p.get("n"), p.get("n_above")
    if thr is not None and isinstance(n, int) and isinstance(above, int):
        if above:
            note += f"; {above} of the {n} training images {'lies' if above == 1 else 'lie'} above it"
        elif known and mad == 0:
            # MAD 0: more than half of the training scores tie at their median, which is the threshold whatever k;
            # with none above it, it is also their highest score. Said before as 'above every one of their scores',
            # while the tied images score the threshold itself: unflagged only because a flag is score > threshold
            note += (f"; it flags none of the {n} training images: the threshold {thr.value:.6g} is their median "
                     f"and their highest score (MAD 0: more than half of them tie there), and only a score above it "
                     f"is flagged (no --mad-k flags more: with MAD 0 the threshold is the median whatever k)")
        else:
            # (a lower k helps only where the scores spread)
            lower = f"; --mad-k K below {k:g} flags more" if k > 0 and known else ""
            note += (f"; it flags none of the {n} training images: the threshold {thr.value:.6g} is above every "
                     f"one of their scores (a clean fit may have no outliers{lower})")
    record = _fit_record_note(a)
    return f"{record}; {note}" if record else note


def contamination_note(a: argparse.Namespace, gamma: float, thr: Threshold | None = None,
                       rounded: tuple[int, int] | None = None) -> str:
    """For score's and export's threshold line: the c that --threshold contamination used and where it came from,
    beside the run's training contamination γ (its config's data.contamination). The default c is not γ: a study's run
    knows its γ (the report's Threshold section gives c = γ a row of its own), and a run on the user's own data
    records γ = 0 with its real share of anomalies unknown, so c is the user's to give (or Detector.fit's record of
    it: take_fit_record). The mad rule's note says what it flags (_mad_note; thr: the threshold chosen, for its
    count of training images above it), after where its k came from. rounded: (normal, anomalous) training images
    where the rounding of the anomaly count made the run's share of anomalies other than γ (data.splits.
    rounded_contamination): that share is said, not γ, which its training images do not hold."""
    if a.threshold == "mad":
        return _mad_note(a, thr) + _fit_score_note(a, thr)
    if a.threshold != "contamination":
        return _fit_record_note(a)
    c = float(a.expected_contamination)
    given = option_given(a, "expected_contamination")
    record = getattr(a, "fit_record", None)
    # (the percentile, not "c of the training images score above it": that share is only near c, e.g. 4 of 64
    # above the 95th percentile, and 2 of 24)
    skipped = getattr(a, "fit_record_not", "")
    origin = ("as given" if given else
              f"Detector.fit's, recorded in {record}; --expected-contamination G chooses another" if record else
              "the default --expected-contamination" + (f"; {skipped}" if skipped else ""))
    note = f"c = {c:g} ({origin}): the threshold is percentile {100 * (1 - c):g} of the training images' scores"
    if rounded is not None:
        from ..data.splits import rounded_share

        n_n, n_a = rounded
        share = rounded_share(rounded)
        note += (f"; this run asked for a share γ = {gamma:g} of anomalies, which rounding made "
                 + (f"{n_a} anomalous image{'s' if n_a != 1 else ''} beside its {n_n} normal ones (a share of "
                    f"{share:g})" if n_a else f"none beside its {n_n} normal training images: they are clean"))
        if n_a and not math.isclose(c, share):
            # (the report's row of this c is the share too: it named γ, which this line no longer does)
            row = "row of that share" if share != DEFAULT_CONTAMINATION else \
                f"first rule, c = {DEFAULT_CONTAMINATION:g}"
            note += f": --expected-contamination {share:g} sets c to it (the report's {row})"
    elif 0 < gamma <= 0.5 and not math.isclose(c, gamma):
        # (the report gives c = γ a row of its own only when γ is not the default c, whose row is its first)
        row = "'c = γ' row" if gamma != DEFAULT_CONTAMINATION else f"first rule, c = {DEFAULT_CONTAMINATION:g}"
        note += (f"; this run was trained with a share γ = {gamma:g} of anomalies: --expected-contamination "
                 f"{gamma:g} sets c = γ (the report's {row})")
    elif gamma == 0 and not given and not record:
        note += ("; the run records γ = 0 (clean training images, or your own data with an unknown share of "
                 "anomalies): --expected-contamination G sets the share you expect")
    return note + _fit_score_note(a, thr)


def threshold_lines(text: str, width: int = 100) -> str:
    """score's and export's threshold line, with its c / k note, wrapped to `width` columns, continuation lines
    indented: one line of ~400 characters did not read in a terminal. Words stay whole (a path, a flag:
    --expected-contamination is not split at its hyphens), so a line with a long path can be wider."""
    return textwrap.fill(text, width=width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def warn_unused_threshold_options(a: argparse.Namespace, dests: Sequence[str], without: str) -> None:
    """score / export: the option the chosen --threshold rule does not read, or (without --threshold) the given
    `dests` that only matter with one, said to be ignored (`without`: what is then not written)."""
    if a.threshold:
        unused = "mad_k" if a.threshold == "contamination" else "expected_contamination"
        if option_given(a, unused):
            warn(f"warning: {option_flag(unused)} is not used by --threshold {a.threshold}")
        return
    given = [o for o in dests if option_given(a, o)]
    if given:
        warn(f"warning: {', '.join(option_flag(o) for o in given)} "
             f"{'only matters' if len(given) == 1 else 'only matter'} with --threshold: {without} is written "
             f"without it")
