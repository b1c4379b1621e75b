"""Detector.heatmaps (and decision_function) of non-square images: they are centre-cropped to a square as the
training images were, and a defect near a long edge is cut off before the map is drawn; the fit said so of its
training images, the maps of the same images as arrays said nothing (the reader's side:
tests/unit/data/test_scored_images_crop_warning.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.filterwarnings("ignore:training ended at")
@pytest.mark.filterwarnings("ignore:fit trained")
def test_a_detectors_heat_maps_of_non_square_images_say_their_edges_were_cropped(mnist) -> None:
    from wildgan import Detector

    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, resolution=16, device="cpu",
                   threads=1).fit(mnist["x_train"][:32])
    wide = np.concatenate([mnist["x_test"][:4], mnist["x_test"][4:8, :, :14]], axis=2)     # 28 x 42
    for call in (det.heatmaps, det.decision_function):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            call(wide)
        crops = [str(w.message) for w in got if "centre-cropped to a square" in str(w.message)]
        assert len(crops) == 1 and "42x28" in crops[0], (call.__name__, crops)
        assert "resize_mode='letterbox'" in crops[0], crops
