"""The paired permutation test's faster Monte-Carlo (2026-12-03): the swap weights counted from sorted ranks, and
swaps drawn a binomial per shared weight and a random byte per 8 other images. The test must be the same as the
sign-per-image draws it replaced: the same weights as the table of pairs, a p near the exact one, and a count of
'as large' swaps with the same distribution as the old draws' over many seeds (the seeded p itself changed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wildgan.evaluation import metrics


def _pairwise_weights(labels: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """The weights as the anomalies x normal images table of pairs defines them (the code before 2026-12-03)."""
    pos, neg = labels == 1, labels == 0

    def psi(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return 2 * (u[:, None] > v[None, :]).astype(np.int64) + (u[:, None] == v[None, :])

    f00 = psi(ra[pos], ra[neg]) - psi(rb[pos], rb[neg])
    f10 = psi(rb[pos], ra[neg]) - psi(ra[pos], rb[neg])
    w = np.empty(len(labels), np.int64)
    w[pos] = (f00 - f10).sum(axis=1)
    w[neg] = (f00 + f10).sum(axis=0)
    return w


def _sign_per_image_count(w: np.ndarray, observed: int, draws: int, rng: np.random.Generator) -> int:
    """The Monte-Carlo of paired_permutation_p before 2026-12-03: a fair sign drawn for every image."""
    signs = rng.integers(0, 2, (draws, len(w)), dtype=np.int8) * 2.0 - 1.0
    return int((np.abs(signs @ w.astype(np.float64)) >= observed).sum())


def _weights(draws_rng: np.random.Generator, m: int, n: int) -> tuple[np.ndarray, int]:
    """(positive weights divided by their gcd, the observed statistic) of two random scores of m + n images, as
    paired_permutation_p reduces them."""
    y = np.r_[np.ones(m, int), np.zeros(n, int)]
    a = draws_rng.normal(size=m + n) + 0.8 * y
    b = draws_rng.normal(size=m + n) + 0.4 * y
    signed = metrics._swap_weights(y, metrics._twice_ranks(a), metrics._twice_ranks(b))
    observed = abs(int(signed.sum()))
    w = np.abs(signed[signed != 0])
    g = int(np.gcd.reduce(w))
    return w // g, observed // g


def test_swap_weights_from_sorted_ranks_are_the_table_of_pairs():
    """Counted by searches in the other class's sorted ranks, the weights are the pairs' sums exactly: ties within
    a score, between the two scores' ranks, one image of a class, one class only."""
    rng = np.random.default_rng(21)
    for trial in range(200):
        n_img = int(rng.integers(1, 80))
        y = (rng.random(n_img) < rng.random()).astype(int)
        a = rng.integers(0, int(rng.integers(1, 10)), n_img).astype(float)
        b = rng.normal(size=n_img) if trial % 3 else np.round(rng.normal(size=n_img), 1)
        ra, rb = metrics._twice_ranks(a), metrics._twice_ranks(b)
        assert np.array_equal(metrics._swap_weights(y, ra, rb), _pairwise_weights(y, ra, rb)), trial


def test_monte_carlo_p_is_near_the_exact_one_with_both_kinds_of_draw(monkeypatch):
    """5 anomalies among 1,500 images: the normal images' weights take a few values, several shared by more than
    _BINOMIAL_FROM images (set to 100 so that a test set whose exact p is cheap has them; a binomial draw each),
    the rest drawn a byte per 8 images. Forced to Monte-Carlo, p lies within 4 of its standard errors of the exact
    distribution's p, at the real statistic and at others (all 2^14 draws from the fixed seed)."""
    monkeypatch.setattr(metrics, "_BINOMIAL_FROM", 100)
    rng = np.random.default_rng(22)
    y = np.r_[np.ones(5, int), np.zeros(1495, int)]
    a = rng.normal(size=1500) + 1.0 * y
    b = rng.normal(size=1500) + 0.3 * y
    exact, kind = metrics.paired_permutation_p(y, a, b)
    assert kind == "exact permutation" and 0.005 < exact < 0.5
    monkeypatch.setattr(metrics, "PERMUTATION_EXACT_CELLS", 0)
    p, kind = metrics.paired_permutation_p(y, a, b)
    assert kind == "Monte-Carlo permutation"
    draws = metrics.PERMUTATION_DRAWS
    assert abs(p - exact) < 4 * math.sqrt(exact * (1 - exact) / draws) + 1 / draws
    w, observed = _weights(np.random.default_rng(22), 5, 1495)
    _, counts = np.unique(w, return_counts=True)
    assert (counts >= metrics._BINOMIAL_FROM).any() and (counts < metrics._BINOMIAL_FROM).any()
    for stat in (observed, int(0.5 * observed), int(1.5 * observed), 0, 10 ** 9):
        want = metrics._sign_sum_tail(w, stat)
        got = metrics._monte_carlo_as_large(w, stat, draws, np.random.default_rng(metrics.PERMUTATION_SEED)) / draws
        assert abs(got - want) < 4 * math.sqrt(want * (1 - want) / draws) + 1e-12, stat


def test_monte_carlo_count_has_the_sign_per_image_distribution_over_seeds(monkeypatch):
    """Over 300 seeds, the count of swaps at least as large in 256 draws: the new draws and a sign per image (the
    old code, in _sign_per_image_count) both Binomial(256, exact p). Their means within 4 standard errors of each
    other and of 256 p, their variances near 256 p (1 - p), and the two empirical distributions within the
    two-sample Kolmogorov-Smirnov bound at 0.001. _BINOMIAL_FROM set to 40, so that 704 images have weights of
    both kinds of draw."""
    monkeypatch.setattr(metrics, "_BINOMIAL_FROM", 40)
    w, observed = _weights(np.random.default_rng(23), 4, 700)
    _, counts = np.unique(w, return_counts=True)
    assert (counts >= metrics._BINOMIAL_FROM).any() and (counts < metrics._BINOMIAL_FROM).any()
    stat = int(0.6 * observed) or 1
    p = metrics._sign_sum_tail(w, stat)
    assert 0.1 < p < 0.9
    draws, seeds = 256, 300
    new = np.array([metrics._monte_carlo_as_large(w, stat, draws, np.random.default_rng(s)) for s in range(seeds)])
    old = np.array([_sign_per_image_count(w, stat, draws, np.random.default_rng(s)) for s in range(seeds)])
    var = draws * p * (1 - p)
    se_mean = math.sqrt(var / seeds)
    assert abs(new.mean() - draws * p) < 4 * se_mean and abs(old.mean() - draws * p) < 4 * se_mean
    assert abs(new.mean() - old.mean()) < 4 * math.sqrt(2) * se_mean
    for counts_ in (new, old):          # (the sample variance of 300 binomials: within about 25% of var)
        assert 0.75 * var < counts_.var(ddof=1) < 1.3 * var
    grid = np.arange(draws + 1)
    ks = np.max(np.abs(np.searchsorted(np.sort(new), grid, "right") - np.searchsorted(np.sort(old), grid, "right")))
    assert ks / seeds < 1.95 * math.sqrt(2 / seeds)
    # a wrong draw is caught: the swapped weights' sum instead of sum(w) - 2 of it (the sign of a whole draw wrong
    # is harmless, |.|), here a weight counted twice
    doubled = np.array([_sign_per_image_count(np.r_[w, w[:50]], stat, draws, np.random.default_rng(s))
                        for s in range(seeds)])
    assert abs(doubled.mean() - old.mean()) > 4 * math.sqrt(2) * se_mean


def test_seeded_p_is_reproducible_and_of_the_permutation_form():
    """The same scores give the same p on every call, (1 + k) / (1 + draws) with k an integer."""
    rng = np.random.default_rng(24)
    y = np.r_[np.ones(7, int), np.zeros(3000, int)]
    a, b = rng.normal(size=3007) + 0.5 * y, rng.normal(size=3007) + 0.5 * y
    p, kind = metrics.paired_permutation_p(y, a, b)
    assert kind == "Monte-Carlo permutation" and metrics.paired_permutation_p(y, a, b) == (p, kind)
    k = p * (1 + metrics.PERMUTATION_DRAWS) - 1
    assert k == pytest.approx(round(k), abs=1e-6)
