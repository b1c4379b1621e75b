"""revGH: a review of the fixKB / fixKD / docGJ merges. Each test failed on the merged main."""

from __future__ import annotations

from wildgan.evaluation.run import below_chance_hint, format_table

# seed 0's numbers (docs/results/cpu-chula-short-g0.02-by-class.md)
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


def _tool():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("auc_by_class", Path(__file__).resolve().parents[2] / "tools" /
                                                  "auc_by_class.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_auc_by_class_reads_an_evaluation_on_other_data_by_its_eval_json(tmp_path, capsys):
    """`wildgan evaluate RUN --data OTHER.npz` writes its test_scores.csv in RUN/eval-*/, beside its eval.json and no
    split.json: tools/auc_by_class.py on that folder stopped with a bare FileNotFoundError (split.json), where the
    file the evaluation scored is in its eval.json. A folder that says neither is refused naming --data."""
    import csv
    import json

    import numpy as np
    import pytest

    npz = tmp_path / "other.npz"
    np.savez(npz, x=np.zeros((4, 4, 4), np.uint8), y=np.array([0, 0, 1, 1]), class_names=np.array(["n", "odd"]))
    folder = tmp_path / "run" / "eval-other-abc123"
    folder.mkdir(parents=True)
    with open(folder / "test_scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "a"])
        w.writerows([(f"other:all:{k}", int(k > 1), float(k + 1)) for k in range(4)])
    (folder / "eval.json").write_text(json.dumps({"data": {"source": str(npz)}}))
    assert _tool().main([str(folder), "--scores", "a"]) == 0
    assert "| odd | 2 | 1.000 | 3.5 of 4 | 0 |" in capsys.readouterr().out.splitlines()
    (folder / "eval.json").unlink()
    with pytest.raises(SystemExit, match=r"eval-other-abc123: neither its eval\.json nor a split\.json .*--data"):
        _tool().main([str(folder)])
