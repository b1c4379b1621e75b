"""A report of named images (`wildgan report RUN --image FILES`) scores, flags and ranks them as `wildgan score RUN
--data FILES --threshold ...` does for the same files: the same scores in the same batch mode (and the same warning
about it), the same flags from the same threshold, said beside a Detector.fit's f1 threshold that the command cannot
use, and the same train_percentile in named_images.csv. The page names that command; a user who runs it must get
what the page showed."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from png_piles import gray_pngs_named
from wildgan.cli import main


@pytest.mark.usefixtures("one_thread")
def test_a_report_of_two_named_images_scores_and_warns_as_score_does_for_them(trained_run, tmp_path, capsys) -> None:
    """`report RUN --image a.png b.png` scores the two files as `score RUN --data a.png b.png` does, in the batch mode
    both are given (mixed by default: one batch of 2, fewer than the encoder's minibatch-stddev group of 4), and says
    the same warning about it, which is the user's protocol, not the report's choice: isolating them silently would
    give other scores than the `wildgan score RUN --data FILES` the page names; with --batch-mode isolated, neither
    warns. This is the intended behaviour, pinned so that the report does not start isolating them."""
    import csv
    import shutil

    run = Path(shutil.copytree(trained_run, tmp_path / "run"))        # (the shared run stays as trained)
    files = [str(p) for p in sorted(gray_pngs_named(tmp_path / "new", ["a.png", "b.png"]).iterdir())]
    for mode in ("mixed", "isolated"):
        said = {}
        for cmd in ("report", "score"):
            with warnings.catch_warnings(record=True) as got:
                warnings.simplefilter("always")
                argv = ["report", str(run), "--image", *files, "--top-k", "0", "--no-controls"] \
                    if cmd == "report" else ["score", str(run), "--data", *files, "--out",
                                             str(tmp_path / "s.csv")]
                assert main([*argv, "--batch-mode", mode, "--device", "cpu", "--no-progress", "--threads", "1"]) == 0
            # (said as a Python warning or on stderr, as each command's path says it: the same line on a console)
            lines = [str(w.message) for w in got] + [ln.removeprefix("wildgan: warning: ")
                                                     for ln in capsys.readouterr().err.splitlines()]
            said[cmd] = [ln for ln in lines if "scored in batch mode" in ln]
        assert said["report"] == said["score"] and len(said["score"]) == (mode == "mixed"), (mode, said)
        page = {Path(r["id"]).name: float(r["a"])
                for r in csv.DictReader((run / "report" / "named_images.csv").open())}
        cli = {Path(r["id"]).name: float(r["a"]) for r in csv.DictReader((tmp_path / "s.csv").open())}
        assert page.keys() == cli.keys() and all(abs(page[k] - cli[k]) < 1e-6 for k in cli), (mode, page, cli)


def _fit_by_f1(run: Path, where: Path) -> tuple[object, list[str]]:
    """A Detector.fit that chose an f1 threshold on a labelled validation set (which the run does not keep), and 5 new
    images to name: (the Detector, the files)."""
    from damaged_data import TINY_FIT

    from wildgan import Detector

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    x_val, y_val = rng.integers(0, 255, (10, 8, 8), dtype=np.uint8), np.arange(10) % 2
    det = Detector(**{**TINY_FIT, "threshold": "f1"}, run_dir=str(run)).fit(x, X_val=x_val, y_val=y_val)
    return det, [str(p) for p in gray_pngs_named(where / "new", [f"{i}.png" for i in range(5)]).iterdir()]


def _fit_at_a_quarter(run: Path, where: Path) -> tuple[object, list[str]]:
    """A Detector(contamination=0.25).fit of a pile of 40 images, and the pile itself to name (10 flags at c = 0.25,
    2 at the default c = 0.05): (the Detector, [the pile])."""
    from wildgan import Detector

    pile = gray_pngs_named(where / "pile", [f"{i:03d}.png" for i in range(40)])
    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.03, device="cpu", threads=1, seed=5,
                   contamination=0.25, run_dir=str(run)).fit(str(pile))
    return det, [str(pile)]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("fit", [_fit_by_f1, _fit_at_a_quarter], ids=["f1", "contamination"])
def test_a_report_of_a_fit_run_flags_as_the_score_command_it_names(fit, tmp_path, capsys) -> None:
    """The page's flags of its named images are those of the `wildgan score RUN --data FILES --threshold
    contamination` it names: the same flags, from the same threshold. A Detector(contamination=c).fit run: by fit's
    recorded c, as the Detector flags, not by the default c = 0.05. A run whose Detector.fit chose an f1 threshold on
    a labelled validation set: `wildgan score RUN --threshold` cannot take that value (no f1 rule, no labels; the run
    does not keep the validation set), so it flags by contamination at c = 0.05, and so does the page's 'flagged'
    column; the page shows fit's f1 row as what Detector.from_run thresholds by, and says which of the two its flags
    are by."""
    import csv
    import re

    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det, named = fit(run, tmp_path)
        assert main(["report", str(run), "--image", *named, "--device", "cpu", "--no-progress", "--threads",
                     "1"]) == 0
        assert main(["score", str(run), "--data", *named, "--threshold", "contamination", "--out",
                     str(tmp_path / "s.csv"), "--no-progress", "--threads", "1"]) == 0
    capsys.readouterr()
    md = (run / "report" / "report.md").read_text()
    # the command's flags, from the same threshold
    page = {Path(r["id"]).name: r["is_anomaly"] for r in csv.DictReader((run / "report" / "named_images.csv").open())}
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert {Path(r["id"]).name: r["is_anomaly"] for r in rows} == page
    by = {_fit_by_f1: "the Threshold section's first rule", _fit_at_a_quarter: "the rule Detector.fit recorded"}[fit]
    shown = float(re.search(rf"flagged: a above (\S+), {by}", md).group(1))
    assert float(f"{float(rows[0]['threshold']):.6g}") == shown
    section = md.split("## Threshold")[1].split("\n## ")[0]
    if fit is _fit_by_f1:
        assert "Detector.fit's: f1 on fit's validation set" in section, section
        # the rule said, with the command, beside fit's f1 row
        assert "`wildgan score RUN --threshold contamination` flags by the first rule (contamination, c = 0.05), and " \
               "so does this page's 'flagged' column: not by fit's f1 threshold" in re.sub(r"\s+", " ", section), \
            section
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = int(det.predict(named[0]).sum())
        flagged = sum(int(v) for v in page.values())
        # (the command and the Detector agree: c = 0.25)
        assert flagged == predicted, (f"the report flags {flagged} of the {len(page)} named images, the Detector "
                                      f"{predicted}")


def _rows(path: Path) -> dict[str, dict[str, str]]:
    """A CSV's rows by their id column."""
    with open(path, newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_report_named_images_csv_has_the_train_percentile_of_score(mnist: dict, tmp_path: Path, capsys) -> None:
    """report/named_images.csv's train_percentile, "as `wildgan score` names it" (docs/cli.md), is the very value of
    `wildgan score --threshold`'s column for the same files, not rounded to the page's one decimal: an image at 99.75
    in flagged.csv must not read 99.8 in the report's CSV (with 400 training images, every percentile is a multiple
    of 0.25; here of 100/48)."""
    from wildgan.cli import main
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:48])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.064, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu"), preset="tiny")
    train_run(cfg, run, progress=False, log=lambda m: None)
    named = tmp_path / "named"
    named.mkdir()
    for i in range(8):
        Image.fromarray(mnist["x_test"][i * 40]).save(named / f"{i}.png")
    quiet = ["--no-progress", "--threads", "1"]
    assert main(["score", str(run), "--data", str(named), "--threshold", "contamination",
                 "--out", str(tmp_path / "flagged.csv"), *quiet]) == 0
    assert main(["report", str(run), "--image", str(named), "--no-controls", "--top-k", "2", "--tsne-points", "5",
                 *quiet]) == 0
    capsys.readouterr()
    scored, got = _rows(tmp_path / "flagged.csv"), _rows(run / "report" / "named_images.csv")
    assert set(got) == set(scored) and len(got) == 8
    assert [got[i]["train_percentile"] for i in sorted(got)] == [scored[i]["train_percentile"] for i in sorted(got)]
    # (not vacuous: some percentile here needs the second decimal, which the page's rounding dropped)
    assert any(round(float(s["train_percentile"]), 1) != float(s["train_percentile"]) for s in scored.values())
    # the page keeps its one decimal, as its captions say it
    md = (run / "report" / "report.md").read_text()
    some = next(iter(scored.values()))
    assert f"percentile {round(float(some['train_percentile']), 1):g} among the training images" in md
