"""A newcomer's walk through the README's quick tour (train on a pile, score new images, the report of named
images, thresholds): what the tools said differently from each other, or unclearly."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_report_named_images_csv_has_the_train_percentile_of_score(mnist: dict, tmp_path: Path, capsys) -> None:
    """report/named_images.csv's train_percentile, "as `wildgan score` names it" (docs/cli.md), is the very value of
    `wildgan score --threshold`'s column for the same files: it was rounded to the page's one decimal, so an image at
    99.75 in flagged.csv read 99.8 in the report's CSV (with 400 training images, every percentile is a multiple of
    0.25; here of 100/48)."""
    from wildgan.cli import main
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:48])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.064, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu"), preset="tiny")
    train_run(cfg, run, progress=False, log=lambda m: None)
    named = tmp_path / "named"
    named.mkdir()
    for i in range(8):
        Image.fromarray(mnist["x_test"][i * 40]).save(named / f"{i}.png")
    quiet = ["--no-progress", "--threads", "1"]
    assert main(["score", str(run), "--data", str(named), "--threshold", "contamination",
                 "--out", str(tmp_path / "flagged.csv"), *quiet]) == 0
    assert main(["report", str(run), "--image", str(named), "--no-controls", "--top-k", "2", "--tsne-points", "5",
                 *quiet]) == 0
    capsys.readouterr()
    scored, got = _rows(tmp_path / "flagged.csv"), _rows(run / "report" / "named_images.csv")
    assert set(got) == set(scored) and len(got) == 8
    assert [got[i]["train_percentile"] for i in sorted(got)] == [scored[i]["train_percentile"] for i in sorted(got)]
    # (not vacuous: some percentile here needs the second decimal, which the page's rounding dropped)
    assert any(round(float(s["train_percentile"]), 1) != float(s["train_percentile"]) for s in scored.values())
    # the page keeps its one decimal, as its captions say it
    md = (run / "report" / "report.md").read_text()
    some = next(iter(scored.values()))
    assert f"percentile {round(float(some['train_percentile']), 1):g} among the training images" in md


@pytest.mark.parametrize("value, pct", [("5", "5% give 0.05"), ("10", "10% give 0.1")])
def test_expected_contamination_given_as_a_percent_says_to_give_a_fraction(value: str, pct: str,
                                                                           capsys) -> None:
    """`--expected-contamination 5` (meant: 5%) was refused with 'must be in (0, 0.5], got 5' alone, where train's
    --contamination 5 says 'a fraction of the training set: for 5% give 0.05': the same hint now, before any run is
    read."""
    from wildgan.cli import main

    assert main(["score", "no-such-run", "--data", "x.png", "--out", "-", "--threshold", "contamination",
                 "--expected-contamination", value]) == 2
    err = capsys.readouterr().err
    assert (f"--expected-contamination must be in (0, 0.5] (the expected fraction of anomalies: for {pct}), "
            f"got {value}\n") in err, err


def test_expected_contamination_hint_in_the_python_api() -> None:
    """The Python API's words for the same refusal carry the same hint (contamination_threshold, Detector)."""
    from wildgan import Detector
    from wildgan.errors import ConfigError
    from wildgan.thresholds import contamination_threshold

    with pytest.raises(ConfigError, match=r"contamination .*must be in \(0, 0\.5\] \(.*for 5% give 0\.05\), got 5$"):
        contamination_threshold(np.arange(10.0), 5)
    with pytest.raises(ConfigError, match=r"^contamination must be in \(0, 0\.5\] \(the expected fraction of "
                                          r"anomalies: for 5% give 0\.05\), got 5$"):
        Detector(contamination=5).fit(np.zeros((8, 16, 16), np.uint8))
    # (a value that is no percent, e.g. 0.7 or -1, is refused as before, without the hint)
    with pytest.raises(ConfigError) as e:
        contamination_threshold(np.arange(10.0), 0.7)
    assert "give" not in str(e.value)


@pytest.mark.parametrize("extra", [[], ["--width", "16", "--latent-size", "16"]])
def test_resume_with_another_preset_names_the_preset(mnist: dict, tmp_path: Path, capsys, extra: list[str]) -> None:
    """`wildgan train --out RUN --resume --preset fast` on a tiny run was refused naming only what the preset sets
    (net.fmap_base: 256 -> 1024; ...; train.minibatch: {...} -> {...}), no option the user typed: the refusal now
    says `--preset: 'tiny' -> 'fast'` first (also where --width keeps the networks and only the minibatch sizes
    differ)."""
    from wildgan.cli import main
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:32])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.032, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", train_scores=False), preset="tiny")
    with pytest.warns(Warning):
        train_run(cfg, run, progress=False, log=lambda m: None)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--preset", "fast", *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "differ from the saved run: --preset: 'tiny' -> 'fast'; " in err, err
    # the same resume with the run's own preset names no preset
    assert main(["train", "--out", str(run), "--resume", "--lr", "0.5", "--no-progress"]) == 2
    assert "--preset" not in capsys.readouterr().err
