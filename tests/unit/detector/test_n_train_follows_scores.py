"""n_train_ counts the training scores decision_scores_ holds (from_run's docstring: with skip_bad, "n_train_ and
threshold_rule_.params['n'] count the images scored"). A set_params of batch_mode whose training scores were computed
again from the run's data, a file unreadable since training left out, re-derived decision_scores_, labels_ and the
threshold from 19 images and left n_train_ at the 20 of the cached protocol."""

from __future__ import annotations

import warnings
from pathlib import Path

from png_piles import gray_png_pile

from wildgan import Detector


def test_n_train_follows_the_scores_another_protocol_reads(tmp_path: Path):
    pile, run = gray_png_pile(tmp_path / "pile", 20, digits=2), tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (networks not grown, a short training)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 run_dir=str(run)).fit(str(pile))
    for f in run.glob("train_scores-isolated*"):
        f.unlink()                              # the mixed protocol's cache stays; the isolated one is read again
    good = (pile / "03.png").read_bytes()
    (pile / "03.png").write_bytes(good[:40])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (the skipped file is named in a warning)
        det = Detector.from_run(run, skip_bad=True)
        assert det.n_train_ == len(det.decision_scores_) == 20
        det.set_params(batch_mode="isolated")
    assert len(det.decision_scores_) == len(det.labels_) == det.threshold_rule_.params["n"] == 19
    assert det.n_train_ == 19
