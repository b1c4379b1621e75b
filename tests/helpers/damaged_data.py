"""Data sets whose labels are damaged, and tiny runs trained on them, for the tests of the advice on damaged labels
(test_cifar_batches_reading, test_score_damaged_data_advice, test_evaluate_report_study_damaged_labels,
test_training_scores_reread_advice, test_from_run_lazy_scores): fake CIFAR-10 batches (labels outside 0..9, a
batches.meta without label_names), a class-folder tree with an image beside its class folders."""

from __future__ import annotations

import contextlib
import pickle
import tarfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

# a tiny Detector.fit of 8x8 images (about a second)
TINY_FIT: dict[str, Any] = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu",
                                threads=1)


def write_meta(folder: Path, names: bool) -> None:
    """folder/batches.meta with CIFAR-10's label_names, or a damaged one without them."""
    from wildgan.data.dataset_files import CIFAR10_CLASSES

    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES]} if names else {b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))


def write_batches(folder: Path, n: int, labels: Callable[[str, np.random.Generator], list[int]], seed: int,
                  meta: dict | None = None) -> Path:
    """A fake cifar-10-batches-py folder (made if missing) of n 32x32x3 images per batch file: each batch's labels
    are labels(name, rng), drawn before its images; meta, where given, its batches.meta. Returns the folder."""
    from wildgan.data.dataset_files import CIFAR_BATCH_FILES

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in CIFAR_BATCH_FILES:
        d = {b"labels": labels(name, rng), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(d, protocol=3))
    if meta is not None:
        (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    return folder


def small_batches(folder: Path, meta: dict) -> Path:
    """A complete fake cifar-10-batches-py folder of 2 32x32x3 images per batch (labels 0 and 1), with meta as its
    batches.meta."""
    return write_batches(folder, 2, lambda name, rng: [0, 1], seed=1, meta=meta)


def damaged_cifar(where: Path, damage: str, given: str) -> Path:
    """A tiny where/cifar-10-batches-py folder (given "folder") or a where/c.tar.gz of it (given "archive") whose
    test_batch's labels are outside 0..9 (damage "labels"), or whose batches.meta has no label_names ("meta")."""
    def labels(name: str, rng: np.random.Generator) -> list[int]:
        return [12] * 4 if damage == "labels" and name == "test_batch" else [int(v) for v in rng.integers(0, 10, 4)]

    folder = where / "cifar-10-batches-py"
    write_batches(folder, 4, labels, seed=0)
    write_meta(folder, names=damage != "meta")
    if given == "folder":
        return folder
    archive = where / "c.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname="cifar-10-batches-py")
    return archive


def tree_with_loose_image(where: Path) -> Path:
    """A class-folder tree where/tree (a/, b/, 24 8x8 images each) with one image, loose.png, beside the class
    folders."""
    from PIL import Image

    tree = where / "tree"
    rng = np.random.default_rng(5)
    for name in [f"{c}/{i}.png" for c in "ab" for i in range(24)] + ["loose.png"]:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tree / name)
    return tree


def fit_run(run: Path) -> Path:
    """A tiny Detector.fit run at run: a run without a protocol of its own, which scores a data-set file whole."""
    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(**TINY_FIT, run_dir=str(run)).fit(x)
    return run


def train_run(data: Path, normal: str, out: Path) -> Path:
    """A tiny `wildgan train` run at out on data (its normal class: normal), no training scores cached."""
    from wildgan.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(data), "--normal", normal, "--preset", "tiny", "--resolution", "8",
                     "--total-kimg", "0.05", "--phase-kimg", "0.03", "--threads", "1", "--no-progress",
                     "--no-train-scores", "--out", str(out)]) == 0
    return out


def cifar_train_run(where: Path) -> Path:
    """A tiny `wildgan train` run at where/run on CIFAR-10 batches where/cifar-10-batches-py (8 images per batch; the
    training batches all airplanes, the normal class) with a sound batches.meta, for the tests to damage."""
    def labels(name: str, rng: np.random.Generator) -> list[int]:
        return [int(v) for v in rng.integers(0, 2, 8)] if name == "test_batch" else [0] * 8

    folder = write_batches(where / "cifar-10-batches-py", 8, labels, seed=0)
    write_meta(folder, names=True)
    return train_run(folder, "airplane", where / "run")


def cifar_run_and_batches(where: Path) -> tuple[Path, Path]:
    """(run, its data): cifar_train_run(where) and its batches where/cifar-10-batches-py (no training scores
    cached)."""
    return cifar_train_run(where), where / "cifar-10-batches-py"


def cifar10_protocol_run(root: Path, meta: dict | None) -> tuple[Path, Path]:
    """(run, its data): a tiny `wildgan train` run at root/run of fake CIFAR-10 batches root/data/cifar-10-batches-py
    (40 images per batch) under the cifar10 protocol, trained with meta as their batches.meta (None: none, CIFAR-10's
    own names), whose batches.meta was damaged since (it has no label_names now)."""
    from wildgan.cli import main

    folder = write_batches(root / "data" / "cifar-10-batches-py", 40, lambda name, rng: [i % 10 for i in range(40)],
                           seed=1, meta=meta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(folder), "--out", str(root / "run"), "--preset", "tiny", "--total-kimg",
                     "0.032", "--phase-kimg", "0.1", "--resolution", "8", "--device", "cpu", "--threads", "1",
                     "--no-progress"]) == 0
    write_meta(folder, names=False)
    return root / "run", folder


@contextlib.contextmanager
def meta_damaged(folder: Path) -> Iterator[Path]:
    """folder's batches.meta without label_names for the with-block, CIFAR-10's put back after it (folder: a module
    fixture's batches, which the other tests read sound)."""
    write_meta(folder, names=False)
    try:
        yield folder
    finally:
        write_meta(folder, names=True)
