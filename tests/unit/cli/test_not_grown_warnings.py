"""A training whose --total-kimg ends before the networks grow to full resolution is scored at a lower resolution
than the user asked for. The user is warned where they can still act: a --dry-run says it before any training (by
the same rule, and with the same numbers, as the warning at the training's end), and the end-of-training warning
gives the whole command to paste that continues the run, its folder quoted for the shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from png_piles import gray_png_pile
from wildgan.cli import main


def _said(pattern: str, text: str) -> tuple[str, ...] | None:
    """The groups of pattern's first match in text, or None where it does not match."""
    import re

    m = re.search(pattern, text)
    return m.groups() if m else None


@pytest.mark.parametrize("schedule", [
    ["--total-kimg", "0.05", "--phase-kimg", "0.03"],                              # short: 4x4 of 8x8 (lod 1)
    ["--total-kimg", "0.1", "--phase-kimg", "0.05", "--transition-kimg", "0.1"],   # short, fading in (lod 0.86)
    ["--total-kimg", "0.2", "--phase-kimg", "0.03"],                               # grown: nothing said
])
def test_a_dry_run_says_what_the_end_of_training_warning_will_say(tiny_npz, tmp_path, capsys, schedule):
    """A --dry-run of a --total-kimg too short for the networks to grow to full resolution says so on stderr (its
    stdout is the config's JSON, which --config reads back), so the user need not wait the minutes (or hours) of the
    training to learn it at its end. It follows the rule of the end-of-training warning: the dry run warns where the
    training does, and of the same end, the same growth and the same --total-kimg."""
    import json

    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
              "--no-progress", "--no-train-scores", *schedule]
    assert main([*common, "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    out, plan = capsys.readouterr()
    assert json.loads(out)["train"]["total_kimg"] == float(schedule[1])        # (stdout: the JSON alone)
    assert not (tmp_path / "dry").exists()
    assert main([*common, "--out", str(tmp_path / "run")]) == 0
    ended = capsys.readouterr().err
    said_at_end = _said(r"warning: training ended at ([\d.]+) kimg \(lod ([\d.]+)\), before the networks finished "
                        r"growing to (\d+x\d+): (with phases of .*?)\. The run is scored .*? --resume --total-kimg "
                        r"([\d.]+)`", ended)
    planned = _said(r"warning: the run reaches \d+x\d+ of \d+x\d+ at --total-kimg [\d.]+: training ends at ([\d.]+) "
                    r"kimg \(lod ([\d.]+)[^)]*\), before the networks finish growing to (\d+x\d+): (with phases of "
                    r".*?)\. It would be scored .*?; --total-kimg ([\d.]+) grows them", plan)
    assert planned == said_at_end, (plan, ended)
    if schedule[1] == "0.2":
        assert plan == "" and "before the networks finished growing" not in ended
    else:
        assert planned is not None, plan
        assert plan.count("\n") == 1 and plan.startswith("wildgan: warning: "), plan      # one line, a warning
    if schedule[1] == "0.05":
        assert "the run reaches 4x4 of 8x8 at --total-kimg 0.05: training ends at 0.064 kimg (lod 1)" in plan
    if schedule[1] == "0.1":
        assert "the run reaches 4x4 of 8x8 at --total-kimg 0.1: training ends at 0.128 kimg (lod 0.86, fading in " \
               "to 8x8)" in plan, plan


@pytest.mark.usefixtures("one_thread")
def test_the_not_grown_warning_gives_the_whole_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pile = gray_png_pile(tmp_path / "pile")
    run = tmp_path / "my run"
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.1", "--phase-kimg", "0.5",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "before the networks finished growing" in err, err
    # the command to paste, with its run (quoted: a space in it), not a bare '--resume --total-kimg ...'
    assert f"continue it with `wildgan train --out '{run}' --resume --total-kimg 1.334`" in err, err
