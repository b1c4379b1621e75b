"""`wildgan info RUN`: its refusal of the preset options that describe a preset (not a run) agrees in number with
the options given, and its --json of a search run lists the networks and GFLOP its table shows (a search run trains
no encoder E, so neither E nor the training GFLOP, whose formula counts E)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wildgan.cli import main


def _tiny_config() -> Any:
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset

    return RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=0.02), preset="tiny")


def test_info_run_s_refusal_of_preset_options_agrees_in_number(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # one option: "--preset describes a preset's" (not "describe"); two: "--preset, --width describe"
    from wildgan.config import write_run_config

    write_run_config(_tiny_config(), tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path), "--preset", "paper"]) == 2
    assert "--preset describes a preset's" in capsys.readouterr().err
    assert main(["info", str(tmp_path), "--preset", "paper", "--width", "8"]) == 2
    assert "--preset, --width describe a preset's" in capsys.readouterr().err


def test_info_run_json_of_a_search_run_counts_the_networks_its_table_does(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # the table of a search run leaves out E (it trains no encoder) and the training GFLOP (whose formula counts E);
    # its --json leaves them out too
    import json
    from dataclasses import replace

    from wildgan.config import write_run_config

    write_run_config(replace(_tiny_config(), method="search"), tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path)]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:4]]
    assert main(["info", str(tmp_path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert rows == ["G", "D"] == list(got["params"]) == list(got["forward_gflop"]), (rows, got)
    assert "train_gflop_per_image" not in got, got
