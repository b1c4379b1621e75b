#!/usr/bin/env python
"""Peak host memory of training on a pile of image files, by stage, as a multiple of the decoded pile.

Writes a pile of N smooth random JPEGs (R x R RGB), then runs each stage in a fresh process that reports its own
peak RSS (resource.getrusage), minus that of a process that only imported wildgan and torch:
  load   - data.load_dataset (decoding the files into one uint8 array)
  split  - data.build_split (load + the shuffled training set)
  train  - `wildgan train` for a few steps on the CPU (split + the resolution pyramid + networks; no scoring)
The decoded pile is N * R * R * 3 bytes; a stage at 1.0x holds one copy of it. Prints one Markdown table, writes
--json. --classes K: the same files as a labelled tree of K class folders (links), trained with class c0 as the
normal class and the generic protocol's hold-out test split.

    OMP_NUM_THREADS=1 python benchmarks/train_memory.py --files 4000 --resolution 128
    OMP_NUM_THREADS=1 python benchmarks/train_memory.py --files 4000 --resolution 128 --classes 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from score_memory import make_pile, report  # noqa: E402  (the same pile of smooth JPEGs, the same report)

CHILD = """
import resource, sys
stage, pile, out, labelled = sys.argv[1:5]
import torch  # noqa: F401  (the baseline imports it too: its libraries are not the data)
import wildgan.cli
kind = ["--dataset", "folder", "--normal", "c0"] if labelled == "1" else ["--dataset", "unlabelled"]
if stage == "load":
    from wildgan.data import load_dataset
    train, test, _ = load_dataset(pile, kind[1], progress=False)
elif stage == "split":
    from wildgan.config import DataConfig
    from wildgan.data import build_split
    extra = {"normal": ("c0",)} if labelled == "1" else {}
    split = build_split(DataConfig(data=pile, dataset=kind[1], **extra), progress=False)
elif stage == "train":
    rc = wildgan.cli.main(["train", "--data", pile, *kind, "--preset", "tiny", "--total-kimg",
                           "0.02", "--threads", "1", "--no-progress", "--no-train-scores", "--overwrite", "--out", out])
    assert rc == 0, rc
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak_kb(stage: str, pile: Path, out: Path, labelled: bool) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, stage, str(pile), str(out), "1" if labelled else "0"],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"stage {stage} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    kb = next(int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return time.perf_counter() - t, kb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--stages", default="load,split,train")
    ap.add_argument("--classes", type=int, default=0, help="a labelled tree of this many class folders")
    ap.add_argument("--workdir", default="/tmp/wildgan-train-memory")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    work = Path(a.workdir)
    pile = work / f"pile-{a.files}-{a.resolution}"
    make_pile(pile, a.files, a.resolution, 0)
    if a.classes:
        tree = work / f"tree-{a.files}-{a.resolution}-{a.classes}"
        if not tree.is_dir():
            for i, f in enumerate(sorted(pile.glob("*.jpg"))):
                (tree / f"c{i % a.classes}").mkdir(parents=True, exist_ok=True)
                (tree / f"c{i % a.classes}" / f.name).symlink_to(f)
        pile = tree
    pixels_mb = a.files * a.resolution ** 2 * 3 / 2**20
    _, base_kb = peak_kb("none", pile, work / "run", bool(a.classes))
    rows = []
    for stage in a.stages.split(","):
        dt, kb = peak_kb(stage, pile, work / "run", bool(a.classes))
        above = (kb - base_kb) / 1024
        rows.append({"stage": stage, "seconds": round(dt, 1), "peak_rss_mb": round(kb / 1024),
                     "above_baseline_mb": round(above), "x_pile": round(above / pixels_mb, 2)})
    what = f" in {a.classes} class folders (normal: c0)" if a.classes else ""
    report(f"{a.files} files{what}, {a.resolution}x{a.resolution}x3: decoded pile {pixels_mb:.0f} MB; a process with "
           f"wildgan and torch imported: peak RSS {base_kb / 1024:.0f} MB",
           {"stage": "stage", "seconds": "time s", "peak_rss_mb": "peak RSS MB",
            "above_baseline_mb": "above baseline MB", "x_pile": "x decoded pile"}, rows, a.json,
           {"files": a.files, "resolution": a.resolution, "classes": a.classes, "pixels_mb": pixels_mb,
            "baseline_peak_rss_mb": base_kb / 1024})
    return 0


if __name__ == "__main__":
    sys.exit(main())
