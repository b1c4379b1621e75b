"""The study's overall ETA, said in each cell's "training" line (each cell's own bar covers that cell only)."""

import json
from dataclasses import replace

import pytest

from wildgan.studies import study as study_mod
from wildgan.studies.study import _loop_seconds, _session_share, study_eta


def test_study_eta_is_the_time_of_a_whole_cell_times_the_cells_left():
    # nothing measured yet (the first cell of a session): no guess
    assert study_eta([], 4) == ""
    # two whole cells took 60 and 80 s (50 and 70 of them training): 70 s a cell, three left (the one starting too)
    assert study_eta([(50.0, 10.0, 1.0), (70.0, 10.0, 1.0)], 3) == " (study: about 03:30 left for 3 cells)"
    assert study_eta([(60.0, 5.0, 1.0)], 1) == " (study: about 01:05 left for 1 cell)"
    assert study_eta([(60.0, 5.0, 1.0)], 0) == ""


def test_a_cell_resumed_in_this_session_counts_for_the_share_it_trained():
    # a cell resumed with 20% of its training left: 12 s of training and 8 of evaluation in this session say 60 + 8 s
    # for a whole cell, where its 20 s taken for a whole one said 40 s for two cells
    assert study_eta([(12.0, 8.0, 0.2)], 2) == " (study: about 02:16 left for 2 cells)"
    # beside a whole cell of 100 s (90 + 10): (90 + 12 + 0.2 x 8 + 10) / 1.2 = 94.67 s a cell
    assert study_eta([(90.0, 10.0, 1.0), (12.0, 8.0, 0.2)], 3) == " (study: about 04:44 left for 3 cells)"
    # a cell whose training was all done before (only its end written, or only evaluated) says nothing of a cell
    assert study_eta([(0.4, 5.0, 0.0)], 3) == ""
    assert study_eta([(60.0, 10.0, 1.0), (0.4, 5.0, 0.0)], 2) == " (study: about 02:20 left for 2 cells)"


def test_the_share_of_a_run_trained_in_this_session():
    assert _session_share(0.0, 60.0) == 1.0               # trained from its start
    assert _session_share(48.0, 60.0) == pytest.approx(0.2)
    assert _session_share(60.0, 60.0) == 0.0              # resumed at its end: nothing trained here
    assert _session_share(0.0, None) == 1.0               # (no elapsed_s recorded: counted whole, as before)
    assert _session_share(70.0, 60.0) == 0.0


def test_a_resumed_cell_s_set_up_is_not_divided_by_its_share():
    # a quarter of a 100 s run left: the loop trained 25 s of this session's 28 s of train_run, whose 3 s of set-up
    # (networks, pyramid, checkpoint) a cell pays once; taken as training and divided by 0.25 they said 125 s a cell
    loop, share = _loop_seconds(75.0, 100.0, 28.0), _session_share(75.0, 100.0)
    assert (loop, share) == (25.0, 0.25)
    assert study_eta([(loop, 28.0 - loop + 10.0, share)], 1) == " (study: about 01:53 left for 1 cell)"   # 100+13
    assert _loop_seconds(0.0, None, 5.0) == 5.0            # no elapsed_s recorded: the wall time, as before
    assert _loop_seconds(0.0, 60.0, 50.0) == 50.0          # never more than the session's wall time


def test_a_study_resumed_in_a_partly_trained_cell_weighs_that_cell_by_its_share(tmp_path, monkeypatch):
    # the first cell was stopped halfway (its checkpoint at 0.05 of 0.1 kimg, no final networks): the study resumes
    # it, and the ETA said at the next cells counts it as the part of a cell it trained, not as a whole one
    from study_rows import study_base
    from wildgan.studies.study import cell_config, grid

    base = study_base(tmp_path)
    cells = grid(["0"], [0.0, 0.125, 0.25], ["wildgan"], ["image"], [0])     # (4 and 8 of 32 images: no rounding)
    first = cell_config(base, cells[0])
    run_dir = tmp_path / "st" / "runs" / cells[0].key
    study_mod.train_run(replace(first, train=replace(first.train, total_kimg=0.05)), run_dir, progress=False,
                        log=lambda s: None)
    # what a stop at 0.05 kimg leaves: the checkpoint there, no final networks, the study's settings recorded
    for name in ("network-final.json", "network-final.safetensors"):
        (run_dir / name).unlink()
    recorded = json.loads((run_dir / "config.json").read_text())
    recorded["train"]["total_kimg"] = first.train.total_kimg
    (run_dir / "config.json").write_text(json.dumps(recorded))
    seen: list[list[tuple[float, float, float]]] = []

    def recording(cell_times, cells_left, **kw):
        # (the ETA is by method: every cell here is ours)
        assert set(cell_times) <= {"wildgan"} and set(cells_left) == {"wildgan"}
        seen.append([tuple(t) for t in cell_times.get("wildgan", [])])
        return study_eta(cell_times, cells_left, **kw)

    monkeypatch.setattr(study_mod, "study_eta", recording)
    study_mod.run_study(base, cells, tmp_path / "st", progress=False, log=lambda s: None)
    assert [len(s) for s in seen] == [0, 1, 2]
    (_, _, resumed), (_, _, whole) = seen[2]
    assert 0.05 < resumed < 0.95 and whole == 1.0, seen
