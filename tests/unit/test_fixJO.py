"""fixJO: newcomer frictions (the not-grown warning's command, the mixed-sizes warning, the ETA probe's line, the
decoding bar off a terminal, `wildgan info RUN`, `wildgan train --help`'s folder example)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def _pile(where: Path, n: int = 20, sizes: list[tuple[int, int]] | None = None) -> Path:
    """A folder of `n` loose gray PNGs (8x8, or the given sizes), as the README's quick tour trains on."""
    rng = np.random.default_rng(0)
    where.mkdir(parents=True)
    for i in range(n):
        w, h = sizes[i] if sizes else (8, 8)
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(where / f"{i:03d}.png")
    return where


def test_the_not_grown_warning_gives_the_whole_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pile = _pile(tmp_path / "pile")
    run = tmp_path / "my run"
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.1", "--phase-kimg", "0.5",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "before the networks finished growing" in err, err
    # the command to paste, with its run (quoted: a space in it), not a bare '--resume --total-kimg ...'
    assert f"continue it with `wildgan train --out '{run}' --resume --total-kimg 1.334`" in err, err


def test_the_mixed_sizes_warning_of_sizes_each_seen_once_says_so(tmp_path: Path) -> None:
    from wildgan.data import load_dataset

    # photos of their own sizes, each size once: 'most common: 12x10 (1), ...' named arbitrary sizes as common
    _pile(tmp_path / "d", 5, [(12, 10), (9, 14), (16, 16), (8, 11), (20, 13)])
    with pytest.warns(UserWarning) as got:
        load_dataset(tmp_path / "d")
    said = [str(w.message) for w in got if "different sizes" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in got]
    assert "most common" not in said[0], said
    smallest = tmp_path / "d" / "003.png"             # 8x11, the smallest in area
    assert f"5 different sizes (each once; widths 8-20, heights 10-16 px), the smallest, 8x11: {smallest};" \
        in said[0], said


def test_the_eta_probe_says_a_line_before_its_resolutions_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast preset's probe ran ~40 s on 2 cores with nothing said after the start line. The thresholds are
    moved rather than the session (how long 500 images take depends on the machine): a probe allowed a minute says
    one line, with the option that skips it, before the resolutions ahead; one allowed less than the line's
    threshold says nothing."""
    import torch

    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.training import loop

    nc = net_config_for_preset("tiny", 16, 1)
    tc = TrainConfig(phase_kimg=0.1, total_kimg=0.5, minibatch={4: 4, 8: 4, 16: 4})
    nets, costs = build_pgan(nc, 0), loop._phase_costs(nc)
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 0.0)
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 60.0)
    said: list[str] = []
    got = loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500,
                                 say=said.append)
    assert sorted(got) == [4, 8, 16], got
    assert len(said) == 1 and said[0].startswith("eta: timing a few iterations at each resolution ahead"), said
    assert "progress=False" in said[0] and "skips it" in said[0], said
    said.clear()
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 1.0)
    loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500, say=said.append)
    assert said == [], said


def test_the_decoding_bar_shows_off_a_terminal_as_the_training_bar_does(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """A batch job decoding a pile (stderr a file: capsys's is no terminal) logged its training bar (progress_bar
    spaces its redraws there) but not its decoding one: `wildgan train` asked tqdm's auto (None), off there."""
    pile = _pile(tmp_path / "pile", 500)                # (the decoding bar's least count)
    common = ["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.02", "--threads", "1",
              "--no-train-scores"]
    assert main([*common, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "decoding: 100%" in err and "500/500" in err, err
    # --no-progress hides it still
    assert main([*common, "--no-progress", "--out", str(tmp_path / "quiet")]) == 0
    assert "decoding:" not in capsys.readouterr().err


def test_wildgan_info_run_describes_the_runs_networks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`wildgan info RUN` (a run folder, as every other command takes it) was refused as an unknown argument."""
    import json

    pile = _pile(tmp_path / "pile")
    run = tmp_path / "run"
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.02", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {run}: wildgan (preset tiny), 8x8x1, N_z = "), out
    assert f"`wildgan report {run}`" in out and f"{run}/config.json" in out, out
    assert "\nE " in out, out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["run"] == str(run) and got["preset"] == "tiny" and "params" in got, got
    # a preset's options beside a run: refused, naming them; a folder that holds no run: said by read_run_config
    assert main(["info", str(run), "--preset", "paper"]) != 0
    err = capsys.readouterr().err
    assert "--preset describes a preset's" in err, err
    assert main(["info", str(pile)]) != 0
    assert str(pile) in capsys.readouterr().err
    # the preset form is as it was
    assert main(["info", "--preset", "tiny", "--resolution", "16", "--channels", "1"]) == 0
    assert capsys.readouterr().out.startswith("preset tiny, 16x16x1, N_z = ")
    assert main(["info"]) == 0
    assert capsys.readouterr().out.startswith("preset paper, 32x32x3, N_z = ")


def test_train_help_shows_training_on_a_folder_pile(capsys: pytest.CaptureFixture) -> None:
    """The README's quick tour starts with `wildgan train --data my_images/ --out runs/mine`; --help had none."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "wildgan train --data my_images/ --out runs/mine\n" in out, out
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert "wildgan train --data my_images/ --out runs/mine\n" in readme.read_text(encoding="utf-8")


def test_train_runs_decoding_bar_follows_its_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """train_run(progress=True) showed the training bar off a terminal but left decoding to tqdm's auto (hidden
    there); progress=False left it to tqdm's auto too (shown on a terminal)."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    pile = _pile(tmp_path / "pile", 500)
    cfg = RunConfig(data=DataConfig(data=str(pile), dataset="unlabelled"), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02, phase_kimg=0.03, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", threads=1, train_scores=False), preset="tiny")
    train_run(cfg, tmp_path / "run", progress=True, log=lambda m: None)
    assert "decoding: 100%" in capsys.readouterr().err
    train_run(cfg, tmp_path / "quiet", progress=False, log=lambda m: None)
    assert "decoding:" not in capsys.readouterr().err
