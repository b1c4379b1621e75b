#!/usr/bin/env python
"""Decoding throughput of image files (data.readers: read, convert to R x R), per number of decode processes.

Decoding is one core's work per file; a GPU scores 32x32 images faster than one process decodes them, so a pile of
files is decoded by a pool of processes (WILDGAN_DECODE_WORKERS; the `wildgan` command's default is one per core
but one, at most 8). This times load_images on the same files once per --workers entry, checks that every entry gave the
same pixels, and prints one Markdown table (plus --json).

    python benchmarks/decode.py --data /path/to/folder-of-images --workers 1,2,4,8
    python benchmarks/decode.py --data cifar10-jpeg.tar.gz --workers 1,auto      # its 60,000 JPEGs
    python benchmarks/decode.py --files 20000                         # a generated pile of small JPEGs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def make_pile(folder: Path, n: int, side: int) -> None:
    """n small JPEGs of smooth noise (CIFAR-like: 32x32 RGB, about 1 kB each)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.jpg"))) == n:
        return
    rng = np.random.default_rng(0)
    for i in range(n):
        a = rng.integers(0, 256, (side // 4, side // 4, 3), dtype=np.uint8)
        Image.fromarray(a).resize((side, side), Image.Resampling.BILINEAR).save(folder / f"{i:07d}.jpg", quality=90)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="a folder of image files, or a .tar.gz of one (unpacked into the cache, "
                                  "WILDGAN_CACHE); default: a generated pile of --files JPEGs")
    p.add_argument("--files", type=int, default=20000, help="generated pile size (default 20000)")
    p.add_argument("--resolution", type=int, default=32, help="convert to R x R (default 32)")
    p.add_argument("--workers", default="1,2,auto", help="comma separated process counts, or auto (default 1,2,auto)")
    p.add_argument("--repeat", type=int, default=2, help="timed runs per entry, the best is kept (default 2)")
    p.add_argument("--json", help="write the rows here")
    a = p.parse_args(argv)

    from wildgan.data import load_images
    from wildgan.data.decode_pool import decode_workers
    from wildgan.data.readers import list_image_files

    if a.data and Path(a.data).is_file():
        from wildgan.data.download import unpack_cached

        root = unpack_cached(a.data)
    elif a.data:
        root = Path(a.data)
    else:
        root = Path(tempfile.gettempdir()) / f"wildgan-decode-bench-{a.files}"
        make_pile(root, a.files, a.resolution)
    n_files = len(list_image_files([root]))
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    rows, digest0 = [], None
    load_images([root], a.resolution, 3)                  # warm the page cache: every entry reads from memory
    for w in a.workers.split(","):
        os.environ["WILDGAN_DECODE_WORKERS"] = w.strip()
        n_proc = decode_workers(n_files)
        best = float("inf")
        for _ in range(max(1, a.repeat)):
            t = time.perf_counter()
            x, ids = load_images([root], a.resolution, 3)
            best = min(best, time.perf_counter() - t)
        digest = hashlib.sha256(x.tobytes()).hexdigest()[:16]
        digest0 = digest0 or digest
        rows.append({"workers": w.strip(), "processes": n_proc, "images": len(ids), "seconds": round(best, 3),
                     "img_per_s": round(len(ids) / best, 1), "same_pixels": digest == digest0})
    print(f"\n{n_files} files under {root}, converted to {a.resolution}x{a.resolution}x3; {cores} usable cores; "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print("| WILDGAN_DECODE_WORKERS | processes | images | best of runs, s | img/s | speed-up | same pixels |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['processes']} | {r['images']} | {r['seconds']:.2f} | {r['img_per_s']:,.0f} | "
              f"{r['img_per_s'] / rows[0]['img_per_s']:.2f}x | {'yes' if r['same_pixels'] else 'NO'} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"files": n_files, "cores": cores, "rows": rows}, indent=2))
    return 0 if all(r["same_pixels"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
