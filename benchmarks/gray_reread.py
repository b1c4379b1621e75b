#!/usr/bin/env python
"""Reading a folder of RGB files of gray content larger than the decode cap, for a run that their content makes gray.

Such a file is shrunk to the cap (256 px at the automatic resolution, or --resolution) while it is decoded, before
the run's channels are known; a gray run must make it gray before shrinking it, as scoring reads a file for a gray
run. This times `load_dataset(FOLDER, "unlabelled")` (the training read) and the Detector's read of the same files
(Detector._images_split), counts how many times the files were decoded (read_image_sized calls: 1 per file is the
least), and checks that the pixels equal scoring's read of each file for a gray run (load_images(..., channels=1)).
One process (WILDGAN_DECODE_WORKERS=1), so that every decode is counted here.

    OMP_NUM_THREADS=1 python benchmarks/gray_reread.py --files 120 --side 1024 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path


def make_folder(folder: Path, n: int, side: int, fmt: str) -> list[Path]:
    """n RGB files of gray content (side x 3/4 side: smooth noise, R = G = B), as a scanner saving gray pages as RGB."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    h = side * 3 // 4
    files = []
    for i in range(n):
        g = rng.integers(0, 256, (h // 8, side // 8), dtype=np.uint8)
        img = Image.fromarray(g).resize((side, h), Image.Resampling.BILINEAR).convert("RGB")
        f = folder / f"{i:05d}.{fmt}"
        if not f.is_file():
            img.save(f, **({"quality": 95} if fmt == "jpg" else {}))
        files.append(f)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "wildgan-gray-rgb"),
                   help="where the files are made (default: TMPDIR/wildgan-gray-rgb)")
    p.add_argument("--files", type=int, default=120, help="how many files (default 120)")
    p.add_argument("--side", type=int, default=1024, help="their width; height 3/4 of it (default 1024)")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="file format (default png)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per read, the best is kept (default 3)")
    a = p.parse_args(argv)
    os.environ["WILDGAN_DECODE_WORKERS"] = "1"

    import numpy as np

    from wildgan.data import decode_pool, image_decode, inputs, load_dataset, load_images
    from wildgan.detector import Detector

    folder = Path(a.folder) / f"{a.files}-{a.side}-{a.format}"
    files = make_folder(folder, a.files, a.side, a.format)
    calls = [0]
    real = image_decode.read_image_sized

    def counted(*args: object, **kw: object) -> object:
        calls[0] += 1
        return real(*args, **kw)  # type: ignore[arg-type]

    # (each module that took the function by name)
    for module in (decode_pool, inputs):
        if hasattr(module, "read_image_sized"):
            setattr(module, "read_image_sized", counted)
    if hasattr(inputs, "read_image"):
        real_ri = inputs.read_image
        inputs.read_image = lambda *x, **k: (calls.__setitem__(0, calls[0] + 1), real_ri(*x, **k))[1]

    scored, _ = load_images(files, 256, 1)

    def cli() -> np.ndarray:
        return load_dataset(folder, "unlabelled")[0].x

    def detector() -> np.ndarray:
        return Detector(device="cpu")._images_split(str(folder))[0].train_x

    print(f"{len(files)} {a.format.upper()} files, {a.side}x{a.side * 3 // 4} RGB of gray content, in {folder}")
    print("| read | decodes per file | best of {} s | same pixels as scoring's gray read |".format(a.repeat))
    print("|---|---|---|---|")
    for name, read in (("load_dataset (training)", cli), ("Detector.fit's read", detector)):
        best, x = float("inf"), None
        for _ in range(a.repeat):
            calls[0] = 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                x = read()
                best = min(best, time.perf_counter() - t)
        assert x is not None
        # (training's order is the files' sorted order; the Detector's too)
        same = x.shape == scored.shape and bool(np.array_equal(x, scored))
        print(f"| {name} | {calls[0] / len(files):.2f} | {best:.3f} | {'yes' if same else 'NO'} (shape "
              f"{tuple(x.shape)}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
