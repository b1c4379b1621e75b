"""The study's AUC-versus-gamma figures as a study rewrites them: only the files of this drawing are left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wildgan.studies.study import write_tables


def _row(normal: str, gamma: float, seed: int = 0) -> dict[str, Any]:
    auc = {"a": 0.8 - gamma}
    return {"cell": f"{normal}-{gamma}-{seed}", "normal": normal, "gamma": gamma, "method": "wildgan",
            "encoder_loss": "image", "seed": seed, "auc": auc, "ap": auc, "controls": {"untrained": {"a": 0.55}}}


def _figures(study: Path) -> set[str]:
    return {p.name for p in study.glob("auc_vs_gamma*.png")}


def test_a_rerun_leaves_no_figure_of_an_old_name_or_of_a_class_left_out(tmp_path: Path) -> None:
    # 'Cat' and 'cat' are two figures, the second named ...-normal-cat-2.png (a case-blind disk holds one file of
    # both names); an older wildgan drew 'cat' into ...-normal-cat.png, which a re-run kept beside the new one: the
    # report copies every figure of the folder and showed 'cat' twice, one of them of the old curves
    study = tmp_path / "study"
    study.mkdir()
    old = study / "auc_vs_gamma-normal-cat.png"
    old.write_bytes(b"an older wildgan's figure")
    rows = [_row(n, g) for n in ("Cat", "cat", "dog") for g in (0.0, 0.1)]
    write_tables(study, rows)
    names = _figures(study)
    assert {n.casefold() for n in names} == {"auc_vs_gamma.png", "auc_vs_gamma-normal-cat.png",
                                             "auc_vs_gamma-normal-cat-2.png", "auc_vs_gamma-normal-dog.png"}
    assert len(names) == 4
    assert all((study / n).read_bytes() != b"an older wildgan's figure" for n in names)   # (case-blind: drawn anew)
    # the rows of 'cat' left out of the pool (computed otherwise): its figure goes, the others are drawn again
    write_tables(study, rows, apart={r["cell"]: "score.lam: 0.2 -> 0.05" for r in rows if r["normal"] == "cat"})
    assert {n.casefold() for n in _figures(study)} == {"auc_vs_gamma.png", "auc_vs_gamma-normal-cat.png",
                                                       "auc_vs_gamma-normal-dog.png"}
    # a file of the user's of another name stays
    (study / "my_plot.png").write_bytes(b"mine")
    write_tables(study, [r for r in rows if r["normal"] == "dog"])
    assert _figures(study) == {"auc_vs_gamma.png"}              # one class: the pooled figure only
    assert (study / "my_plot.png").read_bytes() == b"mine"
