"""Damaged or foreign files in a run folder: each is refused with one error naming the file and what is wrong (no
bare TypeError / ValueError from deep inside the loading), and nothing is loaded that wildgan did not write."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from wildgan import checkpoint as ckpt
from wildgan.config import (DataConfig, RunConfig, TrainConfig, net_config_for_preset, read_run_config, to_dict,
                            write_run_config)
from wildgan.errors import CheckpointError, ConfigError
from wildgan.nets import build_pgan
from wildgan.scoring.run import load_model


def _run(folder: Path, width_preset: str = "tiny", resolution: int = 8) -> Path:
    """A run folder with a config and final networks (untrained: only the files matter here)."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset(width_preset, resolution, 1), train=TrainConfig())
    folder.mkdir(parents=True)
    write_run_config(cfg, folder)
    nets = build_pgan(cfg.net, 0)
    ckpt.save_checkpoint(folder, "network-final", ckpt.networks_to_tensors(nets.modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(cfg.net), "nimg": 0, "kimg": 0.0, "lod": 0.0})
    return folder


def _rewrite_weights(run: Path, change: Callable[[dict[str, torch.Tensor]], Any]) -> Any:
    """Load RUN/network-final, let `change` alter its tensors (returning whatever the test needs), save it back."""
    tensors, meta = ckpt.load_checkpoint(run / "network-final.json")
    out = change(tensors)
    ckpt.save_checkpoint(run, "network-final", tensors, {k: meta[k] for k in ("kind", "net", "nimg", "kimg", "lod")})
    return out


def _first_weight(tensors: dict[str, torch.Tensor], net: str) -> str:
    return next(k for k in sorted(tensors) if k.startswith(f"{net}.") and k.endswith("weight"))


def _edit(path: Path, **changes) -> None:
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("changes, message", [
    ({"weights": "../elsewhere.safetensors"}, r"bad 'weights' entry '\.\./elsewhere\.safetensors'"),
    ({"weights": 5}, r"bad 'weights' entry 5"),
    ({"sha256": None}, r"no sha256 of the weights"),
    ({"lod": "x"}, r"bad 'lod' value 'x'"),
    ({"nimg": 1.5}, r"bad 'nimg' value 1.5"),
    ({"kimg": float("nan")}, r"bad 'kimg' value nan"),
    ({"net": {"resolution": "8", "channels": 1}}, r"bad network config in the checkpoint metadata: net\.resolution "
                                                   r"must be a power of two >= 4, got '8'"),
    ({"net": {"resolution": 8, "channels": 1, "colour": 1}},
     r"bad network config .*the net section has unknown key colour \(known keys: channels, fmap_base"),
    ({"net": [8]}, r"bad network config .*must be a mapping"),
])
def test_damaged_checkpoint_metadata_is_a_checkpoint_error_naming_the_file(tmp_path, changes, message):
    run = _run(tmp_path / "run")
    _edit(run / "network-final.json", **changes)
    with pytest.raises(CheckpointError, match=rf"network-final\.json: {message}"):
        load_model(run, "cpu")


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64])
def test_weights_of_another_dtype_are_refused_not_cast(tmp_path, dtype):
    # load_state_dict would copy half or integer tensors into the float32 networks without a word
    run = _run(tmp_path / "run")
    _rewrite_weights(run, lambda t: t.update({k: v.to(dtype) for k, v in t.items() if v.is_floating_point()}))
    with pytest.raises(CheckpointError, match=rf"network-final\.json: weights of \w+ have another dtype than the "
                                              rf"architecture's: .*{str(dtype)} \(expected torch.float32\)"):
        load_model(run, "cpu")


def test_a_shape_mismatch_says_which_tensor(tmp_path):
    run = _run(tmp_path / "run")

    def reshape(t: dict[str, torch.Tensor]) -> str:
        key = _first_weight(t, "D")
        t[key] = torch.zeros(*t[key].shape, 2)
        return key

    key = _rewrite_weights(run, reshape)
    # torch's first line alone ('Error(s) in loading state_dict for Discriminator:') said nothing
    with pytest.raises(CheckpointError, match=rf"weights of D do not match .*: size mismatch for "
                                              rf"{key[2:].replace('.', r'[.]')}"):
        load_model(run, "cpu")


@pytest.mark.parametrize("other", [dict(resolution=16), dict(width_preset="fast")])
def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, other):
    # `score RUN --checkpoint OTHER`: another resolution failed in a forward pass with a ValueError, another width
    # scored the run's images with the other run's networks in silence
    run, foreign = _run(tmp_path / "run"), _run(tmp_path / "other", **other)
    with pytest.raises(CheckpointError, match=r"other/network-final\.json: networks of another architecture than "
                                              r"the run .*run \((resolution: 16 there, 8|fmap_base)"):
        load_model(run, "cpu", checkpoint=foreign / "network-final.json")
    load_model(run, "cpu", checkpoint=run / "network-final.json")            # its own: fine


def _run_on(folder: Path, data: Path, **train: Any) -> Path:
    """A run folder as training leaves it: its config, and final networks whose metadata records the run's config
    (as every pGAN checkpoint does), trained on `data`."""
    from wildgan.config import run_config_to_dict

    cfg = RunConfig(data=DataConfig(data=str(data)), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(**train))
    folder.mkdir(parents=True)
    write_run_config(cfg, folder)
    nets = build_pgan(cfg.net, 0)
    ckpt.save_checkpoint(folder, "network-final", ckpt.networks_to_tensors(nets.modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(cfg.net), "nimg": 0, "kimg": 0.0, "lod": 0.0,
                          "config": run_config_to_dict(cfg)})
    return folder


def test_a_checkpoint_of_another_run_of_the_same_architecture_is_refused(tmp_path):
    # `score RUN --checkpoint OTHER/network-final.json`, OTHER trained on other images with the same networks' shape:
    # the architecture check let it through, and RUN's images were scored (and flagged) by OTHER's networks
    run = _run_on(tmp_path / "run", tmp_path / "cells")
    foreign = _run_on(tmp_path / "other", tmp_path / "bolts")
    with pytest.raises(CheckpointError, match=r"other/network-final\.json: networks of another run than .*run "
                                              r"\(data\.data: .*bolts.* -> .*cells.*, from theirs to this run's\); "
                                              r"score with the run that trained them, .*other, or give a checkpoint "
                                              r"of this run"):
        load_model(run, "cpu", checkpoint=foreign / "network-final.json")
    load_model(run, "cpu", checkpoint=run / "network-final.json")            # its own: fine
    # a copy of the run trained on for longer (what a resume may change) holds the run's networks: taken
    longer = _run_on(tmp_path / "longer", tmp_path / "cells", total_kimg=99.0)
    load_model(run, "cpu", checkpoint=longer / "network-final.json")


@pytest.mark.parametrize("kind, found", [("fanogan", "kind 'fanogan': an f-AnoGAN checkpoint"),
                                         ("wildgan-detector", "kind 'wildgan-detector': a Detector saved by"),
                                         (None, "no kind recorded")])
def test_networks_of_another_kind_are_refused(tmp_path, capsys, kind, found):
    # `score RUN --checkpoint FILE` (and Detector.from_run(checkpoint=)) loaded a saved Detector's networks as if
    # they were the run's, and an f-AnoGAN file as far as "no network config"
    from wildgan.cli import main

    run = _run(tmp_path / "run")
    tensors, meta = ckpt.load_checkpoint(run / "network-final.json")
    meta = {k: v for k, v in meta.items() if k != "kind"} | ({} if kind is None else {"kind": kind})
    other = ckpt.save_checkpoint(tmp_path, "other", tensors, meta)
    message = (rf"other\.json: a checkpoint of the wrong kind \({found}.*\); expected 'wildgan-networks' or "
               rf"'wildgan-train-state'")
    with pytest.raises(CheckpointError, match=message):
        load_model(run, "cpu", checkpoint=other)
    assert main(["score", str(run), "--out", "-", "--checkpoint", str(other)]) == 2
    assert re.search(message, capsys.readouterr().err)
    # the run's own final file, of another kind: the same
    ckpt.save_checkpoint(run, "network-final", tensors, meta)
    with pytest.raises(CheckpointError, match=rf"network-final\.json: a checkpoint of the wrong kind \({found}"):
        load_model(run, "cpu")


@pytest.mark.parametrize("field, value, message", [
    ("lam", float("nan"), r"score\.lam must be a number in \[0, 1\], got NaN"),  # (as config.json writes it)
    ("batch_size", 0, r"score\.batch_size must be a whole number >= 1, got 0"),
    ("batch_size", 6, r"score\.batch_size must be a multiple of 4"),
    ("shuffle_seed", -1, r"score\.shuffle_seed must be a whole number >= 0"),
    ("kappa", "x", r"score\.kappa must be a number >= 0, got 'x'"),
    ("generator", "foo", r"score\.generator must be Gs or G, got 'foo'"),
])
def test_a_bad_score_section_is_refused_naming_the_config(tmp_path, field, value, message):
    # these scored NaN (lam), silently used G for anything not 'Gs', or failed with a bare traceback mid-scoring
    run = _run(tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["score"][field] = value
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=rf"config\.json: {message}"):
        read_run_config(run)


def test_a_string_resolution_in_config_json_is_named_as_such(tmp_path):
    run = _run(tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["net"]["resolution"] = "8"
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"config\.json: net\.resolution must be a power of two >= 4, got .8."):
        read_run_config(run)


@pytest.mark.parametrize("field, value, message", [
    ("conversion", "x", r"'conversion' must be a JSON object, got 'x'"),
    ("conversion", {"fit": 5}, r"'conversion\.fit' must be a string, got 5"),
    ("conversion", {"fit": "crop"}, r"'conversion\.fit' must be one of resize, pad, letterbox, got 'crop'"),
    ("conversion", {"trained_depth": "12bit"}, r"'conversion\.trained_depth' must be one of 8bit, 16bit, mixed, "
                                               r"unknown, got '12bit'"),
    ("native_sides", "x", r"'native_sides' must be \[shortest, longest\] side in pixels, got 'x'"),
    ("native_sides", [28], r"'native_sides' must be .*got \[28\]"),
    # said as the JSON file writes them (shown), not as Python's repr of what json read: ["fit"], true, null
    ("conversion", ["fit"], r"'conversion' must be a JSON object, got \[\"fit\"\]"),
    ("conversion", {"fit": True}, r"'conversion\.fit' must be a string, got true"),
    ("conversion", {"depth16": ["bits:12"]}, r"'conversion\.depth16' must be a string, got \[\"bits:12\"\]"),
    ("conversion", {"trained_depth": False}, r"'conversion\.trained_depth' must be one of .*, got false"),
    ("native_sides", [True, None], r"'native_sides' must be .*got \[true, null\]"),
])
def test_a_damaged_split_record_is_named(tmp_path, field, value, message):
    # conversion_opts met these as an AttributeError ('str' object has no attribute 'get') or int('x')
    run = _run(tmp_path / "run")
    # (around the damaged field, a record as wildgan writes it: fit 'letterbox', one of its rules; 'crop', which no
    # wildgan wrote, is itself refused: test_run_file_values_refused)
    (run / "split.json").write_text(json.dumps({"conversion": {"fit": "letterbox"}, "native_sides": [28, 28],
                                                field: value}))
    with pytest.raises(CheckpointError, match=rf"split\.json: not a readable split record \({message}\)"):
        load_model(run, "cpu")
    (run / "split.json").write_text(json.dumps({"conversion": {"fit": "letterbox"}, "native_sides": [28, 28]}))
    # (a record without the training images' bit depth says 'unknown': data.splits.conversion_opts)
    assert load_model(run, "cpu").conversion == {"fit": "letterbox", "native_sides": [28, 28],
                                                 "trained_depth": "unknown"}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_a_damaged_file(tmp_path, bad):
    run = _run(tmp_path / "run")

    def spoil(t: dict[str, torch.Tensor]) -> str:
        key = _first_weight(t, "E")
        t[key] = t[key].clone()
        t[key].view(-1)[0] = bad
        return key

    key = _rewrite_weights(run, spoil)
    with pytest.raises(CheckpointError, match=rf"network-final\.json: weights of E contain NaN or inf values "
                                              rf"\({key.replace('.', '[.]')}\): the file is damaged"):
        load_model(run, "cpu")


def test_finite_weights_whose_sum_overflows_are_not_refused(tmp_path):
    # the finiteness check screens each tensor by its sum (one pass, no tensor of flags): a sum of finite values
    # can overflow to inf, and such weights (odd, but finite) must still load
    run = _run(tmp_path / "run")

    def huge(t: dict[str, torch.Tensor]) -> tuple[str, torch.Tensor]:
        key = _first_weight(t, "E")
        t[key] = torch.full_like(t[key], 3e38)
        assert not torch.isfinite(t[key].sum())
        return key, t[key]

    key, want = _rewrite_weights(run, huge)
    nets, _ = ckpt.load_pgan(run / "network-final.json")
    assert torch.equal(nets.E.state_dict()[key[2:]], want)


def test_a_run_without_split_json_says_new_images_get_the_default_conversion(tmp_path) -> None:
    # split.json records the protocol's way of making images square (MNIST's pad) and the 16-bit rule: without it
    # scoring used the defaults in silence
    run = _run(tmp_path / "run")
    with pytest.warns(UserWarning, match=r"split\.json is missing, so new images are converted by the default rules"):
        model = load_model(run, "cpu")
    assert model.conversion == {"trained_depth": "unknown"}      # (nor what depth its training images had)
    (run / "split.json").write_text(json.dumps({"conversion": {"fit": "pad", "depth16": "per-image"}}))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_model(run, "cpu").conversion["fit"] == "pad"


def test_a_resume_of_a_finished_run_from_before_the_weights_kind_keeps_its_networks_sha256(tmp_path, capsys):
    # a --resume of a finished run writes its network-final again, the same weights: with the kind in the weights'
    # header (written since) they got another sha256 than the file of the wildgan that trained them, and the run's
    # eval.json was then said to be "an evaluation of other networks" (its training scores computed again too)
    import numpy as np
    from safetensors.torch import load_file, save_file

    from wildgan.cli import main

    x = (np.random.default_rng(0).random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(tmp_path / "toy.npz", x=x, y=np.repeat([0, 1], 40))
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "toy.npz"), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.032",
            "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]
    assert main(["train", *args]) == 0
    # the networks as the wildgan before the kind wrote them: the one metadata key without a kind
    weights, meta_path = run / "network-final.safetensors", run / "network-final.json"
    save_file(load_file(str(weights)), str(weights), metadata={"format": f"wildgan/{ckpt.FORMAT_VERSION}"})
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "sha256": ckpt.file_digest(weights)}, indent=2, sort_keys=True))
    before = ckpt.file_digest(weights)
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", *args, "--resume"]) == 0
    assert ckpt.file_digest(weights) == before == ckpt.read_meta(meta_path)["sha256"]
    said = capsys.readouterr().err + (run / "log.txt").read_text()
    assert "evaluation of other networks" not in said, said


def test_a_resume_of_a_finished_run_keeps_its_training_scores_and_says_it_was_finished(tmp_path, capsys,
                                                                                      monkeypatch):
    # a --resume of a finished run trains nothing, and its networks are the same weights (sha256), so the training
    # images' scores in train_scores.csv (keyed by that sha256) are still its own: they were scored again, minutes
    # for a large training set
    import numpy as np

    import wildgan.scoring.train_scores as ts
    from wildgan.cli import main

    x = (np.random.default_rng(0).random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(tmp_path / "toy.npz", x=x, y=np.repeat([0, 1], 40))
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "toy.npz"), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.032",
            "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(run)]
    scored = []
    real = ts.score_training_split
    monkeypatch.setattr(ts, "score_training_split", lambda *a, **k: scored.append(1) or real(*a, **k))
    assert main(["train", *args]) == 0
    assert len(scored) == 1
    cache = (run / "train_scores.csv").read_text()
    # nor is its last checkpoint (the full training state) written again, or its sample grid
    import wildgan.training.loop as loop

    saved, real_save = [], loop._save
    monkeypatch.setattr(loop, "_save", lambda *a, **k: saved.append(1) or real_save(*a, **k))
    checkpoints = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    samples = {p.name: p.stat().st_mtime_ns for p in (run / "samples").iterdir()}
    weights = ckpt.read_meta(run / "network-final.json")["sha256"]
    capsys.readouterr()
    assert main(["train", *args, "--resume"]) == 0
    said = capsys.readouterr().err
    assert len(scored) == 1, said
    assert not saved and {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == checkpoints
    assert {p.name: p.stat().st_mtime_ns for p in (run / "samples").iterdir()} == samples
    assert ckpt.read_meta(run / "network-final.json")["sha256"] == weights
    assert (run / "train_scores.csv").read_text() == cache
    assert "the run was already finished (--total-kimg 0.032), nothing to train" in said
    assert "train_scores.csv are of these networks: kept" in said
    # networks trained further are other weights: their training images are scored again
    assert main(["train", *args, "--resume", "--total-kimg", "0.128"]) == 0
    said = capsys.readouterr().err
    assert len(scored) == 2 and saved
    assert "already finished" not in said


def test_a_resume_of_a_finished_run_on_pixels_decoded_otherwise_scores_its_training_images_again(tmp_path, capsys,
                                                                                                  monkeypatch):
    # another Pillow / libjpeg or reader lets a resume go on with pixels that differ from split.json under the same
    # ids, and split.json is rewritten with them: train_scores.csv, keyed by the weights, score protocol and data
    # config (not the pixels), was kept as the scores of the old pixels beside a record of the new ones
    import json

    import numpy as np

    import wildgan.scoring.train_scores as ts
    from wildgan.cli import main

    x = (np.random.default_rng(0).random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    data = tmp_path / "toy.npz"
    np.savez(data, x=x, y=np.repeat([0, 1], 40))
    run = tmp_path / "run"
    args = ["--data", str(data), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.032",
            "--phase-kimg", "0.1", "--threads", "1", "--no-progress", "--out", str(run)]
    scored = []
    real = ts.score_training_split
    monkeypatch.setattr(ts, "score_training_split", lambda *a, **k: scored.append(1) or real(*a, **k))
    assert main(["train", *args]) == 0
    cache = (run / "train_scores.csv").read_text()
    # every normal image a level brighter, as another decoder might give them, the record made by other decoders
    x2 = x.copy()
    x2[:40] = np.minimum(x2[:40].astype(np.int16) + 1, 255).astype(np.uint8)
    np.savez(data, x=x2, y=np.repeat([0, 1], 40))
    rec = json.loads((run / "split.json").read_text())
    (run / "split.json").write_text(json.dumps(dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)")))
    capsys.readouterr()
    assert main(["train", *args, "--resume"]) == 0
    said = capsys.readouterr().err
    assert "the decoding changed since it was recorded" in said and "already finished" in said, said
    assert len(scored) == 2, said
    assert "train_scores.csv are of these networks: kept" not in said
    assert "scored the training images' pixels as split.json recorded them" in said
    assert (run / "train_scores.csv").read_text() != cache
    assert json.loads((run / "split.json").read_text())["train_pixels_sha256"] != rec["train_pixels_sha256"]
    # the same pixels as split.json now records: kept
    assert main(["train", *args, "--resume"]) == 0
    said = capsys.readouterr().err
    assert len(scored) == 2 and "train_scores.csv are of these networks: kept" in said, said


@pytest.mark.parametrize("source, given", [("/data/cells", "the images of /data/cells"),
                                           ("in-memory ndarray", "in-memory images")])
def test_a_detector_fit_run_without_data_says_what_it_was_fit_on_and_what_to_do(tmp_path, source, given):
    # `wildgan evaluate RUN` of a Detector.fit run said 'trained from in-memory images' of a fit on a folder too, and
    # named no command, where the unlabelled pile's error names both next steps
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.evaluation.run import split_for_run

    run = _run(tmp_path / "run")
    (run / "split.json").write_text(json.dumps({"protocol": "detector", "source": source, "detector_input": True}))
    with pytest.raises(ConfigError) as e:
        split_for_run(run)
    assert (f"{run}: this run was trained by Detector.fit on {given}, which holds no test split out, so there is "
            f"none to evaluate or score by default; score new images with Detector.from_run({str(run)!r})"
            f".predict(IMAGES), or evaluate on labelled data with evaluate_run({str(run)!r}, data=PATH, "
            f"normal=('CLASS',))") == str(e.value)
    # the CLI's words while a command runs (cli._main's setting)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError) as e:
        split_for_run(run)
    assert str(e.value).endswith(f"score new images with `wildgan score {run} --data IMAGES --threshold "
                                 f"contamination`, or evaluate on labelled data with `wildgan evaluate {run} --data "
                                 f"PATH --normal CLASS`")


@pytest.mark.filterwarnings("ignore:.*split.json is missing")       # (a run folder of network files only)
@pytest.mark.parametrize("cli", [False, True])
def test_one_rule_takes_a_checkpoint_for_the_cli_and_the_api(tmp_path, monkeypatch, cli):
    """`score --checkpoint` and load_model(checkpoint=) (Detector.from_run's) kept two copies of one rule that had
    drifted apart: a name in RUN/checkpoints was found by the CLI alone, a name without its suffix by the API alone.
    One rule now (scoring.run.checkpoint_path), which names the option as the caller gives it."""
    import contextlib

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    run = _run(tmp_path / "run")
    tensors, meta = ckpt.load_checkpoint(run / "network-final.json")
    want = ckpt.save_checkpoint(run / "checkpoints", "ckpt-000064", tensors, meta)
    monkeypatch.chdir(tmp_path)                          # (no file of these names here)
    with skip_bad_said_as(CLI_SKIP_BAD) if cli else contextlib.nullcontext():
        assert Path(load_model(run, "cpu", checkpoint="ckpt-000064.safetensors").source) == want
        from wildgan.scoring.run import checkpoint_path

        for given in ("ckpt-000064.json", "ckpt-000064.safetensors", "ckpt-000064", want.with_suffix(""),
                      want.with_suffix(".safetensors")):
            assert checkpoint_path(run, given) == want, given
        said = "--checkpoint " if cli else "checkpoint="
        with pytest.raises(ConfigError) as e:
            load_model(run, "cpu", checkpoint="nope.json")
        assert str(e.value) == (f"{said}{'nope.json' if cli else repr('nope.json')}: no such file (this run's "
                                f"checkpoints are in {run / 'checkpoints'})")
        with pytest.raises(ConfigError) as e:
            checkpoint_path(run, run / "checkpoints")
        assert str(e.value) == (f"{said}{run / 'checkpoints' if cli else repr(str(run / 'checkpoints'))}: a folder; "
                                f"give one checkpoint file, e.g. its newest, {want}")


@pytest.mark.filterwarnings("ignore:.*split.json is missing")       # (a run folder of network files only)
@pytest.mark.parametrize("cli", [False, True])
def test_a_file_that_is_no_checkpoint_is_refused_by_the_name_given(tmp_path, monkeypatch, cli):
    """A file that is neither half of a checkpoint (RUN/scores.csv) was taken for a checkpoint named without its
    suffix, and the loader said "RUN/scores.csv.json: checkpoint metadata not found", a file nobody gave. A name
    with a dot in it still names its pair by the whole name (ckpt.v2 -> ckpt.v2.json, not ckpt.json)."""
    import contextlib

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.scoring.run import checkpoint_path

    run = _run(tmp_path / "run")
    tensors, meta = ckpt.load_checkpoint(run / "network-final.json")
    dotted = ckpt.save_checkpoint(run / "checkpoints", "ckpt.v2", tensors, meta)
    ckpt.save_checkpoint(run / "checkpoints", "ckpt", tensors, meta)
    (run / "scores.csv").write_text("id,score\n")
    monkeypatch.chdir(tmp_path)
    with skip_bad_said_as(CLI_SKIP_BAD) if cli else contextlib.nullcontext():
        assert checkpoint_path(run, "ckpt.v2") == dotted
        with pytest.raises(ConfigError) as e:
            load_model(run, "cpu", checkpoint=run / "scores.csv")
    said = f"--checkpoint {run / 'scores.csv'}" if cli else f"checkpoint={str(run / 'scores.csv')!r}"
    assert str(e.value) == (f"{said}: not a checkpoint file (a checkpoint is a .json file with the .safetensors file "
                            f"of the same name beside it; this run's are in {run / 'checkpoints'})")


@pytest.mark.filterwarnings("ignore:.*split.json is missing")       # (a run folder of network files only)
def test_a_run_folder_given_as_the_checkpoint_is_told_of_its_files(tmp_path):
    """checkpoint=RUN (the run folder, not a file in it) was told "a folder; give one checkpoint file" with no
    example, the checkpoints being in RUN/checkpoints: its final networks are named, else its newest checkpoint."""
    from wildgan.scoring.run import checkpoint_path

    run = _run(tmp_path / "run")
    with pytest.raises(ConfigError, match=re.escape(f"a folder; give one checkpoint file, e.g. its final networks, "
                                                    f"{run / 'network-final.json'}")):
        checkpoint_path(run, run)
    tensors, meta = ckpt.load_checkpoint(run / "network-final.json")
    newest = ckpt.save_checkpoint(run / "checkpoints", "ckpt-000064", tensors, meta)
    for f in ("network-final.json", "network-final.safetensors"):
        (run / f).unlink()
    with pytest.raises(ConfigError, match=re.escape(f"a folder; give one checkpoint file, e.g. its newest, {newest}")):
        checkpoint_path(run, run)
