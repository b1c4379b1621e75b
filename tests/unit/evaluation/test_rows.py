"""The check of JSON-lines rows (evaluation.rows) and the one warning that names the lines it leaves out."""

from __future__ import annotations

from pathlib import Path

from wildgan.evaluation.rows import NOT_JSON_OBJECTS, NOT_STUDY_ROWS, checked_lines, left_out_text, line_problem


def test_left_out_text_names_the_file_the_count_and_the_lines(tmp_path: Path) -> None:
    # the three readers of JSON-lines files (a run's stats.jsonl, a study's results.jsonl for its tables and for its
    # report) each built this text with their own plural; one function now, so they cannot drift apart
    p = tmp_path / "stats.jsonl"
    p.write_text('{"kimg": 0}\nnot json\n' + "[1]\n" * 11 + '{"kimg": 1}\n{"ki')
    rows, bad = checked_lines(p, line_problem)
    assert rows == [{"kimg": 0}, {"kimg": 1}] and len(bad) == 12
    assert left_out_text(p, bad[:1], NOT_JSON_OBJECTS) == (
        f"{p}: 1 line left out, not a JSON object: line 2 (not JSON: Expecting value (column 1))")
    assert left_out_text(p, bad[:2], NOT_JSON_OBJECTS).startswith(f"{p}: 2 lines left out, not JSON objects: ")
    assert left_out_text(p, bad, NOT_STUDY_ROWS, where="of the study's tables") == (
        f"{p}: 12 lines left out of the study's tables, not result rows a study writes: line 2 (not JSON: Expecting "
        f"value (column 1)), " + ", ".join(f"line {i} (a list, not a JSON object)" for i in range(3, 12))
        + ", 2 more")
