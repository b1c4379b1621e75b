"""Readers: image-folder trees (plain or .tar.gz), CIFAR-10 python batches, .npz arrays, single image files.

Every reader returns ImageSet objects holding uint8 NHWC pixels; all bad input ends in one DataError that names the
file (or array) and the problem.
"""

from __future__ import annotations

import glob
import hashlib
import io
import itertools
import json
import os
import pickle
import re
import sys
import tarfile
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from ..config import SAMPLE_TOKEN
from ..errors import ConfigError, DataError, WildganError, warn_user
from ..fileio import atomic_write_stream
from .download import cache_root, download_cifar10, tar_member_names, unpack_cached
from .transforms import (FITS, MAX_AUTO_RESOLUTION, array_to_uint8, check_depth16, check_resolution, convert,
                         crop_loss, depth16_bits, next_pow2, pil_to_array, resize_one, to_channels)

T = TypeVar("T")


def _webp_ok() -> bool:
    try:
        return bool(features.check("webp"))
    except Exception:  # an odd Pillow build: no WebP, not a crash at import
        return False


# the extensions read (lower case): WebP only where this Pillow decodes it; GIF (first frame) always can
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff") + ((".webp",) if _webp_ok() else ()) + (
    ".gif", ".jfif", ".jpe", ".pjpeg", ".apng", ".ppm", ".pgm", ".pbm", ".pnm")   # JPEG/PNG aliases, the PNM family
# extensions of image formats that are not read: such files are counted and named in one warning per folder (or in
# the error when a folder has nothing else), never dropped in silence; other files (.txt, .csv, .json, .xml ...
# beside the images) are left out quietly, as before
_OTHER_IMAGE_EXTS = frozenset({
    ".webp", ".heic", ".heif", ".hif", ".avif", ".jxl", ".jp2", ".j2k", ".jpf", ".jpx", ".jpm", ".jpe", ".jfif",
    ".pjpeg", ".apng", ".svg", ".svgz", ".psd", ".psb", ".xcf", ".kra", ".ico", ".icns", ".cur", ".tga", ".pcx",
    ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".qoi", ".sgi", ".xbm", ".xpm", ".exr", ".hdr", ".dds", ".eps", ".emf",
    ".wmf", ".dcm", ".dicom", ".fits", ".raw", ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2",
    ".orf", ".rw2", ".raf", ".pef", ".srw", ".x3f", ".erf", ".3fr", ".mos", ".mrw", ".kdc", ".dcr",
    # microscopy and medical / astronomy formats (Zeiss, Nikon, Leica, Imaris, Olympus, slide scanners, NIfTI)
    ".czi", ".nd2", ".lif", ".lsm", ".ims", ".oib", ".oif", ".vsi", ".svs", ".ndpi", ".scn", ".mrxs", ".nii",
}) - set(IMAGE_EXTS)
# folder names skipped wherever folders are walked, like hidden entries: macOS zip leftovers (__MACOSX/ holds
# '._name' resource forks beside the real images, and would turn a pile into a labelled tree)
_NPY_HINT = ("a bare .npy array is not read: save it as an .npz, e.g. np.savez('images.npz', x=array) (uint8 "
             "[N, H, W] or [N, H, W, C]; add y=labels for a labelled set), and pass that")
_SKIPPED_DIRS = frozenset({"__MACOSX"})


def _hidden(name: str) -> bool:
    """A hidden file or folder (.name), or a folder of _SKIPPED_DIRS: never read."""
    return name.startswith(".") or name in _SKIPPED_DIRS


def _skipped_dir(path: str | Path) -> bool:
    """A sub-folder never read as data: hidden, of _SKIPPED_DIRS, or a wildgan run or study. A run that an older
    wildgan wrote inside its own data folder (train now refuses that, but resumes such a run) would otherwise add its
    sample grids and figures to the data, make a pile read as a labelled tree, and change the split a resume checks."""
    p = Path(path)
    return _hidden(p.name) or is_run_dir(p) or is_study_dir(p)


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR_BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
DATASETS = ("auto", "cifar10", "chula-rbc12", "mnist", "folder", "npz", "cifar-batches", "unlabelled")
# what load_dataset returns as the format of a data set
FORMATS = ("folder", "folder-tar", "cifar-batches", "npz", "unlabelled-folder", "unlabelled-tar", "unlabelled-npz")
SAMPLE_NAME = "mnist-sample.npz"
# bump when decoding rules change so stale caches are not reused (2: median-size rule, 3: 256 px automatic cap,
# 4: .webp and .gif read, symlinked folders followed, 5: JPEG aliases and PNM read, 6: __MACOSX folders skipped,
# uint16 arrays follow depth16 image by image, 2-channel arrays refused, 32-bit float TIFFs read, 7: large JPEGs
# decoded at a reduced scale, JPEG_DRAFT_GAP; a gray run's colour files made gray before they are shrunk)
_DECODE_CACHE_VERSION = 7
READER_VERSION = _DECODE_CACHE_VERSION     # recorded in split.json: a rebuild by another reader is told apart
# what each reader version changed in which files a folder lists or how they read (split_differences explains a
# rebuild that differs from its record with the changes since the recording version)
READER_CHANGES = {
    4: "it reads .gif and .webp files and follows symlinked folders",
    5: "it reads .jfif/.jpe and PNM (.ppm/.pgm/.pbm/.pnm) files",
    6: "it skips __MACOSX folders (macOS zip leftovers), reads 32-bit float TIFFs and refuses 2-channel arrays",
    7: "it decodes JPEGs of at least 4 times the resolution at a reduced scale, and makes a gray run's colour files "
       "gray before shrinking them while decoding (pixels about 1 level of 255 apart)",
}


@dataclass
class ImageSet:
    """One loaded collection of images (native size unless a resolution was requested)."""

    x: np.ndarray                   # uint8 [N, H, W, C], C in {1, 3}
    y: np.ndarray                   # int64 [N] class index into class_names (-1 if unknown)
    class_names: list[str]
    ids: list[str]                  # file path (relative to the data root for trees) or "<source>:<split>:<index>"
    group: np.ndarray | None = None  # e.g. chula image_id (the source photo)
    is_anomaly: np.ndarray | None = None  # optional per-image ground truth shipped with the data (chula npz)
    info: dict[str, Any] = field(default_factory=dict)  # source, format, skipped files

    def __post_init__(self) -> None:
        n = len(self.x)
        for name, v in (("y", self.y), ("ids", self.ids), ("group", self.group), ("is_anomaly", self.is_anomaly)):
            if v is not None and len(v) != n:
                raise DataError(f"ImageSet: {name} has {len(v)} entries but there are {n} images")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, idx: np.ndarray) -> "ImageSet":
        """The images at idx. Every image in order (nothing left out, the usual case) shares this set's pixels
        instead of copying them: a data set is the largest thing in memory, and subsets are only read."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == len(self.x) and np.array_equal(idx, np.arange(len(self.x))):
            return ImageSet(self.x, self.y.copy(), list(self.class_names), list(self.ids),
                            None if self.group is None else self.group.copy(),
                            None if self.is_anomaly is None else self.is_anomaly.copy(), dict(self.info))
        return ImageSet(self.x[idx], self.y[idx], list(self.class_names), [self.ids[i] for i in idx],
                        None if self.group is None else self.group[idx],
                        None if self.is_anomaly is None else self.is_anomaly[idx], dict(self.info))


# ------------------------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class _Opts:
    resolution: int | None = None   # convert while decoding (saves memory on big photos); None = native size
    channels: int | None = None     # None = 1 if every image is gray, else 3
    depth16: str = "per-image"
    resize: str = "resize"          # resize | error : images of different sizes
    skip_bad: bool = False
    fit: str = "resize"             # resize | pad (pad smaller images) | letterbox (pad non-square to square)
    download: bool = False
    cache_dir: str | None = None
    progress: bool | None = None    # None = tqdm's auto (bar only on a terminal)
    probe_uniform: bool = False     # internal: raise _MixedSizes instead of unifying sizes
    gray_data: bool = False         # scoring for a run that chose gray because its data was all gray: colour is odd
    colour_data: bool = False       # ... that chose RGB because its data was colour: gray images are odd
    native_sides: tuple[int, int] | None = None  # scoring: the run's training images' shortest and longest side
    # internal: rotated copies training makes of each image (the memory estimate only)
    rotations: int = field(default=0, compare=False)
    # internal: a dict that collects the decode statistics (see warn_decode_stats) for a caller that warns about them
    # itself (the Detector); None: each reader warns about its own
    stats: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def decode_key(self) -> str:
        if self.probe_uniform:  # native pixels: only the per-file decoding rules matter
            return json.dumps([_DECODE_CACHE_VERSION, "native", self.depth16, self.skip_bad])
        return json.dumps([_DECODE_CACHE_VERSION, self.resolution, self.channels, self.depth16, self.resize,
                           self.skip_bad, self.fit])


class _MixedSizes(Exception):
    """Internal: a native (probe_uniform) decode found images of different sizes."""


def _parse_opts(opts: dict[str, Any]) -> _Opts:
    known = set(_Opts.__dataclass_fields__) - {"probe_uniform", "stats", "rotations"}
    if "stats" in opts and not isinstance(opts["stats"], (dict, type(None))):
        raise ConfigError("stats must be a dict (internal option)")
    # stats: internal, for a caller that warns about them itself; rotations: for the memory estimate
    unknown = set(opts) - known - {"stats", "rotations"}
    if unknown:
        raise ConfigError(f"unknown data option(s) {sorted(unknown)}; known: {sorted(known)}")
    o = _Opts(**opts)
    if o.native_sides is not None:       # from split.json: a list
        o = replace(o, native_sides=(int(o.native_sides[0]), int(o.native_sides[1])))
    if o.resolution is not None:
        check_resolution(o.resolution)
    if o.channels not in (None, 1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {o.channels}")
    check_depth16(o.depth16)
    if o.resize not in ("resize", "error"):
        raise ConfigError(f"resize must be 'resize' or 'error', got {o.resize!r}")
    if o.fit not in FITS:
        raise ConfigError(f"fit must be one of {', '.join(FITS)}, got {o.fit!r}")
    return o


# ------------------------------------------------------------------------------------------------ data root
def default_sample_path() -> Path:
    """The embedded MNIST sample shipped inside the package (see data/sample/SOURCE.md)."""
    return Path(__file__).resolve().parent / "sample" / SAMPLE_NAME


# the data sets with a protocol of their own: with no --data, $WILDGAN_DATA/<name>/ is where a data root keeps them
_ROOT_DATASETS = ("cifar10", "chula-rbc12", "mnist")


def resolve_data_root(path: str | Path | None, dataset: str = "auto") -> Path:
    """Where the data is: --data PATH, else $WILDGAN_DATA, else the embedded sample.

    $WILDGAN_DATA is the default data root. It may be a data set itself (a folder of images, an .npz ...); it may
    also hold several: a relative --data PATH that does not exist from the current folder is looked up under it
    (`--data cifar10/cifar-10-python.tar.gz`), and without --data, `--dataset cifar10|chula-rbc12|mnist` takes
    $WILDGAN_DATA/<dataset>/: the one data set in that folder (several: a DataError lists them)."""
    env = os.environ.get("WILDGAN_DATA")
    root = Path(env).expanduser() if env else None
    if path is not None and str(path) != "":
        return under_data_root(path)
    if root is None:
        return default_sample_path()
    sub = root / dataset
    if dataset in _ROOT_DATASETS and sub.is_dir() and not _looks_like_dataset(root):
        found = [q for q in sorted(sub.iterdir()) if not q.name.startswith(".") and
                 (q.suffix.lower() == ".npz" or is_tar(q) or (q.is_dir() and q.name == "cifar-10-batches-py"))]
        batches = [q for q in found if q.name == "cifar-10-batches-py"]
        if batches:            # the download's usual layout: the archive and the folder unpacked from it, one data set
            return batches[0]
        if len(found) > 1:
            raise DataError(f"{sub}: {len(found)} data sets for --dataset {dataset} under $WILDGAN_DATA "
                            f"({', '.join(q.name for q in found)}): choose one, e.g. --data {dataset}/{found[0].name}")
        return found[0] if found else sub
    held = [d.name for d in _subdirs(root) if d.name in _ROOT_DATASETS] if root.is_dir() else []
    if held and not _looks_like_dataset(root):
        # a root of several data sets (its cifar10/, mnist/ ...), without --data or --dataset NAME to choose: it
        # would otherwise be read as one tree of class folders named after the data sets
        pick = f"--dataset {dataset} finds none under it ({sub} does not exist); " if dataset in _ROOT_DATASETS else ""
        raise DataError(f"$WILDGAN_DATA ({root}) holds data sets ({', '.join(held)}): {pick}choose one with "
                        f"--dataset {held[0]} or --data {held[0]}/FILE")
    return root


def under_data_root(path: str | Path) -> Path:
    """A path as given (~ expanded); a relative one that does not exist from the current folder but does under
    $WILDGAN_DATA is that one (`--data cifar10/cifar-10-python.tar.gz`); config.SAMPLE_TOKEN is the embedded sample."""
    if str(path) == SAMPLE_TOKEN:
        return default_sample_path()
    p = Path(path).expanduser()
    env = os.environ.get("WILDGAN_DATA")
    if env and not p.is_absolute() and not p.exists() and (Path(env).expanduser() / p).exists():
        return Path(env).expanduser() / p
    return p


def missing_path_error(path: str | Path) -> DataError:
    """'PATH: no such file or folder' for a --data path; a relative one is also looked for under $WILDGAN_DATA
    (under_data_root), and then the message says both places, since the user may have meant either."""
    env = os.environ.get("WILDGAN_DATA")
    broken = _broken_link(Path(path).expanduser())
    if broken:
        return DataError(f"{path}: {broken}")
    if env and not Path(path).expanduser().is_absolute():
        return DataError(f"{path}: no such file or folder, here or under $WILDGAN_DATA ({env})")
    return DataError(f"{path}: no such file or folder")


def _broken_link(p: Path) -> str | None:
    """What is wrong with a path that does not exist but is a symbolic link (its target is gone, e.g. an unmounted
    disk or a moved data set): 'no such file or folder' would send the user looking for the wrong thing."""
    try:
        if not p.is_symlink():
            return None
        return f"a symbolic link to {os.readlink(p)}, which does not exist (a moved data set, or a disk not mounted?)"
    except OSError:
        return None


def _looks_like_dataset(root: Path) -> bool:
    """A data root that is a data set itself (a file, CIFAR batches, or image files at its top): not a root of
    several data sets."""
    if not root.is_dir():
        return True
    if (root / "data_batch_1").exists():
        return True
    return any(_is_image_file(q) for q in root.iterdir() if q.is_file())


# ------------------------------------------------------------------------------------------------ images
def read_image(path: str | Path, depth16: str = "per-image", stats: dict[str, Any] | None = None,
               reduce_for: int | None = None) -> np.ndarray:
    """Decode one image file -> uint8 [H, W, C] (C = 1 for gray sources, 3 for colour). DataError if unusable.
    reduce_for: the side the caller will shrink the image to (see read_image_sized); None: full size."""
    return read_image_sized(path, depth16, stats, reduce_for)[0]


# A JPEG is decoded at 1/2 or 1/4 of its size (libjpeg's DCT scaling, Pillow's draft) when it keeps at least
# JPEG_DRAFT_GAP times the side it will be shrunk to. Why: decoding a 12-megapixel photo in full, only to shrink it
# to 256 px or less, is most of the cost of reading a pile of photos (about 4x, benchmarks/jpeg_draft.py). The gap
# keeps the pixels close to shrinking the full-size image, and every path that shrinks a file while reading it
# (training, scoring, the Detector) uses this one rule, so a model is scored on pixels made as its training pixels
# were. Never 1/8: libjpeg makes it from each 8x8 block's mean alone, which aliases fine texture (largest difference
# 26 levels of 255 against 1 at 1/4, for 4000x3000 photos read for 128 px; mean 0.04-0.36 at 1/4, measured there).
JPEG_DRAFT_GAP = 2
_DRAFT_MAX_SCALE = 4
_DRAFT_FORMATS = ("JPEG", "MPO")


def draft_scale(h: int, w: int, reduce_for: int) -> int:
    """The reduction (1, 2 or 4) at which a JPEG of h x w is decoded when it will be shrunk to reduce_for a side.

    Only one that keeps JPEG_DRAFT_GAP x reduce_for a side and divides both sides and the offset of the square
    (centre crop or letterbox: |h - w| // 2): each reduced pixel then stands for whole s x s blocks of the image and
    the square falls on their edges, so the reduced image is the full one on a coarser grid, not shifted (a crop
    offset of 250 px read at 1/4 shifted a 2000x1500 photo by half a reduced pixel: a mean difference of 3.3 levels
    at 128 px, against 0.1 aligned; benchmarks/jpeg_draft.py). Common camera sizes (4000x3000, 4032x3024, 6000x4000,
    1920x1080) take 1/4. Never for an image of at most MAX_AUTO_RESOLUTION a side: an archive of such images is
    decoded once at full size and cached (read_folder_tar), then converted to any resolution, and the files read
    from a folder must give the same pixels (and small JPEGs decode fast anyway)."""
    if max(h, w) <= MAX_AUTO_RESOLUTION:
        return 1
    fits = min(h, w) // (JPEG_DRAFT_GAP * reduce_for)
    for s in (8, 4, 2):
        if s <= min(fits, _DRAFT_MAX_SCALE) and h % s == 0 and w % s == 0 and (abs(h - w) // 2) % s == 0:
            return s
    return 1


def _swaps_sides(img: Image.Image) -> bool:
    """Whether decode_pil's EXIF orientation turns the image a quarter (its width becomes its height)."""
    if img.format not in _ORIENTED_FORMATS:
        return False
    try:
        return img.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: exif_transpose then leaves the image as it is
        return False


def read_image_sized(path: str | Path, depth16: str = "per-image", stats: dict[str, Any] | None = None,
                     reduce_for: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """read_image, and the file's own (H, W) as shown (after its EXIF orientation).

    reduce_for: the side the caller shrinks the image to next (resize_one), or None. A JPEG at least
    2 x JPEG_DRAFT_GAP times that side both ways is then decoded at 1/2 or 1/4 scale, keeping JPEG_DRAFT_GAP times
    it, so the array may be smaller than the (H, W) returned, never smaller than JPEG_DRAFT_GAP x reduce_for a side.
    Other formats, and smaller JPEGs, are decoded in full.

    GIF (and animated WebP / PNG, multi-page TIFF): the first frame (page) only, also of an animation; a GIF's palette
    is converted like any palette image (a gray palette stays gray, transparency is composited on black). WebP has no
    gray mode: a gray WebP decodes as RGB (--channels 1 makes a data set gray). stats: decode statistics to add this
    file to (16-bit, 8-bit, 16-bit colour and multi-page files; see warn_decode_stats). An image above Pillow's
    decompression-bomb limit is decoded with a warning naming the file (above twice the limit: a DataError)."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise DataError(f"{p}: cannot read file ({e.strerror or e})") from e
    if not p.is_file():
        raise DataError(f"{p}: not a regular file")
    if size == 0:
        raise DataError(f"{p}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow's own warning names no file: said again below, with the file's name
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)
    except UnidentifiedImageError as e:
        ext = p.suffix.lower()
        if ext == ".zip":
            raise DataError(f"{p}: zip archives are not read: unzip it, or make a .tar.gz of the folder "
                            "(tar czf images.tar.gz folder/)") from e
        if ext == ".npy":
            raise DataError(f"{p}: {_NPY_HINT}") from e
        if ext in _OTHER_IMAGE_EXTS:
            raise DataError(f"{p}: the {ext} format is not read (formats read: {', '.join(IMAGE_EXTS)}); export the "
                            "images to TIFF or PNG (e.g. with Fiji / Bio-Formats) and pass those") from e
        if _dataset_file_kind(p):
            raise dataset_among_images_error(p) from e
        raise DataError(f"{p}: not a readable image (unknown format or not an image file)") from e
    except Image.DecompressionBombError as e:
        raise DataError(f"{p}: image too large to decode safely ({e})") from e
    except MemoryError:
        raise                   # the machine, not the file: never reported (or skipped) as a corrupt image
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error ... for corrupt files
        raise DataError(f"{p}: truncated or corrupt image ({type(e).__name__}: {e})") from e
    with img:
        h0, w0 = img.height, img.width
        drafted = False
        if reduce_for is not None and img.format in _DRAFT_FORMATS:
            scale = draft_scale(h0, w0, reduce_for)
            if scale > 1:
                try:
                    # (Pillow picks the largest of 1/8, 1/4, 1/2 that keeps this size: exactly 1/scale here)
                    img.draft(img.mode, (w0 // scale, h0 // scale))
                except Exception as e:  # (Pillow reads the header lazily: a damaged one can fail here)
                    raise DataError(f"{p}: truncated or corrupt image ({type(e).__name__}: {e})") from e
                drafted = (img.height, img.width) != (h0, w0)
        limit = Image.MAX_IMAGE_PIXELS
        # (a photo drafted below the limit costs little memory: no warning)
        if limit and img.width * img.height > limit:
            warn_user(f"{p}: a very large image ({w0}x{h0}, {w0 * h0 / 1e6:.0f} "
                      f"megapixels, above Pillow's decompression-bomb limit of {limit / 1e6:.0f}): decoded all the "
                      "same, at a large cost in memory; is it the right file? (cut it into tiles, or export it smaller)")
        try:
            # (a camera JPEG's MPF preview makes Pillow open it as MPO with 2 frames: one photo, not a stack)
            pages = 1 if img.format == "MPO" else int(getattr(img, "n_frames", 1) or 1)
        except Exception:   # a damaged later page: the first one is decoded (or refused) below
            pages = 1
        a = decode_pil(img, str(p), depth16, stats)
        # the size as shown: the array's, or for a drafted JPEG its full size turned as decode_pil turned it (asked
        # of the EXIF only now: a PNG's EXIF is read by loading the image, which _is_colour16 must see unloaded)
        if not drafted:
            h0, w0 = a.shape[:2]
        elif _swaps_sides(img):
            h0, w0 = w0, h0
    if pages > 1 and stats is not None:
        stats["pages"] = stats.get("pages", 0) + 1
        if "pages_file" not in stats:
            stats["pages_file"], stats["pages_n"] = str(p), pages
    return a, (int(h0), int(w0))


# formats whose EXIF orientation is applied (a photo looks the way its viewer shows it), also to PIL images opened
# from such files and passed in memory; not to images made or changed in memory (format None)
_ORIENTED_FORMATS = ("JPEG", "TIFF", "MPO", "PNG", "WEBP")
# Pillow's raw modes of 16-bit colour data, which it decodes to 8 bits per channel (the high byte): 'RGB;16B' (48-bit
# PNG), 'RGBA;16L' (64-bit TIFF), 'LA;16B' (16-bit gray + alpha PNG, decoded as RGBA) ... ('BGR;16' is 5-6-5 BMP)
_COLOUR16_RAW = re.compile(r"^(RGB|RGBA|RGBX|RGBa|LA|La|CMYK|YCbCr);16[BLN]$")


def _is_colour16(img: Image.Image) -> bool:
    """Whether a not yet loaded PIL image holds 16-bit colour data that Pillow will reduce to its high byte: by the
    raw mode of its tiles (PNG, TIFF), else by a TIFF's BitsPerSample tag."""
    if img.mode.startswith(("I", "F")):
        return False
    for t in getattr(img, "tile", None) or []:
        args = t[3] if len(t) > 3 else None
        raw = args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else ""
        if isinstance(raw, str) and _COLOUR16_RAW.match(raw):
            return True
    tags = getattr(img, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None
    return isinstance(bits, tuple) and len(bits) > 1 and max(bits) > 8


def decode_pil(img: Image.Image, name: str, depth16: str = "per-image", stats: dict[str, Any] | None = None
               ) -> np.ndarray:
    """A PIL image (opened from a file, or given in memory) -> uint8 [H, W, C]: the one rule for files and PIL inputs.
    The pixels are decoded in full (a truncated file fails here, not later in training), the EXIF orientation is
    applied, then pil_to_array. Any failure is a DataError naming `name` (a file, or 'image i'). stats: see
    read_image."""
    try:
        colour16 = _is_colour16(img)
        img.load()
        # honour camera orientation so a photo looks the way its viewer shows it
        # (not a PIL image made or changed in memory, format None: a user's own rotation keeps the EXIF tag in .info)
        img2 = ImageOps.exif_transpose(img) if img.format in _ORIENTED_FORMATS else img
        a = pil_to_array(img2, name, depth16, None if colour16 else stats)   # (not an 8-bit image: counted below)
    except (DataError, ConfigError, MemoryError):
        raise                   # (MemoryError: the machine, not the file)
    except Image.DecompressionBombError as e:
        raise DataError(f"{name}: image too large to decode safely ({e})") from e
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error ... for corrupt files
        raise DataError(f"{name}: truncated or corrupt image ({type(e).__name__}: {e})") from e
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise DataError(f"{name}: image has zero size")
    if colour16 and stats is not None:
        stats["colour16"] = stats.get("colour16", 0) + 1
        stats.setdefault("colour16_file", name)
    return a


def warn_decode_stats(stats: dict[str, Any], what: str, depth16: str = "per-image", dataset: bool = True,
                      option: str = "--depth16") -> None:
    """The warnings about how the decoded images' pixels were read, once per decode (stats: collected by read_image /
    decode_pil / array_to_uint8). Always: 16-bit colour files (read by their high byte) and multi-page files (first
    page only). dataset=True (a read that builds a training data set, not images to score): 8-bit and 16-bit files
    mixed, and 16-bit images stretched each to its own min..max (the per-image default), with the bits:N rule that
    keeps their brightness differences. `what`: where the images come from; `option`: how the rule is chosen there
    ('--depth16', or 'depth16=' for the Detector)."""
    where = "" if what == "images" else f"{what}: "
    n = stats.get("colour16", 0)
    if n:
        warn_user(f"{where}{n} 16-bit colour image{'s are read by their' if n != 1 else ' is read by its'} high byte "
                  f"(Pillow): depth16 does not apply to {'them' if n != 1 else 'it'} (e.g. {stats['colour16_file']}); "
                  f"to choose the rule, convert to 16-bit gray (one file per channel) or to 8-bit first")
    n = stats.get("pages", 0)
    if n:
        warn_user(f"{where}{n} file{'s have' if n != 1 else ' has'} several pages or frames (e.g. "
                  f"{stats['pages_file']}: {stats['pages_n']} pages): only the first page is read; save each page "
                  f"as a file of its own to use them all")
    top16 = int(stats.get("max16", 0))
    if depth16.startswith("bits:") and top16 > (1 << int(depth16[5:])) - 1:
        # bits:N clips without an error (a hot pixel above the camera's range is no reason to stop), but a whole
        # data set of deeper data would saturate: said, for training and for scoring alike
        warn_user(f"{where}raw 16-bit values up to {top16} lie above the top of depth16 {depth16} "
                  f"({(1 << int(depth16[5:])) - 1}) and are clipped to 255; if the data is deeper, use "
                  f"bits:{depth16_bits(top16)}")
    if not dataset:
        return
    n16, n8 = stats.get("n16", 0), stats.get("n8", 0)
    if n16 and n8:
        warn_user(f"{where}{n8} 8-bit and {n16} 16-bit images mixed (e.g. {stats.get('n8_file')} and "
                  f"{stats.get('n16_file')}): the 16-bit ones follow the depth16 rule ({depth16}) while the 8-bit ones "
                  f"are kept as they are, so their brightness may not compare; convert them to one bit depth")
    if stats.get("float1") and stats.get("float255"):
        warn_user(f"{where}float images read on two scales: {stats['float1']} with values in [0, 1] (scaled by 255, "
                  f"e.g. {stats['float1_file']}) and {stats['float255']} with values above 1 (kept as 0..255, e.g. "
                  f"{stats['float255_file']}); if they share one scale, the dark ones of the [0, 255] images were "
                  f"read 255x too bright: rescale the files to one range")
    n = stats.get("stretched", 0)
    if n:
        top = int(stats.get("max16", 0))
        bits = depth16_bits(top)
        rule = (lambda r: f"{option}'{r}'") if option.endswith("=") else (lambda r: f"{option} {r}")
        warn_user(f"{where}{n} 16-bit image{'s were' if n != 1 else ' was'} stretched each to its own min..max "
                  f"(depth16 per-image, the default): brightness differences between images are thereby removed "
                  f"(an image 8x darker reads the same); the largest raw value seen is {top}: to keep them use "
                  f"{rule(f'bits:{bits}')} (0..{(1 << bits) - 1} -> 0..255) or {rule('global')}")


def _is_image_file(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")


_NO_EXT = "no extension"     # the _OTHER_IMAGE_EXTS-like key under which files without an extension are counted


def _is_other_image(p: Path) -> bool:
    """A file of an image format that is not read (.heic, .avif, ...), or an image file without an extension (a
    camera's or a script's image saved as 'frame0001' is left out like any file whose format is not known from its
    name): worth a warning, unlike a .txt or .csv, or a README, LICENSE or Makefile beside a data set's images."""
    if p.name.startswith("."):
        return False
    if p.suffix:
        return p.suffix.lower() in _OTHER_IMAGE_EXTS
    return _image_signature(p)


# the first bytes of the image formats a file without an extension may hold (PNG, JPEG, GIF, BMP, TIFF, WebP, PNM,
# and ISO media: HEIC / AVIF)
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def _image_signature(p: Path) -> bool:
    """Whether a file's first bytes are those of an image (12 bytes read; an unreadable file is no image here)."""
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return (head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or
            head[4:8] == b"ftyp" or re.match(rb"P[1-7]\s", head) is not None)


def _other_key(p: Path) -> str:
    return p.suffix.lower() or _NO_EXT


def _walk(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """(folder path, sorted file names) for folder and every folder under it, hidden entries, __MACOSX folders and
    wildgan run or study folders skipped (_skipped_dir), in a sorted top-down order. Symlinked folders and files are
    followed (paths stay as given, through the link); a folder is entered once (by its real path), so a link to an
    ancestor or two links to one folder do not loop or repeat."""
    seen = {os.path.realpath(folder)}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        keep = []
        # real folders claim their place before links to them (pile/b before the alias pile/a_b -> pile/b), so an
        # image keeps the id of where it is; the walk order stays sorted
        names = sorted(d for d in dirnames if not _skipped_dir(os.path.join(dirpath, d)))
        for d in sorted(names, key=lambda d: os.path.islink(os.path.join(dirpath, d))):
            real = os.path.realpath(os.path.join(dirpath, d))
            if real not in seen:
                seen.add(real)
                keep.append(d)
        dirnames[:] = sorted(keep)
        yield dirpath, sorted(f for f in filenames if not f.startswith("."))


def _scan_images(folder: Path) -> tuple[list[Path], dict[str, int]]:
    """(image files under folder, sorted by relative path for determinism; {extension: count} of the files of image
    formats that are not read). Recursive, following symlinks (see _walk)."""
    out: list[Path] = []
    other: dict[str, int] = {}
    for dirpath, filenames in _walk(folder):
        for f in filenames:
            q = Path(dirpath) / f
            if _is_image_file(q):
                out.append(q)
            elif _is_other_image(q):
                other[_other_key(q)] = other.get(_other_key(q), 0) + 1
    return sorted(out, key=lambda q: q.relative_to(folder).as_posix()), other


def _count_other(files: Iterable[Path]) -> dict[str, int]:
    other: dict[str, int] = {}
    for q in files:
        if _is_other_image(q):
            other[_other_key(q)] = other.get(_other_key(q), 0) + 1
    return other


def _found_other(other: dict[str, int]) -> str:
    """'; found 50 .heic files, 1 .avif file' for the error of a folder without readable images, or ''."""
    if not other:
        return ""
    return "; found " + ", ".join(f"{n} file{'s' if n != 1 else ''} without an extension" if e == _NO_EXT else
                                  f"{n} {e} file{'s' if n != 1 else ''}" for e, n in _by_count(other)) + _no_ext_hint(other)


def _no_ext_hint(other: dict[str, int]) -> str:
    """What to do about files without an extension, when there are some: the format is told by the name here."""
    return (" (files without an extension are not read: give image files their format's extension, e.g. .png)"
            if other.get(_NO_EXT) else "")


def _by_count(other: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(other.items(), key=lambda t: (-t[1], t[0]))


def _warn_other(folder: Path, other: dict[str, int]) -> None:
    """The one warning about the files of unsupported image formats left out of a folder read."""
    if other:
        n = sum(other.values())
        warn_user(f"ignored {n} file{'s' if n != 1 else ''} with unsupported extensions in {folder} "
                  f"({', '.join(f'{e}: {k}' for e, k in _by_count(other))}); supported: "
                  f"{', '.join(IMAGE_EXTS)}{_no_ext_hint(other)}")


def _no_images_error(what: str, other: dict[str, int], tail: str = "") -> DataError:
    """'{what} no image files (.png, ...)', or, when files of unsupported image formats are there, '{what} no
    supported image files (.png, ...); found 50 .heic files'."""
    return DataError(f"{what} no {'supported ' if other else ''}image files ({', '.join(IMAGE_EXTS)}){tail}"
                     f"{_found_other(other)}")


def _progress(it: Iterable[T], total: int, desc: str, enabled: bool | None) -> Iterable[T]:
    if enabled is False or total < 500:
        return it
    try:
        from ..progress import progress_bar
    except ImportError:  # tqdm is a dependency, but a bar is never worth a crash
        return it
    return progress_bar(it, total=total, desc=desc, unit="img", disable=None if enabled is None else not enabled)


# ------------------------------------------------------------------------------------------ parallel decoding
# Decoding is one core's work per file (about 6,000 CIFAR-sized JPEGs per second), which caps the scoring of a pile of
# files far below what one GPU scores (issue 5: 20,000 img/s). Threads do not help: for small images the Python work
# around Pillow's decoder holds the GIL (measured: 2 threads 0.8x, 4 threads 0.6x of one). Processes do: a pool of
# `decode_workers()` spawned processes decodes consecutive batches of files, and the results are taken in file order,
# so that every array, skip, statistic and error is the serial decode's. Warnings given while decoding are recorded
# in the worker and given again by the main process, in order: wildgan's at the user's line, other libraries' (e.g.
# Pillow's) at their own place, each once per place as Python's default filter does (with the pool, a filter that
# turns a warning into an error acts only there, after the decode: one process is the reference behaviour).
PARALLEL_DECODE_MIN_FILES = 2048      # below this a pool costs more to start (~0.3 s a process) than it saves
CHUNK_POOL_MIN_BYTES = 128 * 2**20    # a chunk of fewer files whose files hold this much: seconds of decoding


def _file_bytes(files: Sequence[Path]) -> int:
    total = 0
    for f in files:
        try:
            total += os.stat(f).st_size
        except OSError:
            pass                      # an unreadable file is the decode's to report
    return total
_MEMINFO = "/proc/meminfo"


def host_memory_available() -> int | None:
    """Bytes of memory this process can still take, as the system sees it (Linux: MemAvailable, lowered by a cgroup
    v2 limit when one is set), or None where that is not known."""
    avail = None
    try:
        with open(_MEMINFO, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            return None
    for group in _cgroup_dirs():                     # a container's or a job's own limit, below the machine's
        try:
            limit = (group / "memory.max").read_text().strip()
            if limit == "max":
                continue
            used = int((group / "memory.current").read_text())
        except (OSError, ValueError):
            continue
        try:
            # the page cache counts as used but is given back on demand: a pile just read must not look like no room
            for line in (group / "memory.stat").read_text().splitlines():
                if line.startswith("inactive_file "):
                    used -= int(line.split()[1])
        except (OSError, ValueError):
            pass                                    # (no statistics: the limit still counts, cache and all)
        try:
            room = max(0, int(limit) - used)
        except ValueError:
            continue
        avail = room if avail is None else min(avail, room)
    return avail


def _cgroup_dirs() -> list[Path]:
    """This process's cgroup v2 folder and the ones above it (a Slurm job or a systemd scope sets its limit on its own
    folder, not at the root), or nothing where there is no cgroup v2."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    if own is None:
        return []
    root = Path("/sys/fs/cgroup")
    here = root / own.strip().lstrip("/")
    return [here, *[p for p in here.parents if root in (p, *p.parents)]]


TRAINING_HOLDS = 1.4      # training holds the decoded set plus its pyramid (1/3) and some scratch: about 1.4x
ROOM_SAMPLE = 16          # file headers read for the estimate (spread over the list: a pile's folders differ)
ROOM_CHECK_MIN_BYTES = 256 * 2**20   # below this no file is opened to estimate anything


def warn_if_no_room(files: Sequence[Path], o: _Opts, what: str) -> None:
    """Warn before decoding when the decoded images (times TRAINING_HOLDS, more with rotated copies) would not fit
    in the memory left.

    Why: a pile too big for memory otherwise runs for minutes and is then killed by the system's out-of-memory
    killer, which leaves no message at all. The size is estimated from the headers of up to ROOM_SAMPLE files spread
    over the list (nothing is decoded), capped at the resolution the decode shrinks to; one colour file among them
    makes every image colour, as stacking does. It is only a warning, since the other files may differ."""
    if not files or o.probe_uniform:
        return
    limit = o.resolution or (None if o.resize == "error" else MAX_AUTO_RESOLUTION)
    pixels: list[int] = []
    shapes: set[tuple[int, int]] = set()
    colour = False
    for f in files[::max(1, len(files) // ROOM_SAMPLE)][:ROOM_SAMPLE]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(f) as img:
                    w, h, mode = img.width, img.height, img.mode
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - an unreadable file is the decode's to report
            continue
        if o.resolution is not None:
            h = w = o.resolution                        # every image is converted to R x R, larger or smaller
        elif limit is not None and max(h, w) > limit:
            h = w = limit                               # shrunk to limit x limit while decoding
        pixels.append(h * w)
        shapes.add((w, h))
        # (gray by its base mode: 1, L, LA, I, I;16*, F decode to one channel; a palette is taken as colour)
        colour = colour or Image.getmodebase(mode) != "L"
    if not pixels:
        return
    channels = o.channels or (3 if colour else 1)
    # under torchrun every process of a machine decodes the whole set
    copies = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    each_bytes = sum(pixels) / len(pixels) * channels
    decoded = int(len(files) * each_bytes * copies)
    if decoded < ROOM_CHECK_MIN_BYTES:
        return
    # rotated copies (--rotations) are new images, with their share of the pyramid: an upper bound, since only the
    # training part of a labelled set is rotated
    holds = TRAINING_HOLDS * (1 + o.rotations)
    avail = host_memory_available()
    if avail is None or decoded * holds <= avail:
        return
    (w, h), = shapes if len(shapes) == 1 else ((0, 0),)
    each = (f"{w}x{h}x{channels}" if w else f"about {each_bytes / 2**20:.2f} MiB") + " each, judged by " + \
        (files[0].name if len(pixels) == 1 else f"the headers of {len(pixels)} files") + \
        (f"; one copy in each of {copies} processes" if copies > 1 else "")
    turned = f", with {o.rotations} rotated cop{'ies' if o.rotations != 1 else 'y'} of each," if o.rotations else ""
    warn_user(f"{what}: {len(files)} images decode to about {decoded / 2**30:.1f} GiB ({each}) and training{turned} "
              f"holds up to about {holds:.1f}x that, but only "
              f"{avail / 2**30:.1f} GiB of memory is free: the system may stop the process without a message. A "
              f"smaller --resolution, --channels 1 (gray)" + (", fewer --rotations" if o.rotations else "") +
              " or fewer images need less")


_DECODE_TASK_FILES = 64               # files per task: pickling overhead amortised, order kept at low latency
_REEMIT_REGISTRY: dict[Any, Any] = {}   # where the re-given warnings of other libraries are remembered (once per place)


def decode_workers(n_files: int) -> int:
    """Processes for decoding n_files image files (1: no pool), by WILDGAN_DECODE_WORKERS: a number, or 'auto' (what
    the `wildgan` command sets) for one per usable core but one, at most 8, under torchrun shared among the node's
    processes.
    Unset (the Python API's default): 1, since spawned processes import the caller's main script again, which must
    then hold its work under `if __name__ == "__main__":` (set WILDGAN_DECODE_WORKERS=auto in a script that does, or
    in a notebook). Always 1 below PARALLEL_DECODE_MIN_FILES files."""
    env = os.environ.get("WILDGAN_DECODE_WORKERS", "").strip().lower()
    n: int | None = None
    if env not in ("", "auto"):
        try:
            n = max(1, int(env))
        except ValueError:
            raise ConfigError(f"WILDGAN_DECODE_WORKERS must be a number of processes or 'auto', got {env!r}") from None
    if n_files < PARALLEL_DECODE_MIN_FILES or env == "":
        return 1
    if n is not None:
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):          # not on Linux
        cores = os.cpu_count() or 1
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    # one core is left to the main process, which takes the images over (unpickling, converting, stacking): on 2
    # cores a pool of 2 was slower than one process (0.6-1.3x, measured on a shared machine)
    return max(1, min(8, cores // local - 1))


def _worker_init() -> None:
    """A decode worker: Ctrl-C is the main process's to handle (it cancels what is queued), and a worker whose main
    process is gone (killed: SIGKILL, the OOM killer) exits instead of waiting for work forever."""
    import multiprocessing as mp
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = mp.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _decode_one(f: str | Path, depth16: str, limit: int | None, fit: str, channels: int | None = None,
                draft_for: int | None = None) -> tuple[Any, ...]:
    """One file: ('ok', array, stats, (h0, w0), resized, c0, warnings) or ('bad', why, warnings); the array shrunk
    to `limit` as the serial decode does, made gray first when `channels` is 1 (transforms.convert's order: gray,
    then resized), c0 its own channel count (warnings: only a pool worker records them, see _decode_task).
    draft_for: the side a JPEG is read for (read_image_sized) when there is no limit (default: the limit)."""
    one: dict[str, Any] = {}
    try:
        a, (h0, w0) = read_image_sized(f, depth16, one, limit if limit is not None else draft_for)
    except DataError as e:
        return ("bad", str(e), [])
    c0 = int(a.shape[2])
    if channels == 1 and c0 != 1:
        a = to_channels(a, 1)
    resized = limit is not None and (h0 > limit or w0 > limit)
    if resized:
        a = resize_one(a, limit, fit)
    return ("ok", a, one, (int(h0), int(w0)), resized, c0, [])


def _decode_task(paths: list[str], depth16: str, limit: int | None, fit: str, channels: int | None,
                 draft_for: int | None, pil: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A worker's share of _decode_files: _decode_one per file, with the warnings each gave recorded (message,
    category, filename, lineno, module) for the main process to give. `pil`: the caller's Pillow settings."""
    from PIL import ImageFile

    Image.MAX_IMAGE_PIXELS = pil["MAX_IMAGE_PIXELS"]
    ImageFile.LOAD_TRUNCATED_IMAGES = pil["LOAD_TRUNCATED_IMAGES"]
    out = []
    for f in paths:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            r = _decode_one(f, depth16, limit, fit, channels, draft_for)
        rec = [(str(w.message), w.category, w.filename, w.lineno, _module_of(w.filename)) for w in said]
        out.append(r[:-1] + (rec,))
    return out


def _module_of(filename: str) -> str:
    return os.path.splitext(os.path.basename(filename))[0]


def _say_again(r: tuple[Any, ...]) -> None:
    """The warnings a pool worker recorded for one file, given here: wildgan's at the user's line (warn_user), other
    libraries' at their own file and line, once per place under the default filter (_REEMIT_REGISTRY)."""
    from ..errors import WildganWarning

    for msg, category, filename, lineno, module in r[-1]:
        if issubclass(category, WildganWarning):
            warn_user(msg, category)
        else:
            warnings.warn_explicit(msg, category, filename, lineno, module=module, registry=_REEMIT_REGISTRY)


class DecodePool:
    """One pool of decoding processes for a job of several chunks (`wildgan score` on a pile): started on first use,
    kept until close(). Why: starting a pool costs about a second (spawned processes import numpy and Pillow), and a
    pile of photos at 256 px is hundreds of chunks."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._ex: Any = None

    def executor(self) -> Any:
        if self._ex is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: forking a process that holds torch's thread pools (or a CUDA context) can deadlock
            self._ex = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init)
        return self._ex

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None


def job_decode_pool(files: Sequence[Path]) -> DecodePool | None:
    """The pool a job of several chunks shares, or None (decoded in this process): by decode_workers for the whole
    job, or for a job of fewer files whose files hold at least CHUNK_POOL_MIN_BYTES (large photos, ~40 ms each)."""
    workers = decode_workers(len(files))
    if workers == 1 and len(files) < PARALLEL_DECODE_MIN_FILES and _file_bytes(files) >= CHUNK_POOL_MIN_BYTES:
        workers = decode_workers(PARALLEL_DECODE_MIN_FILES)
    return DecodePool(workers) if workers > 1 else None


def _pooled(files: Sequence[Path], o: _Opts, limit: int | None, workers: int,
            shared: DecodePool | None = None, draft_for: int | None = None) -> Iterator[tuple[Any, ...]]:
    """_decode_task's results for every file, in order, from a pool of `workers` processes (`shared`'s, else one of
    its own for these files); lazily (the caller may stop early: what is queued is cancelled when the generator is
    closed)."""
    import signal
    import threading
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    from PIL import ImageFile

    pil = {"MAX_IMAGE_PIXELS": Image.MAX_IMAGE_PIXELS, "LOAD_TRUNCATED_IMAGES": ImageFile.LOAD_TRUNCATED_IMAGES}
    tasks = (list(map(str, files[i:i + _DECODE_TASK_FILES])) for i in range(0, len(files), _DECODE_TASK_FILES))
    pending: deque = deque()
    own = shared is None
    pool = DecodePool(workers) if shared is None else shared
    workers = pool.workers
    died = WildganError("a process decoding the image files died (out of memory?); WILDGAN_DECODE_WORKERS=1 decodes "
                        "them in this process")
    try:
        # the workers start while the first tasks are queued: with Ctrl-C ignored meanwhile, which they inherit
        # until their initializer runs (else a Ctrl-C then prints a traceback from each of them)
        main_thread = threading.current_thread() is threading.main_thread()
        saved = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        try:
            ex = pool.executor()
            for _ in range(4 * workers):             # a bounded queue: decoded images wait for the caller, not RAM
                nxt = next(tasks, None)
                if nxt is None:
                    break
                try:
                    pending.append(ex.submit(_decode_task, nxt, o.depth16, limit, o.fit, o.channels, draft_for, pil))
                except BrokenProcessPool:            # (a shared pool's process may die between chunks)
                    raise died from None
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, saved)
        while pending:
            try:
                done = pending.popleft().result()
                nxt = next(tasks, None)
                if nxt is not None:
                    pending.append(ex.submit(_decode_task, nxt, o.depth16, limit, o.fit, o.channels, draft_for, pil))
            except BrokenProcessPool:
                raise died from None
            yield from done
    finally:
        if own:
            pool.close()
        else:                                        # the pool goes on: only this call's queued work is dropped
            for f in pending:
                f.cancel()


def _decode_files(files: Sequence[Path], o: _Opts, skipped: list[dict[str, str]],
                  desc: str = "decoding", what: str = "images", sizes: dict[tuple[int, int], Path] | None = None,
                  convert_one: Callable[[np.ndarray], np.ndarray] | None = None, max_skipped: int | None = None,
                  chunked: bool = False, stats: dict[str, Any] | None = None,
                  native: list[tuple[int, int]] | None = None,
                  pool: DecodePool | None = None, kinds: list[int] | None = None
                  ) -> tuple[list[np.ndarray], list[int]]:
    """Decode files; returns the arrays and the indices (into files) that were kept.

    `sizes`: collects the decoded (native) sizes, each with its first file. `chunked`: the caller decodes in chunks
    and warns about cropping once, instead of once per chunk. `convert_one`: applied to each image as soon as it is
    decoded (only the converted image is kept). `max_skipped`: stop after that many skipped files. `stats`: collects
    the decode statistics of the kept files, for the caller's warn_decode_stats. `native`: collects the native (H, W)
    of each kept image, in order (for _stack's mixed-size warning). `pool`: the caller's pool of decoding processes
    (iter_images keeps one for all its chunks, job_decode_pool); without one, a pool of this call's own when the
    files are many (decode_workers). `kinds`: collects each kept file's own channel count (1 gray, 3 colour), in
    order: with o.channels 1 the arrays are gray already (made gray before they are shrunk, convert's order)."""
    arrays, kept = [], []
    sizes = {} if sizes is None else sizes        # as decoded, before any shrinking
    bad: list[str] = []
    # shrink big photos now (memory grows with the largest): to the resolution asked for, else to the largest
    # automatic one (not when probing native sizes for the decode cache, which only holds small images)
    # (--resize error must still see, and refuse, mixed sizes)
    limit = o.resolution or (None if o.probe_uniform or o.resize == "error" else MAX_AUTO_RESOLUTION)
    # --resize error keeps the files' sizes to compare them, but a large JPEG is still read for the automatic
    # resolution it ends at (at most 256), as scoring reads it: the pixels of both are those of the one rule
    draft_for = MAX_AUTO_RESOLUTION if limit is None and not o.probe_uniform else None
    capped = 0
    # a native-size probe decodes one process's way: it stops at the first other size, where a pool would already
    # be decoding many more (large photos, at full size) that cannot be called back
    shared = None if o.probe_uniform else pool
    workers = 1 if o.probe_uniform else shared.workers if shared is not None else decode_workers(len(files))
    results: Iterator[tuple[Any, ...] | None] = _pooled(files, o, limit, workers, shared, draft_for) \
        if workers > 1 else itertools.repeat(None)
    try:
        for i, (f, r) in enumerate(_progress(zip(files, results), len(files), desc, o.progress)):
            if r is None:               # one process: decoded here (warnings point from this frame to the caller)
                r = _decode_one(f, o.depth16, limit, o.fit, o.channels, draft_for)
            else:
                _say_again(r)
            if r[0] == "bad":
                if not o.skip_bad:
                    bad.append(r[1])    # go on: name every bad file at once, not one per run
                    if len(bad) >= MAX_NAMED_BAD_FILES:
                        break
                    continue
                skipped.append({"path": str(f), "reason": r[1]})
                if max_skipped is not None and len(skipped) >= max_skipped:
                    break
                continue
            _, a, one, (h0, w0), resized, c0, _ = r
            sizes.setdefault((h0, w0), f)
            if o.probe_uniform and len(sizes) > 1:
                raise _MixedSizes()      # a native-size probe: stop at the first other size, not after all
            capped += resized and o.resolution is None
            if native is not None:
                native.append((h0, w0))
            if kinds is not None:
                kinds.append(c0)
            arrays.append(a if convert_one is None else convert_one(a))
            kept.append(i)
            if stats is not None:
                _merge_stats(stats, one)
    finally:
        if workers > 1:
            results.close()             # a stop before the end: the pool's queued work is cancelled
    if capped:
        big_size = max(sizes, key=max)
        big, big_file = max(big_size), sizes[big_size]
        warn_user(f"{what}: {capped} image{'s' if capped != 1 else ''} larger than {MAX_AUTO_RESOLUTION} px (up "
                  f"to {big} px: {big_file.name}) reduced to {MAX_AUTO_RESOLUTION}x{MAX_AUTO_RESOLUTION} while "
                  f"decoding, the largest automatic resolution (--resolution chooses another)")
    if bad:
        raise unreadable_files_error(bad)
    if not o.probe_uniform and not chunked:
        warn_crop(set(sizes), o.fit, o.resolution, what)
    return arrays, kept


MAX_NAMED_BAD_FILES = 100   # then it is the folder, not a few files, that is wrong


def _header_opens(path: Path) -> bool:
    """Whether Pillow recognises the file from its header (nothing is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)     # read_image says it, naming the file
            with Image.open(path) as img:
                return img.width > 0 and img.height > 0
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - anything Pillow raises: the caller asks read_image for the reason
        return False


def _gray_info(kinds: Sequence[int]) -> dict[str, Any]:
    """What a data set's record says of its files' kind (kinds: each file's own channel count, _decode_files):
    whether every file was gray, and how many were (also when --channels 1 made the others gray while decoding)."""
    n = sum(1 for c in kinds if c == 1)
    return {"native_gray": bool(kinds) and n == len(kinds), "n_gray_files": n}


def _n_gray(arrays: Sequence[np.ndarray]) -> int:
    """How many decoded images are gray (one channel): with no channel count asked for, as the files were (the
    record of what they were when one was asked for, which made them gray while decoding, is _gray_info's)."""
    return sum(1 for a in arrays if a.shape[2] == 1)


def _merge_stats(into: dict[str, Any], more: dict[str, Any]) -> None:
    """Add one decode's statistics (see warn_decode_stats) to another's: counts add up, the first names stay."""
    for k, v in more.items():
        if k == "max16":
            into[k] = max(int(into.get(k, 0)), int(v))
        elif k.endswith("_file") or k == "pages_n":
            into.setdefault(k, v)
        else:
            into[k] = into.get(k, 0) + v


def unreadable_files_error(reasons: Sequence[str]) -> DataError:
    """One error naming every unreadable file (each reason names its file)."""
    if len(reasons) == 1:
        return DataError(f"{reasons[0]} (--skip-bad leaves unreadable files out)")
    shown = "; ".join(reasons[:10])
    more = f"; and {len(reasons) - 10} more" if len(reasons) > 10 else ""
    stop = f" (stopped at {len(reasons)}: is this the right folder?)" if len(reasons) >= MAX_NAMED_BAD_FILES else ""
    return DataError(f"{len(reasons)} unreadable image files{stop} (--skip-bad leaves them out): {shown}{more}")


def _stack(arrays: list[np.ndarray], names: Sequence[str], o: _Opts, what: str,
           native: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
    """Decoded images -> one [N, H, W, C] block. Consumes `arrays`: each entry is set to None once copied.

    Channels become o.channels (default: 1 if all images are gray, else 3). Images larger than o.resolution are
    shrunk to it now (saves memory on big photos); smaller ones keep their size so that the caller's final
    convert() chooses between padding and resizing. Mixed sizes are unified (or refused with resize='error').
    native: the files' own (H, W), one per array, before the shrinking while decoding: the sizes a warning names.
    """
    if not arrays:
        raise DataError(f"{what}: no readable images")
    n_gray = _n_gray(arrays)
    channels = o.channels or (1 if n_gray == len(arrays) else 3)
    if o.channels is None and 0 < n_gray < len(arrays):
        n_colour = len(arrays) - n_gray
        warn_user(f"{what}: {n_colour} colour image{'s' if n_colour != 1 else ''} and {n_gray} gray "
                  f"image{'s' if n_gray != 1 else ''}: all are converted to RGB (choose gray with --channels 1)")
    own_sizes = list(native) if native is not None and len(native) == len(arrays) else None
    sizes = {a.shape[:2] for a in arrays}
    if o.resize == "error" and own_sizes is not None:
        # the files' own sizes: a large JPEG is read at a reduced scale, so two sizes could decode to one
        sizes = {tuple(hw) for hw in own_sizes}
    target = o.resolution
    if len(sizes) > 1:
        if o.probe_uniform:
            raise _MixedSizes()
        if o.resize == "error":
            shape_of = (lambda i: tuple(own_sizes[i])) if own_sizes is not None else (lambda i: arrays[i].shape[:2])
            h0, w0 = shape_of(0)
            j = next(i for i in range(len(arrays)) if shape_of(i) != (h0, w0))
            h, w = shape_of(j)
            raise DataError(f"{names[j]}: image size {w}x{h} differs from {names[0]} ({w0}x{h0}); "
                            "mixed sizes are not allowed with --resize error (resize='error'); use --resize resize")
        if target is None:
            # One common size is needed to stack: the next power of two of the *median* short side, so that a few
            # outsized files cannot quadruple the compute of a whole run (one 64x48 photo among 28x28 digits).
            short = np.sort(np.array([min(a.shape[:2]) for a in arrays]))
            median = int(short[(len(short) - 1) // 2])
            target = next_pow2(median)
            counts: dict[tuple[int, int], int] = {}
            own = list(native) if native is not None and len(native) == len(arrays) else \
                [a.shape[:2] for a in arrays]     # the files' own sizes, not those after shrinking big photos
            for hw in own:
                counts[hw] = counts.get(hw, 0) + 1
            common = ", ".join(f"{w}x{h} ({n})" for (h, w), n in sorted(counts.items(), key=lambda t: -t[1])[:4])
            warn_user(f"{what}: images of {len(counts)} different sizes (most common: {common}); all are "
                      f"made square ({'letterboxed' if o.fit == 'letterbox' else 'centre-cropped'}) and "
                      f"resized to {target}x{target}, the next power of two of the median short side, {median} px (choose "
                      f"another with --resolution)")
    mixed = len(sizes) > 1
    # the images shrunk to the automatic cap while decoding, when the common size is smaller: read again and shrunk
    # to it at once, as scoring reads a file for the run's resolution (shrinking twice would round twice, and would
    # enlarge a strip whose short side is below the cap before shrinking it)
    again: dict[int, np.ndarray] = {}
    if o.resolution is None and target is not None and target < MAX_AUTO_RESOLUTION and own_sizes is not None:
        reread = [i for i, hw in enumerate(own_sizes) if max(hw) > MAX_AUTO_RESOLUTION]
        if reread:
            # by the decoder itself (its pool of processes for many files): each file as scoring reads it for target
            got, kept = _decode_files([Path(names[i]) for i in reread], replace(o, resolution=target, skip_bad=False),
                                      [], desc="reading large images again", what=what, chunked=True)
            again = dict(zip((reread[k] for k in kept), got))
    out = None
    freed = 0
    for i, a in enumerate(arrays):
        arrays[i] = None  # type: ignore[call-overload]
        freed += a.nbytes
        a = again.pop(i, a)
        a = to_channels(a, channels)
        if target is not None and (mixed or a.shape[0] > target or a.shape[1] > target):
            a = resize_one(a, target, o.fit)
        if out is None:
            out = np.empty((len(arrays),) + a.shape, np.uint8)   # (its pages are taken as they are written)
        out[i] = a
        if freed >= _TRIM_EVERY_BYTES:
            # the decoded images are many small blocks that the allocator keeps after they are freed: handed back as
            # the block fills, a pile is held about once while it is stacked, not twice
            release_freed_memory()
            freed = 0
    release_freed_memory()
    assert out is not None
    return out


_TRIM_EVERY_BYTES = 64 * 2**20
_MALLOC_TRIM: Any = None


def release_freed_memory() -> None:
    """Hand memory that Python has freed back to the system, where the C library can (glibc's malloc_trim; elsewhere
    nothing). Why: glibc keeps freed small blocks for reuse, so a process that decoded a pile image by image and then
    copied it into one array still holds both copies in its resident memory, and the next large array (the
    training set's shuffle, the pyramid) cannot reuse them."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):   # (ctypes.CDLL(None) is a TypeError on Windows)
            import ctypes

            try:
                _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
            except Exception:  # noqa: BLE001 - not glibc (musl without it): nothing to hand back this way
                _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


def crop_warning(sizes: set[tuple[int, int]], fit: str, resolution: int | None, what: str,
                 hint: str = "--square pad / DataConfig(square='pad')") -> str | None:
    """The warning that non-square images lose their edges to the centre crop (and how to keep them, `hint`), or
    None. `what`: where the images come from (a path), or 'images'."""
    if fit == "letterbox":
        return None
    cropped = [(h, w) for h, w in sizes if h != w and (fit != "pad" or resolution is None or max(h, w) > resolution)]
    if not cropped:
        return None
    h, w = max(cropped, key=lambda s: crop_loss(*s))
    return (f"{'' if what == 'images' else what + ': '}images that are not square (e.g. {w}x{h}) are "
            f"centre-cropped to a square, losing up to {crop_loss(h, w):.0%} of their area at the long edges, where "
            f"a defect would go unseen ({hint} letterboxes them with black bars instead)")


def native_sides(sizes: Iterable[Sequence[int]]) -> list[int] | None:
    """[shortest side, longest side] over images' native (decoded) sizes (H, W), None for no images: the scale at
    which a run's training images show their content, recorded in split.json and compared with images scored later
    (scale_warning)."""
    sizes = [(int(h), int(w)) for h, w in sizes]
    if not sizes:
        return None
    return [min(min(s) for s in sizes), max(max(s) for s in sizes)]


SCALE_FACTOR = 4   # a side this many times beyond the training images' range: another scale, not another crop


def scale_warning(sizes: dict[tuple[int, int], Any], trained: Sequence[int], resolution: int) -> str | None:
    """The warning that images to score are far larger or smaller than the run's training images (trained =
    native_sides of those), or None. Every image is resized whole to the network's resolution, so a whole
    microscope frame scored with a model of single-cell crops shows its content at another scale than the network
    learned: its scores say little. `sizes`: native (H, W) -> a file (or name) of that size."""
    lo, hi = int(trained[0]), int(trained[1])
    big = [(s, f) for s, f in sizes.items() if min(s) > SCALE_FACTOR * hi]
    small = [(s, f) for s, f in sizes.items() if max(s) * SCALE_FACTOR < lo]
    if not big and not small:
        return None
    (h, w), f = max(big, key=lambda t: min(t[0])) if big else min(small, key=lambda t: max(t[0]))
    name = getattr(f, "name", None) or str(f)
    seen = f"{lo}x{lo}" if lo == hi else f"{lo} to {hi} px a side"
    return (f"images much {'larger' if big else 'smaller'} than the run's training images (e.g. {name}: {w}x{h}; "
            f"the training images were {seen}): each is fitted whole into {resolution}x{resolution} (resized, or "
            f"padded where the run pads), so what it shows appears at another scale or in another frame than the "
            f"network learned and its scores say little; cut the images "
            f"to the size of the training images (or train on images like these)")


def warn_crop(sizes: set[tuple[int, int]], fit: str, resolution: int | None, what: str,
              hint: str = "--square pad / DataConfig(square='pad')") -> None:
    msg = crop_warning(sizes, fit, resolution, what, hint)
    if msg:
        warn_user(msg)


def _shrink_uniform(x: np.ndarray, o: _Opts, warn: bool = True) -> np.ndarray:
    """The _stack rules for an already stacked array (npz, CIFAR batches). warn=False: the caller warns about the
    crop once for the train and test arrays of one data set (_shrink_pair)."""
    if warn:
        warn_crop({tuple(x.shape[1:3])}, o.fit, o.resolution, "images")
    if o.channels is not None:
        x = to_channels(x, o.channels)
    if o.resolution is not None and (x.shape[1] > o.resolution or x.shape[2] > o.resolution):
        x = convert(x, o.resolution, x.shape[3], o.fit)
    return x


# ------------------------------------------------------------------------------------------------ folder trees
def _subdirs(p: Path) -> list[Path]:
    return sorted((d for d in p.iterdir() if d.is_dir() and not _skipped_dir(d)), key=lambda d: d.name)


def _find_split_dirs(root: Path) -> tuple[Path | None, Path | None, Path]:
    """(train dir, test dir, effective root). Descends through single wrapper folders (e.g. 'cifar10/train/...')."""
    seen = set()
    while True:
        seen.add(os.path.realpath(root))
        subs = _subdirs(root)
        low = {d.name.lower(): d for d in subs}
        if "train" in low:
            return low["train"], low.get("test"), root
        files = [f for f in root.iterdir() if f.is_file() and _is_image_file(f)]
        inner = _subdirs(subs[0]) if len(subs) == 1 else []
        # a wrapper: one folder of folders (a stray image beside a train/ folder, e.g. an MVTec preview, does not
        # make it a class folder)
        if inner and not files and os.path.realpath(subs[0]) not in seen and \
                (any(d.name.lower() == "train" for d in inner) or
                 not any(_is_image_file(f) for f in subs[0].iterdir() if f.is_file())):
            root = subs[0]
            continue
        return None, None, root


def folder_class_names(path: str | Path | None) -> list[str] | None:
    """The class folder names of a labelled image-folder tree at `path` (as load_dataset would resolve and read it),
    without reading an image; None for anything else (a pile, a file, an archive, a folder that cannot be listed).
    Why: a protocol chosen by class names (CIFAR-10's) fixes the resolution, which a folder of large photos should
    be decoded for at once (as scoring reads each file), not first for the automatic cap of 256 px."""
    try:
        p = resolve_data_root(path)
        if not p.is_dir() or _detect(p) != "folder":
            return None
        train_dir, test_dir, eff = _find_split_dirs(p)
        names = {d.name for d in _subdirs(train_dir or eff)}
        if test_dir is not None:
            names |= {d.name for d in _subdirs(test_dir)}
        return sorted(names)
    except (OSError, DataError):
        return None           # (the read itself names the problem)


def _is_pile(root: Path) -> bool:
    """Whether a folder tree is an unlabelled pile: following single sub-folders down (with or without images beside
    them) it ends in a folder without sub-folders, never meeting a train/ folder or two or more sub-folders, which
    make a labelled tree. E.g. loose images beside one folder of more, or one folder of images (one class folder
    cannot make a one-vs-rest split); not a wrapper folder around class folders or an MVTec-style train/test tree."""
    if not _first_image(root):
        return False
    seen = set()
    while True:
        seen.add(os.path.realpath(root))
        subs = _subdirs(root)
        if any(d.name.lower() == "train" for d in subs) or len(subs) > 1:
            return False
        if not subs or os.path.realpath(subs[0]) in seen:     # the end, or a link back up: a chain of single folders
            return True
        root = subs[0]


def is_pile(path: str | Path) -> bool:
    """A folder, or a tar of one, that is an unlabelled pile (see _is_pile); the tar is unpacked into the cache."""
    p = Path(path)
    if p.is_dir():
        return _is_pile(p)
    return p.is_file() and is_tar(p) and detect_format(p) == "folder-tar" and _is_pile(unpack_cached(p))


def _class_files(folder: Path, other: dict[str, int] | None = None) -> dict[str, list[Path]]:
    """{class folder name: its image files}. `other` collects the {extension: count} of files of image formats that
    are not read (the caller warns once)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    subs = _subdirs(folder)
    if not subs:
        images = [f for f in folder.iterdir() if f.is_file() and _is_image_file(f)]
        if images:
            raise DataError(f"{folder}: no class subfolders (found {len(images)} image file"
                            f"{'s' if len(images) != 1 else ''} directly in it); "
                            f"expected {folder}/<class>/<image>, e.g. {folder}/normal/0001.png. To train on "
                            "unlabelled images use --dataset unlabelled; to score loose images `wildgan score "
                            "--data`")
        raise _no_images_error(f"{folder}:", _count_other(f for f in folder.iterdir() if f.is_file()),
                               " and no class subfolders")
    loose = [f for f in folder.iterdir() if f.is_file() and _is_image_file(f)]
    if loose:
        warn_user(f"{folder}: {len(loose)} image file{'s' if len(loose) != 1 else ''} directly in it "
                  f"{'are' if len(loose) != 1 else 'is'} not in a class folder and {'are' if len(loose) != 1 else 'is'}"
                  f" left out (e.g. {loose[0].name}); --dataset unlabelled trains on every image instead")
    out = {}
    for d in subs:
        files, found = _scan_images(d)
        if not files:
            raise _no_images_error(f"{d}: class folder contains", found)
        out[d.name] = files
        if other is not None:
            for e, n in found.items():
                other[e] = other.get(e, 0) + n
    return out


def read_folder(root: str | Path, o: _Opts | None = None, id_root: Path | None = None
                ) -> tuple[ImageSet, ImageSet | None]:
    """root/<class>/* or root/{train,test}/<class>/* -> (train, test or None); class indices by sorted name."""
    o = o or _Opts()
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    train_dir, test_dir, eff = _find_split_dirs(root)
    id_root = id_root or eff
    other: dict[str, int] = {}
    parts = {"train": _class_files(train_dir or eff, other)}
    if test_dir is not None:
        parts["test"] = _class_files(test_dir, other)
    _warn_other(eff, other)
    class_names = sorted(set().union(*(set(p) for p in parts.values())))
    index = {c: i for i, c in enumerate(class_names)}
    skipped: list[dict[str, str]] = []
    sets = {}
    stats: dict[str, Any] = {} if o.stats is None else o.stats
    all_sizes: set[tuple[int, int]] = set()
    warn_if_no_room([f for classes in parts.values() for c in sorted(classes) for f in classes[c]], o, str(eff))
    for split, classes in parts.items():
        files = [f for c in sorted(classes) for f in classes[c]]
        labels = [index[c] for c in sorted(classes) for _ in classes[c]]
        where = (train_dir or eff) if split == "train" else test_dir
        sizes: dict[tuple[int, int], Path] = {}
        native: list[tuple[int, int]] = []
        # (chunked: the crop warning is said once below, for the whole tree, not once for train/ and once for test/)
        kinds: list[int] = []
        arrays, kept = _decode_files(files, o, skipped, desc=f"decoding {split}", what=str(where), sizes=sizes,
                                     stats=stats, native=native, chunked=True, kinds=kinds)
        all_sizes |= set(sizes)
        gray = _gray_info(kinds)
        x = _stack(arrays, [str(files[i]) for i in kept], o, str(where), native)
        ids = [files[i].relative_to(id_root).as_posix() for i in kept]
        sets[split] = ImageSet(x, np.asarray([labels[i] for i in kept], np.int64), class_names, ids,
                               info={"native_sides": native_sides(sizes), **gray})
    if not o.probe_uniform:
        warn_crop(all_sizes, o.fit, o.resolution, str(eff))
    for s in sets.values():
        s.info["skipped"] = skipped
    sets["train"].info["decode_stats"] = stats
    if o.stats is None:
        warn_decode_stats(stats, str(eff), o.depth16)
    return sets["train"], sets.get("test")


def read_unlabelled(root: str | Path, o: _Opts | None = None) -> ImageSet:
    """Every image file under root (recursively, sorted) as one unlabelled set: the user's pile, anomalies and all.
    Sub-folders are not classes here; ids are paths relative to root."""
    o = o or _Opts()
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    files, other = _scan_images(root)
    if not files:
        raise _no_images_error(f"{root}: folder contains", other)
    _warn_other(root, other)
    skipped: list[dict[str, str]] = []
    sizes: dict[tuple[int, int], Path] = {}
    native: list[tuple[int, int]] = []
    stats: dict[str, Any] = {} if o.stats is None else o.stats
    warn_if_no_room(files, o, str(root))
    kinds: list[int] = []
    arrays, kept = _decode_files(files, o, skipped, desc="decoding", what=str(root), sizes=sizes, stats=stats,
                                 native=native, kinds=kinds)
    gray = _gray_info(kinds)
    x = _stack(arrays, [str(files[i]) for i in kept], o, str(root), native)
    if o.stats is None:
        warn_decode_stats(stats, str(root), o.depth16)
    out = ImageSet(x, np.zeros(len(kept), np.int64), ["unlabelled"], [files[i].relative_to(root).as_posix()
                                                                        for i in kept])
    out.info.update(skipped=skipped, native_sides=native_sides(sizes), **gray)
    return out


def _save_decoded(path: Path, train: ImageSet, test: ImageSet | None) -> None:
    arrays: dict[str, np.ndarray] = {
        "x_train": train.x, "y_train": train.y, "ids_train": np.asarray(train.ids, dtype=str),
        "class_names": np.asarray(train.class_names, dtype=str),
        "skipped": np.asarray(json.dumps(train.info.get("skipped", []))),
        "native_sides_train": np.asarray(train.info.get("native_sides") or [], np.int64),
        "decode_stats": np.asarray(json.dumps(train.info.get("decode_stats") or {})),
        "native_gray_train": np.asarray(json.dumps(train.info.get("native_gray"))),
        "n_gray_files_train": np.asarray(json.dumps(train.info.get("n_gray_files"))),
    }
    if test is not None:
        arrays.update(x_test=test.x, y_test=test.y, ids_test=np.asarray(test.ids, dtype=str),
                      native_sides_test=np.asarray(test.info.get("native_sides") or [], np.int64),
                      n_gray_files_test=np.asarray(json.dumps(test.info.get("n_gray_files"))))
    # uncompressed: CIFAR pixels barely compress and the point of this file is a fast second load
    atomic_write_stream(lambda f: np.savez(f, **arrays), path)


def _load_decoded(path: Path) -> tuple[ImageSet, ImageSet | None] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            names = [str(c) for c in z["class_names"]]
            skipped = json.loads(str(z["skipped"]))
            # (a cache without the native sizes or the gray files' count, written by an older wildgan, is decoded
            # again: KeyError below)
            train = ImageSet(z["x_train"], z["y_train"].astype(np.int64), names, [str(i) for i in z["ids_train"]],
                             info={"native_sides": z["native_sides_train"].tolist() or None,
                                   "n_gray_files": json.loads(str(z["n_gray_files_train"]))})
            if "decode_stats" in z.files:     # (a cache by an older wildgan has none: its warnings are not repeated)
                train.info["decode_stats"] = json.loads(str(z["decode_stats"]))
            if "native_gray_train" in z.files:   # (nor this: unknown, so gray images are not assumed)
                train.info["native_gray"] = json.loads(str(z["native_gray_train"]))
            test = None
            if "x_test" in z.files:
                test = ImageSet(z["x_test"], z["y_test"].astype(np.int64), names, [str(i) for i in z["ids_test"]],
                                info={"native_sides": z["native_sides_test"].tolist() or None,
                                      "n_gray_files": json.loads(str(z["n_gray_files_test"]))})
    except Exception:  # a damaged cache is only a cache: decode again
        return None
    for s in (train, test):
        if s is not None:
            s.info["skipped"] = skipped
    return train, test


def _cache_file(tree: Path, o: _Opts) -> Path:
    """The decoded cache of an unpacked tree for one option set; its name starts with the decoding rules' version
    so that the files of earlier versions, which this wildgan never reads, can be told apart (_drop_stale_decoded)."""
    key = hashlib.sha1(o.decode_key().encode()).hexdigest()[:10]
    return tree.parent / f"{tree.name}.decoded-v{_DECODE_CACHE_VERSION}-{key}.npz"


def _drop_stale_decoded(tree: Path) -> None:
    """Remove the tree's decoded caches written under earlier decoding rules (an older wildgan, or one from before
    the names carried the version): each is a copy of the whole data set that nothing reads again. A newer
    wildgan's are kept: two versions may share one cache (two environments, a cluster's home folder)."""
    prefix = f"{tree.name}.decoded-"
    for f in tree.parent.glob(f"{glob.escape(prefix)}*.npz"):
        m = re.match(r"v(\d+)-", f.name[len(prefix):])
        if m is None or int(m.group(1)) < _DECODE_CACHE_VERSION:
            try:
                f.unlink()
            except OSError:      # (a read-only shared cache)
                pass


def _first_image(tree: Path) -> Path | None:
    for dirpath, filenames in _walk(tree):
        for f in filenames:
            if _is_image_file(Path(f)):
                return Path(dirpath) / f
    return None


def read_folder_tar(archive: str | Path, o: _Opts) -> tuple[ImageSet, ImageSet | None]:
    """A .tar.gz of an image-folder tree: unpack once into the cache, decode once into a cached .npz.

    Small same-size images (CIFAR-like) are cached at native size, so every resolution / channel choice reuses
    the one decode; other trees are cached per conversion option set.
    """
    tree = unpack_cached(archive, o.cache_dir)
    _drop_stale_decoded(tree)
    # (a probe stopped by a second size must not leave its counts in the caller's stats: its own, merged on success)
    native = replace(o, resolution=None, channels=None, fit="resize", resize="resize", probe_uniform=True,
                     stats=None if o.stats is None else {})
    for opts, path in ((native, _cache_file(tree, native)), (o, _cache_file(tree, o))):
        if path.is_file():
            got = _load_decoded(path)
            if got is not None:
                # the decode's warnings about the pixels (16-bit stretching ...) again: they are about the data
                if o.stats is None:
                    warn_decode_stats(got[0].info.get("decode_stats") or {}, str(tree), o.depth16)
                else:
                    _merge_stats(o.stats, got[0].info.get("decode_stats") or {})
                return _shrink_pair(got[0], got[1], o) if opts is native else got
    first = _first_image(tree)
    small = False
    if first is not None:
        try:
            with Image.open(first) as im:
                small = max(im.size) <= 256
        except Exception:  # the real decode reports it properly
            small = False
    if small:
        try:
            train, test = read_folder(tree, native)
        except _MixedSizes:
            pass
        else:
            if o.stats is not None and native.stats is not None:
                _merge_stats(o.stats, native.stats)
            _save_decoded(_cache_file(tree, native), train, test)
            return _shrink_pair(train, test, o)
    train, test = read_folder(tree, o)
    _save_decoded(_cache_file(tree, o), train, test)
    return train, test


def _shrink_pair(train: ImageSet, test: ImageSet | None, o: _Opts) -> tuple[ImageSet, ImageSet | None]:
    """_shrink_uniform of a data set's train and test arrays, with one crop warning for the two."""
    warn_crop({tuple(s.x.shape[1:3]) for s in (train, test) if s is not None}, o.fit, o.resolution, "images")
    for s in (train, test):
        if s is not None:
            s.x = _shrink_uniform(s.x, o, warn=False)
    return train, test


# ------------------------------------------------------------------------------------------------ CIFAR batches
def _numpy_reconstruct() -> Callable[..., Any]:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for CIFAR-10 batches: only the globals a numpy array needs; everything else is refused.

    A pickle can call any importable function (os.system, ...); CIFAR batches need none except numpy's array
    reconstruction, so nothing else is admitted.
    """

    # Protocols 0-2 written by Python 3 store bytes as _codecs.encode(str, 'latin1') (an empty one as bytes(), under
    # Python 2's name __builtin__ for protocol 2 and below), and protocol 5 stores arrays
    # as numpy's _frombuffer(buffer, dtype, shape, order): both were refused, so a batch re-pickled with them (e.g.
    # pickle.dump(d, f, protocol=2 or 5)) did not load. They are admitted as the narrow stand-ins below, never as
    # the real functions, so that nothing but those conversions can be called.
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                ("__builtin__", "bytes"), ("builtins", "bytes")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR-10 batch")
        if name == "_reconstruct":
            return _numpy_reconstruct()
        if name == "encode":
            return _StandIn(_latin1_encode)
        if name == "_frombuffer":
            return _StandIn(_frombuffer)
        if name == "bytes":
            return _StandIn(_empty_bytes)
        return getattr(np, name)


class _StandIn:
    """A stand-in as a pickle gets it: callable, but not alterable. The plain function would be, process-wide: the
    BUILD opcode sets attributes on any object without __setstate__ (a function's __defaults__, __kwdefaults__,
    __dict__), so one batch file could change how the stand-in behaves for every later load."""

    __slots__ = ("_f",)

    def __init__(self, f: Callable[..., Any]) -> None:
        self._f = f

    def __call__(self, *args: Any) -> Any:
        return self._f(*args)

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError("a CIFAR-10 batch may not alter the functions it calls")


def _empty_bytes(*args: Any) -> bytes:
    """bytes() as protocols 0-2 pickle an empty bytes object (a non-empty one is _codecs.encode); only that: with an
    argument, bytes(n) would allocate n zero bytes."""
    if args:
        raise pickle.UnpicklingError("bytes(...) with an argument is not allowed in a CIFAR-10 batch")
    return b""


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """_codecs.encode as protocols 0-2 use it (a bytes object pickled as its latin-1 text); only that: any other
    codec is refused, since codecs.encode looks encodings up by name."""
    if not isinstance(text, str) or encoding.replace("_", "-").lower() not in ("latin1", "latin-1") or \
            errors != "strict":
        raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is not allowed in a "
                                     f"CIFAR-10 batch")
    return text.encode("latin-1")


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """numpy's _frombuffer (how protocol 5 pickles an array), for plain data only: an object dtype (pointers) is
    refused, as numpy itself would refuse it."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise pickle.UnpicklingError("an object array is not allowed in a CIFAR-10 batch")
    if order not in ("C", "F"):
        raise pickle.UnpicklingError(f"array order {order!r} in a CIFAR-10 batch")
    # a copy: the pickle's buffer is read-only bytes (PickleBuffer), and the caller owns the array it gets
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


def restricted_unpickle(path: str | Path) -> Any:
    """Load a pickle file with the restricted unpickler (encoding='bytes', as CIFAR's Python 2 pickles need)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"{p}: cannot read file ({e.strerror or e})") from e
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{p}: refusing to unpickle: {e}") from e
    except Exception as e:
        raise DataError(f"{p}: not a valid CIFAR-10 batch pickle ({type(e).__name__}: {e})") from e


def _get(d: dict, key: str) -> Any:
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    return None


def _read_cifar_batch(p: Path) -> tuple[np.ndarray, np.ndarray]:
    d = restricted_unpickle(p)
    if not isinstance(d, dict):
        raise DataError(f"{p}: not a CIFAR-10 batch (expected a dict, got {type(d).__name__})")
    data, labels = _get(d, "data"), _get(d, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{p}: 'data' must be a uint8 array of shape (N, 3072), got "
                        f"{getattr(data, 'shape', type(data).__name__)} {getattr(data, 'dtype', '')}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{p}: 'labels' is not a list of integers") from e
    if y.ndim != 1 or len(y) != len(data):
        raise DataError(f"{p}: {len(y) if y.ndim == 1 else 'non-1-D'} labels for {len(data)} images")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{p}: labels outside 0..9")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored as planar RGB rows
    return np.ascontiguousarray(x), y


def read_cifar_batches(folder: str | Path) -> tuple[ImageSet, ImageSet]:
    """cifar-10-batches-py (data_batch_1..5, test_batch, batches.meta) -> (train, test)."""
    folder = Path(folder)
    missing = [f for f in CIFAR_BATCH_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: not a complete cifar-10-batches-py folder (missing {', '.join(missing)})")
    names = list(CIFAR10_CLASSES)
    if (folder / "batches.meta").is_file():
        meta = restricted_unpickle(folder / "batches.meta")
        ln = _get(meta, "label_names") if isinstance(meta, dict) else None
        if ln is not None:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in ln]
    xs, ys = zip(*(_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)))
    xt, yt = _read_cifar_batch(folder / "test_batch")
    x, y = np.concatenate(xs), np.concatenate(ys)
    train = ImageSet(x, y, names, [f"cifar10:train:{i}" for i in range(len(x))], info={"n_gray_files": 0})
    test = ImageSet(xt, yt, names, [f"cifar10:test:{i}" for i in range(len(xt))], info={"n_gray_files": 0})
    return train, test


# ------------------------------------------------------------------------------------------------ npz
def _npz_get(z: Any, path: Path, key: str) -> np.ndarray:
    try:
        return z[key]
    except ValueError as e:  # object arrays need pickle, which is never allowed
        raise DataError(f"{path}: array {key!r} is an object array; refusing to load it (it would need "
                        f"pickle, allow_pickle=False): {e}") from e
    except Exception as e:
        raise DataError(f"{path}: array {key!r} is unreadable or truncated ({type(e).__name__}: {e})") from e


def _labels(y: np.ndarray, n: int, path: Path, key: str, class_names: list[str] | None
            ) -> tuple[np.ndarray, list[str] | None]:
    if y.ndim != 1:
        raise DataError(f"{path}: labels {key!r} must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise DataError(f"{path}: labels {key!r} has {len(y)} entries but there are {n} images")
    if y.dtype.kind == "U":  # string labels: class names are their sorted unique values
        names = class_names or sorted(set(y.tolist()))
        index = {c: i for i, c in enumerate(names)}
        bad = sorted(set(y.tolist()) - set(index))
        if bad:
            raise DataError(f"{path}: labels {key!r} contain names not in class_names: {bad[:5]}")
        return np.asarray([index[v] for v in y.tolist()], np.int64), names
    if y.dtype.kind not in "iub":
        raise DataError(f"{path}: labels {key!r} must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if len(y) and y.min() < -1:
        raise DataError(f"{path}: labels {key!r} contain negative values (min {y.min()})")
    return y, class_names


def _open_npz(p: Path, expected: str) -> Any:
    """np.load of an .npz without pickles; a DataError naming the file for anything else."""
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None
    if magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{p}: is a single .npy array, expected an .npz archive with {expected}")
    if not magic.startswith(b"PK"):
        # np.load would call anything else a pickle and suggest allow_pickle: wrong advice, pickles are never read
        raise DataError(f"{p}: not an .npz file (an .npz is a zip archive of .npy arrays; this file is not one)")
    try:
        return np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise DataError(f"{p}: not a readable .npz file ({type(e).__name__}: {e})") from e


def npz_has_labels(path: str | Path) -> bool:
    """Whether an .npz holds labels for its images (y, or y_train); an image array alone is an unlabelled pile."""
    try:
        z = _open_npz(Path(path), "")
    except DataError:
        return True                          # not a readable .npz: read_npz names the problem
    with z:
        keys = set(z.files)
    return not (keys & {"x", "x_train"}) or bool(keys & {"y", "y_train"})


def read_npz_unlabelled(path: str | Path, o: _Opts | None = None) -> ImageSet:
    """Every image of an .npz (x, or x_train then x_test), labels ignored: an unlabelled pile stored as arrays."""
    o = o or _Opts()
    p = Path(path)
    z = _open_npz(p, "an image array x")
    with z:
        keys = [k for k in ("x", "x_train", "x_test") if k in z.files]
        if not keys:
            raise DataError(f"{p}: missing image array: expected key 'x' or 'x_train' (found {sorted(z.files)})")
        stats: dict[str, Any] = {} if o.stats is None else o.stats
        parts = [array_to_uint8(_npz_get(z, p, k), f"{p}:{k}", o.depth16, stats) for k in keys]
    if o.stats is None:
        warn_decode_stats(stats, str(p), o.depth16)
    if len({a.shape[1:] for a in parts}) > 1:
        raise DataError(f"{p}: image arrays {keys} differ in shape ({[a.shape[1:] for a in parts]})")
    x = np.concatenate(parts)
    sides, gray = native_sides([x.shape[1:3]]), x.shape[3] == 1      # the array's own, before any conversion
    x = _shrink_uniform(x, o)
    ids = [f"{p.stem}:{k}:{i}" for k, a in zip(keys, parts) for i in range(len(a))]
    return ImageSet(x, np.zeros(len(x), np.int64), ["unlabelled"], ids,
                    info={"native_sides": sides, "native_gray": gray, "n_gray_files": len(x) if gray else 0})


def read_npz(path: str | Path, o: _Opts | None = None) -> tuple[ImageSet, ImageSet | None]:
    """An .npz with x/y (one set) or x_train/y_train[/x_test/y_test]; optional class_names, image_id, is_anomaly."""
    o = o or _Opts()
    p = Path(path)
    z = _open_npz(p, "x/y or x_train/y_train")
    with z:
        keys = set(z.files)
        if "x" in keys and "x_train" in keys:
            raise DataError(f"{p}: holds both 'x' and 'x_train': which are the training images is not clear; keep "
                            f"one of them (x_test / y_test hold a test set beside either)")
        if "x" in keys:
            splits = {"all": ("x", "y", "image_id", "is_anomaly")}
            if "x_test" in keys:          # (was ignored without a word: the test split became a hold-out of x)
                splits["test"] = ("x_test", "y_test", "image_id_test", "is_anomaly_test")
        elif "x_train" in keys:
            splits = {"train": ("x_train", "y_train", "image_id_train", "is_anomaly_train")}
            if "x_test" in keys:
                splits["test"] = ("x_test", "y_test", "image_id_test", "is_anomaly_test")
        else:
            raise DataError(f"{p}: missing image array: expected key 'x' or 'x_train' (found {sorted(keys)})")
        class_names = None
        if "class_names" in keys:
            cn = _npz_get(z, p, "class_names")
            if cn.ndim != 1 or cn.dtype.kind not in "US":
                raise DataError(f"{p}: class_names must be a 1-D string array, got {cn.dtype} {cn.shape}")
            class_names = [c.decode() if isinstance(c, bytes) else str(c) for c in cn.tolist()]
        out = {}
        stats: dict[str, Any] = {} if o.stats is None else o.stats
        for split, (kx, ky, kg, ka) in splits.items():
            if ky not in keys:
                raise DataError(f"{p}: missing labels {ky!r} for images {kx!r} (found {sorted(keys)}); an .npz "
                                f"of images without labels is an unlabelled pile: --dataset unlabelled")
            x = array_to_uint8(_npz_get(z, p, kx), f"{p}:{kx}", o.depth16, stats)
            y, class_names = _labels(_npz_get(z, p, ky), len(x), p, ky, class_names)
            group = anomaly = None
            if kg in keys:
                group = _npz_get(z, p, kg)
                if group.ndim != 1 or len(group) != len(x) or group.dtype.kind not in "iuU":
                    raise DataError(f"{p}: {kg!r} must be 1-D int/str with one entry per image, "
                                    f"got {group.dtype} {group.shape}")
            if ka in keys:
                a = _npz_get(z, p, ka)
                if a.ndim != 1 or len(a) != len(x) or a.dtype.kind not in "iub" or not np.isin(a, (0, 1)).all():
                    raise DataError(f"{p}: {ka!r} must be 1-D 0/1 with one entry per image, got {a.dtype} {a.shape}")
                anomaly = a.astype(np.int8)
            out[split] = (x, y, group, anomaly)
    if o.stats is None:
        warn_decode_stats(stats, str(p), o.depth16)
    first = out.get("train", out.get("all"))
    if "test" in out and first is not None and out["test"][0].shape[1:] != first[0].shape[1:]:
        (h, w, c), (ht, wt, ct) = first[0].shape[1:], out["test"][0].shape[1:]
        warn_user(f"{p}: its test images 'x_test' ({wt}x{ht}, {ct} channel{'s' if ct != 1 else ''}) differ from its "
                  f"training images 'x_train' ({w}x{h}, {c} channel{'s' if c != 1 else ''}): both are converted to one "
                  f"resolution and channel count, so the test images are seen at another scale or in other colours "
                  f"than the training images; check that they are the same kind of images")
    n_classes = max(int(v[1].max()) if len(v[1]) else -1 for v in out.values()) + 1
    if class_names is None:
        class_names = [str(i) for i in range(n_classes)]
    elif n_classes > len(class_names):
        raise DataError(f"{p}: labels go up to {n_classes - 1} but class_names has only {len(class_names)} names")
    sets = {}
    # one crop warning for the data set (its train and test arrays), not one for each
    warn_crop({tuple(v[0].shape[1:3]) for v in out.values()}, o.fit, o.resolution, "images")
    for split, (x, y, group, anomaly) in out.items():
        sides, gray = native_sides([x.shape[1:3]]), x.shape[3] == 1  # the array's own, before any conversion
        x = _shrink_uniform(x, o, warn=False)
        sets[split] = ImageSet(x, y, list(class_names), [f"{p.stem}:{split}:{i}" for i in range(len(x))],
                               group, anomaly, info={"native_sides": sides, "native_gray": gray,
                                                     "n_gray_files": len(x) if gray else 0})
    return sets.get("all", sets.get("train")), sets.get("test")  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------ entry points
@contextmanager
def _named_in_archive(tree: Path, archive: Path) -> Iterator[None]:
    """A DataError or warning about a file of an unpacked archive names it as ARCHIVE:member (as `wildgan score`
    does), and one about the tree names the archive: not their place in the unpack cache, which the user never
    made. (Warnings are collected, renamed, then issued again with their own category.)"""
    def named(text: str) -> str:
        return text.replace(f"{tree}/", f"{archive}:").replace(str(tree), str(archive))

    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except DataError as e:
            error = DataError(named(str(e)))
    for msg, category in dict.fromkeys((named(str(w.message)), w.category) for w in caught):   # each once
        warn_user(msg, category)
    if error is not None:
        raise error from None


# the first bytes of each compression tarfile reads ('r:*'), and its mode for one of them
_TAR_COMPRESSIONS = ((b"\x1f\x8b", "gzip", "r:gz"), (b"BZh", "bz2", "r:bz2"), (b"\xfd7zXZ\x00", "xz", "r:xz"))


def _tar_problem(p: Path) -> str:
    """Why a file named like a tar archive cannot be opened as one, in one line: not an archive at all (by its
    first bytes), or a compressed / plain tar that is truncated or damaged (that compression's own error)."""
    try:
        with open(p, "rb") as f:
            head = f.read(512)
    except OSError as e:
        return f"{p}: cannot read file ({e.strerror or e})"
    if not head:
        return f"{p}: empty file (0 bytes), not a tar archive"
    for magic, name, mode in _TAR_COMPRESSIONS:
        if head.startswith(magic):
            try:
                with tarfile.open(p, mode):
                    pass
                why = "its members cannot be listed"
            except (tarfile.TarError, EOFError, OSError) as e:
                why = str(e).splitlines()[0] if str(e) else type(e).__name__
            return f"{p}: not a readable tar archive or truncated ({name}-compressed, but: {why})"
    if head[257:262] == b"ustar":
        return f"{p}: not a readable tar archive or truncated (a plain tar whose members cannot be read)"
    return (f"{p}: not a tar archive (neither a gzip, bz2 or xz compressed tar nor a plain one, whatever its name "
            f"says): is it the right file?")


def is_tar(p: Path) -> bool:
    """A tar archive by its name (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz)."""
    n = p.name.lower()
    return n.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz"))


def _dataset_file_kind(p: Path) -> str | None:
    """What kind of data-set file `p` is by its name ('an .npz archive', 'a tar archive', 'a CIFAR-10 python batch'),
    or None: a file that may be an image. By name only, so that nothing is read (a file of that name that is not
    what it says is for the data-set reader to refuse)."""
    if p.is_dir():
        return None
    if p.suffix.lower() == ".npz":
        return "an .npz archive"
    if is_tar(p):
        return "a tar archive"
    if p.name in CIFAR_BATCH_FILES or p.name == "batches.meta":
        return "a CIFAR-10 python batch"
    return None


def dataset_among_images_error(p: Path) -> DataError:
    """The error for a data-set file (npz, tar, CIFAR batch, or a CIFAR-10 batch folder) given where image files are
    expected: among several image paths (a data set is read whole, by itself) or as an image (report --image)."""
    kind = _dataset_file_kind(p) or "a CIFAR-10 batch folder"
    return DataError(f"{p}: a data-set file ({kind}), not an image: it cannot be mixed with image files or given as "
                     f"one (score a data set on its own: `wildgan score RUN --data {p}`)")


def is_dataset_file(p: str | Path) -> bool:
    """An existing .npz, tar archive or CIFAR-10 batch folder: a data set read whole by load_dataset, not an image
    file or a folder of images read file by file."""
    p = Path(p)
    if not p.exists():
        return False
    if p.is_file() and (p.suffix.lower() == ".npz" or is_tar(p)):
        return True                      # by its name: one that is not what it says is refused by the data-set reader
    try:
        return detect_format(p) in ("npz", "folder-tar", "cifar-batches")
    except DataError:                    # an image file or something unreadable: the per-file reader says what
        return False


def detect_format(p: Path) -> str:
    """The on-disk format of a --data path: folder | unlabelled-folder | folder-tar | cifar-batches | npz."""
    return _detect(Path(p))


def wildgan_output_error(p: Path) -> DataError | None:
    """The error for a folder that wildgan wrote (a run or a study) named where data is expected, else None.

    Such a folder holds images of its own (sample grids, report figures): read as data it would be a class tree whose
    first class folder, checkpoints/, has no images, or a pile of sample grids that scores without a word. The files
    checked are the ones every run writes before it trains (config.json beside split.json) or a study's results."""
    if not p.is_dir():
        return None
    if is_run_dir(p):
        what, source = "a wildgan run directory (written by `wildgan train`)", None
        try:
            source = json.loads((p / "split.json").read_text()).get("source")
        except (OSError, ValueError, AttributeError):
            pass                      # the hint below is only a convenience: a damaged split.json is not this error
        data = f"; it was trained on {source}" if isinstance(source, str) and source else ""
        return DataError(f"{p}: is {what}, not images or a data set{data}. Pass the images' folder or data-set "
                         f"file; the run itself is the first argument of `wildgan score`, `evaluate` and `report`")
    if is_study_dir(p):
        return DataError(f"{p}: is a wildgan study directory (written by `wildgan study`), not images or a data set. "
                         f"Pass the images' folder or data-set file; `wildgan report {p}` reports the study")
    return None


def is_run_dir(p: Path) -> bool:
    """A folder `wildgan train` wrote (config.json of a run, beside split.json or network-final.json)."""
    return ((p / "split.json").is_file() or (p / "network-final.json").is_file()) and _is_run_config(p / "config.json")


def is_study_dir(p: Path) -> bool:
    """A folder `wildgan study` wrote: its results, or (before the first cell is done) a cell's run under runs/."""
    p = Path(p)
    if not (p / "runs").is_dir():
        return False
    if (p / "results.jsonl").is_file():
        return True
    try:
        return (p / "log.txt").is_file() and any(is_run_dir(r) for r in (p / "runs").iterdir() if r.is_dir())
    except OSError:
        return False


def _is_run_config(path: Path) -> bool:
    """Whether `path` is a run's config.json (a JSON object with the net and train sections every run records): a
    data set may ship a config.json and a split.json of its own, and is data all the same."""
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:     # (a run's is a few KB)
            return False
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and isinstance(d.get("net"), dict) and isinstance(d.get("train"), dict)


def _detect(p: Path) -> str:
    if p.is_dir():
        err = wildgan_output_error(p)
        if err is not None:
            raise err
        # any batch file (or the folder's usual name) means CIFAR batches, so an incomplete copy gets a clear error
        if p.name == "cifar-10-batches-py" or any((p / f).is_file() for f in CIFAR_BATCH_FILES) \
                or (p / "cifar-10-batches-py").is_dir():
            return "cifar-batches"
        if _is_pile(p):
            return "unlabelled-folder"      # loose images, at most one folder (_is_pile): a pile to train on as it is
        return "folder"
    if p.suffix.lower() == ".npz":
        return "npz"
    if is_tar(p):
        try:
            names = tar_member_names(p)
        except DataError:
            # tarfile's own message lists every compression it tried, one line each: one line instead, for the
            # compression the file has (if any)
            raise DataError(_tar_problem(p)) from None
        return "cifar-batches" if any(n.rstrip("/").endswith("data_batch_1") for n in names) else "folder-tar"
    if p.suffix.lower() in IMAGE_EXTS:
        raise DataError(f"{p}: a single image is not a data set; pass a folder of images (loose: an unlabelled "
                        "pile; <root>/<class>/<images>: labelled), a .tar.gz of one, an .npz or CIFAR-10's batches "
                        "(single images are for `wildgan score --data`)")
    if p.suffix.lower() == ".zip":
        raise DataError(f"{p}: zip archives are not read: unzip it, or make a .tar.gz of the folder "
                        "(tar czf images.tar.gz folder/)")
    if p.suffix.lower() == ".npy":
        raise DataError(f"{p}: {_NPY_HINT}")
    if p.suffix.lower() in _OTHER_IMAGE_EXTS:
        raise DataError(f"{p}: the {p.suffix.lower()} format is not read, and a single image is not a data set; "
                        "export the images to TIFF or PNG (e.g. with Fiji / Bio-Formats) into a folder and pass that")
    raise DataError(f"{p}: unsupported data file; expected an image-folder tree, cifar-10-batches-py, "
                    "an .npz or a .tar.gz of an image-folder tree")


def load_dataset(path: str | Path | None, dataset: str = "auto", **opts: Any
                 ) -> tuple[ImageSet, ImageSet | None, str]:
    """Load a data set -> (train, test or None, format: folder | folder-tar | cifar-batches | npz | unlabelled-folder |
    unlabelled-tar | unlabelled-npz; the unlabelled ones have no test part).

    path None means $WILDGAN_DATA, else the embedded sample. opts: resolution, channels, depth16, resize, skip_bad,
    fit, download (fetch CIFAR-10 when dataset='cifar10' and the path does not exist), cache_dir, progress.
    """
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    o = _parse_opts(opts)
    if path in (None, "") and not os.environ.get("WILDGAN_DATA") and dataset == "cifar10":
        if not o.download:
            raise DataError("dataset 'cifar10' needs --data PATH (a cifar-10-batches-py folder, an image tree, "
                            "an .npz or a .tar.gz), or --download (DataConfig(download=True)) to fetch it")
        path = Path(o.cache_dir) if o.cache_dir else cache_root() / "cifar10"
    p = resolve_data_root(path, dataset)
    if not p.exists() or (dataset == "cifar10" and o.download and p.is_dir() and not any(p.iterdir())):
        if dataset == "cifar10" and o.download:
            p = download_cifar10(p)
        elif path in (None, "") and os.environ.get("WILDGAN_DATA"):
            raise DataError(f"{p}: no such file or folder (from $WILDGAN_DATA; pass --data PATH or fix the variable)")
        elif os.environ.get("WILDGAN_DATA") and not Path(str(path)).expanduser().is_absolute():
            raise missing_path_error(str(path))
        else:
            # download=True reads only the cifar10 protocol: without it a missing folder would fail with no word of why
            hint = ("; --download (download=True) fetches CIFAR-10 only with --dataset cifar10 (dataset='cifar10')"
                    if o.download else "")
            raise DataError(f"{p}: {_broken_link(p) or 'no such file or folder'}{hint}")
    kind = _detect(p)
    if dataset == "unlabelled" and kind in ("folder", "unlabelled-folder"):
        kind = "unlabelled-folder"          # a tree too: its sub-folders are not classes
    elif kind == "npz" and (dataset == "unlabelled" or (dataset == "auto" and not npz_has_labels(p))):
        kind = "unlabelled-npz"             # image arrays without labels (or labels not wanted): a pile
    elif dataset == "folder" and kind == "unlabelled-folder":
        kind = "folder"                     # asked for classes: _class_files explains what is missing
    want = {"folder": ("folder", "folder-tar"), "npz": ("npz",), "cifar-batches": ("cifar-batches",),
            "unlabelled": ("unlabelled-folder", "folder-tar", "unlabelled-npz")}.get(dataset)
    if want and kind not in want:
        raise DataError(f"{p}: dataset={dataset!r} but this looks like a {kind} data set")
    test: ImageSet | None
    if dataset == "auto" and kind == "folder-tar" and _is_pile(unpack_cached(p, o.cache_dir)):
        dataset = "unlabelled"              # a tar of a pile (e.g. `tar czf pile.tar.gz pile/`)
    if dataset == "unlabelled" and kind == "folder-tar":
        tree = unpack_cached(p, o.cache_dir)
        with _named_in_archive(tree, p):
            train = read_unlabelled(tree, o)    # every image in the archive
        train.info.update(source=str(p.resolve()), format="unlabelled-tar")
        return train, None, "unlabelled-tar"
    if kind == "unlabelled-npz":
        train = read_npz_unlabelled(p, o)
        train.info.update(source=str(p.resolve()), format=kind)
        return train, None, kind
    if kind == "unlabelled-folder":
        train, test = read_unlabelled(p, o), None
        train.info.update(source=str(p.resolve()), format=kind)
        return train, None, kind
    if kind == "folder":
        train, test = read_folder(p, o)
    elif kind == "folder-tar":
        with _named_in_archive(unpack_cached(p, o.cache_dir), p):
            train, test = read_folder_tar(p, o)
    elif kind == "npz":
        train, test = read_npz(p, o)
    else:
        folder = p
        if p.is_file():
            tree = unpack_cached(p, o.cache_dir)
            found = [d for d in tree.rglob("cifar-10-batches-py") if d.is_dir()]
            folder = found[0] if found else tree
        elif (p / "cifar-10-batches-py").is_dir():
            folder = p / "cifar-10-batches-py"
        train, test = read_cifar_batches(folder)
        for s in (train, test):
            s.info["native_sides"] = native_sides([s.x.shape[1:3]])
        _shrink_pair(train, test, o)
    skipped = train.info.get("skipped", [])
    for s in (train, test):
        if s is not None:
            s.info.update(source=str(p.resolve()), format=kind, skipped=skipped)
    return train, test, kind


def list_image_files(paths: Sequence[str | Path]) -> list[Path]:
    """Image files and/or folders -> the image files, folders recursed (sorted, hidden entries skipped, symlinked
    folders and files followed, ids keep the path through the link); a file named twice (or given beside a folder
    that holds it) is kept once, at its first mention. Files of image formats that are not read (.heic, .avif ...)
    are named in one warning per folder."""
    files: list[Path] = []
    for q in paths:
        q = Path(q)
        if q.is_dir():
            err = wildgan_output_error(q)
            if err is not None:
                raise err
            found, other = _scan_images(q)
            if not found:
                if _detect(q) == "cifar-batches":
                    raise dataset_among_images_error(q)
                raise _no_images_error(f"{q}: folder contains", other)
            _warn_other(q, other)
            files.extend(found)
        elif q.exists():
            if _dataset_file_kind(q):
                # said now, by its kind: read as an image it would only be 'not a readable image'
                raise dataset_among_images_error(q)
            files.append(q)
        else:
            raise DataError(f"{q}: {_broken_link(q) or 'no such file or folder'}")
    if not files:
        raise DataError("no images given")
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def load_images(paths: Sequence[str | Path], resolution: int, channels: int, **opts: Any
                ) -> tuple[np.ndarray, list[str]]:
    """Image files and/or folders (recursed, sorted) -> (uint8 [N, R, R, C], ids = file paths).

    Converted exactly like training data: pass the split's info['conversion'] entries (fit, depth16) as opts.
    With skip_bad=True unreadable files are left out (with a warning) and are absent from the ids.
    """
    files = list_image_files(paths)
    (x, kept, skipped), = iter_images(files, resolution, channels, **opts)
    for _, reason in skipped:
        warn_user(f"skipped {reason}")
    return x, [str(files[i]) for i in kept]


def iter_images(files: Sequence[Path], resolution: int, channels: int, *,
                chunks: Sequence[Sequence[int]] | None = None, empty_ok: bool = False,
                kinds: dict[int, int] | None = None, **opts: Any
                ) -> Iterator[tuple[np.ndarray, list[int], list[tuple[int, str]]]]:
    """Decode and convert image files chunk by chunk, so that memory holds one chunk, not a whole pile.

    `chunks`: lists of indices into `files` (default: one chunk of all). Yields, per chunk, (uint8 [n, R, R, C],
    the indices of its n readable files, in the chunk's order, and (index, why) for each unreadable one). Each image
    is converted on its own: its pixels do not depend on the other files of its chunk.
    Unreadable files: with skip_bad they are left out and reported; without, the first chunk that has one ends the
    iteration, after the files of the later chunks are checked (decoded only) so that one DataError names all of
    them (up to 100). No readable file at all is a DataError (unless empty_ok: a caller that reads a share of the
    files, and decides once it has heard from the others).
    Images of the other kind than the run's training images (opts gray_data / colour_data: channel_warning) are
    counted over every chunk, each file once, and said in one warning before the last chunk is handed over; or,
    given `kinds` (a caller that reads only some of the chunks, or takes others from elsewhere, and warns itself),
    each readable file's decoded channel count (1 gray, 3 colour) is put there by file index instead.
    """
    o = _parse_opts(dict(opts, resolution=check_resolution(resolution), channels=channels))
    if not files:
        raise DataError("no images given")

    # decoded gray / colour files, by index (a file read by two chunks, the topped-up last score batch, counts
    # once): a mismatch with the run is worth a word
    native: dict[int, int] = {} if kinds is None else kinds
    decoded: list[int] = []                   # the files' own channel counts of the chunk's kept files, in order

    def one(a: np.ndarray) -> np.ndarray:     # each image on its own, as soon as it is decoded: memory holds
        return convert(a[None], resolution, channels, o.fit)[0]    # the chunk's converted pixels, twice at most

    chunks = [range(len(files))] if chunks is None else chunks
    several = len(chunks) > 1
    lenient = replace(o, skip_bad=True)
    sizes: dict[tuple[int, int], Path] = {}
    stats: dict[str, Any] = {}
    # one pool of decoding processes for every chunk of this call (none for a small job of small files): starting
    # one costs about a second, and a pile of photos is hundreds of chunks; it ends with the last chunk
    pool = job_decode_pool([files[i] for i in dict.fromkeys(i for c in chunks for i in c)])
    try:
        warned = scale_warned = False
        n_kept = 0
        all_skipped: list[str] = []
        for ci, chunk in enumerate(chunks):
            part = [files[i] for i in chunk]
            skipped: list[dict[str, str]] = []
            decoded.clear()
            # one chunk: the plain rules (every bad file named at once); several: decode leniently and decide here
            arrays, kept = _decode_files(part, lenient if several else o, skipped, sizes=sizes, convert_one=one,
                                         max_skipped=None if o.skip_bad else MAX_NAMED_BAD_FILES, chunked=True,
                                         stats=stats, pool=pool, kinds=decoded)
            if o.resize == "error" and len(sizes) > 1:
                (h0, w0), f0 = next(iter(sizes.items()))
                (h, w), f = list(sizes.items())[1]
                raise DataError(f"{f}: image size {w}x{h} differs from {f0} ({w0}x{h0}); mixed sizes are not allowed "
                                "with --resize error (resize='error'); use --resize resize")
            reasons = [s["reason"] for s in skipped]
            if reasons and not o.skip_bad:
                # the later chunks' files by their headers only (a full decode of a large pile, at native size in one
                # process, took minutes before the error): what does not even open is named with read_image's reason;
                # a file truncated further in is found by the next run
                seen = {i for c in chunks[:ci + 1] for i in c}
                for i in dict.fromkeys(i for c in chunks[ci + 1:] for i in c if i not in seen):
                    if len(reasons) >= MAX_NAMED_BAD_FILES:
                        break
                    if _header_opens(files[i]):
                        continue
                    try:
                        read_image(files[i], o.depth16)
                    except DataError as e:
                        reasons.append(str(e))
                raise unreadable_files_error(sorted(reasons[:MAX_NAMED_BAD_FILES]))
            msg = None if warned else crop_warning(set(sizes), o.fit, o.resolution, "images",
                                                   hint="a run trained with --square pad")
            if msg:
                warn_user(msg)
                warned = True
            scale = None if scale_warned or not o.native_sides else scale_warning(sizes, o.native_sides, resolution)
            if scale:
                warn_user(scale)
                scale_warned = True
            native.update((chunk[i], c) for i, c in zip(kept, decoded))
            all_skipped += reasons
            n_kept += len(kept)
            x = np.stack(arrays) if arrays else np.zeros((0, resolution, resolution, channels), np.uint8)
            del arrays
            kept_set = set(kept)
            if ci == len(chunks) - 1:
                if pool is not None:
                    pool.close()      # done with: its processes end now, not when a caller drops this generator
                # images to score: only what is lost in every read (16-bit colour, later pages), once for all the chunks
                # (said before the last chunk is handed over: a caller need not resume the generator after it)
                warn_decode_stats(stats, "images", o.depth16, dataset=False)
                msg = None if kinds is not None else channel_warning(
                    *channel_counts(native), "gray" if o.gray_data else "colour" if o.colour_data else None)
                if msg:
                    # e.g. colour photos scored with a run that went gray because its cell crops were all gray:
                    # converted, but likely the wrong run (a run told to train gray on colour images, --channels 1,
                    # says nothing)
                    warn_user(msg)
            yield x, [chunk[i] for i in kept], [(chunk[i], r) for i, r in zip(
                (i for i in range(len(part)) if i not in kept_set), reasons)]
            del x                                   # not held while the next chunk is decoded
        if n_kept == 0 and not empty_ok:
            raise none_readable_error(len(files), all_skipped)
    finally:
        if pool is not None:
            pool.close()


def channel_counts(kinds: dict[int, int]) -> tuple[int, int]:
    """(gray files, colour files) of iter_images' `kinds` (file index -> decoded channel count)."""
    n_gray = sum(1 for c in kinds.values() if c == 1)
    return n_gray, len(kinds) - n_gray


def channel_warning(n_gray: int, n_colour: int, trained_on: str | None) -> str | None:
    """The word for images of the other kind than a model's training images ('gray' | 'colour', when they were all
    of one kind; None: mixed, or the channels were chosen, and nothing is said): converted, but likely the wrong
    run for them, or scores that reflect the conversion."""
    if trained_on == "gray" and n_colour:
        return (f"{n_colour} colour image{'s are' if n_colour != 1 else ' is'} converted to gray: the network was "
                f"trained on gray images (is it the run meant for these images?)")
    if trained_on == "colour" and n_gray:
        return (f"{n_gray} gray image{'s are' if n_gray != 1 else ' is'} scored by a network trained on colour "
                f"images (each repeated into 3 channels): their missing colour alone can make them score as "
                f"anomalous (is it the run meant for these images?)")
    return None


def none_readable_error(n_files: int, reasons: Sequence[str]) -> DataError:
    """Every one of n_files image files was unreadable (skip_bad): one error with the first reasons."""
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    if n_files == 1:
        return DataError(f"the one image file given is not readable: {shown}")
    return DataError(f"none of the {n_files} image files is readable: {shown}")

