"""Fixtures shared by the unit tests: torch.cuda's graph and stream entry points replaced by CPU stand-ins
(fake_cuda), for the CUDA-graph code of training.loop.StepRunner (tests/unit/training/test_graph_bookkeeping.py, its
bookkeeping; tests/unit/training/test_cuda_branches_on_cpu.py, CUDA's default iteration through it); world_of_one, a
process group of one rank for the tests of training.distributed; local_folder_locks, every folder on a local disk
for fileio's lookup (the tests of the deletion of killed writers' temp files, which pass on an NFS home too);
handlers_kept, the stop signals' handlers put back after a test that sets them; and the data and tiny runs many test
files train, score or damage (tiny_npz, trained_run, pile_run_gone_bad, fit_run_gone_bad, cifar_run, fit_run,
tree_run), each made one way in one place."""

from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch

import wildgan.training.loop as L


class _Stream:
    def wait_stream(self, other: Any) -> None:
        pass


# What a CUDA graph capture refuses or silently bakes in, as Python sees it: a host read of a device value (a sync,
# refused under capture; test_fast_path's CUDA test only catches it on a GPU) and a tensor made from host data inside
# the body (a host-to-device copy: refused by the capture, or a value frozen into the graph).
_SYNC_METHODS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__")
_HOST_MAKERS = ("tensor", "as_tensor", "from_numpy")


@contextlib.contextmanager
def no_host_traffic() -> Iterator[None]:
    """Inside the block, a host sync or a tensor made from host data raises AssertionError naming it."""
    saved_m = {n: torch.Tensor.__dict__.get(n) for n in _SYNC_METHODS}
    saved_f = {n: getattr(torch, n) for n in _HOST_MAKERS}

    def refuse(name: str) -> Any:
        def f(*a: Any, **k: Any) -> Any:
            raise AssertionError(f"host traffic inside the captured body: {name}")
        return f

    for n in _SYNC_METHODS:
        setattr(torch.Tensor, n, refuse(f"Tensor.{n}"))
    for n in _HOST_MAKERS:
        setattr(torch, n, refuse(f"torch.{n}"))
    try:
        yield
    finally:
        for n, v in saved_m.items():
            if v is None:
                delattr(torch.Tensor, n)
            else:
                setattr(torch.Tensor, n, v)
        for n, v in saved_f.items():
            setattr(torch, n, v)


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-ins for torch.cuda graphs and streams, whose "replay" re-runs the captured iteration eagerly on the
    captured static inputs. A capture runs the body once and puts every weight and Adam state back (recording changes
    nothing). The returned state: set state['runner'] to the StepRunner; state['capturing'] is the graph being
    recorded; state['captures'] counts the captures that ended; state['guard'] = True runs each capture under
    no_host_traffic; state['corrupt'] makes the next replay add noise (a graph that does not reproduce eager);
    state['raise'] makes the next capture fail with a chained error, as CUDA reports one."""
    state: dict[str, Any] = {"captures": 0}
    real_body = L.StepRunner._body

    class Graph:
        def replay(self) -> None:
            runner, phase, args, out = self.rec
            new = real_body(runner, phase, *args)
            with torch.no_grad():
                for k in out:
                    out[k].copy_(new[k])
                if state.pop("corrupt", False):
                    for p in runner.nets.G.parameters():
                        p.add_(1.0)

    @contextlib.contextmanager
    def graph(g: Graph) -> Iterator[None]:
        runner = state["runner"]
        snap = runner._snapshot()
        state["capturing"] = g
        try:
            with no_host_traffic() if state.get("guard") else contextlib.nullcontext():
                yield
            if state.pop("raise", False):
                try:
                    raise ValueError("root cause: a host sync inside the body")
                finally:
                    raise RuntimeError("operation failed due to a previous error during capture")
            state["captures"] += 1
        finally:
            state.pop("capturing", None)
            runner._restore_snapshot(snap)

    def body(self: L.StepRunner, phase: Any, *args: Any) -> Any:
        out = real_body(self, phase, *args)
        g = state.get("capturing")
        if g is not None:
            g.rec = (self, phase, args, out)
        return out

    monkeypatch.setattr(L.StepRunner, "_body", body)
    monkeypatch.setattr(torch.cuda, "Stream", lambda *a, **k: _Stream())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *a, **k: _Stream())
    monkeypatch.setattr(torch.cuda, "set_stream", lambda s: None)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: None)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    return state


@pytest.fixture()
def world_of_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as a torchrun job of one rank (RANK/WORLD_SIZE/MASTER_* on a free port), for the tests of
    training.distributed's process groups (test_distributed_failures, test_distributed_nccl_risks); shut down after."""
    from wildgan.training import distributed as dist

    # torch's init_process_group wraps sys.excepthook in a '[rank0]: ' prefixer that destroy_process_group never takes
    # off (wanted under torchrun, where the process ends with the job): in this process it wrapped one more each test
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    yield
    dist.shutdown()


@pytest.fixture()
def local_folder_locks(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """fileio's file system lookup told that every folder is on this machine's own disk (a mount table of the root's
    ext4 alone, fake_mounts.mount_as, which fileio reads on macOS too), for the tests that check that a killed
    writer's temp files are deleted: on a file system whose folder locks hold on this machine only (pytest's temp
    folder in an NFS home, say) fileio rightly deletes none (fileio.host_only_locks), and those tests failed there. A
    test that then mounts a folder as a network one (mount_as, statfs_as) gets its own table."""
    from fake_mounts import mount_as

    mount_as(monkeypatch, tmp_path_factory.mktemp("mounts") / "mountinfo", [])


@pytest.fixture()
def handlers_kept() -> Iterator[None]:
    """SIGINT's, SIGTERM's and SIGHUP's handlers (those the platform has) put back after the test, whatever it set:
    for the tests that install handlers or stand in for a launcher's (`trap '' TERM`); one left behind would make a
    later test's Ctrl-C or SIGTERM a request nobody reads."""
    import signal

    kept = {getattr(signal, n): signal.getsignal(getattr(signal, n))
            for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}
    try:
        yield
    finally:
        for s, h in kept.items():
            signal.signal(s, h)


@pytest.fixture()
def tiny_npz(tmp_path: Path) -> Path:
    """A labelled 8x8 gray .npz (40 training, 20 test images, classes 0/1) in tmp_path: the data many CLI tests
    train, refuse or score on (one fixture for the test files that each had their own copy)."""
    rng = np.random.default_rng(0)
    p = tmp_path / "tiny.npz"
    np.savez(p, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    return p


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny command-line run (a few seconds, no train scores), shared by the tests of a run's saved files;
    each test copies it before it damages, rewrites or resumes anything, so the original stays as trained."""
    import numpy as np

    from wildgan.cli import main

    where = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    npz = where / "tiny.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    run = where / "run"
    assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.03", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    return run


@pytest.fixture
def pile_run_gone_bad(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A tiny run trained by `wildgan train` on tmp_path/pile (20 gray 8x8 PNGs 00.png ... 19.png, no training scores
    cached), one of whose training files, pile/03.png, was truncated after training. Returns (run, pile, the file's
    good bytes)."""
    from png_piles import gray_png_pile

    from wildgan.cli import main

    # (a rebuilt training split needs 16 images: one minibatch of the tiny preset)
    pile, run = gray_png_pile(tmp_path / "pile", 20, digits=2), tmp_path / "run"
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--threads", "1", "--no-progress",
                 "--total-kimg", "0.032", "--phase-kimg", "0.1", "--no-train-scores", "--out", str(run)]) == 0
    good = (pile / "03.png").read_bytes()
    (pile / "03.png").write_bytes(good[:40])
    return run, pile, good


@pytest.fixture
def fit_run_gone_bad(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A tiny run of Detector.fit on the folder tmp_path/pile (20 gray 8x8 PNGs 00.png ... 19.png), its
    training-score caches deleted and pile/03.png truncated since. Returns (run, pile, the file's good bytes)."""
    import warnings

    from png_piles import gray_png_pile

    from wildgan import Detector

    pile, run = gray_png_pile(tmp_path / "pile", 20, digits=2), tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a fit this short ends at 4x4)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 run_dir=str(run)).fit(str(pile))
    for f in run.glob("train_scores*"):
        f.unlink()
    good = (pile / "03.png").read_bytes()
    (pile / "03.png").write_bytes(good[:40])
    return run, pile, good


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny `wildgan train` run on fake CIFAR-10 batches (normal: airplane) with a sound batches.meta, its batches
    at cifar_run.parent / "cifar-10-batches-py" (damaged_data.cifar_train_run), made once per test module (about
    as long as a test's own training); a test that changes the run copies it first, and one that damages the
    batches.meta puts it back."""
    from damaged_data import cifar_train_run

    return cifar_train_run(tmp_path_factory.mktemp("cifar"))


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Detector.fit run: a run without a protocol of its own, which scores a data-set file whole (the tests of
    the advice on damaged labels; damaged_data.fit_run)."""
    from damaged_data import fit_run

    return fit_run(tmp_path_factory.mktemp("fit") / "run")


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny `wildgan train` run on a class-folder tree with a loose image (normal: a), no training scores cached;
    its tree is tree_run.parent / "tree" (damaged_data.tree_with_loose_image)."""
    from damaged_data import train_run, tree_with_loose_image

    where = tmp_path_factory.mktemp("tree-run")
    return train_run(tree_with_loose_image(where), "a", where / "run")
