"""docGJ: after a short run on the red-blood-cell crops, `wildgan evaluate` printed a = 0.337 (95% CI 0.292-0.385)
beside L_r = 0.674 and said nothing of it: a ranking the anomalies below the normals (the elliptocytes as the most
normal images of all) read as one more number. The table now says so, and which score to read instead."""

from __future__ import annotations

from wildgan.evaluation.run import below_chance_hint, format_table

# seed 0's numbers (docs/results/cpu-chula-short-g0.02-by-class.md)
RESULT = {"auc": {"a": 0.337, "L_n": 0.594, "L_o": 0.336, "L_r": 0.674, "A": 0.609},
          "ap": {"a": 0.405, "L_n": 0.594, "L_o": 0.405, "L_r": 0.721, "A": 0.631},
          "auc_ci95": {"a": [0.292, 0.385], "L_n": [0.544, 0.642], "L_o": [0.291, 0.385], "L_r": [0.625, 0.719],
                       "A": [0.560, 0.656]},
          "n_test": 512, "n_anomalous": 256, "model": {"method": "wildgan", "lod": 0.0}}


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
