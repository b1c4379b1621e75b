"""What every reader shares: ImageSet (the images a reader returns), the read options (Opts, parse_opts), the version
of the decoding rules (READER_VERSION), and the warnings about a set once read: how its pixels were decoded
(warn_decode_stats), the centre crop of non-square images (crop_warning), a scale far from the training images'
(scale_warning) and, nearer, images resized from a size the training images did not have (resize_warning); and
how a warning recorded while reading is said again later (said_record, say_again).

The lowest of the reader modules: imageset <- dataset_files <- image_decode <- decode_pool <- readers.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import re
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..config import unknown_names_text
from ..errors import (RUN_DEPTH16, ConfigError, DataError, WildganWarning, depth16_option, depth16_said,
                      depth16_user_option, in_cli, option_words, warn_user, words_for)
from .transforms import (FITS, NAMED_FILES, PER_IMAGE_8BIT, base_depth16, check_depth16, check_resolution, convert,
                         crop_loss, depth16_bits, scaled_side, to_channels)


# bump when decoding rules change so stale caches are not reused (2: median-size rule, 3: 256 px automatic cap,
# 4: .webp and .gif read, symlinked folders followed, 5: JPEG aliases and PNM read, 6: __MACOSX folders skipped,
# uint16 arrays follow depth16 image by image, 2-channel arrays refused, 32-bit float TIFFs read, 7: large JPEGs
# decoded at a reduced scale, JPEG_DRAFT_GAP; a gray run's colour files made gray before they are shrunk, 8: gray or
# colour chosen by what the files hold, an RGB file of gray content counting as gray)
READER_VERSION = 8      # recorded in split.json: a rebuild by another reader is told apart
# the decoded caches' version, in their names: one above the reader's since their key names the decoders too
# (decode_key), so that the caches of reader 7 named before that, which this wildgan never reads, are removed as
# stale (readers._drop_stale_decoded) rather than kept for good
DECODE_CACHE_VERSION = READER_VERSION + 1
# what each reader version changed in which files a folder lists or how they read (split_differences explains a
# rebuild that differs from its record with the changes since the recording version)
READER_CHANGES = {
    4: "it reads .gif and .webp files and follows symlinked folders",
    5: "it reads .jfif/.jpe files and the PNM ones, .ppm/.pgm/.pbm/.pnm",
    # (no parentheses: the texts are said inside a warning's parenthesis, splits.split_differences)
    6: "it skips the __MACOSX folders that macOS zips leave, reads 32-bit float TIFFs and refuses 2-channel arrays",
    7: "it decodes JPEGs of at least 4 times the resolution at a reduced scale, and makes a gray run's colour files "
       "gray before shrinking them while decoding, which moves pixels by about 1 level of 255",
    8: "it chooses gray or colour by what the files hold, so that RGB files of gray content alone make a gray run",
}


def decoder_versions() -> str:
    """The libraries that turn the data's files into pixels: another Pillow, libjpeg(-turbo), libwebp or OpenJPEG
    can decode (and PIL resize or rotate) the same files a level or so apart."""
    import PIL
    from PIL import features

    jpeg = (f"libjpeg-turbo {features.version('libjpeg_turbo')}" if features.check_feature("libjpeg_turbo")
            else f"libjpeg {features.version('jpg')}")
    return (f"Pillow {PIL.__version__} ({jpeg}, libwebp {features.version('webp')}, "
            f"OpenJPEG {features.version('jpg_2000')})")


def decoders_text(decoders: Any) -> str:
    """A decoder_versions record as a message says it, without its parentheses ('Pillow 9.0.0 with libjpeg 8.0'):
    messages say it inside a parenthesis of their own (what changed since a run was trained), where a nested one is
    hard to read. The record itself keeps its form: split.json and resume folders compare it as written."""
    return re.sub(r"\s*\(([^()]*)\)", r" with \1", str(decoders))


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
        """The images at idx: indices, or a boolean mask of one entry per image (`s.subset(s.y == 0)`). Every image
        in order (nothing left out, the usual case) shares this set's pixels instead of copying them: a data set is
        the largest thing in memory, and subsets are only read. A torch tensor (index or mask) may be on any device."""
        torch = sys.modules.get("torch")          # (looked up, not imported: without it loaded nothing is a tensor)
        if torch is not None and isinstance(idx, torch.Tensor):
            # a GPU tensor (`s.subset(scores > t)` of scores on CUDA) was numpy's TypeError ("can't convert cuda:0
            # device type tensor to numpy")
            idx = idx.detach().cpu().numpy()
        idx = np.asarray(idx)
        if idx.dtype == bool:
            # (numpy's idiom; cast to int64, a mask read as the indices 0 and 1: the wrong images without a word)
            if idx.shape != (len(self.x),):
                raise DataError(f"ImageSet.subset: a mask of {idx.size} entries for {len(self.x)} images")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False)
        if len(idx) == len(self.x) and np.array_equal(idx, np.arange(len(self.x))):
            return ImageSet(self.x, self.y.copy(), list(self.class_names), list(self.ids),
                            None if self.group is None else self.group.copy(),
                            None if self.is_anomaly is None else self.is_anomaly.copy(), dict(self.info))
        return ImageSet(self.x[idx], self.y[idx], list(self.class_names), [self.ids[i] for i in idx],
                        None if self.group is None else self.group[idx],
                        None if self.is_anomaly is None else self.is_anomaly[idx], dict(self.info))


# ------------------------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class Opts:
    resolution: int | None = None   # convert while decoding (saves memory on big photos); None = native size
    channels: int | None = None     # None = 1 if every image is gray, else 3
    depth16: str = "per-image"
    resize: str = "resize"          # resize | error : images of different sizes
    skip_bad: bool = False
    fit: str = "resize"             # resize | pad (pad smaller images) | letterbox (pad non-square to square)
    download: bool = False
    cache_dir: str | None = None
    progress: bool | None = None    # None = tqdm's auto (bar only on a terminal)
    probe_uniform: bool = False     # internal: raise MixedSizes instead of unifying sizes
    gray_data: bool = False         # scoring for a run that chose gray because its data was all gray: colour is odd
    colour_data: bool = False       # ... that chose RGB because its data was colour: gray images are odd
    # how colour_data was decided: 'content' (no training image gray in what it holds, splits.all_colour: images to
    # score count by what they hold too, transforms.own_channels); None: by the files' mode, the older rule (and
    # CIFAR-10's, whose colour files hold some gray photos): images to score count by their files' mode too
    colour_rule: str | None = None
    # a colour run that was neither (some of its training images gray): [gray, images] of its training images
    # (readers.trained_gray_share), gray images to score being odd only when far more of them are gray
    gray_trained: tuple[int, int] | None = None
    # internal: also count the images each file (array) really holds as gray (info n_gray_held), for the warning about
    # images of another kind than a run's (evaluation); a pass over a gray image's pixels that training need not pay
    count_held: bool = field(default=False, compare=False)
    native_sides: tuple[int, int] | None = None  # scoring: the run's training images' shortest and longest side
    # scoring: the bit depth of the run's training images (TRAINED_DEPTHS; scoring_depth16, depth_warning); None: no
    # run (a plain read), nothing compared. Read by iter_images only: the readers of a data set ignore it
    trained_depth: str | None = None
    # internal: rotated copies training makes of each image (the memory estimate only)
    rotations: int = field(default=0, compare=False)
    # internal: a dict that collects the decode statistics (see warn_decode_stats) for a caller that warns about them
    # itself (the Detector); None: each reader warns about its own
    stats: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # internal: say that gray and colour images, found together, are all made RGB (stack). False for a tar's native
    # decode (read_folder_tar, channels left to the data so that one cache serves every choice) made for a caller
    # whose channels are chosen (the cifar10 protocol's RGB): its advice, --channels 1, was for a choice already made
    warn_mixed_channels: bool = field(default=True, compare=False)

    def decode_key(self) -> str:
        """What a decoded cache's pixels depend on: the decoding rules, the decoders (so that a cache written under
        another Pillow or libjpeg is decoded again rather than read, and split.json's `decoders` are the ones that
        made the pixels it records) and the conversion options."""
        if self.probe_uniform:  # native pixels: only the per-file decoding rules matter
            return json.dumps([DECODE_CACHE_VERSION, decoder_versions(), "native", self.depth16, self.skip_bad])
        return json.dumps([DECODE_CACHE_VERSION, decoder_versions(), self.resolution, self.channels, self.depth16,
                           self.resize, self.skip_bad, self.fit])


# a warning recorded to be said again: (text, category, file, line, module), a plain tuple so that a pool worker's
# records pickle (decode_pool)
Said = tuple[str, type[Warning], str, int, str]
# where the warnings of other libraries said again are remembered, as a module's __warningregistry__ remembers those
# it says: once per place under the default filter, whichever path says them again
_SAID_AGAIN_REGISTRY: dict[Any, Any] = {}


def said_record(w: warnings.WarningMessage) -> Said:
    """A warning recorded (catch_warnings(record=True)) as say_again takes it."""
    return (str(w.message), w.category, w.filename, w.lineno, os.path.splitext(os.path.basename(w.filename))[0])


def say_again(records: Iterable[Said], rename: Callable[[str], str] | None = None) -> None:
    """Warnings recorded while reading (by a pool worker, around a data set's readers, inside an archive's unpack),
    said now, one way whichever path recorded them: wildgan's at the user's line (warn_user), with their own
    category; another library's at its own file and line, once per place under the default filter
    (_SAID_AGAIN_REGISTRY); each (text, category) once. rename: applied to each text first (an archive's unpack named
    as the archive). Why one way: the paths said them with other locations (contextlib's line, the user's, the
    library's) and once or on every read, so the same warning looked different depending on how the data was read."""
    for text, category, filename, lineno, module in dict.fromkeys(
            (rename(r[0]) if rename is not None else r[0], *r[1:]) for r in records):
        if issubclass(category, WildganWarning):
            warn_user(text, category)
        else:
            warnings.warn_explicit(text, category, filename, lineno, module=module, registry=_SAID_AGAIN_REGISTRY)


# the list that warn_of_data adds its texts to, inside recording_data_warnings; None outside
_DATA_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("wildgan_data_warnings",
                                                                                  default=None)


class DataWords(str):
    """A warning's text as warn_of_data said it, recorded with `words`: its text in each context it can be worded for
    (words_key's), for a decoded cache read later in another context to say it in that one's words."""

    words: dict[str, str]

    def __new__(cls, text: str, words: dict[str, str]) -> "DataWords":
        out = super().__new__(cls, text)
        out.words = words
        return out


def words_key() -> str:
    """The context in progress that a warning about the data is worded for: the user's words (errors.in_cli: the
    CLI's options or the API's keywords), the resolutions the networks take (resolutions_taken), and whether the
    resolution is settled (resolution_settled)."""
    taken = _RESOLUTIONS_TAKEN.get()
    return json.dumps([in_cli(), None if taken is None else [list(taken[0]), taken[1]], _RESOLUTION_SETTLED.get()])


def _every_wording(make: Callable[[], str | None]) -> dict[str, str]:
    """make()'s text in each context words_key tells apart: the CLI's words and the API's, with no sizes taken,
    f-AnoGAN's and those in progress, the resolution settled or not."""
    out: dict[str, str] = {}
    for cli in (False, True):
        for taken in dict.fromkeys((None, FANOGAN_SIZES, _RESOLUTIONS_TAKEN.get())):
            for settled in (False, True):
                t_token, s_token = _RESOLUTIONS_TAKEN.set(taken), _RESOLUTION_SETTLED.set(settled)
                try:
                    with words_for(cli):
                        text, key = make(), words_key()
                finally:
                    _RESOLUTIONS_TAKEN.reset(t_token)
                    _RESOLUTION_SETTLED.reset(s_token)
                if text is not None:
                    out[key] = text
    return out


def warn_of_data(text: str | Callable[[], str | None]) -> None:
    """warn_user of a warning about the data itself that a decode says (images of several sizes made one, images
    above the automatic cap reduced, files of an unsupported format left out), also recorded where the caller records
    them (recording_data_warnings): a decoded cache read later instead of decoding says them again (say_again), as the
    decode did. Why: read from the cache they were lost, and the same archive was warned about on its first read
    only. `text` a function making it: a text whose words depend on the call in progress (option_words, the
    automatic resolution's enlargement: enlarged_words), recorded in every wording (DataWords), so that the cache's
    reader in another context (a Python caller after a command, f-AnoGAN's sizes after the wildgan method's, a
    resume) is told it in its own, not advised an option it does not take or a size its networks refuse."""
    said = _DATA_WARNINGS.get()
    now = text() if callable(text) else text
    if now is None:
        return
    if said is not None:
        said.append(DataWords(now, _every_wording(text)) if callable(text) else now)
    warn_user(now)


def recording_data_warnings() -> _DataWarningsRecord:
    """Within it, the texts warn_of_data says are added to the list `with` gives (nested: to the innermost's)."""
    return _DataWarningsRecord()


class _DataWarningsRecord:
    """recording_data_warnings' block."""

    def __enter__(self) -> list[str]:
        self.said: list[str] = []
        self._token = _DATA_WARNINGS.set(self.said)
        return self.said

    def __exit__(self, *exc: object) -> None:
        _DATA_WARNINGS.reset(self._token)


class MixedSizes(Exception):
    """Internal: a native (probe_uniform) decode found images of different sizes."""


def parse_opts(opts: dict[str, Any], scoring_rule: bool = False) -> Opts:
    """The read options `opts` as Opts, each checked. scoring_rule: depth16 may also be transforms.PER_IMAGE_8BIT, a
    rule wildgan itself reads by (evaluate's read of other data for a run, splits.load_split_data's read_depth16) and
    no user gives: a public reader leaves it False, so that it is refused there as any unknown rule is."""
    known = set(Opts.__dataclass_fields__) - {"probe_uniform", "stats", "rotations", "count_held",
                                               "warn_mixed_channels"}
    if "stats" in opts and not isinstance(opts["stats"], (dict, type(None))):
        raise ConfigError("stats must be a dict (internal option)")
    # stats: internal, for a caller that warns about them itself; rotations: for the memory estimate; count_held:
    # for evaluate (Opts)
    unknown = set(opts) - known - {"stats", "rotations", "count_held"}
    if unknown:
        raise ConfigError(unknown_names_text("data option", unknown, known))
    o = Opts(**opts)
    if o.native_sides is not None:       # from split.json: a list
        o = replace(o, native_sides=(int(o.native_sides[0]), int(o.native_sides[1])))
    if isinstance(o.gray_trained, list):     # from split.json too (a damaged one: none, readers.trained_gray_share)
        o = replace(o, gray_trained=tuple(o.gray_trained))
    if o.resolution is not None:
        check_resolution(o.resolution)
    if o.channels not in (None, 1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {o.channels}")
    check_depth16(base_depth16(o.depth16) if scoring_rule else o.depth16)
    if o.trained_depth is not None and o.trained_depth not in TRAINED_DEPTHS:
        raise ConfigError(f"trained_depth must be one of {', '.join(TRAINED_DEPTHS)}, got {o.trained_depth!r}")
    if o.resize not in ("resize", "error"):
        raise ConfigError(f"resize must be 'resize' or 'error', got {o.resize!r}")
    if o.fit not in FITS:
        raise ConfigError(f"fit must be one of {', '.join(FITS)}, got {o.fit!r}")
    return o


def warn_decode_stats(stats: dict[str, Any], what: str, depth16: str = "per-image", dataset: bool = True,
                      option: str | None = None) -> None:
    """The warnings about how the decoded images' pixels were read, once per decode (stats: collected by read_image /
    decode_pil / array_to_uint8). Always: 16-bit colour files (read by their high byte) and multi-page files (first
    page only). dataset=True (a read that builds a training data set, not images to score): 8-bit and 16-bit files
    mixed, and 16-bit images stretched each to its own min..max (the per-image default), with the bits:N rule that
    keeps their brightness differences. `what`: where the images come from; `option`: how the rule is chosen there
    ('depth16=' for the Detector; None: errors.depth16_user_option's, '--depth16' during a command, else
    'depth16=', or run_study's 'data.depth16=')."""
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
    n = stats.get("dark16", 0)
    if n:
        # (for training and scoring alike: an image read black is lost to either; once per read, naming the files)
        rule = base_depth16(depth16)
        names = ", ".join(str(f) for f in stats.get("dark16_names") or [stats.get("dark16_file")])
        # the per-image rule named where this read's rule is the caller's to choose: not where it follows a run's
        # record (`wildgan score`, `evaluate`, a report: scoring_depth16 reads 16-bit images by global for a run
        # trained on 8-bit ones, the default), which no option of those commands changes
        if option is None and depth16_said() == RUN_DEPTH16:
            other = f" ({RUN_DEPTH16}, which this read follows, is no option of this command)"
        else:
            said = option or depth16_option()
            per = (f"{said} per-image" if said.startswith("--") else f"{said}'per-image'" if said.endswith("=")
                   else f"{said} = 'per-image'")
            other = f", or read them by the per-image rule ({per}), which stretches each image to its own min..max"
        warn_user(f"{where}{n} 16-bit image{'s hold' if n != 1 else ' holds'} no value above 255 (e.g. {names}) and "
                  f"{'are' if n != 1 else 'is'} read nearly black by depth16 {rule} (at most "
                  f"{1 if rule == 'global' else 0} of 255); 8-bit pictures stored at 16 or 32 bits (a Pillow "
                  f".convert('I') saved as a 32-bit TIFF) are read as 16-bit: save them as 8-bit images (Pillow mode "
                  f"L){other}")
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
    if depth16 == PER_IMAGE_8BIT and n8:
        # (evaluate's read of other data for a run trained on 16-bit images only, as `wildgan score` reads them)
        warn_user(f"{where}{n8} 8-bit image{'s' if n8 != 1 else ''} read for a run trained on 16-bit images only "
                  f"(e.g. {stats.get('n8_file')}): on the 16-bit scale (value * 257) and so stretched each to its own "
                  f"min..max by the run's per-image rule, as `wildgan score` reads them, so that each reads as its "
                  f"16-bit copy would (not kept as it is)")
    elif n16 and n8:
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
        # (the option as the user of the call gives it: a DataConfig's or a scoring call's depth16= from Python)
        said = option or depth16_user_option()
        rule = (lambda r: f"{said}'{r}'") if said.endswith("=") else (lambda r: f"{said} {r}")
        keep = f"{rule(f'bits:{bits}')} (0..{(1 << bits) - 1} -> 0..255) or {rule('global')}"
        # (`wildgan evaluate` and evaluate_run read a run's data, or other data, by the rule the run recorded
        # (errors.depth16_said_as) and take no --depth16 / depth16=: "use --depth16 ..." named an option they refuse;
        # the rule is the training's, so a new training is the way to another)
        run = depth16_said() if option is None else None
        how = (f"to keep them use {keep}" if run is None else
               f"they are read by {run} ({base_depth16(depth16)}); a new training with {keep} keeps them")
        warn_user(f"{where}{n} 16-bit image{'s were' if n != 1 else ' was'} stretched each to its own min..max "
                  f"(depth16 per-image, the default): brightness differences between images are thereby removed "
                  f"(an image 8x darker reads the same); the largest raw value seen is {top}: {how}")


# the bit depth of a run's training images (split.json conversion.trained_depth, from the counts beside it,
# files_16bit and files_8bit): '8bit' (no 16-bit image), '16bit' (all of them), 'mixed', or 'unknown' (a record
# written before wildgan counted them, or a reader that did not)
TRAINED_DEPTHS = ("8bit", "16bit", "mixed", "unknown")


def trained_depth(n16: int | None, n8: int | None) -> str:
    """TRAINED_DEPTHS' word for a data set of n16 16-bit and n8 other (8-bit, float) images; 'unknown' where a count
    is missing."""
    if n16 is None or n8 is None or n16 + n8 == 0:
        return "unknown"
    return "mixed" if n16 and n8 else "16bit" if n16 else "8bit"


def scoring_depth16(depth16: str, trained: str | None) -> str:
    """The depth16 rule that images to score are read by, for a run of rule `depth16` whose training images were
    `trained` (TRAINED_DEPTHS; None: no run). The run's own rule, except under the per-image default (a rule that
    only the run's 16-bit images went through), where the same picture must read the same in either bit depth:
    - a run trained on 8-bit images only reads 16-bit images by 'global' (value / 257, 65535 -> 255): a picture saved
      at 16 bits by Pillow or most tools (value * 257) then reads exactly as its 8-bit copy, as the training images
      were, where stretching it to its own min..max made another image of it (a cell of levels 85..148 read as
      0..255) that scored as one;
    - a run trained on 16-bit images only reads 8-bit images on the 16-bit scale (value * 257) and so stretches them
      too (transforms.PER_IMAGE_8BIT): an 8-bit copy of a 16-bit picture then reads exactly as that picture, as the
      training images were, where keeping it as it was left it another image (levels 85..148 against 0..255).
    A run of mixed depths keeps its rule: its 8-bit training images were kept as they were, its 16-bit ones
    stretched, and images to score are read the same way (depth_warning says so). An explicit rule (global, shift,
    bits:N) is the user's statement of what the files hold and is kept."""
    if depth16 != "per-image":
        return depth16
    return "global" if trained == "8bit" else PER_IMAGE_8BIT if trained == "16bit" else depth16


def _named(stats: dict[str, Any], key: str) -> str:
    """The files that stats counted under key ('n16', 'n8'), as a warning names them: the first NAMED_FILES."""
    n = int(stats.get(key, 0))
    names = list(stats.get(key + "_names") or ([stats[key + "_file"]] if stats.get(key + "_file") else []))
    more = n - len(names)
    return ", ".join(map(str, names)) + (f" and {more} more" if more > 0 else "")


def depth_warning(stats: dict[str, Any], trained: str | None, depth16: str, used: str) -> str | None:
    """The word for images scored at another bit depth than a run's training images (stats: the decode statistics
    of the images scored; trained: TRAINED_DEPTHS, None for no run; depth16: the run's rule; used: the rule the
    images were read by, scoring_depth16), naming them; None when nothing differs. 16-bit images with a run
    trained on 8-bit ones (read by value / 257 where the run's rule was the per-image stretch); 8-bit images with a
    run trained on 16-bit ones (under per-image read on the 16-bit scale and stretched, transforms.PER_IMAGE_8BIT;
    under bits:N kept as they are, their brightness not comparable); any image with a run trained on both depths
    mixed (what training did with each depth, and what the images scored are read as); 16-bit images stretched per
    image by a run whose record does not say what its training images were (an older split.json)."""
    n16, n8 = int(stats.get("n16", 0)), int(stats.get("n8", 0))
    s16, s8 = ("s" if n16 != 1 else ""), ("s" if n8 != 1 else "")
    if trained == "8bit" and n16:
        how = (f"read by value / 257 (65535 -> 255, depth16 global), as {'their' if n16 != 1 else 'its'} 8-bit "
               f"cop{'ies read' if n16 != 1 else 'y reads'}, not stretched each to its own min..max (the run's "
               f"per-image rule, which no training image went through)"
               if used != depth16 else f"read by the run's depth16 rule {depth16}")
        return (f"{n16} 16-bit image{s16} scored with a run trained on 8-bit images only ({_named(stats, 'n16')}): "
                f"{how}; if {'they hold' if n16 != 1 else 'it holds'} another range than the training images (e.g. "
                f"12-bit camera data), save {'them' if n16 != 1 else 'it'} as 8-bit the way the training images "
                f"were made, or the scores say little")
    if trained == "16bit" and n8 and used == PER_IMAGE_8BIT:
        it, its = ("they", "their") if n8 != 1 else ("it", "its")
        return (f"{n8} 8-bit image{s8} scored with a run trained on 16-bit images only ({_named(stats, 'n8')}): "
                f"read on the 16-bit scale (value * 257) and so stretched each to its own min..max by the run's "
                f"per-image rule, as its training images were, so that {it} read{'s' if n8 == 1 else ''} exactly as "
                f"{its} 16-bit cop{'ies' if n8 != 1 else 'y'} would (not kept as {it} {'are' if n8 != 1 else 'is'})"
                f"; where {it} {'are' if n8 != 1 else 'is'} not the same picture at another depth (e.g. an 8-bit "
                f"export with {its} contrast changed), save {'them' if n8 != 1 else 'it'} as 16-bit the way the "
                f"training images were made")
    if trained == "16bit" and n8 and depth16 not in ("global", "shift"):
        return (f"{n8} 8-bit image{s8} scored with a run trained on 16-bit images only ({_named(stats, 'n8')}): "
                f"the training images were read by depth16 {depth16}"
                f"{' (each stretched to its own min..max)' if depth16 == 'per-image' else ''}, while 8-bit images "
                f"are kept as they are, so their brightness does not compare with the training images' and their "
                f"scores say little; save them as 16-bit like the training images")
    if trained == "mixed" and (n16 or n8):
        return _mixed_warning(stats, depth16)
    if trained == "unknown" and n16 and used == "per-image":
        return (f"{n16} 16-bit image{s16} ({_named(stats, 'n16')}) {'were' if n16 != 1 else 'was'} stretched each "
                f"to its own min..max (depth16 per-image), and the run's record does not say whether its training "
                f"images were 16-bit (a split.json written before wildgan recorded it): if they were 8-bit, "
                f"{'these read' if n16 != 1 else 'this reads'} otherwise than an 8-bit copy would (brighter, more "
                f"contrast) and {'score' if n16 != 1 else 'scores'} as another image; convert "
                f"{'them' if n16 != 1 else 'it'} to 8-bit (value / 257) first")
    return None


def _mixed_warning(stats: dict[str, Any], depth16: str) -> str:
    """depth_warning's word for images scored with a run trained on 8-bit and 16-bit images mixed (rule depth16):
    what training did with the two depths, and what each image scored is read as (read as the training images of
    its depth were: scoring_depth16 keeps the run's rule)."""
    n16, n8 = int(stats.get("n16", 0)), int(stats.get("n8", 0))
    rule = f"depth16 {depth16}" + (" (each stretched to its own min..max)" if depth16 == "per-image" else "")
    read = []
    if n16:
        read.append(f"{n16} 16-bit image{'s' if n16 != 1 else ''} ({_named(stats, 'n16')}) by depth16 {depth16}, "
                    f"as its 16-bit training images were")
    if n8:
        read.append(f"{n8} 8-bit image{'s' if n8 != 1 else ''} ({_named(stats, 'n8')}) as "
                    f"{'they are' if n8 != 1 else 'it is'}, as its 8-bit training images were")
    if depth16 in ("global", "shift"):
        # value * 257 read by value / 257 (or its high byte) is the value: the two depths share one scale
        after = ("a 16-bit copy (value * 257) of an 8-bit picture reads as that picture under this rule, so the two "
                 "depths compare as long as the 16-bit files are such copies")
    else:
        after = ("the same picture therefore reads (and scores) differently in either depth, and the run learnt "
                 "two brightness scales at once; for scores that compare, train on one bit depth (convert the "
                 "files first)")
    return (f"the run was trained on 8-bit and 16-bit images mixed (split.json conversion.trained_depth 'mixed'): "
            f"its 16-bit images were read by {rule}, its 8-bit ones kept as they were. Scored here: "
            f"{'; '.join(read)}; {after}")


def merge_stats(into: dict[str, Any], more: dict[str, Any]) -> None:
    """Add one decode's statistics (see warn_decode_stats) to another's: counts add up, the first names stay."""
    for k, v in more.items():
        if k == "max16":
            into[k] = max(int(into.get(k, 0)), int(v))
        elif k.endswith("_names"):
            names = into.setdefault(k, [])
            names.extend(v[:max(0, NAMED_FILES - len(names))])
        elif k.endswith("_file") or k == "pages_n":
            into.setdefault(k, v)
        else:
            into[k] = into.get(k, 0) + v


def crop_warning(sizes: set[tuple[int, int]], fit: str, resolution: int | None, what: str,
                 hint: str | None = None) -> str | None:
    """The warning that non-square images lose their edges to the centre crop (and how to keep them, `hint`; by
    default the option that reads the data so, as the user of the call in progress gives it), or None. `what`: where
    the images come from (a path), or 'images'."""
    if fit == "letterbox":
        return None
    if hint is None:
        # images read for a trained run (`wildgan score`, `evaluate`, `report`: depth16_said_as(RUN_DEPTH16)) are
        # fitted as its training images were, and those commands take no --square: "(--square letterbox letterboxes
        # them)" named an option they refuse. The run's training choice is what letterboxes them
        hint = (option_words("a run trained with --square letterbox", "a run trained with square='letterbox'")
                if depth16_said() == RUN_DEPTH16 else
                option_words("--square letterbox", "DataConfig(square='letterbox')"))
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
TINY_FACTOR = 8    # a training image whose short side is below 1/8 of the resolution holds almost nothing at it


def tiny_images(named: Iterable[tuple[str, Sequence[int]]], resolution: int) -> list[tuple[str, tuple[int, int]]]:
    """The (name, (H, W)) of `named` whose short side is below resolution / TINY_FACTOR (tiny_images_warning's)."""
    return [(n, (int(hw[0]), int(hw[1]))) for n, hw in named if min(hw[0], hw[1]) * TINY_FACTOR < resolution]


def tiny_images_warning(named: Iterable[tuple[str, Sequence[int]]], resolution: int, what: str = "images",
                        option: str | None = None) -> str | None:
    """The word for training images far smaller than the resolution they are made (short side below
    resolution / TINY_FACTOR: a stray 1x1 file, a thumbnail among photos), naming them (at most 5), or None. They are
    kept (readable images are never dropped in silence, nor refused: a pile may hold a few on purpose), but each is
    stretched (or padded) into resolution x resolution pixels of almost no content, which then scores as the most
    normal of images; the mixed-sizes warning alone did not say which files or why it matters.
    named: (name, (H, W)) per image, its own size as read. option: how the user chooses the resolution; default as
    the user of the call in progress gives it (errors.option_words: --resolution, or resolution=)."""
    option = option or option_words("--resolution", "resolution=")
    tiny = tiny_images(named, resolution)
    if not tiny:
        return None
    shown = ", ".join(f"{n} ({w}x{h})" for n, (h, w) in tiny[:5]) + (f" and {len(tiny) - 5} more"
                                                                     if len(tiny) > 5 else "")
    n = len(tiny)
    return (f"{what}: {n} image{'s are' if n != 1 else ' is'} far smaller than the training resolution "
            f"{resolution}x{resolution} (short side under {resolution / TINY_FACTOR:g} px): {shown}; each is made "
            f"{resolution}x{resolution} from {'their' if n != 1 else 'its'} few pixels, almost empty for the network, "
            f"and such an image then scores as very normal: remove {'them' if n != 1 else 'it'} from the data, or "
            f"choose a smaller {option} if they are what the data is")


# the automatic training resolution, the next power of two of the images' (median) short side, can enlarge them up to
# 2x: 240x160 photos train at 256, each pixel stretched 1.6x, for about 4x the pixels of 128 and no more detail (a
# tiny preset's CPU estimate of 17 min where 128 or 32 px took about 1 min), and nothing said so. From this factor up
# it is said; below it (MNIST's 28 -> 32, 1.14x; 12 -> 16, 1.33x) the power of two below would shrink them more
ENLARGED_FACTOR = 1.5


def median_scaled_side(sizes: Iterable[Sequence[int]], resolution: int, fit: str = "resize") -> int | None:
    """The side of the median image of `sizes` ((H, W) each, the lower median of an even count, as the automatic
    resolution takes its median) that resize_one scales to `resolution` (transforms.scaled_side: the short side, the
    long one when it letterboxes), or None where that image is not scaled (padded, or already of the resolution's
    size) or there are no sizes."""
    sides = sorted(resolution if (s := scaled_side(int(h), int(w), resolution, fit)) is None else s
                   for h, w in sizes)
    if not sides:
        return None
    side = sides[(len(sides) - 1) // 2]
    return None if side == resolution else side


# set within resolution_settled: the automatic resolution is a run's own already (a resume)
_RESOLUTION_SETTLED: contextvars.ContextVar[bool] = contextvars.ContextVar("wildgan_resolution_settled",
                                                                           default=False)


@contextmanager
def resolution_settled() -> Iterator[None]:
    """Within it, enlarged_words says nothing: the data is read for a run that continues (a resume), whose
    resolution is its own, and another one, which the word would advise, is refused there."""
    token = _RESOLUTION_SETTLED.set(True)
    try:
        yield
    finally:
        _RESOLUTION_SETTLED.reset(token)


# set within resolutions_taken: the networks the data is read for take these resolutions only, and whose they are
_RESOLUTIONS_TAKEN: contextvars.ContextVar[tuple[tuple[int, ...], str] | None] = contextvars.ContextVar(
    "wildgan_resolutions_taken", default=None)


# f-AnoGAN's: the resolutions its networks take (nets.fanogan.SUPPORTED_RESOLUTIONS, whose module imports torch) and
# whose they are, for resolutions_taken (`wildgan train --method fanogan`, a study with fanogan cells, Detector.fit)
FANOGAN_SIZES: tuple[tuple[int, ...], str] = ((32, 64), "f-AnoGAN's networks")


@contextmanager
def resolutions_taken(sizes: Sequence[int], whose: str) -> Iterator[None]:
    """Within it, the data is read for networks that take only the resolutions `sizes` (f-AnoGAN's 32 and 64;
    `whose` names them: "f-AnoGAN's networks"): enlarged_words advises the largest of them below the automatic
    resolution, or says that none is smaller, where the power of two below (16 for 32) was advised, which such a
    run refuses."""
    token = _RESOLUTIONS_TAKEN.set((tuple(sorted(int(r) for r in sizes)), whose))
    try:
        yield
    finally:
        _RESOLUTIONS_TAKEN.reset(token)


def enlarged_words(side: int | None, resolution: int) -> str | None:
    """What the automatic `resolution` does to images whose (median) scaled side is `side` where it enlarges them
    ENLARGED_FACTOR or more: the factor and the resolution that keeps to their size (the power of two below; within
    resolutions_taken the largest of those resolutions below, if any), as the user of the call in progress chooses
    it (errors.option_words); None where it enlarges them less, or where no smaller resolution exists (4). Said of
    the automatic resolution only: one the user or a protocol chose is not the data's to question."""
    if side is None or side <= 0 or resolution <= 4 or resolution < ENLARGED_FACTOR * side or \
            _RESOLUTION_SETTLED.get():
        return None
    enlarges = f"which enlarges them {resolution / side:.1f}x, more to compute for no more detail"
    taken = _RESOLUTIONS_TAKEN.get()
    below = resolution // 2
    if taken is not None:
        sizes, whose = taken
        smaller = [r for r in sizes if r < resolution]
        if not smaller:
            # (still said: the cost and the enlargement are real, and the other methods take the size below)
            # (worded to end as the advice does: the mixed sizes' warning adds "(or choose another)" to either)
            return f"{enlarges}; {whose} take {' or '.join(f'{r}x{r}' for r in sizes)} only, none of them smaller"
        below = max(smaller)
    return f"{enlarges}: {option_words(f'--resolution {below}', f'resolution={below}')} keeps to their size"


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
    # a path by its whole path as given, as the other warnings of scoring name files: by its base name alone, a pile
    # of day folders holding the same names (2024-01-05/IMG_0001.jpg, 2024-01-06/IMG_0001.jpg) named no one file
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", None) or str(f)
    seen = f"{lo}x{lo}" if lo == hi else f"{lo} to {hi} px a side"
    return (f"images much {'larger' if big else 'smaller'} than the run's training images (e.g. {name}: {w}x{h}; "
            f"the training images were {seen}): each is fitted whole into {resolution}x{resolution} (resized, or "
            f"padded where the run pads), so what it shows appears at another scale or in another frame than the "
            f"network learned and its scores say little; cut the images "
            f"to the size of the training images (or train on images like these)")


def resize_warning(sizes: dict[tuple[int, int], Any], trained: Sequence[int], resolution: int,
                   fit: str = "resize") -> str | None:
    """The warning that images to score reach the network's input at another scale than the run's training images
    (trained = their native_sides) did, or None: within scale_warning's factor of 4 nothing else says it, yet what
    they show then reaches the networks at another scale than it learned (96x96 photos scored with a run of 32x32
    ones: shrunk 3x; or 32x32 images, not scaled at all, with a run of 96x96 photos shrunk 3x to its 32x32 input).
    Images of the training images' sizes, and images only padded or centre-cropped (transforms.scaled_side) where
    the training images were not scaled either, are not named. `sizes`: native (H, W) -> a file (or name) of that
    size."""
    lo, hi = int(trained[0]), int(trained[1])
    r = int(resolution)
    # an image that is not scaled (side None) is seen at its own scale, as a training image of side r was, and, in a
    # run that pads, every training image no larger than r: the training sides compared with are those in effect
    lo_in, hi_in = (max(lo, r), max(hi, r)) if fit == "pad" else (lo, hi)
    odd = [(s, f, r if side is None else side, side is None) for s, f in sizes.items()
           if not lo_in <= (r if (side := scaled_side(s[0], s[1], r, fit)) is None else side) <= hi_in]
    if not odd:
        return None
    # the example named: the size furthest off the training images' scale
    (h, w), f, _, unscaled = max(odd, key=lambda t: abs(math.log(t[2] / math.sqrt(lo_in * hi_in))))
    more = f"; {len(odd) - 1} other size{'s' if len(odd) != 2 else ''} too" if len(odd) > 1 else ""
    seen = f"{lo}x{lo}" if lo == hi else f"{lo} to {hi} px a side"
    how = (f"images went into the network's {r}x{r} input at their own scale, not resized as its training images "
           f"were" if unscaled else
           f"images were resized to the network's {r}x{r} input from a size its training images did not have")
    return (f"{how} (e.g. {f}: {w}x{h}{more}; the training images were {seen}): the network sees what they "
            f"show at another scale than it learned, which alone can move their scores; crop or scale them to the "
            f"training images' size, or train on images like these, to score them at the scale it learned")


def warn_crop(sizes: set[tuple[int, int]], fit: str, resolution: int | None, what: str,
              hint: str | None = None) -> None:
    # (warn_of_data: about the data, and said by a decode: a decoded cache read instead says it again, readers;
    # made by it, in the words of whoever reads the cache: its hint names an option. None: nothing said)
    warn_of_data(lambda: crop_warning(sizes, fit, resolution, what, hint))


def shrink_uniform(x: np.ndarray, o: Opts, warn: bool = True) -> np.ndarray:
    """The rules of decode_pool.stack for an already stacked array (npz, CIFAR batches). warn=False: the caller warns
    about the crop once for the train and test arrays of one data set (_shrink_pair)."""
    if warn:
        warn_crop({tuple(x.shape[1:3])}, o.fit, o.resolution, "images")
    if o.channels is not None:
        x = to_channels(x, o.channels)
    if o.resolution is not None and (x.shape[1] > o.resolution or x.shape[2] > o.resolution):
        x = convert(x, o.resolution, x.shape[3], o.fit)
    return x
