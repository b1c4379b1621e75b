"""The shaded bands of an AUC-versus-gamma figure (evaluation.plots.auc_vs_gamma) read back off the figure itself, for
the tests that check what a figure shows, not only the numbers handed to it (test_gamma_curves, test_study,
test_report): each band matched to its curve by colour (a band is drawn in its curve's colour)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_hex


def bands_of(ax: Any) -> dict[str, dict[float, tuple[float, float]]]:
    """{curve label: {gamma in % (the x axis): (band's bottom, band's top)}} of every band drawn on `ax`: the fills of
    neighbouring banded gammas (a fill's vertices at one x are its bottom and top there) and the translucent bars of
    a lone one (wider than the error bars, which are 1 pt)."""
    handles, labels = ax.get_legend_handles_labels()
    by_colour = {to_hex(h[0].get_color()): label for h, label in zip(handles, labels)}   # (errorbar: h[0] the line)
    assert len(by_colour) == len(labels), "two curves share a colour: their bands cannot be told apart"
    out: dict[str, dict[float, tuple[float, float]]] = defaultdict(dict)
    for c in ax.collections:
        if isinstance(c, PolyCollection):
            label = by_colour[to_hex(c.get_facecolor()[0])]
            for path in c.get_paths():
                v = path.vertices
                for x in np.unique(v[:, 0]):
                    ys = v[v[:, 0] == x, 1]
                    out[label][round(float(x), 9)] = (float(ys.min()), float(ys.max()))
        elif isinstance(c, LineCollection) and c.get_linewidth()[0] > 2:
            label = by_colour[to_hex(c.get_color()[0])]
            for seg in c.get_segments():
                out[label][round(float(seg[0, 0]), 9)] = (float(seg[:, 1].min()), float(seg[:, 1].max()))
    return dict(out)
