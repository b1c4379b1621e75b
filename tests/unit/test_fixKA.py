"""fixKA: two leftovers of fixJT. The program's teardown (cli.signals.TeardownExit.install) leaves a handler set from
C to the application that set it, as the command's own handlers do; and a checkpoint's orphan weights (a write cut
between its two files) are removed under `--keep-checkpoints all` too, not only where checkpoints are pruned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")


def _embedding_app(tmp_path: Path) -> Path:
    """test_fixJT's application that sets its own C handlers for SIGINT, SIGTERM and SIGHUP, then embeds Python and
    runs argv[1]: built into tmp_path (skipped where there is no compiler or no shared libpython)."""
    from embedding import build_embedding_app
    from test_fixJT import _EMBEDDING_APP

    return build_embedding_app(tmp_path, _EMBEDDING_APP)


# the program's way (cli.run, with its teardown's handlers) for `command`: `info` made to return 0 at once, `score`
# a usage error (SystemExit 2, through on_sighup's command list); then the handlers it leaves, and a SIGTERM, a SIGHUP
# and a Ctrl-C, which the application's own handlers must still take (they do nothing)
_RUN_THEN_SIGNALS = """
import io, os, signal, sys
import wildgan.cli as c
c.cmd_info = lambda a: 0
sys.argv = ["wildgan", {command!r}]
sys.stderr = io.StringIO()
try:
    print("code:", c.run())
except SystemExit as e:
    print("code:", e.code)
sys.stderr = sys.__stderr__
print("run:", *(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    os.kill(os.getpid(), s)
print("alive")
"""


@posix_only
@pytest.mark.parametrize("command, code", [("info", 0), ("score", 2)])
def test_the_programs_teardown_leaves_handlers_set_from_c_to_the_application(tmp_path: Path, command: str,
                                                                           code: int) -> None:
    """TeardownExit.install set its own SIGTERM and SIGHUP handlers, and SIG_IGN for SIGINT, over handlers an
    embedding application had set from C (getsignal's None), which main itself had left alone since fixJT: Python
    cannot put such a handler back, so the application lost its own handling for good, and its next SIGTERM or
    SIGHUP ended it with the command's exit code (os._exit). They are left to the application now."""
    from embedding import run_embedded

    done = run_embedded(_embedding_app(tmp_path), _RUN_THEN_SIGNALS.format(command=command))
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.splitlines() == [f"code: {code}", "run: None None None", "alive"], done.stdout


# the program's way for `info` (returning 0 at once) where whoever started it ignored SIGINT, SIGTERM and SIGHUP
_RUN_IGNORED = """
import signal, sys, threading
import wildgan.cli as c
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
c.cmd_info = lambda a: 0
sys.argv = ["wildgan", "info"]
print("code:", c.run())
print("ignored:", all(signal.getsignal(s) is signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
print("watcher:", any(t.name == "wildgan-teardown-exit" for t in threading.enumerate()))
"""


@posix_only
def test_the_programs_teardown_leaves_ignored_signals_ignored() -> None:
    """The other half of the rule (it held already; kept so that it goes on holding): signals the launcher ignored
    stay ignored through the teardown, and with nothing of its own to handle, no watcher thread is started."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", _RUN_IGNORED], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.splitlines() == ["code: 0", "ignored: True", "watcher: False"], done.stdout


def _plant_orphan_at_first_checkpoint(monkeypatch, folder_of: list[Path]) -> list[str]:
    """checkpoint.atomic_write_text made to leave, as the first checkpoint's JSON is written, the weights of a cut
    write beside it: ckpt-000000000001.safetensors (a copy of that checkpoint's weights, at a step no checkpoint of
    these runs is written at, so that no later write replaces it). Returns the names of the checkpoint JSONs written;
    folder_of gets the checkpoints' folder."""
    import shutil

    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    written: list[str] = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        p = Path(str(path))
        if p.name.startswith("ckpt-") and p.name.endswith(".json"):
            if not written:
                shutil.copyfile(p.with_suffix(".safetensors"), p.with_name("ckpt-000000000001.safetensors"))
                folder_of.append(p.parent)
            written.append(p.name)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    return written


def _pairs(folder: Path) -> tuple[list[str], list[str]]:
    # (the checkpoints' JSONs and weights in folder, by their stems)
    return sorted(p.stem for p in folder.glob("ckpt-*.json")), sorted(p.stem for p in folder.glob("ckpt-*.safetensors"))


def test_keep_checkpoints_all_removes_the_weights_of_a_cut_checkpoint_write(tmp_path: Path, monkeypatch) -> None:
    """`--keep-checkpoints all` (keep_checkpoints None): the pGAN loop pruned nothing, so the weights of a checkpoint
    whose JSON was never written (a write cut between its two files) stayed for good, hundreds of MB each, though
    nothing can load them. They are removed after the next checkpoint now; every complete checkpoint is kept."""
    import numpy as np

    from wildgan.cli import main

    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    folder: list[Path] = []
    written = _plant_orphan_at_first_checkpoint(monkeypatch, folder)
    out = tmp_path / "run"
    assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--checkpoint-kimg", "0.02", "--keep-checkpoints", "all", "--no-progress",
                 "--no-train-scores", "--threads", "1", "--out", str(out)]) == 0
    assert folder == [out / "checkpoints"] and len(written) >= 2, written
    stems = sorted(n[: -len(".json")] for n in written)
    assert _pairs(out / "checkpoints") == (stems, stems)      # every one kept, whole; the orphan gone


def test_keeping_every_checkpoint_removes_orphans_alone_and_sets_a_corrupt_ones_weights_aside(tmp_path: Path) -> None:
    """prune_checkpoints with keep None (every checkpoint kept) removes the orphan weights and nothing else: not a
    complete checkpoint, not the final networks, not a set-aside one. An orphan beside its own set-aside JSON
    (ckpt-N.corrupt.json: set_aside cut between its two renames) is set aside with it, not deleted: a bad checkpoint
    is kept for a look, as latest_good_checkpoint promises (it was deleted as an orphan)."""
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


def test_a_resume_removes_the_weights_of_a_cut_checkpoint_write_at_once(tmp_path: Path) -> None:
    """A resume (under the run's lock, as it removes a killed write's temporary files) removes the orphan weights at
    once: left for the next checkpoint, they stayed for good where the resume trained nothing more (a finished run's
    --resume, its evaluation after it). The complete checkpoints and the final networks are kept."""
    import shutil

    import numpy as np

    from wildgan.cli import main

    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    out = tmp_path / "run"
    args = ["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1", "--phase-kimg",
            "0.03", "--keep-checkpoints", "all", "--no-progress", "--no-train-scores", "--threads", "1",
            "--out", str(out)]
    assert main(args) == 0
    ck = out / "checkpoints"
    kept = _pairs(ck)
    assert kept[0] and kept[0] == kept[1], kept
    shutil.copyfile(ck / f"{kept[1][-1]}.safetensors", ck / "ckpt-000000000001.safetensors")
    assert main([*args, "--resume"]) == 0
    assert _pairs(ck) == kept and (out / "network-final.json").is_file()
