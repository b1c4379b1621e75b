"""The warnings a fitted Detector gives advise what works on that very Detector. After a short training on images
without labels, Detector.fit says what `wildgan train`'s next step and the report say (README, 'Which score after a
short training'): rank and flag by L_r, not by the default `a`; one threshold (config.SHORT_TRAINING_KIMG,
config.short_training) for the CLI and the API, so that the two cannot disagree. A Detector read from a run and asked
to score a small batch in batch mode 'mixed' advises set_params(batch_mode='isolated'), which works on it without
training again."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from loose_image_piles import train_pile_run

from wildgan import Detector, WildganWarning
from wildgan.config import DataConfig
from wildgan.data import default_sample_path

pytestmark = pytest.mark.usefixtures("one_thread")

# 16 images of 8x8, 64 images shown (whole rounds of minibatches): seconds (its networks stop at 4x4, as fit warns)
SHORT = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1)
SAID = "a short training (under"


def _short_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, WildganWarning) and SAID in str(w.message)]


def _fit(det: Detector, X: object, **kw: object) -> tuple[Detector, list[str]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        det.fit(X, **kw)
    return det, _short_warnings(record)


@pytest.fixture(scope="module")
def pile(mnist) -> np.ndarray:
    return mnist["x_train"][:16]


@pytest.fixture(scope="module")
def pile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny `wildgan train` run on a pile of 40 loose images, and 6 new images beside it in `new/`."""
    return train_pile_run(tmp_path_factory.mktemp("pile"))


def test_short_unlabelled_fit_warns_once_naming_L_r(pile: np.ndarray, tmp_path: Path) -> None:
    det, said = _fit(Detector(**SHORT, run_dir=str(tmp_path / "run")), pile)
    assert len(said) == 1, said
    msg = said[0]
    assert "0.064 kimg" in msg and "under 100 kimg" in msg, msg
    assert "set_params(score='L_r')" in msg and "Detector(score='L_r'" in msg, msg
    assert "Which score after a short training" in msg, msg
    # the run's log.txt has it too, as a CLI run's log has its warnings
    assert (tmp_path / "run" / "log.txt").read_text(encoding="utf-8").count(SAID) == 1
    # what it advises works on the fitted Detector, no training again: its derived state follows the new score
    a_scores = det.decision_scores_.copy()
    det.set_params(score="L_r")
    assert det.score_ == "L_r" and not np.allclose(det.decision_scores_, a_scores)
    # and a folder of loose files (the CLI's pile) is said the same
    folder = tmp_path / "pile"
    folder.mkdir()
    from PIL import Image

    for i, im in enumerate(pile):
        Image.fromarray(im).save(folder / f"{i:02d}.png")
    assert len(_fit(Detector(**SHORT), str(folder))[1]) == 1


def test_no_warning_where_a_is_not_the_score_or_labels_can_check_it(pile: np.ndarray, mnist) -> None:
    # the score advised, or another chosen
    assert _fit(Detector(**SHORT, score="L_r"), pile)[1] == []
    assert _fit(Detector(**SHORT, score="L_n"), pile)[1] == []
    # labels: a labelled data set's test split (`wildgan evaluate` shows a against its controls) ...
    spec = DataConfig(data=str(default_sample_path()), dataset="mnist", normal=("0",))
    assert _fit(Detector(**SHORT), spec)[1] == []
    # ... or the labelled validation set of threshold='f1'
    x_val, y_val = mnist["x_test"][::100], (mnist["y_test"][::100] != 0).astype(int)    # (sorted by class)
    assert _fit(Detector(**SHORT, threshold="f1"), pile, X_val=x_val, y_val=y_val)[1] == []
    # while an unlabelled DataConfig is a pile as a folder is
    assert len(_fit(Detector(**SHORT), DataConfig(data=str(default_sample_path()), dataset="unlabelled"))[1]) == 1


def test_long_schedule_does_not_warn_at_the_cli_threshold(pile: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API and `wildgan train`'s next step read one threshold: at 0.064 kimg the fit of 64 images is no longer
    short for either (a long schedule, in small); at 0.065, one image more, both call it short."""
    import wildgan.config as config
    from wildgan.cli.train import _say_next_after_train

    class Split:
        info = {"protocol": "unlabelled"}

    for threshold, short in ((0.064, False), (0.065, True)):
        monkeypatch.setattr(config, "SHORT_TRAINING_KIMG", threshold)
        assert len(_fit(Detector(**SHORT), pile)[1]) == int(short), threshold
        lines: list[str] = []
        monkeypatch.setattr("wildgan.cli.train.eprint", lambda *a, **k: lines.append(" ".join(map(str, a))))
        _say_next_after_train(Path("runs/x"), Split(), "wildgan", 64)     # type: ignore[arg-type]
        assert ("--score L_r" in lines[0]) is short, (threshold, lines)


def test_fanogan_short_fit_does_not_warn(pile: np.ndarray) -> None:
    # f-AnoGAN's own score is A, not the jointly trained encoder's a (at width 16: the warning is of the method and
    # the training's length, not of the networks' width, whose official 64 made this fit 19 s on 2 loaded cores)
    det = Detector("fanogan", total_kimg=0.032, resolution=32, device="cpu", threads=1, width=16)
    assert _fit(det, pile)[1] == []


def test_the_small_batch_warning_of_a_fitted_detector_advises_what_works_on_it(pile_run: Path) -> None:
    # a Detector (here one read from a run) is told how to score a small batch alone in its own terms,
    # set_params(batch_mode='isolated'), not only in the command line's --batch-mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        det = Detector.from_run(pile_run, device="cpu")
    one = sorted((pile_run.parent / "new").iterdir())[:1]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        det.decision_function(one)
    texts = [str(w.message) for w in said if "batch mode 'mixed'" in str(w.message)]
    assert texts, f"no small-batch warning: {[str(w.message) for w in said]}"
    # the advice as given works on this Detector: set_params, which re-derives its threshold from the run
    det.set_params(batch_mode="isolated")
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        det.decision_function(one)
    assert not [w for w in again if "batch mode 'mixed'" in str(w.message)]
    assert "set_params(batch_mode='isolated')" in texts[0], f"the advice names no way for this Detector: {texts[0]}"
