"""The names of an evaluation's files are spelled once, in data.eval_files: code that opens, tests or lists one
uses its constant (EVAL_JSON, SCORES_CSV, ...), so that a renamed or added output is changed in one place: the
package's, and the scripts' in tools/ and benchmarks/, which import the package (tools/auc_by_class.py spelled
test_scores.csv, test_controls.csv and eval.json out, benchmarks/study_comparisons.py test_scores.csv). Prose
(messages, docstrings, comments) names the files by their literal names, which read better there."""

from __future__ import annotations

import ast
from pathlib import Path

from repo_root import REPO

from wildgan.data import eval_files

SRC = Path(eval_files.__file__).resolve().parents[1]


def _literal_names(path: Path) -> list[str]:
    """'LINE: NAME' of each string literal in `path` that is exactly one of the evaluation's file names (a path
    spelled out in code: `run_dir / "eval.json"`); words inside longer strings, f-strings, docstrings and comments
    are prose, not matched."""
    names = set(eval_files.EVAL_FILES)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [f"{node.lineno}: {node.value}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]


def test_evaluation_file_names_are_spelled_out_only_in_eval_files() -> None:
    found = {str(p.relative_to(SRC)): hits for p in sorted(SRC.rglob("*.py"))
             if p != Path(eval_files.__file__).resolve() and (hits := _literal_names(p))}
    assert found == {}, found


def test_the_scripts_spell_no_evaluation_file_name_out() -> None:
    scripts = sorted([*(REPO / "tools").glob("*.py"), *(REPO / "benchmarks").glob("*.py")])
    assert any(p.name == "auc_by_class.py" for p in scripts), scripts     # (the folders are where they were)
    found = {str(p.relative_to(REPO)): hits for p in scripts if (hits := _literal_names(p))}
    assert found == {}, found


def test_the_check_finds_a_name_spelled_out(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text('"""Reads eval.json."""\nx = run / "test_scores.csv"\ny = f"{run}/eval.json"\n'
                 'z = f"{run / \'test_controls.csv\'}: no such file"\n')
    assert _literal_names(p) == ["2: test_scores.csv", "4: test_controls.csv"]
