"""Other data evaluated or scored for a run (`evaluate RUN --data OTHER`, `score RUN --data OTHER.npz`,
split_for_run(run, OTHER)) is only tested on: its split's training part trains nothing. It was built with the run's
rotations, so a chula-rbc12 run rotated 3 copies of every training crop of OTHER (about 1 ms an image, four times the
memory) for nothing; the test split is the same without them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


def _crops(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    photos = np.repeat(np.arange(1, 21), 10)
    y = np.where(rng.random(len(photos)) < 0.5, 0, 1)
    np.savez(path, x=rng.integers(0, 256, (len(y), 8, 8), dtype=np.uint8), y=y, image_id=photos.astype(np.int16),
             is_anomaly=y.astype(np.uint8), class_names=np.array(["normal", "abnormal"]))
    return path


def test_other_data_for_a_rotating_run_is_split_without_rotated_copies(tmp_path):
    from wildgan.cli import main
    from wildgan.config import read_run_config
    from wildgan.data import build_split
    from wildgan.evaluation.run import split_for_run

    run = tmp_path / "run"
    assert main(["train", "--data", str(_crops(tmp_path / "own.npz", 0)), "--dataset", "chula-rbc12", "--resolution",
                 "8", "--preset", "tiny", "--total-kimg", "0.03", "--phase-kimg", "0.03", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    own = split_for_run(run, log=lambda m: None)
    assert own.info["rotations"] == 3 and len(own.train_x) == 4 * own.info["n_normal_train"]
    other = _crops(tmp_path / "other.npz", 1)
    split = split_for_run(run, str(other), log=lambda m: None)
    assert split.info["rotations"] == 0 and len(split.train_x) == split.info["n_normal_train"]
    # the test split is the one the run's rotations gave
    rotated = build_split(replace(read_run_config(run).data, data=str(other)))
    assert rotated.info["rotations"] == 3
    assert split.test_ids == rotated.test_ids and np.array_equal(split.test_x, rotated.test_x)


def test_the_runs_own_data_given_as_data_is_split_as_the_run_was(tmp_path, monkeypatch):
    # `wildgan evaluate RUN --data ITS_DATA` took the run's own data for other data: split without the run's
    # contamination, it wrote RUN/eval.json (the run's own evaluation, evaluation_dir) with gamma 0 and no
    # contaminants, beside the run's split.json of the same test split
    import json
    import shutil
    import warnings

    from wildgan.cli import main
    from wildgan.errors import WildganWarning
    from wildgan.evaluation.run import split_for_run

    rng = np.random.default_rng(0)
    npz, run = tmp_path / "tiny.npz", tmp_path / "run"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    # (20 normal training images: 0.12 of them is 2.73 anomalies, 2 injected: training warns of the rounding)
    with pytest.warns(WildganWarning, match="rounded down to 2"):
        assert main(["train", "--data", str(npz), "--normal", "0", "--contamination", "0.12", "--preset", "tiny",
                     "--total-kimg", "0.03", "--phase-kimg", "0.03", "--threads", "1", "--no-progress",
                     "--no-train-scores", "--out", str(run)]) == 0
    recorded = json.loads((run / "split.json").read_text())
    own = split_for_run(run, log=lambda m: None)
    monkeypatch.chdir(tmp_path / "run")
    for given, normal in ((str(npz), None), ("../tiny.npz", None), (str(npz), "0")):   # (however the path is spelled)
        with warnings.catch_warnings():
            warnings.simplefilter("error", WildganWarning)      # (nor the rounding, said when the run was trained)
            split = split_for_run(run, given, log=lambda m: None, normal=normal)
        assert split.info["gamma"] == 0.12 and split.info["n_contamination"] == 2, (given, normal)
        assert split.train_ids == own.train_ids and split.test_ids == own.test_ids
    assert main(["evaluate", str(run), "--data", str(npz), "--no-progress", "--no-controls"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert (ev["data"]["gamma"], ev["data"]["n_contamination"], ev["data"]["n_train"]) == \
        (recorded["gamma"], recorded["n_contamination"], recorded["n_train"]) == (0.12, 2, 22)
    # a copy elsewhere is other data, evaluated apart (eval-copy-*/): without the run's contamination
    shutil.copy(npz, tmp_path / "copy.npz")
    other = split_for_run(run, str(tmp_path / "copy.npz"), log=lambda m: None)
    assert other.info["gamma"] == 0.0 and np.array_equal(other.test_x, own.test_x)
    # another normal class of the run's own data is no split the run trained on: none injected
    assert split_for_run(run, str(npz), log=lambda m: None, normal="1").info["n_contamination"] == 0



def _three_class_run(tmp_path: Path, normal: str) -> tuple[Path, Path]:
    """A run trained with contamination 0.1 on an .npz of classes 'good', 'Good', 'bad' (normal: `normal`)."""
    from wildgan.cli import main

    rng = np.random.default_rng(0)
    npz, run = tmp_path / "tiny.npz", tmp_path / "run"
    np.savez(npz, x_train=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y_train=np.arange(60) % 3,
             x_test=rng.integers(0, 255, (30, 8, 8), dtype=np.uint8), y_test=np.arange(30) % 3,
             class_names=np.array(["good", "Good", "bad"]))
    assert main(["train", "--data", str(npz), "--normal", normal, "--contamination", "0.1", "--preset", "tiny",
                 "--total-kimg", "0.03", "--phase-kimg", "0.03", "--threads", "1", "--no-progress",
                 "--no-train-scores", "--out", str(run)]) == 0
    return npz, run


def test_normal_given_by_index_or_in_another_case_agrees_with_evaluation_dir(tmp_path):
    # _names_runs_own_split compared --normal by name, folded: `--normal 0` (the index of the run's class 'good') was
    # other data's split, without the run's contamination, though evaluation_dir, comparing the names resolved, wrote
    # it as the run's own (RUN/eval.json); and of classes 'Good' and 'good', --normal Good (that class exactly, not the
    # run's 'good') was split with the run's contamination into eval-normal-Good/
    from wildgan.evaluation.run import evaluation_dir, split_for_run
    from wildgan.scoring.run import read_split_info

    npz, run = _three_class_run(tmp_path, "good")
    recorded = read_split_info(run)
    assert recorded["gamma"] == 0.1 and recorded["n_contamination"] > 0
    for normal in ("0", ("0",), "good", " good"):
        split = split_for_run(run, str(npz), log=lambda m: None, normal=normal)
        assert evaluation_dir(run, recorded, split.info) == run, normal
        assert (split.info["gamma"], split.info["n_contamination"]) == (0.1, recorded["n_contamination"]), normal
    split = split_for_run(run, str(npz), log=lambda m: None, normal="Good")
    assert evaluation_dir(run, recorded, split.info) != run
    assert (split.info["gamma"], split.info["n_contamination"]) == (0.0, 0)


def test_normal_label_0_and_no_class_named_are_taken_as_given(tmp_path):
    # split_for_run tested `normal` by truth: the label 0 (normal=0, class 'good') was dropped, and the run's own
    # normal class 'bad' evaluated instead, with other data's split (no contamination) written as the run's own
    # evaluation; "" or () (no class named) took the run's classes over, split as other data's all the same
    from wildgan.evaluation.run import evaluation_dir, split_for_run
    from wildgan.scoring.run import read_split_info

    npz, run = _three_class_run(tmp_path, "bad")
    recorded = read_split_info(run)
    split = split_for_run(run, str(npz), log=lambda m: None, normal=0)
    assert split.info["normal_classes"] == ["good"] and evaluation_dir(run, recorded, split.info).name == \
        "eval-data-normal-good"
    assert split.info["n_contamination"] == 0
    for normal in (2, "", (), None):
        split = split_for_run(run, str(npz), log=lambda m: None, normal=normal)
        assert split.info["normal_classes"] == ["bad"] and evaluation_dir(run, recorded, split.info) == run, normal
        assert (split.info["gamma"], split.info["n_contamination"]) == (0.1, recorded["n_contamination"]), normal


def test_the_runs_data_path_now_a_link_is_decided_as_evaluation_dir_decides(tmp_path):
    # the path as typed, equal to split.json's source, was taken for the run's own data (split with its
    # contamination) where a link to the data moved elsewhere now stands: the split's source is the link's target, so
    # evaluation_dir filed that split under eval-*/, a split of the run's contamination for other data
    from wildgan.evaluation.run import evaluation_dir, split_for_run
    from wildgan.scoring.run import read_split_info

    npz, run = _three_class_run(tmp_path, "good")
    recorded = read_split_info(run)
    assert recorded["source"] == str(npz.resolve())
    (tmp_path / "moved").mkdir()
    npz.rename(tmp_path / "moved" / npz.name)
    try:
        npz.symlink_to(tmp_path / "moved" / npz.name)
    except OSError:
        pytest.skip("no symbolic links here")
    split = split_for_run(run, recorded["source"], log=lambda m: None)
    assert evaluation_dir(run, recorded, split.info) != run
    assert (split.info["gamma"], split.info["n_contamination"]) == (0.0, 0)


def test_an_older_runs_photos_in_both_are_said_when_its_own_data_is_given_as_data(tmp_path):
    # a rebuild of a run that never recorded photos_in_both says the photos split across its hold-out (`evaluate
    # RUN`); its own data given as --data is the same split, written as the same evaluation (RUN/eval.json), and said
    # nothing, as other data's training part (which trains nothing) is not
    import json
    import warnings

    from wildgan.cli import main
    from wildgan.errors import WildganWarning
    from wildgan.evaluation.run import split_for_run

    rng = np.random.default_rng(0)
    npz, run = tmp_path / "crops.npz", tmp_path / "run"
    np.savez(npz, x=rng.integers(0, 256, (200, 8, 8), dtype=np.uint8), y=np.array([0] * 150 + [1] * 50),
             image_id=np.repeat(np.arange(20), 10))
    with pytest.warns(WildganWarning, match="do not split it"):
        assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.03",
                     "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                     str(run)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)       # (said when drawn, recorded: not again)
        split_for_run(run, str(npz), log=lambda m: None)
    older = json.loads((run / "split.json").read_text())
    assert older.pop("photos_in_both") > 0
    (run / "split.json").write_text(json.dumps(older))
    with pytest.warns(WildganWarning, match="do not split it") as said:
        split_for_run(run, str(npz), log=lambda m: None)
    assert len([w for w in said if "do not split it" in str(w.message)]) == 1
    # other data with photo ids: still nothing said of its training part
    other = tmp_path / "other.npz"
    np.savez(other, x=rng.integers(0, 256, (200, 8, 8), dtype=np.uint8), y=np.array([0] * 150 + [1] * 50),
             image_id=np.repeat(np.arange(20), 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        split_for_run(run, str(other), log=lambda m: None)


def test_another_normal_class_of_the_runs_data_is_one_split_with_or_without_data(tmp_path):
    # `evaluate RUN --normal C` kept the run's contamination, `evaluate RUN --data ITS_DATA --normal C` did not: the
    # same evaluation folder (eval-data-normal-C/) recorded either split by how the command was typed
    from wildgan.evaluation.run import evaluation_dir, split_for_run
    from wildgan.scoring.run import read_split_info

    npz, run = _three_class_run(tmp_path, "bad")
    recorded = read_split_info(run)
    plain, given = (split_for_run(run, data, log=lambda m: None, normal="good") for data in (None, str(npz)))
    assert evaluation_dir(run, recorded, plain.info) == evaluation_dir(run, recorded, given.info) == \
        run / "eval-data-normal-good"
    assert (plain.info["gamma"], plain.info["n_contamination"], plain.info["n_train"]) == \
        (given.info["gamma"], given.info["n_contamination"], given.info["n_train"]) == (0.0, 0, 20)
    assert plain.test_ids == given.test_ids and plain.train_ids == given.train_ids
    # the run's own normal class, by index: the run's split, contamination and all
    own = split_for_run(run, log=lambda m: None, normal="2")
    assert evaluation_dir(run, recorded, own.info) == run and own.info["n_contamination"] == \
        recorded["n_contamination"] > 0
