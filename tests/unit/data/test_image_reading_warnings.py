"""The warnings said while reading a folder or archive of images, which tell the user how their images were changed
to train on (resized, centre-cropped, made gray or colour, 16-bit stretched): the mixed-sizes warning of photos each
of its own size says so rather than naming arbitrary sizes as common; and a data set read again from its decoded
cache says the decode's warnings again, all of them and in the decode's order, so that a second run's log tells the
same as the first's."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from png_piles import gray_png_pile

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_mixed_sizes_warning_of_sizes_each_seen_once_says_so(tmp_path: Path) -> None:
    from wildgan.data import load_dataset

    # photos of their own sizes, each size once: 'most common: 12x10 (1), ...' would name arbitrary sizes as common
    gray_png_pile(tmp_path / "d", 5, [(12, 10), (9, 14), (16, 16), (8, 11), (20, 13)])
    with pytest.warns(UserWarning) as got:
        load_dataset(tmp_path / "d")
    said = [str(w.message) for w in got if "different sizes" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in got]
    assert "most common" not in said[0], said
    smallest = tmp_path / "d" / "003.png"             # 8x11, the smallest in area
    assert f"5 different sizes (each once; widths 8-20, heights 10-16 px), the smallest, 8x11: {smallest};" \
        in said[0], said


def _tree_tar(where: Path, image: Callable[[str, int, np.random.Generator], np.ndarray]) -> Path:
    """A .tar.gz of an image-folder tree (train/ and test/, classes a and b, 4 images each: image(class, i, rng))."""
    import tarfile

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            d = where / "tree" / split / cls
            d.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(image(cls, i, rng)).save(d / f"{i}.png")
    archive = where / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(where / "tree", arcname="tree")
    return archive


def _said_reading(archive: Path, cache: Path) -> list[tuple[type[Warning], str, int, str]]:
    """What reading `archive` says, as the user sees it: each warning's category, file, line and text, in order."""
    from wildgan.data import load_dataset

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_dataset(archive, cache_dir=str(cache), progress=False)
    return [(w.category, w.filename, w.lineno, str(w.message)) for w in said]


def test_a_decoded_caches_tiny_images_warning_is_said_where_the_decode_said_it(tmp_path: Path) -> None:
    """A tree of images of several sizes, a 2x2 among 64x64 ones in each split: the decode says each split's mixed
    sizes, then its tiny images; read from the decoded cache, each tiny-images warning is said in the same place, not
    after all the mixed-size ones (as it would be were their record said apart, after the data's warnings)."""
    archive = _tree_tar(tmp_path, lambda c, i, rng: rng.integers(0, 255, (2, 2, 3) if i == 0 else (64, 64, 3),
                                                                  dtype=np.uint8))
    first = _said_reading(archive, tmp_path / "cache")
    assert [("different sizes" in t, "far smaller" in t) for *_, t in first] == \
        [(True, False), (False, True)] * 2, first
    assert _said_reading(archive, tmp_path / "cache") == first


def test_a_decoded_caches_gray_and_colour_warning_is_said_before_its_16_bit_ones_as_the_decode_said_it(
        tmp_path: Path) -> None:
    """Class a of 16-bit gray images, class b of 8-bit colour ones: the decode says the gray/colour mix, then the
    8-bit and 16-bit mix and the 16-bit stretching (read_folder's order); read from the decoded cache, the gray/colour
    warning is said first too, not last."""
    archive = _tree_tar(tmp_path, lambda c, i, rng: rng.integers(0, 65535, (16, 16), dtype=np.uint16) if c == "a"
                        else rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    first = _said_reading(archive, tmp_path / "cache")
    assert [("gray images are" in t, "16-bit" in t) for *_, t in first] == [(True, False), (False, True),
                                                                           (False, True)], first
    assert _said_reading(archive, tmp_path / "cache") == first


def test_a_decoded_caches_centre_crop_warning_is_said_again(tmp_path: Path) -> None:
    """A tree of non-square images of two sizes (decoded whole, not at native size): the decode says each split's
    mixed sizes, then that the images are centre-cropped; read from the decoded cache, the crop's warning is said
    again too, not lost."""
    archive = _tree_tar(tmp_path, lambda c, i, rng: rng.integers(0, 255, (16, 24, 3) if i % 2 else (20, 30, 3),
                                                                  dtype=np.uint8))
    first = _said_reading(archive, tmp_path / "cache")
    assert [("different sizes" in t, "centre-cropped to a square" in t) for *_, t in first] == \
        [(True, False), (True, False), (False, True)], first
    assert _said_reading(archive, tmp_path / "cache") == first


def test_a_decoded_caches_warnings_are_worded_for_its_reader_not_for_the_decode_s(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """The decode's warnings said again from its cache were its own texts: a `wildgan train` read told a later Python
    caller of --resolution 16 and --square letterbox, and a wildgan-method read told a later f-AnoGAN run (whose
    networks take 32 or 64 only) that --resolution 16 keeps to the images' size, which that run refuses; a resume
    (resolution settled) was advised another resolution. Each reader of the cache is told them in its own words."""
    from contextlib import ExitStack

    from wildgan.data import decode_pool, readers
    from wildgan.data.imageset import FANOGAN_SIZES, resolution_settled, resolutions_taken
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    sizes = [(20, 30), (22, 30), (20, 28)]           # median short side 20: made 32x32, 1.6x
    archive = _tree_tar(tmp_path, lambda c, i, rng: rng.integers(0, 256, (*sizes[i % 3], 3), dtype=np.uint8))
    decodes: list[int] = []
    real = decode_pool.decode_files
    monkeypatch.setattr(readers, "decode_files", lambda *a, **k: decodes.append(1) or real(*a, **k))

    def said(*within) -> tuple[str, str]:
        with ExitStack() as stack:
            for cm in within:
                stack.enter_context(cm)
            texts = [t for *_, t in _said_reading(archive, tmp_path / "cache")]
        (mixed,) = [t for t in texts if "tree/train: images of 3 different sizes" in t]   # (and tree/test's)
        (crop,) = [t for t in texts if "centre-cropped to a square" in t]
        return mixed, crop

    mixed, crop = said(skip_bad_said_as(CLI_SKIP_BAD))          # the decode, in a command of the CLI
    assert "1.6x" in mixed and "--resolution 16 keeps to their size" in mixed and "--square letterbox" in crop
    n = len(decodes)
    mixed, crop = said()                                        # a Python caller, from the cache
    assert "resolution=16 keeps to their size" in mixed and "--" not in mixed + crop, (mixed, crop)
    assert "DataConfig(square='letterbox')" in crop, crop
    mixed, _ = said(resolutions_taken(*FANOGAN_SIZES))          # f-AnoGAN's sizes
    assert "f-AnoGAN's networks take 32x32 or 64x64 only, none of them smaller" in mixed, mixed
    assert "keeps to their size" not in mixed, mixed
    mixed, _ = said(resolution_settled())                       # a resume: its resolution is its own
    assert "enlarges them" not in mixed and "(choose another with resolution=)" in mixed, mixed
    mixed, _ = said(skip_bad_said_as(CLI_SKIP_BAD))             # and the command's words again
    assert "--resolution 16 keeps to their size" in mixed, mixed
    assert len(decodes) == n, "read again, not from the decoded cache"
