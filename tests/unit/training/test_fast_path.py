"""The fast training path (issue 5) computes the same iteration as the plain path.

CPU-checkable parts: the functional forwards with a tensor fade weight, the device sampler, the in-place Adam reset and
snapshot/restore used around CUDA-graph capture, the rank split of minibatch-stddev groups, bf16 autocast (CPU
autocast) and torch.compile (opt-in: WILDGAN_TEST_COMPILE=1, several minutes of compilation on 2 CPU cores)."""

from __future__ import annotations

import copy
import math
import os
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import pytest
import torch

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import ConfigError, WildganError
from wildgan.losses import critic_loss
from wildgan.nets import build_pgan
from wildgan.nets.layers import FlatWeights, minibatch_stddev
from wildgan.training.distributed import local_rows
from wildgan.training.loop import (BatchSampler, DeviceBatchSampler, FastOptions, StepRunner, build_pyramid,
                                   compile_limits, d_forward, e_forward, g_forward, g_layers, make_optimizers,
                                   resolve_fast_options, train_pgan, trunk_layers)
from wildgan.training.schedule import Phase, schedule

MB = PRESETS["tiny"]["minibatch"]


def _params(nets):
    return {f"{k}.{n}": p.detach().clone() for k, m in nets.modules().items() for n, p in m.named_parameters()}


def test_functional_forwards_are_bit_identical_to_the_modules():
    nc = net_config_for_preset("tiny", 16, 3)
    nets = build_pgan(nc, 0)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, nc.latent_size, generator=g)
    for lod in (2.0, 1.75, 1.0, 0.5, 0.0):
        r = nc.resolution_log2 - int(np.floor(lod))
        frac = lod - np.floor(lod)
        t = torch.tensor(frac, dtype=torch.float32)
        assert torch.equal(nets.G(z, lod), g_forward(nets.G, z, r, frac > 0, t))
        x = torch.randn(8, 3, 2 ** r, 2 ** r, generator=g)
        assert torch.equal(nets.D(x, lod), d_forward(nets.D, x, r, frac > 0, t))
        assert torch.equal(nets.E(x, lod), e_forward(nets.E, x, r, frac > 0, t))


def test_device_sampler_has_the_same_order():
    a, b = BatchSampler(10, 3), DeviceBatchSampler(10, 3)
    for n in (4, 7, 9, 10, 3):
        assert np.array_equal(a.next(n), b.next_device(n).numpy())
    assert (a.epoch, a.pos) == (b.epoch, b.pos)


def _runner(nc, tc, x, fast: FastOptions, force_fast: bool, graphs_sim: bool = False, pair_critic: bool = True):
    nets = build_pgan(nc, tc.seed)
    opts = make_optimizers(nets, tc, fast, torch.device("cpu"))
    rng = torch.Generator().manual_seed(tc.seed)
    run = StepRunner(nets, opts, tc, nc, torch.device("cpu"), build_pyramid(x, torch.device("cpu")), rng, fast=fast,
                     force_fast=force_fast, log=lambda m: None)
    run.pair_critic = pair_critic
    if graphs_sim:        # CPU stand-in for the graph path: in-place Adam resets, body run eagerly
        run._graphs_on = True
        run._graph_iteration = lambda phase, args: run._body(phase, *args)
    return nets, run


def _train(run, nc, tc, iters):
    nimg, bounds, terms_log = 0, None, []
    for i in range(iters):
        if i % tc.minibatch_repeats == 0:
            phase = schedule(nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
            if phase.lod_bounds != bounds:
                run.reset_optimizers()
                bounds = phase.lod_bounds
        terms_log.append({k: float(v) for k, v in run.iteration(phase).items()})
        nimg += phase.batch
    return terms_log


def _setup(encoder_loss="image", g_image_loss=0.0):
    nc = net_config_for_preset("tiny", 8, 1)
    # 4x4 stable for 2 rounds, then the fade to 8x8 (lod changes every round, Adam reset at its start)
    tc = TrainConfig(total_kimg=1, phase_kimg=0.128, minibatch=MB, seed=5, encoder_loss=encoder_loss,
                     g_image_loss=g_image_loss)
    x = (np.random.default_rng(0).random((40, 8, 8, 1)) * 255).astype(np.uint8)
    return nc, tc, x


@pytest.mark.parametrize("encoder_loss, g_image_loss", [("image", 0.0), ("latent", 0.0), ("image", 0.5)])
def test_fast_path_with_options_off_equals_the_plain_path(encoder_loss, g_image_loss):
    nc, tc, x = _setup(encoder_loss, g_image_loss)
    ref, r0 = _runner(nc, tc, x, FastOptions(), force_fast=False)
    # D(real) and D(fake) as two forwards, as the plain path (the merged pass is float noise away: next test)
    fast, r1 = _runner(nc, tc, x, FastOptions(), force_fast=True, pair_critic=False)
    sim, r2 = _runner(nc, tc, x, FastOptions(), force_fast=True, graphs_sim=True, pair_critic=False)
    assert not r0.fast_mode and r1.fast_mode
    la, lb, lc = _train(r0, nc, tc, 24), _train(r1, nc, tc, 24), _train(r2, nc, tc, 24)
    pa, pb, pc = _params(ref), _params(fast), _params(sim)
    for k in pa:
        assert (pa[k] - pb[k]).abs().max() <= 1e-6, k
        assert (pa[k] - pc[k]).abs().max() <= 1e-6, k
    for a, b, c in zip(la, lb, lc):
        assert b == pytest.approx(a, abs=1e-6) and c == pytest.approx(a, abs=1e-6)
    assert r0.sampler.pos == r1.sampler.pos == r2.sampler.pos


@pytest.mark.parametrize("fade", [False, True])
def test_merged_real_fake_critic_pass_equals_two_passes(fade):
    """D(cat(real, fake)) with per-half minibatch-stddev groups = D(real), D(fake); the D step's gradients too."""
    nc = net_config_for_preset("tiny", 8, 1)
    nets = build_pgan(nc, 0)
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(8, 1, 8, 8, generator=g), torch.randn(8, 1, 8, 8, generator=g)
    t = torch.tensor(0.3 if fade else 0.0)
    both = d_forward(nets.D, torch.cat([real, fake]), 3, fade, t, 8)
    assert torch.allclose(both[:8], d_forward(nets.D, real, 3, fade, t), atol=1e-6)
    assert torch.allclose(both[8:], d_forward(nets.D, fake, 3, fade, t), atol=1e-6)
    # without sub_batch the halves would share stddev groups: a different function, which this must not be
    assert not torch.allclose(d_forward(nets.D, torch.cat([real, fake]), 3, fade, t)[:8], both[:8], atol=1e-4)

    def grads(pair: bool) -> dict[str, torch.Tensor]:
        nets.D.zero_grad(set_to_none=True)
        crit = lambda x: d_forward(nets.D, x, 3, fade, t)  # noqa: E731
        pair_fn = (lambda a, b: (lambda o: (o[:8], o[8:]))(d_forward(nets.D, torch.cat([a, b]), 3, fade, t, 8)))
        loss, _ = critic_loss(crit, real, fake, u=torch.full((8, 1, 1, 1), 0.5), critic_pair=pair_fn if pair else None)
        loss.backward()
        return {n: p.grad.clone() for n, p in nets.D.named_parameters() if p.grad is not None}

    sep, merged = grads(False), grads(True)
    assert sep.keys() == merged.keys() and sep
    for k in sep:
        assert torch.allclose(sep[k], merged[k], rtol=1e-5, atol=1e-6), k


def test_fast_path_merged_critic_follows_the_separate_passes():
    nc, tc, x = _setup()
    a, r0 = _runner(nc, tc, x, FastOptions(), force_fast=True, pair_critic=False)
    b, r1 = _runner(nc, tc, x, FastOptions(), force_fast=True)
    c, r2 = _runner(nc, tc, x, FastOptions(), force_fast=True, graphs_sim=True)      # + in-place Adam resets
    la, lb, lc = _train(r0, nc, tc, 12), _train(r1, nc, tc, 12), _train(r2, nc, tc, 12)
    assert lb[0] == pytest.approx(la[0], rel=1e-5, abs=1e-6) and lc == lb
    pa, pb, pc = _params(a), _params(b), _params(c)
    for k in pa:      # float noise of the other batch size's kernels and sums, through 12 Adam steps
        assert (pa[k] - pb[k]).abs().max() <= 1e-4, k
        assert torch.equal(pb[k], pc[k]), k


@pytest.mark.parametrize("fast", [False, True])
def test_a_pyramid_in_host_memory_trains_exactly_as_one_on_the_device(fast):
    """Images that do not fit on the GPU stay in host memory (StepRunner.host_data): each minibatch is gathered there
    and copied over. The same images reach the networks, so the same training, bit for bit (plain and fast path,
    the CUDA-graph stand-in included: the graph then takes the images as its input)."""
    nc, tc, x = _setup()
    ref, r0 = _runner(nc, tc, x, FastOptions(), force_fast=fast, graphs_sim=fast)
    host, r1 = _runner(nc, tc, x, FastOptions(), force_fast=fast, graphs_sim=fast)
    r1.host_data = True
    r1.reset_sampler(0, 0)                    # as a runner built on a host pyramid: the plain sampler
    assert type(r1.sampler) is BatchSampler
    seen = []
    real = r1._host_batch
    r1._host_batch = lambda res, idx: seen.append(res) or real(res, idx)
    la, lb = _train(r0, nc, tc, 16), _train(r1, nc, tc, 16)
    assert la == lb and len(seen) == 16
    pa, pb = _params(ref), _params(host)
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k
    assert (r0.sampler.epoch, r0.sampler.pos) == (r1.sampler.epoch, r1.sampler.pos)


class _TwoRanks:
    """A stand-in for training.distributed's context: rank `rank` of 2, gradients not averaged (each rank's own
    share is compared between the two data placements, not across ranks)."""

    def __init__(self, rank: int) -> None:
        self.world, self.rank = 2, rank

    def average_gradients(self, params) -> None:
        pass


@pytest.mark.parametrize("rank", [0, 1])
def test_a_rank_gathers_its_own_rows_on_the_host_as_on_the_device(rank):
    nc, tc, x = _setup()
    outs = []
    for host in (False, True):
        nets = build_pgan(nc, tc.seed)
        opts = make_optimizers(nets, tc, FastOptions(), torch.device("cpu"))
        r = StepRunner(nets, opts, tc, nc, torch.device("cpu"), build_pyramid(x, torch.device("cpu")),
                       torch.Generator().manual_seed(tc.seed), dist=_TwoRanks(rank), log=lambda m: None,
                       host_data=host)
        got = []
        real_body = r._body
        r._body = lambda phase, *a, r=r, got=got, real_body=real_body: (
            got.append(r._reals_u8(phase.resolution, a[0]).clone()) or real_body(phase, *a))
        losses = _train(r, nc, tc, 12)
        outs.append((losses, _params(nets), got, (r.sampler.epoch, r.sampler.pos)))
    (la, pa, ga, sa), (lb, pb, gb, sb) = outs
    assert la == lb and sa == sb and len(ga) == 12
    assert all(torch.equal(a, b) and a.shape[0] * 2 in (8, 16) for a, b in zip(ga, gb))   # half of each minibatch
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k


def test_the_pyramid_goes_to_the_gpu_only_when_it_fits_beside_the_networks(monkeypatch):
    from wildgan.training.loop import data_device, pyramid_bytes

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert pyramid_bytes(10, 32, 3) == 10 * 3 * (32 * 32 + 16 * 16 + 8 * 8 + 4 * 4)
    monkeypatch.delenv("WILDGAN_DATA_ON_GPU", raising=False)
    assert data_device(10**9, cpu) == cpu
    assert data_device(4 * 2**30, cuda, free=10 * 2**30) == cuda           # at most half the free memory
    assert data_device(6 * 2**30, cuda, free=10 * 2**30) == cpu
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", "1")
    assert data_device(6 * 2**30, cuda, free=10 * 2**30) == cuda
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", "0")
    assert data_device(1, cuda, free=10 * 2**30) == cpu
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", " ")                           # empty: the default
    assert data_device(6 * 2**30, cuda, free=10 * 2**30) == cpu
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", "yes")
    with pytest.raises(ConfigError, match="WILDGAN_DATA_ON_GPU='yes'"):
        data_device(1, cuda, free=10)


def test_the_pyramid_is_built_in_chunks_with_the_same_levels(monkeypatch):
    import torch.nn.functional as F

    import wildgan.training.loop as L

    monkeypatch.setattr(L, "PYRAMID_CHUNK_BYTES", 7 * 3 * 16 * 16 * 4)    # chunks of 7 images: they do not divide 30
    x = (np.random.default_rng(3).random((30, 16, 16, 3)) * 255).astype(np.uint8)
    pyr = L.build_pyramid(x, torch.device("cpu"))
    full = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    assert sorted(pyr) == [4, 8, 16] and torch.equal(pyr[16], full)
    for res in (8, 4):
        assert torch.equal(pyr[res], F.avg_pool2d(full.float(), 16 // res).round().clamp(0, 255).to(torch.uint8))


def test_a_host_pyramid_holds_no_copy_of_the_training_images():
    """In host memory the full-resolution level is the caller's array seen as NCHW: a pile of photos is not held
    twice. Its minibatches are the same (and contiguous) as those of a copied level."""
    x = (np.random.default_rng(4).random((20, 8, 8, 3)) * 255).astype(np.uint8)
    pyr = build_pyramid(x, torch.device("cpu"))
    assert pyr[8].data_ptr() == x.ctypes.data
    idx = torch.tensor([5, 0, 19, 5])
    got = pyr[8].index_select(0, idx)
    assert got.is_contiguous() and torch.equal(got, torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()[idx])


def test_channels_last_is_the_same_maths():
    nc, tc, x = _setup()
    ref, r0 = _runner(nc, tc, x, FastOptions(), force_fast=False)
    cl, r1 = _runner(nc, tc, x, FastOptions(channels_last=True), force_fast=False)
    _train(r0, nc, tc, 12), _train(r1, nc, tc, 12)
    pa, pb = _params(ref), _params(cl)
    for k in pa:      # different conv kernels for the other layout: float noise only
        assert (pa[k] - pb[k]).abs().max() <= 1e-4, k


def test_bf16_autocast_follows_the_fp32_path():
    nc, tc, x = _setup()
    ref, r0 = _runner(nc, tc, x, FastOptions(), force_fast=False)
    amp, r1 = _runner(nc, tc, x, FastOptions(amp=torch.bfloat16), force_fast=False)
    p0 = _params(ref)
    la, lb = _train(r0, nc, tc, 12), _train(r1, nc, tc, 12)
    # the first iteration's losses: bf16 forwards, fp32 GP and losses
    for k in la[0]:
        assert lb[0][k] == pytest.approx(la[0][k], rel=3e-2, abs=3e-2), k
    pa, pb = _params(ref), _params(amp)
    init = _params(build_pgan(nc, tc.seed))
    for k in pa:
        upd = (pa[k] - init[k]).norm()
        if upd == 0:          # never-used layers (e.g. to_rgb of other levels) stay untouched on both paths
            assert torch.equal(pb[k], init[k]), k
            continue
        # Adam with beta1 = 0 normalises the update, so bf16 noise changes it by a bounded fraction
        assert (pa[k] - pb[k]).norm() <= 0.35 * upd, (k, float((pa[k] - pb[k]).norm() / upd))
    for p in amp.G.parameters():
        assert p.dtype == torch.float32
    del p0


def test_gp_precision_amp_is_the_fp32_path_without_autocast_and_close_with_bf16():
    from dataclasses import replace

    nc, tc, x = _setup()
    tc_amp = replace(tc, gp_precision="amp")
    # no autocast: "amp" changes nothing, bit for bit
    a, ra = _runner(nc, tc, x, FastOptions(), force_fast=True)
    b, rb = _runner(nc, tc_amp, x, FastOptions(), force_fast=True)
    la, lb = _train(ra, nc, tc, 6), _train(rb, nc, tc_amp, 6)
    assert la == lb
    pa, pb = _params(a), _params(b)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    # bf16 autocast: the GP pass now runs in bf16 too; the first iteration's GP and gradient norm move by bf16 noise
    c, rc = _runner(nc, tc, x, FastOptions(amp=torch.bfloat16), force_fast=False)
    d, rd = _runner(nc, tc_amp, x, FastOptions(amp=torch.bfloat16), force_fast=False)
    lc, ld = _train(rc, nc, tc, 1), _train(rd, nc, tc_amp, 1)
    assert ld[0]["D/grad_norm"] == pytest.approx(lc[0]["D/grad_norm"], rel=3e-2)
    assert ld[0]["D/grad_norm"] != lc[0]["D/grad_norm"]      # it did run in bf16
    assert ld[0]["D/real"] == lc[0]["D/real"]                # the other D passes are untouched


def test_gp_precision_is_validated():
    with pytest.raises(ConfigError, match="gp_precision must be fp32 or amp"):
        TrainConfig(gp_precision="bf16")


def test_snapshot_restore_is_exact():
    nc, tc, x = _setup()
    nets, run = _runner(nc, tc, x, FastOptions(), force_fast=True, graphs_sim=True)
    _train(run, nc, tc, 5)                 # creates Adam state
    before = _params(nets)
    st_before = {k: copy.deepcopy(o.state_dict()) for k, o in run.opts.items()}
    snap = run._snapshot()
    _train(run, nc, tc, 3)
    run._restore_snapshot(snap)
    after = _params(nets)
    assert all(torch.equal(before[k], after[k]) for k in before)
    for k, o in run.opts.items():
        sa, sb = st_before[k]["state"], o.state_dict()["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            for name in sa[i]:
                assert torch.equal(torch.as_tensor(sa[i][name]), torch.as_tensor(sb[i][name]))


def test_local_rows_keep_minibatch_stddev_groups():
    torch.manual_seed(0)
    for n, world in [(16, 2), (64, 2), (128, 4), (8, 2), (32, 8)]:
        x = torch.randn(n, 3, 4, 4)
        full = minibatch_stddev(x, 4)[:, -1]
        seen = []
        for r in range(world):
            rows = local_rows(n, world, r, 4)
            part = minibatch_stddev(x[rows], 4)[:, -1]
            assert torch.allclose(part, full[rows], atol=1e-6)
            seen.append(rows)
        assert torch.equal(torch.cat(seen).sort().values, torch.arange(n))


def test_new_train_config_fields_validate_and_default_to_the_plain_cpu_path():
    tc = TrainConfig()
    assert (tc.amp, tc.channels_last, tc.compile, tc.cuda_graphs) == ("auto", None, "off", None)
    assert not resolve_fast_options(tc, torch.device("cpu")).active
    with pytest.raises(ConfigError):
        TrainConfig(amp="fp16")
    with pytest.raises(ConfigError):
        TrainConfig(compile="fast")
    with pytest.raises(ConfigError):
        TrainConfig(compile="reduce-overhead", cuda_graphs=True)
    with pytest.raises(WildganError, match="cuda_graphs=true needs a CUDA device"):
        resolve_fast_options(TrainConfig(cuda_graphs=True), torch.device("cpu"))
    fo = resolve_fast_options(TrainConfig(amp="bf16", channels_last=True), torch.device("cpu"))
    assert fo.amp == torch.bfloat16 and fo.channels_last and not fo.cuda_graphs


def test_training_puts_the_callers_cudnn_autotuning_setting_back(tmp_path, monkeypatch):
    """StepRunner turns cuDNN autotuning on for a CUDA fast path; after training the caller's setting is back (here
    the runner is made to turn it on on the CPU)."""
    import wildgan.training.loop as L

    real_init = L.StepRunner.__init__

    def init(self, *a, **k):
        real_init(self, *a, **k)
        torch.backends.cudnn.benchmark = True

    monkeypatch.setattr(L.StepRunner, "__init__", init)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    tc = TrainConfig(total_kimg=0.032, phase_kimg=0.032, minibatch=MB, device="cpu")
    train_pgan(x, RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc), tmp_path,
               progress=False, log=lambda m: None)
    assert torch.backends.cudnn.benchmark is False


def test_train_pgan_with_bf16_on_cpu_runs_and_checkpoints(tmp_path):
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    tc = TrainConfig(total_kimg=0.16, phase_kimg=0.064, minibatch=MB, checkpoint_kimg=0.1, log_every=4,
                     device="cpu", amp="bf16", channels_last=True)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc)
    res = train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    assert res.status == "done" and res.final.exists()
    rows = [line for line in (tmp_path / "stats.jsonl").read_text().splitlines() if line]
    assert rows
    # resume continues with channels_last parameters and contiguous checkpoint tensors
    cfg2 = RunConfig(data=DataConfig(), net=cfg.net, train=TrainConfig(**{**tc.__dict__, "total_kimg": 0.2}))
    res2 = train_pgan(x, cfg2, tmp_path, resume=True, progress=False, log=lambda m: None)
    assert res2.nimg > res.nimg


def _dynamo_limits() -> tuple[int, ...]:
    """(the per-function limit, the process-wide one), under the names this torch has."""
    import torch._dynamo

    from wildgan.training.loop import _compile_limit_names

    return tuple(getattr(torch._dynamo.config, n) for n in _compile_limit_names())


def test_dynamo_limits_are_raised_inside_compile_limits_only():
    """Raised inside (a caller's higher value kept), the caller's values back after it, an exception's exit too; and
    dynamo compiles past its default 8 graphs per function inside the block only."""
    import torch._dynamo

    before = _dynamo_limits()
    with compile_limits():
        assert min(_dynamo_limits()) >= 256
    assert _dynamo_limits() == before
    with pytest.raises(KeyError):
        with compile_limits():
            raise KeyError("inside")
    assert _dynamo_limits() == before
    from wildgan.training.loop import _compile_limit_names

    with torch._dynamo.config.patch(_compile_limit_names()[1], 1000):
        with compile_limits():
            assert _dynamo_limits() == (256, 1000)
        assert _dynamo_limits() == (before[0], 1000)

    graphs = []

    def count(gm, inputs):          # a dynamo backend that runs the graph eagerly: no inductor, no C++ compiler
        graphs.append(inputs[0].shape)
        return gm.forward

    f = torch.compile(lambda v: v * 2 + 1, backend=count, dynamic=False)
    n = before[0] + 4               # one graph per shape: more than the limit
    with compile_limits():
        for k in range(1, n + 1):
            assert torch.equal(f(torch.ones(k)), torch.full((k,), 3.0))
    assert len(graphs) == n
    for k in range(n + 1, 2 * n + 1):   # the default limit again: the calls run uncompiled, with the same values
        assert torch.equal(f(torch.ones(k)), torch.full((k,), 3.0))
    assert len(graphs) == n


def test_a_compiled_runner_raises_dynamo_limits_only_while_its_forwards_run(monkeypatch, one_thread):
    """StepRunner(compile=...) compiles inside its forwards' calls with the limits raised, and leaves the process's
    limits as it found them once built and after an iteration (a user's own torch.compile after training gets its
    own limits). torch.compile here has an eager backend that records the limits it compiles under: seconds, where
    inductor on this CPU takes minutes (test_compiled_forwards_match_eager)."""
    real_compile, seen = torch.compile, []

    def count(gm, inputs):
        seen.append(_dynamo_limits())
        return gm.forward

    monkeypatch.setattr(torch, "compile", lambda f, mode=None, dynamic=None: real_compile(f, backend=count,
                                                                                            dynamic=dynamic))
    nc, tc, x = _setup()
    before = _dynamo_limits()
    try:
        _, run = _runner(nc, tc, x, FastOptions(compile="default"), force_fast=True)
        assert _dynamo_limits() == before
        _train(run, nc, tc, 1)
        assert seen and all(min(v) >= 256 for v in seen), seen
        assert _dynamo_limits() == before
    finally:
        torch._dynamo.reset()       # (the graphs cached on g_forward's code are this backend's: not for later tests)


def _eager_compile(monkeypatch, seen: list) -> None:
    """torch.compile with an eager backend that records the dynamo limits each graph compiles under."""
    real_compile = torch.compile

    def count(gm, inputs):
        seen.append(_dynamo_limits())
        return gm.forward

    monkeypatch.setattr(torch, "compile", lambda f, mode=None, dynamic=None: real_compile(f, backend=count,
                                                                                            dynamic=dynamic))


def _counted_limits(monkeypatch) -> list:
    """loop.compile_limits replaced by itself counting its entries (the forwards' wrapper looks it up by name)."""
    from wildgan.training import loop

    real, entered = loop.compile_limits, []

    def counted(*a, **k):
        entered.append(a)
        return real(*a, **k)

    monkeypatch.setattr(loop, "compile_limits", counted)
    return entered


def _compiled_run_cfg(tmp_path, total_kimg: float = 0.064) -> RunConfig:
    tc = TrainConfig(total_kimg=total_kimg, phase_kimg=0.032, minibatch=MB, seed=5, device="cpu", compile="default",
                     log_every=1)
    data = DataConfig(data=str(tmp_path / "unused.npz"), normal=("0",), resolution=8, channels=1)
    return RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")


def test_train_pgan_raises_dynamo_limits_once_per_run_not_per_forward(monkeypatch, one_thread, tmp_path):
    """A compiled run's forwards find the limits raised (every graph compiles under them) while train_pgan sets them
    once for its loop: no dynamo config writes per forward call (about 11 us each). The caller's values are back
    after it, so the user's own torch.compile is not left with ours."""
    from wildgan.training import loop

    seen: list = []
    _eager_compile(monkeypatch, seen)
    entered = _counted_limits(monkeypatch)
    nc, _, x = _setup()
    before = _dynamo_limits()
    try:
        res = train_pgan(x, _compiled_run_cfg(tmp_path), tmp_path / "run", progress=False, log=lambda m: None)
        assert res.nimg >= 64
        assert seen and all(min(v) >= 256 for v in seen), seen
        assert len(entered) == 1, f"compile_limits entered {len(entered)} times in one run"
        assert _dynamo_limits() == before and loop._limits_held == 0
    finally:
        torch._dynamo.reset()


def test_train_pgan_puts_dynamo_limits_back_when_it_fails(monkeypatch, one_thread, tmp_path):
    """An exception inside the loop leaves neither dynamo's limits raised nor the forwards' fast path on: a runner
    driven afterwards by the caller opens its own block per call again."""
    from wildgan.training import loop

    seen: list = []
    _eager_compile(monkeypatch, seen)
    real_iteration, limits_inside = loop.StepRunner.iteration, []

    def failing(self, phase, ema_beta=None):
        real_iteration(self, phase, ema_beta)
        limits_inside.append(_dynamo_limits())
        raise KeyError("an iteration failed")

    monkeypatch.setattr(loop.StepRunner, "iteration", failing)
    nc, _, x = _setup()
    before = _dynamo_limits()
    try:
        with pytest.raises(KeyError, match="an iteration failed"):
            train_pgan(x, _compiled_run_cfg(tmp_path), tmp_path / "run", progress=False, log=lambda m: None)
        assert limits_inside and min(limits_inside[0]) >= 256
        assert _dynamo_limits() == before and loop._limits_held == 0
    finally:
        torch._dynamo.reset()


def test_a_runner_outside_train_pgan_still_compiles_under_raised_limits(monkeypatch, one_thread):
    """Only an open compile_limits block of at least the forwards' limit lets them call straight through: a lower one
    (a caller's own) does not, and the forwards still compile under 256."""
    from wildgan.training import loop

    seen: list = []
    _eager_compile(monkeypatch, seen)
    nc, tc, x = _setup()
    try:
        _, run = _runner(nc, tc, x, FastOptions(compile="default"), force_fast=True)
        with compile_limits(at_least=10):
            assert loop._limits_held == 0
            _train(run, nc, tc, 1)
        assert seen and all(min(v) >= 256 for v in seen), seen
    finally:
        torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WILDGAN_TEST_COMPILE") != "1",
                    reason="torch.compile on CPU takes minutes here; set WILDGAN_TEST_COMPILE=1")
@pytest.mark.parametrize("g_image_loss", [0.0, 0.5])       # (0.5: E's and G's compiled forwards in the G step)
def test_compiled_forwards_match_eager(g_image_loss):
    nc, tc, x = _setup()
    tc = TrainConfig(total_kimg=1, phase_kimg=1.0, minibatch=MB, seed=5,      # 4x4 stable only: fewer graphs
                     g_image_loss=g_image_loss)
    ref, r0 = _runner(nc, tc, x, FastOptions(), force_fast=True)
    comp, r1 = _runner(nc, tc, x, FastOptions(compile="default"), force_fast=True)
    la, lb = _train(r0, nc, tc, 4), _train(r1, nc, tc, 4)
    for a, b in zip(la, lb):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-5)
    pa, pb = _params(ref), _params(comp)
    for k in pa:
        assert (pa[k] - pb[k]).abs().max() <= 1e-4, k


def _cuda_runner(nc, tc, x, graphs: bool, host: bool = False):
    dev = torch.device("cuda")
    fast = FastOptions(amp=torch.bfloat16, channels_last=True, cuda_graphs=graphs)
    nets = build_pgan(nc, tc.seed).to(dev)
    opts = make_optimizers(nets, tc, fast, dev)
    rng = torch.Generator(device=dev).manual_seed(tc.seed)
    pyr = build_pyramid(x, torch.device("cpu") if host else dev)
    return nets, StepRunner(nets, opts, tc, nc, dev, pyr, rng, fast=fast, log=print)


def _follows_on_cuda(nc, tc, la, lb, na, nb) -> None:
    """Losses and weights of two CUDA runs agree up to the float noise of cuDNN's algorithm choice and bf16."""
    for a, b in zip(la, lb):
        assert b == pytest.approx(a, rel=2e-2, abs=2e-2)
    pa, pb = _params(na), _params(nb)
    num = sum(float((pa[k] - pb[k]).square().sum()) for k in pa) ** 0.5
    init = _params(build_pgan(nc, tc.seed).to("cuda"))
    den = sum(float((pa[k] - init[k]).square().sum()) for k in pa) ** 0.5
    assert num <= 0.05 * den, (num, den)


def _no_host_sync_in_steady_state(runner, nc, tc) -> None:
    from wildgan.training.schedule import schedule as sch

    phase = sch(int(tc.phase_kimg * 1000) + 64, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
    runner.iteration(phase)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(4):
            runner.iteration(phase)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("encoder_loss, g_image_loss", [("image", 0.0), ("none", 0.0), ("image", 0.5)])
def test_cuda_graphs_match_the_eager_fast_path_and_do_not_sync(encoder_loss, g_image_loss, monkeypatch):
    monkeypatch.setenv("WILDGAN_STRICT_GRAPHS", "1")   # a failed capture raises with its root cause
    nc, tc, x = _setup(encoder_loss, g_image_loss)
    (na, ra), (nb, rb) = _cuda_runner(nc, tc, x, False), _cuda_runner(nc, tc, x, True)
    la = _train(ra, nc, tc, 16)
    lb = _train(rb, nc, tc, 16)             # captures at 4x4 stable and at the fade (lod changes every round)
    assert rb._graphs_on and not rb._bad_keys, "capture failed or did not validate (see the printed warning)"
    _follows_on_cuda(nc, tc, la, lb, na, nb)
    _no_host_sync_in_steady_state(rb, nc, tc)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graphs_with_the_images_in_host_memory(monkeypatch):
    """host_data on a GPU: minibatches gathered on the host and copied (pinned, non-blocking) into the graph's input;
    the training follows the device-pyramid run, and the gather and copy add no host synchronisation."""
    monkeypatch.setenv("WILDGAN_STRICT_GRAPHS", "1")
    nc, tc, x = _setup()
    (na, ra), (nb, rb) = _cuda_runner(nc, tc, x, True), _cuda_runner(nc, tc, x, True, host=True)
    assert rb.host_data and not ra.host_data
    la, lb = _train(ra, nc, tc, 16), _train(rb, nc, tc, 16)
    assert rb._graphs_on and not rb._bad_keys
    _follows_on_cuda(nc, tc, la, lb, na, nb)
    _no_host_sync_in_steady_state(rb, nc, tc)


def test_bf16_autocast_keeps_activations_in_bf16() -> None:
    """The fp32 biases are added in the activation's dtype: otherwise every conv output under bf16 autocast is
    promoted back to fp32 (twice the activation memory and fp32 elementwise work: a 'bf16' path in name only)."""
    from wildgan.config import net_config_for_preset
    from wildgan.nets import build_pgan

    nets = build_pgan(net_config_for_preset("tiny", 16, 3), 0)
    seen: list[torch.dtype] = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.dtype)) for m in nets.G.modules()
             if type(m).__name__ == "EqConv2d"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = nets.G(torch.randn(4, nets.G.cfg.latent_size), 0.0)
    for h in hooks:
        h.remove()
    assert seen and set(seen) == {torch.bfloat16} and x.dtype == torch.bfloat16


def _phases(nc):
    L = nc.resolution_log2
    return [(r, fading) for r in range(2, L + 1) for fading in ((False, True) if r > 2 else (False,))]


def test_the_layer_lists_are_the_layers_the_forwards_use():
    """FlatWeights must list only used layers (an unused one would get a zero gradient, and Adam would move it): the
    lists are the layers whose weights get a gradient from a forward, D's fp32 1-output layer and G's dense bias
    excepted (those are not in FlatWeights)."""
    nc = net_config_for_preset("tiny", 16, 3)
    nets = build_pgan(nc, 0)
    t = torch.tensor(0.4)
    for r, fading in _phases(nc):
        z, x = torch.randn(4, nc.latent_size), torch.randn(4, 3, 2 ** r, 2 ** r)
        for name, run, listed, extra in [
                ("G", lambda: g_forward(nets.G, z, r, fading, t), g_layers(nets.G, r, fading), {"dense_bias"}),
                ("D", lambda: d_forward(nets.D, x, r, fading, t), trunk_layers(nets.D, r, fading),
                 {"dense1.weight", "dense1.bias"}),
                ("E", lambda: e_forward(nets.E, x, r, fading, t), trunk_layers(nets.E, r, fading), set())]:
            net = getattr(nets, name)
            net.zero_grad(set_to_none=True)
            run().square().sum().backward()
            used = {n for n, p in net.named_parameters() if p.grad is not None}
            ids = {id(p) for m in listed for p in m.parameters()}
            named = {n for n, p in net.named_parameters() if id(p) in ids}
            assert used == named | extra, (name, r, fading, used ^ (named | extra))


@pytest.mark.parametrize("channels_last,fused", [(False, True), (True, True), (False, False)])
def test_flat_weights_give_the_layers_own_values_and_gradients(channels_last, fused):
    """nets.layers.FlatWeights: the same forward values and weight gradients as each layer's own weight * scale (and
    bias), in fp32 and under bf16 autocast, at every phase of a 16x16 net (fused up/down convolutions, whose weights
    stay out of the vector, or unfused ones, whose weights are in it), for the gradient penalty's double backward
    too."""
    nc = net_config_for_preset("tiny", 16, 3)
    nets = build_pgan(nc, 0, fused=fused)
    for m in nets.modules().values():
        with torch.no_grad():
            for n, p in m.named_parameters():
                if n.endswith("bias"):
                    p.normal_()                      # biases start at zero: make their part of the vector count
        if channels_last:
            m.to(memory_format=torch.channels_last)
    t = torch.tensor(0.4)
    for r, fading in _phases(nc):
        g = torch.Generator().manual_seed(r)
        z, x0 = torch.randn(4, nc.latent_size, generator=g), torch.randn(4, 3, 2 ** r, 2 ** r, generator=g)
        for dtype in (torch.float32, torch.bfloat16):
            ac = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
            for name in ("G", "D", "E"):
                net = getattr(nets, name)
                fw = FlatWeights(g_layers(net, r, fading) if name == "G" else trunk_layers(net, r, fading))
                outs = []
                for flat in (False, True):
                    net.zero_grad(set_to_none=True)
                    x = x0.clone().requires_grad_(True)
                    with ac, (fw.applied(dtype) if flat else nullcontext()):
                        if name == "G":
                            y = g_forward(net, z, r, fading, t)
                        else:
                            y = (d_forward if name == "D" else e_forward)(net, x, r, fading, t)
                        if flat:                     # the flat values are the ones in use (fused kernels excepted)
                            assert all((m._pw is not None or getattr(m, "fused_kernel", False))
                                       and (m._pb is not None or m.bias is None) for m in fw.layers)
                    loss = y.float().square().sum()
                    if name == "D":                  # the GP's path: d ||dD/dx|| / dW
                        (gx,) = torch.autograd.grad(loss, x, create_graph=True)
                        loss = loss + gx.float().norm()
                    loss.backward()
                    assert all(m._pw is None and m._pb is None for m in fw.layers)      # only inside the block
                    outs.append((y.detach(), {n: p.grad.clone() for n, p in net.named_parameters()
                                              if p.grad is not None}))
                (y0, g0), (y1, g1) = outs
                where = f"{name} at {2 ** r}x{2 ** r}{' fade' if fading else ''} {dtype}"
                assert torch.equal(y0, y1), where
                assert g0.keys() == g1.keys(), where
                for k in g0:
                    # the same values; the weight gradients' sums may run in another order (a view of one buffer)
                    torch.testing.assert_close(g1[k], g0[k], rtol=1e-5, atol=1e-6, msg=f"{where}: {k}")


@pytest.mark.parametrize("amp,gp,encoder_loss,pair,g_image", [(None, "fp32", "image", True, 0.0),
                                                               (None, "amp", "image", True, 0.0),
                                                               (torch.bfloat16, "fp32", "image", True, 0.0),
                                                               (torch.bfloat16, "fp32", "latent", True, 0.0),
                                                               (torch.bfloat16, "fp32", "image", False, 0.0),
                                                               (None, "fp32", "image", True, 0.5),
                                                               (torch.bfloat16, "fp32", "image", True, 0.5)])
def test_fast_path_with_flat_weights_trains_as_with_each_layers_own(amp, gp, encoder_loss, pair, g_image):
    """12 steps with the flat run-time weights (G's block shared by the D step's fake and the G step, D's by the
    critic passes and, with the GP under autocast, the GP's pass) against each layer's own weights. bf16 with the GP
    under autocast: the next test (its two D gradients are summed in bf16 there, and 12 bf16 steps amplify that)."""
    import dataclasses

    nc, tc, x = _setup(encoder_loss, g_image)
    tc = dataclasses.replace(tc, gp_precision=gp)
    fast = FastOptions(amp=amp, channels_last=True)
    # (the flat weights with the graph path's in-place Adam resets, as CUDA runs them)
    a, r0 = _runner(nc, tc, x, fast, force_fast=True, graphs_sim=True, pair_critic=pair)
    b, r1 = _runner(nc, tc, x, fast, force_fast=True, pair_critic=pair)
    assert not r1.flat_weights          # on CUDA only by default: on the CPU they measured slower
    r0.flat_weights = True
    la, lb = _train(r0, nc, tc, 12), _train(r1, nc, tc, 12)
    assert lb[0] == pytest.approx(la[0], rel=1e-5, abs=1e-6)
    pa, pb = _params(a), _params(b)
    for k in pa:
        assert (pa[k] - pb[k]).abs().max() <= 1e-4, k


@pytest.mark.parametrize("gp", ["fp32", "amp"])
def test_flat_weights_give_gradients_to_the_same_parameters_in_every_step_and_phase(gp):
    """Which parameters have a gradient at each optimiser step, flat weights on and off, through every phase of a
    16x16 schedule (stable and fade). A layer listed in a block but not used gets a zero gradient instead of none,
    which the training's values cannot show (Adam with beta1 = 0 and a reset per phase does not move it)."""
    nc = net_config_for_preset("tiny", 16, 3)
    tc = TrainConfig(total_kimg=0.4, phase_kimg=0.064, minibatch=MB, seed=3, gp_precision=gp)
    x = (np.random.default_rng(1).random((40, 16, 16, 3)) * 255).astype(np.uint8)
    seen = []
    for flat in (False, True):
        nets, run = _runner(nc, tc, x, FastOptions(amp=torch.bfloat16), force_fast=True)
        run.flat_weights = flat
        names = {id(p): f"{k}.{n}" for k, m in nets.modules().items() for n, p in m.named_parameters()}
        steps: list[tuple[str, frozenset[str]]] = []
        for key, opt in run.opts.items():
            def step(*a, _opt=opt, _step=opt.step, _key=key, **kw):
                steps.append((_key, frozenset(names[id(p)] for g in _opt.param_groups for p in g["params"]
                                              if p.grad is not None)))
                return _step(*a, **kw)
            opt.step = step
        phases, nimg, bounds = set(), 0, None
        while nimg < 1000 * tc.total_kimg:
            phase = schedule(nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
            if phase.lod_bounds != bounds:
                run.reset_optimizers()
                bounds = phase.lod_bounds
            run.iteration(phase)
            phases.add((phase.resolution, phase.fade > 0))
            nimg += phase.batch
        assert phases == {(4, False), (8, True), (8, False), (16, True), (16, False)}, phases
        seen.append(steps)
    assert len(seen[0]) == len(seen[1])
    for i, (a, b) in enumerate(zip(*seen)):
        assert a == b, (i, a[0], a[1] ^ b[1])


@pytest.mark.parametrize("gp,width", [("fp32", None), ("amp", None), ("fp32", 20)])
def test_one_iteration_with_flat_weights_at_every_phase_equals_each_layers_own(gp, width):
    """One bf16 iteration at each phase of a 16x16 net (stable and mid-fade), flat weights against each layer's own.
    With the GP in fp32 the steps are the same but for the order of a few sums (channels_last bias gradients: 1e-10).
    With it under autocast D's block serves D(real, fake) and the GP's pass, so D's two weight gradients are summed
    in bf16 (the shared block's dtype) before the cast back: one bf16 rounding more than where each layer summed
    them in fp32: D's gradients are a bf16 rounding apart. (Its steps then are not comparable: Adam's first step is
    about lr * sign(g), which a rounding flips where g is near 0, and G's and E's steps follow D's.) Width 20 (a
    --width): to_rgb's 60-element weights are padded to aligned offsets in the vector, which must change nothing."""
    nc = net_config_for_preset("tiny", 16, 3)
    if width is not None:
        nc = replace(nc, fmap_max=width, fmap_base=16 * width, latent_size=width)
    tc = TrainConfig(minibatch=MB, seed=2, gp_precision=gp)
    x = (np.random.default_rng(2).random((40, 16, 16, 3)) * 255).astype(np.uint8)
    for res, lod in ((4, 2.0), (8, 1.5), (8, 1.0), (16, 0.5), (16, 0.0)):
        phase = Phase(lod=lod, resolution=res, batch=MB[res], fade=lod - math.floor(lod))
        params, d_grads = [], []
        for flat in (False, True):
            nets, run = _runner(nc, tc, x, FastOptions(amp=torch.bfloat16, channels_last=True), force_fast=True)
            run.flat_weights = flat
            step = run.opts["D"].step
            grads: dict[str, torch.Tensor] = {}

            def d_step(*a, _step=step, _grads=grads, _nets=nets, **kw):
                _grads.update({n: p.grad.clone() for n, p in _nets.D.named_parameters() if p.grad is not None})
                return _step(*a, **kw)

            run.opts["D"].step = d_step
            run.iteration(phase)
            params.append(_params(nets))
            d_grads.append(grads)
        assert d_grads[0].keys() == d_grads[1].keys()
        for k, g in d_grads[0].items():
            d = (g - d_grads[1][k]).abs().max().item()
            assert d <= (1e-6 if gp == "fp32" else 1e-2) * max(g.abs().max().item(), 1e-12), (res, lod, k, d)
        if gp == "fp32":
            for k in params[0]:
                d = (params[0][k] - params[1][k]).abs().max().item()
                assert d <= 1e-8, (res, lod, k, d)


def test_a_flat_weights_block_inside_another_gives_the_weights_back():
    nc = net_config_for_preset("tiny", 8, 1)
    G = build_pgan(nc, 0).G
    fw = FlatWeights(g_layers(G, 3, False))
    with fw.applied():
        outer = G.conv4._pw
        with fw.applied():
            assert G.conv4._pw is not outer
        assert G.conv4._pw is outer
    assert G.conv4._pw is None


def test_flat_weights_take_fewer_ops_per_iteration():
    """What the flat weights are for (kernel launches: benchmarks/RESULTS.md, 2026-12-01): fewer aten ops in a bf16
    channels_last iteration. Counted, not timed."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not getattr(func, "is_view", False):
                Count.n += 1
            return func(*args, **(kwargs or {}))

    nc, tc, x = _setup()
    counts = []
    for flat in (False, True):
        _, run = _runner(nc, tc, x, FastOptions(amp=torch.bfloat16, channels_last=True), force_fast=True)
        run.flat_weights = flat
        phase = schedule(10 ** 6, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)    # 8x8 stable
        assert phase.resolution == 8 and phase.fade == 0
        run.iteration(phase)
        Count.n = 0
        with Count():
            run.iteration(phase)
        counts.append(Count.n)
    assert counts[1] < 0.95 * counts[0], counts       # 8.6% fewer here; 15% at width 256 (roofline.py)


def test_every_pixel_norm_of_a_channels_last_generator_gets_a_channels_last_map(monkeypatch):
    """The fused RMS norm (CUDA) needs channels_last maps: G's first 4x4 maps, a view of the dense layer's output,
    were NCHW, and their pixel norm ran as the plain formula (Generator.dense_maps). Checked for G.forward and the fast
    path's g_forward, which must stay identical; the values are those of the NCHW generator."""
    import wildgan.nets.pgan as pgan_mod
    import wildgan.training.loop as loop_mod

    seen: list[bool] = []

    def spy(orig):
        def pn(x, eps=1e-8):
            if x.dim() == 4:
                seen.append(x.is_contiguous(memory_format=torch.channels_last))
            return orig(x, eps)
        return pn

    monkeypatch.setattr(pgan_mod, "pixel_norm", spy(pgan_mod.pixel_norm))
    monkeypatch.setattr(loop_mod, "pixel_norm", spy(loop_mod.pixel_norm))
    nc = net_config_for_preset("tiny", 16, 3)
    G = build_pgan(nc, 0).G
    z = torch.randn(4, nc.latent_size, generator=torch.Generator().manual_seed(0))
    ref = G(z, 0.5)
    G_cl = copy.deepcopy(G).to(memory_format=torch.channels_last)
    seen.clear()
    a = G_cl(z, 0.5)
    b = g_forward(G_cl, z, 4, True, torch.tensor(0.5))
    assert len(seen) == 2 * 6 and all(seen), seen      # 4x4 maps, conv4, and up + conv at 8x8 and 16x16, twice
    assert torch.equal(a, b)
    torch.testing.assert_close(a, ref, rtol=1e-5, atol=1e-5)
