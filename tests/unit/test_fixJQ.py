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
from wildgan.errors import ConfigError


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
    config file's path passed for the ReplayFiles."""
    return {"DataConfig for cfg": (cfg.data, None), "path for files": (cfg, run / "config.yaml")}


@pytest.mark.parametrize("how", ["DataConfig for cfg", "path for files"])
def test_check_run_dir_refuses_wrong_types_at_entry(cifar_run: Path, how: str) -> None:
    """check_run_dir (a resume reads the saved run and, where a Detector.fit of an earlier wildgan recorded 'auto',
    takes as_fit_read's reading of it over when cfg's DataConfig reads the data so) took any object: a wrong one
    failed as an AttributeError ("'DataConfig' object has no attribute 'data'", "... 'run_json'") inside, naming
    neither the argument nor what it must be. A TypeError at entry names both; the run is left as it was."""
    from wildgan.config import read_run_config
    from wildgan.training.run import check_run_dir

    before = sorted(p.name for p in cifar_run.iterdir())
    cfg, files = _misused(read_run_config(cifar_run), cifar_run)[how]
    with pytest.raises(TypeError, match=r"^check_run_dir: ") as e:
        check_run_dir(cfg, cifar_run, resume=True, files=files)
    said = str(e.value)
    want = "files must be a wildgan.data.replay.ReplayFiles" if how == "path for files" else \
        "cfg must be a wildgan.config.RunConfig, got a DataConfig"
    assert want in said, said
    assert sorted(p.name for p in cifar_run.iterdir()) == before


@pytest.mark.parametrize("data", [{"resolution": 8}, "some/path"])
def test_a_run_config_whose_data_is_no_data_config_cannot_be_made(cifar_run: Path, data: Any) -> None:
    """A RunConfig whose data is a dict (dataclasses.asdict) or a path, which check_run_dir refused at entry, is
    refused where it is made (RunConfig), naming the field, before any caller can pass it on."""
    import dataclasses

    from wildgan.config import read_run_config

    with pytest.raises(ConfigError, match=r"^RunConfig: data must be a wildgan\.config\.DataConfig, got "):
        dataclasses.replace(read_run_config(cifar_run), data=data)


def test_check_run_dir_takes_a_sound_resume(cifar_run: Path) -> None:
    """The check at entry lets the run's own config through (a resume with nothing changed is not refused)."""
    from wildgan.config import read_run_config
    from wildgan.training.run import check_run_dir, saved_run_files

    cfg = read_run_config(cifar_run)
    check_run_dir(cfg, cifar_run, resume=True)
    check_run_dir(cfg, cifar_run, resume=True, files=saved_run_files(cifar_run))


def test_mad_help_says_it_flags_only_outliers() -> None:
    """score's and export's help called mad the median + K * 1.4826 * MAD and nothing more (the README: "a robust
    alternative"), while in every walkthrough run it flagged none of the training images: it flags only outliers
    beyond that bound, not a share of the images, and the help says so."""
    from wildgan.cli import make_parser

    for cmd in ("score", "export"):
        sub = next(a for a in make_parser()._actions if a.dest == "cmd" or getattr(a, "choices", None))
        text = " ".join(sub.choices[cmd].format_help().split())
        assert "robust alternative" not in text
        assert "mad = only their outliers, above median + K * 1.4826 * MAD (not a share of them: on a clean fit " \
               "it may flag none)" in text, text
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "`--threshold mad` is a robust alternative" not in readme


def test_mad_note_says_what_it_flagged_and_none_with_its_value() -> None:
    """The note after scoring (score's and export's threshold line): mad's said nothing but fit's recorded k. It says
    now that mad flags only the training scores' outliers, how many training images lie above it, and where none
    does, that it flags none of them, with the value it chose."""
    import numpy as np

    from wildgan.cli import make_parser
    from wildgan.cli.threshold_notes import contamination_note
    from wildgan.thresholds import run_threshold

    a = make_parser().parse_args(["score", "RUN", "--out", "-", "--threshold", "mad"])
    clean = run_threshold(None, "unused", "mad", k=3.0, score="a",
                          train_scores={"a": np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.2])})
    assert clean.params["n_above"] == 0
    note = contamination_note(a, 0.0, clean)
    assert note.startswith("mad flags only outliers, training scores above median 1.025 + k * 1.4826 * MAD 0.075 "
                           "(k = 3), not a share of the images (--threshold contamination flags one)"), note
    assert note.endswith(f"; it flags none of the 6 training images: the threshold {clean.value:.6g} is above every "
                         f"one of their scores (a clean fit may have no outliers; --mad-k K below 3 flags more)"), note
    some = run_threshold(None, "unused", "mad", k=3.0, score="a",
                         train_scores={"a": np.array([1.0, 1.1, 0.9, 1.05, 0.95, 9.0])})
    assert some.params["n_above"] == 1
    assert contamination_note(a, 0.0, some).endswith("; 1 of the 6 training images lies above it")
    # without the threshold (a caller of before): what the rule flags, without numbers
    assert contamination_note(a, 0.2) == ("mad flags only outliers, training scores above median + k * 1.4826 * MAD "
                                          "(k = 3), not a share of the images (--threshold contamination flags "
                                          "one)")


def test_score_threshold_mad_line_counts_the_training_images_above_it(
        cifar_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan score RUN --threshold mad`: the line says how many of the run's training images lie above the value
    it chose, which is what its cached training scores give."""
    import csv

    import numpy as np

    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(cifar_run, run)
    capsys.readouterr()
    assert main(["score", str(run), "--threshold", "mad", "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    line = err[err.index("threshold for score a:"):]
    assert "mad flags only outliers, training scores above median " in line, line
    train = np.array([float(r["a"]) for r in csv.DictReader((run / "train_scores.csv").open())])
    value = float(line.split("score > ")[1].split(" ")[0])
    above = int((train > value).sum())
    said = (f"it flags none of the {train.size} training images: the threshold {value:.6g} is above every one"
            if above == 0 else f"{above} of the {train.size} training images")
    assert said in line, line
