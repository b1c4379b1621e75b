"""f-AnoGAN baseline: networks, TF1 RMSProp, the two-stage training loop, checkpoints/resume and scores.

Everything runs on the CPU with dim = 8 and a handful of 32x32 images, so the whole file takes seconds.
"""

from __future__ import annotations

import json
import math
import re
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from wildgan import checkpoint as ckpt
from wildgan.config import FAnoGANConfig, to_dict
from wildgan.errors import CheckpointError, ConfigError, DataError, DivergenceError, TrainingInterrupted
from wildgan.nets.fanogan import ChannelLayerNorm, FAnoGANNetworks, build_fanogan
from wildgan.scoring.fanogan_scores import score_fanogan
from wildgan.training import fanogan_loop
from wildgan.checkpoint import load_fanogan
from wildgan.training.fanogan_loop import TF1RMSprop, planned_gan_iters, train_fanogan

SCORE_KEYS = {"A", "L_r", "L_n", "L_o", "a", "z_norm"}


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_cfg(**kw) -> FAnoGANConfig:
    base = dict(dim=8, latent_size=16, batch_size=4, enc_batch_size=4, gan_iters=6, enc_iters=3, device="cpu", seed=3)
    base.update(kw)
    return FAnoGANConfig(**base)


def images(n: int, res: int = 32, ch: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, res, res, ch), dtype=np.uint8)


def state_of(m: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("res,ch", [(32, 1), (32, 3), (64, 1), (64, 3)])
def test_shapes(res: int, ch: int) -> None:
    cfg = tiny_cfg()
    nets = build_fanogan(cfg, res, ch)
    z = torch.randn(5, cfg.latent_size)
    x = nets.G(z)
    assert x.shape == (5, ch, res, res)
    assert x.abs().max() < 1                                   # tanh output
    assert nets.D(x).shape == (5,)
    assert nets.D.features(x).shape == (5, 8 * cfg.dim * 16)   # 8192-d at dim 64
    e = nets.E(x)
    assert e.shape == (5, cfg.latent_size) and e.abs().max() < 1
    n_blocks = int(math.log2(res)) - 2                        # 64x64: 4 blocks; 32x32: one fewer (spec 5.4)
    assert len(nets.G.blocks) == len(nets.D.blocks) == len(nets.E.blocks) == n_blocks


def test_paper_width_feature_size() -> None:
    for res, ch in ((64, 1), (32, 3)):
        nets = build_fanogan(FAnoGANConfig(), res, ch)
        assert nets.D.feature_size == 8192 and nets.E.output.out_features == 128
        assert nets.G.input.out_features == 8192


def test_bad_resolution_and_channels() -> None:
    with pytest.raises(ConfigError):
        build_fanogan(tiny_cfg(), 16, 1)
    with pytest.raises(ConfigError):
        build_fanogan(tiny_cfg(), 32, 2)


def test_build_is_seeded_and_leaves_global_rng() -> None:
    before = torch.get_rng_state()
    a, b = build_fanogan(tiny_cfg(), 32, 3), build_fanogan(tiny_cfg(), 32, 3)
    assert torch.equal(torch.get_rng_state(), before)
    assert same_state(state_of(a.G), state_of(b.G)) and same_state(state_of(a.E), state_of(b.E))
    c = build_fanogan(tiny_cfg(seed=4), 32, 3)
    assert not same_state(state_of(a.D), state_of(c.D))


def test_init_follows_tflib() -> None:
    nets = build_fanogan(FAnoGANConfig(dim=16), 32, 3)
    blk = nets.D.blocks[1]                                     # 2d -> 4d down block
    for conv, he in ((blk.conv1, True), (blk.conv2, True), (blk.shortcut, False), (nets.D.input, False)):
        c_out, c_in, k, _ = conv.weight.shape
        std = math.sqrt((4.0 if he else 2.0) / (k * k * (c_in + c_out)))
        assert conv.weight.abs().max() <= std * math.sqrt(3) + 1e-7
        assert conv.weight.std().item() == pytest.approx(std, rel=0.1)
    assert blk.conv1.bias is None and blk.conv2.bias is not None   # conv1 has no bias (pre-norm follows)
    lin = nets.D.output
    assert lin.weight.std().item() == pytest.approx(math.sqrt(2.0 / (lin.in_features + 1)), rel=0.1)


def test_critic_layernorm_is_per_sample() -> None:
    nets = build_fanogan(tiny_cfg(), 32, 3)
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    nets.D.train()
    together = nets.D(x)
    alone = torch.cat([nets.D(x[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)
    ln = ChannelLayerNorm(4)
    y = ln(torch.randn(3, 4, 5, 5) * 7 + 2)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert ln.weight.shape == ln.bias.shape == (4,)           # per-channel gain and offset


# ------------------------------------------------------------------------------------------------------ optimiser
def test_tf1_rmsprop_matches_hand_computation() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = TF1RMSprop([p], lr=0.1)
    g1, g2 = torch.tensor([0.5, -3.0]), torch.tensor([2.0, 1.0])
    ms, want = np.ones(2), np.array([1.0, -2.0])
    for g in (g1, g2):
        p.grad = g.clone()
        opt.step()
        ms = 0.9 * ms + 0.1 * g.numpy() ** 2                  # accumulator starts at 1, eps inside the root
        want = want - 0.1 * g.numpy() / np.sqrt(ms + 1e-10)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-6)
    # first step by hand: ms = 0.9 + 0.1 * 0.25 = 0.925 -> 1 - 0.1 * 0.5 / sqrt(0.925)
    assert want[0] == pytest.approx(1 - 0.05 / math.sqrt(0.925) - 0.2 / math.sqrt(0.9 * 0.925 + 0.4))


def test_tf1_rmsprop_adds_eps_inside_the_root() -> None:
    # TF1: p -= lr * g / sqrt(ms + eps). Where ms has decayed towards 0 (300 steps of zero gradient: 0.9^300 ~ 2e-14)
    # eps = 1e-10 inside the root bounds the step at about lr * g / 1e-5; added outside the root (torch's RMSprop)
    # the same gradient of 1e-6 would move p by about 3 lr instead of 0.1 lr
    p = torch.nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
    opt = TF1RMSprop([p], lr=1.0)
    ms = 1.0
    for _ in range(300):
        p.grad = torch.zeros(1, dtype=torch.float64)
        opt.step()
        ms *= 0.9
    assert p.item() == 0.0
    g = 1e-6
    p.grad = torch.tensor([g], dtype=torch.float64)
    opt.step()
    ms = 0.9 * ms + 0.1 * g * g
    assert p.item() == pytest.approx(-g / math.sqrt(ms + 1e-10), rel=1e-9)
    assert -p.item() < 0.11


def test_the_izif_encoder_loss_weights_only_its_feature_term_by_kappa() -> None:
    # spec 5.2: MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))). With G(E(x)) = 2 everywhere, x = 0 and f(t) = 3 t
    # the terms are 4 and 36: kappa = 0.5 gives 22 (kappa on the image term instead would give 38)
    from types import SimpleNamespace

    from wildgan.training.fanogan_loop import _encoder_loss

    x = torch.zeros(2, 1, 2, 2)
    E = lambda t: t.flatten(1)                                  # noqa: E731
    G = lambda z: torch.full((len(z), 1, 2, 2), 2.0)            # noqa: E731
    D = SimpleNamespace(features=lambda t: 3 * t)
    loss, img, fts, _ = _encoder_loss(E, G, D, x, 0.5)
    assert (img.item(), fts.item()) == (4.0, 36.0)
    assert loss.item() == pytest.approx(4 + 0.5 * 36)


def test_tf1_rmsprop_momentum_and_state_round_trip() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = TF1RMSprop([p], lr=0.1, momentum=0.5)
    p.grad = torch.tensor([1.0])
    opt.step()
    opt.step()
    mom1 = 0.1 / math.sqrt(1.0)
    mom2 = 0.5 * mom1 + 0.1 / math.sqrt(1.0)
    assert p.item() == pytest.approx(1.0 - mom1 - mom2)
    q = torch.nn.Parameter(torch.tensor([0.0]))
    opt2 = TF1RMSprop([q], lr=0.1, momentum=0.5)
    opt2.load_state_dict(opt.state_dict())
    assert torch.equal(opt2.state[q]["ms"], opt.state[p]["ms"])


# ------------------------------------------------------------------------------------------------------ training
def test_planned_iterations() -> None:
    assert planned_gan_iters(FAnoGANConfig(), 5000) == 7 * (5000 // 16 - 5)
    assert planned_gan_iters(FAnoGANConfig(gan_iters=11), 5000) == 11
    assert planned_gan_iters(FAnoGANConfig(batch_size=16), 20) == 7          # at least one per epoch


def test_bn_momentum_schedule() -> None:
    cfg = FAnoGANConfig()
    assert (cfg.bn_eps, cfg.bn_decay, cfg.bn_warmup) == (1e-3, 0.99, True)      # tf.layers.batch_normalization
    assert fanogan_loop.bn_momentum(0, cfg) == pytest.approx(0.9)               # decay 1/10 at the first update
    assert fanogan_loop.bn_momentum(90, cfg) == pytest.approx(1 - 91 / 100)
    assert fanogan_loop.bn_momentum(890, cfg) == pytest.approx(0.01)            # the constant from here on
    assert fanogan_loop.bn_momentum(10**6, cfg) == pytest.approx(0.01)
    off = FAnoGANConfig(bn_warmup=False)
    assert fanogan_loop.bn_momentum(0, off) == pytest.approx(0.01)
    with pytest.raises(ConfigError):
        train_fanogan(images(8), tiny_cfg(bn_decay=1.0), Path("unused"), progress=False)


def bn_stats(m: torch.nn.Module) -> list[torch.Tensor]:
    return [t.clone() for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)
            for t in (b.running_mean, b.running_var)]


def test_critic_steps_leave_g_running_statistics(tmp_path: Path) -> None:
    """TF updates G's moving BN statistics with the G train op only: 5 critic iterations (no G step yet) leave them
    at their initial (0, 1); the 6th iteration's G step moves them, with the warm-up's first decay 0.1."""
    x = images(8)
    train_fanogan(x, tiny_cfg(gan_iters=5, enc_iters=0), tmp_path / "five", progress=False)
    g = load_fanogan(tmp_path / "five" / "fanogan-final.json").G
    for b in g.modules():
        if isinstance(b, torch.nn.BatchNorm2d):
            assert b.eps == 1e-3
            assert torch.equal(b.running_mean, torch.zeros_like(b.running_mean))
            assert torch.equal(b.running_var, torch.ones_like(b.running_var))
    train_fanogan(x, tiny_cfg(gan_iters=6, enc_iters=0), tmp_path / "six", progress=False)
    g6 = load_fanogan(tmp_path / "six" / "fanogan-final.json").G
    moved = [not torch.equal(a, b) for a, b in zip(bn_stats(g), bn_stats(g6))]
    assert all(moved)
    # decay 0.1 at the first update: the running mean is 0.9 x that batch's mean, far from the initial 0
    assert max(float(t.abs().max()) for t in bn_stats(g6)[0::2]) > 1e-3


def test_legacy_config_reads_back_pytorch_batchnorm(tmp_path: Path) -> None:
    """A run recorded before the BatchNorm fields existed was trained (and must be scored) with eps 1e-5."""
    from wildgan.config import fanogan_config_from_dict

    old = {k: v for k, v in to_dict(tiny_cfg()).items() if not k.startswith("bn_")}
    cfg = fanogan_config_from_dict(old)
    assert (cfg.bn_eps, cfg.bn_decay, cfg.bn_warmup) == (1e-5, 0.9, False)
    assert fanogan_config_from_dict(to_dict(tiny_cfg())).bn_eps == 1e-3
    nets = build_fanogan(cfg, 32, 3)
    path = ckpt.save_checkpoint(tmp_path, "old", ckpt.networks_to_tensors(nets.modules()),
                                {"kind": ckpt.FANOGAN_KIND, "config": old, "resolution": 32, "channels": 3})
    loaded = load_fanogan(path)
    assert {b.eps for b in loaded.E.modules() if isinstance(b, torch.nn.BatchNorm2d)} == {1e-5}


def test_partial_fanogan_section_gets_todays_batchnorm() -> None:
    """Only a complete record written by an older wildgan reads back as legacy; a hand-written partial section (e.g.
    a --config file with `fanogan: {dim: 8}`) or a missing one gets today's defaults."""
    from wildgan.config import fanogan_config_from_dict

    assert fanogan_config_from_dict({"dim": 8, "gan_iters": 10}).bn_eps == 1e-3
    assert fanogan_config_from_dict({}).bn_eps == 1e-3


def test_resume_drops_stats_rows_after_the_checkpoint(tmp_path: Path) -> None:
    x = images(8)
    cfg = tiny_cfg(gan_iters=6, enc_iters=4)
    run = tmp_path / "run"
    train_fanogan(x, cfg, run, progress=False, log_every=1, checkpoint_every=1000)
    full = (run / "stats.jsonl").read_text().splitlines()
    # the boundary checkpoint (6 critic steps) is the newest: resuming from it redoes the encoder stage
    for c in ckpt.list_checkpoints(run / "checkpoints"):
        if c.stem != ckpt.checkpoint_name(6):
            c.with_suffix(".safetensors").write_bytes(b"garbage")
    said: list[str] = []
    train_fanogan(x, cfg, run, resume=True, progress=False, log=said.append, log_every=1, checkpoint_every=1000)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["iter"]) for r in rows] == [(json.loads(r)["stage"], json.loads(r)["iter"]) for r in full]
    assert any("dropped" in m for m in said)
    # (resumed mid-way: it trains, and says nothing of a finished run)
    assert not any("already finished" in m for m in said), said


def test_a_resume_of_a_finished_run_says_so_in_one_line(tmp_path: Path) -> None:
    x = images(8)
    cfg = tiny_cfg(gan_iters=2, enc_iters=2)
    train_fanogan(x, cfg, tmp_path, progress=False, checkpoint_every=1000)
    said: list[str] = []
    train_fanogan(x, cfg, tmp_path, resume=True, progress=False, log=said.append, checkpoint_every=1000)
    assert [m for m in said if "already finished" in m] == [
        "the run was already finished (2 critic and 2 encoder iterations): nothing to train"], said


def test_a_resume_under_another_thread_count_records_both_counts(tmp_path: Path) -> None:
    # fanogan-final.json said the last session's count alone, though the weights trained under two; a finished run's
    # resume trains nothing and adds none
    x = images(8)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        train_fanogan(x, tiny_cfg(gan_iters=2, enc_iters=0), tmp_path, progress=False, checkpoint_every=1000)
        torch.set_num_threads(2)
        cfg = tiny_cfg(gan_iters=2, enc_iters=2)
        train_fanogan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None, checkpoint_every=1000)
        final = json.loads((tmp_path / "fanogan-final.json").read_text())
        assert final["intra_op_threads"] == [1, 2]
        torch.set_num_threads(1)
        train_fanogan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None, checkpoint_every=1000)
        assert json.loads((tmp_path / "fanogan-final.json").read_text())["intra_op_threads"] == [1, 2]
    finally:
        torch.set_num_threads(before)


def test_bad_training_input(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        train_fanogan(images(8).astype(np.float32), tiny_cfg(), tmp_path, progress=False)
    with pytest.raises(DataError):
        train_fanogan(images(8, res=48), tiny_cfg(), tmp_path, progress=False)
    with pytest.raises(DataError):
        train_fanogan(images(3), tiny_cfg(), tmp_path, progress=False)         # fewer images than a batch


def blobs(n: int, seed: int) -> np.ndarray:
    """Smooth low-contrast gray blobs on mid-gray, as RGB: the 'normal' class of the easy task."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    cy, cx = rng.uniform(8, 24, (2, n, 1, 1))
    img = 128 + 40 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 40.0)
    return np.repeat(img[..., None], 3, axis=-1).astype(np.uint8)


def stripes(n: int) -> np.ndarray:
    """High-contrast vertical stripes: the 'anomaly' class of the easy task."""
    xx = np.arange(32)[None, :].repeat(32, axis=0)
    return np.where((xx // 2) % 2 == 0, 255, 0).astype(np.uint8)[None, ..., None].repeat(n, 0).repeat(3, -1)


TRAIN_CFG = dict(gan_iters=7, enc_iters=4, seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """One short training run shared by several tests (training is the slow part on the CPU)."""
    run = tmp_path_factory.mktemp("fanogan")
    x = blobs(12, seed=0)
    train_fanogan(x, tiny_cfg(**TRAIN_CFG), run, progress=False, log_every=2, checkpoint_every=1000)
    return run, x


def test_training_runs_and_logs(trained: tuple[Path, np.ndarray]) -> None:
    run, _ = trained
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    gan = [r for r in rows if r["stage"] == "gan"]
    enc = [r for r in rows if r["stage"] == "encoder"]
    assert [r["iter"] for r in gan] == [2, 4, 6, 7] and [r["iter"] for r in enc] == [2, 4]
    for r in rows:
        assert all(math.isfinite(v) for v in r.values() if isinstance(v, float))
        assert r["img_per_s"] > 0
        # (f-AnoGAN trains in one process: its rows say so, as a one-process pGAN run's do)
        assert (r["world_size"], r["dist_backend"]) == (1, None), r
    assert "g_loss" not in gan[0] and "g_loss" in gan[-1]   # the first G step comes after 5 critic steps
    meta = ckpt.read_meta(run / "fanogan-final.json")
    assert meta["kind"] == "fanogan" and meta["gan_iters_done"] == 7 and meta["enc_iters_done"] == 4
    assert meta["resolution"] == 32 and meta["channels"] == 3 and meta["config"]["dim"] == 8
    assert not meta["stopped_early"]


def test_encoder_stage_leaves_g_and_critic_unchanged(trained: tuple[Path, np.ndarray]) -> None:
    run, _ = trained
    # The stage-boundary checkpoint (step = 7 critic iterations) holds G and D as stage 1 left them.
    boundary = load_fanogan(run / "checkpoints" / f"{ckpt.checkpoint_name(7)}.json")
    final = load_fanogan(run / "fanogan-final.json")
    assert same_state(state_of(boundary.G), state_of(final.G))          # incl. BN running statistics
    assert same_state(state_of(boundary.D), state_of(final.D))
    assert not same_state(state_of(boundary.E), state_of(final.E))


def test_scores_finite_and_checkpoint_round_trip(trained: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    run, x = trained
    nets = load_fanogan(run / "fanogan-final.json")
    res = score_fanogan(nets, x, batch_size=5, return_recon=True)   # 5, 5, 2: the partial batch is scored too
    s1 = res.scores
    assert set(s1) == SCORE_KEYS
    assert res.z.shape == (12, 16) and res.recon.shape == (12, 32, 32, 3) and np.abs(res.recon).max() < 1
    np.testing.assert_allclose(np.linalg.norm(res.z, axis=1), s1["z_norm"], rtol=1e-5)
    for v in s1.values():
        assert v.shape == (12,) and np.isfinite(v).all()
    np.testing.assert_allclose(s1["L_o"], -s1["z_norm"] / math.sqrt(16), rtol=1e-6)
    assert (s1["z_norm"] < math.sqrt(16)).all()               # tanh codes lie inside the hypercube
    s_big = score_fanogan(nets, x, batch_size=64).scores           # eval mode: batch composition does not matter
    for k in SCORE_KEYS:
        np.testing.assert_allclose(s1[k], s_big[k], rtol=1e-4, atol=1e-6)
    # save the loaded networks again and reload: bit-identical scores
    meta = ckpt.read_meta(run / "fanogan-final.json")
    keep = {k: meta[k] for k in ("kind", "config", "resolution", "channels")}
    path = ckpt.save_checkpoint(tmp_path, "again", ckpt.networks_to_tensors(nets.modules()), keep)
    s2 = score_fanogan(load_fanogan(path), x, batch_size=5).scores
    for k in SCORE_KEYS:
        np.testing.assert_array_equal(s1[k], s2[k])
    empty = score_fanogan(nets, x[:0], return_recon=True)
    assert empty.scores["A"].shape == (0,) and empty.z.shape == (0, 16) and empty.recon.shape == (0, 32, 32, 3)


def test_scoring_restores_training_flags() -> None:
    nets = build_fanogan(tiny_cfg(), 32, 1)
    nets.E.train()
    score_fanogan(nets, images(3, ch=1))
    assert nets.E.training and nets.G.training


def test_load_rejects_other_checkpoints(tmp_path: Path) -> None:
    path = ckpt.save_checkpoint(tmp_path, "other", {"w": torch.zeros(1)}, {"kind": "pgan"})
    with pytest.raises(CheckpointError):
        load_fanogan(path)
    nets = build_fanogan(tiny_cfg(), 32, 3)
    tensors = ckpt.networks_to_tensors(nets.modules())
    tensors.pop("G.input.bias")
    bad = ckpt.save_checkpoint(tmp_path, "bad", tensors, {"kind": ckpt.FANOGAN_KIND,
                                                          "config": to_dict(tiny_cfg()), "resolution": 32,
                                                          "channels": 3})
    with pytest.raises(CheckpointError):                     # strict loading
        load_fanogan(bad)


def test_resume_continues_from_checkpoint(trained: tuple[Path, np.ndarray], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run, x = trained
    cfg = tiny_cfg(**TRAIN_CFG)
    ref = load_fanogan(run / "fanogan-final.json")            # the uninterrupted run

    # Kill a second run at its 11th batch draw (encoder step 4): checkpoints exist at steps 3, 6, 7 (stage
    # boundary) and 9, so the resume starts from critic step 7, encoder step 2.
    real_batch, calls = fanogan_loop._batch, {"n": 0}

    def dying_batch(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt
        return real_batch(*a, **kw)

    monkeypatch.setattr(fanogan_loop, "_batch", dying_batch)
    with pytest.raises(KeyboardInterrupt):
        train_fanogan(x, cfg, tmp_path, progress=False, checkpoint_every=3)
    monkeypatch.setattr(fanogan_loop, "_batch", real_batch)
    assert not (tmp_path / "fanogan-final.json").exists()
    msgs: list[str] = []
    out = train_fanogan(x, cfg, tmp_path, resume=True, progress=False, checkpoint_every=3, log=msgs.append)
    assert any("resumed from critic step 7, encoder step 2" in m for m in msgs), msgs
    meta = ckpt.read_meta(out)
    assert meta["gan_iters_done"] == 7 and meta["enc_iters_done"] == 4
    got = load_fanogan(out)
    for name in ("G", "D", "E"):                              # same result as the uninterrupted run, bit for bit
        assert same_state(state_of(getattr(ref, name)), state_of(getattr(got, name))), name


def test_a_ctrl_c_as_the_final_networks_are_written_waits_for_both_files(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C (or SIGTERM) between fanogan-final.safetensors and its .json, after the loops' handlers were gone,
    raised in the middle of the save and left the weights without their record. Held until both are written."""
    import signal

    real = ckpt.atomic_write_text

    def write(path, text, *a, **k):
        if Path(path).name == "fanogan-final.json":         # the weights are written, the record not yet
            signal.raise_signal(signal.SIGINT)
        return real(path, text, *a, **k)

    monkeypatch.setattr(ckpt, "atomic_write_text", write)
    with pytest.raises(TrainingInterrupted, match="the training is complete and its networks are saved") as e:
        train_fanogan(blobs(12, seed=0), tiny_cfg(gan_iters=2, enc_iters=1, seed=1), tmp_path, progress=False)
    assert e.value.signum == signal.SIGINT and e.value.complete       # (Detector.fit keeps a temporary run_dir for it)
    assert (tmp_path / "fanogan-final.safetensors").is_file() and (tmp_path / "fanogan-final.json").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("stop, cli", [("SIGINT", False), ("SIGTERM", True)])
def test_a_stop_in_the_last_step_is_told_not_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     stop: str, cli: bool) -> None:
    """The loops look at the stop flag before a step: a Ctrl-C / SIGTERM in the last encoder step (here, as its
    checkpoint is written) left the loop by its end, and train_fanogan returned as if nobody had asked to stop (the
    CLI went on to the training scores and --evaluate). Told at the end, as a wildgan run's is, saying what it left
    undone in the caller's words (a Python caller has no --evaluate)."""
    import signal
    from contextlib import nullcontext

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    signum = getattr(signal, stop)
    real = ckpt.atomic_write_text

    def write(path, text, *a, **k):
        if Path(path).name == "ckpt-000000000003.json":    # the last step's (2 critic + 1 encoder)
            signal.raise_signal(signum)
        return real(path, text, *a, **k)

    monkeypatch.setattr(ckpt, "atomic_write_text", write)
    with skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext(), \
            pytest.raises(TrainingInterrupted, match="as training ended at critic step 2 of 2, encoder step 1 of 1; "
                                                     "the training is complete") as e:
        train_fanogan(blobs(12, seed=0), tiny_cfg(gan_iters=2, enc_iters=1, seed=1), tmp_path, progress=False)
    assert e.value.signum == signum and e.value.complete and (tmp_path / "fanogan-final.json").is_file()
    assert e.value.not_run == ("the training scores, --evaluate" if cli else "the caller's next steps")
    assert str(e.value).endswith(f"; what was to follow it ({e.value.not_run}) was not run"), str(e.value)


def test_a_bar_that_meets_its_output_gone_stops_at_the_next_step_with_a_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wildgan train --method fanogan ... 2>&1 | head`: a redraw of the stage's bar into the closed pipe raised its
    BrokenPipeError out of the loop between two checkpoints, the steps since the last one lost. The loop now stops at
    its next step with a checkpoint, as for a signal, told as SIGPIPE's (the CLI's exit 141)."""
    import io
    import signal
    import sys

    from wildgan import errors

    class Gone(io.StringIO):
        """stderr whose reader leaves after a few redraws."""

        def write(self, text: str) -> int:
            if len(self.getvalue()) > 200:
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(text)

    monkeypatch.setattr(errors, "closed_outputs", lambda: [2])
    monkeypatch.setattr(errors, "silence_closed_outputs", lambda: None, raising=False)   # (no descriptor here)
    monkeypatch.setattr(sys, "stderr", Gone())
    monkeypatch.setenv("TQDM_MININTERVAL", "0")
    x, cfg = blobs(12, seed=0), tiny_cfg(gan_iters=30, enc_iters=2, seed=1)
    with pytest.raises(TrainingInterrupted, match=r"^the reader of its output went away \(a pipe closed early, e\.g\. "
                                                  r"by `\| head`\) at critic step [1-9]\d* of 30, .*; checkpoint saved "
                                                  r"in .*; continue with train_run\(cfg, '.*', resume=True\) "
                                                  r"with the same cfg$") as e:
        train_fanogan(x, cfg, tmp_path, checkpoint_every=1000)
    assert e.value.signum == signal.SIGPIPE and ckpt.list_checkpoints(tmp_path / "checkpoints")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert train_fanogan(x, cfg, tmp_path, resume=True, progress=False).is_file()


@pytest.mark.parametrize("at_draw", [5, 10])           # in stage 1 (critic step 5), in stage 2 (encoder step 3)
def test_a_signal_saves_a_checkpoint_and_the_resume_is_exact(trained: tuple[Path, np.ndarray], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, at_draw: int) -> None:
    import os
    import signal

    from wildgan.errors import TrainingInterrupted

    run, x = trained
    cfg = tiny_cfg(**TRAIN_CFG)
    ref = load_fanogan(run / "fanogan-final.json")
    real_batch, calls = fanogan_loop._batch, {"n": 0}

    def signalled_batch(*a, **kw):
        calls["n"] += 1
        if calls["n"] == at_draw:
            os.kill(os.getpid(), signal.SIGTERM)             # as `kill PID` or a job scheduler's stop
        return real_batch(*a, **kw)

    monkeypatch.setattr(fanogan_loop, "_batch", signalled_batch)
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    # (the advice in the words of a command of the CLI, where `wildgan train` runs the loop)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(TrainingInterrupted, match="--resume") as e:
        train_fanogan(x, cfg, tmp_path, progress=False, checkpoint_every=1000, log_every=2)   # no checkpoint due
    assert str(e.value).endswith(f"; continue with `wildgan train --out {tmp_path} --resume`"), str(e.value)
    assert e.value.signum == signal.SIGTERM and not e.value.complete       # (a Detector's temporary run_dir goes)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL                      # handlers restored
    monkeypatch.setattr(fanogan_loop, "_batch", real_batch)
    # the checkpoint of the stop is of the step it stopped after (a stop in stage 2 that skipped it left the stage
    # boundary's as the newest: its encoder steps lost, and the exact resume below cannot tell)
    assert ckpt.list_checkpoints(tmp_path / "checkpoints")[-1].name.startswith(ckpt.checkpoint_name(at_draw))
    got = load_fanogan(train_fanogan(x, cfg, tmp_path, resume=True, progress=False, checkpoint_every=1000,
                                     log_every=2))
    for name in ("G", "D", "E"):
        assert same_state(state_of(getattr(ref, name)), state_of(getattr(got, name))), name
    # rows say how many steps they average: the first one after the resume may cover fewer than log_every
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert all(1 <= r["iters"] <= 2 for r in rows) and any(r["iters"] == 2 for r in rows)


def test_resume_refuses_other_architecture(tmp_path: Path) -> None:
    x = images(8, ch=3)
    train_fanogan(x, tiny_cfg(gan_iters=2, enc_iters=0), tmp_path, progress=False)
    with pytest.raises(ConfigError):
        train_fanogan(x, tiny_cfg(dim=4, gan_iters=2, enc_iters=0), tmp_path, resume=True, progress=False)


def test_a_resume_refused_for_another_architecture_names_the_checkpoint(tmp_path: Path) -> None:
    # "RUN/checkpoints: cannot resume: checkpoint architecture ..." named the folder, not which of its checkpoints
    # the resume had taken (the newest good one), to take out or keep
    x = images(8, ch=3)
    train_fanogan(x, tiny_cfg(gan_iters=2, enc_iters=0), tmp_path, progress=False)
    newest = ckpt.list_checkpoints(tmp_path / "checkpoints")[-1]
    with pytest.raises(ConfigError) as e:
        train_fanogan(x, tiny_cfg(dim=4, gan_iters=2, enc_iters=0), tmp_path, resume=True, progress=False)
    assert str(e.value).startswith(f"{newest}: cannot resume: checkpoint architecture "), str(e.value)


def test_resume_refuses_a_checkpoint_of_another_kind(tmp_path: Path) -> None:
    # a pGAN checkpoint in the folder was refused as "checkpoint architecture None differs from the requested ..."
    ckpt.save_checkpoint(tmp_path / "checkpoints", ckpt.checkpoint_name(3), {"w": torch.zeros(1)},
                         {"kind": ckpt.TRAIN_STATE_KIND, "nimg": 3})
    with pytest.raises(CheckpointError, match=rf"{ckpt.checkpoint_name(3)}\.json: a checkpoint of the wrong kind "
                                              r"\(kind 'wildgan-train-state'.*expected 'fanogan'"):
        train_fanogan(images(8, ch=3), tiny_cfg(gan_iters=2, enc_iters=0), tmp_path, resume=True, progress=False)


def test_minutes_budget_stops_early(tmp_path: Path) -> None:
    out = train_fanogan(images(8), tiny_cfg(gan_iters=1000, enc_iters=1000, minutes=0.02 / 60), tmp_path,
                        progress=False)
    meta = ckpt.read_meta(out)
    assert meta["stopped_early"] and meta["gan_iters_done"] < 1000 and meta["enc_iters_done"] < 1000
    assert isinstance(load_fanogan(out), FAnoGANNetworks)


def test_easy_task_sign_convention(trained: tuple[Path, np.ndarray]) -> None:
    """Smooth low-contrast blobs (normal, the training data) vs high-contrast stripes (anomaly): after a short
    training the residual L_r is larger for the anomalies (higher = more anomalous). Robust even for a barely
    trained G: stripes at +-1 are far from anything a tanh G fitted to near-gray blobs produces."""
    run, _ = trained
    s = score_fanogan(load_fanogan(run / "fanogan-final.json"), np.concatenate([blobs(6, seed=9), stripes(6)])).scores
    assert all(np.isfinite(v).all() for v in s.values())
    assert s["L_r"][6:].min() > s["L_r"][:6].max()
    assert s["A"][6:].mean() > s["A"][:6].mean()


def test_a_changed_batchnorm_setting_is_a_difference_unless_the_record_is_legacy():
    # --fanogan-bn-warmup off on a resume (or a study re-run) must be refused, not silently replaced by the saved
    # value; only a record from before the fields existed (read back with FANOGAN_LEGACY_BN) keeps its own
    from dataclasses import replace

    from wildgan.config import FANOGAN_LEGACY_BN, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import legacy_fanogan_bn, run_differences

    base = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 32, 1), train=TrainConfig(total_kimg=1.0),
                     method="fanogan")
    off = replace(base, fanogan=replace(base.fanogan, bn_warmup=False))
    assert not legacy_fanogan_bn(base)
    assert run_differences(base, off) == ["fanogan.bn_warmup: True -> False"]
    legacy = replace(base, fanogan=replace(base.fanogan, **FANOGAN_LEGACY_BN))
    assert legacy_fanogan_bn(legacy) and run_differences(legacy, base) == []


def test_resume_of_a_checkpoint_written_on_another_device_type_reseeds(tmp_path: Path) -> None:
    """A CUDA generator state (16 bytes) cannot be loaded into a CPU generator (5,056): the resume warns and reseeds
    instead of failing (the checkpoint's state is made a CUDA one here; no GPU needed)."""
    import warnings

    x = blobs(12, seed=0)
    cfg = tiny_cfg(**TRAIN_CFG)
    train_fanogan(x, cfg, tmp_path, progress=False, checkpoint_every=3)
    last = ckpt.list_checkpoints(tmp_path / "checkpoints")[-1]
    tensors, meta = ckpt.load_checkpoint(last)
    assert meta["rng_device"] == "cpu" and tensors["rng"].numel() > 64
    for p in ckpt.list_checkpoints(tmp_path / "checkpoints"):
        for f in (p, p.with_suffix(".safetensors")):
            f.unlink()
    (tmp_path / "fanogan-final.json").unlink()
    tensors["rng"] = torch.zeros(16, dtype=torch.uint8)                    # what a CUDA generator saves
    ckpt.save_checkpoint(tmp_path / "checkpoints", last.stem, tensors, {**meta, "rng_device": "cuda"})
    msgs: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = train_fanogan(x, cfg, tmp_path, resume=True, progress=False, checkpoint_every=3, log=msgs.append)
    assert any("reseeded" in str(w.message) and "written on cuda" in str(w.message) for w in caught), caught
    assert any("resumed from critic step" in m for m in msgs) and out.exists()


# ------------------------------------------------------------------------------------------------ data placement
def _rows(run: Path) -> list[dict]:
    """stats.jsonl without the clock's columns (they differ between any two runs)."""
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("elapsed_s", "img_per_s")} for r in rows]


def _gathers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the host path: the batch size of every minibatch gathered in host memory."""
    seen: list[int] = []
    real = fanogan_loop.host_gather
    monkeypatch.setattr(fanogan_loop, "host_gather", lambda x, idx, dev: seen.append(len(idx)) or real(x, idx, dev))
    return seen


def test_a_set_in_host_memory_trains_exactly_as_one_on_the_device(trained: tuple[Path, np.ndarray], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A set that does not fit on the GPU stays in host memory: each batch is gathered there and copied over. The
    same images (and flips, z, GP weights from the same generator) reach the networks, so the same training, bit for
    bit, in both stages (the host path forced on the CPU, as the pGAN tests do with StepRunner(host_data=True))."""
    run, x = trained                                          # the device path, same config
    seen = _gathers(monkeypatch)
    out = train_fanogan(x, tiny_cfg(**TRAIN_CFG), tmp_path, progress=False, log_every=2, checkpoint_every=1000,
                        host_data=True)
    assert seen == [4] * (7 + 4)                              # every batch of both stages came through the host
    ref = load_fanogan(run / "fanogan-final.json")
    got = load_fanogan(out)
    for name in ("G", "D", "E"):
        assert same_state(state_of(getattr(ref, name)), state_of(getattr(got, name))), name
    assert _rows(tmp_path) == _rows(run)                      # the same losses at every logged step
    assert ckpt.read_meta(out)["state"] == {**ckpt.read_meta(run / "fanogan-final.json")["state"],
                                            "elapsed": ckpt.read_meta(out)["state"]["elapsed"]}   # sampler position


def test_the_host_path_resumes_a_run_started_on_the_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the images live is not part of a checkpoint: a run interrupted with its set on the device resumes with
    the set in host memory (e.g. on a GPU with less free memory) and ends as the uninterrupted run."""
    x = blobs(12, seed=0)
    cfg = tiny_cfg(**TRAIN_CFG)
    ref = load_fanogan(train_fanogan(x, cfg, tmp_path / "ref", progress=False, checkpoint_every=3))
    real_batch, calls = fanogan_loop._batch, {"n": 0}

    def dying_batch(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 6:                                   # critic step 6: resumes from the checkpoint at 3
            raise KeyboardInterrupt
        return real_batch(*a, **kw)

    with monkeypatch.context() as m:
        m.setattr(fanogan_loop, "_batch", dying_batch)
        with pytest.raises(KeyboardInterrupt):
            train_fanogan(x, cfg, tmp_path / "run", progress=False, checkpoint_every=3)
    seen = _gathers(monkeypatch)
    got = load_fanogan(train_fanogan(x, cfg, tmp_path / "run", resume=True, progress=False, checkpoint_every=3,
                                     host_data=True))
    assert len(seen) == 7 + 4 - 3
    for name in ("G", "D", "E"):
        assert same_state(state_of(getattr(ref, name)), state_of(getattr(got, name))), name


@pytest.mark.parametrize("setting", ["auto", "0"])
def test_the_placement_follows_data_device_and_says_so(trained: tuple[Path, np.ndarray], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    """train_fanogan asks data_device (the pGAN loop's rule, WILDGAN_DATA_ON_GPU) for the bytes of its one level, and
    when the answer is not the training device (a GPU too small for the set) keeps the set in host memory: with a
    warning when it chose so itself, with a log line when WILDGAN_DATA_ON_GPU=0 asked for it. On the CPU data_device
    always answers the training device, so a stand-in answers 'elsewhere' here (and the free memory is a stand-in)."""
    import warnings

    from wildgan.errors import WildganWarning
    from wildgan.training import data_placement

    run, x = trained
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", setting)
    asked: list[tuple[int, str, str]] = []

    def too_small(need, device, free=None, setting=None):
        asked.append((need, device.type, setting))
        return torch.device("meta")                           # not the training device: host memory

    monkeypatch.setattr(fanogan_loop, "data_device", too_small)
    monkeypatch.setattr(data_placement, "gpu_free_bytes", lambda device: 3 * 2**30)
    seen = _gathers(monkeypatch)
    msgs: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = train_fanogan(x, tiny_cfg(**TRAIN_CFG), tmp_path, progress=False, log=msgs.append)
    assert asked == [(x.nbytes, "cpu", setting)]              # one level [N, H, W, C], not a pyramid
    assert len(seen) == 7 + 4
    said = [str(w.message) for w in caught if issubclass(w.category, WildganWarning)]
    if setting == "0":
        assert not said and any(m.startswith("WILDGAN_DATA_ON_GPU=0: the training images stay in host memory")
                                for m in msgs), msgs
    else:
        assert len(said) == 1 and "more than half of the 3.00 GiB free on cpu: they stay in host memory" in said[0]
        assert "WILDGAN_DATA_ON_GPU=1 puts them on the GPU" in said[0]
    ref = load_fanogan(run / "fanogan-final.json")
    got = load_fanogan(out)
    for name in ("G", "D", "E"):
        assert same_state(state_of(getattr(ref, name)), state_of(getattr(got, name))), name


@pytest.mark.parametrize("raw", ["", " ", "auto", "AUTO", "1", "0"])
def test_on_the_cpu_the_set_stays_on_the_training_device_whatever_the_setting(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            raw: str) -> None:
    # WILDGAN_DATA_ON_GPU is about a GPU: on the CPU the images are already in host memory, no gather, no message
    import warnings

    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", raw)
    seen = _gathers(monkeypatch)
    msgs: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_fanogan(images(8), tiny_cfg(gan_iters=2, enc_iters=1), tmp_path, progress=False, log=msgs.append)
    assert not seen and not any("host memory" in m for m in msgs)


@pytest.mark.parametrize("raw", ["yes", "2", "gpu", "true"])
def test_a_typo_in_the_data_on_gpu_setting_is_refused_before_the_run_folder(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           raw: str) -> None:
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", raw)
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=f"WILDGAN_DATA_ON_GPU='{raw}': use auto, 1"):
        train_fanogan(images(8), tiny_cfg(gan_iters=2, enc_iters=1), run, progress=False)
    assert not run.exists()


def test_images_it_cannot_take_are_refused_before_the_run_folder_without_a_split(tmp_path, tiny_npz):
    """train_run without a split (a study cell's call) still checks the image size before the folder is made."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    cfg = RunConfig(data=DataConfig(data=str(tiny_npz), normal=("0",)), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(device="cpu", seed=3), method="fanogan", fanogan=tiny_cfg())
    with pytest.raises(DataError, match=r"f-AnoGAN needs square \(32, 64\) images, got 8x8"):
        train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_a_chosen_checkpoint_interval_and_keep_count_reach_the_fanogan_loop(tmp_path) -> None:
    """--checkpoint-kimg and --keep-checkpoints were silently ignored by f-AnoGAN (every 1000 iterations, 2 kept):
    a chosen interval is now that many kimg of its batches, and the keep count is the pGAN loop's. Unchosen (the
    interval derived from the pGAN schedule's total), f-AnoGAN keeps its 1000 iterations."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, default_checkpoint_kimg, \
        net_config_for_preset
    from wildgan.training.run import FANOGAN_CHECKPOINT_ITERS, fanogan_checkpoint_every, train_run

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", x=rng.integers(0, 256, (48, 32, 32), dtype=np.uint8), y=np.repeat([0, 1], 24))
    fan = FAnoGANConfig(dim=8, gan_iters=6, enc_iters=4, batch_size=8, enc_batch_size=8, n_critic=1, device="cpu")

    def cfg(**train) -> RunConfig:
        return RunConfig(data=DataConfig(data=str(tmp_path / "toy.npz"), normal=("0",), resolution=32, channels=1),
                         net=net_config_for_preset("tiny", 32, 1), preset="tiny", method="fanogan", fanogan=fan,
                         train=TrainConfig(total_kimg=40, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                                           **train))

    assert fanogan_checkpoint_every(cfg(checkpoint_kimg=default_checkpoint_kimg(40))) == FANOGAN_CHECKPOINT_ITERS
    assert fanogan_checkpoint_every(cfg()) == FANOGAN_CHECKPOINT_ITERS
    every = cfg(checkpoint_kimg=0.016, keep_checkpoints=None)              # 16 images: 2 iterations of 8
    assert fanogan_checkpoint_every(every) == 2
    train_run(every, tmp_path / "run", progress=False, log=lambda m: None)
    steps = sorted(int(ckpt.read_meta(p)["state"]["gan_iter"]) + int(ckpt.read_meta(p)["state"]["enc_iter"])
                   for p in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints"))
    assert steps == [2, 4, 6, 8, 10], steps
    train_run(cfg(checkpoint_kimg=0.016, keep_checkpoints=1), tmp_path / "run1", progress=False, log=lambda m: None)
    assert len(ckpt.list_checkpoints(tmp_path / "run1" / "checkpoints")) == 2        # the newest and one older



def test_a_fanogan_config_whose_train_section_asks_another_seed_device_or_budget_is_refused(tmp_path) -> None:
    """`wildgan train` (--seed, --device, --minutes) and Detector set f-AnoGAN's seed, device and minutes to the train
    section's; a RunConfig built in Python with TrainConfig(seed=3, device="cpu", minutes=5) alone trained with
    FAnoGANConfig's own seed 0 on the "auto" device without a budget, and said nothing. Refused now, before the folder
    is written, naming both fields and the way out; a run recorded so before (its config.json) still reads, and
    resumes as it trained."""
    from dataclasses import replace

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset, read_run_config
    from wildgan.training.run import train_run

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", x=rng.integers(0, 256, (48, 32, 32), dtype=np.uint8), y=np.repeat([0, 1], 24))
    fan = FAnoGANConfig(dim=8, gan_iters=2, enc_iters=2, batch_size=8, enc_batch_size=8, n_critic=1)
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "toy.npz"), normal=("0",), resolution=32, channels=1),
                    net=net_config_for_preset("tiny", 32, 1), preset="tiny", method="fanogan", fanogan=fan,
                    train=TrainConfig(total_kimg=1, minibatch=PRESETS["tiny"]["minibatch"], seed=3, device="cpu",
                                      minutes=5))
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"\(train\.seed 3, fanogan\.seed 0; train\.device 'cpu', fanogan\.device "
                                          r"'auto'; train\.minutes 5, fanogan\.minutes None\): f-AnoGAN trains with "
                                          r"the fanogan section's.*replace\(cfg, fanogan=replace\(cfg\.fanogan, "
                                          r"seed=3, device='cpu', minutes=5\)\)"):
        train_run(cfg, run, progress=False, log=lambda m: None)
    assert not run.exists()
    # one value differing is refused alike (the CLI's and Detector's configs never differ)
    with pytest.raises(ConfigError, match=r"\(train\.seed 0, fanogan\.seed 4\)"):
        train_run(replace(cfg, train=replace(cfg.train, seed=0, device="auto", minutes=None),
                          fanogan=replace(fan, seed=4)), run, progress=False, log=lambda m: None)
    # the way the message gives trains with the train section's seed
    said: list[str] = []
    train_run(replace(cfg, fanogan=replace(fan, seed=3, device="cpu", minutes=5)), run, progress=False,
              log=said.append)
    assert ckpt.read_meta(run / "fanogan-final.json")["config"]["seed"] == 3
    assert any(m.startswith("training fanogan") and "seed 3 ->" in m for m in said), said
    # a run recorded by a wildgan before the check with another train.seed than it trained with: it reads, and a
    # resume of it as recorded goes on (with its fanogan seed, what it trained with); another difference is refused
    d = json.loads((run / "config.json").read_text())
    d["train"]["seed"] = 5
    (run / "config.json").write_text(json.dumps(d))
    old = read_run_config(run)
    assert (old.train.seed, old.fanogan.seed) == (5, 3)
    train_run(old, run, resume=True, progress=False, log=lambda m: None)
    with pytest.raises(ConfigError, match=r"\(train\.seed 6, fanogan\.seed 3\)"):
        train_run(replace(old, train=replace(old.train, seed=6)), run, resume=True, progress=False,
                  log=lambda m: None)


def test_weights_gone_non_finite_between_loss_rows_are_never_checkpointed(tmp_path: Path, monkeypatch) -> None:
    # the loss rows (every log_every steps) were the only check: a checkpoint between two rows saved NaN weights,
    # which a resume restarted from and the scoring refused as a damaged file
    real, calls = fanogan_loop.critic_loss, {"n": 0}

    def poisoning(D, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            with torch.no_grad():
                next(D.parameters()).fill_(float("nan"))
        return real(D, *args, **kw)

    monkeypatch.setattr(fanogan_loop, "critic_loss", poisoning)
    with pytest.raises(DivergenceError, match="non-finite weights in D"):
        train_fanogan(images(8), tiny_cfg(gan_iters=6, enc_iters=0), tmp_path, progress=False, log_every=1000,
                      checkpoint_every=3)
    for p in ckpt.list_checkpoints(tmp_path / "checkpoints"):
        tensors, _ = ckpt.load_checkpoint(p)
        assert all(bool(torch.isfinite(t).all()) for k, t in tensors.items() if t.is_floating_point()), p


def test_score_thresholds_an_fanogan_run_by_its_own_A_by_default(tmp_path, capsys) -> None:
    """`score --threshold` flagged f-AnoGAN runs by a while `report` ranked them by A, f-AnoGAN's own score; and the
    Python API's same threshold (thresholds.run_threshold, flag_scores) still took a by default after the CLI took A,
    the rule living in the CLI: now the run's own score there too."""
    from PIL import Image

    from wildgan.cli import main
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", x=rng.integers(0, 256, (48, 32, 32), dtype=np.uint8), y=np.repeat([0, 1], 24))
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "toy.npz"), normal=("0",), resolution=32, channels=1),
                    net=net_config_for_preset("tiny", 32, 1), preset="tiny", method="fanogan",
                    fanogan=FAnoGANConfig(dim=8, gan_iters=2, enc_iters=2, batch_size=8, enc_batch_size=8,
                                          n_critic=1, device="cpu"),
                    train=TrainConfig(total_kimg=1, minibatch=PRESETS["tiny"]["minibatch"], device="cpu"))
    train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    (tmp_path / "pile").mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(tmp_path / "pile" / f"{i}.png")
    capsys.readouterr()
    for extra, want in (([], "threshold for score A:"), (["--score", "a"], "threshold for score a:")):
        assert main(["score", str(tmp_path / "run"), "--data", str(tmp_path / "pile"), "--threshold", "mad",
                     "--no-progress", "--out", str(tmp_path / "s.csv"), *extra]) == 0
        err = capsys.readouterr().err
        assert want in err and "only matters with --threshold" not in err, err
    from wildgan.scoring.run import load_model
    from wildgan.thresholds import flag_scores, run_threshold

    model = load_model(tmp_path / "run", "cpu")
    scores = model.score(rng.integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)).scores
    assert run_threshold(model, tmp_path / "run", "mad").params["score"] == "A"
    assert flag_scores(model, tmp_path / "run", "mad", scores)[0].params["score"] == "A"
    assert run_threshold(model, tmp_path / "run", "mad", score="a").params["score"] == "a"


# ------------------------------------------------------------------------------------------------------ divergence
# --on-divergence for f-AnoGAN, as the pGAN loop's (test_divergence.py): NaN batches provoke the divergence, at the
# batch draws (1-based, one per step of either stage) that the test names; 8 critic + 4 encoder steps, checkpoints
# every 3 steps (3, 6, 8: the end of stage 1, 9 and 12)
DIV_CFG = dict(gan_iters=8, enc_iters=4, seed=1, enc_lr=4e-5)      # lr 1e-4, another enc_lr


def _nan_batches(monkeypatch: pytest.MonkeyPatch, bad) -> None:
    real, calls = fanogan_loop._batch, {"n": 0}

    def poisoned(*a, **kw):
        calls["n"] += 1
        x = real(*a, **kw)
        return x * float("nan") if bad(calls["n"]) else x

    monkeypatch.setattr(fanogan_loop, "_batch", poisoned)


def _train_div(run: Path, log: list[str], **kw) -> Path:
    return train_fanogan(blobs(12, seed=0), tiny_cfg(**DIV_CFG), run, progress=False, log=log.append,
                         checkpoint_every=3, **{"log_every": 2, "on_divergence": "rollback", **kw})


def _finite_end(out: Path) -> dict:
    """The final networks are finite (load_fanogan refuses others); their meta."""
    tensors, meta = ckpt.load_checkpoint(out)
    assert not ckpt.nonfinite_tensors(list(tensors.values()))
    assert isinstance(load_fanogan(out), FAnoGANNetworks)
    return meta


def _consistent_rows(run: Path) -> list[dict]:
    """stats.jsonl after a rollback: finite, each stage's steps once and in order (the retried stretch is not written
    twice), every row averaging the steps since the one before."""
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float)), rows
    for stage, planned in (("gan", DIV_CFG["gan_iters"]), ("encoder", DIV_CFG["enc_iters"])):
        its = [r["iter"] for r in rows if r["stage"] == stage]
        assert its == list(range(2, planned + 1, 2)), (stage, its)
    assert [r["stage"] for r in rows] == ["gan"] * 4 + ["encoder"] * 2
    return rows


def test_a_nan_loss_in_the_wgan_stage_rolls_back_with_half_its_lr(tmp_path: Path, monkeypatch) -> None:
    _nan_batches(monkeypatch, lambda n: n == 5)          # critic step 5: the row of step 6 is NaN
    logs: list[str] = []
    out = _train_div(tmp_path, logs)
    assert [m for m in logs if "rolled back" in m] == [
        "warning: non-finite d_loss, wdist, gp, g_loss at critic step 6; rolled back to critic step 3 with lr 5e-05"],\
        logs
    meta = _finite_end(out)
    assert (meta["gan_iters_done"], meta["enc_iters_done"], meta["stopped_early"]) == (8, 4, False)
    # the halved lr is the stage's own (the encoder's is the config's), kept for a resume
    assert (meta["state"]["gan_lr"], meta["state"]["enc_lr"], meta["state"]["rollbacks"]) == (5e-05, 4e-05, 1)
    _consistent_rows(tmp_path)


def test_a_nan_loss_in_the_encoder_stage_rolls_back_with_half_the_encoder_lr(tmp_path: Path, monkeypatch) -> None:
    _nan_batches(monkeypatch, lambda n: n == 10)         # encoder step 2, after the checkpoint of step 9
    logs: list[str] = []
    out = _train_div(tmp_path, logs)
    assert [m for m in logs if "rolled back" in m] == [
        "warning: non-finite loss, loss_img, loss_fts, z_norm at encoder step 2; rolled back to encoder step 1 with "
        "lr 2e-05"], logs
    meta = _finite_end(out)
    assert (meta["gan_iters_done"], meta["enc_iters_done"]) == (8, 4)
    assert (meta["state"]["gan_lr"], meta["state"]["enc_lr"]) == (1e-4, 2e-05)
    _consistent_rows(tmp_path)


class _NanGrad(torch.autograd.Function):
    """The identity with NaN gradients: weights go NaN while the loss (and its stats row) stays finite."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def test_weights_gone_nan_in_the_last_critic_step_roll_back_and_train_on(tmp_path: Path, monkeypatch) -> None:
    # only the weights' check can see it, and it used to come after the stage (at its boundary checkpoint), where it
    # could only stop the run: the stage's last step is checked and saved in the loop, as any checkpoint step
    real, calls = fanogan_loop.critic_loss, {"n": 0}

    def last_step_nan(*a, **kw):
        loss, terms = real(*a, **kw)
        calls["n"] += 1
        return (_NanGrad.apply(loss) if calls["n"] == 8 else loss), terms

    monkeypatch.setattr(fanogan_loop, "critic_loss", last_step_nan)
    logs: list[str] = []
    out = _train_div(tmp_path, logs)
    assert [m for m in logs if "rolled back" in m] == [
        "warning: non-finite weights in D at critic step 8; rolled back to critic step 6 with lr 5e-05"], logs
    assert _finite_end(out)["gan_iters_done"] == 8
    _consistent_rows(tmp_path)


def test_on_divergence_stop_still_stops(tmp_path: Path, monkeypatch) -> None:
    _nan_batches(monkeypatch, lambda n: n == 5)
    with pytest.raises(DivergenceError, match=r"non-finite d_loss, wdist, gp, g_loss at critic step 6\. The last "
                                              r"good checkpoint in .* was kept; continue with resume=True and "
                                              r"train\.on_divergence='rollback'.*a lower fanogan\.lr"):
        _train_div(tmp_path, [], on_divergence="stop")
    assert not (tmp_path / "fanogan-final.json").exists()
    assert [ckpt.read_meta(p)["state"]["gan_iter"] for p in ckpt.list_checkpoints(tmp_path / "checkpoints")] == [3]


def test_each_rollback_halves_the_lr_that_diverged_until_they_run_out(tmp_path: Path, monkeypatch) -> None:
    # NaN from the encoder's step 2 on, for good: every rollback lands on the same checkpoint, each with half the lr
    # before it, until the pGAN loop's limit
    _nan_batches(monkeypatch, lambda n: n >= 10)
    logs: list[str] = []
    with pytest.raises(DivergenceError, match=r"after 3 rollbacks.*now 5e-06.*lower fanogan\.enc_lr"):
        _train_div(tmp_path, logs)
    assert [m.split("with lr ")[1] for m in logs if "rolled back" in m] == ["2e-05", "1e-05", "5e-06"]


def test_a_resume_goes_on_with_the_lr_a_rollback_halved(tmp_path: Path, monkeypatch) -> None:
    _nan_batches(monkeypatch, lambda n: n == 5)
    _train_div(tmp_path, [], on_divergence="rollback")
    given: list[tuple[str, float | None]] = []
    real = ckpt.tensors_to_optimizer

    def spy(prefix, opt, tensors, lr=None):
        given.append((prefix, lr))
        real(prefix, opt, tensors, lr)

    monkeypatch.setattr(ckpt, "tensors_to_optimizer", spy)
    train_fanogan(blobs(12, seed=0), tiny_cfg(**{**DIV_CFG, "enc_iters": 6}), tmp_path, resume=True, progress=False,
                  checkpoint_every=3)
    assert given == [("opt_G", 5e-05), ("opt_D", 5e-05), ("opt_E", 4e-05)]


def test_the_cli_gives_on_divergence_to_fanogan(tmp_path: Path, monkeypatch, capsys) -> None:
    # --on-divergence used to be said not to apply to --method fanogan (its loop could only stop)
    from wildgan.cli import main

    seen: dict = {}

    def stop(*a, **kw):
        seen.update(kw)
        raise ConfigError("stopped here")

    monkeypatch.setattr(fanogan_loop, "train_fanogan", stop)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", x=rng.integers(0, 256, (48, 32, 32), dtype=np.uint8), y=np.repeat([0, 1], 24))
    assert main(["train", "--data", str(tmp_path / "toy.npz"), "--normal", "0", "--method", "fanogan",
                 "--on-divergence", "rollback", "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "stopped here" in err and "do not apply" not in err and "does not apply" not in err, err
    assert seen["on_divergence"] == "rollback"


def test_each_stage_bar_says_which_of_the_two_it_is(tmp_path: Path, monkeypatch) -> None:
    # a stage's bar and ETA cover that stage only: the first must not read as the whole training
    names: list[str] = []
    real = fanogan_loop.progress_bar

    def recording(*a, **kw):
        names.append(kw["desc"])
        return real(*a, **{**kw, "disable": True})

    monkeypatch.setattr(fanogan_loop, "progress_bar", recording)
    train_fanogan(images(8), tiny_cfg(gan_iters=2, enc_iters=2), tmp_path / "run", progress=True)
    assert names == ["f-AnoGAN 1/2 WGAN-GP", "f-AnoGAN 2/2 izi_f encoder"]


def test_the_first_stage_bar_says_the_time_left_for_both_stages(tmp_path: Path, monkeypatch, capsys) -> None:
    """Stage 1's bar covers stage 1 alone; its "ETA total" adds the encoder stage, each encoder step priced at
    ENC_STEP_COST of a critic step per image (its bar, shown after, counts it down)."""
    from wildgan.training.fanogan_loop import ENC_STEP_COST, _total_eta

    cfg = tiny_cfg(batch_size=64, enc_batch_size=32)
    # 10 critic steps in 5 s: 0.5 s a step; 100 left (50 s) and 200 encoder steps of half the batch (35 s)
    assert ENC_STEP_COST == 0.7 and _total_eta(cfg, 10, 5.0, 100, 200) == "ETA total ~01:25"
    assert _total_eta(cfg, 10, 5.0, 100, 200, budget_left=30.0) == "ETA total ~00:30"      # a budget ends it first
    assert _total_eta(cfg, 0, 0.0, 100, 200) == ""                                         # nothing timed yet
    # on a bar: every redraw (TQDM_MININTERVAL=0, as a terminal's) after the first step says it
    monkeypatch.setenv("TQDM_MININTERVAL", "0")
    train_fanogan(images(8), tiny_cfg(gan_iters=6, enc_iters=3), tmp_path / "run", progress=True)
    err = capsys.readouterr().err
    stage1 = [x for x in re.split(r"[\r\n]", err) if x.lstrip().startswith("f-AnoGAN 1/2")]
    assert any("ETA total ~" in x for x in stage1), stage1
    assert not any("ETA total" in x for x in re.split(r"[\r\n]", err) if x.lstrip().startswith("f-AnoGAN 2/2"))


def test_the_total_eta_prices_the_encoder_steps_at_their_measured_cost() -> None:
    from wildgan.training.fanogan_loop import _total_eta

    cfg = tiny_cfg(batch_size=64, enc_batch_size=32)
    # 0.5 s a critic step of 64 images; 200 encoder steps of 32 at 0.5 of a critic step per image: 25 s, not 35
    assert _total_eta(cfg, 10, 5.0, 100, 200, enc_cost=0.5) == "ETA total ~01:15"
    assert _total_eta(cfg, 10, 5.0, 100, 200, enc_cost=1.2) == "ETA total ~01:50"


def test_timing_encoder_steps_leaves_the_run_as_it_was() -> None:
    """The encoder steps timed for the ETA run on copies: the networks (E's BatchNorm statistics among them), their
    gradients and torch's random state are those before."""
    from wildgan.training.fanogan_loop import _encoder_step_seconds

    cfg = tiny_cfg()
    nets = build_fanogan(cfg, 32, 3)
    nets.G.train(), nets.D.train(), nets.E.train()
    before = [state_of(m) for m in (nets.G, nets.D, nets.E)]
    rng = torch.get_rng_state()
    took = _encoder_step_seconds(nets, cfg, (cfg.enc_batch_size, 3, 32, 32), torch.device("cpu"), steps=2)
    assert 0 < took < 60
    assert all(same_state(a, state_of(m)) for a, m in zip(before, (nets.G, nets.D, nets.E)))
    assert all(p.grad is None for m in (nets.G, nets.D, nets.E) for p in m.parameters())
    assert all(m.training for m in (nets.G, nets.D, nets.E)) and torch.equal(torch.get_rng_state(), rng)


def test_stage_one_measures_the_encoder_steps_cost_and_trains_the_same(tmp_path: Path, monkeypatch) -> None:
    """Once the critic steps are timed, the run times encoder steps (on copies) and prices stage 2 by them in the
    total ETA; the networks trained are those of a run that did not (no bar, no budget)."""
    monkeypatch.setattr(fanogan_loop, "ENC_PROBE_AFTER_S", 0.0)
    timed: list[tuple[int, ...]] = []
    real_timer = fanogan_loop._encoder_step_seconds

    def timer(nets, cfg, shape, device, steps=fanogan_loop.ENC_PROBE_STEPS):
        timed.append(shape)
        real_timer(nets, cfg, shape, device, steps)
        return 1000.0                                   # 1000 s a step: far dearer than 0.7 of a critic step
    monkeypatch.setattr(fanogan_loop, "_encoder_step_seconds", timer)
    priced: list[float] = []
    real_eta = fanogan_loop._total_eta

    def eta(*a, **kw):
        priced.append(a[6] if len(a) > 6 else kw.get("enc_cost", fanogan_loop.ENC_STEP_COST))
        return real_eta(*a, **kw)
    monkeypatch.setattr(fanogan_loop, "_total_eta", eta)
    # a clock that moves 0.3 s a read, for this module alone: every step works the ETA out
    clock = types.SimpleNamespace(monotonic=_clock(step=0.3), perf_counter=time.perf_counter, time=time.time)
    monkeypatch.setattr(fanogan_loop, "time", clock)

    cfg = tiny_cfg(gan_iters=16, enc_iters=2, enc_batch_size=2)
    train_fanogan(images(8), cfg, tmp_path / "bar", progress=True)
    assert timed == [(2, 3, 32, 32)]                    # once, at stage 2's batch and the images' shape
    assert priced and priced[-1] > 100 and fanogan_loop.ENC_STEP_COST in priced[:1]
    # the ratio priced with is in stats.jsonl, once (the row after the timing), for an audit of the ETA afterwards
    rows = [json.loads(x) for x in (tmp_path / "bar" / "stats.jsonl").read_text().splitlines()]
    said = [r for r in rows if "enc_step_cost" in r]
    assert len(said) == 1 and said[0]["stage"] == "gan" and said[0]["enc_step_cost"] == pytest.approx(priced[-1], 1e-3)
    assert said[0]["enc_ms_per_img"] == pytest.approx(1000 * 1000.0 / 2)
    train_fanogan(images(8), cfg, tmp_path / "plain", progress=False)
    assert timed == [(2, 3, 32, 32)]                    # nothing to price: not timed
    a = load_fanogan(tmp_path / "bar" / "fanogan-final.json")
    b = load_fanogan(tmp_path / "plain" / "fanogan-final.json")
    assert all(same_state(state_of(getattr(a, k)), state_of(getattr(b, k))) for k in "GDE")


def _clock(step: float):
    """A monotonic clock that moves `step` seconds a read."""
    t = [0.0]

    def now() -> float:
        t[0] += step
        return t[0]
    return now


def test_a_resume_whose_minutes_are_spent_gives_no_thread_count_warning(tmp_path: Path) -> None:
    # a resume with its --minutes already used trains nothing, yet warned that its weights now train on another
    # thread count; the same resume with minutes left still warns
    x = images(8)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        train_fanogan(x, tiny_cfg(gan_iters=2, enc_iters=0), tmp_path, progress=False, checkpoint_every=1000)
        (tmp_path / "fanogan-final.json").unlink()
        (tmp_path / "fanogan-final.safetensors").unlink()
        kept = {p: p.read_bytes() for p in (tmp_path / "checkpoints").iterdir()}
        torch.set_num_threads(2)
        said: list[str] = []
        # (1e-9 minutes: less than the 2 critic steps took)
        train_fanogan(x, tiny_cfg(gan_iters=2, enc_iters=2, minutes=1e-9), tmp_path, resume=True, progress=False,
                      log=said.append, checkpoint_every=1000)
        meta = ckpt.read_meta(tmp_path / "fanogan-final.json")
        assert meta["enc_iters_done"] == 0 and meta["stopped_early"], meta
        assert not any("intra-op thread" in m for m in said), said
        for p in [*(tmp_path / "checkpoints").iterdir(), *tmp_path.glob("fanogan-final.*")]:
            p.unlink()
        for p, data in kept.items():
            p.write_bytes(data)
        said.clear()
        train_fanogan(x, tiny_cfg(gan_iters=2, enc_iters=2), tmp_path, resume=True, progress=False,
                      log=said.append, checkpoint_every=1000)
        assert any("was trained on 1 intra-op thread, and this process runs 2" in m for m in said), said
    finally:
        torch.set_num_threads(before)


def test_a_cpu_run_at_the_official_width_is_told_of_a_smaller_dim_once(tmp_path: Path, monkeypatch) -> None:
    # DIM 64 runs seconds per critic iteration on a CPU (200 + 200 iterations about 20 minutes on 2 cores) and
    # nothing said that --fanogan-dim 16, which docs/results.md's CPU runs use, is the short try: a note at the start
    # of stage 1, once, on the CPU only, not for a DIM chosen smaller
    note = fanogan_loop.cpu_width_note(64, torch.device("cpu"))
    assert note is not None and ("--fanogan-dim 16" in note or "width=16" in note), note
    assert fanogan_loop.cpu_width_note(64, torch.device("cuda")) is None
    assert fanogan_loop.cpu_width_note(16, torch.device("cpu")) is None
    # in a run (its width lowered to the tiny networks' 8, that the test takes seconds)
    monkeypatch.setattr(fanogan_loop, "NOTE_FROM_DIM", 8)
    said: list[str] = []
    train_fanogan(images(12), tiny_cfg(gan_iters=2, enc_iters=1), tmp_path, progress=False, log=said.append)
    notes = [m for m in said if m.startswith("note: f-AnoGAN's DIM 8 on the CPU takes seconds")]
    assert len(notes) == 1, said
    assert said.index(notes[0]) == 1 + next(i for i, m in enumerate(said) if m.startswith("f-AnoGAN stage 1"))
