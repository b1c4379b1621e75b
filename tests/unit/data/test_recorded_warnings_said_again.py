"""A warning recorded while data is read and said again later is said one way, whichever path says it again:
decode_pool's pool workers, inputs' readers of a data-set file, dataset_files.named_in_archive, or a decoded cache
read instead of decoding. wildgan's own warnings point at the user's line, another library's at its own file and
line (once per place), and a second read from the decoded cache says what the first read's decode said. A user sees
the same warnings about their data on every read, each pointing at the line of their own code that caused it."""

from __future__ import annotations

import tarfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from wildgan.errors import WildganWarning


def _tree_tar(where: Path, sides: tuple[int, ...] = (16, 20, 16, 20), *, other: bool = False,
              depth16: bool = False) -> Path:
    """A .tar.gz of an image-folder tree (train/ and test/, classes a and b) whose images have the given sides
    (16-bit gray ones: depth16); other: a file of an unsupported image format in each class folder."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            d = where / "tree" / split / cls
            d.mkdir(parents=True)
            for i, side in enumerate(sides):
                pixels = rng.integers(0, 65535, (side, side), dtype=np.uint16) if depth16 else \
                    rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(d / f"{i}.png")
            if other:
                (d / "photo.heic").write_bytes(b"not read")
    archive = where / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(where / "tree", arcname="tree")
    return archive


def _read(archive: Path, cache: Path) -> list[warnings.WarningMessage]:
    from wildgan.data import load_dataset

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_dataset(archive, cache_dir=str(cache), progress=False)
    return [w for w in said if issubclass(w.category, WildganWarning)]


def test_an_archives_warnings_point_at_the_callers_line_not_at_contextlib(tmp_path: Path) -> None:
    # named_in_archive says its renamed warnings again from a generator's exit: they point at the user's line (this
    # file), not at the first frame outside wildgan there, contextlib's __exit__ ('contextlib.py:144: ...')
    said = _read(_tree_tar(tmp_path), tmp_path / "cache")
    assert said, "the mixed sizes are warned about"
    assert all(w.filename == __file__ for w in said), [(w.filename, w.lineno) for w in said]
    assert all("data.tar.gz:tree/" in str(w.message) for w in said), [str(w.message) for w in said]


# each path records another library's warning and wildgan's, each twice (as two files of a read may say them)
def _via_pool() -> None:
    from wildgan.data.decode_pool import _say_again

    _say_again(("bad", "x", [("a library's word", RuntimeWarning, "/lib/somelib/mod.py", 7, "mod"),
                             ("wildgan's word", WildganWarning, "/lib/wildgan/x.py", 3, "x")] * 2))


def _via_archive() -> None:
    from wildgan.data.dataset_files import named_in_archive
    from wildgan.errors import warn_user

    with named_in_archive(Path("/no/tree"), Path("/no/data.tar")):
        for _ in range(2):
            warnings.warn_explicit("a library's word", RuntimeWarning, "/lib/somelib/mod.py", 7, module="mod")
            warn_user("wildgan's word", WildganWarning)


def _via_readers_of_a_file() -> None:
    from wildgan.data.dataset_files import UnreadArraysWarning
    from wildgan.data.inputs import _ReadersNotesSilenced
    from wildgan.errors import warn_user

    with _ReadersNotesSilenced():
        for _ in range(2):
            warnings.warn_explicit("a library's word", RuntimeWarning, "/lib/somelib/mod.py", 7, module="mod")
            warn_user("wildgan's word", UnreadArraysWarning)


@pytest.mark.parametrize("path", [_via_pool, _via_archive, _via_readers_of_a_file],
                         ids=["pool", "archive", "readers-of-a-file"])
def test_each_path_says_a_recorded_warning_again_the_same_way(path: Callable[[], None]) -> None:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        path()
    got = [(str(w.message), issubclass(w.category, WildganWarning), Path(w.filename).name, w.lineno) for w in said]
    line = next((w.lineno for w in said if str(w.message) == "wildgan's word"), 0)
    # each recorded warning said once: another library's at its own file and line with its own category, wildgan's
    # at the caller's line (in this file), whatever recorded them (not at contextlib.py, not twice)
    assert got == [("a library's word", False, "mod.py", 7), ("wildgan's word", True, Path(__file__).name, line)], got
    assert said[0].category is RuntimeWarning


@pytest.mark.parametrize("kind", [{"sides": (16, 20, 16, 20)}, {"sides": (300, 16, 16, 16)},
                                  {"sides": (16,) * 4, "other": True}, {"sides": (16, 20, 16, 20), "other": True},
                                  {"sides": (16,) * 4, "depth16": True}],
                         ids=["mixed-sizes", "larger-than-256", "unsupported-files", "both-and-unsupported", "16-bit"])
def test_a_decoded_cache_read_instead_of_decoding_says_what_the_decode_said(tmp_path: Path, kind: dict) -> None:
    # the second read loads the archive's decoded cache and says the decode's warnings about the data again (images
    # of several sizes made one, images above 256 px reduced, files of unsupported formats left out, 16-bit images
    # named by ARCHIVE:tree as the decode named them), word for word
    archive = _tree_tar(tmp_path, **kind)
    first = [str(w.message) for w in _read(archive, tmp_path / "cache")]
    again = [str(w.message) for w in _read(archive, tmp_path / "cache")]
    assert first, "the data is warned about"
    assert sorted(again) == sorted(first), (first, again)
