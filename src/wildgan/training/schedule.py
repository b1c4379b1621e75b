"""The progressive-growing schedule as a pure function of the number of real images shown (spec 3.5)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Phase:
    lod: float           # level of detail; 0 = full resolution
    resolution: int      # current resolution R / 2^floor(lod)
    batch: int           # minibatch size at that resolution
    fade: float          # frac(lod): weight of the old path during a fade-in (0 when stable)

    @property
    def lod_bounds(self) -> tuple[int, int]:
        """(floor, ceil) of lod. Adam state is reset whenever either changes (spec 3.2)."""
        return math.floor(self.lod), math.ceil(self.lod)


def schedule(nimg: int, resolution: int, phase_kimg: float, fade_kimg: float, minibatch: dict[int, int]) -> Phase:
    """lod = (log2 R - 2) - p - max(k - phase, 0) / fade, clipped at 0, where p = floor(kimg / (phase + fade))
    and k = kimg - p * (phase + fade). Training starts at 4x4."""
    lod = lod_at(nimg, resolution, phase_kimg, fade_kimg)
    res = int(resolution / 2 ** math.floor(lod))
    if res not in minibatch:
        raise KeyError(f"no minibatch size configured for resolution {res}")
    return Phase(lod=lod, resolution=res, batch=minibatch[res], fade=lod - math.floor(lod))


def lod_at(nimg: int, resolution: int, phase_kimg: float, fade_kimg: float) -> float:
    """The schedule's lod after `nimg` images (schedule's formula), which needs no minibatch sizes."""
    kimg = nimg / 1000.0
    period = phase_kimg + fade_kimg
    p = math.floor(kimg / period)
    k = kimg - p * period
    top = math.log2(resolution) - 2
    # fade_kimg 0: no fade-in, the resolution doubles at the end of each stable phase
    lod = top - p - (max(k - phase_kimg, 0.0) / fade_kimg if fade_kimg > 0 else 0.0)
    return min(max(lod, 0.0), top)


def _res_at(nimg: int, resolution: int, phase_kimg: float, fade_kimg: float) -> int:
    """The resolution schedule() trains at after `nimg` images, which needs no minibatch size."""
    return int(resolution / 2 ** math.floor(lod_at(nimg, resolution, phase_kimg, fade_kimg)))


def first_round_without_a_size(total_nimg: int, resolution: int, phase_kimg: float, fade_kimg: float,
                               minibatch: dict[int, int], repeats: int) -> tuple[int, int] | None:
    """(images shown, resolution) where a training to `total_nimg` first starts a round at a resolution that has no
    minibatch size, or None when it never does (a schedule that stops before such a resolution trains as any other).
    The rounds are replayed from 0 as the loop runs them (minibatch cannot change on a resume, so this is exact),
    a resolution at a time (_rounds_alike: within one, every round has the same size)."""
    def res_at(n: int) -> int:
        return _res_at(n, resolution, phase_kimg, fade_kimg)

    n = 0
    while n < total_nimg:
        res = res_at(n)
        if res not in minibatch:
            return n, res
        if res == resolution:
            return None                  # full resolution: it never changes again
        step = repeats * minibatch[res]
        n += step * _rounds_alike(n, step, total_nimg, lambda m: res_at(m) == res)    # (res: this iteration's)
    return None


def _rounds_alike(n: int, step: int, end: int, alike: Callable[[int], bool]) -> int:
    """The number of rounds of `step` images from the round start `n` to the first start m that is not `alike(m)`
    (another resolution) or that reaches `end`. The schedule only grows, so the alike starts are a prefix, found by
    bisection asking lod_at at the loop's own round starts: an edge computed in images apart from lod_at disagreed
    with it by a round where kimg / period rounds down (phase 0.1, transition 0: lod_at(600 images) is 128x128's
    while the edge in images is at 600), so a skip to it went past the round where the loop changes size."""
    lo, hi = 1, max(1, -(-(end - n) // step))
    while lo < hi:
        mid = (lo + hi) // 2
        if alike(n + mid * step):
            lo = mid + 1
        else:
            hi = mid
    return lo


def lod_of_last_round(nimg: int, resolution: int, phase_kimg: float, fade_kimg: float, minibatch: dict[int, int],
                      repeats: int) -> float:
    """The lod the networks trained at in the round that ended at `nimg` images. The loop re-evaluates the schedule
    once per round (`repeats` iterations of that round's batch) and only stops at round boundaries, so replaying the
    rounds from 0 gives it exactly; schedule(nimg).lod would be the *next* round's. If the replay does not land on
    nimg (the batch table changed between sessions), the schedule just before nimg is the nearest estimate."""
    grown = schedule_kimg_for_full_growth(resolution, phase_kimg, fade_kimg) * 1000
    if nimg > grown + repeats * max(minibatch.values()):
        return 0.0                      # the last round began after the last fade-in: no need to replay the rounds
    n, lod = 0, None
    while n < nimg:
        ph = schedule(n, resolution, phase_kimg, fade_kimg, minibatch)
        lod, n = ph.lod, n + repeats * ph.batch
    if lod is None or n != nimg:
        return schedule(max(nimg - 1, 0), resolution, phase_kimg, fade_kimg, minibatch).lod
    return lod


def end_of_rounds(nimg: int, total_nimg: int, resolution: int, phase_kimg: float, fade_kimg: float,
                  minibatch: dict[int, int], repeats: int) -> int:
    """The image count at which a training at `nimg` (a round boundary) stops for `total_nimg`: the loop finishes the
    round that crosses it (30 kimg in rounds of 64 images ends at 30,016), so a progress bar with total_nimg as its
    total would overshoot it and drop to 'n/?'."""
    n = nimg
    while n < total_nimg:
        ph = schedule(n, resolution, phase_kimg, fade_kimg, minibatch)
        step = repeats * ph.batch
        if ph.lod == 0:                 # full resolution from here on (lod never grows): rounds of one size
            return n + -(-(total_nimg - n) // step) * step
        n += step
    return n


def schedule_kimg_for_full_growth(resolution: int, phase_kimg: float, fade_kimg: float) -> float:
    """kimg at which the last fade-in ends (full resolution stable from here on)."""
    return (math.log2(resolution) - 2) * (phase_kimg + fade_kimg)


def kimg_to_reach_full_resolution(resolution: int, phase_kimg: float, fade_kimg: float, minibatch: dict[int, int],
                                  repeats: int) -> float:
    """The kimg a total_kimg must exceed for the networks to end at lod 0: the start of the first round at lod 0
    (the first round boundary at or after the last fade-in's end). schedule_kimg_for_full_growth is where the
    schedule's lod reaches 0, but the loop reads the schedule once per round and finishes the round that crosses
    total_kimg, so a run that stops there trained its last round at the lod that round began with (still fading
    in). The rounds are replayed a resolution at a time: within one, every round has the same size."""
    grown = schedule_kimg_for_full_growth(resolution, phase_kimg, fade_kimg) * 1000
    n = 0
    while True:
        ph = schedule(n, resolution, phase_kimg, fade_kimg, minibatch)
        if ph.lod == 0 and n >= grown:
            return n / 1000.0
        step = repeats * ph.batch
        # the round size changes only where the resolution does: the rounds at this one are skipped at once, up to
        # the first that starts at another (below full resolution, all before `grown`) or at lod 0 (at full
        # resolution; one round past `grown` is past it for lod_at too)
        if ph.resolution < resolution:
            n += step * _rounds_alike(n, step, int(grown), lambda m, r=ph.resolution: _res_at(m, resolution,
                                                                                               phase_kimg,
                                                                                               fade_kimg) == r)
        else:
            n += step * _rounds_alike(n, step, int(grown) + 1 + step, lambda m: not (
                lod_at(m, resolution, phase_kimg, fade_kimg) == 0 and m >= grown))


def kimg_to_the_image(kimg: float) -> str:
    """kimg for a message, to the image and rounded up (a total_kimg to give: rounded down, it could fall short of
    a threshold that is exact to the image): 3600.128, 1.333 for 1.3333, 4000; also how a kimg setting or count is
    said in a message, where `:g` said a total of 52/15 kimg as 3.46667 and cut 1234.567 to 1234.57."""
    return f"{math.ceil(kimg * 1000 - 1e-6) / 1000:.3f}".rstrip("0").rstrip(".")


def total_kimg_advice(resolution: int, phase_kimg: float, fade_kimg: float, minibatch: dict[int, int], repeats: int,
                      paper_kimg: float) -> float:
    """The total_kimg to suggest to a run that ended before full resolution: the paper's schedule, or, where that
    ends before the networks are grown (phases so short that its 2/3 of a phase is less than a round, or a total
    inside the first round at lod 0), the end of that round (kimg_grown_at), where they are: never a number below
    the one the warnings say they reach full resolution at."""
    return max(paper_kimg, kimg_grown_at(resolution, phase_kimg, fade_kimg, minibatch, repeats))


def kimg_grown_at(resolution: int, phase_kimg: float, fade_kimg: float, minibatch: dict[int, int],
                  repeats: int) -> float:
    """The kimg at which the networks are at full resolution, stable, as training leaves them: the end of the first
    round at lod 0 (kimg_to_reach_full_resolution is its start, the total_kimg a run must exceed to train it; a run
    that stops there ended before it, at lod > 0)."""
    start = kimg_to_reach_full_resolution(resolution, phase_kimg, fade_kimg, minibatch, repeats)
    return start + repeats * minibatch[resolution] / 1000.0


def schedule_work(a_kimg: float, b_kimg: float, resolution: int, phase_kimg: float, fade_kimg: float,
                  cost: dict[int, float], fade_cost: dict[int, float] | None = None) -> float:
    """The training cost of the images shown between a_kimg and b_kimg: the integral of cost[resolution at k] dk,
    with `cost` per image at each resolution (e.g. FLOPs). The resolution is 4 for the first stable phase and
    steps up at the start of each fade-in (as `schedule`), so an image at 32x32 weighs what it costs, not what a
    4x4 one does: the ETA of a progressive run from its images/s alone is off by the cost ratio of its phases.
    `fade_cost`: the cost per image of the fade-in to each resolution, where it differs from the stable phase's (the
    fade's lower-resolution path and blend: tiny's 8x8 fade-in trained at 0.6-0.9 of the stable rate on a CPU)."""
    levels = int(math.log2(resolution)) - 2
    period = phase_kimg + fade_kimg
    edges = [0.0] + [phase_kimg + j * period for j in range(levels)] + [math.inf]
    work = 0.0
    for j in range(levels + 1):
        r = 4 * 2 ** j
        # the segment of resolution r: its fade-in (none at 4x4), then its stable phase
        fade_end = edges[j] + (fade_kimg if j > 0 else 0.0)
        c_fade = 0.0 if j == 0 else (cost if fade_cost is None else fade_cost)[r]
        for lo_edge, hi_edge, c in ((edges[j], fade_end, c_fade), (fade_end, edges[j + 1], cost[r])):
            lo, hi = max(a_kimg, lo_edge), min(b_kimg, hi_edge)
            if hi > lo:
                work += (hi - lo) * c
    return work


@dataclass(frozen=True)
class GrowthAdvice:
    """What the warnings of a run that ended before full resolution say (growth_advice), the one rule of the CLI's
    (cli.train._warn_if_not_grown), the Python one (not_grown_text) and the Detector's (Detector._warn_if_not_grown),
    each in its caller's words. kimg as kimg_to_the_image texts."""
    grown: str          # where the networks are at full resolution: the end of the first round at lod 0
    paper: str          # the paper's total_kimg
    paper_grows: bool   # whether the paper's total gets there too (then said beside it)
    total: str | None   # the total_kimg to advise (never below `grown`); None: the run's own total gets there
    own_total: str      # the run's own total_kimg
    minutes: bool       # a budget stop: a larger minutes budget is needed too (or only, where `total` is None)


def growth_advice(train: Any, resolution: int, budget: bool) -> GrowthAdvice:
    """For a run (its TrainConfig) that ended before full resolution, by its total_kimg or (`budget`) its minutes:
    where its networks are grown and what to continue it with. A budget stop of a run whose own total reaches the
    total to advise needs more minutes only: advising the total it has ('--resume --total-kimg 13' after a 13-kimg
    run) read as if its total were the problem. (They said 'a total_kimg above' the start of the last round: on a
    tiny run, the very kimg the run had ended at, 'training ended at 0.064 kimg ... above 0.064'.)"""
    grown, paper, advice = _growth_kimg(train, resolution)
    own = train.total_kimg
    enough = budget and own is not None and own >= advice
    return GrowthAdvice(grown=kimg_to_the_image(grown), paper=kimg_to_the_image(paper), paper_grows=paper >= grown,
                        total=None if enough else kimg_to_the_image(advice),
                        own_total=kimg_to_the_image(own) if own is not None else "None", minutes=budget)


def _growth_kimg(train: Any, resolution: int) -> tuple[float, float, float]:
    """growth_advice's three kimg as numbers: where the networks are grown, the paper's total, the total to advise."""
    from ..config import paper_total_kimg

    t = train
    paper = paper_total_kimg(resolution, t.phase_kimg, t.fade_kimg)
    try:
        grown = kimg_grown_at(resolution, t.phase_kimg, t.fade_kimg, t.minibatch, t.minibatch_repeats)
        advice = total_kimg_advice(resolution, t.phase_kimg, t.fade_kimg, t.minibatch, t.minibatch_repeats, paper)
    except KeyError:
        # a table without sizes for the resolutions ahead (a run whose total stopped before them): the rounds cannot
        # be replayed, so the schedule's own figures (where the last fade-in ends), which the warnings still need;
        # a --resume that grows there is refused until the sizes are added (training.run.check_minibatch_sizes)
        grown = schedule_kimg_for_full_growth(resolution, t.phase_kimg, t.fade_kimg)
        advice = max(paper, grown)
    return grown, paper, advice


def not_grown_text(train: Any, resolution: int, nimg: int, lod: float, budget: bool, call: str) -> str:
    """The warning of a run that ended (by train.total_kimg, or its train.minutes budget where `budget`) at `lod` > 0
    after `nimg` images, before its networks grew to resolution x resolution, in a RunConfig's terms; `call`, the
    function a Python caller continues it with (train_run, train_pgan): both warn it, the one that trains once."""
    t, r = train, resolution
    g = growth_advice(t, r, budget)
    why = (f"the train.minutes={t.minutes:g} budget ran out" if budget else
           f"train.total_kimg={kimg_to_the_image(t.total_kimg)} ended it")
    # (phases shorter than a round of minibatches: the paper's total ends before growth too, and is not said)
    said_paper = f", and the paper's schedule (train.total_kimg=None) trains {g.paper} kimg" if g.paper_grows else ""
    # (a budget stop of a run whose own total grows them: more minutes only, as the CLI says it)
    how = (f"train.minutes=None or a larger budget (its train.total_kimg={g.own_total} grows them)" if g.total is None
           else f"train.total_kimg={g.total}{' and train.minutes=None or a larger budget' if g.minutes else ''}")
    return (f"training ended at {kimg_to_the_image(nimg / 1000)} kimg (lod {lod:g}; {why}), before the "
            f"networks finished growing to {r}x{r}: with train.phase_kimg={kimg_to_the_image(t.phase_kimg)} they are "
            f"grown at {g.grown} kimg (the end of the first round of minibatches at full resolution){said_paper}. "
            f"The run is scored at the resolution it reached; continue it with {call}(..., resume=True) and {how}")


def kimg_text(nimg: int) -> str:
    """Images shown, in kimg for a message, by the one rule of every kimg a message says (kimg_to_the_image): exact
    for a whole number of images (0.256, 2.048, 4000.128, 4000), where 3 significant digits said 2.05 beside a
    setting said 2.048, and `:.3f` said 4000.000 beside a total said 4000."""
    return kimg_to_the_image(nimg / 1000)


def recorded_kimg_text(value: Any) -> str:
    """A kimg read back from a file (a checkpoint's metadata, an evaluation's model record) for a message: a number
    by kimg_to_the_image (4000, not the 4000.0 the JSON holds), anything else as the file has it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return kimg_to_the_image(float(value))
    return str(value)
