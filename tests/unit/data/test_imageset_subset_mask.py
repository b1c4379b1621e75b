"""ImageSet.subset by a boolean mask, as numpy indexes by one."""

from __future__ import annotations

import numpy as np
import pytest

from wildgan.data import ImageSet
from wildgan.errors import DataError


def _set(n: int = 4) -> ImageSet:
    x = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1), np.uint8)
    return ImageSet(x, np.array([0, 1] * (n // 2)), ["a", "b"], [f"img{i}.png" for i in range(n)],
                    group=np.arange(n) + 10, is_anomaly=np.array([0, 1] * (n // 2)))


def test_a_subset_by_a_boolean_mask_takes_the_images_it_marks():
    # `s.subset(s.y == 0)` (the numpy idiom) read the mask as the indices 1, 0, 1, 0: images 1 and 0 twice each,
    # with their labels and ids, the wrong data without a word
    s = _set()
    got = s.subset(s.y == 0)
    assert got.ids == ["img0.png", "img2.png"]
    np.testing.assert_array_equal(got.x, s.x[[0, 2]])
    np.testing.assert_array_equal(got.y, [0, 0])
    np.testing.assert_array_equal(got.group, [10, 12])
    every = s.subset(np.ones(4, bool))                 # every image: its pixels shared, as for every index in order
    assert every.x is s.x and every.ids == s.ids
    assert len(s.subset(np.zeros(4, bool))) == 0
    with pytest.raises(DataError, match="mask of 3 entries .* 4 images"):
        s.subset(np.array([True, False, True]))


def test_a_subset_by_a_torch_tensor_on_another_device_is_read_through_the_cpu():
    # a CUDA tensor (index or mask) raised numpy's TypeError ("can't convert cuda:0 device type tensor to numpy. Use
    # Tensor.cpu()"): a tensor that numpy cannot read in place, as a GPU's, stands in for one here
    torch = pytest.importorskip("torch")

    class OnAnotherDevice(torch.Tensor):
        def __array__(self, *a, **k):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
                            "to host memory first.")

        def cpu(self, *a, **k):
            return self.as_subclass(torch.Tensor)

    s = _set()
    by_mask = s.subset(torch.tensor([True, False, True, False]).as_subclass(OnAnotherDevice))
    assert by_mask.ids == ["img0.png", "img2.png"]
    by_index = s.subset(torch.tensor([3, 1]).as_subclass(OnAnotherDevice))
    assert by_index.ids == ["img3.png", "img1.png"]
    np.testing.assert_array_equal(by_index.x, s.x[[3, 1]])
    if torch.cuda.is_available():             # the real thing, where there is a GPU
        assert s.subset(torch.tensor([0, 1], device="cuda")).ids == ["img0.png", "img1.png"]
