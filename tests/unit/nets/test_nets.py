"""Networks: exact parameter counts, shapes at every level and mid-fade, equalised LR, minibatch stddev."""

import math

import pytest
import torch

from wildgan.config import NetConfig, net_config_for_preset
from wildgan.nets import build_pgan, count_parameters
from wildgan.nets.layers import EqConv2d, EqLinear, minibatch_stddev, pixel_norm


@pytest.mark.parametrize("res,ch,expected", [
    (32, 3, (20_719_628, 20_726_785, 20_726_272)),   # the authors' supplementary tables
    (64, 1, (22_485_765, 22_493_441, 22_492_928)),
])
def test_paper_parameter_counts(res, ch, expected):
    nets = build_pgan(net_config_for_preset("paper", res, ch), seed=0)
    assert (count_parameters(nets.G), count_parameters(nets.D), count_parameters(nets.E)) == expected


def test_fast_preset_is_much_cheaper():
    from wildgan.nets.info import network_info

    paper = network_info(net_config_for_preset("paper", 32, 3))
    fast = network_info(net_config_for_preset("fast", 32, 3))
    assert paper["train_gflop_per_image"] == pytest.approx(222, rel=0.01)   # spec 8.2, fused
    assert paper["train_gflop_per_image"] / fast["train_gflop_per_image"] > 10


def test_network_info_counts_on_the_meta_device_what_the_cpu_networks_have():
    """network_info builds on torch's meta device (no storage): the same counts as real networks on the CPU, and a
    width whose networks would take 640 GB (`wildgan info --width 100000` died allocating them) is counted too."""
    from wildgan.nets.info import network_info, train_flops_per_image

    cfg = net_config_for_preset("fast", 32, 3)
    info = network_info(cfg)
    nets = build_pgan(cfg, seed=0)
    assert info["params"] == {k: count_parameters(getattr(nets, k)) for k in "GDE"}
    cpu = train_flops_per_image(nets, cfg, 32)
    assert [info["forward_gflop"][k] * 1e9 for k in "GDE"] == [pytest.approx(cpu[k]) for k in "gde"]
    # the operator calls of an iteration grow with the layers, far less than the FLOPs (the ETA's forecast of a small
    # network's larger resolutions: training.loop._forecast)
    small = train_flops_per_image(nets, cfg, 4)
    assert 1.5 < cpu["calls"] / small["calls"] < 4 < 50 < cpu["train"] / small["train"]
    huge = network_info(net_config_for_preset("tiny", 32, 3, width=100000))
    assert huge["params"]["G"] > 1.5e11


@pytest.mark.parametrize("res,ch", [(32, 3), (64, 1)])
def test_shapes_every_level_and_mid_fade(res, ch):
    cfg = net_config_for_preset("tiny", res, ch)
    nets = build_pgan(cfg, seed=0)
    top = int(math.log2(res)) - 2
    for lod in [top - k * 0.5 for k in range(2 * top + 1)]:          # integer and mid-fade lods
        cur = int(res / 2 ** math.floor(lod))
        z = torch.randn(8, cfg.latent_size)
        img = nets.G(z, lod)
        assert img.shape == (8, ch, cur, cur)
        assert nets.D(img, lod).shape == (8,)
        assert nets.E(img, lod).shape == (8, cfg.latent_size)
        assert nets.D.features(img, lod).shape == (8, cfg.nf(1), 4, 4)


def test_fade_endpoints_match_neighbouring_levels():
    cfg = net_config_for_preset("tiny", 16, 1)
    nets = build_pgan(cfg, seed=1)
    z = torch.randn(4, cfg.latent_size)
    # t -> 0: the new level alone; t -> 1: the upsampled old level
    a = nets.G(z, 1e-7)
    b = nets.G(z, 0.0)
    assert torch.allclose(a, b, atol=1e-4)
    old = nets.G(z, 1.0)                              # 8x8 stable
    near_one = nets.G(z, 1.0 - 1e-7)                  # 16x16, fade weight ~1
    assert torch.allclose(near_one, torch.nn.functional.interpolate(old, scale_factor=2), atol=1e-4)


def test_critic_and_encoder_fade_endpoints_match_neighbouring_levels():
    # spec 1.5: D and E blend features, x = lerp(x_new, fromRGB_{r-1}(avgpool2(img)), t) with t = frac(lod). At
    # t -> 0 they are the new level's networks; at t -> 1 the old level's, seeing the average-pooled image
    cfg = net_config_for_preset("tiny", 16, 1)
    nets = build_pgan(cfg, seed=1)
    img = torch.rand(4, 1, 16, 16) * 2 - 1
    half = torch.nn.functional.avg_pool2d(img, 2)
    for net in (nets.D, nets.E):
        assert torch.allclose(net(img, 1e-7), net(img, 0.0), atol=1e-4)
        assert torch.allclose(net(img, 1.0 - 1e-7), net(half, 1.0), atol=1e-4)
        assert not torch.allclose(net(img, 0.0), net(half, 1.0), atol=1e-4)


def test_equalised_lr_scaling():
    torch.manual_seed(0)
    lin = EqLinear(50, 7, gain=2.0)
    assert lin.scale == pytest.approx(2.0 / math.sqrt(50))
    assert lin.bias.abs().sum() == 0
    x = torch.randn(3, 50)
    assert torch.allclose(lin(x), x @ (lin.weight * lin.scale).T)
    conv = EqConv2d(6, 5, 3)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(9 * 6))
    # weights stored as N(0, 1)
    big = EqConv2d(256, 256, 3)
    assert big.weight.std().item() == pytest.approx(1.0, abs=0.02)


def test_equalised_conv_forwards_use_the_runtime_scale():
    # every mode's forward against a reference built here from weight * scale (the stored weights are N(0, 1); the
    # scale must be applied at run time, in the fused up/down kernels too)
    import torch.nn.functional as F

    torch.manual_seed(0)
    x = torch.randn(2, 6, 8, 8)
    for mode, fused in [(None, True), ("up", True), ("up", False), ("down", True), ("down", False)]:
        conv = EqConv2d(6, 5, 3, mode=mode, fused=fused)
        with torch.no_grad():
            conv.bias.normal_()
        w = conv.weight.detach() * (math.sqrt(2) / math.sqrt(9 * 6))
        if mode == "up":
            ref = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), w, padding=1)
        elif mode == "down":
            ref = F.avg_pool2d(F.conv2d(x, w, padding=1), 2)
        else:
            ref = F.conv2d(x, w, padding=1)
        ref = ref + conv.bias.detach().view(1, -1, 1, 1)
        torch.testing.assert_close(conv(x).detach(), ref, rtol=1e-5, atol=1e-5, msg=f"mode {mode}, fused {fused}")


def test_fused_up_down_convs_match_unfused_in_gradients_and_double_backward():
    # the fused 4x4 kernel is built by an avg-pool (layers.EqConv2d.forward): its backward and, for D's
    # down-convs, the gradient penalty's double backward must equal those of upsample + conv / conv + avg-pool
    torch.manual_seed(1)
    for mode in ("up", "down"):
        fused, plain = EqConv2d(6, 5, 3, mode=mode), EqConv2d(6, 5, 3, mode=mode, fused=False)
        plain.load_state_dict(fused.state_dict())
        with torch.no_grad():
            fused.bias.normal_()
            plain.bias.copy_(fused.bias)
        x0 = torch.randn(3, 6, 8, 8, dtype=torch.float64)
        grads = []
        for conv in (fused.double(), plain.double()):
            x = x0.clone().requires_grad_(True)
            out = conv(x)
            (gx,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
            gw = torch.autograd.grad(gx.norm(), conv.weight)[0]       # the GP's path: d ||dL/dx|| / dW
            grads.append((out.detach(), gx.detach(), gw))
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=f"mode {mode}")


def test_special_gains():
    cfg = net_config_for_preset("tiny", 32, 3)
    nets = build_pgan(cfg, seed=0)
    assert nets.G.dense.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(cfg.latent_size))
    assert nets.G.to_rgb["5"].scale == pytest.approx(1 / math.sqrt(cfg.nf(4)))
    assert nets.D.dense1.scale == pytest.approx(1 / math.sqrt(cfg.nf(0)))
    # E is initialised as D (spec 2: He gain sqrt(2)); only D's removed Dense1 has gain 1. E's output scale, which
    # L_o measures, follows this gain
    assert nets.E.dense0.scale == pytest.approx(math.sqrt(2) / math.sqrt(cfg.nf(1) * 16))
    assert nets.E.dense0.scale == nets.D.dense0.scale


def test_minibatch_stddev_grouping_matches_definition():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4)
    y = minibatch_stddev(x, 4)
    assert y.shape == (8, 4, 4, 4)
    # groups are strided: members of group m are samples m, m + 2, m + 4, m + 6 (N/G = 2)
    for m in range(2):
        members = x[m::2]
        expect = torch.sqrt(members.var(dim=0, unbiased=False) + 1e-8).mean()
        for n in range(m, 8, 2):
            assert torch.allclose(y[n, 3], torch.full((4, 4), expect.item()), atol=1e-6)
    with pytest.raises(ValueError):
        minibatch_stddev(torch.randn(6, 3, 4, 4), 4)
    # group 1 (isolated scoring): the extra channel is sqrt(1e-8) for every image
    assert torch.allclose(minibatch_stddev(x, 1)[:, 3], torch.full((8, 4, 4), 1e-4))


def test_minibatch_stddev_of_single_image_groups_and_of_no_images():
    """Group 1 in one minibatch takes its own path (no reshape by the batch size, for the ONNX export's empty
    batch): the very values of the grouped path; an empty batch gives an empty map with the extra channel."""
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4) * 3
    assert torch.equal(minibatch_stddev(x, 1), minibatch_stddev(x, 1, sub_batch=4))   # (two minibatches: view path)
    for group in (1, 4):
        assert minibatch_stddev(torch.randn(0, 3, 4, 4), group).shape == (0, 4, 4, 4)


def test_pixel_norm_unit_rms():
    x = torch.randn(5, 16, 3, 3) * 7
    y = pixel_norm(x)
    assert torch.allclose(y.square().mean(dim=1), torch.ones(5, 3, 3), atol=1e-4)


def test_generator_ignores_latent_scale_encoder_output_unnormalised():
    cfg = net_config_for_preset("tiny", 16, 1)
    nets = build_pgan(cfg, seed=0)
    z = torch.randn(4, cfg.latent_size)
    assert torch.allclose(nets.G(z), nets.G(0.1 * z), atol=1e-5)
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    e = nets.E(x)
    pre = nets.E.dense0(nets.E.head_input(nets.E.features(x)))
    assert torch.allclose(e, torch.where(pre > 0, pre, 0.2 * pre))   # leaky-ReLU output, no normalisation
    assert (e < 0).any() and (e > 0).any()


def test_same_seed_same_init():
    cfg = NetConfig(resolution=16, channels=1, fmap_base=64, fmap_max=8)
    a, b = build_pgan(cfg, 3), build_pgan(cfg, 3)
    for p, q in zip(a.G.parameters(), b.G.parameters()):
        assert torch.equal(p, q)
    c = build_pgan(cfg, 4)
    assert not torch.equal(a.G.dense.weight, c.G.dense.weight)


def test_pixel_norm_as_fused_rms_norm_matches_the_formula(monkeypatch):
    # On CUDA pixel_norm runs as F.rms_norm (one fused kernel each way). Forced onto the CPU here, where rms_norm is
    # the composite formula: values and gradients must equal the plain formula, the layout and dtype must be kept
    # (channels_last in and out, bf16 in and out under autocast), and a contiguous NCHW input takes the plain path.
    from wildgan.nets import layers

    torch.manual_seed(2)
    x4 = torch.randn(3, 16, 5, 5, dtype=torch.float64).to(memory_format=torch.channels_last)
    x2 = torch.randn(3, 16, dtype=torch.float64)
    plain = {}
    for name, x in (("4d", x4), ("2d", x2)):
        xr = x.clone().requires_grad_(True)
        y = layers.pixel_norm(xr)
        (y * torch.linspace(-1, 2, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        plain[name] = (y.detach(), xr.grad)
    monkeypatch.setattr(layers, "FUSED_PIXEL_NORM_DEVICES", {"cuda", "cpu"})
    for name, x in (("4d", x4), ("2d", x2)):
        xr = x.clone().requires_grad_(True)
        y = layers.pixel_norm(xr)
        (y * torch.linspace(-1, 2, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        torch.testing.assert_close(y.detach(), plain[name][0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(xr.grad, plain[name][1], rtol=1e-12, atol=1e-12)
        if name == "4d":
            assert y.is_contiguous(memory_format=torch.channels_last)
    # autocast is off inside: CUDA's autocast runs rms_norm in fp32 and would hand back fp32 activations
    real, inside = layers.F.rms_norm, []
    monkeypatch.setattr(layers.F, "rms_norm", lambda *a, **k: inside.append(torch.is_autocast_enabled("cpu"))
                        or real(*a, **k))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yb = layers.pixel_norm(x4.to(torch.bfloat16))
    assert yb.dtype == torch.bfloat16 and inside == [False]
    torch.testing.assert_close(yb.double(), plain["4d"][0], rtol=2e-2, atol=2e-2)
    # not channels_last: the plain formula (F.rms_norm would hand back a different memory layout)
    calls = []
    monkeypatch.setattr(layers, "_rms_norm_last", lambda *a, **k: calls.append(1))
    layers.pixel_norm(torch.randn(2, 4, 3, 3))
    assert not calls


@pytest.mark.parametrize("group_size,sub_batch", [(4, None), (4, 8), (1, None), (2, 4)])
def test_minibatch_stddev_variance_kernel_equals_the_tf_formula(monkeypatch, group_size, sub_batch):
    """CUDA's minibatch stddev takes the group variance with one torch.var kernel (layers.VAR_STDDEV_DEVICES): the
    values and gradients (the GP's double backward included) of the TF code's mean((y - mean(y))^2), up to rounding."""
    from wildgan.nets import layers

    g = torch.Generator().manual_seed(group_size)
    x0 = torch.randn(16, 5, 4, 4, generator=g) * 3 + 1
    out = []
    for devices in (set(), {"cpu"}):
        monkeypatch.setattr(layers, "VAR_STDDEV_DEVICES", devices)
        x = x0.clone().requires_grad_(True)
        y = layers.minibatch_stddev(x, group_size, sub_batch)
        w = torch.linspace(-1, 1, y.numel()).view_as(y)
        (gx,) = torch.autograd.grad((y * w).sum(), x, create_graph=True)
        (ggx,) = torch.autograd.grad(gx.square().sum(), x)
        out.append((y.detach(), gx.detach(), ggx))
    for a, b in zip(*out):
        # (atol at the tensor's scale: a near-zero element of the second derivative carries the rounding of the
        # large ones; with groups of 2 the std is |a - b| / 2, whose second derivative is rounding noise alone)
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5 * max(1.0, float(a.abs().max())))
    assert not torch.equal(out[0][1], torch.zeros_like(out[0][1]))


def test_layers_pickled_before_the_run_time_weight_attributes_still_run():
    """A Detector / module pickled before FlatWeights' attributes existed unpickles without them: the forwards read
    the class-level defaults (an AttributeError in the fused conv's forward otherwise)."""
    import pickle

    layers_ = [EqLinear(4, 3), EqConv2d(2, 3, 3), EqConv2d(2, 3, 3, mode="up"), EqConv2d(2, 3, 3, mode="down")]
    xs = [torch.randn(2, 4)] + [torch.randn(2, 2, 4, 4)] * 3
    for m, x in zip(layers_, xs):
        want = m(x)
        for a in ("_pw", "_pb", "_pwc"):
            m.__dict__.pop(a, None)
        old = pickle.loads(pickle.dumps(m))
        assert torch.equal(old(x), want)


def test_building_the_networks_leaves_cudas_generators_alone(monkeypatch):
    # fork_rng(devices=[]) puts back the CPU generator alone: torch.manual_seed in it also seeded every CUDA generator
    # (an initialised CUDA's for good, else queued for its first use), so scoring's untrained control reseeded the
    # caller's GPU stream. Seeded through the CPU generator (the networks are built on the CPU): the same weights
    from wildgan.config import FAnoGANConfig
    from wildgan.nets.fanogan import build_fanogan
    from wildgan.nets.pgan import Generator

    seeded: list[int] = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda s: seeded.append(int(s)))
    cfg = NetConfig(resolution=16, channels=1, fmap_base=64, fmap_max=8)
    nets = build_pgan(cfg, 3)
    build_fanogan(FAnoGANConfig(dim=8), 32, 1, seed=3)
    assert seeded == []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)                      # (the weights torch.manual_seed(3) gave)
        ref = Generator(cfg, True)
    for p, q in zip(nets.G.parameters(), ref.parameters()):
        assert torch.equal(p, q)
