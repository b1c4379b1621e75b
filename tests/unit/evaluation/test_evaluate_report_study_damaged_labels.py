"""The commands and functions that compute AUCs need every test image's label: `wildgan evaluate`, `wildgan report`,
`wildgan study` and, in Python, evaluate_run, report, run_report and run_study. Given CIFAR-10 batches whose
batches.meta is damaged, or an .npz whose test images have no labels, they refuse it naming the file, saying that
they need the labels and how to mend the file (remove batches.meta, give it label_names, add y_test), in the name of
what the user called. They never advise --dataset unlabelled / dataset='unlabelled', which none of them has (and
whose reading without labels could give no AUC); the advice followed works. docs/data.md says the same."""

from __future__ import annotations

import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from damaged_data import (cifar10_protocol_run, damaged_cifar, meta_damaged, small_batches, tree_with_loose_image,
                          write_batches, write_meta)
from repo_root import REPO


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


@pytest.mark.parametrize("given", ["folder", "archive"])
@pytest.mark.parametrize("runs", ["trained", "fit"])
def test_evaluate_s_advice_for_a_damaged_batches_meta_names_ways_it_has(
        trained_run: Path, fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str,
        runs: str) -> None:
    # `wildgan evaluate RUN --data BATCHES` with a damaged batches.meta names mending the file and says that evaluate
    # needs the labels, not "or read them without labels (--dataset unlabelled)", an option evaluate has not (and
    # could not use: AUCs need the labels); the ways it names work
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
    # an .npz whose x_test has no y_test, given to evaluate, is told to add them (evaluate needs a label for every
    # image), not that it is "an unlabelled pile: --dataset unlabelled"; once added, evaluate takes it
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
    # again; the refusal says the command needs the labels and how to mend the file, naming no --dataset option,
    # which neither has (report has no --data either: it reads its run's own data); the way named works
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


@pytest.mark.parametrize("call", ["evaluate_run", "report", "run_report"])
def test_the_python_readers_of_a_run_say_they_need_its_damaged_batches_labels(
        cifar_run: Path, tmp_path: Path, call: str) -> None:
    """evaluate_run, report and run_report called from Python on a run whose batches.meta lost label_names since
    each say, in their own name, that they need the labels and how to mend the file; not dataset='unlabelled', an
    option of a Detector / DataConfig, not of theirs (and no reading their AUCs could use)."""
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
    """evaluate_run(RUN, data=NPZ) of an .npz whose x_test has no y_test says to add them, evaluate_run needing a
    label for every image (not that it is 'an unlabelled pile: dataset='unlabelled'')."""
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


def _meta_without_label_names(folder: Path) -> Path:
    """A tiny complete cifar-10-batches-py folder whose batches.meta has no label_names."""
    return write_batches(folder, 2, lambda name, rng: [0, 1], seed=0, meta={b"num_vis": 3072})


def test_the_advice_on_damaged_labels_is_each_threads_own(tmp_path: Path) -> None:
    """A thread within labels_needed_by('evaluate') does not change the words another thread's refusal gets at the
    same time: the setting is each thread's own, so a refusal in a plain thread does not say `wildgan evaluate` needs
    the labels, nor the evaluate thread's that the batches could be read without them."""
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


def test_run_study_is_not_told_to_read_damaged_batches_with_dataset_unlabelled(tmp_path: Path) -> None:
    """run_study (the Python API of `wildgan study`) of batches whose batches.meta has no label_names says that it
    needs the labels, not to read them with dataset='unlabelled', which run_study refuses (check_study_data)."""
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


CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny `wildgan train` run of (fake) CIFAR-10 batches under the cifar10 protocol, trained with a sound
    batches.meta, whose batches.meta was damaged since (it has no label_names now): RUN/data/cifar-10-batches-py."""
    run, _ = cifar10_protocol_run(tmp_path_factory.mktemp("cifar-run"), meta={b"label_names": CIFAR_NAMES})
    return run


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("command", ["score", "evaluate", "evaluate --data", "study"])
def test_commands_without_dataset_unlabelled_are_not_told_to_read_cifar_batches_with_it(
        protocol_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    # `wildgan score RUN` and `wildgan evaluate RUN` (the run's own batches), `wildgan evaluate RUN --data` and
    # `wildgan study --data` of batches whose batches.meta has no label_names refuse them naming the file, and never
    # advise reading them without labels by --dataset unlabelled: score and evaluate have no --dataset (a usage
    # error), and study refuses unlabelled data
    from wildgan.cli import main

    data = tmp_path / "cifar-10-batches-py"
    small_batches(data, {b"num_vis": 3072})                # a batches.meta without label_names
    argv = {"score": ["score", str(protocol_run), "--out", str(tmp_path / "s.csv"), "--no-progress"],
            "evaluate": ["evaluate", str(protocol_run)],
            "evaluate --data": ["evaluate", str(protocol_run), "--data", str(data), "--normal", "0"],
            "study": ["study", "--data", str(data), "--out", str(tmp_path / "study"), "--normal", "0", "--preset",
                      "tiny", "--total-kimg", "0.032", "--device", "cpu", "--seeds", "0", "--contamination", "0"]}
    capsys.readouterr()
    assert main(argv[command]) == 2
    err = capsys.readouterr().err
    assert "batches.meta: not a CIFAR-10 batches.meta" in err, err
    assert "--dataset unlabelled" not in err, err


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
    """Evaluating a run trained on a pile on a labelled class-folder tree asks for its normal class(es), naming
    evaluate's own option only (--normal, normal=); not '(or when training, --dataset unlabelled to train on every
    image ...)', advice for a training, which evaluate is not, with an option it has not."""
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


def test_data_md_says_what_each_command_does_with_damaged_labels() -> None:
    """docs/data.md says what the commands say of a batches.meta without label_names (evaluate and report need the
    labels: remove or mend batches.meta; score names its own way), and how an .npz missing y_test is read; not
    --dataset unlabelled, which evaluate, report, score and study have not (or refuse)."""
    text = " ".join((REPO / "docs" / "data.md").read_text(encoding="utf-8").split())
    for words in ("`wildgan evaluate`, `wildgan report`", "need the labels", "give it `label_names`",
                  "`wildgan score RUN`", "no `y_test`"):
        assert words in text, words


def test_data_md_names_the_python_readers_that_need_the_labels() -> None:
    """docs/data.md names, beside the commands (evaluate, report, study), their Python functions and the readers of
    a run's own data for its training scores (export --threshold, export_onnx, Detector.from_run,
    run_training_scores) as needing the labels of a damaged batches.meta or an .npz missing y_test: they refuse it
    too."""
    text = " ".join((REPO / "docs" / "data.md").read_text(encoding="utf-8").split())
    for words in ("(`evaluate_run`, `report`, `run_report`, `run_study`), need the labels",
                  "`wildgan export --threshold`, `export_onnx(threshold=...)`, `Detector.from_run(RUN)` and "
                  "`run_training_scores(RUN)`", "left out of those scores",
                  "`evaluate_run`, `report`, `run_report` and `run_study` in Python, say to add the labels"):
        assert words in text, words
