"""What a det.save killed between its two files leaves, and what Detector.load says of it: the weights without their
JSON are named as such, with what to do, whichever of PATH, PATH.json or PATH.safetensors is given."""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file

from tiny_detector_fit import fit_quietly, random_images, tiny_fit_kwargs
from wildgan import Detector
from wildgan.errors import CheckpointError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def det(tmp_path_factory) -> Detector:
    return fit_quietly(Detector(**tiny_fit_kwargs(tmp_path_factory.mktemp("killed_save") / "run")), random_images())


def test_a_saved_detectors_weights_without_their_json_are_named_so(det: Detector, tmp_path) -> None:
    # the JSON is renamed into place after the weights: a kill between the two renames (or a copy of one file) left
    # PATH.safetensors alone, which load called "no such file" (PATH, PATH.json) or "PATH.json: checkpoint metadata
    # not found" (PATH.safetensors), never saying the weights were there
    det.save(tmp_path / "m").unlink()
    for given in (tmp_path / "m", tmp_path / "m.json", tmp_path / "m.safetensors"):
        with pytest.raises(CheckpointError, match=rf"^{re.escape(str(given))}: {re.escape(str(tmp_path / 'm.json'))} "
                                                  rf"is not there, only m\.safetensors beside it, a saved Detector's "
                                                  rf"weights without their JSON .*: what a det\.save\(.*\) killed "
                                                  rf"between writing the two files leaves, or a copy of one file of "
                                                  rf"the pair; save the Detector again"):
            Detector.load(given)
    assert Detector.load(det.save(tmp_path / "m")).threshold_ == det.threshold_        # saved again: whole


def test_other_weights_without_a_json_are_not_called_a_detectors(tmp_path) -> None:
    save_file({"w": torch.zeros(3)}, str(tmp_path / "theirs.safetensors"))
    with pytest.raises(CheckpointError, match=r"theirs\.json is not there, only theirs\.safetensors beside it, "
                                              r"weights that do not say they are a saved Detector's \(Detector\.load "
                                              r"reads the PATH\.json \+ PATH\.safetensors pair"):
        Detector.load(tmp_path / "theirs.safetensors")
