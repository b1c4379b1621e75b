"""A study's tables (studies.render_markdown, render_csv) where some rows' checkpoints did not say f-AnoGAN's
iteration counts (fanogan_iters [null, null]) beside rows that did: such a row counts as not recording them, as a row
without the field does, so that the tables of a study mixing older and newer runs are still written, and say what is
known."""

from __future__ import annotations


def test_a_study_table_with_fanogan_iters_not_recorded_beside_numbers() -> None:
    """A row whose fanogan_iters is [null, null] beside one with numbers: render_markdown does not stop with a
    TypeError sorting them, the Markdown names the recorded iterations, tables.csv does not say 'None+None', and a
    study with only such rows says its iterations were not recorded."""
    from wildgan.studies import render_csv, render_markdown

    from test_study import FIXED

    rows = [*FIXED[:4], {**FIXED[4], "fanogan_iters": [60, 30]}, {**FIXED[5], "fanogan_iters": [None, None]}]
    md = render_markdown(rows)
    assert "f-AnoGAN: DIM not recorded, 60 critic + 30 encoder iterations per cell." in md, md
    csv_lines = render_csv(rows).splitlines()
    assert "None" not in "\n".join(csv_lines)
    assert sum(",60+30," in line for line in csv_lines) > 0
    alone = render_markdown([*FIXED[:4], {**FIXED[5], "fanogan_iters": [None, None]}])
    assert "f-AnoGAN: DIM and iterations not recorded." in alone, alone
