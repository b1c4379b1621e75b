"""fixKE (revGG's follow-ups): a refusal that from_run's lazy training-score read lets through keeps its attributes
(errors.reworded); a number past a float's range, or inf / nan, given to a threshold's parameter is refused naming
it, not a bare OverflowError; the wording of a heatmap's docstring, the thresholds' refusal and a broken link's."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import test_fixJY as lazy_run
from test_fixJY import _from_run, _x
from wildgan.errors import ConfigError, DataError, SPLIT_CLASSES, SPLIT_TOO_SMALL, reworded

# (test_fixJY's fixtures: the tiny run built once, and a copy of it each test)
built, run = lazy_run.built, lazy_run.run


def _config_error() -> ConfigError:
    try:
        try:
            raise OSError("the disk said no")
        except OSError as cause:
            raise ConfigError("data.root is wrong", start_again="; start again with --overwrite", then=" (or not)",
                              setting="data.root", flag="--data", problem="is wrong", value="x",
                              split_problem=SPLIT_CLASSES) from cause
    except ConfigError as e:
        return e


def _has_parts(e: BaseException) -> None:
    assert isinstance(e, ConfigError)
    assert (e.start_again, e.setting, e.flag, e.problem, e.value, e.split_problem) == (
        "; start again with --overwrite", "data.root", "--data", "is wrong", "x", SPLIT_CLASSES)
    assert str(e).startswith("data.root is wrong; start again with --overwrite (or not)")
    assert "Detector." in str(e) and e.then.startswith(" (or not)") and "Detector." in e.then


def test_reworded_keeps_the_attributes_cause_and_parts_of_a_config_error() -> None:
    e = _config_error()
    out = reworded(e, "where: ", " (and more)")
    assert type(out) is ConfigError and str(out) == f"where: {e} (and more)"
    assert (out.start_again, out.setting, out.split_problem, out.message, out.then) == (
        e.start_again, "data.root", SPLIT_CLASSES, "where: data.root is wrong", " (or not) (and more)")
    assert isinstance(out.__cause__, OSError) and out.__traceback__ is e.__traceback__
    # the refusal rebuilt with other advice still says the added words
    assert str(out.with_start_again("; a new --out")) == "where: data.root is wrong; a new --out (or not) (and more)"
    d = reworded(DataError("too few", split_problem=SPLIT_TOO_SMALL), after=" there")
    assert type(d) is DataError and d.split_problem == SPLIT_TOO_SMALL and str(d) == "too few there"
    back = pickle.loads(pickle.dumps(out))
    assert (back.setting, back.start_again, back.then, str(back)) == (out.setting, out.start_again, out.then, str(out))


def test_a_refused_lazy_read_keeps_the_refusals_attributes(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`raise type(e)(...)` dropped a ConfigError's start_again, setting, split_problem (and a DataError's
    split_problem) and its cause: a caller reading them found None, through predict, hasattr / getattr (the
    AttributeError copy) and a pickled copy alike."""
    import wildgan.scoring.train_scores as ts

    det = _from_run(run)

    def refused(*a: Any, **kw: Any) -> Any:
        raise _config_error()

    monkeypatch.setattr(ts, "run_training_scores", refused)
    with pytest.raises(ConfigError) as e:
        det.predict(_x())
    _has_parts(e.value)
    assert isinstance(e.value.__cause__, OSError)
    assert not hasattr(det, "threshold_") and getattr(det, "labels_", None) is None
    with pytest.raises(ConfigError) as got:
        det.threshold_
    assert isinstance(got.value, AttributeError) and isinstance(got.value.__cause__, OSError)
    _has_parts(got.value)
    back = pickle.loads(pickle.dumps(got.value))
    assert type(back) is ConfigError
    _has_parts(back)

    def too_small(*a: Any, **kw: Any) -> Any:
        raise DataError("too few training images", split_problem=SPLIT_TOO_SMALL)

    monkeypatch.setattr(ts, "run_training_scores", too_small)
    with pytest.raises(DataError, match="Detector.predict needs") as d:
        det.predict(_x())
    assert d.value.split_problem == SPLIT_TOO_SMALL


@pytest.mark.parametrize("kw", [{"contamination": 10**400}, {"threshold": "mad", "mad_k": 10**400},
                                {"threshold": "mad", "contamination": 10**400}, {"mad_k": 10**400},
                                {"total_kimg": 10**400}, {"phase_kimg": 10**400}, {"minutes": 10**400},
                                {"lam": 10**400}])
def test_a_parameter_past_a_floats_range_is_refused_naming_it(kw: dict[str, Any]) -> None:
    """float() of an int past a float's range (10**400) was a bare OverflowError out of fit, before any word of
    which parameter; any rule's parameter is refused so, as fit and from_run take both as floats."""
    import numpy as np

    from wildgan import Detector

    name = next(k for k in kw if k != "threshold")
    with pytest.raises(ConfigError, match=rf"^{name} must be .*, got 1000+") as e:
        Detector(device="cpu", **kw).fit(np.zeros((4, 8, 8, 3), dtype=np.uint8))
    # (a range that the value is compared with as given says the range alone)
    in_range_words = name == "lam" or kw.get("threshold") is None and name == "contamination"
    assert ("past the range of a float" in str(e.value)) is not in_range_words, e.value


@pytest.mark.parametrize("rule,kw,name", [("contamination", {"contamination": 10**400}, "contamination"),
                                          ("mad", {"k": 10**400}, "mad_k"),
                                          ("contamination", {"contamination": float("inf")}, "contamination"),
                                          ("contamination", {"contamination": float("nan")}, "contamination"),
                                          ("mad", {"k": float("inf")}, "mad_k"), ("mad", {"k": float("nan")}, "mad_k")])
def test_a_rules_parameter_past_a_floats_range_or_not_finite_is_refused(rule: str, kw: dict[str, Any],
                                                                         name: str) -> None:
    import numpy as np

    from wildgan.thresholds import check_threshold_args, fit_threshold

    with pytest.raises(ConfigError, match=rf"^{name}.* must be"):
        fit_threshold(rule, np.arange(10.0), **kw)
    with pytest.raises(ConfigError, match=rf"^{name}.* must be"):
        check_threshold_args(rule, **kw)


def test_a_percent_given_as_a_thresholds_contamination_says_the_fraction_once() -> None:
    """The Python name's gloss and the percent hint both said "expected fraction of anomalies"; the refusal now
    reads as Detector's does."""
    import numpy as np

    from wildgan.thresholds import check_threshold_args, fit_threshold

    for refuse in (lambda: check_threshold_args("contamination", contamination=5),
                   lambda: fit_threshold("contamination", np.arange(10.0), contamination=5)):
        with pytest.raises(ConfigError) as e:
            refuse()
        assert str(e.value) == ("contamination must be in (0, 0.5] (the expected fraction of anomalies: for 5% give "
                                "0.05), got 5"), e.value
    with pytest.raises(ConfigError) as e:
        check_threshold_args("contamination", contamination=0.75)       # (no hint: the gloss stays)
    assert str(e.value) == "contamination (expected fraction of anomalies) must be in (0, 0.5], got 0.75"


def test_a_broken_link_given_as_data_names_its_option_beside_the_path(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The option (and $WILDGAN_DATA) came after the link's own bracketed guess: "...mounted?) (--data)"."""
    from wildgan.cli import main
    from wildgan.data.readers import absolute_data_path

    link = tmp_path / "data"
    link.symlink_to(tmp_path / "gone")
    assert main(["train", "--data", str(link), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{link} (--data): a symbolic link to {tmp_path / 'gone'}, which does not exist (a moved data set, or a " \
           "disk not mounted?)\n" in err, err
    monkeypatch.setenv("WILDGAN_DATA", str(link))
    with pytest.raises(DataError) as e:
        absolute_data_path(None)
    assert str(e.value).startswith(f"{link} (from $WILDGAN_DATA): a symbolic link to ") and ") (" not in str(e.value)
    assert str(e.value).endswith("or a disk not mounted?); pass data=PATH or fix the variable"), e.value
