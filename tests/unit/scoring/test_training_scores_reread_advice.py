"""A run's training scores (for a threshold: `wildgan score --threshold`, `wildgan export --threshold`,
export_onnx(threshold=...), a from_run Detector's threshold_, predict, save, set_params..., run_threshold,
flag_scores, run_training_scores) are computed by reading the run's own training data again. Where that data has
changed since training (a batches.meta that lost label_names, a class-folder tree with an image beside its class
folders), the refusal or warning names the call the user made, says that it needs the labels and how to mend the
file, or that the loose image is left out as it was of the training; never --dataset unlabelled /
dataset='unlabelled', which none of these has."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from damaged_data import meta_damaged


def _python_readers(run: Path, out: Path) -> dict[str, Callable[[], Any]]:
    """The Python entry points that read the run's own data again for its training scores."""
    from wildgan import Detector
    from wildgan.export import export_onnx
    from wildgan.scoring.train_scores import run_training_scores

    return {"export_onnx": lambda: export_onnx(run, out / "m.onnx", threshold="contamination", device="cpu"),
            # (from_run reads the training scores at the first call that needs them: this one)
            "Detector.threshold_": lambda: Detector.from_run(run, device="cpu").threshold_,
            "run_training_scores": lambda: run_training_scores(run, device="cpu", write=False)}


@pytest.mark.parametrize("call", ["export_onnx", "Detector.threshold_", "run_training_scores"])
def test_python_training_scores_refuse_damaged_batches_without_dataset_unlabelled(
        cifar_run: Path, tmp_path: Path, call: str) -> None:
    """A batches.meta that lost label_names since training: each of these says, in its own name, that it needs the
    batches' labels and how to mend the file, not 'or read them without labels (dataset='unlabelled')', an option
    none of these has."""
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
    batches.meta is refused saying that export needs the labels, naming no --dataset unlabelled, an option export
    has not."""
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


def test_score_threshold_of_other_data_refuses_the_runs_damaged_batches_without_dataset_unlabelled(
        cifar_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan score RUN --data OTHER --threshold contamination`: its training scores need the run's training
    split, which the batches' labels make, so a batches.meta damaged since is refused naming how to mend it, not
    'or read them without labels (--dataset unlabelled)'."""
    from PIL import Image

    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    pile = tmp_path / "pile"
    pile.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(pile / "0.png")
    folder = cifar_run.parent / "cifar-10-batches-py"
    with meta_damaged(folder):
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["score", str(run), "--data", str(pile), "--threshold", "contamination", "--out",
                         str(tmp_path / "s.csv"), "--no-progress"]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert "not a CIFAR-10 batches.meta" in err and "--dataset" not in err, err
        assert "remove it to read the batches under CIFAR-10's own class names" in err, err


def _rereaders(run: Path) -> dict[str, Callable[[], Any]]:
    """Calls that read the run's training scores again (under the isolated protocol, not cached by from_run or the
    training) after the batches' labels were damaged, each by the name a refusal should give."""
    import numpy as np

    from wildgan import Detector
    from wildgan.thresholds import flag_scores, run_threshold

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(run, device="cpu")          # (its mixed-protocol scores: read while sound)

    def assigned(then: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            det.batch_mode = "isolated"        # assigned directly: the next call syncs the scores to it
            return then()
        return call

    x = np.zeros((2, 8, 8, 3), np.uint8)
    return {"Detector.set_params": lambda: det.set_params(batch_mode="isolated"),
            "Detector.set_threshold": assigned(lambda: det.set_threshold("contamination")),
            "Detector.predict": assigned(lambda: det.predict(x)),
            "Detector.save": assigned(lambda: det.save(str(run.parent / "saved"))),
            "run_threshold": lambda: run_threshold(det.model_, run, "contamination", batch_mode="isolated"),
            "flag_scores": lambda: flag_scores(det.model_, run, "mad", {"a": np.zeros(2)}, batch_mode="isolated")}


@pytest.mark.parametrize("call", ["Detector.set_params", "Detector.set_threshold", "Detector.predict",
                                  "Detector.save", "run_threshold", "flag_scores"])
def test_training_scores_read_again_name_the_users_call_on_damaged_labels(
        cifar_run: Path, tmp_path: Path, call: str) -> None:
    """A batches.meta that lost label_names since from_run read the run: where a Detector method or
    run_threshold / flag_scores reads the training scores again, the refusal names the call the user made as the one
    that needs the batches' labels, not run_training_scores, a function the user did not call."""
    from wildgan.errors import WildganError

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    calls = _rereaders(run)
    with meta_damaged(cifar_run.parent / "cifar-10-batches-py"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(WildganError, match="not a CIFAR-10 batches.meta") as e:
                calls[call]()
    said = " ".join(str(e.value).split())
    assert "run_training_scores" not in said and "unlabelled" not in said, said
    assert f"{call} needs the batches' labels, and has no reading without them" in said, said


@pytest.mark.parametrize("call", ["export_onnx", "Detector.threshold_", "run_training_scores", "wildgan export"])
def test_training_scores_of_a_tree_with_loose_images_name_no_dataset_option(
        tree_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], call: str) -> None:
    """Reading the run's class-folder tree again for its training scores warns of the image beside the class
    folders: it says the image is left out, as it was of the run's training, and names no '--dataset unlabelled
    (dataset='unlabelled') trains on every image instead', an option none of these has."""
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


@pytest.mark.parametrize("rule", ["contamination", "mad"])
def test_score_threshold_of_other_data_names_scores_way_for_the_runs_loose_images(
        tree_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str) -> None:
    """`wildgan score RUN --data X --threshold contamination|mad` reads the run's own class-folder tree again for its
    training scores: the warning about the image beside its class folders names score's way to score every image of
    that tree (give it with --data), not '--dataset unlabelled trains on every image instead', an option score has
    not."""
    from PIL import Image

    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    run = tmp_path / "run"
    shutil.copytree(tree_run, run)              # (its training scores, computed here, are cached in it)
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(pile / f"{i}.png")
    with pytest.warns(WildganWarning) as said:
        assert main(["score", str(run), "--data", str(pile), "--threshold", rule, "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    loose = [str(w.message) for w in said if "not in a class folder" in str(w.message)]
    tree = tree_run.parent / "tree"
    assert loose and all("--dataset" not in m and f"give it with --data {tree}" in m for m in loose), loose
    capsys.readouterr()
