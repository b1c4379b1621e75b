#!/usr/bin/env python
"""Peak memory of Detector.decision_function on a tar archive of image files: read whole (the path before fixFS,
to_images then one scoring of the whole array) against read and scored in chunks (scoring.run.score_files, the path
now), per pile size and chunk size.

Writes piles of N small random PNGs (R x R RGB) as .tar archives, trains a `tiny` run on 128 JPEGs for a few steps
(its weights do not matter here: the pixels held in memory do), unpacks each archive once into the cache (both paths
read the same unpacked tree), then scores each archive once per way, each in a fresh process that reports the peak
of the memory Python and numpy allocated during the call (tracemalloc: the decoded pixels, not torch's tensors, which
hold one score batch) and its own peak RSS (resource.getrusage, torch's import and the Detector's load included).
Also checks that both ways give the same scores. Prints one Markdown table and writes --json.

    OMP_NUM_THREADS=1 python benchmarks/detector_tar_memory.py --files 2000,4000 --resolution 64 --chunks 512,default
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_memory import make_pile, report, run_child, run_cli  # noqa: E402  (the sibling benchmark's training pile, table)

CHILD = """
import json, resource, sys, tracemalloc
import numpy as np
import wildgan.scoring.run as scoring_run
from wildgan import Detector
run, archive, way, chunk, out = sys.argv[1:]
det = Detector.from_run(run, threshold="mad", device="cpu")
if chunk != "default":      # images per chunk: as many bytes of uint8 pixels (default_chunk_size's rule)
    r, c = det.model_.cfg.net.resolution, det.model_.cfg.net.channels
    scoring_run.SCORE_CHUNK_BYTES = int(chunk) * r * r * c
tracemalloc.start()
if way == "whole":          # decision_function before fixFS: the archive read whole, then scored
    s = det._score_u8(det._images(archive), with_A=det._needs_A())[det.score_]
else:
    s = det.decision_function(archive)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
np.save(out, s)
print("PEAKS", peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def make_tar(folder: Path, archive: Path) -> None:
    if archive.is_file():
        return
    with tarfile.open(archive, "w") as tf:
        tf.add(folder, arcname=folder.name)


def run_peaks(args: list[str]) -> tuple[float, int, int]:
    dt, (traced, rss), _ = run_child(CHILD, args, "PEAKS")
    return dt, traced, rss


def main() -> int:
    import os

    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", default="2000,4000", help="comma separated pile sizes")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--chunks", default="512,default", help="images per chunk of the chunked way; 'default' = none")
    ap.add_argument("--workdir", default="/tmp/wildgan-detector-tar-memory")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    work = Path(a.workdir)
    os.environ["WILDGAN_CACHE"] = str(work / "cache")      # (the children inherit it: one unpack per archive)
    make_pile(work / "train", 128, a.resolution, 1)
    run = work / "run"
    if not (run / "network-final.json").is_file():
        run_cli(["train", "--data", str(work / "train"), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg",
                 "0.01", "--threads", "1", "--no-progress", "--overwrite", "--out", str(run)])
    rows, same = [], True
    for n in (int(f) for f in a.files.split(",")):
        pile = work / f"pile{n}"
        make_pile(pile, n, a.resolution, 0, ext="png", noise=8)
        archive = work / f"pile{n}.tar"
        make_tar(pile, archive)
        from wildgan.data.readers import image_tar_tree

        image_tar_tree(archive)                   # unpacked once, before any way is measured
        ways = [("whole", "default")] + [("chunked", c) for c in a.chunks.split(",")]
        first = None
        for way, chunk in ways:
            out = work / f"s-{n}-{way}-{chunk}.npy"
            dt, traced, rss_kb = run_peaks([str(run), str(archive), way, chunk, str(out)])
            s = np.load(out)
            first = s if first is None else first
            same = same and bool(np.allclose(s, first, rtol=1e-6, atol=1e-7))
            rows.append({"files": n, "way": way, "chunk": chunk, "seconds": round(dt, 1),
                         "traced_mb": round(traced / 2**20), "peak_rss_mb": round(rss_kb / 1024)})
    report(f"tar archives of {a.files} PNG files, {a.resolution}x{a.resolution}x3 "
           f"({a.resolution ** 2 * 3 / 2**20 * 1000:.0f} MB of uint8 pixels per 1000 images); both ways the same "
           f"scores: {same}",
           {"files": "files", "way": "way", "chunk": "images per chunk", "seconds": "time s",
            "traced_mb": "peak traced during the call MB", "peak_rss_mb": "peak RSS MB"}, rows, a.json,
           {"resolution": a.resolution, "same_scores": same})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
