"""A corpus of malformed inputs: each must end in one DataError (or ConfigError) that names the file.

Convertible oddities (16-bit, CMYK, palette, alpha) must load instead.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from wildgan.config import DataConfig
from wildgan.data import build_split, load_dataset, load_images
from wildgan.data.image_decode import read_image
from wildgan.errors import ConfigError, DataError


def png_bytes(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    b = io.BytesIO()
    Image.fromarray(arr).save(b, fmt, **kw)
    return b.getvalue()


def tree(root: Path, n: int = 20, classes=("a", "b"), size=(8, 8)) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / c / f"{i:03d}.png").write_bytes(png_bytes(rng.integers(0, 256, size + (3,), dtype=np.uint8)))
    return root


def npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


X = np.zeros((20, 8, 8), np.uint8)
Y = np.arange(20) % 2


# Each case builds its input under tmp and returns (call, expected error class, text the message must contain).
def npz_case(name: str, text: str, **arrays: np.ndarray) -> Callable:
    """The case of an .npz at tmp/name holding these arrays, which load_dataset refuses with a DataError saying
    text."""
    def case(t: Path) -> tuple[Callable, type, str]:
        p = npz(t / name, **arrays)
        return lambda: load_dataset(p), DataError, text
    return case


def file_case(name: str, content: bytes | str, text: str, read: Callable = load_dataset) -> Callable:
    """The case of a file at tmp/name holding content (bytes, or text), which read (load_dataset, or read_image
    for one image) refuses with a DataError saying text."""
    def case(t: Path) -> tuple[Callable, type, str]:
        p = t / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return lambda: read(p), DataError, text
    return case


c_zero_byte = file_case("z.png", b"", "z.png: empty file", read_image)
c_text_as_png = file_case("readme.png", "this is not an image\n", "readme.png: not a readable image", read_image)
c_png_header_only = file_case("hdr.png", b"\x89PNG\r\n\x1a\n", "hdr.png", read_image)
def c_truncated_png(t):
    p = t / "t.png"
    p.write_bytes(png_bytes(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))[:200])
    return lambda: read_image(p), DataError, "t.png: truncated or corrupt"


def c_truncated_jpeg(t):
    p = t / "t.jpg"
    p.write_bytes(png_bytes(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), "JPEG")[:600])
    return lambda: read_image(p), DataError, "t.jpg: truncated or corrupt"


def c_random_bytes_jpg(t):
    p = t / "noise.jpg"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8).tobytes())
    return lambda: read_image(p), DataError, "noise.jpg"


def c_float_tiff_out_of_range(t):
    p = t / "f.tif"
    Image.fromarray(np.full((4, 4), -3.5, np.float32)).save(p)
    return lambda: read_image(p), DataError, "f.tif: float image values must lie in [0, 1] or [0, 255], found [-3.5"


def c_float_tiff_nan(t):
    p = t / "nan.tif"
    Image.fromarray(np.full((4, 4), np.nan, np.float32)).save(p)
    return lambda: read_image(p), DataError, "nan.tif: float image contains NaN"


def c_directory_named_png(t):
    p = t / "dir.png"
    p.mkdir()
    return lambda: read_image(p), DataError, "dir.png: not a regular file"


def c_mixed_sizes_error(t):
    root = tree(t / "d", n=2)
    (root / "b" / "big.png").write_bytes(png_bytes(np.zeros((9, 8), np.uint8)))
    return lambda: load_dataset(root, resize="error"), DataError, "big.png: image size 8x9 differs"


def c_empty_folder(t):
    (t / "empty").mkdir()
    return lambda: load_dataset(t / "empty"), DataError, "empty: no image files"


def c_no_class_dirs(t):
    (t / "flat").mkdir()
    (t / "flat" / "1.png").write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    # auto-detection reads loose images as an unlabelled pile; asking for classes explains what is missing
    return lambda: load_dataset(t / "flat", "folder"), DataError, "flat: no class subfolders"


def c_empty_class_dir(t):
    root = tree(t / "d", n=2)
    (root / "c").mkdir()
    (root / "c" / "notes.txt").write_text("x")
    return lambda: load_dataset(root), DataError, "c: class folder contains no image files"


def c_bad_file_in_tree(t):
    root = tree(t / "d", n=2)
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    return lambda: load_dataset(root), DataError, "broken.jpg"


def c_unknown_normal(t):
    root = tree(t / "d")
    return (lambda: build_split(DataConfig(data=str(root), normal=("zebra",))), DataError,
            "normal class 'zebra' does not exist; available classes: 0=a, 1=b")


def c_unknown_excluded(t):
    root = tree(t / "d")
    return (lambda: build_split(DataConfig(data=str(root), normal=("a",), exclude_classes=("7",))), DataError,
            "excluded class '7' does not exist")


def c_too_few_normal(t):
    root = tree(t / "d", n=10)
    return (lambda: build_split(DataConfig(data=str(root), normal=("a",))), DataError,
            "only 8 training images of the normal class")


def c_not_enough_anomalies(t):
    p = npz(t / "few.npz", x=np.zeros((40, 8, 8), np.uint8), y=np.array([0] * 38 + [1] * 2))
    return (lambda: build_split(DataConfig(data=str(p), normal=("0",), contamination=0.5)), DataError,
            "few.npz: contamination 0.5 needs 30 anomalous")


c_npz_ndim2 = npz_case("flat.npz", "flat.npz:x: image array must have 3", x=np.zeros((20, 64), np.uint8), y=Y)
c_npz_ndim5 = npz_case("five.npz", "five.npz:x: image array must have 3", x=np.zeros((2, 20, 8, 8, 3), np.uint8), y=Y)
c_npz_complex = npz_case("cplx.npz", "cplx.npz:x: image array has unsupported dtype complex64",
                         x=np.zeros((20, 8, 8), np.complex64), y=Y)
c_npz_strings = npz_case("str.npz", "str.npz:x: image array has unsupported dtype", x=np.full((20, 8, 8), "a"), y=Y)
c_npz_bool = npz_case("bool.npz", "bool.npz:x: image array has unsupported dtype bool", x=np.zeros((20, 8, 8), bool),
                      y=Y)
c_npz_missing_x = npz_case("nox.npz", "nox.npz: missing image array: expected key x or x_train (it holds ", images=X,
                           y=Y)
c_labels_length = npz_case("len.npz", "len.npz: labels 'y' has 19 entries but there are 20 images", x=X,
                           y=np.arange(19) % 2)
c_labels_2d = npz_case("y2.npz", "y2.npz: labels 'y' must be 1-D, got shape (20, 2)", x=X, y=np.stack([Y, Y], 1))
c_labels_float = npz_case("yf.npz", "yf.npz: labels 'y' must be integers", x=X, y=Y.astype(np.float32))
c_labels_negative = npz_case("neg.npz", "neg.npz: labels 'y' contain negative values", x=X, y=Y - 5)
c_labels_beyond_names = npz_case("names.npz", "names.npz: labels go up to 4 but class_names has only 2", x=X, y=Y + 3,
                                 class_names=np.array(["a", "b"]))
c_class_names_2d = npz_case("cn.npz", "cn.npz: class_names must be a 1-D string array", x=X, y=Y,
                            class_names=np.array([["a", "b"]]))
# (two classes of one name: --normal a took the first, and the second one's images were anomalies)
c_class_names_twice = npz_case("dup.npz", "dup.npz: class_names names 'a' twice (classes 0 and 1): give each class "
                               "a name of its own", x=X, y=Y, class_names=np.array(["a", "a"]))
# (labels that are no class indices, e.g. ids: one class name was made per value up to the largest, and with labels
# up to 2**40 the read was killed for memory without a word)
c_labels_far_beyond_images = npz_case("ids.npz", "ids.npz: labels go up to 1000001 without class_names, more "
                                      "classes than images (20)", x=X, y=Y + 10**6)
c_float_out_of_range = npz_case("pm1.npz", "pm1.npz:x: float image values must lie in [0, 1] or [0, 255]",
                                x=np.full((20, 8, 8), -0.5, np.float32), y=Y)
c_int_out_of_range = npz_case("i32.npz", "i32.npz:x: integer image values must lie in 0..255",
                              x=np.full((20, 8, 8), 70000, np.int32), y=Y)
c_ambiguous_layout = npz_case("amb.npz", "amb.npz:x: ambiguous image array shape", x=np.zeros((20, 3, 8, 1), np.uint8),
                              y=Y)
c_no_channel_axis = npz_case("c5.npz", "c5.npz:x: image array shape (20, 8, 8, 5) has no channel axis",
                             x=np.zeros((20, 8, 8, 5), np.uint8), y=Y)
c_bad_is_anomaly = npz_case("ia.npz", "ia.npz: 'is_anomaly' must be 1-D 0/1", x=X, y=Y, is_anomaly=np.full(20, 2))


def c_npz_nan(t):
    x = np.zeros((20, 8, 8), np.float32)
    x[3, 2, 2] = np.nan
    p = npz(t / "nan.npz", x=x, y=Y)
    return lambda: load_dataset(p), DataError, "nan.npz:x: image array contains NaN or inf"


def c_npz_inf(t):
    x = np.zeros((20, 8, 8), np.float64)
    x[0, 0, 0] = np.inf
    p = npz(t / "inf.npz", x_train=x, y_train=Y)
    return lambda: load_dataset(p), DataError, "inf.npz:x_train: image array contains NaN or inf"


def c_npz_missing_y(t):
    p = npz(t / "noy.npz", x_train=X, x_test=X)
    # (with --dataset auto, image arrays without labels are an unlabelled pile: tests/integration/test_unlabelled_cli)
    return lambda: load_dataset(p, "npz"), DataError, "noy.npz: missing labels y_train for images x_train (it holds "


def c_npz_object_array(t):
    marker = t / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    arr = np.empty(20, dtype=object)
    arr[:] = [Evil() for _ in range(20)]
    p = t / "obj.npz"
    np.savez(p, x=X, y=arr)  # numpy pickles object arrays when saving

    def call():
        try:
            load_dataset(p)
        finally:
            assert not marker.exists(), "the object array was unpickled"

    return call, DataError, "obj.npz: array 'y' is an object array; refusing"


c_npz_not_zip = file_case("garbage.npz", b"PK\x03\x04 not really a zip", "garbage.npz: not a readable .npz")
# not np.load's "contains pickled data ... allow_pickle" advice: pickles are never read
c_npz_text_file = file_case("notes.npz", "just some text, not arrays", "notes.npz: not an .npz file")


def c_npz_truncated(t):
    p = npz(t / "cut.npz", x=np.random.default_rng(0).integers(0, 255, (50, 16, 16), dtype=np.uint8), y=np.zeros(50))
    p.write_bytes(p.read_bytes()[:3000])
    # not zipfile's 'File is not a zip file', which sent the user looking for a wrong format
    return lambda: load_dataset(p), DataError, "cut.npz: not a readable .npz file: truncated (it starts as a zip"


def c_npy_not_npz(t):
    p = t / "arr.npz"
    with open(p, "wb") as f:
        np.save(f, X)
    return lambda: load_dataset(p), DataError, "arr.npz: is a single .npy array"


def c_missing_path(t):
    return lambda: load_dataset(t / "nowhere"), DataError, "nowhere: no such file or folder"


c_single_image_as_dataset = file_case("one.png", png_bytes(np.zeros((4, 4), np.uint8)),
                                      "one.png: a single image is not a data set")
c_unsupported_file = file_case("data.csv", "1,2,3", "data.csv: unsupported data file")
c_corrupt_tar = file_case("bad.tar.gz", b"\x1f\x8b\x08\x00garbage", "bad.tar.gz: not a readable tar archive")
c_text_named_tar = file_case("fake.tar.gz", "hi\n", "fake.tar.gz: not a tar archive (neither a gzip, bz2 or xz")


def c_gzip_of_no_tar(t):
    import gzip

    p = t / "notar.tgz"
    p.write_bytes(gzip.compress(b"hello, not a tar"))
    return lambda: load_dataset(p), DataError, "notar.tgz: not a readable tar archive or truncated (gzip-compressed"


@pytest.mark.parametrize("name, data", [("fake.tar.gz", b"hi\n"), ("bad.tar.gz", b"\x1f\x8b\x08\x00garbage"),
                                        ("x.tar.bz2", b"BZh9garbage"), ("x.tar.xz", b"\xfd7zXZ\x00garbage"),
                                        ("x.tar", b"\0" * 100), ("empty.tgz", b"")])
def test_a_bad_tar_is_one_line(tmp_path, name, data):
    # tarfile's own message lists each compression it tried, one line each: the user gets one line naming the file
    (tmp_path / name).write_bytes(data)
    for call in (lambda: load_dataset(tmp_path / name), lambda: build_split(DataConfig(data=str(tmp_path / name)))):
        with pytest.raises(DataError) as e:
            call()
        assert "\n" not in str(e.value) and str(e.value).startswith(f"{tmp_path / name}: ")


def _tar_with(t: Path, name: str, member: tarfile.TarInfo, data: bytes | None = None) -> Path:
    p = t / name
    with tarfile.open(p, "w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return p


def c_tar_dotdot(t):
    data = png_bytes(np.zeros((4, 4), np.uint8))
    m = tarfile.TarInfo("train/a/../../../escape.png")
    m.size = len(data)
    p = _tar_with(t, "dotdot.tar.gz", m, data)
    return lambda: load_dataset(p, cache_dir=str(t / "cache")), DataError, "dotdot.tar.gz: refusing archive member"


def c_tar_absolute(t):
    data = b"x"
    m = tarfile.TarInfo("/tmp/wildgan-abs-evil.png")
    m.size = 1
    p = _tar_with(t, "abs.tar.gz", m, data)
    return (lambda: load_dataset(p, cache_dir=str(t / "cache")), DataError,
            "abs.tar.gz: refusing archive member with an absolute path")


def c_tar_symlink(t):
    m = tarfile.TarInfo("train/a/link.png")
    m.type = tarfile.SYMTYPE
    m.linkname = "/etc/passwd"
    p = _tar_with(t, "link.tar.gz", m)
    return (lambda: load_dataset(p, cache_dir=str(t / "cache")), DataError,
            "link.tar.gz: refusing archive member that is not a plain file")


def c_cifar_bad_shape(t):
    from wildgan.data.dataset_files import CIFAR_BATCH_FILES
    d = t / "cifar-10-batches-py"
    d.mkdir()
    for f in CIFAR_BATCH_FILES:
        (d / f).write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=3))
    return lambda: load_dataset(d), DataError, "data_batch_1: 'data' must be a uint8 array of shape (N, 3072)"


def c_cifar_not_dict(t):
    from wildgan.data.dataset_files import CIFAR_BATCH_FILES
    d = t / "cifar-10-batches-py"
    d.mkdir()
    for f in CIFAR_BATCH_FILES:
        (d / f).write_bytes(pickle.dumps([1, 2, 3], protocol=3))
    return lambda: load_dataset(d), DataError, "data_batch_1: not a CIFAR-10 batch"


def c_cifar_missing_batch(t):
    d = t / "cifar-10-batches-py"
    d.mkdir()
    (d / "data_batch_1").write_bytes(b"")
    return lambda: load_dataset(d, "cifar-batches"), DataError, "cifar-10-batches-py: not a complete"


def c_load_images_empty_folder(t):
    (t / "none").mkdir()
    return lambda: load_images([t / "none"], 8, 1), DataError, "none: folder contains no image files"


def c_bad_resolution(t):
    root = tree(t / "d")
    return lambda: load_images([root], 24, 1), ConfigError, "power of two"


def c_contamination_range(t):
    return lambda: DataConfig(contamination=1.0), ConfigError, "contamination must be in [0, 1)"


def fake_run(t: Path) -> Path:
    """What `wildgan train` leaves in a run folder that matters here: its config, split and images of its own."""
    run = t / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "samples").mkdir()
    (run / "config.json").write_text('{"data": {"data": "/data/cells.npz"}, "net": {"resolution": 64}, "train": {}}')
    (run / "split.json").write_text('{"source": "/data/cells.npz"}')
    (run / "samples" / "fakes-000001.000kimg.png").write_bytes(png_bytes(np.zeros((64, 64), np.uint8)))
    return run


def c_run_folder_as_training_data(t):
    # read as a class tree it was 'run/checkpoints: class folder contains no image files'
    run = fake_run(t)
    return lambda: load_dataset(run), DataError, "run: is a wildgan run directory"


def c_run_folder_as_images(t):
    # read as a pile it scored the run's sample grids without a word
    run = fake_run(t)
    return lambda: load_images([run], 8, 1), DataError, "trained on /data/cells.npz"


def c_study_folder_as_data(t):
    study = t / "study"
    tree(study / "runs", n=1)
    (study / "results.jsonl").write_text("")
    return lambda: load_dataset(study), DataError, "study: is a wildgan study directory"


def _idx_bytes(a: np.ndarray) -> bytes:
    """a as MNIST's idx file holds it: magic 0, 0, 8 (uint8), ndim, the big-endian sizes, then the bytes."""
    return bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, ">u4").tobytes() + a.astype(np.uint8).tobytes()


def _mnist_idx(folder: Path, gz: bool = True) -> Path:
    """MNIST's four files as its download has them (gzipped) or unzipped, of a few tiny digits."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("t10k", 6)):
        for kind, a in (("images-idx3", rng.integers(0, 256, (n, 28, 28))), ("labels-idx1", np.arange(n) % 10)):
            data = _idx_bytes(np.asarray(a))
            name = f"{split}-{kind}-ubyte"
            (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return folder


# MNIST's own download: refused as 'no image files' / 'unsupported data file', without naming what they are
def c_mnist_idx_folder(t):
    folder = _mnist_idx(t / "mnist")
    return (lambda: load_dataset(folder), DataError,
            "found MNIST's idx files (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz),"
            " which wildgan does not read: convert MNIST's idx files to one .npz")


def c_mnist_idx_folder_unlabelled(t):
    folder = _mnist_idx(t / "mnist", gz=False)
    return (lambda: load_dataset(folder, "unlabelled"), DataError,
            "folder contains no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .gif, .jfif, .jpe, .pjpeg, "
            ".apng, .ppm, .pgm, .pbm, .pnm); found MNIST's idx files (t10k-images-idx3-ubyte,")


def c_mnist_idx_file(t):
    p = _mnist_idx(t / "mnist") / "train-images-idx3-ubyte.gz"
    return (lambda: load_dataset(p), DataError,
            "train-images-idx3-ubyte.gz: unsupported data file; expected an image-folder tree, cifar-10-batches-py, "
            "an .npz or a .tar.gz or .zip of an image-folder tree; found MNIST's idx file (train-images-idx3-ubyte.gz)")


def c_mnist_idx_torchvision_layout(t):
    # torchvision's download (MNIST/raw/*.gz) read as a tree of one class folder
    _mnist_idx(t / "mnist" / "MNIST" / "raw")
    return (lambda: load_dataset(t / "mnist", "mnist"), DataError,
            "raw: class folder contains no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .gif, .jfif, "
            ".jpe, .pjpeg, .apng, .ppm, .pgm, .pbm, .pnm); found MNIST's idx files (t10k-images-idx3-ubyte.gz,")


def c_mnist_idx_folder_to_score(t):
    from wildgan.data.readers import list_image_files

    folder = _mnist_idx(t / "mnist")
    return (lambda: list_image_files([folder]), DataError,
            "mnist: folder contains no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .gif, .jfif, .jpe, "
            ".pjpeg, .apng, .ppm, .pgm, .pbm, .pnm); found MNIST's idx files (t10k-images-idx3-ubyte.gz,")


# one batch file named as the data set: 'unsupported data file', which did not say what it is or which path to give
c_one_cifar_batch_file = file_case("data_batch_1", pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}),
                                   "data_batch_1: one file of CIFAR-10's batches, not a data set: pass the folder "
                                   "that holds them all, data=")


def _cifar100(folder: Path) -> Path:
    """CIFAR-100's python files as its download has them (train, test, meta, pickled with bytes keys), of a few tiny
    images: train's fine label i % 5 and coarse label i % 2, test's the same."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", 10), ("test", 4)):
        d = {b"filenames": [b"x_%d.png" % i for i in range(n)], b"batch_label": b"training batch 1 of 1",
             b"fine_labels": [i % 5 for i in range(n)], b"coarse_labels": [i % 2 for i in range(n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(d, protocol=2))
    meta = {b"fine_label_names": [b"apple", b"bear", b"cloud", b"dolphin", b"elephant"],
            b"coarse_label_names": [b"fish", b"flowers"]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


_C100 = ("it looks like CIFAR-100's python files (train, test, meta), which wildgan does not read: convert them to "
         "one .npz of x_train, y_train, x_test, y_test and class_names, with the fine labels (100 classes) or the "
         "coarse ones (20 superclasses), and pass that (docs/data.md, \"CIFAR-100's python files\")")


# CIFAR-100's python download: refused as 'no image files ... and no class subfolders', without naming what it is
def c_cifar100_folder(t):
    folder = _cifar100(t / "cifar-100-python")
    return lambda: load_dataset(folder), DataError, f"and no class subfolders; {_C100}"


def c_cifar100_folder_unlabelled(t):
    folder = _cifar100(t / "cifar-100-python")
    return (lambda: load_dataset(folder, "unlabelled"), DataError,
            ".pbm, .pnm); " + _C100)


def c_cifar100_folder_as_a_class_folder(t):
    # (as in a folder holding the download: the archive unpacked beside it, or a .tar.gz of it)
    _cifar100(t / "c" / "cifar-100-python")
    return (lambda: load_dataset(t / "c"), DataError,
            "cifar-100-python: class folder contains no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, "
            ".gif, .jfif, .jpe, .pjpeg, .apng, .ppm, .pgm, .pbm, .pnm); " + _C100)


def c_cifar100_file(t):
    p = _cifar100(t / "cifar-100-python") / "train"
    return (lambda: load_dataset(p), DataError,
            "cifar-100-python/train: one of CIFAR-100's python files (train, test, meta), not a data set, which "
            "wildgan does not read: convert them")


CASES: dict[str, Callable] = {k[2:]: v for k, v in sorted(globals().items()) if k.startswith("c_")}


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_malformed(tmp_path, case):
    call, err, text = case(tmp_path)
    with pytest.raises(err) as info:
        call()
    assert type(info.value) is err  # the exact class, not a subclass or a stray OSError
    assert text in str(info.value), str(info.value)


# -------------------------------------------------------------------------------------------- converted, not refused
def write(path: Path, img: Image.Image, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("name,make,channels", [
    ("g16.png", lambda: Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000), 1),
    ("g16.tif", lambda: Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000), 1),
    ("cmyk.jpg", lambda: Image.new("CMYK", (8, 8), (10, 20, 30, 40)), 3),
    ("pal.png", lambda: Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))
     .convert("P", palette=Image.Palette.ADAPTIVE), 3),
    ("rgba.png", lambda: Image.new("RGBA", (8, 8), (200, 100, 50, 128)), 3),
    ("la.png", lambda: Image.new("LA", (8, 8), (200, 128)), 1),
    ("bw.png", lambda: Image.new("1", (8, 8), 1), 1),
    ("ptrans.png", lambda: Image.new("P", (8, 8), 3), 1),
])
def test_convertible_images(tmp_path, name, make, channels):
    img = make()
    kw = {"transparency": 3} if name == "ptrans.png" else {}
    p = write(tmp_path / name, img, **kw)
    a = read_image(p)
    assert a.dtype == np.uint8 and a.shape == (8, 8, channels)
    if name.startswith("g16"):
        assert a.min() == 0 and a.max() == 255  # per-image stretch
    if name == "rgba.png":
        assert a[0, 0].tolist() == [100, 50, 25]  # composited on black
    if name == "ptrans.png":
        assert a.max() == 0  # fully transparent -> black


def test_depth16_global_through_config(tmp_path):
    root = tmp_path / "d"
    for c, v in (("a", 1000), ("b", 60000)):
        for i in range(20):
            write(root / c / f"{i}.png", Image.fromarray(np.full((8, 8), v, np.uint16)))
    s = build_split(DataConfig(data=str(root), normal=("a",), depth16="global", resolution=8))
    assert int(s.train_x.max()) == round(1000 / 257)
    s = build_split(DataConfig(data=str(root), normal=("a",), depth16="shift", resolution=8))
    assert int(s.train_x.max()) == 1000 >> 8


def test_every_unreadable_file_is_named_at_once(tmp_path):
    """A pile with several bad files: one error names them all, so a user fixes them in one go."""
    from PIL import Image as _Image

    d = tmp_path / "pile"
    d.mkdir()
    for i in range(3):
        _Image.fromarray(np.zeros((8, 8), np.uint8)).save(d / f"ok{i}.png")
    for name in ("bad1.png", "bad2.jpg", "bad3.png"):
        (d / name).write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"3 unreadable image files.*bad1\.png.*bad2\.jpg.*bad3\.png"):
        load_dataset(d)


def test_decoding_stops_after_100_unreadable_files(tmp_path):
    d = tmp_path / "junk"
    d.mkdir()
    for i in range(130):
        (d / f"f{i:03d}.png").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"100 unreadable image files \(stopped at 100: is this the right folder\?\)"):
        load_dataset(d)


def test_resize_error_still_refuses_mixed_big_photos(tmp_path):
    """The automatic 256 px cap must not hide mixed sizes from --resize error."""
    from PIL import Image as _Image

    d = tmp_path / "photos"
    d.mkdir()
    _Image.fromarray(np.zeros((300, 300), np.uint8)).save(d / "a.png")
    _Image.fromarray(np.zeros((400, 400), np.uint8)).save(d / "b.png")
    with pytest.raises(DataError, match="mixed sizes are not allowed with resize='error'; use resize='resize'"):
        load_dataset(d, resize="error")


def test_a_broken_symlink_as_data_is_named_as_one(tmp_path) -> None:
    # 'no such file or folder' for a link whose target is gone (a moved data set, an unmounted disk) sent the user
    # looking for the link itself
    from wildgan.cli import main
    from wildgan.data.readers import load_dataset, load_images

    link = tmp_path / "data"
    link.symlink_to(tmp_path / "gone")
    want = r"data: a symbolic link to .*gone, which does not exist"
    with pytest.raises(DataError, match=want):
        load_dataset(link)
    with pytest.raises(DataError, match=want):
        load_images([link], 8, 1)
    assert main(["train", "--data", str(link), "--out", str(tmp_path / "run")]) == 2


@pytest.mark.parametrize("gz", [True, False])
def test_the_documented_idx_conversion_reads_as_mnist(tmp_path, gz, monkeypatch):
    # the refusal of MNIST's idx files sends the user to docs/data.md's recipe: it must run as printed, on the
    # gzipped download and (the .gz dropped from its names, as the docs say) on the unzipped files, and give an .npz
    # that reads as the digits it was made of
    from markdown_blocks import python_blocks, readme_section
    from repo_root import REPO

    folder = _mnist_idx(tmp_path / "mnist", gz=gz)
    section = readme_section((REPO / "docs" / "data.md").read_text(encoding="utf-8"), "### MNIST's idx files")
    assert section is not None, "docs/data.md has no section \"### MNIST's idx files\", which the refusal names"
    (code,) = python_blocks(section)
    if not gz:
        code = code.replace("-ubyte.gz", "-ubyte")
    monkeypatch.chdir(folder)
    exec(compile(code, "docs/data.md", "exec"), {})
    train, test, _ = load_dataset(folder / "mnist.npz", "mnist")
    import gzip

    raw = (folder / ("train-images-idx3-ubyte" + (".gz" if gz else ""))).read_bytes()
    x = np.frombuffer(gzip.decompress(raw) if gz else raw, np.uint8, offset=16).reshape(12, 28, 28)
    assert len(train.y) == 12 and len(test.y) == 6
    assert np.array_equal(np.asarray(train.x)[..., 0], x)
    assert list(train.y) == list(np.arange(12) % 10)


def test_a_column_of_labels_reads_as_its_1d_labels(tmp_path):
    # Keras' datasets give labels as a column (cifar10.load_data(): y_train of shape (50000, 1)), which an np.savez
    # of them keeps: refused as 'must be 1-D', where it holds one label per image all the same
    rng = np.random.default_rng(0)
    x, xt = rng.integers(0, 256, (80, 8, 8, 3), dtype=np.uint8), rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    y, yt = np.arange(80) % 4, np.arange(20) % 4
    (tmp_path / "flat").mkdir()
    (tmp_path / "col").mkdir()
    flat = npz(tmp_path / "flat" / "d.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    col = npz(tmp_path / "col" / "d.npz", x_train=x, y_train=y.astype(np.uint8)[:, None], x_test=xt,
              y_test=yt.astype(np.uint8)[:, None])
    (a, at, _), (b, bt, _) = load_dataset(flat), load_dataset(col)
    assert list(b.y) == list(a.y) and list(bt.y) == list(at.y)
    sa = build_split(DataConfig(data=str(flat), normal=("1",)))
    sb = build_split(DataConfig(data=str(col), normal=("1",)))
    assert sb.train_ids == sa.train_ids and np.array_equal(sb.train_x, sa.train_x)
    assert sb.test_ids == sa.test_ids and list(sb.test_y) == list(sa.test_y) and sb.test_classes == sa.test_classes


@pytest.mark.parametrize("labels", ["fine", "coarse"])
def test_the_documented_cifar100_conversion_reads_its_classes(tmp_path, labels, monkeypatch):
    # the refusal of CIFAR-100's python files sends the user to docs/data.md's recipe: it must run as printed, with
    # the fine labels or (LABELS = "coarse", as the docs say) the coarse ones, and give an .npz that reads as the
    # images and the classes, by name, it was made of
    from markdown_blocks import python_blocks, readme_section
    from repo_root import REPO

    folder = _cifar100(tmp_path / "cifar-100-python")
    section = readme_section((REPO / "docs" / "data.md").read_text(encoding="utf-8"), "### CIFAR-100's python files")
    assert section is not None, "docs/data.md has no section \"### CIFAR-100's python files\", which the refusal names"
    (code,) = python_blocks(section)
    assert 'LABELS = "fine"' in code
    code = code.replace('LABELS = "fine"', f'LABELS = "{labels}"')
    monkeypatch.chdir(folder)
    exec(compile(code, "docs/data.md", "exec"), {})
    train, test, _ = load_dataset(folder / "cifar100.npz")
    d = pickle.loads((folder / "train").read_bytes(), encoding="bytes")
    x = d[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert len(train.y) == 10 and len(test.y) == 4
    assert np.array_equal(np.asarray(train.x), x)
    names = (["apple", "bear", "cloud", "dolphin", "elephant"] if labels == "fine" else ["fish", "flowers"])
    k = 5 if labels == "fine" else 2
    assert [train.class_names[int(v)] for v in train.y] == [names[i % k] for i in range(10)]


def test_labels_of_a_few_images_out_of_thousands_of_classes_are_read(tmp_path):
    # (a sample of a many-class data set, e.g. 20 images of iNaturalist's 10,000 classes with raw labels, is sound
    # data: the refusal of id-like labels was set at 1,000 classes and refused it)
    y = np.arange(20) * 499          # labels up to 9,481: 9,482 classes, 20 of them used
    data, _, _ = load_dataset(npz(tmp_path / "many.npz", x=X, y=y))
    assert len(data.class_names) == 9482 and list(np.unique(data.y)) == list(y)
