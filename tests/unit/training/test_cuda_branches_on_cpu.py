"""Branches that only a CUDA device takes, run on the CPU (a GPU is lent to few sessions, for minutes: a crash there
in a branch no CPU test ran costs the whole call).

How each is reached without a GPU: the three kernel device sets of nets.layers get "cpu" added (as
tests/unit/nets/test_nets.py does for one of them at a time); code that only reads `device.type` is handed
torch.device("cuda") (nothing is allocated on it); torch.cuda's graph, stream and memory functions are replaced by
stand-ins (tests/unit/conftest.py's fake_cuda). What stays GPU-only: the real capture, cuDNN, the
pinned copies, NCCL (tests/unit/training/test_fast_path.py's CUDA tests, run by benchmarks/gpu_session.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from repo_root import REPO

import wildgan.training.loop as L
from stepping import train_steps
from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import ConfigError
from wildgan.nets import build_pgan, layers
from wildgan.training import data_placement as DP
from wildgan.training.schedule import schedule

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
NC = net_config_for_preset("tiny", 8, 1)
TC = TrainConfig(total_kimg=1, phase_kimg=0.128, minibatch=PRESETS["tiny"]["minibatch"], seed=5)
X = (np.random.default_rng(0).random((40, 8, 8, 1)) * 255).astype(np.uint8)
KERNEL_SETS = ("FUSED_PIXEL_NORM_DEVICES", "VAR_STDDEV_DEVICES", "FLAT_WEIGHTS_DEVICES")


@pytest.fixture
def cuda_kernels(monkeypatch):
    """The kernels CUDA takes by default (fused RMS pixel norm, torch.var stddev, flat run-time weights), on the CPU."""
    for name in KERNEL_SETS:
        monkeypatch.setattr(layers, name, {"cuda", "cpu"})
    monkeypatch.delenv("WILDGAN_KERNELS", raising=False)


@pytest.fixture
def fake_graphs(fake_cuda, monkeypatch):
    """conftest's torch.cuda graph stand-ins with every capture under no_host_traffic; a capture failure raises
    instead of falling back to eager (WILDGAN_STRICT_GRAPHS)."""
    fake_cuda["guard"] = True
    monkeypatch.setenv("WILDGAN_STRICT_GRAPHS", "1")
    return fake_cuda


def _runner(fast: L.FastOptions, opt_device: torch.device, logs: list[str], host_data: bool | None = None,
            tc: TrainConfig = TC) -> tuple[Any, L.StepRunner]:
    nets = build_pgan(NC, tc.seed)
    opts = L.make_optimizers(nets, tc, fast, opt_device)
    r = L.StepRunner(nets, opts, tc, NC, CPU, L.build_pyramid(X, CPU), torch.Generator().manual_seed(5), fast=fast,
                     log=logs.append, host_data=host_data)
    return nets, r


def _train(r: L.StepRunner, state: dict[str, Any] | None, n: int) -> list[dict[str, float]]:
    return train_steps(r, state, n, NC, TC)


def _params(nets: Any) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": p.detach().clone() for k, m in nets.modules().items() for n, p in m.named_parameters()}


# ------------------------------------------------------------------------------------------------------------------
# The training loop as CUDA runs it by default.

def test_cuda_optimizers_are_fused_and_capturable_and_step_as_the_plain_adam():
    """make_optimizers on CUDA (fast path): fused Adam, capturable when graphed. Both kwargs are accepted by this
    torch and, on the CPU, its fused kernel steps channels_last parameters as the plain Adam does."""
    fast = L.FastOptions(amp=torch.bfloat16, channels_last=True, cuda_graphs=True)
    nets = build_pgan(NC, 0)
    opts = L.make_optimizers(nets, TC, fast, CUDA)
    assert set(opts) == {"G", "D", "E"}
    for o in opts.values():
        assert o.defaults["fused"] is True and o.defaults["capturable"] is True
    eager = L.make_optimizers(nets, TC, dataclasses.replace(fast, cuda_graphs=False), CUDA)
    assert eager["G"].defaults["fused"] is True and not eager["G"].defaults["capturable"]
    assert not L.make_optimizers(nets, TC, L.FastOptions(), CUDA)["G"].defaults.get("fused")    # plain path
    assert not L.make_optimizers(nets, TC, fast, CPU)["G"].defaults.get("fused")

    out = []
    for kw in ({}, {"fused": True, "capturable": True}):
        g = torch.Generator().manual_seed(0)
        p = torch.nn.Parameter(torch.randn(6, 5, 3, 3, generator=g).contiguous(memory_format=torch.channels_last))
        o = L.make_optimizer([p], TC, 1e-3, **kw)
        for _ in range(3):
            p.grad = torch.randn(p.shape, generator=g).contiguous(memory_format=torch.channels_last)
            o.step()
        out.append(p.detach().clone())
    torch.testing.assert_close(out[1], out[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("host_data", [False, True])
def test_the_cuda_default_iteration_through_graph_captures_equals_eager(cuda_kernels, fake_graphs, host_data):
    """Everything CUDA turns on by default at once (bf16 autocast, channels_last, fused RMS norm, var stddev, flat
    run-time weights, fused capturable Adam, whole-iteration graphs), the images on the device or in host memory:
    captures hold no host sync and no host-made tensor, and the graphed training is the eager one bit for bit.
    Each piece has its own CPU test; the three kernel sets were never run together with the graph bookkeeping."""
    fast = L.FastOptions(amp=torch.bfloat16, channels_last=True, cuda_graphs=True)
    logs: list[str] = []
    na, ra = _runner(dataclasses.replace(fast, cuda_graphs=False), CUDA, logs, host_data)
    nb, rb = _runner(fast, CUDA, logs, host_data)
    assert ra.flat_weights and rb.flat_weights and rb._graphs_on
    assert rb.opts["D"].defaults["capturable"] and not ra.opts["D"].defaults["capturable"]
    la, lb = _train(ra, None, 24), _train(rb, fake_graphs, 24)
    assert fake_graphs["captures"] == 3, logs              # 4x4, the 8x8 fade, 8x8 stable
    assert rb._graphs_on and not rb._bad_keys
    assert not any("capture failed" in m or "differs" in m for m in logs), logs
    pa, pb = _params(na), _params(nb)
    assert max(float((pa[k] - pb[k]).abs().max()) for k in pa) == 0.0
    assert la == lb


def test_the_cuda_kernels_train_as_the_plain_ones_on_the_fast_path(cuda_kernels, monkeypatch):
    """fp32 fast path, channels_last: with CUDA's kernels (fused norm, var stddev, flat weights, fused Adam) against
    WILDGAN_KERNELS=plain and the plain Adam: the same training up to float rounding."""
    fast = L.FastOptions(channels_last=True)
    logs: list[str] = []
    na, ra = _runner(fast, CUDA, logs)
    assert ra.flat_weights and ra.opts["G"].defaults["fused"]
    la = _train(ra, None, 16)
    monkeypatch.setenv("WILDGAN_KERNELS", "plain")
    nb, rb = _runner(fast, CPU, logs)
    assert not rb.flat_weights and not rb.opts["G"].defaults.get("fused")
    lb = _train(rb, None, 16)
    pa, pb = _params(na), _params(nb)
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=1e-4, atol=2e-5, msg=k)
    for a, b in zip(la, lb):
        assert a == pytest.approx(b, rel=1e-3, abs=1e-4)


def test_the_capture_guard_catches_a_host_sync_in_the_body(cuda_kernels, fake_graphs, monkeypatch):
    """The guard above can fail: a loss term read on the host inside the body is refused (strict mode raises)."""
    real = L.critic_loss

    def syncing(*a: Any, **k: Any) -> Any:
        loss, terms = real(*a, **k)
        if loss > 1e9:                      # a Python branch on a device value: a sync
            pass
        return loss, terms

    monkeypatch.setattr(L, "critic_loss", syncing)
    _, r = _runner(L.FastOptions(channels_last=True, cuda_graphs=True), CUDA, [])
    with pytest.raises(AssertionError, match="host traffic inside the captured body: Tensor.__bool__"):
        _train(r, fake_graphs, 1)


def test_a_resumed_fused_capturable_adam_steps_as_the_uninterrupted_one(cuda_kernels):
    """A --resume on CUDA restores Adam's state into fused, capturable optimisers whose parameters are channels_last:
    load_state_dict's step tensors and the contiguous moments (StepRunner.invalidate puts them in the parameters'
    layout, which the fused kernel's flat walk needs) give the steps the uninterrupted run takes."""
    import wildgan.checkpoint as ckpt

    fast = L.FastOptions(channels_last=True, cuda_graphs=True)
    na, ra = _runner(fast, CUDA, [])
    ra._graphs_on = False               # (capturable Adam, eager iterations: the graphs are the test above)
    _train(ra, None, 6)
    tensors = ckpt.networks_to_tensors(na.modules())
    for name, opt in ra.opts.items():
        tensors.update(ckpt.optimizer_to_tensors(f"opt.{name}", opt))
    # as read back from the file: contiguous (safetensors), not aliases of ra's live state
    tensors = {k: v.clone(memory_format=torch.contiguous_format) for k, v in tensors.items()}
    nb, rb = _runner(fast, CUDA, [])
    rb._graphs_on = False
    assert rb.opts["G"].defaults["capturable"] and rb.opts["G"].defaults["fused"]
    ckpt.tensors_to_networks(tensors, nb.modules(), "test")
    for name, opt in rb.opts.items():
        ckpt.tensors_to_optimizer(f"opt.{name}", opt, tensors, ra.opts[name].param_groups[0]["lr"])
    rb.invalidate()
    for opt in rb.opts.values():
        for p, st in opt.state.items():
            assert st["exp_avg"].stride() == p.stride() and st["step"].dtype == torch.float32
    ph = schedule(6 * 16, NC.resolution, TC.phase_kimg, TC.fade_kimg, TC.minibatch)
    rb.reset_sampler(ra.sampler.epoch, ra.sampler.pos)
    rb.rng.set_state(ra.rng.get_state())
    ra.iteration(ph, 0.9)
    rb.iteration(ph, 0.9)
    pa, pb = _params(na), _params(nb)
    assert max(float((pa[k] - pb[k]).abs().max()) for k in pa) == 0.0


# ------------------------------------------------------------------------------------------------------------------
# Scoring as CUDA runs it by default: channels_last, 16 batches per forward, the fused norm and the var stddev.

def test_cuda_scoring_defaults_give_the_plain_scores(cuda_kernels, monkeypatch):
    from wildgan.config import ScoreConfig
    from wildgan.scoring import pgan_scores as S

    assert S.default_batches_per_forward(CUDA) == 16 and S.default_batches_per_forward("cpu") == 1
    nets = build_pgan(net_config_for_preset("tiny", 16, 3), 1)
    x = (np.random.default_rng(1).random((40, 16, 16, 3)) * 255).astype(np.uint8)
    batches = [np.arange(i, min(i + 8, 40)) for i in range(0, 40, 8)]
    cfg = ScoreConfig(batch_size=8)
    got = S.score_batches(nets, x, batches, range(len(batches)), cfg, channels_last=True, batches_per_forward=16,
                          lod=0.5)
    monkeypatch.setenv("WILDGAN_KERNELS", "plain")
    ref = S.score_batches(nets, x, batches, range(len(batches)), cfg, channels_last=False, batches_per_forward=1,
                          lod=0.5)
    assert [b[0] for b in got] == [b[0] for b in ref]
    for (_, sa, za, _), (_, sb, zb, _) in zip(got, ref):
        np.testing.assert_allclose(za, zb, rtol=1e-4, atol=1e-5)
        for k in sb:
            np.testing.assert_allclose(sa[k], sb[k], rtol=1e-4, atol=1e-5, err_msg=k)


# ------------------------------------------------------------------------------------------------------------------
# Where the training images live on a GPU, and the CUDA-only bookkeeping around the loop.

@pytest.fixture
def fake_gpu_memory(monkeypatch):
    """A GPU with 10 GiB free to the driver, 3 GiB held by torch's cache of which 1 GiB is in use."""
    calls: list[Any] = []

    def mem_get_info(device: Any = None) -> tuple[int, int]:
        calls.append(device)
        return 10 * 2**30, 80 * 2**30

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 3 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1 * 2**30)
    monkeypatch.delenv("WILDGAN_DATA_ON_GPU", raising=False)
    return calls


def test_gpu_free_memory_and_the_pyramids_place(fake_gpu_memory):
    assert DP.gpu_free_bytes(CUDA) == 12 * 2**30 and fake_gpu_memory == [CUDA]
    assert DP.data_device(6 * 2**30, CUDA) == CUDA             # at most half of the 12 GiB
    assert DP.data_device(6 * 2**30 + 1, CUDA) == CPU
    logs: list[str] = []
    assert L._pyramid_device(X, CUDA, None, True, logs.append) == CUDA
    big = np.zeros((1, 8, 8, 1), np.uint8)
    import wildgan.training.loop as loop_mod

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop_mod, "pyramid_bytes", lambda *a: 7 * 2**30)
        with pytest.warns(UserWarning, match=r"7\.00 GiB as a uint8 pyramid, more than half of the 12\.00 GiB free"):
            assert L._pyramid_device(big, CUDA, None, True, logs.append) == CPU
    assert logs == []
    with pytest.MonkeyPatch.context() as mp:              # WILDGAN_DATA_ON_GPU=0: host memory, said in the log
        mp.setenv("WILDGAN_DATA_ON_GPU", "0")
        assert L._pyramid_device(X, CUDA, None, True, logs.append) == CPU
    assert len(logs) == 1 and logs[0].startswith("WILDGAN_DATA_ON_GPU=0: the training images stay in host memory")


def test_stats_row_reads_the_gpu_peak_memory_and_drain_syncs(monkeypatch):
    seen: list[Any] = []
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: seen.append(device) or 5 * 2**20)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: seen.append(("sync", device)))
    phase = schedule(0, 8, TC.phase_kimg, TC.fade_kimg, TC.minibatch)
    row = L._stats_row({"D/loss": torch.tensor(2.0)}, 1, L.TrainState(), phase, 0.0, 16, CUDA)
    assert row["peak_gpu_mem_mb"] == 5.0 and row["D/loss"] == 2.0
    L._drain(CUDA)
    assert seen == [CUDA, ("sync", CUDA)]
    assert "peak_gpu_mem_mb" not in L._stats_row({}, 1, L.TrainState(), phase, 0.0, 16, CPU)


def test_training_memory_check_reads_the_gpus_total(monkeypatch):
    from wildgan.config import DataConfig
    from wildgan.training import run as R

    total = {"bytes": 2**40}
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: type("Props", (), {"total_memory": total["bytes"]})())
    assert R._device_memory(CUDA) == 2**40
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TC)
    R.check_training_memory(cfg, CUDA)
    total["bytes"] = R.training_state_bytes(cfg) - 1
    with pytest.raises(ConfigError, match="GiB of cuda"):
        R.check_training_memory(cfg, CUDA)


def test_a_pyramid_built_for_a_gpu_has_the_host_pyramids_layout(monkeypatch):
    """build_pyramid for a non-CPU device fills a contiguous uint8 copy chunk by chunk (the top level) and moves the
    pooled levels over. The "meta" device takes that branch on the CPU: shapes, dtypes, layout and device checked
    (meta holds no values; the values are the CPU path's, test_fast_path's chunk test)."""
    monkeypatch.setattr(L, "PYRAMID_CHUNK_BYTES", 3 * 8 * 8 * 4)          # 3 images a chunk: 14 chunks
    meta = torch.device("meta")
    got, ref = L.build_pyramid(X, meta), L.build_pyramid(X, CPU)
    assert list(got) == list(ref) == [8, 4]
    for res, t in got.items():
        assert t.device == meta and t.dtype == torch.uint8 and t.shape == ref[res].shape and t.is_contiguous()


# ------------------------------------------------------------------------------------------------------------------
# benchmarks/gpu_session.py's GPU-only (non --smoke) paths that a CPU can walk without running the GPU work.

def test_gpu_session_probe_needs_no_data_file(tmp_path, monkeypatch):
    """--probe (benchmarks and a profile on random images) reads no data set. It was refused when
    devdata/cifar10-jpeg.tar.gz was missing, which is the case on a fresh device machine unless the call carries
    devdata (RESULTS.md's plan runs the probe as a second call without carry). The main run still needs the file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gpu_session_under_test", REPO / "benchmarks" / "gpu_session.py")
    gs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gs)
    steps: list[str] = []
    monkeypatch.setattr(gs.Session, "step", lambda self, name, *a, **k: steps.append(name) or {"rc": 0})
    monkeypatch.setattr(gs, "probe", lambda s, a, py, out, work: steps.append(f"probe {a.device}") or 0)
    monkeypatch.setattr(gs.subprocess, "run", lambda *a, **k: type("Done", (), {"stdout": "no GPU"})())
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    common = ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--data", str(tmp_path / "no.tar")]
    assert gs.main(["--probe", "--device", "cuda", "--budget", "240", *common]) == 0
    assert steps == ["versions", "probe cuda"]
    steps.clear()
    assert gs.main(["--main-first", "--budget", "588", *common]) == 2 and steps == []
    assert "no.tar is missing" in (tmp_path / "out" / "session.log").read_text()


def test_gpu_session_auc_table_says_an_undefined_interval_as_one_dash():
    """summary.md's AUC table: a's 95% interval from eval.json's auc_ci95, '-' where it is undefined ([null, null]:
    one class in the test set) as where it is absent, not '---' (each limit's '-' joined by the interval's)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gpu_session_under_test", REPO / "benchmarks" / "gpu_session.py")
    gs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gs)
    e = {"auc": {"a": 0.7}, "auc_ci95": {"a": [0.6, 0.8]}}
    assert gs.eval_row("r", e).split(" | ")[-3] == "0.600-0.800"
    for ci in ([None, None], None):
        assert gs.eval_row("r", {**e, "auc_ci95": {"a": ci}}).split(" | ")[-3] == "-", ci
    assert gs.eval_row("r", {"auc": {"a": 0.7}}).split(" | ")[-3] == "-"


def test_flat_weights_give_every_weight_and_bias_an_aligned_view():
    """Inside FlatWeights' vector every weight's and every bias's view starts at a multiple of 8 elements (16 bytes in
    bf16), in every preset, at widths that are no multiple of 8, and for gray and colour images: cuDNN gets aligned
    weights, and cuBLASLt, which takes an EqLinear's bias view as its epilogue's bias pointer without checking its
    alignment, an aligned bias. Before, G's to_rgb bias put the next layer's weight 3 elements off; and at --width 20
    each 20-element bias put the next bias, the dense layers' among them, 8 bytes off."""
    from wildgan.config import net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.nets.layers import EqConv2d, EqLinear, FlatWeights

    from dataclasses import replace

    for preset, res, ch, width in (("tiny", 32, 3, None), ("fast", 64, 1, None), ("paper", 32, 3, None),
                                   ("tiny", 16, 3, 20), ("tiny", 16, 1, 13), ("paper", 32, 3, 100)):
        cfg = net_config_for_preset(preset, res, ch)
        if width is not None:          # (as --width: to_rgb's 3 x 20 = 60 elements, no multiple of 8: padded after)
            cfg = replace(cfg, fmap_max=width, fmap_base=16 * width, latent_size=width)
        nets = build_pgan(cfg, 0)
        for net in (nets if isinstance(nets, (tuple, list)) else vars(nets).values()):
            if not isinstance(net, torch.nn.Module):
                continue
            layers = [m for m in net.modules() if isinstance(m, (EqLinear, EqConv2d))]
            fw = FlatWeights(layers)
            with fw.applied(torch.bfloat16):
                base = None
                for m in layers:
                    for kind, v in (("w", m._pw), ("b", m._pb)):
                        if v is None or (kind == "w" and isinstance(m, EqConv2d) and m.fused_kernel):
                            continue
                        base = v.untyped_storage().data_ptr() if base is None else base
                        offset = (v.data_ptr() - base) // v.element_size()
                        assert offset % 8 == 0, (preset, width, ch, type(net).__name__, kind, tuple(v.shape), offset)
                        if kind == "w":
                            # the view holds the layer's own run-time weight (the pads shift nothing)
                            want = m.weight * m.scale
                            assert torch.equal(v.float(), want.to(torch.bfloat16).float()), (preset, width)
                        else:
                            assert torch.equal(v.float(), m.bias.to(torch.bfloat16).float()), (preset, width)


def _preflight_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cuda_preflight_under_test", REPO / "benchmarks" / "cuda_preflight.py")
    pf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pf)
    return pf


def test_the_preflight_training_check_passes_through_captures_and_fails_without_a_replayed_graph(
        cuda_kernels, fake_graphs, monkeypatch):
    """benchmarks/cuda_preflight.py's training check on CUDA's defaults, through conftest's graph stand-ins: a
    capture at 4x4 and one in the 8x8 fade-in, then replays, pass. Where a capture does not match eager and the run
    is not strict (training's own mode: that phase goes on eagerly, with one log line), the check fails: the silent
    fallback the pre-flight is there to catch before the main run."""
    pf = _preflight_module()
    fast = L.FastOptions(amp=torch.bfloat16, channels_last=True, cuda_graphs=True)
    logs: list[str] = []
    _, r = _runner(fast, CUDA, logs)
    fake_graphs["runner"] = r
    said = pf.check_training(r)
    assert fake_graphs["captures"] == 2 and "4x4 graphed, 8x8 fade graphed" in said, (said, logs)
    monkeypatch.delenv("WILDGAN_STRICT_GRAPHS")
    _, r = _runner(fast, CUDA, logs)
    fake_graphs["runner"], fake_graphs["corrupt"] = r, True     # the first capture's check replay differs
    with pytest.raises(RuntimeError, match="no CUDA graph replayed at 4x4") as failed:
        pf.check_training(r)
    assert any("runs without CUDA graphs" in m for m in logs), logs
    assert not pf.is_mismatch(failed.value)          # (graphs switched off without a word: not a tolerance)
    # strict, as the pre-flight runs: the mismatch raises as one, which gpu_session tries again with the fused kernels
    monkeypatch.setenv("WILDGAN_STRICT_GRAPHS", "1")
    _, r = _runner(fast, CUDA, logs)
    fake_graphs["runner"], fake_graphs["corrupt"] = r, True
    with pytest.raises(L.GraphMismatch, match="CUDA graph replay differs from eager at 4x4") as failed:
        pf.check_training(r)
    assert pf.is_mismatch(failed.value)


def test_a_strict_graph_mismatch_is_logged_as_a_mismatch_not_as_a_failed_capture(cuda_kernels, fake_graphs) -> None:
    """WILDGAN_STRICT_GRAPHS=1 (conftest's CUDA stand-ins set it) and a replay that differs from eager: the
    GraphMismatch raised is logged as what it is; it was logged as 'CUDA graph capture failed (GraphMismatch: ...);
    continuing without CUDA graphs', of a capture that went through, in a run that does not continue."""
    fast = L.FastOptions(amp=torch.bfloat16, channels_last=True, cuda_graphs=True)
    logs: list[str] = []
    _, r = _runner(fast, CUDA, logs)
    fake_graphs["runner"], fake_graphs["corrupt"] = r, True     # the first capture's check replay differs
    with pytest.raises(L.GraphMismatch, match="CUDA graph replay differs from eager at 4x4"):
        _preflight_module().check_training(r)
    (said,) = [m for m in logs if "GraphMismatch" in m or "differs from eager" in m]
    assert said.startswith("warning: CUDA graph replay differs from eager at 4x4") and \
        said.endswith(": a graph-vs-eager mismatch (WILDGAN_STRICT_GRAPHS=1 raises it)"), said
    assert not [m for m in logs if "capture failed" in m], logs


def test_the_preflights_last_line_tells_gpu_session_a_mismatch_from_a_crash(monkeypatch, capsys):
    """benchmarks/cuda_preflight.py's own output, read by gpu_session's fused_retry_may_pass: a scoring mismatch beyond
    its tolerance is said as one (gpu_session then tries the fused kernels once more), an error of another kind (a
    CUDA error in the training check) is not (gpu_session goes to the plain kernels at once)."""
    import importlib.util

    pf = _preflight_module()
    spec = importlib.util.spec_from_file_location(
        "gpu_session_under_test", REPO / "benchmarks" / "gpu_session.py")
    gs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gs)
    monkeypatch.setenv("WILDGAN_STRICT_GRAPHS", "1")      # (main sets it; put back after the test)
    real = pf.score_pgan

    def noisy(*a: Any, batches_per_forward: int = 1, **k: Any) -> Any:
        got = real(*a, batches_per_forward=batches_per_forward, **k)
        if batches_per_forward > 1:                   # the stacked forward just over the check's tolerance
            got.scores.update({key: v + 0.1 for key, v in got.scores.items()})
        return got

    monkeypatch.setattr(pf, "score_pgan", noisy)
    assert pf.main(["--device", "cpu", "--width", "8"]) == 1
    out = capsys.readouterr().out
    assert "Mismatch: score" in out and out.rstrip().endswith(pf.MISMATCH_SAID), out[-600:]
    rec = {"rc": 1, "stdout_tail": out[-4000:]}
    assert gs.fused_retry_may_pass(rec) and gs.plain_rerun_futile(rec) is None
    monkeypatch.setattr(pf, "score_pgan", real)

    def cuda_error(runner: Any) -> str:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(pf, "check_training", cuda_error)
    assert pf.main(["--device", "cpu", "--width", "8"]) == 1
    out = capsys.readouterr().out
    assert "pre-flight FAILED at training" in out and pf.MISMATCH_SAID not in out, out[-600:]
    rec = {"rc": 1, "stdout_tail": out[-4000:]}
    assert not gs.fused_retry_may_pass(rec) and gs.plain_rerun_futile(rec) is None


def test_the_fast_path_forwards_under_cudas_own_autocast_policy(monkeypatch):
    """G, D's merged real/fake pass, the GP's pass (under autocast and in fp32) and E, as the D and E steps run them at
    4x4, 8x8 (fading) and 16x16, on fake CUDA tensors (FakeTensorMode: shapes, dtypes and devices, no data) with
    CUDA's default kernels and CUDA's own autocast op lists, which differ from the CPU's that every other test runs
    (on CUDA, pow, rsqrt and upsample are fp32 ops): no CPU tensor meets a CUDA one (FakeTensor refuses it as CUDA
    does; a 0-dim CPU scalar passes, as on CUDA, where a captured graph would bake its value in), the
    minibatch stddev's variance sees fp32, D's output is fp32 and E's bf16, and the fp32 GP's pass holds no bf16
    tensor. Forward only, under no_grad: autograd on a fake CUDA tensor needs CUDA's device guard, which a CPU build
    lacks (so does Tensor.contiguous, replaced below by the clone it amounts to)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    from wildgan.nets.layers import FlatWeights

    monkeypatch.delenv("WILDGAN_KERNELS", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)      # (else autocast("cuda") turns itself off)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)

    def contiguous(self: torch.Tensor, memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
        return self if self.is_contiguous(memory_format=memory_format) else self.clone(memory_format=memory_format)

    monkeypatch.setattr(torch.Tensor, "contiguous", contiguous)

    class Seen(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: list[tuple[str, tuple[torch.dtype, ...]]] = []

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            leaves = tree_leaves((args, kwargs or {}))
            self.ops.append((str(func), tuple(a.dtype for a in leaves if isinstance(a, torch.Tensor))))
            return func(*args, **(kwargs or {}))

    nc = net_config_for_preset("tiny", 16, 3)
    nets = build_pgan(nc, 0)
    bf16, n = torch.bfloat16, 8
    with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():
        try:
            torch.empty(1, device=CUDA)
        except RuntimeError:                                          # pragma: no cover - another torch build
            pytest.skip("this torch makes no fake CUDA tensors")
        for m in nets.modules().values():                            # the fast path's channels_last CUDA weights
            for mod in m.modules():
                for name, p in list(mod.named_parameters(recurse=False)):
                    fmt = torch.channels_last if p.dim() == 4 else torch.contiguous_format
                    setattr(mod, name, torch.nn.Parameter(torch.empty(p.shape, device=CUDA, memory_format=fmt)))
        t = torch.full((), 0.5, device=CUDA)
        for r, fading in ((2, False), (3, True), (4, True)):
            with FlatWeights(L.g_layers(nets.G, r, fading)).applied(bf16), torch.autocast("cuda", dtype=bf16):
                fake = L.g_forward(nets.G, torch.randn(n, nc.latent_size, device=CUDA), r, fading, t).float()
            reals = L.process_reals_t(torch.zeros(n, 3, 2 ** r, 2 ** r, dtype=torch.uint8, device=CUDA), fading, t)
            reals = reals.contiguous(memory_format=torch.channels_last)
            with Seen() as amp, FlatWeights(L.trunk_layers(nets.D, r, fading)).applied(bf16), \
                    torch.autocast("cuda", dtype=bf16):
                pair = L.d_forward(nets.D, torch.cat([reals, fake]), r, fading, t, n)
                gp_amp = L.d_forward(nets.D, reals + 0.5 * (fake - reals), r, fading, t)
            with Seen() as fp32, torch.autocast("cuda", enabled=False), \
                    FlatWeights(L.trunk_layers(nets.D, r, fading)).applied():
                gp = L.d_forward(nets.D, reals + 0.5 * (fake - reals), r, fading, t)
            with FlatWeights(L.trunk_layers(nets.E, r, fading)).applied(bf16), torch.autocast("cuda", dtype=bf16):
                z_hat = L.e_forward(nets.E, fake, r, fading, t)
            where = (r, fading)
            assert pair.shape == (2 * n,) and {pair.dtype, gp_amp.dtype, gp.dtype} == {torch.float32}, where
            assert pair.device.type == z_hat.device.type == "cuda" and z_hat.dtype == bf16, where
            variances = [d for op, d in amp.ops + fp32.ops if op.startswith("aten.var")]
            assert len(variances) == 3 and all(d == (torch.float32,) for d in variances), (where, variances)
            assert any(bf16 in d for op, d in amp.ops if "convolution" in op), where        # autocast did run
            assert not [op for op, d in fp32.ops if bf16 in d], (where, [op for op, d in fp32.ops if bf16 in d])
