"""Messages that name an option name it as the user of the call gives it: the CLI's flag during a command, the Python
API's keyword otherwise (errors.option_words). A Python caller was told of --normal, --image, --resize ..., options
it cannot pass."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main
from wildgan.config import DataConfig
from wildgan.errors import CLI_SKIP_BAD, ConfigError, DataError, option_words, skip_bad_said_as


def test_option_words_follow_the_cli_setting_and_come_back_after_it():
    assert option_words("--normal", "normal=") == "normal="
    with skip_bad_said_as(CLI_SKIP_BAD):
        assert option_words("--normal", "normal=") == "--normal"
    assert option_words("--normal", "normal=") == "normal="


def test_report_arguments_are_named_as_the_caller_gives_them(tmp_path, capsys):
    from wildgan.evaluation.report import check_report_args, report

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")        # a run's folder, as report tells one; its arguments are checked first
    # the Python API: report()'s keywords, before anything of the run is read
    with pytest.raises(ConfigError, match=r"^top_k_images must be >= 0, got -2$"):
        report(run, top_k_images=-2)
    with pytest.raises(ConfigError, match=r"^tsne_points must be at least 5"):
        report(run, tsne_points=1)
    with pytest.raises(DataError, match=r"nope\.png: no such file or folder \(images=\)$"):
        report(run, images=[tmp_path / "nope.png"])
    # the CLI: its options, as before
    assert main(["report", str(run), "--top-k", "-2"]) == 2
    assert "--top-k must be >= 0, got -2" in capsys.readouterr().err
    assert main(["report", str(run), "--image", str(tmp_path / "nope.png")]) == 2
    assert "nope.png: no such file or folder (--image)" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^top_k_images must be"):      # the API's words again after main
        check_report_args(None, -1, 10)


def _labelled_npz(path):
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.integers(0, 256, (40, 16, 16), dtype=np.uint8), y=np.arange(40) % 2)
    return path


def test_the_normal_class_is_asked_for_as_the_caller_gives_it(tmp_path, capsys):
    from wildgan.data import build_split

    data = _labelled_npz(tmp_path / "lab.npz")
    with pytest.raises(ConfigError, match=r"choose the normal class\(es\) \(normal=\); available classes: 0=0, "
                                          r"1=1 \(or when training, dataset='unlabelled' to train"):
        build_split(DataConfig(data=str(data)))
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "choose the normal class(es) (--normal); available classes" in err
    assert "--dataset unlabelled to train on every image" in err and "normal=" not in err


def test_mixed_sizes_under_resize_error_name_the_callers_option(tmp_path, capsys):
    from wildgan.data import load_dataset

    d = tmp_path / "photos"
    d.mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(d / "a.png")
    Image.fromarray(np.zeros((24, 24), np.uint8)).save(d / "b.png")
    with pytest.raises(DataError, match=r"mixed sizes are not allowed with resize='error'; use resize='resize'$"):
        load_dataset(d, resize="error")
    assert main(["train", "--data", str(d), "--resize", "error", "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    assert "mixed sizes are not allowed with --resize error; use --resize resize" in capsys.readouterr().err


def test_masks_threads_and_fanogan_sizes_are_named_as_the_caller_gives_them(tmp_path):
    import torch

    from wildgan.evaluation.heatmaps import load_masks
    from wildgan.training.fanogan_loop import check_image_shape
    from wildgan.training.resume import thread_count_change

    with pytest.raises(DataError, match=r"m\.npy: no such file \(masks=\)$"):
        load_masks(tmp_path / "m.npy")
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"m\.npy: no such file \(--masks\)$"):
        load_masks(tmp_path / "m.npy")
    with pytest.raises(DataError, match=r"got 16x16 \(resolution=32 or 64 converts them\)"):
        check_image_shape(16, 16, 1)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"\(--resolution 32 or 64 converts them\)"):
        check_image_shape(16, 16, 1)
    other = torch.get_num_threads() + 1
    meta = {"intra_op_threads": other}
    said = thread_count_change(meta, tmp_path / "ck", torch.device("cpu"))
    assert said is not None and f"resume with threads={other} to continue" in said and "--threads" not in said
    with skip_bad_said_as(CLI_SKIP_BAD):
        said = thread_count_change(meta, tmp_path / "ck", torch.device("cpu"))
    assert said is not None and f"resume with --threads {other} to continue" in said


def test_training_limits_name_the_callers_options():
    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.loop import check_training_set_size
    from wildgan.training.run import check_minibatch_sizes

    # a study's 512x512 cell (run_study from Python): the presets have no minibatch size there
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 512, 1), train=TrainConfig())
    with pytest.raises(ConfigError, match=r"give a resolution of at most 256, or a total_kimg of at most "):
        check_minibatch_sizes(cfg, sizes_from=None)
    with pytest.raises(ConfigError, match=r"cannot change on resume=True, so this one trains to at most .* kimg "
                                          r"\(total_kimg="):
        check_minibatch_sizes(cfg, sizes_from=None, resume=True)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError, match=r"give a --resolution of at most 256, or "
                                                                          r"a --total-kimg of at most "):
        check_minibatch_sizes(cfg, sizes_from=None)
    with pytest.raises(DataError, match=r"\(preset='tiny': at most 16\), or set train.minibatch "
                                        r"\(TrainConfig.minibatch\)$"):
        check_training_set_size(3, cfg.train, cfg.net)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"\(--preset tiny: at most 16\), or set "
                                                                        r"train.minibatch in a --config file$"):
        check_training_set_size(3, cfg.train, cfg.net)


def test_the_long_cpu_run_advice_names_the_callers_options():
    from wildgan.config import net_config_for_preset
    from wildgan.errors import WildganWarning
    from wildgan.training.loop import _warn_long_cpu_run

    nc = net_config_for_preset("tiny", 8, 1)
    with pytest.warns(WildganWarning, match=r"try total_kimg=80, phase_kimg=30, transition_kimg=30 \(the paper's "
                                            r"schedule, shortened\), or minutes=M$"):
        _warn_long_cpu_run(2_000_000, nc)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.warns(WildganWarning, match=r"try --total-kimg 80 --phase-kimg 30 "
                                                                            r"--transition-kimg 30 .* or --minutes M$"):
        _warn_long_cpu_run(2_000_000, nc)


def test_contamination_advice_names_the_option_as_the_caller_gives_it(tmp_path):
    # the rounding warning advised "contamination from G", and an unlabelled pile's refusal a `wildgan score` command,
    # to a Python caller too, who gives DataConfig's contamination= and thresholds with a Detector
    import warnings

    from wildgan.data import build_split
    from wildgan.errors import WildganWarning

    data = str(_labelled_npz(tmp_path / "lab.npz"))
    for cli, said in ((False, r"clean; contamination=0\.\d+ or more injects one\)"),
                      (True, r"clean; --contamination 0\.\d+ or more injects one\)")):
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always", WildganWarning)
            if cli:
                with skip_bad_said_as(CLI_SKIP_BAD):
                    build_split(DataConfig(data=data, normal=("0",), contamination=0.01))
            else:
                build_split(DataConfig(data=data, normal=("0",), contamination=0.01))
        assert any(re.search(said, str(w.message)) for w in shown), [str(w.message) for w in shown]
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(pile / f"{i}.png")
    unlabelled = DataConfig(data=str(pile), dataset="unlabelled", contamination=0.1)
    with pytest.raises(ConfigError) as e:
        build_split(unlabelled)
    assert "unlabelled images: contamination= injects anomalies" in str(e.value), str(e.value)
    assert str(e.value).endswith("that belongs to the threshold: Detector.from_run(RUN, threshold='contamination', "
                                 "contamination=0.1).predict(NEW)"), str(e.value)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError) as e:
        build_split(unlabelled)
    assert "unlabelled images: --contamination injects anomalies" in str(e.value), str(e.value)
    assert str(e.value).endswith("that belongs to the threshold: `wildgan score RUN --data NEW --threshold "
                                 "contamination --expected-contamination 0.1`"), str(e.value)


def test_a_one_vs_rest_study_of_data_without_classes_is_said_as_the_caller_gives_it():
    from wildgan.studies.study import first_kept_class

    with pytest.raises(DataError, match=r"a one-vs-rest study \(grid\(normals=\.\.\.\) of every class\) needs "):
        first_kept_class([], ())
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"study \(--normal all\) needs labelled"):
        first_kept_class([], ())


@pytest.mark.parametrize("cli", [False, True])
def test_a_decode_workers_errors_name_the_callers_options(tmp_path, monkeypatch, cli):
    """A pool of decoding processes (spawned: each starts with the Python API's words) names an option as the
    process that asked for the decoding does: a CLI user was told of depth16=, an option they cannot pass."""
    from wildgan.data import decode_pool, load_images
    from wildgan.errors import API_SKIP_BAD

    root = tmp_path / "pile"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 7.0, np.float32)).save(root / f"{i}.tif")
    Image.fromarray(np.full((8, 8), 300.0, np.float32)).save(root / "3-out-of-range.tif")
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
    monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 2)
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    spawned = []
    real = decode_pool.DecodePool.executor
    monkeypatch.setattr(decode_pool.DecodePool, "executor", lambda self: spawned.append(1) or real(self))
    with skip_bad_said_as(CLI_SKIP_BAD if cli else API_SKIP_BAD), pytest.raises(DataError) as e:
        load_images([root], 8, 1)
    assert spawned                                        # the pool decoded the files, not this process
    said, other = ("--depth16", "depth16=") if cli else ("depth16=", "--depth16")
    assert "3-out-of-range.tif: float image values must lie in" in str(e.value)
    assert f"then {said} chooses the rule" in str(e.value) and other not in str(e.value)


def test_too_high_a_contamination_is_refused_with_the_most_that_fits_which_builds(tmp_path):
    # "contamination 0.9 needs 144 ... but only 16 are available" gave no way on; the value it now advises must
    # itself build, the split rounding it as it rounds any contamination (n_contamination)
    import warnings

    from wildgan.data import build_split
    from wildgan.errors import WildganWarning

    data = str(_labelled_npz(tmp_path / "lab.npz"))                       # 16 normal, 16 anomalous to train on
    for cli, said in ((False, "contamination=0.5 injects all 16, the most that fits"),
                      (True, "--contamination 0.5 injects all 16, the most that fits")):
        with pytest.raises(DataError) as e:
            if cli:
                with skip_bad_said_as(CLI_SKIP_BAD):
                    build_split(DataConfig(data=data, normal=("0",), contamination=0.9))
            else:
                build_split(DataConfig(data=data, normal=("0",), contamination=0.9))
        assert str(e.value).endswith("needs 144 anomalous training images but only 16 are available; " + said), \
            str(e.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)                    # (and no rounding to warn of)
        assert build_split(DataConfig(data=data, normal=("0",), contamination=0.5)).info["n_contamination"] == 16
    # a count whose share is no short decimal (5 of 26 = 0.1923...): rounded up, to a value that still injects 5
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "odd.npz", x_train=rng.integers(0, 256, (26, 8, 8), dtype=np.uint8),
             y_train=np.r_[np.zeros(21), np.ones(5)].astype(int),
             x_test=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8), y_test=np.arange(4) % 2)
    odd = DataConfig(data=str(tmp_path / "odd.npz"), normal=("0",), contamination=0.9)
    with pytest.raises(DataError, match=r"only 5 are available; contamination=(\S+) injects all 5") as e:
        build_split(odd)
    fits = float(re.search(r"contamination=(\S+) injects", str(e.value)).group(1))
    assert fits == 0.2
    from dataclasses import replace
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        assert build_split(replace(odd, contamination=fits)).info["n_contamination"] == 5
    # no anomalous training image at all: nothing to inject, which the advice says
    np.savez(tmp_path / "clean.npz", x_train=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8),
             y_train=np.r_[np.zeros(19), 1].astype(int),
             x_test=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8), y_test=np.arange(4) % 2)
    clean = DataConfig(data=str(tmp_path / "clean.npz"), normal=("0",), exclude_classes=(), contamination=0.1)
    with pytest.raises(DataError, match=r"needs 2 anomalous training images but only 1 is available; "
                                        r"contamination=0\.05 injects 1, the most that fits$"):
        build_split(clean)
    np.savez(tmp_path / "clean.npz", x_train=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8),
             y_train=np.zeros(20, int), x_test=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8),
             y_test=np.arange(4) % 2)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"needs 2 anomalous training images but "
                                                                        r"only 0 are available; --contamination 0 "
                                                                        r"trains on the normal images alone$"):
        build_split(clean)


def test_a_bad_setting_is_named_as_the_flag_in_the_cli_and_as_the_field_otherwise():
    from wildgan.config import FAnoGANConfig, NetConfig, SearchConfig, TrainConfig, file_values
    from wildgan.data.transforms import check_resolution

    # (every section's field by its section and key, as score.lam was: total_kimg and contamination had none)
    bad = [(lambda: TrainConfig(total_kimg=0), "train.total_kimg", "--total-kimg"),
           (lambda: TrainConfig(lr=0), "train.lr", "--lr"),
           (lambda: TrainConfig(minutes=0), "train.minutes", "--minutes"),
           (lambda: TrainConfig(seed=-3), "train.seed", "--seed"),
           (lambda: DataConfig(seed=-3), "data.seed", "--seed"),
           (lambda: DataConfig(contamination=2.0), "data.contamination", "--contamination"),
           (lambda: FAnoGANConfig(dim=0), "fanogan.dim", "--fanogan-dim"),
           (lambda: SearchConfig(steps=-1), "search.steps", "--search-steps"),
           (lambda: NetConfig(resolution=30), "net.resolution", "--resolution"),
           (lambda: check_resolution(30), "resolution", "--resolution")]
    for make, field, flag in bad:
        with pytest.raises(ConfigError, match=rf"^{re.escape(field)} must be "):
            make()
        with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError, match=rf"^{re.escape(flag)} must be "):
            make()
        # values read from a file (a run's config.json, a --config file) are named as the file spells them, in the
        # CLI too: its user did not type the flag
        with skip_bad_said_as(CLI_SKIP_BAD), file_values(), pytest.raises(ConfigError,
                                                                         match=rf"^{re.escape(field)} must be "):
            make()
    # a field with no option of its own keeps its name in the CLI
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError, match=r"^train\.beta1 must be "):
        TrainConfig(beta1=1.0)


def test_compile_reduce_overhead_with_cuda_graphs_names_both_settings_as_the_caller_gives_them(tmp_path, capsys):
    """The refusal of the two together said compile='reduce-overhead' and cuda_graphs=true in every case: neither the
    section of a Python caller's keys (train.compile, as every other setting's refusal names them) nor the options a
    CLI user typed (--compile reduce-overhead --cuda-graphs on)."""
    from wildgan.config import TrainConfig, file_values

    def refusal(first: str, second: str) -> str:
        return (rf"^{re.escape(first)} already uses CUDA graphs \(per compiled region\); it cannot be combined with "
                rf"{re.escape(second)} \(whole-iteration graphs\)$")

    with pytest.raises(ConfigError, match=refusal("train.compile='reduce-overhead'", "train.cuda_graphs=True")):
        TrainConfig(compile="reduce-overhead", cuda_graphs=True)
    with skip_bad_said_as(CLI_SKIP_BAD), file_values(), pytest.raises(
            ConfigError, match=refusal("train.compile='reduce-overhead'", "train.cuda_graphs=true")):
        TrainConfig(compile="reduce-overhead", cuda_graphs=True)       # (a run's config file: its keys and values)
    assert main(["train", "--out", str(tmp_path / "run"), "--compile", "reduce-overhead", "--cuda-graphs", "on",
                 "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert ("error: --compile reduce-overhead already uses CUDA graphs (per compiled region); it cannot be combined "
            "with --cuda-graphs on (whole-iteration graphs)\n") in err, err


def test_a_threshold_rules_parameter_is_named_as_the_caller_gives_it(tmp_path, capsys):
    from wildgan.thresholds import check_threshold_args, contamination_threshold, mad_threshold

    # (5 reads as a percent: the hint glosses the parameter, said once, as Detector's refusal says it)
    for check, api, cli in [(lambda: check_threshold_args("contamination", contamination=5),
                             "contamination", "--expected-contamination"),
                            (lambda: contamination_threshold(np.arange(10.0), 0.0),
                             "contamination (expected fraction of anomalies)", "--expected-contamination"),
                            (lambda: check_threshold_args("mad", k=-1), "mad_k", "--mad-k"),
                            (lambda: mad_threshold(np.arange(10.0), -1), "mad_k", "--mad-k")]:
        with pytest.raises(ConfigError, match=rf"^{re.escape(api)} must be "):
            check()
        with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError, match=rf"^{re.escape(cli)} must be "):
            check()
    run = tmp_path / "run"
    run.mkdir()
    # (the options are checked before the run is read)
    for command in ("score", "export"):
        out = str(tmp_path / ("s.csv" if command == "score" else "s.onnx"))
        assert main([command, str(run), "--out", out, "--threshold", "mad", "--mad-k", "-1"]) == 2
        assert "error: --mad-k must be a finite number >= 0, got -1\n" in capsys.readouterr().err


def test_a_refused_number_typed_on_the_command_line_is_echoed_as_typed(tmp_path, capsys):
    """The float options' values were echoed after argparse's float(): `--total-kimg -1` was refused with "got -1.0",
    a number the user had not written. The text typed is echoed (abbreviated options, --opt=value and a --config file
    beside the flag too); a Python caller's value is shown as before."""
    from wildgan.config import TrainConfig

    out = str(tmp_path / "run")
    for typed, said in [(["--total-kimg", "-1"], "--total-kimg must be a positive number, got -1"),
                        (["--phase-kimg=-1"], "--phase-kimg must be a positive number, got -1"),
                        (["--transition-kimg", "-1.50"], "--transition-kimg must be a number >= 0, got -1.50"),
                        (["--lr=-1e-3"], "--lr must be a positive number, got -1e-3"),
                        (["--minutes", "-1"], "--minutes must be a positive number, got -1"),
                        (["--checkpoint-kimg", "0"], "--checkpoint-kimg must be a positive number, got 0"),
                        (["--sample-kimg", "-1"], "--sample-kimg must be a number >= 0, got -1"),
                        (["--contamination", "-1"], "--contamination must be in [0, 1), got -1"),
                        (["--total", "-1"], "--total-kimg must be a positive number, got -1")]:
        assert main(["train", "--out", out, *typed, "--dry-run"]) == 2, typed
        assert f"error: {said}\n" in capsys.readouterr().err, typed
    flat = tmp_path / "flat.yaml"
    flat.write_text("phase_kimg: 5\n")
    assert main(["train", "--out", out, "--config", str(flat), "--total-kimg", "-1", "--dry-run"]) == 2
    assert "error: --total-kimg must be a positive number, got -1\n" in capsys.readouterr().err
    assert main(["study", "--out", str(tmp_path / "study"), "--minutes", "-1"]) == 2
    assert "error: --minutes must be a positive number, got -1\n" in capsys.readouterr().err
    run = tmp_path / "scored"
    run.mkdir()
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--threshold", "contamination",
                 "--expected-contamination", "-1"]) == 2
    assert "error: --expected-contamination must be in (0, 0.5], got -1\n" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^train\.total_kimg must be a positive number, got -1\.0$"):
        TrainConfig(total_kimg=-1.0)


def test_a_data_set_of_another_format_than_dataset_names_is_refused_in_the_callers_words(tmp_path, capsys):
    from wildgan.data import load_dataset

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(16):
        Image.fromarray(np.full((8, 8, 3), 15 * i, np.uint8)).save(pile / f"{i}.png")
    with pytest.raises(DataError, match=r"pile: dataset='npz' reads an \.npz of image arrays, but this is a folder "
                                        r"of loose images \(an unlabelled pile\)$"):
        load_dataset(pile, "npz")
    with pytest.raises(DataError, match=r"lab\.npz: dataset='cifar-batches' reads CIFAR-10's python batches "
                                        r"\(cifar-10-batches-py\), but this is an \.npz of image arrays$"):
        load_dataset(_labelled_npz(tmp_path / "lab.npz"), "cifar-batches")
    assert main(["train", "--data", str(pile), "--dataset", "npz", "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "pile: --dataset npz reads an .npz of image arrays, but this is a folder of loose images" in err, err


def test_a_resume_shorter_than_the_run_names_the_length_as_the_caller_gives_it(tmp_path, monkeypatch):
    from dataclasses import replace

    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset, write_run_config
    from wildgan.training import run as training_run

    cfg = RunConfig(data=DataConfig(data=str(tmp_path), dataset="unlabelled"), net=net_config_for_preset("tiny", 8, 3),
                    train=TrainConfig(total_kimg=1))
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(cfg, run)
    monkeypatch.setattr(training_run, "_images_seen", lambda run_dir: 600)    # (networks that have seen 0.6 kimg)
    shorter = replace(cfg, train=replace(cfg.train, total_kimg=0.5))
    with pytest.raises(ConfigError, match=r"differ from the saved run: train\.total_kimg 0\.5 is shorter than the 0\.6 "
                                          r"kimg"):
        training_run.check_run_dir(shorter, run, resume=True)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError, match=r"differ from the saved run: --total-kimg "
                                                                          r"0\.5 is shorter than the 0\.6 kimg"):
        training_run.check_run_dir(shorter, run, resume=True)


def test_the_crop_warning_names_the_letterbox_option_as_the_caller_gives_it():
    from wildgan.data.imageset import crop_warning

    api = crop_warning({(8, 12)}, "resize", None, "images")
    assert "(DataConfig(square='letterbox') letterboxes them" in api and "--square" not in api, api
    with skip_bad_said_as(CLI_SKIP_BAD):
        cli = crop_warning({(8, 12)}, "resize", None, "images")
    assert "(--square letterbox letterboxes them" in cli and "DataConfig" not in cli, cli
    # a caller's own way still wins (the Detector's resize_mode)
    assert "(Detector(x) letterboxes them" in crop_warning({(8, 12)}, "resize", None, "images", hint="Detector(x)")


def test_the_crop_warning_of_images_read_for_a_trained_run_names_the_runs_training_option():
    # `wildgan score RUN --data TREE --normal good` and `wildgan evaluate RUN --data TREE` read non-square images as
    # the run's training images were read, and said "(--square letterbox letterboxes them)", an option neither takes
    from wildgan.data.imageset import crop_warning
    from wildgan.errors import RUN_DEPTH16, depth16_said_as

    with skip_bad_said_as(CLI_SKIP_BAD), depth16_said_as(RUN_DEPTH16):
        cli = crop_warning({(8, 12)}, "resize", None, "images")
    assert "(a run trained with --square letterbox letterboxes them" in cli, cli
    with depth16_said_as(RUN_DEPTH16):
        api = crop_warning({(8, 12)}, "resize", None, "images")
    assert "(a run trained with square='letterbox' letterboxes them" in api, api


def test_the_warning_about_too_few_images_in_a_mixed_batch_names_isolated_as_the_caller_gives_it(scoring_pile,
                                                                                                capsys):
    import warnings

    pile, run, model = scoring_pile(1)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model.score(np.zeros((1, 8, 8, 1), np.uint8))
    api = " ".join(str(w.message) for w in said)
    assert "use batch mode 'isolated' (on a fitted Detector: det.set_params(batch_mode='isolated')" in api, api
    assert "--batch" not in api, api
    assert main(["score", str(run), "--data", str(pile / "0.png"), "--out", str(pile.parent / "s.csv"),
                 "--no-progress"]) == 0
    cli = capsys.readouterr().err
    assert "use --batch-mode isolated, or score them" in cli and "Detector(" not in cli, cli


def test_a_run_folder_that_cannot_be_written_is_said_in_the_callers_words(tmp_path, monkeypatch):
    # both were said to everyone ("wildgan train --out DIR, Detector(run_dir=DIR)"): a Python caller was told of a
    # command, and a command's user of a keyword
    import errno
    import os

    from wildgan.fileio import make_folder
    from wildgan.training.run import writable_run_dir_words

    def read_only(p, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(p))

    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.raises(ConfigError, match=r"read-only file system; train into a folder that can be written "
                                          r"\(run_dir=DIR\)$"):
        make_folder(tmp_path / "run", writable_run_dir_words(), label="the run folder")
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError, match=r"read-only file system; train into a "
                                                                          r"folder that can be written \(--out DIR\)$"):
        make_folder(tmp_path / "run", writable_run_dir_words(), label="the run folder")
