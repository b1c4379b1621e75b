"""Scoring a pile of image files in chunks (scoring.run.score_files, data.readers.iter_images): memory holds one
chunk, and the scores do not depend on the chunk size (the score batches are drawn over the whole file list)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from wildgan.config import DataConfig, RunConfig, SearchConfig, TrainConfig, net_config_for_preset
from wildgan.data import load_image_files, load_images
from wildgan.data.readers import iter_images, list_image_files
from wildgan.errors import DataError
from wildgan.scoring.pgan_scores import batch_order
from wildgan.scoring.run import _local_batches, default_chunk_size, score_files, score_read_files, untrained_model

pytestmark = pytest.mark.usefixtures("one_thread")
N = 150            # score batches of 64: 64, 64 and 22, the last topped up to 64 from the start of the order


@pytest.fixture(scope="module")
def pile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files") / "pile"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N):
        side = (8, 6, 12)[i % 3]              # smaller (padded), equal, larger (resized): converted one by one
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def _model(method: str = "wildgan"):
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(seed=0),
                    method=method, search=SearchConfig(steps=3, batch_size=32))
    return untrained_model(cfg, "cpu")


def _killed_at(score: Callable, n: int, calls: list[int]) -> Callable:
    """score (a model's, or its class's) noting each call's number of images in calls, its n-th call killed
    (KeyboardInterrupt, as Ctrl-C mid-chunk): the scoring interrupted whose chunks a resume takes."""
    def score_or_die(*args: object, **kw: object) -> object:
        calls.append(len(args[-1]))
        if len(calls) == n:
            raise KeyboardInterrupt
        return score(*args, **kw)
    return score_or_die


def _copy_with_unreadable(pile: Path, tmp_path: Path, bad: tuple[int, ...]) -> Path:
    """A copy of the pile (tmp_path/pile) whose files at the places `bad` (of list_image_files' order) are no longer
    images."""
    import shutil

    folder = tmp_path / "pile"
    shutil.copytree(pile, folder)
    files = list_image_files([folder])
    for i in bad:
        files[i].write_bytes(b"not an image")
    return folder


def _same(a, b) -> None:
    assert a.ids == b.ids
    assert set(a.scores) == set(b.scores)
    for k in a.scores:
        np.testing.assert_allclose(a.scores[k], b.scores[k], rtol=1e-6, atol=1e-7, err_msg=k)


@pytest.mark.parametrize("method", ["wildgan", "search"])
def test_scores_do_not_depend_on_the_chunk_size(pile: Path, method: str) -> None:
    m = _model(method)
    m.conversion = {"fit": "pad"}
    whole = score_files(m, [pile])
    assert whole.chunks == 1 and len(whole.ids) == N and not whole.skipped
    # the same scores as scoring the whole set in memory
    x, ids = load_images([pile], 8, 1, fit="pad")
    res = m.score(x)
    assert whole.ids == ids
    for k in whole.scores:
        np.testing.assert_allclose(whole.scores[k], res.scores[k], rtol=1e-6, atol=1e-7, err_msg=k)
    for size in (64, 100, 1):
        part = score_files(m, [pile], chunk_size=size)
        if method == "wildgan":               # whole score batches: at least one per chunk
            assert part.chunks == 3 and part.chunk_size == 64
        else:                                 # consecutive files (the initial latents follow the file order)
            assert part.chunks == -(-N // size) and part.chunk_size == size
        _same(whole, part)


@pytest.mark.parametrize("method", ["wildgan", "search"])
def test_unreadable_files_skipped_once_and_chunk_independent(pile: Path, tmp_path: Path, method: str) -> None:
    order = np.concatenate(batch_order(N, 64, 0))
    # the first image of the order is read again for the topped-up last batch: a bad one is still named once
    bad = sorted({int(order[0]), int(order[70]), int(order[149])})
    folder = _copy_with_unreadable(pile, tmp_path, tuple(bad))
    files = list_image_files([folder])
    m = _model(method)
    with pytest.raises(DataError) as e:       # without skip_bad: every bad file named, also those of later chunks
        score_files(m, [folder], chunk_size=64)
    assert f"{len(bad)} unreadable image files" in str(e.value)
    assert all(files[i].name in str(e.value) for i in bad)
    got = []
    for size in (None, 64):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            r = score_files(m, [folder], chunk_size=size, skip_bad=True)
        named = [str(w.message) for w in said if str(w.message).startswith("skipped ")]
        assert len(named) == len(bad) == len(r.skipped)
        assert len(r.ids) == N - len(bad) and all(np.isfinite(v).all() for v in r.scores.values())
        got.append(r)
    _same(*got)


@pytest.mark.parametrize("method", ["wildgan", "search"])
def test_images_read_beside_unreadable_files_score_as_score_files_scores_them(pile: Path, tmp_path: Path,
                                                                             method: str) -> None:
    """score_read_files (and the report's score_named_images, which uses it) on images decoded from a folder with
    unreadable files gives score_files' scores of that folder: the score batches (wildgan) and initial latents
    (search) are drawn over every file listed, not over the readable ones only. The report's --image scored them
    as a clean set (LoadedModel.score), and its `a` and flags disagreed with `score --skip-bad` of the same folder."""
    from wildgan.evaluation.heatmaps import score_named_images

    folder = _copy_with_unreadable(pile, tmp_path, (5, 90))
    m = _model(method)
    m.conversion = {"fit": "pad"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="skipped ")
        want = score_files(m, [folder], skip_bad=True)
        x, ids, kept, n = load_image_files([folder], 8, 1, fit="pad", skip_bad=True)
    assert n == N and len(kept) == N - 2 and 5 not in kept and 90 not in kept and ids == want.ids
    got = score_read_files(m, x, kept, n)
    for k in want.scores:
        np.testing.assert_allclose(got.scores[k], want.scores[k], rtol=1e-6, atol=1e-7, err_msg=k)
    # scored as if the readable files were all there was, the images meet other batches (latents): other scores
    assert np.abs(m.score(x).scores["a"] - want.scores["a"]).max() > 1e-4
    named = score_named_images(m, [folder], max_maps=2, loaded=(x, ids, kept, n))
    row = {f: r for r, f in enumerate(want.ids)}
    for k in want.scores:
        np.testing.assert_allclose(named.scores[k], want.scores[k][[row[i] for i in named.ids]], rtol=1e-6,
                                   atol=1e-7, err_msg=k)
    with pytest.raises(ValueError, match="ascending distinct file indices"):
        score_read_files(m, x, kept[::-1], n)


def test_a_chunk_size_of_zero_is_refused(pile: Path) -> None:
    """chunk_size=0 is refused like a negative one: it was read as 'no chunk size given' and scored the pile in the
    default chunks (174,720 images at 32x32x3) without a word."""
    with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
        score_files(_model(), [pile], chunk_size=0)


@pytest.mark.parametrize("method", ["wildgan", "search"])
def test_hashes_are_those_of_the_pixels_scored_in_every_chunk(pile: Path, tmp_path: Path, method: str) -> None:
    """score_files(hashes=True): each row's image_hashes, taken from the chunks as they are scored (a Detector's f1
    validation set given as a folder or a tar archive is checked for training images by them, without a second read):
    the hashes of load_images' pixels, in the rows' order, whatever the chunk size, with unreadable files left out."""
    from wildgan.data.splits import image_hashes

    folder = _copy_with_unreadable(pile, tmp_path, (7, 80))
    m = _model(method)
    m.conversion = {"fit": "pad"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="skipped ")
        x, ids, kept, _ = load_image_files([folder], 8, 1, fit="pad", skip_bad=True)
        for size in (None, 64, 1):
            got = score_files(m, [folder], chunk_size=size, skip_bad=True, hashes=True)
            assert got.ids == ids and got.hashes is not None and got.hashes.dtype == np.uint64
            np.testing.assert_array_equal(got.hashes, image_hashes(x), err_msg=str(size))
        assert score_files(m, [folder], chunk_size=64, skip_bad=True).hashes is None      # (only when asked)
    # (refused, not left to return hashes of some rows only: score_files is public API, docs/python_api.md, and these
    # are its own arguments; Detector, its one caller with hashes, passes neither)
    import torch

    from wildgan.training.distributed import DistContext

    with pytest.raises(ValueError, match="neither resume_dir nor ctx"):
        score_files(m, [folder], skip_bad=True, hashes=True, resume_dir=tmp_path / "resume")
    with pytest.raises(ValueError, match="neither resume_dir nor ctx"):
        score_files(m, [folder], skip_bad=True, hashes=True,
                    ctx=DistContext(rank=0, world=1, local_rank=0, device=torch.device("cpu"), backend="gloo"))
    assert not (tmp_path / "resume").exists()


def test_no_readable_file_is_an_error(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"")
    with pytest.raises(DataError, match="none of the 3 image files is readable"), \
            pytest.warns(UserWarning, match="skipped .*0.png"):
        score_files(_model(), [tmp_path], skip_bad=True, chunk_size=1)


def test_local_batches_drop_missing_files_and_keep_groups_of_four() -> None:
    batches = [np.arange(8), np.arange(8, 16), np.array([16, 17])]
    row_of = {i: i for i in range(18) if i not in (3, 9, 10, 11, 12, 13, 14, 15)}
    got = _local_batches(batches, row_of)
    assert [b.tolist() for b in got] == [[0, 1, 2, 4, 5, 6, 7, 0], [8, 8, 8, 8], [16, 17]]  # a short last batch
    assert _local_batches([np.arange(4)], {}) == []                                       # stays as it was


def test_iter_images_converts_each_image_on_its_own(pile: Path) -> None:
    files = list_image_files([pile])
    (whole, kept, skipped), = iter_images(files, 8, 1, fit="pad")
    assert kept == list(range(N)) and skipped == []
    parts = list(iter_images(files, 8, 1, fit="pad", chunks=[[5, 0, 1], [2, 3, 4]]))
    assert [p[1] for p in parts] == [[5, 0, 1], [2, 3, 4]]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole[[5, 0, 1, 2, 3, 4]])
    # 6x6 padded with zeros (the MNIST rule), 12x12 resized
    assert whole[1, 0].max() == 0 and whole[1, 1:7, 1:7].any()


def test_default_chunk_size() -> None:
    assert default_chunk_size(32, 3) == 174_720 and default_chunk_size(256, 3) == 2_688
    assert default_chunk_size(4096, 3) == 64                      # never less than one score batch
    assert default_chunk_size(32, 3, 60) % 60 == 0
    # a resume folder: smaller chunks, so a CIFAR-sized pile (60,000 images) is resumable by default
    assert default_chunk_size(32, 3, resumable=True) == 21_824 < 60_000
    assert default_chunk_size(32, 3, method="search", resumable=True) == 2_688


def test_search_latents_drawn_in_parts_are_those_of_the_whole() -> None:
    import torch

    from wildgan.scoring.latent_search import initial_latents

    whole = initial_latents(50, 8, 3)
    g = torch.Generator().manual_seed(3)
    parts = torch.cat([initial_latents(n, 8, 3, generator=g) for n in (7, 1, 42)])
    assert torch.equal(parts, whole)


def test_resize_error_refuses_mixed_sizes(pile: Path) -> None:
    with pytest.raises(DataError, match=r"001.png: image size 6x6 differs from .*000.png \(8x8\)"):
        load_images([pile], 8, 1, resize="error")


_PEAKS = """
import sys, tracemalloc
from pathlib import Path
import numpy as np
from PIL import Image
from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.scoring.run import score_files, untrained_model

folder = Path(sys.argv[1])
rng = np.random.default_rng(1)
for i in range(640):                      # 640 x 32x32x3 = 1.9 MB of pixels; a chunk of 64 is 0.2 MB
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
m = untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 32, 3), train=TrainConfig(seed=0)),
                    "cpu")
for size in (None, 64):
    tracemalloc.start(1)
    score_files(m, [folder], chunk_size=size)
    peak = tracemalloc.get_traced_memory()[1]
    top = tracemalloc.take_snapshot().statistics("lineno")[:3]
    tracemalloc.stop()
    print(size, peak, "; ".join(map(str, top)))
"""


def test_memory_holds_one_chunk(tmp_path: Path) -> None:
    """Peak memory traced by tracemalloc (numpy's allocations included): a small chunk size must bound it.
    Measured in a process of its own: tracemalloc counts every thread's allocations, and in the test suite's process
    on CI the chunked peak once came out at 8.5 MB (0.8 MB alone; cause not found: nothing in the code path holds the
    pile, and the run without chunks measured as usual, 4.6 MB)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WILDGAN_DECODE_WORKERS", None)            # the library default: decoded in this process
    r = subprocess.run([sys.executable, "-c", _PEAKS, str(tmp_path)], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines()}
    peaks = {k: int(ln.split()[1]) for k, ln in lines.items()}
    assert peaks["None"] > 2 * 640 * 32 * 32 * 3        # the pile, twice (decoded images and their array)
    assert peaks["64"] < peaks["None"] / 4, lines


@pytest.mark.parametrize("method", ["wildgan", "search", "fanogan"])
def test_resume_takes_finished_chunks_and_gives_the_same_scores(pile: Path, tmp_path: Path, method: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import wildgan.scoring.run as run

    if method == "fanogan":             # its networks are for 32 or 64 px
        from wildgan.config import FAnoGANConfig

        m = untrained_model(RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 32, 1), train=TrainConfig(),
                                      method=method, fanogan=FAnoGANConfig(dim=4, latent_size=8)), "cpu")
    else:
        m = _model(method)
    folder = tmp_path / "pile"
    shutil.copytree(pile, folder)
    whole = score_files(m, [folder], chunk_size=64)
    rd = tmp_path / "s.csv.chunks"
    # an interrupted scoring: the third chunk's scoring is killed
    calls = []
    real = m.score

    monkeypatch.setattr(m, "score", _killed_at(real, 3, calls))
    with pytest.raises(KeyboardInterrupt):
        score_files(m, [folder], chunk_size=64, resume_dir=rd)
    assert sorted(p.name for p in rd.glob("chunk-*.npz")) == ["chunk-00000.npz", "chunk-00001.npz"]
    calls.clear()
    monkeypatch.setattr(m, "score", lambda x, **kw: (calls.append(len(x)), real(x, **kw))[1])
    again = score_files(m, [folder], chunk_size=64, resume_dir=rd)
    assert again.resumed == 2 and len(calls) == 1 and again.chunks == 3     # only the unfinished chunk scored
    _same(whole, again)
    # a file fixed in place changes only its own chunk's digest: that chunk is scored again, the others are taken
    calls.clear()
    import os

    files = list_image_files([folder])
    # a file of the second score batch (wildgan's chunks are runs of shuffled batches; the first batch is also read
    # for the topped-up last one), or of the second run of 64 files
    fixed = files[int(np.concatenate(batch_order(N, 64, m.cfg.score.shuffle_seed))[100]) if method == "wildgan"
                  else 100]
    st = fixed.stat()
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))         # same pixels, a new modification time
    third = score_files(m, [folder], chunk_size=64, resume_dir=rd)
    assert third.resumed == 2 and len(calls) == 1
    _same(whole, third)
    # other settings (another chunking): nothing is reused, the stale chunks are deleted
    calls.clear()
    with pytest.warns(UserWarning, match=r"finished chunks? saved there (are|is) of another scoring \(it differs in "
                                         r"n_chunks, chunks_sha256\): deleted"):
        fourth = score_files(m, [folder], chunk_size=128, resume_dir=rd)
    assert fourth.resumed == 0 and len(calls) == fourth.chunks
    _same(whole, fourth)
    # a chunk of other files (another digest): not taken
    assert not run._read_resumed(rd, [0], {0: "other"}, skip_bad=True, warn=False, warned=set())[0]


def test_resume_refuses_a_folder_it_did_not_make(pile: Path, tmp_path: Path) -> None:
    from wildgan.errors import ConfigError

    rd = tmp_path / "mine"
    rd.mkdir()
    (rd / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not wildgan's partial scores"):
        score_files(_model(), [pile], chunk_size=64, resume_dir=rd)
    assert (rd / "notes.txt").read_text() == "keep me"
    one = score_files(_model(), [pile], resume_dir=tmp_path / "unused")      # one chunk: no folder is made
    assert one.chunks == 1 and not (tmp_path / "unused").exists()


def test_a_chunk_that_cannot_be_saved_does_not_stop_the_scoring(pile: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import wildgan.fileio as fileio

    def full(path, data):
        raise OSError(28, "No space left on device")

    real = fileio.atomic_write_bytes
    monkeypatch.setattr(fileio, "atomic_write_bytes", full)
    with pytest.warns(UserWarning, match="cannot keep the finished chunks' scores in .*No space left on device.*"
                                         "goes on"):
        got = score_files(_model(), [pile], chunk_size=64, resume_dir=tmp_path / "r")        # not even the manifest
    assert len(got.ids) == N
    # the manifest written, then the disk is full: the first chunk that cannot be saved is named, once
    monkeypatch.setattr(fileio, "atomic_write_bytes",
                        lambda path, data: real(path, data) if path.name == "manifest.json" else full(path, data))
    with pytest.warns(UserWarning, match="cannot save chunk 0's scores .*No space left on device.*goes on") as rec:
        got = score_files(_model(), [pile], chunk_size=64, resume_dir=tmp_path / "r2")
    assert len(got.ids) == N and sum("cannot save" in str(w.message) for w in rec) == 1     # said once


def test_gray_files_scored_by_a_colour_run_are_warned_about(pile: Path) -> None:
    from wildgan.data.splits import conversion_opts

    opts = conversion_opts({"protocol": "cifar10", "channels": 3, "conversion": {"fit": "resize"}})
    assert opts.get("colour_data") is True and "gray_data" not in opts
    with pytest.warns(UserWarning, match=f"{N} gray images are scored by a network trained on colour images"):
        next(iter_images(list_image_files([pile]), 8, 3, chunks=[list(range(N))], **opts))


def test_resume_respects_skip_bad_and_cleans_up_after_a_kill(pile: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.scoring.run import LoadedModel, is_resume_dir, remove_resume_dir

    m = _model()
    order = np.concatenate(batch_order(N, 64, m.cfg.score.shuffle_seed))
    folder = _copy_with_unreadable(pile, tmp_path, (int(order[100]),))        # in the second chunk only
    rd = tmp_path / "s.csv.chunks"
    real, calls = LoadedModel.score, []

    monkeypatch.setattr(LoadedModel, "score", _killed_at(real, 3, calls))
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(KeyboardInterrupt):
        score_files(m, [folder], chunk_size=64, skip_bad=True, resume_dir=rd)
    monkeypatch.setattr(LoadedModel, "score", real)
    # without --skip-bad the chunk that left a file out is not taken: scored again, it stops with the usual error
    with pytest.raises(DataError, match="not a readable image"):
        score_files(m, [folder], chunk_size=64, resume_dir=rd)
    with pytest.warns(UserWarning, match="skipped .*not a readable image"):        # named again, once
        got = score_files(m, [folder], chunk_size=64, skip_bad=True, resume_dir=rd)
    assert got.resumed == 2 and len(got.skipped) == 1
    # a folder a kill left without its manifest (or with a temporary file) is still wildgan's, and removable
    (rd / "manifest.json").unlink()
    (rd / ".manifest.json.x.tmp").write_text("")
    assert is_resume_dir(rd)
    remove_resume_dir(rd)
    assert not rd.exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    assert not is_resume_dir(tmp_path / "other")


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("where", ["as the CSV is renamed into place", "as the chunk folder is deleted"])
def test_a_stop_as_the_csv_is_written_waits_for_the_chunk_folder_to_go(where: str, stop: str, scoring_pile,
                                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """`wildgan score --out p.csv` and a SIGTERM (or Ctrl-C) as it finished: the new CSV was in place (renamed, the
    folder not yet synced) or the chunk folder being deleted when the CLI's handler (Python's KeyboardInterrupt)
    raised, and the command ended `terminated`, exit 143 (`interrupted`, 130), beside the p.csv.chunks/ it holds the
    scores of (a rerun only read them back), or half of it. The CSV, the folder's removal and the line that says so
    are one commit: the stop is honoured after it, nothing left behind."""
    import signal

    from wildgan import fileio
    from wildgan.cli import main
    from wildgan.scoring import run

    pile, run_dir, _ = scoring_pile(12)
    out = tmp_path / "p.csv"
    rd = tmp_path / "p.csv.chunks"
    signum = getattr(signal, stop)

    def send() -> None:
        # a Python handler (the CLI's, Python's own for SIGINT, or one holding the signal), never the default that
        # would end pytest's process
        assert callable(signal.getsignal(signum))
        signal.raise_signal(signum)       # its handler runs before this returns: no race

    if where == "as the CSV is renamed into place":
        real_sync = fileio._fsync_dir

        def sync(d: Path) -> None:                # after os.replace: the CSV is there (a chunk's writes are not it)
            if Path(d) == tmp_path and out.is_file():
                send()
            real_sync(d)

        monkeypatch.setattr(fileio, "_fsync_dir", sync)
    else:
        real_remove = run.remove_resume_dir

        def remove(d: Path) -> None:
            send()
            real_remove(d)

        monkeypatch.setattr(run, "remove_resume_dir", remove)
    got = main(["score", str(run_dir), "--data", str(pile), "--device", "cpu", "--chunk-size", "4", "--out", str(out),
                "--no-progress"])
    err = capsys.readouterr().err
    assert (got, err.splitlines()[-1]) == ((143, "wildgan: terminated by SIGTERM") if stop == "SIGTERM"
                                           else (130, "wildgan: interrupted by SIGINT (Ctrl-C)")), err
    assert "read in 3 chunks of up to 4)" in err and err.splitlines()[-2].endswith(f"; wrote {out}"), err
    assert len(out.read_text().splitlines()) == 1 + 12
    assert not rd.exists()


def test_default_chunks_are_smaller_with_a_resume_folder(pile: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --chunk-size, a resumable scoring cuts the pile into RESUME_CHUNK_BYTES chunks (so an interruption
    loses at most one of them), a scoring with nothing to resume from into SCORE_CHUNK_BYTES ones; same scores."""
    import wildgan.scoring.run as run

    monkeypatch.setattr(run, "RESUME_CHUNK_BYTES", 8 * 8 * 64)          # one score batch of 8x8x1 images
    m = _model()
    m.conversion = {"fit": "pad"}
    whole = score_files(m, [pile])
    resumable = score_files(m, [pile], resume_dir=tmp_path / "s.csv.chunks")
    assert whole.chunks == 1 and resumable.chunks == 3 and resumable.chunk_size == 64
    _same(whole, resumable)


def test_a_pile_scored_without_A_has_every_other_score_and_resumes_only_its_own_chunks(pile: Path, tmp_path: Path
                                                                                     ) -> None:
    from wildgan.errors import ConfigError

    m = _model()
    whole = score_files(m, [pile], chunk_size=64)
    rd = tmp_path / "s.csv.chunks"
    no_a = score_files(m, [pile], chunk_size=64, resume_dir=rd, with_A=False)
    assert set(no_a.scores) == set(whole.scores) - {"A"} and no_a.ids == whole.ids
    for k in no_a.scores:
        np.testing.assert_allclose(no_a.scores[k], whole.scores[k], rtol=1e-6, atol=1e-7, err_msg=k)
    # chunks saved without A are not taken for a scoring with every score (the folder is emptied, with a warning)
    with pytest.warns(UserWarning, match="with_A"):
        full = score_files(m, [pile], chunk_size=64, resume_dir=rd)
    assert full.resumed == 0 and "A" in full.scores
    # other methods: refused before any file is read
    with pytest.raises(ConfigError, match="wildgan runs"):
        score_files(_model("search"), [tmp_path / "does-not-exist"], with_A=False)


def _said(call, text: str) -> tuple[list[str], object]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = call()
    return [str(w.message) for w in rec if text in str(w.message)], got


@pytest.mark.parametrize("size", [None, 64, 1])
def test_a_gray_colour_mismatch_is_counted_over_every_chunk_once(pile: Path, tmp_path: Path, size: int | None
                                                                ) -> None:
    # the pile's 150 gray files scored by a colour run: one warning with all of them, whatever the chunk size (the
    # first image of the wildgan batch order, read again for the topped-up last batch, counts once)
    m = _model()
    m.conversion = {"fit": "pad", "colour_data": True}
    said, got = _said(lambda: score_files(m, [pile], chunk_size=size), "scored by a network trained on colour")
    assert said == [f"{N} gray images are scored by a network trained on colour images (each repeated into 3 "
                    f"channels): their missing colour alone can make them score as anomalous (is it the run meant "
                    f"for these images?)"]
    assert got.chunks == (1 if size is None else 3)
    # iter_images by itself (load_images' reader): the same total, once, over its chunks
    files = list_image_files([pile])
    said, _ = _said(lambda: list(iter_images(files, 8, 1, chunks=[[0, 1, 2], [2, 3], [4]], fit="pad",
                                             gray_data=False, colour_data=True)), "gray image")
    assert len(said) == 1 and said[0].startswith("5 gray images are scored")


@pytest.mark.parametrize("size", [None, 64])
def test_gray_files_scored_by_a_colour_run_with_some_gray_training_images_are_judged_by_its_share(
        pile: Path, size: int | None) -> None:
    # a colour run whose training images were 10% gray (conversion.gray_trained): the pile's gray files, all of
    # them gray, are far more, said once over the chunks with both shares; a run 60% gray, or one from before the
    # share was recorded (neither colour_data nor gray_trained), says nothing
    m = _model()
    m.conversion = {"fit": "pad", "gray_trained": [10, 100]}
    said, _ = _said(lambda: score_files(m, [pile], chunk_size=size), "are gray, against")
    assert said == [f"{N} of the {N} images (100%) are gray, against 10% of the images the network was trained on: "
                    f"gray images (each repeated into 3 channels) can score as anomalous for their missing colour "
                    f"alone with a network trained mostly on colour ones (is it the run meant for these images?)"]
    for conversion in ({"fit": "pad", "gray_trained": [60, 100]}, {"fit": "pad"}):
        m.conversion = conversion
        said, _ = _said(lambda: score_files(m, [pile], chunk_size=size), "gray")
        assert said == [], said


def test_a_resumed_scoring_counts_the_files_of_its_saved_chunks(pile: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.scoring.run import LoadedModel

    m = _model()
    m.conversion = {"fit": "pad", "colour_data": True}
    rd = tmp_path / "s.csv.chunks"
    real, calls = LoadedModel.score, []

    monkeypatch.setattr(LoadedModel, "score", _killed_at(real, 2, calls))
    with pytest.raises(KeyboardInterrupt):
        score_files(m, [pile], chunk_size=64, resume_dir=rd)
    monkeypatch.setattr(LoadedModel, "score", real)
    said, got = _said(lambda: score_files(m, [pile], chunk_size=64, resume_dir=rd), "gray images are scored")
    assert got.resumed == 1 and len(said) == 1 and said[0].startswith(f"{N} gray images")


def test_a_data_set_file_mixed_with_image_files_is_named_as_one(pile: Path, tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 8, 8), np.uint8))
    for paths in ([tmp_path / "x.npz", pile], [pile, tmp_path / "x.npz"]):
        with pytest.raises(DataError, match=r"x.npz: a data-set file \(an .npz archive\), not an image: it cannot "
                                            r"be mixed with image files"):
            score_files(_model(), paths, skip_bad=True, chunk_size=64)


def test_one_unreadable_file_is_said_in_the_singular(tmp_path: Path) -> None:
    (tmp_path / "0.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"^the one image file given is not readable: .*0.png: empty file"), \
            pytest.warns(UserWarning, match="skipped .*0.png"):
        score_files(_model(), [tmp_path / "0.png"], skip_bad=True)


def test_a_failed_scoring_closes_its_chunk_reader(pile: Path, monkeypatch) -> None:
    """Scoring that fails midway (out of GPU memory, Ctrl-C in a notebook, which keeps the error and its frames) ends
    the chunk reader at once, with its pool of decoding processes, not when the error is forgotten."""
    import wildgan.scoring.run as run

    readers = []
    real = iter_images

    def spy(*a, **k):
        readers.append(real(*a, **k))
        return readers[-1]

    monkeypatch.setattr("wildgan.data.readers.iter_images", spy)
    m = _model()
    calls = []

    def failing(*a, **k):
        calls.append(1)
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(m, "score", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        run.score_files(m, [pile], chunk_size=50)
    assert calls == [1] and len(readers) == 1 and readers[0].gi_frame is None      # closed, not left suspended


def test_several_processes_get_equal_chunks_of_a_one_chunk_pile() -> None:
    """Chunks are dealt round-robin: a pile of one default chunk went all to rank 0. Several processes cut it into a
    multiple of their number of equal chunks (whole score batches), never larger than one process's chunks."""
    import wildgan.scoring.run as run

    order = batch_order(N, 64, 0)                                   # 3 score batches
    step = default_chunk_size(8, 1)
    assert run._balanced_parts(order, N, step, 1) is None            # one process: its chunking, unchanged
    assert len(run._make_chunks(order, N, step, None)[1]) == 1
    assert run._balanced_parts(order, N, step, 2) == 2 and run._balanced_parts(order, N, step, 3) == 3
    assert run._balanced_parts(order, N, step, 4) == 3               # no more chunks than score batches
    assert run._balanced_parts(None, N, step, 4) == 4                # images scored on their own: any split
    assert [len(c) for c in run._make_chunks(None, N, step, 4)[1]] == [37, 38, 37, 38]
    # 7 chunks of one batch each for one process, 2 processes: 8 chunks, none larger
    big = batch_order(7 * 64, 64, 0)
    assert run._balanced_parts(big, 7 * 64, 64, 2) == 7              # capped by the 7 batches
    assert run._balanced_parts(big, 7 * 64, 128, 2) == 4             # 4 chunks of 2, 2, 2 and 1 batches
    assert max(map(len, run._make_chunks(big, 7 * 64, 128, 4)[1])) <= 128


@pytest.mark.parametrize("method", ["wildgan", "search"])
def test_a_folder_written_by_two_processes_is_resumed_by_one(pile: Path, tmp_path: Path, method: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ranks cut a one-chunk pile into two chunks; a one-process rerun (whose own chunking is one chunk) takes
    the finished one instead of discarding it, and the scores are those of one process."""
    import wildgan.scoring.run as run

    m = _model(method)
    whole = score_files(m, [pile])
    rd = tmp_path / "s.csv.chunks"
    real, calls = m.score, []

    # what a 2-rank job leaves (rank 0 writes the manifest, each rank its chunks): its chunking in one process
    with monkeypatch.context() as mp:
        mp.setattr(run, "_balanced_parts", lambda order, n, step, world: 2)
        mp.setattr(m, "score", _killed_at(real, 2, calls))
        with pytest.raises(KeyboardInterrupt):
            score_files(m, [pile], resume_dir=rd)
    assert [p.name for p in rd.glob("chunk-*.npz")] == ["chunk-00000.npz"]
    calls.clear()
    monkeypatch.setattr(m, "score", lambda x, **kw: (calls.append(len(x)), real(x, **kw))[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                              # nothing discarded
        again = score_files(m, [pile], resume_dir=rd)
    assert again.resumed == 1 and again.chunks == 2 and len(calls) == 1
    _same(whole, again)
    # an explicit chunk size is a chunking asked for: chunks of another one are discarded, with a warning
    with pytest.warns(UserWarning, match="of another scoring"):
        third = score_files(m, [pile], resume_dir=rd, chunk_size=64)
    assert third.resumed == 0
    _same(whole, third)


def _scored_again(m, pile: Path, rd: Path, whole, differs: str) -> None:
    """A resume folder's 3 chunks of another scoring (differing in `differs`): deleted with a warning that says so,
    and every image scored again, as a scoring without the folder."""
    import re

    with pytest.warns(UserWarning, match=re.escape(f"the 3 finished chunks saved there are of another scoring (it "
                                                   f"differs in {differs}): deleted")):
        again = score_files(m, [pile], chunk_size=64, resume_dir=rd)
    assert again.resumed == 0
    _same(whole, again)


def test_a_resume_folder_of_other_image_decoders_is_scored_again_and_says_which(pile: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest did not record the decoders: after a Pillow/libjpeg upgrade the chunks of the old decoding (pixels
    a level apart) were taken, and one CSV mixed scores of two decodings. Now they are scored again, and the warning
    names the decoders, old -> new, rather than a field name."""
    import json
    import re

    import wildgan.scoring.run as run
    from wildgan.data.imageset import READER_VERSION, decoder_versions, decoders_text

    m = _model()
    whole = score_files(m, [pile], chunk_size=64)
    rd = tmp_path / "s.csv.chunks"
    old = "Pillow 9.0.0 (libjpeg 8.0, libwebp 1.0.0, OpenJPEG 2.3.0)"
    with monkeypatch.context() as mp:                  # the folder is written under other decoders
        mp.setattr(run, "decoder_versions", lambda: old, raising=False)
        assert score_files(m, [pile], chunk_size=64, resume_dir=rd).chunks == 3
    # (the decoders' versions without their parentheses: the warning says them inside one of its own)
    _scored_again(m, pile, rd, whole, f"the decoders Pillow 9.0.0 with libjpeg 8.0, libwebp 1.0.0, OpenJPEG 2.3.0 -> "
                                      f"{decoders_text(decoder_versions())}, which alone can change pixels by a "
                                      f"level or so")
    # the reader's version, the other half of the decoding, is named the same way
    manifest = rd / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "reader_version": READER_VERSION - 1}))
    with pytest.warns(UserWarning, match=re.escape(f"(it differs in wildgan's image reader version {READER_VERSION - 1}"
                                                   f" -> {READER_VERSION}, which alone can change pixels")):
        assert score_files(m, [pile], chunk_size=64, resume_dir=rd).resumed == 0
    # the decoders and other fields: the fields follow a semicolon, not a comma, which the decoders' own list of
    # versions left unclear ('..., OpenJPEG 2.3.0 -> ..., which alone can change pixels by a level or so, n_chunks')
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "decoders": old, "n_chunks": 1}))
    _scored_again(m, pile, rd, whole, f"the decoders Pillow 9.0.0 with libjpeg 8.0, libwebp 1.0.0, OpenJPEG 2.3.0 -> "
                                      f"{decoders_text(decoder_versions())}, which alone can change pixels by a "
                                      f"level or so; n_chunks")


def test_a_resume_folder_saved_without_its_decoders_keeps_its_chunks_and_says_so_once(pile: Path, tmp_path: Path,
                                                                                      monkeypatch: pytest.MonkeyPatch
                                                                                      ) -> None:
    """A folder an earlier wildgan wrote records no decoders: its chunks are kept (most likely decoded by these; the
    finished work is not thrown away) but not in silence, also when it was cut in another number of processes'
    chunking; the manifest then records the decoders, so the warning is not repeated."""
    import json

    import wildgan.scoring.run as run
    from wildgan.data.imageset import decoder_versions, decoders_text

    m = _model()
    whole = score_files(m, [pile])
    rd = tmp_path / "s.csv.chunks"
    with monkeypatch.context() as mp:                  # what a 2-rank job leaves: its chunking in one process
        mp.setattr(run, "_balanced_parts", lambda order, n, step, world: 2)
        score_files(m, [pile], resume_dir=rd)
    manifest = rd / "manifest.json"
    key = json.loads(manifest.read_text())
    key.pop("decoders", None)                          # as an earlier wildgan wrote it
    manifest.write_text(json.dumps(key))
    said, again = _said(lambda: score_files(m, [pile], resume_dir=rd), "decoders")
    assert again.resumed == 2 and again.chunks == 2
    assert said == [f"{rd}: the 2 finished chunks saved there are kept, taken as decoded by this wildgan's image "
                    f"decoders, {decoders_text(decoder_versions())}: they were saved by a wildgan that did not record "
                    f"its decoders. "
                    f"If Pillow or its libjpeg, libwebp or OpenJPEG changed since, delete {rd} (or score without "
                    f"resume_dir) so that every image is scored from the same decoding"]   # (score_files' way)
    _same(whole, again)
    assert json.loads(manifest.read_text())["decoders"] == decoder_versions()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # said once
        assert score_files(m, [pile], resume_dir=rd).resumed == 2


def test_a_resume_folder_of_other_scoring_rules_is_scored_again_and_says_which(pile: Path, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """wildgan.__version__ never changes between commits and the manifest recorded no version of the score formulas:
    a scoring resumed after a formula changed took the old formula's chunks, and one CSV mixed the two. Now the
    manifest records SCORES_VERSION and chunks of another are scored again, the warning naming the versions; a folder
    from before the field was scored by the rules of that time (version 1): kept now, scored again after a bump."""
    import json
    import re

    import wildgan.scoring.run as run
    from wildgan.scoring.scores import SCORES_VERSION

    m = _model()
    whole = score_files(m, [pile], chunk_size=64)
    rd = tmp_path / "s.csv.chunks"
    assert score_files(m, [pile], chunk_size=64, resume_dir=rd).chunks == 3
    manifest = rd / "manifest.json"
    key = json.loads(manifest.read_text())
    # version 1, what a manifest without the field is read as: left out (an older wildgan compares manifests whole)
    assert "scores_version" not in key and SCORES_VERSION == 1
    manifest.write_text(json.dumps({**key, "scores_version": SCORES_VERSION - 1}))    # an older formula's chunks
    _scored_again(m, pile, rd, whole, f"the scoring rules version {SCORES_VERSION - 1} -> {SCORES_VERSION}")
    # a folder written before the field (version 1's rules): its chunks are kept in silence while those are the rules
    manifest.write_text(json.dumps(key))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert score_files(m, [pile], chunk_size=64, resume_dir=rd).resumed == 3
    assert json.loads(manifest.read_text()) == key
    # one that spells the version out (as the commit that added the field wrote it): the same, kept in silence
    manifest.write_text(json.dumps({**key, "scores_version": 1}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert score_files(m, [pile], chunk_size=64, resume_dir=rd).resumed == 3
    # ... and scored again once the rules are bumped past them
    manifest.write_text(json.dumps(key))
    monkeypatch.setattr(run, "SCORES_VERSION", 2)
    with pytest.warns(UserWarning, match=re.escape("(it differs in the scoring rules version 1 -> 2): deleted")):
        assert score_files(m, [pile], chunk_size=64, resume_dir=rd).resumed == 0
    assert json.loads(manifest.read_text())["scores_version"] == 2          # above version 1: written


def test_the_untrained_control_is_digested_by_its_weights_even_beside_a_file_named_untrained(tmp_path, monkeypatch):
    # the resume key of untrained networks is their weights': a file called "untrained" in the working folder must
    # not stand in for them (its bytes would key the resume folder, whatever the networks are)
    from wildgan.scoring.run import _model_digest

    m = _model()
    clean = _model_digest(m)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "untrained").write_text("not the networks")
    assert _model_digest(m) == clean


def test_a_file_given_twice_has_one_row_and_a_note_naming_it(scoring_pile, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    # the same file by name twice, and by name beside its folder: one row each (as before), but the CSV came out a
    # row short of the names given without a word
    from wildgan.cli import main

    pile, run_dir, _ = scoring_pile(3)
    out = tmp_path / "s.csv"
    assert main(["score", str(run_dir), "--data", str(pile / "0.png"), str(pile / "0.png"), str(pile),
                 "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    ids = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    assert ids == [str(pile / f"{i}.png") for i in (0, 1, 2)], ids
    assert (f"wildgan: warning: a file given more than once is scored once (one row, under the name first given): "
            f"{pile / '0.png'}, given again; {pile / '0.png'}, again in folder {pile}\n") in err, err
    assert err.count("given more than once") == 1, err           # (said by score_files, not a second time)
    # the names as given: a second spelling of the path is named too
    (pile / "link.png").symlink_to(pile / "1.png")
    assert main(["score", str(run_dir), "--data", str(pile), "--out", "-", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"{pile / '1.png'}, again in folder {pile} as {pile / 'link.png'}" in err, err


def test_score_files_warns_of_a_file_given_twice_and_its_rows_line_up_with_ids(tmp_path: Path) -> None:
    # the Python API said nothing where `wildgan score` noted it: a caller that lined the scores up with the paths
    # it gave was off by one row from the repeat on
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(pile / f"{i}.png")
    (pile / "link.png").symlink_to(pile / "2.png")
    m = _model()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        b = score_files(m, [pile / f"{i}.png" for i in range(3)], batch_mode="isolated")
    assert not [w for w in rec if "more than once" in str(w.message)]       # (each file once: nothing said)
    with pytest.warns(UserWarning) as rec:
        got = score_files(m, [pile / "1.png", pile / "0.png", pile / "1.png", pile])
    said = [str(w.message) for w in rec if "more than once" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in rec]
    assert said[0].startswith("a file given more than once is scored once (one row, under the name first given): ")
    assert f"{pile / '1.png'}, given again" in said[0] and f"{pile / '0.png'}, again in folder {pile}" in said[0]
    assert f"{pile / '2.png'}, again in folder {pile} as {pile / 'link.png'}" in said[0]
    assert got.repeated and len(got.repeated) == 4
    # one row per file, in the order of first mention, each row that file's
    assert got.ids == [str(pile / f) for f in ("1.png", "0.png", "2.png")]
    assert all(len(v) == len(got.ids) for v in got.scores.values())
    # (mixed score batches depend on their mates: compared by isolated scoring, each image on its own)
    with pytest.warns(UserWarning, match="more than once"):
        a = score_files(m, [pile / "1.png", pile / "0.png", pile / "1.png", pile], batch_mode="isolated")
    by_id = dict(zip(b.ids, b.scores["a"]))
    assert len(set(by_id.values())) == 3                                   # (three images that score apart)
    np.testing.assert_allclose(a.scores["a"], [by_id[i] for i in a.ids], rtol=1e-6)
    # the image readers of the Python API say so too: load_image_files, and a Detector's read of a folder
    with pytest.warns(UserWarning, match=r"a file given more than once is read once \(one image, under the name "
                                         r"first given\): .*0.png, given again"):
        x, ids, kept, n = load_image_files([pile / "0.png", pile / "0.png"], 8, 1)
    assert len(x) == 1 and n == 1 and ids == [str(pile / "0.png")]
    from wildgan.data.inputs import to_images
    with pytest.warns(UserWarning, match=r"read once .*2.png, again in folder .* as .*link.png"):
        x, ids = to_images(str(pile), 8, 1)
    assert len(x) == len(ids) == 3

    # a list of paths (the Detector's read of one, for decision_function, heatmaps, fit): each item was listed on its
    # own, so a file named twice, or by name and in a folder given, was read twice, a row more than score_files gives.
    # Listed as one list now, with the same one warning; rows line up with the ids, other items keep their place
    with pytest.warns(UserWarning, match=r"read once \(one image, under the name first given\): .*0.png, given again"
                      ) as rec:
        x, ids = to_images([str(pile / "0.png"), str(pile / "0.png")], 8, 1)
    assert len(x) == 1 and ids == [str(pile / "0.png")]
    assert len([w for w in rec if "more than once" in str(w.message)]) == 1
    with pytest.warns(UserWarning, match=r"read once .*1.png, again in folder"):
        x, ids = to_images([pile / "1.png", np.full((8, 8), 7, np.uint8), pile], 8, 1)
    assert ids == [str(pile / "1.png"), "image:1", str(pile / "0.png"), str(pile / "2.png")] and len(x) == 4
    np.testing.assert_array_equal(x[1], 7)
    np.testing.assert_array_equal(x[0], to_images([pile / "1.png"], 8, 1)[0][0])
    with pytest.warns(UserWarning, match=r"read once .*0.png, again in folder"):
        x, ids = to_images([str(pile / "0.png"), str(pile / "1.png"), str(pile)], 8, 1)   # a folder of repeats only
    assert len(x) == 3 and ids == [str(pile / f) for f in ("0.png", "1.png", "2.png")]


def _tar_of(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> Path:
    import io
    import tarfile

    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname="pile")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(f"pile/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return archive


def test_a_tar_of_image_files_is_scored_as_its_folder(pile: Path, tmp_path: Path, monkeypatch) -> None:
    """`wildgan score RUN --data pile.tar.gz` scores every image of the archive; score_files refused it as "a
    data-set file, not an image", with the command line's way as the only advice. It reads it as the command does:
    the folder's scores, in chunks, ids inside the archive, and skipped files, warnings and errors named
    ARCHIVE:member (not by their place in the unpack cache), the warnings as they are met."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    m = _model()
    m.conversion = {"fit": "pad"}
    archive = _tar_of(pile, tmp_path / "pile.tar.gz")
    folder = score_files(m, [pile], chunk_size=64)
    got = score_files(m, [archive], chunk_size=64)
    assert got.ids == [f"pile/{Path(i).name}" for i in folder.ids] and got.chunks == folder.chunks == 3
    for k in folder.scores:
        np.testing.assert_array_equal(got.scores[k], folder.scores[k], err_msg=k)
    # unreadable files, one in every score batch or so: refused, or left out with skip_bad, named inside the archive
    bad = _tar_of(pile, tmp_path / "bad.tar.gz", {f"{i:03d}-bad.png": b"not a png" for i in range(0, N, 10)})
    with pytest.raises(DataError, match=rf"{bad}:pile/000-bad.png: not a readable image") as e:
        score_files(m, [bad], chunk_size=64)
    assert "cache" not in str(e.value)
    calls, said = [], []
    real = type(m).score
    monkeypatch.setattr(type(m), "score", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda msg, *a, **k: said.append((str(msg), len(calls)))
        got = score_files(m, [bad], chunk_size=64, skip_bad=True)
    skips = [(s, n) for s, n in said if s.startswith("skipped ")]
    assert len(skips) == len(got.skipped) == 15 and all(s.startswith(f"skipped {bad}:pile/") for s, _ in skips)
    assert min(n for _, n in skips) < len(calls)          # the first said before the last chunk was scored
    assert got.skipped[0].startswith(f"{bad}:pile/") and got.ids == [f"pile/{Path(i).name}" for i in folder.ids]
    # a caller's filter that makes them errors: raised, named inside the archive
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match=rf"^skipped {bad}:pile/"):
            score_files(m, [bad], chunk_size=64, skip_bad=True)


def test_archives_score_files_does_not_read_are_refused_saying_what_does(pile: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """A tar or zip among other paths and a data-set file alone were "a data-set file, not an image" with `wildgan
    score` as the way. Each is refused naming the file and the Python call that reads it."""
    import zipfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    m = _model()
    with zipfile.ZipFile(tmp_path / "pile.zip", "w") as z:
        z.write(pile / "000.png", "pile/000.png")
    with pytest.raises(DataError, match=rf"^{tmp_path / 'pile.zip'}: a data-set file \(a zip archive\), not an "
                                        r"image: it cannot be mixed with image files or folders"):
        score_files(m, [pile, tmp_path / "pile.zip"], skip_bad=True)
    archive = _tar_of(pile, tmp_path / "pile.tar.gz")
    # (the command's way named too: `wildgan score --data` says it, and was told only of score_files)
    with pytest.raises(DataError, match=r"pile.tar.gz: a data-set file \(a tar archive\), not an image: it cannot be "
                                        r"mixed with image files or folders; given alone \(`wildgan score RUN --data "
                                        r".*pile.tar.gz`, score_files\(model, \[.*pile.tar.gz'\]\)\) the image "
                                        r"files in it are scored on their own"):
        score_files(m, [pile / "000.png", archive])
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"x.npz: a data-set file \(an .npz archive\), not image files: score_files "
                                        r"reads image files, folders and tar or zip archives of image files; "
                                        r"Detector.from_run\(RUN\).decision_function\(.*x.npz'\) reads a data-set"):
        score_files(m, [tmp_path / "x.npz"])


def test_unreadable_files_are_named_with_the_skip_bad_of_the_caller(scoring_pile, tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:
    """score_files, load_images, load_image_files and build_split (train_run's read), on a folder or its tar archive,
    advised `--skip-bad` for an unreadable file: an option of the command line, which a Python caller cannot pass.
    They now say skip_bad=True, while a command keeps its --skip-bad (cli.main sets its words for the command and
    puts the API's back after it)."""
    from wildgan.cli import main
    from wildgan.data import build_split
    from wildgan.errors import API_SKIP_BAD, skip_bad_option

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    pile, run_dir, m = scoring_pile(6)
    (pile / "bad.png").write_text("not an image\n")
    archive = _tar_of(pile, tmp_path / "pile.tar.gz")

    def split_of(p: Path):
        return build_split(DataConfig(data=str(p), dataset="unlabelled", resolution=8, channels=1))

    calls = {"score_files": lambda: score_files(m, [pile]), "score_files of the archive": lambda: score_files(
             m, [archive]), "load_images": lambda: load_images([pile], 8, 1),
             "load_image_files": lambda: load_image_files([pile], 8, 1), "build_split": lambda: split_of(pile),
             "build_split of the archive": lambda: split_of(archive)}
    for name, call in calls.items():
        with pytest.raises(DataError) as e:
            call()
        said = str(e.value)
        assert "bad.png: not a readable image" in said, (name, said)
        assert "(skip_bad=True leaves unreadable files out)" in said and "--skip-bad" not in said, (name, said)
    assert main(["score", str(run_dir), "--data", str(pile), "--out", "-", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "(--skip-bad leaves unreadable files out)" in err and "skip_bad=True" not in err, err
    assert skip_bad_option() == API_SKIP_BAD
    with pytest.raises(DataError, match=r"\(skip_bad=True leaves unreadable files out\)"):
        score_files(m, [pile])


@pytest.mark.parametrize("given, said", [
    (np.zeros((4, 8, 8, 1), np.float32), "got dtype float32: it reads pixel values as 0..255"),   # scored as black
    (np.zeros((4, 8, 8, 1), np.float64) + 0.5, "got dtype float64"),
    (np.zeros((4, 8, 8, 3), np.uint8), r"got shape \(4, 8, 8, 3\)"),           # colour images, a gray run
    (np.zeros((4, 1, 8, 8), np.uint8), r"got shape \(4, 1, 8, 8\)"),           # channels first
    (np.zeros((4, 16, 16, 1), np.uint8), r"got shape \(4, 16, 16, 1\)"),       # another size
    (np.zeros((4, 8, 8), np.uint8), r"got shape \(4, 8, 8\)"),                 # no channel axis
    ([np.zeros((8, 8, 1), np.uint8)] * 4, "takes a numpy array .* got a list"),
])
def test_loaded_model_score_refuses_what_it_cannot_read_naming_the_shape_it_takes(given, said) -> None:
    """LoadedModel.score (documented: load_model(RUN).score(images)) reads uint8 [N, R, R, C]: a float array was
    scored without a word as if its values were 0..255 (near-black images, wrong scores), and a wrong layout failed
    in torch's conv2d, naming weights and channels of a layer, not the images."""
    m = _model()
    with pytest.raises(DataError, match=said) as got:
        m.score(given)
    assert r"uint8 [N, 8, 8, 1]" in str(got.value) and "to_images(X, 8, 1" in str(got.value), got.value
    assert len(m.score(np.zeros((4, 8, 8, 1), np.uint8)).scores["a"]) == 4          # what it takes
    assert len(m.score(np.zeros((0, 8, 8, 1), np.uint8)).scores["a"]) == 0          # no images: no scores


@pytest.mark.parametrize("cli", [False, True])
def test_chunks_of_a_wildgan_that_did_not_record_its_decoders_are_kept_with_the_caller_s_way_out(tmp_path, cli):
    """The warning that keeps an older resume folder's chunks named `wildgan score --no-resume` as the way to score
    afresh, to a Python caller of score_files or decision_function too: theirs is a call without resume_dir."""
    import json
    import warnings
    from contextlib import nullcontext

    from wildgan.data.imageset import decoder_versions
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as
    from wildgan.scoring.run import _reset_resume_dir

    d = tmp_path / "resume"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"x": 1}))      # (written before the decoders were recorded)
    (d / "chunk-00000.npz").write_bytes(b"")
    with skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext(), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _reset_resume_dir(d, lambda: {"decoders": decoder_versions(), "x": 1})
    text = " ".join(str(w.message) for w in said)
    assert "they were saved by a wildgan that did not record its decoders" in text, text
    assert (d / "chunk-00000.npz").is_file()                    # kept
    way = "(`wildgan score --no-resume`)" if cli else "(or score without resume_dir)"
    assert f"delete {d} {way} so that every image is scored from the same decoding" in text, text
    assert ("--" in text) == cli, text


def test_a_chunk_damaged_inside_its_zip_is_scored_again_not_a_traceback(tmp_path: Path) -> None:
    """A chunk file that starts as an .npz (a zip) but is damaged after (a disk error, a copy cut short) raised
    zipfile.BadZipFile, which is neither OSError nor ValueError: the resume, and a stopped score counting what it
    keeps (inside its Ctrl-C handler), ended in a traceback instead of scoring that chunk again."""
    from wildgan.scoring import run

    d = tmp_path / "resume"
    d.mkdir()
    (d / "chunk-00000.npz").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    parts, bad = run._read_resumed(d, [0], {0: "any"}, skip_bad=True, warn=False, warned=set())
    assert parts == [] and bad == []
