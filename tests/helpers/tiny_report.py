"""The tiny run whose report the report's tests read (test_report) and a real browser renders
(tests/integration/test_report_browser): trained and reported once per session in the session's basetemp, so that
both share the one run directory; the report's top-k images are TOP_K."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.evaluation.report import report

TOP_K = 3


def build_tiny_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train a tiny 16x16 MNIST run (0.5 kimg) and write its report once per session (per pytest-xdist worker: each
    has its own basetemp); returns the run dir."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    run_dir = tmp_path_factory.getbasetemp() / "report-tiny-run"
    if (run_dir / "report" / "report.html").is_file():
        return run_dir
    cfg = RunConfig(data=DataConfig(data=None, normal=("0",), resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.5, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"],
                                      checkpoint_kimg=1.0, device="cpu", log_every=5),
                    preset="tiny")
    train_run(cfg, run_dir, progress=False, log=lambda m: None)
    # one named image (a test image saved as a file) and random masks exercise --image and the pixel AUC path
    from wildgan.evaluation.run import split_for_run

    split = split_for_run(run_dir)
    named = run_dir.parent / "report-named.png"
    Image.fromarray(split.test_x[0, ..., 0]).save(named)
    masks = np.random.default_rng(0).random(split.test_x.shape[:3]) > 0.9
    # t-SNE on a 150-point subsample: sklearn's t-SNE of all 400 test latents alone takes ~10 s on 2 cores
    report(run_dir, top_k_images=TOP_K, images=[named], masks=masks, device="cpu", tsne_points=150)
    return run_dir
