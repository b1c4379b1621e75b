"""revFS: review of the last session's changes (config-file messages, stdout writes, the program's teardown). Each
test here shows one finding; each was a strict xfail until it was fixed, and stays as the finding's regression test."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _labelled_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    p = tmp_path / "tiny.npz"
    np.savez(p, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    return p


def test_a_flag_given_beside_a_run_config_changes_the_setting_its_refusal_names(tmp_path: Path, capsys) -> None:
    """config.run_config_in adds '(the --X setting)' to a refusal of a run's own config file, for a command's user
    ('a flag beside it changes it', its comment; `--config`'s help: 'explicit flags change only what they control';
    `--resume`'s: 'options given beside it change only what they control, e.g. a longer --total-kimg'). Given beside
    the file, the flag is refused all the same, with the same words pointing at it: either the flag should win (the
    file's value is never used), or the refusal should not offer the flag as the way out."""
    from wildgan.cli import main

    data = _labelled_npz(tmp_path)
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--out", str(tmp_path / "unused"), "--dry-run"]) == 0, capsys.readouterr().err
    whole = json.loads(capsys.readouterr().out)
    whole["train"]["total_kimg"] = 0                      # (a hand edit gone wrong)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(whole))
    rc = main(["train", "--config", str(cfg), "--total-kimg", "1", "--out", str(tmp_path / "r"), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 0 or "--total-kimg" not in err, err


def test_a_command_runs_where_there_is_no_stdout(monkeypatch) -> None:
    """Under pythonw sys.stdout is None (main's own flush checks for it: '(None under pythonw)'). print() then writes
    nothing; write_stdout, which replaced print for every command's output, takes None for a stream without a binary
    layer and calls None.write: `wildgan info` (and evaluate, report, score --out -, --help) ends in a traceback."""
    from wildgan.cli import main

    monkeypatch.setattr(sys, "stdout", None)
    assert main(["info", "--preset", "tiny", "--resolution", "8"]) == 0


def test_write_stdout_translates_newlines_as_the_text_layer_does(monkeypatch) -> None:
    """sys.stdout on Windows is a TextIOWrapper that writes '\\n' as '\\r\\n'. write_stdout encodes the text itself
    and writes the bytes to its binary layer, so every command's output (info, evaluate's table, report's path,
    score --out -, --help) changed its line ends there, and mixes them with what print still writes."""
    from wildgan.cli.common import write_stdout

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\r\n")     # (what Python makes of stdout on Windows)
    monkeypatch.setattr(sys, "stdout", out)
    print("before")
    write_stdout("a\nb\n")
    out.flush()
    assert raw.getvalue() == b"before\r\na\r\nb\r\n"


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="no SIGINT")
def test_a_ctrl_c_in_the_teardown_of_a_bare_wildgan_is_ignored() -> None:
    """cli.run's docstring: 'Ctrl-C is ignored' in the teardown once the command's outcome is decided. run set
    SIGINT to SIG_IGN after main returned, whatever main did; that moved into TeardownExit.install, called from
    _main's outer finally, which a bare `wildgan` (the commands' list, exit 2) returned before (fixed: said within
    that try)."""
    code = ("import atexit, os, signal, sys, time, wildgan.cli as c\n"
            "def teardown():\n    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(0.2)\n"
            "atexit.register(teardown)\n"
            "sys.argv = ['wildgan']\n"
            "raise SystemExit(c.run())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "KeyboardInterrupt" not in proc.stderr, (proc.returncode, proc.stderr)


def test_train_hashes_are_rebuilt_from_an_archives_decoded_cache(tmp_path: Path, monkeypatch) -> None:
    """A run trained on a .tar.gz / .zip before train_hashes.npz was kept: its training read wrote the unpack and
    its decoded cache (<unpack>.decoded-*.npz), which every later read of the archive loads instead of decoding. An
    evaluation on other data with fewer test images than the archive has was told 'rebuilding them would decode the
    N images of ARCHIVE again, more than the M scored here', and the data was not checked; rebuilding is one load of
    that cache (here: the split's own read, just made, is cached)."""
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, _ = _an_archive_run(tmp_path, monkeypatch)
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert hashes is not None or "decode" not in why, why


def test_train_hashes_rebuilt_from_an_archives_decoded_cache_are_its_training_images(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    """(revFS 5, fixed) The rebuild from the decoded cache gives the training images' own checksums, kept in the run
    for next time; without the decoded cache the rebuild would decode every image again, and the note says so."""
    from wildgan.data.splits import TRAIN_HASHES_FILE, image_hashes
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, split = _an_archive_run(tmp_path, monkeypatch)
    for f in (tmp_path / "cache").glob("*.decoded-*.npz"):
        f.rename(f.with_name(f.name + ".aside"))
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert hashes is None and ("would decode the 30 images of the run's data again (its 19 training images are drawn "
                               "from them all), more than the 4 scored here") in why, why
    for f in (tmp_path / "cache").glob("*.aside"):
        f.rename(f.with_name(f.name[: -len(".aside")]))
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert why == "" and np.array_equal(hashes, image_hashes(split.train_x))
    assert (run / TRAIN_HASHES_FILE).is_file()


def test_a_deleted_archive_is_said_to_be_gone_not_too_costly_to_decode(tmp_path: Path, monkeypatch) -> None:
    """The cost of rebuilding a run's training images was weighed before whether its data is still there: a run on
    a .tar.gz deleted since (its decoded cache is looked for by the archive, so none is found) was told 'rebuilding it
    would decode the 30 images of its data again, more than the 4 scored here', as if a larger evaluation could."""
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, _ = _an_archive_run(tmp_path, monkeypatch)
    Path(cfg.data.data).unlink()
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert hashes is None and why.endswith(f"and the run's data {cfg.data.data} is gone") and "decode" not in why, why


def test_the_images_a_rebuild_would_decode_are_said_as_counted(tmp_path: Path, monkeypatch) -> None:
    """'rebuilding it would decode the N images of its data again, more than the M scored here', in a note about the
    run's training images: N is every image the data holds (split.json's n_read: the split is drawn from them all, a
    labelled set's test images and those of neither split too), not its training images. Said so where they differ
    (a pile's are all training images); and no count recorded is not said to be more than those scored."""
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, split = _an_archive_run(tmp_path, monkeypatch)
    for f in (tmp_path / "cache").glob("*.decoded-*.npz"):
        f.unlink()
    assert recorded["n_read"] == 30 and recorded["n_train"] == len(split.train_x) == 19
    _, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=29)
    assert why.endswith("would decode the 30 images of the run's data again (its 19 training images are drawn from "
                        "them all), more than the 29 scored here"), why
    _, why = rebuilt_train_hashes(run, cfg, {**recorded, "n_train": 30}, n_scored=4)
    assert why.endswith("would decode the 30 images of the run's data again, more than the 4 scored here"), why
    _, why = rebuilt_train_hashes(run, cfg, {k: v for k, v in recorded.items() if k not in ("n_read", "n_train")},
                                   n_scored=4)
    assert why.endswith("would decode the images of the run's data again, how many split.json does not say"), why


def _an_archive_run(tmp_path: Path, monkeypatch):
    """(run folder without train_hashes.npz, its RunConfig, its split.json's record, its split) of a run trained on
    a .tar.gz of class folders, whose training read left the unpack and its decoded cache in $WILDGAN_CACHE."""
    import tarfile

    from PIL import Image

    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.data import build_split, split_summary

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    tree = tmp_path / "cells"
    for cls, n in (("good", 24), ("bad", 6)):
        (tree / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tree / cls / f"{i:02d}.png")
    archive = tmp_path / "cells.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(tree, arcname="cells")
    dc = DataConfig(data=str(archive), normal=("good",), resolution=8, channels=3)
    split = build_split(dc, progress=False)            # (training's read: the unpack and its decoded cache)
    assert list((tmp_path / "cache").glob("*.decoded-*.npz"))
    recorded = {**split.info, **split_summary(split)}
    cfg = RunConfig(data=dc, net=net_config_for_preset("tiny", 8, 3), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    return run, cfg, recorded, split
