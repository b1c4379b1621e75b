"""Detector.from_run(RUN) of a run without cached training scores reads the networks and config only; the training
scores (for threshold_, labels_, predict, save, set_params of a score setting...) are read from the run's data at the
first call that needs them, so decision_function works even where that data is gone or its labels are damaged.

That deferred read must behave as an eager one would: read once however many threads ask, each Detector its own run
at the same time, a forked child its own; refused, naming the call the user made, where the run's data is gone, the
run moved, deleted, trained again or resumed since from_run, or a pickled copy is where its run is not; the refusal
keeps its attributes (errors.reworded); hasattr / getattr(det, name, default) answer as for a missing attribute;
set_params with unchanged settings and a refit read nothing."""

from __future__ import annotations

import os
import pickle
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from damaged_data import cifar_run_and_batches

from wildgan import Detector
from wildgan.errors import SPLIT_CLASSES, SPLIT_TOO_SMALL, ConfigError, DataError, reworded


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run without cached training scores and its CIFAR-10 batches, built once (each test takes a copy)."""
    from damaged_data import cifar_train_run

    root = tmp_path_factory.mktemp("lazy")
    cifar_train_run(root)
    return root


def _copy_run(built: Path, where: Path) -> Path:
    """A copy of the run at where/run, its data at where/cifar-10-batches-py (the run names its data by an absolute
    path: the copy's config is pointed at the copy's data)."""
    shutil.copytree(built / "cifar-10-batches-py", where / "cifar-10-batches-py")
    shutil.copytree(built / "run", where / "run")
    for f in (where / "run").rglob("*"):
        if f.is_file() and f.suffix in (".json", ".yaml"):
            text = f.read_text()
            if str(built) in text:
                f.write_text(text.replace(str(built), str(where)))
    assert not (where / "run" / "train_scores.csv").exists()
    return where / "run"


@pytest.fixture
def run(built: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the run at tmp_path/run, its data at tmp_path/cifar-10-batches-py."""
    yield _copy_run(built, tmp_path)


def _from_run(run: Path, **kw: Any) -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu", **kw)
    assert "_pending_run_scores" in vars(det)          # (left to be read: what these tests are about)
    return det


def _x(n: int = 5) -> np.ndarray:
    """n fixed random 32x32 RGB images to score."""
    return np.random.default_rng(3).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)


def test_from_run_of_a_run_without_cached_scores_reads_its_data_at_the_first_call_that_needs_them(
        tmp_path: Path) -> None:
    """from_run reads no data; decision_function scores without the training scores; each call that needs them
    (predict, predict_proba, threshold_, save) reads them then and, refused, names itself, not from_run; once the data
    is mended, the numbers, the cache and the labels are those of a from_run that found them cached."""
    from damaged_data import write_meta

    run, folder = cifar_run_and_batches(tmp_path)
    assert not (run / "train_scores.csv").exists()
    write_meta(folder, names=False)                  # the labels damaged since training
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu")      # networks and config read; the data not
        assert det.decision_function(_x(6)).shape == (6,)
        assert len(det.decision_function(str(folder))) == 48      # (every image, labels ignored)
        for call, use in (("predict", lambda: det.predict(_x(6))), ("predict_proba", lambda: det.predict_proba(_x(6))),
                          ("threshold_", lambda: det.threshold_), ("save", lambda: det.save(tmp_path / "m"))):
            with pytest.raises(DataError, match="batches.meta") as e:
                use()
            assert f"Detector.{call}" in str(e.value) and "Detector.from_run" not in str(e.value), (call, e.value)
    assert not (run / "train_scores.csv").exists() and not (tmp_path / "m.json").exists()
    write_meta(folder, names=True)                   # mended: the same numbers as a from_run that read them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = det.predict(_x(6))
        assert (run / "train_scores.csv").is_file()   # (cached as from_run cached them)
        again = Detector.from_run(str(run), device="cpu")
    assert "decision_scores_" in vars(again)         # cached: read by from_run itself, as before
    np.testing.assert_array_equal(det.decision_scores_, again.decision_scores_)
    assert det.threshold_ == again.threshold_ and det.n_train_ == again.n_train_ == 40
    np.testing.assert_array_equal(labels, again.predict(_x(6)))


def test_from_run_of_a_run_whose_data_is_gone_scores_and_refuses_the_threshold_by_name(
        tmp_path: Path) -> None:
    """The run's data deleted: the Detector still scores; a set_params that needs the training scores is refused
    naming itself and leaves the Detector as it was, the read still pending."""
    run, folder = cifar_run_and_batches(tmp_path)
    shutil.rmtree(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu", batch_mode="isolated")
        assert det.decision_function(_x(6)).shape == (6,)
        with pytest.raises(DataError, match="needs the run's training images") as e:
            det.set_params(score="L_r")
    assert "Detector.set_params" in str(e.value), e.value
    assert det.score is None and "_pending_run_scores" in vars(det)    # refused: as it was, still pending
    with pytest.raises(DataError, match="Detector.labels_"):
        det.labels_


def test_a_refit_of_from_run_s_detector_drops_the_pending_read(tmp_path: Path) -> None:
    """A fit of from_run's Detector (on other data, into another run folder) replaces what was to be read."""
    run, folder = cifar_run_and_batches(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu")
        det.set_params(run_dir=str(tmp_path / "refit"), total_kimg=0.016, resolution=8, channels=1)
        x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
        det.fit(x)
    assert "_pending_run_scores" not in vars(det) and det.n_train_ == 20


def test_two_threads_asking_for_the_threshold_read_the_run_once(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads asking for threshold_ at once: the training scores are read once, both get the same value, and
    neither fails (the second must wait for the first's read, not find it half done)."""
    import wildgan.scoring.train_scores as ts

    det = _from_run(run)
    calls: list[int] = []
    real = ts.run_training_scores

    def slow(*a: Any, **kw: Any) -> Any:
        calls.append(1)
        time.sleep(0.3)           # (long enough for the other thread to arrive while this one reads)
        return real(*a, **kw)

    monkeypatch.setattr(ts, "run_training_scores", slow)
    got: list[Any] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got.append(det.threshold_)
        except BaseException as e:           # (a read half done by the other thread would fail here)
            errors.append(e)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(calls) == 1 and len(got) == 2 and got[0] == got[1]
    assert "_pending_run_scores" not in vars(det)


def _fake_scores(n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=n) for k in ("a", "L_n", "L_o", "L_r", "A", "z_norm")}


def test_two_detectors_read_their_own_runs_at_the_same_time(built: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two Detectors of two runs, asked for their thresholds by two threads (a thread pool over runs): the two reads
    run at the same time, each waiting for the other to have started; a lock shared by every Detector would make the
    second wait for the first to end, a pool of runs read one after another."""
    import wildgan.scoring.train_scores as ts

    dets = [_from_run(_copy_run(built, tmp_path / str(i))) for i in range(2)]
    both = threading.Barrier(2, timeout=10)
    met: list[bool] = []

    def reading(*a: Any, **kw: Any) -> dict[str, np.ndarray]:
        try:
            both.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        return _fake_scores()

    monkeypatch.setattr(ts, "run_training_scores", reading)
    got: list[float] = []
    threads = [threading.Thread(target=lambda d=d: got.append(d.threshold_)) for d in dets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 2 and met == [True, True], met


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_process_forked_while_another_thread_reads_reads_its_own(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process forked (multiprocessing's fork, os.fork) while a thread of its parent reads a Detector's training
    scores: the child, where that thread is not, reads them itself and does not hang on the lock the parent's
    reading thread held at the fork."""
    import wildgan.scoring.train_scores as ts

    det = _from_run(run)
    parent = os.getpid()
    started, go_on = threading.Event(), threading.Event()

    def reading(*a: Any, **kw: Any) -> dict[str, np.ndarray]:
        if os.getpid() == parent:
            started.set()
            go_on.wait(30)
        return _fake_scores()

    monkeypatch.setattr(ts, "run_training_scores", reading)
    reader = threading.Thread(target=lambda: det.threshold_)
    reader.start()
    try:
        assert started.wait(30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")             # (Python 3.12's warning of a fork with threads running)
            pid = os.fork()
        if pid == 0:                                    # the child: its own read, then out without pytest's exit
            code = 1
            try:
                code = 0 if np.isfinite(det.threshold_) else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert done and os.waitstatus_to_exitcode(status) == 0, "the forked child hung reading its own scores"
    finally:
        go_on.set()
        reader.join(30)
    assert "_pending_run_scores" not in vars(det)


def test_hasattr_and_getattr_with_a_default_answer_where_the_read_is_refused(run: Path) -> None:
    """With the run's data gone, hasattr(det, 'threshold_') is False and getattr(det, 'labels_', None) None, as for
    any missing attribute (the refusal is an AttributeError too), while det.threshold_ says why; the refusal pickles
    as a plain DataError, and the read stays pending."""
    det = _from_run(run)
    shutil.rmtree(run.parent / "cifar-10-batches-py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not hasattr(det, "threshold_")
        assert getattr(det, "labels_", None) is None
        with pytest.raises(DataError, match="Detector.threshold_") as e:
            det.threshold_
    assert isinstance(e.value, AttributeError)
    # the refusal sent between processes is the plain DataError its module names
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is DataError and str(back) == str(e.value)
    assert "_pending_run_scores" in vars(det)          # still to be read once the data is back
    assert hasattr(det, "model_") and det.decision_function(_x()).shape == (5,)


def _config_error() -> ConfigError:
    try:
        try:
            raise OSError("the disk said no")
        except OSError as cause:
            raise ConfigError("data.root is wrong", start_again="; start again with --overwrite", then=" (or not)",
                              setting="data.root", flag="--data", problem="is wrong", value="x",
                              split_problem=SPLIT_CLASSES) from cause
    except ConfigError as e:
        return e


def _has_parts(e: BaseException) -> None:
    assert isinstance(e, ConfigError)
    assert (e.start_again, e.setting, e.flag, e.problem, e.value, e.split_problem) == (
        "; start again with --overwrite", "data.root", "--data", "is wrong", "x", SPLIT_CLASSES)
    assert str(e).startswith("data.root is wrong; start again with --overwrite (or not)")
    assert "Detector." in str(e) and e.then.startswith(" (or not)") and "Detector." in e.then


def test_reworded_keeps_the_attributes_cause_and_parts_of_a_config_error() -> None:
    """errors.reworded (which the lazy read uses to name the user's call in a refusal) keeps a ConfigError's or a
    DataError's type, attributes, cause and traceback, through with_start_again and pickling."""
    e = _config_error()
    out = reworded(e, "where: ", " (and more)")
    assert type(out) is ConfigError and str(out) == f"where: {e} (and more)"
    assert (out.start_again, out.setting, out.split_problem, out.message, out.then) == (
        e.start_again, "data.root", SPLIT_CLASSES, "where: data.root is wrong", " (or not) (and more)")
    assert isinstance(out.__cause__, OSError) and out.__traceback__ is e.__traceback__
    # the refusal rebuilt with other advice still says the added words
    assert str(out.with_start_again("; a new --out")) == "where: data.root is wrong; a new --out (or not) (and more)"
    d = reworded(DataError("too few", split_problem=SPLIT_TOO_SMALL), after=" there")
    assert type(d) is DataError and d.split_problem == SPLIT_TOO_SMALL and str(d) == "too few there"
    back = pickle.loads(pickle.dumps(out))
    assert (back.setting, back.start_again, back.then, str(back)) == (out.setting, out.start_again, out.then, str(out))


def test_a_refused_lazy_read_keeps_the_refusals_attributes(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal the lazy read lets through, reworded to name the user's call, keeps a ConfigError's start_again,
    setting, split_problem (and a DataError's split_problem) and its cause, through predict, hasattr / getattr (the
    AttributeError copy) and a pickled copy alike: a caller reading them must not find None."""
    import wildgan.scoring.train_scores as ts

    det = _from_run(run)

    def refused(*a: Any, **kw: Any) -> Any:
        raise _config_error()

    monkeypatch.setattr(ts, "run_training_scores", refused)
    with pytest.raises(ConfigError) as e:
        det.predict(_x())
    _has_parts(e.value)
    assert isinstance(e.value.__cause__, OSError)
    assert not hasattr(det, "threshold_") and getattr(det, "labels_", None) is None
    with pytest.raises(ConfigError) as got:
        det.threshold_
    assert isinstance(got.value, AttributeError) and isinstance(got.value.__cause__, OSError)
    _has_parts(got.value)
    back = pickle.loads(pickle.dumps(got.value))
    assert type(back) is ConfigError
    _has_parts(back)

    def too_small(*a: Any, **kw: Any) -> Any:
        raise DataError("too few training images", split_problem=SPLIT_TOO_SMALL)

    monkeypatch.setattr(ts, "run_training_scores", too_small)
    with pytest.raises(DataError, match="Detector.predict needs") as d:
        det.predict(_x())
    assert d.value.split_problem == SPLIT_TOO_SMALL


def test_a_lazy_detector_unpickled_where_its_run_is_not_is_refused_naming_the_run(run: Path, tmp_path: Path) -> None:
    """A pickled lazy Detector loaded after its run folder moved away still scores; a call that needs the training
    scores is refused naming the run that is not here and the call."""
    det = _from_run(run)
    blob = pickle.dumps(det)
    shutil.move(str(run), str(tmp_path / "elsewhere"))
    copy = pickle.loads(blob)
    assert copy.run_dir_ is None
    assert copy.decision_function(_x()).shape == (5,)
    with pytest.raises(DataError, match="not here") as e:
        copy.predict(_x())
    assert str(run) in str(e.value) and "Detector.predict" in str(e.value), e.value


@pytest.mark.parametrize("how", ["moved", "deleted"])
def test_a_run_moved_or_deleted_since_from_run_is_refused_as_gone(run: Path, tmp_path: Path, how: str) -> None:
    """A run moved or deleted since from_run: a call that needs the training scores says the run is not there
    (moved or deleted); the Detector still scores, and reads them once the run is back."""
    det = _from_run(run)
    if how == "moved":
        shutil.move(str(run), str(tmp_path / "elsewhere"))
    else:
        shutil.rmtree(run)
    with pytest.raises(DataError) as e:
        det.predict(_x())
    msg = str(e.value)
    # (not 'trained again since' with advice to call from_run on the very folder that is gone)
    assert "trained again" not in msg and "Detector.predict" in msg and str(run) in msg, msg
    assert "is not there" in msg and "moved or deleted" in msg, msg
    assert det.decision_function(_x()).shape == (5,)     # (needs no training scores)
    assert "_pending_run_scores" in vars(det)            # still to be read once the run is back
    shutil.move(str(tmp_path / "elsewhere"), str(run)) if how == "moved" else None
    if how == "moved":
        assert np.isfinite(det.threshold_)


def test_a_run_trained_again_since_from_run_is_refused_as_trained_again(run: Path) -> None:
    """A run trained again (--overwrite) since from_run holds other networks: the lazy read is refused as 'trained
    again since', naming the call, and caches nothing of the old networks in the new run."""
    from wildgan.cli import main

    det = _from_run(run)
    data = run.parent / "cifar-10-batches-py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(data), "--normal", "airplane", "--preset", "tiny", "--resolution", "8",
                     "--total-kimg", "0.05", "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--seed", "7",
                     "--no-train-scores", "--overwrite", "--out", str(run)]) == 0
        with pytest.raises(DataError, match="trained again since") as e:
            det.predict(_x())
    assert "Detector.predict" in str(e.value) and "changed since" not in str(e.value), e.value
    assert not (run / "train_scores.csv").exists()      # (nothing of the old networks cached in the new run)


def test_a_run_resumed_since_a_lazy_from_run_is_not_said_to_have_a_new_training_set(run: Path) -> None:
    """A run resumed (trained further) since from_run holds other networks, so the lazy read is refused as for a run
    trained again; but a resume keeps the run's data and split, so the refusal names the resume and does not say
    "its training set is now the new training's", which would send the user looking for a change of data."""
    from wildgan.cli import main

    det = _from_run(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.128", "--threads", "1",
                     "--no-progress", "--no-train-scores"]) == 0
        with pytest.raises(DataError, match="trained again since") as e:
            det.predict(_x())
    msg = str(e.value)
    assert "new training's" not in msg and "resume" in msg and "Detector.predict" in msg, msg
    assert det.decision_function(_x()).shape == (5,)


def test_set_params_of_the_same_settings_reads_nothing(run: Path) -> None:
    """set_params(**get_params()) and a setting that does not touch the scores read nothing (the run's data may be
    gone); a change of the score does need them, and says so."""
    det = _from_run(run, batch_mode="isolated")
    shutil.rmtree(run.parent / "cifar-10-batches-py")
    det.set_params(**det.get_params())                  # (no DataError: nothing changed, nothing to read)
    det.set_params(verbose=False)
    assert "_pending_run_scores" in vars(det)
    with pytest.raises(DataError, match="Detector.set_params"):
        det.set_params(score="L_r")                     # a change does need them, and says so
