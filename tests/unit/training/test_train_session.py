"""What one training session of a tiny 8x8 run writes, and how often."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from wildgan import checkpoint as ckpt
from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import CheckpointError
from wildgan.training import loop
from wildgan.training.loop import train_pgan


def _cfg(**train: Any) -> RunConfig:
    tc = dict(total_kimg=0.256, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.128,
              log_every=4, device="cpu")
    tc.update(train)
    return RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(**tc))


def _x() -> np.ndarray:
    return (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)


def _count_saves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    real = ckpt.save_checkpoint

    def counted(folder: Path, name: str, *a: Any, **k: Any) -> Path:
        names.append(name)
        return real(folder, name, *a, **k)

    monkeypatch.setattr(ckpt, "save_checkpoint", counted)
    return names


def test_a_run_ending_on_a_checkpoint_writes_it_once(tmp_path, monkeypatch, one_thread) -> None:
    # total 0.256 kimg in rounds of 64 images, a checkpoint every 0.128: the last round ends on one
    names = _count_saves(monkeypatch)
    res = train_pgan(_x(), _cfg(), tmp_path, progress=False, log=lambda m: None)
    assert res.nimg == 256 and res.status == "done"
    assert names == [ckpt.checkpoint_name(128), ckpt.checkpoint_name(256), "network-final"], names
    assert (tmp_path / "samples" / "fakes-000000.256kimg.png").is_file()


def test_a_run_ending_between_checkpoints_still_saves_its_end(tmp_path, monkeypatch, one_thread) -> None:
    names = _count_saves(monkeypatch)
    res = train_pgan(_x(), _cfg(checkpoint_kimg=0.192), tmp_path, progress=False, log=lambda m: None)
    assert names == [ckpt.checkpoint_name(192), ckpt.checkpoint_name(256), "network-final"], names
    # a resume that trains nothing (a finished run) does not write the checkpoint it restored again, a full training
    # state; only its networks' file
    names.clear()
    train_pgan(_x(), _cfg(checkpoint_kimg=0.192), tmp_path, resume=True, progress=False, log=lambda m: None)
    assert names == ["network-final"], names
    # with other settings it does, with this session's
    names.clear()
    train_pgan(_x(), _cfg(checkpoint_kimg=0.192, keep_checkpoints=1), tmp_path, resume=True, progress=False,
               log=lambda m: None)
    assert names == [ckpt.checkpoint_name(256), "network-final"], names
    assert ckpt.read_meta(tmp_path / "checkpoints" / f"{ckpt.checkpoint_name(256)}.json")["config"]["train"][
        "keep_checkpoints"] == 1
    assert res.final is not None and loop.ckpt.read_meta(res.final)["nimg"] == 256


def test_keep_checkpoints_keeps_the_newest_and_as_many_older_ones(tmp_path, one_thread) -> None:
    # keep_checkpoints K: the newest checkpoint and K older ones (--keep-checkpoints: "older checkpoints kept beside
    # the newest"), as the f-AnoGAN loop keeps them
    # (test_fanogan's "the newest and one older"); the pGAN loop pruning to K alone (one fewer) passed every test
    train_pgan(_x(), _cfg(checkpoint_kimg=0.064, keep_checkpoints=1), tmp_path, progress=False, log=lambda m: None)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "checkpoints")] == [
        f"{ckpt.checkpoint_name(n)}.json" for n in (192, 256)]


def test_a_run_killed_between_its_last_checkpoint_and_sample_grid_draws_the_grid_on_resume(tmp_path, monkeypatch,
                                                                                          one_thread) -> None:
    # a kill after the last round's checkpoint was written, while its sample grid was: the resume restores that
    # checkpoint and trains nothing, so it need not write the checkpoint again, but the run's last grid (the report's
    # "after N kimg" picture) must still be drawn, not left at the one before
    from PIL import Image

    real_save, grids = Image.Image.save, []

    def killed_while_drawing(self: Any, fp: Any, *a: Any, **k: Any) -> None:
        grids.append(fp)
        if len(grids) < 2:                          # the grids of the checkpoints at 0.128 and 0.256 kimg
            return real_save(self, fp, *a, **k)
        if isinstance(fp, (str, Path)):
            with open(fp, "wb") as f:
                f.write(b"\x89PNG")
        else:
            fp.write(b"\x89PNG")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", killed_while_drawing)
    with pytest.raises(KeyboardInterrupt):
        train_pgan(_x(), _cfg(), tmp_path, progress=False, log=lambda m: None)
    monkeypatch.setattr(Image.Image, "save", real_save)
    last = tmp_path / "samples" / "fakes-000000.256kimg.png"
    assert not last.exists() and not (tmp_path / "network-final.json").exists()
    assert (tmp_path / "checkpoints" / f"{ckpt.checkpoint_name(256)}.json").is_file()
    names = _count_saves(monkeypatch)
    train_pgan(_x(), _cfg(), tmp_path, resume=True, progress=False, log=lambda m: None)
    assert names == ["network-final"], names
    with Image.open(last) as grid:
        assert grid.size == (8 * 8, 8 * 8)  # 64 samples of 8x8


def test_a_signal_that_came_as_training_ended_stops_what_would_follow(tmp_path, monkeypatch, one_thread) -> None:
    # a Ctrl-C after the loop's last look at the flag: the training is complete and saved, but the caller (the CLI's
    # training scores, --evaluate) must not go on as if nobody had asked to stop
    import contextlib
    import signal

    from wildgan.errors import TrainingInterrupted

    @contextlib.contextmanager
    def signal_at_the_end(flag):
        yield
        flag.signum = signal.SIGINT

    monkeypatch.setattr(loop, "stop_on_signals", signal_at_the_end)
    with pytest.raises(TrainingInterrupted, match=r"as training ended at 0\.256 kimg; the training is complete and "
                                                  r"its networks are saved") as e:
        train_pgan(_x(), _cfg(), tmp_path, progress=False, log=lambda m: None)
    assert e.value.signum == signal.SIGINT
    assert ckpt.read_meta(tmp_path / "network-final.json")["nimg"] == 256


def test_an_interrupt_says_the_total_to_the_image(tmp_path, monkeypatch, one_thread) -> None:
    # a total given with many digits (0.74/3 kimg) was said with `:g`'s six: "at 0.064 of 0.246667 kimg"
    import contextlib
    import signal

    from wildgan.errors import TrainingInterrupted

    @contextlib.contextmanager
    def signal_at_once(flag):
        flag.signum = signal.SIGINT
        yield

    monkeypatch.setattr(loop, "stop_on_signals", signal_at_once)
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    # (the advice in the words of a command of the CLI, where `wildgan train` runs the loop)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(TrainingInterrupted) as e:
        train_pgan(_x(), _cfg(total_kimg=0.74 / 3), tmp_path, progress=False, log=lambda m: None)
    assert "at 0.064 of 0.247 kimg; checkpoint saved in" in str(e.value), str(e.value)
    assert e.value.where == "at 0.064 of 0.247 kimg"
    # the way on is a command to paste, the run's folder quoted (it said "continue with --resume": which command,
    # and which run, were the user's to work out)
    import shlex

    from wildgan.cli import make_parser
    from wildgan.errors import shell_word

    assert str(e.value).endswith(f"; continue with `wildgan train --out {shell_word(tmp_path)} --resume`")
    pasted = shlex.split(str(e.value).rsplit("`", 2)[1])
    assert pasted[:2] == ["wildgan", "train"]
    args = make_parser().parse_args(pasted[1:])
    assert args.out == str(tmp_path) and args.resume


def test_the_time_a_killed_session_trained_after_its_last_checkpoint_is_not_counted(tmp_path, monkeypatch,
                                                                                    one_thread) -> None:
    # --minutes is a budget of the training the run keeps (cli's --minutes help, docs/cli.md): a session killed after
    # its checkpoint at 0.128 kimg (its checkpoint at 0.256 and network-final never written) spent >= 0.5 s on what a
    # resume trains again, and the resumed run's clock goes on from the checkpoint's, without that time
    import time

    real, calls = loop.critic_loss, {"n": 0}

    def slow_after_the_checkpoint(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 10:                       # iteration 10: 0.16 kimg, after the checkpoint at 0.128
            time.sleep(0.5)
        return real(*a, **k)

    monkeypatch.setattr(loop, "critic_loss", slow_after_the_checkpoint)
    train_pgan(_x(), _cfg(), tmp_path, progress=False, log=lambda m: None)
    monkeypatch.setattr(loop, "critic_loss", real)
    for p in [*tmp_path.glob("network-final.*"), *(tmp_path / "checkpoints").glob(f"{ckpt.checkpoint_name(256)}.*")]:
        p.unlink()
    kept = ckpt.read_meta(tmp_path / "checkpoints" / f"{ckpt.checkpoint_name(128)}.json")["elapsed_s"]
    t0 = time.time()
    train_pgan(_x(), _cfg(), tmp_path, resume=True, progress=False, log=lambda m: None)
    session = time.time() - t0
    assert kept <= ckpt.read_meta(tmp_path / "network-final.json")["elapsed_s"] <= kept + session


def test_a_resume_from_a_checkpoint_of_another_kind_is_refused(tmp_path, one_thread) -> None:
    # an f-AnoGAN checkpoint in the folder loaded, and failed only as "weights of G do not match the architecture"
    ckpt.save_checkpoint(tmp_path / "checkpoints", ckpt.checkpoint_name(128), {"w": torch.zeros(1)},
                         {"kind": ckpt.FANOGAN_KIND, "nimg": 128})
    with pytest.raises(CheckpointError, match=rf"{ckpt.checkpoint_name(128)}\.json: a checkpoint of the wrong kind "
                                              r"\(kind 'fanogan'.*expected 'wildgan-train-state'"):
        train_pgan(_x(), _cfg(), tmp_path, resume=True, progress=False, log=lambda m: None)
    assert not (tmp_path / "network-final.json").exists()


def test_a_resume_from_a_checkpoint_of_other_networks_names_the_checkpoint(tmp_path, one_thread) -> None:
    # a checkpoint whose sidecar and checksum are sound but whose weights are of other networks (copied in from a run
    # of another width, say): the refusal named only the folder, "RUN/checkpoints: weights of G do not match ...",
    # which did not say which of its checkpoints to take out
    train_pgan(_x(), _cfg(total_kimg=0.128, checkpoint_kimg=0.064), tmp_path, progress=False, log=lambda m: None)
    tensors, meta = ckpt.load_checkpoint(ckpt.list_checkpoints(tmp_path / "checkpoints")[-1])
    tensors["G.dense_bias"] = torch.zeros(3)
    ckpt.save_checkpoint(tmp_path / "checkpoints", ckpt.checkpoint_name(192), tensors, {**meta, "nimg": 192})
    with pytest.raises(CheckpointError) as e:
        train_pgan(_x(), _cfg(), tmp_path, resume=True, progress=False, log=lambda m: None)
    said = str(e.value)
    assert said.startswith(f"{tmp_path / 'checkpoints' / ckpt.checkpoint_name(192)}.json: "), said
    assert "weights of G do not match the run's architecture: size mismatch for dense_bias" in said, said


def _tiny_run_config() -> RunConfig:
    return RunConfig(data=DataConfig(data="unused.npz", normal=("0",), resolution=8, channels=1),
                     net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=0.1, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                       device="cpu"), preset="tiny")


def _not_grown_said(train: Callable[[], object]) -> list[str]:
    """The half-grown warnings (WildganWarning, "finished growing") that `train` gave, each once."""
    import warnings

    from wildgan.errors import WildganWarning

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        train()
    return [str(w.message) for w in got if issubclass(w.category, WildganWarning)
            and "finished growing" in str(w.message)]


def _short_text(caller: str) -> str:
    """The half-grown warning of _tiny_run_config at 8x8 with total_kimg=0.1 and phase_kimg=0.5, said by `caller`."""
    return ("training ended at 0.128 kimg (lod 1; train.total_kimg=0.1 ended it), before the networks finished growing "
            "to 8x8: with train.phase_kimg=0.5 they are grown at 1.088 kimg (the end of the first round of minibatches "
            "at full resolution), and the paper's schedule (train.total_kimg=None) trains 1.334 kimg. The run is "
            f"scored at the resolution it reached; continue it with {caller}(..., resume=True) and "
            "train.total_kimg=1.334")


def test_train_run_warns_of_networks_not_grown_to_full_resolution(tmp_path, one_thread) -> None:
    """`wildgan train` and Detector.fit said that a total_kimg (or a minutes budget) ended the run before its networks
    grew to full resolution, each in its own words; train_run, called from Python, said nothing, and its caller scored
    half-grown networks without knowing. It warns now, in the RunConfig's terms, unless the caller says it itself
    (warn_not_grown=False: the CLI, Detector.fit and a study's cells, so that each says it once)."""
    from dataclasses import replace

    from wildgan.training.run import train_run

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", x=rng.integers(0, 256, (80, 8, 8), dtype=np.uint8), y=np.repeat([0, 1], 40))
    base = replace(_tiny_run_config(), data=DataConfig(data=str(tmp_path / "toy.npz"), normal=("0",), resolution=8,
                                                       channels=1))

    def said(cfg: RunConfig, name: str, **kw: Any) -> list[str]:
        return _not_grown_said(lambda: train_run(cfg, tmp_path / name, progress=False, log=lambda m: None, **kw))

    # 8x8 = 1 stable + 1 fade phase of 0.5 kimg: grown at 1.088 kimg (as the CLI's test of its own words says)
    short = replace(base, train=replace(base.train, total_kimg=0.1, phase_kimg=0.5))
    assert said(short, "short") == [_short_text("train_run")]
    assert said(short, "quiet", warn_not_grown=False) == []
    # a budget that runs out first: said with the budget as the reason
    budget = replace(base, train=replace(base.train, total_kimg=None, phase_kimg=0.5, minutes=1e-5))
    (msg,) = said(budget, "budget")
    assert "(lod 1; the train.minutes=1e-05 budget ran out)" in msg, msg
    # its total (None: the paper's 1.334 kimg) grows them: more minutes are what it needs, as the CLI says (advising
    # the total it already has read as if its total were the problem)
    assert msg.endswith("continue it with train_run(..., resume=True) and train.minutes=None or a larger budget (its "
                        "train.total_kimg=1.334 grows them)"), msg
    # grown (phases of 0.03 kimg: 8x8 from 0.06 on): nothing to say
    assert said(replace(base, train=replace(base.train, total_kimg=0.1, phase_kimg=0.03)), "grown") == []


def test_not_grown_text_advises_a_total_only_where_the_run_s_own_falls_short() -> None:
    """A budget stop of a run whose own total_kimg grows the networks needs more minutes only (its advice named the
    total it had, as the CLI's did before it was told apart); one whose total falls short too needs both; a total
    that ended it, the total."""
    from dataclasses import replace

    from wildgan.training.schedule import not_grown_text

    t = replace(_tiny_run_config().train, phase_kimg=0.5, minutes=1.0)
    ends = [not_grown_text(replace(t, total_kimg=total), 8, 128, 1.0, budget, "train_run").split("resume=True) and ")
            [1] for total, budget in ((1.334, True), (2.0, True), (0.9, True), (0.9, False))]
    assert ends == ["train.minutes=None or a larger budget (its train.total_kimg=1.334 grows them)",
                    "train.minutes=None or a larger budget (its train.total_kimg=2 grows them)",
                    "train.total_kimg=1.334 and train.minutes=None or a larger budget",
                    "train.total_kimg=1.334"]


def test_train_pgan_called_directly_warns_of_networks_not_grown_to_full_resolution(tmp_path, one_thread) -> None:
    """train_pgan, a public function of its own (docs/python_api.md), said nothing of a run ended half-grown; only
    train_run did. It warns now, in its own name, once; train_run, which calls it, still warns once (the test above),
    and warn_not_grown=False or a grown run says nothing."""
    from dataclasses import replace


    base = _tiny_run_config()

    def said(cfg: RunConfig, name: str, **kw: Any) -> list[str]:
        return _not_grown_said(lambda: train_pgan(_x(), cfg, tmp_path / name, progress=False, log=lambda m: None,
                                                  **kw))

    short = replace(base, train=replace(base.train, total_kimg=0.1, phase_kimg=0.5))
    assert said(short, "short") == [_short_text("train_pgan")]
    assert said(short, "quiet", warn_not_grown=False) == []
    assert said(replace(base, train=replace(base.train, total_kimg=0.1, phase_kimg=0.03)), "grown") == []


def test_a_run_that_arrived_after_the_early_check_is_refused_under_the_lock(tmp_path, monkeypatch) -> None:
    """check_run_dir looks before the lock is taken; another start may train into the folder in between. train_run
    asks again under the lock, so the new start is refused there and the run it found is left as it was."""
    from wildgan.errors import ConfigError
    from wildgan.training import run as run_mod

    run = tmp_path / "run"
    monkeypatch.setattr(run_mod, "check_run_dir", lambda *a, **k: None)        # the folder was empty when checked
    monkeypatch.setattr(run_mod, "_train_run", lambda *a, **k: pytest.fail("trained over the other run"))
    run.mkdir()
    (run / "stats.jsonl").write_text('{"kimg": 0.1}\n')                          # ... and holds a run that trained now
    with pytest.raises(ConfigError, match="already holds a run"):
        run_mod.train_run(_tiny_run_config(), run, progress=False, log=lambda m: None)
    assert sorted(p.name for p in run.iterdir()) == ["stats.jsonl"]


def test_a_failing_before_unlock_does_not_hide_the_trainings_own_error(tmp_path, monkeypatch) -> None:
    """train_run called before_unlock in a `finally`: when it raised too (an unwritable folder), its error replaced
    the training's, which is the one a user needs. The training's error is raised now, the other one logged."""
    from wildgan.training import run as run_mod

    def broke(*a, **k):
        raise RuntimeError("the training's own error")

    def unlock_fails():
        raise OSError("cannot write the marker")

    monkeypatch.setattr(run_mod, "_train_run", broke)
    said: list[str] = []
    with pytest.raises(RuntimeError, match="the training's own error"):
        run_mod.train_run(_tiny_run_config(), tmp_path / "run", progress=False, log=said.append,
                          before_unlock=unlock_fails)
    assert any("cannot write the marker" in m for m in said)


def test_a_resume_on_other_pixels_under_the_same_ids_is_refused_unless_the_decoding_changed(tmp_path, monkeypatch,
                                                                                           unnested) -> None:
    """split.json records the pixels' checksum: an .npz whose images were reordered keeps its ids (positions), and a
    resume trained on it as on the run's own images. Refused, unless the decoding changed since (another Pillow,
    libjpeg or reader version can change pixels by a level alone): then said, and the resume goes on."""
    import json
    from dataclasses import replace

    from wildgan.errors import ConfigError
    from wildgan.training import run as run_mod

    data = tmp_path / "toy.npz"
    x, y = (np.random.default_rng(0).random((48, 8, 8)) * 255).astype(np.uint8), np.repeat([0, 1], 24)
    np.savez(data, x=x, y=y)
    cfg = replace(_tiny_run_config(), data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1))
    # the checks only: no networks trained
    monkeypatch.setattr(run_mod, "_train_method", lambda cfg, split, run_dir, **k: loop.TrainResult(
        run_dir=run_dir, nimg=0, final=None, status="done"))
    run = tmp_path / "run"
    run_mod.train_run(cfg, run, progress=False, log=lambda m: None)
    (run / "stats.jsonl").write_text('{"kimg": 0.1}\n')                  # (a run that trained, to --resume)
    said: list[str] = []
    run_mod.train_run(cfg, run, resume=True, progress=False, log=said.append)
    assert not [m for m in said if "warning" in m], said                # the same images: nothing said
    np.savez(data, x=np.concatenate([x[:24][::-1], x[24:]]), y=y)       # the normal images reordered
    before = (run / "split.json").read_bytes()
    with pytest.raises(ConfigError, match=r"the training images changed since this run started \(the training "
                                          r"images' pixels, under the same image ids; decoded by the same image "
                                          r"reader and decoders as recorded, so the files themselves changed") as e:
        run_mod.train_run(cfg, run, resume=True, progress=False, log=lambda m: None)
    unnested(e.value)
    assert (run / "split.json").read_bytes() == before                  # nothing written
    # recorded by other decoders: the same files could give these pixels, so the resume goes on, and says so
    rec = json.loads(before)
    (run / "split.json").write_text(json.dumps(dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)")))
    said.clear()
    run_mod.train_run(cfg, run, resume=True, progress=False, log=said.append)
    (warned,) = [m for m in said if m.startswith("warning: the training images' pixels differ")]
    assert warned.startswith("warning: the training images' pixels differ from this run's split.json under the same "
                             "image ids, and the decoding changed since it was recorded (the decoders Pillow 9.0.0 "
                             "with libjpeg 8.0 -> Pillow ") and "start again with overwrite=True" in warned, said
    unnested(warned)
    assert json.loads((run / "split.json").read_text())["train_pixels_sha256"] != rec["train_pixels_sha256"]
    # a split.json from before the pixels were recorded: not compared, nothing said
    np.savez(data, x=x, y=y)
    (run / "split.json").write_text(json.dumps({k: v for k, v in rec.items() if "pixels" not in k}))
    said.clear()
    run_mod.train_run(cfg, run, resume=True, progress=False, log=said.append)
    assert not [m for m in said if "warning" in m], said


def test_the_full_progress_bar_shows_no_time_left(tmp_path, monkeypatch, capsys, one_thread) -> None:
    # the eta is set at each stats row only: with a row every 3 iterations the last one (iteration 15 of 16) said
    # time was left, and the full bar kept it ("100% ... eta=00:03")
    given: list[str] = []
    monkeypatch.setattr(loop, "_eta", lambda *a, **k: given.append("00:03") or "00:03")
    res = train_pgan(_x(), _cfg(log_every=3), tmp_path, progress=True, log=lambda m: None)
    assert res.nimg == 256 and len(given) == 5             # (rows at iterations 3, 6, ..., 15 of 16)
    lines = [ln for ln in capsys.readouterr().err.replace("\r", "\n").splitlines() if ln.startswith("train")]
    assert "100%" in lines[-1] and "eta=00:00" in lines[-1], lines[-3:]


def test_the_eta_probe_leaves_the_run_s_weights_as_without_it(tmp_path, monkeypatch, capsys, one_thread) -> None:
    """The ETA's start-up probe (progress on, CPU) trains copies of the networks before the session's first step: a
    run with it and one without it must write the same bytes, a fresh session and a resumed one alike (whose Adam
    moments, sampler position and generator come from the checkpoint, none of which the probe may touch)."""
    import hashlib

    real = loop._probe_iterations
    probed: list[dict[int, float]] = []
    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 0.0)      # (sessions of seconds, which skip it otherwise)

    def spied(*a: Any, **k: Any) -> dict[int, float]:
        probed.append(real(*a, **k))
        return probed[-1]

    def weights(run: Path) -> dict[str, str]:
        return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(run.rglob("*.safetensors"))}

    # (resumed at 0.064 kimg, inside 4x4's stable phase: the restored Adam moments train on, not reset by a phase)
    for total, resume in ((0.064, False), (0.256, True)):
        for name, probe in (("with", spied), ("without", lambda *a, **k: {})):
            monkeypatch.setattr(loop, "_probe_iterations", probe)
            train_pgan(_x(), _cfg(total_kimg=total), tmp_path / name, resume=resume, progress=True,
                       log=lambda m: None, warn_not_grown=False)
        assert probed and probed[-1], probed                # (the probe ran, at the session's resolutions)
        got = weights(tmp_path / "with")
        assert got and got == weights(tmp_path / "without"), (total, got)
    capsys.readouterr()


def test_the_eta_probe_s_line_says_what_its_times_are_for(tmp_path, monkeypatch, capsys, one_thread) -> None:
    """The probe's times reach the terminal on `wildgan demo`'s first screen: "an iteration of the start-up probe
    took 9.32 / 18.2 ms at 4x4 / 8x8" alone left a newcomer to guess what was probed and whether it passed. The line
    now ends saying that the times were taken on copies of the networks, to forecast the bar's eta (its start is
    kept: benchmarks/eta_audit.py reads the times back from a run's log.txt)."""
    said: list[str] = []
    monkeypatch.setattr(loop, "_probe_iterations", lambda *a, **k: {4: 0.00932, 8: 0.0182})
    res = train_pgan(_x(), _cfg(total_kimg=0.064), tmp_path / "a", progress=True, log=said.append,
                     warn_not_grown=False)
    assert res.status == "done"
    lines = [s for s in said if "start-up probe" in s]
    assert lines == ["eta: an iteration of the start-up probe took 9.32 / 18.2 ms at 4x4 / 8x8 (timed on copies of "
                     "the networks before training, to forecast the progress bar's eta)"], said
    capsys.readouterr()


def test_a_failing_eta_probe_neither_stops_the_run_nor_leaves_its_logs_open(tmp_path, monkeypatch, capsys,
                                                                             one_thread) -> None:
    """The start-up probe runs before the loop whose `finally` closes stats.jsonl (and TensorBoard's writer): an
    error in it stopped the run before its first step, for an estimate; a KeyboardInterrupt out of it (a second
    Ctrl-C, which aborts at once) left both files open in a Python caller's process. (A first Ctrl-C in it stops the
    run as one in the loop does: test_a_ctrl_c_in_the_eta_probe_stops_as_one_in_the_loop.)"""
    said: list[str] = []

    def broken(*a: Any, **k: Any) -> dict[int, float]:
        raise RuntimeError("out of memory at 8x8 (simulated)")

    monkeypatch.setattr(loop, "_probe_iterations", broken)
    res = train_pgan(_x(), _cfg(total_kimg=0.064), tmp_path / "a", progress=True, log=said.append,
                     warn_not_grown=False)
    assert res.nimg == 64 and res.status == "done"
    assert "eta: the start-up probe failed (RuntimeError: out of memory at 8x8 (simulated)); the resolutions ahead " \
           "are priced by their FLOPs until two have run" in said, said

    closed: list[bool] = []
    real_close = loop._StatsLog.close

    def close(self: Any) -> None:
        closed.append(True)
        real_close(self)

    def aborted(*a: Any, **k: Any) -> dict[int, float]:
        raise KeyboardInterrupt

    monkeypatch.setattr(loop._StatsLog, "close", close)
    monkeypatch.setattr(loop, "_probe_iterations", aborted)
    with pytest.raises(KeyboardInterrupt):
        train_pgan(_x(), _cfg(total_kimg=0.064), tmp_path / "b", progress=True, log=lambda m: None,
                   warn_not_grown=False)
    assert closed == [True]
    capsys.readouterr()


def test_a_ctrl_c_in_the_eta_probe_stops_as_one_in_the_loop(tmp_path, monkeypatch, capsys, one_thread) -> None:
    """A Ctrl-C during the start-up probe (up to ETA_PROBE_MAX_SECONDS before the first step) came out as a bare
    KeyboardInterrupt: no word of where training stood or how to continue. Now it stops the probe at its next
    iteration and the run as a Ctrl-C in its first round does: that round ends on a checkpoint, the logs are closed,
    and the TrainingInterrupted says where, with the resume advice; the resume then trains on to the end."""
    import signal

    from wildgan.errors import TrainingInterrupted

    monkeypatch.setattr(loop, "ETA_PROBE_SKIP_SECONDS", 0.0)      # (probed: a session of seconds skips it otherwise)
    real_probe, real_iteration = loop._probe_iterations, loop.StepRunner.iteration
    probed: list[int] = []

    def ctrl_c_at_first(self: Any, phase: Any, *a: Any, **k: Any) -> Any:
        probed.append(phase.resolution)
        if len(probed) == 1:
            signal.raise_signal(signal.SIGINT)        # (its handler runs as this returns: mid-iteration, as a user's)
        return real_iteration(self, phase, *a, **k)

    def probe(*a: Any, **k: Any) -> dict[int, float]:
        with monkeypatch.context() as m:
            m.setattr(loop.StepRunner, "iteration", ctrl_c_at_first)
            got = real_probe(*a, **k)
        assert got == {}                              # (nothing kept from a stopped probe)
        return got

    closed: list[bool] = []
    real_close = loop._StatsLog.close

    def close(self: Any) -> None:
        closed.append(True)
        real_close(self)

    monkeypatch.setattr(loop._StatsLog, "close", close)
    monkeypatch.setattr(loop, "_probe_iterations", probe)
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as e:
        try:
            train_pgan(_x(), _cfg(), run, progress=True, log=lambda m: None, warn_not_grown=False)
        except KeyboardInterrupt:
            # (failed here: pytest takes a KeyboardInterrupt out of a test for the user's, and ends the session)
            pytest.fail("the Ctrl-C in the probe came out of train_pgan as a bare KeyboardInterrupt")
    assert probed == [4], probed                      # (the probe stopped at its next iteration)
    assert e.value.signum == signal.SIGINT and not e.value.complete
    assert e.value.where == "at 0.064 of 0.256 kimg", e.value.where
    assert e.value.resume_advice and "resume=True" in e.value.resume_advice, str(e.value)
    assert (run / "checkpoints" / f"{ckpt.checkpoint_name(64)}.json").is_file()
    assert closed == [True]
    monkeypatch.setattr(loop, "_probe_iterations", real_probe)
    res = train_pgan(_x(), _cfg(), run, resume=True, progress=False, log=lambda m: None, warn_not_grown=False)
    assert res.nimg == 256 and res.status == "done"
    capsys.readouterr()
