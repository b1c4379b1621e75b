"""Folders of loose images (an unlabelled pile, as a user points `wildgan train --data` at one) and a finished tiny
`wildgan train` run on such a pile, as the README's quick tour trains one: for the tests of the CLI's refusals and
output streams (test_cli_option_refusals, test_cli_streams_and_teardown), of what a pile run's report says
(test_report_of_a_pile_run, test_report), of how score and report skip a pile's bad files (test_cli) and of the
advice a Detector read from it gives (test_detector_warning_advice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def rgb_pile(folder: Path, n: int = 20) -> Path:
    """A new folder of n loose random 16x16 RGB images: an unlabelled pile."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def train_pile_run(where: Path) -> Path:
    """A finished tiny `wildgan train --data PILE/` run (where/run) on a folder of 40 loose 8x8 gray PNGs (where/pile,
    an unlabelled pile, with its training scores cached), and 6 new images beside it in where/new."""
    from wildgan.cli import main

    rng = np.random.default_rng(0)
    (where / "pile").mkdir()
    (where / "new").mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(where / "pile" / f"{i:03d}.png")
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(where / "new" / f"n{i}.png")
    run = where / "run"
    assert main(["train", "--data", str(where / "pile"), "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    assert (run / "train_scores.csv").is_file()
    return run


def tiny_run_on_a_noise_pile(tmp_path: Path) -> tuple[Path, Path, np.random.Generator]:
    """An unlabelled pile of 20 random 8x8 PNGs (tmp_path/pile), a tiny run trained on it (tmp_path/run), and the
    generator that drew them, for more images like them."""
    from wildgan.cli import main

    pile, run = tmp_path / "pile", tmp_path / "run"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                 "--total-kimg", "0.032", "--phase-kimg", "0.1", "--out", str(run)]) == 0
    return pile, run, rng
