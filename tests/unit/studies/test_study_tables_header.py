"""The header of a study's tables (tables.md's "Training:" and "Pixel controls" lines, tables.csv's columns) and the
caption of its plot's bands say how the cells were trained and tested, as they were: the networks' width and latent
size (or that a row does not record them), f-AnoGAN's DIM and iterations (a row whose checkpoints said none, as
[null, null], counts as not recording them), a short study's length unrounded, and whether the seeds share their
test images. A reader compares studies, or a study with the paper, by these lines."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from toy_labelled_npz import toy_npz

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
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


def _base(where: Path, *, width: int | None = None) -> RunConfig:
    data = DataConfig(data=str(toy_npz(where)), normal=("0",), resolution=8, channels=1)
    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    return RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1, width=width), train=tc, preset="tiny")


def test_the_training_line_names_each_width_the_cells_had_and_the_rows_without_one() -> None:
    # not the preset's name alone: cells of two widths (rows merged by hand) are both named, and rows of an older
    # wildgan are counted, not passed off as the preset's networks
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
    # f-AnoGAN's DIM beside its iterations, in tables.md and tables.csv; an older row's said unrecorded
    rows = [_row("wildgan", width=16, latent_size=16, preset="tiny"),
            _row("fanogan", fanogan_iters=[400, 400], fanogan_dim=16),
            _row("fanogan", 1, fanogan_iters=[400, 400], fanogan_dim=64)]
    line = _training(render_markdown(rows))
    assert "f-AnoGAN: DIM 16 / 64 (cells differ), 400 critic + 400 encoder iterations per cell." in line, line
    assert "f-AnoGAN: DIM and iterations not recorded." in _training(render_markdown([rows[0], _row("fanogan")]))
    got = list(csv.DictReader(io.StringIO(render_csv(rows))))
    assert {(r["method"], r["seed"], r["fanogan_dim"], r["width"]) for r in got} == {
        ("wildgan", "0", "", "16"), ("fanogan", "0", "16", ""), ("fanogan", "1", "64", "")}


def test_a_study_table_with_fanogan_iters_not_recorded_beside_numbers() -> None:
    """A row whose fanogan_iters is [null, null] beside one with numbers: render_markdown does not stop with a
    TypeError sorting them, the Markdown names the recorded iterations, tables.csv does not say 'None+None', and a
    study with only such rows says its iterations were not recorded."""
    from study_rows import FIXED

    rows = [*FIXED[:4], {**FIXED[4], "fanogan_iters": [60, 30]}, {**FIXED[5], "fanogan_iters": [None, None]}]
    md = render_markdown(rows)
    assert "f-AnoGAN: DIM not recorded, 60 critic + 30 encoder iterations per cell." in md, md
    csv_lines = render_csv(rows).splitlines()
    assert "None" not in "\n".join(csv_lines)
    assert sum(",60+30," in line for line in csv_lines) > 0
    alone = render_markdown([*FIXED[:4], {**FIXED[5], "fanogan_iters": [None, None]}])
    assert "f-AnoGAN: DIM and iterations not recorded." in alone, alone


def test_the_plot_caption_and_tables_do_not_call_the_seeds_spread_the_same_test_images() -> None:
    # each seed draws its own test split where the protocol draws one (data.splits' test_draw stream), so the spread
    # over seeds holds test-set noise too: neither the report's caption of the bands nor tables.md may say the seeds
    # share their test images
    from wildgan.evaluation.gamma_curves import BAND_NOTE

    assert "same test images" not in BAND_NOTE and "each seed draws its own" in BAND_NOTE, BAND_NOTE
    md = render_markdown([_row("wildgan", 0, auc_ci95={"a": [0.65, 0.75]}), _row("wildgan", 1)])
    pixel = next(line for line in md.splitlines() if line.startswith("Pixel controls"))
    assert pixel.startswith("Pixel controls on each seed's test images") and "± 0.007 (n=2)" in pixel, pixel
    assert "their test images where each seed draws its own" in md


def test_a_study_of_fanogan_cells_alone_has_a_training_line() -> None:
    # the header's "Training:" line is there for a reader (or a grep) to find even with f-AnoGAN cells alone, not
    # replaced by an "f-AnoGAN: ..." line
    md = render_markdown([_row("fanogan", fanogan_iters=[2, 2], fanogan_dim=4)])
    assert _training(md) == "Training: f-AnoGAN, DIM 4, 2 critic + 2 encoder iterations per cell."


def test_the_training_line_says_a_short_study_s_length_as_it_was() -> None:
    # 0.05 kimg is not rounded to "0.1 kimg per cell"; lengths of 1 kimg and more are still one length a few images
    # apart
    assert "0.05 kimg per cell" in _training(render_markdown([_row("wildgan", kimg=0.05)]))
    assert "0.048 kimg per cell" in _training(render_markdown([_row("wildgan", kimg=0.048)]))
    md = render_markdown([_row("wildgan", 0, kimg=44.016), _row("wildgan", 1, kimg=44.032)])
    assert "44 kimg per cell" in _training(md)


def test_a_study_s_rows_and_tables_say_the_width_its_networks_had(tmp_path: Path) -> None:
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    base = _base(tmp_path, width=8)
    assert base.net.fmap_max == 8 and PRESETS["tiny"]["fmap_max"] != 8      # (not the tiny preset's networks)
    st = tmp_path / "st"
    rows = study_mod.run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), st, progress=False,
                               log=lambda m: None)
    row = json.loads((st / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row == json.loads(json.dumps(rows[0]))
    md = (st / "tables.md").read_text(encoding="utf-8")
    training = next(line for line in md.splitlines() if line.startswith("Training:"))
    assert row["preset"] == "tiny"
    # the header line that says how the networks were trained names their width (the tiny preset's is 16)
    assert "width 8" in training, training


def _two_seed_study(data: Path, st: Path) -> tuple[bool, list[dict[str, Any]], str]:
    """A study of two seeds of one tiny cell on `data` (normal 0) in st: (whether the seeds' test images are the same
    ones, by the ids each scored; its rows; tables.md's "Pixel controls" line)."""
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    dc = DataConfig(data=str(data), normal=("0",), resolution=8, channels=1)
    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    base = RunConfig(data=dc, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
    cells = grid(["0"], [0.0], ["wildgan"], ["image"], [0, 1])
    rows = study_mod.run_study(base, cells, st, progress=False, log=lambda m: None)

    def test_ids(cell: str) -> set[str]:
        with open(st / "runs" / cell / "test_scores.csv", newline="") as f:
            return {r["id"] for r in csv.DictReader(f)}

    md = (st / "tables.md").read_text(encoding="utf-8")
    pixel = next(line for line in md.splitlines() if line.startswith("Pixel controls"))
    return test_ids(cells[0].key) == test_ids(cells[1].key), rows, pixel


def _pixel_norm_spread(pixel: str) -> float:
    """The ± of the pixel norm's control over the seeds, as the "Pixel controls" line says it (one value a seed)."""
    m = re.search(r"\(pixel norm\) [0-9.]+ ± ([0-9.]+) \(n=2\)", pixel)
    assert m, pixel
    return float(m.group(1))


def test_a_study_s_seeds_are_pooled_as_on_the_same_test_images_only_when_they_are(tmp_path: Path,
                                                                                  tiny_npz: Path) -> None:
    """The pixel controls line pools one value per seed, each on that seed's own test images: where the protocol
    draws the test split (anomalies outnumber the normal test images) the seeds' test images differ, their pixel
    controls differ and the line does not call them the same test images; where nothing is drawn (an .npz's own
    balanced test split) the seeds share their test images, and their pixel controls are one value (± 0)."""
    # three classes, 0 normal: the held-out anomalies outnumber the normal test images, so the test split draws some
    rng = np.random.default_rng(0)
    three = tmp_path / "three.npz"
    x = (rng.random((120, 8, 8)) * 255).astype(np.uint8)
    x[40:80] //= 4
    x[80:] //= 2
    np.savez(three, x=x, y=np.repeat([0, 1, 2], 40))
    same, rows, pixel = _two_seed_study(three, tmp_path / "drawn")
    assert not same
    assert pixel.startswith("Pixel controls on each seed's test images") and "same test images" not in pixel, pixel
    assert len({r["controls"]["pixel_norm"] for r in rows}) == 2 and _pixel_norm_spread(pixel) > 0, pixel
    # tiny_npz: its own test split of 10 normal and 10 anomalous images, nothing drawn
    same, rows, pixel = _two_seed_study(tiny_npz, tmp_path / "shared")
    assert same
    assert pixel.startswith("Pixel controls on each seed's test images"), pixel
    assert len({r["controls"]["pixel_norm"] for r in rows}) == 1 and _pixel_norm_spread(pixel) == 0, pixel


def test_a_study_s_rows_and_tables_say_the_fanogan_width(tmp_path: Path) -> None:
    from dataclasses import replace

    from wildgan.config import FAnoGANConfig
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    data = DataConfig(data=str(toy_npz(tmp_path, 32)), normal=("0",), resolution=32, channels=1)
    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    base = RunConfig(data=data, net=net_config_for_preset("tiny", 32, 1), train=tc, preset="tiny",
                     fanogan=replace(FAnoGANConfig(), dim=4, gan_iters=2, enc_iters=2, device="cpu"))
    st = tmp_path / "st"
    study_mod.run_study(base, grid(["0"], [0.0], ["fanogan"], ["image"], [0]), st, progress=False,
                        log=lambda m: None)
    row = json.loads((st / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["method"] == "fanogan" and row["fanogan_iters"] == [2, 2]
    training = next(line for line in (st / "tables.md").read_text(encoding="utf-8").splitlines()
                    if "critic + " in line)
    # the header says the f-AnoGAN networks' width (DIM), as it says their iterations
    assert "DIM 4" in training, training
