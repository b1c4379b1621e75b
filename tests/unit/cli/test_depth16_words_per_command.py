"""The refusal of an image no 16-bit rule reads (a Pillow mode-I image outside 0..65535, a float TIFF outside [0, 1]
and [0, 255]) names the setting that chooses the rule as the reader's user has it: `wildgan score` and `wildgan
evaluate` read by the run's recorded rule and take no --depth16, so they name that record (they said "made 8-bit by
--depth16", an option both refuse); `wildgan train` names --depth16; a Python caller the keyword depth16=. Also when
a pool of decoding processes reads the files (each starts with the Python API's words)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main
from wildgan.errors import RUN_DEPTH16, DataError, depth16_option, depth16_said_as

MODE_I_WORDS = "wildgan reads such an image as 16-bit (0..65535, made 8-bit by {})"
FLOAT_WORDS = "save them as 16-bit integers (then {} chooses the rule)"


def _refused_images(where: Path) -> dict[str, Path]:
    """One 8x8 image of each kind no rule reads: mode I (32-bit integers) above 65535, float far above 255."""
    where.mkdir(parents=True, exist_ok=True)
    mode_i = where / "counts.tif"
    Image.fromarray(np.full((8, 8), 70000, np.int32)).save(mode_i)
    assert Image.open(mode_i).mode == "I"
    flt = where / "float.tif"
    Image.fromarray(np.full((8, 8), 300.0, np.float32)).save(flt)
    return {"mode_i": mode_i, "float": flt}


def _said(kind: str, words: str) -> str:
    return (MODE_I_WORDS if kind == "mode_i" else FLOAT_WORDS).format(words)


def test_the_words_come_back_after_the_setting():
    assert depth16_option() == "depth16="
    with depth16_said_as(RUN_DEPTH16):
        assert depth16_option() == RUN_DEPTH16
        with depth16_said_as(None):
            assert depth16_option() == "depth16="
    assert depth16_option() == "depth16="


@pytest.mark.parametrize("kind", ["mode_i", "float"])
@pytest.mark.parametrize("pool", [False, True])
def test_score_names_the_runs_recorded_setting(trained_run, tmp_path, capsys, monkeypatch, kind, pool) -> None:
    from wildgan.data import decode_pool

    images = _refused_images(tmp_path / "new")
    pile = tmp_path / "pile"
    pile.mkdir()
    if pool:
        # a pile decoded by a pool of processes: the words are handed to its workers
        for i in range(3):
            Image.fromarray(np.full((8, 8), 7, np.uint8)).save(pile / f"{i}.png")
        monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
        monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 2)
        monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    images[kind].rename(pile / images[kind].name)
    rc = main(["score", str(trained_run), "--data", str(pile), "--out", str(tmp_path / "s.csv"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0 and _said(kind, RUN_DEPTH16) in err, err
    assert "--depth16" not in err and "depth16=" not in err, err
    # (and the words are put back: a Python read after the command names the keyword)
    with pytest.raises(DataError, match="depth16="):
        from wildgan.data.image_decode import read_image

        read_image(pile / images[kind].name)


def test_evaluate_on_other_data_names_the_runs_recorded_setting(trained_run, tmp_path, capsys) -> None:
    data = tmp_path / "other"
    for cls in ("0", "1"):
        (data / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(data / cls / f"{i}.png")
    _refused_images(data / "1")
    (data / "1" / "float.tif").unlink()
    rc = main(["evaluate", str(trained_run), "--data", str(data), "--normal", "0", "--no-controls", "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0 and _said("mode_i", RUN_DEPTH16) in err, err
    assert "--depth16" not in err, err


@pytest.mark.parametrize("kind", ["mode_i", "float"])
def test_train_names_its_option_and_python_the_keyword(tmp_path, capsys, kind) -> None:
    from wildgan.data import load_images

    images = _refused_images(tmp_path / "pile")
    rc = main(["train", "--data", str(tmp_path / "pile"), "--preset", "tiny", "--out", str(tmp_path / "run"),
               "--dry-run"])
    err = capsys.readouterr().err
    assert rc != 0 and _said(kind, "--depth16") in err, err
    with pytest.raises(DataError) as e:
        load_images([images[kind]], 8, 1)
    assert _said(kind, "depth16=") in str(e.value) and "--depth16" not in str(e.value)


@pytest.mark.parametrize("kind", ["mode_i", "float"])
def test_score_files_names_the_runs_record_or_conversion(trained_run, tmp_path, kind) -> None:
    # score_files takes no depth16=: it reads by the run's recorded rule, or by the conversion= a caller passes
    from wildgan.errors import CONVERSION_DEPTH16
    from wildgan.scoring.run import load_model, score_files

    images = _refused_images(tmp_path / "new")
    model = load_model(trained_run, "cpu")
    with pytest.raises(DataError) as e:
        score_files(model, [images[kind]])
    assert _said(kind, RUN_DEPTH16) in str(e.value) and "depth16=" not in str(e.value), e.value
    with pytest.raises(DataError) as e:
        score_files(model, [images[kind]], conversion=dict(model.conversion))
    assert _said(kind, CONVERSION_DEPTH16) in str(e.value), e.value
    # (put back: a plain read afterwards names the keyword)
    with pytest.raises(DataError, match="depth16="):
        from wildgan.data.image_decode import read_image

        read_image(images[kind])


def test_evaluate_run_on_other_data_names_the_runs_recorded_setting(trained_run, tmp_path) -> None:
    from wildgan.evaluation.run import evaluate_run

    data = tmp_path / "other"
    for cls in ("0", "1"):
        (data / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(data / cls / f"{i}.png")
    _refused_images(data / "1")
    (data / "1" / "float.tif").unlink()
    with pytest.raises(DataError) as e:
        evaluate_run(trained_run, str(data), device="cpu", normal="0", controls=False, write=False)
    assert _said("mode_i", RUN_DEPTH16) in str(e.value) and "depth16=" not in str(e.value), e.value


@pytest.mark.parametrize("cli", [True, False])
def test_stretched_warning_under_a_runs_record_names_it_and_a_new_training(cli) -> None:
    # `wildgan evaluate` (and evaluate_run) rebuild a data set from a run's data or --data by the run's recorded
    # rule, with no --depth16 to change: the advice names the record and the option of a new training
    import warnings

    from wildgan.data.imageset import warn_decode_stats
    from wildgan.errors import words_for

    stats = {"stretched": 3, "max16": 4000, "n16": 3}
    with words_for(cli), depth16_said_as(RUN_DEPTH16), warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        warn_decode_stats(stats, "images", "per-image")
    text = " ".join(str(w.message) for w in got)
    option = "--depth16 bits:12" if cli else "depth16='bits:12'"
    assert f"{RUN_DEPTH16} (per-image)" in text and f"a new training with {option}" in text, text
    # (a training's own read keeps naming its option)
    with words_for(cli), warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        warn_decode_stats(stats, "images", "per-image")
    text = " ".join(str(w.message) for w in got)
    assert f"use {option}" in text and "new training" not in text, text


def test_evaluate_of_a_16bit_run_advises_a_new_training(tmp_path, capsys, recwarn) -> None:
    # end to end: `wildgan evaluate` rebuilds a 16-bit run's split by its recorded per-image rule and said "use
    # --depth16 bits:12", an option evaluate refuses
    for cls in ("0", "1"):
        (tmp_path / "d" / cls).mkdir(parents=True)
        for i in range(20):
            pixels = np.random.default_rng(i).integers(0, 4000, (8, 8)).astype(np.uint16)
            Image.fromarray(pixels).save(tmp_path / "d" / cls / f"{i}.png")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "d"), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--phase-kimg", "0.01", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    capsys.readouterr()
    recwarn.clear()                 # (training's own warning rightly said "use --depth16")
    main(["evaluate", str(run), "--no-controls", "--no-progress"])
    err = capsys.readouterr().err + " ".join(str(w.message) for w in recwarn)
    assert "stretched each to its own" in err, err
    assert f"read by {RUN_DEPTH16} (per-image); a new training with --depth16 bits:12" in err, err
    assert "to keep them use" not in err, err


@pytest.mark.parametrize("cli", [False, True])
def test_run_study_s_evaluations_name_the_setting_its_caller_changes(tmp_path, monkeypatch, cli) -> None:
    # evaluate_run within run_study named "the run's recorded depth16 setting" to a Python caller, whose study sets
    # that rule by its base config (data.depth16=), as `wildgan study` does by --depth16
    import warnings

    from study_rows import study_base

    from wildgan.data.imageset import warn_decode_stats
    from wildgan.errors import depth16_option, words_for
    from wildgan.evaluation import run as evaluation_run
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    said: list[str] = []
    real = evaluation_run._evaluate_run

    def recording(*a, **kw):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            warn_decode_stats({"stretched": 3, "max16": 4000, "n16": 3}, "images", "per-image")
        said.extend([depth16_option(), " ".join(str(w.message) for w in got)])
        return real(*a, **kw)

    monkeypatch.setattr(evaluation_run, "_evaluate_run", recording)
    with words_for(cli):
        study_mod.run_study(study_base(tmp_path), grid(["0"], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st",
                            progress=False, log=lambda m: None)
    option, warned = said
    assert option == ("--depth16" if cli else "data.depth16="), said
    rule = "--depth16 bits:12" if cli else "data.depth16='bits:12'"
    assert f"to keep them use {rule}" in warned and RUN_DEPTH16 not in warned, warned
    # (and put back: evaluate_run called on its own names the run's record, a Python read the keyword)
    assert depth16_option() == "depth16="


@pytest.mark.parametrize("pool", [False, True])
def test_within_run_study_a_refused_image_names_its_base_config_s_setting(tmp_path, monkeypatch, pool) -> None:
    # (a pool's workers start with the Python API's words: they are handed run_study's keyword, as the record's)
    from wildgan.data import decode_pool, load_images
    from wildgan.errors import STUDY_DEPTH16, depth16_keyword_as

    images = _refused_images(tmp_path / "pile")
    files = [images["mode_i"]]
    if pool:
        for i in range(3):
            Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "pile" / f"{i}.png")
            files.append(tmp_path / "pile" / f"{i}.png")
        monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
        monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 2)
        monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    with depth16_keyword_as(STUDY_DEPTH16), pytest.raises(DataError) as e:
        load_images(files, 8, 1)
    assert _said("mode_i", STUDY_DEPTH16) in str(e.value), e.value


def test_report_names_the_runs_recorded_setting(tmp_path, capsys) -> None:
    # `wildgan report` and run_report read a run's data again by the rule it recorded, and take no --depth16 /
    # depth16=: a file of the data refused since the training said "then --depth16 chooses the rule"
    from png_piles import gray_png_pile

    from wildgan.evaluation.report import run_report

    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile, digits=2)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.02", "--phase-kimg", "0.01",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    Image.fromarray(np.full((8, 8), 300.0, np.float32)).save(pile / "03.png", format="TIFF")   # (edited since)
    said: list[str] = []
    try:
        run_report(run, top_k_images=0, controls=False, device="cpu", log=said.append)
    except DataError as e:
        said.append(str(e))             # (refused or warned: either way, the words)
    assert any(_said("float", RUN_DEPTH16) in m for m in said) and "depth16=" not in " ".join(said), said
    capsys.readouterr()
    main(["report", str(run), "--top-k", "0", "--no-controls", "--no-progress", "--device", "cpu"])
    err = capsys.readouterr().err
    assert _said("float", RUN_DEPTH16) in err and "--depth16" not in err, err


def test_the_words_of_one_thread_are_not_another_thread_s(tmp_path) -> None:
    """depth16_keyword_as / depth16_said_as were process-wide: a Detector scoring on another thread while run_study
    (or `wildgan score`) ran had its refusal name 'data.depth16=' (or the run's record), a setting it has not. Each
    thread's calls name their own: here a refusal read while the other thread holds both settings names depth16=."""
    import threading

    from wildgan.data import load_images
    from wildgan.errors import STUDY_DEPTH16, depth16_keyword, depth16_keyword_as

    images = _refused_images(tmp_path / "pile")
    inside, done = threading.Event(), threading.Event()
    seen: list[str] = []

    def study() -> None:
        with depth16_keyword_as(STUDY_DEPTH16), depth16_said_as(RUN_DEPTH16):
            inside.set()
            done.wait(30)
            seen.append(depth16_keyword())
            seen.append(depth16_option())

    other = threading.Thread(target=study)
    other.start()
    try:
        assert inside.wait(30)
        assert depth16_keyword() == "depth16=" and depth16_option() == "depth16="
        with pytest.raises(DataError) as e:
            load_images([images["mode_i"]], 8, 1)
        assert _said("mode_i", "depth16=") in str(e.value), e.value
    finally:
        done.set()
        other.join(30)
    assert seen == [STUDY_DEPTH16, RUN_DEPTH16]                # (the other thread's own words, all along)
