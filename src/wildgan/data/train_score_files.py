"""The files of a run's training-score cache, as facts shared by their writer and their readers: their names, and the
layout of the CSV (a header `id,SCORE,...`, then one row per training image, its id first, every line ended).

scoring.train_scores writes and reads the cache (its scores, keyed by the networks and the scoring rules); the data
layer reads the ids column alone (splits.cached_fit_ids: a Detector.fit run of a wildgan before fit_ids.json holds
fit's ids there only), and the training layer names the files it clears. Kept here, below all of them, so that a
change of the format is made once, where every one of them takes it from, instead of in copies that a test compared
by name only."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..config import as_typed

# the mixed protocol's cache (`wildgan score`'s, the default batch mode) and the isolated one's, each a CSV of the
# scores and a key file (the networks' checksum, the scoring rules, the data) written after it, marking it complete
TRAIN_SCORES_CSV = "train_scores.csv"
TRAIN_SCORES_KEY = "train_scores.json"
ISOLATED_SCORES_CSV = "train_scores-isolated.csv"
ISOLATED_SCORES_KEY = "train_scores-isolated.json"
# the CSVs, the mixed protocol's first; and every file of both caches, each key before its rows (a clearing that
# stops half way leaves rows without a key, an incomplete cache, never a key that vouches for missing rows)
TRAIN_SCORE_CSVS = (TRAIN_SCORES_CSV, ISOLATED_SCORES_CSV)
TRAIN_SCORE_FILES = (TRAIN_SCORES_KEY, TRAIN_SCORES_CSV, ISOLATED_SCORES_KEY, ISOLATED_SCORES_CSV)
# the first column of the header and of every row: the training image's id (split.train_ids)
ID_COLUMN = "id"


def train_score_names(batch_mode: str) -> tuple[str, str]:
    """(the CSV, its key file) of the cache of the batch mode's scores: 'isolated' has its own, any other mode (mixed;
    the methods without a batch mode) the default one."""
    if batch_mode == "isolated":
        return ISOLATED_SCORES_CSV, ISOLATED_SCORES_KEY
    return TRAIN_SCORES_CSV, TRAIN_SCORES_KEY


def train_score_header(score_names: Sequence[str]) -> list[str]:
    """The CSV's header line's fields: the id column, then the scores' columns in the order given."""
    return [ID_COLUMN, *score_names]


def read_train_score_text(path: Path) -> str:
    """A training-score CSV's text as its writer wrote it (atomic_write_text: UTF-8 bytes, surrogateescape): a file
    name that is not valid UTF-8 comes back as the str it was written from, and line ends are not translated
    (newline=''), so that an id with a carriage return in it reads back as itself (universal newlines made it a line
    break: other ids than fit's, and its cache taken for another run's) and the csv module sees the writer's own line
    ends. Raises OSError where the file cannot be read."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


class TrainScoreTableError(ValueError):
    """A training-score CSV's text that is not of the layout (its str says what is wrong, in words a caller puts after
    the file's name)."""


def split_train_score_table(text: str) -> tuple[list[str], list[list[str]]]:
    """(the header's fields, the rows' fields) of a training-score CSV's text, checked for the layout: not empty,
    every line ended (a file cut anywhere but at a line's end says so here, also where the cut leaves a shorter number
    that still reads as one), a header of the id column and at least one score column, every row as wide as it. The
    values are not read, nor the rows counted (the caller knows how many there should be). TrainScoreTableError says
    what is wrong."""
    import csv
    import io

    if not text:
        raise TrainScoreTableError("empty, not even its header line")
    if not text.endswith("\n"):
        raise TrainScoreTableError("cut short: its last line ends without a line break")
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise TrainScoreTableError(f"not a readable CSV ({e})") from None
    header, rows = table[0], table[1:]
    if len(header) < 2 or header[0] != ID_COLUMN:
        # (what the file holds, as typed there: as_typed, as the CLI's and config's errors quote a value)
        raise TrainScoreTableError(f"its header line {as_typed(','.join(header))} is not {ID_COLUMN} followed by the "
                                   f"score columns")
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise TrainScoreTableError(f"line {i + 2} has {len(r)} fields where the header has {len(header)}")
    return header, rows
