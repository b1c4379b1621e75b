"""fixJF: the advice of a refusal of damaged labels in the commands that need them (`wildgan evaluate`, `wildgan
report`), which have no --dataset unlabelled; and the pile warning's words where Detector.fit trains on such a file."""

from __future__ import annotations

import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from damaged_data import TINY_FIT, cifar_train_run, damaged_cifar, meta_damaged, write_meta


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    from wildgan.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def _refusal(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command's refusal (exit 2), its words on one line."""
    from wildgan.cli import main

    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 2
    return " ".join(capsys.readouterr().err.split())


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """damaged_data.cifar_train_run: CIFAR-10 batches (normal: airplane), their batches.meta for the tests to damage
    (and put back)."""
    return cifar_train_run(tmp_path_factory.mktemp("cifar"))


@pytest.mark.parametrize("given", ["folder", "archive"])
@pytest.mark.parametrize("runs", ["trained", "fit"])
def test_evaluate_s_advice_for_a_damaged_batches_meta_names_ways_it_has(
        trained_run: Path, fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str,
        runs: str) -> None:
    # `wildgan evaluate RUN --data BATCHES` with a damaged batches.meta said "or read them without labels (--dataset
    # unlabelled)", an option evaluate has not (and could not use: AUCs need the labels). It names mending the file,
    # says that evaluate needs the labels, and the way it names works
    from wildgan.cli import main

    assert "--dataset" not in _help("evaluate", capsys)
    run = trained_run if runs == "trained" else fit_run
    data = damaged_cifar(tmp_path / "data", "meta", given)
    err = _refusal(["evaluate", str(run), "--data", str(data), "--no-controls", "--no-progress", "--threads", "1"],
                   capsys)
    assert "not a CIFAR-10 batches.meta" in err, err
    assert "--dataset" not in err and "without labels (" not in err, err
    assert ("remove it to read the batches under CIFAR-10's own class names, or give it label_names (the batches' "
            "class names): `wildgan evaluate` needs the batches' labels, and has no reading without them") in err, err
    if given == "folder":
        # (both ways, followed: batches.meta removed, then given label_names; the run's own normal class '0' is not
        # CIFAR-10's, so one of its classes is named)
        for mend in ("remove", "label_names"):
            if mend == "remove":
                (data / "batches.meta").unlink()
            else:
                write_meta(data, names=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert main(["evaluate", str(run), "--data", str(data), "--normal", "airplane", "--whole",
                             "--no-controls", "--no-progress", "--threads", "1"]) == 0, mend


def test_evaluate_s_advice_for_an_npz_missing_labels_names_adding_them(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # an .npz whose x_test has no y_test, given to evaluate, was told "an unlabelled pile: --dataset unlabelled"
    from wildgan.cli import main

    x = np.random.default_rng(0).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x, y_train=np.arange(40) % 2, x_test=x[:20])
    err = _refusal(["evaluate", str(trained_run), "--data", str(data), "--no-controls", "--no-progress"], capsys)
    assert "missing labels y_test for images x_test" in err, err
    assert "--dataset" not in err, err
    assert "add them: `wildgan evaluate` needs a label for every image, and has no reading without them" in err, err
    np.savez(data, x_train=x, y_train=np.arange(40) % 2, x_test=x[:20], y_test=np.arange(20) % 2)     # (added)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["evaluate", str(trained_run), "--data", str(data), "--no-controls", "--no-progress",
                     "--threads", "1"]) == 0


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_a_run_s_own_batches_with_a_damaged_batches_meta_name_ways_the_command_has(
        cifar_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    # a run trained on CIFAR-10 batches, whose batches.meta is damaged since: evaluate and report read its test split
    # again, and named --dataset unlabelled, which neither has (report has no --data either: its run's own data)
    from wildgan.cli import main

    assert "--dataset" not in _help(command, capsys)
    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    folder = cifar_run.parent / "cifar-10-batches-py"
    args = [command, str(run), "--no-controls", "--no-progress", "--threads", "1"] + (
        ["--top-k", "2", "--tsne-points", "10"] if command == "report" else [])
    with meta_damaged(folder):
        err = _refusal(args, capsys)
        assert "not a CIFAR-10 batches.meta" in err and "--dataset" not in err, err
        assert (f"or give it label_names (the batches' class names): `wildgan {command}` needs the batches' labels, "
                f"and has no reading without them") in err, err
        (folder / "batches.meta").unlink()        # (the way it names, followed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(args) == 0


@pytest.mark.parametrize("damage", ["meta", "labels"])
def test_the_pile_warning_names_training_in_fit_and_scoring_in_scoring(tmp_path: Path, damage: str) -> None:
    # batches with damaged labels given whole to the Detector are read as a pile, with a warning that ended "which
    # scoring does not use" in Detector.fit as well, which trains on them: training there, scoring where scored
    from wildgan import Detector
    from wildgan.data.dataset_files import LabelsUnreadWarning

    data = damaged_cifar(tmp_path / "data", damage, "folder")

    def said(call: object) -> list[str]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            call()      # type: ignore[operator]
        return [" ".join(str(w.message).split()) for w in got if issubclass(w.category, LabelsUnreadWarning)]

    model = Detector(**TINY_FIT, run_dir=str(tmp_path / "run"))
    fitting = said(lambda: model.fit(str(data)))
    assert len(fitting) == 1 and fitting[0].endswith("its images are read without labels, which training does not "
                                                     "use"), fitting
    scoring = said(lambda: model.decision_function(str(data)))
    assert len(scoring) == 1 and scoring[0].endswith("its images are read without labels, which scoring does not "
                                                     "use"), scoring


@pytest.mark.parametrize("tree", ["sound", "empty class folder", "loose files beside", "three, one empty"])
def test_score_s_line_for_a_tar_of_class_folders_offers_normal_only_where_it_works(
        fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tree: str) -> None:
    # after a run without a protocol of its own, a .tar.gz of class folders given without --normal is scored whole,
    # and the line said "--normal CLASS labels the rows" even where a class folder is empty, which --normal's
    # labelled reading of it refuses: said only where --normal works, as checked by running it
    from PIL import Image

    from wildgan.cli import main

    rng = np.random.default_rng(0)
    top = tmp_path / "tree"
    counts = {"good": 24, "bad": 6}
    if tree == "empty class folder":
        counts["bad"] = 0
    if tree == "three, one empty":
        counts["worse"] = 0
    for name, n in counts.items():
        (top / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(top / name / f"{i}.png")
    if tree == "loose files beside":
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(top / "loose.png")
    data = tmp_path / "classes.tar.gz"
    with tarfile.open(data, "w:gz") as tf:
        for child in sorted(top.iterdir()):
            tf.add(child, arcname=child.name)
    out = tmp_path / "scores.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capsys.readouterr()
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
        line = " ".join(capsys.readouterr().err.split())
        assert line.startswith("scored ") and f"every image of {data} (labels not used" in line, line
        normal = main(["score", str(fit_run), "--data", str(data), "--normal", "good", "--whole", "--out", str(out),
                       "--no-progress"])
    refusal = " ".join(capsys.readouterr().err.split())
    assert (normal == 0) == (tree in ("sound", "loose files beside")), refusal
    assert ("--normal CLASS labels the rows" in line) == (normal == 0), line
    if normal != 0:     # (the line names why, in the refusal's words)
        assert "class folder contains no image files" in refusal and f"{data}:" in refusal, refusal
        assert f"--normal is refused for it: {data}:" in line and "class folder contains no image files" in line, line
