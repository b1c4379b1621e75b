"""What a line of a JSON-lines file read back must be: a JSON object for any row file (stats.jsonl), and for a
study's results.jsonl a row the tables and a re-run of the study can use (row_problem).

Here, below the studies layer, so that `wildgan report STUDY_DIR` (evaluation) lists the rows the study's tables count
and names the others, by the same check as the tables (studies.tables.read_rows) and a re-run of the study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ..config import SCORE_NAMES
from ..fileio import json_lines

PIXEL_CONTROLS = ("pixel_norm", "pixel_std", "pixel_mean")

# What a results.jsonl row must hold, with its JSON type: the fields that name its cell (a re-run of the study finds
# its done cells by them) and those every table reads. A hand-edited or damaged row without one, or with another type,
# is left out of the tables (and its cell evaluated again by a re-run of the study) and named (read_rows), rather than
# stopping every reader with a KeyError. A field under another (a.b) is asked for only where that one is an object
# (other_generator is null for f-AnoGAN); _OPTIONAL's fields, which the tables read where present, must have their type.
_NUMBER = (int, float)
ROW_FIELDS: dict[str, tuple[type, ...]] = {
    "cell": (str,), "normal": (str,), "gamma": _NUMBER, "method": (str,), "encoder_loss": (str,), "seed": (int,),
    "auc": (dict,), "ap": (dict,), "controls": (dict,), "controls.untrained": (dict,),
    "other_generator.auc": (dict,)}
_OPTIONAL: dict[str, tuple[type, ...]] = {
    **{f"{d}.{s}": (*_NUMBER, type(None)) for d in ("auc", "ap", "controls.untrained") for s in SCORE_NAMES},
    **{f"controls.{k}": (*_NUMBER, type(None)) for k in PIXEL_CONTROLS},
    **{k: (*_NUMBER, type(None)) for k in ("kimg", "lod", "n_train", "n_train_anomalous", "n_test", "n_anomalous")},
    "fanogan_iters": (list, type(None)), "other_generator": (dict, type(None)), "controls_ap": (dict,)}
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
               float: "a number", type(None): "null"}


def line_problem(value: Any) -> str | None:
    """What keeps one line's value (fileio.json_lines) from being a row of a JSON-lines file ('not JSON: ...', 'a list,
    not a JSON object'), or None for a JSON object."""
    if isinstance(value, json.JSONDecodeError):
        return f"not JSON: {value.msg} (column {value.colno})"
    if not isinstance(value, dict):
        return f"{_JSON_TYPES[type(value)]}, not a JSON object"
    return None


def row_problem(value: Any) -> str | None:
    """What keeps one line's value (fileio.json_lines) from being a row the tables and a re-run of the study can
    use ('not JSON: ...', 'no normal, seed; gamma is "abc", not a number'), or None for a good row."""
    said = line_problem(value)
    if said is not None:
        return said
    missing, wrong = [], []
    for fields, required in ((ROW_FIELDS, True), (_OPTIONAL, False)):
        for name, kinds in fields.items():
            *parents, key = name.split(".")
            d = value
            for p in parents:
                d = d.get(p) if isinstance(d, dict) else None
            if not isinstance(d, dict):
                continue                        # (its parent is named already)
            if key not in d:
                if required:
                    missing.append(name)
            elif isinstance(d[key], bool) or not isinstance(d[key], kinds):
                want = ("a whole number" if kinds == (int,)
                        else " or ".join(dict.fromkeys(_JSON_TYPES[k] for k in kinds)))
                got = _JSON_TYPES[type(d[key])] if isinstance(d[key], (dict, list)) else json.dumps(d[key])[:40]
                wrong.append(f"{name} is {got}, not {want}")
    # f-AnoGAN's (critic, encoder) iterations: the tables write them as "a critic + b encoder iterations"
    its = value.get("fanogan_iters")
    if isinstance(its, list) and (len(its) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in its)):
        wrong.append(f"fanogan_iters is {json.dumps(its)[:40]}, not two whole numbers")
    said = "; ".join(([f"no {', '.join(missing)}"] if missing else []) + wrong)
    return said or None


def checked_lines(path: Path, problem: Callable[[Any], str | None]) -> tuple[list[dict[str, Any]], list[str]]:
    """(the rows of a JSON-lines file in which problem (line_problem, row_problem) finds nothing wrong, 'line 3 (why)'
    for each other line), for the caller to name in one warning (left_out_text). A torn last line is neither: it is
    left out without a word (fileio.json_lines)."""
    rows, bad = [], []
    for i, _, value in json_lines(path):
        said = problem(value)
        if said is None:
            rows.append(value)
        else:
            bad.append(f"line {i} ({said})")
    return rows, bad


# what the lines left_out_text names are not: (said of one line, of several)
NOT_JSON_OBJECTS = ("not a JSON object", "not JSON objects")
NOT_STUDY_ROWS = ("not a result row a study writes", "not result rows a study writes")


def left_out_text(path: Path, bad: list[str], why: tuple[str, str], where: str = "") -> str:
    """The one warning naming a JSON-lines file's bad lines (checked_lines' 'line 3 (why)'): 'PATH: 2 lines left out
    {where}, {why}: line 2 (...), line 5 (...)', e.g. where "of the study's tables", why NOT_STUDY_ROWS (its first
    words for one line, its second for several). Its readers (report.read_jsonl, the study report, tables.read_rows)
    share it, so that the count, its plural and the lines read alike wherever a file is named."""
    many = len(bad) > 1
    return (f"{path}: {len(bad)} line{'s' if many else ''} left out{f' {where}' if where else ''}, {why[many]}: "
            f"{lines_named(bad)}")


def lines_named(bad: list[str], most: int = 10) -> str:
    """'line 2 (why), line 5 (why)' for a warning, the first `most` of them and how many more: a file of thousands of
    bad lines is named in one readable warning."""
    more = [f"{len(bad) - most} more"] if len(bad) > most else []
    return ", ".join(bad[:most] + more)
