"""A TQDM_* environment variable that tqdm cannot read (docs/cli.md names TQDM_MININTERVAL for the bars' interval in
a log): one line naming it, exit 2, not the traceback of tqdm's import inside torch's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("env, said", [
    ({"TQDM_MININTERVAL": "abc"}, "wildgan: error: TQDM_MININTERVAL=abc: tqdm, which draws the progress bars, cannot "
                                  "read it (could not convert string to float: 'abc'): fix or unset it "
                                  "(TQDM_MININTERVAL takes seconds, e.g. 60)"),
    ({"TQDM_NCOLS": "wide"}, "wildgan: error: TQDM_NCOLS=wide: tqdm, which draws the progress bars, cannot read it "
                             "(invalid literal for int() with base 10: 'wide'): fix or unset it"),
])
def test_a_tqdm_variable_tqdm_cannot_read_is_one_line_naming_it(tmp_path: Path, env: dict[str, str],
                                                                said: str) -> None:
    """In a fresh process: tqdm reads the variables as it is imported, once (in this one it is imported already)."""
    src = str(Path(__import__("wildgan").__file__).parents[1])
    run = subprocess.run([sys.executable, "-m", "wildgan", "info"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": src, **env}, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == said, run.stderr
    good = subprocess.run([sys.executable, "-m", "wildgan", "info"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": src, "TQDM_MININTERVAL": "60"}, cwd=tmp_path)
    assert good.returncode == 0 and "Traceback" not in good.stderr, good.stderr
