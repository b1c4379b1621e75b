"""revFX: a newcomer's walkthrough (README's quick tour and docs/*.md, followed as written on a pile of unlabelled
images: train, score, threshold, report, resume, the Python API). Each test here shows one finding, as a strict xfail
until it is fixed (the fixer removes the mark; the test then stays as the finding's regression test)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny `wildgan train --data PILE/` run on a folder of 40 loose 8x8 gray PNGs (an unlabelled pile, with
    its training scores cached, as the README's quick tour trains one), and 6 new images beside it in `new/`."""
    from wildgan.cli import main

    where = tmp_path_factory.mktemp("pile")
    rng = np.random.default_rng(0)
    (where / "pile").mkdir()
    (where / "new").mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(where / "pile" / f"{i:03d}.png")
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(where / "new" / f"n{i}.png")
    run = where / "run"
    assert main(["train", "--data", str(where / "pile"), "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    assert (run / "train_scores.csv").is_file()
    return run


def test_the_report_flags_named_images_as_the_score_command_it_names(pile_run: Path, tmp_path: Path) -> None:
    """revFX 1 (fixed): for a Detector(contamination=c).fit run, the report flagged the named images by c = 0.05 and
    called that `wildgan score RUN --data FILES --threshold contamination`'s flags, which take fit's recorded c."""
    import csv
    import warnings

    from wildgan import Detector
    from wildgan.cli import main
    from wildgan.errors import WildganWarning
    from wildgan.evaluation.report import run_report

    pile = new = pile_run.parent / "pile"     # the pile itself as the named images: 10 flags at c = 0.25, 2 at 0.05
    run = tmp_path / "fit"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.03, device="cpu", threads=1, seed=5,
                       contamination=0.25, run_dir=str(run)).fit(str(pile))
        predicted = int(det.predict(str(new)).sum())
        run_report(run, images=[new], device="cpu", controls=False)
    assert main(["score", str(run), "--data", str(new), "--threshold", "contamination", "--no-progress",
                 "--out", str(tmp_path / "s.csv")]) == 0
    with open(tmp_path / "s.csv", newline="") as f:
        by_score = sum(int(r["is_anomaly"]) for r in csv.DictReader(f))
    with open(run / "report" / "named_images.csv", newline="") as f:
        by_report = sum(int(r["is_anomaly"]) for r in csv.DictReader(f))
    assert by_score == predicted, (by_score, predicted)          # (the command and the Detector agree: c = 0.25)
    assert by_report == by_score, (f"the report flags {by_report} of the {len(list(new.iterdir()))} named images, "
                                   f"`wildgan score --threshold contamination` (which the page names) {by_score}")


def test_a_report_by_another_score_names_the_score_command_that_flags_by_it(pile_run: Path, tmp_path: Path) -> None:
    """revFX 2 (fixed): a `report --score L_r` page flags and ranks by L_r, and its `wildgan score ... --threshold`
    commands lacked `--score L_r` (they thresholded a)."""
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
    """revFX 3 (fixed): an isolated report's named-images section named the mixed `wildgan score` command."""
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
    """revFX 4 (fixed): _diagnose_training_pile scored an unlabelled run's whole pile (no cache: --batch-mode
    isolated, --no-train-scores, a pile changed since) without progress=, minutes of silence on a large pile."""
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


def test_the_small_batch_warning_of_a_fitted_detector_advises_what_works_on_it(pile_run: Path) -> None:
    import warnings

    from wildgan import Detector
    from wildgan.errors import WildganWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        det = Detector.from_run(pile_run, device="cpu")
    one = sorted((pile_run.parent / "new").iterdir())[:1]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        det.decision_function(one)
    texts = [str(w.message) for w in said if "batch mode 'mixed'" in str(w.message)]
    assert texts, f"no small-batch warning: {[str(w.message) for w in said]}"
    # the advice as given works on this Detector: set_params, which re-derives its threshold from the run
    det.set_params(batch_mode="isolated")
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        det.decision_function(one)
    assert not [w for w in again if "batch mode 'mixed'" in str(w.message)]
    assert "set_params(batch_mode='isolated')" in texts[0], f"the advice names no way for this Detector: {texts[0]}"
