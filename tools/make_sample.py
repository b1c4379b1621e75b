"""Regenerate src/wildgan/data/sample/mnist-sample.npz from the full MNIST npz (see sample/SOURCE.md).

usage: python tools/make_sample.py [PATH/TO/mnist.npz]   (default: ../shared/data/mnist/mnist.npz)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "wildgan" / "data" / "sample" / "mnist-sample.npz"
N_TRAIN, N_TEST = 600, 200  # per digit


def first_per_class(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n images of each digit 0..9, in their original order, grouped by digit."""
    idx = np.concatenate([np.flatnonzero(y == d)[:n] for d in range(10)])
    return x[idx].astype(np.uint8), y[idx].astype(np.uint8)


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "mnist" / "mnist.npz"
    with np.load(src, allow_pickle=False) as z:
        x_train, y_train = first_per_class(z["x_train"], z["y_train"], N_TRAIN)
        x_test, y_test = first_per_class(z["x_test"], z["y_test"], N_TEST)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                        class_names=np.array([str(d) for d in range(10)]))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): train {x_train.shape}, test {x_test.shape}")


if __name__ == "__main__":
    main()
