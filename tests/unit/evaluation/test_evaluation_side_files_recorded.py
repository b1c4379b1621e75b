"""eval.json records each side file the evaluation wrote beside it (test_scores.csv, test_controls.csv,
auc_by_class.csv, test_latents.npy, test_search.npz: its size and sha256, `files`), and the readers that take both
check them by it. An evaluation killed among its renames (eval.json is renamed last) leaves its new side files beside
the earlier eval.json: the report showed that eval.json's AUCs as the evaluation whose per-image files lay beside
them, and tools/auc_by_class.py joined one evaluation's scores with another's controls. An eval.json without the
record (an older wildgan's) is not checked."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from search_caches import keep_search_cache

from wildgan import fileio
from wildgan.data.eval_files import (BY_CLASS_CSV, CONTROLS_CSV, EVAL_FILES, EVAL_JSON, LATENTS_NPY, SCORES_CSV,
                                     SEARCH_CACHE, SIDE_FILES_FIELD, unmatched_side_files)
from wildgan.evaluation.run import evaluate_run


class _Killed(BaseException):
    """A kill -9 between two renames, as far as the files are concerned: nothing after it runs."""


def _run(trained_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    return run


def _set_lam(run: Path, lam: float) -> float:
    """Set the run's score.lam (config.json), so that `a`, and the files that hold it, differ; returns the old."""
    cfg = json.loads((run / "config.json").read_text())
    was = cfg["score"]["lam"]
    cfg["score"]["lam"] = lam
    (run / "config.json").write_text(json.dumps(cfg))
    return was


def _killed_before_eval_json(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An evaluation with another score.lam, killed once its side files are renamed into place, before eval.json;
    the run's config as it was again (so that the eval.json there is of the run's settings)."""
    was = _set_lam(run, 0.5)
    real = fileio.os.replace

    def replace(src: str, dst: Any) -> None:
        if Path(dst).name == EVAL_JSON:
            raise _Killed()
        real(src, dst)

    monkeypatch.setattr(fileio.os, "replace", replace)
    with pytest.raises(_Killed):
        evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    monkeypatch.undo()
    _set_lam(run, was)


def test_eval_json_records_the_size_and_sha256_of_each_side_file_it_wrote(trained_run: Path, tmp_path: Path) -> None:
    run = _run(trained_run, tmp_path)
    out = evaluate_run(run, device="cpu", log=lambda m: None)
    ev = json.loads((run / EVAL_JSON).read_text())
    there = [name for name in EVAL_FILES[1:] if (run / name).is_file()]
    assert {SCORES_CSV, CONTROLS_CSV, BY_CLASS_CSV, LATENTS_NPY} <= set(there)
    assert ev[SIDE_FILES_FIELD] == {name: {"bytes": (run / name).stat().st_size,
                                           "sha256": hashlib.sha256((run / name).read_bytes()).hexdigest()}
                                    for name in there}
    assert out[SIDE_FILES_FIELD] == ev[SIDE_FILES_FIELD]
    assert unmatched_side_files(run, ev) == []
    # a file the evaluation did not write (a wildgan run's --no-controls keeps test_controls.csv for G's scores;
    # auc_by_class.csv goes for data without classes) is not in the record, and not there
    evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    ev = json.loads((run / EVAL_JSON).read_text())
    assert sorted(ev[SIDE_FILES_FIELD]) == sorted(name for name in EVAL_FILES[1:] if (run / name).is_file())
    assert unmatched_side_files(run, ev) == []


def test_side_files_of_an_evaluation_killed_among_its_renames_are_found_stale(trained_run: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(trained_run, tmp_path)
    evaluate_run(run, device="cpu", log=lambda m: None)
    ev = json.loads((run / EVAL_JSON).read_text())
    before = {name: (run / name).read_bytes() for name in EVAL_FILES if (run / name).is_file()}
    _killed_before_eval_json(run, monkeypatch)
    assert (run / EVAL_JSON).read_bytes() == before[EVAL_JSON]
    # what the killed evaluation changed: its scores of another lam (a), its controls without the untrained and pixel
    # columns; the same networks' latents are the same bytes, not stale
    changed = [name for name in EVAL_FILES[1:] if (run / name).is_file() and (run / name).read_bytes() != before[name]]
    assert SCORES_CSV in changed and CONTROLS_CSV in changed and LATENTS_NPY not in changed
    assert unmatched_side_files(run, ev) == changed
    assert unmatched_side_files(run, ev, (LATENTS_NPY,)) == []
    # a side file the eval.json does not record (written by another evaluation) is not its own either
    (run / SEARCH_CACHE).write_bytes(b"another evaluation's")
    assert unmatched_side_files(run, ev) == [*changed, SEARCH_CACHE]
    # an eval.json of an older wildgan, without the record: nothing to check by
    assert unmatched_side_files(run, {k: v for k, v in ev.items() if k != SIDE_FILES_FIELD}) == []


def test_the_report_says_which_file_beside_a_saved_evaluation_is_stale(trained_run: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The report of a run whose saved evaluation (eval.json) is of its networks showed its AUCs, and nothing told
    that the per-image files beside it were another evaluation's."""
    from wildgan.evaluation.report import _Page, _saved_evaluation
    from wildgan.scoring.run import load_model

    run = _run(trained_run, tmp_path)
    evaluate_run(run, device="cpu", log=lambda m: None)
    model = load_model(run, "cpu")
    page = _Page("t", run)
    _saved_evaluation(page, run, model)
    assert not any("from what this evaluation wrote" in part for part in page.md_parts), page.md_parts
    _killed_before_eval_json(run, monkeypatch)
    page = _Page("t", run)
    _saved_evaluation(page, run, model)
    md = "".join(page.md_parts)
    assert "AUC a " in md                      # eval.json's own numbers, of these networks, still shown
    note = [part for part in page.md_parts if "from what this evaluation wrote" in part]
    assert note == [f"**{SCORES_CSV}, {CONTROLS_CSV} and {BY_CLASS_CSV} beside eval.json differ from what this "
                    f"evaluation wrote (eval.json records each one's size and sha256): another evaluation, stopped "
                    f"while it renamed its files into place, left them there, or they were edited since. The AUCs "
                    f"above are eval.json's own; run `wildgan evaluate {run.resolve()}` again to write the "
                    f"evaluation's files anew, together.**\n"], note


def test_a_search_cache_that_is_not_the_one_eval_json_records_is_searched_again(tmp_path: Path) -> None:
    """The report rescores the latents an evaluation of a search run kept (test_search.npz): one written by another
    evaluation than the eval.json beside it is said stale, and not used."""
    import numpy as np

    from wildgan.config import ScoreConfig, SearchConfig
    from wildgan.evaluation.run import read_search_cache
    from wildgan.scoring.latent_search import search_info

    search, score = SearchConfig(), ScoreConfig()
    info = search_info(search, score.lam, score.kappa, 0.0, score.generator)
    ids, z, a = ["a", "b", "c"], np.ones((3, 4), np.float32), np.arange(3.0)
    keep_search_cache(tmp_path, ids, info, {"z": z, "a": a})
    cache = (tmp_path / SEARCH_CACHE).read_bytes()
    record = {"bytes": len(cache), "sha256": hashlib.sha256(cache).hexdigest()}
    (tmp_path / EVAL_JSON).write_text(json.dumps({SIDE_FILES_FIELD: {SEARCH_CACHE: record}}))
    got, why = read_search_cache(tmp_path, ids, info, 4)
    assert got is not None and why == "", why
    keep_search_cache(tmp_path, ids, info, {"z": z * 2, "a": a})      # another evaluation's latents
    got, why = read_search_cache(tmp_path, ids, info, 4)
    assert got is None
    assert why == (f"{tmp_path / SEARCH_CACHE} differs from what the evaluation of the {EVAL_JSON} beside it wrote "
                   f"(by the size and sha256 it records): another evaluation, stopped while it renamed its files "
                   f"into place, left it there, or it was edited since; `wildgan evaluate` writes both anew"), why
    # an eval.json without the record (an older wildgan's): the cache is read as before
    (tmp_path / EVAL_JSON).write_text(json.dumps({"auc": {}}))
    assert read_search_cache(tmp_path, ids, info, 4)[0] is not None
