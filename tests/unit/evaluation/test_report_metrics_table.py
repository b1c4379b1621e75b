"""The Metrics section of a run's report: each number of its table under its own column (report._metrics_rows under
report._metrics_header), and the sentence on where the anomalies' latents sit said from the numbers it names.

Why: the table's columns were checked by their headers' words only (test_report), so a row that put the untrained
networks' AP under 'AUC untrained' (and their AUC under 'AP untrained'), or a score's AUC under 'AP', printed a
plausible table of the wrong numbers, which a reader compares the trained AUCs against."""

from __future__ import annotations

from pathlib import Path

from wildgan.evaluation.report import _metrics_header, _metrics_rows


def test_each_metric_is_printed_under_its_own_column() -> None:
    # every number distinct, so that any two columns swapped are told apart
    metrics = {
        "auc": {"a": 0.81, "L_r": 0.72}, "ap": {"a": 0.61, "L_r": 0.52},
        "auc_ci95": {"a": [0.75, 0.86]},
        "controls": {"untrained": {"a": 0.55, "L_r": 0.45}, "pixel_norm": 0.66, "pixel_std": 0.34},
        "controls_ap": {"untrained": {"a": 0.44, "L_r": 0.41}, "pixel_norm": 0.62, "pixel_std": 0.31},
        "auc_vs_controls": {"a": {"untrained": {"p": 0.002}}},
        "other_generator": {"generator": "G", "auc": {"a": 0.79, "L_r": 0.70}},
    }
    header = _metrics_header(metrics)
    rows = {r[0]: dict(zip(header, r)) for r in _metrics_rows(metrics)}
    assert len(header) == len(next(iter(rows.values())))
    assert rows["a"] == {"score": "a", "AUC": 0.81, "95% CI": "0.750-0.860", "AP": 0.61, "AUC untrained": 0.55,
                         "p vs untrained": "0.002", "AP untrained": 0.44, "AUC with G": 0.79}
    assert rows["L_r"] == {"score": "L_r", "AUC": 0.72, "95% CI": "-", "AP": 0.52, "AUC untrained": 0.45,
                           "p vs untrained": "-", "AP untrained": 0.41, "AUC with G": 0.70}
    # the pixel controls: their AUC and AP, nothing in the untrained networks' columns
    assert rows["pixel_norm (control)"]["AUC"] == 0.66 and rows["pixel_norm (control)"]["AP"] == 0.62
    assert rows["pixel_std (control)"]["AUC"] == 0.34 and rows["pixel_std (control)"]["AP"] == 0.31
    assert rows["pixel_std (control)"]["AUC untrained"] == "-" and "pixel_mean (control)" not in rows
    assert list(rows) == ["a", "L_r", "pixel_norm (control)", "pixel_std (control)"]   # SCORE_NAMES' order


def _metrics_page(tmp_path: Path, z: dict[str, float]) -> str:
    """The Metrics section of a labelled run's report for metrics whose mean ||E(Q)|| is `z`, as Markdown."""
    from types import SimpleNamespace

    from wildgan.evaluation.report import _metrics_section, _Page

    metrics = {"model": {"source": str(tmp_path / "network-final.json"), "lod": 0.0}, "n_test": 4, "n_anomalous": 2,
               "auc": {"a": 0.7}, "ap": {"a": 0.6}, "mean_z_norm": z}
    cfg = SimpleNamespace(method="wildgan", net=SimpleNamespace(resolution=16), score=SimpleNamespace(generator="Gs"))
    page = _Page(title="t", md_dir=tmp_path)
    _metrics_section(page, tmp_path, tmp_path, SimpleNamespace(metrics=metrics, scores={}), cfg, None, "")
    return "".join(page.md_parts)


def test_the_report_says_on_which_side_of_the_normal_images_the_anomalies_latents_sit(tmp_path) -> None:
    # the sentence the reader checks the paper's premise by (L_o ranks images nearer the origin as anomalous): each
    # side said from the numbers, where only the table's numbers were checked before
    near = _metrics_page(tmp_path, {"normal": 2.0, "anomalous": 1.5})
    assert "Mean ||E(Q)||: normal 2.000, anomalous 1.500: here anomalies sit nearer to the origin than" in near
    far = _metrics_page(tmp_path, {"normal": 1.5, "anomalous": 2.0})
    assert "anomalous 2.000: here anomalies sit farther from the origin than normal images" in far
    same = _metrics_page(tmp_path, {"normal": 2.0, "anomalous": 1.99})
    assert "here anomalies sit about as far from the origin as normal images" in same
