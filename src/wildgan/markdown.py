"""Markdown as the package writes it (tables.md, report.md) and reads it back (report.html): tables, and text taken
from file names, escaped so that it renders as written."""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import quote

# the characters that start Markdown (GitHub's) inline syntax: emphasis (* _), strikethrough (~), code spans (`),
# links and images ([ ]), raw HTML and autolinks (< >), entities (&), headings (#), a table cell's end (|), and the
# backslash itself. Only these: escaping every punctuation character, as CommonMark allows, filled the raw Markdown
# of every path with backslashes (/work/data/x.tar.gz)
_MD_SPECIAL = re.compile(r"([\\`*_~\[\]<>&#|])")
_MD_SPECIAL_BUT_PIPE = re.compile(r"([\\`*_~\[\]<>&#])")


def md_escape(value: Any, *, pipe: bool = True) -> str:
    """Text taken from outside (a file name, a path, an error naming one) as literal Markdown: each character of
    Markdown syntax backslash-escaped, so that `*scan*.png`, `[x](y)` or `<b>` render as the name, not as emphasis, a
    link or HTML; a line break becomes a space, as in a table cell. pipe=False leaves `|` to md_cell (a table cell's
    own escape: escaped twice it would read `\\|`, a backslash and a cell separator)."""
    return (_MD_SPECIAL if pipe else _MD_SPECIAL_BUT_PIPE).sub(r"\\\1", " ".join(str(value).splitlines()))


def md_code(text: Any) -> str:
    """Text as one Markdown code span (a command naming a user's path): fenced with one backtick more than the longest
    run of backticks inside it, and padded with a space each side where it starts or ends with one (CommonMark strips
    that space), so that a backtick in a folder name does not end the span. Nothing inside a code span is escaped:
    `*`, `_`, `[` and `|` in it are literal already."""
    text = " ".join(str(text).splitlines())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_link_target(path: str) -> str:
    """A relative link's target (a POSIX path) percent-encoded: a name with spaces, parentheses or `#` would end the
    link or read as a fragment; `/` stays, so the link still walks the folders."""
    return quote(path, safe="/")


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
