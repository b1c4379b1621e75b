"""`wildgan info RUN` lists the files beside a saved evaluation's eval.json (RUN/eval.json, RUN/eval-*/eval.json)
that are not the ones it records (`files`: each side file's size and sha256): what an evaluation stopped among its
renames leaves, its new per-image files beside the earlier eval.json, whose readers would mix two evaluations. By
the report's rule (data.eval_files.unmatched_beside), with what to do: the `wildgan evaluate` command that writes
that evaluation's files anew, together. An eval.json without the record (an older wildgan's), and files that are
the recorded ones, give no such lines; `info` changes no file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wildgan.cli import main
from wildgan.data.eval_files import CONTROLS_CSV, EVAL_JSON, LATENTS_NPY, SCORES_CSV, SIDE_FILES_FIELD
from wildgan.errors import shell_word


def _run(folder: Path) -> Path:
    """A run folder: its config.json and split.json (a labelled .npz's own test split); no networks needed here."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config

    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02), preset="tiny")
    write_run_config(replace(cfg, method="wildgan"), folder)
    (folder / "split.json").write_text(json.dumps({"source": "data.npz", "protocol": "npz"}))
    return folder


def _evaluated(folder: Path, data: dict[str, Any] | None = None) -> None:
    """An evaluation's files in `folder` and the eval.json that records them."""
    folder.mkdir(exist_ok=True)
    files = {SCORES_CSV: b"id,label,a\nx:0,0,0.25\nx:1,1,0.75\n", CONTROLS_CSV: b"id,label,untrained_a\nx:0,0,1\n",
             LATENTS_NPY: b"\x93NUMPY latents"}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    record = {n: {"bytes": len(c), "sha256": hashlib.sha256(c).hexdigest()} for n, c in files.items()}
    (folder / EVAL_JSON).write_text(json.dumps({"auc": {"a": 1.0}, "data": data or {}, SIDE_FILES_FIELD: record}))


def _info(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    """`wildgan info RUN` and `--json`, checked to leave every file as it was."""
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    text = capsys.readouterr().out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before
    return text, got


def test_info_lists_side_files_not_those_their_eval_json_records(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path / "run")
    _evaluated(run)
    other = run / "eval-cells-normal-1"
    _evaluated(other, {"source": str(tmp_path / "cells.npz"), "normal_classes": ["1"]})
    text, got = _info(run, capsys)
    assert got["stale_evaluation_files"] == [] and "changed files beside" not in text, text
    # another evaluation's scores (one stopped among its renames) beside each eval.json, and its controls beside one
    (run / SCORES_CSV).write_bytes(b"id,label,a\nx:0,0,0.5\nx:1,1,0.75\n")
    (run / CONTROLS_CSV).write_bytes(b"id,label,untrained_a\nx:0,0,2\nx:1,1,3\n")
    (other / SCORES_CSV).write_bytes(b"id,label,a\nx:0,0,0.125\nx:1,1,0.75\n")
    text, got = _info(run, capsys)
    again = f"wildgan evaluate {shell_word(run)}"
    again_other = f"{again} --data {shell_word(tmp_path / 'cells.npz')} --normal 1"
    assert got["stale_evaluation_files"] == [
        {"eval_json": str(run / EVAL_JSON), "files": [str(run / SCORES_CSV), str(run / CONTROLS_CSV)],
         "what_to_do": f"run `{again}` again to write the evaluation's files anew, together"},
        {"eval_json": str(other / EVAL_JSON), "files": [str(other / SCORES_CSV)],
         "what_to_do": f"run `{again_other}` again to write the evaluation's files anew, together"}]
    lines = text.splitlines()
    at = lines.index(f"changed files beside a saved evaluation (they differ from what it wrote, by each one's size "
                     f"and sha256 in its {EVAL_JSON}: another evaluation, stopped while it renamed its files into "
                     f"place, left them there, or they were edited since; the report's AUCs are {EVAL_JSON}'s own, "
                     f"and no reader should join these to them):")
    assert lines[at + 1:] == [
        f"  {run / EVAL_JSON}: {SCORES_CSV} and {CONTROLS_CSV}",
        f"    run `{again}` again to write the evaluation's files anew, together",
        f"  {other / EVAL_JSON}: {SCORES_CSV}",
        f"    run `{again_other}` again to write the evaluation's files anew, together"], lines[at:]


def test_an_eval_json_without_the_record_and_side_files_absent_are_not_listed(tmp_path: Path, capsys) -> None:
    """An older wildgan's eval.json records no files: nothing to hold them to. A recorded file that is gone (deleted
    to save room) mixes nothing."""
    run = _run(tmp_path / "run")
    _evaluated(run)
    (run / LATENTS_NPY).unlink()
    text, got = _info(run, capsys)
    assert got["stale_evaluation_files"] == [] and "changed files beside" not in text, text
    ev = json.loads((run / EVAL_JSON).read_text())
    (run / EVAL_JSON).write_text(json.dumps({k: v for k, v in ev.items() if k != SIDE_FILES_FIELD}))
    (run / SCORES_CSV).write_bytes(b"id,label,a\nx:0,0,0.5\n")
    text, got = _info(run, capsys)
    assert got["stale_evaluation_files"] == [] and "changed files beside" not in text, text
