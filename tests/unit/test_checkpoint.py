"""Checkpoints: safetensors + JSON, atomic, checksummed, never unpickled."""

import errno
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from wildgan import checkpoint as ckpt
from wildgan.config import ScoreConfig, net_config_for_preset
from wildgan.errors import CheckpointError
from wildgan.nets import build_pgan
from wildgan.scoring import score_pgan


def _save_nets(tmp_path, seed=0):
    cfg = net_config_for_preset("tiny", 16, 1)
    nets = build_pgan(cfg, seed)
    meta = {"kind": ckpt.NETWORKS_KIND, "net": {"resolution": 16, "channels": 1, "fmap_base": 256,
                                                 "fmap_max": 16, "fmap_decay": 1.0, "latent_size": 16,
                                                 "mbstd_group": 4}}
    path = ckpt.save_checkpoint(tmp_path, "network-final", ckpt.networks_to_tensors(nets.modules()), meta)
    return nets, path


def test_round_trip_gives_identical_scores(tmp_path):
    nets, path = _save_nets(tmp_path)
    with torch.no_grad():
        for p in nets.E.parameters():          # make E differ from a fresh init so the test can fail
            p.add_(0.01)
        ckpt.save_checkpoint(tmp_path, "network-final", ckpt.networks_to_tensors(nets.modules()),
                             ckpt.read_meta(path) | {})
    loaded, meta = ckpt.load_pgan(path)
    x = (np.random.default_rng(0).random((20, 16, 16, 1)) * 255).astype(np.uint8)
    a = score_pgan(nets, x, ScoreConfig(batch_size=8))
    b = score_pgan(loaded, x, ScoreConfig(batch_size=8))
    for k in a.scores:
        np.testing.assert_array_equal(a.scores[k], b.scores[k])
    assert meta["sha256"] and meta["versions"]["torch"] == torch.__version__


def test_pickle_in_place_of_a_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    _, path = _save_nets(tmp_path)
    weights = path.with_suffix(".safetensors")
    weights.write_bytes(pickle.dumps(Evil()))
    # refused as a pickle by its content, not only by its checksum (verify=False skips the checksum)
    for verify in (True, False):
        with pytest.raises(CheckpointError, match="looks like a pickle/torch.save file"):
            ckpt.load_checkpoint(path, verify=verify)
    # a torch.save file as the "weights"
    torch.save({"a": torch.zeros(1)}, weights)
    with pytest.raises(CheckpointError, match=f"{weights.name}: looks like a pickle/torch.save file"):
        ckpt.load_checkpoint(path, verify=False)
    # a pickle as the JSON sidecar
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match=f"{path.name}: looks like a pickle/torch.save file"):
        ckpt.load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


def test_truncated_and_corrupt_checkpoints_are_detected(tmp_path):
    _, path = _save_nets(tmp_path)
    weights = path.with_suffix(".safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="checksum"):
        ckpt.load_checkpoint(path)
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="checksum"):
        ckpt.load_checkpoint(path)
    weights.write_bytes(data)
    path.write_text(path.read_text()[:40])
    with pytest.raises(CheckpointError, match="JSON"):
        ckpt.load_checkpoint(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="not a wildgan"):
        ckpt.load_checkpoint(path)


def test_latest_good_checkpoint_falls_back(tmp_path):
    logs = []
    for n in (1000, 2000):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.full((3,), float(n))}, {"nimg": n})
    newest = tmp_path / (ckpt.checkpoint_name(2000) + ".safetensors")
    newest.write_bytes(newest.read_bytes()[:10])
    tensors, meta = ckpt.latest_good_checkpoint(tmp_path, log=logs.append)
    assert meta["nimg"] == 1000 and tensors["w"][0] == 1000
    assert logs and "checksum" in logs[0]
    # the bad one is set aside (renamed, not deleted): pruning after the resume must not take it for the newest
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == [ckpt.checkpoint_name(1000) + ".json"]
    assert (tmp_path / (ckpt.checkpoint_name(2000) + ".corrupt.safetensors")).is_file()
    assert "set the bad checkpoint aside" in logs[-1]


def test_a_checkpoint_whose_image_count_was_edited_by_hand_is_set_aside(tmp_path):
    # its name says how many images the networks saw: a resume went on from the edited count instead (dropping the
    # stats rows after it, and naming its next checkpoints by it), without a word
    logs = []
    for n in (1000, 2000):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.full((3,), float(n))},
                             {"kind": ckpt.TRAIN_STATE_KIND, "nimg": n})
    newest = tmp_path / (ckpt.checkpoint_name(2000) + ".json")
    newest.write_text(newest.read_text().replace('"nimg": 2000', '"nimg": 1500'))
    tensors, meta = ckpt.latest_good_checkpoint(tmp_path, log=logs.append, kind=ckpt.TRAIN_STATE_KIND)
    assert meta["nimg"] == 1000 and tensors["w"][0] == 1000
    assert f"{newest}: its metadata says 1500 images seen, its name 2000" in logs[0]
    assert (tmp_path / (ckpt.checkpoint_name(2000) + ".corrupt.json")).is_file()


def test_checkpoints_that_all_fail_stop_a_resume(tmp_path):
    # before: "no usable checkpoint: starting from scratch", and the new checkpoints were pruned in favour of the
    # corrupt ones (higher numbers)
    for n in (1000, 2000):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(3)}, {"nimg": n})
        w = tmp_path / (ckpt.checkpoint_name(n) + ".safetensors")
        w.write_bytes(w.read_bytes()[:10])
    # (the way to start again as the caller gives it: train_run's overwrite=True, the command's --overwrite)
    with pytest.raises(CheckpointError, match=r"none of its 2 checkpoint.*\(overwrite=True deletes it\)$"):
        ckpt.latest_good_checkpoint(tmp_path)
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(CheckpointError, match=r"\(--overwrite deletes it\)$"):
        ckpt.latest_good_checkpoint(tmp_path)
    assert len(ckpt.list_checkpoints(tmp_path)) == 2            # nothing renamed or deleted
    assert ckpt.latest_good_checkpoint(tmp_path / "none") is None


def test_prune_never_deletes_the_checkpoint_just_written(tmp_path):
    paths = [ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(1)}, {}) for n in (5, 9, 2)]
    ckpt.prune_checkpoints(tmp_path, 1, protect=paths[-1])     # 2 is the oldest by name, but just written
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == [ckpt.checkpoint_name(n) + ".json" for n in (2, 9)]


def test_weights_are_as_readable_as_the_other_files(tmp_path):
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        old = os.umask(umask)
        try:
            path = ckpt.save_checkpoint(tmp_path, f"x{umask}", {"w": torch.zeros(1)}, {})
        finally:
            os.umask(old)
        assert (path.with_suffix(".safetensors").stat().st_mode & 0o777) == mode == (path.stat().st_mode & 0o777)


def test_weights_follow_the_umask_where_there_is_no_proc(tmp_path, monkeypatch):
    # the umask was read from /proc/self/status alone, else taken to be 0o022: on macOS (no /proc) a umask of 0o077
    # gave 0644 weights, readable by every user, beside their 0600 JSON
    from pathlib import Path as RealPath

    real = RealPath.read_text

    def no_proc(self, *a, **k):
        if str(self).startswith("/proc/"):
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(RealPath, "read_text", no_proc)
    old = os.umask(0o077)
    try:
        path = ckpt.save_checkpoint(tmp_path, "m", {"w": torch.zeros(1)}, {})
        assert os.umask(0o077) == 0o077                 # (left as it was)
    finally:
        os.umask(old)
    assert (path.with_suffix(".safetensors").stat().st_mode & 0o777) == 0o600 == (path.stat().st_mode & 0o777)


def test_weights_are_synced_through_a_descriptor_that_may_write(tmp_path, monkeypatch):
    # safetensors writes the weights by name, so save_checkpoint reopens them to fsync: opened read-only, as it was,
    # Windows refuses the fsync (FlushFileBuffers needs write access), and every checkpoint write failed there
    from windows_fsync import fsync_as_on_windows

    ckpt.save_checkpoint(tmp_path, "m", {"w": torch.zeros(3)}, {"seed": 1})
    refused = fsync_as_on_windows(monkeypatch)
    path = ckpt.save_checkpoint(tmp_path, "m", {"w": torch.ones(3)}, {"seed": 2})
    monkeypatch.undo()
    tensors, meta = ckpt.load_checkpoint(path)
    assert torch.equal(tensors["w"], torch.ones(3)) and meta["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    assert set(refused) <= {"folder"}, refused          # (the folder's sync refused, as on Windows, and passed over)


def test_stale_temporary_files_are_the_trainings_own_and_removed(tmp_path):
    # every ".*.safetensors.tmp" in the run folder was a resume's to delete: the weights' temp file of a
    # det.save(RUN/model) under way too, which the save then failed on (test_detector_save_temps)
    from wildgan.training.fanogan_loop import FINAL_NAME

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    ours = [run / ".network-final.4242.0a1b2c3d.safetensors.tmp", run / f".{FINAL_NAME}.k2x9q0a_.safetensors.tmp",
            run / "checkpoints" / ".ckpt-000000001000.4242.0a1b2c3d.safetensors.tmp"]
    theirs = [run / ".model.4242.0a1b2c3d.safetensors.tmp", run / ".ckpt-000000001000.4242.0a1b2c3d.safetensors.tmp",
              run / ".network-final.v2.4242.0a1b2c3d.safetensors.tmp",
              run / "checkpoints" / ".network-final.4242.0a1b2c3d.safetensors.tmp", run / "ckpt-000000001000.json"]
    for p in ours + theirs:
        p.write_bytes(b"x" * 10)
    assert ckpt.stale_temp_files(run) == sorted(ours)
    assert ckpt.remove_stale_temp(run) == sorted(ours)
    assert not any(p.exists() for p in ours) and all(p.exists() for p in theirs)
    assert ckpt.remove_stale_temp(tmp_path / "missing") == []


def test_prune_keeps_newest(tmp_path):
    for n in range(5):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(1)}, {})
    ckpt.prune_checkpoints(tmp_path, 2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == [ckpt.checkpoint_name(3) + ".json",
                                                                  ckpt.checkpoint_name(4) + ".json"]
    assert not list(tmp_path.glob(".*tmp"))


def test_identical_weights_give_identical_files_across_processes(tmp_path):
    """sha256 of a weights file is a reproducibility check users run: the same tensors saved by different processes
    must give the same bytes (safetensors orders its metadata map randomly per process when it has several keys)."""
    import subprocess
    import sys

    code = ("import sys, torch; from wildgan import checkpoint as c; "
            "c.save_checkpoint(sys.argv[1], 'w', {'b': torch.arange(6.).reshape(2, 3), 'a': torch.ones(4)}, {})")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / str(i))]) for i in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    digests = {json.loads((tmp_path / str(i) / "w.json").read_text())["sha256"] for i in range(4)}
    files = {(tmp_path / str(i) / "w.safetensors").read_bytes() for i in range(4)}
    assert len(digests) == 1 and len(files) == 1


def test_a_header_length_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """safetensors files begin with their header length; one of 128 + 256k bytes begins with the byte a pickle does."""
    for pad in range(0, 300, 7):                       # vary the header length until its low byte is 0x80
        path = ckpt.save_checkpoint(tmp_path, "w", {"x" * (1 + pad): torch.ones(2)}, {})
        raw = (tmp_path / "w.safetensors").read_bytes()
        if raw[0] == 0x80:
            tensors, _ = ckpt.load_checkpoint(path)
            assert torch.equal(tensors["x" * (1 + pad)], torch.ones(2))
            return
    pytest.fail("no header length with low byte 0x80 was produced")


def test_a_full_disk_while_writing_is_an_os_error_naming_the_file(tmp_path, monkeypatch):
    """safetensors raises its own SafetensorError for the file system's refusal: it was a CheckpointError, which
    `wildgan train` exits 2 for ("bad input"), where docs/cli.md's exit codes give a full disk 1, as any other
    OSError; other errors of safetensors stay CheckpointErrors."""
    from safetensors import SafetensorError

    def full(*a, **k):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(ckpt, "save_file", full)
    with pytest.raises(OSError, match="No space left on device") as caught:
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(1), {"w": torch.zeros(1)}, {})
    assert caught.value.errno == errno.ENOSPC and not isinstance(caught.value, CheckpointError)
    assert caught.value.filename == str(tmp_path / "ckpt-000000000001.safetensors")
    assert not list(tmp_path.iterdir())                      # the temporary file is gone too

    def other(*a, **k):
        raise SafetensorError("Error while serializing: something else")

    monkeypatch.setattr(ckpt, "save_file", other)
    with pytest.raises(CheckpointError, match="ckpt-000000000001.safetensors: could not write the checkpoint"):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(1), {"w": torch.zeros(1)}, {})


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_size_limit_hit_by_the_weights_is_an_os_error_and_keeps_the_older_checkpoint(tmp_path):
    """A real refusal of the file system, not a mock: `ulimit -f` (Python ignores SIGXFSZ, so the write gets EFBIG)
    stops the weights' write half-way. The error is the OSError it is (exit 1), and the checkpoint already there is
    untouched, with no temporary file left."""
    import resource

    first = ckpt.save_checkpoint(tmp_path, "w", {"a": torch.ones(8)}, {})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError) as caught:
            ckpt.save_checkpoint(tmp_path, "w", {"a": torch.ones(100_000)}, {})     # 400 kB
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert caught.value.errno == errno.EFBIG and not isinstance(caught.value, CheckpointError)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert torch.equal(ckpt.load_checkpoint(first)[0]["a"], torch.ones(8))


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    # atomic writes: a crash in the middle (here an interrupt after half the bytes) leaves the previous file intact
    # and removes its temporary; a plain open(path, "wb") would have left half a file
    from wildgan.fileio import atomic_write_bytes, atomic_write_stream

    target = tmp_path / "log.json"
    atomic_write_bytes(target, b'{"old": 1}')

    def dies_half_way(f):
        f.write(b'{"new": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_stream(dies_half_way, target)
    assert target.read_bytes() == b'{"old": 1}' and sorted(p.name for p in tmp_path.iterdir()) == ["log.json"]
    # the same for a checkpoint's weights: the one saved before still loads (checksum verified)
    nets, path = _save_nets(tmp_path / "ck")
    before = ckpt.load_checkpoint(path)[1]["sha256"]

    def torn_save(flat, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", torn_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path / "ck", "network-final", ckpt.networks_to_tensors(nets.modules()),
                             ckpt.read_meta(path))
    assert ckpt.load_checkpoint(path)[1]["sha256"] == before
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["network-final.json", "network-final.safetensors"]


def _with_kind(path, kind):
    """Save the checkpoint at `path` again with its metadata's kind set to `kind` (None: the key left out)."""
    tensors, meta = ckpt.load_checkpoint(path)
    meta = {k: v for k, v in meta.items() if k != "kind"} | ({} if kind is None else {"kind": kind})
    return ckpt.save_checkpoint(path.parent, path.stem, tensors, meta)


@pytest.mark.parametrize("kind, found", [("fanogan", r"kind 'fanogan': an f-AnoGAN checkpoint"),
                                         ("wildgan-detector", r"kind 'wildgan-detector': a Detector saved by "
                                                              r"Detector\.save"),
                                         (None, "no kind recorded")])
def test_load_pgan_refuses_a_checkpoint_of_another_kind(tmp_path, kind, found):
    # an f-AnoGAN file loaded as far as "no network config"; a saved Detector loaded as if a run's networks; every
    # wildgan has written a kind, so a file without one is not wildgan's
    _, path = _save_nets(tmp_path)
    _with_kind(path, kind)
    with pytest.raises(CheckpointError, match=rf"network-final\.json: a checkpoint of the wrong kind \({found}.*\); "
                                              rf"expected 'wildgan-networks' or 'wildgan-train-state'"):
        ckpt.load_pgan(path)
    # the periodic checkpoints of a pGAN run are pGAN networks too (score --checkpoint)
    _with_kind(path, "wildgan-train-state")
    ckpt.load_pgan(path)
    with pytest.raises(CheckpointError, match=r"wrong kind \(kind 'wildgan-train-state'.*expected 'wildgan-detector'"):
        ckpt.load_pgan(path, kinds=("wildgan-detector",))


def test_load_fanogan_names_the_kind_it_expects(tmp_path):
    _, path = _save_nets(tmp_path)
    with pytest.raises(CheckpointError, match=r"network-final\.json: a checkpoint of the wrong kind \(kind "
                                              r"'wildgan-networks': a pGAN run's final networks\); expected 'fanogan'"):
        ckpt.load_fanogan(path)


def test_a_resume_refuses_a_checkpoint_of_another_kind_and_touches_nothing(tmp_path):
    ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(1000), {"w": torch.zeros(1)},
                         {"kind": ckpt.FANOGAN_KIND, "nimg": 1})
    ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(2000), {"w": torch.zeros(1)},
                         {"kind": ckpt.FANOGAN_KIND, "nimg": 2})
    newest = tmp_path / (ckpt.checkpoint_name(2000) + ".safetensors")
    newest.write_bytes(newest.read_bytes()[:10])
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(CheckpointError, match=rf"{ckpt.checkpoint_name(1000)}\.json: a checkpoint of the wrong kind "
                                              r"\(kind 'fanogan'.*expected 'wildgan-train-state'"):
        ckpt.latest_good_checkpoint(tmp_path, kind=ckpt.TRAIN_STATE_KIND)
    # not skipped for an older one, and the damaged newer one is not set aside: the folder is not this run's
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert ckpt.latest_good_checkpoint(tmp_path, kind=("fanogan",))[1]["nimg"] == 1


def test_the_kinds_are_those_every_wildgan_has_written():
    # the files already on disk carry these strings: a renamed constant would refuse every older run and Detector
    assert (ckpt.TRAIN_STATE_KIND, ckpt.NETWORKS_KIND, ckpt.FANOGAN_KIND, ckpt.DETECTOR_KIND) == (
        "wildgan-train-state", "wildgan-networks", "fanogan", "wildgan-detector")


@pytest.mark.parametrize("version, message", [
    (2, r"written by a newer wildgan \(checkpoint format_version 2; wildgan .* reads 1\): upgrade wildgan"),
    ("1", r"bad checkpoint format_version '1' \(a whole number expected; this wildgan reads 1\): the metadata is "
          r"damaged"),
    (True, r"bad checkpoint format_version True"),
    (1.5, r"bad checkpoint format_version 1\.5"),
    (None, r"bad checkpoint format_version None"),
])
def test_a_checkpoint_of_a_newer_or_damaged_format_version_is_refused(tmp_path, version, message):
    _, path = _save_nets(tmp_path)
    path.write_text(json.dumps({**json.loads(path.read_text()), "format_version": version}))
    with pytest.raises(CheckpointError, match=rf"network-final\.json: {message}"):
        ckpt.read_meta(path)


def test_a_newer_wildgans_checkpoint_is_not_skipped_or_set_aside_as_a_bad_one(tmp_path):
    """A checkpoint of a newer format is sound: a resume (or the scoring of a run without final networks) says to
    upgrade, rather than setting it aside as damaged and going on from an older one over the newer training."""
    from wildgan.scoring.run import final_checkpoint

    ck = tmp_path / "checkpoints"
    for n in (1000, 2000):
        ckpt.save_checkpoint(ck, ckpt.checkpoint_name(n), {"w": torch.zeros(1)},
                             {"kind": ckpt.TRAIN_STATE_KIND, "nimg": n})
    newest = ck / (ckpt.checkpoint_name(2000) + ".json")
    newest.write_text(json.dumps({**json.loads(newest.read_text()), "format_version": ckpt.FORMAT_VERSION + 1}))
    before = sorted(p.name for p in ck.iterdir())
    with pytest.raises(CheckpointError, match=rf"{newest.name}: written by a newer wildgan .*: upgrade wildgan"):
        ckpt.latest_good_checkpoint(ck, kind=ckpt.TRAIN_STATE_KIND)
    with pytest.raises(CheckpointError, match=rf"{newest.name}: written by a newer wildgan .*: upgrade wildgan"):
        final_checkpoint(tmp_path)
    assert sorted(p.name for p in ck.iterdir()) == before


def test_a_checkpoint_names_the_source_commit_of_a_git_checkout(tmp_path: Path) -> None:
    """versions.wildgan_source: the commit of a checkout's package files ('+dirty' once they are edited); none for a
    package folder that git does not track, even inside a git tree (a virtual environment in a user's project)."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    pkg, venv_pkg = tmp_path / "src" / "wildgan", tmp_path / ".venv" / "wildgan"
    loose = tmp_path.parent / f"{tmp_path.name}-loose"        # in no git tree
    for folder in (pkg, venv_pkg, loose):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    git("init", "-q")
    git("add", "src", ".gitignore")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD")
    ckpt._SOURCE_COMMITS.clear()
    assert ckpt.source_commit(pkg) == head
    assert ckpt.source_commit(venv_pkg) is None and ckpt.source_commit(loose) is None
    (pkg / "__init__.py").write_text("x = 2\n")
    ckpt._SOURCE_COMMITS.clear()
    assert ckpt.source_commit(pkg) == head + "+dirty"
    ckpt._SOURCE_COMMITS.clear()
    versions = ckpt.environment_versions()
    assert versions.get("wildgan_source") == ckpt.source_commit()    # this test's own wildgan: a checkout or not


def test_a_saved_detectors_weights_record_their_kind_in_their_one_metadata_key(tmp_path):
    """A Detector's .safetensors whose JSON is gone still says what it is (Detector.save replaces only a Detector's),
    in the one metadata key there is: safetensors writes several in a per-process random order (different bytes,
    sha256)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    nets, _ = _save_nets(tmp_path)
    path = ckpt.save_checkpoint(tmp_path, "det", ckpt.networks_to_tensors(nets.modules()), {"kind": ckpt.DETECTOR_KIND})
    weights = path.with_suffix(".safetensors")
    with safe_open(str(weights), framework="numpy") as f:
        assert f.metadata() == {"format": f"wildgan/{ckpt.FORMAT_VERSION} {ckpt.DETECTOR_KIND}"}
    path.unlink()
    assert ckpt.weights_kind(weights) == (True, ckpt.DETECTOR_KIND)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "old.safetensors"), metadata={"format": "wildgan/1"})
    assert ckpt.weights_kind(tmp_path / "old.safetensors") == (True, None)         # written before the kind was
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    assert ckpt.weights_kind(tmp_path / "other.safetensors") == (False, None)
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 4)
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: not readable as a safetensors file"):
        ckpt.weights_kind(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("kind", [ckpt.NETWORKS_KIND, ckpt.TRAIN_STATE_KIND, ckpt.FANOGAN_KIND])
def test_a_runs_weights_are_the_bytes_every_wildgan_wrote(tmp_path, kind):
    """A run's weights file is named by its sha256 (eval.json, the training-score cache and a saved Detector's
    source_sha256 compare it with the run's): the kind in its header gave the same weights another sha256 than the
    file an earlier wildgan wrote, so a --resume that wrote a finished run's networks again made its evaluation
    "of other networks". Only a saved Detector's header names its kind."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    tensors = ckpt.networks_to_tensors(nets.modules())
    path = ckpt.save_checkpoint(tmp_path, "w", tensors, {"kind": kind})
    with safe_open(str(path.with_suffix(".safetensors")), framework="numpy") as f:
        assert f.metadata() == {"format": f"wildgan/{ckpt.FORMAT_VERSION}"}
    # byte for byte what the wildgan before the kind wrote for these tensors
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp_path / "before.safetensors"),
              metadata={"format": f"wildgan/{ckpt.FORMAT_VERSION}"})
    assert json.loads(path.read_text())["sha256"] == ckpt.file_digest(tmp_path / "before.safetensors")
    assert ckpt.weights_kind(path.with_suffix(".safetensors")) == (True, None)


def _without(path: Path, drop, add=None) -> None:
    """Rewrite the checkpoint at `path` (its JSON) without the tensors `drop` selects and with `add`, its sha256
    updated: a file consistent in itself, as a hand-made or another tool's checkpoint would be."""
    tensors, meta = ckpt.load_checkpoint(path)
    kept = {k: v for k, v in tensors.items() if not drop(k)} | (add or {})
    ckpt.save_checkpoint(path.parent, path.stem, kept, {k: v for k, v in meta.items() if k not in ("sha256",)})


@pytest.mark.parametrize("net", ["Gs", "E", "G", "D"])
def test_load_pgan_refuses_a_file_without_one_of_the_networks(tmp_path, net):
    """A weights file without the Gs.* (or E.*, G.*, D.*) tensors loaded the others and left that network as built,
    untrained, and scoring went on with it in silence: refused, naming the file, the network and its tensors."""
    _, path = _save_nets(tmp_path)
    _without(path, lambda k: k.startswith(net + "."))
    with pytest.raises(CheckpointError, match=rf"network-final\.json: the weights file network-final\.safetensors "
                                              rf"has no tensors of network {net} \(missing {net}\.[\w.]+, "):
        ckpt.load_pgan(path)


@pytest.mark.parametrize("bad, message", [
    (lambda t: {"Gs_ema.x": torch.zeros(1)}, r"tensors that belong to no network: Gs_ema\.x"),
    (lambda t: {"E.extra.weight": torch.zeros(1)}, r"weights of E do not match .*Unexpected key\(s\).*extra\.weight"),
])
def test_load_pgan_refuses_tensors_it_would_not_load(tmp_path, bad, message):
    """A tensor that no network takes (a misnamed network's) was dropped without a word."""
    _, path = _save_nets(tmp_path)
    _without(path, lambda k: False, bad(None))
    with pytest.raises(CheckpointError, match=rf"network-final\.json: .*{message}"):
        ckpt.load_pgan(path)


def test_a_training_checkpoints_own_tensors_are_not_strays(tmp_path):
    """A periodic checkpoint holds optimiser moments and the RNG state beside the networks: score --checkpoint loads
    it as before."""
    _, path = _save_nets(tmp_path)
    _with_kind(path, ckpt.TRAIN_STATE_KIND)
    _without(path, lambda k: False, {"opt.G.0.exp_avg": torch.zeros(2), "rng.z": torch.zeros(5, dtype=torch.uint8)})
    ckpt.load_pgan(path)


@pytest.mark.parametrize("net", ["G", "D", "E"])
def test_load_fanogan_refuses_a_file_without_one_of_the_networks(tmp_path, net):
    from wildgan.config import FAnoGANConfig, to_dict
    from wildgan.nets.fanogan import build_fanogan

    cfg = FAnoGANConfig(dim=8, latent_size=16)
    nets = build_fanogan(cfg, 32, 1)
    path = ckpt.save_checkpoint(tmp_path, "fanogan-final", ckpt.networks_to_tensors(nets.modules()),
                                {"kind": ckpt.FANOGAN_KIND, "config": to_dict(cfg), "resolution": 32, "channels": 1})
    ckpt.load_fanogan(path)
    _without(path, lambda k: False, {"opt_G.0.exp_avg": torch.zeros(2), "rng": torch.zeros(5, dtype=torch.uint8)})
    ckpt.load_fanogan(path)
    _without(path, lambda k: False, {f"{net}x.w": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=rf"tensors that belong to no network: {net}x\.w"):
        ckpt.load_fanogan(path)
    _without(path, lambda k: k.startswith(net + ".") or k == f"{net}x.w")
    with pytest.raises(CheckpointError, match=rf"fanogan-final\.json: the weights file fanogan-final\.safetensors "
                                              rf"has no tensors of network {net} \(missing {net}\."):
        ckpt.load_fanogan(path)
