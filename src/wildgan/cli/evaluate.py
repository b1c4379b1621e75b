"""`wildgan evaluate`: AUC/AP of every score on a run's test split (or other data), with controls."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import csv_list, refuse_a_saved_detector, use_threads, warn, write_stdout


def cmd_evaluate(a: argparse.Namespace) -> int:
    from ..data.dataset_files import labels_needed_by
    from ..evaluation.run import evaluate_run, format_table

    refuse_a_saved_detector(a.run_dir, "evaluate")
    use_threads(a)
    from ..errors import RUN_DEPTH16, depth16_said_as

    # (AUCs need every test image's label: a refusal of damaged labels, the run's data's or --data's, names mending
    # them, not --dataset unlabelled, which evaluate has not. The images are read by the run's own 16-bit rule, as
    # score reads them: a refusal of an image no rule reads names that setting, not --depth16, which evaluate has not)
    with labels_needed_by("evaluate"), depth16_said_as(RUN_DEPTH16):
        out = evaluate_run(Path(a.run_dir), a.data, device=a.device, controls=not a.no_controls,
                           progress=not a.no_progress, log=warn,
                           normal=tuple(csv_list(a.normal, str, "--normal")) if a.normal else None, whole=a.whole,
                           own_split=getattr(a, "own_split", None),     # (train --evaluate: the split it trained on)
                           skip_bad=a.skip_bad)
    written = out.get("written_to")
    if written and Path(written).parent != Path(a.run_dir):
        # the run's own evaluation (eval.json, test_scores.csv) stays as it was
        warn(f"evaluation on other data or normal classes written to {Path(written).parent} (the run's own "
             f"eval.json is kept)")
    if a.json:
        keep = ("auc", "ap", "auc_ci95", "auc_vs_controls", "controls", "controls_ap", "other_generator", "n_test",
                "n_anomalous", "mean_z_norm", "model", "by_class")
        write_stdout(json.dumps({k: out[k] for k in keep if k in out}) + "\n")
    else:
        table = format_table(out)
        write_stdout(table + "\n")
        # train --evaluate (the demo): the table, controls with it, into the run's log.txt too (not shown again),
        # where whoever closed the terminal looks for it; `wildgan evaluate` alone leaves log.txt to the training
        to_log = getattr(a, "table_to", None)
        if to_log is not None:
            for line in table.splitlines():
                to_log(line)
    return 0
