"""The progressive schedule is a pure function of images seen (spec 3.5)."""

import math
import random
from typing import Any

import pytest
import torch

from wildgan.config import PAPER_MINIBATCH
from wildgan.training.schedule import first_round_without_a_size, lod_at, schedule, schedule_kimg_for_full_growth


@pytest.mark.parametrize("kimg,res,lod,batch", [
    (0, 4, 3.0, 128), (599.999, 4, 3.0, 128), (600, 4, 3.0, 128), (600.001, 8, 2.999998, 128),
    (900, 8, 2.5, 128), (1200, 8, 2.0, 128), (1800, 8, 2.0, 128), (2100, 16, 1.5, 128), (2400, 16, 1.0, 128),
    (3300, 32, 0.5, 64), (3600, 32, 0.0, 64), (4000, 32, 0.0, 64), (10000, 32, 0.0, 64),
])
def test_cifar_schedule(kimg, res, lod, batch):
    ph = schedule(int(round(kimg * 1000)), 32, 600, 600, PAPER_MINIBATCH)
    assert ph.resolution == res and ph.batch == batch
    assert ph.lod == pytest.approx(lod, abs=1e-5)


def test_cells_schedule_and_growth_end():
    assert schedule_kimg_for_full_growth(32, 600, 600) == 3600
    assert schedule_kimg_for_full_growth(64, 600, 600) == 4800
    assert schedule(4500 * 1000, 64, 600, 600, PAPER_MINIBATCH).resolution == 64
    assert schedule(4500 * 1000, 64, 600, 600, PAPER_MINIBATCH).batch == 32
    assert schedule(4200 * 1000, 64, 600, 600, PAPER_MINIBATCH).resolution == 32


@pytest.mark.parametrize("res,kimg", [(32, 4000), (64, 5200), (16, 2800)])
def test_default_length_follows_the_resolution(res, kimg):
    # a RunConfig built without a length gets the paper's for its resolution: a fixed 4000 kimg would end a 64x64
    # run at lod 1 (32x32), before its last fade-in
    from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig, paper_total_kimg

    cfg = RunConfig(data=DataConfig(), net=NetConfig(resolution=res), train=TrainConfig())
    assert cfg.train.total_kimg == pytest.approx(kimg) == paper_total_kimg(res, 600, 600)
    end = schedule(int(round(cfg.train.total_kimg * 1000)), res, 600, 600, PAPER_MINIBATCH)
    assert end.resolution == res and end.lod == 0
    # an explicit length is kept, and a shorter phase shortens the default with it
    given = RunConfig(data=DataConfig(), net=NetConfig(resolution=res), train=TrainConfig(total_kimg=7.0))
    assert given.train.total_kimg == 7.0
    short = RunConfig(data=DataConfig(), net=NetConfig(resolution=res), train=TrainConfig(phase_kimg=30.0))
    assert short.train.total_kimg == pytest.approx(kimg / 20)


def test_lod_bounds_change_exactly_at_fade_start_and_end():
    changes = []
    prev = None
    for nimg in range(0, 3700 * 1000, 4000):
        b = schedule(nimg, 32, 600, 600, PAPER_MINIBATCH).lod_bounds
        if b != prev:
            changes.append(nimg // 1000)
            prev = b
    # start, then start (first sample after 600, 1800, 3000 kimg) and end of each of the three fades
    assert changes == [0, 604, 1200, 1804, 2400, 3004, 3600]


def test_separate_fade_length():
    ph = schedule(15_000, 16, 10, 20, PAPER_MINIBATCH)   # 5 kimg into a 20 kimg fade to 8x8
    assert ph.resolution == 8 and ph.lod == pytest.approx(2 - 0.25)


def test_no_fade_in():
    """fade_kimg 0: the resolution doubles at the end of each stable phase (no fade, no division by zero)."""
    mb = {4: 16, 8: 16, 16: 16, 32: 8}
    assert [schedule(n, 32, 1.0, 0.0, mb).lod for n in (0, 999, 1000, 2500, 3000, 9000)] == [3, 3, 2, 1, 0, 0]
    assert all(schedule(n, 32, 1.0, 0.0, mb).fade == 0 for n in range(0, 4000, 250))


def test_schedule_work_weighs_each_image_by_its_phase_cost():
    from wildgan.training.schedule import schedule_work

    cost = {4: 1.0, 8: 10.0, 16: 100.0, 32: 1000.0}
    # a Riemann sum over schedule() itself: the resolution steps up at the start of each fade-in
    step = 0.5
    ref = sum(cost[schedule(int((k + step / 2) * 1000), 32, 600, 600, PAPER_MINIBATCH).resolution] * step
              for k in [i * step for i in range(int(4000 / step))])
    assert schedule_work(0, 4000, 32, 600, 600, cost) == pytest.approx(ref)
    assert schedule_work(0, 600, 32, 600, 600, cost) == 600                     # the 4x4 phase
    assert schedule_work(3000, 3100, 32, 600, 600, cost) == 100 * 1000          # 32x32 from its fade-in on
    assert schedule_work(500, 700, 32, 600, 600, cost) == 100 * 1 + 100 * 10
    assert schedule_work(700, 700, 32, 600, 600, cost) == 0
    # a fade-in's images at their own cost: the Riemann sum of schedule() with its fade weight
    fade_cost = {8: 20.0, 16: 200.0, 32: 2000.0}
    ref = sum((fade_cost if ph.fade > 0 else cost)[ph.resolution] * step
              for ph in (schedule(int((i * step + step / 2) * 1000), 32, 600, 600, PAPER_MINIBATCH)
                         for i in range(int(4000 / step))))
    assert schedule_work(0, 4000, 32, 600, 600, cost, fade_cost) == pytest.approx(ref)
    assert schedule_work(500, 1300, 32, 600, 600, cost, fade_cost) == 100 * 1 + 600 * 20 + 100 * 10
    assert schedule_work(0, 600, 32, 600, 600, cost, fade_cost) == 600                  # 4x4 has no fade-in
    # the images/s ETA of the first 40 kimg (4x4) against the work left: off by a factor of about 290 here
    left = schedule_work(40, 4000, 32, 600, 600, cost) / schedule_work(0, 40, 32, 600, 600, cost)
    assert left / ((4000 - 40) / 40) > 250


def test_eta_takes_its_rate_from_the_current_resolution():
    # 4x4 for 600 kimg, then 8, 16 (1200 kimg each, fade included), 32 from 3000 kimg on; costs 1, 10, 100, 1000
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.training.loop import ETA_ANCHOR_SECONDS, EtaCosts, _eta

    cost = EtaCosts({4: 1.0, 8: 10.0, 16: 100.0, 32: 1000.0})
    nc, tc = net_config_for_preset("tiny", 32, 3), TrainConfig(phase_kimg=600, total_kimg=4000)
    now = 10_000.0
    # 1000 s this session, the last 400 of them at 32x32 (500 kimg): 500 kimg x 1000 left at 1250 per second
    assert _eta(cost, nc, tc, 0, 3_500_000, 4_000_000, 1000.0, anchor=(32, 3_000_000, now - 400), now=now) == "06:40"
    # without an anchor (or one too recent to measure): the session's rate, 632,600 per 1000 s, is slower
    session = _eta(cost, nc, tc, 0, 3_500_000, 4_000_000, 1000.0, now=now)
    assert session == "13:10"
    assert _eta(cost, nc, tc, 0, 3_500_000, 4_000_000, 1000.0, now=now,
                anchor=(32, 3_499_000, now - ETA_ANCHOR_SECONDS / 2)) == session
    # a --minutes budget that ends the run first bounds it
    tc = TrainConfig(phase_kimg=600, total_kimg=4000, minutes=20)
    assert _eta(cost, nc, tc, 0, 3_500_000, 4_000_000, 1000.0, anchor=(32, 3_000_000, now - 400), now=now) == "03:20"
    assert _eta(cost, nc, tc, 3_500_000, 3_500_000, 4_000_000, 0.0, now=now) == "?"
    # below the full resolution the FLOP-priced estimate is an upper bound, and says so (the budget is no bound)
    tc = TrainConfig(phase_kimg=600, total_kimg=4000)
    assert _eta(cost, nc, tc, 0, 300_000, 4_000_000, 60.0).startswith("<")
    assert not _eta(cost, nc, tc, 0, 3_500_000, 4_000_000, 1000.0).startswith("<")
    tc = TrainConfig(phase_kimg=600, total_kimg=4000, minutes=2)
    assert _eta(cost, nc, tc, 0, 300_000, 4_000_000, 60.0) == "01:00"


def test_lod_of_last_round_replays_the_rounds():
    # rounds of 4 iterations: 512 images at batch 128 (4..16 px), 256 at batch 64 (32 px); phases of 1 kimg, so
    # the 32x32 fade-in (lod < 1) starts after 5 kimg
    from wildgan.training.schedule import lod_of_last_round

    mb = {4: 128, 8: 128, 16: 128, 32: 64}
    # the round starting at 4608 is still at 16x16 (lod 1) and ends at 5120, past the start of the fade-in: the
    # lod just before 5120 (0.881) is not the one those weights trained at
    assert lod_of_last_round(5120, 32, 1.0, 1.0, mb, 4) == 1.0
    assert schedule(5119, 32, 1.0, 1.0, mb).lod == pytest.approx(0.881)
    # the next round starts at 5120 at lod 0.88, 32x32, batch 64, and ends at 5376
    assert lod_of_last_round(5376, 32, 1.0, 1.0, mb, 4) == pytest.approx(0.88)
    # nimg off the rounds (another batch table in an earlier session): the schedule just before it
    assert lod_of_last_round(5000, 32, 1.0, 1.0, mb, 4) == schedule(4999, 32, 1.0, 1.0, mb).lod
    assert lod_of_last_round(0, 32, 1.0, 1.0, mb, 4) == 3.0
    assert lod_of_last_round(10**9, 32, 1.0, 1.0, mb, 4) == 0.0          # long past full growth: not replayed


def test_end_of_rounds_is_where_the_loop_stops():
    from wildgan.config import PRESETS
    from wildgan.training.schedule import end_of_rounds

    tiny = PRESETS["tiny"]["minibatch"]                     # 16 at 4..16 px: rounds of 64 images
    # test_cli's sample-grid run (8x8, 0.3 kimg, phases of 0.1) writes its final grid at 320 images
    assert end_of_rounds(0, 300, 8, 0.1, 0.1, tiny, 4) == 320
    assert end_of_rounds(320, 300, 8, 0.1, 0.1, tiny, 4) == 320          # nothing left: where it is
    assert end_of_rounds(0, 30000, 32, 4.0, 4.0, tiny, 4) == 30016       # the demo
    # the paper's CIFAR schedule: 128 at 4..16, 64 at 32 px; a total on a round boundary is exact
    assert end_of_rounds(0, 512 * 10, 32, 600, 600, PAPER_MINIBATCH, 4) == 5120


def test_kimg_to_reach_full_resolution_is_the_end_of_a_round_at_lod_0():
    # The audit's case: tiny at 32x32, phases of 0.1 kimg. The schedule's lod reaches 0 at 0.6 kimg, but the round
    # that starts at 0.576 (lod 0.24) runs to 0.608, so total_kimg=0.6 ends still fading in; the next round
    # (0.608-0.640) is the first at lod 0.
    from wildgan.config import PRESETS
    from wildgan.training.schedule import end_of_rounds, kimg_to_reach_full_resolution, lod_of_last_round

    tiny = PRESETS["tiny"]["minibatch"]
    assert schedule_kimg_for_full_growth(32, 0.1, 0.1) == pytest.approx(0.6)
    assert lod_of_last_round(end_of_rounds(0, 600, 32, 0.1, 0.1, tiny, 4), 32, 0.1, 0.1, tiny, 4) > 0
    assert kimg_to_reach_full_resolution(32, 0.1, 0.1, tiny, 4) == pytest.approx(0.608)
    for total in (609, 640):                                  # any total past that round's start gets there
        end = end_of_rounds(0, total, 32, 0.1, 0.1, tiny, 4)
        assert end == 640 and lod_of_last_round(end, 32, 0.1, 0.1, tiny, 4) == 0.0
    end = end_of_rounds(0, 608, 32, 0.1, 0.1, tiny, 4)       # ... and a total at it does not
    assert end == 608 and lod_of_last_round(end, 32, 0.1, 0.1, tiny, 4) > 0
    # the paper's schedule: the rounds (512 images at 4-16 px, 256 at 32 px) do not land on 3600 kimg
    need = kimg_to_reach_full_resolution(32, 600, 600, PAPER_MINIBATCH, 4)
    assert need == pytest.approx(3600.128)
    assert schedule(int(need * 1000) - 256, 32, 600, 600, PAPER_MINIBATCH).lod > 0


def _replayed_start_of_lod0(res, phase, fade, mb, repeats):
    """The oracle: every round replayed from 0, as the loop runs them."""
    grown = schedule_kimg_for_full_growth(res, phase, fade) * 1000
    n = 0
    while True:
        ph = schedule(n, res, phase, fade, mb)
        if ph.lod == 0 and n >= grown:
            return n / 1000
        n += repeats * ph.batch


@pytest.mark.parametrize("mb", [PAPER_MINIBATCH, {4: 16, 8: 16, 16: 16, 32: 8, 64: 8},
                                {4: 13, 8: 11, 16: 9, 32: 7, 64: 5}])
@pytest.mark.parametrize("phase, fade", [(0.01, 0.01), (0.1, 0.1), (0.123, 0.077), (0.3, 0.0), (6, 6)])
def test_kimg_to_reach_full_resolution_equals_the_replay(mb, phase, fade):
    # it skips the rounds of one size at once (a replay of 600-kimg phases at batch 4 took seconds): same answer
    from wildgan.training.schedule import kimg_to_reach_full_resolution

    for res in (4, 8, 32, 64):
        for repeats in (1, 3, 4):
            assert kimg_to_reach_full_resolution(res, phase, fade, mb, repeats) == pytest.approx(
                _replayed_start_of_lod0(res, phase, fade, mb, repeats), abs=1e-9), (res, repeats)


def test_the_advised_total_reaches_full_resolution_even_with_tiny_phases():
    from wildgan.config import paper_total_kimg
    from wildgan.training.schedule import end_of_rounds, kimg_to_the_image, lod_of_last_round, total_kimg_advice

    mb = {4: 16, 8: 16, 16: 16, 32: 8}
    for res, phase in ((8, 0.01), (32, 0.01), (32, 0.1), (16, 0.1)):
        paper = paper_total_kimg(res, phase, phase)
        advice = float(kimg_to_the_image(total_kimg_advice(res, phase, phase, mb, 4, paper)))
        end = end_of_rounds(0, round(advice * 1000), res, phase, phase, mb, 4)
        assert lod_of_last_round(end, res, phase, phase, mb, 4) == 0.0, (res, phase, advice)
    # phases of 0.01 at 8x8: the paper's 0.0267 kimg ends at lod 1; the first round at lod 0 is 0.064-0.128
    assert paper_total_kimg(8, 0.01, 0.01) < 0.064
    assert total_kimg_advice(8, 0.01, 0.01, mb, 4, paper_total_kimg(8, 0.01, 0.01)) == pytest.approx(0.128)
    assert kimg_to_the_image(3600.128) == "3600.128" and kimg_to_the_image(4000.0) == "4000"
    assert kimg_to_the_image(1.3333333) == "1.334"                 # rounded up: never short of a threshold


@pytest.mark.parametrize("total_kimg, phase, fade, minibatch, repeats", [
    (100, 3, 3, {4: 16}, 2), (0.05, 0.05, 0.05, {4: 16}, 1), (0.1, 0.05, 0.05, {4: 16}, 1),
    (7, 1, 0.5, {4: 8, 8: 4, 16: 2}, 3), (7, 1, 0, {4: 8, 8: 4, 32: 2}, 1), (3, 1, 1, {8: 4}, 1),
    (2.5, 0.7, 0.3, {4: 5, 8: 3, 16: 7, 32: 2}, 2), (20, 0.7, 0.3, {4: 5, 8: 3, 16: 7, 32: 2}, 2),
])
def test_first_round_without_a_size_is_where_the_loop_would_fail(total_kimg, phase, fade, minibatch, repeats):
    # a replay of the loop's rounds (schedule() raises KeyError where a size is missing) gives the same answer as
    # the one that skips across each resolution: training.run.check_minibatch_sizes refuses exactly what would fail
    total = int(round(total_kimg * 1000))
    n, want = 0, None
    while n < total:
        try:
            ph = schedule(n, 32, phase, fade, minibatch)
        except KeyError:
            want = (n, int(32 / 2 ** math.floor(lod_at(n, 32, phase, fade))))
            break
        n += repeats * ph.batch
    assert first_round_without_a_size(total, 32, phase, fade, minibatch, repeats) == want
    assert (want is None) == (total_kimg in (0.05, 2.5, 20))     # (both kinds of case are tried)


def _loop_rounds(total: int, res: int, phase: float, fade: float, minibatch: dict[int, int], repeats: int):
    """What the training loop does, round by round through schedule(): (images, resolution) of the first round it
    cannot start (schedule() raises KeyError there), or None; and where it first starts a round at lod 0 past the
    end of growth (or None if it stops before)."""
    grown = schedule_kimg_for_full_growth(res, phase, fade) * 1000
    n, missing, full = 0, None, None
    while n < total:
        try:
            ph = schedule(n, res, phase, fade, minibatch)
        except KeyError:
            missing = (n, int(res / 2 ** math.floor(lod_at(n, res, phase, fade))))
            break
        if ph.lod == 0 and n >= grown:
            full = n
            break                    # (full resolution to the end: no size is asked for again)
        n += repeats * ph.batch
    return missing, full


@pytest.mark.parametrize("total, res, phase, fade, minibatch, repeats, want", [
    # transition 0, phase 0.1: lod_at(600 images) is 128x128's (0.6 / 0.1 = 5.999...), so the edge the replay
    # computed in images (600) was a round early: it refused this valid run from 601 images on, where no round starts
    (602, 256, 0.1, 0.0, {4: 5, 8: 3, 16: 2, 32: 128, 64: 64, 128: 5}, 1, None),
    # ... and named 0.328 kimg where the loop fails at 0.314: its advice (a total of at most 0.328) still failed
    (336, 32, 0.1, 0.0, {4: 3, 8: 5, 16: 7}, 2, (314, 32)),
])
def test_first_round_without_a_size_agrees_with_the_loop_where_kimg_over_the_period_rounds_down(
        total, res, phase, fade, minibatch, repeats, want):
    assert _loop_rounds(total, res, phase, fade, minibatch, repeats)[0] == want
    assert first_round_without_a_size(total, res, phase, fade, minibatch, repeats) == want


def test_the_replays_agree_with_the_loop_over_random_schedules():
    # property test against schedule() round by round: every resolution 4..256, phases that are not exact in binary
    # (0.1, 0.7, ...), fade-ins of other lengths or none, sizes missing anywhere, 1-4 repeats, totals anywhere
    from wildgan.training.schedule import kimg_to_reach_full_resolution

    rng = random.Random(1905)
    refused = full_checked = 0
    for _ in range(400):
        res = rng.choice([4, 8, 16, 32, 64, 128, 256])
        phase = rng.choice([0.1, 0.2, 0.3, 0.7, 1.1, 0.017, 0.034, 0.07, 0.14, round(rng.uniform(0.001, 1), 3),
                            rng.uniform(0.001, 1)])
        fade = rng.choice([0.0, phase, round(rng.uniform(0.001, 1), 3)])
        levels = [4 << i for i in range(res.bit_length() - 2)]
        full_table = {r: rng.choice([1, 2, 3, 5, 7, 8, 16]) for r in levels}
        minibatch = {r: b for r, b in full_table.items() if r == 4 or rng.random() < 0.8}
        repeats = rng.choice([1, 2, 4])
        end = int((schedule_kimg_for_full_growth(res, phase, fade) + phase) * 1000)
        total = rng.randint(1, end + 20)
        missing, _ = _loop_rounds(total, res, phase, fade, minibatch, repeats)
        assert first_round_without_a_size(total, res, phase, fade, minibatch, repeats) == missing, \
            (total, res, phase, fade, minibatch, repeats)
        refused += missing is not None
        if res > 4:
            _, full = _loop_rounds(10 ** 9, res, phase, fade, full_table, repeats)
            assert kimg_to_reach_full_resolution(res, phase, fade, full_table, repeats) == pytest.approx(full / 1000), \
                (res, phase, fade, full_table, repeats)
            full_checked += 1
    assert 50 < refused < 350 and full_checked > 300         # (both answers of the check are tried)


def test_the_resolution_never_goes_down_as_images_increase_even_in_floats():
    """first_round_without_a_size and kimg_to_reach_full_resolution find where the resolution changes by bisection,
    which is exact only while the resolution of lod_at never goes down as images increase. The formula does not
    (lod is continuous and non-increasing), but kimg / period and kimg - p * period are rounded: checked image by
    image around each period's edges (where p steps and k restarts) and fade-in's ends, for phase lengths that are
    not exact in binary."""
    rng = random.Random(7)
    for _ in range(3000):
        phase = max(0.001, round(rng.uniform(0.001, 3), rng.choice([1, 2, 3, 4])))
        fade = rng.choice([0.0, round(rng.uniform(0.0005, 3), rng.choice([1, 2, 3, 4]))])
        period = (phase + fade) * 1000
        for p in range(1, 7):
            for edge in (p * period, (p - 1) * period + phase * 1000):
                res = [int(64 / 2 ** math.floor(lod_at(n, 64, phase, fade)))
                       for n in range(max(0, int(edge) - 2), int(edge) + 3)]
                assert res == sorted(res), (phase, fade, edge, res)


def test_eta_forecasts_the_resolutions_ahead_from_two_measured_ones():
    # an iteration costs 0.016 s + 0.001 s per FLOP unit: 2 ms per image at 4x4 (batch 16, 16 units), 5 ms at 8x8
    # (64 units), so 17 ms at 16x16 (256) and 66 ms at 32x32 (batch 8, 512), not the FLOPs' 4x per resolution
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.training.loop import EtaCosts, _eta, _forecast

    cost = {4: 1.0, 8: 4.0, 16: 16.0, 32: 64.0}
    batch = {4: 16, 8: 16, 16: 16, 32: 8}
    measured = {4: (0.0, 1000.0, 2.0), 8: (0.0, 1000.0, 5.0)}          # (fade-in images, stable images, seconds)
    got = _forecast(EtaCosts(cost), batch, measured)
    assert got is not None and got(4, 0, 1000) == pytest.approx(2.0) and got(8, 0, 1000) == pytest.approx(5.0)
    assert math.isclose(got(16, 0, 1), 0.017) and math.isclose(got(32, 0, 1), 0.066)
    # one resolution, a missing batch size or a fit that is no cost (slower at 4x4: noise) forecast nothing
    assert _forecast(EtaCosts(cost), batch, {8: (0.0, 1000.0, 5.0)}) is None
    assert _forecast(EtaCosts(cost), {8: 16, 16: 16, 32: 8}, measured) is None
    assert _forecast(EtaCosts(cost), batch, {4: (0.0, 1000.0, 6.0), 8: (0.0, 1000.0, 5.0)}) is None

    # with operator calls per iteration (100, 120, 140, 160): an iteration costs 0.2 ms a call plus 0.2 ms per FLOP
    # unit, 23.2 ms at 4x4 and 36.8 ms at 8x8 (100 iterations each); so 16x16 costs 79.2 ms an iteration (4.95 ms an
    # image) and 32x32 134.4 ms (16.8 ms an image), where a fixed cost per iteration said 91.2 and 163.7 ms
    ops = {4: 100.0, 8: 120.0, 16: 140.0, 32: 160.0}
    timed = {4: (0.0, 1600.0, 2.32), 8: (0.0, 1600.0, 3.68)}
    got = _forecast(EtaCosts(cost, ops), batch, timed)
    assert got is not None
    assert math.isclose(got(16, 0, 1), 0.0792 / 16) and math.isclose(got(32, 0, 1), 0.1344 / 8)
    fixed_cost = _forecast(EtaCosts(cost), batch, timed)
    assert fixed_cost is not None and math.isclose(fixed_cost(32, 0, 1), (0.0232 + (0.0368 - 0.0232) / 48 * 496) / 8)
    # calls that grow as the FLOPs do cannot tell the two costs apart, and a fit with a negative cost per call
    # (calls that grow 5x, 30 to 160, where the FLOPs grow 4x) is none: the fixed cost per iteration then
    fixed = _forecast(EtaCosts(cost), batch, measured)
    for calls in ({4: 16.0, 8: 64.0, 16: 256.0, 32: 512.0}, {4: 30.0, 8: 160.0, 16: 220.0, 32: 280.0}):
        other = _forecast(EtaCosts(cost, calls), batch, measured)
        assert other is not None and fixed is not None
        assert [other(r, 0, 1) for r in (16, 32)] == pytest.approx([fixed(r, 0, 1) for r in (16, 32)])

    # 4x4 until 1 kimg, 8x8 until 3, 16x16 until 5, then 32x32; at 2 kimg: 2 s at 4x4, 5 s at 8x8
    nc = net_config_for_preset("tiny", 32, 3)
    tc = TrainConfig(phase_kimg=1, total_kimg=7, minibatch=batch)
    now = 100.0
    # 9 s this session for 5 units of work (2 s of them neither at 4x4 nor at 8x8: checkpoint writes), 1.8 s a unit.
    # 8x8 left: 1000 x its own 5 ms (not 7.2 s at the session's rate); 16x16: 2000 x 17 ms (not 57.6 s of FLOPs);
    # 32x32: 2000 x 66 ms (not 230.4 s)
    assert _eta(EtaCosts(cost), nc, tc, 0, 2000, 7000, 9.0, anchor=(8, 1000, now - 5.0), now=now,
                measured={4: (0, 1000, 2.0)}) == "02:51"
    # before a second resolution was measured (8x8 began 0.5 s ago): every resolution at the session's rate, 1.4 s a
    # unit over 7 s, the ones ahead an upper bound
    assert _eta(EtaCosts(cost), nc, tc, 0, 2000, 7000, 7.0, anchor=(8, 1000, now - 0.5), now=now,
                measured={4: (0, 1000, 2.0)}) == "<03:49"


# A synthetic cost profile: an iteration costs C per operator call plus K per FLOP unit, and a fade-in iteration makes
# more calls (and FLOPs) than a stable one at its resolution, as the networks' skip path and blend do
_CALLS = {4: 100.0, 8: 120.0, 16: 140.0, 32: 160.0}
_FADE_CALLS = {8: 150.0, 16: 170.0, 32: 190.0}
_FLOPS = {4: 1.0, 8: 4.0, 16: 16.0, 32: 64.0}
_FADE_FLOPS = {8: 4.5, 16: 18.0, 32: 72.0}
_BATCH = {4: 16, 8: 16, 16: 16, 32: 8}
_C, _K = 0.01, 0.01


def _true_seconds(r: int, n_fade: float, n_stable: float) -> float:
    per_image = {False: (_C * _CALLS[r] + _K * _FLOPS[r] * _BATCH[r]) / _BATCH[r]}
    if r in _FADE_CALLS:
        per_image[True] = (_C * _FADE_CALLS[r] + _K * _FADE_FLOPS[r] * _BATCH[r]) / _BATCH[r]
    return n_fade * per_image.get(True, 0.0) + n_stable * per_image[False]


def _left(text: str) -> float:
    out = 0.0
    for part in text.split(":"):
        out = out * 60 + float(part)
    return out


def test_eta_measured_in_a_fade_in_forecasts_the_stable_phase_and_the_resolutions_ahead():
    """tiny on 32x32, phases and fade-ins of 1 kimg: 4x4 until 1 kimg, 8x8 fade-in until 2, stable until 3, 16x16
    fade 3-4, stable 4-5, 32x32 fade 5-6, stable to the end at 9. At 1.5 kimg (half way through the 8x8 fade-in)
    the time left comes out as the profile says, from 4x4 and the fade-in alone; counted as stable iterations (the
    fade's costs not given) the fade's rate is taken for 8x8's stable phase and enters the fit: far longer."""
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.training.loop import EtaCosts, _eta

    nc = net_config_for_preset("tiny", 32, 3)
    tc = TrainConfig(phase_kimg=1, total_kimg=9, minibatch=_BATCH)              # (a fade-in as long as a phase)
    s4, s8 = _true_seconds(4, 0, 1000), _true_seconds(8, 500, 0)
    truth = _true_seconds(8, 500, 1000) + _true_seconds(16, 1000, 1000) + _true_seconds(32, 1000, 3000)
    now = 1000.0
    aware = EtaCosts(_FLOPS, _CALLS, _FADE_FLOPS, _FADE_CALLS)
    got = _eta(aware, nc, tc, 0, 1500, 9000, s4 + s8, anchor=(8, 1000, now - s8), now=now,
               measured={4: (0, 1000, s4)})
    assert not got.startswith("<") and abs(_left(got) - truth) <= 1.0, (got, truth)
    old = _eta(EtaCosts(_FLOPS, _CALLS), nc, tc, 0, 1500, 9000, s4 + s8, anchor=(8, 1000, now - s8), now=now,
               measured={4: (0, 1000, s4)})
    assert _left(old) > 1.15 * truth, (old, truth)

    # later in the stable 8x8 phase (2.5 kimg), with the fade-in and the stable images in one measured span, and in
    # the 16x16 fade-in (3.5 kimg) with 8x8 finished: right again
    s8_all = _true_seconds(8, 1000, 1000)
    for nimg, anchor, measured, left in (
            (2500, (8, 1000, _true_seconds(8, 1000, 500)), {4: (0, 1000, s4)},
             _true_seconds(8, 0, 500) + _true_seconds(16, 1000, 1000) + _true_seconds(32, 1000, 3000)),
            (3500, (16, 3000, _true_seconds(16, 500, 0)), {4: (0, 1000, s4), 8: (1000, 3000, s8_all)},
             _true_seconds(16, 500, 1000) + _true_seconds(32, 1000, 3000))):
        got = _eta(aware, nc, tc, 0, nimg, 9000, 100.0, anchor=(anchor[0], anchor[1], now - anchor[2]), now=now,
                   measured=measured)
        assert abs(_left(got) - left) <= 1.0, (nimg, got, left)


def test_the_eta_counts_fade_in_iterations_apart():
    """The counting pass: a fade-in iteration calls more operators than a stable one at its resolution (the skip path
    and the blend) and costs at least its FLOPs; 4x4 has no fade-in."""

    from wildgan.config import net_config_for_preset
    from wildgan.training.loop import _phase_costs

    nc = net_config_for_preset("tiny", 32, 3)
    costs = _phase_costs(nc)
    assert costs.calls is not None and costs.fade_calls is not None and costs.fade_flops is not None
    assert set(costs.flops) == {4, 8, 16, 32} and set(costs.fade_flops) == set(costs.fade_calls) == {8, 16, 32}
    for r in (8, 16, 32):
        assert costs.calls[r] * 1.05 < costs.fade_calls[r] < costs.calls[r] * 1.5
        assert costs.flops[r] <= costs.fade_flops[r] < costs.flops[r] * 1.1


def test_kimg_to_the_images_are_said_to_the_image() -> None:
    from wildgan.training.schedule import kimg_to_the_image

    # `:g` said a total of 52/15 kimg as 3.46667 and cut 1234.567 kimg (an image count) to 1234.57
    assert [kimg_to_the_image(k) for k in (52 / 15, 0.3, 4000.0, 1234.567, 0.05, 600)] == [
        "3.467", "0.3", "4000", "1234.567", "0.05", "600"]


def test_images_shown_and_recorded_kimg_are_said_by_the_same_rule() -> None:
    from wildgan.training.schedule import kimg_text, recorded_kimg_text

    # kimg_text said 3 significant digits (2.05 for 2048 images, 12.3 for 12345) beside settings said exactly, and
    # the loop's `:.3f` said 4000.000 beside a total said 4000; a recorded 4000.0 was said as the JSON holds it
    assert [kimg_text(n) for n in (2048, 12_345, 4_000_000, 4_000_128, 320, 0)] == [
        "2.048", "12.345", "4000", "4000.128", "0.32", "0"]
    assert [recorded_kimg_text(v) for v in (4000.0, 6.016, 2, None, "?")] == ["4000", "6.016", "2", "None", "?"]



def _counted_on(nets, nc):
    """What _phase_costs counted before it made a meta copy: the passes on the run's own networks."""
    import math

    from wildgan.nets.info import train_flops_per_image

    res = [4 * 2 ** j for j in range(nc.resolution_log2 - 1)]
    stable = {r: train_flops_per_image(nets, nc, r, batch=2) for r in res}
    fade = {r: train_flops_per_image(nets, nc, r, lod=math.log2(nc.resolution // r) + 0.5, batch=2)
            for r in res[1:]}
    return ({r: c["train"] for r, c in stable.items()}, {r: c["calls"] for r, c in stable.items()},
            {r: c["train"] for r, c in fade.items()}, {r: c["calls"] for r, c in fade.items()})


@pytest.mark.parametrize("kernels_of_cuda", [False, True])
def test_the_eta_counts_on_a_meta_copy_what_the_run_s_networks_count(monkeypatch, kernels_of_cuda):
    """_phase_costs counts on a meta copy, not on the run's networks: the same FLOPs and calls, on the CPU and with
    the CUDA kernel choices (the fused pixel norm and the stddev's var: fewer calls), which the meta copy takes
    from the run's device type (here the CPU given CUDA's choices, the part of a CUDA run a CPU can check)."""
    from wildgan.config import net_config_for_preset
    from wildgan.nets import build_pgan, layers
    from wildgan.training.loop import _phase_costs

    nc = net_config_for_preset("tiny", 32, 1)
    # (the sets as shipped, whatever a test before this one left in them: test_roofline's model_cuda_kernels once
    # left "cpu" in VAR_STDDEV_DEVICES, and "plain" then counted CUDA's choices too)
    monkeypatch.setattr(layers, "FUSED_PIXEL_NORM_DEVICES", {"cuda"})
    monkeypatch.setattr(layers, "VAR_STDDEV_DEVICES", {"cuda"})
    plain = _counted_on(build_pgan(nc, 3), nc)
    if kernels_of_cuda:
        monkeypatch.setattr(layers, "FUSED_PIXEL_NORM_DEVICES", {"cuda", "cpu"})
        monkeypatch.setattr(layers, "VAR_STDDEV_DEVICES", {"cuda", "cpu"})
    on_cpu = _counted_on(build_pgan(nc, 3), nc)
    assert tuple(_phase_costs(nc, "cpu")) == on_cpu
    assert (on_cpu[1][8] < plain[1][8]) == kernels_of_cuda        # (the choices do change the calls)
    assert "meta" not in layers.FUSED_PIXEL_NORM_DEVICES | layers.VAR_STDDEV_DEVICES    # (put back)


@pytest.mark.parametrize("noisy", ["8 fade-in", "16 fade-in"])
def test_one_segment_slowed_by_other_jobs_moves_the_eta_less_than_the_exact_two_point_fit(noisy):
    """The synthetic profile, one segment 1.5x slower than its counts say (other jobs on the machine, as tiny's 8x8
    fade-in at 1.57x its stable phase on 2026-12-03): the fit over every segment (each resolution's fade-in and
    stable part a point) forecasts the rest closer than the exact solve through two whole resolutions, which takes
    the slow segment's rate for the flops' cost of every resolution ahead."""
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.training.loop import EtaCosts, _eta

    nc = net_config_for_preset("tiny", 32, 3)
    tc = TrainConfig(phase_kimg=1, total_kimg=9, minibatch=_BATCH)
    aware = EtaCosts(_FLOPS, _CALLS, _FADE_FLOPS, _FADE_CALLS)
    now = 1000.0
    slow = {"8 fade-in": (8, True), "16 fade-in": (16, True)}[noisy]
    bounds = [(4, False, 0, 1000), (8, True, 1000, 2000), (8, False, 2000, 3000), (16, True, 3000, 4000),
              (16, False, 4000, 5000)]
    nimg = 2500 if slow[0] == 8 else 4500
    segs = [(a, min(b, nimg), (1.5 if (r, f) == slow else 1.0) * _true_seconds(r, (f and min(b, nimg) - a) or 0,
                                                                              (not f and min(b, nimg) - a) or 0))
            for r, f, a, b in bounds if a < nimg]
    cur = slow[0]
    start = next(a for r, f, a, _ in bounds if r == cur)
    since = sum(s for a, _, s in segs if a >= start)
    truth = sum(_true_seconds(r, f * (b - max(a, nimg)), (not f) * (b - max(a, nimg)))
                for r, f, a, b in bounds + [(32, True, 5000, 6000), (32, False, 6000, 9000)] if b > nimg)
    fitted = _eta(aware, nc, tc, 0, nimg, 9000, 100.0, anchor=(cur, start, now - since), now=now,
                  measured=[s for s in segs[:-1]], segment=(segs[-1][0], now - segs[-1][2]))
    whole = {r: (a, b, sum(s for a2, _, s in segs if a <= a2 < b))
             for r, a, b in ((4, 0, 1000), (8, 1000, 3000)) if b <= start}
    exact = _eta(aware, nc, tc, 0, nimg, 9000, 100.0, anchor=(cur, start, now - since), now=now, measured=whole)
    err_fit, err_exact = abs(_left(fitted) / truth - 1), abs(_left(exact) / truth - 1)
    # (the error that is left is the extrapolation's: a slow 8x8 still raises the FLOPs' price of 16x16 and 32x32)
    limit = {"8 fade-in": 0.7, "16 fade-in": 0.3}[noisy]
    assert err_fit < limit < err_exact and err_fit < 0.75 * err_exact, (fitted, exact, truth)


def test_eta_prices_the_resolutions_ahead_by_the_probe_before_a_second_one_has_run():
    """The synthetic profile, 0.6 kimg into 4x4 (one resolution measured): with the start-up probe's seconds per
    stable iteration at each resolution (here the real iteration's 0.8: a probe's iteration need not cost what the
    loop's does, only in the same ratio across resolutions), the time left comes out as the profile says, within
    the fade-ins' pricing by their calls; without it, the FLOP-priced bound ('<'), far longer. A resolution the
    probe left out is still that bound; and in the first second of 8x8 (its own rate not measured yet) the probe's
    ratios are scaled to the 4x4 phase just finished."""
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.training.loop import ETA_FIT_SECONDS, EtaCosts, _eta

    nc = net_config_for_preset("tiny", 32, 3)
    tc = TrainConfig(phase_kimg=1, total_kimg=9, minibatch=_BATCH)
    aware = EtaCosts(_FLOPS, _CALLS, _FADE_FLOPS, _FADE_CALLS)
    probe = {r: 0.8 * _true_seconds(r, 0, _BATCH[r]) for r in _BATCH}
    now = 1000.0
    s4 = _true_seconds(4, 0, 600)
    truth = (_true_seconds(4, 0, 400) + _true_seconds(8, 1000, 1000) + _true_seconds(16, 1000, 1000)
             + _true_seconds(32, 1000, 3000))

    def at_600(p: dict[int, float] | None) -> str:
        return _eta(aware, nc, tc, 0, 600, 9000, s4, anchor=(4, 0, now - s4), now=now, segment=(0, now - s4),
                    probe=p)

    got = at_600(probe)
    assert not got.startswith("<") and abs(_left(got) / truth - 1) < 0.03, (got, truth)
    bound = at_600(None)
    assert bound.startswith("<") and _left(bound[1:]) > 3 * truth, (bound, truth)
    assert at_600({}) == bound                         # (no probe: as before it existed)
    # the session's first 0.5 s, nothing measured to scale the probe to: no ETA rather than the bound
    assert _eta(aware, nc, tc, 0, 60, 9000, 0.5, anchor=(4, 0, now - 0.5), now=now, segment=(0, now - 0.5),
                probe=probe) == "?"
    partial = at_600({r: probe[r] for r in (4, 8, 16)})
    assert partial.startswith("<") and _left(got) < _left(partial[1:]) < _left(bound[1:]), (partial, got, bound)

    # 0.7 s into the 8x8 fade-in, its own rate not yet measured (ETA_FIT_SECONDS): priced from the 4x4 phase's
    s4_all, s8 = _true_seconds(4, 0, 1000), _true_seconds(8, 5, 0)
    assert s8 < ETA_FIT_SECONDS
    left = _true_seconds(8, 995, 1000) + _true_seconds(16, 1000, 1000) + _true_seconds(32, 1000, 3000)
    got = _eta(aware, nc, tc, 0, 1005, 9000, s4_all + s8, anchor=(8, 1000, now - s8), now=now,
               measured=[(0, 1000, s4_all)], segment=(1000, now - s8), probe=probe)
    assert not got.startswith("<") and abs(_left(got) / left - 1) < 0.03, (got, left)


def test_the_eta_probe_times_copies_and_keeps_to_its_budget(monkeypatch, one_thread):
    """_probe_iterations times real iterations at each resolution the session trains, on copies: the run's
    networks, their gradients and the global random numbers are as they were. A budget spent at 4x4 probes no
    more; a first iteration over the longest probe probes nothing (the ETA then is the FLOP bound, as before)."""
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.training import loop

    nc = net_config_for_preset("tiny", 16, 1)
    tc = TrainConfig(phase_kimg=0.1, total_kimg=0.5, minibatch={4: 4, 8: 4, 16: 4})
    device = torch.device("cpu")
    nets = build_pgan(nc, 0)
    costs = loop._phase_costs(nc)
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 0.0)        # (a session of 500 images is far shorter)
    # (no budget cut here: under a loaded machine's 2 cores the 2 s budget ran out before 16x16, and the budget's own
    # cut is checked below with one that nothing fits in)
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 60.0)
    before = {k: p.detach().clone() for k, m in nets.modules().items() for p in m.parameters()}
    rng_before = torch.get_rng_state()
    got = loop._probe_iterations(nets, tc, nc, device, loop.FastOptions(), costs, 0, 500)
    assert sorted(got) == [4, 8, 16] and all(t > 0 for t in got.values()), got
    assert torch.equal(torch.get_rng_state(), rng_before)
    after = {k: p for k, m in nets.modules().items() for p in m.parameters()}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for m in nets.modules().values() for p in m.parameters())
    # a session that starts at 8x8 (0.15 kimg) and ends there (0.2 kimg) probes 8x8 alone
    assert sorted(loop._probe_iterations(nets, tc, nc, device, loop.FastOptions(), costs, 150, 200)) == [8]

    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 1e-9)
    monkeypatch.setattr(loop, "ETA_PROBE_SHARE", 0.0)
    assert sorted(loop._probe_iterations(nets, tc, nc, device, loop.FastOptions(), costs, 0, 500)) == [4]
    monkeypatch.setattr(loop, "ETA_PROBE_MAX_SECONDS", 0.0)
    assert loop._probe_iterations(nets, tc, nc, device, loop.FastOptions(), costs, 0, 500) == {}


def test_a_short_session_skips_the_eta_probe(monkeypatch, one_thread):
    """A session whose least possible length (every image left at the first resolution's measured cost) is under
    ETA_PROBE_SKIP_SECONDS probes no resolution ahead, and keeps none: one resolution alone has no ratios to give,
    and on a tiny run the probe of the rest cost more than its ETA was worth. Above it, the probe goes on. (The
    threshold is moved rather than the session: how long 500 images take depends on the machine and its load.)"""
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.training import loop

    assert loop.ETA_PROBE_SKIP_SECONDS == 10.0
    nc = net_config_for_preset("tiny", 16, 1)
    tc = TrainConfig(phase_kimg=0.1, total_kimg=0.5, minibatch={4: 4, 8: 4, 16: 4})
    nets, costs = build_pgan(nc, 0), loop._phase_costs(nc)
    iterations: list[int] = []
    real = loop.StepRunner.iteration

    def counted(self: Any, phase: Any, *a: Any, **k: Any) -> Any:
        iterations.append(phase.resolution)
        return real(self, phase, *a, **k)

    monkeypatch.setattr(loop.StepRunner, "iteration", counted)
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 60.0)        # (no budget cut: only the skip stops it)
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 1e9)
    assert loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500) == {}
    assert iterations == [4], iterations      # (4x4's untimed one, to know the length; no more)
    iterations.clear()
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 0.0)
    got = loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500)
    assert sorted(got) == [4, 8, 16] and sorted(set(iterations)) == [4, 8, 16], (got, iterations)


def test_the_eta_probe_skips_on_its_first_iteration_where_that_says_the_session_is_short(monkeypatch):
    """The skip is decided on the first resolution's first (untimed) iteration where that says the session is under
    ETA_PROBE_SKIP_SECONDS: one iteration, not the three (untimed + ETA_PROBE_ITERS) it timed before deciding. That
    iteration costs at least a later one, so where it says the session is longer, the timed ones decide: a session
    short at the later ones' price skips after them. (A clock that each iteration advances: no wall time.)"""
    from types import SimpleNamespace

    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.training import loop

    nc = net_config_for_preset("tiny", 16, 1)
    tc = TrainConfig(phase_kimg=0.1, total_kimg=0.5, minibatch={4: 4, 8: 4, 16: 4})
    nets, costs = build_pgan(nc, 0), loop._phase_costs(nc)
    clock = [0.0]
    seconds: list[float] = []          # what each iteration takes, in order; the last one repeats
    iterations: list[int] = []

    def timed(self: Any, phase: Any, *a: Any, **k: Any) -> None:
        clock[0] += seconds[min(len(iterations), len(seconds) - 1)]
        iterations.append(phase.resolution)

    monkeypatch.setattr(loop.StepRunner, "iteration", timed)
    monkeypatch.setattr(loop, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(loop, "ETA_PROBE_SECONDS", 1e9)         # (no budget cut: only the skip stops it)
    monkeypatch.setattr(loop, "ETA_PROBE_MAX_SECONDS", 1e9)
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 10.0)
    # 500 images in batches of 4 at 10 ms: 1.25 s, told by the first iteration alone
    seconds[:] = [0.01]
    assert loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500) == {}
    assert iterations == [4], iterations
    # a first iteration of 1 s (125 s at its price), later ones of 10 ms: the timed ones say 1.25 s
    iterations.clear()
    seconds[:] = [1.0, 0.01]
    assert loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500) == {}
    assert iterations == [4] * (1 + loop.ETA_PROBE_ITERS), iterations
    # and 1 s each (125 s): every resolution probed
    iterations.clear()
    seconds[:] = [1.0]
    got = loop._probe_iterations(nets, tc, nc, torch.device("cpu"), loop.FastOptions(), costs, 0, 500)
    assert sorted(got) == [4, 8, 16] and iterations == sorted(iterations) and len(iterations) == 9, (got, iterations)


def test_the_probe_prices_the_resolutions_ahead_until_three_have_been_measured():
    """In 8x8's stable phase (2.5 kimg) with its fade-in slowed 1.5x by other jobs: the fit through 4x4 and 8x8
    multiplies that error at 16x16 and 32x32, the probe's ratios scaled to 8x8's measured rate do not; with 4x4,
    8x8 and 16x16 measured (5.5 kimg) the fit over the segments prices what is left, probe or none."""
    from wildgan.config import TrainConfig, net_config_for_preset
    from wildgan.training.loop import ETA_PROBE_UNTIL, EtaCosts, _eta

    assert ETA_PROBE_UNTIL == 3
    nc = net_config_for_preset("tiny", 32, 3)
    tc = TrainConfig(phase_kimg=1, total_kimg=9, minibatch=_BATCH)
    aware = EtaCosts(_FLOPS, _CALLS, _FADE_FLOPS, _FADE_CALLS)
    probe = {r: 0.8 * _true_seconds(r, 0, _BATCH[r]) for r in _BATCH}
    now = 1000.0
    s4, s8f, s8s = _true_seconds(4, 0, 1000), 1.5 * _true_seconds(8, 1000, 0), _true_seconds(8, 0, 500)
    truth = _true_seconds(8, 0, 500) + _true_seconds(16, 1000, 1000) + _true_seconds(32, 1000, 3000)
    kw = dict(anchor=(8, 1000, now - s8f - s8s), now=now, measured=[(0, 1000, s4), (1000, 2000, s8f)],
              segment=(2000, now - s8s))
    with_probe = _left(_eta(aware, nc, tc, 0, 2500, 9000, 100.0, probe=probe, **kw))
    fit_only = _left(_eta(aware, nc, tc, 0, 2500, 9000, 100.0, **kw))
    # (+34% against +64%: what is left of the error is 8x8's own slowed rate, which prices its own stable images)
    assert abs(with_probe / truth - 1) < 0.6 * abs(fit_only / truth - 1), (with_probe, fit_only, truth)

    segs = [(0, 1000, s4), (1000, 2000, _true_seconds(8, 1000, 0)), (2000, 3000, _true_seconds(8, 0, 1000)),
            (3000, 4000, _true_seconds(16, 1000, 0)), (4000, 5000, _true_seconds(16, 0, 1000))]
    s32 = _true_seconds(32, 500, 0)
    kw = dict(anchor=(32, 5000, now - s32), now=now, measured=segs, segment=(5000, now - s32))
    wrong = {r: t * (3.0 if r == 32 else 1.0) for r, t in probe.items()}      # (a probe the fit must not use)
    assert _eta(aware, nc, tc, 0, 5500, 9000, 100.0, probe=wrong, **kw) == _eta(aware, nc, tc, 0, 5500, 9000, 100.0,
                                                                                 **kw)


def test_the_eta_prices_d_i_in_g_s_loss_as_its_extra_passes():
    """A run with d_I in G's loss (train.g_image_loss) runs E and G once more in each G step, forward and backward:
    the ETA's FLOPs and operator calls per resolution count them (10g + 14d + 6e, where they priced 7g + 14d + 3e),
    for the resolutions ahead that the start-up probe does not time."""
    from wildgan.config import net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.nets.info import train_flops_per_image
    from wildgan.training.loop import _phase_costs

    nc = net_config_for_preset("tiny", 16, 1)
    plain, with_d_i = _phase_costs(nc), _phase_costs(nc, g_image_loss=True)
    nets = build_pgan(nc, 0)
    for r in (4, 8, 16):
        c = train_flops_per_image(nets, nc, r, batch=2)
        assert with_d_i.flops[r] == pytest.approx(plain.flops[r] + 3 * c["g"] + 3 * c["e"], rel=1e-9), r
        assert with_d_i.calls[r] > plain.calls[r]
    for r in (8, 16):
        assert with_d_i.fade_flops[r] > plain.fade_flops[r] and with_d_i.fade_calls[r] > plain.fade_calls[r]
