"""Markdown tables as the package writes them (tables.md, report.md) and reads them back (report.html)."""

from __future__ import annotations

import re
from typing import Any, Iterable


def md_cell(value: Any) -> str:
    """The text of one Markdown table cell: a bare `|` would end the cell (GitHub, and evaluation.report's
    _md_to_html, read it as a column separator, shifting the rest of the row), so it is written `\\|`, which renders
    as a literal pipe; a line break would end the row, so it becomes a space. Every Markdown table the package writes
    goes through here."""
    return " ".join(str(value).splitlines()).replace("|", "\\|")


def md_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def md_table(header: Iterable[Any], body: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    return "\n".join([md_row(header), "|" + "|".join("---" for _ in header) + "|", *(md_row(r) for r in body)])


_CELL_SEP = re.compile(r"(?<!\\)\|")


def split_md_row(line: str) -> list[str]:
    """The cells of one Markdown table row (the reverse of md_row): split at the pipes that are not escaped, and
    each `\\|` read back as `|`."""
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") and not s.endswith("\\|") else s
    return [c.strip().replace("\\|", "|") for c in _CELL_SEP.split(s)]
