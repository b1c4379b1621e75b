"""CI must run the test command the README gives a newcomer (the brief's rule): the two can drift apart silently,
as when the README gained `-n auto` (pytest-xdist) and `.ci/run` had to follow."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readmes_pytest_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    top = readme.split("\n## ", 3)[:3]   # the command sits near the top, under "## Two commands"
    blocks = re.findall(r"^```bash[ \t]*\n(.*?)^```", "\n".join(top), flags=re.S | re.M)
    said = re.findall(r"python -m pytest[^\n&|;]*", "\n".join(blocks))
    assert len(said) >= 1, "README.md's top sections give no `python -m pytest` command"
    command = said[-1].strip()
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.strip().startswith("python -m pytest")]
    assert ci == [command], f".ci/run runs {ci}, README.md says {command!r}"
