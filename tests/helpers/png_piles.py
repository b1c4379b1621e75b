"""Folders of small random gray PNGs, the "pile of one's own images" the README's quick tour trains on, for the tests
of the commands run on such a pile (test_decoding_bar_and_eta_probe, test_image_reading_warnings,
test_not_grown_warnings, test_info_run, test_report_named_images_as_score, and conftest's pile_run_gone_bad and
fit_run_gone_bad)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def gray_png_pile(where: Path, n: int = 20, sizes: list[tuple[int, int]] | None = None, digits: int = 3) -> Path:
    """A new folder `where` of `n` loose gray PNGs 000.png, 001.png, ... (8x8, or sizes[i] as (width, height)),
    their numbers `digits` wide (2: 00.png, 01.png, ..., the names the tests of a damaged training file name)."""
    rng = np.random.default_rng(0)
    where.mkdir(parents=True)
    for i in range(n):
        w, h = sizes[i] if sizes else (8, 8)
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(where / f"{i:0{digits}d}.png")
    return where


def gray_pngs_named(where: Path, names: list[str]) -> Path:
    """Random 8x8 gray PNGs at where/name for each name (which may hold a class folder, as "a/000.png")."""
    rng = np.random.default_rng(0)
    for name in names:
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(where / name)
    return where
