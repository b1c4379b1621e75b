"""8-bit pictures stored at 16 or 32 bits (a PIL image .convert('I') saved as a 32-bit TIFF, values 0..255) are read
as 16-bit, as every mode-I image is: no file says its pictures were 8-bit (a 32-bit TIFF's BitsPerSample is 32, an
image in memory has none), and a dark 16-bit frame holds the same values. Under depth16 'global' or 'shift' such an
image reads as 0 or 1 of 255, nearly black; that was said only in the docs. The read now warns once, naming the
files whose every value is at most 255 under those rules (a fact of the read, whatever the files were meant to
hold)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.data import load_images
from wildgan.errors import WildganWarning


def _pictures(where: Path, top: int, n: int = 3) -> list[Path]:
    where.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        a = np.random.default_rng(i).integers(0, top + 1, (8, 8)).astype(np.uint8 if top <= 255 else np.uint16)
        p = where / f"p{i}.tif"
        Image.fromarray(a).convert("I").save(p)
        assert Image.open(p).mode == "I"
        out.append(p)
    return out


def _warned(files: list[Path], **opts) -> tuple[np.ndarray, list[str]]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        x, _ = load_images(files, 8, 1, **opts)
    return x, [str(w.message) for w in got if issubclass(w.category, WildganWarning)]


@pytest.mark.parametrize("rule", ["global", "shift"])
def test_8bit_pictures_in_mode_i_are_said_to_read_nearly_black(tmp_path, rule) -> None:
    files = _pictures(tmp_path / "p", 255)
    x, said = _warned(files, depth16=rule)
    assert x.max() <= 1                              # (what the read makes of them: the reason for the warning)
    dark = [m for m in said if "nearly black" in m]
    assert len(dark) == 1, said                      # once for the read, not once per file
    assert "3 16-bit images" in dark[0] and str(files[0]) in dark[0] and f"depth16 {rule}" in dark[0], dark
    assert "mode L" in dark[0] and "per-image" in dark[0], dark


def test_no_such_warning_under_per_image_or_for_16bit_values(tmp_path) -> None:
    files = _pictures(tmp_path / "p", 255)
    x, said = _warned(files)                          # per-image, the default, stretches them
    assert x.max() == 255 and not any("nearly black" in m for m in said), said
    deep = _pictures(tmp_path / "d", 4000)
    _, said = _warned(deep, depth16="global")
    assert not any("nearly black" in m for m in said), said


def test_scoring_with_a_run_trained_on_8bit_images_warns_without_advising_a_rule_the_command_has_no_option_for(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the default setting: a run trained on 8-bit images (rule per-image) reads 16-bit images to score by value / 257
    # (imageset.scoring_depth16), so such pictures read black and are said to; the warning advised "or read them by
    # the per-image rule", which `wildgan score` (reading by the run's record) has no option for
    from wildgan.cli import main

    files = _pictures(tmp_path / "p", 255)
    assert main(["score", str(trained_run), "--data", str(tmp_path / "p"), "--no-progress",
                 "--out", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err
    dark = [ln for ln in err.splitlines() if "nearly black" in ln]
    assert len(dark) == 1 and str(files[0]) in dark[0] and "mode L" in dark[0], err
    assert "per-image rule" not in dark[0] and "the run's" in dark[0], dark
    # a training read, whose rule the user chooses, still names the option that chooses it
    _, said = _warned(files, depth16="global")
    assert any("read them by the per-image rule (depth16='per-image')" in m for m in said), said
