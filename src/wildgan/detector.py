"""`Detector`: a scikit-learn / PyOD style estimator over wildgan's training and scoring.

    det = Detector(preset="tiny", total_kimg=0.5, resolution=16).fit(normal_images)
    det.decision_function(images)   # float64 [N], higher = more anomalous
    det.predict(images)             # int64 [N], 1 = anomaly (score > threshold_)
    det.heatmaps(images)            # HeatMaps: images, reconstructions, per-pixel residual maps [N, R, R], scores

Conventions (sklearn / PyOD): __init__ only stores parameters; fit() returns self and sets the fitted attributes
(trailing underscore); `contamination` is only used to place the threshold, never in training.

Inputs (fit / decision_function / predict / predict_proba / score_all / heatmaps): numpy arrays, torch tensors, PIL
images, file paths, folders and data-set files, read and converted like the CLI's training data by
wildgan.data.inputs (its docstring lists every kind and the pixel-value rules); fit also takes a
wildgan.config.DataConfig, trained on build_split(cfg).train_x (the CLI's data protocols).

Score protocol: the encoder ends with a minibatch-stddev layer, so a pGAN score depends slightly on the other images
in its batch. decision_function scores with `batch_mode` (default 'mixed': the paper's and `wildgan score`'s
protocol: shuffled batches of 64 in an order fixed by a seed, so the same images in the same order always get the same
scores, but an image's score may change a little when it is scored together with other images, or in another
order). batch_mode='isolated' scores each image on its own (group size 1): X[i:i+1] gets the score it gets inside X
(up to float noise, ~1e-7, from the batch size's summation order), which is what streaming / one-image-at-a-time use
needs (and what the ONNX export computes). Thresholds always come from training scores made with the same protocol.

What is where in this module:
  * module helpers: _torch_threads (a thread count for one call, the caller's torch state put back), the run_dir
    bookkeeping of fit (_TempRunDir, the DETECTOR.txt marker, _refuse_a_run_fit_did_not_write, _api_words:
    training's refusals in the API's words),
    HeatMaps (what heatmaps() returns), _run_width / _run_latent_size (a run's networks as Detector parameters);
  * Detector: sklearn plumbing (get_params, set_params, _validate), _run_config (parameters -> RunConfig), fit
    (_fit: images -> run directory -> networks -> training scores -> threshold), thresholds (set_threshold,
    _sync_scoring: a new score / lam / batch_mode re-derives decision_scores_ and threshold_ from the training
    scores), scoring (decision_function, predict, predict_proba, score_all, heatmaps), persistence (pickling,
    save, load, from_run);
  * after the class: the checks of load / from_run that name the right call for the wrong kind of file.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import shutil
import tempfile
import threading
import weakref
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .config import (DETECTOR_DIR_NAME, DETECTOR_KIND, FIT_NAMES, RUN_METHODS, SAMPLE_TOKEN, SCORE_NAMES,
                     is_sample_path, own_score)
from .data.inputs import (PIXEL_RANGES, KeptRead, check_image_arrays, check_image_paths, check_path_input,
                          convert_items, count_images, decode_items, guess_float_range, infer_geometry,
                          input_float_range, item_shapes, read_3d, read_nested_lists, refit, reusing_read, to_images,
                          to_numpy)
from .data.dataset_files import is_archive
from .data.readers import detect_format, is_dataset_file, trained_gray_share, trained_kind
from .data.imageset import FANOGAN_SIZES
from .data.transforms import MAX_AUTO_RESOLUTION  # largest automatic resolution, as the CLI's
from .errors import (API_SKIP_BAD, SIGPIPE, CheckpointError, ConfigError, DataError, DivergenceError,
                     TrainingInterrupted, WildganError, reworded, shell_word, stop_words, warn_user,
                     warnings_about)
from .fileio import ObjectLocks, version_state
from .runlog import RunLog, copying_warnings
from .thresholds import (DEFAULT_CONTAMINATION, DEFAULT_MAD_K, FIT_THRESHOLD_FILE, RULES, Threshold, as_float,
                         check_val_labels, fit_record_apart, fit_record_params, fit_record_score, fit_threshold,
                         load_fit_threshold, contamination_hint, rank_proba, run_threshold, threshold_columns,
                         write_fit_threshold)

METHODS = RUN_METHODS
# run_dir (absolute) -> the live Detector whose fit wrote it: a fit of another one into it is worth a word
_LIVE_RUN_DIRS: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()
BATCH_MODES = ("mixed", "isolated")
# The layout of what Detector.save writes beside the networks (parameters, threshold, scores, conversion), versioned
# apart from the checkpoint's format_version: a change to these fields then needs no checkpoint version bump, which
# would make every older wildgan refuse the pGAN checkpoints of new runs too
DETECTOR_FORMAT_VERSION = 1


class NotFittedError(WildganError, ValueError, AttributeError):
    """A Detector method that needs a fitted model was called before fit (like sklearn's NotFittedError)."""


# ------------------------------------------------------------------------------------------------------------------
# Training-set scores of a run (cached in RUN_DIR/train_scores.csv). This module also re-exports, for code that imports
# them from here, the input helpers of wildgan.data.inputs (to_images, ...), the thresholds of `wildgan score`
# (run_threshold, threshold_columns) and, through __getattr__ below, run_training_scores / score_training_split

def write_train_scores(run_dir: Path, model: Any, ids: Sequence[str], scores: dict[str, np.ndarray],
                       batch_mode: str) -> None:
    """scoring.train_scores.write_train_scores (imported when called: `import wildgan.detector` stays torch-free)."""
    from .scoring.train_scores import write_train_scores as write

    write(run_dir, model, ids, scores, batch_mode)


# ------------------------------------------------------------------------------------------------------------------
# The estimator

def _torch_threads(n: int | None) -> AbstractContextManager[None]:
    """A block at n torch intra-op threads (None: the caller's count) that puts the caller's count and torch's global
    RNG back on the way out (devices.caller_torch_state_kept; imported here, as `import wildgan` stays torch-free)."""
    from .devices import caller_torch_state_kept

    return caller_torch_state_kept(n)


DETECTOR_MARKER = "DETECTOR.txt"
_DETECTOR_NOTE = ("This run was trained by wildgan.Detector.fit: a later fit with this run_dir replaces it (a `wildgan "
                  "train` run is never replaced by a fit).\n")


# the ways out that training.run's refusals of a resume name, in this API's terms: fit has no overwrite (a fit without
# resume=True replaces the run) and takes no RunConfig. The keys are train_run's words to a Python caller
# (training.run.resume_words, start_again_words, another_out_words: errors.option_words outside the CLI), which is
# what Detector.fit always is
_CLI_TO_API = (
    ("resume=True with settings that differ from the saved run", "fit(resume=True) with parameters that differ from "
     "the interrupted fit's"),
    ("only the settings that may change may differ (e.g. train.total_kimg, train.minutes): ", "only total_kimg and "
     "minutes may change; "),
    # (f-AnoGAN's: it reads no total_kimg)
    ("only the settings that may change may differ (e.g. fanogan.minutes, fanogan.device): ", "only minutes and "
     "device may change; "),
    ("start a run there without resume=True, or give the run's folder", "fit without resume=True trains there "
     "afresh, or give the run_dir of the interrupted fit"),
    ("or start again with overwrite=True (or another run_dir)", "or fit without resume=True to train afresh"),
    ("or start again with overwrite=True", "or fit without resume=True to train afresh"),
    # (checkpoint.find_good_checkpoint's CheckpointError, when none of the run's checkpoints loads)
    ("or start the run again (overwrite=True deletes it)", "or fit without resume=True to train afresh"),
    ("a resume must train on the same images", "fit(resume=True) must be given the same images"),
)


def _unreadable_in_api_words(e: DataError, skip_option: str | None) -> DataError:
    """A read's error naming unreadable files (decode_pool.unreadable_files_error, whose `.unreadable` lists them),
    said again in this API's terms: fit's skip_bad=True, not the CLI's --skip-bad; and for the scoring methods, which
    have no skip_bad (their rows are aligned with X), what to do instead. Other errors are returned as they are."""
    bad = getattr(e, "unreadable", None)
    if not bad:
        return e
    from .data.decode_pool import unreadable_files_error

    note = "" if skip_option else ("; scoring gives every image of X a score, so it leaves no file out: move the "
                                   "unreadable files away, or pass a list of the readable ones")
    return unreadable_files_error(bad, skip_option, note)


def _api_words(msg: str, cli_advice: str | None = None) -> str:
    """A refusal or warning of training.run about a resume, said in terms of fit(resume=True). cli_advice: the
    refusal's way on (training.run.check_run_dir's `.cli_advice`, train_run(read_run_config(RUN), RUN, resume=True)),
    which has no meaning here and is replaced as given: a regex on the message missed a RUN path that the advice
    quotes for the shell (a space in it)."""
    for cli, api in _CLI_TO_API:
        msg = msg.replace(cli, api)
    if cli_advice:
        msg = msg.replace(cli_advice, "a Detector with the parameters of the interrupted fit continues it")
    return msg


def _image_archive(X: str | Path) -> bool:
    """Whether X is a tar or zip archive of image files (readers.detect_format's folder-tar), which
    decision_function scores in chunks as a folder: read whole (decode_items), a pile of thousands of images was held
    in memory at once, while `wildgan score` and score_files read the same archive a chunk at a time. A missing or
    unreadable archive, or a tar of arrays, is left to the whole read, which names the file and the problem."""
    p = Path(X)
    if not p.is_file() or not is_archive(p):
        return False
    try:
        return detect_format(p) == "folder-tar"
    except (WildganError, OSError):
        return False


def _recorded_data_path(X: str | Path) -> str:
    """The data path a fit on the file or folder X records in its run's config (and a saved Detector's): absolute, as
    the CLI records --data, and the embedded sample by name (config.SAMPLE_TOKEN), as the CLI's absolute_data_path
    does, not by its path inside this installation, which the next install of wildgan moves."""
    path = Path(X).resolve()
    return SAMPLE_TOKEN if is_sample_path(path) else str(path)


def _mark_fit_run(run_dir: Path) -> None:
    """The marker that lets a later fit replace this run. Called by train_run while the fit's own training still
    holds the run lock, however it ends (done, interrupted, failed): written after the lock is released, it could land
    on the run of a process that took the folder in between."""
    from .training.run import previous_run

    if previous_run(run_dir):
        (run_dir / DETECTOR_MARKER).write_text(_DETECTOR_NOTE, encoding="utf-8")


def _refuse_a_run_fit_did_not_write(run_dir: Path) -> None:
    """fit() trains from scratch and so replaces the run in its run_dir: right for a run an earlier fit wrote (a
    re-run notebook cell), not for one of `wildgan train` (e.g. Detector.from_run(run).fit(X), or a run_dir typed
    twice), whose networks, evaluation and logs would go without a word. Refused instead."""
    from .training.run import never_trained, previous_run

    if not run_dir.is_dir() or not previous_run(run_dir) or never_trained(run_dir):
        return
    if (run_dir / DETECTOR_MARKER).is_file():
        return
    try:   # a run of a Detector from before the marker: trained on in-memory images, which split.json records
        info = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if isinstance(info, dict) and info.get("detector_input"):
        return
    raise ConfigError(f"run_dir {run_dir} holds a run that Detector.fit did not write (a `wildgan train` run?): fit "
                      f"would replace it, deleting its networks, evaluation and logs; give fit another run_dir, or "
                      f"delete that folder first. To score with that run as it is, Detector.from_run({str(run_dir)!r})"
                      f" and decision_function need no fit")


def _holds_a_run(run_dir: Path) -> bool:
    """Whether run_dir holds a run that trained (not one refused or failed before its first step): what a fit there
    replaces."""
    from .training.run import never_trained, previous_run

    return run_dir.is_dir() and bool(previous_run(run_dir)) and not never_trained(run_dir)


class _TempRunDir:
    """A temporary run directory owned by the Detector(s) that hold this object: removed when the last of them is
    garbage-collected, at interpreter exit, or at once by cleanup() (a failed fit). Copies of a Detector share it."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="wildgan-detector-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), ignore_errors=True)

    def cleanup(self) -> None:
        self._finalizer()

    def keep(self) -> None:
        """Never remove the directory (it holds networks a failed step after training must not take away)."""
        self._finalizer.detach()

    def __copy__(self) -> "_TempRunDir":
        return self

    def __deepcopy__(self, memo: dict) -> "_TempRunDir":
        return self

    def __reduce__(self) -> tuple:
        return (Path, (str(self.path),))   # an unpickled copy refers to the directory but never removes it


def _fit_stopped(signum: int | None, where: str | None = None) -> str:
    """'Detector.fit interrupted by SIGINT (Ctrl-C) at 0.064 of 0.2 kimg', ...; 'Detector.fit stopped as the reader of
    its output went away (...)' for the loop's stop on a closed stdout or stderr (errors.stop_words' SIGPIPE, whose
    words have no verb). `where`: how far training got, if known (a stop that does not say left a space before the
    message's semicolon)."""
    words = stop_words(signum)
    at = f" {where}" if where else ""
    return f"Detector.fit {'stopped as ' if signum is not None and signum == SIGPIPE else ''}{words}{at}"


def _diverged_fit(e: DivergenceError, seed: Any) -> DivergenceError:
    """A divergence of fit's training, with fit's ways on. The loops advise train_run's: resume=True with
    train.on_divergence='rollback', or a lower train.lr, settings a Detector does not have (and fit(resume=True)
    trains on at the lr that diverged). Its own is another seed; the others go through train_run and from_run."""
    what = e.what or str(e)
    lr = e.lr_setting or "train.lr"
    return DivergenceError(
        f"Detector.fit: training diverged: {what}. Detector has no learning-rate or rollback parameter: fit again "
        f"with another seed (this fit's was {seed!r}), whose other initial weights and batches may not diverge; or "
        f"train the run with wildgan.training.run.train_run and a wildgan.config.RunConfig with a lower "
        f"{lr}, or with train.on_divergence='rollback' (back to the last good checkpoint with half the lr), and load "
        f"it with Detector.from_run(run_dir)", what=e.what, lr_setting=e.lr_setting)


def _failed_fit(e: BaseException, temp: "_TempRunDir | None", run_dir: Path, *, trained: bool, resume: bool,
                seed: Any = None) -> BaseException | None:
    """What a fit that failed with e leaves behind, and the error to raise instead of e (None: e itself). A
    temporary run directory is removed, unless training had finished (its networks may be hours of work); an
    interruption, a divergence (seed: the fit's, which another may avoid), or training.run's refusal of a resume, is
    said in the Python API's terms, not the CLI's."""
    if resume and isinstance(e, ConfigError) and not trained:
        return ConfigError(_api_words(str(e), getattr(e, "cli_advice", None)))
    if resume and type(e) is CheckpointError and not trained and _api_words(str(e)) != str(e):
        return CheckpointError(_api_words(str(e)))
    if isinstance(e, DivergenceError) and not trained:
        if temp is not None:
            temp.cleanup()
        return _diverged_fit(e, seed)
    if isinstance(e, TrainingInterrupted) and not trained and e.complete:
        # a stop as training ended: its final networks are saved (possibly hours of work), only the training scores
        # and the threshold were not computed; a temporary run_dir is kept, not removed with them
        # (the way on is the error's resume_advice, apart from what happened, as training.run's stops keep it: a
        # caller that words its own, as a study does, takes it off as a field)
        again = (f"fit(X, resume=True) with the same X, by a Detector of the same parameters and run_dir="
                 f"{str(run_dir)!r}, finishes the fit without training again")
        if temp is not None:
            temp.keep()
            again += " (delete the folder when done)"
        return TrainingInterrupted(
            f"{_fit_stopped(e.signum, e.where)}; the training is complete and its networks "
            f"are kept in {run_dir}", e.signum, where=e.where, checkpoint_dir=e.checkpoint_dir, complete=True,
            resume_advice=again)
    if isinstance(e, TrainingInterrupted) and not trained:
        # the loop's message says --resume and names the checkpoint folder: the CLI's way, and for a temporary
        # run_dir a folder about to be removed
        if temp is not None:
            temp.cleanup()
            return TrainingInterrupted(
                f"{_fit_stopped(e.signum, e.where)}; nothing was kept: it trained in a temporary folder",
                e.signum, where=e.where,
                resume_advice="give Detector(run_dir=...) to keep its checkpoints; fit(X, resume=True) then "
                              "continues an interrupted fit")
        return TrainingInterrupted(
            f"{_fit_stopped(e.signum, e.where)}; checkpoint saved in "
            f"{e.checkpoint_dir or run_dir / 'checkpoints'}", e.signum, where=e.where, checkpoint_dir=e.checkpoint_dir,
            resume_advice=f"fit(X, resume=True) with the same X, by a Detector of the same parameters and run_dir="
                          f"{str(run_dir)!r}, continues it")
    if temp is not None and trained:
        # training finished (possibly hours of it) and a later step failed (scoring out of GPU memory, a
        # Ctrl-C): the temporary run is kept, not deleted with the error
        temp.keep()
        # (a Python caller's way first: the calls of wildgan.scoring.run; the command line's beside it)
        warn_user(f"fit failed after training ({type(e).__name__}); the trained networks are kept in "
                  f"{temp.path}: score_files(load_model({str(temp.path)!r}), [IMAGES]) (wildgan.scoring.run), or "
                  f"`wildgan score {shell_word(temp.path)} --data IMAGES --out scores.csv`, scores images with them "
                  f"(delete the folder when done)")
    elif temp is not None:
        temp.cleanup()
    return None


@dataclass
class HeatMaps:
    """Detector.heatmaps(X): per-image residual maps with what they were computed from, aligned with X (row i = the
    i-th image of X, as decision_function orders them; a folder in sorted path order, and a file that paths in X
    name more than once read once, at its first mention, with a warning: see ids).

    images : uint8 [N, R, R, C], the query images Q as converted for the networks (R = resolution_,
        C = channels_).
    recon : float32 [N, R, R, C], the reconstructions the scores were computed from: Gs(E(Q)) for method
        'wildgan' (the generator of model_.cfg.score.generator, Gs by default), G(z*) of the latent search for
        'search', G(E(Q)) for 'fanogan'. Float on the networks' scale, where images lie in [-1, 1]
        (x * 2/255 - 1), unclipped: a generator's output can overshoot [-1, 1] (recon_u8: clipped uint8 for
        display).
    maps : float32 [N, R, R] in [0, 1], the report's heat maps (wildgan.evaluation.heatmaps.residual_maps):
        maps[i] = mean over the C channels of |w(Q_i) - w(recon[i])|, with Q_i = images[i] / 127.5 - 1 (the
        training rule) and w the per-image min-max to [0, 1] over all of its R*R*C values jointly: the residual
        that L_n sums, before it is summed. Higher = less like the reconstruction. At lod > 0 computed as L_n is
        there (below) and enlarged to R x R by nearest neighbour, constant over each block x block square.
    scores : float64 [N], the Detector's `score` (decision_function(X)); higher = more anomalous.
    all_scores : every score of the same pass (a, L_n, L_o, L_r, A, z_norm; see Detector.score_all).
    ids : where each image came from (file paths for files and folders, 'array:i' / 'image:i' otherwise).
    score, lod, generator : the score name in `scores`, the networks' level of detail (0 = full resolution), and
        the generator's name.

    How the maps relate to the scores, up to float32 rounding, with b = block and h = R / b (the scored side:
    R at lod < 1) and m = maps[i, ::b, ::b] the map at the scored resolution (maps[i] itself at lod < 1):
    L_n[i] = sqrt(sum of (w(Q'_i) - w(rec'_i))^2) / (h*h*C), so for gray images (C = 1)
    all_scores['L_n'][i] == sqrt((m ** 2).sum()) / h**2 exactly, and for colour images
    L_n[i] >= sqrt((m ** 2).sum()) / (sqrt(C) * h**2) (equal when the channels' residuals are equal). Q'_i and
    rec'_i are what was scored: at lod 0 Q_i and recon[i]; at lod > 0 Q_i box-reduced to h x h (and, in a fade-in,
    blended with its h/2 version as training blends it; wildgan.scoring.pgan_scores.at_lod) and the networks' h x h
    reconstruction, of which recon is the nearest-neighbour enlargement to R x R (for display, as in the report).
    L_r[i] == ||Q'_i - rec'_i||_2, the residual without the min-max (at lod 0: ||Q_i - recon[i]||_2). The ranking
    score a weighs L_n by lam only (a = lam * L_n + (1 - lam) * L_o): a clean map with a high a means the encoder,
    not the reconstruction, found the image unusual.
    """

    images: np.ndarray
    recon: np.ndarray
    maps: np.ndarray
    scores: np.ndarray
    all_scores: dict[str, np.ndarray]
    ids: list[str]
    score: str = "a"
    lod: float = 0.0
    generator: str = "Gs"

    @property
    def recon_u8(self) -> np.ndarray:
        """The reconstructions as uint8 [N, R, R, C] (the inverse of the training rule, rounded and clipped to
        0..255): for display."""
        return np.clip(np.rint((self.recon.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)

    @property
    def block(self) -> int:
        """The side of the square of image pixels one scored pixel covers: 2^floor(lod) (1 at lod < 1)."""
        from .evaluation.heatmaps import map_block

        return map_block(self.lod)

    @property
    def scored_maps(self) -> np.ndarray:
        """The maps at the resolution the images were scored at, float32 [N, R/block, R/block] (maps at lod < 1):
        the residual L_n sums, before its nearest-neighbour enlargement to the images' size."""
        return self.maps[:, ::self.block, ::self.block]

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        # (the dataclass's repr printed every array whole: hundreds of lines for a notebook cell that shows `hm`)
        n = len(self.images)
        shown = ", ".join(repr(i) for i in self.ids[:3]) + (f", ... ({n - 3} more)" if n > 3 else "")
        return (f"HeatMaps({n} image{'' if n == 1 else 's'} [{shown}], images {_shape(self.images)}, recon "
                f"{_shape(self.recon)}, maps {_shape(self.maps)}, score={self.score!r}, scores "
                f"{_span(self.scores)}, all_scores {sorted(self.all_scores)}, lod={self.lod:g}, "
                f"generator={self.generator!r})")


def _shape(a: np.ndarray) -> str:
    return f"{np.asarray(a).dtype}[{', '.join(str(d) for d in np.shape(a))}]"


def _span(a: np.ndarray) -> str:
    """min..max of a score array, as a repr shows it ('-' where empty, NaNs left out)."""
    v = np.asarray(a, dtype=np.float64)
    v = v[~np.isnan(v)]
    return f"{v.min():.4g}..{v.max():.4g}" if v.size else "-"


FITTED_ATTRS = ("model_", "run_dir_", "resolution_", "channels_", "image_shape_", "conversion_", "decision_scores_",
                "n_train_", "threshold_rule_", "threshold_", "labels_", "_temp_run_dir", "_scoring", "_train_scores",
                "_pending_run_scores")
# what from_run's Detector derives from the run's training scores: where they are not cached, they are read at the
# first call that needs them (Detector._take_run_scores), so that decision_function of a run whose data is gone, or
# whose labels are damaged, works, and a large data set is not read for it
RUN_SCORE_ATTRS = ("decision_scores_", "n_train_", "threshold_rule_", "threshold_", "labels_", "_train_scores")
# one lazy read at a time per Detector (Detector._take_run_scores): two threads asking a Detector for threshold_ at
# once read the run's data once, and the second finds the first one's scores (re-entrant: the read's own attribute
# reads come back here). Each Detector has its own lock (two Detectors' runs are read at the same time, as a thread
# pool over runs expects), kept here rather than in the Detector, which must pickle and deep-copy, as a lock cannot
# (a subclass that is not hashable, an __eq__ without __hash__, shares one lock with all such Detectors; a process
# forked while a thread of its parent read a Detector's scores starts with none held, and reads for itself what is
# still pending: fileio.ObjectLocks)
_RUN_SCORES_LOCKS = ObjectLocks()


def _run_scores_lock(det: Any) -> threading.RLock:
    return _RUN_SCORES_LOCKS.of(det)


@dataclass(frozen=True)
class _PendingRunScores:
    """What from_run would have derived from the run's training scores, as it was called: the protocol and lam they
    are read with, the score taken from them, and the threshold rule with its c and k (or fit's recorded f1 value)."""

    batch_mode: str
    lam: float
    score: str
    rule: str
    contamination: float
    mad_k: float
    recorded: Threshold | None
    run_dir: str = ""         # the run folder from_run read, named when a copy unpickled elsewhere has lost it
# the parameters that decide what decision_scores_ (and so threshold_ and labels_) are: a change after fit re-derives
# them from the training scores (Detector._sync_scoring), or is refused when those are not at hand
SCORING_PARAMS = ("score", "lam", "batch_mode")
# the training ablations' parameters at their defaults (TrainConfig's), which Detector.save leaves out of its JSON
_ABLATION_DEFAULTS = {"g_image_loss": 0.0, "gp_target": 1.0}


def _run_total_kimg(cfg: Any) -> float | None:
    """A run's length as Detector(total_kimg=...) reads it, so that a refit (a clone of from_run's Detector) trains as
    long. A pGAN run's train.total_kimg; for f-AnoGAN, whose fit turns total_kimg into total_kimg * 1000 / 16
    iterations of both stages: None where the run has the official length (7 epochs, then 50000 encoder steps), the
    kimg of its iterations where both stages have the same number, as a fit with total_kimg gives them. (train.
    total_kimg, the pGAN schedule's that an f-AnoGAN run records unused, made a clone's fit train 250000 iterations of
    each stage where the run trained 7 epochs and 50000.) Another f-AnoGAN length has no total_kimg: None, which
    from_run's warning of the settings a refit does not keep names."""
    from .config import FAnoGANConfig

    if cfg.method != "fanogan":
        return cfg.train.total_kimg
    fan, official = cfg.fanogan, FAnoGANConfig()
    if fan.gan_iters is not None and fan.gan_iters == fan.enc_iters:
        return fan.gan_iters * official.batch_size / 1000
    return None


def _refit_differences(det: "Detector", cfg: Any) -> list[str]:
    """The settings of the run `cfg` that a fit of `det` (from_run's Detector, or a clone of it: sklearn.base.clone
    keeps its parameters) would not train with, as training.run.run_differences words them ('train.lr: 0.002 ->
    0.001'): those Detector has no parameter for (a `wildgan train` run's --lr, --transition-kimg, ...). Not the
    settings a resume may change (the budget, device, speed switches), nor the networks' width, which _run_width says
    itself. A refit refused outright (a run config's preset 'custom', which Detector has not) is said as such."""
    import warnings

    from .training.run import RESUME_MAY_CHANGE, run_differences

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # (what _run_config warns of is said by the refit itself)
            refit = det._run_config(cfg.data, cfg.net.resolution, cfg.net.channels)
    except ConfigError as e:
        return [f"a refit is refused ({e})"]
    return [d for d in run_differences(cfg, refit, RESUME_MAY_CHANGE) if not d.startswith("net.fmap_")]


def _fit_pixel_range(split_info: dict[str, Any]) -> str:
    """The pixel_range Detector.fit was given, as its split.json records it; 'auto' where it was not given, or the
    run is not a Detector.fit's on images (a DataConfig's, `wildgan train`'s) or of a fit before it was recorded.
    From_run's parameter, which its clone's fit reads floats by: 'auto' there guessed their range anew, which a range
    given (e.g. '[-1,1]' for floats that happen to lie in [0, 1]) is there to prevent."""
    conv = split_info.get("conversion")
    given = conv.get("pixel_range") if isinstance(conv, dict) else None
    return given if isinstance(given, str) and given in PIXEL_RANGES else "auto"


def _fit_channels(split_info: dict[str, Any], channels: int) -> int | None:
    """From_run's channels parameter: None where Detector.fit took the channel count from its images (channels=None),
    as its split.json says by what only such a fit records (conversion.gray_data, colour_data or gray_trained: the
    kind of images the networks learnt from), else the networks' `channels`. Given the networks' count instead, the
    clone's fit (sklearn.base.clone keeps the parameters) recorded none of these, and images of the other kind
    scored on it were not warned about as they are on the Detector fitted. A run that is not a Detector.fit's on
    images (`wildgan train`'s, a RunConfig's, whose record says these whatever chose the count) keeps the
    networks'."""
    conv = split_info.get("conversion")
    if split_info.get("detector_input") and isinstance(conv, dict) and \
            any(conv.get(k) for k in ("gray_data", "colour_data", "gray_trained")):
        return None
    return None if _data_config_fit_left(split_info, "channels_from") else channels


def _fit_resolution(split_info: dict[str, Any], resolution: int) -> int | None:
    """From_run's resolution parameter: None where Detector.fit took the resolution from its images
    (resolution=None), as its split.json says (conversion.resolution_from 'data'), else the networks' `resolution`.
    Given the networks' resolution instead, the clone's fit converted images of another size to it, where the
    Detector fitted chose a resolution for them. A run without the record (`wildgan train`'s, a RunConfig's, or a fit
    from before the record) keeps the networks' resolution, as from_run gave it before."""
    conv = split_info.get("conversion")
    if split_info.get("detector_input") and isinstance(conv, dict) and conv.get("resolution_from") == "data":
        return None
    return None if _data_config_fit_left(split_info, "resolution_from") else resolution


def _data_config_fit_left(split_info: dict[str, Any], key: str) -> bool:
    """Whether a Detector.fit on a DataConfig left its resolution or channels (key 'resolution_from' or
    'channels_from') to the data, as its split.json's detector_fit record says (written by _training_split: the
    Detector's parameter was None; a `wildgan train --resume` of the run keeps it: splits.keep_fit_record). A run
    without the record (`wildgan train`'s, a RunConfig's, a DataConfig fit from before it) says no."""
    record = split_info.get("detector_fit")
    return isinstance(record, dict) and record.get(key) == "data"


def _run_without_encoder(run_dir: Any) -> bool:
    """Whether run_dir holds a run of method wildgan trained without an encoder (config.untrained_encoder), as an
    earlier wildgan trained them: what an unfitted Detector with encoder_loss none and that run_dir (a clone of
    Detector.from_run of the run) took its none from. Read quietly (read_run_config's warning of the run is given
    once, where the run is read to score it); False where there is no such run or its config cannot be read."""
    import warnings

    from .config import run_config_from_dict, untrained_encoder

    if run_dir is None or not isinstance(run_dir, (str, os.PathLike)):
        return False
    try:
        raw = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return untrained_encoder(run_config_from_dict(raw))
    except Exception:  # noqa: BLE001 - any unreadable config: the refusal is said without these words
        return False


def _with_lam(scores: dict[str, np.ndarray], lam_then: float | None, lam: float) -> dict[str, np.ndarray]:
    """scores whose a was computed with lam_then, with a at lam instead: a = lam * L_n + (1 - lam) * L_o is linear,
    so no image is scored again (unchanged when the lams agree, so that fitted scores stay bit for bit). Computed as
    the scoring computes a (scoring.scores.combined_score, on the float32 L_n and L_o it computed them in; the kept
    scores hold them widened to float64, exactly), so that decision_function's a of a training image is this one,
    bit for bit: in float64 it was a few 1e-9 off, and predict(X_train) flagged an image lying on the threshold
    that labels_ did not."""
    if lam_then is None or float(lam_then) == float(lam) or not {"L_n", "L_o"} <= set(scores):
        return scores
    import torch

    from .scoring.scores import combined_score

    l_n, l_o = (torch.from_numpy(np.asarray(scores[k], dtype=np.float32)) for k in ("L_n", "L_o"))
    a = combined_score(l_n, l_o, float(lam)).numpy()
    return dict(scores, a=a.astype(np.asarray(scores["a"]).dtype if "a" in scores else np.float64))


def _run_width(cfg: Any) -> int | None:
    """A run's width as Detector(width=...) reads it: None where the run has its preset's (or f-AnoGAN's official)
    width, so that from_run(...).get_params() describes the networks a refit would build."""
    from .config import PRESETS, FAnoGANConfig

    if cfg.method == "fanogan":
        return None if cfg.fanogan.dim == FAnoGANConfig().dim else int(cfg.fanogan.dim)
    preset = PRESETS.get(cfg.preset)
    net = cfg.net
    if preset and (net.fmap_max, net.fmap_base, net.fmap_decay) == (preset["fmap_max"], preset["fmap_base"], 1.0):
        return None
    if (net.fmap_base, net.fmap_decay) != (16 * net.fmap_max, 1.0):
        # e.g. a run config file with its own fmap_base: no (preset, width) builds these networks again
        warn_user(f"the run's networks (fmap_base {net.fmap_base}, fmap_max {net.fmap_max}, fmap_decay "
                  f"{net.fmap_decay:g}) are not a preset's at any width: from_run scores them as they are, but a "
                  f"refit builds width={net.fmap_max} (fmap_base {16 * net.fmap_max})")
    return int(net.fmap_max)


def _run_latent_size(cfg: Any) -> int | None:
    """A run's N_z as Detector(latent_size=...) reads it: None where it is nf(0), the width's own."""
    if cfg.method == "fanogan":
        return None
    n = cfg.net.latent_size
    return None if n in (0, cfg.net.nf(0)) else int(n)


def _is_real(v: Any) -> bool:
    """A real number as a parameter takes one: not a bool (True is 1 to numbers.Real), not a numeric string."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _is_whole(v: Any) -> bool:
    """A whole number as a parameter takes one: an integer (numpy's too), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


# said of a parameter refused as past a float's range (an int such as 10**400, which float() cannot convert)
_PAST_FLOATS = ", past the range of a float"


def _as_attribute_error(e: WildganError) -> WildganError:
    """e as an instance of its own class that is also an AttributeError (same message, attributes, notes and cause):
    raised by Detector.__getattr__, so that hasattr / getattr(det, name, default) answer as for a missing attribute,
    while `except DataError` still catches it."""
    if isinstance(e, AttributeError):
        return e
    cls = type(e)
    both = _ATTRIBUTE_ERRORS.get(cls)
    if both is None:
        # (pickled as the plain class, the one its module names: an error sent back from a worker process)
        both = _ATTRIBUTE_ERRORS[cls] = type(cls.__name__, (cls, AttributeError), {
            "__module__": cls.__module__, "__doc__": cls.__doc__,
            "__reduce__": lambda self: (_rebuilt_error, (cls, self.args, dict(self.__dict__)))})
    out = _rebuilt_error(both, e.args, e.__dict__)
    # (its cause kept, as errors.reworded keeps it: raised in e's handler, its context, e itself, is not shown)
    out.__cause__, out.__suppress_context__ = e.__cause__, True
    return out.with_traceback(e.__traceback__)


def _rebuilt_error(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An exception of cls with these args and attributes (__new__ without __init__: the classes' own attributes,
    split_problem, a ConfigError's parts and __notes__, are copied as they are rather than rebuilt from arguments)."""
    out = cls.__new__(cls, *args)
    out.__dict__.update(state)
    return out


_ATTRIBUTE_ERRORS: dict[type, type] = {}


def _not_fitted(det: "Detector", what: str = "") -> NotFittedError:
    has = f", so it has no {what}" if what else ""
    return NotFittedError(f"This {type(det).__name__} instance is not fitted yet{has}; call fit(X) (or use "
                          "Detector.load / Detector.from_run) before using it")


def _check_fitted(det: "Detector") -> None:
    if "model_" not in det.__dict__:
        raise _not_fitted(det)


class Detector:
    """Unsupervised image anomaly detector (Berg et al. 2019: progressive GAN + jointly trained encoder).

    fit(X) trains on X and returns the Detector; decision_function(X) returns float64 [N] anomaly scores, higher =
    more anomalous (PyOD's sign, the opposite of scikit-learn's outlier detectors); predict(X) returns int64 [N],
    1 = anomaly (score > threshold_), 0 = normal. The threshold comes from the training images' scores only.

    Parameters
    ----------
    method : 'wildgan' (pGAN + encoder, default) | 'search' (pGAN without encoder, latent search at test time)
        | 'fanogan' (the f-AnoGAN baseline; resolution 32 or 64).
    preset : network width, 'paper' | 'fast' | 'tiny' (pGAN methods).
    width : the networks' width instead of the preset's (None = the preset's). For 'wildgan' and 'search' it is
        pGAN's fmap_max, as `wildgan train --width`: width=256 with preset='paper' is the paper's networks at half
        width (the 2026-11-30 H200 full-schedule run), and N_z follows it. For 'fanogan' it is f-AnoGAN's dim, as
        `--fanogan-dim` (the official 64).
    latent_size : N_z instead of the width's (None = nf(0), the width; as `wildgan train --latent-size`; pGAN
        methods). E.g. latent_size=512 keeps the paper's latent space at a smaller width.
    search_steps : 'search' only: Adam steps of the latent search per image, whenever the run scores images (fit's
        training scores, decision_function and the other scoring methods, `wildgan evaluate` of the run), as
        `wildgan train --search-steps` (default 500, AnoGAN's; 0 scores the initial latents). Scoring costs about
        search_steps forward and backward passes of G and D per image: fewer are faster and fit each image less
        closely. Recorded in the run's config (search.steps), which from_run reads it from; set after fit, it
        takes effect at the next fit, as the training parameters do (the fitted networks score with their run's).
    g_image_loss : method 'wildgan' only: W >= 0, also add W * d_I to G's loss (`wildgan train --g-image-loss W`,
        train.g_image_loss; the ablation of the paper's "G and E updated jointly"). 0 (default) is the authors'
        code, where d_I trains E only. Needs encoder_loss='image'; refused with the other methods.
    gp_target : the critic's target gradient norm T > 0 of the gradient penalty, lambda * (|grad| - T)^2 / T^2
        (`wildgan train --gp-target T`, train.gp_target; default 1, the authors' code; 750 is the pGAN paper's
        CIFAR-10 value). pGAN methods; f-AnoGAN's critic keeps its official 1 (a fit warns where it is set).
    total_kimg, phase_kimg : training length and phase length in thousands of images shown (pGAN methods;
        None = the paper's schedule: full growth + 2/3 of a phase). For 'fanogan', total_kimg sets both stages to
        total_kimg * 1000 / 16 iterations (None = the official 7 epochs + 50000 encoder steps).
    contamination : expected fraction of anomalies in the data, only used by threshold='contamination'.
    threshold : 'contamination' | 'mad' | 'f1' (f1 needs fit(..., X_val=, y_val=)). See wildgan.thresholds.
    mad_k : k of the 'mad' rule (median + k * 1.4826 * MAD of the training scores).
    lam : weight of L_n in a = lam * L_n + (1 - lam) * L_o.
    score : which score is the decision function: None (default) = the method's own ('A' for 'fanogan', else 'a';
        config.own_score), as the CLI's `score --threshold`, `report` and a study rank by; or 'a' | 'L_n' | 'L_o' |
        'L_r' | 'A'. The name in use is score_ once fitted. After a short training (under config.SHORT_TRAINING_KIMG)
        on images without labels, a fit by 'a' warns that 'L_r' is the one to rank and flag by (the CLI's advice).
    seed : a whole number >= 0 (sklearn's random_state, without its None: every fit is seeded, and the same seed
        gives the same networks and scores, with the same threads on the same machine).
    device ('auto' | 'cpu' | 'cuda'), minutes (wall-clock training budget), encoder_loss ('image' | 'latent').
    resolution, channels : network input (None = from the training images; see infer_geometry).
    batch_mode : 'mixed' | 'isolated' score protocol (see the module docstring).
    resize_mode : 'resize' | 'pad' (zero-pad images smaller than the resolution instead of resizing them) |
        'letterbox' (pad non-square images to a square with black bars instead of centre-cropping them, so that
        nothing near the long edges is lost; then resize: the CLI's --square letterbox, whose old name was 'pad').
        A DataConfig given to fit converts by its own fit where it sets one, else by resize_mode, whose default
        'resize' leaves the data protocol's rule (MNIST's 'pad'); fit(resume=True) of one without its own fit goes on
        by the rule the run recorded (with a warning where resize_mode gives another).
    run_dir : where training writes its run directory (None = a new temporary directory, removed when the fit
        fails, else when the Detector is garbage-collected or at interpreter exit; the fitted model is in memory,
        so save() works after that, but from_run(run_dir_) / export_onnx(run_dir_) need a run_dir). A fit replaces
        a run an earlier fit left there; a clone (sklearn.base.clone, or from_run's Detector) keeps run_dir, and its
        fit says with a warning that it replaces the run there, unless run_dir was set on it (set_params); so do
        Detector.load's Detector, whose run_dir names the run it was fitted in, and a copy of a fitted Detector
        (pickle, copy.copy, copy.deepcopy).
    skip_bad : fit leaves unreadable / corrupt image files out, with a warning naming each (default: a DataError
        naming the first); so do the training scores computed again from a run's training images (from_run, and
        a threshold or percentile for another batch_mode), for files unreadable since training. Scoring methods
        always raise instead: their outputs are aligned with their inputs.
    pixel_range : 'auto' | '[0,1]' | '[-1,1]' | '[0,255]': the range of float pixel values (integers are always
        0..255). 'auto': the range guessed from fit's float training images, all together (kept as pixel_range_ and
        used for every later call, so that an image's score never depends on what else is in a call), or, when fit
        saw no floats, guessed per call (see the module docstring).
    depth16 : 'per-image' | 'global' | 'shift' | 'bits:N' (N = 9..16): how 16-bit images become 8-bit (see
        wildgan.data.transforms); 'bits:12' for 12-bit camera data keeps brightness differences between images that
        'per-image' (the default, each image stretched to its own min..max) removes. Recorded in conversion_ and
        used for every later call. A DataConfig given to fit uses its own depth16.
    threads : CPU threads for training and scoring (None or 0 = torch's current setting, as the CLI's
        --threads 0). Fix it for numbers that do not depend on the core count: float sums differ between thread counts,
        and a short GAN run amplifies that. The process's own torch thread count is restored after each call.
    verbose : progress bars and training log on stdout. Quiet (the default), training's warnings (a resume on
        changed data, a CUDA-graph fallback) are raised as WildganWarning; log.txt has every line, and the
        WildganWarnings the fit gave (those the warnings filters let through), about its images too.

    Fitted attributes: decision_scores_ (training scores, float64 [N]), threshold_ (float), threshold_rule_
    (wildgan.thresholds.Threshold), labels_ (0/1 of the training images), run_dir_ (Path; after load() None when
    the run directory no longer exists, e.g. a temporary one), resolution_ (the network input resolution R: every
    image is converted to R x R), trained_resolution_ (the resolution the networks were trained up to: R, or less
    when training ended before the last fade-in, which fit warns about; images are then scored at it), channels_,
    image_shape_ ((H, W, C) of the training images as given to fit; None when their sizes differ or they came from
    a DataConfig / CLI run), conversion_, n_train_, model_ (wildgan.scoring.run.LoadedModel), score_ (the score
    decision_function returns: `score`, or the method's own with score=None).
    """

    def __init__(self, method: str = "wildgan", *, preset: str = "fast", total_kimg: float | None = None,
                 phase_kimg: float = 600.0, contamination: float = 0.05, threshold: str = "contamination",
                 mad_k: float = 3.0, lam: float = 0.05, score: str | None = None, seed: int = 0,
                 device: str = "auto", resolution: int | None = None, channels: int | None = None,
                 minutes: float | None = None,
                 encoder_loss: str = "image", batch_mode: str = "mixed", resize_mode: str = "resize",
                 run_dir: str | Path | None = None, skip_bad: bool = False, threads: int | None = None,
                 pixel_range: str = "auto", depth16: str = "per-image", width: int | None = None,
                 latent_size: int | None = None, search_steps: int = 500, g_image_loss: float = 0.0,
                 gp_target: float = 1.0, verbose: bool = False) -> None:
        self.method = method
        self.preset = preset
        self.width = width
        self.latent_size = latent_size
        self.search_steps = search_steps
        self.g_image_loss = g_image_loss
        self.gp_target = gp_target
        self.total_kimg = total_kimg
        self.phase_kimg = phase_kimg
        self.contamination = contamination
        self.threshold = threshold
        self.mad_k = mad_k
        self.lam = lam
        self.score = score
        self.seed = seed
        self.device = device
        self.resolution = resolution
        self.channels = channels
        self.minutes = minutes
        self.encoder_loss = encoder_loss
        self.batch_mode = batch_mode
        self.resize_mode = resize_mode
        self.run_dir = run_dir
        self.skip_bad = skip_bad
        self.threads = threads
        self.pixel_range = pixel_range
        self.depth16 = depth16
        self.verbose = verbose

    def __getattr__(self, name: str) -> Any:
        """Only reached when an attribute is missing: a fitted attribute read before fit (det.threshold_) raises
        NotFittedError naming it, as the methods do, where Python said "'Detector' object has no attribute
        'threshold_'". NotFittedError is an AttributeError, so hasattr and getattr(det, name, default) answer as
        before. On from_run's Detector whose training scores are left to be read (_take_run_scores), hasattr(det,
        'threshold_') reads them as det.threshold_ does (Python's hasattr is a read); where that read is refused
        (the run's data gone or damaged), the refusal is also an AttributeError: hasattr answers False and
        getattr(det, 'threshold_', None) gives None, where they raised the DataError."""
        if name in RUN_SCORE_ATTRS and "_pending_run_scores" in self.__dict__:
            # from_run's Detector whose training scores are read at the first use: this one
            try:
                self._take_run_scores(name)
            except WildganError as e:
                raise _as_attribute_error(e)
            return self.__dict__[name]
        prop = getattr(type(self), name, None)
        fitted_attr = not name.startswith("_") and (name in FITTED_ATTRS or (isinstance(prop, property)
                                                   and name.endswith("_")))
        if fitted_attr and "model_" not in self.__dict__:
            raise _not_fitted(self, name)
        if isinstance(prop, property):
            # a fitted Detector's property that raised an AttributeError comes here too: run it again so that its
            # own error propagates, rather than a bare one from this method
            return prop.fget(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -------------------------------------------------------------------------------------------- sklearn plumbing
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def __sklearn_is_fitted__(self) -> bool:
        """scikit-learn's fitted test (sklearn.utils.validation.check_is_fitted): fitted once it has a model."""
        return hasattr(self, "model_")

    def __sklearn_clone__(self) -> "Detector":
        """sklearn.base.clone (scikit-learn 1.3 and later ask the estimator): a new, unfitted Detector of the same
        parameters, as sklearn's own clone makes it, that also knows the run in its run_dir is the one this Detector
        held (its fit's, or from_run's). The clone's fit replaces that run in place, which it says then
        (_claim_run_dir), however long ago this Detector was dropped."""
        from sklearn.base import clone

        new = type(self)(**{k: clone(v, safe=False) for k, v in self.get_params(deep=False).items()})
        held = self._run_held()
        if held is not None:
            new._inherited_run = (held, "clone")
        return new

    def _run_held(self) -> str | None:
        """The run folder (absolute) that run_dir names and this Detector holds the run of: fitted into it or loaded
        from it (from_run), or, unfitted, a clone's inherited one. None where run_dir names no such folder."""
        if self.run_dir is None:
            return None
        here = os.path.abspath(self.run_dir)
        fitted = getattr(self, "run_dir_", None)
        if fitted is not None and os.path.abspath(fitted) == here:
            return here
        inherited = getattr(self, "_inherited_run", None)
        return here if inherited is not None and inherited[0] == here else None

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags, which its helpers (check_is_fitted, from 1.6) ask every estimator for: an
        estimator that needs fitting, on images (not a 2-D feature matrix). Not of sklearn's "outlier_detector" type,
        whose predict returns -1 / +1 and whose scores are higher for normal samples: this one follows PyOD (1 =
        anomaly, higher = more anomalous), and a sklearn tool taking the type at its word would invert it.
        scikit-learn is imported only when it asks, so the estimator keeps working without it."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    input_tags=InputTags(two_d_array=False, three_d_array=True))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (sklearn's get_params; `deep` has no nested estimators to descend into)."""
        # a parameter added after a Detector was pickled reads as its default (e.g. pixel_range, threads)
        defaults = {k: v.default for k, v in inspect.signature(type(self).__init__).parameters.items()}
        return {k: getattr(self, k, defaults.get(k)) for k in self._param_names()}

    def set_params(self, **params: Any) -> "Detector":
        """Set constructor parameters (sklearn's set_params); an unknown name is a ConfigError. Returns self.

        On a fitted Detector, a new score, lam or batch_mode also takes effect on what fit derived from them:
        decision_scores_, threshold_ (the same rule, refitted) and labels_, from the training scores kept by fit /
        from_run (or the run directory's cache). Where those are not at hand (a loaded Detector whose run directory
        is gone; the f1 rule, which needs its validation set again) it is a ConfigError and nothing changes. A new
        pixel_range takes effect at once on the float images of later calls (it says how they are to be read, and
        pixel_range_ follows it; the networks, the training scores and the threshold stay as fit made them). The
        other parameters take effect at the next fit, as in scikit-learn."""
        names = self._param_names()
        unknown = [k for k in params if k not in names]
        if unknown:
            raise ConfigError(f"invalid parameter {unknown[0]!r} for Detector; valid: {names}")
        before = self.get_params()
        derived = self._derived_state()
        for k, v in params.items():
            setattr(self, k, v)
        if hasattr(self, "model_") and any(k in SCORING_PARAMS for k in params):
            try:
                self._validate()
                self._sync_scoring("set_params", read_now=False)
            except BaseException:
                self._restore(before, derived)         # refused: the Detector stays as it was
                raise
        if "run_dir" in params:
            # a run_dir set by the caller, even the one the clone inherited: its fit replacing the run there is asked
            # for, as a Detector made with that run_dir (_claim_run_dir says nothing of it)
            self.__dict__.pop("_inherited_run", None)
        return self

    # what fit derived from the scoring parameters: a refused change puts all of it back with the parameters
    # (from_run's read of the training scores at first use too: a refused change leaves it to be read again)
    _DERIVED = ("decision_scores_", "_scoring", "threshold_rule_", "threshold_", "labels_", "n_train_",
                "_train_scores", "_pending_run_scores")

    def _derived_state(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in self._DERIVED if k in self.__dict__}

    def _restore(self, params: dict[str, Any], derived: dict[str, Any]) -> None:
        for k, v in params.items():
            setattr(self, k, v)
        for k in self._DERIVED:
            self.__dict__.pop(k, None)
        self.__dict__.update(derived)

    def __repr__(self) -> str:
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _trained_without_encoder(self) -> bool:
        """Whether the fitted networks are of method wildgan without an encoder (config.untrained_encoder), as an
        earlier wildgan trained them and from_run / load read them."""
        from .config import untrained_encoder

        model = getattr(self, "model_", None)
        return model is not None and untrained_encoder(model.cfg)

    def _validate(self, *, training: bool = False) -> None:
        """Refuse a bad parameter, in the Detector's words. training: before fit trains. Method wildgan without an
        encoder is refused there always; elsewhere it is taken where it is what the fitted networks were trained
        with (an earlier wildgan's run or Detector, read by from_run or load), which set_params of a scoring
        parameter and set_threshold must not then refuse."""
        t = getattr(self, "threads", None)
        if t is not None and not (_is_whole(t) and t >= 0):
            raise ConfigError(f"threads must be a positive integer, or 0 / None for torch's setting, got {t!r}")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("width", "latent_size"):
            w = getattr(self, name, None)                          # (a Detector pickled before they existed)
            if w is not None and not (_is_whole(w) and w >= 1):
                raise ConfigError(f"{name} must be a positive integer (None = the preset's), got {w!r}")
        if getattr(self, "latent_size", None) is not None and self.method == "fanogan":
            raise ConfigError("latent_size is for the pGAN methods; f-AnoGAN's latent size is the official 128")
        steps = getattr(self, "search_steps", 500)                  # (a Detector pickled before it existed)
        if not (_is_whole(steps) and steps >= 0):
            # checked for every method, as width is: a typo is refused where it is made, not when the method changes
            raise ConfigError(f"search_steps must be a whole number >= 0 (the latent search's Adam steps per image; "
                              f"0 scores the initial latents), got {steps!r}")
        self._validate_ablations()
        if self.resolution is not None:
            from .data.transforms import check_resolution

            check_resolution(self.resolution)
            from .nets.fanogan import SUPPORTED_RESOLUTIONS

            if self.method == "fanogan" and self.resolution not in SUPPORTED_RESOLUTIONS:
                # (training refused it later, after the images were read, naming the CLI's --resolution)
                raise ConfigError(f"method='fanogan' needs resolution 32 or 64 (the only input sizes of the "
                                  f"f-AnoGAN networks; images are converted to it), got {self.resolution}; "
                                  f"resolution=None picks 32 or 64 from the images")
        if self.channels is not None and not (_is_whole(self.channels) and self.channels in (1, 3)):
            raise ConfigError(f"channels must be 1 or 3 (None = from the images), got {self.channels!r}")
        if self.threshold not in RULES:
            # a number here is a value or a share meant for a rule (threshold=0.05): say where each of them goes
            number = isinstance(self.threshold, (int, float)) and not isinstance(self.threshold, bool)
            raise ConfigError(f"threshold must be one of {RULES}, got {self.threshold!r}" + (
                ": it names the rule, not a value. contamination=C flags the share C of the training images (the "
                "'contamination' rule); to flag by a score value of your own, compare det.decision_function(X) > "
                "value" if number else ""))
        if self.score is not None and self.score not in SCORE_NAMES:
            raise ConfigError(f"score must be one of {SCORE_NAMES}, or None for the method's own, got {self.score!r}")
        if self.batch_mode not in BATCH_MODES:
            raise ConfigError(f"batch_mode must be one of {BATCH_MODES}, got {self.batch_mode!r}")
        from .data.transforms import check_depth16

        check_depth16(getattr(self, "depth16", "per-image"))      # (a Detector pickled before depth16 existed)
        if getattr(self, "pixel_range", "auto") not in PIXEL_RANGES:
            raise ConfigError(f"pixel_range must be one of {PIXEL_RANGES}, got {self.pixel_range!r}")
        if self.resize_mode not in ("resize", "pad", "letterbox"):
            raise ConfigError(f"resize_mode must be 'resize', 'pad' or 'letterbox', got {self.resize_mode!r} "
                              f"({FIT_NAMES})")
        c, k = self.contamination, self.mad_k
        # both are read after training whatever the rule (the threshold is fitted with both at hand): a string or
        # None for the unused one would cost the training too, with a bare TypeError / ValueError
        # (compared as given, and past a float's range refused whatever the rule: float(10**400), which fit and
        # from_run take of both, was a bare OverflowError)
        if self.threshold == "contamination" and _is_real(c) and not (0 < c <= 0.5):
            raise ConfigError(f"contamination must be in (0, 0.5]{contamination_hint(c)}, got {c}")
        if not _is_real(c) or as_float(c) is None:
            raise ConfigError(f"contamination must be a number (the expected fraction of anomalies, in (0, 0.5]), "
                              f"got {c!r}{_PAST_FLOATS if _is_real(c) else ''}")
        kf = as_float(k) if _is_real(k) else None
        if kf is None or (self.threshold == "mad" and not (math.isfinite(kf) and kf >= 0)):
            # (checked here, not by the rule after training: a typo must not cost the training; the rule refuses
            # an infinite k as well)
            raise ConfigError(f"mad_k must be a number >= 0 (the threshold is median + mad_k x the scaled MAD of "
                              f"the training scores), got {k!r}{_PAST_FLOATS if _is_real(k) and kf is None else ''}")
        seed = self.seed
        if not _is_whole(seed) or not 0 <= int(seed) < 2 ** 64 - 1:
            # every fit is seeded (the same seed, the same networks and scores): there is no unseeded None as
            # sklearn's random_state has; torch takes 64-bit seeds and training also draws with seed + 1
            raise ConfigError(f"seed must be a whole number >= 0 and below 2**64 - 1, got {seed!r}")
        # (these and encoder_loss in fit's own words: TrainConfig names its fields by section, train.minutes, which
        # a Detector does not have)
        for name, v, none in (("total_kimg", self.total_kimg, " (None = the paper's schedule)"),
                              ("phase_kimg", self.phase_kimg, ""), ("minutes", self.minutes, " (None = no budget)")):
            # (float() of a string, or NaN, would otherwise fail in the run's config with a bare ValueError)
            vf = as_float(v) if _is_real(v) else None
            if (v is not None or not none) and not (vf is not None and math.isfinite(vf) and vf > 0):
                raise ConfigError(f"{name} must be a positive number{none}, got {v!r}"
                                  f"{_PAST_FLOATS if _is_real(v) and vf is None else ''}")
        # (none under method wildgan is taken outside a training where the fitted networks were trained so: an
        # earlier wildgan's run or Detector, read by from_run or load, whose scoring parameters still change)
        untrained = self.encoder_loss == "none" and self._trained_without_encoder()
        if self.encoder_loss not in ("image", "latent") and (self.encoder_loss != "none" or self.method == "wildgan") \
                and (training or not untrained):
            # (none, no encoder, is taken where it changes nothing: f-AnoGAN and the latent search train no E of
            # this kind; the wildgan method scores with its E.) The method is named, since it decides what is taken:
            # 'none' was refused without it, which read as a wrong value to a caller who had changed only the method
            # (set_params(method='wildgan') on a search Detector), and a typo under fanogan was not told none is taken
            if self.method == "wildgan":
                from .config import untrained_encoder_problem, untrained_encoder_words

                # a Detector read from an earlier wildgan's run or file is told where its 'none' came from: its
                # caller never typed it (in the one wording of every such refusal)
                read = untrained_encoder_words(
                    "the run or saved Detector this one was read from (Detector.from_run, Detector.load) was",
                    "set encoder_loss to", ": set_params(encoder_loss='image') before fit") if untrained else ""
                if not read and training and self.encoder_loss == "none" and _run_without_encoder(self.run_dir):
                    # no networks of its own, but its run_dir's run is such a run: a clone of a Detector.from_run of
                    # it (sklearn.base.clone, or Detector(**det.get_params())), whose caller never typed none either
                    read = untrained_encoder_words(
                        f"the run in run_dir, {self.run_dir}, whose none this Detector took (a clone of "
                        f"Detector.from_run of it keeps it), was", "set encoder_loss to",
                        ": set_params(encoder_loss='image') before fit")
                # (the wording every refusal of none under wildgan shares, in a Detector caller's spelling)
                problem = untrained_encoder_problem("method='wildgan'", "method='fanogan' or 'search'")
                raise ConfigError(f"encoder_loss {problem}, got {self.encoder_loss!r}{read}")
            raise ConfigError(f"encoder_loss must be image (d_I), latent (d_z) or none with method={self.method!r}, "
                              f"which trains no such encoder (the setting is unused there), got "
                              f"{self.encoder_loss!r}")
        dev = self.device
        if training and not isinstance(dev, str):
            # (a torch.device trained, then failed as the networks' JSON was written: "Object of type device is not
            # JSON serializable"; the parameter is kept as given, as get_params / save / clone return it. fit's
            # check only: from_run's device=torch.device(...) scores, and set_threshold / set_params write nothing)
            use = f": pass device={str(dev)!r}" if type(dev).__name__ == "device" else ""    # (torch not imported here)
            raise ConfigError(f"device must be a str ('auto', 'cpu', 'cuda' or 'cuda:N'), got "
                              f"{'torch.device' if use else type(dev).__name__}{use}")
        for name in ("skip_bad", "verbose"):
            v = getattr(self, name, False)                          # (a Detector pickled before verbose existed)
            # (integers as scikit-learn's switches take them, and as these were read before: 0 / 1, and for verbose
            # any level >= 0, verbose=1 being the scikit-learn habit; what they mean is bool(v))
            if not isinstance(v, (bool, np.bool_)) and not (_is_whole(v) and (0 <= v if name == "verbose" else
                                                                               v in (0, 1))):
                # a string such as 'no' is true: skip_bad='no' left unreadable files out without an error
                raise ConfigError(f"{name} must be True or False, got {v!r}")
        rd = self.run_dir
        if rd is not None and not isinstance(rd, (str, os.PathLike)):
            raise ConfigError(f"run_dir must be a folder path (str or Path) or None (a temporary folder), got {rd!r}")
        lam = self.lam
        if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0 <= lam <= 1:    # (as given: see c)
            # a weight between L_n and L_o: outside [0, 1] one of them counts negatively (higher = less anomalous)
            raise ConfigError(f"lam must be a number in [0, 1] (the weight of L_n in a; the paper's 0.05), got {lam!r}")
        if training and (refusal := self._preset_refusal()) is not None:
            # (from_run of a RunConfig's run keeps its preset 'custom', so that get_params says what the run is; a fit
            # of it, or of a clone, is refused here, as a mistyped preset is, before its images are decoded: minutes
            # for a big folder, only to be told the preset's name was wrong)
            raise refusal

    def _validate_ablations(self) -> None:
        """Refuse a bad g_image_loss or gp_target in the words TrainConfig / RunConfig refuse the CLI's --g-image-loss
        and --gp-target with (config's shared problem texts), the parameter named as the Detector's. Checked for every
        method, as search_steps is: a typo is refused where it is made."""
        from .config import G_IMAGE_LOSS_ENCODER_WORDS, G_IMAGE_LOSS_METHOD_PROBLEM, GP_TARGET_PROBLEM

        # (getattr: a Detector pickled before the two parameters existed trained with their defaults)
        w, t = getattr(self, "g_image_loss", 0.0), getattr(self, "gp_target", 1.0)
        wf = as_float(w) if _is_real(w) else None
        if wf is None or not (math.isfinite(wf) and wf >= 0):
            raise ConfigError(f"g_image_loss must be a number >= 0, got {w!r}"
                              f"{_PAST_FLOATS if _is_real(w) and wf is None else ''}")
        tf = as_float(t) if _is_real(t) else None
        if tf is None or not (math.isfinite(tf) and tf > 0):
            raise ConfigError(f"gp_target {GP_TARGET_PROBLEM}, got {t!r}"
                              f"{_PAST_FLOATS if _is_real(t) and tf is None else ''}")
        if wf > 0 and self.method in G_IMAGE_LOSS_METHOD_PROBLEM:
            # (RunConfig refuses it too, after the images were read: said before, with the method as given here)
            problem = G_IMAGE_LOSS_METHOD_PROBLEM[self.method].replace(f"method {self.method}",
                                                                      f"method={self.method!r}")
            raise ConfigError(f"g_image_loss {problem}, got {w!r}")
        if wf > 0 and self.encoder_loss != "image":
            raise ConfigError(G_IMAGE_LOSS_ENCODER_WORDS.format(f"g_image_loss={w!r}",
                                                                f"encoder_loss={self.encoder_loss!r}"))

    def _preset_refusal(self) -> ConfigError | None:
        """Why a fit cannot build its config from self.preset (None where it can): 'custom' (a RunConfig's) or a name
        that is none of PRESETS, said with the known ones. Asked before a fit reads its images (_validate) and by
        from_run's _refit_differences (through _run_config)."""
        from .config import PRESETS, unknown_names_text

        p = self.preset
        if p == "custom":
            return self._custom_preset_refusal()
        if isinstance(p, str) and p in PRESETS:
            return None
        return ConfigError(f"{unknown_names_text('preset', [p], PRESETS, list_known=False)}: "
                           f"choose one of {', '.join(sorted(PRESETS))}")

    def _custom_preset_refusal(self) -> ConfigError:
        """The refusal of a fit with preset 'custom': a RunConfig's preset (built in Python, trained by
        wildgan.training.run.train_run), which Detector.from_run of such a run takes as it is, so that its parameters
        say what the run is. Detector has no such preset: its fit builds the networks and the schedule from one of
        PRESETS, and could not train that config's own (its minibatch schedule, its networks) again. It was refused
        as an unknown preset, as if the caller had typed a wrong name: the words say where it came from and what
        does train that config again, naming the run's file where run_dir is one."""
        from .config import PRESETS

        rd = self.run_dir
        file = Path(rd) / "config.json" if isinstance(rd, (str, os.PathLike)) and rd else None
        where = f"{file}" if file is not None and file.is_file() else "the run's config.json"
        return ConfigError(
            f"preset 'custom' is a RunConfig's (built in Python and trained by wildgan.training.run.train_run, as "
            f"{where} says), which Detector cannot fit: its fit builds the networks and the minibatch schedule from "
            f"one of its presets ({', '.join(sorted(PRESETS))}), not from that config. To train that run again, give "
            f"its config to train_run: train_run(read_run_config(RUN), NEW_RUN_DIR) (wildgan.config.read_run_config "
            f"reads {where}); or set_params(preset=...) one of Detector's presets to fit its own networks")

    # -------------------------------------------------------------------------------------------- config
    def _run_config(self, data_cfg: Any, resolution: int, channels: int) -> Any:
        from .config import (PRESETS, FAnoGANConfig, RunConfig, ScoreConfig, SearchConfig, TrainConfig,
                             default_checkpoint_kimg, net_config_for_preset, paper_total_kimg)

        if (refusal := self._preset_refusal()) is not None:      # (fit has said it already; from_run's refit asks)
            raise refusal
        phase = float(self.phase_kimg)
        total = self.total_kimg
        if total is None:  # the CLI's default: growth to full resolution, then 2/3 of a phase
            total = paper_total_kimg(resolution, phase, phase)
        train = TrainConfig(total_kimg=float(total), phase_kimg=phase,
                            minibatch=dict(PRESETS[self.preset]["minibatch"]),
                            encoder_loss="none" if self.method == "search" else self.encoder_loss, seed=int(self.seed),
                            minutes=self.minutes, checkpoint_kimg=default_checkpoint_kimg(float(total)),
                            device=self.device, threads=int(self.threads) if self.threads else None,
                            # (float: a numpy number is no JSON number, and an int 1 would be recorded as 1 where
                            # the default writes 1.0; getattr: a Detector pickled before they existed)
                            g_image_loss=float(getattr(self, "g_image_loss", 0.0)),
                            gp_target=float(getattr(self, "gp_target", 1.0)))
        width = getattr(self, "width", None)
        fan = FAnoGANConfig(seed=int(self.seed), minutes=self.minutes, device=self.device,
                            **({"dim": int(width)} if width is not None and self.method == "fanogan" else {}))
        if self.method == "fanogan" and self.preset != "fast":
            # said, not silently ignored: a 'tiny' f-AnoGAN fit otherwise trains the official width, 20x slower
            warn_user(f"preset={self.preset!r} sets the width of the pGAN networks; f-AnoGAN trains at "
                      + (f"width={width}" if width is not None else
                         f"its official width (dim {fan.dim}); width=D trains another"))
        if self.method == "fanogan" and float(getattr(self, "gp_target", 1.0)) != 1.0:
            # recorded as given (as the CLI records a typed --gp-target), but f-AnoGAN's loop has its own penalty
            warn_user(f"gp_target={self.gp_target!r} is the pGAN critic's target gradient norm; f-AnoGAN trains its "
                      f"critic with its official target 1")
        if self.method == "fanogan" and self.total_kimg is not None:
            iters = max(1, round(float(self.total_kimg) * 1000 / fan.batch_size))
            fan = replace(fan, gan_iters=iters, enc_iters=iters)
        # (for f-AnoGAN, width is its dim, above, and N_z is its own: the pGAN networks stay the preset's)
        pgan = self.method != "fanogan"
        latent_size = getattr(self, "latent_size", None)
        net = net_config_for_preset(self.preset, resolution, channels,
                                    width=width if pgan else None, latent_size=latent_size if pgan else None)
        # recorded for every method, as the CLI's --search-steps is (only a search run reads it): from_run then gives
        # back the value fit was given. A resume may change it (training.run.run_differences leaves the search
        # section out: it only matters at scoring time), and the resumed run's config records the new one
        search = SearchConfig(steps=int(getattr(self, "search_steps", 500)))
        return RunConfig(data=data_cfg, net=net, train=train, score=ScoreConfig(lam=float(self.lam)),
                         preset=self.preset, method=self.method, fanogan=fan, search=search)

    def _log(self, run_log: RunLog) -> Callable[[str], None]:
        def log(msg: str) -> None:
            # training's log lines in the API's terms, as its refusals are: a resume's warning that says "start again
            # with --overwrite" means fit without resume=True here
            msg = _api_words(msg)
            # into log.txt first: warnings filtered to errors raise the warning below, and the log must still say why
            # the fit stopped. A copy, as a CLI run's log: a write that fails (a full disk) never stops the fit
            run_log.write(msg)
            if self.verbose:
                print(msg)
            elif msg.startswith("warning: "):
                # a quiet Detector still tells its user what the CLI prints as a warning (a resume on other pixels,
                # a CUDA-graph fallback): a Python warning, not only a line in log.txt
                warn_user(msg[len("warning: "):])
        return log

    # -------------------------------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, *, X_val: Any = None, y_val: Any = None, resume: bool = False
            ) -> "Detector":
        """Train on images X (y is ignored: unsupervised). X_val / y_val (1 = anomaly) are only used by
        threshold='f1'. Returns self.

        resume=True continues an interrupted fit (Ctrl-C, SIGTERM) from the newest checkpoint in run_dir, with the
        same parameters and the same X (other images, or the same in another order, are refused: the run's split.json
        records their count and a checksum of their pixels); a fit without run_dir trains in a temporary folder that
        an interruption removes, unless it came as training ended (TrainingInterrupted.complete: the networks are
        saved, the folder is kept and named, and fit(X, resume=True) there finishes the fit)."""
        self._validate(training=True)
        # the run's log.txt, placed once the run folder is chosen (after the images are read: their warnings are
        # held for it), with every wildgan warning the fit gives, as a CLI run's log has
        run_log = RunLog()
        with _torch_threads(self.threads), copying_warnings(run_log):
            return self._fit(X, run_log, X_val=X_val, y_val=y_val, resume=bool(resume))

    def _fit(self, X: Any, run_log: RunLog, *, X_val: Any = None, y_val: Any = None, resume: bool = False
             ) -> "Detector":
        from .scoring.run import load_model
        from .training.run import check_lock_free, train_run, trained_line

        if resume and self.run_dir is None:
            raise ConfigError("resume=True continues a fit from the checkpoints in its run_dir: give "
                              "Detector(run_dir=...) (a fit without one trains in a temporary folder that an "
                              "interruption removes)")
        check_path_input(X, "X")     # (before '' could be read as the working folder and trained on)
        kept_val = None              # X_val's data-set file as the check below read it: scored after the training
        if self.threshold != "f1":
            if X_val is not None or y_val is not None:
                _warn_val_set_unused("fit", _rule_text(self.threshold, self.contamination, self.mad_k),
                                     "Detector(threshold='f1')")
            # neither read nor checked: a validation set the rule ignores cannot cost the fit (a NaN in it was
            # refused, though nothing would have read it)
            X_val = y_val = None
        elif X_val is None or y_val is None:
            raise ConfigError("threshold='f1' needs a labelled validation set: fit(X, X_val=..., y_val=...)")
        else:
            kept_val = self._check_val_set(X_val, y_val)
        if self.run_dir is not None:
            # a run_dir another process is training in: said now, not after the images are decoded (minutes for a
            # large folder); train_run's lock is still what keeps it out
            check_lock_free(Path(self.run_dir))
        from contextlib import nullcontext

        from .data.imageset import resolution_settled

        # (a resume reads its images for the run's own resolution: no word that another one would keep to their size)
        with resolution_settled() if resume else nullcontext():
            split, data_cfg, conv = self._training_split(X, resume)
        x, ids = split.train_x, split.train_ids
        resolution, channels = int(x.shape[1]), int(x.shape[3])
        cfg = self._run_config(data_cfg, resolution, channels)
        self._check_enough_images(len(x), cfg)     # before a run directory is made: nothing to clean up
        temp, run_dir = self._claim_run_dir(resume)
        run_log.path = run_dir / "log.txt"
        trained = False
        unmarked: list[OSError] = []

        def mark() -> None:
            # a marker that cannot be written (a full disk) is raised once the training counts as done, below: raised
            # inside train_run, it lost the finished training (a temporary run_dir was deleted, not kept)
            try:
                _mark_fit_run(run_dir)
            except OSError as e:
                unmarked.append(e)

        try:
            # (train_run makes run_dir once its refusals are passed: a refused fit leaves no folder behind)
            # fit() trains from scratch (sklearn semantics), also into a run_dir used by an earlier fit; resume=True
            # continues the run there
            # (fit says a run not grown to full resolution in its own words, _warn_if_not_grown: not twice)
            # (run_log keeps the run's log.txt, which train_run leaves to it: runlog.kept_by_caller)
            fit_log = self._log(run_log)
            result = train_run(cfg, run_dir, split=split, overwrite=not resume, resume=resume,
                               progress=bool(self.verbose), log=fit_log, before_unlock=mark, warn_not_grown=False)
            trained = True
            self.__dict__.pop("_inherited_run", None)   # the run in run_dir is this fit's own now: a refit says nothing
            # the line that ends a `wildgan train` run's (or a train_run's) log: what was trained and how it ended
            fit_log(trained_line(result))
            if unmarked:
                raise unmarked[0]
            # the run folder as an absolute path from here on (run_dir_, the networks' source): a relative run_dir
            # kept relative was read against whatever the working directory is later, and after an os.chdir the
            # run's training scores were "gone" and the networks not the run's own. run_dir itself stays as given
            # (a parameter fit does not change), and so does what the training said of its folder
            where = Path(os.path.abspath(run_dir))
            model = load_model(where, self.device, checkpoint=None if result.final is None else
                               Path(os.path.abspath(result.final)))
            self.model_ = model
            self.__dict__.pop("_pending_run_scores", None)    # (from_run's read of the run it replaces: moot)
            self.run_dir_ = where
            if temp is None:
                _LIVE_RUN_DIRS[os.path.abspath(run_dir)] = self
            self._temp_run_dir = temp   # keeps a temporary run_dir_ alive as long as this Detector (and its copies)
            self.resolution_ = resolution
            self.channels_ = channels
            self.image_shape_ = tuple(split.info["image_shape"]) if split.info.get("image_shape") else None
            self.conversion_ = dict(conv)
            scores = self._score_u8(x)
            # cached so that from_run(run_dir) and `wildgan score --threshold` find the training scores; the run has
            # no data spec to rebuild in-memory images from, so the other pGAN protocol is cached too (one cheap pass)
            self._scoring = self._scoring_now()
            # (under the mode that matters: search and f-AnoGAN have one protocol, cached as 'mixed', which is what
            # from_run and `wildgan score` look for whatever batch_mode this Detector was given)
            write_train_scores(run_dir, model, ids, scores, self._scoring[2])
            self._train_scores = {"lam": float(self.lam), self._scoring[2]: scores}
            if self.method == "wildgan":
                other = "isolated" if self.batch_mode == "mixed" else "mixed"
                self._train_scores[other] = self._score_u8(x, other)
                write_train_scores(run_dir, model, ids, self._train_scores[other], other)
            self.decision_scores_ = scores[self.score_]
            self.n_train_ = int(len(x))
            with reusing_read(kept_val):      # (X_val's file, if the check read one, not read a second time)
                self._set_threshold(X_val, y_val)
            # the threshold predict uses, recorded for the run's report, which has only the run folder: fit writes
            # that folder anyway (set_threshold / set_params, which do no I/O, leave the record as fit wrote it)
            write_fit_threshold(run_dir, self.threshold_rule_, batch_mode=self._scoring[2], lam=float(self.lam),
                                weights_sha256=model.meta.get("sha256"))
        except BaseException as e:
            for k in FITTED_ATTRS:      # a failed fit leaves the Detector unfitted, not half-fitted
                self.__dict__.pop(k, None)
            said = _failed_fit(e, temp, run_dir, trained=trained, resume=resume, seed=self.seed)
            if run_dir.is_dir() and not isinstance(e, ConfigError):
                # log.txt says how the fit ended, as a `wildgan train` run's does (a refusal ran nothing, and a
                # temporary run_dir removed above has no log to write)
                try:
                    run_log.write(f"stopped: {str(said or e) or type(e).__name__}")
                except OSError:
                    pass                     # (the error being raised says more than a log that cannot be written)
            if said is not None:
                raise said from None
            raise
        self._warn_if_not_grown(cfg, result, run_log)
        self._warn_if_short_on_a_pile(split.info, result, run_log)
        return self

    def _check_val_set(self, X_val: Any, y_val: Any) -> "KeptRead | None":
        """Refuse now what the f1 threshold's read of X_val / y_val (_set_threshold: decision_function, then the
        labels) would refuse after the long part of fit (the training) or from_run (scoring the run's training
        images): a mistake there cost that part, and fit's run. Named as the caller's arguments ('X_val: ...').
        Returns X_val's data-set file (an .npz, CIFAR-10's batches) as read whole here, for _set_threshold to score
        within reusing_read (a second read of the whole file, otherwise); None for any other X_val."""
        check_path_input(X_val, "X_val")
        # images given as nested lists converted for these checks alone, and dropped: held through the training as
        # int64 / float64 arrays they took ~8x the memory of the images (47 MiB for 2,000 32x32x3); the read after
        # it converts them again, once (_images_ids)
        arrays = read_nested_lists(X_val, "X_val")
        # its arrays: a masked or NaN pixel found by the read after training was named as 'images' of no argument
        check_image_arrays(arrays, "X_val")
        # the labels, and their count against X_val's images where it is known without decoding them (the read
        # after training leaves no file out, whatever skip_bad: its count is exact)
        y = to_numpy(y_val, "y_val")
        n_val = count_images(arrays)
        # (n_val passed as the one option: its message names X_val's images, not scores that do not exist yet)
        # an .npz is read whole, its training and test images alike: said, since labels of its test part alone
        # (its y_test) are the likely mistake; in parentheses, so that the count after it is the file's (after
        # ', and x_test, which holds 60 image(s)' the 60 read as x_test's)
        path = isinstance(X_val, (str, Path))
        whole = " (an .npz, read whole: x or x_train, and x_test)" if path and n_val is not None and \
            Path(X_val).suffix.lower() == ".npz" else ""
        named = f"X_val {X_val}{whole}" if path else "X_val"
        check_val_labels(y, None, (n_val,) if n_val is not None else _array_counts(arrays), named, "y_val")
        # its paths: one that is not there, a folder or archive without images, a data-set file whose arrays the
        # read refuses (read whole now, seconds against the training's minutes)
        kept: list[KeptRead] = []
        n_read = check_image_paths(arrays, "X_val", getattr(self, "depth16", "per-image"), keep=kept)
        if n_val is None and n_read is not None:
            # (a tar archive's or CIFAR-10 batches' count, known once they are listed or read above)
            check_val_labels(y, None, (n_read,), named, "y_val")
        return kept[0] if kept else None

    def _training_split(self, X: Any, resume: bool = False) -> tuple[Any, Any, dict[str, Any]]:
        """(the AnomalySplit to train on, the DataConfig the run records, the conversion rule kept for scoring):
        a DataConfig through the CLI's data protocols, anything else decoded by _images_split. resume=True
        continues a DataConfig without its own fit by the fit run_dir's run recorded."""
        from .config import DataConfig
        from .data import build_split, conversion_opts

        if not isinstance(X, DataConfig):
            return self._images_split(X)
        # the Detector's resize_mode converts the images unless the DataConfig sets its own fit (ignored, the
        # protocol's rule was applied and recorded); the default 'resize', which cannot be told from one given, leaves
        # the protocol's rule (MNIST's 'pad'), as `wildgan train` applies it
        fit = X.fit if X.fit is not None else None if self.resize_mode == "resize" else self.resize_mode
        # a resume continues the run by the rule its images were trained by: its config.json's data.fit (None: the
        # protocol's), whatever resize_mode says now. A run an earlier wildgan's Detector(resize_mode='pad') fitted
        # recorded None (resize_mode was ignored there), and its resume was refused 'data.fit: None -> 'pad''
        recorded = _recorded_data_fit(Path(self.run_dir)) if resume and X.fit is None and \
            self.run_dir is not None else _NO_RECORD
        data_cfg = replace(X, data=SAMPLE_TOKEN if is_sample_path(X.data) else X.data,
                           resolution=X.resolution or self.resolution, channels=X.channels or self.channels,
                           fit=fit if recorded is _NO_RECORD else recorded)
        from contextlib import nullcontext

        from .data.imageset import resolutions_taken

        # (f-AnoGAN's networks take 32 or 64 only: the word of the automatic resolution's enlargement advised
        # resolution=16 for 30x20 images, which method='fanogan' refuses; _images_split's infer_geometry says it so)
        with resolutions_taken(*FANOGAN_SIZES) if self.method == "fanogan" else nullcontext():
            split = build_split(data_cfg)
        trained = split.info.get("conversion", {}).get("fit")
        if recorded is not _NO_RECORD:
            own = fit or _protocol_fit(split.info, X.square)
            if own is not None and own != trained:
                # not refused (the run is this Detector's to continue: the same one, or one of an earlier wildgan),
                # nor changed in silence: the images of the rest of the run are converted as its first ones were
                warn_user(f"run_dir {self.run_dir} was trained on images converted by fit {trained!r}: "
                          f"fit(resume=True) continues it so, not by {own!r}, the rule this Detector "
                          f"(resize_mode={self.resize_mode!r}) converts this DataConfig by (a fit without resume "
                          f"applies it; a DataConfig that sets fit= itself must be the run's)")
            fit = data_cfg.fit
        elif X.fit is None and fit is not None and trained == _protocol_fit(split.info, X.square):
            # resize_mode is the protocol's own rule (from_run's Detector of an MNIST run has 'pad'): the run records
            # data.fit None, as a Detector() fit of it does, rather than a setting the images never needed, which
            # made the resume of a run recorded so refused 'data.fit: None -> 'pad''
            fit = None
        # whether this Detector's resolution and channels were given ('chosen') or left to what it was fitted on
        # ('data': the DataConfig's, or its data's protocol default): from_run's parameters (_fit_resolution,
        # _fit_channels), as the image path's record gives them. Not the conversion's channels_from, which is the
        # DataConfig's (a count the protocol fixes is 'chosen' there), nor detector_input, which would make the run
        # a pile of fit's images to every reader of split.json
        split.info["detector_fit"] = {"resolution_from": "data" if self.resolution is None else "chosen",
                                      "channels_from": "data" if self.channels is None else "chosen"}
        data_cfg = replace(data_cfg, resolution=split.resolution, channels=split.channels, fit=fit)
        return split, data_cfg, conversion_opts(split.info)

    def _images_split(self, X: Any) -> tuple[Any, Any, dict[str, Any]]:
        """Images in memory, paths, a folder or a data-set file (wildgan.data.inputs) as a training split of one
        class, converted like the CLI's training data, with the DataConfig and the conversion rule that let
        `wildgan score` / evaluate convert new images the same way."""
        from .config import DataConfig
        from .data import AnomalySplit
        from .data.imageset import native_sides, tiny_images_warning, trained_depth, warn_crop, warn_decode_stats
        from .data.splits import TRAIN_ORDER_READ, all_colour, gray_trained_record

        # floats: the range of all the training floats together (or the one given), kept for every later call
        given = getattr(self, "pixel_range", "auto")           # (a Detector pickled before pixel_range existed)
        # images given as nested lists read once: the float range and the images were each read from the lists
        arrays = read_nested_lists(X)
        frange = given if given != "auto" else input_float_range(arrays)
        depth16 = getattr(self, "depth16", "per-image")
        stats: dict[str, Any] = {}
        # (files are shrunk while read to the largest resolution this fit can choose, and read again if it
        # chooses a smaller one: f-AnoGAN's networks take 64 at most)
        most = self.resolution or (64 if self.method == "fanogan" else MAX_AUTO_RESOLUTION)
        try:
            items, ids = decode_items(arrays, depth16, skip_bad=bool(self.skip_bad), float_range=frange, stats=stats,
                                      limit=most, fit=self.resize_mode, channels=self.channels, read_for="training")
        except DataError as e:
            raise _unreadable_in_api_words(e, API_SKIP_BAD) from None
        # (nested lists' int64 / float64 copies, ~8x the uint8 images: dropped before the conversions below allocate)
        del arrays
        # (f-AnoGAN takes 32 or 64 only: the one of them at or above the power of two inferred, of whose
        # enlargement the word is then said, advising only a size f-AnoGAN takes; it said none)
        res, ch = infer_geometry(items, self.resolution, self.channels, ids, fit=self.resize_mode,
                                 taken=FANOGAN_SIZES if self.method == "fanogan" else None)
        warn_decode_stats(stats, "images", depth16, option="depth16=")
        every = item_shapes(items)
        # (named X: X_val's, scored after the training, says X_val)
        warn_crop({s[:2] for s in every}, self.resize_mode, res, "X", hint="Detector(resize_mode='letterbox')")
        # (at the automatic resolution, as the CLI's readers say it: decode_pool.stack)
        tiny = None if self.resolution is not None else tiny_images_warning(
            ((ids[i] if i < len(ids) else f"image {i}", s[:2]) for i, s in enumerate(every)), res,
            option="resolution=")
        if tiny:
            warn_user(tiny)
        refit(items, res, depth16, self.resize_mode, ch)
        x = convert_items(items, res, ch, self.resize_mode)
        shapes = set(every)
        colour = self.channels is None and ch == 3 and all_colour(x)
        conv = {"fit": self.resize_mode, "depth16": depth16, "native_sides": native_sides(s[:2] for s in shapes),
                **({"float_range": frange} if frange else {}),
                # the training images' bit depth: 16-bit images scored later with a fit on 8-bit ones are read as
                # their 8-bit copies (data.imageset.scoring_depth16)
                "trained_depth": trained_depth(int(stats.get("n16", 0)), int(stats.get("n8", 0))),
                # what the networks learn from: images of the other kind scored later are warned about. Colour as
                # the CLI's split records it (all_colour: no image gray, gray stored as RGB included), since the
                # warning counts such images as gray (transforms.own_channels): RGB-stored gray training images
                # recorded as colour made the same kind of image, scored, 'gray images ... trained on colour'.
                # colour_rule says so: a record without it (a fit before it) was by shape, and images to score are
                # then counted by shape too (data.readers.trained_kind)
                **({"gray_data": True} if self.channels is None and ch == 1 else
                   {"colour_data": True, "colour_rule": "content"} if colour else {}),
                # colour but not all colour: how many of the images were gray, gray images to score being odd only
                # when far more of them are (data.readers.channel_warning's gray_share)
                **(gray_trained_record(x, colour) if self.channels is None else {})}
        src = str(Path(X).resolve()) if isinstance(X, (str, Path)) else f"in-memory {type(X).__name__}"
        # fit recorded in the run's config too: evaluate / score --data convert new data like the training data,
        # and `wildgan train --config` replays it from any folder (an absolute path, as the CLI records)
        # (a folder or an archive is read as a pile: every file, whatever folders it is in; a data-set file, an .npz
        # or CIFAR-10's batches, whole, labels ignored: 'unlabelled' reads each so. 'auto' replayed a labelled one by
        # its protocol, which wants a normal class or, for CIFAR-10's class names, trains on automobile alone)
        pile = isinstance(X, (str, Path)) and (Path(X).is_dir() or is_dataset_file(X))
        data_cfg = DataConfig(data=_recorded_data_path(X) if isinstance(X, (str, Path)) else None,
                              dataset="unlabelled" if pile else "auto", resolution=res, channels=ch,
                              seed=int(self.seed), fit=self.resize_mode, depth16=depth16,
                              skip_bad=bool(self.skip_bad))
        image_shape = [int(v) for v in shapes.pop()] if len(shapes) == 1 else None
        # (split.json's record also counts the images of each depth, as the CLI's does; conversion_ holds only what
        # converts images to score, the options data.readers.iter_images takes)
        counts = {"files_16bit": int(stats.get("n16", 0)), "files_8bit": int(stats.get("n8", 0))}
        # trained in the order read (a folder's files sorted by path), not shuffled by the seed as a DataConfig's
        # split is: recorded, so that a replay of the run's config puts the pile it reads in this order too
        # (and the pixel_range given, which float_range alone does not tell from a guess of 'auto': from_run's
        # parameters then hold it, and a clone of that reads its training floats as this fit did. In the conversion,
        # which a `wildgan train --resume` of the run keeps as the fit's: splits.keep_fit_record)
        given_range = {"pixel_range": given} if given != "auto" else {}
        # whether the resolution was taken from the images ('data') or given ('chosen', as the CLI's channels_from
        # words it): from_run's resolution parameter, None where fit chose it, so that its clone's fit chooses anew
        # for its own images (_fit_resolution)
        origin = {"resolution_from": "data" if self.resolution is None else "chosen"}
        info = {"protocol": "detector", "source": src, "detector_input": True,
                "conversion": {**conv, **counts, **given_range, **origin}, "resolution": res, "channels": ch,
                "image_shape": image_shape, "native_sides": conv["native_sides"], "train_order": TRAIN_ORDER_READ}
        split = AnomalySplit(x, np.zeros(len(x), np.int8), ids, x[:0], np.zeros(0, np.int8), [], res, ch, info)
        return split, data_cfg, conv

    def _claim_run_dir(self, resume: bool = False) -> tuple["_TempRunDir | None", Path]:
        """(the temporary run directory, or None; the folder fit trains in): a new temporary one without run_dir,
        else run_dir, which fit may replace only when an earlier fit wrote it (said when a live Detector's run)."""
        if self.run_dir is None:
            temp = _TempRunDir()
            return temp, temp.path
        run_dir = Path(self.run_dir)
        other = _LIVE_RUN_DIRS.get(os.path.abspath(run_dir))
        other_rd = getattr(other, "run_dir_", None)
        if other is not None and other is not self and other_rd is not None and \
                os.path.abspath(other_rd) == os.path.abspath(run_dir):
            # e.g. clone(A).fit(...) keeps A's run_dir: A's in-memory networks stay A's, but the folder (what from_run
            # and `wildgan score` read) becomes this fit's. Only while A is alive and still A's run: a re-run
            # notebook cell whose old Detector is gone replaces its own run, as expected, and so does a fit into a
            # folder A has left (A refitted into another run_dir, or a failed refit left A unfitted)
            if resume:
                # fit(resume=True) continues the run rather than replacing it, but the folder still stops matching
                # the other Detector's networks in memory, which is worth a word (in words that do not say replace)
                warn_user(f"run_dir {run_dir} holds the run of another live Detector: this fit(resume=True) "
                          f"continues it, so the folder's networks (what Detector.from_run({str(run_dir)!r}) and "
                          f"`wildgan score` read) will be the continued ones, no longer that Detector's")
            else:
                warn_user(f"run_dir {run_dir} holds the run of another live Detector: this fit replaces it "
                          f"(Detector.from_run({str(run_dir)!r}) and `wildgan score` will read the new networks); "
                          f"give each Detector its own run_dir to keep both")
            said = True
        else:
            said = False
        _refuse_a_run_fit_did_not_write(run_dir)
        inherited = getattr(self, "_inherited_run", None)
        if not said and not resume and inherited is not None and inherited[0] == os.path.abspath(run_dir) and \
                _holds_a_run(run_dir):
            # a clone (sklearn.base.clone, a copy, or from_run's or Detector.load's Detector) keeps run_dir without its
            # caller choosing it: its fit replaced the run it came from in place, without a word once that Detector was
            # gone (or, loaded, in a later session). (Not fit(resume=True): that continues the run, replacing nothing)
            # ('load-since': a pickle of a Detector loaded by a wildgan that asked whether the run held its networks
            # then, asked again below)
            kind = "load" if inherited[1] == "load-since" else inherited[1]
            how = {"from_run": "was loaded from it by Detector.from_run",
                   "load": "was fitted in before it was saved (Detector.load gave it that run_dir)",
                   "copy": "came with as a copy (pickle, copy.copy or copy.deepcopy) of the Detector fitted in it"}.get(
                kind, "was cloned (sklearn.base.clone) from a Detector that held it")
            # a run trained there again since (a refit of the original, or of another Detector) holds other networks
            # than the ones this Detector came with: "the run this Detector ..." was false of it
            since = {"load": "was saved from it (Detector.load gave it that run_dir, the one it was fitted in)",
                     "copy": "was copied (pickle, copy.copy or copy.deepcopy) from the Detector fitted in it",
                     "from_run": "was loaded from it by Detector.from_run"}.get(kind)
            held = f"the run this Detector {how}" if since is None or self._networks_in(run_dir) else \
                f"a run trained there since this Detector {since}"
            warn_user(f"run_dir {run_dir} holds {held}: this fit replaces that run in place, "
                      f"its networks and training scores included (Detector.from_run({str(run_dir)!r}) and `wildgan "
                      f"score` will read the new networks); set_params(run_dir=...) to another folder keeps both, or "
                      f"to this one says the replacement is meant")
        return None, run_dir

    def _check_enough_images(self, n: int, cfg: Any) -> None:
        """The training loop's rule (training.loop.train_pgan: no minibatch larger than the data set, or it would hold
        an image twice and skew the minibatch-stddev statistic), said in the Python API's terms: its own message
        names CLI options (--preset, --config)."""
        from .config import PRESETS, largest_minibatch

        if cfg.method not in ("wildgan", "search"):
            return                      # f-AnoGAN checks its batch size itself, in words that fit both APIs
        res = cfg.net.resolution

        def need(minibatch: dict[int, int]) -> int:
            return largest_minibatch(minibatch, res)

        biggest = need(cfg.train.minibatch)
        if n >= biggest:
            return
        smaller = {p: need(v["minibatch"]) for p, v in PRESETS.items() if need(v["minibatch"]) < biggest}
        fix = ", or use " + " or ".join(f"preset={p!r} (at least {k})" for p, k in smaller.items()) if smaller else ""
        raise DataError(f"only {n} training image{'s' if n != 1 else ''}: Detector(preset={self.preset!r}) trains "
                        f"{res}x{res} networks in minibatches of up to {biggest} images, so fit needs at least "
                        f"{biggest} images (no minibatch may hold an image twice). Add images{fix}: the preset is "
                        f"the only Detector argument that sets the minibatch sizes (others need a run trained by "
                        f"wildgan.training.run.train_run with a RunConfig's train.minibatch, loaded with "
                        f"Detector.from_run)")

    def _warn_if_not_grown(self, cfg: Any, result: Any, run_log: RunLog) -> None:
        """A total_kimg (or a minutes budget) that ends before the last fade-in leaves networks that never reached
        the input resolution: they are scored at the resolution they reached (trained_resolution_), which nothing
        else in a fit's output shows (resolution_ is the input resolution). The CLI says the same
        (cli.train._warn_if_not_grown)."""
        lod = self.model_.lod
        if cfg.method == "fanogan" or lod <= 0:
            return
        from .training.schedule import growth_advice, kimg_to_the_image

        t, r = cfg.train, cfg.net.resolution
        budget = result.status == "budget"
        g = growth_advice(t, r, budget)
        got = self.trained_resolution_
        fading = f", still fading in {got}x{got}" if lod != int(lod) else ""
        why = (f"the wall-clock budget (minutes={t.minutes:g}) ran out" if budget else
               f"total_kimg={kimg_to_the_image(t.total_kimg)} ended it")
        # in the last fade-in the networks are at the input resolution already, but not grown: 'reached' alone
        # would say the opposite of the warning
        where = f"were still fading in {r}x{r}" if got == r else f"reached {got}x{got}"
        # (phases shorter than a round of minibatches: the paper's total ends before growth too, and is not said)
        said_paper = f", and the paper's schedule (total_kimg=None) trains {g.paper} kimg" if g.paper_grows else ""
        # a budget stop of a run whose own total grows them needs more minutes only (growth_advice): advising the
        # total it had read as if its total were the problem
        how = (f"minutes=None or a larger budget (its total_kimg={g.own_total} grows them)" if g.total is None else
               f"total_kimg={g.total}{' (or None)' if g.paper_grows else ''}"
               f"{', minutes=None or a larger budget' if g.minutes else ''}")
        msg = (f"training ended at {kimg_to_the_image(result.nimg / 1000)} kimg ({why}), before the networks finished "
               f"growing to {r}x{r}: they {where} (lod {lod:g}{fading if got != r else ''}; trained_resolution_ = "
               f"{got}, while resolution_ = {r} is the input resolution) and images are scored at that resolution. "
               f"With phase_kimg={kimg_to_the_image(t.phase_kimg)} "
               f"they are grown to {r}x{r} at {g.grown} kimg (the end of the first round of minibatches at full "
               f"resolution){said_paper}: fit with {how}, or a smaller phase_kimg")
        run_log.write(f"warning: {msg}")    # the run's log says it too, as a CLI run's does (its copy is not made)
        warn_user(msg)

    def _warn_if_short_on_a_pile(self, split_info: dict[str, Any], result: Any, run_log: RunLog) -> None:
        """After a short training (config.short_training, the rule of `wildgan train`'s next step and the report) on
        images without labels, the decision function `a` can still follow the pixels and rank anomalies as the most
        normal images of all (README, 'Which score after a short training'), and nothing can show it: said at the end
        of the fit, naming the score to use instead. Not a change of the default, which would change documented
        results; not said where labels can check `a` (a labelled DataConfig, whose test split `wildgan evaluate`
        measures against its controls, or threshold='f1' with y_val), nor where the score is another than `a`."""
        from .config import SHORT_TRAINING_KIMG, short_training

        # (a fit on images or a folder records 'detector'; a DataConfig(dataset='unlabelled') records 'unlabelled')
        pile = split_info.get("protocol") in ("detector", "unlabelled")
        if not pile or self.threshold == "f1" or self.score_ != "a" or not short_training(self.method, result.nimg):
            return
        from .training.schedule import kimg_to_the_image

        msg = (f"fit trained {kimg_to_the_image(result.nimg / 1000)} kimg on images without labels, a short training "
               f"(under {SHORT_TRAINING_KIMG:g} kimg): the score a that decision_function, predict and threshold_ use "
               f"can still follow the pixels and rank anomalies as the most normal images of all, and no labels can "
               f"show it. Rank and flag by the residual L_r instead: det.set_params(score='L_r') on this Detector "
               f"(decision_scores_, threshold_ and labels_ follow, no training again), or Detector(score='L_r', ...) "
               f"for a new fit; trust a only after a longer training, or where labelled images show it above its "
               f"controls (README, 'Which score after a short training')")
        run_log.write(f"warning: {msg}")    # the run's log says it too, as it says the not-grown warning
        warn_user(msg)

    def _set_threshold(self, X_val: Any = None, y_val: Any = None) -> None:
        if self.threshold != "f1":
            # only f1 uses a validation set (fit and from_run warn that it is ignored): it was scored all the same,
            # and a file in it that cannot be read was refused after the training, which fit then lost
            X_val = y_val = None
        # the run's checksums of its training images, read first: X_val's images are then hashed as they are scored
        # (a folder's or a tar archive's chunk by chunk, as score_files reads them), not read a second time
        # (a run without them has them rebuilt where that costs little beside scoring X_val: its count, where known
        # without a read, says how many image files may be decoded for it; 0, the least, where it is not: a path, or
        # an array that may be one image of channels last rather than a stack of gray ones)
        ndim, shape = getattr(X_val, "ndim", 0), getattr(X_val, "shape", ())
        n_val = len(X_val) if isinstance(X_val, (list, tuple)) or ndim == 4 or ndim == 3 and shape[2] > 4 else 0
        trained, unchecked = self._train_hashes(n_val) if self.threshold == "f1" and X_val is not None else (None, "")
        val_hashes: list[np.ndarray] | None = None if trained is None else []
        try:
            # (warnings about X_val's images, as its conversion's crop, named X_val: they said 'images', as X's did)
            with warnings_about("X_val"):
                val_scores = None if X_val is None else \
                    self._scores(X_val, with_A=self._needs_A(), hashes=val_hashes)[self.score_]
        except DataError as e:
            # decision_function names its argument's images as 'images' / 'image 1': these are X_val's
            raise DataError(f"X_val: {e}") from None
        y = None if y_val is None else to_numpy(y_val, "y_val")
        if self.threshold == "f1" and y is not None:
            # named as the caller gave them (f1_threshold's own check says 'validation labels')
            # (counted against X_val's images, as fit's check before training counts them: the caller gave images,
            # not the scores they became)
            y = check_val_labels(y, None, None if val_scores is None else (len(val_scores),), labels="y_val")
            if val_hashes:
                self._warn_val_trained_on(val_hashes[0], trained, y)
            elif unchecked:
                # as `wildgan evaluate` notes it for data it cannot check (evaluation.run._warn_training_images):
                # silent, a threshold chosen on the Detector's own training images read as one chosen on new ones
                warn_user(f"X_val: not checked for images this Detector was trained on ({unchecked}): any among "
                          f"them score as images the networks saw, and bias the f1 threshold chosen on them")
        self._use_threshold(fit_threshold(self.threshold, self.decision_scores_,
                                          contamination=float(self.contamination), k=float(self.mad_k),
                                          val_scores=val_scores, val_labels=y))

    def _train_hashes(self, n_scored: int = 0) -> tuple[np.ndarray | None, str]:
        """(the image_hashes of the images this Detector was trained on, as its run keeps them (data.splits.
        read_train_hashes), ''); for a run without them (gone, damaged, or trained before they were kept), those
        rebuilt from the run's data where that is cheap beside scoring n_scored images, and kept in the run for next
        time, as `wildgan evaluate` does, by the same function (evaluation.run.rebuilt_train_hashes: an array data
        set, a decoded cache, or no more image files than are scored). (None, why in words) for a Detector without its
        run folder, one whose split.json or config.json does not read, or a run whose hashes cannot be rebuilt
        cheaply (a record only: the threshold is chosen whatever it says). An .npz run said 'not checked' here where
        evaluate checked the same images."""
        from .config import read_run_config
        from .data.splits import read_train_hashes
        from .evaluation.run import rebuilt_train_hashes
        from .scoring.run import read_split_info

        run_dir = getattr(self, "run_dir_", None)
        if run_dir is None:
            return None, "it has no run folder here, which keeps their checksums"
        run = Path(run_dir)
        if not self._networks_in(run):
            # fitted again since (a loaded Detector's run, or from_run's): its checksums are the new training's images,
            # which X_val was said to hold where it held them, while this Detector's own went unsaid
            return None, (f"its run {run} was trained again since this Detector's networks came from it, and keeps "
                          f"the checksums of that training's images")
        try:
            recorded = read_split_info(run)
            hashes = read_train_hashes(run, recorded)
            if hashes is not None:
                return hashes, ""
            hashes, why = rebuilt_train_hashes(run, read_run_config(run), recorded, n_scored)
        except (OSError, WildganError) as e:
            return None, f"its run {run} does not read: {e}"
        # (evaluate's words name the run before them: 'it' is the run)
        return hashes, "" if hashes is not None else f"its run {run}: {why}"

    def _warn_val_trained_on(self, hashes: np.ndarray, trained: np.ndarray, y: np.ndarray) -> None:
        """Warn where the validation images, labelled y, include images this Detector was trained on: their
        image_hashes (of the images converted, as scored) among `trained` (_train_hashes: the same pixels, as
        `evaluate --data` counts them). Their scores are of images the networks saw, which tend to score as normal,
        and bias the f1 threshold chosen on them. Whatever the kind of X_val (arrays, files, a folder, a tar
        archive): the hashes come from the read that scores it."""
        seen = np.isin(hashes, trained)
        m = int(seen.sum())
        if not m:
            return
        n_anomalous = int((np.asarray(y)[seen] == 1).sum())
        warn_user(f"X_val: {m} of its {len(hashes)} images ({m - n_anomalous} normal, {n_anomalous} anomalous) are "
                  f"images this Detector was trained on (the same pixels): their scores are of images the networks "
                  f"saw, which tend to score as normal, so the f1 threshold chosen on them is not that of new images; "
                  f"choose it on images the Detector did not train on")

    def _use_threshold(self, thr: Threshold, score: str | None = None) -> None:
        """threshold_rule_ (naming the score it was fitted on: score, else score_), threshold_ and labels_ from a
        fitted threshold."""
        self.threshold_rule_ = replace(thr, params={**thr.params, "score": score or self.score_})
        self.threshold_ = float(thr.value)
        self.labels_ = self.threshold_rule_.apply(self.decision_scores_)

    def _take_run_scores(self, call: str) -> None:
        """For from_run's Detector whose run's training scores were not cached: read them now (run_training_scores:
        computed from the run's data, and cached as from_run caches them), and derive what from_run would have from
        them (decision_scores_, n_train_, threshold_rule_, threshold_, labels_), with from_run's settings, whatever
        was assigned since (_sync_scoring then re-derives them for those, as after an eager from_run). Nothing to do
        for any other Detector. call: the method (or attribute) the user called, which a refusal names: its read of
        the run's data is what the refusal stops (decision_function needs none)."""
        if self.__dict__.get("_pending_run_scores") is None:
            return
        with _run_scores_lock(self):
            # (another thread may have read them while this one waited: then nothing is left to do)
            pending = self.__dict__.get("_pending_run_scores")
            if pending is not None:
                self._read_pending_run_scores(pending, call)

    def _read_pending_run_scores(self, pending: _PendingRunScores, call: str) -> None:
        """_take_run_scores's read, under its lock."""
        run_dir = self.__dict__.get("run_dir_")
        if run_dir is None:
            # a copy unpickled where the run folder is not (__setstate__ drops it): nothing to read the scores from
            raise DataError(f"Detector.{call} needs the training scores of the run in {pending.run_dir or 'a folder'},"
                            f" which Detector.from_run left to be read at the first call that needs them, and that "
                            f"folder is not here: this Detector was copied (pickled) from another process or machine "
                            f"before they were read. Read them there first (det.threshold_ reads them) and copy it "
                            f"again, or fit again here; decision_function and score_all need none")
        if not Path(run_dir).is_dir() or not (Path(run_dir) / "config.json").is_file():
            # (moved or deleted since from_run: "trained again", which _networks_in would answer, advised from_run of
            # a folder that is not there)
            raise DataError(f"Detector.{call} needs the training scores of the run in {run_dir}, which "
                            f"Detector.from_run left to be read at the first call that needs them, and that run is "
                            f"not there now (moved or deleted since from_run): put it back, or call Detector.from_run "
                            f"on its new place; decision_function and score_all need no training scores")
        if not self._networks_in(Path(run_dir)):
            # the run trained again since from_run: a new training's data and split are its own, and these networks'
            # scores on them are not what from_run would have derived (nor is the run's data "changed since
            # trained"). A resume that trained further is refused the same (its networks are not these either), but it
            # keeps the training set: the words name both (they said "its training set is now the new training's",
            # untrue of a resume, which sent the user looking for a change of data there was not)
            raise DataError(f"Detector.{call} needs the training scores of the networks Detector.from_run read from "
                            f"{run_dir}, and that run was trained again since (a new training, whose training set "
                            f"is its own, or a resume that trained it further): it holds other networks now. Call "
                            f"Detector.from_run({str(run_dir)!r}) again for the networks it holds; decision_function "
                            f"and score_all of this Detector need no training scores")
        try:
            self._read_run_training_scores(Path(run_dir), pending.batch_mode, pending.lam, pending.score, call)
        except WildganError as e:
            if call == "from_run" or f"Detector.{call}" in str(e):
                raise
            # (the read moved from from_run to this call: said, so that the refusal is not taken for one of X)
            raise reworded(e, after=f" (Detector.{call} needs the run's training scores, which from_run left to be "
                                    f"read at the first call that needs them: decision_function and score_all need "
                                    f"none)")
        # fit's f1 threshold as recorded (its validation set is not in the run), else from_run's rule on the scores
        thr = pending.recorded or fit_threshold(pending.rule, self.decision_scores_,
                                                contamination=pending.contamination, k=pending.mad_k)
        self._use_threshold(thr, pending.score)
        self.__dict__.pop("_pending_run_scores", None)

    def _read_run_training_scores(self, run_dir: Path, batch_mode: str, lam: float, score: str, call: str) -> None:
        """The run's training scores of these networks under batch_mode (run_training_scores: from its cache, else
        computed from the run's data and cached), with a at lam, kept as _train_scores, and decision_scores_ (of
        `score`) and n_train_ from them: from_run's read of them, now (an f1 threshold chosen on X_val) or at the
        first call that needs them (_read_pending_run_scores). call: the method (or attribute) the user called,
        which a refusal of damaged labels names (the run's own data is read again: the refusal names mending them,
        and a class-folder tree's loose images are said to be left out, as the run's training left them out; neither
        names dataset='unlabelled', which from_run has not). skip_bad and verbose as they are now:
        set_params(skip_bad=True) is the way a refusal of unreadable files names."""
        from .data.dataset_files import labels_needed_by
        from .scoring.train_scores import run_training_scores

        model = self.model_
        with labels_needed_by("score", f"Detector.{call}", unless_said=True):
            scores = run_training_scores(run_dir, model, batch_mode=batch_mode,
                                         progress=bool(getattr(self, "verbose", False)),
                                         skip_bad=bool(getattr(self, "skip_bad", False)), skip_option=API_SKIP_BAD)
        scores = _with_lam(scores, model.cfg.score.lam, lam)       # the cache holds a with the run's lam
        self._train_scores = {"lam": lam, batch_mode: scores}
        self.decision_scores_ = np.asarray(scores[score], dtype=np.float64)
        self.n_train_ = int(len(self.decision_scores_))

    def set_threshold(self, rule: str | None = None, *, contamination: float | None = None,
                      mad_k: float | None = None, X_val: Any = None, y_val: Any = None) -> "Detector":
        """Choose a new threshold without retraining (updates the matching parameters). Returns self. X_val / y_val
        are used by rule 'f1' alone: given with another rule, a warning says that they are ignored (not read)."""
        _check_fitted(self)
        new_rule = rule or self.threshold
        for name, value, owner in (("contamination", contamination, "contamination"), ("mad_k", mad_k, "mad")):
            if value is not None and new_rule != owner:
                # it would change the parameter and leave the threshold as it was
                raise ConfigError(f"{name} belongs to the {owner!r} rule, and the rule is {new_rule!r}: "
                                  f"set_threshold({owner!r}, {name}={value!r})")
        if new_rule == "f1" and (X_val is None or y_val is None):
            # said before X_val is scored (minutes for a folder), in this call's words, as fit and from_run say it
            if X_val is None and y_val is None:
                raise ConfigError("threshold='f1' needs a labelled validation set: "
                                  "set_threshold('f1', X_val=..., y_val=...)")
            raise ConfigError(f"threshold='f1' takes X_val and y_val together: set_threshold got only "
                              f"{'X_val' if y_val is None else 'y_val'}; set_threshold('f1', X_val=..., y_val=...)")
        saved, derived = self.get_params(), self._derived_state()
        try:
            self._sync_scoring("set_threshold", threshold=False)   # the scores of the current score / lam / batch_mode
            for k, v in (("threshold", rule), ("contamination", contamination), ("mad_k", mad_k)):
                if v is not None:
                    setattr(self, k, v)
            self._validate()
            if self.threshold != "f1" and (X_val is not None or y_val is not None):
                # (as fit and from_run say it: ignored without a word, the caller's labelled set looked used)
                _warn_val_set_unused("set_threshold", _rule_text(self.threshold, self.contamination, self.mad_k),
                                     "set_threshold('f1', X_val=..., y_val=...)")
            self._set_threshold(X_val, y_val)
        except BaseException:
            self._restore(saved, derived)     # a refused rule leaves the Detector as it was, params included
            raise
        return self

    def _scoring_now(self) -> tuple[str, float, str]:
        # batch_mode only changes a wildgan run's scores (E's minibatch stddev); search and f-AnoGAN score per image
        return (self.score_, float(self.lam), self.batch_mode if self.model_.cfg.method == "wildgan" else "mixed")

    def _training_scores(self, batch_mode: str, call: str) -> tuple[dict[str, np.ndarray] | None, str]:
        """(every score of the training images under batch_mode, a at self.lam; or None and why they are not at
        hand): kept by fit / from_run, else from the run directory (see _run_dir_scores; call: the method the user
        called, as it names it)."""
        kept = getattr(self, "_train_scores", None) or {}
        scores, lam, why = kept.get(batch_mode), kept.get("lam"), ""
        if scores is None:
            # (a run directory's scores have a at the run's lam)
            if self.run_dir_ is None or not (Path(self.run_dir_) / "config.json").is_file():
                return None, ("this Detector does not keep them (a saved Detector keeps only its own score's), and "
                              "its run directory is gone")
            (scores, why), lam = self._run_dir_scores(batch_mode, call), self.model_.cfg.score.lam
        if scores is None:
            return None, why
        return _with_lam(scores, lam, self.lam), ""

    def _run_dir_scores(self, batch_mode: str, call: str) -> tuple[dict[str, np.ndarray] | None, str]:
        """(the run directory's training scores of these networks, or None and why). Only the run's own current
        networks, read from the run's own file, fill the run's cache (scoring.train_scores.is_run_final): `wildgan
        score --threshold` reads it. A loaded Detector with the same networks (same checksum) reads that cache; any
        other (a chosen checkpoint, a Detector saved inside the run folder) computes them from the run's training
        data when it can, and writes nothing. call: the Detector method the user called (set_params, predict ...),
        which a refusal of the data's labels names."""
        from . import checkpoint as ckpt
        from .data.dataset_files import labels_needed_by
        from .scoring.run import final_checkpoint
        from .scoring.train_scores import is_run_final, read_train_scores, run_training_scores

        m, run_dir = self.model_, Path(self.run_dir_)
        if not self._networks_in(run_dir):
            # a run fitted (or trained, or resumed) again since these networks came from it: its training data and
            # split are the new training's. Scored from them, a loaded Detector's threshold came from images its
            # networks never trained on (the same folder with more images in it: no check below tells), where the
            # lazy read of from_run's scores refuses the same run (_read_pending_run_scores)
            return None, (f"the run in {run_dir} was trained again since this Detector's networks came from it (a "
                          f"new fit or training there, or a resume that trained it further): it holds other "
                          f"networks now, and its training images are theirs")
        # (the run's own data read again for its training scores: a refusal of damaged labels names mending them,
        # as from_run's does, and the method the user called, not run_training_scores, which they did not call; a
        # caller's own setting stands, e.g. a CLI command's)
        try:
            with labels_needed_by("score", f"Detector.{call}", unless_said=True):
                # (skip_bad named as this API gives it, outright: not errors.skip_bad_option, the CLI's --skip-bad in
                # a script that calls the Detector from inside cli.main)
                skip = {"skip_bad": bool(self.skip_bad), "skip_option": API_SKIP_BAD}
                if is_run_final(run_dir, m):
                    return run_training_scores(run_dir, m, batch_mode=batch_mode, **skip), ""
                own = final_checkpoint(run_dir)
                if ckpt.read_meta(own).get("sha256") == m.meta.get("sha256"):
                    got = read_train_scores(run_dir, replace(m, source=str(own)), batch_mode, **skip)
                    if got is not None:
                        return got, ""
                return run_training_scores(run_dir, m, batch_mode=batch_mode, write=False, **skip), ""
        except WildganError as e:
            return None, str(e)

    def _sync_scoring(self, call: str, threshold: bool = True, *, read_now: bool = True) -> None:
        """decision_scores_ (and, with threshold=True, threshold_ and labels_ by the fitted rule) for the current
        score, lam and batch_mode, when they differ from those they were derived with; a ConfigError naming what to
        do when the training scores for them are not at hand. call: the method the user called (set_params,
        predict ...), named by a refusal met reading the run's training data again. read_now=False (set_params, which
        uses none of them itself): from_run's training scores still to be read are read only for settings other than
        from_run's."""
        want = self._scoring_now()
        pending = self.__dict__.get("_pending_run_scores")
        if not read_now and pending is not None and (pending.score, pending.lam, pending.batch_mode) == want:
            # from_run's settings as they were: the lazy read derives these very scores when something needs them
            # (set_params(**det.get_params()) is no reason to read the run's data)
            return
        self._take_run_scores(call)
        have = getattr(self, "_scoring", None)
        if have is None:
            # pickled before the scoring settings were recorded: the threshold rule names the score it was fitted on
            # (its lam and batch_mode were not recorded: taken as they are)
            have = (self.threshold_rule_.params.get("score", self.score_), *want[1:])
        if tuple(have) == want:
            return
        changed = ", ".join(f"{k} {a!r} -> {b!r}" for k, a, b in zip(SCORING_PARAMS, have, want) if a != b)
        scores, why = self._training_scores(want[2], call)
        if scores is None or want[0] not in scores:
            raise ConfigError(f"{changed}: this Detector's threshold was fitted on the training images' "
                              f"{have[0]!r} scores, and their {want[0]!r} scores ({want[2]} protocol) are not at "
                              f"hand ({why or f'no {want[0]!r} score for this method'}): set it back, or fit again")
        rule = self.threshold_rule_
        if threshold and rule.rule == "f1":
            raise ConfigError(f"{changed}: the f1 threshold comes from the validation set's scores: call "
                              f"set_threshold('f1', X_val=..., y_val=...) after changing it")
        self.decision_scores_ = np.asarray(scores[want[0]], dtype=np.float64)
        # (another protocol's scores computed again from the run's data leave out files unreadable since training,
        # with skip_bad: n_train_ counts the scores held, as the threshold's n does)
        self.n_train_ = int(len(self.decision_scores_))
        self._scoring = want
        if threshold:
            # the fitted rule with its fitted parameters (a threshold / contamination / mad_k set since then takes
            # effect at set_threshold or the next fit, like every other parameter)
            self._use_threshold(fit_threshold(rule.rule, self.decision_scores_,
                                              contamination=float(rule.params.get("contamination",
                                                                                  self.contamination)),
                                              k=float(rule.params.get("k", self.mad_k))))

    # -------------------------------------------------------------------------------------------- scoring
    def _score_cfg(self) -> Any:
        """The networks' ScoreConfig with this Detector's lam (the run's own may differ: from_run(lam=...))."""
        return replace(self.model_.cfg.score, lam=float(self.lam))

    def _score_u8(self, x: np.ndarray, batch_mode: str | None = None, with_A: bool = True) -> dict[str, np.ndarray]:
        m = self.model_
        with _torch_threads(getattr(self, "threads", None)):
            res = m.score(x, score_cfg=self._score_cfg(),
                          batch_mode=batch_mode or self.batch_mode, with_A=with_A)
        return {k: np.asarray(v, dtype=np.float64) for k, v in res.scores.items()}

    def _image_shapes(self) -> list[tuple[int, int, int]]:
        """The image shapes (H, W, C) this Detector knows: its training images' (if one size) and its network's."""
        net = (int(self.resolution_), int(self.resolution_), int(self.channels_))
        given = getattr(self, "image_shape_", None)
        return [tuple(int(v) for v in given), net] if given and tuple(given) != net else [net]

    @property
    def score_(self) -> str:
        """The name of the score decision_function returns: `score`, or with score=None the own score of the fitted
        networks' method (config.own_score: 'A' for f-AnoGAN, else 'a'; the CLI's default too)."""
        _check_fitted(self)
        return self.score if self.score is not None else own_score(self.model_.cfg.method)

    @property
    def pixel_range_(self) -> str | None:
        """The range float pixels are read in by this fitted Detector (None: guessed per call; see pixel_range)."""
        _check_fitted(self)
        given = getattr(self, "pixel_range", "auto")          # a Detector pickled before pixel_range existed
        return given if given != "auto" else self.conversion_.get("float_range")

    @property
    def trained_resolution_(self) -> int:
        """The resolution the networks were trained up to: resolution_ / 2^floor(lod), the training schedule's
        current resolution when training ended (training.schedule). Equal to resolution_ unless training ended
        before the last fade-in (a short total_kimg, or a minutes budget: fit warns); then images are still taken
        at resolution_ but scored at this one. With a fractional lod (model_.lod) this resolution was still
        fading in."""
        _check_fitted(self)
        return int(self.resolution_) // 2 ** int(np.floor(self.model_.lod))

    def _file_conversion(self) -> dict[str, Any]:
        """conversion_ as the options image files to score are read by (data.readers.iter_images): without the
        float range (files have none), and a Detector fitted or saved before the training images' bit depth was
        recorded says 'unknown', as an older split.json does (data.splits.conversion_opts)."""
        return {"trained_depth": "unknown", **{k: v for k, v in self.conversion_.items() if k != "float_range"}}

    def _images(self, X: Any) -> np.ndarray:
        return self._images_ids(X)[0]

    def _images_ids(self, X: Any) -> tuple[np.ndarray, list[str]]:
        learned = self.pixel_range_
        X = read_nested_lists(X)     # (once: the warning below reads the float range from X again)
        trained_on, by_content = trained_kind(self.conversion_)
        try:
            x, ids = to_images(X, self.resolution_, self.channels_, resize_mode=self.conversion_.get("fit", "resize"),
                               depth16=self.conversion_.get("depth16", "per-image"), image_shapes=self._image_shapes(),
                               float_range=learned, native_sides=self.conversion_.get("native_sides"),
                               trained_on=trained_on, by_content=by_content,
                               trained_depth=self.conversion_.get("trained_depth", "unknown"),
                               gray_share=trained_gray_share(self.conversion_))
        except DataError as e:
            raise _unreadable_in_api_words(e, None) from None
        if learned in ("[-1,1]", "[0,255]") and getattr(self, "pixel_range", "auto") == "auto" and len(x) >= 8 and \
                not isinstance(X, (str, Path)) and input_float_range(X) == "[0,1]":
            # many float images read in the range of the training floats, though all of them lie in [0, 1]: most
            # likely [0, 1] floats given to a Detector fitted on [-1, 1] or [0, 255] ones, which reads them as
            # half-grey or black images (one bright image alone may well be all >= 0: only a batch counts)
            if learned == "[-1,1]":
                warn_user(f"none of these {len(x)} float images has a negative value, yet this Detector reads floats "
                          f"as [-1, 1] (the range of its training floats, pixel_range_): if they are [0, 1] floats, "
                          f"pass them as uint8 (x * 255) or use a Detector(pixel_range='[0,1]')")
            else:
                warn_user(f"none of these {len(x)} float images has a value above 1, yet this Detector reads floats as "
                          f"[0, 255] (the range of its training floats, pixel_range_), which makes them black (at "
                          f"most 1 of 255): if they are [0, 1] floats, pass them as x * 255 (or as uint8)")
        return x, ids

    def _needs_A(self) -> bool:
        """Whether decision_function needs f-AnoGAN's A: its two critic passes are about half of a wildgan
        scoring, and only the A score uses them (score_pgan's with_A)."""
        return self.score_ == "A" or self.model_.cfg.method != "wildgan"

    def _scores(self, X: Any, resume_dir: str | Path | None = None, with_A: bool = True,
                hashes: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Every score of X (with_A: A too). hashes: gets the image_hashes of X's images as they are scored (a
        folder's or an archive's from each chunk read), for a caller that checks them without reading X again."""
        check_path_input(X, "X")     # ('' is an existing folder, the working one: read below as a pile of files)
        # a folder of image files, or a tar archive of them; a CIFAR-10 batch folder, an .npz and a tar of arrays or
        # batches are data-set files, read whole by decode_items below (score_files reads image files and refuses them)
        folder = isinstance(X, (str, Path)) and (Path(X).is_dir() and not is_dataset_file(X) or _image_archive(X))
        if resume_dir is not None and not folder:
            raise ConfigError(f"resume_dir applies to a folder of image files or a tar archive of them (read and "
                              f"scored in chunks); got "
                              f"{type(X).__name__ if not isinstance(X, (str, Path)) else repr(str(X))}")
        rd = None if resume_dir is None else Path(resume_dir)
        if folder:
            # a folder (or an archive's unpacked tree): read and scored in chunks (scoring.run.score_files), so that a
            # pile larger than memory can be scored; the same scores and ids as reading it whole (the batches are
            # drawn over the whole file list; an archive's files listed as _read_dataset_file lists them)
            from .errors import depth16_said_as
            from .scoring.run import is_resume_dir, remove_resume_dir, score_files

            m = self.model_
            # (the conversion passed is the Detector's own, set by its depth16=: score_files would name conversion=)
            with _torch_threads(getattr(self, "threads", None)), depth16_said_as("depth16="):
                try:
                    got = score_files(m, [X], score_cfg=self._score_cfg(),
                                      batch_mode=self.batch_mode,
                                      conversion=self._file_conversion(),
                                      # with a resume folder, every score: its chunks are then those score_all
                                      # saves too, and a folder either left behind stays resumable by the other
                                      resume_dir=rd, with_A=with_A or rd is not None, hashes=hashes is not None)
                except DataError as e:
                    raise _unreadable_in_api_words(e, None) from None
            if rd is not None and is_resume_dir(rd):
                remove_resume_dir(rd)                   # every chunk's scores are returned now
            if hashes is not None:
                hashes.append(got.hashes)
            return {k: np.asarray(v, dtype=np.float64) for k, v in got.scores.items()}
        x = self._images(X)
        if hashes is not None:
            from .data.splits import image_hashes

            hashes.append(image_hashes(x))
        return self._score_u8(x, with_A=with_A)

    # (resume_dir keyword-only here and in decision_function: labels given as decision_function(X, y) were taken
    # for it, and refused as a resume_dir for an array X)
    def score_all(self, X: Any, *, resume_dir: str | Path | None = None) -> dict[str, np.ndarray]:
        """Every score of X, float64 [N] each: a, L_n, L_o, L_r, A (higher = more anomalous) and the diagnostic
        z_norm = ||E(Q)|| (higher = more *normal*: anomalies land near the origin; L_o = -z_norm / sqrt(N_z)).
        A folder, or a tar archive of image files, is read and scored in chunks: memory holds one chunk, whatever the
        number of files; with `resume_dir` each finished chunk's scores are kept there, so that the same call after
        an interruption scores only the rest (the folder is deleted once every score is returned; see
        scoring.run.score_files)."""
        _check_fitted(self)
        return self._scores(X, resume_dir)

    def decision_function(self, X: Any, *, resume_dir: str | Path | None = None) -> np.ndarray:
        """Anomaly scores float64 [N] (the `score` parameter's); higher = more anomalous. `resume_dir`: for a
        folder or a tar archive of image files, as in score_all. Only the scores it needs are computed (no critic
        passes unless score = 'A'; with a `resume_dir`, every score, so that its saved chunks serve score_all as
        well)."""
        _check_fitted(self)
        return self._scores(X, resume_dir, with_A=self._needs_A())[self.score_]

    def predict(self, X: Any) -> np.ndarray:
        """int64 [N]: 1 = anomaly (score > threshold_), 0 = normal."""
        _check_fitted(self)
        self._sync_scoring("predict")  # a score / lam / batch_mode assigned directly (not through set_params)
        return self.threshold_rule_.apply(self.decision_function(X))

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """The score min-max scaled to [0, 1] against the training scores, not a calibrated probability: 0.9 does
        not mean a 90% chance of an anomaly (predict and threshold_ are what flag).

        float64 [N, 2]: (1 - p, p) in PyOD's column order (normal, anomaly), p a monotone map of the score, so it
        ranks images as decision_function does. method 'linear' (default): p = (score - min) / (max - min) of
        decision_scores_ (the *training* scores), clipped to [0, 1]; 'unify': erf of the score's z-score among
        them, clipped to [0, 1]. Where the training scores bunch near their maximum, an ordinary image can get 0.75
        (one at the training scores' 36th percentile did on a short run)."""
        _check_fitted(self)
        self._sync_scoring("predict_proba")
        return rank_proba(self.decision_scores_, self.decision_function(X), method)

    def heatmaps(self, X: Any) -> "HeatMaps":
        """Where each image of X disagrees with its reconstruction: the per-pixel residual maps of `wildgan report`,
        with the images, their reconstructions and their scores (see HeatMaps for the exact definitions).

        X: any input decision_function accepts (arrays, tensors, PIL images, paths, a folder, a data-set file),
        converted the same way. Scored with this Detector's batch_mode and lam in one pass that also returns the
        reconstructions, so HeatMaps.scores are decision_function(X) (for a folder or a tar archive of image files up
        to float noise: there decision_function reads it in chunks). Memory: the images, a float32 reconstruction
        and a map of every image are held at once (5 to 9 bytes per pixel and channel); for a large folder, rank it
        with decision_function first and map the files that matter (a list of paths)."""
        _check_fitted(self)
        from .evaluation.heatmaps import residual_maps

        x, ids = self._images_ids(X)
        m = self.model_
        with _torch_threads(getattr(self, "threads", None)):
            res = m.score(x, score_cfg=self._score_cfg(), batch_mode=self.batch_mode,
                          return_recon=True)
            lod = float(res.info.get("lod", 0.0))      # the one scored (f-AnoGAN's: none, full resolution)
            maps = residual_maps(x, res.recon, lod)
        scores = {k: np.asarray(v, dtype=np.float64) for k, v in res.scores.items()}
        gen = "G" if m.cfg.method == "fanogan" else m.cfg.score.generator
        return HeatMaps(images=x, recon=np.asarray(res.recon, dtype=np.float32), maps=maps,
                        scores=scores[self.score_], all_scores=scores, ids=list(ids), score=self.score_,
                        lod=lod, generator=gen)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """fit(X), then the 0/1 labels of the training images themselves (labels_; y is ignored, as in PyOD)."""
        return self.fit(X).labels_

    # -------------------------------------------------------------------------------------------- persistence
    def __copy__(self) -> "Detector":
        # a shallow copy shares the networks wherever they are (not __getstate__'s CPU copy, which is for pickles)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._mark_copied_run()
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> "Detector":
        # a deep copy copies the networks on their own device
        import copy

        new = object.__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        new._mark_copied_run()
        return new

    def _networks_in(self, run_dir: Path) -> bool:
        """Whether run_dir still holds the networks this Detector has (one check for Detector.load's Detector, a copy
        and from_run's): False where the run was trained again since they were read from it. Asked when its fit
        replaces the run (_claim_run_dir), not when it was loaded or copied: a refit there in between counts too."""
        m = self.__dict__.get("model_")
        if m is None:
            return True
        if "source_sha256" in m.meta or m.meta.get("kind") == DETECTOR_KIND:
            # loaded from det.save's file: named by the run file they were saved from (absent: an older save,
            # which does not say)
            return _networks_in_run(run_dir, m.meta.get("source_sha256"), m.meta.get("source"))
        return _networks_in_run(run_dir, m.meta.get("sha256"), m.source)

    def _mark_copied_run(self) -> None:
        """A copy (copy.copy, copy.deepcopy, pickle) of a Detector fitted in run_dir holds that run without its caller
        choosing run_dir, as a clone or Detector.load's Detector does: its fit replacing the run is said
        (_claim_run_dir), which, done in silence once the original was gone, left the original's saved files or
        from_run naming a run of other networks. The original is not marked: its own refit is asked for."""
        rd, given = self.__dict__.get("run_dir_"), self.__dict__.get("run_dir")
        if rd is not None and given is not None and "_inherited_run" not in self.__dict__ and \
                os.path.abspath(given) == os.path.abspath(rd):
            self._inherited_run = (os.path.abspath(rd), "copy")

    def __getstate__(self) -> dict[str, Any]:
        """Pickling: networks on a GPU are pickled as CPU tensors (a pickle of CUDA tensors cannot be opened on a
        machine without one); __setstate__ puts them back on the Detector's device where it exists."""
        state = dict(self.__dict__)
        m = state.get("model_")
        if m is not None and getattr(getattr(m, "device", None), "type", "cpu") != "cpu":
            import copy
            import itertools

            import torch

            memo: dict[int, Any] = {}
            for t in itertools.chain.from_iterable(itertools.chain(mod.parameters(), mod.buffers())
                                                   for mod in m.nets.modules().values()):
                cpu = t.detach().cpu()
                memo[id(t)] = torch.nn.Parameter(cpu, requires_grad=t.requires_grad) \
                    if isinstance(t, torch.nn.Parameter) else cpu
            state["model_"] = replace(m, nets=copy.deepcopy(m.nets, memo), device=torch.device("cpu"))
            state["_pickled_on"] = str(m.device)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling (pickle / joblib, e.g. a fitted Detector sent to another process): as Detector.load, a run
        folder that is not there (the temporary one of a fit in a process that has ended) is dropped from run_dir_
        rather than kept as a path that from_run and `wildgan score` cannot open, and a run folder that is there is
        the one the Detector pickled was fitted in: a fit of the copy replacing it says so, and whether the run was
        trained again since (_mark_copied_run, _networks_in). Networks pickled from a GPU go back to the Detector's
        device when this machine has it, else they stay on the CPU (with a warning)."""
        state = dict(state)
        pickled_on = state.pop("_pickled_on", None)
        self.__dict__.update(state)
        rd = state.get("run_dir_")
        if rd is not None and not Path(rd).is_dir():
            self.run_dir_ = None
        self._mark_copied_run()
        m = state.get("model_")
        if pickled_on is not None and m is not None:
            import torch

            from .scoring.run import resolve_device

            try:
                dev = resolve_device(self.device)
            except WildganError as e:
                warn_user(f"a Detector fitted on {pickled_on} is unpickled on the CPU ({e}); it scores there, and "
                          f"its device parameter stays {self.device!r}: a refit here needs set_params(device='cpu')")
                dev = torch.device("cpu")
            if dev.type != "cpu":
                self.model_ = replace(m, nets=m.nets.to(dev), device=dev)

    def save(self, path: str | Path) -> Path:
        """Write PATH.safetensors (networks) + PATH.json (parameters, config, threshold, training scores); PATH an
        existing directory, or a string ending in '/' (a folder, made when missing), writes PATH/detector.safetensors
        + PATH/detector.json. Nothing is pickled. Returns the JSON path. The folder is held alone while the pair is
        written (a save of the same PATH, or any other write into that folder, waits, with a warning, and so does a
        Detector.load there), so that the pair on disk is always one save's."""
        from . import checkpoint as ckpt
        from .config import run_config_to_dict
        from .fileio import leave_out_defaults
        from .scoring.run import UNTRAINED
        from .scoring.scores import SCORES_VERSION, SCORES_VERSION_ABSENT

        _check_fitted(self)
        path = _path_arg(path, "save's path")
        if isinstance(path, str) and path == "":
            # an unset variable far more often than a choice of the working folder (Path('') is Path('.'), which is
            # an existing directory below: that one is taken as given)
            raise ConfigError("save(''): no file name to save to: give PATH, e.g. det.save('model') writes "
                              "model.json + model.safetensors (or an existing folder, e.g. det.save('.'))")
        self._sync_scoring("save")    # the saved parameters, scores and threshold must describe one another
        # 'models/' names a folder, as cp and mkdir read it, though no folder is there yet: made, and the pair put in
        # it (Path drops the slash, which wrote models.json + models.safetensors beside a folder never made). Made
        # only once every check below has passed: a refused save left an empty folder behind
        new_folder = isinstance(path, str) and path.endswith(("/", os.sep)) and not Path(path).exists()
        given = path
        path = Path(path) / DETECTOR_DIR_NAME if new_folder else _saved_pair_stem(Path(path))
        name = path.name[: -len(path.suffix)] if path.suffix in (".json", ".safetensors") else path.name
        if name in ("", ".", ".."):
            # (a path ending in '..' or '.' that is not a directory: 'x/..' with no x wrote '...json' beside it)
            raise ConfigError(f"save({str(path)!r}): no file name to save to: give PATH, e.g. det.save('model') "
                              f"writes model.json + model.safetensors")
        _refuse_to_replace(path.parent / f"{name}.json", path.parent / f"{name}.safetensors")
        from .training.run import refuse_a_run_or_study_file

        for written in (path.parent / f"{name}.json", path.parent / f"{name}.safetensors"):
            # a run's or a study's own file not there yet (RUN/train_scores.json, written when the run's training
            # scores are), or a folder wildgan rewrites (RUN/report/, where even a saved Detector is deleted by the
            # next report): _refuse_to_replace, above, knows only the files that exist
            refuse_a_run_or_study_file(written, "model", label="det.save's file")
        # the environment the file records, checked before any folder is made (a typo in WILDGAN_KERNELS is a
        # ConfigError of save_checkpoint's, raised once writing_temps, below, had made PATH's folder)
        from .config import kernels_from_env

        kernels_from_env()
        if new_folder:
            from .fileio import make_folder

            make_folder(given, "save the Detector where files can be written", label="the Detector's folder")
        m = self.model_
        params = {k: v.item() if isinstance(v, np.generic) else v for k, v in self.get_params().items()}   # JSON
        params["run_dir"] = None if params["run_dir"] is None else str(params["run_dir"])
        # written only when set: a wildgan from before them refuses parameters it does not know, so a Detector
        # trained without the ablations stays readable there. Load reads an absent one from the config, so one is
        # left out only where that is the default too: set back to its default after a fit with another value (a
        # from_run of a --gp-target 750 run, then set_params(gp_target=1.0)), it was loaded as the config's 750
        train_cfg = m.cfg.train
        params = {k: v for k, v in params.items() if k not in _ABLATION_DEFAULTS or v != _ABLATION_DEFAULTS[k]
                  or getattr(train_cfg, k) != _ABLATION_DEFAULTS[k]}
        # (from_run takes a torch.device, as load_model does: its str names the same device in the JSON)
        params["device"] = params["device"] if params["device"] is None or isinstance(params["device"], str) \
            else str(params["device"])
        meta = {"kind": DETECTOR_KIND, "params": params, "config": run_config_to_dict(m.cfg),
                "net": run_config_to_dict(m.cfg)["net"], "method": m.cfg.method,
                "resolution": self.resolution_, "channels": self.channels_, "conversion": self.conversion_,
                "image_shape": None if getattr(self, "image_shape_", None) is None else list(self.image_shape_),
                "threshold": self.threshold_rule_.to_dict(),
                "decision_scores": [float(v) for v in self.decision_scores_],  # JSON floats round-trip exactly
                # absolute, as the CLI records its paths: a relative run_dir (fit's own, as given) was resolved against
                # the working directory of the load, where the run was "gone", or another run of that name
                "run_dir": None if self.run_dir_ is None else os.path.abspath(self.run_dir_),
                "source": m.source if m.source == UNTRAINED else os.path.abspath(m.source),
                "source_sha256": m.meta.get("sha256"),
                # the level of detail the networks reached: scores (and the threshold) were computed there
                "lod": m.lod, "detector_format_version": DETECTOR_FORMAT_VERSION,
                # the score formulas decision_scores and the threshold are of (above version 1 only, which a file
                # without the field is read as)
                **leave_out_defaults({"scores_version": SCORES_VERSION}, SCORES_VERSION_ABSENT)}
        from .fileio import folder_lock_refused, host_only_locks, writing_temps

        folder = path.parent
        said = f"det.save({str(folder / name)!r})"

        def waits(_: Path) -> None:
            # (a save, or a Detector.load, stopped with Ctrl-Z in another session holds it until it goes on)
            warn_user(f"{said} waits for another write into {folder} to finish (a det.save or Detector.load "
                      f"there, an evaluation, a training scores' cache)")

        # a save killed between its temp files and their renames (a kill runs no clean-up) left them beside the pair,
        # where nothing removed or reported them: every save holds the folder while it writes (fileio.writing_temps,
        # as the writers of a run's shared files do), so the next save of this pair deletes them where no other
        # save holds it now (nor on a network file system, whose folder locks reach no other machine, nor where the
        # folder cannot be locked: no fcntl on Windows, a file system that refuses flock). Held alone, for the whole
        # save: two saves of one pair at once renamed their files in turn, one's weights then beside the other's JSON
        # (which Detector.load refused, its sha256 another), and a load between the two renames read such a pair
        # (it holds the folder shared: fileio.reading_held)
        with writing_temps(folder, lambda: ckpt.checkpoint_temp_files(folder, name), alone=True,
                           on_wait=waits) as gone:
            if gone:
                # (deleted without a word, they were files the user may have wondered about, hundreds of MB each)
                one = len(gone) == 1
                # ("a save of it" read as a save by this Detector: they are any earlier det.save of this path's)
                warn_user(f"{said} removed {len(gone)} temporary file{'' if one else 's'} in {folder} left by an "
                          f"earlier save to {name!r} that was killed before its renames: "
                          f"{', '.join(p.name for p in gone)}")
            saved = ckpt.save_checkpoint(folder, name, ckpt.networks_to_tensors(m.nets.modules()), meta)
        fs = host_only_locks(folder)
        refused = "" if fs else folder_lock_refused(folder)
        try:
            left = ckpt.checkpoint_temp_files(folder, name) if fs or refused else []
        except OSError:
            # (a folder written into but not readable, a drop box: none can be named, and the save is done)
            left = []
        if left:
            # (there no save deletes them, so this is the one place they are said)
            one = len(left) == 1
            unheld = (f"on a {fs} file system folder locks reach no other machine" if fs else
                      f"the folder cannot be locked here ({refused})")
            warn_user(f"{len(left)} temporary file{'' if one else 's'} of det.save({str(folder / name)!r}) "
                      f"{'is' if one else 'are'} in {folder}, left by a save killed before its renames or being "
                      f"written now by another: {unheld}, so det.save cannot tell which and deletes none; once no "
                      f"other save writes there, delete {'it' if one else 'them'}: "
                      f"rm {' '.join(shell_word(p) for p in left)}")
        return saved

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> "Detector":
        """The fitted Detector that save() wrote at `path` (PATH, PATH.json, or a folder det.save(DIR) wrote in),
        with its networks, threshold and training scores; its decision_function scores as the saved one did (higher =
        more anomalous). `device` overrides the saved one."""
        from .fileio import reading_held

        given = Path(_path_arg(path, "Detector.load's path"))
        # the pair's folder held shared while it is read: a det.save of it holds it alone while it renames its two
        # files in turn, and a load between the renames read the new weights beside the old JSON (refused: another
        # sha256)
        folder = given if (given / f"{DETECTOR_DIR_NAME}.json").is_file() else given.parent

        def waits(_: Path) -> None:
            # (it waited in silence: a save stopped with Ctrl-Z in another session held every load there until it
            # went on)
            warn_user(f"Detector.load({str(given)!r}) waits for a write into {folder} to finish (a det.save there, or "
                      f"a `wildgan train --overwrite` removing a run's files; one stopped with Ctrl-Z holds it until "
                      f"it goes on)")

        with reading_held(folder, on_wait=waits):
            return cls._load(given, device)

    @classmethod
    def _load(cls, given: Path, device: str | None) -> "Detector":
        """Detector.load of the path `given`, its folder held."""
        from . import checkpoint as ckpt
        from .config import run_config_from_dict, warn_untrained_encoder
        from .scoring.run import LoadedModel, resolve_device

        path = given
        inside = given / f"{DETECTOR_DIR_NAME}.json"
        if given.is_dir() and inside.is_file():
            path = inside                                       # what det.save(DIR) writes
        elif path.suffix not in (".json", ".safetensors") and path.name not in ("", ".."):
            # (for a folder: the DIR.json beside it, what det.save(DIR) wrote before it saved into a folder)
            path = path.with_name(path.name + ".json")
        if given.is_dir() and not path.is_file():
            # the usual mix-up: a run folder (wildgan train, Detector.fit(run_dir=...)) is opened by from_run
            if (given / "config.json").is_file():
                raise CheckpointError(f"{given} is a run directory, not a saved Detector: load a run with "
                                      f"Detector.from_run({str(given)!r}) (Detector.load reads the PATH.json + "
                                      f"PATH.safetensors pair that det.save(PATH) writes, or the {inside.name} "
                                      f"that det.save(DIR) writes in a folder)")
            # the paths looked for, spelled out: "no detector.json in it" left the reader to guess that a folder is
            # read as FOLDER/detector.json + FOLDER/detector.safetensors (what det.save(FOLDER) writes)
            weights = given / f"{DETECTOR_DIR_NAME}.safetensors"
            there = [p for p in (inside, weights) if p.exists()]
            found = f" ({', '.join(p.name for p in there)} is there)" if there else ""
            # ('.' and '..' have no name to put a pair beside the folder under)
            beside = (f"; it also looked for {path} + {path.with_suffix('.safetensors')} beside the folder (what "
                      f"det.save(PATH) writes for PATH = {given}), and {path} is not there either"
                      if path != given else "")
            raise CheckpointError(f"{given} is a directory that holds no saved Detector: Detector.load(FOLDER) "
                                  f"reads {inside} + {weights} (what det.save(FOLDER) writes), and {inside} is "
                                  f"not there{found}{beside}")
        _refuse_lone_weights(given, path)
        if not path.is_file() and not given.exists():
            # (read_meta would say "checkpoint metadata not found", as if a file were there but incomplete)
            raise CheckpointError(f"{given}: no such file (Detector.load reads the PATH.json + PATH.safetensors pair "
                                  f"that det.save(PATH) writes; {path.name} is not there)")
        if not path.is_file() and given.is_file():
            # another kind of file (an image, an exported .onnx, a pickle): read_meta said "GIVEN.json: checkpoint
            # metadata not found", naming a file the caller never gave
            raise CheckpointError(f"{given}: not a saved Detector (Detector.load reads the PATH.json + "
                                  f"PATH.safetensors pair that det.save(PATH) writes, and {path.name} is not there)")
        meta = ckpt.read_meta(path)
        if meta.get("kind") != DETECTOR_KIND:
            run = _run_of_checkpoint(path)
            hint = (f"it is a checkpoint of the run {run}: Detector.from_run({str(run)!r}, checkpoint={str(path)!r})"
                    if run is not None else "for a run directory use Detector.from_run")
            raise CheckpointError(f"{path}: not a saved wildgan Detector (kind {meta.get('kind')!r}, where a saved "
                                  f"Detector's is {DETECTOR_KIND!r}); {hint}")
        _check_detector_format_version(meta, path)
        _check_detector_fields(meta, path)
        try:
            # before the parameters: a Detector of a newer wildgan is best told by its config's format_version
            cfg = run_config_from_dict(meta["config"])
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
        # (a Detector(encoder_loss='none') an earlier wildgan fitted and saved: loaded, with a word of its scores)
        warn_untrained_encoder(cfg, path)
        params = dict(meta["params"])
        unknown = sorted(set(params) - set(cls._param_names()))
        if unknown:
            # (cls(**params) would say only "unexpected keyword argument", naming neither the file nor the cause)
            raise CheckpointError(f"{path}: saved with Detector parameters this wildgan does not have ("
                                  f"{', '.join(unknown)}): written by a newer wildgan? Load it with that version")
        if device is not None:
            params["device"] = device
        # a Detector saved before search_steps existed: the steps its networks score with are its config's (500,
        # the default, unless it came from a run whose config file set them), so that get_params and a refit agree
        params.setdefault("search_steps", int(cfg.search.steps))
        # likewise g_image_loss and gp_target: left out by save at their defaults, and absent from a Detector saved
        # before they existed (its config's are what the networks were trained with: from_run of a run with
        # --gp-target 750, saved, recorded it there alone)
        params.setdefault("g_image_loss", cfg.train.g_image_loss)
        params.setdefault("gp_target", cfg.train.gp_target)
        det = cls(**params)
        try:
            dev = resolve_device(det.device)
        except WildganError as e:
            if device is not None:
                raise
            # e.g. saved with device='cuda', loaded on a machine without one
            raise reworded(e, f"{path}: ", f" (the device it was saved with): Detector.load({str(given)!r}, "
                                           f"device='cpu') loads it on the CPU")
        if cfg.method == "fanogan":
            from .nets.fanogan import build_fanogan

            tensors, meta = ckpt.load_checkpoint(path, kind=DETECTOR_KIND)
            nets = build_fanogan(cfg.fanogan, cfg.net.resolution, cfg.net.channels, seed=0)
            ckpt.tensors_to_networks(tensors, nets.modules(), path, meta.get("weights"))
            nets = nets.to(dev)
        else:
            nets, meta = ckpt.load_pgan(path, dev, kinds=(DETECTOR_KIND,))
        if isinstance(meta.get("source_sha256"), str):
            # (verified above) the networks are named by the sha256 of the file they were saved from, which the run's
            # network-final.json and training-score cache hold: the weights' own differs from it since their header
            # names their kind (checkpoint.weights_mark), where it was the same bytes before
            meta = {**meta, "file_sha256": meta.get("sha256"), "sha256": meta["source_sha256"]}
        det.model_ = LoadedModel(cfg=cfg, nets=nets, source=str(path), meta=meta, device=dev)
        # the run it was trained in, when that still exists here (a temporary run_dir is gone once its Detector is,
        # and a Detector saved on another machine has none): everything a loaded Detector does needs only the file
        rd = meta.get("run_dir")
        # absolute from here on, as fit's and from_run's: a save before those recorded fit's run_dir as given
        # ("run"), found here against this working directory, and kept relative was, after an os.chdir, "gone"
        det.run_dir_ = Path(os.path.abspath(rd)) if rd and rd != "None" and (Path(rd) / "config.json").is_file() \
            else None
        if det.run_dir_ is not None and det.run_dir is not None and \
                os.path.abspath(det.run_dir) == os.path.abspath(det.run_dir_):
            # its run_dir names the run it was fitted in, which it did not choose here (load gave it, from the file):
            # as from_run's Detector, its fit (or a clone's) replacing that run is said (_claim_run_dir), which, done
            # in silence, also left the saved file's run_dir naming a run of other networks. A run trained there
            # again since the save is not the one it was fitted in: said as such (_claim_run_dir, _networks_in)
            det._inherited_run = (os.path.abspath(det.run_dir_), "load")
        det.resolution_, det.channels_ = int(meta["resolution"]), int(meta["channels"])
        det.image_shape_ = tuple(int(v) for v in meta["image_shape"]) if meta.get("image_shape") else None
        det.conversion_ = dict(meta["conversion"])
        det.decision_scores_ = np.asarray(meta["decision_scores"], dtype=np.float64)
        det.n_train_ = int(len(det.decision_scores_))
        # (a bad record, e.g. a NaN value that would flag nothing, is refused naming the file, in the file's spelling)
        det.threshold_rule_ = Threshold.from_dict(meta["threshold"], file=path)
        det.threshold_ = float(det.threshold_rule_.value)
        det.labels_ = det.threshold_rule_.apply(det.decision_scores_)
        det._scoring = det._scoring_now()          # save() synced them: the saved scores are those of its params
        fitted_score = det.threshold_rule_.params.get("score", det.score_)
        if fitted_score != det.score_:
            # written by a save() from before it synced: the scores and threshold are fitted_score's, so predict
            # re-derives them for the saved score, or says why it cannot
            det._scoring = (fitted_score, *det._scoring[1:])
        _warn_other_scoring_rules(meta, path)
        return det

    @classmethod
    def from_run(cls, run_dir: str | Path, *, contamination: float | None = None, threshold: str | None = None,
                 mad_k: float | None = None, score: str | None = None, lam: float | None = None,
                 batch_mode: str | None = None, device: str = "auto", checkpoint: str | Path | None = None,
                 X_val: Any = None, y_val: Any = None, skip_bad: bool = False, verbose: bool = False) -> "Detector":
        """A fitted Detector from a run directory (of `wildgan train`, or the run_dir of a Detector.fit).
        decision_scores_ are the scores of the run's own training split (scored once, cached in
        RUN_DIR/train_scores.csv); the threshold comes from them. from_run reads the networks, the config and fit's
        threshold record at once, and the training scores where they are cached; where they are not (a run trained
        with --no-train-scores, or changed since) they are computed from the run's data at the first call that needs
        them: predict, predict_proba, save, set_threshold, set_params of score / lam / batch_mode, or reading
        decision_scores_, threshold_, threshold_rule_, labels_ or n_train_ (the same numbers, with from_run's
        settings; a refusal, e.g. the data gone or its labels damaged, names that call; skip_bad and verbose as set
        then). decision_function, score_all and heatmaps need none, and work on a run whose data is gone. An f1
        threshold chosen on X_val reads them at once.

        The threshold and score parameters (threshold, contamination, mad_k, score, lam, batch_mode) left as None are
        those Detector.fit recorded in a run it wrote (RUN_DIR/detector_threshold.json): reloaded, the run thresholds
        as the fitted Detector did, the same value from the same cached scores (an f1 threshold, which needs fit's
        validation set, is taken as recorded while the networks, their cached training scores and the score settings
        are those it was chosen with). An argument given wins; where it differs from the record, a WildganWarning
        names the file and both. Another score or batch_mode keeps fit's rule and c (k), the share of training
        images to flag, taken again from that score's and protocol's training scores, as the fitted Detector's
        set_params(score=..., batch_mode=...), `wildgan score --threshold` and `wildgan export` (whose graph scores
        each image alone) keep them; only an f1 threshold, a value chosen on fit's score and protocol, is tied to
        them (see above).
        contamination or mad_k given without threshold chooses its own rule. The record
        is not taken for other networks than fit's (the run trained on since, or `checkpoint`), as the report does
        not show it for them: a warning says what it would have set. X_val / y_val given while the rule is not f1
        are not used, with a warning (as fit gives); for f1 they are checked as fit checks them before training,
        before the run's training images are scored, and one given without the other is refused (as fit refuses
        it), fit's recorded f1 threshold or not. A run without
        the record (`wildgan train`) takes the defaults: contamination 0.05, mad_k 3, score None (the method's own,
        as `wildgan score --threshold` thresholds it), lam the run's, batch_mode 'mixed'. Detector.save / Detector.load
        keep a fitted Detector whole, a threshold set after fit included. skip_bad: when the training scores are
        computed again, training images unreadable since training are left out, named in a warning (n_train_ and
        threshold_rule_.params['n'] count the images scored), instead of a DataError.

        The parameters (get_params) are the run's settings as Detector takes them: what a fit of this Detector, or of
        a clone of it (sklearn.base.clone, which keeps them and run_dir too), trains with: the same networks, length,
        seed, encoder loss (none of an earlier wildgan's run without an encoder included, which that fit refuses),
        the pixel_range fit was given, its channels (None where fit took them from its images, so that the clone's
        fit does too and records the kind of images it learnt from) and its resolution (None where fit took it from
        its images, so that the clone's fit chooses one for its own images, as the Detector fitted would). A
        RunConfig's run (preset 'custom') keeps its preset, which a fit refuses: train_run trains that config again.
        A run's setting that Detector has no parameter for (a `wildgan train` run's --lr, --transition-kimg, ...) is
        named in a WildganWarning: such a fit would train without it."""
        from .scoring.run import load_model, read_split_info

        # absolute from here on, as fit's run_dir_ is (a relative one was read against whatever the working
        # directory was later: after an os.chdir the lazy read of the training scores took the run for "moved or
        # deleted", and the networks' source for another file than the run's own)
        run_dir = Path(os.path.abspath(_path_arg(run_dir, "Detector.from_run's run_dir")))
        if not (run_dir / "config.json").is_file():
            _refuse_saved_detector_as_run(run_dir)
        model = load_model(run_dir, device, checkpoint=Path(checkpoint) if checkpoint else None)
        # the networks' file absolute too: a relative checkpoint= kept relative was, after an os.chdir, neither that
        # file nor the run's final networks (_networks_in), so the lazy read refused the run as "trained again
        # since", and save recorded it under the new directory. (Made absolute after load_model, not before it: a
        # bad checkpoint= is refused in the words the caller gave it)
        model.source = os.path.abspath(model.source)
        cfg = model.cfg
        conv = model.conversion
        split_info = read_split_info(run_dir)
        given = {"threshold": threshold, "contamination": contamination, "mad_k": mad_k, "score": score, "lam": lam,
                 "batch_mode": batch_mode}
        settings, recorded, said = _fit_record_settings(run_dir, model, given, X_val is not None and y_val is not None)
        threshold, batch_mode = settings["threshold"], settings["batch_mode"]
        det = cls(cfg.method, preset=cfg.preset, total_kimg=_run_total_kimg(cfg), phase_kimg=cfg.train.phase_kimg,
                  contamination=settings["contamination"], threshold=threshold, mad_k=settings["mad_k"],
                  lam=cfg.score.lam if settings["lam"] is None else settings["lam"], score=settings["score"],
                  seed=cfg.train.seed, device=device,
                  resolution=_fit_resolution(split_info, cfg.net.resolution),
                  channels=_fit_channels(split_info, cfg.net.channels),
                  minutes=cfg.train.minutes,
                  encoder_loss=cfg.train.encoder_loss,       # (none: an earlier wildgan's run, said so)
                  batch_mode=batch_mode, resize_mode=conv.get("fit", "resize"), run_dir=str(run_dir),
                  threads=cfg.train.threads, depth16=conv.get("depth16", "per-image"), width=_run_width(cfg),
                  latent_size=_run_latent_size(cfg), search_steps=int(cfg.search.steps),
                  g_image_loss=cfg.train.g_image_loss, gp_target=cfg.train.gp_target, skip_bad=skip_bad,
                  pixel_range=_fit_pixel_range(split_info), verbose=verbose)
        det.model_ = model              # (before _validate: the networks' own encoder_loss none is taken, not refused)
        # a fit of it (or of a clone of it) replaces this run in place: said then (_claim_run_dir)
        det._inherited_run = (os.path.abspath(run_dir), "from_run")
        det._validate()
        if threshold == "f1" and recorded is None and (X_val is None or y_val is None):
            raise ConfigError("threshold='f1' needs a labelled validation set: from_run(..., X_val=, y_val=)")
        if threshold == "f1" and (X_val is None) != (y_val is None):
            # (as fit refuses it: with fit's recorded f1 threshold taken, the half given was ignored without a word)
            raise ConfigError(f"threshold='f1' takes X_val and y_val together: from_run got only "
                              f"{'X_val' if y_val is None else 'y_val'}; give both to choose the threshold on them, "
                              f"or neither to take the one Detector.fit recorded in {run_dir / FIT_THRESHOLD_FILE}")
        if said:
            # (said once the parameters are valid: a refused argument is its error alone, not also a warning that it
            # was taken)
            warn_user(said)
        kept = _refit_differences(det, cfg)
        if kept:
            # its parameters are what a fit of it, or of a clone of it, trains with: where they cannot say the run's
            # settings, that fit would train another model without a word (sklearn.base.clone promises the same one)
            warn_user(f"{run_dir}: the run has settings that Detector has no parameter for, so a fit of this "
                      f"Detector or of a clone of it (sklearn.base.clone) would not train the run's model again: "
                      f"{'; '.join(kept)} (the run's -> a fit's); from_run scores the run's own networks as they are")
        kept_val = None         # X_val's data-set file as its check read it: scored for the threshold, not read again
        if threshold != "f1" and (X_val is not None or y_val is not None):
            # as fit says it: a validation set given for nothing (e.g. to a run whose record is not f1) is not silent
            how = (f"Detector.fit's rule, recorded in {run_dir / FIT_THRESHOLD_FILE}" if settings.get("from_record")
                   else "as given" if given["threshold"] is not None else "from_run's default")
            _warn_val_set_unused("from_run", f"{_rule_text(threshold, settings['contamination'], settings['mad_k'])}"
                                             f" ({how})", "threshold='f1'")
            X_val = y_val = None
        elif threshold == "f1" and recorded is None:
            # what the f1 threshold's read of them would refuse, refused before the run's training images are scored
            # (minutes for a large training set; a cached score file skips that, not this)
            kept_val = det._check_val_set(X_val, y_val)
        det.run_dir_ = run_dir
        det.resolution_, det.channels_ = cfg.net.resolution, cfg.net.channels
        shape = split_info.get("image_shape")     # recorded by Detector.fit for in-memory images of one size
        det.image_shape_ = tuple(int(v) for v in shape) if shape else None
        det.conversion_ = {"fit": conv.get("fit", "resize"), "depth16": conv.get("depth16", "per-image"),
                           **{k: conv[k] for k in ("gray_data", "colour_data", "colour_rule", "native_sides",
                                                   "trained_depth", "gray_trained") if k in conv}}
        frange = split_info.get("conversion", {}).get("float_range")      # recorded by Detector.fit for float images
        if frange in PIXEL_RANGES and frange != "auto":
            det.conversion_["float_range"] = frange
        det._scoring = det._scoring_now()
        if threshold == "f1" and recorded is None:
            # an f1 threshold chosen on X_val, now: the training scores with it (the caller's validation set is not
            # kept for later)
            det._read_run_training_scores(run_dir, det._scoring[2], float(det.lam), det.score_, "from_run")
            with reusing_read(kept_val):      # (X_val's file, if the check read one, not read a second time)
                det._set_threshold(X_val, y_val)
            return det
        det._pending_run_scores = _PendingRunScores(
            batch_mode=det._scoring[2], lam=float(det.lam), score=det.score_, rule=threshold,
            contamination=float(det.contamination), mad_k=float(det.mad_k), recorded=recorded,
            run_dir=str(run_dir))
        if _cached_train_scores(run_dir, model, det._scoring[2], skip_bad):
            # cached: read now, as they cost little (and the cache's own warnings are said by from_run); else read at
            # the first call that needs them (predict, predict_proba, save, set_threshold, set_params of a scoring
            # parameter, threshold_ and the other attributes of the training scores): decision_function needs none,
            # and works on a run whose data is gone, damaged, or long to read
            det._take_run_scores("from_run")
        return det


def _cached_train_scores(run_dir: Path, model: Any, batch_mode: str, skip_bad: bool) -> bool:
    """Whether run_training_scores, with this skip_bad, takes the run's training scores of these networks under
    batch_mode from their cache (quietly: its read says what the cache holds), rather than from the run's data."""
    from .scoring.train_scores import read_train_scores

    return read_train_scores(run_dir, model, batch_mode, skip_bad=skip_bad, skip_option=API_SKIP_BAD,
                             say=False) is not None


def _warn_val_set_unused(who: str, rule_text: str, f1: str) -> None:
    """The one warning of fit, from_run and set_threshold for X_val / y_val given while the rule is not f1: they are
    neither read nor checked. who: the method; rule_text: the rule it thresholds by (_rule_text, with where it comes
    from); f1: how to ask for the f1 threshold there."""
    warn_user(f"X_val / y_val are used by threshold='f1' only; {who} thresholds by {rule_text}, from the training "
              f"scores, and ignores them (not read): {f1} chooses the threshold on them")


def _rule_text(rule: str, contamination: Any, mad_k: Any) -> str:
    """A threshold rule with its parameter, as the warnings of from_run say it: 'contamination (c=0.02)'."""
    def value(v: Any) -> str:
        f = as_float(v) if _is_real(v) else None
        return f"{f:g}" if f is not None else repr(v)      # (a bad one is refused by _validate after this)

    return (f"contamination (c={value(contamination)})" if rule == "contamination" else
            f"mad (k={value(mad_k)})" if rule == "mad" else str(rule))


# from_run's threshold and score parameters where fit's record gives none (the Detector's defaults; score None: the
# method's own, as `wildgan score --threshold` thresholds it; lam None: the run's)
_FROM_RUN_DEFAULTS: dict[str, Any] = {"threshold": "contamination", "contamination": DEFAULT_CONTAMINATION,
                                      "mad_k": DEFAULT_MAD_K, "score": None, "lam": None, "batch_mode": "mixed"}
# the Detector parameter of a rule's own c (k)
_RULE_PARAM = {"contamination": "contamination", "mad": "mad_k"}


@dataclass(frozen=True)
class _FitRecord:
    """Detector.fit's record of its threshold as from_run reads it: the file, the threshold, the whole record, the
    Detector parameters it was fitted with (thresholds.fit_record_params) and the score it is of."""

    path: Path
    thr: Threshold
    rec: dict[str, Any]
    fitted: dict[str, Any]
    score: str

    def rule_text(self) -> str:
        return _rule_text(self.thr.rule, self.fitted["contamination"], self.fitted["mad_k"])


def _given_or(given: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {k: given[k] if given[k] is not None else v for k, v in base.items()}


def _weighs_lam(settings: dict[str, Any], method: str) -> bool:
    # lam weighs L_n in a, and only a: another lam leaves a threshold of L_r, L_o, A... as it was
    return (settings["score"] or own_score(method)) == "a"


def _rule_asked(given: dict[str, Any]) -> str | None:
    """The rule from_run was given, or asked for by giving its parameter alone; None: the record's (or the default)."""
    if given["threshold"] is None and (given["contamination"] is None) != (given["mad_k"] is None):
        # from_run(run, contamination=0.1) meant the contamination rule before fit's record was read, and must not
        # become the record's mad with c unused
        return "contamination" if given["contamination"] is not None else "mad"
    return given["threshold"]


def _fit_record_settings(run_dir: Path, model: Any, given: dict[str, Any], has_val: bool
                         ) -> tuple[dict[str, Any], Threshold | None, str | None]:
    """from_run's threshold and score parameters: those given (not None), the rest from what Detector.fit recorded in
    the run (thresholds.FIT_THRESHOLD_FILE), else the Detector defaults; fit's recorded f1 threshold where it is to be
    used as it is (these networks, their cached training scores and the same score settings; None otherwise, and for
    the other rules, which are taken again from the training scores); and the one warning to give, naming the file,
    once the Detector's parameters are valid (None: nothing to say): given arguments that differ from the record
    (another score or batch_mode keeps fit's c or k: thresholds.fit_record_apart), a record that cannot be read or
    used, an f1 threshold that no longer applies (whatever from_run's skip_bad: see _recorded_f1)."""
    path, rule, method = run_dir / FIT_THRESHOLD_FILE, _rule_asked(given), model.cfg.method
    try:
        thr, rec = load_fit_threshold(run_dir)
    except (OSError, ConfigError) as e:
        out = {**_given_or(given, _FROM_RUN_DEFAULTS), "threshold": rule or _FROM_RUN_DEFAULTS["threshold"]}
        if not path.is_file():
            return out, None, None            # no record: a `wildgan train` run, or a fit from before the record
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return out, None, (f"{path}: Detector.fit's record of its threshold cannot be read or used (damaged or "
                           f"edited by hand: {why}): from_run thresholds by "
                           f"{_rule_text(out['threshold'], out['contamination'], out['mad_k'])}")
    record = _FitRecord(path, thr, rec, fit_record_params(thr, rec, method), fit_record_score(thr, method))
    if fit_record_apart(rec, model.meta.get("sha256")) == "networks":
        return _settings_for_other_networks(record, given, rule, has_val, model)
    return _settings_for_these_networks(run_dir, record, given, rule, has_val, model)


def _settings_for_other_networks(record: _FitRecord, given: dict[str, Any], rule: str | None, has_val: bool,
                                 model: Any) -> tuple[dict[str, Any], None, str | None]:
    """_fit_record_settings where fit's threshold is of other networks (the run was trained on since, or
    from_run(checkpoint=...)): not taken, as the report does not show it for them (and score --threshold does not
    follow it); said where it would have thresholded otherwise than the defaults, which are taken instead."""
    thr, fitted, method = record.thr, record.fitted, model.cfg.method
    out = _given_or(given, _FROM_RUN_DEFAULTS)
    # fit's f1 rule with a validation set given: an f1 threshold chosen again on it, for these networks (as before
    # the record was left out for other networks; X_val / y_val serve f1 alone, and were otherwise ignored while
    # the warning advised to pass them)
    out["threshold"] = rule or ("f1" if thr.rule == "f1" and has_val else _FROM_RUN_DEFAULTS["threshold"])
    param = _RULE_PARAM.get(thr.rule)
    lam_now = out["lam"] if out["lam"] is not None else model.cfg.score.lam
    differs = ([f"threshold {record.rule_text()}"]
               if (given["threshold"] is None and out["threshold"] != thr.rule) or
               (out["threshold"] == thr.rule and param and given[param] is None and fitted[param] != out[param])
               else [])
    differs += [f"score {record.score}"] if given["score"] is None and fitted["score"] != out["score"] else []
    differs += ([f"lam {fitted['lam']:g}"] if given["lam"] is None and fitted["lam"] is not None and
                fitted["lam"] != lam_now and _weighs_lam(out, method) else [])
    differs += ([f"batch_mode {fitted['batch_mode']}"] if method == "wildgan" and given["batch_mode"] is None and
                fitted["batch_mode"] != out["batch_mode"] else [])
    if not differs:
        return out, None, None
    f1 = (", or threshold='f1', X_val=..., y_val=... for an f1 threshold of these networks"
          if thr.rule == "f1" and out["threshold"] != "f1" else "")
    return out, None, (f"{record.path}: Detector.fit's {record.rule_text()} threshold is of other networks than "
                       f"these (the run was trained on since, or another checkpoint is loaded), for which the report "
                       f"does not show it either: from_run does not take its settings ({'; '.join(differs)}) and "
                       f"thresholds by {_rule_text(out['threshold'], out['contamination'], out['mad_k'])}; pass them "
                       f"to threshold as fit did{f1}")


def _settings_for_these_networks(run_dir: Path, record: _FitRecord, given: dict[str, Any], rule: str | None,
                                 has_val: bool, model: Any) -> tuple[dict[str, Any], Threshold | None, str | None]:
    """_fit_record_settings where fit's threshold is of these networks: the record's settings where none is given,
    its c (k) for any score and protocol (thresholds.fit_record_apart: the share of training images to flag, fitted
    again on the chosen score's own training scores, as the fitted Detector's set_params(score=...) keeps it), and
    its f1 value where it still applies (_recorded_f1: a fixed value, of fit's score and protocol alone)."""
    thr = record.thr
    # (from_record: the rule is fit's, which from_run's warning about X_val says)
    out = {**_given_or(given, record.fitted), "threshold": rule or thr.rule, "from_record": rule is None}
    said = _given_over_record(record, out, given, model.cfg.method)
    msg = (f"{record.path} records the threshold of the Detector.fit that trained this run; from_run takes the "
           f"arguments given instead ({'; '.join(said)})") if said else None
    if thr.rule != "f1" or out["threshold"] != "f1" or has_val:
        return out, None, msg and f"{msg}: leave them out to threshold as fit did"
    return _recorded_f1(run_dir, record, out, given, model, msg)


def _given_over_record(record: _FitRecord, out: dict[str, Any], given: dict[str, Any], method: str) -> list[str]:
    """What the arguments given change from fit's record, 'was -> now': the rule with its own parameter given, and the
    settings of the scores it applies to."""
    thr, fitted = record.thr, record.fitted
    param = _RULE_PARAM.get(thr.rule)
    said = []
    if out["threshold"] != thr.rule or (param and given[param] is not None and out[param] != fitted[param]):
        said.append(f"threshold {record.rule_text()} -> "
                    f"{_rule_text(out['threshold'], out['contamination'], out['mad_k'])}")
    if given["score"] is not None and given["score"] != record.score:
        said.append(f"score {record.score} -> {given['score']}")
    if _weighs_lam(out, method) and given["lam"] is not None and fitted["lam"] is not None and \
            given["lam"] != fitted["lam"]:
        said.append(f"lam {fitted['lam']:g} -> {given['lam']!r}")
    if method == "wildgan" and given["batch_mode"] is not None and given["batch_mode"] != fitted["batch_mode"]:
        said.append(f"batch_mode {fitted['batch_mode']} -> {given['batch_mode']}")
    return said


def _recorded_f1(run_dir: Path, record: _FitRecord, out: dict[str, Any], given: dict[str, Any], model: Any,
                 msg: str | None) -> tuple[dict[str, Any], Threshold | None, str | None]:
    """_fit_record_settings for fit's f1 threshold, chosen on a validation set the run does not keep: its value where
    it still applies (the same score settings, their training scores still cached), else (unless f1 was asked for by
    name: from_run's error then says that it needs X_val, y_val) the contamination rule, said in one warning: the
    arguments that made the f1 value inapplicable, then what from_run does instead."""
    from .scoring.train_scores import read_train_scores

    fitted = record.fitted
    same = (out["score"] or own_score(model.cfg.method)) == record.score and \
        out["batch_mode"] == fitted["batch_mode"] and (not _weighs_lam(out, model.cfg.method) or out["lam"] is None or
                                                       fitted["lam"] is None or out["lam"] == fitted["lam"])
    # the f1 value is fixed: the cache is read only as evidence that these networks' training scores under fit's
    # score settings are still there, which a cache that leaves unreadable files out is too, whatever from_run's own
    # skip_bad (read with from_run's, a plain from_run(RUN) of a run whose cache a scoring with skip_bad wrote lost
    # fit's f1 threshold, saying its scores were no longer cached); quietly: from_run's own read of the training
    # scores, next, says what is wrong with the cache, or what it leaves out, once
    if same and read_train_scores(run_dir, model, fitted["batch_mode"], skip_bad=True, say=False) is not None:
        return out, record.thr, msg and f"{msg}: leave them out to threshold as fit did"
    if given["threshold"] == "f1":
        return out, None, msg
    why = ("other score settings than these" if not same else
           f"training scores ({fitted['batch_mode']} protocol) no longer cached for these networks and scoring rules")
    out["threshold"] = "contamination"
    return out, None, (f"{msg + ', and ' if msg else f'{record.path}: '}Detector.fit's f1 threshold is of {why}, and "
                       f"its validation set is not kept in the run: from_run thresholds by "
                       f"{_rule_text('contamination', out['contamination'], out['mad_k'])} instead; pass "
                       f"threshold='f1', X_val=..., y_val=... for an f1 threshold of these networks")


def _array_counts(X: Any) -> tuple[int, ...] | None:
    """The image counts an array X may hold before a model decides how to read it: a 3-D array is a batch [N, H, W],
    or one image ([H, W, C] / [C, H, W]) where an axis at an end can be its channels (1 to 4: data.inputs.read_3d
    reads no other shape as one image); a 2-D one is one image; None for anything else (count_images' business)."""
    shape = getattr(X, "shape", None)
    if shape is None:
        return None
    if len(shape) == 2:
        return (1,)
    if len(shape) != 3:
        return None
    # (a [200, 28, 28] X_val counted as "200 or 1" let a single label through until after training)
    one = int(shape[-1]) in (1, 2, 3, 4) or int(shape[0]) in (1, 3, 4)
    return (int(shape[0]), 1) if one else (int(shape[0]),)


def _path_arg(path: Any, what: str) -> Any:
    """A path argument of save / load / from_run as given (str or os.PathLike of str); anything else (bytes, None, a
    number) is a ConfigError naming the argument, where pathlib would raise a bare TypeError."""
    if isinstance(path, str) or (isinstance(path, os.PathLike) and isinstance(os.fspath(path), str)):
        return path
    hint = ": pass it as str (os.fsdecode(path))" if isinstance(path, (bytes, bytearray)) else ""
    raise ConfigError(f"{what} must be a path (str or pathlib.Path), got {type(path).__name__} {path!r:.80}{hint}")


def _saved_pair_stem(path: Path) -> Path:
    """Where save(path) writes its pair (the stem, without .json / .safetensors): an existing directory is a folder to
    put the Detector in (DIR/detector.*), as cp and mv take one; anything else is the pair's own stem."""
    return path / DETECTOR_DIR_NAME if path.is_dir() else path


def _check_detector_format_version(meta: dict[str, Any], path: Path) -> None:
    """CheckpointError naming the file for a saved Detector of a newer layout than this wildgan reads, or a damaged
    detector_format_version."""
    # a Detector saved before the field existed has the layout of version 1 (it was added without changing any other)
    version = meta.get("detector_format_version", 1)
    state = version_state(version, DETECTOR_FORMAT_VERSION)
    if state == "newer":
        from . import __version__

        raise CheckpointError(f"{path}: a Detector saved by a newer wildgan (detector_format_version {version}; "
                              f"wildgan {__version__} reads up to {DETECTOR_FORMAT_VERSION}): upgrade wildgan to load "
                              f"it")
    if state == "damaged":
        raise CheckpointError(f"{path}: bad detector_format_version {version!r} (a whole number from 1 expected; this "
                              f"wildgan reads up to {DETECTOR_FORMAT_VERSION}): the metadata is damaged")


# what every Detector.save has written (the level of detail since Detectors kept it, before any was released) and
# load reads, with the kind of value: a file missing one was truncated or edited by hand
_DETECTOR_FIELDS: dict[str, tuple[type, ...]] = {
    "config": (dict,), "params": (dict,), "resolution": (int,), "channels": (int,), "conversion": (dict,),
    "decision_scores": (list,), "threshold": (dict,), "lod": (int, float)}


def _check_detector_fields(meta: dict[str, Any], path: Path) -> None:
    """CheckpointError naming the file and the field for a saved Detector's JSON that lacks a field load reads, or
    holds a value of the wrong kind there (else a bare KeyError or TypeError from deep in load, and a missing 'lod'
    silently scored with the networks' untrained full-resolution layers)."""
    missing = [k for k in _DETECTOR_FIELDS if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: not a complete saved Detector: no {', '.join(repr(k) for k in missing)} in "
                              f"it (truncated or edited by hand?); save the Detector again with det.save(PATH)")
    for key, kinds in _DETECTOR_FIELDS.items():
        v = meta[key]
        ok = isinstance(v, kinds) and not isinstance(v, bool)
        if ok and key == "decision_scores":
            ok = bool(v) and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in v)
        if not ok:
            raise CheckpointError(f"{path}: bad {key!r} value {str(v)[:60]!r} in a saved Detector (a "
                                  f"{' or '.join(k.__name__ for k in kinds)}"
                                  f"{' of numbers' if key == 'decision_scores' else ''} expected): the file is "
                                  f"damaged or was edited by hand")
    shape = meta.get("image_shape")
    # (optional: None where fit's images differ in size; read back as ints, a bad one was a bare ValueError of int())
    if shape is not None and not (isinstance(shape, list) and len(shape) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
        raise CheckpointError(f"{path}: bad 'image_shape' value {str(shape)[:60]!r} in a saved Detector (null or "
                              f"[H, W, C] of positive whole numbers expected): the file is damaged or was edited by "
                              f"hand")


def _warn_other_scoring_rules(meta: dict[str, Any], path: Path) -> None:
    """A warning naming the file when a saved Detector's training scores and threshold were computed by other score
    formulas than this wildgan's (SCORES_VERSION): its threshold would be compared with scores of another formula.
    They cannot be computed again from the file (it holds no training images), so it is said, not refused."""
    from .scoring.scores import SCORES_VERSION, UNRECORDED_SCORES_VERSION

    version = meta.get("scores_version", UNRECORDED_SCORES_VERSION)    # (saved before the field: version 1's rules)
    if version != SCORES_VERSION:
        warn_user(f"{path}: its training scores and threshold were computed by the scoring rules of version "
                  f"{version}, and this wildgan scores by version {SCORES_VERSION}: the threshold may not fit the "
                  f"scores it is compared with now; fit the Detector again (or load its run with Detector.from_run, "
                  f"which scores the training images again) and save it anew")


def _saved_kind(path: Path) -> str | None:
    """The `kind` in the wildgan checkpoint metadata at path (a .json / .safetensors file, or the stem of a pair);
    None when there is none to read."""
    from . import checkpoint as ckpt

    for p in ([path] if path.suffix in (".json", ".safetensors") else []) + [path.with_name(path.name + ".json")]:
        if p.is_file():
            try:
                return str(ckpt.read_meta(p).get("kind"))
            except CheckpointError:
                return None
    return None


def _refuse_to_replace(meta_path: Path, weights: Path) -> None:
    """save() replaces an earlier saved Detector, never another file: a run's network-final.json (its networks,
    which `wildgan score` and from_run read) or a config.json of the user's were overwritten without a word, and so
    was a lone PATH.safetensors (someone else's weights, or a run's whose JSON was not beside it)."""
    from . import checkpoint as ckpt

    for p in (meta_path, weights):
        if p.is_dir():
            raise CheckpointError(f"{p} is a directory: det.save(PATH) writes the files PATH.json + "
                                  f"PATH.safetensors; give another PATH")
    json_is_detectors = False
    if meta_path.exists():
        kind = _saved_kind(meta_path)
        if kind != DETECTOR_KIND:
            what = "not a wildgan file" if kind is None else f"a wildgan file of kind {kind!r}"
            run = _run_of_checkpoint(meta_path) if kind is not None else None
            raise CheckpointError(f"{meta_path} exists and is not a saved Detector ({what}"
                                  f"{f', of the run {run}' if run is not None else ''}): det.save replaces only a "
                                  f"saved Detector; give another PATH, or delete the file first")
        json_is_detectors = True
    if weights.exists():
        try:
            ours, kind = ckpt.weights_kind(weights)
        except CheckpointError as e:
            raise CheckpointError(f"{e}: it exists and det.save replaces only a saved Detector's weights; give another "
                                  f"PATH, or delete the file first") from None
        # a saved Detector's weights say so since the kind was recorded; older ones only beside their Detector JSON
        # (a lone one is also what a save killed between its two files leaves: its weights are written first). A
        # run's weights record no kind (checkpoint.weights_mark), as no wildgan's did before
        if not (kind == DETECTOR_KIND or (ours and kind is None and json_is_detectors)):
            what = ("a safetensors file wildgan did not write" if not ours else
                    f"a wildgan file of kind {kind!r}" if kind is not None else
                    "wildgan weights that do not say they are a Detector's: a run's networks or checkpoint, or a "
                    "Detector saved by an older wildgan")
            run = _run_of_checkpoint(weights) if ours else None
            beside = (f"though beside a saved Detector's {meta_path.name}" if json_is_detectors else
                      f"no {meta_path.name} beside it")
            raise CheckpointError(f"{weights} exists and is not a saved Detector's weights ({what}"
                                  f"{f', of the run {run}' if run is not None else ''}; {beside}): det.save replaces "
                                  f"only a saved Detector; give another PATH, or delete the file first")


def _refuse_lone_weights(given: Path, path: Path) -> None:
    """CheckpointError naming both files where the pair Detector.load reads at `path` (its JSON, or its weights as
    given) has its weights and no JSON: what a det.save killed after its weights' rename, before its JSON's, leaves
    (or a copy of one file). It was "no such file" for PATH and PATH.json, and for PATH.safetensors "PATH.json:
    checkpoint metadata not found", neither saying that the weights are there alone, nor what to do."""
    from . import checkpoint as ckpt

    if path.suffix not in (".json", ".safetensors"):
        return
    meta_path, weights = path.with_suffix(".json"), path.with_suffix(".safetensors")
    if meta_path.exists() or not weights.is_file():
        return
    try:
        ours, kind = ckpt.weights_kind(weights)
    except CheckpointError:
        ours, kind = False, None
    if kind == DETECTOR_KIND:
        what = (f"a saved Detector's weights without their JSON (its parameters, threshold and training scores): what "
                f"a det.save({str(meta_path.with_suffix(''))!r}) killed between writing the two files leaves, or a "
                f"copy of one file of the pair; save the Detector again, or copy its {meta_path.name} beside them")
    else:
        what = "weights that do not say they are a saved Detector's" + (
            " (wildgan weights: a run's networks or checkpoint?)" if ours else "")
    raise CheckpointError(f"{given}: {meta_path} is not there, only {weights.name} beside it, {what} "
                          f"(Detector.load reads the PATH.json + PATH.safetensors pair that det.save(PATH) writes)")


def _run_of_checkpoint(path: Path) -> Path | None:
    """The run directory a network checkpoint file belongs to (RUN/network-final.json, RUN/checkpoints/...), if
    any."""
    for d in (path.parent, path.parent.parent):
        if (d / "config.json").is_file():
            return d
    return None


# _recorded_data_fit's answer where a run records no data.fit to read (no run, a config.json that does not read, a
# fit's run of images): the resume goes on with the Detector's own rule, and train_run's checks refuse the run in
# their own words
_NO_RECORD = object()


def _recorded_data_fit(run_dir: Path) -> Any:
    """The data.fit a DataConfig's (or `wildgan train`'s) run records in its config.json (None: the protocol's rule),
    or _NO_RECORD. Not a fit's run of images (split.json's detector_input), whose data.fit is its resize_mode: a
    DataConfig resuming it is another kind of run, refused with its differences, not given the run's fit."""
    from .data.transforms import FITS

    try:
        info = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
        data = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("data")
    except (OSError, ValueError, AttributeError):
        return _NO_RECORD
    if not isinstance(info, dict) or info.get("detector_input"):
        return _NO_RECORD
    fit = data.get("fit") if isinstance(data, dict) else _NO_RECORD
    return fit if fit is None or fit in FITS else _NO_RECORD


def _protocol_fit(info: dict[str, Any], square: str) -> str | None:
    """The fit a DataConfig without one converts by: the protocol's (split.json's protocol; MNIST's 'pad'), with its
    square applied as build_split applies it. None for a protocol not known here."""
    from .data.splits import PROTOCOL_DEFAULTS, square_fit

    known = PROTOCOL_DEFAULTS.get(str(info.get("protocol")))
    return None if known is None else square_fit(known["fit"], square)


def _networks_in_run(run_dir: Path, sha: Any, src: Any) -> bool:
    """Whether run_dir still holds the networks of sha256 `sha` (a saved Detector's source_sha256, or a fitted one's
    weights): its final networks, as checkpoint.refuse_saved_detector compares them, or the run file they came from
    (src: from_run(checkpoint=...)'s). False where the run was fitted or resumed again since; True where sha does not
    say (a save written before source_sha256 was)."""
    from . import checkpoint as ckpt

    if not isinstance(sha, str):
        return True
    run_dir = Path(run_dir)
    files = [run_dir / "network-final.json", run_dir / "fanogan-final.json"] + ([Path(src)] if isinstance(src, str)
                                                                                 else [])
    for f in files:
        try:
            if f.is_file() and ckpt.read_meta(f).get("sha256") == sha:
                return True
        except (OSError, WildganError):
            pass                  # (a damaged file holds no networks of its own to compare)
    return False


def _refuse_saved_detector_as_run(path: Path) -> None:
    """from_run was given something that is not a run directory: a saved Detector (or a run's checkpoint file, or a
    folder det.save(DIR) wrote a Detector in) gets a message naming the call that opens it; anything else is left to
    the run reader's own message."""
    from .checkpoint import saved_detector_meta

    # (the run readers' own test of a saved Detector, said here as the call that opens it, with the path as given)
    if saved_detector_meta(path) is not None:
        raise ConfigError(f"{path} is a saved Detector (det.save), not a run directory: load it with "
                          f"Detector.load({str(path)!r})")
    run = _run_of_checkpoint(path) if path.is_file() and _saved_kind(path) is not None else None
    if run is not None:
        raise ConfigError(f"{path} is a checkpoint file of the run {run}, not a run directory: "
                          f"Detector.from_run({str(run)!r}, checkpoint={str(path)!r})")


def __getattr__(name: str) -> Any:
    # the training-score helpers live in wildgan.scoring.train_scores (torch): resolved when first asked for, so that
    # `import wildgan.detector` (and `from wildgan import Detector`) stays torch-free
    if name in ("run_training_scores", "score_training_split"):
        from .scoring import train_scores

        return getattr(train_scores, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Detector", "HeatMaps", "NotFittedError", "to_images", "input_float_range", "guess_float_range",
           "PIXEL_RANGES", "read_3d", "infer_geometry", "run_threshold", "threshold_columns", "write_train_scores"]
