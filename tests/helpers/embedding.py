"""A C application that embeds Python, for the tests of signal handlers set from C (signal.getsignal's None), which
only such an application has: built from a test's C source, then run with a Python snippet as argv[1]."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest


def build_embedding_app(tmp_path: Path, source: str) -> Path:
    """The C program `source` compiled and linked against this Python's shared libpython, as tmp_path/app; the test
    is skipped where there is no C compiler or no shared libpython (or the build fails: a missing header)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    include, libdir, version = (sysconfig.get_config_var(k) for k in ("INCLUDEPY", "LIBDIR", "LDVERSION"))
    if cc is None or not sysconfig.get_config_var("Py_ENABLE_SHARED") or not sys.platform.startswith("linux"):
        pytest.skip("no C compiler or no shared libpython to embed")
    (tmp_path / "app.c").write_text(source)
    built = subprocess.run([cc, "-o", str(tmp_path / "app"), str(tmp_path / "app.c"), f"-I{include}", f"-L{libdir}",
                            f"-lpython{version}", f"-Wl,-rpath,{libdir}"], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"the embedding application did not build: {built.stderr[-300:]}")
    return tmp_path / "app"


def run_embedded(app: Path, code: str) -> subprocess.CompletedProcess[str]:
    """app run with the Python snippet `code`, finding wildgan as this test does (the embedded interpreter finds
    the standard library by itself, not the virtualenv's packages)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([str(app), code], capture_output=True, text=True, env=env, timeout=120)
