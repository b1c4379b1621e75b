"""A lam changed after fit re-derives the training images' a (Detector._sync_scoring, detector._with_lam) the way
decision_function scores it: in float32, by scoring.scores.combined_score. It was recomputed in float64 from the
float32 L_n and L_o, a few 1e-9 away from decision_function's a, so that predict(X_train) flagged an image lying on
the threshold that labels_ did not."""

from __future__ import annotations

import copy

import numpy as np

from tests.helpers.tiny_detector_fit import fit_quietly, tiny_fit_kwargs
from wildgan import Detector


def test_predict_on_the_training_images_equals_labels_after_a_lam_change_bit_for_bit(tmp_path) -> None:
    # 21 images and contamination 0.05: the 95th percentile falls on the 20th score itself (0.95 * 20 = 19), so one
    # training image lies exactly on the threshold, where a last-bit difference flips its label
    x = np.random.default_rng(3).integers(0, 255, (21, 8, 8), dtype=np.uint8)
    det = fit_quietly(Detector(contamination=0.05, **tiny_fit_kwargs(tmp_path / "run")), x)
    for lam in (0.3, 0.5, 0.7, 0.123456, 0.9, 1.0, 0.0):
        d = copy.copy(det).set_params(lam=lam)
        assert d.threshold_ in d.decision_scores_, lam             # what makes the labels below a test at all
        scores = d.decision_function(x)
        np.testing.assert_array_equal(scores, d.decision_scores_, err_msg=f"lam {lam}")
        np.testing.assert_array_equal(d.predict(x), d.labels_, err_msg=f"lam {lam}")
    # and back to the fitted lam: the fit's own scores, unchanged
    back = copy.copy(det).set_params(lam=0.3).set_params(lam=det.lam)
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)
