"""--out a stream (a FIFO, a pipe, /dev/stdout under `>` or `>>`, /dev/null): written into in order, as a Unix user
expects, never resolved, probed, kind-checked or replaced by a renamed temp file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from repo_root import REPO

from wildgan.cli import main
from wildgan.cli.common import check_out_file
from wildgan.errors import ConfigError
from wildgan.fileio import atomic_write_text, is_stream, refuse_replacing_another_kind

CSV = dict(suffixes=(".csv",), what="a scores CSV", starts=b"id,")


def test_is_stream_by_what_the_path_is(tmp_path: Path) -> None:
    fifo, plain, folder = tmp_path / "fifo", tmp_path / "old.log", tmp_path / "d"
    os.mkfifo(fifo)
    plain.write_text("earlier line\n")
    folder.mkdir()
    assert is_stream(fifo) and is_stream(os.devnull)
    assert not is_stream(plain) and not is_stream(folder) and not is_stream(tmp_path / "new.csv")
    link = tmp_path / "link.log"
    link.symlink_to(plain)
    assert not is_stream(link)              # (an ordinary symlink: its target is replaced, as before)
    with open(plain, "ab") as f:            # `>> old.log`: the fd's link leads to a regular file, still a stream
        assert is_stream(f"/proc/self/fd/{f.fileno()}") and is_stream(f"/dev/fd/{f.fileno()}")
    r, w = os.pipe()
    try:
        assert is_stream(f"/dev/fd/{w}")
    finally:
        os.close(r)
        os.close(w)


def test_a_file_reached_through_its_fd_is_appended_to_not_replaced(tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text("earlier line\n")
    with open(log, "ab") as f:
        at = f"/proc/self/fd/{f.fileno()}"
        check_out_file(at, "scores.csv", **CSV)       # was refused: an existing .log that is not a scores CSV
        refuse_replacing_another_kind(at, (".csv",), "a scores CSV", "scores.csv", label="--out", starts=b"id,")
        atomic_write_text(Path(at), "id,a\nx,1\n")
        atomic_write_text(Path(f"/dev/fd/{f.fileno()}"), "y,2\n")
    assert log.read_text() == "earlier line\nid,a\nx,1\ny,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["old.log"]      # no temp file or probe left


def test_a_pipe_is_accepted_and_written_in_order(tmp_path: Path) -> None:
    r, w = os.pipe()
    try:
        check_out_file(f"/dev/fd/{w}", "scores.csv", **CSV)           # was 'No such file' (/proc/PID/fd/pipe:[N])
        atomic_write_text(Path(f"/dev/fd/{w}"), "id,a\n")
        atomic_write_text(Path(f"/proc/self/fd/{w}"), "x,1\n")
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"id,a\nx,1\n"


def test_export_refuses_a_stream_in_the_cli_words(tmp_path: Path) -> None:
    r, w = os.pipe()
    try:
        with pytest.raises(ConfigError, match=r"--out /dev/fd/\d+ is not a regular file .*e\.g\. model\.onnx"):
            check_out_file(f"/dev/fd/{w}", "model.onnx", suffixes=(".onnx",), what="an ONNX model", only=True)
    finally:
        os.close(r)
        os.close(w)


def test_score_out_a_fifo(scoring_pile, tmp_path: Path) -> None:
    pile, run, _ = scoring_pile(6)
    fifo = tmp_path / "scores.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    assert main(["score", str(run), "--data", str(pile), "--out", str(fifo), "--no-progress"]) == 0
    reader.join(20)
    lines = got[0].decode().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pile", "run", "scores.fifo"]     # no scores.fifo.chunks


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("streams")
    pile, run = where / "pile", where / "run"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / f"{i}.png")
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress", "--total-kimg",
                 "0.016", "--phase-kimg", "0.1", "--no-train-scores", "--out", str(run)]) == 0
    return pile, run


def _score_to_stdout(tiny_run: tuple[Path, Path], stdout) -> subprocess.CompletedProcess:
    pile, run = tiny_run
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "wildgan", "score", str(run), "--data", str(pile), "--threads", "1",
                           "--out", "/dev/stdout", "--no-progress"], stdout=stdout, stderr=subprocess.PIPE,
                          env=env, timeout=300)


def test_score_out_dev_stdout_into_a_pipe(tiny_run) -> None:
    proc = _score_to_stdout(tiny_run, subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 17


def test_score_out_dev_stdout_appends_to_a_file(tiny_run, tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text("earlier line\n")
    for _ in range(2):                   # `>> old.log`, twice: each CSV after what was there
        with open(log, "ab") as f:
            proc = _score_to_stdout(tiny_run, f)
        assert proc.returncode == 0, proc.stderr.decode()
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier line" and len(lines) == 1 + 2 * 17
    assert lines[1].startswith("id,") and lines[18] == lines[1]
    with open(log, "wb") as f:           # `> old.log`: replaced by the shell, then the CSV alone
        proc = _score_to_stdout(tiny_run, f)
    assert proc.returncode == 0 and log.read_text().splitlines()[0].startswith("id,")
    assert [p.name for p in tmp_path.iterdir()] == ["old.log"]


def test_a_stream_keeps_no_chunk_folder(tmp_path: Path) -> None:
    """A pile of several chunks scored into /dev/null made /dev/null.chunks/ (as root, a folder in /dev), and one into
    /dev/stdout failed to make /dev/stdout.chunks: a stream, as --out -, keeps nothing to resume from."""
    import argparse

    from wildgan.cli.score import _resume_dir

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for out in (os.devnull, str(fifo), "/dev/stdout", "-"):
        assert _resume_dir(argparse.Namespace(out=out)) is None
    assert _resume_dir(argparse.Namespace(out=str(tmp_path / "s.csv"))) == tmp_path / "s.csv.chunks"


def test_a_stream_into_a_run_file_is_still_refused(tiny_run) -> None:
    """`score RUN --out /dev/stdout >> RUN/config.json`: the CSV appended to the run's config, which no command could
    read any more; refused as --out RUN/config.json is."""
    _, run = tiny_run
    before = (run / "config.json").read_bytes()
    with open(run / "config.json", "ab") as f:
        with pytest.raises(ConfigError, match=r"is a file of the run"):
            check_out_file(f"/proc/self/fd/{f.fileno()}", "scores.csv", **CSV)
    assert (run / "config.json").read_bytes() == before


def test_a_link_into_a_run_file_is_refused_with_a_name_that_can_be_written(tmp_path: Path) -> None:
    """The refusal of `--out /dev/stdout >> RUN/config.json` offered a name beside the link, /dev/scores.csv (and
    /proc/self/fd/scores.csv for /proc/self/fd/1): it names the run's file the link leads to, and offers one beside
    it."""
    from wildgan.training.run import refuse_a_run_or_study_file

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"data": {}, "net": {}, "train": {}}')
    (run / "split.json").write_text("{}")
    with open(run / "config.json", "ab") as f:
        fd_link = f"/proc/self/fd/{f.fileno()}"
        with pytest.raises(ConfigError) as e:
            refuse_a_run_or_study_file(fd_link, "scores.csv")
    assert str(e.value) == (f"--out {fd_link} (which leads to {run / 'config.json'}) is a file of the run {run}, "
                            f"which wildgan writes and reads; write to another file, e.g. {run / 'scores.csv'}")
    (tmp_path / "link.json").symlink_to(run / "config.json")
    with pytest.raises(ConfigError, match=rf"e\.g\. {run / 'scores.csv'}$"):
        refuse_a_run_or_study_file(tmp_path / "link.json", "scores.csv")
    with pytest.raises(ConfigError, match=rf"^--out {run / 'config.json'} is a file of the run .* e\.g\. "
                                          rf"{run / 'scores.csv'}$"):
        refuse_a_run_or_study_file(run / "config.json", "scores.csv")      # (as before: no link, nothing to add)


@pytest.mark.parametrize("out", ["-", "/dev/stdout"])
def test_a_reader_that_leaves_ends_score_with_141_whichever_way_stdout_is_named(tiny_run, tmp_path: Path,
                                                                                 out: str) -> None:
    """`score --out - | head -1` exited 0, having said it wrote the CSV, where `--out /dev/stdout | head -1` exited 141:
    with stdout unbuffered (PYTHONUNBUFFERED, python -u) sys.stdout.write made one write(2) and took the part the pipe
    had room for as the whole. Both are the shell's 141 now, quietly, as a program that SIGPIPE ends."""
    _, run = tiny_run
    pile = tmp_path / "many.npz"          # far more CSV than a pipe holds (64 KiB): the reader leaves mid-write
    np.savez(pile, x=np.random.default_rng(1).integers(0, 256, (2000, 8, 8), dtype=np.uint8))
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    score = subprocess.Popen([sys.executable, "-m", "wildgan", "score", str(run), "--data", str(pile), "--threads",
                              "1", "--out", out, "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
    head = subprocess.run(["head", "-1"], stdin=score.stdout, capture_output=True, timeout=300)
    score.stdout.close()
    err = score.stderr.read().decode()
    assert score.wait(timeout=300) == 141, err
    assert err == ""                      # no traceback, and no "wrote the CSV" for a CSV cut short
    assert head.stdout.decode().startswith("id,")


class _ShortWrites(io.RawIOBase):
    """An unbuffered stdout (python -u, PYTHONUNBUFFERED) whose write(2)s take a few bytes each, as a pipe's does when
    a signal interrupts it: print took the first part as the whole."""

    def __init__(self) -> None:
        self.got = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        n = min(len(b), 5)
        self.got += bytes(b[:n])
        return n


def _stdout_taking_few_bytes(monkeypatch: pytest.MonkeyPatch) -> _ShortWrites:
    raw = _ShortWrites()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
    return raw


def test_info_writes_all_of_its_output_through_short_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["info", "--preset", "tiny", "--resolution", "16", "--channels", "1"]
    for extra in ([], ["--json"]):
        raw = _stdout_taking_few_bytes(monkeypatch)
        assert main([*argv, *extra]) == 0
        text = raw.got.decode()
        if extra:
            assert json.loads(text)["params"]["G"] > 0
        else:
            lines = text.splitlines()
            assert lines[0].startswith("preset tiny") and [w.split()[0] for w in lines[2:5]] == ["G", "D", "E"]
            assert lines[-1].startswith("training GFLOP per real image") and text.endswith("\n")


@pytest.mark.parametrize("as_json", [False, True])
def test_evaluate_writes_all_of_its_output_through_short_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                as_json: bool) -> None:
    import wildgan.evaluation.run as evaluation_run

    table = "\n".join(f"| score{i} | 0.{i:03d} |" for i in range(200))
    monkeypatch.setattr(evaluation_run, "evaluate_run", lambda *a, **k: {"auc": {"L_r": 0.75}, "n_test": 8})
    monkeypatch.setattr(evaluation_run, "format_table", lambda out: table)
    raw = _stdout_taking_few_bytes(monkeypatch)
    assert main(["evaluate", str(tmp_path), "--no-progress", *(["--json"] if as_json else [])]) == 0
    assert raw.got.decode() == (json.dumps({"auc": {"L_r": 0.75}, "n_test": 8}) if as_json else table) + "\n"


def test_report_and_study_write_all_of_their_output_through_short_writes(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    import argparse

    import wildgan.evaluation.report as evaluation_report
    import wildgan.studies as studies
    from wildgan.cli import study as cli_study

    where = tmp_path / ("a folder named at length " * 4) / "report.html"
    monkeypatch.setattr(evaluation_report, "check_report_args", lambda *a, **k: None)
    monkeypatch.setattr(evaluation_report, "report", lambda *a, **k: where)
    raw = _stdout_taking_few_bytes(monkeypatch)
    assert main(["report", str(tmp_path), "--no-progress"]) == 0
    assert raw.got.decode() == f"{where}\n"

    tables = "# Study results\n\n" + "".join(f"| cell{i} | 0.{i:03d} |\n" for i in range(300))
    monkeypatch.setattr(studies, "run_study", lambda base, cells, out, **k: (out / "tables.md").write_text(tables))
    raw = _stdout_taking_few_bytes(monkeypatch)
    a = argparse.Namespace(out=str(tmp_path), no_progress=True, command_line=["wildgan", "study"])
    assert cli_study._run_the_study(a, None, [], study_log=None) == 0
    assert raw.got.decode() == tables + "\n"


def test_write_stdout_past_the_text_layer_writes_newlines_as_the_interpreters_own_stdout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An unbuffered stdout (python -u) is written past its text layer, whose newline translation is then the
    interpreter's own: on Windows (os.linesep '\\r\\n') every '\\n' as '\\r\\n', as print writes it there, through
    short writes too; elsewhere as it is."""
    from wildgan.cli.common import write_stdout

    for linesep in ("\r\n", "\n"):
        monkeypatch.setattr(os, "linesep", linesep)
        raw = _stdout_taking_few_bytes(monkeypatch)
        write_stdout("a\nbé\n\n")
        assert raw.got == f"a{linesep}bé{linesep}{linesep}".encode()


@pytest.mark.parametrize("buffered", [True, False])
def test_write_stdout_waits_for_a_non_blocking_stdout_to_take_more(monkeypatch: pytest.MonkeyPatch,
                                                                   buffered: bool) -> None:
    """A stdout set O_NONBLOCK (by a parent that shares the pipe) and read slowly: every byte arrives once, in order.
    Buffered, the write raised BlockingIOError, having taken part of the text (characters_written); unbuffered, the
    raw write returns None for none taken."""
    import time

    from wildgan.cli.common import write_stdout

    r, w = os.pipe()
    os.set_blocking(w, False)
    raw = io.FileIO(w, "wb")
    binary = io.BufferedWriter(raw, buffer_size=8192) if buffered else raw
    stream = io.TextIOWrapper(binary, encoding="utf-8", write_through=not buffered)
    got = bytearray()

    def read_slowly() -> None:
        with open(r, "rb", buffering=0) as f:
            while chunk := f.read(16384):
                got.extend(chunk)
                time.sleep(0.002)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    text = "".join(f"{i} é\n" for i in range(100_000))           # (~0.8 MB: many times what the pipe holds)
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        stream.write("printed before\n")             # (what print left in the text layer goes first)
        write_stdout(text)
    finally:
        stream.close()
        reader.join(timeout=60)
    assert got.decode() == "printed before\n" + text


def test_evaluate_into_head_ends_141_quietly_and_writes_its_whole_table_otherwise(tmp_path: Path) -> None:
    """`wildgan evaluate RUN | head -1` with stdout unbuffered (PYTHONUNBUFFERED): exit 141 without a word once the
    reader has left; read to the end, the whole table and exit 0. (The evaluation itself is replaced by a table
    larger than a pipe holds, so that the reader leaves mid-write.)"""
    code = ("import sys, wildgan.evaluation.run as r; from wildgan.cli import main\n"
            "r.evaluate_run = lambda *a, **k: {}\n"
            "r.format_table = lambda out: '\\n'.join(f'| score{i} | {i} |' for i in range(20_000))\n"
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-c", code, "evaluate", str(tmp_path), "--no-progress"]
    evaluate = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    head = subprocess.run(["head", "-1"], stdin=evaluate.stdout, capture_output=True, timeout=300)
    evaluate.stdout.close()
    err = evaluate.stderr.read().decode()
    assert evaluate.wait(timeout=300) == 141, err
    assert err == "" and head.stdout.decode() == "| score0 | 0 |\n"
    whole = subprocess.run(argv, capture_output=True, env=env, timeout=300)
    assert whole.returncode == 0, whole.stderr.decode()
    assert whole.stdout.decode() == "".join(f"| score{i} | {i} |\n" for i in range(20_000))


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], []])
def test_help_is_written_whole_through_short_writes(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    def help_written(stdout: io.TextIOBase) -> None:
        monkeypatch.setattr(sys, "stdout", stdout)
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        assert code == (0 if argv else 2)       # (a bare `wildgan`: its commands, and a usage error's 2)

    whole = io.StringIO()
    help_written(whole)
    raw = _ShortWrites()
    help_written(io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
    assert whole.getvalue().startswith("usage: wildgan") and raw.got.decode() == whole.getvalue()
