"""fixJP: leftovers of the report and evaluate paths (the decoding bar under --no-progress, the commands the report's
page names carrying its options)."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


class _Tty(io.StringIO):
    """A stderr that says it is a terminal: tqdm's auto (progress=None) draws its bars there."""

    def isatty(self) -> bool:
        return True


def _images(where: Path, names: list[str]) -> Path:
    rng = np.random.default_rng(0)
    for name in names:
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(where / name)
    return where


def _train(data: Path, out: Path, *extra: str) -> Path:
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
    tree = _images(where / "tree", [f"{c}/{i:03d}.png" for c in "ab" for i in range(250)])
    pile = _images(where / "pile", [f"{i:03d}.png" for i in range(500)])
    return _train(tree, where / "tree-run", "--normal", "a"), _train(pile, where / "pile-run")


def test_no_progress_hides_the_decoding_bar_of_evaluate_and_report(big_runs, monkeypatch) -> None:
    """evaluate and report rebuilt the run's split (build_split) without the caller's progress choice: tqdm's auto
    drew its decoding bar on a terminal under --no-progress, alone among their bars."""
    tree_run, pile_run = big_runs
    common = ["--device", "cpu", "--threads", "1", "--no-controls"]
    # (the bar is there to hide: shown without --no-progress)
    assert "decoding" in _stderr_of(monkeypatch, ["evaluate", str(tree_run), *common])
    assert "decoding" not in _stderr_of(monkeypatch, ["evaluate", str(tree_run), *common, "--no-progress"])
    # a labelled run's report rebuilds its test split (split_for_run), an unlabelled one's its training pile
    for run in (tree_run, pile_run):
        said = _stderr_of(monkeypatch, ["report", str(run), *common, "--top-k", "1", "--no-progress"])
        assert "decoding" not in said, said
