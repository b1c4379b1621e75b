"""fixJC: data and run-replay findings (a replay's reads of its run's record, the stale-resume check before decoding,
a data-set file given as one pile of images, a damaged CIFAR-10 batches.meta, `data: {normal: null}`, the ids of an
.npz of one array)."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from wildgan.training.run import replay_run


@pytest.mark.parametrize("name", ["config.json", "config.yaml"])
def test_replay_run_resuming_its_own_run_reads_split_json_once(trained_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # replay_run read RUN/split.json through its ReplayFiles for its checks, then train_run read it again for the
    # resume's (its own saved_run_files): a split.json saved in between gave the checks one version and the resume
    # another. Counted by the opens of the run's record until the run writes it anew
    import wildgan.training.run as run_mod

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    watched = {os.path.realpath(run / n): n for n in ("config.json", "split.json", "config.yaml")}
    reads: list[str] = []
    real_open = io.open

    def counted(file, mode="r", *args, **kw):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, os.PathLike)) and not any(c in mode for c in "wax+"):
            seen = watched.get(os.path.realpath(file))
            if seen is not None:
                reads.append(seen)
        return real_open(file, mode, *args, **kw)

    monkeypatch.setattr(io, "open", counted)
    monkeypatch.setattr(builtins, "open", counted)
    real_write = run_mod.write_run_config

    def written(*args, **kw):  # type: ignore[no-untyped-def]
        watched.clear()
        return real_write(*args, **kw)

    monkeypatch.setattr(run_mod, "write_run_config", written)
    replay_run(run / name, run, resume=True, progress=False, log=lambda m: None, warn_not_grown=False)
    assert reads.count("split.json") == 1, reads
    assert reads.count(name) == 1, reads


def test_a_config_s_null_normal_is_the_protocol_default_as_leaving_it_out(tmp_path: Path) -> None:
    # `data: {normal: null}` (or DataConfig(normal=None)) was kept as None: the protocol's default when the split was
    # built, but another config than one without it, so a resume of its run was refused for 'data.normal: None -> []'
    from wildgan.config import (DataConfig, RunConfig, TrainConfig, net_config_for_preset, read_config_file,
                                run_config_in, run_config_to_dict)
    from wildgan.training.run import run_differences

    assert DataConfig(normal=None, exclude_classes=None) == DataConfig()
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  normal: null\n  exclude_classes: null\nnet: {resolution: 8, channels: 1}\ntrain: {}\n")
    cfg = run_config_in(read_config_file(p).contents, p)
    assert cfg is not None and cfg.data.normal == () and cfg.data.exclude_classes == ()
    assert run_config_to_dict(cfg)["data"]["normal"] == []
    net = net_config_for_preset("tiny", 8, 1)
    written = RunConfig(data=DataConfig(normal=None), net=net, train=TrainConfig())
    assert run_differences(written, RunConfig(data=DataConfig(), net=net, train=TrainConfig())) == []


def _cifar_batches(folder: Path, n: int = 4) -> Path:
    """A tiny cifar-10-batches-py folder: the six batches of n images each, and CIFAR-10's batches.meta."""
    from wildgan.data.dataset_files import CIFAR10_CLASSES, CIFAR_BATCH_FILES

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in CIFAR_BATCH_FILES:
        d = {b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(d, protocol=3))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    return folder


@pytest.mark.parametrize("meta", [{b"num_vis": 3072, b"label_nmaes": [b"a"] * 10}, [b"a"] * 10])
def test_a_batches_meta_without_label_names_is_refused_naming_it(tmp_path: Path, meta: object) -> None:
    # a batches.meta that is no dict, or has no label_names, was read as CIFAR-10's class names in silence (one that
    # does not unpickle, or whose label_names is no list, is refused): refused too, naming the file and what it holds,
    # as a damaged label array is (split_problem: the images are sound), and the pile's reading does not read it
    from wildgan.data import load_dataset
    from wildgan.errors import SPLIT_CLASSES, DataError

    folder = _cifar_batches(tmp_path / "cifar-10-batches-py")
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    with pytest.raises(DataError) as e:
        load_dataset(folder)
    said = str(e.value)
    assert said.startswith(f"{folder / 'batches.meta'}: not a CIFAR-10 batches.meta: "), said
    assert ("without 'label_names' (it holds label_nmaes, num_vis)" if isinstance(meta, dict) else
            "a list, not a dict") in said, said
    assert "dataset='unlabelled'" in said and e.value.split_problem == SPLIT_CLASSES
    pile, _, kind = load_dataset(folder, "unlabelled")
    assert kind == "unlabelled-cifar-batches" and len(pile) == 24
    # no batches.meta at all: CIFAR-10's names, as before
    (folder / "batches.meta").unlink()
    train, _, _ = load_dataset(folder)
    assert train.class_names[0] == "airplane"


@pytest.mark.parametrize("damage", ["labels", "meta"])
@pytest.mark.parametrize("given", ["folder", "archive"])
def test_cifar_batches_with_damaged_labels_are_read_as_a_pile_like_an_npz(tmp_path: Path, damage: str,
                                                                          given: str) -> None:
    # the Detector (decode_items: fit, decision_function, X_val) reads a data-set file's every image, labels ignored;
    # an .npz whose labels are damaged was read as the pile it also is, with a warning, but CIFAR-10's batches (a
    # folder or an archive of them) were refused for labels that reading never uses. Read so too, under the ids of
    # the sound copy; a tar of them kept the refusal's kind (split_problem) when it named the member
    import tarfile

    from wildgan.data.dataset_files import restricted_unpickle
    from wildgan.data.inputs import decode_items
    from wildgan.errors import WildganWarning

    folder = _cifar_batches(tmp_path / "cifar-10-batches-py")
    x_sound, ids_sound = decode_items(str(folder), "per-image")
    if damage == "labels":
        d = restricted_unpickle(folder / "test_batch")
        (folder / "test_batch").write_bytes(pickle.dumps({**d, b"labels": [12] * len(d[b"labels"])}, protocol=3))
        said = "test_batch: labels outside 0..9"
    else:
        (folder / "batches.meta").write_bytes(pickle.dumps({b"num_vis": 3072}, protocol=3))
        said = "batches.meta: not a CIFAR-10 batches.meta"
    X = folder
    if given == "archive":
        X = tmp_path / "c.tar.gz"
        with tarfile.open(X, "w:gz") as tf:
            tf.add(folder, arcname="cifar-10-batches-py")
        said = f"{X}:cifar-10-batches-py/{said}"
    with pytest.warns(WildganWarning, match=re.escape(said) + ".*its images are read without labels"):
        x, ids = decode_items(str(X), "per-image")
    assert ids == ids_sound and np.array_equal(np.asarray(x), np.asarray(x_sound))


def _tiny_npz(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    return path


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_split refused: a check asked after it fails the test (each module's own name of it)."""
    import wildgan.cli.config_args  # noqa: F401  (the modules that bind build_split, loaded before they are patched)
    import wildgan.data
    import wildgan.training.run

    def decoded(*args, **kw):  # type: ignore[no-untyped-def]
        raise AssertionError("the data was decoded before the resume was refused")

    for mod in (wildgan.data, wildgan.training.run):
        monkeypatch.setattr(mod, "build_split", decoded)


@pytest.mark.parametrize("args, said", [
    (["--data", "OTHER"], "data.data: "), (["--seed", "3"], "data.seed: 0 -> 3; train.seed: 0 -> 3"),
    (["--normal", "1"], "data.normal: ['0'] -> ['1']")])
def test_a_resume_on_other_data_settings_is_refused_before_the_data_is_decoded(
        trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], said: str) -> None:
    # `wildgan train --resume` with another --data, --seed or --normal was refused (check_run_dir: the settings
    # differ from the saved run's) only after every image of the data was decoded, minutes for a large folder:
    # the settings alone decide it. The same refusal, in the same words, before build_split
    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    other = _tiny_npz(tmp_path / "other.npz", 5)
    _no_decoding(monkeypatch)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress",
                 *[str(other) if a == "OTHER" else a for a in args]]) == 2
    err = capsys.readouterr().err
    assert "--resume with settings that differ from the saved run: " + said in err, err


def test_replay_run_s_resume_on_other_data_is_refused_before_the_data_is_decoded(
        trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # replay_run(CONFIG, RUN, data=OTHER, resume=True) built the split (decoding OTHER) before train_run refused it
    from wildgan.errors import ConfigError

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    other = _tiny_npz(tmp_path / "other.npz", 5)
    _no_decoding(monkeypatch)
    with pytest.raises(ConfigError, match=re.escape(f"data.data: '{trained_run.parent / 'tiny.npz'}' -> '{other}'")):
        replay_run(run / "config.json", run, data=other, resume=True, progress=False, log=lambda m: None)
