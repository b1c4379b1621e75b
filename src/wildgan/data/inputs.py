"""The Python API's inputs -> uint8 images [N, R, R, C], converted like the CLI's training data.

wildgan.Detector (and `wildgan score`'s conversion check, the ONNX docs' to_images) reads images through this module;
nothing here knows about networks or scores, so it sits in the data layer.

Inputs accepted (fit / decision_function / predict / predict_proba / score_all / heatmaps, and to_images):
  * numpy arrays [N, H, W] (gray) or [N, H, W, C] / [N, C, H, W] with C in {1, 3}, or NHWC with C = 4 (RGBA,
    composited on black); 2 channels are refused (pick or merge them);
  * one image as an array [H, W], or (fitted Detector) [H, W, C] / [C, H, W]: a 3-D array is read as one image when
    its shape is that of one training image, as a batch [N, H, W] when its images have the training size, and is a
    DataError when neither reading fits and it could be one image (last axis 1 to 4, or first axis 3 for an RGB
    model); other 3-D arrays stay batches [N, H, W] (see read_3d); before fit (no image shape known yet) a 3-D
    array [H, W, 1 to 4] is a DataError (it is one image, not H images of W x 1: add a batch axis);
  * torch tensors, same layouts (a torchvision batch [N, C, H, W] works as is); a numpy masked array only where nothing
    is masked (read as its data): masked pixels have no meaning for the networks;
  * a list of PIL images, file paths or single-image arrays [H, W(, C)] (sizes may differ);
  * a folder path (images found recursively, sorted by path) or one image file path;
  * a data-set file: an .npz, a tar archive of images or a CIFAR-10 batch folder / archive (every image in it, its
    train and test parts, labels ignored; for its protocols' splits pass a DataConfig to Detector.fit).
Pixel values: uint8 as is; uint16 through the depth16 rule (Detector(depth16=...)); other integers as is when the
whole array lies in 0..255, else each image through depth16 (decided per array, like the float range below: give
uint8 or uint16 for pixels that never depend on their neighbours in a call); floats in the range given by
Detector(pixel_range=...) or, with 'auto' (the default), in the range fit() read its float training images in
(pixel_range_), or, when fit saw no floats, in the range guessed from all the floats of the call: [-1, 1] when any
value is negative (the GAN convention, also what wildgan's networks see), else [0, 1] when the maximum is <= 1
(torchvision's ToTensor), else [0, 255]. A guess is per call, never per image, and one dark image alone can be
guessed wrong, so a Detector keeps the range its training data had. Values are rounded to uint8, so every input ends in
exactly the representation the CLI trains and scores on. Images are then converted like the CLI does
(wildgan.data.transforms): channels to `channels_` (RGB -> gray by PIL's luma rule), non-square images centre-cropped
(or padded to a square with black bars, resize_mode='letterbox'), other sizes resized bilinearly (or zero-padded when
smaller, resize_mode='pad').

What is where: float ranges (guess_float_range, input_float_range, _floats_to_u8); arrays (_array_batch, read_3d:
one image or a batch); files (_files_to_items, _read_dataset_file, _ImageList: large files shrunk while decoding and
read again at the final resolution); any input (decode_items -> images of their own sizes; infer_geometry -> R, C;
convert_items -> [N, R, R, C]; to_images does all three); count_images (a count without decoding).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import itertools
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from ..errors import SPLIT_CLASSES, ConfigError, DataError, option_words, warn_user
from .dataset_files import (LabelsUnreadWarning, UnreadArraysWarning, named_in_archive, npz_image_count,
                            unlabelled_way_said_by_caller)
from .decode_pool import MAX_NAMED_BAD_FILES, unreadable_files_error
from .image_decode import IMAGE_EXTS, decode_pil_sized, draft_scale, draftable, read_image, read_image_sized
from .imageset import (crop_warning, depth_warning, enlarged_words, median_scaled_side, merge_stats, resize_warning,
                       resolutions_taken, said_record, say_again, scale_warning, scoring_depth16, warn_decode_stats)
from .readers import (channel_warning, cifar_batch_folder, detect_format, ids_relative_to, image_tar_tree,
                      is_dataset_file, list_image_files, list_image_files_once, load_dataset, mixed_channels_warning)
from .transforms import (MAX_AUTO_RESOLUTION, PER_IMAGE_8BIT, array_to_uint8, base_depth16, check_resolution, convert,
                         next_pow2, own_channels, resize_one, stretch_8bit, to_channels)

PIXEL_RANGES = ("auto", "[0,1]", "[-1,1]", "[0,255]")
_RANGE_BOUNDS = {"[0,1]": (0.0, 1.0), "[-1,1]": (-1.0, 1.0), "[0,255]": (0.0, 255.0)}


def guess_float_range(lo: float, hi: float) -> str:
    """The pixel range float values between lo and hi are read in when nothing says which: [-1, 1] when any is
    negative, else [0, 1] when none is above 1, else [0, 255]."""
    return "[-1,1]" if lo < 0 else "[0,1]" if hi <= 1.0 else "[0,255]"


def _floats_to_u8(a: np.ndarray, name: str, float_range: str) -> np.ndarray:
    """Float pixels in float_range (not 'auto') -> uint8 values, same shape (the layout is array_to_uint8's job)."""
    if not np.isfinite(a).all():
        raise DataError(f"{name}: image values contain NaN or inf")
    lo, hi = float(a.min()), float(a.max())
    b_lo, b_hi = _RANGE_BOUNDS[float_range]
    if lo < b_lo or hi > b_hi:
        raise DataError(f"{name}: float pixel values in [{lo:g}, {hi:g}] lie outside {float_range.replace(',', ', ')}, "
                        f"the range floats are read in here (Detector(pixel_range=...), else the range of fit's "
                        f"float images, else the guess: [-1, 1] when any value is negative, [0, 1] when none is "
                        f"above 1, else [0, 255])")
    scaled = {"[0,1]": a * 255.0, "[-1,1]": (a.astype(np.float64) + 1.0) * 127.5, "[0,255]": a}[float_range]
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _strided() -> Any:
    import torch

    return torch.strided


_MASK_MEANS_NOTHING = ("and a mask has no meaning here (the networks see every pixel, every score and label "
                       "counts): fill them (x.filled(value)) or leave out the images they belong to")


def _tensor_type(t: type) -> bool:
    """Whether t is torch.Tensor or any subclass of it (nn.Parameter, a user's own). Checked by class, not by module
    name: a subclass defined outside torch (its __module__ the user's) was read as no image at all. torch is looked
    up, not imported: without it loaded nothing can be a tensor, and `import wildgan.detector` stays torch-free."""
    torch = sys.modules.get("torch")
    return torch is not None and issubclass(t, torch.Tensor)


def _is_tensor(v: Any) -> bool:
    return _tensor_type(type(v))


def _special(t: type) -> bool:
    """Items np.asarray reads wrongly: masked values (their mask dropped, a masked 0-d value NaN) and tensors (one that
    requires grad or is bf16 is torch's bare RuntimeError / TypeError)."""
    return issubclass(t, np.ma.MaskedArray) or _tensor_type(t)


def _item_types(items: list[Any] | tuple[Any, ...] | np.ndarray) -> set[type]:
    """The types of the items of a list (or an object array), at every depth of nested lists and tuples: one set per
    level, built at C speed (a check per item in Python would cost a list of a million scores more than np.asarray)."""
    level = items.flat if isinstance(items, np.ndarray) else items
    seen: set[type] = set()
    while True:
        types = set(map(type, level))
        seen |= types
        sequences = [issubclass(t, (list, tuple)) for t in types]
        if not any(sequences):
            return seen
        # (every item a list, as in an image given as nested lists: no filter, which cost a third of np.asarray)
        nested = level if all(sequences) else [v for v in level if isinstance(v, (list, tuple))]
        level = list(itertools.chain.from_iterable(nested))


def _masked_count(items: Any) -> int:
    """How many values are masked among the masked items of a list (nested lists included) or object array."""
    n = 0
    for v in items:
        if isinstance(v, np.ma.MaskedArray):
            n += int(np.count_nonzero(np.ma.getmaskarray(v)))
        elif isinstance(v, (list, tuple)):
            n += _masked_count(v)
    return n


def _read_items(items: list[Any] | tuple[Any, ...], what: str) -> list[Any]:
    """A list with its masked items (nothing masked: _masked_count refused the others) as their data and its tensors
    as to_numpy reads them, at every depth."""
    return [np.ma.getdata(v) if isinstance(v, np.ma.MaskedArray) else
            _read_items(v, what) if isinstance(v, (list, tuple)) else
            to_numpy(v, what) if _is_tensor(v) else v for v in items]


def _read_object_items(a: np.ndarray, what: str) -> np.ndarray:
    """An object array with its items read as _read_items reads a list's, in an object array of the same shape; a
    0-d result (a 0-d tensor, a masked scalar with nothing masked) as the numpy scalar it holds, the number it is.
    (Left as they were, an object array of 0-d tensors, which np.asarray(..., float64) read before, was refused by
    the thresholds as 'scores must be numbers, got a Tensor', though a list of the same tensors is read.)"""
    out = np.empty(a.size, dtype=object)
    for i, v in enumerate(_read_items(list(a.flat), what)):
        out[i] = v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v
    return out.reshape(a.shape)


def to_numpy(a: Any, what: str = "images") -> np.ndarray:
    """a (an array, torch tensor, list, ...) as a numpy array; what names the argument in the errors (fit's y_val is
    converted here too: np.asarray refuses a tensor that requires grad, lives on a GPU or is bf16). A numpy masked
    array, or a list or object array holding masked values, is read as its data where nothing is masked, and refused
    where anything is; a list's tensors are read as one tensor is."""
    if isinstance(a, np.ma.MaskedArray):
        # (np.asarray drops the mask in silence: masked pixels would be scored, and trained on, as whatever value lies
        # under the mask; a masked score would still choose the threshold)
        masked = int(np.count_nonzero(np.ma.getmaskarray(a)))
        if masked:
            raise DataError(f"{what}: {masked} of {a.size} values are masked, {_MASK_MEANS_NOTHING}")
        return np.ma.getdata(a)
    object_array = isinstance(a, np.ndarray) and a.dtype == object
    if isinstance(a, (list, tuple)) or object_array:
        # (np.asarray of [np.ma.masked, 0.5] is [nan, 0.5], of [masked [1] arrays] their data, in silence)
        if any(_special(t) for t in _item_types(a)):
            masked = _masked_count(a.flat if object_array else a)
            if masked:
                raise DataError(f"{what}: {masked} of its values {'is' if masked == 1 else 'are'} masked (numpy "
                                f"masked values in {'a list' if not object_array else 'an object array'}), "
                                f"{_MASK_MEANS_NOTHING}")
            a = _read_items(a, what) if not object_array else _read_object_items(a, what)
    if _is_tensor(a):
        if getattr(a, "is_meta", False) or getattr(a, "layout", None) not in (None, _strided()):
            # (torch's own errors: "Cannot copy out of meta tensor", or a sparse tensor's numpy() TypeError)
            if a.is_meta:
                raise DataError(f"{what}: a meta tensor (a shape, no pixels) is not read: pass a tensor with data")
            raise DataError(f"{what}: a tensor of layout {a.layout} is not read: pass a dense one (x.to_dense())")
        a = a.detach().cpu()
        if a.is_floating_point() and a.element_size() < 4 and str(a.dtype) != "torch.float16":
            a = a.float()       # bf16 (and the float8 types) have no numpy dtype; float16 has one and stays
        return a.numpy()
    try:
        return np.asarray(a)
    except ValueError as e:
        # (numpy's bare "inhomogeneous shape" ValueError of a ragged list, e.g. y_val=[[0], [1, 0]])
        raise DataError(f"{what}: not read as one array ({e}): a ragged list? pass one value per item") from None


def read_nested_lists(X: Any, what: str | None = None) -> Any:
    """X with its images given as nested lists (items of a list, tuple or 1-D object array that are lists or tuples)
    read as arrays, through to_numpy (which refuses masked values, ragged lists), in a new list; X itself when it has
    none. Named as _image_arrays names them ('image 1', or 'X_val[1]' for `what`). Callers that look at X's pixels
    more than once (the float range, then the images; fit's check of X_val before training, then its read after)
    read it through this first: each look converted the lists again, about 0.25 ms for a 32x32x3 image."""
    items = list(X) if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1 else X
    if not (isinstance(items, (list, tuple)) and any(isinstance(it, (list, tuple)) for it in items)):
        return X
    return [to_numpy(it, f"image {i}" if what is None else f"{what}[{i}]") if isinstance(it, (list, tuple)) else it
            for i, it in enumerate(items)]


def _image_arrays(X: Any, what: str | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) for X itself when it is an array or tensor, else for each item of a list or 1-D object array that
    is one (or a nested list): the items decode_items reads as arrays, through to_numpy (which refuses masked values,
    meta tensors, ragged lists). Named as decode_items names them ('images', 'image 1'), or by `what` ('X_val',
    'X_val[1]') for a caller that reads them for an argument of its own."""
    items = X if isinstance(X, (list, tuple)) else \
        list(X) if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1 else [X]
    for i, it in enumerate(items):
        if not (isinstance(it, (np.ndarray, list, tuple)) or _is_tensor(it)):
            continue
        name = ("images" if what is None else what) if it is X else f"image {i}" if what is None else f"{what}[{i}]"
        yield name, to_numpy(it, name)


def check_image_arrays(X: Any, what: str) -> None:
    """Refuse now, by the argument's name, what decode_items would refuse in X's arrays when it reads them (masked
    values, meta or sparse tensors, ragged nested lists, NaN or inf pixels): Detector.fit checks X_val so before
    training, which decode_items reads only after it (the training lost, and the error naming 'images')."""
    for name, arr in _image_arrays(X, what):
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DataError(f"{name}: image values contain NaN or inf")


@dataclass
class KeptRead:
    """A data-set file (an .npz, CIFAR-10's batches) that check_image_paths read whole, kept for the read that scores
    it later (Detector.fit's X_val: checked before the training, scored for the f1 threshold after it), which takes
    it from here (reusing_read) instead of reading the file a second time. `stamp` (size, mtime, inode; of a folder
    of batches, its own and each file's that the reader reads: _file_stamp) tells a file changed since from it: that
    one is read again."""

    path: str                      # resolved
    stamp: tuple[int, ...]
    depth16: str                   # the rule it was read by
    x: Any
    ids: list[str]
    stats: dict[str, Any] = field(default_factory=dict)     # its decode statistics, for the later read's warnings


# the KeptRead that _read_dataset_file takes instead of reading its file, within reusing_read
_REUSED: contextvars.ContextVar[KeptRead | None] = contextvars.ContextVar("wildgan_kept_read", default=None)


def _file_stamp(p: Path) -> tuple[int, ...]:
    st = p.stat()
    out: tuple[int, ...] = (int(st.st_size), int(st.st_mtime_ns), int(st.st_ino))
    if p.is_dir():
        # CIFAR-10's batches: a batch edited in place leaves the folder's own stamp as it was, its own tells it. The
        # files stamped are those the reader reads: in the download's layout those of the cifar-10-batches-py in p
        # (its stamp and its files'; p's own files alone missed a batch edited there, whose old pixels were reused)
        batches = cifar_batch_folder(p)
        if batches != p:
            bs = batches.stat()
            out += (int(bs.st_size), int(bs.st_mtime_ns), int(bs.st_ino))
        for folder in dict.fromkeys((p, batches)):
            for f in sorted(folder.iterdir()):
                if f.is_file():
                    fs = f.stat()
                    out += (int(fs.st_size), int(fs.st_mtime_ns), int(fs.st_ino))
    return out


@contextlib.contextmanager
def reusing_read(kept: KeptRead | None) -> Iterator[None]:
    """Within it, a read of kept's file (decode_items, to_images) takes kept's images where they are what that read
    would give: the same file, unchanged, read by a depth16 rule that reads it the same (_reused_read)."""
    token = _REUSED.set(kept)
    try:
        yield
    finally:
        _REUSED.reset(token)


def _reused_read(p: Path, depth16: str, stats: dict[str, Any] | None) -> tuple[Any, list[str]] | None:
    """_read_dataset_file's (images, ids) of p from the KeptRead of reusing_read, or None where there is none for
    it. The depth16 rule only decides the pixels of images read through it (counted n16): without any, another rule
    reads the file the same, but for PER_IMAGE_8BIT's stretch of 8-bit images (a run trained on 16-bit images),
    applied here as _read_dataset_file applies it. skip_bad does not matter: the kept read left nothing out."""
    kept = _REUSED.get()
    if kept is None:
        return None
    try:
        if str(p.resolve()) != kept.path or _file_stamp(p) != kept.stamp:
            return None
    except OSError:
        return None
    n8, n16 = kept.stats.get("n8"), kept.stats.get("n16")
    if n16 and base_depth16(depth16) != base_depth16(kept.depth16) or \
            kept.depth16 == PER_IMAGE_8BIT and depth16 != PER_IMAGE_8BIT and n8:
        return None
    x = kept.x
    if depth16 == PER_IMAGE_8BIT and kept.depth16 != PER_IMAGE_8BIT and n8:
        x = stretch_8bit(x, depth16, str(p))
    if stats is not None:
        merge_stats(stats, copy.deepcopy(kept.stats))
    return x, list(kept.ids)


def check_image_paths(X: Any, what: str, depth16: str = "per-image", keep: list[KeptRead] | None = None
                      ) -> int | None:
    """Refuse now, by the argument's name, what decode_items would refuse in X's paths (X itself, or the paths in a
    list) when it reads them: a path that is not there, a folder without images (list_image_files' refusals, no image
    decoded), a tar archive of image files without images (unpacked and listed: unpack_cached keeps the unpack, which
    the later read then reuses), and, for an .npz or CIFAR-10's batches (a folder or an archive of them) given alone,
    anything its read refuses: their arrays are read whole here, as decode_items reads them (the arrays' layout, NaN
    or out-of-range pixels, the file's labels, a batch missing). Detector.fit checks X_val so before training, which
    decode_items reads only after it (the training lost). The check is that of Detector.decision_function's read,
    which leaves no unreadable file out (skip_bad=False) whatever the Detector's skip_bad. Errors are decode_items'
    own, after `what`: '<what>: <file>:x: image array must have ...'. Returns the number of images that read gives a
    data-set file given alone (known once it is read or listed here), else None. keep: a list that gets the read of
    a data-set file of arrays (KeptRead), for the caller's later read of it to take (reusing_read)."""
    try:
        if isinstance(X, (str, Path)):
            if is_dataset_file(X):
                if detect_format(Path(X)) == "folder-tar":
                    # (images decoded twice would cost what the check saves: listed only)
                    root = image_tar_tree(Path(X))
                    with named_in_archive(root, Path(X)):
                        return len(list_image_files([root]))
                p = Path(X)
                stamp = _file_stamp(p)          # (before the read: a file changed while it is read is read again)
                stats: dict[str, Any] = {}
                x, ids = _read_dataset_file(p, depth16, skip_bad=False, stats=stats)
                if keep is not None:
                    # kept for the caller's read after the training (Detector.fit's X_val: a validation set, held
                    # as uint8 at its own size), which read the whole file a second time. (A folder of CIFAR-10
                    # batches too: its stamp is each batch's as well, and tells one edited in place)
                    keep.append(KeptRead(str(p.resolve()), stamp, depth16, x, ids, stats))
                return len(ids)
            list_image_files([Path(X)])
        elif isinstance(X, (list, tuple)):
            for it in X:
                if isinstance(it, (str, Path)):
                    list_image_files([Path(it)])     # (in a list a path is read as image files, a data set refused)
    except DataError as e:
        raise DataError(f"{what}: {e}") from None
    return None


def input_float_range(X: Any) -> str | None:
    """The range all the float pixels in X (an array / tensor, or a list of them among other items) are guessed to be
    in (guess_float_range over all of them together), or None when X holds no float pixels. Its items are those
    decode_items reads: a 1-D object array's images too, and a list's images given as nested lists."""
    # (both were left out: their float images were each read in a range guessed from that image alone, so that a
    # [-1, 1] image with no negative value became a [0, 1] one, in silence)
    lo, hi, seen = np.inf, -np.inf, False
    for _, arr in _image_arrays(X):
        if arr.dtype.kind != "f" or arr.size == 0:
            continue
        a_lo, a_hi = float(arr.min()), float(arr.max())      # no copy of the batch (a mask would make one)
        if not (np.isfinite(a_lo) and np.isfinite(a_hi)):
            finite = arr[np.isfinite(arr)]       # NaN / inf are refused by name when the item is converted
            if not finite.size:
                continue
            a_lo, a_hi = float(finite.min()), float(finite.max())
        lo, hi, seen = min(lo, a_lo), max(hi, a_hi), True
    if not seen:
        return None
    guess = guess_float_range(lo, hi)
    if guess == "[0,255]" and hi <= 2.0:
        # e.g. [0, 1] images that overshoot 1 after a bicubic resize: read as 0..255 they become black, silently
        warn_user(f"float pixel values in [{lo:g}, {hi:g}] are read as [0, 255] (the maximum is above 1), which makes "
                  f"the images nearly black (at most {round(hi)} of 255): if they are [0, 1] images that overshoot 1 "
                  f"(e.g. after resizing), clip them first (np.clip(X, 0, 1))")
    return guess


def _array_batch(a: Any, name: str, depth16: str, float_range: str | None = None,
                 stats: dict[str, Any] | None = None) -> np.ndarray:
    """An image batch (numpy / torch, NHW, NHWC or NCHW) -> uint8 NHWC at its own size. Floats are read in
    float_range (None: guessed from this batch). stats: decode statistics (data.imageset.warn_decode_stats)."""
    arr = to_numpy(a, name)
    if arr.dtype.kind == "f" and arr.size:
        arr = _floats_to_u8(arr, name, float_range or guess_float_range(float(arr.min()), float(arr.max())))
    return array_to_uint8(arr, name, depth16, stats)


def _single_image(a: Any, name: str, depth16: str, float_range: str | None = None,
                  stats: dict[str, Any] | None = None) -> np.ndarray:
    arr = to_numpy(a, name)     # (a list's item by its own name: 'image 1')
    if arr.ndim not in (2, 3):
        raise DataError(f"{name}: a single image must be [H, W], [H, W, C] or [C, H, W], got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] > 4 and arr.shape[0] > 3:
        # no axis of it holds channels: most likely a batch [N, H, W] put in a list (array_to_uint8 would name the
        # shape with a batch axis added, (1, N, H, W), that the caller never gave)
        raise DataError(f"{name}: an array of shape {arr.shape} is not one image (its last axis holds no 1 to 4 "
                        f"channels, [H, W, C], nor its first 1 or 3, [C, H, W]): a batch [N, H, W] is given as the "
                        f"array itself, not inside a list (or as list(x), one image per item)")
    return _array_batch(arr[None], name, depth16, float_range, stats)[0]


def read_3d(shape: Sequence[int], image_shapes: Sequence[Sequence[int]]) -> str:
    """How a fitted Detector reads a 3-D array: 'batch' ([N, H, W] gray), 'hwc' or 'chw' (one image).

    image_shapes are the (H, W, C) of the images the model knows (the training images as given to fit, and the
    network input R x R x C). In order: a shape equal to one known image's (H, W, C) or (C, H, W) is one image; a
    batch whose images have a known size is a batch; [H, W, 1 to 4] of a known size is one image (other channels:
    RGBA is composited on black, 2 channels are refused by name). Otherwise the array is a DataError if it could be
    one image (last axis 1 to 4; first axis 3 with an RGB model: e.g. 28 "images" of 28 x 1), else a batch of images
    of another size (resized as usual)."""
    a0, a1, a2 = (int(v) for v in shape)
    known = [tuple(int(v) for v in s) for s in image_shapes]
    for h, w, c in known:
        if (a0, a1, a2) == (h, w, c):
            return "hwc"
        if (a0, a1, a2) == (c, h, w):
            if c == 3:
                # as likely three gray images of the model's size: one row of scores instead of three, unannounced
                warn_user(f"an array of shape {tuple(shape)} is read as one colour image (C, H, W), this model's "
                          f"kind (pass it as x[None] to say so); to score 3 gray images pass them as "
                          f"[3, {h}, {w}, 1] or a list")
            return "chw"
    sizes = {(h, w) for h, w, _ in known}
    if (a1, a2) in sizes:
        return "batch"
    if a2 in (1, 2, 3, 4) and (a0, a1) in sizes:
        return "hwc"
    if a2 in (1, 2, 3, 4) or (a0 == 3 and any(c == 3 for *_, c in known)):
        want = " or ".join(sorted({f"{h}x{w}x{c}" for h, w, c in known}))
        raise DataError(f"images: ambiguous image array shape {tuple(shape)}: neither {a0} images of {a1}x{a2} nor "
                        f"one image matches the model's image shape ({want}); pass one image as a 2-D array or with "
                        "a leading batch axis (x[None]), and a batch as [N, H, W, C] or [N, C, H, W]")
    return "batch"


class _ReadersNotesSilenced:
    """Around a data set's readers in _read_dataset_file: their notes (UserWarning) are not said, as their
    conversion notes (e.g. the centre crop) are about their own defaults, where the Detector converts with its
    resize_mode and says so itself. Not an .npz's note of the arrays it holds that are not read (UnreadArraysWarning):
    silenced with them, a misnamed array (photo ids saved as 'image_id' beside x_train) was named by `wildgan train
    --data f.npz` and never by Detector.fit or decision_function of the file, nor by `wildgan score` of it with a run
    trained on a pile. It is recorded in the list `with` gives (the caller may drop some) and given as the block ends,
    also in a refusal of the file (as `wildgan train` gives it before its own), under the caller's own filters. Any
    other warning recorded (not a UserWarning) is given again as imageset.say_again says every recorded one. A class,
    not a contextlib.contextmanager: warn_user locates a warning at the first frame outside wildgan, which for a
    generator's is contextlib's."""

    def __enter__(self) -> list[warnings.WarningMessage]:
        self._filters = warnings.catch_warnings(record=True)
        self.said: list[warnings.WarningMessage] = self._filters.__enter__()
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("always", UnreadArraysWarning)     # (recorded whatever the caller's filters say)
        return self.said

    def __exit__(self, *exc: object) -> None:
        self._filters.__exit__(None, None, None)
        # (as every recorded warning is said again: UnreadArraysWarning at the user's line, another library's at its
        # own place once, not on each read of the file)
        say_again(said_record(w) for w in self.said)


def _read_dataset_file(p: Path, depth16: str, skip_bad: bool, stats: dict[str, Any] | None = None,
                       limit: int | None = None, fit: str = "resize", channels: int | None = None,
                       read_for: str = "scoring") -> tuple[np.ndarray | list[np.ndarray], list[str]]:
    """Every image of a data-set file (its train and test parts, labels ignored) -> (images, ids). A tar of image
    files is unpacked (once, into the cache) and read file by file like a folder, so that its images keep their
    own sizes for the Detector's conversion (resize_mode, resolution); arrays (.npz, CIFAR) are read whole, or
    taken from an earlier read of the file kept for this one (reusing_read). read_for: what the images are read
    for ('scoring', 'training'), named where a file's damaged labels are said to be unused by it."""
    reused = _reused_read(p, depth16, stats)
    if reused is not None:
        return reused
    if detect_format(p) == "folder-tar":
        root = image_tar_tree(p)
        with named_in_archive(root, p):     # (a file in it named ARCHIVE:member, not by its place in the cache)
            items, ids = _files_to_items(list_image_files([root]), depth16, skip_bad, stats, limit, fit, channels)
        return items, ids_relative_to(ids, root)     # ids inside the archive
    got: dict[str, Any] = {}
    unlabelled: DataError | None = None
    # (a damaged batches.meta's refusal, said below as a warning, names no --dataset unlabelled / dataset=: the
    # images are read without labels next, which the Detector and `wildgan score` do without such an option)
    with _ReadersNotesSilenced() as said, unlabelled_way_said_by_caller():
        # (a data set's readers know the rules a user gives, not scoring's PER_IMAGE_8BIT: applied below)
        try:
            train, test, _ = load_dataset(p, "auto", depth16=base_depth16(depth16), skip_bad=skip_bad,
                                          progress=False, stats=got)
        except DataError as e:
            # a data set of arrays whose labels are damaged (an .npz's label array 2-D, one short, floats, names its
            # class_names lack; CIFAR-10 batches' labels outside 0..9 or one short, a batches.meta without
            # label_names: the refusal's split_problem) has sound images, and labels are ignored here: read as the
            # pile it also is (x, or x_train then x_test; the batches, test_batch last: the same images in the same
            # order), which is the way `wildgan score` names for such a file. (CIFAR-10's batches were refused: only
            # an .npz was read so.) A tar of image files is read above, by its files, and reads no label here
            kind = detect_format(p)
            if e.split_problem != SPLIT_CLASSES or kind not in ("npz", "cifar-batches"):
                raise
            unlabelled, got = e, {}
            # (the labelled reading's note of the arrays it does not take, where it got that far, is dropped: the
            # pile's reading gives its own, in the words of what it reads; said once, not twice)
            said[:] = [w for w in said if not issubclass(w.category, UnreadArraysWarning)]
            train, test, _ = load_dataset(p, "unlabelled", depth16=base_depth16(depth16), skip_bad=skip_bad,
                                          progress=False, stats=got)
            # ids as the labelled reading of the file gives them (NAME:train:0, not the pile's NAME:x_train:0): a
            # score CSV of the file named its images otherwise once its labels were damaged, so that its rows no
            # longer matched those of the sound copy. (The batches' pile has the labelled reading's ids already)
            if kind == "npz":
                train.ids = [_labelled_npz_id(i) for i in train.ids]
    if unlabelled is not None:
        # (said during Detector.fit too, whose training uses no labels either: not 'scoring' there)
        warn_user(f"{unlabelled}; its images are read without labels, which {read_for} does not use",
                  LabelsUnreadWarning)
    if stats is not None:
        merge_stats(stats, got)
    if test is None:
        x, ids = train.x, list(train.ids)
    elif train.x.shape[1:] != test.x.shape[1:]:
        raise DataError(f"{p}: its train and test images differ in size ({train.x.shape[1:]} vs {test.x.shape[1:]})")
    else:
        x, ids = np.concatenate([train.x, test.x]), list(train.ids) + list(test.ids)
    if depth16 == PER_IMAGE_8BIT and got.get("n8"):
        # its 8-bit images stretched as image files are (stretch_8bit); its 16-bit ones, if any, were stretched
        # already, and stretching a stretched image again leaves it as it is
        x = stretch_8bit(x, depth16, str(p))
    return x, ids


# the parts of an .npz as read_npz names them in its images' ids, by the image array read_npz_unlabelled names them by
_NPZ_ID_PARTS = {"x": "all", "x_train": "train", "x_test": "test"}


def _labelled_npz_id(image_id: str) -> str:
    """An id of read_npz_unlabelled (NAME:x_train:3) as read_npz gives the same image's (NAME:train:3). From the
    right: the file's name may hold a colon."""
    name, part, index = image_id.rsplit(":", 2)
    return f"{name}:{_NPZ_ID_PARTS.get(part, part)}:{index}"


class _ImageList(list):
    """Decoded images of possibly different sizes, with the (H, W, C) each had before it was shrunk while decoding
    (`native`, one per image): what the automatic resolution, the crop and scale warnings and the run's record look
    at. Images given in memory are their own native size. A file shrunk to `limit` remembers its path, so that it
    can be read again at the final resolution when that turns out smaller (refit); so does a PIL JPEG (its image),
    whose reduced-scale decode for `limit` may not be the one for that resolution."""
    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.native: list[tuple[int, int, int]] = []
        self.shrunk: dict[int, Path] = {}         # index -> file, for the images shrunk to `limit`
        self.pil: dict[int, tuple[Image.Image, str]] = {}   # index -> (PIL JPEG, its name), decoded for `limit`
        # index -> the channels a file made gray while it was read held (transforms.own_channels): its pixels no
        # longer tell, and its native shape says only the file's mode
        self.held: dict[int, int] = {}
        # index -> a file of gray content stored as RGB, shrunk to `limit` as RGB while the channels were not chosen
        # yet, made gray first and then shrunk from the same decode: what refit takes for a gray run at `limit`
        # instead of reading the file again
        self.grays: dict[int, np.ndarray] = {}

    def add(self, a: np.ndarray, native: Sequence[int] | None = None, shrunk_from: Path | None = None,
            pil: tuple[Image.Image, str] | None = None, held: int | None = None,
            gray: np.ndarray | None = None) -> None:
        if held is not None:
            self.held[len(self)] = held
        if gray is not None:
            self.grays[len(self)] = gray
        if shrunk_from is not None:
            self.shrunk[len(self)] = shrunk_from
        if pil is not None:
            self.pil[len(self)] = pil
        self.append(a)
        self.native.append(tuple(int(v) for v in (native if native is not None else a.shape)))  # type: ignore[misc]

    def extend_from(self, other: "_ImageList") -> None:
        self.shrunk.update({len(self) + i: f for i, f in other.shrunk.items()})
        self.pil.update({len(self) + i: p for i, p in other.pil.items()})
        self.held.update({len(self) + i: c for i, c in other.held.items()})
        self.grays.update({len(self) + i: g for i, g in other.grays.items()})
        self.extend(other)
        self.native.extend(other.native)

    def refit(self, res: int, depth16: str, fit: str, channels: int | None) -> None:
        """Read the shrunk files again, shrunk to res at once, when res is not the size they were shrunk to: one
        resampling from the file, as the training and scoring readers make it for res (shrinking to the limit and
        then to res would round twice, and would even enlarge a strip whose short side is below the limit)."""
        # (an RGB file of gray content shrunk as RGB, in a run that its content made gray: made gray first, as
        # scoring reads it for a gray run; at the size it was shrunk to, from its gray twin made of the same decode,
        # which reading it again gave, at twice the cost)
        grays, self.grays = self.grays, {}
        if res == self.limit and channels == 1:
            for i, g in grays.items():
                self[i] = g
        again = {i: f for i, f in self.shrunk.items() if res != self.limit or channels == 1 and self[i].shape[2] != 1}
        for i, f in again.items():
            a = read_image(f, depth16, reduce_for=res)
            if channels == 1 and a.shape[2] == 3 and i not in self.held:
                self.held[i] = own_channels(a)        # (what it holds, which its gray pixels no longer tell)
            self[i] = _shrink(a, res, fit, channels)
        if res == self.limit:
            return
        for i, (img, name) in self.pil.items():
            # a PIL JPEG's draft for res, as its file read by path for res (decode_pil_sized), when it differs from
            # the one for `limit`; kept at that size, as every image given in memory (convert_items resizes it)
            h, w = self.native[i][:2]
            if self.limit is not None and draft_scale(h, w, res) != draft_scale(h, w, self.limit):
                self[i] = decode_pil_sized(img, name, depth16, None, res)[0]
        self.limit = res


def _shrink(a: np.ndarray, size: int, fit: str, channels: int | None) -> np.ndarray:
    """One image made size x size as the final conversion would (resize_one), gray first when the run is gray: a
    colour image is converted to gray at full size, as convert_items does, not after resizing."""
    if channels == 1 and a.shape[2] != 1:
        a = to_channels(a, 1)
    return resize_one(a, size, fit)


def refit(x: np.ndarray | list[np.ndarray], res: int, depth16: str, fit: str, channels: int | None) -> None:
    """See _ImageList.refit (nothing to do for images that were not read from files)."""
    if isinstance(x, _ImageList):
        x.refit(res, depth16, fit, channels)


def item_shapes(x: np.ndarray | list[np.ndarray]) -> list[tuple[int, ...]]:
    """(H, W, C) of each image as it was given or read, before any shrinking while decoding."""
    if isinstance(x, np.ndarray):
        return [tuple(int(v) for v in x.shape[1:])] * len(x)
    if isinstance(x, _ImageList):
        return list(x.native)
    return [tuple(int(v) for v in a.shape) for a in x]


def _own_kinds(x: np.ndarray | list[np.ndarray]) -> list[int]:
    """Each image's own channel count, for channel_warning: 1 for gray stored as RGB too (transforms.own_channels, as
    the file readers count it), checked on the pixels an image still holds in its 3 channels; one already made gray
    while it was decoded (a file larger than the decode limit) by what it held then (_ImageList.held)."""
    held = x.held if isinstance(x, _ImageList) else {}
    return [held[i] if i in held else 1 if int(s[-1]) == 3 and a.shape[-1] == 3 and own_channels(a) == 1
            else int(s[-1]) for i, (s, a) in enumerate(zip(item_shapes(x), x))]


def _files_to_items(files: list[Path], depth16: str, skip_bad: bool, stats: dict[str, Any] | None = None,
                    limit: int | None = None, fit: str = "resize", channels: int | None = None
                    ) -> tuple[_ImageList, list[str]]:
    """Decode files; an image larger than `limit` px is made limit x limit (by `fit`, gray first when `channels` is
    1) as soon as it is read, so that a folder of large photos is not held at full size (a 2000x1500 photo is
    8.6 MiB, at 256 px 0.19 MiB). The caller passes the largest resolution it can end at; when it ends at a smaller
    one, _ImageList.refit reads those files again. Either way the pixels are those of reading the file for the final
    size (read_image_sized: a large JPEG at a reduced scale), as training and scoring read it."""
    items = _ImageList(limit)
    ids: list[str] = []
    bad: list[str] = []
    for f in files:
        try:
            a, (h0, w0) = read_image_sized(f, depth16, stats, limit)   # (a large JPEG: read at a reduced scale)
        except DataError as e:
            if not skip_bad:
                # every bad file of the folder in one error, as the CLI's reads name them, not one per attempt;
                # the caller (the Detector) adds how its user leaves them out (decode_pool.unreadable_files_error)
                bad.append(str(e))
                if len(bad) >= MAX_NAMED_BAD_FILES:
                    break
                continue
            warn_user(f"skipped {e}")
            continue
        if bad:
            continue                  # (pixels that the error below discards: the rest is only checked)
        if limit is not None and (h0 > limit or w0 > limit):
            # what it holds taken before _shrink makes it gray (a colour file shrunk keeps its channels, which
            # _own_kinds reads); a colour photo costs a block of rows, not a pass (own_channels)
            # (also when the channels are not chosen yet: infer_geometry chooses them by it, at full size)
            rgb = channels != 3 and a.shape[2] == 3
            held = own_channels(a) if rgb else None
            # (channels not chosen yet, a file of gray content: its gray twin too, for a gray run, _ImageList.grays)
            items.add(_shrink(a, limit, fit, channels), (h0, w0, a.shape[2]), shrunk_from=Path(f), held=held,
                      gray=_shrink(a, limit, fit, 1) if channels is None and held == 1 else None)
        else:
            items.add(a)
        ids.append(str(f))
    if bad:
        raise unreadable_files_error(bad, None)
    return items, ids


def check_path_input(X: Any, what: str = "images") -> None:
    """Refuse path-like inputs that would read the wrong thing or fail deep inside pathlib: an empty string is
    Path('.'), the working folder (far more often an unset variable than a choice, as for det.save('')), and bytes
    paths, which pathlib rejects with a bare TypeError. X: one input, or a list / tuple whose items are checked."""
    for i, it in enumerate(X if isinstance(X, (list, tuple)) else [X]):
        name = what if not isinstance(X, (list, tuple)) else f"{what}[{i}]"
        if isinstance(it, str) and it == "":      # (only '': '  ' is a file named so, not the working folder)
            raise DataError(f"{name}: an empty path {it!r} is not read (it would be the working folder; an unset "
                            f"variable?): pass '.' to read the working folder")
        if isinstance(it, (bytes, bytearray)):
            raise DataError(f"{name}: a bytes value is not read as a path or as encoded image bytes: pass a path as "
                            f"str (os.fsdecode(b)), or an image decoded with PIL (Image.open(io.BytesIO(b)))")


def decode_items(X: Any, depth16: str, image_shapes: Sequence[Sequence[int]] | None = None,
                 skip_bad: bool = False, float_range: str | None = None, stats: dict[str, Any] | None = None,
                 limit: int | None = None, fit: str = "resize", channels: int | None = None,
                 read_for: str = "scoring") -> tuple[np.ndarray | list[np.ndarray], list[str]]:
    """Any accepted input -> (a uint8 NHWC block, or a list of uint8 HWC images of possibly different sizes; ids).

    A 2-D array is one image; a 3-D array is a batch [N, H, W] unless image_shapes (a fitted model's, see read_3d)
    say it is one image. skip_bad: unreadable image files (and PIL images) are left out with a warning naming them
    (their ids are absent from the returned ids), instead of a DataError. float_range: the range of float pixels
    (None: guessed from all the floats of X together, see input_float_range). stats: a dict that collects the decode
    statistics for the caller to warn about (fit: data.imageset.warn_decode_stats); None: images to score, warned
    about here (only what every read loses: 16-bit colour files, later pages). limit, fit, channels: image files
    larger than `limit` px are shrunk while they are read (see _files_to_items; the caller calls refit once it knows
    the resolution); their sizes as read are kept in the returned list's `native` (item_shapes gives them for any
    return value). read_for: 'scoring' | 'training', what a data-set file whose labels are damaged is said to be
    read without them for (_read_dataset_file)."""
    if stats is None:
        stats = {}
        out = decode_items(X, depth16, image_shapes, skip_bad, float_range, stats, limit, fit, channels, read_for)
        warn_decode_stats(stats, "images", depth16, dataset=False)
        return out
    check_path_input(X)
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1:
        X = list(X)          # images of different sizes kept in one array (np.array(list_of_images, dtype=object))
    X = read_nested_lists(X)     # read once here, not again by input_float_range and _single_image
    float_range = float_range or input_float_range(X)
    if isinstance(X, (str, Path)):
        if is_dataset_file(X):
            return _read_dataset_file(Path(X), depth16, skip_bad, stats, limit, fit, channels, read_for)
        # a folder (or file) alone is the list of it, listed once below: its files listed here were listed again
        # one by one there, where a broken link among them (a moved target) was refused whatever skip_bad, which
        # leaves it out of the same folder given in a list, or to `wildgan score` and training's reader
        X = [X]
    elif isinstance(X, Image.Image):
        X = [X]
    if isinstance(X, np.ndarray) or _is_tensor(X):
        arr = to_numpy(X)
        if arr.ndim not in (2, 3, 4):
            # (array_to_uint8 said "must have 3 (NHW) or 4 dimensions", though one [H, W] image is taken here too)
            stacked = "; batches stacked on a further axis: x.reshape(-1, *x.shape[-3:])" if arr.ndim > 4 else ""
            raise DataError(f"images: an array of shape {arr.shape} ({arr.ndim}-D) is neither one image nor a batch: "
                            f"pass one image as [H, W] (or [H, W, C]) and a batch as [N, H, W], [N, H, W, C] or "
                            f"[N, C, H, W]{stacked}")
        reading = "batch"
        if arr.ndim == 2:
            reading = "one"
        elif arr.ndim == 3 and image_shapes:
            reading = read_3d(arr.shape, image_shapes)
        elif arr.ndim == 3 and (arr.shape[2] in (1, 3) and arr.shape[1] > 3 or arr.shape[2] in (2, 4) and
                                arr.shape[1] > 4):
            # with no model to compare against, [H, W, 1 to 4] is almost surely one image, not H images of W x 1
            # (or W x 4: an RGBA image)
            raise DataError(f"images: array of shape {arr.shape} looks like one image [H, W, C], not {arr.shape[0]} "
                            f"images of {arr.shape[1]}x{arr.shape[2]}; pass one image with a batch axis (x[None]) "
                            f"and a batch as [N, H, W, C] or [N, C, H, W]")
        if reading == "chw":
            arr = np.moveaxis(arr, 0, -1)
        x = _array_batch(arr if reading == "batch" else arr[None], "images", depth16, float_range, stats)
        return x, [f"array:{i}" for i in range(len(x))]
    if not isinstance(X, (list, tuple)):
        raise DataError(f"unsupported image input of type {type(X).__name__}: pass a numpy array, torch tensor, "
                        "list of PIL images / file paths / arrays, or a folder path")
    items = _ImageList(limit)
    ids: list[str] = []
    bad: list[str] = []          # the unreadable files of every path item (a folder is a list of its files here)
    # the path items' files listed as one list: a file named twice, or by name and in a folder given, is read once,
    # at its first mention, with the one warning, as score_files and load_image_files read such a list (each item
    # listed on its own read it twice, a row more than those readers give)
    path_at = [i for i, it in enumerate(X) if isinstance(it, (str, Path))]
    listed: dict[int, list[Path]] = {i: [] for i in path_at}
    if path_at:
        origins: list[int] = []
        once = list_image_files_once([Path(X[i]) for i in path_at], origins)
        for f, o in zip(once, origins):
            listed[path_at[o]].append(f)
    for i, it in enumerate(X):
        if isinstance(it, (str, Path)):
            files = listed[i]
            if not files:
                continue                     # (every file it names came earlier in the list)
            try:
                more, more_ids = _files_to_items(files, depth16, skip_bad, stats, limit, fit, channels)
            except DataError as e:
                if getattr(e, "unreadable", None) is None:
                    raise
                bad += e.unreadable          # type: ignore[attr-defined]
                if len(bad) >= MAX_NAMED_BAD_FILES:
                    break
                continue
            if not bad:                      # (once one is bad, the rest are only checked)
                items.extend_from(more)
                ids += more_ids
        elif isinstance(it, Image.Image):
            try:     # decoded like a file: EXIF orientation applied, a truncated image a DataError naming it, an
                #      Image.open(...) JPEG at the reduced scale of its file read for `limit`
                a, (h0, w0) = decode_pil_sized(it, f"image {i}", depth16, stats, limit)
            except DataError as e:
                if not skip_bad:
                    # every bad item named at once (by its index), as a folder's bad files are, not one per fit;
                    # the Detector adds how its user leaves them out (skip_bad=True)
                    bad.append(str(e))
                    if len(bad) >= MAX_NAMED_BAD_FILES:
                        break
                    continue
                warn_user(f"skipped {e}")
                continue
            if not bad:                      # (once one is bad, the rest are only checked)
                items.add(a, (h0, w0, a.shape[2]), pil=(it, f"image {i}") if draftable(it) else None)
                ids.append(f"image:{i}")
        elif isinstance(it, (np.ndarray, list, tuple)) or _is_tensor(it):
            items.add(_single_image(it, f"image {i}", depth16, float_range, stats))
            ids.append(f"image:{i}")
        else:
            # (read as an array, None or a number was "a single image must be [H, W] ..., got shape ()")
            raise DataError(f"image {i}: a {type(it).__name__} is not an image: a list holds PIL images, file paths "
                            f"or single-image arrays [H, W(, C)]")
    if bad:
        raise unreadable_files_error(bad[:MAX_NAMED_BAD_FILES], None)
    if not items:
        raise DataError("no readable images given" if skip_bad and len(X) else "no images given")
    return items, ids


def infer_geometry(x: np.ndarray | list[np.ndarray], resolution: int | None, channels: int | None,
                   ids: Sequence[str] | None = None, *, fit: str | None = "resize",
                   taken: tuple[Sequence[int], str] | None = None) -> tuple[int, int]:
    """Defaults of the CLI's generic protocol, with its warnings: R = next power of two of the images' short side
    (of the median short side when sizes differ, so that a few outsized files do not set the resolution of the
    whole model), capped at 256; 1 channel if every image holds gray (RGB-stored gray too, as the CLI's readers
    and the warnings about images to score count it), else 3. ids: the images' names (decode_items), for the
    warning about mixed kinds to name one, as the CLI's does. fit: how the images are made R x R (resize_one's),
    for the word that R enlarges them 1.5x or more (imageset.enlarged_words, as the CLI's readers say it); None
    says nothing of it. taken: (sizes, whose) for networks that take only those resolutions (f-AnoGAN's (32, 64),
    "f-AnoGAN's networks"): R is the smallest of them at or above the power of two (else the largest), and the
    warnings speak of that R, the one the images are made (the word that it enlarges them too, once, advising only
    a resolution among them: imageset.resolutions_taken)."""
    shapes = item_shapes(x)
    if resolution is None:
        short = np.sort(np.array([min(s[0], s[1]) for s in shapes]))
        median = int(short[(len(short) - 1) // 2])
        resolution = auto = min(next_pow2(median), MAX_AUTO_RESOLUTION)
        moved = ""          # (how the networks' own sizes moved the power of two, said where they did)
        if taken is not None:
            sizes_taken, whose = taken
            resolution = min((r for r in sizes_taken if r >= auto), default=max(sizes_taken))
            if resolution != auto:
                moved = f" ({auto}) made {resolution}, the nearest size {whose} take"
        sizes = {tuple(s[:2]) for s in shapes}
        with resolutions_taken(*taken) if taken is not None else contextlib.nullcontext():
            more = None if fit is None else \
                enlarged_words(median_scaled_side((s[:2] for s in shapes), resolution, fit), resolution)
        if len(sizes) > 1:
            # worded as the CLI's readers word it (decode_pool.stack): 'the power of two of 40' read as 32
            cap = f", at most {MAX_AUTO_RESOLUTION}" if auto < next_pow2(median) else ""
            warn_user(f"images of {len(sizes)} different sizes: all are made square and resized "
                      f"to {resolution}x{resolution}, the next power of two of the median short side, {median} px"
                      f"{moved}"
                      + (f", {more} (or choose another)" if more else f"{cap} (choose another with resolution=)"))
        elif more:
            (h, w), = sizes
            warn_user(f"images of {w}x{h}: made {resolution}x{resolution}, the automatic resolution (the next "
                      f"power of two of their short side{moved}), {more}")
    if channels is None:
        kinds = _own_kinds(x)
        n_gray = sum(k == 1 for k in kinds)
        channels = 1 if n_gray == len(kinds) else 3
        # by the CLI's readers' rule for a pile (readers.mixed_channels_warning): said where the gray images are the
        # majority, the colour image that decided RGB named so that a stray one can be found; not for a few gray ones
        names = [ids[i] if ids is not None and i < len(ids) else f"image {i}" for i in range(len(kinds))]
        msg = mixed_channels_warning("", [("all", np.asarray(kinds) == 1, None, names)])
        if msg:
            warn_user(msg)
    if channels not in (1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {channels}")
    return check_resolution(resolution), int(channels)


def convert_items(x: np.ndarray | list[np.ndarray], res: int, ch: int, resize_mode: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return convert(x, res, ch, resize_mode)
    out = np.empty((len(x), res, res, ch), np.uint8)
    for i, a in enumerate(x):
        out[i] = resize_one(to_channels(a, ch), res, resize_mode)
    return out


def to_images(X: Any, resolution: int | None = None, channels: int | None = None, *, resize_mode: str = "resize",
              depth16: str = "per-image", image_shapes: Sequence[Sequence[int]] | None = None,
              skip_bad: bool = False, float_range: str | None = None, native_sides: Sequence[int] | None = None,
              trained_on: str | None = None, by_content: bool = True,
              trained_depth: str | None = None, gray_share: float | None = None) -> tuple[np.ndarray, list[str]]:
    """Any accepted input (see the module docstring) -> (uint8 [N, R, R, C], ids), converted like training data.
    image_shapes: the (H, W, C) a fitted model knows, to tell one [H, W, C] / [C, H, W] image from a batch
    (see read_3d); without them a 3-D array is a batch [N, H, W]. skip_bad: unreadable files are left out, each
    named in a warning (their ids are absent from the returned ids). float_range: '[0,1]' | '[-1,1]' | '[0,255]'
    for float pixels (None: guessed from all the floats of X together). native_sides: the [shortest, longest] side
    of a model's training images: images far off that scale are warned about (data.imageset.scale_warning).
    trained_on: 'gray' | 'colour' when a model's training images were all of that kind: images of the other kind
    are warned about (data.readers.channel_warning), counted by what they hold (by_content; RGB-stored gray is gray)
    or by their files' mode (a colour record of the older rule); both as data.readers.trained_kind reads a model's
    conversion record; gray_share: a colour model that trained on some gray images (trained_on None), their share
    (data.readers.trained_gray_share), gray images to score being warned about when far more of them are gray,
    counted by what they hold. trained_depth: the bit depth of a model's training images (data.imageset.TRAINED_DEPTHS;
    None: no model): 16-bit images scored with a model of 8-bit ones are read as their 8-bit copies
    (data.imageset.scoring_depth16), and images of another depth than its training images' are named in a warning
    (data.imageset.depth_warning)."""
    used = scoring_depth16(depth16, trained_depth)
    stats: dict[str, Any] = {}
    x, ids = decode_items(X, used, image_shapes, skip_bad=skip_bad, float_range=float_range, stats=stats,
                          limit=resolution or MAX_AUTO_RESOLUTION, fit=resize_mode, channels=channels)
    # (what decode_items says of images to score when it collects nothing itself, and their bit depths)
    warn_decode_stats(stats, "images", used, dataset=False)
    msg = depth_warning(stats, trained_depth, depth16, used)
    if msg:
        warn_user(msg)
    res, ch = infer_geometry(x, resolution, channels, ids, fit=resize_mode)
    refit(x, res, used, resize_mode, ch)
    # the crop that Detector.fit and `wildgan score` of image files name: said here too, or a non-square image
    # scored (or mapped by Detector.heatmaps) as arrays, PIL images or a list of paths lost its long edges, and a
    # defect there, without a word
    msg = crop_warning({(int(s[0]), int(s[1])) for s in item_shapes(x)}, resize_mode, res, "images",
                       hint=option_words("a run trained with --square letterbox",
                                         "a Detector fitted with resize_mode='letterbox'"))
    if msg:
        warn_user(msg)
    if trained_on is not None or gray_share is not None:
        kinds = _own_kinds(x) if by_content else [int(s[-1]) for s in item_shapes(x)]
        msg = channel_warning(sum(k == 1 for k in kinds), sum(k != 1 for k in kinds), trained_on, gray_share)
        if msg:
            warn_user(msg)
    if native_sides:
        sizes: dict[tuple[int, int], str] = {}
        for i, shape in enumerate(item_shapes(x)):
            sizes.setdefault((int(shape[0]), int(shape[1])), ids[i] if i < len(ids) else f"image {i}")
        msg = scale_warning(sizes, native_sides, res) or resize_warning(sizes, native_sides, res, resize_mode)
        if msg:
            warn_user(msg)
    return convert_items(x, res, ch, resize_mode), ids


def count_images(X: Any) -> int | None:
    """How many images X holds, where that is known without decoding them (None otherwise): a 4-D array or
    tensor, a list of arrays / PIL images / image files, an image file or a folder of them, an .npz (from its arrays'
    headers)."""
    if X is None:
        return None
    shape = getattr(X, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) == 4 else None     # (3-D: one image or a batch, decided when read)
    if isinstance(X, (str, Path)):
        if Path(X).is_file() and Path(X).suffix.lower() == ".npz":
            # (a data-set file, read whole: its count is in its arrays' headers. Only given alone: in a list, each
            # path is read as image files)
            return npz_image_count(X)
        X = [X]
    if not isinstance(X, (list, tuple)):
        return None
    n = 0
    for it in X:
        if isinstance(it, (str, Path)):
            p = Path(it)
            if not (p.is_dir() or (p.is_file() and p.suffix.lower() in IMAGE_EXTS)):
                return None                      # (a data-set file or an archive: its count needs reading it)
            try:
                n += len(list_image_files([p]))
            except DataError:
                return None                      # (the read after training names the problem)
        elif isinstance(it, Image.Image) or getattr(it, "ndim", None) in (2, 3):
            n += 1
        else:
            return None
    return n
