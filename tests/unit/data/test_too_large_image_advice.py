"""An image above twice Pillow's decompression-bomb limit (about 179 megapixels) was refused with Pillow's words
alone ('could be decompression bomb DOS attack'), while one between the limit and twice it is decoded with a warning
saying to cut it into tiles. The refusal now gives its size and the same advice; Pillow's check stays on (the limit
is lowered here to keep the images tiny)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.data.image_decode import read_image
from wildgan.errors import DataError


def test_a_jpeg_over_twice_the_limit_is_refused_with_its_size_and_what_to_do(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    big, huge = tmp_path / "big.jpg", tmp_path / "huge.jpg"
    Image.fromarray(np.zeros((8, 10), np.uint8)).save(big)          # 80 pixels: between the limit and twice it
    Image.fromarray(np.zeros((12, 30), np.uint8)).save(huge)        # 360 pixels: over twice the limit
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    with pytest.warns(UserWarning, match=r"big\.jpg: a very large image .*cut it into tiles"):
        read_image(big)
    with pytest.raises(DataError) as got:
        read_image(huge)
    said = str(got.value)
    assert said.startswith(f"{huge}: image too large to decode safely (30x12, 0 megapixels, over 0, twice "
                           f"Pillow's decompression-bomb limit)"), said
    assert "Cut it into tiles" in said and "export it smaller" in said, said
    assert Image.MAX_IMAGE_PIXELS == 50                              # the check left as it was


def test_the_size_is_read_from_pillows_message_where_its_check_is_not_in_the_traceback() -> None:
    from wildgan.data.image_decode import _too_large_error

    e = Image.DecompressionBombError("Image size (300000000 pixels) exceeds limit of 178956970 pixels, could be "
                                     "decompression bomb DOS attack.")
    said = str(_too_large_error("scan.jpg", e))
    assert said.startswith("scan.jpg: image too large to decode safely (300 megapixels, over 179, twice Pillow's "
                           "decompression-bomb limit)"), said
    assert "Cut it into tiles" in said, said
