"""A search run's kept latents (evaluation.run's SEARCH_CACHE, test_search.npz) made without an evaluation, for the
tests of their reader (read_search_cache, the report's _search_latents): with the bytes the evaluation itself writes
there (evaluation.run.search_cache_bytes, the writer's own), of any latents, damaged ones included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def keep_search_cache(folder: Path, ids: list[str], info: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` as the latents an evaluation into `folder` (made where missing) kept for the test images `ids`
    searched with the settings `info`; returns the file's path."""
    from wildgan.evaluation.run import SEARCH_CACHE, search_cache_bytes

    folder.mkdir(parents=True, exist_ok=True)
    (folder / SEARCH_CACHE).write_bytes(search_cache_bytes(ids, info, arrays))
    return folder / SEARCH_CACHE
