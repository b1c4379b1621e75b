"""Shared fixtures (kept small and generic)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]

# The helper modules that test files share (tests/helpers: data sets, tiny runs and readers made one way in one
# place) are imported by their bare names (`from png_piles import gray_png_pile`) from every folder of tests/unit and
# from tests/integration. pytest's default import mode puts only a test file's own folder on sys.path; this conftest
# is imported before any test module below it, whichever file, folder or pytest-xdist worker collects first.
HELPERS = Path(__file__).resolve().parent / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`-n auto`, the README's command) each worker is one process per core: one torch thread each,
    and the same for the subprocesses the tests start (the CLI, torchrun), so that N workers do not run N x cores
    OpenMP threads on N cores (oversubscribed OpenMP spin-waits made tiny convolutions many times slower)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets (../shared/data next to the repo, or $WILDGAN_SHARED_DATA); skips when absent."""
    env = os.environ.get("WILDGAN_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real data sets not found at {path} (set WILDGAN_SHARED_DATA to run these tests)")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread is faster, and avoids OpenMP spin-waiting when the CPU is shared (measured
    80x slower convolutions with 2 threads on a loaded 2-core machine). Restored after the module."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def mnist() -> dict:
    """The embedded MNIST sample (ships with the package) as arrays."""
    import numpy as np

    from wildgan.data import default_sample_path

    d = np.load(default_sample_path())
    return {k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")}


@pytest.fixture
def scoring_pile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """For tests of `wildgan score` on a pile of files without a trained run: `make(n)` writes n 8x8 grey PNGs to
    tmp_path/pile, makes tmp_path/run, and has scoring.load_model return the untrained tiny networks (score batches of
    4). Returns (pile, run, model)."""
    import numpy as np
    from PIL import Image

    from wildgan.config import DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset
    from wildgan.scoring import run as scoring

    def make(n: int):
        pile, run = tmp_path / "pile", tmp_path / "run"
        pile.mkdir()
        run.mkdir()
        for i in range(n):
            Image.fromarray(np.full((8, 8), 10 * i, dtype=np.uint8)).save(pile / f"{i}.png")
        model = scoring.untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                                                  train=TrainConfig(seed=0), score=ScoreConfig(batch_size=4)), "cpu")
        monkeypatch.setattr(scoring, "load_model", lambda *a, **k: model)
        return pile, run, model

    return make


def _paren_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    return deepest


@pytest.fixture
def unnested():
    """`unnested(text)` asserts that no parenthesis in a message opens inside another (hard to read: what the data
    changed in, said in a parenthesis that holds another), and returns the text."""
    def check(text: str) -> str:
        assert _paren_depth(str(text)) <= 1, f"nested parentheses in: {text}"
        return str(text)
    return check


_KERNEL_SETS = ("FUSED_PIXEL_NORM_DEVICES", "VAR_STDDEV_DEVICES", "FLAT_WEIGHTS_DEVICES")


def _in_repo(path: str) -> bool:
    """A folder of this repository's own (its virtual environment, which may lie in it, is the third parties')."""
    import sys

    under = [str(REPO), sys.prefix]
    return (path == under[0] or path.startswith(under[0] + os.sep)) and not path.startswith(under[1] + os.sep)


def _process_state() -> dict:
    """The process-wide settings a test can leave changed for every later test of its pytest-xdist worker (which
    tests share a worker, and in what order, is CI's draw); about 20 microseconds."""
    import sys
    import warnings

    import torch

    from wildgan.nets import layers

    return {
        "the working directory": os.getcwd(),
        # (this repository's folders only: a third-party import may append its own for good, as setuptools appends
        # its _vendor folder when test_wheel builds the wheel; a folder of ours left there shadows modules)
        "sys.path": [p for p in sys.path if _in_repo(p)],
        "the WILDGAN_ variables": {k: v for k, v in os.environ.items() if k.startswith("WILDGAN_")},
        "warnings.formatwarning": warnings.formatwarning,      # (pytest's catch_warnings puts back the filters only)
        "sys.excepthook": sys.excepthook,
        # (the CLI's and training's stop handlers are put back when a command or the loop ends: one left installed
        # made a later test's Ctrl-C, SIGTERM or SIGHUP a checkpoint request nobody reads, or a Terminated)
        "the signal handlers": _signal_handlers(),
        # (the library sets it only inside a call and puts the caller's back: devices.caller_torch_state_kept)
        "torch's thread count": torch.get_num_threads(),
        "torch's default dtype": torch.get_default_dtype(),
        "torch's grad mode": torch.is_grad_enabled(),
        "torch's deterministic algorithms": torch.are_deterministic_algorithms_enabled(),
        "torch.backends' flags": (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32,
                                  torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision()),
        # (a function of nets.layers replaced, as benchmarks/roofline.py replaces _rms_norm_last, or a set swapped;
        # not the dunder names: Python's warnings add __warningregistry__ to the module a warning comes from)
        "nets.layers' names": {k: v for k, v in vars(layers).items() if not k.startswith("__")},
        # (their contents too: test_roofline's model_cuda_kernels once left "cpu" in VAR_STDDEV_DEVICES, and every
        # later test of its worker ran CUDA's kernels, test_schedule's ETA counts failing on CI's worker order only)
        "nets.layers' kernel sets": {n: frozenset(getattr(layers, n)) for n in _KERNEL_SETS},
        # (the training loop raises them only while train_pgan's loop runs, or around a compiled forward that a caller
        # of StepRunner runs outside it, loop.compile_limits; read only where dynamo is imported already, as importing
        # it takes seconds)
        "torch._dynamo's recompile limits": _dynamo_limits(),
        # (a block left counted open would let a later runner's compiled forwards skip raising the limits)
        "loop.compile_limits' open blocks": _open_limit_blocks(),
    }


def _signal_handlers() -> dict:
    import signal

    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s}


def _open_limit_blocks() -> int:
    import sys

    loop = sys.modules.get("wildgan.training.loop")
    return 0 if loop is None else getattr(loop, "_limits_held", 0)


def _dynamo_limits() -> dict:
    import sys

    if "torch._dynamo" not in sys.modules:
        return {}
    from wildgan.training.loop import _compile_limit_names

    cfg = sys.modules["torch._dynamo"].config
    return {n: getattr(cfg, n) for n in _compile_limit_names()}


def _put_back(before: dict) -> None:
    import sys
    import warnings

    import torch

    from wildgan.nets import layers

    os.chdir(before["the working directory"])
    ours = iter(before["sys.path"])           # (ours back in their places, in their order; the others kept)
    kept = [p for p in sys.path if not _in_repo(p) or p in before["sys.path"]]
    sys.path[:] = [next(ours) if _in_repo(p) else p for p in kept] + list(ours)
    for k in [k for k in os.environ if k.startswith("WILDGAN_")]:
        del os.environ[k]
    os.environ.update(before["the WILDGAN_ variables"])
    warnings.formatwarning = before["warnings.formatwarning"]
    sys.excepthook = before["sys.excepthook"]
    import signal

    for s, h in before["the signal handlers"].items():
        signal.signal(s, signal.SIG_DFL if h is None else h)
    torch.set_num_threads(before["torch's thread count"])
    torch.set_default_dtype(before["torch's default dtype"])
    torch.set_grad_enabled(before["torch's grad mode"])
    torch.use_deterministic_algorithms(before["torch's deterministic algorithms"])
    flags = before["torch.backends' flags"]
    torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags[:3]
    torch.set_float32_matmul_precision(flags[3])
    for k in {k for k in vars(layers) if not k.startswith("__")} - set(before["nets.layers' names"]):
        delattr(layers, k)
    for k, v in before["nets.layers' names"].items():
        setattr(layers, k, v)
    for n, v in before["nets.layers' kernel sets"].items():
        getattr(layers, n).clear()
        getattr(layers, n).update(v)
    if "wildgan.training.loop" in sys.modules:
        sys.modules["wildgan.training.loop"]._limits_held = before["loop.compile_limits' open blocks"]
    if before["torch._dynamo's recompile limits"]:
        cfg = sys.modules["torch._dynamo"].config
        for n, v in before["torch._dynamo's recompile limits"].items():
            setattr(cfg, n, v)


def _hangup_ignored(signum: int, frame: object) -> None:
    # (a hangup of the pytest process itself, while a test runs, is still ignored, as nohup asked: see below)
    return


@pytest.fixture(autouse=True)
def _stop_signals_as_from_a_terminal() -> Iterator[None]:
    """Each test runs with Ctrl-C and SIGHUP handled as in a terminal's foreground pytest, whoever started pytest.
    A shell script's background job (`pytest -n 2 ... > log &`, a CI step or a helper that waits for it) inherits
    SIGINT ignored, which Python then leaves ignored, and so do the xdist workers: a test's
    signal.raise_signal(SIGINT) did nothing, and test_cli's
    test_a_stopped_score_promises_only_the_chunks_the_same_command_would_resume saw `wildgan score` finish with 0
    instead of stopping with 130 (the "failure under load, passed alone": 6 of test_cli's Ctrl-C tests fail so,
    loaded or not, and none in a foreground run). `nohup pytest` inherits SIGHUP ignored, which a command started by
    a test keeps: test_sighup_stops_a_score_... then waited 60 s for a stop that never came. Only a signal found
    ignored is changed, and put back after the test: SIGINT gets Python's own handler (a KeyboardInterrupt, as from
    a terminal); SIGHUP a handler that does nothing, so that the pytest process still outlives its terminal as nohup
    asked, while the processes its tests start begin with the default action (exec resets a handled signal, not an
    ignored one). Tests of an ignored signal ignore it themselves."""
    import signal

    saved = {}
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    hup = getattr(signal, "SIGHUP", None)
    if hup is not None and signal.getsignal(hup) is signal.SIG_IGN:
        saved[hup] = signal.signal(hup, _hangup_ignored)
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


_SEED_0_STATE = None


@pytest.fixture(autouse=True)
def _process_state_put_back(_stop_signals_as_from_a_terminal: None) -> Iterator[None]:
    """Fails the test that leaves process-wide state changed (_process_state), after putting it back, so that one
    leak fails one test and not, on some worker order only, a later one (as test_roofline's kernel sets once did).

    One thing is put back without failing: torch's global RNG, which every test starts from seeded 0: the tests that
    draw from it unseeded (torch.randn in test_nets, test_losses, ...) drew whatever the tests before them in the
    worker left (tests seed it themselves; the library's training seeds it inside a call and puts the caller's
    back, devices.caller_torch_state_kept), other numbers on each order. torch's thread count is checked as the
    rest: the library sets TrainConfig.threads only inside a call (train_pgan, train_run, run_study, Detector,
    cli.main) and puts the caller's back. Taken after _stop_signals_as_from_a_terminal has set the stop signals, so
    that a test that leaves them changed fails in a background run of pytest too."""
    import torch

    global _SEED_0_STATE
    if _SEED_0_STATE is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            _SEED_0_STATE = torch.get_rng_state()
    torch.set_rng_state(_SEED_0_STATE)          # (a copy: 0.2 us, where torch.manual_seed takes 100)
    before = _process_state()
    yield
    after = _process_state()
    said = []
    for k in before:
        if k == "nets.layers' names" and after[k] != before[k]:
            names = sorted(n for n in before[k].keys() | after[k].keys() if before[k].get(n) is not after[k].get(n))
            said.append(f"{k}: {', '.join(names)}")
        elif k == "torch._dynamo's recompile limits" and not before[k]:
            continue            # (dynamo imported by the test: nothing to compare with)
        elif after[k] != before[k]:
            said.append(f"{k}: {after[k]!r} (found {before[k]!r})")
    if said:
        _put_back(before)
    assert not said, f"the test left process-wide state changed: {'; '.join(said)}"
