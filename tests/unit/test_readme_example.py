"""The README's Python API example runs as written.

The example lives in README.md under '## Python API'; until that section exists the test reads docs/python_api.md
(the source the README example is pasted from). Every ```python block of the section is executed, in order, in one
namespace, inside a temporary working directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from markdown_blocks import python_blocks, readme_section

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Python API"


def example_source() -> tuple[str, list[str]]:
    readme = REPO / "README.md"
    section = readme_section(readme.read_text(encoding="utf-8"), HEADING) if readme.is_file() else None
    if section is not None and python_blocks(section):
        return "README.md", python_blocks(section)
    doc = REPO / "docs" / "python_api.md"
    return "docs/python_api.md", python_blocks(doc.read_text(encoding="utf-8"))


def test_helpers_extract_blocks() -> None:
    md = ("# T\n## Python API\ntext\n```python\nx = 1\n```\n```text\nno\n```\n### sub\n```python\ny = x\n```\n"
          "## Next\n```python\nz = 0\n```\n")
    sec = readme_section(md, HEADING)
    assert sec is not None and python_blocks(sec) == ["x = 1\n", "y = x\n"]
    assert readme_section("# nothing here", HEADING) is None


def test_python_api_example_runs(tmp_path, monkeypatch) -> None:
    import wildgan

    if not hasattr(wildgan, "Detector"):
        pytest.skip("wildgan/__init__.py does not export Detector yet")
    where, blocks = example_source()
    assert blocks, f"{where}: no ```python block under '{HEADING}'"
    code = "\n".join(blocks)
    assert 5 <= len([ln for ln in code.splitlines() if ln.strip()]) <= 12, "the example should stay 5-10 lines"
    monkeypatch.chdir(tmp_path)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # Detector's default run_dir is a new temp dir
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: threads only add contention for the tiny network
    ns: dict = {"__name__": "__readme__"}
    try:
        exec(compile(code, where, "exec"), ns)
    finally:
        torch.set_num_threads(old)
    fitted = [v for v in ns.values() if isinstance(v, wildgan.Detector)]
    assert fitted and all(hasattr(d, "threshold_") for d in fitted), "the example should fit a Detector"


def test_the_python_api_pages_examples_run_in_order(tmp_path, monkeypatch) -> None:
    """docs/python_api.md's ```python blocks (the Detector example, then the AUCs with their interval and paired
    test) run as written, in order, in one namespace: a renamed function or argument fails here, not for a reader."""
    blocks = python_blocks((REPO / "docs" / "python_api.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2, "docs/python_api.md: the Detector and the AUC examples"
    monkeypatch.chdir(tmp_path)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    ns: dict = {"__name__": "__python_api__"}
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"docs/python_api.md block {i + 1}", "exec"), ns)
    finally:
        torch.set_num_threads(old)
    assert 0.0 <= ns["lo"] <= ns["hi"] <= 1.0
