"""Decoding one image file: which files are read as images (IMAGE_EXTS), read_image / read_image_sized (a large JPEG
at a reduced scale, draft_scale), and decode_pil, the one rule for files and PIL images (EXIF orientation, 16-bit
colour; decode_pil_sized: a PIL image opened from a JPEG and not yet loaded, at the reduced scale of its file);
every failure is a DataError that names the file.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from ..errors import ConfigError, DataError, warn_user
from .dataset_files import dataset_among_images_error, dataset_file_kind
from .transforms import MAX_AUTO_RESOLUTION, base_depth16, pil_to_array


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
OTHER_IMAGE_EXTS = frozenset({
    ".webp", ".heic", ".heif", ".hif", ".avif", ".jxl", ".jp2", ".j2k", ".jpf", ".jpx", ".jpm", ".jpe", ".jfif",
    ".pjpeg", ".apng", ".svg", ".svgz", ".psd", ".psb", ".xcf", ".kra", ".ico", ".icns", ".cur", ".tga", ".pcx",
    ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".qoi", ".sgi", ".xbm", ".xpm", ".exr", ".hdr", ".dds", ".eps", ".emf",
    ".wmf", ".dcm", ".dicom", ".fits", ".raw", ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2",
    ".orf", ".rw2", ".raf", ".pef", ".srw", ".x3f", ".erf", ".3fr", ".mos", ".mrw", ".kdc", ".dcr",
    # microscopy and medical / astronomy formats (Zeiss, Nikon, Leica, Imaris, Olympus, slide scanners, NIfTI)
    ".czi", ".nd2", ".lif", ".lsm", ".ims", ".oib", ".oif", ".vsi", ".svs", ".ndpi", ".scn", ".mrxs", ".nii",
}) - set(IMAGE_EXTS)
NPY_HINT = ("a bare .npy array is not read: save it as an .npz, e.g. np.savez('images.npz', x=array) (uint8 "
            "[N, H, W] or [N, H, W, C]; add y=labels for a labelled set), and pass that")


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
    from a folder must give the same pixels, as must a folder tree read at its own size and converted for a study's
    cells (data.splits.read_for); small JPEGs decode fast anyway."""
    if max(h, w) <= MAX_AUTO_RESOLUTION:
        return 1
    fits = min(h, w) // (JPEG_DRAFT_GAP * reduce_for)
    for s in (8, 4, 2):
        if s <= min(fits, _DRAFT_MAX_SCALE) and h % s == 0 and w % s == 0 and (abs(h - w) // 2) % s == 0:
            return s
    return 1


def _swaps_sides(img: Image.Image) -> bool:
    """Whether decode_pil's EXIF orientation turns the image a quarter (its width becomes its height)."""
    return _ORIENT.get(_orientation(img)) in _QUARTER_TURNS


# EXIF orientation -> how the stored pixels are turned to be shown (ImageOps.exif_transpose's table)
_ORIENT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}
_QUARTER_TURNS = (Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE,
                  Image.Transpose.ROTATE_90)


def _orientation(img: Image.Image) -> int:
    """An image's EXIF orientation (1: as stored), for the formats whose orientation is applied. A damaged EXIF block
    reads as 1: its pixels are good and every viewer shows them as stored, where Pillow's exif_transpose raised
    (a PNG's eXIf chunk that does not parse: SyntaxError) and the whole image was refused as corrupt."""
    if img.format not in _ORIENTED_FORMATS:
        return 1
    try:
        o = img.getexif().get(0x0112, 1)
        # exactly a whole number (6.0, a RATIONAL 6/1), as exif_transpose matched it: int() made a damaged tag's 6.7,
        # or the text "6", a quarter turn that no viewer makes (and that changed the image's sides)
        return int(o) if not isinstance(o, (str, bytes)) and int(o) == o else 1
    except Exception:  # noqa: BLE001 - anything Pillow raises on a damaged block: no orientation known
        return 1


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
        if ext == ".npy":
            raise DataError(f"{p}: {NPY_HINT}") from e
        if ext in OTHER_IMAGE_EXTS:
            raise DataError(f"{p}: the {ext} format is not read (formats read: {', '.join(IMAGE_EXTS)}); export the "
                            "images to TIFF or PNG (e.g. with Fiji / Bio-Formats) and pass those") from e
        if dataset_file_kind(p):
            raise dataset_among_images_error(p) from e
        raise DataError(f"{p}: not a readable image (unknown format or not an image file)") from e
    except Image.DecompressionBombError as e:
        raise _too_large_error(str(p), e) from e
    except MemoryError:
        raise                   # the machine, not the file: never reported (or skipped) as a corrupt image
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error ... for corrupt files
        raise _not_read(str(p), e) from e
    with img:
        h0, w0 = img.height, img.width
        drafted = _draft(img, reduce_for, str(p))
        limit = Image.MAX_IMAGE_PIXELS
        # (a photo drafted below the limit costs little memory: no warning)
        if limit and img.width * img.height > limit:
            warn_user(f"{p}: a very large image ({w0}x{h0}, {w0 * h0 / 1e6:.0f} "
                      f"megapixels, above Pillow's decompression-bomb limit of {limit / 1e6:.0f}): decoded all the "
                      "same, at a large cost in memory; is it the right file? (cut it into tiles, or export it "
                      "smaller)")
        try:
            # (a camera JPEG's MPF preview makes Pillow open it as MPO with 2 frames: one photo, not a stack)
            pages = 1 if img.format == "MPO" else int(getattr(img, "n_frames", 1) or 1)
        except Exception:   # a damaged later page: the first one is decoded (or refused) below
            pages = 1
        a = decode_pil(img, str(p), depth16, stats)
        h0, w0 = _shown_size(img, a, drafted, h0, w0)
    if pages > 1 and stats is not None:
        stats["pages"] = stats.get("pages", 0) + 1
        if "pages_file" not in stats:
            stats["pages_file"], stats["pages_n"] = str(p), pages
    return a, (int(h0), int(w0))


def _too_large_error(name: str, e: Exception) -> DataError:
    """The refusal of an image above twice Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS, about 179
    megapixels by default): its size and what to do, as the warning of one between the limit and twice it says
    (read_image_sized). Pillow's own words ('could be decompression bomb DOS attack') gave a 300-megapixel slide scan
    or panorama no way on. The check stays on: the size is read from Pillow's check itself (its `size`, else the
    pixel count of its message), not by opening the file again without it."""
    size = None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_decompression_bomb_check":
            size = tb.tb_frame.f_locals.get("size")
        tb = tb.tb_next
    if isinstance(size, tuple) and len(size) == 2:
        w, h = int(size[0]), int(size[1])
        how_big = f"{w}x{h}, {w * h / 1e6:.0f} megapixels"
    else:
        m = re.search(r"\((\d+) pixels\)", str(e))
        how_big = f"{int(m.group(1)) / 1e6:.0f} megapixels" if m else str(e)
    limit = Image.MAX_IMAGE_PIXELS
    over = f", over {2 * limit / 1e6:.0f}, twice Pillow's decompression-bomb limit" if limit else ""
    return DataError(f"{name}: image too large to decode safely ({how_big}{over}): is it the right file? Cut it into "
                     f"tiles (e.g. `vips dzsave` or ImageMagick's `-crop`), or export it smaller, and pass those")


# The system's errors in reading a file that is fine: a disk's (EIO); a network share's, NFS's ESTALE (the file replaced
# on the server), a soft mount's ETIMEDOUT, SMB's EHOSTDOWN or a dropped connection, which were called "truncated or
# corrupt" though the share is the place to look; the process's open files all taken (EMFILE, ENFILE: the machine)
_SYSTEM_ERRNOS = frozenset(getattr(errno, n) for n in ("EIO", "ESTALE", "ETIMEDOUT", "EHOSTDOWN", "ENOTCONN",
                                                       "ECONNRESET", "ECONNABORTED", "EMFILE", "ENFILE")
                           if hasattr(errno, n))


def _not_read(name: str, e: Exception) -> DataError:
    """The error for a file that Pillow failed on: one the system would not let be read (gone since it was listed,
    another user's, a disk's or a network share's read error) said as such, else a truncated or corrupt image. Why:
    a file removed by a sync after it was listed, or of mode 600, was called "truncated or corrupt", and the user
    looked for damage in a file that was fine. (By the system's own errors only: Pillow's for bad data carry no
    errno, and a bogus offset's seek, EINVAL, is the file's fault.)"""
    if isinstance(e, (FileNotFoundError, PermissionError)) or (isinstance(e, OSError) and e.errno in _SYSTEM_ERRNOS):
        return DataError(f"{name}: cannot read file ({e.strerror or e})")
    return DataError(f"{name}: truncated or corrupt image ({type(e).__name__}: {e})")


def _draft(img: Image.Image, reduce_for: int | None, name: str) -> bool:
    """Set a JPEG not yet loaded to decode at draft_scale's reduction for reduce_for (nothing for other formats, or
    reduce_for None); whether its size changed. Changes img in place."""
    if reduce_for is None or img.format not in _DRAFT_FORMATS:
        return False
    h0, w0 = img.height, img.width
    scale = draft_scale(h0, w0, reduce_for)
    if scale == 1:
        return False
    try:
        # (Pillow picks the largest of 1/8, 1/4, 1/2 that keeps this size: exactly 1/scale here)
        img.draft(img.mode, (w0 // scale, h0 // scale))
    except Exception as e:  # (Pillow reads the header lazily: a damaged one can fail here)
        raise DataError(f"{name}: truncated or corrupt image ({type(e).__name__}: {e})") from e
    return (img.height, img.width) != (h0, w0)


def _shown_size(img: Image.Image, a: np.ndarray, drafted: bool, h0: int, w0: int) -> tuple[int, int]:
    """The size as shown of an image decoded into `a`: the array's, or for a drafted JPEG its full size (h0, w0)
    turned as decode_pil turned it (asked of the EXIF only now: a PNG's EXIF is read by loading the image, which
    _is_colour16 must see unloaded)."""
    if not drafted:
        return int(a.shape[0]), int(a.shape[1])
    return (w0, h0) if _swaps_sides(img) else (h0, w0)


def decode_pil_sized(img: Image.Image, name: str, depth16: str = "per-image", stats: dict[str, Any] | None = None,
                     reduce_for: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """decode_pil of a PIL image passed in memory, and its (H, W) as shown. A JPEG not yet loaded (as Image.open
    returns it) is decoded by read_image_sized's rule for reduce_for (draft_scale), so that it gives the pixels of
    its file read by path. The draft is made on a twin opened from the same bytes (_unloaded_twin): draft shrinks an
    image in place, so the caller's image would change size under them, and Image.copy cannot make the twin (it
    loads in full first). The caller's image is then left unloaded, its file position as it was. A loaded image (or
    one whose bytes cannot be read again) is decoded as it is, in full."""
    twin = None
    if reduce_for is not None and img.format in _DRAFT_FORMATS:
        # also when reduce_for takes no draft: the caller's image stays unloaded, so that a smaller final resolution
        # (a fit's automatic one, data.inputs._ImageList.refit) can still take its draft
        twin = _unloaded_twin(img)
    if twin is None:
        a = decode_pil(img, name, depth16, stats)
        return a, (int(a.shape[0]), int(a.shape[1]))
    with twin:
        h0, w0 = twin.height, twin.width
        drafted = _draft(twin, reduce_for, name)
        a = decode_pil(twin, name, depth16, stats)
        return a, _shown_size(twin, a, drafted, h0, w0)


def draftable(img: Image.Image) -> bool:
    """Whether decode_pil_sized can still decode this PIL image at a reduced scale: a JPEG not yet loaded."""
    return img.format in _DRAFT_FORMATS and bool(getattr(img, "tile", None))


def _unloaded_twin(img: Image.Image) -> Image.Image | None:
    """A second image opened from the bytes of an image not yet loaded (its tiles still to decode), or None: loaded,
    made in memory, a closed file, or bytes that open as another image (one that does not start at its stream's
    start: told by its tiles, whose offsets are positions in the stream)."""
    import io

    fp = getattr(img, "fp", None)
    if not getattr(img, "tile", None) or fp is None:
        return None
    try:
        pos = fp.tell()
        try:
            fp.seek(0)
            data = fp.read()
        finally:
            fp.seek(pos)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # (said when the caller opened it)
            twin = Image.open(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - anything: the caller's image is decoded as it is instead
        return None
    if (twin.format, twin.mode, twin.size, twin.tile) != (img.format, img.mode, img.size, img.tile):
        twin.close()
        return None
    return twin


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
    if getattr(img, "tile", None) and (getattr(img, "fp", None) is None or getattr(img.fp, "closed", False)):
        # Image.open reads the header only: a `with Image.open(f) as im:` block that has ended (or im.close()) leaves
        # an image whose pixels can no longer be read, which Pillow says as an AssertionError or 'seek of closed file'
        raise DataError(f"{name}: its file was closed before its pixels were read (an Image.open(...) image used "
                        f"after its `with` block or .close()): call im.load() while the file is open, or pass the "
                        f"file's path")
    try:
        colour16 = _is_colour16(img)
        img.load()
        # honour camera orientation so a photo looks the way its viewer shows it
        # (not a PIL image made or changed in memory, format None: a user's own rotation keeps the EXIF tag in .info)
        # (turned here, not by ImageOps.exif_transpose: that copies an image it does not turn, and raised on a
        # damaged EXIF block, or on rewriting one, where the pixels are good: _orientation)
        turn = _ORIENT.get(_orientation(img))
        img2 = img if turn is None else img.transpose(turn)
        # (16-bit colour: not an 8-bit image, counted below; Pillow made it 8-bit, which depth16 does not touch, so
        # not stretched under PER_IMAGE_8BIT either: the data docs say that depth16 does not apply to such files)
        a = pil_to_array(img2, name, base_depth16(depth16) if colour16 else depth16, None if colour16 else stats)
    except (DataError, ConfigError, MemoryError):
        raise                   # (MemoryError: the machine, not the file)
    except Image.DecompressionBombError as e:
        raise _too_large_error(name, e) from e
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error ... for corrupt files
        raise _not_read(name, e) from e
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise DataError(f"{name}: image has zero size")
    if colour16 and stats is not None:
        stats["colour16"] = stats.get("colour16", 0) + 1
        stats.setdefault("colour16_file", name)
    return a


def header_opens(path: Path) -> bool:
    """Whether Pillow recognises the file from its header (nothing is decoded). Not for a file that is not a regular
    one: a named pipe's open waits for a writer (read_image refuses it, naming the file)."""
    if not os.path.isfile(path):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)     # read_image says it, naming the file
            with Image.open(path) as img:
                return img.width > 0 and img.height > 0
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - anything Pillow raises: the caller asks read_image for the reason
        return False
