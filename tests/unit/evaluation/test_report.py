"""Diagnostics and the report (issue 4): heat maps on synthetic defects, every figure of a tiny real run, the study
report and the CLI parser. The tiny run is trained once per session (shared with the browser test)."""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from search_caches import keep_search_cache
from tiny_report import TOP_K, build_tiny_report

from wildgan.errors import ConfigError, DataError
from wildgan.evaluation.heatmaps import per_image_pixel_auc, pixel_auc, residual_maps, top_k
from wildgan.cli import add_report_parser, cmd_report, make_parser
from wildgan.evaluation.report import read_jsonl, report


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_report(tmp_path_factory)


def _png_std(path: Path) -> float:
    with Image.open(path) as im:
        return float(np.asarray(im.convert("L"), dtype=np.float64).std())


# ---------------------------------------------------------------------------------------------------------------
# Heat maps on synthetic defects

def _study_row(**fields: Any) -> dict[str, Any]:
    """A whole results.jsonl row (every field a study writes that its tables read: rows.ROW_FIELDS), `fields` over
    it: the study report lists only such rows."""
    auc = {"a": 0.7}
    return {"cell": "c0", "normal": "0", "gamma": 0.0, "method": "wildgan", "encoder_loss": "image", "seed": 0,
            "auc": auc, "ap": auc, "controls": {"untrained": auc}, **fields}


def _defect_pair(channels: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean images spanning 0..255 (so the paste does not change the min-max range), the same images with a
    bright pasted square, and the square's mask."""
    rng = np.random.default_rng(seed)
    clean = (rng.random((4, 16, 16, channels)) * 150).astype(np.uint8)
    clean[:, 0, 0] = 0
    clean[:, 15, 15] = 255
    query = clean.copy()
    mask = np.zeros((4, 16, 16), dtype=bool)
    for i, (r, c) in enumerate([(3, 3), (8, 2), (2, 9), (10, 10)]):
        query[i, r:r + 4, c:c + 4] = 250
        mask[i, r:r + 4, c:c + 4] = True
    recon = clean.astype(np.float32) * (2 / 255) - 1  # the "perfect" reconstruction of the clean image
    return query, recon, mask


@pytest.mark.parametrize("channels", [1, 3])
def test_heatmap_peaks_on_pasted_defect(channels: int) -> None:
    query, recon, mask = _defect_pair(channels, seed=channels)
    maps = residual_maps(query, recon)
    assert maps.shape == query.shape[:3] and maps.dtype == np.float32
    assert 0.0 <= maps.min() and maps.max() <= 1.0
    for hm, m in zip(maps, mask):
        assert m.ravel()[hm.argmax()], "the map's maximum must lie inside the pasted square"
    assert pixel_auc(maps, mask) > 0.9
    assert np.all(per_image_pixel_auc(maps, mask[..., None]) > 0.9)  # [N, H, W, 1] masks are accepted too


def test_heatmap_zero_for_perfect_reconstruction_and_shape_checks() -> None:
    query, _, mask = _defect_pair(1, seed=0)
    assert np.allclose(residual_maps(query, query.astype(np.float32) * (2 / 255) - 1), 0, atol=1e-6)
    with pytest.raises(ValueError):
        residual_maps(query, np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(DataError, match="do not match the heat maps"):
        pixel_auc(np.zeros((4, 16, 16)), mask[:, :8])
    assert np.isnan(per_image_pixel_auc(np.ones((1, 4, 4)), np.zeros((1, 4, 4))))[0]


def test_top_k_orders_by_score_and_ranks_nan_most_anomalous() -> None:
    # NaN as in thresholds (flagged, percentile 100): the image `score --threshold` flags tops the report too
    s = np.array([0.1, 0.9, np.nan, 0.5, 0.9, np.inf])
    assert top_k(s, 4).tolist() == [2, 5, 1, 4]
    assert top_k(s, 0).tolist() == [] and len(top_k(s, 99)) == 6
    from wildgan.evaluation.report import _percentile

    ref = np.array([0.0, 1.0, 2.0, np.nan])
    assert _percentile(ref, np.nan) == 100.0 and _percentile(ref, np.inf) == 100.0 and _percentile(ref, 1.0) == 50.0
    assert np.isnan(_percentile(np.array([np.nan]), 1.0))


# ---------------------------------------------------------------------------------------------------------------
# The report of a tiny real run

FIGURES = ["roc.png", "score_hist.png", "tsne.png", "latent_hist.png", "closest_matches.png", "training_curves.png"]


def test_run_report_writes_every_figure(tiny_run: Path) -> None:
    out = tiny_run / "report"
    pngs = [out / f for f in FIGURES] + [out / "heatmaps" / f"top-{r:02d}.png" for r in range(1, TOP_K + 1)]
    pngs += [out / "heatmaps" / "image-01.png"]
    for p in pngs:
        assert p.is_file(), f"{p.name} missing"
        assert p.stat().st_size > 3000, f"{p.name} is suspiciously small"
        assert _png_std(p) > 5.0, f"{p.name} is a flat picture"
    assert sorted(out.glob("heatmaps/top-*.png")) == pngs[len(FIGURES):len(FIGURES) + TOP_K]


def test_run_report_metrics_html_and_markdown(tiny_run: Path) -> None:
    out = tiny_run / "report"
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["auc"]) >= {"a", "L_n", "L_o", "L_r"}
    assert set(m["controls"]) >= {"untrained", "pixel_norm", "pixel_std", "pixel_mean"}
    assert 0.0 <= m["pixel_auc"] <= 1.0
    page = (out / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]*)"', page)
    # metrics-relevant figures + top-k + named + at least one training sample grid, all embedded
    assert len(srcs) >= len(FIGURES) + TOP_K + 2
    assert all(s.startswith("data:image/png;base64,") for s in srcs), "the HTML must not depend on other files"
    assert m["other_generator"]["generator"] == "G" and set(m["other_generator"]["auc"]) == set(m["auc"])
    for word in ("AUC untrained", "AUC with G", "pixel_norm (control)", "most anomalous", "Named images", "Config",
                 "Generated samples", "95% CI", "p vs untrained", "a minus each pixel control, paired the same way"):
        assert word in page, word
    # the source commit of a checkout's run: 12 hex digits on the pages, as a study's tables.md says it; all 40 in
    # metrics.json (an installed wheel records none: checkpoint.source_commit)
    source = (m["model"].get("versions") or {}).get("wildgan_source")
    if source:
        assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", source), source
        for text in (page, (out / "report.md").read_text()):
            assert f"(source {source[:12]}" in text and source[:40] not in text
    assert set(m["auc_ci95"]) == set(m["auc"]) and set(m["auc_vs_controls"]["a"]) == {
        "untrained", "pixel_norm", "pixel_std", "pixel_mean"}
    # why the top images rank high: the split of a into its two terms, ||E(Q)|| with its percentile; and where a
    # named image's score falls among the test images
    for word in ("Why these images", "0.05·L_n", "0.95·L_o", "percentile among the test images",
                 "a percentile among test images", "one colour scale for all maps"):
        assert word in page, word
    # the named image's panel caption says where it stands (not only its path)
    assert re.search(r"<figcaption>[^<]*report-named\.png: a = [-0-9.e]+, percentile [0-9.]+ among the test "
                     r"images</figcaption>", page)
    md = (out / "report.md").read_text()
    # the named image's percentile in its table as in its caption (one decimal at most), not a float cell's 96.000
    from wildgan.markdown import split_md_row

    table = [ln for ln in md.splitlines() if ln.startswith("| ")]
    header = next(split_md_row(ln) for ln in table if "a percentile among test images" in ln)
    (named_row,) = [split_md_row(ln) for ln in table if "report-named.png" in ln]
    cell = named_row[header.index("a percentile among test images")]
    assert re.fullmatch(r"[0-9]+(\.[0-9])?", cell), cell
    # its scores to 4 significant digits, as its caption and the most anomalous images' table give them (3 decimals
    # read 0.007 for most L_n of a short run, and two a's either side of the threshold alike)
    import csv

    (named_csv,) = csv.DictReader(open(out / "named_images.csv", newline=""))
    for score in ("a", "L_n", "L_r"):
        assert named_row[header.index(score)] == f"{float(named_csv[score]):.4g}", (score, named_row)
    for ref in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / ref).is_file(), f"report.md references missing {ref}"
        assert not ref.startswith(".."), f"report.md must be self-contained in report/: {ref}"
    top = (out / "top_anomalous.csv").read_text().splitlines()
    assert len(top) == TOP_K + 1 and top[0].startswith("rank,id,label,a")


def test_training_curves_survive_torn_stats_line(tmp_path: Path) -> None:
    from wildgan.evaluation.plots import training_curves

    rows = [{"kimg": k / 10, "resolution": 4 if k < 5 else 8, "D/loss": np.sin(k), "G/loss": k % 3,
             "E/loss": 1 / (k + 1), "D/grad_norm": 1 + k / 10, "img_per_s": 100 + k} for k in range(10)]
    p = tmp_path / "stats.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kimg": 1.0, "D/lo')
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # a torn last line is no damage: left out without a word
        assert len(read_jsonl(p)) == 10
    png = training_curves(tmp_path / "tc.png", read_jsonl(p))
    assert _png_std(png) > 5.0


def test_training_curves_say_what_their_dotted_lines_mark(monkeypatch, tmp_path: Path) -> None:
    # the dotted vertical lines (where the resolution grows) were explained nowhere, on the figure or the page: each
    # is now labelled with the resolution it grows to
    import wildgan.evaluation.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig) or path)
    rows = [{"kimg": k / 10, "resolution": 4 if k < 4 else 8 if k < 7 else 16, "D/loss": 1.0, "img_per_s": 9.0}
            for k in range(10)]
    plots.training_curves(tmp_path / "tc.png", rows)
    (fig,) = drawn
    assert [(t.get_text().strip(), t.get_position()[0]) for t in fig.axes[0].texts] == [("8x8", 0.4), ("16x16", 0.7)]


def test_a_bad_line_inside_stats_jsonl_is_named_and_the_curves_still_drawn(tmp_path: Path) -> None:
    # a line of stats.jsonl that is not a JSON object, before its last line (damaged, or edited by hand), was left
    # out of the training curves without a word; now it is named (file, line, why) in one warning and the curves are
    # drawn from the other rows. A torn last line (a run killed mid-write) is still left out without one
    from wildgan.errors import WildganWarning
    from wildgan.evaluation.report import _Page, _training_sections

    run, out = tmp_path / "run", tmp_path / "out"
    run.mkdir()
    out.mkdir()
    rows = [{"kimg": k / 10, "D/loss": float(k), "G/loss": 1.0, "img_per_s": 100.0 + k} for k in range(4)]
    p = run / "stats.jsonl"
    p.write_text(json.dumps(rows[0]) + '\n{"kimg": 0.1 "D/loss": 1.0}\n[2]\n'
                 + "".join(json.dumps(r) + "\n" for r in rows[1:]) + '{"kimg": 1.0, "D/lo')
    with pytest.warns(WildganWarning) as warned:
        _training_sections(_Page(title="t", md_dir=out), out, run)
    assert [str(w.message) for w in warned] == [
        f"{p}: 2 lines left out, not JSON objects: line 2 (not JSON: Expecting ',' delimiter (column 14)), "
        f"line 3 (a list, not a JSON object)"]
    assert _png_std(out / "training_curves.png") > 5.0


def test_the_run_report_page_names_the_bad_lines_of_stats_jsonl(tmp_path: Path) -> None:
    # `wildgan report RUN` named a bad line of stats.jsonl on the terminal only: the page, which is what is kept and
    # sent on, showed curves drawn without it as if the log were whole (the study report puts its note on the page).
    # Now the page has the warning's text as a note, and the terminal the warning once. A torn last line (a run
    # still writing, or killed mid-write) is no damage: neither
    from wildgan.cli import main
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config

    run = tmp_path / "run"          # a run before its first checkpoint: the page is its curves and config
    run.mkdir()
    write_run_config(RunConfig(data=DataConfig(normal=("0",), resolution=8, channels=1),
                               net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(device="cpu"),
                               preset="tiny"), run)
    rows = "".join(json.dumps({"kimg": k / 10, "D/loss": float(k), "G/loss": 1.0}) + "\n" for k in range(4))
    p = run / "stats.jsonl"
    p.write_text(rows + '{"kimg": 0.4 "D/loss": 1.0}\n' + rows + '{"kimg": 1.0, "D/lo')
    said = f"{p}: 1 line left out, not a JSON object: line 5 (not JSON: Expecting ',' delimiter (column 14))"

    def report_warnings() -> list[str]:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            assert main(["report", str(run), "--device", "cpu"]) == 0
        return [str(w.message) for w in warned]

    assert [m for m in report_warnings() if "left out" in m] == [said]
    md, page = (run / "report" / "report.md").read_text(), (run / "report" / "report.html").read_text()
    # (on the page the file is named in the run directory, which its first line gives: _page_path)
    on_page = said.replace(f"{p}:", "stats.jsonl:")
    assert f"## Training\n\n**{on_page}**\n" in md and "training_curves.png" in md
    assert f'<p class="note">{html.escape(on_page)}</p>' in page
    p.write_text(rows + '{"kimg": 1.0, "D/lo')
    assert not [m for m in report_warnings() if "left out" in m]
    assert "left out" not in (run / "report" / "report.md").read_text()
    assert "left out" not in (run / "report" / "report.html").read_text()


# ---------------------------------------------------------------------------------------------------------------
# Study report, dispatch, CLI

def test_study_report_tables_plot_and_rows(tmp_path: Path) -> None:
    study = tmp_path / "study"
    (study / "runs" / "cell-0").mkdir(parents=True)
    (study / "runs" / "cell-0" / "config.json").write_text("{}")
    rows = [_study_row(method=m, gamma=g, seed=s, auc={"a": 0.8 - g - 0.1 * (m == "fanogan") + 0.01 * s},
                       controls={"untrained": {"a": 0.6}}) for m in ("wildgan", "fanogan") for g in (0.0, 0.02, 0.05)
            for s in (0, 1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (study / "tables.md").write_text("# Table 2\n\n| method | gamma | AUC a |\n|---|---|---|\n| wildgan | 0 | 0.80 |\n")
    html_path = report(study)
    assert html_path == study / "report" / "report.html"
    page = html_path.read_text()
    assert "<td>wildgan</td>" in page and "Result rows" in page and "auc.a" in page and "runs/cell-0" in page
    # runs/cell-0 has no result row (no row names it as its run_dir): said beside it, in both pages
    assert "runs/cell-0 <span class='muted'>(no report yet" in page and "(no result row: in no table)" in page
    assert "- runs/cell-0 (no result row: in no table)" in (study / "report" / "report.md").read_text()
    png = study / "report" / "auc_vs_gamma.png"  # the study wrote no plot, so the report draws one
    assert png.is_file() and _png_std(png) > 5.0
    assert (study / "report" / "report.md").read_text().count("| wildgan | 0 | 0.80 |") == 1
    # a plot written by the study itself is used as it is
    (study / "auc_vs_gamma.png").write_bytes(png.read_bytes())
    (study / "auc_vs_gamma-normal-cat.png").write_bytes(png.read_bytes())
    assert report(study).read_text().count("data:image/png;base64,") == 2
    # ... copied into report/, which report.md links inside itself (it linked ../auc_vs_gamma.png): report/ can be
    # moved or sent on its own
    md = (study / "report" / "report.md").read_text()
    assert "](auc_vs_gamma.png)" in md and "](auc_vs_gamma-normal-cat.png)" in md and "../" not in md
    # the study's own figures have the fallback's bands (one rule): the page says which band is which there too
    assert "Shaded: the 95% interval of each point's mean" in md and "older wildgan" in md
    assert (study / "report" / "auc_vs_gamma-normal-cat.png").is_file()
    # a run's options are refused, not ignored: the cells are the runs
    with pytest.raises(ConfigError, match=r"--image / images= .* is a study, whose cells are the runs: report on a "
                                          r"cell \(e\.g\. wildgan report .*cell-0 --image ...\)"):
        report(study, images=["x.png"])
    # score= of a study: its figure of one score is the studies layer's (score_report), or a cell's report
    with pytest.raises(ConfigError, match=r"score= chooses the score of a run's report; .* is a study: its figure and "
                                          r"table of one score for every method are wildgan\.studies\.score_report\("
                                          r".*, \['L_r'\]\) \(`wildgan report .* --score L_r`\), or report on a "
                                          r"cell \(e\.g\. wildgan report .*cell-0\)"):
        report(study, score="L_r")



def test_study_report_commands_quote_paths_with_spaces(tmp_path: Path) -> None:
    # `wildgan report my study --score L_r`, copied from the refusal, was split by the shell at the space, as was a
    # cell's `wildgan report runs/cell 0` in the page's list of runs without a report
    study = tmp_path / "my study"
    (study / "runs" / "cell 0").mkdir(parents=True)
    (study / "runs" / "cell 0" / "config.json").write_text("{}")
    rows = [_study_row(method="wildgan", gamma=g, seed=0, auc={"a": 0.8 - g}) for g in (0.0, 0.05)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ConfigError) as e:
        report(study, score="L_r")
    assert f"(`wildgan report '{study}' --score L_r`)" in str(e.value), e.value
    assert f"(e.g. wildgan report '{study / 'runs' / 'cell 0'}')" in str(e.value), e.value
    page = report(study).read_text()
    # (the cell by the study's path as given, as the refusals above name it: runs/CELL alone worked only from inside
    # the study folder)
    assert f"runs/cell 0 <span class='muted'>(no report yet: wildgan report &#x27;{study / 'runs' / 'cell 0'}&#x27;)" \
        in page


def test_study_report_fallback_plot_is_each_methods_own_score_with_its_controls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The figure the report draws for a study that left none is the study's own: f-AnoGAN's curve of its own score
    A (not its a), each method's untrained networks of that score and the pixel controls beside."""
    study = tmp_path / "study"
    study.mkdir()
    rows = [_study_row(cell=f"{m}-{g}-{s}", method=m, gamma=g, seed=s,
                       auc={"a": 0.3, "A": 0.9 - g} if m == "fanogan" else {"a": 0.8 - g, "A": 0.4},
                       controls={"untrained": {"a": 0.55, "A": 0.6}, "pixel_norm": 0.52, "pixel_std": 0.51})
            for m in ("wildgan", "fanogan") for g in (0.0, 0.1) for s in (0, 1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drawn = _spy_on_gamma_figures(monkeypatch)
    report(study)
    assert len(drawn) == 1 and (study / "report" / "auc_vs_gamma.png").is_file()
    curves = drawn[0]
    assert [m for g, m, _ in curves["f-AnoGAN (A)"]] == pytest.approx([0.9, 0.8])
    assert [m for g, m, _ in curves["Ours d_I (a)"]] == pytest.approx([0.8, 0.7])
    assert not [k for k in curves if "f-AnoGAN" in k and k.endswith("(a)")]
    assert curves["control: untrained f-AnoGAN (A)"][0][1] == pytest.approx(0.6)
    assert curves["control: untrained Ours (a)"][0][1] == pytest.approx(0.55)
    assert curves["control: -‖Q‖"][0][1:] == pytest.approx((0.52, 0.0))    # one value per seed, not per cell
    assert "control: -std(Q)" in curves and "control: -mean(Q)" not in curves  # (the rows hold no mean control)

def test_study_report_fallback_plot_has_95_bands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The figure the report draws for a study that left none has 95% bands (gamma_curves.auc_vs_gamma_ci95): the
    t-interval of the mean over seeds where a point has several, else the cell's interval over its test images,
    and the page says which is which."""
    from wildgan.evaluation import plots

    study = tmp_path / "study"
    study.mkdir()
    rows = [_study_row(cell=f"w-{g}-{s}", gamma=g, seed=s, auc={"a": 0.8 - g + 0.02 * s},
                       auc_ci95={"a": [0.75 - g, 0.86 - g]}, controls={"untrained": {"a": 0.55}, "pixel_std": 0.6},
                       n_test=200, n_anomalous=100)
            for g in (0.0, 0.1) for s in ((0, 1) if g == 0.0 else (0,))]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drawn: list[dict[str, Any]] = []
    real = plots.auc_vs_gamma

    def spy(path: Path, curves: Any, **kw: Any) -> Path:
        drawn.append(kw)
        return real(path, curves, **kw)

    monkeypatch.setattr(plots, "auc_vs_gamma", spy)
    report(study)
    bands = {g: (b, a) for g, b, a in drawn[0]["bands"]["Ours d_I (a)"]}
    half = 12.706204736174705 * 0.02 / 2          # t(0.975, 1) * s / sqrt(2) of 0.80 and 0.82
    assert bands[0.0] == pytest.approx((half, half))
    assert bands[0.1] == pytest.approx((0.05, 0.06))    # one seed: its auc_ci95, 0.65-0.76 around 0.7
    assert "control: -std(Q)" in drawn[0]["bands"] and "t over seeds" in drawn[0]["band_text"]
    md = (study / "report" / "report.md").read_text()
    assert "Shaded: the 95% interval of each point's mean, for every curve (the controls too): a t-interval " in md
    assert _png_std(study / "report" / "auc_vs_gamma.png") > 5.0
    assert not list((study / "report").glob("auc_vs_gamma-normal-*"))     # one normal class: the pooled figure only


def test_study_report_fallback_draws_a_figure_per_normal_class(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With several normal classes, the report of a study that left no figure draws the study's per-class figures
    too (gamma_curves.gamma_plots), each banded by its own class's cells: read off the figures."""
    from figure_bands import bands_of

    from wildgan.evaluation import plots

    study = tmp_path / "study"
    study.mkdir()
    # normal 0: two seeds, 0.80 / 0.84 at gamma 0 and 0.70 / 0.74 at 10%; normal 1: one seed, its own interval
    rows = [_study_row(cell=f"0-{g}-{s}", normal="0", gamma=g, seed=s, auc={"a": 0.8 - g + 0.04 * s})
            for g in (0.0, 0.1) for s in (0, 1)]
    rows += [_study_row(cell=f"1-{g}", normal="1", gamma=g, seed=0, auc={"a": 0.6 - g},
                        auc_ci95={"a": [0.5 - g, 0.65 - g]}) for g in (0.0, 0.1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    figs: dict[str, Any] = {}
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.__setitem__(Path(path).name, fig) or real(fig, path))
    report(study)
    assert set(figs) == {"auc_vs_gamma.png", "auc_vs_gamma-normal-0.png", "auc_vs_gamma-normal-1.png"}
    half = 12.706204736174705 * 0.04 / 2 ** 0.5 / 2 ** 0.5    # t(0.975, 1) * s / sqrt(2) of 0.80 and 0.84
    zero, one = bands_of(figs["auc_vs_gamma-normal-0.png"].axes[0]), bands_of(figs["auc_vs_gamma-normal-1.png"].axes[0])
    assert zero["Ours d_I (a)"][10.0] == pytest.approx((0.72 - half, min(0.72 + half, 1.0)))
    assert one["Ours d_I (a)"] == {0.0: pytest.approx((0.5, 0.65)), 10.0: pytest.approx((0.4, 0.55))}
    assert "mean over 2 normal classes" in figs["auc_vs_gamma.png"].axes[0].get_ylabel()
    md = (study / "report" / "report.md").read_text()
    assert "](auc_vs_gamma-normal-0.png)" in md and "](auc_vs_gamma-normal-1.png)" in md
    assert (study / "report" / "auc_vs_gamma-normal-1.png").stat().st_size > 1000


def test_study_report_captions_the_studys_figures_by_their_class(tmp_path: Path) -> None:
    """The study's own per-class figures were captioned by their file's stem: 'a b' and 'a_b' both read 'normal-a b'
    (file_safe writes them alike), and the second, auc_vs_gamma-normal-a_b-2.png, 'normal-a b-2', a class no row
    has. Each is captioned by its class as the rows name it."""
    from wildgan.evaluation.gamma_curves import gamma_plots

    study = tmp_path / "study"
    study.mkdir()
    rows = [_study_row(cell=f"{n}-{g}", normal=n, gamma=g, auc={"a": 0.8 - g}) for n in ("a b", "a_b")
            for g in (0.0, 0.1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # the study's figures (stand-ins, under the names the study draws them by)
    names = [f.name for f in gamma_plots(rows)]
    assert names == ["auc_vs_gamma.png", "auc_vs_gamma-normal-a_b.png", "auc_vs_gamma-normal-a_b-2.png"]
    for name in names:
        Image.new("RGB", (4, 4)).save(study / name)
    (study / "tables.md").write_text("# Study results\n")
    report(study)
    page = (study / "report" / "report.html").read_text()
    # (in the study's order: the pooled figure first, as it was only where no class's file name sorted before it)
    caps = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert caps == ["AUC vs gamma", "AUC vs gamma, normal a b", "AUC vs gamma, normal a_b"], caps
    # rows newer than the tables and figures (a class added since would move the names): the files' own names
    later = (study / "tables.md").stat().st_mtime + 10
    os.utime(study / "results.jsonl", (later, later))
    report(study)
    caps = re.findall(r"<figcaption>(.*?)</figcaption>", (study / "report" / "report.html").read_text())
    assert "AUC vs gamma, normal a b" not in caps and len(caps) == 3, caps


def _spy_on_gamma_figures(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The curves of every AUC-versus-gamma figure drawn from now on, in order (plots.auc_vs_gamma, spied on)."""
    from wildgan.evaluation import plots

    drawn: list[dict[str, Any]] = []
    real = plots.auc_vs_gamma

    def spy(path: Path, curves: Any, **kw: Any) -> Path:
        drawn.append(dict(curves))
        return real(path, curves, **kw)

    monkeypatch.setattr(plots, "auc_vs_gamma", spy)
    return drawn


def _rows_of_two_lambdas() -> list[dict[str, Any]]:
    """Study rows of one wildgan cell per (gamma, seed): seed 0 scored with lambda 0.05 (the default), seed 1 with
    0.2, as a study run with seeds 0,1 and then with seed 0 only at the default lambda leaves them."""
    return [_study_row(cell=f"w-{g}-{s}", gamma=g, seed=s, auc={"a": 0.8 - g + 0.1 * s},
                       controls={"untrained": {"a": 0.55}, "pixel_norm": 0.5},
                       score_settings={"score.lam": 0.2 if s else 0.05})
            for g in (0.0, 0.1) for s in (0, 1)]


def test_study_report_fallback_figures_pool_the_rows_the_study_pools(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the study left no figure, the report drew its figures from every row of results.jsonl, rows the study
    leaves out of its tables and figures (computed with other score settings than its command's) among them: a mean
    of two scores passed off as the study's curve. Now it pools the rows the study pools (tables.csv's marks), and
    says how many it left out and why."""
    from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig
    from wildgan.studies.study import scored_otherwise, write_tables

    study = tmp_path / "study"
    study.mkdir()
    rows = _rows_of_two_lambdas()
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drawn = _spy_on_gamma_figures(monkeypatch)
    base = RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig())      # lambda 0.05
    apart = scored_otherwise(rows, base, study)
    assert sorted(apart) == ["w-0.0-1", "w-0.1-1"]
    write_tables(study, rows, apart=apart)
    (studys,) = drawn                       # the study's own figure, of seed 0's rows alone
    assert [m for _, m, _ in studys["Ours d_I (a)"]] == pytest.approx([0.8, 0.7])
    for png in study.glob("*.png"):
        png.unlink()                        # (a study that left none: deleted, or of a wildgan that drew none)
    report(study)
    assert drawn[1:] == [studys]            # the fallback's figure: the same curves (it pooled 0.85 and 0.75)
    md = (study / "report" / "report.md").read_text()
    said = ("2 of the 4 rows are left out of these figures, as tables.md leaves them out: tables.csv marks them "
            "computed otherwise than the study command that wrote it computes its cells (e.g. w-0.0-1: score.lam: "
            "0.2 -> 0.05).")
    from wildgan.markdown import md_escape

    # (plain text from the studies layer, escaped where it becomes Markdown: its `>` too)
    esc = md_escape(said)
    assert esc in md and md.index(esc) < md.index("Drawn from results.jsonl (the study left no plot)")


def test_study_report_fallback_without_tables_csv_pools_no_rows_of_other_scoring(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without tables.csv the report cannot know which score settings the study's command has: rows of several
    settings give no figure (it pooled them), and the page says why. Rows of other scoring rules than this
    wildgan's, which no study command of it pools, are left out, and said."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows_of_two_lambdas()))
    drawn = _spy_on_gamma_figures(monkeypatch)
    report(study)
    md = (study / "report" / "report.md").read_text()
    assert drawn == [] and not (study / "report" / "auc_vs_gamma.png").exists()
    assert ("No figure is drawn from results.jsonl: its rows were scored with different settings (score.lam 0.05 in 2 "
            "rows, 0.2 in 2 rows), and without the study's tables.csv it is not known which of them the study pools "
            "(those computed as its command computes its cells).") in md
    # one setting, but seed 1's rows of other scoring rules: left out, said
    rows = [{k: v for k, v in r.items() if k != "score_settings"} | ({"scores_version": 99} if r["seed"] else {})
            for r in _rows_of_two_lambdas()]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report(study)
    assert [[m for _, m, _ in d["Ours d_I (a)"]] for d in drawn] == [pytest.approx([0.8, 0.7])]
    md = (study / "report" / "report.md").read_text()
    assert ("2 of the 4 rows are left out of these figures, as the study's tables leave them out: computed by other "
            "scoring rules than this wildgan's, whose AUCs are of other scores (e.g. w-0.0-1: scoring rules of version "
            "99 (this wildgan's: 1)).") in md
    # every row of one older version (a study made before SCORES_VERSION was raised): computed alike, pooled, as
    # their study pooled them; each was set apart and the old study lost its figures
    rows = [{k: v for k, v in r.items() if k != "score_settings"} | {"scores_version": 0}
            for r in _rows_of_two_lambdas()]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from wildgan.evaluation.rows import tables_pool
    pool = tables_pool(study, rows)
    assert len(pool.pooled) == 4 and not pool.apart and pool.note("these figures") is None
    drawn.clear()
    report(study)
    assert [[m for _, m, _ in d["Ours d_I (a)"]] for d in drawn] == [pytest.approx([0.85, 0.75])]
    # two older versions: which the study pooled is not known, each set apart as before
    rows[0]["scores_version"] = 2
    assert tables_pool(study, rows).pooled == []
    # one older version, a cell's row twice (results.jsonl appended to again): still all of one version, pooled; the
    # count of cells set apart (4) was compared with the count of rows (5), and every row was left out
    rows[0]["scores_version"] = 0
    twice = tables_pool(study, [rows[0], *rows])
    assert len(twice.pooled) == 5 and not twice.apart


def test_score_sections_without_tables_csv_refuse_rows_of_several_score_settings_as_the_figures_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--score` (score_views) pooled rows of several score settings where no tables.csv said which the study pools,
    while the report's own fallback figures refused to: both now take the rows of rows.tables_pool, one rule."""
    from wildgan.cli import main
    from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig
    from wildgan.studies.study import score_views, scored_otherwise, write_tables

    study = tmp_path / "study"
    study.mkdir()
    rows = _rows_of_two_lambdas()
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drawn = _spy_on_gamma_figures(monkeypatch)
    said = ("no section of score a is drawn: its rows were scored with different settings (score.lam 0.05 in 2 rows, "
            "0.2 in 2 rows), and without the study's tables.csv it is not known which of them the study pools")
    with pytest.raises(ConfigError) as e:
        score_views(study, ["a", "a"])
    assert said in str(e.value) and str(study / "results.jsonl") in str(e.value), str(e.value)
    # the CLI: refused before anything is drawn or written
    assert main(["report", str(study), "--score", "a", "--no-progress"]) == 2
    assert drawn == [] and not (study / "report").exists()
    # with the study's tables.csv: its marks decide, the rows of the other setting left out and said
    write_tables(study, rows, apart=scored_otherwise(rows, RunConfig(DataConfig(), NetConfig(), TrainConfig()), study))
    (view,) = score_views(study, ["a"])
    assert view.notes and view.notes[0].startswith("2 of the 4 rows are left out of this section")
    # one setting and no tables.csv: pooled, as the figures pool them
    (study / "tables.csv").unlink()
    one = [{k: v for k, v in r.items() if k != "score_settings"} for r in rows]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in one))
    (view,) = score_views(study, ["a"])
    assert view.notes == ()


def test_study_report_lists_its_runs_in_a_folder_named_report(tmp_path: Path) -> None:
    # the report's own folder (STUDY/report) is left out of the run list, but a study kept under a folder named
    # report (~/report/my-study) lost every run with it
    study = tmp_path / "report" / "study"
    (study / "runs" / "cell-0").mkdir(parents=True)
    (study / "runs" / "cell-0" / "config.json").write_text("{}")
    (study / "results.jsonl").write_text(json.dumps(_study_row(run_dir="runs/cell-0")) + "\n")
    report(study)
    assert "## Runs\n\n- runs/cell-0\n" in (study / "report" / "report.md").read_text()


def test_study_report_says_when_its_tables_are_older_than_the_rows(tmp_path: Path) -> None:
    # rows appended to results.jsonl after tables.md was made (merged by hand): the tables shown do not count them,
    # and the report must say so instead of passing them off as the study's
    import os

    study = tmp_path / "study"
    study.mkdir()
    rows = [_study_row(seed=s) for s in (0, 1, 2)]
    (study / "results.jsonl").write_text(json.dumps(rows[0]) + "\n")
    (study / "tables.md").write_text("# Study results\n\nCells: 1.\n")
    assert "older than results.jsonl" not in report(study).read_text()
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = (study / "tables.md").stat().st_mtime_ns
    os.utime(study / "results.jsonl", ns=(t + 10**9, t + 10**9))
    page = report(study).read_text()
    assert "3 result rows" in page and "tables.md (and the plots) are older than results.jsonl" in page
    assert "older than results.jsonl" in (study / "report" / "report.md").read_text()
    (study / "tables.md").unlink()
    assert "has no tables.md yet" in report(study).read_text()


def test_study_report_names_the_lines_of_results_jsonl_that_are_no_rows(tmp_path: Path) -> None:
    # a line that is not JSON (edited by hand, or two rows glued by an older wildgan) was left out of the report
    # without a word, and a JSON object without the fields of its cell (which the study's tables leave out) was listed
    # among its rows; now each is named, on the page and in a warning, with what is wrong (the tables' own check), and
    # left out of the rows listed. A torn last line (a study still writing it, or killed) is left out without a word
    from wildgan.errors import WildganWarning

    study = tmp_path / "study"
    study.mkdir()
    rows = [_study_row(cell=f"c{s}", seed=s) for s in (0, 1)]
    no_cell = {k: v for k, v in _study_row(cell="c9", seed=9).items() if k not in ("normal", "seed")}
    (study / "results.jsonl").write_text(json.dumps(rows[0]) + "\nnot json\n[1]\n" + json.dumps(no_cell) + "\n"
                                         + json.dumps(rows[1]) + '\n{"to')
    said = (f"{study / 'results.jsonl'}: 3 lines left out of this report and of the study's tables, not result rows a "
            f"study writes: line 2 (not JSON: Expecting value (column 1)), line 3 (a list, not a JSON object), line 4 "
            f"(no normal, seed)")
    with pytest.warns(WildganWarning) as warned:
        page = report(study).read_text()
    assert [str(w.message) for w in warned if issubclass(w.category, WildganWarning)] == [said]
    md = (study / "report" / "report.md").read_text()
    from wildgan.markdown import md_escape

    assert "2 result rows" in page and f"**{md_escape(said)}**" in md      # (the warning raw, the page's note escaped)
    assert "| c0 |" in md and "| c1 |" in md and "c9" not in md


def test_study_report_says_when_its_rows_were_scored_otherwise(tmp_path: Path) -> None:
    # a study run again with another lambda on some of its cells keeps the other cells' rows: the report listed all
    # rows as one study's, with nothing saying that their AUCs are of different scores
    from wildgan.config import DataConfig, NetConfig, RunConfig, ScoreConfig, TrainConfig, write_run_config

    study = tmp_path / "study"
    study.mkdir()
    settings = {"score.lam": 0.05, "score.kappa": 1.0, "search.seed": 0}
    rows = [_study_row(cell=f"c{s}", method="search", seed=s, score_settings={**settings, "score.lam": lam,
                                                                              "search.seed": s})
            for s, lam in ((0, 0.2), (1, 0.05))]
    rows.append({**rows[0], "cell": "c2", "seed": 2, "scores_version": 2})
    # a row from before the field: scored with its cell's config.json's settings
    (study / "runs" / "c3").mkdir(parents=True)
    write_run_config(RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(), method="search",
                               score=ScoreConfig(lam=0.2)), study / "runs" / "c3")
    rows.append({k: v for k, v in {**rows[0], "cell": "c3", "seed": 3, "run_dir": "runs/c3"}.items()
                 if k != "score_settings"})
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (study / "tables.md").write_text("# Study results\n")
    page = report(study).read_text()
    md = (study / "report" / "report.md").read_text()
    said = ("The 4 result rows were not all computed alike (scores_version 1 in 3 rows, 2 in 1 row; score.lam 0.2 in "
            "3 rows, 0.05 in 1 row): AUCs of different scores are no sample of one number.")
    assert said in md and said in page        # (search.seed, each cell's own, is no difference)
    header = next(ln for ln in md.splitlines() if ln.startswith("| cell"))
    assert header.endswith("| scores_version | score.lam |") and "search.seed" not in header
    assert "| c1 | search |" in md and md.split("| c1 | search |")[1].split("\n")[0].endswith("| 1 | 0.050 |")
    # rows computed alike: nothing said, no such columns
    (study / "results.jsonl").write_text(json.dumps(rows[1]) + "\n" + json.dumps({**rows[1], "cell": "c4"}) + "\n")
    md = (report(study).parent / "report.md").read_text()
    assert "not all computed alike" not in md and "score.lam" not in md


def test_study_report_keeps_pipes_inside_table_cells(tmp_path: Path) -> None:
    # report.html renders tables.md with the package's own converter and report.md copies it: a `|` inside a cell
    # (escaped `\\|`, as GitHub reads it) must stay one cell in both, and so must one in a result row's value
    from wildgan.studies import render_markdown

    study = tmp_path / "study"
    study.mkdir()
    auc = {"A": 0.4, "L_r": 0.41, "L_n": 0.55, "L_o": 0.69, "a": 0.7}
    rows = [{"protocol": "cifar10", "normal": "automobile", "gamma": 0.0, "method": "wildgan", "encoder_loss": "image",
             "seed": s, "auc": auc, "ap": auc, "cell": f"a|b{s}",
             "controls": {"untrained": auc, "pixel_norm": 0.62, "pixel_std": 0.5, "pixel_mean": 0.45}}
            for s in (0, 1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    old_name = "\n| control | AUC |\n|---|---|\n| -\\|\\|Q\\|\\| (pixel norm) | 0.620 |\n"
    (study / "tables.md").write_text(render_markdown(rows) + old_name, encoding="utf-8")
    page = report(study).read_text(encoding="utf-8")
    assert "<td>control: -‖Q‖ (pixel norm)</td><td>–</td><td>0.620 ± 0.000 (n=2)</td>" in page
    assert "<td>-||Q|| (pixel norm)</td><td>0.620</td>" in page
    assert "<td>a|b0</td>" in page
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    assert "# Study results" not in md.splitlines() and "### Study results" in md   # under the page's "Tables"
    assert "<h3>Study results</h3>" in page
    tables: list[list[list[str]]] = []
    prev = ""
    for line in md.splitlines():                  # split as GitHub does: at each pipe not escaped as \\|
        if line.startswith("|"):
            if not prev.startswith("|"):
                tables.append([])
            tables[-1].append(re.split(r"(?<!\\)\|", line.strip()[1:-1]))
        prev = line
    assert len(tables) == 4                       # Table 1, Table 2, the extra table above, the result rows
    for t in tables:
        assert all(len(r) == len(t[0]) for r in t), t
    assert "| a\\|b0 |" in md


def test_a_sample_grid_is_captioned_with_its_kimg_to_the_image() -> None:
    # `:g` cut 1234.567 kimg to 1234.57: the caption is said as every kimg a message gives (kimg_to_the_image)
    from wildgan.evaluation.report import _grid_kimg

    assert [_grid_kimg(Path(f"fakes-{s}kimg.png")) for s in ("001234.567", "000000.320", "000050", "x")] == [
        "1234.567 kimg", "0.32 kimg", "50 kimg", "x"]


def test_report_rejects_a_plain_folder(tmp_path: Path) -> None:
    from wildgan.errors import ConfigError

    with pytest.raises(ConfigError, match="neither a run directory"):
        report(tmp_path)
    with pytest.raises(ConfigError, match=r"nonexist: no such folder \(a run directory or a study directory"):
        report(tmp_path / "nonexist")


def test_a_data_set_file_given_as_an_image_is_named_as_one(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from wildgan.cli import main

    np.savez(tmp_path / "x.npz", x=np.zeros((3, 16, 16), np.uint8))
    want = r"x.npz: a data-set file \(an .npz archive\), not an image"
    before = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    for skip_bad in (False, True):                  # not an unreadable image that --skip-bad would leave out
        with pytest.raises(DataError, match=want):
            report(tiny_run, images=[tmp_path / "x.npz"], device="cpu", skip_bad=skip_bad)
    assert main(["report", str(tiny_run), "--image", str(tmp_path / "x.npz")]) == 2
    assert re.search(want, capsys.readouterr().err)
    after = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    assert after == before


def test_report_cli_parser() -> None:
    p = argparse.ArgumentParser(prog="wildgan")
    add_report_parser(p.add_subparsers(dest="cmd"))
    a = p.parse_args(["report", "runs/x", "--top-k", "5", "--image", "a.png", "b.png", "--image", "c.png"])
    assert (a.path, a.top_k, a.image, a.no_controls) == ("runs/x", 5, ["a.png", "b.png", "c.png"], False)
    # the function that runs it is given by the CLI's parser (cli.parser names no command's function)
    assert make_parser().parse_args(["report", "runs/x"]).func is cmd_report


@pytest.mark.parametrize("args, words", [
    (["--score", "l_r"], "invalid choice"),                     # a typo is not silently ranked by a
    (["--score", "z_norm"], "invalid choice"),                  # higher z_norm = more normal: not a ranking score
    (["--tsne-points", "0"], "--tsne-points must be at least 5"),
    (["--top-k", "-2"], "--top-k must be >= 0"),
    (["--image", "nope.png"], "nope.png: no such file"),
    (["--masks", "nope.npy"], "nope.npy: no such file"),
])
def test_report_refuses_bad_arguments_before_writing(tiny_run: Path, args, words, capsys) -> None:
    from wildgan.cli import main

    before = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) if "choice" in words else _no_raise():
        assert main(["report", str(tiny_run), "--no-controls", *args]) == 2
    assert words in capsys.readouterr().err
    after = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    assert after == before                                     # the existing report is untouched


def test_masks_that_are_no_npy_file_say_what_masks_takes(tmp_path: Path) -> None:
    # np.load read an .npz as an archive, whose names then failed as 'masks of <U1 values', and called a CSV a pickle
    # with advice to load it with allow_pickle
    from wildgan.errors import DataError
    from wildgan.evaluation.heatmaps import load_masks

    np.savez(tmp_path / "m.npz", masks=np.zeros((4, 8, 8), bool))
    (tmp_path / "m.csv").write_text("id,mask\n0,1\n")
    with pytest.raises(DataError, match=r"m\.npz: an \.npz archive; masks= takes one \.npy array of masks"):
        load_masks(tmp_path / "m.npz")
    with pytest.raises(DataError, match=r"m\.csv: not an \.npy file; masks= takes one \.npy array") as e:
        load_masks(tmp_path / "m.csv")
    assert "pickle" not in str(e.value)
    np.save(tmp_path / "m.npy", np.ones((4, 8, 8), bool))
    assert load_masks(tmp_path / "m.npy").shape == (4, 8, 8)


@pytest.mark.parametrize("masks, words", [
    (np.zeros((3, 16, 16), bool), "3 masks for the run's 400 test images"),
    (np.zeros((400, 28, 28), bool), "masks of 28x28 pixels do not match the heat maps: one mask per test image at "
                                    "the network resolution (16x16"),
    (np.full((400, 16, 16), np.nan, np.float32), "102400 mask values are NaN or infinite"),
    (-np.ones((400, 16, 16), np.int8), "masks with values below 0 (down to -1)"),
    (np.zeros((400, 256), bool), "masks of shape (400, 256); expected [N, H, W]"),
    (np.array(["x"] * 400), "masks of <U1 values"),
])
def test_report_masks_are_checked_before_any_scoring(tiny_run: Path, tmp_path: Path, capsys, monkeypatch, masks,
                                                     words) -> None:
    # the count was checked only after all the scoring and figures (minutes on a real run), and the values never
    import wildgan.evaluation.report as report_mod
    from wildgan.cli import main

    def no_scoring(*a, **k):
        raise AssertionError("scored before the masks were checked")

    monkeypatch.setattr(report_mod, "diagnose_run", no_scoring)
    np.save(tmp_path / "m.npy", masks)
    before = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    assert main(["report", str(tiny_run), "--no-controls", "--masks", str(tmp_path / "m.npy"),
                 "--tsne-points", "20"]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'm.npy'}: " in err and words in err, err     # the file, then the problem
    after = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    assert after == before


def test_masks_of_a_run_without_a_test_split_or_of_a_study_are_refused(tiny_run: Path, tmp_path: Path) -> None:
    # they were ignored without a word (an unlabelled run's report ranks its training images: no masks align)
    from wildgan.errors import ConfigError

    for record, trained_on in (({"protocol": "unlabelled"}, "unlabelled images"),
                               ({"detector_input": True}, "images given to Detector.fit")):
        run = tmp_path / trained_on.split()[0]
        run.mkdir()
        (run / "config.json").write_text((tiny_run / "config.json").read_text())
        (run / "split.json").write_text(json.dumps({**record, "n_train": 8, "resolution": 16}))
        with pytest.raises(ConfigError, match=f"masks are for the test images of a run's own test split, and {run} "
                                              f"was trained on {trained_on}"):
            report(run, masks=np.zeros((8, 16, 16), bool), device="cpu")
        assert not (run / "report").exists()
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "results.jsonl").write_text("")
    with pytest.raises(ConfigError, match="masks are for the report of a run"):
        report(tmp_path / "study", masks=np.zeros((8, 16, 16), bool))


def test_undefined_pixel_auc_says_why() -> None:
    from wildgan.evaluation.heatmaps import check_masks, undefined_pixel_auc

    maps = np.random.default_rng(0).random((2, 4, 4))
    none = check_masks(np.zeros((2, 4, 4), np.uint8), 2, 4)
    every = check_masks(np.full((2, 4, 4), 0.2, np.float32), 2, 4)          # float masks with no 0 anywhere
    some = check_masks(np.eye(4, dtype=bool)[None].repeat(2, 0), 2, 4)
    assert np.isnan(pixel_auc(maps, none)) and np.isnan(pixel_auc(maps, every))
    assert undefined_pixel_auc(none, maps) == "the masks mark no anomalous pixel (every value is 0)"
    assert undefined_pixel_auc(every, maps).startswith("every pixel is marked anomalous")
    assert undefined_pixel_auc(some, maps) is None and np.isfinite(pixel_auc(maps, some))
    assert "heat-map pixels are NaN" in undefined_pixel_auc(some, np.where(maps > 0.5, np.nan, maps))


@pytest.mark.parametrize("fill, why", [(0.0, "undefined: the masks mark no anomalous pixel (every value is 0)"),
                                       (0.3, "undefined: every pixel is marked anomalous")])
def test_a_report_says_why_its_pixel_auc_is_undefined(tiny_run: Path, tmp_path: Path, fill, why) -> None:
    import shutil
    import warnings

    from wildgan.errors import WildganWarning

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    np.save(tmp_path / "m.npy", np.full((400, 16, 16), fill, np.float32))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        # --top-k 0: the pixel AUC is of every test image's map, not only of the maps shown
        report(run, top_k_images=0, masks=tmp_path / "m.npy", device="cpu", controls=False, tsne_points=20)
    assert any(issubclass(w.category, WildganWarning) and why.removeprefix("undefined: ") in str(w.message)
               for w in said), [str(w.message) for w in said]
    md = (run / "report" / "report.md").read_text()
    from wildgan.markdown import md_escape

    assert f"Pixel-level ROC AUC of the heat maps against the ground-truth masks ({md_escape(tmp_path / 'm.npy')}): " \
        f"{why}" in md
    m = json.loads((run / "report" / "metrics.json").read_text())
    assert m["pixel_auc"] != m["pixel_auc"] and why.removeprefix("undefined: ") in m["pixel_auc_undefined"]


def test_a_report_made_from_elsewhere_names_its_paths_for_any_reader(tiny_run: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # a new user's report, made from another folder than the run's: report.md named the networks' file relative to
    # where `wildgan report` was run ('../runs/run/network-final.json') beside an absolute run directory, a path
    # that pointed nowhere from the page or from anywhere else. Files of the run now read in the run directory,
    # anything else in full; the console still names them as given
    import shutil

    from wildgan.markdown import md_escape

    run = tmp_path / "runs" / "run"
    shutil.copytree(tiny_run, run)
    stats = (run / "stats.jsonl").read_text().splitlines(keepends=True)
    (run / "stats.jsonl").write_text(stats[0] + "not a row\n" + "".join(stats[1:]))
    np.save(tmp_path / "m.npy", np.random.default_rng(0).random((400, 16, 16)) > 0.9)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        report(Path("../runs/run"), top_k_images=0, masks="../m.npy", device="cpu", controls=False, tsne_points=20)
    md = (run / "report" / "report.md").read_text()
    assert f"Run directory: {md_escape(run.resolve())}\n" in md
    assert "\nNetworks: network-final.json (kimg " in md, md[:2000]
    assert f"against the ground-truth masks ({md_escape((tmp_path / 'm.npy').resolve())}): " in md
    assert "\n**stats.jsonl: 1 line left out" in md
    assert "../" not in md                     # (the PNG links point into report/ itself)
    assert any(str(w.message).startswith("../runs/run/stats.jsonl: 1 line left out") for w in said)
    # metrics.json keeps the file the networks were loaded from, as loaded
    assert json.loads((run / "report" / "metrics.json").read_text())["model"]["source"] == \
        "../runs/run/network-final.json"


def test_every_file_a_report_writes_is_one_a_later_report_can_replace(tiny_run: Path) -> None:
    # a new report removes the outputs of the previous one it does not write again, by REPORT_FILES: an output
    # missing there would outlive the report that wrote it
    from wildgan.evaluation.report import REPORT_FILES

    out = tiny_run / "report"
    files = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    listed = {p.relative_to(out) for pattern in REPORT_FILES for p in out.glob(pattern)}
    assert files and files <= listed, sorted(map(str, files - listed))
    assert not list(tiny_run.glob(".report-partial-*"))


def test_a_new_report_removes_what_the_previous_one_wrote_and_it_does_not(tiny_run: Path, tmp_path: Path) -> None:
    # `report --image new.png` and then `report --top-k 2` kept the first one's named_images.csv; --top-k 0 kept
    # top_anomalous.csv and heatmaps/top_heatmaps.npz, and a run without sample grids its samples/
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)          # its report: --image, --top-k 3, masks
    out = run / "report"
    assert "No controls on this page" not in (out / "report.md").read_text()
    assert (out / "named_images.csv").is_file() and (out / "heatmaps" / "image-01.png").is_file()
    (out / "notes.txt").write_text("mine")                      # not a report output: left alone
    shutil.rmtree(run / "samples")
    said: list[str] = []
    report(run, top_k_images=0, device="cpu", controls=False, tsne_points=20, log=said.append)
    for gone in ("named_images.csv", "top_anomalous.csv", "heatmaps", "samples"):
        assert not (out / gone).exists(), gone
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.html").is_file() and (out / "roc.png").is_file()
    assert any(s.startswith("removed ") and "named_images.csv" in s for s in said), said
    md = (out / "report.md").read_text()
    for ref in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / ref).is_file(), ref
    assert not list(run.glob(".report-partial-*"))
    # without controls the page says so, rather than explaining controls its table does not hold
    assert "No controls on this page: it was made with --no-controls" in md
    report(run, top_k_images=2, device="cpu", controls=False, tsne_points=20)
    assert sorted(p.name for p in (out / "heatmaps").iterdir()) == ["top-01.png", "top-02.png", "top_heatmaps.npz"]
    assert not (out / "named_images.csv").exists()


def test_a_report_that_fails_midway_leaves_the_previous_one_whole(tiny_run: Path, tmp_path: Path, monkeypatch):
    import shutil

    from wildgan.evaluation import plots

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = {p: p.read_bytes() for p in (run / "report").rglob("*") if p.is_file()}

    def broken(*a, **k):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(plots, "closest_matches", broken)       # after metrics.json, roc.png ... were written
    with pytest.raises(RuntimeError, match="drawing failed"):
        report(run, top_k_images=1, device="cpu", controls=False, tsne_points=20)
    assert {p: p.read_bytes() for p in (run / "report").rglob("*") if p.is_file()} == before
    assert not list(run.glob(".report-partial-*"))


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_an_unreadable_named_image_stops_the_report_before_it_touches_the_folder(tiny_run, tmp_path) -> None:
    bad = tmp_path / "cut.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    before = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    with pytest.raises(DataError, match="cut.png"):
        report(tiny_run, top_k_images=TOP_K, images=[bad], device="cpu", tsne_points=150)
    after = {p: p.stat().st_mtime_ns for p in (tiny_run / "report").rglob("*") if p.is_file()}
    assert after == before          # the old report is whole: nothing rewritten, nothing removed


def test_many_named_images_are_ranked_and_only_the_most_anomalous_mapped(tiny_run, tmp_path, monkeypatch) -> None:
    import csv

    import wildgan.evaluation.report as report_mod
    from wildgan.evaluation.run import split_for_run

    monkeypatch.setattr(report_mod, "MAX_NAMED_MAPS", 3)
    split = split_for_run(tiny_run)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(split.test_x[i, ..., 0]).save(folder / f"n{i}.png")
    copy = tmp_path / "run"
    import shutil

    shutil.copytree(tiny_run, copy)
    for old in (copy / "report" / "heatmaps").glob("*.png"):
        old.unlink()
    # (no controls, 20 t-SNE points: the named images' ranking and maps are what it checks, and the controls' scoring
    # and 150 points made it one of the slowest report tests)
    report(copy, top_k_images=1, images=[folder], device="cpu", tsne_points=20, controls=False)
    rows = list(csv.DictReader(open(copy / "report" / "named_images.csv", newline="")))
    a = [float(r["a"]) for r in rows]
    assert len(rows) == 8 and a == sorted(a, reverse=True)          # all of them, most anomalous first
    assert sorted(p.name for p in (copy / "report" / "heatmaps").glob("image-*.png")) == \
        ["image-01.png", "image-02.png", "image-03.png"]
    assert "Heat maps of the 3 most anomalous of the 8 named images" in (copy / "report" / "report.md").read_text()


def test_each_named_image_is_decoded_once(tiny_run, tmp_path, monkeypatch) -> None:
    # the up-front check (a bad file refused before the report folder is touched) decoded every file in full, and
    # the scoring decoded it again: now the images read up front are the ones scored
    import shutil

    import wildgan.data.decode_pool as decode_pool
    import wildgan.data.image_decode as image_decode
    from wildgan.evaluation.run import split_for_run

    split = split_for_run(tiny_run)
    folder = tmp_path / "named"
    folder.mkdir()
    for i, ext in enumerate(("png", "jpg", "bmp", "tif")):      # four: a full group for the minibatch stddev
        Image.fromarray(split.test_x[i, ..., 0]).save(folder / f"n{i}.{ext}")
    decoded: list[str] = []
    read_image_sized = image_decode.read_image_sized

    def spy(path, *a, **k):
        decoded.append(Path(path).name)
        return read_image_sized(path, *a, **k)

    # both names of the one decoding function (decode_pool imports it by name)
    monkeypatch.setattr(image_decode, "read_image_sized", spy)
    monkeypatch.setattr(decode_pool, "read_image_sized", spy)
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    report(copy, top_k_images=1, images=[folder], device="cpu", tsne_points=20, controls=False)
    assert sorted(decoded) == ["n0.png", "n1.jpg", "n2.bmp", "n3.tif"]
    assert len((copy / "report" / "named_images.csv").read_text().splitlines()) == 1 + 4     # all four scored


def test_report_of_networks_that_never_grew_says_so(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "short"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report", "checkpoints"))
    meta = json.loads((run / "network-final.json").read_text())
    meta["lod"] = 1.5                     # as a short --total-kimg leaves it: mid fade-in of 8x8 -> 16x16
    (run / "network-final.json").write_text(json.dumps(meta))
    report(run, top_k_images=1, device="cpu", controls=False, tsne_points=50)
    md = (run / "report" / "report.md").read_text()
    assert "Not fully grown: the networks stopped at lod 1.5 and are scored at 8x8 (still fading in from 4x4), " \
        "not the data's 16x16" in md
    assert "Not fully grown" not in (tiny_run / "report" / "report.md").read_text()
    assert "The most anomalous test image (by score a)" in md           # --top-k 1: in the singular


def _search_run(run: Path, resolution: int) -> Path:
    """A latent-search run folder on MNIST (untrained networks, one search step: only the report's text matters)."""
    from dataclasses import replace as _replace

    from wildgan import checkpoint as ckpt
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, to_dict, write_run_config
    from wildgan.nets import build_pgan

    net = net_config_for_preset("tiny", resolution, 1)
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=resolution, channels=1), net=net,
                    train=TrainConfig(total_kimg=1.0), preset="tiny", method="search")
    write_run_config(_replace(cfg, search=_replace(cfg.search, steps=1)), run)
    ckpt.save_checkpoint(run, "network-final", ckpt.networks_to_tensors(build_pgan(net, 0).modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(net), "lod": 0.0})
    return run


def test_a_search_run_report_says_up_front_that_it_searches_again(tmp_path):
    # the audit's case: the report of a latent-search run looked stuck for minutes ("scoring 400 test images")
    from wildgan.evaluation.report import diagnose_run

    run = _search_run(tmp_path / "search", 16)
    said: list[str] = []
    diagnose_run(run, device="cpu", controls=False, log=said.append)
    assert any(m.startswith("note: latent search optimises a latent per image (1 steps)") for m in said), said
    assert not any("--no-controls skips that" in m for m in said)        # asked without controls: once only


def test_a_search_run_report_names_its_searched_latents_and_generators(tmp_path):
    # a search run's report said "This method has one generator" (it trains G and Gs) and captioned its searched
    # latents z* as the encoder's E(Q) (it has no encoder); its closest matches are Gs(z*), as its heat maps say
    # (the grid called them G(z*))
    from wildgan.evaluation.report import run_report

    run = _search_run(tmp_path / "search", 8)
    run_report(run, top_k_images=0, device="cpu", controls=False, tsne_points=5)
    md = (run / "report" / "report.md").read_text()
    assert "Latent search is scored with Gs only, so the last column is empty." in md
    assert "one generator" not in md
    # (captions: their * escaped in the Markdown, md_escape, so that it is no emphasis marker)
    assert "t-SNE of the searched test latents z*" in _plain(md) and "closest matches: query row, Gs(z*) row" in \
        _plain(md)
    assert "||z*||" in _plain(md) and "||E(Q)||, normal" not in _plain(md)


def test_a_search_run_report_says_why_it_has_no_threshold_and_what_one_costs(tmp_path):
    # a search run's report gave the generic "no training scores" paragraph, which did not say that its training
    # leaves them out on purpose (a latent search per training image), nor what `score --threshold` will cost
    from dataclasses import replace as _replace

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.report import run_report
    from wildgan.training.run import train_run

    run = tmp_path / "search"        # trained (a few steps), so that split.json gives the split's sizes
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1), preset="tiny", method="search",
                    train=TrainConfig(total_kimg=0.02, phase_kimg=0.01, minibatch=PRESETS["tiny"]["minibatch"],
                                      encoder_loss="none", device="cpu"))
    train_run(_replace(cfg, search=_replace(cfg.search, steps=1)), run, progress=False, log=lambda m: None)
    run_report(run, top_k_images=0, device="cpu", controls=False, tsne_points=5)
    md = (run / "report" / "report.md").read_text()
    said = md.split("## Threshold")[1].split("\n## ")[0]
    assert "No threshold: this latent-search run has no training scores of a for these networks. Its training " \
           "does not score its training images, on purpose: a score is an optimisation of a latent per image (1 " \
           "Adam step through G and D)" in said, said
    n_train, n_test = (json.loads((run / "split.json").read_text())[k] for k in ("n_train", "n_test"))
    assert f"a search of its {n_train} training images, {n_train / n_test:.3g} times the search of its {n_test} " \
           f"test images" in said, said
    assert "`wildgan score RUN --threshold contamination --out scores.csv` searches them once and caches them" in said
    assert "nor by a search run's training" not in said               # the generic paragraph is for other runs


def test_the_report_of_a_fit_run_with_skip_bad_reads_training_scores_that_leave_a_file_out(fit_run_gone_bad):
    # a Detector.fit run's training scores computed with skip_bad (a file unreadable since training) are read by
    # `wildgan score --threshold --skip-bad` and from_run(skip_bad=True); its report with --skip-bad read them without
    # it, and said "No threshold", advising the very command that had cached them. Now its threshold section is
    # taken from them, saying how many of fit's images they hold; without skip_bad it still shows none
    from wildgan.errors import WildganWarning
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.train_scores import run_training_scores

    run, pile, _ = fit_run_gone_bad
    with pytest.warns(WildganWarning, match="leave out 1 unreadable file"):
        assert len(run_training_scores(run, skip_bad=True, device="cpu")["a"]) == 19

    def threshold_section(skip_bad: bool) -> tuple[str, list[str]]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            run_report(run, top_k_images=0, device="cpu", controls=False, skip_bad=skip_bad)
        md = (run / "report" / "report.md").read_text()
        return md.split("## Threshold")[1].split("\n## ")[0], [str(w.message) for w in got]

    said, warned = threshold_section(skip_bad=True)
    assert "taken from the 19 training images' scores (train_scores.csv: 19 of the 20 images fit trained on, the " \
           "others left out as unreadable when they were scored)" in said, said
    assert "No threshold" not in said and "The last row is the threshold of the Detector that fit this run" in said
    assert len([w for w in warned if str(pile / "03.png") in w]) == 1, warned        # (said once)
    said, _ = threshold_section(skip_bad=False)
    assert said.strip().startswith("No threshold"), said


def test_the_report_of_a_detector_run_describes_its_data(tmp_path):
    # before: "Data: detector from in-memory ndarray; normal classes ; gamma None"
    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    run = tmp_path / "det"
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(x)
    from wildgan.evaluation.report import run_report

    run_report(run, top_k_images=2, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "Data: 24 training images given to Detector.fit (in-memory ndarray), no labels and no test split; " \
           "16x16x1." in md, md[:2000]
    assert "normal classes ;" not in md
    # its thresholds were said to come "never from the test images", of which it has none
    section = md.split("## Threshold")[1].split("\n## ")[0]
    assert "taken from the 24 training images' scores (train_scores.csv), the only images " \
           "of this run (it has no test images; new images are set against these thresholds)" in section, section
    assert "test images" not in section.replace("it has no test images", ""), section


def test_the_report_names_the_embedded_sample_not_the_installation_that_trained_on_it():
    # split.json records the sample's path in the installation that trained the run, which another installation's
    # report showed as if it were the data's place (a path that may be gone)
    from wildgan.evaluation.report import _data_text

    info = {"protocol": "mnist", "normal_classes": ["1"], "gamma": 0.0, "n_train": 600, "n_train_anomalous": 0,
            "n_test": 400, "n_test_anomalous": 200, "resolution": 32, "channels": 1,
            "source": "/gone/lib/python3.11/site-packages/wildgan/data/sample/mnist-sample.npz"}
    assert _data_text(info).startswith("Data: mnist from the embedded MNIST sample; normal class 1; gamma 0.0;")
    # one class is 'class' (the demo's page said 'normal classes 1'), several are 'classes'
    assert "; normal classes 1, 7; " in _data_text({**info, "normal_classes": ["1", "7"]})
    assert _data_text({**info, "source": "/data/mine.npz"}).startswith("Data: mnist from /data/mine.npz;")


def test_a_search_run_report_rescores_the_evaluations_latents_instead_of_searching_again(tmp_path, monkeypatch):
    # the report of a latent-search run used to search again (as long as the evaluation, twice with the controls):
    # the evaluation now keeps its latents (test_search.npz), and the report rescores them in one pass, after
    # checking that they give the evaluation's scores with the networks at hand
    from dataclasses import replace as _replace

    from wildgan import checkpoint as ckpt
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, to_dict, write_run_config
    from wildgan.evaluation.report import diagnose_run
    from wildgan.evaluation.run import SEARCH_CACHE, evaluate_run
    from wildgan.nets import build_pgan
    from wildgan.scoring import latent_search as ls

    run = tmp_path / "search"
    net = net_config_for_preset("tiny", 16, 1)
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=16, channels=1), net=net,
                    train=TrainConfig(total_kimg=1.0), preset="tiny", method="search")
    # (one search step: the cache's reuse, refusal and rescoring are what it checks, each searching the test split
    # through the trained and the untrained networks, whose 3 steps were most of its time)
    write_run_config(_replace(cfg, search=_replace(cfg.search, steps=1)), run)
    from wildgan.data import build_split
    from wildgan.training.run import write_split_info

    write_split_info(build_split(cfg.data), run)               # as training leaves it: the run's own test split

    def save(seed: int) -> None:
        ckpt.save_checkpoint(run, "network-final", ckpt.networks_to_tensors(build_pgan(net, seed).modules()),
                             {"kind": ckpt.NETWORKS_KIND, "net": to_dict(net), "lod": 0.0})

    save(0)
    evaluate_run(run, device="cpu")
    assert (run / SEARCH_CACHE).is_file()
    _, searched = diagnose_run(run, device="cpu", controls=True, log=lambda m: None)   # cache checked, reused
    (run / SEARCH_CACHE).rename(tmp_path / "kept.npz")
    said: list[str] = []
    _, fresh = diagnose_run(run, device="cpu", controls=True, log=said.append)        # no cache: searches twice
    assert any("--no-controls skips that" in m for m in said), said
    for k in ("a", "L_n", "L_r", "A", "z_norm"):
        np.testing.assert_allclose(searched.scores[k], fresh.scores[k], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(searched.controls["untrained"].get(k, 0), fresh.controls["untrained"].get(k, 0),
                                   rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(searched.recon, fresh.recon, atol=1e-5)
    (tmp_path / "kept.npz").rename(run / SEARCH_CACHE)

    def no_search(*a, **k):
        raise AssertionError("searched again")

    with monkeypatch.context() as m:
        m.setattr(ls, "latent_search", no_search)
        said = []
        diagnose_run(run, device="cpu", controls=True, log=said.append)
    assert not any(s.startswith("note: latent search") for s in said), said
    assert sum("latents from the evaluation, rescored without searching" in s for s in said) == 2, said

    # the networks changed since the evaluation: the trained latents are refused (the untrained ones still fit)
    save(1)
    said = []
    diagnose_run(run, device="cpu", controls=True, log=said.append)
    assert any("do not give its scores with these networks" in s for s in said), said
    assert any("the untrained networks' latents from the evaluation" in s for s in said), said
    # other search settings: not read at all
    write_run_config(_replace(cfg, search=_replace(cfg.search, steps=2)), run)
    said = []
    diagnose_run(run, device="cpu", controls=False, log=said.append)
    assert any("kept with other search settings" in s for s in said), said
    assert any(s.startswith("note: latent search optimises a latent per image (2 steps)") for s in said), said


def test_a_search_cache_of_the_other_generator_is_not_taken(tmp_path):
    # the cache's key (search_info) did not name the generator the latents were searched through; the rescoring
    # check compares a, which at lam 0 is L_o = -||z|| / sqrt(N_z), a function of z alone: latents searched through
    # Gs were taken for a report scoring with G, their L_r, L_n and A those of another generator's latents
    from dataclasses import replace as _replace

    import torch

    from wildgan import checkpoint as ckpt
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, to_dict, write_run_config
    from wildgan.data import build_split
    from wildgan.evaluation.report import diagnose_run
    from wildgan.evaluation.run import SEARCH_CACHE, evaluate_run
    from wildgan.nets import build_pgan
    from wildgan.training.run import write_split_info

    run = tmp_path / "search"
    net = net_config_for_preset("tiny", 16, 1)
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=16, channels=1), net=net,
                    train=TrainConfig(total_kimg=1.0), preset="tiny", method="search")
    cfg = _replace(cfg, search=_replace(cfg.search, steps=2), score=_replace(cfg.score, lam=0.0))
    write_run_config(cfg, run)
    write_split_info(build_split(cfg.data), run)
    nets = build_pgan(net, 0)
    with torch.no_grad():
        for p in nets.Gs.parameters():
            p.add_(0.3 * torch.randn_like(p))            # Gs apart from G, as after training
    ckpt.save_checkpoint(run, "network-final", ckpt.networks_to_tensors(nets.modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(net), "lod": 0.0})
    (run / "test_controls.csv").write_text("id,label,untrained_a\n")        # as an earlier evaluation's
    evaluate_run(run, device="cpu", controls=False)      # searched through Gs
    assert (run / SEARCH_CACHE).is_file()
    # --no-controls of a run with one generator scored: no controls file, rather than an earlier one's (docs/method.md)
    assert not (run / "test_controls.csv").exists()
    said: list[str] = []
    diagnose_run(run, device="cpu", controls=False, log=said.append)
    assert any("latents from the evaluation, rescored without searching" in s for s in said), said
    write_run_config(_replace(cfg, score=_replace(cfg.score, generator="G")), run)
    said = []
    diagnose_run(run, device="cpu", controls=False, log=said.append)
    assert any("kept with other search settings" in s and "'generator': 'G'" in s for s in said), said
    # eval.json's score_config (the same info) names it too: its AUCs read as Gs's, not as the config's G's
    from wildgan.evaluation.run import score_settings_changes

    ev = json.loads((run / "eval.json").read_text())
    assert score_settings_changes(ev, _replace(cfg, score=_replace(cfg.score, generator="G"))) == [
        "score.generator: 'Gs' -> 'G'"]
    assert not any("rescored without searching" in s for s in said), said


def test_the_report_finds_search_latents_an_earlier_wildgan_kept_under_the_archive_s_whole_name(tmp_path):
    """An evaluation on cells.tar.bz2 kept its latents in eval-cells.tar.bz2-<hash>/ before the folder's name
    dropped every archive suffix (eval-cells-<hash>/ now): the report looked in the new folder only, and searched
    again (as long as the evaluation). It reads the earlier folder too, as it is (not renamed, nothing written)."""
    import hashlib
    from types import SimpleNamespace

    from wildgan.config import ScoreConfig, SearchConfig
    from wildgan.evaluation.report import _search_latents
    from wildgan.evaluation.run import SEARCH_CACHE, evaluation_dir
    from wildgan.scoring.latent_search import search_info

    run = tmp_path / "run"
    run.mkdir()
    recorded = {"source": "/a/train.npz", "protocol": "folder", "normal_classes": ["good"]}
    (run / "split.json").write_text(json.dumps(recorded))
    cfg = SimpleNamespace(method="search", search=SearchConfig(), score=ScoreConfig())
    model = SimpleNamespace(cfg=cfg, lod=0.0, nets=SimpleNamespace(G=SimpleNamespace(cfg=SimpleNamespace(
        latent_size=4))))
    for name in ("cells.tar.bz2", "cells.tar.xz"):
        source = f"/d/{name}"
        split = SimpleNamespace(info={"source": source, "normal_classes": ["good"]}, test_ids=["a", "b", "c"])
        earlier = run / f"eval-{name}-{hashlib.sha256(source.encode()).hexdigest()[:6]}"
        assert evaluation_dir(run, recorded, split.info).name == f"eval-cells-{earlier.name[-6:]}"
        z, a = np.ones((3, 4), np.float32), np.arange(3.0)
        info = search_info(cfg.search, cfg.score.lam, cfg.score.kappa, 0.0, cfg.score.generator)
        keep_search_cache(earlier, split.test_ids, info, {"z": z, "a": a})
        said: list[str] = []
        got = _search_latents(run, model, split, said.append)
        assert got is not None and np.array_equal(got["z"], z) and np.array_equal(got["a"], a), said
        assert sorted(p.name for p in earlier.iterdir()) == [SEARCH_CACHE]
        assert not evaluation_dir(run, recorded, split.info).exists()
        # one there that cannot be used is the reason said, not the new folder's having none
        keep_search_cache(earlier, ["x", "b", "c"], info, {"z": z, "a": a})
        assert _search_latents(run, model, split, said.append) is None
        assert said[-1] == f"the evaluation's latents are not at hand: {earlier / SEARCH_CACHE} was kept for other " \
                           f"test images", said


def test_a_damaged_or_foreign_search_cache_is_a_reason_to_search_again_not_an_error(tmp_path):
    import io

    from wildgan.evaluation.run import SEARCH_CACHE, read_search_cache

    ids, info = ["a", "b", "c"], {"method": "search", "steps": 3}
    z, a = np.zeros((3, 4), np.float32), np.zeros(3)
    keep_search_cache(tmp_path, ids, info, {"z": z, "a": a, "z_untrained": z, "a_untrained": a})
    got, why = read_search_cache(tmp_path, ids, info, 4)
    assert got is not None and why == "" and set(got) == {"z", "a", "z_untrained", "a_untrained"}
    assert "other test images" in read_search_cache(tmp_path, ["a", "b", "x"], info, 4)[1]
    assert "other search settings" in read_search_cache(tmp_path, ids, {**info, "steps": 4}, 4)[1]
    assert "latents of size 5" in read_search_cache(tmp_path, ids, info, 5)[1]
    # a cache kept before search_info named the generator (this one, its info without it) was searched through Gs
    # unless score.generator said G: used for Gs, as the older wildgan that kept it would
    assert read_search_cache(tmp_path, ids, {**info, "generator": "Gs"}, 4)[0] is not None
    assert "other search settings" in read_search_cache(tmp_path, ids, {**info, "generator": "G"}, 4)[1]
    path = tmp_path / SEARCH_CACHE
    # latents searched under other scoring rules (say another search objective): rescoring them would not tell
    from wildgan.scoring.scores import SCORES_VERSION

    with np.load(path) as f:
        kept = {k: f[k] for k in f.files}
    meta = json.loads(str(kept.pop("meta")))
    assert "scores_version" not in meta and SCORES_VERSION == 1    # version 1: what a file without it is read as
    for version in (SCORES_VERSION - 1, None):                   # None: a file from before the field (version 1's)
        buf = io.BytesIO()
        np.savez(buf, meta=np.array(json.dumps({k: v for k, v in {**meta, "scores_version": version}.items()
                                                if v is not None})), **kept)
        path.write_bytes(buf.getvalue())
        got, why = read_search_cache(tmp_path, ids, info, 4)
        assert (got is None and why == f"{path} was kept by the scoring rules of version {version}, this wildgan's "
                                       f"are {SCORES_VERSION}") if version is not None else got is not None
    arrays = {"z": z, "a": a, "z_untrained": z, "a_untrained": a}
    path.write_bytes(path.read_bytes()[:200])                                     # truncated
    assert "unreadable" in read_search_cache(tmp_path, ids, info, 4)[1]
    keep_search_cache(tmp_path, ids, info, {**arrays, "z_untrained": z[:2]})     # one untrained latent short
    assert read_search_cache(tmp_path, ids, info, 4)[0] is None
    keep_search_cache(tmp_path, ids, info, {**arrays, "a": np.zeros(1)})         # would broadcast in allclose
    assert read_search_cache(tmp_path, ids, info, 4)[0] is None
    keep_search_cache(tmp_path, ids, info, {"z": z, "a": a, "z_untrained": z})   # a latent without its score
    assert read_search_cache(tmp_path, ids, info, 4)[0] is None
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps([1, 2])), **arrays)                    # not our meta
    path.write_bytes(buf.getvalue())
    assert "not a search cache" in read_search_cache(tmp_path, ids, info, 4)[1]


def test_the_evaluation_table_names_the_latent_a_search_run_has():
    # a search run has no encoder: the mean latent norm it prints is of the searched z*, not of E(Q)
    from wildgan.evaluation.run import format_table

    result = {"auc": {"a": 0.6}, "ap": {"a": 0.6}, "n_test": 4, "n_anomalous": 2,
              "mean_z_norm": {"normal": 2.0, "anomalous": 1.5}}
    search = format_table({**result, "model": {"method": "search", "lod": 0.0}})
    ours = format_table({**result, "model": {"method": "wildgan", "lod": 0.0}})
    assert "mean ||z*|| (searched): normal 2.000  anomalous 1.500" in search and "E(Q)" not in search
    assert "mean ||E(Q)||: normal 2.000  anomalous 1.500" in ours


def test_the_evaluation_table_shows_the_intervals_and_tests_only_where_the_result_has_them():
    """An eval.json written before the intervals were kept prints its table as before; a new one prints each AUC's
    95% interval, the p of the paired test against its untrained control, and a against the pixel controls (a
    flipped one named so), with null (undefined) numbers as '-'."""
    from wildgan.evaluation.run import format_table

    old = {"auc": {"a": 0.6, "L_r": 0.7}, "ap": {"a": 0.6, "L_r": 0.7}, "n_test": 4, "n_anomalous": 2,
           "controls": {"untrained": {"a": 0.55, "L_r": 0.5}, "pixel_std": 0.4}, "controls_ap": {"pixel_std": 0.45}}
    before = format_table(old)
    assert "95% CI" not in before and "DeLong" not in before
    assert before.splitlines()[0].split() == ["score", "AUC", "AP", "AUC", "untrained"]
    new = format_table({**old, "auc_ci95": {"a": [0.51, 0.69], "L_r": [None, None]},
                        "auc_vs_controls": {"a": {"untrained": {"diff": 0.05, "se": 0.02, "p": 0.0123},
                                                  "pixel_std": {"diff": 0.0, "se": 0.03, "p": 1.0, "flipped": True}},
                                            "L_r": {"untrained": {"diff": 0.2, "se": 0.0, "p": 1e-20}}}})
    lines = new.splitlines()
    assert lines[0].split() == ["score", "AUC", "95%", "CI", "AP", "AUC", "untrained", "p"]
    assert lines[1].split() == ["a", "0.600", "0.510-0.690", "0.600", "0.550", "0.012"]
    assert lines[2].split() == ["L_r", "0.700", "-", "0.700", "0.500", "<1e-15"]
    assert "a minus each pixel control (paired DeLong test): pixel_std flipped +0.000 (p 1.000)" in new
    assert ("95% CI: over the test images (DeLong logit + Newcombe score, evaluation.auc_ci); p: paired DeLong "
            "test") in new


def test_the_evaluation_table_names_the_paired_test_that_gave_its_p_values():
    """On a small test set auc_difference's p is the exact permutation test's ('test' in eval.json): the lines under
    the table say which test it was, both where the scores' tests differ, and DeLong's for an eval.json without
    'test' (written before it was kept, when every test was DeLong's)."""
    from wildgan.evaluation.metrics import paired_test_text
    from wildgan.evaluation.run import format_table

    perm = {"diff": 0.05, "se": 0.02, "p": 0.0123, "test": "exact permutation"}
    result = {"auc": {"a": 0.6}, "ap": {"a": 0.6}, "n_test": 12, "n_anomalous": 4,
              "controls": {"untrained": {"a": 0.55}, "pixel_std": 0.6}, "controls_ap": {"pixel_std": 0.6},
              "auc_ci95": {"a": [0.3, 0.8]}, "auc_vs_controls": {"a": {"untrained": perm, "pixel_std": perm}}}
    table = format_table(result)
    assert "a minus each pixel control (paired exact permutation test): pixel_std +0.050 (p 0.012)" in table
    assert "p: paired exact permutation test of each AUC against its untrained control" in table
    assert "DeLong test" not in table
    mixed = {"a": {"untrained": perm, "pixel_std": {**perm, "test": "DeLong"}}}
    assert paired_test_text(mixed) == "paired DeLong test or paired exact permutation test"
    assert paired_test_text({"a": {"untrained": {"diff": 0.1, "se": 0.1, "p": 0.3}}}) == "paired DeLong test"
    assert paired_test_text({"a": {"untrained": {**perm, "p": None}}}) == "paired DeLong test"     # (none gave p)
    assert paired_test_text(None) == "paired DeLong test"


def test_the_evaluation_table_gives_aps_chance_level():
    """AP's chance level is the share of anomalies, not AUC's 0.5: on a check set of 38 images, 8 anomalous, an AP of
    0.3 is little better than a random ranking's 0.21, which the table did not say."""
    from wildgan.evaluation.run import format_table

    table = format_table({"auc": {"a": 0.6}, "ap": {"a": 0.3}, "n_test": 38, "n_anomalous": 8})
    assert "n_test=38  n_anomalous=8  (AP by chance: 0.211)" in table


def test_the_evaluation_table_tests_an_fanogan_runs_own_score_against_the_pixel_controls():
    """f-AnoGAN ranks by A (config.own_score), not by a: the line of paired tests against the pixel controls is A's."""
    from wildgan.evaluation.run import format_table

    result = {"auc": {"a": 0.3, "A": 0.8}, "ap": {"a": 0.3, "A": 0.8}, "n_test": 4, "n_anomalous": 2,
              "controls": {"untrained": {"a": 0.5, "A": 0.5}, "pixel_std": 0.6}, "controls_ap": {"pixel_std": 0.6},
              "auc_ci95": {"a": [0.2, 0.4], "A": [0.7, 0.9]},
              "auc_vs_controls": {"a": {"pixel_std": {"diff": -0.3, "se": 0.05, "p": 0.001}},
                                  "A": {"pixel_std": {"diff": 0.2, "se": 0.05, "p": 0.002}}}}
    fanogan = format_table({**result, "model": {"method": "fanogan", "lod": 0.0}})
    assert "A minus each pixel control (paired DeLong test): pixel_std +0.200 (p 0.002)" in fanogan
    assert "a minus each pixel control" not in fanogan
    ours = format_table({**result, "model": {"method": "wildgan", "lod": 0.0}})
    assert "a minus each pixel control (paired DeLong test): pixel_std -0.300 (p 0.001)" in ours


def test_the_evaluation_table_of_a_checkpoint_before_full_resolution_says_so_without_a_status():
    # a run still training or interrupted is evaluated with its newest checkpoint, which records no status: the
    # table printed 'training stopped (status None, 4.352 kimg)'
    from wildgan.evaluation.run import format_table

    result = {"auc": {"a": 0.6}, "ap": {"a": 0.6}, "n_test": 4, "n_anomalous": 2}
    model = {"method": "wildgan", "lod": 2.0, "scored_resolution": 16, "kimg": 4.352}
    ckpt = format_table({**result, "model": {**model, "status": None}})
    final = format_table({**result, "model": {**model, "status": "done"}})
    assert "scored at lod 2 (16x16): training stopped (a checkpoint, 4.352 kimg) before" in ckpt and "None" not in ckpt
    assert "training stopped (status done, 4.352 kimg) before" in final


# ---------------------------------------------------------------------------------------------------------------
# A saved evaluation of networks that a resume has trained on since

def test_networks_changed_compares_the_weights_digest_then_the_training_position() -> None:
    from wildgan.training.run import networks_changed, networks_record

    meta = {"sha256": "b" * 64, "kimg": 6.016}
    assert networks_changed(networks_record(meta), meta) is None
    assert networks_changed({"weights_sha256": "a" * 64, "kimg": 2.048}, meta) == \
        "earlier networks (2.048 kimg; the run is now at 6.016 kimg)"
    assert networks_changed({"weights_sha256": "a" * 64, "kimg": 6.016}, meta) == \
        "other networks (their weights differ from the run's current ones)"
    # an eval.json written before the digest was recorded: compared by its kimg, and silent when nothing tells
    assert networks_changed({"kimg": 2.048}, meta) == "earlier networks (2.048 kimg; the run is now at 6.016 kimg)"
    assert networks_changed({"kimg": 6.016}, meta) is None and networks_changed({}, meta) is None
    # f-AnoGAN counts critic iterations
    fano = {"sha256": "c" * 64, "gan_iters_done": 300}
    assert networks_changed({"weights_sha256": "d" * 64, "kimg": None, "gan_iters_done": 100}, fano) == \
        "earlier networks (100 critic iterations; the run is now at 300 critic iterations)"


def _pile_run_evaluated(tmp_path: Path, mnist: dict, per_class: dict[int, int]) -> tuple[Path, Any, Path]:
    """A tiny unlabelled run (48 MNIST training digits as a pile, 0.1 kimg) evaluated on labelled test digits, so
    many of each class as per_class says, digit 1 normal: (the run, its RunConfig, the labelled .npz)."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.run import evaluate_run
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:48])
    pick = np.concatenate([np.flatnonzero(mnist["y_test"] == c)[:n] for c, n in per_class.items()])
    labelled = tmp_path / "labelled.npz"
    np.savez(labelled, x=mnist["x_test"][pick], y=mnist["y_test"][pick])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.1, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      checkpoint_kimg=0.1, device="cpu", log_every=5, train_scores=False),
                    preset="tiny")
    train_run(cfg, run, progress=False, log=lambda m: None)
    evaluate_run(run, str(labelled), device="cpu", controls=False, normal=("1",))
    return run, cfg, labelled


def test_the_report_marks_an_evaluation_of_earlier_networks_instead_of_showing_it(tmp_path: Path, mnist) -> None:
    # the reviewer's case: an unlabelled run evaluated on labelled data, then resumed for longer: its report showed
    # the evaluation of the old networks as the run's
    from dataclasses import replace

    from wildgan.evaluation.run import evaluate_run
    from wildgan.training.run import train_run

    run, cfg, labelled = _pile_run_evaluated(tmp_path, mnist, {1: 20, 7: 20})
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "(40 images, 20 anomalous): AUC a " in md
    # each AUC with its interval over these few images, and the table a labelled run's Metrics has (the page gave
    # the bare AUCs: on a user's 38 check images "a 0.429" hid an interval of 0.22-0.67)
    from wildgan.evaluation.metrics import interval_text

    saved = json.loads((run / "eval.json").read_text())
    assert f"AUC a {saved['auc']['a']:.3f} ({interval_text(saved['auc_ci95']['a'])})" in md, md[:3000]
    assert "| score | AUC | 95% CI |" in md and "over these 40 labelled images only" in md
    assert "made with --no-controls" in md and "(control)" not in md
    # 0.1 kimg leaves the 16x16 networks growing: the pile is ranked at the resolution they reached, and its report
    # says so as a labelled run's does (it said nothing of which networks ranked the pile, or at what resolution)
    # and which code trained them (the version number, the source commit of a git checkout, torch's version, the
    # intra-op thread count)
    assert re.search(r"Networks: \S*network-final\.json \(kimg 0\.1\d*, status done\), trained by wildgan [\d.]+"
                     r"( \(source [0-9a-f]{12}(\+dirty)?\))? with torch \S+ on \d+ intra-op threads?\. "
                     r"\*\*Not fully grown: the "
                     r"networks stopped at lod [\d.]+ and are scored at 8x8", md), md[:2000]

    said: list[str] = []
    train_run(replace(cfg, train=replace(cfg.train, total_kimg=0.2)), run, resume=True, progress=False,
              log=said.append)
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "AUC a " not in md                                    # the old numbers are not shown as the run's
    assert re.search(r"\(40 images, 20 anomalous\), but from earlier networks \(0\.1\d* kimg; the run is now at "
                     r"0\.2\d* kimg\), not of the networks this report shows; its AUCs \(eval\.json, test_scores\.csv, "
                     r"test_controls\.csv, auc_by_class\.csv, test_latents\.npy\) are not theirs", md), md[:3000]
    again = f"wildgan evaluate {run} --data {labelled} --normal 1"
    assert f"Run `{again}` again to evaluate the current networks." in md
    # and the resume itself said so
    # (auc_by_class.csv too, which the note left out: data.eval_files lists every file evaluate writes)
    assert any(s.startswith(f"note: {run / 'eval.json'} (with its test_scores.csv, test_controls.csv, auc_by_class.csv "
                            f"and test_latents.npy) is an "
                            f"evaluation of earlier networks (0.")
               and f"`{again}` evaluates the networks trained now" in s
               for s in said), said
    assert (run / "eval.json").is_file() and (run / "test_scores.csv").is_file()      # the user's files: kept

    evaluate_run(run, str(labelled), device="cpu", normal=("1",))     # as the report says (with its controls)
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "(40 images, 20 anomalous): AUC a " in md and "earlier networks" not in md
    assert "| pixel_norm (control) |" in md and "a minus each pixel control (paired DeLong test): " in md
    assert "made with --no-controls" not in md
    assert json.loads((run / "eval.json").read_text())["model"]["weights_sha256"]     # what identifies them
    # the same networks evaluated by other score formulas: its AUCs were shown as theirs (no version was recorded)
    from wildgan.scoring.scores import SCORES_VERSION

    ev = json.loads((run / "eval.json").read_text())
    assert "scores_version" not in ev and SCORES_VERSION == 1    # version 1: what eval.json without it is read as
    (run / "eval.json").write_text(json.dumps({**ev, "scores_version": SCORES_VERSION - 1}))
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "AUC a " not in md and (f"(40 images, 20 anomalous), but by the scoring rules of version "
                                   f"{SCORES_VERSION - 1} (this wildgan's are {SCORES_VERSION}); its AUCs (eval.json, "
                                   f"test_scores.csv, test_controls.csv, auc_by_class.csv, test_latents.npy) are not "
                                   f"what these networks score now. Run "
                                   f"`{again}` again to evaluate them.") in md
    (run / "eval.json").write_text(json.dumps({k: v for k, v in ev.items() if k != "scores_version"}))
    report(run, top_k_images=1, device="cpu", controls=False)      # from before the field: version 1's, shown
    assert "(40 images, 20 anomalous): AUC a " in (run / "report" / "report.md").read_text()
    # evaluated with another lambda than the run's config.json holds now (its score section edited since): its AUCs
    # were shown as what the networks score
    (run / "eval.json").write_text(json.dumps({**ev, "score_config": {**ev["score_config"], "lam": 0.2}}))
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "AUC a " not in md and ("(40 images, 20 anomalous), but with other score settings than the run's "
                                   "config.json holds (score.lam: 0.2 -> 0.05); its AUCs (eval.json, test_scores.csv, "
                                   f"test_controls.csv, auc_by_class.csv, test_latents.npy) are not what these "
                                   f"networks score now. Run `{again}` "
                                   f"again") in md

    (run / "eval.json").write_text('{"auc": {"a": 0.9')                              # cut short: damaged
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    # it was dropped without a word, and the page read as if the run had never been evaluated
    assert "eval.json is there but cannot be read (JSONDecodeError" in _plain(md) and "AUC a " not in md
    # made from another folder: eval.json named in the run directory (the page's first line), the command that
    # writes it again with the run in full (a path relative to where the report was made pasted nowhere else)
    (tmp_path / "elsewhere").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path / "elsewhere")
        report(Path("../run"), top_k_images=1, device="cpu", controls=False)
    md = _plain((run / "report" / "report.md").read_text())
    assert "\n**eval.json is there but cannot be read (JSONDecodeError" in md
    assert f"Run `wildgan evaluate {run.resolve()} --data LABELLED` again" in md and "../" not in md
    # by other score formulas: the command that evaluates the networks again, in full
    (run / "eval.json").write_text(json.dumps({**ev, "scores_version": SCORES_VERSION - 1}))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path / "elsewhere")
        report(Path("../run"), top_k_images=1, device="cpu", controls=False)
    md = _plain((run / "report" / "report.md").read_text())
    assert f"Run `wildgan evaluate {run.resolve()} --data {labelled} --normal 1` again to evaluate them." in md
    assert "../" not in md


def _report_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder whose report/ holds an old report (and someone's notes), and a complete new report beside it."""
    run = tmp_path / "run"
    old = run / "report"
    (old / "heatmaps").mkdir(parents=True)
    for name in ("report.md", "report.html", "roc.png", "heatmaps/top-01.png", "heatmaps/top-02.png",
                 "named_images.csv"):
        (old / name).write_text(f"old {name}")
    (old / "notes.txt").write_text("mine")
    os.chmod(old, 0o751)
    new = run / ".report-partial-x"
    (new / "heatmaps").mkdir(parents=True)
    os.chmod(new, 0o700)                      # as mkdtemp makes it
    for name in ("report.md", "report.html", "roc.png", "heatmaps/top-01.png"):
        (new / name).write_text(f"new {name}")
    return run, new


def _contents(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_replacing_a_report_swaps_whole_folders(tmp_path: Path) -> None:
    from wildgan.evaluation.report import _replace_report

    run, new = _report_dirs(tmp_path)
    said: list[str] = []
    _replace_report(new, run / "report", said.append)
    assert _contents(run / "report") == {"report.md": "new report.md", "report.html": "new report.html",
                                         "roc.png": "new roc.png", "heatmaps/top-01.png": "new heatmaps/top-01.png",
                                         "notes.txt": "mine"}
    assert (os.stat(run / "report").st_mode & 0o777) == 0o751
    assert sorted(p.name for p in run.iterdir()) == ["report"]          # no staging or old folder left
    assert said == ["removed 2 outputs of the previous report that this one does not write (named_images.csv, "
                    "heatmaps/top-02.png)"]


@pytest.mark.parametrize("fail", ["second move into report/", "the swap's second rename"])
def test_a_replacement_that_fails_partway_leaves_one_whole_report(tmp_path: Path, monkeypatch, fail: str) -> None:
    # the files used to be moved into report/ one by one: a failure after the first left the new report.md beside
    # the old figures
    from wildgan.evaluation.report import _replace_report

    run, new = _report_dirs(tmp_path)
    out = run / "report"
    old_contents, new_contents = _contents(out), _contents(new)
    moves = {"n": 0}
    real_replace, real_rename = os.replace, os.rename

    def failing(real):
        def move(src, dst):
            if fail == "the swap's second rename":
                broken = Path(src) == new and Path(dst) == out
            else:                                   # a file moved into report/, the second one
                moves["n"] += out in Path(dst).parents
                broken = out in Path(dst).parents and moves["n"] == 2
            if broken:
                raise OSError(28, "No space left on device")
            return real(src, dst)
        return move

    monkeypatch.setattr(os, "replace", failing(real_replace))
    monkeypatch.setattr(os, "rename", failing(real_rename))
    try:
        _replace_report(new, out, lambda s: None)
    except OSError:
        assert _contents(out) == old_contents                   # failed: the old report, whole
    else:
        assert _contents(out) == {**new_contents, "notes.txt": "mine"}      # succeeded: the new one, whole
    monkeypatch.undo()
    assert not list(run.glob(".report-old-*"))


def test_a_report_folder_that_cannot_be_renamed_is_replaced_file_by_file(tmp_path: Path, monkeypatch) -> None:
    # on Windows a folder in use (a file in it open in another program, a shell's current folder) cannot be renamed:
    # the report used to fail there, its new outputs thrown away
    from wildgan.evaluation.report import _replace_report

    run, new = _report_dirs(tmp_path)
    out = run / "report"
    new_contents = _contents(new)
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == out:
            raise PermissionError(13, "The process cannot access the file because it is being used by another "
                                      "process", str(src))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    said: list[str] = []
    _replace_report(new, out, said.append)
    monkeypatch.undo()
    assert _contents(out) == {**new_contents, "notes.txt": "mine"}
    assert not list(run.glob(".report-old-*"))
    assert said and said[0].startswith("removed 2 outputs of the previous report")


@pytest.mark.parametrize("way", ["swap", "file by file"])
def test_a_report_without_heat_maps_leaves_no_empty_heatmaps_folder(tmp_path: Path, monkeypatch, way: str) -> None:
    # the old report's heat maps are stale outputs, removed; their folder, empty then, goes too (and an empty
    # samples/ the new report staged), on both ways of replacing a report, while a folder holding anything stays
    from wildgan.evaluation.report import _replace_report

    run, new = _report_dirs(tmp_path)
    out = run / "report"
    (new / "heatmaps" / "top-01.png").unlink()          # this report draws no heat maps, nor samples
    (new / "samples").mkdir()
    (out / "samples").mkdir()
    (out / "samples" / "mine.txt").write_text("mine")     # someone's file in the old report's samples/
    if way == "file by file":
        real_rename = os.rename
        monkeypatch.setattr(os, "rename", lambda src, dst: (_ for _ in ()).throw(PermissionError(13, "in use"))
                            if Path(src) == out else real_rename(src, dst))
    _replace_report(new, out, lambda s: None)
    monkeypatch.undo()
    assert not (out / "heatmaps").exists()
    assert (out / "samples" / "mine.txt").read_text() == "mine"
    assert _contents(out) == {"report.md": "new report.md", "report.html": "new report.html", "roc.png": "new roc.png",
                              "notes.txt": "mine", "samples/mine.txt": "mine"}


def test_a_swap_killed_between_its_renames_gets_the_old_report_back(tmp_path: Path, monkeypatch) -> None:
    from wildgan.evaluation import report as rep

    run, new = _report_dirs(tmp_path)
    old_contents = _contents(run / "report")
    os.rename(run / "report", run / ".report-old-123-abcd")       # killed here: no report/ at all
    monkeypatch.setattr(rep, "_SWAP_S", -1.0)                     # (renamed longer ago than a swap takes)
    rep._remove_abandoned(run)
    assert _contents(run / "report") == old_contents and not list(run.glob(".report-old-*"))
    # killed after the second rename: the old folder is left over, and deleted
    (run / ".report-old-9-ffff").mkdir()
    rep._remove_abandoned(run)
    assert not list(run.glob(".report-old-*")) and _contents(run / "report") == old_contents


def test_a_report_in_a_read_only_run_folder_names_the_folder_not_the_staging_one(tmp_path, monkeypatch) -> None:
    import errno
    import tempfile

    from wildgan.evaluation.report import _report_folder

    def read_only(*a, dir=None, prefix="", **k):            # noqa: A002 - mkdtemp's own keyword
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}abc")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    # the user's to change (a ConfigError, exit 2 in the CLI, as other bad input), in the words of --out's refusal
    with pytest.raises(ConfigError, match=rf"cannot write a report in {tmp_path}: read-only file system; copy the "
                                          r"folder somewhere writable, or make it writable \(the report goes into "
                                          rf"{tmp_path / 'report'}\)") as e:
        with _report_folder(tmp_path, print):
            pass
    assert ".report-partial" not in str(e.value)

    def broken(*a, dir=None, prefix="", **k):               # noqa: A002
        raise OSError(errno.EIO, "Input/output error", f"{dir}/{prefix}abc")

    monkeypatch.setattr(tempfile, "mkdtemp", broken)          # any other failure stays an OSError, the folder named
    with pytest.raises(OSError, match=rf"cannot write a report in {tmp_path} \(Input/output error\)") as e:
        with _report_folder(tmp_path, print):
            pass
    assert ".report-partial" not in str(e.value) and not isinstance(e.value, ConfigError)


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_as_a_figure_or_a_page_is_written_names_the_report_not_the_staging_folder(tmp_path: Path) -> None:
    """A real refusal (`ulimit -f`; Python ignores SIGXFSZ, so a write gets EFBIG), as a full disk: a figure's PNG,
    which PIL writes without naming its file, ended `wildgan report` on a bare `[Errno 28] No space left on
    device` (measured: a run on a 1.6 MB tmpfs); a page's atomic write named the hidden staging folder. Both name the
    place in RUN/report, and leave no staging folder and the old report whole."""
    import errno
    import resource

    from wildgan.evaluation.report import _report_folder
    from wildgan.fileio import atomic_write_bytes

    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.md").write_text("old")
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    caught = []
    for write in (lambda stage: big.save(stage / "roc.png"),
                  lambda stage: atomic_write_bytes(stage / "report.md", bytes(200_000))):
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
        try:
            with pytest.raises(OSError) as e:
                with _report_folder(tmp_path, print) as stage:
                    write(stage)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        caught.append(e.value)
    assert [c.errno for c in caught] == [errno.EFBIG, errno.EFBIG]
    assert [c.filename for c in caught] == [str(tmp_path / "report"), str(tmp_path / "report" / "report.md")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert (tmp_path / "report" / "report.md").read_text() == "old"


def test_the_html_shows_bold_and_code_spans_not_their_markdown_markers(tmp_path) -> None:
    # the report's text is written once for both pages: its **bold** and `code` showed as literal markers in HTML
    from wildgan.evaluation.report import _md_to_html, _Page

    page = _Page("t", tmp_path)
    page.p("run `wildgan study` again; **tables are stale** <here>")
    assert page.html_parts[-1] == ("<p>run <code>wildgan study</code> again; <strong>tables are stale</strong> "
                                   "&lt;here&gt;</p>")
    assert page.md_parts[-1].startswith("run `wildgan study` again; **tables")            # the Markdown as written
    got = _md_to_html("**Table 2** a*b, L_n\n| **x** | `y\\|z` |\n|---|---|\n| 1 | 2 |")
    assert "<p><strong>Table 2</strong> a*b, L_n</p>" in got                              # no italics from * or _
    assert "<th><strong>x</strong></th><th><code>y|z</code></th>" in got


# a file name with every piece of Markdown syntax a name can hold: emphasis, a link, raw HTML, a code span, a pipe,
# an entity, a heading mark, strikethrough and a backslash
ODD_NAME = "#1 *scan*_x_ [a](b) <b>bold</b> `t` p|q &amp; ~~s~~ c\\d"


def _plain(md: str) -> str:
    """Markdown's backslash escapes read back (what a Markdown renderer shows of escaped text)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md)


def test_md_escape_leaves_no_markdown_syntax_and_the_html_shows_the_text_as_written() -> None:
    # file names in report.md's captions, headings and list items were written raw: `*scan*` rendered as emphasis,
    # `[a](b)` as a link, `<b>` as HTML
    from wildgan.evaluation.report import _md_inline
    from wildgan.markdown import md_escape

    esc = md_escape(ODD_NAME)
    # every syntax character is escaped (none stands bare), and reading the escapes back gives the name
    assert not re.search(r"(?<!\\)(?:\\\\)*[`*_~\[\]<>&#|]", esc) and _plain(esc) == ODD_NAME
    assert "/work/data/x-1.tar.gz" == md_escape("/work/data/x-1.tar.gz")     # paths keep their plain punctuation
    assert md_escape("a|b", pipe=False) == "a|b" and md_escape("a\nb") == "a b"
    # report.html reads the same text as Markdown: the escapes show as the characters, not as backslashes
    shown = _md_inline(esc)
    assert "<" not in shown.replace("&lt;", "") and html.unescape(shown) == ODD_NAME
    # (a code span stays literal, a * in it too: no **bold** pairs across it)
    assert _md_inline("`**x**` **y**") == "<code>&#42;&#42;x&#42;&#42;</code> <strong>y</strong>"


def test_report_md_captions_title_and_id_cells_show_file_names_as_written(tmp_path: Path) -> None:
    from wildgan.evaluation.report import _Page
    from wildgan.markdown import split_md_row

    folder = tmp_path / "heat maps (1)"
    folder.mkdir()
    png = folder / "top [1] #2.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(png)
    page = _Page(f"wildgan report: {ODD_NAME}", tmp_path)
    page.img(png, f"{ODD_NAME} (anomaly)")
    page.table(["rank", "id"], [[1, ODD_NAME]], literal=[1])
    page.write(tmp_path)
    md = (tmp_path / "report.md").read_text()
    lines = md.splitlines()
    assert _plain(lines[0]) == f"# wildgan report: {ODD_NAME}"
    (image,) = [ln for ln in lines if ln.startswith("![")]
    alt, target = re.fullmatch(r"!\[(.*)\]\(([^()\s]*)\)", image).groups()     # the link is one unbroken target
    assert _plain(alt) == f"{ODD_NAME} (anomaly)"
    from urllib.parse import unquote

    assert (tmp_path / unquote(target)).resolve() == png.resolve()              # the link still finds the picture
    assert f"*{alt}*" in lines                                                 # the caption under it, in italics
    (row,) = [ln for ln in lines if ln.startswith("| 1 |")]
    assert _plain(split_md_row(row)[1]) == ODD_NAME                          # one cell, the name as written
    # report.html names it as written too
    page_html = (tmp_path / "report.html").read_text()
    assert f"<figcaption>{html.escape(ODD_NAME)} (anomaly)</figcaption>" in page_html
    assert f"<td>{html.escape(ODD_NAME)}</td>" in page_html


def test_study_report_and_tables_md_show_folder_names_as_written(tmp_path: Path) -> None:
    # a study's run folders (list items linking their reports), its plots' names (captions), its normal class
    # (tables.md's headings) and its data path come from the user's folders and files
    from urllib.parse import unquote

    from wildgan.studies import render_markdown

    study = tmp_path / "st_*x*"
    cell = study / "runs" / "*c*_[a](b)<i>"
    (cell / "report").mkdir(parents=True)
    (cell / "config.json").write_text("{}")
    (cell / "report" / "report.md").write_text("# cell\n")
    (cell / "report" / "report.html").write_text("<p>cell</p>")
    Image.fromarray(np.full((8, 8), 99, dtype=np.uint8)).save(study / "auc_vs_gamma_*n*.png")
    rows = [_study_row(protocol="folder", normal="*good*_[a](b)", data=str(tmp_path / "d_*1*.npz"), seed=s)
            for s in (0, 1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tables = render_markdown(rows)
    assert "## folder, normal = \\*good\\*\\_\\[a\\](b)" in tables.splitlines()
    (source,) = [ln for ln in tables.splitlines() if ln.startswith("Source: ")]
    assert "/d\\_\\*1\\*.npz" in source and _plain(source).startswith(f"Source: {tmp_path}/d_*1*.npz")
    (study / "tables.md").write_text(tables)
    page = report(study).read_text()
    md = (study / "report" / "report.md").read_text()
    (item,) = [ln for ln in md.splitlines() if ln.startswith("- ")]
    text, target = re.fullmatch(r"- \[(.*)\]\(([^()\s]*)\)( .*)?", item).groups()[:2]
    assert _plain(text) == "runs/*c*_[a](b)<i>"
    assert (study / "report" / unquote(target)).resolve() == (cell / "report" / "report.md").resolve()
    assert _plain(md.splitlines()[0]) == "# wildgan study report: st_*x*"
    assert "\n*auc vs gamma \\*n\\**\n" in md                                # the plot's caption, escaped
    assert "### folder, normal = \\*good\\*\\_\\[a\\](b)" in md                # tables.md's heading, two levels down
    # report.html shows each as written (tables.md's escapes read back, not shown)
    assert [html.unescape(h) for h in re.findall(r"<h4>(folder, normal = .*?)</h4>", page)] == \
        ["folder, normal = *good*_[a](b)"]
    assert html.escape("runs/*c*_[a](b)<i>") in page and "\\" not in re.sub(r"<img [^>]*>", "", page)


def test_study_report_rows_show_fanogans_untrained_A_beside_its_own_score(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    rows = [_study_row(method=m, auc={"a": 0.7, "A": 0.6}, controls={"untrained": {"a": 0.55, "A": 0.45}})
            for m in ("wildgan", "fanogan")]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (study / "tables.md").write_text("# Table 2\n")
    md = (report(study).parent / "report.md").read_text()
    header = next(ln for ln in md.splitlines() if ln.startswith("| cell"))
    assert "controls.untrained.a" in header and "controls.untrained.A" in header


def test_the_latent_figures_name_a_searchs_latents_z_star(tmp_path, monkeypatch) -> None:
    # a search run has no encoder: its figures said E(Q) on their axes while the captions said z*
    from wildgan.evaluation import plots

    texts: list[str] = []

    def keep(fig, path):
        texts.extend(t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label))
        texts.extend(t.get_text() for t in fig.texts)
        return path

    monkeypatch.setattr(plots, "_save", keep)
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(12, 4)), np.repeat([0, 1], 6)
    plots.tsne_plot(tmp_path / "t.png", z, y, code="z*")
    plots.latent_histograms(tmp_path / "h.png", z, y, code="z*")
    plots.closest_matches(tmp_path / "c.png", rng.integers(0, 256, (12, 8, 8, 1), dtype=np.uint8),
                          rng.random((12, 8, 8, 1)).astype(np.float32), y, code="z*")
    joined = " ".join(texts)
    assert "E(Q)" not in joined and "t-SNE of z*" in joined and "||z*||" in joined and "G(z*)" in joined


def test_a_roc_curve_under_another_is_drawn_as_a_band_and_said_so_only_when_it_is(tmp_path, monkeypatch) -> None:
    # a = 0.05 L_n + 0.95 L_o ranks as L_o does: its curve lay exactly under L_o's and the reader saw one curve
    from wildgan.evaluation import plots

    drawn: dict[str, tuple[float, str]] = {}

    def keep(fig, path):
        (ax,) = fig.axes
        drawn.update({ln.get_label(): (ln.get_linewidth(), ln.get_label()) for ln in ax.lines})
        drawn["title"] = (0.0, ax.get_title())
        return path

    monkeypatch.setattr(plots, "_save", keep)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    L_o = rng.normal(size=400) + 0.4 * y
    L_n = 1e-3 * rng.random(400)
    L_r = rng.normal(size=400) + 0.2 * y
    plots.roc_curves(tmp_path / "roc.png", y, {"a": 0.05 * L_n + 0.95 * L_o, "L_n": L_n, "L_o": L_o, "L_r": L_r})
    (band,) = [k for k in drawn if k.startswith("a (AUC")]
    width, label = drawn[band]
    assert width > 1.4 and label.endswith("): pale band, lies under L_o (curves at most 0.000 apart)"), label
    assert [k for k in drawn if "pale band" in k] == [band] and "pale band: a curve lying under another" in \
        drawn["title"][1]
    # a that weighs L_n enough to rank otherwise: its own curve, drawn and labelled as any
    drawn.clear()
    plots.roc_curves(tmp_path / "roc.png", y, {"a": 0.5 * L_n / L_n.std() + L_o, "L_n": L_n, "L_o": L_o})
    assert not [k for k in drawn if "pale band" in k] and all(w == 1.4 for k, (w, _) in drawn.items()
                                                                 if "(AUC" in k), drawn
    # the distance as drawn: a staircase is 0.5/sqrt(2) from the diagonal; a tall step one image (0.001) to the side
    # of another is 0.001 from it, not the 0.8 between the two at one false positive rate
    fpr, tpr = np.array([0, 0, 0.5, 1]), np.array([0, 0.5, 1, 1])
    assert plots.roc_gap(fpr, tpr, fpr, tpr) == 0.0
    assert plots.roc_gap(fpr, tpr, np.array([0, 1.0]), np.array([0, 1.0])) == pytest.approx(0.5 ** 0.5 / 2, abs=1e-3)
    step = (np.array([0, 0.1, 0.1, 1]), np.array([0, 0, 0.8, 1]))
    assert plots.roc_gap(*step, np.array([0, 0.101, 0.101, 1]), step[1]) == pytest.approx(0.001, abs=1e-3)


def test_a_roc_band_lies_under_a_drawn_line_and_never_hides_a_trained_curve_under_a_control(tmp_path,
                                                                                          monkeypatch) -> None:
    # the demo's ROC: L_r lay within 0.02 of A and A of the -||Q|| control, so L_r was a band "under A" while A was
    # itself a band under the dotted control: the two best trained curves had no line, only the control had
    from wildgan.evaluation import plots

    drawn: dict[str, float] = {}
    styles: dict[str, str] = {}

    def keep(fig, path):
        (ax,) = fig.axes
        drawn.update({ln.get_label(): ln.get_linewidth() for ln in ax.lines if "(AUC" in ln.get_label()})
        styles.update({ln.get_label(): ln.get_linestyle() for ln in ax.lines if "(AUC" in ln.get_label()})
        return path

    monkeypatch.setattr(plots, "_save", keep)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    A = rng.normal(size=400) + 4.0 * y                    # near-perfect curves, all in the top-left corner
    L_r = A + 0.05 * rng.normal(size=400)
    far = rng.normal(size=400)                            # a curve near the diagonal: apart from every other
    plots.roc_curves(tmp_path / "roc.png", y, {"L_r": L_r, "A": A, "L_o": far},
                     controls={"untrained": {"L_o": -far}, "pixel": {"pixel_norm": A + 0.05 * rng.normal(size=400)}})
    lines = {k.split(" (AUC")[0] for k, w in drawn.items() if "pale band" not in k}
    bands = {k.split(" (AUC")[0]: k.split("lies under ")[1].split(" (")[0] for k in drawn if "pale band" in k}
    assert lines == {"A", "L_o", "L_o untrained"} and bands == {"L_r": "A", "pixel_norm control": "A"}, drawn
    assert all(drawn[k] == 1.4 for k in drawn if k.startswith(("A (AUC", "L_o (AUC"))), drawn
    # a band is solid, the dotted control's too (drawn 6 wide with its dots, it was a row of big grey squares); the
    # lines keep their group's style
    assert {k.split(" (AUC")[0]: v for k, v in styles.items()} == {
        "L_r": "-", "A": "-", "L_o": "-", "L_o untrained": "--", "pixel_norm control": "-"}, styles


@pytest.fixture(scope="module")
def fanogan_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """_tiny_fanogan_run trained once for this file's tests: (the run, its images). A test that reports on it (a
    report writes into the run) copies it first."""
    where = tmp_path_factory.mktemp("fanogan")
    return where / "run", _tiny_fanogan_run(where)


def _copy_of(run: Path, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, to))


def _tiny_fanogan_run(tmp_path: Path) -> np.ndarray:
    """A tiny f-AnoGAN run at tmp_path/run, trained on tmp_path/toy.npz (48 gray 32x32 noise images, classes 0/1),
    with no training scores; returns the images."""
    from wildgan.config import PRESETS, DataConfig, FAnoGANConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (48, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "toy.npz", x=x, y=np.repeat([0, 1], 24))
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "toy.npz"), normal=("0",), resolution=32, channels=1),
                    net=net_config_for_preset("tiny", 32, 1), preset="tiny", method="fanogan",
                    fanogan=FAnoGANConfig(dim=8, gan_iters=2, enc_iters=2, batch_size=8, enc_batch_size=8,
                                          n_critic=1, device="cpu"),
                    train=TrainConfig(total_kimg=1, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                                      train_scores=False))
    train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    return x


def _panel_titles(monkeypatch) -> list[str]:
    """The reconstruction and heat-map titles of every heat-map panel the report draws from now on."""
    from wildgan.evaluation import plots

    titles: list[str] = []
    real = plots.heatmap_panel

    def panel(*a, recon_title: str = "", gen: str = "G", **k):
        titles.append(recon_title)
        return real(*a, recon_title=recon_title, gen=gen, **k)

    monkeypatch.setattr(plots, "heatmap_panel", panel)
    return titles


def test_an_fanogan_runs_named_image_panels_name_its_one_generator(fanogan_run, tmp_path, monkeypatch) -> None:
    # f-AnoGAN has one generator, G: its top-k panels said G(E(Q)) but its named images' panels Gs(E(Q))
    from wildgan.evaluation.report import run_report

    shared, x = fanogan_run
    run = _copy_of(shared, tmp_path / "run")
    Image.fromarray(x[0]).save(tmp_path / "named.png")
    titles = _panel_titles(monkeypatch)
    run_report(run, top_k_images=1, images=[tmp_path / "named.png"], device="cpu", controls=False,
               tsne_points=5)
    assert titles == ["reconstruction G(E(Q))"] * 2, titles


def test_a_search_runs_heat_maps_name_its_searched_latents_z_star(tmp_path, monkeypatch) -> None:
    # a search run has no encoder: its heat maps, their panels and the ranking's explanation said Gs(E(Q)) and
    # ||E(Q)|| while its figures said z*
    from wildgan.evaluation import plots
    from wildgan.evaluation.report import run_report

    texts: list[str] = []
    real = plots._save

    def keep(fig, path):
        texts.extend(t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label))
        texts.extend(t.get_text() for t in fig.texts)
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    run = _search_run(tmp_path / "search", 8)
    named = tmp_path / "named.png"
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(named)
    run_report(run, top_k_images=2, images=[named], device="cpu", controls=False, tsne_points=5)
    md = (run / "report" / "report.md").read_text()
    assert "Heat map = |w(Q) - w(Gs(z*))|" in md and "-‖z*‖/√N_z" in md and "‖z*‖ (percentile" in md
    assert "E(Q)" not in md and not [t for t in texts if "E(Q)" in t], [t for t in texts if "E(Q)" in t]
    assert texts.count("reconstruction Gs(z*)") == 3 and texts.count("|w(Q) - w(Gs(z*))|") == 3


def test_named_images_are_scored_before_an_unlabelled_runs_pile_is_decoded(tmp_path: Path, mnist,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--image on an unlabelled run: the named images are scored right after they are read, and only their scores
    (and the mapped few) are kept; their decoded pixels were held through the report, beside the training pile it
    decodes and ranks (2,000 named 64 px RGB images: 24.6 MB more at the peak, tracemalloc)."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation import report as report_module
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:48])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.064, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", train_scores=False), preset="tiny")
    train_run(cfg, run, progress=False, log=lambda m: None)
    named = tmp_path / "named"
    named.mkdir()
    for i in range(3):
        Image.fromarray(mnist["x_test"][i]).save(named / f"{i}.png")
    order: list[str] = []
    real_build, real_score = report_module.build_split, report_module.score_named_images
    monkeypatch.setattr(report_module, "build_split", lambda *a, **k: order.append("pile") or real_build(*a, **k))
    monkeypatch.setattr(report_module, "score_named_images",
                        lambda *a, **k: order.append("named") or real_score(*a, **k))
    report(run, top_k_images=1, images=[named], device="cpu", controls=False)
    assert order == ["named", "pile"]
    rows = (run / "report" / "named_images.csv").read_text().splitlines()
    assert len(rows) == 4 and ",train_percentile,percentile_score," in rows[0]


def test_a_report_builds_the_runs_split_once(tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A labelled run's report without train_scores.csv decodes the run's data once (for its test split), and the
    named images' percentiles come from that scoring, not from a second build of the training split."""
    import shutil

    from wildgan.data import splits

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report", "train_scores*"))
    reads: list[int] = []
    real = splits.load_split_data
    monkeypatch.setattr(splits, "load_split_data", lambda *a, **k: reads.append(1) or real(*a, **k))
    report(run, top_k_images=1, images=[tiny_run.parent / "report-named.png"], device="cpu", controls=False,
           tsne_points=5)
    assert len(reads) == 1 and ",test_percentile," in (run / "report" / "named_images.csv").read_text()


def test_report_skip_bad_ranks_an_unlabelled_pile_by_its_cached_scores_without_unreadable_files(
        pile_run_gone_bad, tmp_path) -> None:
    """report --skip-bad of an unlabelled run one of whose files became unreadable since training: without cached
    training scores the pile is scored, the file named in a warning (it was left out without a word); once `score
    --threshold --skip-bad` cached the scores of the readable 19, the ranking takes them (it scored the pile again:
    the rebuilt split's count and ids differ from split.json's, by what the file left out accounts for), the file
    named once, also with --image placed among those scores."""
    import warnings

    from wildgan.cli import main

    run, pile, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)

    def run_report(**kw: object) -> tuple[list[str], list[str]]:
        """(the log lines, the warnings about files left out)"""
        lines: list[str] = []
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            report(run, device="cpu", skip_bad=True, log=lines.append, top_k_images=2, controls=False, **kw)
        return lines, [str(w.message) for w in got if "unreadable file" in str(w.message)]

    lines, said = run_report()
    assert "scoring the 19 training images with" in " ".join(lines)
    assert len(said) == 1 and str(pile / "03.png") in said[0], said
    # the pile is all training images: its threshold comes from the scores just computed of all of it, and says so
    md = (run / "report" / "report.md").read_text()
    assert "taken from the 19 training images' scores (scored by this report" in md
    assert _md_table_after(md, "## Threshold")[0] == ["rule", "threshold on a", "training images flagged"]
    assert _md_table_after(md, "most anomalous training images")[0][-1] == "flagged (is_anomaly)"
    with pytest.warns(UserWarning):
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
    for kw in ({}, {"images": [q]}):
        lines, said = run_report(**kw)
        assert "ranking the 19 training images by their cached scores" in " ".join(lines), lines
        assert len(said) == 1 and str(pile / "03.png") in said[0], said
        assert "taken from the 19 training images' scores (train_scores.csv)" in (run / "report" / "report.md"
                                                                                  ).read_text()


def test_report_skip_bad_of_a_pile_says_no_training_file_left_out_for_a_file_added_unreadable(
        pile_run_gone_bad) -> None:
    """report --skip-bad of an unlabelled run whose pile gained an unreadable file since training (the training
    files all readable): the pile scored is the one trained on, so no warning says the training scores leave a file
    out."""
    import warnings

    run, pile, good = pile_run_gone_bad
    (pile / "03.png").write_bytes(good)
    (pile / "20.png").write_bytes(good[:40])
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        report(run, device="cpu", skip_bad=True, log=lines.append, top_k_images=2, controls=False)
    assert "scoring the 20 training images with" in " ".join(lines), lines
    assert not [w for w in got if "unreadable file" in str(w.message)], [str(w.message) for w in got]


def test_named_images_are_placed_among_training_scores_that_skipped_bad_files_only_with_skip_bad(
        pile_run_gone_bad, tmp_path) -> None:
    """Training scores that `score --threshold --skip-bad` cached without a training file unreadable since training:
    report --skip-bad places the --image files among them (the gap named in a warning) and ranks the unlabelled
    run's pile without the file; without --skip-bad they are not taken for the run's whole training scores, and the
    pile cannot be ranked."""
    from wildgan.cli import main

    run, pile, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    with pytest.warns(UserWarning):
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
    with pytest.warns(UserWarning):
        page = report(run, images=[q], device="cpu").parent / "report.md"
    assert "among the run's 19 training images" not in page.read_text()
    assert "The training images could not be read" in page.read_text()
    with pytest.warns(UserWarning, match=r"leave out 1 unreadable file .*03\.png"):
        report(run, images=[q], device="cpu", skip_bad=True)
    assert "among the run's 19 training images" in page.read_text()
    assert "The training images could not be read" not in page.read_text() and "## Unlabelled data" in page.read_text()


def test_the_closest_matches_name_the_generator_the_reconstructions_come_from(tmp_path, monkeypatch) -> None:
    # a wildgan run's reconstructions are Gs(E(Q)) (its heat-map panels say so) but the closest-match grid and its
    # caption called them G(E(Q)), the raw generator's, which the report's "AUC with G" column is about
    from types import SimpleNamespace

    from wildgan.evaluation import plots, report

    labels: list[str] = []
    real = plots._save

    def keep(fig, path):
        labels.extend(ax.yaxis.label.get_text() for ax in fig.axes)
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    def placeholder(path, *a, **k):
        path.write_bytes(b"png")
        return path

    for name in ("roc_curves", "score_histograms"):                # not what is tested: placeholder files
        monkeypatch.setattr(plots, name, placeholder)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 3)
    diag = SimpleNamespace(y=y, x=rng.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8), z=None, controls={},
                           recon=rng.uniform(-1, 1, (6, 8, 8, 1)).astype(np.float32), scores={"a": rng.random(6)})
    for method, gen in (("wildgan", "Gs"), ("fanogan", "G")):
        cfg = SimpleNamespace(method=method, score=SimpleNamespace(generator="Gs"), train=SimpleNamespace(seed=0))
        page = report._Page(title="t", md_dir=tmp_path)
        labels.clear()
        report._figures_section(page, tmp_path, diag, cfg, 5, lambda s: None)
        assert f"{gen}(E(Q))" in labels and (gen == "G" or "G(E(Q))" not in labels), labels
        assert f"closest matches: query row, {gen}(E(Q)) row" in "".join(page.md_parts)


def test_the_not_fully_grown_line_of_networks_in_their_last_fade_in() -> None:
    # a short --total-kimg ends in the last fade-in (lod 0.016 at 32x32): the report said "scored at 32x32 (still
    # fading in), not the data's 32x32", a contradiction that hid how far the networks got
    from types import SimpleNamespace

    from wildgan.evaluation.report import _grown_text

    cfg = SimpleNamespace(method="wildgan", net=SimpleNamespace(resolution=32))
    last = _grown_text({"lod": 0.016}, cfg)
    assert "are scored at 32x32 (still fading in from 16x16); train longer" in last and "data's" not in last
    assert "scored at 16x16; not" not in _grown_text({"lod": 1.0}, cfg)
    assert "are scored at 16x16, not the data's 32x32;" in _grown_text({"lod": 1.0}, cfg)
    assert _grown_text({"lod": 0.0}, cfg) == ""


# ---------------------------------------------------------------------------------------------------------------
# The threshold section: which images `wildgan score --threshold` would flag, and by what rule

@pytest.mark.parametrize("params, label", [
    ({"contamination": 0.1}, "Detector.fit's: contamination, c = 0.1"),
    ({"threshold": "mad", "mad_k": 2.0, "batch_mode": "isolated"}, "Detector.fit's: mad, k = 2, isolated protocol"),
    ({"threshold": "f1"}, "Detector.fit's: f1 on fit's validation set")])      # (the value fit recorded)
def test_the_report_of_a_detector_run_shows_the_threshold_its_predict_uses(tmp_path, params, label):
    # a Detector.fit run's report had no Threshold section, though fit cached the training scores: it now has the
    # rules of `wildgan score --threshold` and the Detector's own rule (recorded by fit, never by set_threshold or
    # set_params, which do no I/O), taken again from the cached scores: the very threshold predict compares with
    from wildgan import Detector
    from wildgan.evaluation.report import _fit_rule, run_report
    from wildgan.scoring.run import load_model
    from wildgan.thresholds import FIT_THRESHOLD_FILE

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 16, 16), dtype=np.uint8)
    run = tmp_path / "det"
    val = {"X_val": x[:8], "y_val": np.r_[np.ones(3), np.zeros(5)]} if params.get("threshold") == "f1" else {}
    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                   **params).fit(x, **val)
    row, said = _fit_rule(run, load_model(run, "cpu"), "a")
    assert row is not None and row[1].value == det.threshold_, (row, det.threshold_)        # exactly, not nearly
    # where the value comes from, as it does by rule: an f1 threshold was said "taken again from the training
    # scores", which it is not (fit's value as recorded: the scores only count the training images it flags)
    if params.get("threshold") == "f1":
        assert (f"(recorded by fit in {FIT_THRESHOLD_FILE}: the value fit chose on the validation set it was given, "
                f"shown as recorded since the run does not keep that set; the training scores only count the "
                f"training images it flags): ") in said, said
        assert "taken again" not in said, said
    else:
        assert f"(recorded by fit in {FIT_THRESHOLD_FILE} and taken again from the training scores" + \
            (" of its isolated protocol" if params.get("batch_mode") == "isolated" else "") + "): " in said, said
    new = rng.integers(0, 256, (6, 16, 16), dtype=np.uint8)
    np.testing.assert_array_equal(det.predict(new), (det.decision_function(new) > row[1].value).astype(np.int64))
    record = (run / FIT_THRESHOLD_FILE).read_bytes()
    det.set_threshold("contamination", contamination=0.3)         # in memory only: the run's record stays fit's
    assert (run / FIT_THRESHOLD_FILE).read_bytes() == record
    run_report(run, top_k_images=0, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    rows = {r[0]: r for r in _md_table_after(md, "## Threshold")}
    assert rows["rule"] == ["rule", "threshold on a", "training images flagged"]      # no test images to flag
    assert {"contamination, c = 0.05", "mad, k = 3", label} <= set(rows), rows
    assert float(rows[label][1]) == pytest.approx(row[1].value, rel=1e-5)
    n = int(row[1].apply(row[2]).sum())
    assert rows[label][2] == f"{n} of 24 ({n / 24:.1%})"
    assert "The last row is the threshold of the Detector that fit this run" in md
    assert "(train_scores.csv)" in md
    # networks trained on since fit: its record is not theirs, and is said to be left out
    rec = json.loads((run / FIT_THRESHOLD_FILE).read_text())
    (run / FIT_THRESHOLD_FILE).write_text(json.dumps({**rec, "weights_sha256": "0" * 64}))
    assert _fit_rule(run, load_model(run, "cpu"), "a") == (
        None, f"Detector.fit recorded its threshold ({FIT_THRESHOLD_FILE}) for other networks than these (the run was "
              f"trained on since): it is not shown.")
    (run / FIT_THRESHOLD_FILE).write_bytes(record)
    # a report ranking by another score than the Detector's points to the one that shows it
    assert _fit_rule(run, load_model(run, "cpu"), "L_o") == (None, f"The Detector that fit this run thresholds a, not "
                                                                   f"L_o ({FIT_THRESHOLD_FILE}): `wildgan report RUN "
                                                                   f"--score a` shows its threshold among these rules.")


def test_a_detector_fit_on_a_labelled_data_config_adds_its_threshold_to_the_rules_with_test_images_flagged(tmp_path):
    # fit(DataConfig) has a test split: its report took the rules' thresholds, but not the Detector's own
    from wildgan import Detector
    from wildgan.config import DataConfig
    from wildgan.evaluation.report import run_report

    run = tmp_path / "det"
    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                   contamination=0.2).fit(DataConfig(dataset="mnist", normal=("1",), resolution=8, channels=1))
    run_report(run, top_k_images=0, device="cpu", controls=False, tsne_points=5)
    md = (run / "report" / "report.md").read_text()
    rows = {r[0]: r for r in _md_table_after(md, "## Threshold")}
    got = rows["Detector.fit's: contamination, c = 0.2"]
    assert float(got[1]) == pytest.approx(det.threshold_, rel=1e-5)
    assert got[2].endswith(" anomalies") and got[3] == f"{int(det.labels_.sum())} of {det.n_train_} " \
                                                       f"({det.labels_.mean():.1%})"


def test_an_isolated_detectors_threshold_is_not_counted_against_the_mixed_test_scores(tmp_path):
    # Detector(batch_mode='isolated').fit(DataConfig): its threshold is of isolated scores, the report's test scores
    # are of mixed batches; the row counted the test images those flag, which are not the images its predict flags
    from wildgan import Detector
    from wildgan.config import DataConfig
    from wildgan.evaluation.report import run_report

    run = tmp_path / "det"
    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                   batch_mode="isolated").fit(DataConfig(dataset="mnist", normal=("1",), resolution=8, channels=1))
    run_report(run, top_k_images=0, device="cpu", controls=False, tsne_points=5)
    rows = {r[0]: r for r in _md_table_after((run / "report" / "report.md").read_text(), "## Threshold")}
    got = rows["Detector.fit's: contamination, c = 0.05, isolated protocol"]
    assert float(got[1]) == pytest.approx(det.threshold_, rel=1e-5)
    assert got[2] == "– (the test images were scored in mixed batches, this threshold is of isolated scores)", got
    assert got[3] == f"{int(det.labels_.sum())} of {det.n_train_} ({det.labels_.mean():.1%})"
    assert rows["contamination, c = 0.05"][2].endswith(" anomalies")          # the rules' rows: mixed, as counted


def test_a_detector_run_without_usable_training_scores_says_why_it_has_no_threshold(tmp_path):
    from wildgan import Detector
    from wildgan.evaluation.report import run_report

    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    run = tmp_path / "det"
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(x)
    # NaN training scores (diverged networks): no rule takes a threshold, the Detector's included, and the report is
    # still written (the Detector's rule was taken again before the section's own check, and raised)
    for f in run.glob("train_scores*.csv"):
        lines = f.read_text().splitlines()
        col = lines[0].split(",").index("a")
        f.write_text("\n".join([lines[0]] + [",".join("nan" if i == col else v for i, v in enumerate(ln.split(",")))
                                              for ln in lines[1:]]) + "\n")
    run_report(run, top_k_images=0, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "No threshold: " in md.split("## Threshold")[1] and "Detector.fit's" not in md
    for f in run.glob("train_scores*"):
        f.unlink()
    run_report(run, top_k_images=0, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "No threshold: this run has no training scores of a for these networks (Detector.fit writes them" in md
    assert "fit the Detector again, or keep a fitted one with det.save" in md
    assert "wildgan score RUN --threshold" not in md.split("## Threshold")[1].split("##")[0]    # cannot rebuild them
    # (it has no test images: "never from the test images" denied using what it does not have)
    assert "Thresholds come from the training images' scores (this run has no test images): fit the Detector" in md
    assert "never from the test images" not in md


def test_an_unlabelled_runs_threshold_section_does_not_speak_of_test_images_it_has_none_of(tmp_path):
    # its diagnostics hold the training pile: their count was given as the test images a search run's evaluation
    # searched, and its thresholds were "never from the test images"
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.report import RunDiagnostics, _Page, _threshold_section

    n = 40
    a = np.random.default_rng(0).normal(size=n)
    diag = RunDiagnostics(y=np.zeros(n, np.int8), ids=[str(i) for i in range(n)], x=np.zeros((n, 8, 8, 1), np.uint8),
                          scores={"a": a}, z=np.zeros((n, 4)), recon=None, controls={}, metrics={})
    for method in ("search", "wildgan"):
        cfg = RunConfig(data=DataConfig(dataset="unlabelled"), net=net_config_for_preset("tiny", 8, 1),
                        train=TrainConfig(), method=method)
        page = _Page("t", tmp_path)
        _threshold_section(page, diag, cfg, "a", None, unlabelled=True, n_train=n)
        text = "".join(page.md_parts)
        assert "(this run has no test images)" in text and "never from the test images" not in text, text
        assert "test images that `wildgan evaluate` did" not in text, text
    page = _Page("t", tmp_path)
    _threshold_section(page, diag, cfg, "a", ({"a": a}, "train_scores.csv"), unlabelled=True)
    text = "".join(page.md_parts)
    assert "training images' scores (train_scores.csv), the only images of this run (it has no test images" in text, \
        text


def _md_table_after(md: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after `heading` (header row first, the --- row left out)."""
    lines = md[md.index(heading):].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if not all(set(c) <= set(":- ") for c in cells):
            rows.append(cells)
    return rows


def test_the_report_states_the_threshold_score_would_use_and_which_images_it_flags(tiny_run: Path,
                                                                                  tmp_path: Path) -> None:
    """The report's threshold section gives the thresholds `wildgan score --threshold contamination|mad` takes
    from the training scores (the same values), how many test and training images each flags, and the top-k table
    says of each image whether it is flagged; in the HTML and the Markdown page alike."""
    import csv
    import shutil

    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report"))
    scored = {}
    for rule in ("contamination", "mad"):        # the first caches the training scores (train_scores.csv)
        scored[rule] = tmp_path / f"{rule}.csv"
        assert main(["score", str(run), "--threshold", rule, "--out", str(scored[rule]), "--no-progress"]) == 0
    report(run, top_k_images=TOP_K, device="cpu", controls=False, tsne_points=20)
    out = run / "report"
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    n_train = sum(1 for _ in open(run / "train_scores.csv")) - 1
    assert f"taken from the {n_train} training images' scores (train_scores.csv), never from the test images" in md
    table = _md_table_after(md, "## Threshold")
    assert table[0] == ["rule", "threshold on a", "test images flagged", "training images flagged"]
    got = {r[0]: r for r in table[1:]}
    assert set(got) == {"contamination, c = 0.05", "mad, k = 3"}          # the tiny run is clean: no γ row
    flagged_ids = {}
    for rule, label in (("contamination", "contamination, c = 0.05"), ("mad", "mad, k = 3")):
        rows = list(csv.DictReader(open(scored[rule])))
        thr = float(rows[0]["threshold"])
        assert float(got[label][1]) == pytest.approx(thr, rel=1e-5), (label, got[label], thr)
        n_flag = sum(int(r["is_anomaly"]) for r in rows)
        n_anom = sum(int(r["is_anomaly"]) for r in rows if r["label"] == "1")
        assert got[label][2] == (f"{n_flag} of {len(rows)} ({n_flag / len(rows):.1%}); {n_anom} of the "
                                 f"{sum(r['label'] == '1' for r in rows)} anomalies")
        train = [float(r["a"]) for r in csv.DictReader(open(run / "train_scores.csv"))]
        n_tr = sum(v > thr for v in train)
        assert got[label][3] == f"{n_tr} of {n_train} ({n_tr / n_train:.1%})"
        flagged_ids[rule] = {r["id"]: r["is_anomaly"] == "1" for r in rows}
    # the top-k table's 'flagged' column: the default rule's (contamination, c = 0.05)
    top = _md_table_after(md, "most anomalous test images")
    assert top[0][-1] == "flagged (is_anomaly)" and len(top) == TOP_K + 1
    for r in top[1:]:
        assert r[-1] == ("yes" if flagged_ids["contamination"][r[1]] else "no"), r
    # ... and top_anomalous.csv's, 1/0 as score's CSV writes it
    rows = list(csv.DictReader(open(out / "top_anomalous.csv")))
    assert [r["is_anomaly"] for r in rows] == [str(int(flagged_ids["contamination"][r["id"]])) for r in rows]
    assert "<h2>Threshold</h2>" in page and "<th>threshold on a</th>" in page
    assert "<th>flagged (is_anomaly)</th>" in page         # the page's word, with the CSVs' column that holds it
    assert html.escape(got["mad, k = 3"][1]) in page


def test_the_reports_csvs_write_the_decision_as_scores_csv_does(tiny_run: Path, tmp_path: Path, capsys) -> None:
    """`wildgan score --threshold` writes its per-image decision as `is_anomaly` (0/1); the report wrote the same
    decision as `flagged` in top_anomalous.csv and named_images.csv, so code that reads one file's decision could
    not read the other's. Both now name it `is_anomaly`, 0/1 as score writes it, and for the same run, threshold
    and images they flag the same images (the test split's most anomalous, and named files of both kinds)."""
    import shutil

    from wildgan.cli import main
    from wildgan.evaluation.run import split_for_run

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report"))
    quiet = ["--no-progress", "--threads", "1"]
    # the test split as score flags it (this also caches the training scores that the report thresholds by)
    assert main(["score", str(run), "--threshold", "contamination", "--out", str(tmp_path / "test.csv"), *quiet]) == 0
    test = _csv_rows(tmp_path / "test.csv")
    # named files of both kinds: the test images score ranks highest and lowest (far from the threshold either side)
    split = split_for_run(run)
    ranked = sorted(range(len(split.test_ids)), key=lambda i: float(test[split.test_ids[i]]["a"]))
    named = tmp_path / "named"
    named.mkdir()
    for i in ranked[:3] + ranked[-3:]:
        Image.fromarray(split.test_x[i, ..., 0]).save(named / f"{i}.png")
    assert main(["score", str(run), "--data", str(named), "--threshold", "contamination",
                 "--out", str(tmp_path / "named.csv"), *quiet]) == 0
    assert main(["report", str(run), "--image", str(named), "--no-controls", "--top-k", "6", "--tsne-points", "5",
                 *quiet]) == 0
    capsys.readouterr()
    for ours, theirs, n in (("top_anomalous.csv", "test.csv", 6), ("named_images.csv", "named.csv", 6)):
        got, scored = _csv_rows(run / "report" / ours), _csv_rows(tmp_path / theirs)
        header = next(iter(got.values()))
        assert "is_anomaly" in header and "flagged" not in header, (ours, list(header))
        assert len(got) == n and set(got) <= set(scored), ours
        # the same encoding: '0' / '1' in both files, never True/False, yes/no or 1.0
        assert {r["is_anomaly"] for r in got.values()} <= {"0", "1"}, ours
        assert {r["is_anomaly"] for r in scored.values()} <= {"0", "1"}, theirs
        # ... and the same decisions for the same images
        assert {i: r["is_anomaly"] for i, r in got.items()} == {i: scored[i]["is_anomaly"] for i in got}, ours
    # (not vacuous: the named files are flagged and not flagged)
    assert {r["is_anomaly"] for r in _csv_rows(run / "report" / "named_images.csv").values()} == {"0", "1"}


def test_a_report_without_training_scores_says_how_to_get_them_and_takes_no_threshold_from_the_test_set(
        tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report", "train_scores*"))
    report(run, top_k_images=2, device="cpu", controls=False, tsne_points=20)
    md, page = (run / "report" / "report.md").read_text(), (run / "report" / "report.html").read_text()
    assert "No threshold: this run has no training scores of a" in md
    # every kind of run that writes none (a study cell, the commonest, was not named) and every reason a kept
    # cache is not used (it named a change of the networks only)
    assert "nor by a search run's training or a study's cells" in md
    assert "not used once the networks, the scoring rules or the score settings changed" in md
    assert "`wildgan score RUN --threshold contamination --out scores.csv` computes and caches them" in md
    assert "No threshold: this run has no training scores" in page
    assert "flagged" not in _md_table_after(md, "most anomalous test images")[0]
    assert "<th>flagged</th>" not in page and "test images flagged" not in md
    assert not (run / "train_scores.csv").exists()          # the report reads them, it does not score the split


def test_the_threshold_section_adds_the_runs_own_gamma_and_flags_nan_scores(tmp_path: Path) -> None:
    """A labelled run trained at γ = 0.1 gets a third row, --expected-contamination 0.1; the thresholds are the
    training scores' percentile and MAD rule (never the test scores'), and a NaN test score counts as flagged."""
    from types import SimpleNamespace

    from wildgan.evaluation.report import RunDiagnostics, _Page, _threshold_section

    rng = np.random.default_rng(0)
    train = {"a": rng.normal(size=200)}
    test = np.r_[rng.normal(size=9) + 100.0, np.nan]            # test scores far above: they must not move it
    diag = RunDiagnostics(y=np.r_[np.zeros(5), np.ones(5)].astype(int), ids=[str(i) for i in range(10)],
                          x=np.zeros((10, 4, 4, 1), np.uint8), scores={"a": test}, z=np.zeros((10, 2)), recon=None,
                          controls={}, metrics={})
    page = _Page(title="t", md_dir=tmp_path)
    # (the method: the page's commands add --score where the report's score is not the method's own)
    thr = _threshold_section(page, diag, SimpleNamespace(method="wildgan", data=SimpleNamespace(contamination=0.1)),
                             "a", (train, "train_scores.csv"))
    assert thr is not None and thr.rule == "contamination"
    assert thr.value == pytest.approx(np.percentile(train["a"], 95))
    md = "\n".join(page.md_parts)
    rows = {r[0]: r for r in _md_table_after(md, "## Threshold")[1:]}
    assert list(rows) == ["contamination, c = 0.05", "mad, k = 3", "contamination, c = γ = 0.1"]
    assert float(rows["contamination, c = γ = 0.1"][1]) == pytest.approx(np.percentile(train["a"], 90), rel=1e-5)
    med = np.median(train["a"])
    assert float(rows["mad, k = 3"][1]) == pytest.approx(med + 3 * 1.4826 * np.median(np.abs(train["a"] - med)),
                                                         rel=1e-5)
    assert rows["mad, k = 3"][2] == "10 of 10 (100.0%); 5 of the 5 anomalies"     # the NaN one included
    assert rows["contamination, c = γ = 0.1"][3] == "20 of 200 (10.0%)"
    assert "`--expected-contamination 0.1`" in md


def test_top_anomalous_csv_carries_the_columns_of_the_pages_table(tiny_run: Path) -> None:
    """top_anomalous.csv has what the page's top-k table shows: ||E(Q)|| with its percentile, L_n's percentile (among
    the test images) and 'is_anomaly' (empty: the tiny run has no cached training scores, so no threshold)."""
    import csv

    out = tiny_run / "report"
    rows = list(csv.DictReader(open(out / "top_anomalous.csv")))
    assert list(rows[0]) == ["rank", "id", "label", "a", "L_n", "L_o", "L_r", "A", "z_norm", "z_norm_percentile",
                             "L_n_percentile", "is_anomaly"]
    table = _md_table_after((out / "report.md").read_text(), "most anomalous test images")
    assert len(table) == len(rows) + 1 and "flagged" not in table[0]
    for r, t in zip(rows, table[1:]):
        assert t[1] == r["id"]
        # the page rounds: ||E(Q)|| to 3 decimals, its percentile and L_n's to whole numbers
        assert t[6] == f"{float(r['z_norm']):.3f} ({float(r['z_norm_percentile']):.0f} pct)"
        assert t[7] == f"{float(r['L_n_percentile']):.0f}"
        assert r["is_anomaly"] == ""
        # ||E(Q)|| is L_o's norm: L_o = -||E(Q)|| / sqrt(N_z)
        assert float(r["L_o"]) < 0 and float(r["z_norm"]) > 0


def test_the_report_of_a_pile_changed_since_training_says_so(tmp_path: Path, unnested) -> None:
    """An unlabelled run's report ranks its training pile, rebuilt from the data, and takes those scores as the
    threshold section's reference: where the pile file had changed since training (here 16 images added) it did so
    without a word, although the rebuilt split is compared with split.json (only to skip the cache). Now a warning
    names the data and the run; an unchanged pile gives none."""
    import warnings

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    x = (np.random.default_rng(0).random((64, 16, 16)) * 255).astype(np.uint8)
    pile = tmp_path / "pile.npz"
    np.savez(pile, x=x[:48])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(pile), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.064, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", train_scores=False), preset="tiny")
    train_run(cfg, run, progress=False, log=lambda m: None)

    def said() -> list[str]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            report(run, top_k_images=1, device="cpu", controls=False)
        return [str(w.message) for w in got if "changed since" in str(w.message)]

    assert said() == []
    np.savez(pile, x=x)
    (warning,) = said()
    assert warning.startswith(f"{pile} changed since {run} was trained (n_train 48 -> 64"), warning
    assert "ranks the 64 training images as they are now (split.json: 48)" in warning, warning
    # its threshold section took the 64 images' scores as its reference: a threshold from 16 images the networks
    # never trained on (which it then flagged), where `score --threshold` takes the trained-on scores or refuses.
    # Now: none without the cached scores of the 48 trained on, and theirs with them
    page = (run / "report" / "report.md").read_text()
    assert "shows no threshold: no scores of the images it was trained on are cached" in warning, warning
    assert "No threshold: the run's data changed since it was trained" in page and "64 training images' scores" \
        not in page, page
    from wildgan.scoring.train_scores import run_training_scores

    np.savez(pile, x=x[:48])
    run_training_scores(run, device="cpu")               # the trained-on images' scores, cached
    np.savez(pile, x=x)
    (warning,) = said()
    assert "its threshold section comes from train_scores.csv, the cached scores of the images it was trained on" \
        in warning, warning
    page = (run / "report" / "report.md").read_text()
    assert "taken from the 48 training images' scores (train_scores.csv: the images the run was trained on)" in page
    # only the decoding changed (pixels a level up, split.json's decoders another Pillow), no cache: the page said to
    # restore the data, which did not change; it says how to record the pixels as they decode now
    import json

    for f in run.glob("train_scores*"):
        f.unlink()
    np.savez(pile, x=np.minimum(x[:48].astype(np.int16) + 1, 255).astype(np.uint8))
    rec = json.loads((run / "split.json").read_text())
    (run / "split.json").write_text(json.dumps({**rec, "decoders": "Pillow 9.0.0 (libjpeg 8.0)"}))
    (warning,) = said()
    assert f"(train_scores.csv); `wildgan train --out {run} --resume --train-scores` of the finished run records the " \
        f"pixels" in warning, warning
    unnested(warning)
    page = (run / "report" / "report.md").read_text()
    assert "No threshold: the run's training images decode otherwise than when it was trained (" in page and \
        "restore the data" not in page, page


def test_a_report_of_networks_that_do_not_load_says_so_and_warns(tiny_run: Path, tmp_path: Path, capsys) -> None:
    # a truncated network-final.safetensors: the page said "No trained networks yet" (a run still training) and the
    # console said nothing but where the report was written
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    weights = run / "network-final.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    said: list[str] = []
    report(run, top_k_images=0, device="cpu", controls=False, log=said.append)
    md = (run / "report" / "report.md").read_text()
    assert "No trained networks yet" not in md and "networks do not load" in md and "checksum mismatch" in md
    assert any("networks do not load" in m and str(weights) in m for m in said), said
    # on the terminal, worded like every other warning of the CLI (it said a bare `warning: ...`)
    from wildgan.cli import main

    capsys.readouterr()
    assert main(["report", str(run), "--top-k", "0", "--no-controls", "--device", "cpu", "--no-progress"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert any(ln.startswith("wildgan: warning: the run's networks do not load") for ln in lines), lines
    assert not any(ln.startswith("warning:") for ln in lines), lines


def test_a_report_shows_bars_while_it_scores_the_test_split(tiny_run: Path, tmp_path: Path, monkeypatch) -> None:
    # the test split's scoring (a latent search's minutes, for a search run) had no bar, only a "scoring" line
    import shutil

    from wildgan.scoring.run import LoadedModel

    run = tmp_path / "run"                      # (a copy: the shared run's report is read by other tests)
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report"))

    from wildgan import progress as progress_module

    asked: list[bool] = []
    labels: list[str | None] = []
    real = LoadedModel.score

    def recording(self, x, **kw):
        asked.append(kw.get("progress", False))
        labels.append(progress_module._LABEL.get())      # what the scoring's bar says it scores
        return real(self, x, **{**kw, "progress": False})

    monkeypatch.setattr(LoadedModel, "score", recording)
    report(run, top_k_images=2, device="cpu", tsne_points=50, controls=True, progress=True)
    assert len(asked) >= 3 and all(asked[:3]), asked        # the run's networks, the other generator, the controls
    # each bar says which of the three it is (they were alike, each a bare "score")
    assert labels[:3] == ["trained networks, Gs", "the other generator, raw G", "untrained networks, the control"]
    asked.clear()
    report(run, top_k_images=2, device="cpu", tsne_points=50, controls=True)
    assert asked and not any(asked), asked


def _csv_rows(path: Path) -> dict[str, dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_report_batch_mode_isolated_gives_the_numbers_of_score_batch_mode_isolated(tiny_run: Path, tmp_path: Path,
                                                                                   capsys) -> None:
    """report --batch-mode isolated scores the test split and the --image files each image alone, and takes its
    threshold and percentiles from the isolated training scores (train_scores-isolated.csv, which score --batch-mode
    isolated --threshold caches): the named images' scores, train_percentile and flags, the test images' scores and
    the threshold are those of `score --batch-mode isolated`, to the last digit. The report had no --batch-mode: its
    numbers were always of mixed batches, which differ a little."""
    import shutil

    from wildgan.cli import main
    from wildgan.evaluation.run import split_for_run

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report"))
    named = tmp_path / "named"
    named.mkdir()
    split = split_for_run(run)
    for i in range(6):                 # (a few: in mixed mode they share a minibatch-stddev group)
        Image.fromarray(split.test_x[i, ..., 0]).save(named / f"{i}.png")
    quiet = ["--no-progress", "--threads", "1"]
    assert main(["score", str(run), "--data", str(named), "--batch-mode", "isolated", "--threshold", "contamination",
                 "--out", str(tmp_path / "named.csv"), *quiet]) == 0
    assert (run / "train_scores-isolated.csv").is_file()
    assert main(["score", str(run), "--batch-mode", "isolated", "--out", str(tmp_path / "test.csv"), *quiet]) == 0
    assert main(["report", str(run), "--image", str(named), "--batch-mode", "isolated", "--no-controls",
                 "--top-k", "4", "--tsne-points", "5", *quiet]) == 0
    capsys.readouterr()

    scored, got = _csv_rows(tmp_path / "named.csv"), _csv_rows(run / "report" / "named_images.csv")
    assert set(got) == set(scored) and len(got) == 6
    for id_, r in got.items():
        s = scored[id_]
        for k in ("a", "L_n", "L_o", "L_r", "A"):
            # (score's CSV writes 9 significant digits, which round-trip float32: the same float32 scores)
            assert f"{float(r[k]):.9g}" == s[k], (id_, k, r[k], s[k])
        assert float(r["train_percentile"]) == pytest.approx(float(s["train_percentile"]), abs=0.05)
        assert r["is_anomaly"] == s["is_anomaly"]
    test_scores, top = _csv_rows(tmp_path / "test.csv"), _csv_rows(run / "report" / "top_anomalous.csv")
    assert len(top) == 4
    for id_, r in top.items():
        assert all(f"{float(r[k]):.9g}" == test_scores[id_][k] for k in ("a", "L_n", "L_o", "L_r", "A")), id_
    md = (run / "report" / "report.md").read_text()
    assert "Batch mode isolated" in md and "train_scores-isolated.csv" in md
    rows = {r[0]: r for r in _md_table_after(md, "## Threshold")}
    thr = float(next(iter(scored.values()))["threshold"])
    assert float(rows["contamination, c = 0.05"][1]) == pytest.approx(thr, rel=1e-5)

    # the default (mixed) report scores the same images otherwise: the option is what made the numbers equal
    assert main(["report", str(run), "--image", str(named), "--no-controls", "--top-k", "4", "--tsne-points", "5",
                 *quiet]) == 0
    mixed = _csv_rows(run / "report" / "named_images.csv")
    assert any(f"{float(mixed[i]['a']):.9g}" != scored[i]["a"] for i in scored)
    assert "Batch mode isolated" not in (run / "report" / "report.md").read_text()


def test_report_batch_mode_isolated_without_isolated_training_scores_says_how_to_make_them(tiny_run: Path,
                                                                                            tmp_path: Path) -> None:
    """The mixed cache (train_scores.csv, here of score --threshold) is no threshold of isolated scores: the page has
    no threshold and gives the command that caches the isolated ones."""
    import shutil

    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report", "train_scores*"))
    assert main(["score", str(run), "--threshold", "mad", "--out", str(tmp_path / "s.csv"), "--no-progress",
                 "--threads", "1"]) == 0
    assert (run / "train_scores.csv").is_file() and not (run / "train_scores-isolated.csv").exists()
    report(run, top_k_images=1, device="cpu", controls=False, tsne_points=5, batch_mode="isolated")
    md = (run / "report" / "report.md").read_text()
    section = md.split("## Threshold", 1)[1]
    assert "No threshold" in section and "`wildgan score RUN --batch-mode isolated --threshold contamination" in section


def test_report_batch_mode_of_a_study_is_refused_and_of_another_method_warned_and_mixed(fanogan_run, tmp_path: Path,
                                                                                         capsys) -> None:
    from wildgan.cli import main

    study = tmp_path / "study"
    study.mkdir()
    (study / "results.jsonl").write_text(json.dumps(_study_row()) + "\n")
    with pytest.raises(ConfigError, match="is a study, whose report scores nothing again"):
        report(study, batch_mode="isolated")
    from wildgan.evaluation.report import check_report_args

    with pytest.raises(ConfigError, match="unknown batch mode 'alone'"):
        check_report_args(None, 8, 2000, (), "alone")

    _copy_of(fanogan_run[0], tmp_path / "run")
    assert main(["report", str(tmp_path / "run"), "--batch-mode", "isolated", "--no-controls", "--top-k", "1",
                 "--tsne-points", "5", "--no-progress", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "--batch-mode applies to wildgan runs (the encoder's minibatch stddev); this fanogan run scores as it " \
           "always does" in err
    assert "Batch mode isolated" not in (tmp_path / "run" / "report" / "report.md").read_text()
    with pytest.warns(UserWarning, match="applies to wildgan runs"):
        report(tmp_path / "run", top_k_images=1, device="cpu", controls=False, tsne_points=5, batch_mode="isolated")


def test_report_batch_mode_isolated_ranks_an_unlabelled_pile_as_score_batch_mode_isolated_caches_it(
        pile_run_gone_bad, tmp_path) -> None:
    """An unlabelled run's report in isolated mode ranks its pile by isolated scores: computed by the report where no
    isolated training scores are cached (the mixed cache is not theirs), then taken from train_scores-isolated.csv
    once `score --batch-mode isolated --threshold` cached it; the two rankings' scores are the same numbers."""
    from wildgan.cli import main

    run, pile, good = pile_run_gone_bad
    (pile / "03.png").write_bytes(good)
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    quiet = ["--no-progress", "--threads", "1"]
    assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--out", str(tmp_path / "m.csv"),
                 *quiet]) == 0                                      # (the mixed cache only)
    lines: list[str] = []
    report(run, device="cpu", log=lines.append, top_k_images=3, controls=False, batch_mode="isolated")
    assert "scoring the 20 training images with" in " ".join(lines), lines
    md = (run / "report" / "report.md").read_text()
    assert "taken from the 20 training images' scores (scored by this report, each image alone" in md
    own = _csv_rows(run / "report" / "top_anomalous.csv")
    assert main(["score", str(run), "--data", str(q), "--batch-mode", "isolated", "--threshold", "mad", "--out",
                 str(tmp_path / "i.csv"), *quiet]) == 0
    lines.clear()
    report(run, device="cpu", log=lines.append, top_k_images=3, controls=False, batch_mode="isolated")
    assert "by their cached scores (train_scores-isolated.csv)" in " ".join(lines), lines
    assert "taken from the 20 training images' scores (train_scores-isolated.csv)" in (run / "report" / "report.md"
                                                                                       ).read_text()
    cached = _csv_rows(run / "report" / "top_anomalous.csv")
    assert [r["id"] for r in cached.values()] == [r["id"] for r in own.values()]
    assert all(float(cached[i][k]) == float(own[i][k]) for i in own for k in ("a", "L_n", "L_o", "L_r")), (own, cached)


def test_an_isolated_report_of_a_detector_run_names_the_isolated_cache_and_command(tmp_path):
    """report --batch-mode isolated takes its thresholds from train_scores-isolated.csv: the page's words about a
    Detector.fit run named train_scores.csv (the mixed cache) whatever the protocol, and the Threshold section the
    plain `score --threshold`, whose thresholds are of mixed scores. A mixed report keeps its words."""
    from wildgan import Detector
    from wildgan.evaluation.report import run_report

    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    run = tmp_path / "det"
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
             batch_mode="isolated").fit(x)
    assert (run / "train_scores-isolated.csv").is_file()
    for mode, cache, command in (("isolated", "train_scores-isolated.csv", "RUN --batch-mode isolated --threshold"),
                                 ("mixed", "train_scores.csv", "RUN --threshold")):
        run_report(run, top_k_images=0, device="cpu", controls=False, batch_mode=mode)
        md = (run / "report" / "report.md").read_text()
        intro = next(line for line in md.splitlines() if line.startswith("This run was trained by Detector.fit"))
        assert f"the training scores cached in {cache}, the training curves" in intro, intro
        section = md.split("## Threshold", 1)[1]
        assert f"These are the thresholds of `wildgan score {command} contamination|mad`" in section, section


def test_report_config_section_summarises_the_training_images_record(tmp_path: Path) -> None:
    """config.yaml's `# wildgan-trained-on:` record is one line of JSON, over a thousand characters for a real run:
    the report's Config section says it in a few words and points to the file, and keeps every other line."""
    from wildgan.config import (DataConfig, RunConfig, TrainConfig, config_yaml_record, net_config_for_preset,
                                write_run_config)
    from wildgan.data import default_sample_path
    from wildgan.evaluation.report import _config_text

    trained_on = {"n_train": 600, "source": str(default_sample_path()), "train_pixels_sha256": "ef0ebbd2" * 8,
                  "train_ids_sha256": "c6e7feed" * 8, "reader_version": 8, "resolution": 8}
    write_run_config(RunConfig(data=DataConfig(normal=("1",), resolution=8, channels=1),
                               net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(device="cpu")),
                     tmp_path, trained_on=trained_on)
    written = (tmp_path / "config.yaml").read_text()
    record_line = next(line for line in written.splitlines() if line.startswith("# wildgan-trained-on: "))
    shown = _config_text(tmp_path)
    line = next(line for line in shown.splitlines() if line.startswith("# wildgan-trained-on: "))
    assert line == ("# wildgan-trained-on: 600 training images from the embedded MNIST sample (pixels sha256 "
                    f"ef0ebbd2ef0e...); the whole record, {len(record_line):,} characters of JSON, is in config.yaml")
    # every other line as written, the file itself untouched (a replay still reads its record)
    assert [x for x in shown.splitlines() if x != line] == [x for x in written.splitlines() if x != record_line]
    assert config_yaml_record(tmp_path / "config.yaml")[1]["n_train"] == 600
    # a damaged record (not JSON) is shown as written: there is nothing to summarise
    (tmp_path / "config.yaml").write_text(written.replace(record_line, "# wildgan-trained-on: {not json"))
    assert "# wildgan-trained-on: {not json" in _config_text(tmp_path)


ODD_PATH_PART = "a_b*[c]|d"


def _outside_code(md: str) -> str:
    """report.md without its fenced blocks and code spans: where a path is Markdown text, not code."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", md, flags=re.S))


def test_a_run_report_escapes_every_user_path_it_names_and_its_json_keeps_them_raw(tmp_path: Path) -> None:
    """A run folder, a data file and a masks file under a folder named with Markdown syntax: report.md named them raw
    where the text was built outside the page's own escapes (the networks' file, the masks, the warning naming a bad
    line of stats.jsonl), so `*`, `_`, `[` and `|` rendered as emphasis, a link or a table. Escaped where the text
    becomes Markdown; metrics.json and the console's warning keep the path as it is."""
    import warnings

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.run import split_for_run
    from wildgan.markdown import md_escape
    from wildgan.training.run import train_run

    odd = tmp_path / ODD_PATH_PART
    odd.mkdir()
    rng = np.random.default_rng(0)
    np.savez(odd / "data.npz", x=rng.integers(0, 256, (80, 8, 8), dtype=np.uint8), y=np.repeat([0, 1], 40))
    run = odd / "run"
    cfg = RunConfig(data=DataConfig(data=str(odd / "data.npz"), normal=("0",), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.064, phase_kimg=0.016, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", log_every=1), preset="tiny")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_run(cfg, run, progress=False, log=lambda m: None)
    stats = (run / "stats.jsonl").read_text().splitlines(keepends=True)
    (run / "stats.jsonl").write_text(stats[0] + "not a row\n" + "".join(stats[1:]))      # a bad line inside: named
    np.save(odd / "masks.npy", np.random.default_rng(1).random(split_for_run(run).test_x.shape[:3]) > 0.9)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        report(run, top_k_images=2, masks=odd / "masks.npy", device="cpu", controls=False, tsne_points=20)
    md = (run / "report" / "report.md").read_text()
    esc = md_escape(ODD_PATH_PART)
    assert ODD_PATH_PART not in _outside_code(md)
    lines = md.splitlines()
    for start in ("Run directory: ", "Data: ", "Pixel-level ROC AUC"):
        hits = [ln for ln in lines if ln.startswith(start) and (esc in ln or ODD_PATH_PART in ln)]
        assert hits and all(esc in ln for ln in hits), (start, hits)
    # the run's own files are named in the run directory (_page_path): no folder of the user's in them
    assert any(ln.startswith("Networks: network-final.json") for ln in lines)
    assert any(ln.startswith("**stats.jsonl: 1 line left out") for ln in lines)
    # report.html shows the path as written, not its escapes
    page = (run / "report" / "report.html").read_text()
    shown = html.unescape(page)
    assert f"{odd}/masks.npy" in shown and esc not in shown
    # what is not Markdown keeps the path raw: metrics.json and the warning
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    assert ODD_PATH_PART in metrics["model"]["source"]
    assert any(f"{run}/stats.jsonl: 1 line left out" in str(w.message) for w in got)


def test_a_study_report_escapes_the_notes_built_outside_it(tmp_path: Path) -> None:
    """The warning naming results.jsonl's bad lines (rows.left_out_text) and the result rows' cell names reached
    report.md raw; escaped there now, the warning itself raw."""
    import warnings

    from wildgan.markdown import md_escape

    study = tmp_path / ODD_PATH_PART
    study.mkdir()
    rows = [_study_row(seed=s) for s in (0, 1)]
    rows[0]["cell"] = f"folder-{ODD_PATH_PART}-g0-wildgan-image-s0"
    (study / "results.jsonl").write_text(json.dumps(rows[0]) + "\nnot a row\n" + json.dumps(rows[1]) + "\n")
    (study / "tables.md").write_text("# Table 2\n")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        report(study)
    md = (study / "report" / "report.md").read_text()
    esc = md_escape(ODD_PATH_PART)
    assert ODD_PATH_PART not in _outside_code(md)
    assert any(ln.startswith("**") and "results.jsonl: 1 line left out" in ln and esc in ln for ln in md.splitlines())
    assert any(ln.startswith("| folder-") and esc in ln for ln in md.splitlines())     # (md_cell escapes its |)
    assert any(f"{study}/results.jsonl: 1 line left out" in str(w.message) for w in got)


def test_a_detector_runs_report_escapes_its_folder_and_a_saved_evaluations_data(tmp_path: Path) -> None:
    """A Detector.fit on a folder, and the labelled evaluation saved beside it (eval.json): the page named both raw."""
    import warnings

    from wildgan import Detector
    from wildgan.evaluation.report import run_report
    from wildgan.markdown import md_escape

    odd = tmp_path / ODD_PATH_PART
    (odd / "imgs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(odd / "imgs" / f"{i:02d}.png")
    run = odd / "det"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(
            str(odd / "imgs"))
    (run / "eval.json").write_text(json.dumps({"data": {"source": str(odd / "labelled")}, "n_test": 4,
                                               "n_anomalous": 2, "auc": {"a": 0.5}}))
    run_report(run, top_k_images=2, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    esc = md_escape(ODD_PATH_PART)
    assert ODD_PATH_PART not in _outside_code(md)
    lines = md.splitlines()
    assert any(ln.startswith("This run was trained by Detector.fit on the images of ") and esc in ln for ln in lines)
    assert any("A labelled evaluation was saved by" in ln and f"{esc}/labelled" in ln for ln in lines)


def test_tables_md_escapes_the_cell_names_it_quotes() -> None:
    """A cell's name holds its normal class (a user's folder name): tables.md quoted it raw as the example of cells
    not grown to full resolution and in the table of rows left out."""
    from wildgan.markdown import md_escape
    from wildgan.studies import render_markdown

    cell = f"{ODD_PATH_PART}_g0_wildgan_image_s0"
    rows = [_study_row(normal=ODD_PATH_PART, cell=cell, seed=0, lod=1.0, kimg=0.1),
            _study_row(normal=ODD_PATH_PART, cell=f"{cell}x", seed=1)]
    md = render_markdown(rows, apart={f"{cell}x": "score.lam: 0.2 -> 0.05"})
    md_short = render_markdown(rows[:1])
    assert ODD_PATH_PART not in md + md_short
    assert f"(e.g. {md_escape(cell)}); train longer" in md_short
    assert any(ln.startswith(f"| {md_escape(cell)}x |") for ln in md.splitlines())


def test_a_command_naming_a_path_with_backticks_stays_one_code_span() -> None:
    """A command in a code span (`wildgan evaluate PATH ...`) ended at a backtick in the path, the rest of it read as
    text; md_code fences it with a longer run of backticks, which report.html reads back as one span."""
    from wildgan.evaluation.report import _md_inline
    from wildgan.markdown import md_code

    cmd = "wildgan evaluate '/runs/a`b``c*_[x]|' --data L"
    span = md_code(cmd)
    assert span == f"```{cmd}```"
    assert _md_inline(f"Run {span} again.") == f"Run <code>{html.escape(cmd).replace('*', '&#42;')}</code> again."
    assert md_code("`x`") == "`` `x` ``" and _md_inline(md_code("`x`")) == "<code>`x`</code>"
    assert _md_inline("`a` and `b*` **c**") == "<code>a</code> and <code>b&#42;</code> <strong>c</strong>"


@pytest.mark.filterwarnings("ignore:training ended at")
def test_a_detector_run_on_a_folder_without_training_scores_says_the_command_that_computes_them(tmp_path):
    """A Detector.fit run on a folder has its training scores computed again from it by `wildgan score RUN --data
    IMAGES --threshold ...` (run_training_scores reads the folder fit recorded): its report's Threshold section said,
    as for a fit on arrays, that they cannot be rebuilt and the Detector had to be fitted again."""
    from PIL import Image

    from wildgan import Detector
    from wildgan.evaluation.report import run_report
    from wildgan.markdown import md_escape

    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
    run = tmp_path / "det"
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(str(folder))
    for f in run.glob("train_scores*"):
        f.unlink()
    run_report(run, top_k_images=0, device="cpu", controls=False)
    section = (run / "report" / "report.md").read_text().split("## Threshold")[1].split("\n## ")[0]
    assert "No threshold: this run has no training scores of a for these networks (Detector.fit writes them" \
        in section, section
    assert "`wildgan score RUN --data IMAGES --threshold contamination --out scores.csv` computes and caches them " \
           f"from {md_escape(str(folder))}, the images fit read" in section, section
    assert "fit the Detector again" not in section and "cannot be rebuilt" not in section


@pytest.mark.parametrize("labelled", [False, True])
def test_a_data_config_fit_runs_report_with_skip_bad_shows_fits_threshold_from_scores_leaving_a_file_out(
        tmp_path, labelled):
    # Detector.fit(DataConfig) of a folder (labelled: a test split; unlabelled: a pile ranked), one training file
    # unreadable since and its training scores cached by `score --threshold --skip-bad`: report --skip-bad took the
    # rules' rows from that cache but read it again without skip_bad for fit's own row, and hid it as "missing or no
    # longer of these networks' scoring", which it was not
    from wildgan import Detector
    from wildgan.config import DataConfig
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.train_scores import run_training_scores

    pile, run = tmp_path / "pile", tmp_path / "run"
    rng = np.random.default_rng(0)
    folders = {"0": 24, "1": 6} if labelled else {"": 20}
    for sub, n in folders.items():
        (pile / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / sub / f"{i:02d}.png")
    data = (DataConfig(data=str(pile), dataset="folder", normal=("0",), resolution=8, channels=1) if labelled else
            DataConfig(data=str(pile), dataset="unlabelled", resolution=8, channels=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a fit this short ends at 4x4)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 run_dir=str(run)).fit(data)
    for f in run.glob("train_scores*"):
        f.unlink()
    bad = pile / ("0" if labelled else "") / "03.png"
    bad.write_bytes(bad.read_bytes()[:40])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = len(run_training_scores(run, skip_bad=True, device="cpu")["a"])
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        run_report(run, top_k_images=0, device="cpu", controls=False, skip_bad=True, tsne_points=5)
    md = (run / "report" / "report.md").read_text()
    said = md.split("## Threshold")[1].split("\n## ")[0]
    assert "is not shown" not in said, said
    rows = {r[0]: r for r in _md_table_after(md, "## Threshold")}
    assert rows["Detector.fit's: contamination, c = 0.05"][1:] == rows["contamination, c = 0.05"][1:], rows
    assert rows["contamination, c = 0.05"][-1].startswith(f"1 of {n} "), rows
    assert len([w for w in got if str(bad) in str(w.message)]) == 1, [str(w.message) for w in got]    # (said once)


def test_a_fit_runs_report_says_who_cached_training_scores_that_leave_a_file_out(fit_run_gone_bad):
    # the page said "the threshold taken from the training scores fit cached" of a cache that a scoring with
    # skip_bad wrote after fit (its key records the file it left out), and said it of a report without skip_bad too,
    # which does not read that cache and shows no threshold
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.train_scores import run_training_scores

    run, _, _ = fit_run_gone_bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training_scores(run, skip_bad=True, device="cpu")

    def intro(skip_bad: bool) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_report(run, top_k_images=0, device="cpu", controls=False, skip_bad=skip_bad)
        return next(ln for ln in (run / "report" / "report.md").read_text().splitlines()
                    if ln.startswith("This run was trained by Detector.fit"))

    said = intro(skip_bad=True)
    assert "fit cached" not in said, said
    assert "so this report shows the threshold taken from the training scores cached in train_scores.csv after fit " \
           "by a scoring with skip_bad=True, which left out 1 file unreadable by then, the training curves" in said
    said = intro(skip_bad=False)
    assert "fit cached" not in said and "shows the threshold" not in said, said
    assert "but no threshold: the training scores cached in train_scores.csv after fit by a scoring with " \
           "skip_bad=True leave out 1 file unreadable by then, and only a report with skip_bad=True reads them." in said


def test_a_fit_runs_report_does_not_say_fit_cached_training_scores_a_later_scoring_wrote(fit_run_gone_bad):
    # the intro said "the threshold taken from the training scores fit cached" of any complete cache of these
    # networks, one written after fit by `wildgan score --threshold` (fit's removed) too; the key records no writer,
    # so the page now says where they are cached, not who cached them
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.train_scores import run_training_scores

    run, pile, good = fit_run_gone_bad
    (pile / "03.png").write_bytes(good)                    # (readable again: a complete cache, of every image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training_scores(run, device="cpu")
        run_report(run, top_k_images=0, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    intro = next(ln for ln in md.splitlines() if ln.startswith("This run was trained by Detector.fit"))
    assert "fit cached" not in intro, intro
    assert "so this report shows the threshold taken from the training scores cached in train_scores.csv, the " \
           "training curves" in intro, intro
    assert "written by Detector.fit" not in md.split("## Threshold")[1].split("\n## ")[0]


def test_a_fit_runs_report_does_not_count_the_files_left_out_by_a_stale_cache(fit_run_gone_bad):
    # the page's intro counted the files a training-score cache leaves out from its key without checking that the
    # key is of these networks and data, as every read of the cache does: a cache of the networks a resume trained
    # on since (or of other data) made it say "leave out 1 file" of scores that no report reads, with or without
    # skip_bad, and "the threshold taken from" them with skip_bad
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.run import load_model
    from wildgan.scoring.train_scores import cache_left_out, run_training_scores

    run, _, _ = fit_run_gone_bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training_scores(run, skip_bad=True, device="cpu")
    model = load_model(run, "cpu")
    assert [f["path"] for f in cache_left_out(run, model, "mixed")] == [str(run.parent / "pile" / "03.png")]
    key_file = run / "train_scores.json"
    key = json.loads(key_file.read_text())
    key_file.write_text(json.dumps({**key, "weights_sha256": "0" * 64}))     # (the networks before a resume)
    assert cache_left_out(run, model, "mixed") is None

    def page(skip_bad: bool) -> tuple[str, str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_report(run, top_k_images=0, device="cpu", controls=False, skip_bad=skip_bad)
        md = (run / "report" / "report.md").read_text()
        intro = next(ln for ln in md.splitlines() if ln.startswith("This run was trained by Detector.fit"))
        return intro, md.split("## Threshold")[1].split("\n## ")[0]

    for skip_bad in (False, True):
        intro, said = page(skip_bad)
        assert "left out" not in intro and "leave out" not in intro and "shows the threshold" not in intro, intro
        assert "but no threshold: no training scores of these networks are cached in train_scores.csv" in intro, intro
        assert "No threshold: this run has no training scores of a for these networks" in said, said


def test_the_report_of_a_fit_run_trained_with_skip_bad_says_the_threshold_it_shows_from_scores_leaving_a_file_out(
        tmp_path):
    # a Detector(skip_bad=True).fit run reads its training scores as they are, files left out or not, with or without
    # skip_bad (read_train_scores): its report without skip_bad showed their threshold, under an intro that said it
    # had none, "only a report with skip_bad=True reads them"
    from wildgan import Detector
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.train_scores import run_training_scores

    pile, run = tmp_path / "pile", tmp_path / "run"
    pile.mkdir()
    for i, im in enumerate(np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)):
        Image.fromarray(im).save(pile / f"{i:02d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a fit this short ends at 4x4)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 skip_bad=True, run_dir=str(run)).fit(str(pile))
        for f in run.glob("train_scores*"):
            f.unlink()
        (pile / "03.png").write_bytes((pile / "03.png").read_bytes()[:40])
        assert len(run_training_scores(run, device="cpu")["a"]) == 19
        run_report(run, top_k_images=0, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    intro = next(ln for ln in md.splitlines() if ln.startswith("This run was trained by Detector.fit"))
    assert "so this report shows the threshold taken from the training scores cached in train_scores.csv after " \
           "fit by a scoring with skip_bad=True, which left out 1 file unreadable by then" in intro, intro
    assert "No threshold" not in md.split("## Threshold")[1].split("\n## ")[0]


def test_a_report_without_skip_bad_says_its_training_scores_were_cached_with_it_and_the_report_that_shows_them(
        fit_run_gone_bad, capsys):
    # training scores cached by a scoring with skip_bad (a file unreadable since fit) are read only with skip_bad: a
    # report without it said the run "has no training scores" and advised `wildgan score RUN --data IMAGES
    # --threshold ...`, which stops at the same unreadable file. It says they are there and gives the report that
    # shows them, in the words of its caller: the CLI's option, or the Python call
    from wildgan.cli import main
    from wildgan.evaluation.report import run_report
    from wildgan.scoring.train_scores import run_training_scores

    run, _, _ = fit_run_gone_bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training_scores(run, skip_bad=True, device="cpu")

    def section() -> str:
        return (run / "report" / "report.md").read_text().split("## Threshold")[1].split("\n## ")[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_report(run, top_k_images=0, device="cpu", controls=False)
    said = section()
    assert "No threshold: the training scores of a for these networks are cached (train_scores.csv), but were " \
           "computed with skip_bad=True, which left out 1 file unreadable by then, and a report reads such scores " \
           "only with skip_bad=True" in said, said
    assert said.strip().endswith("`report(RUN, skip_bad=True)` shows them."), said
    assert "has no training scores" not in said and "wildgan score" not in said and "--skip-bad" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["report", str(run), "--device", "cpu", "--top-k", "0", "--no-controls", "--no-progress"]) == 0
    capsys.readouterr()
    said = section()
    assert "but were computed with --skip-bad, which left out 1 file unreadable by then, and a report reads such " \
           "scores only with --skip-bad" in said, said
    assert said.strip().endswith("`wildgan report RUN --skip-bad` shows them."), said
    assert "has no training scores" not in said and "skip_bad=True" not in said, said
    # (the report it gives shows them)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["report", str(run), "--device", "cpu", "--top-k", "0", "--no-controls", "--no-progress",
                     "--skip-bad"]) == 0
    assert "No threshold" not in section() and "taken from the 19 training images' scores" in section()


def test_a_changed_piles_report_without_skip_bad_says_its_training_scores_were_cached_with_it(
        pile_run_gone_bad, tmp_path, unnested) -> None:
    # an unlabelled run whose pile changed since training (a file added) and whose training scores a scoring with
    # --skip-bad cached without a file unreadable then (readable again since): the report without --skip-bad said
    # that no scores of the images it was trained on are cached, page and warning, and advised restoring the data
    from wildgan.cli import main

    run, pile, good = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    with pytest.warns(UserWarning):
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
    (pile / "03.png").write_bytes(good)
    (pile / "20.png").write_bytes(good)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        md = (report(run, device="cpu", top_k_images=2, controls=False).parent / "report.md").read_text()
    said = md.split("## Threshold")[1].split("\n## ")[0]
    assert "No threshold: the run's data changed since it was trained (a warning said what changed), and the " \
           "training scores of a of the images it was trained on are cached (train_scores.csv), but were computed " \
           "with skip_bad=True, which left out 1 file unreadable by then" in unnested(said), said
    assert "`report(RUN, skip_bad=True)` shows them." in said and "restore the data" not in said, said
    changed = [str(w.message) for w in got if "changed since" in str(w.message)]
    assert len(changed) == 1, [str(w.message) for w in got]
    assert f"shows no threshold: the scores of the images it was trained on cached in train_scores.csv were " \
           f"computed with skip_bad=True, leaving out 1 file unreadable by then, and are read only by " \
           f"report({str(run)!r}, skip_bad=True)" in changed[0], changed
    assert "no scores of the images it was trained on are cached" not in changed[0], changed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report(run, device="cpu", top_k_images=2, controls=False, skip_bad=True)
    said = (run / "report" / "report.md").read_text().split("## Threshold")[1].split("\n## ")[0]
    assert "No threshold" not in said and "(train_scores.csv: the images the run was trained on)" in said, said


def test_the_report_that_reads_skip_bad_scores_is_named_with_its_protocol_in_the_callers_words():
    # an isolated report's cache is train_scores-isolated.csv: a plain `wildgan report RUN --skip-bad` reads the mixed
    # one, so the report given keeps the protocol; a run named in a warning is pasted as a shell word or a Python str
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.evaluation.report import _skip_bad_report_command

    assert _skip_bad_report_command("isolated") == "report(RUN, skip_bad=True, batch_mode='isolated')"
    assert _skip_bad_report_command("mixed", Path("/r uns/a")) == "report('/r uns/a', skip_bad=True)"
    with skip_bad_said_as(CLI_SKIP_BAD):
        assert _skip_bad_report_command("isolated") == "wildgan report RUN --skip-bad --batch-mode isolated"
        assert _skip_bad_report_command("mixed", Path("/r uns/a")) == "wildgan report '/r uns/a' --skip-bad"


def test_a_pile_report_without_skip_bad_does_not_say_its_named_images_are_placed_among_unread_scores(
        pile_run_gone_bad, tmp_path) -> None:
    """report.py's `except DataError` branch of _diagnose (the training pile unreadable without skip_bad) said the
    images named with --image are placed among the cached training scores, whatever the cache. Where the cache was
    written by `score --threshold --skip-bad` (it leaves a file out), a report without skip_bad does not read it: the
    named image's section has no percentile, the page has no Threshold section, and nothing said `report(RUN,
    skip_bad=True)` would show them, unlike every other path of the report (_left_out_text); where there is no cache
    at all, there is nothing to place them among either."""
    from wildgan.cli import main

    run, pile, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    with warnings.catch_warnings():                 # (no cache yet: the fixture trained with --no-train-scores)
        warnings.simplefilter("ignore")
        md = (report(run, device="cpu", top_k_images=2, controls=False, images=[q]).parent / "report.md").read_text()
    flat = " ".join(md.split())
    assert "with no percentiles: no training scores of these networks are cached in train_scores.csv" in flat, md
    assert "placed among" not in flat and "percentile" not in flat.replace("no percentiles", ""), md
    with pytest.warns(UserWarning):
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
    assert json.loads((run / "train_scores.json").read_text())["skipped"]         # (the cache leaves 03.png out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        md = (report(run, device="cpu", top_k_images=2, controls=False, images=[q]).parent / "report.md").read_text()
    flat = " ".join(md.split())
    assert "placed among the training scores cached in train_scores.csv" not in flat or "percentile" in flat, md
    # (with the report's named images, as FILES: see test_report_page_commands.py)
    assert "skip_bad=True, images=FILES)" in flat, md
    assert "the training scores cached in train_scores.csv were computed with skip_bad=True, which left out 1 file " \
           "unreadable by then, and a report reads such scores only with skip_bad=True: `report(RUN, " \
           "skip_bad=True, images=FILES)` places the named images among them" in flat, md


def test_a_short_pile_runs_report_ranked_by_a_says_to_rank_and_flag_by_l_r(tmp_path: Path, monkeypatch) -> None:
    """A pile has no labels for `evaluate` to show a against its controls, so the report of a short training ranked
    by a (its default) gives the README's rule, with the commands that rank and flag by L_r: a newcomer's 13-kimg run
    on 300 cell crops ranked the one elliptocyte hidden among them the most normal of all by a, first by L_r. Not
    said when the report already ranks by L_r, nor from SHORT_TRAINING_KIMG on."""
    from loose_image_piles import tiny_run_on_a_noise_pile
    from wildgan.evaluation import report as report_module

    _, run, _ = tiny_run_on_a_noise_pile(tmp_path)
    said = "After a short training (0.064 kimg) the score a can still follow the pixels"
    report(run, device="cpu", top_k_images=2, controls=False)
    md = (run / "report" / "report.md").read_text()
    assert said in md, md
    assert ("`wildgan report RUN --score L_r` ranks and maps the pile by it, `wildgan score RUN --data NEW --score "
            "L_r --threshold contamination` flags by it") in md
    report(run, device="cpu", top_k_images=2, controls=False, score="L_r")
    assert "After a short training" not in (run / "report" / "report.md").read_text()
    monkeypatch.setattr(report_module, "SHORT_TRAINING_KIMG", 0.01)
    report(run, device="cpu", top_k_images=2, controls=False)
    assert "After a short training" not in (run / "report" / "report.md").read_text()


# ---------------------------------------------------------------------------------------------------------------
# The AUC per anomalous class (evaluation.by_class, as evaluate keeps it in eval.json's by_class)

def _by_class_rows(md: str, heading: str = "### AUC per anomalous class") -> dict[str, list[str]]:
    """The rows of report.md's per-class table under `heading` by class (its header under 'header')."""
    from wildgan.markdown import split_md_row

    lines = md.split(heading + "\n", 1)[1].strip().splitlines()
    table = [split_md_row(ln) for ln in lines[:lines.index("")] if not ln.startswith("|---")]
    return {"header": table[0], **{r[0]: r for r in table[1:]}}


def test_a_labelled_runs_report_has_the_auc_of_each_anomalous_class(tiny_run: Path) -> None:
    """MNIST with normal 0 has 9 anomalous classes: the report's Metrics show each one's n, the AUC of every score
    and control and its median rank by the report's score, as by_class computes them of the report's own scores
    (metrics.json's by_class), in both pages and in auc_by_class.csv beside them."""
    from wildgan.config import SCORE_NAMES
    from wildgan.evaluation.by_class import BY_CLASS_CSV, auc_by_class, by_class_csv_text
    from wildgan.evaluation.report import diagnose_run
    from wildgan.evaluation.run import split_for_run

    out = tiny_run / "report"
    table = json.loads((out / "metrics.json").read_text())["by_class"]
    assert table["rank_by"] == "a" and table["n_test"] == 400
    assert list(table["classes"]) == [str(c) for c in range(1, 10)]
    # the numbers are by_class's own, of the scores the report computed (diagnose_run's, deterministic): ranked here
    # by another score, the AUCs are the same and the ranks those auc_by_class gives of the same arrays
    split = split_for_run(tiny_run)
    _, diag = diagnose_run(tiny_run, device="cpu", score="L_r")
    controls = {**{f"untrained_{k}": v for k, v in diag.controls["untrained"].items()}, **diag.controls["pixel"]}
    expect = auc_by_class(diag.y, split.test_classes, {k: diag.scores[k] for k in SCORE_NAMES if k in diag.scores},
                          "L_r", controls=controls, order=split.info["class_names"])
    assert diag.metrics["by_class"] == expect
    for name, r in table["classes"].items():
        assert r["auc"] == expect["classes"][name]["auc"] and r["controls"] == expect["classes"][name]["controls"]
        assert r["n"] == expect["classes"][name]["n"] == int(np.sum(np.asarray(split.test_classes) == name))
    # the CSV as evaluate writes it
    assert (out / BY_CLASS_CSV).read_text() == by_class_csv_text(table)
    md = (out / "report.md").read_text()
    rows = _by_class_rows(md)
    # the scores alone, then a table of each kind of control: one table of all 16 columns was 180 characters a line
    assert rows["header"] == ["class", "n", "a", "L_n", "L_o", "L_r", "A", "median rank by a (of 400)"]
    untrained = _by_class_rows(md, "#### Controls per class: the untrained networks")
    assert untrained["header"] == ["class", "a", "L_n", "L_o", "L_r", "A"]
    pixel = _by_class_rows(md, "#### Controls per class: the pixel statistics")
    assert pixel["header"] == ["class", "pixel_norm", "pixel_std", "pixel_mean"]
    for name, r in table["classes"].items():
        cells = dict(zip(rows["header"], rows[name]))
        assert cells["n"] == str(r["n"]) and cells["median rank by a (of 400)"] == f"{r['median_rank']:g}"
        for k, v in r["auc"].items():
            assert cells[k] == f"{v:.3f}", (name, k)
        # every control in one of the two, by the name the CSV gives it
        shown = {**{f"untrained_{k}": v for k, v in zip(untrained["header"][1:], untrained[name][1:])},
                 **dict(zip(pixel["header"][1:], pixel[name][1:]))}
        assert shown == {k: f"{v:.3f}" for k, v in r["controls"].items()}, name
    assert rows["(normal)"][1] == "200" and rows["(normal)"][-1] == f"{table['normal']['median_rank']:g}"
    # each table fits a terminal of 100 columns, as report.md is read there too
    section = md.split("### AUC per anomalous class\n", 1)[1].split("\n## ", 1)[0]
    wide = [ln for ln in section.splitlines() if ln.startswith("|") and len(ln) > 100]
    assert not wide, wide
    page = (out / "report.html").read_text()
    assert "<h3>AUC per anomalous class</h3>" in page
    assert f"<td>8</td><td>{table['classes']['8']['n']}</td><td>{table['classes']['8']['auc']['a']:.3f}</td>" in page


def test_the_per_class_table_follows_the_reports_score_and_its_controls(tiny_run: Path, tmp_path: Path) -> None:
    """--score L_r: its AUC first and the ranks by it; --no-controls: no control columns (none were scored)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("report"))
    report(run, top_k_images=0, device="cpu", score="L_r", controls=False, tsne_points=5)
    table = json.loads((run / "report" / "metrics.json").read_text())["by_class"]
    assert table["rank_by"] == "L_r" and "controls" not in table["classes"]["1"]
    md = (run / "report" / "report.md").read_text()
    rows = _by_class_rows(md)
    assert rows["header"] == ["class", "n", "L_r", "a", "L_n", "L_o", "A", "median rank by L_r (of 400)"]
    assert "Controls per class" not in md
    assert rows["7"][-1] == f"{table['classes']['7']['median_rank']:g}"


def test_the_per_class_table_is_shown_for_2_to_20_classes(tmp_path: Path) -> None:
    """One anomalous class is the overall AUC again (no table); CIFAR-100's 99 would bury the page (a line saying
    where they are); the CSV holds every class either way."""
    from wildgan.evaluation.by_class import BY_CLASS_CSV, auc_by_class
    from wildgan.evaluation.report import _by_class_section, _Page

    rng = np.random.default_rng(0)
    for k, shown in ((1, None), (2, "table"), (20, "table"), (21, "line")):
        y = np.r_[np.zeros(30, int), np.ones(2 * k, int)]
        classes = ["normal"] * 30 + [f"c{i // 2}" for i in range(2 * k)]
        table = auc_by_class(y, classes, {"a": rng.random(len(y))}, "a")
        d = tmp_path / f"k{k}"
        d.mkdir()
        page = _Page(title="t", md_dir=d)
        _by_class_section(page, d, table)
        md = "\n".join(page.md_parts)
        assert (d / BY_CLASS_CSV).read_text().count("\n") == k + 1
        assert ("### AUC per anomalous class" in md) == (shown == "table"), k
        assert (f"AUC per anomalous class: {k} classes, too many for this page" in md) == (shown == "line"), k
        assert (md == "") == (shown is None), k


def test_a_pile_runs_report_has_no_per_class_table(tmp_path: Path, mnist) -> None:
    """An unlabelled pile has no classes to rank by: its report has no per-class section nor CSV, even where a
    labelled evaluation of the run (eval.json, with its by_class) is shown."""
    run, _, _ = _pile_run_evaluated(tmp_path, mnist, {1: 12, 3: 12, 7: 12})
    assert list(json.loads((run / "eval.json").read_text())["by_class"]["classes"]) == ["3", "7"]
    report(run, top_k_images=1, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "AUC a " in md                                     # (the saved evaluation is shown ...)
    assert "per anomalous class" not in md                    # (... without a per-class table)
    assert not (run / "report" / "auc_by_class.csv").exists()


def test_an_unlabelled_runs_report_lists_each_file_once_not_its_rotated_copies(tmp_path: Path, mnist) -> None:
    """A pile trained with --rotations: its report's top images were ranked among the training images, rotated
    copies included, so its list showed turned copies of one cell (`cell_0593.png#rot1`, `#rot2`) as images of their
    own. Each file is listed once now, by its own image's score, and the page says where the copies went."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.report import _diagnose_training_pile
    from wildgan.scoring.run import load_model
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:24])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1,
                                    rotations=2),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.064, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu"), preset="tiny")
    train_run(cfg, run, progress=False, log=lambda m: None)
    model = load_model(run, "cpu")
    _, diag = _diagnose_training_pile(run, cfg, "cpu", lambda m: None, 30, "a", model=model)
    # (all 24 files, though 30 were asked for: the 48 copies are not among them; the reference keeps all 72)
    assert len(diag.ids) == 24 and not any("#rot" in i for i in diag.ids), diag.ids
    assert diag.rotated_copies == 48 and len(diag.ref_scores["a"]) == 72
    report(run, top_k_images=3, device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text()
    assert "Each file of the pile is listed once, ranked by its own image: the 48 rotated copies the run trained on" \
        in md, md
    assert "#rot" not in (run / "report" / "top_anomalous.csv").read_text()
