"""Per-image heat maps: where in the image the reconstruction disagrees with the query (no plotting here).

The map is the residual of the L_n score before it is summed, |w(Q) - w(G(E(Q)))| with w the per-image min-max
over all channels jointly (wildgan.scoring.scores.minmax), averaged over channels -> [H, W] in [0, 1]. Using the
same normalisation as L_n means the map shows the residual the score adds up, not a differently scaled one: for gray
images L_n == sqrt(sum of map^2) / (h*w) exactly, at the scored h, w; for colour images the channel mean of |r| is
shown, so L_n >= sqrt(sum of map^2) / (sqrt(C)*h*w), equal when the channels' residuals agree, and a ranking by the
maps' energy follows L_n closely, not exactly (detector.HeatMaps says the same).

A run scored at lod > 0 (stopped before full growth) computes L_n on queries reduced as the networks see them
(scoring.pgan_scores.at_lod: a 2^floor(lod) box average, then the fade-in's blend) against its reconstruction at
that resolution, h = w = R / 2^floor(lod). The map is computed from exactly those two, so the identity above holds
at every lod, and is then enlarged to R x R by nearest neighbour (map_block: each scored pixel a block of
block x block pixels) to be drawn beside the query: maps[:, ::block, ::block] is the map at the scored resolution.
A map that compared the full-resolution query with the upsampled reconstruction showed edges and texture that no
score saw (a 16x16 run's 32x32 maps lit up the car's edges).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..config import SCORE_NAMES
from ..data.transforms import u8_to_unit
from ..errors import ConfigError, DataError, option_words
from ..scoring.pgan_scores import at_lod
from ..scoring.run import LoadedModel, score_read_files
from ..scoring.scores import minmax
from .metrics import roc_auc


MAP_SHAPES = ("[N, R, R, C] (C = 1 or 3, channels last) or a batch of gray images [N, R, R]: a batch of square "
              "images, as the networks see and reconstruct them")


def _as_float_nchw(x: np.ndarray, name: str = "images") -> torch.Tensor:
    """uint8 NHWC (training rule x*2/255-1) or float NHWC already in [-1, 1] -> float32 NCHW; shapes as MAP_SHAPES.

    The images are square (R x R, R >= 4) and C is 1 or 3, so the two shapes cannot be mistaken for each other or
    for the one that is refused: a single image [R, R, C], which as a 3-D gray batch would be R images of R x C
    pixels (and NCHW [N, C, R, R], whose last two axes differ too)."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[1] == x.shape[2]:  # NHW gray
        x = x[..., None]
    if x.ndim != 4 or x.shape[1] != x.shape[2] or x.shape[3] not in (1, 3):
        one = (" (one image [H, W, C]? add the batch axis: x[None])" if x.ndim == 3 and x.shape[-1] in (1, 3)
               else " (channels first? x.transpose(0, 2, 3, 1))" if x.ndim == 4 and x.shape[1] in (1, 3) else "")
        raise ValueError(f"{name}: expected {MAP_SHAPES}; got shape {x.shape}{one}")
    t = torch.from_numpy(np.ascontiguousarray(x))
    t = u8_to_unit(t) if x.dtype == np.uint8 else t.float()
    return t.permute(0, 3, 1, 2)


def map_block(lod: float) -> int:
    """The side of the block of image pixels that one scored pixel covers at `lod`: 2^floor(lod) (1 at lod < 1,
    where the networks are scored at the images' resolution, though at 0 < lod < 1 on faded queries)."""
    return 2 ** math.floor(lod) if lod > 0 else 1


def map_lod(model: LoadedModel) -> float:
    """The lod `model` is scored at, which its maps must follow: the networks' lod for the pGAN methods (wildgan,
    search); 0 for f-AnoGAN, which does not grow and is scored at full resolution whatever its record says."""
    return 0.0 if model.cfg.method == "fanogan" else float(model.lod)


def residual_maps(query: np.ndarray, recon: np.ndarray, lod: float = 0.0) -> np.ndarray:
    """Heat maps [N, R, R] float32 in [0, 1]: mean over channels of |w(Q) - w(X_rec)|, as L_n computes it at `lod`.

    query: uint8 [N, R, R, C] (or float in [-1, 1]); recon: float [N, R, R, C] on the [-1, 1] scale, unclipped
    (ScoreResult.recon). Gray images may also be [N, R, R]. Always a batch: one image [R, R, C] is a ValueError
    (read as a gray batch it would be R images of R x C pixels); pass x[None] for it.
    lod: the level of detail the images were scored at (LoadedModel.lod; map_lod(model); ScoreResult.info['lod']).
    Above 0 the query is reduced as the score reduces it (pgan_scores.at_lod, fade included) and the reconstruction,
    which ScoreResult.recon gives nearest-upsampled to R, is taken at the scored resolution (every map_block(lod)-th
    pixel: the upsampling's blocks are exact copies); the map of those two is enlarged back to R x R by nearest
    neighbour, so that it lies on the query's pixel grid, constant over each block.
    """
    if recon is None:
        # what ScoreResult.recon is unless asked for: np.asarray(None) failed as 'got shape ()', naming no cause
        raise ValueError("reconstruction is None: score the images with return_recon=True (LoadedModel.score) "
                         "to get ScoreResult.recon")
    q, r = _as_float_nchw(query, "query"), _as_float_nchw(recon, "reconstruction")
    if q.shape != r.shape:
        raise ValueError(f"query {tuple(q.shape)} and reconstruction {tuple(r.shape)} differ in shape")
    b = map_block(lod)
    if q.shape[-1] % b:
        raise ValueError(f"lod {lod:g} scores blocks of {b}x{b} pixels, which do not tile {q.shape[-1]}x"
                         f"{q.shape[-1]} images (the lod of networks for larger images?)")
    side = q.shape[-1] // b
    if lod > 0 and lod != math.floor(lod) and side % 2:
        # a fade-in blends the scored side with its half (at_lod): an odd side has no half that tiles it, and torch
        # failed on the blend with a shape error that named no lod
        raise ValueError(f"lod {lod:g} is a fade-in, which blends the scored {side}x{side} images with their "
                         f"{side // 2}x{side // 2} halves: an odd side ({q.shape[-1]}x{q.shape[-1]} images) has none "
                         f"(the lod of networks for other images?)")
    if lod > 0:
        q, r = at_lod(q, lod), r[:, :, ::b, ::b]
    m = (minmax(q) - minmax(r)).abs().mean(dim=1)
    if b > 1:
        m = m.repeat_interleave(b, dim=1).repeat_interleave(b, dim=2)
    return m.numpy().astype(np.float32)


MASK_RULE = "a mask is 0 (or False) on normal pixels and positive (1, 255 or True) on defects"


def load_masks(path: str | Path) -> np.ndarray:
    """The masks of an .npy file (never unpickled); a DataError naming the file when it cannot be read as an
    array. Checked against a run's test images by check_masks."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file ({option_words('--masks', 'masks=')})") from None
    except OSError as e:
        raise DataError(f"{path}: not a readable .npy array of masks ({e})") from None
    # np.load reads an .npz as an archive (its names then read as masks of '<U1' values) and calls any other file a
    # pickle, with advice to allow pickles: neither says what --masks takes
    if magic.startswith(b"PK"):
        raise DataError(f"{path}: an .npz archive; {option_words('--masks', 'masks=')} takes one .npy array of masks "
                        f"(np.save('masks.npy', masks))")
    if not magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{path}: not an .npy file; {option_words('--masks', 'masks=')} takes one .npy array of masks "
                        f"(np.save('masks.npy', masks))")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npy array of masks ({e})") from None


def _mask_array(masks: np.ndarray, name: str) -> np.ndarray:
    """masks as [N, H, W] ([N, H, W, 1] squeezed), of numbers or booleans."""
    m = np.asarray(masks)
    if m.dtype.kind not in "biuf":
        raise DataError(f"{name}: masks of {m.dtype} values; give numbers or booleans ({MASK_RULE})")
    if m.ndim == 4 and m.shape[-1] == 1:  # [N, H, W, 1]
        m = m[..., 0]
    if m.ndim != 3:
        raise DataError(f"{name}: masks of shape {m.shape}; expected [N, H, W] (or [N, H, W, 1]): one mask per test "
                        f"image")
    return m


def _check_mask_values(m: np.ndarray, name: str) -> np.ndarray:
    """The boolean masks (value > 0), once the values are known to be finite and not negative: a negative value is
    neither of MASK_RULE's two kinds (a defect if 'nonzero' were the rule, normal under 'positive')."""
    if m.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(m)))
        if bad:
            raise DataError(f"{name}: {bad} mask value{'s are' if bad != 1 else ' is'} NaN or infinite ({MASK_RULE})")
    if m.dtype.kind in "if" and m.size and m.min() < 0:
        raise DataError(f"{name}: masks with values below 0 (down to {m.min():g}); {MASK_RULE}")
    return m > 0


def check_masks(masks: np.ndarray, n_images: int | None, resolution: int | None, name: str = "masks") -> np.ndarray:
    """Ground-truth defect masks checked against a run's test images before any scoring: one per image (n_images),
    at the network resolution (resolution x resolution), with values as MASK_RULE says. -> bool [N, H, W].
    A DataError names `name` (the mask file) and the problem; None skips that check."""
    m = _mask_array(masks, name)
    if n_images is not None and len(m) != n_images:
        raise DataError(f"{name}: {len(m)} mask{'s' if len(m) != 1 else ''} for the run's {n_images} test images: one "
                        f"mask per test image, in the test split's order (the id column of the test_scores.csv that "
                        f"`wildgan evaluate` writes)")
    if resolution is not None and m.shape[1:] != (resolution, resolution):
        raise DataError(f"{name}: masks of {m.shape[1]}x{m.shape[2]} pixels do not match the heat maps: one mask per "
                        f"test image at the network resolution ({resolution}x{resolution}, after the same padding "
                        f"or resizing as the images)")
    return _check_mask_values(m, name)


def _check_masks(maps: np.ndarray, masks: np.ndarray, name: str = "masks") -> np.ndarray:
    m = _mask_array(masks, name)
    if m.shape != maps.shape:
        raise DataError(f"{name} of shape {m.shape} do not match the heat maps {maps.shape}: one mask per test "
                        f"image, in the test split's order, at the network resolution ({maps.shape[1]}x"
                        f"{maps.shape[2]}, after the same padding or resizing as the images)")
    return _check_mask_values(m, name)


def undefined_pixel_auc(masks: np.ndarray, maps: np.ndarray | None = None) -> str | None:
    """Why the pixel-level AUC of `maps` against `masks` (bool, as check_masks returns them) is undefined, in
    words; None when it is defined. An AUC needs pixels of both kinds and finite heat maps."""
    m = np.asarray(masks, dtype=bool)
    if not m.any():
        return "the masks mark no anomalous pixel (every value is 0)"
    if m.all():
        return f"every pixel is marked anomalous (every mask value is above 0; {MASK_RULE})"
    if maps is not None:
        bad = int(np.count_nonzero(~np.isfinite(np.asarray(maps, dtype=np.float64))))
        if bad:
            return f"{bad} heat-map pixels are NaN or infinite (the networks' reconstructions diverged)"
    return None


def pixel_auc(maps: np.ndarray, masks: np.ndarray, name: str = "masks") -> float:
    """Pixel-level ROC AUC of the maps against ground-truth defect masks, all pixels of all images pooled
    (the usual MVTec-style protocol). NaN when it is undefined: undefined_pixel_auc says why. name: what a
    DataError about the masks calls them (their file). The maps are residual_maps' at the images' size: a coarse
    run's are compared with the masks after their nearest enlargement, each scored pixel's value standing for all
    the mask pixels of its block (ties in the ranking, which roc_auc scores as halves)."""
    maps = np.asarray(maps, dtype=np.float64)
    return roc_auc(_check_masks(maps, masks, name).ravel().astype(int), maps.ravel())


def per_image_pixel_auc(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Pixel AUC of each image on its own [N]; NaN for images whose mask is empty (normal images)."""
    maps = np.asarray(maps, dtype=np.float64)
    m = _check_masks(maps, masks)
    return np.array([roc_auc(mi.ravel().astype(int), hi.ravel()) for hi, mi in zip(maps, m)])


def pick_score(scores: dict[str, np.ndarray], score: str) -> str:
    """The score to rank by: `score`, or for the default 'a' on a method without it, the method's first score; any
    other missing name is a ConfigError naming what the run has."""
    if score in scores:
        return score
    if score == "a":
        for k in SCORE_NAMES:
            if k in scores:
                return k
    raise ConfigError(f"score {score!r} is not available for this run; it has "
                      f"{', '.join(k for k in SCORE_NAMES if k in scores)}")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, most anomalous first; ties broken by index so the order is stable. A NaN
    score ranks as the most anomalous, as everywhere (wildgan.thresholds._as_worst: a diverged image is flagged by
    `score --threshold`, so the report must not hide it at the bottom)."""
    s = np.asarray(scores, dtype=np.float64)
    s = np.where(np.isnan(s), np.inf, s)
    order = np.lexsort((np.arange(len(s)), -s))
    return order[: max(0, min(int(k), len(s)))]


# Float32 reconstructions held at once by reconstructions_as_scored (whole score batches a pass, at least one). By
# bytes, not images: a pass holds its reconstructions twice (per batch and assembled: pgan_scores.assemble), and
# 1,024 images a pass was 1.6 GB at 256x256x3; this is 2 x 256 MB at any size (whole batches of 64: 320 images a pass
# at 256x256x3, 5,440 at 64x64x3).
MAPPED_PASS_BYTES = 256 * 2**20


def reconstructions_as_scored(model: LoadedModel, x: np.ndarray, kept: Sequence[int], n_files: int,
                              rows: Sequence[int], batch_mode: str = "mixed", *, progress: bool = False,
                              log: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(recon float32 [M, R, R, C], z float32 [M, N_z]) of x[rows]: the reconstructions and latents of the very
    forward passes that scored them when all of x was scored as scoring.run.score_read_files(model, x, kept, n_files,
    batch_mode=batch_mode) scores it (kept, n_files: x's places among the files it was read from; every row of
    a set read whole: range(len(x)), len(x)), for their heat maps, without holding a reconstruction of every image.
    Why: a wildgan run's encoder couples each score batch (minibatch stddev), so the same image scored again among
    other images is reconstructed otherwise. The maps of the report's named images and of an unlabelled run's top
    images came from such another pass (the mapped images in a batch of their own, or each alone): a map's L_n
    differed from the L_n it was ranked and tabled by, by up to 9% on a pile of 406 cell crops. Here only the score
    batches that hold the mapped images are scored again, whole, at most MAPPED_PASS_BYTES of reconstructions a pass
    (whole score batches, at least one), and
    each image's reconstruction is taken from the batch its score came from (the first that holds it: the
    wrap-around batch's repeats keep their first score). Latent search draws each file's initial latent by its
    place among the files (score_read_files), f-AnoGAN and isolated scoring couple no images: there the mapped
    images alone are scored again. progress: a bar over each pass; log: told how many images are scored again
    (up to len(rows) x the score batch size: 2,040 of a 3,000-image pile for 50 maps)."""
    from ..scoring.pgan_scores import batch_order

    kept = [int(f) for f in kept]
    rows = [int(r) for r in rows]
    shape = (len(rows), *x.shape[1:])
    if not rows:
        # (the latents' width as each method's encoder or generator holds it: f-AnoGAN's encoder has no pGAN
        # config, and an f-AnoGAN run asked for no maps, e.g. score_named_images(max_maps=0), raised AttributeError)
        n_z = model.cfg.fanogan.latent_size if model.cfg.method == "fanogan" else model.cfg.net.latent_size
        return np.zeros(shape, np.float32), np.zeros((0, int(n_z)), np.float32)
    row_of = {f: r for r, f in enumerate(kept)}
    wanted = [kept[r] for r in rows]
    per_pass = max(1, MAPPED_PASS_BYTES // (int(np.prod(x.shape[1:])) * np.dtype(np.float32).itemsize))
    coupled = model.cfg.method == "wildgan" and batch_mode != "isolated"
    touched: list[int] = []
    if coupled:
        sc = model.cfg.score
        order = batch_order(n_files, sc.batch_size, sc.shuffle_seed)
        first: dict[int, int] = {}                     # file -> the first batch that holds it: its score's
        for bi, b in enumerate(order):
            for f in b.tolist():
                first.setdefault(int(f), bi)
        touched = sorted({first[f] for f in wanted})
        groups: list[tuple[list[int], set[int]]] = []  # (the files scored together, the mapped files taken there)
        for bi in touched:
            files = [int(f) for f in order[bi].tolist() if int(f) in row_of]
            if not groups or len(groups[-1][0]) + len(files) > per_pass:
                groups.append(([], set()))
            groups[-1][0].extend(files)
            groups[-1][1].update(f for f in wanted if first[f] == bi)
    else:
        ordered = sorted(set(wanted))
        groups = [(ordered[i:i + per_pass], set(ordered[i:i + per_pass])) for i in range(0, len(ordered), per_pass)]
    if log is not None:
        # (this pass follows a ranking read from a cache, or a whole scoring already finished: up to thousands of
        # images scored again with no line and no bar looked stuck)
        total = sum(len(set(files)) for files, _ in groups)
        log(f"scoring again the {total} image{'s' if total != 1 else ''} of the {len(touched)} score batch"
            f"{'es' if len(touched) != 1 else ''} that hold the {len(rows)} mapped image{'s' if len(rows) != 1 else ''}"
            f", for the reconstructions their scores came from" if coupled else
            f"scoring again the {len(rows)} mapped image{'s' if len(rows) != 1 else ''}, for their reconstructions")
    recon: np.ndarray | None = None
    z: np.ndarray | None = None
    for files, taken in groups:
        files = sorted(set(files))
        res = score_read_files(model, x[[row_of[f] for f in files]], files, n_files, batch_mode=batch_mode,
                               return_recon=True, with_A=model.cfg.method != "wildgan", progress=progress)
        if recon is None:
            recon = np.zeros(shape, np.float32)
            z = np.zeros((len(rows), res.z.shape[1]), np.float32)
        at = {f: j for j, f in enumerate(files)}
        for k, f in enumerate(wanted):
            if f in taken:
                recon[k], z[k] = res.recon[at[f]], res.z[at[f]]
    return recon, z


@dataclass
class NamedImages:
    """Images a user named, converted like the run's training data, ranked most anomalous first, with their scores;
    the first len(maps) of them (the most anomalous) also with reconstructions and heat maps."""

    ids: list[str]                  # every named image, most anomalous first
    scores: dict[str, np.ndarray]   # in the order of ids
    x: np.ndarray                   # uint8 [M, H, W, C]: the first M images of ids
    recon: np.ndarray               # float [M, H, W, C] on the [-1, 1] scale (unclipped: G may overshoot)
    maps: np.ndarray                # float [M, H, W], at the scored resolution enlarged to H x W (residual_maps)


def score_named_images(model: LoadedModel, paths: Sequence[str | Path], skip_bad: bool = False, rank_by: str = "a",
                       max_maps: int | None = None, progress: bool = False, batch_mode: str = "mixed",
                       loaded: tuple[np.ndarray, list[str], list[int], int] | None = None,
                       log: Callable[[str], None] | None = None) -> NamedImages:
    """Load image files/folders exactly as the run's data was converted (model.conversion, from split.json), score
    them as `wildgan score` scores those files (scoring.run.score_read_files: an unreadable file left out with
    skip_bad leaves its slot in its score batch, so that the others score as `score --skip-bad` scores them), rank
    them by `rank_by` (most anomalous first, NaN first as everywhere) and map the first `max_maps`
    (None: all). Reconstructions are kept for the mapped images only, so that a folder of thousands costs the
    memory of its scores, not of its reconstructions. skip_bad: unreadable files are left out (each named in a
    warning) instead of stopping. progress: decoding and scoring bars (a folder of thousands takes a while).
    loaded: (images, ids, kept, n_files) of `paths` as data.readers.load_image_files returned them with that
    conversion (a caller that read them already, to refuse bad files early): scored as they are, not decoded
    again. batch_mode: as `wildgan score --batch-mode` (a wildgan run: 'isolated' scores, and reconstructs, each
    image alone). log: told of the second pass that reconstructs the mapped images (reconstructions_as_scored)."""
    from ..data.readers import load_image_files

    cfg = model.cfg
    if loaded is None:
        loaded = load_image_files(list(paths), cfg.net.resolution, cfg.net.channels, **model.conversion,
                                  skip_bad=skip_bad, progress=progress)
    # (one form only: the (images, ids) of load_images said nothing of the files it left out, so the score batches
    # of --skip-bad could not be drawn over the files listed, as `score` draws them)
    if len(loaded) != 4:
        raise ValueError(f"score_named_images: loaded must be (images, ids, kept, n_files) as "
                         f"data.readers.load_image_files returns them, not a {len(loaded)}-tuple")
    x, ids, kept, n_files = loaded
    res = score_read_files(model, x, kept, n_files, progress=progress, batch_mode=batch_mode)
    key = pick_score(res.scores, rank_by)
    order = top_k(res.scores[key], len(ids))
    m = len(order) if max_maps is None else min(int(max_maps), len(order))
    # the mapped images' reconstructions from the batches their scores came from, scored once more (the maps then
    # show the residual of the very reconstruction each image's L_n and rank came from)
    shown = x[order[:m]]
    with warnings.catch_warnings():
        # (that pass's scores are not reported: a warning about them, e.g. too few images for a minibatch-stddev
        # group, was said by the scoring above already)
        warnings.filterwarnings("ignore", message=r".* scored in batch mode 'mixed'")
        recon, _ = reconstructions_as_scored(model, x, kept, n_files, order[:m], batch_mode, progress=progress,
                                             log=log)
    return NamedImages(ids=[ids[i] for i in order], scores={k: np.asarray(v)[order] for k, v in res.scores.items()},
                       x=shown, recon=recon, maps=residual_maps(shown, recon, map_lod(model)))
