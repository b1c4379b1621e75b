"""Readers, the entry point: where the data is (resolve_data_root), what format it has (detect_format),
image-folder trees and unlabelled piles (plain or in a tar or zip archive, with its decoded cache), load_dataset,
and image files to score (list_image_files, load_images, iter_images).

Every reader returns ImageSet objects holding uint8 NHWC pixels; all bad input ends in one DataError that names the
file (or array) and the problem. The rest of the reading lives beside this module, each importing only the ones
before it: imageset (ImageSet, the read options, the warnings about a set read), dataset_files (CIFAR-10 batches,
.npz, tar and zip archives), image_decode (one image file), decode_pool (many files, in a pool of processes; memory).
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Collection, ContextManager, Iterable, Iterator, Mapping, Sequence

import numpy as np
from PIL import Image

from ..config import SAMPLE_TOKEN, is_sample_path
from ..errors import (SPLIT_CLASSES, ConfigError, DataError, WildganError, WildganWarning, moved_name, option_words,
                      shell_word, warn_user)
from ..fileio import atomic_write_stream
from .dataset_files import (CIFAR_BATCH_FILES, cifar_batch_class_names, dataset_among_images_error, dataset_file_kind,
                            every_image_way, is_archive, named_in_archive, npz_has_labels, npz_labels,
                            read_cifar_batches, read_cifar_unlabelled, read_npz, read_npz_unlabelled)
from .decode_pool import (MAX_NAMED_BAD_FILES, decode_files, job_decode_pool, mixed_sizes_refused, stack,
                          unreadable_files_error, warn_if_no_room)
from .download import (CIFAR10_ARCHIVE, CIFAR10_FOLDER, UnreadableArchive, archive_member_names, cache_root,
                       cifar_lacks, download_cifar10, is_cifar_download_leftover, unpack_cached, unpacked_already)
from .image_decode import IMAGE_EXTS, NPY_HINT, OTHER_IMAGE_EXTS, header_opens, read_image
from .imageset import (DECODE_CACHE_VERSION, ImageSet, MixedSizes, Opts, crop_warning, depth_warning, merge_stats,
                       native_sides, parse_opts, recording_data_warnings, resize_warning, say_again, scale_warning,
                       scoring_depth16, shrink_uniform, tiny_images_warning, warn_crop, warn_decode_stats, warn_of_data,
                       words_key)
from .transforms import check_resolution, convert, count_gray_held, gray_held_mask


# folder names skipped wherever folders are walked, like hidden entries: macOS zip leftovers (__MACOSX/ holds
# '._name' resource forks beside the real images, and would turn a pile into a labelled tree)
# folders that file systems and file servers add beside the user's images, never data: macOS zip leftovers, a Synology
# NAS's thumbnails of every photo (@eaDir/IMG_0001.jpg/SYNOPHOTO_THUMB_*.jpg, which read as more images: each photo
# trained on again at 2-5 sizes), its recycle bin and snapshots (whole earlier copies of the share), and a Windows
# drive's recycle bin and system folder (a USB stick of photos)
_SKIPPED_DIRS = frozenset({"__MACOSX", "@eaDir", "#recycle", "#snapshot", "$RECYCLE.BIN", "System Volume Information"})


def _hidden(name: str) -> bool:
    """A hidden file or folder (.name), or a folder of _SKIPPED_DIRS: never read."""
    return name.startswith(".") or name in _SKIPPED_DIRS


def _skipped_dir(path: str | Path) -> bool:
    """A sub-folder never read as data: hidden, of _SKIPPED_DIRS, a CIFAR-10 download's own leftover (a
    cifar-10-batches-py cut short that it moved aside: is_cifar_download_leftover), or a wildgan run or study. A run
    that an older wildgan wrote inside its own data folder (train now refuses that, but resumes such a run) would
    otherwise add its sample grids and figures to the data, make a pile read as a labelled tree, and change the split
    a resume checks; the download's folder moved aside was read as a class folder without images, which refused
    the folder it was downloaded into."""
    p = Path(path)
    return _hidden(p.name) or is_cifar_download_leftover(p.name) or is_run_dir(p) or is_study_dir(p)


def _skipped_file(name: str) -> bool:
    """A file never read as data: hidden (.name), or one a CIFAR-10 download leaves beside the data set (its partial
    download: is_cifar_download_leftover, the names' one definition). Each leftover file's name starts with a dot
    today; asked by name all the same, so that a pattern of the download's without one is not read as data."""
    return name.startswith(".") or is_cifar_download_leftover(name)


DATASETS = ("auto", "cifar10", "chula-rbc12", "mnist", "folder", "npz", "cifar-batches", "unlabelled")
# what load_dataset returns as the format of a data set
FORMATS = ("folder", "folder-tar", "cifar-batches", "npz", "unlabelled-folder", "unlabelled-tar", "unlabelled-npz",
           "unlabelled-cifar-batches")
SAMPLE_NAME = "mnist-sample.npz"


# ------------------------------------------------------------------------------------------------ data root
def default_sample_path() -> Path:
    """The embedded MNIST sample shipped inside the package (see data/sample/SOURCE.md)."""
    return Path(__file__).resolve().parent / "sample" / SAMPLE_NAME


# the data sets with a protocol of their own: with no --data, $WILDGAN_DATA/<name>/ is where a data root keeps them
_ROOT_DATASETS = ("cifar10", "chula-rbc12", "mnist")
# those of them only an .npz can hold (chula-rbc12: its photo ids, data.splits._not_the_protocol)
_NPZ_ONLY_DATASETS = ("chula-rbc12",)


def data_source_path(path: str | Path | None, dataset: str = "auto", cache_dir: str | Path | None = None) -> Path:
    """Where load_dataset(path, dataset) reads the data: resolve_data_root's, but for --dataset cifar10 without --data
    or $WILDGAN_DATA the folder --download fetches CIFAR-10 into (cache_dir, else the cache's cifar10/), where
    resolve_data_root gives the embedded sample (which a download study's re-run then called its data)."""
    if path in (None, "") and not os.environ.get("WILDGAN_DATA") and dataset == "cifar10":
        return Path(cache_dir) if cache_dir else cache_root() / "cifar10"
    return resolve_data_root(path, dataset)


def resolve_data_root(path: str | Path | None, dataset: str = "auto") -> Path:
    """Where the data is: --data PATH, else $WILDGAN_DATA, else the embedded sample.

    $WILDGAN_DATA is the default data root. It may be a data set itself (a folder of images, an .npz ...); it may
    also hold several: a relative --data PATH that does not exist from the current folder is looked up under it
    (`--data cifar10/cifar-10-python.tar.gz`), and without --data, `--dataset cifar10|chula-rbc12|mnist` takes
    $WILDGAN_DATA/<dataset>/: the one data set in that folder (several: a DataError lists them; for chula-rbc12 an
    archive beside an .npz is not one, see _NPZ_ONLY_DATASETS)."""
    env = os.environ.get("WILDGAN_DATA")
    root = Path(env).expanduser() if env else None
    if path is not None and str(path) != "":
        return under_data_root(path)
    if root is None:
        return default_sample_path()
    sub = root / dataset
    if dataset in _ROOT_DATASETS and sub.is_dir() and not _looks_like_dataset(root):
        found = [q for q in sorted(sub.iterdir()) if not q.name.startswith(".") and
                 (q.suffix.lower() == ".npz" or is_archive(q) or (q.is_dir() and q.name == "cifar-10-batches-py"))]
        batches = [q for q in found if q.name == "cifar-10-batches-py"]
        if batches:            # the download's usual layout: the archive and the folder unpacked from it, one data set
            return batches[0]
        npz = [q for q in found if q.suffix.lower() == ".npz"]
        if dataset in _NPZ_ONLY_DATASETS and npz:
            # its protocol splits by photo, whose ids only an .npz holds (an archive of images has none): an archive
            # beside one is the download it was prepared from (Chula-RBC-12-Dataset-main.zip), not a second data set
            # of it; refused as one once zips were read as data, though the folder had worked before
            found = npz
        if len(found) > 1:
            first = f"{dataset}/{found[0].name}"
            raise DataError(f"{sub}: {len(found)} data sets for {_dataset_words(dataset)} under $WILDGAN_DATA "
                            f"({', '.join(q.name for q in found)}): choose one, e.g. "
                            f"{option_words(f'--data {shell_word(first)}', f'data={first!r}')}")
        return found[0] if found else sub
    held = [d.name for d in _subdirs(root) if d.name in _ROOT_DATASETS] if root.is_dir() else []
    if held and not _looks_like_dataset(root):
        # a root of several data sets (its cifar10/, mnist/ ...), without --data or --dataset NAME to choose: it
        # would otherwise be read as one tree of class folders named after the data sets
        pick = (f"{_dataset_words(dataset)} finds none under it ({sub} does not exist); " if dataset in _ROOT_DATASETS
                else "")
        raise DataError(f"$WILDGAN_DATA ({root}) holds data sets ({', '.join(held)}): {pick}choose one with "
                        f"{_dataset_words(held[0])} or {_data_words(f'{held[0]}/FILE')}")
    if dataset in _ROOT_DATASETS and root.is_dir() and not _looks_like_dataset(root) and not _holds_data(root):
        # read as one tree of class folders, it failed on the first sub-folder without images, naming a folder the
        # user never meant as a class, when what is missing is the data set --dataset names
        fetch = (f" (with {option_words('--download', 'download=True')} to fetch CIFAR-10 there: "
                 f"{option_words(f'--data {shell_word(sub)} --download', f'data={str(sub)!r}, download=True')})"
                 if dataset == "cifar10" else "")
        raise DataError(f"$WILDGAN_DATA ({root}): {_dataset_words(dataset)} finds no {sub}, and {root} holds no data "
                        f"set itself (no image, .npz or archive files in it): put the data set in {sub}, or pass "
                        f"{_data_words('PATH')}{fetch}")
    return root


def _holds_data(root: Path) -> bool:
    """Whether any file below root is one a data set is made of (an image, an .npz, an archive, CIFAR's batches),
    among the files the readers read: walked as walk_data_folder walks a data folder, so what they skip is skipped
    here too (hidden entries, a CIFAR-10 download's leftovers, wildgan runs and studies: _skipped_dir). Why: a root
    holding only a cifar-10-batches-py a download moved aside (or a killed download's .tmp-cifar10-* unpack) was
    said to hold data, and was then read as a class tree that refused a folder the user never meant as a class,
    where the error below says what is missing. The walk is top-down in sorted order and stops at the first hit, so
    a data set's own tree answers after a folder or two, whatever the file system's order or what hides beside it."""
    return any(_is_image_file(q) or q.suffix.lower() == ".npz" or q.name == "data_batch_1" or is_archive(q)
               for dirpath, names in walk_data_folder(root) for q in (Path(dirpath) / f for f in names)
               if q.is_file())


def under_data_root(path: str | Path) -> Path:
    """A path as given (~ expanded); a relative one that does not exist from the current folder but does under
    $WILDGAN_DATA is that one (`--data cifar10/cifar-10-python.tar.gz`); config.SAMPLE_TOKEN is the embedded sample."""
    if is_sample_path(path):
        return default_sample_path()      # (also the sample's path in another installation: this one's sample)
    p = Path(path).expanduser()
    env = os.environ.get("WILDGAN_DATA")
    if env and not p.is_absolute() and not p.exists() and (Path(env).expanduser() / p).exists():
        return Path(env).expanduser() / p
    return p


def same_data_source(a: Any, b: Any) -> bool:
    """Whether two split infos' `source`s (or recorded data paths) name the same data: the same path, or both the
    embedded sample, which each installation of wildgan has at a path of its own (config.is_sample_path)."""
    return str(a) == str(b) or (is_sample_path(a) and is_sample_path(b))


def missing_path_error(path: str | Path, option: str = "") -> DataError:
    """'PATH: no such file or folder' for a --data path; a relative one is also looked for under $WILDGAN_DATA
    (under_data_root), and then the message says both places, since the user may have meant either. `option` (e.g.
    '--data') is named after it: 'new_images: no such file or folder' did not say which argument was wrong."""
    env = os.environ.get("WILDGAN_DATA")
    which = f" ({option})" if option else ""
    broken = _broken_link(Path(path).expanduser())
    if broken:
        # (the option beside the path: after the link's own bracketed guess it read "...mounted?) (--data)")
        return DataError(f"{path}{which}: {broken}")
    if env and not Path(path).expanduser().is_absolute():
        return DataError(f"{path}: no such file or folder, here or under $WILDGAN_DATA ({env}){which}")
    return DataError(f"{path}: no such file or folder{which}")


def given_data_missing(data: str | Path | None, option: str, dataset: str = "auto",
                       download: bool = False) -> DataError | None:
    """The error for a data path the user gave (`option`: how, e.g. '--data' or 'data=') that names nothing, here or
    (relative) under $WILDGAN_DATA, else None. Asked before the data is read: load_dataset's own error named the
    absolute path and no option, so `wildgan train --data nope/` did not say which argument was wrong (score's
    --data did). None too where no path is given (a $WILDGAN_DATA root that is gone is named as the variable's by
    absolute_data_path and load_dataset), for the embedded sample, and for CIFAR-10 with `download`, which fetches it
    into a folder that need not be there yet."""
    if data in (None, "") or is_sample_path(data) or (download and dataset == "cifar10"):
        return None
    try:
        if under_data_root(data).exists():
            return None
    except (OSError, ValueError):       # a name too long, a NUL byte: left to the reader, which says what it meets
        return None
    err = missing_path_error(str(data), option)
    if download:
        # (load_dataset's word for it, which this error comes before)
        return DataError(f"{err}; {option_words('--download', 'download=True')} fetches CIFAR-10 only with "
                         f"{_dataset_words('cifar10')}")
    return err


def absolute_data_path(data: str | None, dataset: str = "auto") -> str | None:
    """--data as an absolute path (else where $WILDGAN_DATA points, see resolve_data_root; else config.SAMPLE_TOKEN,
    the embedded sample): the run records where its data is, so that evaluate / score / report / --config work from
    any folder and later changes of $WILDGAN_DATA do not silently swap a run's data."""
    if data in (None, "") and not os.environ.get("WILDGAN_DATA") and dataset == "cifar10":
        return None               # CIFAR-10 has no default here: load_dataset downloads it (--download) or asks
    if is_sample_path(data) or (data in (None, "") and not os.environ.get("WILDGAN_DATA")):
        return SAMPLE_TOKEN       # the embedded sample, by name: a replay must not read $WILDGAN_DATA instead
    found = resolve_data_root(data, dataset)
    if data not in (None, "") and not found.exists() and os.environ.get("WILDGAN_DATA") and dataset != "cifar10" \
            and not Path(data).expanduser().is_absolute():
        # said now, with both places a relative path was looked for: made absolute, it would name the current
        # folder only (CIFAR-10 may be downloaded there: load_dataset decides)
        raise missing_path_error(data)
    if data in (None, "") and not found.exists() and dataset != "cifar10":
        # the path comes from the variable, not from the command line: made absolute here, load_dataset would take it
        # for a --data PATH and say only 'PATH: no such file or folder', a path the user never typed
        broken = _broken_link(found)
        if broken:
            # (where it came from beside the path, as missing_path_error says an option: not a second bracket after
            # the link's own guess)
            raise DataError(f"{found} (from $WILDGAN_DATA): {broken}; pass {_data_words('PATH')} or fix the "
                            f"variable")
        raise DataError(f"{found}: no such file or folder (from $WILDGAN_DATA; pass {_data_words('PATH')} or fix "
                        f"the variable)")
    # abspath also folds '..' (Path.absolute does not): a/../x.npz would break once a/ is gone
    path = os.path.abspath(found)
    if is_sample_path(path):
        return SAMPLE_TOKEN       # the sample named by its path (e.g. on a --resume): by name all the same
    return path


def missing_run_data_error(recorded: str | None, run_dir: str | Path) -> DataError | None:
    """The error for a run whose recorded data (cfg.data.data, absolute since runs record it so) is gone, else None:
    load_dataset's bare 'PATH: no such file or folder' named a path the user had not typed, and did not say that
    a moved data set can be linked back there (a --resume refuses other data)."""
    if not recorded or is_sample_path(recorded) or not Path(recorded).is_absolute():
        return None
    p = Path(recorded)
    if p.exists():
        return None
    return DataError(f"{recorded}: {_broken_link(p) or 'no such file or folder'}: the data {run_dir} was trained on "
                     f"(recorded in its config.json); if it moved, put it back, or link its new place there "
                     f"(ln -s NEW_PLACE {shell_word(recorded)})")


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


# ------------------------------------------------------------------------------------------ image files in folders
def _is_image_file(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")


_NO_EXT = "no extension"     # the OTHER_IMAGE_EXTS-like key under which files without an extension are counted


def _is_other_image(p: Path) -> bool:
    """A file of an image format that is not read (.heic, .avif, ...), or an image file without an extension (a
    camera's or a script's image saved as 'frame0001' is left out like any file whose format is not known from its
    name): worth a warning, unlike a .txt or .csv, or a README, LICENSE or Makefile beside a data set's images."""
    if p.name.startswith("."):
        return False
    if p.suffix:
        return p.suffix.lower() in OTHER_IMAGE_EXTS
    return _image_signature(p)


# the first bytes of the image formats a file without an extension may hold (PNG, JPEG, GIF, BMP, TIFF, WebP, PNM,
# and ISO media: HEIC / AVIF)
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def _image_signature(p: Path) -> bool:
    """Whether a file's first bytes are those of an image (12 bytes read; an unreadable file is no image here, nor
    one that is not a regular file: a named pipe's open waits for a writer, and the listing hung for good)."""
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return (head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or
            head[4:8] == b"ftyp" or re.match(rb"P[1-7]\s", head) is not None)


def _other_key(p: Path) -> str:
    return p.suffix.lower() or _NO_EXT


def walk_data_folder(folder: Path, outside: Iterable[str] = ()) -> Iterator[tuple[str, list[str]]]:
    """(folder path, sorted file names) for folder and every folder under it, hidden entries, __MACOSX folders, a
    CIFAR-10 download's leftovers and wildgan run or study folders skipped (_skipped_dir, _skipped_file), in a sorted
    top-down order. Symlinked folders and files are followed (paths stay as given, through the link); a folder is
    entered once (by its real path), so a link to an ancestor or two links to one folder do not loop or repeat.
    outside: real paths of folders never entered (a class folder's walk: the tree above it and the other classes)."""
    seen = {os.path.realpath(folder), *outside}
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
        yield dirpath, sorted(f for f in filenames if not _skipped_file(f))


def _scan_images(folder: Path, outside: Iterable[str] = ()) -> tuple[list[Path], dict[str, int]]:
    """(image files under folder, sorted by relative path for determinism; {extension: count} of the files of image
    formats that are not read). Recursive, following symlinks (see walk_data_folder, and its `outside`)."""
    out: list[Path] = []
    other: dict[str, int] = {}
    for dirpath, filenames in walk_data_folder(folder, outside):
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
                                  f"{n} {e} file{'s' if n != 1 else ''}"
                                  for e, n in _by_count(other)) + _no_ext_hint(other)


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
        # (warn_of_data: said again where the folder is read from a decoded cache, read_folder_tar)
        warn_of_data(f"ignored {n} file{'s' if n != 1 else ''} with unsupported extensions in {folder} "
                     f"({', '.join(f'{e}: {k}' for e, k in _by_count(other))}); supported: "
                     f"{', '.join(IMAGE_EXTS)}{_no_ext_hint(other)}")


def _no_images_error(what: str, other: dict[str, int], tail: str = "", folder: Path | None = None) -> DataError:
    """'{what} no image files (.png, ...)', or, when files of unsupported image formats are there, '{what} no
    supported image files (.png, ...); found 50 .heic files'; with `folder`, MNIST's idx files in it are named with
    how to convert them (_idx_hint)."""
    idx = _idx_files(folder) if folder is not None else []
    c100 = _cifar100_hint() if folder is not None and _is_cifar100_folder(folder) else ""
    return DataError(f"{what} no {'supported ' if other else ''}image files ({', '.join(IMAGE_EXTS)}){tail}"
                     f"{_found_other(other)}{_idx_hint(idx)}{c100}")


# CIFAR-100's python download (cifar-100-python: files train, test and meta, pickled as CIFAR-10's batches are, with
# fine_labels and coarse_labels in each): refused as 'no image files ... and no class subfolders', which said neither
# what the folder is nor what to do. Not read: its two label sets (100 classes, 20 superclasses) are a choice the user
# makes, which docs/data.md's conversion to an .npz makes visible
CIFAR100_FILES = ("train", "test", "meta")


def _is_cifar100_folder(folder: Path) -> bool:
    """Whether `folder` holds CIFAR-100's python files (train, test and meta, each a file), by their names."""
    try:
        return all((folder / n).is_file() for n in CIFAR100_FILES)
    except OSError:
        return False


_CIFAR100_WAY = ("which wildgan does not read: convert them to one .npz of x_train, y_train, x_test, y_test and "
                 "class_names, with the fine labels (100 classes) or the coarse ones (20 superclasses), and pass that "
                 "(docs/data.md, \"CIFAR-100's python files\")")


def _cifar100_hint() -> str:
    """'; it looks like CIFAR-100's python files ...: convert ...' for the refusal of a folder of them."""
    return f"; it looks like CIFAR-100's python files ({', '.join(CIFAR100_FILES)}), {_CIFAR100_WAY}"


# MNIST's own files (train-images-idx3-ubyte.gz, and Kaggle's train-images.idx3-ubyte): the format its download has,
# which no reader takes. A folder of them was refused as holding 'no image files' and one alone as an 'unsupported
# data file', neither saying what they are or how to read them: the converted .npz is one of numpy's lines.
_IDX_NAME = re.compile(r"idx[1-4]-ubyte(\.gz)?$", re.IGNORECASE)


def _idx_files(folder: Path) -> list[str]:
    """The names of the MNIST idx files directly in `folder` (sorted), [] where there are none or it is unreadable."""
    try:
        return sorted(f.name for f in folder.iterdir() if _IDX_NAME.search(f.name) and f.is_file())
    except OSError:
        return []


def _idx_hint(names: Sequence[str]) -> str:
    """'; found MNIST's idx files (...), which are not read: ...' for the refusal of data made of them, or ''."""
    if not names:
        return ""
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (f"; found MNIST's idx file{'s' if len(names) != 1 else ''} ({shown}), which wildgan does not read: "
            f"convert MNIST's idx files to one .npz of x_train, y_train, x_test, y_test and pass that (docs/data.md, "
            f"\"MNIST's idx files\")")


def _gray_info(kinds: Sequence[int], held: Sequence[int] | None = None, o: Opts | None = None) -> dict[str, Any]:
    """What a data set's record says of its files' kind (kinds: each file's own channel count, decode_files):
    whether every file was gray (native_gray: by what they hold where that was taken, as stack chooses the
    channels by it, whether or not --channels 1 made them gray anyway; else by their mode), and how many were by
    their mode (also when --channels 1 made the others gray while decoding); with `held` (the channels each file
    really holds) and Opts.count_held, how many hold gray, RGB-stored gray too."""
    if o is not None and held is not None and len(held) == len(kinds):
        n = sum(1 for c in kinds if c == 1)
        return {"native_gray": bool(held) and all(c == 1 for c in held), "n_gray_files": n,
                **({"n_gray_held": sum(1 for c in held if c == 1)} if o.count_held else {})}
    if o is not None and not o.count_held:
        held = None
    n = sum(1 for c in kinds if c == 1)
    return {"native_gray": bool(kinds) and n == len(kinds), "n_gray_files": n,
            **({} if held is None else {"n_gray_held": sum(1 for c in held if c == 1)})}


# ------------------------------------------------------------------------------------------------ folder trees
def _real_and_above(p: Path) -> set[str]:
    """The real path of folder p and of every folder above it."""
    real = Path(os.path.realpath(p))
    return {str(real), *(str(a) for a in real.parents)}


def _subdirs(p: Path) -> list[Path]:
    """p's sub-folders that may be read as data (classes, train/, test/): not skipped (_skipped_dir), and not a link
    back to p itself or to a folder above it (`ln -s . loop`): read as a class, such a loop was every image of the
    tree again under one more label."""
    up = _real_and_above(p)
    return sorted((d for d in p.iterdir() if d.is_dir() and not _skipped_dir(d) and os.path.realpath(d) not in up),
                  key=lambda d: d.name)


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
        # make it a class folder, nor does one beside two or more class folders: `tar czf x.tar.gz data/` of a
        # tree data/{cat,dog}/ with a data/preview.png was read as the one class 'data', where the folder data/
        # itself is read as cat and dog, its stray image said to be left out (_class_files))
        if inner and not files and os.path.realpath(subs[0]) not in seen and \
                (any(d.name.lower() == "train" for d in inner) or len(inner) > 1 or
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
        # no class folders is no labelled tree (e.g. an archive holding only an .npz, which the read refuses)
        return sorted(names) or None
    except (OSError, DataError):
        return None           # (the read itself names the problem)


def class_tree_refusal(path: str | Path) -> str | None:
    """Why a tree of class folders, or a tar or zip of one, would be refused as a labelled data set by the listing of
    its class folders (a class folder without images, ...), in the labelled reading's words (ARCHIVE:member), found
    without decoding an image; None where that listing passes. Why: `wildgan score` offers --normal, whose labelled
    reading refuses such a tree, only where it is not refused so."""
    import warnings

    p = Path(path)
    try:
        root = image_tar_tree(p) if p.is_file() else p
        with named_in_archive(root, p) if p.is_file() else nullcontext():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")        # (its notes, e.g. loose files left out, are the reading's)
                train_dir, test_dir, eff = _find_split_dirs(root)
                _class_files(train_dir or eff)
                if test_dir is not None:
                    _class_files(test_dir)
    except DataError as e:
        return str(e)
    return None


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
    """A folder, or a tar or zip of one, that is an unlabelled pile (see _is_pile); the archive is unpacked into the
    cache."""
    p = Path(path)
    if p.is_dir():
        return _is_pile(p)
    return p.is_file() and is_archive(p) and detect_format(p) == "folder-tar" and _is_pile(image_tar_tree(p))


def single_class_folder(path: str | Path) -> str | None:
    """The name of the one folder that holds every image of a pile (`cells/normal/*.png`, or a tar or zip of it, maybe
    inside wrapper folders), or None (loose images, a labelled tree, no such folder or tar). Such a folder looks
    like a labelled tree of one class to the user, and is read as a pile: the errors about its missing labels name
    it and the second class folder that would make it labelled."""
    p = Path(path)
    try:
        if p.is_file() and is_archive(p) and detect_format(p) == "folder-tar":
            p = image_tar_tree(p)
        if not p.is_dir() or not _is_pile(p):
            return None
        name, seen = None, set()
        while True:
            seen.add(os.path.realpath(p))
            subs = _subdirs(p)
            if not subs or os.path.realpath(subs[0]) in seen:
                return name
            if any(f.is_file() and _is_image_file(f) for f in p.iterdir()):
                return None        # loose images beside the folder: no one class folder
            p, name = subs[0], subs[0].name
    except (OSError, WildganError):
        return None                 # (the read itself names the problem)


def _dataset_words(name: str) -> str:
    """The choice of data set `name` as the user of the call in progress gives it (errors.option_words)."""
    return option_words(f"--dataset {name}", f"dataset={name!r}")


def _data_words(path: str) -> str:
    """A data path as the user of the call in progress passes it: the CLI's --data, DataConfig's (and train_run's,
    the Detector's, a study's) data= otherwise. `path` as a placeholder (PATH) or a path relative to $WILDGAN_DATA."""
    return option_words(f"--data {path}", f"data={path if path.isupper() else repr(path)}")


def single_class_text(path: str | Path) -> str:
    """What to say of a pile that is one class folder (single_class_folder), beginning with a space, or ''."""
    name = single_class_folder(path)
    if name is None:
        return ""
    return (f" It holds one class folder only ({name}/), and one class cannot be split into normal and anomalous "
            f"images, so it is read as an unlabelled pile. To use labels, put the anomalous images in a second "
            f"class folder beside {name}/ (e.g. anomalous/) and name the normal one with "
            f"{option_words(f'--normal {name}', f'normal=({name!r},)')}")


def _class_files(folder: Path, other: dict[str, int] | None = None, outside: Iterable[str] = ()
                 ) -> dict[str, list[Path]]:
    """{class folder name: its image files}. `other` collects the {extension: count} of files of image formats that
    are not read (the caller warns once). A class folder's walk enters neither the tree (folder and the folders above
    it) nor the other class folders, nor the real paths in `outside` (the other split's folder): a link inside one
    class back up the tree (`normal/up -> ..`) would otherwise label the other classes' images as this one."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    subs = _subdirs(folder)
    if not subs:
        images = [f for f in folder.iterdir() if f.is_file() and _is_image_file(f)]
        if images:
            raise DataError(f"{folder}: no class subfolders (found {len(images)} image file"
                            f"{'s' if len(images) != 1 else ''} directly in it); "
                            f"expected {folder}/<class>/<image>, e.g. {folder}/normal/0001.png. To train on "
                            f"unlabelled images use {_dataset_words('unlabelled')}; to score loose images "
                            f"{option_words('`wildgan score --data`', 'score_files or Detector.score')}",
                            split_problem=SPLIT_CLASSES)
        raise _no_images_error(f"{folder}:", _count_other(f for f in folder.iterdir() if f.is_file()),
                               " and no class subfolders", folder=folder)
    loose = [f for f in folder.iterdir() if f.is_file() and _is_image_file(f)]
    if loose:
        # (the way to read them too as the caller has it: `wildgan score` has no --dataset, and a command that needs
        # the labels none: dataset_files.every_image_way)
        # (warn_of_data: said again where the tree is read from a tar's decoded cache, which left them out without a
        # word; made by a function, so that its option is worded for that later reader too: the CLI's or the API's)
        def loose_words() -> str:
            way = every_image_way(f"{_dataset_words('unlabelled')} trains on every image instead")
            are = 'are' if len(loose) != 1 else 'is'
            return (f"{folder}: {len(loose)} image file{'s' if len(loose) != 1 else ''} directly in it {are} not in a "
                    f"class folder and {are} left out (e.g. {loose[0].name})" + (f"; {way}" if way else ""))

        warn_of_data(loose_words)
    # two class folders that are one real folder (`good -> normal`, or `a/` and a link `b -> a`) would label every
    # image of it twice, once as each class: refused, as no reading of such a tree can say which label is meant
    by_real: dict[str, list[Path]] = {}
    for d in subs:
        by_real.setdefault(os.path.realpath(d), []).append(d)
    for real, same in by_real.items():
        if len(same) > 1:
            raise DataError(f"{folder}: class folders {' and '.join(d.name for d in same)} are the same folder, "
                            f"{real} (through a symlink), so its images would be read under each of their labels; "
                            f"keep one of them (remove the link, or copy the images into a folder of their own)",
                            split_problem=SPLIT_CLASSES)
    out = {}
    fenced = _real_and_above(folder) | set(outside) | {os.path.realpath(d) for d in subs}
    for d in subs:
        files, found = _scan_images(d, fenced - {os.path.realpath(d)})
        if not files:
            raise _no_images_error(f"{d}: class folder contains", found, folder=d)
        out[d.name] = files
        if other is not None:
            for e, n in found.items():
                other[e] = other.get(e, 0) + n
    return out


def _refuse_class_in_other_split(train_dir: Path, test_dir: Path) -> None:
    """Refuse a class folder of one split that is (through a symlink) the other split's folder or inside it
    (`train/good -> ../test/good`): the walk's fence keeps a class folder's links out of the other split, but the
    class folder itself was read, and its images were training and test images at once."""
    for here, there, which in ((train_dir, test_dir, "test"), (test_dir, train_dir, "training")):
        far = os.path.realpath(there)
        for d in _subdirs(here):
            real = os.path.realpath(d)
            if real == far or real.startswith(far + os.sep):
                raise DataError(f"{d}: a link to {real}, inside the {which} split's folder {there}, so its images "
                                f"would be training and test images at once; copy them into a folder of their own "
                                f"(or remove the link)")


# folders beside train/ and test/ that hold defect masks, not images of the data (MVTec AD's layout): not said to be
# left out, as every command said it on every read of such a tree, with nothing to mend (docs/data.md says how its
# masks give the pixel-level AUC)
_MASK_FOLDERS = frozenset({"ground_truth"})


def _warn_beside_splits(root: Path, train_dir: Path, test_dir: Path | None) -> None:
    """Say the image folders and images beside root's train/ and test/, which a tree of splits does not read (a val/
    of a train/val/test tree, a preview image): left out without a word, where loose images beside class folders are
    said (_class_files). A warning about the data, said again by a decoded cache's reader (warn_of_data)."""
    kept = {os.path.realpath(d) for d in (train_dir, test_dir) if d is not None}
    names: list[str] = []
    files: list[Path] = []
    for d in _subdirs(root):
        if os.path.realpath(d) in kept or d.name.lower() in _MASK_FOLDERS:
            continue
        found, _ = _scan_images(d, kept | _real_and_above(root))
        if found:
            names.append(f"{d.name}/")
            files.extend(found)
    loose = sorted((f for f in root.iterdir() if f.is_file() and _is_image_file(f)), key=lambda f: f.name)
    names += [f.name for f in loose]
    files += loose
    if not files:
        return
    shown = " and ".join(names) if len(names) <= 3 else f"{', '.join(names[:3])} and {len(names) - 3} more"
    splits = "train/ and test/" if test_dir is not None else "train/"
    warn_of_data(f"{root}: {shown} beside {splits} {'is' if len(names) == 1 else 'are'} not read ({len(files)} image "
                 f"file{'s' if len(files) != 1 else ''}, e.g. {files[0].relative_to(root).as_posix()}); only "
                 f"{splits} {'is' if test_dir is None else 'are'}")


def read_folder(root: str | Path, o: Opts | None = None, id_root: Path | None = None
                ) -> tuple[ImageSet, ImageSet | None]:
    """root/<class>/* or root/{train,test}/<class>/* -> (train, test or None); class indices by sorted name."""
    o = o or Opts()
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    train_dir, test_dir, eff = _find_split_dirs(root)
    if train_dir is not None:
        _warn_beside_splits(eff, train_dir, test_dir)
    id_root = id_root or eff
    other: dict[str, int] = {}
    # (each split's walk stays out of the other's folder: a link from train/ into test/ would put test images in both)
    split_dirs = {os.path.realpath(d) for d in (train_dir, test_dir) if d is not None}
    if train_dir is not None and test_dir is not None:
        _refuse_class_in_other_split(train_dir, test_dir)
    parts = {"train": _class_files(train_dir or eff, other, split_dirs)}
    if test_dir is not None:
        parts["test"] = _class_files(test_dir, other, split_dirs)
    _warn_other(eff, other)
    class_names = sorted(set().union(*(set(p) for p in parts.values())))
    index = {c: i for i, c in enumerate(class_names)}
    skipped: list[dict[str, str]] = []
    sets = {}
    stats: dict[str, Any] = {} if o.stats is None else o.stats
    all_sizes: set[tuple[int, int]] = set()
    warn_if_no_room([f for classes in parts.values() for c in sorted(classes) for f in classes[c]], o, str(eff))
    mixed: list[tuple[str, np.ndarray, np.ndarray | None, Sequence[str]]] = []
    for split, classes in parts.items():
        files = [f for c in sorted(classes) for f in classes[c]]
        labels = [index[c] for c in sorted(classes) for _ in classes[c]]
        where = (train_dir or eff) if split == "train" else test_dir
        sizes: dict[tuple[int, int], Path] = {}
        native: list[tuple[int, int]] = []
        # (chunked: the crop warning is said once below, for the whole tree, not once for train/ and once for test/)
        kinds: list[int] = []
        # (what each file holds: the channels are chosen by it, stack, a gray run's record says it, and evaluate's
        # warning counts it; not for an RGB run chosen, where nothing reads it)
        held: list[int] | None = [] if o.count_held or o.channels != 3 else None
        # (grays: RGB files of gray content shrunk while read, also made gray first: a gray run's pixels, not read
        # again)
        grays: dict[int, np.ndarray] = {}
        arrays, kept = decode_files(files, o, skipped, desc=f"decoding {split}", what=str(where), sizes=sizes,
                                    stats=stats, native=native, chunked=True, kinds=kinds, held=held, grays=grays)
        all_sizes |= set(sizes)
        gray = _gray_info(kinds, held, o)
        said: dict[str, Any] = {}
        x = stack(arrays, [str(files[i]) for i in kept], o, str(where), native, held, said, grays)
        mixed.append((split, np.asarray(said["held"]) == 1, np.asarray([labels[i] for i in kept], np.int64),
                      [str(files[i]) for i in kept]))
        ids = [files[i].relative_to(id_root).as_posix() for i in kept]
        # each file left out (skip_bad) with its id, label and place among the kept rows: a rebuild of a run's split
        # draws over it as if read (build_split's recorded), so that a file unreadable since training changes no draw
        unread = [{"path": str(files[i]), "id": files[i].relative_to(id_root).as_posix(), "y": labels[i],
                   "at": int(np.searchsorted(kept, i))} for i in sorted(set(range(len(files))) - set(kept))]
        sets[split] = ImageSet(x, np.asarray([labels[i] for i in kept], np.int64), class_names, ids,
                               info={"native_sides": native_sides(sizes), "unread": unread, **gray})
    if not o.probe_uniform:
        warn_crop(all_sizes, o.fit, o.resolution, str(eff))
    _warn_mixed_channels(str(eff), mixed, class_names, o)
    for s in sets.values():
        s.info["skipped"] = skipped
    sets["train"].info["decode_stats"] = stats
    if o.stats is None:
        warn_decode_stats(stats, str(eff), o.depth16)
    return sets["train"], sets.get("test")


def read_unlabelled(root: str | Path, o: Opts | None = None) -> ImageSet:
    """Every image file under root (recursively, sorted) as one unlabelled set: the user's pile, anomalies and all.
    Sub-folders are not classes here; ids are paths relative to root."""
    o = o or Opts()
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    files, other = _scan_images(root)
    if not files:
        raise _no_images_error(f"{root}: folder contains", other, folder=root)
    _warn_other(root, other)
    skipped: list[dict[str, str]] = []
    sizes: dict[tuple[int, int], Path] = {}
    native: list[tuple[int, int]] = []
    stats: dict[str, Any] = {} if o.stats is None else o.stats
    warn_if_no_room(files, o, str(root))
    kinds: list[int] = []
    held: list[int] | None = [] if o.count_held or o.channels != 3 else None
    grays: dict[int, np.ndarray] = {}         # (as read_folder's)
    arrays, kept = decode_files(files, o, skipped, desc="decoding", what=str(root), sizes=sizes, stats=stats,
                                native=native, kinds=kinds, held=held, grays=grays)
    gray = _gray_info(kinds, held, o)
    said: dict[str, Any] = {}
    x = stack(arrays, [str(files[i]) for i in kept], o, str(root), native, held, said, grays)
    _warn_mixed_channels(str(root), [("all", np.asarray(said["held"]) == 1, None, [str(files[i]) for i in kept])],
                         (), o)
    if o.stats is None:
        warn_decode_stats(stats, str(root), o.depth16)
    out = ImageSet(x, np.zeros(len(kept), np.int64), ["unlabelled"], [files[i].relative_to(root).as_posix()
                                                                        for i in kept])
    # (decode_stats: the bit depths it read, which split.json records: data_bit_depths)
    out.info.update(skipped=skipped, native_sides=native_sides(sizes), decode_stats=stats, **gray)
    return out


def _warn_mixed_channels(what: str, parts: Sequence[tuple[str, np.ndarray, np.ndarray | None, Sequence[str]]],
                         class_names: Sequence[str], o: Opts) -> None:
    """mixed_channels_warning's word, for a read whose channels are left to its data (Opts.warn_mixed_channels)."""
    if o.channels is None and o.warn_mixed_channels:
        msg = mixed_channels_warning(what, parts, class_names)
        if msg:
            warn_user(msg)


def _say_tiny_again(tree: Path, sets: Sequence[ImageSet | None]) -> None:
    """The warning about images far smaller than the automatic resolution (imageset.tiny_images_warning), given again
    for a data set read from its decoded cache, which skips the decode (decode_pool.stack) that says it. From the
    'tiny_images' record that only a cache of an earlier wildgan holds: the decode now records the warning among
    the other warnings about the data (imageset.warn_of_data), said again in their order (_say_data_warnings_again);
    a cache written before either was recorded has none, and says nothing."""
    for s in sets:
        rec = None if s is None else s.info.pop("tiny_images", None)
        if not rec:
            continue
        msg = tiny_images_warning(((str(tree / n), (int(h), int(w))) for n, h, w in rec["images"]),
                                  int(rec["resolution"]), str(tree / rec["where"]))
        if msg:
            warn_user(msg)


# how a decoded cache's record of the decode's warnings names the unpacked tree, whose place the cache does not keep
_TREE = "\0tree\0"


def _data_warnings_record(said: list[str], tree: Path, train: ImageSet) -> None:
    """The texts of the decode's warnings about the data (imageset.warn_of_data, recorded while `tree` was decoded)
    into train's info, for read_folder_tar's decoded cache to say them again (_say_data_warnings_again); the tree
    named by _TREE. Kept in the cache only, as tiny_images: the sets returned do not carry them."""
    train.info["data_warnings"] = [t.replace(str(tree), _TREE) for t in said]
    # and each in every wording it has (imageset.DataWords: the user's words, the networks' sizes, a resume), for a
    # reader in another context than the decode's (a script after a command, f-AnoGAN after the wildgan method)
    train.info["data_warnings_worded"] = [{k: v.replace(str(tree), _TREE) for k, v in getattr(t, "words", {}).items()}
                                          for t in said]


def _say_data_warnings_again(tree: Path, sets: tuple[ImageSet, ImageSet | None]) -> None:
    """The warnings about the data that the decode of a decoded cache said (_data_warnings_record), said again as
    every recorded warning is (imageset.say_again). A cache written before they were recorded has none: nothing."""
    texts = sets[0].info.pop("data_warnings", None) or []
    worded = sets[0].info.pop("data_warnings_worded", None) or []
    if len(worded) == len(texts):
        # in the words of the call in progress where the decode recorded them (a cache of an earlier wildgan: as said)
        key = words_key()
        texts = [w.get(key, t) for w, t in zip(worded, texts)]
    say_again((t.replace(_TREE, str(tree)), WildganWarning, "", 0, "") for t in texts)


def _say_channels_again(tree: Path, sets: Sequence[ImageSet | None], o: Opts) -> None:
    """The warning about gray and colour images mixed (mixed_channels_warning), given again for a data set read from
    its decoded cache, as read_folder gave it: from the cached pixels (a pass over them, only where the channels are
    left to the data), the files named by their ids under the tree's root."""
    if o.channels is not None or not o.warn_mixed_channels:
        return
    root = _find_split_dirs(tree)[2]
    parts = [(split, gray_held_mask(s.x), s.y, [str(root / i) for i in s.ids])
             for split, s in zip(("train", "test"), sets) if s is not None]
    if parts:
        _warn_mixed_channels(str(root), parts, sets[0].class_names if sets[0] is not None else (), o)


def _json_array(value: Any) -> np.ndarray:
    return np.asarray(json.dumps(value))


# The arrays of a decoded cache, defined here once for the save (_save_decoded), the load (_load_decoded) and the look
# that reads no pixels (_decoded_cache_loads): name -> (whether every load needs it, its value from the set it is
# written for). A split's arrays are written for each split, named with it after them (x_train, x_test); the data
# set's own, once, with the train set's. The needed ones are read with no fallback (a cache without one is decoded
# again: _decoded_needed); the others are read where present: an older wildgan's cache has none
_DECODED_SPLIT_ARRAYS: dict[str, tuple[bool, Callable[[ImageSet], np.ndarray]]] = {
    "x": (True, lambda s: s.x),
    "y": (True, lambda s: s.y),
    "ids": (True, lambda s: np.asarray(s.ids, dtype=str)),
    "native_sides": (True, lambda s: np.asarray(s.info.get("native_sides") or [], np.int64)),
    "n_gray_files": (True, lambda s: _json_array(s.info.get("n_gray_files"))),
    "unread": (False, lambda s: _json_array(s.info.get("unread", []))),
    # (a cache without it, by an earlier wildgan, is read all the same, as this one reads it)
    "tiny_images": (False, lambda s: _json_array(s.info.get("tiny_images"))),
}
_DECODED_SET_ARRAYS: dict[str, tuple[bool, Callable[[ImageSet], np.ndarray]]] = {
    "class_names": (True, lambda s: np.asarray(s.class_names, dtype=str)),
    "skipped": (True, lambda s: _json_array(s.info.get("skipped", []))),
    "decode_stats": (False, lambda s: _json_array(s.info.get("decode_stats") or {})),
    "native_gray_train": (False, lambda s: _json_array(s.info.get("native_gray"))),    # (the train set's alone)
    # (the decode's warnings about the data, _data_warnings_record; a cache by an earlier wildgan has none)
    "data_warnings": (False, lambda s: _json_array(s.info.get("data_warnings", []))),
    # (and their texts in every wording, a cache by an earlier wildgan has none: _say_data_warnings_again)
    "data_warnings_worded": (False, lambda s: _json_array(s.info.get("data_warnings_worded", []))),
}


def _json_value(a: np.ndarray) -> Any:
    return json.loads(str(a))


# How _load_decoded puts each array of the tables above back on the set it was written for (the inverse of its value
# there): name -> (where, its value from the array). Where: the ImageSet's own field ('x', 'y', 'ids',
# 'class_names'), or the key of its info ('skipped' goes to both sets' info). An array of the tables without an entry
# here is read where it is needed (its absence fails the load, as the look's) and not put back
_DECODED_READ: dict[str, tuple[str, Callable[[np.ndarray], Any]]] = {
    "x": ("x", lambda a: a),
    "y": ("y", lambda a: a.astype(np.int64)),
    "ids": ("ids", lambda a: [str(i) for i in a]),
    "native_sides": ("native_sides", lambda a: a.tolist() or None),
    "n_gray_files": ("n_gray_files", _json_value),
    "unread": ("unread", _json_value),
    "tiny_images": ("tiny_images", _json_value),
    "class_names": ("class_names", lambda a: [str(c) for c in a]),
    "skipped": ("skipped", _json_value),
    "decode_stats": ("decode_stats", _json_value),
    "native_gray_train": ("native_gray", _json_value),
    "data_warnings": ("data_warnings", _json_value),
    "data_warnings_worded": ("data_warnings_worded", _json_value),
}


def _decoded_arrays(train: ImageSet, test: ImageSet | None) -> dict[str, np.ndarray]:
    """{name: array} of the decoded cache of the sets train and test (None: a data set without one), as
    _DECODED_SPLIT_ARRAYS and _DECODED_SET_ARRAYS name them."""
    arrays = {k: value(train) for k, (_, value) in _DECODED_SET_ARRAYS.items()}
    for split, s in (("train", train), ("test", test)):
        if s is not None:
            arrays.update({f"{k}_{split}": value(s) for k, (_, value) in _DECODED_SPLIT_ARRAYS.items()})
    return arrays


def _save_decoded(path: Path, train: ImageSet, test: ImageSet | None) -> None:
    arrays = _decoded_arrays(train, test)
    # uncompressed: CIFAR pixels barely compress and the point of this file is a fast second load
    atomic_write_stream(lambda f: np.savez(f, **arrays), path)


def _decoded_keys(split: str) -> tuple[str, ...]:
    """The arrays of a decoded cache that every load needs (of the definition above), of the split's set: the train
    set's with the data set's own, the test set's alone."""
    own = [k for k, (needed, _) in _DECODED_SET_ARRAYS.items() if needed] if split == "train" else []
    return (*own, *(f"{k}_{split}" for k, (needed, _) in _DECODED_SPLIT_ARRAYS.items() if needed))


def _decoded_needed(held: Collection[str]) -> tuple[str, ...]:
    """The arrays a decoded cache holding the arrays `held` (their names) needs to load: the train set's, and the test
    set's where it holds any of them. Why any: a cache missing x_test alone (damaged) was read as one without a test
    set, its other test arrays ignored, and the data set came back without its test images."""
    test = _decoded_keys("test")
    return _decoded_keys("train") + (test if any(k in held for k in test) else ())


def _decoded_values(z: Any, table: Mapping[str, tuple[bool, Any]], suffix: str) -> dict[str, Any]:
    """{where: value} (_DECODED_READ) of the arrays of an open decoded cache that `table` names, each NAME + suffix
    in the file: the needed ones read with no fallback (one missing is a KeyError), the others where present."""
    got = {}
    for k, (needed, _) in table.items():
        if needed or k + suffix in z.files:
            array = z[k + suffix]
            if k in _DECODED_READ:
                where, value = _DECODED_READ[k]
                got[where] = value(array)
    return got


def _decoded_set(z: Any, split: str, names: list[str]) -> ImageSet:
    """The set `split` ('train', 'test') of an open decoded cache, of its arrays as _DECODED_SPLIT_ARRAYS names them
    (NAME_split), with the data set's class `names`."""
    got = _decoded_values(z, _DECODED_SPLIT_ARRAYS, f"_{split}")
    return ImageSet(got.pop("x"), got.pop("y"), names, got.pop("ids"), info=got)


def _load_decoded(path: Path) -> tuple[ImageSet, ImageSet | None] | None:
    """The sets (train, test or None) of the decoded cache `path`, by the tables that its save (_decoded_arrays) and
    the look at it (_decoded_cache_loads, by _decoded_needed) go by; None for a cache that does not load whole."""
    try:
        with np.load(path, allow_pickle=False) as z:
            # the arrays read with no fallback are the tables' needed ones (_decoded_needed, by which
            # _decoded_cache_loads looks at the cache): one missing (a cache by an older wildgan without the native
            # sizes or the gray files' count, or a damaged one) is a KeyError here, and the cache is decoded again. The
            # others are read where present: a cache by an older wildgan has no decode statistics (its warnings are not
            # repeated), no native_gray (unknown, so gray images are not assumed), no files left out (a rebuild draws
            # over the files read), no images far smaller than the automatic resolution (no warning about them, as for
            # its decode statistics, rather than a whole decode again)
            own = _decoded_values(z, _DECODED_SET_ARRAYS, "")
            names, skipped = own.pop("class_names"), own.pop("skipped")
            train = _decoded_set(z, "train", names)
            train.info.update(own)      # (the data set's own arrays besides these: the train set's info)
            # (a test set where the cache holds any of its arrays, and then all it needs: _decoded_needed)
            test = _decoded_set(z, "test", names) if any(k in z.files for k in _decoded_keys("test")) else None
    except Exception:  # a damaged cache is only a cache: decode again
        return None
    for s in (train, test):
        if s is not None:
            s.info["skipped"] = skipped
    return train, test


def _cache_file(tree: Path, o: Opts) -> Path:
    """The decoded cache of an unpacked tree for one option set and decoders (Opts.decode_key); its name starts with
    the decoding rules' version so that the files of earlier versions, which this wildgan never reads, can be told
    apart (_drop_stale_decoded). Another Pillow's caches are kept, as a newer wildgan's: two environments may share
    one cache folder."""
    key = hashlib.sha1(o.decode_key().encode()).hexdigest()[:10]
    return tree.parent / f"{tree.name}.decoded-v{DECODE_CACHE_VERSION}-{key}.npz"


def _drop_stale_decoded(tree: Path) -> None:
    """Remove the tree's decoded caches written under earlier decoding rules (an older wildgan, or one from before
    the names carried the version): each is a copy of the whole data set that nothing reads again. A newer
    wildgan's are kept: two versions may share one cache (two environments, a cluster's home folder)."""
    prefix = f"{tree.name}.decoded-"
    for f in tree.parent.glob(f"{glob.escape(prefix)}*.npz"):
        m = re.match(r"v(\d+)-", f.name[len(prefix):])
        if m is None or int(m.group(1)) < DECODE_CACHE_VERSION:
            try:
                f.unlink()
            except OSError:      # (a read-only shared cache)
                pass


def _first_image(tree: Path) -> Path | None:
    for dirpath, filenames in walk_data_folder(tree):
        for f in filenames:
            if _is_image_file(Path(f)):
                return Path(dirpath) / f
    return None


def read_folder_tar(archive: str | Path, o: Opts) -> tuple[ImageSet, ImageSet | None]:
    """A .tar.gz (any tar, or a .zip) of an image-folder tree: unpack once into the cache, decode once into a cached
    .npz.

    Small same-size images (CIFAR-like) are cached at native size, so every resolution / channel choice reuses
    the one decode; other trees are cached per conversion option set.
    """
    tree = image_tar_tree(Path(archive), o.cache_dir)
    _drop_stale_decoded(tree)
    native = _native_opts(o)
    for opts, path in ((native, _cache_file(tree, native)), (o, _cache_file(tree, o))):
        if path.is_file():
            got = _load_decoded(path)
            if got is not None:
                # the decode's warnings about the data (images of several sizes made one, images above the
                # automatic cap reduced, files of unsupported formats left out), as it said them
                _say_data_warnings_again(tree, got)
                # and about the images far smaller than the automatic resolution, from the record of an earlier
                # wildgan's cache (the decode's now are among the warnings above)
                _say_tiny_again(tree, got)
                # and about gray and colour images mixed where that matters (the decode's word, which it named),
                # before the pixels' warnings, as read_folder says them
                _say_channels_again(tree, got, opts)
                # the decode's warnings about the pixels (16-bit stretching ...) again: they are about the data.
                # (naming the folder read_folder named, the tree's data root, not the archive above it)
                if o.stats is None:
                    warn_decode_stats(got[0].info.get("decode_stats") or {}, str(_find_split_dirs(tree)[2]),
                                      o.depth16)
                else:
                    merge_stats(o.stats, got[0].info.get("decode_stats") or {})
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
            with recording_data_warnings() as said:
                train, test = read_folder(tree, native)
        except MixedSizes:
            pass
        else:
            _data_warnings_record(said, tree, train)
            if o.stats is not None and native.stats is not None:
                merge_stats(o.stats, native.stats)
            _save_decoded(_cache_file(tree, native), train, test)
            train.info.pop("data_warnings", None)       # (said by the decode; kept in the cache only)
            train.info.pop("data_warnings_worded", None)
            return _shrink_pair(train, test, o)
    # (the tiny images' warning is recorded among `said`, in the order the decode said it: no 'tiny_images' record
    # of its own, which _say_tiny_again would say after all of them)
    with recording_data_warnings() as said:
        train, test = read_folder(tree, o)
    _data_warnings_record(said, tree, train)
    _save_decoded(_cache_file(tree, o), train, test)
    for s in (train, test):               # (said by the decode; kept in the cache only, not in the sets returned)
        if s is not None:
            s.info.pop("tiny_images", None)
            s.info.pop("data_warnings", None)
            s.info.pop("data_warnings_worded", None)
    return train, test


def _native_opts(o: Opts) -> Opts:
    """The options of read_folder_tar's decode at native size (small images of one size), whose decoded cache serves
    every resolution and channels."""
    # (a probe stopped by a second size must not leave its counts in the caller's stats: its own, merged on success)
    return replace(o, resolution=None, channels=None, fit="resize", resize="resize", probe_uniform=True,
                   stats=None if o.stats is None else {}, warn_mixed_channels=o.channels is None)


def has_decoded_cache(archive: str | Path, **opts: Any) -> bool:
    """Whether read_folder_tar(archive, opts as load_dataset takes them) finds the archive's unpack and a decoded cache
    of it that it loads instead of decoding an image (at native size, or for these options). Looked for only: nothing
    is unpacked, of the cache its headers alone are read (one that does not look whole is not counted:
    _decoded_cache_loads), and an archive or options that cannot be read are False (the read itself says why). Why: a
    read from that cache costs about one load of an .npz, where decoding the images costs far more."""
    try:
        o = parse_opts(opts)
    except WildganError:
        return False
    tree = unpacked_already(archive, o.cache_dir)
    return tree is not None and any(_decoded_cache_loads(_cache_file(tree, x)) for x in (_native_opts(o), o))




def _decoded_cache_loads(path: Path) -> bool:
    """Whether the decoded cache `path` is there and looks whole, by what costs no read of its pixels: its zip
    directory, the arrays _load_decoded needs, and each array's .npy header, whose shape and type must fill its
    member exactly. Why: a cache that exists but does not load (cut short, an older wildgan's without an array) is
    decoded again by the read, which has_decoded_cache was asked about to avoid. Damage inside the pixels (its CRC,
    checked as they are read) is not seen here: the read then decodes again, as before."""
    import zipfile

    from numpy.lib import format as npy

    if not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            members = {m.filename.removesuffix(".npy"): m for m in zf.infolist()}
            if not set(_decoded_needed(members)) <= set(members):
                return False
            for m in members.values():
                with zf.open(m) as f:
                    version = npy.read_magic(f)
                    shape, _, dtype = (npy.read_array_header_1_0(f) if version == (1, 0) else
                                       npy.read_array_header_2_0(f))
                    if dtype.hasobject or f.tell() + math.prod(shape) * dtype.itemsize != m.file_size:
                        return False
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return False
    return True


def _shrink_pair(train: ImageSet, test: ImageSet | None, o: Opts) -> tuple[ImageSet, ImageSet | None]:
    """shrink_uniform of a data set's train and test arrays, with one crop warning for the two."""
    warn_crop({tuple(s.x.shape[1:3]) for s in (train, test) if s is not None}, o.fit, o.resolution, "images")
    for s in (train, test):
        if s is not None:
            s.x = shrink_uniform(s.x, o, warn=False)
    return train, test


# ------------------------------------------------------------------------------------------------ entry points
def is_dataset_file(p: str | Path) -> bool:
    """An existing .npz, tar or zip archive or CIFAR-10 batch folder: a data set read whole by load_dataset, not an
    image file or a folder of images read file by file."""
    p = Path(p)
    if not p.exists():
        return False
    if p.is_file() and (p.suffix.lower() == ".npz" or is_archive(p)):
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
                         f"Pass the images' folder or data-set file; `wildgan report {shell_word(p)}` reports the "
                         f"study")
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


def _cifar_markers(p: Path) -> list[str]:
    """What makes folder p CIFAR-10's batches: the batch files directly in it, and a cifar-10-batches-py sub-folder
    (the download's layout: the archive beside the folder unpacked from it), by name; [] for neither."""
    found = [f for f in CIFAR_BATCH_FILES if (p / f).is_file()]
    return found + ["cifar-10-batches-py/"] if (p / "cifar-10-batches-py").is_dir() else found


# what to do about an archive holding both image files and CIFAR-10 batches (_tar_kind, image_tar_tree)
_REMAKE_ARCHIVE = ("make the archive again without one of them (without the batches, to read the image files; without "
                   "the images, to read CIFAR-10)")


def _cifar_beside_images(p: Path, advice: str = "move one of them out (the batches, to read the image files; the "
                                                "images, to read CIFAR-10)") -> DataError | None:
    """The error for a folder that holds both CIFAR-10 batches (_cifar_markers) and image files anywhere else in its
    tree, else None. Read as batches, its images were left out without a word; read as image files, the batches
    were: which one was meant is the user's to say. The one rule of _detect (load_dataset, is_dataset_file) and
    list_image_files (the image-file reads), so that every reader and counter takes such a folder alike."""
    batches = _cifar_markers(p)
    if not batches:
        return None
    for dirpath, filenames in walk_data_folder(p):
        if Path(dirpath).relative_to(p).parts[:1] == ("cifar-10-batches-py",):
            continue                       # (the batches' own folder: images in it are not beside them)
        image = next((f for f in filenames if _is_image_file(Path(f))), None)
        if image is not None:
            first = (Path(dirpath) / image).relative_to(p).as_posix()
            return DataError(f"{p}: holds both image files (e.g. {first}) and CIFAR-10 batches "
                             f"({', '.join(batches)}), so which to read is not clear: {advice}")
    return None


def _tar_kind(p: Path, names: list[str]) -> str:
    """cifar-batches or folder-tar for the archive `p` whose first member names are `names`, by the folder rule
    (_cifar_markers, _cifar_beside_images) applied to the names: CIFAR-10's batch files at the archive's top (or in its
    one top folder, as `tar czf x.tar.gz folder/` makes) or in a cifar-10-batches-py folder make it CIFAR batches,
    and image files anywhere else beside them are refused. A batch-named file elsewhere in an image tree (a stray
    a/data_batch_1) is not CIFAR: it read the archive as batches, and failed with 'not a complete
    cifar-10-batches-py folder' naming the unpack cache. Hidden and __MACOSX entries are skipped, as every folder
    walk skips them (_hidden): a macOS tar's '._mine' beside its one top folder 'mine' made two top entries."""
    def visible(names: Iterable[str]) -> list[tuple[str, ...]]:
        paths = (tuple(q for q in PurePosixPath(n).parts if q != ".") for n in names)
        return [q for q in paths if q and not any(_hidden(r) for r in q)]

    paths = visible(names)
    tops = {q[0] for q in paths}
    base = tuple(tops) if len(tops) == 1 and any(len(q) > 1 for q in paths) else ()

    def batches_in(paths: list[tuple[str, ...]]) -> list[str]:
        return sorted({"/".join(q) for q in paths if q[-1] in CIFAR_BATCH_FILES
                       and (q[:-1] == base or q[:-1] == () or q[-2:-1] == ("cifar-10-batches-py",))})

    batches = batches_in(paths)
    if not batches:
        return "folder-tar"
    if len(names) >= 200:      # (archive_member_names' first 200): the images beside the batches may come later
        paths = visible(archive_member_names(p, limit=None))
        batches = batches_in(paths)
    image = next(("/".join(q) for q in paths if _is_image_file(Path(q[-1])) and "cifar-10-batches-py" not in q[:-1]),
                 None)
    if image is not None:
        shown = ", ".join(batches[:3]) + (f" and {len(batches) - 3} more" if len(batches) > 3 else "")
        raise DataError(f"{p}: holds both image files (e.g. {image}) and CIFAR-10 batches ({shown}), so which to "
                        f"read is not clear: {_REMAKE_ARCHIVE}")
    return "cifar-batches"


def image_tar_tree(p: Path, cache_dir: str | Path | None = None) -> Path:
    """The unpack (unpack_cached) of `p`, an archive of image files (detect_format's folder-tar), refused as its folder
    would be (_cifar_beside_images, at its top and in its one top folder) when it holds CIFAR-10 batches beside the
    images that _tar_kind did not see in the first 200 names: read as image files, the batches were left out without
    a word. Every read and listing of such an archive takes its tree from here."""
    tree = unpack_cached(p, cache_dir)
    tops = [q for q in tree.iterdir() if not _hidden(q.name)]
    for root in [tree, *(tops if len(tops) == 1 and tops[0].is_dir() else [])]:
        mixed = _cifar_beside_images(root, _REMAKE_ARCHIVE)
        if mixed is not None:
            with named_in_archive(tree, p):
                raise mixed
    return tree


def _detect(p: Path) -> str:
    if p.is_dir():
        err = wildgan_output_error(p)
        if err is not None:
            raise err
        # any batch file (or the folder's usual name) means CIFAR batches, so an incomplete copy gets a clear error;
        # beside image files they are refused, as list_image_files refuses them (_cifar_beside_images)
        mixed = _cifar_beside_images(p)
        if mixed is not None:
            raise mixed
        if p.name == "cifar-10-batches-py" or _cifar_markers(p):
            return "cifar-batches"
        if _is_pile(p):
            return "unlabelled-folder"      # loose images, at most one folder (_is_pile): a pile to train on as it is
        return "folder"
    if p.suffix.lower() == ".npz":
        return "npz"
    if is_archive(p):
        try:
            names = archive_member_names(p)
        except UnreadableArchive as e:
            # (said already in archive_problem's one line, not in the reader's words: a DataError as any other, its
            # chain of the reader's errors dropped)
            raise DataError(str(e)) from None
        return _tar_kind(p, names)
    if p.suffix.lower() in IMAGE_EXTS:
        raise DataError(f"{p}: a single image is not a data set; pass a folder of images (loose: an unlabelled "
                        "pile; <root>/<class>/<images>: labelled), a .tar.gz or .zip of one, an .npz or CIFAR-10's "
                        f"batches (single images are for {option_words('`wildgan score --data`', 'score_files')})")
    if p.suffix.lower() == ".npy":
        raise DataError(f"{p}: {NPY_HINT}")
    if p.suffix.lower() in OTHER_IMAGE_EXTS:
        raise DataError(f"{p}: the {p.suffix.lower()} format is not read, and a single image is not a data set; "
                        "export the images to TIFF or PNG (e.g. with Fiji / Bio-Formats) into a folder and pass that")
    if p.name in CIFAR_BATCH_FILES or p.name == "batches.meta":
        # (one file of the batches, named where the data set is meant: said as 'unsupported data file' only)
        raise DataError(f"{p}: one file of CIFAR-10's batches, not a data set: pass the folder that holds them all, "
                        f"{_data_words(str(p.parent))}")
    if p.name in CIFAR100_FILES and _is_cifar100_folder(p.parent):
        raise DataError(f"{p}: one of CIFAR-100's python files ({', '.join(CIFAR100_FILES)}), not a data set, "
                        f"{_CIFAR100_WAY}")
    idx = _idx_hint([p.name]) if _IDX_NAME.search(p.name) else ""
    raise DataError(f"{p}: unsupported data file; expected an image-folder tree, cifar-10-batches-py, "
                    f"an .npz or a .tar.gz or .zip of an image-folder tree{idx}")


# the formats (as _detect, then load_dataset, take the path) that a --dataset naming a format accepts; the others
# (auto, the protocols) take any. One table for load_dataset and listed_labels: what the labels are listed from
# without decoding must be what the read would take
DATASET_FORMATS: dict[str, tuple[str, ...]] = {
    "folder": ("folder", "folder-tar"), "npz": ("npz",), "cifar-batches": ("cifar-batches",),
    "unlabelled": ("unlabelled-folder", "folder-tar", "unlabelled-npz", "cifar-batches")}


# what each protocol's --dataset reads, as a refusal of other data says it
PROTOCOL_NEEDS = {"cifar10": "CIFAR-10's batches (cifar-10-batches-py) or a folder tree of its ten classes",
                  "mnist": "the digits 0-9 as class folders or an .npz's labels",
                  "chula-rbc12": "an .npz of the crops with their labels, photo ids (group) and anomaly labels "
                                 "(is_anomaly)"}


def protocol_on_pile_error(p: str | Path, dataset: str) -> ConfigError:
    """The refusal of a protocol named by --dataset (cifar10, mnist, chula-rbc12) for an unlabelled pile at `p`. Why
    refused, not read as a pile: the user asked for the protocol's test split, normal class and evaluation, and would
    get an unlabelled run whose config names that protocol; a labelled tree of other classes is refused alike."""
    return ConfigError(f"{p}: {_dataset_words(dataset)} chooses the {dataset} protocol, which reads "
                       f"{PROTOCOL_NEEDS[dataset]}, but this is an unlabelled pile (images without class folders or "
                       f"labels); {_dataset_words('unlabelled')} (or {_dataset_words('auto')}) trains on it as a pile"
                       # (a folder's one class folder said, not an archive's: its wrapper folder, pile/ of
                       # `tar czf pile.tar.gz pile/`, would be named as one)
                       f".{single_class_text(p) if Path(p).is_dir() else ''}")


# what each format-naming --dataset (DATASET_FORMATS' keys) reads, and what _detect found at a path (its format names),
# as a refusal says them to the user, who never sees the internal names ("a unlabelled-folder data set")
_DATASET_READS = {"folder": "a folder tree of class folders (or a .tar.gz or .zip of one)",
                  "npz": "an .npz of image arrays", "cifar-batches": "CIFAR-10's python batches (cifar-10-batches-py)",
                  "unlabelled": "a folder of loose images, a .tar.gz or .zip of one, an .npz or CIFAR-10's batches"}
_FORMAT_WORDS = {"folder": "a folder tree of class folders", "folder-tar": "a .tar.gz or .zip of image files",
                 "npz": "an .npz of image arrays", "cifar-batches": "CIFAR-10's python batches",
                 "unlabelled-folder": "a folder of loose images (an unlabelled pile)",
                 "unlabelled-npz": "an .npz of image arrays without labels"}


def _refuse_other_format(p: Path, dataset: str, kind: str) -> None:
    """DataError when --dataset names a format (DATASET_FORMATS) that the data at `p`, of format `kind`, is not."""
    want = DATASET_FORMATS.get(dataset)
    if want and kind not in want:
        raise DataError(f"{p}: {_dataset_words(dataset)} reads {_DATASET_READS[dataset]}, but this is "
                        f"{_FORMAT_WORDS.get(kind, kind)}")


def _cifar_download_root(p: Path) -> Path | None:
    """For --dataset cifar10 with --download: the folder download_cifar10 is to fetch CIFAR-10 into, where the data at
    `p` is not its whole data set (cifar_lacks), else None (p is read as it is). Missing, or holding nothing but a
    download's own files: p. Holding a cifar-10-batches-py, or being one, that is not whole (a copy cut short): the
    folder that holds it, whose download moves it aside (said) and unpacks the whole one in its place; read as it was,
    it was refused without a word that the download asked for had not been tried. Anything else (a file, a folder of
    class folders, batch files loose in a folder of the user's) is read as it is: a download beside the user's files
    would be a second data set there."""
    if not p.exists():
        return p
    if not p.is_dir():
        return None
    if p.name == "cifar-10-batches-py":
        return p.parent if cifar_lacks(p) else None
    if os.path.lexists(p / "cifar-10-batches-py"):
        return p if cifar_lacks(p / "cifar-10-batches-py") else None
    # (what a download leaves in the folder it fetches CIFAR-10 into besides the data set: its archive, and the
    # leftovers is_cifar_download_leftover names)
    return p if all(q.name == CIFAR10_ARCHIVE or is_cifar_download_leftover(q.name) for q in p.iterdir()) else None


def unused_download(data: str | Path | None, dataset: str) -> str | None:
    """Why a --download asked for would fetch nothing, where it would not (None: it fetches CIFAR-10 into `data`, or
    `data` holds CIFAR-10's batches whole already, which the download would have left as they are). Only
    --dataset cifar10 downloads, and only into a folder that is missing, holds nothing but a download's own files, or
    holds a cifar-10-batches-py cut short (_cifar_download_root): any other data (`--data x.npz`, a folder of class
    folders) is read as it is and the flag was ignored without a word, as though the download had been tried. A data
    path that names nothing is given_data_missing's (it says --download's word there)."""
    if dataset != "cifar10":
        return (f"{option_words('--download', 'download=True')} fetches CIFAR-10 only with "
                f"{_dataset_words('cifar10')}, and this is {_dataset_words(dataset)}")
    if data in (None, "") or is_sample_path(data):
        return None             # (no --data: the download's own folder, or the sample's refusal by the protocol)
    p = under_data_root(data)
    try:
        if not p.exists() or _cifar_download_root(p) is not None:
            return None
        if p.is_dir() and _detect(p) == "cifar-batches":
            return None
    except (OSError, ValueError, WildganError):
        return None             # (left to the reader, which says what it meets)
    what = "a file" if p.is_file() else "a folder that holds data of its own"
    return (f"{option_words('--download', 'download=True')} fetches CIFAR-10 into a folder that does not hold it "
            f"yet, and {_data_words(str(data))} is {what}, read as it is")


# the --dataset values that read CIFAR-10's batches, for which a download's folder not whole is worth the word that
# --download fetches it again (any other is refused for the format by _refuse_other_format)
_READ_CIFAR = ("auto", "cifar10", "cifar-batches", "unlabelled")


def _cifar_refetch_error(p: Path, dataset: str) -> DataError | None:
    """The refusal of `p` where a download would fetch CIFAR-10 there (_cifar_download_root: a cifar-10-batches-py cut
    short, a folder holding one, or a folder holding nothing but a download's archive and leftovers) but none was
    asked for, else None. Read as it was, such a folder failed with the reader's words ('not a complete
    cifar-10-batches-py folder', or 'no image files and no class subfolders' for a folder holding only the archive)
    and no word of the one option that mends it. An empty folder is left to the readers' words."""
    if dataset not in _READ_CIFAR or not p.is_dir() or _cifar_download_root(p) is None:
        return None
    batches = p if p.name == CIFAR10_FOLDER else p / CIFAR10_FOLDER
    if batches is not p and not os.path.lexists(batches) and next(p.iterdir(), None) is None:
        return None
    fetch = (option_words("--download", "download=True") if dataset == "cifar10" else
             option_words("--dataset cifar10 --download", "dataset='cifar10', download=True"))
    if os.path.lexists(batches):
        return DataError(f"{batches}: not a complete cifar-10-batches-py folder (it {cifar_lacks(batches)}; a "
                         f"download or copy cut short?): {fetch} fetches it again (the copy there is moved aside, "
                         f"not removed)")
    held = ", ".join(sorted(q.name for q in p.iterdir()))
    return DataError(f"{p}: holds no cifar-10-batches-py, only what a CIFAR-10 download leaves ({held}): {fetch} "
                     f"fetches it again")


def load_dataset(path: str | Path | None, dataset: str = "auto", *, _scoring_rule: bool = False,
                 _recorded_download: bool = False, **opts: Any) -> tuple[ImageSet, ImageSet | None, str]:
    """Load a data set -> (train, test or None, format: folder | folder-tar | cifar-batches | npz | unlabelled-folder |
    unlabelled-tar | unlabelled-npz | unlabelled-cifar-batches; the unlabelled ones have no test part).

    path None means $WILDGAN_DATA, else the embedded sample. opts: resolution, channels, depth16, resize, skip_bad,
    fit, download (fetch CIFAR-10 when dataset='cifar10' and the path does not hold it whole: _cifar_download_root),
    cache_dir, progress.

    _scoring_rule: internal (splits.load_split_data's read_depth16 only): depth16 may be transforms.PER_IMAGE_8BIT,
    which a user's call is refused (imageset.parse_opts).

    _recorded_download: internal (splits.load_split_data): download is a DataConfig's, which a run's config.json
    replays (resume, --config), not the caller's word: a download that fetches nothing is not warned about then.
    """
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    o = parse_opts(opts, scoring_rule=_scoring_rule)
    if path in (None, "") and not os.environ.get("WILDGAN_DATA") and dataset == "cifar10":
        if not o.download:
            raise DataError(f"dataset 'cifar10' needs {_data_words('PATH')} (a cifar-10-batches-py folder, an image "
                            f"tree, an .npz, a .tar.gz or a .zip), or {option_words('--download', 'download=True')} "
                            f"to fetch it")
    p = data_source_path(path, dataset, o.cache_dir)
    into = _cifar_download_root(p) if dataset == "cifar10" and o.download else None
    if into is not None:
        p = download_cifar10(into, progress=o.progress)
    elif (refetch := _cifar_refetch_error(p, dataset) if p.exists() else None) is not None:
        raise refetch
    elif not p.exists():
        if path in (None, "") and os.environ.get("WILDGAN_DATA"):
            raise DataError(f"{p}: no such file or folder (from $WILDGAN_DATA; pass {_data_words('PATH')} or fix the "
                            f"variable)")
        if os.environ.get("WILDGAN_DATA") and not Path(str(path)).expanduser().is_absolute():
            raise missing_path_error(str(path))
        # download=True reads only the cifar10 protocol: without it a missing folder would fail with no word of why
        hint = (f"; {option_words('--download', 'download=True')} fetches CIFAR-10 only with "
                f"{_dataset_words('cifar10')}" if o.download else "")
        raise DataError(f"{p}: {_broken_link(p) or 'no such file or folder'}{hint}")
    if o.download and into is None and not _recorded_download:
        # the CLI refuses a typed --download that fetches nothing (cli.common.refuse_missing_data); a Python caller's
        # download=True was ignored in silence, as though a download had been tried. Warned, not refused: a script
        # that passes it for every data set keeps working. Not for a run's recorded download (a DataConfig's):
        # config.json of a run made so replays on resume and --config, where a word each time says nothing new
        why = unused_download(path, dataset)
        if why is not None:
            # (named by the data it reads, where the reason does not name it: that of another protocol)
            where = "" if dataset == "cifar10" else f"{p}: "
            warn_user(f"{where}{why}; {option_words('--download', 'download=True')} is ignored (leave it out)")
    kind = _detect(p)
    if dataset == "unlabelled" and kind in ("folder", "unlabelled-folder"):
        kind = "unlabelled-folder"          # a tree too: its sub-folders are not classes
    elif kind == "npz" and (dataset == "unlabelled" or (dataset == "auto" and not npz_has_labels(p))):
        kind = "unlabelled-npz"             # image arrays without labels (or labels not wanted): a pile
    elif dataset == "folder" and kind == "unlabelled-folder":
        kind = "folder"                     # asked for classes: _class_files explains what is missing
    _refuse_other_format(p, dataset, kind)
    if dataset in _ROOT_DATASETS and (kind == "unlabelled-folder" or
                                      kind == "folder-tar" and _is_pile(image_tar_tree(p, o.cache_dir))):
        raise protocol_on_pile_error(p, dataset)          # (before its images are decoded, which can take minutes)
    test: ImageSet | None
    if dataset == "auto" and kind == "folder-tar" and _is_pile(image_tar_tree(p, o.cache_dir)):
        dataset = "unlabelled"              # a tar of a pile (e.g. `tar czf pile.tar.gz pile/`)
    if dataset == "unlabelled" and kind == "folder-tar":
        tree = image_tar_tree(p, o.cache_dir)
        with named_in_archive(tree, p):
            train = read_unlabelled(tree, o)    # every image in the archive
        train.info.update(source=str(p.resolve()), format="unlabelled-tar")
        return train, None, "unlabelled-tar"
    if dataset == "unlabelled" and kind == "cifar-batches":
        # every image, labels ignored, as a labelled .npz is read: how Detector.fit reads CIFAR-10's batches (a
        # folder or an archive) and what its run records; refused, that run's config could not be replayed
        with _named_if_archive(p, o.cache_dir):
            train = read_cifar_unlabelled(_cifar_batch_folder(p, o.cache_dir), o)
        train.info.update(source=str(p.resolve()), format="unlabelled-cifar-batches")
        return train, None, "unlabelled-cifar-batches"
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
        # (read_folder_tar takes its tree from image_tar_tree, which checks it: the unpack here only names files)
        with named_in_archive(unpack_cached(p, o.cache_dir), p):
            train, test = read_folder_tar(p, o)
    elif kind == "npz":
        train, test = read_npz(p, o)
    else:
        with _named_if_archive(p, o.cache_dir):
            train, test = read_cifar_batches(_cifar_batch_folder(p, o.cache_dir))
        for s in (train, test):
            s.info["native_sides"] = native_sides([s.x.shape[1:3]])
            s.info["decode_stats"] = {"n8": len(s.x)}       # 8-bit images, as their format holds
            if o.count_held:          # (its colour files hold some gray photos)
                s.info["n_gray_held"] = count_gray_held(s.x)
        _shrink_pair(train, test, o)
    skipped = train.info.get("skipped", [])
    for s in (train, test):
        if s is not None:
            s.info.update(source=str(p.resolve()), format=kind, skipped=skipped)
    return train, test, kind


def _named_if_archive(p: Path, cache_dir: str | Path | None = None) -> ContextManager[None]:
    """named_in_archive for the unpack of the archive `p` (an incomplete tar of batches was 'CACHE/x-1234: not a
    complete cifar-10-batches-py folder', a folder the user never made); nothing for a folder."""
    return named_in_archive(unpack_cached(p, cache_dir), p) if p.is_file() else nullcontext()


def _cifar_batch_folder(p: Path, cache_dir: str | Path | None = None) -> Path:
    """The folder holding the batch files of CIFAR-10's batches at `p` (a tar of them is unpacked in the cache)."""
    if p.is_file():
        tree = unpack_cached(p, cache_dir)
        # (not __MACOSX/cifar-10-batches-py, the '._data_batch_1' resource forks a macOS archive may hold beside it)
        found = sorted(d for d in tree.rglob("cifar-10-batches-py")
                       if d.is_dir() and not any(_hidden(r) for r in d.relative_to(tree).parts))
        if found:
            return found[0]
        top = [q for q in tree.iterdir() if not _hidden(q.name)]
        # (`tar czf b.tar.gz batches/` of a folder not named cifar-10-batches-py: its one top folder, as _tar_kind)
        return top[0] if len(top) == 1 and top[0].is_dir() and not (tree / "data_batch_1").exists() else tree
    return p / "cifar-10-batches-py" if (p / "cifar-10-batches-py").is_dir() else p


def cifar_batch_folder(folder: Path) -> Path:
    """The folder whose batch files load_dataset reads for the CIFAR-10 batches folder `folder`: its own
    cifar-10-batches-py where it has one (the download's layout), else itself. (A caller that tells a change to what
    was read, data.inputs' kept reads, stamps this one's files: the folder's own stamp misses a batch edited in
    place)"""
    return _cifar_batch_folder(folder)


def listed_labels(path: str | Path | None, dataset: str = "auto"
                  ) -> tuple[str, list[str], dict[str, Any] | None] | None:
    """(format, class names, the .npz's npz_labels or None) of the labelled data set load_dataset(path, dataset)
    would read, found without decoding an image: a folder tree's class folders (an archive's in its unpack, which
    reading it makes and reuses too), an .npz's label arrays, CIFAR-10 batches' batches.meta. None for unlabelled
    data, data that cannot be listed or that load_dataset would refuse (the read then says why)."""
    try:
        p = resolve_data_root(path, dataset)
        if not p.exists() or dataset == "unlabelled":
            return None
        kind = _detect(p)
        _refuse_other_format(p, dataset, kind)     # (its DataError: None, as load_dataset would refuse it)
        if kind == "folder":
            names = folder_class_names(p)
            return None if names is None else (kind, names, None)
        if kind == "folder-tar":
            tree = image_tar_tree(p)
            names = None if _is_pile(tree) else folder_class_names(tree)
            return None if names is None else (kind, names, None)
        if kind == "npz":
            info = npz_labels(p) if npz_has_labels(p) else None
            return None if info is None else (kind, info["class_names"], info)
        if kind == "cifar-batches":
            folder = _cifar_batch_folder(p)
            if any(not (folder / f).is_file() for f in CIFAR_BATCH_FILES):
                return None
            return kind, cifar_batch_class_names(folder), None
    except (WildganError, OSError, ValueError):
        pass
    return None


def as_path_list(paths: Any) -> Any:
    """`paths` of a reader of several files (score_files, load_images, report's images): one str or os.PathLike is
    one path, a list of it; anything else as given. Iterated as it was, 'pile' was the paths 'p', 'i', 'l', 'e' ("p: no
    such file or folder", or a folder of that name read in its place)."""
    return [paths] if isinstance(paths, (str, os.PathLike)) else paths


def list_image_files(paths: Sequence[str | Path], repeats: list[str] | None = None,
                     origins: list[int] | None = None) -> list[Path]:
    """Image files and/or folders -> the image files, folders recursed (sorted, hidden entries skipped, symlinked
    folders and files followed, ids keep the path through the link); a file named twice (or given beside a folder
    that holds it) is kept once, at its first mention: `repeats` (when given) gains a description of each later
    mention ("a.png, again in folder imgs"), for a caller that says so. Files of image formats that are not read (.heic,
    .avif ...) are named in one warning per folder. `origins` (when given) gains, for each file returned, the index in
    `paths` of the item that first named it (a caller that reads a list of items in order needs the split)."""
    paths = as_path_list(paths)
    files: list[Path] = []
    found_in: dict[int, Path] = {}      # the folder given that each file listed from one came from (its index)
    item_of: list[int] = []             # each file listed: the index of the item of `paths` that listed it
    for j, q in enumerate(paths):
        q = Path(q)
        if q.is_dir():
            err = wildgan_output_error(q)
            if err is not None:
                raise err
            found, other = _scan_images(q)
            mixed = _cifar_beside_images(q) if found else None
            if mixed is not None:
                raise mixed                # (as load_dataset refuses it: read as images, the batches were lost)
            if not found:
                if _detect(q) == "cifar-batches":
                    raise dataset_among_images_error(q)
                raise _no_images_error(f"{q}: folder contains", other, folder=q)
            _warn_other(q, other)
            found_in.update((i, q) for i in range(len(files), len(files) + len(found)))
            files.extend(found)
            item_of.extend([j] * len(found))
        elif q.exists():
            if dataset_file_kind(q):
                # said now, by its kind: read as an image it would only be 'not a readable image'
                raise dataset_among_images_error(q)
            files.append(q)
            item_of.append(j)
        else:
            raise DataError(f"{q}: {_broken_link(q) or 'no such file or folder'}")
    if not files:
        raise DataError("no images given")
    unique: dict[Path, Path] = {}
    for i, f in enumerate(files):
        kept = unique.setdefault(f.resolve(), f)
        if kept is f:
            if origins is not None:
                origins.append(item_of[i])
        elif repeats is not None:
            where = f"again in folder {found_in[i]}" if i in found_in else "given again"
            repeats.append(f"{kept}, {where}" + (f" as {f}" if f != kept else ""))
    return list(unique.values())


# how many later mentions of files given more than once the warning names (repeated_files_warning)
NAMED_REPEATS = 5


def repeated_files_warning(repeats: Sequence[str], done: str = "read once (one image, under the name first given)"
                           ) -> str | None:
    """The warning that files given more than once are taken once (repeats: list_image_files' descriptions of the
    later mentions, the first NAMED_REPEATS named), or None for none. done: what happens to such a file (a scorer:
    'scored once (one row, ...)'). Why said: a caller that lines results up with the paths it gave is a row short
    of them from the repeat on."""
    if not repeats:
        return None
    more = len(repeats) - NAMED_REPEATS
    return (f"a file given more than once is {done}: {'; '.join(repeats[:NAMED_REPEATS])}"
            + (f"; and {more} more" if more > 0 else ""))


def list_image_files_once(paths: Sequence[str | Path], origins: list[int] | None = None) -> list[Path]:
    """list_image_files, with a warning (repeated_files_warning) naming each file given more than once (twice by
    name, a link beside the file it points to, by name and in a folder given): it is read once, and the images a
    reader returns are a row short of the names given per repeat. `origins`: as list_image_files'."""
    repeats: list[str] = []
    files = list_image_files(paths, repeats, origins)
    msg = repeated_files_warning(repeats)
    if msg:
        warn_user(msg)
    return files


def ids_relative_to(ids: Sequence[str], root: str | Path) -> list[str]:
    """File ids (paths under `root`, as list_image_files lists a folder) relative to `root`, with / between folders:
    the one rule of ids relative to a folder (ids_under_folder) and of the files of a tar unpacked at `root`
    (image_tar_tree), named by their paths inside the archive, not by their place in the cache. An id not under
    `root` (not expected: the listing joins the folder's own path to each file) is kept as it is."""
    root = Path(root)
    out = []
    for i in ids:
        try:
            out.append(Path(i).relative_to(root).as_posix())
        except ValueError:
            out.append(i)
    return out


def ids_under_folder(ids: Sequence[str], paths: Sequence[str | Path]) -> list[str]:
    """The ids of the files read from `paths` (file paths, as list_image_files lists them) as the CLI's CSVs write
    them. One folder given: each file's path relative to it (ids_relative_to), as a data set's ids are relative to
    its root (a class-folder tree read with --normal, a pile's train_scores.csv, evaluate's and a study's
    test_scores.csv); so one file has one id however the folder was named (relative, absolute, ./tree/, with --normal
    or without) and rows join across those files. (A tar's ids are its paths inside the archive, the top folder of a
    pile's kept; a class-folder tar read with --normal names them relative to the tree inside it: docs/cli.md.)
    Image files, or several paths: the ids as they are, the paths as given: they have no one root, and two folders
    may hold the same names."""
    if len(paths) != 1 or not Path(paths[0]).is_dir():
        return list(ids)
    return ids_relative_to(ids, paths[0])


def load_images(paths: str | Path | Sequence[str | Path], resolution: int, channels: int, **opts: Any
                ) -> tuple[np.ndarray, list[str]]:
    """Image files and/or folders (recursed, sorted) -> (uint8 [N, R, R, C], ids = file paths).

    Converted exactly like training data: pass the split's info['conversion'] entries (fit, depth16) as opts.
    With skip_bad=True unreadable files are left out (with a warning) and are absent from the ids.
    """
    x, ids, _, _ = load_image_files(paths, resolution, channels, **opts)
    return x, ids


def load_image_files(paths: str | Path | Sequence[str | Path], resolution: int, channels: int, **opts: Any
                     ) -> tuple[np.ndarray, list[str], list[int], int]:
    """load_images, and where its images sit among the files listed: (uint8 [N, R, R, C], ids, each image's index
    among the n files that `paths` list (ascending; with skip_bad=True the unreadable files' indices are missing),
    n). A caller that scores the images as `wildgan score` scores those files needs this: score batches are drawn
    over the whole file list, an unreadable file leaving its slot in its batch (scoring.run.score_read_files).
    A file given more than once (twice by name, by two names of one file, or by name and in a folder given) is read
    once, at its first mention, under the name first given (n counts it once), with a warning naming the repeats."""
    files = list_image_files_once(paths)
    (x, kept, skipped), = iter_images(files, resolution, channels, **opts)
    for _, reason in skipped:
        warn_user(f"skipped {reason}")
    return x, [str(files[i]) for i in kept], list(kept), len(files)


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
    each readable file's channel count (1 gray, 3 colour) is put there by file index instead. Counted as the run's
    record says (trained_kind): by what each file holds (1 for gray stored as RGB too, which loses nothing made
    gray: transforms.own_channels), or by its mode where the run's colour record was decided so.
    """
    o = parse_opts(dict(opts, resolution=check_resolution(resolution), channels=channels))
    if not files:
        raise DataError("no images given")
    # 16-bit images scored with a run trained on 8-bit ones are read as their 8-bit copies would be, not stretched
    # (imageset.scoring_depth16); run_rule: the run's own, which depth_warning names
    run_rule = o.depth16
    o = replace(o, depth16=scoring_depth16(o.depth16, o.trained_depth))

    # decoded gray / colour files, by index (a file read by two chunks, the topped-up last score batch, counts
    # once): a mismatch with the run is worth a word
    native: dict[int, int] = {} if kinds is None else kinds
    decoded: list[int] = []                   # the files' own channel counts of the chunk's kept files, in order
    record = {"gray_data": o.gray_data, "colour_data": o.colour_data, "colour_rule": o.colour_rule,
              "gray_trained": o.gray_trained}
    trained_on, by_content = trained_kind(record)
    gray_share = trained_gray_share(record)    # (a colour run with some gray training images)
    # (what the files hold is taken only for a run that has a kind or a share to warn about: it costs a pass over a
    # gray image)
    held = (trained_on is not None or gray_share is not None) and by_content

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
            arrays, kept = decode_files(part, lenient if several else o, skipped, sizes=sizes, convert_one=one,
                                        max_skipped=None if o.skip_bad else MAX_NAMED_BAD_FILES, chunked=True,
                                        stats=stats, pool=pool, kinds=None if held else decoded,
                                        held=decoded if held else None)
            if o.resize == "error" and len(sizes) > 1:
                (h0, w0), f0 = next(iter(sizes.items()))
                (h, w), f = list(sizes.items())[1]
                raise DataError(f"{f}: image size {w}x{h} differs from {f0} ({w0}x{h0}); {mixed_sizes_refused()}")
            reasons = [s["reason"] for s in skipped]
            if reasons and not o.skip_bad:
                # the later chunks' files by their headers only (a full decode of a large pile, at native size in one
                # process, took minutes before the error): what does not even open is named with read_image's reason;
                # a file truncated further in is found by the next run
                seen = {i for c in chunks[:ci + 1] for i in c}
                for i in dict.fromkeys(i for c in chunks[ci + 1:] for i in c if i not in seen):
                    if len(reasons) >= MAX_NAMED_BAD_FILES:
                        break
                    if header_opens(files[i]):
                        continue
                    try:
                        read_image(files[i], o.depth16)
                    except DataError as e:
                        reasons.append(str(e))
                raise unreadable_files_error(sorted(reasons[:MAX_NAMED_BAD_FILES]))
            msg = None if warned else crop_warning(set(sizes), o.fit, o.resolution, "images",
                                                   hint=option_words("a run trained with --square letterbox",
                                                                     "a run trained with square='letterbox'"))
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
                # images of another bit depth than the run's training images, named (the dataset warnings above
                # about mixed depths and stretching are a data set's, not of images to score)
                msg = depth_warning(stats, o.trained_depth, run_rule, o.depth16)
                if msg:
                    warn_user(msg)
                # images resized within the scale warning's factor: one word for the whole call, once every size
                # is known (nothing when the scale warning spoke: one warning about the sizes)
                msg = None if scale_warned or not o.native_sides else resize_warning(sizes, o.native_sides,
                                                                                     resolution, o.fit)
                if msg:
                    warn_user(msg)
                msg = None if kinds is not None else channel_warning(*channel_counts(native), trained_on,
                                                                     gray_share)
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


def trained_kind(conversion: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(the kind of a run's training images, 'gray' | 'colour' | None (mixed, or the channels were chosen); whether
    images to score are counted by what they hold, transforms.own_channels, rather than by their files' mode) from
    its conversion record (conversion_opts; a Detector's conversion_). By what they hold for a gray run (an RGB file
    of a gray scan made gray loses nothing) and for a colour run recorded by the same rule (colour_rule 'content':
    no training image gray by what it held, splits.all_colour). A colour record of the older rule (by the files'
    mode: a Detector fitted before colour_rule was recorded, whose RGB arrays of gray content counted as colour;
    CIFAR-10, colour files with some gray photos in them) counts images to score by mode as well: by content, the
    same kind of image as its training images would be called gray."""
    if conversion.get("gray_data"):
        return "gray", True
    if conversion.get("colour_data"):
        return "colour", conversion.get("colour_rule") == "content"
    return None, True


def channel_counts(kinds: dict[int, int]) -> tuple[int, int]:
    """(gray files, colour files) of iter_images' `kinds` (file index -> channel count, counted as trained_kind
    says)."""
    n_gray = sum(1 for c in kinds.values() if c == 1)
    return n_gray, len(kinds) - n_gray


def trained_gray_share(conversion: Mapping[str, Any]) -> float | None:
    """The share of gray images (by what they held, transforms.own_channels) among a colour run's training images,
    from its conversion record's `gray_trained` ([gray, images]: splits.gray_trained_record, written where the run
    was not all colour, trained_kind None), for the warning about gray images to score (channel_warning); None
    where the record has none (a gray run, an all-colour one, or one from before it was recorded: nothing said, as
    before) or a damaged one."""
    if conversion.get("gray_data") or conversion.get("colour_data"):
        return None
    rec = conversion.get("gray_trained")
    if not isinstance(rec, (list, tuple)) or len(rec) != 2 or not all(type(v) is int for v in rec):
        return None
    k, n = rec
    return k / n if 0 <= k <= n and n > 0 else None


# gray images to score are warned about, for a colour run that trained on some gray ones, when their share is at least
# GRAY_SHARE_FACTOR times the training share and a share that high would come by chance less often than
# GRAY_SHARE_CHANCE (gray_share_unexpected)
GRAY_SHARE_FACTOR = 2.0
GRAY_SHARE_CHANCE = 0.01


def gray_share_unexpected(n_gray: int, n: int, share: float) -> bool:
    """Whether n_gray gray images among n to score are far more than a run whose training images were `share` gray
    would expect: at least GRAY_SHARE_FACTOR times that share, and unlikely to be chance, n draws of the training mix
    giving that many gray ones with a probability below GRAY_SHARE_CHANCE (by the Chernoff bound exp(-n KL(s || p)),
    which needs no sum over n: one gray image of one scored is no sign against a 5% gray training set, two of two
    are). A training set with no gray image: any gray image to score."""
    if n_gray <= 0 or n <= 0:
        return False
    s, p = n_gray / n, share
    if s < GRAY_SHARE_FACTOR * p:
        return False
    if p <= 0:
        return True
    kl = s * math.log(s / p) + ((1 - s) * math.log((1 - s) / (1 - p)) if s < 1 else 0.0)
    return math.exp(-n * kl) < GRAY_SHARE_CHANCE


def _percent(x: float) -> str:
    """A share as a percentage of two significant digits at most ('0.4%', '12%')."""
    return f"{100 * x:.2g}%" if x < 0.1 else f"{100 * x:.0f}%"


def channel_warning(n_gray: int, n_colour: int, trained_on: str | None,
                    gray_share: float | None = None) -> str | None:
    """The word for images of the other kind than a model's training images ('gray' | 'colour', when they were all
    of one kind; None: mixed, or the channels were chosen, and nothing is said): converted, but likely the wrong
    run for them, or scores that reflect the conversion. The callers count by trained_kind's rule: gray stored as
    RGB counts as gray (transforms.own_channels) save for a colour run recorded by the files' mode, so that 'colour
    images converted to gray' only says a conversion that loses colour. gray_share: a colour run that was not all
    colour (trained_kind None), the share of its training images that were gray (trained_gray_share): gray images
    to score are worth a word where they are far more (gray_share_unexpected)."""
    if trained_on == "gray" and n_colour:
        return (f"{n_colour} colour image{'s are' if n_colour != 1 else ' is'} converted to gray: the network was "
                f"trained on gray images (is it the run meant for these images?)")
    if trained_on is None and gray_share is not None and gray_share_unexpected(n_gray, n_gray + n_colour,
                                                                               gray_share):
        if gray_share <= 0:
            trained_on = "colour"     # (its training images all colour, though its data set was not)
        else:
            n = n_gray + n_colour
            return (f"{n_gray} of the {n} images ({_percent(n_gray / n)}) are gray, against "
                    f"{_percent(gray_share)} of the images the network was trained on: gray images (each repeated "
                    f"into 3 channels) can score as anomalous for their missing colour alone with a network trained "
                    f"mostly on colour ones (is it the run meant for these images?)")
    if trained_on == "colour" and n_gray:
        return (f"{n_gray} gray image{'s are' if n_gray != 1 else ' is'} scored by a network trained on colour "
                f"images (each repeated into 3 channels): their missing colour alone can make them score as "
                f"anomalous (is it the run meant for these images?)")
    return None


# gray images among colour ones in a data set read (mixed_channels_warning) are worth a word when their share in one
# class or split is that far above the rest's (GRAY_SHARE_FACTOR times, by chance less often than GRAY_SHARE_CHANCE:
# _far_grayer) and at least this many percentage points above it: CIFAR-10's few per cent of gray photos (4% of its
# airplanes against 1% of the rest) shift an AUC by too little to be worth a warning on every read of the benchmark
GRAY_SHARE_MIN_EXCESS = 0.10


def _far_grayer(k_a: int, n_a: int, k_b: int, n_b: int) -> bool:
    """Whether group a (k_a gray among n_a images) is far grayer than group b: its share at least GRAY_SHARE_FACTOR
    times b's and GRAY_SHARE_MIN_EXCESS above it, and the gray images of the two falling so unevenly less often than
    GRAY_SHARE_CHANCE by chance (_uneven_by_chance: both groups are samples, so that one gray image in a class of six
    against none among five others is no sign)."""
    if n_a <= 0 or n_b <= 0:
        return False
    s_a, s_b = k_a / n_a, k_b / n_b
    return (s_a >= GRAY_SHARE_FACTOR * s_b and s_a - s_b >= GRAY_SHARE_MIN_EXCESS
            and _uneven_by_chance(k_a, n_a, k_a + k_b, n_a + n_b) < GRAY_SHARE_CHANCE)


def _uneven_by_chance(k_a: int, n_a: int, k: int, n: int) -> float:
    """The chance that n_a images drawn from n, k of them gray, hold k_a gray ones or more (the hypergeometric tail:
    Fisher's exact test, one-sided), by log-gamma terms, which stay finite for a data set of any size."""
    def log_comb(m: int, r: int) -> float:
        return math.lgamma(m + 1) - math.lgamma(r + 1) - math.lgamma(m - r + 1)

    top = min(k, n_a)
    if k_a > top:
        return 0.0
    whole = log_comb(n, n_a)
    return min(1.0, sum(math.exp(log_comb(k, j) + log_comb(n - k, n_a - j) - whole)
                        for j in range(max(k_a, k - (n - n_a)), top + 1)))


def mixed_channels_warning(what: str, parts: Sequence[tuple[str, np.ndarray, np.ndarray | None, Sequence[str]]],
                           class_names: Sequence[str] = ()) -> str | None:
    """The warning for a data set of gray and colour images read with the channels left to it (all are made RGB),
    once for the whole set (its training and test splits together), or None where the mix does no harm. what: the
    data set, which the text starts with (none: ''); parts: per split (name, each image gray by what it holds
    (transforms.own_channels), its class labels or None for a pile, its file names). Said where the mix matters: the
    gray images are the majority (the colour few make the run RGB, 3x the input of a gray one, which --channels 1
    avoids), or gray and colour follow the labels (gray images far more common in one class, or in the test split,
    than in the rest: a network trained mostly on colour images can score them as anomalous for their missing colour
    alone, and an AUC then measures colour). A few gray photos among colour ones (CIFAR-10: 1.3%) lose nothing made
    RGB: a warning on every read of such data would only teach users to skip warnings."""
    flags = [(name, np.asarray(g, bool), y, names) for name, g, y, names in parts if len(g)]
    n = sum(len(g) for _, g, _, _ in flags)
    k = sum(int(g.sum()) for _, g, _, _ in flags)
    if k == 0 or k == n:
        return None
    gray_one = next(names[int(np.argmax(g))] for _, g, _, names in flags if g.any())
    colour_one = next(names[int(np.argmin(g))] for _, g, _, names in flags if not g.all())
    counted = "by their pixels: RGB images of gray content count as gray"
    gray_all = option_words("--channels 1", "channels=1")
    what = f"{what}: " if what else ""
    if k > n - k:
        return (f"{what}{k} of the {n} images are gray and {n - k} colour ({counted}): all are converted to RGB for "
                f"the colour ones, 3x the input of a gray run ({gray_all} makes them all gray); colour, e.g.: "
                f"{colour_one}")
    # (group's name, its gray and images, the rest's name, its gray and images): the first far grayer than its rest
    groups: list[tuple[str, int, int, str, int, int]] = []
    split = {name: (int(g.sum()), len(g)) for name, g, _, _ in flags}
    if "train" in split and "test" in split:
        (k_tr, n_tr), (k_te, n_te) = split["train"], split["test"]
        groups += [("the test split", k_te, n_te, "the training split", k_tr, n_tr),
                   ("the training split", k_tr, n_tr, "the test split", k_te, n_te)]
    labels = [(g, y) for _, g, y, _ in flags if y is not None and len(y) == len(g)]
    if len(class_names) > 1 and len(labels) == len(flags):
        g_all = np.concatenate([g for g, _ in labels])
        y_all = np.concatenate([np.asarray(y) for _, y in labels])
        counts = [(cname, int(g_all[y_all == c].sum()), int((y_all == c).sum())) for c, cname in enumerate(class_names)]
        # (a class grayer than the rest named first: of two classes, the gray one is named, not 'the other classes')
        groups += [(f"class {cname!r}", k_c, n_c, "the other classes", k - k_c, n - n_c) for cname, k_c, n_c in counts]
        groups += [("the other classes", k - k_c, n - n_c, f"class {cname!r}", k_c, n_c) for cname, k_c, n_c in counts]
    for a, k_a, n_a, b, k_b, n_b in groups:
        if _far_grayer(k_a, n_a, k_b, n_b):
            return (f"{what}gray images are {_percent(k_a / n_a)} of {a} ({k_a} of {n_a}) against "
                    f"{_percent(k_b / n_b)} of {b} ({counted}): all are converted to RGB, and a network trained mostly "
                    f"on colour images can score gray ones as anomalous for their missing colour alone, so that an AUC "
                    f"between them partly measures colour ({gray_all} makes them all gray); gray, e.g.: {gray_one}")
    return None


def none_readable_error(n_files: int, reasons: Sequence[str]) -> DataError:
    """Every one of n_files image files was unreadable (skip_bad): one error with the first reasons."""
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    if n_files == 1:
        return DataError(f"the one image file given is not readable: {shown}")
    return DataError(f"none of the {n_files} image files is readable: {shown}")


# names that scripts may import from here from before the split of this module (and from wildgan.cli): where each
# lives now. Resolved by __getattr__ below with a DeprecationWarning naming the new place.
_MOVED = {
    "CIFAR10_CLASSES": "dataset_files", "restricted_unpickle": "dataset_files",
    "CHUNK_POOL_MIN_BYTES": "decode_pool", "DecodePool": "decode_pool", "PARALLEL_DECODE_MIN_FILES": "decode_pool",
    "ROOM_CHECK_MIN_BYTES": "decode_pool", "ROOM_SAMPLE": "decode_pool", "TRAINING_HOLDS": "decode_pool",
    "decode_workers": "decode_pool", "host_memory_available": "decode_pool", "release_freed_memory": "decode_pool",
    "JPEG_DRAFT_GAP": "image_decode", "decode_pil": "image_decode", "draft_scale": "image_decode",
    "read_image_sized": "image_decode",
    "READER_CHANGES": "imageset", "READER_VERSION": "imageset", "SCALE_FACTOR": "imageset",
}


def __getattr__(name: str) -> Any:
    # PEP 562: only asked for names not defined above. The modules are already loaded by the imports at the top;
    # imported here by name all the same, so that test_layering sees every edge.
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import dataset_files, decode_pool, image_decode, imageset

    new = {m.__name__.rpartition(".")[2]: m for m in (dataset_files, decode_pool, image_decode, imageset)}[_MOVED[name]]
    return moved_name(__name__, name, new)
