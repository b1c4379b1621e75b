"""Checkpoints: weights in safetensors, everything else in a JSON sidecar. Loading never unpickles.

A checkpoint named NAME in a folder is two files:
  NAME.safetensors  flat dict of tensors (network weights, optimiser moments, RNG states)
  NAME.json         metadata: format version, config, schedule position, seed, package versions, and
                    the sha256 of NAME.safetensors.
Both are written whole to temporary files and fsynced before either is renamed, weights first and JSON
last: the JSON is the commit marker, so a checkpoint whose JSON exists and whose checksum matches is
complete. A kill leaves either the previous checkpoint of that name or the new one (and the temporary
files of a write it cut), never a half-written file that looks good; only one in the instant between
the two renames leaves the new weights beside the previous JSON (or alone), which loading refuses
as a checksum mismatch (or a missing JSON), naming the file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import DETECTOR_KIND, FANOGAN_KIND, NETWORKS_KIND, TRAIN_STATE_KIND  # noqa: F401  (re-exported)
from .config import DETECTOR_DIR_NAME, kernels_from_env
from .errors import CheckpointError, ConfigError, option_words, shell_word
from .fileio import atomic_write_bytes, atomic_write_text, file_digest, version_state  # noqa: F401  (re-exported)
from .fileio import remove_files, temp_files, umask

FORMAT_VERSION = 1
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+ and torch.save zip archives


# A loader checks the `kind` (config.py: the constants), because another kind's file often loads far enough to fail
# later with a message that does not name the mix-up (an f-AnoGAN checkpoint as "no network config", a Detector's
# networks as if they were a run's)
PGAN_KINDS = (NETWORKS_KIND, TRAIN_STATE_KIND)
_KIND_NAMES = {TRAIN_STATE_KIND: "a pGAN training checkpoint", NETWORKS_KIND: "a pGAN run's final networks",
               FANOGAN_KIND: "an f-AnoGAN checkpoint", DETECTOR_KIND: "a Detector saved by Detector.save, which "
               "Detector.load opens"}


class NewerFormatError(CheckpointError):
    """A checkpoint written by a newer wildgan (format_version above FORMAT_VERSION). Sound as far as anyone knows:
    the searches for a good checkpoint (a resume, a rollback, the scoring of a run without final networks) stop on it
    with its "upgrade wildgan", rather than skipping it, or setting it aside as damaged, for an older one."""


def check_kind(meta: dict[str, Any], path: Path, expected: str | Sequence[str]) -> None:
    """CheckpointError naming the file, the kind it holds and the kind(s) expected, unless meta's kind is expected.
    A missing kind is refused like a wrong one: every wildgan has written it into every checkpoint."""
    want = (expected,) if isinstance(expected, str) else tuple(expected)
    found = meta.get("kind")
    if found in want:
        return
    what = f"kind {found!r}" if found is not None else "no kind recorded"
    if found in _KIND_NAMES:
        what = f"{what}: {_KIND_NAMES[found]}"
    raise CheckpointError(f"{_json_path(path)}: a checkpoint of the wrong kind ({what}); expected "
                          f"{' or '.join(repr(k) for k in want)} ({', or '.join(_KIND_NAMES.get(k, k) for k in want)})")


def _sha256(path: Path) -> str:
    return file_digest(path, "sha256")


def source_commit(package_dir: Path | None = None) -> str | None:
    """The git commit wildgan's source was checked out at, when it runs from a git checkout (an editable install, a
    clone on PYTHONPATH), with '+dirty' when the package's tracked files differ from it; None otherwise (an installed
    wheel, no git). The version number alone cannot tell two development builds apart, and a checkpoint should say
    which code trained it. A package folder inside some other git tree (a virtual environment in a user's project)
    is not taken for a checkout: its own files must be tracked."""
    import subprocess

    folder = Path(__file__).resolve().parent if package_dir is None else Path(package_dir)
    if folder in _SOURCE_COMMITS:
        return _SOURCE_COMMITS[folder]

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = None
    if git("ls-files", "--error-unmatch", "__init__.py") is not None:
        head = git("rev-parse", "HEAD")
        if head:
            dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
            commit = head + ("+dirty" if dirty else "")
    _SOURCE_COMMITS[folder] = commit          # once per process: git is not asked at every checkpoint
    return commit


_SOURCE_COMMITS: dict[Path, str | None] = {}


def short_commit(source: str) -> str:
    """A recorded source commit (source_commit's '<40 hex>' or '<40 hex>+dirty') cut to 12 hex digits, for what a
    person reads (a run's report, a study's tables): the full hash made those lines long for no gain, as 12 digits
    name a commit of this repository. The records (checkpoints, metrics.json, results.jsonl) keep all 40. Anything
    else is kept as recorded."""
    head, plus, rest = source.partition("+")
    if len(head) == 40 and all(ch in "0123456789abcdef" for ch in head.lower()):
        return head[:12] + plus + rest
    return source


def environment_versions() -> dict[str, str]:
    from . import __version__

    import numpy

    found = {"wildgan": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
             "python": sys.version.split()[0], "platform": platform.platform()}
    commit = source_commit()
    if commit:
        found["wildgan_source"] = commit
    kernels = kernels_from_env()
    if kernels != "auto":
        found["kernels"] = kernels      # (WILDGAN_KERNELS=plain: recorded only when set, as it is rare)
    return found


def save_checkpoint(folder: Path, name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Save `tensors` + `meta` atomically as folder/name.{safetensors,json}; returns the JSON path."""
    folder = Path(folder)
    versions = environment_versions()     # (first: its ConfigError, a typo in WILDGAN_KERNELS, leaves no weights file)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}.safetensors"
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    tmp = str(folder / f".{name}.{os.getpid()}.{os.urandom(4).hex()}.safetensors.tmp")
    # made inside the try that removes it: made before it, a Ctrl-C landing between the two left the file behind
    try:
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            tmp = ""                      # (a file of that name not made here: never removed here)
            raise
        # one metadata key: safetensors writes its metadata map in a per-process random order, so with two keys
        # identical weights got one of two different files (and sha256) depending on the process
        try:
            save_file(flat, tmp, metadata={"format": weights_mark(meta.get("kind"))})
        except SafetensorError as e:      # e.g. a full disk: safetensors' own error type, not an OSError
            code = _os_error_number(str(e))
            if code is not None:
                # the file system's error (a full disk, ENOSPC; a file-size limit, EFBIG; a quota, EDQUOT) raised as
                # the OSError it is, as every other write of the run raises it: as a CheckpointError it exited 2,
                # "bad input", where the docs' exit codes (and the JSON's write, failing the same way) give 1
                raise OSError(code, f"could not write the checkpoint: {os.strerror(code)}", str(weights)) from None
            raise CheckpointError(f"{weights}: could not write the checkpoint: {e}") from None
        # (safetensors wrote it by name; reopened to write, not read: Windows' fsync, FlushFileBuffers, refuses a
        # read-only handle, where POSIX syncs through any descriptor)
        with open(tmp, "r+b") as f:
            os.fsync(f.fileno())
        digest = _sha256(Path(tmp))
        # safetensors writes its file 0600: make the weights as readable as the run's other files (umask applied)
        os.chmod(tmp, 0o666 & ~umask())
        # caller's meta first: the integrity fields below must never be overridden by stale values
        full_meta = {**meta, "format": "wildgan", "format_version": FORMAT_VERSION, "weights": weights.name,
                     "sha256": digest, "versions": versions}
        meta_path = folder / f"{name}.json"
        # both files written whole (and fsynced) before either is renamed, the weights first and the JSON, the commit
        # marker, last: the JSON used to be written after the weights' rename, and a kill while it was written and
        # synced (a saved Detector's JSON holds every training score) left new weights beside the old JSON, the
        # checkpoint it replaced (a det.save over its earlier save) lost and the new one not there; now only a kill
        # in the two renames can
        atomic_write_text(meta_path, json.dumps(full_meta, indent=2, sort_keys=True), written=[(weights, tmp)])
    finally:
        if tmp and os.path.exists(tmp):     # (not once renamed into place)
            os.unlink(tmp)
    return meta_path


def _os_error_number(message: str) -> int | None:
    """The errno in a SafetensorError's message where the file system refused the write, which safetensors (Rust)
    words as `... I/O error: No space left on device (os error 28)`; None for any other of its errors."""
    import re

    found = re.search(r"\(os error (\d+)\)", message)
    return int(found.group(1)) if found else None


def weights_mark(kind: object) -> str:
    """The value of the one metadata key ("format") of a weights file: "wildgan/VERSION KIND" for a saved Detector's,
    so that its .safetensors whose JSON half is gone (a save killed between the two, a file copied alone) still says
    what it is (Detector.save replaces only a saved Detector's), and "wildgan/VERSION" alone for every other kind, the
    bytes wildgan always wrote. A run's files keep those bytes because their sha256 names the networks: eval.json,
    the training-score cache and a saved Detector's source_sha256 compare it with the run's network-final.json, and
    a pre-kind run's finished networks written again by a --resume (the same weights) would otherwise get a new
    sha256, its evaluation then said to be "of other networks" and its training scores computed again."""
    marked = kind == DETECTOR_KIND
    return f"wildgan/{FORMAT_VERSION}" + (f" {kind}" if marked else "")


def weights_kind(path: Path) -> tuple[bool, str | None]:
    """(whether the .safetensors at path was written by wildgan, the kind its header records or None: weights_mark
    records only a saved Detector's), read from its header alone (no tensor is loaded). CheckpointError naming the
    file when it is not a readable safetensors file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            mark = (f.metadata() or {}).get("format", "")
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not readable as a safetensors file ({e})") from None
    version, _, kind = mark.partition(" ")
    return version.startswith("wildgan/"), kind or None


def _json_path(path: Path) -> Path:
    path = Path(path)
    if path.suffix == ".safetensors":
        return path.with_suffix(".json")
    if path.suffix != ".json":
        return path.with_name(path.name + ".json")
    return path


def read_meta(path: Path) -> dict[str, Any]:
    """Read and validate a checkpoint's JSON sidecar (no weights)."""
    meta_path = _json_path(path)
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: checkpoint metadata not found")
    raw = meta_path.read_bytes()
    if raw[:1] == _PICKLE_MAGIC[0] or raw[:4] == _PICKLE_MAGIC[1]:
        raise CheckpointError(f"{meta_path}: looks like a pickle/torch.save file; wildgan never unpickles model files")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{meta_path}: metadata is not valid JSON (truncated or corrupt?): {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != "wildgan":
        raise CheckpointError(f"{meta_path}: not a wildgan checkpoint (missing format marker)")
    version = meta.get("format_version")
    state = version_state(version, FORMAT_VERSION)
    if state == "newer":
        from . import __version__

        raise NewerFormatError(f"{meta_path}: written by a newer wildgan (checkpoint format_version {version}; "
                               f"wildgan {__version__} reads {FORMAT_VERSION}): upgrade wildgan to load it")
    if state != "ok":
        # every wildgan has written it (a whole number): anything else here is a damaged or hand-edited file
        raise CheckpointError(f"{meta_path}: bad checkpoint format_version {version!r} (a whole number expected; "
                              f"this wildgan reads {FORMAT_VERSION}): the metadata is damaged")
    _check_meta_fields(meta, meta_path)
    return meta


def saved_detector_meta(path: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """Where `path`, given for a run directory, names a Detector saved by the Python API (PATH.json +
    PATH.safetensors, either file or the stem PATH, or a folder det.save(DIR) put DIR/detector.json in): its metadata
    file and metadata; None otherwise. The one test of the run readers' refusal (refuse_saved_detector) and
    Detector.from_run's, each said in its own words."""
    p = Path(path)
    # a folder det.save(DIR) put a Detector in (a run folder that also holds one is still read as the run)
    if p.is_dir():
        if (p / "config.json").is_file():
            return None
        meta_path = p / f"{DETECTOR_DIR_NAME}.json"
    else:
        meta_path = p.with_suffix(".json") if p.suffix in (".json", ".safetensors") else p.with_name(p.name + ".json")
    if not meta_path.is_file():
        return None
    try:
        meta = read_meta(meta_path)
    except CheckpointError:
        return None                 # not a wildgan file: the run reader's own message says what it is not
    return (meta_path, meta) if meta.get("kind") == DETECTOR_KIND else None


def _refuse_a_non_path(path: Any, reader: str) -> None:
    """ConfigError where a Python caller gave a run reader something other than a path. The Detector itself
    (export_onnx(det, ...), the likeliest slip) and None (a loaded Detector's run_dir_ once its run folder is gone)
    otherwise failed in pathlib with a bare TypeError, where Detector.load / from_run name their argument."""
    if isinstance(path, str) or (isinstance(path, os.PathLike) and isinstance(os.fspath(path), str)):
        return
    # (by name, not isinstance: importing wildgan.detector here would be circular)
    if type(path).__name__ == "Detector" and type(path).__module__ == "wildgan.detector":
        run = getattr(path, "run_dir_", None)      # None where unfitted (NotFittedError is an AttributeError)
        if run is not None and (Path(run) / "config.json").is_file():
            use = f": pass the folder its networks are in, {reader}({str(run)!r}) (det.run_dir_)"
        else:
            use = ("; this Detector has no run folder (not fitted, or the folder it was fitted in is gone): fit it "
                   f"into one, Detector(run_dir=DIR, ...).fit(X), and give {reader} DIR")
        raise ConfigError(f"{reader} reads a run folder (str or pathlib.Path), not a Detector{use}")
    hint = (": pass it as str (os.fsdecode(path))" if isinstance(path, (bytes, bytearray)) else
            " (a Detector's run_dir_ is None where the folder it was fitted in is gone)" if path is None else "")
    raise ConfigError(f"{reader}'s run folder must be a path (str or pathlib.Path), got {type(path).__name__} "
                      f"{path!r:.80}{hint}")


def refuse_saved_detector(path: str | Path, reader: str, *, cli: bool = False, scoring_hint: bool = True) -> None:
    """ConfigError where `path`, given for a run directory, names a Detector saved by the Python API (Detector.save
    writes PATH.json + PATH.safetensors, or DIR/detector.json + .safetensors in a folder; PATH, either file or the
    folder may be given), saying what to use instead; nothing otherwise, the run reader's own message then says what
    the path is not. Without this a reader said only that the file "is a file, not a run directory" (the CLI's
    commands checked it; load_model, export_onnx, evaluate_run and report did not). `reader` names what reads run
    folders: a `wildgan` command (cli=True: `wildgan score`) or a Python function (`load_model`), the way the user
    gave the path to it. scoring_hint: say that Detector.load(...).decision_function scores with it (not for export,
    which it does not replace)."""
    if not cli:
        _refuse_a_non_path(path, reader)
    found = saved_detector_meta(path)
    if found is None:
        return
    meta_path, meta = found
    name = f"`wildgan {reader}`" if cli else reader

    def reads(run: str) -> str:     # the reader given a run folder, as the user would type it
        return f"`wildgan {reader} {run}`" if cli else f"{reader}({run})"

    use = (f" A saved Detector is used from Python: Detector.load({str(meta_path)!r}).decision_function(X) scores "
           f"images X (files, a folder or an array; .predict(X): 0/1 by its threshold)." if scoring_hint else "")
    # the run folder its fit wrote (or from_run read), while that still holds the very networks it saved
    run = Path(meta["run_dir"]) if isinstance(meta.get("run_dir"), str) else None
    same = False
    if run is not None and (run / "config.json").is_file():
        for net in ("network-final.json", "fanogan-final.json"):
            try:
                same = same or (bool(meta.get("source_sha256")) and (run / net).is_file()
                                and read_meta(run / net).get("sha256") == meta["source_sha256"])
            except CheckpointError:
                pass
    if same:
        where = f" Its networks are those of the run {run}: {reads(shell_word(run) if cli else repr(str(run)))} " \
                f"reads that."
    else:
        then = (f" (the run folder its fit wrote, {run}, holds other networks now)"
                if run is not None and (run / "config.json").is_file() else "")
        opens = "and Python opens with Detector.from_run(DIR)" if cli else "as Detector.from_run(DIR) opens it"
        where = (f" For {name}, fit the Detector into a run folder{then}: Detector(run_dir=DIR, ...).fit(X) writes "
                 f"DIR, a run directory that {reads('DIR')} reads ({opens}).")
    raise ConfigError(f"{path} is a Detector saved by the Python API (Detector.save), not a run directory, which "
                      f"{name} reads.{use}{where}")


# the sidecar's numbers that loading reads (int() / float() on them): checked here so that a hand-edited or damaged
# value is a CheckpointError naming the file, not a TypeError deep in the scoring or the resume
_META_INTS = ("nimg", "iteration", "epoch", "pos", "rollbacks", "seed")
_META_NUMBERS = ("kimg", "lod", "lr", "elapsed_s")


def _check_meta_fields(meta: dict[str, Any], meta_path: Path) -> None:
    weights = meta.get("weights")
    # the weights are looked up beside the JSON: a path ('../x', '/etc/passwd') would read a file elsewhere, and a
    # non-string made pathlib raise a bare TypeError
    if not isinstance(weights, str) or not weights or weights in (".", "..") or "/" in weights or "\\" in weights \
            or "\0" in weights:
        raise CheckpointError(f"{meta_path}: bad 'weights' entry {weights!r} (the name of a file beside it expected)")
    if not isinstance(meta.get("sha256"), str):
        raise CheckpointError(f"{meta_path}: no sha256 of the weights in the metadata (truncated or hand-edited?)")
    for key in _META_INTS + _META_NUMBERS:
        v = meta.get(key)
        if v is None:
            continue
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if ok and key in _META_INTS:
            ok = float(v).is_integer() and (v >= 0 or key == "seed")
        if not ok:
            raise CheckpointError(f"{meta_path}: bad '{key}' value {v!r} in the metadata (a finite "
                                  f"{'whole ' if key in _META_INTS else ''}number expected)")


def load_checkpoint(path: Path, verify: bool = True, kind: str | Sequence[str] | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load (tensors, meta). Checks the checksum; refuses pickles; raises CheckpointError naming the file. `kind`:
    the kind(s) accepted (check_kind), checked before the weights are read; None accepts any."""
    meta_path = _json_path(path)
    meta = read_meta(meta_path)
    if kind is not None:
        check_kind(meta, meta_path, kind)
    weights = meta_path.with_name(meta["weights"])
    if not weights.is_file():
        raise CheckpointError(f"{weights}: checkpoint weights not found")
    with open(weights, "rb") as f:
        head = f.read(9)
    # a safetensors file starts with its header length (u64, little-endian) and the JSON header's '{'; only when it
    # does not is a pickle / torch.save zip signature meaningful (a header length of 128 + 256k also starts 0x80)
    size = weights.stat().st_size
    is_safetensors = len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= size - 8
    if not is_safetensors and (head[:1] == _PICKLE_MAGIC[0] or head[:4] == _PICKLE_MAGIC[1]):
        raise CheckpointError(f"{weights}: looks like a pickle/torch.save file; wildgan never unpickles model files")
    if verify:
        digest = _sha256(weights)
        if digest != meta.get("sha256"):
            # (a pair whose weights were replaced without their JSON: a save killed between its two renames, the
            # weights copied alone; said beside the usual truncated copy)
            raise CheckpointError(f"{weights}: checksum mismatch (file truncated or corrupt, or not the weights "
                                  f"{meta_path.name} was written with: replaced alone, or a save killed between "
                                  f"its two files): expected {meta.get('sha256')}, got {digest}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{weights}: cannot read safetensors weights: {e}") from None
    return tensors, meta


_CKPT_RE = re.compile(r"^ckpt-(\d+)\.json$")


def list_checkpoints(folder: Path) -> list[Path]:
    """Periodic checkpoints in `folder`, oldest first (by images seen in the name)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _CKPT_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_good_checkpoint(folder: Path, log: Any = None, set_aside_bad: bool = True,
                           kind: str | Sequence[str] | None = None
                           ) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Newest checkpoint that loads and verifies, or None when the folder has none.

    Corrupt ones newer than it are reported through `log` and set aside (renamed *.corrupt.json / .safetensors, not
    deleted): left in place they would count as the newest when checkpoints are pruned, and the new ones written
    after the resume would be deleted instead of them. When checkpoints exist but none loads, CheckpointError: a
    resume must not silently start the run again from scratch over its history. set_aside_bad=False: report only
    (see find_good_checkpoint). `kind`: the kind(s) a resume accepts; the newest good checkpoint of another kind is a
    CheckpointError, and nothing is set aside (see check_kind); so is one written by a newer wildgan
    (NewerFormatError) that is newer than any good one."""
    found, bad = find_good_checkpoint(folder, log=log, kind=kind)
    if set_aside_bad:
        set_aside_all(bad, log)
    return found


def find_good_checkpoint(folder: Path, log: Any = None, kind: str | Sequence[str] | None = None
                         ) -> tuple[tuple[dict[str, torch.Tensor], dict[str, Any]] | None, list[Path]]:
    """latest_good_checkpoint without touching the folder: (the newest good checkpoint or None, the corrupt ones
    newer than it, newest first, for set_aside_all). The ranks of a distributed resume each read the folder this way
    and rank 0 sets the corrupt ones aside only once they all have: renamed while another rank read them, a file
    could vanish between that rank's check and its read (a FileNotFoundError of its own, the job stopped by it)."""
    cks = list_checkpoints(folder)
    bad: list[tuple[Path, CheckpointError]] = []
    for p in reversed(cks):
        try:
            found = load_checkpoint(p)
            _check_name_matches(p, found[1])
        except NewerFormatError:
            raise                            # not damaged: going on from an older one would train over it
        except CheckpointError as e:
            if log is not None:
                log(f"warning: skipping bad checkpoint: {e}")
            bad.append((p, e))
            continue
        # after the load, not in it: a sound file of another kind means the folder is not this kind of run's, so
        # it is neither skipped for an older one nor set aside, and nothing in the folder is touched
        if kind is not None:
            check_kind(found[1], p, kind)
        return found, [q for q, _ in bad]
    if bad:
        raise CheckpointError(f"{folder}: none of its {len(bad)} checkpoint(s) loads (newest: {bad[0][1]}); the run "
                              f"cannot continue from them. Restore a good checkpoint there, or start the run again "
                              f"({option_words('--overwrite', 'overwrite=True')} deletes it)")
    return None, []


def _check_name_matches(path: Path, meta: dict[str, Any]) -> None:
    """A pGAN checkpoint is named by its image count (checkpoint_name): one whose `nimg` says otherwise was edited by
    hand, and a resume from it went on from that count with networks that had seen the other (dropping the stats rows
    after it, and naming the checkpoints it writes by it). f-AnoGAN's are named by their step and record no nimg."""
    m = _CKPT_RE.match(_json_path(path).name)
    if m and meta.get("kind") == TRAIN_STATE_KIND and meta.get("nimg") is not None \
            and int(meta["nimg"]) != int(m.group(1)):
        raise CheckpointError(f"{_json_path(path)}: its metadata says {int(meta['nimg'])} images seen, its name "
                              f"{int(m.group(1))} (the metadata edited by hand?)")


def set_aside_all(paths: Sequence[Path], log: Any = None) -> None:
    """set_aside each of `paths` (corrupt checkpoints that find_good_checkpoint skipped), saying so through `log`."""
    for q in paths:
        aside = set_aside(q)
        if log is not None:
            log(f"warning: set the bad checkpoint aside as {aside.name}")


_SET_ASIDE = ".corrupt"
# what set_aside makes of a periodic checkpoint's two files (the only ones it is given: list_checkpoints' finds):
# ckpt-N.corrupt.*, and ckpt-N.corrupt-2.*, -3, ... for later bad checkpoints of the same image count
_SET_ASIDE_RE = re.compile(r"^ckpt-(\d+)" + re.escape(_SET_ASIDE) + r"(?:-(\d+))?\.(json|safetensors)$")


def set_aside_path(path: Path, n: int = 1) -> Path:
    """Where set_aside moves one file of a checkpoint: NAME.json -> NAME.corrupt.json, NAME.safetensors ->
    NAME.corrupt.safetensors; n > 1: NAME.corrupt-n.json / .safetensors, the n-th set aside under that name."""
    path = Path(path)
    return path.with_name(f"{path.stem}{_SET_ASIDE}{'' if n == 1 else f'-{n}'}{path.suffix}")


def _set_aside_slots(meta: Path) -> dict[int, set[str]]:
    """The set-aside files of the checkpoint whose JSON is `meta`, by their n (set_aside_path): {n: {'json',
    'safetensors'} or the one of them there}."""
    mine = re.compile(re.escape(meta.stem) + re.escape(_SET_ASIDE) + r"(?:-(\d+))?\.(json|safetensors)")
    slots: dict[int, set[str]] = {}
    try:
        names = os.listdir(meta.parent)
    except FileNotFoundError:
        return slots
    for name in names:
        m = mine.fullmatch(name)
        if m and m.group(1) != "1":          # (NAME.corrupt-1.* is no name set_aside gives)
            slots.setdefault(int(m.group(1) or 1), set()).add(m.group(2))
    return slots


def _orphan_slot(slots: dict[int, set[str]]) -> int | None:
    """The n whose set-aside JSON lacks its weights (a set_aside cut between its two renames), the lowest; None if
    none."""
    return min((n for n, have in slots.items() if have == {"json"}), default=None)


def set_aside(path: Path) -> Path:
    """Rename a checkpoint's JSON and weights to NAME.corrupt.*, out of list_checkpoints' sight, or where a bad
    checkpoint of that name was set aside already (a rollback retrains to the same image count) to the first free
    NAME.corrupt-n.*: renamed over it, the earlier one was lost. Weights alone, whose JSON a set_aside cut between
    its two renames moved, go beside that JSON. Returns the JSON's new path."""
    meta = _json_path(path)
    slots = _set_aside_slots(meta)
    n = _orphan_slot(slots) if not meta.exists() else None
    if n is None:
        n = 1
        while n in slots:
            n += 1
    for q in (meta, meta.with_suffix(".safetensors")):
        try:
            os.replace(q, set_aside_path(q, n))
        except FileNotFoundError:     # a missing half (the damage itself), or already set aside
            pass
    return set_aside_path(meta, n)


def set_aside_files(folder: Path) -> list[Path]:
    """The files of checkpoints that set_aside renamed (ckpt-N.corrupt.json / .safetensors) in `folder`, sorted.
    Kept for a look: nothing of wildgan reads or removes them, so `wildgan info RUN` lists them."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if _SET_ASIDE_RE.match(p.name)) if folder.is_dir() else []


# the checkpoints a training writes, under its run's lock (training.run): its final networks in the run folder
# (training.loop's network-final, training.fanogan_loop.FINAL_NAME) and its periodic ones in checkpoints/
# (checkpoint_name). Only their temp files are a resume's to delete: any other checkpoint's in the run folder (a
# Detector's: det.save(RUN/model), which holds no run lock) may be a write in progress, which the resume broke
TRAINING_FINAL_NAMES = ("network-final", "fanogan-final")
_PERIODIC_NAME = r"ckpt-\d+"


def weights_temp_files(folder: Path, name: str) -> list[Path]:
    """The temp files of save_checkpoint's weights for checkpoints named by the regular expression `name` in
    `folder`, sorted: ".NAME.PID.HEX.safetensors.tmp", and mkstemp's ".NAME.XXXXXXXX.safetensors.tmp" of the
    wildgan before it (killed writes of either may be there)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    ours = re.compile(rf"\.(?:{name})\.(?:\d+\.[0-9a-f]{{8}}|[a-z0-9_]{{8}})\.safetensors\.tmp")
    return sorted(p for p in folder.iterdir() if ours.fullmatch(p.name))


def checkpoint_temp_files(folder: Path, name: str) -> list[Path]:
    """The temp files of save_checkpoint(folder, name, ...) in `folder`, sorted: its weights' (weights_temp_files)
    and its JSON's (fileio.temp_files of NAME.json), which a process killed before their renames leaves."""
    return sorted(weights_temp_files(folder, re.escape(name)) + temp_files(Path(folder), [f"{name}.json"]))


def stale_temp_files(run_dir: Path) -> list[Path]:
    """The temp files of the training's checkpoint writes (save_checkpoint's weights: weights_temp_files) in the run
    folder `run_dir` (its final networks', TRAINING_FINAL_NAMES) and its checkpoints/ (the periodic checkpoints'),
    sorted: a killed process's while no process owns the run (training.run's lock), one being written otherwise. The
    one rule of remove_stale_temp, which deletes them, and of `wildgan info RUN`, which reports them."""
    run_dir = Path(run_dir)
    finals = "|".join(re.escape(n) for n in TRAINING_FINAL_NAMES)
    return sorted(weights_temp_files(run_dir, finals) + weights_temp_files(run_dir / "checkpoints", _PERIODIC_NAME))


def saved_pair_temp_files(run_dir: Path) -> list[Path]:
    """The temp files in the run folder `run_dir` and the folders below it of checkpoint writes that no training makes
    there (a Detector's, det.save(RUN/NAME) or det.save(RUN/models/NAME), which holds the folder it writes in while it
    writes and whose next save of the pair deletes what a killed one left: detector.Detector.save), sorted: the
    weights' of any name (weights_temp_files) but the training's (stale_temp_files: its final networks' in the run
    folder; its checkpoints/ is not looked in), and the JSON's (".NAME.json.XXXXXXXX.tmp") of a NAME whose weights'
    temp file or NAME.safetensors is beside it (a save killed before its renames, or between them). Another
    NAME.json's temp file (an output of the user's) is no save's. Not walked into, as data.run_temps.other_write_temps
    does not: symlinked folders (another place's files) and hidden ones."""
    run_dir = Path(run_dir)
    trainings = set(stale_temp_files(run_dir))
    found: list[Path] = []
    for top, subs, _ in os.walk(run_dir):
        here = Path(top)
        subs[:] = [s for s in subs if not s.startswith(".") and not os.path.islink(os.path.join(top, s))
                   and not (here == run_dir and s == "checkpoints")]
        weights = [p for p in weights_temp_files(here, r"[^/]+") if p not in trainings]
        # (the NAME of ".NAME.PID.HEX.safetensors.tmp" and of mkstemp's ".NAME.XXXXXXXX.safetensors.tmp")
        names = {re.sub(r"\.(?:\d+\.[0-9a-f]{8}|[a-z0-9_]{8})\.safetensors\.tmp$", "", p.name[1:]) for p in weights}
        names |= {p.name[: -len(".safetensors")] for p in here.glob("*.safetensors")}
        if here == run_dir:
            names -= set(TRAINING_FINAL_NAMES)
        found += weights + temp_files(here, [f"{n}.json" for n in sorted(names)])
    return sorted(found)


def remove_stale_temp(run_dir: Path) -> list[Path]:
    """Delete the temp files of the training's checkpoint writes that a killed process left in run_dir and its
    checkpoints/ (stale_temp_files); call only while this process owns the run (see training.run's lock). Returns
    what was deleted."""
    return remove_files(stale_temp_files(run_dir))


def checkpoint_name(nimg: int) -> str:
    return f"ckpt-{nimg:012d}"


_CKPT_WEIGHTS_RE = re.compile(r"^ckpt-(\d+)\.safetensors$")


def prune_checkpoints(folder: Path, keep: int | None, protect: Path | None = None) -> None:
    """Delete all but the newest `keep` periodic checkpoints (None: every one kept, `--keep-checkpoints all`; the
    final one is never pruned, nor `protect`: the one just written), and the weights of any whose JSON was never
    written (remove_orphan_weights). Called after every checkpoint, whatever `keep`, for the orphans' sake."""
    cks = list_checkpoints(folder) if keep is not None else []
    for p in cks[: max(0, len(cks) - (keep or 0))]:
        if protect is not None and _json_path(p) == _json_path(protect):
            continue
        for q in (p, p.with_suffix(".safetensors")):
            try:
                q.unlink()
            except FileNotFoundError:
                pass
    remove_orphan_weights(folder)


def remove_orphan_weights(folder: Path) -> list[Path]:
    """Delete each ckpt-N.safetensors whose ckpt-N.json is not there. A write cut between its two renames (a second
    Ctrl-C, a kill; before both files were written whole ahead of either rename, a full disk too) left the weights
    alone: list_checkpoints sees checkpoints by their JSON, so pruning never removed them and every such file stayed for
    good, hundreds of MB each at the paper preset; under `--keep-checkpoints all`, where nothing is pruned, too. Without
    its JSON (its checksum, its state) it cannot be resumed from, nor scored, nor evaluated over training; a complete
    checkpoint always has its JSON (written after its weights), so none is touched. One whose JSON was set aside as
    corrupt (ckpt-N.corrupt.json: a set_aside cut between its two renames) is set aside beside it, not deleted, as the
    bad ones are kept for a look; but not where that checkpoint's weights were set aside too
    (ckpt-N.corrupt.safetensors): then it is a later write of ckpt-N (a rollback retrains to the same image count) cut
    before its JSON, an orphan like any other, with no JSON to be kept beside. (Only the run's
    owner calls this: training.run's lock, and under torchrun rank 0, which writes the checkpoints, so no write of the
    two files is under way here.) Returns what was deleted."""
    gone = []
    for w in orphan_weights(folder):
        if orphan_of_set_aside(w):
            set_aside(w)
            continue
        try:
            w.unlink()
            gone.append(w)
        except FileNotFoundError:
            pass
    return gone


def orphan_weights(folder: Path) -> list[Path]:
    """Each ckpt-N.safetensors in `folder` whose ckpt-N.json is not there, sorted: the weights of a checkpoint whose
    write was cut between its two files (see remove_orphan_weights). The one rule of remove_orphan_weights, which
    deletes them (or sets aside those that orphan_of_set_aside finds), and of `wildgan info RUN`, which reports them
    without touching them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(w for w in folder.iterdir()
                  if _CKPT_WEIGHTS_RE.match(w.name) and not w.with_suffix(".json").exists())


def orphan_of_set_aside(weights: Path) -> bool:
    """Whether the orphan `weights` (orphan_weights) belong to a checkpoint whose JSON was set aside as corrupt
    (ckpt-N.corrupt.json, or ckpt-N.corrupt-n.json: a set_aside cut between its two renames): set aside beside it,
    not deleted. Not where every such JSON has its weights set aside too (ckpt-N.corrupt[-n].safetensors): then the
    orphan is a later write of ckpt-N (a rollback retrains to the same image count) cut before its JSON, removed like
    any orphan."""
    return _orphan_slot(_set_aside_slots(_json_path(weights))) is not None


# ------------------------------------------------------------------------------------------------------------------
# Networks <-> flat tensor dicts. Keys are "<net>.<param name>", e.g. "Gs.conv.5.weight".

def networks_to_tensors(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of the named modules as '<name>.<key>' -> CPU tensor (what safetensors stores)."""
    out: dict[str, torch.Tensor] = {}
    for prefix, m in modules.items():
        for k, v in m.state_dict().items():
            out[f"{prefix}.{k}"] = v
    return out


# The tensors a training checkpoint holds beside its networks' (optimiser moments, RNG state): pGAN's "opt.NAME.I.KEY"
# and "rng.z" (training.loop._save), f-AnoGAN's "opt_X.I.KEY" and "rng" (training.fanogan_loop). Any other tensor
# that no network takes is not wildgan's
_TRAINING_STATE_KEY = re.compile(r"opt[._].+|rng(?:\..+)?")


def _listed(names: Sequence[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def tensors_to_networks(tensors: dict[str, torch.Tensor], modules: dict[str, torch.nn.Module], source: Path,
                        weights_name: str | None = None,
                        architecture: str = "the architecture in its config") -> None:
    """Load weights strictly into `modules`, every one of which the file must hold; a missing or unexpected tensor
    (one of a network, or one that no network takes and that is no training state's) is a CheckpointError naming the
    file (`source`; `weights_name`: its weights file's name, said where given). `architecture`: what `modules` were
    built from, as a shape mismatch says it (a resume builds them from the run's config, not the checkpoint's)."""
    held = f"the weights file {weights_name}" if weights_name else "the weights"
    # a tensor no network takes was dropped without a word: a misnamed network's ("Gs_ema.*") left that network as
    # built, untrained (below), where the file meant to give it weights
    strays = sorted(k for k in tensors if not any(k.startswith(p + ".") for p in modules)
                    and not _TRAINING_STATE_KEY.fullmatch(k))
    if strays:
        raise CheckpointError(f"{source}: {held} holds tensors that belong to no network: {_listed(strays)} (the "
                              f"networks are {', '.join(modules)}): not a file of these networks, or damaged")
    for prefix, m in modules.items():
        sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        if not sd:
            # a network the file has nothing of was left as built (random weights) by the loaders that loaded only
            # the networks present (load_pgan), and scored with in silence; load_state_dict's own message would name
            # its keys without the network
            missing = [f"{prefix}.{k}" for k in m.state_dict()]
            raise CheckpointError(f"{source}: {held} has no tensors of network {prefix} (missing {_listed(missing)}): "
                                  f"networks left untrained would give meaningless scores; a file of other networks, "
                                  f"or damaged")
        # load_state_dict casts silently: half-precision or integer weights would load as if they were the trained
        # float32 ones. wildgan writes every tensor in its module's own dtype, so another dtype is not its file
        own = m.state_dict()
        bad = [f"{prefix}.{k}: {v.dtype} (expected {own[k].dtype})" for k, v in sd.items()
               if k in own and v.dtype != own[k].dtype]
        if bad:
            raise CheckpointError(f"{source}: weights of {prefix} have another dtype than the architecture's: "
                                  f"{'; '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")
        # training never saves non-finite parameters (it rolls back or stops first, training.resume.all_finite): NaN
        # here is a damaged file, which otherwise surfaced only as 'scores contain NaN or inf', without the file
        params = dict(m.named_parameters())
        floats = [k for k, v in sd.items() if k in params and v.is_floating_point()]
        nonfinite = [floats[i] for i in nonfinite_tensors([sd[k] for k in floats])]
        if nonfinite:
            raise CheckpointError(f"{source}: weights of {prefix} contain NaN or inf values ({prefix}.{nonfinite[0]}"
                                  f"{f' and {len(nonfinite) - 1} more' if len(nonfinite) > 1 else ''}): the file is "
                                  f"damaged")
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            # torch's first line is only 'Error(s) in loading state_dict for X:'; the next one says what differs
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            raise CheckpointError(f"{source}: weights of {prefix} do not match {architecture}: "
                                  f"{lines[1] if len(lines) > 1 else lines[0] if lines else e}") from None


def nonfinite_tensors(tensors: Sequence[torch.Tensor]) -> list[int]:
    """The positions of the floating-point tensors that hold a NaN or inf (the one check of loaded weights and of the
    weights training is about to save, training.resume.all_finite). Screened by their sums, stacked for one device
    sync: a sum is NaN or inf whenever a value is, and costs one pass without a tensor of flags the size of the
    weights (torch.isfinite(t).all() took ~0.2 s of a paper-preset load_pgan on one CPU thread, 6x the load_state_dict
    itself). The exact test runs only where a sum is not finite, which an overflowing sum of finite values can be."""
    if not tensors:
        return []
    sums = torch.isfinite(torch.stack([t.detach().sum().float() for t in tensors]))
    if bool(sums.all()):
        return []
    return [i for i, t in enumerate(tensors) if not bool(sums[i]) and not bool(torch.isfinite(t).all())]


def load_pgan(path: Path, device: str | torch.device = "cpu", kinds: Sequence[str] = PGAN_KINDS
              ) -> tuple[Any, dict[str, Any]]:
    """Rebuild the pGAN networks from a checkpoint's JSON config and load its weights (no code is executed).
    `kinds`: the checkpoint kinds accepted (a run's final networks or periodic checkpoints; Detector.load passes
    DETECTOR_KIND)."""
    from .config import NetConfig, from_dict
    from .errors import ConfigError
    from .nets import build_pgan

    tensors, meta = load_checkpoint(path, kind=kinds)
    if "net" not in meta:
        raise CheckpointError(f"{_json_path(path)}: no network config in the checkpoint metadata")
    try:
        net = from_dict(NetConfig, meta["net"])
    except (ConfigError, TypeError, ValueError) as e:
        # the architecture comes from this JSON: a damaged entry is the checkpoint's fault, said with its name
        raise CheckpointError(f"{_json_path(path)}: bad network config in the checkpoint metadata: {e}") from None
    nets = build_pgan(net, seed=0)
    # every network, each whole: they are what every wildgan writes into every pGAN file (a run's final networks,
    # its periodic checkpoints, a saved Detector), and scoring takes E, D and a generator (Gs or, by the run's
    # score.generator, G). Only the networks present were loaded once, so a file without Gs.* scored with an
    # untrained generator and said nothing
    tensors_to_networks(tensors, nets.modules(), Path(path), meta.get("weights"))
    return nets.to(device), meta


def load_fanogan(path: Path | str, device: str | torch.device = "cpu") -> Any:
    """Rebuild f-AnoGAN's G, D, E (a nets.fanogan.FAnoGANNetworks, eval mode) from a checkpoint's JSON (final or
    periodic) and load the weights strictly. Nothing is unpickled: the architecture comes from the JSON config, the
    weights from safetensors."""
    from .config import fanogan_config_from_dict
    from .errors import ConfigError
    from .nets.fanogan import build_fanogan

    tensors, meta = load_checkpoint(Path(path), kind=FANOGAN_KIND)
    try:
        cfg = fanogan_config_from_dict(meta["config"])
        nets = build_fanogan(cfg, int(meta["resolution"]), int(meta["channels"]), seed=0)
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(f"{path}: bad f-AnoGAN metadata: {e}") from None
    tensors_to_networks(tensors, nets.modules(), Path(path), meta.get("weights"))
    for m in nets.modules().values():
        m.eval()
    return nets.to(device)


def optimizer_to_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Optimiser state (moments, step counters) as flat tensors "<prefix>.<param index>.<name>"."""
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{prefix}.{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def tensors_to_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         lr: float | None = None) -> None:
    """Inverse of optimizer_to_tensors; hyper-parameters come from `opt` itself (and `lr` when given)."""
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[name] = v
    sd["state"] = state
    if lr is not None:
        for g in sd["param_groups"]:
            g["lr"] = lr
    opt.load_state_dict(sd)
