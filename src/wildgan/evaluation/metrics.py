"""Metrics on (labels, scores) only: numpy and exact integer counts, no models. Label 1 = anomaly = the positive class;
scores are used as they are (higher = more anomalous), never flipped to force AUC >= 0.5 (spec 4.4)."""

from __future__ import annotations

import decimal
import math
from typing import Any, Mapping

import numpy as np


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(labels).ravel()
    if raw.dtype.kind == "O":             # e.g. a pandas object / nullable-integer column of 0 and 1
        try:
            raw = raw.astype(np.float64)
        except (TypeError, ValueError):
            pass
    given = np.shape(scores)
    if len(given) == 2 and given[1] > 1 and int(np.prod(given)) != raw.size:
        # (raveled, predict_proba's [N, 2] was 2N scores, refused as a length that differs from the labels'. Only
        # there: a heat map against its mask, [H, W] both, or a row [1, N] of N scores, is read raveled, as before)
        proba = "; of predict_proba's two columns, [:, 1] is the anomaly's" if given[1] == 2 else ""
        raise ValueError(f"scores of shape {tuple(given)}: one score per image (1-D) is needed{proba}")
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
    n1 = int(labels.sum())
    return _twice_u(labels, scores) / (2 * n1 * (len(labels) - n1))


def _twice_ranks(x: np.ndarray) -> np.ndarray:
    """Twice the 1-based ranks of x, tied values at their average rank: integers (first + last rank of the tie
    group), so that sums of them are exact."""
    _, group, counts = np.unique(x, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)                           # the 1-based rank of each distinct score's last image
    return (2 * last - counts + 1)[group.ravel()]


def _twice_u(labels: np.ndarray, scores: np.ndarray) -> int:
    """Twice the Mann-Whitney count of checked labels (both classes present) and finite scores, exactly."""
    n1 = int(labels.sum())
    return int(_twice_ranks(scores)[labels == 1].sum(dtype=np.int64)) - n1 * (n1 + 1)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision, scikit-learn's definition: sum over the distinct scores, highest first, of the recall
    gained there times the precision there (tied images enter together); nan without anomalies or with a
    non-finite score.

    Summed from the exact integer counts with 50 significant digits and rounded once, so the value is the float
    nearest the exact sum (as roc_auc's): scikit-learn's float sum wrote values such as 0.6740000000000001."""
    labels, scores = _check(labels, scores)
    if labels.max() == 0 or not np.isfinite(scores).all():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])      # the last image of each group of equal scores
    tp = np.cumsum(y, dtype=np.int64)[ends]
    gained = np.diff(np.r_[0, tp])
    keep = gained > 0                      # (a group without anomalies adds no recall: its term is zero)
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        total = sum((decimal.Decimal(int(g) * int(t)) / decimal.Decimal(int(e) + 1)
                     for g, t, e in zip(gained[keep], tp[keep], ends[keep])), decimal.Decimal(0))
        return float(total / int(tp[-1]))


def evaluate_scores(scores: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """{'auc': {name: value}, 'ap': {name: value}} for every score."""
    return {"auc": {k: roc_auc(labels, v) for k, v in scores.items()},
            "ap": {k: average_precision(labels, v) for k, v in scores.items()}}


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values at their average rank (as roc_auc counts a tie half)."""
    return _twice_ranks(x) / 2.0


def delong(labels: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(the AUCs [K] of K scores of the same images, their covariance [K, K]) by DeLong, DeLong & Clarke-Pearson
    (1988), computed from midranks as Sun & Xu (2014) do: each anomaly's and each normal image's share of the
    Mann-Whitney count (its 'structural component'), whose covariances over the anomalies and over the normal images
    give the AUCs' covariance. Ties count half, so the AUCs are roc_auc's (up to float rounding of the division).
    The covariance is nan with fewer than 2 images of a class or a non-finite score; the AUCs nan as roc_auc's."""
    labels, first = _check(labels, scores[0])
    rows = [first] + [_check(labels, s)[1] for s in scores[1:]]
    k = len(rows)
    pos, neg = labels == 1, labels == 0
    m, n = int(pos.sum()), int(neg.sum())
    nan_cov = np.full((k, k), np.nan)
    if m == 0 or n == 0:
        return np.full(k, np.nan), nan_cov
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    for i, s in enumerate(rows):
        if not np.isfinite(s).all():
            v10[i], v01[i] = np.nan, np.nan        # (its AUC, variance and covariances: nan, as roc_auc's)
            continue
        tz = midranks(s)
        v10[i] = (tz[pos] - midranks(s[pos])) / n      # per anomaly: the fraction of normal images below it
        v01[i] = 1.0 - (tz[neg] - midranks(s[neg])) / m
    aucs = v10.mean(axis=1)
    if m < 2 or n < 2:
        return aucs, nan_cov
    cov = np.cov(v10).reshape(k, k) / m + np.cov(v01).reshape(k, k) / n
    return aucs, cov


_Z95 = 1.959963984540054                     # the standard normal's 97.5% quantile


def _newcombe_variance(theta: float, m: int, n: int) -> float:
    """Hanley and McNeil's (1982) variance of the AUC of m anomalies and n normal images as a function of the true
    AUC theta, both counts less one replaced by (m + n) / 2 - 1 (Newcombe 2006, method 5: symmetric in the classes)."""
    k = (m + n) / 2 - 1
    return theta * (1 - theta) * (1 + k * (1 - theta) / (2 - theta) + k * theta / (1 + theta)) / (m * n)


def _newcombe_bound(auc: float, m: int, n: int, toward: float) -> float:
    """The end on the side of `toward` (0 or 1) of Newcombe's (2006, Stat Med 25:559) score interval, V as
    _newcombe_variance: the theta between auc and toward where (auc - theta)^2 = z^2 V(theta). There is one such
    theta on each side (V(0) = V(1) = 0); bisection to adjacent floats."""
    inside, outside = auc, float(toward)          # (auc - theta)^2 - z^2 V(theta): <= 0 at auc, >= 0 at toward
    while True:
        mid = (inside + outside) / 2
        if mid in (inside, outside):
            return inside
        if (auc - mid) ** 2 - _Z95 * _Z95 * _newcombe_variance(mid, m, n) > 0:
            outside = mid
        else:
            inside = mid


def auc_ci(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The 95% confidence interval of roc_auc(labels, scores) over test images; (nan, nan) with one class, fewer
    than 2 images of one or a non-finite score. It measures how much the AUC would move on another test set of the
    same size, not another training run: seeds move AUCs more (benchmarks/RESULTS.md).

    'DeLong logit + Newcombe score': the smallest interval that holds both
    * DeLong's on the logit scale: logit(AUC) +- 1.96 se / (AUC (1 - AUC)), se DeLong's, transformed back, and
    * Newcombe's (2006, Stat Med 25:559) score interval, the thetas with (AUC - theta)^2 <= 1.96^2 V(theta): V is
      Hanley and McNeil's variance of the AUC as a function of the true AUC theta (both counts less one replaced by
      (m + n) / 2 - 1, his method 5).
    At an AUC of 0 or 1 (or scores all tied), where DeLong's variance is 0, that is Newcombe's interval alone: 2
    anomalies above 3 normal images give 0.439-1.

    Why: DeLong's AUC +- 1.96 se (the interval up to 2026-12-02) read 1.000-1.000 for that perfect ranking, and held
    the true AUC in 69% of test sets of 5 + 5 images at AUC 0.9. The logit scale keeps it inside (0, 1); the score
    interval behaves at the ends, and stands in where DeLong's variance rests on the few pairs ranked wrong near AUC 1
    and is often far too small. On binormal scores it held the true AUC in 95.1-99.8% of simulated test sets of 3
    to 1,000 anomalies (91.8-99.2% with anomalies spread twice as wide), and a better ranking never gets a lower
    lower end: a variant that scaled Newcombe's variance down to DeLong's (floor 1/2) covered a little closer to 95%
    on equal spreads but gave a perfect ranking of 10 + 50 images 0.880-1 and one with a pair wrong 0.936-1.000. The
    price is on large test sets at high AUC, where Hanley and McNeil's variance exceeds DeLong's: on 1,000 + 1,000
    binormal scores the lower end is 0.0006 below DeLong's at AUC 0.69 (CIFAR_CAR's), 0.0018 at 0.9 and 0.0024 at
    0.96-0.99, where DeLong's interval covers less than 95% and this one up to 99.8%.
    benchmarks/auc_coverage.py measures this and the other candidates (RESULTS.md, 2026-12-02)."""
    _, cov = delong(labels, [scores])
    var = float(cov[0, 0])
    if not math.isfinite(var):
        return float("nan"), float("nan")
    auc = roc_auc(labels, scores)                # (the exact count's AUC, which the table prints beside it)
    y, _ = _check(labels, scores)
    m = int(y.sum())
    n = len(y) - m
    if not (0.0 < auc < 1.0 and var > 0.0):
        return _newcombe_bound(auc, m, n, 0.0), _newcombe_bound(auc, m, n, 1.0)
    logit = math.log(auc / (1.0 - auc))
    half = _Z95 * math.sqrt(var) / (auc * (1.0 - auc))
    return (min(1.0 / (1.0 + math.exp(half - logit)), _newcombe_bound(auc, m, n, 0.0)),
            max(1.0 / (1.0 + math.exp(-logit - half)), _newcombe_bound(auc, m, n, 1.0)))


def auc_score_interval(auc: float, m: int, n: int) -> tuple[float, float]:
    """Newcombe's (2006) 95% score interval of an AUC of m anomalies and n normal images, from the AUC and the two
    counts alone: the half of auc_ci that needs no scores, for an AUC kept without them (a study row's controls,
    which keep no auc_ci95). (nan, nan) where auc is not a finite number in [0, 1] or a class has fewer than 2
    images (as auc_ci)."""
    if not (isinstance(auc, (int, float)) and math.isfinite(auc) and 0.0 <= auc <= 1.0) or min(m, n) < 2:
        return float("nan"), float("nan")
    return _newcombe_bound(float(auc), m, n, 0.0), _newcombe_bound(float(auc), m, n, 1.0)


# auc_difference's permutation test (benchmarks/auc_paired_size.py measured where it pays, and
# benchmarks/paired_test_calibration.py its size from 500 to 60,000 images: RESULTS.md)
# Used where the smaller class has fewer images than this, on any number of images: up to 2026-12-03 only up to
# 5,000 images (2,000 before), for the cost of the sign per image that the Monte-Carlo drew (up to 10 s a test at
# 60,000); now drawn through the weights it costs 16-35 ms there with 5 anomalies (benchmarks/paired_test_speed.py),
# and DeLong's test, liberal with few anomalies at every size measured, is no longer needed for the cost.
PERMUTATION_BELOW = 10
PERMUTATION_EXACT_CELLS = 10 ** 8  # exact where images x (the statistic's range) is at most this, else Monte-Carlo
PERMUTATION_DRAWS = 2 ** 14       # Monte-Carlo draws: p's own standard error at most 0.0017 at p = 0.05
PERMUTATION_SEED = 20261202       # fixed: the same scores give the same p on every run
_PERMUTATION_BLOCK = 1 << 22      # random bytes of the draws held at a time (4 MiB)
# A weight shared by this many images or more gets one binomial draw (~25-85 ns, whatever the count) instead of a
# sign each (~0.3 ns an image through the byte tables): about where the two cost the same (2-core VM, numpy 2.4).
_BINOMIAL_FROM = 256


def _swap_weights(labels: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Integer weights w, one an image, such that swapping the two ranks of the images of any set S turns twice
    the Mann-Whitney count of ra less that of rb (sum w) into sum(w) - 2 sum(w over S): the permutation statistic is
    a weighted sum of signs, sum t_i w_i with t_i = -1 on the images swapped.

    Why: a pair (anomaly i, normal j) adds f(t_i, t_j) = psi(x_i, x_j) - psi(y_i, y_j) (psi twice the Mann-Whitney
    kernel, x the first vector after the swap, y the second). Swapping both images negates f, and swapping i only
    gives minus swapping j only, so f = (t_i + t_j) / 2 f00 + (t_j - t_i) / 2 f10 (f00: no swap; f10: i swapped):
    linear in the signs, and twice each image's share of it is an integer. An image's share sums psi against every
    image of the other class, which a search in that class's sorted ranks counts (2 #below + #equal): O(N log N)
    time and O(N) memory, where the anomalies x normal images table of pairs took O(m n) of both."""
    pos = labels == 1
    ap, an, bp, bn = ra[pos], ra[~pos], rb[pos], rb[~pos]

    def against(others: np.ndarray, x: np.ndarray) -> np.ndarray:
        """sum over `others` of psi(x_i, other): 2 #(others < x_i) + #(others == x_i), for every x_i."""
        s = np.sort(others)
        return np.searchsorted(s, x, "left") + np.searchsorted(s, x, "right")

    w = np.empty(len(labels), np.int64)
    # anomaly i: sum_j (f00 - f10) = psi(a_i, a_j) - psi(b_i, b_j) - psi(b_i, a_j) + psi(a_i, b_j)
    w[pos] = against(an, ap) - against(bn, bp) - against(an, bp) + against(bn, ap)
    # normal j: sum_i (f00 + f10) = psi(a_i, a_j) - psi(b_i, b_j) + psi(b_i, a_j) - psi(a_i, b_j), where
    # sum_i psi(u_i, v) = 2 m - against(u, v)
    w[~pos] = -against(ap, an) + against(bp, bn) - against(bp, an) + against(ap, bn)
    return w                                          # (twice the shares: sum w = 2 (2U(ra) - 2U(rb)))


def _sign_sum_tail(w: np.ndarray, observed: int) -> float:
    """P(|sum t_i w_i| >= observed) over independent fair signs t_i, exactly (up to float rounding): the
    distribution of the sum built one image at a time, as the Wilcoxon signed-rank test's is."""
    total = int(w.sum())
    dist = np.zeros(2 * total + 1)
    dist[total] = 1.0
    span = 0
    for v in np.sort(w):                      # the support grows by 2v a step: small weights first keep it narrow
        v = int(v)
        lo, hi = total - span, total + span + 1
        new = np.zeros(hi - lo + 2 * v)
        new[:hi - lo] += dist[lo:hi]
        new[2 * v:] += dist[lo:hi]
        span += v
        dist[total - span:total + span + 1] = new / 2
    sums = np.arange(-total, total + 1)
    return min(1.0, float(dist[np.abs(sums) >= observed].sum()))


def _monte_carlo_as_large(w: np.ndarray, observed: int, draws: int, rng: np.random.Generator) -> int:
    """How many of `draws` random swaps (each sign t_i fair and independent) give |sum t_i w_i| >= observed.

    Each draw's sum has the distribution of one drawn a sign an image, so the count is Binomial(draws, exact p) as
    before 2026-12-03, drawn more cheaply (the random stream, so a seed's p, changed then):
    * images of equal weight v enter only through how many of them are swapped: the c images of one weight add
      v (c - 2 B), B ~ Binomial(c, 1/2), one draw where c >= _BINOMIAL_FROM (with few anomalies the normal images'
      weights take a few dozen values, |w| <= 4 m: some 20 binomials a draw instead of 60,000 signs);
    * the other images' signs are random bytes, 8 images a byte, each byte read through a table of the 256 sums of
      its images' weights that it swaps (one look-up per 8 images, integers throughout, so exact).
    The sum is then sum(w) - 2 (the weights swapped)."""
    values, counts = np.unique(w, return_counts=True)
    big = counts >= _BINOMIAL_FROM
    b_values, b_counts = values[big], counts[big]
    single = np.repeat(values[~big], counts[~big])
    single = np.r_[single, np.zeros(-len(single) % 8, np.int64)]          # (zero weights pad the last byte)
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1                      # [byte value, bit]
    tables = single.reshape(-1, 8) @ bits.T                                  # [byte, byte value]: weights swapped
    total = int(w.sum())
    block = max(1, _PERMUTATION_BLOCK // max(1, len(tables)))
    as_large = 0
    for start in range(0, draws, block):
        k = min(block, draws - start)
        swapped = np.zeros(k, np.int64)
        for v, c in zip(b_values, b_counts):           # (one count at a time: numpy sets up its sampler once)
            swapped += int(v) * rng.binomial(int(c), 0.5, k)
        if len(tables):
            r = np.frombuffer(rng.bytes(len(tables) * k), np.uint8).reshape(len(tables), k)
            for table, row in zip(tables, r):            # (one byte of every draw at a time: a row is contiguous)
                swapped += table[row]
        as_large += int((np.abs(total - 2 * swapped) >= observed).sum())
    return as_large


def paired_permutation_p(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, str]:
    """(two-sided p-value of 'the two scores rank the images alike', the test: 'exact permutation' or 'Monte-Carlo
    permutation') by the paired permutation test of Bandos, Rockette & Gur (2005, Stat Med 24:2873, 'A permutation
    test sensitive to differences in areas for comparing ROC curves from a paired design'): each score is replaced by
    its ranks over the images (so that the two scores' scales need not agree), and under the null hypothesis the two
    methods' ranks of an image are exchangeable, so swapping them within any set of images leaves the distribution
    of the AUC difference unchanged. The statistic is |AUC(first's ranks) - AUC(second's ranks)| (Mann-Whitney,
    ties half), counted in integers; p is the share of the 2^N swaps (N images) that give one at least as large.

    The statistic of a swap is a weighted sum of signs, one an image (_swap_weights), so its distribution over all
    2^N swaps is built exactly, one image at a time (cost: images x the statistic's range), where that is at most
    PERMUTATION_EXACT_CELLS ('exact permutation'). Otherwise PERMUTATION_DRAWS random swaps (each image's with
    probability 1/2) from a generator seeded with PERMUTATION_SEED, so the same scores give the same p on every run,
    and p = (1 + swaps at least as large) / (1 + draws) (Phipson & Smyth 2010), which keeps the test's size at
    alpha: its own standard error is at most 0.0017 at p = 0.05 ('Monte-Carlo permutation'). The swaps are drawn
    through the weights (_monte_carlo_as_large: a binomial per weight that many images share, a random byte per 8
    other images), so a test costs little more at 60,000 images than at 5,000 (16 and 6 ms with 5 anomalies, 2.7
    and 0.25 s before: benchmarks/paired_test_speed.py, RESULTS.md). That p has the distribution that a sign drawn
    per image gave up to 2026-12-03, but not its values: the same seed draws other swaps, so a given test set's p
    moved by its Monte-Carlo error (0.0017 at p = 0.05).

    Exact only under exchangeability: two scores of equal AUC whose ROC curves differ in shape can be told apart by
    it (benchmarks/auc_paired_size.py measures how often; studentizing it, paired_studentized_permutation_p, did not
    help with few anomalies). nan where roc_auc is (one class, a non-finite score)."""
    y, a = _check(labels, first)
    b = _check(labels, second)[1]
    if y.min() == y.max() or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan"), "exact permutation"
    signed = _swap_weights(y, _twice_ranks(a), _twice_ranks(b))
    observed = abs(int(signed.sum()))
    # (fair signs: a weight's own sign changes the distribution of the sum in nothing; a zero weight, nothing)
    w = np.abs(signed[signed != 0])
    if len(w) == 0:
        return 1.0, "exact permutation"
    g = int(np.gcd.reduce(w))
    w, observed = w // g, observed // g
    if len(w) * 2 * int(w.sum()) <= PERMUTATION_EXACT_CELLS:
        return _sign_sum_tail(w, observed), "exact permutation"
    as_large = _monte_carlo_as_large(w, observed, PERMUTATION_DRAWS, np.random.default_rng(PERMUTATION_SEED))
    return (1 + as_large) / (1 + PERMUTATION_DRAWS), "Monte-Carlo permutation"


# paired_studentized_permutation_p: exact where its swaps, counted as the anomalies' 2^m signs times the ways each
# cell of alike normal images can be swapped (_StudentizedSwaps.swaps), are at most this many (some 20 ms), else
# Monte-Carlo with PERMUTATION_DRAWS draws from PERMUTATION_SEED (as paired_permutation_p)
STUDENTIZED_EXACT_SWAPS = 2 ** 18
_STUDENTIZED_BLOCK = 1 << 21      # float64 numbers of a Monte-Carlo block's sums, tables or counts at a time (16 MiB)
# a cell of this many normal images or more gets one binomial count a draw instead of a sign each: a sign costs more
# here than in _monte_carlo_as_large (2m + 1 numbers a byte's look-up, not one), so the binomial pays sooner (about
# 30% less time at 5 + 4,995 images than from 256 on; 2-core VM, numpy 2.4)
_STUDENTIZED_BINOMIAL_FROM = 32
_RELATIVE_TIE = 1e-9              # statistics this close count as equal: float rounding of one exact fraction


class _StudentizedSwaps:
    """The studentized statistic of every swap as a function of few numbers. With t_i = -1 on the images whose two
    ranks are swapped, a pair (anomaly i, normal j) adds f_ij = (t_i + t_j) / 2 P_ij + (t_j - t_i) / 2 Q_ij
    (_swap_weights' f00 and f10). DeLong's structural components of the difference are then, in units of 1 / (4 n)
    and 1 / (4 m):
        anomaly i:  K_i = t_i wa_i + sum_j t_j S_ij          (S = P + Q, wa_i = sum_j R_ij, R = P - Q)
        normal j:   L_j = t_j wn_j + sum_i t_i R_ij          (wn_j = sum_i S_ij)
    and sum K = sum L = W, twice the difference of the pair counts. A normal image's column (S_.j, R_.j) depends
    only on where its two ranks fall among the anomalies' 2m ranks, so the normal images form at most (4m + 1)^2
    groups ('cells') of equal columns, and the swaps of a cell enter only through z_c, the sum of its signs:
        u = sum_c z_c S_c,  v = sum_c z_c wn_c R_c,  s = sum_c z_c wn_c,   W = t.wa + s,
        sum K^2 = |t * wa + u|^2,   sum L^2 = sum_j wn_j^2 + 2 t.v + t' G t,  G = sum_j R_.j R_.j'.
    So a swap costs O(m x cells), not O(m n), and the exact distribution sums over the cells' binomial counts.
    The class called 'anomalies' here is the smaller one (the labels flipped where needed: the statistic is the
    same, DeLong's variance and |difference| being symmetric in the classes)."""

    def __init__(self, labels: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> None:
        y = labels if 2 * int(labels.sum()) <= len(labels) else 1 - labels
        pos = y == 1
        ap, bp, an, bn = ra[pos], rb[pos], ra[~pos], rb[~pos]
        self.m, self.n = len(ap), len(an)
        marks = np.unique(np.r_[ap, bp])

        def place(x: np.ndarray) -> np.ndarray:        # 2 #(marks below) + (1 if one equals): where x falls
            return np.searchsorted(marks, x, "left") + np.searchsorted(marks, x, "right")

        key = place(an) * (2 * len(marks) + 1) + place(bn)
        _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        # cells in the order of their first image, so that both orders of the two scores (the same partition)
        # get the same order and the same draws: p symmetric in the two methods
        order = np.argsort(first, kind="stable")
        first, counts = first[order], counts[order]
        inverse = np.argsort(order)[inverse.ravel()]
        ja, jb = an[first], bn[first]

        def sign(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            return np.sign(u[:, None] - v[None, :])              # [m, cells]: psi(u, v) - 1

        p_ = sign(ap, ja) - sign(bp, jb)
        q_ = sign(bp, ja) - sign(ap, jb)
        s_, r_ = p_ + q_, p_ - q_
        wn = s_.sum(axis=0)
        self.wa = (r_ * counts).sum(axis=1).astype(np.float64)
        self.gram = ((r_ * counts) @ r_.T).astype(np.float64)
        self.sum_wn2 = float((counts * wn * wn).sum())
        live = (s_ != 0).any(axis=0)              # (a cell with S_c = 0 adds nothing that its signs change)
        # a live cell's column of [u | v | s]
        self.cols = np.c_[s_.T, (r_ * wn).T, wn][live].astype(np.float64)
        self.counts = counts[live]
        # every normal image of a live cell, in image order: the cell (among the live ones) it belongs to
        self.member_cell = np.searchsorted(np.flatnonzero(live), inverse[live[inverse]])

    def _ratio(self, w: np.ndarray, k2: np.ndarray, l2: np.ndarray) -> np.ndarray:
        """W^2 / V from W, sum K^2 and sum L^2 (any one shape): the squared studentized statistic over
        (m - 1)(n - 1), V = (n - 1)(m sum K^2 - W^2) + (m - 1)(n sum L^2 - W^2) being DeLong's variance of the
        difference times 16 m^2 n^2 (m - 1)(n - 1). 0 where W is 0, inf where W is not and V is 0."""
        m, n = self.m, self.n
        var = (n - 1) * (m * k2 - w * w) + (m - 1) * (n * l2 - w * w)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(var > 0, w * w / var, np.inf)
        return np.where(w == 0, 0.0, r)

    def ratio(self, t: np.ndarray, z: np.ndarray) -> np.ndarray:
        """_ratio of k swaps: anomaly signs t [k, m] (+-1) and the live cells' z @ cols [k, 2m + 1]."""
        m = self.m
        u, v, s = z[:, :m], z[:, m:2 * m], z[:, 2 * m]
        k2 = ((t * self.wa + u) ** 2).sum(axis=1)
        l2 = self.sum_wn2 + ((2 * v + t @ self.gram) * t).sum(axis=1)
        return self._ratio(t @ self.wa + s, k2, l2)

    def observed(self) -> float:
        return float(self.ratio(np.ones((1, self.m)), (self.counts @ self.cols)[None, :])[0])

    def swaps(self) -> int:
        """How many configurations the exact distribution sums over: 2^m sign patterns x (count + 1) a cell."""
        return 2 ** self.m * math.prod(int(c) + 1 for c in self.counts)

    def exact_tail(self, observed: float) -> float:
        """P(ratio >= observed) over all 2^N swaps: every anomaly sign pattern t against every combination of the
        cells' z (its probability a product of binomial ones). As t^2 = 1, sum K^2 = |wa|^2 + |u|^2 + 2 t.(wa u)
        and sum L^2 = sum wn^2 + 2 t.v + t' G t: the grid of patterns x combinations is two matrix products."""
        m = self.m
        z = np.zeros((1, self.cols.shape[1]))
        prob = np.ones(1)
        for col, c in zip(self.cols, self.counts):
            c = int(c)
            swapped = np.arange(c + 1)
            z = (z[:, None, :] + (c - 2 * swapped)[None, :, None] * col).reshape(-1, len(col))
            prob = (prob[:, None] * (np.array([math.comb(c, b) for b in swapped]) / 2.0 ** c)).ravel()
        u, v, s = z[:, :m], z[:, m:2 * m], z[:, 2 * m]
        k2_z = float(self.wa @ self.wa) + (u * u).sum(axis=1)
        t = 1.0 - 2.0 * ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1)
        step = max(1, (1 << 18) // len(z))             # patterns at a time: some 262,144 swaps
        as_large = 0.0
        for lo in range(0, len(t), step):
            rows = t[lo:lo + step]
            w = (rows @ self.wa)[:, None] + s
            k2 = k2_z + 2 * rows @ (u * self.wa).T
            l2 = (self.sum_wn2 + ((rows @ self.gram) * rows).sum(axis=1))[:, None] + 2 * rows @ v.T
            r = self._ratio(w, k2, l2)
            as_large += float(((r >= observed * (1 - _RELATIVE_TIE)) @ prob).sum())
        return min(1.0, as_large / 2 ** m)

    def monte_carlo_as_large(self, observed: float, draws: int, rng: np.random.Generator) -> int:
        """How many of `draws` random swaps (every image's with probability 1/2) give a ratio >= observed, drawn as
        _monte_carlo_as_large draws them: a cell of _STUDENTIZED_BINOMIAL_FROM images or more as one binomial count
        (its z), the other images a random sign each, 8 images a byte, each byte read through a table of its 256
        signed sums of its images' columns (one look-up of 2m + 1 numbers per 8 images: a product of signs and
        columns cost 5 times as much at 5 + 4,995 images). Integer-valued floats throughout, so the sums are exact
        (they stay far below 2^53)."""
        d = self.cols.shape[1]
        big = self.counts >= _STUDENTIZED_BINOMIAL_FROM
        b_cols, b_counts = self.cols[big], self.counts[big]
        single = self.cols[self.member_cell[np.isin(self.member_cell, np.flatnonzero(~big))]]
        single = np.r_[single, np.zeros((-len(single) % 8, d))].reshape(-1, 8, d)     # [byte, bit, 2m + 1]
        signs = 1.0 - 2.0 * ((np.arange(256)[:, None] >> np.arange(8)) & 1)         # [byte value, bit]: +-1
        # (draws in blocks of at most _STUDENTIZED_BLOCK numbers of z, cells and bytes in chunks of as many)
        block = min(draws, max(4096, _STUDENTIZED_BLOCK // d))
        as_large = 0
        for start in range(0, draws, block):
            k = min(block, draws - start)
            t = 1.0 - 2.0 * rng.integers(0, 2, (k, self.m))
            z = np.zeros((k, d))
            step = max(1, _STUDENTIZED_BLOCK // k)
            for lo in range(0, len(b_counts), step):
                zc = np.stack([int(c) - 2.0 * rng.binomial(int(c), 0.5, k) for c in b_counts[lo:lo + step]], axis=1)
                z += zc @ b_cols[lo:lo + step]
            step = max(1, min(_STUDENTIZED_BLOCK // (256 * d), _STUDENTIZED_BLOCK // k))
            for lo in range(0, len(single), step):
                tables = np.einsum("vb,gbd->gvd", signs, single[lo:lo + step])       # [byte, byte value, 2m + 1]
                raw = np.frombuffer(rng.bytes(len(tables) * k), np.uint8).reshape(len(tables), k)
                for table, row in zip(tables, raw):
                    z += table[row]
            as_large += int((self.ratio(t, z) >= observed * (1 - _RELATIVE_TIE)).sum())
        return as_large


def paired_studentized_permutation_p(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, str]:
    """(two-sided p-value of 'the two AUCs are equal', the test: 'exact studentized permutation' or 'Monte-Carlo
    studentized permutation'): paired_permutation_p's swaps of the two methods' within-method ranks, but the
    statistic of each swap is the AUC difference divided by its own DeLong standard error, |diff| / se, recomputed
    on the swapped ranks.

    Why: the plain statistic's permutation distribution is its distribution under exchangeable ranks, so it is
    exact there but tests more than equal areas: where two ROC curves of one area cross it rejected in up to 34% of
    test sets at alpha 0.05 (benchmarks/paired_test_calibration.py, RESULTS.md). Studentized, the permutation
    distribution tends to the standard normal whether or not the ranks are exchangeable, as the statistic's own
    does under equal AUCs, so the test is asymptotically valid for equal AUCs and still exact under exchangeability
    (any statistic is): Janssen (1997), Chung & Romano (2013, Ann Stat 41:484), for the matched pairs of a paired
    design Konietschke & Pauly (2014, Stat Comput 24:283), for the AUC's rank statistic Pauly, Asendorf &
    Konietschke (2016, Biom J 58:863). DeLong's variance (ddof 1 in each class) is that of `delong`.

    The swaps enter through a few sums (_StudentizedSwaps): exact over all 2^N swaps where they come to at most
    STUDENTIZED_EXACT_SWAPS configurations, else PERMUTATION_DRAWS random swaps from PERMUTATION_SEED, p = (1 + as
    large) / (1 + draws) as paired_permutation_p's. nan where roc_auc is, or with fewer than 2 images of a class
    (DeLong's variance needs two); p 1 where the two AUCs are equal.

    Cost: O(m x cells) a swap, where the normal images form at most (4m + 1)^2 cells (m the smaller class): 0.3-12
    ms exact on tiny test sets, 5-30 ms Monte-Carlo at 5 + 50 to 20 + 200 images, 20-200 ms at 2,000 to 60,000
    images with 5 or 9 anomalies (2-core VM). Meant for a small class: with hundreds of each its cells approach the
    images and a swap costs O(m n)."""
    y, a = _check(labels, first)
    b = _check(labels, second)[1]
    m = int(y.sum()) if len(y) else 0
    if min(m, len(y) - m) < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan"), "exact studentized permutation"
    sw = _StudentizedSwaps(y, _twice_ranks(a), _twice_ranks(b))
    observed = sw.observed()
    if observed == 0.0:
        return 1.0, "exact studentized permutation"
    if sw.swaps() <= STUDENTIZED_EXACT_SWAPS:
        return sw.exact_tail(observed), "exact studentized permutation"
    as_large = sw.monte_carlo_as_large(observed, PERMUTATION_DRAWS, np.random.default_rng(PERMUTATION_SEED))
    return (1 + as_large) / (1 + PERMUTATION_DRAWS), "Monte-Carlo studentized permutation"


def uses_permutation(m: int, n: int) -> bool:
    """Whether auc_difference's p of m anomalies and n normal images is the permutation test's (else DeLong's):
    where the smaller class has under PERMUTATION_BELOW images, however many the other has."""
    return 0 < min(m, n) < PERMUTATION_BELOW


def auc_difference(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> dict[str, Any]:
    """{'diff': AUC(first) - AUC(second), 'se': its standard error, 'p': two-sided p-value of 'the AUCs are equal',
    'test': which test gave p} for both scores of the same test images, so that what they share (which images are
    hard) cancels. nan where undefined.

    'se' is DeLong's (DeLong, DeLong & Clarke-Pearson 1988). 'p' is DeLong's paired test ('test': 'DeLong'), a normal
    approximation, except where a class is small (uses_permutation: the smaller class under PERMUTATION_BELOW
    images, however many images there are), where it is paired_permutation_p's ('exact permutation' or
    'Monte-Carlo permutation'): there DeLong's test rejected equal AUCs in up to 12% of binormal test sets of 5 + 50
    images at alpha 0.05 (benchmarks/auc_paired_size.py, RESULTS.md), the permutation test in at most 5-7% where the
    two ROC curves have one shape (its own null hypothesis), but up to 11-14% where they cross and the scores are
    strongly correlated. From PERMUTATION_BELOW images of the smaller class on, DeLong's size stayed near 5% (at
    most 8.7% in the cells of 1,000 samples) and the permutation test's crossing-curve excess grew (14-18% at
    10 + 100 to 20 + 200), so DeLong's is kept there. A small class among many images keeps DeLong's too small a p:
    benchmarks/paired_test_calibration.py (RESULTS.md, 2026-12-03) found its excess set by the few anomalies, not
    shrinking with the normal images, at 500 to 60,000 images with 5 or 9 anomalies (one ROC shape: DeLong's
    2.3-12%, the permutation test's 0.7-8%, within the Monte-Carlo noise of 5%; crossing curves: both liberal,
    DeLong's 5.7-25%, the permutation test's 3.3-37%, worst at AUC 0.95, rho 0.9). The studentized permutation test
    (paired_studentized_permutation_p), asymptotically valid for equal AUCs where the curves cross, was measured
    there on 2026-12-03 and not taken: with 5 or 9 anomalies it rejected crossing curves of equal AUC more often
    still (27-40% in the worst cell against the plain test's 21-34%), and came near DeLong's only with both classes
    large (50 + 500). The permutation test was kept to
    at most 2,000 and then 5,000 images for its cost (up to 10 s a test at 60,000 images); drawn through its weights
    since 2026-12-03 it costs 16-35 ms there with 5 anomalies (benchmarks/paired_test_speed.py; DeLong's about 9 ms),
    so there is no bound on the images any more.

    DeLong's standard error is 0 where both scores rank every pair alike (identical scores, both AUCs 1): equal AUCs
    then give p 1. Unequal AUCs with it 0 (each AUC 0, 1, or of scores all tied) would give p 0 on any number of
    images, so there the se is the one that the two auc_ci intervals give the difference by Newcombe's (1998) hybrid
    method, the intervals' sides toward each other added in quadrature, as if the scores were independent, and
    DeLong's p is the normal one of that se (where the permutation test gives p, it does, from the ranks alone).
    With one image of a class the se is nan (DeLong's variance needs two of each) but the permutation test's p is
    still given, as uses_permutation says."""
    aucs, cov = delong(labels, [first, second])
    diff = float(aucs[0] - aucs[1])
    y = _check(labels, first)[0]
    m = int(y.sum())
    small = uses_permutation(m, len(y) - m)
    test = "DeLong"
    if math.isfinite(diff):
        # the exact difference of the two pair counts, divided once (as roc_auc): DeLong's float means wrote
        # differences such as 0.05454999999999999
        a = _check(labels, first)[1]
        diff = (_twice_u(y, a) - _twice_u(y, _check(labels, second)[1])) / (2 * m * (len(y) - m))
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if not (math.isfinite(diff) and math.isfinite(var)):
        # one image of a class: DeLong's variance needs two of each, the permutation test's p only the ranks
        if small and math.isfinite(diff):
            p, test = paired_permutation_p(labels, first, second)
            return {"diff": diff, "se": float("nan"), "p": p, "test": test}
        return {"diff": diff, "se": float("nan"), "p": float("nan"), "test": test}
    se = math.sqrt(max(var, 0.0))
    if se == 0.0 and diff != 0.0:
        hi, lo = (first, second) if diff > 0 else (second, first)
        a_hi, a_lo = roc_auc(labels, hi), roc_auc(labels, lo)
        gap = math.hypot(a_hi - auc_ci(labels, hi)[0], auc_ci(labels, lo)[1] - a_lo)
        se = gap / _Z95
    if small:
        p, test = paired_permutation_p(labels, first, second)
    elif se == 0.0:
        p = 1.0                                   # (diff 0: both rank every pair alike)
    else:
        p = math.erfc(abs(diff) / se / math.sqrt(2.0))
    return {"diff": diff, "se": se, "p": p, "test": test}


def _json_number(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _json_test(d: Mapping[str, Any]) -> dict[str, Any]:
    """auc_difference's result for eval.json: undefined numbers null, the test's name as it is."""
    return {a: b if isinstance(b, str) else _json_number(b) for a, b in d.items()}


def auc_uncertainty(trained: Mapping[str, np.ndarray], labels: np.ndarray,
                    untrained: Mapping[str, np.ndarray] | None = None,
                    pixel: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """What the AUCs of evaluate_scores(trained, labels) are worth on this many test images, for eval.json:
    {'auc_ci95': {score: [lo, hi]}, 'auc_vs_controls': {score: {control: {'diff', 'se', 'p', 'test'[, 'flipped']}}}}.

    Every trained score is compared (auc_difference, paired) with the same score of the untrained networks and with
    each pixel control. A pixel control below AUC 0.5 is compared with its sign flipped ('flipped': true), i.e. with
    max(AUC, 1 - AUC), the baseline the table says to beat: the harder comparison, so a flip chosen on the test
    labels can only make a trained score look worse. Undefined numbers (one class or a non-finite score; the
    intervals and se also with fewer than 2 images of a class, where p is the permutation test's) are null."""
    ci = {k: [_json_number(v) for v in auc_ci(labels, s)] for k, s in trained.items()}
    flips = {}
    for name, s in (pixel or {}).items():
        flips[name] = roc_auc(labels, s) < 0.5
    vs: dict[str, dict[str, dict[str, Any]]] = {}
    for k, s in trained.items():
        row: dict[str, dict[str, Any]] = {}
        if untrained and k in untrained:
            row["untrained"] = _json_test(auc_difference(labels, s, untrained[k]))
        for name, c in (pixel or {}).items():
            d = _json_test(auc_difference(labels, s, -np.asarray(c) if flips[name] else c))
            if flips[name]:
                d["flipped"] = True
            row[name] = d
        vs[k] = row
    return {"auc_ci95": ci, "auc_vs_controls": vs}


# how eval.json's intervals and tests read in a table (evaluation.run.format_table, the report)
def interval_text(v: Any) -> str:
    """'0.671-0.717' for an auc_ci95 entry, '-' where it is undefined (null) or absent."""
    if not isinstance(v, (list, tuple)) or len(v) != 2 or any(not isinstance(x, (int, float)) for x in v):
        return "-"
    return f"{v[0]:.3f}-{v[1]:.3f}"


def p_text(p: Any) -> str:
    """A p-value in a few characters: 0.034, 2e-07, <1e-15 (where the normal approximation's tail means nothing
    more), '-' where undefined."""
    if not isinstance(p, (int, float)) or not math.isfinite(p):
        return "-"
    return "<1e-15" if p < 1e-15 else f"{p:.0e}" if p < 1e-3 else f"{p:.3f}"


def paired_test_text(vs: Any) -> str:
    """Which paired test gave the p-values of an auc_vs_controls ({score: {control: {..., 'test'}}}), for the text
    under a table: 'paired DeLong test', 'paired exact permutation test' (a small test set, auc_difference), or the
    names joined by 'or' where they differ. An entry without 'test' (eval.json before 2026-12-02) was DeLong's."""
    tests = {d.get("test", "DeLong") for row in (vs.values() if isinstance(vs, dict) else ()) if isinstance(row, dict)
             for d in row.values() if isinstance(d, dict) and d.get("p") is not None}
    return " or ".join(f"paired {t} test" for t in sorted(tests)) or "paired DeLong test"


def signed_text(v: Any) -> str:
    """'+0.042' for a difference of AUCs, '-' where it is undefined (null)."""
    return f"{v:+.3f}" if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def pixel_tests_text(tests: Any, flipped: str = " (sign flipped)") -> str:
    """One score's paired tests against the pixel controls (auc_vs_controls[score]) as 'pixel_norm +0.066 (p 1e-05),
    pixel_std (sign flipped) -0.010 (p 0.512)'; '' where there are none."""
    if not isinstance(tests, dict):
        return ""
    return ", ".join(f"{c}{flipped if d.get('flipped') else ''} {signed_text(d.get('diff'))} (p {p_text(d.get('p'))})"
                     for c, d in tests.items() if c != "untrained" and isinstance(d, dict))


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
