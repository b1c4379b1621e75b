"""Another Pillow decoding a run's images, simulated, for the tests of what `wildgan report` says of a run whose
images decode otherwise than when it was trained (test_cli, test_report_page_commands): the data's pixels a level
apart and split.json's record of the decoders an older Pillow's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def decode_a_level_up(data: Path, run: Path) -> None:
    """Another Pillow decoding `run`'s images a level apart, simulated as the other tests do: `data`'s pixels one
    level up, and split.json's decoders an older Pillow."""
    d = dict(np.load(data))
    np.savez(data, **{k: np.minimum(v.astype(np.int16) + 1, 255).astype(np.uint8) if k.startswith("x") else v
                      for k, v in d.items()})
    split_json = run / "split.json"
    split_json.write_text(json.dumps({**json.loads(split_json.read_text()), "decoders": "Pillow 9.0.0 (libjpeg 8.0)"}))
