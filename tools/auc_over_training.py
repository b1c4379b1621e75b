"""AUC of every score, with the controls, at each saved checkpoint of a run: how stable a short run's number is.

usage: python tools/auc_over_training.py RUN_DIR [CHECKPOINT.json ...] [--out PREFIX]

Checkpoints default to RUN_DIR/checkpoints/ckpt-*.json (a run keeps only its newest three unless trained with
`wildgan train --keep-checkpoints all`) and RUN_DIR/network-final.json. Writes PREFIX.csv (one row per checkpoint:
kimg, lod, the AUC of every score, the untrained networks' a, the pixel controls, the mean ||E(Q)|| of normal and
anomalous test images and its effect size) and PREFIX.png (a against kimg beside its controls). The test split is the
run's own; nothing here chooses a checkpoint by its test AUC (that would be a test-set oracle): it only shows how much
the number moves.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

from wildgan import checkpoint as ckpt
from wildgan.evaluation.metrics import evaluate_scores
from wildgan.evaluation.run import evaluate_model, split_for_run
from wildgan.scoring.run import load_model

SCORES = ("a", "L_o", "L_n", "L_r", "A")


def effect_size(z: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(mean ||E(Q)|| normal, anomalous, Cohen's d with the pooled standard deviation)."""
    n, a = z[y == 0], z[y == 1]
    sp = math.sqrt(((len(n) - 1) * n.var(ddof=1) + (len(a) - 1) * a.var(ddof=1)) / (len(n) + len(a) - 2))
    return float(n.mean()), float(a.mean()), float((n.mean() - a.mean()) / sp)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("checkpoints", nargs="*")
    ap.add_argument("--out", help="output prefix (default RUN_DIR/auc_over_training)")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    run = Path(a.run_dir)
    paths = [Path(p) for p in a.checkpoints] or ckpt.list_checkpoints(run / "checkpoints")
    if not a.checkpoints and (run / "network-final.json").is_file():
        paths.append(run / "network-final.json")
    if not paths:
        print(f"{run}: no checkpoints to evaluate", file=sys.stderr)
        return 2
    split = split_for_run(run)
    y = split.test_y.astype(int)
    rows = []
    by_lod: dict[float, dict] = {}
    for p in paths:
        model = load_model(run, a.device, checkpoint=p)
        if model.lod not in by_lod:
            # the untrained networks (the run's seed) are scored at the checkpoint's level of detail, so they differ
            # between checkpoints taken while the networks grew: computed once per lod (the pixel statistics of the
            # test split are the same throughout)
            by_lod[model.lod] = evaluate_model(model, split, controls=True)["controls"]
        controls = by_lod[model.lod]
        res = model.score(split.test_x)                 # one scoring per checkpoint: AUCs and ||E(Q)|| from it
        auc = evaluate_scores({s: res.scores[s] for s in SCORES if s in res.scores}, y)["auc"]
        zn, za, d = effect_size(np.asarray(res.scores["z_norm"]), y) if "z_norm" in res.scores else (np.nan,) * 3
        rows.append({"checkpoint": p.name, "kimg": round(float(model.meta.get("kimg", np.nan)), 3),
                     "lod": round(model.lod, 4),
                     **{f"auc_{s}": round(auc[s], 4) for s in SCORES if s in auc},
                     "untrained_a": round(controls["untrained"].get("a", np.nan), 4),
                     "pixel_norm": round(controls["pixel_norm"], 4),
                     "pixel_std": round(controls["pixel_std"], 4),
                     "z_norm_normal": round(zn, 4), "z_norm_anomalous": round(za, 4), "effect_size": round(d, 3)})
        print(", ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
    rows.sort(key=lambda r: r["kimg"])
    prefix = Path(a.out) if a.out else run / "auc_over_training"
    # a prefix such as runs/x-g0.02-auc keeps its dot (with_suffix would make that x-g0.csv)
    csv_path, png_path = prefix.with_name(prefix.name + ".csv"), prefix.with_name(prefix.name + ".png")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    k = [r["kimg"] for r in rows]
    ax.plot(k, [r["auc_a"] for r in rows], "o-", label="a (trained)")
    ax.plot(k, [r["untrained_a"] for r in rows], "--", color="0.5", label="a, untrained networks")
    ax.plot(k, [r["pixel_norm"] for r in rows], ":", color="tab:red", label="-||Q|| (pixel norm)")
    ax.plot(k, [r["pixel_std"] for r in rows], ":", color="tab:purple", label="-std Q")
    ax.axhline(0.5, color="0.8", lw=0.8)
    ax.set_xlabel("kimg (thousands of training images shown)", fontsize=8)
    ax.set_ylabel("ROC AUC", fontsize=8)
    ax.set_title(f"{run.name}: AUC of a over training, with its controls", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    print(f"wrote {csv_path} and {png_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
