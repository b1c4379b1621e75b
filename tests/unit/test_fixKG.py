"""fixKG (revGI's follow-ups): `wildgan info RUN` on a run its --minutes budget stopped said only "budget", with no
word of how to continue it (a plain --resume trains nothing more: the budget counts every session); and a class name
holding a line break or a pipe broke the console and Markdown per-class tables."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from test_newGK import png_pile
from wildgan.cli import main
from wildgan.evaluation.by_class import auc_by_class, by_class_lines, by_class_markdown
from wildgan.markdown import split_md_row


def _trained_min(final: Path) -> float:
    """The minutes of training the final networks record, rounded up as info says them."""
    return math.ceil(json.loads(final.read_text())["elapsed_s"] / 60 * 1000) / 1000


def test_info_of_a_run_its_budget_stopped_says_the_larger_minutes_that_continue_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pile, run = tmp_path / "pile", tmp_path / "run"
    png_pile(pile)
    common = ["--threads", "1", "--no-progress", "--out", str(run)]
    # a budget far under one round: the first round's end stops it
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.2", "--phase-kimg", "0.02",
                 "--checkpoint-kimg", "0.016", "--no-train-scores", "--minutes", "0.0001", *common]) == 0
    final = run / "network-final.json"
    assert json.loads(final.read_text())["status"] == "budget"
    spent = _trained_min(final)
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert (f"; its --minutes 0.0001 budget ran out ({spent:g} min trained over all its sessions, which the budget "
            f"counts: a plain --resume trains nothing more); continue it with `wildgan train --out {run} --resume "
            f"--minutes MINUTES`, MINUTES above {spent:g}, which trains for the difference\n") in out, out
    # what it says is so: a plain resume trains nothing, one with MINUTES above it trains on (to the total here)
    kimg = json.loads(final.read_text())["kimg"]
    assert main(["train", "--resume", *common]) == 0
    assert json.loads(final.read_text())["kimg"] == kimg
    assert main(["train", "--resume", "--minutes", f"{spent + 5:g}", *common]) == 0
    after = json.loads(final.read_text())
    assert after["kimg"] > kimg and after["status"] == "done", after
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    assert "budget ran out" not in capsys.readouterr().out


def test_info_of_an_f_anogan_run_its_budget_stopped_says_the_larger_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 255, (60, 32, 32), dtype=np.uint8), y=np.arange(60) % 2)
    run = tmp_path / "fa"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--normal", "0", "--device", "cpu", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--method", "fanogan", "--fanogan-iters", "100000",
                 "--fanogan-enc-iters", "100000", "--fanogan-dim", "8", "--checkpoint-kimg", "0.016",
                 "--minutes", "0.0001", "--out", str(run)]) == 0
    spent = _trained_min(run / "fanogan-final.json")
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert (f"encoder iterations (budget); networks in {run / 'fanogan-final.json'}; its --minutes 0.0001 budget ran "
            f"out ({spent:g} min trained over all its sessions, which the budget counts: a plain --resume trains "
            f"nothing more); continue it with `wildgan train --out {run} --resume --minutes MINUTES`, MINUTES above "
            f"{spent:g}") in out, out


def test_info_of_a_fit_on_arrays_its_budget_stopped_names_the_fit_with_larger_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.2, minutes=0.0001, run_dir=str(run), device="cpu").fit(x)
    spent = _trained_min(run / "network-final.json")
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "wildgan train" not in out, out
    assert (f"; its minutes=0.0001 budget ran out ({spent:g} min trained over all its sessions, which the budget "
            f"counts: a resume with the same minutes trains nothing more); continue it with Detector(..., "
            f"run_dir={str(run)!r}, minutes=MINUTES).fit(X, resume=True), MINUTES above {spent:g}, with the same "
            f"other parameters and X\n") in out, out
    # and that call trains on
    kimg = json.loads((run / "network-final.json").read_text())["kimg"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.2, minutes=spent + 5, run_dir=str(run), device="cpu").fit(x, resume=True)
    assert json.loads((run / "network-final.json").read_text())["kimg"] > kimg


def test_a_class_name_with_a_line_break_and_a_pipe_keeps_the_console_and_markdown_tables_whole() -> None:
    odd = "left|right\nnext"
    labels = np.array([0, 0, 1, 1, 1, 1])
    classes = ["n", "n", odd, odd, "y", "y"]
    t = auc_by_class(labels, classes, {"a": np.array([1.0, 2, 3, 4, 0, 0.5])}, "a")
    md = by_class_markdown(t, ["a"]).splitlines()
    # one line per row, and the row's cells where the header's are: the name escaped, read back as it shows
    assert len(md) == 2 + 2 + 1, md
    cells = split_md_row(md[2])
    assert len(cells) == len(split_md_row(md[0])) and cells[1:] == ["2", "1.000", "5.5 of 6", "0"], cells
    assert cells[0] == r"'left|right\\nnext'", cells       # (the backslash itself Markdown-escaped: it shows as \n)
    lines = by_class_lines(t, ["a"])
    assert len(lines) == 3, lines
    assert lines[1].split() == [r"'left|right\nnext'", "2", "1.000", "5.5"], lines
    # the columns still line up: the AUCs end where the header's column does
    assert lines[1].index("1.000") + 5 == lines[0].index(" a") + 2 == lines[2].index("0.000") + 5, lines
