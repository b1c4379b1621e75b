"""The study report's list of run folders (evaluation.report._runs_section): every run of the study listed, and each
link, in report.html as in report.md, opening the run's own report whatever the folder's name holds; its result rows'
gammas; and the report folder itself: a PATH/report that is no folder refused before anything is scored."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from wildgan.errors import ConfigError
from wildgan.evaluation.report import report


def _row(cell: str) -> dict:
    auc = {"a": 0.7}
    return {"cell": cell, "run_dir": f"runs/{cell}", "normal": "0", "gamma": 0.0, "method": "wildgan",
            "encoder_loss": "image", "seed": 0, "auc": auc, "ap": auc, "controls": {"untrained": auc}}


def _cell_with_report(runs: Path, cell: str) -> Path:
    run = runs / cell
    (run / "report").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "report" / "report.html").write_text("<p>cell</p>")
    (run / "report" / "report.md").write_text("# cell\n")
    return run


@pytest.mark.parametrize("cell", ["C#1_g0_wildgan_image_s0", "5%41_g0_wildgan_image_s0", "why?_g0_wildgan_image_s0",
                                  "a b&c_g0_wildgan_image_s0"])
def test_each_runs_link_in_report_html_opens_its_report_whatever_the_folder_is_named(tmp_path: Path, cell) -> None:
    # a cell's folder holds its normal class, a user's folder name: in an href, `#` began a fragment (the link opened
    # runs/C), `?` a query and `%` an escape; report.md percent-encoded its targets, report.html did not
    study = tmp_path / "study"
    run = _cell_with_report(study / "runs", cell)
    (study / "results.jsonl").write_text(json.dumps(_row(cell)) + "\n")
    page = report(study).read_text(encoding="utf-8")
    (href,) = re.findall(r'<li><a href="([^"]*)">', page)
    # the target as a browser reads an href: entities first, then the URL's own escapes (`%41` read as `A`), with
    # no fragment and no query
    target = html.unescape(href)
    assert "#" not in target and "?" not in target, target
    assert (study / "report" / unquote(target)).resolve() == (run / "report" / "report.html").resolve()


@pytest.mark.parametrize("linked", ["runs", "cell"])
def test_the_runs_of_a_study_whose_runs_folder_is_a_link_are_listed_by_the_studys_paths(tmp_path: Path,
                                                                                        linked: str) -> None:
    # runs/ (or a cell's folder) kept on another disk and linked into the study, which `wildgan study` reads through:
    # the page's glob did not walk into the link, and its Runs section was left out without a word
    study, elsewhere = tmp_path / "study", tmp_path / "big disk" / "runs"
    study.mkdir()
    cells = ["c0", "c1"]
    for c in cells:
        _cell_with_report(elsewhere, c)
    if linked == "runs":
        (study / "runs").symlink_to(elsewhere, target_is_directory=True)
    else:
        (study / "runs").mkdir()
        for c in cells:
            (study / "runs" / c).symlink_to(elsewhere / c, target_is_directory=True)
    (study / "results.jsonl").write_text(json.dumps(_row("c0")) + "\n")
    page = report(study).read_text(encoding="utf-8")
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    items = [ln for ln in md.splitlines() if ln.startswith("- ")]
    # named as the study names them (runs/CELL, as its rows' run_dir), c0 with its row, c1 without one
    assert items == ["- [runs/c0](../runs/c0/report/report.md)",
                     "- [runs/c1](../runs/c1/report/report.md) (no result row: in no table)"], items
    assert re.findall(r'<li><a href="([^"]*)">', page) == ["../runs/c0/report/report.html",
                                                          "../runs/c1/report/report.html"]


def test_a_run_reached_through_a_linked_runs_folder_inside_the_study_is_listed_once(tmp_path: Path) -> None:
    # runs/ a link to a folder of the study's own (store/runs): the `**` glob found each run there, and runs/* found
    # it again through the link, so the page listed it twice, once as a run with no result row
    study = tmp_path / "study"
    for c in ("c0", "c1"):
        _cell_with_report(study / "store" / "runs", c)
    (study / "runs").symlink_to(study / "store" / "runs", target_is_directory=True)
    (study / "results.jsonl").write_text(json.dumps(_row("c0")) + "\n")
    report(study)
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    items = [ln for ln in md.splitlines() if ln.startswith("- ")]
    assert items == ["- [runs/c0](../runs/c0/report/report.md)",
                     "- [runs/c1](../runs/c1/report/report.md) (no result row: in no table)"], items


def test_the_result_rows_give_each_gamma_as_the_cells_name_does(tmp_path: Path) -> None:
    # the table's cells are 3 decimals, as an AUC is given: gamma 0.0015 read 0.002 beside its cell named g0.0015,
    # and alike with the study's other gamma 0.002
    study = tmp_path / "study"
    study.mkdir()
    rows = [{**_row(f"0_g{g:g}_wildgan_image_s0"), "gamma": g} for g in (0.0, 0.0015, 0.002, 0.0025)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report(study)
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    lines = md[md.index("## Result rows"):].splitlines()
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    body = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[4:8]]
    gammas = [r[header.index("gamma")] for r in body]
    assert gammas == ["0", "0.0015", "0.002", "0.0025"], gammas
    # each as its cell's name has it (the name escaped for Markdown: `\\_`)
    assert [r[header.index("cell")] for r in body] == [f"0\\_g{g}\\_wildgan\\_image\\_s0" for g in gammas]


def test_a_file_named_report_is_refused_before_a_study_report_is_made(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "results.jsonl").write_text(json.dumps(_row("c0")) + "\n")
    (study / "report").write_text("my notes")
    with pytest.raises(ConfigError, match=re.escape(f"{study / 'report'} is a file, not a folder")):
        report(study)
    assert (study / "report").read_text() == "my notes"
    assert sorted(p.name for p in study.iterdir()) == ["report", "results.jsonl"]      # no staging folder left


@pytest.mark.parametrize("blocker", ["file", "dangling link"])
def test_a_run_report_is_refused_before_any_scoring_where_report_is_no_folder(trained_run: Path, tmp_path: Path,
                                                                               monkeypatch, capsys, blocker) -> None:
    # the test split was scored (minutes on a real run), every figure drawn, and the report then lost at its end on
    # a bare `[Errno 17] File exists: 'RUN/report'`
    import shutil

    import wildgan.evaluation.report as report_module
    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    if blocker == "file":
        (run / "report").write_text("my notes")
    else:
        (run / "report").symlink_to(tmp_path / "gone", target_is_directory=True)
    scored = []

    def spy(*a, **k):
        scored.append(a)
        raise RuntimeError("scored")

    monkeypatch.setattr(report_module, "diagnose_run", spy)
    assert main(["report", str(run), "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'report'} is " in err and "move or rename" in err, err
    assert not scored


def test_a_run_report_with_scores_that_are_not_finite_says_why_its_aucs_are_nan(trained_run: Path, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    # networks that diverged on two test images (NaN scores): the Metrics table read nan in every row without a word,
    # the pixel tests 'pixel_norm - (p -), ...', and the top images' paragraph 'nan% of the spread of a'
    import shutil

    import numpy as np

    import wildgan.evaluation.report as report_module

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    load = report_module.load_model

    def diverged(*a, **k):
        model = load(*a, **k)
        score = model.score

        def nan_on_two(x, *aa, **kk):
            res = score(x, *aa, **kk)
            for key, v in res.scores.items():
                res.scores[key] = np.where(np.arange(len(v)) < 2, np.nan, v)
            return res

        model.score = nan_on_two
        return model

    monkeypatch.setattr(report_module, "load_model", diverged)
    # (the figures and curves, seconds of matplotlib, are no part of it)
    monkeypatch.setattr(report_module, "_figures_section", lambda *a, **k: None)
    monkeypatch.setattr(report_module, "_training_sections", lambda *a, **k: None)
    report(run, top_k_images=2, device="cpu", tsne_points=5)
    md = (run / "report" / "report.md").read_text(encoding="utf-8")
    metrics = md[md.index("## Metrics"):md.index("## Threshold")]
    assert "| a | nan |" in metrics
    assert ("**The scores of 2 of the 20 test images are not finite (NaN or infinite: the networks diverged on them), "
            "so the AUC, AP and interval of a, L_n, L_o, L_r, A are undefined (nan), not a result.") in metrics
    assert "(p -)" not in metrics and "paired the same way" not in metrics
    assert "nan%" not in md
    assert "Over the 18 of the 20 test images whose scores are finite, " in md


def test_a_study_reports_figures_of_classes_with_alike_file_names_are_each_their_own(tmp_path: Path) -> None:
    # 'a b' and 'a_b' were one file: the page showed the second class's curves twice, captioned 'normal a b' both times
    from PIL import Image

    study = tmp_path / "study"
    study.mkdir()
    rows = [{**_row(f"{n}_g{g:g}_wildgan_image_s0"), "normal": n, "gamma": g, "auc": {"a": top - g},
             "ap": {"a": top - g}} for n, top in (("a b", 0.9), ("a_b", 0.6)) for g in (0.0, 0.1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report(study)
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    figures = dict(re.findall(r"!\[AUC vs gamma, normal (.*?)\]\((.*?)\)", md))
    assert set(figures) == {"a b", "a\\_b"}, md
    first, second = (study / "report" / figures["a b"], study / "report" / figures["a\\_b"])
    assert first != second
    with Image.open(first) as a, Image.open(second) as b:         # two figures of other curves
        assert a.tobytes() != b.tobytes()


@pytest.mark.parametrize("options", [["--top-k", "20"], ["--no-controls"], ["--tsne-points", "50"], ["--skip-bad"],
                                     ["--top-k", "3", "--no-controls"]])
def test_a_run_reports_options_given_for_a_study_are_refused_not_ignored(tmp_path: Path, capsys, options) -> None:
    from wildgan.cli import main

    study = tmp_path / "study"
    study.mkdir()
    (study / "results.jsonl").write_text(json.dumps(_row("c0")) + "\n")
    assert main(["report", str(study), "--no-progress", *options]) == 2
    err = capsys.readouterr().err
    named = [o for o in options if o.startswith("--")]
    assert f"{', '.join(named)}: " in err and f"{study} is a study" in err, err
    assert not (study / "report").exists()
    # the defaults, and the options every command takes, are no refusal
    assert main(["report", str(study), "--no-progress", "--top-k", "8", "--device", "cpu"]) == 0


def test_a_python_callers_run_options_for_a_study_are_named_as_its_keywords(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "results.jsonl").write_text(json.dumps(_row("c0")) + "\n")
    with pytest.raises(ConfigError, match=r"^top_k_images=, controls=False: options of a run's report"):
        report(study, top_k_images=3, controls=False)
