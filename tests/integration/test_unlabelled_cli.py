"""The newcomer's main use case on the command line: a folder of unlabelled images (anomalies hidden in it) ->
train on all of it -> score new images with a threshold from the training scores -> a report of the most
anomalous training images. Also `wildgan score` on folders (every image) and its early argument checks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def _pngs(folder: Path, x: np.ndarray, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(x):
        Image.fromarray(im).save(folder / f"{prefix}{i:03d}.png")


@pytest.fixture(scope="module")
def pile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wildgan.data import default_sample_path

    d = np.load(default_sample_path())
    root = tmp_path_factory.mktemp("ul")
    x, y = d["x_train"], d["y_train"]
    _pngs(root / "pile", np.concatenate([x[y == 1][:140], x[y == 7][:4]]), "img")
    _pngs(root / "new" / "a", d["x_test"][d["y_test"] == 1][:6], "one")
    _pngs(root / "new" / "b", d["x_test"][d["y_test"] == 7][:6], "seven")
    return root


@pytest.fixture(scope="module")
def trained(pile: Path) -> tuple[Path, str]:
    """The run trained on the pile (tiny, a few hundred images) and what the training said on stderr: every test
    below that needs it gets it, whatever runs first (before, they skipped when the end-to-end test had not)."""
    import contextlib
    import io

    run, said = pile / "run", io.StringIO()
    with contextlib.redirect_stderr(said):
        rc = main(["train", "--data", str(pile / "pile"), "--preset", "tiny", "--total-kimg", "0.4", "--phase-kimg",
                   "0.1", "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(run)])
    assert rc == 0, said.getvalue()
    return run, said.getvalue()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_unlabelled_pile_end_to_end(pile: Path, trained: tuple[Path, str], capsys) -> None:
    run, err = trained
    assert "on 144 images" in err                  # (with --evaluate it is refused before training: test_cli)
    assert (run / "log.txt").read_text().startswith("training wildgan (tiny) on 144 images")
    # the training scores (for thresholds) are written at the end of training, while the pile is at hand
    assert len(_rows(run / "train_scores.csv")) == 144 and "scored the 144 training images" in err

    # every image under the folder tree is scored (its sub-folders are not a protocol), flagged by a training
    # threshold
    out = pile / "new.csv"
    assert main(["score", str(run), "--data", str(pile / "new"), "--threshold", "contamination",
                 "--expected-contamination", "0.1", "--no-progress", "--out", str(out)]) == 0
    rows = _rows(out)
    assert len(rows) == 12 and {Path(r["id"]).parent.name for r in rows} == {"a", "b"}
    assert {r["threshold_rule"] for r in rows} == {"contamination"} and len({r["threshold"] for r in rows}) == 1
    # (the threshold message is wrapped to 100 columns, continuation lines indented: read as one line)
    assert "chosen on the training split" in capsys.readouterr().err.replace("\n  ", " ")
    # the threshold may flag by another score (the residual), and options that do nothing are said to
    assert main(["score", str(run), "--data", str(pile / "new"), "--threshold", "mad", "--score", "L_r",
                 "--expected-contamination", "0.1", "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "threshold for score L_r" in err and "--expected-contamination is not used by --threshold mad" in err
    rows = _rows(out)
    assert {r["threshold_score"] for r in rows} == {"L_r"}
    flagged = [float(r["L_r"]) > float(r["threshold"]) for r in rows]
    assert [int(r["is_anomaly"]) for r in rows] == [int(f) for f in flagged]
    # every score comes with its place among the training images' scores
    train = sorted(float(r["L_r"]) for r in _rows(run / "train_scores.csv"))
    for r in rows:
        below = sum(t < float(r["L_r"]) for t in train) + 0.5 * sum(t == float(r["L_r"]) for t in train)
        assert float(r["train_percentile"]) == pytest.approx(100 * below / len(train), abs=0.01)

    # nothing to evaluate without labels: one clear message, not a traceback
    assert main(["evaluate", str(run)]) == 2
    assert "unlabelled images, so there is no test split" in capsys.readouterr().err

    # the report ranks the training pile itself; percentiles are among all training images, not the top k shown
    one = pile / "new" / "a" / "one000.png"
    capsys.readouterr()
    assert main(["report", str(run), "--top-k", "3", "--image", str(one)]) == 0
    said = "".join(capsys.readouterr())
    top = _rows(run / "report" / "top_anomalous.csv")
    assert len(top) == 3 and all(r["label"] == "" for r in top)
    # ranked by the cached training scores, not by scoring the whole pile again
    assert "ranking the 144 training images by their cached scores" in said and "scoring the 144" not in said
    cached = sorted(_rows(run / "train_scores.csv"), key=lambda r: -float(r["a"]))[:3]
    assert [r["id"] for r in top] == [r["id"] for r in cached]
    named = _rows(run / "report" / "named_images.csv")
    assert main(["score", str(run), "--data", str(one), "--threshold", "contamination", "--no-progress",
                 "--out", str(pile / "one.csv")]) == 0
    assert named[0]["percentile_score"] == "a" and float(named[0]["train_percentile"]) == \
        pytest.approx(float(_rows(pile / "one.csv")[0]["train_percentile"]), abs=0.05)
    assert named[0]["is_anomaly"] == _rows(pile / "one.csv")[0]["is_anomaly"]        # the verdict `score` gives
    md = (run / "report" / "report.md").read_text()
    assert "most anomalous training images" in md and "how many are anomalous is unknown" in md
    assert sorted(p.name for p in (run / "samples").glob("*.png"))[-1] == "fakes-000000.448kimg.png"
    assert "Gs samples after 0.448 kimg" in md          # a short run's grids are not all "000000kimg"
    assert "0 anomalous" not in md                                    # the pile's labels are unknown, not zero

    # the training images moved away since: still a report (curves, samples, named images among the cached training
    # scores), which says why it has no ranking; a folder --image counts its images; --skip-bad leaves a bad one out
    bad = pile / "bad.png"
    bad.write_bytes(b"not an image")
    (pile / "pile").rename(pile / "moved")
    try:
        capsys.readouterr()
        with pytest.warns(UserWarning, match="skipped .*bad.png"):
            assert main(["report", str(run), "--image", str(pile / "new" / "a"), str(bad), "--skip-bad",
                         "--no-progress"]) == 0
        err = capsys.readouterr().err
        assert "scored 6 named images (from 2 paths)" in err and "pile: no such file or folder" in err
        assert "The training images could not be read" in (run / "report" / "report.md").read_text()
        assert len(_rows(run / "report" / "named_images.csv")) == 6
    finally:
        (pile / "moved").rename(pile / "pile")
        bad.unlink()


def test_score_checks_its_arguments_before_scoring(pile: Path, capsys, monkeypatch) -> None:
    import wildgan.scoring.run as scoring_run

    def boom(*a, **k):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(scoring_run, "load_model", boom)
    assert main(["score", "no-such-run", "--out", str(pile)]) == 2
    assert f"--out {pile} is a folder; give a file name" in capsys.readouterr().err
    assert main(["score", "no-such-run", "--threshold", "mad", "--mad-k", "-1", "--out", "x.csv"]) == 2
    assert "--mad-k must be a finite number >= 0" in capsys.readouterr().err
    assert main(["score", "no-such-run", "--threshold", "contamination", "--expected-contamination", "0.9",
                 "--out", "x.csv"]) == 2
    assert "must be in (0, 0.5]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["score", "no-such-run", "--threshold", "f1", "--out", "x.csv"])        # not offered on the CLI
    afile = pile / "a-file.txt"
    afile.write_text("x")
    assert main(["score", "no-such-run", "--out", str(afile / "s.csv")]) == 2      # its folder is a file
    assert f"cannot write --out {afile / 's.csv'}: {afile} is a file, not a folder" in capsys.readouterr().err
    afile.unlink()


def test_score_fetches_the_threshold_before_scoring_the_pile(pile: Path, trained: tuple[Path, str], capsys,
                                                              tmp_path: Path, monkeypatch) -> None:
    # training scores missing and the training images moved: the error comes before the pile is scored
    import shutil

    import wildgan.scoring.run as scoring_run

    run = trained[0]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for f in copy.glob("train_scores*"):
        f.unlink()

    def boom(*a, **k):
        raise AssertionError("the pile was scored before the threshold's training scores were at hand")

    monkeypatch.setattr(scoring_run, "score_files", boom)
    (pile / "pile").rename(pile / "moved")
    try:
        assert main(["score", str(copy), "--data", str(pile / "new"), "--threshold", "contamination",
                     "--no-progress", "--out", str(tmp_path / "s.csv")]) == 2
        assert "train_scores.csv is missing or stale" in capsys.readouterr().err
    finally:
        (pile / "moved").rename(pile / "pile")


def test_score_skip_bad(pile: Path, trained: tuple[Path, str], capsys, tmp_path: Path) -> None:
    run = trained[0]
    bad = tmp_path / "imgs"
    _pngs(bad, np.zeros((2, 28, 28), np.uint8), "ok")
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n trunc")
    assert main(["score", str(run), "--data", str(bad), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "(--skip-bad leaves unreadable files out)" in err
    assert main(["score", str(run), "--data", str(bad), "--skip-bad", "--no-progress",
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert len(_rows(tmp_path / "s.csv")) == 2
    assert "broken.png" in capsys.readouterr().err                                   # named in the warning


def test_score_a_pile_in_chunks(pile: Path, trained: tuple[Path, str], capsys, tmp_path: Path) -> None:
    run = trained[0]
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    # 150 files: score batches of 64, 64 and 22, the last topped up with 42 images of the first chunk
    data = ["--data", str(pile / "pile"), str(pile / "new" / "a")]
    assert main(["score", str(run), *data, "--no-progress", "--out", str(whole)]) == 0
    assert main(["score", str(run), *data, "--chunk-size", "64", "--no-progress", "--out", str(chunked)]) == 0
    assert "read in 3 chunks of up to 64" in capsys.readouterr().err
    assert whole.read_text() == chunked.read_text()            # the same batches, whatever the chunk size
    assert not (tmp_path / "chunked.csv.chunks").exists()       # the finished chunks' folder goes with the CSV

    # interrupted while scoring the third chunk (Ctrl-C): the first two chunks' scores are kept and a rerun with
    # the same --out takes them; the CSV is the same as an uninterrupted scoring's
    from wildgan.scoring.run import LoadedModel

    real, calls = LoadedModel.score, []

    def interrupted(self, x, **kw):
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, x, **kw)

    resumed = tmp_path / "resumed.csv"
    args = ["score", str(run), *data, "--chunk-size", "64", "--out", str(resumed)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LoadedModel, "score", interrupted)
        assert main(args + ["--no-progress"]) == 130
    assert not resumed.exists() and len(list((tmp_path / "resumed.csv.chunks").glob("chunk-*.npz"))) == 2
    capsys.readouterr()
    assert main(args) == 0                                      # with progress: the resumption is announced
    err = capsys.readouterr().err
    assert "resuming: 2 chunks already scored (of 3)" in err and "3 chunks of up to 64; 2 of them resumed" in err
    assert resumed.read_text() == whole.read_text() and not (tmp_path / "resumed.csv.chunks").exists()
    # --no-resume: an earlier scoring's finished chunks are deleted and every chunk is scored again
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LoadedModel, "score", interrupted)
        calls.clear()
        assert main(args + ["--no-progress"]) == 130
    assert main(args + ["--no-progress", "--no-resume"]) == 0
    err = capsys.readouterr().err
    assert "--no-resume: deleted" in err and "of them resumed" not in err
    assert resumed.read_text() == whole.read_text()
    with pytest.raises(SystemExit):
        main(["score", str(run), "--chunk-size", "0", "--out", str(whole)])
    assert "--chunk-size: must be at least 1, got 0" in capsys.readouterr().err


def test_evaluate_an_unlabelled_run_on_labelled_folders(pile: Path, trained: tuple[Path, str], capsys) -> None:
    run = trained[0]
    from wildgan.data import default_sample_path

    d = np.load(default_sample_path())
    tree = pile / "labelled"                      # a class-folder tree: one/ = normal, seven/ = anomalies
    _pngs(tree / "one", d["x_test"][d["y_test"] == 1][:40], "o")
    _pngs(tree / "seven", d["x_test"][d["y_test"] == 7][:20], "s")
    assert main(["evaluate", str(run), "--data", str(tree), "--normal", "one", "--no-controls", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the run never held any of these out: every labelled image is a test image (not a 20% hold-out)
    assert (out["n_test"], out["n_anomalous"]) == (60, 20)
    # the pile's own anomalies (4 sevens) are unknown, not 0
    saved = json.loads((run / "eval.json").read_text())
    assert saved["n_train"] == 144 and saved["n_train_anomalous"] is None
    assert main(["evaluate", str(run), "--data", str(tree), "--normal", "one", "--no-controls"]) == 0
    assert "every labelled image" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--data", str(tree), "--normal", "one", "--no-controls", "--json",
                 "--no-whole"]) == 0                           # the tree's own 20% hold-out instead
    out = json.loads(capsys.readouterr().out)
    assert (out["n_test"], out["n_anomalous"]) == (12, 4)
    # score: the same folder tree with --normal is labelled, as its .tar.gz is (every image, a label column)
    csv_path = pile / "labelled.csv"
    assert main(["score", str(run), "--data", str(tree), "--normal", "one", "--no-progress",
                 "--out", str(csv_path)]) == 0
    rows = _rows(csv_path)
    assert len(rows) == 60 and sum(int(r["label"]) for r in rows) == 20
    # a folder of loose images has no classes for --normal to choose from: the message says so
    assert main(["score", str(run), "--data", str(pile / "new" / "a"), "--normal", "one", "--out", str(csv_path)]) == 2
    assert "these images have no labels to use" in capsys.readouterr().err
    # --data with nothing after it (an unset $DIR) is refused, not read as "the run's own test split"
    assert main(["score", str(run), "--data", "--out", str(csv_path)]) == 2
    assert "--data is given without a path" in capsys.readouterr().err


def test_a_labelled_folder_of_one_class_is_named_with_what_to_add(pile: Path, trained: tuple[Path, str], capsys,
                                                                  tmp_path: Path) -> None:
    """A user's check set with normal crops only (checks/normal/*.png) is read as a pile: evaluate, score --normal
    and train --normal name its one class folder and the second one to add, where evaluate was told to drop --normal
    and then asked for "class folders" (or, under 16 images, for one minibatch of the tiny preset), and train to drop
    --normal, as if the folder held no class folder at all."""
    from wildgan.data import default_sample_path

    run, _ = trained
    d = np.load(default_sample_path())
    checks = tmp_path / "checks"
    _pngs(checks / "normal", d["x_test"][d["y_test"] == 1][:10], "n")
    for extra in (["--normal", "normal"], []):
        assert main(["evaluate", str(run), "--data", str(checks), *extra, "--no-controls"]) == 2
        err = capsys.readouterr().err
        assert "one class folder only (normal/)" in err and "second class folder beside normal/" in err, err
        assert "drop --normal" not in err and "need at least" not in err
    assert main(["score", str(run), "--data", str(checks), "--normal", "normal", "--out",
                 str(tmp_path / "s.csv")]) == 2
    assert "one class folder only (normal/)" in capsys.readouterr().err
    assert main(["train", "--data", str(checks), "--normal", "normal", "--preset", "tiny", "--dry-run",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "one class folder only (normal/)" in err and "to train on every image as a pile, drop --normal" in err
    # loose images have no class folder to name: the message stays the general one
    assert main(["evaluate", str(run), "--data", str(pile / "new" / "a"), "--no-controls"]) == 2
    err = capsys.readouterr().err
    assert "unlabelled images (no class folders or labels)" in err and "class folder only" not in err


def test_whole_evaluation_of_a_labelled_run(tmp_path: Path, capsys, monkeypatch) -> None:
    """--whole after a labelled run: every image of --data (train and test parts), not its protocol's test split;
    without --data it is refused (the run's own data has a test split)."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split, default_sample_path

    cfg = DataConfig(data=str(default_sample_path()), normal=("1",), exclude_classes=("0",))
    s = build_split(cfg, whole=True)
    d = np.load(default_sample_path())
    ys = np.concatenate([d["y_train"], d["y_test"]])
    assert len(s.train_x) == 0 and len(s.test_y) == int((ys != 0).sum())
    assert int((s.test_y == 0).sum()) == int((ys == 1).sum())
    assert s.info["n_test_anomalous"] == int(s.test_y.sum()) and s.info["test_size"] == "whole"
    run = tmp_path / "r"
    assert main(["train", "--out", str(run), "--preset", "tiny", "--total-kimg", "0.3", "--phase-kimg", "0.1",
                 "--normal", "1", "--no-progress", "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--whole", "--no-controls"]) == 2
    assert "needs --data" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--data", str(default_sample_path()), "--normal", "1", "--whole",
                 "--no-controls", "--json", "--no-progress"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["n_test"] == len(ys)
    assert "includes the training images" in said.err            # the run's own data, evaluated whole

    # a tar of loose images (a pile) after this labelled run: every image of it is scored, as the same files in a
    # folder are (it used to be refused: it has no test split under the run's protocol)
    import tarfile

    folder = tmp_path / "new"
    _pngs(folder, d["x_test"][:10], "img")
    with tarfile.open(tmp_path / "new.tar.gz", "w:gz") as tf:
        tf.add(folder, arcname="new")
    out_tar, out_dir = tmp_path / "tar.csv", tmp_path / "dir.csv"
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    assert main(["score", str(run), "--data", str(tmp_path / "new.tar.gz"), "--no-progress",
                 "--out", str(out_tar)]) == 0
    assert "scored 10 images (every image of" in capsys.readouterr().err
    assert main(["score", str(run), "--data", str(folder), "--no-progress", "--out", str(out_dir)]) == 0
    tar_rows, dir_rows = _rows(out_tar), _rows(out_dir)
    assert [r["id"] for r in tar_rows] == [f"new/img{i:03d}.png" for i in range(10)]
    assert [{k: v for k, v in r.items() if k != "id"} for r in tar_rows] == \
        [{k: v for k, v in r.items() if k != "id"} for r in dir_rows]


def test_study_refuses_an_unlabelled_pile(pile: Path, capsys, tmp_path: Path, monkeypatch) -> None:
    import tarfile

    assert main(["study", "--data", str(pile / "pile"), "--normal", "all", "--out", str(pile / "st")]) == 2
    assert "a study measures AUC and needs labelled data" in capsys.readouterr().err
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    with tarfile.open(tmp_path / "pile.tar.gz", "w:gz") as tf:          # the same pile as a tar: refused first
        tf.add(pile / "pile", arcname="pile")
    assert main(["study", "--data", str(tmp_path / "pile.tar.gz"), "--out", str(tmp_path / "st")]) == 2
    err = capsys.readouterr().err
    assert "a study measures AUC and needs labelled data" in err and "training" not in err


def test_main_restores_the_warning_format(capsys) -> None:
    import warnings

    before = warnings.formatwarning
    main(["evaluate", "/no/such/run"])
    assert warnings.formatwarning is before
    assert "no such run directory" in capsys.readouterr().err


def test_unlabelled_tar_and_loose_images_beside_class_folders(tmp_path: Path, monkeypatch) -> None:
    import tarfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))      # archives unpack here, not in ~/.cache

    from wildgan.config import DataConfig
    from wildgan.data import build_split, load_dataset

    _pngs(tmp_path / "p" / "x", np.zeros((10, 8, 8), np.uint8), "i")
    _pngs(tmp_path / "p" / "y", np.full((10, 8, 8), 200, np.uint8), "j")
    with tarfile.open(tmp_path / "p.tar.gz", "w:gz") as t:
        t.add(tmp_path / "p", arcname="p")
    s = build_split(DataConfig(data=str(tmp_path / "p.tar.gz"), dataset="unlabelled"))
    assert s.info["protocol"] == "unlabelled" and len(s.train_x) == 20
    # a class tree with loose images at its root: they are left out, and the user is told
    _pngs(tmp_path / "p", np.zeros((2, 8, 8), np.uint8), "loose")
    with pytest.warns(UserWarning, match="2 image files directly in it are not in a class folder"):
        train, _, _ = load_dataset(tmp_path / "p")
    assert len(train.x) == 20


def test_score_skip_bad_on_a_data_set_file(tmp_path: Path, capsys, monkeypatch) -> None:
    """`wildgan score RUN --data set.tar.gz --skip-bad`: the data-set path (its test split) skips unreadable files
    too."""
    import tarfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))      # archives unpack here, not in ~/.cache

    rng = np.random.default_rng(0)

    def tree_tar(root: Path, bad: bool) -> Path:
        _pngs(root / "a", rng.integers(0, 60, (40, 8, 8), dtype=np.uint8), "a")
        _pngs(root / "b", rng.integers(150, 255, (20, 8, 8), dtype=np.uint8), "b")
        if bad:
            (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n trunc")
        with tarfile.open(root.with_suffix(".tar.gz"), "w:gz") as t:
            t.add(root, arcname=root.name)
        return root.with_suffix(".tar.gz")

    clean, dirty = tree_tar(tmp_path / "clean", False), tree_tar(tmp_path / "dirty", True)
    run = tmp_path / "run"
    assert main(["train", "--data", str(clean), "--normal", "a", "--preset", "tiny", "--total-kimg", "0.2",
                 "--phase-kimg", "0.1", "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(dirty), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 2
    assert "broken.png" in capsys.readouterr().err
    assert main(["score", str(run), "--data", str(dirty), "--skip-bad", "--no-progress",
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert 0 < len(_rows(tmp_path / "s.csv"))


def test_an_npz_of_images_without_labels_is_an_unlabelled_pile(tmp_path: Path, capsys) -> None:
    """Images stored as arrays, no labels: train on all of them, score another such file image by image."""
    from wildgan.data import default_sample_path

    d = np.load(default_sample_path())
    np.savez(tmp_path / "pile.npz", x=np.concatenate([d["x_train"][d["y_train"] == 1][:60], d["x_train"][:3]]))
    np.savez(tmp_path / "new.npz", x=d["x_test"][::200])
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "pile.npz"), "--preset", "tiny", "--total-kimg", "0.2",
                 "--phase-kimg", "0.1", "--no-progress", "--threads", "1", "--out", str(run)]) == 0
    split = json.loads((run / "split.json").read_text())
    assert split["protocol"] == "unlabelled" and split["format"] == "unlabelled-npz" and split["n_train"] == 63
    assert main(["score", str(run), "--data", str(tmp_path / "new.npz"), "--no-progress", "--threshold", "mad",
                 "--out", str(tmp_path / "s.csv")]) == 0
    rows = _rows(tmp_path / "s.csv")
    assert len(rows) == 10 and rows[0]["id"] == "new:x:0" and "is_anomaly" in rows[0]
    # labels present but not wanted: --dataset unlabelled; a study refuses the pile
    assert main(["train", "--data", str(default_sample_path()), "--dataset", "unlabelled", "--preset", "tiny",
                 "--dry-run", "--out", str(tmp_path / "r2")]) == 0
    assert main(["study", "--data", str(tmp_path / "pile.npz"), "--normal", "1", "--out", str(tmp_path / "st")]) == 2
    assert "needs labelled data" in capsys.readouterr().err


def test_score_a_labelled_data_set_after_an_unlabelled_run(pile: Path, trained: tuple[Path, str],
                                                           tmp_path: Path, capsys) -> None:
    """The run has no classes: a labelled .npz is scored image by image, labelled only when --normal says how
    (then every labelled image, not a protocol's test split)."""
    run = trained[0]
    d = np.load(default_sample_path_())
    np.savez(tmp_path / "lab.npz", x=d["x_test"][::100], y=d["y_test"][::100])
    assert main(["score", str(run), "--data", str(tmp_path / "lab.npz"), "--no-progress", "--out",
                 str(tmp_path / "a.csv"), "--mad", "2"]) == 0          # abbreviated --mad-k: still warned about
    rows = _rows(tmp_path / "a.csv")
    assert len(rows) == 20 and "label" not in rows[0]
    assert "--mad-k only matters with --threshold" in capsys.readouterr().err
    assert main(["score", str(run), "--data", str(tmp_path / "lab.npz"), "--normal", "1", "--no-progress",
                 "--out", str(tmp_path / "b.csv")]) == 0
    rows = _rows(tmp_path / "b.csv")
    assert len(rows) == 20 and sorted({r["label"] for r in rows}) == ["0", "1"]
    assert sum(r["label"] == "0" for r in rows) == 2                  # the two 1s of the 20 digits


def default_sample_path_() -> Path:
    from wildgan.data import default_sample_path

    return default_sample_path()


def test_score_a_tar_pile_after_an_unlabelled_run(pile: Path, trained: tuple[Path, str],
                                                  tmp_path: Path, monkeypatch, capsys) -> None:
    """A tar of images after an unlabelled run: every image, ids as inside the archive, --skip-bad honoured."""
    import tarfile

    run = trained[0]
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    (pile / "new" / "a" / "broken.png").write_bytes(b"not a png")
    try:
        with tarfile.open(tmp_path / "new.tar.gz", "w:gz") as tf:
            tf.add(pile / "new", arcname="new")
    finally:
        (pile / "new" / "a" / "broken.png").unlink()
    assert main(["score", str(run), "--data", str(tmp_path / "new.tar.gz"), "--no-progress",
                 "--out", str(tmp_path / "t.csv")]) == 2
    assert f"{tmp_path / 'new.tar.gz'}:new/a/broken.png" in capsys.readouterr().err    # named inside the archive
    assert main(["score", str(run), "--data", str(tmp_path / "new.tar.gz"), "--no-progress", "--skip-bad",
                 "--out", str(tmp_path / "t.csv")]) == 0
    ids = [r["id"] for r in _rows(tmp_path / "t.csv")]
    assert len(ids) == 12 and all(i.startswith("new/") for i in ids) and not any("broken" in i for i in ids)


def test_score_one_image_at_a_time_with_batch_mode_isolated(pile: Path, trained: tuple[Path, str],
                                                            capsys, tmp_path: Path) -> None:
    run = trained[0]
    folder, one = pile / "new" / "a", sorted((pile / "new" / "a").glob("*.png"))[2]
    out = {k: tmp_path / f"{k}.csv" for k in ("iso_all", "iso_one", "mix_one")}
    flags = ["--no-progress", "--threshold", "contamination"]
    assert main(["score", str(run), "--data", str(folder), "--batch-mode", "isolated", *flags,
                 "--out", str(out["iso_all"])]) == 0
    assert main(["score", str(run), "--data", str(one), "--batch-mode", "isolated", *flags,
                 "--out", str(out["iso_one"])]) == 0
    assert (run / "train_scores-isolated.csv").is_file()      # the threshold from training scores made the same way
    inside = next(r for r in _rows(out["iso_all"]) if r["id"] == one.name)     # (ids relative to the folder)
    alone = _rows(out["iso_one"])[0]
    assert float(alone["a"]) == pytest.approx(float(inside["a"]), abs=1e-6)
    assert alone["threshold"] == inside["threshold"]
    capsys.readouterr()
    # mixed (the default) with a single image: scored, with a warning that says why isolated suits it
    assert main(["score", str(run), "--data", str(one), "--no-progress", "--out", str(out["mix_one"])]) == 0
    err = capsys.readouterr().err
    assert "1 image scored in batch mode 'mixed'" in err and "--batch-mode isolated" in err
    with pytest.raises(SystemExit):
        main(["score", str(run), "--data", str(one), "--batch-mode", "alone", "--out", str(out["mix_one"])])
