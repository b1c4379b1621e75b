"""The AUC-versus-contamination curves of a study's result rows: each method's own score (config.own_score) beside
its untrained-networks control of that score and the pixel controls.

Here, below the studies layer, so that `wildgan report STUDY_DIR` (evaluation), drawing the figures of a study that
left none, draws the study's own curves and bands (gamma_plots: the figures of both; studies.study draws its own
with it) rather than a second rule of its own."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Optional

from ..config import own_score
from .metrics import auc_score_interval

METHOD_NAMES = {"wildgan": "Ours", "fanogan": "f-AnoGAN", "search": "Latent search"}
CONTROL_ROWS = (("untrained", "untrained nets"), ("pixel_norm", "-‖Q‖ (pixel norm)"),
                ("pixel_std", "-std(Q)"), ("pixel_mean", "-mean(Q)"))


def seed_key(r: dict[str, Any]) -> tuple[Any, ...]:
    """The (protocol, normal class, seed) a row's controls belong to: its untrained networks and pixel statistics
    are one number per seed, whatever the method or encoder loss."""
    return r.get("protocol"), r["normal"], r["seed"]


def series_label(r: dict[str, Any], score: str | None) -> tuple[str, str]:
    """(the AUC-versus-gamma series of a row's trained AUC, the score it plots: its method's own, config.own_score,
    when score is None, else `score`)."""
    enc = r.get("encoder_loss")
    label = METHOD_NAMES.get(r["method"], r["method"]) + (f" d_{'I' if enc == 'image' else 'z'}"
                                                            if r["method"] == "wildgan" else "")
    s = own_score(r["method"]) if score is None else score
    return f"{label} ({s})", s


# one AUC of a curve's point: (its normal class: (protocol, normal), the AUC, its 95% interval over the test images or
# None where the row keeps none)
_Entry = tuple[tuple[Any, Any], Any, Optional[tuple[float, float]]]


def _row_interval(r: dict[str, Any], score: str) -> tuple[float, float] | None:
    """A row's 95% interval of a trained `score` over its test images (auc_ci95, evaluation.metrics.auc_ci); None
    where the row keeps none (rows from before the intervals) or it is undefined ([null, null])."""
    ci = r.get("auc_ci95")
    v = ci.get(score) if isinstance(ci, dict) else None
    if (isinstance(v, list) and len(v) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)):
        return float(v[0]), float(v[1])
    return None


def _count_interval(r: dict[str, Any], auc: Any) -> tuple[float, float] | None:
    """A control's 95% interval over the row's test images: Newcombe's score interval from the AUC and the row's
    n_test and n_anomalous (metrics.auc_score_interval), as the row keeps no scores and no auc_ci95 of its controls;
    None where it lacks the counts or the AUC is undefined."""
    m, total = r.get("n_anomalous"), r.get("n_test")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (m, total)):
        return None
    lo, hi = auc_score_interval(auc if isinstance(auc, (int, float)) else float("nan"), m, total - m)
    return (lo, hi) if math.isfinite(lo) else None


def _entries(rows: list[dict[str, Any]], score: str | None) -> dict[str, dict[float, list[_Entry]]]:
    """{series label: {gamma: [_Entry]}} of auc_vs_gamma's curves: every trained cell, the controls one per seed
    (seed_key), undefined AUCs (None, NaN: one class only) left out."""
    series: dict[str, dict[float, dict[Any, _Entry]]] = defaultdict(lambda: defaultdict(dict))
    for i, r in enumerate(rows):
        label, s = series_label(r, score)
        g = float(r["gamma"])
        key = seed_key(r)
        cls = key[:2]
        auc = r["auc"].get(s)
        series[label][g][i] = (cls, auc, _row_interval(r, s))           # every trained cell counts
        name = METHOD_NAMES.get(r["method"], r["method"])
        u = r["controls"]["untrained"].get(s)
        series[f"control: untrained {name} ({s})"][g][key] = (cls, u, _count_interval(r, u))
        for k, text in CONTROL_ROWS[1:]:            # every pixel control: -std(Q) may beat the trained curves
            c = r["controls"].get(k)
            series[f"control: {text.split(' (')[0]}"][g][key] = (cls, c, _count_interval(r, c))
    return {label: {g: [(c, float(a), iv) for c, a, iv in by_key.values()
                        if a is not None and not math.isnan(float(a))] for g, by_key in by_g.items()}
            for label, by_g in series.items()}


def auc_vs_gamma(rows: list[dict[str, Any]],
                 score: str | None = None) -> dict[str, list[tuple[float, float, float]]]:
    """{series label: [(gamma, mean AUC, std)]} for the AUC-versus-contamination plot: each method's score (score
    None: its own, A for f-AnoGAN, else a, as the study's plot shows them; a name: that score for every method, as
    `wildgan report STUDY_DIR --score L_r` draws it), each method's untrained-networks control of that same score,
    and the three pixel controls (-‖Q‖, -std(Q), -mean(Q)); the controls one value per seed (seed_key: counting the
    copies every cell of a seed holds would fake the sample size), NaN AUCs (one class only) left out. `rows`: rows
    as evaluation.rows.row_problem passes them."""
    out = {}
    for label, by_g in _entries(rows, score).items():
        pts = []
        for g in sorted(by_g):
            v = [a for _, a, _ in by_g[g]]
            if v:
                m = sum(v) / len(v)
                sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
                pts.append((g, m, sd))
        if pts:
            out[label] = pts
    return out


def _t975(df: int) -> float:
    """The t distribution's 97.5% quantile with df degrees of freedom (12.706 at 1, 4.303 at 2)."""
    from scipy.stats import t  # (deferred: the report imports this module, scipy only a plot with seeds needs)

    return float(t.ppf(0.975, df))


def mean_interval(entries: list[_Entry]) -> tuple[float, float] | None:
    """The 95% interval of the mean of a curve's point (auc_vs_gamma's: the mean over its cells, each an AUC of one
    normal class and seed), clipped to [0, 1]; None where it cannot be had.

    * Several seeds of a normal class: a t-interval of the mean over seeds, mean +- t(0.975, N - C) s / sqrt(N), s^2
      the spread of the seeds within their class pooled over the C classes (N cells). With one class that is the
      textbook t-interval of the mean of N seeds. Classes are held fixed (the plot's mean is over the classes the
      study chose): their differences are not noise of the mean, so they are not in s (a t-interval over every cell
      of a pooled plot would count them).
      Why a t-interval and not the seeds' min-max: the curve is the mean over seeds, and the t-interval is the
      interval of that mean, 95% at any number of seeds (normal AUCs assumed); the range of k seeds holds the seeds'
      median with probability 1 - 2^(1 - k) only (50% at 2 seeds, 75% at 3), so its meaning would change with k. The
      price is width with few seeds (t(0.975, 1) = 12.7: two seeds bound the mean but loosely), which is what two
      seeds know.
    * One seed of every class (or seeds that all agree, s = 0: a control that is the same on each seed's test set,
      whose band would otherwise be none at all): the cells' own 95% intervals over their test images (a trained
      cell's auc_ci95; a control's Newcombe interval from its counts, _count_interval), the distances from the
      classes' AUCs to each end added in quadrature, each weighted by its class's share of the cells (the mean of
      independent AUCs of C classes: 1/C each with one seed); one cell: its own interval. None where a cell keeps
      no interval.
    The two say different things (the spread between seeds: their training, and their test images where each seed
    draws its own test split, as the protocols that draw it from a larger pool do; test-set noise of one training
    run): the plot names both."""
    if not entries:
        return None
    aucs = [a for _, a, _ in entries]
    mean = sum(aucs) / len(aucs)
    by_class: dict[Any, list[float]] = defaultdict(list)
    for c, a, _ in entries:
        by_class[c].append(a)
    df = len(entries) - len(by_class)
    within = sum((a - sum(v) / len(v)) ** 2 for v in by_class.values() for a in v)
    if df > 0 and within > 0.0:
        half = _t975(df) * math.sqrt(within / df / len(entries))
        return max(mean - half, 0.0), min(mean + half, 1.0)
    reach: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    for c, a, iv in entries:
        if iv is None:
            return None
        reach[c].append((a - iv[0], iv[1] - a))
    # each class's reach (its cells' mean: seeds that agree share one test set, so they are one interval, not
    # independent ones), weighted by its share of the cells, as the mean weighs it
    n = len(entries)
    below = math.sqrt(sum((sum(b for b, _ in o) / n) ** 2 for o in reach.values()))
    above = math.sqrt(sum((sum(u for _, u in o) / n) ** 2 for o in reach.values()))
    return max(mean - below, 0.0), min(mean + above, 1.0)


def auc_vs_gamma_ci95(rows: list[dict[str, Any]],
                      score: str | None = None) -> dict[str, list[tuple[float, float, float]]]:
    """{series label (auc_vs_gamma's, controls too): [(gamma, below, above)]}: how far below and above the curve's
    mean its 95% interval (mean_interval) reaches, for plots.auc_vs_gamma's bands; a point without one (a single
    cell that keeps no interval) is left out, so no band is drawn across it."""
    out = {}
    for label, by_g in _entries(rows, score).items():
        pts = []
        for g in sorted(by_g):
            iv = mean_interval(by_g[g])
            if iv is not None:
                mean = sum(a for _, a, _ in by_g[g]) / len(by_g[g])
                pts.append((g, max(mean - iv[0], 0.0), max(iv[1] - mean, 0.0)))
        if pts:
            out[label] = pts
    return out


# what the bands are (mean_interval), for the figures' axis label and the pages that show them
BAND_TEXT = "95% interval of the mean: t over seeds,\na single seed's over its test images"
BAND_NOTE = ("Shaded: the 95% interval of each point's mean, for every curve (the controls too): a t-interval over "
             "the seeds where it has several (their spread within each normal class), else the cell's interval over "
             "its test images (auc_ci95; for a control, Newcombe's interval from its AUC and the test counts). The "
             "first is the spread between seeds: their training, and their test images where each seed draws its own "
             "(a test split drawn from a larger pool, as CIFAR_CAR's); the second test-set noise of one run. Bars: the "
             "standard deviation over seeds (in a pooled figure, over the classes' cells too).")


@dataclass(frozen=True)
class GammaPlot:
    """One AUC-versus-gamma figure: its file name, and plots.auc_vs_gamma's curves (auc_vs_gamma), bands
    (auc_vs_gamma_ci95), pooled (how many normal classes its points average over) and normal (a per-class figure's
    class)."""
    name: str
    curves: dict[str, list[tuple[float, float, float]]]
    bands: dict[str, list[tuple[float, float, float]]]
    pooled: int = 1
    normal: Optional[str] = None


def file_safe(name: str) -> str:
    """A normal set's or score's name as part of a file name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def figure_names(rows: list[dict[str, Any]], score: str | None = None) -> list[tuple[str, Optional[str]]]:
    """The file names of gamma_plots's figures of `rows`, each with its normal class (None: the pooled figure), as
    the rows name the class: the report captions the study's own figures by them (the file name writes the class
    file-safe, 'a_b' for 'a b', and with -2 where two classes would share a file)."""
    if not rows:
        return []
    stem = "auc_vs_gamma" if score is None else f"auc_vs_gamma-score-{file_safe(score)}"
    out: list[tuple[str, Optional[str]]] = [(f"{stem}.png", None)]
    classes = sorted({(r.get("protocol"), str(r["normal"])) for r in rows}, key=str)
    if len(classes) > 1:
        # each figure a file of its own: two classes that file_safe writes alike ('a b' and 'a_b', 'Cat' and 'cat' on
        # a case-blind disk, one class name under two protocols) drew into one file, the second over the first, and
        # the page showed that figure twice, under both classes' names
        used = {out[0][0].casefold()}
        for _, normal in classes:
            name, k = f"{stem}-normal-{file_safe(normal)}.png", 2
            while name.casefold() in used:
                name, k = f"{stem}-normal-{file_safe(normal)}-{k}.png", k + 1
            used.add(name.casefold())
            out.append((name, normal))
    return out


def gamma_plots(rows: list[dict[str, Any]], score: str | None = None) -> list[GammaPlot]:
    """The AUC-versus-gamma figures of `rows`: one over every cell (auc_vs_gamma.png; of one score for every method:
    auc_vs_gamma-score-S.png) and, where the rows hold several normal classes ((protocol, normal)), one per class
    (...-normal-N.png, named by figure_names): the pooled one mixes classes whose AUCs differ far more than seeds do.
    Each with its curves and their 95% bands (auc_vs_gamma, auc_vs_gamma_ci95), so that the study's own figures
    (studies.study), its report's figures of one score and the report's fallback for a study that left none are one
    rule. [] without rows."""
    names = figure_names(rows, score)
    if not names:
        return []
    classes = sorted({(r.get("protocol"), str(r["normal"])) for r in rows}, key=str)
    out = [GammaPlot(names[0][0], auc_vs_gamma(rows, score), auc_vs_gamma_ci95(rows, score), pooled=len(classes))]
    # (figure_names names the classes in this order, and none where there is one)
    for (protocol, normal), (name, _) in zip(classes, names[1:]):
        sub = [r for r in rows if (r.get("protocol"), str(r["normal"])) == (protocol, normal)]
        out.append(GammaPlot(name, auc_vs_gamma(sub, score), auc_vs_gamma_ci95(sub, score), normal=normal))
    return out
