"""A run's files whose values are refused name the file and the field: a config.json's data.resize, a split.json's
fit and depth16, a threshold record read from a file (fixJI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config
from wildgan.errors import ConfigError


def _run_config(tmp_path: Path) -> Path:
    """A run folder holding only the config.json and config.yaml wildgan writes."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run, trained_on={"protocol": "mnist", "source": "/data/mnist", "n_train": 20})
    return run


def test_a_config_json_s_data_resize_not_resize_or_error_is_refused_naming_the_file_and_field(tmp_path) -> None:
    # `"resize": "crop"` was read without a word and refused at image-reading time, naming neither the file nor
    # data.resize ("resize must be 'resize' or 'error'")
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
