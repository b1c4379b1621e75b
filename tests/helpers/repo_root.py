"""The repository's root folder, for the tests that read its files (README.md, docs/, .ci/, tools/, benchmarks/,
src/): found from this module's own place, so that a test file finds the same folder at whatever depth of tests/ it
lies (a `Path(__file__).parents[2]` in a test file moved a folder down read tests/ instead, and a glob there found
nothing to check)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
