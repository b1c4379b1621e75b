"""fixJU: the revFZ review's findings on studies (their regression tests are in test_review_revFZ.py) and the
frictions met beside them; each test here failed before its fix."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from wildgan.studies import render_csv, render_markdown

pytestmark = pytest.mark.usefixtures("one_thread")


def _row(method: str, seed: int = 0, **extra: Any) -> dict[str, Any]:
    auc = {"A": 0.4, "L_r": 0.41, "L_n": 0.55, "L_o": 0.69, "a": 0.7}
    enc = "image" if method == "wildgan" else "-"
    return {"cell": f"automobile_g0_{method}_{enc}_s{seed}", "protocol": "cifar10", "normal": "automobile",
            "gamma": 0.0, "method": method, "encoder_loss": enc, "seed": seed, "auc": auc,
            "ap": dict(auc), "controls": {"untrained": {k: 0.6 for k in auc}, "pixel_norm": 0.62 + seed / 100,
                                          "pixel_std": 0.5, "pixel_mean": 0.45},
            "controls_ap": {"pixel_norm": 0.6, "pixel_std": 0.5, "pixel_mean": 0.45}, "kimg": 4.0, **extra}


def _training(md: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("Training:"))


def test_the_training_line_names_each_width_the_cells_had_and_the_rows_without_one() -> None:
    # revFZ 1: the preset's name alone; cells of two widths (rows merged by hand) are both named, and rows of an
    # older wildgan are counted, not passed off as the preset's networks
    rows = [_row("wildgan", 0, width=8, latent_size=8, preset="tiny"),
            _row("wildgan", 1, width=16, latent_size=32, preset="tiny"), _row("wildgan", 2, preset="tiny")]
    line = _training(render_markdown(rows))
    assert "Networks: width 8, latent size 8 / width 16, latent size 32 (cells differ) (1 row records neither: " \
           "an older wildgan's)." in line, line
    assert "Networks: width and latent size not recorded" in _training(render_markdown([_row("wildgan")]))
    # tables.csv: a column of each, empty for a row that records none
    got = list(csv.DictReader(io.StringIO(render_csv(rows))))
    assert {(r["seed"], r["width"], r["latent_size"]) for r in got} == {("0", "8", "8"), ("1", "16", "32"),
                                                                         ("2", "", "")}


def test_the_training_line_names_the_fanogan_width_or_says_it_is_not_recorded() -> None:
    # revFZ 3: f-AnoGAN's DIM beside its iterations, in tables.md and tables.csv; an older row's said unrecorded
    rows = [_row("wildgan", width=16, latent_size=16, preset="tiny"),
            _row("fanogan", fanogan_iters=[400, 400], fanogan_dim=16),
            _row("fanogan", 1, fanogan_iters=[400, 400], fanogan_dim=64)]
    line = _training(render_markdown(rows))
    assert "f-AnoGAN: DIM 16 / 64 (cells differ), 400 critic + 400 encoder iterations per cell." in line, line
    assert "f-AnoGAN: DIM and iterations not recorded." in _training(render_markdown([rows[0], _row("fanogan")]))
    got = list(csv.DictReader(io.StringIO(render_csv(rows))))
    assert {(r["method"], r["seed"], r["fanogan_dim"], r["width"]) for r in got} == {
        ("wildgan", "0", "", "16"), ("fanogan", "0", "16", ""), ("fanogan", "1", "64", "")}


def test_the_plot_caption_and_tables_do_not_call_the_seeds_spread_the_same_test_images() -> None:
    # revFZ 2: each seed draws its own test split where the protocol draws one (data.splits' test_draw stream), so the
    # spread over seeds holds test-set noise too: neither the report's caption of the bands nor tables.md may say the
    # seeds share their test images
    from wildgan.evaluation.gamma_curves import BAND_NOTE

    assert "same test images" not in BAND_NOTE and "each seed draws its own" in BAND_NOTE, BAND_NOTE
    md = render_markdown([_row("wildgan", 0, auc_ci95={"a": [0.65, 0.75]}), _row("wildgan", 1)])
    pixel = next(line for line in md.splitlines() if line.startswith("Pixel controls"))
    assert pixel.startswith("Pixel controls on each seed's test images") and "± 0.007 (n=2)" in pixel, pixel
    assert "their test images where each seed draws its own" in md


def test_the_study_eta_is_each_method_s_own_cell_time_and_nothing_for_a_method_not_timed() -> None:
    # revFZ 5: one mean over every cell announced an f-AnoGAN cell at ours' time
    from wildgan.studies.study import study_eta

    times = {"wildgan": [(8.0, 2.0, 1.0)], "fanogan": [(100.0, 20.0, 1.0)]}
    # 2 of ours at 10 s and 1 f-AnoGAN cell at 120 s: 140 s (one mean over both said 3 x 65 s)
    assert study_eta(times, {"wildgan": 2, "fanogan": 1}) == " (study: about 02:20 left for 3 cells)"
    assert study_eta(times, {"wildgan": 0, "fanogan": 1}) == " (study: about 02:00 left for 1 cell)"
    # a method with cells left and none timed yet: no number, rather than one of another method's cells
    assert study_eta({"wildgan": [(8.0, 2.0, 1.0)]}, {"wildgan": 1, "fanogan": 1}) == ""
    assert study_eta({"wildgan": [(8.0, 2.0, 1.0)]}, {"wildgan": 2, "fanogan": 0}) == \
        " (study: about 00:20 left for 2 cells)"


def test_a_study_s_contamination_given_in_percent_is_refused_with_the_fraction_it_means(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--contamination 0,2` (2 for 2%) was refused with the range alone
    from wildgan.cli import main

    monkeypatch.chdir(tmp_path)                 # (refused before anything is written; nothing lands elsewhere)

    assert main(["study", "--data", "nowhere.npz", "--contamination", "0,2", "--out", "st"]) == 2
    err = capsys.readouterr().err
    assert "each gamma must be in [0, 1), got 2 (a fraction of the training set: for 2% give 0.02)" in err, err
    assert main(["study", "--data", "nowhere.npz", "--contamination", "-0.1", "--out", "st"]) == 2
    assert "got -0.1\n" in capsys.readouterr().err                      # (no percentage read into a negative)


def test_a_study_of_fanogan_cells_alone_has_a_training_line() -> None:
    # the header's "Training:" line was "f-AnoGAN: ..." alone, with no "Training:" for a reader (or a grep) to find
    md = render_markdown([_row("fanogan", fanogan_iters=[2, 2], fanogan_dim=4)])
    assert _training(md) == "Training: f-AnoGAN, DIM 4, 2 critic + 2 encoder iterations per cell."


def test_the_training_line_says_a_short_study_s_length_as_it_was() -> None:
    # 0.05 kimg was rounded to "0.1 kimg per cell"; lengths of 1 kimg and more are still one length a few images apart
    assert "0.05 kimg per cell" in _training(render_markdown([_row("wildgan", kimg=0.05)]))
    assert "0.048 kimg per cell" in _training(render_markdown([_row("wildgan", kimg=0.048)]))
    md = render_markdown([_row("wildgan", 0, kimg=44.016), _row("wildgan", 1, kimg=44.032)])
    assert "44 kimg per cell" in _training(md)


def _toy_base(where: Path) -> Any:
    import numpy as np

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset

    rng = np.random.default_rng(0)
    p = where / "toy.npz"
    x = (rng.random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(p, x=x, y=np.repeat([0, 1], 40))
    data = DataConfig(data=str(p), normal=("0",), resolution=8, channels=1)
    tc = TrainConfig(total_kimg=0.05, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    return RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")


@pytest.mark.parametrize("progress", [True, False])
def test_a_study_s_cells_are_evaluated_with_the_study_s_progress_bars(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       progress: bool) -> None:
    # `wildgan evaluate` shows its scoring's bar; a study's cell was scored without one, minutes of silence
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


def test_a_resumed_study_has_an_eta_from_its_earlier_sessions_cells(tmp_path: Path) -> None:
    # a study run again after a stop said no time left until a cell trained in that session
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
