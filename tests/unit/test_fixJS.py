"""fixJS: leftovers of the report's commands (the named images and the report's options carried by every command its
page names) and of the reading warnings repeated on a cache reuse."""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def _page_commands(md: str) -> list[list[str]]:
    """Every `wildgan report|score RUN ...` command the page names, as the words a shell would pass (as fixJP's)."""
    return [shlex.split(c) for c in re.findall(r"`(wildgan (?:report|score) RUN\b[^`]*)`", md)]


def _pasted(command: list[str], run: Path, files: list[str]) -> list[str]:
    """A page's command as its reader pastes it: the run for RUN, the named files for FILES."""
    out: list[str] = []
    for w in command[1:]:
        out.extend([str(run)] if w == "RUN" else files if w == "FILES" else [w])
    return out


def test_the_skip_bad_report_a_page_names_reports_its_named_images(pile_run_gone_bad, tmp_path, capsys) -> None:
    """The `wildgan report RUN --skip-bad --score L_n` a report's page names (its training scores cached by a scoring
    with --skip-bad) dropped the report's --image: pasted, it reported without the named images (no section of them,
    no percentiles or flags). It names them as FILES, as the page's score commands do."""
    run, _, _ = pile_run_gone_bad
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)
    tail = ["--device", "cpu", "--top-k", "1", "--no-controls", "--no-progress", "--threads", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(run), "--data", str(q), "--threshold", "mad", "--skip-bad", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
        assert main(["report", str(run), "--score", "L_n", "--image", str(q), *tail]) == 0
    capsys.readouterr()
    md = (run / "report" / "report.md").read_text()
    reports = [c for c in _page_commands(md) if c[1] == "report"]
    assert reports, md
    for c in reports:
        assert "--skip-bad" in c and c[c.index("--score") + 1] == "L_n" and c[c.index("--image") + 1] == "FILES", c
    # pasted as it is (FILES: the named file), it reproduces the page, with the named images, and its threshold
    (run / "report" / "named_images.csv").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*_pasted(reports[0], run, [str(q)]), *tail]) == 0
    md = (run / "report" / "report.md").read_text()
    assert "## Named images" in md and (run / "report" / "named_images.csv").is_file(), md
    assert "threshold on L_n" in md and "No threshold" not in md, md


def test_the_skip_bad_report_command_names_the_images_only_of_a_report_that_named_some() -> None:
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.evaluation.report import _NAMES_IMAGES, _skip_bad_report_command

    token = _NAMES_IMAGES.set(True)
    try:
        assert _skip_bad_report_command("isolated", score="L_n") == \
            "report(RUN, skip_bad=True, score='L_n', batch_mode='isolated', images=FILES)"
        with skip_bad_said_as(CLI_SKIP_BAD):
            assert _skip_bad_report_command("mixed", score="A") == \
                "wildgan report RUN --skip-bad --score A --image FILES"
    finally:
        _NAMES_IMAGES.reset(token)
    # (outside a report's writing: a report without images names none)
    with skip_bad_said_as(CLI_SKIP_BAD):
        assert _skip_bad_report_command("mixed") == "wildgan report RUN --skip-bad"
