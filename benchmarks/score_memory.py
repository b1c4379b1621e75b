#!/usr/bin/env python
"""Peak memory and time of `wildgan score RUN --data FOLDER` on a pile of image files, per chunk size.

Writes a pile of N smooth random JPEGs (R x R RGB), trains a `tiny` run on 128 of them for a few steps (its
weights do not matter here: the pixels held in memory do), then scores the pile once per --chunks entry, each in a
fresh process that reports its own peak RSS (resource.getrusage). Also checks that every chunk size wrote the same
CSV (the score batches are drawn over the whole file list). Prints one Markdown table and writes --json.

    OMP_NUM_THREADS=1 python benchmarks/score_memory.py --files 10000 --resolution 128 --chunks 512,2048,default
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import resource, sys
from wildgan.cli import main
rc = main(sys.argv[1:])
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def make_pile(folder: Path, n: int, resolution: int, seed: int, ext: str = "jpg", noise: int = 16) -> None:
    """n images of upsampled noise (noise x noise, RGB) at resolution, as .jpg (quality 90) or .png; kept if the
    folder already holds n of them."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob(f"*.{ext}"))) == n:
        return
    rng = np.random.default_rng(seed)
    for i in range(n):    # upsampled noise: small files, so the disk is not the limit
        a = rng.integers(0, 256, (noise, noise, 3), dtype=np.uint8)
        Image.fromarray(a).resize((resolution, resolution), Image.Resampling.BILINEAR).save(
            folder / f"{i:06d}.{ext}", **({"quality": 90} if ext == "jpg" else {}))


def report(title: str, columns: dict[str, str], rows: list[dict], json_path: str | None, record: dict) -> None:
    """Print the title and one Markdown table (columns: row key -> header), and write record + rows to json_path
    (the memory benchmarks report alike)."""
    print(title + "\n")
    print("| " + " | ".join(columns.values()) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in columns) + " |")
    if json_path:
        Path(json_path).write_text(json.dumps({**record, "rows": rows}, indent=1))


def run_child(child: str, args: list[str], marker: str, what: str = "") -> tuple[float, list[int], str]:
    """Run the Python source `child` with `args` in a fresh process: its wall time, the integers on its stderr line
    that starts with `marker`, and its stderr; a failure ends the benchmark naming `what` and the args."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", child, *args], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{what}{' '.join(args)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    line = next(line for line in p.stderr.splitlines() if line.startswith(marker))
    return dt, [int(v) for v in line.split()[1:]], p.stderr


def run_cli(args: list[str]) -> tuple[float, int, str]:
    dt, (peak,), err = run_child(CHILD, args, "PEAK_RSS_KB", "wildgan ")
    return dt, peak, err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--chunks", default="512,2048,default", help="comma separated chunk sizes; 'default' = none given")
    ap.add_argument("--workdir", default="/tmp/wildgan-score-memory")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    work = Path(a.workdir)
    make_pile(work / "pile", a.files, a.resolution, 0)
    make_pile(work / "train", 128, a.resolution, 1)
    run = work / "run"
    if not (run / "network-final.json").is_file():
        run_cli(["train", "--data", str(work / "train"), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg",
                 "0.01", "--threads", "1", "--no-progress", "--overwrite", "--out", str(run)])
    pixels_mb = a.files * a.resolution ** 2 * 3 / 2**20
    _, base_kb, _ = run_cli(["score", str(run), "--data", str(work / "pile" / "000000.jpg"), "--no-progress",
                             "--out", str(work / "one.csv")])
    rows, csvs = [], []
    for c in a.chunks.split(","):
        out = work / f"scores-{c}.csv"
        extra = [] if c == "default" else ["--chunk-size", c]
        dt, kb, err = run_cli(["score", str(run), "--data", str(work / "pile"), "--no-progress", "--out", str(out),
                               *extra])
        chunks = next((w.split(" chunks")[0].split()[-1] for w in err.splitlines() if "read in " in w), "1")
        rows.append({"chunk_size": c, "chunks": int(chunks), "seconds": round(dt, 2), "peak_rss_mb": round(kb / 1024),
                     "above_one_file_mb": round((kb - base_kb) / 1024)})
        csvs.append(out.read_bytes())
    same = all(b == csvs[0] for b in csvs)
    report(f"{a.files} files, {a.resolution}x{a.resolution}x3 ({pixels_mb:.0f} MB of uint8 pixels); scoring one "
           f"file: peak RSS {base_kb / 1024:.0f} MB; every chunk size wrote the same CSV: {same}",
           {"chunk_size": "--chunk-size", "chunks": "chunks", "seconds": "time s", "peak_rss_mb": "peak RSS MB",
            "above_one_file_mb": "above scoring one file MB"}, rows, a.json,
           {"files": a.files, "resolution": a.resolution, "pixels_mb": pixels_mb,
            "one_file_peak_rss_mb": base_kb / 1024, "same_csv": same})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
