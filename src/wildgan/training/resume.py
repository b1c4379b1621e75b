"""What lets a training run stop and continue, shared by the pGAN loop (loop.py) and the f-AnoGAN loop
(fanogan_loop.py): SIGINT / SIGTERM routed to a flag that the loop reads at its next step (it saves a checkpoint, then
stops), and a checkpoint's random stream put back into the loop's generator.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from ..config import thread_counts
from ..checkpoint import nonfinite_tensors
from ..errors import SIGPIPE, option_words, output_gone, stop_asked, take_stops, warn_user


def restore_generator(rng: torch.Generator, saved: torch.Tensor, saved_on: str | None, src: Path, seed: int,
                      step: int) -> None:
    """Load a checkpoint's generator state into `rng`, or reseed it when the checkpoint was written on another kind
    of device. A CPU generator state (5,056 bytes) cannot be loaded into a CUDA generator (16 bytes) or back, so a
    run stopped on a GPU and resumed on a CPU (or the reverse) goes on with a new, deterministic random stream
    instead of failing; everything else (weights, optimiser state, data order) resumes exactly. `saved_on` None
    (checkpoints before the device was recorded) is told from the state's size."""
    if saved_on is None:
        saved_on = "cpu" if saved.numel() > 64 else "cuda"
    if saved_on == rng.device.type:
        rng.set_state(saved)
        return
    warn_user(f"{src}: checkpoint written on {saved_on}, resumed on {rng.device.type}: the random stream is "
              f"reseeded (seed {seed}, step {step})")
    rng.manual_seed((seed * 1_000_003 + step) % 2**63)        # manual_seed takes at most 64 bits


def thread_count_change(meta: dict[str, Any], src: Path, device: torch.device) -> str | None:
    """The warning for a resume whose process runs another intra-op thread count than the checkpoint it restores
    was trained with (its `intra_op_threads`); None where they are the same, the checkpoint does not say (written
    before the field), or either side trained on a GPU (the CPU thread count changes no GPU kernel's sums). Why: on
    a CPU the count sets the order of float sums, so a run resumed under another OMP_NUM_THREADS (or --threads)
    trains other weights from there on, while config.json may say `threads: null` both times."""
    # (the count of its last session, where a resumed run's record lists its sessions' counts)
    counts, now = thread_counts(meta.get("intra_op_threads")), torch.get_num_threads()
    then = counts[-1] if counts else None
    if then is None or then == now:
        return None
    if device.type != "cpu" or meta.get("rng_device") not in (None, "cpu"):
        return None
    return (f"warning: {src} was trained on {then} intra-op thread{'s' if then != 1 else ''}, and this process runs "
            f"{now} ({option_words('--threads', 'threads=')}, or torch's default that OMP_NUM_THREADS and the core "
            f"count set): training goes on, but its weights and scores now equal those of a run trained on {then} "
            f"throughout only up to float rounding; resume with {option_words(f'--threads {then}', f'threads={then}')} "
            f"to continue as it was trained")


class StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the next round boundary and stops. So does the CLI's
    SIGHUP (passed on to this by its handler: errors.take_stops), and stdout's or stderr's reader gone
    (output_closed)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        # whether a Ctrl-C came (the next one aborts at once): the loops' end passes it to stops_deferred as
        # `stopping`, so that a Ctrl-C held there is a second only where one came before it
        self.interrupted = False

    def __call__(self, signum: int, frame: Any) -> None:
        # (the CLI bounds its outputs' writes from now on: a checkpoint's way out must not hang on a full pipe)
        stop_asked(signum)
        if signum == signal.SIGINT:
            if self.interrupted:
                raise KeyboardInterrupt        # a second Ctrl-C: the user insists, abort at once
            self.interrupted = True
        # Only a second Ctrl-C aborts, as in distributed.stops_deferred: a SIGTERM comes twice (a scheduler's to
        # every process of the job, then torchrun's to its ranks), a hangup too (the terminal's, then its shell's),
        # and either may follow another stop (a closed output pipe, a Ctrl-C then the window closed). Nobody asked
        # to abort there: it is the same stop, its checkpoint still wanted, told by the signal that asked first.
        if self.signum is None:
            self.signum = signum

    def output_closed(self, e: BaseException) -> None:
        """A write of the loop's (its progress bar, a log line shown) failed with `e` on stdout or stderr gone, which
        errors.output_gone has silenced. Their reader went away (a BrokenPipeError: `wildgan train ... 2>&1 | head`):
        a stop like a signal's, with a checkpoint at the next safe point, told as SIGPIPE's (errors.stop_words:
        OUTPUT_CLOSED; the CLI's exit 141, what the shell reports for a process that SIGPIPE ended). Before, the
        error left the loop in the middle of a round and the progress since the last checkpoint was lost. A terminal
        hung up (EIO) only stays silenced, as tqdm itself leaves its bar there: the SIGHUP that comes with it is the
        stop, and a process that outlives its terminal on purpose (setsid) trains on. A stop already asked for is
        kept."""
        if isinstance(e, BrokenPipeError) and self.signum is None:
            self.signum = SIGPIPE


def quiet_log(log: Callable[[str], None], flag: StopFlag) -> Callable[[str], None]:
    """`log` for the training loop: a line whose showing met stdout or stderr gone (errors.output_gone; the CLI's
    RunLog wrote it into log.txt first) is told to flag.output_closed, which stops training at the next safe point
    rather than at once, in the middle of a round. Any other error goes up as before."""
    def said(msg: str) -> None:
        try:
            log(msg)
        except OSError as e:
            if not output_gone(e):
                raise
            flag.output_closed(e)
    return said


def install_signals(flag: StopFlag) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to `flag`; returns the function that puts the previous handlers back. A signal that
    is ignored (SIG_IGN: a script's background job `wildgan train ... &` has SIGINT ignored, so that a Ctrl-C meant for
    the script's foreground command does not stop it) is left so, as Python, the CLI's teardown and
    distributed.stops_deferred leave it. So is one whose handler was set from C (None: an application that embeds
    Python set its own before Py_Initialize): signal.signal cannot put such a handler back (a TypeError for None as
    the loop ended), and SIG_DFL in its place would take the application's own handling from it for good.

    The CLI's SIGHUP reaches `flag` all the same (errors.take_stops), whatever SIGTERM's disposition: with SIGTERM
    left ignored here, it found no handler of the loop's and was raised as the CLI's stop in the middle of a
    checkpoint's write."""
    import threading

    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(s) in (signal.SIG_IGN, None):
                continue
            old[s] = signal.signal(s, flag)
        except ValueError:                     # not the main thread (e.g. a notebook worker): no handler
            pass
    # (main thread only: a worker thread's loop has no handler, and a hangup must not stop it in the main one's place)
    untake = take_stops(flag) if threading.current_thread() is threading.main_thread() else None

    def restore() -> None:
        if untake is not None:
            untake()
        for s, h in old.items():
            signal.signal(s, h)
    return restore


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[None]:
    """install_signals for the duration of a `with` block."""
    restore = install_signals(flag)
    try:
        yield
    finally:
        restore()


def all_finite(modules: dict[str, torch.nn.Module]) -> str | None:
    """Name of the first network with a NaN/inf weight, or None. (Here, below both training loops: each checks its
    networks before it saves a checkpoint.)"""
    for name, m in modules.items():
        # (the check load_pgan makes of a file's weights: 0.009 s for the paper preset on one CPU thread, against
        # 0.134 s for an isfinite(p).all() per weight)
        if nonfinite_tensors(list(m.parameters())):
            return name
    return None
