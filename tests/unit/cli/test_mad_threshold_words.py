"""What `--threshold mad` is said to do: score's and export's help and the note after scoring say that it flags only
the training scores' outliers above median + K * 1.4826 * MAD (not a share of the images, so a clean fit may have
none), and the note counts the training images above the value it chose; where their MAD is 0 (more than half of
their scores tie) it says that the threshold is their median and also their highest score, which no --mad-k changes.
A user who expected mad to flag some share of the images, like contamination, is told why it flagged none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from repo_root import REPO


def test_mad_help_says_it_flags_only_outliers() -> None:
    """score's and export's help say that mad flags only outliers beyond median + K * 1.4826 * MAD, not a share of
    the images (on a clean fit it may flag none, as in every walkthrough run), and neither the help nor the README
    calls it "a robust alternative" to contamination."""
    from wildgan.cli import make_parser

    for cmd in ("score", "export"):
        sub = next(a for a in make_parser()._actions if a.dest == "cmd" or getattr(a, "choices", None))
        text = " ".join(sub.choices[cmd].format_help().split())
        assert "robust alternative" not in text
        assert "mad = only their outliers, above median + K * 1.4826 * MAD (not a share of them: on a clean fit " \
               "it may flag none)" in text, text
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "`--threshold mad` is a robust alternative" not in readme


def test_mad_note_says_what_it_flagged_and_none_with_its_value() -> None:
    """The note after scoring (score's and export's threshold line) says that mad flags only the training scores'
    outliers, how many training images lie above the threshold, and where none does, that it flags none of them,
    with the value it chose (more than the recorded k alone)."""
    import numpy as np

    from wildgan.cli import make_parser
    from wildgan.cli.threshold_notes import contamination_note
    from wildgan.thresholds import run_threshold

    a = make_parser().parse_args(["score", "RUN", "--out", "-", "--threshold", "mad"])
    clean = run_threshold(None, "unused", "mad", k=3.0, score="a",
                          train_scores={"a": np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.2])})
    assert clean.params["n_above"] == 0
    note = contamination_note(a, 0.0, clean)
    assert note.startswith("mad flags only outliers, training scores above median 1.025 + k * 1.4826 * MAD 0.075 "
                           "(k = 3), not a share of the images (--threshold contamination flags one)"), note
    assert note.endswith(f"; it flags none of the 6 training images: the threshold {clean.value:.6g} is above every "
                         f"one of their scores (a clean fit may have no outliers; --mad-k K below 3 flags more)"), note
    some = run_threshold(None, "unused", "mad", k=3.0, score="a",
                         train_scores={"a": np.array([1.0, 1.1, 0.9, 1.05, 0.95, 9.0])})
    assert some.params["n_above"] == 1
    assert contamination_note(a, 0.0, some).endswith("; 1 of the 6 training images lies above it")
    # without the threshold (a caller that has none): what the rule flags, without numbers
    assert contamination_note(a, 0.2) == ("mad flags only outliers, training scores above median + k * 1.4826 * MAD "
                                          "(k = 3), not a share of the images (--threshold contamination flags "
                                          "one)")


def test_mad_note_with_mad_0_says_the_threshold_is_their_highest_score() -> None:
    """With MAD 0 (more than half the training scores tied) and none above, the threshold is their median and their
    highest score: the note says that, not that it 'is above every one of their scores', which the tied images,
    scoring it exactly (unflagged because a flag is score > threshold, thresholds.Threshold.apply), belie."""
    import numpy as np

    from wildgan.cli import make_parser
    from wildgan.cli.threshold_notes import contamination_note
    from wildgan.thresholds import run_threshold

    a = make_parser().parse_args(["score", "RUN", "--out", "-", "--threshold", "mad"])
    train = np.array([0.5, 0.7, 0.7, 0.7, 0.7])
    thr = run_threshold(None, "unused", "mad", k=3.0, score="a", train_scores={"a": train})
    assert thr.params["mad"] == 0 and thr.params["n_above"] == 0 and thr.value == train.max()
    assert thr.apply(train).sum() == 0           # (the tied scores equal the threshold: not above it)
    note = contamination_note(a, 0.0, thr)
    assert "is above every one of their scores" not in note, note
    assert note.endswith("; it flags none of the 5 training images: the threshold 0.7 is their median and their "
                         "highest score (MAD 0: more than half of them tie there), and only a score above it is "
                         "flagged (no --mad-k flags more: with MAD 0 the threshold is the median whatever k)"), note


def test_score_threshold_mad_line_counts_the_training_images_above_it(
        cifar_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan score RUN --threshold mad`: the line says how many of the run's training images lie above the value
    it chose, which is what its cached training scores give."""
    import csv

    import numpy as np

    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    capsys.readouterr()
    assert main(["score", str(run), "--threshold", "mad", "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    line = err[err.index("threshold for score a:"):]
    assert "mad flags only outliers, training scores above median " in line, line
    train = np.array([float(r["a"]) for r in csv.DictReader((run / "train_scores.csv").open())])
    value = float(line.split("score > ")[1].split(" ")[0])
    above = int((train > value).sum())
    said = (f"it flags none of the {train.size} training images: the threshold {value:.6g} is above every one"
            if above == 0 else f"{above} of the {train.size} training images")
    assert said in line, line
