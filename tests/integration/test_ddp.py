"""Data-parallel training and sharded scoring (issue 5): 2 processes launched by torchrun (gloo, CPU) give the same
networks and scores as one process with the same global minibatch, up to float noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from wildgan import checkpoint as ckpt
from wildgan.config import PRESETS, DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset
from wildgan.scoring.pgan_scores import score_pgan
from wildgan.training.loop import train_pgan

DRIVER = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import numpy as np, torch
    torch.set_num_threads(1)
    from wildgan import checkpoint as ckpt
    from wildgan.config import PRESETS, DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset
    from wildgan.scoring.pgan_scores import score_pgan_sharded
    from wildgan.training.distributed import init_distributed, shutdown
    from wildgan.training.loop import train_pgan

    npz, out, train_kw = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    ctx = init_distributed("cpu")
    x = np.load(npz)["x"][..., None]
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(minibatch=PRESETS["tiny"]["minibatch"], device="cpu", **train_kw))
    res = train_pgan(x, cfg, out / "run", progress=False, log=lambda m: None)
    nets, _ = ckpt.load_pgan(res.final)
    sr = score_pgan_sharded(nets, x, ScoreConfig(batch_size=8), ctx=ctx)
    if ctx.rank == 0:
        np.savez(out / "scores.npz", z=sr.z, **{k: v for k, v in sr.scores.items()})
        (out / "ranks.json").write_text(json.dumps({"world": ctx.world, "nimg": res.nimg}))
    shutdown()
''')

TRAIN = {"total_kimg": 0.256, "phase_kimg": 0.064, "checkpoint_kimg": 0.128, "log_every": 4, "seed": 3}


@pytest.mark.integration
# d_I in G's loss (E's forward in the G step, split over the ranks as the E step's) over the 4x4 phase and the start
# of the fade only: G and E then train each other, which amplifies float rounding far more than the method does. One
# process at 1 and at 2 threads (summation order alone) ended 0.256 kimg up to 8% of the update apart with it, 6e-6
# without; over 0.128 kimg two ranks and one process stay within 3e-5 of it
@pytest.mark.parametrize("extra", [{}, {"g_image_loss": 0.5, "total_kimg": 0.128, "checkpoint_kimg": 0.064}])
def test_two_gloo_ranks_match_one_process(tmp_path: Path, extra: dict):
    train = {**TRAIN, **extra}
    x = (np.random.default_rng(0).random((44, 8, 8)) * 255).astype(np.uint8)
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=x, y=np.zeros(len(x), dtype=np.int64))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0",
           str(tmp_path / "driver.py"), str(npz), str(tmp_path / "ddp"), json.dumps(train)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads((tmp_path / "ddp" / "ranks.json").read_text())["world"] == 2

    # one process, same global minibatch and seed
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(minibatch=PRESETS["tiny"]["minibatch"], device="cpu", **train))
    ref = train_pgan(x[..., None], cfg, tmp_path / "one", progress=False, log=lambda m: None)
    ta, _ = ckpt.load_checkpoint(ref.final)
    tb, _ = ckpt.load_checkpoint(tmp_path / "ddp" / "run" / "network-final.json")
    assert ta.keys() == tb.keys()
    init = ckpt.networks_to_tensors(__import__("wildgan.nets",
                                               fromlist=["build_pgan"]).build_pgan(cfg.net, 3).modules())
    worst = 0.0
    for k in ta:
        upd = float((ta[k] - init[k]).norm())
        diff = float((ta[k] - tb[k]).norm())
        worst = max(worst, diff / upd if upd > 0 else diff)
        assert diff <= 1e-3 * upd + 1e-6, (k, diff, upd)
    print(f"max relative weight difference (|w_2rank - w_1proc| / |update|): {worst:.3g}")

    # stats: rank 0 alone writes, losses averaged over ranks equal the one-process losses
    ra = [json.loads(s) for s in (tmp_path / "one" / "stats.jsonl").read_text().splitlines()]
    rb = [json.loads(s) for s in (tmp_path / "ddp" / "run" / "stats.jsonl").read_text().splitlines()]
    assert len(ra) == len(rb)
    for a, b in zip(ra, rb):
        for k in ("D/loss", "G/loss", "E/loss", "D/grad_norm", *(["G/d_I"] if "g_image_loss" in extra else [])):
            assert b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-5), k

    # sharded scoring = one-process scoring of the same networks (the batches are identical)
    nets, _ = ckpt.load_pgan(tmp_path / "ddp" / "run" / "network-final.json")
    one = score_pgan(nets, x[..., None], ScoreConfig(batch_size=8))
    sh = np.load(tmp_path / "ddp" / "scores.npz")
    np.testing.assert_allclose(sh["z"], one.z, rtol=1e-5, atol=1e-6)
    for k, v in one.scores.items():
        np.testing.assert_allclose(sh[k], v, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(torch.from_numpy(sh["a"] if "a" in sh else one.scores[next(iter(one.scores))])).all()


@pytest.fixture(scope="module")
def png_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run trained once for the module's scoring tests on 64 small gray PNGs (each test scores a copy)."""
    from PIL import Image

    from wildgan.cli import main

    root = tmp_path_factory.mktemp("png-run")
    rng = np.random.default_rng(0)
    train = root / "train"
    train.mkdir()
    for i in range(64):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(train / f"{i:03d}.png")
    run = root / "run"
    assert main(["train", "--data", str(train), "--preset", "tiny", "--total-kimg", "0.1", "--phase-kimg", "0.02",
                 "--threads", "1", "--device", "cpu", "--no-progress", "--out", str(run)]) == 0
    return run


def _run_and_pile(tmp_path: Path, png_run: Path, n_pile: int, seed: int) -> tuple[Path, Path]:
    """A copy of the module's tiny run, and a pile of n_pile more small gray PNGs like its training images to
    score."""
    import shutil

    from PIL import Image

    rng = np.random.default_rng(seed)
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(n_pile):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(pile / f"{i:03d}.png")
    run = tmp_path / "run"
    shutil.copytree(png_run, run)
    return run, pile


@pytest.mark.integration
def test_score_a_pile_over_two_gloo_ranks(tmp_path: Path, png_run: Path):
    """`wildgan score --distributed`: each rank reads and scores its chunks of the files, rank 0 writes the CSV,
    which equals one process's byte for byte, unreadable files (--skip-bad) and wrap-around repeats included; a
    bad file without --skip-bad stops every rank with its name, and nothing is written."""
    from wildgan.cli import main

    run, pile = _run_and_pile(tmp_path, png_run, 130, seed=0)
    (pile / "077.png").write_bytes(b"not an image")
    # 130 files: score batches 64, 64 and 2 topped up with 62 repeats of the first; chunks of 128 -> rank 0 reads
    # the first two batches, rank 1 the repeats
    args = ["score", str(run), "--data", str(pile), "--chunk-size", "128", "--device", "cpu", "--no-progress"]
    assert main(args + ["--skip-bad", "--out", str(tmp_path / "one.csv")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
                "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan"]
    # an interrupted one-process scoring of the first chunk's files left its scores in two.csv.chunks: the
    # distributed rerun takes them (rank 0's chunk) and rank 1 scores the other
    from wildgan.scoring.run import LoadedModel

    real = LoadedModel.score
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LoadedModel, "score", lambda self, x, **kw: real(self, x, **kw) if len(x) != 64 else
                   (_ for _ in ()).throw(KeyboardInterrupt))          # the repeats' chunk (64) is the 2nd
        assert main(args + ["--skip-bad", "--out", str(tmp_path / "two.csv")]) == 130
    assert [p.name for p in (tmp_path / "two.csv.chunks").glob("chunk-*.npz")] == ["chunk-00000.npz"]
    proc = subprocess.run(torchrun + args + ["--distributed", "--skip-bad", "--out", str(tmp_path / "two.csv")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    one, two = (tmp_path / "one.csv").read_text(), (tmp_path / "two.csv").read_text()
    assert len(one.splitlines()) == 130 and "077.png" not in one                     # header + 129 images
    assert two == one and "1 of them resumed" in proc.stderr
    assert not (tmp_path / "two.csv.chunks").exists()
    assert proc.stderr.count("warning: skipped") == 1 and "077.png" in proc.stderr     # named once, by rank 0
    # --no-resume: rank 0 deletes the kept chunks just before the scoring (once every check is passed), and no rank
    # takes them: rank 1 reads the folder only after the file list's collective, which rank 0 reaches after that
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LoadedModel, "score", lambda self, x, **kw: real(self, x, **kw) if len(x) != 64 else
                   (_ for _ in ()).throw(KeyboardInterrupt))
        assert main(args + ["--skip-bad", "--out", str(tmp_path / "two.csv")]) == 130
    assert [p.name for p in (tmp_path / "two.csv.chunks").glob("chunk-*.npz")] == ["chunk-00000.npz"]
    proc = subprocess.run(torchrun + args + ["--distributed", "--skip-bad", "--no-resume", "--out",
                                             str(tmp_path / "two.csv")], capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "--no-resume: deleted" in proc.stderr and "resumed" not in proc.stderr, proc.stderr[-4000:]
    assert (tmp_path / "two.csv").read_text() == one and not (tmp_path / "two.csv.chunks").exists()

    proc = subprocess.run(torchrun + args + ["--distributed", "--out", str(tmp_path / "bad.csv")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0 and "077.png: not a readable image" in proc.stderr
    assert not (tmp_path / "bad.csv").exists()

    # a tar of the pile: each process reads its chunks from the unpacked archive (unpacked once into the cache)
    import tarfile

    (pile / "077.png").unlink()
    with tarfile.open(tmp_path / "pile.tar.gz", "w:gz") as tf:
        tf.add(pile, arcname="pile")
    env["WILDGAN_CACHE"] = str(tmp_path / "cache")
    tar_args = ["score", str(run), "--data", str(tmp_path / "pile.tar.gz"), "--chunk-size", "128", "--device", "cpu",
                "--no-progress"]
    proc = subprocess.run(torchrun + tar_args + ["--distributed", "--out", str(tmp_path / "tar2.csv")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = (tmp_path / "tar2.csv").read_text().splitlines()
    assert len(rows) == 130 and rows[1].startswith("pile/000.png,")


@pytest.mark.integration
def test_wildgan_train_distributed_holds_one_lock_for_all_ranks(tmp_path: Path):
    """`torchrun ... wildgan train --distributed`: rank 0 takes the run folder's lock for the job; when another
    process holds it, every rank stops with the refusal (none touches the folder, none waits forever)."""
    from wildgan.training.run import LOCK_NAME, run_lock

    rng = np.random.default_rng(0)
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=(rng.random((96, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan", "train", "--distributed",
           "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1", "--phase-kimg", "0.02",
           "--threads", "1", "--device", "cpu", "--no-progress", "--no-train-scores"]
    run = tmp_path / "run"
    run.mkdir()
    with run_lock(run):                                  # held by this (other) process
        proc = subprocess.run(cmd + ["--out", str(run)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0 and proc.stderr.count("is in use by another wildgan process") >= 2, proc.stderr[-3000:]
    assert not (run / "config.json").exists()
    proc = subprocess.run(cmd + ["--out", str(run)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run / "network-final.json").is_file() and not (run / LOCK_NAME).exists()
    # --overwrite: rank 0 alone clears the folder and writes the new record (two ranks deleting the same files raced)
    proc = subprocess.run(cmd + ["--out", str(run), "--overwrite", "--seed", "3"], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 3
    assert (run / "network-final.json").is_file() and (run / "split.json").is_file()
    # f-AnoGAN has no ranks: refused by every rank before any folder is written (each would train alone into it)
    other = tmp_path / "fanogan"
    proc = subprocess.run([*cmd[:cmd.index("--preset")], "--method", "fanogan", "--resolution", "32", "--threads", "1",
                           "--device", "cpu", "--no-progress", "--out", str(other)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0 and proc.stderr.count("f-AnoGAN trains in one process") >= 2, proc.stderr[-3000:]
    assert not other.exists()


@pytest.mark.integration
def test_a_pile_of_one_chunk_is_shared_and_resumed_across_process_counts(tmp_path: Path, png_run: Path):
    """A pile smaller than one default chunk is cut into equal chunks, one per rank (it all went to rank 0, the
    other ranks idle); the CSV equals one process's. The chunks finished by a 2-rank job that failed are taken by a
    one-process rerun (the folder's chunking is kept, not discarded)."""
    from wildgan.cli import main

    run, pile = _run_and_pile(tmp_path, png_run, 256, seed=1)
    args = ["score", str(run), "--data", str(pile), "--device", "cpu", "--no-progress"]       # default chunk size
    assert main(args + ["--out", str(tmp_path / "one.csv")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
                "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan"]
    proc = subprocess.run(torchrun + args + ["--distributed", "--out", str(tmp_path / "two.csv")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "read in 2 chunks of up to 128" in proc.stderr, proc.stderr[-3000:]        # 4 score batches of 64
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()

    # one rank meets an unreadable file and the job stops; the other rank's finished chunk is kept
    good = (pile / "000.png").read_bytes()
    (pile / "000.png").write_bytes(b"not an image")
    proc = subprocess.run(torchrun + args + ["--distributed", "--out", str(tmp_path / "three.csv")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0 and "000.png: not a readable image" in proc.stderr, proc.stderr[-3000:]
    assert len(list((tmp_path / "three.csv.chunks").glob("chunk-*.npz"))) == 1
    (pile / "000.png").write_bytes(good)
    from wildgan.scoring.run import LoadedModel

    real, scored = LoadedModel.score, []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LoadedModel, "score", lambda self, x, **kw: (scored.append(len(x)), real(self, x, **kw))[1])
        assert main(args + ["--out", str(tmp_path / "three.csv")]) == 0
    assert scored == [128]                              # only the failed rank's chunk is scored again
    assert (tmp_path / "three.csv").read_text() == (tmp_path / "one.csv").read_text()
    assert not (tmp_path / "three.csv.chunks").exists()


@pytest.mark.integration
def test_torchrun_without_distributed_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Several torchrun ranks without --distributed would each run the whole command into the same files (train's
    second rank was refused by the run lock without a word of --distributed; score's ranks wrote the same CSV):
    every rank refuses before anything is written, naming --distributed (or, for commands run by one process,
    saying to run without torchrun)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
                "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan"]
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=(np.random.default_rng(0).random((96, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    proc = subprocess.run(torchrun + ["train", "--data", str(npz), "--normal", "0", "--preset", "tiny",
                                      "--total-kimg", "0.1", "--threads", "1", "--device", "cpu", "--no-progress",
                                      "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300,
                          env=env)
    # at least one rank's refusal: a rank that gets there 0.5 s after the other is stopped by torchrun's SIGTERM
    # before it prints (measured: rank 1 has 0.4-0.6 s), so "both ranks" is checked below, each rank on its own
    assert proc.returncode != 0 and proc.stderr.count("but --distributed was not given") >= 1, proc.stderr[-3000:]
    assert "Add --distributed" in proc.stderr and "in use by another wildgan process" not in proc.stderr
    assert not (tmp_path / "run").exists()
    proc = subprocess.run(torchrun + ["evaluate", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode != 0 and proc.stderr.count("Run it without torchrun") >= 1, proc.stderr[-3000:]
    # every rank refuses, rank 1 too (torchrun's environment as rank R sees it; no other rank to wait for): in this
    # process, as the command's main sees that environment (the refusal and its rank tag are main's, before any
    # work; the process's own start under torchrun is the two jobs' above)
    from wildgan.cli import main

    for rank in (0, 1):
        ranked = {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
        for argv, said in ((["train", "--data", str(npz), "--normal", "0", "--out", str(tmp_path / "run")],
                            "but --distributed was not given"),
                           (["evaluate", str(tmp_path / "run")], "Run it without torchrun")):
            with pytest.MonkeyPatch.context() as mp:
                for k, v in ranked.items():
                    mp.setenv(k, v)
                code = main(argv)
            err = capsys.readouterr().err
            assert code == 2 and err.count(said) == 1, (rank, err[-3000:])
            assert ("(rank 1 of 2)" in err) == (rank == 1), err
            assert not (tmp_path / "run").exists()
