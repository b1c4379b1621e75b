"""The README is a front door to the pages in docs/: a page renamed, or a heading reworded, must not leave a link that
leads nowhere. Every relative link in README.md and docs/*.md points at a file that exists and, with an #anchor, at a
heading of that file (GitHub's anchors). The README's tour commands are checked against the CLI's options too."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^```.*?^```[ \t]*$", flags=re.S | re.M)
# [text](target): the text may hold `code` (with brackets inside), the target no spaces; images (![..]) too
LINK = re.compile(r"\[((?:[^\[\]`]|`[^`]*`)*)\]\(([^()\s]+)\)")
CODE = re.compile(r"`[^`\n]*`")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters, digits, _ and - kept), spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", markdown), flags=re.M):
        s = slug(m[1])
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")    # GitHub numbers a repeated heading's anchor
    return out


def links(markdown: str) -> list[str]:
    """The link targets outside code blocks; a code span that is no link's text is no link (`x[i](j)` in code)."""
    text = FENCE.sub("", markdown)
    found = [m[2] for m in LINK.finditer(text)]
    in_code = [m[2] for span in CODE.findall(text) for m in LINK.finditer(span)]
    for t in in_code:
        found.remove(t)
    return found


def broken_links(page: Path) -> list[str]:
    bad = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):    # http:, https:, mailto: are not checked offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{page.name}: {target}: no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            bad.append(f"{page.name}: {target}: no heading #{anchor} in {dest.name}")
    return bad


def test_slugs_follow_github() -> None:
    assert slug("The data root: `$WILDGAN_DATA`") == "the-data-root-wildgan_data"
    assert slug("`wildgan evaluate --json`") == "wildgan-evaluate---json"
    assert slug("Where is …") == "where-is-"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_the_checker_finds_a_missing_file_and_a_missing_heading(tmp_path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cli.md").write_text("# Command line\n## Exit codes\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/cli.md#exit-codes) [`code` ok](#top) [web](https://example.org/x)\n# Top\n"
                    "`not[a](link)` and\n```\n[nor](this.md)\n```\n"
                    "[gone](docs/data.md) [moved](docs/cli.md#signals) [here](#nowhere)\n", encoding="utf-8")
    assert broken_links(page) == [
        f"README.md: docs/data.md: no file {tmp_path / 'docs' / 'data.md'}",
        "README.md: docs/cli.md#signals: no heading #signals in cli.md",
        "README.md: #nowhere: no heading #nowhere in README.md"]


def test_every_relative_link_of_the_readme_and_docs_resolves() -> None:
    assert (REPO / "docs" / "cli.md").is_file() and len(PAGES) >= 6
    assert len(links((REPO / "README.md").read_text(encoding="utf-8"))) >= 6, "the README links to the docs pages"
    bad = [b for page in PAGES for b in broken_links(page)]
    assert not bad, "\n".join(bad)


def test_the_readmes_tour_commands_parse() -> None:
    """Each `wildgan ...` line of the README's bash blocks is a command the CLI takes (a renamed option fails here)."""
    from wildgan.cli import make_parser

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash[ \t]*\n(.*?)^```", readme, flags=re.S | re.M)
    commands = [c.strip() for b in blocks for line in b.splitlines() for c in line.split("&&")
                if c.strip().startswith("wildgan ")]
    assert len(commands) >= 6, commands
    for command in commands:
        args, extra = make_parser().parse_known_args(shlex.split(command)[1:])
        assert not extra, f"{command}: {extra}"


def test_the_readme_s_headline_tables_are_those_of_docs_results():
    # the README shows the headline results, docs/results.md every result: a number corrected in one place only
    # would leave the two pages disagreeing. Every table row of the README's Results section is one of results.md's.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) >= 10, "the README's Results section lost its tables"
    results = (REPO / "docs" / "results.md").read_text(encoding="utf-8").splitlines()
    assert [r for r in rows if r not in results] == []


def test_every_option_of_every_command_is_in_docs_cli() -> None:
    # the README sends readers to docs/cli.md for "all the options", whose synopsis lacked a third of train's
    # (--transition-kimg, --lr, --depth16, --rotations, ...), which its messages suggest, and export's --opset
    import argparse

    from wildgan.cli import make_parser

    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    (sub,) = [a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {o}" for name, parser in sub.choices.items() for a in parser._actions
               for o in a.option_strings if o.startswith("--") and o != "--help"
               and not re.search(re.escape(o) + r"(?![\w-])", doc)]
    assert not missing, f"options not in docs/cli.md: {missing}"


def test_every_command_s_synopsis_in_docs_cli_names_each_of_its_options() -> None:
    # docs/cli.md's synopsis ("every command and option") lacked train's --amp, --channels-last, --cuda-graphs,
    # --compile, --gp-precision, --distributed and --dist-timeout, which the test above found elsewhere on the page.
    # study's synopsis takes "train's options for every cell": its own block or train's
    import argparse

    from wildgan.cli import make_parser

    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    synopsis = doc.split("## Commands and options\n\n```text\n", 1)[1].split("```", 1)[0]
    blocks: dict[str, str] = {}
    name = None
    for line in synopsis.splitlines():
        if m := re.match(r"wildgan (\w+)", line):
            name = m.group(1)
        blocks[str(name)] = blocks.get(str(name), "") + line + "\n"
    (sub,) = [a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(blocks) == set(sub.choices), set(blocks) ^ set(sub.choices)
    missing = [f"{cmd} {o}" for cmd, parser in sub.choices.items() for a in parser._actions for o in a.option_strings
               if o.startswith("--") and o != "--help" and not any(
                   re.search(re.escape(o) + r"(?![\w-])", blocks[b]) for b in ({cmd, "train"} if cmd == "study"
                                                                               else {cmd}))]
    assert not missing, f"options not in their command's synopsis in docs/cli.md: {missing}"
