"""The study grid: resumable, one row per cell; tables rendered exactly from fixed rows."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from repo_root import REPO
from study_rows import FIXED, study_base, study_row

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset, read_run_config
from wildgan.errors import ConfigError, DataError, TrainingInterrupted, WildganWarning
from wildgan.training.run import check_run_dir, train_run
from wildgan.evaluation.gamma_curves import auc_vs_gamma, auc_vs_gamma_ci95
from wildgan.studies import grid, read_rows, render_csv, render_markdown
from wildgan.studies import study as study_mod


def test_table_rendering_is_exact():
    md = render_markdown(FIXED)
    assert "| d_I (image) | 0.400 ± 0.000 (n=2) | 0.410 ± 0.000 (n=2) | 0.550 ± 0.000 (n=2) | " \
           "0.710 ± 0.028 (n=2) | 0.720 ± 0.028 (n=2) |" in md
    assert "| d_z (latent) | 0.400 | 0.410 | 0.550 | 0.650 | 0.660 |" in md
    # Table 2 with the paper's numbers beside ours (protocol CIFAR_CAR matches)
    assert "| method | score | γ=0 | paper γ=0 | γ=0.02 | paper γ=0.02 |" in md
    assert "| Ours (d_I) | a | 0.720 ± 0.028 (n=2) | 0.72 | 0.640 | 0.64 |" in md
    assert "| f-AnoGAN | a | 0.450 | – | 0.440 | – |" in md
    assert "| f-AnoGAN | A | 0.400 | 0.45 | 0.400 | 0.44 |" in md
    assert "| control: -‖Q‖ (pixel norm) | – | 0.620 ± 0.000 (n=2) | – | 0.620 | – |" in md
    # every method gets its own untrained-network control
    assert "| control: untrained nets (f-AnoGAN) | a | 0.600 | – | 0.600 | – |" in md
    # one value per seed: seed 0's d_I and d_z cells hold the same untrained networks (counted once)
    assert "| control: untrained nets (Ours) | a | 0.600 ± 0.000 (n=2) | – | 0.600 | – |" in md
    csv_text = render_csv(FIXED)
    lines = csv_text.strip().splitlines()
    assert lines[0] == ("protocol,normal,gamma,method,encoder_loss,seed,score,auc,ap,auc_untrained,"
                        "auc_ci95_low,auc_ci95_high,p_vs_untrained,p_test,kimg,fanogan_iters,lod,width,latent_size,"
                        "fanogan_dim,computed_otherwise")
    assert lines[1] == "cifar10,automobile,0.0,wildgan,image,0,A,0.400000,0.410000,0.600000,,,,,100.000000,,,,,,"
    assert len(lines) == 1 + len(FIXED) * 8
    # rows in the order of the cells, not of their completion: an extended study's file is a fresh run's
    assert render_csv(FIXED[::-1]) == csv_text


def test_tables_say_what_one_cells_auc_is_worth_where_the_rows_hold_intervals():
    """tables.md says the half-widths of the rows' 95% intervals of each method's own score (a for ours, A for
    f-AnoGAN); rows kept before the intervals were (FIXED) give no such line."""
    assert "95% interval" not in render_markdown(FIXED)
    rows = [{**r, "auc_ci95": {"a": [r["auc"]["a"] - 0.02, r["auc"]["a"] + 0.02], "A": [0.37, 0.43]}} for r in FIXED]
    rows[0]["auc_ci95"]["a"] = [0.6, 0.8]                           # wildgan's a: ±0.1
    rows[-1]["auc_ci95"]["A"] = [None, None]                        # undefined (one class): not counted
    md = render_markdown(rows)
    assert "One cell's AUC of its method's own score is worth ±0.020 to ±0.100 on its test images (95% interval" in md
    same = render_markdown([{**r, "auc_ci95": {"a": [0.5, 0.54], "A": [0.3, 0.34]}} for r in FIXED])
    assert "is worth ±0.020 on its test images" in same


def test_table1_carries_the_pixel_controls_of_its_test_images():
    # Table 1 (encoder loss x score) showed the untrained networks only: a reader of it alone had no pixel control
    md = render_markdown(FIXED)
    t1 = md.split("### Table 1 layout: encoder loss × score (γ = 0)")[1].split("###")[0]
    # one value per seed: the d_I and d_z cells of seed 0 share a test set
    assert "Pixel controls on each seed's test images (its cells'): -‖Q‖ (pixel norm) 0.620 ± 0.000 (n=2), -std(Q) " \
           "0.500 ± 0.000 (n=2), -mean(Q) 0.450 ± 0.000 (n=2)." in t1, t1
    t1_02 = md.split("### Table 1 layout: encoder loss × score (γ = 0.02)")[1].split("###")[0]
    assert ("Pixel controls on each seed's test images (its cells'): -‖Q‖ (pixel norm) 0.620, -std(Q) 0.500, "
            "-mean(Q) 0.450.") in t1_02


def test_controls_count_each_seed_once_in_tables_and_plot():
    # 3 seeds x 2 encoder losses: the untrained networks of a seed are the same for both losses
    rows = [study_row("wildgan", enc, g, seed, 0.7 + 0.01 * seed, untrained=u, pn=p)
            for g in (0.0, 0.02) for seed, u, p in ((0, 0.55, 0.60), (1, 0.57, 0.62), (2, 0.59, 0.64))
            for enc in ("image", "latent")]
    rows += [study_row("fanogan", "-", g, seed, 0.45, untrained=0.2, pn=p) for g in (0.0, 0.02)
             for seed, p in ((0, 0.60), (1, 0.62), (2, 0.64))]          # the test set (hence -||Q||) is the seed's
    md = render_markdown(rows)
    assert "| control: untrained nets (Ours) | a | 0.570 ± 0.020 (n=3) | – | 0.570 ± 0.020 (n=3) | – |" in md
    assert "| control: -‖Q‖ (pixel norm) | – | 0.620 ± 0.020 (n=3) | – | 0.620 ± 0.020 (n=3) | – |" in md
    curves = auc_vs_gamma(rows)
    assert curves["control: untrained Ours (a)"] == [(0.0, pytest.approx(0.57), pytest.approx(0.02)),
                                                    (0.02, pytest.approx(0.57), pytest.approx(0.02))]
    # each method against its own control (f-AnoGAN's A), never pooled with the others
    assert [m for _, m, _ in curves["control: untrained f-AnoGAN (A)"]] == [pytest.approx(0.2)] * 2
    assert [sd for _, _, sd in curves["control: -‖Q‖"]] == [pytest.approx(0.02)] * 2
    assert {"control: -std(Q)", "control: -mean(Q)"} <= set(curves)        # every pixel control is drawn
    assert [len(v) for v in curves.values()] == [2] * len(curves)
    # a NaN AUC (one class in a test set) leaves its point out instead of making it NaN
    for r in rows[:2]:                                  # seed 0 at gamma 0, both losses
        r["controls"]["untrained"]["a"] = float("nan")
    assert auc_vs_gamma(rows)["control: untrained Ours (a)"][0][1] == pytest.approx(0.58)


def _study_folder(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_one_score_for_every_method_is_drawn_from_the_rows(tmp_path):
    # the study's plot and tables.md headline each method's own score (a; f-AnoGAN's A): a reader comparing the
    # methods' plain residual L_r had no figure of it. score_views draws any score for every method from the rows,
    # with each method's untrained networks of that score and the pixel controls
    from wildgan.studies import score_views

    rows = [{**r, "auc": dict(r["auc"]), "auc_ci95": {"L_r": [r["auc"]["L_r"] - 0.05, r["auc"]["L_r"] + 0.05]}}
            for r in FIXED]
    st = _study_folder(tmp_path / "st", rows)
    (view,) = score_views(st, ["L_r"])
    (plot,) = view.plots                                 # one normal set: no per-class figure
    assert plot.name == "auc_vs_gamma-score-L_r.png"
    assert plot.curves["Ours d_I (L_r)"] == [(0.0, pytest.approx(0.41), 0.0), (0.02, pytest.approx(0.41), 0.0)]
    assert plot.curves["f-AnoGAN (L_r)"][0][1] == pytest.approx(0.41)           # f-AnoGAN's L_r, not its A
    assert not any(k.endswith("(a)") or k.endswith("(A)") for k in plot.curves)
    assert {"control: untrained Ours (L_r)", "control: untrained f-AnoGAN (L_r)", "control: -‖Q‖", "control: -std(Q)",
            "control: -mean(Q)"} <= set(plot.curves)
    assert plot.bands["f-AnoGAN (L_r)"] == [(0.0, pytest.approx(0.05), pytest.approx(0.05)),
                                            (0.02, pytest.approx(0.05), pytest.approx(0.05))]
    # the own-score figure is as before (f-AnoGAN's A)
    assert "f-AnoGAN (A)" in auc_vs_gamma(FIXED) and "f-AnoGAN (a)" not in auc_vs_gamma(FIXED)
    (heading, header, body) = view.tables[0]
    assert heading == "cifar10, normal = automobile: Table 2 layout, score L_r"
    assert header == ["method", "score", "γ=0", "paper γ=0", "γ=0.02", "paper γ=0.02"]
    assert ["f-AnoGAN", "L_r", "0.410", "0.41", "0.410", "0.40"] in body
    assert ["Ours (d_I)", "L_r", "0.410 ± 0.000 (n=2)", "0.42", "0.410", "0.41"] in body
    assert ["control: untrained nets (f-AnoGAN)", "L_r", "0.600", "–", "0.600", "–"] in body
    assert {b[1] for b in body} == {"L_r", "–"} and sum(b[0].startswith("control: -") for b in body) == 3
    # two scores, two views; an unknown score, or one a method's rows lack, is refused naming it and them
    assert [v.score for v in score_views(st, ["L_r", "a", "L_r"])] == ["L_r", "a"]
    with pytest.raises(ConfigError, match=r"unknown score l_r \(did you mean L_r\?\): choose one or more of a, L_n"):
        score_views(st, ["l_r"])
    for r in rows:
        if r["method"] == "fanogan":
            del r["auc"]["L_r"]
    _study_folder(st, rows)
    with pytest.raises(ConfigError, match=r"score L_r: the rows of .*results\.jsonl hold no L_r AUC for f-AnoGAN \(2 "
                                          r"of its 2 cells, e\.g\. automobile_g0_fanogan_-_s0\), so its figure and "
                                          r"table would leave those cells out; choose a score every method's rows hold "
                                          r"\(a, L_n, L_o, A\)"):
        score_views(st, ["a", "L_r"])
    with pytest.raises(ConfigError, match=r"no results\.jsonl"):
        score_views(tmp_path, ["L_r"])


def test_one_score_s_view_pools_the_rows_the_tables_pool(tmp_path):
    # a row that tables.csv marks computed otherwise (other score settings) is left out, as tables.md leaves it out
    from wildgan.studies import score_views

    st = tmp_path / "st"
    st.mkdir()
    study_mod.write_tables(st, FIXED, apart={FIXED[1]["cell"]: "score.lam: 0.2 -> 0.05"})
    _study_folder(st, FIXED)
    (view,) = score_views(st, ["L_o"])
    assert view.plots[0].curves["Ours d_I (L_o)"][0][1] == pytest.approx(0.69)         # seed 0 only (0.74 left out)
    assert view.notes == ("1 of the 6 rows are left out of this section, as tables.md leaves them out: tables.csv "
                          "marks them computed otherwise than the study command that wrote it computes its cells (e.g. "
                          f"{FIXED[1]['cell']}: score.lam: 0.2 -> 0.05).",)
    # several normal sets: a figure per set too, and a table each
    rows = FIXED + [dict(r, normal="cat", cell=r["cell"].replace("automobile", "cat")) for r in FIXED]
    (st / "tables.csv").unlink()
    _study_folder(st, rows)
    (view,) = score_views(st, ["L_o"])
    assert [p.name for p in view.plots] == ["auc_vs_gamma-score-L_o.png",
                                            "auc_vs_gamma-score-L_o-normal-automobile.png",
                                            "auc_vs_gamma-score-L_o-normal-cat.png"]
    assert view.plots[0].pooled == 2 and view.plots[2].normal == "cat" and len(view.tables) == 2


def test_wildgan_report_draws_a_study_s_chosen_score_for_every_method(tmp_path, capsys):
    from wildgan.cli import main

    st = _study_folder(tmp_path / "st", FIXED)
    assert main(["report", str(st), "--score", "L_r"]) == 0
    md = (st / "report" / "report.md").read_text()
    assert "## Score L_r for every method" in md and "](auc_vs_gamma-score-L_r.png)" in md
    assert "| f-AnoGAN | L_r | 0.410 | 0.41 | 0.410 | 0.40 |" in md
    assert (st / "report" / "auc_vs_gamma-score-L_r.png").stat().st_size > 1000
    page = (st / "report" / "report.html").read_text()
    # (and the own-score plot the report draws for a study that left none)
    assert "Score L_r for every method" in page and page.count("data:image/png;base64,") == 2
    # several; then none: the report is as before, the chosen scores' figures removed with it
    assert main(["report", str(st), "--score", "L_r", "--score", "L_n"]) == 0
    assert "## Score L_n for every method" in (st / "report" / "report.md").read_text()
    assert main(["report", str(st)]) == 0
    assert "Score L_r" not in (st / "report" / "report.md").read_text()
    assert not list((st / "report").glob("auc_vs_gamma-score-*"))
    # a score a method lacks: refused, naming both, the report left as it was
    before = (st / "report" / "report.md").read_text()
    rows = [dict(r, auc={k: v for k, v in r["auc"].items() if k != "L_n" or r["method"] != "fanogan"}) for r in FIXED]
    _study_folder(st, rows)
    capsys.readouterr()
    assert main(["report", str(st), "--score", "L_n"]) == 2
    err = capsys.readouterr().err
    assert "score L_n: " in err and "no L_n AUC for f-AnoGAN (2 of its 2 cells" in err, err
    assert (st / "report" / "report.md").read_text() == before
    # a run's report ranks by one score
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert main(["report", str(run), "--score", "L_r", "--score", "a"]) == 2
    assert "a run's report ranks its images by one score" in capsys.readouterr().err


T975 = {1: 12.706204736174705, 2: 4.302652729749464}       # t(0.975, df), from tables


def _two_class_rows() -> list[dict[str, Any]]:
    """Ours d_I on normal 2 (0.70 / 0.74 at gamma 0, 0.60 / 0.64 at 10%) and 3 (0.50 / 0.52, 0.40 / 0.42), two
    seeds each, each cell with a tight interval over its test images (+-0.01: the old band), and 100 of 400 test
    images anomalous (a control's Newcombe interval)."""
    return [dict(study_row("wildgan", "image", g, s, a - 1.0 * g), normal=n, cell=f"{n}_{g}_{s}", n_test=400,
                 n_anomalous=100, auc_ci95={"a": [a - 1.0 * g - 0.01, a - 1.0 * g + 0.01]})
            for n, aucs in (("2", (0.70, 0.74)), ("3", (0.50, 0.52))) for g in (0.0, 0.1) for s, a in enumerate(aucs)]


def _drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """{file name: figure} of every figure plots draws from here on (still written)."""
    from wildgan.evaluation import plots

    figs: dict[str, Any] = {}
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.__setitem__(Path(path).name, fig) or real(fig, path))
    return figs


def test_the_study_figures_shade_the_95_interval_of_the_mean_pooled_and_per_class(tmp_path, monkeypatch):
    """The study's own figures have the report's bands (gamma_curves.auc_vs_gamma_ci95, one rule for both): the
    t-interval of the mean over seeds, classes held fixed when pooled, and the controls banded too; not the mean of
    the cells' intervals over their test images (+-0.01 here) that they used to shade. Read off the figures."""
    from figure_bands import bands_of

    from wildgan.evaluation.gamma_curves import BAND_TEXT

    figs = _drawn(monkeypatch)
    study_mod.write_tables(tmp_path, _two_class_rows())
    assert set(figs) == {"auc_vs_gamma.png", "auc_vs_gamma-normal-2.png", "auc_vs_gamma-normal-3.png"}
    axes = {name: f.axes[0] for name, f in figs.items()}
    assert all(BAND_TEXT.replace("\n", " ") in ax.get_ylabel().replace("\n", " ") for ax in axes.values())
    pooled, two, three = (bands_of(axes[n]) for n in ("auc_vs_gamma.png", "auc_vs_gamma-normal-2.png",
                                                       "auc_vs_gamma-normal-3.png"))
    # pooled, gamma 0: mean 0.615; the seeds' spread within each class, s^2 = (2 * 0.02^2 + 2 * 0.01^2) / (4 - 2),
    # so +- t(0.975, 2) * sqrt(0.0005 / 4) = 0.0481 (the classes' 0.2 apart are not in it)
    half = T975[2] * (0.0005 / 4) ** 0.5
    assert half == pytest.approx(0.048105, abs=1e-6)
    assert pooled["Ours d_I (a)"][0.0] == pytest.approx((0.615 - half, 0.615 + half))
    # per class: two seeds, t(0.975, 1): normal 2 at gamma 0, 0.72 +- 12.7 * 0.02; normal 3 at 10%, 0.41 +- 12.7 * 0.01
    assert two["Ours d_I (a)"][0.0] == pytest.approx((0.72 - T975[1] * 0.02, 0.72 + T975[1] * 0.02))
    assert three["Ours d_I (a)"][10.0] == pytest.approx((0.41 - T975[1] * 0.01, 0.41 + T975[1] * 0.01))
    # a control that is the same on every seed (-‖Q‖ 0.62): its Newcombe interval from 100 anomalous of 400; pooled,
    # the mean of two classes' independent test sets, each end's distance / sqrt(2)
    from wildgan.evaluation.metrics import auc_score_interval

    lo, hi = auc_score_interval(0.62, 100, 300)
    assert two["control: -‖Q‖"][0.0] == pytest.approx((lo, hi))
    r2 = 2 ** 0.5
    assert pooled["control: -‖Q‖"][10.0] == pytest.approx((0.62 - (0.62 - lo) / r2, 0.62 + (hi - 0.62) / r2))
    assert set(pooled) == {"Ours d_I (a)", "control: untrained Ours (a)", "control: -‖Q‖", "control: -std(Q)",
                           "control: -mean(Q)"}


def test_the_study_figures_and_the_reports_fallback_are_the_same(tmp_path, monkeypatch):
    """The report of a study that left no figure draws the study's own (gamma_curves.gamma_plots): the same files,
    the per-class ones too, with the same bands read off them."""
    from figure_bands import bands_of

    from wildgan.evaluation.report import report

    rows = _two_class_rows()
    rows[0]["seed"], rows[0]["auc_ci95"] = 0, {"a": [0.6, 0.75]}
    del rows[1]                    # normal 2, gamma 0: one seed, its own interval over the test images
    st = tmp_path / "st"
    st.mkdir()
    (st / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    figs = _drawn(monkeypatch)
    study_mod.write_tables(st, rows)
    own = {n: bands_of(f.axes[0]) for n, f in figs.items()}
    assert own["auc_vs_gamma-normal-2.png"]["Ours d_I (a)"][0.0] == pytest.approx((0.6, 0.75))
    for p in st.glob("*.png"):
        p.unlink()
    figs.clear()
    report(st)
    assert {n: bands_of(f.axes[0]) for n, f in figs.items()} == own
    md = (st / "report" / "report.md").read_text()
    assert "](auc_vs_gamma-normal-2.png)" in md and "](auc_vs_gamma-normal-3.png)" in md


def test_the_auc_vs_gamma_band_reaches_below_and_above_as_the_cells_intervals_do(tmp_path, monkeypatch):
    """auc_ci's interval of a perfect ranking of 10 anomalies and 50 normal images is 0.880-1, all of it below the
    AUC: a band of its half-width (0.06) around 1 drew 0.94-1.06, clipped to 0.94-1, which hid most of it. A
    single seed's point is banded by its own interval, as lopsided as it is."""
    from figure_bands import bands_of

    from wildgan.evaluation import plots

    rows = [{**study_row("wildgan", "image", 0.0, 0, 1.0), "auc_ci95": {"a": [0.88, 1.0]}}]
    bands = auc_vs_gamma_ci95(rows)
    assert bands["Ours d_I (a)"] == [(0.0, pytest.approx(0.12), pytest.approx(0.0))]
    figs = _drawn(monkeypatch)
    plots.auc_vs_gamma(tmp_path / "g.png", auc_vs_gamma(rows), bands=bands)
    assert bands_of(figs["g.png"].axes[0]) == {"Ours d_I (a)": {0.0: (pytest.approx(0.88), pytest.approx(1.0))}}


def test_the_auc_vs_gamma_band_shows_at_a_lone_gamma_and_not_across_one_without(tmp_path, monkeypatch):
    """A band point with no banded neighbour (a study of one gamma, or a curve whose other gammas have no interval)
    was a fill of zero width: nothing drawn, under an axis that says 'shaded'. It is a translucent bar there; and a
    gamma without an interval breaks the band rather than having one drawn across it from its neighbours."""
    from matplotlib.collections import LineCollection, PolyCollection

    from wildgan.evaluation import plots

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    curves = {"one": [(0.0, 0.7, 0.0)], "gap": [(0.0, 0.6, 0.0), (0.02, 0.6, 0.0), (0.05, 0.6, 0.0)]}
    plots.auc_vs_gamma(tmp_path / "g.png", curves, bands={"one": [(0.0, 0.05)], "gap": [(0.0, 0.1), (0.05, 0.1)]})
    ax = figs[0].axes[0]
    polys = [p for c in ax.collections if isinstance(c, PolyCollection) for p in c.get_paths()]
    assert all(p.get_extents().width > 0 for p in polys)             # no fill of zero width (invisible)
    assert not [p for p in polys if p.get_extents().x0 < 2 < p.get_extents().x1]     # none across gamma 2%
    bars = [seg for c in ax.collections if isinstance(c, LineCollection) and c.get_linewidth()[0] > 2
            for seg in c.get_segments()]
    spans = sorted((float(s[0, 0]), round(float(min(s[:, 1])), 6), round(float(max(s[:, 1])), 6)) for s in bars)
    assert spans == [(0.0, 0.5, 0.7), (0.0, 0.65, 0.75), (5.0, 0.5, 0.7)], spans


def _md_table_rows(md: str) -> list[list[list[str]]]:
    """Every pipe table of a Markdown text as lists of cells, split the way GitHub splits them: at each `|` that is
    not escaped as `\\|` (written independently of the package's own reader)."""
    tables: list[list[list[str]]] = []
    prev = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if not prev.startswith("|"):
                tables.append([])
            tables[-1].append(re.split(r"(?<!\\)\|", line.strip()[1:-1]))
        prev = line
    return tables


def test_table2_names_the_encoder_loss_of_a_study_of_the_latent_loss_alone():
    # the d_z ablation on its own: Table 2 said "Ours" (the paper's d_I method) with an empty paper column
    rows = [study_row("wildgan", "latent", 0.0, s, 0.6 + 0.01 * s) for s in (0, 1)]
    md = render_markdown(rows)
    assert "| Ours (d_z) | a | 0.605 ± 0.007 (n=2) | – |" in md and "| Ours | " not in md
    # the paper's own method alone stays "Ours", with the paper's numbers
    assert "| Ours | a | 0.700 | 0.72 |" in render_markdown([study_row("wildgan", "image", 0.0, 0, 0.70)])


def test_paper_numbers_only_beside_the_papers_cifar_car_setup():
    # CIFAR_CAR read gray at 16x16 with all 10,000 test images is not the paper's set-up: its numbers were shown
    # beside such cells as targets
    paper = [study_row("wildgan", "image", 0.0, 0, 0.70)]
    assert "paper γ=0" in render_markdown(paper)                   # rows of an earlier wildgan: taken as the paper's
    setup = {"resolution": 32, "channels": 3, "test_size": "paper"}
    assert "| Ours | a | 0.700 | 0.72 |" in render_markdown([{**paper[0], **setup}])
    md = render_markdown([{**paper[0], **setup, "resolution": 16, "channels": 1, "test_size": "all"}])
    assert "paper γ=0" not in md and "| Ours | a | 0.700 |\n" in md
    assert ("The paper's CIFAR_CAR numbers are not shown: these cells differ from its set-up in resolution 16 (the "
            "paper's 32); channels 1 (the paper's 3, RGB); test size all (the paper's paper: 2000 test images).") in md


def test_paper_numbers_not_beside_a_subset_of_cifar10():
    # the lossless CIFAR-10 subset under the CIFAR_CAR protocol (test_size "paper": every test car and as many others)
    # trains on 366 cars and tests 178 images: the paper's 0.72 stood beside such cells as their target
    setup = {"resolution": 32, "channels": 3, "test_size": "paper"}
    full = {**study_row("wildgan", "image", 0.02, 0, 0.70), **setup, "n_test": 2000, "n_train": 5102,
            "n_train_anomalous": 102}
    assert "| Ours | a | 0.700 | 0.64 |" in render_markdown([full])         # the paper's set-up: its number beside
    sub = {**full, "n_test": 178, "n_train": 385, "n_train_anomalous": 19}
    md = render_markdown([sub])
    assert "paper γ=0.02" not in md and "| Ours | a | 0.700 |\n" in md
    assert ("differ from its set-up in test images 178 (the paper's 2000); normal training images 366 (the paper's "
            "5000).") in md, md
    # --rotations 1 on the full set: two copies of each car; said as the rotations, not as 10,000 training cars
    rot = {**full, "n_train": 2 * 5102, "n_train_anomalous": 2 * 102, "rotations": 1}
    md = render_markdown([rot])
    assert "paper γ=0.02" not in md and "differ from its set-up in rotations 1 (the paper's 0)." in md, md


def test_markdown_table_cells_escape_pipes():
    # the pixel-norm control used to be "-||Q||": its pipes split the row, so "control: -" showed in the first
    # column and the numbers slid out of theirs; a class name with a pipe (folder protocol) must not do it either
    rows = FIXED + [dict(study_row("wildgan", "image", 0.0, 0, 0.7), protocol="folder", normal="scratch|dent")]
    md = render_markdown(rows)
    tables = _md_table_rows(md)
    assert len(tables) == 6                       # tables 1 and 2 of each protocol's gammas, and the sweep
    for t in tables:
        assert all(len(r) == len(t[0]) for r in t), t
    assert "| control: -‖Q‖ (pixel norm) | – | 0.620 ± 0.000 (n=2) | – | 0.620 | – |" in md
    assert "| normal class | A | L_r | L_n | L_o | a | untrained a | -‖Q‖ |" in md
    assert "| scratch\\|dent | 0.400 |" in md
    # the writer and the reader of a cell are each other's inverse (a line break would end the row: a space)
    from wildgan.markdown import md_row, split_md_row

    assert split_md_row(md_row(["x|y", "-||Q||", "a\nb", 0.5, ""])) == ["x|y", "-||Q||", "a b", "0.5", ""]


def test_raw_generator_rows_appear_when_recorded():
    assert "raw G" not in render_markdown(FIXED)
    with_g = [dict(r, other_generator={"generator": "G", "auc": {**r["auc"], "L_r": 0.9}})
              if r["method"] == "wildgan" and r["encoder_loss"] == "image" else r for r in FIXED]
    md = render_markdown(with_g)
    assert "| Ours (d_I), raw G | L_r | 0.900 ± 0.000 (n=2) | – | 0.900 | – |" in md
    assert "Ours (d_z), raw G" not in md          # those rows did not record the raw G


def test_grid_collapses_encoder_loss_for_baselines():
    cells = grid(["1"], [0.0, 0.02], ["wildgan", "fanogan"], ["image", "latent"], [0, 1])
    assert len(cells) == 2 * (2 * 2 + 1 * 2)
    assert len({c.key for c in cells}) == len(cells)


def test_a_repeated_value_adds_no_cell():
    # --seeds 0,0 (or --contamination 0,0.0) listed the same cell twice: it was evaluated twice, and its two rows
    # counted as two seeds in the tables (n=2, std 0)
    cells = grid(["1", "1"], [0.0, 0.02, 0.0], ["wildgan"], ["image", "image"], [0, 1, 0])
    assert [c.key for c in cells] == ["1_g0_wildgan_image_s0", "1_g0_wildgan_image_s1",
                                      "1_g0.02_wildgan_image_s0", "1_g0.02_wildgan_image_s1"]


def test_two_gammas_that_one_cell_key_would_name_are_refused(tmp_path):
    # the key (and so the run folder and row) writes gamma with 6 significant digits: 0.1 and 0.1000001 were one
    # cell, and grid dropped the second without a word
    with pytest.raises(ConfigError,
                       match=r"^grid\(gammas=\.\.\.\): gammas 0\.1 and 0\.1000001 would name one cell \(g0\.1: "):
        grid(["1"], [0.1, 0.1000001], ["wildgan"], ["image"], [0])
    # the same value written twice is one cell, as before; -0 is 0 (`--contamination 0,-0` made cells g0 and g-0 of
    # one gamma, whose two rows the tables counted as two seeds)
    assert [c.key for c in grid(["1"], [0.1, 0.10], ["wildgan"], ["image"], [0])] == ["1_g0.1_wildgan_image_s0"]
    assert [c.key for c in grid(["1"], [-0.0, 0.0], ["wildgan"], ["image"], [0])] == ["1_g0_wildgan_image_s0"]
    # cells made by hand: the second was taken for the first one's cell, done, and skipped
    cells = [study_mod.Cell("1", g, "wildgan", "image", 0) for g in (0.1, 0.1000001)]
    with pytest.raises(ConfigError, match=r"^run_study: cells: gammas 0\.1 and 0\.1000001 would name one cell"):
        study_mod.run_study(study_base(tmp_path), cells, tmp_path / "st", progress=False, log=lambda m: None)
    assert not (tmp_path / "st").exists()


def test_a_cell_listed_twice_gets_one_row(tmp_path):
    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    rows = study_mod.run_study(study_base(tmp_path), cell * 2, tmp_path / "st", progress=False, log=lambda m: None)
    assert [r["cell"] for r in rows] == [cell[0].key]
    assert "Cells: 1." in (tmp_path / "st" / "tables.md").read_text()


def test_a_cell_line_that_meets_a_closed_terminal_is_in_the_cells_log(tmp_path):
    """`wildgan study ... 2>&1 | head`: the line whose showing met the closed pipe (BrokenPipeError) is in the cell's
    log.txt all the same, before how the cell stopped; the study's log showed it first, and the cell's missed it."""
    def log(msg: str) -> None:
        if msg.startswith("training "):
            raise BrokenPipeError(32, "Broken pipe")

    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    with pytest.raises(BrokenPipeError):
        study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=log)
    lines = (tmp_path / "st" / "runs" / cell[0].key / "log.txt").read_text().splitlines()
    assert lines[0].startswith("training wildgan (tiny)") and lines[-1].startswith("stopped: "), lines


def test_a_row_names_its_networks_and_the_code_that_trained_them(tmp_path):
    # a row held the seed and the data's sha256 but not which torch, wildgan or thread count trained its networks,
    # so two studies' rows of one command on two machines differed by their AUCs alone
    import torch

    from wildgan import __version__

    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    (row,) = study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=lambda m: None)
    final = json.loads((tmp_path / "st" / row["run_dir"] / "network-final.json").read_text())
    assert row["weights_sha256"] == final["sha256"] and len(row["weights_sha256"]) == 64
    assert row["versions"]["wildgan"] == __version__ and row["versions"]["torch"] == torch.__version__
    assert row["intra_op_threads"] == final["intra_op_threads"] == torch.get_num_threads()
    assert json.loads((tmp_path / "st" / "results.jsonl").read_text())["versions"] == row["versions"]
    # and tables.md's header says them beside the seeds, from the rows
    threads = torch.get_num_threads()
    assert f"Seeds: 0. Trained by wildgan {__version__}" in (tmp_path / "st" / "tables.md").read_text()
    assert f", torch {torch.__version__}, on {threads} intra-op thread{'s' if threads > 1 else ''} (each row's " \
        in (tmp_path / "st" / "tables.md").read_text()


def test_the_tables_header_says_the_seeds_versions_and_thread_count_of_the_rows():
    # tables.md's header had no seed list, versions or thread count: two studies' tables of one command on two
    # machines had one header over other AUCs. The line is made from the rows; values the cells differ in are all
    # listed, and rows of an older wildgan (no versions recorded) are counted, not taken for the others' versions
    from wildgan.studies.tables import render_csv, render_markdown

    def made_by(rows):
        (line,) = [ln for ln in render_markdown(rows).splitlines() if ln.startswith("Seeds: ")]
        return line

    assert made_by(FIXED) == "Seeds: 0, 1. Versions and thread count not recorded (rows of an older wildgan)."
    rows = [dict(r, versions={"wildgan": "0.1.0", "wildgan_source": "abc1234", "torch": "2.5.1"}, intra_op_threads=1)
            for r in FIXED]
    assert made_by(rows) == ("Seeds: 0, 1. Trained by wildgan 0.1.0 (source abc1234), torch 2.5.1, on 1 intra-op "
                             "thread (each row's versions and intra_op_threads in results.jsonl).")
    rows[0]["intra_op_threads"] = 2
    rows[2]["versions"] = {"wildgan": "0.1.0", "torch": "2.6.0"}
    del rows[1]["versions"], rows[1]["intra_op_threads"]
    assert made_by(rows) == ("Seeds: 0, 1. Trained by wildgan 0.1.0 / 0.1.0 (source abc1234) (cells differ), torch "
                             "2.5.1 / 2.6.0 (cells differ), on 1 / 2 intra-op threads (cells differ); 1 row records "
                             "neither (an older wildgan's) (each row's versions and intra_op_threads in "
                             "results.jsonl).")
    # tables.csv is made as before: the line is tables.md's alone
    assert render_csv(rows) == render_csv(FIXED)
    # a full 40-digit commit (what checkpoint.source_commit records) is shown as 12 digits, as the data's sha256 is;
    # '+dirty' kept
    full = "0123456789abcdef0123456789abcdef01234567"
    rows = [dict(r, versions={"wildgan": "0.1.0", "wildgan_source": full + "+dirty", "torch": "2.5.1"},
                 intra_op_threads=1) for r in FIXED]
    assert made_by(rows).startswith("Seeds: 0, 1. Trained by wildgan 0.1.0 (source 0123456789ab+dirty), torch "), \
        made_by(rows)


def test_a_cell_evaluated_again_gives_the_same_row_and_tables(tmp_path):
    # the same command gives the same results.jsonl: a row held the session's training time, which differed between
    # the session that trained the cell and one that only evaluated it (its row lost to a kill), or any rerun
    st = tmp_path / "st"
    cell = grid(["0"], [0.1], ["wildgan"], ["image"], [0])
    study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=lambda m: None)
    first = {f: (st / f).read_bytes() for f in ("results.jsonl", "tables.md", "tables.csv")}
    (st / "results.jsonl").unlink()
    study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=lambda m: None)   # evaluated, not trained
    assert {f: (st / f).read_bytes() for f in first} == first


def test_a_row_of_other_scoring_rules_is_evaluated_again(tmp_path, monkeypatch):
    # a row recorded no version of the score formulas (wildgan.__version__ never changes between commits): after a
    # formula changed, a rerun skipped its cell, and the tables pooled its old AUCs with the new cells'. Now the cell
    # is evaluated again (its networks kept), said once; a row of a cell the command does not run is kept, and said
    from wildgan.scoring.scores import SCORES_VERSION

    st = tmp_path / "st"
    cell = grid(["0"], [0.1], ["wildgan"], ["image"], [0])
    study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=lambda m: None)
    results = st / "results.jsonl"
    row = read_rows(results)[0]
    assert "scores_version" not in row and SCORES_VERSION == 1    # version 1: what a row without it is read as
    old = SCORES_VERSION - 1
    other = {**row, "cell": "0_g0.1_wildgan_image_s9", "seed": 9, "scores_version": old}
    results.write_text(json.dumps({**row, "auc": {**row["auc"], "a": 0.123}, "scores_version": old}) + "\n"
                       + json.dumps(other) + "\n")
    monkeypatch.setattr(study_mod, "train_run", lambda *a, **k: pytest.fail("the cell was trained again"))
    said: list[str] = []
    rows = study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=said.append)
    assert [m for m in said if "scoring rules" in m] == [
        f"{results}: 2 rows computed by the scoring rules of version {old} (this wildgan's are {SCORES_VERSION}): 1 "
        f"of these cells are evaluated again; the 1 of cells this command does not run are kept as they are, listed "
        f"apart in the tables, not pooled with the new rows (run the study with those cells to evaluate them again)"]
    assert rows == [other, row]
    # a row from before the field was computed by version 1's rules, this wildgan's: its cell is done
    results.write_text(json.dumps({k: v for k, v in row.items() if k != "scores_version"}) + "\n")
    said.clear()
    study_mod.run_study(study_base(tmp_path), cell, st, progress=False, log=said.append)
    assert said[0].endswith("done, skipped") and not [m for m in said if "scoring rules" in m]


def test_a_row_scored_with_other_settings_is_evaluated_again(tmp_path, monkeypatch):
    # the reviewer's case: a rerun compared only the data/net/train settings, so a rerun scoring with another lambda
    # (another ScoreConfig default, or the Python API's base.score) skipped the finished cells, whose rows kept the
    # old lambda's AUCs, and added new cells at the new one: the tables pooled both without a word
    st = tmp_path / "st"
    results = st / "results.jsonl"
    cell = grid(["0"], [0.1], ["wildgan"], ["image"], [0])
    base = study_base(tmp_path)
    other_lam = replace(base, score=replace(base.score, lam=0.2))
    study_mod.run_study(base, cell, st, progress=False, log=lambda m: None)
    row = read_rows(results)[0]
    assert row["score_settings"] == {"score.lam": 0.05, "score.batch_size": 64, "score.shuffle_seed": 1000,
                                     "score.kappa": 1.0, "score.generator": "Gs"}       # what it was scored with
    other = {**row, "cell": "0_g0.1_wildgan_image_s9", "seed": 9}      # a cell of the folder the command does not run
    results.write_text(json.dumps(row) + "\n" + json.dumps(other) + "\n")
    monkeypatch.setattr(study_mod, "train_run", lambda *a, **k: pytest.fail("the cell was trained again"))
    said: list[str] = []
    rows = study_mod.run_study(other_lam, cell, st, progress=False, log=said.append)
    assert [m for m in said if "other settings" in m] == [
        f"{results}: 2 rows scored with other settings than this command's (score.lam: 0.05 -> 0.2): 1 of these "
        f"cells are evaluated again; the 1 of cells this command does not run are kept as they are, listed apart "
        f"in the tables, not pooled with the new rows (run the study with those cells to evaluate them again)"]
    assert rows[0] == other and rows[1]["score_settings"]["score.lam"] == 0.2
    # evaluated with the new lambda, which the cell's run (scored by its config.json, as evaluate and report do)
    # now holds, and says so in its log
    run = st / "runs" / cell[0].key
    assert json.loads((run / "eval.json").read_text())["score_config"]["lam"] == 0.2
    assert read_run_config(run).score.lam == 0.2
    assert "evaluated with this command's score settings (score.lam: 0.05 -> 0.2)" in (run / "log.txt").read_text()
    said.clear()
    study_mod.run_study(other_lam, cell, st, progress=False, log=said.append)        # scored as asked: done
    assert said[1].endswith("done, skipped")

    # a row from before the field: scored with what its cell's config.json says, else with the defaults (a cell
    # without its run folder); neither is taken for this command's settings
    results.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "score_settings"}) + "\n"
                               for r in (other, rows[1])))
    said.clear()
    study_mod.run_study(other_lam, cell, st, progress=False, log=said.append)
    assert [m for m in said if "other settings" in m] == [
        f"{results}: 1 row scored with other settings than this command's (score.lam: 0.05 -> 0.2): the 1 of cells "
        f"this command does not run are kept as they are, listed apart in the tables, not pooled with the new rows "
        f"(run the study with those cells to evaluate them again)"] and said[-1].endswith("done, skipped")
    results.write_text(json.dumps({k: v for k, v in rows[1].items() if k != "score_settings"}) + "\n")
    said.clear()
    study_mod.run_study(base, cell, st, progress=False, log=said.append)
    assert [m for m in said if "other settings" in m] == [
        f"{results}: 1 row scored with other settings than this command's (score.lam: 0.2 -> 0.05): 1 of these cells "
        f"are evaluated again"]
    assert read_rows(results)[0]["score_settings"]["score.lam"] == 0.05 and read_run_config(run).score.lam == 0.05


def test_rows_of_cells_the_command_does_not_run_scored_otherwise_are_not_pooled_in_the_tables(tmp_path,
                                                                                              monkeypatch):
    # the reviewer's case: a study run with seeds 0,1, then with seed 0 only and another lambda; seed 1's row keeps
    # the old lambda's AUCs (its cell is not run), and tables.md / tables.csv / the plot pooled it with seed 0's new
    # row as one mean over two seeds, which only the log said. Now the tables pool the command's rows only, list the
    # other apart with what differs, and tables.csv marks it
    from wildgan.evaluation import plots

    st = tmp_path / "st"
    base = study_base(tmp_path)
    study_mod.run_study(base, grid(["0"], [0.1], ["wildgan"], ["image"], [0, 1]), st, progress=False,
                        log=lambda m: None)
    curves = []
    monkeypatch.setattr(plots, "auc_vs_gamma", lambda path, c, **kw: curves.append(c))
    rows = study_mod.run_study(replace(base, score=replace(base.score, lam=0.2)),
                               grid(["0"], [0.1], ["wildgan"], ["image"], [0]), st, progress=False, log=lambda m: None)
    s0, s1 = sorted(rows, key=lambda r: r["seed"])
    assert (s0["score_settings"]["score.lam"], s1["score_settings"]["score.lam"]) == (0.2, 0.05)
    md = (st / "tables.md").read_text()
    assert "Cells: 1." in md and "**1 row is left out of these tables**" in md
    assert f"| d_I (image) | {s0['auc']['A']:.3f} |" in md           # seed 0's alone, no mean over the two seeds
    # (the cell's name escaped: it holds the normal class, a user's folder name)
    from wildgan.markdown import md_escape

    assert md.endswith(f"| {md_escape(s1['cell'])} | wildgan | 0.1 | 1 | {s1['auc']['a']:.3f} (a) | score.lam: 0.05 -> "
                       f"0.2 |\n")
    marks = {(ln.split(",")[5], ln.rsplit(",", 1)[1]) for ln in (st / "tables.csv").read_text().splitlines()[1:]}
    assert marks == {("0", ""), ("1", "score.lam: 0.05 -> 0.2")}
    assert [pts for label, pts in curves[-1].items() if label == "Ours d_I (a)"] == [
        [(0.1, pytest.approx(s0["auc"]["a"]), 0.0)]]
    # run with both seeds again at that lambda: seed 1 is evaluated again, and both are pooled
    study_mod.run_study(replace(base, score=replace(base.score, lam=0.2)),
                        grid(["0"], [0.1], ["wildgan"], ["image"], [0, 1]), st, progress=False, log=lambda m: None)
    md = (st / "tables.md").read_text()
    assert "Cells: 2." in md and "left out" not in md


def _one_cell_study(tmp_path: Path) -> tuple[Path, Path, list, Any]:
    """A study of one cell, run: its folder, results.jsonl, the cell and the base config."""
    st = tmp_path / "st"
    cell = grid(["0"], [0.1], ["wildgan"], ["image"], [0])
    base = study_base(tmp_path)
    study_mod.run_study(base, cell, st, progress=False, log=lambda m: None)
    return st, st / "results.jsonl", cell, base


def test_a_row_of_other_settings_whose_run_folder_is_gone_says_its_cell_is_trained_again(tmp_path, monkeypatch):
    # a study whose runs/ were deleted to save space (results.jsonl kept): a row of other score settings cannot be
    # evaluated again, its networks being gone, so its cell is trained from the start; the log said only "evaluated
    # again", as if that were cheap
    import shutil

    st, results, cell, base = _one_cell_study(tmp_path)
    shutil.rmtree(st / "runs" / cell[0].key)
    trained = []
    real = study_mod.train_run
    monkeypatch.setattr(study_mod, "train_run", lambda *a, **k: trained.append(1) or real(*a, **k))
    said: list[str] = []
    study_mod.run_study(replace(base, score=replace(base.score, lam=0.2)), cell, st, progress=False, log=said.append)
    assert trained == [1] and [m for m in said if "other settings" in m] == [
        f"{results}: 1 row scored with other settings than this command's (score.lam: 0.05 -> 0.2): 1 of these "
        f"cells are evaluated again (1 trained again first: its run folder is gone)"]


def test_a_session_that_only_evaluates_uses_the_threads_asked_for(tmp_path, monkeypatch):
    # --threads reached torch only through a cell's training: a session whose cells were all trained (their rows
    # lost to a kill) evaluated them at torch's default thread count
    from dataclasses import replace

    import torch

    st = tmp_path / "st"
    cell = grid(["0"], [0.1], ["wildgan"], ["image"], [0])
    base = study_base(tmp_path)
    base = replace(base, train=replace(base.train, threads=1))
    study_mod.run_study(base, cell, st, progress=False, log=lambda m: None)
    (st / "results.jsonl").unlink()
    asked = []
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    monkeypatch.setattr(study_mod, "train_run", lambda *a, **k: pytest.fail("the cell was trained again"))
    study_mod.run_study(base, cell, st, progress=False, log=lambda m: None)      # evaluated only
    assert asked and set(asked) == {1}


def test_study_resumes_without_redoing_finished_cells(tmp_path, monkeypatch):
    base = study_base(tmp_path)
    cells = grid(["0"], [0.0, 0.1], ["wildgan"], ["image"], [0])
    calls = []
    real = study_mod.train_run

    def counting(cfg, run_dir, **kw):
        calls.append(run_dir.name)
        if len(calls) == 2 and not kw.get("resume"):
            raise KeyboardInterrupt                      # the study is killed during the second cell
        return real(cfg, run_dir, **kw)

    monkeypatch.setattr(study_mod, "train_run", counting)
    with pytest.raises(TrainingInterrupted):
        study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    assert len(read_rows(tmp_path / "st" / "results.jsonl")) == 1
    rows = study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    assert calls == [cells[0].key, cells[1].key, cells[1].key]   # first cell not trained again
    assert [r["cell"] for r in rows] == [c.key for c in cells]
    assert rows[1]["n_train_anomalous"] == 3     # 32 normal training images (20% held out): floor(0.1*32/0.9)
    # each cell's folder has its log.txt, like a `wildgan train` run
    assert (tmp_path / "st" / "runs" / cells[0].key / "log.txt").read_text().startswith("training wildgan")
    assert (tmp_path / "st" / "tables.md").read_text().startswith("# Study results")
    assert (tmp_path / "st" / "auc_vs_gamma.png").stat().st_size > 1000
    # a third run does nothing but re-render
    study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    assert len(calls) == 3
    # the same folder with another length: refused before anything runs, never the old cells passed off as new
    before = (tmp_path / "st" / "results.jsonl").read_bytes()
    longer = replace(base, train=replace(base.train, total_kimg=0.2))
    # (run_study's own folder parameter: a Python caller never typed the command's --out)
    with pytest.raises(ConfigError, match=r"other settings \(train.total_kimg: 0.1 -> 0.2\).*another study_dir"):
        study_mod.run_study(longer, cells, tmp_path / "st", progress=False, log=lambda m: None)
    wider = replace(base, net=replace(base.net, latent_size=base.net.latent_size * 2))
    with pytest.raises(ConfigError, match="net.latent_size"):
        study_mod.run_study(wider, cells, tmp_path / "st", progress=False, log=lambda m: None)
    # a new cell (another seed) with other settings: refused too, since the tables pool it with the folder's cells
    with pytest.raises(ConfigError, match=r"holds cell 0_g0\S*_wildgan_image_s0 trained with other settings "
                                          r"\(train.lr"):
        study_mod.run_study(replace(base, train=replace(base.train, lr=0.002)),
                            grid(["0"], [0.0], ["wildgan"], ["image"], [1]), tmp_path / "st", progress=False,
                            log=lambda m: None)
    assert (tmp_path / "st" / "results.jsonl").read_bytes() == before and len(calls) == 3
    # what does not change results may differ: the cells are reused
    study_mod.run_study(replace(base, train=replace(base.train, log_every=7, keep_checkpoints=1)), cells,
                        tmp_path / "st", progress=False, log=lambda m: None)
    assert len(calls) == 3


def test_a_stopped_cell_says_how_the_study_continues(tmp_path, monkeypatch):
    # train's advice, "continue with --resume" (now `wildgan train --out CELL --resume`), is not how a study goes on:
    # it was printed and logged anyway
    from wildgan.errors import TrainingInterrupted, resume_advice

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True)
        raise TrainingInterrupted(f"interrupted by SIGINT (Ctrl-C) at 0.050 of 0.1 kimg; checkpoint saved in "
                                  f"{run_dir / 'checkpoints'}", 2, checkpoint_dir=str(run_dir / "checkpoints"),
                                  resume_advice=resume_advice(run_dir))

    monkeypatch.setattr(study_mod, "train_run", stopped)
    said = []
    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    with pytest.raises(TrainingInterrupted) as e:
        study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=said.append)
    logged = (tmp_path / "st" / "runs" / cell[0].key / "log.txt").read_text()
    # a Python caller (run_study) is told to call run_study again: it never typed a `wildgan study` command
    again = "to continue, call run_study again with the same base, cells and study_dir (finished cells are kept, " \
            "this one continues)"
    for text in (str(e.value), logged):
        assert "--resume" not in text and again in text and "wildgan study" not in text, text
    assert e.value.resume_advice == again and str(e.value) == f"{e.value.without_advice}; {again}"
    assert e.value.signum == 2
    # said by the error raised, once: the study's log did not show it too (on the terminal, the same words twice)
    assert not any("stopped" in m for m in said), said


def test_a_study_stopped_outside_trainings_loop_says_how_to_continue_in_the_callers_words(tmp_path, monkeypatch,
                                                                                            capsys):
    # a Ctrl-C while a cell's data was read (outside training's own loop) told a Python caller of run_study to "run
    # the same `wildgan study` command again", a command it never typed; the CLI's user is still told so
    from wildgan.cli import main

    def ctrl_c(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(study_mod, "train_run", ctrl_c)
    base = study_base(tmp_path)
    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    with pytest.raises(TrainingInterrupted) as e:
        study_mod.run_study(base, cell, tmp_path / "api", progress=False, log=lambda m: None)
    api = "to continue, call run_study again with the same base, cells and study_dir (finished cells are kept, " \
          "this one continues)"
    assert str(e.value) == f"interrupted by SIGINT (Ctrl-C) while cell {cell[0].key} was trained; {api}"
    assert e.value.resume_advice == api and e.value.without_advice == \
        f"interrupted by SIGINT (Ctrl-C) while cell {cell[0].key} was trained"
    assert main(["study", "--data", base.data.data, "--normal", "0", "--contamination", "0", *_TINY_STUDY,
                 "--out", str(tmp_path / "cli")]) == 130
    err = capsys.readouterr().err
    assert "was trained; to continue, run the same `wildgan study` command again (finished cells are kept, this one " \
           "continues)" in err and "run_study" not in err, err


def _refused_on_trained_networks(cfg, run_dir: Path, **kw) -> None:
    """In place of train_run: its own refusal of a resume that would start over on top of trained networks."""
    import wildgan.training.run as run_mod

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "network-final.json").write_text("{}")
    run_mod._refuse_resume_without_checkpoints(run_dir)


@pytest.mark.parametrize("cli", [False, True])
def test_a_refused_cell_s_way_on_is_the_study_s_in_either_words(tmp_path, monkeypatch, cli):
    # the study took train_run's "or start again with --overwrite (or another --out)" off the refusal's text by
    # matching those words (str.replace), which broke on any rewording: now the refusal keeps its advice to start
    # over apart (ConfigError.start_again), and the study sets its own there, in a command or a Python call
    import pickle
    from contextlib import nullcontext

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    monkeypatch.setattr(study_mod, "train_run", _refused_on_trained_networks)
    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    run_dir = tmp_path / "st" / "runs" / cell[0].key
    with skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext():
        with pytest.raises(ConfigError) as own:
            _refused_on_trained_networks(None, tmp_path / "own")
        with pytest.raises(ConfigError) as e:
            study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=lambda m: None)
    assert own.value.start_again == ("or start again with --overwrite (or another --out)" if cli else
                                     "or start again with overwrite=True (or another run_dir)"), own.value
    again = f"or delete {run_dir} to train this cell again"
    assert e.value.start_again == again and str(e.value) == f"{e.value.message}{again}", e.value
    assert e.value.message.endswith("restore its checkpoints/ folder, ") and "overwrite" not in str(e.value)
    back = pickle.loads(pickle.dumps(e.value))
    assert (str(back), back.message, back.start_again, back.then) == (str(e.value), e.value.message, again, "")
    # advice in the middle of a refusal keeps what follows it; a refusal without one is left as it is
    mid = ConfigError("restore them, ", start_again="or start again with --overwrite", then=": the data moved")
    assert str(mid.with_start_again("or delete R")) == "restore them, or delete R: the data moved"
    plain = ConfigError("bad value")
    assert plain.with_start_again("or delete R") is plain and plain.start_again is None
    # a refusal of a setting's value keeps what names that setting (the CLI names the flag from it), and one of
    # settings that cannot go together its settings: they were dropped, the advice alone carried over
    one = ConfigError("train.total_kimg must be a positive number, got 0, ", start_again="or start again", then=".",
                      setting="train.total_kimg", flag="--total-kimg", problem="must be a positive number", value=0)
    got = one.with_start_again("or delete R")
    assert (str(got), got.setting, got.flag, got.problem, got.value, got.settings) == (
        "train.total_kimg must be a positive number, got 0, or delete R.", "train.total_kimg", "--total-kimg",
        "must be a positive number", 0, ())
    pair = (("--a", "x.a", "1", 1), ("--b", "x.b", "2", 2))
    both = ConfigError("{0} and {1} do not go together, ", start_again="or start again", problem="{0} and {1}",
                       settings=pair).with_start_again("or delete R")
    assert (both.settings, both.problem, both.setting) == (pair, "{0} and {1}", None)


def test_a_refused_cell_says_how_the_study_trains_it_again(tmp_path, monkeypatch):
    # train_run's way on, "start again with overwrite=True" (a study's Python caller: train_run's words since they
    # name its keyword, not --overwrite), does not exist for a study's cell, whose folder is the study's: replaced

    monkeypatch.setattr(study_mod, "train_run", _refused_on_trained_networks)
    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    with pytest.raises(ConfigError) as e:
        study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=lambda m: None)
    run_dir = tmp_path / "st" / "runs" / cell[0].key
    assert str(e.value).endswith(f"or delete {run_dir} to train this cell again"), e.value
    assert "overwrite" not in str(e.value) and "another" not in str(e.value), e.value


@pytest.mark.parametrize("cli", [False, True])
def test_a_cell_folder_holding_a_run_without_its_config_is_refused_in_the_study_s_words(tmp_path, cli):
    # train_run's refusal of a folder that holds a run had no start_again: a study's cell whose folder held a run's
    # files but no config.json (so the study does not resume it) was told "use resume=True to continue it,
    # overwrite=True to delete it and start again, or another run_dir", none of them a study's
    from contextlib import nullcontext

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    run_dir = tmp_path / "st" / "runs" / cell[0].key
    run_dir.mkdir(parents=True)
    (run_dir / "stats.jsonl").write_text('{"kimg": 0.01}\n')
    with skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext(), pytest.raises(ConfigError) as e:
        study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=lambda m: None)
    again = f"or delete {run_dir} to train this cell again"
    assert e.value.start_again == again, e.value
    assert str(e.value) == f"{run_dir} already holds a run (stats.jsonl) without its config.json, which continuing " \
                           f"it needs: restore config.json from a copy of the run to continue it, {again}", e.value
    assert not any(w in str(e.value) for w in ("resume", "overwrite", "another", "--")), e.value


def test_a_study_stopped_in_a_cell_says_so_once_in_its_log(tmp_path, monkeypatch):
    # the cell's stop was written to the study's log.txt by the cell, then again by the command: two identical lines
    # per Ctrl-C, which read as two stops in a log that marks its sessions by nothing else
    from wildgan.cli import main
    from wildgan.errors import TrainingInterrupted, resume_advice

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        raise TrainingInterrupted(f"terminated by SIGTERM at 0.050 of 0.1 kimg; checkpoint saved in "
                                  f"{run_dir / 'checkpoints'}", 15, checkpoint_dir=str(run_dir / "checkpoints"),
                                  resume_advice=resume_advice(run_dir))

    monkeypatch.setattr(study_mod, "train_run", stopped)
    data = study_base(tmp_path).data.data
    st = tmp_path / "st"
    assert main(["study", "--data", data, "--normal", "0", "--contamination", "0", *_TINY_STUDY,
                 "--out", str(st)]) == 128 + 15
    lines = (st / "log.txt").read_text().splitlines()
    assert len([x for x in lines if x.startswith("stopped: terminated by SIGTERM")]) == 1, lines


def test_a_cell_stopped_while_it_was_evaluated_says_so_in_its_own_log(tmp_path, monkeypatch):
    # a kill while a cell was scored was said in the study's log.txt only: the cell's own log ended at "f-AnoGAN done"
    # (or its training lines), as if that session had ended well, and the next one evaluated it without a word
    from wildgan.cli import main

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(study_mod, "evaluate_run", killed)
    data = study_base(tmp_path).data.data
    st = tmp_path / "st"
    assert main(["study", "--data", data, "--normal", "0", "--contamination", "0", *_TINY_STUDY,
                 "--out", str(st)]) == 130
    cell = st / "runs" / "0_g0_wildgan_image_s0"
    assert (cell / "network-final.json").is_file()
    said = ("stopped: interrupted by SIGINT (Ctrl-C) while cell 0_g0_wildgan_image_s0 was evaluated; to continue, "
            "run the same `wildgan study` command again (finished cells are kept, this one is evaluated)")
    assert (cell / "log.txt").read_text().splitlines()[-1] == said
    study_lines = (st / "log.txt").read_text().splitlines()
    assert study_lines.count(said) == 1, study_lines


def test_a_cell_stopped_as_its_training_ended_says_so_in_the_study_s_terms(tmp_path, monkeypatch):
    """A stop as a cell's training ended (its final networks saved: TrainingInterrupted.complete) was re-raised by the
    study without `complete` or `where`, and said that train's training scores and --evaluate were not run: in a
    study what was left undone is the cell's evaluation, which the same command then does."""
    from wildgan.errors import TrainingInterrupted

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True)
        # (the words of training.loop's stop at the end)
        raise TrainingInterrupted("terminated by SIGTERM as training ended at 0.100 kimg; the training is complete "
                                  f"and its networks are saved ({run_dir / 'network-final.json'})", 15,
                                  where="as training ended at 0.100 kimg", checkpoint_dir=str(run_dir / "checkpoints"),
                                  complete=True, not_run="the training scores, --evaluate")

    monkeypatch.setattr(study_mod, "train_run", stopped)
    cell = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    with pytest.raises(TrainingInterrupted) as e:
        study_mod.run_study(study_base(tmp_path), cell, tmp_path / "st", progress=False, log=lambda m: None)
    assert e.value.complete and e.value.signum == 15 and e.value.where == "as training ended at 0.100 kimg"
    assert e.value.checkpoint_dir == str(tmp_path / "st" / "runs" / cell[0].key / "checkpoints")
    assert "--evaluate" not in str(e.value) and "training scores" not in str(e.value)
    assert str(e.value).endswith("(the cell's evaluation) was not run; to continue, call run_study again with the "
                                 "same base, cells and study_dir (finished cells are kept, this one is evaluated)")
    assert e.value.not_run == "the cell's evaluation"


def test_tables_follow_the_rows_of_a_study_stopped_partway(tmp_path, monkeypatch):
    # a finished study extended by another gamma and stopped during its second new cell: tables.md and the plot
    # must count the new cell whose row was written, not stay the finished study's (the report shows tables.md)
    base = study_base(tmp_path)
    st = tmp_path / "st"
    study_mod.run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), st, progress=False,
                        log=lambda m: None)
    assert "Cells: 1." in (st / "tables.md").read_text()
    real = study_mod.train_run
    calls = []

    def stopping(cfg, run_dir, **kw):
        calls.append(run_dir.name)
        if len(calls) == 2:
            raise KeyboardInterrupt                      # the study is stopped during the second new cell
        return real(cfg, run_dir, **kw)

    monkeypatch.setattr(study_mod, "train_run", stopping)
    with pytest.raises(TrainingInterrupted):
        study_mod.run_study(base, grid(["0"], [0.0, 0.1], ["wildgan"], ["image"], [0, 1]), st, progress=False,
                            log=lambda m: None)
    rows = read_rows(st / "results.jsonl")
    assert len(rows) == 2
    # each row records the set-up the paper's numbers are compared with (tables.PAPER_CIFAR_SETUP)
    assert (rows[1]["resolution"], rows[1]["channels"], rows[1]["test_size"]) == (8, 1, "paper")
    tables = (st / "tables.md").read_text()
    assert tables == render_markdown(rows) and "Cells: 2." in tables
    assert (st / "tables.csv").read_text().splitlines() == render_csv(rows).splitlines()


def test_one_study_process_per_folder(tmp_path):
    from wildgan.training.run import run_lock

    base = study_base(tmp_path)
    cells = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    (tmp_path / "st").mkdir()
    with run_lock(tmp_path / "st"):                  # another `wildgan study` into the same folder is running
        with pytest.raises(ConfigError, match="in use by another wildgan process"):
            study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    assert not (tmp_path / "st" / "runs").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        study_mod.run_study(base, cells, tmp_path / "afile" / "st", progress=False, log=lambda m: None)


def test_study_refuses_its_out_before_it_reads_the_data(tmp_path, capsys, monkeypatch):
    """What --out alone refuses (a file on its path, a folder inside the data) is said before the images are decoded
    (minutes for a large folder, wasted by a refusal after it), and nothing is written: the study folder inside the
    data used to be made (log.txt, lock) before its first cell was refused, and then read as a class folder."""
    import wildgan.data
    from wildgan.cli import main

    tree = tmp_path / "tree"
    for c in ("a", "b"):
        (tree / c).mkdir(parents=True)
        (tree / c / "0.png").write_bytes(b"never decoded here")
    (tmp_path / "afile").write_text("x")

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    before = files()
    monkeypatch.setattr(wildgan.data, "load_split_data", lambda *a, **k: pytest.fail("the data was read first"))
    for out, message in ((tmp_path / "afile" / "st", "afile is a file; give a folder for the study"),
                         (tree / "st", f"--out {tree / 'st'} is inside the data folder {tree}"),
                         (tree, f"--out {tree} is inside the data folder {tree}")):
        assert main(["study", "--data", str(tree), "--normal", "a", "--out", str(out), "--no-progress"]) == 2
        assert message in capsys.readouterr().err
    assert files() == before
    # a study an older wildgan wrote there goes on (its started cells resume, as a run there may)
    (tree / "st" / "runs" / "a_g0_wildgan_image_s0").mkdir(parents=True)
    (tree / "st" / "runs" / "a_g0_wildgan_image_s0" / "config.json").write_text("{}")
    study_mod.check_study_out_dir(tree / "st", str(tree))


def test_study_refuses_a_folder_in_use_before_it_reads_the_data(tmp_path, capsys, monkeypatch):
    """A second `wildgan study --out S` while another study process runs there was refused only at the study's lock,
    after it had decoded the data (minutes for a large folder); now at once, with the lock's own message. A free
    folder goes on to the data."""
    import os

    import wildgan.data
    from wildgan.cli import main
    from wildgan.training.run import run_lock

    tree = tmp_path / "tree"
    for c in ("a", "b"):
        (tree / c).mkdir(parents=True)
        (tree / c / "0.png").write_bytes(b"never decoded here")
    st = tmp_path / "st"
    st.mkdir()
    args = ["study", "--data", str(tree), "--normal", "a", "--out", str(st), "--no-progress"]
    monkeypatch.setattr(wildgan.data, "load_split_data", lambda *a, **k: pytest.fail("the data was read first"))
    with run_lock(st):
        assert main(args) == 2
    assert f"{st} is in use by another wildgan process (pid {os.getpid()} on " in capsys.readouterr().err

    def said(*a, **k):
        raise ConfigError("reached the data")

    monkeypatch.setattr(wildgan.data, "load_split_data", said)
    assert main(args) == 2
    assert "reached the data" in capsys.readouterr().err


def test_resume_names_each_setting_that_differs(tmp_path):
    base = study_base(tmp_path)
    train_run(base, tmp_path / "run", progress=False, log=lambda m: None)
    changed = replace(base, train=replace(base.train, phase_kimg=0.04, total_kimg=0.3),
                      data=replace(base.data, contamination=0.05))
    with pytest.raises(ConfigError) as e:
        check_run_dir(changed, tmp_path / "run", resume=True)
    msg = str(e.value)
    assert "data.contamination: 0.0 -> 0.05" in msg and "train.phase_kimg: 0.02 -> 0.04" in msg
    # a resume may lengthen the run: not a difference (the advice names train.total_kimg as what may change)
    assert "train.total_kimg:" not in msg, msg
    check_run_dir(replace(base, train=replace(base.train, total_kimg=0.3)), tmp_path / "run", resume=True)


def test_torn_last_line_is_ignored(tmp_path):
    p = tmp_path / "results.jsonl"
    p.write_text(json.dumps(FIXED[0]) + "\n" + '{"cell": "x", "au')
    assert [r["cell"] for r in read_rows(p)] == [FIXED[0]["cell"]]
    # the redone cell's row, appended next, starts on a line of its own (before: glued to the torn bytes, lost)
    study_mod._drop_torn_line(p)
    with open(p, "a", encoding="utf-8") as f:
        f.write(json.dumps(FIXED[1]) + "\n")
    assert [r["cell"] for r in read_rows(p)] == [FIXED[0]["cell"], FIXED[1]["cell"]]
    study_mod._drop_torn_line(p)                               # a whole file is left as it is
    assert len(read_rows(p)) == 2


def test_lines_that_are_no_rows_are_named_and_left_out_of_the_tables(tmp_path):
    # a hand-edited results.jsonl (a line that is not JSON, a row without its normal class, one whose gamma is text,
    # a list): the tables writer stopped with a bare KeyError. Now each is named in one warning (file, line, what)
    # and left out; a torn last line (a study killed mid-write) is still left out without a word
    import warnings

    p = tmp_path / "results.jsonl"
    lines = [json.dumps(FIXED[0]), "not json", json.dumps({k: v for k, v in FIXED[1].items() if k != "normal"}),
             json.dumps({**FIXED[2], "gamma": "abc"}), "[1]", json.dumps(FIXED[3]), '{"cell": "x", "au']
    p.write_text("\n".join(lines))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        rows = read_rows(p)
        study_mod.write_tables(tmp_path, rows)
    assert [str(w.message) for w in said] == [
        f"{p}: 4 lines left out of the study's tables, not result rows a study writes: line 2 (not JSON: Expecting "
        f"value (column 1)), line 3 (no normal), line 4 (gamma is \"abc\", not a number), line 5 (a list, not a JSON "
        f"object). A study run with their cells evaluates those cells again (the lines are kept as they are): fix or "
        f"delete the lines to stop this warning"]
    assert rows == [FIXED[0], FIXED[3]] and "Cells: 2." in (tmp_path / "tables.md").read_text()
    assert len((tmp_path / "tables.csv").read_text().splitlines()) == 1 + 2 * 8
    # a seed that is no whole number, an AUC that is text, a row without its controls: no rows either
    bad = [{**FIXED[0], "seed": 1.5}, {**FIXED[0], "auc": {**FIXED[0]["auc"], "a": "0.7"}},
           {k: v for k, v in FIXED[0].items() if k != "controls"}]
    p.write_text("".join(json.dumps(r) + "\n" for r in bad))
    with pytest.warns(UserWarning, match=r"line 1 \(seed is 1.5, not a whole number\), line 2 \(auc.a is \"0.7\", "
                                         r"not a number or null\), line 3 \(no controls\)"):
        assert read_rows(p) == []


def test_a_rerun_evaluates_again_a_cell_whose_row_is_no_row(tmp_path, monkeypatch):
    # a row without its normal class (edited by hand) stopped the re-run with a KeyError; now its cell is evaluated
    # again (its networks kept), and the lines that are no rows are said once and kept as they are, also when the
    # file is rewritten for rows scored otherwise (which dropped them without a word)
    import warnings

    st, results, cell, base = _one_cell_study(tmp_path)
    row = read_rows(results)[0]
    damaged = json.dumps({k: v for k, v in row.items() if k != "normal"})
    results.write_text(damaged + "\nnot json\n")
    monkeypatch.setattr(study_mod, "train_run", lambda *a, **k: pytest.fail("the cell was trained again"))
    events: list[str] = []
    monkeypatch.setattr(study_mod, "load_split_data", lambda *a, real=study_mod.load_split_data, **k:
                        events.append("load_split_data") or real(*a, **k))

    def rerun(cfg):
        events.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda msg, *a, **k: events.append(str(msg))
            rows = study_mod.run_study(cfg, cell, st, progress=False, log=lambda m: None)
        return rows, [e for e in events if str(results) in e]

    rows, said = rerun(base)
    assert rows == [row] and len(said) == 1 and "line 1 (no normal), line 2 (not JSON" in said[0]
    assert events.index(said[0]) < events.index("load_split_data")     # (by check_cells: before it reads the data)
    assert results.read_text().splitlines() == [damaged, "not json", json.dumps(row)]
    assert "Cells: 1." in (st / "tables.md").read_text()
    rows, said = rerun(replace(base, score=replace(base.score, lam=0.2)))       # the row is evaluated again
    assert [r["score_settings"]["score.lam"] for r in rows] == [0.2] and len(said) == 1
    assert results.read_text().splitlines()[:2] == [damaged, "not json"]


def test_wildgan_study_names_the_lines_that_are_no_rows_once_before_it_reads_the_data(tmp_path, tiny_npz, monkeypatch):
    # `wildgan study` named a bad line of its results.jsonl only after it had decoded the data (minutes for a large
    # folder) and checked every cell: now before the data is read, and once in the command (its later reads, the
    # tables written after the cell among them, say nothing)
    import warnings

    import wildgan.data
    from wildgan.cli import main

    st = tmp_path / "st"
    st.mkdir()
    (st / "results.jsonl").write_text("not json\n")
    events: list[str] = []
    for mod, name in ((wildgan.data, "load_split_data"), (study_mod, "train_run")):
        monkeypatch.setattr(mod, name, lambda *a, real=getattr(mod, name), name=name, **k: events.append(name)
                            or real(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda msg, *a, **k: events.append(str(msg))
        assert main(["study", "--data", str(tiny_npz), "--normal", "0", "--contamination", "0", "--preset", "tiny",
                     "--total-kimg", "0.05", "--threads", "1", "--no-progress", "--out", str(st)]) == 0
    said = [e for e in events if "left out" in e]
    assert said == [f"{st / 'results.jsonl'}: 1 line left out of the study's tables, not a result row a study writes: "
                    f"line 1 (not JSON: Expecting value (column 1)). A study run with its cell evaluates that cell "
                    f"again (the line is kept as it is): fix or delete the line to stop this warning"]
    assert events.index(said[0]) < events.index("load_split_data") < events.index("train_run"), events
    assert len(read_rows(st / "results.jsonl", warn=False)) == 1


def test_fanogan_iters_that_are_not_two_whole_numbers_make_no_row(tmp_path):
    # fanogan_iters was only checked to be a list: one holding text (edited by hand), or three numbers, stopped the
    # tables writer with a TypeError or ValueError. Now such a row is named and left out, as one of another type is
    p = tmp_path / "results.jsonl"
    good = {**FIXED[4], "fanogan_iters": [60, 30]}
    bad = [{**FIXED[5], "fanogan_iters": ["x", 30]}, {**FIXED[5], "seed": 1, "fanogan_iters": [60, 30, 1]}]
    p.write_text("".join(json.dumps(r) + "\n" for r in [good, *bad]))
    unknown = {**FIXED[5], "seed": 2, "fanogan_iters": [None, None]}        # (as a study writes an uncounted one)
    p.write_text("".join(json.dumps(r) + "\n" for r in [good, *bad, unknown]))
    with pytest.warns(UserWarning, match=r"line 2 \(fanogan_iters is \[\"x\", 30\], not two whole numbers \(or two "
                                         r"nulls\)\), line 3 \(fanogan_iters is \[60, 30, 1\], not two whole numbers"):
        rows = read_rows(p)
    assert rows == [good, unknown]
    rows = [good]
    study_mod.write_tables(tmp_path, rows)
    assert ("Training: f-AnoGAN, DIM not recorded, 60 critic + 30 encoder iterations per cell."
            in (tmp_path / "tables.md").read_text())


def test_a_last_row_without_its_newline_is_kept(tmp_path):
    # read_rows counts a whole row without its newline as done; the next append cut it, so its cell was in no table
    p = tmp_path / "results.jsonl"
    p.write_text(json.dumps(FIXED[0]) + "\n" + json.dumps(FIXED[1]))
    study_mod._drop_torn_line(p)
    with open(p, "a", encoding="utf-8") as f:
        f.write(json.dumps(FIXED[2]) + "\n")
    assert [r["cell"] for r in read_rows(p)] == [r["cell"] for r in FIXED[:3]]


def test_cell_config_sets_the_cell(tmp_path):
    base = study_base(tmp_path)
    c = grid(["0"], [0.05], ["search"], ["image"], [7])[0]
    cfg = study_mod.cell_config(base, c)
    assert cfg.method == "search" and cfg.train.encoder_loss == "none" and cfg.train.seed == 7
    assert cfg.data.contamination == 0.05 and cfg.data.seed == 7 and cfg.data.normal == ("0",)
    assert replace(cfg, method="wildgan", train=replace(cfg.train, encoder_loss="image")).method == "wildgan"
    # (not with the search's encoder loss, none: a wildgan run scores with the E that none leaves untrained)
    # (refused where a study's cells are checked, before any trains: a RunConfig of it is built to read an earlier
    # wildgan's runs)
    with pytest.raises(ConfigError, match="train.encoder_loss must be image"):
        study_mod.refuse_untrained_encoder(replace(cfg, method="wildgan"))


def test_cell_config_keeps_d_i_in_g_s_loss_for_the_wildgan_cells_only(tmp_path):
    # a base built in Python with train.g_image_loss: the wildgan cells train with it, the baselines (which train no
    # pGAN encoder) with 0, as `wildgan train --method search|fanogan` sets it; a search cell was refused for
    # "train.encoder_loss='none'", a value the user never gave
    base = study_base(tmp_path)
    base = replace(base, train=replace(base.train, g_image_loss=0.5))
    by_method = {c.method: study_mod.cell_config(base, c)
                 for c in grid(["0"], [0.0], ["wildgan", "fanogan", "search"], ["image"], [0])}
    assert {m: c.train.g_image_loss for m, c in by_method.items()} == {"wildgan": 0.5, "fanogan": 0.0, "search": 0.0}
    with pytest.raises(ConfigError, match="not train.encoder_loss='latent'"):
        study_mod.cell_config(base, grid(["0"], [0.0], ["wildgan"], ["latent"], [0])[0])


def test_tables_say_what_data_and_how_long_each_method_trained():
    # a 366-car subset detected as CIFAR_CAR must not read as the paper's 5000/2000 set-up, and f-AnoGAN's length is
    # in iterations, not kimg
    from wildgan.studies.tables import render_markdown

    rows = [dict(r, data="/d/cifar10-lossless-subset.npz", n_train=366 + (19 if r["gamma"] else 0),
                 n_train_anomalous=19 if r["gamma"] else 0, n_test=178, n_anomalous=89) for r in FIXED]
    for r in rows:
        if r["method"] == "fanogan":
            r["fanogan_iters"] = [60, 60]
    md = render_markdown(rows)
    assert "Source: /d/cifar10-lossless-subset.npz." in md
    assert "γ = 0: 366 training images (0 anomalous), 178 test (89 anomalous)" in md
    assert "γ = 0.02: 385 training images (19 anomalous)" in md
    assert ("Training: ? preset, 100 kimg per cell" in md
            and "f-AnoGAN: DIM not recorded, 60 critic + 60 encoder iterations per cell" in md)


def test_tables_say_how_many_search_steps_the_search_cells_scored_with():
    # the training line named f-AnoGAN's iterations but not the latent search's steps per image, which set a search
    # cell's AUCs as much as its training: a study run with --search-steps 10 read as one with AnoGAN's 500
    def search(seed, steps):
        r = dict(study_row("search", "-", 0.0, seed, 0.55), lod=0.0)
        if steps is not None:
            r["score_settings"] = {"score.lam": 0.05, "search.steps": steps}
        return r

    md = render_markdown([FIXED[0], search(0, 10), search(1, 10)])
    assert "Latent search: 10 Adam steps per test image (AnoGAN's 500)." in md
    md = render_markdown([FIXED[0], search(0, 10), search(1, 500)])
    assert "Latent search: 10, 500 Adam steps per test image (cells differ) (AnoGAN's 500)." in md
    # rows kept before score_settings were: nothing claimed
    assert "Adam steps" not in render_markdown([FIXED[0], search(0, None)])
    assert "Adam steps" not in render_markdown(FIXED)


def test_tables_csv_gives_each_auc_its_interval_and_paired_test():
    # tables.csv had the AUCs and their untrained controls only: a spreadsheet of a 178-image study read 0.534 without
    # the +-0.085 its row in results.jsonl holds, nor whether it differs from the untrained networks at all
    r = dict(FIXED[0], auc_ci95={"a": [0.61, 0.78], "A": [None, None]},
             auc_vs_controls={"a": {"untrained": {"diff": 0.1, "se": 0.05, "p": 0.0455}}})
    got = {(x["score"]): x for x in csv.DictReader(io.StringIO(render_csv([r])))}
    assert (got["a"]["auc_ci95_low"], got["a"]["auc_ci95_high"], got["a"]["p_vs_untrained"], got["a"]["p_test"]) == \
        ("0.610000", "0.780000", "0.045500", "DeLong")          # (a row kept before the tests were named: DeLong's)
    # undefined, not kept, or a pixel control: empty, never a made-up number
    for s in ("A", "L_r", "pixel_norm"):
        assert (got[s]["auc_ci95_low"], got[s]["auc_ci95_high"], got[s]["p_vs_untrained"], got[s]["p_test"]) == \
            ("", "", "", ""), s
    # a small test set's p is the permutation test's, and the column says so
    r["auc_vs_controls"]["a"]["untrained"]["test"] = "exact permutation"
    assert {x["score"]: x for x in csv.DictReader(io.StringIO(render_csv([r])))}["a"]["p_test"] == "exact permutation"
    assert list(got["a"])[-1] == "computed_otherwise"


def test_a_study_s_rows_and_tables_say_which_bytes_its_data_was(tmp_path):
    # the tables named the data by its path only: two studies of one path, or of one file copied to two machines,
    # could not be told apart or matched; now each row keeps the sha256 of the bytes its cell read, and tables.md
    # shows it beside the path (split.json recorded it all along, unseen in the tables)
    import hashlib

    from wildgan.markdown import md_escape

    base = study_base(tmp_path)
    st = tmp_path / "st"
    rows = study_mod.run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), st, progress=False,
                               log=lambda m: None)
    sha = hashlib.sha256(Path(base.data.data).read_bytes()).hexdigest()
    assert [r["data_sha256"] for r in rows] == [sha]
    # (the path escaped as tables.md writes a file's name: markdown.md_escape)
    assert f"Source: {md_escape(base.data.data)} (sha256 {sha[:12]})." in (st / "tables.md").read_text()
    # cells that read other bytes under one path are said to have; rows without the field name the path alone
    other = dict(rows[0], cell="x", seed=1, data_sha256="0" * 64)
    assert f"(sha256 {'0' * 12}, {sha[:12]}; the cells read different bytes)" in render_markdown([*rows, other])
    old = {k: v for k, v in rows[0].items() if k != "data_sha256"}
    assert f"Source: {md_escape(base.data.data)}. " in render_markdown([old])


def test_committed_result_tables_re_render_from_their_rows():
    # every table cited in docs/results.md can be re-made from its rows with the package's own code
    from wildgan.studies.study import read_rows
    from wildgan.studies.tables import render_markdown

    docs = REPO / "docs" / "results"
    tables = sorted(docs.glob("*-tables.md"))
    assert tables
    for t in tables:
        rows = docs / t.name.replace("-tables.md", "-results.jsonl")
        assert rows.is_file(), f"{t.name} has no {rows.name}"
        assert t.read_text(encoding="utf-8").rstrip("\n") == render_markdown(read_rows(rows)).rstrip("\n"), t.name
    from wildgan.studies.tables import render_csv

    for t in sorted(docs.glob("*-tables.csv")):
        rows = docs / t.name.replace("-tables.csv", "-results.jsonl")
        assert t.read_bytes().decode() == render_csv(read_rows(rows)), t.name


def test_a_study_of_several_normal_classes_plots_each_class_too(tmp_path, monkeypatch):
    # the audit's case: one pooled curve for normal 2 and 3, its bars said "std over seeds" but held the spread
    # between classes; now the pooled plot says what it averages, and each class has its own
    from wildgan.evaluation import plots

    rows = [dict(study_row("wildgan", "image", g, s, a), normal=n, cell=f"{n}_{g}_{s}")
            for n, a in (("2", 0.3), ("3", 0.5)) for g in (0.0, 0.1) for s in (0, 1)]
    calls = []
    real = plots.auc_vs_gamma
    monkeypatch.setattr(plots, "auc_vs_gamma", lambda path, curves, **kw: calls.append((path.name, curves, kw))
                        or real(path, curves, **kw))
    study_mod.write_tables(tmp_path, rows)
    names = {c[0]: c for c in calls}
    assert set(names) == {"auc_vs_gamma.png", "auc_vs_gamma-normal-2.png", "auc_vs_gamma-normal-3.png"}
    kw = {n: (c[2]["pooled"], c[2]["normal"]) for n, c in names.items()}
    assert kw["auc_vs_gamma.png"] == (2, None) and kw["auc_vs_gamma-normal-3.png"] == (1, "3")
    per_class = names["auc_vs_gamma-normal-2.png"][1]["Ours d_I (a)"]
    assert [m for _, m, _ in per_class] == [pytest.approx(0.3)] * 2
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)
    calls.clear()
    study_mod.write_tables(tmp_path, [r for r in rows if r["normal"] == "2"])       # one class: one plot, as before
    assert [c[0] for c in calls] == ["auc_vs_gamma.png"] and calls[0][2]["pooled"] == 1


def test_a_cell_not_grown_to_full_resolution_is_said_once(tmp_path):
    # the cell's own line (its log and the study's), not also train_run's warning of the same networks
    base = study_base(tmp_path)
    base = replace(base, train=replace(base.train, total_kimg=0.05, phase_kimg=0.05))    # 8x8 grows at 0.128 kimg
    said: list[str] = []
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        study_mod.run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st", progress=False,
                            log=said.append)
    assert not [w for w in got if "finished growing" in str(w.message)], [str(w.message) for w in got]
    log = (tmp_path / "st" / "runs" / "0_g0_wildgan_image_s0" / "log.txt").read_text()
    assert log.count("stopped growing at lod 1") == 1 and "finished growing" not in log, log
    # (in run_study's terms: its base config's field, not the command's --total-kimg)
    assert "A longer train.total_kimg trains the cells to full resolution" in log and "--" not in log, log


def test_a_fanogan_cell_whose_base_asks_another_device_is_refused_before_any_cell_trains(tmp_path, monkeypatch):
    # a base built in Python with TrainConfig(device="cpu") alone: its f-AnoGAN cells trained on FAnoGANConfig's
    # "auto" device (and were evaluated on the train section's); train_run refuses that now, and the study says it
    # before its first cell trains, not at its first f-AnoGAN cell
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy32.npz", x=rng.integers(0, 256, (80, 32, 32), dtype=np.uint8), y=np.repeat([0, 1], 40))
    base = RunConfig(data=DataConfig(data=str(tmp_path / "toy32.npz"), normal=("0",), resolution=32, channels=1),
                     net=net_config_for_preset("tiny", 32, 1), preset="tiny",
                     train=TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"],
                                       device="cpu"))
    cells = grid(["0"], [0.0], ["wildgan", "fanogan"], ["image"], [0])
    monkeypatch.setattr(study_mod, "train_run", lambda *a, **k: pytest.fail("a cell trained"))
    with pytest.raises(ConfigError, match=r"(?s)1 of the 2 study cells .*cell 0_g0_fanogan_-_s0 .*"
                                          r"\(train\.device 'cpu', fanogan\.device 'auto'\)"):
        study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    study_mod.check_cells(replace(base, fanogan=replace(base.fanogan, device="cpu")), cells)   # agreed: no problem


def test_every_cell_is_checked_before_the_first_trains(tmp_path, monkeypatch):
    # the review's cases: a later cell with a normal class the data lacks, a gamma the anomalous images cannot supply,
    # an f-AnoGAN cell at a resolution it cannot take; each used to fail only when reached, after the cells before it
    # trained. Now nothing trains, and the error names every bad cell and its problem.
    from wildgan.data import splits

    base = study_base(tmp_path)                            # 8x8 images: classes 0 and 1, 32 training images each
    cells = grid(["0", "banana"], [0.0, 0.95], ["wildgan", "fanogan"], ["image"], [0])
    trained = []
    monkeypatch.setattr(study_mod, "train_run", lambda cfg, run_dir, **kw: trained.append(run_dir.name))
    loads = []
    real_load = splits.load_dataset
    monkeypatch.setattr(splits, "load_dataset", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    with pytest.raises(ConfigError) as e:
        study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    msg = str(e.value)
    assert trained == [] and not (tmp_path / "st").exists()
    assert len(loads) == 1                            # the data set read once for the 4 splits the cells differ in
    assert msg.startswith("7 of the 8 study cells to run cannot be trained; nothing was trained")
    assert "cell 0_g0_fanogan_-_s0 (normal 0, gamma 0, method fanogan, seed 0): f-AnoGAN needs square (32, 64) " \
           "images, got 8x8" in msg
    assert re.search(r"cell 0_g0\.95_wildgan_image_s0 \(normal 0, gamma 0\.95, method wildgan, encoder loss image, "
                     r"seed 0\): \S+toy\.npz: contamination 0\.95 needs 608 anomalous training images but only 32 "
                     r"are available; contamination=0\.5 injects all 32, the most that fits "
                     r"\(also cell 0_g0\.95_fanogan_-_s0\)", msg)
    assert "cell banana_g0_wildgan_image_s0 (normal banana, gamma 0, method wildgan, encoder loss image, seed 0): " \
           in msg and "normal class 'banana' does not exist" in msg
    assert "0_g0_wildgan_image_s0" not in msg         # the one good cell
    # a gamma outside [0, 1) names its cell too (the Python API takes any float)
    with pytest.raises(ConfigError, match=r"cell 0_g1\.5_wildgan_image_s0 \(normal 0, gamma 1\.5, .*\): "
                                          r"data\.contamination must be in \[0, 1\)"):
        study_mod.check_cells(base, grid(["0"], [0.0, 1.5], ["wildgan"], ["image"], [0]))
    # the pGAN's largest minibatch: 32 normal images do not fill a batch of 64
    big = replace(base, train=replace(base.train, minibatch={8: 64}))
    with pytest.raises(ConfigError, match=r"cell 0_g0_wildgan_image_s0 .*: only 32 training images, fewer than the "
                                          r"largest minibatch of the schedule \(64\)"):
        study_mod.check_cells(big, grid(["0"], [0.0], ["wildgan"], ["image"], [0]))
    # a cell with its row in results.jsonl is done: not checked (nor trained) again
    (tmp_path / "st").mkdir()
    # (a whole row: one without the fields of its cell is no row, and its cell is not done: see read_rows)
    done = {**study_row("wildgan", "image", 0.95, 0, 0.7), "cell": "0_g0.95_wildgan_image_s0", "normal": "0"}
    (tmp_path / "st" / "results.jsonl").write_text(json.dumps(done) + "\n")
    study_mod.check_cells(base, grid(["0"], [0.0, 0.95], ["wildgan"], ["image"], [0]), tmp_path / "st")


def test_a_study_folder_given_for_a_run_names_its_cells(tmp_path) -> None:
    from wildgan.config import read_run_config

    study = tmp_path / "st"
    (study / "runs" / "0_g0_wildgan_image_s0").mkdir(parents=True)
    (study / "runs" / "0_g0_wildgan_image_s0" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"a study folder, not a run directory: each of its cells is a run, in .*runs"
                                          r"/ \(e\.g\. .*0_g0_wildgan_image_s0; 1 there\)"):
        read_run_config(study)
    with pytest.raises(ConfigError, match="not a wildgan run directory"):
        read_run_config(study / "runs")


def test_the_cells_train_and_evaluate_on_data_read_once(tmp_path, monkeypatch):
    """Each cell used to read the data set for its training and again for its evaluation: a folder tree, which has
    no decoded cache, was decoded twice per cell. Now once for the check and once for every cell; the results are
    those of cells that read the data themselves."""
    from wildgan.data import splits

    base = study_base(tmp_path)
    cells = grid(["0", "1"], [0.0, 0.1], ["wildgan"], ["image"], [0])
    loads = []
    real_load = splits.load_dataset
    monkeypatch.setattr(splits, "load_dataset", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    rows = study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    # one read for the check and the cells (the check's read was a second decode of a folder tree: now handed on)
    assert len(rows) == 4 and len(loads) == 1
    # a cell trained alone (reading the data itself, as `wildgan train` does) gets the same networks and AUCs
    from wildgan.checkpoint import read_meta

    cfg = study_mod.cell_config(base, cells[3])
    alone = tmp_path / "alone"
    study_mod.train_run(cfg, alone, progress=False, log=lambda m: None)
    ev = study_mod.evaluate_run(alone, device="cpu", controls=True, write=False)
    assert ev["auc"] == rows[3]["auc"]
    assert read_meta(alone / "network-final.json")["sha256"] == \
        read_meta(tmp_path / "st" / "runs" / cells[3].key / "network-final.json")["sha256"]


def test_run_study_given_the_data_read_at_its_own_size_converts_it_for_the_cells(tmp_path, monkeypatch):
    # a caller's read with resolution and channels left to the data (as `wildgan study` reads it to find them) was
    # dropped, and the cells read the data again; where the read at their size is that read converted (an .npz here),
    # it is made from it (data.splits.read_for), and the cells train on what they would have read
    from wildgan.data import load_split_data, splits

    base = study_base(tmp_path)
    loaded = load_split_data(replace(base.data, resolution=None, channels=None))
    cells = grid(["0"], [0.1], ["wildgan"], ["image"], [0])
    loads = []
    real_load = splits.load_dataset
    monkeypatch.setattr(splits, "load_dataset", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    rows = study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None, loaded=loaded)
    assert len(rows) == 1 and loads == []
    monkeypatch.setattr(splits, "load_dataset", real_load)
    alone = study_mod.run_study(base, cells, tmp_path / "st2", progress=False, log=lambda m: None)
    assert alone[0]["auc"] == rows[0]["auc"]
    split = json.loads((tmp_path / "st" / "runs" / cells[0].key / "split.json").read_text())
    assert split["train_pixels_sha256"] == \
        json.loads((tmp_path / "st2" / "runs" / cells[0].key / "split.json").read_text())["train_pixels_sha256"]


def test_a_run_and_a_study_are_not_written_into_each_others_folders(tmp_path):
    # a study's runs/ and results.jsonl written into a run's folder (or a run over a study's) mixed the two, and
    # --overwrite of either deleted only its own files
    from wildgan.config import run_config_to_dict
    from wildgan.data.readers import is_study_dir
    from wildgan.studies.study import check_study_out_dir
    from wildgan.training.run import check_out_dir

    run = tmp_path / "run"
    run.mkdir()
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig())
    (run / "config.json").write_text(json.dumps(run_config_to_dict(cfg)))
    (run / "split.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"is a wildgan run folder \(written by `wildgan train`\)"):
        check_study_out_dir(run, None)
    study = tmp_path / "study"
    cell = study / "runs" / "g0-s0"
    cell.mkdir(parents=True)
    (cell / "config.json").write_text((run / "config.json").read_text())
    (cell / "split.json").write_text("{}")
    assert not is_study_dir(study)              # (a folder of runs/ alone: a user's own, perhaps)
    (study / "log.txt").write_text("started\n")
    assert is_study_dir(study)                  # a study whose first cell is still training
    for resume, overwrite in ((False, False), (False, True), (True, False)):
        with pytest.raises(ConfigError, match=r"is a wildgan study folder"):
            check_out_dir(study, None, resume=resume, overwrite=overwrite)
    check_out_dir(cell, None, resume=True)      # its cells are runs all the same
    check_study_out_dir(study, None)


def test_run_study_refuses_unlabelled_data_before_any_cell_trains(tmp_path, monkeypatch):
    """`wildgan study` refused unlabelled data (no test split, so no AUC) before it read it, saying why; run_study
    called from Python read the data and refused each cell with 'unlabelled images have no classes: drop --normal',
    advice no study can follow. Now run_study says what the CLI says (studies.study.check_study_data)."""
    base = study_base(tmp_path)
    pile = tmp_path / "pile.npz"
    np.savez(pile, x=np.load(base.data.data)["x"])                 # the same images, without labels
    base = replace(base, data=replace(base.data, data=str(pile), normal=()))
    trained = []
    monkeypatch.setattr(study_mod, "train_run", lambda cfg, run_dir, **kw: trained.append(run_dir.name))
    with pytest.raises(ConfigError, match=r"pile\.npz: a study measures AUC and needs labelled data"):
        study_mod.run_study(base, grid([""], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st", progress=False,
                            log=lambda m: None)
    assert trained == [] and not (tmp_path / "st").exists()


def test_a_studys_cells_draw_nested_contaminants(tmp_path):
    # at one seed, each gamma's contaminants are among the next gamma's: the AUC-versus-gamma curve compares common
    # draws (Generator.choice drew unrelated sets at each gamma)
    from wildgan.data import build_split

    base = study_base(tmp_path)
    for seed in (0, 1, 2):
        sets = []
        for cell in grid(["0"], [0.1, 0.2, 0.3, 0.4], ["wildgan"], ["image"], [seed]):
            s = build_split(study_mod.cell_config(base, cell).data)
            sets.append({i for i, z in zip(s.train_ids, s.train_is_anomaly) if z})
        assert [len(a) for a in sets] == [3, 8, 13, 21]
        assert all(a < b for a, b in zip(sets, sets[1:]))


def _old_cell(base: RunConfig, study: Path, cell) -> None:
    """A cell's run folder as a wildgan from before the nested draw left it: config.json without contamination_draw
    (interrupted before its final networks)."""
    from wildgan.config import write_run_config

    run_dir = study / "runs" / cell.key
    run_dir.mkdir(parents=True)
    write_run_config(study_mod.cell_config(base, cell), run_dir)
    d = json.loads((run_dir / "config.json").read_text())
    d["data"].pop("contamination_draw", None)      # (a clean cell's config has none today either)
    (run_dir / "config.json").write_text(json.dumps(d))


@pytest.mark.parametrize("old_gamma,rule", [(0.1, "choice"), (0.0, "nested")])
def test_a_study_started_before_the_nested_draw_keeps_its_cells_rule(tmp_path, monkeypatch, old_gamma, rule):
    # its contaminated cells drew with Generator.choice: its new cells do too (comparable with them), and its
    # interrupted ones resume on their own training sets; a folder of clean cells only drew nothing, so new cells
    # draw nested, and the clean cells are not refused for it
    base, st = study_base(tmp_path), tmp_path / "st"
    new, old = grid(["0"], [0.2, old_gamma], ["wildgan"], ["image"], [0])
    _old_cell(base, st, old)
    trained = []

    def stop(cfg, run_dir, **kw):
        trained.append(cfg.data.contamination_draw)
        raise KeyboardInterrupt

    monkeypatch.setattr(study_mod, "train_run", stop)
    said: list[str] = []
    with pytest.raises(TrainingInterrupted):
        study_mod.run_study(base, [new, old], st, progress=False, log=said.append)
    assert trained == [rule]
    assert any("'choice' rule of the wildgan that started the study" in m for m in said) == (rule == "choice")


def test_the_study_and_each_cell_log_the_warnings_said_about_their_data(tmp_path, capsys):
    # `wildgan study`: its log.txt has the warnings said while the data was read and checked (before the study wrote
    # its folder), and a cell's log.txt those said while the cell ran, before its first line; neither had any
    import warnings

    from wildgan.cli import main

    base = study_base(tmp_path)           # (its toy.npz: 40 + 40 images of two classes)
    st = tmp_path / "st"
    rounded = "contamination 0.05 of 32 normal training images is 1.68 anomalous images, rounded down to 1"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")         # (as on a terminal, where the cell's read says it again)
        assert main(["study", "--data", base.data.data, "--normal", "0", "--contamination", "0.05", "--preset",
                     "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress",
                     "--out", str(st)]) == 0
    study = (st / "log.txt").read_text().splitlines()
    cell = (st / "runs" / "0_g0.05_wildgan_image_s0" / "log.txt").read_text().splitlines()
    assert rounded in study[0] and study[1].startswith("session: wildgan study --data ") and \
        study[2].startswith("[1/1] 0_g0.05_wildgan_image_s0: training"), study
    assert sum(rounded in line for line in study) == 1, study        # said twice, written once
    assert rounded in cell[0] and cell[0].startswith("warning: ") and cell[1].startswith("training wildgan"), cell
    assert len(set(cell)) == len(cell), cell


def test_wildgan_study_of_finished_cells_remakes_the_tables_without_reading_the_data(tmp_path, monkeypatch, capsys):
    # a re-run of a finished study (to make its tables again, or by a user unsure it finished) decoded the whole data
    # set before it found every cell done: 13 s of a 3 s command on CIFAR-10's JPEG tree, minutes on larger data.
    # The tables need only the rows (each holds its cell's AUCs and controls), so the data is no longer read
    from wildgan.cli import main
    from wildgan.data import splits

    base = study_base(tmp_path)           # (its toy.npz: 40 + 40 images of two classes)
    st = tmp_path / "st"
    args = ["study", "--data", base.data.data, "--normal", "0", "--contamination", "0", "--preset", "tiny",
            "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0
    tables = {name: (st / name).read_text() for name in ("tables.md", "tables.csv")}
    for name in tables:
        (st / name).unlink()
    capsys.readouterr()

    def no_reading(*a, **k):
        raise AssertionError("the data was read")

    monkeypatch.setattr(splits, "load_dataset", no_reading)
    assert main(args) == 0
    assert {name: (st / name).read_text() for name in tables} == tables
    assert "every one done" in capsys.readouterr().err
    # what needs no data is still refused as before: a cell trained with other settings than the command's
    assert main([*args[:-2], "--lr", "0.002", "--out", str(st)]) == 2
    err = capsys.readouterr().err
    assert "holds cell 0_g0_wildgan_image_s0 trained with other settings" in err and "lr" in err, err
    assert "every one done" not in err, err     # (it was said just before the refusal)
    # and a command that needs the data still reads it: another size than the cells recorded (refused by name once
    # the data gives its shape), a new cell to train
    with pytest.raises(AssertionError, match="the data was read"):
        main([*args[:-2], "--resolution", "16", "--out", str(st)])
    with pytest.raises(AssertionError, match="the data was read"):
        main([*args[:-2], "--seeds", "0,1", "--out", str(st)])          # a new cell to train


def test_a_cells_line_carries_its_pixel_controls(tmp_path):
    # the line a study says as each cell ends gave -‖Q‖ but not -std Q, the stronger control on CIFAR
    base = study_base(tmp_path)
    said: list[str] = []
    study_mod.run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st", progress=False,
                        log=said.append)
    row = read_rows(tmp_path / "st" / "results.jsonl")[0]
    line = next(m for m in said if ": AUC a=" in m)
    assert f"-‖Q‖ {row['controls']['pixel_norm']:.3f}, -std Q {row['controls']['pixel_std']:.3f})" in line, line


def test_each_cells_log_has_the_warnings_said_while_the_data_it_trains_on_was_read(tmp_path):
    # the cells share one read of the data (the first cell to train reads it): its warnings (here the centre crop of
    # non-square images) were said in that cell alone, and the next cells' log.txt, which train on the same images,
    # had no word of them. The terminal says them once, where the data is read
    import warnings

    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "tree" / c).mkdir(parents=True)
        for i in range(40):
            Image.fromarray((rng.random((10, 14)) * (255 if c == "a" else 60)).astype(np.uint8)).save(
                tmp_path / "tree" / c / f"{i}.png")
    base = study_base(tmp_path)
    base = replace(base, data=replace(base.data, data=str(tmp_path / "tree"), normal=("a",)))
    st = tmp_path / "st"
    cropped = "images that are not square (e.g. 14x10) are centre-cropped to a square"
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        study_mod.run_study(base, grid(["a"], [0.0], ["wildgan"], ["image"], [0, 1]), st, progress=False,
                            log=lambda m: None)
    for cell in ("a_g0_wildgan_image_s0", "a_g0_wildgan_image_s1"):
        log = (st / "runs" / cell / "log.txt").read_text().splitlines()
        assert sum(cropped in line for line in log) == 1 and log[0].startswith("warning: "), (cell, log)
    # once, though check_cells' read and the cells' one both say it (the terminal showed both)
    assert sum(cropped in str(w.message) for w in shown) == 1, [str(w.message) for w in shown]


def test_wildgan_study_on_images_that_are_not_square_shows_their_crop_once(tmp_path, capsys):
    # `wildgan study` reads the data for the base config, and the cells read it again: each read showed the crop
    # warning, so the terminal said it twice, a few lines apart. Once now, and still in the study's and every cell's
    # log.txt
    from PIL import Image

    from wildgan.cli import main

    rng = np.random.default_rng(0)
    for k, c in enumerate(("a", "b")):
        (tmp_path / "tree" / c).mkdir(parents=True)
        for i in range(40):
            Image.fromarray((rng.random((32, 40)) * 255 / (k + 1)).astype(np.uint8)).save(
                tmp_path / "tree" / c / f"{i}.png")
    st = tmp_path / "st"
    cropped = "images that are not square (e.g. 40x32) are centre-cropped to a square"
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")            # (main's own: each said once per place)
        assert main(["study", "--data", str(tmp_path / "tree"), "--normal", "a", "--contamination", "0", "--seeds",
                     "0,1", "--preset", "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1",
                     "--no-progress", "--out", str(st)]) == 0
    assert sum(cropped in str(w.message) for w in shown) == 1, [str(w.message) for w in shown]
    for log in (st / "log.txt", *(st / "runs" / f"a_g0_wildgan_image_s{s}" / "log.txt" for s in (0, 1))):
        lines = log.read_text().splitlines()
        assert sum(cropped in line for line in lines) == 1 and lines[0].startswith("warning: "), (log, lines)


def _png_tree(root: Path, classes: tuple[str, ...], n: int = 40) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((rng.random((8, 8)) * 255 / (k + 1)).astype(np.uint8)).save(root / c / f"{i}.png")
    return root


def _remade_without_reading(args: list[str], st: Path, monkeypatch: Any, capsys: Any) -> str:
    """Re-runs the finished study `args` (--out st) with its tables.md removed and the data reader made to fail: the
    tables must come back byte-identical from the cells' records. Returns its stderr. The reader is left failing, so
    that a later call the test expects to read the data raises AssertionError('the data was read')."""
    from wildgan.cli import main
    from wildgan.data import splits

    tables = (st / "tables.md").read_text()
    (st / "tables.md").unlink()
    capsys.readouterr()

    def no_reading(*a: Any, **k: Any) -> None:
        raise AssertionError("the data was read")

    monkeypatch.setattr(splits, "load_dataset", no_reading)
    assert main(args) == 0
    assert (st / "tables.md").read_text() == tables
    return capsys.readouterr().err


def test_wildgan_study_normal_all_of_finished_cells_lists_a_trees_classes_instead_of_reading_it(tmp_path,
                                                                                                monkeypatch, capsys):
    # --normal all takes its classes from the data: for a folder tree they are its class folders, listed without
    # reading an image, and compared with those the cells recorded (split.json); a class added since is found, and
    # its cells trained, by reading the data as before
    from wildgan.cli import main
    from wildgan.data import splits

    tree = _png_tree(tmp_path / "tree", ("a", "b"))
    st = tmp_path / "st"
    args = ["study", "--data", str(tree), "--normal", "all", "--contamination", "0", "--preset", "tiny",
            "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0
    real = splits.load_dataset
    assert "2 cells" in _remade_without_reading(args, st, monkeypatch, capsys)
    _png_tree(tree, ("c",))
    with pytest.raises(AssertionError, match="the data was read"):
        main(args)
    monkeypatch.setattr(splits, "load_dataset", real)
    assert main(args) == 0 and "Cells: 3." in (st / "tables.md").read_text()


def test_wildgan_study_normal_all_with_the_first_class_excluded(tmp_path):
    # the base config took the data's first class as its normal one, also when --exclude named it: every
    # `--normal all --exclude FIRST` stopped with "a class cannot be both normal and excluded: ['a']"
    from wildgan.cli import main

    tree = _png_tree(tmp_path / "tree", ("a", "b", "c"))
    st = tmp_path / "st"
    args = ["study", "--data", str(tree), "--normal", "all", "--exclude", "A", "--contamination", "0", "--preset",
            "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0
    assert sorted(p.name for p in (st / "runs").iterdir()) == ["b_g0_wildgan_image_s0", "c_g0_wildgan_image_s0"]
    tables = (st / "tables.md").read_text()
    assert main(args) == 0 and (st / "tables.md").read_text() == tables         # (re-made from its rows)


def test_wildgan_study_normal_all_gives_the_base_config_its_first_class_as_the_data_names_it(tmp_path, monkeypatch,
                                                                                           capsys):
    # the base config's normal class (the first not excluded) went through --normal's comma list, which strips and
    # splits: of classes ' good', 'good', 'x' with --exclude good, ' good' became 'good', the excluded one ("a class
    # cannot be both normal and excluded: ['good']"); a class 'a,b' became classes 'a' and 'b' ("does not exist")
    from wildgan.cli import config_args, main

    tree = _png_tree(tmp_path / "tree", (" good", "good", "x"))
    st = tmp_path / "st"
    args = ["study", "--data", str(tree), "--normal", "all", "--exclude", "good", "--contamination", "0", "--preset",
            "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (st / "runs").iterdir()) == [" good_g0_wildgan_image_s0", "x_g0_wildgan_image_s0"]
    # and a finished study's base config, built from the listed classes without reading the data, alike
    import wildgan.studies

    bases: list[tuple[str, ...]] = []
    real = wildgan.studies.run_study
    monkeypatch.setattr(wildgan.studies, "run_study", lambda base, *a, **k: bases.append(base.data.normal) or
                        real(base, *a, **k))
    assert "every one done" in _remade_without_reading(args, st, monkeypatch, capsys)
    assert bases == [(" good",)]
    # a class whose name holds a comma is one class to the base config (a cell's normal classes are still a comma
    # list: cell_config), where the typed --normal 'a,b' is two
    from wildgan.cli.parser import make_option_parser, sub_parser

    ns = sub_parser(make_option_parser(), "study").parse_args(["--data", str(tree), "--normal", "a,b", "--out", "o"])
    ns.contamination, ns.seed = 0.0, 0                  # (set as cmd_study sets them for its base config)
    assert config_args.data_config_from_args(ns).normal == ("a", "b")
    ns.normal = ("a,b",)
    assert config_args.data_config_from_args(ns).normal == ("a,b",)


def test_a_class_whose_name_holds_a_comma_is_studied_as_one_class(tmp_path, monkeypatch, capsys):
    # a study cell kept its normal classes joined by ',' and cell_config split them again: `--normal all` of a tree
    # with a class folder 'a,b' refused its cell ("normal class 'a' does not exist"), and a config file's
    # normal: ['a,b'] was joined and split alike. The classes are kept as names: the cell's run, its row, a re-run
    # from the rows and a config file's list
    from wildgan.cli import main

    tree = _png_tree(tmp_path / "tree", ("a,b", "x"))
    st = tmp_path / "st"
    args = ["study", "--data", str(tree), "--normal", "all", "--contamination", "0", "--preset", "tiny",
            "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (st / "runs").iterdir()) == ["a,b_g0_wildgan_image_s0", "x_g0_wildgan_image_s0"]
    assert read_run_config(st / "runs" / "a,b_g0_wildgan_image_s0").data.normal == ("a,b",)
    rows = {r["cell"]: r for r in read_rows(st / "results.jsonl")}
    assert rows["a,b_g0_wildgan_image_s0"]["normal_classes"] == ["a,b"]
    assert "normal_classes" not in rows["x_g0_wildgan_image_s0"]         # (a name that splits back: as before)
    from wildgan.data import splits

    real = splits.load_dataset
    assert "every one done" in _remade_without_reading(args, st, monkeypatch, capsys)
    monkeypatch.setattr(splits, "load_dataset", real)
    # a config file's list of classes, one holding a comma: the names as listed (train, and a study's cells)
    flat = tmp_path / "flat.yaml"
    flat.write_text('normal: ["a,b"]\n')
    capsys.readouterr()
    assert main(["train", "--config", str(flat), "--data", str(tree), "--preset", "tiny", "--out",
                 str(tmp_path / "r"), "--dry-run"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["data"]["normal"] == ["a,b"]
    from wildgan.cli.study import _normal_cells

    assert _normal_cells(("a,b", "x+y")) == [("a,b",), "x,y"] and _normal_cells("0+1,2") == ["0,1", "2"]
    # grid: a str is classes joined by ',', a tuple the names; one key for both is refused, not one dropped
    (joined,), (named,) = grid(["a,b"], [0.0], ["wildgan"], ["image"], [0]), grid([("a,b",)], [0.0], ["wildgan"],
                                                                                  ["image"], [0])
    assert (joined.normal_classes, named.normal_classes, joined.key) == (("a", "b"), ("a,b",), named.key)
    assert grid([("a", "b")], [0.0], ["wildgan"], ["image"], [0]) == [joined]
    with pytest.raises(ConfigError, match=r"normal classes \['a', 'b'\] and \['a,b'\] would name one cell"):
        grid(["a,b", ("a,b",)], [0.0], ["wildgan"], ["image"], [0])

def test_a_row_of_classes_a_and_b_is_not_taken_for_the_cell_of_a_class_named_a_comma_b(tmp_path):
    # `--normal a+b` and a class folder 'a,b' give one key, a,b_g0_wildgan_image_s0: grid refuses both in one command,
    # and check_study_dir tells them apart by the run's config.json, but a row whose run folder is gone was taken as
    # the cell of 'a,b' done (cells_to_compute goes by the key), its AUCs of classes a and b in that cell's tables
    from wildgan.studies.study import check_study_dir

    st = tmp_path / "st"
    st.mkdir()
    base = study_base(tmp_path)
    row = {**study_row("wildgan", "image", 0.0, 0, 0.7), "cell": "a,b_g0_wildgan_image_s0", "protocol": "generic",
           "normal": "a,b"}
    named = grid([("a,b",)], [0.0], ["wildgan"], ["image"], [0])
    joined = grid(["a,b"], [0.0], ["wildgan"], ["image"], [0])
    assert named[0].key == row["cell"] == joined[0].key
    (st / "results.jsonl").write_text(json.dumps(row) + "\n")            # (classes a and b: no normal_classes)
    with pytest.raises(ConfigError, match=r"holds the row of cell a,b_g0_wildgan_image_s0 of the normal classes "
                                          r"\['a', 'b'\], whose name the cell of the normal classes \['a,b'\] has "
                                          r"too"):
        check_study_dir(base, named, st)
    check_study_dir(base, joined, st)                                  # (its own cell: done, as before)
    (st / "results.jsonl").write_text(json.dumps({**row, "normal_classes": ["a,b"]}) + "\n")
    check_study_dir(base, named, st)
    with pytest.raises(ConfigError, match=r"of the normal classes \['a,b'\], whose name the cell of the normal "
                                          r"classes \['a', 'b'\] has too"):
        check_study_dir(base, joined, st)


def test_the_first_class_not_excluded_matches_classes_as_the_split_does():
    from wildgan.studies.study import first_kept_class

    assert first_kept_class(["a", "b"], ()) == "a"
    assert first_kept_class(["a", "b", "c"], ("A", "b")) == "c"
    assert first_kept_class(["a", "b", "c"], ("0",)) == "b"                 # an index, where no class is a number
    assert first_kept_class(["0", "10"], ("1",)) == "0"                   # '1' names no class among '0', '10'
    assert first_kept_class(["a", "b"], ("x",)) == "a"                     # (the split says what is wrong)


def test_the_first_class_not_excluded_of_no_classes_is_a_data_error():
    from wildgan.errors import DataError
    from wildgan.studies.study import first_kept_class

    for excluded in ((), ("a",)):
        with pytest.raises(DataError, match="no classes"):
            first_kept_class([], excluded)


def test_a_one_vs_rest_study_with_every_class_excluded_says_so(tmp_path, capsys):
    # `--normal all --exclude` of every class stopped with "a class cannot be both normal and excluded: ['0']", of a
    # normal class the user never named (first_kept_class fell back to the first class)
    from wildgan.cli import main
    from wildgan.errors import CLI_SKIP_BAD, DataError, skip_bad_said_as
    from wildgan.studies.study import first_kept_class

    with pytest.raises(DataError) as e:
        first_kept_class(["a", "b"], ("A", "1"), "d.npz")
    assert str(e.value) == "d.npz: exclude_classes= excludes every class of the data (a, b): a one-vs-rest study " \
                           "(grid(normals=...) of every class) needs at least one class left to be normal", str(e.value)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"^d\.npz: --exclude excludes every class .* "
                                                                         r"study \(--normal all\) needs"):
        first_kept_class(["a", "b"], ("a", "b"), "d.npz")
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    capsys.readouterr()
    assert main(["study", "--data", str(data), "--normal", "all", "--exclude", "0,1", "--contamination", "0",
                 "--preset", "tiny", "--no-progress", "--out", str(tmp_path / "st")]) == 2
    err = capsys.readouterr().err
    assert f"{data}: --exclude excludes every class of the data (0, 1): a one-vs-rest study (--normal all)" in err, err
    assert "both normal and excluded" not in err, err


def test_wildgan_study_without_normal_of_finished_cells_takes_its_cell_from_the_records(tmp_path, monkeypatch,
                                                                                         capsys):
    # a re-run without --normal (one cell: the protocol's default normal set) decoded the whole data set to find
    # that set, though every cell's split.json and row already said it. Where the options tell the protocol
    # (--dataset cifar10 here), the records give the cell and the data is not read; where only the data's content
    # tells it (--dataset auto on a folder tree), it is read as before
    from wildgan.cli import main
    from wildgan.data.dataset_files import CIFAR10_CLASSES

    tree = _png_tree(tmp_path / "tree", tuple(CIFAR10_CLASSES), n=20)
    st = tmp_path / "st"
    opts = ["--contamination", "0", "--preset", "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads",
            "1", "--no-progress"]
    args = ["study", "--data", str(tree), "--dataset", "cifar10", *opts, "--out", str(st)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
        # a study of another normal class: its cell is not the default's, which a re-run without --normal trains
        assert main([*args[:-2], "--normal", "truck", "--out", str(tmp_path / "truck")]) == 0
    assert (st / "runs" / "automobile_g0_wildgan_image_s0" / "split.json").is_file()
    assert "every one done" in _remade_without_reading(args, st, monkeypatch, capsys)
    # the refusals that need no data stay: other settings, other data
    assert main([*args[:-2], "--lr", "0.002", "--out", str(st)]) == 2
    err = capsys.readouterr().err
    assert "holds cell automobile_g0_wildgan_image_s0 trained with other settings" in err and "lr" in err, err
    other = shutil.copytree(tree, tmp_path / "other")
    assert main(["study", "--data", str(other), "--dataset", "cifar10", *opts, "--out", str(st)]) == 2
    err = capsys.readouterr().err
    assert str(other) in err and "every one done" not in err, err
    # nor are the data's files needed to make the tables: moved away, the records say the default's cell
    tree.rename(tmp_path / "moved")
    assert main(args) == 0 and "every one done" in capsys.readouterr().err
    (tmp_path / "moved").rename(tree)
    # under --dataset auto the tree's class folders choose the same protocol and cell, listed without reading an
    # image; the other --dataset is then refused by name, as any other setting
    assert main(["study", "--data", str(tree), *opts, "--out", str(st)]) == 2
    err = capsys.readouterr().err
    assert "data.dataset: 'cifar10' -> 'auto'" in err and "every one done" not in err, err
    # and a new cell to train reads it: another seed, or the default class in a study of another class
    with pytest.raises(AssertionError, match="the data was read"):
        main([*args[:-2], "--seeds", "0,1", "--out", str(st)])
    with pytest.raises(AssertionError, match="the data was read"):
        main([*args[:-2], "--out", str(tmp_path / "truck")])


def _chula_npz(path: Path, normal_label: int = 0) -> Path:
    """Red-blood-cell-like crops (photo ids, anomaly labels): the chula-rbc12 protocol under --dataset auto, whose
    default normal set is the class of the crops labelled normal (normal_label)."""
    rng = np.random.default_rng(0)
    image_id = np.repeat(np.arange(1, 31), 20)
    y = rng.integers(0, 3, len(image_id))
    y[rng.random(len(y)) < 0.5] = normal_label
    x = (rng.random((len(y), 16, 16)) * np.where(y == normal_label, 255, 80)[:, None, None]).astype(np.uint8)
    np.savez(path, x=x, y=y, image_id=image_id, is_anomaly=(y != normal_label).astype(np.uint8),
             class_names=np.array(["normal", "macro", "micro"]))
    return path


def test_wildgan_study_without_normal_on_data_whose_labels_choose_the_protocol_is_not_read_when_finished(
        tmp_path, monkeypatch, capsys):
    # chula-rbc12's default normal set is the class of the crops labelled normal, and under --dataset auto the
    # protocol itself is chosen by the data: a finished re-run decoded the whole data set to find its one cell. The
    # labels (an .npz's small label arrays) tell both without decoding an image; relabelled data (another default
    # class) is a new cell to train, found by reading the data as before
    from wildgan.cli import main

    data = _chula_npz(tmp_path / "cells.npz")
    st = tmp_path / "st"
    args = ["study", "--data", str(data), "--contamination", "0", "--preset", "tiny", "--resolution", "16",
            "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
    assert [p.name for p in (st / "runs").iterdir()] == ["normal_g0_wildgan_image_s0"]
    assert "every one done" in _remade_without_reading(args, st, monkeypatch, capsys)
    _chula_npz(data, normal_label=1)                # the same file, relabelled: 'macro' is now the normal class
    with pytest.raises(AssertionError, match="the data was read"):
        main(args)


@pytest.mark.parametrize("container", ["npz", "tar.gz"])
def test_wildgan_study_normal_all_of_finished_cells_lists_the_classes_of_an_npz_or_archive(tmp_path, monkeypatch,
                                                                                            capsys, container):
    # --normal all on an .npz or an archive decoded the whole data set to learn its classes (only a folder tree's
    # were listed), though the labels alone (an .npz's label arrays, an archive's class folders in its unpack) give
    # them; a class added since is found, and its cells trained, by reading the data as before
    import tarfile

    from wildgan.cli import main

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))

    def make(classes: tuple[str, ...]) -> Path:
        if container == "npz":
            rng = np.random.default_rng(0)
            x = (rng.random((40 * len(classes), 8, 8)) * 255).astype(np.uint8)
            for k in range(len(classes)):
                x[40 * k:40 * (k + 1)] //= k + 1
            path = tmp_path / "d.npz"
            np.savez(path, x=x, y=np.repeat(np.arange(len(classes)), 40), class_names=np.array(classes))
            return path
        tree = tmp_path / f"tree{len(classes)}"
        _png_tree(tree / "d", classes)
        path = tmp_path / "d.tar.gz"
        with tarfile.open(path, "w:gz") as t:
            t.add(tree / "d", arcname="d")
        return path

    data = make(("a", "b"))
    st = tmp_path / "st"
    args = ["study", "--data", str(data), "--normal", "all", "--contamination", "0", "--preset", "tiny",
            "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0
    err = _remade_without_reading(args, st, monkeypatch, capsys)
    assert "2 cells" in err and "every one done" in err, err
    make(("a", "b", "c"))
    with pytest.raises(AssertionError, match="the data was read"):
        main(args)


_TINY_STUDY = ["--preset", "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress"]


def _sized_tree(root: Path, classes: tuple[str, ...], shape: tuple[int, ...], n: int = 40) -> Path:
    """_png_tree with images of another shape (H, W[, C])."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((rng.random(shape) * 255 / (k + 1)).astype(np.uint8)).save(root / c / f"{i}.png")
    return root


@pytest.mark.parametrize("kind", ["cifar-named tree", "chula npz", "npz sized by its options",
                                  "40x32 colour tree", "npz sized by its images", "digits tree"])
def test_a_new_wildgan_study_reads_its_data_once(tmp_path, monkeypatch, kind):
    # `wildgan study` read the data for the base config and the cells' check (resolution and channels left to the
    # data), then its cells read it again at the size found: for a folder tree a second decode of every image. Where
    # the labels tell the size (CIFAR-10's class names, chula-rbc12's photo ids) or the options give it, the first
    # read is made at it and handed on to the cells; their rows and logs are those of cells that read it themselves.
    # Where only the images tell it (a generic tree or .npz, digits 0-9 under --dataset auto: MNIST's protocol by
    # their 28x28), the first read, at the images' own size, is converted to the cells' (data.splits.read_for)
    from wildgan.cli import main
    from wildgan.data import splits
    from wildgan.data.dataset_files import CIFAR10_CLASSES

    if kind == "40x32 colour tree":
        data = _sized_tree(tmp_path / "tree", ("a", "b"), (32, 40, 3))     # 32x32 cells (shrunk, centre-cropped)
        extra = ["--normal", "a", "--contamination", "0,0.1"]
        normal = "a"
    elif kind == "npz sized by its images":
        data = study_base(tmp_path).data.data                                  # 8x8 gray
        extra = ["--normal", "0", "--contamination", "0,0.1"]
        normal = "0"
    elif kind == "digits tree":
        data = _sized_tree(tmp_path / "tree", tuple(str(i) for i in range(10)), (28, 28), n=20)  # 32x32, padded
        extra = ["--contamination", "0"]
        normal = "2"
    elif kind == "cifar-named tree":
        data = _png_tree(tmp_path / "tree", tuple(CIFAR10_CLASSES), n=20)
        extra = ["--contamination", "0"]
        normal = "automobile"
    elif kind == "chula npz":
        data = _chula_npz(tmp_path / "cells.npz")
        extra = ["--contamination", "0", "--resolution", "16"]       # (channels from the protocol: 1)
        normal = "normal"
    else:
        data = study_base(tmp_path).data.data
        extra = ["--normal", "0", "--contamination", "0,0.1", "--resolution", "8", "--channels", "1"]
        normal = "0"
    loads = []
    real_load = splits.load_dataset
    monkeypatch.setattr(splits, "load_dataset", lambda *a, **kw: loads.append(kw) or real_load(*a, **kw))
    st = tmp_path / "st"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("default")            # (heard, so that the cells' logs are given them: see below)
        assert main(["study", "--data", str(data), *extra, *_TINY_STUDY, "--out", str(st)]) == 0
    assert len(loads) == 1, loads
    rows = read_rows(st / "results.jsonl")
    assert len(rows) == (2 if "0,0.1" in extra else 1)
    assert [r["normal"] for r in rows] == [normal] * len(rows)
    # each cell's split (its images' ids and pixels) is the one `wildgan train` builds for it, reading the data itself
    from wildgan.data import build_split, split_summary

    for row in rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            own = split_summary(build_split(read_run_config(st / "runs" / row["cell"]).data))
        recorded = json.loads((st / "runs" / row["cell"] / "split.json").read_text())
        assert {k: recorded[k] for k in own} == own
        if kind == "40x32 colour tree":
            # the read's crop warning, which each cell's own read said into its log.txt, is said there still, once
            lines = (st / "runs" / row["cell"] / "log.txt").read_text().splitlines()
            assert sum("centre-cropped to a square" in line for line in lines) == 1, lines


def test_a_contaminations_rounding_is_shown_once_by_a_study_and_said_in_its_cells_log(tmp_path, capsys):
    # 2% of 32 normal training images rounds down to no anomaly: said by the cells' check, then again by the cell's
    # own split, a few lines apart on the terminal. Once now, and still in the study's and the cell's log.txt
    from wildgan.cli import main

    data = study_base(tmp_path).data.data
    st = tmp_path / "st"
    rounded = "contamination 0.02 of 32 normal training images is 0.65 anomalous images, rounded down to 0"
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")            # (main's own: each said once per place)
        assert main(["study", "--data", str(data), "--normal", "0", "--contamination", "0.02", "--resolution", "8",
                     "--channels", "1", *_TINY_STUDY, "--out", str(st)]) == 0
    assert sum(rounded in str(w.message) for w in shown) == 1, [str(w.message) for w in shown]
    for log in (st / "log.txt", st / "runs" / "0_g0.02_wildgan_image_s0" / "log.txt"):
        lines = log.read_text().splitlines()
        assert sum(rounded in line for line in lines) == 1, (log, lines)
    # the Python API's study: its own check and the cell's split said it too
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        study_mod.run_study(study_base(tmp_path), grid(["0"], [0.02], ["wildgan"], ["image"], [0]), tmp_path / "api",
                            progress=False, log=lambda m: None)
    assert sum(rounded in str(w.message) for w in shown) == 1, [str(w.message) for w in shown]
    lines = (tmp_path / "api" / "runs" / "0_g0.02_wildgan_image_s0" / "log.txt").read_text().splitlines()
    assert sum(rounded in line for line in lines) == 1, lines


def test_a_cell_refused_on_the_data_it_was_handed_is_not_read_again(tmp_path, monkeypatch):
    # a cell whose split build_split refuses (here: a normal class the data lacks, a DataError) stopped at once with
    # that refusal; the handler that reads the data again when the handed read was made with other options catches
    # ValueError, which a DataError now is too (as scikit-learn's callers expect): it read the whole data set a
    # second time, only to be refused the same way
    from wildgan.data import load_split_data

    base = study_base(tmp_path)
    loaded = load_split_data(base.data)
    reads = []
    monkeypatch.setattr(study_mod, "load_split_data", lambda *a, **k: reads.append(a) or load_split_data(*a, **k))
    cells = grid(["7"], [0.0], ["wildgan"], ["image"], [0])
    with pytest.raises(DataError, match="normal class .7. does not exist"):
        study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None, loaded=loaded,
                            cells_checked=True)
    assert reads == []


def test_listed_study_classes_are_the_recorded_ones_while_the_data_still_lists_them(tmp_path):
    # the Python API of `study --normal all`'s no-decode path: a DataConfig and a study folder, no options
    from wildgan.studies.study import listed_study_classes

    tree = _png_tree(tmp_path / "tree", ("a", "b", "c"), n=2)
    st = tmp_path / "st"
    data = DataConfig(data=str(tree))
    assert listed_study_classes(data, st) is None                           # no cell recorded anything yet
    (st / "runs" / "b_g0_wildgan_image_s0").mkdir(parents=True)
    (st / "runs" / "b_g0_wildgan_image_s0" / "split.json").write_text(
        json.dumps({"class_names": ["a", "b", "c"], "excluded_classes": ["a"]}))
    assert listed_study_classes(data, st) == ["b", "c"]                     # the recorded exclusion left out
    _png_tree(tmp_path / "tree", ("d",), n=2)
    assert listed_study_classes(data, st) is None                           # a class added since: read the data


def test_listed_default_cell_of_data_that_is_gone_is_the_recorded_fixed_default(tmp_path):
    from wildgan.data.dataset_files import CIFAR10_CLASSES
    from wildgan.studies.study import listed_default_cell

    st = tmp_path / "st"
    run = st / "runs" / "automobile_g0_wildgan_image_s0"
    run.mkdir(parents=True)
    (run / "split.json").write_text(json.dumps({"protocol": "cifar10", "normal_classes": ["automobile"],
                                                "class_names": list(CIFAR10_CLASSES)}))
    gone = str(tmp_path / "moved-away")
    assert listed_default_cell(DataConfig(data=gone, dataset="cifar10"), st) == ["automobile"]
    # under --dataset auto only the data could tell the protocol, and it is not there
    assert listed_default_cell(DataConfig(data=gone), st) is None


def test_the_auc_vs_gamma_band_stays_inside_0_1(tmp_path, monkeypatch):
    """auc_ci's interval of a perfect ranking of 10 anomalies and 50 normal images is 0.880-1: its half-width drawn
    around an AUC of 1 reached 1.06, and around 0.02 below 0."""
    from matplotlib.collections import LineCollection, PolyCollection

    from wildgan.evaluation import plots

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    curves = {"high": [(0.0, 1.0, 0.0), (0.02, 0.98, 0.0)], "low": [(0.0, 0.02, 0.0)]}
    plots.auc_vs_gamma(tmp_path / "g.png", curves, bands={"high": [(0.0, 0.06), (0.02, 0.06)], "low": [(0.0, 0.06)]})
    ax = figs[0].axes[0]
    ext = [p.get_extents() for c in ax.collections if isinstance(c, PolyCollection) for p in c.get_paths()]
    ext += [c.get_paths()[0].get_extents() for c in ax.collections
            if isinstance(c, LineCollection) and c.get_linewidth()[0] > 2]
    assert len(ext) == 2 and max(e.y1 for e in ext) == 1.0 and min(e.y0 for e in ext) == 0.0


def _scores_csv(run_dir: Path, ids: list[str], labels: list[int], scores: dict[str, list[float]]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = ["id,label," + ",".join(scores)]
    lines += [f"{i},{y}," + ",".join(f"{scores[k][j]:.9g}" for k in scores)
              for j, (i, y) in enumerate(zip(ids, labels))]
    (run_dir / "test_scores.csv").write_text("\n".join(lines) + "\n")


def _paired_rows(tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Two cells (ours, f-AnoGAN) of one seed with their test_scores.csv, f-AnoGAN's in another order of the images,
    and what auc_difference gives for them."""
    from wildgan.evaluation import auc_difference, roc_auc

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 30)
    ours, theirs = y + rng.normal(0, 0.8, 60), y + rng.normal(0, 1.5, 60)
    ids = [f"img{i}" for i in range(60)]
    rows = []
    for method, enc, own, s in (("wildgan", "image", "a", ours), ("fanogan", "-", "A", theirs)):
        r = study_row(method, enc, 0.0, 0, 0.5)
        r["auc"] = {**r["auc"], own: roc_auc(y, np.asarray([float(f"{v:.9g}") for v in s])), "L_r": 0.5}
        r["run_dir"] = f"runs/{r['cell']}"
        order = np.arange(60) if method == "wildgan" else rng.permutation(60)
        _scores_csv(tmp_path / r["run_dir"], [ids[i] for i in order], list(y[order]),
                    {own: list(s[order]), "L_r": [0.0] * 60})
        rows.append(r)
    rows[0]["auc"]["L_r"] = 0.5                       # (all tied: AUC 0.5)
    return rows, auc_difference(y, ours, theirs)


def test_a_study_compares_its_methods_cells_paired_on_the_same_test_images(tmp_path):
    # each method against the others was nowhere in a study's tables: a researcher paired two cells' test_scores.csv
    # by hand. Now every pair of one (normal, gamma, seed) is tested on the images they share, kept beside the rows
    from wildgan.studies.study import COMPARISONS, read_comparisons
    from wildgan.studies.tables import render_markdown

    rows, want = _paired_rows(tmp_path)
    study_mod.write_tables(tmp_path, rows)
    kept = read_comparisons(tmp_path / COMPARISONS)
    a_vs_a = [c for c in kept if c["first_score"] == "a"]
    assert len(kept) == 2 and len(a_vs_a) == 1             # a − A, and ours' L_r − A
    c = a_vs_a[0]
    assert (c["first"], c["second"], c["second_score"], c["n_test"]) == (rows[0]["cell"], rows[1]["cell"], "A", 60)
    assert c["diff"] == pytest.approx(want["diff"]) and c["p"] == pytest.approx(want["p"], rel=1e-5)
    assert c["se"] == pytest.approx(want["se"], rel=1e-5) and c["test"] == want["test"] == "DeLong"
    md = (tmp_path / "tables.md").read_text()
    assert "### Paired comparisons between methods (the same test images)" in md
    line = next(x for x in md.splitlines() if x.startswith("| 0 | Ours d_I a − f-AnoGAN A |"))
    assert f"s0 {want['diff']:+.3f} (p " in line and line.endswith("| DeLong |")
    # tables.md is re-made from the study's files alone
    assert md == render_markdown(rows, comparisons=read_comparisons(tmp_path / COMPARISONS))
    got = list(csv.DictReader(io.StringIO((tmp_path / "comparisons.csv").read_text())))
    assert [(g["first_score"], g["second_method"], g["test"]) for g in got] == [("a", "fanogan", "DeLong"),
                                                                                ("L_r", "fanogan", "DeLong")]
    assert float(got[0]["p"]) == pytest.approx(want["p"], rel=1e-5)
    # a pair is tested once: kept while both rows are as they were, even when a cell's run folder is deleted
    shutil.rmtree(tmp_path / "runs" / rows[1]["cell"])
    study_mod.write_tables(tmp_path, rows)
    assert read_comparisons(tmp_path / COMPARISONS) == kept
    # a cell evaluated again (its row's AUC another) is tested again: here its scores are gone, which is said
    rows[1]["auc"]["A"] = 0.9
    study_mod.write_tables(tmp_path, rows)
    again = read_comparisons(tmp_path / COMPARISONS)
    assert all("its scores are not kept" in c["not_compared"] for c in again) and len(again) == 2
    assert "Not compared: " in (tmp_path / "tables.md").read_text()
    # rows left out of the tables (computed otherwise) are compared with nothing
    study_mod.write_tables(tmp_path, rows, apart={rows[1]["cell"]: "score.lam: 0.2 -> 0.1"})
    assert read_comparisons(tmp_path / COMPARISONS) == []
    assert "Paired comparisons" not in (tmp_path / "tables.md").read_text()


def test_a_cell_s_test_scores_with_its_class_column_are_still_compared(tmp_path):
    # evaluate writes each test image's class as test_scores.csv's last column: a name, no score, which the reader
    # of a cell's scores must not take for one (float('cat') left every pair 'cannot be read')
    from wildgan.studies.study import COMPARISONS, read_comparisons

    rows, want = _paired_rows(tmp_path)
    for r in rows:
        path = tmp_path / r["run_dir"] / "test_scores.csv"
        head, *body = path.read_text().splitlines()
        path.write_text("\n".join([head + ",class", *(f"{line},{'cat' if line.split(',')[1] == '1' else 'car'}"
                                                      for line in body)]) + "\n")
    study_mod.write_tables(tmp_path, rows)
    kept = read_comparisons(tmp_path / COMPARISONS)
    assert len(kept) == 2 and not any("not_compared" in c for c in kept)
    assert next(c for c in kept if c["first_score"] == "a")["diff"] == pytest.approx(want["diff"])


def test_cells_whose_test_images_differ_are_not_compared_and_tables_say_so(tmp_path):
    from wildgan.studies.study import COMPARISONS, read_comparisons

    rows, _ = _paired_rows(tmp_path)
    theirs = tmp_path / rows[1]["run_dir"] / "test_scores.csv"
    theirs.write_text(theirs.read_text().replace("img0,", "other0,"))
    study_mod.write_tables(tmp_path, rows)
    said = [c["not_compared"] for c in read_comparisons(tmp_path / COMPARISONS)]
    assert said == ["their test images differ (60 and 60 images, 59 in common)"] * 2
    assert "their test images differ" in (tmp_path / "tables.md").read_text()
    assert "their test images differ" in (tmp_path / "comparisons.csv").read_text()
    # a test_scores.csv that is not the scores of its cell's row (evaluated again by hand since) is not used
    ours = tmp_path / rows[0]["run_dir"] / "test_scores.csv"
    _scores_csv(ours.parent, [f"img{i}" for i in range(60)], [0] * 30 + [1] * 30, {"a": list(range(60)),
                                                                                   "L_r": [0.0] * 60})
    study_mod.write_tables(tmp_path, rows)
    (c,) = [c for c in read_comparisons(tmp_path / COMPARISONS) if c["first_score"] == "a"]
    assert c["not_compared"] == (f"{rows[0]['cell']}: its test_scores.csv does not hold the a scores of its row "
                                 f"(evaluated again since its row was made?)")


def test_a_pair_not_compared_is_tried_again_only_once_a_cell_s_scores_file_changed(tmp_path, monkeypatch):
    # a pair recorded as not_compared was tried again at every write of the tables, after every row of a study:
    # both cells' test_scores.csv read again each time (0.66 s per write for 150 cells, benchmarks/RESULTS.md). It
    # is tried again only when one of the two files differs from what it was tried on (its 'tried' record)
    from wildgan.studies.study import COMPARISONS, read_comparisons

    rows, want = _paired_rows(tmp_path)
    theirs = tmp_path / rows[1]["run_dir"] / "test_scores.csv"
    good = theirs.read_text()
    theirs.write_text(good.replace("img0,", "other0,"))
    reads: list[str] = []
    real = study_mod._test_scores
    monkeypatch.setattr(study_mod, "_test_scores", lambda run_dir: reads.append(Path(run_dir).name) or real(run_dir))
    study_mod.write_tables(tmp_path, rows)
    kept = read_comparisons(tmp_path / COMPARISONS)
    assert [c["not_compared"] for c in kept] == ["their test images differ (60 and 60 images, 59 in common)"] * 2
    assert sorted(reads) == sorted(r["cell"] for r in rows)             # each file read once, for both pairs
    assert set(kept[0]["tried"]) == {r["cell"] for r in rows}
    # nothing changed: nothing read, the entries kept as they were
    reads.clear()
    study_mod.write_tables(tmp_path, rows)
    assert reads == [] and read_comparisons(tmp_path / COMPARISONS) == kept
    # one cell's file written again (as an evaluation replaces it): the pairs are tried again, and now compared
    theirs.unlink()
    theirs.write_text(good)
    study_mod.write_tables(tmp_path, rows)
    assert sorted(reads) == sorted(r["cell"] for r in rows)
    (c,) = [c for c in read_comparisons(tmp_path / COMPARISONS) if c["first_score"] == "a"]
    assert "not_compared" not in c and "tried" not in c and c["diff"] == pytest.approx(want["diff"])
    # a file that is gone, or back, is a change too; an entry without 'tried' (an earlier wildgan's) is tried again
    # (a pair compared is kept with its file gone: begun again without comparisons.jsonl)
    (tmp_path / COMPARISONS).unlink()
    theirs.unlink()
    reads.clear()
    study_mod.write_tables(tmp_path, rows)
    assert reads and all("its scores are not kept" in c["not_compared"] for c in read_comparisons(tmp_path /
                                                                                               COMPARISONS))
    assert all(c["tried"][rows[1]["cell"]] is None for c in read_comparisons(tmp_path / COMPARISONS))
    reads.clear()
    study_mod.write_tables(tmp_path, rows)
    assert reads == []
    old = [{k: v for k, v in c.items() if k != "tried"} for c in read_comparisons(tmp_path / COMPARISONS)]
    (tmp_path / COMPARISONS).write_text("".join(json.dumps(c) + "\n" for c in old))
    study_mod.write_tables(tmp_path, rows)
    assert reads and all("tried" in c for c in read_comparisons(tmp_path / COMPARISONS))
    theirs.write_text(good)
    reads.clear()
    study_mod.write_tables(tmp_path, rows)
    assert reads and not any(c.get("not_compared") for c in read_comparisons(tmp_path / COMPARISONS))


def test_a_kept_comparison_edited_or_damaged_is_tested_again_not_breaking_the_study(tmp_path):
    # a comparisons.jsonl line that is JSON and names its cells and AUCs, but not the rest (its gamma deleted, its
    # diff a word: edited by hand, another tool's) was taken as it was: write_tables raised KeyError or ValueError
    # after the next cell, stopping the study. It is tested again from the cells' scores, as a line that is no JSON is
    from wildgan.studies.study import COMPARISONS, read_comparisons

    rows, want = _paired_rows(tmp_path)
    study_mod.write_tables(tmp_path, rows)
    kept = read_comparisons(tmp_path / COMPARISONS)
    for damage in ({"gamma": None}, {"diff": "x"}, {"n_test": None}, {"seed": 7}, {"p": [0.1]}):
        lines = [{k: v for k, v in {**c, **damage}.items() if v is not None} for c in kept]
        (tmp_path / COMPARISONS).write_text("".join(json.dumps(c) + "\n" for c in lines))
        study_mod.write_tables(tmp_path, rows)
        assert read_comparisons(tmp_path / COMPARISONS) == kept, damage
    got = list(csv.DictReader(io.StringIO((tmp_path / "comparisons.csv").read_text())))
    assert float(got[0]["diff"]) == pytest.approx(want["diff"], abs=1e-6)


def test_a_test_scores_csv_with_a_nan_is_not_its_row_s_scores(tmp_path):
    # a value of a cell's test_scores.csv damaged to nan: roc_auc of it is nan, which `> tolerance` let through as
    # its row's scores, and the pair got a test of null numbers, shown as if tested ('–'). Now not compared, saying why
    from wildgan.studies.study import COMPARISONS, read_comparisons

    rows, _ = _paired_rows(tmp_path)
    theirs = tmp_path / rows[1]["run_dir"] / "test_scores.csv"
    lines = theirs.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:2] + ["nan"] + lines[3].split(",")[3:])
    theirs.write_text("\n".join(lines) + "\n")
    study_mod.write_tables(tmp_path, rows)
    (c,) = [c for c in read_comparisons(tmp_path / COMPARISONS) if c["first_score"] == "a"]
    assert c["not_compared"] == (f"{rows[1]['cell']}: its test_scores.csv does not hold the A scores of its row "
                                 f"(evaluated again since its row was made?)")


def test_comparisons_csv_keeps_a_tiny_p(tmp_path):
    # comparisons.csv wrote p to 6 places: DeLong's p of two cells far apart (7.7e-26 in a 400-image study) read
    # 0.000000, a p no test gives; it keeps 6 significant digits, as comparisons.jsonl keeps the number
    from wildgan.studies.study import COMPARISONS, read_comparisons
    from wildgan.studies.tables import render_comparisons_csv

    rows, _ = _paired_rows(tmp_path)
    study_mod.write_tables(tmp_path, rows)
    kept = read_comparisons(tmp_path / COMPARISONS)
    kept[0]["p"] = 7.704718896521777e-26
    got = list(csv.DictReader(io.StringIO(render_comparisons_csv(rows, kept))))
    p = next(g["p"] for g in got if g["first_score"] == kept[0]["first_score"])
    assert float(p) == pytest.approx(7.704718896521777e-26, rel=1e-5) and float(p) > 0


def test_old_study_rows_render_without_a_comparison_section(tmp_path):
    # rows alone (an older wildgan's, or committed tables) render as before: no comparisons, no section
    assert "Paired comparisons" not in render_markdown(FIXED)
    # a study of one cell per seed has nothing to compare: no comparisons file
    study_mod.write_tables(tmp_path, [r for r in FIXED if r["encoder_loss"] == "image"])
    assert not (tmp_path / "comparisons.jsonl").exists()
    # and a folder whose cells' scores are gone says why its cells of one seed are not compared
    study_mod.write_tables(tmp_path, FIXED)
    # (the cells' names, a normal class's folder name in them, escaped as Markdown: comparisons.jsonl keeps them raw)
    assert ("Not compared: automobile\\_g0\\_wildgan\\_image\\_s0 vs automobile\\_g0\\_wildgan\\_latent\\_s0 (a − a): "
            "automobile\\_g0\\_wildgan\\_image\\_s0: its scores are not kept") in (tmp_path / "tables.md").read_text()
    assert "automobile_g0_wildgan_image_s0: its scores are not kept" in (tmp_path / "comparisons.jsonl").read_text()


def test_a_study_s_cells_of_two_encoder_losses_are_compared_as_they_finish(tmp_path):
    # end to end: the d_z cell, trained after the d_I one, is compared with it from both cells' kept scores
    from wildgan.evaluation import auc_difference
    from wildgan.studies.study import COMPARISONS, _test_scores, read_comparisons

    st = tmp_path / "st"
    rows = study_mod.run_study(study_base(tmp_path), grid(["0"], [0.0], ["wildgan"], ["image", "latent"], [0]), st,
                               progress=False, log=lambda m: None)
    (c,) = read_comparisons(st / COMPARISONS)
    assert (c["first"], c["second"], c["first_score"], c["second_score"]) == (rows[0]["cell"], rows[1]["cell"], "a",
                                                                              "a")
    (ids, y, first), (_, _, second) = (_test_scores(st / r["run_dir"]) for r in rows)
    assert c["diff"] == pytest.approx(auc_difference(y, first["a"], second["a"])["diff"])
    assert (st / "tables.md").read_text() == render_markdown(read_rows(st / "results.jsonl"),
                                                             comparisons=read_comparisons(st / COMPARISONS))


def test_the_study_s_log_marks_where_each_session_starts_and_what_ran_it(tmp_path, capsys):
    # the header "study: N cells -> OUT" went to the terminal only: the study's log.txt told its sessions apart by
    # nothing but their "done, skipped" lines, and did not say which command or wildgan ran them
    from wildgan import __version__
    from wildgan.cli import main

    data, st = study_base(tmp_path).data.data, tmp_path / "st"
    args = ["study", "--data", data, "--normal", "0", "--contamination", "0", *_TINY_STUDY, "--out", str(st)]
    assert main(args) == 0
    assert main([*args[:-2], "--seeds", "0,1", "--out", str(st)]) == 0      # extended by a seed: one done already
    sessions = [x for x in (st / "log.txt").read_text().splitlines() if x.startswith("session: ")]
    assert sessions == [f"session: wildgan {' '.join(args)} (wildgan {__version__}): 1 cell, 0 done already",
                        f"session: wildgan {' '.join(args[:-2])} --seeds 0,1 --out {st} (wildgan {__version__}): 2 "
                        f"cells, 1 done already"]
    # a refused command (other settings than the study's cells) still writes nothing into the folder
    before = (st / "log.txt").read_bytes()
    assert main([*args[:-2], "--total-kimg", "0.05", "--out", str(st)]) == 2
    assert (st / "log.txt").read_bytes() == before


def test_a_study_stopped_says_once_on_the_terminal_what_stopped_and_how_to_continue(tmp_path, monkeypatch, capsys):
    # a stop in a cell's training was said twice ("stopped: ..." from the study, "wildgan: interrupted ..." from the
    # command), and a kill while a cell was evaluated said only "wildgan: terminated by SIGTERM", not how to go on
    from wildgan.cli import main
    from wildgan.errors import Terminated, resume_advice

    data, st = study_base(tmp_path).data.data, tmp_path / "st"
    args = ["study", "--data", data, "--normal", "0", "--contamination", "0", *_TINY_STUDY, "--out", str(st)]

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        raise TrainingInterrupted(f"interrupted by SIGINT (Ctrl-C) at 0.016 of 0.032 kimg; checkpoint saved in "
                                  f"{run_dir / 'checkpoints'}", 2, checkpoint_dir=str(run_dir / "checkpoints"),
                                  resume_advice=resume_advice(run_dir))

    real = study_mod.train_run
    monkeypatch.setattr(study_mod, "train_run", stopped)
    capsys.readouterr()
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.count("interrupted by SIGINT (Ctrl-C) at 0.016 of 0.032 kimg") == 1, err
    assert "wildgan: interrupted by SIGINT (Ctrl-C)" in err and "run the same `wildgan study` command again" in err, err

    def killed(*a, **k):
        raise Terminated("terminated by SIGTERM")

    monkeypatch.setattr(study_mod, "train_run", real)
    monkeypatch.setattr(study_mod, "evaluate_run", killed)
    shutil.rmtree(st / "runs")
    assert main(args) == 143
    err = capsys.readouterr().err
    said = ("terminated by SIGTERM while cell 0_g0_wildgan_image_s0 was evaluated; to continue, run the same "
            "`wildgan study` command again (finished cells are kept, this one is evaluated)")
    assert err.count("terminated by SIGTERM") == 1 and f"wildgan: {said}" in err, err


def test_a_one_vs_rest_sweep_ends_with_the_mean_over_its_classes():
    # the sweep gave one row per normal class and no summary: the number one-vs-rest studies report, the mean AUC
    # over the classes, had to be computed by hand. Each class counts once (its mean over seeds), whatever its seeds.
    from wildgan.studies.tables import table3

    rows = [dict(study_row("wildgan", "image", 0.0, s, a), normal=n, cell=f"{n}_{s}")
            for n, s, a in (("0", 0, 0.70), ("0", 1, 0.80), ("1", 0, 0.50), ("2", 0, 0.60))]
    rows.append(dict(study_row("wildgan", "image", 0.1, 0, 0.1), normal="1", cell="1_g"))    # another gamma: not pooled
    header, body = table3(rows)
    assert [b[0] for b in body] == ["0", "1", "2", "mean over 3 classes"]
    mean = dict(zip(header, body[-1]))
    assert mean["a"] == f"{(0.75 + 0.50 + 0.60) / 3:.3f}" == "0.617"
    assert mean["untrained a"] == "0.600" and mean["-‖Q‖"] == "0.620"
    # a column some classes lack is averaged over those that have it, and the label says so
    rows[2]["auc"]["A"] = None
    header, body = table3(rows)
    assert body[-1][0] == "mean over 2-3 classes" and dict(zip(header, body[-1]))["A"] == "0.400"
    assert "| mean over 2-3 classes |" in render_markdown(rows)
    assert table3([r for r in rows if r["normal"] == "0"]) is None                  # one class: no sweep


def test_each_column_of_the_one_vs_rest_table_holds_its_own_number():
    # the test above reads the a, untrained a and -‖Q‖ columns only: the pixel controls -std Q and -mean Q swapped
    # passed it (study_row's are 0.5 and 0.45 in every row), a table of the wrong baseline under each heading
    from wildgan.studies.tables import table3

    rows = []
    for k, n in enumerate(("0", "1")):
        r = dict(study_row("wildgan", "image", 0.0, 0, 0.70 + k / 10), normal=n, cell=f"{n}_0")
        r["auc"] = {"A": 0.31 + k / 10, "L_r": 0.32 + k / 10, "L_n": 0.33 + k / 10, "L_o": 0.34 + k / 10,
                    "a": 0.35 + k / 10}
        r["controls"] = {"untrained": {"a": 0.51 + k / 10, "A": 0.59}, "pixel_norm": 0.52 + k / 10,
                         "pixel_std": 0.53 + k / 10, "pixel_mean": 0.54 + k / 10}
        rows.append(r)
    header, body = table3(rows)
    assert header == ["normal class", "A", "L_r", "L_n", "L_o", "a", "untrained a", "-‖Q‖", "-std Q", "-mean Q"]
    assert body[0] == ["0", "0.310", "0.320", "0.330", "0.340", "0.350", "0.510", "0.520", "0.530", "0.540"]
    assert body[1] == ["1", "0.410", "0.420", "0.430", "0.440", "0.450", "0.610", "0.620", "0.630", "0.640"]
    assert body[2] == ["mean over 2 classes", "0.360", "0.370", "0.380", "0.390", "0.400", "0.560", "0.570", "0.580",
                       "0.590"]


def test_a_study_says_its_overall_eta_from_the_cells_it_has_done(tmp_path):
    # each cell's bar covers that cell; the study's own line says what the cells left take at the mean so far
    base = study_base(tmp_path)
    cells = grid(["0"], [0.0, 0.05, 0.1], ["wildgan"], ["image"], [0])
    said: list[str] = []
    # (the toy data's 32 normal training images hold 1.6 of gamma 0.05's anomalies: said, and expected here)
    with pytest.warns(WildganWarning, match=r"contamination 0\.05 of 32 normal training images .* rounded down to 1"):
        study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=said.append)
    training = [m for m in said if m.endswith("left for 2 cells)") or m.endswith("left for 1 cell)")
                or m.endswith(": training")]
    assert [m.split(":")[0] for m in training] == ["[1/3] 0_g0_wildgan_image_s0", "[2/3] 0_g0.05_wildgan_image_s0",
                                                    "[3/3] 0_g0.1_wildgan_image_s0"], said
    assert training[0].endswith(": training") and "(study: about " in training[1] and \
        training[1].endswith("left for 2 cells)") and training[2].endswith("left for 1 cell)"), training


def test_check_cells_says_a_cells_warning_when_it_arises_even_if_a_later_cell_raises(tmp_path, monkeypatch):
    # check_cells recorded every cell's warnings and said them once all cells were checked: nothing showed during a
    # long check, and an error out of a later cell (one the check does not catch) lost the earlier cells' warnings
    base = study_base(tmp_path)
    # normal 0 and 1 at two seeds each: the seed is in a cell's data config, so four splits to build; the third raises
    cells = grid(["0", "1"], [0.0], ["wildgan"], ["image"], [0, 1])
    real_build = study_mod.build_split
    shown_before: list[int] = []                      # how many warnings were shown when each split's build began

    def build(data, **kw):
        shown_before.append(len(shown))
        if len(shown_before) == 3:
            raise OSError("disk gone while the third split was built")
        warnings.warn(f"a note of the data of normal class {data.normal[0]}", UserWarning)
        warnings.warn("a note every split repeats", UserWarning)
        return real_build(data, **kw)

    monkeypatch.setattr(study_mod, "build_split", build)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(OSError, match="disk gone"):
            study_mod.check_cells(base, cells)
    said = [str(w.message) for w in shown]
    # the first cell's two notes, said once each though the second cell's split repeats them
    assert said == ["a note of the data of normal class 0", "a note every split repeats"], said
    # and said as the first cell was checked, before the second cell's split was built
    assert shown_before == [0, 2, 2], shown_before


def test_check_cells_under_an_error_filter_raises_a_cells_own_error_not_its_warning(tmp_path, monkeypatch):
    # a cell's warnings are said as its check ends, however it ends: under a caller's "error" filter the warning said
    # while the cell's own error propagated replaced that error (kept only as its __context__), so the caller saw
    # the note and not what failed. The cell's error is raised, the warning added to it as a note (Python 3.11+)
    base = study_base(tmp_path)
    cells = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    real_build = study_mod.build_split

    def build(data, **kw):
        warnings.warn("a note of the split", UserWarning)
        raise OSError("disk gone while the split was built")

    monkeypatch.setattr(study_mod, "build_split", build)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(OSError, match="disk gone") as e:
            study_mod.check_cells(base, cells)
    if sys.version_info >= (3, 11):
        assert any("a note of the split" in n for n in e.value.__notes__), e.value.__notes__
    # with no error of the cell's own, its warning is the error the filter makes of it, as any warning would be
    def build_noted(data, **kw):
        warnings.warn("a note of the split", UserWarning)
        return real_build(data, **kw)

    monkeypatch.setattr(study_mod, "build_split", build_noted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="a note of the split"):
            study_mod.check_cells(base, cells)


def test_tables_csv_has_every_raw_g_auc_that_tables_md_shows():
    # tables.md's "Ours, raw G" rows (a row's other_generator, spec 9.8) were not in tables.csv: a person parsing the
    # CSV could not find those numbers. They are lines of their own now, the score named with the generator (G_a),
    # the header and the lines of the other scores as they were
    og = {"generator": "G", "auc": {"A": 0.43, "L_r": 0.44, "L_n": 0.52, "L_o": 0.61, "a": 0.62}}
    rows = [dict(r, other_generator=dict(og, auc={k: v + 0.02 * r["seed"] for k, v in og["auc"].items()}))
            if r["method"] == "wildgan" and r["encoder_loss"] == "image" else r for r in FIXED]
    md = render_markdown(rows)
    raw = [line for line in md.splitlines() if line.startswith("| Ours (d_I), raw G |")]
    assert len(raw) == 4
    lines = list(csv.DictReader(io.StringIO(render_csv(rows))))
    plain = list(csv.DictReader(io.StringIO(render_csv(FIXED))))
    assert list(lines[0]) == list(plain[0])                        # the same columns, in the same order
    assert [x for x in lines if not x["score"].startswith("G_")] == plain
    for line in raw:
        score = line.split("|")[2].strip()
        for g, shown in ((0.0, line.split("|")[3].strip()), (0.02, line.split("|")[5].strip())):
            got = [float(x["auc"]) for x in lines if x["score"] == f"G_{score}" and float(x["gamma"]) == g
                   and x["encoder_loss"] == "image"]
            assert got, (score, g)
            assert f"{sum(got) / len(got):.3f}" == shown.split(" ")[0], (score, g, got, shown)
    # the d_z cell and f-AnoGAN's keep none: no such lines for them
    assert {(x["method"], x["encoder_loss"]) for x in lines if x["score"].startswith("G_")} == {("wildgan", "image")}


def test_other_generator_rows_are_named_by_the_generator_the_rows_record():
    # cells scored with G (generator: G) record Gs beside them: their rows read "Gs (EMA)", as tables.csv names
    # them Gs_a, where tables.md called them "raw G" whatever the generator
    with_gs = [dict(r, other_generator={"generator": "Gs", "auc": {**r["auc"], "L_r": 0.9}})
               if r["method"] == "wildgan" and r["encoder_loss"] == "image" else r for r in FIXED]
    md = render_markdown(with_gs)
    assert "| Ours (d_I), Gs (EMA) | L_r | 0.900 ± 0.000 (n=2) | – | 0.900 | – |" in md, md
    assert "raw G" not in md
    assert "Gs_L_r" in render_csv(with_gs)


def test_a_row_whose_run_folder_is_gone_is_refused_under_other_networks(tmp_path, monkeypatch):
    # a study whose runs/ were deleted to save space (results.jsonl kept): check_study_dir compared only the run
    # folders' config.json, so a command with other networks skipped the row's cell as done and pooled its AUCs,
    # of width-16 networks, with the new cells' of width 8 in one mean, with not a word in the log
    import shutil

    st, results, cell, base = _one_cell_study(tmp_path)
    shutil.rmtree(st / "runs" / cell[0].key)
    before = results.read_bytes()
    trained = []
    real = study_mod.train_run
    monkeypatch.setattr(study_mod, "train_run", lambda cfg, run_dir, **k: trained.append(run_dir.name)
                        or real(cfg, run_dir, **k))
    narrow = replace(base, net=replace(base.net, fmap_max=base.net.fmap_max // 2))
    seeds = grid(["0"], [0.1], ["wildgan"], ["image"], [0, 1])
    with pytest.raises(ConfigError, match=rf"holds the row of cell {cell[0].key} computed with other settings "
                                          rf"\(net.fmap_max: {base.net.fmap_max} -> {narrow.net.fmap_max}\).*run "
                                          rf"folder is gone"):
        study_mod.run_study(narrow, seeds, st, progress=False, log=lambda m: None)
    other_test = replace(base, data=replace(base.data, test_size="all"))
    with pytest.raises(ConfigError, match=r"data.test_size: paper -> all"):
        study_mod.run_study(other_test, seeds, st, progress=False, log=lambda m: None)
    assert trained == [] and results.read_bytes() == before
    # a setting the command leaves to the protocol is its default: no --rotations is 0 rotations for this data, not
    # the row's 1
    row = json.loads(before)
    results.write_text(json.dumps({**row, "rotations": 1}) + "\n")
    with pytest.raises(ConfigError, match=r"data.rotations: 1 -> 0"):
        study_mod.run_study(base, seeds, st, progress=False, log=lambda m: None)
    results.write_bytes(before)
    # the row's own settings: its cell is done, the new seed trained
    study_mod.run_study(base, seeds, st, progress=False, log=lambda m: None)
    assert trained == ["0_g0.1_wildgan_image_s1"]


def test_a_study_whose_runs_folder_is_gone_goes_on_from_its_rows(tmp_path):
    # runs/ deleted to save space, results.jsonl kept (the rows are all the tables need): the folder was refused as
    # "holds image files (e.g. auc_vs_gamma.png) and no study", though `wildgan report` reads it as the study it is
    import shutil

    st, results, cell, base = _one_cell_study(tmp_path)
    shutil.rmtree(st / "runs")
    (st / "tables.md").unlink()
    rows = study_mod.run_study(base, cell, st, progress=False, log=lambda m: None)
    assert [r["cell"] for r in rows] == [cell[0].key] and (st / "tables.md").is_file()
    assert not (st / "runs" / cell[0].key).exists()             # done: not trained again


def test_a_study_says_its_data_s_unlabelled_images_once(tmp_path, monkeypatch, recwarn):
    # the count of images labelled -1 (left out of every split) is said by each split the data makes: `wildgan study`
    # said it twice before any cell, by the base config's split and again by the check of its cells
    from wildgan.cli import main
    from wildgan.errors import TrainingInterrupted, resume_advice

    rng = np.random.default_rng(0)
    data = tmp_path / "neg.npz"
    np.savez(data, x=rng.integers(0, 256, (300, 8, 8), dtype=np.uint8), y=np.arange(300) % 3 - 1)
    note = "100 of its 300 images are labelled -1 (no class)"
    # a cell the check refuses: the command stops before any cell trains
    assert main(["study", "--data", str(data), "--normal", "0", "--contamination", "0,0.9", *_TINY_STUDY,
                 "--out", str(tmp_path / "refused")]) != 0
    said = [str(w.message) for w in recwarn]
    assert sum(note in m for m in said) == 1, said
    recwarn.clear()

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        raise TrainingInterrupted("terminated by SIGTERM", 15, checkpoint_dir=str(run_dir / "checkpoints"),
                                  resume_advice=resume_advice(run_dir))

    # cells that start: their splits do not say it again on the terminal, and their log.txt has it
    monkeypatch.setattr(study_mod, "train_run", stopped)
    st = tmp_path / "st"
    main(["study", "--data", str(data), "--normal", "0", "--contamination", "0", *_TINY_STUDY, "--out", str(st)])
    said = [str(w.message) for w in recwarn]
    assert sum(note in m for m in said) == 1, said
    (cell_log,) = st.glob("runs/*/log.txt")
    assert note in cell_log.read_text()
