"""Images scored with a fitted model (the Python API's to_images: Detector.decision_function, heatmaps, score_all,
predict; `wildgan score` of an array data set read whole) are centre-cropped to a square as training images are; a
defect near a long edge is then cut off before any score or heat map sees it. Detector.fit and `wildgan score` of
image files said so; scoring the same images as arrays, PIL images or a list of paths said nothing, so a heat map
of a cropped image showed no trace of what was cut off, and no word of the crop."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CROP = "centre-cropped to a square"


def _said(call) -> list[str]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in got]


@pytest.mark.parametrize("kind", ["arrays", "pil", "paths"])
def test_non_square_images_to_score_are_said_to_lose_their_edges(tmp_path: Path, kind: str) -> None:
    from wildgan.data.inputs import to_images

    rng = np.random.default_rng(0)
    wide = rng.integers(0, 256, (3, 16, 24), dtype=np.uint8)     # 16 x 24: a third of each image cropped off
    if kind == "arrays":
        X = wide
    elif kind == "pil":
        X = [Image.fromarray(a) for a in wide]
    else:
        X = []
        for i, a in enumerate(wide):
            Image.fromarray(a).save(tmp_path / f"{i}.png")
            X.append(tmp_path / f"{i}.png")
    said = _said(lambda: to_images(X, 16, 1))
    crops = [t for t in said if CROP in t]
    assert len(crops) == 1, said
    assert "24x16" in crops[0] and "33%" in crops[0], crops


def test_square_letterboxed_or_padded_images_to_score_are_not_said_to_be_cropped() -> None:
    from wildgan.data.inputs import to_images

    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (3, 16, 16), dtype=np.uint8)
    wide = rng.integers(0, 256, (3, 16, 24), dtype=np.uint8)
    assert not [t for t in _said(lambda: to_images(square, 16, 1)) if CROP in t]
    assert not [t for t in _said(lambda: to_images(wide, 16, 1, resize_mode="letterbox")) if CROP in t]
    # (the MNIST protocol's rule: an image no larger than the resolution is zero-padded, nothing lost)
    assert not [t for t in _said(lambda: to_images(wide[:, :12, :14], 16, 1, resize_mode="pad")) if CROP in t]
