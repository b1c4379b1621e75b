"""The commands a report's page names (`wildgan report RUN ...`, `wildgan score RUN ... --threshold ...`, and the
Python calls of the same) carry the report's own options: its --score, --batch-mode, --skip-bad and its named images
(as FILES). A user pastes them to reproduce the page or to flag the images it shows; a command missing one of those
options silently gives the thresholds, percentiles or flags of another score, or stops at a training file the report
had left out.

A report without a threshold to say its record pixels by (no cached training scores) advises the command that caches
them for its own score and batch mode: `wildgan score RUN --batch-mode isolated --threshold contamination` for an
isolated report, beside the resume that caches the mixed protocol's; followed, the report has its threshold."""

from __future__ import annotations

import re
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from other_decoders import decode_a_level_up
from PIL import Image

from wildgan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def _page_commands(md: str) -> list[list[str]]:
    """Every `wildgan report|score RUN ...` command the page names (to paste, with the run for RUN), as the words a
    shell would pass; not a mention of an option such as the header's `wildgan score --batch-mode isolated`."""
    return [shlex.split(c) for c in re.findall(r"`(wildgan (?:report|score) RUN\b[^`]*)`", md)]


def _pasted(command: list[str], run: Path, files: list[str]) -> list[str]:
    """A page's command as its reader pastes it: the run for RUN, the named files for FILES."""
    out: list[str] = []
    for w in command[1:]:
        out.extend([str(run)] if w == "RUN" else files if w == "FILES" else [w])
    return out


@pytest.mark.parametrize("names_images, cli, args, kw, said", [
    # (outside a report's writing, _NAMES_IMAGES is unset: a report without images names none)
    pytest.param(False, False, ("isolated",), {"score": "L_n"},
                 "report(RUN, skip_bad=True, score='L_n', batch_mode='isolated')", id="python-isolated"),
    pytest.param(False, False, ("mixed",), {}, "report(RUN, skip_bad=True)", id="python-mixed"),
    pytest.param(False, True, ("isolated",), {"score": "L_n"},
                 "wildgan report RUN --skip-bad --score L_n --batch-mode isolated", id="cli-isolated"),
    pytest.param(False, True, ("mixed", Path("/r uns/a")), {"score": "A"},
                 "wildgan report '/r uns/a' --skip-bad --score A", id="cli-run-named"),
    pytest.param(False, True, ("mixed",), {}, "wildgan report RUN --skip-bad", id="cli-mixed"),
    # a report that named images names them as FILES
    pytest.param(True, False, ("isolated",), {"score": "L_n"},
                 "report(RUN, skip_bad=True, score='L_n', batch_mode='isolated', images=FILES)", id="python-images"),
    pytest.param(True, True, ("mixed",), {"score": "A"}, "wildgan report RUN --skip-bad --score A --image FILES",
                 id="cli-images"),
])
def test_the_report_that_reads_skip_bad_scores_is_named_with_the_reports_score_and_images(
        names_images: bool, cli: bool, args: tuple, kw: dict, said: str) -> None:
    """The report that reads training scores cached with skip_bad, as the page names it: with the report's score
    and batch mode, its named images (as FILES) only where the report named some, as a command or a Python call."""
    from contextlib import nullcontext

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.evaluation.report import _NAMES_IMAGES, _skip_bad_report_command

    token = _NAMES_IMAGES.set(True) if names_images else None
    try:
        with skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext():
            assert _skip_bad_report_command(*args, **kw) == said
    finally:
        if token is not None:
            _NAMES_IMAGES.reset(token)


def test_the_commands_of_a_skip_bad_reports_page_carry_skip_bad(pile_run_gone_bad, tmp_path, capsys) -> None:
    """A report with --skip-bad (a training file unreadable since training) names `wildgan score RUN ... --threshold`
    commands that carry the report's options: --score, --batch-mode isolated and --skip-bad; without --skip-bad,
    pasted, they would stop at the file the report had left out."""
    run, _, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    opts = ["--score", "L_n", "--batch-mode", "isolated", "--skip-bad"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["report", str(run), *opts, "--image", str(q), "--device", "cpu", "--top-k", "1",
                     "--no-controls", "--no-progress", "--threads", "1"]) == 0
    capsys.readouterr()
    commands = _page_commands((run / "report" / "report.md").read_text())
    assert any("--threshold" in c for c in commands), commands
    for c in commands:
        assert c[c.index("--score") + 1] == "L_n" and c[c.index("--batch-mode") + 1] == "isolated", c
        assert "--skip-bad" in c, c
    # pasted, the command that flags the named image gives the page's threshold (without --skip-bad it would stop at
    # the training file the report left out)
    import csv
    import re

    named = next(c for c in commands if "FILES" in c and c[-1] == "contamination")
    md = (run / "report" / "report.md").read_text()
    shown = float(re.search(r"flagged: L_n above (\S+), the Threshold section's first rule", md).group(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*named[1:2], str(run), *[str(q) if w == "FILES" else w for w in named[3:]], "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
    row = next(csv.DictReader((tmp_path / "s.csv").open()))
    assert float(f"{float(row['threshold']):.6g}") == shown, (row, shown)


def test_the_skip_bad_report_a_page_names_reports_its_named_images(pile_run_gone_bad, tmp_path, capsys) -> None:
    """The `wildgan report RUN --skip-bad --score L_n` a report's page names (its training scores cached by a scoring
    with --skip-bad) carries the report's --score, as the page's other commands do, and keeps its --image, naming the
    images as FILES as the page's score commands do: pasted, it shows the thresholds and percentiles of the page's
    score, not of another, and does not report without the named images (no section of them, no percentiles or
    flags)."""
    run, _, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    tail = ["--device", "cpu", "--top-k", "1", "--no-controls", "--no-progress", "--threads", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (caches the training scores without the file truncated since training)
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
        # without --skip-bad: the pile is not read again, the cache is named but not read
        assert main(["report", str(run), "--score", "L_n", "--image", str(q), *tail]) == 0
    capsys.readouterr()
    md = (run / "report" / "report.md").read_text()
    commands = _page_commands(md)
    reports = [c for c in commands if c[1] == "report"]
    assert reports, md
    for c in reports:
        assert "--skip-bad" in c and c[c.index("--score") + 1] == "L_n" and c[c.index("--image") + 1] == "FILES", c
    for c in commands:                                  # (the page's score commands too)
        assert "--score" in c and c[c.index("--score") + 1] == "L_n", c
    # pasted as it is (FILES: the named file), it reproduces the page, with the named images, and its threshold
    (run / "report" / "named_images.csv").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*_pasted(reports[0], run, [str(q)]), *tail]) == 0
    md = (run / "report" / "report.md").read_text()
    assert "## Named images" in md and (run / "report" / "named_images.csv").is_file(), md
    assert "threshold on L_n" in md and "No threshold" not in md, md


def test_the_record_pixels_advice_of_a_search_run_carries_the_reports_score(tmp_path, tiny_npz, capsys) -> None:
    """A latent-search run whose training images decode otherwise since training: the page and the warning of
    `report RUN --score L_r` advise `wildgan score RUN --score L_r --threshold contamination` to search and cache the
    training scores, with the --score the page's other commands carry, so that the command's threshold is of the
    page's score, not of another."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--method", "search", "--out",
                 str(run)]) == 0
    decode_a_level_up(tiny_npz, run)
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda m, *_a, **_k: print(f"wildgan: warning: {m}", file=sys.stderr)
        assert main(["report", str(run), "--score", "L_r", "--top-k", "2", "--threads", "1", "--no-progress",
                     "--tsne-points", "5", "--no-controls"]) == 0
    err = capsys.readouterr().err
    (said,) = [ln for ln in err.splitlines() if "changed since" in ln]
    assert f"`wildgan score {run} --score L_r --threshold contamination --out scores.csv` then searches them" in \
        said, said
    page = (run / "report" / "report.md").read_text()
    assert "`wildgan score RUN --score L_r --threshold contamination --out scores.csv` then searches them" in page, \
        page
    for c in _page_commands(page):
        assert c[c.index("--score") + 1] == "L_r", c


def test_record_pixels_advice_of_an_isolated_report_names_the_isolated_scoring() -> None:
    # train --resume --train-scores caches the mixed protocol's training scores only, so the advice for an isolated
    # report names the isolated scoring too (an isolated report would still have no threshold after the resume)
    from wildgan.evaluation.report import _record_pixels_advice

    said = _record_pixels_advice("RUN", "wildgan", " --batch-mode isolated")
    assert "`wildgan train --out RUN --resume --train-scores`" in said
    assert "`wildgan score RUN --batch-mode isolated --threshold contamination --out scores.csv`" in said, said
    assert "--batch-mode" not in _record_pixels_advice("RUN", "wildgan", "")
    # (f-AnoGAN has one protocol: the resume's cache serves an isolated report too)
    assert "wildgan score" not in _record_pixels_advice("RUN", "fanogan", " --batch-mode isolated")


def test_the_isolated_report_s_record_pixels_advice_followed_gives_it_a_threshold(
        tmp_path: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan report RUN --batch-mode isolated` of a run without cached training scores has no threshold to say
    its record pixels by: its warning names the isolated scoring beside the resume, and once both are followed the
    isolated report has its threshold."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    decode_a_level_up(tiny_npz, run)
    report = ["report", str(run), "--batch-mode", "isolated", "--top-k", "2", "--threads", "1", "--no-progress",
              "--tsne-points", "5", "--no-controls"]

    def said() -> list[str]:
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda m, *_a, **_k: print(f"wildgan: warning: {m}", file=sys.stderr)
            assert main(report) == 0
        return [ln for ln in capsys.readouterr().err.splitlines() if "changed since" in ln]

    (first,) = said()
    score = f"`wildgan score {run} --batch-mode isolated --threshold contamination --out scores.csv`"
    assert score in first and f"`wildgan train --out {run} --resume --train-scores`" in first, first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--out", str(run), "--resume", "--train-scores", "--no-progress"]) == 0
        assert main([w if w != "scores.csv" else str(tmp_path / "scores.csv") for w in score.strip("`").split()[1:]]) \
            == 0
    assert said() == []                              # (the advice followed: the isolated report has its threshold)
    assert "taken from the 20 training images' scores" in (run / "report" / "report.md").read_text()
