"""A flag typed beside a run's own config file (`train --config RUN/config.yaml`, `train --resume`) changes the setting
the file refuses, as the refusal's "(the --X setting)" says it would; a --config file is read once for its values,
its keys and a refusal's words; refusals name a file's keys as the file writes them, and settings that cannot go
together each by where its value came from."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from toy_labelled_npz import labelled_npz

from wildgan.cli import main
from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config
from wildgan.errors import ConfigError


def _whole(tmp_path: Path, **edits: object) -> Path:
    """A run's config.json, written by wildgan and then edited by hand: {'train.total_kimg': 0, ...}."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    write_run_config(cfg, run)
    d = json.loads((run / "config.json").read_text())
    for where, v in edits.items():
        section, key = where.split("__")
        d[section][key] = v
    f = tmp_path / "whole.json"
    f.write_text(json.dumps(d))
    return f


def _dry_run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    capsys.readouterr()
    rc = main(["train", *argv, "--dry-run"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err


@pytest.mark.parametrize("edit, flags, section, key, want", [
    ({"train__total_kimg": 0}, ["--total-kimg", "2"], "train", "total_kimg", 2.0),
    ({"train__total_kimg": 0}, ["--total=3"], "train", "total_kimg", 3.0),              # (abbreviated, with =)
    ({"data__seed": -1}, ["--seed", "5"], "data", "seed", 5),                           # one flag, three sections
    ({"fanogan__seed": -1}, ["--seed", "5"], "fanogan", "seed", 5),
    ({"train__amp": "fp16"}, ["--amp", "bf16"], "train", "amp", "bf16"),
    ({"train__keep_checkpoints": -1}, ["--keep-checkpoints", "all"], "train", "keep_checkpoints", None),
    ({"data__contamination": 2}, ["--contamination", "0.1"], "data", "contamination", 0.1),
    ({"net__channels": 2}, ["--channels", "1"], "net", "channels", 1),
    ({"train__encoder_loss": "none"}, ["--encoder-loss", "latent"], "train", "encoder_loss", "latent"),
    ({"train__gp_target": 0}, ["--gp-target", "750"], "train", "gp_target", 750.0),
    ({"train__g_image_loss": -1}, ["--g-image-loss", "0.5"], "train", "g_image_loss", 0.5),
])
def test_a_flag_typed_beside_a_run_config_changes_the_setting_the_file_refuses(tmp_path, capsys, edit, flags,
                                                                               section, key, want) -> None:
    f = _whole(tmp_path, **edit)
    rc, out, err = _dry_run(capsys, "--config", str(f), "--out", str(tmp_path / "r"))
    assert rc == 2 and f"{f}: {section}.{key} must be " in err and "setting)" in err, err    # names the flag ...
    rc, out, err = _dry_run(capsys, "--config", str(f), *flags, "--out", str(tmp_path / "r"))
    assert rc == 0, err                                                                        # ... which changes it
    assert out[section][key] == want


@pytest.mark.parametrize("edit, flags, section, key, want", [
    ({"train__total_kimg": "abc"}, ["--total-kimg", "2"], "train", "total_kimg", 2.0),
    ({"data__contamination": "0.1"}, ["--contamination", "0.2"], "data", "contamination", 0.2),
    ({"net__channels": "1"}, ["--channels", "1"], "net", "channels", 1),
    ({"fanogan__seed": 1.5}, ["--seed", "5"], "fanogan", "seed", 5),
    ({"search__steps": "9"}, ["--search-steps", "9"], "search", "steps", 9),
    # (fields whose flags were in no refusal: a type refusal named none, and the flag typed did not replace them)
    ({"train__ema_warmup": "no"}, ["--ema-warmup", "off"], "train", "ema_warmup", False),
    ({"train__tensorboard": "no"}, ["--tensorboard"], "train", "tensorboard", True),
    ({"train__channels_last": "off"}, ["--channels-last", "off"], "train", "channels_last", False),
    ({"train__device": 5}, ["--device", "cpu"], "train", "device", "cpu"),
    ({"fanogan__bn_warmup": "off"}, ["--fanogan-bn-warmup", "off"], "fanogan", "bn_warmup", False),
    ({"data__skip_bad": "no"}, ["--skip-bad"], "data", "skip_bad", True),
    ({"data__dataset": 5}, ["--dataset", "auto"], "data", "dataset", "auto"),
    ({"data__rotations": "2"}, ["--rotations", "2"], "data", "rotations", 2),
    ({"data__resize": 1}, ["--resize", "error"], "data", "resize", "error"),
    ({"net__latent_size": "8"}, ["--latent-size", "8"], "net", "latent_size", 8),
])
def test_a_flag_typed_beside_a_run_config_changes_a_setting_of_the_wrong_type(tmp_path, capsys, edit, flags,
                                                                             section, key, want) -> None:
    # a value of the wrong type (`total_kimg: "abc"`) was refused without its setting attached: no "(the --X
    # setting)" said, and the flag typed beside the file did not replace it, as it does a value the checks refuse
    f = _whole(tmp_path, **edit)
    rc, out, err = _dry_run(capsys, "--config", str(f), "--out", str(tmp_path / "r"))
    assert rc == 2 and f"{f}: {section}.{key} must be " in err and f"(the {flags[0]} setting)" in err, err
    rc, out, err = _dry_run(capsys, "--config", str(f), *flags, "--out", str(tmp_path / "r"))
    assert rc == 0, err
    assert out[section][key] == want


def test_a_flag_given_beside_a_run_config_changes_the_setting_its_refusal_names(tmp_path, capsys) -> None:
    """A run's config file as `train --dry-run` prints it for a labelled .npz, whose total_kimg is then 0 (a hand
    edit gone wrong), given with `--total-kimg 1` beside it: the flag wins and the dry run goes through with
    total_kimg 1, the setting the file's own refusal names as the way out."""
    data = labelled_npz(tmp_path)
    rc, whole, err = _dry_run(capsys, "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                              "--out", str(tmp_path / "unused"))
    assert rc == 0 and whole is not None, err
    whole["train"]["total_kimg"] = 0                      # (a hand edit gone wrong)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(whole))
    rc, _, err = _dry_run(capsys, "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert rc == 2 and "(the --total-kimg setting)" in err, err
    rc, got, err = _dry_run(capsys, "--config", str(cfg), "--total-kimg", "1", "--out", str(tmp_path / "r"))
    assert rc == 0 and got is not None, err
    assert got["train"]["total_kimg"] == 1.0 and got["data"]["data"] == str(data), got


def test_a_refusal_of_a_value_s_type_keeps_its_setting_and_flag() -> None:
    # the parts a caller names the setting by (ConfigError.setting, .flag: cli.config_args), from both type checks;
    # a field without an option keeps its setting alone
    from wildgan.config import check_run_config_types, from_dict

    with pytest.raises(ConfigError) as e:
        from_dict(TrainConfig, {"total_kimg": "abc"}, check_types=True)
    assert (str(e.value), e.value.setting, e.value.flag, e.value.problem, e.value.value) == (
        "train.total_kimg must be a number or None, got 'abc'", "train.total_kimg", "--total-kimg",
        "must be a number or None", "abc")
    with pytest.raises(ConfigError) as e:
        check_run_config_types({"data": {"seed": "1"}})
    assert (e.value.setting, e.value.flag, e.value.value) == ("data.seed", "--seed", "1")
    with pytest.raises(ConfigError) as e:
        check_run_config_types({"train": {"log_every": "x"}})
    assert (str(e.value), e.value.setting, e.value.flag) == (
        "train.log_every must be a whole number, got 'x'", "train.log_every", None)


def test_resume_takes_a_flag_for_a_setting_its_config_yaml_refuses(tmp_path, capsys) -> None:
    # `--resume`'s help: "options given beside it change only what they control, e.g. a longer --total-kimg"
    # (the data's size recorded as the networks': a dry run of a resume refuses what the resume refuses, such as the
    # networks of another size that the sample's 28x28 digits would give, 32x32)
    cfg = RunConfig(data=DataConfig(resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    d = yaml.safe_load((run / "config.yaml").read_text())
    d["train"]["total_kimg"] = 0
    (run / "config.yaml").write_text(yaml.safe_dump(d))
    rc, _, err = _dry_run(capsys, "--out", str(run), "--resume")
    assert rc == 2 and "train.total_kimg must be a positive number, got 0 (the --total-kimg setting)" in err, err
    rc, out, err = _dry_run(capsys, "--out", str(run), "--resume", "--total-kimg", "2")
    assert rc == 0 and out["train"]["total_kimg"] == 2.0, err


def test_a_refusal_beside_a_run_config_is_of_what_is_still_wrong(tmp_path, capsys) -> None:
    f = _whole(tmp_path, train__total_kimg=0, train__lr=-1)
    r = str(tmp_path / "r")
    # the other setting, still the file's, is still refused, and names its own flag
    rc, _, err = _dry_run(capsys, "--config", str(f), "--total-kimg", "1", "--out", r)
    assert rc == 2 and err.strip() == (f"wildgan: error: {f}: train.lr must be a positive number, got -1 (the --lr "
                                       f"setting)"), err
    rc, out, err = _dry_run(capsys, "--config", str(f), "--total-kimg", "1", "--lr", "0.002", "--out", r)
    assert rc == 0 and (out["train"]["total_kimg"], out["train"]["lr"]) == (1.0, 0.002), err
    # a typed value that is refused itself is the command line's error, named as typed, not the file's
    for typed, said in (("0", "--total-kimg must be a positive number, got 0"),
                        ("abc", "argument --total-kimg: invalid float value: 'abc'")):
        rc, _, err = _dry_run(capsys, "--config", str(f), "--total-kimg", typed, "--out", r)
        assert rc == 2 and err.strip() == f"wildgan: error: {said}", err


def test_a_typed_flag_changes_one_of_two_settings_a_run_config_refuses_together(tmp_path, capsys) -> None:
    f = _whole(tmp_path, train__compile="reduce-overhead", train__cuda_graphs=True)
    r = str(tmp_path / "r")
    rc, _, err = _dry_run(capsys, "--config", str(f), "--out", r)
    assert rc == 2 and err.strip() == (f"wildgan: error: {f}: train.compile='reduce-overhead' already uses CUDA graphs "
                                       f"(per compiled region); it cannot be combined with train.cuda_graphs=true "
                                       f"(whole-iteration graphs)"), err
    rc, out, err = _dry_run(capsys, "--config", str(f), "--cuda-graphs", "off", "--out", r)
    assert rc == 0 and (out["train"]["compile"], out["train"]["cuda_graphs"]) == ("reduce-overhead", False), err
    rc, out, err = _dry_run(capsys, "--config", str(f), "--compile", "default", "--out", r)
    assert rc == 0 and (out["train"]["compile"], out["train"]["cuda_graphs"]) == ("default", True), err


def test_a_run_config_is_read_as_written_outside_a_command(tmp_path) -> None:
    # (the flags typed are the CLI's: a Python caller's run_config_file reads the file as it is)
    from wildgan.config import run_config_file

    with pytest.raises(ConfigError, match=r"train\.total_kimg must be a positive number, got 0$"):
        run_config_file(_whole(tmp_path, train__total_kimg=0))


# every flag the config checks name, with a text typed for it (None: a flag without a value) and the value it gives
# its field
NAMED_FLAGS = [
    ("--total-kimg", "train.total_kimg", "2", 2.0), ("--phase-kimg", "train.phase_kimg", "2", 2.0),
    ("--transition-kimg", "train.transition_kimg", "0", 0.0), ("--lr", "train.lr", "0.5", 0.5),
    ("--minutes", "train.minutes", "3", 3.0), ("--minutes", "fanogan.minutes", "3", 3.0),
    ("--checkpoint-kimg", "train.checkpoint_kimg", "4", 4.0), ("--sample-kimg", "train.sample_kimg", "4", 4.0),
    ("--keep-checkpoints", "train.keep_checkpoints", "3", 3), ("--seed", "train.seed", "7", 7),
    ("--seed", "data.seed", "7", 7), ("--seed", "fanogan.seed", "7", 7), ("--resolution", "net.resolution", "32", 32),
    ("--channels", "net.channels", "3", 3), ("--contamination", "data.contamination", "0.2", 0.2),
    ("--test-size", "data.test_size", "all", "all"), ("--square", "data.square", "letterbox", "letterbox"),
    ("--depth16", "data.depth16", "bits:12", "bits:12"), ("--threads", "train.threads", "2", 2),
    ("--amp", "train.amp", "off", "off"), ("--gp-precision", "train.gp_precision", "amp", "amp"),
    ("--compile", "train.compile", "default", "default"), ("--on-divergence", "train.on_divergence", "rollback",
                                                           "rollback"),
    ("--encoder-loss", "train.encoder_loss", "latent", "latent"), ("--fanogan-dim", "fanogan.dim", "8", 8),
    ("--fanogan-iters", "fanogan.gan_iters", "9", 9), ("--fanogan-enc-iters", "fanogan.enc_iters", "9", 9),
    ("--search-steps", "search.steps", "9", 9), ("--cuda-graphs", "train.cuda_graphs", "off", False),
    ("--channels-last", "train.channels_last", "on", True), ("--ema-warmup", "train.ema_warmup", "off", False),
    ("--tensorboard", "train.tensorboard", None, True),
    ("--device", "train.device", "cpu", "cpu"), ("--device", "fanogan.device", "cpu", "cpu"),
    ("--fanogan-bn-warmup", "fanogan.bn_warmup", "off", False), ("--dataset", "data.dataset", "npz", "npz"),
    ("--resolution", "data.resolution", "32", 32), ("--channels", "data.channels", "1", 1),
    ("--rotations", "data.rotations", "2", 2), ("--skip-bad", "data.skip_bad", None, True),
    ("--resize", "data.resize", "error", "error"), ("--download", "data.download", None, True),
    ("--latent-size", "net.latent_size", "7", 7), ("--gp-target", "train.gp_target", "750", 750.0),
    ("--g-image-loss", "train.g_image_loss", "0.5", 0.5),
]


def test_every_flag_of_the_config_s_table_is_tried_below() -> None:
    # config.SETTING_FLAGS, the flags the checks and the type refusals name: each tried by the test below
    from wildgan.config import SETTING_FLAGS

    assert set(SETTING_FLAGS.items()) <= {(field, flag) for flag, field, *_ in NAMED_FLAGS}


def test_every_option_named_as_its_field_is_in_the_config_s_table() -> None:
    # a field with an option of its own got no flag on a type refusal (`ema_warmup: "no"`), so the option typed
    # beside the file did not replace it: each option of `train` named as a field (--ema-warmup, --fanogan-dim for
    # fanogan.dim) is in SETTING_FLAGS, for that field, unless left out for its reason (see SETTING_FLAGS)
    from wildgan.cli.parser import make_option_parser, sub_parser
    from wildgan.config import SETTING_FLAGS, FAnoGANConfig, NetConfig, SearchConfig

    apart = {"--width", "--data", "--preset", "--method", "--normal", "--exclude", "--train-scores"}
    t = sub_parser(make_option_parser(), "train")
    options = {o for a in t._actions for o in a.option_strings}
    named_so = set()
    for section, cls, before in (("data", DataConfig, ""), ("net", NetConfig, ""), ("train", TrainConfig, ""),
                                 ("fanogan", FAnoGANConfig, "fanogan-"), ("search", SearchConfig, "search-")):
        for f in dataclasses.fields(cls):
            flag = f"--{before}{f.name.replace('_', '-')}"
            if flag in options and flag not in apart:
                named_so.add((f"{section}.{f.name}", flag))
    assert named_so <= set(SETTING_FLAGS.items()) and not apart & set(SETTING_FLAGS.values())


@pytest.mark.parametrize("flag, field, text, want", NAMED_FLAGS)
def test_every_flag_a_run_configs_refusal_names_gives_its_setting_a_value(flag, field, text, want) -> None:
    # the flags the config checks name (bad_setting, combined_settings): each must set the field it is named for,
    # or a refusal saying "(the FLAG setting)" would point at a flag that cannot help
    from wildgan.cli.config_args import typed_setting_values

    value_of = typed_setting_values(["--config", "c.yaml", flag, *([] if text is None else [text]), "--out", "r"])
    assert value_of(flag, field) == want
    with pytest.raises(LookupError):                      # (not typed: the file's refusal stands)
        typed_setting_values(["--config", "c.yaml", "--out", "r"])(flag, field)


def test_a_flat_config_file_is_read_once_for_its_values_its_keys_and_a_refusal(tmp_path, monkeypatch) -> None:
    # set_from_config read it for its values and again for its keys, and _said_with_config twice more to word a
    # refusal of one of its values
    from wildgan.cli import config_args
    from wildgan.cli.parser import make_option_parser, sub_parser
    from wildgan.config import TrainConfig, file_values

    reads: list[str] = []
    real = Path.read_text

    def counted(self, *args, **kw):             # (the file's text read, whichever function reads it)
        reads.append(str(self))
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "read_text", counted)
    f = tmp_path / "cfg.yaml"
    f.write_text("total-kimg: 0\n")
    t = sub_parser(make_option_parser(), "train")
    argv = ["--config", str(f), "--out", str(tmp_path / "r")]
    config_args.set_from_config(t, argv)
    assert reads == [str(f)]
    a = t.parse_args(argv)
    a.typed = {"config", "out"}
    with file_values(), pytest.raises(ConfigError) as e:
        TrainConfig(total_kimg=a.total_kimg)
    said = config_args._said_with_config(e.value, a, str(f))
    assert str(said) == f"{f}: total-kimg must be a positive number, got 0 (the --total-kimg setting)"
    assert reads == [str(f)]


@pytest.mark.parametrize("text, typed, said", [
    ("compile: reduce-overhead\ncuda_graphs: 'on'\n", [],
     "{f}: compile='reduce-overhead' already uses CUDA graphs (per compiled region); it cannot be combined with "
     "cuda_graphs='on' (whole-iteration graphs)"),
    ("compile: reduce-overhead\n", ["--cuda-graphs", "on"],
     "compile='reduce-overhead' already uses CUDA graphs (per compiled region); it cannot be combined with "
     "--cuda-graphs on (whole-iteration graphs) (compile in {f})"),
    ("cuda-graphs: 'on'\n", ["--compile", "reduce-overhead"],
     "--compile reduce-overhead already uses CUDA graphs (per compiled region); it cannot be combined with "
     "cuda-graphs='on' (whole-iteration graphs) (cuda-graphs in {f})"),
])
def test_settings_that_cannot_go_together_are_named_by_a_flat_files_keys(tmp_path, capsys, text, typed,
                                                                        said) -> None:
    # `train.compile='reduce-overhead' ... with train.cuda_graphs=true (options from the command line and FILE)`
    # named fields, neither the file's keys nor the flags typed
    f = tmp_path / "cfg.yaml"
    f.write_text(text)
    rc, _, err = _dry_run(capsys, "--config", str(f), *typed, "--out", str(tmp_path / "r"))
    assert rc == 2 and err.strip() == "wildgan: error: " + said.format(f=f), err


def test_a_refusal_of_settings_together_keeps_its_parts_when_pickled() -> None:
    with pytest.raises(ConfigError) as e:
        TrainConfig(compile="reduce-overhead", cuda_graphs=True)
    copy_ = pickle.loads(pickle.dumps(e.value))
    assert str(copy_) == str(e.value) and copy_.settings == e.value.settings == (
        ("--compile", "train.compile", "reduce-overhead", "reduce-overhead"),
        ("--cuda-graphs", "train.cuda_graphs", "on", True))
    assert copy_.problem.format("A", "B") == ("A already uses CUDA graphs (per compiled region); it cannot be combined "
                                              "with B (whole-iteration graphs)")


def test_flat_and_whole_config_files_say_keys_and_values_alike(tmp_path, capsys) -> None:
    # a flat file's refusal quoted its key ("amp") and said its string value as typed (got fp16), a run config's
    # neither and with Python's quotes (train.amp ..., got 'fp16'): both now as the run config's
    flat = tmp_path / "cfg.yaml"
    flat.write_text("amp: fp16\n")
    rc, _, err = _dry_run(capsys, "--config", str(flat), "--out", str(tmp_path / "r"))
    assert rc == 2 and err.strip() == (f"wildgan: error: {flat}: amp must be one of auto, off, bf16, got 'fp16' (the "
                                       f"--amp setting)"), err
    whole = _whole(tmp_path, train__amp="fp16")
    rc, _, err = _dry_run(capsys, "--config", str(whole), "--out", str(tmp_path / "r"))
    assert rc == 2 and err.strip() == (f"wildgan: error: {whole}: train.amp must be auto, off or bf16, got 'fp16' (the "
                                       f"--amp setting)"), err
    flat.write_text("amp: 5\n")                       # (the file's number, not the text it was converted to)
    rc, _, err = _dry_run(capsys, "--config", str(flat), "--out", str(tmp_path / "r"))
    assert rc == 2 and "amp must be one of auto, off, bf16, got 5 (the --amp setting)" in err, err


def test_the_typed_option_scans_stop_at_a_double_dash() -> None:
    # after `--` each word is a value, not an option: typed_texts stopped there, but typed_options (and so
    # typed_setting_values, which reads both) took a `--config` or `--lr` after it for an option typed
    from wildgan.cli.config_args import typed_options, typed_setting_values, typed_texts
    from wildgan.cli.parser import make_option_parser, sub_parser

    t = sub_parser(make_option_parser(), "train")
    argv = ["--out", "r", "--lr=0.5", "--", "--config", "c.yaml", "--seed", "7", "--amp", "off"]
    assert typed_options(t, argv) == {"out", "lr"}
    assert typed_texts(t, argv) == {"out": "r", "lr": "0.5"}
    value_of = typed_setting_values(argv)
    assert value_of("--lr", "train.lr") == 0.5
    with pytest.raises(LookupError):
        value_of("--seed", "train.seed")
    # an abbreviation, as argparse takes it, is read alike before `--`
    assert typed_options(t, ["--total-k", "3", "--"]) == {"total_kimg"}
    assert typed_texts(t, ["--total-k", "3", "--"]) == {"total_kimg": "3"}


def test_a_run_config_file_s_refusal_keeps_its_setting_s_parts(tmp_path) -> None:
    # read_run_config and run_config_in put the file before the refusal: a bare ConfigError(f"{path}: {e}") dropped
    # the parts a caller names the setting by (setting, flag, problem, value; settings of two together)
    from wildgan.config import read_run_config, run_config_file

    f = _whole(tmp_path, train__total_kimg=0)
    (tmp_path / "run" / "config.json").write_text(f.read_text())
    for read, where in ((lambda: read_run_config(tmp_path / "run"), tmp_path / "run" / "config.json"),
                        (lambda: run_config_file(f), f)):
        with pytest.raises(ConfigError) as e:
            read()
        assert str(e.value) == f"{where}: train.total_kimg must be a positive number, got 0"
        assert (e.value.setting, e.value.flag, e.value.problem, e.value.value) == (
            "train.total_kimg", "--total-kimg", "must be a positive number", 0)
        assert pickle.loads(pickle.dumps(e.value)).setting == "train.total_kimg"
    (tmp_path / "run" / "config.json").write_text(_whole(tmp_path, data__seed="1").read_text())
    with pytest.raises(ConfigError) as e:                     # (a type refusal, from check_run_config_types)
        read_run_config(tmp_path / "run")
    assert (e.value.setting, e.value.flag, e.value.value) == ("data.seed", "--seed", "1")
    with pytest.raises(ConfigError) as e:
        run_config_file(_whole(tmp_path, train__compile="reduce-overhead", train__cuda_graphs=True))
    assert [s[:2] for s in e.value.settings] == [("--compile", "train.compile"), ("--cuda-graphs", "train.cuda_graphs")]
    assert e.value.problem.startswith("{0} already uses CUDA graphs")


def test_a_run_config_file_s_refusal_is_left_as_it_names_the_file_however_it_was_typed(tmp_path) -> None:
    # the readers name a file given as ./run.yaml by pathlib's run.yaml: _said_with_config took such a refusal for
    # one of the options (it did not start with the text typed) and, its parts now kept, worded it as the flag's
    import argparse

    from wildgan.cli.config_args import _said_with_config
    from wildgan.config import run_config_file

    f = _whole(tmp_path, train__total_kimg=0)
    typed = f"{f.parent}/./{f.name}"
    with pytest.raises(ConfigError) as e:
        run_config_file(Path(typed))
    a = argparse.Namespace(typed={"config", "total_kimg"}, config=typed, config_written=None)
    assert _said_with_config(e.value, a, typed) is e.value


def test_a_typed_flag_s_value_is_read_without_the_data_variable(tmp_path, monkeypatch) -> None:
    # value_of built the other options at their defaults, --data's too, which read $WILDGAN_DATA: one naming a path
    # that is gone refused --total-kimg's value as a DataError of the variable, a setting nobody asked for
    from wildgan.cli.config_args import typed_setting_values

    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path / "gone"))
    value_of = typed_setting_values(["--config", "c.yaml", "--total-kimg", "2", "--dataset", "npz", "--out", "r"])
    assert (value_of("--total-kimg", "train.total_kimg"), value_of("--dataset", "data.dataset")) == (2.0, "npz")


@pytest.mark.parametrize("how", ["config", "run's json", "run's yaml", "copied json", "copied yaml", "resume",
                                 "resume, its config", "resume, a flat config"])
def test_a_run_config_file_is_read_once_by_a_command_after_its_options(tmp_path, monkeypatch, capsys, how) -> None:
    # after set_from_config read it, the command read it again for the data config, the run config (each with the
    # options of the file alone, twice more), train's minibatch table and the replay's checks: nine times in all.
    # The replay's checks read its text again for the comment header, twice (in_run_order and the warning's check),
    # and split.json and the run's config.json beside it twice each: a file saved meanwhile gave the header and the
    # settings of two versions. Counted by the reads of the files' text, whichever function reads them
    cfg = RunConfig(data=DataConfig(resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run, trained_on={"n_train": 1} if how == "copied yaml" else None)
    reads: list[str] = []
    real = Path.read_text

    def counted(self, *args, **kw):
        reads.append(os.path.realpath(self))
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "read_text", counted)
    given = run / "config.yaml"
    if how in ("run's json", "run's yaml") or how.startswith("resume"):
        # (the replay's check reads split.json and the run's config.json too, and --resume's own checks read them)
        given = run / ("config.json" if how == "run's json" else "config.yaml")
        (run / "split.json").write_text(json.dumps({"source": "sample"}))
    if how in ("copied json", "copied yaml"):   # (away from its run: the note that its images are not checked, or
        given = tmp_path / ("copy.json" if how == "copied json" else "copy.yaml")     # the header compared)
        given.write_text(real(run / given.name.replace("copy", "config")))
    argv = ["--config", str(given), "--out", str(tmp_path / "again")]
    if how.startswith("resume"):
        # (--resume read config.yaml for its checks before the options are parsed, then set_from_config read it
        # again for its values: a file saved in between gave the command one version's checks and another's
        # settings. Beside it, its own config.yaml named another way, or another file, was read twice too)
        argv = ["--out", str(run), "--resume"]
        if how == "resume, its config":
            argv += ["--config", f"{run}/./config.yaml"]
        elif how == "resume, a flat config":
            flat = tmp_path / "flat.yaml"
            flat.write_text("minutes: 7\n")          # (a setting a resume may change: a dry run refuses others)
            argv += ["--config", str(flat)]
    rc, out, err = _dry_run(capsys, *argv, "--total-kimg", "2")
    assert rc == 0 and out["train"]["total_kimg"] == 2.0, err
    assert how != "copied json" or "has no split.json beside it" in err, err
    assert how != "resume, a flat config" or out["train"]["minutes"] == 7, out
    assert reads.count(os.path.realpath(given)) == 1, reads
    assert how != "resume, a flat config" or reads.count(os.path.realpath(flat)) == 1, reads
    # (a resume reads config.json and split.json for checks of its own, before the options are parsed, and read them
    # again for the replay of config.yaml it adds: split.json twice, and a third time for the data it records)
    assert reads.count(os.path.realpath(run / "config.json")) <= 1, reads
    assert reads.count(os.path.realpath(run / "split.json")) <= 1, reads


@pytest.mark.parametrize("typed, said", [
    ([], "train: total_kimg must be a positive number, got 0 (the --total-kimg setting)"),
    (["--total-kimg", "0"], "--total-kimg must be a positive number, got 0")])
def test_a_refusal_that_starts_with_the_config_file_s_name_is_still_worded_by_where_its_value_came_from(
        tmp_path, monkeypatch, capsys, typed, said) -> None:
    # _said_with_config told a refusal of the file itself by its words starting with the file's name: a flat file
    # named `train` took every "train.total_kimg must be ..." for the file's own, and said it by the run config's
    # field, neither the file's key nor the flag typed. The refusal of a file says so by a part (ConfigError.file)
    monkeypatch.chdir(tmp_path)
    Path("train").write_text(json.dumps({"total_kimg": 0}))
    rc, _, err = _dry_run(capsys, "--config", "train", "--out", "r", *typed)
    assert rc == 2 and err.strip().splitlines()[-1] == f"wildgan: error: {said}", err


def test_a_run_config_file_s_refusal_reworded_is_still_left_as_it_is(tmp_path) -> None:
    # a refusal of the file (config.in_file) whose words do not start with the file's name: matched by its text, it
    # was taken for one of the options and, its parts kept, worded again as the typed flag's (which never gave it)
    import argparse

    from wildgan.cli.config_args import _said_with_config
    from wildgan.config import run_config_file

    f = _whole(tmp_path, train__total_kimg=0)
    with pytest.raises(ConfigError) as e:
        run_config_file(f)
    got = e.value
    got.args = (f"in {got}",)                         # (reworded, its parts kept: "in PATH: ...")
    a = argparse.Namespace(typed={"config", "total_kimg"}, config=str(f), config_written=None)
    assert _said_with_config(got, a, str(f)) is got
    assert pickle.loads(pickle.dumps(got)).file == str(f)
    # and one that is not of the file, though its words start with the file's name, is said as the flag's
    other = ConfigError(f"{f}: total_kimg must be a positive number, got 0", setting="train.total_kimg",
                        flag="--total-kimg", problem="must be a positive number", value=0)
    assert str(_said_with_config(other, a, str(f))) == "--total-kimg must be a positive number, got 0"


_DAMAGED = {
    # (the file's name, its text or bytes): each kind of damage a reader of a config file refuses
    "missing": ("gone.yaml", None),
    "binary yaml": ("c.yaml", b"\xff\xfe\x00 not text"),
    "binary json": ("c.json", b"\xff\xfe\x00 not text"),
    "yaml syntax": ("c.yaml", "train: [\n"),
    "json syntax": ("c.json", "{not json"),
    "toml syntax": ("c.toml", "= 1"),
    "not a mapping": ("c.yaml", "- 1\n"),
    "yaml key twice": ("c.yaml", "lr: 0.1\nlr: 0.2\n"),
    "json key twice": ("c.json", '{"lr": 0.1, "lr": 0.2}'),
    "two merge sources": ("c.yaml", "a: &a {seed: 1}\nb: &b {seed: 2}\nc:\n  <<: [*a, *b]\n"),
}


@pytest.mark.parametrize("kind", list(_DAMAGED))
def test_a_config_file_that_cannot_be_read_is_refused_as_the_file_s(tmp_path, kind) -> None:
    # ConfigError.file says that a refusal names its file already (cli.config_args._said_with_config leaves it as it
    # is): only the refusals of the file's contents set it, not those of a file that cannot be read or parsed at all
    from wildgan.config import read_config_file

    name, text = _DAMAGED[kind]
    f = tmp_path / name
    if isinstance(text, bytes):
        f.write_bytes(text)
    elif text is not None:
        f.write_text(text)
    with pytest.raises(ConfigError) as e:
        read_config_file(f)
    assert e.value.file == str(f) and str(e.value).startswith(f"{f}: "), e.value


@pytest.mark.parametrize("kind", ["json syntax", "binary", "not an object", "key twice", "malformed field"])
def test_a_run_s_damaged_config_json_is_refused_as_the_file_s(tmp_path, monkeypatch, kind) -> None:
    # read_run_config (score RUN, evaluate, --resume's train_run): as read_config_file's refusals, and as its own of a
    # hand-edited value (config.in_file), which did set it
    import wildgan.config as config_mod

    _whole(tmp_path)
    run = tmp_path / "run"
    text = {"json syntax": "{not json", "binary": b"\xff\xfe\x00", "not an object": "[1]",
            "key twice": '{"data": {}, "data": {"seed": 1}}', "malformed field": None}[kind]
    if text is None:
        # (a field of a wrong type that no check names: none is known, so the type check is made to find one)
        def malformed(raw: object) -> None:
            raise TypeError("'list' object is not a mapping")

        monkeypatch.setattr(config_mod, "check_run_config_types", malformed)
    elif isinstance(text, bytes):
        (run / "config.json").write_bytes(text)
    else:
        (run / "config.json").write_text(text)
    with pytest.raises(ConfigError) as e:
        config_mod.read_run_config(run)
    assert e.value.file == str(run / "config.json") and str(e.value).startswith(f"{run / 'config.json'}: "), e.value


@pytest.mark.parametrize("command, damaged, text", [
    ("train --config", "copy.yaml", "train: [\n"),
    ("train --config", "copy.yaml", "lr: 0.1\nlr: 0.2\n"),
    ("train --config", "copy.json", "{not json"),
    ("train --config", "copy.json", "[1]"),
    ("train --config", "config.yaml", "- 1\n"),
    ("train --config", "config.json", '{"data": {}, "data": {"seed": 1}}'),
    ("score", "config.json", "{not json"),
    ("score", "config.json", "[1]"),
    ("score", "config.json", '{"data": {}, "data": {"seed": 1}}'),
    ("train --resume", "config.yaml", "train: [\n"),
    ("train --resume", "config.yaml", "- 1\n"),
    ("train --resume", "config.json", "{not json"),
    ("train --resume", "config.json", "[1]"),
    ("train --resume", "config.json", '{"data": {}, "data": {"seed": 1}}')])
def test_a_damaged_config_file_is_named_once_by_the_command_that_reads_it(trained_run, tmp_path, capsys, command,
                                                                           damaged, text) -> None:
    # the refusal names the file; a command that adds where the options came from (`(options from the command line
    # and FILE)`, _said_with_config) must not name it again, nor drop it
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    f = (tmp_path if damaged.startswith("copy") else run) / damaged
    f.write_text(text)
    argv = {"train --config": ["train", "--config", str(f), "--out", str(tmp_path / "again"), "--dry-run"],
            "score": ["score", str(run), "--no-progress", "--out", str(tmp_path / "s.csv")],
            "train --resume": ["train", "--out", str(run), "--resume", "--no-progress"]}[command]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    said = err[err.index("wildgan: error: "):]
    assert said.count(str(f)) == 1 and said.startswith(f"wildgan: error: {f}: "), err


def test_replay_run_of_a_flat_file_is_refused_as_the_file_s(tmp_path) -> None:
    # (its words name the file, as every refusal of a config file's does: so does its part)
    from wildgan.training.run import replay_run

    flat = tmp_path / "flat.yaml"
    flat.write_text("lr: 0.002\n")
    with pytest.raises(ConfigError, match="a file of command-line options") as e:
        replay_run(flat, tmp_path / "run", progress=False, log=lambda m: None)
    assert e.value.file == str(flat), e.value


def test_a_resume_reads_the_run_s_config_json_and_split_json_once(trained_run, tmp_path, monkeypatch, capsys) -> None:
    # --resume's own checks read RUN/config.json and RUN/split.json once a command (data.replay.ReplayFiles), but
    # train_run read them again: check_run_dir (asked by the command, then by train_run), _resumed_config, and
    # split.json for fit's ids, the train order and the check of the images, up to six times; a file saved meanwhile
    # gave the checks one version and the resume another. Counted by the opens of the files until the run writes them
    # anew (no training scores: scoring them reads the new ones)
    import builtins
    import io
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    watched = {os.path.realpath(run / name): name for name in ("config.json", "split.json", "config.yaml")}
    reads: list[str] = []
    real_open = io.open

    def counted(file, mode="r", *args, **kw):
        if isinstance(file, (str, os.PathLike)) and not any(c in mode for c in "wax+"):
            name = watched.get(os.path.realpath(file))
            if name is not None:
                reads.append(name)
        return real_open(file, mode, *args, **kw)

    monkeypatch.setattr(io, "open", counted)
    monkeypatch.setattr(builtins, "open", counted)
    # (the files written anew at the end are not counted: nothing reads them back without the training scores)
    import wildgan.training.run as run_mod

    real_write = run_mod.write_run_config

    def written(*args, **kw):
        watched.clear()
        return real_write(*args, **kw)

    monkeypatch.setattr(run_mod, "write_run_config", written)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.07", "--no-train-scores",
                 "--no-progress"]) == 0, capsys.readouterr().err
    assert sorted(reads) == ["config.json", "config.yaml", "split.json"], reads


def test_gp_target_and_g_image_loss_flags_set_their_fields_and_replay(tmp_path, capsys) -> None:
    # --gp-target (train.gp_target, a config file's setting only before) and --g-image-loss (spec 7 row 3's
    # ablation): set by the flags, kept by a --config replay of the run's config, changed by a flag typed beside it
    out = str(tmp_path / "r")
    rc, got, err = _dry_run(capsys, "--preset", "tiny", "--gp-target", "750", "--g-image-loss", "0.5", "--out", out)
    assert rc == 0, err
    assert (got["train"]["gp_target"], got["train"]["g_image_loss"]) == (750.0, 0.5)
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps(got))
    rc, again, err = _dry_run(capsys, "--config", str(f), "--out", out)
    assert rc == 0 and again == got, err
    rc, changed, err = _dry_run(capsys, "--config", str(f), "--g-image-loss", "0", "--out", out)
    assert rc == 0 and "g_image_loss" not in changed["train"] and changed["train"]["gp_target"] == 750.0, err
    rc, plain, err = _dry_run(capsys, "--preset", "tiny", "--out", out)
    assert rc == 0 and plain["train"]["gp_target"] == 1.0 and "g_image_loss" not in plain["train"], err


@pytest.mark.parametrize("flags, said", [
    (["--gp-target", "0"], "--gp-target must be a positive number, the critic's target gradient norm (1, the "
                           "authors' code; 750, the pGAN paper's CIFAR-10 value), got 0"),
    (["--g-image-loss", "-1"], "--g-image-loss must be a number >= 0, got -1"),
    (["--g-image-loss", "1", "--encoder-loss", "latent"],
     "--g-image-loss 1 adds the image-space encoder loss d_I to G's loss, which needs the encoder trained with d_I "
     "(encoder loss image), not --encoder-loss latent")])
def test_gp_target_and_g_image_loss_refusals_name_the_flags(tmp_path, capsys, flags, said) -> None:
    rc, _, err = _dry_run(capsys, "--preset", "tiny", *flags, "--out", str(tmp_path / "r"))
    assert rc == 2 and said in err, err


@pytest.mark.parametrize("method, flags, ignored", [
    ("fanogan", ["--gp-target", "750"], "--gp-target"),        # f-AnoGAN's critic keeps its own target 1
    ("search", ["--g-image-loss", "1"], "--g-image-loss"),     # no encoder, no d_I
    ("fanogan", ["--g-image-loss", "1"], "--g-image-loss")])
def test_another_method_ignores_gp_target_or_g_image_loss_with_a_warning(tmp_path, capsys, method, flags,
                                                                         ignored) -> None:
    rc, got, err = _dry_run(capsys, "--method", method, *flags, "--out", str(tmp_path / "r"))
    assert rc == 0 and f"{ignored} does not apply to --method {method}: ignored" in err, err
    assert "g_image_loss" not in got["train"]


def test_a_flat_config_file_beside_resume_changes_only_its_settings_of_the_run(tmp_path, capsys) -> None:
    # `--resume`'s help: "options given beside it change only what they control"; a flat --config file is one of
    # them. It was taken instead of the run's config.yaml, so the run's other settings fell back to the defaults
    # (the embedded sample, --preset fast, 32x32) and the resume was refused for settings nobody had asked to change
    cfg = RunConfig(data=DataConfig(seed=3, resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=1.0, phase_kimg=0.3, lr=2e-3), preset="tiny")
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    flat = tmp_path / "longer.yaml"
    flat.write_text("total_kimg: 2\n")
    rc, out, err = _dry_run(capsys, "--out", str(run), "--resume", "--config", str(flat))
    assert rc == 0, err
    assert out["train"]["total_kimg"] == 2.0                                    # the file's setting ...
    saved = json.loads((run / "config.json").read_text())
    out["train"]["total_kimg"] = saved["train"]["total_kimg"]
    assert out == saved                                                         # ... and the run's for the rest
    # a flag typed beside both still wins over the file, and a refusal of the file's value names the file and key
    rc, out, err = _dry_run(capsys, "--out", str(run), "--resume", "--config", str(flat), "--total-kimg", "3")
    assert rc == 0 and out["train"]["total_kimg"] == 3.0, err
    flat.write_text("total_kimg: 0\n")
    rc, _, err = _dry_run(capsys, "--out", str(run), "--resume", "--config", str(flat))
    assert rc == 2 and err.strip().endswith(f"{flat}: total_kimg must be a positive number, got 0 (the --total-kimg "
                                            f"setting)"), err


def _recorded_tiny_run(tmp_path: Path) -> Path:
    """tmp_path/run holding only the config of a tiny 8x8 gray run (1 kimg, phases of 0.3): what a resume reads."""
    cfg = RunConfig(data=DataConfig(resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=1.0, phase_kimg=0.3), preset="tiny")
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    return run

def test_resume_true_in_a_config_file_is_refused_naming_the_file(tmp_path, capsys) -> None:
    # --resume is read from the command line before the file (the run's config.yaml is added then): from a file it
    # resumed with the defaults' settings in place of the run's, refused as "settings that differ" nobody typed
    run = _recorded_tiny_run(tmp_path)
    flat = tmp_path / "opts.yaml"
    flat.write_text("resume: true\ntotal_kimg: 2\n")
    rc, _, err = _dry_run(capsys, "--out", str(run), "--config", str(flat))
    assert rc == 2 and err.startswith(f"wildgan: error: {flat}: resume: true is not taken from a config file: type "
                                      f"--resume on the command line"), err
    flat.write_text("resume: false\ntotal_kimg: 2\n")              # (false asks for nothing: taken as before)
    rc, out, err = _dry_run(capsys, "--out", str(tmp_path / "new"), "--config", str(flat))
    assert rc == 0 and out["train"]["total_kimg"] == 2.0, err


def test_a_refused_resume_names_the_flag_typed_or_the_file_s_key_that_set_a_differing_setting(tmp_path,
                                                                                              capsys) -> None:
    # a resume's refusal lists the settings by their fields (train.lr: 0.002 -> 0.5), which a typed --lr 0.5 or an
    # `lr: 0.5` in a flat file beside --resume had set: the user was not told which of the options given was the
    # one refused, nor that it came from the file
    cfg = RunConfig(data=DataConfig(seed=3, resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=1.0, phase_kimg=0.3, lr=2e-3), preset="tiny")
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)

    def resumed(*argv: str) -> tuple[int, str]:
        # (not a dry run, which asks nothing of the folder: refused before the data is read, by the settings alone)
        capsys.readouterr()
        rc = main(["train", "--out", str(run), "--resume", "--no-progress", *argv])
        return rc, capsys.readouterr().err

    rc, err = resumed("--lr", "0.5", "--total-kimg", "2")
    assert rc == 2 and "train.lr: 0.002 -> 0.5 (given as: --lr 0.5); give only" in err, err
    flat = tmp_path / "opts.yaml"
    flat.write_text("total_kimg: 2\nlr: 0.5\nwidth: 8\n")
    rc, err = resumed("--config", str(flat), "--seed", "4")
    assert rc == 2, err
    # (each option once, --seed for data.seed and train.seed; --width by its own name, net.fmap_max)
    assert f"train.lr: 0.002 -> 0.5; train.seed: 0 -> 4 (given as: --seed 4; width: 8, lr: 0.5 in {flat}); give" \
        in err, err


def test_overwrite_in_a_flat_file_beside_resume_is_refused_naming_the_file(tmp_path, capsys) -> None:
    # the file goes over the run's config.yaml beside a typed --resume: its `overwrite: true` was refused as
    # "--resume ... and --overwrite deletes it", a flag nobody had typed, without a word of the file it came from
    run = _recorded_tiny_run(tmp_path)
    flat = tmp_path / "opts.yaml"
    flat.write_text("overwrite: true\ntotal_kimg: 2\n")
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--config", str(flat), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"error: {flat}: overwrite: true deletes the run that --resume continues" in err, err
    assert (run / "config.json").is_file()


def test_a_refused_fanogan_resume_names_no_flag_it_ignores_as_the_source(tmp_path, capsys) -> None:
    # --lr and --latent-size set the pGAN's train.lr and net.latent_size, which f-AnoGAN ignores (with a warning):
    # a run config beside --resume that changed fanogan.lr / fanogan.latent_size was refused "(given as: --lr 0.5;
    # --latent-size 32)", naming as the source flags that set neither field (nor the values the fields took)
    from wildgan.config import FAnoGANConfig

    cfg = RunConfig(data=DataConfig(seed=3, resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=1.0, phase_kimg=0.3), preset="tiny", method="fanogan",
                    fanogan=FAnoGANConfig(gan_iters=2, enc_iters=2, dim=8))
    run, other = tmp_path / "run", tmp_path / "other"
    run.mkdir()
    other.mkdir()
    write_run_config(cfg, run)
    write_run_config(dataclasses.replace(cfg, fanogan=dataclasses.replace(cfg.fanogan, lr=5e-4, latent_size=64)),
                     other)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress", "--config", str(other / "config.yaml"),
                 "--lr", "0.5", "--latent-size", "32", "--fanogan-enc-iters", "3"]) == 2
    err = capsys.readouterr().err
    assert "fanogan.latent_size: 128 -> 64" in err and "fanogan.lr: 0.0001 -> 0.0005" in err, err
    # (the flag that did set a differing field is still named)
    assert "(given as: --fanogan-enc-iters 3)" in err, err
    assert "--lr 0.5" not in err and "--latent-size 32" not in err, err


def test_a_dry_run_of_a_resume_refuses_the_settings_the_resume_refuses(trained_run, tmp_path, capsys) -> None:
    # `--dry-run --resume --lr 0.5` printed a config with lr 0.5 and exited 0, where the resume itself refuses a
    # setting it may not change: the dry run now says the resume's refusal, in its words, and still prints a config
    # that changes only what a resume may change
    import shutil

    run = shutil.copytree(trained_run, tmp_path / "run")
    rc, out, err = _dry_run(capsys, "--out", str(run), "--resume", "--total-kimg", "0.1")
    assert rc == 0 and out["train"]["total_kimg"] == 0.1, err
    for flags in (["--lr", "0.5"], ["--seed", "3"], ["--total-kimg", "0.01"]):
        rc, _, dry = _dry_run(capsys, "--out", str(run), "--resume", *flags)
        assert rc == 2 and "--resume with settings that differ from the saved run" in dry, (flags, dry)
        assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress", *flags]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == dry.splitlines()[-1], flags


def test_a_run_of_a_class_whose_name_holds_a_comma_is_replayed_and_resumed_from_its_config(tmp_path, capsys) -> None:
    # a run (or a study's cell) of a class folder 'a,b' records normal: ['a,b'], which a run's own config gives the
    # options as the tuple of the names: `--config RUN/config.yaml` and `--resume` were refused, "--normal must be a
    # string, got ["a,b"]", so such a run could be neither replayed nor continued from the command line
    from PIL import Image

    tree = tmp_path / "tree"
    for k, c in enumerate(("a,b", "c,d", "x")):
        (tree / c).mkdir(parents=True)
        for i in range(24):
            Image.fromarray(np.full((8, 8), 80 * k + i, np.uint8)).save(tree / c / f"{i}.png")
    cfg = RunConfig(data=DataConfig(data=str(tree), normal=("a,b",), exclude_classes=("c,d",), resolution=8,
                                    channels=1),
                    net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    for argv in (["--config", str(run / "config.yaml"), "--out", str(tmp_path / "r2")],
                 ["--out", str(run), "--resume", "--total-kimg", "2"]):
        rc, out, err = _dry_run(capsys, *argv)
        assert rc == 0, (argv, err)
        assert (out["data"]["normal"], out["data"]["exclude_classes"]) == (["a,b"], ["c,d"]), (argv, out["data"])
