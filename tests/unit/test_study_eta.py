"""The study's overall ETA, said in each cell's "training" line (each cell's own bar covers that cell only)."""

from wildgan.studies.study import study_eta


def test_study_eta_is_the_mean_cell_times_the_cells_left():
    # nothing measured yet (the first cell of a session): no guess
    assert study_eta([], 4) == ""
    # two cells took 60 and 80 s: 70 s a cell, three left (the one starting included)
    assert study_eta([60.0, 80.0], 3) == " (study: about 03:30 left for 3 cells)"
    assert study_eta([65.0], 1) == " (study: about 01:05 left for 1 cell)"
    assert study_eta([65.0], 0) == ""
