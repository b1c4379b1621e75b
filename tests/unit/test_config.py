"""The typed configs refuse bad values when they are made, before any data is read or anything is written."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from wildgan.config import MAX_SEED, DataConfig, FAnoGANConfig, NetConfig, SearchConfig, TrainConfig
from wildgan.errors import ConfigError


def test_seeds_are_whole_numbers_in_torchs_range_and_numpy_ones_become_ints() -> None:
    for make in (TrainConfig, DataConfig, SearchConfig, FAnoGANConfig):
        assert make(seed=np.int64(7)).seed == 7 and type(make(seed=np.int64(7)).seed) is int   # JSON-able
        assert make(seed=MAX_SEED).seed == MAX_SEED
        for bad in (-1, 1.5, True, "3", MAX_SEED + 1):
            with pytest.raises(ConfigError, match="seed must be a whole number from 0 to 2\\*\\*64 - 2"):
                make(seed=bad)


def _run_dir(tmp_path):
    from wildgan.config import RunConfig, net_config_for_preset, write_run_config

    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    return run, cfg


def test_a_run_config_records_its_format_version_and_one_without_it_is_version_1(tmp_path) -> None:
    import json

    import yaml

    from wildgan.config import RUN_CONFIG_VERSION, read_run_config, run_config_to_dict

    run, cfg = _run_dir(tmp_path)
    assert RUN_CONFIG_VERSION == 1
    assert json.loads((run / "config.json").read_text())["format_version"] == 1
    assert yaml.safe_load((run / "config.yaml").read_text())["format_version"] == 1
    assert run_config_to_dict(cfg)["format_version"] == 1 and read_run_config(run) == cfg
    # config.json of a run from before the field existed: the same layout, read as version 1
    old = {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k != "format_version"}
    (run / "config.json").write_text(json.dumps(old))
    assert read_run_config(run) == cfg


@pytest.mark.parametrize("version, message", [
    (2, r"written by a newer wildgan \(run config format_version 2; wildgan .* reads up to 1\): upgrade wildgan"),
    ("1", r"format_version must be a whole number >= 1, got '1': the file is damaged"),
    (1.0, r"format_version must be a whole number >= 1, got 1\.0: the file is damaged"),
    (True, r"format_version must be a whole number >= 1, got true: the file is damaged"),    # (as JSON says it)
    (0, r"format_version must be a whole number >= 1, got 0: the file is damaged"),
    (None, r"format_version must be a whole number >= 1, got null: the file is damaged"),
])
def test_a_run_config_of_a_newer_or_damaged_format_version_is_refused_naming_the_file(tmp_path, capsys, version,
                                                                                       message) -> None:
    import json

    from wildgan.cli import main
    from wildgan.config import read_run_config

    run, _ = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    # a newer layout may have sections this wildgan does not know: the version is what it is told first
    (run / "config.json").write_text(json.dumps({**d, "format_version": version, "new_section": {}}))
    with pytest.raises(ConfigError, match=rf"run/config\.json: {message}"):
        read_run_config(run)
    # `wildgan train --config RUN/config.json` (a replay) reads it too
    assert main(["train", "--config", str(run / "config.json"), "--out", str(tmp_path / "again"), "--dry-run"]) == 2
    assert re.search(rf"run/config\.json: {message}", capsys.readouterr().err)


def test_a_run_recorded_relative_to_the_sample_reads_it_by_name_not_by_another_installations_path(tmp_path) -> None:
    # a run that recorded the sample by a relative path (trained from inside a checkout, before paths were made
    # absolute) took split.json's `source`, the sample's path inside the installation that trained it, where that
    # still exists: another installation's sample. By name it is this installation's, as any sample run's
    import json

    from wildgan.config import SAMPLE_TOKEN, RunConfig, net_config_for_preset, read_run_config, write_run_config

    other = tmp_path / "old-install" / "wildgan" / "data" / "sample" / "mnist-sample.npz"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"another installation's sample")
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(RunConfig(data=DataConfig(data="sample/mnist-sample.npz"), net=net_config_for_preset("tiny", 8, 1),
                               train=TrainConfig(total_kimg=1.0)), run)
    (run / "split.json").write_text(json.dumps({"source": str(other)}))
    assert read_run_config(run).data.data == SAMPLE_TOKEN
    # any other relative path still takes split.json's absolute source where it exists
    data = tmp_path / "toy.npz"
    data.write_bytes(b"")
    (run / "split.json").write_text(json.dumps({"source": str(data)}))
    write_run_config(RunConfig(data=DataConfig(data="toy.npz"), net=net_config_for_preset("tiny", 8, 1),
                               train=TrainConfig(total_kimg=1.0)), run)
    assert read_run_config(run).data.data == str(data)


def test_a_minibatch_stddev_group_that_scoring_cannot_pad_to_is_refused_before_training() -> None:
    """Scoring pads its batches to multiples of 4 images: a group of 8 trained, then the run's first scoring (20
    images, or a last batch of 36) stopped in minibatch_stddev. Refused when the config is made; 1, 2 and 4 score."""
    import numpy as np
    import torch

    from wildgan.config import NetConfig, ScoreConfig
    from wildgan.nets import build_pgan
    from wildgan.scoring import score_pgan

    for bad in (3, 8, 16):
        with pytest.raises(ConfigError, match=rf"mbstd_group must be 1, 2 or 4 .*got {bad}"):
            NetConfig(resolution=8, channels=1, fmap_base=16, fmap_max=8, mbstd_group=bad)
    x = (np.random.default_rng(0).random((21, 8, 8, 1)) * 255).astype(np.uint8)
    for group in (1, 2, 4):
        nc = NetConfig(resolution=8, channels=1, fmap_base=16, fmap_max=8, mbstd_group=group)
        with torch.no_grad():
            got = score_pgan(build_pgan(nc, 0), x, ScoreConfig(batch_size=12))
        assert all(len(v) == 21 and np.isfinite(v).all() for v in got.scores.values())


def test_net_config_for_preset_takes_a_width_and_a_latent_size():
    # what `train --width / --latent-size` and Detector(width=, latent_size=) build, from one function
    from wildgan.config import net_config_for_preset

    paper = net_config_for_preset("paper", 32, 3)
    assert (paper.fmap_max, paper.fmap_base) == (512, 8192)
    wide = net_config_for_preset("paper", 32, 3, width=256)
    assert (wide.fmap_max, wide.fmap_base, wide.latent_size) == (256, 4096, 256)
    assert wide.nf(0) == 256 and wide.nf(5) == 128                  # min(16 W / 2^stage, W)
    both = net_config_for_preset("tiny", 16, 1, width=8, latent_size=5)
    assert (both.fmap_max, both.fmap_base, both.latent_size) == (8, 128, 5)
    assert net_config_for_preset("fast", 16, 1, latent_size=7).fmap_max == 64
    for bad in ({"width": 0}, {"latent_size": -1}):
        with pytest.raises(ConfigError, match=f"{next(iter(bad))} must be a whole number >= 1"):
            net_config_for_preset("fast", 16, 1, **bad)


def test_net_config_for_preset_takes_numpys_integers_and_refuses_other_types_by_the_parameters_name():
    # a public function now, called beside Detector (which takes numpy's integers): np.int64(32) was refused as
    # "fmap_base must be a whole number >= 1, got np.int64(512)", a string was a bare TypeError, 64.0 was taken
    # and built float channel counts
    from wildgan.config import net_config_for_preset

    net = net_config_for_preset("fast", 16, 1, width=np.int64(32), latent_size=np.int32(7))
    assert (net.fmap_max, net.fmap_base, net.latent_size) == (32, 512, 7)
    assert all(type(v) is int for v in (net.fmap_max, net.fmap_base, net.latent_size))
    for bad in ({"width": "64"}, {"width": 64.0}, {"width": True}, {"latent_size": 3.5}, {"latent_size": "7"}):
        name, v = next(iter(bad.items()))
        with pytest.raises(ConfigError, match=f"^{name} must be a whole number >= 1 .*got {re.escape(repr(v))}$"):
            net_config_for_preset("fast", 16, 1, **bad)


def test_a_width_that_fits_a_resolution_the_presets_own_does_not_is_taken():
    # tiny's 16 channels (fmap_base 256) run out at 1024x1024; width 64 (fmap_base 1024) does not, but the preset's
    # networks were built first and refused it, saying to choose a --width: `info/train --preset tiny --width 64`
    from wildgan.config import net_config_for_preset

    with pytest.raises(ConfigError, match="resolution 1024 needs more channels"):
        net_config_for_preset("tiny", 1024, 1)
    net = net_config_for_preset("tiny", 1024, 1, width=64)
    assert (net.fmap_max, net.fmap_base, net.latent_size, net.nf(9)) == (64, 1024, 64, 2)
    assert net_config_for_preset("tiny", 1024, 1, width=64, latent_size=9).latent_size == 9
    assert net_config_for_preset("tiny", 32, 1, latent_size=9).latent_size == 9


def test_a_search_run_built_in_python_trains_no_encoder(tmp_path) -> None:
    """The latent search never uses E: RunConfig(method='search') with TrainConfig's default encoder_loss 'image'
    trained one anyway (a quarter more work per iteration, another random stream than the CLI's search runs). It is
    'none', also as written and read back; a wildgan run keeps its encoder loss."""
    from wildgan.config import NetConfig, RunConfig, read_run_config, write_run_config

    cfg = RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(), method="search")
    assert cfg.train.encoder_loss == "none"
    write_run_config(cfg, tmp_path)
    assert read_run_config(tmp_path).train.encoder_loss == "none"
    for loss in ("image", "latent"):
        assert RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(encoder_loss=loss)).train.encoder_loss \
            == loss


def test_the_encoder_loss_refusals_list_the_values_taken_where_they_are_taken(tmp_path, capsys) -> None:
    """TrainConfig took image, latent or none, and said so to a CLI user as '--encoder-loss must be image, latent or
    none', an option that takes image or latent only; and a wildgan run without an encoder (none in an edited run
    config, or built in Python) trained, then scored with a random E in silence. Each refusal now lists what is
    taken where it is made: the field all three (none: the latent search's loop without E), the wildgan method the
    two losses it scores with."""
    from wildgan.cli import main
    from wildgan.config import NetConfig, RunConfig, net_config_for_preset, write_run_config

    with pytest.raises(ConfigError, match=r"^train\.encoder_loss must be image \(d_I\), latent \(d_z\) or none "
                                          r"\(no encoder, the latent search's\), got 'x'$"):
        TrainConfig(encoder_loss="x")
    no_encoder = TrainConfig(encoder_loss="none")
    # (refused where a training is configured, not where a RunConfig is built: an earlier wildgan's run of it is read)
    from wildgan.config import refuse_untrained_encoder

    with pytest.raises(ConfigError, match=r"^train\.encoder_loss must be image \(d_I\) or latent \(d_z\) with "
                                          r"method wildgan, whose scores need its encoder \(none, no encoder, is for "
                                          r"method fanogan or search\), got 'none': where cfg is an "
                                          r"earlier run's \(read_run_config\), that run was trained without an "
                                          r"encoder .*set train\.encoder_loss to image \(d_I, the method's\)"):
        refuse_untrained_encoder(RunConfig(data=DataConfig(), net=NetConfig(), train=no_encoder))
    for method in ("fanogan", "search"):          # (f-AnoGAN trains its own izi_f encoder; the search has none)
        assert RunConfig(data=DataConfig(), net=NetConfig(), train=no_encoder, method=method).method == method
    # a run config edited to none, given to the CLI: the file, the field and the option that sets it
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",)), net=net_config_for_preset("tiny", 8, 1),
                    preset="tiny", train=TrainConfig(total_kimg=1.0))
    write_run_config(cfg, tmp_path)
    edited = tmp_path / "edited.yaml"
    edited.write_text((tmp_path / "config.yaml").read_text().replace("encoder_loss: image", "encoder_loss: none"))
    assert main(["train", "--config", str(edited), "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert (f"error: {edited}: train.encoder_loss must be image (d_I) or latent (d_z) with method wildgan, whose "
            f"scores need its encoder (none, no encoder, is for method fanogan or search), got 'none' (the "
            f"--encoder-loss setting)") in err, err


def test_square_letterbox_is_the_name_and_pad_its_old_name_with_a_warning(tmp_path) -> None:
    """--square's 'pad' (black bars to a square) is split.json's fit 'letterbox', while fit 'pad' zero-pads small
    images: the option is 'letterbox' now. DataConfig(square='pad') is taken as letterbox with a warning; a run's
    config.json that recorded 'pad' reads back as letterbox without one, and a new run records 'letterbox'."""
    import json
    import warnings

    from wildgan import WildganWarning
    from wildgan.config import read_run_config, run_config_to_dict

    assert DataConfig(square="letterbox").square == "letterbox"
    with pytest.warns(WildganWarning, match=r"DataConfig\(square='pad'\) is the old name of square='letterbox'.*"
                                            r"fit / resize_mode 'pad' is another rule"):
        old = DataConfig(square="pad")
    assert old == DataConfig(square="letterbox")
    with pytest.raises(ConfigError, match=r"square must be 'crop' .* or 'letterbox' .*'pad' is its old name\), got "
                                          r"'black'"):
        DataConfig(square="black")
    with pytest.raises(ConfigError, match=r"fit must be resize, pad or letterbox \(resize: .*pad: zero-pad "
                                          r".*letterbox: pad to a square with black bars.*\), got 'box'$"):
        DataConfig(fit="box")
    run, cfg = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d["data"]["square"] = "pad"                              # as a run recorded it before the rename
    (run / "config.json").write_text(json.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = read_run_config(run)
    assert loaded.data.square == "letterbox"
    assert run_config_to_dict(loaded)["data"]["square"] == "letterbox"


def test_squares_old_name_is_read_in_one_place_by_all_its_readers(tmp_path, monkeypatch) -> None:
    """square's old name ('pad' for letterbox) was read in five places, each with its own copy of the rule (the CLI's
    main and data_config_from_args, DataConfig, run_config_from_dict, splits.square_fit, the training-score cache's
    renamed values). config.square_name is the one: an old name it is given (here a second one, 'bars') is read so
    by every reader; said in a warning where the user gave it, in silence where a run recorded it."""
    import json
    import warnings

    from wildgan import WildganWarning
    from wildgan.config import SQUARE_OLD_NAMES, read_run_config, square_name
    from wildgan.data.splits import square_fit
    from wildgan.scoring.train_scores import same_key

    said: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert square_name("pad") == "letterbox" and square_name("crop") == "crop"
        assert square_name(["pad"]) == ["pad"] and square_name(None) is None     # (for DataConfig to refuse)
        assert square_name("pad", given="cli", warn=said.append) == "letterbox"
    assert len(said) == 1 and said[0].startswith("--square pad is the old name of --square letterbox: ")

    monkeypatch.setitem(SQUARE_OLD_NAMES, "bars", "letterbox")
    with pytest.warns(WildganWarning, match=r"DataConfig\(square='bars'\) is the old name of square='letterbox'"):
        assert DataConfig(square="bars").square == "letterbox"
    assert square_fit("resize", "bars") == "letterbox" and square_fit("pad", "bars") == "pad"
    assert same_key({"data": {"square": "bars"}}, {"data": {"square": "letterbox"}})
    run, _ = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d["data"]["square"] = "bars"
    (run / "config.json").write_text(json.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_run_config(run).data.square == "letterbox"


def test_a_null_where_a_number_belongs_is_refused_naming_the_field_and_the_file(tmp_path) -> None:
    """score.kappa: null in a hand-edited config.json passed the checks (None read as 'optional' for every field)
    and failed mid-scoring as a bare TypeError; only fields annotated `X | None` take None."""
    import json

    from wildgan.config import ScoreConfig, read_run_config

    for make, name in ((ScoreConfig, "kappa"), (ScoreConfig, "lam"), (TrainConfig, "lr"), (SearchConfig, "steps"),
                       (FAnoGANConfig, "kappa"), (DataConfig, "seed")):
        with pytest.raises(ConfigError, match=f"{name} must be .*, got None"):
            make(**{name: None})
    # the optional ones still take None
    assert TrainConfig(total_kimg=None, minutes=None, checkpoint_kimg=None, keep_checkpoints=None).minutes is None
    assert FAnoGANConfig(gan_iters=None).gan_iters is None
    run, _ = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d["score"]["kappa"] = None
    (run / "config.json").write_text(json.dumps(d))
    # said as the file spells it (it said `got None` for the file's `null`); Python's own calls above say None
    with pytest.raises(ConfigError, match=re.escape(f"{run / 'config.json'}: ") + r".*kappa must be .*got null$"):
        read_run_config(run)


def test_values_a_person_gave_are_said_as_typed_not_in_python_s_spelling() -> None:
    # an option's text, an environment variable, a file's value: Python's repr quoted every string and doubled the
    # backslashes of a Windows path; quotes are kept only where they show something
    from wildgan.config import as_typed, check_run_config_types, file_values

    assert [as_typed(v) for v in ("fused", "C:\\data", "", " ", " a", 3, 0.5, [1, "a"], None, True)] == [
        "fused", "C:\\data", "''", "' '", "' a'", "3", "0.5", '[1, "a"]', "None", "True"]
    # a character that does not print is shown escaped: a line break in a value (a path pasted with its newline) made
    # a one-line error two lines, and a tab or no-break space looked like a plain space
    assert [as_typed(v) for v in ("a\nb", "data\n", "a\tb", "a\xa0b", "ü")] == [
        "'a\\nb'", "'data\\n'", "'a\\tb'", "'a\\xa0b'", "ü"]
    with file_values():
        assert (as_typed(None), as_typed(False)) == ("null", "false")
    # a run config's field of the wrong type says the type in words, not Python's float / int / bool
    for sec, key, v, said in (("train", "ema_warmup", "no", "train.ema_warmup must be true or false, got 'no'"),
                              ("train", "threads", 1.5, "train.threads must be a whole number or None, got 1.5"),
                              ("score", "lam", "x", "score.lam must be a number, got 'x'"),
                              ("score", "generator", 1, "score.generator must be a string, got 1")):
        with pytest.raises(ConfigError) as e:
            check_run_config_types({sec: {key: v}})
        assert str(e.value) == said
    with file_values(), pytest.raises(ConfigError, match=r"must be a whole number or null, got 1\.5$"):
        check_run_config_types({"train": {"threads": 1.5}})


@pytest.mark.parametrize("text, said", [
    ("lr: null\n", 'lr must be a positive number, got null (the --lr setting)'),   # a flat file's, checked late
    ("lr: true\n", 'lr must be a number, got true (the --lr setting)'),
    ("skip_bad: null\n", None),                                               # (null: the option's default)
    ("train:\n  lr: false\n", "must be a number, got false"),                 # a run config's field
])
def test_a_config_files_values_are_said_as_the_file_spells_them(tmp_path, capsys, text, said) -> None:
    from wildgan.cli import main

    # a YAML or JSON file's null, true and false were said as Python's None, True and False
    f = tmp_path / "c.yaml"
    if text.startswith("train:"):
        run, _ = _run_dir(tmp_path)
        d = yaml.safe_load((run / "config.yaml").read_text())
        d["train"]["lr"] = False
        f.write_text(yaml.safe_dump(d))
    else:
        f.write_text(text)
    code = main(["train", "--config", str(f), "--out", str(tmp_path / "r"), "--dry-run"])
    err = capsys.readouterr().err
    if said is None:
        assert code == 0, err
        return
    assert code == 2 and said in err and str(f) in err, err
    assert not re.search(r"got (None|True|False)\b", err), err


@pytest.mark.parametrize("section, key, value", [("train", "ema_warmup", "no"), ("data", "data", 5),
                                                 ("train", "tensorboard", "yes"), ("data", "skip_bad", "no"),
                                                 ("data", "test_fraction", "x")])
def test_a_run_config_json_with_a_value_of_the_wrong_type_is_refused_naming_the_file(tmp_path, section, key,
                                                                                      value) -> None:
    """A hand-edited run config.json is type-checked as a --config file is: "ema_warmup": "no" was read as true in
    silence, and "data": 5 failed later as a bare TypeError."""
    import json

    from wildgan.config import read_run_config

    run, _ = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d[section][key] = value
    (run / "config.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError, match=re.escape(f"{run / 'config.json'}: {section}.{key} must be ") + ".*got "
                                          + re.escape(repr(value))):
        read_run_config(run)


def test_unknown_names_are_said_plainly_with_the_nearest_known_one() -> None:
    from wildgan.config import from_dict, nearest_name, unknown_names_text

    # a Python list (['totl_kimg']) and class name (unknown TrainConfig keys) were what a YAML section's typo got
    assert unknown_names_text("key", {"totl_kimg"}, ["total_kimg", "phase_kimg"]) == \
        "unknown key totl_kimg (did you mean total_kimg?)"
    assert unknown_names_text("key", {"b", "a"}, ["y", "x"]) == "unknown keys a, b (known keys: x, y)"
    assert unknown_names_text("option", {"zz"}, ["x"], list_known=False) == "unknown option zz"
    assert nearest_name("l_r", ["a", "L_n", "L_r"]) == "L_r" and nearest_name(5, ["a"]) is None
    with pytest.raises(ConfigError, match=r"^the train section has unknown key totl_kimg "
                                          r"\(did you mean total_kimg\?\)$"):
        from_dict(TrainConfig, {"totl_kimg": 1})
    with pytest.raises(ConfigError, match=r"^the train section must be a mapping of its keys to their values, got 5$"):
        from_dict(TrainConfig, 5)
    with pytest.raises(ConfigError, match=r"^train\.total_kimg must be a number or"):
        from_dict(TrainConfig, {"total_kimg": "abc"}, check_types=True)


def test_a_run_s_config_json_saved_again_with_a_byte_order_mark_reads_as_before(tmp_path):
    # (a hand edit in an editor that saves UTF-8 with a BOM: json refused it as "invalid JSON", the run unusable)
    from wildgan.config import read_run_config

    run, cfg = _run_dir(tmp_path)
    p = run / "config.json"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert read_run_config(run) == cfg


def test_a_bad_value_of_a_config_file_is_named_by_the_file_and_its_key(tmp_path, capsys) -> None:
    # `total_kimg must be a positive number, got 0.0 (options from the command line and cfg.json)` named the field,
    # neither the key as the file writes it nor the option; a typed flag beside the file was named by the field too
    import json

    import yaml

    from wildgan.cli import main

    def refusal(*argv: str) -> str:
        capsys.readouterr()
        assert main(["train", *argv, "--out", str(tmp_path / "r"), "--dry-run"]) == 2
        return capsys.readouterr().err.strip()

    flat = tmp_path / "cfg.json"
    flat.write_text(json.dumps({"total_kimg": 0}))
    assert refusal("--config", str(flat)) == (f'wildgan: error: {flat}: total_kimg must be a positive number, '
                                              f'got 0 (the --total-kimg setting)')
    dashed = tmp_path / "cfg.yaml"                        # (the key as written, with -)
    dashed.write_text("total-kimg: -1\n")
    assert refusal("--config", str(dashed)).endswith(f'{dashed}: total-kimg must be a positive number, got -1 '
                                                     f'(the --total-kimg setting)')
    dashed.write_text("contamination: 2\n")
    # (2 for 2%: the fraction it means is said, as study's --contamination says it)
    assert refusal("--config", str(dashed)).endswith(f'{dashed}: contamination must be in [0, 1) (a fraction of the '
                                                     f'training set: for 2% give 0.02), got 2 '
                                                     f'(the --contamination setting)')
    dashed.write_text("contamination: 150\n")           # (no percentage either)
    assert refusal("--config", str(dashed)).endswith(f'{dashed}: contamination must be in [0, 1), got 150 '
                                                     f'(the --contamination setting)')
    dashed.write_text("latent-size: 0\n")            # (checked by the command line's own code)
    assert refusal("--config", str(dashed)).endswith(f'{dashed}: latent-size must be >= 1, got 0 '
                                                     f'(the --latent-size setting)')
    # typed beside the file, a flag wins over it, and is named and echoed as typed
    assert refusal("--config", str(flat), "--total-kimg", "-3") == ("wildgan: error: --total-kimg must be a positive "
                                                                    "number, got -3")
    # a run's own config file: the key in its section
    run, _ = _run_dir(tmp_path)
    d = yaml.safe_load((run / "config.yaml").read_text())
    d["train"]["total_kimg"] = 0
    whole = tmp_path / "whole.yaml"
    whole.write_text(yaml.safe_dump(d))
    assert refusal("--config", str(whole)) == (f"wildgan: error: {whole}: train.total_kimg must be a positive number, "
                                               f"got 0 (the --total-kimg setting)")


@pytest.mark.parametrize("make, said, flag", [
    # numbers: score.lam had its section, total_kimg and contamination none
    (lambda: TrainConfig(total_kimg=0), "train.total_kimg must be a positive number, got 0", "--total-kimg"),
    (lambda: TrainConfig(beta1=1.0), "train.beta1 must be a number in [0, 1), got 1.0", None),
    (lambda: DataConfig(contamination=200.0), "data.contamination must be in [0, 1), got 200.0", "--contamination"),
    (lambda: DataConfig(contamination=2.0), "data.contamination must be in [0, 1) (a fraction of the training set: "
                                            "for 2% give 0.02), got 2.0", "--contamination"),
    (lambda: DataConfig(seed=-1), "data.seed must be a whole number from 0 to 2**64 - 2, got -1", "--seed"),
    # choices: a plain ConfigError, without its section or its parts
    (lambda: TrainConfig(amp="fp16"), "train.amp must be auto, off or bf16, got 'fp16'", "--amp"),
    (lambda: TrainConfig(on_divergence="skip"), "train.on_divergence must be stop or rollback, got 'skip'",
     "--on-divergence"),
    (lambda: TrainConfig(cuda_graphs="on"), "train.cuda_graphs must be true, false or null (auto), got 'on'", None),
    (lambda: DataConfig(test_size="half"), "data.test_size must be 'paper' or 'all', got 'half'", "--test-size"),
    (lambda: DataConfig(contamination_draw="x"), "data.contamination_draw must be nested or choice, got 'x'", None),
    (lambda: NetConfig(channels=2), "net.channels must be 1 or 3, got 2", "--channels"),
])
def test_every_sections_refused_setting_is_named_by_its_section_and_key(make, said, flag) -> None:
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with pytest.raises(ConfigError) as e:
        make()
    assert str(e.value) == said
    # its parts, for a caller that names the setting as the place its value came from does (a --config file's key)
    assert (e.value.setting, e.value.flag) == (said.split()[0], flag) and said.endswith(f", got {e.value.value!r}")
    if flag is not None:
        with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError) as e:
            make()
        assert str(e.value) == flag + said[said.index(" "):]


@pytest.mark.parametrize("section, key, value", [("train", "amp", "fp16"), ("data", "test_size", "half"),
                                                 ("data", "depth16", "bits:8"), ("score", "generator", "G_ema")])
def test_a_run_config_files_bad_choice_is_named_by_the_file_and_its_dotted_key(tmp_path, section, key,
                                                                                value) -> None:
    import json

    from wildgan.config import read_run_config

    run, _ = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    d[section][key] = value
    (run / "config.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError, match=re.escape(f"{run / 'config.json'}: {section}.{key} must be ") + r".*, got "
                                          + re.escape(repr(value)) + "$"):
        read_run_config(run)


@pytest.mark.parametrize("text, key, got", [('{"normal": ","}', "normal", "','"),
                                            # (the list as the file writes it)
                                            ('{"exclude": [",", ""]}', "exclude", '[",", ""]')])
def test_a_config_files_list_of_no_values_is_named_by_the_file_and_its_key(tmp_path, capsys, text, key, got) -> None:
    # `--normal ',': no values ... (options from the command line and k.json)` named an option nobody typed, and a
    # value the file does not write (a YAML list is joined with commas first)
    from wildgan.cli import main

    f = tmp_path / "k.json"
    f.write_text(text)
    capsys.readouterr()
    assert main(["train", "--config", str(f), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == (f'wildgan: error: {f}: {key} must give one or more values, comma '
                                               f'separated, got {got} (the --{key} setting)')
    # a class holding a comma kept as the names (a class 'a,b'), with an empty item beside it: refused by the file
    f.write_text(f'{{"{key}": ["a,b", " "]}}')
    assert main(["train", "--config", str(f), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == (f'wildgan: error: {f}: {key} must name a class in each item, got '
                                               f'["a,b", " "] (the --{key} setting)')
    # typed, as before
    assert main(["train", "--normal", ",", "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == "wildgan: error: --normal ',': no values; give one or more, comma " \
                                              "separated"


@pytest.mark.parametrize("edit, words", [
    # a value of the wrong type in a run's config.json: said as the file writes it, not as Python's repr of what it
    # was read into ({'a': 1}; the tuple (1, 2) a list became)
    (lambda d: d["train"].update(total_kimg={"a": 1}), 'train.total_kimg must be a positive number, got {"a": 1}'),
    (lambda d: d["train"].update(total_kimg=[1, 2]), "train.total_kimg must be a positive number, got [1, 2]"),
    # text keeps its quotes: they are what is wrong where a number belongs
    (lambda d: d["train"].update(total_kimg="20"), "train.total_kimg must be a positive number, got '20'"),
    (lambda d: d.update(format_version={"v": 1}), 'format_version must be a whole number >= 1, got {"v": 1}: the '
                                                   "file is damaged (restore it, or compare it with config.yaml)"),
])
def test_a_run_config_files_value_of_the_wrong_type_is_said_as_the_file_writes_it(tmp_path, edit, words) -> None:
    import json

    from wildgan.config import RunConfig, net_config_for_preset, read_run_config, write_run_config

    write_run_config(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                               train=TrainConfig(total_kimg=1.0)), tmp_path)
    whole = json.loads((tmp_path / "config.json").read_text())
    edit(whole)
    (tmp_path / "config.json").write_text(json.dumps(whole))
    with pytest.raises(ConfigError) as e:
        read_run_config(tmp_path)
    assert str(e.value) == f"{tmp_path / 'config.json'}: {words}", str(e.value)


@pytest.mark.parametrize("text, got", [("[1, 2]", "a list"), ("5", "5"), ("null", "null"), ('"abc"', "'abc'")])
def test_a_run_config_file_that_is_not_an_object_says_what_it_holds_in_the_files_words(tmp_path, text, got) -> None:
    # "got a int", "got a NoneType": Python's type names, in the wrong grammar, for what the file spells 5 and null
    from wildgan.config import read_run_config

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ConfigError) as e:
        read_run_config(tmp_path)
    assert str(e.value).endswith(f"sections expected, got {got})"), str(e.value)


def test_g_image_loss_is_written_only_when_on_and_a_config_without_it_reads_as_off(tmp_path) -> None:
    """train.g_image_loss (spec 7 row 3's ablation) round-trips through config.json and config.yaml when on; off
    (0, the default) it is left out, so a run without it writes the config.json it wrote before the field, and such a
    file (every run recorded before it) reads back as 0."""
    import dataclasses
    import json

    from wildgan.config import read_run_config, run_config_to_dict, write_run_config

    run, cfg = _run_dir(tmp_path)
    d = json.loads((run / "config.json").read_text())
    assert "g_image_loss" not in d["train"] and "g_image_loss" not in (run / "config.yaml").read_text()
    assert read_run_config(run).train.g_image_loss == 0.0 and read_run_config(run) == cfg
    on = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, g_image_loss=0.25, gp_target=750.0))
    write_run_config(on, run)
    assert json.loads((run / "config.json").read_text())["train"]["g_image_loss"] == 0.25
    back = read_run_config(run)
    assert back == on and (back.train.g_image_loss, back.train.gp_target) == (0.25, 750.0)
    assert run_config_to_dict(back) == run_config_to_dict(on)


@pytest.mark.parametrize("value, said", [(-1.0, "train.g_image_loss must be a number >= 0, got -1.0"),
                                         (float("nan"), "train.g_image_loss must be a number >= 0, got nan"),
                                         ("1", "train.g_image_loss must be a number")])
def test_a_bad_g_image_loss_is_refused_naming_it(value, said) -> None:
    from wildgan.config import from_dict

    with pytest.raises(ConfigError, match=re.escape(said)):
        from_dict(TrainConfig, {"g_image_loss": value}, check_types=True)


def test_d_i_in_g_s_loss_is_refused_without_the_encoder_it_needs() -> None:
    # d_I is the image-space encoder loss: with d_z (latent) E is trained for another target, and the latent search
    # trains no E; each is refused naming both settings, not trained with the option dropped in silence
    from wildgan.config import NetConfig, RunConfig

    with pytest.raises(ConfigError, match=re.escape("train.g_image_loss=0.5 adds the image-space encoder loss d_I to "
                                                    "G's loss, which needs the encoder trained with d_I (encoder loss "
                                                    "image), not train.encoder_loss='latent'")):
        TrainConfig(g_image_loss=0.5, encoder_loss="latent")
    with pytest.raises(ConfigError, match="encoder_loss='none'"):
        TrainConfig(g_image_loss=0.5, encoder_loss="none")
    with pytest.raises(ConfigError, match=re.escape("train.g_image_loss must be 0 with method search, which trains no "
                                                    "encoder")):
        RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(g_image_loss=0.5), method="search")
    assert TrainConfig(g_image_loss=0.0, encoder_loss="latent").g_image_loss == 0.0
    assert TrainConfig(g_image_loss=2.0).g_image_loss == 2.0


def test_d_i_in_g_s_loss_is_refused_with_method_fanogan() -> None:
    # f-AnoGAN trains its own networks by its own losses: a RunConfig built in Python with g_image_loss trained the
    # f-AnoGAN without it, and its config.json recorded the 0.5 as if it had been used (the CLI zeroes it, with a
    # warning; method search is refused alike)
    from wildgan.config import NetConfig, RunConfig

    with pytest.raises(ConfigError, match=re.escape("train.g_image_loss must be 0 with method fanogan")):
        RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(g_image_loss=0.5), method="fanogan")
    assert RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(), method="fanogan").train.g_image_loss == 0


@pytest.mark.parametrize("bad", [0, 0.0, -750.0])
def test_a_gp_target_that_is_not_positive_is_refused_saying_what_it_is(bad) -> None:
    # the penalty divides by target^2: 0 divided by zero, and a negative target is the same penalty as its absolute
    # value, so neither is what was meant
    with pytest.raises(ConfigError, match=re.escape("train.gp_target must be a positive number, the critic's target "
                                                    "gradient norm (1, the authors' code; 750, the pGAN paper's "
                                                    "CIFAR-10 value), got")):
        TrainConfig(gp_target=bad)
    assert TrainConfig(gp_target=750).gp_target == 750


def test_the_defaults_are_the_method_specs_numbers() -> None:
    """The values METHOD_SPEC.md gives (3.3 training, 4.2/4.3 scoring, 4.5 latent search, 5.1/5.2 f-AnoGAN). The
    spec reference tests compare the loop with the spec at these defaults, but a default changed here changes every
    run that does not set it: written out once, so that such a change is seen."""
    from wildgan.config import PAPER_MINIBATCH, FAnoGANConfig, ScoreConfig, SearchConfig, TrainConfig

    t = TrainConfig()
    assert (t.lr, t.beta1, t.beta2, t.adam_eps) == (1e-3, 0.0, 0.99, 1e-8)
    assert (t.gp_lambda, t.gp_target, t.drift, t.g_image_loss) == (10.0, 1.0, 0.001, 0.0)
    assert (t.ema_beta, t.latent_scale, t.minibatch_repeats) == (0.999, 0.1, 4)
    assert (t.phase_kimg, t.fade_kimg) == (600.0, 600.0)
    assert {r: PAPER_MINIBATCH[r] for r in (4, 8, 16, 32, 64)} == {4: 128, 8: 128, 16: 128, 32: 64, 64: 32}
    s = ScoreConfig()
    assert (s.lam, s.kappa, s.batch_size, s.generator) == (0.05, 1.0, 64, "Gs")
    q = SearchConfig()
    assert (q.steps, q.lr, q.feature_weight) == (500, 0.01, 0.1)
    f = FAnoGANConfig()
    assert (f.lr, f.beta1, f.beta2, f.n_critic, f.gp_lambda) == (1e-4, 0.0, 0.9, 5, 10.0)
    assert (f.latent_size, f.dim, f.batch_size, f.epochs) == (128, 64, 16, 7.0)
    assert (f.enc_lr, f.enc_iters, f.kappa, f.flip) == (5e-5, 50000, 1.0, True)
