"""fixJV: `wildgan score`'s way to score every image of the run's own damaged data without labels is named only where
it works (revGB 1); a fit record's non-finite values said as the file writes them (revGB 2); train --help's examples
(revGB 3); the refusal of preset options beside RUN, and `wildgan info RUN --json` of a search run (revGB 4)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from wildgan import Detector
from wildgan.cli import main


def test_score_of_the_runs_own_damaged_batches_as_data_names_no_refused_way(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # `--data` naming the run's own batches (damaged since training, no training scores cached) named the Python
    # API's from_run(...).decision_function(DATA), which was refused by the same labels (from_run read them for the
    # training scores); since fixJW from_run reads them only at the first call that needs them, and the way works
    from damaged_data import cifar_train_run, write_meta

    run = cifar_train_run(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    write_meta(folder, names=False)
    capsys.readouterr()
    args = ["score", str(run), "--data", str(folder), "--out", str(tmp_path / "s.csv"), "--no-progress"]
    assert main(args) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    assert way in said and "needs them too here" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(eval(way, {"Detector": Detector})) == 48
    write_meta(folder, names=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
        assert len(Detector.from_run(str(run), device="cpu").decision_function(str(folder))) == 48


def test_score_names_the_python_api_s_way_where_the_training_scores_are_cached(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # with the training scores cached (a --threshold scoring wrote them), from_run does not read the run's data by
    # its labels: the way is named, and works
    from damaged_data import cifar_train_run, write_meta

    run = cifar_train_run(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(run), "--threshold", "contamination", "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    assert (run / "train_scores.csv").is_file()
    write_meta(folder, names=False)
    capsys.readouterr()
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    assert way in said and "needs them too" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(eval(way, {"Detector": Detector}).tolist()) == 48


@pytest.mark.parametrize("v, said", [(float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
                                     (0.5, "0.5"), (None, "null"), (True, "true"), ([float("nan")], "[NaN]")])
def test_shown_says_a_file_s_value_as_json_writes_it(v: object, said: str) -> None:
    # (revGB 2) a float NaN or infinity was said as Python's repr, nan / inf, where the file writes NaN / Infinity
    from wildgan.config import shown

    assert shown(v, from_file=True) == said
    assert shown(v) == repr(v)                      # (a Python caller's own value: as Python writes it)


def test_a_fit_record_s_non_finite_lam_is_said_as_the_file_writes_it(tmp_path: Path) -> None:
    from wildgan.errors import ConfigError
    from wildgan.thresholds import FIT_THRESHOLD_FILE, load_fit_threshold

    (tmp_path / FIT_THRESHOLD_FILE).write_text('{"threshold": {"value": 1.0, "rule": "mad", "params": {"k": 3.0}}, '
                                               '"lam": Infinity}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lam Infinity$"):
        load_fit_threshold(tmp_path)


def _tiny_config() -> Any:
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset

    return RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=0.02), preset="tiny")


def test_info_run_s_refusal_of_preset_options_agrees_in_number(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # (revGB 4) "--preset describe a preset's"
    from wildgan.config import write_run_config

    write_run_config(_tiny_config(), tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path), "--preset", "paper"]) == 2
    assert "--preset describes a preset's" in capsys.readouterr().err
    assert main(["info", str(tmp_path), "--preset", "paper", "--width", "8"]) == 2
    assert "--preset, --width describe a preset's" in capsys.readouterr().err


def test_info_run_json_of_a_search_run_counts_the_networks_its_table_does(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # (revGB 4) the table of a search run leaves out E (it trains no encoder) and the training GFLOP (whose formula
    # counts E); its --json listed both
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
