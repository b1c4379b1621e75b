"""The paper's figures and the report's pictures: the ONLY module of wildgan that imports matplotlib.

Figures are built on matplotlib.figure.Figure directly (Agg canvas) rather than pyplot, so that the library never
switches the user's backend or keeps figures alive in pyplot's global registry. Every function writes one PNG and
returns its path (gamma_figures: several, their paths). Label 1 = anomaly throughout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from .gamma_curves import BAND_TEXT, GammaPlot

NORMAL_COLOR, ANOMALY_COLOR = "#1f77b4", "#d62728"
DPI = 110


def _displayable(text: str) -> str:
    """text with the lone surrogates that stand for a file name's bytes that are not UTF-8 (os.fsdecode's
    surrogateescape: a Latin-1 name from a Windows share or an old zip, d\\xe9faut.jpg) shown as U+FFFD, which a font
    can draw: matplotlib refuses such a string (a TypeError that stopped the whole report)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:      # a lone surrogate that no file name's byte makes: replaced too
        return text.encode("utf-8", "replace").decode("utf-8")


def _save(fig: Figure, path: Path) -> Path:
    """The figure as a PNG at DPI, cropped to what is drawn plus savefig.pad_inches, as savefig(bbox_inches="tight")
    crops it, with one draw instead of two: given "tight" (or a figure with a layout engine), savefig first draws the
    whole figure without rendering, only to lay it out, then draws it again into the cropped canvas (a third of its
    CPU time on the report's figures). The box is measured here on the laid-out figure, at the DPI it is drawn at,
    and handed to savefig, which then draws once: the same box, the same PNG, byte for byte (test_figure_saving
    checks every figure of the reports)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # titles and labels naming images by their ids (file names), drawable whatever bytes the names hold
    for t in fig.findobj(Text):
        shown = t.get_text()
        if isinstance(shown, str) and any("\ud800" <= c <= "\udfff" for c in shown):
            t.set_text(_displayable(shown))
    engine = fig.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        # a layout engine that lays out as the figure is drawn (figure.autolayout in the user's rcParams): the box
        # is known only after that first draw, savefig's own
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
        return path
    if engine is not None:
        # fig.tight_layout()'s leftover, which lays out nothing but would still make savefig draw twice
        with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)
    canvas = FigureCanvasAgg(fig)       # (a bare Figure's canvas has no renderer to measure text with)
    dpi = fig.dpi
    fig.dpi = DPI                       # (text extents depend on it: measured as savefig will draw them)
    try:
        box = fig.get_tightbbox(canvas.get_renderer()).padded(mpl.rcParams["savefig.pad_inches"])
    finally:
        fig.dpi = dpi
    fig.savefig(path, dpi=DPI, bbox_inches=box)
    return path


def _show(ax: Any, img: np.ndarray, title: str | None = None) -> None:
    """uint8 [H, W, C] (or float in [-1, 1]) on an axis; gray images with a fixed 0..255 range."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip((img + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    if img.ndim == 3 and img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def colour_scale(maps: np.ndarray) -> float:
    """The top of the one colour scale shared by a set of maps (0 to this), so that they can be compared: their
    largest finite value. A diverged reconstruction's NaN map is left out: top_k ranks NaN scores first, so it is
    in every such set, and a NaN top (np.max) drew every other map of the set as one flat colour."""
    m = np.asarray(maps, dtype=np.float64)
    finite = m[np.isfinite(m)]
    return max(float(finite.max()), 1e-6) if finite.size else 1.0   # (1e-6: perfect reconstructions, all-zero maps)


def heatmap_panel(path: Path, image: np.ndarray, heat: np.ndarray, recon: np.ndarray | None = None,
                  title: str = "", vmax: float | None = None, recon_title: str = "reconstruction",
                  gen: str = "G", code: str = "E(Q)", block: int = 1) -> Path:
    """Query | reconstruction | heat map, the three at the same size and pixel grid (the per-image picture of the
    report). The map is drawn on its own, not blended over the query: a blend's colour mixes the residual with the
    query's brightness (zero residual on a bright background looked like a middling one), so no colour could be read
    off the bar; the query beside it shows where things are.
    vmax: the top of the colour scale; give the same to every panel of a set so that they can be compared
    (default: this map's own maximum). gen, code: the generator and the latent of the reconstruction gen(code), for
    the map's title (code z* for latent search, which has no encoder). block > 1: the map was scored at a lower
    resolution and enlarged by nearest neighbour (heatmaps.residual_maps), each block x block square one scored
    pixel, which the map's title says. A path among a run's or a study's own files, or in a folder wildgan rewrites
    (RUN/report/), is refused (ConfigError), the file left as it was: the report draws its panels in a folder of its
    own before it replaces RUN/report."""
    # (the one figure of this module the user draws to a path of theirs: docs/python_api.md, heat maps)
    from ..fileio import refuse_a_folder
    from ..training.run import refuse_a_run_or_study_file

    refuse_a_folder(path, "heatmap.png", label="heatmap_panel's path")
    if not Path(path).suffix:
        # matplotlib's savefig adds .png to a name without a suffix: the path returned (and checked) is that file
        path = Path(f"{path}.png")
    refuse_a_run_or_study_file(path, "heatmap.png", label="heatmap_panel's path")
    n = 3 if recon is not None else 2
    fig = Figure(figsize=(2.1 * n, 2.5))
    axes = fig.subplots(1, n)
    _show(axes[0], image, "query")
    if recon is not None:
        _show(axes[1], recon, recon_title)
    ax = axes[-1]
    top = colour_scale(heat) if vmax is None else float(vmax)
    im = ax.imshow(heat, cmap="inferno", vmin=0.0, vmax=top, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    r = heat.shape[0] // max(int(block), 1)
    ax.set_title(f"|w(Q) - w({gen}({code}))|" + (f"\nscored at {r}x{r}: {block}x{block} blocks" if block > 1 else ""),
                 fontsize=8)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    # the unit: w scales each image's pixels to 0..1, so 1 is the whole range of the image
    bar.set_label("residual (w: pixels scaled to 0..1 per image)", fontsize=6)
    bar.ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=8)
    return _save(fig, path)


def tsne_plot(path: Path, z: np.ndarray, y: np.ndarray, *, perplexity: float = 30.0, seed: int = 0,
              max_points: int = 5000, code: str = "E(Q)") -> Path:
    """t-SNE of the encoded test latents, normal vs anomalous (the paper's Fig. 3). Subsamples (seeded) above
    max_points because exact neighbourhoods of more points add cost, not information, to the picture. code: what
    the latents are called ('z*' for a latent search, which has no encoder)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    z, y = np.asarray(z, dtype=np.float64), np.asarray(y).astype(int)
    idx, n_all = np.arange(len(z)), len(z)
    if len(z) > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(len(z), max_points, replace=False))
    z, y = z[idx], y[idx]
    # sklearn requires perplexity < n_samples; tiny test sets get the largest value that is valid
    perp = float(min(perplexity, max(2.0, (len(z) - 1) / 3)))
    # one OpenMP thread: sklearn's Barnes-Hut gradient opens a parallel region twice in each of its 1000 iterations,
    # and with so few points its threads spend more CPU waiting for each other than working (on 2 shared cores, 20
    # points: 0.06 s CPU on one thread, 3.8 s on two; 2,000 points: 15 s against 45 s, and 21 s against 52 s of wall
    # time). The embedding came out the same to the bit on one thread as on two (20 to 2,000 points).
    with threadpool_limits(limits=1, user_api="openmp"):
        emb = TSNE(n_components=2, perplexity=perp, random_state=seed, init="pca").fit_transform(z)
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    for lab, name, c in ((0, "normal", NORMAL_COLOR), (1, "anomalous", ANOMALY_COLOR)):
        m = y == lab
        if m.any():
            ax.scatter(emb[m, 0], emb[m, 1], s=8, alpha=0.7, c=c, label=f"{name} ({m.sum()})", linewidths=0)
    what = "test set" if len(z) == n_all else f"{len(z)} of {n_all} test images"
    ax.set_title(f"t-SNE of {code}, {what} (perplexity {perp:g}, seed {seed})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, markerscale=2)
    return _save(fig, path)


def _two_hist(ax: Any, values: np.ndarray, y: np.ndarray, xlabel: str) -> None:
    v = np.asarray(values, dtype=np.float64)
    fin = np.isfinite(v)
    if not fin.any():
        ax.text(0.5, 0.5, "no finite values", ha="center", transform=ax.transAxes)
        return
    bins = np.histogram_bin_edges(v[fin], bins=40)
    for lab, name, c in ((0, "normal", NORMAL_COLOR), (1, "anomalous", ANOMALY_COLOR)):
        sel = v[(y == lab) & fin]
        if len(sel):
            ax.hist(sel, bins=bins, density=True, histtype="stepfilled", alpha=0.35, color=c, label=name)
            ax.hist(sel, bins=bins, density=True, histtype="step", color=c)
    ax.xaxis.set_major_locator(MaxNLocator(5))  # score ranges like 0.0165..0.0195 overlap with more ticks
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def latent_histograms(path: Path, z: np.ndarray, y: np.ndarray, *, code: str = "E(Q)") -> Path:
    """Histogram of all latent coefficients E(Q)_i and of ||E(Q)||, normal vs anomalous (the paper's Fig. 4:
    anomalies are expected nearer the origin); code as tsne_plot's."""
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y).astype(int)
    fig = Figure(figsize=(9, 3.3))
    a1, a2 = fig.subplots(1, 2)
    coef_y = np.repeat(y, z.shape[1])
    _two_hist(a1, z.ravel(), coef_y, f"latent coefficient {code}_i (all coordinates)")
    a1.set_title("latent coefficients", fontsize=9)
    _two_hist(a2, np.linalg.norm(z, axis=1), y, f"||{code}||")
    a2.set_title(f"distance of {code} from the origin", fontsize=9)
    return _save(fig, path)


def _tile(imgs: np.ndarray, pad: int = 1) -> np.ndarray:
    """[n, H, W, C] uint8 -> one row [H, n*(W+pad)-pad, C] with white separators."""
    n, h, w, c = imgs.shape
    row = np.full((h, n * (w + pad) - pad, c), 255, dtype=np.uint8)
    for i, im in enumerate(imgs):
        row[:, i * (w + pad): i * (w + pad) + w] = im
    return row


def _to_u8(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype == np.uint8 else np.clip((x + 1.0) * 127.5, 0, 255).round().astype(np.uint8)


def closest_matches(path: Path, x_u8: np.ndarray, recon: np.ndarray, y: np.ndarray, *, n: int = 10,
                    seed: int = 0, code: str = "E(Q)", gen: str = "G") -> Path:
    """The paper's closest-match grids: a query row above its reconstruction row, for normals and anomalies
    (n of each, drawn with a fixed seed so that reruns show the same images); code as tsne_plot's, gen: the
    generator the reconstructions come from (Gs for a wildgan run scored with its EMA copy)."""
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    blocks: list[tuple[str, np.ndarray, np.ndarray]] = []
    for lab, name in ((0, "normal"), (1, "anomalous")):
        idx = np.flatnonzero(y == lab)
        if len(idx):
            pick = np.sort(rng.choice(idx, min(n, len(idx)), replace=False))
            blocks.append((name, _tile(_to_u8(x_u8[pick])), _tile(_to_u8(recon[pick]))))
    fig = Figure(figsize=(max(4.0, 0.55 * n + 1.5), 1.25 * 2 * max(1, len(blocks))))
    axes = np.atleast_1d(fig.subplots(2 * max(1, len(blocks)), 1))
    for b, (name, q, r) in enumerate(blocks):
        _show(axes[2 * b], q)
        axes[2 * b].set_ylabel(f"{name}\nquery", fontsize=8)
        _show(axes[2 * b + 1], r)
        axes[2 * b + 1].set_ylabel(f"{gen}({code})", fontsize=8)
    if not blocks:
        axes[0].text(0.5, 0.5, "no test images", ha="center")
    fig.suptitle("closest matches: query row, reconstruction row", fontsize=9)
    return _save(fig, path)


# ROC curves this close (every point of each within this distance of the other, in units of the axes) are drawn as
# one: 2% of the axis, about 9 px at the report's size, a band's half width plus a line's
COINCIDE_GAP = 0.02


def _polyline_points(fpr: np.ndarray, tpr: np.ndarray, step: float) -> np.ndarray:
    """Points along the drawn ROC polyline (its corners joined by straight lines), at most `step` apart."""
    p = np.column_stack([np.asarray(fpr, np.float64), np.asarray(tpr, np.float64)])
    d = np.diff(p, axis=0)
    n = np.maximum(1, np.ceil(np.hypot(d[:, 0], d[:, 1]) / step).astype(np.int64))
    seg = np.repeat(np.arange(len(d)), n)
    t = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    return np.vstack([p[seg] + d[seg] * t[:, None], p[-1:]])


def roc_gap(fpr1: np.ndarray, tpr1: np.ndarray, fpr2: np.ndarray, tpr2: np.ndarray, step: float = 1e-3) -> float:
    """How far apart two ROC curves are as they are drawn (sklearn's roc_curve points joined by straight lines): the
    Hausdorff distance between the two polylines in the unit square, the farthest any point of one is from the
    other, measured on points `step` apart (so within `step` of the exact value). A distance, not a difference in
    true positive rate at one false positive rate: a step one image to the side of the other curve's is near it
    however tall, as the eye sees it."""
    return _Polyline(fpr1, tpr1, step).distance(_Polyline(fpr2, tpr2, step))


class _Polyline:
    """A drawn ROC curve's points `step` apart (_polyline_points) and their k-d tree, made once per curve: roc_curves
    measures each curve against every line drawn before it (a dozen curves with the controls: 60 and more pairs)."""

    def __init__(self, fpr: np.ndarray, tpr: np.ndarray, step: float = 1e-3) -> None:
        from scipy.spatial import cKDTree

        self.points = _polyline_points(fpr, tpr, step)
        self.tree = cKDTree(self.points)

    def distance(self, other: _Polyline, bound: float = np.inf) -> float:
        """roc_gap's distance to `other`; inf where it exceeds `bound`. The search bounded at twice that prunes the
        k-d trees (several times faster on curves far apart, most pairs of a report's figure) and is exact where it
        answers: every point's nearest neighbour up to that distance is found as without a bound."""
        reach = 2.0 * bound
        d = float(other.tree.query(self.points, distance_upper_bound=reach)[0].max())
        if d <= bound:          # (else the other way round need not be measured)
            d = max(d, float(self.tree.query(other.points, distance_upper_bound=reach)[0].max()))
        return d if d <= bound else np.inf


def roc_curves(path: Path, y: np.ndarray, scores: Mapping[str, np.ndarray],
               controls: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> Path:
    """ROC of every score (solid), the same scores of the untrained networks (dashed) and the pixel-statistic
    controls (dotted), so a curve can always be read against what an unlearned detector does.

    Of two curves within COINCIDE_GAP of each other (a = 0.05 L_n + 0.95 L_o ranks as L_o does, as docs/method.md
    explains) one is drawn as a line and the other as a wide pale band under it, its legend entry naming the line it
    lies under and how close, so that no score seems to be missing; curves that differ anywhere by more are drawn as
    usual. The line is the trained score's where a control coincides with one (the figure is about the trained
    scores), else the later curve's (a under L_o), and a band always names a curve drawn as a line."""
    from sklearn.metrics import roc_curve

    from .metrics import roc_auc

    y = np.asarray(y).astype(int)
    fig = Figure(figsize=(8.4, 5.2))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    styles = {"trained": "-", "untrained": "--", "pixel": ":"}
    colors: dict[str, Any] = {}
    # a score and its untrained control share a colour; the pixel controls are shades of grey, never a score's
    cycle = iter(["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9"] * 3)
    greys = iter(["0.1", "0.4", "0.6", "0.75"] * 3)
    groups = [("trained", dict(scores))] + [(g, dict(v)) for g, v in (controls or {}).items()]
    ok = y.min() != y.max() if len(y) else False
    curves = []                       # (group, name, label, fpr, tpr, auc), in the order they are drawn
    for group, sc in groups:
        for name, s in sc.items():
            s = np.asarray(s, dtype=np.float64)
            auc = roc_auc(y, s) if ok else float("nan")
            if not np.isfinite(auc):
                continue
            fpr, tpr, _ = roc_curve(y, s)
            tag = {"trained": "", "pixel": " control"}.get(group, f" {group}")
            curves.append((group, name, f"{name}{tag}", fpr, tpr, auc))
    # Which curves are lines, decided in order of precedence: the trained scores before the controls (a trained
    # curve banded under a control hid the figure's subject: A under -||Q|| on the demo), and within a group the
    # later curve before the earlier (a under L_o). A curve is banded only under one already drawn as a line: taken
    # in drawing order, L_r lay under A while A itself lay under a control, and no line of A was there to see.
    rank = {g: r for r, (g, _) in enumerate(groups)}
    lines: list[int] = []
    under: dict[int, tuple[str, float]] = {}       # curve -> (the line it lies under, their distance)
    drawn = [_Polyline(c[3], c[4]) for c in curves]
    for i in sorted(range(len(curves)), key=lambda i: (rank[curves[i][0]], -i)):
        over = next(((curves[j][2], gap) for j in lines
                     if (gap := drawn[i].distance(drawn[j], bound=COINCIDE_GAP)) <= COINCIDE_GAP), None)
        if over is None:
            lines.append(i)
        else:
            under[i] = over
    banded = bool(under)
    for i, (group, name, label, fpr, tpr, auc) in enumerate(curves):
        key = name if group != "pixel" else f"px:{name}"
        colors.setdefault(key, next(greys) if group == "pixel" else next(cycle))
        style = styles.get(group, "-.")
        over = under.get(i)
        if over is None:
            ax.plot(fpr, tpr, style, color=colors[key], lw=1.4 if group == "trained" else 1.0,
                    label=f"{label} (AUC {auc:.3f})")
        else:
            banded = True
            # solid whatever the curve's group: 6 points wide, a dotted or dashed band is a row of pale squares or
            # bars, not a band (the legend entry says which curve it is)
            ax.plot(fpr, tpr, "-", color=colors[key], lw=6.0, alpha=0.35, solid_capstyle="butt", zorder=1.5,
                    label=f"{label} (AUC {auc:.3f}): pale band, lies under {over[0]} (curves at most {over[1]:.3f} "
                          f"apart)")
    if not ok:
        ax.text(0.5, 0.5, "test set has a single class: no ROC", ha="center")
    ax.set_xlabel("false positive rate", fontsize=8)
    ax.set_ylabel("true positive rate", fontsize=8)
    ax.set_title("ROC: trained (solid), untrained (dashed), pixel controls (dotted)"
                 + ("\npale band: a curve lying under another" if banded else ""), fontsize=9)
    ax.set_aspect("equal")
    ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.02, 0.5))     # outside: it never hides a curve
    return _save(fig, path)


def score_histograms(path: Path, y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Path:
    """One histogram per score, normal vs anomalous."""
    names = list(scores)
    cols = min(3, max(1, len(names)))
    rows = -(-max(1, len(names)) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.7 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    y = np.asarray(y).astype(int)
    for ax, name in zip(axes, names):
        _two_hist(ax, scores[name], y, name)
        ax.set_title(f"score {name}", fontsize=9)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def training_curves(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Losses (D/G/E), critic gradient norm and throughput against kimg, from stats.jsonl rows; dotted vertical
    lines mark where the resolution grows (the first logged row at the new one), labelled with it on the first
    panel. The throughput is one line per number of processes the rows say trained them (_throughput_lines)."""
    def series(key: str) -> tuple[np.ndarray, np.ndarray]:
        pts = [(r["kimg"], r[key]) for r in rows if key in r and "kimg" in r and r[key] is not None]
        a = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        return a[:, 0], a[:, 1]

    # (G/d_I: logged only by a run with d_I in G's loss, train.g_image_loss)
    panels = [("losses", [k for k in ("D/loss", "G/loss", "E/loss", "G/d_I") if any(k in r for r in rows)]),
              ("critic gradient norm", [k for k in ("D/grad_norm",) if any(k in r for r in rows)]),
              ("throughput (img/s)", [k for k in ("img_per_s",) if any(k in r for r in rows)])]
    fig = Figure(figsize=(12, 3.2))
    axes = fig.subplots(1, 3)
    changes = [(r2["kimg"], r2.get("resolution")) for r1, r2 in zip(rows, rows[1:])
               if r1.get("resolution") != r2.get("resolution") and "kimg" in r2]
    for i, (ax, (title, keys)) in enumerate(zip(axes, panels)):
        for k in keys:
            if k == "img_per_s":
                # (a count's later stretches in its first one's colour, named once in the legend)
                colors: dict[str, Any] = {}
                for label, x, v in _throughput_lines(rows):
                    (line,) = ax.plot(x, v, lw=1.0, color=colors.get(label),
                                      label=None if label in colors else label)
                    colors.setdefault(label, line.get_color())
                continue
            x, v = series(k)
            ax.plot(x, v, lw=1.0, label=k)
        for c, res in changes:
            ax.axvline(c, color="0.75", ls=":", lw=0.8)
            if i == 0 and res is not None:
                # the lines were explained nowhere, on the figure or the page: each says the size it grows to, on
                # the first panel only (the others share its kimg axis)
                ax.text(c, 0.99, f" {res}x{res}", transform=ax.get_xaxis_transform(), fontsize=6, color="0.45",
                        ha="left", va="top")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("kimg", fontsize=8)
        ax.tick_params(labelsize=7)
        if keys:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return _save(fig, path)


def _throughput_lines(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[float], list[float]]]:
    """The img_per_s curve as (legend label, kimg, img/s) lines: one line where every row was trained by one number
    of processes (or none says: an older wildgan's rows), else one line per stretch of rows of one world_size,
    labelled with it. img_per_s counts the images of every rank, so a run resumed in another number of processes
    changes level there: drawn as one line, the step read as the training slowing down or speeding up, with nothing
    on the page to say why (docs/cli.md: compare it only between rows of one world_size)."""
    def world(r: Mapping[str, Any]) -> int | None:
        w = r.get("world_size")            # (a hand-edited or damaged value reads as not recorded)
        return w if isinstance(w, int) and not isinstance(w, bool) else None

    pts = [(r["kimg"], r["img_per_s"], world(r)) for r in rows if "kimg" in r and r.get("img_per_s") is not None]
    if len({w for _, _, w in pts}) <= 1:
        return [("img_per_s", [p[0] for p in pts], [p[1] for p in pts])] if pts else []
    lines: list[tuple[str, list[float], list[float]]] = []
    for i, (kimg, ips, n) in enumerate(pts):
        if i == 0 or n != pts[i - 1][2]:
            lines.append(("img_per_s (processes not recorded)" if n is None else
                          f"img_per_s ({n} process{'es' if n != 1 else ''})", [], []))
        lines[-1][1].append(kimg)
        lines[-1][2].append(ips)
    return lines


def auc_vs_gamma(path: Path, curves: Mapping[str, Sequence[tuple[float, float, float]]], *, pooled: int = 1,
                 normal: str | None = None, bands: Mapping[str, Sequence[tuple[float, ...]]] | None = None,
                 score: str | None = None, band_text: str = BAND_TEXT) -> Path:
    """AUC against contamination gamma; curves: label -> [(gamma, mean AUC, std AUC)]. `pooled`: how many normal
    classes the points average over (the axis says so: their spread is then across classes too); `normal`: the one
    normal class of a per-class plot (in the title); `bands`: label -> [(gamma, below, above)] (or [(gamma,
    half-width)]), a shaded band from that far below to that far above a curve (gamma_curves.auc_vs_gamma_ci95:
    the 95% interval of the point's mean, a t-interval over seeds, or with one seed its cells' intervals over their
    test images), so that a single seed's point, whose bar is 0, still shows how much the test set alone can move
    it. `score`: the one score every method's curve is of (the title says so); None: each method's own (a, or
    f-AnoGAN's A), the study's own plot. `band_text`: what the bands are, for the axis label (gamma_curves.BAND_TEXT:
    auc_vs_gamma_ci95's, which every figure of wildgan draws)."""
    fig = Figure(figsize=(7.5, 4))
    ax = fig.subplots()
    shaded = False
    for label, pts in curves.items():
        a = np.asarray(sorted(pts), dtype=np.float64).reshape(-1, 3)
        control = label.startswith("control")       # controls dashed and lighter: the trained curves stand out
        line = ax.errorbar(100 * a[:, 0], a[:, 1], yerr=a[:, 2], marker="o", ms=3, capsize=2, lw=1, label=label,
                           ls="--" if control else "-", alpha=0.6 if control else 1.0)
        reach = {b[0]: (b[1], b[-1]) for b in (bands or {}).get(label, ())}     # (a half-width: both the same)
        at = [i for i, g in enumerate(a[:, 0]) if g in reach]
        # one fill per run of neighbouring banded gammas (none drawn across a gamma without an interval); a lone one,
        # whose fill would have no width, a translucent bar
        runs = [[i] for i in at[:1]]
        for i in at[1:]:
            if i == runs[-1][-1] + 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            below, above = np.array([reach[a[i, 0]] for i in run]).T
            # (clipped: the mean over seeds plus the cells' mean reach can pass 1 where a half-width is given, or
            # where the seeds' AUCs differ)
            x, lo, hi = 100 * a[run, 0], np.maximum(a[run, 1] - below, 0.0), np.minimum(a[run, 1] + above, 1.0)
            shade = 0.06 if control else 0.12       # (a control's band lighter too, as its line)
            if len(run) > 1:
                ax.fill_between(x, lo, hi, color=line[0].get_color(), alpha=shade, lw=0)
            else:
                ax.vlines(x, lo, hi, color=line[0].get_color(), alpha=shade, lw=6)
            shaded = True
    ax.axhline(0.5, color="0.7", lw=0.8)
    ax.set_xlabel("contamination gamma (%)", fontsize=8)
    band = f";\nshaded: {band_text}" if shaded else ""
    ax.set_ylabel(f"ROC AUC (mean; bars: std over seeds{band})" if pooled <= 1 else
                  f"ROC AUC (mean over {pooled} normal classes x seeds;\nbars: std over those cells{band})",
                  fontsize=8)
    ax.set_title(("AUC vs contamination (each method with its own score: a, or f-AnoGAN's A)" if score is None else
                  f"AUC vs contamination (score {score} for every method)")
                 + (f", normal {normal}" if normal else ""), fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))     # outside: it never covers a point
    return _save(fig, path)


def gamma_figures(out: Path, figures: Sequence[GammaPlot], *, score: str | None = None) -> list[Path]:
    """Draw gamma_curves.gamma_plots's figures into the folder `out` (auc_vs_gamma, each under its own name, its
    bands named by gamma_curves.BAND_TEXT); `score`: the one score they are of (None: each method's own). The
    study's figures, its report's figures of one score and the report's fallback are all drawn here. Their paths."""
    return [auc_vs_gamma(Path(out) / f.name, f.curves, pooled=f.pooled, normal=f.normal, bands=f.bands, score=score,
                         band_text=BAND_TEXT) for f in figures]
