"""The automatic training resolution, the next power of two of the images' (median) short side, enlarged 240x160
photos 1.6x to 256 (a tiny preset's CPU estimate of 17 min where 128 took about 1) and nothing said so: said once,
with the factor and the resolution that keeps to the images' size, where it enlarges them 1.5x or more; not for a
resolution the user chose, nor for a protocol's own, nor below 1.5x (MNIST's 28 -> 32). The rule itself is
unchanged: runs and their resumes resolve the resolution they did."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.config import DataConfig
from wildgan.data import build_split, load_split_data
from wildgan.data.inputs import infer_geometry
from wildgan.errors import WildganWarning


def _tree(root: Path, sizes: list[tuple[int, int]], classes=("a", "b"), n=20) -> Path:
    """Class folders of n PNGs each, the i-th of size sizes[i % len(sizes)] (H, W)."""
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            h, w = sizes[i % len(sizes)]
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / c / f"{i:03d}.png")
    return root


def _said(fn) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in caught if issubclass(w.category, WildganWarning)]


def _enlarged(msgs: list[str]) -> list[str]:
    return [m for m in msgs if "enlarges them" in m]


def test_one_size_enlarged_is_said_once_with_the_factor_and_the_resolution_below(tmp_path):
    tree = _tree(tmp_path / "t", [(20, 30)])                   # short side 20 -> 32: 1.6x
    split, said = _said(lambda: build_split(DataConfig(data=str(tree), normal=("a",))))
    assert split.resolution == 32                             # (the rule is unchanged)
    (msg,) = _enlarged(said)
    assert str(tree) in msg and "30x20" in msg and "1.6x" in msg and "resolution=16" in msg, msg
    # chosen by the user: no word, whatever the factor
    _, said = _said(lambda: build_split(DataConfig(data=str(tree), normal=("a",), resolution=32)))
    assert not _enlarged(said)
    # several splits of one read (a study's cells): said once for the read
    loaded, said = _said(lambda: load_split_data(DataConfig(data=str(tree), normal=("a",))))
    n = []
    for normal in ("a", "b"):
        _, said = _said(lambda: build_split(DataConfig(data=str(tree), normal=(normal,)), loaded=loaded))
        n += _enlarged(said)
    assert len(n) == 1
    # a rebuild of a run's own split (evaluate, report, training scores): its resolution is settled, no word
    recorded = dict(build_split(DataConfig(data=str(tree), normal=("a",))).info)
    _, said = _said(lambda: build_split(DataConfig(data=str(tree), normal=("a",)), recorded=recorded))
    assert not _enlarged(said)


def test_below_the_factor_or_padded_or_a_protocol_s_own_resolution_is_not_said(tmp_path):
    # 24 -> 32 is 1.33x: not said (the power of two below would shrink them more than this enlarges them)
    _, said = _said(lambda: build_split(DataConfig(data=str(_tree(tmp_path / "t24", [(24, 24)])), normal=("a",))))
    assert not _enlarged(said)
    # fit 'pad': images smaller than the resolution are padded, not enlarged
    tree = _tree(tmp_path / "tpad", [(20, 20)])
    _, said = _said(lambda: build_split(DataConfig(data=str(tree), normal=("a",), fit="pad")))
    assert not _enlarged(said)
    # 20x20 images in CIFAR-10's class folders: the cifar10 protocol's own 32, not the data's
    cifar = _tree(tmp_path / "cifar", [(20, 20)], classes=("airplane", "automobile", "bird", "cat", "deer", "dog",
                                                          "frog", "horse", "ship", "truck"))
    _, said = _said(lambda: build_split(DataConfig(data=str(cifar), dataset="cifar10")))
    assert not _enlarged(said)
    # MNIST's 28x28 digits -> 32 (1.14x), the generic protocol of an .npz of its shape: no word
    npz = tmp_path / "m.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 2)
    _, said = _said(lambda: build_split(DataConfig(data=str(npz), dataset="npz", normal=("0",))))
    assert not _enlarged(said)


def test_an_npz_of_one_size_enlarged_is_said(tmp_path):
    npz = tmp_path / "small.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, x_train=rng.integers(0, 256, (40, 10, 10), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 256, (20, 10, 10), dtype=np.uint8), y_test=np.arange(20) % 2)
    split, said = _said(lambda: build_split(DataConfig(data=str(npz), dataset="npz", normal=("0",))))
    assert split.resolution == 16
    (msg,) = _enlarged(said)
    assert "10x10" in msg and "1.6x" in msg and "resolution=8" in msg


def test_mixed_sizes_say_it_in_their_own_warning(tmp_path):
    """Images of several sizes are made one size by the reader, whose warning says the median short side: the
    enlargement is said there, once, not in a second warning."""
    tree = _tree(tmp_path / "mixed", [(20, 30), (22, 22)])
    split, said = _said(lambda: build_split(DataConfig(data=str(tree), normal=("a",))))
    assert split.resolution == 32
    (msg,) = _enlarged(said)
    assert "different sizes" in msg and "20 px" in msg and "1.6x" in msg and "resolution=16" in msg, msg


@pytest.mark.parametrize("fit", ["resize", None])
def test_the_python_api_s_geometry_says_it_too(fit):
    x = np.zeros((4, 20, 30), np.uint8)
    (res, _), said = _said(lambda: infer_geometry(x, None, None, fit=fit))
    assert res == 32
    if fit is None:                       # (a caller that asks for no word)
        assert not _enlarged(said)
    else:
        (msg,) = _enlarged(said)
        assert "30x20" in msg and "1.6x" in msg and "resolution=16" in msg
    mixed = [np.zeros((20, 30), np.uint8), np.zeros((22, 22), np.uint8), np.zeros((20, 20), np.uint8)]
    _, said = _said(lambda: infer_geometry(mixed, None, None, fit=fit))
    assert len(_enlarged(said)) == (0 if fit is None else 1)
    assert len([m for m in said if "different sizes" in m]) == 1      # one warning, not two
    _, said = _said(lambda: infer_geometry(np.zeros((4, 28, 28), np.uint8), None, None, fit=fit))
    assert not _enlarged(said)                                          # MNIST's 28 -> 32
    _, said = _said(lambda: infer_geometry(x, 32, None, fit=fit))
    assert not _enlarged(said)                                          # chosen


def test_the_cli_says_it_in_its_own_words(tmp_path):
    from wildgan.cli import main

    tree = _tree(tmp_path / "t", [(20, 30)])
    # (under pytest a command's wildgan warnings are caught as Python warnings, as they reach its stderr otherwise)
    code, said = _said(lambda: main(["train", "--data", str(tree), "--normal", "a", "--preset", "tiny", "--out",
                                     str(tmp_path / "run"), "--dry-run", "--no-progress"]))
    assert code == 0
    (msg,) = _enlarged(said)
    assert "1.6x" in msg and "--resolution 16 keeps to their size" in msg, msg


def test_a_resume_says_nothing_of_it(tmp_path):
    """A resume reads the data for the run's own resolution, which it refuses to change: the word that another one
    would keep to the images' size is not said there. A run of train_run records the resolution it resolved, as the
    CLI's does (it recorded data.resolution None, and its resume read the data as new); a resume with the cfg that
    started it, which still leaves the resolution to the data, says nothing either."""
    from dataclasses import replace

    from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset, read_run_config
    from wildgan.training.run import train_run

    tree = _tree(tmp_path / "t", [(20, 30)])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tree), normal=("a",)), net=net_config_for_preset("tiny", 32, 3),
                    train=TrainConfig(total_kimg=0.032, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", threads=1, train_scores=False), preset="tiny")
    _, said = _said(lambda: train_run(cfg, run, progress=False, log=lambda m: None))
    assert len(_enlarged(said)) == 1
    again = read_run_config(run)
    assert again.data.resolution == 32
    again = replace(again, train=replace(again.train, total_kimg=0.064))
    _, said = _said(lambda: train_run(again, run, resume=True, progress=False, log=lambda m: None))
    assert not _enlarged(said), said
    _, said = _said(lambda: train_run(replace(cfg, train=replace(cfg.train, total_kimg=0.096)), run, resume=True,
                                      progress=False, log=lambda m: None))
    assert not _enlarged(said), said


# what `wildgan train --method fanogan`, a study with fanogan cells and Detector(method='fanogan') are told: the
# enlargement of the resolution f-AnoGAN trains at (32 or 64 only), once, advising only a size it takes


def _fanogan_said(msg: str, factor: str, below: int | None) -> None:
    assert factor in msg, msg
    if below is None:
        assert "f-AnoGAN's networks take 32x32 or 64x64 only, none of them smaller" in msg and "16" not in \
            msg.split("enlarges them")[1], msg
    else:
        assert f"resolution {below} keeps to their size" in msg or f"resolution={below} keeps to their size" in msg, msg


@pytest.mark.parametrize("side, factor, below", [(20, "1.6x", None), (40, "1.6x", 32)])
def test_wildgan_train_method_fanogan_advises_only_a_size_f_anogan_takes(tmp_path, side, factor, below, capsys):
    # it advised --resolution 16 for 30x20 images trained at 32, which --method fanogan refuses ("f-AnoGAN needs
    # square (32, 64) images"); the wildgan method's word is the one it was
    from wildgan.cli import main

    from wildgan.data.transforms import next_pow2

    tree = _tree(tmp_path / "t", [(side, side * 3 // 2)])
    for method in ("fanogan", "wildgan"):
        code, said = _said(lambda: main(["train", "--data", str(tree), "--normal", "a", "--method", method,
                                         "--out", str(tmp_path / method), "--dry-run", "--no-progress"]))
        assert code == 0, capsys.readouterr().err
        (msg,) = _enlarged(said)
        if method == "fanogan":
            _fanogan_said(msg, factor, below)
        else:
            assert f"--resolution {next_pow2(side) // 2} keeps to their size" in msg, msg


def test_a_study_with_fanogan_cells_advises_only_a_size_f_anogan_takes(tmp_path, monkeypatch, capsys):
    from wildgan import studies
    from wildgan.cli import main

    def stop(*a, **k):
        raise KeyboardInterrupt       # (the word is said as the data is read, before any cell trains)

    monkeypatch.setattr(studies, "run_study", stop)
    tree = _tree(tmp_path / "t", [(20, 30)])
    code, said = _said(lambda: main(["study", "--data", str(tree), "--normal", "a", "--methods", "wildgan,fanogan",
                                     "--contamination", "0", "--preset", "tiny", "--out", str(tmp_path / "st"),
                                     "--no-progress"]))
    assert code == 130, capsys.readouterr().err
    (msg,) = _enlarged(said)
    _fanogan_said(msg, "1.6x", None)


@pytest.mark.parametrize("side, resolution, factor, below", [(20, 32, "1.6x", None), (12, 32, "2.7x", None),
                                                             (40, 64, "1.6x", 32), (32, 32, None, None)])
def test_a_detector_fit_of_f_anogan_says_the_enlargement_of_its_own_size(tmp_path, monkeypatch, side, resolution,
                                                                          factor, below):
    """Detector(method='fanogan') trains at 32 or 64, the one at or above the automatic power of two: its fit said
    nothing of the enlargement (12 px images trained at 32, 2.7x), where the other methods' fits say it."""
    import wildgan.training.run as training_run
    from wildgan import Detector

    seen = {}

    def stop(cfg, run_dir, **kw):
        seen["resolution"] = cfg.net.resolution
        raise KeyboardInterrupt           # (the images are read and converted: nothing to train)

    monkeypatch.setattr(training_run, "train_run", stop)
    x = np.random.default_rng(0).integers(0, 256, (16, side, side * 3 // 2), dtype=np.uint8)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        Detector("fanogan", device="cpu", run_dir=str(tmp_path / "run")).fit(x)
    said = [str(w.message) for w in caught if issubclass(w.category, WildganWarning)]
    assert seen["resolution"] == resolution
    if factor is None:
        assert not _enlarged(said), said
    else:
        (msg,) = _enlarged(said)
        _fanogan_said(msg, factor, below)


def test_the_sizes_said_are_f_anogan_s_own():
    from wildgan.data.imageset import FANOGAN_SIZES
    from wildgan.nets.fanogan import SUPPORTED_RESOLUTIONS

    assert FANOGAN_SIZES[0] == SUPPORTED_RESOLUTIONS


def test_a_detector_fit_of_f_anogan_on_a_data_config_advises_only_a_size_f_anogan_takes(tmp_path, monkeypatch):
    # Detector(method='fanogan').fit(DataConfig(...)) reads through the CLI's protocols (build_split), outside the
    # block that `wildgan train --method fanogan` reads in: it advised resolution=16 for 30x20 images trained at 32
    import wildgan.training.run as training_run
    from wildgan import Detector

    def stop(cfg, run_dir, **kw):
        raise KeyboardInterrupt           # (the images are read and converted: nothing to train)

    monkeypatch.setattr(training_run, "train_run", stop)
    tree = _tree(tmp_path / "t", [(20, 30)])
    for method in ("fanogan", "wildgan"):
        with warnings.catch_warnings(record=True) as caught, pytest.raises(KeyboardInterrupt):
            warnings.simplefilter("always")
            Detector(method, preset="tiny", device="cpu").fit(DataConfig(data=str(tree), normal=("a",)))
        said = [str(w.message) for w in caught if issubclass(w.category, WildganWarning)]
        (msg,) = _enlarged(said)
        if method == "fanogan":
            _fanogan_said(msg, "1.6x", None)
        else:                             # (the other methods train at 16: advised as before)
            assert "resolution=16 keeps to their size" in msg, msg
