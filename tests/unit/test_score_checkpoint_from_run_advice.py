"""`wildgan score RUN --checkpoint CKPT` refused because the labels of the run's own data were damaged since it
trained: the refusal names the Python API's way to score every image without labels,
Detector.from_run(RUN).decision_function(DATA), and that way works. from_run loads the run's final networks, whatever
networks --checkpoint scored with, and reads their training scores only where a call needs them, so the refusal must
not judge that way by the checkpoint's networks and call the training scores 'missing or stale'."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildgan.cli import main


def test_score_with_a_checkpoint_names_the_from_run_way_that_works(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A run scored once (its train_scores.csv of the final networks written), its CIFAR-10 batches.meta then losing
    its label_names; `wildgan score RUN --checkpoint CKPT` is refused (exit 2) without saying the cache 'is missing or
    stale', and the from_run way it names scores the 48 images."""
    import warnings

    from damaged_data import cifar_train_run, write_meta

    from wildgan import Detector

    run = cifar_train_run(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(run), "--threshold", "contamination", "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    assert (run / "train_scores.csv").is_file()
    write_meta(folder, names=False)
    ck = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    capsys.readouterr()
    assert main(["score", str(run), "--checkpoint", str(ck), "--out", str(tmp_path / "s2.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(eval(way, {"Detector": Detector}).tolist()) == 48      # (the way works: the cache is current)
    assert "is missing or stale" not in said, said
