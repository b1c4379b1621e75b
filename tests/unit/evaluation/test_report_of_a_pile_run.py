"""The report of a run trained on a pile of unlabelled images, as the README's quick tour makes one: the `wildgan
score` commands it names flag by its score and batch mode (that they flag its named images as it does, by the same
threshold, is test_report_named_images_as_score's), and it shows progress while it scores the whole pile. A user
follows the page's commands as written and must get what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from loose_image_piles import train_pile_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny `wildgan train` run on a pile of 40 loose images, and 6 new images beside it in `new/`."""
    return train_pile_run(tmp_path_factory.mktemp("pile"))


def test_a_report_by_another_score_names_the_score_command_that_flags_by_it(pile_run: Path, tmp_path: Path) -> None:
    """A `report --score L_r` page flags and ranks by L_r, so its `wildgan score ... --threshold` commands must say
    `--score L_r` (without it they threshold a)."""
    import shutil

    from wildgan.evaluation.report import run_report

    run = tmp_path / "run"
    shutil.copytree(pile_run, run)
    run_report(run, score="L_r", images=[pile_run.parent / "new"], device="cpu", controls=False)
    md = (run / "report" / "report.md").read_text(encoding="utf-8")
    assert "An image is flagged when its L_r is above the threshold" in md
    # every `wildgan score ... --threshold` command the page gives as the one that flags (or thresholds) these images
    commands = re.findall(r"`(wildgan score RUN[^`]*--threshold[^`]*)`", md)
    assert commands, "the page names no scoring command"
    missing = [c for c in commands if "--score L_r" not in c]
    assert not missing, f"the L_r report names commands that threshold a instead: {missing}"


def test_an_isolated_report_names_the_isolated_command_for_its_named_images(pile_run: Path, tmp_path: Path) -> None:
    """An isolated report's named-images section names the isolated `wildgan score` command, not the mixed one."""
    import shutil

    from wildgan.evaluation.report import run_report

    run = tmp_path / "run"
    shutil.copytree(pile_run, run)
    run_report(run, batch_mode="isolated", images=[pile_run.parent / "new"], device="cpu", controls=False)

    md = (run / "report" / "report.md").read_text(encoding="utf-8")
    named = md[md.index("## Named images"):]
    commands = re.findall(r"`(wildgan score RUN[^`]*)`", named)
    assert commands, "the named images' section names no scoring command"
    missing = [c for c in commands if "--batch-mode isolated" not in c]
    assert not missing, f"the isolated report's named images section names mixed commands: {missing}"


def test_the_report_shows_progress_while_it_scores_an_unlabelled_pile(pile_run: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the report scores an unlabelled run's whole pile itself (no cache: --batch-mode isolated,
    --no-train-scores, a pile changed since), it shows a progress bar when asked: on a large pile that takes
    minutes."""
    import shutil

    from wildgan.evaluation.report import run_report
    from wildgan.scoring.run import LoadedModel

    run = tmp_path / "run"
    shutil.copytree(pile_run, run)
    calls: list[tuple[int, bool]] = []
    real = LoadedModel.score

    def spy(self: LoadedModel, x_u8: np.ndarray, **kw: object) -> object:
        calls.append((len(x_u8), bool(kw.get("progress", False))))
        return real(self, x_u8, **kw)

    monkeypatch.setattr(LoadedModel, "score", spy)
    run_report(run, batch_mode="isolated", device="cpu", controls=False, progress=True)
    pile = [p for n, p in calls if n == 40]
    assert pile, f"the pile of 40 was not scored whole: {calls}"
    assert all(pile), "the report scored the whole pile without a progress bar, though progress=True"


def test_a_file_name_that_is_not_utf8_is_drawn_and_written(pile_run: Path, tmp_path: Path) -> None:
    """A Latin-1 file name (a Windows share, an old zip: b'd\\xe9faut.png'), which Python holds with a lone
    surrogate, stopped the report with matplotlib's TypeError at the first heat map captioned with it; its panel
    shows U+FFFD, and the page keeps the name's own bytes (as the scores CSV does)."""
    import os
    import shutil

    from PIL import Image

    from wildgan.evaluation.report import run_report

    run = tmp_path / "run"
    shutil.copytree(pile_run, run)
    new = tmp_path / "new"
    new.mkdir()
    try:
        Image.fromarray(np.full((16, 16), 200, np.uint8)).save(os.fsencode(new) + b"/d\xe9faut.png", format="PNG")
    except (OSError, UnicodeError) as e:      # a file system that holds only UTF-8 names (macOS APFS, Windows)
        pytest.skip(f"cannot make a file name that is not UTF-8 here: {e}")
    run_report(run, images=[new], device="cpu", controls=False)
    md = (run / "report" / "report.md").read_bytes()
    assert b"d\xe9faut.png" in md
    assert (run / "report" / "heatmaps" / "image-01.png").is_file()


def test_the_top_images_maps_are_of_the_reconstructions_they_were_ranked_by(pile_run: Path, tmp_path: Path) -> None:
    """An unlabelled run's pile is ranked by its cached training scores (mixed score batches over the whole pile),
    and its top images were mapped from a pass of each image alone: a map's L_n differed from the L_n in the page's
    table and train_scores.csv (by up to 9% on 406 cell crops). Now each top image is reconstructed in the score
    batch its cached score came from, so that its map sums to that L_n (gray images: sqrt(sum m^2) / h^2 at the
    scored side h, maps[::block, ::block])."""
    import csv
    import shutil

    from wildgan.evaluation.report import run_report

    run = tmp_path / "run"
    shutil.copytree(pile_run, run)
    run_report(run, score="L_r", top_k_images=5, device="cpu", controls=False)
    saved = np.load(run / "report" / "heatmaps" / "top_heatmaps.npz")
    block = int(saved["block"])
    with open(run / "train_scores.csv", newline="", encoding="utf-8") as f:
        cached = {row["id"]: float(row["L_n"]) for row in csv.DictReader(f)}
    assert len(saved["ids"]) == 5
    for i, name in enumerate(saved["ids"]):
        m = saved["maps"][i][::block, ::block].astype(np.float64)
        assert np.sqrt((m ** 2).sum()) / m.shape[0] ** 2 == pytest.approx(cached[str(name)], rel=1e-5), name


def test_the_rescoring_of_the_top_images_batches_is_said_and_has_a_bar(pile_run: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The top images' maps come from their whole score batches scored again (up to top-k x 64 images: 2,040 of a
    3,000-image pile at --top-k 50, 17 to 42 s at 64x64 with the tiny preset on 2 CPU cores, more at the paper's),
    which ran after 'ranking ... by their cached scores' with no line and no progress bar under --progress, where
    every other scoring of the report has both."""
    import shutil

    from wildgan.evaluation.report import run_report

    run = tmp_path / "run"
    shutil.copytree(pile_run, run)
    said: list[str] = []
    run_report(run, score="L_r", top_k_images=3, device="cpu", controls=False, log=said.append, progress=True)
    line = [s for s in said if "score batch" in s]
    assert len(line) == 1 and "the 3 mapped images" in line[0], said
    assert "score: 100%" in capsys.readouterr().err         # the bar of that pass (tqdm, on stderr)
