"""benchmarks/roofline.py prices one training iteration's GPU time from an op census taken on the CPU. Its counts
must be the real iteration's: the FLOPs it counts must add up to the spec's 7g + 14d + 3e per image (spec 8.2, also
what bench.py reports), and modelling CUDA's fused RMS norm must remove kernels and traffic, not FLOPs."""

from __future__ import annotations

import sys

import pytest
from repo_root import REPO

from wildgan.nets import info, layers

sys.path.insert(0, str(REPO / "benchmarks"))
import roofline  # noqa: E402

sys.path.pop(0)


@pytest.fixture
def restore_layers(monkeypatch):
    # model_cuda_kernels() patches wildgan.nets.layers for the process; undo it after the test
    monkeypatch.setattr(layers, "FUSED_PIXEL_NORM_DEVICES", set(layers.FUSED_PIXEL_NORM_DEVICES))
    monkeypatch.setattr(layers, "VAR_STDDEV_DEVICES", set(layers.VAR_STDDEV_DEVICES))
    monkeypatch.setattr(layers, "_rms_norm_last", layers._rms_norm_last)


@pytest.mark.parametrize("res", [8, 32])
def test_counted_flops_are_the_spec_formula_and_the_fused_norm_saves_traffic(res, restore_layers):
    # (restore_layers: model_cuda_kernels() below patches wildgan.nets.layers for the process)
    runner, phase = roofline.build_runner("tiny", res, fade=False, gp_precision="fp32", batch=8)
    ops, sections = roofline.census(runner, phase)
    per_op, tot = roofline.price(ops, roofline.Device())
    by_step, _ = roofline.price(sections, roofline.Device())
    expect = info.train_flops_per_image(runner.nets, runner.nc, res)["train"]
    assert tot["flops"] / phase.batch == pytest.approx(expect, rel=0.03)
    assert {"D fwd", "D bwd+adam", "G fwd", "G bwd+adam", "E fwd", "E bwd+adam"} <= set(by_step)
    assert "convolution" in per_op and "_fused_adam_" in per_op and tot["kernels"] > 100
    # the dtypes are autocast's: the gradient penalty's critic pass (D step only) is the only fp32 convolution work
    assert per_op["convolution"]["flops_fp32"] > 0
    assert by_step["D fwd"]["flops_fp32"] > 0 and by_step["E fwd"]["flops_fp32"] == 0
    # Adam writes its parameters and moments in place and returns nothing: its bytes are more than it reads
    n_params = sum(p.numel() for m in ("G", "D", "E") for p in getattr(runner.nets, m).parameters()
                   if p.grad is not None)                              # the layers of this resolution
    assert per_op["_fused_adam_"]["bytes"] >= 4 * 7 * n_params         # read p, g, m, v; write p, m, v (and g)

    roofline.model_cuda_kernels()
    runner, phase = roofline.build_runner("tiny", res, fade=False, gp_precision="fp32", batch=8)
    ops2, _ = roofline.census(runner, phase)
    per2, tot2 = roofline.price(ops2, roofline.Device())
    assert "rms_norm" in per2 and "rms_norm_backward" in per2
    assert tot2["flops"] == pytest.approx(tot["flops"])
    assert tot2["kernels"] < tot["kernels"] and tot2["bytes"] < tot["bytes"]


def test_a_kernel_is_priced_by_its_binding_limit():
    dev = roofline.Device(bf16_tflops=100.0, tbps=1.0, floor_us=2.0)
    assert dev.price(0.0, 10.0, "") == (pytest.approx(2e-6), "floor")
    assert dev.price(1e9, 10.0, "") == (pytest.approx(1e-5), "matrix")              # 1 GFLOP at 100 TFLOP/s
    assert dev.price(1e9, 10.0, "conv")[0] == pytest.approx(2e-5)                    # TF32: half the rate
    assert dev.price(0.0, 1e7, "") == (pytest.approx(1e-5), "memory")                 # 10 MB at 1 TB/s
