"""Data-set files that are not image folders: CIFAR-10 python batches (read with a restricted unpickler, never
pickle's own), .npz arrays (labelled or an unlabelled pile), and tar and zip archives of image files (is_archive,
naming their members as ARCHIVE:member); and the error for such a file given where an image is expected.
"""

from __future__ import annotations

import contextvars
import io
import pickle
import warnings
import zipfile
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..config import as_typed, names_text, nearest_name
from ..errors import SPLIT_CLASSES, DataError, WildganWarning, option_words, shell_word, warn_user
from .download import CIFAR_BATCH_FILES, TAR_SUFFIXES
from .imageset import (ImageSet, Opts, native_sides, said_record, say_again, shrink_uniform, warn_crop,
                       warn_decode_stats)
from .transforms import array_to_uint8, count_gray_held


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ------------------------------------------------------------------------------------------------ CIFAR batches
def _numpy_reconstruct() -> Callable[..., Any]:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


class UnreadArraysWarning(WildganWarning):
    """The warning that an .npz holds arrays its reader does not take (_warn_unread_arrays): its own kind, so that a
    caller that silences the readers' other notes (data.inputs' reading of a data-set file, whose conversion notes
    are the Detector's to say) still lets it through."""


class LabelsUnreadWarning(WildganWarning):
    """The warning that a data-set file's labels are damaged, so that its images are read without them (data.inputs'
    reading of a data-set file whole, the Detector's): its own kind, so that a caller that offers the labels' use
    (`wildgan score`'s --normal, refused for such a file) can tell it was given without matching its words."""


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


def _cifar_batch_images(p: Path) -> tuple[dict, np.ndarray]:
    """One batch file -> (its dict, its images N x 32 x 32 x 3); its labels unread, as a pile's reading takes them
    (read_cifar_unlabelled), which does not use them and so does not refuse a batch for them."""
    d = restricted_unpickle(p)
    if not isinstance(d, dict):
        raise DataError(f"{p}: not a CIFAR-10 batch (expected a dict, got {type(d).__name__})")
    data = _get(d, "data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{p}: 'data' must be a uint8 array of shape (N, 3072), got "
                        f"{getattr(data, 'shape', type(data).__name__)} {getattr(data, 'dtype', '')}")
    return d, np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # stored as planar RGB rows


def _read_cifar_batch(p: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (images, labels)."""
    d, x = _cifar_batch_images(p)
    # (each refused as a damaged .npz label array is, split_problem SPLIT_CLASSES: the images are sound, and a
    # reading without labels, read_cifar_unlabelled, the Detector's of a data-set file, reads them)
    try:
        y = np.asarray(_get(d, "labels"), dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{p}: 'labels' is not a list of integers", split_problem=SPLIT_CLASSES) from e
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{p}: {len(y) if y.ndim == 1 else 'non-1-D'} labels for {len(x)} images",
                        split_problem=SPLIT_CLASSES)
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{p}: labels outside 0..9", split_problem=SPLIT_CLASSES)
    return x, y


# Whether a refusal of CIFAR-10 batches' class names (cifar_batch_class_names) leaves its way to read the batches
# without labels to the caller (unlabelled_way_said_by_caller), instead of naming the data set's option for it
# (--dataset unlabelled / dataset='unlabelled'). Such a caller has no such option, and a way of its own: `wildgan
# score`, which names leaving out --normal or the Python API after the refusal (and refused --dataset as an
# unrecognized argument), and the Detector's reading of a data-set file, which reads the batches without labels next.
# A command that needs the labels (labels_needed_by: `wildgan evaluate`, `wildgan report`) has no such option and no
# reading without them either: its name is held instead, and the refusals (this one, an .npz's missing labels) name
# mending the data as its one way. None: the data set's option is named; "": the caller says its own; else the
# command as the refusal names it ("`wildgan evaluate`", "run_study").
# A setting read where the message is made, as errors.skip_bad_option is: the refusal is made under every reader.
# A context variable, not a module-level one: reads in two threads at once (two Detectors fitted in threads, a server
# scoring for `wildgan score` and `evaluate` callers) each keep their own setting, where one's wording was another's.
# (The readers that make these refusals run in the caller's thread: the decode pools' processes decode images only)
_UNLABELLED_WAY_BY_CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("wildgan_unlabelled_way",
                                                                                     default=None)


# The caller's own words for reading every image of the data without labels (unlabelled_way_said_by_caller's
# every_image: `wildgan score`'s), for a warning made while reading that names the data set's option for it: a
# class-folder tree's images beside its class folders (readers), which named --dataset unlabelled under score.
_EVERY_IMAGE_BY_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("wildgan_every_image_way", default="")


@contextmanager
def _unlabelled_way(setting: str, every_image: str = "") -> Iterator[None]:
    token = _UNLABELLED_WAY_BY_CALLER.set(setting)
    words = _EVERY_IMAGE_BY_CALLER.set(every_image)
    try:
        yield
    finally:
        _EVERY_IMAGE_BY_CALLER.reset(words)
        _UNLABELLED_WAY_BY_CALLER.reset(token)


def unlabelled_way_said_by_caller(every_image: str = "") -> AbstractContextManager[None]:
    """While inside, a refusal of CIFAR-10 batches' class names (or an .npz's missing labels) leaves out its way to
    read them without labels (the caller says its own); the setting before is put back on the way out. every_image:
    the caller's way to read every image without labels, as a warning made while reading says it (every_image_way),
    e.g. `wildgan score`'s 'leave out --normal'; '' names none."""
    return _unlabelled_way("", every_image)


def every_image_way(option_way: str) -> str:
    """How a message made while reading names the way to read every image of the data, labels ignored: `option_way`
    (the data set's option, --dataset unlabelled / dataset='unlabelled') where the caller has no way of its own; the
    caller's (unlabelled_way_said_by_caller's every_image) where it has, '' where it gave none or needs the labels
    (labels_needed_by: it has no reading without them)."""
    caller = _UNLABELLED_WAY_BY_CALLER.get()
    return option_way if caller is None else "" if caller else _EVERY_IMAGE_BY_CALLER.get()


def labels_needed_by(command: str, api: str | None = None, *, unless_said: bool = False
                     ) -> AbstractContextManager[None]:
    """While inside, a refusal of a data set's labels (CIFAR-10 batches' class names, an .npz's missing labels) names
    no reading without them (--dataset unlabelled, which `command` has not, or refuses: `wildgan study`): `wildgan
    COMMAND` needs the labels, so mending the data is its one way, and the refusal says so; the setting before is put
    back on the way out. api: the command's Python function (run_study), named instead to a Python caller (the
    choice made on the way in, as errors.option_words makes it: within a command, the command is named).
    unless_said: a setting made by an outer caller is kept, for a public function that other entry points call too
    (evaluate_run within run_study, run_report within report): the one the user called is named."""
    if unless_said and _UNLABELLED_WAY_BY_CALLER.get() is not None:
        return nullcontext()
    cli = f"`wildgan {command}`"
    return _unlabelled_way(option_words(cli, api) if api else cli)


def _needs_labels_words(what: str) -> str:
    """Within labels_needed_by: ': `wildgan COMMAND` needs <what>, and has no reading without them'; else ''."""
    needed_by = _UNLABELLED_WAY_BY_CALLER.get()
    return f": {needed_by} needs {what}, and has no reading without them" if needed_by else ""


def cifar_batch_class_names(folder: Path) -> list[str]:
    """The class names of a cifar-10-batches-py folder: its batches.meta's label_names, else (no batches.meta)
    CIFAR-10's. A batches.meta that is there but does not give them (unreadable, not a dict, without label_names, or
    not a list of names) is refused, naming it: it was read as CIFAR-10's names in silence where it was not a dict or
    had no label_names, though such a file says the batches are not the download's. Refused as a damaged label
    array is (split_problem SPLIT_CLASSES): the images are sound, and a reading without labels (read_cifar_unlabelled,
    the Detector's, `wildgan score`'s) does not read this file."""
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        return list(CIFAR10_CLASSES)
    caller = _UNLABELLED_WAY_BY_CALLER.get()
    if caller is None:
        option = option_words('--dataset unlabelled', 'dataset=' + repr('unlabelled'))
        other = f", or read them without labels ({option})"
    else:       # (a caller's own way follows; or, for a command that needs the labels, mending the file is the way)
        other = (", or give it label_names (the batches' class names)" + _needs_labels_words("the batches' labels")
                 if caller else "")
    way = "remove it to read the batches under CIFAR-10's own class names" + other
    try:
        meta = restricted_unpickle(meta_path)
    except DataError as e:
        raise DataError(f"{e}; {way}", split_problem=SPLIT_CLASSES) from None
    ln = _get(meta, "label_names") if isinstance(meta, dict) else None
    if ln is None:
        keys = [k.decode("latin-1") if isinstance(k, bytes) else str(k) for k in meta] if isinstance(meta, dict) else []
        held = (f"a dict without 'label_names' (it holds {names_text(keys) or 'no keys'})" if isinstance(meta, dict)
                else f"a {type(meta).__name__}, not a dict")
        raise DataError(f"{meta_path}: not a CIFAR-10 batches.meta: {held}, so the batches' class names are not "
                        f"known; {way}", split_problem=SPLIT_CLASSES)
    # (anything else, e.g. a number, failed as a bare TypeError naming no file)
    if not isinstance(ln, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in ln):
        raise DataError(f"{meta_path}: 'label_names' must be a list of class names, got {type(ln).__name__}; {way}",
                        split_problem=SPLIT_CLASSES)
    return _distinct_names([n.decode() if isinstance(n, bytes) else n for n in ln], meta_path, "label_names",
                           f"; {way}")


def _distinct_names(names: list[str], path: Path, key: str, tail: str = "") -> list[str]:
    """names, refused (naming `path` and the name) where two classes share one: a class is chosen by its name (--normal
    NAME), which took the first of them, and the other one's images were then anomalies without a word."""
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise DataError(f"{path}: {key} names {n!r} twice (classes {seen[n]} and {i}): give each class a name of "
                            f"its own{tail}", split_problem=SPLIT_CLASSES)
        seen[n] = i
    return names


def _check_complete(folder: Path) -> None:
    """Refuse a folder that lacks one of the batch files, naming them."""
    missing = [f for f in CIFAR_BATCH_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: not a complete cifar-10-batches-py folder (missing {', '.join(missing)})")


def read_cifar_batches(folder: str | Path) -> tuple[ImageSet, ImageSet]:
    """cifar-10-batches-py (data_batch_1..5, test_batch, batches.meta) -> (train, test)."""
    folder = Path(folder)
    _check_complete(folder)
    names = cifar_batch_class_names(folder)
    read = {f: _read_cifar_batch(folder / f) for f in CIFAR_BATCH_FILES}
    for f, (_, y) in read.items():
        # a batches.meta naming fewer classes than the labels reach: the class of a label past its names was looked
        # up later (an IndexError far from the data) or, in a split by name, taken for another class
        if len(y) and y.max() >= len(names):
            raise DataError(f"{folder / f}: labels up to {y.max()}, but {folder / 'batches.meta'} names "
                            f"{len(names)} classes (label_names): the batches and their batches.meta do not belong "
                            f"together", split_problem=SPLIT_CLASSES)
    train_files = [f for f in CIFAR_BATCH_FILES if f != "test_batch"]
    x = np.concatenate([read[f][0] for f in train_files])
    y = np.concatenate([read[f][1] for f in train_files])
    xt, yt = read["test_batch"]
    train = ImageSet(x, y, names, [f"cifar10:train:{i}" for i in range(len(x))], info={"n_gray_files": 0})
    test = ImageSet(xt, yt, names, [f"cifar10:test:{i}" for i in range(len(xt))], info={"n_gray_files": 0})
    return train, test


def read_cifar_unlabelled(folder: str | Path, o: Opts | None = None) -> ImageSet:
    """Every image of CIFAR-10's batches (data_batch_1..5, then test_batch), labels ignored: the data set as an
    unlabelled pile (--dataset unlabelled), as read_npz_unlabelled reads an .npz. Neither the batches' labels nor
    batches.meta are read, so damaged ones do not refuse a reading that does not use them. In the order and with the
    ids that Detector.fit reads the batches in (wildgan.data.inputs), so that the config such a fit records replays
    on them."""
    o = o or Opts()
    folder = Path(folder)
    _check_complete(folder)
    parts = {f: _cifar_batch_images(folder / f)[1] for f in CIFAR_BATCH_FILES}
    x = np.concatenate(list(parts.values()))
    n_test = len(parts["test_batch"])
    ids = [f"cifar10:train:{i}" for i in range(len(x) - n_test)] + [f"cifar10:test:{i}" for i in range(n_test)]
    sides = native_sides([x.shape[1:3]])              # 32x32, before any conversion
    x = shrink_uniform(x, o)
    return ImageSet(x, np.zeros(len(x), np.int64), ["unlabelled"], ids,
                    info={"native_sides": sides, "native_gray": False, "n_gray_files": 0,
                          "decode_stats": {"n8": len(x)}})


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
    # (a damaged label array leaves the images sound: `wildgan score` says to score the file without labels, which
    # reads no label, by the refusal's split_problem)
    if y.ndim == 2 and y.shape[1] == 1:
        # a column of labels, as Keras' datasets give them (cifar10.load_data(): y_train of shape (50000, 1)) and an
        # np.savez of them keeps them: one label per image all the same, which was refused as not 1-D
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: labels {key!r} must be 1-D, got shape {y.shape}", split_problem=SPLIT_CLASSES)
    if len(y) != n:
        raise DataError(f"{path}: labels {key!r} has {len(y)} entries but there are {n} images",
                        split_problem=SPLIT_CLASSES)
    if y.dtype.kind == "U":  # string labels: class names are their sorted unique values
        names = class_names or sorted(set(y.tolist()))
        index = {c: i for i, c in enumerate(names)}
        bad = sorted(set(y.tolist()) - set(index))
        if bad:
            raise DataError(f"{path}: labels {key!r} contain names not in class_names: {bad[:5]}",
                            split_problem=SPLIT_CLASSES)
        return np.asarray([index[v] for v in y.tolist()], np.int64), names
    if y.dtype.kind not in "iub":
        raise DataError(f"{path}: labels {key!r} must be integers, got dtype {y.dtype}", split_problem=SPLIT_CLASSES)
    y = y.astype(np.int64)
    if len(y) and y.min() < -1:
        raise DataError(f"{path}: labels {key!r} contain negative values (min {y.min()})", split_problem=SPLIT_CLASSES)
    return y, class_names


# the classes an .npz's labels may reach without class_names beyond its image count (a class is named after each
# label value up to the largest: a few empty ones, labels 0 and 5, are sound, and so is a sample of a data set of many
# classes, e.g. iNaturalist's 10,000, with its raw labels; ids reach millions and more)
_EMPTY_CLASSES_ALLOWED = 100_000


def _refuse_labels_beyond_images(p: Path, n_classes: int, n_images: int) -> None:
    """Refuse labels (without class_names) that reach far more classes than there are images: no class indices (ids,
    a mask value), whose one class name per value up to the largest filled memory until the read was killed (labels
    up to 2**40), or made a class list of millions of empty classes."""
    if n_classes > max(n_images, _EMPTY_CLASSES_ALLOWED):
        raise DataError(f"{p}: labels go up to {n_classes - 1} without class_names, more classes than images "
                        f"({n_images}): labels must be class indices 0..K-1 (or strings, or give class_names)",
                        split_problem=SPLIT_CLASSES)


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
    except zipfile.BadZipFile as e:
        if "not a zip file" in str(e):
            # it starts as a zip archive but has no end (the zip's table of contents is written last): zipfile's own
            # 'File is not a zip file' sent the user looking for a wrong format, not for an interrupted copy
            raise DataError(f"{p}: not a readable .npz file: truncated (it starts as a zip archive but its end is "
                            f"missing: an interrupted copy or download?)") from e
        raise DataError(f"{p}: not a readable .npz file ({type(e).__name__}: {e})") from e
    except (ValueError, OSError, EOFError) as e:
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


def read_npz_unlabelled(path: str | Path, o: Opts | None = None) -> ImageSet:
    """Every image of an .npz (x, or x_train then x_test), labels ignored: an unlabelled pile stored as arrays."""
    o = o or Opts()
    p = Path(path)
    z = _open_npz(p, "an image array x")
    with z:
        keys = [k for k in ("x", "x_train", "x_test") if k in z.files]
        if not keys:
            raise DataError(f"{p}: missing image array: expected key x or x_train (it holds "
                            f"{names_text(z.files) or 'no arrays'})")
        stats: dict[str, Any] = {} if o.stats is None else o.stats
        parts = [array_to_uint8(_npz_get(z, p, k), f"{p}:{k}", o.depth16, stats) for k in keys]
        # (the arrays a labelled .npz has beside its images, its labels first, are left on purpose: not said; one
        # that neither reader takes is, as read_npz says it)
        _warn_unread_arrays(z, p, {k: _NPZ_PART_KEYS[k] for k in keys}, {k: len(a) for k, a in zip(keys, parts)},
                            unlabelled=True)
    if o.stats is None:
        warn_decode_stats(stats, str(p), o.depth16)
    if len({a.shape[1:] for a in parts}) > 1:
        shapes = ", ".join("x".join(map(str, a.shape[1:])) for a in parts)
        raise DataError(f"{p}: image arrays {', '.join(keys)} differ in shape (images of {shapes})")
    x = np.concatenate(parts)
    sides, gray = native_sides([x.shape[1:3]]), x.shape[3] == 1      # the array's own, before any conversion
    held = {"n_gray_held": count_gray_held(x)} if o.count_held else {}
    x = shrink_uniform(x, o)
    ids = [f"{p.stem}:{k}:{i}" for k, a in zip(keys, parts) for i in range(len(a))]
    return ImageSet(x, np.zeros(len(x), np.int64), ["unlabelled"], ids,
                    info={"native_sides": sides, "native_gray": gray, "n_gray_files": len(x) if gray else 0,
                          "decode_stats": stats, **held})


def read_npz(path: str | Path, o: Opts | None = None) -> tuple[ImageSet, ImageSet | None]:
    """An .npz with x/y (one set) or x_train/y_train[/x_test/y_test]; optional class_names, image_id, is_anomaly."""
    o = o or Opts()
    p = Path(path)
    z = _open_npz(p, "x/y or x_train/y_train")
    with z:
        keys = set(z.files)
        splits = _npz_parts(keys, p)
        class_names = _npz_class_names(z, p)
        out = {}
        stats: dict[str, Any] = {} if o.stats is None else o.stats
        for split, (kx, ky, kg, ka) in splits.items():
            if ky not in keys:
                # (a command that needs the labels is told to add them: it has no --dataset unlabelled; a caller with
                # a way of its own to read the images without labels, `wildgan score`, the Detector, says it)
                caller = _UNLABELLED_WAY_BY_CALLER.get()
                pile = ("an .npz of images without labels is an unlabelled pile: "
                        f"{option_words('--dataset unlabelled', 'dataset=' + repr('unlabelled'))}" if caller is None
                        else f"add them{_needs_labels_words('a label for every image')}" if caller else "")
                # refused as a damaged label array is (split_problem SPLIT_CLASSES): the images are sound, and a
                # reading without labels (the Detector's, `wildgan score`'s of a run without a protocol of its own)
                # reads them as the pile they also are; it was refused outright there
                raise DataError(f"{p}: missing labels {as_typed(ky)} for images {as_typed(kx)} (it holds "
                                f"{names_text(keys)})" + (f"; {pile}" if pile else ""), split_problem=SPLIT_CLASSES)
            x = array_to_uint8(_npz_get(z, p, kx), f"{p}:{kx}", o.depth16, stats)
            y, class_names = _labels(_npz_get(z, p, ky), len(x), p, ky, class_names)
            group, anomaly = _npz_groups(z, p, kg, ka, len(x))
            out[split] = (x, y, group, anomaly)
        _warn_unread_arrays(z, p, splits, {split: len(v[0]) for split, v in out.items()})
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
        _refuse_labels_beyond_images(p, n_classes, sum(len(v[1]) for v in out.values()))
        class_names = [str(i) for i in range(n_classes)]
    elif n_classes > len(class_names):
        raise DataError(f"{p}: labels go up to {n_classes - 1} but class_names has only {len(class_names)} names",
                        split_problem=SPLIT_CLASSES)         # (as _labels': the images are sound)
    sets = {}
    # one crop warning for the data set (its train and test arrays), not one for each
    warn_crop({tuple(v[0].shape[1:3]) for v in out.values()}, o.fit, o.resolution, "images")
    for split, (x, y, group, anomaly) in out.items():
        sides, gray = native_sides([x.shape[1:3]]), x.shape[3] == 1  # the array's own, before any conversion
        held = {"n_gray_held": count_gray_held(x)} if o.count_held else {}
        x = shrink_uniform(x, o, warn=False)
        sets[split] = ImageSet(x, y, list(class_names), [f"{p.stem}:{split}:{i}" for i in range(len(x))],
                               group, anomaly, info={"native_sides": sides, "native_gray": gray,
                                                     "n_gray_files": len(x) if gray else 0, **held})
    first_set = sets.get("all", sets.get("train"))
    if first_set is not None:
        first_set.info["decode_stats"] = stats    # (of both parts, kept once, as read_folder keeps its own)
    return first_set, sets.get("test")  # type: ignore[return-value]


# the arrays of an .npz that go with each of its image arrays, by its name: (the images, their labels, photo ids and
# anomaly labels), which read_npz reads for each part it reads, and read_npz_unlabelled leaves, but for the images
_NPZ_PART_KEYS = {"x": ("x", "y", "image_id", "is_anomaly"),
                  "x_train": ("x_train", "y_train", "image_id_train", "is_anomaly_train"),
                  "x_test": ("x_test", "y_test", "image_id_test", "is_anomaly_test")}


def _npz_parts(keys: set[str], p: Path) -> dict[str, tuple[str, str, str, str]]:
    """{part: (its image, label, photo id and anomaly keys)} of a labelled .npz: 'all' (x) or 'train' (x_train), and
    'test' (x_test) beside either."""
    if "x" in keys and "x_train" in keys:
        raise DataError(f"{p}: holds both 'x' and 'x_train': which are the training images is not clear; keep "
                        f"one of them (x_test / y_test hold a test set beside either)")
    if "x" in keys:
        splits = {"all": _NPZ_PART_KEYS["x"]}
        if "x_test" in keys:          # (was ignored without a word: the test split became a hold-out of x)
            splits["test"] = _NPZ_PART_KEYS["x_test"]
    elif "x_train" in keys:
        splits = {"train": _NPZ_PART_KEYS["x_train"]}
        if "x_test" in keys:
            splits["test"] = _NPZ_PART_KEYS["x_test"]
    else:
        raise DataError(f"{p}: missing image array: expected key x or x_train (it holds "
                        f"{names_text(keys) or 'no arrays'})")
    return splits


def _warn_unread_arrays(z: Any, p: Path, splits: dict[str, tuple[str, str, str, str]], counts: dict[str, int],
                        unlabelled: bool = False) -> None:
    """One warning naming the arrays of an open labelled .npz that read_npz does not take. Why: one misnamed was
    ignored without a word, e.g. photo ids saved as 'image_id' beside x_train (whose are 'image_id_train'), so a
    protocol that splits by photo put crops of one photo on both sides of the split. A 0-d array is a note on the
    file (the shared data's 'source'), never data of its images: not said. Each name is given the one the reader
    takes that it most probably misspells, among those the file lacks (and of the image set it has one entry per
    image of, where its length tells; from its .npy header, no array read). `counts`: the images of each part.
    unlabelled: for read_npz_unlabelled, whose `splits` are its image arrays' parts (_NPZ_PART_KEYS): the arrays a
    labelled reading takes of them are not said (their labels are left on purpose), those neither reader takes are:
    an .npz of images whose labels were saved misnamed, 'y_trian', was read as unlabelled images without a word."""
    taken = {"class_names", *(k for keys in splits.values() for k in keys)}
    shapes = {k: _npy_shape_or_none(z, k) for k in sorted(set(z.files) - taken)}
    unread = [k for k, shape in shapes.items() if shape != ()]
    if not unread:
        return
    lacked = [k for k in sorted(taken) if k not in z.files]

    def named(k: str) -> str:
        shape = shapes[k]
        fits = [splits[split] for split, n in counts.items() if shape and shape[0] == n]
        m = nearest_name(k, [c for c in lacked if not fits or any(c in keys for keys in fits)])
        return as_typed(k) + (f" (meant as {as_typed(m)}?)" if m else "")

    many = len(unread) > 1
    read = ("an .npz read as unlabelled images is read from its image arrays x, x_train and x_test, and the arrays "
            "a labelled .npz has beside them (labels y, y_train, y_test, class_names, and image_id and is_anomaly "
            "named after its images) are left on purpose" if unlabelled else
            "a labelled .npz is read from x/y or x_train/y_train (x_test/y_test beside either), class_names, and per "
            "image set image_id (photo ids) and is_anomaly named after its images (image_id and is_anomaly beside x, "
            "image_id_train and is_anomaly_train beside x_train, image_id_test and is_anomaly_test beside x_test)")
    warn_user(f"{p}: array{'s' if many else ''} {', '.join(named(k) for k in unread)} "
              f"{'are' if many else 'is'} not read and ignored: {read}; rename an array meant for the reader, or "
              f"leave it out of the file", UnreadArraysWarning)


def _npy_shape_or_none(z: Any, key: str) -> tuple[int, ...] | None:
    """_npy_shape of the array `key` of an open .npz; None also where the member is not an .npy array at all."""
    try:
        return _npy_shape(z, key)
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile):
        return None


def _npz_groups(z: Any, p: Path, kg: str, ka: str, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(photo ids, anomaly labels as int8) of one part of an open .npz of n images, each None where the file has no
    such array; DataError for one that is not one entry per image of the right kind."""
    group = anomaly = None
    if kg in z.files:
        group = _npz_get(z, p, kg)
        if group.ndim != 1 or len(group) != n or group.dtype.kind not in "iuU":
            raise DataError(f"{p}: {kg!r} must be 1-D int/str with one entry per image, "
                            f"got {group.dtype} {group.shape}")
    if ka in z.files:
        a = _npz_get(z, p, ka)
        if a.ndim != 1 or len(a) != n or a.dtype.kind not in "iub" or not np.isin(a, (0, 1)).all():
            raise DataError(f"{p}: {ka!r} must be 1-D 0/1 with one entry per image, got {a.dtype} {a.shape}")
        anomaly = a.astype(np.int8)
    return group, anomaly


def _npz_class_names(z: Any, p: Path) -> list[str] | None:
    if "class_names" not in z.files:
        return None
    cn = _npz_get(z, p, "class_names")
    if cn.ndim != 1 or cn.dtype.kind not in "US":
        # (as a damaged label array's refusal, _labels': the images are sound, and scoring without labels reads no
        # class name; the Detector read such a file as a pile only where its labels were what was damaged)
        raise DataError(f"{p}: class_names must be a 1-D string array, got {cn.dtype} {cn.shape}",
                        split_problem=SPLIT_CLASSES)
    return _distinct_names([c.decode() if isinstance(c, bytes) else str(c) for c in cn.tolist()], p, "class_names")


def _npy_shape(z: Any, key: str) -> tuple[int, ...] | None:
    """The shape of the array `key` of an open .npz from its .npy header alone (no pixel is read or decompressed
    past the header); None for a header version numpy has no public reader for."""
    with z.zip.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return tuple(np.lib.format.read_array_header_1_0(f)[0])
        if version == (2, 0):
            return tuple(np.lib.format.read_array_header_2_0(f)[0])
    return None


def npz_image_count(path: str | Path) -> int | None:
    """How many images reading an .npz whole gives (its x, or x_train, and x_test: read_npz and read_npz_unlabelled
    alike; an unlabelled one with both x and x_train is read with both), from its arrays' .npy headers, no pixel
    read; None where the headers do not tell it (no image array, a labelled one with both x and x_train, an array
    that is no batch [N, H, W(, C)], a header numpy has no public reader for, or not a readable .npz): the read then
    says what is wrong. Lets a count given with the file (Detector.fit's y_val) be checked before hours of training,
    not after."""
    p = Path(path)
    try:
        with _open_npz(p, "") as z:
            files = set(z.files)
            keys = [k for k in ("x", "x_train", "x_test") if k in files]
            # the files the read refuses, where a count would blame y_val's for a file that cannot be read as X_val
            # at all: x_test alone (no image array to either reader), and, labelled (npz_has_labels: read_npz), both x
            # and x_train. An unlabelled one is read whole: x, x_train and x_test; so is a labelled one with a part
            # without its labels (x_test without y_test: read_npz's refusal is a damaged label array's, and the
            # Detector reads it as the pile it also is, data.inputs)
            if not {"x", "x_train"} & files or {"y", "y_train"} & files and {"x", "x_train"} <= files:
                return None
            shapes = [_npy_shape(z, k) for k in keys]
    except (DataError, OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if any(s is None or len(s) not in (3, 4) for s in shapes):
        return None
    return sum(int(s[0]) for s in shapes if s is not None)


def npz_labels(path: str | Path) -> dict[str, Any] | None:
    """What read_npz would give of a labelled .npz's labels, without reading its images: {"class_names": as
    read_npz names them, "grouped": photo ids and anomaly labels beside the training images (what the chula-rbc12
    protocol needs), "y" and "is_anomaly": the training part's (None without), "shape": the training images' array
    shape from its header (None where the header cannot be read without the array)}. The label arrays are small
    (8 bytes an image) beside the pixels. None where read_npz would refuse the file: the read then says why."""
    p = Path(path)
    try:
        z = _open_npz(p, "x/y or x_train/y_train")
        with z:
            keys = set(z.files)
            parts = _npz_parts(keys, p)
            class_names = _npz_class_names(z, p)
            ys, groups = {}, {}
            for part, (kx, ky, kg, ka) in parts.items():
                if ky not in keys:
                    return None
                n = _npy_shape(z, kx)
                if n is None or not n:
                    return None
                ys[part], class_names = _labels(_npz_get(z, p, ky), n[0], p, ky, class_names)
                # (checked as read_npz checks them: an is_anomaly of another length indexed the labels in list_data)
                groups[part] = _npz_groups(z, p, kg, ka, n[0])
            first = "all" if "all" in parts else "train"
            group, anomaly = groups[first]
            shape = _npy_shape(z, parts[first][0])
    except (DataError, OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    n_classes = max(int(y.max()) if len(y) else -1 for y in ys.values()) + 1
    if class_names is None:
        try:
            _refuse_labels_beyond_images(p, n_classes, sum(len(y) for y in ys.values()))
        except DataError:
            return None
        class_names = [str(i) for i in range(n_classes)]
    elif n_classes > len(class_names):
        return None
    return {"class_names": list(class_names), "grouped": group is not None and anomaly is not None, "y": ys[first],
            "is_anomaly": anomaly, "shape": shape}


def named_as_in_archive(text: str, tree: Path, archive: Path) -> str:
    """text (a message, a reason a file was skipped) with the files of `tree`, the unpack of `archive`, named as
    ARCHIVE:member, and the tree itself as the archive."""
    return text.replace(f"{tree}/", f"{archive}:").replace(str(tree), str(archive))


def named_in_archive(tree: Path, archive: Path, *, as_met: bool = False) -> AbstractContextManager[None]:
    """A DataError or warning about a file of an unpacked archive names it as ARCHIVE:member (as `wildgan score`
    does), and one about the tree names the archive: not their place in the unpack cache, which the user never
    made. (Warnings are collected, renamed, then said again as every recorded warning is: imageset.say_again.)

    as_met: each warning renamed as it is shown instead, through the caller's filters and showwarning, for a long
    read (score_files on a large archive: a file skipped in its first chunk was said only after the last one); one
    that a filter turns into an error is raised renamed."""
    return _NamedInArchive(tree, archive, as_met)


def _renamed_error(e: DataError, named: Callable[[str], str]) -> DataError:
    """e with its files named by `named`, its split_problem and unreadable list kept (a tar of CIFAR-10 batches with
    damaged labels was refused where the folder of them is read as a pile, data.inputs; the list a caller words its
    own error from)."""
    renamed = DataError(named(str(e)), split_problem=e.split_problem)
    if getattr(e, "unreadable", None) is not None:
        renamed.unreadable = [named(r) for r in e.unreadable]    # type: ignore[attr-defined]
    return renamed


class _NamedInArchive:
    """named_in_archive's block. A class, not a contextlib.contextmanager: the warnings said again as it ends are
    located by warn_user at the first frame outside wildgan, which for a generator's exit is contextlib's (they
    pointed at 'contextlib.py:144', not at the user's line)."""

    def __init__(self, tree: Path, archive: Path, as_met: bool) -> None:
        self.tree, self.archive, self.as_met = tree, archive, as_met

    def named(self, text: str) -> str:
        return named_as_in_archive(text, self.tree, self.archive)

    def __enter__(self) -> None:
        # (as_met: puts the caller's showwarning back on the way out)
        self._filters = warnings.catch_warnings(record=not self.as_met)
        caught = self._filters.__enter__()
        if self.as_met:
            shown, named = warnings.showwarning, self.named

            def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                     line: str | None = None) -> None:
                shown(category(named(str(message))), category, filename, lineno, file, line)

            warnings.showwarning = show
        else:
            self._caught = caught
            warnings.simplefilter("always")

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: Any) -> bool:
        self._filters.__exit__(None, None, None)
        if self.as_met:
            if isinstance(e, DataError):
                raise _renamed_error(e, self.named) from None
            if isinstance(e, Warning):          # a warning a filter of the caller's made an error
                raise type(e)(self.named(str(e))) from None
            return False
        if e is not None and not isinstance(e, DataError):
            return False                        # (propagated as it is, its warnings unsaid, as before)
        say_again((said_record(w) for w in self._caught), self.named)     # (each once)
        if isinstance(e, DataError):
            raise _renamed_error(e, self.named) from None
        return False


# the names of tar archives (is_tar), in any case
def is_tar(p: Path) -> bool:
    """A tar archive by its name (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz)."""
    return p.name.lower().endswith(TAR_SUFFIXES)


def dataset_file_stem(p: Path) -> str:
    """p's name without the suffix that makes it a data-set file (an archive's whole .tar.gz, .tar.bz2 ... or .zip;
    .npz), as typed: what names its data (`cells.tar.bz2` is `cells`); any other name whole."""
    n = p.name.lower()
    suffix = next((s for s in (*TAR_SUFFIXES, ".zip", ".npz") if n.endswith(s)), "")
    return p.name[: len(p.name) - len(suffix)]


def is_zip(p: Path) -> bool:
    """A zip archive by its name (.zip). An .npz is a zip too, but a data-set file of arrays, read as one: not this."""
    return p.name.lower().endswith(".zip")


def is_archive(p: Path) -> bool:
    """A tar or zip archive by its name (is_tar, is_zip): one of files, unpacked into the cache to be read."""
    return is_tar(p) or is_zip(p)


def dataset_file_kind(p: Path) -> str | None:
    """What kind of data-set file `p` is by its name ('an .npz archive', 'a tar archive', 'a zip archive', 'a CIFAR-10
    python batch'),
    or None: a file that may be an image. By name only, so that nothing is read (a file of that name that is not
    what it says is for the data-set reader to refuse)."""
    if p.is_dir():
        return None
    if p.suffix.lower() == ".npz":
        return "an .npz archive"
    if is_tar(p):
        return "a tar archive"
    if is_zip(p):
        return "a zip archive"
    if p.name in CIFAR_BATCH_FILES or p.name == "batches.meta":
        return "a CIFAR-10 python batch"
    return None


def dataset_among_images_error(p: Path) -> DataError:
    """The error for a data-set file (npz, tar, zip, CIFAR batch, or a CIFAR-10 batch folder) given where image files
    are expected: among several image paths (a data set is read whole, by itself) or as an image (report --image)."""
    kind = dataset_file_kind(p) or "a CIFAR-10 batch folder"
    alone = option_words(f"`wildgan score RUN --data {shell_word(p)}`",
                         f"Detector.decision_function({str(p)!r}), or score_files(model, [{str(p)!r}])")
    return DataError(f"{p}: a data-set file ({kind}), not an image: it cannot be mixed with image files or given as "
                     f"one (score a data set on its own: {alone})")
