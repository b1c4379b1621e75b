"""`wildgan train --config FILE`: a run's own config replays exactly; explicit flags override only what they control.

All checks use --dry-run (resolve and print the config, no training) on a tiny synthetic .npz: about a second each.
"""

from __future__ import annotations

import csv
import errno
import io
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from loose_image_piles import tiny_run_on_a_noise_pile
from other_decoders import decode_a_level_up
from pipe_reading import blocked_in_a_pipe_write, buffered_env, full_pipe_program, read_until

from wildgan.cli import main
from wildgan.errors import ConfigError, WildganWarning, stop_words
from wildgan.config import (
    DataConfig,
    RunConfig,
    ScoreConfig,
    TrainConfig,
    net_config_for_preset,
    overlay_changes,
    run_config_from_dict,
    run_config_to_dict,
    write_run_config,
)


def dry_run(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["train", "--out", "unused-run-dir", "--dry-run", *argv]) == 0, capsys.readouterr().err
    # the config alone on stdout; the notes and warnings (a run's config.json in a folder without split.json, as most
    # configs here are written, is replayed with a note that its images are not checked) stay on stderr
    return json.loads(capsys.readouterr().out)


def diff(a: dict, b: dict) -> list[str]:
    """section.field paths where two run_config_to_dict layouts differ (readable assertion messages)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict) and k != "minibatch":
            out += [f"{k}.{p}" for p in diff(a[k], b[k])]
        elif a.get(k) != b.get(k):
            out.append(f"{k}: {a.get(k)!r} != {b.get(k)!r}")
    return out


@pytest.fixture()
def custom_run(tiny_npz: Path, tmp_path: Path, capsys) -> tuple[Path, dict]:
    """A run dir whose config has non-default values in fields that no CLI option sets."""
    d = dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "100",
                "--phase-kimg", "3", "--seed", "2")
    assert d["train"]["checkpoint_kimg"] == 5                     # derived: max(1, ceil(100 / 20))
    d["train"].update(gp_precision="amp", gp_target=750.0, gp_lambda=5.0, minibatch={"4": 32, "8": 24},
                      latent_scale=1.0, minibatch_repeats=2, ema_beta=0.99, log_every=7, keep_checkpoints=5,
                      sample_kimg=1.5)
    d["net"].update(latent_size=24, mbstd_group=2, fmap_decay=0.5)
    d["score"].update(lam=0.3, kappa=0.5, generator="G", batch_size=16, shuffle_seed=7)
    d["search"].update(steps=7, lr=0.5, feature_weight=0.2)
    d["fanogan"].update(seed=9, epochs=3.0, n_critic=2, bn_warmup=False)
    d["data"].update(test_fraction=0.3)
    cfg = run_config_from_dict(d)
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    return run, run_config_to_dict(cfg)


def test_overlay_changes_keeps_base_where_unchanged():
    net = net_config_for_preset("tiny", 8, 1)
    ref = RunConfig(data=DataConfig(), net=net, train=TrainConfig(total_kimg=100.0))
    base = RunConfig(data=DataConfig(seed=3), net=net, train=TrainConfig(total_kimg=100.0, gp_target=750.0,
                                                                        minibatch={4: 1}), score=ScoreConfig(lam=0.3))
    changed = RunConfig(data=DataConfig(), net=net, train=TrainConfig(total_kimg=10.0), preset="tiny")
    out = overlay_changes(base, ref, changed)
    assert out.train.total_kimg == 10.0 and out.preset == "tiny"                     # changed -> changed's value
    assert out.train.gp_target == 750.0 and out.train.minibatch == {4: 1}            # unchanged -> base's
    assert out.score.lam == 0.3 and out.data.seed == 3
    assert overlay_changes(base, ref, ref) == base


def test_a_config_file_that_is_not_text_is_refused_naming_it(tmp_path, capsys):
    # an image given as --config by mistake ended in a UnicodeDecodeError traceback and exit code 1
    png = tmp_path / "some.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert main(["train", "--config", str(png), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{png}: not a text file" in err and "--config takes a YAML, TOML or JSON file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["config.yaml", "config.json"])
def test_run_config_replays_exactly(custom_run, capsys, name):
    run, want = custom_run
    got = dry_run(capsys, "--config", str(run / name))
    assert not diff(got, want), diff(got, want)


def test_explicit_flag_overrides_only_its_fields(custom_run, capsys):
    run, want = custom_run
    got = dry_run(capsys, "--config", str(run / "config.yaml"), "--total-kimg", "300")
    # total_kimg and the checkpoint interval derived from it (the run's 5 was the derived max(1, ceil(100/20)))
    assert got["train"]["total_kimg"] == 300 and got["train"]["checkpoint_kimg"] == 15
    assert diff(got, want) == ["train.checkpoint_kimg: 15.0 != 5.0", "train.total_kimg: 300.0 != 100.0"]

    got = dry_run(capsys, "--config", str(run / "config.yaml"), "--total-kimg", "300", "--checkpoint-kimg", "4")
    assert got["train"]["checkpoint_kimg"] == 4

    got = dry_run(capsys, "--config", str(run / "config.yaml"), "--seed", "5")
    assert sorted(diff(got, want)) == ["data.seed: 5 != 2", "fanogan.seed: 5 != 9", "train.seed: 5 != 2"]

    # a new preset sets the widths and the minibatch table it controls; nothing else moves. The run's latent size
    # (24, not the tiny preset's 16) is what --latent-size 24 would have set: it stays
    got = dry_run(capsys, "--config", str(run / "config.yaml"), "--preset", "fast")
    assert got["net"]["fmap_max"] == 64 and got["net"]["latent_size"] == 24
    assert got["train"]["minibatch"]["4"] == 128 and got["preset"] == "fast"
    assert got["net"]["mbstd_group"] == 2 and got["train"]["gp_target"] == 750.0 and got["score"]["lam"] == 0.3
    # ... and a run with the preset's own latent size follows the new preset's
    got = dry_run(capsys, "--config", str(run / "config.yaml"), "--latent-size", "16")
    assert got["net"]["latent_size"] == 16 and diff(got, want) == ["net.latent_size: 16 != 24"]
    plain = run.parent / "plain"
    plain.mkdir()
    write_run_config(run_config_from_dict(got), plain)
    assert dry_run(capsys, "--config", str(plain / "config.yaml"), "--preset", "fast")["net"]["latent_size"] == 64


def test_latent_size_option(tiny_npz, capsys):
    got = dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--preset", "fast", "--latent-size", "512")
    assert got["net"]["latent_size"] == 512 and got["net"]["fmap_max"] == 64
    assert dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--preset", "fast")["net"]["latent_size"] == 64


def test_explicit_values_in_the_run_stay_explicit(tiny_npz, tmp_path, capsys):
    """A value the run set explicitly (not the derived one) is kept when a flag changes its inputs."""
    d = dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "100",
                "--checkpoint-kimg", "7")
    write_run_config(run_config_from_dict(d), tmp_path)
    got = dry_run(capsys, "--config", str(tmp_path / "config.json"), "--total-kimg", "300")
    assert got["train"]["total_kimg"] == 300 and got["train"]["checkpoint_kimg"] == 7


def test_derived_total_follows_the_phase_length(tiny_npz, tmp_path, capsys):
    """No --total-kimg in the run: its length was the paper schedule, so a new --phase-kimg re-derives it."""
    d = dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--phase-kimg", "3")
    assert d["train"]["total_kimg"] == pytest.approx(8.0)        # 8x8: one phase + fade (3 + 3), then 2/3 * 3
    write_run_config(run_config_from_dict(d), tmp_path)
    assert dry_run(capsys, "--config", str(tmp_path / "config.yaml")) == d
    got = dry_run(capsys, "--config", str(tmp_path / "config.yaml"), "--phase-kimg", "6")
    assert got["train"]["total_kimg"] == pytest.approx(2 * d["train"]["total_kimg"])
    assert got["train"]["phase_kimg"] == 6 and diff(got, d) == ["train.phase_kimg: 6.0 != 3.0",
                                                                "train.total_kimg: 16.0 != 8.0"]


def test_custom_network_replays_and_an_explicit_preset_still_wins(tiny_npz, tmp_path, capsys):
    """preset 'custom' (no option expresses its widths): kept on replay, replaced by an explicit --preset or --width,
    even --preset fast, the value the options resolve to when no preset is given."""
    d = dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "100")
    d["preset"] = "custom"
    d["net"].update(fmap_base=128, fmap_max=8, latent_size=8)
    d["train"]["minibatch"] = {"4": 4, "8": 4}
    write_run_config(run_config_from_dict(d), tmp_path)
    cfg = str(tmp_path / "config.yaml")
    assert not diff(dry_run(capsys, "--config", cfg), d)
    got = dry_run(capsys, "--config", cfg, "--preset", "fast")
    assert got["preset"] == "fast" and got["net"]["fmap_max"] == 64 and got["train"]["minibatch"]["4"] == 128
    got = dry_run(capsys, "--config", cfg, "--width", "32")
    assert got["net"]["fmap_max"] == 32 and got["net"]["latent_size"] == 32
    got = dry_run(capsys, "--config", cfg, "--resolution", "16")
    assert diff(got, d) == ["data.resolution: 16 != 8", "net.resolution: 16 != 8"]


def test_replay_builds_the_split_once(custom_run, capsys, monkeypatch):
    import wildgan.data

    calls = []
    real = wildgan.data.build_split
    monkeypatch.setattr(wildgan.data, "build_split", lambda cfg, **kw: calls.append(cfg) or real(cfg, **kw))
    run, _ = custom_run
    dry_run(capsys, "--config", str(run / "config.yaml"))
    assert len(calls) == 1 and calls[0].test_fraction == 0.3


def test_a_data_flag_beside_a_run_config_draws_the_split_the_run_records(custom_run, capsys, monkeypatch):
    # the split is built from asked_data_config's merge, the recorded config from run_config_for_shape's: the file's
    # seed winning over --seed in the first alone drew the split of seed 2 under a config.json that says seed 5, and
    # test_explicit_flag_overrides_only_its_fields, which reads the recorded config, passed
    import wildgan.data

    calls = []
    real = wildgan.data.build_split
    monkeypatch.setattr(wildgan.data, "build_split", lambda cfg, **kw: calls.append(cfg) or real(cfg, **kw))
    run, want = custom_run
    got = dry_run(capsys, "--config", str(run / "config.yaml"), "--seed", "5", "--contamination", "0.1")
    assert want["data"]["seed"] == 2 and want["data"]["contamination"] != 0.1
    assert (got["data"]["seed"], got["data"]["contamination"]) == (5, 0.1)
    assert [(c.seed, c.contamination) for c in calls] == [(5, 0.1)]
    assert calls[0].test_fraction == 0.3             # (a field no option sets: still the file's)


def test_flat_config_file_still_works(tiny_npz, tmp_path, capsys):
    p = tmp_path / "flat.yaml"
    p.write_text(f"data: {tiny_npz}\nnormal: 0\npreset: tiny\ntotal-kimg: 100\nphase_kimg: 3\namp: 'off'\n")
    got = dry_run(capsys, "--config", str(p))
    assert got["preset"] == "tiny" and got["data"]["normal"] == ["0"] and got["train"]["amp"] == "off"
    assert got["train"]["total_kimg"] == 100 and got["train"]["phase_kimg"] == 3
    got = dry_run(capsys, "--config", str(p), "--total-kimg", "50")
    assert got["train"]["total_kimg"] == 50 and got["train"]["checkpoint_kimg"] == 3


def test_fanogan_bn_warmup_is_an_option(capsys):
    assert dry_run(capsys, "--method", "fanogan")["fanogan"]["bn_warmup"] is True
    assert dry_run(capsys, "--method", "fanogan", "--fanogan-bn-warmup", "off")["fanogan"]["bn_warmup"] is False


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["train"].update(amp="xyz"), ["amp"]),
    (lambda d: d["train"].update(total_kimg="abc"), ["total_kimg", "abc"]),
    (lambda d: d["train"].update(gp_targt=1.0), ["gp_targt"]),
    (lambda d: d["score"].update(lam="high"), ["lam"]),
    (lambda d: d.update(method="nosuch"), ["unknown method", "nosuch"]),
    (lambda d: d.update(preset="nosuch"), ["preset", "nosuch"]),
    (lambda d: d["search"].update(steps=-5), ["search.steps", "-5"]),
    (lambda d: d["train"].update(channels_last="maybe"), ["channels_last"]),
    # not a mapping: an AttributeError traceback (exit 1); an empty one failed later, in training
    (lambda d: d["train"].update(minibatch="x"), ["minibatch must map resolutions"]),
    (lambda d: d["train"].update(minibatch={}), ["minibatch must map resolutions"]),
    # two spellings of one resolution: the duplicate-key check sees two keys, and int() kept the last in silence
    (lambda d: d["train"].update(minibatch={"4": 32, "04": 16, "8": 24}),
     ["minibatch gives one resolution more than one size ('4', '04'"]),
])
def test_bad_run_config_values_name_the_file(custom_run, tmp_path, capsys, edit, words):
    _, d = custom_run
    edit(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    capsys.readouterr()
    assert main(["train", "--config", str(p), "--out", str(tmp_path / "x"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wildgan: error:") and str(p) in err and "Traceback" not in err
    assert all(w in err for w in words), err


def test_a_yaml_minibatch_giving_one_resolution_as_a_number_and_as_a_string_is_refused(custom_run, tmp_path, capsys):
    # {4: 16, '4': 32}: two keys to YAML (an int and a str), one resolution to TrainConfig, which kept 32 in silence
    yaml = pytest.importorskip("yaml")
    _, d = custom_run
    d["train"]["minibatch"] = {"8": 24}
    p = tmp_path / "mb.yaml"
    p.write_text(yaml.safe_dump(d).replace("minibatch:\n", "minibatch:\n    4: 16\n    '4': 32\n"))
    assert main(["train", "--config", str(p), "--out", str(tmp_path / "x"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "minibatch gives one resolution more than one size (4, '4'" in err, err


def test_a_run_config_without_a_minibatch_size_for_a_resolution_is_refused_before_the_run_folder(custom_run, tmp_path,
                                                                                               capsys):
    # the schedule grows to 8x8, which has no size: a KeyError traceback when training got there, the folder written
    _, d = custom_run
    d["train"]["minibatch"] = {"4": 16}
    p = tmp_path / "mb.json"
    p.write_text(json.dumps(d))
    out = tmp_path / "x"
    # refused naming the file the table came from, and --dry-run (which stopped before the check) says it too
    for extra in ([], ["--dry-run"]):
        assert main(["train", "--config", str(p), "--out", str(out), "--no-progress", "--threads", "1", *extra]) == 2
        err = capsys.readouterr().err
        assert f"{p}: train.minibatch has no size for resolution(s) 8, which the 8x8 run's schedule reaches from " \
            "3.008 kimg on (of its total 100)" in err, err     # (the first round, of 2 x 16, after 3 kimg)
        assert "or give a --total-kimg of at most 3.008, which stops before it" in err
        assert not out.exists()


@pytest.mark.parametrize("argv, env, said", [
    (["--method", "fanogan"], None, "f-AnoGAN needs square (32, 64) images, got 8x8"),
    ([], "maybe", "WILDGAN_DATA_ON_GPU='maybe': use auto, 1"),
])
def test_a_dry_run_says_what_the_start_would_refuse_of_the_settings(tiny_npz, tmp_path, capsys, monkeypatch, argv,
                                                                    env, said):
    # --dry-run printed these as a config that trains (exit 0); the real start then refused them
    if env is not None:
        monkeypatch.setenv("WILDGAN_DATA_ON_GPU", env)
    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--out", str(tmp_path / "x"),
              "--no-progress", *argv]
    assert main([*common, "--dry-run"]) == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_run_that_stops_before_a_resolution_without_a_minibatch_size_trains(custom_run, tmp_path, capsys):
    # a total that ends at 4x4 never needs the 8x8 size: such a run trained before the check, which refused it by
    # the resolution alone; a --resume that would grow past it is refused, saying how far the run can go
    _, d = custom_run
    d["train"].update(minibatch={"4": 16}, total_kimg=0.05, phase_kimg=0.05, minibatch_repeats=1, checkpoint_kimg=1)
    p = tmp_path / "mb.json"
    p.write_text(json.dumps(d))
    out = tmp_path / "x"
    assert main(["train", "--config", str(p), "--out", str(out), "--no-progress", "--threads", "1"]) == 0
    assert (out / "network-final.json").is_file()
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--total-kimg", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'config.yaml'}: train.minibatch has no size for resolution(s) 8" in err, err
    assert "cannot change on --resume, so this one trains to at most 0.064 kimg (--total-kimg 0.064)" in err


def test_a_run_whose_last_round_ends_in_a_resolution_without_a_size_resumes_and_shows_its_eta(custom_run, tmp_path,
                                                                                              capsys):
    # total 0.05 kimg in rounds of 16 ends at 0.064, inside the 4 -> 8 fade-in (from 0.05 kimg on) whose size is
    # missing: the check passes it (no round starts there) and it trains, but a --resume of the finished run was a
    # KeyError traceback (the loop asked schedule() at the images restored before seeing it had nothing to train),
    # and so was the progress bar's ETA at the last round's images
    _, d = custom_run
    d["train"].update(minibatch={"4": 16}, total_kimg=0.05, phase_kimg=0.05, minibatch_repeats=1,
                      checkpoint_kimg=1, log_every=1)
    p = tmp_path / "mb.json"
    p.write_text(json.dumps(d))
    out = tmp_path / "x"
    assert main(["train", "--config", str(p), "--out", str(out), "--threads", "1"]) == 0     # (the progress bar on)
    assert json.loads((out / "network-final.json").read_text())["nimg"] == 64
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert "the run was already finished" in capsys.readouterr().err


def test_a_study_at_a_resolution_without_preset_minibatch_sizes_is_refused_before_any_cell(tiny_npz, tmp_path,
                                                                                           capsys):
    # --resolution 512 (the presets' sizes stop at 256): the study folder was written and its first cell refused
    out = tmp_path / "study"
    assert main(["study", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--resolution", "512",
                 "--methods", "wildgan", "--contamination", "0", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothing was trained" in err and "train.minibatch has no size for resolution(s) 512" in err, err
    assert "give a --resolution of at most 256, or a --total-kimg of at most" in err
    assert not out.exists()


@pytest.mark.parametrize("text, words", [
    ("total_kimg: abc\n", ["--total-kimg", "abc"]),
    ("amp: xyz\n", ["--amp", "xyz"]),
    ("channels: 2\n", ["--channels"]),
    ("skip_bad: 3\n", ["--skip-bad"]),
    ("no_such_option: 1\n", ["no_such_option"]),
    # both spellings of one option: the one read last won without a word
    ("total-kimg: 1\ntotal_kimg: 2\n", ["--total-kimg is given twice", "1 and 2"]),
    # one spelling twice: PyYAML kept the last in silence
    ("total_kimg: 1\nseed: 3\ntotal_kimg: 2\n", ["total_kimg is given twice in one mapping (lines 1 and 3)",
                                                "(1 and 2)"]),
    # ... and in a mapping written inline after a merge key, which PyYAML merges without constructing it as one
    ("run:\n  <<: {seed: 1, seed: 2}\n", ["seed is given twice in one mapping (lines 2 and 2)", "(1 and 2)"]),
    ("run:\n  <<: [{seed: 1}, {phase_kimg: 1, phase_kimg: 3}]\n", ["phase_kimg is given twice", "(1 and 3)"]),
    # two merge sources of one key, not overridden below: PyYAML kept the last seed (2) but the first of a
    # one-character key (it dedupes by the key text's string object), and dropped '4': 32 after 4: 16
    # (as the file spells them, as a key given twice in one mapping is said; keys of two types keep their quotes)
    ("run:\n  <<: [{seed: 1}, {seed: 2}]\n", ["seed is given by two sources of one merge (<<) (lines 2 and 2)",
                                               "(seed: 1 and seed: 2)"]),
    ("train:\n  minibatch:\n    <<: [{4: 16}, {'4': 32}]\n", ["4 is given by two sources of one merge",
                                                               "(4: 16 and '4': 32)"]),
])
def test_bad_flat_config_values_name_the_file(tmp_path, capsys, text, words):
    p = tmp_path / "flat.yaml"
    p.write_text(text)
    assert main(["train", "--config", str(p), "--out", str(tmp_path / "x"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and all(w in err for w in words), err


def test_a_config_file_giving_a_key_twice_is_refused_unless_alike_or_merged(tmp_path, capsys):
    # a JSON --config (a run's config, nested) is refused as a YAML one is; the same value twice, and a YAML merge
    # (<<) overridden below it, are no conflict and still read
    from wildgan.config import load_config_file

    p = tmp_path / "run.json"
    p.write_text('{"train": {"total_kimg": 1, "seed": 0, "total_kimg": 3}, "data": {}}')
    assert main(["train", "--config", str(p), "--out", str(tmp_path / "x"), "--dry-run"]) == 2
    assert f"{p}: total_kimg is given twice in one mapping, with different values (1 and 3)" in \
        capsys.readouterr().err
    same = tmp_path / "same.yaml"
    same.write_text("seed: 1\nseed: 1\n")
    assert load_config_file(same) == {"seed": 1}
    merged = tmp_path / "merged.yaml"
    merged.write_text("base: &b {seed: 1, phase_kimg: 2}\nrun:\n  <<: *b\n  seed: 5\nagain: *b\n")
    assert load_config_file(merged)["run"] == {"seed": 5, "phase_kimg": 2}
    merged.write_text("a: &a {seed: 1}\nb: &b {seed: 2}\nrun:\n  <<: [*a, *b, {phase_kimg: 2}]\n  seed: 5\n")
    assert load_config_file(merged)["run"] == {"seed": 5, "phase_kimg": 2}      # (overridden below the merge)
    merged.write_text("a: &a {seed: 1, x: 3}\nb: &b {seed: 1}\nrun:\n  <<: [*a, *b]\n")
    assert load_config_file(merged)["run"] == {"seed": 1, "x": 3}              # (sources that agree)


@pytest.mark.parametrize("name, text", [("c.json", '{"seed": 1}'), ("c.toml", "seed = 1\n"), ("c.yaml", "seed: 1\n")])
def test_a_config_file_saved_with_a_byte_order_mark_reads_as_without_it(tmp_path, name, text):
    # (what Windows editors put before a file they save as UTF-8: json and tomllib refused it, "Unexpected UTF-8 BOM")
    from wildgan.config import load_config_file

    p = tmp_path / name
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_config_file(p) == {"seed": 1}


def test_runs_record_their_data_absolute_and_work_from_any_folder(tiny_npz, tmp_path, capsys, monkeypatch):
    """A run trained with a relative --data is usable from another folder: the run records the absolute path, and
    a run recorded before that (relative path in config.json) falls back to split.json's absolute source."""
    monkeypatch.chdir(tiny_npz.parent)
    run = tmp_path / "run"
    assert main(["train", "--data", tiny_npz.name, "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.05", "--no-progress", "--threads", "1", "--out", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["data"] == str(tiny_npz)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(run), "--no-controls", "--json", "--no-progress"]) == 0
    cfg["data"]["data"] = tiny_npz.name                          # as an older wildgan recorded it
    (run / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--no-controls", "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["n_test"] == 20
    # resuming with the same file, however it is written (relative, with '..', through a symlink), is allowed
    (tmp_path / "link").symlink_to(tiny_npz.parent)
    for kimg, data in (("0.15", tiny_npz.name), ("0.2", f"elsewhere/../{tiny_npz.name}"),
                       ("0.25", str(tmp_path / "link" / tiny_npz.name))):
        monkeypatch.chdir(tiny_npz.parent)
        assert main(["train", "--data", data, "--normal", "0", "--preset", "tiny", "--total-kimg", kimg,
                     "--phase-kimg", "0.05", "--no-progress", "--threads", "1", "--out", str(run), "--resume"]) == 0, \
            capsys.readouterr().err
    # a recorded path has no '..' left in it
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--data", f"../{tiny_npz.name}", "--normal", "0", "--dry-run", "--out", "x"]) == 0
    assert f'"data": "{tiny_npz}"' in capsys.readouterr().out


def test_demo_never_replaces_a_run_that_is_not_a_demo(tmp_path, capsys, monkeypatch):
    import wildgan.data

    run = tmp_path / "mine"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "stats.jsonl").write_text("")
    # refused on the paths alone, before the sample is read (as train refuses its --out)
    for name in ("build_split", "load_split_data"):
        monkeypatch.setattr(wildgan.data, name, lambda *a, **k: pytest.fail("the data was read before the refusal"))
    assert main(["demo", "--out", str(run), "--no-progress"]) == 2
    assert "not a demo" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "stats.jsonl"]      # untouched
    assert main(["demo", "--out", str(run / "config.json" / "demo"), "--no-progress"]) == 2
    assert "config.json is a file; give a folder for the run" in capsys.readouterr().err


def test_a_demo_refused_for_its_normal_class_neither_says_nor_does_a_replacement(tmp_path, capsys, monkeypatch):
    """`wildgan demo --normal 11` over an earlier demo said "replacing the previous demo" and was then refused for the
    class: the refusal alone now, and the earlier demo as it was."""
    import wildgan.training.run as training_run

    out = tmp_path / "demo"
    out.mkdir()
    old = {"config.json": "{}", "stats.jsonl": "", "DEMO.txt": "written by `wildgan demo`\n"}
    for name, text in old.items():
        (out / name).write_text(text)
    monkeypatch.setattr(training_run, "train_run", lambda *a, **k: pytest.fail("the refused demo trained"))
    assert main(["demo", "--out", str(out), "--normal", "11", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "normal class '11' does not exist" in err and "replacing" not in err, err
    assert {p.name: p.read_text() for p in out.iterdir()} == old


@pytest.mark.parametrize("refusal", ["setting", "memory"])
def test_a_demo_refused_by_train_run_s_start_checks_says_no_replacement(refusal, tmp_path, capsys, monkeypatch):
    """The demo's "replacing the previous demo" was said before train_run's own start checks (the memory, a
    WILDGAN_DATA_ON_GPU typo): a refused start followed it, and had replaced nothing. Said now once they passed."""
    import wildgan.training.run as training_run

    out = tmp_path / "demo"
    out.mkdir()
    old = {"config.json": "{}", "stats.jsonl": "", "DEMO.txt": "written by `wildgan demo`\n"}
    for name, text in old.items():
        (out / name).write_text(text)
    if refusal == "setting":
        monkeypatch.setenv("WILDGAN_DATA_ON_GPU", "bogus")
        words = "WILDGAN_DATA_ON_GPU='bogus': use auto"
    else:
        words = "the networks need more memory than the test allows"

        def too_big(*a, **k):
            raise ConfigError(words)

        monkeypatch.setattr(training_run, "check_training_memory", too_big)
    monkeypatch.setattr(training_run, "_train_method", lambda *a, **k: pytest.fail("the refused demo trained"))
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert words in err and "replacing" not in err, err
    assert {p.name: p.read_text() for p in out.iterdir()} == old


@pytest.mark.parametrize("root", ["gone", "data"])
def test_the_demo_trains_on_its_sample_whatever_wildgan_data_says(root, tmp_path, tiny_npz, capsys, monkeypatch):
    """The demo passed train no --data: with $WILDGAN_DATA set it trained on that data root, not the sample it is
    documented to use, and a variable naming nothing was refused with "pass --data PATH", which demo does not take."""
    import wildgan.training.run as training_run
    from wildgan.config import SAMPLE_TOKEN
    from wildgan.errors import ConfigError

    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path / "nothing here" if root == "gone" else tiny_npz))
    trained = []

    def record(cfg, run_dir, **kw):
        trained.append(cfg.data.data)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr(training_run, "train_run", record)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert trained == [SAMPLE_TOKEN], err
    assert "--data" not in err and "stopped by the test" in err, err


def test_demo_replaces_its_own_output_but_not_a_run_trained_over_it(tmp_path, capsys):
    out = tmp_path / "demo"
    tiny = ["--total-kimg", "0.1", "--phase-kimg", "0.05", "--no-progress"]
    assert main(["demo", "--out", str(out), *tiny]) == 0
    assert (out / "DEMO.txt").is_file()
    err = capsys.readouterr().err
    assert "replacing the previous demo" not in err
    # its last line names the next steps, with this run's folder
    assert err.splitlines()[-1] == (f"next: `wildgan report {out}` writes {out / 'report' / 'report.html'} (the most "
                                    f"anomalous test digits with their heat maps); `wildgan score {out} --data FOLDER "
                                    f"--out scores.csv` scores images of your own"), err
    assert main(["demo", "--out", str(out), *tiny, "--seed", "1"]) == 0                 # a demo replaces a demo
    assert f"replacing the previous demo in {out}" in capsys.readouterr().err           # ... and says so
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 1
    assert main(["train", "--out", str(out), "--overwrite", "--preset", "tiny", "--normal", "3", "--threads", "1",
                 "--total-kimg", "0.1", "--phase-kimg", "0.05", "--no-progress"]) == 0
    assert not (out / "DEMO.txt").exists()                   # a real run trained over the demo is no demo
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *tiny]) == 2
    assert "not a demo" in capsys.readouterr().err


@pytest.mark.parametrize("complete", [False, True])
def test_a_stopped_demo_says_how_to_continue_it_with_a_command_that_exists(tmp_path, capsys, monkeypatch, complete):
    # train's stop said "continue with --resume", which `wildgan demo` does not take (argparse refuses it), and a demo
    # run again starts over: the demo names the train command that continues its run and prints the table
    import wildgan.cli as cli
    import wildgan.cli.demo
    from wildgan.errors import TrainingInterrupted

    from wildgan.errors import resume_advice

    out = tmp_path / "my demo"
    said = {False: f"interrupted by SIGINT (Ctrl-C) at 3.2 of 30 kimg; checkpoint saved in {out / 'checkpoints'}",
            True: "interrupted by SIGINT (Ctrl-C) as training ended at 30 kimg; the training is complete and its "
                  "networks are saved (F)"}

    def stopped(a):
        assert a.out == str(out) and a.evaluate
        # (as the loops raise it: the advice a field, none for a stop as training ended, which says what it left
        # undone in a field too)
        raise TrainingInterrupted(said[complete], 2, where="w", checkpoint_dir=str(out / "checkpoints"),
                                  complete=complete, resume_advice=None if complete else resume_advice(out),
                                  not_run="the training scores, --evaluate" if complete else None)

    monkeypatch.setattr(wildgan.cli.demo, "cmd_train", stopped)      # (the demo runs train's command itself)
    assert main(["demo", "--out", str(out), "--no-progress"]) == 130
    err = capsys.readouterr().err
    # train's advice (the command without --evaluate) is gone, the demo's own in its place
    assert "continue with" not in err and "--evaluate)" not in err, err
    assert err.count("--resume") == 1, err
    assert f"the demo and print its table, `wildgan train --out '{out}' --resume --evaluate` (`wildgan demo --out " \
           f"'{out}'` starts it over)" in err, err
    assert ("to finish the demo" if complete else "to continue the demo") in err, err
    # what the stop left undone, in the demo's terms (its --evaluate is not the user's option)
    assert ("what was to follow it (the training scores, the evaluation) was not run; to finish" in err) == complete, \
        err
    # the command it names parses (a demo's own options would not)
    assert cli.make_parser().parse_args(["train", "--out", str(out), "--resume", "--evaluate"]).resume


def test_a_stopped_demo_s_log_says_what_its_terminal_says(tmp_path, capsys, monkeypatch):
    # the terminal named `wildgan train --out RUN --resume --evaluate`, but the run's log.txt kept train's
    # "continue with --resume", an option `wildgan demo` does not take
    import wildgan.training.run as run_mod
    from wildgan.errors import TrainingInterrupted

    out = tmp_path / "my demo"

    from wildgan.errors import resume_advice

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        raise TrainingInterrupted(f"interrupted by SIGINT (Ctrl-C) at 3.2 of 30 kimg; checkpoint saved in "
                                  f"{run_dir / 'checkpoints'}", 2, where="w",
                                  checkpoint_dir=str(run_dir / "checkpoints"), resume_advice=resume_advice(run_dir))

    monkeypatch.setattr(run_mod, "train_run", stopped)
    assert main(["demo", "--out", str(out), "--no-progress"]) == 130
    err = capsys.readouterr().err
    (line,) = [ln for ln in (out / "log.txt").read_text().splitlines() if ln.startswith("stopped: ")]
    assert "continue with" not in line and f"`wildgan train --out '{out}' --resume --evaluate`" in line
    assert f"wildgan: {line[len('stopped: '):]}" in err, (line, err)


def test_a_demo_stopped_after_its_training_says_how_to_finish_it_in_its_log_too(tmp_path, capsys, monkeypatch):
    """A SIGTERM as the demo's training images were scored said `wildgan: terminated by SIGTERM` alone, and nothing
    in log.txt: it is a stop after the training, told in the demo's words (the train command that finishes it and
    prints the table) on the terminal and in log.txt alike."""
    import signal

    import wildgan.cli.train as train_cli
    import wildgan.training.run as run_mod
    from wildgan.training.loop import TrainResult

    out = tmp_path / "my demo"

    def trained(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")

    monkeypatch.setattr(run_mod, "train_run", trained)
    monkeypatch.setattr(train_cli, "_score_training_images", lambda *a, **k: signal.raise_signal(signal.SIGTERM))
    assert main(["demo", "--out", str(out), "--no-progress"]) == 143
    err = capsys.readouterr().err
    (line,) = [ln for ln in (out / "log.txt").read_text().splitlines() if ln.startswith("stopped: ")]
    assert line.startswith("stopped: terminated by SIGTERM after the training, while the training images were "
                           "scored; the training is complete"), line
    assert line.endswith(f"what was to follow it (the training scores, the evaluation) was not run; to finish the demo "
                         f"and print its table, `wildgan train --out '{out}' --resume --evaluate` (`wildgan demo --out "
                         f"'{out}'` starts it over)"), line
    assert f"wildgan: {line[len('stopped: '):]}" in err, (line, err)


def test_a_demo_failed_after_its_training_says_how_to_finish_it_in_its_log_too(tmp_path, capsys, monkeypatch):
    """An error as the demo's training images were scored (a full disk) is recorded in log.txt as a stop there is,
    in the demo's words (the train command that finishes it and prints the table); exit 1 as for any OSError."""
    import errno

    import wildgan.cli.train as train_cli
    import wildgan.training.run as run_mod
    from wildgan.training.loop import TrainResult

    out = tmp_path / "my demo"

    def trained(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_mod, "train_run", trained)
    monkeypatch.setattr(train_cli, "_score_training_images", full)
    assert main(["demo", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    (line,) = [ln for ln in (out / "log.txt").read_text().splitlines() if ln.startswith("stopped: ")]
    finish = (f"what was to follow it (the training scores, the evaluation) was not run; to finish the demo and print "
              f"its table, `wildgan train --out '{out}' --resume --evaluate` (`wildgan demo --out '{out}'` starts it "
              f"over)")
    assert line.startswith("stopped: failed after the training, while the training images were scored: [Errno 28] "
                           "No space left on device; the training is complete") and line.endswith(finish), line
    assert finish in err and err.rstrip().endswith("wildgan: error: [Errno 28] No space left on device"), err


def test_demo_that_cannot_write_its_marker_still_evaluates_and_says_so(tmp_path, capsys, monkeypatch):
    """DEMO.txt only lets a later demo replace the run: a full disk there must not cost the evaluation of a finished
    training (it stopped the demo with 'stopped: OSError' in log.txt and no table)."""
    import errno
    import pathlib

    write_text = pathlib.Path.write_text

    def full_disk(self, *a, **k):
        if self.name == "DEMO.txt":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "write_text", full_disk)
    import wildgan.evaluation.run as ev

    evaluate_run = ev.evaluate_run          # the evaluation itself, without its controls (they cost most of a minute)
    monkeypatch.setattr(ev, "evaluate_run", lambda *a, **k: evaluate_run(*a, **{**k, "controls": False}))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--total-kimg", "0.1", "--phase-kimg", "0.05", "--no-progress"]) == 0
    got = capsys.readouterr()
    assert f"warning: could not write {out / 'DEMO.txt'}" in got.err and "No space left on device" in got.err
    assert "will refuse to replace this run" in got.err
    assert (out / "eval.json").is_file() and "AUC" in got.out                  # evaluated, and its table printed
    # (a line that begins 'stopped: ', as an error's does: the AUC table in log.txt may say "training stopped ...
    # before the networks reached full resolution", which is no stop of the demo)
    assert not (out / "DEMO.txt").exists() and not any(
        ln.startswith("stopped") for ln in (out / "log.txt").read_text().splitlines())


@pytest.mark.parametrize("argv, words", [
    (["train", "--presett", "tiny", "--out", "r"], "--presett: did you mean --preset?"),
    (["evaluate", "r", "--jsn"], "--jsn: did you mean --json?"),
    (["score", "r", "imgs/", "--out", "s.csv"], "imgs/: image files, folders and data sets go after --data"),
])
def test_unrecognized_options_name_the_command_and_a_likely_meaning(argv, words, capsys):
    # argparse's own message comes from the top-level parser, with the usage of `wildgan` instead of the command's
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"usage: wildgan {argv[0]}" in err and "unrecognized arguments" in err and words in err


@pytest.mark.parametrize("argv", [[], ["--debug"]])
def test_a_bare_wildgan_prints_the_help_and_exits_as_a_usage_error(argv, capsys):
    # it printed argparse's "the following arguments are required: COMMAND", which lists no command
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out.startswith("usage: wildgan") and "commands (wildgan COMMAND --help for each)" in out
    assert "demo" in out and "train" in out and "required" not in out + err and err == ""


def test_commands_suggested_in_messages_quote_a_path_with_spaces(tmp_path, capsys):
    # "evaluate later with `wildgan evaluate my runs/x --data ...`": copied as it was, the shell split the path
    from PIL import Image

    from wildgan.errors import shell_word

    assert shell_word("runs/demo") == "runs/demo" and shell_word(tmp_path / "a b") == f"'{tmp_path / 'a b'}'"
    pile = tmp_path / "my pile"
    pile.mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(pile / f"{i:02d}.png")
    out = tmp_path / "my runs" / "ré 1"
    assert main(["train", "--data", str(pile), "--out", str(out), "--evaluate", "--preset", "tiny",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"`wildgan evaluate '{out}' --data LABELLED --normal CLASS`" in err, err
    assert f"`wildgan score '{out}' --data NEW_IMAGES --threshold contamination --out scores.csv`" in err, err


def test_a_missing_data_path_from_a_config_file_names_the_file_and_where_a_relative_one_is_read(
        tmp_path, capsys, monkeypatch):
    # `data: x y` in a config file, run from another folder, failed as '/elsewhere/x y: no such file or folder': a
    # path the user never wrote, with no word of the file it came from or of the folder it was read from
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    cfg, here = tmp_path / "configs" / "my.yaml", tmp_path / "elsewhere"
    cfg.parent.mkdir()
    here.mkdir()
    cfg.write_text("data: x y\nnormal: '0'\n")
    monkeypatch.chdir(here)
    train = ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--preset", "tiny", "--no-progress"]
    assert main(train) == 2
    err = capsys.readouterr().err
    assert f"{here / 'x y'}: no such file or folder (data: x y in {cfg}; a relative path in a config file is read " \
           f"from the current folder, {here}, not from the config file's folder)" in err, err
    # an absolute one names the file alone; --data typed beside the file is the command line's, named as --data
    cfg.write_text(f"data: {tmp_path / 'gone.npz'}\n")
    assert main(train) == 2
    assert f"{tmp_path / 'gone.npz'}: no such file or folder (data: {tmp_path / 'gone.npz'} in {cfg})\n" in \
        capsys.readouterr().err
    assert main([*train, "--data", "x y"]) == 2
    assert "error: x y: no such file or folder (--data)\n" in capsys.readouterr().err


def test_an_out_that_ends_in_a_slash_names_a_folder_not_a_file(tmp_path, capsys, monkeypatch):
    # `score --out results/` (no such folder yet) wrote the CSV to a file named 'results', without an extension:
    # Path dropped the slash. Refused before anything is loaded, by export too; a folder that exists was already
    import wildgan.scoring.run as scoring_run

    monkeypatch.setattr(scoring_run, "load_model", lambda *a, **k: pytest.fail("loaded before the check"))
    monkeypatch.chdir(tmp_path)
    for argv, example in ((["score", "no-run", "--data", "x.png", "--out", "results/"], "scores.csv"),
                          (["export", "no-run", "--out", "results/"], "model.onnx")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"--out results/ names a folder (it ends in '/'); give a file name, e.g. results/{example}" in err, err
        assert not (tmp_path / "results").exists()


def test_a_path_with_spaces_split_by_the_shell_is_named_with_quotes(tmp_path, capsys, monkeypatch):
    # `wildgan score runs/my run ...` unquoted: 'run' was unrecognized and the hint sent the user to --data; `--data
    # new ones` said only 'new: no such file or folder'. Each now names the path and says to quote it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my runs" / "ré 1").mkdir(parents=True)
    (tmp_path / "new ones").mkdir()
    for argv in (["score", "my", "runs/ré", "1", "--data", "x", "--out", "s.csv"],
                 ["report", "my", "runs/ré", "1"], ["train", "--data", "new", "ones", "--out", "r"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err
        path = "new ones" if argv[0] == "train" else "my runs/ré 1"
        assert e.value.code == 2 and f"usage: wildgan {argv[0]}" in err, err
        assert f"{path!r} is one path with spaces in it, split by the shell into words: put it in quotes " \
               f"('{path}')" in err, err
        assert "go after --data" not in err, err
    assert main(["score", "my runs/ré 1", "--data", "new", "ones", "--out", "s.csv"]) == 2
    assert ("new: no such file or folder (--data); 'new ones' is one path with spaces in it, split by the shell into "
            "words: put it in quotes ('new ones')") in capsys.readouterr().err
    assert main(["report", "my runs/ré 1", "--image", "new", "ones"]) == 2
    assert "new: no such file or folder (--image); 'new ones' is one path" in capsys.readouterr().err
    # a word that is no part of an existing path keeps the old hint
    with pytest.raises(SystemExit):
        main(["score", "my runs/ré 1", "imgs/", "--out", "s.csv"])
    assert "imgs/: image files, folders and data sets go after --data" in capsys.readouterr().err


@pytest.mark.parametrize("opts, words", [
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--checkpoint-kimg", "0"], "--checkpoint-kimg must be a positive number"),
    (["--transition-kimg", "-1"], "--transition-kimg must be a number >= 0"),
    (["--minutes", "-2"], "--minutes must be a positive number"),
    (["--phase-kimg", "nan"], "--phase-kimg must be a positive number"),
    # the default checkpoint interval is derived from the total: a NaN or infinite one raised a bare ValueError there
    (["--total-kimg", "nan"], "--total-kimg must be a positive number, got nan"),
    (["--total-kimg", "inf"], "--total-kimg must be a positive number, got inf"),
    (["--width", "0"], "--width must be >= 1"),
    (["--latent-size", "0"], "--latent-size must be >= 1"),
    (["--method", "fanogan", "--fanogan-dim", "0"], "--fanogan-dim must be a whole number >= 1"),
    # torch takes 64-bit seeds and training also draws with seed + 1: a bare overflow error after the data was read
    (["--seed", "-1"], "--seed must be a whole number from 0 to 2**64 - 2, got -1"),
    (["--seed", str(2 ** 64 - 1)], "--seed must be a whole number from 0 to 2**64 - 2"),
])
def test_bad_numbers_are_refused_before_anything_is_written(tmp_path, capsys, opts, words):
    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--total-kimg", "0.1", "--out", str(out), *opts]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("cmd, opts, words", [
    # Python 3.11's argparse took -1e-3 for an option, not a value: `--lr -1e-3` was refused as "--lr: expected one
    # argument" (only `--lr=-1e-3` got the real refusal), a message that says nothing of what is wrong
    (["train", "--out", "RUN"], ["--lr", "-1e-3"], "--lr must be a positive number, got -1e-3"),
    (["train", "--out", "RUN"], ["--minutes", "-2.5E+1"], "--minutes must be a positive number, got -2.5E+1"),
    (["train", "--out", "RUN"], ["--phase-kimg", "-.5e1"], "--phase-kimg must be a positive number, got -.5e1"),
    (["score", "RUN", "--out", "s.csv", "--threshold", "contamination"], ["--expected-contamination", "-5e-1"],
     "--expected-contamination must be in (0, 0.5], got -5e-1"),
    # float() reads -inf, -infinity and -nan (any case), but argparse took them for options (they start with a minus
    # and no digit): `--lr -inf` was refused as "argument --lr: expected one argument", `--lr=-inf` by the check
    (["train", "--out", "RUN"], ["--lr", "-inf"], "--lr must be a positive number, got -inf"),
    (["train", "--out", "RUN"], ["--lr=-inf"], "--lr must be a positive number, got -inf"),
    (["train", "--out", "RUN"], ["--lr", "-Infinity"], "--lr must be a positive number, got -Infinity"),
    (["train", "--out", "RUN"], ["--lr", "-nan"], "--lr must be a positive number, got nan"),
    (["train", "--out", "RUN"], ["--minutes", "-INF"], "--minutes must be a positive number, got -INF"),
    (["score", "RUN", "--out", "s.csv", "--threshold", "contamination"], ["--expected-contamination", "-inf"],
     "--expected-contamination must be in (0, 0.5], got -inf"),
])
def test_negative_numbers_argparse_took_for_options_reach_the_check_of_the_number(tmp_path, capsys, cmd, opts, words):
    run = tmp_path / "run"
    assert main([w.replace("RUN", str(run)) for w in cmd] + opts) == 2
    err = capsys.readouterr().err
    assert words in err and "expected one argument" not in err, err
    assert not run.exists()


def test_a_folder_named_like_a_negative_infinity_is_taken_and_words_like_it_stay_options(tmp_path, monkeypatch,
                                                                                        capsys) -> None:
    """An option of any text takes -inf as `--out=-inf` does (train's first reading of --out too), a whole number's
    refuses it by its type; a word that only starts like one (-info) is still read as an option, as before."""
    from wildgan.cli import make_parser

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--out", "-inf", "--preset", "tiny", "--dry-run"]) == 0, capsys.readouterr().err
    a, extra = make_parser().parse_known_args(["score", "RUN", "--out", "-NaN"])
    assert (a.out, extra) == ("-NaN", [])
    # a whole number's option refuses it by its own type, naming the option and the word
    with pytest.raises(SystemExit):
        make_parser().parse_known_args(["score", "RUN", "--out", "s.csv", "--threads", "-inf"])
    assert "argument --threads: expected a whole number (0 = torch's default), got -inf" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        make_parser().parse_known_args(["score", "RUN", "--out", "-info"])
    assert "argument --out: expected one argument" in capsys.readouterr().err


# argparse's own rule for a word that is a value (a negative number) rather than an option: Python 3.11 to 3.13's,
# and 3.14's (gh-124823), which every wildgan parser replaces with its own (parser._NEGATIVE_NUMBER)
_STOCK_NEGATIVE_NUMBER = {"3.11-3.13": r"^-\d+$|^-\d*\.\d+$", "3.14": r"-\.?\d"}


@pytest.mark.parametrize("python", sorted(_STOCK_NEGATIVE_NUMBER))
def test_a_value_that_starts_with_a_minus_reads_alike_after_a_space_or_an_equals_sign(monkeypatch, capsys,
                                                                                     python: str) -> None:
    """`--lr -1x` was refused as "argument --lr: expected one argument" (argparse took -1x for an option), where
    `--lr=-1x` said what is wrong ("invalid float value: '-1x'"), and `--out -1x` was refused where `--out=-1x` was
    taken; Python 3.14's argparse reads such a word as a value, 3.11 to 3.13's as an option. Now `OPTION VALUE` reads
    as `OPTION=VALUE` does, whatever the running Python's own rule: the value taken, or refused in words that name the
    option and the value."""
    import argparse

    from wildgan.cli import make_parser

    stock = re.compile(_STOCK_NEGATIVE_NUMBER[python])
    real_init = argparse._ActionsContainer.__init__

    def init(self, *args, **kwargs) -> None:        # (the parsers of that Python, before wildgan's own rule)
        real_init(self, *args, **kwargs)
        self._negative_number_matcher = stock

    monkeypatch.setattr(argparse._ActionsContainer, "__init__", init)
    p = make_parser()

    def read(cmd: list[str], words: list[str], dest: str) -> tuple[str, object]:
        capsys.readouterr()
        try:
            a, extra = p.parse_known_args([*cmd, *words])
        except SystemExit:
            return "refused", capsys.readouterr().err.strip().splitlines()[-1]
        return "taken", (getattr(a, dest), extra)

    for flag, cmd, dest in [("--lr", ["train", "--out", "RUN"], "lr"),              # a number (float)
                            ("--threads", ["score", "RUN", "--out", "s.csv"], "threads"),   # a whole number
                            ("--out", ["score", "RUN"], "out"),                   # any text (a path)
                            ("--data", ["score", "RUN", "--out", "s.csv"], "data")]:    # a list of paths
        for value in ("-1", "-1e-3", "-1x", "-.5"):
            spaced, joined = read(cmd, [flag, value], dest), read(cmd, [f"{flag}={value}"], dest)
            assert spaced == joined, (python, flag, value)
            if spaced[0] == "refused":
                assert flag in str(spaced[1]) and value in str(spaced[1]), spaced
            else:
                assert value in str(spaced[1][0]) or float(value) == spaced[1][0], spaced


def test_a_value_that_starts_with_a_minus_reads_alike_in_trains_first_reading(tmp_path, monkeypatch, capsys) -> None:
    """train reads --config, --out and --resume before its command line's parse (config_args.resume_config,
    set_from_config) with a parser of its own, which kept Python's rule: `train --out -1e-3` (a folder the command's
    parser takes) was refused there as "argument --out: expected one argument", under the usage of that hidden
    parser. Both now read the command line alike."""
    monkeypatch.chdir(tmp_path)
    for folder in ("-1e-3", "-1x"):
        capsys.readouterr()
        assert main(["train", "--out", folder, "--preset", "tiny", "--dry-run"]) == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)["data"] is not None


@pytest.mark.parametrize("words, flag", [
    (["--preset", "tiny", "--out"], "--out"),
    (["--out"], "--out"),
    (["--out", "RUN", "--resume", "--config"], "--config"),
    (["--config"], "--config"),
])
def test_an_option_without_its_value_in_trains_first_reading_is_refused_by_train(tmp_path, monkeypatch, capsys,
                                                                                 words, flag) -> None:
    """train reads --config, --out and --resume before its command line's parse (config_args.resume_config,
    set_from_config); an option of those without its value (`train --preset tiny --out`) was refused there, under
    the usage of that hidden parser, named after the Python file that ran (`usage: __main__.py [--config CONFIG]
    [--out OUT] ...`). Now train's parser refuses it, with train's usage, as it refuses any other option typed so."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["train", *words])
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert err.startswith("usage: wildgan train ") and "[--preset {paper,fast,tiny}]" in err, err
    assert err.endswith(f"wildgan train: error: argument {flag}: expected one argument\n"), err
    assert "[--config CONFIG] [--out OUT] [--resume] [--overwrite]" not in err, err
    assert not (tmp_path / "RUN").exists()


@pytest.mark.parametrize("phase", ["0", "-1", "nan", "inf"])
def test_a_bad_phase_kimg_is_named_when_the_total_is_derived_from_it(tmp_path, capsys, phase):
    # without --total-kimg the total is the paper's schedule of the phases: it was checked first, so the message
    # named total_kimg (0.0, or -8.67 for -1), an option that was not given, instead of --phase-kimg
    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--phase-kimg", phase, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--phase-kimg must be a positive number, got {phase}\n" in err and "total" not in err   # (as typed)
    assert not out.exists()


@pytest.mark.parametrize("opt", ["--contamination", "--seeds", "--normal", "--methods", "--encoder-loss"])
def test_a_study_refuses_a_list_option_of_no_values(tiny_npz, tmp_path, capsys, opt):
    # --contamination ',' ran a study of no cells and exited 0; --seeds ',' and --normal ',' raised an IndexError
    out = tmp_path / "study"
    assert main(["study", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", opt, ",",
                 "--out", str(out)]) == 2
    assert f"{opt} ',': no values" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("opt, value, said", [
    # said with its option and as typed: "cannot parse '1,x' as a comma-separated list of int" named neither the
    # option nor the values in a person's words
    ("--seeds", "0,x", "--seeds: cannot read 0,x as a comma-separated list of whole numbers"),
    ("--contamination", "0,1%", "--contamination: cannot read 0,1% as a comma-separated list of numbers"),
    ("--methods", "wildgan,gan", "unknown method gan in --methods; choose from wildgan, fanogan, search"),
    ("--encoder-loss", "pixel", "unknown encoder loss pixel in --encoder-loss; choose from image, latent"),
])
def test_a_study_names_a_bad_list_option_and_its_value_as_typed(tiny_npz, tmp_path, capsys, opt, value, said):
    out = tmp_path / "study"
    assert main(["study", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", opt, value,
                 "--out", str(out)]) == 2
    assert said in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("argv, said", [
    # train's own parse: "choose the normal class(es)", as if --normal had not been given; --exclude ',' excluded
    # nothing in silence
    (["train", "--normal", ","], "--normal ',': no values"),
    (["train", "--normal", "0", "--exclude", " , "], "--exclude ' , ': no values"),
    # a study cell's classes joined by +: '0+' made a cell of classes 0 and '', refused only by the cell check
    (["study", "--normal", "0+"], "--normal 0+: 0+ names an empty class; join one cell's classes with +"),
    (["study", "--normal", "1,+"], "--normal 1,+: + names an empty class"),
])
def test_train_and_study_refuse_a_class_list_of_no_values(tiny_npz, tmp_path, capsys, argv, said):
    out = tmp_path / "out"
    assert main([*argv, "--data", str(tiny_npz), "--preset", "tiny", "--out", str(out)]) == 2
    assert said in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_refuses_a_normal_of_no_classes(tmp_path, capsys):
    # --normal ',' evaluated the run's own split as if no --normal had been given
    (tmp_path / "run").mkdir()
    assert main(["evaluate", str(tmp_path / "run"), "--normal", ","]) == 2
    assert "--normal ',': no values" in capsys.readouterr().err


def test_a_study_refuses_a_seed_out_of_range_naming_its_seeds_option(tmp_path, capsys):
    # each cell's config refused it as `--seed`, an option a study does not have
    out = tmp_path / "study"
    assert main(["study", "--preset", "tiny", "--seeds=0,-2", "--out", str(out)]) == 2
    assert "error: --seeds: each seed must be a whole number from 0 to 2**64 - 2, got -2" in capsys.readouterr().err
    assert not out.exists()


def test_a_study_refuses_a_nan_total_kimg_naming_it(tmp_path, capsys):
    # the study builds each cell's config the same way as train: it raised the same bare ValueError
    out = tmp_path / "study"
    assert main(["study", "--preset", "tiny", "--total-kimg", "nan", "--out", str(out)]) == 2
    assert "--total-kimg must be a positive number, got nan" in capsys.readouterr().err
    assert not out.exists()


def test_a_wildgan_data_that_does_not_exist_is_said_to_come_from_the_variable(tmp_path, capsys, monkeypatch):
    # the CLI makes the variable's path absolute before the data is read, which then took it for a --data PATH: the
    # message named a path the user never typed and not where it came from
    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path / "gone"))
    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--total-kimg", "0.1", "--out", str(out)]) == 2
    assert f"{tmp_path / 'gone'}: no such file or folder (from $WILDGAN_DATA" in capsys.readouterr().err
    assert not out.exists()


def test_a_run_recorded_before_the_nested_contamination_draw_resumes_and_evaluates_on_its_own_images(
        tiny_npz, tmp_path, capsys):
    # a run of a wildgan that drew its contaminants with Generator.choice (its files name no contamination_draw):
    # read with today's nested draw, its rebuilt training set would be other images, and --resume refused them
    import yaml

    old = dry_run(capsys, "--data", str(tiny_npz), "--normal", "0", "--contamination", "0.2", "--preset", "tiny",
                  "--total-kimg", "0.1", "--phase-kimg", "0.03", "--threads", "1", "--seed", "1")
    old["data"]["contamination_draw"] = "choice"
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    run = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "old.yaml"), "--no-progress", "--no-train-scores",
                 "--out", str(run)]) == 0, capsys.readouterr().err
    for name in ("config.json", "split.json"):
        d = json.loads((run / name).read_text())
        (d["data"] if name == "config.json" else d).pop("contamination_draw", None)   # (config.json: left out today)
        (run / name).write_text(json.dumps(d))
    (run / "config.yaml").write_text(yaml.safe_dump(json.loads((run / "config.json").read_text()), sort_keys=False))
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.15", "--no-progress"]) == 0, \
        capsys.readouterr().err
    # (rewritten by the resume without the rule: absent, it reads as "choice", and an older wildgan still reads it)
    assert "contamination_draw" not in json.loads((run / "config.json").read_text())["data"]
    assert main(["evaluate", str(run)]) == 0
    assert "changed since" not in capsys.readouterr().err
    # its training scores' key names no rule, as that wildgan's did; one that spells out "choice" (as main wrote
    # for a while) is the same key: both read, not scored again
    from wildgan.scoring.run import load_model
    from wildgan.scoring.train_scores import read_train_scores

    assert main(["score", str(run), "--threshold", "mad", "--out", str(tmp_path / "s.csv")]) == 0
    key = json.loads((run / "train_scores.json").read_text())
    assert "contamination_draw" not in key["data"]
    assert read_train_scores(run, load_model(run, device="cpu"), "mixed") is not None
    key["data"]["contamination_draw"] = "choice"
    (run / "train_scores.json").write_text(json.dumps(key))
    assert read_train_scores(run, load_model(run, device="cpu"), "mixed") is not None


def test_resume_alone_continues_the_run_as_it_was_configured(tiny_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--latent-size", "8", "--threads", "1", "--no-progress",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    # no other option: the run's own settings (a custom phase length and latent size), extended by --total-kimg
    assert main(["train", "--out", str(out), "--resume", "--total-kimg", "0.15", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"resuming with the settings of {out / 'config.yaml'}" in err and "resumed from" in err
    # log.txt says what the terminal said: the settings resumed with (said before the run's log was made) and the
    # training scores' line after each session (both were on stderr only)
    log = (out / "log.txt").read_text().splitlines()
    assert [ln.split(" (")[0] for ln in log if ln.startswith(("scored the", "resuming"))] == [
        "scored the 20 training images", f"resuming with the settings of {out / 'config.yaml'}",
        "resuming wildgan", "scored the 20 training images"], log
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["net"]["latent_size"], cfg["train"]["phase_kimg"], cfg["train"]["total_kimg"]) == (8, 0.03, 0.15)
    # a run without final networks (still training, or stopped) is scored with its newest checkpoint, and says so
    for f in out.glob("network-final.*"):
        f.unlink()
    # (its kimg to the image, as every message says it: `:.1f` said 0.2)
    with pytest.warns(UserWarning, match=r"has no final networks yet \(still training, or stopped\): using "
                                         r"its newest checkpoint ckpt-000000000192\.json \(0\.192 kimg\)"):
        assert main(["score", str(out), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 0
    # ... its newest good one: a checkpoint the kill left half-written is skipped, with a warning naming it
    cks = sorted((out / "checkpoints").glob("ckpt-*.safetensors"))
    cks[-1].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=f"skipping a bad checkpoint: {cks[-1]}: checksum mismatch"):
        assert main(["score", str(out), "--no-progress", "--out", str(tmp_path / "s2.csv")]) == 0
    # log.txt tells how each session ended, an interrupt or an error included (not only stderr)
    log = (out / "log.txt").read_text()
    import re

    trained = re.findall(r"trained ([0-9.]+) kimg", log)
    assert trained == ["0.128", "0.192"], log          # each finished session once, with the images it reached


def test_resume_with_evaluate_says_that_it_replaces_the_old_evaluation(tiny_npz, tmp_path, capsys):
    # `train --resume --evaluate` (how a demo stopped by Ctrl-C continues) said that the eval.json of the earlier
    # networks was "kept as it is", then rewrote it with the evaluation of the networks trained now
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert main(["evaluate", str(out), "--no-controls", "--no-progress"]) == 0, capsys.readouterr().err
    before = json.loads((out / "eval.json").read_text())["model"]["kimg"]
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--total-kimg", "0.15", "--no-progress",
                 "--evaluate"]) == 0
    err = capsys.readouterr().err
    note = [ln for ln in err.splitlines() if f"{out / 'eval.json'} (with its" in ln]
    assert len(note) == 1 and "kept as it is" not in note[0], err
    assert note[0].endswith("is an evaluation of earlier networks (0.128 kimg; the run is now at 0.192 kimg): the "
                            "evaluation that follows (--evaluate) replaces it with one of the networks trained "
                            "now"), note
    after = json.loads((out / "eval.json").read_text())["model"]["kimg"]
    assert before < after                                       # and it did
    assert note[0].removeprefix("wildgan: ") in (out / "log.txt").read_text()
    # without --evaluate the old one is kept, and the note says so, with the command that evaluates the new networks
    assert main(["train", "--out", str(out), "--resume", "--total-kimg", "0.2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"kept as it is; `wildgan evaluate {out}` evaluates the networks trained now" in err, err
    assert json.loads((out / "eval.json").read_text())["model"]["kimg"] == after


def test_evaluate_on_other_data_counts_the_runs_own_training_images_among_it(tmp_path, capsys):
    # a pile run evaluated on labelled data that holds copies of its pile: the AUC table came with no word that many
    # of the images scored were the run's own training images (the same pixels). Each training image's checksum is
    # kept (RUN/train_hashes.npz), and the evaluation counts them
    rng = np.random.default_rng(0)
    pile = rng.integers(0, 255, (40, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "pile.npz", x=pile)
    new = rng.integers(0, 255, (12, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "labelled.npz", x=np.concatenate([pile[:6], pile[30:33], new]),
             y=np.array([0] * 6 + [1] * 3 + [0, 1] * 6))
    np.savez(tmp_path / "fresh.npz", x=new, y=np.array([0, 1] * 6))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "pile.npz"), "--dataset", "unlabelled", "--preset", "tiny",
                 "--total-kimg", "0.05", "--phase-kimg", "0.03", "--threads", "1", "--no-progress",
                 "--no-train-scores", "--out", str(run)]) == 0, capsys.readouterr().err
    assert (run / "train_hashes.npz").is_file()
    capsys.readouterr()
    argv = ["--normal", "0", "--no-controls", "--no-progress", "--threads", "1"]
    assert main(["evaluate", str(run), "--data", str(tmp_path / "labelled.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'labelled.npz'}: 9 of its 21 test images (6 normal, 3 anomalous) are images {run} was " \
           f"trained on (the same pixels)" in err, err
    # none of them: nothing said
    assert main(["evaluate", str(run), "--data", str(tmp_path / "fresh.npz"), *argv]) == 0
    assert "trained on (the same pixels)" not in capsys.readouterr().err
    # a record of other training images (a crash between it and split.json) or none (a run trained before it was
    # kept): the run's training images rebuilt from its data (an .npz: one read), never a wrong count, and the
    # record written again for the next evaluation
    with np.load(run / "train_hashes.npz") as z:
        hashes = z["hashes"]
    np.savez(run / "train_hashes.npz", hashes=hashes, train_pixels_sha256=np.asarray("0" * 64))
    for _ in ("other", "none"):
        assert main(["evaluate", str(run), "--data", str(tmp_path / "labelled.npz"), *argv]) == 0
        err = capsys.readouterr().err
        assert err.count("9 of its 21 test images (6 normal, 3 anomalous) are images") == 1, err
        assert "not checked" not in err, err
        with np.load(run / "train_hashes.npz") as z:
            assert np.array_equal(z["hashes"], hashes)
        (run / "train_hashes.npz").unlink()


def _pile_run(tmp_path: Path, capsys, pile: "str | Path") -> Path:
    """A tiny unlabelled run on `pile`, trained before RUN/train_hashes.npz was kept (the file deleted)."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(pile), "--dataset", "unlabelled", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0, capsys.readouterr().err
    (run / "train_hashes.npz").unlink()
    capsys.readouterr()
    return run


def test_eval_json_does_not_keep_the_note_that_its_data_was_not_checked_for_training_images(tmp_path, capsys):
    # eval.json kept the note "not checked for images RUN was trained on: RUN keeps no train_hashes.npz" in its
    # warnings, which go stale once a later evaluation (or a resume) writes that file, while an earlier eval.json
    # (another eval- folder's) is never written again; nothing reads eval.json's warnings back, so the note is said
    # on the terminal alone. The evaluation's other warnings stay in eval.json
    from PIL import Image

    rng = np.random.default_rng(1)
    (tmp_path / "pile").mkdir()
    for i, im in enumerate(rng.integers(0, 255, (40, 8, 8), dtype=np.uint8)):
        Image.fromarray(im).save(tmp_path / "pile" / f"{i:02d}.png")
    np.savez(tmp_path / "few.npz", x=rng.integers(0, 255, (12, 16, 16), dtype=np.uint8), y=np.array([0, 1] * 6))
    run = _pile_run(tmp_path, capsys, tmp_path / "pile")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "few.npz"), "--normal", "0", "--no-controls",
                 "--no-progress", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert f"note: {tmp_path / 'few.npz'}: not checked for images {run} was trained on" in err, err
    kept = json.loads((run / "eval.json").read_text()).get("warnings", [])
    assert not any("not checked" in w for w in kept), kept
    assert any("16x16" in w for w in kept), (kept, err)         # (the other size's warning is still kept)


def test_a_run_without_train_hashes_that_cannot_be_rebuilt_cheaply_says_its_data_was_not_checked(tmp_path, capsys):
    # a run trained before train_hashes.npz was kept: nothing was checked, and nothing said. Its training images are
    # rebuilt where that is cheap beside the evaluation, else one line says the data was not checked, and why
    from PIL import Image

    rng = np.random.default_rng(1)
    pile = rng.integers(0, 255, (40, 8, 8), dtype=np.uint8)
    (tmp_path / "pile").mkdir()
    for i, im in enumerate(pile):
        Image.fromarray(im).save(tmp_path / "pile" / f"{i:02d}.png")
    new = rng.integers(0, 255, (12, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "few.npz", x=np.concatenate([pile[:6], pile[30:33], new]),
             y=np.array([0] * 6 + [1] * 3 + [0, 1] * 6))
    many = np.concatenate([pile, new])
    np.savez(tmp_path / "many.npz", x=many, y=np.array([0] * 40 + [0, 1] * 6))
    run = _pile_run(tmp_path, capsys, tmp_path / "pile")
    argv = ["--normal", "0", "--no-controls", "--no-progress", "--threads", "1"]
    # 40 image files to decode again for 21 images scored: not done, said in one line
    assert main(["evaluate", str(run), "--data", str(tmp_path / "few.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert err.count("not checked") == 1, err
    assert f"note: {tmp_path / 'few.npz'}: not checked for images {run} was trained on (it keeps no " \
           f"train_hashes.npz" in err, err
    assert "would decode the 40 images of the run's data again, more than the 21 scored here" in err, err
    assert not (run / "train_hashes.npz").exists()
    # 52 images scored: the 40 files are decoded again, their checksums kept for next time
    assert main(["evaluate", str(run), "--data", str(tmp_path / "many.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert "40 of its 52 test images (40 normal, 0 anomalous) are images" in err and "not checked" not in err, err
    assert (run / "train_hashes.npz").is_file()
    # then the smaller data is checked too, from the record
    assert main(["evaluate", str(run), "--data", str(tmp_path / "few.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert "9 of its 21 test images (6 normal, 3 anomalous) are images" in err and "not checked" not in err, err
    # the training images edited since, or gone: not counted as the run's (their checksum is not split.json's), said
    (run / "train_hashes.npz").unlink()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "pile" / "03.png")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "many.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert "are images" not in err and err.count("not checked") == 1, err
    assert f"the images rebuilt from {tmp_path / 'pile'} are not the training images split.json records" in err, err
    assert not (run / "train_hashes.npz").exists()
    shutil.rmtree(tmp_path / "pile")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "many.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert f"the run's data {tmp_path / 'pile'} is gone" in err and err.count("not checked") == 1, err


def test_the_note_that_data_was_not_checked_for_training_images_is_short_and_said_at_every_evaluation(tmp_path,
                                                                                                      capsys):
    # the note of a run without train_hashes.npz repeated at each evaluation, in three long clauses that named the run
    # twice. It is still said each time (the check is of the data evaluated, maybe other data each time, and a clean
    # check is silent: said once, a later evaluation would read as checked), in one short line, and nothing is
    # written into the run folder to remember it
    from PIL import Image

    from wildgan.training.run import RUN_OUTPUTS

    rng = np.random.default_rng(1)
    (tmp_path / "pile").mkdir()
    for i, im in enumerate(rng.integers(0, 255, (40, 8, 8), dtype=np.uint8)):
        Image.fromarray(im).save(tmp_path / "pile" / f"{i:02d}.png")
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", x=rng.integers(0, 255, (12, 8, 8), dtype=np.uint8), y=np.array([0, 1] * 6))
    run = _pile_run(tmp_path, capsys, tmp_path / "pile")
    argv = ["--normal", "0", "--no-controls", "--no-progress", "--threads", "1"]
    for name in ("a", "b", "a"):
        assert main(["evaluate", str(run), "--data", str(tmp_path / f"{name}.npz"), *argv]) == 0
        notes = [ln for ln in capsys.readouterr().err.splitlines() if "not checked" in ln]
        assert notes == [f"wildgan: note: {tmp_path / f'{name}.npz'}: not checked for images {run} was trained on (it "
                         f"keeps no train_hashes.npz, and rebuilding it would decode the 40 images of the run's data "
                         f"again, more than the 12 scored here)"], notes
        # (an evaluation's own outputs only: no record of the note)
        assert {p.name for p in run.iterdir()} <= set(RUN_OUTPUTS), sorted(p.name for p in run.iterdir())


def test_score_of_labelled_data_counts_the_runs_own_training_images_once(tmp_path, capsys, monkeypatch):
    # `score --data D --normal CLASS` labels its rows for an AUC as evaluate does: the same warning, said once, also
    # for a run without train_hashes.npz (rebuilt; a run folder that takes no file still gets its count). Images
    # scored without labels (a pile) are not checked: no AUC is made of them
    import wildgan.data.splits as splits

    rng = np.random.default_rng(2)
    pile = rng.integers(0, 255, (40, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "pile.npz", x=pile)
    new = rng.integers(0, 255, (12, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "labelled.npz", x=np.concatenate([pile[:6], pile[30:33], new]),
             y=np.array([0] * 6 + [1] * 3 + [0, 1] * 6))
    run = _pile_run(tmp_path, capsys, tmp_path / "pile.npz")

    def read_only(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(splits, "write_train_hashes", read_only)
    argv = ["--no-progress", "--threads", "1", "--out", str(tmp_path / "s.csv")]
    assert main(["score", str(run), "--data", str(tmp_path / "labelled.npz"), "--normal", "0", *argv]) == 0
    err = capsys.readouterr().err
    assert err.count("trained on (the same pixels)") == 1, err
    assert "9 of its 21 test images (6 normal, 3 anomalous) are images" in err, err
    assert not (run / "train_hashes.npz").exists()
    assert main(["score", str(run), "--data", str(tmp_path / "labelled.npz"), *argv]) == 0
    err = capsys.readouterr().err
    assert "same pixels" not in err and "not checked" not in err, err
    # the Python API's AUC of labelled data (evaluate_run; Detector makes none): the same count, as a warning
    from wildgan.evaluation.run import evaluate_run

    with pytest.warns(WildganWarning, match="9 of its 21 test images"):
        evaluate_run(run, str(tmp_path / "labelled.npz"), normal=("0",), controls=False, write=False)


def test_a_damaged_final_network_file_says_that_resume_writes_it_again_and_it_does(tiny_npz, tmp_path, capsys):
    # a truncated network-final.safetensors (an interrupted copy) was a bare "checksum mismatch" for score, report and
    # export, though `train --resume` of the finished run writes it again, byte for byte, from its newest checkpoint
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    weights = out / "network-final.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:500])
    capsys.readouterr()
    assert main(["score", str(out), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and f"`wildgan train --out {out} --resume` writes the final networks again" \
        in err, err
    # from Python (Detector.from_run, load_model) the way is train_run's, not a command's
    from wildgan.errors import CheckpointError
    from wildgan.scoring.run import load_model

    with pytest.raises(CheckpointError) as e:
        load_model(out, "cpu")
    assert str(e.value).endswith(f"; train_run(read_run_config({str(out)!r}), {str(out)!r}, resume=True) "
                                 f"(wildgan.training.run, wildgan.config) writes the final networks again from the "
                                 f"run's newest good checkpoint"), e.value
    assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert weights.read_bytes() == good
    assert main(["score", str(out), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 0
    # without checkpoints to write it from, no such advice
    weights.write_bytes(good[:500])
    shutil.rmtree(out / "checkpoints")
    capsys.readouterr()
    assert main(["score", str(out), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "--resume" not in err, err


def test_resume_warns_when_the_runs_config_json_and_yaml_disagree(tiny_npz, tmp_path, capsys):
    # config.json edited by hand (lr): `--resume` alone reads config.yaml and checks it against config.json, so it was
    # refused for "settings that differ from the saved run" that the user never typed, with no word of the two files
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    cfg["train"]["lr"] = 0.002
    (out / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    with pytest.warns(WildganWarning, match=re.escape(f"{out}: its config.json and config.yaml disagree (edited by "
                                                      f"hand?): train.lr: 0.002 -> 0.001 (config.json -> "
                                                      f"config.yaml); --resume continues with config.yaml's")):
        assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 2
    assert "train.lr: 0.002 -> 0.001" in capsys.readouterr().err
    # a refusal for options typed, the files agreeing: no such warning
    cfg["train"]["lr"] = 0.001
    (out / "config.json").write_text(json.dumps(cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        assert main(["train", "--out", str(out), "--resume", "--lr", "0.003", "--no-progress"]) == 2
    assert "train.lr: 0.001 -> 0.003" in capsys.readouterr().err
    # a difference --resume goes on with: the warning, said while the command line is read (before the run's log
    # is made), is in log.txt too, before the line that says which settings it resumes with
    yaml_text = (out / "config.yaml").read_text()
    (out / "config.yaml").write_text(yaml_text.replace("total_kimg: 0.1\n", "total_kimg: 0.2\n"))
    with pytest.warns(WildganWarning, match="disagree"):
        assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    log = (out / "log.txt").read_text().splitlines()
    at = log.index(f"resuming with the settings of {out / 'config.yaml'}")
    assert log[at - 1].startswith(f"warning: {out}: its config.json and config.yaml disagree"), log


def test_file_system_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import wildgan.training.run as run_mod

    def full(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "run" / "checkpoints" / "x.safetensors"))

    monkeypatch.setattr(run_mod, "_train_run", full)
    code = main(["train", "--preset", "tiny", "--total-kimg", "0.01", "--no-progress", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "wildgan: error: [Errno 28] No space left on device" in err and "Traceback" not in err
    assert "stopped: [Errno 28]" in (tmp_path / "run" / "log.txt").read_text()


def test_running_out_of_memory_is_one_line_and_never_a_corrupt_file(tmp_path, capsys, monkeypatch):
    from PIL import Image

    from wildgan.data import image_decode
    import wildgan.training.run as run_mod

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image.Image, "load", lambda self: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):                  # the machine, not the file: not a DataError, not skipped
        image_decode.read_image(tmp_path / "a.png", "per-image")

    def oom(*a, **k):
        raise MemoryError("Unable to allocate 37.0 GiB for an array with shape (100000, 256, 256, 3)")

    monkeypatch.setattr(run_mod, "_train_run", oom)
    code = main(["train", "--preset", "tiny", "--total-kimg", "0.01", "--no-progress", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "wildgan: error: out of memory (Unable to allocate 37.0 GiB" in err and "--resolution" in err


def test_the_cli_starts_without_importing_torch():
    """`wildgan --help` is instant, and a Ctrl-C while a command loads torch ends in main's one-line message."""
    import subprocess
    import sys

    code = "import sys, wildgan, wildgan.cli; wildgan.cli.make_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    # main itself, and a warning, outside torchrun (their rank tag imported wildgan.training, hence torch: seconds)
    code = ("import sys, wildgan.cli\ntry:\n    wildgan.cli.main(['--version'])\nexcept SystemExit:\n    pass\n"
            "wildgan.cli.common.warn('x'); print('torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip().splitlines()[-1] == "False"
    # ... and so do the Python API's entry points (torch comes with the first fit or load)
    code = ("import sys; from wildgan import Detector; import wildgan.detector, wildgan.thresholds; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# names a script may have imported from wildgan.data.readers or wildgan.cli before they moved (commit 3d47ea8)
_MOVED_NAMES = [("wildgan.data.readers", n, "wildgan.data.dataset_files") for n in (
    "CIFAR10_CLASSES", "restricted_unpickle")] + [("wildgan.data.readers", n, "wildgan.data.decode_pool") for n in (
        "CHUNK_POOL_MIN_BYTES", "DecodePool", "PARALLEL_DECODE_MIN_FILES", "ROOM_CHECK_MIN_BYTES", "ROOM_SAMPLE",
        "TRAINING_HOLDS", "decode_workers", "host_memory_available", "release_freed_memory")] + [
    ("wildgan.data.readers", n, "wildgan.data.image_decode") for n in (
        "JPEG_DRAFT_GAP", "decode_pil", "draft_scale", "read_image_sized")] + [
    ("wildgan.data.readers", n, "wildgan.data.imageset") for n in ("READER_CHANGES", "READER_VERSION", "SCALE_FACTOR")
] + [("wildgan.cli", "DEMO_MARKER", "wildgan.training.run"), ("wildgan.cli", "absolute_data_path",
                                                               "wildgan.data.readers"),
     ("wildgan.cli", "load_config_file", "wildgan.config"), ("wildgan.cli", "run_config_file", "wildgan.config")]


@pytest.mark.parametrize("old,name,new", _MOVED_NAMES, ids=lambda v: v)
def test_an_old_import_path_still_resolves_with_a_deprecation_warning(old, name, new):
    import importlib

    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} has moved to {new}\.{name}"):
        got = getattr(importlib.import_module(old), name)
    assert got is getattr(importlib.import_module(new), name)


@pytest.mark.parametrize("old", ["wildgan.data.readers", "wildgan.cli"])
def test_an_unknown_name_of_a_module_with_moved_names_still_raises(old):
    import importlib

    with pytest.raises(AttributeError, match=f"module '{old}' has no attribute 'no_such_name'"):
        importlib.import_module(old).no_such_name


def test_resume_refuses_a_run_of_detector_fit_on_images_in_memory(tmp_path, capsys):
    """Its config has no data (the images were in memory): resuming it would train on the default sample. A fit on a
    folder names it as its data, and is resumed (test_reproducibility_record has the images' comparison)."""
    from wildgan import Detector

    run = tmp_path / "det"
    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run)).fit(x)
    capsys.readouterr()
    # also behind a global option (the command is found after it); --debug re-raises the error
    with pytest.raises(ConfigError, match="was trained by Detector.fit on images given in memory"):
        main(["--debug", "train", "--out", str(run), "--resume"])
    assert main(["train", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "was trained by Detector.fit on images given in memory" in err and "fit(X, resume=True)" in err
    from PIL import Image

    (tmp_path / "pile").mkdir()
    for i in range(16):
        Image.fromarray(x[i]).save(tmp_path / "pile" / f"{i}.png")
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu",
             run_dir=str(run)).fit(tmp_path / "pile")
    from wildgan.evaluation.report import report

    html = report(run, device="cpu", controls=False).read_text()     # a folder: said as it is, not "in-memory"
    assert f"trained by Detector.fit on the images of {(tmp_path / 'pile').resolve()}" in html
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume"]) == 0, capsys.readouterr().err
    assert "nothing to train" in (run / "log.txt").read_text()


def test_a_saved_detector_given_for_a_run_directory_says_how_to_use_it(tmp_path, capsys, monkeypatch):
    """`wildgan score model.json` on a file written by Detector.save said only that it "is a file, not a run
    directory": it names the saved Detector, how Python uses it, and the run folder that holds its networks."""
    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    kw = dict(preset="tiny", total_kimg=0.13, phase_kimg=0.02, resolution=8, device="cpu", threads=1)
    Detector(**kw).fit(x).save(tmp_path / "model")                  # fitted in a temporary run folder, gone now
    Detector(**kw, run_dir=str(tmp_path / "run")).fit(x).save(tmp_path / "kept")
    (tmp_path / "models").mkdir()
    Detector.load(tmp_path / "model").save(tmp_path / "models")    # det.save(DIR): models/detector.*
    monkeypatch.chdir(tmp_path)
    for given, named, json_path in (("model.json", "model.json", "model.json"),
                                    ("model.safetensors", "model.safetensors", "model.json"),
                                    ("model", "model", "model.json"),      # either file of the pair, or its stem
                                    ("models", "models", "models/detector.json")):  # or its folder
        assert main(["score", given, "--out", "s.csv"]) == 2
        err = capsys.readouterr().err
        assert f"{named} is a Detector saved by the Python API (Detector.save), not a run directory, which `wildgan " \
               f"score` reads" in err
        assert f"Detector.load('{json_path}').decision_function(X)" in err
        assert "fit the Detector into a run folder" in err and "Detector(run_dir=DIR, ...).fit(X)" in err
    # its fit's run folder still holds the networks it saved: that is the folder to give the command
    for cmd, argv in (("evaluate", []), ("report", []), ("export", ["--out", "m.onnx"]), ("score", ["--out", "-"])):
        assert main([cmd, "kept.json", *argv]) == 2
        err = capsys.readouterr().err
        assert f"not a run directory, which `wildgan {cmd}` reads" in err
        assert f"Its networks are those of the run {tmp_path / 'run'}: `wildgan {cmd} {tmp_path / 'run'}`" in err
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "m.onnx").exists()
    # a run's own network file keeps its message (the run folder that holds it)
    assert main(["score", str(tmp_path / "run" / "network-final.json"), "--out", "s.csv"]) == 2
    assert f"its run directory is {tmp_path / 'run'}" in capsys.readouterr().err


def test_train_evaluate_on_an_unlabelled_pile_is_refused_before_training(tmp_path, capsys):
    """The split is built before training: --evaluate on a pile (nothing to evaluate) is refused then, with what to
    do instead, not said after the training."""
    from PIL import Image

    pile = tmp_path / "pile"
    pile.mkdir()
    for i, img in enumerate(np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)):
        Image.fromarray(img).save(pile / f"{i:02d}.png")
    run = tmp_path / "run"
    argv = ["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
            "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]
    assert main([*argv, "--evaluate"]) == 2
    err = capsys.readouterr().err
    assert f"--evaluate: {pile} is unlabelled" in err and "no test split to evaluate on" in err
    assert f"`wildgan evaluate {run} --data LABELLED --normal CLASS`" in err
    assert not run.exists()                                          # nothing trained, nothing written
    assert main(argv) == 0 and (run / "network-final.json").is_file()
    # the training of one's own folder ended on its last log line, naming no next step (the demo names them): the
    # commands that use the run, on the terminal, not in log.txt
    err = capsys.readouterr().err
    # a 0.05-kimg training is short: the commands rank and flag by L_r, as the README's rule says (its default a
    # had ranked a pile's elliptocyte the most normal image of all after 13 kimg), and the line says why
    assert (f"next: `wildgan report {run} --score L_r` writes {run / 'report' / 'report.html'} (the most anomalous "
            f"images of the pile, with their heat maps); `wildgan score {run} --data NEW_IMAGES --score L_r "
            f"--threshold contamination --out flagged.csv` flags new images") in err.splitlines()[-1], err
    assert "after a short training (0.064 kimg) the default score a can still follow the pixels" in err, err
    assert "README, 'Which score after a short training'" in err
    assert "next:" not in (run / "log.txt").read_text()


def test_next_step_after_a_long_training_on_a_pile_keeps_the_default_score(capsys):
    """From SHORT_TRAINING_KIMG on (the README's 168-kimg GPU run: a beat L_r) the pile's commands keep the run's own
    score; f-AnoGAN's own score A is kept at any length, and a labelled run's next step is evaluate, which says which
    score to read."""
    from types import SimpleNamespace

    from wildgan.cli.train import _say_next_after_train
    from wildgan.config import SHORT_TRAINING_KIMG

    pile = SimpleNamespace(info={"protocol": "unlabelled"})               # (all it reads of the split)
    for method, nimg, short in (("wildgan", int(SHORT_TRAINING_KIMG * 1000), False),
                                ("wildgan", int(SHORT_TRAINING_KIMG * 1000) - 1, True), ("fanogan", 1000, False)):
        _say_next_after_train(Path("runs/x"), pile, method, nimg)
        err = capsys.readouterr().err
        assert ("--score L_r" in err) is short, (method, nimg, err)
        assert "--threshold contamination --out flagged.csv" in err
    _say_next_after_train(Path("runs/x"), SimpleNamespace(info={"protocol": "npz"}), "wildgan", 1000)
    err = capsys.readouterr().err
    assert "`wildgan evaluate runs/x`" in err and "--score" not in err


def test_score_ids_are_relative_to_the_data_folder_however_it_is_read(tmp_path, monkeypatch, capsys):
    """An MVTec-like tree scored with `--data TREE --normal good` (its test split, labelled) and `--data TREE` (every
    image, a pile) names each file by one id, its path relative to TREE, as the run's own files do, whether TREE is
    typed relative or absolute; the pile's ids were `tree/test/good/00.png` (or absolute), so the two CSVs' rows did
    not join. Image files, or several paths, keep the paths as given."""
    import csv
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    tree = tmp_path / "tree"
    for sub, n in (("train/good", 24), ("test/good", 4), ("test/crack", 4)):
        (tree / sub).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tree / sub / f"{i:02d}.png")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tree), "--normal", "good", "--preset", "tiny", "--total-kimg", "0.02",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    monkeypatch.chdir(tmp_path)

    def ids(*data: str) -> list[str]:
        capsys.readouterr()
        assert main(["score", str(run), "--data", *data, "--threads", "1", "--no-progress", "--out", "-"]) == 0
        return [r["id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]

    test = [f"test/{c}/{i:02d}.png" for c in ("crack", "good") for i in range(4)]
    assert sorted(ids("tree", "--normal", "good")) == test
    pile = ids("tree")
    assert pile == test + [f"train/good/{i:02d}.png" for i in range(24)]
    assert ids(f"{tree}/") == ids("./tree") == pile                 # typed absolute, or another way: the same ids
    assert ids("tree/test") == [t[len("test/"):] for t in test]      # relative to the folder given
    assert ids("tree/test/crack/00.png", "tree/test/good") == \
        ["tree/test/crack/00.png", *[f"tree/test/good/{i:02d}.png" for i in range(4)]]


def _into_closed_pipe(argv: list[str], cwd: Path, before: str = "", stderr_too: bool = False):
    """`wildgan ARGV | head` whose reader has left: the command run in a subprocess whose stdout is a pipe already
    closed at its reading end. Without PYTHONUNBUFFERED (set in
    some CI and IDE shells): a user's stdout into a pipe is block-buffered, and what is left in its buffer fails when
    Python flushes it on exit (that case went unseen where it was set). `before`: code run before main (a command
    replaced in wildgan.cli); `stderr_too`: stderr into that pipe as well (`2>&1 | head`)."""
    import subprocess
    import sys

    code = ("import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
            + ("os.dup2(w, 2); " if stderr_too else "") + "import wildgan.cli as c; from wildgan.cli import main\n"
            + before + "\nsys.exit(main(sys.argv[1:]))")
    env = buffered_env()
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, cwd=cwd)


@pytest.mark.parametrize("argv", [["info", "--preset", "tiny", "--resolution", "16", "--channels", "1"], ["--help"],
                                  ["--version"], []])
def test_a_reader_that_leaves_early_is_not_an_error(tmp_path, argv):
    """`wildgan info | head -1`: the broken pipe ends quietly (exit 141), no 'error' line, no traceback, and no
    "Exception ignored ... BrokenPipeError" with exit 120 from Python's flush of stdout on exit; the same for what
    argparse prints before its SystemExit (--help, --version) and a bare `wildgan`'s list of commands."""
    proc = _into_closed_pipe(argv, tmp_path)
    assert proc.returncode == 141 and "error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr and "Broken pipe" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("where", ["as the command prints", "as its output is flushed at the end"])
def test_a_reader_that_leaves_early_is_shown_with_debug(tmp_path, where):
    """`wildgan --debug info | head -1`: --debug asked to see what happened, and the broken pipe ended the command
    with exit 141 and not a word, as without it. The traceback is now on stderr, open while stdout is closed; still
    exit 141. Without --debug it stays quiet; with stderr closed too (`2>&1 | head`) there is nobody to show it to,
    and nothing fails on exit (120). Its own write (more than stdout's buffer holds), or the flush after the command."""
    # (a print of less than stdout's buffer fails when main flushes it; the real `info` writes through
    # common.write_stdout, which flushes its own output)
    before = f"c.cmd_info = lambda a: print('x' * {100_000 if where == 'as the command prints' else 10}) or 0"
    argv = ["info", "--preset", "tiny"]
    shown = _into_closed_pipe(["--debug", *argv], tmp_path, before)
    assert shown.returncode == 141 and shown.stderr.startswith("Traceback (most recent call last):"), shown.stderr
    assert shown.stderr.rstrip().endswith("BrokenPipeError: [Errno 32] Broken pipe"), shown.stderr
    # (where it broke: the command's write, or main's flush)
    assert ("in <lambda>" in shown.stderr) == (where == "as the command prints") != \
        ("sys.stdout.flush()" in shown.stderr), shown.stderr
    assert "Exception ignored" not in shown.stderr, shown.stderr
    quiet = _into_closed_pipe(argv, tmp_path, before)
    assert (quiet.returncode, quiet.stderr) == (141, ""), quiet.stderr
    both = _into_closed_pipe(["--debug", *argv], tmp_path, before, stderr_too=True)
    assert (both.returncode, both.stderr) == (141, ""), both.stderr


def test_a_study_into_a_closed_pipe_ends_quietly_with_its_files_whole(tiny_npz, tmp_path):
    """`wildgan study ... | head -n 3`: the study runs (it writes nothing to stdout before its tables), then its
    tables printed into the closed pipe end it quietly, exit 141, its files whole; `... 2>&1 | head -n 2`: it stops
    at its first progress line after that, exit 141, and log.txt says the reader went away, not a Broken pipe
    error."""
    argv = ["study", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
            "--contamination", "0", "--seeds", "0", "--threads", "1", "--no-progress"]
    proc = _into_closed_pipe([*argv, "--out", "st"], tmp_path)
    assert proc.returncode == 141, proc.stderr
    for bad in ("Traceback", "Exception ignored", "Broken pipe", "error"):
        assert bad not in proc.stderr, proc.stderr
    st = tmp_path / "st"
    assert [json.loads(line)["cell"] for line in (st / "results.jsonl").read_text().splitlines()] == \
        ["0_g0_wildgan_image_s0"]
    assert (st / "tables.md").read_text().startswith("# Study results") and (st / "tables.csv").read_text().count(
        "\n") >= 2
    assert "Broken pipe" not in (st / "log.txt").read_text()
    # `2>&1 | head -n 2`: the reader takes the study's first two lines and leaves while the cell trains
    import subprocess
    import sys

    env = buffered_env()
    with subprocess.Popen([sys.executable, "-m", "wildgan", *argv, "--out", "st2"], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as head:
        first = [head.stdout.readline(), head.stdout.readline()]
        head.stdout.close()
        # (120: Python's own flush of stderr on exit failed after the command's end, with an "Exception ignored")
        assert head.wait(timeout=300) == 141, first
    assert first[0].startswith("study: 1 cell -> st2"), first       # (it read '1 cells')
    log = (tmp_path / "st2" / "log.txt").read_text()
    # (was "stopped: [Errno 32] Broken pipe": a failure, to whoever reads the log later)
    assert log.splitlines()[-1] == "stopped: the reader of its output went away (a pipe closed early, e.g. by " \
                                   "`| head`)" and "Errno" not in log, log
    assert all(json.loads(line) for line in (tmp_path / "st2" / "results.jsonl").read_text().splitlines()) \
        if (tmp_path / "st2" / "results.jsonl").exists() else True


def test_a_broken_pipe_that_is_not_the_output_is_an_error(monkeypatch, capsys):
    """A BrokenPipeError while stdout and stderr are open (a worker process's pipe) is said as an error, exit 1,
    not taken for a reader that left (exit 141 without a word)."""
    import wildgan.cli as cli

    def broken(a):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_info", broken)
    assert main(["info", "--preset", "tiny"]) == 1
    assert capsys.readouterr().err == "wildgan: error: [Errno 32] Broken pipe\n"


class _DeadStderr(io.StringIO):
    """stderr after its terminal or reader went away: closed, or each write failing with a hung-up terminal's EIO or
    a closed pipe's EPIPE."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        if how == "closed":
            self.close()

    def write(self, text: str) -> int:
        if self.how == "EIO":
            raise OSError(errno.EIO, "Input/output error")
        if self.how == "EPIPE":
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        return super().write(text)


@pytest.mark.parametrize("how", ["closed", "EIO", "EPIPE"])
@pytest.mark.parametrize("end,code", [("WildganError", 2), ("OSError", 1), ("MemoryError", 1), ("Terminated", 143),
                                      ("KeyboardInterrupt", 130)])
def test_a_command_s_end_keeps_its_exit_code_with_its_stderr_gone(how, end, code, monkeypatch):
    """main's own line for a command's error or stop, written to a stderr that is gone (a hung-up terminal's EIO, a
    closed pipe, a closed stream), raised in its handler: the command died with a traceback or a bare ValueError,
    or (a closed pipe) answered 141 as for a reader of its output gone. Its exit code is now the one it ends with."""
    import wildgan.cli as cli
    from wildgan.errors import Terminated, WildganError

    raised = {"WildganError": WildganError("/runs/x: no run here"), "OSError": OSError(errno.ENOSPC, "No space left"),
              "MemoryError": MemoryError(), "Terminated": Terminated(), "KeyboardInterrupt": KeyboardInterrupt()}

    def ends(a):
        raise raised[end]

    monkeypatch.setattr(cli, "cmd_info", ends)
    monkeypatch.setattr(sys, "stderr", _DeadStderr(how))
    assert main(["info", "--preset", "tiny"]) == code


def test_an_error_after_the_training_with_its_terminal_gone_is_in_log_txt_with_its_exit_code(tiny_npz, tmp_path,
                                                                                          monkeypatch):
    """A full disk as the training images are scored, with the terminal gone by then (EIO): the note and main's
    error line cannot be written, log.txt says how the run ended, and the exit code is an OSError's."""
    import wildgan.cli.train as train_cli
    import wildgan.training.run as run_mod
    from wildgan.training.loop import TrainResult

    out = tmp_path / "run"

    def trained(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")

    def full(*a, **k):
        sys.stderr = _DeadStderr("EIO")                 # (restored by monkeypatch)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stderr", sys.stderr)
    monkeypatch.setattr(run_mod, "train_run", trained)
    monkeypatch.setattr(train_cli, "_score_training_images", full)
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress", "--out",
                 str(out)]) == 1
    line = (out / "log.txt").read_text(encoding="utf-8").splitlines()[-1]
    assert line.startswith("stopped: failed after the training, while the training images were scored: [Errno 28] "
                           "No space left on device; the training is complete"), line
    assert line.endswith(f"to finish, run `wildgan train --out {out} --resume`"), line


def test_an_error_said_into_a_closed_pipe_keeps_its_exit_code(tmp_path):
    """`wildgan evaluate NO_RUN 2>&1 | ...` with the reader gone: the error's line met the closed pipe and the
    command answered 141, as for a reader of its output that left on purpose; it is the error's 2 now, without a word
    about the pipe (nor Python's exit status 120 for what stayed buffered)."""
    import subprocess

    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "wildgan", "evaluate", str(tmp_path / "no run")], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=w, timeout=120)
    finally:
        os.close(w)
    assert proc.returncode == 2


def test_keep_checkpoints_all_keeps_every_checkpoint_and_replays(tiny_npz, tmp_path, capsys):
    assert dry_run(capsys, "--keep-checkpoints", "all")["train"]["keep_checkpoints"] is None
    assert dry_run(capsys, "--keep-checkpoints", "0")["train"]["keep_checkpoints"] == 0
    with pytest.raises(SystemExit):
        main(["train", "--out", "x", "--dry-run", "--keep-checkpoints", "-1"])
    assert "must be at least 0 or 'all', got -1" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.4",
                 "--phase-kimg", "0.1", "--checkpoint-kimg", "0.02", "--keep-checkpoints", "all", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--out", str(out)]) == 0
    assert len(list((out / "checkpoints").glob("ckpt-*.json"))) >= 5          # default: the newest 3
    again = dry_run(capsys, "--config", str(out / "config.yaml"))
    assert again["train"]["keep_checkpoints"] is None


def test_a_paper_length_cpu_run_says_it_takes_days(tiny_npz, tmp_path, monkeypatch):
    # the default length is the paper's (4000 kimg at 32x32): on a CPU that is days, which the bar alone hid
    # (its images/s ETA at 4x4 said 37 minutes); a short run says nothing
    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
              "--no-progress", "--device", "cpu"]
    import wildgan.training.loop as loop

    def stop(*a, **k):                      # the warning comes before the first iteration: no need to train more
        raise RuntimeError("stopped by the test")

    with monkeypatch.context() as m:
        m.setattr(loop.StepRunner, "iteration", stop)
        with pytest.warns(UserWarning, match="training 2000 kimg on a CPU can take days") as said, \
                pytest.raises(RuntimeError, match="stopped by the test"):
            main([*common, "--total-kimg", "2000", "--out", str(tmp_path / "long")])
        # the shorter schedule it suggests reaches the run's full resolution (8x8 here: 60 + 20 kimg); a fixed
        # --total-kimg 200 --phase-kimg 40 ended before the last fade-in at 32x32 and above
        assert "try --total-kimg 80 --phase-kimg 30 --transition-kimg 30" in str(said[0].message)
    with warnings.catch_warnings(record=True) as got:        # a --minutes budget ends the run first: no warning
        warnings.simplefilter("always")
        assert main([*common, "--total-kimg", "2000", "--minutes", "0.002", "--out", str(tmp_path / "budget")]) == 0
    assert not [w for w in got if "can take days" in str(w.message)]
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        assert main([*common, "--total-kimg", "0.1", "--phase-kimg", "0.03", "--out", str(tmp_path / "short")]) == 0
    assert not [w for w in got if "can take days" in str(w.message)]


def test_a_run_that_ends_before_full_resolution_says_so(tiny_npz, tmp_path, capsys):
    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
              "--no-progress", "--no-train-scores"]
    assert main([*common, "--total-kimg", "0.1", "--phase-kimg", "0.5", "--out", str(tmp_path / "short")]) == 0
    err = capsys.readouterr().err
    # 8x8 = 1 stable + 1 fade phase: the fade ends at 1 kimg, inside the round 0.960-1.024 (rounds of 4 x 16), so
    # the first round at lod 0 is 1.024-1.088, where they are grown; the paper's schedule adds 2/3 of a phase
    assert ("training ended at 0.128 kimg (lod 1), before the networks finished growing to 8x8: with phases of "
            "0.5 kimg they are grown at 1.088 kimg (the end of the first round of minibatches at full resolution), "
            "and the paper's schedule (the default --total-kimg) trains 1.334 kimg. The "
            f"run is scored at the resolution it reached; continue it with `wildgan train --out {tmp_path / 'short'} "
            "--resume --total-kimg 1.334`") in err, err
    # once, in the options' words: not train_run's warning in the RunConfig's terms as well
    assert err.count("finished growing") == 1 and "train.total_kimg" not in err, err
    # a labelled run without --evaluate: its next step is the evaluation
    assert f"next: `wildgan evaluate {tmp_path / 'short'}` measures its AUCs on the test split" in err, err
    assert main([*common, "--total-kimg", "0.1", "--phase-kimg", "0.03", "--out", str(tmp_path / "grown")]) == 0
    assert "before the networks finished growing" not in capsys.readouterr().err
    # a --minutes budget that runs out first leaves the same unfinished networks: said too (as Detector.fit does),
    # with the budget as the reason, since --resume --total-kimg alone would stop at the same budget again
    assert main([*common, "--phase-kimg", "0.5", "--minutes", "0.00001", "--out", str(tmp_path / "budget")]) == 0
    err = capsys.readouterr().err
    assert "the --minutes 1e-05 budget ran out), before the networks finished growing to 8x8" in err, err
    # its total is the default 1.334 kimg, which grows them: more minutes are what it needs, and advising the
    # --total-kimg it already has read as if its total were the problem
    assert (f"continue it with `wildgan train --out {tmp_path / 'budget'} --resume --minutes MINUTES`, MINUTES "
            "above its 1e-05 (its --total-kimg 1.334 grows them)") in err, err
    # a budget run whose own total is too short too needs both
    assert main([*common, "--phase-kimg", "0.5", "--total-kimg", "0.9", "--minutes", "0.00001",
                 "--out", str(tmp_path / "both")]) == 0
    err = capsys.readouterr().err
    assert f"`wildgan train --out {tmp_path / 'both'} --resume --total-kimg 1.334 --minutes MINUTES`" in err, err
    # phases shorter than a round of 4 minibatches (64 images): the paper's total (0.02667 kimg) ends before the
    # growth does too, and was said beside 'above 0.064' as if it were a way out
    assert main([*common, "--total-kimg", "0.02", "--phase-kimg", "0.01", "--out", str(tmp_path / "tiny")]) == 0
    err = capsys.readouterr().err
    assert "before the networks finished growing to 8x8" in err and "paper's schedule" not in err, err
    # (it said 'ended at 0.064 kimg ... a --total-kimg above 0.064': the start of the first round at lod 0, which is
    # where this run ended; the number said is now where they are grown, and the advice is no less)
    assert "training ended at 0.064 kimg (lod 1)" in err and "they are grown at 0.128 kimg" in err and \
        "--resume --total-kimg 0.128`" in err, err


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_stop_as_the_final_networks_are_written_waits_for_both_files(stop, tiny_npz, tmp_path, monkeypatch, capsys):
    """A SIGTERM (a scheduler's) or a Ctrl-C between network-final.safetensors and its .json left the weights without
    their record: the CLI's handler (Python's KeyboardInterrupt) raised in the middle of the final save. The two files
    are one commit that the signal waits for: both are written, then the command ends as for a stop in the last round
    (the training complete, what was to follow not run), exit 143 (130), and log.txt says so."""
    import signal

    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    signum = getattr(signal, stop)

    def write(path, text, *a, **k):
        if Path(path).name == "network-final.json":       # the weights are written, the record not yet
            assert callable(signal.getsignal(signum))      # (the CLI's handler: never pytest's default)
            signal.raise_signal(signum)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    out = tmp_path / "run"
    got = main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                "--no-progress", "--no-train-scores", "--total-kimg", "0.1", "--phase-kimg", "0.03", "--out", str(out)])
    err = capsys.readouterr().err
    said = f"{stop_words(signum)} as training ended at "
    assert got == 128 + signum and said in err and "the training is complete and its networks are saved" in err, err
    # --no-train-scores without --evaluate: nothing was to follow the training, so nothing is said to be left undone
    # (it said "(the training scores, --evaluate) was not run", neither of which this command would have run)
    assert "was not run" not in err and "--resume" not in err, err
    assert (out / "network-final.safetensors").is_file() and (out / "network-final.json").is_file()
    assert said in (out / "log.txt").read_text(encoding="utf-8").splitlines()[-1]


@pytest.mark.parametrize("scores,evaluate,method", [(True, False, "wildgan"), (False, True, "wildgan"),
                                                    (True, True, "wildgan"), (False, False, "wildgan"),
                                                    (True, False, "search")])
def test_a_stop_as_training_ended_names_only_what_this_command_left_undone(scores, evaluate, method, tiny_npz,
                                                                            tmp_path, monkeypatch, capsys):
    """A stop as training ended said "(the training scores, --evaluate) was not run" whatever the command: with
    --no-train-scores and no --evaluate nothing was left undone. It names what this command would still have run
    (latent search scores its training images later, not at the end of train), and the command that finishes it
    names --evaluate only where it was given; with nothing left, neither is said, on the terminal or in log.txt."""
    import wildgan.cli as cli
    import wildgan.training.run as run_mod
    from wildgan.errors import TrainingInterrupted, left_after_training

    out = tmp_path / "my run"

    def stopped(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        # (as the loops raise it: every step that may follow the training, no advice)
        raise TrainingInterrupted(f"terminated by SIGTERM as training ended at 0.128 kimg; the training is complete "
                                  f"and its networks are saved ({run_dir / 'network-final.json'})", 15,
                                  where="as training ended at 0.128 kimg", checkpoint_dir=str(run_dir / "checkpoints"),
                                  complete=True, not_run=left_after_training())

    monkeypatch.setattr(run_mod, "train_run", stopped)
    argv = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--method", method,
            "--no-progress", "--out", str(out), *([] if scores else ["--no-train-scores"]),
            *(["--evaluate"] if evaluate else [])]
    assert main(argv) == 143
    err = capsys.readouterr().err
    left = ", ".join([*(["the training scores"] if scores and method != "search" else []),
                      *(["--evaluate"] if evaluate else [])])
    (line,) = [ln for ln in (out / "log.txt").read_text(encoding="utf-8").splitlines() if ln.startswith("stopped: ")]
    assert f"wildgan: {line[len('stopped: '):]}" in err, (line, err)
    if left:
        again = f"wildgan train --out '{out}' --resume{' --evaluate' if evaluate else ''}"
        assert line.endswith(f"networks are saved ({out / 'network-final.json'}); what was to follow it ({left}) "
                             f"was not run; to finish, run `{again}`"), line
        # the command it names parses
        assert cli.make_parser().parse_args(["train", "--out", str(out), "--resume",
                                             *(["--evaluate"] if evaluate else [])]).resume
    else:
        assert line.endswith(f"networks are saved ({out / 'network-final.json'})"), line
        assert "was not run" not in err and "--resume" not in err, err


@pytest.mark.parametrize("stop,during,evaluate", [("SIGTERM", "scores", False), ("SIGHUP", "scores", True),
                                                  ("SIGINT", "evaluate", True)])
def test_a_stop_after_the_training_is_told_with_what_is_left_and_the_command_that_finishes_it(
        stop, during, evaluate, tiny_npz, tmp_path, monkeypatch, capsys):
    """A Ctrl-C, SIGTERM or SIGHUP a moment after the training's last round, while the training images were scored or
    --evaluate ran, said only `wildgan: terminated by SIGTERM` on the terminal, and nothing in log.txt, which ended on
    `trained ... (done)` as if the run were whole (under torchrun, with its terminal closed, there was no word at
    all). It is now said as a stop as training ended is, on the terminal and in log.txt: the training complete, what
    was left from the step it stopped, the command that finishes it; exit 128 + the signal."""
    import signal

    import wildgan.cli as cli
    import wildgan.cli.train as train_cli
    import wildgan.training.run as run_mod
    from wildgan.training.loop import TrainResult

    out = tmp_path / "my run"
    signum = getattr(signal, stop)

    def trained(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")

    def stopped(*args, **kw):
        assert callable(signal.getsignal(signum))          # (the CLI's handler, or Python's Ctrl-C: never pytest's)
        signal.raise_signal(signum)
        return 0

    monkeypatch.setattr(run_mod, "train_run", trained)
    monkeypatch.setattr(train_cli, "_score_training_images",
                        stopped if during == "scores" else lambda *args, **kw: None)
    monkeypatch.setattr(train_cli, "cmd_evaluate", stopped)
    argv = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress", "--out", str(out),
            *(["--evaluate"] if evaluate else [])]
    assert main(argv) == 128 + signum
    err = capsys.readouterr().err
    log = (out / "log.txt").read_text(encoding="utf-8").splitlines()
    assert log[-2].startswith("trained 0.128 kimg (done)") and log[-1].startswith("stopped: "), log
    assert f"wildgan: {log[-1][len('stopped: '):]}" in err, (log, err)
    again = f"wildgan train --out '{out}' --resume{' --evaluate' if evaluate else ''}"
    left = ", ".join([*(["the training scores"] if during == "scores" else []), *(["--evaluate"] if evaluate else [])])
    step = ("while the training images were scored" if during == "scores" else
            "while the run was evaluated (--evaluate)")
    assert log[-1] == (f"stopped: {stop_words(signum)} after the training, {step}; the training is complete and its "
                       f"networks are saved ({out / 'network-final.json'}); what was to follow it ({left}) was not "
                       f"run; to finish, run `{again}`"), log[-1]
    # the command it names parses
    assert cli.make_parser().parse_args(["train", "--out", str(out), "--resume",
                                         *(["--evaluate"] if evaluate else [])]).resume


@pytest.mark.parametrize("during,evaluate", [("scores", True), ("evaluate", True), ("scores", False)])
def test_an_error_after_the_training_is_recorded_with_what_is_left_and_the_command_that_finishes_it(
        during, evaluate, tiny_npz, tmp_path, monkeypatch, capsys):
    """An OSError after the training's last round (a full disk as the training images were scored or --evaluate ran)
    reached the terminal alone: log.txt ended on `trained ... (done)` as if the run were whole. It is recorded there as
    a stop after the training is, with the error, what was left and the command that finishes it; the terminal gets
    a note of the same and main's line for the error, whose exit code is unchanged."""
    import errno

    import wildgan.cli.train as train_cli
    import wildgan.training.run as run_mod
    from wildgan.training.loop import TrainResult

    out = tmp_path / "my run"
    full = OSError(errno.ENOSPC, "No space left on device", str(out / "train_scores.csv"))

    def trained(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")

    def failed(*args, **kw):
        raise full

    monkeypatch.setattr(run_mod, "train_run", trained)
    monkeypatch.setattr(train_cli, "_score_training_images", failed if during == "scores" else lambda *a, **k: None)
    monkeypatch.setattr(train_cli, "cmd_evaluate", failed)
    argv = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress", "--out", str(out),
            *(["--evaluate"] if evaluate else [])]
    assert main(argv) == 1
    err = capsys.readouterr().err
    log = (out / "log.txt").read_text(encoding="utf-8").splitlines()
    assert log[-2].startswith("trained 0.128 kimg (done)"), log
    again = f"wildgan train --out '{out}' --resume{' --evaluate' if evaluate else ''}"
    left = ", ".join([*(["the training scores"] if during == "scores" else []), *(["--evaluate"] if evaluate else [])])
    step = ("while the training images were scored" if during == "scores" else
            "while the run was evaluated (--evaluate)")
    finish = (f"the training is complete and its networks are saved ({out / 'network-final.json'}); what was to follow "
              f"it ({left}) was not run; to finish, run `{again}`")
    assert log[-1] == f"stopped: failed after the training, {step}: {full}; {finish}", log[-1]
    assert err.rstrip().endswith(f"wildgan: note: {finish}\nwildgan: error: {full}"), err


def test_a_terminal_gone_as_the_trained_line_is_shown_is_recorded_as_an_error_after_the_training(
        tiny_npz, tmp_path, monkeypatch, capsys):
    """The `trained ... (done)` line (and the warning of networks not grown) were said before the block that records
    a stop or an error after the training: a dead terminal's EIO as the line was shown (after log.txt had it) ended
    the command with log.txt on `trained ... (done)`, as if the run were whole and its training scores written. Now
    recorded as any error after the training is, without claiming a step that had not begun."""
    import errno

    import wildgan.cli.common as common
    import wildgan.cli.train as train_cli
    import wildgan.training.run as run_mod
    from wildgan.training.loop import TrainResult

    out = tmp_path / "my run"
    gone = OSError(errno.EIO, "Input/output error")
    real = common.eprint
    scored: list[bool] = []

    def trained(cfg, run_dir, **kw):
        run_dir.mkdir(parents=True, exist_ok=True)
        return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")

    def eprint(line: str) -> None:
        if line.startswith("trained "):
            raise gone
        real(line)

    monkeypatch.setattr(run_mod, "train_run", trained)
    monkeypatch.setattr(common, "eprint", eprint)
    monkeypatch.setattr(train_cli, "_score_training_images", lambda *a, **k: scored.append(True))
    argv = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress", "--out", str(out)]
    assert main(argv) == 1
    log = (out / "log.txt").read_text(encoding="utf-8").splitlines()
    assert log[-2].startswith("trained 0.128 kimg (done)") and not scored, log
    again = f"wildgan train --out '{out}' --resume"
    assert log[-1] == (f"stopped: failed after the training: {gone}; the training is complete and its networks are "
                       f"saved ({out / 'network-final.json'}); what was to follow it (the training scores) was not "
                       f"run; to finish, run `{again}`"), log[-1]
    assert capsys.readouterr().err.rstrip().endswith(f"wildgan: error: {gone}")


@pytest.mark.parametrize("signum", [2, 15, 1, 13])
def test_stops_are_worded_by_the_signals_name(signum: int) -> None:
    """One wording for a stop on the terminal and in log.txt: train's said `interrupted by signal 2`, other
    commands `terminated (SIGTERM)` and `interrupted`, log.txt `stopped: KeyboardInterrupt`. A hangup says its usual
    cause; SIGPIPE stands for training stopped as its output's reader went away, said as any command stopped so."""
    assert stop_words(signum) == {
        2: "interrupted by SIGINT (Ctrl-C)", 15: "terminated by SIGTERM",
        1: "hung up by SIGHUP (its terminal closed, e.g. an ssh connection dropped)",
        13: "the reader of its output went away (a pipe closed early, e.g. by `| head`)"}[signum]


def test_a_ctrl_c_before_the_first_training_step_is_said_alike_on_the_terminal_and_in_the_log(
        tiny_npz, tmp_path, monkeypatch, capsys):
    """A Ctrl-C before the loop's own handler is installed (the data being prepared) reaches the CLI as Python's
    KeyboardInterrupt, which has no message: log.txt said `stopped: KeyboardInterrupt` while the terminal said
    `wildgan: interrupted`. Both now name the signal, as a stop inside the loop does."""
    from wildgan.training import run as training_run

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_run, "train_pgan", ctrl_c)
    out = tmp_path / "run"
    got, _ = _train_tiny_to_the_end(tiny_npz, out)
    err = capsys.readouterr().err
    assert got == 130 and err.strip().splitlines()[-1] == "wildgan: interrupted by SIGINT (Ctrl-C)", err
    last = (out / "log.txt").read_text(encoding="utf-8").splitlines()[-1]
    assert last.endswith("stopped: interrupted by SIGINT (Ctrl-C)") and "KeyboardInterrupt" not in last, last


def _train_tiny_to_the_end(tiny_npz: Path, out: Path) -> tuple[int, list[str]]:
    """`wildgan train` of 0.1 kimg into out (its exit code), and the options a --resume of it repeats."""
    args = ["--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)]
    return main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", *args]), args


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_final_save_that_fails_after_a_stop_says_the_failure(stop, tiny_npz, tmp_path, monkeypatch, capsys):
    """A stop held through the end's write, which then failed (a full disk between network-final's two files), was
    said as a plain `interrupted` / `terminated` (log.txt: `stopped: KeyboardInterrupt`): the disk was never named and
    the weights were left without their .json. The failure is said, in log.txt too; --resume finishes the run."""
    import signal

    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    signum = getattr(signal, stop)

    def write(path, text, *a, **k):
        if Path(path).name == "network-final.json":
            assert callable(signal.getsignal(signum))      # (the CLI's handler: never the default, which kills)
            signal.raise_signal(signum)
            raise OSError(28, "No space left on device", str(path))
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    out = tmp_path / "run"
    got, args = _train_tiny_to_the_end(tiny_npz, out)
    err = capsys.readouterr().err
    assert got == 1 and "No space left on device" in err and "interrupted" not in err, err
    *_, failed, note = (out / "log.txt").read_text(encoding="utf-8").splitlines()
    # (then the note of the checkpoints kept and the --resume that continues: walk60)
    assert "No space left on device" in failed and note.startswith("note: the run's checkpoints up to "), (failed, note)
    monkeypatch.setattr(checkpoint, "atomic_write_text", real)
    assert main(["train", "--resume", *args]) == 0, capsys.readouterr().err
    assert (out / "network-final.json").is_file()


def test_a_second_ctrl_c_as_the_end_is_written_gets_out_at_once(tiny_npz, tmp_path, monkeypatch, capsys):
    """A Ctrl-C in the last round (as its checkpoint is written), then another as the final networks are: in the loop
    the second gets out at once (resume.StopFlag), and it must at the end too, where it was held as a first. The
    command says `interrupted`, not that the training ended complete, and names the command that continues from the
    checkpoints kept (a stop this late once left it out); --resume finishes the run."""
    import signal

    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    reached = []

    def write(path, text, *a, **k):
        name = Path(path).name
        if name.startswith("ckpt-") and name.endswith(".json") or name == "network-final.json":
            signal.raise_signal(signal.SIGINT)
            reached.append(name)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    out = tmp_path / "run"
    got, args = _train_tiny_to_the_end(tiny_npz, out)
    err = capsys.readouterr().err
    assert len(reached) == 1 and reached[0].startswith("ckpt-"), reached
    said = (f"interrupted by SIGINT (Ctrl-C); checkpoints kept in {out / 'checkpoints'} (the newest: "
            f"{reached[0].removesuffix('.json')}); continue with `wildgan train --out {out} --resume`")
    assert got == 130 and err.splitlines()[-1] == f"wildgan: {said}", err
    assert "the training is complete" not in err, err
    assert (out / "log.txt").read_text(encoding="utf-8").splitlines()[-1].endswith(f"stopped: {said}")
    assert not (out / "network-final.json").exists()
    monkeypatch.setattr(checkpoint, "atomic_write_text", real)
    assert main(["train", "--resume", *args]) == 0, capsys.readouterr().err
    assert (out / "network-final.json").is_file()


def test_a_sample_run_replays_on_the_sample_whatever_wildgan_data_says(tiny_npz, tmp_path, capsys, monkeypatch):
    # the sample was recorded as data: null, which a --config replay read as $WILDGAN_DATA when that was set: another
    # data set, silently (and the other way round)
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    assert main(["train", "--preset", "tiny", "--out", str(tmp_path / "r"), "--dry-run"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["data"]["data"] == "wildgan:mnist-sample"
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("WILDGAN_DATA", str(tiny_npz))
    assert dry_run(capsys, "--config", str(tmp_path / "c.json"))["data"]["data"] == "wildgan:mnist-sample"
    assert main(["train", "--preset", "tiny", "--normal", "0", "--out", str(tmp_path / "r3"), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["data"] == str(tiny_npz)      # no --data: the variable's


def _fit_with_an_earlier_record(data, run: Path) -> list:
    """A Detector.fit's run on `data`, its config.json rewritten as a wildgan before 305dd4a / e79a4e0 recorded it
    (dataset 'auto' for a folder, an archive or a data-set file, which fit reads whole); the splits that reach
    train_run (the fit's first) are collected in the list returned."""
    import warnings

    import wildgan.training.run as training_run
    from wildgan.detector import Detector

    trained: list = []
    real = training_run.train_run
    training_run.train_run = lambda *a, **k: trained.append(k["split"]) or real(*a, **k)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # (a fit ending before full growth, on purpose)
            Detector(run_dir=str(run), preset="tiny", total_kimg=0.02, phase_kimg=0.1, resolution=16, device="cpu",
                     threads=1).fit(data)
    finally:
        training_run.train_run = real
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["dataset"] in ("unlabelled", "auto")
    config["data"]["dataset"] = "auto"
    (run / "config.json").write_text(json.dumps(config))
    return trained


@pytest.mark.parametrize("kind", ["npz", "class-folders"])
def test_a_config_of_an_earlier_fit_recording_auto_replays_on_every_image_it_read(kind, tmp_path, capsys,
                                                                                  monkeypatch):
    """`wildgan train --config RUN/config.json` of a Detector.fit run that an earlier wildgan recorded with dataset
    'auto' (for an .npz, a tree of class folders, CIFAR-10's batches: fit reads each whole, labels ignored) replayed
    it by its protocol: 'choose the normal class(es) (--normal)', or CIFAR-10's automobile alone. It trains on the
    images the fit trained on, and says how it reads the record."""
    import wildgan.training.run as training_run
    from PIL import Image

    rng = np.random.default_rng(5)
    if kind == "npz":
        data = tmp_path / "lab.npz"
        x = rng.integers(0, 256, (30, 16, 16), dtype=np.uint8)
        np.savez(data, x_train=x[:20], y_train=np.arange(20) % 2, x_test=x[20:], y_test=np.arange(10) % 2)
    else:
        data = tmp_path / "tree"
        for c in ("good", "bad"):
            (data / c).mkdir(parents=True)
            for i in range(12):
                Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(data / c / f"{i}.png")
    run = tmp_path / "run"
    fitted = _fit_with_an_earlier_record(data, run)[0]
    capsys.readouterr()
    trained: list = []
    real = training_run.train_run
    monkeypatch.setattr(training_run, "train_run", lambda *a, **k: trained.append(k["split"]) or real(*a, **k))
    assert main(["train", "--config", str(run / "config.json"), "--out", str(tmp_path / "again"), "--no-progress",
                 "--threads", "1"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"{run / 'config.json'}: dataset 'auto' of a Detector.fit recorded by an earlier wildgan is replayed as " \
           f"'unlabelled': every image of {data}" in err
    assert err.count("replayed as 'unlabelled'") == 1
    replay = trained[0]
    assert len(replay.train_ids) == len(fitted.train_ids) == (30 if kind == "npz" else 24)
    assert replay.info["protocol"] == "unlabelled"
    # the very pixels (the fit keeps the order it read, the replay's split is shuffled)
    assert sorted(map(bytes, replay.train_x)) == sorted(map(bytes, fitted.train_x))
    assert json.loads((tmp_path / "again" / "config.json").read_text())["data"]["dataset"] == "unlabelled"


def test_a_copied_config_yaml_of_a_fit_is_read_by_its_header_s_record(tmp_path, capsys, monkeypatch):
    """A config.yaml copied out of a Detector.fit's run has no split.json beside it, which as_fit_read and
    refuse_in_memory_replay read to tell a fit's run: a copy of a fit recorded 'auto' (an earlier wildgan's, or
    resumed by one) was replayed by the 'auto' protocol ('choose the normal class(es)' for a labelled .npz, CIFAR-10's
    automobile alone: another split than the fit's), and a copy of a fit on images in memory trained on the default
    data, without a word. Its comment header records the fit (detector_input), as split.json does: read so."""
    import warnings

    from wildgan.detector import Detector

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    rng = np.random.default_rng(5)
    data = tmp_path / "lab.npz"
    x = rng.integers(0, 256, (30, 16, 16), dtype=np.uint8)
    np.savez(data, x_train=x[:20], y_train=np.arange(20) % 2, x_test=x[20:], y_test=np.arange(10) % 2)
    run = tmp_path / "run"
    _fit_with_an_earlier_record(data, run)
    text = (run / "config.yaml").read_text()
    assert text.startswith("#") and '"detector_input": true' in text
    # (the whole file as that earlier wildgan's: the settings and the header's record of them say 'auto')
    auto = text.replace("dataset: unlabelled", "dataset: auto").replace('"dataset": "unlabelled"', '"dataset": "auto"')
    assert auto.count("auto") >= 2
    copy = tmp_path / "elsewhere" / "copy.yaml"
    copy.parent.mkdir()
    copy.write_text(auto)
    capsys.readouterr()
    cfg = dry_run(capsys, "--config", str(copy))
    assert cfg["data"]["dataset"] == "unlabelled", cfg["data"]
    assert main(["train", "--config", str(copy), "--out", str(tmp_path / "a"), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert f"{copy}: dataset 'auto' of a Detector.fit recorded by an earlier wildgan is replayed as 'unlabelled': " \
           f"every image of {data}" in err, err
    # without its header (a copy from before config.yaml kept one) nothing tells a fit's 'auto' from a `wildgan
    # train` run's, which is that protocol: replayed as it says
    copy.write_text("".join(line + "\n" for line in auto.splitlines() if not line.startswith("#")))
    assert main(["train", "--config", str(copy), "--out", str(tmp_path / "a"), "--dry-run"]) == 2
    assert "choose the normal class(es)" in capsys.readouterr().err

    # a fit on images in memory: its copy is refused without --data, as its config.json in its run folder is
    memory = tmp_path / "memory"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(run_dir=str(memory), preset="tiny", total_kimg=0.02, phase_kimg=0.1, resolution=16, device="cpu",
                 threads=1).fit(x)
    copy.write_text((memory / "config.yaml").read_text())
    capsys.readouterr()
    assert main(["train", "--config", str(copy), "--out", str(tmp_path / "b"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{copy}: the run was trained by Detector.fit on images given in memory (in-memory ndarray)" in err, err


def test_a_replay_of_a_fit_on_images_in_memory_says_to_give_them(tmp_path, capsys, monkeypatch):
    """A fit on arrays records no data (data: null, dataset 'auto'); its config replayed without --data trained on
    $WILDGAN_DATA or the embedded sample in silence. Refused, saying what to give; with --data it replays."""
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    from PIL import Image

    from wildgan.detector import Detector

    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    run = tmp_path / "run"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(run_dir=str(run), preset="tiny", total_kimg=0.02, phase_kimg=0.1, resolution=16, device="cpu",
                 threads=1).fit(x)
    assert json.loads((run / "config.json").read_text())["data"]["data"] is None
    capsys.readouterr()
    assert main(["train", "--config", str(run / "config.json"), "--out", str(tmp_path / "a"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'config.json'}: the run was trained by Detector.fit on images given in memory (in-memory " \
           "ndarray)" in err and "--data" in err and "--dataset unlabelled" in err, err
    pile = tmp_path / "pile"
    pile.mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im).save(pile / f"{i}.png")
    cfg = dry_run(capsys, "--config", str(run / "config.json"), "--data", str(pile), "--dataset", "unlabelled")
    assert cfg["data"]["data"] == str(pile) and cfg["data"]["dataset"] == "unlabelled"


def test_a_train_run_s_auto_is_its_protocol_on_replay(tmp_path, capsys, monkeypatch):
    """Only a fit's run (split.json's detector_input) has its 'auto' read as 'unlabelled': a `wildgan train` run's
    'auto' chose a protocol, and replays as it is."""
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--resolution", "8", "--total-kimg", "0.02", "--out", str(run),
                 "--no-progress", "--threads", "1", "--no-train-scores"]) == 0
    capsys.readouterr()
    cfg = dry_run(capsys, "--config", str(run / "config.json"))
    assert cfg["data"]["dataset"] == "auto" and cfg["data"]["data"] == "wildgan:mnist-sample"


def test_square_letterbox_its_old_name_pad_and_a_run_that_recorded_pad(tmp_path, capsys):
    """--square letterbox is the option's name (split.json's fit 'letterbox', Detector's resize_mode='letterbox');
    'pad', its old name, still works with a warning that tells it from fit 'pad'. A run recorded with 'pad' by an
    earlier wildgan loads, scores identically, keeps its training-score cache, resumes and replays, all without
    the warning (the record is not the user's typing)."""
    from PIL import Image

    from wildgan.config import read_run_config
    from wildgan.scoring.run import load_model
    from wildgan.scoring.train_scores import read_train_scores

    rng = np.random.default_rng(0)
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (12, 20), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    common = ["--data", str(pile), "--preset", "tiny", "--resolution", "8", "--no-progress", "--threads", "1"]
    run = tmp_path / "run"
    assert main(["train", *common, "--square", "letterbox", "--total-kimg", "0.02", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "old name" not in err and "centre-cropped" not in err, err
    assert json.loads((run / "config.json").read_text())["data"]["square"] == "letterbox"
    assert json.loads((run / "split.json").read_text())["conversion"]["fit"] == "letterbox"
    assert main(["score", str(run), "--data", str(pile), "--out", str(tmp_path / "new.csv")]) == 0
    capsys.readouterr()

    # the old name, typed: a warning naming both, and the run is the same as with the new name
    assert main(["train", *common, "--square", "pad", "--out", str(tmp_path / "x"), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "warning: --square pad is the old name of --square letterbox" in err and "centre-cropped" not in err
    assert "zero-padding images smaller than the resolution" in err
    assert json.loads(out)["data"]["square"] == "letterbox"

    # the run as a wildgan before the rename wrote it: 'pad' in config.json and in the training-score cache's key
    import yaml

    for name in ("config.json", "config.yaml", "train_scores.json"):
        d = (json.loads if name.endswith(".json") else yaml.safe_load)((run / name).read_text())
        assert d["data"]["square"] == "letterbox"
        d["data"]["square"] = "pad"
        (run / name).write_text(json.dumps(d) if name.endswith(".json") else yaml.safe_dump(d, sort_keys=False))
    model = load_model(run, "cpu")
    assert model.cfg.data.square == "letterbox" and read_run_config(run) == model.cfg
    assert read_train_scores(run, model, "mixed") is not None          # the cache is still this run's
    assert main(["score", str(run), "--data", str(pile), "--out", str(tmp_path / "old.csv")]) == 0
    assert "old name" not in capsys.readouterr().err
    assert (tmp_path / "old.csv").read_text() == (tmp_path / "new.csv").read_text()
    assert main(["train", "--config", str(run / "config.json"), "--out", str(tmp_path / "replay"), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "old name" not in err and json.loads(out)["data"]["square"] == "letterbox"
    assert main(["train", "--resume", "--out", str(run), "--total-kimg", "0.04", "--no-progress"]) == 0
    assert "old name" not in capsys.readouterr().err


def test_cifar10_without_data_is_not_the_sample_and_a_resume_keeps_the_samples_name(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    # --dataset cifar10 with no --data: asks for it (or --download), never trains on the MNIST sample
    assert main(["train", "--dataset", "cifar10", "--normal", "1", "--out", str(tmp_path / "c"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "needs --data PATH" in err and "--download" in err     # the CLI's flag, not only the Python keyword
    run = tmp_path / "s"
    common = ["--preset", "tiny", "--normal", "1", "--phase-kimg", "0.02", "--threads", "1", "--no-progress",
              "--no-train-scores"]
    assert main(["train", *common, "--total-kimg", "0.05", "--out", str(run)]) == 0
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.1", "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["data"]["data"] == "wildgan:mnist-sample"
    # --no-train-scores is part of the run's config: a plain --resume remembers it (no training scores written)
    assert json.loads((run / "config.json").read_text())["train"]["train_scores"] is False
    assert not (run / "train_scores.csv").exists()
    assert "scored the" not in capsys.readouterr().err
    # ... and an explicit --train-scores undoes it: recorded, and the training images scored at the end
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.12", "--no-progress",
                 "--train-scores"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["train_scores"] is True
    assert (run / "train_scores.csv").is_file()


def test_a_sample_run_is_evaluated_on_its_own_data_by_wildgan_installed_elsewhere(tmp_path, capsys, monkeypatch):
    # the sample lies inside the package, so its path is the installation's: a sample run evaluated by wildgan
    # installed at another path (a reinstall into another site-packages, a moved checkout) was "other data", written to
    # RUN/eval-mnist-sample-XXXX instead of RUN/eval.json; and a run that recorded the sample's path in config.json
    # (older versions) found its data gone
    import shutil

    from wildgan.data import readers

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--normal", "1", "--phase-kimg", "0.02", "--total-kimg", "0.05",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    trained_with = json.loads((run / "split.json").read_text())["source"]
    assert trained_with == str(readers.default_sample_path())
    # wildgan at another path: the same package tree, the sample in it
    pkg = tmp_path / "elsewhere" / "site-packages" / "wildgan" / "data"
    (pkg / "sample").mkdir(parents=True)
    shutil.copy(readers.default_sample_path(), pkg / "sample")
    monkeypatch.setattr(readers, "__file__", str(pkg / "readers.py"))
    assert readers.default_sample_path() == pkg / "sample" / "mnist-sample.npz" != Path(trained_with)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--threads", "1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "other data" not in err, err
    assert (run / "eval.json").is_file() and not list(run.glob("eval-*")), sorted(p.name for p in run.iterdir())
    # a run of an older version: config.json named the sample by its path, in an installation since removed
    gone = "/gone/lib/python3.11/site-packages/wildgan/data/sample/mnist-sample.npz"
    for name, key in (("config.json", "data"), ("split.json", "source")):
        d = json.loads((run / name).read_text())
        if name == "config.json":
            d["data"]["data"] = gone
        else:
            d["source"] = gone
        (run / name).write_text(json.dumps(d))
    (run / "eval.json").unlink()
    assert main(["evaluate", str(run), "--threads", "1", "--no-progress", "--no-controls"]) == 0, \
        capsys.readouterr().err
    assert (run / "eval.json").is_file() and not list(run.glob("eval-*"))
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-A", "--threads", "1",
                 "--no-progress"]) == 0, capsys.readouterr().err
    # --whole without --data: said to need it, the run's own data included (the word was "images the run was not
    # split from", read as a refusal of its own data, which the next call evaluates whole)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--whole", "--no-controls", "--threads", "1", "--no-progress"]) == 2
    assert (f"{run}: whole-data evaluation needs --data: labelled images, evaluated whole (other data; or the run's "
            f"own, the training images included)") in capsys.readouterr().err
    # the sample given by its path here, evaluated whole: the run's own data, with the note that says so
    assert main(["evaluate", str(run), "--data", str(readers.default_sample_path()), "--whole", "--no-controls",
                 "--threads", "1", "--no-progress"]) == 0
    assert "is the data" in capsys.readouterr().err
    assert [p.name for p in run.glob("eval-*")] == ["eval-data-whole"]
    # a --resume replays it on the sample, by name
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.06", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["data"] == "wildgan:mnist-sample"


def test_study_normal_classes_one_cell_each_or_joined(tmp_path, monkeypatch):
    # study --normal 0,1: two one-vs-rest cells; 0+1: one cell with both classes normal (train --normal 0,1)
    import wildgan.studies as studies
    from wildgan.studies.study import cell_config

    seen = []

    def fake_run_study(base, cells, out, **kw):
        seen.append([(c.normal, cell_config(base, c).data.normal) for c in cells])
        out.mkdir(parents=True, exist_ok=True)
        (out / "tables.md").write_text("tables\n")

    monkeypatch.setattr(studies, "run_study", fake_run_study)
    rng = np.random.default_rng(0)
    npz = tmp_path / "three.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y_train=np.arange(60) % 3,
             x_test=rng.integers(0, 255, (30, 8, 8), dtype=np.uint8), y_test=np.arange(30) % 3)
    common = ["study", "--data", str(npz), "--preset", "tiny", "--total-kimg", "0.1", "--contamination", "0",
              "--no-progress"]
    assert main([*common, "--normal", "0,1", "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--normal", "0+1", "--out", str(tmp_path / "b")]) == 0
    assert [[n for n, _ in cells] for cells in seen] == [["0", "1"], ["0,1"]]
    assert [d for _, d in seen[1]] == [("0", "1")]


def test_study_checks_every_cell_before_training_reading_the_data_once(tiny_npz, tmp_path, monkeypatch, capsys):
    # a bad later cell (a class the data lacks, an f-AnoGAN cell at a size it cannot take) used to fail when reached,
    # after the cells before it had trained and been evaluated; it is refused before any cell trains, by name
    import wildgan.data as data_pkg
    from wildgan.data import splits
    from wildgan.studies import study as study_mod

    trained = []
    monkeypatch.setattr(study_mod, "train_run", lambda cfg, run_dir, **kw: trained.append(run_dir.name))
    loads = []
    for mod in (data_pkg, splits):
        monkeypatch.setattr(mod, "load_dataset", lambda *a, real=mod.load_dataset, **kw: loads.append(a)
                            or real(*a, **kw))
    common = ["study", "--data", str(tiny_npz), "--preset", "tiny", "--total-kimg", "0.1", "--no-progress"]
    capsys.readouterr()
    assert main([*common, "--normal", "0,banana", "--contamination", "0", "--methods", "wildgan,fanogan",
                 "--out", str(tmp_path / "st")]) == 2
    err = capsys.readouterr().err
    assert "3 of the 4 study cells to run cannot be trained; nothing was trained" in err
    assert "cell 0_g0_fanogan_-_s0 (normal 0, gamma 0, method fanogan, seed 0): f-AnoGAN needs square" in err
    assert "cell banana_g0_wildgan_image_s0 (normal banana, gamma 0, method wildgan, encoder loss image, seed 0): " \
           in err and "normal class 'banana' does not exist" in err and "also cell banana_g0_fanogan_-_s0" in err
    assert trained == [] and not (tmp_path / "st" / "runs").exists()
    assert len(loads) == 1                   # the base config, the class names and every cell's split: one read
    loads.clear()
    assert main([*common, "--normal", "all", "--contamination", "0,0.6", "--out", str(tmp_path / "all")]) == 2
    assert len(loads) == 1 and trained == []
    assert "cell 0_g0.6_wildgan_image_s0 (normal 0, gamma 0.6, " in capsys.readouterr().err
    # a gamma outside [0, 1) is the option's error, before the data is read
    assert main([*common, "--contamination", "0,1.5", "--out", str(tmp_path / "g")]) == 2
    assert "--contamination: each gamma must be in [0, 1), got 1.5" in capsys.readouterr().err


def test_sample_grids_every_sample_kimg(tiny_npz, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--total-kimg", "0.3", "--phase-kimg", "0.1",
                 "--checkpoint-kimg", "1", "--sample-kimg", "0.1", "--out", str(out)]) == 0
    grids = sorted(p.name for p in (out / "samples").glob("fakes-*.png"))
    # at the first round (4 iterations of 16 images) past each 100 images, and the final grid; the only checkpoint
    # is the final one (without --sample-kimg that would be the one grid)
    assert grids == ["fakes-000000.128kimg.png", "fakes-000000.256kimg.png", "fakes-000000.320kimg.png"], grids


def test_a_resume_that_trains_nothing_records_the_lod_the_weights_trained_at(tiny_npz, tmp_path):
    # a kill between the last checkpoint and network-final (here: network-final removed), then --resume: the same
    # weights must be recorded (and so scored) at the lod they trained at, not at the next round's
    import shutil

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--total-kimg", "0.16", "--phase-kimg", "0.1",
                 "--out", str(run)]) == 0
    ref = json.loads((run / "network-final.json").read_text())
    assert 0 < ref["lod"] < 1                                      # stopped mid-fade: the case where it matters
    ck = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    assert json.loads(ck.read_text())["lod"] == ref["lod"]         # the checkpoint of the same weights agrees
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    for f in copy.glob("network-final.*"):
        f.unlink()
    assert main(["train", "--out", str(copy), "--resume", "--no-progress", "--no-train-scores"]) == 0
    got = json.loads((copy / "network-final.json").read_text())
    assert got["lod"] == ref["lod"] and got["sha256"] == ref["sha256"]
    # networks written before "lod" was recorded: the schedule gives it from the images seen, not 0
    from wildgan.scoring.run import load_model

    del got["lod"]
    (copy / "network-final.json").write_text(json.dumps(got))
    assert load_model(copy, device="cpu").lod == pytest.approx(ref["lod"], abs=1e-9)


def test_a_resume_with_other_threads_says_the_replay_is_not_exact(tiny_npz, tmp_path):
    run = tmp_path / "run"
    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress",
              "--no-train-scores", "--phase-kimg", "0.05", "--out", str(run)]
    assert main([*common, "--threads", "1", "--total-kimg", "0.1"]) == 0
    assert main(["train", "--out", str(run), "--resume", "--threads", "2", "--total-kimg", "0.15", "--no-progress",
                 "--no-train-scores"]) == 0
    log = (run / "log.txt").read_text()
    assert "note: resumed with other numeric settings (threads 1 -> 2)" in log
    assert json.loads((run / "config.json").read_text())["train"]["threads"] == 2
    # the GP's precision changes nothing without autocast (a CPU run, amp auto): no note for it; under bf16 it does
    assert main(["train", "--out", str(run), "--resume", "--gp-precision", "amp", "--total-kimg", "0.2",
                 "--no-progress", "--no-train-scores"]) == 0
    log = (run / "log.txt").read_text()
    assert "gp_precision" not in log and json.loads((run / "config.json").read_text())["train"]["gp_precision"] == "amp"
    # (0.35: the session before ended at 0.256 kimg, its last round past 0.2; a run finished is noted nothing)
    assert main(["train", "--out", str(run), "--resume", "--gp-precision", "fp32", "--amp", "bf16",
                 "--total-kimg", "0.35", "--no-progress", "--no-train-scores"]) == 0
    log = (run / "log.txt").read_text()
    assert "gp_precision 'amp' -> 'fp32'" in log and "amp 'auto' -> 'bf16'" in log


def test_a_finished_runs_resume_with_other_threads_notes_nothing_and_keeps_the_saved_count(tiny_npz, tmp_path):
    """A resume of a finished run (nothing left to train) with another --threads said 'resumed with other numeric
    settings (threads 1 -> 2): the weights were trained under both', false when nothing trains, and config.json
    then recorded 2."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress",
                 "--no-train-scores", "--phase-kimg", "0.05", "--threads", "1", "--total-kimg", "0.1",
                 "--out", str(run)]) == 0
    assert main(["train", "--out", str(run), "--resume", "--threads", "2", "--no-progress",
                 "--no-train-scores"]) == 0
    log = (run / "log.txt").read_text()
    assert "the run was already finished" in log
    assert "other numeric settings" not in log, log
    assert json.loads((run / "config.json").read_text())["train"]["threads"] == 1
    assert "threads: 1" in (run / "config.yaml").read_text()


def test_a_finished_fanogan_runs_resume_with_other_threads_keeps_the_saved_count(tiny_npz, tmp_path):
    """As the pGAN's (above): a finished f-AnoGAN run's resume with another --threads trains nothing, so config.json
    and config.yaml keep the count that trained its weights (they recorded the new one), and fanogan-final.json its
    intra_op_threads; one that still trains records the new count."""
    import torch

    from wildgan.checkpoint import list_checkpoints

    run = tmp_path / "run"
    argv = ["--no-progress", "--no-train-scores", "--fanogan-dim", "4", "--fanogan-enc-iters", "1"]
    before = torch.get_num_threads()
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--resolution", "32",
                 "--fanogan-iters", "1", "--threads", "1", "--out", str(run), *argv]) == 0
    assert main(["train", "--out", str(run), "--resume", "--threads", "2", *argv]) == 0
    assert torch.get_num_threads() == before
    assert "the run was already finished" in (run / "log.txt").read_text()
    assert json.loads((run / "config.json").read_text())["train"]["threads"] == 1
    assert "threads: 1" in (run / "config.yaml").read_text()
    assert json.loads((run / "fanogan-final.json").read_text())["intra_op_threads"] == 1
    # the encoder's checkpoint gone: the resume trains its one step, under the new count, and the records say so
    newest = list_checkpoints(run / "checkpoints")[-1]
    for f in (newest, newest.with_suffix(".safetensors")):
        f.unlink()
    assert main(["train", "--out", str(run), "--resume", "--threads", "2", *argv]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["threads"] == 2
    assert json.loads((run / "fanogan-final.json").read_text())["intra_op_threads"] == [1, 2]


def test_resumed_config_names_the_settings_it_noted(tiny_npz, tmp_path):
    """_resumed_config gives the names of the numeric settings it noted changed: _train_run found a threads change
    by searching the note's text for '(threads ' / '; threads '."""
    from dataclasses import replace

    from wildgan.training.run import _resumed_config
    from wildgan.config import read_run_config

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress",
                 "--no-train-scores", "--phase-kimg", "0.05", "--threads", "1", "--total-kimg", "0.1",
                 "--out", str(run)]) == 0
    saved = read_run_config(run)
    more = replace(saved, train=replace(saved.train, total_kimg=0.2, threads=2, channels_last=True))
    said: list[str] = []
    cfg, noted = _resumed_config(more, run, said.append)
    assert noted == frozenset({"threads", "channels_last"}) and cfg.train.threads == 2
    assert len(said) == 1 and said[0].startswith("note: resumed with other numeric settings (channels_last")
    back = replace(more, train=replace(more.train, threads=1, channels_last=saved.train.channels_last))
    cfg, noted = _resumed_config(back, run, said.append)
    assert noted == frozenset() and len(said) == 1
    # an unset value is said by what it is: 'threads 1 -> None' named a Python value, not torch's thread count
    said.clear()
    _resumed_config(replace(saved, train=replace(saved.train, total_kimg=0.2, threads=None)), run, said.append)
    assert len(said) == 1 and "(threads 1 -> torch's default)" in said[0], said


def test_sighup_stops_every_command_but_info_and_nohups_is_kept(tmp_path, monkeypatch, capsys):
    """SIGHUP (a dropped ssh session) killed `wildgan train` without a word or a checkpoint: for the commands that
    train it is now handled as SIGTERM is (in training's loop a checkpoint; elsewhere, as here while the data is read,
    one line and 128 + 1), the caller's handler put back after; so it is for the commands that read and score images
    (score, evaluate, report, export), which Python's default killed mid-write. `info`, done in a moment and writing
    nothing, keeps Python's default, and a SIGHUP that nohup ignores stays ignored."""
    import signal

    import wildgan.cli as cli

    seen = {}

    def hung_up(a):
        seen[a.cmd] = signal.getsignal(signal.SIGHUP)
        if a.cmd == "train" and callable(seen["train"]):
            signal.raise_signal(signal.SIGHUP)
        return 0

    for name in ("train", "info", "score", "evaluate", "report", "export"):
        monkeypatch.setattr(cli, f"cmd_{name}", hung_up)
    for argv in (["score", "r", "--out", str(tmp_path / "s.csv")], ["evaluate", "r"], ["report", "r"],
                 ["export", "r", "--out", str(tmp_path / "m")]):
        assert main(argv) == 0 and callable(seen[argv[0]]), argv
    before = signal.getsignal(signal.SIGHUP)
    assert main(["train", "--out", str(tmp_path / "r")]) == 129
    assert capsys.readouterr().err == ("wildgan: hung up by SIGHUP (its terminal closed, e.g. an ssh connection "
                                       "dropped)\n")
    assert callable(seen["train"]) and signal.getsignal(signal.SIGHUP) is before
    assert main(["info", "--preset", "tiny"]) == 0 and seen["info"] is before
    saved = signal.signal(signal.SIGHUP, signal.SIG_IGN)         # nohup's
    try:
        assert main(["train", "--out", str(tmp_path / "r")]) == 0 and seen["train"] is signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, saved)


def test_sighup_stops_a_score_with_its_chunks_kept_and_says_how_to_continue(scoring_pile, tmp_path, capsys):
    """`wildgan score RUN --data PILE --out p.csv > log 2>&1 &` and the ssh session drops: the shell's SIGHUP killed
    it by Python's default, without a word. It now stops as for SIGTERM: its finished chunks kept in p.csv.chunks,
    one line saying so and how to go on (the only word the user finds: score keeps no log), exit 129; the same
    command then scores only the rest, to the same CSV as a scoring never stopped."""
    import signal
    import subprocess
    import sys
    import time

    pile, run, _ = scoring_pile(12)
    out, marker = tmp_path / "p.csv", tmp_path / "first-chunk-saved"
    # in the command's process: the tiny untrained networks of scoring_pile, and a pause after the first chunk is
    # saved, for the hangup to come mid-run
    code = ("import sys, time\n"
            "from wildgan.cli import main\n"
            "from wildgan.config import DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset\n"
            "from wildgan.scoring import run as scoring\n"
            "model = scoring.untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset('tiny', 8, 1), "
            "train=TrainConfig(seed=0), score=ScoreConfig(batch_size=4)), 'cpu')\n"
            "scoring.load_model = lambda *a, **k: model\n"
            "real = scoring._chunk_saver\n"
            "def saver(*a, **k):\n"
            "    save = real(*a, **k)\n"
            "    def saved(*b, **kw):\n"
            "        save(*b, **kw)\n"
            f"        open({str(marker)!r}, 'w').close()\n"
            "        time.sleep(60)\n"
            "    return saved\n"
            "scoring._chunk_saver = saver\n"
            "sys.exit(main(sys.argv[1:]))\n")
    argv = ["score", str(run), "--data", str(pile), "--device", "cpu", "--chunk-size", "4", "--out", str(out),
            "--no-progress"]
    env = {**os.environ, "WILDGAN_DECODE_WORKERS": "1"}
    with subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env) as proc:
        for _ in range(1200):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGHUP)
        said = proc.communicate(timeout=60)[0]
    assert proc.returncode == 129, said            # (was -SIGHUP: killed)
    assert said.splitlines()[-1] == (
        "wildgan: hung up by SIGHUP (its terminal closed, e.g. an ssh connection dropped); 1 of 3 chunks scored and "
        f"kept in {out}.chunks: the same command continues from them, scoring only the rest"), said
    assert not out.exists() and len(list((tmp_path / "p.csv.chunks").glob("chunk-*.npz"))) == 1
    assert main(argv) == 0
    assert "1 of them resumed from" in capsys.readouterr().err
    stopped = out.read_text()
    assert main([*argv, "--no-resume"]) == 0 and out.read_text() == stopped
    capsys.readouterr()


def test_a_stopped_score_names_its_chunks_only_where_it_kept_some(scoring_pile, tmp_path, monkeypatch, capsys):
    """The way on after a stop is said where finished chunks are kept: for Ctrl-C as for SIGTERM (still exit 130 /
    143), without --no-resume where it was given (the same command would delete them); not where nothing was kept
    (a stop in the first chunk, or --out -)."""
    import signal

    from wildgan.scoring import run as scoring

    pile, run, _ = scoring_pile(12)
    out = tmp_path / "p.csv"
    real = scoring._chunk_saver
    stop = []

    def saver(*a, **k):
        save = real(*a, **k)

        def saved(c, *b, **kw):
            save(c, *b, **kw)
            if stop:
                signal.raise_signal(stop[0])       # (the CLI's handler, or Python's Ctrl-C: raises before this returns)
        return saved

    monkeypatch.setattr(scoring, "_chunk_saver", saver)
    base = ["score", str(run), "--data", str(pile), "--device", "cpu", "--chunk-size", "4", "--no-progress"]
    for signum, no_resume in ((signal.SIGINT, False), (signal.SIGTERM, True)):
        stop[:] = [signum]
        got = main([*base, "--out", str(out), *(["--no-resume"] if no_resume else [])])
        last = capsys.readouterr().err.splitlines()[-1]
        again = " without --no-resume" if no_resume else ""
        assert (got, last) == (128 + signum, f"wildgan: {stop_words(signum)}; 1 of 3 chunks scored and kept in "
                                             f"{out}.chunks: the same command{again} continues from them, scoring "
                                             f"only the rest"), last
    # a stop before the first chunk was finished, or with --out -: nothing kept, nothing promised
    def first_image(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(scoring, "_score_chunks", first_image)
    for where in (str(tmp_path / "q.csv"), "-"):
        assert main([*base, "--out", where]) == 130
        assert capsys.readouterr().err.splitlines()[-1] == "wildgan: interrupted by SIGINT (Ctrl-C)", where


def test_a_stopped_score_promises_only_the_chunks_the_same_command_would_resume(scoring_pile, tmp_path, monkeypatch,
                                                                              capsys):
    """The chunks said kept on a stop were the chunk files in OUT.chunks, whoever wrote them: an older scoring's into
    the same --out with other options, not yet deleted by this one (stopped before it prepared the folder), or
    chunks whose files changed since they were saved. The same command then deleted them, or scored them again."""
    import signal

    from wildgan.scoring import run as scoring

    pile, run, _ = scoring_pile(12)
    out = tmp_path / "p.csv"
    real = scoring._chunk_saver

    def saver(*a, **k):
        save = real(*a, **k)

        def saved(c, *b, **kw):
            save(c, *b, **kw)
            signal.raise_signal(signal.SIGINT)
        return saved

    def stopped_at_once(*a, **k):
        raise KeyboardInterrupt          # before this scoring takes, or deletes, any chunk of the folder

    isolated = ["score", str(run), "--data", str(pile), "--device", "cpu", "--chunk-size", "4", "--no-progress",
                "--out", str(out), "--batch-mode", "isolated"]
    kept = (f"wildgan: interrupted by SIGINT (Ctrl-C); 1 of 3 chunks scored and kept in {out}.chunks: the same "
            f"command continues from them, scoring only the rest")
    with monkeypatch.context() as m:
        m.setattr(scoring, "_chunk_saver", saver)
        assert main(isolated) == 130
    assert capsys.readouterr().err.splitlines()[-1] == kept
    monkeypatch.setattr(scoring, "_resume_finished", stopped_at_once)
    assert main(isolated[:-2]) == 130                 # another scoring (batch mode mixed): its folder is not its own
    assert capsys.readouterr().err.splitlines()[-1] == "wildgan: interrupted by SIGINT (Ctrl-C)"
    assert len(list((tmp_path / "p.csv.chunks").glob("chunk-*.npz"))) == 1
    assert main(isolated) == 130                      # the scoring that saved it: still promised
    assert capsys.readouterr().err.splitlines()[-1] == kept
    for f in pile.iterdir():                          # its files changed since: the chunk is scored again
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert main(isolated) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "wildgan: interrupted by SIGINT (Ctrl-C)"


def test_sigterm_ends_a_command_with_one_line_and_143():
    # before: a command other than train's loop died silently on SIGTERM (e.g. a scheduler stopping `score`)
    import subprocess
    import sys

    code = ("import os, signal, time, wildgan.cli as c\n"
            "def slow(a):\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(5)\n"
            "c.cmd_info = slow\n"
            "raise SystemExit(c.main(['info']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 143 and proc.stderr.strip() == "wildgan: terminated by SIGTERM", proc.stderr


def test_a_sigterm_while_the_command_says_its_error_does_not_turn_it_into_a_traceback():
    """torchrun ends a job's other ranks with SIGTERM once one has died: rank 0, saying its error ('another rank of
    the job stopped'), got it in the middle of that and printed a traceback of Terminated after the error line
    (integration test_score_rank_0_says_another_rank_stopped failed 1 run in 8 here). Once the outcome is decided
    the SIGTERM is let pass: the error and its exit code stand."""
    import subprocess
    import sys

    code = ("import os, signal, time, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "def fails(a):\n    raise WildganError('another rank of the job stopped')\n"
            "real = c.say_end\n"
            "def said(*a, **k):\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(0.2)\n    real(*a, **k)\n"
            "c.cmd_info, c.say_end = fails, said\n"
            "raise SystemExit(c.main(['info']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == "wildgan: error: another rank of the job stopped", \
        proc.stderr


def test_a_sigterm_in_the_teardown_of_a_finished_command_leaves_its_exit_code():
    """torchrun sends SIGTERM to the ranks still running once one rank's process has ended: a rank that had said its
    stop line and was in Python's and torch's teardown (main returned, its SIGTERM handler put back to the default)
    died by the signal, and torchrun's report named it with exitcode -15. The program (cli.run) now ends at once on
    a SIGTERM there, with the command's own exit code."""
    import subprocess
    import sys
    import time

    code = ("import atexit, os, signal, sys, time, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "def fails(a):\n    raise WildganError('stopped')\n"
            "def teardown():\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(60)\n"
            "atexit.register(teardown)\n"
            "c.cmd_info = fails\n"
            "sys.argv = ['wildgan', 'info']\n"
            "raise SystemExit(c.run())\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == "wildgan: error: stopped", (proc.returncode, proc.stderr)
    # (ended by the SIGTERM, not by the end of the teardown's sleep; the bound counts the process's start too, 5-9 s
    # for `score` on a loaded machine)
    assert time.monotonic() - t0 < 30


def test_a_sigterm_as_main_returns_to_the_program_leaves_the_commands_exit_code():
    """main put back the default SIGTERM handler on its way out, and run set its teardown's only after main had
    returned: a SIGTERM in between (here while main flushes stdout) killed the process, exit -15. main now hands its
    handlers over to the teardown's; the code it returns is the exit code."""
    import subprocess
    import sys

    code = ("import os, signal, sys, time, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "class Out:\n"
            "    armed = False\n"
            "    def __init__(self, real):\n        self.real = real\n"
            "    def __getattr__(self, name):\n        return getattr(self.real, name)\n"
            "    def flush(self):\n"
            "        if self.armed:\n"
            "            self.armed = False\n"
            "            os.kill(os.getpid(), signal.SIGTERM)\n"
            "            time.sleep(0.2)\n"
            "        self.real.flush()\n"
            "sys.stdout = Out(sys.stdout)\n"
            "def fails(a):\n    raise WildganError('stopped')\n"
            "real = c.say_end\n"
            "def said(line):\n    real(line)\n    sys.stdout.armed = True\n"
            "c.cmd_info, c.say_end = fails, said\n"
            "sys.argv = ['wildgan', 'info']\n"
            "raise SystemExit(c.run())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == "wildgan: error: stopped", (proc.returncode, proc.stderr)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
@pytest.mark.parametrize("command", ["score", "info"])     # (SIGHUP handled by main during the command, left alone)
def test_a_sighup_in_the_teardown_of_a_finished_command_leaves_its_exit_code(command: str) -> None:
    """SIGHUP (the terminal closed) in Python's and torch's teardown, after the command said its outcome, killed the
    process by the default action, exit -1: it now ends the teardown as SIGTERM does, with the command's exit code."""
    import subprocess
    import sys
    import time

    code = ("import atexit, os, signal, sys, time, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "def fails(a):\n    raise WildganError('stopped')\n"
            "def teardown():\n    os.kill(os.getpid(), signal.SIGHUP)\n    time.sleep(60)\n"
            "atexit.register(teardown)\n"
            f"c.cmd_{command} = fails\n"
            f"sys.argv = ['wildgan', {command!r}, *(['run', '--data', 'pile', '--out', 'x.csv'] "
            f"if {command!r} == 'score' else [])]\n"
            "raise SystemExit(c.run())\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == "wildgan: error: stopped", (proc.returncode, proc.stderr)
    # (ended by the SIGHUP, not by the end of the teardown's sleep; the bound counts the process's start too, 5-9 s
    # for `score` on a loaded machine)
    assert time.monotonic() - t0 < 30


# a teardown blocked in native code (a glibc mutex locked twice, standing in for a c10d/NCCL destroy or a C++ thread
# join), reached by the program (cli.run) after a command that failed with exit 2, with `before` run first: the line
# "teardown" on stdout once the teardown is in the mutex's wait
_NATIVE_HANG = ("import atexit, ctypes, signal, sys, wildgan.cli as c\n"
                "from wildgan.errors import WildganError\n"
                "libc = ctypes.CDLL(None)\n"
                "mutex = ctypes.create_string_buffer(64)\n"          # (PTHREAD_MUTEX_INITIALIZER: all zeros)
                "def fails(a):\n    raise WildganError('stopped')\n"
                "def teardown():\n    print('teardown', flush=True)\n"
                "    libc.pthread_mutex_lock(mutex)\n    libc.pthread_mutex_lock(mutex)\n"
                "atexit.register(teardown)\n"
                "c.cmd_info = fails\n"
                "sys.argv = ['wildgan', 'info']\n"
                "{before}\n"
                "raise SystemExit(c.run())\n")


def _hung_teardown(before: str = "") -> subprocess.Popen:
    """The program of _NATIVE_HANG started, returned once its teardown hangs."""
    proc = subprocess.Popen([sys.executable, "-c", _NATIVE_HANG.format(before=before)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    _wait_for_line(proc, proc.stdout, "teardown")
    time.sleep(0.3)             # (into the second pthread_mutex_lock)
    return proc


def _wait_for_line(proc: subprocess.Popen, stream: io.TextIOBase, wanted: str, seconds: float = 60) -> list[str]:
    """The lines `proc` wrote to `stream` up to `wanted`, read within `seconds`. A readline of its own would wait
    forever for a child stuck before it (an import that hangs, a program that ends otherwise): the child is then
    killed and the test fails with what it said."""
    import threading

    lines: list[str] = []

    def read() -> None:
        for line in stream:
            lines.append(line)
            if line.strip() == wanted:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    if lines and lines[-1].strip() == wanted:
        return lines
    proc.kill()
    proc.wait()
    reader.join(5)
    err = proc.stderr.read() if proc.stderr is not None and proc.stderr is not stream else ""
    pytest.fail(f"no line {wanted!r} within {seconds} s (exit {proc.returncode}): {''.join(lines)!r} {err!r}")


def _ended_within(proc: subprocess.Popen, seconds: float) -> bool:
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < seconds:
        time.sleep(0.05)
    return proc.poll() is not None


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (nor pthreads) on this platform")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_sigterm_still_ends_a_teardown_that_hangs_in_native_code(signame: str) -> None:
    """cli.run's docstring: SIGTERM 'still ends the teardown at once (the way to end one that hangs)'. A Python
    handler (TeardownExit.signalled) runs only when the main thread is back in the interpreter: a teardown blocked in
    C (a c10d/NCCL destroy, a C++ thread join) only had the signal's flag set, and the process ran on until SIGKILL,
    where the default action (before) ended it. It now ends, with the command's exit code; SIGHUP (the terminal
    closed) as SIGTERM."""
    proc = _hung_teardown()
    try:
        proc.send_signal(getattr(signal, signame))
        assert _ended_within(proc, 5), f"{signame} did not end a teardown blocked in native code"
        assert proc.returncode == 2, proc.returncode
        assert proc.stderr is not None and proc.stderr.read().strip() == "wildgan: error: stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (nor pthreads) on this platform")
def test_ctrl_c_and_an_ignored_sigterm_do_not_end_a_teardown_that_hangs_in_native_code() -> None:
    """What ends a teardown blocked in native code is SIGTERM or SIGHUP where they are handled: Ctrl-C stays ignored
    once the command's outcome is decided, and a SIGTERM ignored by whoever started the program (nohup's way) stays
    ignored. SIGHUP, not ignored here, still ends it (so the teardown's handling was there all along)."""
    proc = _hung_teardown("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    try:
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        assert not _ended_within(proc, 1.5), (proc.returncode, proc.stderr and proc.stderr.read())
        proc.send_signal(signal.SIGHUP)
        assert _ended_within(proc, 5) and proc.returncode == 2, proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_child_that_never_says_its_line_fails_the_wait_for_it() -> None:
    """_hung_teardown read the child's first line with a readline of no timeout: a child stuck before it (here one
    that never prints) hung the test run instead of failing the test; it is now killed and the test fails."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    try:
        with pytest.raises(pytest.fail.Exception, match="no line 'teardown' within 1 s"):
            _wait_for_line(proc, proc.stdout, "teardown", seconds=1)
        assert proc.poll() is not None and time.monotonic() - t0 < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (nor pipes that fill) on this platform")
@pytest.mark.parametrize("where", ["atexit", "last flush"])
def test_a_sigterm_ends_a_teardown_blocked_in_a_write_to_a_pipe_nobody_reads(where: str) -> None:
    """stdout a pipe whose reader has stopped reading (`wildgan ... | consumer` where the consumer hangs): the
    teardown blocks in its write, in an atexit callback's or in Python's last flush of stdout. SIGTERM's Python
    handler (TeardownExit.signalled) flushed stdout before os._exit: inside the blocked write it got 'reentrant
    call' (a RuntimeError out of the handler: a traceback, and Python's last flush blocked again, where the watcher
    thread can no longer run), and where it got in, it blocked in the same full pipe (a write cut by a signal is
    retried, PEP 475). The process now ends at once with the command's exit code."""
    fill = {
        # a write larger than the pipe, blocked in the callback (the stream's lock held by the main thread)
        "atexit": "    print('teardown', file=sys.stderr, flush=True)\n"
                  "    sys.stdout.write('x' * (1 << 20))\n    sys.stdout.flush()\n",
        # the pipe filled to the brim, then a little more left in stdout's buffer for Python's own flush at exit
        "last flush": "    os.set_blocking(1, False)\n"
                      "    try:\n"
                      "        while True:\n            os.write(1, b'x' * 4096)\n"
                      "    except BlockingIOError:\n        pass\n"
                      "    os.set_blocking(1, True)\n"
                      "    sys.stdout.write('y' * 100)\n"
                      "    print('teardown', file=sys.stderr, flush=True)\n",
    }[where]
    code = ("import atexit, os, signal, sys, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "def fails(a):\n    raise WildganError('stopped')\n"
            f"def teardown():\n{fill}"
            "atexit.register(teardown)\n"
            "c.cmd_info = fails\n"
            "sys.argv = ['wildgan', 'info']\n"
            "raise SystemExit(c.run())\n")
    env = buffered_env()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stderr is not None
        said = _wait_for_line(proc, proc.stderr, "teardown")
        blocked_in_a_pipe_write(proc)    # (into the blocked write: as soon as the kernel says so)
        assert proc.poll() is None, "the write did not block"
        proc.send_signal(signal.SIGTERM)
        assert _ended_within(proc, 5), f"SIGTERM did not end a teardown blocked in a write to a full pipe ({where})"
        said += proc.stderr.readlines()
        assert proc.returncode == 2 and [line.strip() for line in said] == ["wildgan: error: stopped", "teardown"], \
            (proc.returncode, said)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (nor pipes that fill) on this platform")
@pytest.mark.parametrize("argv, code", [(["info"], 3), (["--version"], 0)])     # (--version: a SystemExit)
def test_a_sigterm_ends_the_flush_of_the_output_blocked_on_a_pipe_nobody_reads(argv: list[str], code: int) -> None:
    """main flushes what the command printed (or --version) as it returns: stdout a full pipe whose reader stopped
    reading blocks that flush for good. The teardown's handlers were in place, but the exit code was told to them
    only after the flush: a SIGTERM waited for it, and the process ran on until SIGKILL (before the teardown's
    handlers, the default action ended it). It now ends with the command's exit code."""
    prog = ("import os, sys, wildgan.cli as c\n"
            "def prints(a):\n    sys.stdout.write('x' * 4000)\n    return 3\n"      # (buffered, for main's flush)
            "os.set_blocking(1, False)\n"
            "try:\n"
            "    while True:\n        os.write(1, b'x' * 4096)\n"
            "except BlockingIOError:\n    pass\n"
            "os.set_blocking(1, True)\n"
            "c.cmd_info = prints\n"
            f"sys.argv = ['wildgan', *{argv!r}]\n"
            "print('running', file=sys.stderr, flush=True)\n"
            "raise SystemExit(c.run())\n")
    env = buffered_env()
    proc = subprocess.Popen([sys.executable, "-c", prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stderr is not None
        _wait_for_line(proc, proc.stderr, "running")
        # (into main's blocked flush: as soon as the kernel says so; a second where it cannot say, as before)
        blocked_in_a_pipe_write(proc, fallback_s=1.0)
        assert proc.poll() is None, "the flush did not block"
        proc.send_signal(signal.SIGTERM)
        assert _ended_within(proc, 5), "SIGTERM did not end main's flush blocked on a full pipe"
        assert proc.returncode == code and proc.stderr.read() == "", (proc.returncode, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (nor pipes that fill) on this platform")
@pytest.mark.parametrize("command, joined, code", [("writes", False, 143), ("writes", True, 143),
                                                   ("fails", True, 2)])
def test_one_sigterm_ends_a_command_whose_output_is_a_full_pipe_nobody_reads(command: str, joined: bool,
                                                                              code: int) -> None:
    """`wildgan score ... | sleep 1000`: a SIGTERM as the command's write to stdout is blocked on the full pipe
    stopped the command (Terminated, its line said), but what stdout's buffer still held blocked main's flush, where
    the teardown's handlers, set after the stop, had not seen that SIGTERM: it took a second one. With `2>&1 |` the
    stop's own line blocked, and no number of SIGTERMs ended it (a command's error line there too: once the outcome is
    decided a SIGTERM is let pass). One SIGTERM now ends the process within seconds, with the command's exit code."""
    ready_r, ready_w = os.pipe()
    env = buffered_env()
    # ("writes" first puts 100 bytes in stdout's binary buffer, held there whenever the SIGTERM lands)
    program = full_pipe_program(ready_w, command, before_writes="sys.stdout.buffer.write(b'y' * 100)")
    proc = subprocess.Popen([sys.executable, "-c", program],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if joined else subprocess.PIPE,
                            env=env, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        with os.fdopen(ready_r) as ready:
            _wait_for_line(proc, ready, "running")
        blocked_in_a_pipe_write(proc)      # ("running" is said just before the write that blocks)
        proc.send_signal(signal.SIGTERM)
        # (a reader that only pauses is waited for 5 s: signals._STUCK_S, then the flush's second)
        assert _ended_within(proc, 12), f"one SIGTERM did not end {command} (stdout a full pipe, joined={joined})"
        assert proc.returncode == code, proc.returncode
        if not joined:
            assert proc.stderr is not None and proc.stderr.read().decode() == "wildgan: terminated by SIGTERM\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# a command run by the program (cli.run) whose stdout is a pipe filled to the brim that nobody reads: it says
# "running" on the fd `ready`, then writes on (the SIGTERM raises Terminated in the blocked write), and its cleanup
# (a `finally`) writes to stdout again, then a file
_CLEANUP_ON_A_FULL_PIPE = ("import os, sys, wildgan.cli as c\n"
                           "def cleans(a):\n"
                           "    os.set_blocking(1, False)\n"
                           "    try:\n"
                           "        while True:\n            os.write(1, b'x' * 4096)\n"
                           "    except BlockingIOError:\n        pass\n"
                           "    os.set_blocking(1, True)\n"
                           "    try:\n"
                           "        os.write({ready}, b'running\\n')\n"
                           "        while True:\n            sys.stdout.buffer.write(b'a line of output\\n')\n"
                           "    finally:\n"
                           "        sys.stdout.buffer.write(b'the last words' * 1000)\n"
                           "        sys.stdout.flush()\n"
                           "        with open({done!r}, 'w') as f:\n            f.write('cleaned up\\n')\n"
                           "c.cmd_info = cleans\n"
                           "sys.argv = ['wildgan', 'info']\n"
                           "raise SystemExit(c.run())\n")


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (nor pipes that fill) on this platform")
def test_one_sigterm_ends_a_command_whose_cleanup_writes_to_a_full_pipe(tmp_path) -> None:
    """A SIGTERM raised Terminated in the command's write blocked on a full pipe nobody reads, and then the command's
    own cleanup (a `finally` that writes its last words) blocked on the same pipe, before main's way out had its
    deadline (TeardownExit.stopping): it took a second SIGTERM, which skipped the rest of the cleanup. Now the output
    stuck since the stop is let go after a while (cli.signals.StuckOutputs): the cleanup goes on, its file written,
    and the command ends with 143 and its line on stderr."""
    done = tmp_path / "cleaned"
    ready_r, ready_w = os.pipe()
    env = buffered_env()
    proc = subprocess.Popen([sys.executable, "-c", _CLEANUP_ON_A_FULL_PIPE.format(ready=ready_w, done=str(done))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        with os.fdopen(ready_r) as ready:
            _wait_for_line(proc, ready, "running")
        blocked_in_a_pipe_write(proc)      # (as above: "running" is said just before the write that blocks)
        proc.send_signal(signal.SIGTERM)
        assert _ended_within(proc, 12), "one SIGTERM did not end a command whose cleanup writes to a full pipe"
        assert proc.returncode == 143, proc.returncode
        assert proc.stderr is not None and proc.stderr.read().decode() == "wildgan: terminated by SIGTERM\n"
        assert done.read_text() == "cleaned up\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()




@pytest.mark.slow       # (a tiny training's start: 5 to 15 s on 2 busy CPU cores)
@pytest.mark.skipif(not hasattr(os, "mkfifo") or not hasattr(signal, "SIGHUP"), reason="no FIFOs on this platform")
def test_one_sigterm_ends_a_training_whose_output_is_a_full_pipe_with_its_run_folder_whole(tmp_path) -> None:
    """`wildgan train ... 2>&1 | reader`, the reader stalled while the loop trains: one SIGTERM had the loop save its
    checkpoint, then its progress bar's last redraw (the loop's cleanup) blocked for good on the full pipe, and it
    took a second SIGTERM, which cut the stop short: log.txt said `stopped: terminated by SIGTERM`, without the
    checkpoint and the command that resumes from it. Now one SIGTERM ends it within seconds, exit 143, the
    checkpoint whole and log.txt's last line the stop with its way to continue (cli.signals.StuckOutputs)."""
    from wildgan.checkpoint import load_checkpoint

    out = tmp_path / "run"
    fifo = tmp_path / "output"
    os.mkfifo(fifo)
    # the reader's end, the command's (blocking, as a shell's pipe is) and the test's own, to fill the pipe with:
    # each open of the FIFO its own file description, so that the test's O_NONBLOCK is not the command's
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.set_blocking(read_end, True)
    command_end = os.open(fifo, os.O_WRONLY)
    fill_end = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    env = buffered_env()
    proc = subprocess.Popen([sys.executable, "-m", "wildgan", "train", "--preset", "tiny", "--total-kimg", "50",
                             "--out", str(out)], stdout=command_end, stderr=command_end, env=env)
    os.close(command_end)
    try:
        read_until(read_end, b"train:", 120)       # the loop's bar drawn
        # its first stats.jsonl row: the loop trains, a SIGTERM now its StopFlag's (one before it, Terminated, stops
        # the run before any checkpoint)
        stats, t0 = out / "stats.jsonl", time.monotonic()
        while not (stats.is_file() and stats.read_text().strip()) and proc.poll() is None and \
                time.monotonic() - t0 < 120:
            time.sleep(0.05)
        assert proc.poll() is None and stats.read_text().strip(), "the training wrote no stats row"
        try:                # the reader stalls: the pipe filled to the brim
            while True:
                os.write(fill_end, b"x" * 4096)
        except BlockingIOError:
            pass
        proc.send_signal(signal.SIGTERM)
        assert _ended_within(proc, 30), "one SIGTERM did not end the training (its output a full pipe)"
        assert proc.returncode == 143, proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(fill_end)
        os.close(read_end)
    checkpoints = sorted((out / "checkpoints").glob("ckpt-*.json"))
    assert checkpoints, sorted(p.name for p in out.rglob("*"))
    for ckpt in checkpoints:
        load_checkpoint(ckpt)       # (its weights beside it, their checksum that of the .json)
    last = (out / "log.txt").read_text().splitlines()[-1]
    assert last.startswith("stopped: terminated by SIGTERM at ") and f"checkpoint saved in {out}" in last, last
    assert f"wildgan train --out {out} --resume" in last, last
    for row in (out / "stats.jsonl").read_text().splitlines():
        json.loads(row)


def test_the_teardowns_flush_before_its_exit_neither_raises_nor_blocks(monkeypatch) -> None:
    """What the teardown flushes before os._exit: a flush made inside the stream's own write (a signal handler run
    within it) is Python's "reentrant call" RuntimeError, which escaped the handler as a traceback; a flush blocked
    for good (a full pipe nobody reads) held up the exit. Neither stops stderr's flush, nor the exit past its bound."""
    import threading

    from wildgan.cli.signals import _flush, _flush_within

    class Stream:
        def __init__(self, fails: BaseException | None = None, blocks: bool = False) -> None:
            self.fails, self.blocks, self.flushed = fails, blocks, threading.Event()

        def flush(self) -> None:
            if self.fails is not None:
                raise self.fails
            if self.blocks:
                threading.Event().wait(30)
            self.flushed.set()

    for fails in (RuntimeError("reentrant call inside <_io.BufferedWriter>"), BrokenPipeError(), ValueError()):
        _flush(Stream(fails))
    err = Stream()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", Stream(blocks=True))
    t0 = time.monotonic()
    _flush_within(0.3)
    assert time.monotonic() - t0 < 5 and err.flushed.is_set()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
@pytest.mark.parametrize("argv, code", [([], 2), (["--debug"], 2), (["--version"], 0), (["--help"], 0),
                                        (["info", "--no-such-option"], 2), (["no-such-command"], 2)])
def test_the_teardown_of_a_command_that_ends_before_it_runs_has_the_programs_signals(argv: list[str],
                                                                                   code: int) -> None:
    """cli.run: Ctrl-C is ignored, and SIGTERM ends the teardown with the exit code, from the moment the outcome is
    decided, whichever way main got there: also without a command run at all (a bare `wildgan`, whose commands' list
    returned before the handlers were installed, so its Ctrl-C was a KeyboardInterrupt traceback and its SIGTERM
    killed it, exit -15), and argparse's own ends (--version, --help, a usage error: SystemExit)."""
    prog = ("import atexit, os, signal, sys, time, wildgan.cli as c\n"
            "def teardown():\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(0.2)\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(60)\n"
            "atexit.register(teardown)\n"
            f"sys.argv = ['wildgan', *{argv!r}]\n"
            "raise SystemExit(c.run())\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120)
    assert proc.returncode == code and "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, \
        (proc.returncode, proc.stderr)
    assert time.monotonic() - t0 < 30       # (ended by the SIGTERM, not by the teardown's sleep)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_sigterm_to_a_process_forked_in_the_teardown_does_not_end_the_program() -> None:
    """The teardown's signals wake a thread through a pipe (signal.set_wakeup_fd) that ends a teardown blocked in C:
    a process forked in the teardown (multiprocessing's) kept that pipe as its own wakeup fd, so a SIGTERM to it
    would have been taken for the program's and ended the program mid-teardown. The child puts back the one before."""
    code = ("import atexit, os, signal, sys, time, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "def fails(a):\n    raise WildganError('stopped')\n"
            "def teardown():\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        time.sleep(5)\n"
            "        os._exit(9)\n"
            "    os.waitpid(pid, 0)\n"
            "    time.sleep(1.5)\n"      # (longer than the thread's grace)
            "    print('teardown done', flush=True)\n"
            "atexit.register(teardown)\n"
            "c.cmd_info = fails\n"
            "sys.argv = ['wildgan', 'info']\n"
            "raise SystemExit(c.run())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout.strip() == "teardown done", (proc.returncode, proc.stdout, proc.stderr)


def test_the_teardowns_thread_and_wakeup_fd_are_the_programs_alone() -> None:
    """main called by a library user (here in a process of its own, as the program is) starts no thread and leaves
    the wakeup fd alone; the program (cli.run) whose main raised (--debug's traceback) puts back the wakeup fd that
    was there, and its thread ends."""
    code = ("import os, signal, sys, threading, wildgan.cli as c\n"
            "from wildgan.errors import WildganError\n"
            "def fails(a):\n    raise WildganError('stopped')\n"
            "c.cmd_info = fails\n"
            "r, w = os.pipe()\n"
            "os.set_blocking(w, False)\n"
            "signal.set_wakeup_fd(w)\n"
            "ours = lambda: [t for t in threading.enumerate() if t.name == 'wildgan-teardown-exit']\n"
            "assert c.main(['info']) == 2\n"
            "assert not ours() and signal.set_wakeup_fd(w) == w, 'main'\n"
            "sys.argv = ['wildgan', '--debug', 'info']\n"
            "try:\n    c.run()\nexcept WildganError:\n    pass\n"
            "else:\n    raise AssertionError('--debug did not raise')\n"
            "for t in ours():\n    t.join(5)\n"
            "assert not ours() and signal.set_wakeup_fd(-1) == w, 'run'\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("skip_bad", [True, False])
def test_sigterm_while_an_image_is_decoded_ends_the_command(skip_bad: bool, scoring_pile: Callable,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    """SIGTERM (a scheduler's stop) that lands while a file is decoded: the command ends with `terminated`, exit 143.
    The signal's exception was an Exception, which the decoder's handler of corrupt files took for the file's: with
    --skip-bad the file was skipped as 'truncated or corrupt image (Terminated: ...)' and the scoring went on (the
    scheduler's stop ignored), without it the command failed with that error, exit 2."""
    import signal
    import time

    from wildgan.data import image_decode

    pile, run, _ = scoring_pile(4)
    real, calls = image_decode.pil_to_array, []

    def stopped(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)      # as a scheduler's stop, in the middle of the second image
            time.sleep(5)                             # (the CLI's handler raises before this ends)
        return real(*a, **k)

    monkeypatch.setattr(image_decode, "pil_to_array", stopped)
    got = main(["score", str(run), "--data", str(pile), "--device", "cpu", "--out", "-",
                "--no-progress", *(["--skip-bad"] if skip_bad else [])])
    err = capsys.readouterr().err
    assert got == 143 and err.strip() == "wildgan: terminated by SIGTERM", err


@pytest.mark.parametrize("tag", ["", " (rank 1 of 2)"])
def test_a_file_skipped_while_scoring_is_said_with_the_rank_that_met_it(tag: str, scoring_pile: Callable,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """score's warnings about the files of a pile (one line each, as they are met) said rank 1's as rank 0's under
    torchrun: every other line of the CLI names its rank."""
    from wildgan.cli import score

    pile, run, _ = scoring_pile(4)
    (pile / "bad.png").write_bytes(b"not a png")
    monkeypatch.setattr(score, "rank_tag", lambda: tag)         # as torchrun's rank 1 of 2 would have it
    assert main(["score", str(run), "--data", str(pile), "--device", "cpu", "--out", "-",
                 "--no-progress", "--skip-bad"]) == 0
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if "bad.png" in ln and "skipped" in ln]
    assert line.startswith(f"wildgan: warning{tag}: skipped "), line


def test_score_says_once_that_images_were_resized_from_another_size(scoring_pile: Callable, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """16x16 images scored with a run of 8x8 ones are shrunk 2x, within the scale warning's factor of 4: `wildgan
    score` said nothing of it. One warning line for the call, naming a file and the sizes; the run's own size: none."""
    from PIL import Image

    pile, run, model = scoring_pile(4)
    model.conversion = {**model.conversion, "native_sides": [8, 8]}       # as split.json records the 8x8 pile
    big = tmp_path / "big"
    big.mkdir()
    for i in range(4):
        Image.fromarray(np.full((16, 16), 30 * i, dtype=np.uint8)).save(big / f"{i}.png")
    assert main(["score", str(run), "--data", str(big), "--device", "cpu", "--out", "-", "--no-progress"]) == 0
    said = [ln for ln in capsys.readouterr().err.splitlines() if "resized to the network" in ln]
    assert len(said) == 1 and f"(e.g. {big / '0.png'}: 16x16; the training images were 8x8)" in said[0], said
    assert main(["score", str(run), "--data", str(pile), "--device", "cpu", "--out", "-", "--no-progress"]) == 0
    assert "resized" not in capsys.readouterr().err


def test_score_of_a_folder_says_what_it_scored_in_one_parenthesis(scoring_pile: Callable,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """The closing line of `score --data FOLDER` read 'scored 4 images (every image file given (folders
    recursively)) with ...': a parenthesis inside another, at the end of the first command a newcomer runs."""
    pile, run, _ = scoring_pile(4)
    assert main(["score", str(run), "--data", str(pile), "--device", "cpu", "--out", "-", "--no-progress"]) == 0
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("scored 4 images")]
    assert line.startswith("scored 4 images (every image file given, folders read recursively) with "), line
    # a file, or files, without a folder: 'folders read recursively' followed the scoring of a single file, and its
    # count read '1 images'
    assert main(["score", str(run), "--data", str(pile / "0.png"), "--device", "cpu", "--out", "-",
                 "--no-progress"]) == 0
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("scored ")]
    assert line.startswith("scored 1 image (the image file given) with "), line
    assert main(["score", str(run), "--data", str(pile / "0.png"), str(pile / "1.png"), "--device", "cpu", "--out",
                 "-", "--no-progress"]) == 0
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("scored ")]
    assert line.startswith("scored 2 images (every image file given) with "), line


def test_a_labelled_data_set_of_another_size_is_said_to_be_resized(tiny_npz, tmp_path, capsys) -> None:
    """score --data OTHER.npz --normal C (and evaluate --data) read the data set as a labelled split, resized to the
    run's 8x8 without a word where image files get the resize warning."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--no-train-scores",
                 "--out", str(run)]) == 0
    rng = np.random.default_rng(1)
    big = tmp_path / "big.npz"
    np.savez(big, x_train=rng.integers(0, 255, (40, 24, 24), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 24, 24), dtype=np.uint8), y_test=np.arange(20) % 2)
    capsys.readouterr()
    for cmd in (["score", str(run), "--data", str(big), "--normal", "0", "--out", "-", "--no-progress"],
                ["evaluate", str(run), "--data", str(big), "--no-controls", "--no-progress"]):
        assert main(cmd) == 0
        said = [ln for ln in capsys.readouterr().err.splitlines() if "resized to the network" in ln]
        assert len(said) == 1 and f"(e.g. {big}: 24x24; the training images were 8x8)" in said[0], (cmd, said)
    assert main(["score", str(run), "--data", str(tiny_npz), "--normal", "0", "--out", "-", "--no-progress"]) == 0
    assert "resized" not in capsys.readouterr().err


def test_score_evaluate_and_report_take_threads(monkeypatch):
    import torch

    from wildgan.cli import make_parser
    from wildgan.cli.common import use_threads

    p = make_parser()
    for cmd in (["score", "RUN", "--out", "s.csv"], ["evaluate", "RUN"], ["report", "RUN"]):
        assert p.parse_args([*cmd, "--threads", "1"]).threads == 1
    with pytest.raises(SystemExit):
        p.parse_args(["score", "RUN", "--out", "s.csv", "--threads", "-1"])
    said = []
    monkeypatch.setattr(torch, "set_num_threads", said.append)
    use_threads(p.parse_args(["evaluate", "RUN", "--threads", "3"]))
    use_threads(p.parse_args(["evaluate", "RUN"]))
    use_threads(p.parse_args(["evaluate", "RUN", "--threads", "0"]))      # 0 = torch's default, as train's
    assert said == [3]


def test_a_file_given_for_a_run_directory_names_the_folder(tmp_path, capsys) -> None:
    # RUN/network-final.json where RUN is meant: "no such run directory" about a path that exists was confusing
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    (tmp_path / "run" / "network-final.json").write_text("{}")
    assert main(["evaluate", str(tmp_path / "run" / "network-final.json")]) == 2
    err = capsys.readouterr().err
    assert "network-final.json: is a file, not a run directory" in err
    assert f"its run directory is {tmp_path / 'run'}" in err


def test_a_start_that_cannot_train_writes_nothing_and_a_never_trained_run_is_replaced(tiny_npz, tmp_path, capsys,
                                                                                       monkeypatch):
    import sys

    run = tmp_path / "run"
    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
              "--no-progress", "--no-train-scores", "--total-kimg", "0.05", "--phase-kimg", "0.02", "--out", str(run)]
    # a typo in --device: refused when the options are read (it was torch's RuntimeError, after the run folder)
    for cmd in (common, ["score", str(run), "--out", "-"], ["evaluate", str(run)], ["demo", "--out", str(run)]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--device", "gpu"])
        assert e.value.code == 2
        assert ("--device: gpu is not a device (a GPU is cuda): use auto, cpu, cuda or cuda:N (N: a GPU's number, "
                "from 0)") in capsys.readouterr().err
    assert not run.exists()
    # a missing optional package: refused before the folder is written
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)          # import fails as if not installed
    assert main([*common, "--tensorboard"]) == 2
    assert "--tensorboard needs the tensorboard package" in capsys.readouterr().err
    assert not run.exists()
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard")
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", "yes")                       # a typo: refused before the folder too
    assert main(common) == 2
    assert "WILDGAN_DATA_ON_GPU='yes': use auto, 1" in capsys.readouterr().err
    assert not run.exists()
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--no-progress",
                 "--out", str(run)]) == 2                                   # f-AnoGAN reads it as well
    assert "WILDGAN_DATA_ON_GPU='yes': use auto, 1" in capsys.readouterr().err
    assert not run.exists()
    monkeypatch.delenv("WILDGAN_DATA_ON_GPU")
    # images the f-AnoGAN networks cannot take (8x8): refused before the folder as well
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--no-progress",
                 "--out", str(run)]) != 0
    assert "f-AnoGAN needs square (32, 64) images, got 8x8 (--resolution 32 or 64" in capsys.readouterr().err
    assert not run.exists()
    # a start that failed before its first training step (here: the loop raises at once) leaves config, split and log
    import wildgan.training.run as training_run

    def boom(*a, **kw):
        raise RuntimeError("failed before the first step")

    with monkeypatch.context() as m:
        m.setattr(training_run, "train_pgan", boom)
        with pytest.raises(RuntimeError, match="before the first step"):
            main(common)
    assert {"config.json", "split.json", "log.txt"} <= {p.name for p in run.iterdir()}
    assert "failed before the first step" in (run / "log.txt").read_text()
    capsys.readouterr()
    # ... and the next start there replaces it, not refused for want of --overwrite
    assert main(common) == 0
    assert "held a run that failed before its first training step" in capsys.readouterr().err
    assert "failed before the first step" not in (run / "log.txt").read_text()
    # ... but a run that trained is refused, and so is a folder whose config.json is not a run's (nothing deleted)
    assert main(common) == 2
    assert "already holds a run" in capsys.readouterr().err
    other = tmp_path / "project"
    (other / "report").mkdir(parents=True)
    (other / "config.json").write_text('{"my": "settings"}')
    (other / "report" / "chapter.md").write_text("mine")
    assert main([*common[:-1], str(other)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (other / "report" / "chapter.md").read_text() == "mine" and "my" in (other / "config.json").read_text()
    # score / evaluate / report take --threads 0 (= torch's default) as train and demo do
    assert main(["score", str(run), "--data", str(tiny_npz), "--out", str(tmp_path / "s.csv"), "--threads", "0",
                 "--no-progress"]) == 0


def test_score_threshold_on_the_runs_own_test_split_reads_its_data_once(tiny_npz, tmp_path, monkeypatch):
    """`score RUN --threshold` without --data and without train_scores.csv: the training scores are of the same split
    whose test part is scored, built once (the data was decoded twice: by the training scores, then for the test
    split), with the threshold the training split's own scoring gives."""
    import csv

    from wildgan.data import splits
    from wildgan.scoring.run import load_model
    from wildgan.scoring.train_scores import run_training_scores
    from wildgan.thresholds import contamination_threshold

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--total-kimg", "0.064", "--phase-kimg", "0.1", "--no-train-scores",
                 "--out", str(run)]) == 0
    assert not list(run.glob("train_scores*"))
    expected = run_training_scores(run, load_model(run, "cpu"), write=False)
    real, reads = splits.load_split_data, []
    monkeypatch.setattr(splits, "load_split_data", lambda *a, **k: reads.append(1) or real(*a, **k))
    out = tmp_path / "s.csv"
    assert main(["score", str(run), "--threshold", "contamination", "--out", str(out), "--threads", "1",
                 "--no-progress"]) == 0
    assert len(reads) == 1 and (run / "train_scores.csv").is_file()
    rows = list(csv.DictReader(open(out, newline="")))
    assert len(rows) == 20 and float(rows[0]["threshold"]) == pytest.approx(
        contamination_threshold(expected["a"], 0.05).value, rel=1e-7)


def _threshold_messages(err: str, start: str) -> list[str]:
    """The threshold messages of score / export in stderr that begin with `start`, each with its continuation lines
    (indented two spaces: the message is wrapped to 100 columns) joined back into the one line it wraps."""
    out: list[str] = []
    taking = False
    for ln in err.splitlines():
        if ln.startswith(start):
            out.append(ln)
            taking = True
        elif taking and ln.startswith("  "):
            out[-1] += " " + ln.strip()
        else:
            taking = False
    return out


def test_score_threshold_says_which_c_it_used_beside_the_runs_gamma(tiny_npz, tmp_path, capsys):
    """--threshold contamination took c = 0.05 whatever γ the run was trained at, without a word, while the report
    shows a c = γ row beside it: the line now says which c, where it came from, and how to take c = γ."""
    import csv

    from wildgan.cli import make_parser
    from wildgan.cli.threshold_notes import contamination_note

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--contamination", "0.2", "--preset", "tiny",
                 "--threads", "1", "--no-progress", "--total-kimg", "0.032", "--phase-kimg", "0.1",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["score", str(run), "--threshold", "contamination", "--out", "-", "--no-progress"]) == 0
    err = capsys.readouterr().err
    # it was one line of ~400 characters: wrapped now, to read in a terminal of 100 columns
    lines = err.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("threshold for score a"))
    block = [lines[at]] + list(itertools.takewhile(lambda ln: ln.startswith("  "), lines[at + 1:]))
    assert len(block) > 1 and all(len(ln) <= 100 for ln in block), block
    (line,) = _threshold_messages(err, "threshold for score a")
    assert line.endswith("; c = 0.05 (the default --expected-contamination): the threshold is percentile 95 of the "
                         "training images' scores; this run was trained with a share γ = 0.2 of anomalies: "
                         "--expected-contamination 0.2 sets c = γ (the report's 'c = γ' row)"), line
    assert re.search(r"; \d+ of 20 images flagged \(is_anomaly = 1\)", line), line
    # one image file: its count in the singular (it read '1 of 1 images flagged')
    from PIL import Image

    Image.fromarray(np.load(tiny_npz)["x_test"][0]).save(tmp_path / "one.png")
    assert main(["score", str(run), "--data", str(tmp_path / "one.png"), "--threshold", "contamination", "--out",
                 "-", "--no-progress"]) == 0
    (one,) = _threshold_messages(capsys.readouterr().err, "threshold for score a")
    assert re.search(r"; [01] of 1 image flagged \(is_anomaly = 1\)", one), one
    # what the line says is so: that percentile of the cached training scores (it said "5% of the training images
    # score above the threshold", which the percentile gives only near: here another share)
    a = np.array([float(r["a"]) for r in csv.DictReader((run / "train_scores.csv").open())])
    thr = float(line.split("score > ")[1].split(" ")[0])
    assert thr == pytest.approx(np.percentile(a, 95), rel=1e-5) and (a > thr).mean() != 0.05, ((a > thr).mean(), thr)
    assert main(["score", str(run), "--threshold", "contamination", "--expected-contamination", "0.2", "--out", "-",
                 "--no-progress"]) == 0
    (line,) = _threshold_messages(capsys.readouterr().err, "threshold for score a")
    assert "contamination (contamination=0.2," in line, line
    assert line.endswith("; c = 0.2 (as given): the threshold is percentile 80 of the training images' scores"), line
    # the default value typed out is given too: it was called "the default" (the option's value was compared with its
    # default, not whether it was typed), and so was a --mad-k 3 the contamination rule ignores
    assert main(["score", str(run), "--threshold", "contamination", "--expected-contam", "0.05", "--mad-k", "3",
                 "--out", "-", "--no-progress"]) == 0
    err = capsys.readouterr().err
    (line,) = _threshold_messages(err, "threshold for score a")
    assert "; c = 0.05 (as given): the threshold is percentile 95 of the training images' scores; this run was " \
           "trained with a share γ = 0.2" in line and "default" not in line, line
    assert "--mad-k is not used by --threshold contamination" in err, err
    p = make_parser()
    own = p.parse_args(["score", "RUN", "--out", "-", "--threshold", "contamination"])
    assert "the run records γ = 0 (clean training images, or your own data with an unknown share of anomalies): " \
           "--expected-contamination G sets the share you expect" in contamination_note(own, 0.0)
    # mad's note has no c, nor γ's advice; it says what mad flags (only outliers, often none of a clean fit's
    # training images: test_mad_threshold_words)
    mad = contamination_note(p.parse_args(["score", "RUN", "--out", "-", "--threshold", "mad"]), 0.2)
    assert mad.startswith("mad flags only outliers") and "c = " not in mad and "γ" not in mad, mad
    # a run trained at γ = the default c: the report has no 'c = γ' row, its first rule is c = γ
    other = p.parse_args(["score", "RUN", "--out", "-", "--threshold", "contamination", "--expected-contamination",
                          "0.1"])
    assert contamination_note(other, 0.05).endswith("--expected-contamination 0.05 sets c = γ (the report's first "
                                                    "rule, c = 0.05)"), contamination_note(other, 0.05)


def test_score_with_a_chosen_checkpoint(tiny_npz, tmp_path, capsys, monkeypatch):
    import csv

    from wildgan.scoring import train_scores

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--total-kimg", "0.16", "--phase-kimg", "0.1", "--checkpoint-kimg", "0.064",
                 "--keep-checkpoints", "all", "--out", str(run)]) == 0
    cache = {f.name: f.read_bytes() for f in run.glob("train_scores*")}
    first = sorted((run / "checkpoints").glob("ckpt-*.json"))[0]

    def scores(*extra: str) -> list[dict]:
        out = tmp_path / f"s{len(list(tmp_path.glob('s*.csv')))}.csv"
        assert main(["score", str(run), "--out", str(out), "--threads", "1", "--no-progress", *extra]) == 0
        return list(csv.DictReader(open(out, newline="")))

    final = scores("--threshold", "contamination")
    real, splits_scored = train_scores.score_training_split, []
    monkeypatch.setattr(train_scores, "score_training_split",
                        lambda *a, **k: splits_scored.append(1) or real(*a, **k))
    by_name = scores("--checkpoint", first.with_suffix(".safetensors").name, "--threshold", "contamination")
    # a checkpoint's training scores are not cached: the threshold and the percentiles use the one scoring of them
    assert len(splits_scored) == 1
    assert f"with {first}" in capsys.readouterr().err                      # the file that scored, named
    assert scores("--checkpoint", str(first)) and [r["a"] for r in by_name] != [r["a"] for r in final]
    assert by_name[0]["threshold"] != final[0]["threshold"]                # the checkpoint's own training scores
    assert {f.name: f.read_bytes() for f in run.glob("train_scores*")} == cache    # ... not written over the cache
    assert main(["score", str(run), "--out", "-", "--checkpoint", "ckpt-nope.json"]) == 2
    assert "--checkpoint ckpt-nope.json: no such file" in capsys.readouterr().err
    # a folder (the run's checkpoints/) was "no such file" too
    assert main(["score", str(run), "--out", "-", "--checkpoint", str(run / "checkpoints")]) == 2
    assert f"--checkpoint {run / 'checkpoints'}: a folder; give one checkpoint file, e.g. its newest, " \
        f"{sorted((run / 'checkpoints').glob('ckpt-*.json'))[-1]}" in capsys.readouterr().err
    # ... and given as the run: "not a wildgan run directory (no config.json)", with no word of the run it is in
    assert main(["score", str(run / "checkpoints"), "--out", "-"]) == 2
    assert f"{run / 'checkpoints'}: a folder inside the run {run.resolve()}, not a run directory: give the run's " \
        "folder (score RUN --checkpoint FILE" in capsys.readouterr().err
    # --no-A: every score but A, the same values, the threshold columns still there
    no_a = scores("--no-A", "--threshold", "contamination")
    assert "A" not in no_a[0] and "A" in final[0] and "is_anomaly" in no_a[0]
    assert [(r["id"], r["a"], r["L_r"], r["threshold"]) for r in no_a] == \
        [(r["id"], r["a"], r["L_r"], r["threshold"]) for r in final]
    assert "A left out (--no-A)" in capsys.readouterr().err
    assert main(["score", str(run), "--out", "-", "--no-A", "--threshold", "mad", "--score", "A"]) == 2
    assert "needs the A score: leave out --no-A" in capsys.readouterr().err
    # ... and on a pile of files read in chunks (score_files), with the same values as a full scoring of it
    pile = tmp_path / "pile"
    pile.mkdir()
    from PIL import Image

    for i, img in enumerate(np.random.default_rng(1).integers(0, 255, (140, 8, 8), dtype=np.uint8)):
        Image.fromarray(img).save(pile / f"{i:03d}.png")          # 3 chunks of 64
    full_pile = scores("--data", str(pile), "--chunk-size", "64")
    pile_no_a = scores("--data", str(pile), "--chunk-size", "64", "--no-A")
    assert "A" in full_pile[0] and "A" not in pile_no_a[0]
    assert [(r["id"], r["a"], r["L_n"]) for r in pile_no_a] == [(r["id"], r["a"], r["L_n"]) for r in full_pile]


# ------------------------------------------------------------------------- refusals the user audit asked for
def test_a_width_too_thin_for_the_resolution_is_a_one_line_error(capsys):
    # tiny's fmap_base 256 halves to 0 channels at 1024x1024: a ZeroDivisionError traceback before
    assert main(["info", "--preset", "tiny", "--resolution", "1024", "--channels", "3"]) == 2
    err = capsys.readouterr().err
    assert "resolution 1024 needs more channels than this width has" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="reaches 0 at level 9"):
        net_config_for_preset("tiny", 1024, 3)
    net_config_for_preset("tiny", 256, 3)                       # 256 / 2^7 = 2 channels: thin, but buildable


def test_resume_with_overwrite_is_refused_before_announcing_a_resume(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("train: {}\n")
    assert main(["train", "--out", str(run), "--resume", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "give one of them" in err and "resuming with the settings" not in err


@pytest.mark.parametrize("content, words", [
    ("[1, 2]", "config.json: not a run config (a JSON object"),
    # the section and its keys as the file spells them, not the Python class (NetConfig) and list (['totl_kimg'])
    ('{"data": {}, "net": null, "train": {}}', "config.json: the net section must be a mapping of its keys to their "
                                               "values, got null"),
    ('{"data": {}, "net": {}, "train": {"totl_kimg": 1}}', "config.json: the train section has unknown key "
                                                           "totl_kimg (did you mean total_kimg"),
    ('{"data": {}, "net": {}, "train": {}, "trian": {}}', "config.json: the run config has unknown section trian "
                                                          "(did you mean train"),
    ('{"data": {"zzz": 1, "qqq": 2}, "net": {}, "train": {}}', "config.json: the data section has unknown keys qqq, "
                                                               "zzz (known keys: "),
    ('{"net": {}, "train": {}}', "config.json: config is missing the 'data' section"),
    ('{"data": {}, "net": {}, "train": {"minibatch": 5}}', "config.json: train.minibatch must map resolutions"),
    # a key twice (a hand edit below the old line): json kept the last in silence
    ('{"data": {}, "net": {}, "train": {"seed": 1, "seed": 2}}', "config.json: seed is given twice in one mapping, "
                                                                 "with different values .1 and 2."),
    ('{"data": {}, "net": {"resolution": [1]}, "train": {}}', "config.json: net.resolution must be a power of two >= "
                                                              "4"),
])
def test_a_damaged_run_config_names_its_file(tmp_path, content, words):
    from wildgan.config import read_run_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(content)
    with pytest.raises(ConfigError, match=words.replace("(", "\\(").replace("[", "\\[")) as e:
        read_run_config(run)
    assert str(run / "config.json") in str(e.value)


def test_a_partial_sectioned_config_file_says_what_is_accepted(tiny_npz, tmp_path, capsys):
    cfg = tmp_path / "partial.yaml"
    cfg.write_text("train:\n  total_kimg: 1\n")
    assert main(["train", "--config", str(cfg), "--data", str(tiny_npz), "--out", "x", "--dry-run"]) == 2
    err = capsys.readouterr().err
    # (the section's name said as the file has it, not as Python's ['train'])
    assert "partial.yaml: unknown option train; use the long option names" in err
    assert "must be a whole run config" in err


def test_a_config_file_s_unknown_option_is_matched_against_the_options_a_file_may_set(tiny_npz, tmp_path, capsys):
    # the did-you-mean candidates held argparse's help action and --config itself: 'hlp' was answered with 'did you
    # mean help?', and a file holding help: or config: was taken without a word
    for key, words in (("hlp", "unknown option hlp; "), ("help", "unknown option help; "),
                       ("confgi", "unknown option confgi; "), ("seeed", "unknown option seeed (did you mean seed?)")):
        cfg = tmp_path / f"{key}.yaml"
        cfg.write_text(f"{key}: 1\n")
        assert main(["train", "--config", str(cfg), "--data", str(tiny_npz), "--out", "x", "--dry-run"]) == 2, key
        err = capsys.readouterr().err
        assert f"{key}.yaml: {words}" in err and "help?" not in err and "config?" not in err, err


def test_a_sectioned_config_file_without_net_says_what_is_accepted(tiny_npz, tmp_path, capsys):
    # data: and train: as in a run's config.yaml, but not whole: it said only "config is missing the 'net' section",
    # not that a few settings go in a flat file as the lone train: section's refusal above does
    cfg = tmp_path / "partial.yaml"
    cfg.write_text(f"data:\n  data: {tiny_npz}\ntrain:\n  total_kimg: 1\n")
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "x"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}: config is missing the 'net' section" in err
    assert "must be a whole run config" in err and "flat option names (e.g. total_kimg: 100)" in err


@pytest.mark.parametrize("argv, words", [
    (["--method", "fanogan", "--encoder-loss", "latent"], "--encoder-loss, --preset do not apply to --method fanogan"),
    # the pGAN's schedule, size and fast path (f-AnoGAN has its own: epochs or --fanogan-iters, --fanogan-dim, fp32)
    (["--method", "fanogan", "--total-kimg", "5", "--amp", "bf16", "--lr", "0.01", "--width", "8", "--threads", "1"],
     "--preset, --width, --total-kimg, --lr, --amp do not apply to --method fanogan: ignored"),
    (["--method", "search", "--encoder-loss", "latent"], "--encoder-loss does not apply to --method search"),
    (["--fanogan-iters", "5", "--fanogan-dim", "8"], "--fanogan-iters, --fanogan-dim do not apply to --method "
                                                     "wildgan"),
    (["--method", "fanogan", "--search-steps", "5"], "--preset, --search-steps do not apply to --method fanogan"),
])
def test_options_of_another_method_are_said_to_be_ignored(argv, words, tiny_npz, tmp_path, capsys, monkeypatch):
    import wildgan.training.run as run_mod

    # stop right after the option checks: the warning is what is tested, not a training
    def stop(*a, **k):
        raise ConfigError("stopped here")

    monkeypatch.setattr(run_mod, "train_run", stop)
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--out",
                 str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "stopped here" in err


def test_search_steps_is_recorded_replayed_and_kept_by_a_resume(tiny_npz, tmp_path, capsys):
    """--search-steps sets the search section's steps (the latent search's cost at every scoring of a search run),
    which only a config file could set before; a --config replay and a --resume keep it, a flag changes it."""
    base = ["--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--method", "search"]
    assert dry_run(capsys, *base)["search"]["steps"] == 500
    cfg = dry_run(capsys, *base, "--search-steps", "40")
    assert cfg["search"]["steps"] == 40
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert dry_run(capsys, "--config", str(tmp_path / "c.json"))["search"]["steps"] == 40
    assert dry_run(capsys, "--config", str(tmp_path / "c.json"), "--search-steps", "9")["search"]["steps"] == 9
    run = tmp_path / "run"
    assert main(["train", *base, "--search-steps", "3", "--total-kimg", "0.02", "--threads", "1", "--no-progress",
                 "--out", str(run)]) == 0, capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["search"]["steps"] == 3
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.03", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["search"]["steps"] == 3
    with pytest.raises(SystemExit):
        main(["train", *base, "--search-steps", "x", "--out", str(tmp_path / "r2"), "--dry-run"])


def test_train_threads_applies_to_fanogan_too(tiny_npz, tmp_path, capsys, monkeypatch):
    # --threads used to be set by the pGAN loop only: an f-AnoGAN run (and its training scores, --evaluate) ran on
    # torch's default count, though --threads is not among the options said not to apply to it
    import torch

    import wildgan.training.fanogan_loop as fanogan_loop

    said = []
    monkeypatch.setattr(torch, "set_num_threads", said.append)

    def stop(*a, **k):
        raise ConfigError(f"stopped here with threads set to {said}")

    monkeypatch.setattr(fanogan_loop, "train_fanogan", stop)
    argv = ["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--resolution", "32",
            "--no-progress", "--out", str(tmp_path / "r")]
    assert main([*argv, "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "stopped here with threads set to [1]" in err and "do not apply" not in err
    said.clear()
    assert main([*argv, "--overwrite"]) == 2                      # no --threads: torch's default, left alone
    assert "stopped here with threads set to []" in capsys.readouterr().err


def test_threads_are_the_commands_and_put_back_after_it(tiny_npz, tmp_path, capsys, monkeypatch):
    # main() left torch at --threads' count: test_a_resume_with_other_threads_... (--threads 2) left its pytest-xdist
    # worker, one thread a worker, at 2 threads for every later test there (and a notebook calling main at others)
    import torch

    import wildgan.training.fanogan_loop as fanogan_loop

    before = torch.get_num_threads()
    seen = []

    def stop(*a, **k):
        seen.append(torch.get_num_threads())
        raise ConfigError("stopped here")

    monkeypatch.setattr(fanogan_loop, "train_fanogan", stop)
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--resolution", "32",
                 "--no-progress", "--out", str(tmp_path / "r"), "--threads", str(before + 1)]) == 2
    assert "stopped here" in capsys.readouterr().err
    assert seen == [before + 1] and torch.get_num_threads() == before       # the command's count, then the caller's


def test_train_names_fanogans_dim_not_the_preset_it_ignores(tiny_npz, tmp_path, capsys, monkeypatch):
    # the start line said 'training fanogan (tiny)' right after the warning that --preset does not apply to it
    import wildgan.training.fanogan_loop as fanogan_loop

    def stop(*a, **k):
        raise ConfigError("stopped here")

    monkeypatch.setattr(fanogan_loop, "train_fanogan", stop)
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--preset", "tiny",
                 "--fanogan-dim", "8", "--resolution", "32", "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--preset does not apply to --method fanogan" in err
    assert "training fanogan (DIM 8) on " in err and "(tiny)" not in err


def test_train_names_a_width_override_beside_the_preset(tiny_npz, tmp_path, capsys, monkeypatch):
    # 'training wildgan (paper)' was said of a --preset paper --width 256 run too, as if it had the authors' networks
    import wildgan.training.run as run_mod

    def stop(*a, **k):
        raise ConfigError("stopped here")

    monkeypatch.setattr(run_mod, "train_pgan", stop)
    argv = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--resolution", "32",
            "--no-progress", "--threads", "1"]
    assert main([*argv, "--width", "8", "--out", str(tmp_path / "w")]) == 2
    assert "training wildgan (tiny, width 8) on " in capsys.readouterr().err
    assert main([*argv, "--width", "16", "--out", str(tmp_path / "same")]) == 2      # the preset's own width
    assert "training wildgan (tiny) on " in capsys.readouterr().err


def test_train_evaluate_says_each_data_warning_once(tmp_path, capsys, recwarn):
    # --evaluate used to rebuild the split it had just trained on, reading the data again and repeating every warning
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, n in (("a", 24), ("b", 8)):
        (tmp_path / "tree" / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 12), dtype=np.uint8)).save(tmp_path / "tree" / cls / f"{i}.png")
    assert main(["train", "--data", str(tmp_path / "tree"), "--normal", "a", "--preset", "tiny", "--threads", "1",
                 "--total-kimg", "0.05", "--phase-kimg", "0.05", "--no-progress", "--no-train-scores", "--evaluate",
                 "--out", str(tmp_path / "run")]) == 0
    said = [str(w.message) for w in recwarn if "images that are not square" in str(w.message)]
    assert len(said) == 1, said
    assert (tmp_path / "run" / "eval.json").is_file() and "AUC" in capsys.readouterr().out


def test_train_evaluate_writes_its_auc_table_to_log_txt_too(tiny_npz, tmp_path, capsys):
    # the demo's (train --evaluate's) AUC table was only printed: someone who closed the terminal found the training
    # in RUN/log.txt, no AUCs. The table, its controls too, is in log.txt now, once, and still on standard output
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--total-kimg", "0.032", "--phase-kimg", "0.1", "--no-progress", "--no-train-scores", "--evaluate",
                 "--out", str(run)]) == 0
    out = capsys.readouterr().out
    table = [ln for ln in out.splitlines() if ln.strip()]
    assert any("AUC" in ln for ln in table) and any("control" in ln for ln in table), out
    log = (run / "log.txt").read_text().splitlines()
    at = log.index(table[0])
    assert log[at:at + len(out.splitlines())] == out.splitlines(), (log, out)
    assert log.count(table[0]) == 1


def test_a_resume_or_replay_does_not_warn_about_other_methods_options(tiny_npz, tmp_path, capsys):
    # config.yaml holds every section (fanogan's too): replayed as option values, they were not typed by anyone
    run = tmp_path / "r"
    common = ["--no-progress", "--threads", "1", "--no-train-scores"]
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--out", str(run), *common]) == 0
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.1", *common]) == 0
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(tmp_path / "r2"), "--dry-run"]) == 0
    assert "do not apply" not in capsys.readouterr().err
    # typed, even abbreviated as argparse allows, it is said
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(tmp_path / "r3"), "--fanogan-d", "8",
                 "--dry-run"]) == 0
    assert "--fanogan-dim does not apply to --method wildgan" in capsys.readouterr().err


def test_a_cuda_device_number_the_machine_does_not_have_is_refused(monkeypatch):
    import torch

    from wildgan.devices import resolve_device
    from wildgan.errors import WildganError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)     # a one-GPU machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0) and resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(WildganError, match=r"device cuda:1 was requested but this machine has 1 CUDA device "
                                           r"\(cuda:0\)"):
        resolve_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(WildganError, match=r"has 2 CUDA devices \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:3")


def test_a_file_name_that_is_not_utf8_is_trained_and_scored(tmp_path, capsys):
    """Linux file names are bytes: one that is not valid UTF-8 used to crash train (the ids' digest) and score (the
    CSV, written after all the scoring) with a UnicodeEncodeError."""
    import os

    from PIL import Image

    pile = tmp_path / "pile"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    odd = os.path.join(os.fsencode(pile), b"caf\xe9.png")          # Latin-1, as an old camera or share names it
    with open(odd, "wb") as f:
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(f, "PNG")
    run, out = tmp_path / "run", tmp_path / "s.csv"
    common = ["--preset", "tiny", "--threads", "1", "--no-progress", "--device", "cpu"]
    assert main(["train", "--data", str(pile), "--total-kimg", "0.05", "--phase-kimg", "0.02", "--out", str(run),
                 *common[:-2]]) == 0
    assert main(["score", str(run), "--data", str(pile), "--out", str(out), "--no-progress"]) == 0
    rows = out.read_bytes().splitlines()
    assert len(rows) == 22 and any(b"caf\xe9.png" in r for r in rows)      # the name as it is on disk


def test_out_is_written_through_a_symlink_and_never_replaces_a_device(tmp_path):
    import os

    from wildgan.fileio import atomic_write_text

    target = tmp_path / "real" / "t.csv"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    import threading

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    atomic_write_text(fifo, "through")
    reader.join(10)
    assert got == [b"through"] and not fifo.is_file() and fifo.exists()    # still a FIFO, not a file
    from wildgan.cli.common import check_out_file

    check_out_file(os.devnull, "x.csv", suffixes=(".csv",), what="a scores CSV")    # /dev/null is writable: accepted
    atomic_write_text(Path(os.devnull), "nothing")
    assert not Path(os.devnull).is_file()


def test_score_whole_scores_every_labelled_image_of_a_data_set(tiny_npz, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--total-kimg", "0.05", "--phase-kimg", "0.02", "--out", str(run)]) == 0
    for whole, n in ((False, None), (True, 60)):
        out = tmp_path / f"s{whole}.csv"
        assert main(["score", str(run), "--data", str(tiny_npz), "--out", str(out), "--no-progress",
                     *(["--whole"] if whole else [])]) == 0
        rows = out.read_text().splitlines()[1:]
        assert (len(rows) == n) if n else (0 < len(rows) < 60)          # the test split alone without it
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(tmp_path), "--whole", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--whole applies to a labelled data set" in capsys.readouterr().err
    # an .npz without the run's normal class: the way to score all of it is the one that exists for an .npz (it
    # said 'pass the unpacked folder', which an .npz does not have)
    other = tmp_path / "other.npz"
    with np.load(tiny_npz) as d:
        np.savez(other, **d, class_names=np.array(["cat", "dog"]))
    assert main(["score", str(run), "--data", str(other), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "'0' is not a class of this data" in err and "unpacked" not in err, err
    assert f"Detector.from_run({str(run)!r}).decision_function({str(other)!r})" in err, err
    assert "--whole" not in err                                # (it would not help: the class is missing)
    # a labelled data set too small for the protocol's split: --whole scores it, with its labels, and says so
    small = tmp_path / "small.npz"
    with np.load(tiny_npz) as d:
        np.savez(small, x=d["x_train"][:12], y=d["y_train"][:12])
    assert main(["score", str(run), "--data", str(small), "--out", str(tmp_path / "m.csv")]) == 2
    err = capsys.readouterr().err
    assert "need at least 16" in err and "to score every image of it with its labels, add --whole" in err, err
    assert main(["score", str(run), "--data", str(small), "--whole", "--out", str(tmp_path / "m.csv")]) == 0
    assert len((tmp_path / "m.csv").read_text().splitlines()) == 13


@pytest.mark.parametrize("kind, text, advised, whole", [
    ("classes", "{f}: reworded, no word of it: pick the normal one", True, False),
    # the too-small refusal in the singular ("image", not "images"): its words did not match, --whole was not named
    ("too small", "{f}: only 1 training image of the normal class(es) ['0']; need at least 16", True, True),
    # a refusal of classes whose words happen to hold the too-small one's: --whole would not help
    ("classes", "{f}: no training images of the normal class here, nor any class", True, False),
    # a damaged file whose words name a class: not a refusal of the split, said as it is
    # (an unreadable one: a class_names of the wrong shape or kind is a refusal of the split now, as damaged labels)
    (None, "{f}: array 'class_names' is unreadable or truncated (BadZipFile: Bad CRC-32)", False, False)])
def test_score_tells_a_data_set_it_cannot_split_by_the_refusal_s_kind_not_its_words(tmp_path, monkeypatch, kind,
                                                                                      text, advised, whole):
    # score decided by `"class" in str(e)` and "training images of the normal class" in it whether a data-set file
    # was refused its labelled split, and whether --whole would score it: any message naming a class matched, a
    # reworded one missed. The refusal's split_problem, set where it is raised, decides
    import argparse

    from wildgan.cli.score import _labelled_split
    from wildgan.errors import SPLIT_CLASSES, SPLIT_TOO_SMALL, DataError
    from wildgan.evaluation import run as evaluation_run

    f = tmp_path / "f.npz"
    problem = {"classes": SPLIT_CLASSES, "too small": SPLIT_TOO_SMALL, None: None}[kind]
    refused = DataError(text.format(f=f), split_problem=problem)

    def split_for_run(*args, **kw):
        raise refused

    monkeypatch.setattr(evaluation_run, "split_for_run", split_for_run)
    a = argparse.Namespace(skip_bad=False, normal=None, whole=False, no_progress=True)
    with pytest.raises(DataError) as e:
        _labelled_split(a, tmp_path / "run", str(f), False)
    said = str(e.value)
    assert said.startswith(text.format(f=f)), said
    assert ("A data-set file is scored as a labelled test split" in said) == advised, said
    assert ("add --whole" in said) == whole, said
    assert advised or e.value is refused
    # the advice added, the refusal keeps its kind for a caller reading it (errors.reworded; type(e)(...) lost it)
    assert e.value.split_problem == problem


def test_score_tells_a_data_set_with_damaged_labels_to_score_it_without_labels(tiny_npz, tmp_path, capsys):
    # a data-set file whose label array is damaged (2-D, one label short, floats, negative, names or numbers its
    # class_names do not have), or its class_names (2-D, not text), has sound images, which scoring without labels
    # reads: score suggested so by its text ("class" in it) until it decided by the refusal's split_problem, which
    # these refusals did not set. The way it names, the Python API, refused such a file too (its docstring: "labels
    # ignored")
    from wildgan.detector import Detector

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
                 "--no-progress", "--total-kimg", "0.05", "--phase-kimg", "0.02", "--out", str(run)]) == 0
    with np.load(tiny_npz) as d:
        x, y = d["x_test"], d["y_test"]
    damaged = {"2-D": dict(y=np.stack([y, y], 1)), "short": dict(y=y[:-1]), "floats": dict(y=y + 0.5),
               "negative": dict(y=y - 5), "names": dict(y=np.array(["a", "z"])[y], class_names=np.array(["a", "b"])),
               "numbers": dict(y=y + 1, class_names=np.array(["a", "b"])),
               # (a damaged class_names too: it was refused without the way on, and the Python API refused it)
               "class_names-2-D": dict(y=y, class_names=np.array([["a", "b"]])),
               "class_names-numbers": dict(y=y, class_names=np.array([0, 1]))}
    for name, arrays in damaged.items():
        bad = tmp_path / f"{name}.npz"
        np.savez(bad, x=x, **arrays)
        capsys.readouterr()
        assert main(["score", str(run), "--data", str(bad), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
        err = capsys.readouterr().err
        what = "class_names" if name.startswith("class_names") else "labels"
        assert f"{bad}: {what}" in err and "A data-set file is scored as a labelled test split" in err, (name, err)
        assert f"Detector.from_run({str(run)!r}).decision_function({str(bad)!r})" in err, (name, err)
        assert "--whole" not in err, (name, err)                 # (its labels are what is wrong: --whole reads them)
    # and the way said scores it (labels ignored, as they are for a sound file: it refused the file), said once
    from wildgan.errors import WildganWarning

    good = tmp_path / "good.npz"
    np.savez(good, x=x, y=y)
    model = Detector.from_run(str(run))
    want = model.decision_function(str(good))
    for name in damaged:
        with pytest.warns(WildganWarning, match="its images are read without labels, which scoring does not use"):
            got = model.decision_function(str(tmp_path / f"{name}.npz"))
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_an_npz_with_damaged_labels_scores_under_the_ids_of_its_sound_copy(pile_run_gone_bad, tmp_path, capsys):
    # since an .npz with a damaged label array is read as the pile it also is, its images were named as a pile's
    # (NAME:x:0, NAME:x_train:0) where the sound copy's are the labelled reader's (NAME:all:0, NAME:train:0): the score
    # CSV of the same images named them otherwise, and its rows matched none of the sound copy's
    from wildgan.data.inputs import decode_items
    from wildgan.errors import WildganWarning

    run, _, _ = pile_run_gone_bad
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 255, (6, 8, 8), dtype=np.uint8), np.array([0, 1, 0, 1, 0, 1])
    for kind in ("sound", "damaged"):
        (tmp_path / kind).mkdir()
        # (2-D of two columns: damaged, the .npz read as a pile; one column is Keras' form of the labels, read)
        labels = y if kind == "sound" else np.stack([y, y], 1)
        np.savez(tmp_path / kind / "d.npz", x=x, y=labels)
        np.savez(tmp_path / kind / "t.npz", x_train=x[:4], y_train=labels[:4], x_test=x[4:], y_test=labels[4:])
    rows = {}
    for kind in ("sound", "damaged"):
        out = tmp_path / f"{kind}.csv"
        assert main(["score", str(run), "--data", str(tmp_path / kind / "d.npz"), "--out", str(out),
                     "--no-progress"]) == 0
        rows[kind] = [(r["id"], r["a"]) for r in csv.DictReader(out.open(newline=""))]
    capsys.readouterr()
    assert rows["sound"][0][0] == "d:all:0" and len(rows["sound"]) == 6, rows["sound"]
    assert rows["damaged"] == rows["sound"]
    # train and test parts too, as the Python API reads them
    with pytest.warns(WildganWarning, match="its images are read without labels"):
        _, damaged = decode_items(str(tmp_path / "damaged" / "t.npz"), "per-image")
    _, sound = decode_items(str(tmp_path / "sound" / "t.npz"), "per-image")
    assert damaged == sound == [f"t:train:{i}" for i in range(4)] + [f"t:test:{i}" for i in range(2)], damaged


def test_an_npz_s_unread_array_is_said_once_when_its_images_are_scored(pile_run_gone_bad, tmp_path):
    # where an .npz's images are read as the Detector reads them (decision_function of its path, `wildgan score` of it
    # with a run trained on a pile), the readers' warnings were all silenced: an array they do not take was named no
    # time, where `wildgan train --data` names it. And an .npz whose labels are found damaged after that note (class
    # names short of them) is read twice, labelled then as a pile: named once, in the pile reading's words
    from wildgan.data.dataset_files import UnreadArraysWarning
    from wildgan.detector import Detector

    run, pile, good = pile_run_gone_bad
    (pile / "03.png").write_bytes(good)          # (its training file put back: from_run's threshold reads them)
    x = np.random.default_rng(2).integers(0, 255, (6, 8, 8), dtype=np.uint8)
    sound, damaged = tmp_path / "sound.npz", tmp_path / "damaged.npz"
    np.savez(sound, x=x, y=np.zeros(6, np.int64), photo=np.arange(6))
    np.savez(damaged, x=x, y=np.arange(6), class_names=np.array(["a", "b"]), photo=np.arange(6))
    model = Detector.from_run(str(run))
    for f in (sound, damaged):
        for how in ("decision_function", "score"):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                if how == "score":
                    assert main(["score", str(run), "--data", str(f), "--out", str(tmp_path / "s.csv"),
                                 "--no-progress"]) == 0
                else:
                    model.decision_function(str(f))
            told = [str(m.message) for m in w if m.category is UnreadArraysWarning]
            assert len(told) == 1 and told[0].startswith(f"{f}: array photo is not read and ignored"), (f.name, told)
            assert ("read as unlabelled images" in told[0]) == (f is damaged), told


def test_the_refusals_of_a_data_set_s_split_say_their_kind(tmp_path):
    # (where they are raised: what score's advice is decided by)
    from wildgan.config import DataConfig
    from wildgan.data import build_split
    from wildgan.errors import SPLIT_CLASSES, SPLIT_TOO_SMALL, WildganError

    rng = np.random.default_rng(0)
    small = tmp_path / "small.npz"
    np.savez(small, x=(rng.random((23, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], [3, 20]))
    for normal, problem in ((("0",), SPLIT_TOO_SMALL), (("7",), SPLIT_CLASSES), ((), SPLIT_CLASSES)):
        with pytest.raises(WildganError) as e:
            build_split(DataConfig(data=str(small), dataset="npz", normal=normal), progress=False)
        assert e.value.split_problem == problem, (normal, str(e.value))


def test_a_ranks_warning_lines_name_the_rank_in_one_form(capsys, monkeypatch):
    """Under torchrun the ranks other than 0 tag their lines: main's errors and the Python warnings as "wildgan: error
    (rank 1 of 2): ..." and "wildgan: warning (rank 1 of 2): ...", but the CLI's own warnings (common.warn) said
    "wildgan (rank 1 of 2): warning: ...", so that one rank's warnings came in two forms."""
    from wildgan.cli.common import warn

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    warn("warning: --dist-timeout only matters with --distributed")
    warn("--no-resume: deleted x.chunks")          # a line of no kind: tagged as main's stops are
    assert capsys.readouterr().err.splitlines() == [
        "wildgan: warning (rank 1 of 2): --dist-timeout only matters with --distributed",
        "wildgan (rank 1 of 2): --no-resume: deleted x.chunks"]
    monkeypatch.setenv("RANK", "0")
    warn("warning: x")
    assert capsys.readouterr().err == "wildgan: warning: x\n"


@pytest.mark.parametrize("argv", [["train", "--data", "{d}/x.npz", "--out", "{d}/run"],
                                  ["score", "{d}/run", "--data", "{d}/pile", "--out", "{d}/s.csv"],
                                  ["evaluate", "{d}/run"], ["export", "{d}/run", "--out", "{d}/m.onnx"],
                                  ["report", "{d}/run"], ["study", "--out", "{d}/study"],
                                  ["demo", "--out", "{d}/demo"]])
def test_torchrun_ranks_without_distributed_are_refused(argv, tmp_path, capsys, monkeypatch):
    """A process that torchrun started as one of several (WORLD_SIZE > 1, RANK set) refuses a command that writes
    unless --distributed shares the work: each rank would run the whole job into the same files."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert main([w.format(d=tmp_path) for w in argv]) == 2
    err = capsys.readouterr().err
    assert "rank 1 of 2 started by torchrun" in err and "--distributed was not given" in err, err
    # each rank prints to the one terminal: rank 1's copy says whose it is, rank 0's is the plain one
    assert err.startswith("wildgan: error (rank 1 of 2): "), err
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert main([w.format(d=tmp_path) for w in argv]) == 2
    assert capsys.readouterr().err.startswith("wildgan: error: this process is rank 0 of 2")
    if argv[0] in ("train", "score"):
        assert f"-m wildgan {argv[0]} " in err and "Add --distributed" in err
    else:
        assert "Run it without torchrun" in err
    assert list(tmp_path.iterdir()) == []                   # nothing written


def test_a_single_torchrun_process_or_info_is_not_refused(tmp_path, capsys, monkeypatch):
    """One torchrun process (WORLD_SIZE 1), `info` (prints only) and a WORLD_SIZE without a rank run as before."""
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert main(["info", "--preset", "tiny"]) == 0
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["info", "--preset", "tiny"]) == 0           # prints only
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")                   # no rank: not torchrun's process (e.g. a stray variable)
    assert main(["evaluate", str(tmp_path / "run")]) != 0
    assert "--distributed was not given" not in capsys.readouterr().err


def test_a_missing_relative_data_path_names_both_places_it_was_looked_for(tmp_path, capsys, monkeypatch):
    """A relative --data is looked for here and under $WILDGAN_DATA: when it is in neither, the error says both (train
    made it absolute first and named only the current folder; score named only the path)."""
    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path / "root"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "root" / "mnist").mkdir(parents=True)
    want = f"mnist/nope.npz: no such file or folder, here or under $WILDGAN_DATA ({tmp_path / 'root'})"
    assert main(["train", "--data", "mnist/nope.npz", "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    assert want in capsys.readouterr().err
    assert main(["score", str(tmp_path / "r"), "--data", "mnist/nope.npz", "--out", "-"]) == 2
    assert want in capsys.readouterr().err
    monkeypatch.delenv("WILDGAN_DATA")
    assert main(["train", "--data", "mnist/nope.npz", "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    assert "$WILDGAN_DATA" not in capsys.readouterr().err          # not looked for there without the variable


def test_score_of_a_missing_data_path_names_the_data_option(tmp_path, capsys, monkeypatch):
    """`wildgan score RUN --data new_images/` (the README's placeholder, no such folder) said only 'new_images/: no
    such file or folder', beside a run path that might as well have been the wrong one: the error names --data."""
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["score", str(tmp_path / "r"), "--data", "new_images/", "--out", "-"]) == 2
    assert "new_images: no such file or folder (--data)" in capsys.readouterr().err


def test_a_run_inside_its_own_data_folder_is_refused_before_anything_is_written(tmp_path, capsys):
    """--out in (or below) the --data folder: the run's sample grids would join the data (and make the folder read as
    a run), so a --resume or an evaluation would read other images than the run trained on."""
    from PIL import Image

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(pile / f"{i:02d}.png")
    for out in (pile, pile / "run"):
        assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.02", "--out", str(out),
                     "--threads", "1", "--no-progress", "--no-train-scores"]) == 2
        assert f"--out {out} is inside the data folder {pile}" in capsys.readouterr().err
    assert sorted(p.name for p in pile.iterdir()) == [f"{i:02d}.png" for i in range(20)]      # nothing written


def test_a_dry_run_refuses_an_out_inside_its_data_folder_as_the_start_does(tmp_path, capsys):
    """--dry-run printed the config (exit 0) of a run that the start then refused for its --out inside --data; it
    refuses it now in the start's words, with --data typed or named by a --config file."""
    from PIL import Image

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(pile / f"{i:02d}.png")
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"data": str(pile)}))
    for out in (pile, pile / "run"):
        for given in (["--data", str(pile)], ["--config", str(flat)]):
            assert main(["train", *given, "--preset", "tiny", "--out", str(out), "--no-progress", "--dry-run"]) == 2
            assert f"--out {out} is inside the data folder {pile}" in capsys.readouterr().err
    assert sorted(p.name for p in pile.iterdir()) == [f"{i:02d}.png" for i in range(20)]      # nothing written
    # beside the data, the dry run prints the config as before
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--out", str(tmp_path / "run"), "--no-progress",
                 "--dry-run"]) == 0


def test_a_run_into_another_folder_of_images_is_refused_before_anything_is_written(tmp_path, capsys):
    """--out a folder of images that are not the run's data (a mistyped --out: the new images to score): the run made
    that folder a run, so `score RUN --data FOLDER` refused it as a run directory and a score of the folder above it
    left its images out without a word. Refused, with --overwrite and by the demo too; an empty folder, or one holding
    other files only, is taken as before."""
    from PIL import Image

    pile, new = tmp_path / "pile", tmp_path / "new images"
    for d in (pile, new):
        d.mkdir()
        for i in range(20):
            Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(d / f"{i:02d}.png")
    (new / "notes.txt").write_text("mine")
    before = sorted(p.name for p in new.iterdir())
    tiny = ["--preset", "tiny", "--total-kimg", "0.02", "--threads", "1", "--no-progress", "--no-train-scores"]
    for extra in ([], ["--overwrite"]):
        assert main(["train", "--data", str(pile), *tiny, "--out", str(new), *extra]) == 2
        err = capsys.readouterr().err
        assert f"--out {new} holds image files (e.g. " in err and "give a new or empty folder as --out" in err, err
    assert main(["demo", "--out", str(new), "--no-progress"]) == 2
    assert f"--out {new} holds image files" in capsys.readouterr().err
    assert sorted(p.name for p in new.iterdir()) == before                # nothing written
    # other files than images (notes, a hidden file) are no reason to refuse
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    (other / ".thumb.png").write_bytes(b"")
    assert main(["train", "--data", str(pile), *tiny, "--out", str(other)]) == 0
    assert (other / "network-final.json").is_file()


def test_a_study_into_a_folder_of_images_is_refused_as_a_run_is(tiny_npz, tmp_path, capsys):
    # train and demo refused --out a folder of images (the test above); study made a study of it, whose folder the
    # readers then skip and `score --data` refuses. Its own figures (auc_vs_gamma.png) are no reason to refuse
    from PIL import Image

    from wildgan.studies.study import check_study_out_dir

    pile, new = tmp_path / "pile", tmp_path / "new images"
    for d in (pile, new):
        d.mkdir()
        for i in range(20):
            Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(d / f"{i:02d}.png")
    before = sorted(p.name for p in new.iterdir())
    assert main(["study", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--contamination", "0", "--seeds", "0", "--threads", "1", "--no-progress", "--out", str(new)]) == 2
    err = capsys.readouterr().err
    assert f"--out {new} holds image files (e.g. " in err and "and no study: the study's files and its cells' sample " \
           "grids and report figures would mix with them" in err and "give a new or empty folder as --out" in err, err
    assert sorted(p.name for p in new.iterdir()) == before                # nothing written
    study = tmp_path / "study"
    (study / "runs").mkdir(parents=True)
    (study / "results.jsonl").write_text("")
    (study / "auc_vs_gamma.png").write_bytes((pile / "00.png").read_bytes())
    check_study_out_dir(study, str(pile))


def test_a_run_whose_data_moved_says_so_and_resumes_once_its_data_is_linked_back(tiny_npz, tmp_path, capsys):
    # the recorded path was refused bare ('PATH: no such file or folder', a path the user had not typed), and a
    # --resume with --data NEW_PLACE is refused as other data: the way on (a link) was said nowhere
    run, data = tmp_path / "run", tmp_path / "d" / "tiny.npz"
    data.parent.mkdir()
    tiny_npz.rename(data)
    common = ["--preset", "tiny", "--phase-kimg", "0.02", "--threads", "1", "--no-progress", "--no-train-scores"]
    assert main(["train", "--data", str(data), "--normal", "0", "--total-kimg", "0.02", "--out", str(run),
                 *common]) == 0
    data.parent.rename(tmp_path / "moved")
    want = (f"{data}: no such file or folder: the data {run} was trained on (recorded in its config.json); if it "
            f"moved, put it back, or link its new place there (ln -s NEW_PLACE {data})")
    capsys.readouterr()
    for argv in (["train", "--out", str(run), "--resume", "--total-kimg", "0.04", "--no-progress"],
                 ["train", "--out", str(run), "--resume", "--config", str(run / "config.yaml"), "--no-progress"],
                 ["score", str(run), "--out", "-"], ["evaluate", str(run)]):
        assert main(argv) == 2
        assert want in capsys.readouterr().err
    # --data at the new place is other data to a resume (refused), which says the way on as well: the refusal's own
    # advice, to leave out --data, led only to the message above
    moved = tmp_path / "moved" / "tiny.npz"
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.04", "--no-progress", "--data",
                 str(moved)]) == 2
    err = capsys.readouterr().err
    assert "--resume with settings that differ from the saved run: data.data" in err
    assert (f"The data the run was trained on, {data}, is gone: if it moved to {moved}, link it there (ln -s {moved} "
            f"{data}) and resume without --data") in err
    data.parent.symlink_to(tmp_path / "moved")
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.04", "--no-progress"]) == 0


def test_score_and_export_refuse_an_out_that_is_one_of_the_runs_own_files(tiny_npz, tmp_path, capsys):
    # `score RUN --out RUN/config.json` replaced the run's config with the scores (no command could read the run
    # again); RUN/test_scores.csv, the per-image scores of its eval.json, likewise
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--phase-kimg", "0.01", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    (run / "eval-other").mkdir()
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for out in (run / "config.json", run / "split.json", run / "test_scores.csv", run / "eval-other" / "eval.json"):
        assert main(["score", str(run), "--out", str(out)]) == 2
        assert f"--out {out} is a file of the run {run}, which wildgan writes and reads" in capsys.readouterr().err
    assert main(["export", str(run), "--format", "onnx", "--out", str(run / "network-final.json")]) == 2
    assert "is a file of the run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert not list((run / "eval-other").iterdir())
    # a file in a folder the run's commands rewrite: `wildgan report RUN` replaces report/ (the scores went with it)
    for sub in ("report", "checkpoints"):
        (run / sub).mkdir(exist_ok=True)
        out = run / sub / "scores.csv"
        assert main(["score", str(run), "--out", str(out)]) == 2
        assert f"--out {out} is inside the run {run}, in its {sub}/ folder" in capsys.readouterr().err
        assert not out.exists()
    assert main(["score", str(run), "--out", str(run / "scores.csv")]) == 0      # a name of its own: fine


def test_a_run_or_study_inside_another_runs_own_folders_is_refused(tiny_npz, tmp_path, capsys):
    """--out RUN/report/x (a mistyped --out): the new run was written there, and the next `wildgan report RUN`, which
    replaces report/, deleted its sample grids; a --resume of RUN prunes checkpoints/, --overwrite deletes them all."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"net": {}, "train": {}}')       # what tells a run's folder (is_run_dir)
    (run / "split.json").write_text("{}")

    def files() -> list[str]:
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    before = files()
    for sub in ("report/x", "checkpoints", "samples/new", "eval-data-whole/r"):
        assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                     "--out", str(run / sub), "--no-progress"]) == 2
        first = sub.split("/")[0]
        assert f"--out {run / sub} is inside the run {run}, in its {first}/ folder" in capsys.readouterr().err
    assert main(["study", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--out", str(run / "report" / "st")]) == 2
    assert f"--out {run / 'report' / 'st'} is inside the run {run}, in its report/ folder" in capsys.readouterr().err
    assert files() == before
    # beside the run's own folders, or in a folder of its own, a run may still be nested
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--out", str(run / "variant"), "--threads", "1", "--no-progress", "--no-train-scores"]) == 0
    # one an older wildgan wrote there is resumed, and said to be there (it was resumed without a word)
    (run / "report").mkdir()
    old = run / "report" / "old"
    (run / "variant").rename(old)
    capsys.readouterr()
    assert main(["train", "--resume", "--total-kimg", "0.04", "--out", str(old), "--no-progress"]) == 0
    said = (f"warning: {old} is inside the run {run}, in its report/ folder (an older wildgan allowed that; a new run "
            f"there is refused)")
    assert said in capsys.readouterr().err and said in (old / "log.txt").read_text()


def test_train_refuses_its_out_before_it_reads_the_data(tiny_npz, tmp_path, capsys, monkeypatch):
    """What --out alone refuses is said before the images are decoded (minutes for a large folder, wasted by a
    refusal after it), and nothing is written; --overwrite with data that does not load keeps the old run."""
    import wildgan.data

    run = tmp_path / "run"
    run.mkdir()
    (run / "stats.jsonl").write_text('{"kimg": 0.1}\n')          # a run that trained
    (run / "network-final.json").write_text("{}")
    (run / "config.json").write_text("{}")
    pile = tmp_path / "pile"
    pile.mkdir()
    (pile / "00.png").write_bytes(b"never decoded here")

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    before = files()
    refusals = [([str(tiny_npz), str(run)], [], "already holds a run"),
                ([str(pile), str(pile / "run")], [], f"--out {pile / 'run'} is inside the data folder {pile}"),
                ([str(pile), str(pile)], [], f"--out {pile} is inside the data folder {pile}"),
                ([str(tiny_npz), str(tmp_path / "nothere")], ["--resume"], "nothing to resume (no such folder)"),
                ([str(tiny_npz), str(run)], ["--resume"], "cannot resume: the run has trained networks")]
    with monkeypatch.context() as m:
        m.setattr(wildgan.data, "build_split", lambda *a, **k: pytest.fail("the data was read before the refusal"))
        for (data, out), extra, message in refusals:
            assert main(["train", "--data", data, "--out", out, "--no-progress", *extra]) == 2
            assert message in capsys.readouterr().err
    assert files() == before
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    assert main(["train", "--data", str(bad), "--out", str(run), "--overwrite", "--no-progress"]) == 2
    assert "bad.npz" in capsys.readouterr().err
    assert files() == {**before, "bad.npz": b"not an npz"}


@pytest.mark.parametrize("cmd", [["train", "--out", "run"], ["study", "--out", "study"], ["demo", "--out", "demo"]])
def test_negative_threads_are_refused_when_the_options_are_read(cmd, tmp_path, capsys, monkeypatch) -> None:
    """train refused --threads -1 only after loading the data (its TrainConfig), demo deep in the training it starts:
    now at argument parsing, with the message of score / evaluate / report, before anything is read or written."""
    from wildgan.cli import make_parser

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--threads", "-1"])
    assert e.value.code == 2
    assert "argument --threads: must be at least 0 (0 = torch's default), got -1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert make_parser().parse_args([*cmd, "--threads", "0"]).threads == 0        # 0 = torch's default, as before


def test_threads_from_a_config_file_are_checked_as_on_the_command_line(tmp_path, capsys) -> None:
    cfg = tmp_path / "opts.yaml"
    cfg.write_text("threads: 2.0\n")
    assert dry_run(capsys, "--config", str(cfg))["train"]["threads"] == 2
    cfg.write_text("threads: -1\n")
    assert main(["train", "--out", str(tmp_path / "run"), "--config", str(cfg)]) == 2
    assert (f'{cfg}: threads must be at least 0 (0 = torch\'s default), got -1 (the --threads setting)'
            in capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_study_help_describes_the_data_a_study_takes() -> None:
    """study shares train's data options, but a study refuses unlabelled data and writes each cell's run under
    STUDY_DIR/runs: its help must not describe train's unlabelled pile or train's run folder."""
    from wildgan.cli import make_parser
    from wildgan.cli.parser import sub_parser

    p = make_parser()
    study, train = (" ".join(sub_parser(p, c).format_help().split()) for c in ("study", "train"))
    assert "all of it is trained on" in train and "all of it is trained on" not in study
    assert "--dataset unlabelled) has no test split and is refused" in study
    assert "RUN_DIR/" not in study and "STUDY_DIR/runs/CELL/skipped.txt" in study


def test_demo_help_says_its_normal_takes_several_digits(tmp_path, capsys, monkeypatch) -> None:
    """demo --normal's help said "the normal digit", but it takes a list (1,7) and trains on both: the help says so."""
    import wildgan.training.run as training_run
    from wildgan.cli import make_parser
    from wildgan.cli.parser import sub_parser

    demo = " ".join(sub_parser(make_parser(), "demo").format_help().split())
    assert "--normal DIGITS the normal digit(s), comma separated (default 1; e.g. 1,7: both are normal" in demo, demo
    trained = []

    def record(cfg, run_dir, **kw):
        trained.append(cfg.data.normal)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr(training_run, "train_run", record)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--normal", "1,7", "--no-progress"]) == 2
    assert trained == [("1", "7")], capsys.readouterr().err


def test_an_older_run_inside_its_data_folder_resumes_on_the_data_alone(tmp_path, capsys, monkeypatch):
    """An older wildgan took --out inside --data; train then refused to --resume such a run. It resumes now, with a
    warning, and the readers leave the run's folder out: its sample grids are not training images, the pile still
    reads as a pile (a run folder beside the images made it a labelled tree), and the split matches split.json."""
    from PIL import Image

    import wildgan.training.run as training_run
    from wildgan.data.readers import load_dataset

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(pile / f"{i:02d}.png")
    run = pile / "run"
    common = ["--preset", "tiny", "--threads", "1", "--no-progress", "--no-train-scores", "--phase-kimg", "0.02"]
    with monkeypatch.context() as m:
        m.setattr(training_run, "refuse_run_inside_data", lambda *a, **k: None)        # the older wildgan
        assert main(["train", "--data", str(pile), *common, "--total-kimg", "0.04", "--out", str(run)]) == 0
    assert list((run / "samples").glob("*.png"))
    recorded = json.loads((run / "split.json").read_text())
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.08", "--no-progress"]) == 0, \
        capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"warning: {run} is inside its data folder {pile}" in err and "resuming wildgan" in err
    again = json.loads((run / "split.json").read_text())
    assert again["n_train"] == recorded["n_train"] == 20 and again["protocol"] == "unlabelled"
    train, test, fmt = load_dataset(pile, "auto", progress=False)
    assert fmt == "unlabelled-folder" and len(train.x) == 20 and test is None
    # a new run inside the data is still refused
    assert main(["train", "--data", str(pile), *common, "--total-kimg", "0.04", "--out", str(pile / "new")]) == 2
    assert f"--out {pile / 'new'} is inside the data folder {pile}" in capsys.readouterr().err


def test_dist_timeout_without_distributed_is_said_to_be_ignored(tiny_npz, tmp_path, capsys) -> None:
    """--dist-timeout sets how long the ranks of a --distributed job wait for each other: without --distributed it was
    taken silently, as if a one-process run honoured it."""
    said = "warning: --dist-timeout only matters with --distributed (how long its ranks wait for each other): ignored"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--out", str(tmp_path / "r"), "--dry-run",
                 "--dist-timeout", "5"]) == 0
    assert said in capsys.readouterr().err
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--out", str(tmp_path / "r"), "--dry-run"]) == 0
    assert "--dist-timeout" not in capsys.readouterr().err
    # (score says it before it reads the run: here there is none)
    assert main(["score", str(tmp_path / "norun"), "--out", "-", "--dist-timeout", "5"]) == 2
    assert said in capsys.readouterr().err
    assert main(["score", str(tmp_path / "norun"), "--out", "-"]) == 2
    assert "--dist-timeout" not in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "0", "nan", "1e9", "soon"])
def test_a_bad_dist_timeout_is_refused_without_distributed_too(tmp_path, capsys, value) -> None:
    """--dist-timeout's value was checked only when a --distributed job started: without --distributed, `--dist-timeout
    -1` was taken (ignored, with a warning), and training went on, until the same command line was given to torchrun."""
    out = tmp_path / "r"
    # (train's --dry-run: without the check the command goes on, and the test must not train)
    for cmd in (["train", "--out", str(out), "--dry-run"],
                ["score", str(tmp_path / "norun"), "--out", str(tmp_path / "s.csv")]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--dist-timeout", value])
        assert e.value.code == 2
        err = capsys.readouterr().err
        why = "expected a number of minutes" if value == "soon" else "must be a number of minutes above 0"
        assert f"argument --dist-timeout: {why}, got {value}" in err, err
        assert "only matters with --distributed" not in err
    assert not out.exists() and not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("rank", [0, 1])
def test_only_rank_0_of_a_distributed_train_needs_tensorboard(rank, tiny_npz, tmp_path, capsys, monkeypatch) -> None:
    """Rank 0 alone writes TensorBoard: another rank of a torchrun job was refused for lacking a package it never
    uses. Rank 0 is refused before anything is written, while its ranks start together (start_together), so that
    every rank stops on it instead of waiting for rank 0 at the run lock. Without processes: a world of one rank."""
    import sys

    import torch

    from wildgan.training import distributed as dist
    from wildgan.training import run as run_mod

    ctx = dist.DistContext(rank=rank, world=1, local_rank=rank, device=torch.device("cpu"), backend="gloo")
    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: monkeypatch.setattr(dist, "_CTX", ctx) or ctx)
    refused_at_start = []

    def together(ctx, setup, run_dir, log=None):
        try:
            return setup()
        except ConfigError as e:
            refused_at_start.append(str(e))
            raise

    monkeypatch.setattr(dist, "start_together", together)
    trained = []
    monkeypatch.setattr(run_mod, "_train_run", lambda *a, **k: trained.append(a[1]))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)          # import fails as if not installed
    run = tmp_path / "run"
    rc = main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--out", str(run),
               "--distributed", "--tensorboard", "--no-progress"])
    if rank == 0:
        assert rc == 2
        assert "--tensorboard needs the tensorboard package" in capsys.readouterr().err
        assert len(refused_at_start) == 1 and "tensorboard" in refused_at_start[0]
        assert not run.exists() and not trained
    else:
        assert rc == 0 and trained == [run] and not refused_at_start


def _data_read_fails(monkeypatch) -> None:
    import wildgan.data

    for name in ("build_split", "load_split_data"):
        monkeypatch.setattr(wildgan.data, name, lambda *a, **k: pytest.fail("the data was read before the refusal"))


def _data_read_said(monkeypatch) -> None:
    """Reading the data stops the command with a mark of its own: the checks before it let the command through."""
    import wildgan.data

    def said(*a, **k):
        raise ConfigError("reached the data")

    for name in ("build_split", "load_split_data"):
        monkeypatch.setattr(wildgan.data, name, said)


def test_train_refuses_a_folder_in_use_before_it_reads_the_data(tiny_npz, tmp_path, capsys, monkeypatch) -> None:
    """A second `wildgan train --out RUN` while another process trains there was refused only at the run lock, after
    it had decoded the data (minutes for a large folder), or was told to --resume or --overwrite the running run. Now
    at once, with the lock's own message, whatever the flags; a free folder, or one whose lock file a killed process
    left behind, goes on to the data, and the check makes no folder or lock file."""
    from wildgan.training.run import LOCK_NAME, run_lock

    run = tmp_path / "run"
    run.mkdir()
    args = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress", "--out", str(run)]
    _data_read_fails(monkeypatch)
    with run_lock(run):                      # (a second open of the lock file conflicts, as another process's)
        (run / "config.json").write_text("{}")                    # the holder's run, as it starts
        (run / "stats.jsonl").write_text('{"kimg": 0.1}\n')
        for flags in ([], ["--resume"], ["--overwrite"]):
            assert main([*args, *flags]) == 2
            assert f"{run} is in use by another wildgan process (pid {os.getpid()} on " in capsys.readouterr().err
        lock = (run / LOCK_NAME).read_bytes()
    _data_read_said(monkeypatch)
    assert main([*args, "--overwrite"]) == 2
    assert "reached the data" in capsys.readouterr().err
    (run / LOCK_NAME).write_bytes(lock)                          # a killed holder's file: no lock on it
    assert main([*args, "--overwrite"]) == 2
    assert "reached the data" in capsys.readouterr().err
    assert (run / LOCK_NAME).read_bytes() == lock
    new = tmp_path / "new"
    assert main([*args[:-1], str(new)]) == 2
    assert "reached the data" in capsys.readouterr().err and not new.exists()


@pytest.mark.parametrize("rank", [0, 1])
def test_only_rank_0_of_a_distributed_train_checks_the_lock_early(rank, tiny_npz, tmp_path, capsys,
                                                                  monkeypatch) -> None:
    """Under torchrun rank 0 holds the run lock for the job, so the early check is rank 0's: another rank asking it
    could find the lock held by its own job's rank 0 and refuse the job. Rank 0's refusal stops every rank at the
    start (start_together). Without processes: a world of one rank, the lock held here standing for rank 0's."""
    import torch

    from wildgan.training import distributed as dist
    from wildgan.training.run import run_lock

    ctx = dist.DistContext(rank=rank, world=1, local_rank=rank, device=torch.device("cpu"), backend="gloo")
    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: monkeypatch.setattr(dist, "_CTX", ctx) or ctx)
    monkeypatch.setattr(dist, "start_together", lambda ctx, setup, run_dir, log=None: setup())
    (_data_read_fails if rank == 0 else _data_read_said)(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    with run_lock(run):
        rc = main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--out", str(run),
                   "--distributed", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert ("is in use by another wildgan process" in err) == (rank == 0)
    assert ("reached the data" in err) == (rank == 1)


def test_demo_refuses_a_folder_in_use_before_it_marks_it(tmp_path, capsys, monkeypatch) -> None:
    """The demo marks what is in --out as a demo once its train returns, whatever the outcome; refused at the lock
    of a folder whose holder had meanwhile written its run there, it marked that run as a demo, for a later demo to
    replace. Refused before, it writes nothing."""
    from wildgan.training import run as run_mod

    out = tmp_path / "demo"
    out.mkdir()
    check = run_mod.check_lock_free

    def holder_starts_its_run(run_dir):
        try:
            check(run_dir)
        except ConfigError:
            (out / "config.json").write_text("{}")     # the holder writes its run as the demo is being refused
            raise

    monkeypatch.setattr(run_mod, "check_lock_free", holder_starts_its_run)
    _data_read_fails(monkeypatch)
    with run_mod.run_lock(out):
        assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    assert "is in use by another wildgan process" in capsys.readouterr().err
    assert not (out / "DEMO.txt").exists()


@pytest.mark.parametrize("when", ["before the train's check", "after the train's check", "at the lock"])
def test_demo_never_marks_a_run_of_a_process_that_took_the_folder_after_its_check(when, tmp_path, capsys,
                                                                                 monkeypatch) -> None:
    """The demo checked the lock, then trained, then marked what was in --out as a demo whatever the outcome: another
    process that took the folder after the demo's check and wrote its run there had that run marked as a demo (the
    demo's train refused), for a later demo to replace. The mark is now written only while the demo's own train
    holds the run lock (train_run's before_unlock), so a refused demo leaves the folder alone."""
    from contextlib import ExitStack, contextmanager

    from wildgan.training import run as run_mod

    out = tmp_path / "demo"
    out.mkdir()
    real_check, real_lock = run_mod.check_lock_free, run_mod.run_lock
    held = ExitStack()
    checks = []

    def other_process_takes_the_folder():
        held.enter_context(real_lock(out))
        (out / "config.json").write_text("{}")                   # ... and starts its run there
        (out / "stats.jsonl").write_text('{"kimg": 0.1}\n')

    def check(run_dir):
        checks.append(run_dir)                                    # 1: the demo's own check, 2: its train's
        if len(checks) == 2 and when == "before the train's check":
            other_process_takes_the_folder()
        real_check(run_dir)
        if len(checks) == 2 and when == "after the train's check":
            other_process_takes_the_folder()

    @contextmanager
    def lock(run_dir):
        if when == "at the lock":
            other_process_takes_the_folder()
        with real_lock(run_dir):
            yield

    monkeypatch.setattr(run_mod, "check_lock_free", check)
    monkeypatch.setattr(run_mod, "run_lock", lock)
    with held:
        assert main(["demo", "--out", str(out), "--total-kimg", "0.1", "--phase-kimg", "0.05", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert ("already holds a run" if when == "after the train's check" else "is in use by another wildgan") in err
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "stats.jsonl"]       # no DEMO.txt


def test_a_start_is_refused_at_once_by_a_process_that_holds_the_run(tmp_path, monkeypatch) -> None:
    """run_lock's grace for a glance (check_lock_free's shared lock, see the test below) was spent also when the
    holder was a process training there (an exclusive lock), which only delayed a certain refusal. Now such a holder
    is told from a glance (a shared lock gets past a glance, not past a holder) and refused without waiting."""
    from wildgan.training import run as run_mod

    run = tmp_path / "run"
    run.mkdir()
    waits = []
    monkeypatch.setattr(run_mod.time, "sleep", waits.append)
    with run_mod.run_lock(run):                  # (a second open of the lock file conflicts, as another process's)
        with pytest.raises(ConfigError, match="in use by another wildgan process"):
            with run_mod.run_lock(run):
                pass
    assert waits == []


def test_a_lock_whose_holder_record_cannot_be_written_is_let_go(tmp_path, monkeypatch) -> None:
    """run_lock wrote who holds it (pid, host) before the `try` that lets the lock go: a write that failed (a full
    disk) kept the lock, in this process, until the process ended, so that its next run there (a Detector.fit tried
    again) was refused as 'in use by another wildgan process'."""
    from wildgan.training.run import LOCK_NAME, run_lock

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", disk_full)
        with pytest.raises(OSError, match="No space left on device"):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):                             # the folder is free again
        assert (tmp_path / LOCK_NAME).is_file()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_glance_at_the_lock_does_not_refuse_a_start(tmp_path, monkeypatch) -> None:
    """check_lock_free holds the lock shared for an instant: a start that takes it meanwhile waits that instant
    instead of being refused as if a process were training there."""
    import fcntl

    from wildgan.training import run as run_mod
    from wildgan.training.run import LOCK_NAME, check_lock_free, run_lock

    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).write_text("")
    fd = os.open(run / LOCK_NAME, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)                           # a glance, held until the start has met it
    real, met = run_mod._only_glanced_at, []

    def glanced(f: int) -> bool:
        # the glance ends once the start waits on it: a threading.Timer(0.05) that closed it missed the start's 0.25 s
        # grace where a loaded machine held the timer's thread longer (refused: "in use by another wildgan process")
        shared = real(f)
        if shared and not met:
            met.append(f)
            os.close(fd)
        return shared

    monkeypatch.setattr(run_mod, "_only_glanced_at", glanced)
    with run_lock(run):
        assert met, "the start did not meet the glance"
        with pytest.raises(ConfigError, match="in use by another wildgan process"):
            check_lock_free(run)
    check_lock_free(run)



def _score_with_threshold(run: Path, data: Path, tmp_path: Path, capsys, *extra: str) -> tuple[int, str]:
    """`wildgan score RUN --data DATA --threshold mad`: the exit code, and stderr with the warnings (which pytest turns
    into Python warnings)."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        rc = main(["score", str(run), "--data", str(data), "--threshold", "mad", "--out", str(tmp_path / "s.csv"),
                   "--threads", "1", "--no-progress", *extra])
    return rc, capsys.readouterr().err + "".join(str(w.message) for w in got)


def test_score_threshold_skip_bad_leaves_unreadable_training_files_out(pile_run_gone_bad, tmp_path, capsys,
                                                                        monkeypatch, unnested):
    """`score --threshold --skip-bad` on a run whose training scores are not cached and one of whose training files
    became unreadable: the file is left out of the threshold's training scores, named in a warning, the threshold says
    how many images it came from, and the cache records the file so that a later call without --skip-bad does not read
    it as complete (it stops, naming the file and --skip-bad); once the file is readable again the cache is whole."""
    from PIL import Image

    from wildgan.scoring import train_scores

    run, pile, good = pile_run_gone_bad
    new = tmp_path / "new"
    new.mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(new / "q.png")
    capsys.readouterr()
    real, scored = train_scores.score_training_split, []
    monkeypatch.setattr(train_scores, "score_training_split", lambda *a, **k: scored.append(1) or real(*a, **k))

    def score(*extra: str) -> tuple[int, str]:
        return _score_with_threshold(run, new, tmp_path, capsys, *extra)

    rc, err = score()
    assert rc == 2 and f"{pile / '03.png'}: not a readable image" in err and "--skip-bad" in err
    rc, err = score("--skip-bad")
    assert rc == 0 and "leave out 1 unreadable file" in err and f"{pile / '03.png'}" in err
    assert "mad (k=3, n=19 of 20 trained on)" in err
    # said once, as a file left out: not also as the data having changed since training ('n_train 20 -> 19; the ids')
    assert err.count("unreadable file") == 1 and "changed since" not in err, err
    key = json.loads((run / "train_scores.json").read_text())
    assert key["n"] == 19 and [s["path"] for s in key["skipped"]] == [str(pile / "03.png")]
    rc, err = score()                                             # the partial cache is not taken for a whole one
    assert rc == 2 and f"{pile / '03.png'}: not a readable image" in err
    n_scored = len(scored)
    rc, err = score("--skip-bad")                                 # read from the cache, the gap said again
    assert rc == 0 and len(scored) == n_scored and f"{pile / '03.png'}" in err and "n=19 of 20" in err
    (pile / "03.png").write_bytes(good)                           # readable again: scored, the cache whole
    rc, err = score()
    assert rc == 0 and "mad (k=3, n=20)" in err and "skipped" not in json.loads((run / "train_scores.json").read_text())
    # a file added besides one unreadable again: the change that the file left out does not account for is said, in
    # the refusal (no cached scores of the images trained on, and the images read now are other ones)
    (pile / "03.png").write_bytes(good[:40])
    Image.fromarray(np.ones((8, 8), dtype=np.uint8)).save(pile / "20.png")
    (run / "train_scores.json").unlink()
    rc, err = score("--skip-bad")
    assert rc == 2 and "changed since" in err and "the image ids" in err and "1 unreadable, left out" in err, err
    # (said after the parenthesis of what changed, not in it: the file's reason has one of its own)
    (refusal,) = [ln for ln in err.splitlines() if "changed since" in ln]
    assert "was trained (the image ids), and " in refusal and \
        f"not there any more. 1 unreadable, left out: {pile / '03.png'}: " in unnested(refusal), refusal


def test_score_threshold_skip_bad_a_file_unreadable_that_was_no_training_image_leaves_nothing_out(
        pile_run_gone_bad, tmp_path, capsys):
    """`score --threshold --skip-bad` where the file unreadable since training is none of the run's training images
    (here added to the pile since; in labelled data, a test image): the training scores leave nothing out, so no
    warning says they do ('leave out 1 unreadable file ... (20 images scored)'), and their cache, whole, serves a
    later call without --skip-bad."""
    from PIL import Image

    run, pile, good = pile_run_gone_bad
    (pile / "03.png").write_bytes(good)
    (pile / "20.png").write_bytes(good[:40])
    q = tmp_path / "q.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(q)

    def score(*extra: str) -> tuple[int, str]:
        return _score_with_threshold(run, q, tmp_path, capsys, *extra)

    capsys.readouterr()
    rc, err = score("--skip-bad")
    assert rc == 0 and "mad (k=3, n=20)" in err and "unreadable file" not in err, err
    assert "skipped" not in json.loads((run / "train_scores.json").read_text())
    rc, err = score()                                             # the cache is whole: 20.png is not read
    assert rc == 0 and "mad (k=3, n=20)" in err, err


class _Writes:
    """A stderr that records each write() apart: under torchrun the ranks share the terminal, and a line written in
    two pieces can have another rank's line land between them."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, s: str) -> int:
        self.writes.append(s)
        return len(s)

    def flush(self) -> None:
        pass


def test_each_stderr_line_is_one_write_with_its_newline(monkeypatch, tmp_path):
    err = _Writes()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["score", str(tmp_path / "no-such-run"), "--out", str(tmp_path / "s.csv")]) == 2
    assert err.writes and all(w.endswith("\n") and w.startswith("wildgan") for w in err.writes), err.writes


def _labelled_class_folder_run(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """(data root, run, its test ids): a tiny run trained and evaluated on class folders a (normal) and b, 30 images
    of 8x8 each: 24 training and 12 test images."""
    from PIL import Image

    root, run = tmp_path / "d", tmp_path / "run"
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / c / f"{i:03d}.png")
    assert main(["train", "--data", str(root), "--normal", "a", "--preset", "tiny", "--threads", "1", "--no-progress",
                 "--total-kimg", "0.032", "--phase-kimg", "0.1", "--no-train-scores", "--evaluate",
                 "--out", str(run)]) == 0
    return root, run, {r.split(",")[0] for r in (run / "test_scores.csv").read_text().splitlines()[1:]}


def test_score_threshold_skip_bad_says_a_training_file_unreadable_since_training_in_one_warning(tmp_path, capsys):
    """`score RUN --threshold mad --skip-bad` of a labelled run one of whose training files was truncated to 0 bytes
    since training gave two warnings for that one cause: the rebuilt split's, naming the file, then the training
    scores' ('... come from those 23: the file named above'). Now one: the file, that it was a training image
    unreadable since training, the split's counts, and that the training scores the threshold comes from leave it
    out, so the threshold comes from 23 images; computed, and then read from the partial cache that wrote."""
    root, run, test_ids = _labelled_class_folder_run(tmp_path)
    name = next(f"a/{i:03d}.png" for i in range(30) if f"a/{i:03d}.png" not in test_ids)
    (root / name).write_bytes(b"")
    for cache in ("computed", "cached"):
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            assert main(["score", str(run), "--threshold", "mad", "--skip-bad", "--threads", "1", "--no-progress",
                         "--out", str(tmp_path / "s.csv")]) == 0
        said = ([ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("wildgan: warning:")]
                + [str(w.message) for w in got])
        about = [w for w in said if "unreadable" in w]
        assert len(about) == 1, (cache, about)
        one = about[0]
        assert one.count(str(root / name)) == 1 and "empty file (0 bytes) (a training image)" in one, one
        assert f"unreadable since {run} was trained" in one and "(split.json: 24 and 12)" in one, one
        assert "the training scores leave out 1 unreadable training file" in one, one
        assert "thresholds and percentiles come from those 23" in one, one
        assert ("train_scores.csv (scored with --skip-bad)" in one) == (cache == "cached"), one


def _stderr_in_order(capsys, argv: list[str], rc: int = 0) -> str:
    """What `wildgan ARGV` writes to stderr, its Python warnings among it where they were said, as the CLI prints
    them (pytest would otherwise collect them apart)."""
    import sys

    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda m, *_a, **_k: print(f"wildgan: warning: {m}", file=sys.stderr)
        assert main(argv) == rc
    return capsys.readouterr().err


def test_a_test_file_unreadable_since_training_is_said_before_the_scoring_not_after_it(tmp_path, capsys,
                                                                                       monkeypatch):
    """`score --threshold --skip-bad` and `report --skip-bad` of a labelled run one of whose test files became
    unreadable since training: the rebuilt split's warning naming it was held for the training scores' warning to join
    (HeldWarning), and said only after the whole training split (no train_scores.csv: a --checkpoint, or
    --no-train-scores), or the whole test split and its controls (report), had been scored, behind their progress
    bars. A test file leaves the training scores whole, so nothing joins it: it is said before the scoring."""
    import sys

    import wildgan.scoring.train_scores as ts

    root, run, test_ids = _labelled_class_folder_run(tmp_path)
    name = sorted(i for i in test_ids if i.startswith("a/"))[0]
    (root / name).write_bytes(b"")
    score_training_split = ts.score_training_split

    def marked(*args, **kwargs):                 # where the (long) scoring of the training split starts
        print("wildgan: SCORING THE TRAINING SPLIT", file=sys.stderr)
        return score_training_split(*args, **kwargs)

    monkeypatch.setattr(ts, "score_training_split", marked)
    for argv, scoring in ((["score", "--threshold", "mad", "--out", str(tmp_path / "s.csv")],
                           "SCORING THE TRAINING SPLIT"),
                          (["report", "--no-controls"], "scoring 11 test images")):
        err = _stderr_in_order(capsys, [argv[0], str(run), *argv[1:], "--threads", "1", "--no-progress", "--skip-bad"])
        said = err.find(f"{root / name}: empty file")
        assert err.count(f"{root / name}: empty file") == 1 and 0 <= said < err.find(scoring), err



def test_report_image_skip_bad_scores_and_flags_as_score_skip_bad_does(tmp_path, capsys):
    """`report --image new/ --skip-bad` and `score --data new/ --threshold contamination --skip-bad` of the same
    folder with unreadable files give each readable image the same scores, percentile among the training images and
    flag (docs/cli.md: the report's flag is "as `wildgan score --threshold contamination` would"). score leaves a
    bad file's slot out of its score batch; the report batched the readable files as if the folder held no others,
    and E's minibatch stddev moved `a` by a few thousandths (64x64: up to 0.0055, percentiles 9.5 points, one flag)."""
    import csv

    from PIL import Image

    pile, run, rng = tiny_run_on_a_noise_pile(tmp_path)
    new = tmp_path / "new"
    new.mkdir()
    for i in range(22):
        # a few flat images among noise like the training images': some flagged, some not
        x = np.full((8, 8), 255 * (i % 2), np.uint8) if i % 5 == 0 else rng.integers(0, 255, (8, 8), dtype=np.uint8)
        Image.fromarray(x).save(new / f"{i:02d}.png")
    for i in (3, 11):
        (new / f"{i:02d}.png").write_bytes(b"not an image")
    out = tmp_path / "scores.csv"
    common = ["--skip-bad", "--threads", "1", "--no-progress"]
    assert main(["score", str(run), "--data", str(new), "--threshold", "contamination", "--out", str(out),
                 *common]) == 0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="skipped ")     # (the bad files, named as score names them)
        assert main(["report", str(run), "--image", str(new), "--no-controls", *common]) == 0
    capsys.readouterr()
    with open(out, newline="") as f:
        scored = {r["id"]: r for r in csv.DictReader(f)}
    with open(run / "report" / "named_images.csv", newline="") as f:
        named = {r["id"]: r for r in csv.DictReader(f)}
    assert sorted(named) == sorted(scored) and len(scored) == 20
    flags = [int(r["is_anomaly"]) for r in scored.values()]
    assert 0 < sum(flags) < len(flags)             # the flags below compare both kinds
    for i, r in scored.items():
        for k in ("a", "L_n", "L_o", "L_r", "A"):
            assert float(named[i][k]) == pytest.approx(float(r[k]), rel=1e-6, abs=1e-7), (i, k)
        assert float(named[i]["train_percentile"]) == float(r["train_percentile"]), i
        assert named[i]["is_anomaly"] == r["is_anomaly"], i


def test_training_pile_skip_bad_scores_agree_and_detector_scoring_refuses_bad_files(tmp_path):
    """The other readers of a file set that drop unreadable files, beside report --image (which scores them in
    score --skip-bad's batches): an unlabelled run's pile ranked by `report --skip-bad` without a cache and the
    training-score cache of `score --threshold --skip-bad` (run_training_scores) give the same scores, both of the
    rebuilt training split in its own order (docs/cli.md: not score --skip-bad's file-order batches, a documented
    difference of a few thousandths with every file readable too); and the Detector's scoring methods, which give
    every image of X a score, refuse a folder or list with an unreadable file rather than scoring the rest in other
    batches than score --skip-bad."""

    from wildgan.detector import Detector
    from wildgan.errors import DataError
    from wildgan.evaluation.report import _diagnose_training_pile
    from wildgan.scoring.run import load_model
    from wildgan.scoring.train_scores import run_training_scores

    pile, run, _ = tiny_run_on_a_noise_pile(tmp_path)
    for i in (3, 11):
        (pile / f"{i:02d}.png").write_bytes(b"not an image")
    for p in run.glob("train_scores*"):
        p.unlink()                # (a complete cache of the 20 would be read as it is: the trained-on threshold)
    model = load_model(run, "cpu")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="skipped |.*leave out 2 unreadable")
        _, fresh = _diagnose_training_pile(run, model.cfg, "cpu", lambda _: None, 3, "a", model=model, skip_bad=True)
        cache = run_training_scores(run, model, skip_bad=True)
        _, cached = _diagnose_training_pile(run, model.cfg, "cpu", lambda _: None, 3, "a", model=model, skip_bad=True)
        det = Detector.from_run(run, skip_bad=True)           # (its threshold: that cache, which leaves 2 out)
    assert not fresh.reference_cached and cached.reference_cached and len(cache["a"]) == 18
    for k in ("a", "L_n", "L_o", "L_r", "A"):
        np.testing.assert_allclose(fresh.reference[k], cache[k], rtol=1e-6, atol=1e-7, err_msg=k)
        np.testing.assert_allclose(cached.reference[k], cache[k], rtol=1e-6, atol=1e-7, err_msg=k)
    for X in (str(pile), sorted(str(p) for p in pile.iterdir())):
        for score in (det.decision_function, det.heatmaps):
            with pytest.raises(DataError, match="leaves no file out"):
                score(X)


def test_a_file_unreadable_since_training_is_said_before_what_else_changed(tmp_path, capsys, unnested):
    """`score --threshold --skip-bad` of a labelled run one of whose training files became unreadable and to whose
    data a file was added: the rebuilt split's warning naming the unreadable file was held for the training scores'
    to join, so the two 'changed since trained' warnings, which list only what that file cannot account for, came
    first, before the file they left unnamed. Now that warning is said first, as without --threshold, and the
    refusal that follows (no cached scores of the images trained on: see the test after this one) refers to it."""
    from PIL import Image

    root, run, test_ids = _labelled_class_folder_run(tmp_path)
    name = next(f"a/{i:03d}.png" for i in range(30) if f"a/{i:03d}.png" not in test_ids)
    (root / name).write_bytes(b"")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "a" / "new.png")
    err = _stderr_in_order(capsys, ["score", str(run), "--threshold", "mad", "--skip-bad", "--threads", "1",
                                    "--no-progress", "--out", str(tmp_path / "s.csv")], rc=2)
    said = [ln for ln in err.splitlines() if ln.startswith("wildgan: ")]
    assert [f"{root / name}: empty file" in w for w in said] == [True, False], said
    assert said[1].startswith("wildgan: error: ") and "changed since" in said[1], said
    assert ". The unreadable file named above is left out" in unnested(said[1]), said


def test_score_threshold_on_changed_data_comes_from_the_training_images_the_run_was_trained_on(tiny_npz, tmp_path,
                                                                                               capsys):
    """`score RUN --threshold` after the run's training images were edited in place: with the run's train_scores.csv
    the threshold came from those cached scores (of the images trained on) and nothing said so; without it the
    images as they are now were scored instead, another threshold (measured: mad 0.0093 against 0.0565) from the
    same command. Now the cached one says where its threshold comes from, and without it the command is refused
    (the images trained on are not there to score): never a threshold from images the networks did not train on."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    score = ["score", str(run), "--threshold", "mad", "--threads", "1", "--no-progress",
             "--out", str(tmp_path / "s.csv")]
    before = _threshold_messages(_stderr_in_order(capsys, score), "threshold for score a")
    d = dict(np.load(tiny_npz))
    x = d["x_train"].copy()
    x[:4] = 255 - x[:4]                                   # training images (normal class 0) edited in place
    np.savez(tiny_npz, **{**d, "x_train": x})
    err = _stderr_in_order(capsys, score)
    said = [ln for ln in err.splitlines() if "changed since" in ln]
    assert len(said) == 1 and said[0].count("the training images' pixels, under the same image ids") == 1, err
    assert "the rebuilt test split is not the one recorded in split.json" in said[0], said
    assert f"; the threshold and percentiles come from {run / 'train_scores.csv'}, the cached scores of the " \
           f"training images as {run} was trained on them, not from the data as it is now" in said[0], said
    # the file edited in place (data.source_identity) is said once, with what to do, at the end of that warning
    assert said[0].count("if it was edited in place, restore it") == 1, said
    assert said[0].index("; the threshold and percentiles come from") < said[0].index("if it was edited in place"), said
    assert _threshold_messages(err, "threshold for score a") == before, err
    for f in run.glob("train_scores*"):
        f.unlink()
    for data in ([], ["--data", str(tiny_npz)]):         # the run's own test split, and a data set given
        err = _stderr_in_order(capsys, score + data, rc=2)
        said = [ln for ln in err.splitlines() if ln.startswith("wildgan: ")]
        assert len(said) == 1 and said[0].startswith(f"wildgan: error: {tiny_npz} changed since {run} was "
                                                     f"trained (the training images' pixels"), err
        assert f"{run / 'train_scores.csv'}, the scores of the training images it was trained on, is missing or " \
               f"stale" in said[0] and f"{tiny_npz} is not the file the run read when it was trained" in said[0] \
            and said[0].endswith("if it was edited in place, restore it, or train a new run on it"), said
    assert not list(run.glob("train_scores*"))           # nothing cached of the images as they are now
    # restored: scored again, the threshold of the images trained on
    np.savez(tiny_npz, **d)
    err = _stderr_in_order(capsys, score)
    assert "changed since" not in err and \
        _threshold_messages(err, "threshold for score a") == before, err


def test_the_report_of_a_labelled_run_whose_training_images_changed_takes_no_threshold_from_other_images(
        tiny_npz, tmp_path, capsys):
    """`report RUN` of a labelled run whose training images were edited in place since training: without the run's
    train_scores.csv its Threshold section told the user to make them with `wildgan score RUN --threshold`, which is
    refused on such data (and its warning said nothing of the threshold), while score --threshold's warning says where
    its threshold comes from. Now the report's warning says it too (the cached scores of the images trained on, or no
    threshold), and its page says why there is none instead of pointing to a command that refuses."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    d = dict(np.load(tiny_npz))
    x = d["x_train"].copy()
    x[:4] = 255 - x[:4]                                   # training images (normal class 0) edited in place
    np.savez(tiny_npz, **{**d, "x_train": x})
    report = ["report", str(run), "--top-k", "2", "--threads", "1", "--no-progress", "--tsne-points", "5"]
    err = _stderr_in_order(capsys, report)
    said = [ln for ln in err.splitlines() if "changed since" in ln]
    assert len(said) == 1 and said[0].count("the training images' pixels, under the same image ids") == 1, err
    assert f"; the report's threshold section comes from train_scores.csv, the cached scores of the training " \
           f"images as {run} was trained on them" in said[0], said
    assert said[0].index("threshold section") < said[0].index("if it was edited in place"), said
    page = (run / "report" / "report.md").read_text()
    assert "(train_scores.csv: the images the run was trained on)" in page, page
    for f in run.glob("train_scores*"):
        f.unlink()
    err = _stderr_in_order(capsys, report)
    said = [ln for ln in err.splitlines() if "changed since" in ln]
    assert len(said) == 1 and "; the report shows no threshold: no scores of the images it was trained on are " \
                               "cached (train_scores.csv)" in said[0], err
    page = (run / "report" / "report.md").read_text()
    assert "No threshold: the run's data changed since it was trained" in page, page
    assert "computes and caches them" not in page, page
    assert not list(run.glob("train_scores*"))           # nothing scored or cached of the images as they are now
    # the data restored: the threshold of the images trained on, no warning
    np.savez(tiny_npz, **d)
    err = _stderr_in_order(capsys, report)
    assert "changed since" not in err, err


def test_the_report_of_an_unlabelled_pile_replaced_since_training_names_the_folder_there_now(tmp_path, capsys,
                                                                                            unnested):
    """`report RUN` of a run trained on an unlabelled folder whose images were replaced since (the run's pile moved
    away, other images put at its place): its warning said only that the pile changed, where score, evaluate and
    train --resume name the folder now at the recorded place (split.json's source_identity) and say what to do. Now
    the report says it too, in their words (source_identity.restore_advice)."""
    from PIL import Image

    from wildgan.data.source_identity import restore_advice

    def pile_of(folder: Path, seed: int) -> None:
        folder.mkdir()
        rng = np.random.default_rng(seed)
        for i in range(20):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{i:02d}.png")

    pile, run = tmp_path / "pile", tmp_path / "run"
    pile_of(pile, 0)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                 "--no-train-scores", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--out", str(run)]) == 0
    assert json.loads((run / "split.json").read_text())["protocol"] == "unlabelled"
    report = ["report", str(run), "--top-k", "2", "--threads", "1", "--no-progress"]
    assert "changed since" not in _stderr_in_order(capsys, report)
    pile.rename(tmp_path / "moved")
    pile_of(pile, 1)
    err = _stderr_in_order(capsys, report)
    (said,) = [ln for ln in err.splitlines() if "changed since" in ln]
    assert f"{pile} changed since {run} was trained" in said and \
        f". {pile} is not the folder the run read when it was trained (the same 20 files with the same sizes, " \
        f"other bytes; recorded: 20 files, " in said and "; now: 20 files, " in said, said
    assert said.endswith(f": {restore_advice(str(pile))}") and f"put it back at {pile}" in unnested(said), said
    # the run's pile put back: nothing to say
    shutil.rmtree(pile)
    (tmp_path / "moved").rename(pile)
    assert "changed since" not in _stderr_in_order(capsys, report)
    # the pile gone (moved, nothing put there): the recorded place and how to link it back, as evaluate says it (it
    # was 'put them back there, or a link', without the place or the command)
    from wildgan.data.readers import missing_run_data_error

    pile.rename(tmp_path / "moved")
    (said,) = [ln for ln in _stderr_in_order(capsys, report).splitlines() if "ranks and maps" in ln]
    assert said.startswith(f"wildgan: warning: {missing_run_data_error(str(pile), run)}. The report of a run "
                           f"trained on unlabelled images ranks and maps its training images"), said
    # a folder there without the images: what evaluate and score say of data that is not the run's
    pile.mkdir()
    (said,) = [ln for ln in _stderr_in_order(capsys, report).splitlines() if "ranks and maps" in ln]
    assert said.endswith(f"read from where they were at training: {restore_advice(str(pile))}"), said


def test_the_report_of_a_run_whose_images_decode_otherwise_says_how_to_record_them(tiny_npz, tmp_path, capsys,
                                                                                   unnested):
    """`report RUN` of a labelled run without train_scores.csv whose training images decode a level apart since
    training (another Pillow: simulated, as the other tests do, by pixels one level up and split.json's decoders): its
    page said to run `score --threshold`, whose scores of the pixels as they decode now are cached for those pixels
    only and never read by the report, which then said the same again. Now it says that `train --resume
    --train-scores` records the pixels as they decode now, which gives the report its threshold."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    decode_a_level_up(tiny_npz, run)
    report = ["report", str(run), "--top-k", "2", "--threads", "1", "--no-progress", "--tsne-points", "5"]
    err = _stderr_in_order(capsys, report)
    said = [ln for ln in err.splitlines() if "changed since" in ln]
    assert len(said) == 1 and "the report shows no threshold" in said[0] and \
        f"`wildgan train --out {run} --resume --train-scores` of the finished run records the pixels" in said[0], err
    unnested(said[0])
    page = (run / "report" / "report.md").read_text()
    assert "No threshold: the run's training images decode otherwise than when it was trained (" in page, page
    # (the decoders' versions, which split.json records in parentheses, said without them in the page's)
    (no_threshold,) = [ln for ln in page.splitlines() if ln.startswith("No threshold: ")]
    assert "(the decoders Pillow 9.0.0 with libjpeg 8.0 -> Pillow " in unnested(no_threshold), no_threshold
    assert "restore the data as it was" not in page and "computes and caches them" not in page, page
    # as said: the pixels recorded as they decode now, and scored; the report's threshold is theirs
    assert main(["train", "--out", str(run), "--resume", "--train-scores", "--no-progress"]) == 0
    err = _stderr_in_order(capsys, report)
    assert "changed since" not in err, err
    assert "taken from the 20 training images' scores (train_scores.csv)" in (run / "report" / "report.md").read_text()


def test_the_report_of_a_search_run_whose_images_decode_otherwise_does_not_say_the_resume_scores_them(
        tiny_npz, tmp_path, capsys, unnested):
    """As test_the_report_of_a_run_whose_images_decode_otherwise_says_how_to_record_them, for a latent-search run:
    the page and the warning said that `train --resume --train-scores` records the pixels "and scores them", which a
    search run's training never does (a search per image); the next report then had no threshold still. Now they say
    that score --threshold searches them once the resume has recorded the pixels."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--method", "search", "--out",
                 str(run)]) == 0
    decode_a_level_up(tiny_npz, run)
    err = _stderr_in_order(capsys, ["report", str(run), "--top-k", "2", "--threads", "1", "--no-progress",
                                    "--tsne-points", "5", "--no-controls"])
    (said,) = [ln for ln in err.splitlines() if "changed since" in ln]
    assert f"`wildgan train --out {run} --resume --train-scores` of the finished run records the pixels as they " \
        f"decode now; a latent-search run's training does not score them: `wildgan score {run} --threshold " \
        f"contamination --out scores.csv` then searches them once and caches them" in unnested(said), said
    page = (run / "report" / "report.md").read_text()
    assert "records the pixels as they decode now; a latent-search run's training does not score them" in page, page
    (no_threshold,) = [ln for ln in page.splitlines() if ln.startswith("No threshold: ")]
    unnested(no_threshold)
    assert "and scores them" not in page and "and scores them" not in said, (page, said)


def test_score_threshold_on_test_images_changed_says_the_training_images_are_the_trained_ones(tiny_npz, tmp_path,
                                                                                               capsys):
    """`score RUN --threshold` (no cached training scores) after only the run's test images were edited: the warning
    said that the threshold "is taken from the training images as they are now", as if they had changed too. They
    are the ones trained on (split.json's checksums), and the warning now says so, once; the threshold is theirs."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    score = ["score", str(run), "--threshold", "mad", "--threads", "1", "--no-progress", "--no-resume",
             "--out", str(tmp_path / "s.csv")]
    before = _threshold_messages(_stderr_in_order(capsys, score), "threshold for score a")
    d = dict(np.load(tiny_npz))
    np.savez(tiny_npz, **{**d, "x_test": 255 - d["x_test"]})
    for f in run.glob("train_scores*"):
        f.unlink()
    err = _stderr_in_order(capsys, score)
    said = [ln for ln in err.splitlines() if "changed since" in ln]
    assert len(said) == 1 and "the test images' pixels, under the same image ids" in said[0], err
    assert "; and the training images are those it was trained on, and the threshold comes from them" in said[0], said
    assert "as they are now" not in err, err
    assert _threshold_messages(err, "threshold for score a") == before, err


def test_evaluate_skip_bad_leaves_files_unreadable_since_training_out_in_one_warning(tmp_path, capsys):
    """`evaluate --skip-bad` of a labelled run on its own data after one of its training files, and separately one of
    its test files, became unreadable: evaluate had no --skip-bad (its error advised it), and score's rebuild said
    only 'changed since trained', naming no file. Now one warning names the file, the part of the split it was in and
    the split's counts: the hold-out is the recorded one less the file (it was drawn over the files read, and held
    training images), and the AUCs come from the test images read. A test file leaves the training scores whole; a
    training file's warning there joins the rebuild's (score --threshold, report --image, their partial cache too:
    they named it twice, then in a second warning referred to 'the file named above'; export --threshold rebuilds
    only the training split, whose warning names it)."""
    root, run, test_ids = _labelled_class_folder_run(tmp_path)
    trained = next(f"a/{i:03d}.png" for i in range(30) if f"a/{i:03d}.png" not in test_ids)
    held_out = sorted(i for i in test_ids if i.startswith("a/"))[0]

    def cli(*argv: str, threads: tuple[str, ...] = ("--threads", "1")) -> tuple[int, str]:
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            rc = main([*argv, str(run), *threads, "--no-progress", "--skip-bad"])
        return rc, capsys.readouterr().err + "".join(str(w.message) for w in got)

    def joined(err: str, training_file: bool) -> bool:
        # one warning for the one file: a training file's part of the training scores joins the rebuilt split's
        # warning, after its counts, and refers to the file there (not to 'the file named above' of another)
        return (("(split.json: 24 and 12). " in err) == ("come from those 23: that file" in err) == training_file
                and "named above" not in err)

    for name, counts, part in ((trained, "23 training and 12 test", "a training image"),
                               (held_out, "24 training and 11 test", "a test image")):
        good = (root / name).read_bytes()
        (root / name).write_bytes(good[:40])
        rc, err = cli("evaluate")
        assert rc == 0 and err.count(f"{root / name}: not a readable image") == 1 and f"file) ({part})" in err, err
        assert f"{counts} images (split.json: 24 and 12)" in err and "changed since" not in err, err
        assert "may contain training images" not in err
        ev = json.loads((run / "eval.json").read_text())
        got = {r.split(",")[0] for r in (run / "test_scores.csv").read_text().splitlines()[1:]}
        assert got == test_ids - {name}, (sorted(got), sorted(test_ids))      # the recorded hold-out less the file
        assert ev["n_test"] == int(counts[-7:-5]) and [s["path"] for s in ev["data"]["skipped"]] == [str(root / name)]
        # report --skip-bad too: it stopped on the file, advising the --skip-bad it was given
        rc, err = cli("report", "--no-controls")
        assert rc == 0 and err.count(f"{root / name}: not a readable image") == 1, err
        assert counts in err and "warning: warning:" not in err, err
        # export --threshold rebuilds the training split itself (run_training_scores): a test file leaves it whole
        for cache in run.glob("train_scores*"):
            cache.unlink()
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            assert main(["export", str(run), "--out", str(tmp_path / "t.onnx"), "--threshold", "mad", "--skip-bad",
                         "--no-progress"]) == 0
        said = "".join(str(w.message) for w in got)
        assert ("the training scores leave out 1 unreadable training file" in said) == (name == trained), said
        rc, err = cli("score", "--threshold", "mad", "--out", str(tmp_path / "s.csv"))
        trained_on = "n=23 of 24 trained on" if name == trained else "n=24"
        assert rc == 0 and "changed since" not in err and trained_on in err, err
        # a file of a labelled run's data may have been a training, test or unused image: not counted as training
        # (the rebuild placed the file: a training file is said as one, a test file leaves the training scores whole)
        assert ("the training scores leave out 1 unreadable training file" in err) == (name == trained), err
        assert "(a training, test or unused image each" not in err, err
        # (one warning for the one file: the training scores' part joins the rebuilt split's, after its counts)
        assert err.count(f"{root / name}: not a readable image") == 1 and joined(err, name == trained), err
        # the partial cache that score wrote, read by score again and by report's percentiles of --image files
        for argv in (("score", "--threshold", "mad", "--out", str(tmp_path / "s.csv")),
                     ("report", "--no-controls", f"--image={root / 'b' / '000.png'}")):
            rc, err = cli(*argv)
            assert rc == 0 and err.count(f"{root / name}: not a readable image") == 1, err
            assert joined(err, name == trained), err
        for _ in range(2):   # the isolated training scores computed, then read from their cache (which read it twice)
            rc, err = cli("export", "--threshold", "mad", "--out", str(tmp_path / "m.onnx"), threads=())
            # (a test file is no concern of the training scores, the only data export reads)
            assert rc == 0 and err.count(f"{root / name}: not a readable image") == (name == trained), err
        (root / name).write_bytes(good)
        for key in ("train_scores.json", "train_scores-isolated.json"):
            (run / key).unlink()


def _pile_of_mixed_sizes(root: Path) -> Path:
    """20 grey PNGs, 4 of them 12x8 (not square) among 8x8 ones, and an empty bad.png: reading it says two warnings
    about the data (mixed sizes, centre crop), and --skip-bad leaves bad.png out."""
    from PIL import Image

    pile = root / "pile"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (8, 12) if i < 4 else (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    (pile / "bad.png").write_bytes(b"")
    return pile


def test_a_runs_log_has_the_warnings_said_about_its_data_and_a_refused_command_adds_none(tmp_path, capsys):
    # the data's warnings (said while it is read, before the run folder exists) were on stderr only: log.txt, the
    # file read later to learn how the run went, had none of them
    pile = _pile_of_mixed_sizes(tmp_path)
    run = tmp_path / "run"
    common = ["--preset", "tiny", "--threads", "1", "--no-progress", "--no-train-scores"]
    argv = ["train", "--data", str(pile), *common, "--total-kimg", "0.032", "--phase-kimg", "0.1", "--skip-bad"]
    with pytest.warns(WildganWarning, match="centre-cropped"):    # (both warnings: the sizes one says it too)
        assert main([*argv, "--out", str(run)]) == 0
    log = (run / "log.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(log) if line.startswith("training wildgan"))
    sizes = [i for i, line in enumerate(log) if line.startswith(f"warning: {pile}: images of 2 different sizes")]
    crop = [i for i, line in enumerate(log) if "images that are not square (e.g. 12x8) are centre-cropped" in line]
    assert len(sizes) == 1 and len(crop) == 1 and max(sizes + crop) < start, log
    assert "warning: skipped 1 unreadable file (--skip-bad), listed in" in log[start + 1], log
    assert len(set(log)) == len(log), log                     # each said once, each written once
    # a refusal after the data is read (here: its images changed since the run started) writes nothing, although
    # the data's warnings were said again
    before = (run / "log.txt").read_bytes()
    (pile / "new.png").write_bytes((pile / "05.png").read_bytes())
    with pytest.warns(WildganWarning, match="centre-cropped"):
        assert main(["train", "--resume", "--total-kimg", "0.064", "--out", str(run), "--no-progress"]) == 2
    assert "the training images changed since this run started" in capsys.readouterr().err
    assert (run / "log.txt").read_bytes() == before
    # and one refused before the run folder is written leaves no folder
    with pytest.warns(WildganWarning, match="centre-cropped"):
        assert main([*argv, "--evaluate", "--out", str(tmp_path / "refused")]) == 2
    assert not (tmp_path / "refused").exists()


def _trained_on_mixed_pile(tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    """(the pile of _pile_of_mixed_sizes, a tiny run trained on it with `extra` options, in tmp_path/run)."""
    pile = _pile_of_mixed_sizes(tmp_path)
    run = tmp_path / "run"
    with pytest.warns(WildganWarning):
        assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                     "--no-train-scores", "--total-kimg", "0.032", "--phase-kimg", "0.1", "--skip-bad", *extra,
                     "--out", str(run)]) == 0
    return pile, run


def test_a_resume_refused_for_its_changed_images_writes_no_note_of_having_resumed(tmp_path, capsys):
    # 'note: resumed with other numeric settings' was written before the training images were checked: a resume
    # refused for them left log.txt saying it had resumed, and with the note the data's warnings held for it
    pile, run = _trained_on_mixed_pile(tmp_path)
    before = (run / "log.txt").read_bytes()
    (pile / "new.png").write_bytes((pile / "05.png").read_bytes())
    with pytest.warns(WildganWarning, match="centre-cropped"):
        assert main(["train", "--resume", "--total-kimg", "0.128", "--amp", "bf16", "--out", str(run),
                     "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the training images changed since this run started" in err and "note: resumed" not in err
    assert (run / "log.txt").read_bytes() == before
    # the note is said when the resume goes on (and trains: 0.128, past the 0.064 kimg the run reached, where a
    # finished run's resume notes nothing)
    (pile / "new.png").unlink()
    with pytest.warns(WildganWarning, match="centre-cropped"):
        assert main(["train", "--resume", "--total-kimg", "0.128", "--amp", "bf16", "--out", str(run),
                     "--no-progress"]) == 0
    log = (run / "log.txt").read_text()[len(before):].splitlines()
    note = next(i for i, line in enumerate(log) if line.startswith("note: resumed with other numeric settings "
                                                                    "(amp 'auto' -> 'bf16')"))
    # (as the terminal said them: which settings it resumes with, read before the data)
    assert log[0] == f"resuming with the settings of {run / 'config.yaml'}", log
    assert log[1].startswith(f"warning: {pile}: images that are not square") and note < len(log) - 1, log


def test_a_runs_log_has_the_warnings_the_cli_prints_itself(tmp_path, capsys):
    # an option said to be ignored is printed by the CLI itself, not as a Python warning: it was on stderr only
    pile, run = _trained_on_mixed_pile(tmp_path, "--dist-timeout", "30")
    said = "warning: --dist-timeout only matters with --distributed"
    assert said in capsys.readouterr().err
    log = (run / "log.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(log) if line.startswith("training wildgan"))
    mine = [i for i, line in enumerate(log) if line.startswith(said)]
    assert len(mine) == 1 and mine[0] < start, log


def _unwritable_under(monkeypatch, root: Path, err: int) -> None:
    """Every folder made (os.mkdir: Path.mkdir, tempfile.mkdtemp) or file opened for writing under root fails with
    err, as on a read-only file system, a folder without write permission or a full disk: we test as root too, where
    chmod 0o555 does not stop writes."""
    import builtins

    def under(p) -> bool:
        return os.path.abspath(os.fsdecode(p)).startswith(str(root))

    mkdir, os_open, open_ = os.mkdir, os.open, builtins.open

    def failing_mkdir(p, *a, **k):
        if under(p):
            raise OSError(err, os.strerror(err), os.fsdecode(p))
        return mkdir(p, *a, **k)

    def failing_os_open(p, flags, *a, **k):
        if under(p) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(err, os.strerror(err), os.fsdecode(p))
        return os_open(p, flags, *a, **k)

    def failing_open(p, mode="r", *a, **k):
        if isinstance(p, (str, os.PathLike)) and under(p) and any(c in mode for c in "wax+"):
            raise OSError(err, os.strerror(err), os.fsdecode(p))
        return open_(p, mode, *a, **k)

    monkeypatch.setattr(os, "mkdir", failing_mkdir)
    monkeypatch.setattr(os, "open", failing_os_open)
    monkeypatch.setattr(builtins, "open", failing_open)


@pytest.mark.parametrize("err, why", [(30, "read-only file system"), (13, "permission denied"),
                                      (28, "no space left on the device")])
def test_an_out_that_cannot_be_written_is_said_before_the_data_is_read(err, why, tiny_npz, tmp_path, capsys,
                                                                       monkeypatch):
    """train / study / demo with --out in a read-only place printed a bare '[Errno 30] Read-only file system: PATH'
    (exit 1), train and study only after decoding the data: now the path given, why, and what to do, exit 2, before
    the data is read; score and export (which checked already) say it in the same words."""
    import errno

    import wildgan.data

    assert (errno.EROFS, errno.EACCES, errno.ENOSPC) == (30, 13, 28)
    ro = tmp_path / "ro"
    ro.mkdir()
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--phase-kimg", "0.01", "--threads", "1", "--no-progress", "--no-train-scores",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    _unwritable_under(monkeypatch, ro, err)
    monkeypatch.setattr(wildgan.data, "build_split",
                        lambda *a, **k: pytest.fail("the data was read before the refusal"))
    data = ["--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress"]
    for argv, out in ((["train", *data], ro / "run"), (["train", *data], ro),
                      (["study", *data, "--contamination", "0", "--seeds", "0"], ro / "study"),
                      (["demo", "--preset", "tiny", "--no-progress"], ro / "demo")):
        assert main([*argv, "--out", str(out)]) == 2, argv
        said = capsys.readouterr().err
        assert f"wildgan: error: cannot write --out {out}: {why}" in said, said
        assert "give --out a folder you can write to" in said and "Errno" not in said
        assert (f"(at {ro})" in said) == (out != ro)                 # the folder that refused, when another one
    for argv, out in ((["score", str(run)], ro / "s.csv"), (["export", str(run)], ro / "m.onnx")):
        assert main([*argv, "--out", str(out)]) == 2, argv
        said = capsys.readouterr().err
        assert f"wildgan: error: cannot write --out {out}: {why} (at {ro}); give --out a file in a folder you can " \
               f"write to" in said, said
    assert list(ro.iterdir()) == []


def test_score_and_export_threshold_of_a_read_only_run_warn_that_the_cache_is_not_written(tiny_npz, tmp_path, capsys,
                                                                                           monkeypatch):
    """`score --threshold` (also `export --threshold`, `Detector.from_run`) of a run folder on a read-only file system
    scored every training image, then stopped with a bare '[Errno 30] Read-only file system' while caching their
    scores: the cache is only a cache, so the threshold is applied (the same one as from a writable run) and a
    warning says it was not kept."""
    import csv

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.02",
                 "--phase-kimg", "0.01", "--threads", "1", "--no-progress", "--no-train-scores",
                 "--out", str(run)]) == 0
    ro = tmp_path / "ro"
    shutil.copytree(run, ro)
    capsys.readouterr()
    _unwritable_under(monkeypatch, ro, 30)
    common = ["--threshold", "mad", "--threads", "1", "--no-progress"]
    with pytest.warns(WildganWarning, match=rf"could not cache the training scores in {re.escape(str(ro))} "
                                            r"\(\[Errno 30\].*\); they are computed again next time"):
        assert main(["score", str(ro), "--out", str(tmp_path / "from-ro.csv"), *common]) == 0
    from wildgan import Detector

    with pytest.warns(WildganWarning, match=r"could not cache the training scores .*computed again next time"):
        assert Detector.from_run(ro, batch_mode="isolated", threshold="mad").threshold_ is not None
    assert not list(ro.glob("train_scores*"))
    monkeypatch.undo()
    assert main(["score", str(run), "--out", str(tmp_path / "from-rw.csv"), *common]) == 0
    thr = [{r["threshold"] for r in csv.DictReader(open(tmp_path / f"from-{f}.csv", newline=""))} for f in ("ro", "rw")]
    assert thr[0] == thr[1] and len(thr[0]) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into a chmod 0o555 folder (the monkeypatched test above covers it)")
def test_an_out_in_a_folder_without_write_permission_is_refused(tiny_npz, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--no-progress",
                     "--out", str(ro / "run")]) == 2
        assert f"cannot write --out {ro / 'run'}: permission denied (at {ro})" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_evaluate_with_another_normal_class_of_the_runs_own_data_says_no_change_that_did_not_happen(
        tiny_npz, tmp_path, capsys):
    # another normal class splits the same images otherwise by design, so its counts and checksums differ from
    # split.json's: evaluate said the data had 'changed since RUN was trained ... the rebuilt test split ... may contain
    # training images' of data that had not changed (the test part of every protocol does not depend on the normal
    # class, so none of the run's training images is tested)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--normal", "1"]) == 0
    err = capsys.readouterr().err
    assert "changed since" not in err and "evaluation on other data or normal classes written to" in err, err
    (side,) = run.glob("eval-*/eval.json")
    assert "warnings" not in json.loads(side.read_text())
    # the run's own class given by name is the run's own split, compared in full as without --normal
    assert main(["evaluate", str(run), "--normal", "0"]) == 0
    assert "changed since" not in capsys.readouterr().err
    # data that did change is still said with another normal class: two images added to the training part
    d = dict(np.load(tiny_npz))
    np.savez(tiny_npz, x_train=np.concatenate([d["x_train"], d["x_train"][:2]]), y_train=np.r_[d["y_train"], [0, 1]],
             x_test=d["x_test"], y_test=d["y_test"])
    assert main(["evaluate", str(run), "--normal", "1"]) == 0
    err = capsys.readouterr().err
    assert f"changed since {run} was trained (images read 60 -> 62)" in err, err
    # and data changed under the same count: one training image replaced (split.json's read_fingerprint)
    x_train = d["x_train"].copy()
    x_train[0] = 255 - x_train[0]
    np.savez(tiny_npz, x_train=x_train, y_train=d["y_train"], x_test=d["x_test"], y_test=d["y_test"])
    assert main(["evaluate", str(run), "--normal", "1"]) == 0
    err = capsys.readouterr().err
    assert f"changed since {run} was trained (the same number of images, 60, but not the same images" in err, err


def test_an_evaluation_of_another_split_records_the_runs_own_training_counts(tmp_path, capsys):
    # eval.json's n_train / n_train_anomalous are the training set's; of another normal class they were the counts of
    # that split's training part, which the networks never saw (here 16 images of class 1 for a run trained on 32
    # of class 0 plus 8 contaminants)
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=rng.integers(0, 255, (48, 8, 8), dtype=np.uint8),
             y_train=np.r_[np.zeros(32, int), np.ones(16, int)],
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--normal", "0", "--contamination", "0.2", "--preset", "tiny",
                 "--total-kimg", "0.05", "--phase-kimg", "0.05", "--threads", "1", "--no-progress",
                 "--no-train-scores", "--evaluate", "--out", str(run)]) == 0, capsys.readouterr().err
    own = json.loads((run / "eval.json").read_text())
    assert (own["n_train"], own["n_train_anomalous"]) == (40, 8)
    assert main(["evaluate", str(run), "--normal", "1"]) == 0, capsys.readouterr().err
    (side,) = run.glob("eval-*/eval.json")
    ev = json.loads(side.read_text())
    assert (ev["n_train"], ev["n_train_anomalous"]) == (40, 8), ev
    assert ev["data"]["normal_classes"] == ["1"] and ev["n_test"] == 20


def test_evaluate_writes_the_per_image_scores_behind_every_auc_of_eval_json(tiny_npz, tmp_path, capsys):
    # test_scores.csv held the trained scores only: the controls' AUCs (untrained networks, pixel statistics) and the
    # AUC with the other generator could not be checked against the images they were computed from
    import csv

    from sklearn.metrics import roc_auc_score

    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--evaluate",
                 "--out", str(run)]) == 0, capsys.readouterr().err
    ev = json.loads((run / "eval.json").read_text())
    with open(run / "test_controls.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(run / "test_scores.csv", newline="") as f:
        assert [(r["id"], r["label"]) for r in rows] == [(r["id"], r["label"]) for r in csv.DictReader(f)]
    y = [int(r["label"]) for r in rows]
    want = {**{f"untrained_{k}": v for k, v in ev["controls"]["untrained"].items()},
            **{k: ev["controls"][k] for k in ("pixel_norm", "pixel_std", "pixel_mean")},
            **{f"G_{k}": v for k, v in ev["other_generator"]["auc"].items()}}
    assert set(rows[0]) == {"id", "label", *want}
    for k, v in want.items():
        assert roc_auc_score(y, [float(r[k]) for r in rows]) == pytest.approx(v, rel=0, abs=1e-12), k
    # without the controls, the file holds what was computed: no earlier evaluation's controls beside this eval.json
    assert main(["evaluate", str(run), "--no-controls"]) == 0
    with open(run / "test_controls.csv", newline="") as f:
        assert set(next(csv.DictReader(f))) == {"id", "label", *(f"G_{k}" for k in ev["other_generator"]["auc"])}


def test_a_wildgan_warning_raised_as_an_error_is_said_in_one_line(tmp_path, capsys, monkeypatch):
    # `python -W error -m wildgan train/study ...` turned our warning (here: non-square images are cropped) into an
    # exception that ended in a traceback; the user asked for the command to stop, and gets the CLI's error line
    from PIL import Image

    import wildgan.data.readers as readers

    rng = np.random.default_rng(0)
    for c in "ab":
        (tmp_path / "tree" / c).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (10, 6), dtype=np.uint8)).save(tmp_path / "tree" / c / f"{i}.png")
    common = ["--data", str(tmp_path / "tree"), "--normal", "a", "--preset", "tiny", "--total-kimg", "0.01",
              "--no-progress"]
    for cmd in ("train", "study"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", WildganWarning)
            rc = main([cmd, *common, "--out", str(tmp_path / cmd)])
        err = capsys.readouterr().err
        assert rc == 2, (cmd, err)
        assert err.startswith(f"wildgan: error: {tmp_path / 'tree'}: images that are not square (e.g. 6x10) are "
                              f"centre-cropped"), err
        assert "raised as an error by the warnings filter" in err and len(err.strip().splitlines()) == 1, err
        # --debug keeps the exception, as it does for wildgan's errors
        with warnings.catch_warnings(), pytest.raises(WildganWarning, match="images that are not square"):
            warnings.simplefilter("error", WildganWarning)
            main(["--debug", cmd, *common, "--out", str(tmp_path / f"{cmd}-debug")])
    # another library's warning raised as an error is a bug to see: still a traceback (the exception)

    def foreign(*a, **k):
        warnings.warn("deprecated in some library", DeprecationWarning)

    monkeypatch.setattr(readers, "read_folder", foreign)
    with warnings.catch_warnings(), pytest.raises(DeprecationWarning, match="deprecated in some library"):
        warnings.simplefilter("error", DeprecationWarning)
        main(["train", *common, "--out", str(tmp_path / "foreign")])


def test_score_stops_on_its_warning_under_a_user_s_error_filter(tmp_path, capsys) -> None:
    """docs/cli.md, Exit codes: 2 is also 'a wildgan warning that `-W error` / `PYTHONWARNINGS=error` raised'.
    `wildgan score RUN --data FILES` read and scored inside a `catch_warnings` block that set
    `simplefilter("always")` (to name every skipped file), which dropped the user's "error" filter for the whole
    scoring: `PYTHONWARNINGS=error wildgan score RUN --data big.png --out s.csv` warned that the image is far larger
    than the training images, wrote s.csv and exited 0. Without a filter the warning is said on
    stderr as before, and an "ignore" filter of the user's now hides it."""
    from PIL import Image

    pile, run = tmp_path / "pile", tmp_path / "run"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                 "--total-kimg", "0.032", "--phase-kimg", "0.1", "--no-train-scores", "--out", str(run)]) == 0
    big = tmp_path / "big.png"      # 8x the training images' side: the "images much larger" warning
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(big)
    out = tmp_path / "s.csv"
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        rc = main(["score", str(run), "--data", str(big), "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "raised as an error by the warnings filter" in err and "larger" in err, err
    assert not out.exists()
    # the filters as they are: said, and scored
    assert main(["score", str(run), "--data", str(big), "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^wildgan: warning: .*larger", err, re.M), err
    assert out.exists()
    out.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        assert main(["score", str(run), "--data", str(big), "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "larger" not in err and out.exists(), err


def test_score_s_warnings_are_shown_every_time_within_the_user_s_filters() -> None:
    """What `wildgan score` scores under (cli.score._shown_every_time): a wildgan warning repeated from the same line
    is shown each time (one line per skipped file, as simplefilter("always") gave), while the user's "error" and
    "ignore" filters keep their say and other libraries' warnings keep the filters they had."""
    from wildgan.cli.score import _shown_every_time

    def say_twice() -> None:
        for _ in range(2):
            warnings.warn("skipped a.png", WildganWarning)
            warnings.warn("a library's note", UserWarning)

    with warnings.catch_warnings(record=True) as heard:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        _shown_every_time(WildganWarning)
        say_twice()
    assert [(w.category, str(w.message)) for w in heard] == [
        (WildganWarning, "skipped a.png"), (UserWarning, "a library's note"), (WildganWarning, "skipped a.png")]
    with warnings.catch_warnings(record=True) as heard:
        warnings.resetwarnings()            # (no filter at all: the default action, "default")
        _shown_every_time(WildganWarning)
        say_twice()
    assert [str(w.message) for w in heard].count("skipped a.png") == 2
    with warnings.catch_warnings(record=True) as heard:
        warnings.filterwarnings("ignore", message="skipped ")
        _shown_every_time(WildganWarning)
        say_twice()
    assert "skipped a.png" not in [str(w.message) for w in heard]
    with warnings.catch_warnings(), pytest.raises(WildganWarning, match="skipped a.png"):
        warnings.simplefilter("error")
        _shown_every_time(WildganWarning)
        say_twice()
    # the filters are the caller's again on the way out of the block
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        before = list(warnings.filters)
        with warnings.catch_warnings():
            _shown_every_time(WildganWarning)
        assert warnings.filters == before


def test_resume_of_a_run_without_its_config_json_says_what_is_missing(tiny_npz, tmp_path, capsys):
    # config.yaml and the checkpoints there, config.json lost: "resuming with the settings of config.yaml", then
    # "nothing to resume (no run in it) ... start a run there without --resume", which refuses, then --overwrite
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.05", "--no-progress", "--threads", "1", "--out", str(run)]) == 0
    (run / "config.json").unlink()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{run}: cannot resume: its config.json is missing, while other files of the run are there" in err
    assert "resuming with" not in err and "without --resume" not in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_colour_data_set_scored_by_a_gray_run_is_warned_about_as_image_files_are(tiny_npz, tmp_path, capsys):
    # colour image files scored by a run trained on gray ones are warned about; the same images in an .npz, as a
    # labelled test split (score, evaluate) or as a pile without labels, were converted to gray without a word
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--no-progress", "--threads", "1", "--no-train-scores",
                 "--out", str(run)]) == 0
    rng = np.random.default_rng(1)
    labelled, pile = tmp_path / "colour.npz", tmp_path / "pile.npz"
    np.savez(labelled, x_train=rng.integers(0, 255, (40, 8, 8, 3), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8, 3), dtype=np.uint8), y_test=np.arange(20) % 2)
    np.savez(pile, x=rng.integers(0, 255, (8, 8, 8, 3), dtype=np.uint8))
    said = "colour images are converted to gray: the network was trained on gray"
    for argv in (["score", str(run), "--data", str(labelled), "--out", str(tmp_path / "a.csv")],
                 ["evaluate", str(run), "--data", str(labelled), "--normal", "0", "--no-controls"]):
        capsys.readouterr()
        assert main([*argv, "--no-progress", "--threads", "1"]) == 0
        # the 20 test images scored, not the 60 read (the .npz's training images too), as it once said
        assert f"{labelled}: 20 {said}" in capsys.readouterr().err
    # files of both kinds: which of them the test split holds is not recorded, so the count read is said as such
    from PIL import Image

    mixed = tmp_path / "mixed"
    for c in "01":
        (mixed / c).mkdir(parents=True)
        for i in range(30):
            a = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(a if i % 3 == 0 else a[..., 0]).save(mixed / c / f"{i}.png")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(mixed), "--normal", "0", "--no-controls", "--no-progress",
                 "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert f"{mixed}: 20 {said}" in err and "(of the 60 images read, training and test sets together; " in err, err
    with pytest.warns(UserWarning, match=f"8 {said}"):                     # (warned by the reader, as for files)
        assert main(["score", str(run), "--data", str(pile), "--out", str(tmp_path / "b.csv"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(tiny_npz), "--out", str(tmp_path / "c.csv"), "--no-progress"]) == 0
    assert "converted to gray" not in capsys.readouterr().err                    # the run's own kind: nothing said


def test_evaluate_counts_gray_stored_as_rgb_as_score_does(tiny_npz, tmp_path, capsys):
    """RGB files whose three channels are equal (gray scans saved as RGB) count as gray in `wildgan score`'s warning
    about images of the other kind than a run's, but `wildgan evaluate` counted the reader's gray files by mode: a
    gray run warned '20 colour images are converted to gray' where score is silent, and a colour run (recorded by
    content, colour_rule 'content') said nothing where score warns. Now evaluate counts what the images hold, as
    score does; a colour record of the older rule (no colour_rule: by the files' mode) counts by mode in both."""
    from PIL import Image

    rng = np.random.default_rng(1)
    colour_npz = tmp_path / "colour.npz"
    np.savez(colour_npz, x_train=rng.integers(0, 255, (40, 8, 8, 3), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8, 3), dtype=np.uint8), y_test=np.arange(20) % 2)
    runs = {"gray": tmp_path / "gray", "colour": tmp_path / "colour"}
    for data, run in ((tiny_npz, runs["gray"]), (colour_npz, runs["colour"])):
        assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                     "--phase-kimg", "0.05", "--no-progress", "--threads", "1", "--no-train-scores",
                     "--out", str(run)]) == 0
    split = json.loads((runs["colour"] / "split.json").read_text())
    assert split["conversion"]["colour_rule"] == "content", split["conversion"]
    rgb_gray = tmp_path / "rgb-gray"
    for c in "01":
        (rgb_gray / c).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(np.repeat(rng.integers(0, 255, (8, 8, 1), dtype=np.uint8), 3, axis=2)).save(
                rgb_gray / c / f"{i}.png")

    def said(run: Path, cmd: str) -> str:
        capsys.readouterr()
        argv = (["evaluate", str(run), "--data", str(rgb_gray), "--no-controls"] if cmd == "evaluate" else
                ["score", str(run), "--data", str(rgb_gray / "0"), "--out", str(tmp_path / "s.csv")])
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            assert main([*argv, "--no-progress", "--threads", "1"]) == 0
        return capsys.readouterr().err + "".join(str(w.message) for w in got)

    for cmd in ("evaluate", "score"):
        assert "converted to gray" not in said(runs["gray"], cmd), cmd             # gray made gray: nothing lost
        assert "gray images are scored by a network trained on colour images" in said(runs["colour"], cmd), cmd
    # a colour record of the older rule (a run recorded before colour_rule, CIFAR-10's by its files): by mode, so
    # RGB files are colour, as its own training images were counted
    del split["conversion"]["colour_rule"]
    (runs["colour"] / "split.json").write_text(json.dumps(split))
    for cmd in ("evaluate", "score"):
        assert "gray images are scored" not in said(runs["colour"], cmd), cmd


@pytest.mark.filterwarnings("ignore:training ended at")
def test_score_and_export_threshold_of_a_fit_run_follow_fit_s_recorded_parameter(tmp_path, capsys):
    """`wildgan score RUN --threshold contamination` (and export) of a run that Detector.fit(contamination=0.2) wrote
    thresholded at the CLI's c = 0.05, while Detector.from_run(RUN) follows fit's record (detector_threshold.json):
    two thresholds for one run. Now the CLI takes the recorded c (k for mad) where the user gives none, and its
    threshold line says so; an option given wins, and the record of one rule does not set the other's parameter."""
    from PIL import Image

    from wildgan import Detector
    from wildgan.export import onnx_threshold

    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run),
                   contamination=0.2).fit(x)
    (tmp_path / "pile").mkdir()
    for i in range(4):
        Image.fromarray(x[i]).save(tmp_path / "pile" / f"{i}.png")
    score = ["score", str(run), "--data", str(tmp_path / "pile"), "--threads", "1", "--no-progress", "--out",
             str(tmp_path / "s.csv"), "--threshold"]

    def line(argv: list[str]) -> str:
        capsys.readouterr()
        assert main(argv) == 0
        (got,) = _threshold_messages(capsys.readouterr().err, "threshold for")
        return got

    got = line(score + ["contamination"])
    record = run / "detector_threshold.json"
    assert "contamination (contamination=0.2" in got and f"c = 0.2 (Detector.fit's, recorded in {record}; " \
           f"--expected-contamination G chooses another)" in got, got
    assert f"> {det.threshold_:.6g}" in got, (got, det.threshold_)
    assert Detector.from_run(run, device="cpu").threshold_ == det.threshold_
    got = line(score + ["contamination", "--expected-contamination", "0.05"])      # given: it wins
    assert "contamination (contamination=0.05" in got and "c = 0.05 (as given)" in got, got
    assert "Detector.fit" not in got, got
    got = line(score + ["mad"])                           # another rule than fit's: its own default k
    assert "mad (k=3" in got and "Detector.fit" not in got, got
    got = line(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--no-progress",
                "--threshold", "contamination"])
    assert "c = 0.2 (Detector.fit's, recorded in" in got, got
    assert onnx_threshold(tmp_path / "m.onnx").params["contamination"] == 0.2
    # fit's mad rule: its k, said; a record of other networks (trained on since) is not followed, as the report
    # does not show it
    rec = json.loads(record.read_text())
    record.write_text(json.dumps({**rec, "threshold": {"value": 0.0, "rule": "mad",
                                                       "params": {"k": 2.0, "n": 16, "score": "a"}}}))
    got = line(score + ["mad"])
    assert "mad (k=2" in got and f"k = 2 (Detector.fit's, recorded in {record}; --mad-k K chooses another)" in got, got
    record.write_text(json.dumps({**rec, "weights_sha256": "0" * 64}))
    got = line(score + ["contamination"])
    assert "contamination (contamination=0.05" in got and "c = 0.05 (the default --expected-contamination; " \
        f"Detector.fit's c = 0.2, recorded in {record}, is of other networks than these" in got, got


@pytest.mark.filterwarnings("ignore:training ended at")
def test_score_and_export_follow_fit_s_record_for_any_score(tmp_path, capsys):
    """fit(score='L_o', contamination=0.2): `wildgan score RUN --threshold contamination` of a (the method's own
    score) and `wildgan export` took the default c = 0.05, while the fitted Detector's set_params(score='a') keeps
    c = 0.2. c (k) is the user's share of training images to flag, fitted again on the chosen score's training
    scores, so the record is now followed for any --score (and --batch-mode), as from_run and export_onnx take it;
    export records where its c came from (threshold_params' param_from); a damaged record is warned about, naming the
    file, as from_run warns."""
    from PIL import Image

    from wildgan import Detector
    from wildgan.export import onnx_threshold

    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run),
                   contamination=0.2, score="L_o").fit(x)
    record = run / "detector_threshold.json"
    (tmp_path / "pile").mkdir()
    for i in range(4):
        Image.fromarray(x[i]).save(tmp_path / "pile" / f"{i}.png")
    score = ["score", str(run), "--data", str(tmp_path / "pile"), "--threads", "1", "--no-progress", "--out",
             str(tmp_path / "s.csv"), "--threshold"]

    def line(argv: list[str]) -> tuple[str, str]:
        capsys.readouterr()
        assert main(argv) == 0
        err = capsys.readouterr().err
        (got,) = _threshold_messages(err, "threshold for")
        return got, err

    got, _ = line(score + ["contamination"])             # score a: fit's c, taken on L_o, is a's share to flag too
    det.set_params(score="a")
    assert f"threshold for score a: contamination (contamination=0.2, n=16): score > {det.threshold_:.6g}" in got and \
        f"c = 0.2 (Detector.fit's, recorded in {record}; --expected-contamination G chooses another)" in got, got
    # fit's c, but not fit's score: the line says which score fit (det.predict, from_run) flags by, and the option
    assert "; Detector.fit flagged by L_o, not a (as det.predict and Detector.from_run(RUN) do): --score L_o " \
        "flags as they do" in " ".join(got.split()), got
    det.set_params(score="L_o")
    got, _ = line(score + ["contamination", "--score", "L_o"])
    assert f"> {det.threshold_:.6g}" in got and "c = 0.2 (Detector.fit's, recorded in" in got, got
    assert "Detector.fit flagged by" not in got, got                                  # fit's own score: nothing
    # fit's was mixed: its c is kept in the isolated protocol, as export and from_run(batch_mode='isolated') keep it
    got, _ = line(score + ["contamination", "--score", "L_o", "--batch-mode", "isolated"])
    assert "contamination (contamination=0.2" in got and "c = 0.2 (Detector.fit's, recorded in" in got, got
    got, _ = line(score + ["contamination", "--score", "L_o", "--expected-contamination", "0.05"])   # the default,
    assert "c = 0.05 (as given)" in got, got                                                          # typed: it wins
    export = ["export", str(run), "--format", "onnx", "--no-progress", "--threshold", "contamination", "--out"]
    line(export + [str(tmp_path / "a.onnx")])
    thr = onnx_threshold(tmp_path / "a.onnx")                 # score a: fit's c as well
    assert thr.params["contamination"] == 0.2 and thr.params["param_from"] == f"Detector.fit's record, {record}", thr
    line(export + [str(tmp_path / "o.onnx"), "--score", "L_o"])
    thr = onnx_threshold(tmp_path / "o.onnx")                 # the loaded model says where its c came from
    assert thr.params["contamination"] == 0.2 and thr.params["param_from"] == f"Detector.fit's record, {record}", thr
    rec = json.loads(record.read_text())
    record.write_text(json.dumps({**rec, "threshold": {"value": 0.0, "rule": "mad",
                                                       "params": {"k": 2.0, "n": 16, "score": "L_o"}}}))
    got, _ = line(score + ["mad"])
    assert "mad (k=2" in got and f"k = 2 (Detector.fit's, recorded in {record}; --mad-k K chooses another)" in got, \
        got
    assert "Detector.fit flagged by L_o, not a" in " ".join(got.split()), got
    for bad, why in (("{", "JSONDecodeError"), (json.dumps({**rec, "threshold": {
            "value": 0.0, "rule": "contamination", "params": {"contamination": 7, "n": 16, "score": "L_o"}}}),
            "contamination 7")):
        record.write_text(bad)
        got, err = line(score + ["contamination", "--score", "L_o"])
        assert f"warning: {record}: Detector.fit's record of its threshold cannot be read or used" in err and \
            why in err and "takes the default --expected-contamination 0.05" in err, err
        assert "c = 0.05 (the default --expected-contamination)" in got, got


def test_score_threshold_with_normal_and_no_data_is_refused_before_the_training_scores(tiny_npz, tmp_path, capsys):
    """`score RUN --threshold mad --normal 1` without --data (--normal labels a data set given with --data): without
    cached training scores, the run's training split was scored (and cached) first, and the usage error came after
    it; after the data changed, the error was the refusal of the changed data instead, and once the data was
    restored the user met the usage error. Now that error comes first, before any scoring."""
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    argv = ["score", str(run), "--threshold", "mad", "--normal", "1", "--threads", "1", "--no-progress", "--out",
            str(tmp_path / "s.csv")]
    for change in (False, True):
        if change:
            d = dict(np.load(tiny_npz))
            np.savez(tiny_npz, **{**d, "x_train": 255 - d["x_train"]})
        err = _stderr_in_order(capsys, argv, rc=2)
        assert "--normal labels the rows of one labelled data-set --data" in err and "changed since" not in err, err
        assert not list(run.glob("train_scores*"))          # nothing scored


def test_threshold_help_names_what_must_be_fit_s_for_its_c():
    """--expected-contamination / --mad-k help (shared by score and export) said "(score: and --batch-mode)" in both;
    export has no --batch-mode (its graph scores each image alone), so its help named an option it does not take.
    Fit's c (k) is now kept in any protocol (score --batch-mode, as export) and for any --score, so neither help names
    --batch-mode, and both say any --score takes it."""
    import argparse

    from wildgan.cli import make_parser

    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))

    def helps(cmd: str) -> list[str]:
        acts = {a.dest: a for a in sub.choices[cmd]._actions}
        assert ("batch_mode" in acts) == (cmd == "score")
        return [acts[d].help for d in ("expected_contamination", "mad_k")]

    for text in helps("score") + helps("export"):
        assert "--batch-mode" not in text and "for any --score, where these networks are fit's" in text, text


@pytest.mark.parametrize("argv, said", [
    (["score", "--data", "new/", "runs/x", "--out", "s.csv"],
     "wildgan score: error: the following arguments are required: run_dir (--data takes every word after it up to "
     "the next option, so a run_dir typed after --data is read as one of its paths: give run_dir first, e.g. "
     "`wildgan score RUN --data ...`)"),
    (["report", "--image", "odd.png", "runs/x"],
     "wildgan report: error: the following arguments are required: RUN_DIR|STUDY_DIR (--image takes every word "
     "after it up to the next option, so a RUN_DIR|STUDY_DIR typed after --image is read as one of its paths: give "
     "RUN_DIR|STUDY_DIR first, e.g. `wildgan report RUN --image ...`)"),
])
def test_a_run_folder_taken_by_a_list_option_is_said_so(argv, said, capsys):
    # `wildgan score --data new/ runs/x` gave runs/x to --data, and argparse said only that run_dir was required, of
    # a command line that has one
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and capsys.readouterr().err.splitlines()[-1] == said
    with pytest.raises(SystemExit):                      # a command without a list option: argparse's own words
        main(["evaluate"])
    assert capsys.readouterr().err.splitlines()[-1] == (
        "wildgan evaluate: error: the following arguments are required: run_dir")


@pytest.mark.parametrize("argv, said", [
    (["score", "--out", "s.csv"], "wildgan score: error: the following arguments are required: run_dir"),
    (["score"], "wildgan score: error: the following arguments are required: run_dir, --out"),
    (["report"], "wildgan report: error: the following arguments are required: RUN_DIR|STUDY_DIR"),
    (["score", "--data", "--out", "s.csv"], "wildgan score: error: the following arguments are required: run_dir"),
])
def test_a_missing_run_folder_without_a_list_option_typed_gets_argparse_words(argv, said, capsys):
    # the hint that --data took the run folder was said of command lines without a --data (or with none after it):
    # a run folder forgotten read as one typed in the wrong place
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and capsys.readouterr().err.splitlines()[-1] == said


def test_a_run_folder_taken_by_an_abbreviated_list_option_is_said_so(capsys):
    # argparse takes `--dat` for --data: it swallows the run folder the same way
    with pytest.raises(SystemExit):
        main(["score", "--dat", "new/", "runs/x", "--out", "s.csv"])
    assert "(--data takes every word after it up to the next option" in capsys.readouterr().err


def _placeholders(p) -> dict[str, str]:
    """{option: its placeholder as --help shows it} of a command's parser (options that take a value)."""
    f = p._get_formatter()
    return {o: f._format_args(a, f._get_default_metavar_for_optional(a))
            for a in p._actions for o in a.option_strings if o.startswith("--") and a.nargs != 0}


def test_study_help_shows_trains_placeholders_for_the_same_options():
    # study --help said --contamination CONTAMINATION and --encoder-loss ENCODER_LOSS where train's says GAMMA and
    # {image,latent}: the same option, read as another. A study takes a comma-separated list of them (GAMMA,...)
    from wildgan.cli.parser import make_option_parser, sub_parser

    p = make_option_parser()
    train, study = _placeholders(sub_parser(p, "train")), _placeholders(sub_parser(p, "study"))
    shared = set(train) & set(study)
    assert {"--contamination", "--encoder-loss", "--total-kimg", "--data"} <= shared
    assert {o: study[o] for o in shared if study[o] not in (train[o], train[o] + ",...")} == {}
    assert study["--contamination"] == "GAMMA,..." and study["--encoder-loss"] == "{image,latent},..."


def test_every_commands_positional_argument_has_help(capsys):
    # `report --help` listed RUN_DIR|STUDY_DIR with no word of what it is
    from wildgan.cli.parser import make_option_parser, sub_parser, sub_parser_names

    p = make_option_parser()
    bare = [(name, a.dest) for name in sorted(sub_parser_names(p)) for a in sub_parser(p, name)._actions
            if not a.option_strings and not a.help]
    assert bare == []
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert re.search(r"RUN_DIR\|STUDY_DIR\s+a run directory written by `wildgan train`, or a study", out), out


def test_a_command_parser_s_error_before_any_parse_says_the_error_not_an_attribute_error(capsys) -> None:
    # (its words given are recorded by a parse; the attribute was declared under another name, so an error() before
    # one raised AttributeError instead of saying the refusal)
    from wildgan.cli.parser import _CommandParser

    p = _CommandParser(prog="wildgan score")
    p.add_argument("run_dir")
    p.add_argument("--data", nargs="+")
    with pytest.raises(SystemExit) as e:
        p.error("the following arguments are required: run_dir")
    assert e.value.code == 2
    assert "the following arguments are required: run_dir" in capsys.readouterr().err


def test_fanogan_with_the_tiny_preset_is_told_which_option_sets_its_width(tiny_npz, tmp_path, capsys, monkeypatch):
    # `--method fanogan --preset tiny` asked for the small networks of a short try: the preset is ignored, and
    # f-AnoGAN's default DIM 64 takes seconds per critic iteration on a CPU; the warning and --help say what sets
    # its width and the short try's value
    import wildgan.training.fanogan_loop as fanogan_loop

    def stop(*a, **k):
        raise ConfigError("stopped here")

    monkeypatch.setattr(fanogan_loop, "train_fanogan", stop)
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--method", "fanogan", "--preset", "tiny",
                 "--resolution", "32", "--no-progress", "--out", str(tmp_path / "r")]) == 2
    assert ("--preset does not apply to --method fanogan: ignored (f-AnoGAN's networks are set by --fanogan-dim: 64 "
            "by default, 16 for a short try on a CPU)") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--fanogan-dim FANOGAN_DIM f-AnoGAN: base width DIM (default 64, the official value, seconds per critic " \
           "iteration on a CPU: 16 for a short try there)" in out, out
    assert "--method fanogan --fanogan-dim 16" in out
