"""What `wildgan info RUN` says of a run folder: its networks, how far it trained (read from its networks' JSON
only: nothing of a model file is executed), and, for a run that is not finished, the command that continues it as it
was trained: a plain `--resume`; the Detector.fit call for a run fitted on arrays in memory; `--resume --minutes
MINUTES` above the minutes already spent for a run its --minutes budget stopped (a plain --resume trains nothing
more: the budget counts every session); and the torchrun command for a run trained in several processes. A user who
stopped a run with Ctrl-C, or whose budget ran out, learns from `info` where it is and what to type next.

Its refusal of the preset options (which describe a preset, not a run) agrees in number with the options given, and
its --json of a search run lists the networks and GFLOP its table shows (a search run trains no encoder E, so
neither E nor the training GFLOP, whose formula counts E)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from png_piles import gray_png_pile
from wildgan.cli import main

PLAIN = "continue it with `wildgan train --out {run} --resume`"


def pile_run(tmp_path: Path) -> Path:
    """A finished tiny run (tmp_path/run, 0.05 kimg, checkpoints every 0.016) on a pile of 20 gray PNGs 00.png ...
    19.png (tmp_path/pile)."""
    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile, digits=2)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--checkpoint-kimg", "0.016", "--threads", "1", "--no-progress", "--no-train-scores",
                 "--out", str(run)]) == 0
    return run


def _fanogan_run(tmp_path: Path, *options: str) -> Path:
    """A tiny `wildgan train --method fanogan ... OPTIONS` run (tmp_path/fa, checkpoints every 0.016 kimg) on an .npz
    of 60 random 32x32 images (tmp_path/d.npz, normal class 0)."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 255, (60, 32, 32), dtype=np.uint8), y=np.arange(60) % 2)
    run = tmp_path / "fa"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--normal", "0", "--device", "cpu", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--method", "fanogan", "--fanogan-dim", "8",
                 "--checkpoint-kimg", "0.016", *options, "--out", str(run)]) == 0
    return run


def _stop_before_final(run: Path) -> Path:
    """The run as a kill before its final networks leaves it; its newest checkpoint's JSON."""
    for f in ("network-final.json", "network-final.safetensors"):
        (run / f).unlink()
    return sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]


def _info_text(run: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `wildgan info RUN` prints (and nothing printed before it)."""
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    return capsys.readouterr().out


def _info(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict]:
    """What `wildgan info RUN` prints, and the training part of its --json."""
    out = _info_text(run, capsys)
    assert main(["info", str(run), "--json"]) == 0
    return out, json.loads(capsys.readouterr().out)["training"]


def _fit_on_arrays(run: Path, **params: Any) -> np.ndarray:
    """A tiny Detector(**params).fit, its run in `run`, on 40 random 8x8 images given in memory: those images."""
    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", run_dir=str(run), device="cpu", **params).fit(x)
    return x


@pytest.mark.usefixtures("one_thread")
def test_wildgan_info_run_describes_the_runs_networks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`wildgan info RUN` takes a run folder as every other command takes it, and describes the run's networks; the
    preset form (`wildgan info --preset ...`) describes a preset's."""
    import json

    pile = gray_png_pile(tmp_path / "pile")
    run = tmp_path / "run"
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.02", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    out = _info_text(run, capsys)
    assert out.startswith(f"run {run}: wildgan (preset tiny), 8x8x1, N_z = "), out
    assert f"`wildgan report {run}`" in out and f"{run}/config.json" in out, out
    assert "\nE " in out, out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["run"] == str(run) and got["preset"] == "tiny" and "params" in got, got
    # a preset's options beside a run: refused, naming them; a folder that holds no run: said by read_run_config
    assert main(["info", str(run), "--preset", "paper"]) != 0
    err = capsys.readouterr().err
    assert "--preset describes a preset's" in err, err
    assert main(["info", str(pile)]) != 0
    assert str(pile) in capsys.readouterr().err
    # the preset form still describes a preset
    assert main(["info", "--preset", "tiny", "--resolution", "16", "--channels", "1"]) == 0
    assert capsys.readouterr().out.startswith("preset tiny, 16x16x1, N_z = ")
    assert main(["info"]) == 0
    assert capsys.readouterr().out.startswith("preset paper, 32x32x3, N_z = ")


def test_info_run_says_how_far_it_trained_and_how_to_continue_a_stopped_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = pile_run(tmp_path)
    out = _info_text(run, capsys)
    assert f"trained: 0.064 kimg (done, schedule 0.05 kimg); networks in {run / 'network-final.json'}" in out, out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["training"]
    assert got == {"final": True, "file": str(run / "network-final.json"), "kimg": 0.064, "status": "done",
                   "total_kimg": 0.05, "training_now": False, "resumed_to": None, "world_size": 1,
                   "ended_abruptly": False}, got
    assert "not scored" not in out, out                  # (--no-train-scores: none were to be)
    # a run stopped before its final networks: the newest checkpoint, and the command that continues it
    newest = _stop_before_final(run)
    out = _info_text(run, capsys)
    kimg = json.loads(newest.read_text())["kimg"]
    assert (f"not finished: no final networks, the newest checkpoint at {kimg:g} of 0.05 kimg ({newest}), stopped "
            f"or killed; continue it with `wildgan train --out {run} --resume`") in out, out
    shutil.rmtree(run / "checkpoints")
    assert main(["info", str(run)]) == 0
    assert "not trained: no checkpoint yet" in capsys.readouterr().out


def test_info_of_an_f_anogan_run_says_its_iterations_not_question_marks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # f-AnoGAN's networks record critic and encoder iterations, no kimg, nimg or status: `info` says those
    # iterations, not "trained: ? kimg (status not recorded)" of a finished run nor "at ? kimg" of a stopped one
    run = _fanogan_run(tmp_path, "--fanogan-iters", "2", "--fanogan-enc-iters", "2")
    out = _info_text(run, capsys)
    assert "?" not in out and "status not recorded" not in out, out
    # f-AnoGAN ignores the preset: its line said "(preset fast)", as though the fast preset's networks were trained;
    # it says what set them instead (--fanogan-dim 8 here), in --json too
    assert "preset fast" not in out, out
    assert (f"run {run}: f-AnoGAN, 32x32x1, DIM 8 (--fanogan-dim), N_z = 128, batch 16; the preset does not apply "
            f"to f-AnoGAN (its networks are set by --fanogan-dim)") in out, out
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fanogan"] == {"dim": 8, "latent_size": 128, "batch_size": 16}
    assert (f"trained: 2 of 2 critic and 2 of 2 encoder iterations (done); networks in "
            f"{run / 'fanogan-final.json'}") in out, out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["training"]
    assert got["status"] == "done" and got["iterations"] == {"critic": [2, 2], "encoder": [2, 2]}, got
    # stopped before its final networks: the newest checkpoint's iterations
    for f in ("fanogan-final.json", "fanogan-final.safetensors"):
        (run / f).unlink()
    newest = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    meta = json.loads(newest.read_text())
    out = _info_text(run, capsys)
    assert (f"not finished: no final networks, the newest checkpoint at {meta['gan_iters_done']} of 2 critic and "
            f"{meta['enc_iters_done']} of 2 encoder iterations ({newest})") in out, out


def test_info_of_a_stopped_fit_on_arrays_names_the_fit_that_continues_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a run Detector.fit trained on images given in memory: `wildgan train --out RUN --resume` would refuse it (it
    # has no images to read), so info names the fit call that continues it
    run = tmp_path / "det"
    _fit_on_arrays(run, total_kimg=0.05)
    _stop_before_final(run)
    out = _info_text(run, capsys)
    assert "wildgan train" not in out, out
    assert (f"stopped or killed; continue it with Detector(..., run_dir={str(run)!r}).fit(X, resume=True), with the "
            f"same parameters and X\n") in out, out


def test_info_of_a_finished_run_resumed_and_stopped_says_the_training_after_its_final_networks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a finished run resumed with a longer --total-kimg and stopped before its new final networks keeps the earlier
    # ones: info says the checkpoint the resume trained on to, not only "trained: 0.064 kimg (done, ...)"
    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile, digits=2)
    common = ["--threads", "1", "--no-progress", "--out", str(run)]
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--checkpoint-kimg", "0.016", "--no-train-scores", *common]) == 0
    first = {n: (run / n).read_bytes() for n in ("network-final.json", "network-final.safetensors")}
    assert main(["train", "--resume", "--total-kimg", "0.1", *common]) == 0
    for n, b in first.items():          # as a kill of the resumed session leaves it: the first session's finals
        (run / n).write_bytes(b)
    newest = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    kimg = json.loads(newest.read_text())["kimg"]
    assert kimg > 0.064
    out = _info_text(run, capsys)
    assert (f"trained: 0.064 kimg (done, schedule 0.1 kimg); networks in {run / 'network-final.json'}; a resume "
            f"trained on to the checkpoint at {kimg:g} of 0.1 kimg ({newest}) and was stopped or killed before its "
            f"final networks; continue it with `wildgan train --out {run} --resume`") in out, out
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["training"]["resumed_to"] == {"file": str(newest), "kimg": kimg}


def _trained_min(final: Path) -> float:
    """The minutes of training the final networks record, rounded up as info says them."""
    return math.ceil(json.loads(final.read_text())["elapsed_s"] / 60 * 1000) / 1000


def test_info_of_a_run_its_budget_stopped_says_the_larger_minutes_that_continue_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile, digits=2)
    common = ["--threads", "1", "--no-progress", "--out", str(run)]
    # a budget far under one round: the first round's end stops it
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.2", "--phase-kimg", "0.02",
                 "--checkpoint-kimg", "0.016", "--no-train-scores", "--minutes", "0.0001", *common]) == 0
    final = run / "network-final.json"
    assert json.loads(final.read_text())["status"] == "budget"
    spent = _trained_min(final)
    out = _info_text(run, capsys)
    assert (f"; its --minutes 0.0001 budget ran out ({spent:g} min trained over all its sessions, which the budget "
            f"counts: a plain --resume trains nothing more); continue it with `wildgan train --out {run} --resume "
            f"--minutes MINUTES`, MINUTES above {spent:g}, which trains for the difference\n") in out, out
    # what it says is so: a plain resume trains nothing, one with MINUTES above it trains on (to the total here)
    kimg = json.loads(final.read_text())["kimg"]
    assert main(["train", "--resume", *common]) == 0
    assert json.loads(final.read_text())["kimg"] == kimg
    assert main(["train", "--resume", "--minutes", f"{spent + 5:g}", *common]) == 0
    after = json.loads(final.read_text())
    assert after["kimg"] > kimg and after["status"] == "done", after
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    assert "budget ran out" not in capsys.readouterr().out


def test_info_of_an_f_anogan_run_its_budget_stopped_says_the_larger_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # (a budget far under its iterations: the first round's end stops it)
    run = _fanogan_run(tmp_path, "--fanogan-iters", "100000", "--fanogan-enc-iters", "100000", "--minutes", "0.0001")
    spent = _trained_min(run / "fanogan-final.json")
    out = _info_text(run, capsys)
    assert (f"encoder iterations (budget); networks in {run / 'fanogan-final.json'}; its --minutes 0.0001 budget ran "
            f"out ({spent:g} min trained over all its sessions, which the budget counts: a plain --resume trains "
            f"nothing more); continue it with `wildgan train --out {run} --resume --minutes MINUTES`, MINUTES above "
            f"{spent:g}") in out, out


def test_info_of_a_fit_on_arrays_its_budget_stopped_names_the_fit_with_larger_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wildgan import Detector

    run = tmp_path / "det"
    x = _fit_on_arrays(run, total_kimg=0.2, minutes=0.0001)
    spent = _trained_min(run / "network-final.json")
    out = _info_text(run, capsys)
    assert "wildgan train" not in out, out
    assert (f"; its minutes=0.0001 budget ran out ({spent:g} min trained over all its sessions, which the budget "
            f"counts: a resume with the same minutes trains nothing more); continue it with Detector(..., "
            f"run_dir={str(run)!r}, minutes=MINUTES).fit(X, resume=True), MINUTES above {spent:g}, with the same "
            f"other parameters and X\n") in out, out
    # and that call trains on
    kimg = json.loads((run / "network-final.json").read_text())["kimg"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.2, minutes=spent + 5, run_dir=str(run), device="cpu").fit(x, resume=True)
    assert json.loads((run / "network-final.json").read_text())["kimg"] > kimg


def test_a_two_process_gloo_run_records_its_world_size_and_info_advises_torchrun(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checkpoints and the final networks record world_size and dist_backend (training.loop.processes_record), so
    that info advises the torchrun command of docs/cli.md for a run trained in several processes, not a plain
    --resume, which continues it in one process."""
    rng = np.random.default_rng(0)
    npz, run = tmp_path / "toy.npz", tmp_path / "run"
    np.savez(npz, x=(rng.random((96, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # (as tests/integration/test_ddp.py's torchrun runs: CPU ranks on gloo, a free port each)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan", "train", "--distributed",
           "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
           "--checkpoint-kimg", "0.016", "--threads", "1", "--device", "cpu", "--no-progress", "--no-train-scores",
           "--out", str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = json.loads((run / "network-final.json").read_text())
    assert (final["world_size"], final["dist_backend"]) == (2, "gloo")
    for c in (run / "checkpoints").glob("ckpt-*.json"):
        meta = json.loads(c.read_text())
        assert (meta["world_size"], meta["dist_backend"]) == (2, "gloo"), c
    out, got = _info(run, capsys)
    assert got["world_size"] == 2 and got["final"], got
    assert "--resume" not in out, out              # (finished: nothing to continue)

    newest = _stop_before_final(run)
    out, got = _info(run, capsys)
    assert got["world_size"] == 2, got
    assert (f"({newest}), stopped or killed; continue it with `torchrun --nproc_per_node=2 -m wildgan train --out "
            f"{run} --resume --distributed` (as it trained, in 2 processes; a plain `wildgan train --out {run} "
            f"--resume` continues it in one process too)") in out, out
    # the plain resume works in one process; the newest checkpoint is already at the schedule's end, so it trains
    # nothing, and the final networks keep the record of the 2 processes that trained their weights
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress", "--no-train-scores"]) == 0
    final = json.loads((run / "network-final.json").read_text())
    assert (final["world_size"], final["dist_backend"]) == (2, "gloo")


def test_a_one_process_run_records_a_world_of_one_and_keeps_the_plain_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = pile_run(tmp_path)
    final = json.loads((run / "network-final.json").read_text())
    assert (final["world_size"], final["dist_backend"]) == (1, None)
    newest = _stop_before_final(run)
    assert json.loads(newest.read_text())["world_size"] == 1
    out, got = _info(run, capsys)
    assert got["world_size"] == 1, got
    assert PLAIN.format(run=run) + "\n" in out and "torchrun" not in out, out

    # an older wildgan's checkpoint, without the keys: today's advice, not recorded in --json, and it still resumes
    meta = json.loads(newest.read_text())
    del meta["world_size"], meta["dist_backend"]
    newest.write_text(json.dumps(meta))
    out, got = _info(run, capsys)
    assert got["world_size"] is None, got
    assert PLAIN.format(run=run) + "\n" in out and "torchrun" not in out, out
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress",
                 "--no-train-scores"]) == 0
    assert json.loads((run / "network-final.json").read_text())["world_size"] == 1
    # a hand-edited count is not taken as several processes (the plain resume works whatever it was)
    newest = _stop_before_final(run)
    meta = json.loads(newest.read_text())
    meta["world_size"] = "2"
    newest.write_text(json.dumps(meta))
    out, got = _info(run, capsys)
    assert got["world_size"] is None and "torchrun" not in out, out


def test_a_budget_stopped_torchrun_run_is_told_the_torchrun_command_with_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its final networks say several processes: the --minutes advice is the torchrun command too (recorded by hand:
    the two-process run above covers the recording)."""
    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile, digits=2)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    path = run / "network-final.json"
    meta = json.loads(path.read_text())
    meta.update(status="budget", world_size=4, dist_backend="nccl")
    path.write_text(json.dumps(meta))
    out, got = _info(run, capsys)
    assert got["world_size"] == 4, got
    assert (f"continue it with `torchrun --nproc_per_node=4 -m wildgan train --out {run} --resume --minutes MINUTES "
            f"--distributed`") in out, out
    assert "in 4 processes; without torchrun and --distributed it continues in one process too" in out, out


# the preset options refused, and --json

def _tiny_config() -> Any:
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset

    return RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=0.02), preset="tiny")


def test_info_run_s_refusal_of_preset_options_agrees_in_number(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # one option: "--preset describes a preset's" (not "describe"); two: "--preset, --width describe"
    from wildgan.config import write_run_config

    write_run_config(_tiny_config(), tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path), "--preset", "paper"]) == 2
    assert "--preset describes a preset's" in capsys.readouterr().err
    assert main(["info", str(tmp_path), "--preset", "paper", "--width", "8"]) == 2
    assert "--preset, --width describe a preset's" in capsys.readouterr().err


def test_info_run_json_of_a_search_run_counts_the_networks_its_table_does(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # the table of a search run leaves out E (it trains no encoder) and the training GFLOP (whose formula counts E);
    # its --json leaves them out too
    from dataclasses import replace

    from wildgan.config import write_run_config

    write_run_config(replace(_tiny_config(), method="search"), tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path)]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:4]]
    assert main(["info", str(tmp_path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert rows == ["G", "D"] == list(got["params"]) == list(got["forward_gflop"]), (rows, got)
    assert "train_gflop_per_image" not in got, got


def test_info_of_a_run_with_d_i_in_g_s_loss_prices_its_extra_forwards(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # --g-image-loss adds an E forward and a second G forward, each with its backward pass, to every G step: the
    # training GFLOP line of such a run says 10g + 14d + 6e, and its total (table and --json) is that formula, where
    # it priced the run as one without the ablation
    from dataclasses import replace

    from wildgan.config import write_run_config

    base = _tiny_config()
    write_run_config(replace(base, train=replace(base.train, g_image_loss=0.5)), tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    fwd = {row.split()[0]: float(row.split()[-1]) for row in lines[2:5]}
    last = next(line for line in lines if line.startswith("training GFLOP"))
    assert "(10g + 14d + 6e" in last and "--g-image-loss adding 3g + 3e" in last, last
    assert float(last.rsplit(": ", 1)[1]) == pytest.approx(10 * fwd["G"] + 14 * fwd["D"] + 6 * fwd["E"], abs=0.03)
    assert main(["info", str(tmp_path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    f = got["forward_gflop"]
    assert got["train_gflop_per_image"] == pytest.approx(10 * f["G"] + 14 * f["D"] + 6 * f["E"], rel=1e-9), got


def test_info_of_a_run_killed_while_it_scored_its_training_images_says_they_are_not_scored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # killed after its final networks, while it scored its training images: `info` said "(done)" and nothing more
    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile, digits=2)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.03", "--phase-kimg", "0.02",
                 "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    capsys.readouterr()
    assert "not scored" not in _info_text(run, capsys)
    (run / "train_scores.csv").unlink()
    out = _info_text(run, capsys)
    assert ("networks in " in out and "its training images are not scored (no train_scores.csv" in out
            and "the first `wildgan score --threshold` of it scores them" in out), out
    assert main(["score", str(run), "--data", str(pile), "--threshold", "contamination", "--no-progress",
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert "not scored" not in _info_text(run, capsys)   # (and that command did score them)


def _as_killed(run: Path) -> None:
    """log.txt as a `kill -9` (or a run folder that turned read-only) leaves it: the last session's lines without
    the one that says how it ended (trained ..., stopped: ...), which its process could not write."""
    log = run / "log.txt"
    lines = log.read_text().splitlines()
    assert any(ln.startswith("trained ") for ln in lines), lines
    log.write_text("".join(f"{ln}\n" for ln in lines if not ln.startswith(("trained ", "scored "))))


def test_info_of_a_killed_run_says_its_last_session_ended_abruptly_and_how_to_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a training killed with kill -9 (or whose folder became read-only) leaves no `stopped:` line; info said only
    # "stopped or killed" (or, before its first checkpoint, "not trained: no checkpoint yet", as of a run never begun)
    from wildgan.training.run import run_lock

    run = pile_run(tmp_path)
    newest = _stop_before_final(run)
    _as_killed(run)
    out = _info_text(run, capsys)
    kimg = json.loads(newest.read_text())["kimg"]
    assert (f"not finished: no final networks, the newest checkpoint at {kimg:g} of 0.05 kimg ({newest}); its last "
            f"session ended abruptly") in out, out
    assert "log.txt" in out and PLAIN.format(run=run) in out, out
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["training"]["ended_abruptly"] is True
    # while a process holds the run's lock it is training, not dead: said so, and nothing of an abrupt end
    with run_lock(run):
        out = _info_text(run, capsys)
        assert "training now (its lock is held)" in out and "abruptly" not in out, out
        assert main(["info", str(run), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["training"]["ended_abruptly"] is False
    # killed before its first checkpoint: a session that began, not a run never trained
    shutil.rmtree(run / "checkpoints")
    out = _info_text(run, capsys)
    assert "not trained: its last session ended abruptly before its first checkpoint" in out, out
    assert "start it again with `wildgan train --out " in out and "--resume`" in out, out
    # a session that said how it ended (a Ctrl-C's `stopped: ...`) is not called abrupt
    with open(run / "log.txt", "a") as f:
        f.write("stopped: interrupted (Ctrl-C)\n")
    out = _info_text(run, capsys)
    assert "abruptly" not in out and "not trained: no checkpoint yet" in out, out


def test_a_resume_of_a_killed_run_says_its_previous_session_ended_abruptly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the resume is where the user is told again, and log.txt records it beside the session that left no end
    run = pile_run(tmp_path)
    _stop_before_final(run)
    _as_killed(run)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    said = f"note: the previous session of {run} ended abruptly"
    assert said in err, err
    assert said in (run / "log.txt").read_text()
    # its own session ended with a line: a resume after it says nothing of the kind
    _stop_before_final(run)
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress"]) == 0
    assert "ended abruptly" not in capsys.readouterr().err


def test_a_study_cell_and_a_replay_say_how_their_session_ended_so_neither_is_called_abrupt(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a finished study cell's log.txt and replay_run's had a start line and no `trained ...` line (train_run writes it
    # only into a log.txt of its own, and neither caller wrote it): every such finished run was "ended_abruptly", and a
    # `train --resume` of it noted that its previous session ended abruptly
    from study_rows import study_base
    from wildgan.runlog import last_session_unclosed
    from wildgan.studies.study import grid, run_study
    from wildgan.training.run import replay_run

    base = study_base(tmp_path)
    run_study(base, grid(["0"], [0.0], ["wildgan"], ["image"], [0]), tmp_path / "st", progress=False,
              log=lambda m: None)
    (cell,) = (tmp_path / "st" / "runs").iterdir()
    lines = (cell / "log.txt").read_text().splitlines()
    assert any(ln.startswith("trained ") for ln in lines), lines
    assert not last_session_unclosed(cell / "log.txt")
    capsys.readouterr()
    assert main(["info", str(cell), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["training"]["ended_abruptly"] is False
    said: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replay_run(cell / "config.json", tmp_path / "again", progress=False, log=said.append)
    lines = (tmp_path / "again" / "log.txt").read_text().splitlines()
    assert [ln for ln in lines if ln.startswith("trained ")] == [ln for ln in said if ln.startswith("trained ")] \
        and len([ln for ln in said if ln.startswith("trained ")]) == 1, (lines, said)
    assert not last_session_unclosed(tmp_path / "again" / "log.txt")


def test_a_finished_run_whose_log_has_no_end_line_of_any_session_is_not_said_to_have_ended_abruptly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a study cell of an older wildgan finished with no `trained ...` line in its log.txt (none was written there): info
    # --json said ended_abruptly true of every such cell, and a resume of it noted an abrupt end. Its final networks
    # say a session finished, whose end line an older log lacks: not known (None), and no note
    run = pile_run(tmp_path)
    _as_killed(run)
    out, got = _info(run, capsys)
    assert got["ended_abruptly"] is None and "abruptly" not in out, (out, got)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.06", "--threads", "1",
                 "--no-progress"]) == 0
    assert "ended abruptly" not in capsys.readouterr().err
    from wildgan.runlog import last_session_ended_abruptly

    _as_killed(run)
    assert last_session_ended_abruptly(run / "log.txt", finished=True) is None
    assert last_session_ended_abruptly(run / "log.txt", finished=False) is True     # (killed before its networks)
    (run / "log.txt").write_text("training wildgan (tiny) on 20 images\ntrained 0.064 kimg (done); networks in x\n")
    # where a session of the log said its end (the resume's), a later one without it was killed, final networks or not
    with open(run / "log.txt", "a") as f:
        f.write("resuming wildgan (tiny) on 20 images\n")
    assert last_session_ended_abruptly(run / "log.txt", finished=True) is True
    assert _info(run, capsys)[1]["ended_abruptly"] is True
