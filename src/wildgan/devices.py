"""Device selection, shared by training and scoring; and the torch state a Python API call puts back for its caller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .config import as_typed
from .errors import ConfigError, WildganError

# the --device spellings wildgan documents (torch takes more, e.g. mps, which no part of wildgan is tested on)
DEVICE_SPELLINGS = "auto, cpu, cuda or cuda:N (N: a GPU's number, from 0)"


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' = CUDA when available, else CPU; asking for CUDA without one is a clear error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = check_device_name(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise WildganError(f"device {as_typed(name)} was requested but no CUDA device is available")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        # torch's own "invalid device ordinal" comes later, from deep inside the first kernel
        n = torch.cuda.device_count()
        raise WildganError(f"device {as_typed(name)} was requested but this machine has {n} CUDA "
                           f"device{'s' * (n != 1)} (cuda:0{f' to cuda:{n - 1}' if n > 1 else ''})")
    return dev


def check_device_name(name: str) -> torch.device:
    """The torch.device a --device value names; a ConfigError for a typo (torch's own message is a RuntimeError
    listing a dozen backends, and it came only once the run folder had been written)."""
    try:
        return torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        # said as typed (gpu, not Python's 'gpu'), with the spellings to use; "gpu" is the usual guess for a GPU
        gpu = " (a GPU is cuda)" if isinstance(name, str) and name.strip().lower().startswith("gpu") else ""
        raise ConfigError(f"device {as_typed(name)} is not a device{gpu}: use {DEVICE_SPELLINGS}") from None


@contextmanager
def caller_torch_state_kept(threads: int | None = None) -> Iterator[None]:
    """A block of the Python API that puts torch's process-wide state back for its caller on the way out, however it
    ends (an exception, KeyboardInterrupt): the intra-op thread count and the global RNG (CPU, and CUDA's).

    Training sets both on purpose (TrainConfig.threads, and torch.manual_seed(seed) before it builds the networks), for
    the training and what follows it in the same call (its training scores, a study's evaluation): numbers depend on
    them, so they stay as set until the outermost such block of the call ends. `threads` (None: leave the count as
    it is) sets the count for the block. Nested blocks each put back what they found.

    CUDA's generators are saved only where CUDA was initialised already: asking for them would initialise it (seconds,
    GPU memory, and a fork-based worker pool after it fails). Where this block initialised it, they are seeded again
    with the caller's torch.initial_seed(), the seed torch would have given them at the caller's first CUDA use (after
    torch.manual_seed(s) or none: the default seed); a caller who seeded CUDA alone before it was initialised
    (torch.cuda.manual_seed) gets torch.initial_seed()'s stream instead. Where CUDA is not initialised on the way out
    either, a seeding in the block (torch.manual_seed queues CUDA's seed for its first use) is queued over with the
    caller's torch.initial_seed() too: else the caller's first CUDA use drew from the run's seed. Where the block
    raised, a failure to put the state back (CUDA's calls after a CUDA fault) is a note on the block's error, which
    goes on; without one, it is raised."""
    saved_threads = torch.get_num_threads()
    cpu = torch.get_rng_state()
    seed = torch.initial_seed()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def put_back() -> None:
        if torch.get_num_threads() != saved_threads:
            torch.set_num_threads(saved_threads)
        # (the block seeded torch's RNG where its initial seed changed: CUDA's seed queued too, if CUDA is not up)
        reseeded = torch.initial_seed() != seed
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        elif torch.cuda.is_initialized() or reseeded:
            # seeded now where initialised, else queued for CUDA's first use (no initialisation: torch's _lazy_call)
            torch.cuda.manual_seed_all(seed)

    try:
        if threads:
            torch.set_num_threads(int(threads))
        yield
    except BaseException as exc:
        # the block's own error is the one to hear: after a CUDA fault (a device-side assert) every CUDA call fails,
        # and a failure to put CUDA's generators back would replace it; told in a note on it instead
        try:
            put_back()
        except Exception as failed:
            exc.add_note(f"(then putting back torch's state for the caller failed too: "
                         f"{type(failed).__name__}: {failed})")
        raise
    put_back()
