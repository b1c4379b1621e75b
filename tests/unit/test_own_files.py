"""A file written for the user never replaces a run's or a study's own file, nor lands in a folder wildgan rewrites:
`wildgan score/export --out` refused that, but export_onnx(run, run / "config.json"), write_scores_csv or
heatmap_panel over RUN/config.json destroyed the run without a word. One rule (training.run.refuse_a_run_or_study_file)
for the CLI and each API writer, asked before anything is written, so that every file is left byte-identical
(Detector.save's own test is in test_detector.py, beside its `det` fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildgan import checkpoint as ckpt
from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, to_dict, write_run_config
from wildgan.errors import ConfigError
from wildgan.nets import build_pgan
from wildgan.training.run import RUN_OUTPUTS, STUDY_FILES, refuse_a_run_or_study_file


def _run(folder: Path) -> Path:
    """A run folder with its config, split record, final networks and a test_scores.csv (untrained networks: only
    the files matter here)."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig())
    folder.mkdir(parents=True)
    write_run_config(cfg, folder)
    (folder / "split.json").write_text("{}")
    ckpt.save_checkpoint(folder, "network-final", ckpt.networks_to_tensors(build_pgan(cfg.net, 0).modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(cfg.net), "nimg": 0, "kimg": 0.0, "lod": 0.0})
    (folder / "test_scores.csv").write_text("id,a\nx,1\n")
    for sub in ("report", "checkpoints", "eval-other"):
        (folder / sub).mkdir()
    (folder / "report" / "report.html").write_text("<p>the report</p>")
    (folder / "eval-other" / "eval.json").write_text("{}")
    return folder


def _study(folder: Path) -> Path:
    """A study folder as `wildgan study` leaves it (is_study_dir: runs/ and results.jsonl), with its report."""
    (folder / "runs").mkdir(parents=True)
    for name in ("results.jsonl", "tables.md", "comparisons.csv", "auc_vs_gamma-normal-3.png"):
        (folder / name).write_text(f"{name} of the study\n")
    (folder / "report").mkdir()
    (folder / "report" / "report.html").write_text("<p>the study's report</p>")
    return folder


@pytest.fixture
def run_and_study(tmp_path: Path) -> tuple[Path, Path]:
    return _run(tmp_path / "run"), _study(tmp_path / "study")


def _contents(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


def _own_paths(run: Path, study: Path) -> list[tuple[Path, str]]:
    """(a path the rule refuses, what its message says) of every kind."""
    return [(run / "config.json", f"is a file of the run {run}, which wildgan writes and reads"),
            (run / "network-final.safetensors", f"is a file of the run {run}"),
            (run / "split.json", f"is a file of the run {run}"),
            (run / "test_scores.csv", f"is a file of the run {run}"),
            (run / "train_scores.json", f"is a file of the run {run}"),           # not there yet: written later
            (run / "eval-other" / "eval.json", f"is a file of the run {run}"),
            (run / "report" / "report.html", f"is inside the run {run.resolve()}, in its report/ folder"),
            (run / "checkpoints" / "x.csv", f"is inside the run {run.resolve()}, in its checkpoints/ folder"),
            (study / "results.jsonl", f"is a file of the study {study}, which wildgan writes and reads"),
            (study / "comparisons.csv", f"is a file of the study {study}"),
            (study / "auc_vs_gamma-normal-3.png", f"is a file of the study {study}"),
            (study / "report" / "report.html", f"is inside the study {study.resolve()}, in its report/ folder")]


def test_the_rule_refuses_each_kind_of_own_file_and_nothing_else(run_and_study, tmp_path) -> None:
    run, study = run_and_study
    for path, said in _own_paths(run, study):
        with pytest.raises(ConfigError, match="give (another name|a file outside it), e.g. ") as got:
            refuse_a_run_or_study_file(path, "x.csv", label="the output")
        assert str(got.value).startswith(f"the output {path} {said}"), str(got.value)
    # a link to a run's file is written through: its target is what would be replaced
    (tmp_path / "link.json").symlink_to(run / "config.json")
    with pytest.raises(ConfigError, match=rf"the output {tmp_path / 'link.json'} \(which leads to "
                                          rf"{run / 'config.json'}\) is a file of the run {run}"):
        refuse_a_run_or_study_file(tmp_path / "link.json", "x.csv", label="the output")
    # names of the user's own, beside or outside them, are free; a study's file name outside a study too
    for free in (run / "scores.csv", run / "eval-other" / "mine.csv", study / "scores.csv", study / "runs.csv",
                 tmp_path / "config.json", tmp_path / "results.jsonl", tmp_path / "report" / "x.csv"):
        refuse_a_run_or_study_file(free, "x.csv")
    # what the CLI's --out always refused is still in the lists
    assert {"config.json", "split.json", "network-final.safetensors", "test_scores.csv"} <= set(RUN_OUTPUTS)
    assert {"results.jsonl", "tables.md", "tables.csv", "log.txt", "auc_vs_gamma.png"} <= set(STUDY_FILES)


def test_the_studys_comparisons_files_are_among_its_own() -> None:
    # (written by write_tables beside tables.md: a --out comparisons.jsonl replaced the study's comparisons)
    from wildgan.studies.study import COMPARISONS

    assert COMPARISONS in STUDY_FILES and "comparisons.csv" in STUDY_FILES


def test_write_scores_csv_refuses_a_run_or_study_file(run_and_study) -> None:
    from wildgan.scoring.run import write_scores_csv

    run, study = run_and_study
    before = _contents(run, study)
    scores = {"a": np.array([0.5, 1.5])}
    for path, said in _own_paths(run, study):
        with pytest.raises(ConfigError, match="e.g. ") as got:
            write_scores_csv(path, ["p", "q"], scores)
        assert str(got.value).startswith(f"write_scores_csv's path {path} {said}")
    assert _contents(run, study) == before
    write_scores_csv(run / "scores.csv", ["p", "q"], scores)                  # a name of its own: written
    assert (run / "scores.csv").read_text() == "id,a\np,0.5\nq,1.5\n"


def test_export_onnx_refuses_a_run_or_study_file_before_any_work(run_and_study, monkeypatch) -> None:
    import wildgan.export as export

    run, study = run_and_study
    before = _contents(run, study)

    def traced(*args, **kwargs):
        raise AssertionError("the graph was built before the path was refused")

    monkeypatch.setattr(export, "scoring_graph", traced)
    for path, said in _own_paths(run, study):
        with pytest.raises(ConfigError, match=r"e\.g\. .*model\.onnx") as got:
            export.export_onnx(run, path)
        assert str(got.value).startswith(f"export_onnx's path {path} {said}")
    assert _contents(run, study) == before


def test_heatmap_panel_refuses_a_run_or_study_file(run_and_study) -> None:
    from wildgan.evaluation.plots import heatmap_panel

    run, study = run_and_study
    before = _contents(run, study)
    image, heat = np.zeros((8, 8, 1), np.uint8), np.zeros((8, 8))
    for path, said in _own_paths(run, study):
        with pytest.raises(ConfigError, match=r"e\.g\. .*heatmap\.png") as got:
            heatmap_panel(path, image, heat)
        assert str(got.value).startswith(f"heatmap_panel's path {path} {said}")
    assert _contents(run, study) == before
    assert heatmap_panel(run / "worst.png", image, heat).is_file()
