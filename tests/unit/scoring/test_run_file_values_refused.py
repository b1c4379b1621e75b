"""Values in a run's files (config.json's data.resize, split.json's conversion.fit and depth16, a fit's threshold
record, an ONNX model's threshold metadata) that no wildgan wrote are refused when the file is read, naming the file
and the field, with the value said as the file writes it (JSON's NaN, Infinity, null, true; not Python's nan, inf,
None, True). Every value a wildgan ever wrote still reads. A user who hand-edited or corrupted a run's file learns
which file and field to mend, in the spelling they will find there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config
from wildgan.errors import ConfigError
from wildgan.thresholds import FIT_THRESHOLD_FILE, load_fit_threshold


def _run_config(tmp_path: Path) -> Path:
    """A run folder holding only the config.json and config.yaml wildgan writes."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run, trained_on={"protocol": "mnist", "source": "/data/mnist", "n_train": 20})
    return run


def test_a_config_json_s_data_resize_not_resize_or_error_is_refused_naming_the_file_and_field(tmp_path) -> None:
    # `"resize": "crop"` is refused when config.json is read, naming the file and data.resize (not only at
    # image-reading time as "resize must be 'resize' or 'error'", naming neither)
    from wildgan.config import read_run_config

    run = _run_config(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d["data"]["resize"] = "crop"
    (run / "config.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError) as e:
        read_run_config(run)
    assert str(e.value).startswith(f"{run / 'config.json'}: data.resize must be resize or error"), e.value
    assert e.value.file == str(run / "config.json") and e.value.setting == "data.resize"
    assert str(e.value).endswith("got 'crop'"), e.value


@pytest.mark.parametrize("value", ["resize", "error"])
def test_every_data_resize_a_run_could_have_recorded_still_reads(tmp_path, value) -> None:
    # (--resize has had the choices resize and error since the first wildgan; DataConfig's field the same)
    from wildgan.config import read_run_config

    run = _run_config(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d["data"]["resize"] = value
    (run / "config.json").write_text(json.dumps(d))
    assert read_run_config(run).data.resize == value


def test_data_resize_refused_in_python_names_the_field_and_on_the_cli_the_option() -> None:
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with pytest.raises(ConfigError) as e:
        DataConfig(resize="crop")
    assert str(e.value).startswith("data.resize must be resize or error") and e.value.flag == "--resize"
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError) as e:
        DataConfig(resize="crop")
    assert str(e.value).startswith("--resize must be resize or error"), e.value


def _split_json(run: Path, **conversion: object) -> Path:
    path = run / "split.json"
    path.write_text(json.dumps({"conversion": conversion, "native_sides": [28, 28]}))
    return path


@pytest.mark.parametrize("key, value, said", [("fit", "crop", "'crop'"), ("fit", "square", "'square'"),
                                              ("depth16", "crop", "'crop'"), ("depth16", "bits:8", "'bits:8'"),
                                              ("depth16", "per-image+8bit", "'per-image+8bit'")])
def test_a_split_json_s_fit_or_depth16_no_wildgan_wrote_is_refused_naming_the_file_and_field(
        tmp_path, key, value, said) -> None:
    # a text value that is no rule is refused when split.json is read (_check_split_fields), naming the file and
    # conversion.fit / depth16 (not only when the images to score are read, as "fit must be one of resize, pad,
    # letterbox, got 'crop'", naming neither)
    from wildgan.errors import CheckpointError
    from wildgan.scoring.run import read_split_info

    path = _split_json(tmp_path, **{key: value})
    with pytest.raises(CheckpointError) as e:
        read_split_info(tmp_path)
    assert str(e.value).startswith(f"{path}: not a readable split record ('conversion.{key}' must be "), e.value
    assert str(e.value).endswith(f", got {said})"), e.value


@pytest.mark.parametrize("key, value", [("fit", "resize"), ("fit", "pad"), ("fit", "letterbox"),
                                        ("depth16", "per-image"), ("depth16", "global"), ("depth16", "shift"),
                                        ("depth16", "bits:9"), ("depth16", "bits:12"), ("depth16", "bits:16"),
                                        ("fit", None), ("depth16", None)])
def test_every_fit_and_depth16_a_wildgan_ever_wrote_in_split_json_still_reads(tmp_path, key, value) -> None:
    # (fit: resize and pad since the first wildgan, letterbox since --square letterbox; depth16: per-image, global,
    # shift since the first, bits:9..16 since bits:N; a record without them, or null, converts by the defaults)
    from wildgan.scoring.run import read_split_info

    _split_json(tmp_path, **{key: value})
    assert read_split_info(tmp_path)["conversion"] == {key: value}


@pytest.mark.parametrize("record, said, why", [
    ({"value": None, "rule": "mad"}, '{"value": null, "rule": "mad"}', "float() argument"),
    ({"value": float("nan"), "rule": "mad", "params": {"k": 3.0, "n": 20, "tie": True}},
     '{"value": NaN, "rule": "mad", "params": {"k": 3.0, "n": 20, "tie": true}}', "its value is nan"),
    (["x"], '["x"]', "list indices")])
def test_a_threshold_record_read_from_a_file_is_said_as_the_file_writes_it(tmp_path, record, said, why) -> None:
    # Threshold.from_dict says a bad record read from a file as JSON writes it (null, true, NaN), not as Python's
    # repr of what json read ({'value': None, ...}, True, nan)
    from wildgan.thresholds import FIT_THRESHOLD_FILE, Threshold, load_fit_threshold

    (tmp_path / FIT_THRESHOLD_FILE).write_text(json.dumps({"threshold": record, "batch_mode": "mixed"}))
    with pytest.raises(ConfigError) as e:
        load_fit_threshold(tmp_path)
    # (load_fit_threshold's callers name its file: said once)
    assert str(e.value).startswith(f"not a threshold record: {said} ("), e.value
    assert why in str(e.value)
    path = tmp_path / "m.json"
    with pytest.raises(ConfigError) as e:
        Threshold.from_dict(record, file=path)
    assert str(e.value).startswith(f"{path}: not a threshold record: {said} ("), e.value
    with pytest.raises(ConfigError) as e:
        Threshold.from_dict(record, from_file=True)
    assert str(e.value).startswith(f"not a threshold record: {said} ("), e.value
    # a Python caller's own dict is said as Python writes it
    with pytest.raises(ConfigError) as e:
        Threshold.from_dict(record)
    assert str(e.value).startswith(f"not a threshold record: {record!r} ("), e.value


@pytest.mark.parametrize("param, rule", [('"contamination": NaN', "contamination"), ('"k": -Infinity', "mad")])
def test_a_non_finite_parameter_of_a_fit_record_is_said_as_the_file_writes_it(tmp_path: Path, param: str,
                                                                            rule: str) -> None:
    # load_fit_threshold: a hand-edited record's non-finite parameter is said as the file writes it (NaN,
    # -Infinity), not as Python's repr ('contamination nan', 'k -inf')
    (tmp_path / FIT_THRESHOLD_FILE).write_text(
        '{"threshold": {"value": 1.0, "rule": "%s", "params": {%s, "score": "a"}}}' % (rule, param), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_fit_threshold(tmp_path)
    said = str(e.value)
    assert param.split(": ")[1] in said and not re.search(r"\b(nan|inf)\b", said), said


def test_a_fit_record_s_non_finite_lam_is_said_as_the_file_writes_it(tmp_path: Path) -> None:
    # (the record's lam too: Infinity, as the file writes it)
    from wildgan.errors import ConfigError
    from wildgan.thresholds import FIT_THRESHOLD_FILE, load_fit_threshold

    (tmp_path / FIT_THRESHOLD_FILE).write_text('{"threshold": {"value": 1.0, "rule": "mad", "params": {"k": 3.0}}, '
                                               '"lam": Infinity}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lam Infinity$"):
        load_fit_threshold(tmp_path)


@pytest.mark.parametrize("v, said", [(float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
                                     (0.5, "0.5"), (None, "null"), (True, "true"), ([float("nan")], "[NaN]")])
def test_shown_says_a_file_s_value_as_json_writes_it(v: object, said: str) -> None:
    # config.shown(from_file=True) says a float NaN or infinity as the file writes it, NaN / Infinity, as it says
    # null, true and containers, not as Python's repr nan / inf
    from wildgan.config import shown

    assert shown(v, from_file=True) == said
    assert shown(v) == repr(v)                      # (a Python caller's own value: as Python writes it)


def test_an_onnx_model_s_bad_threshold_metadata_is_said_as_json(tmp_path, monkeypatch) -> None:
    from wildgan import export

    path = tmp_path / "m.onnx"
    monkeypatch.setattr(export, "onnx_metadata", lambda p: {
        "threshold": "nan", "threshold_rule": "mad", "threshold_params": json.dumps({"k": 3.0, "fitted": True})})
    with pytest.raises(ConfigError) as e:
        export.onnx_threshold(path)
    assert str(e.value) == (f'{path}: its threshold metadata cannot be read (not a threshold record: {{"value": NaN, '
                            f'"rule": "mad", "params": {{"k": 3.0, "fitted": true, "score": "a"}}}} (its value is '
                            f'nan))'), e.value
