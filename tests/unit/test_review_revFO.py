"""Problems a new user met in review (revFO): each test states what a user expects. Each was a strict xfail until
its problem was fixed, and stays as its regression test."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main
from wildgan.config import DataConfig
from wildgan.errors import ConfigError


def _pile(folder, n=20):
    """A folder of loose RGB images: an unlabelled pile."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


@pytest.mark.parametrize("dataset", ["cifar10", "mnist", "chula-rbc12"])
def test_a_protocol_named_on_a_pile_is_refused(tmp_path, dataset):
    from wildgan.data import build_split

    pile = _pile(tmp_path / "pile")
    with pytest.raises(ConfigError, match=rf"chooses the {dataset} protocol"):
        build_split(DataConfig(data=str(pile), dataset=dataset))


def test_a_format_named_by_dataset_is_refused_in_the_cli_words(tmp_path, capsys):
    pile = _pile(tmp_path / "pile")
    assert main(["train", "--data", str(pile), "--dataset", "npz", "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--dataset npz" in err and "dataset='npz'" not in err, err


def test_a_bad_expected_contamination_is_named_as_the_score_option(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    # the option is checked before the run is read: a folder that is no run is enough to reach it
    code = main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--threshold", "contamination",
                 "--expected-contamination", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "--expected-contamination" in err, err


@pytest.mark.parametrize("flag,value", [("--total-kimg", "0"), ("--lr", "0"), ("--minutes", "0"),
                                        ("--resolution", "30")])
def test_a_bad_training_option_is_named_as_the_flag(tmp_path, capsys, flag, value):
    pile = _pile(tmp_path / "pile")
    code = main(["train", "--data", str(pile), "--out", str(tmp_path / "run"), "--preset", "tiny", flag, value,
                 "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and flag in err, err


def test_dry_run_prints_the_config_to_standard_output(tmp_path, capsys):
    """revFO: the config went to stderr, among the warnings, so `--dry-run > cfg.json` wrote an empty file; info --json
    and evaluate --json print to stdout. The warnings stay on stderr."""
    import json

    pile = _pile(tmp_path / "pile")
    # (--dist-timeout without --distributed: a warning)
    assert main(["train", "--data", str(pile), "--out", str(tmp_path / "run"), "--preset", "tiny", "--dry-run",
                 "--dist-timeout", "5"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["preset"] == "tiny"
    assert "warning" in err and "{" not in err, err


def test_score_does_not_write_its_csv_over_an_image_it_scores(scoring_pile, capsys):
    """revFO: `wildgan score --out` replaced one of the very images it was given to score with the CSV, exit 0."""
    pile, run_dir, _ = scoring_pile(4)
    image = pile / "0.png"
    before = image.read_bytes()
    code = main(["score", str(run_dir), "--data", str(pile), "--out", str(image), "--no-progress"])
    err = capsys.readouterr().err
    assert image.read_bytes() == before and code == 2
    assert f"--out {image} is one of the images in --data {pile}, which are scored" in err, err
    # the one file given, as --out too
    code = main(["score", str(run_dir), "--data", str(image), "--out", str(image), "--no-progress"])
    err = capsys.readouterr().err
    assert image.read_bytes() == before and code == 2
    assert f"--out {image} is one of the files given to score (--data {image})" in err, err


def test_score_out_replaces_a_csv_but_no_file_of_another_kind(scoring_pile, tmp_path, capsys):
    """revFO: an --out that is an existing file of the user's, not a scores CSV (an image elsewhere, notes), is refused,
    naming the file; a scores CSV written before (under a .csv name or any other) is replaced, as always."""
    pile, run_dir, _ = scoring_pile(4)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for other, kind in ((photo, "a .jpg file"), (notes, "a .txt file")):
        before = other.read_bytes()
        assert main(["score", str(run_dir), "--data", str(pile), "--out", str(other), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert other.read_bytes() == before
        assert f"--out {other} is an existing file that is not a scores CSV ({kind})" in err, err
    # a new file named as an image: a CSV among images would be read as a broken one
    assert main(["score", str(run_dir), "--data", str(pile), "--out", str(tmp_path / "new.png"), "--no-progress"]) == 2
    assert "names an image file (.png), but a scores CSV is written there" in capsys.readouterr().err
    assert not (tmp_path / "new.png").exists()
    # any .csv is replaced; under a name without .csv, a scores CSV written before is known by its id column; an empty
    # file (a script's `mktemp`) holds nothing to lose
    (tmp_path / "scores.csv").write_text("stale\n")
    (tmp_path / "tmp.XXXX").touch()
    for out in (tmp_path / "scores.csv", tmp_path / "scores", tmp_path / "scores", tmp_path / "tmp.XXXX"):
        assert main(["score", str(run_dir), "--data", str(pile), "--out", str(out), "--no-progress"]) == 0
        assert out.read_text().startswith("id,"), capsys.readouterr().err


def test_export_out_must_be_an_onnx_name_and_replaces_no_other_file(tmp_path, capsys):
    """revFO: `export --out ni/car_0002.jpg` replaced the image with the ONNX model, and `--out x.txt` was taken
    though the help says .onnx. Both refused before the run is read (a folder that is no run is enough)."""
    run = tmp_path / "run"
    run.mkdir()
    photo = tmp_path / "car.jpg"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    before = photo.read_bytes()
    assert main(["export", str(run), "--out", str(photo)]) == 2
    err = capsys.readouterr().err
    assert photo.read_bytes() == before
    assert f"--out {photo} is an existing file that is not an ONNX model (a .jpg file)" in err, err
    assert main(["export", str(run), "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'x.txt'} does not end in .onnx" in err and str(tmp_path / "x.onnx") in err, err


def test_the_api_writers_replace_no_file_of_another_kind(tmp_path):
    from wildgan.export import export_onnx
    from wildgan.scoring.run import write_scores_csv

    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    before = photo.read_bytes()
    with pytest.raises(ConfigError, match="write_scores_csv's path .* is an existing file that is not a scores CSV"):
        write_scores_csv(photo, ["a"], {"a": np.zeros(1)})
    with pytest.raises(ConfigError, match="export_onnx's path .* is an existing file that is not an ONNX model"):
        export_onnx(tmp_path / "no-run", photo)
    assert photo.read_bytes() == before
    write_scores_csv(tmp_path / "s.csv", ["a"], {"a": np.zeros(1)})
    write_scores_csv(tmp_path / "s.csv", ["a"], {"a": np.ones(1)})       # (its own kind: replaced)
    assert (tmp_path / "s.csv").read_text() == "id,a\na,1\n"


def test_a_ctrl_c_after_the_command_finished_leaves_its_exit_code(tmp_path):
    """revFO: a Ctrl-C in the second or two between a command's last line and the process's end (Python's and torch's
    teardown) printed a KeyboardInterrupt traceback ("Exception ignored in atexit callback") or, once Python had put
    back the default handler, killed the finished command silently with exit 130, "stopped by Ctrl-C". Ctrl-C after
    the last line, again and again until the process ends: its own exit code, and no word."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with subprocess.Popen([sys.executable, "-m", "wildgan", "info"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as p:
        for line in p.stdout:
            if line.startswith("training GFLOP"):           # info's last line: main returns right after it
                break
        time.sleep(0.6)     # (a loaded CI core can hold a process 100s of ms; the teardown takes ~2 s)
        for _ in range(100):
            if p.poll() is not None:
                break
            p.send_signal(signal.SIGINT)
            time.sleep(0.05)
        err = p.stderr.read()
        assert p.wait(10) == 0, err
    assert "KeyboardInterrupt" not in err and "interrupted" not in err, err
