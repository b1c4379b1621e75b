"""The files `wildgan evaluate` writes into an evaluation's folder (the run folder for its own test split, RUN/eval-*/
for other data), as one list shared by their writer (evaluation.run) and every reader that names them: the run
folder's outputs that --overwrite removes (training.run.RUN_OUTPUTS), the note a resume gives of evaluations of
earlier networks (training.run) and the report's word on them (evaluation.report). Each had its own copy of the
names, and auc_by_class.csv, added with the per-class results, was missing from the notes' copies. Kept here, below
all of them (as data.train_score_files is), so that a new output is added once and every list takes it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from ..fileio import file_digest, temp_files

EVAL_JSON = "eval.json"               # the AUCs, their intervals and controls, what was evaluated (the record)
SCORES_CSV = "test_scores.csv"        # each test image's scores
CONTROLS_CSV = "test_controls.csv"    # each test image's control scores (untrained networks, pixel statistics, G_*)
BY_CLASS_CSV = "auc_by_class.csv"     # the AUC of every score and control per anomalous class (data with classes)
LATENTS_NPY = "test_latents.npy"      # each test image's latent (the encoder's, or the search's)
SEARCH_CACHE = "test_search.npz"      # a search run's searched latents, which the report rescores

# every output, the record first: the order the notes name them in
EVAL_FILES = (EVAL_JSON, SCORES_CSV, CONTROLS_CSV, BY_CLASS_CSV, LATENTS_NPY, SEARCH_CACHE)

# eval.json's record of the files written beside it: {name: {"bytes": size, "sha256": hex digest}} of each side file
# the evaluation wrote (fileio.digesting), none for one it did not write (and removed). An eval.json without it (an
# older wildgan's) is not checked
SIDE_FILES_FIELD = "files"


def eval_files_there(eval_json: Path) -> list[str]:
    """The names of the evaluation outputs in the folder of `eval_json` (an evaluation's eval.json), in EVAL_FILES'
    order, eval.json included where it is there. What a note of a stale evaluation names: the files an evaluation
    wrote depend on it (no test_controls.csv after --no-controls of an f-AnoGAN run, no auc_by_class.csv for data
    without classes), so the names are of the files there, not of every file it may write."""
    folder = Path(eval_json).parent
    return [name for name in EVAL_FILES if (folder / name).is_file()]


def eval_temp_files(folder: Path) -> list[Path]:
    """The temp files of evaluation outputs in `folder` (".eval.json.XXXXXXXX.tmp", ...: fileio.temp_files of
    EVAL_FILES), sorted. An evaluation writes every file into such a temp file first (fileio.atomic_write_files), and
    a process killed before the renames leaves them: the one rule of the next evaluation's write, which deletes them
    there while no other process writes into the folder (evaluation.run.write_evaluation, fileio.writing_temps), and
    of `wildgan info RUN`, which reports them (cli.info.leftover_files)."""
    return temp_files(folder, EVAL_FILES)


def unmatched_side_files(folder: Path, ev: dict[str, Any], names: Sequence[str] = EVAL_FILES[1:]) -> list[str]:
    """The names of the side files `names` (by default all: EVAL_FILES less eval.json, in that order) in `folder`
    that are not the ones the evaluation `ev` (the eval.json there, read) wrote, by its record (SIDE_FILES_FIELD): a
    file of another size or sha256 than recorded, or one there that it did not write. What an evaluation killed among
    its renames leaves (fileio.atomic_write_files renames eval.json last): its new side files beside the earlier
    eval.json, whose readers would mix two evaluations' numbers. [] for an eval.json without the record (not
    checked), and for a recorded file that is gone (nothing there to mix; its reader says it is missing). The size
    is compared first, so a file is hashed only where its size matches: one read of each side file asked of. A CSV
    (text) that differs is read once more with its "\r\n" line ends as written, "\n" (_same_text)."""
    record = ev.get(SIDE_FILES_FIELD) if isinstance(ev, dict) else None
    if not isinstance(record, dict):
        return []
    out = []
    for name in names:
        path = Path(folder) / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        want = record.get(name)
        if not isinstance(want, dict):
            out.append(name)
            continue
        try:
            same = want.get("bytes") == size and file_digest(path) == want.get("sha256")
            same = same or (name.endswith(".csv") and _same_text(path, want))
        except OSError:                  # (unreadable: not known to be the one written)
            same = False
        if not same:
            out.append(name)
    return out


def _same_text(path: Path, want: dict[str, Any]) -> bool:
    """Whether the text file at `path` is the one recorded (`want`: its bytes and sha256 as written, with "\n" line
    ends) but for "\r\n" line ends: a run folder kept in git and checked out on Windows (core.autocrlf), or passed
    through unix2dos. Its readers (csv.reader) read it as written, so it is no other evaluation's file."""
    data = path.read_bytes()
    if b"\r\n" not in data:
        return False
    data = data.replace(b"\r\n", b"\n")
    return len(data) == want.get("bytes") and hashlib.sha256(data).hexdigest() == want.get("sha256")


def unmatched_beside(folder: Path, names: Sequence[str] = EVAL_FILES[1:]) -> list[str]:
    """unmatched_side_files of the eval.json in `folder`, of the side files `names` (by default all): the one rule of
    every reader that takes the files beside an eval.json for its (the report, `wildgan info RUN`, the report's
    search latents, tools/auc_by_class.py). [] where there is no eval.json, or it does not read (nothing recorded to
    hold the files to: its own reader says what is wrong with it)."""
    try:
        ev = json.loads((Path(folder) / EVAL_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return unmatched_side_files(folder, ev, names) if isinstance(ev, dict) else []


def unmatched_why(n: int) -> str:
    """Why `n` side files differ from what their eval.json records (unmatched_side_files), in the words of every
    reader that says so (the report, `wildgan info RUN`, the report's search latents, tools/auc_by_class.py): the
    record tells that a file changed since the evaluation wrote it, not what changed it, so both causes are named:
    another evaluation that was stopped among its renames (its new file beside the earlier eval.json), or an edit."""
    it, was = ("it", "it was") if n == 1 else ("them", "they were")
    return (f"another evaluation, stopped while it renamed its files into place, left {it} there, or {was} edited "
            f"since")


def evaluation_run(folder: Path) -> Path:
    """The run whose evaluation `folder` holds (evaluation.run.evaluation_dir): the folder itself, or, for an
    evaluation on other data or classes, RUN/eval-*/, the run folder above it. Told by where the folder lies, not by
    its eval.json's run_dir: that is the path the evaluation was given then, relative to the folder it ran in, or
    where a run since moved or copied was, and a command naming it evaluates another run or none."""
    from .readers import is_run_dir

    folder = Path(folder)
    return folder.parent if folder.name.startswith("eval-") and is_run_dir(folder.parent) else folder


def names_text(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': file names in a sentence."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
