"""split.json's source_identity: which bytes (a file) or which listing (a folder) a split was read from, compared on
re-use without decoding: a finished study re-run and a run whose data was moved or replaced say so."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from wildgan.config import DataConfig
from wildgan.data import build_split, load_split_data
from wildgan.data import source_identity as si


def _npz(path: Path, flip: int = 0, classes: int = 2, flip_from: int = 0) -> Path:
    rng = np.random.default_rng(0)
    x = (rng.random((40 * classes, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    x[flip_from:flip_from + flip] = 255 - x[flip_from:flip_from + flip]     # other pixels, the same size of file
    np.savez(path, x=x, y=np.repeat(np.arange(classes), 40))
    return path


def test_a_file_changed_in_place_is_told_by_its_bytes_and_a_file_only_touched_is_not(tmp_path, monkeypatch):
    p = _npz(tmp_path / "d.npz")
    was = si.source_identity(p)
    assert was is not None and was["kind"] == "file" and was["size"] == p.stat().st_size
    # the same size and mtime: the same file, without hashing it
    monkeypatch.setattr(si, "file_digest", lambda *a: (_ for _ in ()).throw(AssertionError("hashed")))
    assert si.source_identity(p, known=was) == was
    monkeypatch.undo()
    # touched (the same bytes, another mtime): hashed, and the same
    os.utime(p, ns=(was["mtime_ns"] + 10**9, was["mtime_ns"] + 10**9))
    now = si.source_identity(p, known=was)
    assert now is not None and now["mtime_ns"] != was["mtime_ns"] and si.identity_change(was, now) is None
    # other pixels in a file of the same size, touched: the hash decides
    data = p.read_bytes()
    _npz(p, flip=3)
    assert p.stat().st_size == len(data) and p.read_bytes() != data
    change = si.identity_change(was, si.source_identity(p, known=was))
    assert change is not None and change.startswith(f"recorded: {len(data):,} bytes, modified ") and \
        f"sha256 {was['sha256'][:12]}; now: {len(data):,} bytes" in change, change
    # a record of another scheme, or none: not compared
    assert si.identity_change(dict(was, scheme=0), si.source_identity(p)) is None
    assert si.identity_change(None, si.source_identity(p)) is None


def test_a_folder_with_a_file_added_is_another_listing(tmp_path):
    from PIL import Image

    root = tmp_path / "tree"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(root / c / f"{i}.png")
    was = si.source_identity(root)
    assert was is not None and was["kind"] == "folder" and was["n_files"] == 6
    (root / "a" / ".DS_Store").write_bytes(b"x")          # hidden: the readers never look at it
    assert si.identity_change(was, si.source_identity(root)) is None
    shutil.copy(root / "a" / "0.png", root / "a" / "3.png")
    change = si.identity_change(was, si.source_identity(root))
    assert change is not None and change.startswith("recorded: 6 files, ") and "; now: 7 files, " in change, change


def test_a_folder_copied_without_its_mtimes_is_the_same_and_an_image_edited_at_its_size_is_not(tmp_path,
                                                                                             monkeypatch):
    # `cp -r` (a download, a checkout) gives every file another mtime: the listing alone called that other data
    from PIL import Image

    root = tmp_path / "tree"
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(root / c / f"{i}.png")
    was = si.source_identity(root)
    assert was is not None and isinstance(was.get("content_sha256"), str)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, copy_function=shutil.copyfile)          # (cp -r: the bytes, not the mtimes)
    assert si.quick_identity(copy)["listing_sha256"] != was["listing_sha256"]
    assert si.identity_change(was, si.source_identity(copy, known=was)) is None
    # files the readers never read: not the data
    (copy / "README.txt").write_text("notes")
    (copy / "a" / "labels.csv").write_text("0.png,a")
    assert si.identity_change(was, si.source_identity(copy, known=was)) is None
    # an image edited in place at the same size (noise PNGs of one size): its bytes tell it
    assert (copy / "a" / "0.png").stat().st_size == (copy / "a" / "1.png").stat().st_size
    shutil.copyfile(copy / "a" / "1.png", copy / "a" / "0.png")
    change = si.identity_change(was, si.source_identity(copy, known=was))
    assert change is not None and change.startswith("the same 6 files with the same sizes, other bytes; recorded: ") \
        and f"content sha256 {was['content_sha256'][:12]}; now: " in change, change
    # a file written to between the listing taken before the read and the hash of its bytes: no identity
    quick = si.quick_identity(root)
    shutil.copyfile(root / "b" / "1.png", root / "b" / "0.png")
    assert si.complete_identity(root, quick) is None
    # unchanged: taken from the record without reading a file
    now = si.source_identity(root)
    monkeypatch.setattr(si, "_folder_content", lambda *a: (_ for _ in ()).throw(AssertionError("read")))
    assert si.source_identity(root, known=now) == now


def test_a_split_records_the_identity_of_the_bytes_it_read_and_none_of_a_file_changed_since(tmp_path):
    p = _npz(tmp_path / "d.npz")
    cfg = DataConfig(data=str(p), normal=("0",))
    assert build_split(cfg).info["source_identity"] == si.source_identity(p)
    loaded = load_split_data(cfg)
    _npz(p, flip=3)                    # written again after the read: its bytes are not those the split holds
    assert "source_identity" not in build_split(cfg, loaded=loaded).info


def _trained_study(tmp_path: Path):
    from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.studies import grid
    from wildgan.studies import study as study_mod

    data = DataConfig(data=str(_npz(tmp_path / "toy.npz")), normal=("0",), resolution=8, channels=1)
    tc = TrainConfig(total_kimg=0.032, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                     threads=1)
    base = RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
    cells = grid(["0"], [0.0], ["wildgan"], ["image"], [0])
    study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda m: None)
    return base, cells, study_mod


def test_a_finished_study_rerun_says_that_its_data_changed_in_place_and_keeps_its_rows(tmp_path, monkeypatch):
    # every cell done: the study makes its tables from the rows without reading the data, so a data file changed in
    # place since (the same path, other pixels) gave the old data's tables without a word
    base, cells, study_mod = _trained_study(tmp_path)
    st = tmp_path / "st"
    tables = (st / "tables.md").read_text()

    def computed(*a, **k):
        raise AssertionError("a cell was computed again")

    monkeypatch.setattr(study_mod, "evaluate_run", computed)
    monkeypatch.setattr(study_mod, "train_run", computed)

    def rerun() -> list[str]:
        said: list[str] = []
        study_mod.run_study(base, cells, st, progress=False, log=said.append)
        assert (st / "tables.md").read_text() == tables
        return [m for m in said if m.startswith("warning: ")]

    assert rerun() == []
    p = Path(base.data.data)
    t = p.stat().st_mtime_ns
    os.utime(p, ns=(t + 10**9, t + 10**9))                 # touched only: the same bytes
    assert rerun() == []
    _npz(p, flip=3)                                       # the same size, other pixels
    said = rerun()
    assert len(said) == 1, said
    assert said[0].startswith(f"warning: {p} is not the data that 1 of the 1 cells with a row in ") and \
        "(0_g0_wildgan_image_s0; recorded: " in said[0] and "; now: " in said[0] and \
        "are of the data as those cells read it, not as it is now" in said[0] and \
        "run the study into a new study_dir" in said[0], said          # (run_study's own folder parameter)
    # a cell recorded before the field: not compared (today's behaviour)
    split_json = st / "runs" / cells[0].key / "split.json"
    rec = json.loads(split_json.read_text())
    split_json.write_text(json.dumps({k: v for k, v in rec.items() if k != "source_identity"}))
    assert rerun() == []
    # data that is gone: the tables are made from the rows, as before, without a word
    split_json.write_text(json.dumps(rec))
    p.unlink()
    assert rerun() == []


def test_a_row_whose_run_folder_is_gone_is_compared_with_the_data_by_its_data_sha256(tmp_path, monkeypatch):
    # runs/CELL deleted to save space, results.jsonl kept: the row has no split.json, only its data_sha256, and a
    # re-run on data changed in place pooled the old data's row with the new cells' without a word
    base, cells, study_mod = _trained_study(tmp_path)
    st = tmp_path / "st"
    row = json.loads((st / "results.jsonl").read_text().splitlines()[0])
    assert isinstance(row.get("data_sha256"), str)
    shutil.rmtree(st / "runs" / cells[0].key)

    def computed(*a, **k):
        raise AssertionError("a cell was computed again")

    monkeypatch.setattr(study_mod, "evaluate_run", computed)
    monkeypatch.setattr(study_mod, "train_run", computed)

    def rerun() -> list[str]:
        said: list[str] = []
        study_mod.run_study(base, cells, st, progress=False, log=said.append)
        return [m for m in said if m.startswith("warning: ")]

    p = Path(base.data.data)
    assert rerun() == []                                  # the same data: nothing said
    t = p.stat().st_mtime_ns
    os.utime(p, ns=(t + 10**9, t + 10**9))                 # touched only: the same bytes
    assert rerun() == []
    _npz(p, flip=3)                                       # the same size, other pixels
    said = rerun()
    assert len(said) == 1, said
    assert said[0].startswith(f"warning: {p} is not the data that 1 of the 1 cells with a row in ") and \
        f"(0_g0_wildgan_image_s0; recorded: sha256 {row['data_sha256'][:12]} (its run folder is gone); now: " \
        in said[0], said
    # a row from before the field: not compared
    lines = (st / "results.jsonl").read_text().splitlines()
    (st / "results.jsonl").write_text("\n".join(json.dumps({k: v for k, v in json.loads(x).items()
                                                            if k != "data_sha256"}) for x in lines) + "\n")
    assert rerun() == []


def test_wildgan_study_of_finished_cells_says_a_file_added_to_its_folder_without_decoding_it(tmp_path, monkeypatch,
                                                                                            capsys):
    from PIL import Image

    from wildgan.cli import main
    from wildgan.data import splits

    rng = np.random.default_rng(0)
    root = tmp_path / "tree"
    for k, c in enumerate(("a", "b")):
        (root / c).mkdir(parents=True)
        for i in range(40):
            Image.fromarray((rng.random((8, 8)) * 255 / (k + 1)).astype(np.uint8)).save(root / c / f"{i}.png")
    st = tmp_path / "st"
    args = ["study", "--data", str(root), "--normal", "a", "--contamination", "0", "--preset", "tiny",
            "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(st)]
    assert main(args) == 0
    capsys.readouterr()

    def no_reading(*a, **k):
        raise AssertionError("the data was read")

    monkeypatch.setattr(splits, "load_dataset", no_reading)
    assert main(args) == 0
    assert "is not the data" not in capsys.readouterr().err
    shutil.copytree(root, tmp_path / "was")
    shutil.copy(root / "a" / "0.png", root / "a" / "40.png")
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "every one done" in err and f"{root} is not the data that 1 of the 1 cells" in err and \
        "recorded: 80 files, " in err and "; now: 81 files, " in err, err
    assert "is not the data that 1 of the 1 cells" in (st / "log.txt").read_text()
    # the data copied back over without its mtimes (cp -r), a README beside it: the same data, nothing said
    shutil.rmtree(root)
    shutil.copytree(tmp_path / "was", root, copy_function=shutil.copyfile)
    (root / "README.txt").write_text("notes")
    assert main(args) == 0
    assert "is not the data" not in capsys.readouterr().err
    # an image edited in place at its size (another noise PNG's bytes): said
    assert (root / "a" / "1.png").stat().st_size == (root / "a" / "0.png").stat().st_size
    shutil.copyfile(root / "a" / "1.png", root / "a" / "0.png")
    assert main(args) == 0
    err = capsys.readouterr().err
    # (the images' bytes were read to tell the copy from the edit, none decoded: the study does not say "not read")
    assert "(the images are not decoded)" in err, err
    assert f"{root} is not the data that 1 of the 1 cells" in err and "the same 80 files with the same sizes, other " \
        "bytes; recorded: 80 files, " in err, err


def test_a_run_whose_data_was_moved_and_replaced_says_which_file_is_there(tmp_path, unnested):
    from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.evaluation.run import split_for_run
    from wildgan.training.run import train_run

    # (a third class, excluded: read, but in neither part of the split)
    p = _npz(tmp_path / "toy.npz", classes=3)
    data = DataConfig(data=str(p), normal=("0",), resolution=8, channels=1, exclude_classes=("2",))
    tc = TrainConfig(total_kimg=0.032, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                     threads=1, train_scores=False)
    cfg = RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    said: list[str] = []
    split_for_run(run, log=said.append)
    assert said == []
    # the data moved away, and another file (other pixels) put at the recorded path
    p.rename(tmp_path / "moved.npz")
    _npz(p, flip=3, classes=3)
    split_for_run(run, log=said.append)
    assert len(said) == 1 and f"changed since {run} was trained (" in said[0] and \
        f". {p} is not the file the run read when it was trained (recorded: " in said[0] and \
        f"if the run's data was moved, put it back at {p} (or link its new place there: ln -s NEW_PLACE {p})" \
        in unnested(said[0]), said
    # the training scores of a threshold (no cache: the training images are not the ones trained on) are refused,
    # and the error says which file is there now and where to put the run's data back
    from wildgan.errors import DataError
    from wildgan.scoring.train_scores import run_training_scores

    with pytest.raises(DataError) as refused:
        run_training_scores(run, device="cpu", write=False)
    assert "is missing or stale: thresholds and percentiles come from the images the networks were trained on" \
        in str(refused.value) and f". {p} is not the file the run read when it was trained (recorded: " \
        in str(refused.value) and str(refused.value).endswith(
            f": if the run's data was moved, put it back at {p} (or link its new place there: ln -s NEW_PLACE {p}); "
            f"if it was edited in place, restore it, or train a new run on it"), refused.value
    unnested(refused.value)
    # a split.json recorded before the field: the same refusal, which cannot say which file is there
    recorded = (run / "split.json").read_text()
    (run / "split.json").write_text(json.dumps({k: v for k, v in json.loads(recorded).items()
                                                if k != "source_identity"}))
    with pytest.raises(DataError, match=rf"Restore {re.escape(str(p))} as it was when .* or train a run on the data "
                                        rf"as it is now$"):
        run_training_scores(run, device="cpu", write=False)
    (run / "split.json").write_text(recorded)
    # the same images saved again (other bytes): the split is the run's own, nothing to say
    shutil.copy(tmp_path / "moved.npz", p)
    z = dict(np.load(p))
    np.savez_compressed(p, **z)
    said.clear()
    split_for_run(run, log=said.append)
    assert said == []
    # the run's training and test images, with other images of the excluded class beside them: said, though what
    # is evaluated is the run's split
    _npz(p, flip=3, classes=3, flip_from=80)
    split_for_run(run, log=said.append)
    assert len(said) == 1 and said[0].startswith(f"warning: {p} is not the file the run read when it was trained") \
        and "so what is evaluated is the run's own split, but other images read from it differ" in said[0], said
    # what to do, in the words of every other replaced-source message (it had a copy of its own, which said 'put it
    # back there' without the place, and nothing of data edited in place)
    assert said[0].endswith(f" (split.json's read_fingerprint): {si.restore_advice(str(p))}") and \
        unnested(said[0]), said
    # a split.json recorded before the field: today's behaviour (the same images: nothing said)
    rec = json.loads((run / "split.json").read_text())
    (run / "split.json").write_text(json.dumps({k: v for k, v in rec.items() if k != "source_identity"}))
    said.clear()
    split_for_run(run, log=said.append)
    assert not any("is not the file the run read" in m for m in said), said
    # a resume on other training images is refused, naming the file that is there now
    from wildgan.errors import ConfigError

    (run / "split.json").write_text(json.dumps(rec))
    kept = p.read_bytes()
    _npz(p, flip=40, classes=3)
    with pytest.raises(ConfigError, match=r"the training images changed since this run started .*or start again "
                                          r"with overwrite=True\. .*toy\.npz is not the file the run read when it was "
                                          r"trained \(recorded: .*\): if the run's data was moved, put it back "
                                          r"at .*toy\.npz \(or link its new place there: ln -s NEW_PLACE ") as e:
        # (where to put the data back, as score and evaluate say it: the resume said only that the bytes differ)
        train_run(cfg, run, resume=True, progress=False, log=lambda m: None)
    unnested(e.value)
    p.write_bytes(kept)
    # a resume of the run on the file as it is now goes on, and records this file as the run's source
    said.clear()
    train_run(replace(cfg, train=replace(tc, total_kimg=0.032)), run, resume=True, progress=False, log=said.append)
    assert any(m.startswith(f"warning: {p} is not the file the run read") and "training continues" in m
               for m in said), said
    assert json.loads((run / "split.json").read_text())["source_identity"] == si.source_identity(p)
    said.clear()
    split_for_run(run, log=said.append)
    assert said == []


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_describe_identity_names_what_was_recorded(kind, tmp_path):
    from PIL import Image

    p = _npz(tmp_path / "d.npz")
    if kind == "folder":
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "0.png")
        p = tmp_path          # (the .npz beside the image is no file a folder's reader reads)
    text = si.describe_identity(si.source_identity(p))
    assert ("bytes, modified " in text and " UTC, sha256 " in text) if kind == "file" else \
        text.startswith("1 files, ") and "listing sha256" in text and "content sha256" in text


def _cifar_batches(folder: Path, seed: int = 0) -> None:
    import pickle

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": (rng.random((40, 3072)) * 255).astype(np.uint8), b"labels": [i % 10 for i in range(40)]}
        (folder / name).write_bytes(pickle.dumps(batch))


def test_a_folder_holding_cifar_batches_has_the_identity_of_its_batches_folder(tmp_path):
    # the reader reads only the batches folder; split.json's source names the folder a download made on the download
    # run, and the folder above it on later runs: one data, one identity
    _cifar_batches(tmp_path / "cifar10" / "cifar-10-batches-py")
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"the archive the batches came from")
    was = si.source_identity(tmp_path / "cifar10" / "cifar-10-batches-py")
    assert was is not None and was["n_files"] == 6
    assert si.source_identity(tmp_path / "cifar10") == was


def test_a_finished_download_study_rerun_compares_the_downloaded_cifar_not_the_embedded_sample(tmp_path, monkeypatch,
                                                                                                capsys):
    # --dataset cifar10 --download without --data reads the cache's cifar10/, where resolve_data_root gives the
    # embedded sample: a finished re-run said the MNIST sample "is not the data" its cells read
    from wildgan.cli import main

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    batches = tmp_path / "cache" / "cifar10" / "cifar-10-batches-py"
    _cifar_batches(batches)
    args = ["study", "--dataset", "cifar10", "--download", "--normal", "automobile", "--contamination", "0",
            "--preset", "tiny", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--threads", "1", "--no-progress",
            "--out", str(tmp_path / "st")]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "every one done" in err and "is not the data" not in err, err
    # the batches edited in place at their size: said, of the cache's folder
    _cifar_batches(batches, seed=1)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'cache' / 'cifar10'} is not the data that 1 of the 1 cells" in err and \
        "the same 6 files with the same sizes, other bytes" in err, err
