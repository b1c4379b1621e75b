"""A checkpoint written again over an earlier one (a saved Detector replaced by det.save, the final networks written
again by a resume) and killed while its JSON is written: both files are written whole before either is renamed, so
the earlier checkpoint still loads; and a pair whose weights are not those its JSON was written with says so."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from killed_writes import KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN
from wildgan import checkpoint as ckpt
from wildgan.errors import CheckpointError

# save_checkpoint of {"w": ones} as folder/m, killed once its JSON's temp file is written and synced, before that
# file's rename (killed_writes.KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN)
_KILLED_IN_THE_JSON = KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN + """
import torch
from wildgan.checkpoint import save_checkpoint
save_checkpoint(Path(sys.argv[1]), "m", {"w": torch.ones(3)}, {"kind": "test", "seed": 2})
"""


def test_a_save_killed_while_its_json_is_written_leaves_the_earlier_checkpoint(tmp_path) -> None:
    # the JSON was written after the weights' rename: a kill then left the new weights beside the old JSON, the
    # earlier checkpoint lost (its weights replaced) and the new one without its record
    ckpt.save_checkpoint(tmp_path, "m", {"w": torch.zeros(3)}, {"kind": "test", "seed": 1})
    done = subprocess.run([sys.executable, "-c", _KILLED_IN_THE_JSON, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 9, done.stderr            # killed where meant, not failed before
    tensors, meta = ckpt.load_checkpoint(tmp_path / "m.json")
    assert torch.equal(tensors["w"], torch.zeros(3)) and meta["seed"] == 1
    # what the kill leaves: the two temp files, beside the earlier pair
    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("m.json", "m.safetensors"))
    assert len(left) == 2 and any(n.startswith(".m.json.") for n in left) and any(
        n.startswith(".m.") and n.endswith(".safetensors.tmp") for n in left), left


def test_weights_replaced_without_their_json_are_said_so(tmp_path) -> None:
    # what a kill between the two renames leaves (new weights beside the earlier JSON), or a weights file copied alone:
    # "file truncated or corrupt" alone did not say that the file may be whole, and another save's
    ckpt.save_checkpoint(tmp_path, "m", {"w": torch.zeros(3)}, {"kind": "test"})
    ckpt.save_checkpoint(tmp_path / "other", "m", {"w": torch.ones(3)}, {"kind": "test"})
    (tmp_path / "m.safetensors").write_bytes((tmp_path / "other" / "m.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"m\.safetensors: checksum mismatch \(file truncated or corrupt, or not "
                                              r"the weights m\.json was written with: replaced alone, or a save "
                                              r"killed between its two files\): expected [0-9a-f]{64}, got"):
        ckpt.load_checkpoint(tmp_path / "m.json")
