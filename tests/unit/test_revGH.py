"""revGH: a review of the fixKB / fixKD / docGJ merges. Each test failed on the merged main."""

from __future__ import annotations

from wildgan.evaluation.run import below_chance_hint, format_table

# seed 0's numbers (docs/results/cpu-chula-short-g0.02-tables.md)
AUC = {"a": 0.337, "L_n": 0.594, "L_o": 0.336, "L_r": 0.674, "A": 0.609}
CI = {"a": [0.292, 0.385], "L_n": [0.544, 0.642], "L_o": [0.291, 0.385], "L_r": [0.625, 0.719], "A": [0.560, 0.656]}


def test_the_below_chance_hint_names_l_r_only_where_l_r_ranks_above_chance():
    """An a below chance beside an L_r that is better but also below chance (or at chance, its interval reaching
    0.5) was told to rank and flag by L_r: a score that ranks the anomalies no better than a coin, or below the
    normals too. The hint names L_r only where its whole interval is above 0.5 (without one, its AUC)."""
    below = {**AUC, "L_r": 0.45}
    assert below_chance_hint("a", below, {**CI, "L_r": [0.40, 0.49]}) is None
    assert below_chance_hint("a", below, {k: v for k, v in CI.items() if k != "L_r"}) is None   # (no interval)
    assert below_chance_hint("a", {**AUC, "L_r": 0.52}, {**CI, "L_r": [0.47, 0.57]}) is None    # at chance
    table = format_table({"auc": below, "ap": dict.fromkeys(AUC, 0.5), "auc_ci95": {**CI, "L_r": [0.40, 0.49]},
                          "n_test": 512, "n_anomalous": 256, "model": {"method": "wildgan", "lod": 0.0}})
    assert "the residual L_r ranks them" not in table, table
    # the measured case still gets it, as does an L_r above chance without an interval
    assert below_chance_hint("a", AUC, CI) is not None
    assert below_chance_hint("a", AUC, {"a": CI["a"]}) is not None
