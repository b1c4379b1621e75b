"""wildgan.thresholds: the label-free rules (contamination percentile, median + k MAD), F1 on a labelled validation
set, the Threshold record, and PyOD-style probabilities. Pure numpy: fast, with hypothesis properties."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wildgan.errors import ConfigError, DataError
from wildgan.thresholds import (MAD_SCALE, Threshold, check_val_labels, contamination_threshold, f1_threshold,
                                fit_threshold, mad_threshold, rank_proba, training_percentile)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def _distinct(n_min: int = 10, n_max: int = 300):
    return arrays(np.float64, st.integers(n_min, n_max), elements=finite, unique=True)


@settings(max_examples=60, deadline=None)
@given(s=_distinct(), c=st.floats(0.01, 0.5))
def test_contamination_rule_flags_the_expected_fraction(s: np.ndarray, c: float) -> None:
    thr = contamination_threshold(s, c)
    frac = thr.apply(s).mean()
    assert abs(frac - c) <= 1.0 / len(s) + 1e-12   # distinct scores: within one image of c


def test_contamination_rule_is_the_percentile() -> None:
    s = np.arange(100, dtype=float)
    thr = contamination_threshold(s, 0.1)
    assert thr.value == pytest.approx(np.percentile(s, 90))
    assert thr.apply(s).sum() == 10 and thr.rule == "contamination" and thr.params["contamination"] == 0.1


@pytest.mark.parametrize("c", [0.0, -0.1, 0.6, 1.0])
def test_contamination_out_of_range(c: float) -> None:
    with pytest.raises(ConfigError):
        contamination_threshold(np.arange(10.0), c)


def test_mad_rule_value() -> None:
    s = np.array([1.0, 2.0, 3.0, 4.0, 100.0])   # median 3, |s - 3| = 2 1 0 1 97 -> MAD 1
    thr = mad_threshold(s, k=2.0)
    assert thr.value == pytest.approx(3.0 + 2.0 * MAD_SCALE * 1.0)
    assert thr.apply(s).tolist() == [0, 0, 0, 0, 1]
    assert thr.params["median"] == 3.0 and thr.params["mad"] == 1.0


def test_a_score_equal_to_the_threshold_is_normal() -> None:
    # 'score > threshold' flags, strictly: with MAD 0 (over half the training scores equal) the MAD rule's threshold
    # is the median, and '>=' would flag every one of those images; the contamination percentile of tied scores
    # lands on a training score too
    mad = mad_threshold(np.array([1.0, 1.0, 1.0, 1.0, 5.0]))
    assert mad.value == 1.0
    assert mad.apply(np.array([1.0, 1.0, 1.0, 1.0, 5.0])).tolist() == [0, 0, 0, 0, 1]
    thr = contamination_threshold(np.array([0.0, 2.0, 2.0, 2.0, 2.0]), 0.25)
    assert thr.value == 2.0 and thr.apply(np.array([2.0, 2.5])).tolist() == [0, 1]


def test_f1_ties_go_to_the_higher_threshold() -> None:
    # flagging the top 1 (tp 1) or all 4 (tp 2) of [4, 3, 2, 1] with anomalies at 4 and 1 both give F1 2/3: the
    # documented tie-break flags fewer images, so the threshold lies between 4 and 3
    thr = f1_threshold(np.array([4.0, 3.0, 2.0, 1.0]), np.array([1, 0, 0, 1]))
    assert thr.value == 3.5 and thr.params["f1"] == pytest.approx(2 / 3)


def test_mad_rule_gaussian_fraction() -> None:
    # for Gaussian scores, median + 3 * 1.4826 MAD ~ mean + 3 sd: ~0.13% above it
    s = np.random.default_rng(0).normal(size=200_000)
    frac = mad_threshold(s, 3.0).apply(s).mean()
    assert 0.0005 < frac < 0.0025


@settings(max_examples=40, deadline=None)
@given(s=_distinct(5, 100), k1=st.floats(0, 5), k2=st.floats(0, 5))
def test_mad_rule_monotone_in_k(s: np.ndarray, k1: float, k2: float) -> None:
    lo, hi = sorted((k1, k2))
    assert mad_threshold(s, lo).value <= mad_threshold(s, hi).value
    assert mad_threshold(s, lo).value >= np.median(s) - 1e-9


def _best_f1_bruteforce(s: np.ndarray, y: np.ndarray) -> float:
    best = 0.0
    for t in np.concatenate([np.unique(s), [s.min() - 1.0]]):
        p = s > t
        tp = int((p & (y == 1)).sum())
        best = max(best, 2 * tp / (p.sum() + y.sum()))
    return best


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_f1_rule_is_optimal(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 60))
    s = data.draw(arrays(np.float64, n, elements=st.floats(-100, 100, allow_nan=False)))  # ties allowed
    y = data.draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    if y.sum() == 0:
        y[0] = 1
    thr = f1_threshold(s, y)
    p = thr.apply(s)
    f1 = 2 * int((p & y).sum()) / (p.sum() + y.sum())
    assert f1 == pytest.approx(_best_f1_bruteforce(s, y))
    assert f1 == pytest.approx(thr.params["f1"])


def test_f1_threshold_between_classes() -> None:
    s = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    y = np.array([0, 0, 0, 1, 1])
    thr = f1_threshold(s, y)
    assert thr.value == pytest.approx(0.6) and thr.params["f1"] == 1.0


def test_f1_needs_positives_and_matching_labels() -> None:
    with pytest.raises(DataError, match="no anomaly"):
        f1_threshold([1.0, 2.0], [0, 0])
    with pytest.raises(DataError, match="labels"):
        f1_threshold([1.0, 2.0], [0, 1, 1])
    with pytest.raises(DataError, match="0 \\(normal\\) or 1"):
        f1_threshold([1.0, 2.0], [0, 2])


def test_fit_threshold_dispatch_and_errors() -> None:
    s = np.arange(50.0)
    assert fit_threshold("contamination", s, contamination=0.2).rule == "contamination"
    assert fit_threshold("mad", s, k=1.0).rule == "mad"
    assert fit_threshold("f1", val_scores=s, val_labels=(s > 40).astype(int)).rule == "f1"
    with pytest.raises(ConfigError, match="validation"):
        fit_threshold("f1", s)
    with pytest.raises(ConfigError, match="unknown threshold rule"):
        fit_threshold("top5", s)
    with pytest.raises(DataError, match="training scores: 1 of 3 scores are NaN or infinite"):
        fit_threshold("mad", [1.0, np.nan, 2.0])
    with pytest.raises(DataError, match="2 of 2 scores are NaN or infinite"):
        fit_threshold("contamination", [np.inf, np.nan])
    with pytest.raises(DataError, match="no scores"):
        fit_threshold("mad", [])


@settings(max_examples=30, deadline=None)
@given(value=finite, rule=st.sampled_from(["contamination", "mad", "f1"]), c=st.floats(0.01, 0.5))
def test_threshold_dict_round_trip(value: float, rule: str, c: float) -> None:
    import json

    thr = Threshold(value, rule, {"contamination": c, "n": 3})
    back = Threshold.from_dict(json.loads(json.dumps(thr.to_dict())))
    assert back == thr
    assert rule in back.describe()


def test_a_threshold_of_other_training_images_than_the_run_had_says_how_many() -> None:
    # (run_threshold adds n_trained when the training scores are of fewer images, --skip-bad, or of more: files
    # added to the run's data since training, which "n=22 of 20 trained on" misread as a part of the 20)
    assert Threshold(1.0, "mad", {"k": 3.0, "n": 19, "n_trained": 20}).describe() == \
        "mad (k=3, n=19 of 20 trained on): score > 1"
    assert Threshold(1.0, "mad", {"k": 3.0, "n": 22, "n_trained": 20}).describe() == \
        "mad (k=3, n=22; the run trained on 20): score > 1"


def test_threshold_from_bad_dict() -> None:
    with pytest.raises(ConfigError):
        Threshold.from_dict({"rule": "mad"})
    # a NaN value (a hand-edited or damaged Detector file) flagged nothing, silently: score > NaN is never true
    with pytest.raises(ConfigError, match="its value is nan"):
        Threshold.from_dict({"value": float("nan"), "rule": "mad"})
    # ... as did +inf, and -inf flagged everything: no rule makes either from finite scores
    for value in ("inf", "-inf", 1e400):
        with pytest.raises(ConfigError, match=r"its value is -?inf"):
            Threshold.from_dict({"value": value, "rule": "mad"})
    assert Threshold.from_dict({"value": 1e300, "rule": "mad"}).apply([1e301]).tolist() == [1]


@settings(max_examples=40, deadline=None)
@given(train=_distinct(2, 50), s=arrays(np.float64, st.integers(1, 30), elements=finite),
       method=st.sampled_from(["linear", "unify"]))
def test_rank_proba_is_a_monotone_map_to_unit_interval(train: np.ndarray, s: np.ndarray, method: str) -> None:
    p = rank_proba(train, s, method)
    assert p.shape == (len(s), 2)
    assert np.all((p >= 0) & (p <= 1)) and np.allclose(p.sum(axis=1), 1.0)
    order = np.argsort(s, kind="stable")
    assert np.all(np.diff(p[order, 1]) >= -1e-12)


def test_rank_proba_linear_uses_training_min_max() -> None:
    p = rank_proba([0.0, 10.0], [-5.0, 0.0, 2.5, 10.0, 20.0])[:, 1]
    assert p.tolist() == [0.0, 0.0, 0.25, 1.0, 1.0]
    with pytest.raises(ConfigError):
        rank_proba([0.0, 1.0], [0.5], "softmax")


def test_predict_proba_says_first_that_it_is_a_scaling_not_a_probability() -> None:
    """predict_proba's docstring began 'float64 [N, 2]: (P(normal), P(anomaly))' and said only in its third sentence
    that these are no calibrated probabilities; docs/python_api.md said it in the middle of the thresholds'
    paragraph. A user reading help(Detector.predict_proba), or the docs' first word on it, could take 0.9 for a 90%
    chance of an anomaly: both now say so in their first sentence."""
    import re
    from pathlib import Path

    from wildgan import Detector

    def first_sentence(text: str) -> str:
        return re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]

    doc = first_sentence(Detector.predict_proba.__doc__ or "")
    assert "min-max" in doc and "not a calibrated probability" in doc and "90%" in doc, doc
    docs = (Path(__file__).parents[2] / "docs" / "python_api.md").read_text(encoding="utf-8")
    said = next(p for p in docs.split("\n\n") if "`predict_proba(X)" in p)       # its first paragraph on the values
    lead = first_sentence(said[said.index("`predict_proba(X)"):])
    assert "min-max" in lead and "not a calibrated probability" in lead and "90%" in lead, lead


def test_training_percentile() -> None:
    from wildgan.thresholds import training_percentile

    t = [1.0, 2.0, 2.0, 3.0]
    np.testing.assert_allclose(training_percentile(t, [0.5, 1.0, 2.0, 2.5, 9.0]), [0.0, 12.5, 50.0, 75.0, 100.0])


def test_a_nan_score_is_the_most_anomalous_everywhere():
    # before: flagged 0 (NaN > t is False), percentile 100, probability NaN -- three different stories
    train = np.array([0.0, 1.0, 2.0, 3.0])
    thr = Threshold(2.5, "contamination", {})
    with pytest.warns(RuntimeWarning, match="1 of 3 scores are NaN"):
        flags = thr.apply([1.0, np.nan, 3.0])
    with pytest.warns(RuntimeWarning, match="1 of 1 scores are NaN"):
        pct = training_percentile(train, [np.nan])
    with pytest.warns(RuntimeWarning, match="1 of 1 scores are NaN"):
        proba = rank_proba(train, [np.nan])
    assert flags.tolist() == [0, 1, 1] and pct.tolist() == [100.0] and proba.tolist() == [[0.0, 1.0]]


def test_the_training_scores_warning_joins_the_held_warning_of_the_split_that_named_the_same_file() -> None:
    """A rebuilt split's warning naming a file unreadable since training is held (HeldWarning) until the training
    scores are read: their warning that they leave that file out joins it (one warning for one cause, 'that file'),
    naming only the files the split's did not (a cache written when another file was unreadable too); said once. A
    held warning said already is referred to as above; one that names none of the files is said on its own."""
    from wildgan.errors import HeldWarning
    from wildgan.scoring.train_scores import warn_left_out

    said: list[str] = []
    held = HeldWarning()
    held.hold("d: 1 file unreadable since run was trained left out: d/1.png: empty file", ["d/1.png"], said.append)
    skipped = [{"path": "d/1.png", "reason": "d/1.png: empty file", "part": "train"},
               {"path": "d/2.png", "reason": "d/2.png: truncated", "part": "train"}]
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        warn_left_out(skipped, "run", 22, pile=False, held=held)
        held.say()
        assert not got and len(said) == 1 and said[0].startswith("d: 1 file unreadable since run"), said
        assert ". run: the training scores leave out 2 unreadable training files" in said[0], said
        # (warn_left_out outside a command: the Python API's skip_bad=True; a command's is --skip-bad, test_cli)
        assert "come from those 22: d/2.png: truncated; that file. Without skip_bad=True" in said[0], said
        warn_left_out(skipped[:1], "run", 23, pile=False, held=held)          # said already: named above
        assert [str(w.message) for w in got][-1].endswith("from those 23: the file named above. Without skip_bad=True "
                                                          "they are read again (and scored once readable)")
        other = HeldWarning()
        other.hold("d: d/3.png (a test image)", ["d/3.png"], said.append)
        warn_left_out(skipped[1:], "run", 23, pile=False, held=other)         # not the held file: its own warning
        assert "from those 23: d/2.png: truncated." in str(got[-1].message) and len(said) == 1
        other.say()
        assert said[-1] == "d: d/3.png (a test image)"


def test_fit_record_params_are_the_detector_parameters_fit_thresholded_with() -> None:
    """Detector.from_run takes these where no argument is given: the rule's own c (k) and the other rule's default, the
    method's own score as None (a fit with score=None), and the protocol of a wildgan run only (the others score
    each image alone, so their record's batch_mode says nothing)."""
    from wildgan.thresholds import fit_record_params

    thr = Threshold(1.0, "mad", {"k": 2.0, "n": 16, "score": "a"})
    assert fit_record_params(thr, {"batch_mode": "isolated", "lam": 0.5}, "wildgan") == {
        "threshold": "mad", "contamination": 0.05, "mad_k": 2.0, "score": None, "lam": 0.5, "batch_mode": "isolated"}
    got = fit_record_params(thr, {"batch_mode": "isolated"}, "fanogan")
    assert (got["score"], got["lam"], got["batch_mode"]) == ("a", None, "mixed")
    thr = Threshold(1.0, "contamination", {"contamination": 0.2, "n": 16})
    assert fit_record_params(thr, {}, "fanogan")["score"] is None and fit_record_params(thr, {}, "search")["mad_k"] == 3


@pytest.mark.parametrize("bad, message", [
    (None, r"^training scores: None where scores are needed"),
    ([[0.1, 0.2], [0.3]], r"^training scores: not read as one array .*ragged"),
    (["0.1", "0.5", "0.9"], r"^training scores: scores must be numbers, got <U3 values"),
    (["low", "high"], r"^training scores: scores must be numbers, got <U4 values"),
    (np.array([0.1, None, 0.3], dtype=object), r"^training scores: None where scores are needed"),
    (np.array([0.1, "0.2"], dtype=object), r"^training scores: scores must be numbers, got a str"),
    (np.array([1 + 1j, 2.0]), r"^training scores: scores must be numbers, got complex128 values"),
    (np.arange(8.0).reshape(2, 4), r"^training scores must be one score per image \(a 1-D array\), got shape \(2, 4\)"),
    ([np.nan, 0.1], r"^training scores: 1 of 2 scores are NaN or infinite"),
    (np.array([]), r"^training scores: no scores to choose a threshold from")])
@pytest.mark.parametrize("rule", ["contamination", "mad", "fit_threshold"])
def test_bad_training_scores_are_refused_by_name(rule: str, bad: object, message: str) -> None:
    """Called directly (not through Detector, whose scores are its own), the rules read None as a NaN score ('1 of 1
    scores are NaN'), numbers written as strings as numbers, a 2-D score array raveled into one long set, a complex
    array by its real part, and gave numpy's bare ValueError for a ragged list. Now each is a DataError naming the
    argument and the problem."""
    call = {"contamination": lambda s: contamination_threshold(s, 0.1), "mad": lambda s: mad_threshold(s, 3.0),
            "fit_threshold": lambda s: fit_threshold("contamination", s)}[rule]
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # (numpy's ComplexWarning was the only word about the complex part)
        with pytest.raises(DataError, match=message):
            call(bad)


def test_torch_scores_and_labels_are_read_as_the_detector_reads_them() -> None:
    """A tensor that requires grad (the scores of a model still in training) or is bf16 stopped the rules with torch's
    bare RuntimeError / TypeError; now they are read as Detector reads y_val (detached, to float32), and a column
    [N, 1] stays N scores."""
    import torch

    s = torch.tensor([0.1, 0.5, 0.9, 0.3, 0.2], requires_grad=True)
    want = contamination_threshold(s.detach().numpy(), 0.2).value
    assert contamination_threshold(s, 0.2).value == want
    assert fit_threshold("contamination", s[:, None], contamination=0.2).value == want
    assert mad_threshold(s.bfloat16(), 3.0).params["n"] == 5
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0], requires_grad=True)
    np.testing.assert_array_equal(check_val_labels(y), [0, 1, 1, 0, 0])
    assert fit_threshold("f1", val_scores=s, val_labels=y).params["f1"] == 1.0


@pytest.mark.parametrize("bad, message", [
    (None, r"^validation labels: None where labels are needed"),
    ([[0], [1, 0]], r"^validation labels: not read as one array .*ragged"),
    (np.arange(4).reshape(2, 2), r"^validation labels must be one label per image")])
def test_bad_validation_labels_and_scores_of_f1_are_refused_by_name(bad: object, message: str) -> None:
    """As the training scores: None was 'must be 0 (normal) or 1 (anomaly)', a ragged list numpy's bare ValueError,
    and a [2, 2] array of validation scores was taken as 4 scores (its labels were refused)."""
    with pytest.raises(DataError, match=message):
        check_val_labels(bad)
    with pytest.raises(DataError, match=message):
        f1_threshold([0.1, 0.5, 0.9, 0.3], bad)
    if bad is not None:           # (fit_threshold's own ConfigError says that f1 needs both)
        with pytest.raises(DataError, match=message.replace("labels", "scores").replace("label ", "score ")):
            fit_threshold("f1", val_scores=bad, val_labels=[0, 1, 1, 0])


def test_numbers_numpy_reads_as_numbers_are_still_read() -> None:
    """The rules' check that scores and labels are numbers (added with to_numpy) refused numbers that np.asarray(...,
    float64) had read: Decimal (not a numbers.Real) and numpy's bool_ in an object array ('got a bool (np.True_)',
    saying that a bool is not a number), e.g. labels gathered as np.array(list_of_flags, dtype=object)."""
    import decimal

    s = [0.1, 0.5, 0.9, 0.3]
    assert contamination_threshold([decimal.Decimal(str(v)) for v in s], 0.25).value == \
        contamination_threshold(s, 0.25).value
    assert Threshold(0.4, "contamination").apply([decimal.Decimal("0.5"), decimal.Decimal("0.1")]).tolist() == [1, 0]
    y = np.array([np.False_, np.True_, np.True_, np.False_], dtype=object)
    np.testing.assert_array_equal(check_val_labels(y), [0, 1, 1, 0])
    np.testing.assert_array_equal(check_val_labels([decimal.Decimal(0), decimal.Decimal(1)]), [0, 1])
    assert f1_threshold(s, y).params["f1"] == 1.0
    with pytest.raises(DataError, match=r"^training scores: scores must be numbers, got a str \('x'\)"):
        contamination_threshold(np.array([0.1, 0.2, "x", decimal.Decimal(1)], dtype=object), 0.25)
    # (numbers float() refuses: numpy's bare ValueError / OverflowError before)
    for bad in ([decimal.Decimal("sNaN"), decimal.Decimal(1)], [10 ** 400, 1]):
        with pytest.raises(DataError, match=r"^training scores: not read as floating-point numbers"):
            contamination_threshold(bad, 0.25)


@pytest.mark.parametrize("make", [
    lambda s: [np.ma.masked, *s[1:]],                                           # np.ma.masked in a list: read as NaN
    lambda s: [np.ma.masked_array(v, mask=i == 0) for i, v in enumerate(s)],    # 0-d masked values: NaN
    lambda s: [np.ma.masked_array([v], mask=[i == 0]) for i, v in enumerate(s)],   # [1] each: the mask dropped
    lambda s: [[v] if i else np.ma.masked_array([v], mask=[True]) for i, v in enumerate(s)],   # a column, nested
    lambda s: np.array([np.ma.masked, *s[1:]], dtype=object)])                  # 'got a MaskedConstant'
def test_masked_values_inside_a_list_or_object_array_are_refused_as_masked(make) -> None:
    """to_numpy refused a masked array, but np.asarray of a list of masked values still dropped their mask: a
    masked 0-d value became NaN (a training score 'NaN or infinite (networks that diverged)', a query score flagged
    as an anomaly) and a masked [1] value its data, in silence. Now each is refused as masked, by the argument's
    name; masked values with nothing masked are read as their data."""
    s = [9.0, 0.1, 0.5, 0.3]
    with pytest.raises(DataError, match=r"^training scores: 1 of its values is masked"):
        contamination_threshold(make(s), 0.25)
    with pytest.raises(DataError, match=r"^scores: 1 of its values is masked"):
        Threshold(0.4, "contamination").apply(make(s))
    with pytest.raises(DataError, match=r"^validation labels: 1 of its values is masked"):
        check_val_labels(make([1, 0, 1, 0]))
    plain = [np.ma.masked_array([v]) for v in s]
    assert contamination_threshold(plain, 0.25).value == contamination_threshold(s, 0.25).value


def test_a_list_of_tensors_is_read_as_one_tensor_is() -> None:
    """A list of 0-d tensors that require grad (losses gathered in a loop) or are bf16 gave torch's bare
    RuntimeError / TypeError through np.asarray, where one such tensor is read (detached, bf16 as float32)."""
    import torch

    s = [0.1, 0.5, 0.9, 0.3]
    want = contamination_threshold(s, 0.25).value
    assert contamination_threshold([torch.tensor(v, requires_grad=True) for v in s], 0.25).value == \
        pytest.approx(want)
    assert mad_threshold([torch.tensor(v).bfloat16() for v in s]).params["n"] == 4
    np.testing.assert_array_equal(check_val_labels([torch.tensor(1.0, requires_grad=True), torch.tensor(0.0)]),
                                  [1, 0])


def _object_array(values: list) -> np.ndarray:
    a = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):      # (a[:] = values would call each tensor's __array__, which refuses grad)
        a[i] = v
    return a


def test_an_object_array_of_tensors_or_unmasked_values_is_read_as_the_list_is() -> None:
    """An object array of 0-d tensors (np.array(list_of_losses, dtype=object)) was read by np.asarray(..., float64)
    before the thresholds read scores through to_numpy; since, 'scores must be numbers, got a Tensor', though the
    same tensors in a list are read; so was a 0-d masked value with nothing masked ('got a MaskedArray')."""
    import torch

    s = [0.1, 0.5, 0.9, 0.3]
    want = contamination_threshold(s, 0.25).value
    grads = _object_array([torch.tensor(v, requires_grad=True) for v in s])
    assert contamination_threshold(grads, 0.25).value == pytest.approx(want)
    assert mad_threshold(_object_array([torch.tensor(v).bfloat16() for v in s])).params["n"] == 4
    assert contamination_threshold(_object_array([np.ma.masked_array(v) for v in s]), 0.25).value == want
    np.testing.assert_array_equal(Threshold(0.4, "contamination").apply(grads), [0, 1, 1, 0])
    np.testing.assert_array_equal(check_val_labels(_object_array([torch.tensor(1), torch.tensor(0)])), [1, 0])


@pytest.mark.parametrize("record, why", [
    ({"value": float("nan"), "rule": "mad", "params": {"k": 3.0}}, "its value is nan"),
    ({"rule": "mad"}, "'value'")])
def test_a_bad_threshold_in_fit_record_is_refused_once_by_its_own_words(tmp_path, record: dict, why: str) -> None:
    """Threshold.from_dict's ConfigError is a ValueError too (as scikit-learn's callers expect of bad input):
    load_fit_threshold's `except ValueError`, meant for unreadable JSON, took it and wrapped it in a second
    'not a threshold record (ConfigError: not a threshold record: ...)'."""
    import json

    from wildgan.thresholds import FIT_THRESHOLD_FILE, load_fit_threshold

    (tmp_path / FIT_THRESHOLD_FILE).write_text(json.dumps({"threshold": record, "batch_mode": "mixed"}))
    with pytest.raises(ConfigError) as e:
        load_fit_threshold(tmp_path)
    # (the record said as the file writes it, NaN where Python's repr says nan: test_run_file_values_refused)
    assert str(e.value) == str(ConfigError(f"not a threshold record: {json.dumps(record)} ({why})"))


@pytest.mark.parametrize("change, said", [
    ({"rule": "median"}, "rule 'median' (not one of contamination, mad, f1)"),
    ({"params": {"contamination": True}}, "contamination true"),
    ({"params": {"k": None}}, "k null"),
    ({"params": {"score": ["a"]}}, 'score ["a"]'),
    ({"batch_mode": False}, "batch_mode false"),
    ({"lam": True}, "lam true"),
])
def test_a_hand_edited_fit_record_says_its_values_as_the_file_writes_them(tmp_path, change: dict, said: str) -> None:
    """load_fit_threshold's refusal of a value fit never records (a record edited by hand) said it as Python's repr of
    what json read (True, None, ['a'], the tuple of rules): said as the JSON file writes it (config.shown)."""
    import json

    from wildgan.thresholds import FIT_THRESHOLD_FILE, load_fit_threshold

    thr = {"value": 0.5, "rule": "mad", "params": {"k": 3.0}}
    rec = {"batch_mode": "mixed", "lam": 0.1}
    for key, v in change.items():
        if key == "rule":
            thr["rule"] = v
        elif key == "params":
            thr["params"] = v
        else:
            rec[key] = v
    (tmp_path / FIT_THRESHOLD_FILE).write_text(json.dumps({"threshold": thr, **rec}))
    with pytest.raises(ConfigError) as e:
        load_fit_threshold(tmp_path)
    assert str(e.value) == f"not a threshold Detector.fit records: {said}"


def test_query_scores_are_one_per_image_as_the_training_scores_are() -> None:
    """Threshold.apply, training_percentile and rank_proba flattened an [N, 2] score array into 2N values (2N labels
    for N images), in silence, where the rules refuse it for the training scores; a column or row is still N."""
    thr = contamination_threshold([0.1, 0.5, 0.9, 0.3], 0.25)
    for call in (thr.apply, lambda s: training_percentile([0.1, 0.5, 0.9], s),
                 lambda s: rank_proba([0.1, 0.5, 0.9], s)):
        with pytest.raises(DataError, match=r"^scores must be one score per image \(a 1-D array\), got shape \(2, 2\)"):
            call(np.array([[0.1, 0.95], [0.2, 0.3]]))
    assert thr.apply(np.array([[0.1], [0.95]])).tolist() == [0, 1]
    assert thr.apply(np.array([[0.1, 0.95]])).tolist() == [0, 1]


@pytest.mark.parametrize("rule, param", [("contamination", "contamination"), ("mad", "k")])
@pytest.mark.parametrize("bad", [None, "0.1", [0.1], True])
def test_a_rule_parameter_that_is_no_number_is_refused_by_name(rule: str, param: str, bad: object) -> None:
    """A rule's parameter given as None, a string, a list or a bool is refused as a ConfigError naming it, as the
    Detector refuses it: None and a list were a bare TypeError from float(), a numeric string was read as its number
    and True as k = 1, in silence (the rules and check_threshold_args are the Python API's too: export_onnx's)."""
    from wildgan.thresholds import check_threshold_args

    s = np.arange(20.0)
    for refuse in (lambda: fit_threshold(rule, s, **{param: bad}),
                   lambda: check_threshold_args(rule, **{param: bad})):
        with pytest.raises(ConfigError, match=rf"^{'contamination' if rule == 'contamination' else 'mad_k'}\b.* "
                                              rf"must be a (finite )?number\b.*got {re.escape(repr(bad))}$"):
            refuse()


def test_nan_training_scores_of_a_run_are_refused_naming_the_run_and_the_score(tmp_path) -> None:
    """`wildgan score --threshold` / run_threshold on a run whose training scores hold NaN (networks that diverged on
    some training images): the refusal names the run and the score it thresholds, not 'training scores' alone,
    which said neither which run nor which of its scores."""
    from types import SimpleNamespace

    from wildgan.thresholds import run_threshold

    model = SimpleNamespace(cfg=SimpleNamespace(method="wildgan"), meta={})
    train = {"a": np.array([1.0, np.nan, 2.0]), "L_r": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path))}: its training images' scores a: 1 of 3 "
                                        r"scores are NaN or infinite"):
        run_threshold(model, tmp_path, "contamination", contamination=0.05, score="a", train_scores=train)
    # (another score of the same run, finite, still gives its threshold)
    assert run_threshold(model, tmp_path, "mad", k=3.0, score="L_r", train_scores=train).params["n"] == 3


def _csv_rows(thr: Threshold, scores: np.ndarray) -> list[dict[str, str]]:
    import csv
    import io

    from wildgan.scoring.run import scores_csv_text
    from wildgan.thresholds import threshold_columns

    text = scores_csv_text([f"{i}.png" for i in range(len(scores))], {"a": scores},
                           extra=threshold_columns(thr, scores))
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_s_threshold_and_score_columns_give_its_is_anomaly() -> None:
    """`score --threshold`'s CSV wrote the threshold and the scores at 9 significant digits, is_anomaly decided at full
    precision: a score just above the threshold read score == threshold with is_anomaly 1. Compared as written, the
    two columns now give is_anomaly; a threshold far from every score is written at 9 digits as before."""
    t = 0.123456789012345
    scores = np.array([t * (1 + 3e-10), t * (1 - 1e-3), t * (1 + 1e-3)])       # just above it, below, above
    rows = _csv_rows(Threshold(t, "contamination"), scores)
    assert [r["is_anomaly"] for r in rows] == ["1", "0", "1"]
    assert rows[0]["threshold"] == "0.1234567889"               # rounded down by a unit of one more digit
    assert rows[0]["a"] == f"{t:.9g}"                           # the score just above reads as the 9-digit threshold
    for r in rows:
        assert (float(r["a"]) > float(r["threshold"])) == (r["is_anomaly"] == "1"), (r, rows[0]["threshold"])
    up = 0.1234567886                                             # a threshold that rounds up to a flagged score
    below = _csv_rows(Threshold(up, "contamination"), np.array([up * (1 - 1e-3), 0.1234567887]))
    assert [r["is_anomaly"] for r in below] == ["0", "1"] and below[1]["a"] == "0.123456789"
    assert below[0]["threshold"] == "0.1234567886"               # itself, with one more digit
    for r in below:
        assert (float(r["a"]) > float(r["threshold"])) == (r["is_anomaly"] == "1"), r
    far = _csv_rows(Threshold(t, "contamination"), scores[1:])
    assert far[0]["threshold"] == "0.123456789"
    for r in far:
        assert (float(r["a"]) > float(r["threshold"])) == (r["is_anomaly"] == "1"), r


def test_the_csv_s_columns_give_is_anomaly_for_float32_scores_at_and_beside_the_threshold() -> None:
    """The scorer's scores are float32: scores equal to the threshold and one float32 step either side of it, negative,
    tiny (subnormal) and huge magnitudes, thresholds on and off the float32 grid, NaN rows. Read back with float(),
    every row's written score > written threshold is its is_anomaly (a NaN row is flagged and written 'nan'), and
    the threshold written moves by less than a unit of its 9th digit. 3,000 random cases (a review ran 100,000)."""
    rng = np.random.default_rng(20261207)
    moved = 0
    for case in range(3000):
        mag = 10.0 ** rng.uniform(-44, 38) if case % 3 == 0 else 10.0 ** rng.uniform(-3, 3)
        t32 = np.float32((-1.0 if rng.random() < 0.3 else 1.0) * mag * rng.uniform(0.5, 1.5))
        t = float(t32) if case % 2 else float(t32) * (1 + rng.normal() * 1e-8)   # off the float32 grid
        choices = [t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf)),
                   np.float32(t * (1 + rng.normal() * 1e-6))]
        scores = np.array([choices[rng.integers(len(choices))] if rng.random() < 0.8
                           else np.float32(t * rng.uniform(0, 2)) for _ in range(int(rng.integers(1, 10)))], np.float32)
        if rng.random() < 0.1:
            scores[rng.integers(len(scores))] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                        # (the NaN rows' warning)
            rows = _csv_rows(Threshold(t, "contamination"), scores)
        written = float(rows[0]["threshold"])
        assert abs(written - t) <= abs(t) * 1e-8, (case, t, rows[0]["threshold"])
        moved += rows[0]["threshold"] != f"{t:.9g}"
        for r in rows:
            got = 1 if r["a"] == "nan" else int(float(r["a"]) > written)
            assert got == int(r["is_anomaly"]), (case, t, rows[0]["threshold"], [x["a"] for x in rows])
    assert moved > 30                   # (the cases reach the rows that 9 digits could not tell apart: 75)
