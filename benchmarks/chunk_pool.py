#!/usr/bin/env python
"""Decoding a pile of image files chunk by chunk (what `wildgan score` does): seconds for the whole pile.

`iter_images` decodes and converts each chunk; with WILDGAN_DECODE_WORKERS > 1 the chunks of a job share one pool of
processes. `--per-chunk-pools` makes this wildgan's older rule take effect where it still exists (a pool per chunk
of large files); on the current code it has no effect, since the job's pool is used instead.

    WILDGAN_DECODE_WORKERS=1 python benchmarks/chunk_pool.py --data /tmp/wildgan-train-memory/pile-3000-128
    WILDGAN_DECODE_WORKERS=2 python benchmarks/chunk_pool.py --data /tmp/wildgan-train-memory/pile-3000-128
(benchmarks/train_memory.py writes such a pile.)
"""

from __future__ import annotations

import argparse
import os
import time

import wildgan.data.decode_pool as P
import wildgan.data.readers as R


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a folder of image files")
    ap.add_argument("--chunk", type=int, default=300, help="files per chunk")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--per-chunk-pools", action="store_true")
    a = ap.parse_args()
    if a.per_chunk_pools:
        P.CHUNK_POOL_MIN_BYTES = 1
    files = R.list_image_files([a.data])
    chunks = [range(i, min(i + a.chunk, len(files))) for i in range(0, len(files), a.chunk)]
    t = time.perf_counter()
    n = sum(len(k) for _, k, _ in R.iter_images(files, a.resolution, 3, chunks=chunks))
    print(f"WILDGAN_DECODE_WORKERS={os.environ.get('WILDGAN_DECODE_WORKERS')}: {n} images in {len(chunks)} chunks, "
          f"{time.perf_counter() - t:.2f} s")


if __name__ == "__main__":      # the pool's spawned processes import this script again
    main()
