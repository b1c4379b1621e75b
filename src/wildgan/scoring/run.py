"""Scoring a run directory's model: load it (safetensors + JSON only), score images, write per-image CSV.

Python equivalent of `wildgan score`. The module, in file order:

* **Loading a run** -- `load_model(run_dir)` gives a `LoadedModel` (the run's config, its networks and how new
  images are converted like its training images), whose `.score(x_u8)` scores images in memory with the run's
  method (wildgan, latent search or f-AnoGAN). `final_checkpoint` picks the networks (final, else the newest good
  checkpoint), `read_split_info` reads split.json (checked), `untrained_model` is the untrained-networks control.
* **Scoring a pile of files** -- `score_files(model, paths)` reads and scores image files in chunks, so that memory
  holds one chunk of pixels whatever the number of files (`default_chunk_size`), and returns `FileScores`; a tar
  or zip archive of image files given alone is read as its folder (`_score_archive`). Its steps:
  the chunking (`_make_chunks`, `_balanced_parts` for several processes), the resume folder's finished chunks
  (`_resume_finished`), scoring the remaining chunks (`_score_chunks`), gathering the processes' chunks
  (`_gather_ranks`) and merging them into one score per file (`_merge_chunks`).
* **Resume folders** -- what a folder's saved chunks are scores of (`_resume_key`), the chunking a folder written by
  another number of processes keeps (`_resumable_parts`), preparing the folder, reading and saving chunks;
  `is_resume_dir` and `remove_resume_dir` for the caller's clean-up, `resumable_chunks` (of a `ResumeRecord`) for its
  word on a stop.
* **CSV** -- `scores_csv_text` and `write_scores_csv`: one row per image (`write_run_scores_csv` for a run's own
  file, which write_scores_csv refuses to replace)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .. import __version__, fileio
from .. import checkpoint as ckpt
from ..config import RunConfig, ScoreConfig, read_run_config, shown
from ..data import readers
from ..data.dataset_files import dataset_file_kind, is_archive, named_as_in_archive, named_in_archive
from ..data.imageset import READER_VERSION, TRAINED_DEPTHS, decoder_versions, decoders_text, scoring_depth16
from ..data.readers import (as_path_list, channel_counts, channel_warning, list_image_files, none_readable_error,
                            repeated_files_warning, trained_gray_share, trained_kind)
from ..data.replay import ReplayFiles
from ..data.splits import conversion_opts, decoding_change, image_hashes
from ..data.transforms import DEPTH16_RULES, FITS, PER_IMAGE_8BIT
from ..devices import resolve_device
from ..errors import (CONVERSION_DEPTH16, RUN_DEPTH16, CheckpointError, ConfigError, DataError, depth16_said,
                      depth16_said_as, eprint, error_kind, option_words, rebuilt_error, shell_word, warn_user)
from ..nets import build_pgan
from ..training.schedule import kimg_to_the_image
from .pgan_scores import ScoreResult, batch_order, score_pgan, scoring_lock
from .scores import SCORES_VERSION, SCORES_VERSION_ABSENT, UNRECORDED_SCORES_VERSION

# Types of score_files' intermediate results: a scored chunk (its number, the file indices it kept, their scores by
# name) and a skipped file (its index, why).
ChunkScores = tuple[int, np.ndarray, dict[str, np.ndarray]]
Skipped = tuple[int, str]


# ---------------------------------------------------------------------------------------------------------------
# Loading a run
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class LoadedModel:
    """A scoring-ready model: the run's config, its networks and where they came from."""

    cfg: RunConfig
    nets: Any                      # PGANNetworks, or FAnoGANNetworks for method 'fanogan'
    source: str                    # file the weights came from, or 'untrained'
    meta: dict
    device: torch.device
    # how new image files are converted like the training data (split.json's fit / depth16; data.conversion_opts)
    conversion: dict[str, Any] = field(default_factory=dict)

    @property
    def lod(self) -> float:
        """The level of detail the networks were trained to (0 unless training stopped before full growth; always 0
        for f-AnoGAN, whose networks do not grow)."""
        if self.cfg.method == "fanogan":
            # before a lod its meta holds: its scoring takes none (full size), and eval.json recorded 0 while the
            # report's metrics.json recorded the meta's, which a copied or edited meta (or score_controls' untrained
            # networks, given the trained ones') made another number
            return 0.0
        if self.meta.get("lod") is not None:
            return float(self.meta["lod"])
        if "nimg" not in self.meta:
            return 0.0                    # untrained networks are scored at full size
        # Networks written before "lod" was recorded: the schedule gives it from the images seen. Reading 0 would
        # score a run stopped at 8x8 with its untrained 32x32 layers.
        from ..training.schedule import lod_of_last_round

        t = self.cfg.train
        return float(lod_of_last_round(int(self.meta["nimg"]), self.cfg.net.resolution, t.phase_kimg, t.fade_kimg,
                                       t.minibatch, t.minibatch_repeats))

    def score(self, x_u8: np.ndarray, *, score_cfg: ScoreConfig | None = None, batch_mode: str = "mixed",
              return_recon: bool = False, progress: bool = False, batches: list[np.ndarray] | None = None,
              z0: torch.Tensor | None = None, with_A: bool = True, z_star: np.ndarray | None = None) -> ScoreResult:
        """Every score of uint8 [N, R, R, C] images. For a chunk of a larger set (score_files) `batches` says which
        score batches its images form (wildgan: E's minibatch stddev couples a batch) and `z0` gives their initial
        latents (search: drawn for the whole set). f-AnoGAN scores every image on its own and needs neither.
        `with_A=False` (wildgan runs only): every score but f-AnoGAN's A, without its two critic passes.
        `z_star` (search runs only): the latents an earlier search of these images found, scored without searching.
        Returns a ScoreResult: .scores maps each score name (a, L_n, L_o, L_r, A; higher = more anomalous) and
        z_norm to float64 [N] in the order of x_u8. Other dtypes and layouts are refused (DataError):
        wildgan.detector.to_images converts them."""
        self.check_images(x_u8)
        sc = score_cfg or self.cfg.score
        _check_without_A(self.cfg.method, with_A)
        if z_star is not None and self.cfg.method != "search":
            raise ConfigError(f"z_star is for latent-search runs; this run's method is {self.cfg.method!r}")
        # one scoring at a time on these networks (pgan_scores.scoring_lock): each method sets state on them for the
        # call's length (the latent search's frozen parameters, f-AnoGAN's eval mode, E's minibatch stddev)
        with scoring_lock(self.nets.E):
            return self._score(x_u8, sc, batch_mode=batch_mode, return_recon=return_recon, progress=progress,
                               batches=batches, z0=z0, with_A=with_A, z_star=z_star)

    def _score(self, x_u8: np.ndarray, sc: ScoreConfig, *, batch_mode: str, return_recon: bool, progress: bool,
               batches: list[np.ndarray] | None, z0: torch.Tensor | None, with_A: bool,
               z_star: np.ndarray | None) -> ScoreResult:
        """score's work, its lock held."""
        if self.cfg.method == "wildgan":
            return score_pgan(self.nets, x_u8, sc, device=self.device, batch_mode=batch_mode,
                              return_recon=return_recon, progress=progress, lod=self.lod, batches=batches,
                              with_A=with_A)
        if self.cfg.method == "search":
            from .latent_search import search_scores

            G = self.nets.Gs if sc.generator == "Gs" else self.nets.G
            return search_scores(G, self.nets.D, x_u8, self.cfg.search, sc.lam, sc.kappa, self.device,
                                 return_recon=return_recon, progress=progress, lod=self.lod, z0=z0,
                                 z_star=z_star, generator=sc.generator)
        if self.cfg.method == "fanogan":
            from .fanogan_scores import score_fanogan

            return score_fanogan(self.nets, x_u8, batch_size=sc.batch_size, lam=sc.lam, kappa=sc.kappa,
                                 device=self.device, return_recon=return_recon, progress=progress)
        raise CheckpointError(f"unknown method {self.cfg.method!r} in the run config")

    def check_images(self, x_u8: Any) -> None:
        """Refuse (DataError) what score cannot read as uint8 [N, R, R, C] at these networks' R and C. Without it a
        float array in [0, 1] was scored as nearly black uint8 values (no error, wrong scores), and a 1-channel or
        [N, C, H, W] batch failed inside torch's conv2d with a message about weights, not about the images."""
        r, c = int(self.cfg.net.resolution), int(self.cfg.net.channels)
        who = f"LoadedModel.score ({self.source})"           # the weights file, or 'untrained'
        want = f"uint8 [N, {r}, {r}, {c}] (channels last, the networks' resolution and channels)"
        fit = self.conversion.get("fit", "resize")            # as the run's training images were converted
        convert = (f"convert images with wildgan.detector.to_images(X, {r}, {c}, resize_mode={fit!r}) (arrays, "
                   f"tensors, PIL images, any dtype and layout) or wildgan.data.load_image_files (files), or score "
                   f"them with wildgan.Detector.from_run(RUN).decision_function(X), which converts them itself")
        if not isinstance(x_u8, np.ndarray):
            raise DataError(f"{who} takes a numpy array {want}, got a {type(x_u8).__name__}; {convert}")
        if x_u8.dtype != np.uint8:
            # the one check that matters most: u8_to_unit reads any number as 0..255
            raise DataError(f"{who} takes {want}, got dtype {x_u8.dtype}: it reads pixel values as 0..255, so "
                            f"floats in [0, 1] or [-1, 1] would score as near-black images; {convert}")
        if x_u8.ndim != 4 or tuple(x_u8.shape[1:]) != (r, r, c):
            raise DataError(f"{who} takes {want}, got shape {tuple(x_u8.shape)}; {convert}")


def _check_without_A(method: str, with_A: bool) -> None:
    """with_A=False is for wildgan runs: f-AnoGAN's and latent search's scores need the critic anyway."""
    if not with_A and method != "wildgan":
        raise ConfigError(f"leaving out the A score applies to wildgan runs; this is a {method} run")


def checkpoint_path(run_dir: Path, given: str | Path) -> Path:
    """load_model's checkpoint= (Detector.from_run's, `wildgan score --checkpoint`'s): a checkpoint file (either half
    of its .json / .safetensors pair, or their name without the suffix), or the name of one in RUN/checkpoints; as
    the path of its JSON half. Why the JSON half: the .safetensors half named the same networks by another path,
    which the training-score cache (keyed by the networks' source) then took for other networks, so that a run
    fitted on in-memory images refused from_run(RUN, checkpoint='RUN/network-final.safetensors') while it took the
    .json. Refused by name where it cannot be a checkpoint: a missing file was reported as its JSON half
    ("nope.json: checkpoint metadata not found", a name the caller never gave), and the run's checkpoints/ folder as
    that folder's ".json" sibling. The option is named as the caller gives it (errors.option_words: `--checkpoint
    FILE` as typed during a command, else checkpoint='FILE'): one rule for the CLI and the API, whose two copies
    had drifted apart (the API did not look in RUN/checkpoints, the CLI took no name without its suffix)."""
    run_dir, path = Path(run_dir), Path(given)
    said = option_words(f"--checkpoint {given}", f"checkpoint={str(path)!r}")
    if path.is_dir():
        # (a run folder itself, RUN for RUN/network-final.json, was told to give a file with no example: its
        # checkpoints are in its checkpoints/ folder, and its final networks beside them)
        found = ckpt.list_checkpoints(path) or ckpt.list_checkpoints(path / "checkpoints")
        final = next((path / n for n in ("network-final.json", "fanogan-final.json") if (path / n).is_file()), None)
        example = (f", e.g. its final networks, {final}" if final else
                   f", e.g. its newest, {found[-1].with_suffix('.json')}" if found else "")
        raise ConfigError(f"{said}: a folder; give one checkpoint file{example}")
    places = (path, run_dir / "checkpoints" / path.name)
    for p in places:
        # only a JSON half is returned: any other file was taken as a checkpoint named without its suffix, and the
        # loader, adding .json to it, said "scores.csv.json: checkpoint metadata not found" of a file never given
        half = p.with_suffix(".json") if p.suffix in (".json", ".safetensors") else p.with_name(p.name + ".json")
        if half.is_file() or (p.suffix == ".safetensors" and p.is_file()):
            return half
    there = next((p for p in places if p.is_file()), None)
    if there is not None:
        named = "" if there == path else f"{there} is "
        raise ConfigError(f"{said}: {named}not a checkpoint file (a checkpoint is a .json file with the "
                          f".safetensors file of the same name beside it; this run's are in "
                          f"{run_dir / 'checkpoints'})")
    raise ConfigError(f"{said}: no such file (this run's checkpoints are in {run_dir / 'checkpoints'})")


def load_model(run_dir: Path, device: str | torch.device = "auto", checkpoint: str | Path | None = None
               ) -> LoadedModel:
    """A run's trained networks, ready to score: its final networks, else its newest good checkpoint (or
    `checkpoint`: a file, or the name of one in RUN/checkpoints, see checkpoint_path), on `device`, with the run's
    config and the conversion its images went through."""
    ckpt.refuse_saved_detector(run_dir, "load_model")
    cfg = read_run_config(run_dir)
    dev = resolve_device(device)
    path = checkpoint_path(Path(run_dir), checkpoint) if checkpoint else final_checkpoint(run_dir)
    try:
        nets, meta = _load_networks(cfg, path, dev)
    except ckpt.NewerFormatError:
        raise
    except CheckpointError as e:
        # a truncated or damaged final file (an interrupted copy) beside the run's checkpoints: a --resume of the
        # finished run writes it again from the newest good one (the same networks), which the error alone hid
        if (checkpoint is None and path.parent == Path(run_dir) and cfg.method != "fanogan"
                and ckpt.list_checkpoints(Path(run_dir) / "checkpoints")):
            again = option_words(f"`wildgan train --out {shell_word(run_dir)} --resume`",
                                 f"train_run(read_run_config({str(run_dir)!r}), {str(run_dir)!r}, resume=True) "
                                 f"(wildgan.training.run, wildgan.config)")
            raise CheckpointError(f"{e}; {again} writes the final networks again from the run's newest good "
                                  f"checkpoint") from None
        raise
    _check_same_architecture(cfg, meta, path, run_dir)
    if checkpoint is not None:
        _check_same_run(cfg, meta, path, Path(run_dir))
    if checkpoint is None and path.parent.name == "checkpoints":
        # e.g. a run still training, or stopped before its end: say so, the scores are those of a partial model
        warn_user(f"{run_dir} has no final networks yet (still training, or stopped): using its newest "
                  f"checkpoint {path.name} ({kimg_to_the_image(float(meta.get('kimg', 0) or 0))} kimg)")
    if not (Path(run_dir) / "split.json").is_file():
        # split.json records how the training images were made square (a protocol's pad, e.g. MNIST's) and their
        # bit-depth rule: without it new images get the defaults, which may differ from the training pixels
        warn_user(f"{run_dir}: split.json is missing, so new images are converted by the default rules (centre crop, "
                  f"per-image 16-bit stretch), which may not be how this run's training images were; restore "
                  f"split.json from a copy of the run to score as it was trained")
    return LoadedModel(cfg=cfg, nets=nets, source=str(path), meta=meta, device=dev,
                       conversion=conversion_opts(read_split_info(run_dir)))


def _load_networks(cfg: RunConfig, path: Path, dev: torch.device) -> tuple[Any, dict[str, Any]]:
    """The networks in checkpoint `path` and its metadata: f-AnoGAN's or the pGAN's, after the run's method."""
    if cfg.method == "fanogan":
        return ckpt.load_fanogan(path, dev), ckpt.read_meta(path)
    return ckpt.load_pgan(path, dev)


def final_checkpoint(run_dir: Path) -> Path:
    """network-final.json (pGAN) / fanogan-final.json, else the newest good periodic checkpoint."""
    run_dir = Path(run_dir)
    for name in ("network-final.json", "fanogan-final.json"):
        if (run_dir / name).is_file():
            return run_dir / name
    cks = ckpt.list_checkpoints(run_dir / "checkpoints")
    errors = []
    for p in reversed(cks):
        try:
            ckpt.load_checkpoint(p)           # verified (checksum): a run killed while writing its newest one
            return p
        except ckpt.NewerFormatError:
            raise                             # sound: older networks would be scored in its place
        except CheckpointError as e:
            if not p.exists():
                continue                      # pruned meanwhile by the run still training there: not a bad one
            errors.append(str(e))
            warn_user(f"skipping a bad checkpoint: {e}")
    if errors:
        raise CheckpointError(f"{run_dir}: no trained networks that load (no network-final.json; every checkpoint "
                              f"fails, the newest: {errors[0]})")
    raise CheckpointError(f"{run_dir}: no trained networks (no network-final.json and no checkpoints/)")



def _check_same_architecture(cfg: RunConfig, meta: dict[str, Any], path: Path, run_dir: Path) -> None:
    """Refuse networks of another architecture than the run's config (e.g. `--checkpoint` of another run): they are
    built from their own JSON, but the images are read at the run's resolution and channels, which failed deep in a
    forward pass (another resolution) or scored the images with another run's networks in silence (another width)."""
    from ..config import NetConfig, from_dict

    if cfg.method == "fanogan":
        saved = {"resolution": meta.get("resolution"), "channels": meta.get("channels"),
                 "dim": (meta.get("config") or {}).get("dim"),
                 "latent_size": (meta.get("config") or {}).get("latent_size")}
        want = {"resolution": cfg.net.resolution, "channels": cfg.net.channels, "dim": cfg.fanogan.dim,
                "latent_size": cfg.fanogan.latent_size}
    else:
        saved = dataclasses.asdict(from_dict(NetConfig, meta["net"]))      # checked by load_pgan already
        want = dataclasses.asdict(cfg.net)
    diff = [f"{k}: {saved.get(k)!r} there, {v!r} in the run" for k, v in want.items() if saved.get(k) != v]
    if diff:
        raise CheckpointError(f"{path}: networks of another architecture than the run {run_dir} "
                              f"({'; '.join(diff)}): a checkpoint of another run?")


def _check_same_run(cfg: RunConfig, meta: dict[str, Any], path: Path, run_dir: Path) -> None:
    """Refuse networks that another run trained, given from outside the run folder (`score RUN --checkpoint
    OTHER/network-final.json`, OTHER of the same architecture, which _check_same_architecture lets through): RUN's
    images were scored, and with --threshold flagged, by OTHER's networks, the networks' path in the last line their
    only trace. A pGAN checkpoint records its run's whole config: it is compared with RUN's config.json as a resume
    compares them (training.run.run_differences: --total-kimg, --minutes, ... may differ), both as recorded, so that a
    copy of the run, or one trained on from it, still scores. Not checked: a checkpoint inside the run folder (the
    run's own), f-AnoGAN's (they record their own section only), one without a recorded config, and configs that
    cannot be compared (a damaged record, an ambiguous $WILDGAN_DATA): the checks before say what is wrong there."""
    import json as _json

    from ..config import run_config_from_dict
    from ..errors import WildganError
    from ..training.run import run_differences

    raw = meta.get("config")
    if cfg.method == "fanogan" or not isinstance(raw, dict) or run_dir.resolve() in path.resolve().parents:
        return
    try:
        ours = _json.loads((run_dir / "config.json").read_text().removeprefix("\ufeff"))
        diff = run_differences(run_config_from_dict(raw), run_config_from_dict(ours))
    except (WildganError, OSError, TypeError, ValueError, KeyError, AttributeError):
        return
    if not diff:
        return
    other = next((d for d in (path.parent, path.parent.parent) if (d / "config.json").is_file()), None)
    there = f"; score with the run that trained them, {other}, or" if other is not None else ";"
    more = f"; and {len(diff) - 3} more" if len(diff) > 3 else ""
    raise CheckpointError(f"{path}: networks of another run than {run_dir} ({'; '.join(diff[:3])}{more}, from "
                          f"theirs to this run's){there} give a checkpoint of this run (its final networks, or one "
                          f"in {run_dir / 'checkpoints'})")


def read_split_info(run_dir: Path, files: ReplayFiles | None = None) -> dict[str, Any]:
    """RUN_DIR/split.json ({} when the run has none). files: what a replay of the run's config file reads
    (data.replay.ReplayFiles, of a file in RUN_DIR), where the caller has them: split.json read once for both
    (`train --resume`'s checks and its replay's)."""
    path = Path(run_dir) / "split.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text()) if files is None else files.split_json()
    except (OSError, ValueError) as e:      # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise CheckpointError(f"{path}: not a readable split record ({e})") from None
    if not isinstance(info, dict):
        raise CheckpointError(f"{path}: not a readable split record (a JSON object expected)")
    _check_split_fields(info, path)
    return info


def _check_split_fields(info: dict[str, Any], path: Path) -> None:
    """The fields of split.json that decide how new images are converted (conversion_opts): a damaged one was an
    AttributeError or a ValueError of int() at scoring time, with no word of the file. Each value is said as the file
    writes it (shown: ["fit"], true, null), not as Python's repr of what json read (['fit'], True, None)."""
    conv = info.get("conversion", {})
    if not isinstance(conv, dict):
        raise CheckpointError(f"{path}: not a readable split record ('conversion' must be a JSON object, got "
                              f"{shown(conv, from_file=True)})")
    for key in ("fit", "depth16"):
        if conv.get(key) is not None and not isinstance(conv[key], str):
            raise CheckpointError(f"{path}: not a readable split record ('conversion.{key}' must be a string, got "
                                  f"{shown(conv[key], from_file=True)})")
    # a text that is no rule ("crop") was refused only when the images to score were read (imageset.parse_opts,
    # transforms.check_depth16), naming neither the file nor the field. Every value a wildgan ever wrote there is
    # one of these: fit resize | pad (letterbox since --square letterbox), depth16 per-image | global | shift
    # (bits:9..16 since bits:N); the scoring-only PER_IMAGE_8BIT is never recorded
    for key, rules, words in (("fit", FITS, f"one of {', '.join(FITS)}"),
                              ("depth16", DEPTH16_RULES, "per-image, global, shift or bits:N with N = 9..16")):
        if conv.get(key) is not None and conv[key] not in rules:
            raise CheckpointError(f"{path}: not a readable split record ('conversion.{key}' must be {words}, got "
                                  f"{shown(conv[key], from_file=True)})")
    depth = conv.get("trained_depth")
    if depth is not None and depth not in TRAINED_DEPTHS:
        # (read as 'unknown' it would stretch the 16-bit images of an 8-bit run, which the record was there to stop)
        raise CheckpointError(f"{path}: not a readable split record ('conversion.trained_depth' must be one of "
                              f"{', '.join(TRAINED_DEPTHS)}, got {shown(depth, from_file=True)})")
    sides = info.get("native_sides")
    if sides is not None and not (isinstance(sides, list) and len(sides) == 2 and
                                  all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sides)):
        raise CheckpointError(f"{path}: not a readable split record ('native_sides' must be [shortest, longest] "
                              f"side in pixels, got {shown(sides, from_file=True)})")


UNTRAINED = "untrained"          # LoadedModel.source of the untrained-networks control


def untrained_model(cfg: RunConfig, device: str | torch.device = "auto") -> LoadedModel:
    """The same architecture with the run's initial weights (same seed): the 'untrained networks' control."""
    dev = resolve_device(device)
    if cfg.method == "fanogan":
        from ..nets.fanogan import build_fanogan

        nets = build_fanogan(cfg.fanogan, cfg.net.resolution, cfg.net.channels, seed=cfg.fanogan.seed).to(dev)
    else:
        nets = build_pgan(cfg.net, cfg.train.seed).to(dev)
    return LoadedModel(cfg=cfg, nets=nets, source=UNTRAINED, meta={}, device=dev)


# ---------------------------------------------------------------------------------------------------------------
# Scoring a pile of files, in chunks
# ---------------------------------------------------------------------------------------------------------------

# Memory for one chunk of decoded images when scoring files: a pile larger than this is read and scored in chunks.
SCORE_CHUNK_BYTES = 512 * 2**20
# With a resume folder, chunks are also the unit of work an interruption can lose: smaller ones (64 MB of pixels:
# 21,824 images at 32x32x3, a few minutes of the paper preset on 2 CPU cores) so that a CIFAR-sized pile is resumable
# too. Writing a chunk's scores costs next to nothing, and the scores do not depend on the chunk size.
RESUME_CHUNK_BYTES = 64 * 2**20


def default_chunk_size(resolution: int, channels: int, batch_size: int = 64, method: str = "wildgan",
                       resumable: bool = False) -> int:
    """Images per chunk for score_files: SCORE_CHUNK_BYTES of uint8 pixels, a whole number of score batches
    (174,720 images at 32x32x3, 2,688 at 256x256x3: below 128 px every test set we know is one chunk), or
    RESUME_CHUNK_BYTES with a resume folder (`resumable`: 21,824 at 32x32x3, 320 at 256x256x3). The latent search
    holds its whole chunk as float32 queries and their latents: an eighth of that (it is slow per image, so small
    chunks cost nothing)."""
    budget = RESUME_CHUNK_BYTES if resumable else SCORE_CHUNK_BYTES
    n = budget // (resolution * resolution * channels) // (8 if method == "search" else 1)
    return max(batch_size, n - n % batch_size)


@dataclass
class FileScores:
    """score_files' result: one entry per readable file, in file order."""

    ids: list[str]                          # file paths
    scores: dict[str, np.ndarray]           # name -> [N] float64 (z_norm included), higher = more anomalous
    skipped: list[str]                      # why each unreadable file was left out (skip_bad)
    chunks: int                             # how many chunks the files were read and scored in
    chunk_size: int                         # images in the largest chunk (whole score batches: at least one)
    resumed: int = 0                        # chunks whose scores were read back from resume_dir, not computed
    # each later mention of a file given more than once (twice by name, or by name and in a folder given), as
    # list_image_files says it: the file is scored once, its row under the name first given
    repeated: list[str] = field(default_factory=list)
    # with score_files(hashes=True): each row's image's data.splits.image_hashes, of its pixels as scored (uint64 [N])
    hashes: np.ndarray | None = None


def score_files(model: LoadedModel, paths: str | Path | Sequence[str | Path], *,
                chunk_size: int | None = None,
                skip_bad: bool = False, progress: bool = False, ctx: Any = None,
                score_cfg: ScoreConfig | None = None, batch_mode: str = "mixed",
                conversion: dict[str, Any] | None = None, resume_dir: Path | None = None,
                with_A: bool = True, resume_record: ResumeRecord | None = None, hashes: bool = False
                ) -> FileScores | None:
    """Score image files and folders (recursed), reading and scoring at most `chunk_size` (>= 1) images at a time
    (default: default_chunk_size, smaller with a resume_dir), so that memory holds one chunk of pixels and the
    scores, whatever the number of files.

    The scores do not depend on the chunk size; with every file readable they are those of LoadedModel.score on
    load_images of the same paths. Rows: one per readable file, in the order of first mention (FileScores.ids, which
    the score arrays line up with, not with `paths`): a file given more than once (twice by name, by a second name
    such as a link, or by name and in a folder given) is read and scored once, under the name first given, and a
    warning names each later mention (FileScores.repeated lists them all); two rows of one image would score it
    twice, differently in batch mode 'mixed'. wildgan: the mixed score batches are drawn over the whole list of
    files, as LoadedModel.score draws them over a whole image set, and each chunk is a run of whole batches; an
    unreadable file (skip_bad) leaves its batch (_local_batches). search: the initial latents are drawn per file, in
    file order, in consecutive chunks. f-AnoGAN scores each image on its own. Unreadable files (skip_bad) are each
    named in a warning. Files are converted like the run's training data (model.conversion, e.g. MNIST's 28 -> 32 zero
    padding; `conversion` overrides it). `score_cfg`, `batch_mode` and `with_A` as for LoadedModel.score.

    `resume_dir`: with more than one chunk, each chunk's scores are saved there as it is finished (chunk-NNNNN.npz,
    written atomically, and manifest.json: what they are scores of), and a later call on the same files with the same
    model, settings and chunk size takes the finished chunks from there instead of scoring them again (an interrupted
    scoring of a large pile resumes; the scores are the same). A folder recorded for other files, model, settings or
    image decoders (decoder_versions) is emptied first (with a warning naming what differs). The caller deletes the
    folder once the result is safely written (remove_resume_dir). `resume_record`: filled in with what this scoring
    is, once its chunking is chosen, so that a caller stopped (Ctrl-C) can say how many finished chunks the same call
    would take (resumable_chunks).

    `ctx` (training.distributed.DistContext, under torchrun): the files are cut into a multiple of `world` equal
    chunks, no larger than one process's (_balanced_parts: a pile of one chunk would leave every rank but 0 idle),
    and rank r reads and scores chunks r, r + world, ... on its own device; rank 0 gathers the scores and returns
    them (the same as one process's), the other ranks None. A resume folder written by another number of processes
    keeps its chunking when this scoring can use it (_resumable_parts), else its chunks are scored again. An error
    on any rank is raised on every rank (none waits for the others forever).

    A tar archive of image files (.tar, .tar.gz, ...) given alone is scored as `wildgan score RUN --data ARCHIVE`
    scores it: every image in it (labels, where its folders are classes, are not read), unpacked once into the cache
    ($WILDGAN_CACHE) and read as a folder, in chunks; ids, skipped files, warnings and errors name the files inside
    the archive (ids `folder/a.png`, messages `ARCHIVE:folder/a.png`). Refused, naming the file: a zip archive, an
    archive among other paths, and a data-set file (an .npz, CIFAR-10's batches, a tar of either), which
    Detector.decision_function reads whole.

    `hashes`: FileScores.hashes gets each row's data.splits.image_hashes, taken from the pixels of each chunk as it is
    scored, for a caller that compares the images with a run's training images (Detector's f1 validation set): a
    second read of the files would decode them all again. Not with `resume_dir` or `ctx`: a resumed chunk's pixels
    are not read, and another process's are not sent back."""
    if depth16_said() is None:
        # a Python caller (`wildgan score` and the Detector set their own words): score_files takes no depth16=, a
        # refused 16-bit or float image names what does choose the rule here, the run's record or `conversion`
        with depth16_said_as(RUN_DEPTH16 if conversion is None else CONVERSION_DEPTH16):
            return score_files(model, paths, chunk_size=chunk_size, skip_bad=skip_bad, progress=progress, ctx=ctx,
                               score_cfg=score_cfg, batch_mode=batch_mode, conversion=conversion,
                               resume_dir=resume_dir, with_A=with_A, resume_record=resume_record, hashes=hashes)
    net, sc, method = model.cfg.net, score_cfg or model.cfg.score, model.cfg.method
    _check_without_A(method, with_A)              # before any file is read
    if hashes and (resume_dir is not None or ctx is not None):
        # (Detector, the one caller that asks for hashes, passes neither; kept for a call of this public function,
        # which would otherwise get the hashes of some rows only, or none, without a word)
        raise ValueError("score_files(hashes=True) takes neither resume_dir nor ctx: the pixels of a resumed chunk "
                         "or of another process's are not read here")
    paths = as_path_list(paths)
    archive = _archive_of_images(paths)
    if archive is not None:
        return _score_archive(model, archive, chunk_size=chunk_size, skip_bad=skip_bad, progress=progress, ctx=ctx,
                              score_cfg=score_cfg, batch_mode=batch_mode, conversion=conversion,
                              resume_dir=resume_dir, with_A=with_A, resume_record=resume_record, hashes=hashes)
    repeats: list[str] = []
    origins: list[int] = []
    if ctx is not None and ctx.world > 1:
        files = _same_files_on_every_rank(ctx, paths, repeats, origins)
    else:
        files = list_image_files(paths, repeats, origins)
    conversion = model.conversion if conversion is None else conversion
    # `is None`, not `or`: a chunk size of 0 is refused below, not read as 'none given'
    step = chunk_size if chunk_size is not None else default_chunk_size(net.resolution, net.channels, sc.batch_size,
                                                                         method, resumable=resume_dir is not None)
    if step < 1:
        raise ValueError(f"chunk_size must be at least 1, got {step}")
    key = (sc, batch_mode, conversion, with_A)     # what the scores depend on besides the files and the model
    world, rank = (ctx.world, ctx.rank) if ctx is not None else (1, 0)

    # 1. the chunking: runs of whole score batches (wildgan: the mixed batches are drawn over the whole file list)
    order = batch_order(len(files), sc.batch_size, sc.shuffle_seed) if method == "wildgan" else None
    parts = _balanced_parts(order, len(files), step, world)
    if resume_dir is not None:
        # a resume folder written with another chunking (another number of processes): its chunks are reused when
        # its chunking is one this scoring may use, rather than discarded
        parts = _resumable_parts(model, files, order, step, parts, Path(resume_dir), ctx,
                                 explicit=chunk_size is not None, key=key)
    groups, chunks = _make_chunks(order, len(files), step, parts)
    if resume_record is not None and resume_dir is not None and len(chunks) > 1:
        # (the key and digests taken only if asked, on a stop: the files' stat calls are many for a large pile)
        resume_record.resume_dir, resume_record.n_chunks, resume_record.skip_bad = Path(resume_dir), len(chunks), \
            skip_bad
        resume_record.make_key = lambda: _resume_key(model, files, chunks, *key)
        resume_record.files_digest = lambda c: _files_digest(files, chunks[c])
    mine = list(range(rank, len(chunks), world))   # this process's chunks, dealt round-robin
    err: Exception | None = None
    failure = None
    resumed: list[ChunkScores] = []
    # each readable file's decoded channel count (1 gray, 3 colour), over every chunk (resumed ones too, and on
    # every process): the warning about images of the other kind than the training images counts them all, once
    kinds: dict[int, int] = {}
    hashed: list[tuple[np.ndarray, np.ndarray]] | None = [] if hashes else None
    try:
        warned: set[int] = set()           # files named in a 'skipped' warning (once each, resumed or not)
        # 2. the finished chunks of an interrupted scoring; 3. the other chunks, read and scored
        resumed_bad: list[Skipped] = []
        save = None
        if resume_dir is not None and len(chunks) > 1:
            resumed, resumed_bad, mine, save = _resume_finished(
                resume_dir, model, files, chunks, mine, key, ctx, skip_bad=skip_bad, warn=world == 1,
                warned=warned, kinds=kinds, progress=progress, world=world)
        scored, bad = _score_chunks(model, files, mine, chunks, groups, skip_bad=skip_bad, progress=progress,
                                    warn=world == 1, score_cfg=sc, batch_mode=batch_mode, conversion=conversion,
                                    save=save, warned=warned, with_A=with_A, kinds=kinds, hashes=hashed)
        scored, bad = resumed + scored, resumed_bad + bad
    except Exception as e:                 # noqa: BLE001 -- on one rank of several: said to all of them below
        # (not SIGTERM, errors.Terminated, no Exception: torchrun sent it to every rank, not one rank's failure)
        if world == 1:
            raise
        # (its class by name, rebuilt on every rank from errors.CARRIED_ERRORS: a ConfigError stays one)
        # (and its unreadable files' reasons, merged with the other ranks' into the error every rank raises)
        unreadable = getattr(e, "unreadable", None) if isinstance(e, DataError) else None
        scored, bad, failure, err = [], [], (f"rank {rank}: {e}", error_kind(e), unreadable), e
        kinds = {}
    n_resumed = len(resumed)
    if world > 1:
        # 4. every process's chunks, to rank 0
        gathered = _gather_ranks(ctx, scored, bad, failure, n_resumed, kinds, err)
        if gathered is None:
            return None
        scored, bad, n_resumed, kinds = gathered
    # 5. one score per file, and what is said about the files
    scores, done = _merge_chunks(scored, len(files))
    reasons = dict(sorted(bad))                          # one per file, however many chunks read it
    if world > 1:
        for r in reasons.values():
            warn_user(f"skipped {r}")
    if not done.any():
        raise none_readable_error(len(files), list(reasons.values()))
    # (kinds counted by iter_images under the same rule, from the same conversion record)
    msg = channel_warning(*channel_counts(kinds), trained_kind(conversion)[0], trained_gray_share(conversion))
    if msg:
        # once, with every file counted: e.g. colour photos scored with a run that went gray because its cell crops
        # were all gray (converted, but likely the wrong run)
        warn_user(msg)
    msg = repeated_files_warning(repeats, "scored once (one row, under the name first given)")
    if msg:
        # (once, by the process that returns the scores: the rows are a row short of the names given per repeat)
        warn_user(msg)
    keep = np.flatnonzero(done)
    by_file = None
    if hashed is not None:
        by_file = np.zeros(len(files), dtype=np.uint64)
        for kept, h in hashed:
            by_file[kept] = h              # (a file in two chunks, a wrap-around repeat: the same pixels, one hash)
    return FileScores(ids=[str(files[i]) for i in keep], scores={k: v[keep] for k, v in scores.items()},
                      skipped=list(reasons.values()), chunks=len(chunks), chunk_size=max(len(c) for c in chunks),
                      resumed=n_resumed, repeated=repeats, hashes=None if by_file is None else by_file[keep])


def _archive_of_images(paths: Sequence[str | Path]) -> Path | None:
    """The tar or zip archive of image files that `paths` holds alone, which score_files reads as its folder; None for
    image files and folders. The archives it does not read are refused here, naming the file and what reads it:
    before, a tar or .npz was "a data-set file, not an image" with the command line's way (`wildgan score RUN --data
    X`) as the only advice."""
    items = [Path(p) for p in paths]
    for p in items:
        if not p.is_file():
            continue
        # (worded for both callers: `wildgan score --data` says these too, where naming score_files alone told a
        # command-line user of a Python call, and the command's own way was the advice before)
        if len(items) > 1:
            if is_archive(p):    # (the other data-set files: list_image_files' own refusal, the command's way)
                raise DataError(f"{p}: a data-set file ({dataset_file_kind(p)}), not an image: it cannot be mixed "
                                f"with image files or folders; given alone (`wildgan score RUN --data "
                                f"{shell_word(p)}`, "
                                f"score_files(model, [{str(p)!r}])) the image files in it are scored on their own")
            continue
        kind = dataset_file_kind(p)
        if kind is None:
            continue
        if not is_archive(p) and p.suffix.lower() != ".npz":        # (one CIFAR-10 batch, or its batches.meta)
            raise DataError(f"{p}: a data-set file ({kind}), not image files: {_cifar_batch_way(p)}")
        if not is_archive(p) or readers.detect_format(p) != "folder-tar":
            what = (f"a data-set file ({kind})" if not is_archive(p) else
                    f"{kind} of a data set (arrays or CIFAR-10 batches)")
            raise DataError(f"{p}: {what}, not image files: score_files reads image files, folders and tar or zip "
                            f"archives of image files; Detector.from_run(RUN).decision_function({str(p)!r}) reads a "
                            f"data-set file whole (every image, labels ignored), as `wildgan score RUN --data "
                            f"{shell_word(p)}` does")
        return p
    return None


def _cifar_batch_way(p: Path) -> str:
    """What reads the images of one CIFAR-10 python batch file p (or its batches.meta), given where image files are
    expected: neither decision_function nor `wildgan score --data` reads one batch by itself (a batch is read with the
    five others of its folder), so their way is the folder where it holds all six; else the batch's own arrays, by
    the restricted unpickler (a batches.meta holds no images)."""
    from ..data.dataset_files import CIFAR_BATCH_FILES

    folder = p.parent
    missing = [n for n in CIFAR_BATCH_FILES if not (folder / n).is_file()]
    if not missing:
        return (f"a CIFAR-10 batch is read with the five others of its folder: Detector.from_run(RUN)."
                f"decision_function({str(folder)!r}) reads all of them whole (every image, labels ignored), and "
                f"`wildgan score RUN --data {shell_word(folder)}` reads them as a data set under the run's protocol")
    if p.name not in CIFAR_BATCH_FILES:
        return (f"it holds the class names of CIFAR-10 batches, no images (and {folder} has no complete set of "
                f"batches: {', '.join(missing)} missing)")
    return (f"a CIFAR-10 batch is read with the five others of its folder, and {folder} lacks "
            f"{', '.join(missing)}; to score this batch's images alone, read them with `from wildgan.data."
            f"dataset_files import restricted_unpickle; x = restricted_unpickle({str(p)!r})[b'data'].reshape(-1, "
            f"3, 32, 32).transpose(0, 2, 3, 1)` and score them with Detector.from_run(RUN).decision_function(x)")


def _score_archive(model: LoadedModel, archive: Path, **kw: Any) -> FileScores | None:
    """score_files of the image files in a tar or zip `archive`: unpacked once into the cache (readers.image_tar_tree)
    and read as a folder, in chunks, with the ids (relative to the archive's top, as the Detector's reads of a tar name
    them) and the messages (ARCHIVE:member) naming the files inside it, not their place in the cache; warnings
    renamed as they are said (a skipped file in a long scoring is said as it is met)."""
    root = readers.image_tar_tree(archive)
    with named_in_archive(root, archive, as_met=True):
        got = score_files(model, [root], **kw)
    if got is not None:
        got.ids = readers.ids_relative_to(got.ids, root)
        got.skipped = [named_as_in_archive(r, root, archive) for r in got.skipped]
        got.repeated = [named_as_in_archive(r, root, archive) for r in got.repeated]
    return got


def score_read_files(model: LoadedModel, x_u8: np.ndarray, kept: Sequence[int], n_files: int, *,
                     score_cfg: ScoreConfig | None = None, batch_mode: str = "mixed", return_recon: bool = False,
                     progress: bool = False, with_A: bool = True) -> ScoreResult:
    """Images already decoded from a list of `n_files` files (data.readers.load_image_files), of which `kept`
    (ascending file indices, one per row of x_u8) were readable, scored as score_files scores those files: wildgan's
    score batches drawn over all n_files, an unreadable file leaving its batch (_local_batches), and search's initial
    latents drawn per file. Scored as if the readable files were all there was, the images shared their batches (E's
    minibatch stddev couples a batch) with other images than under score_files, and scored differently (the report's
    --image beside `score --skip-bad` of the same folder). With every file readable this is LoadedModel.score."""
    sc = score_cfg or model.cfg.score
    kept = [int(i) for i in kept]
    if len(kept) != len(x_u8) or any(not 0 <= i < n_files for i in kept) or kept != sorted(set(kept)):
        raise ValueError(f"kept must be {len(x_u8)} ascending distinct file indices below {n_files}")
    batches, z0 = None, None
    if model.cfg.method == "wildgan":
        batches = _local_batches(batch_order(n_files, sc.batch_size, sc.shuffle_seed),
                                 {f: r for r, f in enumerate(kept)})
    elif model.cfg.method == "search" and len(kept):
        z0 = _initial_latents_by_chunk(model, [list(range(n_files))])(0, kept)
    return model.score(x_u8, score_cfg=sc, batch_mode=batch_mode, return_recon=return_recon, progress=progress,
                       batches=batches, z0=z0, with_A=with_A)


def _make_chunks(order: list[np.ndarray] | None, n_files: int, step: int, parts: int | None
                 ) -> tuple[list[list[np.ndarray]] | None, list[list[int]]]:
    """A scoring's chunks: each chunk's score batches (None when images are scored on their own: `order` None) and
    each chunk's file indices, ascending (decoded in file order). `parts` None: runs of at most `step` images, whole
    score batches (one process's chunking); else `parts` runs of as equal a number of batches (or files) as can be
    (several processes': _balanced_parts)."""
    if order is not None:
        groups = (_chunk_batches(order, step) if parts is None else
                  [order[a:b] for a, b in _even_bounds(len(order), parts)])
        return groups, [sorted(set(np.concatenate(g).tolist())) for g in groups]
    if parts is None:                      # no batch coupling: consecutive files
        return None, [list(range(i, min(i + step, n_files))) for i in range(0, n_files, step)]
    return None, [list(range(a, b)) for a, b in _even_bounds(n_files, parts)]


def _balanced_parts(order: list[np.ndarray] | None, n_files: int, step: int, world: int) -> int | None:
    """How many equal chunks `world` processes split the files into (None: one process's chunking, _make_chunks).
    Chunks are dealt out round-robin, so one process's chunking would leave processes idle: one chunk (a pile under
    RESUME_CHUNK_BYTES / SCORE_CHUNK_BYTES of pixels, e.g. 21,824 images at 32x32x3) went all to rank 0, and a short
    last chunk made the ranks finish apart. A multiple of `world` at least as many as one process's chunks, of equal
    size: every rank gets the same share and no chunk is larger than one process's (the memory bound holds).
    Never more chunks than score batches (wildgan: a batch is scored together) or files."""
    if world <= 1:
        return None
    units = len(order) if order is not None else n_files
    n = len(_make_chunks(order, n_files, step, None)[1])
    parts = min(units, -(-n // world) * world)
    return parts if parts > 1 else None


def _chunk_batches(batches: list[np.ndarray], per_chunk: int) -> list[list[np.ndarray]]:
    """Consecutive score batches grouped into chunks of at most per_chunk images (at least one batch each)."""
    out: list[list[np.ndarray]] = [[]]
    n = 0
    for b in batches:
        if out[-1] and n + len(b) > per_chunk:
            out.append([])
            n = 0
        out[-1].append(b)
        n += len(b)
    return out


def _even_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` consecutive ranges covering 0..n-1 whose lengths differ by at most one (parts <= n: none empty)."""
    return [(k * n // parts, (k + 1) * n // parts) for k in range(parts)]


def _resume_finished(resume_dir: Path, model: LoadedModel, files: list[Path], chunks: list[list[int]], mine: list[int],
                     key: tuple[ScoreConfig, str, dict[str, Any], bool], ctx: Any, *, skip_bad: bool, warn: bool,
                     warned: set[int], kinds: dict[int, int], progress: bool, world: int
                     ) -> tuple[list[ChunkScores], list[Skipped], list[int], Any]:
    """score_files' resume step: `resume_dir` made the resume folder of this scoring (_prepare_resume_dir), and the
    finished chunks among `mine` taken from it (_read_resumed, which names their skipped files and fills `kinds`).
    Returns their scores, their skipped files, the chunks of `mine` still to score, and the saver of those
    (_chunk_saver; None when the folder cannot be written: the scoring goes on without saving)."""
    d = Path(resume_dir)
    # the files' digests before any is read: a file changed while (or after) its chunk is scored then no longer
    # matches what its saved scores record, and the chunk is scored again on a resume
    digests = {c: _files_digest(files, chunks[c]) for c in mine}
    resumed: list[ChunkScores] = []
    bad: list[Skipped] = []
    save = None
    if _prepare_resume_dir(d, lambda: _resume_key(model, files, chunks, *key), ctx):
        resumed, bad = _read_resumed(d, mine, digests, skip_bad=skip_bad, warn=warn, warned=warned, kinds=kinds)
        mine = [c for c in mine if c not in {q[0] for q in resumed}]
        save = _chunk_saver(d, digests)
    if resumed and progress:
        # (line and newline in one write, as the CLI's: under torchrun the ranks share the terminal)
        # (and eprint drops it where there is no stderr: pythonw)
        eprint(f"resuming: {len(resumed)} chunk{'s' if len(resumed) != 1 else ''} already scored (of "
               f"{len(resumed) + len(mine)}{' for this process' if world > 1 else ''}), read from {resume_dir}")
    return resumed, bad, mine, save


def _score_chunks(model: LoadedModel, files: list[Path], which: list[int], chunks: list[list[int]],
                  groups: list[list[np.ndarray]] | None, *, skip_bad: bool, progress: bool, warn: bool,
                  score_cfg: ScoreConfig, batch_mode: str, conversion: dict[str, Any], save: Any = None,
                  warned: set[int] | None = None, with_A: bool = True, kinds: dict[int, int] | None = None,
                  hashes: list[tuple[np.ndarray, np.ndarray]] | None = None
                  ) -> tuple[list[ChunkScores], list[Skipped]]:
    """score_files' work on the chunks numbered `which` (ascending): [(chunk number, kept file indices, their
    scores)] and [(file index, why it was skipped)]; with `warn`, each skipped file is named in a warning as it is
    met. `groups`: each chunk's score batches (file indices), or None when images are scored independently.
    `save(chunk, kept, scores, why, channels)`, when given, is called as each chunk is finished (resume). `warned`:
    files already named in a 'skipped' warning (resumed chunks'), added to as files are named. `kinds`: each readable
    file's decoded channel count, put there by file index (iter_images; the caller warns about them, once). `hashes`:
    gets (kept file indices, their image_hashes) of each chunk, from the pixels scored (score_files(hashes=True))."""
    from ..progress import progress_bar

    net = model.cfg.net
    parts, bad = [], []
    seen: set[int] = set()
    warned = set() if warned is None else warned
    kinds = {} if kinds is None else kinds
    one = len(chunks) == 1
    z0_of = _initial_latents_by_chunk(model, chunks) if model.cfg.method == "search" else None
    # one chunk: the decoding and scoring bars of any image set; several: one bar over this process's files instead
    bar = progress_bar(total=len({i for c in which for i in chunks[c]}), desc="score", unit="img",
                       disable=not progress or one)
    data = None
    try:
        # readers.iter_images looked up at call time (a test replaces it)
        data = readers.iter_images(files, net.resolution, net.channels, chunks=[chunks[c] for c in which],
                                   skip_bad=skip_bad, progress=progress and one, empty_ok=True, kinds=kinds,
                                   **conversion)
        # not enumerate/zip: they keep the last item (the previous chunk's pixels) alive while the next is read
        for c in which:
            x, kept, why = next(data)
            _warn_skipped(why, warned, warn=warn, seen=seen)
            bad += why
            z0 = None if z0_of is None else z0_of(c, kept)
            kept_a = np.asarray(kept, dtype=np.int64)
            got: dict[str, np.ndarray] = {}
            if kept:
                batches = None if groups is None else _local_batches(groups[c], {f: r for r, f in enumerate(kept)})
                res = model.score(x, score_cfg=score_cfg, batch_mode=batch_mode, progress=progress and one,
                                  batches=batches, z0=z0, with_A=with_A)
                got = res.scores
                parts.append((c, kept_a, got))
                if hashes is not None:
                    hashes.append((kept_a, image_hashes(x)))
            if save is not None:
                save(c, kept_a, got, why, np.array([kinds[i] for i in kept], dtype=np.int8))
            bar.update(len(set(chunks[c]) - seen))
            seen.update(chunks[c])
            del x                                    # not held while the next chunk is decoded
    finally:
        bar.close()
        if data is not None:
            data.close()    # its decoding processes end now, also when scoring failed (a notebook keeps the error)
    return parts, bad


def _local_batches(batches: list[np.ndarray], row_of: dict[int, int]) -> list[np.ndarray]:
    """Batches of file indices -> batches of rows of the chunk's image array. Files left out (unreadable, skip_bad)
    leave their batch; one that is then no multiple of the minibatch-stddev group (4) is topped up with repeats of
    its own first images, as the wrap-around batch of batch_order is (repeats keep their first score)."""
    out = []
    for b in batches:
        rows = np.array([row_of[i] for i in b.tolist() if i in row_of], dtype=np.int64)
        if len(rows) == 0:
            continue
        if len(rows) != len(b) and len(rows) % 4:
            rows = np.concatenate([rows, np.resize(rows, 4 - len(rows) % 4)])
        out.append(rows)
    return out


def _initial_latents_by_chunk(model: LoadedModel, chunks: list[list[int]]) -> Callable[[int, list[int]], Any]:
    """Latent search: z0(chunk, kept) gives the initial latents of the chunk's kept files. They are drawn per file
    in file order (chunks are consecutive files) from one generator, as for the whole set at once, so the scores do
    not depend on the chunking; chunks not scored here (other processes') are drawn and dropped."""
    from .latent_search import initial_latents

    gen = torch.Generator().manual_seed(model.cfg.search.seed)
    drawn = 0                    # chunks whose latents have been drawn
    z_chunk = None

    def z0(c: int, kept: list[int]) -> Any:
        nonlocal drawn, z_chunk
        while drawn <= c:
            z_chunk = initial_latents(len(chunks[drawn]), model.cfg.net.latent_size, 0, generator=gen)
            drawn += 1
        return z_chunk[np.asarray(kept, dtype=np.int64) - chunks[c][0]]

    return z0


def _warn_skipped(why: list[Skipped], warned: set[int], *, warn: bool, seen: set[int] | None = None) -> None:
    """With `warn`, each skipped file in `why` named in a warning, once: not when already in `warned` (a wrap-around
    repeat, a resumed chunk's file) or read in an earlier chunk (`seen`). `warned` gains them all."""
    for i, reason in why:
        if warn and i not in warned and (seen is None or i not in seen):
            warn_user(f"skipped {reason}")
        warned.add(i)


def _own_error(err: Exception, message: str, unreadable: list[str] | None = None) -> Exception:
    """A failed rank's own error `err`, to raise with `message` (every failed rank's): of err's class, with its
    attributes, as one process raises it. err itself, with its own message, where it cannot be rebuilt so: a class
    that is neither wildgan's nor a built-in one (a library's or the user's may take its message from attributes set
    by whoever raised it, or count its constructions), one not made from a message alone (an OSError with an errno, a
    UnicodeDecodeError), or one whose copy does not read as `message`. A DataError's `unreadable` (the reasons of its
    unreadable files, decode_pool.unreadable_files_error) named this rank's files only: the copy takes `unreadable`,
    every failed rank's, where the caller has them all, else none."""
    cls = type(err)
    if cls.__module__ != "builtins" and cls.__module__.split(".")[0] != "wildgan":
        return err
    if len(err.args) > 1 or not all(isinstance(a, str) for a in err.args):
        return err
    try:
        own = cls(message)
        own.__dict__.update({k: v for k, v in err.__dict__.items() if k != "unreadable"})
        if unreadable is not None:
            own.unreadable = list(unreadable)     # type: ignore[attr-defined]
        # (compared once the attributes are copied: a __str__ that reads one of them says the copy's message then)
        if str(own) != message:
            return err
    except Exception:        # noqa: BLE001 -- a constructor or __str__ that wants more than a message: err as it is
        return err
    return own


def _every_unreadable(failures: list[tuple[Any, ...]]) -> list[str] | None:
    """Every failed rank's unreadable files (the third item of its failure: its DataError's `unreadable`), in rank
    order; None unless every failed rank sent them (then its error was its unreadable files alone): a list short of
    one rank's failure would let a caller that says the files again (scoring.train_scores) drop that failure."""
    lists = [f[2] if len(f) > 2 else None for f in failures]
    if not all(isinstance(one, list) for one in lists):
        return None
    return [r for one in lists for r in one]


def _gather_ranks(ctx: Any, scored: list[ChunkScores], bad: list[Skipped], failure: tuple[Any, ...] | None,
                  n_resumed: int, kinds: dict[int, int], err: Exception | None
                  ) -> tuple[list[ChunkScores], list[Skipped], int, dict[int, int]] | None:
    """Several processes: every process's scored chunks, skipped files, resumed count and channel counts, on rank 0
    (None on the other ranks). A failure on any rank (`failure`: its message, its class's errors.error_kind and a
    DataError's unreadable files) is raised on every rank, so that none waits for the others forever, with every
    failed rank's message (and unreadable files: _every_unreadable): on a rank that failed, as its own error (`err`,
    _own_error); on the others, as the failed ranks' class when they all had the same carried one
    (errors.rebuilt_error), else as a WildganError."""
    import torch.distributed as tdist

    gathered: list[Any] = [None] * ctx.world
    tdist.all_gather_object(gathered, (scored, bad, failure, n_resumed, kinds), group=ctx.ctrl_group)
    failures = [g[2] for g in gathered if g[2]]
    if failures:
        message = "; ".join(f[0] for f in failures)
        unreadable = _every_unreadable(failures)
        if err is not None:
            # (not the class rebuilt from its carried name: a NewerFormatError came out as a CheckpointError, an
            # OSError as a WildganError, exit 2 where one process exits 1)
            own = _own_error(err, message, unreadable)
            if own is err:
                raise err
            raise own from err
        rebuilt = rebuilt_error((f[1] for f in failures), message)
        if unreadable is not None and isinstance(rebuilt, DataError):
            rebuilt.unreadable = unreadable     # type: ignore[attr-defined]
        raise rebuilt
    if ctx.rank != 0:
        return None
    return ([q for g in gathered for q in g[0]], [q for g in gathered for q in g[1]], sum(g[3] for g in gathered),
            {i: c for g in gathered for i, c in g[4].items()})


def _merge_chunks(scored: list[ChunkScores], n_files: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every file's scores (NaN for a file without) by score name, and which files have them. Merged in chunk order:
    a wrap-around repeat (the last batch topped up from the first) keeps its first score."""
    scores: dict[str, np.ndarray] = {}
    done = np.zeros(n_files, dtype=bool)
    for _, kept, got in sorted(scored, key=lambda q: q[0]):
        new = ~done[kept]
        for k, v in got.items():
            scores.setdefault(k, np.full(n_files, np.nan))[kept[new]] = v[new]
        done[kept] = True
    return scores, done


# ---------------------------------------------------------------------------------------------------------------
# Resume folders: the finished chunks of a scoring, saved as they are finished
# ---------------------------------------------------------------------------------------------------------------

# what a resume folder's chunks are scores of: any change (files, their sizes or times, the weights, the settings,
# the chunking, the reader, the image decoders, the scoring rules) makes them another scoring's, and they are not
# reused
RESUME_FORMAT = 1

# the manifest's record of the chunking (which files each chunk holds), the rest being what is scored and how
_CHUNKING = ("n_chunks", "chunks_sha256")

_RESUME_FILES = re.compile(r"^(manifest\.json|chunk-\d{5}\.npz|\..*\.tmp)$")


def is_resume_dir(d: Path) -> bool:
    """A folder that holds nothing but a resume folder's files (manifest.json, chunk-NNNNN.npz, temporary files of
    their atomic writes): wildgan's own, safe to delete, even when a kill left it without its manifest."""
    return d.is_dir() and all(_RESUME_FILES.match(f.name) and f.is_file() for f in d.iterdir())


def remove_resume_dir(d: Path) -> None:
    """Delete a resume folder: its chunks first and the manifest last, so that a delete cut short leaves a folder
    is_resume_dir still recognises."""
    files = sorted(d.iterdir(), key=lambda f: f.name == "manifest.json")
    for f in files:
        f.unlink(missing_ok=True)
    d.rmdir()


@dataclass
class ResumeRecord:
    """What a scoring with a resume folder is scoring, filled in by score_files (`resume_record`) once it has chosen
    its chunking, for a caller that says on a stop what the same call would resume (resumable_chunks). Empty (no
    resume_dir) before that, and for a scoring that keeps no chunks (no resume_dir, or a single chunk)."""

    resume_dir: Path | None = None
    n_chunks: int = 0
    skip_bad: bool = False
    make_key: Callable[[], dict[str, Any]] | None = None      # the manifest this scoring writes (_resume_key)
    files_digest: Callable[[int], str] | None = None          # chunk -> its files' digest now (_files_digest)


def resumable_chunks(record: ResumeRecord) -> tuple[int, int]:
    """The finished chunks in record.resume_dir that the same scoring, called again, takes instead of scoring them
    again, and its number of chunks. By that call's own rules: the folder's manifest is this scoring's
    (_reset_resume_dir deletes the chunks of any other, e.g. an older scoring into the same --out with another
    model or options, left there by a stop before this one had prepared the folder), and each chunk's files are
    unchanged since it was saved, none left out unless skip_bad (_read_resumed). Counting the chunk files promised a
    resume of chunks that the same command then deleted or scored again. (0, 0) for an empty record."""
    d = record.resume_dir
    if d is None or record.make_key is None or record.files_digest is None or not is_resume_dir(d):
        return 0, record.n_chunks
    try:
        old = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0, record.n_chunks
    key = json.loads(json.dumps(record.make_key()))
    if old != key and _older_manifest_as_now(old, key) != key:
        return 0, record.n_chunks
    saved = [c for c in range(record.n_chunks) if (d / f"chunk-{c:05d}.npz").is_file()]
    digests = {c: record.files_digest(c) for c in saved}
    taken, _ = _read_resumed(d, saved, digests, skip_bad=record.skip_bad, warn=False, warned=set())
    return len(taken), record.n_chunks


def _resume_key(model: LoadedModel, files: list[Path], chunks: list[list[int]], sc: ScoreConfig, batch_mode: str,
                conversion: dict[str, Any], with_A: bool = True) -> dict[str, Any]:
    """The manifest: what a resume folder's chunks are scores of (RESUME_FORMAT)."""
    paths = hashlib.sha256("\n".join(map(str, files)).encode("utf-8", "surrogateescape")).hexdigest()
    # (scores_version above version 1 only, which a manifest without it is read as: fileio.leave_out_defaults)
    return fileio.leave_out_defaults({
            "format": RESUME_FORMAT, "wildgan": __version__, "scores_version": SCORES_VERSION,
            "n_files": len(files), "paths_sha256": paths,
            "model_sha256": _model_digest(model), "lod": model.lod, "method": model.cfg.method,
            "device": model.device.type, "score": dataclasses.asdict(sc),
            "search": dataclasses.asdict(model.cfg.search) if model.cfg.method == "search" else None,
            "batch_mode": batch_mode, "conversion": conversion, "reader_version": READER_VERSION,
            # another Pillow or libjpeg can decode the same files a level apart: its chunks are scores of other pixels
            "decoders": decoder_versions(), **_chunking_record(chunks),
            # only when left out: a folder written before the option existed (every score) stays resumable
            **({} if with_A else {"with_A": False}),
            # only where it applies: a run trained on 16-bit images reads 8-bit files on the 16-bit scale since
            # (data.transforms.PER_IMAGE_8BIT), so the chunks of an older wildgan are of other pixels; any other
            # run's folder stays resumable
            **({"read_8bit": "value * 257, per-image"}
               if scoring_depth16(str(conversion.get("depth16", "per-image")), conversion.get("trained_depth"))
               == PER_IMAGE_8BIT else {})}, SCORES_VERSION_ABSENT)


def _older_manifest_as_now(old: Any, key: dict[str, Any]) -> Any:
    """A manifest `old` read against this scoring's `key`: one written before the decoders were recorded is taken as
    decoded by this wildgan's (key's), since deleting its chunks would lose the finished work of every folder an
    earlier wildgan left, whose decoders are most likely these (_reset_resume_dir says so, once). One written before
    the scoring rules' version was recorded was scored by the rules of its time, UNRECORDED_SCORES_VERSION (this
    wildgan's until SCORES_VERSION is bumped: its chunks are kept; after a bump they are another scoring's), which
    _resume_key leaves out, as one that spells it out."""
    if isinstance(old, dict):
        return {**({} if "decoders" in old else {"decoders": key["decoders"]}),
                **fileio.leave_out_defaults(old, SCORES_VERSION_ABSENT)}
    return old


def _chunking_record(chunks: list[list[int]]) -> dict[str, Any]:
    return {"n_chunks": len(chunks), "chunks_sha256": hashlib.sha256(json.dumps(chunks).encode()).hexdigest()}


def _files_digest(files: list[Path], which: list[int]) -> str:
    """The digest of files' paths, sizes and modification times: a chunk's files changed since its scores were saved
    (one fixed in place, say) make it scored again; the other chunks are still taken."""
    h = hashlib.sha256()
    for i in which:
        try:
            st = files[i].stat()           # ctime too: a permission fix changes only that
            h.update(f"{files[i]}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ctime_ns}\n".encode("utf-8",
                                                                                          "surrogateescape"))
        except OSError:                    # gone or unreadable now: reading it says so
            h.update(f"{files[i]}\t?\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _model_digest(model: LoadedModel) -> str:
    """The weights' digest: the checkpoint JSON's (which holds the sha256 of its .safetensors, so it changes with the
    weights), or (untrained networks) that of every tensor of every network."""
    # (untrained networks have no file: their source names no path, even if a file of that name is in the cwd)
    if model.source != UNTRAINED and Path(model.source).is_file():
        return fileio.file_digest(Path(model.source))
    h = hashlib.sha256()
    for name, net in sorted(vars(model.nets).items()):
        if isinstance(net, torch.nn.Module):
            for k, t in net.state_dict().items():
                h.update(f"{name}.{k}".encode())
                h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _same_files_on_every_rank(ctx: Any, paths: Sequence[str | Path], repeats: list[str], origins: list[int]
                              ) -> list[Path]:
    """Under torchrun, list_image_files(paths, repeats, origins) on every process, which raise the same DataError
    when they listed different image files: each lists them on its own, and a chunk's scores are sent to rank 0 by
    file index, which rank 0 names from its own list. A folder still being filled while the processes list it, or a
    node's own copy of the data that differs, had scores written under other files' names in the CSV and images
    dropped or scored twice, without a word. Files are compared by their place under the path given that listed them
    (`origins`), so that nodes holding the same tree under other mount points agree. A listing that failed on some
    processes (a node without the folder, or with none of its images) is raised on every one, as a failure while
    scoring is (_gather_ranks): its own error on a process that met it, the failed ranks' on the others, which
    otherwise waited for it in this agreement and met only the closed connection of a rank gone."""
    import torch.distributed as tdist

    try:
        files = list_image_files(paths, repeats, origins)
    except Exception as e:                 # noqa: BLE001 -- on one rank of several: said to all of them below
        files, failed = [], e
        mine: tuple[Any, ...] = (None, f"rank {ctx.rank}: {e}", error_kind(e))     # (None: no count)
    else:
        failed = None
        # (whether each path given is a folder, asked once per path: a stat per file of a large pile was not free)
        folders = [Path(p) if Path(p).is_dir() else None for p in paths]
        names = [f.name if folders[j] is None else f.relative_to(folders[j]).as_posix() if
                 f.is_relative_to(folders[j]) else str(f) for f, j in zip(files, origins)]
        keys = [f"{j}/{name}" for j, name in zip(origins, names)]
        mine = (len(keys), hashlib.sha256("\n".join(keys).encode("utf-8", "surrogateescape")).hexdigest())
    said: list[Any] = [None] * ctx.world
    tdist.all_gather_object(said, mine, group=ctx.ctrl_group)
    failures = [m for m in said if m[0] is None]
    if failures:
        if failed is not None:
            raise failed
        raise rebuilt_error((f[2] for f in failures), "; ".join(f[1] for f in failures))
    if len(set(said)) == 1:
        return files
    # (the lists themselves only now, on every process alike: a large pile's names are not sent when they agree)
    lists: list[Any] = [None] * ctx.world
    tdist.all_gather_object(lists, names, group=ctx.ctrl_group)
    apart = []
    for rank, theirs in enumerate(lists[1:], 1):
        if theirs == lists[0]:
            continue
        at = next((i for i, (a, b) in enumerate(zip(lists[0], theirs)) if a != b), min(len(lists[0]), len(theirs)))
        first = (f"file {at + 1} is {lists[0][at]!r} on rank 0" if at < len(lists[0]) else
                 f"rank 0 has no file {at + 1}")
        first += f", {theirs[at]!r} on rank {rank}" if at < len(theirs) else f", rank {rank} none"
        apart.append(f"rank {rank}: {len(theirs)} files (rank 0: {len(lists[0])}); {first}")
    # (the paths given named up to a few: a shell's glob gives thousands, each file its own path)
    given = ", ".join(str(p) for p in paths[:3]) + (f" and {len(paths) - 3} more paths" if len(paths) > 3 else "")
    raise DataError(f"the processes found different image files in {given} "
                    f"({'; '.join(apart)}): every process must see the same files (not a folder still being written "
                    f"to, nor a node's own copy that differs), or their scores are written under other files' names")


def _first_process_says(ctx: Any, value: Any) -> Any:
    """Under torchrun (`ctx`), the first process's `value`, on every process; else `value`. Not a barrier: an
    all-gather, so that every process learns it (also a failure of the first one) and none waits forever."""
    if ctx is None:
        return value
    import torch.distributed as tdist

    said: list[Any] = [None] * ctx.world
    tdist.all_gather_object(said, value, group=ctx.ctrl_group)
    return said[0]


def _resumable_parts(model: LoadedModel, files: list[Path], order: list[np.ndarray] | None, step: int,
                     parts: int | None, d: Path, ctx: Any, *, explicit: bool,
                     key: tuple[ScoreConfig, str, dict[str, Any], bool]) -> int | None:
    """The chunking (`parts`, as _make_chunks takes it) for a scoring with resume folder `d`: this scoring's own
    (`parts`), unless `d` holds finished chunks of the same scoring (everything its manifest records but the chunking
    equal) cut in another chunking that this scoring can use: one process's chunking of `step` (a folder written by
    one process, resumed by several), or, with the default chunk size (not `explicit`: an explicit --chunk-size is a
    chunking asked for), the equal split into the number of chunks the folder records (written by several processes,
    resumed by another number of them), provided its chunks are no larger than one process's (memory). Then the
    finished chunks are taken rather than discarded, at the price of a less even share of the rest. Decided by the
    first process (it alone reads the folder, as _prepare_resume_dir) and told to the others."""
    choice = parts
    if ctx is None or ctx.is_main:
        try:
            choice = _saved_chunking(model, files, order, step, parts, d, explicit, key)
        except Exception:                  # noqa: BLE001 -- e.g. unreadable: _prepare_resume_dir says what is wrong
            choice = parts
    return _first_process_says(ctx, choice)


def _saved_chunking(model: LoadedModel, files: list[Path], order: list[np.ndarray] | None, step: int,
                    parts: int | None, d: Path, explicit: bool, key: tuple[ScoreConfig, str, dict[str, Any], bool]
                    ) -> int | None:
    """_resumable_parts' choice, on the first process."""
    if not d.is_dir() or not any(d.glob("chunk-*.npz")):
        return parts                       # nothing finished to reuse: the chunking that shares the work best
    old = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    if not isinstance(old, dict):
        return parts
    own = _make_chunks(order, len(files), step, parts)[1]
    now = json.loads(json.dumps(_resume_key(model, files, own, *key)))
    old = _older_manifest_as_now(old, now)
    if {k: v for k, v in now.items() if k not in _CHUNKING} != {k: v for k, v in old.items() if k not in _CHUNKING}:
        return parts                       # another scoring's chunks: deleted by _prepare_resume_dir
    limit = max(len(c) for c in _make_chunks(order, len(files), step, None)[1])
    units = len(order) if order is not None else len(files)
    recorded = old.get("n_chunks")
    candidates: list[int | None] = [parts, None]
    if not explicit and isinstance(recorded, int) and 1 < recorded <= units:
        candidates.append(recorded)
    for c in candidates:
        chunks = _make_chunks(order, len(files), step, c)[1]
        if _chunking_record(chunks) == {k: old.get(k) for k in _CHUNKING} and max(map(len, chunks)) <= limit:
            return c
    return parts



def _prepare_resume_dir(d: Path, make_key: Callable[[], dict[str, Any]], ctx: Any) -> bool:
    """The first process makes `d` a resume folder for make_key(): chunks saved for anything else are deleted, with
    a warning that names what differs (a folder that is not a resume folder is refused, never emptied); the others
    wait for it, and raise its error too. False (with a warning) when the folder cannot be written: the scoring goes
    on without saving its chunks."""
    problem: Exception | None = None
    usable = True
    if ctx is None or ctx.is_main:
        try:
            _reset_resume_dir(d, make_key)
        except OSError as e:
            usable = False
            warn_user(f"cannot keep the finished chunks' scores in {d} ({e.strerror or e}): the scoring goes on, "
                      f"but an interrupted one would start over")
        except Exception as e:                 # noqa: BLE001 -- said to every process below, then raised
            problem = e
    said = _first_process_says(ctx, (None if problem is None else str(problem), usable))
    if said[0] is not None:
        raise problem if problem is not None else ConfigError(said[0])
    return bool(said[1])


def _reset_resume_dir(d: Path, make_key: Callable[[], dict[str, Any]]) -> None:
    """_prepare_resume_dir's work, on the first process: refuse a `d` that is not a resume folder; unless its
    manifest is make_key(), delete its chunks (saying what differs) and write the manifest."""
    manifest = d / "manifest.json"
    if d.exists() and not d.is_dir():
        raise ConfigError(f"{d} is a file; it is where the scores of finished chunks are kept (resume)")
    if d.is_dir() and not is_resume_dir(d):
        raise ConfigError(f"{d} holds files that are not wildgan's partial scores: move them, it is where "
                          f"the scores of finished chunks are kept (resume)")
    key = json.loads(json.dumps(make_key()))
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if old == key:
        return
    raw, old = old, _older_manifest_as_now(old, key)
    stale = sorted(d.glob("chunk-*.npz")) if d.is_dir() else []
    n = f"{len(stale)} finished chunk{'s' if len(stale) != 1 else ''} saved there {'are' if len(stale) != 1 else 'is'}"
    if old == key:
        # a folder of a wildgan that did not record its decoders, the same in all else: its chunks are kept, but not
        # mixed in silence; the manifest written below records these decoders, so this is said once
        if stale and not (isinstance(raw, dict) and "decoders" in raw):
            warn_user(f"{d}: the {n} kept, taken as decoded by this wildgan's image decoders, "
                      f"{decoders_text(key['decoders'])}: "
                      f"they were saved by a wildgan that did not record its decoders. If Pillow or its libjpeg, "
                      f"libwebp or OpenJPEG changed since, delete {d} "
                      f"({option_words('`wildgan score --no-resume`', 'or score without resume_dir')}) so that every "
                      f"image is scored from the same decoding")
        stale = []
    elif stale:
        what = [k for k in key if not isinstance(old, dict) or old.get(k) != key[k]]
        what += [k for k in (old if isinstance(old, dict) else ()) if k not in key]   # e.g. with_A
        # the reader or the decoders, by name and version: 'reader_version, decoders' would not say what changed
        decoding = decoding_change(old) if isinstance(old, dict) else None
        if decoding:
            what = [k for k in what if k not in ("reader_version", "decoders")]
        if "scores_version" in what:            # by its versions, as the decoders: the field name would not say which
            what[what.index("scores_version")] = (
                f"the scoring rules version {old.get('scores_version', UNRECORDED_SCORES_VERSION)} -> "
                f"{key.get('scores_version', UNRECORDED_SCORES_VERSION)}")
        # the decoding apart from the fields, by a semicolon: its decoders' versions are a list with commas of their own
        said = "; ".join(([f"{decoding}, which alone can change pixels by a level or so"] if decoding else []) +
                         ([", ".join(what)] if what else []))
        warn_user(f"{d}: the {n} of another scoring (it differs in {said or 'its record'}): deleted, "
                  f"every chunk is scored again")
    for f in stale:
        f.unlink()
    d.mkdir(parents=True, exist_ok=True)
    fileio.atomic_write_text(manifest, json.dumps(key, indent=1) + "\n")


def _read_resumed(d: Path, which: list[int], digests: dict[int, str], *, skip_bad: bool, warn: bool,
                  warned: set[int], kinds: dict[int, int] | None = None) -> tuple[list[ChunkScores], list[Skipped]]:
    """The finished chunks among `which` saved in `d`, as _score_chunks returns them; a chunk whose files changed
    since (digests: _files_digest now), or whose file cannot be read, is scored again, and so is one that left out
    unreadable files when this scoring does not skip them (scored again, it stops with the error a scoring without
    --skip-bad gives). `kinds`: the decoded channel count of each kept file is put there (see iter_images), from a
    chunk that saved them (one saved before they were, by an older wildgan, adds nothing)."""
    parts, bad = [], []
    for c in which:
        f = d / f"chunk-{c:05d}.npz"
        if not f.is_file():
            continue
        try:
            with np.load(f, allow_pickle=False) as z:
                if str(z["files_sha256"]) != digests[c]:
                    continue
                why = list(zip(z["bad_index"].astype(np.int64).tolist(), z["bad_why"].tolist()))
                if why and not skip_bad:
                    continue
                kept = z["kept"].astype(np.int64)
                scores = {k[len("score:"):]: z[k].astype(np.float64) for k in z.files if k.startswith("score:")}
                channels = z["channels"].astype(np.int64) if "channels" in z.files else None
        # (BadZipFile: an .npz damaged after its zip header, which is neither OSError nor ValueError)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            continue
        parts.append((c, kept, scores))
        if kinds is not None and channels is not None and len(channels) == len(kept):
            kinds.update(zip(kept.tolist(), channels.tolist()))
        bad += why
        _warn_skipped(why, warned, warn=warn)
    return parts, bad


def _chunk_saver(d: Path, digests: dict[int, str]) -> Any:
    """save(chunk, kept, scores, why, channels): one finished chunk's scores, written atomically into `d`, with the
    digest of its files (_files_digest) taken before they were read, and each kept file's decoded channel count."""
    failed: list[str] = []

    def save(c: int, kept: np.ndarray, scores: dict[str, np.ndarray], why: list[tuple[int, str]],
             channels: np.ndarray) -> None:
        if failed:                  # said once; the scoring itself goes on (only a resume would need the files)
            return
        buf = io.BytesIO()
        np.savez(buf, kept=np.asarray(kept, dtype=np.int64), files_sha256=np.array(digests[c]),
                 bad_index=np.array([i for i, _ in why], dtype=np.int64),
                 bad_why=np.array([r for _, r in why], dtype=str), channels=np.asarray(channels, dtype=np.int8),
                 **{f"score:{k}": np.asarray(v, dtype=np.float64) for k, v in scores.items()})
        try:
            fileio.atomic_write_bytes(d / f"chunk-{c:05d}.npz", buf.getvalue())
        except OSError as e:
            failed.append(str(e))
            warn_user(f"cannot save chunk {c}'s scores in {d} ({e.strerror or e}): the scoring goes on, but an "
                      f"interruption from here on would have to score the unsaved chunks again")

    return save


# ---------------------------------------------------------------------------------------------------------------
# CSV output
# ---------------------------------------------------------------------------------------------------------------

def scores_csv_text(ids: list[str], result: ScoreResult | dict[str, np.ndarray],
                    labels: np.ndarray | None = None, extra: dict[str, np.ndarray] | None = None) -> str:
    """The CSV text: one row per image: id, label (when known), every score, then the `extra` columns."""
    scores = result.scores if isinstance(result, ScoreResult) else result
    names = list(scores)
    extra = extra or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")        # "\r\n" (csv's default) leaves a "\r" in cut/awk's last field
    w.writerow(["id"] + (["label"] if labels is not None else []) + names + list(extra))
    for i, id_ in enumerate(ids):
        row: list[Any] = [id_]
        if labels is not None:
            row.append(int(labels[i]))
        row += [f"{scores[k][i]:.9g}" for k in names]
        row += [extra[k][i] for k in extra]
        w.writerow(row)
    return buf.getvalue()


def write_scores_csv(path: Path, ids: list[str], result: ScoreResult | dict[str, np.ndarray],
                     labels: np.ndarray | None = None, extra: dict[str, np.ndarray] | None = None) -> None:
    """One row per image: id, label (when known), every score, to a file of the caller's. Written atomically. A path
    among a run's or a study's own files (RUN/config.json, RUN/test_scores.csv, STUDY/results.jsonl), or in a folder
    wildgan rewrites (RUN/report/), is refused (ConfigError), the file left as it was: evaluate writes the run's own
    test_scores.csv with write_run_scores_csv. So is an existing file of another kind than a scores CSV (an image:
    fileio.refuse_replacing_another_kind), which a CSV written earlier, under any name, is not."""
    from ..training.run import refuse_a_run_or_study_file

    refuse_a_run_or_study_file(path, "scores.csv", label="write_scores_csv's path")
    fileio.refuse_replacing_another_kind(path, (".csv",), "a scores CSV", "scores.csv",
                                         label="write_scores_csv's path", starts=b"id,")
    write_run_scores_csv(path, ids, result, labels, extra)


def write_run_scores_csv(path: Path, ids: list[str], result: ScoreResult | dict[str, np.ndarray],
                         labels: np.ndarray | None = None, extra: dict[str, np.ndarray] | None = None) -> None:
    """write_scores_csv for a run's own file (evaluate's RUN/test_scores.csv, RUN/eval-*/test_controls.csv), which
    that one refuses to replace."""
    fileio.atomic_write_text(Path(path), scores_csv_text(ids, result, labels, extra))
