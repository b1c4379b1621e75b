"""`wildgan study` as a user runs it, and its report: a study's cells show the same progress bars as `wildgan
evaluate`; its ETA is each method's own cell time (an f-AnoGAN cell is not announced at our cells' time), and a study
resumed after a stop has an ETA from its earlier sessions' cells; a contamination given in percent is refused with
the fraction it means; and the advice of `wildgan report STUDY_DIR` for a cell without a report works from the folder
the user ran it in. A study takes hours: a silent or wrong ETA, or advice that fails as typed, costs the user most."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from toy_labelled_npz import toy_npz

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset

pytestmark = pytest.mark.usefixtures("one_thread")


def _toy_base(where: Path) -> Any:
    data = DataConfig(data=str(toy_npz(where)), normal=("0",), resolution=8, channels=1)
    tc = TrainConfig(total_kimg=0.05, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    return RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")


@pytest.mark.parametrize("progress", [True, False])
def test_a_study_s_cells_are_evaluated_with_the_study_s_progress_bars(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       progress: bool) -> None:
    # `wildgan evaluate` shows its scoring's bar; a study's cell scored without one would be minutes of silence
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    real, said = study_mod.evaluate_run, []

    def recording(*a: Any, **kw: Any) -> Any:
        said.append(kw.get("progress"))
        return real(*a, **kw)

    monkeypatch.setattr(study_mod, "evaluate_run", recording)
    study_mod.run_study(_toy_base(tmp_path), grid(["0"], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st",
                        progress=progress, log=lambda m: None)
    assert said == [progress]


def test_the_study_eta_is_each_method_s_own_cell_time_and_nothing_for_a_method_not_timed() -> None:
    # not one mean over every cell, which would announce an f-AnoGAN cell at ours' time
    from wildgan.studies.study import study_eta

    times = {"wildgan": [(8.0, 2.0, 1.0)], "fanogan": [(100.0, 20.0, 1.0)]}
    # 2 of ours at 10 s and 1 f-AnoGAN cell at 120 s: 140 s (one mean over both would say 3 x 65 s)
    assert study_eta(times, {"wildgan": 2, "fanogan": 1}) == " (study: about 02:20 left for 3 cells)"
    assert study_eta(times, {"wildgan": 0, "fanogan": 1}) == " (study: about 02:00 left for 1 cell)"
    # a method with cells left and none timed yet: no number, rather than one of another method's cells
    assert study_eta({"wildgan": [(8.0, 2.0, 1.0)]}, {"wildgan": 1, "fanogan": 1}) == ""
    assert study_eta({"wildgan": [(8.0, 2.0, 1.0)]}, {"wildgan": 2, "fanogan": 0}) == \
        " (study: about 00:20 left for 2 cells)"


def test_the_study_eta_of_an_fanogan_cell_is_not_ours_cells_time(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import time
    from dataclasses import replace
    from types import SimpleNamespace

    from wildgan.config import FAnoGANConfig
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    data = DataConfig(data=str(toy_npz(tmp_path, 32)), normal=("0",), resolution=32, channels=1)
    tc = TrainConfig(total_kimg=0.05, phase_kimg=0.01, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    base = RunConfig(data=data, net=net_config_for_preset("tiny", 32, 1), train=tc, preset="tiny",
                     fanogan=replace(FAnoGANConfig(), dim=4, gan_iters=2, enc_iters=2, device="cpu"))
    real = study_mod.train_run
    # the study's clock (its only use of time: time.monotonic) runs 10 s ahead for each f-AnoGAN cell, as a sleep of
    # 10 s would make it, without the two sleeps' 20 s of wall time
    skew = [0.0]
    monkeypatch.setattr(study_mod, "time", SimpleNamespace(monotonic=lambda: time.monotonic() + skew[0]))

    def slow_fanogan(cfg: RunConfig, run_dir: Path, **kw: object) -> object:
        if cfg.method == "fanogan":
            skew[0] += 10.0              # f-AnoGAN's cells cost more than ours here, as its 400 + 400 iterations do
        return real(cfg, run_dir, **kw)

    monkeypatch.setattr(study_mod, "train_run", slow_fanogan)
    cells = grid(["0"], [0.0, 0.1], ["wildgan", "fanogan"], ["image"], [0])
    lines: list[str] = []
    study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lines.append)
    last = max(i for i, c in enumerate(cells) if c.method == "fanogan")
    assert any(c.method == "fanogan" for c in cells[:last]) and any(c.method == "wildgan" for c in cells[:last])
    said = next(line for line in lines if line.startswith(f"[{last + 1}/{len(cells)}] ") and ": training" in line)
    m = re.search(r"about (?:(\d+):)?(\d+):(\d+) left for 1 cell", said)
    assert m, said
    seconds = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    # the one cell left is an f-AnoGAN cell, and one f-AnoGAN cell of this study took over 10 s
    assert seconds >= 10, said


def test_a_resumed_study_has_an_eta_from_its_earlier_sessions_cells(tmp_path: Path) -> None:
    # a study run again after a stop has an ETA before a cell has trained in that session, from the earlier ones
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod
    from wildgan.studies.study import study_eta

    base = _toy_base(tmp_path)
    cells = grid(["0"], [0.0, 0.125, 0.25], ["wildgan"], ["image"], [0])
    study_mod.run_study(base, cells[:1], tmp_path / "st", progress=False, log=lambda m: None)
    lines: list[str] = []
    study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lines.append)
    said = next(line for line in lines if line.startswith("[2/3] ") and ": training" in line)
    assert said.endswith(" left for 2 cells, from earlier sessions' cells)"), said
    # this session's own cells first, once it has timed one of the method
    third = next(line for line in lines if line.startswith("[3/3] ") and ": training" in line)
    assert "left for 1 cell)" in third and "earlier" not in third, third
    # (the earlier cells' times weigh only for a method not timed in this session)
    assert study_eta({"wildgan": [(10.0, 0.0, 1.0)]}, {"wildgan": 1, "fanogan": 1},
                     earlier={"wildgan": [(99.0, 0.0, 1.0)], "fanogan": [(50.0, 0.0, 1.0)]}) == \
        " (study: about 01:00 left for 2 cells, from earlier sessions' cells)"


def test_a_study_s_contamination_given_in_percent_is_refused_with_the_fraction_it_means(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--contamination 0,2` (2 for 2%) is refused with the fraction the user meant, not with the range alone
    from wildgan.cli import main

    monkeypatch.chdir(tmp_path)                 # (refused before anything is written; nothing lands elsewhere)

    assert main(["study", "--data", "nowhere.npz", "--contamination", "0,2", "--out", "st"]) == 2
    err = capsys.readouterr().err
    assert "each gamma must be in [0, 1), got 2 (a fraction of the training set: for 2% give 0.02)" in err, err
    assert main(["study", "--data", "nowhere.npz", "--contamination", "-0.1", "--out", "st"]) == 2
    assert "got -0.1\n" in capsys.readouterr().err                      # (no percentage read into a negative)
    # two gammas one cell would stand for (its key writes 6 significant digits): refused before the data is read
    assert main(["study", "--data", "nowhere.npz", "--contamination", "0.02,0.0200000001", "--out", "st"]) == 2
    assert "--contamination: gammas 0.02 and 0.0200000001 would name one cell (g0.02: " in capsys.readouterr().err


def test_the_study_report_s_advice_for_a_cell_s_report_works_from_where_it_was_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from wildgan.cli import main

    cell = "automobile_g0_wildgan_image_s0"
    auc = {"A": 0.4, "L_r": 0.41, "L_n": 0.55, "L_o": 0.69, "a": 0.7}
    row = {"cell": cell, "protocol": "cifar10", "normal": "automobile", "gamma": 0.0, "method": "wildgan",
           "encoder_loss": "image", "seed": 0, "auc": auc, "ap": auc, "run_dir": f"runs/{cell}",
           "controls": {"untrained": {k: 0.6 for k in auc}, "pixel_norm": 0.62, "pixel_std": 0.5, "pixel_mean": 0.45},
           "controls_ap": {"pixel_norm": 0.6, "pixel_std": 0.5, "pixel_mean": 0.45}, "kimg": 4.0}
    st = tmp_path / "studies" / "st"
    (st / "runs" / cell).mkdir(parents=True)
    (st / "runs" / cell / "config.json").write_text("{}", encoding="utf-8")
    (st / "results.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)                      # the user's shell, not the study folder
    assert main(["report", str(st)]) == 0
    page = (st / "report" / "report.html").read_text(encoding="utf-8")
    advised = re.findall(r"no report yet: wildgan report ([^)<]+)\)", page)
    assert advised, "no advice on the page"
    for target in advised:
        # the command, typed where `wildgan report STUDY_DIR` was, names the cell's run folder
        assert (elsewhere / target.strip().strip("'")).is_dir(), (target, "from", elsewhere)


_TINY = ["--preset", "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress",
         "--device", "cpu", "--search-steps", "1"]


def test_study_s_g_image_loss_trains_the_wildgan_cells_with_it_and_a_changed_value_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan study --g-image-loss W`: the wildgan cells record (and train with) train.g_image_loss W, the
    baselines' 0 (they train no pGAN encoder); the same study folder with another W, or without the option, is
    refused as other settings are, naming the field and both values."""
    from wildgan.cli import main
    from wildgan.config import read_run_config

    data, st = str(toy_npz(tmp_path)), tmp_path / "st"
    args = ["study", "--data", data, "--normal", "0", "--contamination", "0", "--methods", "wildgan,search", *_TINY,
            "--out", str(st)]
    assert main([*args, "--g-image-loss", "0.5"]) == 0, capsys.readouterr().err
    got = {p.name: read_run_config(p).train.g_image_loss for p in (st / "runs").iterdir()}
    assert got == {"0_g0_wildgan_image_s0": 0.5, "0_g0_search_-_s0": 0.0}
    capsys.readouterr()
    for again, said in ((["--g-image-loss", "0.25"], "train.g_image_loss: 0.5 -> 0.25"),
                        ([], "train.g_image_loss: 0.5 -> 0.0")):
        assert main([*args, *again]) == 2
        err = capsys.readouterr().err
        assert "holds cell 0_g0_wildgan_image_s0 trained with other settings" in err and said in err, err
    # the same value: the study is done, nothing refused
    assert main([*args, "--g-image-loss", "0.5"]) == 0, capsys.readouterr().err


def test_study_s_g_image_loss_is_refused_with_d_z_cells_before_the_data_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the d_z cells would be refused only as their config was built; said at once, in train's words, and with the
    # way to study both; a study without wildgan cells is told the option does nothing
    from wildgan.cli import main

    st = tmp_path / "st"
    assert main(["study", "--data", str(tmp_path / "nowhere.npz"), "--encoder-loss", "image,latent",
                 "--g-image-loss", "0.5", "--out", str(st)]) == 2
    err = capsys.readouterr().err
    assert ("--g-image-loss 0.5 adds the image-space encoder loss d_I to G's loss, which needs the encoder trained "
            "with d_I (encoder loss image), not --encoder-loss latent (the d_z cells of --encoder-loss image,latent)"
            in err), err
    assert not st.exists()
    data = str(toy_npz(tmp_path))
    assert main(["study", "--data", data, "--normal", "0", "--contamination", "0", "--methods", "search", *_TINY,
                 "--g-image-loss", "0.5", "--out", str(st)]) == 0
    assert "--g-image-loss does not apply to --methods search (it is the wildgan cells'): ignored" in \
        capsys.readouterr().err
