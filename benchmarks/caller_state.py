"""Does a Python API call leave the caller's torch thread count and global RNG as they were, and what do its runs
write? Trains tiny 8x8 runs on the embedded MNIST sample through each public entry point, with `threads=2` against
the caller's 1 and after `torch.manual_seed(123)`, and prints the first 12 hex digits of the sha256 of what each
wrote (network-final.safetensors, train_scores.csv, a study's results.jsonl without its rows' `versions`, which name
the wildgan commit, and `data`, the path of the copy of the sample in --folder; its cells' networks; a Detector's
scores), with whether the caller's state was put back. Run it before and after a change that should not move any
number: the hashes must agree.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/caller_state.py --folder /tmp/caller_state
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _state() -> tuple[int, bytes]:
    return torch.get_num_threads(), torch.get_rng_state().numpy().tobytes()


def _call(name: str, fn: Callable[[], str]) -> None:
    """fn() after the caller's own seed, at one thread: its result, and whether it kept the caller's state."""
    torch.set_num_threads(1)
    torch.manual_seed(123)
    before = _state()
    got = fn()
    after = _state()
    kept = "threads " + ("kept" if after[0] == before[0] else f"changed to {after[0]}")
    kept += ", RNG " + ("kept" if after[1] == before[1] else "changed")
    print(f"{name}: {got} ({kept})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folder", type=Path, required=True, help="scratch folder (replaced)")
    a = p.parse_args()
    from wildgan import Detector
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.data import default_sample_path
    from wildgan.studies import grid, run_study
    from wildgan.training.run import train_run

    shutil.rmtree(a.folder, ignore_errors=True)
    a.folder.mkdir(parents=True)
    sample = str(a.folder / "sample.npz")   # a copy: one path for two checkouts (unlike the sample, needs --normal)
    shutil.copyfile(default_sample_path(), sample)

    # the CLI (its own process), with and without --threads, and its training scores (scored after train_run)
    for extra in ([], ["--threads", "2"]):
        cli = a.folder / f"cli{len(extra)}"
        subprocess.run([sys.executable, "-m", "wildgan", "train", "--data", sample, "--normal", "2", "--preset",
                        "tiny", "--resolution", "8", "--total-kimg", "0.1", "--seed", "0", "--out", str(cli),
                        "--no-progress", *extra], check=True, capture_output=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(f"wildgan train {' '.join(extra)}: network-final {_sha(cli / 'network-final.safetensors')}, "
              f"train_scores.csv {_sha(cli / 'train_scores.csv')}", flush=True)

    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                     threads=2, seed=0)
    data = DataConfig(data=sample, normal=("2",), resolution=8, channels=1)
    base = RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")

    def api_train() -> str:
        train_run(base, a.folder / "api", progress=False, log=lambda m: None)
        return f"network-final {_sha(a.folder / 'api' / 'network-final.safetensors')}"

    def api_study() -> str:
        cells = grid(["2"], [0.0, 0.1], ["wildgan"], ["image"], [0])
        run_study(base, cells, a.folder / "study", progress=False, log=lambda m: None)
        rows = [json.loads(line) for line in (a.folder / "study" / "results.jsonl").read_text().splitlines()]
        text = "\n".join(json.dumps({k: v for k, v in r.items() if k not in ("versions", "data")}) for r in rows)
        nets = sorted((a.folder / "study" / "runs").glob("*/network-final.safetensors"))
        return (f"results.jsonl (no versions, data) {hashlib.sha256(text.encode()).hexdigest()[:12]}, cells' networks "
                f"{', '.join(_sha(n) for n in nets)}")

    def api_fit() -> str:
        d = np.load(sample)
        x = d["x_train"][d["y_train"] == 0][:64]
        det = Detector(preset="tiny", total_kimg=0.1, phase_kimg=0.1, resolution=8, threads=2,
                       run_dir=str(a.folder / "fit"), verbose=False).fit(x)
        scores = det.decision_function(d["x_test"][::50])
        return (f"network-final {_sha(a.folder / 'fit' / 'network-final.safetensors')}, scores "
                f"{hashlib.sha256(np.ascontiguousarray(scores).tobytes()).hexdigest()[:12]}")

    _call("train_run(threads=2)", api_train)
    _call("run_study(2 cells, threads=2)", api_study)
    _call("Detector(threads=2).fit + decision_function", api_fit)


if __name__ == "__main__":
    main()
