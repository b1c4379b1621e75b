"""What the report's figures cost (evaluation.plots): each figure drawn once into the PNG that savefig's tight crop
writes, the t-SNE on one OpenMP thread, one k-d tree per ROC curve; and that none of it changes a pixel."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from matplotlib.figure import Figure

from wildgan.evaluation import plots


def _figures(tmp: Path) -> dict[str, Callable[[Path], Path]]:
    """Every figure the reports draw, on small synthetic data: name -> draw it to a path."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 15)
    scores = {"a": rng.random(30) + 0.3 * y, "L_n": rng.random(30), "L_o": rng.random(30) + 0.3 * y}
    controls = {"untrained": {"a": rng.random(30)}, "pixel": {"pixel_mean": -rng.random(30)}}
    z = rng.normal(size=(30, 8))
    x = rng.integers(0, 256, (30, 8, 8, 1), dtype=np.uint8)
    recon = rng.uniform(-1, 1, (30, 8, 8, 1)).astype(np.float32)
    heat = rng.random((4, 4)).repeat(2, 0).repeat(2, 1)
    rows = [{"kimg": 0.1 * i, "D/loss": rng.random(), "G/loss": rng.random(), "E/loss": rng.random(),
             "D/grad_norm": rng.random(), "img_per_s": 100 + i, "resolution": 4 if i < 5 else 8} for i in range(10)]
    curves = {"Ours (a)": [(0.0, 0.8, 0.02), (0.05, 0.75, 0.03)], "control pixel_mean": [(0.0, 0.6, 0.0),
                                                                                          (0.05, 0.58, 0.0)]}
    return {
        "roc": lambda p: plots.roc_curves(p, y, scores, controls),
        "hist": lambda p: plots.score_histograms(p, y, scores),          # (fig.tight_layout: a layout engine left)
        "tsne": lambda p: plots.tsne_plot(p, z, y),
        "latent": lambda p: plots.latent_histograms(p, z, y),
        "closest": lambda p: plots.closest_matches(p, x, recon, y, n=4),
        "panel": lambda p: plots.heatmap_panel(p, x[0], heat, recon[0], "#1 a.png, a = 0.5", vmax=1.0, block=2),
        "training": lambda p: plots.training_curves(p, rows),
        "gamma": lambda p: plots.auc_vs_gamma(p, curves, bands={"Ours (a)": [(0.0, 0.05, 0.04)]}),
    }


def test_each_figure_is_drawn_once_into_the_png_of_a_tight_savefig(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # savefig(bbox_inches="tight") drew every figure twice, once without rendering only to lay it out for its box (a
    # third of the report's figure time); the box is now measured once and the PNG must not change by a byte
    draws: list[int] = []
    real_draw = Figure.draw

    def counted(self: Figure, renderer: Any) -> None:
        draws[-1] += 1
        real_draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    for name, draw in _figures(tmp_path).items():
        draws.append(0)
        ours = draw(tmp_path / f"{name}.png")
        assert draws[-1] == 1, (name, draws[-1])
        with monkeypatch.context() as m:        # matplotlib's own tight crop, as the report saved its figures
            m.setattr(plots, "_save", lambda fig, path: fig.savefig(path, dpi=plots.DPI, bbox_inches="tight") or path)
            reference = draw(tmp_path / f"{name}-tight.png")
        assert ours.read_bytes() == reference.read_bytes(), name


def test_a_figure_with_a_layout_engine_is_laid_out_before_its_box_is_taken(tmp_path: Path) -> None:
    # figure.autolayout in the user's rcParams gives every Figure a tight-layout engine that lays it out as it is
    # drawn: its box is only known after that draw, and a box measured before it cropped the laid-out figure wrongly
    import matplotlib as mpl

    def draw(path: Path) -> Path:
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1])
        ax.set_ylabel("a long label " * 3)
        return plots._save(fig, path)

    with mpl.rc_context({"figure.autolayout": True}):
        ours = draw(tmp_path / "ours.png")
        fig_path = tmp_path / "tight.png"
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1])
        ax.set_ylabel("a long label " * 3)
        fig.savefig(fig_path, dpi=plots.DPI, bbox_inches="tight")
    assert ours.read_bytes() == fig_path.read_bytes()


def test_the_tsne_runs_on_one_openmp_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sklearn's Barnes-Hut t-SNE opens an OpenMP region twice per iteration: on a report's few points its threads
    # spent most of the report's CPU time waiting for each other (20 points: 3.8 s CPU on 2 threads, 0.06 s on one)
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_info, threadpool_limits

    seen: list[int] = []
    real = TSNE.fit_transform

    def spy(self: Any, X: Any, *a: Any, **k: Any) -> Any:
        seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")
        return real(self, X, *a, **k)

    monkeypatch.setattr(TSNE, "fit_transform", spy)
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=2, user_api="openmp"):          # (as on any machine of two cores or more)
        plots.tsne_plot(tmp_path / "tsne.png", rng.normal(size=(20, 4)), np.arange(20) % 2)
        after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
    assert seen and set(seen) == {1}, seen
    assert set(after) == {2}, after                                  # (given back as it was)


def test_the_roc_figure_builds_one_tree_per_curve_and_bounded_distances_are_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # each pair of curves built two k-d trees and measured every point of both, for a dozen curves with the controls
    import scipy.spatial
    from sklearn.metrics import roc_curve

    built: list[int] = []
    real = scipy.spatial.cKDTree

    def counted(*a: Any, **k: Any) -> Any:
        built.append(1)
        return real(*a, **k)

    monkeypatch.setattr(scipy.spatial, "cKDTree", counted)
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 40)
    base = rng.normal(size=80) + y
    scores = {"a": base, "L_o": 2 * base + 1, "L_r": rng.normal(size=80) + 0.5 * y,
              "L_n": rng.normal(size=80)}
    controls = {"untrained": {k: rng.normal(size=80) for k in scores}, "pixel": {"pixel_mean": base + 0.05 * y}}
    plots.roc_curves(tmp_path / "roc.png", y, scores, controls)
    assert len(built) == 4 + 4 + 1, len(built)                    # one per curve drawn
    # the bounded distance the figure decides by is roc_gap's wherever it is within the bound, and inf elsewhere
    lines = [plots._Polyline(*roc_curve(y, s)[:2]) for s in [*scores.values(), *controls["untrained"].values()]]
    for i, a in enumerate(lines):
        for b in lines[:i]:
            exact = a.distance(b)
            bounded = a.distance(b, bound=plots.COINCIDE_GAP)
            assert bounded == (exact if exact <= plots.COINCIDE_GAP else np.inf)
    assert any(a.distance(b, bound=plots.COINCIDE_GAP) < np.inf for i, a in enumerate(lines) for b in lines[:i])
