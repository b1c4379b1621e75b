#!/usr/bin/env python
"""What a study's paired comparisons cost when its tables are written again (after every row a study appends) and
its pairs cannot be compared: `wildgan.studies.study.method_comparisons` on a synthetic study folder, no training.

The study: GROUPS (normal, gamma, seed) groups of three cells each (ours d_I, ours d_z, f-AnoGAN: 5 compared pairs
of scores per group), each cell with a test_scores.csv of N_TEST images and 6 score columns, written as
`wildgan evaluate` writes it. The f-AnoGAN cells' test images are other ids than ours', so 4 of the 5 pairs of a
group are `not_compared` ("their test images differ"); the d_I-d_z pair is compared. Timed: the first write (every
pair tested), then REPEATS writes with comparisons.jsonl kept (what each later row of the study pays), the median.

    python benchmarks/study_comparisons.py                       # 50 groups (150 cells) of 2,000 test images
    python benchmarks/study_comparisons.py --groups 100 --n-test 2000 --repeats 5

--score-views times instead what `wildgan report STUDY --score L_r` pays before it draws: `study.score_views` on the
same study's rows (results.jsonl, with the AP and controls a row has, and a tables.csv marking one row computed
otherwise, as write_tables writes it), and apart the two files it parses, results.jsonl (tables.read_rows) and
tables.csv (study.computed_otherwise_in_tables), each once per call; the median of REPEATS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from wildgan.data.eval_files import SCORES_CSV
from wildgan.evaluation.metrics import roc_auc
from wildgan.studies import study


def make_study(root: Path, groups: int, n_test: int) -> list[dict]:
    """The rows of a synthetic study in root, each cell's test_scores.csv written beside them."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [n_test - n_test // 10, n_test // 10])
    rows = []
    for g in range(groups):
        for method, enc in (("wildgan", "image"), ("wildgan", "latent"), ("fanogan", "-")):
            cell = f"c{g}_g0_{method}_{enc}_s{g}"
            scores = {k: rng.normal(0, 1, n_test) + y for k in ("a", "L_n", "L_o", "L_r", "A", "z_norm")}
            # (read back as the study reads it: 9 significant digits)
            scores = {k: np.array([float(f"{v:.9g}") for v in s]) for k, s in scores.items()}
            prefix = "f" if method == "fanogan" else "img"          # f-AnoGAN's test images other ids than ours
            run = root / "runs" / cell
            run.mkdir(parents=True)
            lines = ["id,label," + ",".join(scores)]
            lines += [f"{prefix}{i},{y[i]}," + ",".join(f"{scores[k][i]:.9g}" for k in scores) for i in range(n_test)]
            (run / SCORES_CSV).write_text("\n".join(lines) + "\n")
            auc = {k: roc_auc(y, s) for k, s in scores.items() if k != "z_norm"}
            rows.append({"cell": cell, "protocol": "cifar10", "normal": f"c{g}", "gamma": 0.0, "method": method,
                         "encoder_loss": enc, "seed": g, "auc": auc, "run_dir": f"runs/{cell}"})
    return rows


def time_score_views(root: Path, rows: list[dict], repeats: int) -> dict:
    """score_views' seconds, and its two parses', on `rows` written as a study writes them (medians)."""
    from wildgan.studies.tables import read_rows, render_csv

    for r in rows:               # what a study's row holds beside its AUCs, which the tables read
        r["ap"] = {k: v for k, v in r["auc"].items()}
        r["controls"] = {"untrained": {k: 0.5 for k in r["auc"]}, "pixel_norm": 0.6, "pixel_std": 0.5,
                         "pixel_mean": 0.45}
    (root / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "tables.csv").write_text(render_csv(rows, {rows[0]["cell"]: "other scoring rules"}))
    took: dict[str, list[float]] = {"score_views_s": [], "results_jsonl_s": [], "tables_csv_s": []}
    for _ in range(repeats):
        t = time.perf_counter()
        study.score_views(root, ["L_r"])
        took["score_views_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        read = read_rows(root / "results.jsonl", warn=False)
        took["results_jsonl_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        study.computed_otherwise_in_tables(root, read)
        took["tables_csv_s"].append(time.perf_counter() - t)
    return {"cells": len(rows), "tables_csv_bytes": (root / "tables.csv").stat().st_size,
            **{k: round(statistics.median(v), 4) for k, v in took.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, default=50)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--score-views", action="store_true", help="time study.score_views instead (see above)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = make_study(root, a.groups, a.n_test)
        if a.score_views:
            print(json.dumps(time_score_views(root, rows, a.repeats)))
            return
        t = time.perf_counter()
        kept = study.method_comparisons(root, rows, [])
        first = time.perf_counter() - t
        # as comparisons.jsonl keeps them between writes (JSON: tuples become lists)
        kept = [json.loads(json.dumps(c)) for c in kept]
        again = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            out = study.method_comparisons(root, rows, kept)
            again.append(time.perf_counter() - t)
            kept = [json.loads(json.dumps(c)) for c in out]
        not_compared = sum(bool(c.get("not_compared")) for c in kept)
        print(json.dumps({"groups": a.groups, "cells": len(rows), "n_test": a.n_test, "pairs": len(kept),
                          "not_compared": not_compared, "first_write_s": round(first, 3),
                          "later_write_s_median": round(statistics.median(again), 4),
                          "later_write_s_all": [round(v, 4) for v in again]}))


if __name__ == "__main__":
    main()
