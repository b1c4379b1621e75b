"""fixJM: the last callers told of --dataset unlabelled / dataset='unlabelled' on damaged labels or a class-folder
tree's loose images, an option none of them has: `wildgan export --threshold`, export_onnx(threshold=...),
Detector.from_run and run_training_scores reading the run's own data again, and the choice of normal classes asked
for by `wildgan evaluate RUN --data TREE` / evaluate_run of a pile-trained run."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from damaged_data import cifar_train_run, meta_damaged, tree_with_loose_image


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """damaged_data.cifar_train_run: CIFAR-10 batches (normal: airplane), their batches.meta for the tests to damage
    (and put back)."""
    return cifar_train_run(tmp_path_factory.mktemp("cifar"))


def _python_readers(run: Path, out: Path) -> dict[str, Callable[[], Any]]:
    """The Python entry points that read the run's own data again for its training scores."""
    from wildgan import Detector
    from wildgan.export import export_onnx
    from wildgan.scoring.train_scores import run_training_scores

    return {"export_onnx": lambda: export_onnx(run, out / "m.onnx", threshold="contamination", device="cpu"),
            # (from_run reads the training scores at the first call that needs them, fixJW: this one)
            "Detector.threshold_": lambda: Detector.from_run(run, device="cpu").threshold_,
            "run_training_scores": lambda: run_training_scores(run, device="cpu", write=False)}


@pytest.mark.parametrize("call", ["export_onnx", "Detector.threshold_", "run_training_scores"])
def test_python_training_scores_refuse_damaged_batches_without_dataset_unlabelled(
        cifar_run: Path, tmp_path: Path, call: str) -> None:
    """A batches.meta that lost label_names since training was refused with 'or read them without labels
    (dataset='unlabelled')', an option none of these has: each says it needs the batches' labels, and how to mend
    the file."""
    from wildgan.errors import DataError

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    folder = cifar_run.parent / "cifar-10-batches-py"
    with meta_damaged(folder):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(DataError, match="not a CIFAR-10 batches.meta") as e:
                _python_readers(run, tmp_path)[call]()
        said = " ".join(str(e.value).split())
        assert "unlabelled" not in said and "--dataset" not in said, said
        assert (f"or give it label_names (the batches' class names): {call} needs the batches' labels, and has no "
                f"reading without them") in said, said


def test_export_threshold_refuses_damaged_batches_without_dataset_unlabelled(
        cifar_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan export --threshold contamination` reads the run's batches again for its training scores: a damaged
    batches.meta was refused naming --dataset unlabelled, an option export has not."""
    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    folder = cifar_run.parent / "cifar-10-batches-py"
    with meta_damaged(folder):
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--threshold", "contamination",
                         "--no-progress"]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert "not a CIFAR-10 batches.meta" in err and "--dataset" not in err, err
        assert "`wildgan export` needs the batches' labels, and has no reading without them" in err, err


@pytest.mark.parametrize("call", ["export_onnx", "Detector.threshold_", "run_training_scores", "wildgan export"])
def test_training_scores_of_a_tree_with_loose_images_name_no_dataset_option(
        tree_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], call: str) -> None:
    """Reading the run's class-folder tree again for its training scores warned of the image beside the class
    folders: '--dataset unlabelled (dataset='unlabelled') trains on every image instead', an option none of these
    has. The warning says the image is left out, as it was of the run's training, and names no such option."""
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    run = tmp_path / "run"
    shutil.copytree(tree_run, run)
    with pytest.warns(WildganWarning) as said:
        if call == "wildgan export":
            assert main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--threshold", "contamination",
                         "--no-progress"]) == 0
        else:
            _python_readers(run, tmp_path)[call]()
    loose = [" ".join(str(w.message).split()) for w in said if "not in a class folder" in str(w.message)]
    assert loose and all("left out (e.g. loose.png)" in m for m in loose), loose
    assert not [m for m in loose if "unlabelled" in m or "--dataset" in m], loose
    capsys.readouterr()


@pytest.fixture(scope="module")
def pile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run of Detector.fit on a folder of loose images (no classes, so no normal class recorded)."""
    from PIL import Image

    from wildgan import Detector

    where = tmp_path_factory.mktemp("pile-run")
    pile = where / "pile"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 run_dir=str(where / "run")).fit(str(pile))
    return where / "run"


@pytest.mark.parametrize("how", ["wildgan evaluate", "evaluate_run"])
def test_evaluate_of_a_pile_run_on_a_tree_asks_for_normal_classes_without_training_advice(
        pile_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str) -> None:
    """Evaluating a run trained on a pile on a labelled class-folder tree asks for its normal class(es): the request
    went on '(or when training, --dataset unlabelled to train on every image ...)', advice for a training, which
    evaluate is not, and an option it has not. It names evaluate's own option only."""
    from wildgan.cli import main
    from wildgan.errors import ConfigError
    from wildgan.evaluation.run import evaluate_run

    tree = tree_with_loose_image(tmp_path)
    (tree / "loose.png").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "wildgan evaluate":
            capsys.readouterr()
            assert main(["evaluate", str(pile_run), "--data", str(tree), "--no-progress"]) == 2
            said = " ".join(capsys.readouterr().err.split())
            option = "--normal"
        else:
            with pytest.raises(ConfigError) as e:
                evaluate_run(pile_run, str(tree), device="cpu", controls=False, write=False)
            said = " ".join(str(e.value).split())
            option = "normal="
    assert f"choose the normal class(es) ({option}" in said, said
    assert "unlabelled" not in said and "when training" not in said, said


def test_data_md_names_the_python_readers_that_need_the_labels() -> None:
    """docs/data.md named only the commands (evaluate, report, study) as needing the labels of a damaged batches.meta
    or an .npz missing y_test: their Python functions, and the readers of a run's own data for its training scores
    (export --threshold, export_onnx, Detector.from_run, run_training_scores), refuse it so too."""
    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text(encoding="utf-8").split())
    for words in ("(`evaluate_run`, `report`, `run_report`, `run_study`), need the labels",
                  "`wildgan export --threshold`, `export_onnx(threshold=...)`, `Detector.from_run(RUN)` and "
                  "`run_training_scores(RUN)`", "left out of those scores",
                  "`evaluate_run`, `report`, `run_report` and `run_study` in Python, say to add the labels"):
        assert words in text, words
