"""Tiny Detector.fit runs on random 8x8 gray images (about a second each), for the tests of what a fitted Detector
records of its data and says of the run folder it fits into (test_detector_fit_data,
test_detector_run_replacement_warnings, test_cli_option_refusals), and the blob images and the no-training guard of
the tests of the Detector's parameters (test_detector_contract, test_detector_ablation_params)."""

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


def blob_images() -> np.ndarray:
    """16 gray 16x16 images (the tiny preset's smallest training set): a smooth blob plus a little noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:16, :16]
    base = 200.0 * np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / 20.0)
    return np.clip(base + rng.normal(0, 8, (16, 16, 16)), 0, 255).astype(np.uint8)


def refuse_training(monkeypatch: Any) -> None:
    """Make any training a test failure (for a parameter that must be refused before it)."""
    import pytest

    import wildgan.training.run as training_run

    monkeypatch.setattr(training_run, "train_run", lambda *a, **k: pytest.fail("trained before refusing the parameter"))
