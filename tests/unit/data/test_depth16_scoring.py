"""Images scored with a run of another bit depth: split.json records the training images' depth
(conversion.files_16bit / files_8bit / trained_depth), a run trained on 8-bit images reads a 16-bit file as its 8-bit
copy (value / 257) instead of stretching it to its own min..max, one trained on 16-bit images (per-image) reads an
8-bit file on the 16-bit scale (value * 257, so stretched too), and images of another depth are named in a warning;
a run trained on both depths mixed says what it did with each and what the images scored are read as. A record
without the field (an older run) loads and scores as before, with a warning."""

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
from wildgan.data.inputs import to_images
from wildgan.data.readers import iter_images
from wildgan.data.splits import conversion_opts
from wildgan.data.transforms import PER_IMAGE_8BIT, array_to_uint8


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


def _twins(new: Path) -> Path:
    """A folder of one new cell saved twice: cell8.png (8-bit) and cell16.png, its 16-bit twin (value * 257)."""
    new.mkdir()
    a = _cell8(np.random.default_rng(7))
    Image.fromarray(a).save(new / "cell8.png")
    _png16(new / "cell16.png", a.astype(np.uint16) * 257)
    return new


def test_trained_depth_and_the_scoring_rule() -> None:
    assert trained_depth(0, 20) == "8bit"
    assert trained_depth(20, 0) == "16bit"
    assert trained_depth(3, 17) == "mixed"
    assert trained_depth(None, 5) == "unknown" and trained_depth(0, 0) == "unknown"
    assert scoring_depth16("per-image", "8bit") == "global"
    # the symmetric rule: 8-bit images read on the 16-bit scale (value * 257), stretched as the training images were
    assert scoring_depth16("per-image", "16bit") == PER_IMAGE_8BIT
    # an explicit rule is the user's statement of what the files hold; other runs keep their rule
    for rule in ("global", "shift", "bits:12"):
        assert scoring_depth16(rule, "8bit") == rule and scoring_depth16(rule, "16bit") == rule
    for trained in ("mixed", "unknown", None):
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
    eight = depth_warning({"n8": 1, "n8_names": ["x.png"]}, "16bit", "bits:12", "bits:12")
    assert eight and "1 8-bit image scored with a run trained on 16-bit images only (x.png)" in eight
    assert "kept as they are" in eight
    eight = depth_warning({"n8": 2, "n8_names": ["x.png", "y.png"]}, "16bit", "per-image", PER_IMAGE_8BIT)
    assert eight and "2 8-bit images scored with a run trained on 16-bit images only (x.png, y.png)" in eight
    assert "read on the 16-bit scale (value * 257)" in eight
    assert depth_warning({"n8": 1, "n8_names": ["x.png"]}, "16bit", "global", "global") is None
    # a run of mixed depths: what it did with each, and what the images scored are read as, whatever they are
    mixed = depth_warning({"n8": 1, "n8_names": ["x.png"], "n16": 1, "n16_names": ["y.png"]}, "mixed",
                          "per-image", "per-image")
    assert mixed and "trained on 8-bit and 16-bit images mixed" in mixed
    assert "1 16-bit image (y.png) by depth16 per-image" in mixed and "1 8-bit image (x.png) as it is" in mixed
    assert "reads (and scores) differently in either depth" in mixed
    only8 = depth_warning({"n8": 1, "n8_names": ["x.png"]}, "mixed", "global", "global")
    assert only8 and "x.png" in only8 and "16-bit image (" not in only8 and "the two depths compare" in only8
    assert depth_warning({}, "mixed", "per-image", "per-image") is None


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
    # a 16-bit run (and no run) reads the 16-bit file stretched per image, as its training images were; no run
    # keeps the 8-bit file as it is (a 16-bit run stretches it too: the next test)
    for trained in ("16bit", None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (y, _, _), = iter_images(files, 8, 1, trained_depth=trained)
        assert y[1].min() == 0 and y[1].max() == 255
    np.testing.assert_array_equal(y[0], a[..., None])


def test_a_16_bit_run_reads_an_8_bit_file_as_its_16_bit_twin(tmp_path) -> None:
    rng = np.random.default_rng(0)
    a = _cell8(rng)
    Image.fromarray(a).save(tmp_path / "cell8.png")
    _png16(tmp_path / "cell16.png", a.astype(np.uint16) * 257)
    rgba = np.dstack([np.repeat(a[..., None], 3, axis=2), np.full((8, 8), 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba8.png")
    files = [tmp_path / "cell8.png", tmp_path / "cell16.png"]
    with pytest.warns(UserWarning) as rec:
        (x, _, _), = iter_images(files, 8, 1, trained_depth="16bit")
    np.testing.assert_array_equal(x[0], x[1])
    assert x[0].min() == 0 and x[0].max() == 255          # stretched, as the twin and the training images were
    said = _messages(rec)
    assert "1 8-bit image scored with a run trained on 16-bit images only" in said
    assert str(tmp_path / "cell8.png") in said and "value * 257" in said
    # the Detector's reader: files, arrays (uint8 and float) and a data-set file, the same pixels
    np.savez(tmp_path / "cells.npz", x=np.stack([a, a]))
    for X in (files, np.stack([a, a]), np.stack([a, a]) / 255.0, str(tmp_path / "cells.npz")):
        with pytest.warns(UserWarning, match="read on the 16-bit scale"):
            y, _ = to_images(X, 8, 1, trained_depth="16bit")
        np.testing.assert_array_equal(y[0], x[1])
    # colour with alpha: composited on black first, then stretched over all its channels
    with pytest.warns(UserWarning, match="rgba8.png"):
        (z, _, _), = iter_images([tmp_path / "rgba8.png"], 8, 3, trained_depth="16bit")
    comp = array_to_uint8(rgba[None], "rgba")[0]
    assert z[0].min() == 0 and z[0].max() == 255
    np.testing.assert_array_equal(z[0], array_to_uint8(rgba[None], "rgba", PER_IMAGE_8BIT)[0])
    assert not np.array_equal(z[0], comp)
    # an explicit rule says what the files hold: an 8-bit image kept as it is (bits:N warned about, global not)
    with pytest.warns(UserWarning, match="kept as they are"):
        (y, _, _), = iter_images(files, 8, 1, trained_depth="16bit", depth16="bits:16")
    np.testing.assert_array_equal(y[0], a[..., None])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (y, _, _), = iter_images(files, 8, 1, trained_depth="16bit", depth16="global")
    np.testing.assert_array_equal(y[0], y[1])
    np.testing.assert_array_equal(y[0], a[..., None])
    # a mixed run keeps its rule (8-bit kept, 16-bit stretched, as its training images were) and says so, once
    with pytest.warns(UserWarning) as rec:
        got = [c[0] for c in iter_images(files, 8, 1, trained_depth="mixed", chunks=[[0], [1]])]
    np.testing.assert_array_equal(got[0][0], a[..., None])
    assert got[1][0].min() == 0 and got[1][0].max() == 255
    said = [str(w.message) for w in rec if "mixed" in str(w.message)]
    assert len(said) == 1 and "cell8.png" in said[0] and "cell16.png" in said[0], said


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
    new = _twins(tmp_path / "new")
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
    # an 8-bit file scored with it reads as its 16-bit twin (value * 257, stretched as the training images were):
    # the same scores, and a warning naming it (before, it was kept as it was: A 1.21 against the twin's 1.60)
    Image.fromarray(a).save(new / "cell8.png")
    both, said = _score(run, new, tmp_path / "mixed.csv", capsys)
    assert both["cell8.png"] == both["cell16.png"]
    # against the pile of one scored above: another batch size can take another CPU kernel (oneDNN picks by shape),
    # which moves a score by float noise (~2e-7 relative seen on an AMD EPYC), not by the 8-bit reading (~0.3)
    assert both["cell16.png"] == {k: pytest.approx(v, rel=1e-5) for k, v in scores["cell16.png"].items()}
    assert "1 8-bit image scored with a run trained on 16-bit images only" in said and "cell8.png" in said
    assert "value * 257" in said


def test_a_run_of_mixed_depths_says_what_it_reads_each_as(tmp_path, capsys) -> None:
    _, run = _train(tmp_path, "sixteen", sixteen=True)
    info = json.loads((run / "split.json").read_text())
    # (the record of a pile of 10 16-bit and 10 8-bit files: scoring reads the record only)
    info["conversion"].update(files_16bit=10, files_8bit=10, trained_depth="mixed")
    (run / "split.json").write_text(json.dumps(info))
    new = _twins(tmp_path / "new")
    scores, said = _score(run, new, tmp_path / "s.csv", capsys)
    assert said.count("trained on 8-bit and 16-bit images mixed") == 1, said
    assert "cell8.png) as it is" in said and "cell16.png) by depth16 per-image" in said
    # read as the run's training images of each depth were: the 8-bit file kept, the 16-bit one stretched
    assert scores["cell8.png"] != scores["cell16.png"]


def test_a_resume_folder_of_a_16_bit_run_keys_the_8_bit_reading() -> None:
    # chunks an older wildgan saved for a 16-bit run read 8-bit files as they were: other pixels, not resumed; the
    # folders of every other run keep their key (resumable across the change)
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.scoring.run import _resume_key, untrained_model

    m = untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                                  train=TrainConfig(seed=0)), "cpu")

    def key(**conv):
        return _resume_key(m, [Path("a.png")], [[0]], m.cfg.score, "mixed", conv)

    assert key(depth16="per-image", trained_depth="16bit")["read_8bit"] == "value * 257, per-image"
    for conv in ({"depth16": "bits:12", "trained_depth": "16bit"}, {"depth16": "per-image", "trained_depth": "8bit"},
                 {"depth16": "per-image", "trained_depth": "mixed"}, {"depth16": "per-image"}):
        assert "read_8bit" not in key(**conv), conv


@pytest.mark.parametrize("sixteen", [True, False])
def test_evaluate_on_other_data_reads_a_file_of_the_other_depth_as_score_does(tmp_path, sixteen) -> None:
    """`wildgan evaluate RUN --data OTHER` read OTHER by the training rule, where `wildgan score` reads images for the
    run by the scoring rule (scoring_depth16): with a run trained on 16-bit images only, an 8-bit test file was kept as
    it was by evaluate and read as its twin by score, so one file had two scores (a tiny run: evaluate's a -0.048, the
    twin's -0.174, score's -0.178 for both). Evaluate now reads other data as score does (and an 8-bit run's 16-bit file
    by value / 257 likewise)."""
    from wildgan.evaluation.run import split_for_run

    _, run = _train(tmp_path, "run", sixteen=sixteen)
    other = _other_data(tmp_path / "other", sixteen)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        split = split_for_run(run, data=str(other), normal=("good",), log=lambda m: None)
    row = {Path(i).name: x for i, x in zip(split.test_ids, split.test_x)}
    np.testing.assert_array_equal(row["cell8.png"], row["cell16.png"])        # one picture, one reading
    # and the reading `wildgan score` makes of the file of the other depth
    odd = other / "bad" / ("cell8.png" if sixteen else "cell16.png")
    ((scored, _, _),) = iter_images([odd], 8, 1, **conversion_opts(json.loads((run / "split.json").read_text())))
    np.testing.assert_array_equal(row[odd.name], scored[0])
    if sixteen:
        assert "1 8-bit image read for a run trained on 16-bit images only" in _messages(rec)
        assert "kept as they are" not in _messages(rec)


def test_data_loaded_by_another_depth16_rule_says_so(tmp_path) -> None:
    """load_split_data(read_depth16=) read the files by another rule than cfg's but its LoadedData's options said
    cfg's: build_split(cfg, loaded=) took those images as cfg's own (8-bit files stretched as 16-bit ones), where
    any other option read otherwise is refused."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split, load_split_data

    rng = np.random.default_rng(5)
    for cls, n in (("good", 40), ("bad", 8)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.fromarray(_cell8(rng)).save(tmp_path / cls / f"{i}.png")
    cfg = DataConfig(data=str(tmp_path), normal=("good",), resolution=8, channels=1)
    loaded = load_split_data(cfg, read_depth16=PER_IMAGE_8BIT)
    assert loaded.options["depth16"] == PER_IMAGE_8BIT
    with pytest.raises(ValueError, match="depth16"):
        build_split(cfg, loaded=loaded)
    build_split(cfg, loaded=load_split_data(cfg))          # (read by cfg's own rule: taken)


def test_users_cannot_give_the_scoring_rule(tmp_path) -> None:
    """parse_opts took transforms.PER_IMAGE_8BIT (evaluate's internal read of other data for a run) from anyone:
    load_dataset(npz, depth16='per-image+8bit') read the data and warned about 'a run trained on 16-bit images only'
    with no run. The public readers refuse it as any unknown rule; load_split_data(read_depth16=) still reads by it
    (test_data_loaded_by_another_depth16_rule_says_so)."""
    from wildgan.data import load_dataset, load_image_files, load_images

    npz = tmp_path / "d.npz"
    rng = np.random.default_rng(3)
    np.savez(npz, x_train=np.stack([_cell8(rng) for _ in range(4)])[..., None], y_train=np.zeros(4, np.int64))
    png = tmp_path / "a.png"
    Image.fromarray(_cell8(rng)).save(png)
    unknown = "depth16 must be per-image, global, shift or bits:N"
    with pytest.raises(ValueError, match=unknown):
        load_dataset(npz, depth16="no-such-rule")           # (the message any unknown rule gets)
    for call in (lambda: load_dataset(npz, depth16=PER_IMAGE_8BIT),
                 lambda: load_images([png], 8, 1, depth16=PER_IMAGE_8BIT),
                 lambda: load_image_files([png], 8, 1, depth16=PER_IMAGE_8BIT)):
        with pytest.raises(ValueError, match=unknown):
            call()


def _other_data(root: Path, sixteen: bool) -> Path:
    """Labelled data for `evaluate --data`: good/ of 6 cells at the run's depth, bad/ one cell saved 8-bit and 16-bit
    (value * 257)."""
    rng = np.random.default_rng(3)
    (root / "good").mkdir(parents=True)
    for i in range(6):
        a = _cell8(rng)
        if sixteen:
            _png16(root / "good" / f"{i}.png", a.astype(np.uint16) * 257)
        else:
            Image.fromarray(a).save(root / "good" / f"{i}.png")
    a = _cell8(np.random.default_rng(7))
    (root / "bad").mkdir()
    Image.fromarray(a).save(root / "bad" / "cell8.png")
    _png16(root / "bad" / "cell16.png", a.astype(np.uint16) * 257)
    return root


@pytest.mark.parametrize("sixteen", [True, False])
def test_an_evaluation_of_other_data_saved_before_the_scoring_rule_is_not_shown_as_current(tmp_path, sixteen
                                                                                           ) -> None:
    """An unlabelled run's `evaluate --data OTHER` saves eval.json in the run folder, which its report shows as the
    networks' AUCs. One saved before evaluate read OTHER as `wildgan score` does (92cfa84) holds scores of the file of
    the other depth read as it was (an 8-bit file of a 16-bit run kept, a 16-bit file of an 8-bit run stretched), and
    nothing in it said so: the report showed its AUCs as current. eval.json now records the rule (read_depth16) where
    it is not the run's own, and an evaluation without it, of data holding files of the other depth, is said to be of
    an older reading, with the command that evaluates again, not shown; one of data without such files is shown."""
    from wildgan.evaluation.report import report

    _, run = _train(tmp_path, "run", sixteen=sixteen)
    other = _other_data(tmp_path / "other", sixteen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the read of the file of the other depth: tested above)
        assert main(["evaluate", str(run), "--data", str(other), "--normal", "good", "--no-controls", "--threads",
                     "1", "--no-progress"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    older = {k: v for k, v in ev.items() if k != "read_depth16"}       # as evaluate wrote it before 92cfa84
    if sixteen:                                       # (the report's page: once)
        (run / "eval.json").write_text(json.dumps(older))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report(run, top_k_images=1, device="cpu", controls=False)
        md = (run / "report" / "report.md").read_text()
        assert "AUC a " not in md and "(8 images, 2 anomalous), but with its 1 8-bit file kept as it was by an " \
            "older wildgan, where evaluate, as `wildgan score`, now reads 8-bit files for this run trained on " \
            "16-bit images on the 16-bit scale (value * 257) and stretches them as its training images were; its " \
            "AUCs (eval.json, test_scores.csv, test_controls.csv, auc_by_class.csv, test_latents.npy) are not what " \
            "these networks score now. Run " \
            f"`wildgan evaluate {run} --data {other} --normal good` again to evaluate them." in md, md[:3000]
        (run / "eval.json").write_text(json.dumps(ev))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report(run, top_k_images=1, device="cpu", controls=False)
        assert "(8 images, 2 anomalous): AUC a " in (run / "report" / "report.md").read_text()
    from wildgan.evaluation.run import reading_change

    recorded = json.loads((run / "split.json").read_text())
    assert ev["read_depth16"] == (PER_IMAGE_8BIT if sixteen else "global")
    assert reading_change(ev, recorded, "per-image") is None
    said = reading_change(older, recorded, "per-image")
    assert said == ("its 1 8-bit file kept as it was by an older wildgan, where evaluate, as `wildgan score`, now "
                    "reads 8-bit files for this run trained on 16-bit images on the 16-bit scale (value * 257) and "
                    "stretches them as its training images were" if sixteen else
                    "its 1 16-bit file stretched each to its own min..max by an older wildgan, where evaluate, as "
                    "`wildgan score`, now reads 16-bit files for this run trained on 8-bit images by value / 257, as "
                    "their 8-bit copies"), said
    # data without a file of the other depth was read as now; a run of an explicit rule reads every data by it; a
    # record of another rule is one
    alike = {**older, "data": {**older["data"], "conversion": {**older["data"]["conversion"], "files_8bit": 0,
                                                                  "files_16bit": 0}}}
    assert reading_change(alike, recorded, "per-image") is None
    assert reading_change(older, recorded, "global") is None
    assert reading_change({**ev, "read_depth16": "shift"}, recorded, "per-image") == \
        f"its 1 {8 if sixteen else 16}-bit file read by depth16 shift, not {ev['read_depth16']} as evaluate reads " \
        f"them now"
