#!/usr/bin/env python
"""Reading images given as nested Python lists (e.g. decoded from JSON): seconds for the Python API's reads of N
images of HxWxC integers as nested lists, beside the same images as one uint8 array, best of --repeat.

Rows: to_images (what decision_function / predict read, converted to the network input), Detector fit's read
(Detector._images_split: the float range, the images and the conversion, no training), and one image's lists
through to_numpy (the per-image conversion both use). Every read is checked to give the array's pixels exactly.

Run it on two checkouts to compare (the numbers of one machine only mean something beside each other):

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/nested_lists.py            # 2,000 images of 32x32x3
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/nested_lists.py --n 500 --size 64 --repeat 5
"""

from __future__ import annotations

import argparse
import sys
import warnings

from timing import timed  # (benchmarks/timing.py: this folder is on sys.path when run as a script)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="images (default 2000)")
    p.add_argument("--size", type=int, default=32, help="image side, and the network resolution (default 32)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3), help="channels (default 3)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per row, the best is kept (default 3)")
    a = p.parse_args(argv)

    import numpy as np

    from wildgan.data.inputs import to_images, to_numpy
    from wildgan.detector import Detector

    shape = (a.n, a.size, a.size, a.channels)
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    lists = x.tolist()                                  # a list of H lists of W lists of C ints per image
    det = Detector(preset="tiny", resolution=a.size, channels=a.channels, device="cpu")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn, want in (
                ("to_images, one uint8 array", lambda: to_images(x, a.size, a.channels)[0], x),
                ("to_images, nested lists", lambda: to_images(lists, a.size, a.channels)[0], x),
                ("fit's read (_images_split), nested lists", lambda: det._images_split(lists)[0].train_x, x),
                ("to_numpy of each image's lists", lambda: np.stack([to_numpy(i) for i in lists]), x)):
            secs, got = timed(fn, a.repeat)
            same = got.shape == want.shape and bool((got == want).all())
            rows.append((name, secs, same))
    print(f"{a.n} images of {a.size}x{a.size}x{a.channels}, best of {a.repeat}")
    print(f"| {'read':42s} | {'seconds':>8s} | {'us/image':>8s} | pixels as the array's |")
    print(f"| {'-' * 42} | {'-' * 8} | {'-' * 8} | --------------------- |")
    for name, secs, same in rows:
        print(f"| {name:42s} | {secs:8.3f} | {secs / a.n * 1e6:8.0f} | {'yes' if same else 'NO':21s} |")
    return 0 if all(same for *_, same in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
