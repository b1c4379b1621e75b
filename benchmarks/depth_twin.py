"""An 8-bit image and its 16-bit twin (value * 257) scored by a tiny run trained on 8-bit, 16-bit or mixed images.

Trains `wildgan train --preset tiny` (0.032 kimg) on a pile of 20 8x8 gray cells of levels 85..148 (a cell that uses
part of the range, so that the per-image stretch changes it), saved as 8-bit PNGs, as their 16-bit twins, or half and
half, then scores a new cell and its twin with `wildgan score RUN --data DIR --batch-mode isolated` and prints each
file's scores A and a, and the warnings scoring gave. The same picture should score the same in either depth.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/depth_twin.py --trained 16bit --folder /tmp/depth_twin
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import shutil
import warnings
from pathlib import Path

import numpy as np
from PIL import Image


def _cell(rng: np.random.Generator) -> np.ndarray:
    a = rng.integers(85, 149, (8, 8), dtype=np.uint8)
    a[0, 0], a[-1, -1] = 85, 148
    return a


def _save(path: Path, a: np.ndarray, sixteen: bool) -> None:
    if sixteen:
        Image.fromarray(a.astype(np.uint16) * 257).save(path)      # mode I;16: what Pillow writes for 16 bits
    else:
        Image.fromarray(a).save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trained", choices=("8bit", "16bit", "mixed"), default="16bit")
    p.add_argument("--folder", type=Path, required=True, help="a scratch folder (emptied first)")
    a = p.parse_args()
    from wildgan.cli import main as wildgan

    shutil.rmtree(a.folder, ignore_errors=True)
    pile, run, new = a.folder / "pile", a.folder / "run", a.folder / "new"
    pile.mkdir(parents=True)
    new.mkdir()
    rng = np.random.default_rng(1)
    for i in range(20):
        sixteen = a.trained == "16bit" or (a.trained == "mixed" and i % 2 == 1)
        _save(pile / f"{i:02d}.png", _cell(rng), sixteen)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        assert wildgan(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                        "--total-kimg", "0.032", "--phase-kimg", "0.1", "--out", str(run)]) == 0
    cell = _cell(np.random.default_rng(7))
    _save(new / "cell8.png", cell, False)
    _save(new / "cell16.png", cell, True)
    out = a.folder / "scores.csv"
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as rec, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        assert wildgan(["score", str(run), "--data", str(new), "--batch-mode", "isolated", "--threads", "1",
                        "--no-progress", "--out", str(out)]) == 0
    with open(out, newline="") as f:
        rows = {Path(r["id"]).name: r for r in csv.DictReader(f)}
    print(f"run trained on {a.trained} images")
    for name in ("cell8.png", "cell16.png"):
        print(f"  {name:<11} A = {float(rows[name]['A']):.6f}   a = {float(rows[name]['a']):.6f}")
    said = [str(w.message) for w in rec] + [line for line in err.getvalue().splitlines() if "warning" in line]
    for s in said:
        print(f"  said: {s}")


if __name__ == "__main__":
    main()
