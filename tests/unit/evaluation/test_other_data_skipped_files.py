"""Files of other data left out as unreadable (--skip-bad) by `wildgan evaluate RUN --data OTHER` and `wildgan score
RUN --data OTHER --normal C` are said, as training says those of its own data: they changed the test split's counts
without a word (eval.json alone listed them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from wildgan.evaluation.run import split_for_run


def _tree(root: Path) -> Path:
    rng = np.random.default_rng(1)
    for c in ("0", "1"):
        (root / c).mkdir(parents=True)
        for i in range(20):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / c / f"{i:02d}.png")
    return root


def test_unreadable_files_of_other_data_left_out_are_said(trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    other = _tree(tmp_path / "other")
    said: list[str] = []
    clean = split_for_run(run, str(other), log=said.append, skip_bad=True)
    assert not [m for m in said if "unreadable" in m], said             # none left out: nothing said
    (other / "0" / "bad.png").write_text("not an image")
    (other / "1" / "empty.png").write_bytes(b"")
    said.clear()
    split = split_for_run(run, str(other), log=said.append, skip_bad=True)
    left = [m for m in said if "unreadable" in m]
    assert len(left) == 1, said
    assert left[0].startswith(f"warning: {other}: 2 unreadable files left out (skip_bad=True): ") and \
        f"{other / '0' / 'bad.png'}: not a readable image" in left[0] and \
        f"{other / '1' / 'empty.png'}: empty file (0 bytes)" in left[0], left[0]
    assert len(split.test_x) == len(clean.test_x)
