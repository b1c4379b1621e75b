"""Crash safety and divergence (issue 7): SIGKILL at random moments + resume, NaN injection, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from wildgan import checkpoint as ckpt
from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import CLI_SKIP_BAD, DivergenceError, resume_advice, skip_bad_said_as
from wildgan.training.loop import train_pgan
from wildgan.training.schedule import kimg_text, schedule


def _data(tmp_path: Path, n: int = 48) -> Path:
    rng = np.random.default_rng(0)
    p = tmp_path / "toy.npz"
    np.savez(p, x=(rng.random((n, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], n // 2))
    return p


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "wildgan", "train", "--data", str(data), "--normal", "0", "--preset", "tiny",
            "--total-kimg", "1.2", "--phase-kimg", "0.15", "--checkpoint-kimg", "0.1", "--device", "cpu",
            "--seed", "3", "--threads", "1", "--no-progress", "--out", str(out), *extra]


def _train_here(data: Path, out: Path, *extra: str) -> None:
    """_train_cmd's command run by the CLI's main in this process: where the run is not the process that is signalled
    (the uninterrupted reference, the resume after a stop), a process start of its own is seconds for nothing
    checked. main puts the thread count, torch's RNG and the signal handlers back as it returns."""
    from wildgan.cli import main

    assert main(_train_cmd(data, out, *extra)[3:]) == 0


def _final_meta(run: Path) -> dict:
    return json.loads((run / "network-final.json").read_text())


@pytest.mark.integration
def test_sigkill_at_random_points_then_resume_matches_uninterrupted(tmp_path):
    data = _data(tmp_path)
    ref = tmp_path / "ref"
    _train_here(data, ref)

    run = tmp_path / "killed"
    rng = np.random.default_rng(1)
    kills = 0
    for attempt in range(6):
        proc = subprocess.Popen(_train_cmd(data, run, *(["--resume"] if attempt else [])),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait for a first checkpoint (so there is something to resume), then kill at a random moment
        t0 = time.time()
        while not ckpt.list_checkpoints(run / "checkpoints") and proc.poll() is None and time.time() - t0 < 120:
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 1.5)))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        for p in ckpt.list_checkpoints(run / "checkpoints"):     # no checkpoint is ever corrupt
            ckpt.load_checkpoint(p)
        if kills >= 3:
            break
    assert kills >= 1
    _train_here(data, run, "--resume")
    a, b = _final_meta(ref), _final_meta(run)
    # bit-identical networks: the resumes restored the weights, Adam's state, the RNGs and the data order exactly
    assert a["sha256"] == b["sha256"]
    assert a["nimg"] == b["nimg"]
    assert a["lod"] == b["lod"]
    ph = schedule(b["nimg"], 8, 0.15, 0.15, PRESETS["tiny"]["minibatch"])
    assert ph.lod == b["lod"]
    for p in ckpt.list_checkpoints(run / "checkpoints"):
        ckpt.load_checkpoint(p)
    # the run was really resumed, not restarted
    assert "resumed from" in (run / "log.txt").read_text()


@pytest.mark.integration
def test_sigterm_saves_a_checkpoint_and_exits(tmp_path):
    data = _data(tmp_path)
    run = tmp_path / "term"
    proc = subprocess.Popen(_train_cmd(data, run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not (run / "stats.jsonl").exists() and time.time() - t0 < 120:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == 143, err          # 128 + SIGTERM, the shell convention
    # the way on is a command to paste (it said "continue with --resume")
    from wildgan.errors import shell_word

    assert f"; continue with `wildgan train --out {shell_word(run)} --resume`" in err, err
    cks = ckpt.list_checkpoints(run / "checkpoints")
    assert cks
    ckpt.load_checkpoint(cks[-1])


def _stopped_at_its_own_checkpoint(run: Path, words: str) -> int:
    """The images of the checkpoint that a stop worded `words` wrote, which log.txt's last line names: the newest (an
    earlier one, with nothing said, was all the stop left before)."""
    last = (run / "log.txt").read_text(encoding="utf-8").splitlines()[-1]
    newest = ckpt.list_checkpoints(run / "checkpoints")[-1]
    ckpt.load_checkpoint(newest)
    nimg = json.loads(newest.read_text())["nimg"]
    assert last.startswith(f"stopped: {words} at {kimg_text(nimg)} of 1.2 kimg; checkpoint saved in "), last
    with skip_bad_said_as(CLI_SKIP_BAD):        # (the command's words: a Python caller's name train_run)
        assert last.endswith(f"; {resume_advice(run)}"), last
    return nimg


def _resumed_to_the_end(data: Path, run: Path, nimg: int) -> None:
    _train_here(data, run, "--resume")
    assert f"resumed from {kimg_text(nimg)} kimg" in (run / "log.txt").read_text(encoding="utf-8")
    assert _final_meta(run)["status"] == "done"


@pytest.mark.integration
def test_a_hangup_saves_a_checkpoint_and_resume_continues(tmp_path):
    """`wildgan train` in an ssh session without tmux or nohup, whose connection drops: its terminal hangs up, the
    kernel sends SIGHUP (and the shell another), and every later write to the terminal fails (EIO). Python's default
    for SIGHUP killed it with no checkpoint: it now stops as for SIGTERM, at the next round with a checkpoint, says
    so in log.txt, writes into the dead terminal (its bar, its last line) without a traceback, and exits 129."""
    import os
    import pty

    from pty_session import hang_up_when, own_terminal

    data = _data(tmp_path)
    run = tmp_path / "hup"
    master, slave = pty.openpty()
    # (with its progress bar: drawn on a terminal, 10 times a second, into the dead one after the hangup)
    cmd = [w for w in _train_cmd(data, run) if w != "--no-progress"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, preexec_fn=own_terminal)
    os.close(slave)
    # the connection drops once a checkpoint is written: the kernel sends SIGHUP to the session
    hang_up_when(master, proc, lambda: bool(ckpt.list_checkpoints(run / "checkpoints")))
    proc.send_signal(signal.SIGHUP)     # and the shell passes it on to its jobs: the same hangup, no second stop
    proc.wait(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the hangup")
    assert proc.returncode == 129       # 128 + SIGHUP (was -SIGHUP: killed)
    nimg = _stopped_at_its_own_checkpoint(run, "hung up by SIGHUP (its terminal closed, e.g. an ssh connection "
                                               "dropped)")
    _resumed_to_the_end(data, run, nimg)


@pytest.mark.integration
def test_a_closed_output_pipe_saves_a_checkpoint_and_resume_continues(tmp_path):
    """`wildgan train ... 2>&1 | head`: the reader leaves while training runs, and the progress bar's next redraw
    meets the closed pipe. The BrokenPipeError left the loop in the middle of a round, and the progress since the
    last checkpoint was lost (exit 141 all the same): training now stops as for Ctrl-C, at the next round with a
    checkpoint, log.txt says the reader went away, exit 141, and --resume continues from there."""
    import os

    data = _data(tmp_path)
    run = tmp_path / "pipe"
    cmd = [w for w in _train_cmd(data, run) if w != "--no-progress"]
    # (the bar redrawn at each step, not every 30 s as into a pipe; a user's stdout into a pipe is block-buffered)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "TQDM_MININTERVAL": "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout.readline().startswith(b"training wildgan (tiny)")
    t0 = time.time()
    while not ckpt.list_checkpoints(run / "checkpoints") and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.02)
    proc.stdout.close()                 # `head` has what it wanted
    proc.wait(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the reader left")
    assert proc.returncode == 141
    nimg = _stopped_at_its_own_checkpoint(run, "the reader of its output went away (a pipe closed early, e.g. by "
                                               "`| head`)")
    _resumed_to_the_end(data, run, nimg)


def _cfg(**train) -> RunConfig:
    tc = dict(total_kimg=0.6, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.1,
              log_every=4, device="cpu")
    tc.update(train)
    return RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(**tc))


def _run_cfg(data: Path, **train) -> RunConfig:
    """_cfg on the toy data set (normal class 0, 8x8 gray), for train_run."""
    base = _cfg(**train)
    return RunConfig(data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1), net=base.net,
                     train=base.train)


def _poison_after(monkeypatch, n_calls: int):
    import wildgan.training.loop as loop

    real = loop.critic_loss
    calls = {"n": 0}

    def poisoned(*a, **k):
        loss, terms = real(*a, **k)
        calls["n"] += 1
        if calls["n"] > n_calls:
            loss = loss * float("nan")
        return loss, terms

    monkeypatch.setattr(loop, "critic_loss", poisoned)
    return calls


def test_nan_is_detected_and_last_good_checkpoint_survives(tmp_path, monkeypatch):
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    _poison_after(monkeypatch, 20)
    with pytest.raises(DivergenceError, match="non-finite"):
        train_pgan(x, _cfg(), tmp_path, progress=False, log=lambda m: None)
    cks = ckpt.list_checkpoints(tmp_path / "checkpoints")
    assert cks, "a good checkpoint should exist from before the NaN"
    # a divergence before the first checkpoint does not claim one was kept
    _poison_after(monkeypatch, 0)
    with pytest.raises(DivergenceError, match="No checkpoint was written before it .train.checkpoint_kimg=100"):
        train_pgan(x, _cfg(checkpoint_kimg=100), tmp_path / "early", progress=False, log=lambda m: None)
    tensors, meta = ckpt.load_checkpoint(cks[-1])
    assert all(torch.isfinite(v.float()).all() for k, v in tensors.items() if not k.startswith("rng"))
    assert not (tmp_path / "network-final.json").exists()
    # the newest checkpoint predates the first NaN step (20 D steps of batch 16)
    assert meta["nimg"] <= 20 * 16


def test_rollback_mode_recovers_with_lower_lr(tmp_path, monkeypatch):
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    import wildgan.training.loop as loop

    real = loop.critic_loss
    state = {"n": 0}

    def flaky(*a, **k):                      # one burst of NaN losses, then healthy again
        loss, terms = real(*a, **k)
        state["n"] += 1
        if 16 < state["n"] <= 18:
            loss = loss * float("nan")
        return loss, terms

    monkeypatch.setattr(loop, "critic_loss", flaky)
    logs: list[str] = []
    res = train_pgan(x, _cfg(on_divergence="rollback"), tmp_path, progress=False, log=logs.append)
    assert res.status == "done" and any("rolled back" in m for m in logs)
    meta = ckpt.read_meta(ckpt.list_checkpoints(tmp_path / "checkpoints")[-1])
    assert meta["lr"] == pytest.approx(0.0005) and meta["rollbacks"] == 1


def test_too_few_images_for_the_minibatch_is_a_clear_error(tmp_path):
    from wildgan.errors import DataError

    x = np.zeros((10, 8, 8, 1), np.uint8)
    with pytest.raises(DataError, match="only 10 training images.*minibatch"):
        train_pgan(x, _cfg(), tmp_path, progress=False, log=lambda m: None)


def test_resume_refuses_a_different_schedule(tmp_path):
    from wildgan.errors import ConfigError
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.2)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    from dataclasses import replace

    longer = replace(cfg, train=replace(cfg.train, total_kimg=0.3))          # a longer run is fine
    train_run(longer, run, resume=True, progress=False, log=lambda m: None)
    other = replace(cfg, train=replace(cfg.train, phase_kimg=0.5))            # another schedule is not
    with pytest.raises(ConfigError, match="train.phase_kimg"):
        train_run(other, run, resume=True, progress=False, log=lambda m: None)
    # a fresh start on top of the run is refused (it would mix old checkpoints and logs into the new run) ...
    with pytest.raises(ConfigError, match="already holds a run.*resume=True.*overwrite=True"):
        train_run(cfg, run, progress=False, log=lambda m: None)
    # ... unless asked to overwrite: then nothing of the old run is left
    (run / "eval.json").write_text("{}")
    train_run(cfg, run, overwrite=True, progress=False, log=lambda m: None)
    assert not (run / "eval.json").exists()
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert all(a["kimg"] < b["kimg"] for a, b in zip(rows, rows[1:])), "stats.jsonl mixes two runs"


def test_resume_from_an_older_checkpoint_drops_the_later_stats_rows(tmp_path):
    """When the newest checkpoints are damaged, resume falls back to an older one: the rows the first session wrote
    after it must not stay in stats.jsonl (the report would plot two histories)."""
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.4)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    kimgs = [json.loads(line)["kimg"] for line in (run / "stats.jsonl").read_text().splitlines()]
    cks = ckpt.list_checkpoints(run / "checkpoints")
    assert len(cks) >= 2
    for c in cks[-1:]:                                    # damage the newest: resume takes the one before
        c.with_suffix(".safetensors").write_bytes(b"garbage")
    said: list[str] = []
    train_run(cfg, run, resume=True, progress=False, log=said.append)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert all(a["kimg"] < b["kimg"] for a, b in zip(rows, rows[1:])), [r["kimg"] for r in rows]
    assert [r["kimg"] for r in rows] == kimgs
    assert any("dropped" in m for m in said)
    # every row says how many iterations its averages cover (fewer in the first row after the resume)
    assert all(1 <= r["iters"] <= cfg.train.log_every for r in rows) and rows[0]["iters"] == cfg.train.log_every


def test_resume_and_overwrite_together_and_a_changed_fanogan_default(tmp_path):
    from dataclasses import replace

    from wildgan.errors import ConfigError
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.2)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    with pytest.raises(ConfigError, match="give one of them"):
        train_run(cfg, run, resume=True, overwrite=True, progress=False, log=lambda m: None)
    # a wildgan run does not use the f-AnoGAN section: a changed default there (a newer wildgan) must not block it
    newer = replace(cfg, fanogan=replace(cfg.fanogan, bn_eps=1e-2), train=replace(cfg.train, total_kimg=0.3))
    train_run(newer, run, resume=True, progress=False, log=lambda m: None)


def test_resume_on_changed_training_data_is_refused_and_writes_nothing(tmp_path):
    # before: a warning, split.json rewritten for the new data, then a crash (another image count breaks the saved
    # sampler position), leaving a record of data the networks were never trained on
    from dataclasses import replace

    from wildgan.errors import ConfigError
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.2)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    x = np.load(data)
    # only anomalies (class 1) gone, at gamma 0 the test split's: the networks are not affected, a warning
    np.savez(data, x=x["x"][:-2], y=x["y"][:-2])
    said: list[str] = []
    train_run(replace(cfg, train=replace(cfg.train, total_kimg=0.3)), run, resume=True, progress=False,
              log=said.append)
    assert any("the test images changed since this run started" in m for m in said), said
    # a normal (training) image gone: refused, nothing written
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    np.savez(data, x=x["x"][1:-2], y=x["y"][1:-2])
    with pytest.raises(ConfigError, match="the training images changed since this run started .*n_train .*restore "
                                          "them, or start again with overwrite=True"):
        train_run(replace(cfg, train=replace(cfg.train, total_kimg=0.4)), run, resume=True, progress=False,
                  log=lambda m: None)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    from dataclasses import replace

    from wildgan.errors import ConfigError
    from wildgan.training.run import check_run_dir, train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.3)
    # a misspelt --out: before, a new default run started "resuming" from nothing
    with pytest.raises(ConfigError, match="nothing to resume \\(no such folder\\)"):
        check_run_dir(cfg, tmp_path / "nothere", resume=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="nothing to resume \\(no run in it"):
        check_run_dir(cfg, tmp_path / "empty", resume=True)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_run_dir(cfg, tmp_path / "afile")
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    # shorter than what the networks have seen: refused (the config would describe a run that never was)
    with pytest.raises(ConfigError, match="shorter than the 0.3.* kimg the run has trained"):
        check_run_dir(replace(cfg, train=replace(cfg.train, total_kimg=0.1)), run, resume=True)
    check_run_dir(replace(cfg, train=replace(cfg.train, total_kimg=0.5)), run, resume=True)     # longer: fine


def test_every_checkpoint_corrupt_stops_the_resume_and_keeps_the_run(tmp_path):
    from wildgan.errors import CheckpointError
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.3)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    final = (run / "network-final.safetensors").read_bytes()
    cks = ckpt.list_checkpoints(run / "checkpoints")
    for c in cks:
        c.with_suffix(".safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="none of its .* loads"):
        train_run(cfg, run, resume=True, progress=False, log=lambda m: None)
    assert ckpt.list_checkpoints(run / "checkpoints") == cks              # nothing pruned or set aside
    assert (run / "network-final.safetensors").read_bytes() == final      # the finished networks untouched
    assert not (run / ".wildgan.lock").exists()                           # the lock is released on errors too


def test_two_processes_cannot_train_into_one_folder(tmp_path):
    import os

    from wildgan.errors import ConfigError
    from wildgan.training.run import LOCK_NAME, run_lock, train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.1)
    run = tmp_path / "run"
    run.mkdir()
    # another process holds the folder: refused, naming it, before anything is written
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from wildgan.training.run import run_lock\n"
                               "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
                               str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"in use by another wildgan process \\(pid {holder.pid}"):
            train_run(cfg, run, progress=False, log=lambda m: None)
        assert not (run / "config.json").exists()
    finally:
        holder.kill()                        # killed: the kernel drops its lock, its file stays behind
        holder.wait()
    assert (run / LOCK_NAME).exists()
    train_run(cfg, run, progress=False, log=lambda m: None)      # the killed holder's lock does not block
    assert (run / "network-final.json").is_file() and not (run / LOCK_NAME).exists()
    # within one process too (a second open of the lock file conflicts), and the pid in a stale file is irrelevant
    (run / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere"}))
    with run_lock(run):
        with pytest.raises(ConfigError, match="in use"):
            with run_lock(run):
                pass


def test_a_resume_with_the_budget_spent_trains_nothing(tmp_path, monkeypatch):
    from wildgan import progress
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=50.0, minutes=0.02)        # stops at the budget, far from 50 kimg
    run = tmp_path / "run"
    first = train_run(cfg, run, progress=False, log=lambda m: None)
    assert first.status == "budget"
    cks = [p.name for p in ckpt.list_checkpoints(run / "checkpoints")]
    said: list[str] = []
    totals = []

    def bar(*a, **k):
        totals.append(k["total"])
        return real_bar(*a, **k)

    real_bar = progress.progress_bar
    monkeypatch.setattr(progress, "progress_bar", bar)
    again = train_run(cfg, run, resume=True, progress=False, log=said.append)
    assert totals == [first.nimg]          # the bar's total is where the run ends: here, not the schedule's end
    # before: each plain resume trained one more round past the budget (and wrote another checkpoint)
    assert again.status == "budget" and again.nimg == first.nimg
    assert [p.name for p in ckpt.list_checkpoints(run / "checkpoints")] == cks
    assert any("already used" in m for m in said)


def test_resume_without_checkpoints_keeps_the_finished_run(tmp_path):
    """The audit's case: a finished run whose checkpoints/ was emptied. Before, --resume said 'starting from scratch',
    retrained, replaced network-final and dropped the stats rows; now it is refused with nothing changed."""
    import shutil
    from dataclasses import replace

    from wildgan.errors import ConfigError
    from wildgan.training.run import check_run_dir, train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.2)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    shutil.rmtree(run / "checkpoints")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != "log.txt"}
    longer = replace(cfg, train=replace(cfg.train, total_kimg=0.3))
    with pytest.raises(ConfigError, match="trained networks \\(network-final.json\\) but no periodic checkpoint"):
        check_run_dir(longer, run, resume=True)
    with pytest.raises(ConfigError, match="restore its checkpoints/ folder, or start again with overwrite=True"):
        train_run(longer, run, resume=True, progress=False, log=lambda m: None)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != "log.txt"} == before


def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(tmp_path):
    """--overwrite deletes the old run only once the new one can start: networks too large for the machine (a
    mistyped width) and data that does not load are refused first."""
    from dataclasses import replace

    from wildgan.errors import ConfigError, DataError
    from wildgan.training.run import train_run

    data = _data(tmp_path)
    cfg = _run_cfg(data, total_kimg=0.1)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != "log.txt"}
    huge = replace(cfg, net=replace(cfg.net, fmap_max=100_000, fmap_base=1_600_000, latent_size=100_000))
    with pytest.raises(ConfigError, match="GiB for their weights and optimiser state alone, more than the"):
        train_run(huge, run, overwrite=True, progress=False, log=lambda m: None)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(DataError):
        train_run(replace(cfg, data=replace(cfg.data, data=str(bad))), run, overwrite=True, progress=False,
                  log=lambda m: None)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != "log.txt"} == before
