"""`wildgan score` of runs trained with --contamination (and of images read for a run).

`wildgan score RUN --data OTHER.npz` and `wildgan evaluate RUN --data OTHER.npz` of a run trained with
--contamination: OTHER's test split was built with the run's contamination injected into OTHER's training part, which
nothing trains on. Labelled data whose training part holds only normal images (train/good, test/good + test/bad, the
usual layout of an inspection data set) was refused ("contamination 0.1 needs 2 anomalous training images but only 0
are available; --contamination 0 trains on the normal images alone", an option neither command has), and other data
got the run's rounding warning. The test split does not depend on the contamination: it is the same without it.
The threshold line said the γ asked where rounding made the run's share of anomalies another; a non-square class
tree read for a run was told of an option score refuses."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan.cli import main
from wildgan.errors import WildganWarning

pytestmark = pytest.mark.usefixtures("one_thread")


def _contaminated_run(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    npz, run = tmp_path / "tiny.npz", tmp_path / "run"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    # (20 normal training images: 0.1 of them is 2.2 anomalies, 2 injected)
    assert main(["train", "--data", str(npz), "--normal", "0", "--contamination", "0.1", "--preset", "tiny",
                 "--total-kimg", "0.03", "--phase-kimg", "0.03", "--threads", "1", "--no-progress",
                 "--no-train-scores", "--out", str(run)]) == 0
    return run


def _normal_only_training_part(path: Path) -> Path:
    rng = np.random.default_rng(1)
    np.savez(path, x_train=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_train=np.zeros(20, int),
             x_test=rng.integers(0, 255, (12, 8, 8), dtype=np.uint8), y_test=np.arange(12) % 2)
    return path


def test_other_data_of_a_contaminated_run_is_scored_and_evaluated_without_its_contamination(tmp_path, capsys):
    from wildgan.evaluation.run import split_for_run

    run = _contaminated_run(tmp_path)
    other = _normal_only_training_part(tmp_path / "other.npz")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)     # (no word of a contamination of data never trained on)
        split = split_for_run(run, str(other), log=lambda m: None)
        assert main(["score", str(run), "--data", str(other), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 0
    assert (int((split.test_y == 0).sum()), int(split.test_y.sum())) == (6, 6)
    assert "contamination" not in capsys.readouterr().err
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0].startswith("id,label,") and len(rows) == 1 + 12
    # the run's own split keeps its contamination
    assert split_for_run(run, log=lambda m: None).info["n_contamination"] == 2


def test_score_of_a_non_square_class_tree_names_the_runs_letterbox_option_not_one_score_refuses(tmp_path, capsys):
    from PIL import Image

    run = _contaminated_run(tmp_path)
    rng = np.random.default_rng(2)
    for c, n in (("good", 20), ("bad", 6)):
        (tmp_path / "tree" / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 12), dtype=np.uint8)).save(tmp_path / "tree" / c / f"{i:02d}.png")
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["score", str(run), "--data", str(tmp_path / "tree"), "--normal", "good", "--no-progress",
                     "--out", str(tmp_path / "s.csv")]) == 0
    err = " ".join((capsys.readouterr().err + " ".join(str(w.message) for w in said)).split())
    assert "centre-cropped to a square" in err, err
    assert "(a run trained with --square letterbox letterboxes them" in err, err


def test_score_threshold_says_the_share_of_anomalies_the_run_trained_on_where_rounding_changed_gamma(tmp_path, capsys):
    # γ 0.08 of 16 normal training images is 1 anomaly (a share of 0.0588; training warned of it), and score
    # --threshold said "this run was trained with a share γ = 0.08 of anomalies: --expected-contamination 0.08 sets
    # c = γ", a share its training images never held
    from wildgan.cli import make_parser
    from wildgan.cli.threshold_notes import contamination_note
    from wildgan.data.splits import rounded_contamination

    rng = np.random.default_rng(5)
    npz, run = tmp_path / "r.npz", tmp_path / "run"
    np.savez(npz, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.array([0] * 20 + [1] * 40))
    with pytest.warns(WildganWarning, match="1 is injected: a contamination of 0.0588, not 0.08"):
        assert main(["train", "--data", str(npz), "--normal", "0", "--contamination", "0.08", "--preset", "tiny",
                     "--total-kimg", "0.03", "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--out",
                     str(run)]) == 0
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["score", str(run), "--threshold", "contamination", "--out", "-", "--no-progress"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    # the rounding was said when the split was drawn: not again by each rebuild of it, advising --contamination, which
    # score has not
    assert not [w for w in said if "rounded down" in str(w.message)] and "rounded down" not in err, err
    assert "this run asked for a share γ = 0.08 of anomalies, which rounding made 1 anomalous image beside its 16 " \
           "normal ones (a share of 0.0588): --expected-contamination 0.0588 sets c to it (the report's row of that " \
           "share)" in err, err
    assert "trained with a share γ = 0.08" not in err, err
    # export's threshold line, the same words
    assert main(["export", str(run), "--threshold", "contamination", "--no-progress", "--out",
                 str(tmp_path / "m.onnx")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "which rounding made 1 anomalous image beside its 16 normal ones (a share of 0.0588)" in err, err
    # the report's row of the run's own contamination is of that share, the c advised above, not of γ
    assert main(["report", str(run), "--no-progress", "--top-k", "2", "--tsne-points", "10", "--no-controls"]) == 0
    md = (run / "report" / "report.md").read_text(encoding="utf-8")
    rules = [ln.split("|")[1].strip() for ln in md[md.index("## Threshold"):].splitlines() if ln.startswith("| ")]
    assert "contamination, c = 0.0588, the share trained on" in rules and "contamination, c = γ = 0.08" not in rules, \
        rules
    # none injected: said so, with no share to set c to; a rounding within a fifth of γ is no news (γ is said)
    a = make_parser().parse_args(["score", "RUN", "--out", "-", "--threshold", "contamination"])
    none = rounded_contamination({"gamma": 0.05, "n_normal_train": 16, "n_contamination": 0})
    assert contamination_note(a, 0.05, rounded=none).endswith(
        "which rounding made none beside its 16 normal training images: they are clean")
    assert rounded_contamination({"gamma": 0.02, "n_normal_train": 5000, "n_contamination": 102}) is None
    assert rounded_contamination({"gamma": 0.0, "n_normal_train": 16, "n_contamination": 0}) is None
