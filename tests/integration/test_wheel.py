"""The package as a user gets it from `pip install wildgan`: a wheel, without this source tree.

An editable install (what CI and the README's commands use) finds every file in src/, so a module, a subpackage or
the embedded sample left out of the wheel (package-data, packages.find) would pass every other test and break the
first `wildgan demo` of a user. Built without build isolation (no download) from a copy of the tree, so nothing is
written into the checkout; skipped, saying why, where this Python cannot build one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _build_wheel(tmp_path: Path) -> Path:
    try:
        import setuptools
    except ImportError:
        pytest.skip("setuptools is not installed in this Python: the wheel cannot be built without a download")
    version = tuple(int(x) for x in setuptools.__version__.split(".")[:2] if x.isdigit())
    if version < (68,):
        pytest.skip(f"setuptools {setuptools.__version__} is older than pyproject.toml's build requirement (>=68)")
    if version < (70, 1):
        # setuptools builds wheels without the `wheel` package only from 70.1
        pytest.importorskip("wheel", reason=f"setuptools {setuptools.__version__} needs the `wheel` package to build")
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, proj / name)
    shutil.copytree(REPO / "src", proj / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(proj), "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(dist)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(dist.glob("wildgan-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_holds_the_whole_package_and_runs_the_demo_without_the_source_tree(tmp_path: Path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [line for line in z.read(meta).decode().splitlines() if line.startswith("Requires-Dist: torch")]
        entry = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        z.extractall(tmp_path / "site")
    src = REPO / "src"
    shipped = {p.relative_to(src).as_posix() for p in src.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in p.as_posix()}
    assert shipped - names == set(), f"files of src/ missing from {wheel.name}"
    assert "wildgan/data/sample/mnist-sample.npz" in names
    # users have GPUs: the wheel must ask for a torch range, never the CPU build pinned for CI
    assert requires and all("==" not in r for r in requires), requires
    assert "wildgan = wildgan.cli:run" in entry

    # run from the unpacked wheel, in a folder away from the checkout: the editable install's path comes after
    # PYTHONPATH, and the first lines check that the wheel's copy is the one imported
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.pop("WILDGAN_DATA", None)
    probe = ("import wildgan, sys; from pathlib import Path; "
             f"assert Path(wildgan.__file__).resolve().is_relative_to(Path({str(tmp_path / 'site')!r}).resolve()), "
             "wildgan.__file__; sys.argv = ['wildgan'] + sys.argv[1:]; "
             "from wildgan.cli import main; raise SystemExit(main(sys.argv[1:]))")
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-c", probe, "demo", "--out", str(out), "--total-kimg", "1",
                        "--phase-kimg", "0.5", "--no-progress"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    aucs = json.loads((out / "eval.json").read_text())
    assert "controls" in aucs
    r = subprocess.run([sys.executable, "-c", probe, "report", str(out), "--no-progress"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "report" / "report.html").stat().st_size > 0
