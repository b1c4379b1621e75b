"""Score functions (pure) and the batch protocol of pGAN scoring."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wildgan.config import ScoreConfig, net_config_for_preset
from wildgan.evaluation.metrics import evaluate_scores, pixel_statistics, roc_auc
from wildgan.nets import build_pgan
from wildgan.scoring import batch_order, score_pgan
from wildgan.scoring.scores import (all_scores, combined_score, fanogan_score, latent_origin_score, minmax,
                                    normalised_residual, residual_norm)


def test_scores_by_hand():
    q = torch.zeros(1, 1, 2, 2)
    q[0, 0, 0, 0] = 1.0
    rec = torch.zeros(1, 1, 2, 2)
    rec[0, 0, 1, 1] = 3.0
    assert residual_norm(q, rec).item() == pytest.approx(math.sqrt(1 + 9))
    # w(q) = q, w(rec) = rec / 3 -> difference has two unit entries; L2 = sqrt(2), N_X = 4
    assert normalised_residual(q, rec).item() == pytest.approx(math.sqrt(2) / 4)
    z = torch.tensor([[3.0, 4.0, 0.0, 0.0]])
    assert latent_origin_score(z).item() == pytest.approx(-5 / 2)
    assert combined_score(torch.tensor(1.0), torch.tensor(-2.0), 0.05).item() == pytest.approx(0.05 - 1.9)


def test_fanogan_score_weights_only_the_feature_term_by_kappa():
    # spec 4.3 / 5.3: A = mean (Q - X_rec)^2 + kappa * mean (f(Q) - f(X_rec))^2. Pixel term 4, feature term 9: with
    # kappa = 0.5 that is 8.5 (kappa on the pixel term instead would give 11); kappa 1, the default, cannot tell
    q, rec = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 2.0)
    fq, frec = torch.zeros(1, 3, 1, 1), torch.full((1, 3, 1, 1), 3.0)
    assert fanogan_score(q, rec, fq, frec, kappa=0.5).item() == pytest.approx(4 + 0.5 * 9)
    assert fanogan_score(q, rec, fq, frec, kappa=0.0).item() == pytest.approx(4)
    assert all_scores(q, rec, torch.ones(1, 4), fq, frec, kappa=0.5)["A"].item() == pytest.approx(8.5)


def test_minmax_is_joint_over_channels():
    x = torch.zeros(1, 2, 1, 1)
    x[0, 0] = 1.0
    x[0, 1] = 3.0
    assert torch.equal(minmax(x).flatten(), torch.tensor([0.0, 1.0]))


def test_minmax_is_per_image():
    # each image to its own [0, 1]: an image's L_n does not depend on the other images of its batch
    g = torch.Generator().manual_seed(0)
    x, rec = torch.randn(3, 2, 4, 4, generator=g), torch.randn(3, 2, 4, 4, generator=g)
    x[1] *= 50.0                                    # one image with a far larger range
    m = minmax(x)
    for i in range(3):
        torch.testing.assert_close(m[i], minmax(x[i:i + 1])[0])
        assert m[i].min() == 0.0 and m[i].max() == 1.0
    torch.testing.assert_close(normalised_residual(x, rec)[[0, 2]], normalised_residual(x[[0, 2]], rec[[0, 2]]))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.floats(0.01, 100), st.floats(-50, 50), st.integers(0, 10_000))
def test_minmax_invariant_to_positive_affine_maps(n, scale, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 4, 4, generator=g, dtype=torch.float64)
    y = minmax(x * scale + shift)
    assert torch.allclose(minmax(x), y, atol=1e-6)
    assert torch.isfinite(y).all()
    rec = torch.randn(n, 3, 4, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(normalised_residual(x, rec), normalised_residual(x * scale + shift, rec), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_scores_finite_for_any_valid_input(seed, constant):
    g = torch.Generator().manual_seed(seed)
    q = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    if constant:
        q = torch.full_like(q, 0.3)            # max = min: guarded
    rec = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    z = torch.randn(3, 8, generator=g)
    s = all_scores(q, rec, z, torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g))
    assert all(torch.isfinite(v).all() for v in s.values())


def test_padding_images_keep_the_scores_of_their_first_batch():
    # the last batch is filled up with images from the start of the order (batch_order); their scores in that batch
    # (another minibatch-stddev group) are dropped for those of the batch they first met, whatever order the
    # per-batch parts come in (ranks gather them out of order)
    from wildgan.scoring.pgan_scores import assemble

    batches = [np.array([2, 0, 3, 1]), np.array([4, 5, 2, 0])]
    parts = [(1, {"a": np.array([14.0, 15.0, 99.0, 99.0])}, np.full((4, 2), 1.0, np.float32), None),
             (0, {"a": np.array([12.0, 10.0, 13.0, 11.0])}, np.full((4, 2), 0.0, np.float32), None)]
    scores, z, _ = assemble(6, batches, parts, 2)
    assert scores["a"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert z[:, 0].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]


def test_batch_order_covers_everything_and_pads_to_groups():
    for n, b in [(10, 4), (130, 64), (3, 64), (64, 64), (65, 64), (7, 8)]:
        batches = batch_order(n, b, seed=0)
        assert set(np.concatenate(batches)) == set(range(n))
        for bt in batches:
            assert n < 4 or len(bt) % 4 == 0
    assert all(np.array_equal(a, b) for a, b in zip(batch_order(100, 64, 1), batch_order(100, 64, 1)))


def _images(n=24, seed=0):
    return (np.random.default_rng(seed).random((n, 16, 16, 1)) * 255).astype(np.uint8)


def test_pgan_scores_reproducible_and_batch_dependence_documented():
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    x = _images(30)
    a = score_pgan(nets, x, ScoreConfig(batch_size=8))
    b = score_pgan(nets, x, ScoreConfig(batch_size=8))
    np.testing.assert_array_equal(a.scores["a"], b.scores["a"])
    # mixed batches: another shuffle changes E(Q) a little (minibatch stddev) ...
    c = score_pgan(nets, x, ScoreConfig(batch_size=8, shuffle_seed=5))
    assert not np.array_equal(a.z, c.z)
    # ... isolated mode does not depend on batch composition at all
    i1 = score_pgan(nets, x, ScoreConfig(batch_size=8), batch_mode="isolated")
    i2 = score_pgan(nets, x, ScoreConfig(batch_size=8, shuffle_seed=5), batch_mode="isolated")
    np.testing.assert_allclose(i1.z, i2.z, rtol=1e-5, atol=1e-6)
    assert set(a.scores) == {"a", "L_n", "L_o", "L_r", "A", "z_norm"}
    assert all(np.isfinite(v).all() for v in a.scores.values())
    np.testing.assert_allclose(a.scores["L_o"], -np.linalg.norm(a.z, axis=1) / math.sqrt(a.z.shape[1]), rtol=1e-5)


def test_stacked_forwards_give_the_scores_of_one_forward_per_batch():
    """A GPU scores 16 batches of 64 in one forward (E's minibatch stddev per sub-batch); the scores must be the
    protocol's (one forward per batch), padding and the unequal last batch included."""
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    x = _images(30)
    for b in (4, 8):
        ref = score_pgan(nets, x, ScoreConfig(batch_size=b), batches_per_forward=1)
        for k in (2, 3, 16):
            r = score_pgan(nets, x, ScoreConfig(batch_size=b), batches_per_forward=k, return_recon=True)
            np.testing.assert_allclose(r.z, ref.z, rtol=1e-5, atol=1e-6)
            for name in ref.scores:
                np.testing.assert_allclose(r.scores[name], ref.scores[name], rtol=1e-5, atol=1e-7)
    # the batch size itself is part of the protocol: strided stddev groups change with it
    assert not np.allclose(score_pgan(nets, x, ScoreConfig(batch_size=4)).z,
                           score_pgan(nets, x, ScoreConfig(batch_size=8)).z, rtol=1e-5, atol=1e-6)


def test_a_stack_that_runs_out_of_gpu_memory_is_split_and_gives_the_same_scores(monkeypatch):
    """16 x 64 images per forward peak near 35 GB at width 512 in fp32: a forward that runs out of memory is split in
    halves (down to one batch) and the scores are those of one forward per batch (the OOM is simulated on the CPU).
    The smaller stack is remembered for later calls on the same networks."""
    import warnings

    from wildgan.errors import WildganError

    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    x = _images(36)                                     # batches of 8: four full ones and an unequal last one of 4
    ref = score_pgan(nets, x, ScoreConfig(batch_size=8), batches_per_forward=1)
    real_forward, sizes = type(nets.E).forward, []

    def forward(self, img, lod=0.0):
        sizes.append(img.shape[0])
        if img.shape[0] > 16:                           # "memory" for two batches of 8
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 34.00 GiB")
        return real_forward(self, img, lod)

    monkeypatch.setattr(type(nets.E), "forward", forward)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        r = score_pgan(nets, x, ScoreConfig(batch_size=8), batches_per_forward=8)
    said = [str(w.message) for w in rec]
    assert len(said) == 1 and "with 4 batches of 8 images per forward; going on with 2" in said[0], said
    # the 4 full batches fail as one stack, then go 2 + 2; the unequal last batch goes alone
    assert sizes == [32, 16, 16, 4], sizes
    np.testing.assert_allclose(r.z, ref.z, rtol=1e-5, atol=1e-6)
    for name in ref.scores:
        np.testing.assert_allclose(r.scores[name], ref.scores[name], rtol=1e-5, atol=1e-7)
    sizes.clear()                                       # the next call starts with the stack that fitted
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        score_pgan(nets, x, ScoreConfig(batch_size=8), batches_per_forward=8)
    assert sizes == [16, 16, 4] and not rec
    # not even one batch fits: a clear error, not a loop
    monkeypatch.setattr(type(nets.E), "forward", lambda self, img, lod=0.0: (_ for _ in ()).throw(
        torch.cuda.OutOfMemoryError("CUDA out of memory")))
    with pytest.raises(WildganError, match="one batch of 8 images.*device 'cpu'"), pytest.warns(UserWarning):
        score_pgan(nets, x, ScoreConfig(batch_size=8), batches_per_forward=2)


def test_scoring_without_A_skips_the_critic_and_keeps_every_other_score(monkeypatch):
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    x = _images(30)
    ref = score_pgan(nets, x, ScoreConfig(batch_size=8))

    def no_critic(*a, **k):
        raise AssertionError("D.features called although A was not asked for")

    monkeypatch.setattr(nets.D, "features", no_critic)
    r = score_pgan(nets, x, ScoreConfig(batch_size=8), with_A=False, batches_per_forward=2)
    assert set(r.scores) == set(ref.scores) - {"A"}
    for name in r.scores:
        np.testing.assert_allclose(r.scores[name], ref.scores[name], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(r.z, ref.z, rtol=1e-5, atol=1e-6)


def test_channels_last_scoring_gives_the_same_scores_and_leaves_the_weights_as_they_were():
    # CUDA scores in channels_last (scoring.pgan_scores.channels_last_weights); forced here on the CPU
    from wildgan.scoring.pgan_scores import score_batches

    # colour: with one channel the images are channels_last and contiguous at once (the check below could not tell)
    nets = build_pgan(net_config_for_preset("tiny", 16, 3), 0)
    x = (np.random.default_rng(0).random((30, 16, 16, 3)) * 255).astype(np.uint8)
    def layout():
        return {(m, n): (p, p.data_ptr(), p.stride()) for m in ("Gs", "E", "D")
                for n, p in getattr(nets, m).named_parameters()}

    before = layout()
    # (G's activation entering its 16x16 conv channels_last?, that conv's weight channels_last?): G's activations
    # start from a dense layer's NCHW view (E's already follow the NHWC-strided queries)
    seen = []
    conv = nets.Gs.conv["4"]
    conv.register_forward_pre_hook(lambda m, a: seen.append(
        (a[0].is_contiguous(memory_format=torch.channels_last),
         m.weight.is_contiguous(memory_format=torch.channels_last))))
    batches = batch_order(len(x), 8, 0)
    ref = score_batches(nets, x, batches, range(len(batches)), ScoreConfig(batch_size=8), channels_last=False)
    assert seen and not any(q or w for q, w in seen)
    seen.clear()
    got = score_batches(nets, x, batches, range(len(batches)), ScoreConfig(batch_size=8), channels_last=True,
                        batches_per_forward=2)
    assert seen and all(q and w for q, w in seen)
    for (bi, s_ref, z_ref, _), (bj, s_got, z_got, _) in zip(ref, got):
        assert bi == bj
        np.testing.assert_allclose(z_got, z_ref, rtol=1e-5, atol=1e-6)
        for k in s_ref:
            np.testing.assert_allclose(s_got[k], s_ref[k], rtol=1e-5, atol=1e-7)
    assert layout() == before                 # the same tensors, in the same layout, afterwards


def test_channels_last_weights_are_put_back_when_the_conversion_fails_half_way(monkeypatch):
    from wildgan.scoring.pgan_scores import channels_last_weights

    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    before = [(p, p.data_ptr(), p.stride()) for p in nets.E.parameters()]
    real, calls = torch.Tensor.contiguous, []

    def fails_on_the_third(self, *a, **k):
        if k.get("memory_format") is torch.channels_last:
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("CUDA out of memory (simulated)")
        return real(self, *a, **k)

    monkeypatch.setattr(torch.Tensor, "contiguous", fails_on_the_third)
    with pytest.raises(RuntimeError, match="simulated"):
        with channels_last_weights([nets.E]):
            pass
    assert len(calls) == 3 and [(p, p.data_ptr(), p.stride()) for p in nets.E.parameters()] == before


def test_minibatch_stddev_sub_batches_equal_separate_calls():
    from wildgan.nets.layers import minibatch_stddev

    x = torch.randn(24, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    stacked = minibatch_stddev(x, 4, sub_batch=8)
    separate = torch.cat([minibatch_stddev(x[i:i + 8], 4) for i in range(0, 24, 8)])
    torch.testing.assert_close(stacked, separate, rtol=0, atol=0)
    torch.testing.assert_close(minibatch_stddev(x, 4, sub_batch=24), minibatch_stddev(x, 4), rtol=0, atol=0)
    with pytest.raises(ValueError, match="sub-batch"):
        minibatch_stddev(x, 4, sub_batch=10)


def test_metrics_no_flipping_and_controls():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.9, 0.8, 0.1, 0.2])) == 0.0     # a bad score stays bad
    m = evaluate_scores({"s": np.array([0.1, 0.2, 0.8, 0.9])}, y)
    assert m["auc"]["s"] == 1.0 and m["ap"]["s"] == 1.0
    x = np.zeros((2, 2, 2, 1), np.uint8)
    x[1] = 255
    ps = pixel_statistics(x)
    assert ps["pixel_norm"][0] == pytest.approx(-2.0) and ps["pixel_norm"][1] == pytest.approx(-2.0)
    assert ps["pixel_mean"][0] == pytest.approx(1.0) and ps["pixel_mean"][1] == pytest.approx(-1.0)


def test_pixel_controls_tie_images_of_equal_statistics():
    # the same pixels in another order have the same norm, std and mean: their control scores must tie (AUC 0.5 for
    # one normal and one anomalous such image); float sums in pixel order broke the tie (AUC 0 or 1)
    rng = np.random.default_rng(128)
    a = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    b = a.reshape(-1)[rng.permutation(a.size)].reshape(a.shape)
    ps = pixel_statistics(np.concatenate([a, b]))
    for k, v in ps.items():
        assert v[0] == v[1], k
        assert roc_auc(np.array([0, 1]), v) == 0.5, k
    # the values are those of q = x * 2/255 - 1, in float64
    q = a.reshape(1, -1).astype(np.float64) * 2 / 255 - 1
    assert ps["pixel_norm"][0] == pytest.approx(-np.linalg.norm(q), rel=1e-12)
    assert ps["pixel_std"][0] == pytest.approx(-q.std(), rel=1e-12)
    assert ps["pixel_mean"][0] == pytest.approx(-q.mean(), rel=1e-12)


def test_metrics_refuse_labels_that_are_not_0_or_1():
    s = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="found 0.5"):
        roc_auc(np.array([0, 0.5, 1]), s)        # the old cast to int read 0.5 as 0: AUC 1.0
    with pytest.raises(ValueError, match="got an array of <U1"):
        roc_auc(np.array(["n", "a", "n"]), s)
    # 0/1 as floats, booleans (a mask) or objects (a spreadsheet column) are fine
    assert roc_auc(np.array([0.0, 1.0, 1.0]), s) == roc_auc(np.array([False, True, True]), s) == 1.0
    assert roc_auc(np.array([0, 1, 1], dtype=object), s) == 1.0


def test_scoring_at_a_reached_lod_uses_reduced_queries():
    from wildgan.scoring.pgan_scores import at_lod
    from wildgan.training.loop import build_pyramid, u8_to_float

    x = (np.random.default_rng(0).random((4, 16, 16, 1)) * 255).astype(np.uint8)
    q = torch.from_numpy(x).permute(0, 3, 1, 2).float() * (2 / 255) - 1
    pyr = build_pyramid(x, torch.device("cpu"))
    # integer lod: the box average the training pyramid holds (up to its uint8 rounding)
    assert torch.allclose(at_lod(q, 1.0), u8_to_float(pyr[8]), atol=1.0 / 255 + 1e-6)
    assert at_lod(q, 0.0) is q
    mid = at_lod(q, 1.5)                  # mid-fade at 8x8: half the 4x4 content, upsampled
    assert mid.shape == (4, 1, 8, 8)
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    r = score_pgan(nets, x, ScoreConfig(batch_size=4), lod=1.5, return_recon=True)
    assert r.recon.shape == x.shape and all(np.isfinite(v).all() for v in r.scores.values())


def test_no_images_give_empty_scores_not_an_error():
    from wildgan.config import SCORE_NAMES, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.scoring.pgan_scores import batch_order, score_pgan

    assert batch_order(0, 64, 1000) == []
    nets = build_pgan(net_config_for_preset("tiny", 8, 1), 0)
    res = score_pgan(nets, np.zeros((0, 8, 8, 1), np.uint8))
    assert set(res.scores) >= set(SCORE_NAMES) and all(len(v) == 0 for v in res.scores.values())
    assert res.z.shape[0] == 0
    assert "A" not in score_pgan(nets, np.zeros((0, 8, 8, 1), np.uint8), with_A=False).scores


# ---- An independent float64 reference of the scored networks and every score, written from the spec (1.2-1.5, 4.2,
# 4.3) with unfused ops: nearest upsample + conv for G's up-convs, conv + 2x2 average for the down-convs, strided
# minibatch-stddev groups. The formula tests above cannot see a wrong layer in D.features (f of A), a fade mixing the
# wrong paths, or G fed the wrong latent; this compares score_pgan with the spec end to end.

def _ref_nets_scores(nets, x_u8: np.ndarray, lod: float, batch: np.ndarray) -> dict[str, np.ndarray]:
    import torch.nn.functional as F

    def sd(m):
        return {k: v.detach().double() for k, v in m.state_dict().items()}

    lr = lambda t: torch.where(t >= 0, t, 0.2 * t)                              # noqa: E731
    pn = lambda t: t / torch.sqrt((t * t).mean(dim=1, keepdim=True) + 1e-8)     # noqa: E731
    up = lambda t: t.repeat_interleave(2, 2).repeat_interleave(2, 3)           # noqa: E731
    avg = lambda t: F.avg_pool2d(t, 2)                                          # noqa: E731

    def conv(t, p, name, gain=math.sqrt(2.0)):
        w = p[name + ".weight"]
        return F.conv2d(t, w * gain / math.sqrt(w[0].numel()), padding=w.shape[-1] // 2) + \
            p[name + ".bias"].view(1, -1, 1, 1)

    L = nets.G.cfg.resolution_log2
    base = math.floor(lod)
    r_cur, t = L - base, lod - base
    pG, pE, pD = sd(nets.Gs), sd(nets.E), sd(nets.D)

    def gen(z):
        c = pG["dense_bias"].shape[0]
        w = pG["dense.weight"] * (math.sqrt(2.0) / 4) / math.sqrt(pG["dense.weight"].shape[1])
        h = pn(lr((pn(z) @ w.T).view(len(z), c, 4, 4) + pG["dense_bias"].view(1, -1, 1, 1)))
        h = pn(lr(conv(h, pG, "conv4")))
        prev = h
        for r in range(3, r_cur + 1):
            prev = h
            h = pn(lr(conv(pn(lr(conv(up(h), pG, f"up.{r}"))), pG, f"conv.{r}")))
        img = conv(h, pG, f"to_rgb.{r_cur}", 1.0)
        return img if t == 0 else (1 - t) * img + t * up(conv(prev, pG, f"to_rgb.{r_cur - 1}", 1.0))

    def trunk(p, img):
        h = lr(conv(img, p, f"from_rgb.{r_cur}"))
        for r in range(r_cur, 2, -1):
            h = lr(avg(conv(lr(conv(h, p, f"conv.{r}")), p, f"down.{r}")))
            if r == r_cur and t > 0:
                h = (1 - t) * h + t * lr(conv(avg(img), p, f"from_rgb.{r - 1}"))
        return h

    def encode(img):
        f = trunk(pE, img)
        n, m = len(f), len(f) // 4
        groups = [f[[j + k * m for k in range(4)]] for j in range(m)]            # member k of group j: j + k*m
        std = torch.stack([torch.sqrt(g.var(0, unbiased=False) + 1e-8).mean() for g in groups])
        h = torch.cat([f, std[torch.arange(n) % m].view(n, 1, 1, 1).expand(n, 1, 4, 4)], 1)
        h = lr(conv(h, pE, "conv4")).flatten(1)
        w = pE["dense0.weight"]
        return lr(h @ (w * math.sqrt(2.0) / math.sqrt(w.shape[1])).T + pE["dense0.bias"])

    q = torch.from_numpy(x_u8[batch]).double().permute(0, 3, 1, 2) * (2 / 255) - 1
    for _ in range(base):
        q = avg(q)
    if t > 0:
        q = (1 - t) * q + t * up(avg(q))
    z = encode(q)
    rec = gen(z)
    n = len(q)

    def w(v):
        v = v.reshape(n, -1)
        lo, hi = v.min(1, keepdim=True).values, v.max(1, keepdim=True).values
        return (v - lo) / (hi - lo)

    l_n = (w(q) - w(rec)).norm(dim=1) / q[0].numel()
    l_o = -z.norm(dim=1) / math.sqrt(z.shape[1])
    feat = (trunk(pD, q) - trunk(pD, rec)).reshape(n, -1)
    return {"L_r": (q - rec).reshape(n, -1).norm(dim=1).numpy(), "L_n": l_n.numpy(), "L_o": l_o.numpy(),
            "a": (0.05 * l_n + 0.95 * l_o).numpy(),
            "A": ((q - rec).reshape(n, -1).square().mean(1) + feat.square().mean(1)).numpy()}


@pytest.mark.parametrize("lod", [0.0, 0.4, 1.0, 1.75])
def test_pgan_scores_match_an_independent_reference_of_the_spec(lod):
    nets = build_pgan(net_config_for_preset("tiny", 16, 3), 5)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():          # non-zero biases, and Gs != G (the scores must use Gs)
        for m in (nets.G, nets.D, nets.E):
            for name, p in m.named_parameters():
                if name.endswith("bias"):
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for p in nets.Gs.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    x = np.random.default_rng(2).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    res = score_pgan(nets, x, ScoreConfig(batch_size=8), lod=lod)
    (b,) = batch_order(8, 8, ScoreConfig().shuffle_seed)
    want = _ref_nets_scores(nets, x, lod, b)
    for k, v in want.items():
        np.testing.assert_allclose(res.scores[k][b], v, rtol=2e-5, atol=1e-7, err_msg=k)


def test_pixel_controls_refuse_what_is_not_integer_pixels_0_to_255():
    # the integer sums truncated float pixels without a word (127.6 read as 127, where the float formula before them
    # used 127.6): a float array, or integers outside 0..255, is refused by name
    x = np.full((2, 4, 4, 1), 127.6)
    with pytest.raises(ValueError, match="integer pixels 0..255 .*got an array of float64"):
        pixel_statistics(x)
    with pytest.raises(ValueError, match="pixels 0..255, got values from 0 to 256 \\(int16\\)"):
        pixel_statistics(np.array([[[0, 256]]], np.int16))
    # integer pixels of any integer dtype are those of uint8
    u8 = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    for k, v in pixel_statistics(u8.astype(np.int32)).items():
        np.testing.assert_array_equal(v, pixel_statistics(u8)[k])


def test_pixel_controls_hold_a_block_of_images_as_int64_not_the_whole_set(monkeypatch):
    # the exact integer sums made one int64 copy of every test image at once, 8 bytes a pixel (1.4 GB for the 60,000
    # images of CIFAR-10): a block at a time, the same numbers
    import tracemalloc

    from wildgan.evaluation import metrics

    x = np.random.default_rng(0).integers(0, 256, (3000, 16, 16, 3), dtype=np.uint8)      # 2.3 MB, 18 MB as int64
    whole = pixel_statistics(x)
    monkeypatch.setattr(metrics, "_PIXEL_BLOCK", 256, raising=False)
    tracemalloc.start()
    try:
        blocks = pixel_statistics(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * x.nbytes, peak
    for k, v in whole.items():
        np.testing.assert_array_equal(blocks[k], v)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=40))
def test_roc_auc_is_the_float_nearest_the_exact_pair_fraction(pairs):
    """The AUC is the fraction of (anomaly, normal) pairs ordered anomaly-higher, ties half, counted exactly and
    rounded once (scikit-learn's trapezoids give the same number with float noise: 0.41428571428571426 for 29/70 on
    the example below, written as such into eval.json)."""
    from fractions import Fraction

    y = np.array([p[0] for p in pairs])
    s = np.array([float(p[1]) for p in pairs])
    if y.min() == y.max():
        assert math.isnan(roc_auc(y, s))
        return
    pos, neg = s[y == 1], s[y == 0]
    exact = sum(Fraction(int(p > q) * 2 + int(p == q), 2) for p in pos for q in neg) / (len(pos) * len(neg))
    assert roc_auc(y, s) == float(exact)
    assert roc_auc(y, -s) == float(1 - exact)          # (reversed scores: the pairs the other way, ties the same)


def test_roc_auc_example_without_float_noise():
    y = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1])
    s = np.array([2, 3, 1, 0, 2, 3, 2, 4, 2, 3, 4, 5], dtype=float)
    assert roc_auc(y, s) == 29 / 70 and repr(roc_auc(y, s)) == "0.4142857142857143"


def _delong_by_pairs(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's AUCs and covariance from the definition, pair by pair (psi = 1, 1/2, 0), for the fast one to match."""
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    v10, v01 = [], []
    for s in scores:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    v10, v01 = np.array(v10), np.array(v01)
    return v10.mean(axis=1), np.cov(v10).reshape(len(scores), -1) / m + np.cov(v01).reshape(len(scores), -1) / n


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 4), st.integers(0, 4)), min_size=4, max_size=40))
def test_delong_matches_its_definition_pair_by_pair(rows):
    """The midrank computation (Sun & Xu) gives the pairwise definition's AUCs and covariance, ties (here many:
    scores 0-4) counted half, and its AUC is roc_auc's."""
    from wildgan.evaluation.metrics import delong

    y = np.array([r[0] for r in rows])
    s1, s2 = (np.array([float(r[i]) for r in rows]) for i in (1, 2))
    if min(int(y.sum()), int((1 - y).sum())) < 2:
        aucs, cov = delong(y, [s1, s2])
        assert np.isnan(cov).all()
        return
    aucs, cov = delong(y, [s1, s2])
    want_aucs, want_cov = _delong_by_pairs(y, [s1, s2])
    np.testing.assert_allclose(aucs, want_aucs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov, want_cov, rtol=0, atol=1e-12)
    assert aucs[0] == pytest.approx(roc_auc(y, s1), abs=1e-12)
    # the paired difference is the float nearest the exact difference of the pair fractions (no float noise)
    from fractions import Fraction

    from wildgan.evaluation.metrics import auc_difference

    def exact(s):
        pos, neg = s[y == 1], s[y == 0]
        return sum(Fraction(int(p > q) * 2 + int(p == q), 2) for p in pos for q in neg) / (len(pos) * len(neg))

    assert auc_difference(y, s1, s2)["diff"] == float(exact(s1) - exact(s2))


def test_delong_standard_error_agrees_with_a_bootstrap():
    """DeLong's standard errors of an AUC and of a paired difference are what resampling the test images gives
    (within 15%, 2,000 resamples of 400 images)."""
    from wildgan.evaluation.metrics import auc_ci, auc_difference

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.4).astype(int)
    s1 = rng.normal(size=400) + 0.6 * y
    s2 = 0.3 * s1 + rng.normal(size=400)                     # correlated with s1, as a control on the same images
    one, diff = [], []
    for _ in range(2000):
        i = rng.integers(0, 400, 400)
        a1, a2 = roc_auc(y[i], s1[i]), roc_auc(y[i], s2[i])
        one.append(a1)
        diff.append(a1 - a2)
    lo, hi = auc_ci(y, s1)
    assert (hi - lo) / (2 * 1.959964) == pytest.approx(np.std(one), rel=0.15)
    d = auc_difference(y, s1, s2)
    assert d["diff"] == pytest.approx(roc_auc(y, s1) - roc_auc(y, s2), abs=1e-12)
    assert d["se"] == pytest.approx(np.std(diff), rel=0.15)
    assert 0 < d["p"] < 0.05                                   # s1 separates better, and on 400 images it shows


def test_auc_ci_and_difference_where_they_are_undefined_or_degenerate():
    from wildgan.evaluation.metrics import auc_ci, auc_difference

    s = np.array([0.1, 0.4, 0.2, 0.9])
    assert all(math.isnan(v) for v in auc_ci(np.zeros(4, int), s))            # one class: no AUC
    assert all(math.isnan(v) for v in auc_ci(np.array([0, 0, 0, 1]), s))     # one anomaly: no variance over them
    assert all(math.isnan(v) for v in auc_ci(np.array([0, 1, 0, 1]), np.array([0.1, np.nan, 0.2, 0.3])))
    y = np.array([0, 0, 1, 1])
    assert auc_difference(y, s, s) == {"diff": 0.0, "se": 0.0, "p": 1.0, "test": "exact permutation"}
    lo, hi = auc_ci(np.array([0, 1, 0, 1, 0, 1]), np.array([0.1, 0.5, 0.6, 0.3, 0.2, 0.9]))
    assert 0.0 <= lo < roc_auc(np.array([0, 1, 0, 1, 0, 1]), np.array([0.1, 0.5, 0.6, 0.3, 0.2, 0.9])) < hi <= 1.0


def _newcombe_roots(auc: float, m: int, n: int, scale: float = 1.0) -> np.ndarray:
    """The real roots in [0, 1] of Newcombe's (method 5) score equation (auc - t)^2 = z^2 scale V(t), multiplied
    out by (2 - t)(1 + t) into a quartic: the ends of his interval, found another way than auc_ci's bisection."""
    from numpy.polynomial import polynomial as P

    z2, k = 1.959963984540054 ** 2 * scale, (m + n) / 2 - 1
    t = [0.0, 1.0]
    two_minus, one_plus, one_minus = [2.0, -1.0], [1.0, 1.0], [1.0, -1.0]
    lhs = m * n * P.polymul(P.polymul(P.polypow([auc, -1.0], 2), two_minus), one_plus)
    inner = P.polyadd(P.polyadd(P.polymul(two_minus, one_plus), k * P.polymul(one_minus, one_plus)),
                      k * P.polymul(t, two_minus))
    rhs = z2 * P.polymul(P.polymul(t, one_minus), inner)
    r = P.polyroots(P.polysub(lhs, rhs))
    r = r.real[(abs(r.imag) < 1e-9) & (r.real > -1e-9) & (r.real < 1 + 1e-9)]
    return np.sort(np.clip(r, 0, 1))


def _newcombe_v(a: float, m: int, n: int) -> float:
    k = (m + n) / 2 - 1
    return a * (1 - a) * (1 + k * (1 - a) / (2 - a) + k * a / (1 + a)) / (m * n)


def _expected_ci(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """auc_ci from its definition: the hull of DeLong's logit interval and Newcombe's score interval (the quartic's
    roots on each side of the AUC)."""
    from wildgan.evaluation.metrics import delong

    aucs, cov = delong(y, [s])
    a, var = roc_auc(y, s), cov[0, 0]
    m, n = int(y.sum()), int((1 - y).sum())
    logit, half = math.log(a / (1 - a)), 1.959963984540054 * math.sqrt(var) / (a * (1 - a))
    roots = _newcombe_roots(a, m, n)
    lo, hi = roots[roots < a].max(), roots[roots > a].min()
    return min(1 / (1 + math.exp(half - logit)), lo), max(1 / (1 + math.exp(-logit - half)), hi)


def test_auc_ci_at_an_auc_of_0_or_1_is_newcombes_score_interval():
    """2 anomalies above 3 normal images: DeLong's Wald interval read 1.000-1.000 (no variance); now Newcombe's
    score interval, whose lower end is the quartic's root below 1. Reversed scores: the mirror image at 0; scores all
    tied (AUC 0.5, no DeLong variance): his interval, symmetric."""
    from wildgan.evaluation.metrics import auc_ci

    y = np.array([0, 0, 0, 1, 1])
    lo, hi = auc_ci(y, np.array([0.1, 0.2, 0.3, 0.9, 0.8]))
    roots = _newcombe_roots(1.0, 2, 3)
    assert hi == 1.0 and 0.3 < lo < 0.6 and lo == pytest.approx(roots[roots < 1 - 1e-6].max(), abs=1e-9)
    lo0, hi0 = auc_ci(y, -np.array([0.1, 0.2, 0.3, 0.9, 0.8]))
    assert lo0 == 0.0 and hi0 == pytest.approx(1 - lo, abs=1e-12)
    lo, hi = auc_ci(y, np.zeros(5))
    assert lo == pytest.approx(1 - hi, abs=1e-12) and 0.0 < lo < 0.3
    assert [lo, hi] == pytest.approx(list(_newcombe_roots(0.5, 2, 3)[[0, -1]]), abs=1e-9)


def test_auc_ci_inside_0_1_holds_delongs_logit_and_newcombes_score_interval():
    """Inside (0, 1) the interval is the hull of DeLong's on the logit scale and Newcombe's score interval. One pair
    of 20 x 200 ranked wrong: DeLong's variance is far below Newcombe's, and the lower end stays just below the
    perfect ranking's (a floor on the logit scale put it near 0.1; Newcombe's variance scaled down to DeLong's put
    it above)."""
    from wildgan.evaluation.metrics import auc_ci, delong

    y, s = np.array([0, 1, 0, 1, 0, 1]), np.array([0.1, 0.5, 0.6, 0.3, 0.2, 0.9])
    assert auc_ci(y, s) == pytest.approx(_expected_ci(y, s), abs=1e-9)
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(30, int), np.zeros(60, int)]
    for shift in (0.3, 1.5, 3.0):
        s = rng.normal(size=90) + shift * y
        assert auc_ci(y, s) == pytest.approx(_expected_ci(y, s), abs=1e-9), shift
    y, s = np.r_[np.ones(20, int), np.zeros(200, int)], np.r_[np.arange(1.0, 21.0), 1.5, np.zeros(199)]
    aucs, cov = delong(y, [s])
    assert roc_auc(y, s) == 3999 / 4000 and cov[0, 0] < _newcombe_v(3999 / 4000, 20, 200) / 10
    lo, hi = auc_ci(y, s)
    assert (lo, hi) == pytest.approx(_expected_ci(y, s), abs=1e-9)
    perfect = auc_ci(y, np.r_[np.arange(1.0, 21.0), 0.5, np.zeros(199)])
    assert perfect[1] == 1.0 and 0.9 < lo < perfect[0] < 3999 / 4000 < hi < 1


@pytest.mark.parametrize("m,n", [(3, 10), (5, 5), (8, 30), (10, 50), (20, 200), (50, 50)])
def test_auc_ci_never_gives_a_better_ranking_a_lower_lower_end(m, n):
    """The lowest anomaly moved below 0, 1, 2 ... normal images: each wrong pair lowers the AUC, and the interval's
    lower end must not rise. auc_ci for some hours of 2026-12-02 gave a perfect ranking of 10 + 50 images 0.880-1 and
    one with a pair wrong 0.936-1.000 (its score interval's variance, scaled to DeLong's, had a floor of 1/2 inside
    (0, 1) and none at the ends)."""
    from wildgan.evaluation.metrics import auc_ci

    y = np.r_[np.ones(m, int), np.zeros(n, int)]
    lows = []
    for k in range(min(n, 8) + 1):
        s = np.r_[n - 0.5 - k, n + 10.0 + np.arange(m - 1), np.arange(float(n))]
        lows.append(auc_ci(y, s)[0])
    assert all(b <= a for a, b in zip(lows, lows[1:])), lows


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3)), min_size=4, max_size=30))
def test_auc_ci_holds_the_auc_inside_0_1_and_never_has_zero_width(rows):
    from wildgan.evaluation.metrics import auc_ci

    y = np.array([r[0] for r in rows])
    s = np.array([float(r[1]) for r in rows])
    lo, hi = auc_ci(y, s)
    if min(int(y.sum()), int((1 - y).sum())) < 2:
        assert math.isnan(lo) and math.isnan(hi)
        return
    assert 0.0 <= lo <= roc_auc(y, s) <= hi <= 1.0 and hi - lo > 0.05


def test_auc_ci_on_a_thousand_images_of_each_class_is_delongs_wald_interval():
    """Where the normal approximation holds, the interval agrees with AUC +- 1.96 se (the interval given up to
    2026-12-02): within 0.001 and 1% of its width at CIFAR_CAR's AUCs near 0.69 on its 1,000 + 1,000 test images, so
    that their intervals stay put; at 0.9 Newcombe's score interval reaches 0.002 lower (the price of a score
    interval that holds on small test sets: Hanley and McNeil's variance is above DeLong's on binormal scores
    there)."""
    from wildgan.evaluation.metrics import auc_ci, delong

    rng = np.random.default_rng(3)
    y = np.r_[np.ones(1000, int), np.zeros(1000, int)]
    for shift, close, width in ((0.7, 0.001, 0.01), (1.8, 0.002, 0.08)):     # AUCs near 0.69 and 0.9
        s = rng.normal(size=2000) + shift * y
        aucs, cov = delong(y, [s])
        half = 1.959963984540054 * math.sqrt(cov[0, 0])
        lo, hi = auc_ci(y, s)
        assert abs(lo - (aucs[0] - half)) < close and abs(hi - (aucs[0] + half)) < close
        assert hi - lo == pytest.approx(2 * half, rel=width)


def test_auc_ci_covers_the_true_auc_with_five_images_of_each_class():
    """400 test sets of 5 anomalies N(d, 1) and 5 normal images N(0, 1), true AUC 0.9: the interval holds 0.9 in at
    least 93% of them (0.97-0.995 over 6 seeds measured; benchmarks/auc_coverage.py gives 0.98 on 4,000), without
    being the whole of [0, 1]. DeLong's Wald interval held it in 66-70% (a third of the sets rank all 25 pairs right
    and got the interval 1.000-1.000)."""
    from statistics import NormalDist

    from wildgan.evaluation.metrics import auc_ci

    rng = np.random.default_rng(0)
    d = math.sqrt(2) * NormalDist().inv_cdf(0.9)
    y = np.r_[np.ones(5, int), np.zeros(5, int)]
    cis = np.array([auc_ci(y, np.r_[rng.normal(size=5) + d, rng.normal(size=5)]) for _ in range(400)])
    assert ((cis[:, 0] <= 0.9) & (0.9 <= cis[:, 1])).mean() >= 0.93
    assert (cis[:, 1] - cis[:, 0]).mean() < 0.6


def test_auc_difference_with_no_delong_variance_gives_a_p_from_the_intervals():
    """Perfect against constant scores: DeLong's variance of the difference is 0, and p was 0 on 4 images. Now the
    se is Newcombe's hybrid of the two auc_ci intervals (their sides toward each other, in quadrature), and DeLong's
    p (20 + 20 images) the normal one of it: well above 0 on few images, falling with more. On 2 + 2 images p is the
    exact permutation test's: only swapping no image or every one keeps the difference at 0.5, 2 of 16 swaps. Equal
    AUCs without variance (identical scores, two perfect scores) still give p 1."""
    from wildgan.evaluation.metrics import auc_ci, auc_difference

    y = np.array([0, 0, 1, 1])
    perfect, constant = np.array([0.1, 0.2, 0.8, 0.9]), np.zeros(4)
    d = auc_difference(y, perfect, constant)
    gap = math.hypot(1.0 - auc_ci(y, perfect)[0], auc_ci(y, constant)[1] - 0.5)
    assert d["diff"] == 0.5 and d["se"] == pytest.approx(gap / 1.959963984540054, rel=1e-12)
    assert d["p"] == 2 / 16 and d["test"] == "exact permutation"
    assert auc_difference(y, constant, perfect) == {**d, "diff": -0.5}
    assert auc_difference(y, perfect, perfect + 5) == {"diff": 0.0, "se": 0.0, "p": 1.0, "test": "exact permutation"}
    y20 = np.r_[np.zeros(20, int), np.ones(20, int)]
    d20 = auc_difference(y20, np.arange(40.0), np.zeros(40))
    lo = auc_ci(y20, np.arange(40.0))[0]
    se20 = math.hypot(1.0 - lo, auc_ci(y20, np.zeros(40))[1] - 0.5) / 1.959963984540054
    assert d20 == {"diff": 0.5, "se": pytest.approx(se20, rel=1e-12),
                   "p": pytest.approx(math.erfc(0.5 / se20 / 2 ** 0.5)), "test": "DeLong"}
    assert 0 < d20["p"] < 1e-5
    assert auc_difference(y20, np.arange(40.0), np.arange(40.0) * 3) == {"diff": 0.0, "se": 0.0, "p": 1.0,
                                                                         "test": "DeLong"}


def _brute_force_permutation_p(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """The paired permutation test by its definition: both scores to midranks over the images, then every one of
    the 2^N ways of swapping the two ranks within images, the share whose |AUC difference| is at least the
    observed one (in exact fractions)."""
    import itertools
    from fractions import Fraction

    def rankdata(x):                        # midranks, by counting: below + (equal + 1) / 2
        return np.array([(x < v).sum() + ((x == v).sum() + 1) / 2 for v in x])

    ra, rb = rankdata(a), rankdata(b)

    def auc(x):
        p, q = x[y == 1], x[y == 0]
        return sum(Fraction(2 * int(i > j) + int(i == j), 2) for i in p for j in q) / (len(p) * len(q))

    observed = abs(auc(ra) - auc(rb))
    hits = 0
    for swap in itertools.product((False, True), repeat=len(y)):
        s = np.array(swap)
        hits += abs(auc(np.where(s, rb, ra)) - auc(np.where(s, ra, rb))) >= observed
    return hits / 2 ** len(y)


def test_the_paired_permutation_p_is_the_brute_force_enumeration_of_every_swap():
    """Exact p-values of the permutation test (ranks swapped within images, Bandos, Rockette & Gur 2005) against
    the 2^N swaps enumerated one by one, on tiny test sets with and without ties, scores of any scale."""
    from wildgan.evaluation.metrics import auc_difference, paired_permutation_p

    rng = np.random.default_rng(3)
    for i, (m, n) in enumerate([(2, 3), (3, 4), (4, 4), (2, 7), (5, 3), (3, 6)] * 2):
        y = rng.permutation(np.r_[np.ones(m, int), np.zeros(n, int)])
        a = rng.normal(size=m + n) + y
        b = rng.integers(0, 3, m + n) * 10.0 + 1000 if i % 2 else np.exp(rng.normal(size=m + n) * 2) - y
        p, test = paired_permutation_p(y, a, b)
        assert test == "exact permutation"
        assert p == pytest.approx(_brute_force_permutation_p(y, a, b), rel=1e-12, abs=1e-15), (m, n)
        assert auc_difference(y, a, b)["p"] == p
    y = np.array([0, 1, 0, 1])
    assert all(math.isnan(v) for v in (paired_permutation_p(np.zeros(4, int), np.arange(4.0), np.ones(4))[0],
                                       paired_permutation_p(y, np.r_[0.0, np.nan, 1, 2], np.ones(4))[0]))


def test_the_paired_permutation_p_is_reproducible_by_monte_carlo_and_near_the_exact_one(monkeypatch):
    """Above PERMUTATION_EXACT_CELLS the p is a Monte-Carlo one from a fixed seed: the same on every call, of the
    form (1 + k) / (1 + draws), and within a few of its own standard errors of the exact p."""
    from wildgan.evaluation import metrics

    rng = np.random.default_rng(4)
    y = np.r_[np.ones(8, int), np.zeros(60, int)]
    a, b = rng.normal(size=68) + 0.8 * y, rng.normal(size=68) + 0.3 * y
    exact, test = metrics.paired_permutation_p(y, a, b)
    assert test == "exact permutation" and 0.01 < exact < 0.9
    monkeypatch.setattr(metrics, "PERMUTATION_EXACT_CELLS", 0)
    p, test = metrics.paired_permutation_p(y, a, b)
    assert test == "Monte-Carlo permutation" and metrics.paired_permutation_p(y, a, b) == (p, test)
    k = p * (1 + metrics.PERMUTATION_DRAWS) - 1
    assert k == pytest.approx(round(k), abs=1e-6)
    assert abs(p - exact) < 4 * math.sqrt(exact * (1 - exact) / metrics.PERMUTATION_DRAWS)
    assert metrics.auc_difference(y, a, b)["test"] == "Monte-Carlo permutation"


def test_the_paired_permutation_p_does_not_depend_on_the_scores_scales():
    """Ranks within each method: any increasing map of either score (another unit, a log, a shift) leaves p as it
    is, which DeLong's normal approximation also does but a permutation of the raw scores would not."""
    from wildgan.evaluation.metrics import auc_difference

    rng = np.random.default_rng(5)
    y = np.r_[np.ones(6, int), np.zeros(40, int)]
    a, b = rng.normal(size=46) + 1.5 * y, rng.normal(size=46) + 0.5 * y
    d = auc_difference(y, a, b)
    assert d["test"] == "exact permutation"
    assert auc_difference(y, np.exp(a) * 1e6, b / 1e3 - 7) == d
    assert auc_difference(y, a, np.round(b, 1))["p"] != d["p"]         # (ties it makes change the ranks)


def test_auc_difference_permutes_only_small_test_sets():
    """The switch: the permutation test where the smaller class has fewer than PERMUTATION_BELOW images, however
    many images there are (a bound of 5,000 images until 2026-12-03, for the cost), DeLong's normal p elsewhere
    (where its size was near 5%, benchmarks/auc_paired_size.py)."""
    from wildgan.evaluation import metrics

    below = metrics.PERMUTATION_BELOW
    assert metrics.uses_permutation(below - 1, 100_000) and metrics.uses_permutation(1_000_000, 2)
    assert not metrics.uses_permutation(below, below) and not metrics.uses_permutation(below, 100_000)
    assert not metrics.uses_permutation(0, 20)
    rng = np.random.default_rng(6)
    for m, n, test in ((below - 1, 3 * below, "exact permutation"), (below, 3 * below, "DeLong"),
                       (3 * below, below - 1, "exact permutation"), (2, 19_999, "Monte-Carlo permutation"),
                       (below, 19_990, "DeLong")):
        y = np.r_[np.ones(m, int), np.zeros(n, int)]
        a, b = rng.normal(size=m + n) + y, rng.normal(size=m + n) + 0.5 * y
        d = metrics.auc_difference(y, a, b)
        assert d["test"] == test, (m, n)
        normal = math.erfc(abs(d["diff"]) / d["se"] / math.sqrt(2.0))
        assert (d["p"] == normal) == (test == "DeLong")
        if test != "DeLong":
            assert d["p"] == metrics.paired_permutation_p(y, a, b)[0]


def test_auc_uncertainty_compares_with_a_pixel_control_below_half_flipped():
    """eval.json's paired tests: each score against its untrained twin and against each pixel control, a control
    below 0.5 with its sign flipped (max(AUC, 1 - AUC), the baseline the table says to beat); undefined numbers are
    null, so that the JSON stays standard."""
    from wildgan.evaluation.metrics import auc_difference, auc_uncertainty

    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.5).astype(int)
    trained = {"a": rng.normal(size=300) + y}
    untrained = {"a": rng.normal(size=300) + 0.2 * y}
    pixel = {"pixel_std": rng.normal(size=300) - 0.8 * y, "pixel_norm": rng.normal(size=300) + 0.1 * y}
    out = auc_uncertainty(trained, y, untrained, pixel)
    lo, hi = out["auc_ci95"]["a"]
    assert lo < roc_auc(y, trained["a"]) < hi
    vs = out["auc_vs_controls"]["a"]
    assert vs["pixel_std"]["flipped"] is True and "flipped" not in vs["pixel_norm"]
    assert vs["pixel_std"]["diff"] == pytest.approx(roc_auc(y, trained["a"]) - (1 - roc_auc(y, pixel["pixel_std"])))
    assert vs["untrained"] == auc_difference(y, trained["a"], untrained["a"])
    one_class = auc_uncertainty(trained, np.zeros(300, int), untrained, pixel)
    assert one_class["auc_ci95"]["a"] == [None, None] and one_class["auc_vs_controls"]["a"]["untrained"]["p"] is None
    assert auc_uncertainty(trained, y) == {"auc_ci95": {"a": [lo, hi]}, "auc_vs_controls": {"a": {}}}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=30))
def test_average_precision_is_the_float_nearest_the_exact_sum(pairs):
    """scikit-learn's definition (recall gained at each distinct score, highest first, times the precision there;
    ties enter together), summed exactly and rounded once; nan without anomalies."""
    from fractions import Fraction

    from sklearn.metrics import average_precision_score

    from wildgan.evaluation.metrics import average_precision

    y = np.array([p[0] for p in pairs])
    s = np.array([float(p[1]) for p in pairs])
    if y.max() == 0:
        assert math.isnan(average_precision(y, s))
        return
    exact = Fraction(0)
    for t in sorted(set(s), reverse=True):
        gained = int(y[s == t].sum())
        if gained:
            exact += Fraction(gained, int(y.sum())) * Fraction(int(y[s >= t].sum()), int((s >= t).sum()))
    assert average_precision(y, s) == float(exact)
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_average_precision_example_without_float_noise():
    from wildgan.evaluation.metrics import average_precision

    y = np.array([1, 1, 0, 1, 1, 0, 0, 1])
    s = np.array([2, 2, 3, 2, 4, 3, 0, 0], dtype=float)
    # (scikit-learn's float sum: 0.7250000000000001)
    assert average_precision(y, s) == 29 / 40 and repr(average_precision(y, s)) == "0.725"


def test_auc_difference_gives_the_permutation_p_with_one_image_of_a_class():
    """uses_permutation(1, n) is true and the permutation test needs only the ranks, but auc_difference returned
    p nan ('test': 'DeLong') because DeLong's variance (two images of each class) was nan: a check set with one
    anomaly got no p against its controls. The se stays nan; p is the brute-force enumeration's."""
    from wildgan.evaluation.metrics import auc_difference, paired_permutation_p, uses_permutation

    rng = np.random.default_rng(11)
    for y in (np.r_[1, np.zeros(7, int)], np.r_[0, np.ones(6, int)], np.array([True, False, False])):
        a, b = rng.normal(size=len(y)) + y, rng.normal(size=len(y))
        m = int(np.sum(y))
        assert uses_permutation(m, len(y) - m)
        d = auc_difference(y, a, b)
        assert d["test"] == "exact permutation" and math.isnan(d["se"]), d
        assert d["p"] == paired_permutation_p(y, a, b)[0]
        assert d["p"] == pytest.approx(_brute_force_permutation_p(np.asarray(y, int), a, b), rel=1e-12)
    d = auc_difference(np.r_[1, np.zeros(7, int)], np.r_[np.inf, np.zeros(7)], np.arange(8.0))
    assert math.isnan(d["p"]) and d["test"] == "DeLong"          # (a non-finite score: no AUC, no test)


def test_the_paired_permutation_p_matches_the_enumeration_on_degenerate_scores():
    """The weights' shortcut (_swap_weights) against the 2^N swaps where it could slip: a constant score, two equal
    or monotonically related scores, one score reversed, ties across the two scores' ranks, a perfect score, one
    image of a class, and labels given as bool or float."""
    from wildgan.evaluation.metrics import paired_permutation_p

    rng = np.random.default_rng(12)
    for trial in range(24):
        n_img = int(rng.integers(3, 9))
        m = int(rng.integers(1, n_img))
        y = rng.permutation(np.r_[np.ones(m, int), np.zeros(n_img - m, int)])
        v = rng.normal(size=n_img) + y
        a, b = [(np.zeros(n_img), v), (v, v.copy()), (v, np.exp(3 * v) - 5), (v, -v),
                (rng.integers(0, 3, n_img) * 1.0, rng.integers(1, 4, n_img) * 1.0),
                (y + 0.1 * rng.random(n_img), v)][trial % 6]
        want = _brute_force_permutation_p(y, a, b)
        for labels in (y, y.astype(bool), y.astype(float)):
            p, test = paired_permutation_p(labels, a, b)
            assert test == "exact permutation" and p == pytest.approx(want, rel=1e-12, abs=1e-15), (trial, labels)
    assert math.isnan(paired_permutation_p(np.array([0, 1, 0, 1]), np.r_[0.0, np.inf, 1, 2], np.ones(4))[0])


def test_batches_that_leave_images_out_are_refused():
    # score_pgan's `batches` must cover every image: one left out got a score of 0 (an assert, which python -O
    # strips, was all that stopped it)
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    x = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="batches cover 4 of the 8 images: 4 left out"):
        score_pgan(nets, x, ScoreConfig(batch_size=4), batches=[np.arange(4)])


def test_the_untrained_control_is_the_run_s_own_initial_networks():
    # 'untrained' is the run's architecture with the weights its training started from (build_pgan of its seed): the
    # control a trained score is judged against. Built with another seed (0 for every run), a study's seeds shared
    # one control and its ± over seeds showed no spread, which no test saw
    from wildgan.config import DataConfig, RunConfig, TrainConfig
    from wildgan.scoring.run import untrained_model

    net = net_config_for_preset("tiny", 8, 1)
    cfg = RunConfig(data=DataConfig(seed=3), net=net, train=TrainConfig(total_kimg=1.0, seed=3))
    got = untrained_model(cfg, "cpu").nets.modules()

    def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

    own, other = build_pgan(net, 3).modules(), build_pgan(net, 0).modules()
    assert set(got) == set(own) and all(same(got[k], own[k]) for k in own)
    assert not same(got["E"], other["E"]) and not same(got["G"], other["G"])
