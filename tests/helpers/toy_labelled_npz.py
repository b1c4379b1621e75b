"""The smallest labelled .npz data sets the CLI and a study run on in seconds: for the tests of `wildgan study`
(test_study_command, test_study_tables_header), of runs read back with the encoder loss none
(test_untrained_encoder_runs), of commands run without output streams (test_cli_streams_and_teardown), of a
flag typed beside a run's config file (test_run_config_flags) and of what a run records to be reproduced
(test_reproducibility_record)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def toy_npz(where: Path, size: int = 8) -> Path:
    """80 size x size gray images in two classes (class 1 darker), as where/toy.npz (where/toy32.npz for size 32, and
    so on) with labels: a study's smallest data."""
    rng = np.random.default_rng(0)
    p = where / ("toy.npz" if size == 8 else f"toy{size}.npz")
    x = (rng.random((80, size, size)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(p, x=x, y=np.repeat([0, 1], 40))
    return p


def labelled_npz(where: Path) -> Path:
    """60 random 8x8 gray images with alternating labels 0/1, as where/tiny.npz."""
    rng = np.random.default_rng(0)
    p = where / "tiny.npz"
    np.savez(p, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    return p
