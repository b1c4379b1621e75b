"""fixJL: the advice on damaged labels and on a class-folder tree's loose images where fixJK left it naming
--dataset unlabelled: the run's own data read for `wildgan score --data X --threshold`, and evaluate_run / report /
run_report called from Python."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from damaged_data import cifar_train_run, meta_damaged


@pytest.mark.parametrize("rule", ["contamination", "mad"])
def test_score_threshold_of_other_data_names_scores_way_for_the_runs_loose_images(
        tree_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str) -> None:
    """`wildgan score RUN --data X --threshold contamination|mad` reads the run's own class-folder tree again for its
    training scores: the warning about the image beside its class folders named '--dataset unlabelled trains on
    every image instead', an option score has not. It names score's way to score every image of that tree."""
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


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """damaged_data.cifar_train_run: CIFAR-10 batches (normal: airplane), their batches.meta for the tests to damage
    (and put back)."""
    return cifar_train_run(tmp_path_factory.mktemp("cifar"))


def test_score_threshold_of_other_data_refuses_the_runs_damaged_batches_without_dataset_unlabelled(
        cifar_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its training scores need the run's training split, which the batches' labels make: a batches.meta damaged
    since is refused, naming mending it, no longer 'or read them without labels (--dataset unlabelled)'."""
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


@pytest.mark.parametrize("call", ["evaluate_run", "report", "run_report"])
def test_the_python_readers_of_a_run_say_they_need_its_damaged_batches_labels(
        cifar_run: Path, tmp_path: Path, call: str) -> None:
    """evaluate_run, report and run_report called from Python on a run whose batches.meta lost label_names since
    were told to read the batches with dataset='unlabelled', an option of a Detector / DataConfig, not of theirs (and
    no reading their AUCs could use): each says that it needs the labels, and how to mend the file."""
    from wildgan.errors import DataError
    from wildgan.evaluation.report import report, run_report
    from wildgan.evaluation.run import evaluate_run

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    reader = {"evaluate_run": lambda: evaluate_run(run, device="cpu", controls=False),
              "report": lambda: report(run, top_k_images=2, tsne_points=10, device="cpu", controls=False),
              "run_report": lambda: run_report(run, top_k_images=2, tsne_points=10, device="cpu", controls=False)}
    folder = cifar_run.parent / "cifar-10-batches-py"
    with meta_damaged(folder):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(DataError, match="not a CIFAR-10 batches.meta") as e:
                reader[call]()
        said = " ".join(str(e.value).split())
        assert "unlabelled" not in said and "--dataset" not in said, said
        assert (f"or give it label_names (the batches' class names): {call} needs the batches' labels, and has no "
                f"reading without them") in said, said


def test_evaluate_run_of_an_npz_missing_y_test_says_to_add_them(trained_run: Path, tmp_path: Path) -> None:
    """evaluate_run(RUN, data=NPZ) of an .npz whose x_test has no y_test said it was 'an unlabelled pile:
    dataset='unlabelled'': it says to add them, evaluate_run needing a label for every image."""
    from wildgan.errors import DataError
    from wildgan.evaluation.run import evaluate_run

    x = np.random.default_rng(0).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x, y_train=np.arange(40) % 2, x_test=x[:20])
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    with pytest.raises(DataError, match="missing labels") as e:
        evaluate_run(run, str(data), device="cpu", controls=False, write=False)
    assert "unlabelled" not in str(e.value), e.value
    assert "add them: evaluate_run needs a label for every image, and has no reading without them" in str(e.value)


def test_evaluate_run_within_run_study_names_the_study(cifar_run: Path, tmp_path: Path) -> None:
    """evaluate_run rebuilds a cell's split within run_study (a cell trained earlier): the refusal names what the
    user called, run_study, not evaluate_run (the outer caller's setting is kept)."""
    from wildgan.data.dataset_files import labels_needed_by
    from wildgan.errors import DataError
    from wildgan.evaluation.run import evaluate_run

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    folder = cifar_run.parent / "cifar-10-batches-py"
    with meta_damaged(folder):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(DataError, match="not a CIFAR-10 batches.meta") as e, \
                    labels_needed_by("study", "run_study"):
                evaluate_run(run, device="cpu", controls=False)
        assert "run_study needs the batches' labels" in str(e.value) and "evaluate_run" not in str(e.value), e.value
