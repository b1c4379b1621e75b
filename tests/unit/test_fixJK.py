"""fixJK: CIFAR-10 batches and damaged labels: the advice of a refusal of damaged labels per thread and per command
(`wildgan score` of a run's own data, `wildgan study --data`), and an .npz missing one split's labels read as the pile
it also is where labels are not used."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from damaged_data import cifar10_protocol_run, write_batches


def _meta_without_label_names(folder: Path) -> Path:
    """A tiny complete cifar-10-batches-py folder whose batches.meta has no label_names."""
    return write_batches(folder, 2, lambda name, rng: [0, 1], seed=0, meta={b"num_vis": 3072})


def test_the_advice_on_damaged_labels_is_each_threads_own(tmp_path: Path) -> None:
    """A thread within labels_needed_by('evaluate') does not change the words another thread's refusal gets at the
    same time (the setting was one module-level flag: the other thread was told `wildgan evaluate` needs labels)."""
    from wildgan.data.dataset_files import cifar_batch_class_names, labels_needed_by
    from wildgan.errors import DataError

    folder = _meta_without_label_names(tmp_path / "cifar-10-batches-py")
    inside, read = threading.Event(), threading.Event()
    said: dict[str, str] = {}

    def refusal() -> str:
        with pytest.raises(DataError) as e:
            cifar_batch_class_names(folder)
        return str(e.value)

    def evaluate_like() -> None:
        with labels_needed_by("evaluate"):
            inside.set()
            read.wait(10)                  # (the other thread reads while this one is inside)
            said["evaluate"] = refusal()

    def plain() -> None:
        inside.wait(10)
        try:
            said["plain"] = refusal()
        finally:
            read.set()

    threads = [threading.Thread(target=evaluate_like), threading.Thread(target=plain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert "read them without labels" in said["plain"] and "wildgan evaluate" not in said["plain"], said["plain"]
    assert "`wildgan evaluate` needs" in said["evaluate"] and "without labels (" not in said["evaluate"], said


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run, its data): a tiny `wildgan train` run of fake CIFAR-10 batches (cifar10 protocol), whose batches.meta
    was damaged since (no label_names); trained without a batches.meta, under CIFAR-10's own names."""
    return cifar10_protocol_run(tmp_path_factory.mktemp("cifar-run"), meta=None)


def test_score_of_the_runs_own_damaged_batches_names_a_way_that_scores_them(
        cifar_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan score RUN` keeps its refusal of the run's own batches whose batches.meta lost label_names, and names
    score's way to score them without labels (was --dataset unlabelled, which score has not): the way works."""
    import warnings

    from wildgan import Detector
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    run, data = cifar_run
    capsys.readouterr()
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    way = f"Detector.from_run({str(run)!r}).decision_function({str(data)!r})"
    assert "--dataset unlabelled" not in err and way in err, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)       # (its labels are damaged: read without them, said)
        scores = Detector.from_run(run, device="cpu").decision_function(str(data))
    assert len(scores) == 240 and np.isfinite(scores).all()


def _npz_without_y_test(path: Path) -> Path:
    rng = np.random.default_rng(3)
    np.savez(path, x_train=rng.integers(1, 255, (20, 8, 8), dtype=np.uint8), y_train=np.repeat([0, 1], 10),
             x_test=rng.integers(1, 255, (6, 8, 8), dtype=np.uint8))
    return path


def test_an_npz_missing_y_test_is_scored_as_the_pile_it_also_is(fit_run: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An .npz with x_train, y_train and x_test but no y_test has sound images: the Detector and `wildgan score` of a
    run without a protocol of its own read it as a pile (its refusal was not marked SPLIT_CLASSES, so it was refused
    outright, naming --dataset unlabelled, which score has not), the missing labels said."""
    from wildgan import Detector
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    data = _npz_without_y_test(tmp_path / "part.npz")
    with pytest.warns(WildganWarning, match="missing labels '?y_test") as said:
        scores = Detector.from_run(fit_run, device="cpu").decision_function(str(data))
    assert len(scores) == 26
    assert not any("--dataset unlabelled" in str(w.message) or "dataset='unlabelled'" in str(w.message)
                   for w in said), [str(w.message) for w in said]
    with pytest.warns(WildganWarning, match="missing labels y_test") as said:
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    assert not any("--dataset unlabelled" in str(w.message) for w in said), [str(w.message) for w in said]
    assert "its labels are damaged: read without them" in capsys.readouterr().err
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 27


def test_score_of_an_npz_missing_y_test_after_a_protocol_run_names_scores_way(
        cifar_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After a run with a protocol of its own, such an .npz is refused as a labelled split (its test images have no
    labels), naming score's way to score it whole, not --dataset unlabelled, an option score has not."""
    from wildgan.cli import main

    run, _ = cifar_run
    data = _npz_without_y_test(tmp_path / "part.npz")
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(data), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "missing labels y_test" in err and "--dataset unlabelled" not in err, err
    assert "decision_function(" in err, err


def _class_tar_with_loose_image(where: Path) -> Path:
    """A .tar.gz of a class-folder tree (a/, b/, 4 images each) with one image beside the class folders."""
    import tarfile

    from PIL import Image

    tree = where / "tree"
    rng = np.random.default_rng(4)
    for name in ("a/0.png", "a/1.png", "a/2.png", "a/3.png", "b/0.png", "b/1.png", "b/2.png", "b/3.png", "loose.png"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tree / name)
    archive = where / "classes.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for f in sorted(tree.rglob("*.png")):
            tf.add(f, arcname=f.relative_to(tree).as_posix())
    return archive


def test_score_says_its_own_way_to_score_the_loose_images_of_a_class_folder_tar(
        fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The warning about images beside the class folders of a tar given to `wildgan score --normal` named
    '--dataset unlabelled trains on every image instead', an option score has not: it names score's way, which scores
    them (leaving out --normal)."""
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    archive = _class_tar_with_loose_image(tmp_path)
    with pytest.warns(WildganWarning, match="not in a class folder") as said:
        assert main(["score", str(fit_run), "--data", str(archive), "--normal", "a", "--out",
                     str(tmp_path / "labelled.csv"), "--no-progress"]) == 0
    loose = [str(w.message) for w in said if "not in a class folder" in str(w.message)]
    assert loose and all("--dataset" not in m and "leave out --normal" in m for m in loose), loose
    # the way named scores them: every image of the tar, the loose one too
    assert main(["score", str(fit_run), "--data", str(archive), "--out", str(tmp_path / "all.csv"),
                 "--no-progress"]) == 0
    assert len((tmp_path / "all.csv").read_text().splitlines()) == 1 + 9
    capsys.readouterr()


def test_data_md_says_what_each_command_does_with_damaged_labels() -> None:
    """docs/data.md named --dataset unlabelled as the way out of a batches.meta without label_names, which evaluate,
    report, score and study have not (or refuse): it says what those commands say (they need the labels: remove or
    mend batches.meta; score names its own way), and how an .npz missing y_test is read."""
    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text(encoding="utf-8").split())
    for words in ("`wildgan evaluate`, `wildgan report`", "need the labels", "give it `label_names`",
                  "`wildgan score RUN`", "no `y_test`"):
        assert words in text, words


def test_run_study_is_not_told_to_read_damaged_batches_with_dataset_unlabelled(tmp_path: Path) -> None:
    """run_study (the Python API of `wildgan study`) of batches whose batches.meta has no label_names was told to read
    them with dataset='unlabelled', which it refuses (check_study_data): it is told that it needs the labels."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import DataError
    from wildgan.studies import grid
    from wildgan.studies.study import run_study

    data = _meta_without_label_names(tmp_path / "cifar-10-batches-py")
    base = RunConfig(data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1),
                     net=net_config_for_preset("tiny", 8, 1), preset="tiny",
                     train=TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"],
                                       device="cpu"))
    with pytest.raises(DataError, match="not a CIFAR-10 batches.meta") as e:
        run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st", progress=False,
                  log=lambda m: None)
    assert "dataset='unlabelled'" not in str(e.value) and "run_study needs the batches' labels" in str(e.value), e
