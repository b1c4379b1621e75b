"""An evaluation whose run's networks are replaced while it scores (`wildgan train --overwrite`, a new training into
the folder after it): `wildgan evaluate` takes no run lock, and once scored it wrote its files, the old networks'
scores and their sha256 in eval.json, into the new run, beside networks they are not of. It checks, holding the
folder it writes (which a --overwrite's removal waits for), that the checkpoint it scored still holds those
networks; where not, it writes nothing and exits non-zero, naming the run and the command to evaluate again."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from wildgan.cli import main
from wildgan.data.eval_files import EVAL_FILES, EVAL_JSON, eval_temp_files


def _copy(trained_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    return run


def _meanwhile(monkeypatch: pytest.MonkeyPatch, change: Callable[[], Any]) -> None:
    """change() runs once the evaluation has scored its images, before it writes its files."""
    import wildgan.evaluation.run as evaluation_run

    real = evaluation_run._evaluate_model

    def scored_then_changed(*a: Any, **k: Any) -> Any:
        got = real(*a, **k)
        change()
        return got

    monkeypatch.setattr(evaluation_run, "_evaluate_model", scored_then_changed)


def _evaluation_files(folder: Path) -> list[str]:
    return [name for name in EVAL_FILES if (folder / name).exists()]


@pytest.mark.parametrize("other_classes", [False, True], ids=["own-split", "eval-dir"])
def test_an_evaluation_of_networks_an_overwrite_removed_writes_nothing(trained_run: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch, capsys,
                                                                       other_classes: bool) -> None:
    """--overwrite removed the run while the evaluation scored (its own split into the run folder; another normal
    class into an eval-*/ folder, which was not to be made again)."""
    from wildgan.training.run import _clear_old_run

    run = _copy(trained_run, tmp_path)
    _meanwhile(monkeypatch, lambda: _clear_old_run(run, is_main=True, resume=False, overwrite=True,
                                                   log=lambda m: None))
    extra = ["--normal", "1"] if other_classes else []
    assert main(["evaluate", str(run), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert f"{run}: the run's networks changed while this evaluation scored them ({run / 'network-final.json'} is " \
           f"gone or unreadable; the run was trained anew or on meanwhile): nothing was written" in err, err
    assert f"Run `wildgan evaluate {run}{' --data ' if other_classes else ''}" in err, err
    assert "again to evaluate the networks there now" in err, err
    assert sorted(p.name for p in run.iterdir()) == [], sorted(p.name for p in run.iterdir())


def test_an_evaluation_of_networks_a_new_training_replaced_writes_nothing(trained_run: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys) -> None:
    """--overwrite and a new training (another seed) into the folder, both while the evaluation scored: the run's
    network-final.json is there again, of other weights."""
    from wildgan.config import read_run_config
    from wildgan.training.run import train_run

    run = _copy(trained_run, tmp_path)
    cfg = read_run_config(run)
    new = replace(cfg, train=replace(cfg.train, seed=cfg.train.seed + 1))
    _meanwhile(monkeypatch, lambda: train_run(new, run, overwrite=True, progress=False, log=lambda m: None,
                                                    warn_not_grown=False))
    assert main(["evaluate", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{run}: the run's networks changed while this evaluation scored them (it scored other networks (their " \
           f"weights differ from the run's current ones), not those of {run / 'network-final.json'} now; " in err, err
    assert f"Run `wildgan evaluate {run}` again to evaluate the networks there now" in err, err
    # the new run as its training left it: no evaluation of the old networks beside its own
    assert _evaluation_files(run) == [] and eval_temp_files(run) == []
    assert (run / "network-final.json").is_file()


def test_networks_removed_while_the_files_are_written_are_found_before_the_renames(
        trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The second check, holding the folder once every file is written and before any is renamed into place: the
    networks removed while the files were being written (here, while test_latents.npy was), nothing is replaced (an
    earlier evaluation there stays whole) and no temp file is left."""
    import numpy as np

    from wildgan.evaluation.run import evaluate_run

    run = _copy(trained_run, tmp_path)
    evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    before = {name: (run / name).read_bytes() for name in _evaluation_files(run)}
    real = np.save

    def removed_then_saved(file: Any, arr: Any, **k: Any) -> None:
        for name in ("network-final.json", "network-final.safetensors"):
            (run / name).unlink(missing_ok=True)
        real(file, arr, **k)

    monkeypatch.setattr(np, "save", removed_then_saved)
    assert main(["evaluate", str(run), "--no-progress"]) == 2
    monkeypatch.undo()
    assert "the run's networks changed while this evaluation scored them" in capsys.readouterr().err
    assert {name: (run / name).read_bytes() for name in _evaluation_files(run)} == before
    assert eval_temp_files(run) == []


def test_networks_written_again_with_the_same_weights_are_still_the_ones_scored(trained_run: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch
                                                                               ) -> None:
    """The networks' identity is their weights' sha256, not the file: the same networks written again (another file
    in its place, as an atomic write makes it) are the ones the evaluation scored, and it writes its files."""
    run = _copy(trained_run, tmp_path)

    def written_again() -> None:
        for name in ("network-final.json", "network-final.safetensors"):
            (run / f"{name}.new").write_bytes((run / name).read_bytes())
            os.replace(run / f"{name}.new", run / name)

    _meanwhile(monkeypatch, written_again)
    assert main(["evaluate", str(run), "--no-progress", "--no-controls"]) == 0
    assert (run / EVAL_JSON).is_file()


def test_the_check_reads_the_checkpoint_it_scored_as_the_python_api_says_it(trained_run: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the CLI the refusal names the call to make again, not a command."""
    from wildgan.errors import CheckpointError
    from wildgan.evaluation.run import evaluate_run

    run = _copy(trained_run, tmp_path)
    _meanwhile(monkeypatch, lambda: (run / "network-final.json").unlink())
    with pytest.raises(CheckpointError, match=r"nothing was written, its results being of networks no longer the "
                                              r"run's\. Call evaluate_run again to evaluate the networks there now"):
        evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    assert _evaluation_files(run) == []


def test_a_checkpoint_pruned_by_a_training_at_work_says_to_evaluate_once_it_ends(trained_run: Path, tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch,
                                                                                capsys) -> None:
    """A run still training has no final networks: the evaluation scores its newest checkpoint, which the training
    prunes a few checkpoints later. "Run `wildgan evaluate RUN` again" met the same pruning again for an evaluation
    slower than those checkpoints (a search run's): while the run's lock is held, the refusal says that a training is
    at work and to evaluate once it has ended."""
    pytest.importorskip("fcntl")
    from wildgan.errors import WildganWarning
    from wildgan.training.run import run_lock

    run = _copy(trained_run, tmp_path)
    for name in ("network-final.json", "network-final.safetensors"):
        (run / name).unlink()
    newest = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    _meanwhile(monkeypatch, lambda: (newest.unlink(), newest.with_suffix(".safetensors").unlink()))
    with run_lock(run), pytest.warns(WildganWarning, match="has no final networks yet"):
        assert main(["evaluate", str(run), "--no-progress", "--no-controls"]) == 2
    err = capsys.readouterr().err
    assert f"({newest} is gone or unreadable; the run was trained anew or on meanwhile): nothing was written" in err
    assert (f"A training is at work in the run now (its lock is held), whose checkpoints replace one another: run "
            f"`wildgan evaluate {run}` again once it has ended" in err), err
    assert "again to evaluate the networks there now" not in err, err
    assert _evaluation_files(run) == []
