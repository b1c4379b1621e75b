"""AUC of each score per anomalous class, and where each class ranks: which anomalies a score calls normal.

usage: python tools/auc_by_class.py RUN_DIR [--data FILE.npz] [--scores a,L_r,...] [--out FILE.md]

`wildgan evaluate` keeps this table itself (eval.json's by_class, EVAL_DIR/auc_by_class.csv), computed by
wildgan.evaluation.by_class from the `class` column of RUN_DIR/test_scores.csv. This tool prints it as Markdown for any
columns of test_scores.csv and test_controls.csv beside it (the untrained networks' and the pixel controls'): per
anomalous class, how many test images, the AUC of every score against all the test normals, and, under the first
score, the median rank of the class and how many of it lie among the tenth of the test images that score ranks most
normal (rank 1 = most normal: the lowest score). It is how an AUC below 0.5 is traced to the class behind it, e.g. the
red-blood-cell elliptocytes (photographed on another background) that a short run's `a` ranked as the most normal
images of all (README, "Which score after a short training").

A run evaluated before test_scores.csv had its `class` column: each image's class is found in the labelled .npz the
run was trained on (its ids are NAME:PART:INDEX, PART 'all' for the arrays x/y, 'train' or 'test' for x_train/y_train
or x_test/y_test). RUN_DIR may also be an evaluation's folder on other data (RUN_DIR/eval-*/). --data defaults to the
data file the evaluation scored (eval.json's source; else the run's own, split.json's); only .npz data sets with
labels are read that way.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from wildgan.data.eval_files import (CONTROLS_CSV, EVAL_JSON, SCORES_CSV, evaluation_run, names_text,
                                     unmatched_beside, unmatched_why)
from wildgan.evaluation.by_class import auc_by_class, by_class_markdown

DEFAULT_SCORES = ("a", "L_o", "L_n", "L_r", "A", "untrained_a", "pixel_norm")
# read_npz's id parts (NAME:PART:INDEX) -> the label array of that part
LABEL_KEYS = {"all": "y", "train": "y_train", "test": "y_test"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def class_of_ids(ids: list[str], npz: Path) -> tuple[np.ndarray, list[str]]:
    """Each id's integer class in `npz` and the class names (the file's class_names, else the labels as text)."""
    with np.load(npz, allow_pickle=False) as d:
        arrays = {k: d[k] for k in d.files}
    out = np.empty(len(ids), np.int64)
    for i, image_id in enumerate(ids):
        # from the right: the file's name may hold a colon
        parts = image_id.rsplit(":", 2)
        key = LABEL_KEYS.get(parts[1]) if len(parts) == 3 else None
        if key is None or key not in arrays or not parts[2].isdigit() or int(parts[2]) >= len(arrays[key]):
            raise SystemExit(f"{npz}: has no label for test image {image_id!r} (ids NAME:PART:INDEX of an .npz with "
                             f"{', '.join(sorted(set(LABEL_KEYS.values())))}); give the run's own data file with "
                             f"--data")
        out[i] = int(arrays[key][int(parts[2])])
    names = ([str(n) for n in arrays["class_names"]] if "class_names" in arrays
             else [str(c) for c in range(int(out.max()) + 1)])
    return out, names


def refuse_mixed_files(folder: Path) -> None:
    """SystemExit when test_scores.csv or test_controls.csv in `folder` is not the file the eval.json beside it
    records (its sha256 and size: data.eval_files.unmatched_side_files): an evaluation stopped while it renamed its
    files into place left one evaluation's files beside another's, or one was edited, whose rows this tool would
    join by id into one table. An eval.json without that record (an older wildgan's), or none, is not checked."""
    mixed = unmatched_beside(folder, (SCORES_CSV, CONTROLS_CSV))
    if mixed:
        from wildgan.training.run import evaluate_command     # (torch's import: only on the way out)

        one = len(mixed) == 1
        # (the run of the folder given, where it lies now: eval.json's run_dir is the path the evaluation was given)
        try:
            ev = json.loads((folder / EVAL_JSON).read_text(encoding="utf-8"))    # (its --data and --normal)
        except (OSError, ValueError):
            ev = {}                      # (replaced meanwhile, unreadable: the plain command)
        again = evaluate_command(evaluation_run(folder), folder / EVAL_JSON, ev)
        raise SystemExit(f"{folder}: {names_text(mixed)} {'differs' if one else 'differ'} from what the "
                         f"evaluation of its {EVAL_JSON} wrote (by the size and sha256 it records): "
                         f"{unmatched_why(len(mixed))}; run `{again}` again to write them anew, together")


def by_class(run: Path, npz: Path | None, scores: tuple[str, ...]) -> str:
    """The Markdown table of the module docstring; npz: where the classes are, for a test_scores.csv without them."""
    refuse_mixed_files(run)
    rows = read_csv(run / SCORES_CSV)
    beside = run / CONTROLS_CSV
    if beside.is_file():
        extra = {r["id"]: r for r in read_csv(beside)}
        rows = [{**extra.get(r["id"], {}), **r} for r in rows]
    have = [s for s in scores if rows and s in rows[0]]
    if not have:
        raise SystemExit(f"{run / SCORES_CSV}: none of the scores {', '.join(scores)}; its columns: "
                         f"{', '.join(rows[0]) if rows else '(no rows: evaluate the run first)'}")
    if "class" in rows[0]:
        classes, names = [r["class"] for r in rows], None
    else:
        if npz is None:
            raise SystemExit(f"{run / SCORES_CSV}: no class column (evaluated by an earlier wildgan); give the "
                             f"run's labelled .npz with --data, or run `wildgan evaluate {run}` again")
        cls, names = class_of_ids([r["id"] for r in rows], npz)
        classes = [names[c] if c < len(names) else str(c) for c in cls]
    label = np.array([int(r["label"]) for r in rows])
    table = auc_by_class(label, classes, {k: np.array([float(r[k]) for r in rows]) for k in have}, have[0],
                         order=names)
    return by_class_markdown(table, have)


def evaluated_data(folder: Path) -> Path:
    """The data file whose test images `folder`'s test_scores.csv scored: its eval.json's data source, else (an
    evaluation written before eval.json recorded it) the run's own, split.json's. An evaluation on other data or
    another normal class writes its CSV in RUN/eval-*/, which has no split.json: reading that one alone failed there
    with a bare FileNotFoundError, and would name the run's own data for another data set's images."""
    for name, source in ((EVAL_JSON, lambda d: (d.get("data") or {}).get("source")),
                         ("split.json", lambda d: d.get("source"))):
        try:
            found = source(json.loads((folder / name).read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            continue
        if found:
            return Path(found)
    raise SystemExit(f"{folder}: neither its eval.json nor a split.json says which data file its test_scores.csv "
                     f"scored; give the labelled .npz with --data")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--data", type=Path, help="the labelled .npz (default: the one eval.json names, else the run's "
                   "own, from split.json)")
    p.add_argument("--scores", default=",".join(DEFAULT_SCORES),
                   help="comma-separated columns of test_scores.csv / test_controls.csv; the first one ranks")
    p.add_argument("--out", type=Path, help="also write the table here")
    a = p.parse_args(argv)
    if not (a.run_dir / SCORES_CSV).is_file():
        raise SystemExit(f"{a.run_dir}: no {SCORES_CSV}; run `wildgan evaluate {a.run_dir}` first")
    npz = a.data
    with open(a.run_dir / SCORES_CSV, newline="", encoding="utf-8") as f:
        classes_kept = "class" in next(csv.reader(f), [])
    if npz is None and not classes_kept:
        npz = evaluated_data(a.run_dir)
    if npz is not None and (npz.suffix != ".npz" or not npz.is_file()):
        raise SystemExit(f"{npz}: not a labelled .npz file; give the run's data file with --data")
    table = by_class(a.run_dir, npz, tuple(x.strip() for x in a.scores.split(",") if x.strip()))
    print(table)
    if a.out:
        a.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
