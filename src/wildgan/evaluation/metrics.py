"""Metrics on (labels, scores) only: numpy + scikit-learn, no models. Label 1 = anomaly = the positive class;
scores are used as they are (higher = more anomalous), never flipped to force AUC >= 0.5 (spec 4.4)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


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
    """The ROC AUC as the Mann-Whitney statistic: the fraction of (anomaly, normal) pairs that the score orders
    anomaly-higher, a tie counting half; nan with one class only or a non-finite score.

    Counted in integers (twice the rank sums, ties at their average rank) and divided once, so the value is the
    float nearest the exact fraction: scikit-learn's trapezoids (the same number) summed floats and wrote AUCs such
    as 0.5660000000000001 into eval.json and the study tables for 283/500."""
    labels, scores = _check(labels, scores)
    if labels.min() == labels.max() or not np.isfinite(scores).all():
        return float("nan")
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)                           # the 1-based rank of each distinct score's last image
    twice_rank = (2 * last - counts + 1)[group.ravel()]   # first + last rank of the image's tie group
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    twice_u = int(twice_rank[labels == 1].sum(dtype=np.int64)) - n1 * (n1 + 1)
    return twice_u / (2 * n1 * n0)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    labels, scores = _check(labels, scores)
    if labels.max() == 0 or not np.isfinite(scores).all():
        return float("nan")
    return float(average_precision_score(labels, scores))


def evaluate_scores(scores: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """{'auc': {name: value}, 'ap': {name: value}} for every score."""
    return {"auc": {k: roc_auc(labels, v) for k, v in scores.items()},
            "ap": {k: average_precision(labels, v) for k, v in scores.items()}}


# images whose pixels pixel_statistics holds as int64 at a time: 96 MiB of them at 32x32x3, 128 MiB at 64x64x1
_PIXEL_BLOCK = 4096


def pixel_statistics(x_u8: np.ndarray) -> dict[str, np.ndarray]:
    """Trivial controls computed on the query pixels in [-1, 1]. Fixed sign, chosen a priori and never flipped:
    lower statistic = more anomalous, i.e. the score is minus the statistic (the spec's -||Q||_2).

    Computed from exact integer sums of d = 2x - 255 (q = u8_to_unit's x * 2/255 - 1 = d / 255), each statistic a
    monotone function of an exact integer: images with equal statistics (the same pixels in another order, a common
    case for -mean Q of MNIST digits) get equal scores, a tie that the AUC counts as half. Float sums depend on the
    pixel order and broke such ties either way (on MNIST's digit-2 test split -mean Q read 0.6501750 for 0.6501746).

    x_u8: integer pixels 0..255 (uint8 as the splits hold them; any integer dtype with those values). Anything else is
    a ValueError: the integer sums would truncate float pixels (127.6 read as 127) without a word."""
    x_u8 = np.asarray(x_u8)
    if x_u8.dtype.kind not in "ui":
        raise ValueError(f"pixel_statistics takes integer pixels 0..255 (uint8), got an array of {x_u8.dtype}; "
                         f"convert float pixels with np.rint(x).astype(np.uint8) if they are 0..255 already")
    if x_u8.size and (int(x_u8.min()) < 0 or int(x_u8.max()) > 255):
        raise ValueError(f"pixel_statistics takes pixels 0..255, got values from {int(x_u8.min())} to "
                         f"{int(x_u8.max())} ({x_u8.dtype})")
    flat = x_u8.reshape(len(x_u8), -1)
    n = flat.shape[1]
    s: list[int] = []
    ss: list[int] = []
    # in blocks of images: d holds 8 bytes a pixel, and the whole set at once held 8 times its pixels (1.4 GB for
    # CIFAR-10's 60,000 images, an evaluation --whole) for sums that need one block at a time
    for i in range(0, len(flat), _PIXEL_BLOCK):
        d = flat[i:i + _PIXEL_BLOCK].astype(np.int64) * 2 - 255
        # Python integers: n * sum d^2 exceeds int64 above about 2 Mpixel images
        s += [int(v) for v in d.sum(axis=1)]
        ss += [int(v) for v in np.einsum("ij,ij->i", d, d)]
    var_num = np.array([float(n * b - a * a) for a, b in zip(s, ss)])      # n^2 * 255^2 * var(q), exactly rounded
    return {"pixel_norm": -np.sqrt(np.array(ss, dtype=np.float64)) / 255.0,
            "pixel_std": -np.sqrt(var_num) / (n * 255.0),
            "pixel_mean": -np.array(s, dtype=np.float64) / (n * 255.0)}
