"""fixJW: Detector.from_run reads a run's training scores lazily where they are not cached (decision_function needs
none; the first call that needs them reads them, and a refusal names that call); `wildgan score --data` of one CIFAR-10
batch file advises only ways that read it; the report's record-pixels advice for an isolated report names the command
that caches the isolated training scores."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan import Detector
from wildgan.cli import main
from wildgan.errors import DataError


def _run(tmp_path: Path) -> tuple[Path, Path]:
    """(run, its data): a tiny `wildgan train --no-train-scores` run on fake CIFAR-10 batches (no training scores
    cached)."""
    from damaged_data import cifar_train_run

    return cifar_train_run(tmp_path), tmp_path / "cifar-10-batches-py"


def _x() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)


def test_from_run_of_a_run_without_cached_scores_reads_its_data_at_the_first_call_that_needs_them(
        tmp_path: Path) -> None:
    from damaged_data import write_meta

    run, folder = _run(tmp_path)
    assert not (run / "train_scores.csv").exists()
    write_meta(folder, names=False)                  # the labels damaged since training
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu")      # networks and config read; the data not
        assert det.decision_function(_x()).shape == (6,)
        assert len(det.decision_function(str(folder))) == 48      # (every image, labels ignored)
        for call, use in (("predict", lambda: det.predict(_x())), ("predict_proba", lambda: det.predict_proba(_x())),
                          ("threshold_", lambda: det.threshold_), ("save", lambda: det.save(tmp_path / "m"))):
            with pytest.raises(DataError, match="batches.meta") as e:
                use()
            assert f"Detector.{call}" in str(e.value) and "Detector.from_run" not in str(e.value), (call, e.value)
    assert not (run / "train_scores.csv").exists() and not (tmp_path / "m.json").exists()
    write_meta(folder, names=True)                   # mended: the same numbers as a from_run that read them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = det.predict(_x())
        assert (run / "train_scores.csv").is_file()   # (cached as from_run cached them)
        again = Detector.from_run(str(run), device="cpu")
    assert "decision_scores_" in vars(again)         # cached: read by from_run itself, as before
    np.testing.assert_array_equal(det.decision_scores_, again.decision_scores_)
    assert det.threshold_ == again.threshold_ and det.n_train_ == again.n_train_ == 40
    np.testing.assert_array_equal(labels, again.predict(_x()))


def test_from_run_of_a_run_whose_data_is_gone_scores_and_refuses_the_threshold_by_name(
        tmp_path: Path) -> None:
    run, folder = _run(tmp_path)
    shutil.rmtree(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu", batch_mode="isolated")
        assert det.decision_function(_x()).shape == (6,)
        with pytest.raises(DataError, match="needs the run's training images") as e:
            det.set_params(score="L_r")
    assert "Detector.set_params" in str(e.value), e.value
    assert det.score is None and "_pending_run_scores" in vars(det)    # refused: as it was, still pending
    with pytest.raises(DataError, match="Detector.labels_"):
        det.labels_


def test_a_refit_of_from_run_s_detector_drops_the_pending_read(tmp_path: Path) -> None:
    run, folder = _run(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu")
        det.set_params(run_dir=str(tmp_path / "refit"), total_kimg=0.016, resolution=8, channels=1)
        x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
        det.fit(x)
    assert "_pending_run_scores" not in vars(det) and det.n_train_ == 20


def test_score_advice_for_the_runs_own_damaged_batches_names_from_run_again(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # fixJV advised from_run(...).decision_function only with cached training scores, since from_run read the run's
    # data by its labels for them; it no longer does, so the way works without a cache too
    from damaged_data import write_meta

    run, folder = _run(tmp_path)
    write_meta(folder, names=False)
    capsys.readouterr()
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    assert way in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(eval(way, {"Detector": Detector})) == 48


@pytest.mark.parametrize("lone", [False, True])
def test_score_data_of_one_cifar_batch_file_advises_what_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  lone: bool) -> None:
    # the advice was Detector.from_run(RUN).decision_function(FILE) and `wildgan score RUN --data FILE`, both of which
    # refuse one batch file; the folder of the six batches is read (or, for a batch alone, the batch's own arrays)
    run, folder = _run(tmp_path)
    batch = folder / "data_batch_1"
    if lone:
        (tmp_path / "lone").mkdir()
        batch = Path(shutil.copy(batch, tmp_path / "lone" / "data_batch_1"))
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(batch), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert f".decision_function({str(batch)!r})" not in said and f"--data {batch} does" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu")
        if not lone:
            way = f"Detector.from_run(RUN).decision_function({str(folder)!r})"
            assert way in said, said
            assert len(eval(way, {"Detector": Detector, "RUN": str(run)})) == 48
            assert f"`wildgan score RUN --data {folder}` reads them as a data set" in said, said
            assert main(["score", str(run), "--data", str(folder), "--out", str(tmp_path / "s.csv"),
                         "--no-progress"]) == 0
        else:
            code = said[said.index("from wildgan.data.dataset_files"):].split("`")[0]
            got: dict = {"Detector": Detector, "RUN": str(run)}
            exec(code, got)
            assert det.decision_function(got["x"]).shape == (8,)


def test_record_pixels_advice_of_an_isolated_report_names_the_isolated_scoring() -> None:
    # train --resume --train-scores caches the mixed protocol's training scores: an isolated report had still no
    # threshold after it
    from wildgan.evaluation.report import _record_pixels_advice

    said = _record_pixels_advice("RUN", "wildgan", " --batch-mode isolated")
    assert "`wildgan train --out RUN --resume --train-scores`" in said
    assert "`wildgan score RUN --batch-mode isolated --threshold contamination --out scores.csv`" in said, said
    assert "--batch-mode" not in _record_pixels_advice("RUN", "wildgan", "")
    # (f-AnoGAN has one protocol: the resume's cache serves an isolated report too)
    assert "wildgan score" not in _record_pixels_advice("RUN", "fanogan", " --batch-mode isolated")


def test_the_isolated_report_s_record_pixels_advice_followed_gives_it_a_threshold(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]
                                                                                 ) -> None:
    import sys

    from test_cli import _decode_a_level_up

    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    _decode_a_level_up(npz, run)
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
