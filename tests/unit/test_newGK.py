"""newGK (a newcomer's walk-through on their own pile of images): `wildgan info RUN` said a run's parameter counts
only; of a run stopped by Ctrl-C it said nothing of its being unfinished, nor how to continue it. It now says how far
the run trained, read from its networks' JSON (read only: nothing of a model file is executed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main


def png_pile(pile: Path, n: int = 20) -> Path:
    """n random 8x8 gray PNGs in a new folder `pile`: an unlabelled pile of one's own images (test_revGI's too)."""
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    return pile



def pile_run(tmp_path: Path) -> Path:
    """A finished tiny run (tmp_path/run, 0.05 kimg, checkpoints every 0.016) on png_pile's pile (tmp_path/pile)."""
    pile, run = tmp_path / "pile", tmp_path / "run"
    png_pile(pile)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--checkpoint-kimg", "0.016", "--threads", "1", "--no-progress", "--no-train-scores",
                 "--out", str(run)]) == 0
    return run
def test_info_run_says_how_far_it_trained_and_how_to_continue_a_stopped_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = pile_run(tmp_path)
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"trained: 0.064 kimg (done, schedule 0.05 kimg); networks in {run / 'network-final.json'}" in out, out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["training"]
    assert got == {"final": True, "file": str(run / "network-final.json"), "kimg": 0.064, "status": "done",
                   "total_kimg": 0.05, "training_now": False, "resumed_to": None, "world_size": 1}, got
    # a run stopped before its final networks: the newest checkpoint, and the command that continues it
    for f in ("network-final.json", "network-final.safetensors"):
        (run / f).unlink()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    newest = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    kimg = json.loads(newest.read_text())["kimg"]
    assert (f"not finished: no final networks, the newest checkpoint at {kimg:g} of 0.05 kimg ({newest}), stopped "
            f"or killed; continue it with `wildgan train --out {run} --resume`") in out, out
    shutil.rmtree(run / "checkpoints")
    assert main(["info", str(run)]) == 0
    assert "not trained: no checkpoint yet" in capsys.readouterr().out
