"""Pixel conversions: decoded PIL images -> uint8 HWC arrays, channel and size changes, rotations.

Rules (documented once here, recorded in AnomalySplit.info['conversion']):
  * Colour: every image becomes 1 channel (gray) or 3 (RGB). RGB -> gray uses PIL's 'L' rule
    L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601-2 luma, what Image.convert('L') does);
    gray -> RGB repeats the channel.
  * Alpha (RGBA, LA, PA, RGBa, La): composited on black, i.e. colour * alpha / 255. Transparent pixels become
    black instead of keeping whatever colour the encoder left there.
  * Palette ('P') images are expanded through their palette (to RGB, or gray when the palette is gray);
    CMYK / YCbCr / '1' images use PIL's own conversion.
  * 16-bit (and 32-bit integer) images: DataConfig.depth16 = 'per-image' (the default) stretches each image's
    min..max to 0..255 (good for microscopy that only uses part of the range, but brightness differences between
    images are removed: an 8x darker exposure reads the same; a data set read so gets a warning with the largest raw
    value seen), 'global' divides by 257 (65535 -> 255, keeps absolute intensities comparable across images), 'shift'
    keeps the high byte (>> 8, what most viewers do), 'bits:N' (N = 9..16, the camera's bit depth: bits:12 for
    12-bit data stored in 16-bit files) maps 0..2^N-1 to 0..255 (value * 255 / (2^N - 1), rounded; values above
    2^N - 1 are clipped to 255 without an error), so intensities stay comparable and 12-bit data keeps 256 levels
    where global / shift leave it 16. The rule is recorded with a run and applied alike to training and scoring,
    save that a run trained on 8-bit images only reads 16-bit images to score by 'global' where its rule was the
    per-image default (imageset.scoring_depth16: a 16-bit copy of an 8-bit image then reads as that image), and a
    run trained on 16-bit images only, under that default, reads 8-bit images to score on the 16-bit scale
    (value * 257) and stretches them too (PER_IMAGE_8BIT: an 8-bit copy of a 16-bit image then reads as that image).
  * 16-bit colour files (48-bit RGB, 64-bit RGBA, 16-bit gray+alpha PNG / TIFF): PIL itself reduces them to 8 bits
    per channel (the high byte) when decoding, so depth16 does not apply to them (a data set with such files gets a
    warning). Mixed 8-bit and 16-bit files: the 16-bit ones follow depth16, the 8-bit ones are kept as they are
    (warned about too).
  * Multi-page TIFF, animated GIF / PNG / WebP: the first page (frame) only, with a warning.
  * Size: images that are not square are centre-cropped to a square first, then resized with PIL bilinear
    (antialiased when shrinking). fit='pad' (used for MNIST: 28 -> 32) instead zero-pads centrally when the image is
    smaller than the target; padding keeps the digits' pixels exact where resizing would blur them.
    fit='letterbox' (DataConfig.square='letterbox', `--square letterbox`, whose old name was 'pad') pads a
    non-square image with black to a square instead of cropping it, then resizes: nothing near the long edges is lost
    (a defect there stays visible), at the price of black bars the networks also learn.
  * Float arrays are accepted when their values lie in [0, 1] (scaled by 255) or in [0, 255] (kept); a float array
    whose maximum is <= 1 is taken to be in [0, 1]. Values are rounded to the nearest integer. 32-bit float gray
    files (TIFF mode 'F') follow the same rule, file by file (a data set whose files were read both ways gets a
    warning); other float ranges are an error that names the file (the tool cannot know the scale that keeps
    brightness comparable between images).
  * Integer arrays: uint8 as is; uint16 always through depth16, image by image, like a 16-bit file (also when its
    values are all <= 255), so a uint16 image reads the same alone or beside others; other integer types (int64
    from numpy arithmetic, int32 ...) as 8-bit when the whole array lies in 0..255, else every image through depth16
    (values must lie in 0..65535): an array holds one kind of data, and a dark frame of 12-bit data must not be
    read as 8-bit beside its bright neighbours.
  * Array channels (last axis, or axis 1 for NCHW): 1 = gray, 3 = RGB, 4 = RGBA (composited on black, like an RGBA
    file). 2 channels are refused: two fluorescence stains are not gray + alpha; pick one channel or merge them.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..config import bad_setting
from ..errors import ConfigError, DataError, depth16_option

if TYPE_CHECKING:  # torch is only needed by to_float
    import torch

# per-image | global | shift | bits:N (N = 9..16: N-bit camera data in 16-bit files), see the module docstring
DEPTH16_RULES = ("per-image", "global", "shift") + tuple(f"bits:{n}" for n in range(9, 17))


# Scoring only (imageset.scoring_depth16), never a rule a user gives (check_depth16 refuses it) nor one recorded: the
# per-image rule of a run trained on 16-bit images only, applied to 8-bit images as well, each read on the 16-bit
# scale (value * 257, what Pillow and most tools write for 16 bits) and so stretched to its own min..max as its
# 16-bit twin is. Why: the run's training images were all stretched so; an 8-bit image kept as it is (a cell of
# levels 85..148) is another image to it than the same picture saved at 16 bits, and scored as one.
PER_IMAGE_8BIT = "per-image+8bit"


def base_depth16(rule: str) -> str:
    """The depth16 rule 16-bit images follow under `rule`: PER_IMAGE_8BIT's is per-image, any other is itself."""
    return "per-image" if rule == PER_IMAGE_8BIT else rule


def stretch_8bit(a: np.ndarray, rule: str, name: str) -> np.ndarray:
    """8-bit pixels (one image [H, W, C], or a batch [N, H, W, C]) as `rule` reads them: as they are, or under
    PER_IMAGE_8BIT on the 16-bit scale (value * 257) through the per-image stretch, each image to its own min..max
    over all its channels, exactly as _reduce_depth stretches its 16-bit twin. (Counted as 8-bit by the caller, 'n8':
    imageset.depth_warning names them.)"""
    if rule != PER_IMAGE_8BIT:
        return a
    if a.ndim == 4:
        return np.stack([stretch_8bit(im, rule, f"{name}[{i}]") for i, im in enumerate(a)]) if len(a) else a
    # (through _reduce_depth itself, not a formula of its own: the twin's pixels to the last rounding; stats not
    # passed, the image is no 16-bit one)
    return _reduce_depth(a.astype(np.int64) * 257, "per-image", name)


def check_depth16(rule: Any) -> str:
    """A valid DataConfig.depth16 rule, else a ConfigError."""
    if rule not in DEPTH16_RULES:
        raise ConfigError(f"depth16 must be per-image, global, shift or bits:N with N = 9..16 (the camera's bit depth, "
                          f"e.g. bits:12), got {rule!r}")
    return str(rule)


def depth16_bits(max_value: int) -> int:
    """The smallest N of a bits:N rule (9..16) that covers raw values up to max_value."""
    return min(16, max(9, int(max_value).bit_length()))


# how many files of each bit depth the decode statistics name (stats['n16_names'], ['n8_names']): a warning about
# images scored at another bit depth than a run's training images names them (imageset.depth_warning); also the
# 16-bit images read nearly black (['dark16_names'], imageset.warn_decode_stats)
NAMED_FILES = 5


def _count(stats: dict[str, Any] | None, key: str, n: int = 1, name: str | None = None) -> None:
    """Decode statistics (see imageset.warn_decode_stats): stats[key] += n, stats[key + '_file'] = the first name;
    for the bit depths ('n16', 'n8') also stats[key + '_names'], the first NAMED_FILES names."""
    if stats is not None:
        stats[key] = stats.get(key, 0) + n
        if name is not None:
            stats.setdefault(key + "_file", name)
            if key in ("n16", "n8", "dark16"):
                names = stats.setdefault(key + "_names", [])
                if len(names) < NAMED_FILES:
                    names.append(name)
# The largest resolution chosen automatically (the presets' minibatch tables end at 256); bigger photos are reduced
# to it while decoding, which also bounds memory. --resolution / resolution= choose another.
MAX_AUTO_RESOLUTION = 256


def check_resolution(resolution: int) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, numbers.Real) or \
            not float(resolution).is_integer():
        # int() would take "16" or cut 16.5 to 16 without a word, and a string would be saved in the run's config
        # (32.0, e.g. from a hand-written YAML file, is the whole number it reads as)
        raise bad_setting("--resolution", "resolution", "must be a whole number, a power of two >= 4", resolution)
    r = int(resolution)
    if r < 4 or r & (r - 1):
        raise bad_setting("--resolution", "resolution", "must be a power of two >= 4", resolution)
    return r


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (and >= 4, the smallest pGAN resolution)."""
    p = 4
    while p < n:
        p *= 2
    return p


# --------------------------------------------------------------------------------------------- PIL -> array
def _reduce_depth(a: np.ndarray, rule: str, name: str, stats: dict[str, Any] | None = None) -> np.ndarray:
    """16/32-bit integer pixels of one image -> uint8 using DataConfig.depth16 (see module docstring). stats: counts
    the image ('n16', 'stretched' under per-image) and keeps the largest raw value ('max16')."""
    rule = check_depth16(base_depth16(rule))
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise DataError(f"{name}: integer pixel values outside 0..65535 (min {a.min()}, max {a.max()}); "
                        "not a 16-bit image wildgan can convert")
    if stats is not None:
        _count(stats, "n16", name=name)
        stats["max16"] = max(int(stats.get("max16", 0)), int(a.max()) if a.size else 0)
        if rule == "per-image":
            _count(stats, "stretched")
        if rule in ("global", "shift") and a.size and a.max() <= 255:
            # read as at most 1 (global) or 0 (shift) of 255: nearly black. What 8-bit pictures stored at 16 or 32
            # bits become (a PIL .convert('I') saved as a 32-bit TIFF), which no file's header tells apart from a
            # dark 16-bit frame, so they are read by the rule all the same, and said (imageset.warn_decode_stats)
            _count(stats, "dark16", name=name)
    if rule.startswith("bits:"):
        top = (1 << int(rule[5:])) - 1
        return np.rint(np.minimum(a, top) * (255.0 / top)).astype(np.uint8)
    if rule == "per-image":
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if hi == lo:
            return np.zeros(a.shape, np.uint8)
        return np.rint((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    if rule == "global":
        return np.rint(a / 257.0).astype(np.uint8)
    return (a >> 8).astype(np.uint8)


def _check_int32_as_16bit(a: np.ndarray, name: str) -> None:
    """Refuse a Pillow mode-I image (32-bit signed integers) whose values leave 0..65535, naming the file. Such an
    image is read as 16-bit (by depth16), which is what it holds in practice: a 16-bit gray PNG, which older Pillows
    open as mode I (newer ones as I;16: Pillow's PR 7849; wildgan takes pillow>=9.5), or 16-bit data a program saved
    as a 32-bit TIFF (Pillow opens int32 and uint32 TIFFs as mode I). A value outside that range is no 16-bit pixel
    (a negative one, a count above 65535 of a 32-bit camera or a sum image), and no rule here says how such values
    map to 8 bits: wildgan would have to guess one, and a guess per file would make each image's brightness depend
    on its own maximum. (_reduce_depth refused them too, but as "not a 16-bit image", which named neither the
    image's kind nor a way on.)"""
    if not a.size:
        return
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > 65535:
        raise DataError(f"{name}: a 32-bit integer image (Pillow mode I) with values {lo}..{hi}, outside 0..65535: "
                        f"wildgan reads such an image as 16-bit (0..65535, made 8-bit by "
                        f"{depth16_option()}), and has no rule for other values; rescale the "
                        f"images to 0..65535 (the same scale for every image, to keep their brightness comparable) "
                        f"and save them as 16-bit integers, or as 32-bit floats in [0, 1]")


def _composite_on_black(a: np.ndarray) -> np.ndarray:
    """[..., C+1] uint8 with alpha last -> [..., C] uint8, colour * alpha / 255 rounded."""
    col = a[..., :-1].astype(np.uint32)
    alpha = a[..., -1:].astype(np.uint32)
    return ((col * alpha + 127) // 255).astype(np.uint8)


def pil_to_array(img: Image.Image, name: str, depth16: str = "per-image", stats: dict[str, Any] | None = None
                 ) -> np.ndarray:
    """A decoded PIL image -> uint8 [H, W, C], C = 1 for gray sources, 3 for colour sources. stats: decode
    statistics to add this image to (16-bit: see _reduce_depth; others count as 'n8'). Under PER_IMAGE_8BIT (a run
    trained on 16-bit images scoring) the others are stretched as their 16-bit twins would be (stretch_8bit)."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img)
        if mode == "I":
            _check_int32_as_16bit(a, name)
        return _reduce_depth(a, depth16, name, stats)[..., None]
    if mode == "F":
        return stretch_8bit(float_image_to_uint8(np.asarray(img, dtype=np.float64), name, stats)[..., None],
                            depth16, name)
    _count(stats, "n8", name=name)
    return stretch_8bit(_pil_8bit(img, name), depth16, name)


def _pil_8bit(img: Image.Image, name: str) -> np.ndarray:
    """pil_to_array of an image of 8 bits a channel (any mode but 16/32-bit integer and float gray)."""
    mode = img.mode
    if mode == "L":
        return np.asarray(img, dtype=np.uint8)[..., None]
    if mode == "1":
        return np.asarray(img.convert("L"), dtype=np.uint8)[..., None]
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode in ("LA", "La"):
        return _composite_on_black(np.asarray(img.convert("LA"), dtype=np.uint8))
    if mode in ("RGBA", "RGBa", "RGBX"):
        a = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        return a[..., :3].copy() if mode == "RGBX" else _composite_on_black(a)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        a = np.asarray(img.convert("RGBA" if has_alpha else "RGB"), dtype=np.uint8)
        if has_alpha:
            a = _composite_on_black(a)
        if (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
            return a[..., :1].copy()  # gray palette: keep it gray so a gray data set stays 1-channel
        return a
    if mode in ("CMYK", "YCbCr"):
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    raise DataError(f"{name}: unsupported image mode {mode!r} (supported: 1, L, LA, P, RGB, RGBA, CMYK, YCbCr, "
                    "16-bit gray, 32-bit float gray)")


def float_image_to_uint8(a: np.ndarray, name: str, stats: dict[str, Any] | None = None) -> np.ndarray:
    """One float image (a 32-bit float TIFF) -> uint8, by the float-array rule: values in [0, 1] are scaled by 255,
    values in [0, 255] (maximum above 1) kept, rounded; anything else is a DataError that names the file. Decided per
    file (a file is read on its own): stats counts the files read each way ('float1', 'float255') so that a data set
    read both ways gets a warning (a dark [0, 255] image whose maximum is <= 1 would be read as [0, 1])."""
    if not np.isfinite(a).all():
        raise DataError(f"{name}: float image contains NaN or inf values")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0 or hi > 255:
        raise DataError(f"{name}: float image values must lie in [0, 1] or [0, 255], found [{lo:g}, {hi:g}]; "
                        "rescale the images to one of those ranges (the same scale for every image, to keep their "
                        f"brightness comparable), or save them as 16-bit integers (then "
                        f"{depth16_option()} chooses the rule)")
    one = hi <= 1.0
    _count(stats, "n8", name=name)
    _count(stats, "float1" if one else "float255", name=name)
    return np.clip(np.rint(a * (255.0 if one else 1.0)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------- channels
# how far apart (levels of 255) an image's R, G and B may lie at a pixel for it still to count as gray: a gray image
# saved in a lossy colour format (WebP, JPEG with chroma) decodes with its channels a level or two apart at a few per
# cent of its pixels, which is no colour a conversion to gray loses
GRAY_TOLERANCE = 2
_GRAY_ROWS = 64          # own_channels' block of rows: a colour image is told from its first block


def gray_pixels(a: np.ndarray) -> np.ndarray:
    """Per pixel of uint8 [..., 3]: R, G and B within GRAY_TOLERANCE of each other (their spread, max - min, which
    uint8 holds without wrapping)."""
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b) <= GRAY_TOLERANCE


def own_channels(a: np.ndarray) -> int:
    """The channels image uint8 [H, W, C] really holds: 1 for a gray one, also gray stored as RGB (R, G and B within
    GRAY_TOLERANCE of each other at every pixel: PIL's 'L' rule turns it into the same gray, or one a level off, so
    nothing is lost), else C. What the warnings about images of the other kind than a run's
    (readers.channel_warning) count, by the rule splits.all_colour decides a run's 'all colour' record with (one
    rule: the two cannot disagree): an RGB file of a gray scan made gray is not 'a colour image converted to gray'.
    In blocks of rows, stopping at the first one with colour: a colour photo costs a block, not a pass over it."""
    c = int(a.shape[-1])
    if c != 3:
        return c
    for i in range(0, a.shape[0], _GRAY_ROWS):
        if not bool(gray_pixels(a[i:i + _GRAY_ROWS]).all()):
            return c
    return 1


def count_gray_held(x: np.ndarray, block: int | None = None) -> int:
    """How many images of uint8 [N, H, W, C] hold gray (own_channels 1: a gray array, or RGB gray at every pixel by
    gray_pixels). In blocks of `block` images (default: about 16 MB of pixels): no full-size temporary."""
    return int(gray_held_mask(x, block).sum())


def gray_held_mask(x: np.ndarray, block: int | None = None) -> np.ndarray:
    """Per image of uint8 [N, H, W, C]: whether it holds gray, as count_gray_held counts (bool [N])."""
    if x.ndim != 4 or not len(x):
        return np.zeros(len(x) if x.ndim else 0, bool)
    if x.shape[-1] != 3:
        return np.full(len(x), x.shape[-1] == 1)
    block = block or max(1, 2**24 // (x.shape[1] * x.shape[2]))
    return np.concatenate([gray_pixels(x[i:i + block]).reshape(len(x[i:i + block]), -1).all(axis=1)
                           for i in range(0, len(x), block)])


def rgb_to_gray(x: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] -> uint8 [..., 1] with exactly PIL's convert('L') fixed-point rule."""
    x = x.astype(np.uint32)
    g = (x[..., 0] * 19595 + x[..., 1] * 38470 + x[..., 2] * 7471 + 0x8000) >> 16
    return g.astype(np.uint8)[..., None]


def to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """uint8 [..., C] with C in {1, 3} -> [..., channels]."""
    c = x.shape[-1]
    if c == channels:
        return x
    if channels == 1 and c == 3:
        return rgb_to_gray(x)
    if channels == 3 and c == 1:
        return np.repeat(x, 3, axis=-1)
    raise ConfigError(f"cannot convert {c} channels to {channels}")


# --------------------------------------------------------------------------------------------- size
def _center_crop_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


FITS = ("resize", "pad", "letterbox")
# the one filter that scales images to the resolution (an exported model's conversion metadata names it)
RESIZE_FILTER = Image.Resampling.BILINEAR


def _pad_square(img: np.ndarray) -> np.ndarray:
    h, w, c = img.shape
    s = max(h, w)
    out = np.zeros((s, s, c), np.uint8)
    top, left = (s - h) // 2, (s - w) // 2
    out[top:top + h, left:left + w] = img
    return out


def crop_loss(h: int, w: int) -> float:
    """Fraction of an h x w image that a centre crop to a square throws away."""
    return 1.0 - min(h, w) / max(h, w)


def scaled_side(h: int, w: int, resolution: int, fit: str = "resize") -> int | None:
    """The side of an h x w image that resize_one scales to `resolution` (the short side, or the long one when it
    letterboxes), or None when it scales nothing: the same size, zero-padded (fit='pad'), or only centre-cropped or
    padded to a square of the resolution's side. The scale the networks see an image at is resolution / that side."""
    if (h, w) == (resolution, resolution) or (fit == "pad" and h <= resolution and w <= resolution):
        return None
    side = max(h, w) if fit == "letterbox" else min(h, w)
    return None if side == resolution else int(side)


def resize_one(img: np.ndarray, resolution: int, fit: str = "resize") -> np.ndarray:
    """uint8 [H, W, C] -> [R, R, C]: centre-crop to square (fit='letterbox': pad to square with black instead), then
    pad (fit='pad', if smaller) or PIL bilinear resize (RESIZE_FILTER)."""
    h, w, c = img.shape
    if (h, w) == (resolution, resolution):
        return img
    if fit == "letterbox" and h != w:
        img = _pad_square(img)
        h, w, c = img.shape
    if fit == "pad" and h <= resolution and w <= resolution:
        out = np.zeros((resolution, resolution, c), np.uint8)
        top, left = (resolution - h) // 2, (resolution - w) // 2
        out[top:top + h, left:left + w] = img
        return out
    sq = _center_crop_square(img)
    if sq.shape[0] == resolution:
        return np.ascontiguousarray(sq)
    pil = Image.fromarray(sq[..., 0] if c == 1 else sq)
    out = np.asarray(pil.resize((resolution, resolution), RESIZE_FILTER), dtype=np.uint8)
    return out.reshape(resolution, resolution, c)


def convert(x: np.ndarray, resolution: int, channels: int, fit: str = "resize") -> np.ndarray:
    """uint8 [N, H, W, C] -> uint8 [N, R, R, channels] (the one conversion used for training and scoring)."""
    check_resolution(resolution)
    if fit not in FITS:
        raise ConfigError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    x = to_channels(x, channels)
    n, h, w, c = x.shape
    if (h, w) == (resolution, resolution):
        return np.ascontiguousarray(x)
    if fit == "pad" and h <= resolution and w <= resolution:
        out = np.zeros((n, resolution, resolution, c), np.uint8)
        top, left = (resolution - h) // 2, (resolution - w) // 2
        out[:, top:top + h, left:left + w] = x
        return out
    out = np.empty((n, resolution, resolution, c), np.uint8)
    for i in range(n):
        out[i] = resize_one(x[i], resolution, "letterbox" if fit == "letterbox" else "resize")
    return out


def permute_rows(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """x[perm], in place when x owns its memory (x is then returned, reordered), else a copy.

    Why: the shuffled training set is the largest thing in host memory (a pile of photos); x[perm] would hold it
    twice at once. In place it is one row of scratch, by following the permutation's cycles (one copy per row)."""
    if not np.issubdtype(np.asarray(perm).dtype, np.integer):
        raise ValueError(f"a permutation is integer indices, got {np.asarray(perm).dtype}")
    perm = np.asarray(perm, dtype=np.int64)
    if perm.shape != (len(x),):
        raise ValueError(f"a permutation of {len(x)} rows was expected, got shape {perm.shape}")
    if len(perm) and (perm.min() < 0 or perm.max() >= len(x) or np.bincount(perm, minlength=len(x)).max() > 1):
        raise ValueError("not a permutation: an index is out of range or repeated")   # (the cycles would not end)
    if x.base is not None or not x.flags.writeable or not x.flags.c_contiguous:
        return x[perm]                                 # not ours to reorder (a view, or read-only): copy
    done = np.zeros(len(x), dtype=bool)
    for start in np.flatnonzero(perm != np.arange(len(x))):
        if done[start]:
            continue
        first = x[start].copy()
        i = start
        while True:                                    # new x[i] = old x[perm[i]] along the cycle through start
            done[i] = True
            j = perm[i]
            if j == start:
                x[i] = first
                break
            x[i] = x[j]
            i = j
    return x


# --------------------------------------------------------------------------------------------- rotation
def rotate_batch(x: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """Rotate each uint8 [H, W, C] image counter-clockwise about its centre: bilinear, mirror padding.

    Spec 6.3 leaves interpolation and borders open; mirror padding avoids black corners that a discriminator could
    learn as a cue for augmented images. Implemented as: mirror-pad (half-sample symmetric) by enough pixels that the
    rotated frame stays inside, rotate with PIL bilinear, crop the centre. Same result as sampling with mirrored
    indices, at C speed.
    """
    n, h, w, c = x.shape
    m = int(np.ceil(max(h, w) * (np.sqrt(2.0) - 1.0) / 2.0)) + 2
    out = np.empty_like(x)
    for i in range(n):
        p = np.pad(x[i], ((m, m), (m, m), (0, 0)), mode="symmetric")
        img = Image.fromarray(p[..., 0] if c == 1 else p)
        r = np.asarray(img.rotate(float(angles_deg[i]), resample=Image.Resampling.BILINEAR), dtype=np.uint8)
        out[i] = r.reshape(p.shape)[m:m + h, m:m + w]
    return out


# --------------------------------------------------------------------------------------------- arrays
def array_to_uint8(a: Any, name: str, depth16: str = "per-image", stats: dict[str, Any] | None = None) -> np.ndarray:
    """Validate an image array from an .npz/.pkl and return uint8 [N, H, W, C] (C in {1, 3}).

    Accepts NHW (gray), NHWC and NCHW (C in {1, 3}), and NHWC with alpha (C = 4: RGBA, composited on black like
    image files; C = 2 is refused: see the module docstring); uint8; uint16 through the depth16 rule; other integer
    types as 8-bit when the whole array lies in 0..255, else each image through depth16 (decided for the array, so
    that a dark frame follows its bright neighbours: an image's pixels then depend on the array it came in); float in
    [0, 1] or [0, 255] (see module docstring).
    Everything else is a DataError. stats: decode statistics (see _reduce_depth). Under PER_IMAGE_8BIT (a run
    trained on 16-bit images scoring) the 8-bit images are stretched as their 16-bit twins would be (stretch_8bit),
    after their alpha is composited, as an image file's is."""
    u8, eight = _array_to_uint8(a, name, depth16, stats)
    if u8.shape[3] == 4:
        u8 = _composite_on_black(u8)
    return stretch_8bit(u8, depth16, name) if eight else u8


def _array_to_uint8(a: Any, name: str, depth16: str, stats: dict[str, Any] | None = None
                    ) -> tuple[np.ndarray, bool]:
    """array_to_uint8 before the alpha is composited, and whether the array was read as 8-bit (not by depth16)."""
    a = np.asarray(a)
    if a.dtype == object or a.dtype.kind in "OUSVbcMm":
        raise DataError(f"{name}: image array has unsupported dtype {a.dtype} (need uint8, integer or float)")
    if a.ndim == 3:
        a = a[..., None]
    elif a.ndim == 4:
        last, second = a.shape[3] in (1, 3), a.shape[1] in (1, 3)
        if last and second:
            raise DataError(f"{name}: ambiguous image array shape {a.shape}: both axis 1 and axis 3 could be "
                            "channels; store it as NHWC with H, W > 3")
        if not last and second:
            a = np.transpose(a, (0, 2, 3, 1))
        elif not last and a.shape[3] == 2 and a.shape[1] > 4 or a.shape[1] == 2 and a.shape[3] > 4:
            # the way out written for the array's own layout (its channel axis last, NHWC, or second, NCHW)
            pick, axis = ("x[..., :1]", -1) if a.shape[3] == 2 and a.shape[1] > 4 else ("x[:, :1]", 1)
            raise DataError(f"{name}: image array of shape {a.shape} has 2 channels: wildgan reads 1 (gray), 3 (RGB) "
                            "or 4 (RGBA) channels, and 2 are not gray + alpha here (e.g. two fluorescence stains); "
                            f"pick one channel ({pick}) or merge them (x.mean(axis={axis}, keepdims=True), or an RGB "
                            "image with the stains in two of its channels)")
        elif not last and not (a.shape[3] == 4 and a.shape[1] > 4):
            raise DataError(f"{name}: image array shape {a.shape} has no channel axis of size 1 or 3 (or 4 "
                            "with alpha, NHWC) (expected NHW, NHWC or NCHW)")
    else:
        raise DataError(f"{name}: image array must have 3 (NHW) or 4 (NHWC / NCHW) dimensions, got shape {a.shape}")
    if a.shape[0] == 0:
        raise DataError(f"{name}: image array is empty (shape {a.shape})")
    if a.shape[1] < 1 or a.shape[2] < 1:
        raise DataError(f"{name}: images have zero size (shape {a.shape})")
    if a.dtype == np.uint8:
        _count(stats, "n8", len(a), name)
        return np.ascontiguousarray(a), True
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise DataError(f"{name}: image array contains NaN or inf values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{name}: float image values must lie in [0, 1] or [0, 255], found [{lo:g}, {hi:g}]")
        scale = 255.0 if hi <= 1.0 else 1.0
        _count(stats, "n8", len(a), name)
        return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8), True
    # integer kinds: uint16 by its dtype, like a 16-bit file; other integer types by the array's values
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > 65535:
        raise DataError(f"{name}: integer image values must lie in 0..255 (or 0..65535 for 16-bit), found "
                        f"{lo}..{hi}")
    if a.dtype != np.uint16 and hi <= 255:
        # an int64 / int32 array of 8-bit values (numpy arithmetic makes those): 8-bit. Decided for the array, not
        # per image: a dark frame of 12-bit data (all values <= 255) must follow the rule of its bright neighbours
        _count(stats, "n8", len(a), name)
        return a.astype(np.uint8), True
    out = np.empty(a.shape, np.uint8)
    for i, im in enumerate(a):
        out[i] = _reduce_depth(im, depth16, f"{name}[{i}]", stats)     # each image by the depth16 rule
    return out, False


PIXEL_SCALE = 2.0 / 255.0   # uint8 pixels -> [-1, 1] as x * PIXEL_SCALE - 1 (spec 6.1)


def u8_to_unit(t: "torch.Tensor") -> "torch.Tensor":
    """uint8 pixels (any layout) -> float32 in [-1, 1] as x * 2/255 - 1 (spec 6.1): the one rule that training,
    scoring, the heat maps and the ONNX graph all call (evaluation.metrics.pixel_statistics computes its controls
    from the same rule in exact integers, q = (2x - 255) / 255)."""
    return t.float() * PIXEL_SCALE - 1.0


def to_float(x_uint8: "np.ndarray | torch.Tensor") -> "torch.Tensor":
    """uint8 NHWC (numpy or torch) -> float32 NCHW in [-1, 1] (u8_to_unit), contiguous."""
    import torch  # local: the rest of wildgan.data is numpy + PIL only

    t = torch.from_numpy(np.ascontiguousarray(x_uint8)) if isinstance(x_uint8, np.ndarray) else x_uint8
    if t.dtype != torch.uint8:
        raise DataError(f"to_float expects uint8 images, got {t.dtype}")
    if t.ndim == 3:
        t = t.unsqueeze(-1)  # NHW gray
    if t.ndim != 4 or t.shape[-1] not in (1, 3):
        raise DataError(f"to_float expects NHWC images with C in (1, 3), got shape {tuple(t.shape)}")
    return u8_to_unit(t.permute(0, 3, 1, 2)).contiguous()
