"""The hint `wildgan evaluate`'s table gives beside an a that ranks the anomalies below the normals. After a short
run on the red-blood-cell crops, a = 0.337 (95% CI 0.292-0.385) sat beside L_r = 0.674: read as one more number, it
hides that a ranks the elliptocytes as the most normal images of all. The table says so, and names the residual L_r
to read instead (with the option that ranks and flags by it, in the caller's words), but only where a is clearly
below chance and L_r clearly above it: the hint must never send the user to a score no better than a coin."""

from __future__ import annotations

from wildgan.evaluation.run import below_chance_hint, format_table

# seed 0's numbers (docs/results/cpu-chula-short-g0.02-by-class.md)
RESULT = {"auc": {"a": 0.337, "L_n": 0.594, "L_o": 0.336, "L_r": 0.674, "A": 0.609},
          "ap": {"a": 0.405, "L_n": 0.594, "L_o": 0.405, "L_r": 0.721, "A": 0.631},
          "auc_ci95": {"a": [0.292, 0.385], "L_n": [0.544, 0.642], "L_o": [0.291, 0.385], "L_r": [0.625, 0.719],
                       "A": [0.560, 0.656]},
          "n_test": 512, "n_anomalous": 256, "model": {"method": "wildgan", "lod": 0.0}}
AUC, CI = RESULT["auc"], RESULT["auc_ci95"]


def test_an_a_below_chance_is_named_with_the_residual_to_read_instead():
    table = format_table(RESULT)
    hint = [line for line in table.splitlines() if line.startswith("a ranks the anomalies below the normals")]
    assert hint == ["a ranks the anomalies below the normals (AUC 0.337, 95% CI up to 0.385): after a short training "
                    "its latent norm can still follow the pixels; the residual L_r ranks them at 0.674 here "
                    "(Detector(score='L_r') ranks and flags by it; README, 'Which score after a short training')"]


def test_the_cli_names_its_option(monkeypatch):
    import wildgan.evaluation.run as run

    monkeypatch.setattr(run, "option_words", lambda cli, api: cli)
    assert "(wildgan score --score L_r ranks and flags by it;" in below_chance_hint("a", RESULT["auc"],
                                                                                     RESULT["auc_ci95"])


def test_no_hint_where_a_is_not_clearly_below_chance_or_l_r_is_no_better():
    auc, ci = RESULT["auc"], RESULT["auc_ci95"]
    assert below_chance_hint("a", auc, {**ci, "a": [0.45, 0.55]}) is None      # the interval reaches 0.5
    assert below_chance_hint("a", auc, {**ci, "a": [None, None]}) is None      # no interval: not claimed
    assert below_chance_hint("a", auc, {}) is None                            # an eval.json without intervals
    assert below_chance_hint("a", {**auc, "L_r": 0.30}, ci) is None           # L_r is no better
    assert below_chance_hint("a", {"a": 0.337}, ci) is None                   # no L_r (an older table)
    # f-AnoGAN ranks by A, whose a is not what it was made for
    assert below_chance_hint("A", auc, {**ci, "A": [0.2, 0.3]}) is None
    fanogan = format_table({**RESULT, "model": {"method": "fanogan", "lod": 0.0}})
    assert "ranks the anomalies below the normals" not in fanogan


def test_the_below_chance_hint_names_l_r_only_where_l_r_ranks_above_chance():
    """An a below chance beside an L_r that is better but also below chance (or at chance, its interval reaching
    0.5) gets no hint: L_r would rank the anomalies no better than a coin, or below the normals too. The hint names
    L_r only where its whole interval is above 0.5 (without one, its AUC)."""
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


def test_the_interval_note_speaks_of_the_p_column_only_where_the_table_has_one():
    """`wildgan evaluate --no-controls` has no p column: its note said 'Neither counts training's own spread' of
    the interval alone, leaving the reader to look for a second thing the table did not show."""
    note = [line for line in format_table(RESULT).splitlines() if line.startswith("95% CI:")]
    assert note == ["95% CI: over the test images (DeLong logit + Newcombe score, evaluation.auc_ci). It does not "
                    "count training's own spread (another seed), often the larger"]
    with_p = {**RESULT, "controls": {"untrained": dict(AUC)},
              "auc_vs_controls": {k: {"untrained": {"p": 0.01, "test": "delong"}} for k in AUC}}
    note = [line for line in format_table(with_p).splitlines() if line.startswith("95% CI:")]
    assert len(note) == 1 and "; p: " in note[0] and ". Neither counts training's own spread" in note[0], note
