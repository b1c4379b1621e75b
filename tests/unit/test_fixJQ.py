"""fixJQ: a refusal of damaged labels, met where a fitted Detector or thresholds.run_threshold / flag_scores read the
run's training scores again, named run_training_scores instead of the call the user made; training.run's
check_run_dir took any object for as_fit_read's DataConfig; `--threshold mad`'s texts called it a robust alternative
where it flags only the training scores' outliers (often none)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
from damaged_data import cifar_train_run, meta_damaged


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """damaged_data.cifar_train_run: CIFAR-10 batches (normal: airplane), their batches.meta for the tests to damage
    (and put back)."""
    return cifar_train_run(tmp_path_factory.mktemp("cifar"))


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
    """A batches.meta that lost label_names since from_run read the run: the training scores read again refused it
    saying 'run_training_scores needs the batches' labels', a function the user did not call."""
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


def _misused(cfg: Any, run: Path) -> dict[str, tuple[Any, Any]]:
    """check_run_dir's (cfg, files) as a caller might get them wrong: the data section passed for the RunConfig, a
    RunConfig whose data is a dict (dataclasses.asdict) or a path, a config file's path passed for the ReplayFiles."""
    import dataclasses

    return {"DataConfig for cfg": (cfg.data, None),
            "dict data": (dataclasses.replace(cfg, data=dataclasses.asdict(cfg.data)), None),
            "path data": (dataclasses.replace(cfg, data=cfg.data.data), None),
            "path for files": (cfg, run / "config.yaml")}


@pytest.mark.parametrize("how", ["DataConfig for cfg", "dict data", "path data", "path for files"])
def test_check_run_dir_refuses_wrong_types_at_entry(cifar_run: Path, how: str) -> None:
    """check_run_dir (a resume reads the saved run and, where a Detector.fit of an earlier wildgan recorded 'auto',
    takes as_fit_read's reading of it over when cfg's DataConfig reads the data so) took any object: a wrong one
    failed as an AttributeError ("'str' object has no attribute 'data'", "... 'run_json'") inside, naming neither the
    argument nor what it must be. A TypeError at entry names both; the run is left as it was."""
    from wildgan.config import read_run_config
    from wildgan.training.run import check_run_dir

    before = sorted(p.name for p in cifar_run.iterdir())
    cfg, files = _misused(read_run_config(cifar_run), cifar_run)[how]
    with pytest.raises(TypeError, match=r"^check_run_dir: ") as e:
        check_run_dir(cfg, cifar_run, resume=True, files=files)
    said = str(e.value)
    want = "files must be a wildgan.data.replay.ReplayFiles" if how == "path for files" else \
        "cfg must be a wildgan.config.RunConfig whose data is a wildgan.config.DataConfig"
    assert want in said, said
    assert sorted(p.name for p in cifar_run.iterdir()) == before


def test_check_run_dir_takes_a_sound_resume(cifar_run: Path) -> None:
    """The check at entry lets the run's own config through (a resume with nothing changed is not refused)."""
    from wildgan.config import read_run_config
    from wildgan.training.run import check_run_dir, saved_run_files

    cfg = read_run_config(cifar_run)
    check_run_dir(cfg, cifar_run, resume=True)
    check_run_dir(cfg, cifar_run, resume=True, files=saved_run_files(cifar_run))
