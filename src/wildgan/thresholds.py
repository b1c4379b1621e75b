"""Decision thresholds for anomaly scores, chosen without labelled anomalies (numpy; scores and labels are read by
data.inputs.to_numpy, as the Detector reads its arrays, so tensors, lists and masked values are taken or refused alike).

Convention everywhere in wildgan: higher score = more anomalous, and an image is an anomaly (label 1) when its score
is strictly greater than the threshold (PyOD's rule ``scores > threshold_``).

Rules (the scores they are computed from must be *training* scores; test scores never choose the threshold):
  contamination  the 100 * (1 - c) percentile of the training scores (linear interpolation), c = the expected
                 fraction of anomalies: about c of the training set ends up above it (within 1/N, ties aside).
  mad            median + k * 1.4826 * MAD of the training scores (MAD = median absolute deviation; 1.4826 makes it
                 a consistent estimate of the standard deviation for Gaussian scores). Needs no guess of c and is
                 not pulled up by the anomalies themselves, but flags only outliers beyond that bound, not a share
                 of the images: about 0.13% of Gaussian scores at k = 3, and on a clean fit often none of the
                 training images (run_threshold records how many lie above it, params['n_above']).
  f1             the threshold that maximises F1 (anomaly = positive class) on a *labelled validation set*; placed
                 half-way between the last score flagged and the next one, so the margin is symmetric.
"""

from __future__ import annotations

import decimal
import json
import math
import numbers
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

# the rules' default parameters (also the CLI's); names in messages as typed
from .config import (DEFAULT_CONTAMINATION, DEFAULT_MAD_K, as_typed, nearest_name, own_score, percent_hint, shown,
                     typed_value)
from .errors import ConfigError, DataError, WildganRuntimeWarning, option_words, warn_user
from .fileio import atomic_write_text

RULES = ("contamination", "mad", "f1")
MAD_SCALE = 1.4826
# what a score or label in a list / object array may be: np.asarray(..., float64) reads them all (numpy's bool_ and
# Decimal are no numbers.Real)
_NUMBERS = (numbers.Real, np.bool_, decimal.Decimal)


@dataclass(frozen=True)
class Threshold:
    """A fitted threshold: `value`, the `rule` that produced it and that rule's `params` (JSON-serialisable)."""

    value: float
    rule: str
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, scores: Any) -> np.ndarray:
        """0/1 int64 labels: 1 where score > value (anomaly), and where the score is NaN (see _as_worst)."""
        return (_as_worst(scores) > self.value).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (saved with a Detector and in score outputs)."""
        return {"value": float(self.value), "rule": self.rule, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | Path | None = None, from_file: bool = False) -> "Threshold":
        """The inverse of to_dict; a malformed record is a ConfigError. A record read from a file (a saved Detector,
        fit_threshold's record, ONNX metadata) is said in it as the file writes it (null, true, NaN: config.shown),
        not as Python's repr of what json read (None, True, nan): `file`, the file, which the refusal names first, or
        `from_file` for a caller that names the file itself. Else (a Python caller's own dict) as Python writes it."""
        said = shown(d, from_file=from_file or file is not None)
        where = f"{file}: " if file is not None else ""
        try:
            thr = cls(value=float(d["value"]), rule=str(d["rule"]), params=dict(d.get("params", {})))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{where}not a threshold record: {said} ({e})") from None
        if not math.isfinite(thr.value):
            # no rule makes one (their scores are finite): 'score > NaN' and 'score > inf' are never true (every
            # image normal), 'score > -inf' always (every image an anomaly), silently either way
            raise ConfigError(f"{where}not a threshold record: {said} (its value is {thr.value})")
        return thr

    def describe(self) -> str:
        """One line for logs and CLI output, e.g. 'contamination (c=0.05): score > 0.123'."""
        p = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
                      if k in ("contamination", "k", "f1", "n"))
        if "n_trained" in self.params:      # fewer (or other) training images than the run had
            # (more, when files were added to the run's data since: "n=22 of 20" would read as a part of the 20)
            n, n_trained = self.params.get("n"), self.params["n_trained"]
            p += f" of {n_trained} trained on" if isinstance(n, int) and n < n_trained else \
                f"; the run trained on {n_trained}"
        return f"{self.rule}{f' ({p})' if p else ''}: score > {self.value:.6g}"


def _as_worst(scores: Any) -> np.ndarray:
    """Query scores with NaN read as +inf. A NaN score (networks that diverged, or an input they turn into NaN) says
    nothing about normality, so every output treats it as the most anomalous: flagged, percentile 100, probability
    1, never a silent 'normal' (NaN > threshold is False). The raw score stays NaN in the scores themselves."""
    # (one score per image, as the rules take the training scores: an [N, 2] array was 2N labels, in silence)
    s = _floats(_one_per_image(_values(scores, "scores", "score"), "scores", "score"), "scores")
    nan = np.isnan(s)
    if nan.any():
        warn_user(f"{int(nan.sum())} of {s.size} scores are NaN (diverged networks or an input they cannot "
                  f"score): treated as the most anomalous (flagged, percentile 100, probability 1)",
                  WildganRuntimeWarning)
        s = np.where(nan, np.inf, s)
    return s


def _values(x: Any, what: str, kind: str) -> np.ndarray:
    """Scores or labels as a numpy array, read as Detector reads its inputs (data.inputs.to_numpy: tensors that
    require grad or are bf16, ragged lists and masked arrays named); None, strings and complex numbers are refused
    here: np.asarray(..., float64) read None as NaN, '0.5' as 0.5 and 1+1j as 1, silently."""
    if x is None:
        raise DataError(f"{what}: None where {kind}s are needed")
    # imported here, not at the top: data.inputs brings the whole data layer (PIL, urllib/ssl, the readers), 0.1 s
    # that `wildgan --help` (its parser reads DEFAULT_CONTAMINATION) and `import wildgan.thresholds` need not pay
    from .data.inputs import to_numpy

    a = to_numpy(x, what)
    if a.dtype == object:
        # (one check per type, not per value: an object array of a million scores took 0.2 s value by value; None
        # first, then by name, so that the error does not depend on a set's order)
        for t in sorted(set(map(type, a.flat)), key=lambda t: (t is not type(None), t.__name__)):
            if t is type(None):
                raise DataError(f"{what}: None where {kind}s are needed")
            if not issubclass(t, _NUMBERS):
                v = next(v for v in a.flat if type(v) is t)
                raise DataError(f"{what}: {kind}s must be numbers, got a {t.__name__} ({v!r})")
    elif a.dtype.kind not in "biuf":
        raise DataError(f"{what}: {kind}s must be numbers, got {a.dtype} values")
    return a


def _floats(a: np.ndarray, what: str) -> np.ndarray:
    """_values' numbers as float64 (no copy of a float64 array: the rules copy what they change)."""
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:       # (e.g. Decimal('sNaN'), an int beyond float64)
        raise DataError(f"{what}: not read as floating-point numbers ({e})") from None


def _one_per_image(a: np.ndarray, what: str, kind: str) -> np.ndarray:
    """a raveled, where it holds one value per image (a column [N, 1] or row [1, N] counts as N)."""
    if sum(d > 1 for d in a.shape) > 1:
        # (raveled, a [2, 2] array passed as 4 values in silence: most likely a one-hot, score or image matrix)
        raise DataError(f"{what} must be one {kind} per image (a 1-D array), got shape {a.shape}")
    return a.ravel()


def _scores(x: Any, what: str) -> np.ndarray:
    s = _floats(_one_per_image(_values(x, what, "score"), what, "score"), what)
    if s.size == 0:
        raise DataError(f"{what}: no scores to choose a threshold from")
    bad = int(np.count_nonzero(~np.isfinite(s)))
    if bad:
        raise DataError(f"{what}: {bad} of {s.size} scores are NaN or infinite (networks that diverged, at least on "
                        f"those images); a threshold is chosen from finite scores only")
    return s


def as_float(v: Any) -> float | None:
    """A rule's parameter as a float, None where it is past a float's range: float() of an int such as 10**400 is a
    bare OverflowError, where the parameter is to be refused naming it. (A float past the range is inf already: a
    caller's range test refuses it, and nan, by its own words.)"""
    try:
        return float(v)
    except OverflowError:
        return None


def _is_number(v: Any) -> bool:
    """A rule's parameter given as a number, as the Detector takes one: not None, a string or a list (float() of
    those was a bare TypeError, or read '0.1' as 0.1), nor a bool (True is 1 to float(): k = 1 in silence)."""
    return isinstance(v, (numbers.Real, decimal.Decimal)) and not isinstance(v, (bool, np.bool_))


def _contamination_ok(contamination: Any) -> bool:
    c = as_float(contamination) if _is_number(contamination) else None
    return c is not None and 0.0 < c <= 0.5         # (nan and inf fail it)


def _mad_k_ok(k: Any) -> bool:
    kf = as_float(k) if _is_number(k) else None
    return kf is not None and math.isfinite(kf) and kf >= 0


def contamination_threshold(train_scores: Any, contamination: float) -> Threshold:
    """The 100 * (1 - contamination) percentile of the training scores."""
    if not _contamination_ok(contamination):
        raise _bad_contamination(contamination)
    c = float(contamination)
    s = _scores(train_scores, "training scores")
    value = float(np.percentile(s, 100.0 * (1.0 - c)))
    return Threshold(value, "contamination", {"contamination": c, "n": int(s.size)})


def mad_threshold(train_scores: Any, k: float = 3.0) -> Threshold:
    """median + k * 1.4826 * MAD of the training scores. With MAD = 0 (over half the scores equal) it is the median."""
    if not _mad_k_ok(k):
        raise _bad_mad_k(k)
    s = _scores(train_scores, "training scores")
    med = float(np.median(s))
    mad = float(np.median(np.abs(s - med)))
    return Threshold(med + float(k) * MAD_SCALE * mad, "mad",
                     {"k": float(k), "median": med, "mad": mad, "scale": MAD_SCALE, "n": int(s.size)})


def check_val_labels(val_labels: Any, n: int | None = None, n_options: Sequence[int] | None = None,
                     val_images: str = "X_val", labels: str = "validation labels") -> np.ndarray:
    """Validation labels as int64 [N]: 0 (normal) or 1 (anomaly), one per image (a column [N, 1] or row [1, N] is
    taken as N labels), at least one anomaly, N = n when n is given, N one of n_options when given (a 3-D X_val is N
    images or one, known once a model reads it; a caller checks them before hours of training, not after).
    val_images: the images' name in n_options' error, e.g. with the file they are in. labels: the labels' name in
    every error (Detector.fit's y_val: the caller's own argument, not a name it never gave)."""
    y = _one_per_image(_values(val_labels, labels, "label"), labels, "label")
    if n is not None and y.size != n:
        raise DataError(f"{labels}: {y.size} labels for {n} scores")
    if n_options is not None and y.size not in n_options:
        raise DataError(f"{labels}: {y.size} labels for {val_images}, which holds "
                        f"{' or '.join(str(k) for k in sorted(set(n_options), reverse=True))} image(s)")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{labels} must be 0 (normal) or 1 (anomaly)")
    y = y.astype(np.int64)
    if int(y.sum()) == 0:
        # (worded for either name: 'y_val contain no anomaly' was the plural's verb after fit's y_val)
        raise DataError(f"{labels}: no anomaly (label 1) among the labels, so F1 is undefined")
    return y


def f1_threshold(val_scores: Any, val_labels: Any) -> Threshold:
    """F1-optimal threshold on labelled validation scores (label 1 = anomaly). Ties in F1 go to the higher threshold
    (fewer images flagged)."""
    s = _scores(val_scores, "validation scores")
    y = check_val_labels(val_labels, s.size)
    n_pos = int(y.sum())
    order = np.argsort(-s, kind="stable")
    s_desc, y_desc = s[order], y[order]
    # Flagging the top k is only possible at boundaries between distinct scores (ties are flagged together).
    ends = np.flatnonzero(np.r_[s_desc[1:] != s_desc[:-1], True])  # last index of each run of equal scores
    tp = np.cumsum(y_desc)[ends]
    k = ends + 1
    f1 = 2.0 * tp / (k + n_pos)
    best = int(np.argmax(f1))  # first maximum = highest threshold
    i = ends[best]
    flagged = s_desc[i]                                       # the lowest score still flagged
    below = s_desc[i + 1] if i + 1 < s.size else None         # the highest score left unflagged
    value = float(np.nextafter(flagged, -np.inf)) if below is None else float((flagged + below) / 2.0)
    if below is not None and not (below < value < flagged):
        value = float(below)  # adjacent floats: no midpoint strictly between them, '>' still splits them
    return Threshold(value, "f1", {"f1": float(f1[best]), "n": int(s.size), "n_anomalies": n_pos})


def fit_threshold(rule: str, train_scores: Any = None, *, contamination: float = 0.05, k: float = 3.0,
                  val_scores: Any = None, val_labels: Any = None) -> Threshold:
    """Dispatch on `rule` (contamination | mad | f1); f1 needs val_scores and val_labels."""
    if rule == "contamination":
        return contamination_threshold(train_scores, contamination)
    if rule == "mad":
        return mad_threshold(train_scores, k)
    if rule == "f1":
        if val_scores is None or val_labels is None:
            raise ConfigError("threshold rule 'f1' needs a labelled validation set (scores and 0/1 labels)")
        return f1_threshold(val_scores, val_labels)
    raise ConfigError(f"unknown threshold rule {rule!r}; choose one of {RULES}")


def training_percentile(train_scores: Any, scores: Any) -> np.ndarray:
    """Where each score falls among the training scores, in percent (share strictly below, ties counting half):
    100 = above every training image. Context for a raw score, whatever threshold is chosen."""
    t = np.sort(_scores(train_scores, "training scores"))
    s = _as_worst(scores)
    below = np.searchsorted(t, s, side="left")
    ties = np.searchsorted(t, s, side="right") - below
    return 100.0 * (below + 0.5 * ties) / len(t)


def rank_proba(train_scores: Any, scores: Any, method: str = "linear") -> np.ndarray:
    """[N, 2] (1 - p, p), p the scores rescaled to [0, 1] against the training scores, not probabilities (PyOD's
    predict_proba, whose columns are named normal, anomaly).

    linear: min-max of the training scores, clipped to [0, 1]; unify: erf((s - mean) / (std * sqrt 2)) clipped to
    [0, 1] (Kriegel et al. 2011). Neither is a calibrated probability; both are monotone in the score.
    """
    t = _scores(train_scores, "training scores")
    s = _as_worst(scores)
    if method == "linear":
        lo, hi = float(t.min()), float(t.max())
        p = (s - lo) / (hi - lo) if hi > lo else (s > hi).astype(np.float64)
    elif method == "unify":
        mu, sd = float(t.mean()), float(t.std())
        z = (s - mu) / (sd * math.sqrt(2.0)) if sd > 0 else np.where(s > mu, np.inf, -np.inf)
        p = np.array([math.erf(v) for v in np.ravel(z)], dtype=np.float64)
    else:
        raise ConfigError(f"predict_proba method must be 'linear' or 'unify', got {method!r}")
    p = np.clip(p, 0.0, 1.0)
    return np.stack([1.0 - p, p], axis=1)


def _contamination_words(glossed: bool = True) -> str:
    """The expected share of anomalies as the user of the call in progress sets it: score's and export's
    --expected-contamination (`contamination` on the command line is train's other option, the share injected),
    the Python API's contamination (Detector, export_onnx), glossed as the expected fraction of anomalies unless
    `glossed` is False (a refusal whose percent hint says those words already)."""
    return option_words("--expected-contamination",
                        "contamination (expected fraction of anomalies)" if glossed else "contamination")


def _as_given(flag: str, v: Any) -> str:
    """A rule's refused parameter as its caller gave it: typed on the command line (-1, not type=float's -1.0;
    config.typed_value), else as Python prints it."""
    typed = typed_value(flag, v)
    return str(v) if typed is None else typed


def contamination_hint(v: Any) -> str:
    """' (the expected fraction of anomalies: for 5% give 0.05)' for an expected share given as a percent, else '':
    `--expected-contamination 5` was refused as out of (0, 0.5] alone (config.percent_hint)."""
    return percent_hint(v, "the expected fraction of anomalies")


def _bad_contamination(contamination: Any) -> ConfigError:
    # (the hint glosses the parameter itself: the name's gloss too said "expected fraction of anomalies" twice)
    if not _is_number(contamination):
        # (said as Python writes it: '0.1', not the 0.1 that str() made of a string, which read as a number)
        return ConfigError(f"{_contamination_words()} must be a number in (0, 0.5], got {contamination!r}")
    hint = contamination_hint(contamination)
    return ConfigError(f"{_contamination_words(glossed=not hint)} must be in (0, 0.5]{hint}, got "
                       f"{_as_given('--expected-contamination', contamination)}")


def _bad_mad_k(k: Any) -> ConfigError:
    return ConfigError(f"{option_words('--mad-k', 'mad_k')} must be a finite number >= 0, got "
                       f"{_as_given('--mad-k', k) if _is_number(k) else repr(k)}")


def check_threshold_args(rule: str, *, contamination: float = 0.05, k: float = 3.0) -> None:
    """Raise ConfigError for a rule's bad parameter before any scoring is done (the rules check them again)."""
    if rule == "contamination" and not _contamination_ok(contamination):
        raise _bad_contamination(contamination)
    if rule == "mad" and not _mad_k_ok(k):
        raise _bad_mad_k(k)


def run_threshold(model: Any, run_dir: str | Path, rule: str, *, contamination: float | None = None,
                  k: float | None = None, score: str | None = None, labelled_scores: np.ndarray | None = None,
                  labels: np.ndarray | None = None, batch_mode: str = "mixed", progress: bool = False,
                  train_scores: dict[str, np.ndarray] | None = None, skip_bad: bool = False) -> Threshold:
    """The threshold of `wildgan score --threshold RULE` (contamination | mad) for the scores named `score`.

    contamination / mad: from the run's training-split scores (cached, see run_training_scores; skip_bad: training
    files unreadable now are left out), or train_scores when the caller has them already (a --checkpoint's are not
    cached: asking again would score the split again). params['n'] is how many training images it comes from, and
    params['n_trained'] the run's own count when that differs (files unreadable or removed since training).
    The rule's parameter left as None (c of contamination, k of mad) is the one Detector.fit recorded in the run
    where it applies to these networks (follow_fit_record; params['param_from'] then names the record), else the
    default (c = 0.05, k = 3), as `wildgan score --threshold`, export_onnx and Detector.from_run take it. `score`
    None is the run's own (config.own_score: A for f-AnoGAN, else a), as those take it too.
    f1 (Python only; the CLI does not offer it): from labelled_scores / labels, which must be a labelled
    *validation* set: F1 on the set being evaluated would be an oracle threshold (marked so in the params).
    """
    if score is None:
        # the run's own score, as `wildgan score --score`, export_onnx and the Detector default to (an f-AnoGAN run
        # was thresholded here by a, which it was not made to rank by, where the CLI took its A)
        score = own_score(model.cfg.method)
    if rule == "f1":
        if labelled_scores is None or labels is None:
            raise ConfigError(f"{option_words('--threshold f1', 'threshold=' + repr('f1'))} needs labelled images "
                              f"(score a data set with labels, e.g. the run's own test set); use contamination or mad "
                              f"for unlabelled images")
        thr = fit_threshold("f1", val_scores=labelled_scores, val_labels=labels)
        return replace(thr, params={**thr.params, "score": score, "source": "scored labelled set (oracle)"})
    from .scoring.run import read_split_info
    from .scoring.train_scores import run_training_scores

    # the parameter not given: Detector.fit's record for these networks, as the CLI takes it (it took c = 0.05 here
    # where `wildgan score --threshold` and Detector.from_run took fit's recorded c: the same run, two thresholds)
    param_from: dict[str, str] = {}
    name = {"contamination": "contamination", "mad": "k"}.get(rule)
    if name is not None and (contamination if name == "contamination" else k) is None:
        weights = (getattr(model, "meta", None) or {}).get("sha256")
        default = DEFAULT_CONTAMINATION if name == "contamination" else DEFAULT_MAD_K
        value, _ = follow_fit_record(run_dir, rule, lambda r: fit_record_param(Path(run_dir), r, weights),
                                     fallback=f"run_threshold takes the default {name}={default:g}")
        if value is not None:
            param_from = {"param_from": f"Detector.fit's record, {Path(run_dir) / FIT_THRESHOLD_FILE}"}
            contamination, k = (value, k) if name == "contamination" else (contamination, value)
    contamination = DEFAULT_CONTAMINATION if contamination is None else contamination
    k = DEFAULT_MAD_K if k is None else k
    if train_scores is None:
        from .data.dataset_files import labels_needed_by

        # (the run's own data read again for its training scores: a refusal of damaged labels names the call the
        # user made, not run_training_scores; a caller's own setting stands: flag_scores', export_onnx's, a command's)
        with labels_needed_by("score", "run_threshold", unless_said=True):
            train_scores = run_training_scores(run_dir, model, batch_mode=batch_mode, progress=progress,
                                               skip_bad=skip_bad)
    train = train_scores
    if score not in train:
        close = nearest_name(score, train)
        raise ConfigError(f"unknown score {as_typed(score)}{f' (did you mean {close}?)' if close else ''}: the run "
                          f"has {', '.join(train)}")
    # named by the run and the score: a refusal (NaN scores of networks that diverged on some training images) said
    # 'training scores: ...' alone, neither which run nor which of its scores (another may still be finite)
    thr = fit_threshold(rule, _scores(train[score], f"{run_dir}: its training images' scores {score}"),
                        contamination=contamination, k=k)
    # mad flags only outliers, however many there are, often none of a clean fit's training images: how many lie above
    # it is said with it (score's and export's threshold line), where contamination's share is its c by construction
    above = {"n_above": int(thr.apply(train[score]).sum())} if rule == "mad" else {}
    # the threshold's provenance says when it comes from fewer images than the run trained on
    n_trained = read_split_info(Path(run_dir)).get("n_train")
    gap = {"n_trained": int(n_trained)} if isinstance(n_trained, int) and n_trained != thr.params["n"] else {}
    return replace(thr, params={**thr.params, **gap, **above, "score": score, "source": "training split",
                                **param_from})


def written_threshold(value: float, scores: np.ndarray, flagged: np.ndarray) -> str:
    """The threshold as the scores CSV writes it: 9 significant digits, as its score columns (scoring.run.
    scores_csv_text), unless a reader comparing the two columns would then not get the CSV's is_anomaly. Flagged by
    the full-precision score (> value), a score just above the threshold and the threshold itself were written alike
    (e.g. both '1.23456789'): the row read score == threshold with is_anomaly 1. Then the threshold is written with
    the fewest more digits (up to 17) that put every finite row's written score above it exactly where is_anomaly is
    1: the threshold itself so rounded, else the number just below that lowest flagged score (the threshold rounded
    down, by less than a unit of the scores' 9th digit). Where a flagged and an unflagged score are written alike no
    threshold tells them apart: the 9 digits are kept. NaN scores (flagged, written 'nan') are left out."""
    t = float(value)
    text = f"{t:.9g}"
    shown = np.array([float(f"{v:.9g}") for v in np.asarray(scores, np.float64)])
    finite = ~np.isnan(shown)
    up = np.asarray(flagged, bool)[finite]
    shown = shown[finite]
    lo = shown[~up].max() if (~up).any() else -np.inf         # the highest unflagged score, as written
    hi = shown[up].min() if up.any() else np.inf              # the lowest flagged one
    if lo <= float(text) < hi or not lo < hi:
        return text
    # (monotone rounding: the 9-digit threshold lies between the written scores, and fails only by equalling the
    # lowest flagged one, hi)
    for digits in range(10, 18):
        below = hi - 10.0 ** (np.floor(np.log10(abs(hi))) - digits + 1) if hi != 0 and np.isfinite(hi) else lo
        for more in (f"{t:.{digits}g}", f"{below:.{digits}g}"):
            if lo <= float(more) < hi:
                return more
    return repr(float(lo))


def threshold_columns(thr: Threshold, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Extra CSV columns for wildgan.scoring.run.write_scores_csv: is_anomaly (0/1), threshold (written_threshold:
    the CSV's own score column compared with it gives is_anomaly), threshold_rule and threshold_score (which score
    column the threshold applies to)."""
    n = len(scores)
    flags = thr.apply(scores)
    return {"is_anomaly": flags, "threshold": np.full(n, written_threshold(thr.value, scores, flags), dtype=object),
            "threshold_rule": np.full(n, thr.rule, dtype=object),
            "threshold_score": np.full(n, str(thr.params.get("score", "a")), dtype=object)}


def flag_scores(model: Any, run_dir: str | Path, rule: str, scores: dict[str, np.ndarray], *,
                score: str | None = None,
                contamination: float | None = None, k: float | None = None, labels: np.ndarray | None = None,
                batch_mode: str = "mixed", progress: bool = False,
                train_scores: dict[str, np.ndarray] | None = None,
                skip_bad: bool = False) -> tuple[Threshold, dict[str, Any]]:
    """`wildgan score --threshold RULE` on scored images (`scores`: score name -> one value per image, as
    scoring.run.score_files or LoadedModel.score give them): the run_threshold of `score` and the extra CSV columns
    for write_scores_csv, threshold_columns' plus train_percentile (each image's percentile among the training
    images' scores, whatever the rule). train_scores: the run's training scores when the caller has them already
    (see run_threshold); else they are read from the run's cache, or computed and cached (skip_bad: see
    run_threshold; so are the rule's parameter left as None, Detector.fit's record else the default, and `score`
    None, the run's own)."""
    if score is None:
        score = own_score(model.cfg.method)
    if score not in scores:
        raise ConfigError(f"score {score!r} is not available for this run; it has {', '.join(scores)}")
    from .data.dataset_files import labels_needed_by

    # (the run's training scores may be read again from its own data: a refusal of damaged labels names this call,
    # not run_threshold's or run_training_scores'; `wildgan score`'s own setting stands)
    with labels_needed_by("score", "flag_scores", unless_said=True):
        thr = run_threshold(model, run_dir, rule, contamination=contamination, k=k, score=score,
                            labelled_scores=scores[score], labels=labels, batch_mode=batch_mode, progress=progress,
                            train_scores=train_scores if rule in ("contamination", "mad") else None,
                            skip_bad=skip_bad)
        # context for every score, whatever the threshold: its percentile among the training images
        if train_scores is None:
            from .scoring.train_scores import run_training_scores

            train_scores = run_training_scores(run_dir, model, batch_mode=batch_mode, skip_bad=skip_bad)
    extra: dict[str, Any] = dict(threshold_columns(thr, scores[score]))
    extra["train_percentile"] = [f"{v:.2f}" for v in training_percentile(train_scores[score], scores[score])]
    return thr, extra


# ------------------------------------------------------------------------------------------------------------------
# Detector.fit's record of its threshold, in the run folder it trained

# Written by fit, which writes the run folder anyway (never by set_params / set_threshold: those do no I/O, as in
# scikit-learn), so that the run's report can show the threshold that the Detector's predict used when fit returned
# without the Detector at hand, and Detector.from_run can threshold by it again: the rule and its parameters, the
# score and protocol it was taken on, and the weights it was taken with (a run trained on since is another set of
# networks, whose threshold this is not).
FIT_THRESHOLD_FILE = "detector_threshold.json"


def write_fit_threshold(run_dir: Path, thr: Threshold, *, batch_mode: str, lam: float,
                        weights_sha256: str | None) -> None:
    """Record the threshold Detector.fit fitted (thr, whose params name its score) in RUN_DIR/FIT_THRESHOLD_FILE."""
    from .data.run_temps import writing_shared_files     # (here: `import wildgan.thresholds` reads no data layer)

    rec = {"threshold": thr.to_dict(), "batch_mode": batch_mode, "lam": float(lam), "weights_sha256": weights_sha256}
    # (written after fit's training, without the run's lock: held as data.run_temps says, for its temp file's sake)
    with writing_shared_files(Path(run_dir)):
        atomic_write_text(Path(run_dir) / FIT_THRESHOLD_FILE, json.dumps(rec, indent=2))


def load_fit_threshold(run_dir: Path) -> tuple[Threshold, dict[str, Any]]:
    """(the threshold Detector.fit recorded, the whole record); a ConfigError that says what is wrong with a record
    that cannot be read or used (damaged, or edited by hand: a rule, parameter, score, protocol or lam that fit never
    records), an OSError where there is none."""
    from .config import SCORE_NAMES

    try:
        rec = json.loads((Path(run_dir) / FIT_THRESHOLD_FILE).read_text(encoding="utf-8"))
        # (said as the file writes it; not named: this function's callers name the file)
        thr = Threshold.from_dict(rec["threshold"], from_file=True)
    except ConfigError:
        raise           # from_dict's own refusal, which names the record (a ValueError too): not wrapped again
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"not a threshold record ({type(e).__name__}: {e})") from None
    p = thr.params

    def real(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    # what fit would have refused, read back: a record that gives it is not fit's (Detector._validate's rules). Each
    # value as the file writes it (shown: true, null, ["a"]), not as Python's repr of what json read (True, None)
    bad = (f"rule {shown(thr.rule, from_file=True)} (not one of {', '.join(RULES)})" if thr.rule not in RULES else
           f"contamination {shown(p['contamination'], from_file=True)}" if "contamination" in p and not (
               real(p["contamination"]) and 0 < p["contamination"] <= 0.5) else
           f"k {shown(p['k'], from_file=True)}" if "k" in p and not (real(p["k"]) and p["k"] >= 0) else
           f"score {shown(p['score'], from_file=True)}" if "score" in p and p["score"] not in SCORE_NAMES else
           f"batch_mode {shown(rec.get('batch_mode'), from_file=True)}" if rec.get("batch_mode", "mixed") not in (
               "mixed", "isolated") else
           f"lam {shown(rec['lam'], from_file=True)}" if rec.get("lam") is not None and not (
               real(rec["lam"]) and 0 <= rec["lam"] <= 1)
           else None)
    if bad is not None:
        raise ConfigError(f"not a threshold Detector.fit records: {bad}")
    return thr, rec


def fit_record_param(run_dir: Path, rule: str, weights_sha256: str | None) -> tuple[float | None, str]:
    """`wildgan score` / `export --threshold RULE` (and export_onnx) without the rule's parameter: (the parameter, c
    of 'contamination' or k of 'mad', that Detector.fit recorded in run_dir, '') where its rule is `rule` and it was
    taken with these networks (weights_sha256), for any score and protocol (fit_record_apart); else (None, why it is
    not taken, for the threshold line) where fit recorded this rule for other networks (a run trained on since, a
    checkpoint), and (None, '') without a record or with one of another rule. A record that cannot be read or used
    is load_fit_threshold's ConfigError (or OSError), for the caller to say, as Detector.from_run says it."""
    path = Path(run_dir) / FIT_THRESHOLD_FILE
    if rule not in ("contamination", "mad") or not path.is_file():
        return None, ""
    thr, rec = load_fit_threshold(run_dir)
    if thr.rule != rule:
        return None, ""
    name = "contamination" if rule == "contamination" else "k"
    if name not in thr.params:
        # (fit always records it: load_fit_threshold checks its range where it is there, not that it is there)
        raise ConfigError(f"not a threshold Detector.fit records: a {rule} threshold without its {name}")
    letter = "c" if rule == "contamination" else "k"
    what = f"Detector.fit's {letter} = {float(thr.params[name]):g}, recorded in {path},"
    if fit_record_apart(rec, weights_sha256) == "networks":
        return None, (f"{what} is of other networks than these (the run was trained on since, or another checkpoint "
                      f"is loaded): not taken, as the report does not show it")
    return float(thr.params[name]), ""


def follow_fit_record(run_dir: str | Path, rule: str, lookup: Callable[[str], tuple[float | None, str]], *,
                      fallback: str, warn: Callable[[str], None] = warn_user) -> tuple[float | None, str]:
    """The rule's parameter (c of 'contamination', k of 'mad') for a caller that was not given it: `lookup(rule)`
    (fit_record_param for the caller's networks; export.export_fit_param for an export), (value, '') where
    Detector.fit's record is taken, (None, why not) or (None, '') where it is not and the caller's default applies.
    A record that cannot be read or used (damaged, edited by hand) is said through `warn`, naming the file, and
    (None, '') returned: `fallback` says what the caller takes instead, as Detector.from_run does. The one rule of
    `wildgan score` / `export --threshold`, export_onnx and run_threshold (flag_scores), which had it apart (the
    score API's took c = 0.05 where the CLI took fit's)."""
    try:
        return lookup(rule)
    except (OSError, ConfigError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        warn(f"{Path(run_dir) / FIT_THRESHOLD_FILE}: Detector.fit's record of its threshold cannot be read or used "
             f"(damaged or edited by hand: {why}): {fallback}, as Detector.from_run does")
        return None, ""


def fit_record_score(thr: Threshold, method: str) -> str:
    """The score Detector.fit's recorded threshold `thr` is of (the method's own where fit was given none)."""
    return str(thr.params.get("score") or own_score(method))


def fit_record_params(thr: Threshold, rec: dict[str, Any], method: str) -> dict[str, Any]:
    """The Detector parameters Detector.fit's record (`thr`, the whole `rec`, of a `method` run) was fitted with:
    threshold, contamination and mad_k (the defaults where its rule has none), score (None where it is the method's
    own, as a fit with score=None has it), lam (None where not recorded) and batch_mode ('mixed' but for a wildgan
    run: the others score each image alone)."""
    score = fit_record_score(thr, method)
    return {"threshold": thr.rule,
            "contamination": float(thr.params.get("contamination", DEFAULT_CONTAMINATION)),
            "mad_k": float(thr.params.get("k", DEFAULT_MAD_K)),
            "score": None if score == own_score(method) else score,
            "lam": float(rec["lam"]) if rec.get("lam") is not None else None,
            "batch_mode": str(rec.get("batch_mode", "mixed")) if method == "wildgan" else "mixed"}


def fit_record_apart(rec: dict[str, Any], weights_sha256: str | None) -> str | None:
    """Why Detector.fit's record (the whole `rec`) is not the threshold rule of these networks' scores: 'networks'
    (taken with other networks than weights_sha256: the run trained on since, another checkpoint); None where it is
    theirs. Neither the score nor the protocol (batch_mode) parts them: fit's c (k) is the user's choice of how many
    training images to flag, a relative parameter fitted again on the chosen score's own training scores, which holds
    for any score and protocol (a fitted Detector's set_params(score=..., batch_mode=...) keeps it, and an exported
    graph, which scores each image alone, takes it), so `wildgan score --score / --batch-mode`, export and
    from_run(score=..., batch_mode=...) all threshold by it. Only an f1 threshold, a fixed value chosen on fit's
    score and protocol, stays tied to them (Detector's _recorded_f1). The one rule of `wildgan score`/`export
    --threshold` (fit_record_param), export_onnx and Detector.from_run."""
    if weights_sha256 is None or rec.get("weights_sha256") != weights_sha256:
        return "networks"
    return None


def read_fit_threshold(run_dir: Path) -> tuple[Threshold, dict[str, Any]] | None:
    """(the threshold Detector.fit recorded, the whole record) or None: no record (a run of `wildgan train`, or of a
    Detector from before the record), or one that cannot be read or used (only a record: the report goes without
    it; load_fit_threshold says why)."""
    try:
        return load_fit_threshold(run_dir)
    except (OSError, ConfigError):
        return None
