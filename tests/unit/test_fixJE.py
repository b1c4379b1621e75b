"""fixJE: `wildgan score`'s advice for a data-set file whose labels are damaged (CIFAR-10 batches, an .npz), and
the success line's suggestion of --normal where --normal would be refused."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from damaged_data import damaged_cifar


def _follow_the_advice(err: str, run: Path, data: Path, out: Path, normal: list[str],
                       capsys: pytest.CaptureFixture[str]) -> None:
    """Does what score's refusal `err` names as the way to score every image of `data` without labels, and checks
    that it works: the Python API's call as written, or the command without --normal."""
    from wildgan import Detector
    from wildgan.cli import main

    way = err.split("to score every image of it without labels, ", 1)[1].strip()
    if way.startswith("use the Python API, "):
        call = way[len("use the Python API, "):]
        assert call == f"Detector.from_run({str(run)!r}).decision_function({str(data)!r})", call
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = eval(call, {"Detector": Detector})     # (the call exactly as the advice words it)
        assert len(scores) == 24
    else:
        assert way == "leave out --normal" and normal, way
        assert main(["score", str(run), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
        assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["labels", "meta"])
@pytest.mark.parametrize("given", ["folder", "archive"])
@pytest.mark.parametrize("runs, normal", [("trained", []), ("trained", ["--normal", "airplane"]),
                                          ("fit", ["--normal", "airplane"])])
def test_score_s_advice_for_cifar_batches_with_damaged_labels_works(
        trained_run: Path, fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str,
        given: str, runs: str, normal: list[str]) -> None:
    # CIFAR-10 batches (a folder or a .tar.gz) whose labels or batches.meta are damaged, given to `wildgan score`:
    # refused as the labelled test split it cannot be, with the way to score their every image without labels. That
    # way must work for this input (the Python API for a run with a protocol, leaving out --normal for one without),
    # and nothing in the refusal may name an option score has not: batches.meta's own refusal said to read the
    # batches without labels by --dataset unlabelled, which score refuses as an unrecognized argument
    from wildgan.cli import main

    run = trained_run if runs == "trained" else fit_run
    data = damaged_cifar(tmp_path / "data", damage, given)
    out = tmp_path / "scores.csv"
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(data), *normal, "--out", str(out), "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("labels outside 0..9" if damage == "labels" else "not a CIFAR-10 batches.meta") in err, err
    assert "--dataset" not in err, err
    if damage == "meta":        # (its other way, which score does take: the batches under CIFAR-10's own names)
        assert "remove it to read the batches under CIFAR-10's own class names" in err, err
    _follow_the_advice(err, run, data, out, normal, capsys)


def test_score_s_pile_reading_of_cifar_batches_names_no_dataset_option(fit_run: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # after a protocol-less run, the batches with a damaged batches.meta are scored whole; the warning that says
    # their labels are not read named --dataset unlabelled too, an option that score has not (and needs not: it
    # reads them without labels already)
    from wildgan.cli import main

    data = damaged_cifar(tmp_path / "data", "meta", "folder")
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    told = [" ".join(str(w.message).split()) for w in said if "not a CIFAR-10 batches.meta" in str(w.message)]
    assert len(told) == 1 and "its images are read without labels" in told[0], told
    assert "--dataset" not in told[0], told


@pytest.mark.parametrize("labels", ["sound", "2-D", "one short", "cifar"])
def test_score_s_success_line_suggests_normal_only_where_it_works(fit_run: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  labels: str) -> None:
    # a protocol-less run scores a data-set file whole without --normal, and its line said "--normal CLASS labels
    # the rows" even where the file's labels are damaged, which --normal is then refused for: said only where
    # --normal works, as checked by running it
    from wildgan.cli import main

    x = np.random.default_rng(1).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    if labels == "cifar":
        data = damaged_cifar(tmp_path / "data", "labels", "folder")
    else:
        data = tmp_path / "d.npz"
        y = {"sound": np.arange(20) % 2, "2-D": np.zeros((20, 2), np.int64), "one short": np.arange(19) % 2}[labels]
        np.savez(data, x_train=x, y_train=y)
    out = tmp_path / "scores.csv"
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
        line = " ".join(capsys.readouterr().err.split())
        assert line.startswith("scored ") and f"every image of {data} (" in line, line
        normal_works = main(["score", str(fit_run), "--data", str(data), "--normal", "0" if labels == "sound" else
                             "airplane", "--whole", "--out", str(out), "--no-progress"]) == 0
    assert normal_works == (labels == "sound")
    assert ("--normal CLASS labels the rows" in line) == normal_works, line
    if not normal_works:
        assert "its labels are damaged: read without them" in line, line
