"""Per anomalous class of a test split: how many images, the AUC of every score against all the test normals, and
where the class ranks under the method's own score (rank 1 = most normal: the lowest score).

One AUC over all the anomalies hides a class that a score calls normal: a short run's `a` ranked the red-blood-cell
elliptocytes (photographed on another background) as the most normal images of all while the other classes scored
well (README, "Which score after a short training"). `wildgan evaluate` keeps this table as eval.json's `by_class`
and EVAL_DIR/BY_CLASS_CSV; tools/auc_by_class.py prints it for a run evaluated before the classes were kept.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import as_typed
from ..data.eval_files import BY_CLASS_CSV
from ..markdown import md_cell, md_escape
from .metrics import midranks, roc_auc

# the console shows the per-class lines only for this many anomalous classes (one class is the overall AUC again;
# CIFAR-100's 99 would bury the table): eval.json and BY_CLASS_CSV hold them all
PRINTED_CLASSES = (2, 20)


def _number(v: float) -> float | None:
    """JSON has no nan: an undefined number (a non-finite score) is null, as in eval.json's AUCs."""
    return float(v) if math.isfinite(v) else None


def auc_by_class(labels: np.ndarray, classes: Sequence[str], scores: Mapping[str, np.ndarray], rank_by: str,
                 controls: Mapping[str, np.ndarray] | None = None,
                 order: Sequence[str] | None = None) -> dict[str, Any]:
    """The per-class table of the module docstring, JSON-ready.

    labels: 1 = anomaly, 0 = normal; classes: each test image's class name; scores: the trained scores, higher = more
    anomalous; controls: the control scores (untrained_a, pixel_norm, ...) by the names test_controls.csv gives them;
    rank_by: the score (of scores or controls) whose ranks are counted; order: the classes' order (the data's class
    names), else sorted. Returns {"rank_by", "n_test", "most_normal" (a tenth of the test images, at least 1),
    "classes": {name: {"n", "auc": {score: AUC}, "controls": {name: AUC}, "median_rank", "in_most_normal"}},
    "normal": {"n", "median_rank", "in_most_normal"}}; every AUC is of that class's images against every normal test
    image, so a class the score ranks below the normals has an AUC under 0.5."""
    labels = np.asarray(labels).astype(int)
    cls = np.asarray([str(c) for c in classes], dtype=object)
    if len(cls) != len(labels):
        raise ValueError(f"auc_by_class: {len(cls)} classes for {len(labels)} labels")
    controls = dict(controls or {})
    ranked = scores.get(rank_by, controls.get(rank_by))
    if ranked is None:
        raise ValueError(f"auc_by_class: rank_by {rank_by!r} is none of the scores ({', '.join([*scores, *controls])})")
    ranked = np.asarray(ranked, np.float64)
    finite = bool(np.isfinite(ranked).all())
    # ties at their average rank, as roc_auc counts a tie half (no rank where a score is undefined)
    rank = midranks(ranked) if finite else np.full(len(ranked), np.nan)
    n = len(labels)
    tenth = max(1, n // 10)
    normal = labels == 0

    def where(m: np.ndarray) -> dict[str, Any]:
        return {"n": int(m.sum()), "median_rank": _number(float(np.median(rank[m]))) if m.any() else None,
                "in_most_normal": int((rank[m] <= tenth).sum()) if finite else None}

    anomalous = set(cls[labels == 1].tolist())
    known = [str(c) for c in order or ()]
    names = [c for c in known if c in anomalous] + sorted(anomalous - set(known))
    def aucs(both: np.ndarray, d: Mapping[str, np.ndarray]) -> dict[str, float | None]:
        return {k: _number(roc_auc(labels[both], np.asarray(v, np.float64)[both])) for k, v in d.items()}

    out: dict[str, Any] = {"rank_by": rank_by, "n_test": int(n), "most_normal": int(tenth), "classes": {}}
    for name in names:
        m = (cls == name) & (labels == 1)
        entry = where(m)
        out["classes"][name] = {"n": entry["n"], "auc": aucs(normal | m, scores),
                                **({"controls": aucs(normal | m, controls)} if controls else {}),
                                "median_rank": entry["median_rank"], "in_most_normal": entry["in_most_normal"]}
    out["normal"] = where(normal)
    return out


def by_class_csv_text(table: Mapping[str, Any]) -> str:
    """BY_CLASS_CSV: one row per anomalous class: class, n, the AUC of every score, then of every control, the median
    rank under rank_by and how many of the class lie among the most_normal test images that score ranks most normal
    (the columns named with both)."""
    rows = table["classes"]
    first = next(iter(rows.values()), {})
    scores, controls = list(first.get("auc", {})), list(first.get("controls", {}))
    rank_col = f"median_rank_by_{table['rank_by']}_of_{table['n_test']}"
    top_col = f"in_{table['most_normal']}_most_normal_by_{table['rank_by']}"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["class", "n", *scores, *controls, rank_col, top_col])

    def cell(v: Any) -> str:
        return "" if v is None else f"{v:.9g}" if isinstance(v, float) else str(v)

    for name, r in rows.items():
        w.writerow([name, r["n"], *(cell(r["auc"][k]) for k in scores),
                    *(cell(r.get("controls", {}).get(k)) for k in controls), cell(r["median_rank"]),
                    cell(r["in_most_normal"])])
    return buf.getvalue()


def _rank_text(v: Any, n: int) -> str:
    return "n/a" if v is None else f"{v:g} of {n}"


def by_class_markdown(table: Mapping[str, Any], columns: Sequence[str] | None = None) -> str:
    """The table as Markdown (tools/auc_by_class.py's): per class n, the AUCs of `columns` (scores or controls by
    their CSV names, default every score), the median rank and the count among the most normal; a last row for the
    normal images' ranks."""
    rows, n, by = table["classes"], table["n_test"], table["rank_by"]
    first = next(iter(rows.values()), {})
    columns = list(columns) if columns is not None else list(first.get("auc", {}))
    lines = [f"| class | n | {' | '.join(columns)} | median rank by {by} | in the {table['most_normal']} most normal |",
             "|---|---|" + "---|" * (len(columns) + 2)]

    for name, r in rows.items():
        top = "n/a" if r["in_most_normal"] is None else r["in_most_normal"]
        lines.append(f"| {_md_name(name)} | {r['n']} | {' | '.join(_auc_cell(r, k) for k in columns)} | "
                     f"{_rank_text(r['median_rank'], n)} | {top} |")
    nr = table["normal"]
    top = "n/a" if nr["in_most_normal"] is None else nr["in_most_normal"]
    lines.append(f"| (normal) | {nr['n']} | {' | '.join('' for _ in columns)} | {_rank_text(nr['median_rank'], n)} "
                 f"| {top} |")
    return "\n".join(lines)


def by_class_lines(table: Mapping[str, Any] | None, columns: Sequence[str]) -> list[str]:
    """The console's short per-class table: one line per anomalous class, only for PRINTED_CLASSES of them (more: one
    line saying where the table is), the AUCs of `columns` (those the table has) and the median rank."""
    rows = (table or {}).get("classes") or {}
    low, high = PRINTED_CLASSES
    if len(rows) < low:
        return []
    if len(rows) > high:
        return [f"AUC per anomalous class: {len(rows)} classes, in eval.json's by_class and {BY_CLASS_CSV}"]
    first = next(iter(rows.values()))
    have = [k for k in columns if k in first["auc"] or k in first.get("controls", {})]
    # a class name as typed (as_typed): one holding a line break or a tab in Python's escapes, quoted, which broke
    # its row over two lines and the columns after it
    shown = {name: as_typed(name) for name in rows}
    width = max(12, *(len(v) + 2 for v in shown.values()))
    cols = [max(8, len(k) + 2) for k in have]
    assert table is not None
    lines = [f"{'AUC by class':<{width}}{'n':>6}" + "".join(f"{k:>{c}}" for k, c in zip(have, cols))
             + f"  median rank by {table['rank_by']} (of {table['n_test']})"]
    for name, r in rows.items():
        rank = "n/a" if r["median_rank"] is None else f"{r['median_rank']:g}"
        lines.append(f"{shown[name]:<{width}}{r['n']:>6}"
                     + "".join(f"{_auc_cell(r, k):>{c}}" for k, c in zip(have, cols)) + f"  {rank}")
    return lines


def _md_name(name: str) -> str:
    """A class name in a Markdown table's cell: a line break ended the row and a `|` the cell, shifting the rest of
    the row; as typed (as_typed: a line break as Python's escape, quoted), its Markdown syntax escaped (md_escape:
    the escape's backslash too, so that it shows) and its pipes as the cell's `\\|` (md_cell)."""
    return md_cell(md_escape(as_typed(name), pipe=False))


def _auc_cell(r: Mapping[str, Any], k: str) -> str:
    """The AUC of score or control k in a class's row, 3 decimals, n/a where undefined."""
    v = r["auc"].get(k, r.get("controls", {}).get(k))
    return "n/a" if v is None else f"{v:.3f}"
