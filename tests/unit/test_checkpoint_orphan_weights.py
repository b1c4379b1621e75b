"""Orphan checkpoint weights: a checkpoint write cut between its two files (a kill or a second Ctrl-C after
ckpt-N.safetensors, before ckpt-N.json) leaves weights that nothing can load, hundreds of MB each. Pruning removes
them at the next checkpoint, `--keep-checkpoints all` (keep_checkpoints None) included, in both training loops, and a
resume removes them at once; every complete checkpoint, the final networks and a set-aside corrupt checkpoint are
kept. A user's disk must not fill with such leftovers, and nothing they can still load may go."""

from __future__ import annotations

from pathlib import Path

import pytest


def _complete_and_orphans(folder: Path) -> tuple[list[str], list[str]]:
    """The checkpoints of `folder` whose two files are there (their names), and the weights without their JSON."""
    names = sorted(p.name[: -len(".json")] for p in folder.glob("ckpt-*.json"))
    complete = [n for n in names if (folder / f"{n}.safetensors").is_file()]
    orphans = sorted(p.name for p in folder.glob("ckpt-*.safetensors") if not p.with_suffix(".json").exists())
    return complete, orphans


def _an_orphan_before_the_first_checkpoint(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """ckpt.save_checkpoint that, before the loop's first checkpoint, leaves in its folder the weights of an earlier
    write cut before its JSON (ckpt-...1, a name this run never writes): the orphans planted."""
    from wildgan import checkpoint as ckpt

    real, planted = ckpt.save_checkpoint, []

    def save(folder: Path, name: str, *a: object, **k: object) -> Path:
        if name.startswith("ckpt-") and not planted:
            orphan = Path(folder) / f"{ckpt.checkpoint_name(1)}.safetensors"
            Path(folder).mkdir(parents=True, exist_ok=True)
            orphan.write_bytes(b"cut")
            planted.append(orphan)
        return real(folder, name, *a, **k)      # type: ignore[arg-type]

    monkeypatch.setattr(ckpt, "save_checkpoint", save)
    return planted


def _plant_orphan_at_first_checkpoint(monkeypatch, folder_of: list[Path]) -> list[str]:
    """checkpoint.atomic_write_text made to leave, once the first checkpoint's two files are written (before its
    pruning), the weights of a cut write beside them: ckpt-000000000001.safetensors (a copy of that checkpoint's
    weights, at a step no checkpoint of these runs is written at, so that no later write replaces it). Returns the
    names of the checkpoint JSONs written; folder_of gets the checkpoints' folder."""
    import shutil

    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    written: list[str] = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        real(path, text, *a, **k)
        p = Path(str(path))
        if p.name.startswith("ckpt-") and p.name.endswith(".json"):
            if not written:
                shutil.copyfile(p.with_suffix(".safetensors"), p.with_name("ckpt-000000000001.safetensors"))
                folder_of.append(p.parent)
            written.append(p.name)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    return written


def _pairs(folder: Path) -> tuple[list[str], list[str]]:
    # (the checkpoints' JSONs and weights in folder, by their stems)
    return sorted(p.stem for p in folder.glob("ckpt-*.json")), sorted(p.stem for p in folder.glob("ckpt-*.safetensors"))


# prune_checkpoints itself

def test_pruning_removes_the_weights_of_a_checkpoint_whose_json_was_never_written(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    """A checkpoint write cut between its two files (here a second Ctrl-C between the weights' rename and the
    JSON's, both written) leaves ckpt-N.safetensors alone, which pruning by the JSONs alone would never remove. The
    next checkpoint's pruning removes it; the good checkpoints and their weights are kept."""
    import os

    import torch

    from wildgan import checkpoint as ckpt

    real = os.replace

    def cut(src: object, dst: object) -> None:
        if Path(str(dst)).name == f"{ckpt.checkpoint_name(2)}.json":
            raise KeyboardInterrupt
        real(src, dst)

    ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(1), {"w": torch.zeros(1)}, {})
    monkeypatch.setattr(os, "replace", cut)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(2), {"w": torch.zeros(1)}, {})
    monkeypatch.setattr(os, "replace", real)
    orphan = tmp_path / f"{ckpt.checkpoint_name(2)}.safetensors"
    assert orphan.is_file()             # (the cut write's weights, without their JSON)
    path = ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(3), {"w": torch.zeros(1)}, {})
    ckpt.prune_checkpoints(tmp_path, 5, protect=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{ckpt.checkpoint_name(n)}.{ext}" for n in (1, 3) for ext in ("json", "safetensors"))


def test_pruning_with_every_checkpoint_kept_removes_only_orphan_weights(tmp_path: Path) -> None:
    """keep None (--keep-checkpoints all) prunes no complete checkpoint, the oldest included, but removes the weights
    of a write cut before its JSON, as a numbered keep does."""
    import torch

    from wildgan import checkpoint as ckpt

    for n in (1, 2, 3, 4):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(1)}, {})
    (tmp_path / f"{ckpt.checkpoint_name(5)}.safetensors").write_bytes(b"cut")
    ckpt.prune_checkpoints(tmp_path, None, protect=tmp_path / f"{ckpt.checkpoint_name(4)}.json")
    assert _complete_and_orphans(tmp_path) == ([ckpt.checkpoint_name(n) for n in (1, 2, 3, 4)], [])


def test_keeping_every_checkpoint_removes_orphans_alone_and_sets_a_corrupt_ones_weights_aside(tmp_path: Path) -> None:
    """prune_checkpoints with keep None (every checkpoint kept) removes the orphan weights and nothing else: not a
    complete checkpoint, not the final networks, not a set-aside one. An orphan beside its own set-aside JSON
    (ckpt-N.corrupt.json: set_aside cut between its two renames) is set aside with it, not deleted as an orphan: a
    bad checkpoint is kept for a look, as latest_good_checkpoint promises."""
    import torch

    from wildgan import checkpoint as ckpt

    for n in (1, 2, 3):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(1)}, {})
    ckpt.save_checkpoint(tmp_path, "network-final", {"w": torch.zeros(1)}, {})
    (tmp_path / f"{ckpt.checkpoint_name(2)}.json").unlink()          # 2: a cut write's weights alone
    (tmp_path / f"{ckpt.checkpoint_name(3)}.json").rename(tmp_path / f"{ckpt.checkpoint_name(3)}.corrupt.json")
    before = sorted(p.name for p in tmp_path.iterdir())
    ckpt.prune_checkpoints(tmp_path, None, protect=tmp_path / f"{ckpt.checkpoint_name(1)}.json")
    one, three = ckpt.checkpoint_name(1), ckpt.checkpoint_name(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{one}.json", f"{one}.safetensors", f"{three}.corrupt.json", f"{three}.corrupt.safetensors",
         "network-final.json", "network-final.safetensors"]), before


def test_an_orphan_beside_a_whole_set_aside_checkpoint_is_removed_not_moved_over_it(tmp_path: Path) -> None:
    """A checkpoint set aside whole (ckpt-N.corrupt.json and .corrupt.safetensors, kept for a look), then a new write
    of ckpt-N (a rollback retrains to the same image count) cut before its JSON: the new orphan weights are not the
    set-aside one's other half (that half is there already), so they are removed as any orphan is, not renamed over
    the kept bad weights, which would lose them and leave a set-aside pair that no longer goes together."""
    from wildgan import checkpoint as ckpt

    name = ckpt.checkpoint_name(1000)
    (tmp_path / f"{name}.corrupt.json").write_text("{}")
    (tmp_path / f"{name}.corrupt.safetensors").write_bytes(b"the bad checkpoint's weights")
    (tmp_path / f"{name}.safetensors").write_bytes(b"a cut write's weights")
    gone = ckpt.remove_orphan_weights(tmp_path)
    assert gone == [tmp_path / f"{name}.safetensors"]
    assert (tmp_path / f"{name}.corrupt.safetensors").read_bytes() == b"the bad checkpoint's weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.corrupt.json", f"{name}.corrupt.safetensors"]


# the training loops, and a resume

def test_a_pgan_run_keeping_every_checkpoint_removes_orphan_weights(tmp_path: Path, monkeypatch,
                                                                    one_thread) -> None:
    """train.keep_checkpoints None in the pGAN loop (train_pgan): an orphan ckpt-N.safetensors (a kill between a
    checkpoint's two files) goes at the next checkpoint, rather than staying for good, and every complete one
    stays."""
    import numpy as np

    from wildgan import checkpoint as ckpt
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.loop import train_pgan

    planted = _an_orphan_before_the_first_checkpoint(monkeypatch)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.256, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"],
                                      checkpoint_kimg=0.064, log_every=4, device="cpu", keep_checkpoints=None))
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    assert planted
    assert _complete_and_orphans(tmp_path / "checkpoints") == (
        [ckpt.checkpoint_name(n) for n in (64, 128, 192, 256)], [])


def test_a_fanogan_run_keeping_every_checkpoint_removes_orphan_weights(tmp_path: Path, monkeypatch) -> None:
    """The f-AnoGAN loop's keep_checkpoints None as the pGAN loop's: the orphan removed, the five checkpoints kept."""
    import numpy as np

    from wildgan import checkpoint as ckpt
    from wildgan.config import PRESETS, DataConfig, FAnoGANConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    planted = _an_orphan_before_the_first_checkpoint(monkeypatch)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", x=rng.integers(0, 256, (48, 32, 32), dtype=np.uint8), y=np.repeat([0, 1], 24))
    fan = FAnoGANConfig(dim=8, gan_iters=6, enc_iters=4, batch_size=8, enc_batch_size=8, n_critic=1, device="cpu")
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "toy.npz"), normal=("0",), resolution=32, channels=1),
                    net=net_config_for_preset("tiny", 32, 1), preset="tiny", method="fanogan", fanogan=fan,
                    train=TrainConfig(total_kimg=40, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                                      checkpoint_kimg=0.016, keep_checkpoints=None))
    train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    complete, orphans = _complete_and_orphans(tmp_path / "run" / "checkpoints")
    assert planted and len(complete) == 5 and orphans == [], (complete, orphans)
    assert ckpt.checkpoint_name(1) not in complete


def test_keep_checkpoints_all_removes_the_weights_of_a_cut_checkpoint_write(tmp_path: Path, tiny_npz: Path,
                                                                            monkeypatch) -> None:
    """`wildgan train --keep-checkpoints all`: the weights of a checkpoint whose JSON was never written (a write cut
    between its two files), which nothing can load, are removed after the next checkpoint; every complete checkpoint
    is kept, whole."""
    from wildgan.cli import main

    folder: list[Path] = []
    written = _plant_orphan_at_first_checkpoint(monkeypatch, folder)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--checkpoint-kimg", "0.02", "--keep-checkpoints", "all", "--no-progress",
                 "--no-train-scores", "--threads", "1", "--out", str(out)]) == 0
    assert folder == [out / "checkpoints"] and len(written) >= 2, written
    stems = sorted(n[: -len(".json")] for n in written)
    assert _pairs(out / "checkpoints") == (stems, stems)      # every one kept, whole; the orphan gone


def test_a_resume_removes_the_weights_of_a_cut_checkpoint_write_at_once(tmp_path: Path, tiny_npz: Path) -> None:
    """A resume (under the run's lock, as it removes a killed write's temporary files) removes the orphan weights at
    once: left for the next checkpoint, they would stay for good where the resume trains nothing more (a finished
    run's --resume, its evaluation after it). The complete checkpoints and the final networks are kept."""
    import shutil

    from wildgan.cli import main

    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
            "--phase-kimg", "0.03", "--keep-checkpoints", "all", "--no-progress", "--no-train-scores", "--threads", "1",
            "--out", str(out)]
    assert main(args) == 0
    ck = out / "checkpoints"
    kept = _pairs(ck)
    assert kept[0] and kept[0] == kept[1], kept
    shutil.copyfile(ck / f"{kept[1][-1]}.safetensors", ck / "ckpt-000000000001.safetensors")
    assert main([*args, "--resume"]) == 0
    assert _pairs(ck) == kept and (out / "network-final.json").is_file()


def test_a_second_corrupt_checkpoint_of_the_same_image_count_is_set_aside_beside_the_first(tmp_path: Path) -> None:
    """A rollback retrains to the same image count, so a second bad ckpt-N can come after the first was set aside:
    os.replace put it over ckpt-N.corrupt.*, and the first bad checkpoint, which set_aside keeps for a look, was lost.
    The second goes to a free name (ckpt-N.corrupt-2.*), listed with the first; a set_aside of it cut between its two
    renames still puts its orphan weights beside its own JSON, not beside the first's."""
    import os

    import torch

    from wildgan import checkpoint as ckpt

    name = ckpt.checkpoint_name(1000)
    ckpt.save_checkpoint(tmp_path, name, {"w": torch.full((1,), 1.0)}, {})
    first = ckpt.set_aside(tmp_path / f"{name}.json")
    first_bytes = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    ckpt.save_checkpoint(tmp_path, name, {"w": torch.full((1,), 2.0)}, {})
    second = ckpt.set_aside(tmp_path / f"{name}.json")
    assert first != second and first.name == f"{name}.corrupt.json" and second.name == f"{name}.corrupt-2.json"
    for n, b in first_bytes.items():
        assert (tmp_path / n).read_bytes() == b, n              # the first kept as it was
    assert second.is_file() and (tmp_path / f"{name}.corrupt-2.safetensors").is_file()
    assert ckpt.list_checkpoints(tmp_path) == [] and ckpt.orphan_weights(tmp_path) == []
    assert [p.name for p in ckpt.set_aside_files(tmp_path)] == [
        f"{name}.corrupt-2.json", f"{name}.corrupt-2.safetensors", f"{name}.corrupt.json",
        f"{name}.corrupt.safetensors"]
    # a third, its set_aside cut after the JSON's rename: the orphan weights go beside that JSON (-3)
    ckpt.save_checkpoint(tmp_path, name, {"w": torch.full((1,), 3.0)}, {})
    third_weights = (tmp_path / f"{name}.safetensors").read_bytes()
    os.replace(tmp_path / f"{name}.json", tmp_path / f"{name}.corrupt-3.json")
    assert ckpt.orphan_of_set_aside(tmp_path / f"{name}.safetensors")
    assert ckpt.remove_orphan_weights(tmp_path) == []
    assert (tmp_path / f"{name}.corrupt-3.safetensors").read_bytes() == third_weights
    assert (tmp_path / f"{name}.corrupt-2.safetensors").is_file() and len(ckpt.set_aside_files(tmp_path)) == 6
