"""fileio.writing_temps where the folder cannot be locked (no fcntl on Windows, a folder that cannot be opened): the
caller's block runs unheld, and an error raised in it is the block's own, not chained to the lookup that failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from no_fcntl import refuse_fcntl_import
from wildgan.fileio import writing_temps


def _raise_in_block(folder: Path) -> BaseException:
    with pytest.raises(ValueError) as caught:
        with writing_temps(folder, lambda: []) as gone:
            assert gone == []
            raise ValueError("the caller's own error")
    return caught.value


def test_an_error_in_the_block_is_not_chained_to_an_unopenable_folder(tmp_path, monkeypatch):
    # the block ran inside writing_temps' `except OSError:` (the failed os.open): every error of the caller's write,
    # a full disk or a bug, then printed "During handling of the above exception ..." under the folder's open error,
    # as if that were its cause
    real_open = os.open

    def refuse_folder(path, flags, *args, **kwargs):
        if Path(path) == tmp_path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_folder)
    err = _raise_in_block(tmp_path)
    assert err.__context__ is None


def test_an_error_in_the_block_is_not_chained_to_a_missing_fcntl(tmp_path, monkeypatch):
    # (Windows: no fcntl) every traceback of the block showed "No module named 'fcntl'" first
    refused = refuse_fcntl_import(monkeypatch)
    err = _raise_in_block(tmp_path)
    assert refused, "writing_temps never asked for fcntl: the test proves nothing"
    assert err.__context__ is None
