"""The 95% bands of the AUC-versus-gamma curves (evaluation.gamma_curves.auc_vs_gamma_ci95, mean_interval): the
seeds' t-interval where a point has several, else the cells' intervals over their test images, checked against
numbers worked out by hand on synthetic result rows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from wildgan.evaluation.gamma_curves import auc_vs_gamma, auc_vs_gamma_ci95
from wildgan.evaluation.metrics import auc_ci, auc_score_interval

T975 = {1: 12.706204736174705, 2: 4.302652729749464, 3: 3.182446305284263}   # t(0.975, df), from tables
OURS = "Ours d_I (a)"


def _row(cell: str, gamma: float, seed: int, auc: float, ci: list[float] | None = None, normal: str = "0",
         pixel: float = 0.52, untrained: float = 0.55, counts: bool = True) -> dict[str, Any]:
    r: dict[str, Any] = {"cell": cell, "normal": normal, "gamma": gamma, "method": "wildgan",
                         "encoder_loss": "image", "seed": seed, "auc": {"a": auc}, "ap": {"a": auc},
                         "controls": {"untrained": {"a": untrained}, "pixel_norm": pixel},
                         "auc_ci95": {"a": ci} if ci is not None else None}
    if counts:
        r.update(n_test=400, n_anomalous=100)
    return r


def _band(rows: list[dict[str, Any]], label: str = OURS) -> dict[float, tuple[float, float]]:
    return {g: (below, above) for g, below, above in auc_vs_gamma_ci95(rows)[label]}


def test_several_seeds_give_the_t_interval_of_their_mean() -> None:
    # 0.6, 0.7, 0.8: mean 0.7, s 0.1, t(0.975, 2) 4.3027 -> +- 0.2484, whatever the cells' own intervals say
    rows = [_row(f"c{s}", 0.0, s, a, [a - 0.01, a + 0.01]) for s, a in enumerate((0.6, 0.7, 0.8))]
    half = T975[2] * 0.1 / math.sqrt(3)
    assert half == pytest.approx(0.248414, abs=1e-6)
    assert _band(rows)[0.0] == pytest.approx((half, half), rel=1e-9)
    # two seeds: t(0.975, 1) = 12.7, so 0.70 and 0.72 give 0.71 +- 0.127
    rows = [_row(f"c{s}", 0.0, s, a) for s, a in enumerate((0.70, 0.72))]
    half = T975[1] * math.sqrt(0.0002) / math.sqrt(2)
    assert _band(rows)[0.0] == pytest.approx((half, half), rel=1e-9)


def test_pooled_classes_are_held_fixed_and_the_band_is_clipped_at_1() -> None:
    # class 0: 0.6, 0.8; class 1: 0.9, 0.9. Within-class spread s^2 = (0.01 + 0.01 + 0 + 0) / (4 - 2) = 0.01, so
    # the mean 0.8 +- t(0.975, 2) * 0.1 / 2 = 0.2151, its top clipped at 1 (0.2 above). A t-interval over all four
    # cells, as if the classes were seeds, would be t(0.975, 3) * sd(0.6, 0.8, 0.9, 0.9) / 2 = 0.2258 below
    rows = [_row("a0", 0.0, 0, 0.6), _row("a1", 0.0, 1, 0.8),
            _row("b0", 0.0, 0, 0.9, normal="1"), _row("b1", 0.0, 1, 0.9, normal="1")]
    below, above = _band(rows)[0.0]
    assert below == pytest.approx(T975[2] * 0.1 / 2, rel=1e-9)
    assert above == pytest.approx(0.2, rel=1e-9)
    naive = T975[3] * math.sqrt(sum((a - 0.8) ** 2 for a in (0.6, 0.8, 0.9, 0.9)) / 3) / 2
    assert below != pytest.approx(naive, rel=1e-3)


def test_one_seed_gives_the_cells_interval_over_its_test_images() -> None:
    # one cell: its own auc_ci95, lopsided as it is (not a half-width)
    rows = [_row("c0", 0.02, 0, 0.65, [0.6, 0.72])]
    assert _band(rows)[0.02] == pytest.approx((0.05, 0.07), rel=1e-9)
    # one seed of each of two classes: the mean of two independent AUCs, each end's distances in quadrature / 2
    rows = [_row("a", 0.0, 0, 0.6, [0.5, 0.65]), _row("b", 0.0, 0, 0.8, [0.78, 0.9], normal="1")]
    below, above = _band(rows)[0.0]
    assert below == pytest.approx(math.hypot(0.1, 0.02) / 2, rel=1e-9)
    assert above == pytest.approx(math.hypot(0.05, 0.1) / 2, rel=1e-9)
    # a cell without an interval (a row from before them): no band at that gamma, the others kept
    rows = [_row("c0", 0.0, 0, 0.65), _row("c1", 0.05, 0, 0.6, [0.55, 0.64])]
    assert _band(rows) == {0.05: pytest.approx((0.05, 0.04), rel=1e-9)}


def test_controls_are_banded_too() -> None:
    # one seed: a control's Newcombe interval from its AUC and the test counts (the row keeps no auc_ci95 of it)
    rows = [_row("c0", 0.0, 0, 0.7, [0.65, 0.75], pixel=0.52)]
    lo, hi = auc_score_interval(0.52, 100, 300)
    assert 0.45 < lo < 0.52 < hi < 0.59
    assert _band(rows, "control: -‖Q‖")[0.0] == pytest.approx((0.52 - lo, hi - 0.52), rel=1e-9)
    lo, hi = auc_score_interval(0.55, 100, 300)
    assert _band(rows, "control: untrained Ours (a)")[0.0] == pytest.approx((0.55 - lo, hi - 0.55), rel=1e-9)
    # seeds that agree (the same pixels on each seed's test set): their spread is 0, and a band of width 0 would
    # claim an exact AUC, so it is the test images' interval (one, not three independent ones)
    rows = [_row(f"c{s}", 0.0, s, 0.7 + 0.01 * s, pixel=0.52) for s in range(3)]
    lo, hi = auc_score_interval(0.52, 100, 300)
    assert _band(rows, "control: -‖Q‖")[0.0] == pytest.approx((0.52 - lo, hi - 0.52), rel=1e-9)
    # the untrained networks differ with the seed: their t-interval
    rows = [_row(f"c{s}", 0.0, s, 0.7, untrained=u) for s, u in enumerate((0.5, 0.52))]
    half = T975[1] * math.sqrt(0.0002) / math.sqrt(2)
    assert _band(rows, "control: untrained Ours (a)")[0.0] == pytest.approx((half, half), rel=1e-9)
    # without the counts a one-seed control has no interval, so no band
    assert "control: -‖Q‖" not in auc_vs_gamma_ci95([_row("c0", 0.0, 0, 0.7, counts=False)])


def test_the_score_interval_is_auc_cis_where_delongs_variance_is_0() -> None:
    # auc_ci of a perfect ranking (2 anomalies above 3 normal images) is Newcombe's interval alone: 0.439-1
    y, s = [1, 1, 0, 0, 0], [5.0, 4.0, 3.0, 2.0, 1.0]
    assert auc_score_interval(1.0, 2, 3) == auc_ci(y, s)
    assert auc_score_interval(1.0, 2, 3)[0] == pytest.approx(0.439, abs=5e-4)
    assert all(math.isnan(v) for v in auc_score_interval(0.7, 1, 10))
    assert all(math.isnan(v) for v in auc_score_interval(float("nan"), 10, 10))


def test_the_bands_are_of_the_curves_means() -> None:
    # the band's ends are the curve's mean minus below and plus above: the mean auc_vs_gamma plots
    rows = [_row(f"c{s}", g, s, 0.6 + 0.1 * s - g) for g in (0.0, 0.1) for s in range(3)]
    curve = {g: m for g, m, _ in auc_vs_gamma(rows)[OURS]}
    for g, (below, above) in _band(rows).items():
        assert curve[g] - below == pytest.approx(curve[g] - T975[2] * 0.1 / math.sqrt(3), rel=1e-9)
        assert curve[g] + above == pytest.approx(min(curve[g] + T975[2] * 0.1 / math.sqrt(3), 1.0), rel=1e-9)


def test_the_figure_draws_the_bands_where_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the figure itself, not only the numbers: a fill from mean - below to mean + above per banded curve
    from matplotlib.collections import PolyCollection

    from wildgan.evaluation import plots

    rows = [_row(f"c{g}{s}", g, s, 0.6 + 0.1 * s - g) for g in (0.0, 0.1) for s in range(3)]
    figures = []
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or real(fig, path))
    plots.auc_vs_gamma(tmp_path / "g.png", auc_vs_gamma(rows), bands=auc_vs_gamma_ci95(rows), band_text="TEXT")
    ax = figures[0].axes[0]
    fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(fills) == 3          # Ours, its untrained networks and -‖Q‖: every curve has two banded gammas
    half = T975[2] * 0.1 / math.sqrt(3)
    ys = sorted((float(f.get_paths()[0].vertices[:, 1].min()), float(f.get_paths()[0].vertices[:, 1].max()))
                for f in fills)
    assert any(lo == pytest.approx(0.6 - half) and hi == pytest.approx(0.7 + half) for lo, hi in ys)
    assert "shaded: TEXT" in ax.get_ylabel()


def test_each_normal_class_has_a_figure_file_of_its_own() -> None:
    # file_safe writes 'a b' and 'a_b' alike, and 'Cat' and 'cat' are one file on a case-blind disk: the second
    # class's figure was drawn over the first's, and the page showed it twice, under both names
    from wildgan.evaluation.gamma_curves import gamma_plots

    rows = [_row(f"{n}-{g}", g, 0, 0.7 - g, normal=n) for n in ("a b", "a_b", "Cat", "cat", "dog") for g in (0.0, 0.1)]
    plots = gamma_plots(rows)
    names = [p.name for p in plots]
    assert len({n.casefold() for n in names}) == len(names) == 6, names
    by_class = {p.normal: p.name for p in plots[1:]}
    assert set(by_class) == {"a b", "a_b", "Cat", "cat", "dog"}
    # a class no other one collides with keeps its name, and every name stays the study's figure name
    assert by_class["dog"] == "auc_vs_gamma-normal-dog.png"
    assert all(n.startswith("auc_vs_gamma-normal-") and n.endswith(".png") for n in names[1:])
    # the score's figures likewise
    assert len({p.name.casefold() for p in gamma_plots(rows, "a")}) == 6
