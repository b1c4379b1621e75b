"""The data layer on the real data sets in ../shared/data (skipped when absent).

The CIFAR-10 JPEG archive's reading (unpack, decode, decoded cache) and protocol run on a subset of it, written by
the tests as a .tar.gz of the same layout: every automobile (the protocol's normal class, so its counts are the
real ones) and a few of each other class. Unpacking and decoding all 60,000 images took ~30 CPU seconds of a cold
cache (a fresh CI machine) for nothing those tests check; one test lists the whole real archive (its 50,000 + 10,000
images, 5,000 + 1,000 per class) and its detected format without decoding it.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from wildgan.config import DataConfig
from wildgan.data import build_split, default_sample_path, load_dataset
from wildgan.data.dataset_files import CIFAR10_CLASSES
from wildgan.data.download import archive_member_names
from wildgan.data.readers import detect_format

pytestmark = pytest.mark.integration

# the subset: every automobile, and of each other class this many training and test images (more than the
# protocol draws from them: 102 contaminants at gamma 0.02 from the training ones, 1,000 test anomalies)
OTHERS_TRAIN, OTHERS_TEST = 30, 150


@pytest.fixture(scope="module")
def real_cifar_tar(shared_data) -> Path:
    p = shared_data / "cifar10" / "cifar10-jpeg.tar.gz"
    if not p.is_file():
        pytest.skip(f"{p} missing")
    return p


@pytest.fixture(scope="module")
def subset_dir(real_cifar_tar, tmp_path_factory) -> Path:
    """The subset of the real archive (cifar10-jpeg.tar.gz, the real one's name and layout, its JPEG files' bytes
    unchanged) and, beside it, the one cache (cache/) the module's tests read it through: unpacked and decoded once
    for all of them."""
    root = tmp_path_factory.mktemp("cifar-subset")
    kept: Counter = Counter()
    limit = {"train": OTHERS_TRAIN, "test": OTHERS_TEST}
    with tarfile.open(real_cifar_tar, "r:gz") as src, \
            tarfile.open(root / "cifar10-jpeg.tar.gz", "w:gz", compresslevel=1) as dst:
        for m in src:
            parts = m.name.split("/")
            if m.isfile():
                split, cls = parts[0], parts[1]
                if cls != "automobile" and kept[split, cls] >= limit[split]:
                    continue
                kept[split, cls] += 1
                dst.addfile(m, io.BytesIO(src.extractfile(m).read()))
            else:
                dst.addfile(m)
    return root


@pytest.fixture
def cifar_tar(subset_dir, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The subset, read through the module's own cache: set for each test that asks for it and put back after it (a
    WILDGAN_CACHE left set would move where later tests of the xdist worker unpack their archives)."""
    monkeypatch.setenv("WILDGAN_CACHE", str(subset_dir / "cache"))
    return subset_dir / "cifar10-jpeg.tar.gz"


def _per_class(normal: int, others: int) -> list[int]:
    return [normal if c == "automobile" else others for c in CIFAR10_CLASSES]


def test_the_real_cifar_jpeg_tar_holds_every_image_as_a_class_tree(real_cifar_tar):
    """The real archive (not decoded: the subset's tests read its files): a tree of class folders, the format its
    read detects, with every CIFAR-10 image, 5,000 training and 1,000 test images of each class."""
    assert detect_format(real_cifar_tar) == "folder-tar"
    files = [n for n in archive_member_names(real_cifar_tar, limit=None) if n.endswith(".jpg")]
    counts = Counter(tuple(n.split("/")[:2]) for n in files)
    assert {split for split, _ in counts} == {"train", "test"} and all(n.count("/") == 2 for n in files)
    assert [counts["train", c] for c in CIFAR10_CLASSES] == [5000] * 10
    assert [counts["test", c] for c in CIFAR10_CLASSES] == [1000] * 10
    assert len(files) == 60000


def test_cifar_jpeg_tar_loads_and_caches(cifar_tar):
    t0 = time.perf_counter()
    train, test, kind = load_dataset(cifar_tar, "cifar10", resolution=32, channels=3, fit="resize")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    train2, _, _ = load_dataset(cifar_tar, "cifar10", resolution=32, channels=3, fit="resize")
    second = time.perf_counter() - t0
    print(f"cifar10 jpeg subset: first load {first:.1f}s, second load {second:.2f}s")
    assert kind == "folder-tar" and train.class_names == CIFAR10_CLASSES
    n_train, n_test = 5000 + 9 * OTHERS_TRAIN, 1000 + 9 * OTHERS_TEST
    assert train.x.shape == (n_train, 32, 32, 3) and test.x.shape == (n_test, 32, 32, 3)
    assert np.bincount(train.y).tolist() == _per_class(5000, OTHERS_TRAIN)
    assert np.bincount(test.y).tolist() == _per_class(1000, OTHERS_TEST)
    assert np.array_equal(train2.x[:100], train.x[:100]) and second < 5


@pytest.mark.parametrize("gamma,n_train", [(0.0, 5000), (0.02, 5102)])
def test_cifar_car_protocol(cifar_tar, gamma, n_train):
    s = build_split(DataConfig(data=str(cifar_tar), dataset="cifar10", normal=("automobile",), contamination=gamma))
    assert s.train_x.shape == (n_train, 32, 32, 3) and s.train_is_anomaly.sum() == n_train - 5000
    assert s.test_x.shape == (2000, 32, 32, 3) and s.test_y.sum() == 1000
    assert all(i.startswith("train/automobile/") for i, a in zip(s.train_ids, s.train_is_anomaly) if not a)
    assert all(i.startswith("test/") for i in s.test_ids)
    assert s.info["protocol"] == "cifar10" and s.info["seed"] == 0
    json.dumps(s.info)


def test_cifar_auto_detected(cifar_tar):
    s = build_split(DataConfig(data=str(cifar_tar), normal=("automobile",), contamination=0.02))
    assert s.info["protocol"] == "cifar10" and len(s.train_x) == 5102


def test_cifar_lossless_npz(shared_data):
    p = shared_data / "cifar10" / "cifar10-lossless-subset.npz"
    train, test, kind = load_dataset(p)
    assert kind == "npz" and train.x.shape == (4000, 32, 32, 3) and test.x.shape == (1000, 32, 32, 3)
    assert train.class_names == CIFAR10_CLASSES
    s = build_split(DataConfig(data=str(p), normal=("automobile",), contamination=0.02))
    assert s.info["protocol"] == "cifar10"
    n = int((train.y == 1).sum())
    assert s.info["n_normal_train"] == n and len(s.train_x) == n + int(0.02 * n / 0.98)
    assert s.test_y.sum() == (s.test_y == 0).sum() == (test.y == 1).sum()


def test_chula_split_by_photo(shared_data):
    p = shared_data / "chula-rbc12" / "chula-rbc12-gray64.npz"
    s = build_split(DataConfig(data=str(p), contamination=0.02))
    info = s.info
    assert info["protocol"] == "chula-rbc12" and (s.resolution, s.channels) == (64, 1)
    assert s.train_x.shape[1:] == (64, 64, 1)
    assert len(s.train_x) == 4 * (info["n_normal_train"] + info["n_contamination"])
    assert len(s.test_y) == 512 and s.test_y.sum() == 256
    with np.load(p) as z:
        gid = z["image_id"]
    photo = lambda i: int(gid[int(i.split("#")[0].split(":")[-1])])  # noqa: E731
    assert {photo(i) for i in s.train_ids}.isdisjoint({photo(i) for i in s.test_ids})
    s2 = build_split(DataConfig(data=str(p), exclude_classes=("elliptocyte",), rotations=0, test_size="all"))
    assert "elliptocyte" not in s2.info["anomaly_classes"] and s2.info["excluded_classes"] == ["elliptocyte"]


def test_mnist_full_and_sample(shared_data):
    s = build_split(DataConfig(data=str(shared_data / "mnist" / "mnist.npz"), normal=("2",), contamination=0.02))
    assert s.info["protocol"] == "mnist" and s.train_x.shape[1:] == (32, 32, 1)
    with np.load(shared_data / "mnist" / "mnist.npz") as full, np.load(default_sample_path()) as sample:
        for d in range(10):  # the sample is the first 600 / 200 of each digit
            for split, n in (("train", 600), ("test", 200)):
                mine = sample[f"x_{split}"][sample[f"y_{split}"] == d]
                assert np.array_equal(mine, full[f"x_{split}"][full[f"y_{split}"] == d][:n])
