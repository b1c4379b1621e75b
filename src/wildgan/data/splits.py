"""One-vs-rest anomaly splits (spec 6): which images train the GAN, how many contaminants, what is tested.

Protocols (picked by DataConfig.dataset, or detected):
  cifar10      normal = automobile unless given; test = all normal test images + as many drawn from the other
               classes (1000 + 1000, spec 6.2). 32x32x3.
  chula-rbc12  split by photo (image_id): a seeded cfg.test_fraction of the photos is held out; training crops are
               the normal crops of the other photos (+ contaminants from their abnormal crops), each followed by
               `rotations` (default 3) random rotations (spec 6.3); test = 256 normal + 256 abnormal held-out
               crops, not rotated. 64x64x1.
  mnist        the generic protocol at 32x32x1, 28 -> 32 by zero padding; normal defaults to digit 2 (the
               authors' own example).
  generic      normal = the chosen class(es); test = the data's test split, else a seeded stratified hold-out.

Contamination (spec 6.4): N_a = floor(gamma * N_n / (1 - gamma)), drawn uniformly without replacement from the
anomalous training pool. With rotations, N_a is computed from the un-rotated normal count and the contaminants are
rotated like every other training image, so gamma is still the anomaly fraction of the final training set.

The draw is nested (DataConfig.contamination_draw "nested"): the pool is ordered by a seeded hash of each image's id
(sha256 of "stream:seed:id", the "contamination" stream), and its first N_a are the contaminants. At one seed a
smaller gamma's contaminants are therefore among a larger gamma's, and a contamination study compares gammas on common
random draws; each draw is still a uniform N_a-subset. The order depends on which images the pool holds, not on the
order a reader lists them, and an image added to or missing from the pool moves no other (one left out as unreadable
by skip_bad changes the draw only if it was drawn: the next in the order takes its place). With
rotations, the normal images' angles are drawn as for gamma 0 and each contaminant's from its own stream in draw
order, so every gamma rotates the images it shares with another gamma alike. Runs
recorded before this rule (config.json without the field) read back as "choice", numpy's Generator.choice without
replacement, whose draws at two gammas are unrelated (at CIFAR_CAR's 45,000 anomalous images they share about as few
images as two independent draws): evaluate, score and --resume rebuild such a run's training set by its own rule.

Randomness: every draw uses its own generator numpy.random.default_rng([stream, seed]) (streams in SEED_STREAMS),
so e.g. changing test_size never changes which contaminants are drawn.

Training order: a split's training images are shuffled once by the seed (the "train_shuffle" stream), and an
unlabelled pile's record says so (info "train_order": TRAIN_ORDER_SHUFFLED). A Detector.fit on a folder or a
data-set file trains them in the order it read them (TRAIN_ORDER_READ: a folder's files sorted by path, a file's
images in its order), which the same data read back as a pile puts back by undoing that shuffle (in_read_order,
follow_train_order): the order is part of what the networks learn from, and a replay in another trains others. A
record without the field (a run of an earlier wildgan) is a seeded shuffle, but for a Detector.fit's whose recorded
pixels are the pile's in the order read (fit never shuffled).
"""

from __future__ import annotations

import hashlib
import json

import math
import os
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..config import DataConfig, square_name
from ..errors import (RUN_DEPTH16, SPLIT_CLASSES, SPLIT_TOO_SMALL, ConfigError, DataError, WildganError, depth16_said,
                      option_words, warn_user)
from .dataset_files import CIFAR10_CLASSES, every_image_way
from .decode_pool import room_checked
from .imageset import (READER_CHANGES, READER_VERSION, TRAINED_DEPTHS, ImageSet, Opts, crop_warning, decoder_versions,
                       decoders_text, enlarged_words, median_scaled_side, native_sides, shrink_uniform,
                       tiny_images_warning, trained_depth)
from .readers import (data_source_path, default_sample_path, folder_class_names, has_decoded_cache, listed_labels,
                      load_dataset, protocol_on_pile_error, resolve_data_root, single_class_text, trained_gray_share)
from .source_identity import complete_identity, known_for, quick_identity
# (a run's training-score caches, whose rows are the training images under their ids: a Detector.fit run of a wildgan
# before fit_ids.json holds fit's ids there alone; the format is scoring's writer's, shared through this module)
from .train_score_files import TRAIN_SCORE_CSVS, TrainScoreTableError, read_train_score_text, split_train_score_table
from .transforms import (MAX_AUTO_RESOLUTION, check_resolution, convert, count_gray_held, gray_pixels, next_pow2,
                         permute_rows, rotate_batch)

# the fewest training images a run accepts: one minibatch of the `tiny` preset. (A GAN learns little from so few;
# hundreds are the least for a useful detector.)
MIN_NORMAL = 16
_MIN_WHY = "(one minibatch of the tiny preset; a useful detector needs hundreds)"
CHULA_TEST_PER_CLASS = 256
SEED_STREAMS = {"holdout": 1, "contamination": 2, "rotation": 3, "train_shuffle": 4, "test_draw": 5,
                "contaminant_rotation": 6}
# split.json's "train_order" (see the module docstring): how the training images were put in the order trained on
TRAIN_ORDER_SHUFFLED = "seeded shuffle"
TRAIN_ORDER_READ = "as read"
PROTOCOL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cifar10": {"resolution": 32, "channels": 3, "rotations": 0, "fit": "resize", "normal": ("automobile",)},
    "chula-rbc12": {"resolution": 64, "channels": 1, "rotations": 3, "fit": "resize", "normal": ()},
    "mnist": {"resolution": 32, "channels": 1, "rotations": 0, "fit": "pad", "normal": ("2",)},
    "generic": {"resolution": None, "channels": None, "rotations": 0, "fit": "resize", "normal": ()},
    # a pile of images without labels: all of it is training data (contaminated as it comes), no test split
    "unlabelled": {"resolution": None, "channels": None, "rotations": 0, "fit": "resize", "normal": ()},
}


@dataclass
class AnomalySplit:
    """What training and scoring consume; label 1 = anomaly."""

    train_x: np.ndarray             # uint8 [N, R, R, C], shuffled once (seeded)
    train_is_anomaly: np.ndarray    # int8 [N]: 1 for injected contamination (ground truth, never used by training)
    train_ids: list[str]
    test_x: np.ndarray              # uint8 [M, R, R, C]
    test_y: np.ndarray              # int8 [M]: 1 = anomaly, 0 = normal
    test_ids: list[str]
    resolution: int
    channels: int
    info: dict[str, Any]            # JSON-serialisable record of everything needed to reproduce the split
    # each test image's class name (CIFAR-10's 'cat', a class folder's name, a digit): which anomalies a score
    # catches, per class (evaluation.by_class); None where the data has no classes
    test_classes: list[str] | None = None


def _dataset_words(name: str) -> str:
    """The choice of data set `name` as the user of the call in progress gives it (errors.option_words): the CLI's
    --dataset, DataConfig's (train_run's, a study's) dataset= otherwise."""
    return option_words(f"--dataset {name}", f"dataset={name!r}")


def _normal_words() -> str:
    """The normal class(es) option as the user of the call in progress gives it: --normal, or DataConfig's normal=."""
    return option_words("--normal", "normal=")


def square_fit(fit: str, square: str) -> str:
    """The protocol's fit with DataConfig.square applied: 'letterbox' letterboxes non-square images instead of
    cropping them (a 'pad' protocol, MNIST's, already never crops images smaller than its resolution). An old name
    of square ('pad') is read as DataConfig reads it (config.square_name)."""
    return "letterbox" if square_name(square) == "letterbox" and fit == "resize" else fit


def conversion_opts(info: dict[str, Any]) -> dict[str, Any]:
    """The load_images options that convert new images exactly like this split's data (fit, depth16)."""
    conv = info.get("conversion", {})
    out = {k: conv[k] for k in ("fit", "depth16") if conv.get(k) is not None}
    # the training images' bit depth (16-bit images scored with an 8-bit run are read as their 8-bit copies:
    # imageset.scoring_depth16); a record from before it was counted says 'unknown', and is read as before
    out["trained_depth"] = conv["trained_depth"] if conv.get("trained_depth") in TRAINED_DEPTHS else "unknown"
    if conv.get("channels_from") == "data" and info.get("channels") == 1:
        out["gray_data"] = True       # gray because every training image was: colour images to score are odd
    for k in ("gray_data", "colour_data"):     # recorded by Detector.fit and build_split, which saw the images
        if conv.get(k):
            out[k] = True
    if conv.get("colour_data") and isinstance(conv.get("colour_rule"), str):
        out["colour_rule"] = conv["colour_rule"]     # how colour_data was decided (readers.trained_kind)
    if not out.get("gray_data") and not out.get("colour_data") and trained_gray_share(conv) is not None:
        # a colour run with some gray training images: gray images to score are odd only when far more of them are
        # (a record from before it was counted has none: nothing is said of them, as before)
        out["gray_trained"] = list(conv["gray_trained"])
    if info.get("protocol") == "cifar10" and info.get("channels") == 3 and "gray_files" not in conv:
        # a record from before the gray files were counted: CIFAR-10 is colour photos throughout, so gray images to
        # score are odd. (A newer record says so itself, from its files: conversion.colour_data, with gray_files.)
        out["colour_data"] = True
    if info.get("native_sides"):
        out["native_sides"] = list(info["native_sides"])   # images to score far off this scale are warned about
    return out


def all_colour(x: np.ndarray, block: int | None = None) -> bool:
    """Whether every image of uint8 [N, H, W, C] has colour: C == 3 and none gray at every pixel (a gray image,
    whether its file was gray or RGB; gray by transforms.gray_pixels, the rule of own_channels, which the warnings
    about images to score count with: R, G and B within GRAY_TOLERANCE). In blocks of `block` images (default: about
    16 MB of pixels), so that a large set needs no full-size temporary."""
    if x.ndim != 4 or x.shape[-1] != 3 or not len(x):
        return False
    block = block or max(1, 2**24 // (x.shape[1] * x.shape[2]))
    for i in range(0, len(x), block):
        b = x[i:i + block]
        gray = gray_pixels(b).reshape(len(b), -1).all(axis=1)
        if gray.any():
            return False
    return True


def gray_trained_record(x: np.ndarray, colour: bool) -> dict[str, Any]:
    """split.json's conversion.gray_trained: [gray images, images] among a colour run's training images x (uint8
    [N, H, W, 3], before any rotated copies; gray by what they hold, transforms.count_gray_held, the rule images to
    score are counted by), where the run was not recorded all colour (`colour`; then every image had colour, and
    any gray one to score is warned about without it): gray images to score are warned about when far more of them
    are gray (readers.channel_warning). Empty for a gray run, an all-colour one or no images."""
    if colour or x.ndim != 4 or x.shape[-1] != 3 or not len(x):
        return {}
    return {"gray_trained": [count_gray_held(x), int(len(x))]}


def _conversion_record(cfg: DataConfig, fit: str, rotations: int, chosen: bool,
                       colour: bool = False, gray: bool = False, gray_files: int | None = None,
                       colour_rule: str = "content", gray_held: int | None = None,
                       depths: tuple[int, int] | None = None) -> dict[str, Any]:
    """split.json's record of how the images were converted (what conversion_opts reads back for scoring); chosen:
    the channel count was given (or is the protocol's), not taken from the data; colour: RGB, and every training
    image had colour (all_colour), so that gray images to score are warned about; gray: one channel, and every
    training file was gray, so that colour images to score are. Both come from the images, not from `chosen`: a
    resume or a --config replay gives the run's recorded channel count explicitly, and must record the same.
    gray_files: how many of the data's files were gray (data_gray_files; None: not known, not recorded).
    colour_rule: how `colour` was decided, recorded with it: 'content' (all_colour, the rule the warnings about
    images to score count by) or 'files' (CIFAR-10's colour files, some holding gray photos); readers.trained_kind.
    gray_held: how many of the data's images held gray, RGB-stored gray too (data_gray_held; only counted for
    evaluate's warning, Opts.count_held). depths: (16-bit images, other images) of the data as read
    (data_bit_depths; None: not counted, and not recorded), with the trained_depth they make, which images to score
    are read by (conversion_opts)."""
    return {"fit": fit, "depth16": cfg.depth16, "resize": cfg.resize, "channels_from": "chosen" if chosen else "data",
            **({"files_16bit": depths[0], "files_8bit": depths[1], "trained_depth": trained_depth(*depths)}
               if depths is not None else {}),
            **({"colour_data": True, "colour_rule": colour_rule} if colour else {}),
            **({"gray_data": True} if gray else {}),
            **({"gray_files": gray_files} if gray_files is not None else {}),
            **({"gray_held": gray_held} if gray_held is not None else {}),
            "non_square": "letterboxed (black bars)" if fit == "letterbox" else "centre-cropped",
            "alpha": "composited on black", "gray": "PIL 'L' (ITU-R 601-2 luma)",
            "rotation": "uniform angle in [0, 360), bilinear, mirror padding" if rotations else None}


def data_gray_files(*sets: ImageSet | None) -> int | None:
    """How many of the sets' files were gray (one channel) as decoded, before any conversion (their readers'
    record); None when a reader did not count them."""
    counts = [s.info.get("n_gray_files") for s in sets if s is not None]
    if any(not isinstance(n, int) for n in counts):
        return None
    return sum(counts)


def data_bit_depths(*sets: ImageSet | None) -> tuple[int, int] | None:
    """(16-bit images, other images: 8-bit and float) over the sets, from their readers' decode statistics (a
    reader keeps a data set's once, on one of its sets); None when no set has them (a reader that does not count)."""
    stats = [s.info["decode_stats"] for s in sets if s is not None and isinstance(s.info.get("decode_stats"), dict)]
    if not stats:
        return None
    return sum(int(st.get("n16", 0)) for st in stats), sum(int(st.get("n8", 0)) for st in stats)


def data_gray_held(*sets: ImageSet | None) -> int | None:
    """How many of the sets' images held gray (Opts.count_held's n_gray_held: gray files and RGB-stored gray); None
    when a reader did not count them."""
    counts = [s.info.get("n_gray_held") for s in sets if s is not None]
    if any(not isinstance(n, int) for n in counts):
        return None
    return sum(counts)


def _cifar_like(train: ImageSet, test: ImageSet | None) -> bool:
    """Images as CIFAR-10's own: 32x32 at their native size, and colour (no gray file, or RGB arrays where the
    reader did not count gray files)."""
    gray = data_gray_files(train, test)
    colour = gray == 0 if gray is not None else train.x.ndim == 4 and train.x.shape[3] == 3
    return data_native_sides(train, test) == [32, 32] and colour


def data_native_sides(*sets: ImageSet | None) -> list[int] | None:
    """[shortest, longest] native side over the sets (their readers' record; else their arrays' own size)."""
    sides = [v for s in sets if s is not None for v in
             ([s.info["native_sides"]] if s.info.get("native_sides") else [s.x.shape[1:3]] if len(s.x) else [])]
    return native_sides(sides)


def _contamination_rounding(gamma: float, n_normal: int, n_a: int, n_available: int | None = None) -> str | None:
    """What to tell the user when few normal images make N_a's rounding change gamma by more than a fifth (None when
    it does not): a requested 5% of 16 normals is 0 anomalies, and that cell of a study silently repeats gamma 0.
    n_available: the anomalous training images there are to draw from (None: not known, taken as enough). Where there
    are none, no contamination injects one: advising the one that injects one led to a refusal for too few."""
    got = n_a / (n_normal + n_a)
    if abs(got - gamma) <= 0.2 * gamma:
        return None
    if n_a == 0 and n_available == 0:
        what = ("no anomaly is injected (the training set is clean; its training part holds no anomalous image, so "
                "no contamination can inject one)")
    elif n_a == 0:
        least = _least_injecting(n_normal)
        what = (f"no anomaly is injected (the training set is clean; "
                f"{option_words(f'--contamination {least:.3g}', f'contamination={least:.3g}')} or more injects one)")
    else:
        what = f"{n_a} {'is' if n_a == 1 else 'are'} injected: a contamination of {got:.3g}, not {gamma:g}"
    return (f"contamination {gamma:g} of {n_normal} normal training images is {gamma * n_normal / (1 - gamma):.2f} "
            f"anomalous images, rounded down to {n_a}: {what}")


def rounded_contamination(info: dict[str, Any]) -> tuple[int, int] | None:
    """(normal, injected anomalous) training images of a split (its split.json `info`, before rotated copies) where
    the rounding of N_a made the share of anomalies other than the gamma asked (by more than a fifth, as
    _contamination_rounding warns at training), else None. Why: a run asked for gamma 0.05 of 16 normal images
    records gamma 0.05 and trained on none, and `score --threshold` advised c = 0.05 as the run's share."""
    gamma, n_n, n_a = info.get("gamma"), info.get("n_normal_train"), info.get("n_contamination")
    if not isinstance(gamma, (int, float)) or not gamma > 0 or not isinstance(n_n, int) or not isinstance(n_a, int) \
            or n_n + n_a <= 0:
        return None
    return None if _contamination_rounding(float(gamma), n_n, n_a) is None else (n_n, n_a)


def rounded_share(rounded: tuple[int, int]) -> float:
    """The share of anomalies that rounded_contamination's (normal, anomalous) training images hold, to the 3
    significant digits that score's threshold line and the report's threshold row both say it by (and
    --expected-contamination takes): one number in both places, 1 of 17 = 0.0588."""
    n_n, n_a = rounded
    return float(f"{n_a / (n_n + n_a):.3g}")


def _least_injecting(n_normal: int) -> float:
    """The smallest contamination of 3 significant digits that injects one anomaly among n_normal normal images, as
    _contamination_rounding advises it. Why not 1 / (n_normal + 1) as said: to 3 digits it rounds down about half the
    time (1/17 said as 0.0588, which injects none), and the advice did not hold."""
    g = float(f"{1 / (n_normal + 1):.3g}")
    step = 10.0 ** (math.floor(math.log10(g)) - 2)          # one unit of the third significant digit
    while n_contamination(g, n_normal) < 1:
        g = float(f"{g + step:.3g}")
    return g


def _most_that_fits(n_normal: int, n_available: int) -> float:
    """The shortest decimal contamination that injects all n_available (a) anomalous images among n_normal (n)
    normal ones, as a refusal for too few advises it: n_contamination gives a for every gamma in [a/(n+a),
    (a+1)/(n+a+1)), and the lower end, rounded up to the fewest significant digits that stay below the upper, says
    the contamination the training set then has: the upper end, or a short value far above the lower, would inject
    as many but be warned of as a rounding that changes gamma."""
    lo, hi = Fraction(n_available, n_normal + n_available), Fraction(n_available + 1, n_normal + n_available + 1)
    for digits in range(1, 18):
        unit = Fraction(10) ** (math.floor(math.log10(lo)) - digits + 1)
        g = math.ceil(lo / unit) * unit
        if g < hi and _contamination_rounding(float(g), n_normal, n_available) is None:
            break
    return float(g)


def n_contamination(gamma: float, n_normal: int) -> int:
    """N_a = floor(gamma * N_n / (1 - gamma)) in exact arithmetic on gamma's decimal form (0.02, 5000 -> 102).

    The authors' code truncates the float product, which lands one below a whole-number result (0.03, 97: float
    gives 2, exactly 3 = 3% of 100): we take the exact count. The two agree at the paper's settings (gamma 0.01 and
    0.02 for every N_n up to 60,000; CIFAR_CAR 102, cells 10,727)."""
    g = Fraction(repr(float(gamma)))  # repr is the shortest decimal that round-trips: what the user typed
    if not (0 <= g < 1):
        raise ConfigError(f"contamination must be in [0, 1), got {gamma}")
    if n_normal < 0:
        raise ValueError("n_normal must be >= 0")
    return math.floor(g * n_normal / (1 - g))


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([SEED_STREAMS[stream], seed])


def _draw_contamination(pool: np.ndarray, ids: list[str], n_a: int, seed: int, rule: str) -> np.ndarray:
    """The n_a contaminants: pool holds indices of the anomalous training images, ids every pool image's id (by
    index). rule: DataConfig.contamination_draw (see the module docstring); "choice" sorted, "nested" in draw order
    (the order _augment gives their angles in)."""
    if n_a == 0:
        return np.zeros(0, np.int64)
    if rule == "choice":
        return np.sort(_rng(seed, "contamination").choice(pool, size=n_a, replace=False))
    # one order of the whole pool whatever n_a is, so its prefixes are the nested draws of every gamma. Each image's
    # place is a seeded hash of its id, not a permutation of the pool: a permutation moves every image when the
    # pool gains or loses one (a file added to the data, or left out as unreadable by skip_bad), while here the
    # others keep their order, and a draw changes only where that image ranks in it
    stream = SEED_STREAMS["contamination"]
    keys = [hashlib.sha256(f"{stream}:{seed}:{ids[i]}".encode("utf-8", "surrogateescape")).digest() for i in pool]
    order = sorted(range(len(pool)), key=lambda k: (keys[k], ids[pool[k]]))
    return pool[np.asarray(order[:n_a], dtype=np.int64)]


def detect_protocol(dataset: str, train: ImageSet, kind: str) -> str:
    if dataset == "unlabelled":
        return "unlabelled"
    if kind in ("unlabelled-folder", "unlabelled-tar", "unlabelled-npz", "unlabelled-cifar-batches"):
        if dataset in ("cifar10", "chula-rbc12", "mnist"):
            # (load_dataset refuses such a read; a LoadedData made otherwise comes here)
            raise protocol_on_pile_error(str(train.info.get("source")), dataset)
        return "unlabelled"
    grouped = train.group is not None and train.is_anomaly is not None
    if dataset in ("cifar10", "chula-rbc12", "mnist"):
        wrong = _not_the_protocol(dataset, list(train.class_names), grouped, kind)
        if wrong:
            # its defaults (normal class, resolution, channels, the hold-out by photo) would apply to other data
            # without a word: MNIST's normal class 2 on CIFAR's folders is 'bird', RBC's split without photo ids
            raise ConfigError(f"{train.info.get('source')}: {_dataset_words(dataset)} chooses the {dataset} "
                              f"protocol, but {wrong}; {_dataset_words('auto')} chooses by the data (labelled data of "
                              f"other kinds takes the generic protocol, with {_normal_words()})")
        return dataset
    protocol = _protocol_by_content(dataset, kind, list(train.class_names), grouped, train.x.shape[1:] == (28, 28, 1),
                                    str(train.info.get("source")) == str(default_sample_path()))
    if protocol is None:
        raise RuntimeError("bug: no protocol chosen with the images' shape known")     # cannot happen
    return protocol


def _protocol_by_content(dataset: str, kind: str, names: list[str], grouped: bool, mnist_sized: bool | None,
                         sample: bool) -> str | None:
    """detect_protocol's choice for --dataset auto / folder / npz / cifar-batches, by the data's format, class names,
    photo ids with anomaly labels (grouped), and whether its images are 28x28 gray (mnist_sized; None: not known
    without decoding them, and then None where it decides). sample: the data is the embedded MNIST sample."""
    if dataset in ("auto", "cifar-batches") and (kind == "cifar-batches" or sorted(names) == sorted(CIFAR10_CLASSES)):
        return "cifar10"
    if dataset in ("auto", "npz") and grouped:
        return "chula-rbc12"
    if dataset in ("auto", "npz") and names == [str(i) for i in range(10)]:
        if sample or mnist_sized:           # (the embedded sample is MNIST whatever resolution was asked for)
            return "mnist"
        if mnist_sized is None:
            return None
    return "generic"


def _not_the_protocol(dataset: str, names: list[str], grouped: bool, kind: str) -> str | None:
    """Why data named as a protocol's (--dataset) is not that data set, or None: by what the protocol relies on
    (CIFAR-10's class names, MNIST's digits, the RBC crops' photo ids for the hold-out split)."""
    if dataset == "cifar10" and kind != "cifar-batches" and sorted(names) != sorted(CIFAR10_CLASSES):
        return f"its classes are {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}, not CIFAR-10's"
    if dataset == "mnist" and names != [str(i) for i in range(10)]:
        return f"its classes are {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}, not the digits 0-9"
    if dataset == "chula-rbc12" and not grouped:
        return ("it has no photo ids (group) and anomaly labels (is_anomaly), which that protocol's hold-out split "
                "needs (the crops of one smear photo must not land in both training and test)")
    return None


@dataclass(frozen=True)
class ListedData:
    """What build_split would take from a labelled data set's labels, found without decoding an image (list_data)."""

    protocol: str
    class_names: list[str]
    default_normal: list[str] | None    # the protocol's default normal classes; None where it has none (generic)
    # chula-rbc12 with unlabelled crops labelled normal: the default normal set of a wildgan before _labelled_normal,
    # which took the last class as normal beside them, where it differs (a study's cells of it are said: cli)
    default_before: list[str] | None = None


def list_data(cfg: DataConfig) -> ListedData | None:
    """The protocol, class names and default normal classes that build_split(cfg) would find in cfg.data, found
    from its labels alone (readers.listed_labels: class folders, an .npz's label arrays, batches.meta), so that a
    finished study's re-run need not decode the images to know its cells. None where the images decide (a folder
    tree of the digits 0-9 under --dataset auto takes MNIST's protocol only if they are 28x28 gray; an .npz's image
    array of a layout other than (N, 28, 28[, 1]), or without a readable header), for unlabelled data, and where the
    read would be refused (it then says why)."""
    listed = listed_labels(cfg.data, cfg.dataset)
    if listed is None:
        return None
    kind, names, npz = listed
    grouped = bool(npz and npz["grouped"])
    if cfg.dataset in ("cifar10", "chula-rbc12", "mnist"):
        protocol: str | None = None if _not_the_protocol(cfg.dataset, names, grouped, kind) else cfg.dataset
    else:
        shape = npz["shape"] if npz else None
        sized: bool | None = None
        if shape is not None and shape[1:] in ((28, 28), (28, 28, 1)):
            sized = True
        elif shape is not None and (28, 28) not in (shape[1:3], shape[2:4]):
            sized = False
        # (else 28x28 images in another layout, whose channels only array_to_uint8's conversion tells)
        if cfg.channels not in (None, 1) or (cfg.resolution is not None and cfg.resolution < 28):
            sized = False                   # (read as asked: to other channels, or shrunk below 28)
        sample = kind == "npz" and resolve_data_root(cfg.data, cfg.dataset).resolve() == \
            default_sample_path().resolve()
        protocol = _protocol_by_content(cfg.dataset, kind, names, grouped, sized, sample)
    if protocol is None:
        return None
    default: list[int] | None = None
    before: list[str] | None = None
    if protocol == "chula-rbc12":
        assert npz is not None
        y, anomaly = npz["y"], npz["is_anomaly"]
        default = _labelled_normal(y, anomaly) if anomaly is not None else [0]
        old = _normal_before_unlabelled_fix(y, anomaly) if anomaly is not None else default
        before = [names[i] for i in old] if old != default else None
    elif PROTOCOL_DEFAULTS[protocol]["normal"]:
        try:
            default = resolve_classes(PROTOCOL_DEFAULTS[protocol]["normal"], names, "normal", "default")
        except DataError:
            default = None
    return ListedData(protocol, list(names), None if default is None else [names[i] for i in default], before)


def _labelled_normal(y: np.ndarray, is_anomaly: np.ndarray) -> list[int]:
    """chula-rbc12's default normal set: the classes of the images labelled normal (is_anomaly 0). An unlabelled
    image (y -1) has no class: as an index it named the last class, which then counted as normal."""
    return sorted({int(c) for c in np.unique(y[(is_anomaly == 0) & (y >= 0)])})


def _normal_before_unlabelled_fix(y: np.ndarray, is_anomaly: np.ndarray) -> list[int]:
    # the rule of wildgan before _labelled_normal: an unlabelled crop's -1 among the classes, first (sorted)
    return sorted({int(c) for c in np.unique(y[is_anomaly == 0])})


def recorded_normal_classes(recorded: dict[str, Any]) -> list[str]:
    """The normal classes a split.json records, by name. A wildgan before _labelled_normal recorded, for chula-rbc12
    data with unlabelled crops (y -1) among those labelled normal, label -1 as a normal class under the last class's
    name; no image has that label in a split (unlabelled crops are left out of it), so that name was never a normal
    class of the split's images, which are those of the normal classes named beside it: left out here, or the same
    split read as another normal set (its evaluation written aside, other data evaluated with that class normal)."""
    names = [str(c) for c in recorded.get("normal_classes") or []]
    labels = recorded.get("normal_labels")
    if not isinstance(labels, list) or len(labels) != len(names):
        return names
    return [n for n, label in zip(names, labels) if not (isinstance(label, int) and label < 0)]


def resolve_classes(entries: tuple[str, ...], names: list[str], what: str, source: str) -> list[int]:
    """The indices in `names` of the classes `entries` name (--normal / --exclude): a name, in any case and without
    the spaces around it (refused where that matches two classes and neither exactly), or an index where no class is
    named by a number. DataError naming `source` for one that names no class."""
    out: list[int] = []
    for e in entries:
        s = str(e).strip()
        # a name compared without the spaces around it: a class folder ' good' (a space typed when it was made)
        # could not be chosen at all, as every value given is stripped (the CLI's comma list, and `s` here)
        bare = [k for k, n in enumerate(names) if n.strip() == s]
        # (casefold, not lower: 'Straße'.lower() is 'straße' and 'STRASSE'.lower() 'strasse', so a class was not
        # matched in another case where Unicode folds it; casefold makes both 'strasse')
        folded = [k for k, n in enumerate(names) if n.strip().casefold() == s.casefold()]
        if str(e) in names:
            i = names.index(str(e))
        elif s in names:
            i = names.index(s)
        elif len(bare) == 1:
            i = bare[0]
        elif len(bare) > 1 or len(folded) > 1:
            # (class folders 'Good' and 'good' on a case-sensitive file system, or ' good' and 'good ': the first was
            # taken in silence)
            both = bare if len(bare) > 1 else folded
            how = "with other spaces around it" if len(bare) > 1 else "in another case"
            exactly = "give the class's name exactly"
            if len(bare) > 1 and not any(n.strip().isdigit() for n in names):
                # (the command line cannot give the name exactly: its comma list strips every value, so
                # --normal 'good ' was refused again in these words; the index, taken here, names either)
                exactly += (" (in Python; on the command line, whose values are stripped, by its index: "
                            + ", ".join(f"{k} for {names[k]!r}" for k in both) + ")")
            raise DataError(f"{source}: {what} class {s!r} matches {len(both)} classes {how} "
                            f"({', '.join(repr(names[k]) for k in both)}); {exactly}",
                            split_problem=SPLIT_CLASSES)
        elif folded:
            i = folded[0]
        elif s.isdigit() and int(s) < len(names) and not any(n.strip().isdigit() for n in names):
            # an index only where no class is named by a number: with classes '0', '10', '20' ... a '1' that names
            # none of them is a mistake, not the second class ('10')
            i = int(s)
        else:
            avail = ", ".join(f"{k}={n}" for k, n in enumerate(names))
            raise DataError(f"{source}: {what} class {s!r} does not exist; available classes: {avail}"
                            f"{_comma_name_hint(s, names, what)}", split_problem=SPLIT_CLASSES)
        if i not in out:
            out.append(i)
    return out


def _comma_name_hint(part: str, names: list[str], what: str) -> str:
    """' (class 'a,b' holds a comma ...: give it ...)' where `part` is a piece of a class name that holds a comma, else
    ''. Why: --normal a,b of a class folder 'a,b' is split into classes 'a' and 'b' by the command line's comma list,
    and was refused as "normal class 'a' does not exist; available classes: 0=a,b, ...", with no word of how to name
    it (its index, or a --config file's list of names)."""
    held = [k for k, n in enumerate(names) if "," in n and part in (p.strip() for p in n.split(","))]
    if not held:
        return ""
    k, name = held[0], names[held[0]]
    key = "normal" if what == "normal" else "exclude"
    by_index = not any(n.strip().isdigit() for n in names)      # (as resolve_classes takes an index)
    cli = (f" (class {name!r} holds a comma, at which the command line's list of classes is split: give it "
           + (f"by its index, {k}, or " if by_index else "") + f"in a list of names in a `wildgan train --config` "
           f"file, {key}: [{json.dumps(name)}])")
    api = f" (class {name!r} holds a comma: give the name whole, in a tuple of names ({name!r},))"
    return option_words(cli, api)


def _warn_unlabelled_left_out(source: str, train: ImageSet, test: ImageSet | None) -> None:
    """Say how many images of labelled data are labelled -1 (an .npz's "no class"), which a split leaves out, neither
    normal nor anomalous: they were left out without a word, which changed its counts (a third of the data, or every
    anomaly of labels -1/1 meant as scikit-learn's outlier labels) with nothing to say why."""
    y = np.concatenate([train.y] + ([] if test is None else [test.y]))
    n = int(np.count_nonzero(y == -1))
    if not n:
        return
    hint = (": -1 is not an anomaly label here (scikit-learn's outliers); label the classes 0 and 1 and name the "
            f"normal one with {_normal_words()}" if set(np.unique(y).tolist()) == {-1, 1} else "")
    warn_user(f"{source}: {n} of its {len(y)} images are labelled -1 (no class) and are left out of the split, "
              f"neither normal nor anomalous{hint}")


def _augment(x: np.ndarray, ids: list[str], is_anom: np.ndarray, rotations: int, seed: int,
             nested: int | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Originals followed by `rotations` rotated copies of each image (uniform random angles). nested: the last
    `nested` images are contaminants in draw order (the nested draw): their angles come from a stream of their own,
    one row each, so that the other images' angles are those of gamma 0 and a smaller gamma's contaminants turn as in
    a larger gamma's (in one array of shape (rotations, N), every angle after the first row moved with N)."""
    if rotations <= 0:
        return x, ids, is_anom
    n = len(x)
    tail = nested or 0
    angles = _rng(seed, "rotation").uniform(0.0, 360.0, size=(rotations, n - tail))
    if nested is not None:
        rows = _rng(seed, "contaminant_rotation").uniform(0.0, 360.0, size=(tail, rotations))
        angles = np.concatenate([angles, rows.T], axis=1)
    out = np.empty(((rotations + 1) * n,) + x.shape[1:], x.dtype)    # filled in place: no list of copies to join
    out[:n] = x
    all_ids = list(ids)
    for k in range(rotations):
        out[(k + 1) * n:(k + 2) * n] = rotate_batch(x, angles[k])
        all_ids += [f"{i}#rot{k + 1}" for i in ids]
    return out, all_ids, np.tile(is_anom, rotations + 1)


class _Rows:
    """Some images of a loaded set, by index. Their pixels are copied only when selected (take): a split that copied
    its training part first (ImageSet.subset), then the normal images out of that, held the data set nearly twice.
    Index -1 is a placeholder (_placed): a file with an id and label but no pixels (black when taken)."""

    def __init__(self, base: ImageSet, idx: np.ndarray, y: np.ndarray | None = None,
                 ids: list[str] | None = None) -> None:
        self.base, self.idx = base, np.asarray(idx, dtype=np.int64)
        self.y = base.y[self.idx] if y is None else y
        self.ids = [base.ids[i] for i in self.idx] if ids is None else ids
        self.group = None if base.group is None else base.group[self.idx]

    def __len__(self) -> int:
        return len(self.idx)

    def rows(self, sel: np.ndarray) -> "_Rows":
        sel = np.asarray(sel, dtype=np.int64)
        return _Rows(self.base, self.idx[sel], self.y[sel], [self.ids[i] for i in sel])

    def take(self, sel: np.ndarray) -> np.ndarray:
        """The pixels of the images at sel (indices into these rows): one copy of those images only."""
        idx = self.idx[np.asarray(sel, dtype=np.int64)]
        x = self.base.x[idx]
        x[idx < 0] = 0
        return x


def _placed(s: ImageSet, skipped_before: set[str] | None) -> tuple[_Rows, dict[str, str]]:
    """s's rows, with a placeholder where each file its reader left out as unreadable (info 'unread') was listed,
    but not those in skipped_before (None: no placeholders), and {placeholder id: its path}. Why: every draw is over
    the files listed, so one file fewer redraws them all (a hold-out permutation has other members at another
    length); with the placeholders a run's split is rebuilt as it was drawn, and they are dropped after."""
    unread = [u for u in s.info.get("unread", []) if skipped_before is not None and u["path"] not in skipped_before]
    if not unread:
        return _Rows(s, np.arange(len(s.y))), {}
    at = [u["at"] for u in unread]
    ids = np.insert(np.asarray(s.ids, dtype=object), at, [u["id"] for u in unread]).tolist()
    rows = _Rows(s, np.insert(np.arange(len(s.y)), at, -1), np.insert(s.y, at, [u["y"] for u in unread]), ids)
    return rows, {u["id"]: u["path"] for u in unread}


_ROTATED_COPY = re.compile(r"#rot\d+$")


def _base_id(i: str) -> str:
    """The id of the file a rotated copy was made of (`ID#rotK` -> `ID`); any other id as it is. (Split at the first
    '#rot' as it was, a file named 'cell#rotten.png' was 'cell': not matched to itself among the placeholders.)"""
    return _ROTATED_COPY.sub("", i)


def is_rotated_copy(image_id: str) -> bool:
    """Whether a training image's id names a rotated copy that --rotations added (_augment: `ID#rotK`), not a file
    of the data itself (whose id is `ID`, before the copies)."""
    return _ROTATED_COPY.search(image_id) is not None


def _concat(a: ImageSet, b: ImageSet | None) -> ImageSet:
    if b is None:
        return a
    if a.x.shape[1:] != b.x.shape[1:]:
        raise DataError(f"{a.info.get('source')}: train images {a.x.shape[1:]} and test images {b.x.shape[1:]} "
                        "differ in size")
    grp = None if a.group is None or b.group is None else np.concatenate([a.group, b.group])
    anom = None if a.is_anomaly is None or b.is_anomaly is None else np.concatenate([a.is_anomaly, b.is_anomaly])
    return ImageSet(np.concatenate([a.x, b.x]), np.concatenate([a.y, b.y]), a.class_names, a.ids + b.ids, grp,
                    anom, dict(a.info))


@dataclass(frozen=True)
class LoadedData:
    """A data set as read for build_split (load_split_data), to build several splits of it without reading it again:
    e.g. a study's cells, which differ only in normal class, contamination and seed. Never changed by build_split."""

    train: ImageSet
    test: ImageSet | None
    kind: str                       # load_dataset's format
    options: dict[str, Any]         # what it was read with (path, dataset and the decoding options)
    # the source's quick identity taken before it was read (source_identity.quick_identity: a file's size and
    # mtime_ns, a folder's listing); None: not known (a LoadedData made by hand), and no identity is recorded
    source_stat: dict[str, Any] | None = None
    # (source_identity's result, once the source's bytes were hashed: a study's cells share one read)
    _identity: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # what was said of this read once for all the splits built from it (_note_enlarged: a study's cells share it)
    _said: set[str] = field(default_factory=set, compare=False, repr=False)

    @cached_property
    def read_fingerprint(self) -> str:
        """read_fingerprint of these images, computed once: a study builds many splits of one read (0.2 s each for
        CIFAR-10's 60,000 images, more than its split takes from the decoded cache)."""
        return read_fingerprint(self.train, self.test)

    def source_identity(self, known: Any = None) -> dict[str, Any] | None:
        """split.json's `source_identity` of this read (data.source_identity): the bytes of the source as it was
        read. known: the run's recorded identity, taken without hashing where the file's size and mtime_ns, or the
        folder's listing, are the ones it was read with. None where the source changed since it was read, or its
        stat was not taken."""
        quick = self.source_stat
        if quick is None or known_for(quick, known):
            return complete_identity(str(self.train.info.get("source")), quick, known)
        if "hashed" not in self._identity:
            self._identity["hashed"] = complete_identity(str(self.train.info.get("source")), quick)
        return self._identity["hashed"]


def _load_options(cfg: DataConfig, download: bool) -> dict[str, Any]:
    """The load_dataset arguments build_split reads cfg.data with (everything but the progress bar)."""
    known = PROTOCOL_DEFAULTS.get(cfg.dataset)  # protocol known before loading: decode straight to its size
    if cfg.dataset == "auto" and cfg.resolution is None and folder_class_names(cfg.data) == sorted(CIFAR10_CLASSES):
        # class folders named as CIFAR-10's choose its protocol (detect_protocol), and so its 32 px: a tree of large
        # photos is decoded for 32 at once, as scoring reads each file for the run's 32, not for 256 and then
        # resized again (one rounding more, and up to 64x the memory while reading)
        known = {"resolution": PROTOCOL_DEFAULTS["cifar10"]["resolution"]}
    return {"path": cfg.data, "dataset": cfg.dataset, "depth16": cfg.depth16, "resize": cfg.resize,
            "skip_bad": cfg.skip_bad, "download": download or cfg.download,
            "resolution": cfg.resolution or (known or {}).get("resolution"),
            "channels": cfg.channels or (known or {}).get("channels"),
            "fit": square_fit(cfg.fit or (known or {}).get("fit", "resize"), cfg.square),
            # (the memory estimate; a protocol detected only after loading is not known here)
            "rotations": cfg.rotations if cfg.rotations is not None else (known or {}).get("rotations", 0)}


def reads_decoded_cache(cfg: DataConfig) -> bool:
    """Whether build_split(cfg) reads cfg.data, an archive of class folders, from the decoded cache that an earlier
    read of it left (readers.has_decoded_cache), not decoding its images again: about as cheap as an .npz. Looked for
    only: no image read (of the cache, its headers). False for anything else, a read of an archive as unlabelled
    images among them (a pile's read keeps no decoded cache)."""
    if cfg.dataset == "unlabelled":
        return False
    opts = _load_options(cfg, False)
    path, dataset = opts.pop("path"), opts.pop("dataset")
    try:
        p = data_source_path(path, dataset)
        return p.is_file() and has_decoded_cache(p, **opts)
    except (WildganError, OSError):
        return False


def load_split_data(cfg: DataConfig, *, download: bool = False, progress: bool | None = None,
                    count_held: bool = False, read_depth16: str | None = None) -> LoadedData:
    """Read cfg.data as build_split(cfg) would, for build_split(..., loaded=): every DataConfig that differs from cfg
    only in normal, contamination, seed, rotations, test_size, test_fraction or exclude_classes builds its split from
    it. count_held, read_depth16: see build_split."""
    opts = _load_options(cfg, download)
    if read_depth16 is not None:
        opts["depth16"] = read_depth16
    path, dataset = opts.pop("path"), opts.pop("dataset")
    try:
        root: Path | None = data_source_path(path, dataset).resolve()
    except (WildganError, OSError):
        root = None                 # (load_dataset says what is wrong)
    # taken before the read, so that split.json never records the identity of bytes other than those read (a file
    # written to meanwhile has another size or mtime when it is hashed, and then none is recorded)
    before = quick_identity(root) if root is not None else None
    if count_held:
        opts["count_held"] = True
    if read_depth16 is not None:
        # (read_depth16 may be scoring's transforms.PER_IMAGE_8BIT, which load_dataset refuses from a user)
        opts["_scoring_rule"] = True
    if cfg.download and not download:
        # (the DataConfig's download, which a run's config.json replays: load_dataset warns of the caller's only)
        opts["_recorded_download"] = True
    train, test, kind = load_dataset(path, dataset, progress=progress, **opts)
    _warn_tiny_arrays(cfg, train, kind)
    source = train.info.get("source")
    if source is not None and (root is None or str(root) != str(source)):
        before = quick_identity(source)         # (read elsewhere than resolved beforehand: a download)
    # the options the images were read with: read_depth16's rule where given (build_split(loaded=) refuses such a read
    # for a cfg whose own rule it is not, as for any other option read otherwise)
    read_with = _load_options(cfg, download)
    if read_depth16 is not None:
        read_with["depth16"] = read_depth16
    return LoadedData(train, test, kind, read_with, before if source is not None else None)


def _auto_resolution(cfg: DataConfig, protocol: str, train: ImageSet) -> int:
    """The training resolution build_split takes: cfg's, else the protocol's, else the next power of two of the
    training images' short side (at most MAX_AUTO_RESOLUTION)."""
    return (cfg.resolution or PROTOCOL_DEFAULTS[protocol]["resolution"]
            or min(next_pow2(min(train.x.shape[1:3])), MAX_AUTO_RESOLUTION))


def _note_enlarged(loaded: LoadedData, train: ImageSet, resolution: int, fit: str, source: str) -> None:
    """The word that the automatic training resolution enlarges images of one size 1.5x or more (imageset.
    enlarged_words: 240x160 photos trained at 256), naming the resolution that keeps to their size; once per read
    (`loaded`, which a study's cells share). Images of several sizes are said by their own warning, made where they
    were made one size (decode_pool.stack): here they are already of the resolution's size, and scale by nothing."""
    h, w = (int(v) for v in train.x.shape[1:3])
    words = enlarged_words(median_scaled_side([(h, w)], resolution, fit), resolution)
    if words and "enlarged" not in loaded._said:
        loaded._said.add("enlarged")
        warn_user(f"{source}: its {w}x{h} images are trained at {resolution}x{resolution}, the automatic resolution "
                  f"(the next power of two of their short side), {words}")


def _warn_tiny_arrays(cfg: DataConfig, train: ImageSet, kind: str) -> None:
    """The warning about training images far smaller than the automatic training resolution
    (imageset.tiny_images_warning) for an .npz, whose arrays are read whole: decode_pool.stack, which says it for
    image files, never sees them. All of an array's images share its size, so only a protocol's own resolution can
    be that much larger (e.g. CIFAR-10's 32 for 3x3 images labelled with its classes). Said once per read, as the
    files' warning is (a study's cells share one read); a resolution chosen (cfg.resolution) is the user's word."""
    if cfg.resolution is not None or kind not in ("npz", "unlabelled-npz") or not len(train.x):
        return
    try:
        protocol = detect_protocol(cfg.dataset, train, kind)
    except WildganError:
        return                     # (build_split refuses it, saying why)
    # (x is still the arrays' own size where it is smaller than the resolution: only larger images are shrunk on read)
    msg = tiny_images_warning(((i, train.x.shape[1:3]) for i in train.ids), _auto_resolution(cfg, protocol, train),
                              str(train.info.get("source") or cfg.data))
    if msg:
        warn_user(msg)


def _read_otherwise(cfg: DataConfig, loaded: LoadedData, download: bool = False) -> list[str]:
    """The reading options that `loaded` was read with otherwise than build_split(cfg) reads cfg.data (rotations
    are applied to a split, not to the read)."""
    want = _load_options(cfg, download)
    return sorted(k for k in want if k != "rotations" and want[k] != loaded.options.get(k))


# the formats read_for converts a read of: their decode at a resolution is "decode each file at its own size, then
# one deterministic conversion" (imageset.shrink_uniform) under read_for's conditions. Not an archive (folder-tar): its
# read at a resolution is already made from its decoded cache of the native pixels; not CIFAR-10's batches, read at
# their protocol's size in the first place (with_protocol_shape)
_CONVERTED_FORMATS = ("folder", "npz")


def read_for(cfg: DataConfig, loaded: LoadedData, download: bool = False) -> LoadedData | None:
    """cfg.data as load_split_data(cfg) reads it: `loaded` itself where it was read so, else made from it
    without decoding an image again, where that gives the same bytes, records and warnings as the read; else None
    (read it). Why: `wildgan study` reads its data with resolution and channels left to the data to find them, and its
    cells read at those: a folder tree, which has no decoded cache, was decoded twice.

    Only the resolution and channels may differ, each left to the data (None) in `loaded` (or the same). Made from it
    for an .npz (its read at a resolution is its native arrays through shrink_uniform), and for a labelled folder tree
    whose images are all of one size of at most MAX_AUTO_RESOLUTION a side and none unreadable. Not otherwise, since
    the read at the final size differs from the native read converted: larger images are shrunk to the automatic
    256 px while decoding and again later (two resizes: pixels 1-2 levels apart), and a large JPEG is decoded at a
    reduced scale chosen for the side it is read for (image_decode.draft_scale, never for one of at most 256 px);
    mixed sizes are unified at the median's power of two, then resized again (up to 40 levels apart); an unreadable
    file's size is unknown. Nor where the two reads would warn otherwise: gray files among colour ones (the same
    pixels, but only a read with channels left to the data says that all are made RGB), a crop warning that depends
    on the resolution (fit 'pad'), or the memory check of decode_pool.warn_if_no_room (a data set that decodes to
    ROOM_CHECK_MIN_BYTES or more at either size), which depends on the memory free at the time."""
    want, have = _load_options(cfg, download), loaded.options
    differ = _read_otherwise(cfg, loaded, download)
    if not differ:
        return loaded
    if not set(differ) <= {"resolution", "channels"} or loaded.kind not in _CONVERTED_FORMATS or \
            any(have[k] is not None for k in differ):
        return None
    res, ch = want["resolution"], want["channels"]
    sets = [s for s in (loaded.train, loaded.test) if s is not None]
    sizes = {tuple(int(v) for v in s.x.shape[1:3]) for s in sets}
    if loaded.kind == "folder":
        for s in sets:
            h, w, c = (int(v) for v in s.x.shape[1:])
            if s.info.get("skipped") or s.info.get("unread") or max(h, w) > MAX_AUTO_RESOLUTION or \
                    (h == w and s.info.get("native_sides") != [h, h]) or (ch is not None and c != ch) or \
                    (have["channels"] is None and c == 3 and s.info.get("n_gray_files") != 0):
                # (a square array whose files were not all of its size: mixed sizes, unified while stacking)
                return None
        # neither read estimated the memory it needs: the native one at most 3 bytes a pixel (o.channels None: a
        # palette file's header counts as colour), the other one at res x res x ch
        n = sum(len(s.x) for s in sets)
        if any(room_checked(n, max(h * w * (have["channels"] or 3), (res or 0) ** 2 * (ch or 3)))
               for h, w in sizes):
            return None
    if crop_warning(set(sizes), want["fit"], have["resolution"], "images") != \
            crop_warning(set(sizes), want["fit"], res, "images"):
        return None
    o = Opts(resolution=res, channels=ch, fit=want["fit"])
    out = [ImageSet(shrink_uniform(s.x, o, warn=False), s.y, s.class_names, s.ids, s.group, s.is_anomaly,
                    dict(s.info)) for s in sets]
    return LoadedData(out[0], out[1] if len(out) > 1 else None, loaded.kind, want, loaded.source_stat,
                      loaded._identity)


# the protocols whose images' size and channels are fixed (PROTOCOL_DEFAULTS) and chosen without looking at the
# pixels: CIFAR-10's by its class names or batch files, chula-rbc12's by its photo ids with anomaly labels. (MNIST's,
# under --dataset auto, is chosen by the images being 28x28 gray: read at its 32 px, they would not be)
_SHAPE_BY_LABELS = ("cifar10", "chula-rbc12")


def with_protocol_shape(cfg: DataConfig) -> tuple[DataConfig, str | None]:
    """(cfg with the resolution and channels its split will have, where they are left to the data (None) and the
    data's labels alone tell a protocol that fixes them (list_data: CIFAR-10's 32x32 RGB, chula-rbc12's 64x64 gray),
    that protocol); (cfg, None) otherwise. Why: a study reads its data once for the base config, whose resolution and
    channels it finds, and its cells read at those; read at them in the first place, the one read serves both."""
    if cfg.resolution is not None and cfg.channels is not None:
        return cfg, None
    listed = list_data(cfg)
    if listed is None or listed.protocol not in _SHAPE_BY_LABELS:
        return cfg, None
    d = PROTOCOL_DEFAULTS[listed.protocol]
    return replace(cfg, resolution=cfg.resolution or d["resolution"], channels=cfg.channels or d["channels"]), \
        listed.protocol


def build_split(cfg: DataConfig, *, download: bool = False, progress: bool | None = None,
                whole: bool = False, inherited: tuple[str, ...] = (), loaded: LoadedData | None = None,
                recorded: dict[str, Any] | None = None, count_held: bool = False,
                read_depth16: str | None = None, own_run: dict[str, Any] | None = None) -> AnomalySplit:
    """Load cfg.data and build the one-vs-rest split for its protocol. Same cfg -> identical arrays.

    loaded: cfg.data as load_split_data read it (for a DataConfig that reads the data the same way): not read again.

    whole=True: no training set; the test set is every labelled image of cfg.data (its train and test parts, minus
    excluded classes; normal classes = 0, the rest = 1), neither balanced nor contaminated. That is what evaluating
    a run on labelled data it was not split from means (e.g. a run trained on an unlabelled pile).

    inherited: the fields of cfg ('normal', 'exclude_classes') taken over from a run trained on other data, not
    chosen for this data: they match class names only, never a class index ("1" must not become this data's second
    folder, which would evaluate against another normal class, silently), a normal class that is no class name here
    is an error asking for --normal, and an excluded one that is no class here excludes nothing.

    recorded: the split.json of the run whose split this rebuilds (from its own data). A file that skip_bad leaves
    out and the record does not (unreadable since training) is drawn over as if read, then dropped: the split is the
    recorded one less that file, and info['skipped_were'] says where each such file was (train, test or unused).
    Files the record lists as skipped stay out of the draws, as they were when the run's split was drawn. A pile the
    record says was trained in the order read (train_order, follow_train_order) is put in that order.

    count_held: also count the images that hold gray, RGB-stored gray too (conversion.gray_held, where the reader
    counts them: evaluate's warning about data of another kind than a run's, by readers.trained_kind's rule).

    read_depth16: the rule the files are read by instead of cfg.depth16 (which the split's record keeps): evaluate
    reads other data for a run as `wildgan score` reads images for it (imageset.scoring_depth16, which may be the
    internal transforms.PER_IMAGE_8BIT), so that a file scores the same through either command.

    own_run: the split.json of the run whose own data and normal classes these are, given to it as other data is
    (`evaluate` / `score RUN --data ITS_DATA`, `inherited`): the split is the run's, and what is said of a rebuild of
    it is said as of one (photos_in_both)."""
    if cfg.seed < 0:
        raise ConfigError(f"seed must be >= 0, got {cfg.seed}")
    if not (0.0 < cfg.test_fraction < 1.0):
        raise ConfigError(f"test_fraction must be in (0, 1), got {cfg.test_fraction}")
    if cfg.rotations is not None and cfg.rotations < 0:
        raise ConfigError(f"{option_words('--rotations', 'rotations')} must be >= 0, got {cfg.rotations}")
    if cfg.resolution is not None:
        check_resolution(cfg.resolution)
    if loaded is None:
        loaded = load_split_data(cfg, download=download, progress=progress, count_held=count_held,
                                 read_depth16=read_depth16)
        shared = False
    else:
        # read with other options, the images would not be those cfg describes (another size, other files skipped)
        differ = _read_otherwise(cfg, loaded, download)
        if differ:
            raise ValueError(f"build_split: the loaded data was read with other options than cfg's "
                             f"({', '.join(differ)})")
        shared = True
    train, test, kind = loaded.train, loaded.test, loaded.kind
    protocol = detect_protocol(cfg.dataset, train, kind)
    d = dict(PROTOCOL_DEFAULTS[protocol])
    d["fit"] = square_fit(cfg.fit or d["fit"], cfg.square)
    source = str(train.info.get("source"))
    if protocol == "cifar10" and cfg.dataset == "auto" and kind != "cifar-batches" and recorded is None and \
            not inherited and not _cifar_like(train, test):
        # chosen by the class names alone, which a tree of one's own photos may carry: said, with the way out. Not
        # for CIFAR-10 itself in another container (the JPEG tree, an npz): 32x32 colour files, every rebuild of
        # its split (evaluate, training scores, study cells) would repeat a note about nothing. Nor for a run's split
        # rebuilt (`score` / `evaluate` / `report` RUN): said when the run was trained, and its way out, --dataset, is
        # no option of theirs; nor of other data given to them (`inherited`), whose protocol the run's settings chose
        what = "labels' class names" if kind == "npz" else "class folders"
        warn_user(f"{source}: its {what} are CIFAR-10's ten classes but its images are not CIFAR-10's 32x32 colour "
                  f"photos; the cifar10 protocol is used (32x32 RGB, normal class automobile unless "
                  f"{_normal_words()}); "
                  f"{_dataset_words('npz' if kind == 'npz' else 'folder')} uses the generic protocol of labelled "
                  f"data instead, {_dataset_words('cifar10')} chooses this one without this note")
    resolution = _auto_resolution(cfg, protocol, train)
    if cfg.resolution is None and not d["resolution"] and recorded is None and not whole and not inherited:
        # (not of a run's own split rebuilt, nor of other data evaluated for a run: its resolution is settled)
        _note_enlarged(loaded, train, resolution, d["fit"], source)
    channels = cfg.channels or d["channels"] or int(train.x.shape[3])
    rotations = d["rotations"] if cfg.rotations is None else int(cfg.rotations)
    names = list(train.class_names)
    if protocol == "unlabelled":
        if "normal" in inherited and cfg.normal:
            raise ConfigError(f"{source}: unlabelled images (no class folders or labels), so there is no normal "
                              f"class to evaluate against: pass labelled data and its normal class with "
                              f"{_normal_words()}", split_problem=SPLIT_CLASSES)
        if "exclude_classes" in inherited:
            cfg = replace(cfg, exclude_classes=())
        split = _unlabelled_split(cfg, train, kind, source, resolution, channels, rotations, d["fit"], shared)
        _record_identity(split.info, loaded, recorded)
        # a run trained in the order its images were read (a Detector.fit's, or a replay of one) is rebuilt so
        return follow_train_order(split, recorded)

    # (as resolve_classes compares them, names stripped and case folded, so that a class it matches is not refused or
    # dropped here first: a run's normal class ' good' was "not a class of this data" of classes ' good', ...)
    lower = [n.strip().casefold() for n in names]
    if "normal" in inherited:
        unknown = [c for c in cfg.normal if str(c).strip().casefold() not in lower]
        if unknown:
            raise ConfigError(f"{source}: the run's normal class{'es' if len(unknown) > 1 else ''} "
                              f"{', '.join(map(repr, unknown))} {'are' if len(unknown) > 1 else 'is'} not a class of "
                              f"this data (its classes: {', '.join(names)}): choose its normal class(es) with "
                              f"{_normal_words()}", split_problem=SPLIT_CLASSES)
    if "exclude_classes" in inherited:
        gone = [c for c in cfg.exclude_classes if str(c).strip().casefold() not in lower]
        if gone:
            warn_user(f"{source}: the run excluded class{'es' if len(gone) > 1 else ''} {', '.join(map(repr, gone))}, "
                      f"which {'are' if len(gone) > 1 else 'is'} no class of this data: nothing of it is excluded "
                      f"(its classes: {', '.join(names)})")
        cfg = replace(cfg, exclude_classes=tuple(c for c in cfg.exclude_classes if c not in gone))
    excluded = resolve_classes(cfg.exclude_classes, names, "excluded", source)
    normal_default = not cfg.normal
    if cfg.normal:
        normal = resolve_classes(cfg.normal, names, "normal", source)
    elif protocol == "chula-rbc12":
        if train.is_anomaly is not None:
            normal = _labelled_normal(train.y, train.is_anomaly)
        else:
            normal = [0]
    elif d["normal"]:
        normal = resolve_classes(d["normal"], names, "normal", source)
    else:
        avail = ", ".join(f"{k}={n}" for k, n in enumerate(names))
        what = "its labels" if kind in ("npz", "cifar-batches") else "its folders"
        # (the data set's option to train on every image is named to a training only: `wildgan evaluate RUN --data`
        # and evaluate_run of a pile-trained run ask for the normal classes here too, and have no such option and no
        # use for one; a caller with its own way to read every image names it: dataset_files.every_image_way)
        way = every_image_way(f"when training, {_dataset_words('unlabelled')} to train on every image, {what} not "
                              f"being classes")
        raise ConfigError(f"{source}: choose the normal class(es) ({_normal_words()}); available classes: {avail}"
                          + (f" (or {way})" if way else ""), split_problem=SPLIT_CLASSES)
    if set(normal) & set(excluded):
        both = [names[i] for i in sorted(set(normal) & set(excluded))]
        raise ConfigError(f"a class cannot be both normal and excluded: {both}", split_problem=SPLIT_CLASSES)
    gray_files = data_gray_files(train, test)
    colour_by_content = channels == 3 and all_colour(train.x)

    info: dict[str, Any] = {
        "protocol": protocol, "format": kind, "dataset": cfg.dataset, "source": source,
        "class_names": names, "normal_classes": [names[i] for i in normal], "normal_labels": normal,
        "normal_default_used": normal_default, "excluded_classes": [names[i] for i in excluded],
        "gamma": float(cfg.contamination), "seed": int(cfg.seed),
        "seed_streams": {k: f"numpy.random.default_rng([{v}, seed])" for k, v in SEED_STREAMS.items()},
        "contamination_draw": cfg.contamination_draw,
        "test_size": cfg.test_size, "rotations": rotations, "resolution": resolution, "channels": channels,
        "conversion": _conversion_record(cfg, d["fit"], rotations,
                                         chosen=cfg.channels is not None or d["channels"] is not None,
                                         # CIFAR-10 has photos of gray content in colour files: all colour by
                                         # its files (not one gray), which a tree named like it must also be;
                                         # so recorded, as images to score are then counted by their files too
                                         colour=channels == 3 and (colour_by_content or (
                                             protocol == "cifar10" and gray_files == 0)),
                                         colour_rule="content" if colour_by_content else "files",
                                         gray=channels == 1 and train.info.get("native_gray") is True,
                                         gray_files=gray_files, gray_held=data_gray_held(train, test),
                                         depths=data_bit_depths(train, test)),
        "skipped": list(train.info.get("skipped", [])), "native_sides": data_native_sides(train, test),
        "n_read": int(len(train.x) + (0 if test is None else len(test.x))),     # (see _skip_fields)
    }

    def keep(s: ImageSet | _Rows) -> np.ndarray:
        return ~np.isin(s.y, excluded) & (s.y >= 0)  # unlabelled images are neither normal nor anomalous

    _warn_unlabelled_left_out(source, train, test)

    skipped_before = ({e.get("path") for e in recorded["skipped"] if isinstance(e, dict)}
                      if recorded is not None and isinstance(recorded.get("skipped"), list) else None)
    tr_rows, placeholders = _placed(train, skipped_before)
    te_rows, te_placeholders = _placed(test, skipped_before) if test is not None else (None, {})
    placeholders.update(te_placeholders)
    if whole:
        return _whole_split(_concat(train, test), keep, normal, resolution, channels, d["fit"], info)
    # (of the images as read, before any draw: a whole split, of other data only, is never compared with a record)
    fingerprint = loaded.read_fingerprint
    if protocol == "chula-rbc12":
        pool = _concat(train, test)
        if pool.group is None:
            raise DataError(f"{source}: the chula-rbc12 protocol needs image_id (the source photo) per crop")
        kept = _Rows(pool, np.flatnonzero(keep(pool)))
        photos = np.unique(kept.group)
        if len(photos) < 2:
            raise DataError(f"{source}: need at least 2 photos (image_id values) to split by photo")
        n_test_ph = min(len(photos) - 1, max(1, round(cfg.test_fraction * len(photos))))
        test_photos = _rng(cfg.seed, "holdout").permutation(photos)[:n_test_ph]
        in_test = np.isin(kept.group, test_photos)
        tr_pool, te_pool = kept.rows(np.flatnonzero(~in_test)), kept.rows(np.flatnonzero(in_test))
        if set(np.unique(tr_pool.group).tolist()) & set(np.unique(te_pool.group).tolist()):
            raise RuntimeError("bug: a photo is in both train and test")  # cannot happen; guards future edits
        info.update(test_source="photo hold-out", test_fraction=cfg.test_fraction,
                    n_photos_train=int(len(photos) - n_test_ph), n_photos_test=int(n_test_ph),
                    test_image_ids=sorted(np.asarray(test_photos).tolist()))
        test_cap = CHULA_TEST_PER_CLASS
    else:
        if te_rows is not None:
            tr_pool, te_pool = tr_rows.rows(np.flatnonzero(keep(tr_rows))), te_rows.rows(np.flatnonzero(keep(te_rows)))
            info["test_source"] = "test split"
        else:  # stratified seeded hold-out of every class
            kept = tr_rows.rows(np.flatnonzero(keep(tr_rows)))
            rng = _rng(cfg.seed, "holdout")
            te = []
            for c in np.unique(kept.y):
                idx = np.flatnonzero(kept.y == c)
                te.append(rng.permutation(idx)[: round(cfg.test_fraction * len(idx))])
            te_idx = np.sort(np.concatenate(te)) if te else np.zeros(0, np.int64)
            tr_idx = np.setdiff1d(np.arange(len(kept)), te_idx)
            tr_pool, te_pool = kept.rows(tr_idx), kept.rows(te_idx)
            info.update(test_source="hold-out", test_fraction=cfg.test_fraction)
        test_cap = None  # 'paper': as many anomalies as normal test images

    # ---- training set: all normal training images + N_a contaminants
    tr_norm = np.flatnonzero(np.isin(tr_pool.y, normal))
    tr_anom = np.flatnonzero(~np.isin(tr_pool.y, normal))
    if len(tr_norm) < MIN_NORMAL:
        raise DataError(f"{source}: only {len(tr_norm)} training image{'s' if len(tr_norm) != 1 else ''} of the "
                        f"normal class(es) "
                        f"{info['normal_classes']}; need at least {MIN_NORMAL} {_MIN_WHY}",
                        split_problem=SPLIT_TOO_SMALL)
    n_a = n_contamination(cfg.contamination, len(tr_norm))
    if n_a > len(tr_anom):
        if len(tr_anom):
            fits = repr(_most_that_fits(len(tr_norm), len(tr_anom)))
            way_on = (f"{option_words(f'--contamination {fits}', f'contamination={fits}')} injects "
                      f"{'all ' if len(tr_anom) > 1 else ''}{len(tr_anom)}, the most that fits")
        else:
            way_on = f"{option_words('--contamination 0', 'contamination=0')} trains on the normal images alone"
        raise DataError(f"{source}: contamination {cfg.contamination} needs {n_a} anomalous training image"
                        f"{'s' if n_a != 1 else ''} but only {len(tr_anom)} {'are' if len(tr_anom) != 1 else 'is'} "
                        f"available; {way_on}")
    if cfg.contamination > 0 and recorded is None and not inherited:
        # (after the refusal for too few: a warning that 1 is injected, followed by an error that none can be, was
        # said of one request. Not of a run's split rebuilt, `score` / `evaluate` / `report`: said when it was drawn,
        # and its advice, --contamination, is no option of theirs; nor of it given to them as --data, `inherited`)
        rounding = _contamination_rounding(cfg.contamination, len(tr_norm), n_a, len(tr_anom))
        if rounding:
            warn_user(f"{source}: {rounding}")
    contam = _draw_contamination(tr_anom, tr_pool.ids, n_a, cfg.seed, cfg.contamination_draw)
    sel = np.concatenate([tr_norm, contam]).astype(np.int64)
    x = convert(tr_pool.take(sel), resolution, channels, d["fit"])
    info["conversion"].update(gray_trained_record(x, bool(info["conversion"].get("colour_data"))))
    ids = [tr_pool.ids[i] for i in sel]
    is_anom = np.concatenate([np.zeros(len(tr_norm), np.int8), np.ones(n_a, np.int8)])
    x, ids, is_anom = _augment(x, ids, is_anom, rotations, cfg.seed,
                               nested=n_a if cfg.contamination_draw == "nested" else None)
    perm = _rng(cfg.seed, "train_shuffle").permutation(len(x))
    # (x is this function's own array, a fresh selection: shuffled in place, not held twice)
    train_x, train_ids, train_is_anom = permute_rows(x, perm), [ids[i] for i in perm], is_anom[perm]
    by_class = np.bincount(tr_pool.y[contam], minlength=len(names)) if n_a else np.zeros(len(names), np.int64)

    # ---- test set
    te_norm = np.flatnonzero(np.isin(te_pool.y, normal))
    te_anom = np.flatnonzero(~np.isin(te_pool.y, normal))
    held_out = (len(te_norm), len(te_anom))         # (before the paper's balancing, which follows the normal count)
    if cfg.test_size == "paper":
        if test_cap is None:
            n_tn, n_ta = len(te_norm), min(len(te_anom), len(te_norm))
        else:
            n_tn = n_ta = min(test_cap, len(te_norm), len(te_anom))
        rng = _rng(cfg.seed, "test_draw")
        if n_tn < len(te_norm):
            te_norm = np.sort(rng.choice(te_norm, size=n_tn, replace=False))
        if n_ta < len(te_anom):
            te_anom = np.sort(rng.choice(te_anom, size=n_ta, replace=False))
    if len(te_norm) == 0 or len(te_anom) == 0:
        short = _holdout_shortfall(info, held_out, tr_pool, tr_norm, tr_anom, names)
        raise DataError(f"{source}: the test set needs normal and anomalous images, got {len(te_norm)} normal and "
                        f"{len(te_anom)} anomalous{short}", split_problem=SPLIT_TOO_SMALL if short else None)
    tsel = np.concatenate([te_norm, te_anom])
    test_x = convert(te_pool.take(tsel), resolution, channels, d["fit"])
    test_y = np.concatenate([np.zeros(len(te_norm), np.int8), np.ones(len(te_anom), np.int8)])
    test_ids = [te_pool.ids[i] for i in tsel]
    test_classes = [names[int(te_pool.y[i])] for i in tsel]
    photos_in_both = None
    said_of = recorded if recorded is not None else own_run
    if info.get("test_source") == "hold-out" and tr_pool.group is not None and (not inherited or own_run is not None):
        # (other data's training part trains nothing; the run's own given as other data, own_run, is its split.) A
        # run's own split rebuilt (`score` / `evaluate` / `report`) was said of when it was drawn, which split.json
        # records (photos_in_both); a run drawn by a wildgan without the warning records none, and its rebuilds say
        # it: otherwise its AUC of test crops whose photos it trained on was never said to be one
        photos_in_both = _warn_photos_in_both(
            loaded, source, tr_pool.group[sel], te_pool.group[tsel], cfg.test_fraction,
            say=said_of is None or "photos_in_both" not in said_of)

    if {_base_id(i) for i in train_ids} & set(test_ids):
        raise RuntimeError("bug: an image is in both train and test")  # guards the pools above
    if placeholders:
        # drawn where their files were when the run's split was drawn, the placeholders leave now (the split.json
        # counts are the recorded ones less them)
        bases = {_base_id(i) for i in train_ids}
        info["skipped_were"] = {p: "train" if i in bases else "test" if i in test_ids else "unused"
                                for i, p in placeholders.items()}
        tr_keep = np.asarray([_base_id(i) not in placeholders for i in train_ids], bool)
        te_keep = np.asarray([i not in placeholders for i in test_ids], bool)
        train_x, train_is_anom = train_x[tr_keep], train_is_anom[tr_keep]
        train_ids = [i for i, k in zip(train_ids, tr_keep) if k]
        test_x, test_y, test_ids = test_x[te_keep], test_y[te_keep], [i for i, k in zip(test_ids, te_keep) if k]
        test_classes = [c for c, k in zip(test_classes, te_keep) if k]
        tr_norm, contam = tr_norm[tr_pool.idx[tr_norm] >= 0], contam[tr_pool.idx[contam] >= 0]
        n_a, by_class = len(contam), np.bincount(tr_pool.y[contam], minlength=len(names))
        te_norm, te_anom = np.flatnonzero(test_y == 0), np.flatnonzero(test_y == 1)

    info.update(
        n_normal_train=int(len(tr_norm)), n_contamination=int(n_a),
        contamination_by_class={names[c]: int(k) for c, k in enumerate(by_class) if k},
        anomaly_classes=[n for i, n in enumerate(names) if i not in normal and i not in excluded],
        n_train=int(len(train_x)), n_test_normal=int(len(te_norm)), n_test_anomalous=int(len(te_anom)),
        # last, after every field of split.json that had been written before it (see read_fingerprint)
        read_fingerprint=fingerprint,
    )
    if photos_in_both is not None:
        info["photos_in_both"] = photos_in_both        # (newer still: after it)
    _record_identity(info, loaded, recorded)
    return AnomalySplit(train_x, train_is_anom, train_ids, test_x, test_y, test_ids, resolution, channels, info,
                        test_classes)


def _warn_photos_in_both(loaded: LoadedData, source: str, train_groups: np.ndarray, test_groups: np.ndarray,
                         test_fraction: float, say: bool = True) -> int:
    """The warning that an .npz's image_id (photo ids) did not keep a photo out of one side of a generic hold-out,
    which holds out images, not photos: image_id without is_anomaly takes the generic protocol, and crops of one
    photo landed in training and test alike without a word, though image_id is documented as what the split goes by.
    Once per read (`loaded`, which a study's cells share), and only where `say`. Returns how many photos have images
    on both sides (split.json's photos_in_both)."""
    both = set(np.unique(train_groups).tolist()) & set(np.unique(test_groups).tolist())
    if not both or not say or "photos in both" in loaded._said:
        return len(both)
    loaded._said.add("photos in both")
    n = len(set(np.unique(train_groups).tolist()) | set(np.unique(test_groups).tolist()))
    warn_user(f"{source}: its image_id (photo ids) do not split it: the generic protocol holds out "
              f"{test_fraction:g} of each class's images, not of the photos, and {len(both)} of the {n} photos it "
              f"uses have images in both the training and the test split, so a test image can be scored by networks "
              f"trained on images of its own photo; the chula-rbc12 protocol holds out by photo (it needs is_anomaly "
              f"beside image_id), or give the data a test split of its own, split by photo (x_train / x_test)")
    return len(both)


def _holdout_shortfall(info: dict[str, Any], held_out: tuple[int, int], tr_pool: _Rows, tr_norm: np.ndarray,
                       tr_anom: np.ndarray, names: list[str]) -> str:
    """Why a stratified hold-out (data without a test split of its own) left no normal or no anomalous test image
    where the data has some: it takes round(test_fraction * n) of each class, none of a class of 2 at 0.2. '' where
    that is not why. A user with 2 anomalous images was told only that the test set had 0, and not how to get one.
    Likewise a hold-out of photos (chula-rbc12) whose held-out photos hold no crop of one kind: its test split takes
    as many of each, and said 'got 0 normal and 0 anomalous' of photos with normal crops."""
    if info.get("test_source") not in ("hold-out", "photo hold-out"):
        return ""
    side, rows = ("normal", tr_norm) if held_out[0] == 0 else ("anomalous", tr_anom) if held_out[1] == 0 else ("", [])
    if not len(rows):
        return ""
    share = option_words("data.test_fraction of a run config given with --config", "test_fraction=")
    if info["test_source"] == "photo hold-out":
        n_test, n_photos = int(info["n_photos_test"]), int(info["n_photos_train"]) + int(info["n_photos_test"])
        other = "" if depth16_said() == RUN_DEPTH16 else \
            f"; another {option_words('--seed', 'seed=')} holds out other photos, a larger share ({share}) more"
        balanced = ", and the test split takes as many normal as anomalous crops" \
            if info.get("test_size") == "paper" else ""
        return (f": the {n_test} photo{'s' if n_test != 1 else ''} held out ({float(info['test_fraction']):g} of "
                f"the {n_photos} photos, drawn by the seed) hold{'s' if n_test == 1 else ''} no {side} crop"
                f"{balanced} (the {len(rows)} {side} crops are all on the training photos){other}")
    counts = np.bincount(tr_pool.y[rows], minlength=len(names))
    classes = ", ".join(f"{int(k)} of class {names[c]}" for c, k in enumerate(counts) if k)
    # (other data read for a trained run, `score` / `evaluate --data`, is held out by the run's test_fraction, which
    # those commands do not set: only the data's own test split is advised there)
    larger = "" if depth16_said() == RUN_DEPTH16 else f"hold out a larger share ({share}), or "
    return (f": the seeded hold-out takes {float(info['test_fraction']):g} of each class's images, rounded to a whole "
            f"number, which leaves none of the {len(rows)} {side} image{'s' if len(rows) != 1 else ''} ({classes}) "
            f"for testing; {larger}give the data a test split of its own (x_test / y_test in an .npz, train/ and "
            f"test/ class folders)")


def _record_identity(info: dict[str, Any], loaded: LoadedData, recorded: dict[str, Any] | None) -> None:
    """info's `source_identity` (data.source_identity), where the read can vouch for one: the bytes of the file
    or the folder listing that the images were read from, for a re-use to tell without decoding whether the source
    is still that (a finished study's re-run) or to say that another file is there now. recorded: the run's
    split.json, whose identity is taken without hashing the file again where its size and mtime are unchanged."""
    identity = loaded.source_identity((recorded or {}).get("source_identity"))
    if identity is not None:
        info["source_identity"] = identity


def _whole_split(pool: ImageSet, keep: Any, normal: list[int], resolution: int, channels: int, fit: str,
                 info: dict[str, Any]) -> AnomalySplit:
    """build_split(whole=True): every labelled image is a test image."""
    pool = pool.subset(np.flatnonzero(keep(pool)))
    y = (~np.isin(pool.y, normal)).astype(np.int8)
    if y.all() or not y.any():
        raise DataError(f"{info['source']}: evaluating needs normal and anomalous images, got {int((y == 0).sum())} "
                        f"normal and {int(y.sum())} anomalous")
    names = info["class_names"]
    info = {**info, "gamma": 0.0, "test_source": "every labelled image, --whole", "test_size": "whole",
            "rotations": 0, "n_normal_train": 0, "n_contamination": 0, "contamination_by_class": {},
            "anomaly_classes": [n for i, n in enumerate(names) if i not in normal
                                and n not in info["excluded_classes"]],
            "n_train": 0, "n_test_normal": int((y == 0).sum()), "n_test_anomalous": int(y.sum())}
    empty = np.zeros((0, resolution, resolution, channels), np.uint8)
    return AnomalySplit(empty, np.zeros(0, np.int8), [], convert(pool.x, resolution, channels, fit), y,
                        list(pool.ids), resolution, channels, info, [names[int(c)] for c in pool.y])


def _unlabelled_split(cfg: DataConfig, train: ImageSet, kind: str, source: str, resolution: int, channels: int,
                      rotations: int, fit: str, shared: bool = False) -> AnomalySplit:
    """All images are training data; there is no test split (nothing to evaluate: score new images and threshold
    them on the training scores). Its anomalies are whatever the pile holds, so none can be injected. shared: train
    is the caller's (build_split's `loaded`), so its pixels are not shuffled in place."""
    if cfg.contamination:
        # (the threshold's advice too: a Python caller has no `wildgan score` to type, and its Detector's
        # contamination= is the share the threshold flags)
        threshold = option_words(f"`wildgan score RUN --data NEW --threshold contamination --expected-contamination "
                                 f"{cfg.contamination}`",
                                 f"Detector.from_run(RUN, threshold='contamination', "
                                 f"contamination={cfg.contamination}).predict(NEW)")
        raise ConfigError(f"{source}: unlabelled images: {option_words('--contamination', 'contamination=')} injects "
                          f"anomalies from other classes and "
                          f"needs labelled data; an unlabelled pile is trained on as it is (leave it at 0). If you "
                          f"expect a fraction of anomalies in it, that belongs to the threshold: {threshold}")
    if cfg.normal or cfg.exclude_classes:
        # a user's one class folder (only normal crops at hand) was told its images had no classes, and dropping
        # --normal as told led on to an evaluate that wanted "class folders", which it had given
        one = single_class_text(source) if cfg.dataset != "unlabelled" else ""
        both = option_words("--normal / --exclude", "normal= / exclude_classes=")
        raise ConfigError(f"{source}: unlabelled images have no classes: drop {both}" if not one else
                          f"{source}: {both} name classes, and this data has none.{one}; to train on every image as "
                          f"a pile, drop {both}", split_problem=SPLIT_CLASSES)
    if len(train.x) < MIN_NORMAL:
        raise DataError(f"{source}: only {len(train.x)} image{'s' if len(train.x) != 1 else ''}; need at least "
                        f"{MIN_NORMAL} {_MIN_WHY}")
    x = convert(train.x, resolution, channels, fit)
    if shared and np.shares_memory(x, train.x):
        x = x.copy()          # (an image set of the run's size is not converted: x is train.x, shuffled below)
    colour = channels == 3 and all_colour(train.x)
    gray_trained = gray_trained_record(x, colour)       # (before the rotated copies)
    ids = list(train.ids)
    x, ids, is_anom = _augment(x, ids, np.zeros(len(x), np.int8), rotations, cfg.seed)
    perm = _pile_shuffle(cfg.seed, len(x))
    info: dict[str, Any] = {
        "protocol": "unlabelled", "format": kind, "dataset": cfg.dataset, "source": source,
        "train_order": TRAIN_ORDER_SHUFFLED,
        "class_names": [], "normal_classes": [], "normal_labels": [], "normal_default_used": False,
        "excluded_classes": [], "gamma": 0.0, "seed": int(cfg.seed), "test_size": cfg.test_size,
        "rotations": rotations, "resolution": resolution, "channels": channels,
        "conversion": _conversion_record(cfg, fit, rotations, chosen=cfg.channels is not None,
                                         colour=colour,
                                         gray=channels == 1 and train.info.get("native_gray") is True,
                                         gray_files=data_gray_files(train), gray_held=data_gray_held(train),
                                         depths=data_bit_depths(train)) | gray_trained,
        "skipped": list(train.info.get("skipped", [])), "native_sides": data_native_sides(train),
        "n_read": int(len(train.x)),              # the images read, before rotations (see _skip_fields)
        "test_source": None,
        "n_normal_train": None, "n_contamination": None, "n_train": int(len(x)), "n_test_normal": 0,
        "n_test_anomalous": 0,
    }
    empty = np.zeros((0, resolution, resolution, channels), np.uint8)
    # (x is the array decoded for this split, or a conversion of it: shuffled in place, not held twice)
    return AnomalySplit(permute_rows(x, perm), is_anom[perm], [ids[i] for i in perm], empty, np.zeros(0, np.int8), [],
                        resolution, channels, info)


def _pile_shuffle(seed: int, n: int) -> np.ndarray:
    """The order _unlabelled_split trains a pile of n images (rotated copies included) in: row i is image perm[i] of
    the pile as read. One function for the shuffle and its undoing (in_read_order), which must agree."""
    return _rng(seed, "train_shuffle").permutation(n)


def in_read_order(split: AnomalySplit) -> AnomalySplit:
    """An unlabelled pile's split (its training images in the seeded shuffle, TRAIN_ORDER_SHUFFLED) with its
    training images in the order they were read instead (TRAIN_ORDER_READ), as Detector.fit on that folder or file
    trained them; any other split as it is. Where the training array owns its memory it is reordered in place (a
    pile is the largest thing held), and the split given is then that same split, returned: its ids, labels and info
    are reordered with its pixels, never left in the shuffle's order beside pixels in read order (a second call, or
    a caller that kept it, then paired each image with another's id). Otherwise the given split is left as it was."""
    if split.info.get("protocol") != "unlabelled" or split.info.get("train_order") != TRAIN_ORDER_SHUFFLED:
        return split
    n = len(split.train_x)
    if len(split.train_ids) != n or len(split.train_is_anomaly) != n:
        raise ValueError(f"a split of {n} training images with {len(split.train_ids)} ids and "
                         f"{len(split.train_is_anomaly)} labels cannot be reordered")
    undo = np.argsort(_pile_shuffle(int(split.info["seed"]), n))
    # (every per-image field of a pile's split: its info holds none, only counts and the files left out of it)
    ordered = {"train_is_anomaly": split.train_is_anomaly[undo], "train_ids": [split.train_ids[i] for i in undo],
               "info": {**split.info, "train_order": TRAIN_ORDER_READ}}
    x = permute_rows(split.train_x, undo)
    if x is not split.train_x:
        return replace(split, train_x=x, **ordered)
    for name, value in ordered.items():
        setattr(split, name, value)
    return split


def read_order_pixels_sha256(split: AnomalySplit) -> str | None:
    """pixels_sha256 of a shuffled pile's training images in the order they were read (in_read_order's), hashed
    row by row without reordering (or copying) the split; None for a split that is not a shuffled pile. What a
    replay compares with the ordered checksum of a run trained in that order whose record does not say so (a
    Detector.fit of an earlier wildgan): equal, it read the same images and only their order differs."""
    if split.info.get("protocol") != "unlabelled" or split.info.get("train_order") != TRAIN_ORDER_SHUFFLED:
        return None
    h = hashlib.sha256()
    for i in np.argsort(_pile_shuffle(int(split.info["seed"]), len(split.train_x))):
        h.update(np.ascontiguousarray(split.train_x[i]))
    return h.hexdigest()


def follow_train_order(split: AnomalySplit, recorded: dict[str, Any] | None) -> AnomalySplit:
    """split in the order that `recorded` (the split.json of the run it rebuilds, resumes or replays, or the
    training record of a copied config.yaml) says that run trained in: a run trained in the order its images were
    read (TRAIN_ORDER_READ: a Detector.fit's, or a replay of one) gets a pile in read order (in_read_order), any other
    the split as it is. A record without train_order (an earlier wildgan's) keeps the seeded shuffle, except a
    Detector.fit's (detector_input) whose recorded pixels are, in order, the pile's in read order: that fit trained
    them so (fit never shuffles), and only the order was not written down (_fit_read_in_order)."""
    if isinstance(recorded, dict) and (recorded.get("train_order") == TRAIN_ORDER_READ or
                                       _fit_read_in_order(split, recorded)):
        return in_read_order(split)
    return split


def _fit_read_in_order(split: AnomalySplit, recorded: dict[str, Any]) -> bool:
    """Whether `recorded`, a Detector.fit's record of an earlier wildgan (detector_input, no train_order), names
    exactly the training images of `split` (a shuffled pile) in the order they were read: the same count, shape and
    checksum of the pixels in that order. Proven by the pixels, not assumed from the record: a fit's ids are the paths
    it was given, which a pile's reader names otherwise, and a pile that changed since keeps the seeded shuffle (its
    replay or resume then says the images differ, as before). Hashes the pile once, for such a record only."""
    if "train_order" in recorded or not recorded.get("detector_input"):
        return False
    pixels = recorded.get("train_pixels_sha256")
    if not isinstance(pixels, str) or recorded.get("n_train") != len(split.train_x) or \
            any(k in recorded and recorded[k] != getattr(split, k) for k in ("resolution", "channels")):
        return False
    return read_order_pixels_sha256(split) == pixels


def pixels_sha256(x: np.ndarray) -> str:
    """sha256 of an image array's bytes, hashed in place (no copy of a contiguous array): about 0.5 s per GB."""
    return hashlib.sha256(np.ascontiguousarray(x)).hexdigest()      # (of no images too: the empty string's)


# the scheme of read_fingerprint, in its value: a record of another scheme is not compared (never a false warning).
# v1 (never released) had no read shape: see read_fingerprint_comparable
READ_FINGERPRINT_SCHEME = "v2"


def read_fingerprint(train: ImageSet, test: ImageSet | None = None) -> str:
    """split.json's `read_fingerprint`: a checksum of every image read (both parts of the data, excluded classes
    too), each with its id, its class name and its photo group, that does not depend on the order the images were
    read in nor on which class is normal. Why: a split for another normal class of a run's data (evaluate --normal)
    differs from the recorded one by design, so its counts and per-split checksums cannot tell whether the data
    changed since training (an image replaced or relabelled under the same count), and this can. One 128-bit
    BLAKE2b digest per image, sorted and hashed: about 0.2 s for CIFAR-10's 60,000 images, against minutes to decode
    their files. The value is "SCHEME:READ_SHAPE:HEX", READ_SHAPE the images' shape as read (e.g.
    "train=32x32x3-uint8,test=32x32x3-uint8"): see read_fingerprint_comparable."""
    digests = []
    read_shape = []
    for part, s in (("train", train), ("test", test)):
        if s is None:
            continue
        names = [str(n) for n in s.class_names]
        dims = "x".join(map(str, s.x.shape[1:]))
        shape = f"{dims}{s.x.dtype.str}"
        read_shape.append(f"{part}={dims}-{s.x.dtype.name}")
        labels = [names[y] if 0 <= y < len(names) else "" for y in s.y.tolist()]
        groups = [""] * len(s) if s.group is None else [str(g) for g in s.group.tolist()]
        anomalous = [""] * len(s) if s.is_anomaly is None else [str(a) for a in s.is_anomaly.tolist()]
        for i, x in enumerate(s.x):
            head = f"{part}\0{s.ids[i]}\0{labels[i]}\0{groups[i]}\0{anomalous[i]}\0{shape}\0"
            h = hashlib.blake2b(head.encode("utf-8", "surrogateescape"), digest_size=16)
            h.update(np.ascontiguousarray(x))
            digests.append(h.digest())
    digests.sort()
    return f"{READ_FINGERPRINT_SCHEME}:{','.join(read_shape)}:{hashlib.sha256(b''.join(digests)).hexdigest()}"


def read_fingerprint_comparable(a: str, b: str) -> bool:
    """Whether two read_fingerprint values can be compared: of one scheme, and of images read at one shape. Why:
    `wildgan train` without --resolution reads the data at its images' own size (a tree of 40x32 photos: 40x32) and
    records the size found, at which an evaluation reads it again (cropped or letterboxed to 32x32 by the read):
    the same files then give other pixels, and their fingerprints differ though nothing changed. Read at one shape
    the conversion is the same, and so are the pixels of unchanged files."""
    return a.rsplit(":", 1)[0] == b.rsplit(":", 1)[0]


def other_images_read(info: dict[str, Any], recorded: dict[str, Any], n_skipped: int = 0) -> bool:
    """Whether the images read for a rebuilt split (its info) are not all those its run's split.json recorded: their
    count (n_read) beyond the n_skipped files left out as unreadable since, or their read_fingerprint where it can be
    compared. False where the record says neither."""
    n_read, now = recorded.get("n_read"), info.get("n_read")
    if isinstance(n_read, int) and n_read - n_skipped != now:
        return True
    was, fingerprint = recorded.get("read_fingerprint"), info.get("read_fingerprint")
    return not n_skipped and isinstance(was, str) and isinstance(fingerprint, str) and \
        read_fingerprint_comparable(was, fingerprint) and was != fingerprint


def ids_sha256(ids: list[str]) -> str:
    """split.json's checksum of a split's image ids, in order."""
    return hashlib.sha256("\n".join(ids).encode("utf-8", "surrogateescape")).hexdigest()


def split_summary(split: AnomalySplit) -> dict[str, Any]:
    """Counts, shape and checksums of the image ids and of the pixels of a split: what split.json records so that a
    later rebuild from the same config (evaluate, score, resume) can tell whether the data on disk has changed
    since. The pixels catch what the ids cannot: an .npz's images reordered or replaced (its ids are positions),
    image files edited in place under the same names."""
    return {"n_train": int(len(split.train_x)), "n_train_anomalous": int(np.sum(split.train_is_anomaly)),
            "n_test": int(len(split.test_x)), "n_test_anomalous": int(np.sum(split.test_y)),
            "resolution": split.resolution, "channels": split.channels,
            "train_ids_sha256": ids_sha256(split.train_ids), "test_ids_sha256": ids_sha256(split.test_ids),
            "train_pixels_sha256": pixels_sha256(split.train_x), "test_pixels_sha256": pixels_sha256(split.test_x),
            "reader_version": READER_VERSION, "decoders": decoder_versions()}


# the split.json fields that describe what the networks train on (the rest describe the test split)
TRAIN_FIELDS = ("n_train", "n_train_anomalous", "train_ids_sha256", "train_pixels_sha256", "resolution", "channels")
_NOT_COMPARED = ("reader_version", "decoders")         # how the pixels were made, not what they are
_SAID = {"train_ids_sha256": "the image ids", "test_ids_sha256": "the test image ids",
         "train_pixels_sha256": "the training images' pixels, under the same image ids",
         "test_pixels_sha256": "the test images' pixels, under the same image ids"}
_SAID_WITHOUT_IDS = {"train_pixels_sha256": "the training images' pixels",
                     "test_pixels_sha256": "the test images' pixels"}


def training_record(split: AnomalySplit, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """The part of split.json that says which images a run's networks trained on, and how they were read: what a
    run's config.yaml records in its comment header (config.config_yaml_header), so that `train --config` of a copy
    of it taken out of its run folder can still compare (split_differences with train_only, source_replaced) and
    keep the channel count's origin (keep_channels_origin). summary: split_summary(split), when the caller has it."""
    now = split_summary(split) if summary is None else summary
    record = {k: now[k] for k in (*TRAIN_FIELDS, *_NOT_COMPARED) if k in now}
    # (train_order: a copy of the config of a run trained in read order replays in that order, follow_train_order;
    # detector_input: its replay compares a fit's images by their pixels, not by the ids fit gave them, data.replay)
    for k in ("source", "source_identity", "train_order", "detector_input"):
        if split.info.get(k) is not None:
            record[k] = split.info[k]
    origin = (split.info.get("conversion") or {}).get("channels_from")
    if origin is not None:
        record["conversion"] = {"channels_from": origin}
    return record


def keep_channels_origin(split: AnomalySplit, recorded: dict[str, Any]) -> None:
    """Give split the channel count's origin (conversion.channels_from) that `recorded` (the split.json, or the
    config.yaml header, of the run it continues or replays) says, where it has the same channel count. A resume or
    a --config replay reads the run's resolved channel count from its config, so the count is always given, and
    split.json said "chosen" for a count the data had set: the count is the run's, and so is its origin. For a
    split of the same training images only (the caller checks): on other images, the count was imposed on them."""
    conv = recorded.get("conversion") if isinstance(recorded, dict) else None
    origin = conv.get("channels_from") if isinstance(conv, dict) else None
    now = split.info.get("conversion")
    if origin in ("data", "chosen") and recorded.get("channels") == split.channels and isinstance(now, dict):
        now["channels_from"] = origin


# the fields of a Detector.fit's split.json (detector_input) that only fit can write: the command line reads the
# fit's folder or data-set file as a pile, whose record says 'unlabelled', its reader's conversion and no image shape
FIT_RECORD_FIELDS = ("detector_input", "protocol", "conversion", "image_shape")


def keep_fit_record(recorded: dict[str, Any] | None, split: AnomalySplit) -> AnomalySplit:
    """split with the fit's own record (FIT_RECORD_FIELDS) of `recorded`, the split.json of the Detector.fit run it
    resumes, for that run's record to be written. Why: `wildgan train --resume` of a fit's run rebuilds its images
    as a pile, and the split.json it wrote then lost them: Detector.from_run (the image shape, the conversion new
    images are scored by), `wildgan score` and the next resume took the run for a command line's. Any other split
    is returned as it is: a fit's own (fit(resume=True) writes its record afresh), or one resuming another run. For
    a split of the run's own training images only (the caller checks). The split given is left as it is (the
    command line goes on with its pile's info: its advice after training, for one).
    A Detector.fit on a DataConfig records the same split as the command line, and only its detector_fit (what the
    Detector left to the data: Detector.from_run's resolution and channels): kept the same way."""
    if not isinstance(recorded, dict) or split.info.get("detector_input") or split.info.get("detector_fit"):
        return split
    if recorded.get("detector_input"):
        kept = {k: recorded[k] for k in FIT_RECORD_FIELDS if k in recorded}
    elif isinstance(recorded.get("detector_fit"), dict):
        kept = {"detector_fit": recorded["detector_fit"]}
    else:
        return split
    return replace(split, info={**split.info, **kept})


# A Detector.fit run's record of the ids it gave its training images, in its order (the paths it was given, or the
# files of the folder it was given joined to them): split.json keeps only their checksum, train_ids_sha256, which
# named no file gone from fit's folder once the training-score caches (the only other copy of the ids) were deleted,
# and left a fit on a list of files with nothing to read back
FIT_IDS_FILE = "fit_ids.json"
IN_MEMORY_ID = re.compile(r"(array|image):\d+")      # decode_items' id of an image given in memory, not a file


def names_files(ids: Sequence[str]) -> bool:
    """Whether a Detector.fit's training ids name files (of a folder, a list of paths, a data-set file): ids of
    images given in memory (arrays, PIL images) have nothing to read back or to name."""
    return any(not IN_MEMORY_ID.fullmatch(i) for i in ids)


def write_fit_ids(run_dir: Path, ids: Sequence[str], *, here: bool = True) -> None:
    """RUN/fit_ids.json (FIT_IDS_FILE): a Detector.fit's training ids in order, with their checksum as split.json
    records it and the working directory that relative ones are relative to: this one, or (here=False, ids kept
    from an older run's training-score cache, which records none) not known, recorded as null. Written atomically
    (the ids file of a crashed write is the old one, whose checksum then no longer matches split.json's: ignored,
    read_fit_ids)."""
    from ..fileio import atomic_write_text
    from .run_temps import writing_shared_files

    ids = [str(i) for i in ids]
    cwd: str | None = None
    try:
        cwd = os.getcwd() if here else None
    except OSError:
        pass                 # (a working directory deleted under the process: relative ids then read from the caller's)
    # (holding the run folder, as every writer of the files that other commands than training write there: a temp
    # file of one found while none holds it is a killed one's, data.run_temps)
    with writing_shared_files(Path(run_dir)):
        atomic_write_text(Path(run_dir) / FIT_IDS_FILE, json.dumps(
            {"train_ids_sha256": ids_sha256(ids), "cwd": cwd, "ids": ids}, indent=1))


def read_fit_ids(run_dir: Path, info: dict[str, Any]) -> tuple[list[str], str | None] | None:
    """(a Detector.fit's training ids, in its order; the working directory relative ones are relative to, if it
    is recorded) from RUN/fit_ids.json, or None where the file is missing, unreadable, or not of the ids that `info`
    (the run's split.json) records the checksum of: a file of other ids (edited, left by a crash, copied from another
    run) is never taken for fit's."""
    try:
        got = json.loads((Path(run_dir) / FIT_IDS_FILE).read_text(encoding="utf-8", errors="surrogateescape"))
        ids, cwd = got["ids"], got.get("cwd")
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or \
            ids_sha256(ids) != info.get("train_ids_sha256") or len(ids) != info.get("n_train", len(ids)):
        return None
    return ids, cwd if isinstance(cwd, str) else None


def _cached_ids(path: Path, n: int) -> list[str] | None:
    """The ids column of a training-score cache as scoring.train_scores writes it (the layout of train_score_files,
    which its writer and reader share: a header `id,SCORE,...`, one row of n per image, every line ended), or None
    where the file cannot be read or is not of that shape (missing, cut short, another row count). Its scores are not
    read: only its ids, which the caller takes for fit's only where they match split.json's checksum of them."""
    try:
        _, rows = split_train_score_table(read_train_score_text(path))
    except (OSError, TrainScoreTableError):
        return None
    if len(rows) != n:
        return None
    return [r[0] for r in rows]


def cached_fit_ids(run_dir: Path, info: dict[str, Any]) -> tuple[list[str], Path] | None:
    """(the ids a Detector.fit gave its training images, in order; the CSV they were read from) from a training-score
    cache of the run (either batch mode's, stale or not: its rows are fit's ids), the record of them of a run trained
    before fit wrote fit_ids.json. split.json (`info`) records only their checksum and count, which the ids must
    match to be taken for fit's. None where neither cache holds them."""
    try:
        n = int(info.get("n_train", -1))
    except (TypeError, ValueError):
        return None
    for name in TRAIN_SCORE_CSVS:
        path = Path(run_dir) / name
        ids = _cached_ids(path, n)
        if ids is not None and ids_sha256(ids) == info.get("train_ids_sha256"):
            return ids, path
    return None


def keep_cached_fit_ids(run_dir: Path, info: dict[str, Any]) -> None:
    """For a Detector.fit run (`info`, its split.json) without fit_ids.json (trained by a wildgan before fit wrote it),
    whose training-score cache may be the only record of fit's ids (cached_fit_ids: checked against split.json's
    checksum of them): those ids written to fit_ids.json, before anything replaces the cache (a re-score, a resume
    that rewrites split.json), so that a file gone from fit's folder or list can still be named and read back. Raises
    OSError where the file cannot be written."""
    if not info.get("detector_input") or read_fit_ids(run_dir, info) is not None:
        return
    cached = cached_fit_ids(run_dir, info)
    if cached is not None:
        write_cached_fit_ids(run_dir, cached[0])


def write_cached_fit_ids(run_dir: Path, ids: Sequence[str]) -> None:
    """The write of keep_cached_fit_ids, for a caller that has read the ids itself (cached_fit_ids, where
    read_fit_ids found none): into fit_ids.json, where they name files (ids of images given in memory name nothing
    to read back, and are not kept). Raises OSError where the file cannot be written."""
    if names_files(ids):
        # (fit's working directory, which relative ids were relative to, is not in the cache: recorded as unknown,
        # and a fit on a list of files named so is refused as from the cache, not read from the reader's directory,
        # scoring.train_scores._fit_files; kept all the same, as a folder's ids still name a file gone from it)
        write_fit_ids(run_dir, ids, here=False)


def keep_cached_fit_ids_before_resume(run_dir: Path, recorded: Callable[[], Any] | None = None) -> None:
    """keep_cached_fit_ids for a resume of the run (train_run(..., resume=True), and so `wildgan train --resume`,
    replay_run and fit(resume=True)), which records its own ids of the images in split.json and scores them into the
    training-score cache: an older Detector.fit run's only record of fit's ids, lost otherwise. Called before the
    resume writes anything; raises OSError naming fit_ids.json where they cannot be kept. A split.json that cannot be
    read is the resume's to say (it writes the file again), and holds no ids to keep. recorded: gives split.json's
    contents, where the resume reads it once for all its checks (training.run.saved_run_files), raising as a read."""
    try:
        info = (json.loads((Path(run_dir) / "split.json").read_text(encoding="utf-8")) if recorded is None
                else recorded())
    except (OSError, UnicodeDecodeError, ValueError):
        return
    if not isinstance(info, dict):
        return
    try:
        keep_cached_fit_ids(run_dir, info)
    except OSError as e:
        # (the resume stops here, before it changed the run; its `stopped:` line still goes into log.txt where that
        # can be written, which the error says: not "nothing was changed")
        raise OSError(f"could not write {Path(run_dir) / FIT_IDS_FILE} ({e}): it keeps the ids Detector.fit gave "
                      f"the run's training images, whose only record is the run's training-score cache, which the "
                      f"resume replaces; the run was not resumed: none of its files was changed, but for this stop's "
                      f"line in its log.txt (where that can be written)") from None


# Each training image's own checksum, beside split.json (which keeps one for all of them, train_pixels_sha256): for
# `evaluate --data OTHER` to tell how many of OTHER's images are the run's own training images (a pile run evaluated on
# labelled copies of its pile: the AUC is then partly of images the networks saw). 8 bytes per image (CIFAR-10's
# 50,000: 400 kB) and one more pass over the training pixels at each start (BLAKE2b: about 1 s per GB). A run trained
# before the file was kept has it made by the first evaluation that can rebuild its training images cheaply
# (evaluation.run.rebuilt_train_hashes)
TRAIN_HASHES_FILE = "train_hashes.npz"


def image_hashes(x: np.ndarray) -> np.ndarray:
    """A 64-bit BLAKE2b digest of each image of x [N, H, W, C] (uint64 [N]), its shape and dtype hashed too: images of
    another size, channel count or depth never match."""
    head = f"{'x'.join(map(str, x.shape[1:]))}{x.dtype.str}\0".encode()
    digests = []
    for im in x:
        h = hashlib.blake2b(head, digest_size=8)
        h.update(np.ascontiguousarray(im))
        digests.append(h.digest())
    return np.frombuffer(b"".join(digests), "<u8").astype(np.uint64) if digests else np.zeros(0, np.uint64)


def write_train_hashes(run_dir: Path, x: np.ndarray, train_pixels_sha256: str,
                       hashes: np.ndarray | None = None) -> None:
    """RUN/train_hashes.npz (TRAIN_HASHES_FILE): image_hashes of the training images x, with the checksum of all of them
    that split.json records (read_train_hashes takes the file only for the split.json it was written with: a crash
    between the two leaves a file of other images, ignored). Written atomically. hashes: image_hashes(x), where the
    caller has them already."""
    from ..fileio import atomic_write_stream
    from .run_temps import writing_shared_files

    hashes = image_hashes(x) if hashes is None else hashes
    with writing_shared_files(Path(run_dir)):       # (as write_fit_ids: `evaluate` writes it too, without the lock)
        atomic_write_stream(lambda f: np.savez(f, hashes=hashes, train_pixels_sha256=np.asarray(train_pixels_sha256)),
                            Path(run_dir) / TRAIN_HASHES_FILE)


def seen_in_training(x: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """bool [N]: which images of x [N, H, W, C] are training images, by their image_hashes among `trained` (a run's
    read_train_hashes): the check of `evaluate --data OTHER` (a Detector's f1 validation set is checked by the
    image_hashes of its images taken as they are scored, whatever its kind: Detector._set_threshold)."""
    return np.isin(image_hashes(x), trained)


def read_train_hashes(run_dir: Path, info: dict[str, Any]) -> np.ndarray | None:
    """The training images' image_hashes from RUN/train_hashes.npz, or None where the file is missing (a run trained
    before it was written), unreadable, or not of the training images that `info` (the run's split.json) records
    (train_hashes_kept says which)."""
    return train_hashes_kept(run_dir, info)[0]


# why train_hashes_kept has no hashes to give: the file is not there, cannot be read as one, or is a sound file of
# other training images (a crash between it and split.json, a split.json copied from another run)
HASHES_MISSING, HASHES_UNREADABLE, HASHES_OF_OTHER_IMAGES = "missing", "unreadable", "of other images"


def train_hashes_kept(run_dir: Path, info: dict[str, Any]) -> tuple[np.ndarray | None, str]:
    """(the training images' image_hashes, '') from RUN/train_hashes.npz, or (None, why): HASHES_MISSING,
    HASHES_UNREADABLE (an empty or cut-short file, left by a full disk or a copy stopped halfway, or one without the
    arrays write_train_hashes writes) or HASHES_OF_OTHER_IMAGES (a sound file whose checksum is not the one `info`,
    the run's split.json, records). Kept apart so that a message says what is wrong with the file: a damaged one was
    called 'of other images', which sent the user looking for other images rather than at the file."""
    path = Path(run_dir) / TRAIN_HASHES_FILE
    if not path.exists():
        return None, HASHES_MISSING
    try:
        with np.load(path, allow_pickle=False) as z:
            hashes, of = z["hashes"], str(z["train_pixels_sha256"])
    except Exception:     # (a damaged file, zipfile's BadZipFile included: only a record, never a reason to stop)
        return None, HASHES_UNREADABLE
    if hashes.dtype != np.uint64 or hashes.ndim != 1:
        return None, HASHES_UNREADABLE      # (no file write_train_hashes writes: damaged, not of other images)
    if of != info.get("train_pixels_sha256") or len(hashes) != info.get("n_train", len(hashes)):
        return None, HASHES_OF_OTHER_IMAGES
    return hashes, ""


def keep_fit_ids(recorded: dict[str, Any] | None, split: AnomalySplit, written: AnomalySplit,
                 summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """summary (split_summary of `split`), as split.json records it for `written` (keep_fit_record's): a resume of a
    Detector.fit's run from the command line's pile of its images (the same images in the same order: the caller
    checks) keeps fit's checksum of its ids where the run's fit_ids.json holds those ids, so that the file stays the
    run's (read_fit_ids). Any other summary is returned as it is (a fit's own resume records its ids afresh; a run
    without the file, as before it existed, records the pile's ids)."""
    if written is split or not isinstance(recorded, dict) or read_fit_ids(run_dir, recorded) is None:
        return summary
    return {**summary, "train_ids_sha256": recorded["train_ids_sha256"]}


def decoding_change(recorded: dict[str, Any]) -> str | None:
    """What changed since `recorded` (a split.json) in how files become pixels: wildgan's reader version, the
    decoding libraries (decoder_versions); None when neither did, or the record does not say."""
    changed = []
    if "reader_version" in recorded and recorded["reader_version"] != READER_VERSION:
        changed.append(f"wildgan's image reader version {recorded['reader_version']} -> {READER_VERSION}")
    if recorded.get("decoders") not in (None, decoder_versions()):
        changed.append(f"the decoders {decoders_text(recorded['decoders'])} -> {decoders_text(decoder_versions())}")
    return "; ".join(changed) or None


def split_differences(split: AnomalySplit, recorded: dict[str, Any], train_only: bool = False,
                      now: dict[str, Any] | None = None, skips_said: bool = False) -> list[str]:
    """How a rebuilt split differs from a recorded split.json (fields the record lacks are not compared); train_only:
    only in what the networks train on (TRAIN_FIELDS); now: split_summary(split), when the caller has it (it hashes
    every pixel). skips_said: the caller names the files that the rebuild left out as unreadable and the record did
    not (newly_skipped), so the differences they account for are not listed again (_skip_fields); any other is."""
    now = split_summary(split) if now is None else now
    explained = _skip_fields(split, recorded, now) if skips_said else set()
    diffs, pixels = [], False
    for k, v in now.items():
        if train_only and k not in TRAIN_FIELDS:
            continue
        if k in _NOT_COMPARED or k in explained or k not in recorded or recorded[k] == v:
            continue
        ids = k.replace("_pixels_", "_ids_")
        if k != ids and ids in recorded and recorded[ids] != now[ids]:
            continue                   # other images: their pixels differ too, which says nothing more
        # (pixels compared without the ids, a Detector.fit's record: data.replay, are not said to be under them)
        diffs.append(_SAID_WITHOUT_IDS[k] if k != ids and ids not in recorded else
                     _SAID.get(k, f"{k} {recorded[k]} -> {v}"))
        pixels = pixels or k != ids
    if pixels:
        # the same files can decode a level or so apart in another Pillow or libjpeg, or after a reader change (a
        # reader change is said once, by the note below, with what changed in it). The notes are items of the list,
        # not parenthesised: every message says the list inside a parenthesis of its own
        decoders = decoding_change({k: v for k, v in recorded.items() if k != "reader_version"})
        # (a Detector's images given in memory, ids array:i / image:i, were no files that could have changed)
        in_memory = bool(split.train_ids) and all(i.startswith(("array:", "image:")) for i in split.train_ids)
        diffs.append("the images given (arrays or PIL images, no files) hold other pixels than those the run "
                     "started on, in that order" if in_memory else
                     "decoded by the same image reader and decoders as recorded, so the files themselves changed: "
                     "e.g. images replaced or edited in place under the same names, or an .npz's images reordered"
                     if decoding_change(recorded) is None else
                     f"pixels can differ for a change of decoding alone: {decoders}" if decoders else
                     "pixels can differ for the reader's change below alone")
    if diffs and recorded.get("reader_version") != READER_VERSION:
        # not the data: wildgan's own reader, which may now list files the recording one left out
        diffs.append(reader_change_text(recorded.get('reader_version')))
    return diffs


def decoded_apart(split: AnomalySplit, recorded: dict[str, Any], now: dict[str, Any] | None = None,
                  skips_said: bool = False) -> str | None:
    """What changed in the decoding since `recorded` (decoding_change) where it alone can account for the training
    images' differences from that split.json: their pixels differ under the same ids (the same files, which another
    Pillow, libjpeg or reader can decode a level or so apart). None where anything else differs too (images added,
    removed or replaced under other ids), or the decoding did not change (the files themselves did)."""
    rest = {k: v for k, v in recorded.items() if k != "train_pixels_sha256"}
    if split_differences(split, rest, train_only=True, now=now, skips_said=skips_said):
        return None
    return decoding_change(recorded)


def newly_skipped(split: AnomalySplit, recorded: dict[str, Any], training: bool = False) -> list[dict[str, str]]:
    """The unreadable files a rebuilt split left out (skip_bad) that the recorded split (split.json) did not.
    training: only those that may have been training images: none when the training image ids are the ones recorded
    (the files were test images, unused ones or added since), so the training scores leave nothing out; where the
    rebuild placed each file (info 'skipped_were'), only the training images, marked "part": "train"."""
    before = {s.get("path") for s in recorded.get("skipped", []) if isinstance(s, dict)}
    if training and recorded.get("train_ids_sha256") == ids_sha256(split.train_ids):
        return []
    new = [s for s in split.info.get("skipped", []) if s.get("path") not in before]
    were = split.info.get("skipped_were")
    if training and were:
        # a split rebuilt as it was drawn knows each file's part: only its training images, each marked as one
        return [{**s, "part": "train"} for s in new if were.get(s.get("path")) == "train"]
    return new


def skipped_reasons(skipped: Sequence[dict[str, str]]) -> str:
    """The files a split left out as unreadable, each with its reason (up to 10; split.json lists all)."""
    more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    return "; ".join(str(s.get("reason") or s.get("path")) for s in skipped[:10]) + more


def _skip_fields(split: AnomalySplit, recorded: dict[str, Any], now: dict[str, Any]) -> set[str]:
    """The split_summary fields whose differences from `recorded` the newly skipped files can account for, and
    nothing when a count does not fit (or no file is newly skipped): then every difference is the data's. Each file
    takes at most 1 + rotations images out of a count and adds none (a labelled split: it may have been a training,
    test or unused image, and another may be drawn in its place), exactly that many out of an unlabelled pile's or a
    Detector.fit's n_train (every file of those is trained on), and changes the ids and pixels of the images around
    it, which their checksums cannot tell apart from other changes. A record with n_read (the images the reader
    decoded, in every class and part) tells a file added or removed besides, also where the counts still fit (one
    unreadable and one added in the same class); a file added and another removed besides still go unsaid. Pixels
    changed under the same ids are the same files edited, which no file left out explains: they are said (e.g. a
    training image edited in place while a test image became unreadable); pixels compared without ids, as the ids
    are, are accounted for."""
    skipped = len(newly_skipped(split, recorded))
    if isinstance(recorded.get("n_read"), int) and recorded["n_read"] - split.info.get("n_read", -1) != skipped:
        return set()    # the files read now are not those read then less the skipped ones: files added or removed
    most = skipped * (1 + int(split.info.get("rotations") or 0))
    # (a Detector.fit trained on every image it read, as a pile's run does)
    pile = split.info.get("protocol") == "unlabelled" or bool(recorded.get("detector_input"))
    counts = [k for k in ("n_train", "n_train_anomalous", "n_test", "n_test_anomalous") if k in recorded]
    for k in counts:
        drop = recorded[k] - now[k] if isinstance(recorded[k], int) else -1
        if not most or not (drop == most if pile and k == "n_train" else 0 <= drop <= most):
            return set()
    # (not the pixels of a part whose ids are recorded: those of other ids are not listed anyway, and those under
    # the same ids are the same files'. A record without them, a Detector.fit's, compared by pixels alone (data.
    # replay): there the file left out changes them as it changes ids, and they were said as images edited in place)
    unnamed = {k for k in ("train_pixels_sha256", "test_pixels_sha256")
               if k.replace("_pixels_", "_ids_") not in recorded}
    return {*counts, "train_ids_sha256", "test_ids_sha256", *unnamed}


def reader_change_text(recorded_version: Any) -> str:
    """What wildgan's image reader changed since `recorded_version` (None: a record older than the versions), and
    that a rebuild can differ from the record for that alone. The changes come last, after a colon: said as the last
    item of a list of differences, a consequence after them read as part of the last change."""
    since = recorded_version if isinstance(recorded_version, int) else 3
    changes = [text for v, text in sorted(READER_CHANGES.items()) if v > since]
    alone = "a rebuild by this reader can differ from the record for that reason alone"
    if not changes:     # a record from a newer wildgan than this one
        return (f"this split was recorded by a newer image reader, version {recorded_version} where this one is "
                f"{READER_VERSION}, so {alone}")
    return f"wildgan's image reader changed since this was recorded, so {alone}: " + "; ".join(changes)
