"""How `wildgan` reads a command line before it runs anything: a word such as -1, -0.5 or -inf is a value, as
argparse reads it (parser._NEGATIVE_NUMBER), so the hints for a misplaced word (a run folder taken by --data, a file
given without --data, a path split by the shell at its spaces) are said for it too; reading the command line never
imports torch (seconds, and a Ctrl-C then lands inside torch's import); a --config file is read once per command;
and `wildgan train --help` shows the README's first command, its comment that promises a few minutes on a CPU heading
only commands of the tiny preset (the defaults take hours there). A user who mistypes a command is told what to type,
at once; a newcomer who copies the first example does not start an hours-long training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from repo_root import REPO

from wildgan.cli import main
from wildgan.cli.parser import make_option_parser, sub_parser


@pytest.mark.parametrize("word", ["-1.png", "-0.5", "-inf"])
def test_a_run_folder_taken_by_a_list_option_after_a_negative_number_word_is_said_so(word, capsys) -> None:
    # argparse gives --data the word (a value, as every wildgan parser reads a negative number) and the run folder
    # after it: the hint that --data took the run folder is said, the word read as the value it is, not an option
    with pytest.raises(SystemExit) as e:
        main(["score", "--data", word, "runs/x", "--out", "s.csv"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "(--data takes every word after it up to the next option" in err, err


@pytest.mark.parametrize("word", ["-1.png", "-2"])
def test_a_negative_number_word_left_over_is_sent_to_data(word, capsys) -> None:
    # `wildgan score RUN -1.png` (a file to score without --data): argparse leaves the word over as a value, not an
    # option, so the hint for an unknown option (the closest option's name) has nothing to say: it is sent to --data
    with pytest.raises(SystemExit) as e:
        main(["score", "runs/x", word, "--out", "s.csv"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"{word}: image files, folders and data sets go after --data" in err, err


def test_a_path_with_spaces_and_a_negative_number_word_is_said_to_need_quotes(tmp_path: Path, monkeypatch,
                                                                              capsys) -> None:
    # `wildgan score runs/scan -1 deg ...` unquoted: the search back through the path's words goes past a negative
    # number word (the -1 of the folder's name), so the user is told to quote the whole path, not to put `deg` after
    # --data
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "scan -1 deg").mkdir(parents=True)
    with pytest.raises(SystemExit) as e:
        main(["score", "runs/scan", "-1", "deg", "--out", "s.csv"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "'runs/scan -1 deg' is one path with spaces in it, split by the shell into words: " \
                                 "put it in quotes ('runs/scan -1 deg')" in err, err
    assert "go after --data" not in err, err


def test_a_command_line_with_dist_timeout_is_read_without_importing_torch() -> None:
    # --dist-timeout's check (_dist_minutes) and --device's (whose default, 'auto', every parse converts) must not
    # import wildgan.training.distributed, and so torch (seconds), while the command line is read: otherwise
    # `wildgan train --dist-timeout 5 --help` pays for it, and a Ctrl-C then is a KeyboardInterrupt inside torch's
    # import (as test_cli.py's test_the_cli_starts_without_importing_torch checks for a plain start)
    import subprocess
    import sys

    code = ("import sys, wildgan.cli\n"
            "p = wildgan.cli.make_parser()\n"
            "p.parse_args(['train', '--out', 'r', '--dist-timeout', '5'])\n"
            "p.parse_args(['score', 'r', '--out', 's.csv', '--dist-timeout=0.5'])\n"
            "try:\n    p.parse_args(['score', 'r', '--out', 's.csv', '--dist-timeout', '-1'])\n"
            "except SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "False", got
    # (the refusal of -1 is still said, in the check's own words)
    assert "argument --dist-timeout: must be a number of minutes above 0, got -1" in got.stderr, got.stderr


def test_resume_with_a_config_file_reads_that_file_once(tmp_path: Path, monkeypatch) -> None:
    # `train --out RUN --resume --config FILE`: resume_config reads FILE through the command's reader, and its check
    # of a Detector.fit's record (a fit's 'auto' config) reuses that read rather than reading FILE (and split.json
    # beside it) again: two reads could pair one version's header with another's settings, were FILE saved between
    import os

    import wildgan.cli.config_args as config_args
    import wildgan.data.replay as replay
    from wildgan.config import (DataConfig, RunConfig, TrainConfig, config_yaml_header, net_config_for_preset,
                                run_config_to_dict)

    pile = tmp_path / "pile"
    pile.mkdir()
    run, elsewhere = tmp_path / "run", tmp_path / "copy"
    run.mkdir()
    elsewhere.mkdir()
    cfg = RunConfig(data=DataConfig(data=str(pile), dataset="auto"), net=net_config_for_preset("tiny", 16, 3),
                    train=TrainConfig(total_kimg=1), preset="tiny")
    # (an earlier wildgan's Detector.fit run: dataset 'auto', its record in split.json and in config.yaml's header)
    text = config_yaml_header(run, {"detector_input": True, "n_train": 5, "source": str(pile)}) + \
        yaml.safe_dump(run_config_to_dict(cfg))
    (run / "config.yaml").write_text(text)
    (run / "config.json").write_text(json.dumps(run_config_to_dict(cfg)))
    (run / "split.json").write_text(json.dumps({"detector_input": True, "n_train": 5, "source": str(pile)}))
    given = elsewhere / "config.yaml"
    given.write_text(text)

    reads: list[str] = []
    real = config_args.read_config_file

    def counted(path: Path):        # noqa: ANN202 (a spy of read_config_file)
        reads.append(os.path.realpath(path))
        return real(path)

    monkeypatch.setattr(config_args, "read_config_file", counted)
    monkeypatch.setattr(replay, "read_config_file", counted)
    read = config_args.config_reader()
    argv = ["--out", str(run), "--resume", "--config", str(given)]
    assert config_args.resume_config(argv, read=read) == argv
    config_args.set_from_config(sub_parser(make_option_parser(), "train"), argv, read=read)
    assert reads.count(os.path.realpath(given)) == 1, reads
    assert reads.count(os.path.realpath(run / "config.yaml")) == 1, reads


@pytest.mark.usefixtures("one_thread")
def test_train_help_shows_training_on_a_folder_pile(capsys: pytest.CaptureFixture) -> None:
    """The README's quick tour starts with `wildgan train --data my_images/ --out runs/mine`; --help shows that same
    command, so a newcomer who asks the command itself gets the tour's first step."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "wildgan train --data my_images/ --out runs/mine\n" in out, out
    readme = REPO / "README.md"
    assert "wildgan train --data my_images/ --out runs/mine\n" in readme.read_text(encoding="utf-8")


def test_train_help_says_a_few_minutes_only_of_the_tiny_try() -> None:
    # cli/parser.py:EXAMPLES_TRAIN: every command under a comment that says 'a few minutes' uses --preset tiny; a
    # command with the defaults (e.g. `wildgan train --data my_images/ --out runs/mine`) must not stand under it
    from wildgan.cli.parser import EXAMPLES_TRAIN

    blocks: list[tuple[str, list[str]]] = []
    for line in EXAMPLES_TRAIN.splitlines()[1:]:
        text = line.strip()
        if text.startswith("#"):
            if blocks and not blocks[-1][1]:
                blocks[-1] = (blocks[-1][0] + " " + text.lstrip("# "), [])   # (a comment over two lines)
            else:
                blocks.append((text.lstrip("# "), []))
        elif text.startswith("wildgan ") and blocks:
            blocks[-1][1].append(text)
    minutes = [(comment, commands) for comment, commands in blocks if "a few minutes" in comment]
    assert minutes, blocks
    for comment, commands in minutes:
        slow = [c for c in commands if "--preset tiny" not in c]
        assert not slow, f"{comment!r} heads {slow}, the defaults: hours on a CPU (README, Quick tour)"


@pytest.mark.parametrize("cmd", [["train", "--out", "r"], ["evaluate", "r"], ["study", "--out", "s"]])
def test_several_paths_after_a_one_path_data_are_said_to_be_one_too_many(cmd, tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    # `wildgan train --data imgs/*.png ...`: the shell gave --data every file and --data (train's, evaluate's,
    # study's) takes one path; the hint said "image files, folders and data sets go after --data", where they were
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    files = [f"imgs/{i}.png" for i in range(3)]
    for f in files:
        (tmp_path / f).write_bytes(b"")
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--data", *files])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"usage: wildgan {cmd[0]}" in err, err
    assert "go after --data" not in err, err
    assert ("imgs/1.png: --data takes one path (a folder of images, an archive or a data-set file), and it was given "
            "3 (a shell pattern such as --data imgs/*.png gives it every file): give the folder, --data imgs/"
            ) in err, err


@pytest.mark.parametrize("cmd, stray", [(["evaluate", "r", "--data", "d", "--normal", "cat", "dog"], "dog"),
                                        (["train", "--out", "r", "--data", "d", "--seed", "1", "2"], "2")])
def test_a_stray_word_after_another_option_is_not_said_to_be_a_second_data_path(cmd, stray, tmp_path: Path,
                                                                                 monkeypatch, capsys) -> None:
    # the one-path --data hint is for words right after --data's path (a shell pattern's files): `--normal cat dog`
    # was told "--data takes one path ... and it was given 2", naming --data where --normal took one word of two
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    with pytest.raises(SystemExit) as e:
        main(cmd)
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"unrecognized arguments: {stray}" in err, err
    assert "--data takes one path" not in err, err
