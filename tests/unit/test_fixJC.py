"""fixJC: data and run-replay findings (a replay's reads of its run's record, the stale-resume check before decoding,
a data-set file given as one pile of images, a damaged CIFAR-10 batches.meta, `data: {normal: null}`, the ids of an
.npz of one array)."""

from __future__ import annotations

import builtins
import io
import os
import shutil
from pathlib import Path

import pytest

from wildgan.training.run import replay_run


@pytest.mark.parametrize("name", ["config.json", "config.yaml"])
def test_replay_run_resuming_its_own_run_reads_split_json_once(trained_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # replay_run read RUN/split.json through its ReplayFiles for its checks, then train_run read it again for the
    # resume's (its own saved_run_files): a split.json saved in between gave the checks one version and the resume
    # another. Counted by the opens of the run's record until the run writes it anew
    import wildgan.training.run as run_mod

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    watched = {os.path.realpath(run / n): n for n in ("config.json", "split.json", "config.yaml")}
    reads: list[str] = []
    real_open = io.open

    def counted(file, mode="r", *args, **kw):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, os.PathLike)) and not any(c in mode for c in "wax+"):
            seen = watched.get(os.path.realpath(file))
            if seen is not None:
                reads.append(seen)
        return real_open(file, mode, *args, **kw)

    monkeypatch.setattr(io, "open", counted)
    monkeypatch.setattr(builtins, "open", counted)
    real_write = run_mod.write_run_config

    def written(*args, **kw):  # type: ignore[no-untyped-def]
        watched.clear()
        return real_write(*args, **kw)

    monkeypatch.setattr(run_mod, "write_run_config", written)
    replay_run(run / name, run, resume=True, progress=False, log=lambda m: None, warn_not_grown=False)
    assert reads.count("split.json") == 1, reads
    assert reads.count(name) == 1, reads


def test_a_config_s_null_normal_is_the_protocol_default_as_leaving_it_out(tmp_path: Path) -> None:
    # `data: {normal: null}` (or DataConfig(normal=None)) was kept as None: the protocol's default when the split was
    # built, but another config than one without it, so a resume of its run was refused for 'data.normal: None -> []'
    from wildgan.config import (DataConfig, RunConfig, TrainConfig, net_config_for_preset, read_config_file,
                                run_config_in, run_config_to_dict)
    from wildgan.training.run import run_differences

    assert DataConfig(normal=None, exclude_classes=None) == DataConfig()
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  normal: null\n  exclude_classes: null\nnet: {resolution: 8, channels: 1}\ntrain: {}\n")
    cfg = run_config_in(read_config_file(p).contents, p)
    assert cfg is not None and cfg.data.normal == () and cfg.data.exclude_classes == ()
    assert run_config_to_dict(cfg)["data"]["normal"] == []
    net = net_config_for_preset("tiny", 8, 1)
    written = RunConfig(data=DataConfig(normal=None), net=net, train=TrainConfig())
    assert run_differences(written, RunConfig(data=DataConfig(), net=net, train=TrainConfig())) == []
