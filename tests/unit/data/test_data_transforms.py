"""Pixel conversion rules: channels, sizes, 16-bit, alpha, float arrays, rotations, to_float."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from wildgan.data import to_float
from wildgan.data.transforms import (array_to_uint8, convert, next_pow2, pil_to_array, resize_one, rgb_to_gray,
                                     rotate_batch, to_channels)
from wildgan.errors import ConfigError, DataError


def test_to_float_range_and_layout():
    x = np.array([0, 128, 255], np.uint8).reshape(1, 1, 3, 1).repeat(3, axis=3)  # N=1, H=1, W=3, C=3
    t = to_float(x)
    assert t.dtype == torch.float32 and t.shape == (1, 3, 1, 3)
    assert torch.allclose(t[0, 0, 0], torch.tensor([-1.0, 128 * 2 / 255 - 1, 1.0]), atol=1e-6)
    assert torch.equal(to_float(torch.from_numpy(x)), t)
    with pytest.raises(DataError):
        to_float(x.astype(np.float32))


def test_rgb_to_gray_matches_pil():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(x).convert("L"))
    assert np.array_equal(rgb_to_gray(x)[..., 0], ref)
    assert to_channels(x[..., :1], 3).shape == (17, 23, 3)


def test_next_pow2():
    assert [next_pow2(n) for n in (1, 4, 5, 28, 32, 33, 64)] == [4, 4, 8, 32, 32, 64, 64]


@pytest.mark.parametrize("res", [4, 8, 16, 32, 64])
def test_convert_power_of_two(res):
    x = np.random.default_rng(1).integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
    out = convert(x, res, 1)
    assert out.shape == (3, res, res, 1) and out.dtype == np.uint8


def test_convert_rejects_bad_resolution():
    x = np.zeros((1, 8, 8, 1), np.uint8)
    for r in (3, 24, 0):
        with pytest.raises(ConfigError):
            convert(x, r, 1)


def test_pad_is_exact_and_centered():
    x = np.random.default_rng(2).integers(1, 256, (2, 28, 28, 1), dtype=np.uint8)
    out = convert(x, 32, 1, fit="pad")
    assert np.array_equal(out[:, 2:30, 2:30], x)
    assert out[:, :2].max() == 0 and out[:, 30:].max() == 0 and out[:, :, :2].max() == 0


def test_center_crop_then_resize():
    img = np.zeros((10, 30, 1), np.uint8)
    img[:, 10:20] = 200  # the centre square
    out = resize_one(img, 8)
    assert out.shape == (8, 8, 1) and out.min() == 200


def test_resize_is_antialiased_bilinear():
    img = np.zeros((64, 64, 1), np.uint8)
    img[::2] = 255  # stripes: an antialiased shrink gives mid gray, plain sampling would give 0 or 255
    out = resize_one(img, 8)
    assert 100 < out.mean() < 155


def test_resize_is_pil_bilinear_exactly():
    # the test above holds for any antialiasing filter (bicubic too): this pins the one the training pixels are made
    # with, which split.json's pixel checksum and an exported model's conversion metadata (RESIZE_FILTER) rely on
    img = np.random.default_rng(5).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    want = np.asarray(Image.fromarray(img).resize((16, 16), Image.Resampling.BILINEAR), dtype=np.uint8)
    assert np.array_equal(resize_one(img, 16), want)
    assert np.array_equal(convert(img[None], 16, 3)[0], want)


def test_depth16_rules():
    a = np.array([[1000, 3000], [5000, 65535]], np.uint16)
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    per = pil_to_array(img, "x", "per-image")[..., 0]
    assert per.min() == 0 and per.max() == 255
    assert np.array_equal(pil_to_array(img, "x", "global")[..., 0], np.rint(a / 257).astype(np.uint8))
    assert np.array_equal(pil_to_array(img, "x", "shift")[..., 0], (a >> 8).astype(np.uint8))
    with pytest.raises(ConfigError):
        pil_to_array(img, "x", "bogus")


def test_alpha_composited_on_black():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, 0, 3] = 255
    rgba[0, 1, 3] = 0
    rgba[1, :, 3] = 128
    out = pil_to_array(Image.fromarray(rgba, "RGBA"), "x")
    assert out.shape == (2, 2, 3)
    assert (out[0, 0] == 200).all() and (out[0, 1] == 0).all() and (out[1, 0] == 100).all()
    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    assert pil_to_array(la, "x").shape == (2, 2, 1)


def test_palette_gray_stays_gray_and_color_becomes_rgb():
    gray = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).convert("P")
    assert pil_to_array(gray, "x").shape == (4, 4, 1)
    col = Image.fromarray(np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE)
    assert pil_to_array(col, "x").shape == (4, 4, 3)


def test_cmyk_and_bilevel():
    cmyk = Image.new("CMYK", (5, 4), (0, 0, 0, 0))
    out = pil_to_array(cmyk, "x")
    assert out.shape == (4, 5, 3) and (out == 255).all()
    assert pil_to_array(Image.new("1", (3, 3), 1), "x").shape == (3, 3, 1)


def test_unsupported_mode_names_source():
    with pytest.raises(DataError, match="weird.tif"):
        pil_to_array(Image.new("HSV", (3, 3)), "weird.tif")


@pytest.mark.parametrize("shape,expect", [((5, 8, 9), (5, 8, 9, 1)), ((5, 8, 9, 3), (5, 8, 9, 3)),
                                          ((5, 3, 8, 9), (5, 8, 9, 3)), ((5, 1, 8, 9), (5, 8, 9, 1))])
def test_array_layouts(shape, expect):
    assert array_to_uint8(np.zeros(shape, np.uint8), "a").shape == expect


def test_nchw_transposes_pixels():
    x = np.random.default_rng(3).integers(0, 256, (2, 3, 8, 9), dtype=np.uint8)
    assert np.array_equal(array_to_uint8(x, "a"), x.transpose(0, 2, 3, 1))


def test_float_rules():
    a01 = np.array([[[0.0, 0.5, 1.0]]])
    assert array_to_uint8(a01, "a").ravel().tolist() == [0, 128, 255]
    a255 = np.array([[[0.0, 2.0, 255.0]]])
    assert array_to_uint8(a255, "a").ravel().tolist() == [0, 2, 255]
    with pytest.raises(DataError, match=r"\[0, 1\] or \[0, 255\]"):
        array_to_uint8(np.array([[[-1.0, 1.0]]]), "a")
    ints = np.array([[[0, 255]]], np.int64)
    assert array_to_uint8(ints, "a").dtype == np.uint8


def test_rotation_exact_angles():
    x = np.random.default_rng(4).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    assert np.array_equal(rotate_batch(x, np.zeros(3)), x)
    r180 = rotate_batch(x, np.full(3, 180.0))
    assert np.array_equal(r180, x[:, ::-1, ::-1])
    r90 = rotate_batch(x, np.full(3, 90.0))
    assert any(np.array_equal(r90, np.rot90(x, k, axes=(1, 2))) for k in (1, 3))


def test_rotation_mirror_padding_has_no_black_corners():
    x = np.full((1, 16, 16, 1), 200, np.uint8)
    out = rotate_batch(x, np.array([45.0]))
    assert (out == 200).all()


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), c=st.sampled_from([1, 3]), res=st.sampled_from([4, 8, 16, 32]),
       out_c=st.sampled_from([1, 3]), fit=st.sampled_from(["resize", "pad"]))
def test_convert_property(h, w, c, res, out_c, fit):
    x = np.random.default_rng(h * 100 + w).integers(0, 256, (2, h, w, c), dtype=np.uint8)
    out = convert(x, res, out_c, fit)
    assert out.shape == (2, res, res, out_c) and out.dtype == np.uint8


def test_letterbox_keeps_the_long_edges_that_the_centre_crop_loses(tmp_path, monkeypatch) -> None:
    """A defect at the long edge of a non-square image: the default centre crop cannot see it (and says so),
    --square letterbox (fit 'letterbox') keeps it, recorded in split.json's conversion."""
    import warnings

    from PIL import Image

    from wildgan.config import DataConfig
    from wildgan.data import build_split
    from wildgan.data.transforms import resize_one

    img = np.zeros((28, 56, 1), np.uint8)
    img[2:26, 48:56] = 255                                     # the defect, in the right-most 8 columns
    assert resize_one(img, 32, "resize").max() == 0            # cropped away
    lb = resize_one(img, 32, "letterbox")
    assert lb.shape == (32, 32, 1) and lb[:, 24:].max() > 200 and lb[:4].max() == 0   # kept; black bars top/bottom
    np.testing.assert_array_equal(convert(img[None], 32, 1, "letterbox")[0], lb)

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(20):
        Image.fromarray(np.roll(img[..., 0], -8 * (i % 3), axis=1)).save(pile / f"{i:02d}.png")
    with pytest.warns(UserWarning, match=r"centre-cropped to a square, losing up to 50%"):
        s = build_split(DataConfig(data=str(pile)))
    assert s.info["conversion"]["non_square"] == "centre-cropped"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # no crop warning when letterboxing
        s = build_split(DataConfig(data=str(pile), square="letterbox"))
    assert s.info["conversion"] == {**s.info["conversion"], "fit": "letterbox",
                                    "non_square": "letterboxed (black bars)"}
    assert s.train_x[:, :, 24:].max() > 200


def test_alpha_arrays_are_composited_on_black_like_alpha_files(tmp_path) -> None:
    from wildgan.data.image_decode import read_image

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (3, 9, 9, 4), dtype=np.uint8)
    la = rgba[..., [0, 3]]
    Image.fromarray(rgba[0], "RGBA").save(tmp_path / "a.png")
    Image.fromarray(la[0], "LA").save(tmp_path / "b.png")
    np.testing.assert_array_equal(array_to_uint8(rgba, "x")[0], read_image(tmp_path / "a.png"))
    assert read_image(tmp_path / "b.png").shape == (9, 9, 1)      # an LA file is gray + alpha
    with pytest.raises(DataError, match="2 channels"):              # an array's 2 channels may be two stains
        array_to_uint8(la, "x")
    assert array_to_uint8(rgba.astype(np.float32) / 255, "x").shape == (3, 9, 9, 3)


def test_depth16_bits_rule_maps_the_cameras_range_and_clips_above() -> None:
    from wildgan.data.transforms import DEPTH16_RULES, check_depth16, depth16_bits

    a = np.array([[0, 1000, 2048], [4095, 5000, 65535]], np.uint16)
    got = pil_to_array(Image.fromarray(a), "x", "bits:12")[..., 0]
    want = np.rint(np.minimum(a, 4095) * (255 / 4095)).astype(np.uint8)
    np.testing.assert_array_equal(got, want)
    assert got[1].tolist() == [255, 255, 255]                     # above 2^12 - 1: clipped, no error
    # 12-bit data keeps 256 levels where global / shift leave it 16
    ramp = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    assert len(np.unique(array_to_uint8(ramp[None], "r", "bits:12"))) == 256
    assert len(np.unique(array_to_uint8(ramp[None], "r", "global"))) <= 17
    np.testing.assert_array_equal(array_to_uint8(a[None], "x", "bits:12")[0, ..., 0], want)   # arrays alike
    assert "bits:9" in DEPTH16_RULES and "bits:16" in DEPTH16_RULES and check_depth16("bits:12") == "bits:12"
    for bad in ("bits:8", "bits:17", "bits:x", "bits", 12):
        with pytest.raises(ConfigError, match="bits:N"):
            check_depth16(bad)
    assert (depth16_bits(4000), depth16_bits(4095), depth16_bits(4096), depth16_bits(100), depth16_bits(65535)) \
        == (12, 12, 13, 9, 16)


def test_uint16_arrays_are_converted_per_image_not_per_batch() -> None:
    dim = np.full((1, 4, 4), 100, np.uint16)
    dim[0, 0, 0] = 200
    bright = np.full((1, 4, 4), 40000, np.uint16)
    bright[0, 0, 0] = 60000
    for rule in ("per-image", "global", "bits:12"):
        alone = array_to_uint8(dim, "x", rule)[0]
        beside = array_to_uint8(np.concatenate([dim, bright]), "x", rule)[0]
        np.testing.assert_array_equal(alone, beside, err_msg=rule)   # its own pixels, whatever else is in the batch
    # uint16 always follows depth16, like a 16-bit file (a dim one too: stretched by per-image)
    assert array_to_uint8(dim, "x")[0].max() == 255
    # other integer types: an array in 0..255 is 8-bit (int64 from numpy arithmetic); one with larger values follows
    # depth16 in every image, its dark frames included (a 12-bit frame of values <= 255 is not 8-bit data)
    assert (array_to_uint8(np.full((2, 4, 4), 100, np.int64), "x", "global") == 100).all()
    frames = np.stack([np.full((4, 4), 200, np.int64), np.full((4, 4), 3000, np.int64)])
    out = array_to_uint8(frames, "x", "bits:12")
    assert out[0].max() == round(200 * 255 / 4095) and out[1].max() == round(3000 * 255 / 4095)     # 12 < 187
    with pytest.raises(DataError, match="0..65535"):
        array_to_uint8(np.full((1, 4, 4), -1, np.int32), "x")


def test_two_channel_arrays_are_refused_and_four_are_rgba() -> None:
    two = np.zeros((3, 8, 8, 2), np.uint16)
    with pytest.raises(DataError, match=r"x: image array of shape \(3, 8, 8, 2\) has 2 channels: wildgan reads 1 "
                                        r"\(gray\), 3 \(RGB\) or 4 \(RGBA\).*pick one channel \(x\[\.\.\., :1\]\) "
                                        r"or merge them \(x\.mean\(axis=-1"):
        array_to_uint8(two, "x")
    # NCHW alike, with the way out for its layout (x[..., :1] would cut its width to one column)
    with pytest.raises(DataError, match=r"2 channels.*\(x\[:, :1\]\) or merge them \(x\.mean\(axis=1, keepdims"):
        array_to_uint8(np.zeros((3, 2, 8, 8), np.uint8), "x")
    rgba = np.zeros((3, 8, 8, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 200, 255
    assert array_to_uint8(rgba, "x").shape == (3, 8, 8, 3) and (array_to_uint8(rgba, "x") == 200).all()


def test_data_config_knows_exactly_the_depth16_rules():
    # config cannot import the data layer: its copy of the rule names must match transforms.DEPTH16_RULES
    from wildgan.config import DataConfig
    from wildgan.data.transforms import DEPTH16_RULES

    for rule in DEPTH16_RULES:
        assert DataConfig(depth16=rule).depth16 == rule
    for bad in ("bits:8", "bits:17", "Global", "bits"):
        with pytest.raises(ConfigError, match="depth16 must be per-image, global, shift or bits:N"):
            DataConfig(depth16=bad)


@pytest.mark.parametrize("n", [0, 1, 2, 17, 200])
def test_permute_rows_in_place_equals_the_gather(n):
    from wildgan.data.transforms import permute_rows

    rng = np.random.default_rng(n)
    x = rng.integers(0, 256, (n, 3, 2, 1), dtype=np.uint8)
    for perm in (rng.permutation(n), np.arange(n), np.arange(n)[::-1].copy()):
        want = x[perm]
        y = x.copy()
        got = permute_rows(y, perm)
        assert got is y and np.array_equal(got, want)          # in place: the same array, reordered


def test_permute_rows_copies_what_it_does_not_own():
    from wildgan.data.transforms import permute_rows

    base = np.arange(24, dtype=np.uint8).reshape(6, 4)
    view = base[1:5]
    perm = np.array([3, 0, 1, 2])
    got = permute_rows(view, perm)
    assert got is not view and np.array_equal(got, base[1:5][perm])
    assert np.array_equal(base, np.arange(24, dtype=np.uint8).reshape(6, 4))   # the caller's array is untouched
    with pytest.raises(ValueError, match="permutation of 4 rows"):
        permute_rows(base[:4].copy(), np.arange(3))
    for bad in ([1, 1, 0, 2], [0, 1, 2, 4], [-1, 0, 1, 2]):
        with pytest.raises(ValueError, match="not a permutation"):
            permute_rows(base[:4].copy(), np.array(bad))
    with pytest.raises(ValueError, match="integer indices"):
        permute_rows(base[:4].copy(), np.array([1.5, 0, 2, 3]))


@pytest.mark.parametrize("values", [np.array([[0, 1000], [70000, 1 << 20]]), np.array([[-5, 0], [100, 200]])])
def test_a_32_bit_integer_image_outside_16_bits_is_refused_naming_the_file_and_the_way_on(tmp_path, values) -> None:
    """Pillow's mode I (32-bit signed integers: int32 / uint32 TIFFs, 16-bit PNGs under older Pillows) is read as
    16-bit. A value outside 0..65535 has no 8-bit rule: refused naming the file, what kind of image it is and what to
    save it as, whether read from a file or given as a PIL image (it said "not a 16-bit image wildgan can convert")."""
    from wildgan.data.image_decode import read_image
    from wildgan.data.inputs import to_images

    path = tmp_path / "counts.tif"
    Image.fromarray(values.astype(np.int32)).save(path)
    assert Image.open(path).mode == "I"
    lo, hi = int(values.min()), int(values.max())
    said = (f"a 32-bit integer image (Pillow mode I) with values {lo}..{hi}, outside 0..65535: wildgan reads such an "
            f"image as 16-bit (0..65535, made 8-bit by depth16=), and has no rule for other values; rescale the "
            f"images to 0..65535")
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}: {said}')}"):
        read_image(path)
    with pytest.raises(DataError, match=re.escape(said)):
        to_images([Image.open(path)], resolution=8)


def test_a_32_bit_integer_image_of_16_bit_values_is_read_as_its_16_bit_twin(tmp_path) -> None:
    # what a mode-I image holds in practice: 16-bit data (a 16-bit PNG under an older Pillow, a 32-bit TIFF of a
    # 16-bit camera), read by every depth16 rule exactly as the same pixels saved at 16 bits
    a = np.array([[0, 1000], [4095, 65535]])
    as_i, as_16 = Image.fromarray(a.astype(np.int32)), Image.fromarray(a.astype(np.uint16))
    assert (as_i.mode, as_16.mode) == ("I", "I;16")
    for rule in ("per-image", "global", "shift", "bits:12"):
        np.testing.assert_array_equal(pil_to_array(as_i, "x", rule), pil_to_array(as_16, "x", rule))
