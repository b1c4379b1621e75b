"""The data layer on the real data sets in ../shared/data (skipped when absent).

The first CIFAR JPEG unpack + decode takes ~20 s; the cache is shared between runs ($WILDGAN_CACHE, else
<tmp>/wildgan-test-cache), so a second run loads it in well under a second.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from wildgan.config import DataConfig
from wildgan.data import build_split, default_sample_path, load_dataset
from wildgan.data.dataset_files import CIFAR10_CLASSES

pytestmark = pytest.mark.integration


@pytest.fixture
def data_cache(monkeypatch: pytest.MonkeyPatch) -> Path:
    """One cache for these tests (and every run): keeps the CIFAR unpack + decode a one-off. Set for each test that
    asks for it and put back after it: a session fixture that set os.environ itself left $WILDGAN_CACHE set for every
    later test of the xdist worker (CI mixes unit and integration tests in one worker), so where their archives
    unpacked depended on whether a CIFAR test had run before them in that worker."""
    old = os.environ.get("WILDGAN_CACHE")
    path = Path(old) if old else Path(tempfile.gettempdir()) / "wildgan-test-cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(path))
    return path


@pytest.fixture
def cifar_tar(shared_data, data_cache) -> Path:
    p = shared_data / "cifar10" / "cifar10-jpeg.tar.gz"
    if not p.is_file():
        pytest.skip(f"{p} missing")
    return p


def test_cifar_jpeg_tar_loads_and_caches(cifar_tar):
    t0 = time.perf_counter()
    train, test, kind = load_dataset(cifar_tar, "cifar10", resolution=32, channels=3, fit="resize")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    train2, _, _ = load_dataset(cifar_tar, "cifar10", resolution=32, channels=3, fit="resize")
    second = time.perf_counter() - t0
    print(f"cifar10 jpeg: first load {first:.1f}s, second load {second:.2f}s")
    assert kind == "folder-tar" and train.class_names == CIFAR10_CLASSES
    assert train.x.shape == (50000, 32, 32, 3) and test.x.shape == (10000, 32, 32, 3)
    assert np.bincount(train.y).tolist() == [5000] * 10 and np.bincount(test.y).tolist() == [1000] * 10
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
