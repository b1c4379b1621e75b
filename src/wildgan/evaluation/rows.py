"""What a line of a JSON-lines file read back must be: a JSON object for any row file (stats.jsonl), and for a
study's results.jsonl a row the tables and a re-run of the study can use (row_problem); and which of a study's rows
its tables pool, for the views drawn from them apart from the study command (tables_pool).

Here, below the studies layer, so that `wildgan report STUDY_DIR` (evaluation) lists the rows the study's tables count
and names the others, by the same check as the tables (studies.tables.read_rows) and a re-run of the study."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import SCORE_NAMES, read_run_config, scoring_settings
from ..errors import ConfigError
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
    # ([null, null] is what a study writes for a checkpoint that did not count them: not recorded, which the tables
    # say, not a bad row, which a study would evaluate again on every run)
    its = value.get("fanogan_iters")
    if isinstance(its, list) and its != [None, None] and (
            len(its) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in its)):
        wrong.append(f"fanogan_iters is {json.dumps(its)[:40]}, not two whole numbers (or two nulls)")
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


# ------------------------------------------------------------------------------------------------------------------
# Which rows a study's tables pool

# the fields of a row that name its cell in tables.csv (studies.tables.render_csv writes no cell key)
CSV_CELL = ("protocol", "normal", "gamma", "method", "encoder_loss", "seed")


def other_scoring_rules(row: dict[str, Any]) -> str | None:
    """'scoring rules of version 2 (this wildgan's: 1)' for a row computed by other scoring rules than this wildgan's
    (scoring.scores.SCORES_VERSION; a row from before the field by UNRECORDED_SCORES_VERSION's), else None. No study
    command of this wildgan pools such a row with its own, whatever its settings (studies.study.scored_otherwise)."""
    from ..scoring.scores import SCORES_VERSION, UNRECORDED_SCORES_VERSION   # (torch: only where asked)

    version = row.get("scores_version", UNRECORDED_SCORES_VERSION)
    if version == SCORES_VERSION:
        return None
    return f"scoring rules of version {version} (this wildgan's: {SCORES_VERSION})"


def computed_otherwise_in_tables(study_dir: Path, rows: list[dict[str, Any]]) -> dict[str, str] | None:
    """{cell: how} of the rows that the study's tables.csv marks as computed otherwise (its computed_otherwise
    column: studies.study.scored_otherwise, as the study command that last wrote the tables decided it, with its
    settings, which the folder alone does not hold). None without a readable tables.csv."""
    marks: dict[tuple[str, ...], str] = {}
    try:
        with open(Path(study_dir) / "tables.csv", newline="", encoding="utf-8") as f:
            for line in csv.DictReader(f):
                if line.get("computed_otherwise"):
                    marks[tuple(str(line.get(k)) for k in CSV_CELL)] = str(line["computed_otherwise"])
    except (OSError, ValueError, csv.Error):
        return None

    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return tuple("" if r.get(k) is None else str(r.get(k)) for k in CSV_CELL)     # as csv.writer wrote them

    return {str(r["cell"]): marks[key(r)] for r in rows if key(r) in marks}


def row_scoring(study_dir: Path, row: dict[str, Any]) -> dict[str, Any]:
    """What a result row's AUCs were computed with: {'scores_version': ..., 'score.lam': ..., ...} (its
    score_settings, or for a row from before the field its cell's config.json's, which scored it; none when that is
    gone). search.seed is left out: a study gives each cell its own (its seed), which is no other way of scoring."""
    from ..scoring.scores import UNRECORDED_SCORES_VERSION   # (torch: only where asked)

    settings = row.get("score_settings")
    if not isinstance(settings, dict):
        cfg = Path(study_dir) / str(row.get("run_dir") or Path("runs") / str(row.get("cell"))) / "config.json"
        try:
            settings = scoring_settings(read_run_config(cfg.parent)) if cfg.is_file() else {}
        except (ConfigError, OSError, ValueError):
            settings = {}
    return {"scores_version": row.get("scores_version", UNRECORDED_SCORES_VERSION),
            **{k: v for k, v in settings.items() if k != "search.seed"}}


def scoring_differences(scoring: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{setting: {value (JSON): rows}} for each setting (of row_scoring's) that result rows differ in: rows of other
    scoring rules or settings in one study (a study run again with other settings on some of its cells keeps the
    others' rows). A setting a row does not record (another method's, or not known) is not compared."""
    values: dict[str, dict[str, int]] = {}
    for sc in scoring:
        for k, v in sc.items():
            counts = values.setdefault(k, {})
            counts[json.dumps(v)] = counts.get(json.dumps(v), 0) + 1
    return {k: v for k, v in values.items() if len(v) > 1}


def differences_text(differ: dict[str, dict[str, int]]) -> str:
    """'score.lam 0.2 in 3 rows, 0.05 in 1 row; ...' of scoring_differences."""
    return "; ".join(f"{k} " + ", ".join(f"{v} in {n} row{'s' if n > 1 else ''}" for v, n in vs.items())
                     for k, vs in differ.items())


@dataclass(frozen=True)
class TablesPool:
    """The rows of a study's results.jsonl that its tables pool (tables_pool), and those they leave out."""
    pooled: list[dict[str, Any]]
    apart: dict[str, str]       # {cell: how it was computed otherwise}
    # True: as tables.csv marks them; False: no readable tables.csv, so only the rows of other scoring rules are known
    # to be left out (which rows of other score settings the study pools depends on its command's settings)
    recorded: bool
    # without tables.csv, the score settings the rows left in differ in ({setting: {value: rows}}): then no view may
    # pool them (pooled is empty), as no study command pools rows of two settings (studies.study.scored_otherwise)
    differ: dict[str, dict[str, int]]
    total: int                  # the rows asked about

    def note(self, where: str) -> str | None:
        """What a view of the pooled rows says of the others ('these figures', 'this section'), or None."""
        if not self.apart:
            return None
        n, first = len(self.apart), next(iter(self.apart))
        rows = f"{n} of the {self.total} rows are left out of {where}"
        if self.recorded:
            return (f"{rows}, as tables.md leaves them out: tables.csv marks them computed otherwise than the study "
                    f"command that wrote it computes its cells (e.g. {first}: {self.apart[first]}).")
        return (f"{rows}, as the study's tables leave them out: computed by other scoring rules than this wildgan's, "
                f"whose AUCs are of other scores (e.g. {first}: {self.apart[first]}).")

    def undecided(self) -> str | None:
        """Why no view is drawn from the rows (their score settings differ, and no tables.csv says which the study
        pools), for a message that goes on to what to do; None when the pool is decided."""
        if not self.differ:
            return None
        return (f"its rows were scored with different settings ({differences_text(self.differ)}), and without the "
                f"study's tables.csv it is not known which of them the study pools (those computed as its command "
                f"computes its cells)")


def _scores_versions(rows: list[dict[str, Any]]) -> set[str]:
    """The scoring rules' versions the rows record (a row from before the field: UNRECORDED_SCORES_VERSION), as JSON."""
    from ..scoring.scores import UNRECORDED_SCORES_VERSION   # (torch: only where asked)

    return {json.dumps(r.get("scores_version", UNRECORDED_SCORES_VERSION)) for r in rows}


def tables_pool(study_dir: Path, rows: list[dict[str, Any]],
                scoring: list[dict[str, Any]] | None = None) -> TablesPool:
    """The rows (of a study's results.jsonl, row_problem's good ones) that its tables pool: those tables.csv does not
    mark computed otherwise (computed_otherwise_in_tables); without a readable tables.csv, those of this wildgan's
    scoring rules (other_scoring_rules; or all of them, where all share one older version: computed alike), and none
    when those differ in their score settings (TablesPool.undecided: which of them the study pools depends on its
    command's settings, which the folder does not hold). The one
    selection of every view drawn from the rows apart from the study command (`wildgan report STUDY_DIR`'s figures
    where the study left none, its --score sections), so that they pool what tables.md pools. `scoring`: each row's
    row_scoring, where the caller has them (read here otherwise)."""
    apart = computed_otherwise_in_tables(study_dir, rows)
    recorded = apart is not None
    if apart is None:
        apart = {str(r["cell"]): how for r in rows if (how := other_scoring_rules(r)) is not None}
        # (every row, not a count of cells: a cell whose row appears twice counts once in `apart`)
        if rows and all(other_scoring_rules(r) is not None for r in rows) and len(_scores_versions(rows)) == 1:
            # every row of one older version: computed alike, as their study pooled them (a raised SCORES_VERSION
            # left an old study without tables.csv with no figures at all); their settings are compared below
            apart = {}
    pooled = [r for r in rows if str(r["cell"]) not in apart]
    differ: dict[str, dict[str, int]] = {}
    if not recorded and len(pooled) > 1:
        if scoring is None:
            scoring = [row_scoring(study_dir, r) for r in rows]
        kept = [sc for r, sc in zip(rows, scoring) if str(r["cell"]) not in apart]
        # (the scoring rules' version is the same in every row kept: other_scoring_rules left the others apart, or all
        # share one older one)
        differ = {k: v for k, v in scoring_differences(kept).items() if k != "scores_version"}
        if differ:
            pooled = []
    return TablesPool(pooled, apart, recorded, differ, len(rows))
