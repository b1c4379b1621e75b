"""Scoring the same networks from two threads at once (a fitted Detector shared by a threaded server, or its
copy.copy, which shares the networks). score_batches sets state on the networks for the length of a call (E's
minibatch-stddev sub-batch and group size, the train/eval flags, channels_last weights on CUDA) and puts it back
afterwards: two calls interleaved read each other's settings (a 64-image forward grouped by another call's 12:
ValueError, or by its 16: other scores, without an error) and the last to finish put back the other's value."""

from __future__ import annotations

import os
import threading
import time
import warnings

import numpy as np
import pytest
import torch

from wildgan.config import ScoreConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.scoring import score_pgan
from wildgan.scoring.pgan_scores import scoring_lock


def test_two_threads_scoring_the_same_networks_get_their_own_scores():
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (64, 16, 16, 1), dtype=np.uint8)
    small = rng.integers(0, 256, (12, 16, 16, 1), dtype=np.uint8)
    cfg = ScoreConfig(batch_size=64)
    want_big = score_pgan(nets, big, cfg).scores["a"]
    want_small = score_pgan(nets, small, cfg).scores["a"]

    # forced interleaving: the big call pauses in its encoder forward (its sub-batch of 64 set) until the small call
    # is inside its own encoder forward (its 12 set) -- or, where the small call cannot start meanwhile, for a second
    big_in, small_in = threading.Event(), threading.Event()

    def pause(module: torch.nn.Module, args: tuple) -> None:
        name = threading.current_thread().name
        if name == "big" and not big_in.is_set():
            big_in.set()
            small_in.wait(timeout=1.0)
        elif name == "small":
            small_in.set()

    hook = nets.E.register_forward_pre_hook(pause)
    got: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []

    def score(name: str, x: np.ndarray) -> None:
        if name == "small":
            big_in.wait(timeout=5.0)
        try:
            got[name] = score_pgan(nets, x, cfg).scores["a"]
        except BaseException as e:  # noqa: BLE001 -- said by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=score, args=(n, x), name=n) for n, x in (("big", big), ("small", small))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        hook.remove()
    assert not errors, errors
    np.testing.assert_array_equal(got["big"], want_big)
    np.testing.assert_array_equal(got["small"], want_small)
    # and nothing of either call is left on the networks
    assert nets.E.mbstd_batch is None and nets.E.mbstd_group == 4


def test_two_threads_scoring_one_fanogan_model_leave_its_batchnorm_alone():
    # f-AnoGAN's networks in train mode (the untrained control's, untrained_model; Detector.load's, which do not go
    # through checkpoint.load_fanogan's eval()): score_fanogan puts them in eval mode for the call and back after. A
    # second call that started inside the first saved eval as the mode to put back, and, once the first call had put
    # train back, ran its generator in train mode: its BatchNorm used the batch's statistics (other scores) and
    # updated its running statistics (every later score of the model changed)
    from wildgan.config import DataConfig, FAnoGANConfig, RunConfig, TrainConfig
    from wildgan.scoring.run import untrained_model

    cfg = RunConfig(data=DataConfig(), train=TrainConfig(), method="fanogan", net=net_config_for_preset("tiny", 32, 1),
                    fanogan=FAnoGANConfig(dim=8))
    model = untrained_model(cfg, "cpu")
    rng = np.random.default_rng(1)
    xs = {"first": rng.integers(0, 256, (8, 32, 32, 1), dtype=np.uint8),
          "second": rng.integers(0, 256, (8, 32, 32, 1), dtype=np.uint8)}
    want = {k: model.score(x).scores["A"] for k, x in xs.items()}
    stats = {k: v.clone() for k, v in model.nets.G.state_dict().items() if "running" in k}
    assert stats and model.nets.G.training

    first_in, second_in, first_done = threading.Event(), threading.Event(), threading.Event()

    def pause(module: torch.nn.Module, args: tuple) -> None:
        if threading.current_thread().name == "first":
            first_in.set()
            second_in.wait(timeout=1.0)          # the second call inside its own scoring, where it can be
        elif threading.current_thread().name == "second":
            second_in.set()
            first_done.wait(timeout=5.0)         # ... and its generator runs once the first call has ended

    hook = model.nets.E.register_forward_pre_hook(pause)
    got: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []

    def score(name: str) -> None:
        if name == "second":
            first_in.wait(timeout=5.0)
        try:
            got[name] = model.score(xs[name]).scores["A"]
        except BaseException as e:  # noqa: BLE001 -- said by the assertion below
            errors.append(e)
        finally:
            if name == "first":
                first_done.set()

    threads = [threading.Thread(target=score, args=(n,), name=n) for n in ("first", "second")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        hook.remove()
    assert not errors, errors
    for k in xs:
        np.testing.assert_array_equal(got[k], want[k])
    for k, v in model.nets.G.state_dict().items():
        if k in stats:
            assert torch.equal(v, stats[k]), f"G's {k} changed by scoring"
    assert model.nets.G.training and model.nets.E.training and model.nets.D.training


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_process_forked_while_another_thread_scores_scores_for_itself():
    # a child forked (multiprocessing's fork, os.fork) while a thread of its parent scored these networks: that
    # thread is not in the child, so the lock it held at the fork would be held there for ever, and the child's first
    # scoring of the networks would hang (pgan_scores._forget_scoring_locks, registered with os.register_at_fork)
    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    x = np.random.default_rng(2).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    cfg = ScoreConfig(batch_size=8)
    want = score_pgan(nets, x, cfg).scores["a"]
    inside, go_on = threading.Event(), threading.Event()

    def hold() -> None:
        with scoring_lock(nets.E):               # as a scoring of another thread holds it
            inside.set()
            go_on.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (Python 3.12's warning of a fork with threads running)
            pid = os.fork()
        if pid == 0:                            # the child: scores, then out without pytest's exit
            code = 3
            try:
                got = scoring_lock(nets.E).acquire(timeout=10)   # (not score_pgan's own wait: it would never end)
                if got:
                    scoring_lock(nets.E).release()
                    torch.set_num_threads(1)
                    code = 0 if np.array_equal(score_pgan(nets, x, cfg).scores["a"], want) else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert done, "the forked child hung"
        assert os.waitstatus_to_exitcode(status) == 0, {1: "other scores", 3: "the lock held in the child"}.get(
            os.waitstatus_to_exitcode(status), os.waitstatus_to_exitcode(status))
    finally:
        go_on.set()
        holder.join(30)
