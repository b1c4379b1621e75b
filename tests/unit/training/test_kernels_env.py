"""WILDGAN_KERNELS=plain (config.kernels_from_env): the escape from CUDA's fused kernels (the pixel norm as torch's
RMS norm, the minibatch stddev's one torch.var, the FlatWeights blocks) to each layer's own arithmetic, and from the
fast path's merged real/fake critic pass to two passes, in every command, the API and torchrun's ranks. The
CUDA-only device sets are widened to the CPU here to see which path runs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from wildgan.config import TrainConfig, kernels_from_env, net_config_for_preset
from wildgan.errors import ConfigError
from wildgan.nets import build_pgan, layers
from wildgan.training.loop import FastOptions, StepRunner, build_pyramid, make_optimizers


@pytest.mark.parametrize("raw,want", [(None, "auto"), ("", "auto"), ("auto", "auto"), (" Plain ", "plain")])
def test_the_setting_is_read_from_the_environment(monkeypatch, raw, want):
    if raw is None:
        monkeypatch.delenv("WILDGAN_KERNELS", raising=False)
    else:
        monkeypatch.setenv("WILDGAN_KERNELS", raw)
    assert kernels_from_env() == want


def test_a_typo_is_refused_naming_the_variable_and_its_values(monkeypatch):
    monkeypatch.setenv("WILDGAN_KERNELS", "plian")
    with pytest.raises(ConfigError, match=r"WILDGAN_KERNELS=plian: use auto .* or plain"):
        kernels_from_env()


def test_plain_takes_each_layers_own_arithmetic(monkeypatch):
    monkeypatch.setattr(layers, "FUSED_PIXEL_NORM_DEVICES", {"cuda", "cpu"})
    monkeypatch.setattr(layers, "VAR_STDDEV_DEVICES", {"cuda", "cpu"})
    calls: list[str] = []
    real_rms, real_var = layers._rms_norm_last, torch.var
    monkeypatch.setattr(layers, "_rms_norm_last", lambda *a, **k: calls.append("rms") or real_rms(*a, **k))
    monkeypatch.setattr(layers.torch, "var", lambda *a, **k: calls.append("var") or real_var(*a, **k))
    x = torch.randn(8, 4, 3, 3).to(memory_format=torch.channels_last)
    out = {}
    for mode in ("auto", "plain"):
        monkeypatch.setenv("WILDGAN_KERNELS", mode)
        calls.clear()
        out[mode] = (layers.pixel_norm(x), layers.minibatch_stddev(x, 4))
        assert calls == (["rms", "var"] if mode == "auto" else []), mode
    for a, b in zip(out["auto"], out["plain"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


_NC = net_config_for_preset("tiny", 8, 1)
_TC = TrainConfig(total_kimg=1, phase_kimg=0.128, minibatch={4: 8, 8: 8})
_X = (np.random.default_rng(0).random((16, 8, 8, 1)) * 255).astype(np.uint8)


def _fast_runner(**kw: object) -> StepRunner:
    """A CPU StepRunner of the tiny preset at 8x8 on the fast path (channels_last), built under the WILDGAN_KERNELS
    the test has set."""
    cpu = torch.device("cpu")
    nets = build_pgan(_NC, 0)
    fast = FastOptions(channels_last=True)
    return StepRunner(nets, make_optimizers(nets, _TC, fast, cpu), _TC, _NC, cpu, build_pyramid(_X, cpu),
                      torch.Generator().manual_seed(0), fast=fast, log=lambda m: None, **kw)  # type: ignore[arg-type]


def test_plain_turns_the_training_loops_flat_weights_off(monkeypatch):
    monkeypatch.setattr(layers, "FLAT_WEIGHTS_DEVICES", {"cuda", "cpu"})
    seen = {}
    for mode in ("auto", "plain"):
        monkeypatch.setenv("WILDGAN_KERNELS", mode)
        seen[mode] = _fast_runner(force_fast=True).flat_weights
    assert seen == {"auto": True, "plain": False}


def test_plain_turns_the_merged_critic_pass_off_and_the_d_step_runs_two_passes(monkeypatch, tmp_path):
    """The D step's one forward of D(real) and D(fake) stacked (StepRunner.pair_critic) is a fast-path speed change no
    GPU has run: plain, the session's fallback when the fast kernels misbehave, runs the two passes instead, on every
    device, and says so in the run's log. Seen by the D forwards' batch sizes: 2n merged, n and n in two passes."""
    import wildgan.training.loop as L

    nc, tc, x = _NC, _TC, _X
    real_d = L.d_forward
    batches: list[int] = []
    monkeypatch.setattr(L, "d_forward", lambda net, x, *a, **k: batches.append(x.shape[0]) or real_d(net, x, *a, **k))
    seen = {}
    for mode in ("auto", "plain"):
        monkeypatch.setenv("WILDGAN_KERNELS", mode)
        run = _fast_runner()
        batches.clear()
        phase = L.Phase(lod=1.0, resolution=4, batch=8, fade=0.0)
        run.iteration(phase)
        seen[mode] = (run.pair_critic, batches[0])          # (the D step's first critic forward)
    assert seen == {"auto": (True, 16), "plain": (False, 8)}
    # the run's log says it where the fast path runs (here the CPU's: bf16 autocast, channels_last); stopped once said
    from wildgan.config import DataConfig, RunConfig

    def stop(*a: object, **k: object) -> None:
        raise RuntimeError("stopped after the setup's log")

    monkeypatch.setattr(L, "build_pgan", stop)
    logs: list[str] = []
    cfg = RunConfig(data=DataConfig(data="unused.npz", normal=("0",), resolution=8, channels=1), net=nc,
                    preset="tiny", train=dataclasses.replace(tc, device="cpu", amp="bf16", channels_last=True))
    with pytest.raises(RuntimeError, match="stopped after the setup's log"):
        L.train_pgan(x, cfg, tmp_path / "run", progress=False, log=logs.append)
    assert [m for m in logs if m.startswith("WILDGAN_KERNELS=plain") and "two critic passes" in m], logs


def test_the_command_refuses_a_typo_before_it_starts_and_a_run_records_plain(monkeypatch, tmp_path):
    import os

    env = {**os.environ, "WILDGAN_KERNELS": "fused", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "wildgan", "train", "--data", str(tmp_path / "none.npz"), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "WILDGAN_KERNELS=fused" in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()
    from wildgan.checkpoint import environment_versions

    monkeypatch.setenv("WILDGAN_KERNELS", "plain")
    assert environment_versions()["kernels"] == "plain"
    monkeypatch.delenv("WILDGAN_KERNELS")
    assert "kernels" not in environment_versions()


def test_the_api_refuses_a_typo_before_it_trains(monkeypatch, tmp_path):
    """train_run (Detector.fit, a study's cells) refuses a typo before the run folder is made, as the command does: on
    the CPU (or f-AnoGAN, which has none of these kernels) nothing read the variable before the first checkpoint,
    whose versions record failed after the training, its weights file written without its JSON."""
    from wildgan import checkpoint as ckpt
    from wildgan.config import PRESETS, DataConfig, RunConfig
    from wildgan.training.run import train_run

    npz = tmp_path / "toy.npz"
    np.savez(npz, x=(np.random.default_rng(0).random((40, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 20))
    cfg = RunConfig(data=DataConfig(data=str(npz), normal=("0",), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1), preset="tiny",
                    train=TrainConfig(total_kimg=0.1, phase_kimg=0.04, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", threads=1))
    monkeypatch.setenv("WILDGAN_KERNELS", "plian")
    with pytest.raises(ConfigError, match="WILDGAN_KERNELS=plian"):
        train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="WILDGAN_KERNELS=plian"):
        ckpt.save_checkpoint(tmp_path / "ck", "x", {"w": torch.zeros(1)}, {"kind": ckpt.NETWORKS_KIND})
    assert not any((tmp_path / "ck").glob("*.safetensors"))
