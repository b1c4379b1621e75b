"""What a run records so that two results can be told apart and a run replayed: the things its numbers depend on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from toy_labelled_npz import toy_npz

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.evaluation.report import _networks_text
from wildgan.training.run import train_run


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_count_training_used_is_recorded_when_threads_is_left_unset(tmp_path, threads):
    """CPU weights depend on the intra-op thread count (float summation order): two runs of one command under
    OMP_NUM_THREADS=1 and 2 gave other network-final sha256s, while their config.json (threads: null) and checkpoint
    records were the same. The count training used is now in each checkpoint's JSON."""
    cfg = RunConfig(data=DataConfig(data=str(toy_npz(tmp_path)), normal=("0",), resolution=8,
                                    channels=1),
                    net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.05, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", train_scores=False), preset="tiny")
    assert cfg.train.threads is None
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    finally:
        torch.set_num_threads(before)
    final = json.loads((tmp_path / "run" / "network-final.json").read_text())
    assert final["config"]["train"]["threads"] is None
    assert final["intra_op_threads"] == threads
    for c in (tmp_path / "run" / "checkpoints").glob("*.json"):
        assert json.loads(c.read_text())["intra_op_threads"] == threads
    text = _networks_text({"source": "network-final.json", "kimg": final["kimg"], "versions": final["versions"],
                           "intra_op_threads": final["intra_op_threads"]})
    assert text.endswith(f" on {threads} intra-op thread{'s' if threads > 1 else ''}.")


def test_networks_recorded_without_a_thread_count_say_none():
    text = _networks_text({"source": "network-final.json", "kimg": 1.0, "versions": {"wildgan": "0.1.0",
                                                                                     "torch": "2.13.0"}})
    # the kimg said as every message says it (kimg_to_the_image), not as the JSON holds it (1.0)
    assert text == "Networks: network-final.json (kimg 1), trained by wildgan 0.1.0 with torch 2.13.0."


def test_the_networks_line_shows_the_source_commit_in_12_hex_digits():
    """As a study's tables.md says it (checkpoint.short_commit); the record itself keeps all 40."""
    full = "0123456789abcdef0123456789abcdef01234567"
    versions = {"wildgan": "0.1.0", "wildgan_source": full + "+dirty", "torch": "2.13.0"}
    text = _networks_text({"source": "network-final.json", "kimg": 1.0, "versions": versions})
    assert text == ("Networks: network-final.json (kimg 1), trained by wildgan 0.1.0 (source 0123456789ab+dirty) "
                    "with torch 2.13.0.")
    # a source that is not a 40-digit commit is shown as recorded
    versions["wildgan_source"] = "abc1234"
    assert "(source abc1234)" in _networks_text({"source": "n", "versions": versions})


def _train_cli(npz: Path, out: Path, *extra: str) -> None:
    from wildgan.cli import main

    args = ["train", "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)]
    assert main(args + (list(extra) or ["--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg",
                                        "0.05", "--phase-kimg", "0.02"])) == 0


def _saved_by_a_windows_editor(src: Path, dst: Path) -> Path:
    """`src` saved again as a Windows editor saves UTF-8: a byte-order mark first, CRLF line ends."""
    dst.parent.mkdir()
    dst.write_bytes(b"\xef\xbb\xbf" + src.read_bytes().replace(b"\n", b"\r\n"))
    return dst


def test_a_resume_with_another_threads_setting_says_so_once(tmp_path):
    """--resume --threads 2 of a run trained with --threads 1 said the change twice: the note of other numeric
    settings (threads 1 -> 2) and the warning of another intra-op thread count. The note alone says it now."""
    from dataclasses import replace

    npz = toy_npz(tmp_path)
    run = tmp_path / "run"
    cfg = _tiny_cfg(npz, 0.05)
    _train_on(1, replace(cfg, train=replace(cfg.train, threads=1)), run)
    cfg = _tiny_cfg(npz, 0.08)
    said = _train_on(1, replace(cfg, train=replace(cfg.train, threads=2)), run, resume=True)
    assert [s for s in said if "(threads 1 -> 2)" in s] and not [s for s in said if "intra-op thread" in s], said


def test_a_config_replay_on_changed_data_says_it_is_not_the_run_it_replays(tmp_path, capsys):
    """`train --config RUN/config.yaml` replays RUN exactly, but on data changed since (an image replaced), it trained
    other networks without a word, while evaluate, score and --resume of RUN warn. The replay now says so too, in the
    terminal and in the new run's log.txt; a replay of unchanged data, or one that asks for other data on purpose
    (another --seed), says nothing."""
    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    _train_cli(npz, tmp_path / "same", "--config", str(tmp_path / "run" / "config.yaml"))
    assert "replays the run" not in capsys.readouterr().err
    d = dict(np.load(npz))
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited, the ids unchanged
    np.savez(npz, **d)
    _train_cli(npz, tmp_path / "other", "--config", str(tmp_path / "run" / "config.yaml"))
    err = capsys.readouterr().err
    assert f"{tmp_path / 'run' / 'config.yaml'} replays the run in {tmp_path / 'run'}, but its training images are " \
           f"not the ones that run trained on (the training images' pixels, under the same image ids" in err, err
    assert "this trains another run, not a replay of it" in err and "is not the file the run read" in err
    assert "replays the run" in (tmp_path / "other" / "log.txt").read_text()
    _train_cli(npz, tmp_path / "seed1", "--config", str(tmp_path / "run" / "config.yaml"), "--seed", "1")
    assert "replays the run" not in capsys.readouterr().err


def test_a_config_copied_out_of_its_run_folder_still_tells_a_replay_on_changed_data(tmp_path, capsys):
    """A config.yaml copied out of its run folder has no split.json beside it, so 521675b's check replayed it on
    changed data in silence. The file's comment header now names the run and its training images: the copy warns,
    naming itself, as the run's own file does, and says nothing on the same data. The header is a comment: any YAML
    reader (an older wildgan's) reads the same settings as config.json's."""
    import shutil

    import yaml

    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    text = (tmp_path / "run" / "config.yaml").read_text()
    assert text.startswith("# ") and f'# wildgan-run: "{tmp_path / "run"}"' in text
    assert yaml.safe_load(text) == json.loads((tmp_path / "run" / "config.json").read_text())
    copied = tmp_path / "elsewhere" / "config.yaml"
    copied.parent.mkdir()
    shutil.copy(tmp_path / "run" / "config.yaml", copied)
    # (an older wildgan's file: no header, nothing to compare with, nothing said)
    bare = tmp_path / "bare" / "config.yaml"
    bare.parent.mkdir()
    bare.write_text("".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("#")))
    _train_cli(npz, tmp_path / "same", "--config", str(copied))
    assert "replays the run" not in capsys.readouterr().err
    d = dict(np.load(npz))
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited, the ids unchanged
    np.savez(npz, **d)
    _train_cli(npz, tmp_path / "other", "--config", str(copied))
    err = capsys.readouterr().err
    assert f"{copied} replays the run in {tmp_path / 'run'}, but its training images are not the ones that run " \
           f"trained on (the training images' pixels, under the same image ids" in err, err
    assert f"the comment at the top of {copied} records them): this trains another run, not a replay of it" in err
    assert "is not the file the run read" in err
    assert "replays the run" in (tmp_path / "other" / "log.txt").read_text()
    _train_cli(npz, tmp_path / "old", "--config", str(bare))
    assert "replays the run" not in capsys.readouterr().err
    # saved again by a Windows editor (a byte-order mark, CRLF line ends): the header is still read
    windows = _saved_by_a_windows_editor(copied, tmp_path / "windows" / "config.yaml")
    _train_cli(npz, tmp_path / "win", "--config", str(windows))
    assert f"{windows} replays the run in {tmp_path / 'run'}" in capsys.readouterr().err


def test_a_config_json_copied_out_of_its_run_folder_says_it_cannot_be_checked(tmp_path, capsys):
    """`train --config` takes a run's config.json as it takes config.yaml, but JSON has no comments for the header
    that lets a copy of config.yaml taken out of its run folder tell a replay on changed data (and an entry of its
    own would make older wildgans refuse the run's config.json): such a copy replayed changed data without a word. It
    now says, naming itself, that it is not checked and which file is. The run's own config.json (split.json beside
    it) is checked as config.yaml is; a replay asking for other images (--seed), a file written by hand (no
    format_version) and a flat file say nothing. A copy saved by a Windows editor (a byte-order mark) loads: json
    refused it."""
    import shutil

    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    copied = tmp_path / "elsewhere" / "config.json"
    copied.parent.mkdir()
    shutil.copy(tmp_path / "run" / "config.json", copied)
    capsys.readouterr()
    _train_cli(npz, tmp_path / "replay", "--config", str(copied))
    err = capsys.readouterr().err
    assert f"note: {copied} has no split.json beside it: if it is a run's config.json, whether these are the " \
           f"images its run trained on is not checked" in err, err
    assert "`wildgan train --config` of the run's config.yaml" in err
    assert json.loads((tmp_path / "replay" / "config.json").read_text()) == json.loads(copied.read_text())
    d = dict(np.load(npz))
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited, the ids unchanged
    np.savez(npz, **d)
    # the run's own config.json is checked against the split.json beside it, as config.yaml is
    _train_cli(npz, tmp_path / "own", "--config", str(tmp_path / "run" / "config.json"))
    err = capsys.readouterr().err
    assert f"{tmp_path / 'run' / 'config.json'} replays the run in {tmp_path / 'run'}, but its training images" in err
    assert "no split.json beside it" not in err
    _train_cli(npz, tmp_path / "seed1", "--config", str(copied), "--seed", "1")
    assert "no split.json beside it" not in capsys.readouterr().err
    by_hand = tmp_path / "by_hand.json"
    by_hand.write_text(json.dumps({k: v for k, v in json.loads(copied.read_text()).items() if k != "format_version"}))
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"data": str(npz), "normal": "0", "preset": "tiny", "total_kimg": 0.05,
                                "phase_kimg": 0.02}))
    for name, config in (("hand", by_hand), ("flat", flat)):
        _train_cli(npz, tmp_path / name, "--config", str(config))
        assert "no split.json beside it" not in capsys.readouterr().err
    windows = _saved_by_a_windows_editor(copied, tmp_path / "windows" / "config.json")
    _train_cli(npz, tmp_path / "win", "--config", str(windows))
    assert f"note: {windows} has no split.json beside it" in capsys.readouterr().err


def test_a_config_copied_into_another_run_s_folder_is_checked_against_its_own_header(tmp_path, capsys):
    """A config.yaml copied into ANOTHER run's folder was checked against that folder's split.json and config.json:
    the folder's data settings, not the file's, read as a hand edit of the file, and its replay on changed data passed
    in silence. Its header names its own run, and is now compared instead; the run's own config.yaml still against
    the split.json beside it."""
    import shutil

    npz = toy_npz(tmp_path)
    other = tmp_path / "other.npz"
    d = dict(np.load(npz))
    np.savez(other, x=255 - d["x"], y=d["y"])
    _train_cli(npz, tmp_path / "run")
    _train_cli(other, tmp_path / "b")
    capsys.readouterr()
    copied = tmp_path / "b" / "run-a.yaml"
    shutil.copy(tmp_path / "run" / "config.yaml", copied)
    _train_cli(npz, tmp_path / "same", "--config", str(copied))
    assert "replays the run" not in capsys.readouterr().err
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited: run's images changed
    np.savez(npz, **d)
    _train_cli(npz, tmp_path / "changed", "--config", str(copied))
    err = capsys.readouterr().err
    assert f"{copied} replays the run in {tmp_path / 'run'}, but its training images are not the ones" in err, err
    assert f"the comment at the top of {copied} records them" in err, err


@pytest.mark.parametrize("where", ["copy", "in the run folder"])
def test_a_config_whose_data_section_was_edited_by_hand_asks_for_other_images_and_is_not_warned_of(tmp_path, capsys,
                                                                                                    where):
    """A replay that changes the data settings asks for other images on purpose and is not compared: so --seed on
    the command line, and so the same change made in the file (its data section's seed and contamination edited), in
    a copy (against the data settings its header records) or in the run's own config.yaml (against config.json).
    That said 'its training images are not the ones that run trained on', as if the data had changed under it. The
    data itself changed under an unedited file is still said (the tests above)."""
    import shutil

    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    if where == "copy":
        edited = tmp_path / "elsewhere" / "config.yaml"
        edited.parent.mkdir()
    else:
        shutil.copytree(tmp_path / "run", tmp_path / "run2")
        edited = tmp_path / "run2" / "config.yaml"
    text = (tmp_path / "run" / "config.yaml").read_text()
    assert "\n  seed: 0\n" in text and "\n  contamination: 0.0\n" in text
    edited.write_text(text.replace("\n  seed: 0\n", "\n  seed: 3\n").replace("\n  contamination: 0.0\n",
                                                                             "\n  contamination: 0.1\n"))
    _train_cli(npz, tmp_path / "new", "--config", str(edited))
    err = capsys.readouterr().err
    assert "replays the run" not in err, err
    assert json.loads((tmp_path / "new" / "split.json").read_text())["n_train_anomalous"] > 0     # as edited


def test_a_replay_and_a_resume_keep_the_runs_record_of_where_its_channel_count_came_from(tmp_path):
    """The run took its channel count from the data (split.json: channels_from "data"); its config records the
    count, so a --config replay and a --resume give it explicitly, and their split.json said "chosen", a choice
    nobody made. They keep the run's origin now, on the same images; a --channels given by the user is chosen."""
    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")

    def origin(run: str) -> str:
        return json.loads((tmp_path / run / "split.json").read_text())["conversion"]["channels_from"]

    assert origin("run") == "data"
    _train_cli(npz, tmp_path / "replay", "--config", str(tmp_path / "run" / "config.yaml"))
    assert origin("replay") == "data"
    assert "channels_from" in (tmp_path / "replay" / "config.yaml").read_text().split("\nformat_version")[0]
    _train_cli(npz, tmp_path / "run", "--resume", "--total-kimg", "0.08")
    assert origin("run") == "data"
    _train_cli(npz, tmp_path / "given", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg",
               "0.05", "--phase-kimg", "0.02", "--channels", "1")
    assert origin("given") == "chosen"


def _tiny_cfg(npz: Path, total_kimg: float) -> RunConfig:
    return RunConfig(data=DataConfig(data=str(npz), normal=("0",), resolution=8, channels=1),
                     net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=total_kimg, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"],
                                       device="cpu", train_scores=False), preset="tiny")


def _train_on(threads: int, *args: object, **kw: object) -> list[str]:
    said: list[str] = []
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        train_run(*args, progress=False, log=said.append, **kw)  # type: ignore[arg-type]
    finally:
        torch.set_num_threads(before)
    return said


def test_a_resume_under_another_thread_count_says_its_weights_match_only_up_to_float_rounding(tmp_path):
    """threads: null (no --threads) and OMP_NUM_THREADS changed between the sessions: the resume trained on under
    another intra-op thread count, whose float sums differ, and its log said nothing. It now warns once, naming the
    checkpoint and both counts; the same count says nothing, and neither does a finished run, which trains no more.
    (train_run's caller is told threads=1, the API's word; `wildgan train` is told --threads 1: errors.option_words)"""
    npz = toy_npz(tmp_path)
    run = tmp_path / "run"
    _train_on(1, _tiny_cfg(npz, 0.05), run)
    said = _train_on(2, _tiny_cfg(npz, 0.08), run, resume=True)
    warned = [s for s in said if "intra-op thread" in s]
    assert len(warned) == 1, said
    assert warned[0].startswith(f"warning: {run / 'checkpoints'}") and "was trained on 1 intra-op thread, and " \
        "this process runs 2" in warned[0] and "only up to float rounding" in warned[0] and "threads=1" in warned[0]
    # the record lists both counts, in order (it said 2 alone, though the weights trained under 1 first); the
    # checkpoints carry them to the next session
    final = json.loads((run / "network-final.json").read_text())
    assert final["intra_op_threads"] == [1, 2]
    # (to 0.16 kimg, not 0.3: the session before ended at 0.128, grown; two minibatches on 2 threads are what the
    # record and its silence are of)
    said = _train_on(2, _tiny_cfg(npz, 0.16), run, resume=True)        # trained on 2 since: the same count
    assert not [s for s in said if "intra-op thread" in s] and not [s for s in said if "already finished" in s], said
    assert json.loads((run / "network-final.json").read_text())["intra_op_threads"] == [1, 2]
    said = _train_on(1, _tiny_cfg(npz, 0.16), run, resume=True)        # finished: nothing trained
    assert not [s for s in said if "intra-op thread" in s] and [s for s in said if "already finished" in s], said
    assert json.loads((run / "network-final.json").read_text())["intra_op_threads"] == [1, 2]
    from wildgan.evaluation.report import _networks_text
    assert _networks_text({"source": "n", "intra_op_threads": [1, 2]}) == "Networks: n on 1 then 2 intra-op threads."


def test_a_thread_count_record_reads_as_one_count_a_list_or_none():
    # one count stays a number (older files, and every run trained under one count); a resumed run's list is read
    # in order; absent or damaged says none
    from wildgan.config import thread_counts, threads_record, threads_text
    from wildgan.studies.tables import _made_by_line

    assert threads_record(None, 2) == 2 and threads_record(2, 2) == 2 and threads_record(1, 2) == [1, 2]
    assert threads_record([1, 2], 1) == [1, 2, 1] and threads_record(1, 2, trained=False) == 1
    assert thread_counts(4) == [4] and thread_counts(None) == thread_counts(True) == thread_counts([1, "x"]) == []
    assert threads_text(1) == "1 intra-op thread" and threads_text([1, 2]) == "1 then 2 intra-op threads"
    rows = [{"seed": 0, "intra_op_threads": [1, 2]}, {"seed": 1, "intra_op_threads": 2}]
    assert "on 1 then 2 / 2 intra-op threads (cells differ)" in _made_by_line(rows)


def test_replay_run_trains_what_train_config_trains_with_its_warning(tmp_path, capsys):
    """`wildgan train --config RUN/config.yaml` had no Python counterpart but train_run(run_config_file(...)), which
    skipped its checks: a replay on changed data trained another run without a word. replay_run trains the same
    networks as the command and warns, as it does, where the images are not the run's."""
    from wildgan.errors import WildganWarning
    from wildgan.training.run import replay_run

    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    config = tmp_path / "run" / "config.yaml"
    _train_cli(npz, tmp_path / "cli", "--config", str(config))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)              # (the same images: nothing to say)
        replay_run(config, tmp_path / "py", progress=False, log=lambda m: None, warn_not_grown=False)
    sha = [json.loads((tmp_path / r / "network-final.json").read_text())["sha256"] for r in ("run", "cli", "py")]
    assert sha[0] == sha[1] == sha[2]
    d = dict(np.load(npz))
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited, the ids unchanged
    np.savez(npz, **d)
    with pytest.warns(WildganWarning, match=rf"{config} replays the run in {tmp_path / 'run'}, but its training images "
                                            r"are not the ones that run trained on .*this trains another run"):
        replay_run(config, tmp_path / "other", progress=False, log=lambda m: None, warn_not_grown=False)
    assert (tmp_path / "other" / "network-final.json").is_file()
    capsys.readouterr()


def test_replay_run_writes_the_log_the_command_writes_with_its_warning(tmp_path):
    """replay_run's warning that the images are not the run's reached only its caller: the new run had no log.txt,
    where `wildgan train --config`'s has the warning among its lines. replay_run writes it as the command does: the
    lines said (to the caller's `log` too), the warnings (held until the first line), nothing for a refused start."""
    from wildgan.errors import ConfigError, WildganWarning
    from wildgan.training.run import replay_run

    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    config = tmp_path / "run" / "config.yaml"
    said: list[str] = []
    replay_run(config, tmp_path / "same", progress=False, log=said.append, warn_not_grown=False)
    log = (tmp_path / "same" / "log.txt").read_text().splitlines()
    assert log == said and log[0].startswith("training wildgan (tiny) on 32 images"), log
    d = dict(np.load(npz))
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited, the ids unchanged
    np.savez(npz, **d)
    with pytest.warns(WildganWarning, match="this trains another run") as got:
        replay_run(config, tmp_path / "other", progress=False, log=lambda m: None)
    log = (tmp_path / "other" / "log.txt").read_text().splitlines()
    warned = [str(w.message) for w in got]
    replayed = next(w for w in warned if w.startswith(f"{config} replays the run in {tmp_path / 'run'}, but its"))
    assert log[0] == f"warning: {replayed}", log                    # held until the first line, as the command's
    assert log[1].startswith("training wildgan (tiny) on 32 images"), log
    assert any(line.startswith("warning: training ended at ") for line in log[2:]), log     # (not grown: said after)
    before = (tmp_path / "other" / "log.txt").read_text()
    with pytest.raises(ConfigError, match="overwrite"), pytest.warns(WildganWarning, match="this trains another run"):
        replay_run(config, tmp_path / "other", progress=False, log=lambda m: None)      # a run there already
    assert (tmp_path / "other" / "log.txt").read_text() == before                      # a refusal writes nothing


def test_replay_run_of_a_fit_reads_its_data_as_fit_did_and_asks_for_images_given_in_memory(tmp_path, monkeypatch):
    """The command's replay rules for a Detector.fit's run, in replay_run: one on arrays records no data, and
    train_run of its config trained on $WILDGAN_DATA or the embedded sample in silence (refused, saying to give
    them); one an earlier wildgan recorded with dataset 'auto' is read 'unlabelled', as fit read it (said)."""
    import warnings

    from PIL import Image

    from wildgan.detector import Detector
    from wildgan.errors import ConfigError, WildganWarning
    from wildgan.training.run import replay_run

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    kw = dict(preset="tiny", total_kimg=0.02, phase_kimg=0.1, resolution=16, device="cpu", threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        Detector(run_dir=str(tmp_path / "mem"), **kw).fit(x)
    config = tmp_path / "mem" / "config.json"
    with pytest.raises(ConfigError, match=rf"^{config}: the run was trained by Detector.fit on images given in memory "
                                          rf"\(in-memory ndarray\), which its config cannot name; give them again: "
                                          rf"replay_run\('{config}', RUN_DIR, data=PATH, dataset='unlabelled'\)"):
        replay_run(config, tmp_path / "a", progress=False, log=lambda m: None)
    assert not (tmp_path / "a").exists()
    pile = tmp_path / "pile"
    pile.mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im).save(pile / f"{i}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replay_run(config, tmp_path / "b", data=pile, dataset="unlabelled", progress=False, log=lambda m: None)
        Detector(run_dir=str(tmp_path / "dir"), **kw).fit(pile)
    got = json.loads((tmp_path / "b" / "config.json").read_text())["data"]
    assert got["data"] == str(pile) and got["dataset"] == "unlabelled"
    # a fit on a folder recorded by an earlier wildgan as 'auto' (a folder of one class: one-vs-rest would refuse it)
    config = tmp_path / "dir" / "config.json"
    old = json.loads(config.read_text())
    old["data"]["dataset"] = "auto"
    config.write_text(json.dumps(old))
    with pytest.warns(WildganWarning, match=rf"{config}: dataset 'auto' of a Detector.fit recorded by an earlier "
                                            rf"wildgan is replayed as 'unlabelled': every image of {pile}"):
        replay_run(config, tmp_path / "c", progress=False, log=lambda m: None, warn_not_grown=False)
    assert json.loads((tmp_path / "c" / "config.json").read_text())["data"]["dataset"] == "unlabelled"


# a tiny Detector.fit (ends before full growth, on purpose): seconds, for the tests of fit's records and resumes
TINY_FIT = dict(preset="tiny", total_kimg=0.02, phase_kimg=0.1, resolution=16, device="cpu", threads=1)


def _pile(tmp_path: Path) -> Path:
    """A folder of 40 small random PNGs."""
    from PIL import Image

    pile = tmp_path / "pile"
    pile.mkdir()
    for i, im in enumerate(np.random.default_rng(0).integers(0, 256, (40, 16, 16), dtype=np.uint8)):
        Image.fromarray(im).save(pile / f"{i}.png")
    return pile


def _fit_on_a_folder(tmp_path: Path) -> tuple[Path, Path]:
    """(a folder of 40 small PNGs, the run of a tiny Detector.fit on it)."""
    import warnings

    from wildgan.detector import Detector

    pile = _pile(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        Detector(run_dir=str(tmp_path / "fit"), **TINY_FIT).fit(pile)
    return pile, tmp_path / "fit"


def _fit_stopped_by_sigterm(monkeypatch, pile: Path, run: Path, at_iteration: int, **params) -> None:
    """A Detector.fit on `pile` stopped by a real SIGTERM (as `kill PID` or a scheduler's stop) as its iteration
    `at_iteration` starts: the stopped run a resume continues."""
    import os
    import signal
    import warnings

    import wildgan.training.loop as loop
    from wildgan.detector import Detector
    from wildgan.errors import TrainingInterrupted

    real, calls = loop.StepRunner.iteration, {"n": 0}

    def signalled(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == at_iteration:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, *a, **k)

    with warnings.catch_warnings(), monkeypatch.context() as m:
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        m.setattr(loop.StepRunner, "iteration", signalled)
        with pytest.raises(TrainingInterrupted):
            Detector(run_dir=str(run), **params).fit(pile)


def _sha(run: Path) -> str:
    return json.loads((run / "network-final.json").read_text())["sha256"]


def test_a_replay_of_a_fit_on_a_folder_trains_its_networks_again(tmp_path):
    """Detector.fit trains a folder's images in the order it reads them (sorted by path); a replay of its config read
    the same pile, shuffled it by the seed, as every command-line split is, and trained other networks, with a
    warning that its training images were not the run's. The fit records its order (split.json's train_order), and
    replay_run, a resume of the replay and a copy of the run's config.yaml follow it: the fit's networks again."""
    import shutil
    import warnings

    from wildgan.config import run_config_file
    from wildgan.data import build_split
    from wildgan.errors import WildganWarning
    from wildgan.training.run import replay_run

    _, fit = _fit_on_a_folder(tmp_path)
    copied = tmp_path / "elsewhere" / "config.yaml"
    copied.parent.mkdir()
    shutil.copy(fit / "config.yaml", copied)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)              # (the same images, in the same order)
        replay_run(fit / "config.json", tmp_path / "replay", progress=False, log=lambda m: None,
                   warn_not_grown=False)
        replay_run(copied, tmp_path / "copy", progress=False, log=lambda m: None, warn_not_grown=False)
        # the replay's own run, resumed from the split the command line builds of its pile (shuffled by the seed)
        cfg = run_config_file(tmp_path / "replay" / "config.json")
        train_run(cfg, tmp_path / "replay", split=build_split(cfg.data), resume=True, progress=False,
                  log=lambda m: None, warn_not_grown=False)
    assert _sha(tmp_path / "replay") == _sha(tmp_path / "copy") == _sha(fit)
    for run in (fit, tmp_path / "replay"):
        assert json.loads((run / "split.json").read_text())["train_order"] == "as read"


def test_train_with_the_config_of_a_fit_on_a_folder_trains_in_the_fit_s_order(tmp_path, capsys):
    """`wildgan train --config FITRUN/config.json`: the command line's split of the fit's pile comes shuffled by the
    seed; the command puts it back in the order the fit read and trained it (split.json's train_order), so it trains
    the fit's networks again, without a warning of another order, and records that order."""
    import warnings

    from wildgan.cli import main

    _, fit = _fit_on_a_folder(tmp_path)
    assert json.loads((fit / "split.json").read_text())["train_order"] == "as read"
    out = tmp_path / "replay"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a run ending before full growth, on purpose, as the fit's)
        assert main(["train", "--config", str(fit / "config.json"), "--out", str(out), "--no-progress",
                     "--no-train-scores"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "another order" not in err and "not the ones that run trained on" not in err, err
    assert _sha(out) == _sha(fit)
    assert json.loads((out / "split.json").read_text())["train_order"] == "as read"


def test_a_replay_of_an_older_fit_follows_its_read_order_where_its_pixels_prove_it(tmp_path):
    """A fit's run of an earlier wildgan does not record its order, and its replay kept shuffling the pile by the
    seed: other networks, with a warning that only the order differed, though the pixels in the order read were
    checked to be the run's. fit never shuffles: where they are, the replay follows the read order (the fit's
    networks again, without a warning, and its own record says the order). A pile edited since is not the run's: it
    keeps the shuffle and the warning of other images."""
    import warnings

    from wildgan.config import run_config_file
    from wildgan.data import build_split
    from wildgan.data.replay import warn_if_replay_reads_other_images
    from wildgan.errors import WildganWarning
    from wildgan.training.run import replay_run

    pile, fit = _fit_on_a_folder(tmp_path)
    record = json.loads((fit / "split.json").read_text())
    record.pop("train_order", None)                  # (as an earlier wildgan wrote it)
    (fit / "split.json").write_text(json.dumps(record))
    config = fit / "config.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)              # (the run's images, in its order)
        replay_run(config, tmp_path / "old", progress=False, log=lambda m: None, warn_not_grown=False)
    assert _sha(tmp_path / "old") == _sha(fit)
    assert json.loads((tmp_path / "old" / "split.json").read_text())["train_order"] == "as read"
    # a split given in the seeded shuffle (not put in the run's order): only the order is said to differ
    cfg = run_config_file(config)
    with pytest.warns(WildganWarning) as got:
        warn_if_replay_reads_other_images(config, cfg, build_split(cfg.data))
    said = [str(w.message) for w in got]
    assert said == [f"{config} replays the run in {fit} on the images it trained on, but in another order "
                    f"({fit / 'split.json'} records them): that run, a Detector.fit, trained them in the order it "
                    f"read them (which its record, of an earlier wildgan, does not say), and this replay in the order "
                    f"its seed shuffles them: this trains other networks than that run's"], said
    from PIL import Image

    Image.fromarray(np.zeros((16, 16), np.uint8)).save(pile / "3.png")         # an image edited: other images
    with pytest.warns(WildganWarning) as got:
        replay_run(config, tmp_path / "edited", progress=False, log=lambda m: None, warn_not_grown=False)
    said = [str(w.message) for w in got if str(w.message).startswith(str(config))]
    assert len(said) == 1 and said[0].startswith(
        f"{config} replays the run in {fit}, but its training images are not the ones that run trained on (the "
        f"training images' pixels; decoded by the same image reader"), said
    assert json.loads((tmp_path / "edited" / "split.json").read_text())["train_order"] == "seeded shuffle"


def test_a_stopped_fit_on_a_folder_resumes_from_the_command_line_and_from_python_on_the_same_images(
        tmp_path, monkeypatch, capsys):
    """A Detector.fit on a folder, stopped (SIGTERM), and continued by `wildgan train --out RUN --resume`: refused,
    since fit names its images by the paths it was given and the command line's reader by their place in the
    folder, so the resume took them for other images (and before that, any fit's run was refused outright). Now
    compared by their pixels in fit's order: the resume finishes the fit's networks, as an uninterrupted fit trains
    them. fit(resume=True) continues it too, after the command line's resume or given the folder under another
    spelling; images edited since are still refused."""
    import shutil
    import warnings

    from wildgan.cli import main
    from wildgan.detector import Detector
    from wildgan.errors import ConfigError

    pile = _pile(tmp_path)
    params = dict(preset="tiny", total_kimg=0.2, phase_kimg=0.1, resolution=16, device="cpu", threads=1)
    run = tmp_path / "run"
    _fit_stopped_by_sigterm(monkeypatch, pile, run, 3, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        for copy in ("by-python", "edited", "older"):
            shutil.copytree(run, tmp_path / copy)
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
        Detector(run_dir=str(tmp_path / "whole"), **params).fit(pile)
        assert _sha(run) == _sha(tmp_path / "whole")
        # a fit of an earlier wildgan, which recorded no order: its pixels prove the order read, which is followed
        older = tmp_path / "older"
        record = json.loads((older / "split.json").read_text())
        del record["train_order"]
        (older / "split.json").write_text(json.dumps(record))
        header = (older / "config.yaml").read_text()
        (older / "config.yaml").write_text(header.replace(', "train_order": "as read"', ""))
        assert '"train_order"' not in (older / "config.yaml").read_text()
        assert main(["train", "--out", str(older), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
        assert _sha(older) == _sha(tmp_path / "whole")
        # fit(resume=True) after the command line's resume (whose split.json names the images as its reader does),
        # and of the stopped fit given the folder as a relative path: the same images, the same networks
        monkeypatch.chdir(tmp_path)
        Detector(run_dir=str(run), **params).fit("pile", resume=True)
        Detector(run_dir=str(tmp_path / "by-python"), **params).fit("pile", resume=True)
    assert _sha(run) == _sha(tmp_path / "by-python") == _sha(tmp_path / "whole")
    from PIL import Image

    Image.fromarray(np.zeros((16, 16), np.uint8)).save(pile / "3.png")         # an image edited: other images
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "edited"), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"wildgan: error: {tmp_path / 'edited'}: the training images changed since this run started (the " \
           f"training images' pixels; decoded by the same image reader" in err, err
    assert "This run was trained by Detector.fit, whose reading of" in err, err
    with pytest.raises(ConfigError, match="fit\\(resume=True\\) must be given the same images"):
        Detector(run_dir=str(tmp_path / "edited"), **params).fit(pile, resume=True)


def test_a_fit_s_run_resumed_from_the_command_line_keeps_fit_s_own_record(tmp_path, monkeypatch, capsys):
    """`wildgan train --resume` of a stopped Detector.fit on a folder reads the folder as a pile, and the split.json
    it wrote was the pile's: no detector_input, protocol 'unlabelled', the reader's conversion, no image shape. The
    run then no longer read back as a fit's (Detector.from_run lost the image shape new images are checked by). The
    resume now keeps the fit's own record, in split.json and in config.yaml's record of the training images."""
    import warnings

    from wildgan.cli import main
    from wildgan.data.splits import FIT_RECORD_FIELDS
    from wildgan.detector import Detector

    pile = _pile(tmp_path)
    run = tmp_path / "run"
    _fit_stopped_by_sigterm(monkeypatch, pile, run, 2, **TINY_FIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        fit_record = json.loads((run / "split.json").read_text())
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
        resumed = json.loads((run / "split.json").read_text())
        assert {k: resumed.get(k) for k in FIT_RECORD_FIELDS} == {k: fit_record[k] for k in FIT_RECORD_FIELDS}
        assert resumed["detector_input"] is True and resumed["image_shape"] == [16, 16, 1]
        assert '"detector_input": true' in (run / "config.yaml").read_text()
        assert Detector.from_run(str(run)).image_shape_ == (16, 16, 1)


def test_a_fit_s_run_resumed_keeps_its_trained_on_ids(tmp_path, monkeypatch, capsys):
    """fit records the ids it gave its images (fit_ids.json), which count only while split.json's checksum is of
    them. `wildgan train --resume` of a fit's run reads the folder as a pile, whose ids (the files' places in it) it
    recorded the checksum of: the run's fit_ids.json was then ignored, and a file gone from the folder no longer
    named. The resume keeps fit's checksum where the file holds fit's ids (the images are the same, in the same
    order: checked by their pixels), and fit(resume=True) records its own ids afresh."""
    import warnings

    from wildgan.cli import main
    from wildgan.data.splits import read_fit_ids
    from wildgan.detector import Detector

    pile = _pile(tmp_path)
    run = tmp_path / "run"
    _fit_stopped_by_sigterm(monkeypatch, pile, run, 2, **TINY_FIT)
    fit_ids = [str(pile / f) for f in sorted((p.name for p in pile.iterdir()))]
    assert read_fit_ids(run, json.loads((run / "split.json").read_text())) == (fit_ids, str(Path.cwd()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
        assert (run / "network-final.json").is_file()
        assert read_fit_ids(run, json.loads((run / "split.json").read_text())) == (fit_ids, str(Path.cwd()))
        # a fit given the same folder under another spelling resumes it (compared by pixels): its ids recorded
        monkeypatch.chdir(tmp_path)
        Detector(run_dir=str(run), **TINY_FIT).fit("pile", resume=True)
    assert read_fit_ids(run, json.loads((run / "split.json").read_text())) == \
        ([f"pile/{Path(f).name}" for f in fit_ids], str(tmp_path))


def test_an_older_fit_s_run_resumed_from_the_command_line_keeps_fit_s_ids_from_its_cache(tmp_path, monkeypatch,
                                                                                        capsys):
    """A Detector.fit run of a wildgan before fit_ids.json holds fit's ids only in its training-score cache (split.json
    keeps their checksum). `wildgan train --resume` recorded the pile's ids' checksum in split.json and scored the
    pile into the cache under the pile's ids: fit's ids were gone for good. They are kept in fit_ids.json first, and
    the resume then keeps fit's checksum as for a run that had the file; where the file cannot be written the resume
    is refused, nothing changed."""
    import warnings

    import wildgan.data.splits as splits
    from wildgan.cli import main
    from wildgan.data.splits import read_fit_ids
    from wildgan.scoring.train_scores import cache_paths

    pile, run = _fit_on_a_folder(tmp_path)
    fit_ids = sorted(str(p) for p in pile.iterdir())          # (fit's order: by path)
    (run / "fit_ids.json").unlink()                 # a run of a wildgan before fit_ids.json
    assert cache_paths(run, "mixed")[0].read_text().splitlines()[1].startswith(f"{fit_ids[0]},")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    def unwritable(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr(splits, "write_fit_ids", unwritable)
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"wildgan: error: could not write {run / 'fit_ids.json'} ([Errno 30] Read-only file system): " in err, err
    # (the resume is kept by train_run, whose stop the command records in log.txt: the one file the error names as
    # changed)
    assert "the run was not resumed: none of its files was changed, but for this stop's line in its log.txt" in err
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    log = after.pop("log.txt").decode()
    assert after == {k: v for k, v in before.items() if k != "log.txt"}
    assert log.startswith(before["log.txt"].decode()) and "stopped: " in log[len(before["log.txt"]):], log
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
    info = json.loads((run / "split.json").read_text())
    assert info["detector_input"] is True
    assert read_fit_ids(run, info) == (fit_ids, None)


def test_an_older_fit_s_run_in_a_read_only_folder_is_refused_a_resume_before_its_data_is_decoded(
        tmp_path, monkeypatch, capsys) -> None:
    """fit_ids.json is written by train_run, after the command line's data is decoded (minutes for a large folder):
    where it cannot be written because the run folder cannot be written at all (a read-only file system, no
    permission), `wildgan train --resume` says so before it reads the data, in terms of --out (_check_train_out's probe
    of the folder), and changes nothing. We test as root too: writes under the run folder are made to fail."""
    import errno
    import os

    import wildgan.cli.train as cli_train
    from wildgan.cli import main

    pile, run = _fit_on_a_folder(tmp_path)
    (run / "fit_ids.json").unlink()                 # a run of a wildgan before fit_ids.json
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    mkdir, os_open = os.mkdir, os.open

    def under(p) -> bool:
        return os.path.abspath(os.fsdecode(p)).startswith(f"{run}{os.sep}")

    def read_only(p, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(p))

    def decoded(*a, **k):
        raise AssertionError("the data was decoded before the unwritable run folder was refused")

    monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: read_only(p) if under(p) else mkdir(p, *a, **k))
    monkeypatch.setattr(os, "open", lambda p, flags, *a, **k: read_only(p) if under(p) and flags & (
        os.O_WRONLY | os.O_RDWR | os.O_CREAT) else os_open(p, flags, *a, **k))
    monkeypatch.setattr(cli_train, "_train_setup", decoded)
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"wildgan: error: cannot write --out {run}: read-only file system" in err, err
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_an_older_fit_s_run_resumed_by_train_run_keeps_fit_s_ids_from_its_cache(tmp_path, monkeypatch) -> None:
    """The Python API's resume of a Detector.fit run of a wildgan before fit_ids.json (train_run(cfg, RUN,
    resume=True) on the run's own config, as replay_run gives it) did not keep fit's ids, which only its
    training-score cache holds: `wildgan train --resume` kept them (in fit_ids.json, first), train_run did not, and
    split.json then recorded the pile's ids' checksum, which fit's cached ids no longer match. train_run keeps them
    itself now, for every caller; where fit_ids.json cannot be written it stops before it changed the run, as the
    command does, but for its `stopped:` line in log.txt, which the error says."""
    import warnings

    import wildgan.data.splits as splits
    from wildgan.config import run_config_file
    from wildgan.data.splits import read_fit_ids
    from wildgan.training.run import train_run

    pile, run = _fit_on_a_folder(tmp_path)
    fit_ids = sorted(str(p) for p in pile.iterdir())          # (fit's order: by path)
    (run / "fit_ids.json").unlink()                 # a run of a wildgan before fit_ids.json
    cfg = run_config_file(run / "config.json")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    def unwritable(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr(splits, "write_fit_ids", unwritable)
        with pytest.raises(OSError, match=r"could not write .*fit_ids\.json \(\[Errno 30\] Read-only file system\)") \
                as e:
            train_run(cfg, run, resume=True, progress=False, log=lambda m: None)
    assert "none of its files was changed, but for this stop's line in its log.txt" in str(e.value), e.value
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    log = after.pop("log.txt").decode()
    assert after == {k: v for k, v in before.items() if k != "log.txt"}
    assert log[len(before["log.txt"]):].startswith("stopped: ") and "could not write" in log, log
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        train_run(cfg, run, resume=True, progress=False, log=lambda m: None)
    info = json.loads((run / "split.json").read_text())
    assert info["detector_input"] is True
    assert read_fit_ids(run, info) == (fit_ids, None)


def test_the_data_layer_names_the_training_score_caches_as_scoring_writes_them(tmp_path) -> None:
    # data.splits.cached_fit_ids reads fit's ids from the caches by name, below the scoring layer that names them
    from wildgan.data.splits import TRAIN_SCORE_CSVS
    from wildgan.scoring.train_scores import cache_paths

    assert TRAIN_SCORE_CSVS == tuple(cache_paths(tmp_path, m)[0].name for m in ("mixed", "isolated"))


@pytest.mark.parametrize("batch_mode", ["mixed", "isolated"])
def test_a_training_score_cache_written_by_scoring_gives_cached_fit_ids_fit_s_ids(tmp_path, batch_mode) -> None:
    # the round trip of the format data.train_score_files holds for both layers: what scoring's writer writes, the
    # data layer's reader of the ids reads back whole, ids the CSV must quote included (a comma, a quote, a line break,
    # a carriage return, which a read with universal newlines turned into a line break, a name that is not valid
    # UTF-8); a cache of other ids, or cut short, is not taken for fit's
    from types import SimpleNamespace

    from wildgan.data.splits import cached_fit_ids, ids_sha256
    from wildgan.scoring.train_scores import cache_paths, read_train_scores, write_train_scores

    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    model = SimpleNamespace(cfg=cfg, meta={"sha256": "0" * 64}, source=str(tmp_path / "network-final.json"), lod=0)
    ids = [str(tmp_path / "pile" / n) for n in ("a.png", "b,c.png", 'say "d".png', "e\nf.png", "h\ri.png",
                                                "g\udcff.png")]
    scores = {"a": np.arange(len(ids), dtype=np.float64) / 3, "L_n": np.ones(len(ids))}
    write_train_scores(tmp_path, model, ids, scores, batch_mode)
    info = {"n_train": len(ids), "train_ids_sha256": ids_sha256(ids)}
    csv_path = cache_paths(tmp_path, batch_mode)[0]
    assert cached_fit_ids(tmp_path, info) == (ids, csv_path)
    back = read_train_scores(tmp_path, model, batch_mode, ids=ids)         # (and scoring reads it back as it wrote it)
    assert back is not None and np.array_equal(back["a"], scores["a"])
    assert cached_fit_ids(tmp_path, {**info, "train_ids_sha256": ids_sha256(ids[::-1])}) is None
    assert cached_fit_ids(tmp_path, {**info, "n_train": len(ids) + 1}) is None
    csv_path.write_bytes(csv_path.read_bytes()[:-3])                        # (cut short, in the last number)
    assert cached_fit_ids(tmp_path, info) is None


def test_an_older_fit_s_run_recorded_auto_resumes_from_the_command_line(tmp_path, monkeypatch, capsys):
    """A Detector.fit of an earlier wildgan on a folder recorded dataset 'auto' (and no train_order). `wildgan train
    --resume` reads the run's config as that fit read its data ('unlabelled', with a note), and then refused its own
    reading: 'data.dataset: 'auto' -> 'unlabelled'' (and so did fit(resume=True) on that folder). Both resume,
    compared with the run as it was trained, to the same networks; a setting that does differ is still refused."""
    import shutil
    import warnings

    from wildgan.cli import main
    from wildgan.detector import Detector

    pile = _pile(tmp_path)
    run = tmp_path / "run"
    _fit_stopped_by_sigterm(monkeypatch, pile, run, 2, **TINY_FIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (a fit ending before full growth, on purpose)
        # as an earlier wildgan wrote the run: dataset 'auto' in its config, no train_order in its records
        config = json.loads((run / "config.json").read_text())
        config["data"]["dataset"] = "auto"
        (run / "config.json").write_text(json.dumps(config))
        yaml = (run / "config.yaml").read_text()
        assert "  dataset: unlabelled\n" in yaml
        (run / "config.yaml").write_text(yaml.replace("  dataset: unlabelled\n", "  dataset: auto\n")
                                         .replace('"dataset": "unlabelled"', '"dataset": "auto"')
                                         .replace(', "train_order": "as read"', ""))
        record = json.loads((run / "split.json").read_text())
        del record["train_order"]
        (run / "split.json").write_text(json.dumps(record))
        # fit(resume=True) on the folder (which the run's record reads as 'unlabelled' too) continues it as well
        shutil.copytree(run, tmp_path / "by-python")
        Detector(run_dir=str(tmp_path / "by-python"), **TINY_FIT).fit(pile, resume=True)
        capsys.readouterr()
        assert main(["train", "--out", str(run), "--resume", "--no-progress", "--seed", "1"]) == 2
        assert "data.seed: 0 -> 1" in capsys.readouterr().err
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
    assert "dataset 'auto' of a Detector.fit recorded by an earlier wildgan is replayed as 'unlabelled'" in \
        capsys.readouterr().err
    assert (run / "network-final.json").is_file()
    assert json.loads((run / "config.json").read_text())["data"]["dataset"] == "unlabelled"
    resumed = json.loads((run / "split.json").read_text())
    assert resumed["detector_input"] is True and resumed["train_order"] == "as read"
    assert _sha(run) == _sha(tmp_path / "by-python")


@pytest.mark.parametrize("name", ["config.yaml", "config.json", "a copy of config.yaml"])
def test_replay_run_reads_the_run_s_config_file_once(tmp_path, monkeypatch, name):
    """replay_run read the config file it replays for the config, then again for each of its checks (the order the
    run trained in, the warning that the images are not the run's, and the run's config.json beside it, which for a
    config.json is the same file): four reads of a config.yaml, six of a config.json, and a file saved meanwhile
    gave the replay one version's settings and its checks another's. Read once, as `wildgan train --config` reads
    it. So are its comment header (read from the text the settings were, not read again by each check: a copy of
    config.yaml is checked by it), split.json (read for the fit's record, the order and the warning) and the run's
    config.json beside it (for the order and the warning). Counted by the reads of the files' text."""
    import shutil
    import warnings

    from wildgan.errors import WildganWarning
    from wildgan.training.run import replay_run

    npz = toy_npz(tmp_path)
    _train_cli(npz, tmp_path / "run")
    config = tmp_path / "run" / name
    if name.startswith("a copy"):
        config = tmp_path / "elsewhere" / "config.yaml"
        config.parent.mkdir()
        shutil.copy(tmp_path / "run" / "config.yaml", config)
    reads: list[str] = []
    real = Path.read_text

    def counted(self, *args, **kw):
        reads.append(str(self))
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "read_text", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)              # (the same images: the checks found the run's)
        replay_run(config, tmp_path / "again", progress=False, log=lambda m: None, warn_not_grown=False)
    assert _sha(tmp_path / "again") == _sha(tmp_path / "run")
    assert reads.count(str(config)) == 1, reads
    for beside in ("split.json", "config.json"):
        assert reads.count(str(config.parent / beside)) <= 1, reads


@pytest.mark.parametrize("replayer", ["replay_run", "wildgan train --config"])
def test_a_replay_of_an_older_fit_recorded_auto_on_changed_images_says_so(tmp_path, capsys, replayer):
    """A Detector.fit of an earlier wildgan on a folder recorded dataset 'auto'; its replay reads that folder as the
    fit read it ('unlabelled': data.replay.as_fit_read), and the check that the images are still the run's compared
    the file's own 'auto' with that 'unlabelled', took the difference for other data settings asked for on purpose,
    and said nothing when the folder had changed since. Compared as read, the edited image is said."""
    import warnings

    from PIL import Image

    from wildgan.cli import main
    from wildgan.errors import WildganWarning
    from wildgan.training.run import replay_run

    pile, fit = _fit_on_a_folder(tmp_path)
    config = fit / "config.json"
    old = json.loads(config.read_text())
    old["data"]["dataset"] = "auto"                  # (as an earlier wildgan wrote it)
    config.write_text(json.dumps(old))
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(pile / "3.png")         # an image edited since the run
    other = f"{config} replays the run in {fit}, but its training images are not the ones that run trained on"
    if replayer == "replay_run":
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            replay_run(config, tmp_path / "again", progress=False, log=lambda m: None, warn_not_grown=False)
        said = [str(w.message) for w in got if issubclass(w.category, WildganWarning)]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # (a run ending before full growth, on purpose, as the fit's)
            assert main(["train", "--config", str(config), "--out", str(tmp_path / "again"), "--no-progress",
                         "--no-train-scores"]) == 0, capsys.readouterr().err
        said = capsys.readouterr().err.splitlines()
    assert any("dataset 'auto' of a Detector.fit recorded by an earlier wildgan is replayed as 'unlabelled'" in m
               for m in said), said
    assert sum(other in m for m in said) == 1, said


# ------------------------------------------------------------------------------------------------------------------
# The processes that trained: a torchrun run's img_per_s counts every rank's images, and its weights are not a
# one-process run's bit for bit, so its stats rows and log.txt say how many processes trained (processes_record).

def _stats_worlds(run: Path) -> list[tuple[float, int, str | None]]:
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    return [(r["kimg"], r["world_size"], r["dist_backend"]) for r in rows]


# 40 iterations of 16 images: a stats row every 20 (log_every), a checkpoint at each of them
_RUN = ["--normal", "0", "--preset", "tiny", "--total-kimg", "0.64", "--phase-kimg", "0.16", "--checkpoint-kimg",
        "0.32", "--threads", "1", "--device", "cpu", "--no-progress", "--no-train-scores"]


def _toy_96(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x=(rng.random((96, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    return path


def test_a_two_process_run_records_its_world_in_every_stats_row_and_a_resume_in_one_records_its_own(
        tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from wildgan.cli import main

    npz, run = _toy_96(tmp_path / "toy.npz"), tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # (as tests/integration/test_ddp.py runs torchrun: CPU ranks on gloo, a free port each)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan", "train", "--distributed",
           "--data", str(npz), *_RUN, "--out", str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _stats_worlds(run) == [(0.32, 2, "gloo"), (0.64, 2, "gloo")]
    first = (run / "log.txt").read_text().splitlines()[0]
    assert first.endswith(f", seed 0, in 2 processes (torchrun, gloo) -> {run}"), first

    # killed before its last checkpoint, then resumed in one process (the resume's policy: it goes on, the global
    # minibatch unchanged): the rows it trains again say 1, the 2-process session's row before it stays as it was
    for f in ("network-final.json", "network-final.safetensors", "checkpoints/ckpt-000000000640.json",
              "checkpoints/ckpt-000000000640.safetensors"):
        (run / f).unlink()
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress", "--no-train-scores"]) == 0
    assert _stats_worlds(run) == [(0.32, 2, "gloo"), (0.64, 1, None)]
    log = (run / "log.txt").read_text()
    assert ("note: trained in 2 processes up to this checkpoint, in 1 process from here on (each stats.jsonl row "
            "and checkpoint records its session's world_size)") in log, log
    resumed = [line for line in log.splitlines() if line.startswith("resuming wildgan")]
    assert resumed and "processes" not in resumed[0], resumed
    assert json.loads((run / "network-final.json").read_text())["world_size"] == 1
    # config.json stays the run's settings alone: how it was launched is no setting a replay takes from it
    assert "world_size" not in (run / "config.json").read_text()


def test_a_one_process_run_records_a_world_of_one_in_its_stats_rows(tmp_path: Path) -> None:
    from wildgan.cli import main

    npz, run = _toy_96(tmp_path / "toy.npz"), tmp_path / "run"
    assert main(["train", "--data", str(npz), *_RUN, "--out", str(run)]) == 0
    assert _stats_worlds(run) == [(0.32, 1, None), (0.64, 1, None)]
    assert "processes" not in (run / "log.txt").read_text().splitlines()[0]
