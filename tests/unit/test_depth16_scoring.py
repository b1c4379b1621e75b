"""16-bit images scored with a run of another bit depth: split.json records the training images' depth
(conversion.files_16bit / files_8bit / trained_depth), a run trained on 8-bit images reads a 16-bit file as its 8-bit
copy (value / 257) instead of stretching it to its own min..max, and images of another depth are named in a warning.
A record without the field (an older run) loads and scores as before, with a warning."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main
from wildgan.data.imageset import depth_warning, merge_stats, scoring_depth16, trained_depth
from wildgan.data.readers import iter_images
from wildgan.data.splits import conversion_opts


def _png16(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a.astype(np.uint16)).save(path)          # mode I;16
    assert Image.open(path).mode == "I;16"


def _cell8(rng: np.random.Generator) -> np.ndarray:
    """An 8x8 8-bit image of levels 85..148 (a cell that uses part of the range: stretching changes it)."""
    a = rng.integers(85, 149, (8, 8), dtype=np.uint8)
    a[0, 0], a[-1, -1] = 85, 148
    return a


def _messages(rec: list[warnings.WarningMessage]) -> str:
    return "\n".join(str(w.message) for w in rec)


def test_trained_depth_and_the_scoring_rule() -> None:
    assert trained_depth(0, 20) == "8bit"
    assert trained_depth(20, 0) == "16bit"
    assert trained_depth(3, 17) == "mixed"
    assert trained_depth(None, 5) == "unknown" and trained_depth(0, 0) == "unknown"
    assert scoring_depth16("per-image", "8bit") == "global"
    # an explicit rule is the user's statement of what the files hold; other runs keep their rule
    for rule in ("global", "shift", "bits:12"):
        assert scoring_depth16(rule, "8bit") == rule
    for trained in ("16bit", "mixed", "unknown", None):
        assert scoring_depth16("per-image", trained) == "per-image"


def test_depth_warning_names_the_files() -> None:
    stats: dict = {}
    merge_stats(stats, {"n16": 3, "n16_file": "a.png", "n16_names": ["a.png", "b.png"]})
    merge_stats(stats, {"n16": 4, "n16_file": "c.png", "n16_names": ["c.png", "d.png", "e.png", "f.png"]})
    assert stats["n16"] == 7 and stats["n16_names"] == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    msg = depth_warning(stats, "8bit", "per-image", "global")
    assert msg and "7 16-bit images scored with a run trained on 8-bit images only" in msg
    assert "a.png, b.png, c.png, d.png, e.png and 2 more" in msg and "value / 257" in msg
    assert depth_warning(stats, "16bit", "per-image", "per-image") is None
    assert depth_warning(stats, None, "per-image", "per-image") is None      # no run: nothing compared
    old = depth_warning(stats, "unknown", "per-image", "per-image")
    assert old and "does not say whether its training images were 16-bit" in old and "a.png" in old
    assert depth_warning(stats, "unknown", "global", "global") is None
    eight = depth_warning({"n8": 1, "n8_names": ["x.png"]}, "16bit", "per-image", "per-image")
    assert eight and "1 8-bit image scored with a run trained on 16-bit images only (x.png)" in eight
    assert depth_warning({"n8": 1, "n8_names": ["x.png"]}, "16bit", "global", "global") is None


def test_iter_images_reads_a_16_bit_twin_as_its_8_bit_copy_for_an_8_bit_run(tmp_path) -> None:
    rng = np.random.default_rng(0)
    a = _cell8(rng)
    Image.fromarray(a).save(tmp_path / "cell8.png")
    _png16(tmp_path / "cell16.png", a.astype(np.uint16) * 257)
    files = [tmp_path / "cell8.png", tmp_path / "cell16.png"]
    with pytest.warns(UserWarning) as rec:
        (x, _, _), = iter_images(files, 8, 1, trained_depth="8bit")
    np.testing.assert_array_equal(x[0], x[1])
    assert str(tmp_path / "cell16.png") in _messages(rec)
    # a 16-bit run (and no run) is unaffected: the 16-bit file stretched per image, as its training images were
    for trained in ("16bit", None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (y, _, _), = iter_images(files, 8, 1, trained_depth=trained)
        assert y[1].min() == 0 and y[1].max() == 255
        np.testing.assert_array_equal(y[0], a[..., None])


def test_old_split_json_without_the_field_loads_as_unknown() -> None:
    old = {"conversion": {"fit": "resize", "depth16": "per-image"}, "native_sides": [8, 8]}
    assert conversion_opts(old)["trained_depth"] == "unknown"
    new = {"conversion": {"fit": "resize", "depth16": "per-image", "files_16bit": 0, "files_8bit": 20,
                          "trained_depth": "8bit"}}
    assert conversion_opts(new)["trained_depth"] == "8bit"


def _train(tmp_path: Path, name: str, sixteen: bool) -> tuple[Path, Path]:
    """A tiny run on a pile of 20 8x8 images (8-bit, or their 16-bit copies, value * 257) -> (pile, run)."""
    pile, run = tmp_path / f"{name}-pile", tmp_path / f"{name}-run"
    pile.mkdir()
    rng = np.random.default_rng(1)
    for i in range(20):
        a = _cell8(rng)
        if sixteen:
            _png16(pile / f"{i:02d}.png", a.astype(np.uint16) * 257)
        else:
            Image.fromarray(a).save(pile / f"{i:02d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the 16-bit pile's stretching warning: tested elsewhere)
        assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                     "--total-kimg", "0.032", "--phase-kimg", "0.1", "--out", str(run)]) == 0
    return pile, run


def _score(run: Path, folder: Path, out: Path, capsys: pytest.CaptureFixture[str]
           ) -> tuple[dict[str, dict[str, float]], str]:
    """`wildgan score RUN --data folder --batch-mode isolated` -> ({file name: {'A': .., 'a': ..}}, what it said)."""
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert main(["score", str(run), "--data", str(folder), "--batch-mode", "isolated", "--threads", "1",
                     "--no-progress", "--out", str(out)]) == 0
    said = capsys.readouterr().err + _messages(rec)
    with open(out, newline="") as f:
        rows = {Path(r["path"] if "path" in r else r["id"]).name: r for r in csv.DictReader(f)}
    scores = {k: {c: float(v) for c, v in r.items() if c in ("A", "a")} for k, r in rows.items()}
    return scores, said


def test_an_8_bit_run_scores_a_16_bit_twin_like_its_8_bit_file(tmp_path, capsys) -> None:
    _, run = _train(tmp_path, "eight", sixteen=False)
    conv = json.loads((run / "split.json").read_text())["conversion"]
    assert (conv["files_16bit"], conv["files_8bit"], conv["trained_depth"]) == (0, 20, "8bit")
    new = tmp_path / "new"
    new.mkdir()
    a = _cell8(np.random.default_rng(7))
    Image.fromarray(a).save(new / "cell8.png")
    _png16(new / "cell16.png", a.astype(np.uint16) * 257)
    scores, said = _score(run, new, tmp_path / "s.csv", capsys)
    assert scores["cell8.png"] and scores["cell8.png"] == scores["cell16.png"]
    assert "1 16-bit image scored with a run trained on 8-bit images only" in said and "cell16.png" in said

    # an older split.json, without the record: scored as before (stretched), with a warning naming the file
    info = json.loads((run / "split.json").read_text())
    for k in ("files_16bit", "files_8bit", "trained_depth"):
        del info["conversion"][k]
    (run / "split.json").write_text(json.dumps(info))
    old, said = _score(run, new, tmp_path / "old.csv", capsys)
    assert old["cell8.png"] == scores["cell8.png"] and old["cell16.png"] != scores["cell16.png"]
    assert "does not say whether its training images were 16-bit" in said and "cell16.png" in said


def test_a_16_bit_run_is_unaffected(tmp_path, capsys) -> None:
    _, run = _train(tmp_path, "sixteen", sixteen=True)
    conv = json.loads((run / "split.json").read_text())["conversion"]
    assert (conv["files_16bit"], conv["files_8bit"], conv["trained_depth"]) == (20, 0, "16bit")
    new = tmp_path / "new"
    new.mkdir()
    a = _cell8(np.random.default_rng(7))
    _png16(new / "cell16.png", a.astype(np.uint16) * 257)
    scores, said = _score(run, new, tmp_path / "s.csv", capsys)
    assert "16-bit" not in said
    # the same scores as the run's record without the field gives (how every run scored before it): unchanged
    info = json.loads((run / "split.json").read_text())
    kept = dict(info["conversion"])
    for k in ("files_16bit", "files_8bit", "trained_depth"):
        del info["conversion"][k]
    (run / "split.json").write_text(json.dumps(info))
    again, _ = _score(run, new, tmp_path / "again.csv", capsys)
    assert again == scores
    info["conversion"] = kept
    (run / "split.json").write_text(json.dumps(info))
    # an 8-bit file scored with it is named: its pixels are not stretched as the training images' were
    Image.fromarray(a).save(new / "cell8.png")
    _, said = _score(run, new, tmp_path / "mixed.csv", capsys)
    assert "1 8-bit image scored with a run trained on 16-bit images only" in said and "cell8.png" in said
