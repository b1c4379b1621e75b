"""train_run called from Python: the messages it gives name its keyword arguments, not the CLI's options (which a
Python caller never typed), while a command of the CLI still names its options."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
from no_fcntl import refuse_fcntl_import
from repo_root import REPO

from wildgan.errors import CLI_SKIP_BAD, ConfigError, DivergenceError, skip_bad_said_as
from wildgan.training.divergence import rollback_checkpoint
from wildgan.training.run import check_out_dir


def _words(cli: bool):
    """The block a message is made in: a command of the CLI (cli._main's setting) or a Python call."""
    return skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext()


def _a_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "stats.jsonl").write_text('{"kimg": 0.1}\n')       # a run that trained: not one a start may replace
    return run


@pytest.mark.parametrize("cli", [False, True])
def test_a_folder_holding_a_run_is_refused_in_the_caller_s_words(tmp_path, cli):
    # its advice to start over is the error's start_again too (a study's cell puts its own there), under the run's
    # lock as before it
    from contextlib import ExitStack

    from wildgan.training.run import _take_the_folder

    run = _a_run(tmp_path)
    (run / "config.json").write_text("{}")
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(run, None)
    said = str(e.value)
    assert said.startswith(f"{run} already holds a run (config.json, stats.jsonl): "), said
    if cli:
        assert "use --resume to continue it, --overwrite to delete it and start again, or another --out" in said
        assert e.value.start_again == "--overwrite to delete it and start again, or another --out", e.value
    else:
        assert "use resume=True to continue it, overwrite=True to delete it and start again, or another run_dir" \
            in said
        assert "--" not in said, said
        assert e.value.start_again == "overwrite=True to delete it and start again, or another run_dir", e.value
    with _words(cli), ExitStack() as held, pytest.raises(ConfigError) as locked:
        _take_the_folder(held, run, None, resume=False, overwrite=False)
    assert (str(locked.value), locked.value.message, locked.value.start_again, locked.value.then) == \
        (said, e.value.message, e.value.start_again, e.value.then)


@pytest.mark.parametrize("cli", [False, True])
def test_a_folder_holding_a_run_without_its_config_is_not_told_to_resume_it(tmp_path, cli):
    # "use --resume to continue it" sent the user to a resume that refuses for the missing config.json: what that
    # refusal asks for is said instead
    run = _a_run(tmp_path)
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(run, None)
    again = "or start again with --overwrite (or another --out)" if cli else \
        "or start again with overwrite=True (or another run_dir)"
    assert str(e.value) == f"{run} already holds a run (stats.jsonl) without its config.json, which continuing it " \
                           f"needs: restore config.json from a copy of the run to continue it, {again}", e.value
    assert e.value.start_again == again, e.value


def test_the_refusal_of_a_run_without_its_config_is_documented_in_its_words(tmp_path):
    # docs/cli.md's refusals still told of --resume for such a folder: the command's own words, as it says them
    import re

    run = _a_run(tmp_path)
    with _words(True), pytest.raises(ConfigError) as e:
        check_out_dir(run, None)
    said = str(e.value)[len(str(run)):].replace("(stats.jsonl)", "(stats.jsonl, ...)")
    docs = re.sub(r"\s+", " ", (REPO / "docs" / "cli.md").read_text(encoding="utf-8"))
    assert f"`RUN{said}`" in docs, said


@pytest.mark.parametrize("cli", [False, True])
def test_resume_refusals_name_the_caller_s_resume(tmp_path, cli):
    resume, overwrite = ("--resume", "--overwrite") if cli else ("resume=True", "overwrite=True")
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(tmp_path / "nothere", None, resume=True)
    out = " (--out)" if cli else ""                 # (a command names the folder's option: test_refusal_messages.py)
    assert str(e.value) == (f"{tmp_path / 'nothere'}{out}: nothing to resume (no such folder); start a run there "
                            f"without {resume}, or give the run's folder")
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(tmp_path / "nothere", None, resume=True, overwrite=True)
    assert str(e.value) == f"{resume} continues the run in place and {overwrite} deletes it: give one of them"
    # a run whose config.json is gone, its checkpoints there: restore it, or start again (deleting them)
    run = _a_run(tmp_path)
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(run, None, resume=True)
    assert str(e.value).endswith(f"or start again with {overwrite} (which deletes them)"), str(e.value)


@pytest.mark.parametrize("cli", [False, True])
def test_a_divergence_names_the_caller_s_way_on(tmp_path, cli):
    def diverge(ck_dir: Path, on_divergence: str = "stop", rollbacks: int = 0) -> str:
        with _words(cli), pytest.raises(DivergenceError) as e:
            rollback_checkpoint("NaN in loss_D", ck_dir, on_divergence=on_divergence, rollbacks=rollbacks, lr=1e-3,
                                kind="train_state", lower_lr="LR", interval="every N", log=lambda m: None)
        return str(e.value)

    empty = tmp_path / "none"
    ck_dir = tmp_path / "checkpoints"
    ck_dir.mkdir()
    (ck_dir / "ckpt-000000000512.json").write_text("{}")      # (only listed: nothing is read before the advice)
    kept, again, none = diverge(ck_dir), diverge(ck_dir, "rollback", 3), diverge(empty)
    if cli:
        assert kept.endswith("continue with --resume --on-divergence rollback (back to it with half the lr), or "
                             "start again with a lower LR"), kept
        assert again.endswith("start again with a lower LR (--overwrite, or another --out)"), again
        assert none.endswith("a smaller --checkpoint-kimg with --on-divergence rollback"), none
    else:
        assert kept.endswith("continue with resume=True and train.on_divergence='rollback' (back to it with half "
                             "the lr), or start again with a lower LR"), kept
        assert again.endswith("start again with a lower LR (overwrite=True, or another run_dir)"), again
        assert none.endswith("a smaller train.checkpoint_kimg with train.on_divergence='rollback'"), none
        assert not any("--" in m for m in (kept, again, none)), (kept, again, none)


@pytest.mark.parametrize("cli", [False, True])
def test_the_run_folder_refusals_name_the_caller_s_folder(tmp_path, cli):
    """check_out_dir's refusals of the folder itself began '--out RUN ...' and advised another --out, which a Python
    caller of train_run never typed (only Detector.fit rewrote them, by their text); run_study's alike for its
    study_dir. A command of the CLI still names --out."""
    from wildgan.studies.study import check_study_out_dir

    (tmp_path / "a file").write_text("x")
    data = tmp_path / "data"
    (data / "class").mkdir(parents=True)
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(b"")
    study = tmp_path / "study"
    (study / "runs").mkdir(parents=True)
    (study / "results.jsonl").write_text("")
    run = tmp_path / "other"
    run.mkdir()
    (run / "config.json").write_text('{"net": {}, "train": {}}')       # what tells a run's folder (is_run_dir)
    (run / "split.json").write_text("{}")
    said = []
    for call in (lambda: check_out_dir(tmp_path / "a file" / "run", None),
                 lambda: check_out_dir(data / "run", str(data)),
                 lambda: check_out_dir(tmp_path / "pics", None),
                 lambda: check_out_dir(study, None),
                 lambda: check_out_dir(run / "report" / "x", None),
                 lambda: check_study_out_dir(tmp_path / "a file" / "s", None),
                 lambda: check_study_out_dir(run, None),
                 lambda: check_study_out_dir(data / "s", str(data))):
        with _words(cli), pytest.raises(ConfigError) as e:
            call()
        said.append(str(e.value))
    folder = ["run_dir", "run_dir", "run_dir", "run_dir", "run_dir", "study_dir", "study_dir", "study_dir"]
    for text, word in zip(said, folder):
        assert text.startswith(f"{'--out' if cli else word} {tmp_path}"), text
        assert ("--" in text) == cli, text
    # a file the API's writers would put in a run's own folder: the same words for what rewrites it
    from wildgan.training.run import refuse_a_run_or_study_file

    with _words(cli), pytest.raises(ConfigError) as e:
        refuse_a_run_or_study_file(run / "report" / "s.csv", "s.csv", label="write_scores_csv's path")
    rewrites = "(report, --resume, --overwrite)" if cli else "(report, resume=True, overwrite=True)"
    assert f"in its report/ folder, which wildgan rewrites for that run {rewrites}; give a file" in str(e.value), \
        e.value
    if not cli:
        assert said[1].endswith(f"choose another run_dir outside {data.resolve()}"), said[1]
        assert said[2].endswith("give a new or empty folder as run_dir"), said[2]
        assert "give another run_dir for the run" in said[3], said[3]
        assert "(report, evaluate, resume=True, overwrite=True); choose another run_dir outside it" in said[4], said[4]
        assert said[6].endswith("give another study_dir for the study"), said[6]
    else:
        assert said[2].endswith("give a new or empty folder as --out") and "`wildgan score RUN --data " in said[2]
        assert "(report, evaluate, --resume, --overwrite); choose an --out outside it" in said[4], said[4]


# --------------------------------------------------------------------------------------------------------------------
# RUN/log.txt of a train_run called from Python


def _run_config(tmp_path: Path, total_kimg: float = 0.128):
    import numpy as np

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset

    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=(rng.random((48, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 24))
    return RunConfig(data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1),
                     net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=total_kimg, phase_kimg=0.032, minibatch=PRESETS["tiny"]["minibatch"],
                                       device="cpu", threads=1, train_scores=False),
                     preset="tiny")


def _trained_quickly(monkeypatch, outcome=None):
    """train_run's own steps as they are, its method's loop replaced: one progress line, then `outcome` raised (an
    exception), or the networks' result."""
    from wildgan.training import run as run_mod
    from wildgan.training.loop import TrainResult

    def train(cfg, split, run_dir, *, log, **kw):
        log("tick 1 kimg 0.032")
        if outcome is not None:
            raise outcome
        return TrainResult(run_dir=run_dir, nimg=64, final=run_dir / "network-final.json", status="done")

    monkeypatch.setattr(run_mod, "_train_method", train)


def test_train_run_from_python_writes_the_run_s_log(tmp_path):
    # a train_run from Python left no log.txt, while `wildgan train` writes one: what was trained on what, its
    # progress, how it ended (the file a person opens later)
    from wildgan.training.run import train_run

    run = tmp_path / "run"
    said: list[str] = []
    result = train_run(_run_config(tmp_path, total_kimg=0.128), run, progress=False, log=said.append)
    lines = (run / "log.txt").read_text().splitlines()
    assert lines == [said[0], f"trained 0.128 kimg (done); networks in {result.final}"], lines
    assert lines[0].startswith("training wildgan (tiny) on 19 images ") and lines[0].endswith(f"-> {run}"), lines
    assert said == lines, said                  # (given to `log` too)
    # a resume appends its session to the same log
    train_run(_run_config(tmp_path, total_kimg=0.16), run, resume=True, progress=False, log=lambda m: None)
    again = (run / "log.txt").read_text().splitlines()
    assert again[:2] == lines and again[2].startswith("resuming wildgan (tiny) on 19 images"), again
    assert again[-1].startswith("trained 0.") and again[-1].endswith(f"kimg (done); networks in {result.final}"), \
        again


def test_the_start_line_of_rotated_data_says_its_originals_and_their_rotations(tmp_path, monkeypatch):
    # a chula-rbc12 run said only "on 17484 images", 4 angles of each of 4371 crops: not the data set's own count
    import re
    from dataclasses import replace

    import numpy as np

    from wildgan.config import DataConfig
    from wildgan.training.run import train_run

    rng = np.random.default_rng(0)
    photos = np.repeat(np.arange(1, 101), 10)                  # 1000 crops of 100 photos (a chula-rbc12 stand-in)
    y = np.where(rng.random(len(photos)) < 0.5, 0, rng.integers(1, 4, len(photos)))
    cells = tmp_path / "cells.npz"
    np.savez(cells, x=rng.integers(0, 256, (len(y), 8, 8), dtype=np.uint8), y=y, image_id=photos.astype(np.int16),
             is_anomaly=(y > 0).astype(np.uint8), class_names=np.array(["normal", "macro", "micro", "elliptocyte"]))
    _trained_quickly(monkeypatch)
    base = _run_config(tmp_path)
    said: list[str] = []
    data = DataConfig(data=str(cells), dataset="chula-rbc12", normal=("normal",), contamination=0.05, resolution=8,
                      channels=1)
    train_run(replace(base, data=data), tmp_path / "cells", progress=False, log=said.append)
    got = re.match(r"training wildgan \(tiny\) on (\d+) images \((\d+) crops, each also in 3 random rotations; "
                   r"normal: normal; (\d+) injected anomalies \((\d+) crops\)\), 8x8x1", said[0])
    assert got, said[0]
    total, crops, anomalies, anomalous_crops = map(int, got.groups())
    assert total == 4 * crops and anomalies == 4 * anomalous_crops > 0, said[0]
    # any data set with rotations asked for: its images are the originals
    said.clear()
    train_run(replace(base, data=replace(base.data, rotations=1)), tmp_path / "toy", progress=False, log=said.append)
    assert said[0].startswith("training wildgan (tiny) on 38 images (19 originals, each also in 1 random rotation; "
                              "normal: 0; 0 injected anomalies), 8x8x1"), said[0]


def test_a_split_that_cfg_data_does_not_describe_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    # train_run(cfg, split=...) trained on a split of other data, another seed, normal class or contamination and
    # recorded cfg.data in config.json (a resume then rebuilt other images and refused them as changed); a split of
    # another size failed in the loop, config.json and split.json of a run that never was already written
    from dataclasses import replace

    import numpy as np

    from wildgan.config import net_config_for_preset
    from wildgan.data import build_split
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    cfg = _run_config(tmp_path)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros((48, 8, 8), np.uint8), y=np.repeat([0, 1], 24))
    cases = [(replace(cfg.data, data=str(other)), f"split= was built from {other}, cfg.data.data={cfg.data.data!r}"),
             (replace(cfg.data, resolution=16), "split= has 16x16 images, cfg.data.resolution=8"),
             (replace(cfg.data, channels=3), "split= has 3-channel images, cfg.data.channels=1"),
             (replace(cfg.data, seed=5), "split= was drawn with seed 5, cfg.data.seed=0"),
             (replace(cfg.data, contamination=0.1), "split= has contamination 0.1, cfg.data.contamination=0.0"),
             (replace(cfg.data, normal=("1",)), "split= has normal class(es) ['1'], cfg.data.normal=('0',)")]
    for i, (built_from, differs) in enumerate(cases):
        run = tmp_path / f"run{i}"
        with pytest.raises(ConfigError) as e:
            train_run(cfg, run, split=build_split(built_from), progress=False, log=lambda m: None)
        assert str(e.value).startswith(f"split= is not the split cfg describes ({differs}): "), e.value
        assert "--" not in str(e.value) and not run.exists(), e.value
    # cfg.net's size too, where cfg.data leaves it to the split
    auto = replace(cfg, data=replace(cfg.data, resolution=None))
    with pytest.raises(ConfigError, match=r"split= has 8x8x1 images, cfg.net builds networks for 16x16x1"):
        train_run(replace(auto, net=net_config_for_preset("tiny", 16, 1)), tmp_path / "net",
                  split=build_split(cfg.data), progress=False, log=lambda m: None)
    # harmless: the same split, given with a cfg.data that leaves its size to the data
    train_run(auto, tmp_path / "same", split=build_split(cfg.data), progress=False, log=lambda m: None)
    assert (tmp_path / "same" / "config.json").is_file()


@pytest.mark.filterwarnings("ignore:.*images of 4 different sizes")
def test_a_split_of_another_size_than_the_data_s_own_is_refused_where_cfg_leaves_it_to_the_data(tmp_path,
                                                                                                   monkeypatch):
    # cfg.data.resolution=None (or channels None) with a split built at 16x16 from 8x8 images, and networks of the
    # split's size: trained, and config.json recorded None; a resume rebuilt the split at 8x8 and was refused as
    # "the files themselves changed" (nothing had). Refused where the data's images settle what None takes; what
    # they leave open (mixed sizes, a median between them) is the split's to say, as `wildgan train` builds it
    from dataclasses import replace

    import numpy as np
    from PIL import Image

    from wildgan.config import net_config_for_preset
    from wildgan.data import build_split
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    cfg = _run_config(tmp_path)                                 # 8x8 gray images
    auto = replace(cfg.data, resolution=None, channels=None)
    at = lambda data, r, c: replace(cfg, data=data, net=net_config_for_preset("tiny", r, c))  # noqa: E731
    assert _refused_as(at(auto, 16, 1), build_split(replace(auto, resolution=16)), tmp_path / "big") == (
        "split= has 16x16 images, cfg.data.resolution=None leaves them to the data, which makes them 8x8 (the next "
        "power of two of its 8x8 images' side)")
    assert _refused_as(at(auto, 8, 3), build_split(replace(auto, channels=3)), tmp_path / "rgb") == (
        "split= has 3-channel images, cfg.data.channels=None leaves them to the data, which makes them 1 (every "
        "image of it is gray)")
    # a protocol's own size: MNIST's 32x32 (the digits 0-9, 28x28 gray)
    rng = np.random.default_rng(2)
    digits = tmp_path / "digits.npz"
    np.savez(digits, x=rng.integers(0, 256, (250, 28, 28), dtype=np.uint8), y=np.repeat(np.arange(10), 25))
    mnist = replace(auto, data=str(digits), normal=("2",))
    assert _refused_as(at(mnist, 64, 1), build_split(replace(mnist, resolution=64)), tmp_path / "mnist") == (
        "split= has 64x64 images, cfg.data.resolution=None leaves them to the data, which makes them 32x32 (the "
        "mnist protocol's)")
    # what the data leaves open is accepted: mixed sizes (the median short side decides), colour files that may
    # hold gray (not counted by the split), and the split that cfg.data itself builds
    pile = tmp_path / "pile"
    for k, side in enumerate([6, 6, 10, 12, 20] * 4):
        for c in ("a", "b"):
            (pile / c).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(pile / c / f"{k}.png")
    mixed = replace(auto, data=str(pile), normal=("a",))
    for i, (built_from, r, c) in enumerate([(mixed, 16, 3), (replace(mixed, resolution=8), 8, 3),
                                            (replace(mixed, resolution=32), 32, 3),
                                            (replace(mixed, resolution=16, channels=1), 16, 1),
                                            (replace(auto, resolution=8), 8, 1), (auto, 8, 1)]):
        described = mixed if built_from.data == mixed.data else auto
        train_run(at(described, r, c), tmp_path / f"same{i}", split=build_split(built_from), progress=False,
                  log=lambda m: None)
        assert (tmp_path / f"same{i}" / "config.json").is_file()
    # ... but not beyond what any of its images' sides can make (20 px: at most 32x32)
    assert _refused_as(at(mixed, 64, 3), build_split(replace(mixed, resolution=64)), tmp_path / "huge") == (
        "split= has 64x64 images, cfg.data.resolution=None leaves them to the data, which makes them 8x8 to 32x32 "
        "(the next power of two of its images' short side; their sides are 6 to 20 px)")


def _refused_as(cfg, split, run: Path) -> str:
    """train_run's refusal of `split` for `cfg`: the differences it names; nothing of the run written."""
    from wildgan.training.run import train_run

    with pytest.raises(ConfigError) as e:
        train_run(cfg, run, split=split, progress=False, log=lambda m: None)
    said = str(e.value)
    assert said.startswith("split= is not the split cfg describes (") and "--" not in said and not run.exists(), said
    return said[len("split= is not the split cfg describes ("):said.index("): the run would train on split=")]


def test_a_split_of_other_draw_or_decoding_settings_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    # a split drawn with other rotations, test set, excluded classes or contamination rule, or decoded by another
    # fit or 16-bit rule, was trained on while config.json recorded cfg.data: a resume rebuilt other images (refused
    # as 'training images changed'), evaluate another test set, a replay another run
    from dataclasses import replace

    import numpy as np

    from wildgan.data import build_split
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    cfg = _run_config(tmp_path)
    three = tmp_path / "three.npz"
    rng = np.random.default_rng(1)
    np.savez(three, x=(rng.random((72, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1, 2], 24))
    wide = tmp_path / "wide.npz"                    # non-square: centre-cropped or letterboxed
    np.savez(wide, x=(rng.random((48, 8, 12)) * 255).astype(np.uint8), y=np.repeat([0, 1], 24))
    deep = tmp_path / "deep.npz"                    # 16-bit: depth16 decides their 8-bit pixels
    np.savez(deep, x=(rng.random((48, 8, 8)) * 65535).astype(np.uint16), y=np.repeat([0, 1], 24))
    d, at = cfg.data, lambda path: replace(cfg.data, data=str(path))
    cases = [
        (d, replace(d, rotations=2), "split= has 2 rotated copies of each training image, cfg.data.rotations=None "
                                     "(the generic protocol's 0)"),
        (replace(d, rotations=1), d, "split= has 0 rotated copies of each training image, cfg.data.rotations=1"),
        (d, replace(d, test_size="all"), "split= has test_size 'all', cfg.data.test_size='paper'"),
        (d, replace(d, test_fraction=0.3), "split= held out test_fraction 0.3, cfg.data.test_fraction=0.2"),
        (at(three), replace(at(three), exclude_classes=("2",)),
         "split= excludes class(es) ['2'], cfg.data.exclude_classes=()"),
        (replace(at(three), normal=("0", "2"), exclude_classes=("1",)), replace(at(three), exclude_classes=("2",)),
         "split= has normal class(es) ['0'], cfg.data.normal=('0', '2'); "
         "split= excludes class(es) ['2'], cfg.data.exclude_classes=('1',)"),
        (replace(d, contamination=0.1), replace(d, contamination=0.1, contamination_draw="choice"),
         "split= drew its contaminants by 'choice', cfg.data.contamination_draw='nested'"),
        (at(wide), replace(at(wide), square="letterbox"),
         "split= fit its images by 'letterbox', cfg.data.fit=None with cfg.data.square='crop' fits them by 'resize'"),
        (at(wide), replace(at(wide), fit="pad"),
         "split= fit its images by 'pad', cfg.data.fit=None with cfg.data.square='crop' fits them by 'resize'"),
        (at(deep), replace(at(deep), depth16="global"),
         "split= read its 16-bit images by depth16 'global', cfg.data.depth16='per-image'"),
        (replace(d, dataset="unlabelled", normal=()), d,
         "split= was built by the generic protocol, cfg.data.dataset='unlabelled'"),
    ]
    for i, (described, built_from, differs) in enumerate(cases):
        assert _refused_as(replace(cfg, data=described), build_split(built_from), tmp_path / f"run{i}") == differs
    # what changes no image is no difference: no contaminant to draw, no 16-bit file to read, the protocol's rotations
    for i, (described, built_from) in enumerate([
            (d, replace(d, contamination_draw="choice")), (d, replace(d, depth16="global")),
            (replace(d, rotations=0), d)]):
        train_run(replace(cfg, data=described), tmp_path / f"same{i}", split=build_split(built_from), progress=False,
                  log=lambda m: None)
        assert (tmp_path / f"same{i}" / "config.json").is_file()


def test_a_split_that_left_unreadable_files_out_needs_skip_bad(tmp_path, monkeypatch):
    # without skip_bad, build_split(cfg.data) refuses the first unreadable file: the run's resume and evaluate would
    from dataclasses import replace

    import numpy as np
    from PIL import Image

    from wildgan.data import build_split

    _trained_quickly(monkeypatch)
    cfg = _run_config(tmp_path)
    rng = np.random.default_rng(2)
    for c in ("0", "1"):
        (tmp_path / "tree" / c).mkdir(parents=True)
        for k in range(24):
            Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(tmp_path / "tree" / c / f"{k}.png")
    (tmp_path / "tree" / "1" / "broken.png").write_bytes(b"not a png")
    tree = replace(cfg.data, data=str(tmp_path / "tree"))
    split = build_split(replace(tree, skip_bad=True))
    assert _refused_as(replace(cfg, data=tree), split, tmp_path / "run") == \
        "split= left out 1 unreadable file (skip_bad), cfg.data.skip_bad=False"


def test_a_normal_class_the_split_s_data_lacks_is_refused(tmp_path, monkeypatch):
    # cfg.data.normal naming no class of the split ('all', a typo) was not compared: the run trained, and its
    # evaluate, report and resume=True then refused cfg.data's class (build_split reads 'all' as a class name, as
    # any other); an empty normal= is the protocol's default, which is not the split's normal class either
    from dataclasses import replace

    import numpy as np

    from wildgan.config import SAMPLE_TOKEN, net_config_for_preset
    from wildgan.data import build_split
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    cfg = _run_config(tmp_path)
    split = build_split(cfg.data)
    d = cfg.data
    cases = [(replace(d, normal=("all",)), "cfg.data.normal=('all',) names a class that split='s data lacks: 'all' "
                                           "(its classes: 0, 1) ('all' is no set of classes here: name the normal "
                                           "class(es))"),
             (replace(d, normal=("0", "7")), "cfg.data.normal=('0', '7') names a class that split='s data lacks: "
                                             "'7' (its classes: 0, 1)"),
             (replace(d, exclude_classes=("9",)), "cfg.data.exclude_classes=('9',) names a class that split='s data "
                                                  "lacks: '9' (its classes: 0, 1)"),
             (replace(d, normal=()), "split= has normal class(es) ['0'], cfg.data.normal=() (this data has no "
                                     "default normal class)")]
    for i, (described, differs) in enumerate(cases):
        assert _refused_as(replace(cfg, data=described), split, tmp_path / f"run{i}") == differs
    # a pile has no class to name (build_split refuses normal= for one)
    pile = build_split(replace(d, dataset="unlabelled", normal=()))
    assert _refused_as(cfg, pile, tmp_path / "pile") == \
        "split= is of unlabelled images (no classes), cfg.data.normal=('0',)"
    # a protocol's default normal class is compared as the class it names
    sample = replace(cfg, data=replace(d, data=SAMPLE_TOKEN, normal=(), resolution=32),
                     net=net_config_for_preset("tiny", 32, 1))
    assert _refused_as(sample, build_split(replace(sample.data, normal=("3",))), tmp_path / "mnist") == \
        "split= has normal class(es) ['3'], cfg.data.normal=() (the mnist protocol's ['2'])"
    # a class that is named 'all' is a class like any other
    named = tmp_path / "named.npz"
    np.savez(named, x=np.random.default_rng(3).integers(0, 256, (48, 8, 8), dtype=np.uint8), y=np.repeat([0, 1], 24),
             class_names=np.array(["all", "other"]))
    own = replace(cfg, data=replace(d, data=str(named), normal=("all",)))
    train_run(own, tmp_path / "all", split=build_split(own.data), progress=False, log=lambda m: None)
    assert (tmp_path / "all" / "config.json").is_file()


def test_a_split_of_other_data_than_the_default_is_refused_without_cfg_data_data(tmp_path, monkeypatch):
    # no cfg.data.data is the default data ($WILDGAN_DATA, else the sample): a split of other data was trained on and
    # config.json recorded no path, so evaluate scored the default data as the run's test split (with only a warning
    # that 'the data changed') and resume=True refused the run's own images as changed
    from dataclasses import replace

    from wildgan.config import read_run_config
    from wildgan.data import build_split
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    cfg = _run_config(tmp_path)
    split = build_split(cfg.data)
    toy, blank = cfg.data.data, replace(cfg, data=replace(cfg.data, data=None))
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    assert _refused_as(blank, split, tmp_path / "sample") == \
        f"split= was built from {toy}, cfg.data.data=None names the default data (the embedded sample)"
    gone = tmp_path / "gone"
    monkeypatch.setenv("WILDGAN_DATA", str(gone))
    assert _refused_as(blank, split, tmp_path / "gone_run").startswith(
        f"split= was built from {toy}, cfg.data.data=None names the default data, which is not there ({gone}: ")
    # the split of the default data: recorded by its place, for evaluate and resume=True to read it again
    monkeypatch.setenv("WILDGAN_DATA", toy)
    train_run(blank, tmp_path / "run", split=split, progress=False, log=lambda m: None)
    assert read_run_config(tmp_path / "run").data.data == toy


def test_a_stopped_train_run_says_how_in_its_log(tmp_path, monkeypatch):
    from wildgan.errors import TrainingInterrupted, resume_advice
    from wildgan.training.run import train_run

    run = tmp_path / "run"
    stop = TrainingInterrupted("interrupted by SIGINT (Ctrl-C) at 0.032 of 0.064 kimg; checkpoint saved in X", 2,
                               checkpoint_dir="X", resume_advice=resume_advice(run))
    _trained_quickly(monkeypatch, stop)
    with pytest.raises(TrainingInterrupted):
        train_run(_run_config(tmp_path), run, progress=False, log=lambda m: None)
    lines = (run / "log.txt").read_text().splitlines()
    assert lines[-2:] == ["tick 1 kimg 0.032", f"stopped: {stop}"], lines
    assert lines[-1].endswith(f"continue with train_run(cfg, {str(run)!r}, resume=True) with the same cfg"), lines
    # a refused start (a run is there) writes nothing into the run it refused
    before = (run / "log.txt").read_text()
    (run / "stats.jsonl").write_text('{"kimg": 0.032}\n')
    with pytest.raises(ConfigError, match="already holds a run"):
        train_run(_run_config(tmp_path), run, progress=False, log=lambda m: None)
    assert (run / "log.txt").read_text() == before


@pytest.mark.parametrize("cli", [False, True])
def test_a_stop_as_training_ended_says_what_it_left_undone_in_the_caller_s_words(tmp_path, monkeypatch, cli):
    """A stop as the final networks were written said "what was to follow it (the training scores, --evaluate) was
    not run" to a Python caller of train_run too, which runs neither and has no --evaluate to pass."""
    import signal

    from wildgan import checkpoint
    from wildgan.errors import TrainingInterrupted
    from wildgan.training.run import train_run

    real = checkpoint.atomic_write_text

    def write(path, text, *a, **k):
        if Path(path).name == "network-final.json":       # the weights are written, the record not yet
            signal.raise_signal(signal.SIGINT)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    with _words(cli), pytest.raises(TrainingInterrupted) as e:
        train_run(_run_config(tmp_path, total_kimg=0.064), tmp_path / "run", progress=False, log=lambda m: None)
    assert e.value.complete, str(e.value)
    assert e.value.not_run == ("the training scores, --evaluate" if cli else "the caller's next steps"), str(e.value)
    assert str(e.value).endswith(f"what was to follow it ({e.value.not_run}) was not run"), str(e.value)
    assert cli or "--" not in str(e.value), str(e.value)


def test_before_start_is_called_once_the_start_passed_its_checks(tmp_path, monkeypatch):
    # the demo's "replacing the previous demo" came before train_run's own checks, and a refusal then followed it
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    run, said = tmp_path / "run", []
    monkeypatch.setenv("WILDGAN_DATA_ON_GPU", "bogus")
    with pytest.raises(ConfigError, match="WILDGAN_DATA_ON_GPU"):
        train_run(_run_config(tmp_path), run, progress=False, log=said.append,
                  before_start=lambda: said.append("before start"))
    assert said == [], said
    monkeypatch.delenv("WILDGAN_DATA_ON_GPU")
    train_run(_run_config(tmp_path), run, progress=False, log=said.append,
              before_start=lambda: said.append(f"before start, {sorted(p.name for p in run.iterdir())}"))
    # (the run folder holds only its lock then: nothing of the run is written yet)
    assert said[0] == "before start, ['.wildgan.lock']" and said[1].startswith("training wildgan"), said


def test_a_caller_that_keeps_the_log_gets_each_line_once(tmp_path, monkeypatch):
    # the CLI (a RunLog as `log`) and Detector.fit or a study's cell (a RunLog of that file collecting their
    # warnings, a function as `log`) write log.txt themselves: train_run must not write every line a second time
    from wildgan.runlog import RunLog, copying_warnings
    from wildgan.training.run import train_run

    _trained_quickly(monkeypatch)
    run = tmp_path / "run"
    train_run(_run_config(tmp_path), run, progress=False, log=RunLog(run / "log.txt", make_folder=True))
    lines = (run / "log.txt").read_text().splitlines()
    assert lines.count("tick 1 kimg 0.032") == 1 and not any(ln.startswith("trained ") for ln in lines), lines

    other = tmp_path / "other"
    kept = RunLog(other / "log.txt", make_folder=True)
    with copying_warnings(kept):
        train_run(_run_config(tmp_path), other, progress=False, log=kept.write)
    lines = (other / "log.txt").read_text().splitlines()
    assert lines.count("tick 1 kimg 0.032") == 1 and lines[0].startswith("training wildgan"), lines


def test_a_stopped_replay_run_advises_the_replay_s_own_call(tmp_path, monkeypatch):
    # replay_run's caller was told "continue with train_run(cfg, 'RUN', resume=True) with the same cfg", a cfg it
    # never had: the replay's own call continues it (replay_run(CONFIG, RUN, resume=True) resumes, as train_run does)
    from wildgan.config import write_run_config
    from wildgan.errors import TrainingInterrupted, resume_advice
    from wildgan.training.run import replay_run

    first = tmp_path / "first"
    first.mkdir()
    write_run_config(_run_config(tmp_path), first)
    run = tmp_path / "run"
    stop = TrainingInterrupted("interrupted by SIGINT (Ctrl-C) at 0.032 of 0.128 kimg; checkpoint saved in X", 2,
                               where="at 0.032 of 0.128 kimg", checkpoint_dir="X", resume_advice=resume_advice(run))
    _trained_quickly(monkeypatch, stop)
    config = first / "config.yaml"
    with pytest.raises(TrainingInterrupted) as e:
        replay_run(config, run, dataset="npz", progress=False, log=lambda m: None)
    again = f"continue with replay_run({str(config)!r}, {str(run)!r}, dataset='npz', resume=True)"
    assert str(e.value) == f"{stop.without_advice}; {again}", str(e.value)
    assert (e.value.resume_advice, e.value.without_advice, e.value.signum, e.value.where, e.value.checkpoint_dir) == \
        (again, stop.without_advice, 2, stop.where, "X")
    assert (run / "log.txt").read_text().splitlines()[-1] == f"stopped: {e.value}"
    # another error goes up as it was raised
    _trained_quickly(monkeypatch, OSError("disk full"))
    with pytest.raises(OSError, match="^disk full$"):
        replay_run(config, run, dataset="npz", overwrite=True, progress=False, log=lambda m: None)


@pytest.mark.parametrize("job", ["torchrun", "one process"])
def test_a_replay_stopped_by_sighup_keeps_torchrun_s_note_where_it_ran_under_torchrun(tmp_path, monkeypatch, job):
    # replay_run's own advice replaced the loops' and dropped their note for a torchrun job stopped by a closed
    # terminal (torchrun passes SIGHUP on under nohup too): the next replay_run under the same torchrun command stopped
    # again at the next hangup. One process under nohup outlives its terminal, so it is told no such thing.
    import signal

    import torch

    from wildgan.config import write_run_config
    from wildgan.errors import TrainingInterrupted, resume_advice
    from wildgan.training import distributed as dist
    from wildgan.training import run as run_mod

    first = tmp_path / "first"
    first.mkdir()
    write_run_config(_run_config(tmp_path), first)
    run = tmp_path / "run"
    torchrun = job == "torchrun"
    stop = TrainingInterrupted("interrupted by SIGHUP (terminal closed) at 0.032 of 0.128 kimg; checkpoint saved in X",
                               signal.SIGHUP, where="at 0.032 of 0.128 kimg", checkpoint_dir="X",
                               resume_advice=resume_advice(run, torchrun, signal.SIGHUP))

    def train_run(cfg, run_dir, *, log, **kw):
        log("tick 1 kimg 0.032")
        raise stop

    monkeypatch.setattr(run_mod, "train_run", train_run)
    if torchrun:
        # rank 0 of a job of 2, its context as init_distributed leaves it (no collective is made here)
        monkeypatch.setattr(dist, "_CTX", dist.DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"),
                                                           backend="gloo", job="job-a"))
    config = first / "config.yaml"
    with pytest.raises(TrainingInterrupted) as e:
        run_mod.replay_run(config, run, dataset="npz", progress=False, log=lambda m: None)
    again = f"replay_run({str(config)!r}, {str(run)!r}, dataset='npz', resume=True)"
    if torchrun:
        assert e.value.resume_advice == (
            f"continue with the same torchrun command, its script calling {again} (torchrun passes a closed "
            f"terminal's SIGHUP on to every rank, under nohup too: to outlive the terminal, run it in tmux or screen, "
            f"or give torchrun --signals-to-handle SIGTERM,SIGINT,SIGQUIT)"), e.value.resume_advice
    else:
        assert e.value.resume_advice == f"continue with {again}", e.value.resume_advice
    assert (run / "log.txt").read_text().splitlines()[-1] == f"stopped: {e.value}"


def test_training_s_lines_and_refusals_name_train_run_s_settings(tmp_path, monkeypatch):
    """What training says to a train_run caller named the command's options: a resume of a finished run
    '(--total-kimg 0.064)', a spent budget 'give a larger --minutes', a missing tensorboard '--tensorboard needs ...',
    CUDA graphs 'not supported with --distributed'. The RunConfig fields now, the options during a command."""
    import sys
    from dataclasses import replace

    import torch

    from wildgan.config import TrainConfig
    from wildgan.training.loop import resolve_fast_options
    from wildgan.training.run import train_run
    from wildgan.training.tblog import require_tensorboard

    cfg = _run_config(tmp_path, total_kimg=0.064)
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, warn_not_grown=False, log=lambda m: None)
    said: list[str] = []
    train_run(cfg, run, resume=True, progress=False, warn_not_grown=False, log=said.append)
    assert any("the run was already finished (train.total_kimg 0.064), nothing to train" in m for m in said), said
    spent = replace(cfg, train=replace(cfg.train, total_kimg=0.128, minutes=1e-6))
    said.clear()
    train_run(spent, run, resume=True, progress=False, warn_not_grown=False, log=said.append)
    assert any(m.endswith("nothing to train; give a larger train.minutes to continue") for m in said), said
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)       # (its import fails: not installed)
    for cli in (False, True):
        with _words(cli), pytest.raises(ConfigError) as e:
            require_tensorboard()
        assert str(e.value).startswith("--tensorboard needs" if cli else "train.tensorboard=True needs"), e.value
        assert ("--" in str(e.value)) == cli, e.value
    with pytest.raises(Exception, match=r"^cuda_graphs=true is not supported with torchrun \(collectives"):
        resolve_fast_options(TrainConfig(cuda_graphs=True), torch.device("cuda"), distributed=True)


def test_every_keyword_of_train_run_is_documented() -> None:
    """docs/python_api.md said nothing of train_run's before_start= and before_unlock= (nor split=): a caller who
    wraps train_run in steps of its own (as `wildgan demo` does) had only the source to learn when they run."""
    import inspect

    from wildgan.training.run import train_run

    doc = (REPO / "docs" / "python_api.md").read_text(encoding="utf-8")
    section = doc[doc.index("**Training from a RunConfig.**"):doc.index("**Training a saved run again.**")]
    keywords = [p.name for p in inspect.signature(train_run).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert {"before_start", "before_unlock", "split"} <= set(keywords), keywords
    missing = [k for k in keywords if f"{k}=" not in section and f"`{k}`" not in section]
    assert not missing, f"docs/python_api.md: train_run's {missing} not described under 'Training from a RunConfig'"


def test_without_fcntl_an_error_in_the_locked_training_is_its_own_not_chained_to_the_missing_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fcntl (Windows) run_lock holds nothing and the training runs as it is; an error of the training's own
    must not be reported as raised "during handling of" the ImportError (the training ran inside that except
    clause, so every traceback began with "No module named 'fcntl'")."""
    from wildgan.training.run import run_lock

    refused = refuse_fcntl_import(monkeypatch)
    with pytest.raises(ValueError) as caught:
        with run_lock(tmp_path):
            raise ValueError("the training's own error")
    assert refused, "run_lock never asked for fcntl: the test proves nothing"
    assert caught.value.__context__ is None
    assert not (tmp_path / ".wildgan.lock").exists()


@pytest.mark.parametrize("code", ["ENOLCK", "ENOSYS"])
def test_a_file_system_that_refuses_locks_is_said_so_not_as_a_run_in_use(
        code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flock refused by the file system (NFS without its lock service: ENOLCK; Lustre mounted with noflock: ENOSYS)
    was refused as "in use by another wildgan process (pid ? on ?)", to wait for: no process held it, and no wait
    ended it. Said as the file system's refusal, with what to do; the early check leaves the saying to run_lock."""
    import errno
    import os

    fcntl = pytest.importorskip("fcntl")
    from wildgan.training.run import check_lock_free, run_lock

    run = tmp_path / "run"
    run.mkdir()
    (run / ".wildgan.lock").write_text("")

    def refused(fd: int, op: int) -> None:
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(fcntl, "flock", refused)
    check_lock_free(run)
    with pytest.raises(ConfigError) as caught:
        with run_lock(run):
            pytest.fail("trained without the lock")
    said = str(caught.value)
    assert "in use" not in said and "cannot hold the run's lock" in said and os.strerror(getattr(errno, code)) in said
    assert "local disk" in said



def test_a_size_left_to_the_data_is_recorded_resolved_and_such_runs_resume_from_python_and_the_cli(tmp_path, capsys):
    """cfg.data.resolution / channels None (a RunConfig built in Python): config.json records the values the split
    resolved them to, as `wildgan train` records its automatic --resolution (it recorded None); `wildgan info` reads
    the run; train_run(cfg, RUN, resume=True) with the cfg that started it resumes; so does the CLI's --resume, which
    was refused "data.resolution: None -> 8" for nothing typed, and still is not for a run recorded with None before."""
    import json
    from dataclasses import replace

    from wildgan.cli import main
    from wildgan.config import read_run_config
    from wildgan.training.run import train_run

    cfg = _run_config(tmp_path, total_kimg=0.064)
    auto = replace(cfg, data=replace(cfg.data, resolution=None, channels=None))
    run = tmp_path / "run"
    train_run(auto, run, progress=False, log=lambda m: None)
    recorded = json.loads((run / "config.json").read_text())["data"]
    assert (recorded["resolution"], recorded["channels"]) == (8, 1)
    assert "resolution: 8" in (run / "config.yaml").read_text()
    assert main(["info", str(run)]) == 0 and "8x8x1" in capsys.readouterr().out
    # resumed from Python with the cfg that started it (None), then from the CLI with the run's own settings
    train_run(replace(auto, train=replace(auto.train, total_kimg=0.096)), run, resume=True, progress=False,
              log=lambda m: None)
    assert read_run_config(run).train.total_kimg == 0.096
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.128", "--no-progress"]) == 0, \
        capsys.readouterr().err
    # a run whose config.json recorded None (train_run before it recorded the value): read, and resumed by both
    for name in ("config.json", "config.yaml"):
        text = (run / name).read_text()
        if name == "config.json":
            d = json.loads(text)
            d["data"]["resolution"] = d["data"]["channels"] = None
            text = json.dumps(d)
        else:
            # (the data section's, which comes before the net section's own)
            text = text.replace("resolution: 8\n", "resolution: null\n", 1).replace("channels: 1\n", "channels: null\n",
                                                                                   1)
        (run / name).write_text(text)
    assert (read_run_config(run).data.resolution, read_run_config(run).data.channels) == (None, None)
    assert main(["info", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.16", "--no-progress"]) == 0, \
        capsys.readouterr().err
    train_run(replace(auto, train=replace(auto.train, total_kimg=0.192)), run, resume=True, progress=False,
              log=lambda m: None)
    assert read_run_config(run).data.resolution == 8


def test_an_f_anogan_run_left_to_the_data_resumes_with_the_cfg_that_started_it(tmp_path):
    """f-AnoGAN builds its networks for the split's size, not for cfg.net (NetConfig()'s 32x32x3 here, for 32x32 gray
    images): since train_run records the size resolved, the cfg that started the run (data left to the data) was
    refused on its resume, 'data.channels: 1 -> None'. Images of another size are still refused, by the split's
    record."""
    import numpy as np

    from wildgan.config import DataConfig, FAnoGANConfig, NetConfig, RunConfig, TrainConfig, read_run_config
    from wildgan.training.run import train_run

    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=(rng.random((48, 32, 32)) * 255).astype(np.uint8), y=np.repeat([0, 1], 24))
    cfg = RunConfig(method="fanogan", data=DataConfig(data=str(data), normal=("0",)), net=NetConfig(),
                    train=TrainConfig(device="cpu", threads=1, train_scores=False),
                    fanogan=FAnoGANConfig(gan_iters=2, enc_iters=2, device="cpu", dim=8))
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    assert (read_run_config(run).data.resolution, read_run_config(run).data.channels) == (32, 1)
    assert train_run(cfg, run, resume=True, progress=False, log=lambda m: None).status == "done"
    np.savez(data, x=(rng.random((48, 64, 64)) * 255).astype(np.uint8), y=np.repeat([0, 1], 24))
    with pytest.raises(ConfigError, match=r"resolution 32 -> 64"):
        train_run(cfg, run, resume=True, progress=False, log=lambda m: None)
