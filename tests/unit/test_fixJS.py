"""fixJS: leftovers of the report's commands (the named images and the report's options carried by every command its
page names) and of the reading warnings repeated on a cache reuse."""

from __future__ import annotations

import re
import shlex
import sys
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main

from test_cli import _decode_a_level_up

pytestmark = pytest.mark.usefixtures("one_thread")


def _page_commands(md: str) -> list[list[str]]:
    """Every `wildgan report|score RUN ...` command the page names, as the words a shell would pass (as fixJP's)."""
    return [shlex.split(c) for c in re.findall(r"`(wildgan (?:report|score) RUN\b[^`]*)`", md)]


def _pasted(command: list[str], run: Path, files: list[str]) -> list[str]:
    """A page's command as its reader pastes it: the run for RUN, the named files for FILES."""
    out: list[str] = []
    for w in command[1:]:
        out.extend([str(run)] if w == "RUN" else files if w == "FILES" else [w])
    return out


def test_the_skip_bad_report_a_page_names_reports_its_named_images(pile_run_gone_bad, tmp_path, capsys) -> None:
    """The `wildgan report RUN --skip-bad --score L_n` a report's page names (its training scores cached by a scoring
    with --skip-bad) dropped the report's --image: pasted, it reported without the named images (no section of them,
    no percentiles or flags). It names them as FILES, as the page's score commands do."""
    run, _, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    tail = ["--device", "cpu", "--top-k", "1", "--no-controls", "--no-progress", "--threads", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
        assert main(["report", str(run), "--score", "L_n", "--image", str(q), *tail]) == 0
    capsys.readouterr()
    md = (run / "report" / "report.md").read_text()
    reports = [c for c in _page_commands(md) if c[1] == "report"]
    assert reports, md
    for c in reports:
        assert "--skip-bad" in c and c[c.index("--score") + 1] == "L_n" and c[c.index("--image") + 1] == "FILES", c
    # pasted as it is (FILES: the named file), it reproduces the page, with the named images, and its threshold
    (run / "report" / "named_images.csv").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*_pasted(reports[0], run, [str(q)]), *tail]) == 0
    md = (run / "report" / "report.md").read_text()
    assert "## Named images" in md and (run / "report" / "named_images.csv").is_file(), md
    assert "threshold on L_n" in md and "No threshold" not in md, md


def test_the_skip_bad_report_command_names_the_images_only_of_a_report_that_named_some() -> None:
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.evaluation.report import _NAMES_IMAGES, _skip_bad_report_command

    token = _NAMES_IMAGES.set(True)
    try:
        assert _skip_bad_report_command("isolated", score="L_n") == \
            "report(RUN, skip_bad=True, score='L_n', batch_mode='isolated', images=FILES)"
        with skip_bad_said_as(CLI_SKIP_BAD):
            assert _skip_bad_report_command("mixed", score="A") == \
                "wildgan report RUN --skip-bad --score A --image FILES"
    finally:
        _NAMES_IMAGES.reset(token)
    # (outside a report's writing: a report without images names none)
    with skip_bad_said_as(CLI_SKIP_BAD):
        assert _skip_bad_report_command("mixed") == "wildgan report RUN --skip-bad"


def test_the_record_pixels_advice_of_a_search_run_carries_the_reports_score(tmp_path, capsys) -> None:
    """A latent-search run whose training images decode otherwise since training: the page and the warning of
    `report RUN --score L_r` advised `wildgan score RUN --threshold contamination` to search and cache the training
    scores, without --score L_r, which the page's other commands carry: the command's threshold was of another score
    than the page's."""
    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--method", "search", "--out",
                 str(run)]) == 0
    _decode_a_level_up(npz, run)
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda m, *_a, **_k: print(f"wildgan: warning: {m}", file=sys.stderr)
        assert main(["report", str(run), "--score", "L_r", "--top-k", "2", "--threads", "1", "--no-progress",
                     "--tsne-points", "5", "--no-controls"]) == 0
    err = capsys.readouterr().err
    (said,) = [ln for ln in err.splitlines() if "changed since" in ln]
    assert f"`wildgan score {run} --score L_r --threshold contamination --out scores.csv` then searches them" in \
        said, said
    page = (run / "report" / "report.md").read_text()
    assert "`wildgan score RUN --score L_r --threshold contamination --out scores.csv` then searches them" in page, \
        page
    for c in _page_commands(page):
        assert c[c.index("--score") + 1] == "L_r", c


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
    sizes, then its tiny images; read from the decoded cache, the tiny-images warnings came after all the mixed-size
    ones (their record was said apart, after the data's warnings)."""
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
    warning came last."""
    archive = _tree_tar(tmp_path, lambda c, i, rng: rng.integers(0, 65535, (16, 16), dtype=np.uint16) if c == "a"
                        else rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    first = _said_reading(archive, tmp_path / "cache")
    assert [("gray images are" in t, "16-bit" in t) for *_, t in first] == [(True, False), (False, True),
                                                                           (False, True)], first
    assert _said_reading(archive, tmp_path / "cache") == first


def test_a_decoded_caches_centre_crop_warning_is_said_again(tmp_path: Path) -> None:
    """A tree of non-square images of two sizes (decoded whole, not at native size): the decode says each split's
    mixed sizes, then that the images are centre-cropped; read from the decoded cache, the crop's warning was lost."""
    archive = _tree_tar(tmp_path, lambda c, i, rng: rng.integers(0, 255, (16, 24, 3) if i % 2 else (20, 30, 3),
                                                                  dtype=np.uint8))
    first = _said_reading(archive, tmp_path / "cache")
    assert [("different sizes" in t, "centre-cropped to a square" in t) for *_, t in first] == \
        [(True, False), (True, False), (False, True)], first
    assert _said_reading(archive, tmp_path / "cache") == first
