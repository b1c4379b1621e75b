"""fileio.ObjectLocks: the per-object re-entrant locks that scoring (one scoring at a time per set of networks,
pgan_scores.scoring_lock) and the Detector (one lazy read of a run's training scores at a time) hold. One lock per
live object, none kept for an object gone, one shared by the objects that cannot be keys. (None held in a forked
child: tests/unit/scoring/test_scoring_threads.py and tests/unit/detector/test_from_run_lazy_scores.py fork while
a thread holds each user's lock.)"""

from __future__ import annotations

import gc


from wildgan.fileio import ObjectLocks


class _Thing:
    pass


class _Unhashable:
    __hash__ = None          # type: ignore[assignment]  (an __eq__ without __hash__ leaves a class so)


def test_one_lock_per_live_object_and_a_shared_one_for_the_unhashable() -> None:
    locks = ObjectLocks()
    a, b = _Thing(), _Thing()
    assert locks.of(a) is locks.of(a) and locks.of(a) is not locks.of(b)
    with locks.of(a), locks.of(a):       # re-entrant: a call holding it may call one that takes it too
        pass
    assert locks.of(_Unhashable()) is locks.of(_Unhashable())
    held = len(locks)
    del b
    gc.collect()
    assert len(locks) == held - 1        # (weakly kept: an object's lock goes with it)

