"""Heat maps (wildgan.evaluation.heatmaps) as the report draws them: the colour scale shared by a set of maps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from wildgan.evaluation import plots, report
from wildgan.evaluation.heatmaps import residual_maps
from wildgan.evaluation.plots import colour_scale


def _diag(n: int = 4, nan_row: int | None = None) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    recon = (x.astype(np.float32) * (2 / 255) - 1) + rng.normal(0, 0.3, x.shape).astype(np.float32)
    a = -np.arange(n, dtype=np.float64)
    if nan_row is not None:
        recon[nan_row] = np.nan                 # networks that diverged on this image: its score is NaN too
        a[nan_row] = np.nan
    scores = {"a": a, "L_n": rng.random(n), "L_o": -rng.random(n), "z_norm": rng.random(n)}
    return SimpleNamespace(x=x, recon=recon, y=np.zeros(n, np.int8), ids=[f"img{i}" for i in range(n)],
                           scores=scores, ref_scores=scores)


def _model(lod: float = 0.0) -> SimpleNamespace:
    """What the named images' section reads of a wildgan run's loaded networks."""
    return SimpleNamespace(cfg=SimpleNamespace(method="wildgan", score=SimpleNamespace(generator="Gs", lam=0.05)),
                           lod=lod)


@pytest.fixture
def panels(tmp_path, monkeypatch) -> list[float]:
    """The colour-scale top each report panel is drawn with; the panels become placeholder files, not pictures."""
    tops: list[float] = []

    def panel(path, *args, vmax=None, **kw):
        tops.append(vmax)
        path.write_bytes(b"png")
        return path

    monkeypatch.setattr(plots, "heatmap_panel", panel)
    (tmp_path / "heatmaps").mkdir()
    return tops


def test_one_diverged_image_leaves_the_colour_scale_of_the_others(tmp_path, panels) -> None:
    # the NaN-scored image ranks first (top_k): its NaN map made the shared scale NaN, and matplotlib then drew every
    # map of the section as one flat colour on a -0.1..0.1 bar
    tops = panels
    page = report._Page(title="t", md_dir=tmp_path)
    diag = _diag(nan_row=2)
    report._heatmap_section(page, tmp_path, diag, "a", 4, lambda s: None)
    finite = residual_maps(np.delete(diag.x, 2, 0), np.delete(diag.recon, 2, 0))
    assert len(tops) == 4 and tops == [pytest.approx(float(finite.max()))] * 4
    assert "0 to nan" not in "".join(page.md_parts)


def test_colour_scale() -> None:
    maps = np.array([[[0.2, 0.5]], [[np.nan, np.inf]]])
    assert colour_scale(maps) == 0.5
    assert colour_scale(np.zeros((2, 3, 3))) == 1e-6           # perfect reconstructions: a scale all the same
    assert colour_scale(np.full((1, 2, 2), np.nan)) == 1.0 and colour_scale(np.zeros((0, 4, 4))) == 1.0


def test_top_anomalous_csv_labels_are_0_1_and_an_unknown_label_empty(tmp_path, panels) -> None:
    """top_anomalous.csv's label is 1 = anomaly, 0 = normal, as `wildgan score`'s CSV gives it (it wrote the words
    anomaly/normal, so one reader's code could not read both files). An unlabelled run's images (label -1) had `?`, a
    value a reader's code must know to skip; an empty cell, as a missing value is in the other columns. The page keeps
    its words and its `?`."""
    import csv

    d = _diag(n=3)
    d.y = np.array([-1, 1, 0])
    page = report._Page(title="t", md_dir=tmp_path)
    report._heatmap_section(page, tmp_path, d, "a", 3, lambda s: None)
    rows = list(csv.DictReader(open(tmp_path / "top_anomalous.csv", newline="")))
    assert [r["label"] for r in rows] == ["", "1", "0"]
    md = "".join(page.md_parts)
    assert "| 1 | img0 | ? |" in md and "| 2 | img1 | anomaly |" in md and "| 3 | img2 | normal |" in md


def test_top_k_file_names_sort_like_the_ranks(tmp_path, panels) -> None:
    # top-01 ... top-99 then top-100: a file browser (and sorted()) put top-100 between top-10 and top-11
    for k, width in ((100, 3), (8, 2)):                                   # (two digits at least, as before)
        out = tmp_path / f"k{k}"
        (out / "heatmaps").mkdir(parents=True)
        report._heatmap_section(report._Page(title="t", md_dir=out), out, _diag(n=k), "a", k, lambda s: None)
        names = [p.name for p in sorted((out / "heatmaps").glob("top-*.png"))]
        assert names == [f"top-{r:0{width}d}.png" for r in range(1, k + 1)]


def test_residual_maps_shapes_one_colour_image_is_refused() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    recon = rng.uniform(-1, 1, x.shape).astype(np.float32)
    maps = residual_maps(x, recon)
    assert maps.shape == (2, 8, 8)
    # one colour image [H, W, C] was read as a gray batch: 8 "images" of 8 x 3 pixels, maps of shape (8, 8, 3)
    with pytest.raises(ValueError, match=r"one image \[H, W, C\]\? add the batch axis: x\[None\]"):
        residual_maps(x[0], recon[0])
    np.testing.assert_array_equal(residual_maps(x[0][None], recon[0][None]), maps[:1])
    with pytest.raises(ValueError, match=r"one image \[H, W, C\]"):            # gray, channel axis kept
        residual_maps(x[0, ..., :1], recon[0, ..., :1])
    with pytest.raises(ValueError, match=r"channels first\?"):                  # NCHW
        residual_maps(x.transpose(0, 3, 1, 2), recon.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match=r"expected \[N, R, R, C\]"):           # one gray image [H, W]
        residual_maps(x[0, ..., 0], recon[0, ..., 0])
    # a gray batch [N, R, R] is still one, the same maps as [N, R, R, 1]
    g, gr = x[..., :1], recon[..., :1]
    np.testing.assert_array_equal(residual_maps(g[..., 0], gr[..., 0]), residual_maps(g, gr))
    assert residual_maps(g[:1, ..., 0], gr[:1]).shape == (1, 8, 8)


def test_named_images_too_few_for_a_batch_are_warned_about_once(scoring_pile) -> None:
    """Two named images in mixed batch mode: the warning about their scores is said once. The mapped images are
    scored a second time only for their reconstructions, and that pass repeated the warning (report --image printed
    it twice once the named images were scored before the rest of the report)."""
    import warnings

    from wildgan.evaluation.heatmaps import score_named_images

    _, _, model = scoring_pile(0)
    x = np.stack([np.full((8, 8, 1), 40, np.uint8), np.full((8, 8, 1), 200, np.uint8)])
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        named = score_named_images(model, ["a.png", "b.png"], loaded=(x, ["a.png", "b.png"], [0, 1], 2))
    assert len(named.ids) == 2 and named.recon.shape == (2, 8, 8, 1)
    said = [str(w.message) for w in got if "scored in batch mode 'mixed'" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("2 images"), said


def test_named_images_read_without_their_places_among_the_files_are_refused(scoring_pile) -> None:
    """`loaded` is load_image_files' (images, ids, kept, n_files) only: load_images' (images, ids) was taken as every
    file readable, which says nothing of the files --skip-bad left out, so the score batches could not be drawn over
    the files listed as `score --skip-bad` draws them. Every caller passes the four; two are refused, named."""
    from wildgan.evaluation.heatmaps import score_named_images

    _, _, model = scoring_pile(0)
    x = np.full((2, 8, 8, 1), 40, np.uint8)
    with pytest.raises(ValueError, match=r"\(images, ids, kept, n_files\) .* not a 2-tuple"):
        score_named_images(model, ["a.png", "b.png"], loaded=(x, ["a.png", "b.png"]))  # type: ignore[arg-type]


@pytest.mark.parametrize("channels", [1, 3])
def test_the_heat_map_is_drawn_alone_on_a_labelled_colour_scale(tmp_path, monkeypatch, channels) -> None:
    # the map was blended (alpha 0.6) over the gray query: a pixel's colour mixed the residual with the query's
    # brightness, so the colour bar (unlabelled) could not be read; zero residual on a bright background looked like
    # a middling one
    drawn: list = []
    real = plots._save

    def keep(fig, path):
        drawn.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    rng = np.random.default_rng(0)
    image = np.full((8, 8, channels), 250, np.uint8)                  # a bright, flat query ...
    heat = np.zeros((8, 8), np.float32)                               # ... reconstructed perfectly but for one pixel
    heat[2, 3] = 0.5
    plots.heatmap_panel(tmp_path / "p.png", image, heat, rng.uniform(-1, 1, (8, 8, channels)), vmax=1.0)
    (fig,) = drawn
    map_ax = next(ax for ax in fig.axes if ax.get_title().startswith("|w(Q)"))
    (im,) = map_ax.get_images()                                       # the map alone, nothing under it
    assert im.get_alpha() in (None, 1.0)
    rgba = im.to_rgba(im.get_array())
    assert np.allclose(rgba[0, 0], im.cmap(0.0)) and np.allclose(rgba[2, 3], im.cmap(0.5))
    bar_ax = next(ax for ax in fig.axes if ax is not map_ax and not ax.get_images() and ax.get_ylabel())
    assert "0..1" in bar_ax.get_ylabel()


def test_the_named_images_say_which_colour_scale_their_maps_share(tmp_path, panels) -> None:
    # the named images' panels share a scale of their own (not the top-k section's), and the page said nothing of it:
    # the same colour meant different residuals in the two sections

    from wildgan.evaluation.heatmaps import NamedImages

    d = _diag(n=3)
    maps = residual_maps(d.x, d.recon)
    named = NamedImages(ids=d.ids, scores=d.scores, x=d.x, recon=d.recon, maps=maps)
    model = _model()
    page = report._Page(title="t", md_dir=tmp_path)
    report._named_section(page, tmp_path, model, named, "a")
    md = "".join(page.md_parts)
    assert f"one colour scale for the named images' maps (0 to {colour_scale(maps):.3g})" in md
    assert panels == [pytest.approx(colour_scale(maps))] * 3


def _coarse_scored(lod: float, channels: int = 1, n: int = 8):
    """n random 8x8 images scored with untrained tiny networks at `lod`, with reconstructions: (x, ScoreResult)."""
    from wildgan.config import DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset
    from wildgan.scoring.run import untrained_model

    model = untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, channels),
                                      train=TrainConfig(seed=0), score=ScoreConfig(batch_size=4)), "cpu")
    model.meta["lod"] = lod                  # as a run stopped there records it
    x = np.random.default_rng(3).integers(0, 256, (n, 8, 8, channels), dtype=np.uint8)
    return x, model.score(x, return_recon=True)


@pytest.mark.parametrize("lod", [1.0, 1.5, 0.5, 0.0])
def test_a_coarse_runs_maps_are_the_residual_its_l_n_sums(lod) -> None:
    # a run scored at lod > 0 computes L_n on the box-reduced (and in a fade-in, faded) query against its
    # low-resolution reconstruction, but its maps compared the full-size query with the reconstruction upsampled:
    # detail the score never saw (a 16x16 run's 32x32 maps lit up a car's edges), and sqrt(sum map^2) / h^2 was
    # not L_n
    from wildgan.evaluation.heatmaps import map_block

    x, res = _coarse_scored(lod)
    maps = residual_maps(x, res.recon, lod)
    b = map_block(lod)
    assert b == {1.0: 2, 1.5: 2, 0.5: 1, 0.0: 1}[lod] and maps.shape == (8, 8, 8)
    small = maps[:, ::b, ::b]
    h = 8 // b
    np.testing.assert_allclose(res.scores["L_n"], np.sqrt((small.astype(np.float64) ** 2).sum((1, 2))) / h ** 2,
                               rtol=1e-5)
    # enlarged by nearest neighbour: constant over each b x b block, the scored pixel it stands for
    np.testing.assert_array_equal(maps, small.repeat(b, 1).repeat(b, 2))
    if b > 1:
        assert not np.all(maps == maps[:, :1, :1])          # (not trivially constant)


def test_a_coarse_runs_colour_maps_bound_l_n() -> None:
    x, res = _coarse_scored(1.0, channels=3)
    small = residual_maps(x, res.recon, 1.0)[:, ::2, ::2].astype(np.float64)
    bound = np.sqrt((small ** 2).sum((1, 2))) / (np.sqrt(3) * 4 ** 2)
    assert np.all(res.scores["L_n"] >= bound * (1 - 1e-5))


def test_a_lod_whose_blocks_do_not_tile_the_images_is_refused() -> None:
    x = np.zeros((1, 8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match=r"lod 4 scores blocks of 16x16 pixels, which do not tile 8x8 images"):
        residual_maps(x, np.zeros((1, 8, 8, 1), np.float32), 4.0)


def test_the_maps_text_of_the_last_fade_in_does_not_say_the_query_was_reduced() -> None:
    # at 0 < lod < 1 the networks score the images at their own size, the query blended with its half: the page said
    # 'the query reduced to 16x16' of a 16x16 query
    from wildgan.evaluation.report import _coarse_map_text

    last = _coarse_map_text(0.5, 16)
    assert "reduced" not in last and "scored at 16x16" in last
    assert "from the 16x16 query and blended with its 8x8 version at weight 0.5 as in the fade-in against the " \
           "16x16 reconstruction." in last
    coarse = _coarse_map_text(1.5, 16)
    assert "from the query reduced to 8x8 and blended with its 4x4 version at weight 0.5 as in the fade-in " \
           "against the 8x8 reconstruction, and drawn enlarged to 16x16" in coarse
    assert _coarse_map_text(0.0, 16) == ""


def test_a_fade_in_lod_of_images_with_an_odd_scored_side_is_refused_by_name() -> None:
    # a fade-in blends the scored side with its half: 12x12 images at lod 2.5 are scored at 3x3, which has no 2x2
    # half, and 5x5 at lod 0.5 none of 2.5x2.5; torch failed on the blend with a shape error that named no lod
    for side, lod, scored in ((12, 2.5, 3), (5, 0.5, 5)):
        x, r = np.zeros((1, side, side, 1), np.uint8), np.zeros((1, side, side, 1), np.float32)
        with pytest.raises(ValueError, match=rf"lod {lod:g} is a fade-in, which blends the scored {scored}x{scored} "
                                             rf"images with their {scored // 2}x{scored // 2} halves"):
            residual_maps(x, r, lod)
    # the same images at a whole lod, and even sides in a fade-in, are mapped as before
    assert residual_maps(np.zeros((1, 12, 12, 1), np.uint8), np.zeros((1, 12, 12, 1), np.float32), 2.0).shape == \
        (1, 12, 12)
    assert residual_maps(np.zeros((1, 12, 12, 1), np.uint8), np.zeros((1, 12, 12, 1), np.float32), 1.5).shape == \
        (1, 12, 12)


def test_a_reconstruction_of_none_says_how_to_get_one() -> None:
    # ScoreResult.recon is None unless the images were scored with return_recon=True; the error named a shape ()
    with pytest.raises(ValueError, match=r"reconstruction is None: score the images with return_recon=True"):
        residual_maps(np.zeros((2, 8, 8, 1), np.uint8), None)


def test_maps_of_networks_that_stopped_below_the_image_resolution_say_how_they_were_scored(tmp_path, panels):
    # the maps of a coarse run are computed at the scored resolution and enlarged; the page must say a block is one
    # scored pixel (it said the map compared the full-size query with the upsampled reconstruction)

    from wildgan.evaluation.heatmaps import NamedImages

    d = _diag(n=3)                                                     # 8x8 images
    said = {1.0: "The networks stopped at lod 1 and are scored at 4x4: each map is computed as L_n is, from the "
                 "query reduced to 4x4 against the 4x4 reconstruction, and drawn enlarged to 8x8 by nearest "
                 "neighbour: each 2x2 block is one scored pixel",
            0.5: "The networks stopped at lod 0.5 and are scored at 8x8: each map is computed as L_n is, from the "
                 "8x8 query and blended with its 4x4 version at weight 0.5 as in the fade-in against "
                 "the 8x8 reconstruction.",
            0.0: "The networks stopped"}
    for lod, expected in ((1.0, True), (0.5, True), (0.0, False)):
        page = report._Page(title="t", md_dir=tmp_path)
        report._heatmap_section(page, tmp_path, d, "a", 2, lambda s: None, lod=lod)
        top = np.load(tmp_path / "heatmaps" / "top_heatmaps.npz")
        np.testing.assert_array_equal(top["maps"], residual_maps(d.x[:2], d.recon[:2], lod))
        assert int(top["block"]) == (2 if lod == 1.0 else 1)
        named = NamedImages(ids=d.ids, scores=d.scores, x=d.x, recon=d.recon, maps=residual_maps(d.x, d.recon, lod))
        model = _model(lod)
        report._named_section(page, tmp_path, model, named, "a")
        assert "".join(page.md_parts).count(said[lod]) == (2 if expected else 0), lod


def test_the_pixel_auc_of_a_coarse_run_compares_its_enlarged_maps_with_the_masks(tmp_path) -> None:
    d = _diag(n=4)
    d.metrics = {}
    masks = np.zeros((4, 8, 8), bool)
    masks[:, :3, :3] = True
    page = report._Page(title="t", md_dir=tmp_path)
    report._pixel_auc_text(page, d, masks, "m.npy", lod=1.0)
    from wildgan.evaluation.heatmaps import pixel_auc

    assert d.metrics["pixel_auc"] == pytest.approx(pixel_auc(residual_maps(d.x, d.recon, 1.0), masks))
    assert d.metrics["pixel_auc"] != pytest.approx(pixel_auc(residual_maps(d.x, d.recon), masks))
    assert ("The maps were scored at 4x4 and are compared with the 8x8 masks after their nearest enlargement: each "
            "scored pixel's value stands for the 2x2 mask pixels it covers.") in "".join(page.md_parts)


def test_the_top_images_table_gives_the_terms_of_a_only_where_a_ranks(tmp_path, panels) -> None:
    # ranked by --score L_r, the table still gave '0.05·L_n | 0.95·L_o' beside L_r, with no word on the page: they
    # read as the terms of L_r. Now only a's ranking has them, as the named images' table does
    d = _diag(n=3)
    d.scores["L_r"] = np.array([3.0, 2.0, 1.0])
    for score, terms in (("L_r", False), ("a", True)):
        page = report._Page(title="t", md_dir=tmp_path)
        report._heatmap_section(page, tmp_path, d, score, 2, lambda s: None, what="training", cfg=_model().cfg)
        header = next(ln for ln in "".join(page.md_parts).splitlines() if ln.startswith("| rank |"))
        assert ("0.05·L_n" in header and "0.95·L_o" in header) is terms, header
        assert header.startswith(f"| rank | id | label | {score} |"), header


def test_the_named_images_table_gives_the_two_weighted_parts_of_a(tmp_path, panels) -> None:
    # ranked by a = 0.05 L_n + 0.95 L_o, the named images' table gave L_n and L_o unweighted and no word on which of
    # them drives a: why a named image ranked high could not be read off the page (the top-k section says it)

    from wildgan.evaluation.heatmaps import NamedImages

    d = _diag(n=3)
    lo, ln = d.scores["L_o"], d.scores["L_n"]
    d.scores["a"] = 0.05 * ln + 0.95 * lo
    named = NamedImages(ids=d.ids, scores=d.scores, x=d.x, recon=d.recon, maps=residual_maps(d.x, d.recon))
    model = _model()
    page = report._Page(title="t", md_dir=tmp_path)
    report._named_section(page, tmp_path, model, named, "a", ref=(d.scores, "training"))
    md = "".join(page.md_parts)
    assert "What drives a: a = 0.05·L_n + 0.95·L_o. Over the 3 training images" in md
    assert "The table gives both terms of each named image" in md
    assert "| 0.05·L_n | 0.95·L_o |" in md and f"| {0.05 * ln[0]:.4g} | {0.95 * lo[0]:.4g} |" in md
    # the CSV keeps its columns: the parts are the page's reading aid, the scores are the data; the percentile
    # named as `wildgan score` names it (it was `a percentile among training images`), its score beside it
    lines = (tmp_path / "named_images.csv").read_text().splitlines()
    assert lines[0] == "id,a,L_n,L_o,train_percentile,percentile_score" and lines[1].endswith(",a"), lines
    report._named_section(page, tmp_path, model, named, "a", ref=(d.scores, "test"))
    assert (tmp_path / "named_images.csv").read_text().splitlines()[0] == \
        "id,a,L_n,L_o,test_percentile,percentile_score"


def test_the_named_images_say_whether_the_threshold_flags_them(tmp_path, panels) -> None:
    """The images a user names are the ones they want a verdict on: top_anomalous.csv had a 'flagged' column (the
    Threshold section's first rule) and named_images.csv only percentiles. Now both; NaN flagged, as
    Threshold.apply; and a rule on another score than the table's gives no column (no verdict on a by a rule on
    L_r)."""
    import csv

    from wildgan.evaluation.heatmaps import NamedImages
    from wildgan.thresholds import Threshold

    d = _diag(n=3)
    d.scores["a"] = np.array([0.3, np.nan, 0.1])
    named = NamedImages(ids=d.ids, scores=d.scores, x=d.x, recon=d.recon, maps=residual_maps(d.x, d.recon))
    page = report._Page(title="t", md_dir=tmp_path)
    report._named_section(page, tmp_path, _model(), named, "a", ref=(d.scores, "training"),
                          thr=Threshold(0.2, "contamination", {"contamination": 0.05}))
    rows = list(csv.DictReader(open(tmp_path / "named_images.csv", newline="")))
    assert [r["is_anomaly"] for r in rows] == ["1", "1", "0"]
    md = "".join(page.md_parts)
    assert "flagged: a above 0.2, the Threshold section's first rule (contamination)" in md
    assert md.count("| yes |") == 2 and md.count("| no |") == 1
    report._named_section(page, tmp_path, _model(), named, "a", ref=(d.scores, "training"),
                          thr=Threshold(0.2, "contamination", {"contamination": 0.05, "score": "L_r"}))
    assert "is_anomaly" not in (tmp_path / "named_images.csv").read_text().splitlines()[0]


def test_the_panel_of_a_coarse_map_says_its_blocks(tmp_path, monkeypatch) -> None:
    drawn: list = []
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: (drawn.append(fig), real(fig, path))[1])
    heat = np.random.default_rng(0).random((4, 4)).repeat(2, 0).repeat(2, 1)
    image = np.zeros((8, 8, 1), np.uint8)
    plots.heatmap_panel(tmp_path / "a.png", image, heat, None, block=2)
    plots.heatmap_panel(tmp_path / "b.png", image, heat, None)
    titles = [next(ax.get_title() for ax in fig.axes if ax.get_title().startswith("|w(Q)")) for fig in drawn]
    assert titles == ["|w(Q) - w(G(E(Q)))|\nscored at 4x4: 2x2 blocks", "|w(Q) - w(G(E(Q)))|"]


def test_a_panel_titled_with_a_file_name_that_is_not_utf8_is_drawn(tmp_path) -> None:
    """os.fsdecode(b'd\\xe9faut.jpg') holds a lone surrogate, which matplotlib refused (TypeError): drawn as U+FFFD."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 8, 3), np.uint8)
    out = plots.heatmap_panel(tmp_path / "h.png", img, rng.random((8, 8)), img, title="#1 d\udce9faut.jpg")
    assert out.is_file() and out.stat().st_size > 0
    assert plots._displayable("d\udce9faut.jpg") == "d\ufffdfaut.jpg" and plots._displayable("ok.jpg") == "ok.jpg"


def _docs_code_spans(name: str) -> list[str]:
    from pathlib import Path

    import re

    text = (Path(__file__).resolve().parents[3] / "docs" / name).read_text(encoding="utf-8")
    return re.findall(r"`([^`\n]+)`", text)


def test_the_documented_unscaled_residual_shows_a_defect_that_the_scaled_map_hides() -> None:
    """The maps are scaled per image as L_n is: a black square pasted into the dark half of an image, or a white one
    into its bright half (reconstructed without them), moves that image's end of the scale with it, and the square
    is the darkest part of its map. The docs give the unscaled residual as a recipe on HeatMaps' uint8 images;
    written as the table wrote Q, `images * 2/255 - 1` on uint8 wraps every pixel above 127 around (the white
    square then read as almost no residual), so each recipe the docs give must compute it without the wrap."""
    from types import SimpleNamespace

    base = np.full((2, 16, 16, 1), 150, np.uint8)
    base[:, :, :8] = 110                                      # a dark and a bright half: the image's own range
    recon = base / 127.5 - 1                                  # what the networks would give back: no defect
    q = base.copy()
    q[0, 2:6, 2:6] = 0                                        # a black square in the dark half
    q[1, 2:6, 10:14] = 255                                    # a white one in the bright half
    ins = np.zeros((2, 16, 16), bool)
    ins[0, 2:6, 2:6] = ins[1, 2:6, 10:14] = True
    maps = residual_maps(q, recon)
    for i in range(2):
        assert maps[i][ins[i]].max() < 0.1 < maps[i][~ins[i]].mean(), i     # the defect: the map's darkest part
    recipes = {s for name in ("python_api.md", "cli.md") for s in _docs_code_spans(name)
               if "hm.images" in s and "hm.recon" in s}
    assert recipes, "the docs give no unscaled residual recipe"
    for recipe in recipes:
        raw = eval(recipe, {"np": np}, {"hm": SimpleNamespace(images=q, recon=recon)})
        for i in range(2):
            assert raw[i][ins[i]].min() > 4 * raw[i][~ins[i]].max(), (recipe, i)
    table = [s for s in _docs_code_spans("python_api.md") if s.startswith("Q = images")]
    assert table and all("* 2" not in s for s in table), table


@pytest.mark.parametrize("left_out", [None, 4])
def test_the_named_images_maps_are_of_the_reconstructions_their_scores_came_from(scoring_pile, left_out) -> None:
    """The named images' maps came from a second pass of the mapped images in a batch of their own (in rank order),
    in which the encoder's minibatch stddev saw other images than in the pass that scored them: each map's L_n
    differed from the L_n the page tabled (by up to 1% on the README's cell run). Now each mapped image is
    reconstructed in the score batch its score came from: the map's L_n is its L_n (gray images:
    sqrt(sum m^2) / h^2), with an unreadable file's slot left in its batch too."""
    from wildgan.evaluation.heatmaps import score_named_images

    _, _, model = scoring_pile(0)
    n_files = 11
    kept = [i for i in range(n_files) if i != left_out][:10]
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (len(kept), 8, 8, 1), dtype=np.uint8)
    ids = [f"{i}.png" for i in kept]
    named = score_named_images(model, ids, max_maps=3, loaded=(x, ids, kept, n_files))
    assert named.maps.shape == (3, 8, 8)
    from_maps = np.sqrt((named.maps.astype(np.float64) ** 2).sum((1, 2))) / 8 ** 2
    np.testing.assert_allclose(from_maps, named.scores["L_n"][:3], rtol=1e-5)


@pytest.mark.parametrize("method", ["wildgan", "fanogan", "search"])
def test_no_mapped_images_give_empty_reconstructions_for_every_method(method) -> None:
    """score_named_images(max_maps=0) asks reconstructions_as_scored for no rows: the empty latents took their width
    from the pGAN encoder's config, which f-AnoGAN's encoder has not (AttributeError: 'FAnoGANEncoder' object has
    no attribute 'cfg'), where the pass it replaced gave empty arrays for every method."""
    from wildgan.config import DataConfig, FAnoGANConfig, RunConfig, SearchConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.heatmaps import reconstructions_as_scored, score_named_images
    from wildgan.scoring.run import untrained_model

    side = 32 if method == "fanogan" else 8                   # (f-AnoGAN's networks take 32 or 64 px)
    model = untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", side, 1),
                                      train=TrainConfig(seed=0), method=method,
                                      fanogan=FAnoGANConfig(dim=8, latent_size=6), search=SearchConfig(steps=2)),
                            "cpu")
    x = np.random.default_rng(0).integers(0, 256, (5, side, side, 1), dtype=np.uint8)
    recon, z = reconstructions_as_scored(model, x, range(5), 5, [])
    n_z = 6 if method == "fanogan" else model.cfg.net.latent_size
    assert recon.shape == (0, side, side, 1) and z.shape == (0, n_z)
    ids = [f"{i}.png" for i in range(5)]
    named = score_named_images(model, ids, max_maps=0, loaded=(x, ids, list(range(5)), 5))
    assert len(named.ids) == 5 and named.maps.shape == (0, side, side)


@pytest.mark.parametrize("batch_mode", ["mixed", "isolated"])
def test_a_small_pass_byte_limit_splits_the_mapped_passes_without_changing_a_reconstruction(
        scoring_pile, monkeypatch, batch_mode) -> None:
    """The mapped images' second pass was sized by image count (1,024 a pass: 1.6 GB of float32 reconstructions,
    held twice, at 256x256x3); it is sized by MAPPED_PASS_BYTES. A limit of five 8x8x1 reconstructions takes whole
    score batches of 4 one a pass (coupled) or five images a pass (isolated), and every reconstruction and latent is
    bit for bit the one of the pass that holds them all."""
    from wildgan.evaluation import heatmaps

    _, _, model = scoring_pile(0)
    x = np.random.default_rng(5).integers(0, 256, (14, 8, 8, 1), dtype=np.uint8)
    rows = [13, 0, 6, 9, 2, 11]
    whole = heatmaps.reconstructions_as_scored(model, x, range(14), 14, rows, batch_mode)
    passes: list[int] = []
    real = heatmaps.score_read_files
    monkeypatch.setattr(heatmaps, "score_read_files",
                        lambda m, xs, *a, **k: (passes.append(len(xs)), real(m, xs, *a, **k))[1])
    monkeypatch.setattr(heatmaps, "MAPPED_PASS_BYTES", 5 * 8 * 8 * 1 * 4)
    split = heatmaps.reconstructions_as_scored(model, x, range(14), 14, rows, batch_mode)
    if batch_mode == "mixed":
        assert len(passes) >= 3 and all(n <= 4 for n in passes), passes    # one whole batch of 4 (or the last) each
    else:
        assert passes == [5, 1], passes
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(heatmaps, "MAPPED_PASS_BYTES", 1)                   # below one image: one batch a pass
    passes.clear()
    np.testing.assert_array_equal(heatmaps.reconstructions_as_scored(model, x, range(14), 14, rows, batch_mode)[0],
                                  whole[0])
    assert passes and all(n >= 1 for n in passes)
