"""`wildgan export`: the scoring graph as ONNX, optionally with a threshold in its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import check_out_file, eprint, refuse_a_saved_detector
from .threshold_notes import contamination_note, take_fit_record, threshold_lines, warn_unused_threshold_options


def cmd_export(a: argparse.Namespace) -> int:
    from ..data.dataset_files import labels_needed_by
    from ..export import export_fit_param, export_onnx, onnx_metadata, onnx_threshold

    refuse_a_saved_detector(a.run_dir, "export")
    check_out_file(a.out, "model.onnx", suffixes=(".onnx",), what="an ONNX model", only=True)
    warn_unused_threshold_options(a, ("expected_contamination", "mad_k", "score", "device", "skip_bad"),
                                  "no threshold")
    a.fit_record = None
    if a.threshold:
        # export_onnx's own rule for a c (k) not given, run here for the threshold line's note
        take_fit_record(a, Path(a.run_dir), lambda rule: export_fit_param(a.run_dir, rule))
    # (--threshold reads the run's own data again for its training scores: a refusal of damaged labels names mending
    # them, and a class-folder tree's loose images are said to be left out, not --dataset unlabelled, which export
    # has not)
    with labels_needed_by("export"):
        path = export_onnx(Path(a.run_dir), Path(a.out), batch_size=a.batch_size, opset=a.opset,
                           input_type=a.input_type, include_A=not a.no_A, threshold=a.threshold,
                           # (only what the rule reads: the others were warned about above, in the options' words)
                           contamination=a.expected_contamination if a.threshold == "contamination" else None,
                           mad_k=a.mad_k if a.threshold == "mad" else None, score=a.score if a.threshold else None,
                           device=a.device,
                           progress=not a.no_progress, skip_bad=a.skip_bad,
                           param_from=None if a.fit_record is None else f"Detector.fit's record, {a.fit_record}")
    eprint(f"wrote {path} (ONNX opset {a.opset}, {a.input_type} input; each image is scored on its own, any batch "
           "size)")
    thr = onnx_threshold(path)
    if thr is None:
        # --batch-mode is a wildgan-run option: an f-AnoGAN graph scores like a plain `wildgan score` (eval mode)
        isolated = " --batch-mode isolated" if onnx_metadata(path).get("batch_mode") == "isolated" else ""
        eprint("no threshold in its metadata: --threshold contamination|mad records one from the run's training "
               f"split (else take it from `wildgan score RUN{isolated} --threshold RULE`, the graph's "
               "protocol)")
    else:
        alone = ", each image scored alone as the graph does" if thr.params.get("batch_mode") == "isolated" else ""
        from ..config import read_run_config
        from ..data.splits import rounded_contamination
        from ..scoring.run import read_split_info

        # (the share the run trained on where rounding made it other than γ, as score's line says it)
        note = contamination_note(a, float(read_run_config(Path(a.run_dir)).data.contamination), thr,
                                  rounded_contamination(read_split_info(Path(a.run_dir))))
        eprint(threshold_lines(f"threshold for output {thr.params['score']}: {thr.describe()} (chosen on the "
                               f"run's training split{alone}), in its metadata_props: threshold, threshold_rule, "
                               f"threshold_score, threshold_params" + (f"; {note}" if note else "")))
    return 0
