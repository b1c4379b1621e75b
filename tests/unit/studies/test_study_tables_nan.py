"""tables.md's cells where a seed's AUC is undefined (nan): counted beside the mean, not dropped without a word."""

from __future__ import annotations

from study_rows import study_row

from wildgan.studies.tables import render_markdown


def test_a_seed_whose_auc_is_nan_is_counted_beside_the_mean() -> None:
    # two seeds, one of them diverged (its a AUC nan): the cell read '0.500', as a study of one seed does, with no
    # word of the other; three seeds, one nan: '(n=2)', as if the study had two
    rows = [study_row("wildgan", "image", 0.0, s, a) for s, a in ((0, 0.5), (1, float("nan")))]
    rows += [study_row("wildgan", "image", 0.1, s, a) for s, a in ((0, 0.6), (1, 0.64), (2, float("nan")))]
    rows += [study_row("wildgan", "image", 0.2, s, float("nan")) for s in (0, 1)]
    md = render_markdown(rows)
    line = next(ln for ln in md.splitlines() if ln.startswith("| Ours | a |"))
    # (CIFAR_CAR's rows: each gamma's column beside the paper's)
    assert line == ("| Ours | a | 0.500 (n=1 of 2: 1 nan) | 0.72 | 0.620 ± 0.028 (n=2 of 3: 1 nan) | – | – (2 nan) "
                    "| – |"), line
    # a score the rows do not hold (None) is no nan, and a full set of seeds reads as before
    rows = [study_row("wildgan", "image", 0.0, s, a) for s, a in ((0, 0.5), (1, 0.7))]
    for r in rows:
        r["auc"]["A"] = None
    md = render_markdown(rows)
    assert "| Ours | a | 0.600 ± 0.141 (n=2) |" in md and "| Ours | A | – |" in md, md
