"""Metrics on (labels, scores) only: numpy + scikit-learn, no models. Label 1 = anomaly = the positive class;
scores are used as they are (higher = more anomalous), never flipped to force AUC >= 0.5 (spec 4.4)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ..data.transforms import PIXEL_SCALE


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(labels).ravel()
    if raw.dtype.kind == "O":             # e.g. a pandas object / nullable-integer column of 0 and 1
        try:
            raw = raw.astype(np.float64)
        except (TypeError, ValueError):
            pass
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if raw.shape != scores.shape:
        raise ValueError(f"labels {raw.shape} and scores {scores.shape} differ in length")
    # checked before the cast to int, which would read 0.5 (or True/False from a float mask) as a class silently
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"labels must be 0 (normal) or 1 (anomaly), got an array of {raw.dtype}")
    if not np.isin(raw, (0, 1)).all():
        bad = sorted({float(v) for v in raw[~np.isin(raw, (0, 1))]})[:5]
        raise ValueError(f"labels must be 0 (normal) or 1 (anomaly), found {', '.join(f'{v:g}' for v in bad)}")
    return raw.astype(int), scores


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    labels, scores = _check(labels, scores)
    if labels.min() == labels.max() or not np.isfinite(scores).all():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    labels, scores = _check(labels, scores)
    if labels.max() == 0 or not np.isfinite(scores).all():
        return float("nan")
    return float(average_precision_score(labels, scores))


def evaluate_scores(scores: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """{'auc': {name: value}, 'ap': {name: value}} for every score."""
    return {"auc": {k: roc_auc(labels, v) for k, v in scores.items()},
            "ap": {k: average_precision(labels, v) for k, v in scores.items()}}


def pixel_statistics(x_u8: np.ndarray) -> dict[str, np.ndarray]:
    """Trivial controls computed on the query pixels in [-1, 1]. Fixed sign, chosen a priori and never flipped:
    lower statistic = more anomalous, i.e. the score is minus the statistic (the spec's -||Q||_2)."""
    q = x_u8.reshape(len(x_u8), -1).astype(np.float64) * PIXEL_SCALE - 1.0    # u8_to_unit's rule, in float64
    return {"pixel_norm": -np.linalg.norm(q, axis=1), "pixel_std": -q.std(axis=1), "pixel_mean": -q.mean(axis=1)}
