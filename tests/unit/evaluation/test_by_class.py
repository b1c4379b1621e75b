"""Per-class results of `wildgan evaluate`: each test image's class in the split and in test_scores.csv, and per
anomalous class the AUC of every score and control against all the test normals (eval.json's by_class,
auc_by_class.csv, the console's short table)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from wildgan.evaluation.by_class import (BY_CLASS_CSV, auc_by_class, by_class_csv_text, by_class_lines,
                                         by_class_markdown)
from wildgan.evaluation.metrics import roc_auc

NAMES = ["normal", "bright", "dark", "noise"]


def _images(c: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """8x8 gray images of class c: mid-gray normals, bright (the pixel-mean control ranks them the most normal of
    all: it scores minus the mean), dark (the most anomalous), uniform noise."""
    low, high = [(60, 196), (220, 256), (0, 30), (0, 256)][c]
    return rng.integers(low, high, (n, 8, 8), dtype=np.uint8)


def three_classes(path: Path) -> Path:
    """A labelled .npz of 4 named classes: 12 normal test images and 4 of each anomalous class."""
    rng = np.random.default_rng(1)
    y_train = np.array([0] * 20 + [1, 2, 3] * 2)
    y_test = np.array([0] * 12 + [1] * 4 + [2] * 4 + [3] * 4)
    np.savez(path, x_train=np.concatenate([_images(c, 1, rng) for c in y_train]), y_train=y_train,
             x_test=np.concatenate([_images(c, 1, rng) for c in y_test]), y_test=y_test, class_names=np.array(NAMES))
    return path


def test_per_class_aucs_of_a_perfect_an_inverted_and_a_mixed_class():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    classes = ["n", "n", "n", "n", "caught", "caught", "missed", "missed", "half", "half"]
    s = np.array([3.0, 4, 5, 6, 10, 11, 0, 1, 2, 7])
    t = auc_by_class(labels, classes, {"a": s, "L_r": -s}, "a", controls={"pixel_norm": s * 0},
                     order=["n", "missed", "caught"])
    # the data's order first, a class it does not name after them
    assert list(t["classes"]) == ["missed", "caught", "half"]
    assert t["classes"]["caught"]["auc"] == {"a": 1.0, "L_r": 0.0}
    assert t["classes"]["missed"]["auc"] == {"a": 0.0, "L_r": 1.0}
    assert t["classes"]["half"]["auc"]["a"] == 0.5            # 2 below all 4 normals, 7 above all
    assert t["classes"]["caught"]["controls"] == {"pixel_norm": 0.5}     # all tied: half
    # ranks by a (1 = lowest): missed 1, 2; 10 images, so the most normal tenth is 1 image
    assert t["classes"]["missed"]["median_rank"] == 1.5 and t["classes"]["missed"]["in_most_normal"] == 1
    assert t["classes"]["caught"]["median_rank"] == 9.5 and t["classes"]["caught"]["in_most_normal"] == 0
    assert t["normal"] == {"n": 4, "median_rank": 5.5, "in_most_normal": 0}
    assert t["most_normal"] == 1 and t["n_test"] == 10 and t["rank_by"] == "a"
    # an undefined score: null AUCs and ranks, not nan (eval.json is JSON)
    u = auc_by_class(labels, classes, {"a": np.where(s > 9, np.nan, s)}, "a")
    assert u["classes"]["caught"]["auc"]["a"] is None and u["classes"]["caught"]["median_rank"] is None
    json.dumps(u, allow_nan=False)
    with pytest.raises(ValueError, match="rank_by 'A' is none of the scores"):
        auc_by_class(labels, classes, {"a": s}, "A")


def test_the_csv_markdown_and_console_forms_of_the_table():
    labels = np.array([0, 0, 1, 1, 1, 1])
    classes = ["n", "n", "x", "x", "y", "y"]
    s = np.array([1.0, 2, 3, 4, 0, 0.5])
    t = auc_by_class(labels, classes, {"a": s}, "a", controls={"pixel_norm": -s})
    rows = list(csv.reader(by_class_csv_text(t).splitlines()))
    assert rows[0] == ["class", "n", "a", "pixel_norm", "median_rank_by_a_of_6", "in_1_most_normal_by_a"]
    assert rows[1:] == [["x", "2", "1", "0", "5.5", "0"], ["y", "2", "0", "1", "1.5", "1"]]
    md = by_class_markdown(t, ["a", "pixel_norm"]).splitlines()
    assert md[2] == "| x | 2 | 1.000 | 0.000 | 5.5 of 6 | 0 |" and md[-1] == "| (normal) | 2 |  |  | 3.5 of 6 | 0 |"
    lines = by_class_lines(t, ["a", "L_r", "pixel_norm"])      # (no L_r here: left out)
    assert len(lines) == 3 and "L_r" not in lines[0] and lines[2].split() == ["y", "2", "0.000", "1.000", "1.5"]
    # one anomalous class is the overall AUC again: no lines; more than 20: one line saying where they are
    assert by_class_lines(auc_by_class(labels, ["n", "n", "x", "x", "x", "x"], {"a": s}, "a"), ["a"]) == []
    many = auc_by_class(np.r_[0, np.ones(21)], ["n", *(f"c{i}" for i in range(21))], {"a": np.arange(22.0)}, "a")
    assert by_class_lines(many, ["a"]) == [f"AUC per anomalous class: 21 classes, in eval.json's by_class and "
                                           f"{BY_CLASS_CSV}"]


def test_evaluate_keeps_each_test_image_s_class_and_the_aucs_per_class(trained_run: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]):
    import shutil

    from wildgan.cli import main

    other = three_classes(tmp_path / "other.npz")
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert main(["evaluate", str(run), "--data", str(other), "--normal", "normal", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    (out_dir,) = run.glob("eval-*")
    ev = json.loads((out_dir / "eval.json").read_text())
    with open(out_dir / "test_scores.csv", newline="") as f:
        header, *body = list(csv.reader(f))
    # the class last: the columns before it are those of an evaluation without classes
    assert header[:2] == ["id", "label"] and header[-1] == "class" and "class" not in header[:-1]
    rows = [dict(zip(header, r)) for r in body]
    assert [r["class"] for r in rows] == ["normal"] * 12 + ["bright"] * 4 + ["dark"] * 4 + ["noise"] * 4
    assert all(r["label"] == ("0" if r["class"] == "normal" else "1") for r in rows)
    by = ev["by_class"]
    assert list(by["classes"]) == ["bright", "dark", "noise"] and by["rank_by"] == "a" and by["n_test"] == 24
    # the pixel-mean control (minus the mean) calls every bright image more normal than every normal one, every
    # dark one more anomalous; the std control catches both (little spread) and inverts the noise
    mean = {c: r["controls"]["pixel_mean"] for c, r in by["classes"].items()}
    std = {c: r["controls"]["pixel_std"] for c, r in by["classes"].items()}
    assert mean["bright"] == 0.0 and mean["dark"] == 1.0 and std == {"bright": 1.0, "dark": 1.0, "noise": 0.0}
    # each class's AUC is that of its images against every normal, from the scores in test_scores.csv
    y = np.array([int(r["label"]) for r in rows])
    for c, r in by["classes"].items():
        both = [i for i, row in enumerate(rows) if row["class"] in ("normal", c)]
        for k, v in r["auc"].items():
            assert v == pytest.approx(roc_auc(y[both], np.array([float(rows[i][k]) for i in both])), abs=1e-7), k
        assert r["n"] == 4 and set(r["controls"]) >= {"untrained_a", "pixel_norm", "pixel_std", "pixel_mean"}
    # the overall AUCs are those of all the anomalies together, as without classes
    for k, v in ev["auc"].items():
        assert v == pytest.approx(roc_auc(y, np.array([float(r[k]) for r in rows])), abs=1e-7), k
    with open(out_dir / BY_CLASS_CSV, newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["class"], r["n"]) for r in table] == [("bright", "4"), ("dark", "4"), ("noise", "4")]
    assert float(table[0]["pixel_mean"]) == 0.0 and float(table[1]["pixel_mean"]) == 1.0
    # the console: one line a class
    assert [line.split()[0] for line in printed.splitlines() if line.split()[:1] in (["bright"], ["dark"],
                                                                                      ["noise"])] == NAMES[1:]
    assert "AUC by class" in printed


def test_a_split_without_classes_has_no_class_column_and_no_by_class(trained_run: Path, tmp_path: Path):
    from wildgan.evaluation.run import evaluate_model, split_for_run
    from wildgan.scoring.run import load_model

    split = split_for_run(trained_run)
    assert split.test_classes is not None and set(split.test_classes) == {"0", "1"}
    model = load_model(trained_run, "cpu")
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    with_classes = evaluate_model(model, split, out_dir=tmp_path / "with")
    # (as a split of a pile, or one a caller built without classes)
    (tmp_path / "without" / BY_CLASS_CSV).write_text("class,n\nold,1\n")      # an earlier evaluation's
    without = evaluate_model(model, replace(split, test_classes=None), out_dir=tmp_path / "without")
    assert "by_class" in with_classes and "by_class" not in without
    assert without["auc"] == with_classes["auc"] and without["controls"] == with_classes["controls"]
    assert (tmp_path / "with" / BY_CLASS_CSV).is_file() and not (tmp_path / "without" / BY_CLASS_CSV).exists()
    with open(tmp_path / "without" / "test_scores.csv", newline="") as f:
        assert "class" not in next(csv.reader(f))
    with open(tmp_path / "with" / "test_scores.csv", newline="") as f:
        assert next(csv.reader(f))[-1] == "class"


def test_class_names_that_are_not_one_per_test_image_are_refused(trained_run: Path):
    from wildgan.evaluation.run import evaluate_model, split_for_run
    from wildgan.scoring.run import load_model

    split = split_for_run(trained_run)
    with pytest.raises(ValueError, match=r"test_classes holds 1 class names for 20 test images.*one per test image"):
        evaluate_model(load_model(trained_run, "cpu"), replace(split, test_classes=["0"]), controls=False)


def test_every_file_evaluate_writes_is_in_the_one_list_and_a_resume_names_auc_by_class_csv_as_stale(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The notes of evaluations of earlier networks (a resume's, the report's) named test_scores.csv and
    test_controls.csv, not auc_by_class.csv, added later with the per-class results: each place had its own copy of
    the names. They come from data.eval_files now, which every file evaluate writes must be in."""
    import shutil

    from wildgan.cli import main
    from wildgan.data.eval_files import EVAL_FILES

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = {p.name for p in run.iterdir()}
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--data", str(three_classes(tmp_path / "other.npz")), "--normal", "normal",
                 "--no-progress"]) == 0
    (other,) = run.glob("eval-*")
    # a new output evaluate writes, not in the list, fails here: the notes and --overwrite would miss it
    assert {p.name for p in other.iterdir()} <= set(EVAL_FILES), sorted(p.name for p in other.iterdir())
    assert {p.name for p in run.iterdir()} - before - {other.name} <= set(EVAL_FILES)
    assert (other / BY_CLASS_CSV).is_file() and (run / BY_CLASS_CSV).is_file()

    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    for path in (run / "eval.json", other / "eval.json"):
        assert (f"note: {path} (with its test_scores.csv, test_controls.csv, auc_by_class.csv and test_latents.npy) "
                f"is an evaluation of earlier networks") in err, err
    # (the report's word on a stale labelled evaluation of an unlabelled run: tests/unit/evaluation/test_report.py)


def test_the_console_table_fits_100_columns_for_the_longest_class_names_of_our_data():
    """evaluate's printed per-class table (4 AUC columns and the rank) for Chula-RBC-12's 12 classes, the longest
    names of the data we use ('uncategorised'), f-AnoGAN's columns (the longest: untrained_A) and a large test split;
    the full table is auc_by_class.csv's."""
    names = ["normal", "macrocyte", "microcyte", "spherocyte", "target_cell", "stomatocyte", "ovalocyte", "teardrop",
             "burr_cell", "schistocyte", "uncategorised", "hypochromia", "elliptocyte"]
    rng = np.random.default_rng(0)
    classes = [names[i % len(names)] for i in range(12000)]
    y = np.array([c != "normal" for c in classes], dtype=int)
    s = rng.random(len(y))
    t = auc_by_class(y, classes, {"A": s, "L_r": s}, "A", controls={"untrained_A": s, "pixel_norm": s})
    lines = by_class_lines(t, ["A", "L_r", "untrained_A", "pixel_norm"])
    assert len(lines) == 13 and max(map(len, lines)) <= 100, max(map(len, lines))
