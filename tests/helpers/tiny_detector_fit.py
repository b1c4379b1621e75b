"""Tiny Detector.fit runs on random 8x8 gray images (about a second each), for the tests of what a fitted Detector
records of its data and says of the run folder it fits into (test_detector_fit_data,
test_detector_run_replacement_warnings, test_cli_option_refusals)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from wildgan import Detector
from wildgan.errors import WildganWarning

# a tiny fit of 8x8 images (about a second; it ends at 4x4, whose warning is not what is tested)
FIT: dict[str, Any] = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                           seed=5)


def random_images(seed: int = 0) -> np.ndarray:
    """20 random 8x8 gray images (uint8)."""
    return np.random.default_rng(seed).integers(0, 255, (20, 8, 8), dtype=np.uint8)


def fit_quietly(det: Detector, X: Any, **kw: Any) -> Detector:
    """det.fit(X, **kw) with wildgan's own warnings (a fit this short ends at 4x4) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        return det.fit(X, **kw)


def tiny_fit_kwargs(run_dir: Path) -> dict[str, Any]:
    """FIT's fit into run_dir, with the Detector's default seed."""
    return dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                run_dir=str(run_dir))
