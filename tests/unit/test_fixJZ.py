"""fixJZ: the program's teardown leaves the signal handlers it cannot put back (set from C) and the ignored ones
alone, as main's own do (fixJT); and orphan checkpoint weights are removed under --keep-checkpoints all too."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")

# an application that embeds Python after setting its own C handlers for SIGINT, SIGTERM and SIGHUP (Python's
# signal.getsignal then says None for them), runs the Python code of argv[1], and then, after Py_FinalizeEx, raises
# each of the three: its handlers must still be the ones to take them (counted), not SIG_IGN or the default action
_EMBEDDING_APP = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
static volatile sig_atomic_t taken = 0;
static void app_handler(int sig) { (void)sig; taken++; }
int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = app_handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    Py_Initialize();
    int rc = PyRun_SimpleString(argv[1]);
    if (Py_FinalizeEx() < 0) rc = 1;
    fflush(stdout);
    taken = 0;
    raise(SIGINT);
    raise(SIGTERM);
    raise(SIGHUP);
    printf("after finalize: %d taken\n", (int)taken);
    return rc == 0 ? 0 : 1;
}
"""

# `wildgan` as a program (cli.run, which installs the teardown's handlers; bare: the commands' list, exit 2), then a
# SIGTERM, a SIGHUP and a Ctrl-C, which the application's own handlers must take (they only count)
_RUN_AFTER_C_HANDLERS = """
import io, os, signal, sys
import wildgan.cli as c
sys.argv = ["wildgan"]
sys.stderr = io.StringIO()
code = c.run()
sys.stderr = sys.__stderr__
print("run:", code, *(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    os.kill(os.getpid(), s)
print("alive")
"""


@posix_only
def test_the_teardown_leaves_handlers_set_from_c_to_the_application(tmp_path: Path) -> None:
    """TeardownExit.install set its own SIGTERM and SIGHUP handlers and SIG_IGN for SIGINT over handlers set from C
    (getsignal's None), which Python cannot put back: a SIGTERM after cli.run returned ended the embedding
    application with the command's exit code, and after Py_FinalizeEx its Ctrl-C stayed ignored and its SIGTERM and
    SIGHUP took the default action. main's own handlers leave those alone (fixJT); so does the teardown now."""
    from embedding import build_embedding_app, run_embedded

    app = build_embedding_app(tmp_path, _EMBEDDING_APP)
    done = run_embedded(app, _RUN_AFTER_C_HANDLERS)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    said = [line for line in done.stdout.splitlines() if line.startswith(("run:", "alive", "after finalize:"))]
    assert said == ["run: 2 None None None", "alive", "after finalize: 3 taken"], done.stdout     # (not the usage)


# install's handlers recorded where SIGINT, SIGTERM and SIGHUP were all ignored by whoever started the program
_INSTALL_WITH_ALL_IGNORED = """
import signal
from wildgan.cli.signals import TeardownExit
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
set_ = []
real = signal.signal
signal.signal = lambda s, h: (set_.append(signal.Signals(s).name), real(s, h))[1]
t = TeardownExit()
t.install(signal.SIG_IGN, False, None)
signal.signal = real
t.abandon()
print(set_, t.replaced, t.wakeup, *(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
"""


@posix_only
def test_the_teardown_leaves_ignored_signals_as_they_are() -> None:
    """An ignored SIGINT, SIGTERM or SIGHUP (nohup's, `trap '' TERM INT`) is the caller's: install sets nothing over
    it and records nothing to put back (it set SIG_IGN over SIG_IGN and kept it to put back in abandon), as on_sigterm
    and on_sighup leave it; with none handled, no watcher is started."""
    done = subprocess.run([sys.executable, "-c", _INSTALL_WITH_ALL_IGNORED], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] {} None 1 1 1", done.stdout


def _complete_and_orphans(folder: Path) -> tuple[list[str], list[str]]:
    """The checkpoints of `folder` whose two files are there (their names), and the weights without their JSON."""
    names = sorted(p.name[: -len(".json")] for p in folder.glob("ckpt-*.json"))
    complete = [n for n in names if (folder / f"{n}.safetensors").is_file()]
    orphans = sorted(p.name for p in folder.glob("ckpt-*.safetensors") if not p.with_suffix(".json").exists())
    return complete, orphans


def test_pruning_with_every_checkpoint_kept_removes_only_orphan_weights(tmp_path: Path) -> None:
    """keep None (--keep-checkpoints all) prunes no complete checkpoint, the oldest included, but removes the weights
    of a write cut before its JSON, as a numbered keep does (fixJT)."""
    import torch

    from wildgan import checkpoint as ckpt

    for n in (1, 2, 3, 4):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(1)}, {})
    (tmp_path / f"{ckpt.checkpoint_name(5)}.safetensors").write_bytes(b"cut")
    ckpt.prune_checkpoints(tmp_path, None, protect=tmp_path / f"{ckpt.checkpoint_name(4)}.json")
    assert _complete_and_orphans(tmp_path) == ([ckpt.checkpoint_name(n) for n in (1, 2, 3, 4)], [])


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


def test_a_pgan_run_keeping_every_checkpoint_removes_orphan_weights(tmp_path: Path, monkeypatch,
                                                                    one_thread) -> None:
    """train.keep_checkpoints None: the pGAN loop pruned nothing at all, so an orphan ckpt-N.safetensors (a kill
    between a checkpoint's two files) stayed for good; it goes at the next checkpoint now, and every complete one
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
