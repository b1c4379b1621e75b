"""The note `wildgan score --threshold mad` gives about the training images where their MAD is 0 (more than half of
their scores tie): the threshold is then their median, which is also their highest score, and the note must say so
exactly, since the tied images score the threshold itself and are not flagged only because a flag is a score above it.
A user reading 'it flags none' must learn why, and that no --mad-k changes it."""

from __future__ import annotations

import numpy as np


def test_mad_note_with_mad_0_says_the_threshold_is_their_highest_score() -> None:
    """With MAD 0 (more than half the training scores tied) and none above, the threshold is their median and their
    highest score: the note says that, not that it 'is above every one of their scores', which the tied images,
    scoring it exactly (unflagged because a flag is score > threshold, thresholds.Threshold.apply), belie."""

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
