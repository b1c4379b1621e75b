"""Every command's output (info, evaluate's table, report's path, score --out -, --help) goes through
cli.common.write_stdout, which must behave as print() does on each platform: under pythonw, where sys.stdout is None,
a command still runs (and writes nothing) instead of ending in a traceback; on Windows, whose stdout turns '\\n' into
'\\r\\n', its line ends are translated as the text layer's are, not mixed with what print writes."""

from __future__ import annotations

import io
import sys


def test_a_command_runs_where_there_is_no_stdout(monkeypatch) -> None:
    """Under pythonw sys.stdout is None (main's own flush checks for it: '(None under pythonw)'), and print() then
    writes nothing. write_stdout takes that None too: `wildgan info` (and evaluate, report, score --out -, --help)
    does not call None.write and end in a traceback."""
    from wildgan.cli import main

    monkeypatch.setattr(sys, "stdout", None)
    assert main(["info", "--preset", "tiny", "--resolution", "8"]) == 0


def test_write_stdout_translates_newlines_as_the_text_layer_does(monkeypatch) -> None:
    """sys.stdout on Windows is a TextIOWrapper that writes '\\n' as '\\r\\n'. write_stdout's text gets the line ends
    the text layer makes, as print's does, rather than its bytes going to the binary layer untranslated: a command's
    output keeps Windows' line ends there, and does not mix them with what print writes."""
    from wildgan.cli.common import write_stdout

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\r\n")     # (what Python makes of stdout on Windows)
    monkeypatch.setattr(sys, "stdout", out)
    print("before")
    write_stdout("a\nb\n")
    out.flush()
    assert raw.getvalue() == b"before\r\na\r\nb\r\n"
