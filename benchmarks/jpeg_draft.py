#!/usr/bin/env python
"""Reading large JPEGs for a small resolution: decoded at a reduced scale (the draft, data.image_decode.JPEG_DRAFT_GAP)
against decoded whole and then shrunk. Per resolution: ms per photo both ways, the speed-up, and how far the pixels
are apart (mean / 99th percentile / largest absolute difference, in levels of 255).

Each way reads the same generated photos with load_images in this process (one decoding process, so the times are
one core's), best of --repeat. "whole" is the reader with the draft switched off (image_decode._DRAFT_FORMATS emptied),
otherwise the same code: the one conversion, the same resampling. Also times the Detector's reading of the photos
(to_images), which shrinks them the same way.

    python benchmarks/jpeg_draft.py                          # 12 photos of 4000x3000 and 12 of 2000x1500
    python benchmarks/jpeg_draft.py --sizes 6000x4000 --photos 6 --res 64,256 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

from timing import timed  # (benchmarks/timing.py: this folder is on sys.path when run as a script)


def make_photos(folder: Path, n: int, w: int, h: int) -> None:
    """n JPEGs (quality 90) with photo-like content: smooth shapes, fine texture, sensor-like noise, an edge.
    Texture and noise are the hard case for a reduced-scale decode (what the DCT scaling drops is detail)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        base = 128 + 60 * np.sin(xx / (37.0 + i) + i) * np.cos(yy / 53.0) + 30 * np.sin((xx + yy) / 7.3)
        img = np.stack([base, np.roll(base, 50, 1), np.roll(base, 90, 0)], -1)
        img += rng.normal(0, 12, img.shape).astype(np.float32)
        img[h // 3:h // 2, w // 4:w // 2] = 30
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i:04d}.jpg", quality=90)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="4000x3000,2000x1500", help="photo sizes WxH, comma separated")
    p.add_argument("--photos", type=int, default=12, help="photos per size (default 12)")
    p.add_argument("--res", default="32,64,128,256", help="resolutions, comma separated")
    p.add_argument("--repeat", type=int, default=2, help="timed runs per entry, the best is kept (default 2)")
    p.add_argument("--json", help="write the rows here")
    a = p.parse_args(argv)

    import numpy as np

    import wildgan.data.image_decode as D
    from wildgan.data import load_images
    from wildgan.detector import to_images

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in a.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            folder = Path(tmp) / size
            make_photos(folder, a.photos, w, h)
            mb = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
            for res in (int(r) for r in a.res.split(",")):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")          # (the centre-crop note)
                    kept = D._DRAFT_FORMATS
                    try:
                        D._DRAFT_FORMATS = ()
                        t_whole, (x_whole, _) = timed(lambda: load_images([folder], res, 3), a.repeat)
                    finally:
                        D._DRAFT_FORMATS = kept
                    t_draft, (x_draft, _) = timed(lambda: load_images([folder], res, 3), a.repeat)
                    t_det, (x_det, _) = timed(lambda: to_images(folder, resolution=res), a.repeat)
                d = np.abs(x_draft.astype(np.int16) - x_whole)
                row = {"size": size, "photos": a.photos, "jpeg_mb": round(mb, 1), "res": res,
                       "ms_whole": 1000 * t_whole / a.photos, "ms_draft": 1000 * t_draft / a.photos,
                       "speedup": t_whole / t_draft, "ms_detector": 1000 * t_det / a.photos,
                       "detector_same_pixels": bool(np.array_equal(x_det, x_draft)),
                       "mean_diff": float(d.mean()), "p99_diff": float(np.percentile(d, 99)), "max_diff": int(d.max())}
                rows.append(row)
                print(f"{size} @ {res}: whole {row['ms_whole']:.0f} ms, draft {row['ms_draft']:.0f} ms "
                      f"(x{row['speedup']:.1f}), mean diff {row['mean_diff']:.2f}", file=sys.stderr)
    print("| photo | res | ms/photo, whole | ms/photo, draft | speed-up | Detector ms/photo (same pixels) "
          "| mean / p99 / max diff |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['res']} | {r['ms_whole']:.1f} | {r['ms_draft']:.1f} | {r['speedup']:.1f}x | "
              f"{r['ms_detector']:.1f} ({'yes' if r['detector_same_pixels'] else 'NO'}) | "
              f"{r['mean_diff']:.2f} / {r['p99_diff']:.0f} / {r['max_diff']} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
