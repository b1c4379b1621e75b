"""One-vs-rest splits: contamination counts, seeds, disjointness, protocol test compositions."""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wildgan.config import DataConfig
from wildgan.data import build_split, n_contamination, split_differences, split_summary
from wildgan.data.dataset_files import CIFAR10_CLASSES
from wildgan.errors import ConfigError, DataError, WildganWarning


# ------------------------------------------------------------------------------------------------ contamination
def test_contamination_examples():
    assert n_contamination(0.0, 5000) == 0
    assert n_contamination(0.02, 5000) == 102
    assert n_contamination(0.02, 525657) == 10727  # spec 6.3
    assert n_contamination(0.5, 100) == 100
    assert n_contamination(0.1, 9) == 1
    with pytest.raises(ConfigError):
        n_contamination(1.0, 10)


@settings(max_examples=300, deadline=None)
@given(gamma=st.floats(0.0, 0.99, allow_nan=False), n=st.integers(0, 10**6))
def test_contamination_property(gamma, n):
    n_a = n_contamination(gamma, n)
    g = Fraction(repr(gamma))
    assert n_a >= 0
    if n + n_a:
        assert Fraction(n_a, n + n_a) <= g  # gamma is an upper bound of the final anomaly fraction
    assert n_a <= g * n / (1 - g) < n_a + 1  # floor, exactly


@settings(max_examples=200, deadline=None)
@given(pct=st.integers(0, 99), n=st.integers(0, 10**5))
def test_contamination_percent_exact(pct, n):
    # gammas written as percentages are the common case; integer arithmetic is the ground truth
    assert n_contamination(pct / 100, n) == (pct * n) // (100 - pct)


def test_the_contamination_a_rounding_warning_advises_injects_an_anomaly():
    # "contamination from 0.0588 injects one" of 16 normal images: 1/17 to 3 digits, rounded down, which injects none
    # (about half of all counts were advised such a value)
    from wildgan.data.splits import _contamination_rounding

    for n in range(1, 2000):
        said = _contamination_rounding(0.0001, n, 0)
        advised = float(re.search(r"contamination=(\S+) or more injects one", said).group(1))
        assert n_contamination(advised, n) == 1, (n, said)
        assert advised <= 1.01 / (n + 1), (n, said)         # (and no more than it takes, to the digits said)


def test_contamination_that_rounding_changes_is_said(tmp_path):
    import warnings

    from wildgan.errors import WildganWarning

    p = simple_npz(tmp_path / "g.npz", n=20, classes=3)     # 16 normal training images with the hold-out below
    cfg = dict(data=str(p), normal=("1",), test_fraction=0.2)
    with pytest.warns(WildganWarning, match=r"0.05 of 16 normal .* 0.84 anomalous images, rounded down to 0: no "
                                            r"anomaly is injected .* contamination=0.0589 or more injects one"):
        s = build_split(DataConfig(**cfg, contamination=0.05))
    assert s.info["n_contamination"] == 0
    with pytest.warns(WildganWarning, match=r"1 is injected: a contamination of 0.0588, not 0.08"):
        build_split(DataConfig(**cfg, contamination=0.08))
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)       # 0.2 of 16 -> 4 = 0.2 exactly: nothing to say
        assert build_split(DataConfig(**cfg, contamination=0.2)).info["n_contamination"] == 4



def test_a_rounding_warning_advises_no_contamination_where_there_is_no_anomaly_to_inject(tmp_path):
    # a data set whose training part is all normal (train/good, test/good + test/bad): 1% of 50 rounds to 0, and the
    # warning advised contamination=0.0197, which was then refused for having no anomalous training image; a request
    # refused for too few was warned of first as injecting one
    rng = np.random.default_rng(0)
    p = tmp_path / "normal_train.npz"
    np.savez(p, x_train=rng.integers(0, 256, (50, 8, 8), dtype=np.uint8), y_train=np.zeros(50, int),
             x_test=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), y_test=np.repeat([0, 1], 10),
             class_names=np.array(["good", "bad"]))
    with pytest.warns(WildganWarning) as said:
        s = build_split(DataConfig(data=str(p), normal=("good",), contamination=0.01))
    text = " ".join(str(w.message) for w in said)
    assert s.info["n_contamination"] == 0
    assert "rounded down to 0" in text and "no contamination can inject one" in text, text
    assert "or more injects one" not in text, text
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)       # refused, with no warning that one is injected before
        with pytest.raises(DataError, match="needs 1 anomalous training image but only 0 are available"):
            build_split(DataConfig(data=str(p), normal=("good",), contamination=0.03))


def test_a_runs_split_rebuilt_repeats_no_note_whose_way_out_is_a_training_option(tmp_path):
    # `wildgan score RUN` / `evaluate RUN` rebuild the run's split (recorded=split.json) and said again what training
    # had said, with its way out: "--dataset npz uses the generic protocol", "--contamination 0.0589 or more injects
    # one", options neither command has
    rng = np.random.default_rng(0)
    p = tmp_path / "named.npz"
    y = np.array([1] * 25 + [0, 2, 3, 4, 5, 6, 7, 8, 9] * 3)
    np.savez(p, x=rng.integers(0, 256, (len(y), 20, 20, 3), dtype=np.uint8), y=y,
             class_names=np.array(CIFAR10_CLASSES))
    cfg = DataConfig(data=str(p), contamination=0.04)         # (of 20 normal training images: none)
    with pytest.warns(WildganWarning) as said:
        split = build_split(cfg)
    texts = " ".join(str(w.message) for w in said)
    assert "are CIFAR-10's ten classes but its images are not" in texts and "rounded down to 0" in texts, texts
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        again = build_split(cfg, recorded={**split.info, **split_summary(split)})
    assert again.train_ids == split.train_ids and again.test_ids == split.test_ids

# ------------------------------------------------------------------------------------------------ synthetic sets
def cifar_like(path: Path, n_train=200, n_test=1000) -> Path:
    """10 CIFAR class names; every image's first pixel encodes its class, the second its index (for id checks)."""
    y_tr, y_te = np.repeat(np.arange(10), n_train), np.repeat(np.arange(10), n_test)
    x_tr = np.zeros((len(y_tr), 32, 32, 3), np.uint8)
    x_te = np.zeros((len(y_te), 32, 32, 3), np.uint8)
    x_tr[:, 0, 0, 0], x_te[:, 0, 0, 0] = y_tr * 20, y_te * 20
    for x in (x_tr, x_te):                      # pixel (0, 1): the index in its file, big-endian in R and G
        i = np.arange(len(x))
        x[:, 0, 1, 0], x[:, 0, 1, 1] = i // 256, i % 256
    x_te[:, 0, 2, 0] = 255                      # pixel (0, 2): which file (test 255, train 0)
    np.savez(path, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, class_names=np.array(CIFAR10_CLASSES))
    return path


def chula_like(path: Path, photos=100, per_photo=40, size=16) -> Path:
    rng = np.random.default_rng(0)
    image_id = np.repeat(np.arange(1, photos + 1), per_photo)
    y = rng.integers(0, 4, len(image_id))
    y[rng.random(len(y)) < 0.45] = 0  # about half normal
    x = rng.integers(0, 256, (len(y), size, size), dtype=np.uint8)
    np.savez(path, x=x, y=y, image_id=image_id.astype(np.int16), is_anomaly=(y > 0).astype(np.uint8),
             class_names=np.array(["normal", "macro", "micro", "elliptocyte"]))
    return path


def simple_npz(path: Path, n=50, classes=3, with_test=False) -> Path:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(classes), n)
    arrays = {"x_train" if with_test else "x": rng.integers(0, 256, (len(y), 12, 12), dtype=np.uint8),
              "y_train" if with_test else "y": y}
    if with_test:
        arrays.update(x_test=rng.integers(0, 256, (len(y) // 2, 12, 12), dtype=np.uint8), y_test=y[::2])
    np.savez(path, **arrays)
    return path


# ------------------------------------------------------------------------------------------------ cifar protocol
@pytest.fixture(scope="module")
def cifar_npz(tmp_path_factory) -> Path:
    return cifar_like(tmp_path_factory.mktemp("cifar") / "cifar-like.npz")


@pytest.mark.parametrize("gamma,n_a", [(0.0, 0), (0.02, 4), (0.1, 22)])
def test_cifar_protocol_composition(cifar_npz, gamma, n_a):
    s = build_split(DataConfig(data=str(cifar_npz), normal=("automobile",), contamination=gamma))
    assert s.info["protocol"] == "cifar10" and (s.resolution, s.channels) == (32, 3)
    assert s.train_x.shape == (200 + n_a, 32, 32, 3) and s.train_x.dtype == np.uint8
    assert s.train_is_anomaly.sum() == n_a == s.info["n_contamination"] and s.train_is_anomaly.dtype == np.int8
    # the class code in pixel (0,0) tells which images are cars: normals are cars, contaminants are not
    car = s.train_x[:, 0, 0, 0] == 20
    assert np.array_equal(car, s.train_is_anomaly == 0)
    assert s.test_x.shape[0] == 2000 and s.test_y.sum() == 1000 and s.test_y.dtype == np.int8
    assert np.array_equal(s.test_x[:, 0, 0, 0] == 20, s.test_y == 0)
    # by the pixels themselves (the ids carry their file's name, so disjoint ids alone prove nothing): every
    # training image comes from the training file, every test image from the test file, none twice, each id
    # naming the image it labels
    assert (s.train_x[:, 0, 2, 0] == 0).all() and (s.test_x[:, 0, 2, 0] == 255).all()
    for x, ids in ((s.train_x, s.train_ids), (s.test_x, s.test_ids)):
        index = x[:, 0, 1, 0].astype(int) * 256 + x[:, 0, 1, 1]
        assert len(set(index.tolist())) == len(x)
        assert [int(i.rsplit(":", 1)[1]) for i in ids] == index.tolist()
    json.dumps(s.info)  # serialisable


def test_cifar_protocol_default_normal_and_other_class(cifar_npz):
    s = build_split(DataConfig(data=str(cifar_npz), dataset="cifar10"))
    assert s.info["normal_classes"] == ["automobile"] and s.info["normal_default_used"]
    s = build_split(DataConfig(data=str(cifar_npz), normal=("8",)))
    assert s.info["normal_classes"] == ["ship"] and (s.train_x[:, 0, 0, 0] == 160).all()


def test_cifar_test_size_all(cifar_npz):
    s = build_split(DataConfig(data=str(cifar_npz), normal=("automobile",), test_size="all"))
    assert len(s.test_y) == 10000 and s.test_y.sum() == 9000


def test_multiple_normal_classes(cifar_npz):
    s = build_split(DataConfig(data=str(cifar_npz), normal=("automobile", "truck"), contamination=0.02))
    assert s.info["n_normal_train"] == 400 and s.info["n_contamination"] == 8
    assert s.info["n_test_normal"] == 2000 and s.info["n_test_anomalous"] == 2000


# ------------------------------------------------------------------------------------------------ seeds
def test_same_seed_same_split_different_seed_different_draw(cifar_npz):
    cfg = DataConfig(data=str(cifar_npz), normal=("automobile",), contamination=0.1, seed=7)
    a, b = build_split(cfg), build_split(cfg)
    assert np.array_equal(a.train_x, b.train_x) and a.train_ids == b.train_ids and a.test_ids == b.test_ids
    assert a.info == b.info
    c = build_split(DataConfig(data=str(cifar_npz), normal=("automobile",), contamination=0.1, seed=8))
    contam = lambda s: {i for i, z in zip(s.train_ids, s.train_is_anomaly) if z}  # noqa: E731
    assert contam(a) != contam(c)
    assert a.test_ids != c.test_ids
    assert a.train_ids != c.train_ids  # shuffled differently


def test_contamination_draw_independent_of_test_size(cifar_npz):
    base = dict(data=str(cifar_npz), normal=("automobile",), contamination=0.1, seed=3)
    a, b = build_split(DataConfig(**base)), build_split(DataConfig(**base, test_size="all"))
    assert a.train_ids == b.train_ids


def test_train_is_shuffled(cifar_npz):
    s = build_split(DataConfig(data=str(cifar_npz), normal=("automobile",), contamination=0.1))
    assert s.train_is_anomaly[: s.info["n_normal_train"]].sum() < s.info["n_contamination"]


def _contaminants(s) -> set[str]:
    return {i.split("#rot")[0] for i, z in zip(s.train_ids, s.train_is_anomaly) if z}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contamination_draws_are_nested_across_gammas(cifar_npz, chula_npz, seed):
    # Generator.choice's draw of N_a is no subset of its draw of a larger N_a: a contamination study compared
    # unrelated contaminant sets at its gammas, sampling noise that common draws remove
    for data, extra in ((cifar_npz, {"normal": ("automobile",)}), (chula_npz, {"resolution": 16})):
        sets = [_contaminants(build_split(DataConfig(data=str(data), contamination=g, seed=seed, **extra)))
                for g in (0.02, 0.05, 0.1, 0.2)]
        assert [len(a) for a in sets] == sorted({len(a) for a in sets}) and len(sets[0]) > 0
        assert all(a < b for a, b in zip(sets, sets[1:]))


def test_rotated_training_images_are_the_same_at_every_gamma(chula_npz):
    # the angles were one (rotations, N) array with N = N_n + N_a: from the second row on, every normal crop's
    # rotated copies moved with gamma, and so did the contaminants'
    def pixels(gamma: float, rule: str = "nested") -> dict[str, bytes]:
        s = build_split(DataConfig(data=str(chula_npz), contamination=gamma, resolution=16, contamination_draw=rule))
        return {i: x.tobytes() for i, x in zip(s.train_ids, s.train_x)}

    clean, small, large = pixels(0.0), pixels(0.02), pixels(0.05)
    assert clean.items() < small.items() < large.items()
    assert pixels(0.0, "choice") == clean           # without contamination the rules agree (nothing is drawn)


def test_the_nested_draw_depends_on_the_pool_images_not_their_order():
    # the same anomalous images listed in another order (a reader that lists its files otherwise) draw the same ones
    from wildgan.data.splits import _draw_contamination

    ids = [f"img{k:02d}" for k in range(50)]
    pool, reversed_ids = np.arange(0, 50, 2), ids[::-1]        # the even images; at positions 49 - k when reversed
    a = {ids[i] for i in _draw_contamination(pool, ids, 7, 0, "nested")}
    b = {reversed_ids[i] for i in _draw_contamination(np.sort(49 - pool), reversed_ids, 7, 0, "nested")}
    assert a == b and len(a) == 7


def test_an_image_gone_from_the_pool_changes_the_nested_draw_only_where_it_was_drawn():
    # a file of the anomalous pool left out (unreadable, skip_bad) or added: a permutation of the pool would draw
    # other contaminants throughout; here the others keep their order
    from wildgan.data.splits import _draw_contamination

    ids = [f"img{k:03d}" for k in range(200)]
    pool = np.arange(200)
    drawn = [ids[i] for i in _draw_contamination(pool, ids, 20, 3, "nested")]
    undrawn = next(i for i in pool if ids[i] not in drawn)
    assert [ids[i] for i in _draw_contamination(pool[pool != undrawn], ids, 20, 3, "nested")] == drawn
    gone = ids.index(drawn[5])
    again = [ids[i] for i in _draw_contamination(pool[pool != gone], ids, 20, 3, "nested")]
    assert again[:19] == drawn[:5] + drawn[6:] and again[19] not in drawn
    # and still a draw of the seed: another seed draws others
    assert set(drawn) != {ids[i] for i in _draw_contamination(pool, ids, 20, 4, "nested")}


def test_the_nested_draw_is_recorded(cifar_npz):
    s = build_split(DataConfig(data=str(cifar_npz), normal=("automobile",), contamination=0.1))
    assert s.info["contamination_draw"] == "nested"
    with pytest.raises(ConfigError, match="contamination_draw must be nested or choice"):
        DataConfig(contamination_draw="other")


# A run recorded before the nested draw: its config.json's data section (no contamination_draw) and what its
# split.json recorded, written by that wildgan for cifar_like's data at gamma 0.1, seed 3 (Generator.choice).
OLD_RUN_DATA = {"dataset": "auto", "normal": ["automobile"], "contamination": 0.1, "resolution": 32, "channels": 3,
                "seed": 3, "rotations": None, "test_size": "paper", "exclude_classes": [], "test_fraction": 0.2,
                "skip_bad": False, "resize": "resize", "depth16": "per-image", "square": "crop", "fit": None,
                "download": False}
OLD_RUN_SPLIT = {"n_train": 222, "n_train_anomalous": 22,
                 "train_ids_sha256": "c578174c7d85b6fa08eb062d99c32014c73a8fc7ad0f1db2e92ef0dba87204d5",
                 "train_pixels_sha256": "c57d9b27b09a4f6a46000d4d153850309bda09157aeaa916fd99cb58c0a1ff3d"}
OLD_RUN_CONTAMINANTS = [1990, 1508, 503, 1160, 667, 118, 561, 1504, 1711, 1249, 1342, 825, 1282, 1856, 1388, 1031,
                        1888, 1136, 1103, 1107, 1437, 94]


def test_a_run_recorded_before_the_nested_draw_rebuilds_its_own_training_set(cifar_npz, tmp_path):
    # what evaluate, score and --resume do: the run's config.json read back, its split rebuilt and compared with
    # split.json. Read with today's default rule, the old run's training set would silently be another one
    from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset, run_config_to_dict
    from wildgan.config import read_run_config

    new = RunConfig(data=DataConfig(data=str(cifar_npz)), net=net_config_for_preset("tiny", 32, 3),
                    train=TrainConfig(minibatch=PRESETS["tiny"]["minibatch"]), preset="tiny")
    d = run_config_to_dict(new)
    d["data"] = {"data": str(cifar_npz), **OLD_RUN_DATA}
    (tmp_path / "config.json").write_text(json.dumps(d))
    cfg = read_run_config(tmp_path)
    assert cfg.data.contamination_draw == "choice"
    s = build_split(cfg.data)
    assert split_differences(s, OLD_RUN_SPLIT) == []
    assert [int(i.rsplit(":", 1)[1]) for i, z in zip(s.train_ids, s.train_is_anomaly) if z] == OLD_RUN_CONTAMINANTS
    # the same run started today draws nested, and records so
    d["data"]["contamination_draw"] = "nested"
    (tmp_path / "config.json").write_text(json.dumps(d))
    assert split_differences(build_split(read_run_config(tmp_path).data), OLD_RUN_SPLIT) != []


def test_the_old_draw_rotates_as_before(chula_npz):
    # recorded by the wildgan before the nested draw for chula_like at gamma 0.05, seed 2 (rotated contaminants)
    s = build_split(DataConfig(data=str(chula_npz), contamination=0.05, resolution=16, seed=2,
                               contamination_draw="choice"))
    assert split_differences(s, {
        "train_ids_sha256": "15f3f03b9ae640e65a7d52819143fc7e0e582df15eb3801548b3a48d7006c12e",
        "train_pixels_sha256": "963eac2b2d502ae6276c2134e0c7075cd64a4572003457b924e668d0dd12d05c"}) == []


# ------------------------------------------------------------------------------------------------ generic protocol
def test_generic_holdout_disjoint_and_stratified(tmp_path):
    p = simple_npz(tmp_path / "g.npz", n=50, classes=3)
    s = build_split(DataConfig(data=str(p), normal=("1",), contamination=0.05, test_fraction=0.2))
    assert s.info["protocol"] == "generic" and s.info["test_source"] == "hold-out"
    assert s.info["n_normal_train"] == 40 and s.info["n_contamination"] == 2
    assert s.info["n_test_normal"] == 10 and s.info["n_test_anomalous"] == 10
    assert set(s.train_ids).isdisjoint(s.test_ids)
    assert (s.resolution, s.channels) == (16, 1) and s.train_x.shape[1:] == (16, 16, 1)


def test_generic_holdout_is_drawn_by_the_seed(tmp_path):
    # data without a test part is held out by the seed (SEED_STREAMS["holdout"]): a study's seeds must test on
    # different images, or the ± over seeds leaves out the test-set noise. The seed test above uses CIFAR's own test
    # part, where nothing is held out, so a hold-out that ignored the seed went unnoticed
    p = simple_npz(tmp_path / "g.npz", n=50, classes=3)

    def held_normals(seed: int) -> set[str]:
        s = build_split(DataConfig(data=str(p), normal=("1",), contamination=0.05, test_fraction=0.2, seed=seed))
        assert set(s.train_ids).isdisjoint(s.test_ids)
        return {i for i, y in zip(s.test_ids, s.test_y) if y == 0}    # every held-out normal image is tested

    a = held_normals(1)
    assert held_normals(1) == a and len(a) == 10
    assert held_normals(2) != a



def test_a_hold_out_that_leaves_no_anomalous_test_image_says_why(tmp_path):
    # 60 normal and 2 anomalous images, no test split: the hold-out takes round(0.2 * 2) = 0 anomalies, and the
    # refusal said only "got 12 normal and 0 anomalous" to a user who has 2
    from wildgan.errors import SPLIT_TOO_SMALL

    rng = np.random.default_rng(0)
    p = tmp_path / "few.npz"
    np.savez(p, x=rng.integers(0, 256, (62, 8, 8), dtype=np.uint8), y=np.array([0] * 60 + [1] * 2))
    with pytest.raises(DataError, match=r"got 12 normal and 0 anomalous: the seeded hold-out takes 0\.2 of each "
                                        r"class's images, rounded to a whole number, which leaves none of the 2 "
                                        r"anomalous images \(2 of class 1\) for testing; hold out a larger share "
                                        r"\(test_fraction=\), or give the data a test split of its own") as e:
        build_split(DataConfig(data=str(p), normal=("0",)))
    assert e.value.split_problem == SPLIT_TOO_SMALL        # (score's way out: --whole)
    # a larger share holds one out
    assert build_split(DataConfig(data=str(p), normal=("0",), test_fraction=0.5)).info["n_test_anomalous"] == 1
    # a test split of the data's own without anomalies is not the hold-out's doing: said as before
    np.savez(p, x_train=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), y_train=np.array([0] * 18 + [1] * 2),
             x_test=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8), y_test=np.zeros(4, int))
    with pytest.raises(DataError, match=r"got 4 normal and 0 anomalous$") as e:
        build_split(DataConfig(data=str(p), normal=("0",)))
    assert e.value.split_problem is None



def test_a_photo_hold_out_whose_photos_hold_no_anomalous_crop_says_why(tmp_path):
    # 5 photos, the fifth of normal crops only: a seed that holds it out (1 photo of 5) left no anomalous test crop,
    # and the paper's balance no normal one: said as "got 0 normal and 0 anomalous" of data with both
    from wildgan.errors import SPLIT_TOO_SMALL

    rng = np.random.default_rng(0)
    y = np.zeros(100, int)
    y[:80][np.arange(80) % 2 == 1] = 1
    p = tmp_path / "ch.npz"
    np.savez(p, x=rng.integers(0, 256, (100, 16, 16), dtype=np.uint8), y=y, image_id=np.repeat(np.arange(1, 6), 20),
             is_anomaly=(y > 0).astype(np.uint8), class_names=np.array(["normal", "bad"]))
    cfg = DataConfig(data=str(p), resolution=16, seed=0)
    with pytest.raises(DataError, match=r"got 0 normal and 0 anomalous: the 1 photo held out \(0\.2 of the 5 photos, "
                                        r"drawn by the seed\) holds no anomalous crop, and the test split takes as "
                                        r"many normal as anomalous crops \(the 40 anomalous crops are all on the "
                                        r"training photos\); another seed= holds out other photos") as e:
        build_split(cfg)
    assert e.value.split_problem == SPLIT_TOO_SMALL
    assert build_split(replace(cfg, seed=1)).info["test_image_ids"] == [2]      # (another seed, another photo)


def _crops_of_photos(tmp_path: Path) -> DataConfig:
    """An .npz of 200 8x8 crops, 10 of each of 20 photos (image_id), without is_anomaly: the generic protocol's."""
    rng = np.random.default_rng(0)
    p = tmp_path / "crops.npz"
    np.savez(p, x=rng.integers(0, 256, (200, 8, 8), dtype=np.uint8), y=np.array([0] * 150 + [1] * 50),
             image_id=np.repeat(np.arange(20), 10))
    return DataConfig(data=str(p), normal=("0",))


def test_photo_ids_that_a_generic_hold_out_splits_across_train_and_test_are_warned_of(tmp_path):
    # image_id without is_anomaly takes the generic protocol, whose hold-out is of images: 10 crops of each of 20
    # photos landed in training and test alike without a word, though image_id is what the docs say a split goes by
    from wildgan.data import load_split_data

    cfg = _crops_of_photos(tmp_path)
    p = Path(cfg.data)
    with pytest.warns(WildganWarning, match=r"crops\.npz: its image_id \(photo ids\) do not split it: the generic "
                                            r"protocol holds out 0\.2 of each class's images, not of the photos, and "
                                            r"\d+ of the \d+ photos it uses have images in both the training and the "
                                            r"test split") as said:
        s = build_split(cfg)
    photo = dict(zip((f"crops:all:{i}" for i in range(200)), np.repeat(np.arange(20), 10).tolist()))
    both = {photo[i] for i in s.train_ids} & {photo[i] for i in s.test_ids}
    assert f"and {len(both)} of the " in str(said[0].message) and both
    # once per read, as a study's cells share one
    loaded = load_split_data(cfg)
    with pytest.warns(WildganWarning, match="do not split it"):
        build_split(cfg, loaded=loaded)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        build_split(replace(cfg, seed=1), loaded=loaded)
        # an id of each image's own splits nothing across
        with np.load(p) as z:
            np.savez(p, x=z["x"], y=z["y"], image_id=np.arange(200))
        build_split(cfg)

def test_generic_test_split_paper_and_all(tmp_path):
    p = simple_npz(tmp_path / "t.npz", n=40, classes=4, with_test=True)
    s = build_split(DataConfig(data=str(p), normal=("0",)))
    assert s.info["test_source"] == "test split"
    assert s.info["n_test_normal"] == 20 and s.info["n_test_anomalous"] == 20
    s = build_split(DataConfig(data=str(p), normal=("0",), test_size="all"))
    assert s.info["n_test_anomalous"] == 60


def test_generic_needs_normal(tmp_path):
    p = simple_npz(tmp_path / "g.npz")
    with pytest.raises(ConfigError, match="available classes: 0=0, 1=1, 2=2"):
        build_split(DataConfig(data=str(p)))


def test_exclude_classes(tmp_path):
    p = simple_npz(tmp_path / "g.npz", n=50, classes=3)
    s = build_split(DataConfig(data=str(p), normal=("0",), exclude_classes=("2",), contamination=0.1))
    assert s.info["anomaly_classes"] == ["1"] and s.info["contamination_by_class"] == {"1": 4}
    with pytest.raises(ConfigError, match="both normal and excluded"):
        build_split(DataConfig(data=str(p), normal=("0",), exclude_classes=("0",)))


def test_rotations_generic(tmp_path):
    p = simple_npz(tmp_path / "g.npz", n=50, classes=2)
    s = build_split(DataConfig(data=str(p), normal=("0",), rotations=2, contamination=0.1))
    assert len(s.train_x) == 3 * (40 + 4) and s.train_is_anomaly.sum() == 12
    assert sum("#rot" in i for i in s.train_ids) == 2 * 44


def test_folder_protocol(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in ("ok", "bad"):
        for i in range(25):
            (tmp_path / "d" / c).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "d" / c / f"{i}.png")
    s = build_split(DataConfig(data=str(tmp_path / "d"), normal=("ok",), channels=1))
    assert s.info["format"] == "folder" and s.train_x.shape == (20, 32, 32, 1)
    assert all(i.startswith("ok/") for i in s.train_ids) and set(s.train_ids).isdisjoint(s.test_ids)


@pytest.mark.parametrize("archive", [False, True])
def test_a_protocol_named_on_a_pile_is_refused_before_decoding_and_said_as_the_caller_gives_it(
        tmp_path, monkeypatch, capsys, archive):
    import tarfile

    from PIL import Image

    from wildgan.cli import main
    from wildgan.data import readers

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(16):
        Image.fromarray(np.full((8, 8, 3), 15 * i, np.uint8)).save(pile / f"{i}.png")
    data = pile
    if archive:
        # a tar of the pile's folder: refused as "its classes are pile" before, as if pile/ were a class folder
        data = tmp_path / "pile.tar.gz"
        with tarfile.open(data, "w:gz") as tar:
            tar.add(pile, arcname="pile")
    # the pile as it is: read with dataset 'unlabelled' and 'auto', whatever a protocol is refused
    for dataset in ("unlabelled", "auto"):
        assert build_split(DataConfig(data=str(data), dataset=dataset)).info["protocol"] == "unlabelled"

    def decoded(*args, **kwargs):
        raise AssertionError("decoded the images of data that is refused")

    monkeypatch.setattr(readers, "read_unlabelled", decoded)
    for dataset in ("cifar10", "mnist", "chula-rbc12"):
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(data))}: dataset='{dataset}' chooses the {dataset} "
                                              rf"protocol, which reads .*, but this is an unlabelled pile .*; "
                                              rf"dataset='unlabelled' \(or dataset='auto'\) trains on it as a "
                                              rf"pile\.$"):
            build_split(DataConfig(data=str(data), dataset=dataset))
    assert main(["train", "--data", str(data), "--dataset", "mnist", "--out", str(tmp_path / "run"),
                 "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--dataset mnist chooses the mnist protocol" in err and "--dataset unlabelled (or --dataset auto)" in err


def test_a_protocol_named_on_unlabelled_images_read_otherwise_is_refused():
    # (a LoadedData made without load_dataset, which refuses such a read, reaches detect_protocol with it)
    from wildgan.data.imageset import ImageSet
    from wildgan.data.splits import detect_protocol

    pile = ImageSet(np.zeros((3, 8, 8, 3), np.uint8), np.zeros(3, np.int64), [], ["a", "b", "c"],
                    info={"source": "/data/pile"})
    assert detect_protocol("auto", pile, "unlabelled-folder") == "unlabelled"
    with pytest.raises(ConfigError, match=r"^/data/pile: dataset='cifar10' chooses the cifar10 protocol"):
        detect_protocol("cifar10", pile, "unlabelled-folder")


# ------------------------------------------------------------------------------------------------ chula protocol
@pytest.fixture(scope="module")
def chula_npz(tmp_path_factory) -> Path:
    return chula_like(tmp_path_factory.mktemp("chula") / "chula-like.npz")


def test_chula_protocol(chula_npz):
    s = build_split(DataConfig(data=str(chula_npz), contamination=0.02, resolution=16))
    info = s.info
    assert info["protocol"] == "chula-rbc12" and info["rotations"] == 3 and s.channels == 1
    assert info["normal_classes"] == ["normal"] and info["n_photos_test"] == 20
    n_n, n_a = info["n_normal_train"], info["n_contamination"]
    assert n_a == n_contamination(0.02, n_n) and len(s.train_x) == 4 * (n_n + n_a)
    assert s.train_is_anomaly.sum() == 4 * n_a
    assert len(s.test_y) == 512 and s.test_y.sum() == 256
    # no photo in both train and test
    idx = lambda i: int(i.split("#")[0].split(":")[-1])  # noqa: E731
    gid = np.load(chula_npz)["image_id"]
    train_photos = {int(gid[idx(i)]) for i in s.train_ids}
    test_photos = {int(gid[idx(i)]) for i in s.test_ids}
    assert train_photos.isdisjoint(test_photos) and test_photos == set(info["test_image_ids"])
    json.dumps(info)


def test_chula_exclude_and_all(chula_npz):
    s = build_split(DataConfig(data=str(chula_npz), dataset="chula-rbc12", exclude_classes=("elliptocyte",),
                               test_size="all", resolution=16, rotations=0, contamination=0.1))
    y = np.load(chula_npz)["y"]
    ids = [int(i.split(":")[-1]) for i in s.train_ids + s.test_ids]
    assert not (y[ids] == 3).any()
    assert len(s.train_x) == s.info["n_normal_train"] + s.info["n_contamination"]
    assert s.info["n_test_normal"] + s.info["n_test_anomalous"] == len(s.test_y) > 512


def test_chula_seed_changes_photos(chula_npz):
    a = build_split(DataConfig(data=str(chula_npz), resolution=16, rotations=0, seed=1))
    b = build_split(DataConfig(data=str(chula_npz), resolution=16, rotations=0, seed=2))
    assert a.info["test_image_ids"] != b.info["test_image_ids"]


# ------------------------------------------------------------------------------------------------ mnist sample
def test_mnist_sample_default():
    s = build_split(DataConfig(contamination=0.02))
    assert s.info["protocol"] == "mnist" and (s.resolution, s.channels) == (32, 1)
    assert s.info["normal_classes"] == ["2"] and s.info["conversion"]["fit"] == "pad"
    assert s.train_x.shape == (600 + math.floor(0.02 * 600 / 0.98), 32, 32, 1)
    assert s.train_x[:, :2].max() == 0  # zero padding, not resizing
    assert len(s.test_y) == 400
    from wildgan.data import conversion_opts
    assert conversion_opts(s.info) == {"fit": "pad", "depth16": "per-image", "native_sides": [28, 28],
                                      "gray_data": True,     # the digits are gray: colour images to score are odd
                                      "trained_depth": "8bit"}   # (16-bit ones are read as their 8-bit copies)


def test_bad_config_values(cifar_npz):
    with pytest.raises(ConfigError):
        build_split(DataConfig(data=str(cifar_npz), seed=-1))
    with pytest.raises(ConfigError):
        build_split(DataConfig(data=str(cifar_npz), resolution=48))
    with pytest.raises(ConfigError):
        build_split(DataConfig(data=str(cifar_npz), test_fraction=1.5))
    with pytest.raises(DataError):
        build_split(DataConfig(data=str(cifar_npz), normal=("unicorn",)))


def _pile(root: Path, n: int, sub: bool = False) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / (f"batch{i % 2}" if sub else "")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(d / f"{i:03d}.png")
    return root


def test_unlabelled_pile_is_all_training_data(tmp_path):
    """A folder of loose images (the user's unlabelled pile): every image is trained on, there is no test split."""
    root = _pile(tmp_path / "pile", 20)
    s = build_split(DataConfig(data=str(root)))
    assert s.info["protocol"] == "unlabelled" and s.info["format"] == "unlabelled-folder"
    assert s.train_x.shape == (20, 16, 16, 1) and sorted(s.train_ids) == [f"{i:03d}.png" for i in range(20)]
    assert s.test_x.shape == (0, 16, 16, 1) and len(s.test_y) == 0 and s.test_ids == []
    assert split_summary(s)["test_pixels_sha256"] == hashlib.sha256(b"").hexdigest()   # no test images to hash
    assert s.train_ids != sorted(s.train_ids)                     # shuffled once, seeded
    assert build_split(DataConfig(data=str(root))).train_ids == s.train_ids
    # a tree with --dataset unlabelled: its sub-folders are not classes
    tree = _pile(tmp_path / "tree", 20, sub=True)
    t = build_split(DataConfig(data=str(tree), dataset="unlabelled"))
    assert t.info["protocol"] == "unlabelled" and len(t.train_x) == 20 and "batch0/000.png" in t.train_ids
    with pytest.raises(ConfigError, match="needs labelled data"):
        build_split(DataConfig(data=str(root), contamination=0.02))
    with pytest.raises(ConfigError, match="no classes"):
        build_split(DataConfig(data=str(root), normal=("a",)))
    with pytest.raises(DataError, match="need at least"):
        build_split(DataConfig(data=str(_pile(tmp_path / "few", 5))))


def test_split_differences_detects_changed_data(tmp_path):
    from wildgan.data import split_differences

    root = simple_npz(tmp_path / "d.npz")
    s = build_split(DataConfig(data=str(root), normal=("0",)))
    rec = split_summary(s)
    assert split_differences(s, rec) == [] and split_differences(s, {}) == []
    x = np.load(root)
    np.savez(root, x=x["x"][:-3], y=x["y"][:-3])                  # three images deleted on disk
    s2 = build_split(DataConfig(data=str(root), normal=("0",)))
    diffs = split_differences(s2, rec)
    assert diffs and all(("->" in d) or ("ids" in d) for d in diffs)   # counts, or only which images


def test_split_differences_leave_what_newly_skipped_files_account_for_to_their_warning(tmp_path):
    """A rebuild with skip_bad that left out a file unreadable since the split was recorded: with skips_said (the
    caller names the file in a warning of its own) the fewer images and other ids it accounts for are not listed a
    second time as a change of the data ('n_train 20 -> 19; the image ids'); a change it does not account for is."""
    from PIL import Image

    from wildgan.data import newly_skipped, split_differences

    root = _pile(tmp_path / "pile", 20)
    cfg = DataConfig(data=str(root), skip_bad=True)
    s = build_split(cfg)
    rec = {**s.info, **split_summary(s)}                              # as split.json records it
    (root / "003.png").write_bytes((root / "003.png").read_bytes()[:40])
    s = build_split(cfg)
    assert [e["path"] for e in newly_skipped(s, rec)] == [str(root / "003.png")]
    assert split_differences(s, rec) == ["n_train 20 -> 19", "the image ids"]
    assert split_differences(s, rec, skips_said=True) == []
    assert split_differences(s, rec, skips_said=True, train_only=True) == []
    # a file the record left out already accounts for nothing
    assert split_differences(s, {**rec, "skipped": s.info["skipped"]}, skips_said=True) == [
        "n_train 20 -> 19", "the image ids"]
    assert split_differences(s, dict(rec, channels=3), skips_said=True) == ["channels 3 -> 1"]
    # a file added besides: a pile's every file is trained on, so the count no longer fits one file left out
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(root / "new.png")
    assert split_differences(build_split(cfg), rec, skips_said=True) == ["the image ids"]
    # labelled: a file may have been a training, test or unused image, but none adds images
    for c in ("a", "b"):
        _pile(tmp_path / "classes" / c, 30)
    cfg = DataConfig(data=str(tmp_path / "classes"), normal=("a",), skip_bad=True)
    s = build_split(cfg)
    rec = {**s.info, **split_summary(s)}
    bad = tmp_path / "classes" / "a" / "005.png"
    bad.write_bytes(bad.read_bytes()[:40])
    s = build_split(cfg)
    assert split_differences(s, rec) and split_differences(s, rec, skips_said=True) == []
    n = len(s.train_x)
    assert f"n_train {n - 1} -> {n}" in split_differences(s, dict(rec, n_train=n - 1), skips_said=True)


def test_a_file_left_out_of_a_fit_s_images_is_not_said_as_images_edited_in_place(tmp_path):
    """A Detector.fit's record compares its images by their pixels alone (its ids are fit's, not the reader's): a
    file unreadable since, left out under skip_bad, changes that checksum as it changes the ids, and was listed with
    skips_said as "the training images' pixels; ... so the files themselves changed: e.g. images replaced or edited
    in place", beside the warning naming the file, although nothing else changed. A file added besides is still
    said: every file of a fit is trained on, so the count no longer fits the one left out."""
    from PIL import Image

    from wildgan.data import newly_skipped

    root = _pile(tmp_path / "pile", 20)
    cfg = DataConfig(data=str(root), skip_bad=True)
    s = build_split(cfg)
    # (as scoring.train_scores compares a fit's record: without its ids, and without the n_read fit does not record)
    rec = {k: v for k, v in {**s.info, **split_summary(s), "protocol": "detector", "detector_input": True}.items()
           if k not in ("train_ids_sha256", "n_read")}

    def as_fit(split):            # (fit's files read back: data not of a pile's protocol, train_scores._read_fit_files)
        return replace(split, info={**split.info, "protocol": "detector"})

    (root / "003.png").write_bytes((root / "003.png").read_bytes()[:40])
    s = as_fit(build_split(cfg))
    assert [e["path"] for e in newly_skipped(s, rec)] == [str(root / "003.png")]
    assert split_differences(s, rec, train_only=True) == [
        "n_train 20 -> 19", "the training images' pixels", "decoded by the same image reader and decoders as "
        "recorded, so the files themselves changed: e.g. images replaced or edited in place under the same names, "
        "or an .npz's images reordered"]
    assert split_differences(s, rec, skips_said=True) == []
    assert split_differences(s, rec, train_only=True, skips_said=True) == []
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(root / "new.png")
    said = split_differences(as_fit(build_split(cfg)), rec, train_only=True, skips_said=True)
    assert said and said[0] == "the training images' pixels", said


def _recorded_labelled_tree(tmp_path: Path) -> tuple[DataConfig, dict]:
    """A labelled folder tree d/{train,test}/{a,b} of PNGs (normal a, skip_bad) and the split record of its split."""
    for part, n in (("train", 20), ("test", 6)):
        for c in ("a", "b"):
            _pile(tmp_path / "d" / part / c, n)
    cfg = DataConfig(data=str(tmp_path / "d"), normal=("a",), skip_bad=True)
    s = build_split(cfg)
    return cfg, {**s.info, **split_summary(s)}


def test_a_newly_skipped_test_image_accounts_for_no_change_of_the_training_images(tmp_path):
    """Labelled data with a test split, one test image of which became unreadable since the split was recorded:
    the training images are those recorded, so the file is no training image left out (newly_skipped training=True
    names none), and a training image edited in place besides is still said with skips_said (same ids, other pixels:
    no file left out explains it)."""
    from PIL import Image

    from wildgan.data import newly_skipped, split_differences

    cfg, rec = _recorded_labelled_tree(tmp_path)
    bad = tmp_path / "d" / "test" / "b" / "002.png"
    bad.write_bytes(bad.read_bytes()[:40])
    s = build_split(cfg)
    assert split_differences(s, rec, skips_said=True) == []       # the test split's one image fewer: the file's
    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(tmp_path / "d" / "train" / "a" / "001.png")
    said = split_differences(build_split(cfg), rec, skips_said=True)
    assert "the training images' pixels, under the same image ids" in said, said
    assert [e["path"] for e in newly_skipped(s, rec)] == [str(bad)] and newly_skipped(s, rec, training=True) == []


def test_a_file_added_beside_one_newly_skipped_is_said_where_the_counts_still_fit(tmp_path):
    """Labelled data: a normal training image unreadable since the split was recorded and another normal image added
    leave every count as it was, and only the ids differ. split.json's n_read (the images read) tells the file added:
    the change is said with skips_said, not taken for the one file left out; a record without n_read (an older
    split.json) cannot tell."""
    from PIL import Image

    from wildgan.data import split_differences

    cfg, rec = _recorded_labelled_tree(tmp_path)
    assert rec["n_read"] == 52
    bad = tmp_path / "d" / "train" / "a" / "005.png"
    bad.write_bytes(bad.read_bytes()[:40])
    assert split_differences(build_split(cfg), rec, skips_said=True) == []          # the file left out, alone
    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(tmp_path / "d" / "train" / "a" / "new.png")
    s = build_split(cfg)
    assert split_differences(s, rec, skips_said=True) == ["the image ids"]
    assert split_differences(s, {k: v for k, v in rec.items() if k != "n_read"}, skips_said=True) == []


def test_split_differences_name_the_reader_changes_since_the_recording_version(tmp_path):
    from wildgan.data import split_differences
    from wildgan.data.imageset import READER_VERSION
    from wildgan.data.splits import reader_change_text

    root = simple_npz(tmp_path / "d.npz")
    s = build_split(DataConfig(data=str(root), normal=("0",)))
    rec = dict(split_summary(s), n_train=1)
    assert split_differences(s, rec)[-1:] == [d for d in split_differences(s, rec) if "n_train" in d]  # same reader
    old = split_differences(s, dict(rec, reader_version=5))
    assert "__MACOSX" in old[-1] and ".webp" not in old[-1]          # only what changed after version 5
    assert ".webp" in split_differences(s, dict(rec, reader_version=3))[-1]
    assert ".webp" in reader_change_text(None)                       # records from before the version was kept
    assert "newer image reader" in reader_change_text(READER_VERSION + 1)


def _swap_images(path: Path, a: int, b: int) -> None:
    """Images a and b of an .npz swapped: the same ids (its ids are positions), other pixels under them."""
    d = dict(np.load(path))
    d["x"][[a, b]] = d["x"][[b, a]]
    np.savez(path, **d)


def test_split_differences_catch_other_pixels_under_the_same_ids(tmp_path):
    from wildgan.data import split_differences
    from wildgan.data.imageset import READER_CHANGES, READER_VERSION, decoders_text
    from wildgan.data.splits import decoder_versions

    root = simple_npz(tmp_path / "d.npz")
    cfg = DataConfig(data=str(root), normal=("0",))
    s = build_split(cfg)
    rec = split_summary(s)
    _swap_images(root, *(int(i.rsplit(":", 1)[1]) for i in s.train_ids[:2]))      # two normal training images
    s2 = build_split(cfg)
    assert s2.train_ids == s.train_ids and s2.test_ids == s.test_ids                # the ids cannot tell
    diffs = split_differences(s2, rec)
    assert diffs[0] == "the training images' pixels, under the same image ids" and len(diffs) == 2, diffs
    assert diffs[1].startswith("decoded by the same image reader and decoders as recorded, so the files themselves "
                               "changed"), diffs
    assert split_differences(s2, rec, train_only=True) == diffs                     # what the networks train on
    # a record from before the pixels were recorded: not compared
    assert split_differences(s2, {k: v for k, v in rec.items() if "pixels" not in k and k != "decoders"}) == []
    # recorded with other decoding libraries: said as what alone can change the pixels
    other = split_differences(s2, dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)"))
    assert other[1] == f"pixels can differ for a change of decoding alone: the decoders Pillow 9.0.0 with libjpeg " \
        f"8.0 -> {decoders_text(decoder_versions())}", other
    # recorded by another reader version: its change is said once, in the reader note with what changed in it
    for r in ({"reader_version": 5}, {"reader_version": 5, "decoders": "Pillow 9.0.0 (libjpeg 8.0)"}):
        said = split_differences(s2, dict(rec, **r))
        assert len(said) == 3 and sum("reader" in d and "version" in d for d in said) == 0, said
        assert "wildgan's image reader changed since" in said[2], said
        assert ("the decoders Pillow 9.0.0" if "decoders" in r else "the reader's change below alone") in said[1], said
        # what the reader's change means before the changes, which end the list: after them (' - a rebuild ...'), it
        # read as part of the last change
        assert said[2] == "wildgan's image reader changed since this was recorded, so a rebuild by this reader can " \
            "differ from the record for that reason alone: " + "; ".join(
                t for v, t in sorted(READER_CHANGES.items()) if v > 5), said
    # every message says the list inside a parenthesis of its own: none of its items has one (nor the reader's
    # changes, nor the decoders' versions, which split.json records with theirs)
    for r in ({}, {"decoders": "Pillow 9.0.0 (libjpeg 8.0)"}, {"reader_version": 3},
              {"reader_version": READER_VERSION + 1}):
        said = split_differences(s2, dict(rec, **r))
        assert len(said) >= 2 and not any("(" in d or ")" in d for d in said), said


def test_evaluating_a_test_set_whose_pixels_changed_warns(tmp_path):
    """evaluate / score rebuild the run's test split: images replaced under the same ids were not noticed."""
    from wildgan.evaluation.run import split_for_run

    root = simple_npz(tmp_path / "d.npz")
    cfg = DataConfig(data=str(root), normal=("0",))
    s = build_split(cfg)
    run = _run_of(tmp_path, cfg)
    said: list[str] = []
    split_for_run(run, log=said.append)
    assert said == []                                                   # unchanged: nothing to say
    anomalous = [i for i, y in zip(s.test_ids, s.test_y) if y == 1]
    _swap_images(root, *(int(i.rsplit(":", 1)[1]) for i in anomalous[:2]))
    split_for_run(run, log=said.append)
    assert len(said) == 1 and "changed since" in said[0] and "the test images' pixels, under the same image ids" \
        in said[0] and "the training images" not in said[0], said
    # a split.json from before the pixels were recorded (and so before the source's identity, which would say that
    # the file is not the one read): not compared, nothing said
    rec = json.loads((run / "split.json").read_text())
    (run / "split.json").write_text(json.dumps({k: v for k, v in rec.items()
                                                if "pixels" not in k and k != "source_identity"}))
    said.clear()
    split_for_run(run, log=said.append)
    assert said == []


def _run_of(tmp_path: Path, cfg: DataConfig) -> Path:
    """A run folder with the config and split.json a training of cfg writes (no networks: split_for_run reads those)."""
    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset, write_run_config
    from wildgan.training.run import write_split_info

    s = build_split(cfg)
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(RunConfig(data=cfg, net=net_config_for_preset("tiny", s.resolution, s.channels),
                               train=TrainConfig()), run)
    write_split_info(s, run)
    return run


def test_another_normal_class_notices_data_changed_under_the_same_count(tmp_path):
    """evaluate --normal OTHER of the run's own data compared only the number of images read: an image replaced or
    relabelled under the same count went unsaid, and the test split could then hold training images."""
    from wildgan.evaluation.run import split_for_run

    root = simple_npz(tmp_path / "d.npz")
    original = dict(np.load(root))
    run = _run_of(tmp_path, DataConfig(data=str(root), normal=("0",)))
    said: list[str] = []
    split_for_run(run, log=said.append, normal=("1",))
    assert said == []                                                   # unchanged data: nothing to say
    x = original["x"].copy()
    x[7] = 255 - x[7]                                                   # one image replaced
    np.savez(root, x=x, y=original["y"])
    split_for_run(run, log=said.append, normal=("1",))
    assert len(said) == 1 and f"changed since {run} was trained (the same number of images, 150, but not the same " \
        "images, ids or classes: split.json's read_fingerprint differs)" in said[0] and "normal 1 may contain " \
        "training images" in said[0], said
    y = original["y"].copy()
    y[3] = 2                                                            # one image relabelled (class 0 -> 2)
    np.savez(root, x=original["x"], y=y)
    said.clear()
    split_for_run(run, log=said.append, normal=("2",))
    assert len(said) == 1 and "read_fingerprint differs" in said[0], said
    # restored: nothing to say again
    np.savez(root, **original)
    said.clear()
    split_for_run(run, log=said.append, normal=("1",))
    assert said == []
    # recorded by other decoders: pixels can differ for that alone, which the warning says
    rec = json.loads((run / "split.json").read_text())
    np.savez(root, x=x, y=original["y"])
    (run / "split.json").write_text(json.dumps(dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)")))
    split_for_run(run, log=said.append, normal=("1",))
    assert len(said) == 1 and "the decoding changed since" in said[0] and "Pillow 9.0.0" in said[0], said
    # a fingerprint of another scheme (v1, without the read shape) is not compared, whatever its hex: the count alone
    (run / "split.json").write_text(json.dumps(dict(rec, read_fingerprint="v1:" + rec["read_fingerprint"].rsplit(
        ":", 1)[1])))
    said.clear()
    split_for_run(run, log=said.append, normal=("1",))
    assert said == []
    # a split.json from before the fingerprint: the count alone, as before (same count: nothing said; another: said)
    (run / "split.json").write_text(json.dumps({k: v for k, v in rec.items() if k != "read_fingerprint"}))
    said.clear()
    split_for_run(run, log=said.append, normal=("1",))
    assert said == []
    np.savez(root, x=original["x"][:-1], y=original["y"][:-1])
    split_for_run(run, log=said.append, normal=("1",))
    assert len(said) == 1 and "(images read 150 -> 149)" in said[0], said


def test_read_fingerprint_is_of_the_images_ids_and_classes_in_any_order(tmp_path):
    from wildgan.data.imageset import ImageSet
    from wildgan.data.splits import read_fingerprint

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 4, 4, 1), dtype=np.uint8)
    a = ImageSet(x, np.array([0, 0, 1, 1, 2, -1]), ["a", "b", "c"], [f"f{i}" for i in range(6)])
    fp = read_fingerprint(a)
    assert fp.startswith("v2:train=") and fp == read_fingerprint(a.subset(np.arange(6)[::-1]))      # order: the same
    changed = [ImageSet(np.where(np.arange(6)[:, None, None, None] == 2, 255 - x, x), a.y, a.class_names, a.ids),
               ImageSet(x, np.array([0, 0, 1, 2, 2, -1]), a.class_names, a.ids),               # relabelled
               ImageSet(x, a.y, ["a", "b", "d"], a.ids),                                       # a class renamed
               ImageSet(x, a.y, a.class_names, ["g0", *a.ids[1:]]),                            # a file renamed
               ImageSet(x, a.y, a.class_names, a.ids, group=np.array([0, 0, 0, 1, 1, 1]))]     # photo groups
    assert len({fp, *map(read_fingerprint, changed)}) == 1 + len(changed)
    # a test part of its own is part of it: the same images as a test part are other data
    assert read_fingerprint(a.subset(np.arange(3)), a.subset(np.arange(3, 6))) != fp
    # the same class index of other class names ('b' moved to index 1 of other names) is another class
    assert read_fingerprint(ImageSet(x, a.y, ["a", "bb", "c"], a.ids)) != fp


def test_splits_of_one_read_fingerprint_it_once(tmp_path, monkeypatch):
    # 0.2 s for CIFAR-10's 60,000 images, paid by every split of a study's one read (its check builds one per cell)
    import wildgan.data.splits as splits

    root = simple_npz(tmp_path / "d.npz")
    loaded = splits.load_split_data(DataConfig(data=str(root), normal=("0",)))
    calls = []
    real = splits.read_fingerprint
    monkeypatch.setattr(splits, "read_fingerprint", lambda *a: calls.append(1) or real(*a))
    infos = [build_split(DataConfig(data=str(root), normal=(c,)), loaded=loaded).info for c in ("0", "1", "2")]
    assert len(calls) == 1 and len({i["read_fingerprint"] for i in infos}) == 1
    assert infos[0]["read_fingerprint"] == build_split(DataConfig(data=str(root), normal=("0",))).info[
        "read_fingerprint"] == real(loaded.train, loaded.test)


def test_data_config_takes_a_class_name_as_a_string():
    # DataConfig(normal="automobile") was read letter by letter ("normal class 'a' does not exist")
    from wildgan.config import DataConfig

    assert DataConfig(normal="automobile").normal == ("automobile",)
    assert DataConfig(normal="cat, dog").normal == ("cat", "dog")          # as --normal cat,dog
    assert DataConfig(normal=3).normal == ("3",) and DataConfig(normal=[1, "2"]).normal == ("1", "2")
    assert DataConfig(exclude_classes="elliptocyte").exclude_classes == ("elliptocyte",)


def test_choose_normal_message_names_labels_or_folders(tmp_path):
    from PIL import Image

    from wildgan.config import DataConfig
    from wildgan.data import build_split

    np.savez(tmp_path / "d.npz", x=np.zeros((40, 8, 8), np.uint8), y=np.arange(40) % 2)
    with pytest.raises(ConfigError, match="dataset='unlabelled' to train on every image, its labels not being"):
        build_split(DataConfig(data=str(tmp_path / "d.npz")))
    for c in ("a", "b"):
        (tmp_path / "tree" / c).mkdir(parents=True)
        for i in range(20):
            Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / "tree" / c / f"{i}.png")
    with pytest.raises(ConfigError, match="its folders not being classes"):
        build_split(DataConfig(data=str(tmp_path / "tree")))


def test_other_data_takes_the_runs_classes_by_the_names_they_resolved_to(tmp_path) -> None:
    # a run trained with --normal 0 --exclude 2 on a class-folder tree (classes ones, sevens, threes): on a copy of
    # the tree its classes are ones and threes by name (index 0 was "ones"), not refused nor dropped
    from PIL import Image

    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset, write_run_config
    from wildgan.evaluation.run import split_for_run

    rng = np.random.default_rng(0)
    for tree in ("tree", "tree2"):
        for cls in ("ones", "sevens", "threes"):
            (tmp_path / tree / cls).mkdir(parents=True)
            for i in range(30):
                Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / tree / cls / f"{i}.png")
    dc = DataConfig(data=str(tmp_path / "tree"), normal=("0",), exclude_classes=("2",))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(RunConfig(data=dc, net=net_config_for_preset("tiny", 8, 1), train=TrainConfig()), run)
    (run / "split.json").write_text(json.dumps(build_split(dc).info))
    s = split_for_run(run, str(tmp_path / "tree2"))
    assert s.info["normal_classes"] == ["ones"] and s.info["excluded_classes"] == ["threes"]
    # data without the run's excluded class: nothing excluded, said
    import shutil

    shutil.rmtree(tmp_path / "tree2" / "threes")
    with pytest.warns(UserWarning, match=r"the run excluded class 'threes', which is no class of this data"):
        s = split_for_run(run, str(tmp_path / "tree2"))
    assert s.info["excluded_classes"] == []


def test_a_subset_of_every_image_shares_the_pixels_and_a_real_subset_copies_them():
    from wildgan.data.imageset import ImageSet

    s = ImageSet(np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2, 1), np.array([0, 1, 0, 1]), ["a", "b"],
                 ["i0", "i1", "i2", "i3"], group=np.array([5, 5, 6, 6]))
    every = s.subset(np.arange(4))
    assert every.x is s.x and every.ids == s.ids and every.ids is not s.ids
    every.y[0] = 9
    assert s.y[0] == 0                                # labels and ids are the subset's own, only pixels are shared
    some = s.subset(np.array([2, 0]))
    assert not np.shares_memory(some.x, s.x) and some.ids == ["i2", "i0"] and list(some.group) == [6, 5]
    assert np.array_equal(s.subset(np.array([3, 2, 1, 0])).x, s.x[::-1])    # all images, another order: a copy


# ------------------------------------------------------------------------------------------ one read, many splits
def test_splits_built_from_data_read_once_are_those_built_alone(tmp_path):
    # a study checks every cell's split before training, from the data set read once (load_split_data): each split
    # must be the one build_split reads for itself, and building it must leave the shared images as they were
    from dataclasses import replace

    from wildgan.data import load_split_data

    rng = np.random.default_rng(0)
    p = tmp_path / "two.npz"
    np.savez(p, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    cfg = DataConfig(data=str(p), normal=("0",), resolution=8, channels=1)
    loaded = load_split_data(cfg)
    before = loaded.train.x.copy()
    for c in (cfg, replace(cfg, normal=("1",), contamination=0.2, seed=3)):
        alone, shared = build_split(c), build_split(c, loaded=loaded)
        assert np.array_equal(alone.train_x, shared.train_x) and alone.train_ids == shared.train_ids
        assert np.array_equal(alone.test_x, shared.test_x) and alone.info == shared.info
    # an unlabelled pile at its own size is not converted, and its split shuffles the training images in place:
    # never the caller's
    pile = DataConfig(data=str(p), dataset="unlabelled", resolution=8, channels=1)
    pile_loaded = load_split_data(pile)
    pile_before = pile_loaded.train.x.copy()
    for _ in range(2):
        assert np.array_equal(build_split(pile, loaded=pile_loaded).train_x, build_split(pile).train_x)
    assert np.array_equal(pile_loaded.train.x, pile_before) and np.array_equal(loaded.train.x, before)
    # data read another way (another size, other files skipped) is refused, not split as if it were cfg's
    with pytest.raises(ValueError, match=r"other options than cfg's \(resolution\)"):
        build_split(replace(cfg, resolution=16), loaded=loaded)


def test_a_number_that_names_no_class_is_not_taken_as_an_index_among_numbered_classes(tmp_path):
    from wildgan.config import DataConfig
    from wildgan.data import build_split
    from wildgan.errors import DataError

    rng = np.random.default_rng(0)
    p = tmp_path / "tens.npz"
    np.savez(p, x=rng.integers(0, 256, (200, 8, 8), dtype=np.uint8), y=np.arange(200) % 10,
             class_names=np.array([str(10 * i) for i in range(10)]))
    with pytest.raises(DataError, match=r"normal class '1' does not exist; available classes: 0=0, 1=10"):
        build_split(DataConfig(data=str(p), normal=("1",)))
    assert build_split(DataConfig(data=str(p), normal=("10",))).info["normal_classes"] == ["10"]


def _three_classes(path: Path, rng: np.random.Generator, names: list[str]) -> None:
    """An .npz of 60 random 8x8 gray images, 20 of each of three classes with the given names."""
    np.savez(path, x=rng.integers(0, 256, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 3,
             class_names=np.array(names))

def test_a_class_named_in_another_case_that_matches_two_classes_is_refused_naming_both(tmp_path):
    # class folders 'Good' and 'good' (two sources merged, on a case-sensitive file system): --normal GOOD took the
    # first of them in silence, and --exclude GOOD likewise; the exact name still picks its own class
    rng = np.random.default_rng(0)
    p = tmp_path / "cased.npz"
    _three_classes(p, rng, ["Good", "good", "bad"])
    with pytest.raises(DataError, match=r"normal class 'GOOD' matches 2 classes in another case \('Good', 'good'\)"):
        build_split(DataConfig(data=str(p), normal=("GOOD",)))
    with pytest.raises(DataError, match=r"excluded class 'GOOD' matches 2 classes"):
        build_split(DataConfig(data=str(p), normal=("bad",), exclude_classes=("GOOD",)))
    assert build_split(DataConfig(data=str(p), normal=("good",))).info["normal_classes"] == ["good"]
    assert build_split(DataConfig(data=str(p), normal=("BAD",))).info["normal_classes"] == ["bad"]


def test_a_class_is_matched_in_another_case_by_unicode_case_folding(tmp_path):
    # classes were compared in lower case: 'STRASSE'.lower() is 'strasse', 'Straße'.lower() 'straße', so a class
    # 'Straße' typed as STRASSE (or 'ß' as 'SS' by an upper-case keyboard setting) "does not exist"; casefold makes
    # both 'strasse'. Two classes the same when folded are refused as two in another case are
    rng = np.random.default_rng(0)
    p = tmp_path / "folded.npz"
    _three_classes(p, rng, ["Straße", "Weg", "Platz"])
    assert build_split(DataConfig(data=str(p), normal=("STRASSE",))).info["normal_classes"] == ["Straße"]
    assert build_split(DataConfig(data=str(p), normal=("weg",), exclude_classes=("strasse",))
                       ).info["excluded_classes"] == ["Straße"]
    # and so are a run's normal and excluded classes taken over for other data (inherited: names only)
    inherited = build_split(DataConfig(data=str(p), normal=("STRASSE",), exclude_classes=("PLATZ",)),
                            inherited=("normal", "exclude_classes"), whole=True)
    assert inherited.info["normal_classes"] == ["Straße"] and inherited.info["excluded_classes"] == ["Platz"]
    q = tmp_path / "folded_twice.npz"
    _three_classes(q, rng, ["Straße", "STRASSE", "Weg"])
    with pytest.raises(DataError, match=r"normal class 'strasse' matches 2 classes in another case "
                                        r"\('Straße', 'STRASSE'\)"):
        build_split(DataConfig(data=str(q), normal=("strasse",)))
    assert build_split(DataConfig(data=str(q), normal=("STRASSE",))).info["normal_classes"] == ["STRASSE"]


def test_a_class_whose_name_has_spaces_around_it_is_chosen_by_its_name(tmp_path):
    # a class folder ' good' (a space typed when it was made): --normal's values are stripped (the CLI's comma list,
    # and resolve_classes itself), so no value could name it and the class could not be chosen at all
    rng = np.random.default_rng(0)
    p = tmp_path / "spaced.npz"
    _three_classes(p, rng, [" good", "bad ", "other"])
    assert build_split(DataConfig(data=str(p), normal=("good",))).info["normal_classes"] == [" good"]
    assert build_split(DataConfig(data=str(p), normal=(" good",))).info["normal_classes"] == [" good"]
    assert build_split(DataConfig(data=str(p), normal=("BAD",))).info["normal_classes"] == ["bad "]
    # and as a run's classes taken over for other data (inherited), which were compared with the names unstripped:
    # "the run's normal class ' good' is not a class of this data (its classes:  good, ...)"
    inherited = build_split(DataConfig(data=str(p), normal=(" good",), exclude_classes=("bad ",)),
                            inherited=("normal", "exclude_classes"), whole=True)
    assert inherited.info["normal_classes"] == [" good"] and inherited.info["excluded_classes"] == ["bad "]
    assert build_split(DataConfig(data=str(p), normal=("other",), exclude_classes=("bad",))
                       ).info["excluded_classes"] == ["bad "]
    # two classes that differ only in their spaces: the exact name picks its own, the bare name is refused
    q = tmp_path / "two_spaced.npz"
    _three_classes(q, rng, [" good", "good ", "bad"])
    with pytest.raises(DataError, match=r"normal class 'good' matches 2 classes .*\(' good', 'good '\)"):
        build_split(DataConfig(data=str(q), normal=("good",)))
    assert build_split(DataConfig(data=str(q), normal=("good ",))).info["normal_classes"] == ["good "]


def test_two_classes_differing_only_in_spaces_are_refused_naming_their_indices(tmp_path):
    # the refusal of ' good' / 'good ' said "give the class's name exactly", which the command line cannot: its
    # comma list strips every value (--normal 'good ' reads as 'good', refused again); the index names either
    from wildgan.cli.common import csv_list

    assert csv_list("good ", str, "--normal") == ["good"]
    rng = np.random.default_rng(0)
    q = tmp_path / "two_spaced.npz"
    _three_classes(q, rng, ["bad", " good", "good "])
    with pytest.raises(DataError, match=r"matches 2 classes .*\(' good', 'good '\).* by its index: 1 for ' good', "
                                        r"2 for 'good '"):
        build_split(DataConfig(data=str(q), normal=("good",)))
    assert build_split(DataConfig(data=str(q), normal=("2",))).info["normal_classes"] == ["good "]
    # (classes named by numbers take no index: '1' would be one of them, so none is offered)
    r = tmp_path / "numbered.npz"
    _three_classes(r, rng, ["7", " 1", "1 "])
    with pytest.raises(DataError, match=r"matches 2 classes") as e:
        build_split(DataConfig(data=str(r), normal=("1",)))
    assert "index" not in str(e.value)


def test_images_labelled_minus_one_left_out_of_a_split_are_counted_in_a_warning(tmp_path):
    # an .npz label -1 is "no class": such images are neither normal nor anomalous and were left out of the split
    # without a word, a third of the data here (and all the anomalies of labels -1/1 read as scikit-learn's outliers)
    rng = np.random.default_rng(0)
    p = tmp_path / "some_unlabelled.npz"
    np.savez(p, x=rng.integers(0, 256, (90, 8, 8), dtype=np.uint8), y=np.arange(90) % 3 - 1)
    with pytest.warns(WildganWarning, match=r"some_unlabelled\.npz: 30 of its 90 images are labelled -1 \(no class\) "
                                            r"and are left out of the split"):
        split = build_split(DataConfig(data=str(p), normal=("0",)))
    assert len(split.train_x) + len(split.test_x) <= 60
    # labels -1 and 1 only: said that -1 is no anomaly label
    q = tmp_path / "outliers.npz"
    np.savez(q, x=rng.integers(0, 256, (90, 8, 8), dtype=np.uint8), y=np.where(np.arange(90) % 3 == 0, -1, 1))
    with pytest.warns(WildganWarning, match=r"-1 is not an anomaly label") as said, \
            pytest.raises(DataError, match="0 anomalous"):
        build_split(DataConfig(data=str(q), normal=("1",)))
    assert len([w for w in said if "labelled -1" in str(w.message)]) == 1
    # none labelled -1: nothing said
    r = tmp_path / "labelled.npz"
    np.savez(r, x=rng.integers(0, 256, (90, 8, 8), dtype=np.uint8), y=np.arange(90) % 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        build_split(DataConfig(data=str(r), normal=("0",)))


def test_an_unlabelled_runs_evaluation_names_the_default_normal_class_it_used(tmp_path) -> None:
    # a run trained on an unlabelled pile carries no normal class: on CIFAR-named folders the cifar10 protocol's
    # automobile is taken, said (the folders may be one's own photos, where another class is meant)
    from PIL import Image

    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset, write_run_config
    from wildgan.evaluation.run import split_for_run

    rng = np.random.default_rng(0)
    for cls in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"):
        (tmp_path / "tree" / cls).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                tmp_path / "tree" / cls / f"{i}.png")
    (tmp_path / "pile").mkdir()
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "pile" / f"{i}.png")
    dc = DataConfig(data=str(tmp_path / "pile"), dataset="unlabelled")
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(RunConfig(data=dc, net=net_config_for_preset("tiny", 32, 3), train=TrainConfig()), run)
    (run / "split.json").write_text(json.dumps(build_split(dc).info))
    said: list[str] = []
    s = split_for_run(run, str(tmp_path / "tree"), log=said.append)
    assert s.info["normal_classes"] == ["automobile"]
    assert any("evaluated with normal class automobile, the data set's default (normal= chooses)" in m for m in said)
    said.clear()
    s = split_for_run(run, str(tmp_path / "tree"), log=said.append, normal=("cat",))
    assert s.info["normal_classes"] == ["cat"] and not any("default" in m for m in said)


def test_a_runs_config_names_the_draw_rule_only_where_its_absence_would_misread_it(cifar_npz):
    # nothing is drawn at gamma 0, and a contaminated config without the rule is read as "choice": left out there,
    # the config stays readable by a wildgan from before the rule (which refuses keys it does not know); a nested
    # contaminated run's names its rule, which such a wildgan must refuse
    from wildgan.config import (PRESETS, RunConfig, TrainConfig, net_config_for_preset, run_config_from_dict,
                                run_config_to_dict)

    for gamma, rule in [(0.0, "nested"), (0.0, "choice"), (0.1, "nested"), (0.1, "choice")]:
        cfg = RunConfig(data=DataConfig(data=str(cifar_npz), contamination=gamma, contamination_draw=rule),
                        net=net_config_for_preset("tiny", 32, 3),
                        train=TrainConfig(minibatch=PRESETS["tiny"]["minibatch"]), preset="tiny")
        d = run_config_to_dict(cfg)
        assert ("contamination_draw" in d["data"]) == (gamma > 0 and rule == "nested")
        back = run_config_from_dict(json.loads(json.dumps(d))).data
        assert back.contamination_draw == (rule if gamma else "nested")
        if not gamma:     # either rule gave the same training set
            assert split_summary(build_split(back)) == split_summary(build_split(cfg.data))


def test_a_resume_across_draw_rules_names_both_rules(cifar_npz):
    # config.json leaves "choice" out (its absence reads so): the refusal still names what the run drew by
    from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import run_differences

    def cfg(gamma: float, rule: str) -> RunConfig:
        return RunConfig(data=DataConfig(data=str(cifar_npz), contamination=gamma, contamination_draw=rule),
                         net=net_config_for_preset("tiny", 32, 3),
                         train=TrainConfig(minibatch=PRESETS["tiny"]["minibatch"]), preset="tiny")

    assert run_differences(cfg(0.1, "choice"), cfg(0.1, "nested")) == ["data.contamination_draw: 'choice' -> 'nested'"]
    assert run_differences(cfg(0.0, "choice"), cfg(0.0, "nested")) == []       # nothing drawn: either rule


def test_a_rebuild_for_a_run_draws_over_files_unreadable_since_training_and_drops_them(tmp_path):
    """A labelled hold-out (no test folder) is a permutation of the files read: rebuilt with one file fewer it held
    other images out, training images among them. With the run's record (recorded=) a file unreadable since training
    is drawn over as if read, then dropped: the split is the recorded one less that file, and info['skipped_were']
    says where it was. A file the record lists as skipped at training stays out of the draw, as it was then."""
    for c in ("a", "b"):
        _pile(tmp_path / "d" / c, 30)
    cfg = DataConfig(data=str(tmp_path / "d"), normal=("a",), skip_bad=True, contamination=0.2)
    s0 = build_split(cfg)
    rec = {**s0.info, **split_summary(s0)}
    test_a = sorted(i for i in s0.test_ids if i.startswith("a/"))
    contaminant = s0.train_ids[int(np.flatnonzero(s0.train_is_anomaly)[0])]
    # (a normal training file fewer is also a contaminant fewer, 6 -> 5, were the draw over the files read)
    for gone in (test_a[0], next(i for i in s0.train_ids if i.startswith("a/")), contaminant):
        bad = tmp_path / "d" / gone
        good = bad.read_bytes()
        bad.write_bytes(good[:40])
        s = build_split(cfg, recorded=rec)
        part = "test" if gone in s0.test_ids else "train"
        assert s.info["skipped_were"] == {str(bad): part}
        assert s.test_ids == [i for i in s0.test_ids if i != gone]
        assert np.array_equal(s.test_x, s0.test_x[[i != gone for i in s0.test_ids]])
        assert s.train_ids == [i for i in s0.train_ids if i != gone]
        assert np.array_equal(s.train_x, s0.train_x[[i != gone for i in s0.train_ids]])
        assert (s.info["n_test_normal"], s.info["n_contamination"]) == (len(s.test_ids) - int(s.test_y.sum()),
                                                                         int(s.train_is_anomaly.sum()))
        # skipped when the run's split was drawn: the record's draw was over the files without it
        s1 = build_split(cfg)
        again = build_split(cfg, recorded={**s1.info, **split_summary(s1)})
        assert "skipped_were" not in again.info and again.test_ids == s1.test_ids
        assert again.train_ids == s1.train_ids
        bad.write_bytes(good)


def test_the_labels_listed_without_decoding_are_what_the_split_takes(tmp_path, monkeypatch):
    # a finished study's re-run finds its cells from the data's labels alone (list_data): its protocol, class names
    # and default normal set must be those build_split takes from the decoded data, for every format it lists
    import pickle
    import tarfile

    from PIL import Image

    from wildgan.data import splits
    from wildgan.data.readers import listed_labels

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))

    def tree(root: Path, classes: list[str], side: tuple[int, int] = (8, 8)) -> Path:
        for k, c in enumerate(classes):
            (root / c).mkdir(parents=True)
            for i in range(20):
                Image.fromarray(np.full(side, 10 * k + i, np.uint8)).save(root / c / f"{i}.png")
        return root

    def tar(folder: Path) -> Path:
        with tarfile.open(folder.parent / f"{folder.name}.tar.gz", "w:gz") as t:
            t.add(folder, arcname=folder.name)
        return folder.parent / f"{folder.name}.tar.gz"

    batches = tmp_path / "b" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (batches / name).write_bytes(pickle.dumps({b"labels": [int(v) for v in np.arange(40) % 10],
                                                   b"data": rng.integers(0, 256, (40, 3072), dtype=np.uint8)}))
    # (batches.meta's order, not CIFAR-10's, names the labels)
    (batches / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CIFAR10_CLASSES[::-1]]}))
    mnist = tmp_path / "m.npz"
    np.savez(mnist, x_train=np.zeros((400, 28, 28), np.uint8), y_train=np.arange(400) % 10)
    cases = [(chula_like(tmp_path / "c.npz"), "auto"), (chula_like(tmp_path / "c.npz"), "chula-rbc12"),
             (simple_npz(tmp_path / "s.npz", with_test=True), "auto"),
             (cifar_like(tmp_path / "cf.npz", 20, 20), "auto"),
             (mnist, "auto"), (None, "auto"), (batches.parent, "auto"), (tar(batches), "auto"),
             (tree(tmp_path / "t", CIFAR10_CLASSES), "auto"), (tar(tmp_path / "t"), "cifar10"),
             (tree(tmp_path / "g", ["a", "b"]), "folder")]
    for data, dataset, res in [(*c, 8) for c in cases] + [(mnist, "auto", None)]:
        # (MNIST's protocol is taken by an .npz of 28x28 gray images as read: not at --resolution 8)
        cfg = DataConfig(data=None if data is None else str(data), dataset=dataset, resolution=res)
        listed = splits.list_data(cfg)
        assert listed is not None, (data, dataset)
        default = listed.default_normal
        info = build_split(replace(cfg, normal=() if default else ("0",))).info
        assert (listed.protocol, listed.class_names) == (info["protocol"], info["class_names"]), (data, dataset)
        assert default == (info["normal_classes"] if default else None), (data, dataset)
        assert (default is None) == (listed.protocol == "generic"), (data, dataset)
    # where only the images tell, nothing is said: digit folders are MNIST under --dataset auto only if 28x28 gray
    digits = tree(tmp_path / "d", [str(i) for i in range(10)], (28, 28))
    assert splits.list_data(DataConfig(data=str(digits))) is None
    assert listed_labels(digits) == ("folder", [str(i) for i in range(10)], None)    # (its classes are known)
    assert build_split(DataConfig(data=str(digits))).info["protocol"] == "mnist"
    assert splits.list_data(DataConfig(data=str(tree(tmp_path / "d8", [str(i) for i in range(10)])))) is None
    # (read at --resolution 8 they are 8x8 whatever their size: the generic protocol, which has no default class)
    assert splits.list_data(DataConfig(data=str(digits), resolution=8)) == splits.ListedData(
        "generic", [str(i) for i in range(10)], None)
    assert build_split(DataConfig(data=str(digits), resolution=8, normal=("1",))).info["protocol"] == "generic"
    # and unlabelled data, or data the read would refuse, lists nothing
    assert splits.list_data(DataConfig(data=str(tree(tmp_path / "p", ["one"])))) is None
    assert splits.list_data(DataConfig(data=str(digits), dataset="chula-rbc12")) is None


@pytest.mark.parametrize("bad", ["short is_anomaly", "2-D is_anomaly", "float is_anomaly", "short image_id"])
def test_an_npz_whose_photo_ids_or_anomaly_labels_the_read_refuses_lists_nothing(tmp_path, capsys, bad):
    # list_data took chula-rbc12's default normal set from y[is_anomaly == 0] without read_npz's checks of those
    # arrays: one of another length stopped `wildgan study` (without --normal, finished or not) with an IndexError
    # traceback, where the read names the file and the array
    from wildgan.cli import main
    from wildgan.data import splits

    with np.load(chula_like(tmp_path / "c.npz")) as z:
        arrays = dict(z)
    n = len(arrays["y"])
    arrays.update({"short is_anomaly": {"is_anomaly": arrays["is_anomaly"][: n - 5]},
                   "2-D is_anomaly": {"is_anomaly": arrays["is_anomaly"][:, None]},
                   "float is_anomaly": {"is_anomaly": arrays["is_anomaly"].astype(np.float32)},
                   "short image_id": {"image_id": arrays["image_id"][: n - 5]}}[bad])
    data = tmp_path / "bad.npz"
    np.savez(data, **arrays)
    assert splits.list_data(DataConfig(data=str(data))) is None
    with pytest.raises(DataError, match=r"bad\.npz: '(is_anomaly|image_id)' must be 1-D"):
        build_split(DataConfig(data=str(data)))
    capsys.readouterr()
    assert main(["study", "--data", str(data), "--preset", "tiny", "--out", str(tmp_path / "st")]) != 0
    assert re.search(r"bad\.npz: '(is_anomaly|image_id)' must be 1-D", capsys.readouterr().err)


def test_an_unlabelled_crop_does_not_make_the_last_class_normal(tmp_path):
    # chula-rbc12's default normal set is the classes of the crops labelled normal (is_anomaly 0); an unlabelled one
    # among them (y -1, which the reader accepts) was taken as class index -1, the last class, which so became a
    # normal class beside 'normal' (build_split and list_data alike)
    from wildgan.data import splits

    with np.load(chula_like(tmp_path / "c.npz")) as z:
        arrays = dict(z)
    arrays["y"][:40] = -1
    arrays["is_anomaly"][:40] = 0
    np.savez(tmp_path / "u.npz", **arrays)
    cfg = DataConfig(data=str(tmp_path / "u.npz"))
    assert build_split(cfg).info["normal_classes"] == ["normal"]
    assert splits.list_data(cfg) == splits.ListedData("chula-rbc12", ["normal", "macro", "micro", "elliptocyte"],
                                                      ["normal"], ["elliptocyte", "normal"])


def _unlabelled_chula(tmp_path: Path) -> Path:
    with np.load(chula_like(tmp_path / "c.npz")) as z:
        arrays = dict(z)
    arrays["y"][:40] = -1
    arrays["is_anomaly"][:40] = 0
    np.savez(tmp_path / "u.npz", **arrays)
    return tmp_path / "u.npz"


def test_a_split_recorded_with_label_minus_one_as_a_normal_class_is_the_runs_own_split(tmp_path):
    # a wildgan before the fix above recorded such a split's normal classes as ['elliptocyte', 'normal'] (labels -1
    # and 0), though label -1 matched no image of it (unlabelled crops are left out): the same images as a rebuild
    # now, whose record says ['normal']. Read as another normal set, `wildgan evaluate RUN` wrote the run's own
    # evaluation aside (RUN/eval-data-normal-normal, "other data or normal classes") and kept the old eval.json
    from wildgan.data import splits
    from wildgan.evaluation.run import evaluation_dir

    split = build_split(DataConfig(data=str(_unlabelled_chula(tmp_path))))
    old = {**split.info, "normal_classes": ["elliptocyte", "normal"], "normal_labels": [-1, 0]}
    assert evaluation_dir(tmp_path / "run", old, split.info) == tmp_path / "run"
    assert splits.recorded_normal_classes(old) == ["normal"]
    # a class really normal beside 'normal' (a label >= 0) is another normal set, evaluated aside
    other = {**split.info, "normal_classes": ["elliptocyte", "normal"], "normal_labels": [3, 0]}
    assert splits.recorded_normal_classes(other) == ["elliptocyte", "normal"]
    assert evaluation_dir(tmp_path / "run", other, split.info) != tmp_path / "run"


def test_an_evaluation_on_any_archive_is_named_after_its_data_without_the_suffix() -> None:
    """evaluation_dir stripped .tar.gz, .tgz, .tar, .zip and .npz by a list of its own, so an evaluation on
    cells.tar.bz2 or cells.tar.xz (tar archives the readers take) went to eval-cells.tar.bz2-<hash>. It now strips
    the suffixes data.dataset_files knows archives by, in any case; the source's path still picks the hash."""
    from wildgan.data.dataset_files import is_archive
    from wildgan.evaluation.run import evaluation_dir

    recorded = {"source": "/a/train.npz", "protocol": "folder", "normal_classes": ["good"]}
    got = {}
    for name in ("cells.tar.gz", "cells.tgz", "cells.tar", "cells.tar.bz2", "cells.TAR.XZ", "cells.zip", "cells.npz"):
        assert name.endswith("npz") or is_archive(Path(name)), name
        d = evaluation_dir(Path("/r"), recorded, {"source": f"/d/{name}", "normal_classes": ["good"]})
        assert d.parent == Path("/r") and re.fullmatch(r"eval-cells-[0-9a-f]{6}", d.name), (name, d.name)
        got[name] = d.name
    assert len(set(got.values())) == len(got)            # (seven files: seven folders)
    d = evaluation_dir(Path("/r"), recorded, {"source": "/d/cells.v2", "normal_classes": ["good"]})
    assert d.name.startswith("eval-cells.v2-"), d.name


def test_a_study_that_holds_cells_of_the_old_default_normal_set_is_told_its_default_cell_changed(tmp_path, capsys,
                                                                                                monkeypatch):
    # an older wildgan's study without --normal trained such data's cell 'elliptocyte,normal' (its split resolved
    # those names, so elliptocyte really was normal there); a re-run now makes the cell 'normal' and trained it beside
    # the old one without a word. Stopped right after the cells are known: the warning is all this test needs
    from wildgan.cli import main
    from wildgan.data import splits

    data = _unlabelled_chula(tmp_path)
    out = tmp_path / "st"
    (out / "runs" / "elliptocyte,normal_g0_wildgan_image_s0").mkdir(parents=True)

    class Known(Exception):
        pass

    def stop(*a, **k):
        raise Known

    monkeypatch.setattr(splits, "with_protocol_shape", stop)
    with pytest.raises(Known):
        main(["study", "--data", str(data), "--preset", "tiny", "--out", str(out)])
    err = capsys.readouterr().err
    assert "holds cells of normal set elliptocyte,normal" in err and "'elliptocyte'" in err, err
    assert "the default normal set is now normal" in err and "--normal elliptocyte,normal continues" in err, err
    # a study without such cells hears nothing of it
    with pytest.raises(Known):
        main(["study", "--data", str(data), "--preset", "tiny", "--out", str(tmp_path / "fresh")])
    assert "older wildgan" not in capsys.readouterr().err


def test_another_normal_class_of_a_run_read_at_the_datas_own_size_is_not_called_changed(tmp_path):
    """`wildgan train` without --resolution reads the data at the size its images have (a 10x8 tree: 10x8), and
    records the size found (8) in config.json, at which `evaluate --normal OTHER` reads it again (cropped at the read):
    the images read then have other pixels and shape, though no file changed, and the fingerprints differed ('the
    same number of images, 72, but not the same images')."""
    from PIL import Image

    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset, write_run_config
    from wildgan.evaluation.run import split_for_run
    from wildgan.training.run import write_split_info

    rng = np.random.default_rng(0)
    root = tmp_path / "tree"
    for c in ("a", "b", "c"):
        (root / c).mkdir(parents=True)
        for i in range(24):
            Image.fromarray(rng.integers(0, 255, (8, 10, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    cfg = DataConfig(data=str(root), normal=("a",))
    with pytest.warns(WildganWarning, match="not square"):
        s = build_split(cfg)
    run = tmp_path / "run"
    run.mkdir()
    # (as the CLI records it: the size found)
    write_run_config(RunConfig(data=replace(cfg, resolution=s.resolution, channels=s.channels),
                               net=net_config_for_preset("tiny", s.resolution, s.channels), train=TrainConfig()), run)
    write_split_info(s, run)
    said: list[str] = []
    with pytest.warns(WildganWarning, match="not square"):
        split_for_run(run, log=said.append, normal=("b",))
    assert not [t for t in said if "changed since" in t], said
    # read alike, an image replaced under the same count is still said
    run2 = tmp_path / "run2"
    run2.mkdir()
    sized = replace(cfg, resolution=s.resolution, channels=s.channels)
    with pytest.warns(WildganWarning, match="not square"):
        write_split_info(build_split(sized), run2)
    write_run_config(RunConfig(data=sized, net=net_config_for_preset("tiny", s.resolution, s.channels),
                               train=TrainConfig()), run2)
    Image.fromarray(rng.integers(0, 255, (8, 10, 3), dtype=np.uint8)).save(root / "a" / "0.png")
    said.clear()
    with pytest.warns(WildganWarning, match="not square"):
        split_for_run(run2, log=said.append, normal=("b",))
    assert len([t for t in said if "read_fingerprint differs" in t]) == 1, said


# ------------------------------------------------------------------------------------------------ read_for
def _read(cfg: DataConfig):
    """load_split_data(cfg) and the texts of the warnings it gave, in order."""
    import warnings

    from wildgan.data import load_split_data

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        loaded = load_split_data(cfg)
    return loaded, [str(w.message) for w in said]


def _image_tree(root: Path, shapes: list[tuple[int, ...]], ext: str = ".png", seed: int = 0) -> Path:
    """Two class folders, each with one file of each shape (uint8 noise)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i, shape in enumerate(shapes):
            Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(root / c / f"{i}{ext}")
    return root


def _same_read(got, fresh) -> None:
    assert got is not None
    assert got.kind == fresh.kind and got.options == fresh.options
    for a, b in ((got.train, fresh.train), (got.test, fresh.test)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.x.dtype == b.x.dtype and a.x.shape == b.x.shape and a.x.tobytes() == b.x.tobytes()
            assert np.array_equal(a.y, b.y) and a.ids == b.ids and a.class_names == b.class_names
            assert a.info == b.info
            for k in ("group", "is_anomaly"):
                assert (getattr(a, k) is None and getattr(b, k) is None) or np.array_equal(getattr(a, k), getattr(b, k))


@pytest.mark.parametrize("case", ["png 40x32 colour", "png 64x64 gray", "jpeg 48x48 colour", "png 28x28 gray",
                                  "jpeg 200x120 colour, fit pad", "png train/test, letterbox", "npz", "npz to gray"])
def test_a_read_at_its_own_size_converted_is_the_read_at_another_byte_for_byte(tmp_path, case):
    # `wildgan study` reads a generic tree or .npz with resolution and channels left to the data, to find them, and
    # its cells read it at those: read_for makes the cells' read from the first one (a folder tree was decoded a
    # second time). It must be that read exactly: pixels, ids, records, options, and the same warnings
    from wildgan.data.splits import read_for

    rng = np.random.default_rng(1)
    fit, square = None, "crop"
    if case.startswith("npz"):
        data = tmp_path / "d.npz"
        np.savez(data, x=(rng.random((30, 40, 50, 3)) * 255).astype(np.uint8), y=np.repeat([0, 1, 2], 10))
    elif case == "png train/test, letterbox":
        _image_tree(tmp_path / "t" / "train", [(24, 40, 3)] * 6)
        _image_tree(tmp_path / "t" / "test", [(24, 40, 3)] * 3, seed=1)
        data, square = tmp_path / "t", "letterbox"
    else:
        shape = {"png 40x32 colour": (32, 40, 3), "png 64x64 gray": (64, 64), "jpeg 48x48 colour": (48, 48, 3),
                 "png 28x28 gray": (28, 28), "jpeg 200x120 colour, fit pad": (120, 200, 3)}[case]
        data = _image_tree(tmp_path / "t", [shape] * 6, ".jpg" if "jpeg" in case else ".png")
        fit = "pad" if "fit pad" in case else None
    native = DataConfig(data=str(data), normal=("0",) if case.startswith("npz") else ("a",), fit=fit, square=square)
    loaded, said = _read(native)
    assert loaded.options["resolution"] is None and loaded.options["channels"] is None
    channels = 1 if case == "npz to gray" else int(loaded.train.x.shape[3])
    for res in (8, 32, 64):
        cfg = replace(native, resolution=res, channels=channels, normal=("b",) if not case.startswith("npz") else
                      ("1",), contamination=0.1, seed=3)
        fresh, fresh_said = _read(cfg)
        assert said == fresh_said, res
        _same_read(read_for(cfg, loaded), fresh)
    assert read_for(native, loaded) is loaded                      # read alike: itself


@pytest.mark.parametrize("case", ["larger than 256 px", "a large JPEG", "mixed sizes", "gray and colour files",
                                  "an unreadable file", "a crop warning of another resolution", "a memory check",
                                  "another option", "read at another resolution"])
def test_a_read_that_a_conversion_would_not_make_exactly_is_not_converted(tmp_path, monkeypatch, case):
    # where the read at the final size is not the native read converted (two resizes, a JPEG decoded at a reduced
    # scale, mixed sizes unified), or would warn otherwise, read_for says so (None): the cells then read the data
    from wildgan.data import decode_pool
    from wildgan.data.splits import read_for

    fit, skip_bad, other = None, False, {}
    shapes: list[tuple[int, ...]] = [(40, 40, 3)] * 3
    ext = ".png"
    if case == "larger than 256 px":
        shapes = [(300, 300)] * 3
    elif case == "a large JPEG":
        shapes, ext = [(1024, 1024, 3)] * 2, ".jpg"
    elif case == "mixed sizes":
        shapes = [(40, 40, 3), (48, 48, 3), (40, 40, 3)]
    elif case == "gray and colour files":
        shapes = [(40, 40), (40, 40, 3)]
    elif case == "a crop warning of another resolution":
        shapes, fit = [(32, 40, 3)] * 3, "pad"       # cropped at 32 (said natively too), not at 64
    elif case == "a memory check":
        monkeypatch.setattr(decode_pool, "ROOM_CHECK_MIN_BYTES", 3 * 40 * 40 * 6)
    elif case == "another option":
        other = {"depth16": "global"}
    data = _image_tree(tmp_path / "t", shapes, ext)
    if case == "an unreadable file":
        (data / "a" / "bad.png").write_bytes(b"not an image")
        skip_bad = True
    native = DataConfig(data=str(data), normal=("a",), fit=fit, skip_bad=skip_bad)
    if case == "read at another resolution":
        native = replace(native, resolution=16)
    loaded, _ = _read(native)
    cfg = replace(native, resolution=64 if fit == "pad" else 32, channels=int(loaded.train.x.shape[3]), **other)
    assert read_for(cfg, loaded) is None
    if case == "a memory check":
        monkeypatch.setattr(decode_pool, "ROOM_CHECK_MIN_BYTES", 3 * 40 * 40 * 6 + 1)     # (just below it: made)
        _same_read(read_for(cfg, loaded), _read(cfg)[0])


def _raw_png(path: Path, a: np.ndarray, colour_type: int) -> None:
    """A 16-bit PNG written byte by byte (Pillow writes no 16-bit gray+alpha): a, uint16 [H, W, C] of colour_type's
    channels (4: gray + alpha, 2: RGB)."""
    import struct
    import zlib

    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _write_odd_file(case: str, path: Path, rng: np.random.Generator) -> None:
    """One file of the kind `case` names (see the test below)."""
    from PIL import Image

    def noise(*shape: int) -> np.ndarray:
        return rng.integers(0, 256, shape, dtype=np.uint8)

    if case == "palette png with transparency":
        Image.fromarray(noise(24, 40, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
            path, transparency=3)
    elif case == "cmyk jpeg":
        Image.fromarray(noise(24, 40, 4), mode="CMYK").save(path, format="JPEG", quality=90)
    elif case == "exif-rotated jpeg":
        exif = Image.Exif()
        exif[0x0112] = 6              # stored 24x40 (w x h), shown 40x24 after the quarter turn
        Image.fromarray(noise(40, 24, 3)).save(path, format="JPEG", exif=exif.tobytes(), quality=90)
    elif case == "16-bit gray png":
        Image.frombytes("I;16", (40, 24), (rng.random((24, 40)) * 4000).astype("<u2").tobytes()).save(path)
    elif case == "16-bit gray+alpha png":
        _raw_png(path, (rng.random((24, 40, 2)) * 65535).astype(np.uint16), 4)
    elif case == "gray+alpha png":
        Image.fromarray(noise(24, 40, 2), mode="LA").save(path)
    elif case == "a png named .jpg":
        Image.fromarray(noise(24, 40, 3)).save(path, format="PNG")
    elif case == "256 px jpeg":
        Image.fromarray(noise(256, 256, 3)).save(path, format="JPEG", quality=90)
    elif case == "odd sides":
        Image.fromarray(noise(33, 47, 3)).save(path, format="PNG")
    elif case == "gray read as rgb":
        Image.fromarray(noise(24, 40)).save(path, format="PNG")


@pytest.mark.parametrize("square", ["crop", "letterbox"])
@pytest.mark.parametrize("case, says", [
    ("palette png with transparency", None), ("cmyk jpeg", None), ("exif-rotated jpeg", None),
    ("16-bit gray png", "stretched"), ("16-bit gray+alpha png", "high byte"), ("gray+alpha png", None),
    ("a png named .jpg", None), ("256 px jpeg", None), ("odd sides", None), ("gray read as rgb", None)])
def test_files_of_every_kind_read_at_their_own_size_converted_are_the_read_at_another(tmp_path, case, says, square):
    # read_for's claim (a tree of one size of at most 256 px: decoded as at any resolution, then shrink_uniform) for
    # the files whose decoding does most to them: palettes, alpha, CMYK, EXIF turns, 16 bits, a lying extension,
    # the 256 px cap itself, odd sides, gray made RGB by --channels 3 (shrunk in RGB, where a read at the final size
    # shrinks the gray file and then repeats it); letterboxed and cropped; at resolutions below and above the images'
    from wildgan.data.splits import read_for

    rng = np.random.default_rng(5)
    ext = ".png" if "png" in case and "named" not in case or case in ("odd sides", "gray read as rgb") else ".jpg"
    for c in ("a", "b"):
        (tmp_path / "t" / c).mkdir(parents=True)
        for i in range(3):
            _write_odd_file(case, tmp_path / "t" / c / f"{i}{ext}", rng)
    native = DataConfig(data=str(tmp_path / "t"), normal=("a",), square=square,
                        channels=3 if case == "gray read as rgb" else None)
    loaded, said = _read(native)
    assert says is None or any(says in s for s in said), said
    for res in (8, 32, 512):
        cfg = replace(native, resolution=res, channels=int(loaded.train.x.shape[3]))
        fresh, fresh_said = _read(cfg)
        assert said == fresh_said, res
        _same_read(read_for(cfg, loaded), fresh)


def test_listed_default_cell_says_the_old_default_to_its_log_or_as_a_warning(tmp_path):
    # the study API called directly (no CLI): the same warning, to the given log, else a WildganWarning
    from wildgan.errors import WildganWarning
    from wildgan.studies.study import listed_default_cell

    data = DataConfig(data=str(_unlabelled_chula(tmp_path)))
    out = tmp_path / "st"
    (out / "runs" / "elliptocyte,normal_g0_wildgan_image_s0").mkdir(parents=True)
    said: list[str] = []
    assert listed_default_cell(data, out, log=said.append) == ["normal"]
    assert len(said) == 1 and said[0].startswith(f"warning: {out} holds cells of normal set elliptocyte,normal"), said
    with pytest.warns(WildganWarning, match="holds cells of normal set elliptocyte,normal") as got:
        assert listed_default_cell(data, out) == ["normal"]
    assert not str(got[0].message).startswith("warning:")
    said.clear()
    assert listed_default_cell(data, tmp_path / "fresh", log=said.append) == ["normal"] and said == []


@pytest.mark.parametrize("owned", [True, False])
def test_a_pile_put_in_read_order_keeps_each_image_with_its_id_and_label(tmp_path, owned):
    """in_read_order reorders a shuffled pile's pixels in place where it can: its ids, labels and record must follow
    them, in the split returned and in the one given (a caller that kept the given split, or called again, paired each
    image with another's id and undid the shuffle twice)."""
    from wildgan.data.splits import TRAIN_ORDER_READ, TRAIN_ORDER_SHUFFLED, in_read_order

    n = 24
    p = tmp_path / "pile.npz"
    np.savez(p, x=(np.arange(n, dtype=np.uint8) * 10)[:, None, None] * np.ones((1, 8, 8), np.uint8))
    split = build_split(DataConfig(data=str(p), dataset="unlabelled", resolution=8, channels=1))
    assert split.info["train_order"] == TRAIN_ORDER_SHUFFLED
    read = [int(v) // 10 for v in split.train_x[:, 0, 0, 0]]           # each row's place in the file
    assert read != sorted(read)
    id_of = dict(zip(read, split.train_ids))
    # labels that tell the images apart (a pile's are all 0): 1 for the odd places of the file
    split = replace(split, train_is_anomaly=np.array([k % 2 for k in read], np.int8))
    if not owned:
        split.train_x.setflags(write=False)                             # not its own to reorder: copied
    given = (split.train_x.copy(), list(split.train_ids), split.train_is_anomaly.copy(), dict(split.info))

    def in_order(s):
        places = [int(v) // 10 for v in s.train_x[:, 0, 0, 0]]
        assert places == list(range(n))
        assert s.train_ids == [id_of[k] for k in places]
        assert s.train_is_anomaly.tolist() == [k % 2 for k in places]
        assert s.info["train_order"] == TRAIN_ORDER_READ and s.info["n_train"] == n

    out = in_read_order(split)
    in_order(out)
    for s in (split, out):
        in_order(in_read_order(s))                    # called again, on either: still the read order
    if owned:                 # reordered in place: the given split is the one returned, every field in step
        assert out is split
    else:                     # copied: the given split is as it was
        assert np.array_equal(split.train_x, given[0]) and split.train_ids == given[1]
        assert np.array_equal(split.train_is_anomaly, given[2]) and split.info == given[3]
    with pytest.raises(ValueError, match="24 training images with 23 ids"):
        in_read_order(replace(build_split(DataConfig(data=str(p), dataset="unlabelled", resolution=8, channels=1)),
                              train_ids=given[1][:-1]))


def test_each_test_image_carries_its_class_name_through_every_way_a_split_is_built(tmp_path):
    """AnomalySplit.test_classes (evaluate's per-class AUCs): a class folder's name per test image, in the test
    images' order, also where a file unreadable since training is dropped from a rebuilt split and in a --whole
    split; a pile (no classes) has none."""
    for c in ("a", "b", "c"):
        _pile(tmp_path / "d" / c, 30)
    cfg = DataConfig(data=str(tmp_path / "d"), normal=("a",), skip_bad=True)
    s0 = build_split(cfg)
    folder = [i.split("/")[0] for i in s0.test_ids]
    assert s0.test_classes == folder and set(folder) == {"a", "b", "c"}
    assert [c == "a" for c in s0.test_classes] == (s0.test_y == 0).tolist()
    gone = next(i for i in s0.test_ids if i.startswith("b/"))
    (tmp_path / "d" / gone).write_bytes(b"not a png")
    s = build_split(cfg, recorded={**s0.info, **split_summary(s0)})
    assert s.info["skipped_were"] == {str(tmp_path / "d" / gone): "test"}
    assert len(s.test_ids) == len(s0.test_ids) - 1 and s.test_classes == [i.split("/")[0] for i in s.test_ids]
    whole = build_split(cfg, whole=True)
    assert whole.test_classes == [i.split("/")[0] for i in whole.test_ids] and len(whole.test_ids) == 89
    assert build_split(DataConfig(data=str(tmp_path / "d" / "a"), dataset="unlabelled")).test_classes is None


def test_a_rotated_copys_file_id_is_its_id_without_the_rotation_suffix_only() -> None:
    # the base id was cut at the first '#rot': a file named 'cell#rotten.png' was 'cell', so its placeholder (an
    # unreadable file) was not matched to it; the rotated copies' ids are `ID#rotK`, K a number, at the end only
    from wildgan.data.splits import _base_id, is_rotated_copy

    for name in ("cell.png", "cell#rotten.png", "a#rot1/b.png", "pile:x:3"):
        assert _base_id(name) == name and not is_rotated_copy(name), name
        assert _base_id(f"{name}#rot2") == name and is_rotated_copy(f"{name}#rot12"), name


def test_a_class_name_split_at_its_comma_is_refused_saying_how_to_name_the_class(tmp_path, capsys):
    # --normal a,b of a class 'a,b' is split by the command line's comma list: "normal class 'a' does not exist;
    # available classes: 0=a,b, 1=x, 2=y" said nothing of why, nor of the ways that name it (its index, a --config
    # file's list of names, a tuple in Python)
    from wildgan.cli import main

    rng = np.random.default_rng(0)
    p = tmp_path / "comma.npz"
    _three_classes(p, rng, ["a,b", "x", "y"])
    with pytest.raises(DataError, match=r"normal class 'a' does not exist; available classes: 0=a,b, 1=x, 2=y "
                                        r"\(class 'a,b' holds a comma: give the name whole, in a tuple of names "
                                        r"\('a,b',\)\)"):
        build_split(DataConfig(data=str(p), normal=("a", "b")))
    assert build_split(DataConfig(data=str(p), normal=("a,b",))).info["normal_classes"] == ["a,b"]
    with pytest.raises(DataError, match=r"class 'q' does not exist; available classes: 0=a,b, 1=x, 2=y$"):
        build_split(DataConfig(data=str(p), normal=("q",)))
    capsys.readouterr()
    argv = ["train", "--data", str(p), "--dry-run", "--out", str(tmp_path / "r")]
    assert main([*argv, "--normal", "x", "--exclude", "a,b"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "excluded class 'a' does not exist; available classes: 0=a,b, 1=x, 2=y (class 'a,b' holds a comma, at which "
        "the command line's list of classes is split: give it by its index, 0, or in a list of names in a `wildgan "
        "train --config` file, exclude: [\"a,b\"])")
    assert main([*argv, "--normal", "x", "--exclude", "0"]) == 0, capsys.readouterr().err


def test_photo_ids_split_across_a_runs_hold_out_are_said_at_the_rebuilds_of_a_run_that_never_said_them(tmp_path):
    # the warning is said when a split is drawn, not again at each rebuild of the run's split (`score` / `evaluate` /
    # `report` RUN). A run drawn by a wildgan without the warning was never told, and its rebuilds said nothing either:
    # its AUC, of test crops whose photos it trained on, read as one of new photos
    cfg = _crops_of_photos(tmp_path)
    with pytest.warns(WildganWarning, match="do not split it"):
        s = build_split(cfg)
    assert s.info["photos_in_both"] > 0
    recorded = {**s.info, **split_summary(s)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        again = build_split(cfg, recorded=recorded)
    assert again.test_ids == s.test_ids and again.info["photos_in_both"] == s.info["photos_in_both"]
    older = {k: v for k, v in recorded.items() if k != "photos_in_both"}
    with pytest.warns(WildganWarning, match=rf"and {s.info['photos_in_both']} of the \d+ photos it uses have images "
                                            f"in both"):
        build_split(cfg, recorded=older)


def test_other_data_named_like_cifar10_given_to_a_run_gets_no_note_naming_an_option_of_train(tmp_path):
    # `evaluate RUN --data OTHER` / `score RUN --data OTHER` on class folders carrying CIFAR-10's names: the note that
    # the cifar10 protocol is chosen advised --dataset folder, an option neither command has (the run's settings
    # decide); said where a run's own split is first drawn, as before
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in CIFAR10_CLASSES:
        for i in range(20):
            (tmp_path / c).mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / c / f"{i:02d}.png")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        build_split(DataConfig(data=str(tmp_path), normal=("automobile",)), inherited=("exclude_classes",))
    assert not [w for w in said if "CIFAR-10's ten classes" in str(w.message)], [str(w.message) for w in said]
    with pytest.warns(UserWarning, match="CIFAR-10's ten classes"):
        build_split(DataConfig(data=str(tmp_path)))
