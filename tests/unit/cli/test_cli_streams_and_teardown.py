"""Where a command's output goes, and how it ends: `wildgan train --dry-run` prints its config to standard output (so
`--dry-run > cfg.json` works) and its warnings to standard error; a command that warns still runs where there is no
stdout nor stderr at all (pythonw, an interpreter embedded without a console); every command's output goes through
cli.common.write_stdout, which behaves as print() does on each platform (under pythonw, whose sys.stdout is None, it
writes nothing; on Windows its line ends are translated by the text layer as print's are); and a Ctrl-C after a
command's last line leaves its own exit code, with no traceback. Scripts depend on each of these."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from loose_image_piles import rgb_pile
from pipe_reading import buffered_env
from toy_labelled_npz import labelled_npz

from wildgan.cli import main


def test_dry_run_prints_the_config_to_standard_output(tmp_path, capsys):
    """The config goes to stdout, not to stderr among the warnings (where `--dry-run > cfg.json` would write an empty
    file), as info --json and evaluate --json print to stdout. The warnings stay on stderr."""
    import json

    pile = rgb_pile(tmp_path / "pile")
    # (--dist-timeout without --distributed: a warning)
    assert main(["train", "--data", str(pile), "--out", str(tmp_path / "run"), "--preset", "tiny", "--dry-run",
                 "--dist-timeout", "5"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["preset"] == "tiny"
    assert "warning" in err and "{" not in err, err


def test_a_command_that_warns_runs_where_there_is_neither_stdout_nor_stderr(tmp_path: Path, monkeypatch) -> None:
    """Under pythonw (and an interpreter embedded without a console) sys.stdout and sys.stderr are both None. Every
    writer of the CLI's output must then say nothing rather than call None.write: eprint (errors.py), the writer of
    the CLI's warnings (common.warn), notes and result lines (score's 'scored N images ... wrote X', train's 'next:'),
    and of training.distributed's shutdown warning, as say_end and write_stdout do. Otherwise `wildgan score RUN
    --data IMG --out scores.csv` raises AttributeError out of main (from its batch-mode warning) before the CSV is
    written, and so does this dry run, from its '--encoder-loss does not apply' warning. A command that says nothing
    on stderr (`wildgan info`) would not show it: this one warns."""
    data = labelled_npz(tmp_path)
    monkeypatch.setattr("sys.stdout", None)
    monkeypatch.setattr("sys.stderr", None)
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--method", "search", "--encoder-loss", "latent", "--out", str(tmp_path / "r"), "--dry-run"]) == 0


def test_a_command_runs_where_there_is_no_stdout(monkeypatch) -> None:
    """Under pythonw sys.stdout is None (main's own flush checks for it: '(None under pythonw)'), and print() then
    writes nothing. write_stdout takes that None too: `wildgan info` (and evaluate, report, score --out -, --help)
    does not call None.write and end in a traceback."""
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


def test_a_ctrl_c_after_the_command_finished_leaves_its_exit_code(tmp_path):
    """A Ctrl-C in the second or two between a command's last line and the process's end (Python's and torch's
    teardown) must neither print a KeyboardInterrupt traceback ("Exception ignored in atexit callback") nor, once
    Python has put back the default handler, kill the finished command silently with exit 130, "stopped by Ctrl-C".
    Ctrl-C after the last line, again and again until the process ends: its own exit code, and no word."""
    import signal
    import subprocess
    import time

    with subprocess.Popen([sys.executable, "-m", "wildgan", "info"], cwd=tmp_path, env=buffered_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        for line in p.stdout:
            if line.startswith("training GFLOP"):           # info's last line: main returns right after it
                break
        time.sleep(0.6)     # (a loaded CI core can hold a process 100s of ms; the teardown takes ~2 s)
        for _ in range(100):
            if p.poll() is not None:
                break
            p.send_signal(signal.SIGINT)
            time.sleep(0.05)
        err = p.stderr.read()
        assert p.wait(10) == 0, err
    assert "KeyboardInterrupt" not in err and "interrupted" not in err, err
