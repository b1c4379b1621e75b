"""fixJY (revGD's findings in fixJW's lazy from_run): the training scores from_run leaves to be read are read once
when two threads ask at once; hasattr / getattr(det, name, None) answer False / None where that read is refused; a
lazy Detector unpickled where its run folder is not, or whose run was trained again since, is refused in words that
say so; set_params(**get_params()) reads nothing."""

from __future__ import annotations

import pickle
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from wildgan import Detector
from wildgan.errors import DataError


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run without cached training scores and its CIFAR-10 batches, built once (each test takes a copy)."""
    from damaged_data import cifar_train_run

    root = tmp_path_factory.mktemp("lazy")
    cifar_train_run(root)
    return root


def _copy_run(built: Path, where: Path) -> Path:
    """A copy of the run at where/run, its data at where/cifar-10-batches-py (the run names its data by an absolute
    path: the copy's config is pointed at the copy's data)."""
    shutil.copytree(built / "cifar-10-batches-py", where / "cifar-10-batches-py")
    shutil.copytree(built / "run", where / "run")
    for f in (where / "run").rglob("*"):
        if f.is_file() and f.suffix in (".json", ".yaml"):
            text = f.read_text()
            if str(built) in text:
                f.write_text(text.replace(str(built), str(where)))
    assert not (where / "run" / "train_scores.csv").exists()
    return where / "run"


@pytest.fixture
def run(built: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the run at tmp_path/run, its data at tmp_path/cifar-10-batches-py."""
    yield _copy_run(built, tmp_path)


def _from_run(run: Path, **kw: Any) -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu", **kw)
    assert "_pending_run_scores" in vars(det)          # (left to be read: what these tests are about)
    return det


def _x() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)


def test_two_threads_asking_for_the_threshold_read_the_run_once(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wildgan.scoring.train_scores as ts

    det = _from_run(run)
    calls: list[int] = []
    real = ts.run_training_scores

    def slow(*a: Any, **kw: Any) -> Any:
        calls.append(1)
        time.sleep(0.3)           # (long enough for the other thread to arrive while this one reads)
        return real(*a, **kw)

    monkeypatch.setattr(ts, "run_training_scores", slow)
    got: list[Any] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got.append(det.threshold_)
        except BaseException as e:           # (a KeyError before the fix)
            errors.append(e)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(calls) == 1 and len(got) == 2 and got[0] == got[1]
    assert "_pending_run_scores" not in vars(det)


def test_hasattr_and_getattr_with_a_default_answer_where_the_read_is_refused(run: Path) -> None:
    det = _from_run(run)
    shutil.rmtree(run.parent / "cifar-10-batches-py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not hasattr(det, "threshold_")
        assert getattr(det, "labels_", None) is None
        with pytest.raises(DataError, match="Detector.threshold_") as e:
            det.threshold_
    assert isinstance(e.value, AttributeError)
    # the refusal sent between processes is the plain DataError its module names
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is DataError and str(back) == str(e.value)
    assert "_pending_run_scores" in vars(det)          # still to be read once the data is back
    assert hasattr(det, "model_") and det.decision_function(_x()).shape == (5,)


def test_a_lazy_detector_unpickled_where_its_run_is_not_is_refused_naming_the_run(run: Path, tmp_path: Path) -> None:
    det = _from_run(run)
    blob = pickle.dumps(det)
    shutil.move(str(run), str(tmp_path / "elsewhere"))
    copy = pickle.loads(blob)
    assert copy.run_dir_ is None
    assert copy.decision_function(_x()).shape == (5,)
    with pytest.raises(DataError, match="not here") as e:
        copy.predict(_x())
    assert str(run) in str(e.value) and "Detector.predict" in str(e.value), e.value


def test_a_run_trained_again_since_from_run_is_refused_as_trained_again(run: Path) -> None:
    from wildgan.cli import main

    det = _from_run(run)
    data = run.parent / "cifar-10-batches-py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(data), "--normal", "airplane", "--preset", "tiny", "--resolution", "8",
                     "--total-kimg", "0.05", "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--seed", "7",
                     "--no-train-scores", "--overwrite", "--out", str(run)]) == 0
        with pytest.raises(DataError, match="trained again since") as e:
            det.predict(_x())
    assert "Detector.predict" in str(e.value) and "changed since" not in str(e.value), e.value
    assert not (run / "train_scores.csv").exists()      # (nothing of the old networks cached in the new run)


def test_set_params_of_the_same_settings_reads_nothing(run: Path) -> None:
    det = _from_run(run, batch_mode="isolated")
    shutil.rmtree(run.parent / "cifar-10-batches-py")
    det.set_params(**det.get_params())                  # (a DataError before the fix: it read the gone data)
    det.set_params(verbose=False)
    assert "_pending_run_scores" in vars(det)
    with pytest.raises(DataError, match="Detector.set_params"):
        det.set_params(score="L_r")                     # a change does need them, and says so
