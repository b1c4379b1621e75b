"""Decoding many image files: in this process or in a pool of spawned processes (decode_workers, DecodePool), with
the serial decode's results in file order (decode_files); the check that the decoded images fit in the memory left
(warn_if_no_room, host_memory_available); and stacking them into one array (stack, release_freed_memory).
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
from PIL import Image

from ..errors import (API_SKIP_BAD, DEPTH16_KEYWORD, ConfigError, DataError, WildganError, depth16_keyword,
                      depth16_keyword_as, depth16_said, depth16_said_as, option_words, skip_bad_option,
                      skip_bad_said_as, warn_user)
from .image_decode import read_image_sized
from .imageset import (MixedSizes, Opts, enlarged_words, median_scaled_side, merge_stats, said_record, say_again,
                       tiny_images, tiny_images_warning, warn_crop, warn_of_data)
from .transforms import MAX_AUTO_RESOLUTION, next_pow2, own_channels, resize_one, to_channels


T = TypeVar("T")


def _progress(it: Iterable[T], total: int, desc: str, enabled: bool | None) -> Iterable[T]:
    if enabled is False or total < 500:
        return it
    try:
        from ..progress import progress_bar
    except ImportError:  # tqdm is a dependency, but a bar is never worth a crash
        return it
    return progress_bar(it, total=total, desc=desc, unit="img", disable=None if enabled is None else not enabled)


# ------------------------------------------------------------------------------------------ parallel decoding
# Decoding is one core's work per file (about 6,000 CIFAR-sized JPEGs per second), which caps the scoring of a pile of
# files far below what one GPU scores (issue 5: 20,000 img/s). Threads do not help: for small images the Python work
# around Pillow's decoder holds the GIL (measured: 2 threads 0.8x, 4 threads 0.6x of one). Processes do: a pool of
# `decode_workers()` spawned processes decodes consecutive batches of files, and the results are taken in file order,
# so that every array, skip, statistic and error is the serial decode's. Warnings given while decoding are recorded
# in the worker and given again by the main process, in order: wildgan's at the user's line, other libraries' (e.g.
# Pillow's) at their own place, each once per place as Python's default filter does (with the pool, a filter that
# turns a warning into an error acts only there, after the decode: one process is the reference behaviour).
PARALLEL_DECODE_MIN_FILES = 2048      # below this a pool costs more to start (~0.3 s a process) than it saves
CHUNK_POOL_MIN_BYTES = 128 * 2**20    # a chunk of fewer files whose files hold this much: seconds of decoding


def _file_bytes(files: Sequence[Path]) -> int:
    total = 0
    for f in files:
        try:
            total += os.stat(f).st_size
        except OSError:
            pass                      # an unreadable file is the decode's to report
    return total
_MEMINFO = "/proc/meminfo"


def host_memory_available() -> int | None:
    """Bytes of memory this process can still take, as the system sees it (Linux: MemAvailable, lowered by a cgroup
    limit when one is set, v2 or v1), or None where that is not known."""
    avail = None
    try:
        with open(_MEMINFO, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            return None
    for group in _cgroup_dirs():                     # a container's or a job's own limit, below the machine's
        # v2's files, else v1's (whose page cache counted over the folder's whole tree is total_inactive_file)
        for limit_file, used_file, cache in (("memory.max", "memory.current", "inactive_file "),
                                             ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                              "total_inactive_file ")):
            try:
                limit = (group / limit_file).read_text().strip()
                # (v1 says no limit with a huge number: PAGE_COUNTER_MAX pages)
                if limit == "max" or (limit.isdigit() and int(limit) >= _NO_LIMIT_V1):
                    break
                used = int((group / used_file).read_text())
            except (OSError, ValueError):
                continue
            try:
                # the page cache counts as used but is given back on demand: a pile just read must not look like no
                # room
                for line in (group / "memory.stat").read_text().splitlines():
                    if line.startswith(cache):
                        used -= int(line.split()[1])
            except (OSError, ValueError):
                pass                                # (no statistics: the limit still counts, cache and all)
            try:
                room = max(0, int(limit) - used)
            except ValueError:
                break
            avail = room if avail is None else min(avail, room)
            break
    return avail


_PROC_CGROUP = "/proc/self/cgroup"
_CGROUP_ROOT = "/sys/fs/cgroup"
_NO_LIMIT_V1 = 2**62          # a v1 limit at least this large is no limit (it reads 9223372036854771712)


def _cgroup_dirs() -> list[Path]:
    """This process's cgroup folders and the ones above them (a Slurm job or a systemd scope sets its limit on its
    own folder, not at the root): cgroup v2's, then v1's memory and cpu controllers' (Docker on a host still on v1
    mounts the container's own folder at the controller's root, which is among them), or nothing where there are
    none. Why v1 too: a container's memory limit under v1 went unseen, and a pile that did not fit was not warned
    of before the out-of-memory killer stopped the run without a message."""
    try:
        lines = Path(_PROC_CGROUP).read_text().splitlines()
    except OSError:
        return []
    root = Path(_CGROUP_ROOT)
    out: list[Path] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, own = parts
        # (v1 mounts joined controllers as one folder, cpu,cpuacct, most systems with a link by each name)
        mounts = [root] if hid == "0" and controllers == "" else \
            [root / name for c in ("memory", "cpu") if c in controllers.split(",") for name in (c, controllers)]
        for mount in mounts:
            here = mount / own.strip().lstrip("/")
            out += [here, *[p for p in here.parents if mount in (p, *p.parents)]]
    return list(dict.fromkeys(out))


TRAINING_HOLDS = 1.4      # training holds the decoded set plus its pyramid (1/3) and some scratch: about 1.4x
ROOM_SAMPLE = 16          # file headers read for the estimate (spread over the list: a pile's folders differ)
ROOM_CHECK_MIN_BYTES = 256 * 2**20   # below this no file is opened to estimate anything


def _local_copies() -> int:
    """The copies of a decoded data set one machine holds: under torchrun every process of a machine decodes it."""
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))


def room_checked(n_files: int, each_bytes: float) -> bool:
    """Whether warn_if_no_room weighs the memory free against n_files images of each_bytes decoded (below
    ROOM_CHECK_MIN_BYTES it says nothing, whatever the memory). Why public: a read made from another read without
    decoding (data.splits.read_for) says what a decode would only where this is False for both."""
    return int(n_files * each_bytes * _local_copies()) >= ROOM_CHECK_MIN_BYTES


def warn_if_no_room(files: Sequence[Path], o: Opts, what: str) -> None:
    """Warn before decoding when the decoded images (times TRAINING_HOLDS, more with rotated copies) would not fit
    in the memory left.

    Why: a pile too big for memory otherwise runs for minutes and is then killed by the system's out-of-memory
    killer, which leaves no message at all. The size is estimated from the headers of up to ROOM_SAMPLE files spread
    over the list (nothing is decoded), capped at the resolution the decode shrinks to; one colour file among them
    makes every image colour, as stacking does. It is only a warning, since the other files may differ."""
    if not files or o.probe_uniform:
        return
    limit = o.resolution or (None if o.resize == "error" else MAX_AUTO_RESOLUTION)
    pixels: list[int] = []
    shapes: set[tuple[int, int]] = set()
    colour = False
    for f in files[::max(1, len(files) // ROOM_SAMPLE)][:ROOM_SAMPLE]:
        if not os.path.isfile(f):
            continue                # (a named pipe's open waits for a writer: never opened; the decode refuses it)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(f) as img:
                    w, h, mode = img.width, img.height, img.mode
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - an unreadable file is the decode's to report
            continue
        if o.resolution is not None:
            h = w = o.resolution                        # every image is converted to R x R, larger or smaller
        elif limit is not None and max(h, w) > limit:
            h = w = limit                               # shrunk to limit x limit while decoding
        pixels.append(h * w)
        shapes.add((w, h))
        # (gray by its base mode: 1, L, LA, I, I;16*, F decode to one channel; a palette is taken as colour)
        colour = colour or Image.getmodebase(mode) != "L"
    if not pixels:
        return
    channels = o.channels or (3 if colour else 1)
    copies = _local_copies()
    each_bytes = sum(pixels) / len(pixels) * channels
    decoded = int(len(files) * each_bytes * copies)
    if not room_checked(len(files), each_bytes):
        return
    # rotated copies (--rotations) are new images, with their share of the pyramid: an upper bound, since only the
    # training part of a labelled set is rotated
    holds = TRAINING_HOLDS * (1 + o.rotations)
    avail = host_memory_available()
    if avail is None or decoded * holds <= avail:
        return
    (w, h), = shapes if len(shapes) == 1 else ((0, 0),)
    each = (f"{w}x{h}x{channels}" if w else f"about {each_bytes / 2**20:.2f} MiB") + " each, judged by " + \
        (files[0].name if len(pixels) == 1 else f"the headers of {len(pixels)} files") + \
        (f"; one copy in each of {copies} processes" if copies > 1 else "")
    turned = f", with {o.rotations} rotated cop{'ies' if o.rotations != 1 else 'y'} of each," if o.rotations else ""
    warn_user(f"{what}: {len(files)} images decode to about {decoded / 2**30:.1f} GiB ({each}) and training{turned} "
              f"holds up to about {holds:.1f}x that, but only "
              f"{avail / 2**30:.1f} GiB of memory is free: the system may stop the process without a message. A "
              f"smaller {option_words('--resolution', 'resolution=')}, "
              f"{option_words('--channels 1', 'channels=1')} (gray)" +
              (f", fewer {option_words('--rotations', 'rotations=')}" if o.rotations else "") +
              " or fewer images need less")


_DECODE_TASK_FILES = 64               # files per task: pickling overhead amortised, order kept at low latency


def decode_workers(n_files: int) -> int:
    """Processes for decoding n_files image files (1: no pool), by WILDGAN_DECODE_WORKERS: a number, or 'auto' (what
    the `wildgan` command sets) for one per usable core but one, at most 8, under torchrun shared among the node's
    processes.
    Unset (the Python API's default): 1, since spawned processes import the caller's main script again, which must
    then hold its work under `if __name__ == "__main__":` (set WILDGAN_DECODE_WORKERS=auto in a script that does, or
    in a notebook). Always 1 below PARALLEL_DECODE_MIN_FILES files."""
    env = os.environ.get("WILDGAN_DECODE_WORKERS", "").strip().lower()
    n: int | None = None
    if env not in ("", "auto"):
        try:
            n = int(env)
            if n < 0:
                raise ValueError(env)
            n = max(1, n)               # (0, as DataLoader's num_workers: decoded in this process, as 1)
        except ValueError:
            from ..config import as_typed

            # (as the user typed it, as WILDGAN_KERNELS is said: not Python's repr of the lowered text); a negative
            # count was taken as 1 and said nothing, where it reads as a typo of another number
            raise ConfigError(f"WILDGAN_DECODE_WORKERS must be a number of processes (0 or 1: none) or 'auto', got "
                              f"{as_typed(os.environ['WILDGAN_DECODE_WORKERS'])}") from None
    if n_files < PARALLEL_DECODE_MIN_FILES or env == "":
        return 1
    if n is not None:
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):          # not on Linux
        cores = os.cpu_count() or 1
    # a container's CPU limit (docker --cpus, a Kubernetes pod's limit) leaves the affinity mask at all the
    # machine's cores: 8 processes decoding on 2 cores' time were slower than one
    quota = _cpu_quota()
    if quota is not None:
        cores = min(cores, quota)
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    # one core is left to the main process, which takes the images over (unpickling, converting, stacking): on 2
    # cores a pool of 2 was slower than one process (0.6-1.3x, measured on a shared machine)
    return max(1, min(8, cores // local - 1))


def _cpu_quota() -> int | None:
    """The whole cores' time this process may use by its cgroup CPU limit (v2's cpu.max, v1's cpu.cfs_quota_us: quota
    per period, rounded down, at least 1; the lowest of its folders and those above them), or None where there is no
    limit."""
    cores = None
    for group in _cgroup_dirs():
        try:
            quota, period = (group / "cpu.max").read_text().split()[:2]
        except (OSError, ValueError):
            try:         # cgroup v1's two files (-1: no quota)
                quota, period = ((group / f).read_text().strip() for f in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
            except OSError:
                continue
        try:
            if quota == "max" or int(quota) < 0:
                continue
            n = max(1, int(quota) // int(period))
        except (ValueError, ZeroDivisionError):
            continue
        cores = n if cores is None else min(cores, n)
    return cores


# The file each decode worker is on, in memory shared with the main process (DecodePool's): a worker that dies (the
# OOM killer, a codec's crash) can tell nothing itself, and the pool's error said "a process died" of a pile of
# thousands of files without naming the one to look at. A slot of _SLOT_BYTES per worker, the path's bytes ended by
# a NUL byte, empty between files; set by _decode_task around each file (two small copies: nothing next to a decode).
# (4,096, Linux's PATH_MAX: at 1,024 a path of deep folders, or of a third as many characters in CJK, was cut to its
# first 1,023 bytes, which named a folder instead of the file, cut mid-character; one longer still keeps its end)
_SLOT_BYTES = 4096
_ELIDED = b"..."          # (ASCII: any file system encoding)
_DOING: tuple[Any, int] | None = None      # in a worker: (the shared slots, its own slot's number)
# in a worker: DecodePool's stop flag, set by its close(). Why: shutdown(cancel_futures=True) cancels only the tasks
# not yet handed to a process; those running, and the few queued to the processes already, were decoded to the end
# (after a Ctrl-C in a pile of large scans: up to workers + 1 tasks of _DECODE_TASK_FILES files, minutes), for
# nothing: a worker now stops at its next file once it is set, and its task's results are dropped
_STOP: Any = None


def _worker_init(doing: Any = None, slots_taken: Any = None, stop: Any = None) -> None:
    """A decode worker: Ctrl-C is the main process's to handle (it cancels what is queued), and a worker whose main
    process is gone (killed: SIGKILL, the OOM killer) exits instead of waiting for work forever. So is SIGHUP, which a
    dropped ssh session sends to the whole foreground job, workers included: the CLI's commands that train stop on it
    with their own line (cli.signals.on_sighup), where workers killed by it first were said as "a process decoding the
    image files died (out of memory?)"; under any other command the main process dies of it, and its workers follow.
    doing, slots_taken: DecodePool's shared slots and the count of them taken, where this worker takes its own
    (_mark_doing); stop: its stop flag (_STOP)."""
    import multiprocessing as mp
    import signal
    import threading

    global _DOING, _STOP
    _STOP = stop
    if doing is not None and slots_taken is not None:
        with slots_taken.get_lock():
            slot = slots_taken.value
            slots_taken.value += 1
        if (slot + 1) * _SLOT_BYTES <= len(doing):
            _DOING = (doing, slot)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parent = mp.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _decode_one(f: str | Path, depth16: str, limit: int | None, fit: str, channels: int | None = None,
                draft_for: int | None = None, held: bool = False) -> tuple[Any, ...]:
    """One file: ('ok', array, stats, (h0, w0), resized, c0, gray, warnings) or ('bad', why, warnings); the array
    shrunk to `limit` as the serial decode does, made gray first when `channels` is 1 (transforms.convert's order:
    gray, then resized), c0 (its file's channel count, the one it really holds or None: transforms.own_channels, 1
    for gray stored as RGB too, taken before it is made gray, and only when `held` asks: a pass over a gray image's
    pixels that training reads need not pay) (warnings: only a pool worker records them, see _decode_task).
    draft_for: the side a JPEG is read for (read_image_sized) when there is no limit (default: the limit).
    gray: for a file of gray content stored as RGB that is shrunk while channels are not chosen yet (None), the
    image made gray first and then shrunk, as a gray run takes it (stack), else None. Made from the decode at hand:
    stack read such a file a second time for it (the decode is most of the cost of a large file), and the pixels are
    that read's, the same decode made gray and shrunk the same way."""
    one: dict[str, Any] = {}
    try:
        a, (h0, w0) = read_image_sized(f, depth16, one, limit if limit is not None else draft_for)
    except DataError as e:
        return ("bad", str(e), [])
    c0 = (int(a.shape[2]), own_channels(a) if held else None)
    if channels == 1 and c0[0] != 1:
        a = to_channels(a, 1)
    resized = limit is not None and (h0 > limit or w0 > limit)
    gray = None
    if resized:
        if channels is None and c0[0] != 1 and c0[1] == 1:
            gray = resize_one(to_channels(a, 1), limit, fit)
        a = resize_one(a, limit, fit)
    return ("ok", a, one, (int(h0), int(w0)), resized, c0, gray, [])


def _decode_task(paths: list[str], depth16: str, limit: int | None, fit: str, channels: int | None,
                 draft_for: int | None, pil: dict[str, Any], held: bool = False,
                 said_as: str = API_SKIP_BAD, depth16_words: str | None = None,
                 depth16_key: str = DEPTH16_KEYWORD) -> list[tuple[Any, ...]]:
    """A worker's share of decode_files: _decode_one per file, with the warnings each gave recorded (message,
    category, filename, lineno, module) for the main process to give. `pil`: the caller's Pillow settings.
    `said_as`: the caller's errors.skip_bad_option(), so that the options the errors and warnings made here name
    are the caller's words (a spawned worker starts with the Python API's, and told a CLI user of depth16=);
    `depth16_words`: the caller's errors.depth16_said(), for the same reason (a command that reads by a run's rule);
    `depth16_key`: its errors.depth16_keyword() (run_study's caller sets the rule by data.depth16=)."""
    from PIL import ImageFile

    Image.MAX_IMAGE_PIXELS = pil["MAX_IMAGE_PIXELS"]
    ImageFile.LOAD_TRUNCATED_IMAGES = pil["LOAD_TRUNCATED_IMAGES"]
    out = []
    for f in paths:
        if _STOP is not None and _STOP.value:
            break                   # the pool is closing: these results are never taken
        with warnings.catch_warnings(record=True) as said, skip_bad_said_as(said_as), depth16_said_as(depth16_words), \
                depth16_keyword_as(depth16_key):
            warnings.simplefilter("always")
            _mark_doing(f)
            try:
                r = _decode_one(f, depth16, limit, fit, channels, draft_for, held)
            finally:            # (a MemoryError out of it: the worker lives on, its slot must not name the file)
                _mark_doing("")
        out.append(r[:-1] + ([said_record(w) for w in said],))
    return out


def _mark_doing(f: str | Path) -> None:
    """Put the file this worker is decoding in its slot ('': none), for the main process to name if it dies."""
    if _DOING is None:
        return
    doing, slot = _DOING
    b = _slot_name(os.fsencode(f)) + b"\0"
    doing[slot * _SLOT_BYTES:slot * _SLOT_BYTES + len(b)] = b


def _slot_name(b: bytes) -> bytes:
    """A path's bytes as they fit a slot (before its NUL): whole, else _ELIDED and the path's end, which holds the
    file's own name (the one to look for), from a character's first byte (UTF-8: a cut mid-character read as a stray
    escape)."""
    if len(b) < _SLOT_BYTES:
        return b
    tail = b[len(b) - (_SLOT_BYTES - 1 - len(_ELIDED)):]
    cut = 0
    while cut < min(3, len(tail)) and 0x80 <= tail[cut] < 0xC0:    # (UTF-8's continuation bytes: 10xxxxxx)
        cut += 1
    return _ELIDED + tail[cut:]


def _say_again(r: tuple[Any, ...]) -> None:
    """The warnings a pool worker recorded for one file, said here as every recorded warning is (imageset.say_again)."""
    say_again(r[-1])


class DecodePool:
    """One pool of decoding processes for a job of several chunks (`wildgan score` on a pile): started on first use,
    kept until close(). Why: starting a pool costs about a second (spawned processes import numpy and Pillow), and a
    pile of photos at 256 px is hundreds of chunks."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._ex: Any = None
        self._doing: Any = None          # the file each worker is on (_worker_init's slots), for died_error
        self._stop: Any = None           # set by close(): the workers stop at their next file (_STOP)
        self._started: Any = None        # the workers that got as far as their initializer (_worker_init's count)

    def executor(self) -> Any:
        if self._ex is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: forking a process that holds torch's thread pools (or a CUDA context) can deadlock
            ctx = mp.get_context("spawn")
            self._doing = ctx.RawArray("c", self.workers * _SLOT_BYTES)
            self._stop = ctx.RawValue("b", 0)
            self._started = ctx.Value("i", 0)
            self._ex = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init,
                                           initargs=(self._doing, self._started, self._stop))
        return self._ex

    def being_decoded(self) -> list[str]:
        """The files the workers were decoding when last looked at (one per worker at most, in no order that
        matters); read after the pool broke, the file of the worker that died is among them, unless it died between
        files."""
        if self._doing is None:
            return []
        raw = bytes(self._doing.raw)
        out = []
        for i in range(len(raw) // _SLOT_BYTES):
            name = raw[i * _SLOT_BYTES:(i + 1) * _SLOT_BYTES].split(b"\0", 1)[0]
            if name:
                out.append(os.fsdecode(name))
        return sorted(out)

    def died_error(self) -> WildganError:
        """The error for a pool whose process died: with the file(s) it was decoding where known (the OOM killer or a
        codec's crash stops a worker in the middle of a file: the one to look at, or take out, in a pile of
        thousands)."""
        if self._started is not None and self._started.value == 0:
            # none got to its initializer: each died importing the caller's main script again (spawn), which fails
            # multiprocessing's bootstrap check where the script's work is not under the guard; its error is printed
            # above by each process, and "out of memory?" sent the user the wrong way
            return WildganError(
                "the processes decoding the image files stopped while starting, before any file (their own error is "
                "printed above): each imports the main script again, so a script that reads images with "
                "WILDGAN_DECODE_WORKERS set must hold its work under 'if __name__ == \"__main__\":'; "
                "WILDGAN_DECODE_WORKERS=1 decodes them in this process")
        files = self.being_decoded()
        on = ("" if not files else f" while decoding {files[0]}" if len(files) == 1 else
              f" while decoding one of {', '.join(files)} (the files the pool's processes were on)")
        return WildganError(f"a process decoding the image files died (out of memory?){on}; WILDGAN_DECODE_WORKERS=1 "
                            f"decodes them in this process")

    def close(self) -> None:
        if self._ex is not None:
            if self._stop is not None:
                self._stop.value = 1    # what runs ends at its next file, and what is queued at once (_STOP)
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None


def job_decode_pool(files: Sequence[Path]) -> DecodePool | None:
    """The pool a job of several chunks shares, or None (decoded in this process): by decode_workers for the whole
    job, or for a job of fewer files whose files hold at least CHUNK_POOL_MIN_BYTES (large photos, ~40 ms each)."""
    workers = decode_workers(len(files))
    if workers == 1 and len(files) < PARALLEL_DECODE_MIN_FILES and _file_bytes(files) >= CHUNK_POOL_MIN_BYTES:
        workers = decode_workers(PARALLEL_DECODE_MIN_FILES)
    return DecodePool(workers) if workers > 1 else None


def _pooled(files: Sequence[Path], o: Opts, limit: int | None, workers: int,
            shared: DecodePool | None = None, draft_for: int | None = None, held: bool = False
            ) -> Iterator[tuple[Any, ...]]:
    """_decode_task's results for every file, in order, from a pool of `workers` processes (`shared`'s, else one of
    its own for these files); lazily (the caller may stop early: what is queued is cancelled when the generator is
    closed)."""
    import signal
    import threading
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    from PIL import ImageFile

    pil = {"MAX_IMAGE_PIXELS": Image.MAX_IMAGE_PIXELS, "LOAD_TRUNCATED_IMAGES": ImageFile.LOAD_TRUNCATED_IMAGES}
    tasks = (list(map(str, files[i:i + _DECODE_TASK_FILES])) for i in range(0, len(files), _DECODE_TASK_FILES))
    # per task, not per pool: a shared pool outlives the call, and a script may call cli.main and then the API
    said_as = skip_bad_option()
    depth16_words, depth16_key = depth16_said(), depth16_keyword()
    pending: deque = deque()
    own = shared is None
    pool = DecodePool(workers) if shared is None else shared
    workers = pool.workers
    try:
        # the workers start while the first tasks are queued: with Ctrl-C ignored meanwhile, which they inherit
        # until their initializer runs (else a Ctrl-C then prints a traceback from each of them)
        main_thread = threading.current_thread() is threading.main_thread()
        saved = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        try:
            ex = pool.executor()
            for _ in range(4 * workers):             # a bounded queue: decoded images wait for the caller, not RAM
                nxt = next(tasks, None)
                if nxt is None:
                    break
                try:
                    pending.append(ex.submit(_decode_task, nxt, o.depth16, limit, o.fit, o.channels, draft_for, pil,
                                             held, said_as, depth16_words, depth16_key))
                except BrokenProcessPool:            # (a shared pool's process may die between chunks)
                    raise pool.died_error() from None
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, saved)
        while pending:
            try:
                done = pending.popleft().result()
                nxt = next(tasks, None)
                if nxt is not None:
                    pending.append(ex.submit(_decode_task, nxt, o.depth16, limit, o.fit, o.channels, draft_for, pil,
                                             held, said_as, depth16_words, depth16_key))
            except BrokenProcessPool:
                raise pool.died_error() from None
            yield from done
    finally:
        if own:
            pool.close()
        else:                                        # the pool goes on: only this call's queued work is dropped
            for f in pending:
                f.cancel()


def decode_files(files: Sequence[Path], o: Opts, skipped: list[dict[str, str]],
                 desc: str = "decoding", what: str = "images", sizes: dict[tuple[int, int], Path] | None = None,
                 convert_one: Callable[[np.ndarray], np.ndarray] | None = None, max_skipped: int | None = None,
                 chunked: bool = False, stats: dict[str, Any] | None = None,
                 native: list[tuple[int, int]] | None = None,
                 pool: DecodePool | None = None, kinds: list[int] | None = None, held: list[int] | None = None,
                 grays: dict[int, np.ndarray] | None = None) -> tuple[list[np.ndarray], list[int]]:
    """Decode files; returns the arrays and the indices (into files) that were kept.

    `sizes`: collects the decoded (native) sizes, each with its first file. `chunked`: the caller decodes in chunks
    and warns about cropping once, instead of once per chunk. `convert_one`: applied to each image as soon as it is
    decoded (only the converted image is kept). `max_skipped`: stop after that many skipped files. `stats`: collects
    the decode statistics of the kept files, for the caller's warn_decode_stats. `native`: collects the native (H, W)
    of each kept image, in order (for stack's mixed-size warning). `pool`: the caller's pool of decoding processes
    (iter_images keeps one for all its chunks, job_decode_pool); without one, a pool of this call's own when the
    files are many (decode_workers). `kinds`: collects each kept file's own channel count (1 gray, 3 colour), in
    order: with o.channels 1 the arrays are gray already (made gray before they are shrunk, convert's order).
    `held`: collects the channels each kept file really holds, 1 for gray stored as RGB too (transforms.own_channels:
    what the warnings about images of another kind than a run's may count, readers.trained_kind); only given, it is
    taken. `grays`: collects, by position among the arrays returned, the gray twin _decode_one makes of a file of
    gray content stored as RGB that it shrank (o.channels None, `held` given), for stack to take in a gray run
    instead of reading the file again."""
    arrays, kept = [], []
    sizes = {} if sizes is None else sizes        # as decoded, before any shrinking
    bad: list[str] = []
    # shrink big photos now (memory grows with the largest): to the resolution asked for, else to the largest
    # automatic one (not when probing native sizes for the decode cache, which only holds small images)
    # (--resize error must still see, and refuse, mixed sizes)
    limit = o.resolution or (None if o.probe_uniform or o.resize == "error" else MAX_AUTO_RESOLUTION)
    # --resize error keeps the files' sizes to compare them, but a large JPEG is still read for the automatic
    # resolution it ends at (at most 256), as scoring reads it: the pixels of both are those of the one rule
    draft_for = MAX_AUTO_RESOLUTION if limit is None and not o.probe_uniform else None
    capped = 0
    # a native-size probe decodes one process's way: it stops at the first other size, where a pool would already
    # be decoding many more (large photos, at full size) that cannot be called back
    shared = None if o.probe_uniform else pool
    workers = 1 if o.probe_uniform else shared.workers if shared is not None else decode_workers(len(files))
    ask = held is not None
    results: Iterator[tuple[Any, ...] | None] = _pooled(files, o, limit, workers, shared, draft_for, ask) \
        if workers > 1 else itertools.repeat(None)
    try:
        for i, (f, r) in enumerate(_progress(zip(files, results), len(files), desc, o.progress)):
            if r is None:               # one process: decoded here (warnings point from this frame to the caller)
                r = _decode_one(f, o.depth16, limit, o.fit, o.channels, draft_for, ask)
            else:
                _say_again(r)
            if r[0] == "bad":
                if not o.skip_bad:
                    bad.append(r[1])    # go on: name every bad file at once, not one per run
                    if len(bad) >= MAX_NAMED_BAD_FILES:
                        break
                    continue
                skipped.append({"path": str(f), "reason": r[1]})
                if max_skipped is not None and len(skipped) >= max_skipped:
                    break
                continue
            _, a, one, (h0, w0), resized, c0, gray, _ = r
            sizes.setdefault((h0, w0), f)
            if o.probe_uniform and len(sizes) > 1:
                raise MixedSizes()       # a native-size probe: stop at the first other size, not after all
            capped += resized and o.resolution is None
            if native is not None:
                native.append((h0, w0))
            if kinds is not None:
                kinds.append(c0[0])
            if held is not None:
                held.append(c0[1])
            if grays is not None and gray is not None:
                grays[len(arrays)] = gray
            arrays.append(a if convert_one is None else convert_one(a))
            kept.append(i)
            if stats is not None:
                merge_stats(stats, one)
    finally:
        if workers > 1:
            results.close()             # a stop before the end: the pool's queued work is cancelled
    if capped:
        big_size = max(sizes, key=max)
        big, big_file = max(big_size), sizes[big_size]
        # named by its path under the folder read (the warning names the folder first), not by its base name: day
        # folders of one camera hold the same names (2024-01-05/IMG_0001.jpg, 2024-01-06/IMG_0001.jpg)
        try:
            big_name = Path(big_file).relative_to(what).as_posix()
        except ValueError:
            big_name = str(big_file)
        # (warn_of_data: about the data, said again where it is read from a decoded cache instead, readers; made by
        # it, in the words of whoever reads the cache)
        warn_of_data(lambda: f"{what}: {capped} image{'s' if capped != 1 else ''} larger than {MAX_AUTO_RESOLUTION} "
                             f"px (up to {big} px: {big_name}) reduced to {MAX_AUTO_RESOLUTION}x{MAX_AUTO_RESOLUTION} "
                             f"while decoding, the largest automatic resolution "
                             f"({option_words('--resolution', 'resolution=')} chooses another)")
    if bad:
        raise unreadable_files_error(bad)
    if not o.probe_uniform and not chunked:
        warn_crop(set(sizes), o.fit, o.resolution, what)
    return arrays, kept


MAX_NAMED_BAD_FILES = 100   # then it is the folder, not a few files, that is wrong


# unreadable_files_error's default: skip_bad as the user of the call in progress gives it (errors.skip_bad_option)
AS_CALLED = "as called"


def unreadable_files_error(reasons: Sequence[str], skip_option: str | None = AS_CALLED,
                           note: str = "") -> DataError:
    """One error naming every unreadable file (each reason names its file). skip_option: skip_bad as the user gives
    it (the CLI's --skip-bad, the Python API's skip_bad=True; by default that of the call in progress,
    errors.skip_bad_option), None where the caller has no such option (the Detector's scoring, whose rows are aligned
    with its inputs): then `note` says what to do instead. The error keeps the reasons as `.unreadable`, so that a
    caller of the API can say it again in its own terms."""
    if skip_option == AS_CALLED:
        skip_option = skip_bad_option()
    if len(reasons) == 1:
        hint = f" ({skip_option} leaves unreadable files out)" if skip_option else ""
        err = DataError(f"{reasons[0]}{hint}{note}")
    else:
        shown = "; ".join(reasons[:10])
        more = f"; and {len(reasons) - 10} more" if len(reasons) > 10 else ""
        stop = f" (stopped at {len(reasons)}: is this the right folder?)" if len(reasons) >= MAX_NAMED_BAD_FILES else ""
        hint = f" ({skip_option} leaves them out)" if skip_option else ""
        # (images given in memory, a list of PIL images, are named by their index: 'image 3: ...'; not files)
        what = "images" if all(re.match(r"image \d+: ", r) for r in reasons) else "image files"
        err = DataError(f"{len(reasons)} unreadable {what}{stop}{hint}: {shown}{more}{note}")
    err.unreadable = list(reasons)     # type: ignore[attr-defined]
    return err


def mixed_sizes_refused() -> str:
    """The end of the error for images of different sizes under resize='error' (stack, readers.iter_images): the
    option as the user of the call in progress gives it (errors.option_words)."""
    return (f"mixed sizes are not allowed with {option_words('--resize error', 'resize=' + repr('error'))}; use "
            f"{option_words('--resize resize', 'resize=' + repr('resize'))}")


def stack(arrays: list[np.ndarray], names: Sequence[str], o: Opts, what: str,
          native: Sequence[tuple[int, int]] | None = None, held: Sequence[int] | None = None,
          said: dict[str, Any] | None = None, grays: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Decoded images -> one [N, H, W, C] block. Consumes `arrays`: each entry is set to None once copied.

    Channels become o.channels (default: 1 if all images hold gray, else 3). Images larger than o.resolution are
    shrunk to it now (saves memory on big photos); smaller ones keep their size so that the caller's final
    convert() chooses between padding and resizing. Mixed sizes are unified (or refused with resize='error').
    native: the files' own (H, W), one per array, before the shrinking while decoding: the sizes a warning names.
    held: the channels each file really holds (decode_files' `held`: 1 for gray stored as RGB or RGBA too,
    transforms.own_channels), taken before any shrinking; without it, the arrays' own pixels are looked at.
    said: where a caller that caches the stacked images gets what the warnings about them were made from, to say
    them again when it reads its cache instead of decoding: 'tiny' = (the automatic resolution, [(name, (H, W))] of
    the images tiny_images_warning named), only where there were some; 'held' = the channels each image holds, by
    which the channels were chosen (for the reader's warning about gray and colour images mixed). grays:
    decode_files' gray twins of the RGB files of gray content it shrank (made gray, then shrunk): a gray run takes
    them, and does not read those files again. Consumed as `arrays` is.
    """
    if not arrays:
        raise DataError(f"{what}: no readable images")
    # gray or colour by what the images hold, not by their files' mode: an RGB(A) file of a gray scan is gray here
    # as `wildgan score` and evaluate count it (readers.trained_kind), so that such files do not turn a gray run
    # into RGB (3x the input) that its own images, scored, are then warned about as gray
    if held is None or len(held) != len(arrays):
        held = [own_channels(a) for a in arrays] if o.channels is None else [a.shape[2] for a in arrays]
    n_gray = sum(1 for c in held if c == 1)
    channels = o.channels or (1 if n_gray == len(arrays) else 3)
    if said is not None:
        # what each image holds, for the reader's one warning about gray and colour images mixed, said of the whole
        # data set once its splits are all read (readers.mixed_channels_warning), not of each split here
        said["held"] = list(held)
    own_sizes = list(native) if native is not None and len(native) == len(arrays) else None
    sizes = {a.shape[:2] for a in arrays}
    if o.resize == "error" and own_sizes is not None:
        # the files' own sizes: a large JPEG is read at a reduced scale, so two sizes could decode to one
        sizes = {tuple(hw) for hw in own_sizes}
    target = o.resolution
    if len(sizes) > 1:
        if o.probe_uniform:
            raise MixedSizes()
        if o.resize == "error":
            shape_of = (lambda i: tuple(own_sizes[i])) if own_sizes is not None else (lambda i: arrays[i].shape[:2])
            h0, w0 = shape_of(0)
            j = next(i for i in range(len(arrays)) if shape_of(i) != (h0, w0))
            h, w = shape_of(j)
            raise DataError(f"{names[j]}: image size {w}x{h} differs from {names[0]} ({w0}x{h0}); "
                            f"{mixed_sizes_refused()}")
        if target is None:
            # One common size is needed to stack: the next power of two of the *median* short side, so that a few
            # outsized files cannot quadruple the compute of a whole run (one 64x48 photo among 28x28 digits).
            short = np.sort(np.array([min(a.shape[:2]) for a in arrays]))
            median = int(short[(len(short) - 1) // 2])
            target = next_pow2(median)
            counts: dict[tuple[int, int], int] = {}
            own = list(native) if native is not None and len(native) == len(arrays) else \
                [a.shape[:2] for a in arrays]     # the files' own sizes, not those after shrinking big photos
            for hw in own:
                counts[hw] = counts.get(hw, 0) + 1
            ranked = sorted(counts.items(), key=lambda t: -t[1])
            if ranked[0][1] > 1:
                common = "most common: " + ", ".join(f"{w}x{h} ({n})" for (h, w), n in ranked[:4])
                # a file of the rarest size named (a stray 1x1 or a whole frame among crops is then found at once)
                (rh, rw), _ = ranked[-1]
                which = f"{rw}x{rh} e.g."
            else:
                # every size once (photos of their own sizes): 'most common: 179x149 (1), ...' named four arbitrary
                # ones as common; their range says what the pile is, and the smallest is the likeliest stray
                hs, ws = [hw[0] for hw in counts], [hw[1] for hw in counts]
                common = f"each once; widths {min(ws)}-{max(ws)}, heights {min(hs)}-{max(hs)} px"
                rh, rw = min(counts, key=lambda hw: (hw[0] * hw[1], hw))
                which = f"the smallest, {rw}x{rh}"
            rare = f", {which}: {names[own.index((rh, rw))]}" if len(names) == len(arrays) else ""
            # where that enlarges the median image 1.5x or more (160 px photos at 256), said in this warning, not in
            # one more (build_split sees these images already made square at target, and says nothing of them)
            side = median_scaled_side((a.shape[:2] for a in arrays), target, o.fit)

            def mixed_words() -> str:
                more = enlarged_words(side, target)
                return (f"{what}: images of {len(counts)} different sizes ({common}){rare}; all are made square "
                        f"({'letterboxed' if o.fit == 'letterbox' else 'centre-cropped'}) and resized to "
                        f"{target}x{target}, the next power of two of the median short side, {median} "
                        + (f"px, {more} (or choose another)" if more else
                           f"px (choose another with {option_words('--resolution', 'resolution=')})"))

            # (warn_of_data: said again where the stacked images are read from a decoded cache, readers; made by
            # it, in the words of whoever reads the cache: the advice depends on the networks' sizes, a resume and
            # who reads, and a `wildgan train` read advised --resolution 16 to a later f-AnoGAN run, which refuses it)
            warn_of_data(mixed_words)
    # (at the automatic resolution, set by the other images: one the user chose is said by no warning here, nor by
    # a read at native size converted to it, the two reads of a chosen resolution giving one set of warnings)
    if target is not None and o.resolution is None and not o.probe_uniform:
        own_hw = own_sizes if own_sizes is not None else [a.shape[:2] for a in arrays]
        small = tiny_images(zip(names, own_hw), target)
        msg = tiny_images_warning(small, target, what) if small else None
        if msg:
            # (warn_of_data: recorded in order among the other warnings about the data, so that a decoded cache read
            # instead says it again where the decode said it: readers; made by it, in the words of whoever reads)
            warn_of_data(lambda: tiny_images_warning(small, target, what))
            if said is not None:
                said["tiny"] = (target, small)
    mixed = len(sizes) > 1
    # the images shrunk to the automatic cap while decoding, when the common size is smaller: read again and shrunk
    # to it at once, as scoring reads a file for the run's resolution (shrinking twice would round twice, and would
    # enlarge a strip whose short side is below the cap before shrinking it)
    # RGB files of gray content in a gray run, shrunk while decoding, must be made gray before they are shrunk, as
    # scoring reads a file for a gray run (gray, then resized), not after: from the gray twin their decode made
    # (`grays`), or, where there is none (a caller that asked for none), read again
    again: dict[int, np.ndarray] = {}
    grays = {} if grays is None else grays
    limit = None if o.probe_uniform or (o.resolution is None and o.resize == "error") else \
        o.resolution or MAX_AUTO_RESOLUTION
    smaller = False
    if limit is not None and own_sizes is not None:
        smaller = o.resolution is None and target is not None and target < MAX_AUTO_RESOLUTION
        # (a file the decode made a gray twin of, shrunk to this very limit: the twin is that read's pixels)
        reread = [i for i, hw in enumerate(own_sizes) if max(hw) > limit and
                  (smaller or (channels == 1 and arrays[i].shape[2] != 1 and i not in grays))]
        if reread:
            # by the decoder itself (its pool of processes for many files): each file as scoring reads it for target
            got, kept = decode_files([Path(names[i]) for i in reread],
                                     replace(o, resolution=target if smaller else limit, skip_bad=False,
                                             channels=1 if channels == 1 else o.channels),
                                     [], desc="reading large images again", what=what, chunked=True)
            again = dict(zip((reread[k] for k in kept), got))
    out = None
    freed = 0
    for i, a in enumerate(arrays):
        arrays[i] = None  # type: ignore[call-overload]
        freed += a.nbytes
        twin = grays.pop(i, None)
        if channels == 1 and twin is not None and not smaller:
            a = twin
        a = again.pop(i, a)
        a = to_channels(a, channels)
        if target is not None and (mixed or a.shape[0] > target or a.shape[1] > target):
            a = resize_one(a, target, o.fit)
        if out is None:
            out = np.empty((len(arrays),) + a.shape, np.uint8)   # (its pages are taken as they are written)
        out[i] = a
        if freed >= _TRIM_EVERY_BYTES:
            # the decoded images are many small blocks that the allocator keeps after they are freed: handed back as
            # the block fills, a pile is held about once while it is stacked, not twice
            release_freed_memory()
            freed = 0
    release_freed_memory()
    assert out is not None
    return out


_TRIM_EVERY_BYTES = 64 * 2**20
_MALLOC_TRIM: Any = None


def release_freed_memory() -> None:
    """Hand memory that Python has freed back to the system, where the C library can (glibc's malloc_trim; elsewhere
    nothing). Why: glibc keeps freed small blocks for reuse, so a process that decoded a pile image by image and then
    copied it into one array still holds both copies in its resident memory, and the next large array (the
    training set's shuffle, the pyramid) cannot reuse them."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):   # (ctypes.CDLL(None) is a TypeError on Windows)
            import ctypes

            try:
                _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
            except Exception:  # noqa: BLE001 - not glibc (musl without it): nothing to hand back this way
                _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)
