"""The lines that tell the user a long wait is work, not a hang: the bar of decoding a pile of images follows the
command's progress choice as the training bar does (shown in a batch job's log, not only on a terminal, and hidden by
--no-progress / progress=False in train, evaluate, score and report alike), and the ETA probe of the resolutions
ahead says a line, with the option that skips it, before a probe long enough to look stuck."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import pytest

from png_piles import gray_png_pile, gray_pngs_named
from wildgan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


class _Tty(io.StringIO):
    """A stderr that says it is a terminal: tqdm's auto (progress=None) draws its bars there."""

    def isatty(self) -> bool:
        return True


def _train(data: Path, out: Path, *extra: str) -> Path:
    """A tiny 8x8 run on data at out, trained by `wildgan train` (extra: more of its options)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a run this short ends at 4x4)
        assert main(["train", "--data", str(data), *extra, "--preset", "tiny", "--resolution", "8", "--total-kimg",
                     "0.02", "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    return out


def _stderr_of(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> str:
    """What `wildgan ARGV` writes to a stderr that is a terminal."""
    tty = _Tty()
    with monkeypatch.context() as m:
        m.setattr(sys, "stderr", tty)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(argv) == 0
    return tty.getvalue()


@pytest.fixture(scope="module")
def big_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a run on a class-folder tree, a run on a loose pile), each of 500 images: the decoding bar's least count."""
    where = tmp_path_factory.mktemp("big")
    tree = gray_pngs_named(where / "tree", [f"{c}/{i:03d}.png" for c in "ab" for i in range(250)])
    pile = gray_pngs_named(where / "pile", [f"{i:03d}.png" for i in range(500)])
    return _train(tree, where / "tree-run", "--normal", "a"), _train(pile, where / "pile-run")


def test_the_decoding_bar_shows_off_a_terminal_as_the_training_bar_does(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """A batch job decoding a pile (stderr a file: capsys's is no terminal) logs its decoding bar as it logs its
    training bar (progress_bar spaces its redraws there): `wildgan train` must not leave it to tqdm's auto (None),
    which is off there."""
    pile = gray_png_pile(tmp_path / "pile", 500)                # (the decoding bar's least count)
    common = ["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.02", "--threads", "1",
              "--no-train-scores"]
    assert main([*common, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "decoding: 100%" in err and "500/500" in err, err
    # --no-progress hides it still
    assert main([*common, "--no-progress", "--out", str(tmp_path / "quiet")]) == 0
    assert "decoding:" not in capsys.readouterr().err


def test_train_runs_decoding_bar_follows_its_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """train_run's progress choice governs its decoding bar as it does its training bar: progress=True shows it off a
    terminal (where tqdm's auto hides it), progress=False hides it (where tqdm's auto shows it on a terminal)."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    pile = gray_png_pile(tmp_path / "pile", 500)
    cfg = RunConfig(data=DataConfig(data=str(pile), dataset="unlabelled"), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02, phase_kimg=0.03, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", threads=1, train_scores=False), preset="tiny")
    train_run(cfg, tmp_path / "run", progress=True, log=lambda m: None)
    assert "decoding: 100%" in capsys.readouterr().err
    train_run(cfg, tmp_path / "quiet", progress=False, log=lambda m: None)
    assert "decoding:" not in capsys.readouterr().err


def test_no_progress_hides_the_decoding_bar_of_evaluate_and_report(big_runs, monkeypatch) -> None:
    """evaluate, score and report rebuild the run's split (build_split) with the caller's progress choice: under
    --no-progress no decoding bar is drawn on a terminal, as none of their other bars is."""
    tree_run, pile_run = big_runs
    common = ["--device", "cpu", "--threads", "1", "--no-controls"]
    # (the bar is there to hide: shown without --no-progress)
    assert "decoding" in _stderr_of(monkeypatch, ["evaluate", str(tree_run), *common])
    assert "decoding" not in _stderr_of(monkeypatch, ["evaluate", str(tree_run), *common, "--no-progress"])
    # score of the run's own test split rebuilds it too (cli/score.py's split_for_run)
    scored = ["score", str(tree_run), "--out", "-", "--threads", "1"]
    assert "decoding" in _stderr_of(monkeypatch, scored)
    assert "decoding" not in _stderr_of(monkeypatch, [*scored, "--no-progress"])
    # a labelled run's report rebuilds its test split (split_for_run), an unlabelled one's its training pile
    for run in (tree_run, pile_run):
        said = _stderr_of(monkeypatch, ["report", str(run), *common, "--top-k", "1", "--no-progress"])
        assert "decoding" not in said, said


def test_the_eta_probe_says_a_line_before_its_resolutions_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast preset's probe can run ~40 s on 2 cores after the start line, which looks like a hang unless it says
    what it does. The thresholds are moved here rather than the session (how long 500 images take depends on the
    machine): a probe allowed a minute says one line, with the option that skips it, before the resolutions ahead;
    one allowed less than the line's threshold says nothing."""
    import torch

    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.training import loop

    nc = net_config_for_preset("tiny", 16, 1)
    tc = TrainConfig(phase_kimg=0.1, total_kimg=0.5, minibatch={4: 4, 8: 4, 16: 4})
    nets, costs = build_pgan(nc, 0), loop._phase_costs(nc)
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 0.0)
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 60.0)
    said: list[str] = []
    got = loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500,
                                 say=said.append)
    assert sorted(got) == [4, 8, 16], got
    assert len(said) == 1 and said[0].startswith("eta: timing a few iterations at each resolution ahead"), said
    assert "progress=False" in said[0] and "skips it" in said[0], said
    said.clear()
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 1.0)
    loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500, say=said.append)
    assert said == [], said
