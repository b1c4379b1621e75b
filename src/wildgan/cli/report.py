"""`wildgan report`: the HTML + Markdown report of a run or a study."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError, WildganError
from .common import refuse_a_saved_detector, refuse_split_paths, show, use_threads, warn, write_stdout


def cmd_report(a: argparse.Namespace) -> int:
    from ..evaluation.report import check_report_args, report

    refuse_a_saved_detector(a.path, "report")
    scores = list(dict.fromkeys(a.score or []))
    study = not (Path(a.path) / "config.json").is_file() and (Path(a.path) / "results.jsonl").is_file()
    if len(scores) > 1 and not study:
        raise ConfigError(f"--score is given {len(scores)} times ({', '.join(scores)}); a run's report ranks its "
                          f"images by one score (several are for a study's figures)")
    refuse_split_paths(a.image, "--image")
    check_report_args(None if study or not scores else scores[0], a.top_k, a.tsne_points, a.image)
    if a.batch_mode != "mixed" and not study and (Path(a.path) / "config.json").is_file():
        from ..config import read_run_config

        try:
            method = read_run_config(Path(a.path)).method
        except WildganError:
            method = "wildgan"           # (a damaged config: the report's own reading names the problem)
        if method != "wildgan":
            # as score says it, and falls back: search and f-AnoGAN have one protocol (and one training-score cache)
            warn(f"warning: --batch-mode applies to wildgan runs (the encoder's minibatch stddev); this "
                 f"{method} run scores as it always does")
            a.batch_mode = "mixed"
    use_threads(a)
    views = []
    if study and scores:
        from ..studies.study import score_views

        # made and checked from the rows before anything is written (a score some method lacks is refused here)
        views = score_views(Path(a.path), scores)
    # (a labelled run's report reads its test split's labels again: a refusal of damaged ones names mending them, not
    # --dataset unlabelled, which report has not. An unlabelled run's pile is read without them, and not refused)
    from ..data.dataset_files import labels_needed_by

    # the file itself: report() reads it and names it in every complaint about the masks
    with labels_needed_by("report"):
        out = report(a.path, top_k_images=a.top_k, images=a.image, score=None if study or not scores else scores[0],
                     masks=a.masks, device=a.device, controls=not a.no_controls, tsne_points=a.tsne_points,
                     log=show, skip_bad=a.skip_bad, progress=not a.no_progress, study_views=views,
                     batch_mode=a.batch_mode)
    write_stdout(f"{out}\n")
    return 0
