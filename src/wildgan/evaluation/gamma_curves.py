"""The AUC-versus-contamination curves of a study's result rows: each method's own score (config.own_score) beside
its untrained-networks control of that score and the pixel controls.

Here, below the studies layer, so that `wildgan report STUDY_DIR` (evaluation), drawing the figure of a study that
left none, draws the study's own curves (studies.tables re-exports these) rather than a second rule of its own."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ..config import own_score

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


def auc_vs_gamma(rows: list[dict[str, Any]],
                 score: str | None = None) -> dict[str, list[tuple[float, float, float]]]:
    """{series label: [(gamma, mean AUC, std)]} for the AUC-versus-contamination plot: each method's score (score
    None: its own, A for f-AnoGAN, else a, as the study's plot shows them; a name: that score for every method, as
    `wildgan report STUDY_DIR --score L_r` draws it), each method's untrained-networks control of that same score,
    and the three pixel controls (-‖Q‖, -std(Q), -mean(Q)); the controls one value per seed (seed_key: counting the
    copies every cell of a seed holds would fake the sample size), NaN AUCs (one class only) left out. `rows`: rows
    as evaluation.rows.row_problem passes them."""
    series: dict[str, dict[float, dict[Any, float]]] = defaultdict(lambda: defaultdict(dict))
    for i, r in enumerate(rows):
        label, s = series_label(r, score)
        g = float(r["gamma"])
        series[label][g][i] = r["auc"].get(s)                              # every trained cell counts
        name = METHOD_NAMES.get(r["method"], r["method"])
        series[f"control: untrained {name} ({s})"][g][seed_key(r)] = r["controls"]["untrained"].get(s)
        for key, text in CONTROL_ROWS[1:]:          # every pixel control: -std(Q) may beat the trained curves
            series[f"control: {text.split(' (')[0]}"][g][seed_key(r)] = r["controls"].get(key)
    out = {}
    for label, by_g in series.items():
        pts = []
        for g in sorted(by_g):
            v = [float(x) for x in by_g[g].values() if x is not None and not math.isnan(float(x))]
            if v:
                m = sum(v) / len(v)
                sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
                pts.append((g, m, sd))
        if pts:
            out[label] = pts
    return out
