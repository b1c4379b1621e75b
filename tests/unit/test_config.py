"""The typed configs refuse bad values when they are made, before any data is read or anything is written."""

from __future__ import annotations

import numpy as np
import pytest

from wildgan.config import MAX_SEED, DataConfig, FAnoGANConfig, SearchConfig, TrainConfig
from wildgan.errors import ConfigError


def test_seeds_are_whole_numbers_in_torchs_range_and_numpy_ones_become_ints() -> None:
    for make in (TrainConfig, DataConfig, SearchConfig, FAnoGANConfig):
        assert make(seed=np.int64(7)).seed == 7 and type(make(seed=np.int64(7)).seed) is int   # JSON-able
        assert make(seed=MAX_SEED).seed == MAX_SEED
        for bad in (-1, 1.5, True, "3", MAX_SEED + 1):
            with pytest.raises(ConfigError, match="seed must be a whole number from 0 to 2\\*\\*64 - 2"):
                make(seed=bad)
