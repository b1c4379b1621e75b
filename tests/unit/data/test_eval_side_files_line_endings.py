"""data.eval_files.unmatched_side_files by line endings: an evaluation's CSVs are written with "\\n", and a run
folder kept in git and checked out on Windows (core.autocrlf), or passed through unix2dos, has them with "\\r\\n".
Every reader of those CSVs (csv.reader: the report's, the studies', tools/auc_by_class.py) reads them alike, yet
their size and sha256 differ from eval.json's record: the report called them stale, "of another evaluation", and
tools/auc_by_class.py refused to read them. Their text is the one written, so they match; a binary file's bytes are
compared as they are."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from wildgan.data.eval_files import (BY_CLASS_CSV, CONTROLS_CSV, EVAL_JSON, LATENTS_NPY, SCORES_CSV, SIDE_FILES_FIELD,
                                     unmatched_beside, unmatched_side_files)

_CSV = b"id,label,a\nx:0,0,0.25\nx:1,1,0.75\n"
_NPY = b"\x93NUMPY\x01\x00\n\x00rest of an array\n"


def _evaluated(folder: Path) -> dict:
    """An evaluation's files in `folder` as written ("\\n" line ends), and its eval.json (returned, read back)."""
    folder.mkdir()
    files = {SCORES_CSV: _CSV, CONTROLS_CSV: _CSV.replace(b",a", b",untrained_a"), LATENTS_NPY: _NPY}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    ev = {"auc": {"a": 1.0}, SIDE_FILES_FIELD: {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                                                 for name, data in files.items()}}
    (folder / EVAL_JSON).write_text(json.dumps(ev))
    return ev


def _crlf(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def test_csv_files_checked_out_with_crlf_line_ends_are_the_ones_recorded(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ev = _evaluated(run)
    for name in (SCORES_CSV, CONTROLS_CSV, EVAL_JSON):
        _crlf(run / name)
    assert unmatched_side_files(run, ev) == []
    assert unmatched_beside(run) == []                 # (its eval.json converted too: JSON reads the same)


def test_a_csv_of_other_text_is_still_found_whatever_its_line_ends(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ev = _evaluated(run)
    (run / SCORES_CSV).write_bytes(_CSV.replace(b"0.75", b"0.5").replace(b"\n", b"\r\n"))
    (run / CONTROLS_CSV).write_bytes((run / CONTROLS_CSV).read_bytes() + b"x:2,1,0.5\r\n")
    (run / BY_CLASS_CSV).write_bytes(b"class,n\r\n")                  # (not recorded: not this evaluation's)
    assert unmatched_side_files(run, ev) == [SCORES_CSV, CONTROLS_CSV, BY_CLASS_CSV]


def test_a_binary_side_file_is_compared_byte_for_byte(tmp_path: Path) -> None:
    """A "\\n" byte in an array file is data: the same file with "\\r\\n" there is another array."""
    run = tmp_path / "run"
    ev = _evaluated(run)
    _crlf(run / LATENTS_NPY)
    assert unmatched_side_files(run, ev) == [LATENTS_NPY]
