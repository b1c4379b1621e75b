"""The ```python blocks of a Markdown section, for the tests that run the docs' examples as written
(test_readme_example: README.md's "Python API"; test_study_from_python_doc: docs/python_api.md's study example)."""

from __future__ import annotations

import re


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", markdown, flags=re.S | re.M)


def readme_section(text: str, heading: str) -> str | None:
    """The text from `heading` to the next heading of the same or a higher level."""
    m = re.search(rf"^{re.escape(heading)}[ \t]*$", text, flags=re.M)
    if m is None:
        return None
    level = len(heading) - len(heading.lstrip("#"))
    nxt = re.search(rf"^#{{1,{level}}} ", text[m.end():], flags=re.M)
    return text[m.end(): m.end() + nxt.start()] if nxt else text[m.end():]
