"""The report's pictures of single images (evaluation.plots) show what they say: a heat map's colours on the one
scale from 0 that its bar labels, and the closest-match grids' reconstruction row under the very queries above it.
Both went unchecked: a panel whose colours started at the map's own minimum, or a grid whose reconstructions were
of other images, drew every test's figures without an error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildgan.evaluation import plots


def _drawn(monkeypatch: pytest.MonkeyPatch) -> list:
    """The figures plots saves, kept for their axes (and still written)."""
    figs: list = []
    real = plots._save

    def keep(fig, path):
        figs.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figs


def test_a_heat_maps_colours_start_at_zero_residual_not_at_its_smallest(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # no pixel of this map is reconstructed perfectly: its smallest residual (0.2) must still have the colour of
    # 0.2 on the 0..vmax bar, not the bar's bottom, so that two panels of a set compare
    figs = _drawn(monkeypatch)
    heat = np.full((8, 8), 0.2, np.float32)
    heat[3, 4] = 0.6
    for vmax in (1.0, None):
        plots.heatmap_panel(tmp_path / f"p{vmax}.png", np.full((8, 8, 1), 90, np.uint8), heat, vmax=vmax)
        map_ax = next(ax for ax in figs[-1].axes if ax.get_title().startswith("|w(Q)"))
        (im,) = map_ax.get_images()
        assert im.norm.vmin == 0.0
        top = 1.0 if vmax is not None else 0.6                  # (vmax None: the map's own largest value)
        assert im.norm.vmax == pytest.approx(top)
        rgba = im.to_rgba(im.get_array())
        np.testing.assert_allclose(rgba[0, 0], im.cmap(0.2 / top), atol=1 / 255)
        np.testing.assert_allclose(rgba[3, 4], im.cmap(0.6 / top), atol=1 / 255)


def test_the_closest_matches_show_each_querys_own_reconstruction_under_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # every image a flat gray of its own index, its reconstruction that same gray exactly: the reconstruction row
    # must repeat the query row above it, and the normal block hold only normal images
    shown: list[np.ndarray] = []
    real_show = plots._show

    def keep(ax, img, title=None):
        shown.append(np.asarray(img).copy())
        return real_show(ax, img, title)

    monkeypatch.setattr(plots, "_show", keep)
    n = 20
    x = (np.arange(n, dtype=np.uint8) * 12)[:, None, None, None].repeat(4, 1).repeat(4, 2)      # [n, 4, 4, 1]
    recon = x.astype(np.float32) / 127.5 - 1.0
    y = np.array([0, 1] * (n // 2))
    plots.closest_matches(tmp_path / "closest.png", x, recon, y, n=4, seed=3)
    assert len(shown) == 4                                       # query, recon; normals then anomalies
    for block, label in ((0, 0), (1, 1)):
        q, r = shown[2 * block], shown[2 * block + 1]
        np.testing.assert_array_equal(q, r)
        grays = {int(v) for v in np.unique(q)} - {255}          # (255: the white separators)
        assert len(grays) == 4 and all(y[g // 12] == label for g in grays)


def test_a_defect_darker_than_its_reconstruction_lights_up_the_map_as_a_brighter_one_does() -> None:
    # the map is |w(Q) - w(G(E(Q)))|: a dark scratch on a bright part must show as brightly as a bright spot on a
    # dark one. Every other map test pasted bright defects, where the residual's sign is + anyway, so a map without
    # the absolute value passed them while it drew dark defects as the map's coldest pixels (clipped at 0)
    from wildgan.evaluation.heatmaps import pixel_auc, residual_maps

    clean = np.full((2, 8, 8, 1), 128, np.uint8)
    clean[:, 0, 0], clean[:, 7, 7] = 0, 255                 # (the same per-image min and max in every image)
    query = clean.copy()
    query[0, 2:4, 2:4] = 30                                  # darker than its reconstruction
    query[1, 4:6, 4:6] = 230                                 # brighter
    recon = clean.astype(np.float32) * (2 / 255) - 1
    maps = residual_maps(query, recon)
    assert maps.min() >= 0.0
    np.testing.assert_allclose(maps[0, 2:4, 2:4], 98 / 255, rtol=1e-5)
    np.testing.assert_allclose(maps[1, 4:6, 4:6], 102 / 255, rtol=1e-5)
    mask = np.zeros((2, 8, 8), bool)
    mask[0, 2:4, 2:4] = mask[1, 4:6, 4:6] = True
    assert pixel_auc(maps, mask) == 1.0
    # and |a - b| = |b - a|: the query and the reconstruction swapped give the same map
    swapped = residual_maps(clean, query.astype(np.float32) * (2 / 255) - 1)
    np.testing.assert_allclose(swapped, maps, atol=1e-6)


def test_the_named_images_pictures_are_of_the_images_their_ids_and_scores_name(scoring_pile) -> None:
    # score_named_images ranks the images and maps the first max_maps: the pictures (x, recon, maps) of rank i must be
    # of the image ranked i, not of the i-th file given; only the ranking of the ids and scores was checked before
    from wildgan.evaluation.heatmaps import residual_maps, score_named_images

    _, _, model = scoring_pile(0)
    x = np.random.default_rng(11).integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    ids = [f"f{i}.png" for i in range(6)]
    named = score_named_images(model, ids, loaded=(x, ids, list(range(6)), 6), max_maps=3, batch_mode="isolated")
    alone = model.score(x, batch_mode="isolated").scores["a"]
    order = [ids.index(i) for i in named.ids]
    assert order == sorted(range(6), key=lambda i: (-alone[i], i))
    assert order[:3] != [0, 1, 2]                              # (else the test could not tell the two apart)
    np.testing.assert_array_equal(named.x, x[order[:3]])
    np.testing.assert_allclose(named.scores["a"], alone[order])
    # (each image's own reconstruction, up to the float noise of convolutions over batches of other sizes)
    own = model.score(x[order[:3]], return_recon=True, batch_mode="isolated").recon
    np.testing.assert_allclose(named.recon, own, atol=1e-4)
    np.testing.assert_allclose(named.maps, residual_maps(x[order[:3]], named.recon), atol=1e-6)


def test_the_reports_top_panels_show_each_ranked_images_own_map(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the report's k most anomalous images: panel r holds the image ranked r, its reconstruction and its own map. The
    # section's tests drew images whose ranking was their order (a = -index), where maps of the first k images in
    # file order were the ranked ones' too
    from types import SimpleNamespace

    from wildgan.evaluation import report
    from wildgan.evaluation.heatmaps import residual_maps

    drawn: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def panel(path, image, heat, recon=None, *a, **k):
        drawn.append((np.asarray(image), np.asarray(heat), np.asarray(recon)))
        path.write_bytes(b"png")
        return path

    monkeypatch.setattr(plots, "heatmap_panel", panel)
    (tmp_path / "heatmaps").mkdir()
    rng = np.random.default_rng(5)
    n = 6
    x = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    recon = (x.astype(np.float32) * (2 / 255) - 1) + rng.normal(0, 0.3, x.shape).astype(np.float32)
    a = np.array([0.1, 0.7, 0.3, 0.9, 0.2, 0.5])                 # ranked 3, 1, 5, 2, ...
    scores = {"a": a, "L_n": rng.random(n), "L_o": -rng.random(n), "z_norm": rng.random(n)}
    diag = SimpleNamespace(x=x, recon=recon, y=np.zeros(n, np.int8), ids=[f"img{i}" for i in range(n)],
                           scores=scores, ref_scores=scores)
    report._heatmap_section(report._Page(title="t", md_dir=tmp_path), tmp_path, diag, "a", 3, lambda s: None)
    assert len(drawn) == 3
    for (image, heat, rec), i in zip(drawn, [3, 1, 5]):
        np.testing.assert_array_equal(image, x[i])
        np.testing.assert_array_equal(rec, recon[i])
        np.testing.assert_allclose(heat, residual_maps(x[i][None], recon[i][None])[0], atol=1e-6)
