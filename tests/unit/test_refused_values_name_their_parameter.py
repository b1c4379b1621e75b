"""A refused value names the parameter or option it was given to, once, with its range: an int past a float's range
(10**400) or a non-finite number given to a Detector's or a threshold rule's parameter is refused as such, not a bare
OverflowError from deep inside fit; a percent given as a contamination is refused with the fraction to give, said
once; a broken symbolic link given as data names its option (--data, $WILDGAN_DATA) beside the path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wildgan.config import DataConfig, percent_hint
from wildgan.errors import ConfigError, DataError


@pytest.mark.parametrize("kw", [{"contamination": 10**400}, {"threshold": "mad", "mad_k": 10**400},
                                {"threshold": "mad", "contamination": 10**400}, {"mad_k": 10**400},
                                {"total_kimg": 10**400}, {"phase_kimg": 10**400}, {"minutes": 10**400},
                                {"lam": 10**400}])
def test_a_parameter_past_a_floats_range_is_refused_naming_it(kw: dict[str, Any]) -> None:
    """An int past a float's range (10**400) given to a Detector parameter is refused by fit naming the parameter
    and its range, not a bare OverflowError from float() before any word of which parameter; any rule's parameter
    (contamination, mad_k) is refused so, as fit and from_run take both as floats."""
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


def test_a_huge_whole_contamination_is_refused_not_an_overflow() -> None:
    """An int past a float's range (10**400) as data.contamination is refused naming it, not a bare OverflowError
    from DataConfig (percent_hint tests the range before it converts the value to a float)."""
    assert percent_hint(10**400, "a fraction") == ""
    with pytest.raises(ConfigError, match=r"data\.contamination must be in \[0, 1\), got 1000"):
        DataConfig(contamination=10**400)
    # the hint itself, for a value that looks like a percent
    assert percent_hint(5, "a fraction") == " (a fraction: for 5% give 0.05)"
    assert percent_hint(float("nan"), "a fraction") == "" and percent_hint(100, "a fraction") == ""


def test_a_percent_given_as_a_thresholds_contamination_says_the_fraction_once() -> None:
    """A percent (5) given as a threshold's contamination is refused with the fraction to give, and "expected
    fraction of anomalies" is said once (the hint, not also the parameter's gloss), as Detector's refusal reads."""
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
    """A broken symbolic link given as data is named with its option (--data, or $WILDGAN_DATA) right beside the
    path, before the link's own bracketed guess, not after it as in "...mounted?) (--data)"."""
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
