"""A damaged training-score cache (RUN_DIR/train_scores.csv cut short, a bad number, an unreadable key): said,
naming the file and what is wrong, and scored again (rewritten whole, atomically); where the training images cannot
be read again, the error says the cache is damaged rather than 'missing or stale'. A stale cache stays silent."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main
from wildgan.errors import DataError
from wildgan.scoring.run import load_model
from wildgan.scoring.train_scores import read_train_scores, run_training_scores


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run on a pile of 20 8x8 images, with its train_scores.csv (written by train)."""
    root = tmp_path_factory.mktemp("damaged")
    pile, run = root / "pile", root / "run"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                     "--total-kimg", "0.032", "--phase-kimg", "0.1", "--out", str(run)]) == 0
    assert (run / "train_scores.csv").is_file() and (run / "train_scores.json").is_file()
    return run


def _copy_run(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    return to


def _said(rec: list[warnings.WarningMessage]) -> str:
    return "\n".join(str(w.message) for w in rec)


@pytest.mark.parametrize("damage, why", [
    (lambda t: t[:len(t) - 9], "cut short"),                                      # a row cut in the middle
    (lambda t: "".join(t.splitlines(keepends=True)[:-3]), "17 rows, where its key"),  # whole rows lost
    (lambda t: t.replace(t.splitlines()[3].split(",")[1], "0.1x2", 1), "line 4, column"),  # a bad number
    (lambda t: "", "empty"),
])
def test_a_damaged_csv_is_said_and_scored_again(trained: Path, tmp_path: Path, damage, why: str) -> None:
    run = _copy_run(trained, tmp_path / "run")
    csv_path = run / "train_scores.csv"
    whole = csv_path.read_text()
    model = load_model(run, "cpu")
    good = read_train_scores(run, model, "mixed")
    assert good is not None
    csv_path.write_text(damage(whole))
    with pytest.warns(UserWarning) as rec:
        assert read_train_scores(run, model, "mixed") is None
    said = _said(rec)
    assert f"{csv_path}: damaged (" in said and why in said, said
    with pytest.warns(UserWarning, match="damaged"):
        again = run_training_scores(run, model)
    for k, v in good.items():
        np.testing.assert_allclose(again[k], v, rtol=1e-6, atol=1e-7, err_msg=k)
    # rewritten whole: read back in silence
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_train_scores(run, model, "mixed")
    assert back is not None and set(back) == set(good)
    assert csv_path.read_text().count("\n") == whole.count("\n")


def test_a_damaged_key_is_said_too(trained: Path, tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path / "run")
    key = run / "train_scores.json"
    key.write_text(key.read_text()[:40])
    with pytest.warns(UserWarning, match=rf"{key}: damaged \(not a readable cache key"):
        assert read_train_scores(run, load_model(run, "cpu"), "mixed") is None


def test_a_stale_cache_stays_silent(trained: Path, tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path / "run")
    key = json.loads((run / "train_scores.json").read_text())
    (run / "train_scores.json").write_text(json.dumps({**key, "weights_sha256": "0" * 64}))
    (run / "train_scores.csv").write_text("id,a\nx.png,0.1")             # (damaged too: not read, being stale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_train_scores(run, load_model(run, "cpu"), "mixed") is None


def test_scores_of_the_same_weights_at_another_level_of_detail_are_stale(trained: Path, tmp_path: Path) -> None:
    # the networks are scored at the lod recorded beside their weights, which can change without the weights (a
    # record mended, a resume that trains nothing): scores at another lod are other numbers, and a key without the
    # lod gave them to every threshold in silence (the stale test above changes the weights' checksum only)
    run = _copy_run(trained, tmp_path / "run")
    model = load_model(run, "cpu")
    assert read_train_scores(run, model, "mixed") is not None
    other = load_model(run, "cpu")
    other.meta["lod"] = 0.0 if model.lod else 1.0
    assert other.meta["sha256"] == model.meta["sha256"] and other.lod != model.lod
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # stale, not damaged: nothing to say
        assert read_train_scores(run, other, "mixed") is None


def test_a_cache_of_other_images_or_another_order_is_not_read_for_a_split(tmp_path: Path) -> None:
    # a caller that names its images (ids) takes the cache only for those images in that order: each score belongs
    # to the image on its row, and a cache of the same key over reordered or other files (renamed, say) handed every
    # image another's score when the check was left out, which no test saw
    from types import SimpleNamespace

    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.scoring.train_scores import write_train_scores

    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    model = SimpleNamespace(cfg=cfg, meta={"sha256": "0" * 64}, source=str(tmp_path / "network-final.json"), lod=0)
    ids = ["a.png", "b.png", "c.png"]
    write_train_scores(tmp_path, model, ids, {"a": np.array([1.0, 2.0, 3.0])}, "mixed")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # another split's cache, not a damaged one: nothing said
        assert read_train_scores(tmp_path, model, "mixed", ids=ids)["a"].tolist() == [1.0, 2.0, 3.0]
        assert read_train_scores(tmp_path, model, "mixed", ids=ids[::-1]) is None
        assert read_train_scores(tmp_path, model, "mixed", ids=["a.png", "b.png", "d.png"]) is None
        assert read_train_scores(tmp_path, model, "mixed") is not None          # (no ids: the cache as it is)


def test_the_error_says_damaged_where_the_training_images_are_gone(trained: Path, tmp_path: Path, capsys) -> None:
    run = _copy_run(trained, tmp_path / "run")
    csv_path = run / "train_scores.csv"
    cut = csv_path.read_text()[:-9]
    csv_path.write_text(cut)
    pile = Path(json.loads((run / "config.json").read_text())["data"]["data"])
    moved = pile.with_name(pile.name + "-moved")
    pile.rename(moved)
    try:
        with pytest.warns(UserWarning, match="damaged"), pytest.raises(DataError) as e:
            run_training_scores(run, load_model(run, "cpu"))
        assert f"{csv_path} is damaged (" in str(e.value) and "missing or stale" not in str(e.value), str(e.value)
        # the CLI's threshold says the same
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            assert main(["score", str(run), "--data", str(moved / "00.png"), "--threshold", "mad", "--out",
                         str(tmp_path / "s.csv"), "--no-progress"]) != 0
        err = capsys.readouterr().err + _said(rec)
        assert f"{csv_path}: damaged" in err and "is damaged (" in err and "missing or stale" not in err, err
        # (nothing is lost where nothing could be scored: the file stays as it was, for a look or a later try)
        assert csv_path.read_text() == cut
    finally:
        moved.rename(pile)


@pytest.mark.parametrize("text, why", [
    ("name,a\nx.png,0.5\n", "its header line name,a is not id followed by the score columns"),
    ("id\nx.png\n", "its header line id is not id followed by the score columns"),
    ("id,a\nx.png,0.1x2\n", "line 2, column a: 0.1x2 is not a number"),
    ("id,a\nx.png,\n", "line 2, column a: '' is not a number"),        # (quoted only where quotes show something)
    ("id,a b\nx.png,NaN?\n", "line 2, column a b: NaN? is not a number"),
])
def test_a_damaged_csv_quotes_what_it_holds_as_typed(tmp_path: Path, text: str, why: str) -> None:
    """What the file holds, quoted as the project's other errors quote a value (config.as_typed): a,b, not Python's
    'a,b'; the file itself named in front of it (test_a_damaged_csv_is_said_and_scored_again)."""
    from wildgan.scoring.train_scores import _Damaged, _read_scores_csv

    path = tmp_path / "train_scores.csv"
    path.write_text(text)
    with pytest.raises(_Damaged) as e:
        _read_scores_csv(path, 1, "train_scores.json")
    assert str(e.value) == why


@pytest.mark.parametrize("key, why", [
    ({"n": "5"}, 'its row count n is "5", not a whole number of rows'),
    ({"n": -1}, "its row count n is -1, not a whole number of rows"),
    ({"n": None}, "its row count n is null, not a whole number of rows"),
    ({}, "it records no row count n"),
])
def test_a_damaged_key_names_itself_and_its_row_count_as_json_writes_it(tmp_path: Path, key: dict, why: str) -> None:
    from types import SimpleNamespace

    (tmp_path / "train_scores.csv").write_text("id,a\nx.png,0.5\n")
    key_path = tmp_path / "train_scores.json"
    key_path.write_text(json.dumps(key))
    damaged: list[str] = []
    model = SimpleNamespace(cfg=SimpleNamespace(method="wildgan"))     # (read no further than the key's count)
    with pytest.warns(UserWarning) as rec:
        assert read_train_scores(tmp_path, model, "mixed", damaged=damaged) is None
    assert f"{key_path}: damaged (not a readable cache key: {why})" in _said(rec), _said(rec)
    assert damaged == [f"{key_path}: not a readable cache key: {why}"]


def test_a_moved_data_set_is_named_with_the_way_back(trained: Path, tmp_path: Path, capsys) -> None:
    # no cache (a run trained with --no-train-scores, or its cache deleted) and the pile moved since training: the
    # threshold's error names the recorded place as the data the run was trained on and how to link it back, as the
    # report and evaluate do, not a bare 'PATH: no such file or folder' of a path the user never typed
    run = _copy_run(trained, tmp_path / "run")
    (run / "train_scores.csv").unlink()
    (run / "train_scores.json").unlink()
    pile = Path(json.loads((run / "config.json").read_text())["data"]["data"])
    moved = pile.with_name(pile.name + "-moved2")
    pile.rename(moved)
    try:
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["score", str(run), "--data", str(moved / "00.png"), "--threshold", "contamination",
                         "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"{run / 'train_scores.csv'} is missing or stale" in err, err
        assert f"{pile}: no such file or folder: the data {run} was trained on" in err, err
        assert f"ln -s NEW_PLACE {pile}" in err, err
        assert not (tmp_path / "s.csv").exists()
    finally:
        moved.rename(pile)
