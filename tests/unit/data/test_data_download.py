"""CIFAR-10 download without network: urlopen is replaced by a fake serving a tiny tar.gz built here."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import shutil
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from wildgan.config import DataConfig
from wildgan.data import build_split, download_cifar10, load_dataset
from wildgan.data.download import CIFAR10_URL
from wildgan.data.dataset_files import CIFAR10_CLASSES
from wildgan.errors import DataError


def fake_cifar_tgz(n=40) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name: str, obj) -> None:
            data = pickle.dumps(obj, protocol=3)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = [i % 10 for i in range(n)]
            add(name, {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": labels})
        add("batches.meta", {b"label_names": [c.encode() for c in CIFAR10_CLASSES]})
    return buf.getvalue()


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


@pytest.fixture
def served(monkeypatch):
    payload = fake_cifar_tgz()
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return payload, calls


def test_download_and_reuse(tmp_path, served):
    payload, calls = served
    md5 = hashlib.md5(payload).hexdigest()
    out = download_cifar10(tmp_path / "root", md5=md5)
    assert out == tmp_path / "root" / "cifar-10-batches-py" and (out / "data_batch_5").is_file()
    assert calls == [CIFAR10_URL]
    assert download_cifar10(tmp_path / "root", md5=md5) == out and len(calls) == 1  # no second download
    assert not list((tmp_path / "root").glob(".tmp-*"))


def test_md5_mismatch_refused(tmp_path, served):
    with pytest.raises(DataError, match="md5 mismatch"):
        download_cifar10(tmp_path / "root")  # the real CIFAR md5 cannot match the fake payload
    assert not (tmp_path / "root" / "cifar-10-python.tar.gz").exists()
    assert not (tmp_path / "root" / "cifar-10-batches-py").exists()


def test_offline_is_a_clear_error(tmp_path, monkeypatch):
    def urlopen(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(DataError, match="could not download CIFAR-10.*offline.*pass data=PATH/cifar-10-batches-py$"):
        download_cifar10(tmp_path)
    # the folders it made for the download are gone with it: an empty cifar-10-batches-py/ left behind read as a
    # (broken) data set on the next run without --download
    with pytest.raises(DataError, match="could not download"):
        download_cifar10(tmp_path / "data" / "cifar-10-batches-py")
    assert not (tmp_path / "data").exists() and tmp_path.is_dir()


def test_load_dataset_download_option(tmp_path, served, monkeypatch):
    from wildgan.data import download as dl

    payload, _ = served
    monkeypatch.setattr(dl, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "cifar", "cifar10")  # no download unless asked
    # download=True with another protocol (--download without --dataset cifar10): refused, saying what it needs
    with pytest.raises(DataError, match="no such file.*download=True fetches CIFAR-10 only with dataset='cifar10'"):
        load_dataset(tmp_path / "cifar", "auto", download=True)
    assert not (tmp_path / "cifar").exists()
    train, test, kind = load_dataset(tmp_path / "cifar", "cifar10", download=True)
    assert kind == "cifar-batches" and len(train) == 200 and len(test) == 40
    s = build_split(DataConfig(data=str(tmp_path / "cifar"), dataset="cifar10"), download=True)
    assert s.info["protocol"] == "cifar10" and s.info["n_normal_train"] == 20


def test_a_killed_download_s_leftovers_are_taken_back_once_a_day_old(tmp_path, served, monkeypatch):
    """A download_cifar10 killed while it unpacked left a '.tmp-cifar10-*' folder (the whole data set, 180 MB), and
    one killed while it downloaded its partial archive ('.cifar-10-python.tar.gz.*.tmp'): nothing ever swept either.
    Once a day old by its last change of any kind (max of mtime and ctime, as the cache's unpacks are judged) it is
    taken back at the next call, also one that finds the data set already there; one that may be running stays."""
    import os
    import time
    import types

    from wildgan.data import download as dl

    payload, calls = served
    md5 = hashlib.md5(payload).hexdigest()
    root = tmp_path / "root"
    root.mkdir()
    killed, running = root / ".tmp-cifar10-killed", root / ".tmp-cifar10-running"
    partial, mine = root / ".cifar-10-python.tar.gz.k1ll3d.tmp", root / "mine"
    for d in (killed, running):
        (d / "cifar-10-batches-py").mkdir(parents=True)
        (d / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"0" * 100)
    partial.write_bytes(b"\x1f\x8b" + bytes(100))
    mine.mkdir()                                        # (not the download's: never taken)
    # (a day passes: the sweep goes by ctime too, which no test can set back, so its clock goes on instead, and the
    # running one is written to then)
    later = time.time() + dl.STALE_UNPACK_S + 60
    os.utime(running, (later - 60, later - 60))
    with monkeypatch.context() as m:
        m.setattr(dl, "time", types.SimpleNamespace(time=lambda: later))
        out = download_cifar10(root, md5=md5)
    assert (out / "data_batch_1").is_file() and len(calls) == 1
    assert not killed.exists() and not partial.exists() and running.is_dir() and mine.is_dir()
    # the data set there already (the call returns at once): its leftovers are taken back too
    killed.mkdir()
    later = time.time() + dl.STALE_UNPACK_S + 60
    with monkeypatch.context() as m:
        m.setattr(dl, "time", types.SimpleNamespace(time=lambda: later))
        assert download_cifar10(root, md5=md5) == out
    assert not killed.exists() and len(calls) == 1
    killed.mkdir()                                      # (made just now: it may be another call's, running)
    assert download_cifar10(root, md5=md5) == out and killed.is_dir()


def test_a_data_set_folder_that_is_not_whole_is_moved_aside_and_downloaded_again(tmp_path, served):
    """download_cifar10 took cifar-10-batches-py for there when it held data_batch_1 and test_batch (a copy cut short
    kept those two and not the rest), and after its unpack renamed its own into place only where no folder was there:
    an empty one the user made, or one that lacks batches, was returned as the data set, for the read to refuse later
    as 'not a complete cifar-10-batches-py folder'. Each batch is looked for (a file, not empty); an empty folder is
    replaced, one that holds anything is moved aside whole, said naming both folders, never removed."""
    payload, calls = served
    md5 = hashlib.md5(payload).hexdigest()
    root = tmp_path / "root"
    target = root / "cifar-10-batches-py"
    target.mkdir(parents=True)                                  # (made by hand, empty)
    out = download_cifar10(root, md5=md5)
    assert out == target and sorted(p.name for p in out.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]) and len(calls) == 1
    # a copy cut short: the two batches the old check looked for, another one empty, and a file of the user's
    for name in ("data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"):
        (target / name).unlink()
    (target / "data_batch_2").write_bytes(b"")
    (target / "notes.txt").write_text("mine")
    with pytest.warns(UserWarning) as caught:
        out = download_cifar10(root, md5=md5)
    assert out == target and all((out / f"data_batch_{i}").stat().st_size > 0 for i in range(1, 6))
    assert len(calls) == 1                                      # (the archive kept from the first call, md5 checked)
    aside = [p for p in root.iterdir() if p.name.startswith("cifar-10-batches-py.") and p.is_dir()]
    assert len(aside) == 1 and (aside[0] / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in aside[0].iterdir()) == ["batches.meta", "data_batch_1", "data_batch_2", "notes.txt",
                                                          "test_batch"]
    said = [str(w.message) for w in caught]
    assert len(said) == 1 and str(target) in said[0] and aside[0].name in said[0], said
    assert "data_batch_3" in said[0] and "data_batch_2 is empty" in said[0], said
    assert download_cifar10(root, md5=md5) == out and len(calls) == 1   # (whole now: no unpack, no warning)


def test_an_archive_without_every_batch_is_refused_naming_what_it_lacks(tmp_path, monkeypatch):
    """An archive of the right md5 (a --url and --md5 of one's own) whose cifar-10-batches-py lacks a batch was
    renamed into place as the data set where it held data_batch_1."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("data_batch_1", "test_batch"):
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    payload = buf.getvalue()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: not a whole CIFAR-10 archive: .*data_batch_2"):
        download_cifar10(tmp_path / "root", md5=hashlib.md5(payload).hexdigest())
    assert not (tmp_path / "root" / "cifar-10-batches-py").exists()


def test_offline_with_a_data_set_folder_that_is_not_whole_says_why_it_downloads(tmp_path, monkeypatch):
    """A run that had its cifar-10-batches-py (cut short) was told only that the download failed, not why it
    downloaded at all; the folder is left as it is."""
    def urlopen(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    target = tmp_path / "cifar-10-batches-py"
    target.mkdir()
    (target / "data_batch_1").write_bytes(b"x")
    with pytest.raises(DataError, match=rf"could not download .*\({re.escape(str(target))} is there, but has no "
                                        rf"data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch\)"):
        download_cifar10(tmp_path)
    assert sorted(p.name for p in target.iterdir()) == ["data_batch_1"]


def test_load_dataset_with_download_replaces_a_batches_folder_cut_short(tmp_path, served, monkeypatch):
    """load_dataset called download_cifar10 only where the folder was missing or empty: with download=True a
    cifar-10-batches-py cut short under a folder that holds it (the cache's cifar10/, or --data FOLDER) was read as it
    was, and refused, the download never tried. Now it is downloaded again (the copy cut short moved aside, said),
    whether the path names the folder that holds it, the cache (no path) or cifar-10-batches-py itself."""
    from wildgan.data import download as dl

    payload, calls = served
    monkeypatch.setattr(dl, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    root = tmp_path / "cifar"
    batches = root / "cifar-10-batches-py"
    load_dataset(root, "cifar10", download=True)
    assert len(calls) == 1

    def cut_short() -> None:
        for name in ("data_batch_3", "data_batch_4", "data_batch_5"):
            (batches / name).unlink()
        (root / "cifar-10-python.tar.gz").unlink()      # (so the download is fetched again, not the archive reused)

    for n, (path, opts) in enumerate([(root, {}), (None, {"cache_dir": str(root)}), (batches, {})], start=2):
        cut_short()
        with pytest.raises(DataError, match="data_batch_3|download=True to fetch it"):
            load_dataset(path, "cifar10", **opts)       # (without download=True: refused, nothing fetched)
        assert len(calls) == n - 1
        with pytest.warns(UserWarning, match="not a whole CIFAR-10 data set"):
            train, test, kind = load_dataset(path, "cifar10", download=True, **opts)
        assert kind == "cifar-batches" and len(train) == 200 and len(test) == 40 and len(calls) == n
        assert not (batches / "cifar-10-batches-py").exists()
    # whole: read as it is, nothing fetched
    load_dataset(root, "cifar10", download=True)
    assert len(calls) == 4
    # the archive alone (an unpack killed, or the folder removed): unpacked again, its md5 checked, nothing fetched
    shutil.rmtree(batches)
    assert load_dataset(root, "cifar10", download=True)[2] == "cifar-batches" and len(calls) == 4


def test_a_download_s_leftovers_are_not_read_and_a_folder_not_whole_says_download_fetches_it(tmp_path, served,
                                                                                             monkeypatch):
    """download_cifar10 moves a cifar-10-batches-py cut short aside (cifar-10-batches-py.incomplete-<time>), and a
    killed call leaves its unpack (.tmp-cifar10-*) and partial download until a later one takes them back. The folder
    moved aside was read as a class folder: a root holding only it and the archive failed with 'class folder contains
    no image files', and one holding it beside the whole data set or beside image class folders read it too. The
    readers skip those names (download.is_cifar_download_leftover, their one definition), and a root a download
    would fetch CIFAR-10 into, read without one, is refused saying that download=True fetches it again."""
    from PIL import Image

    from wildgan.data import download as dl
    from wildgan.data.readers import folder_class_names

    payload, calls = served
    monkeypatch.setattr(dl, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    root = tmp_path / "cifar"
    batches = root / "cifar-10-batches-py"
    load_dataset(root, "cifar10", download=True)
    (batches / "data_batch_3").unlink()
    for dataset, fetch in (("cifar10", "download=True"), ("auto", "dataset='cifar10', download=True")):
        with pytest.raises(DataError, match=rf"^{re.escape(str(batches))}: not a complete cifar-10-batches-py folder "
                                            rf"\(it has no data_batch_3; .*\): {re.escape(fetch)} fetches it again"):
            load_dataset(root, dataset)
    with pytest.warns(UserWarning, match="moved aside"):
        load_dataset(root, "cifar10", download=True)
    aside = [p.name for p in root.iterdir() if p.name.startswith("cifar-10-batches-py.incomplete-")]
    assert len(aside) == 1 and dl.is_cifar_download_leftover(aside[0]), aside
    (root / ".tmp-cifar10-abc").mkdir()                         # (a killed call's unpack and partial download)
    (root / ".cifar-10-python.tar.gz.xyz.tmp").write_bytes(b"part")
    assert load_dataset(root, "cifar10")[2] == "cifar-batches"  # (whole, the leftovers beside it not read)
    shutil.rmtree(batches)                                      # the archive and the leftovers alone
    for dataset, fetch in (("cifar10", "download=True"), ("auto", "dataset='cifar10', download=True")):
        with pytest.raises(DataError, match=rf"^{re.escape(str(root))}: holds no cifar-10-batches-py, only what a "
                                            rf"CIFAR-10 download leaves \(.*\): {re.escape(fetch)} fetches it again"):
            load_dataset(root, dataset)
    assert load_dataset(root, "cifar10", download=True)[2] == "cifar-batches" and len(calls) == 1
    # beside class folders of images, the folder moved aside (holding an image of the user's) is no class
    tree = tmp_path / "tree"
    for name in ("a", "b", aside[0], "cifar-10-batches-py.old"):
        (tree / name).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tree / name / "x.png")
    assert folder_class_names(tree) == ["a", "b", "cifar-10-batches-py.old"]   # (only the download's exact names)
    assert not dl.is_cifar_download_leftover("cifar-10-batches-py.incomplete-mine")


class SizedResponse(FakeResponse):
    """A response that says its size, as an HTTP server's Content-Length does."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


@pytest.mark.parametrize("sized", [False, True])
def test_the_download_shows_its_bar_from_before_it_connects(tmp_path, monkeypatch, capsys, sized):
    # 163 MB downloaded without a word, and a network that drops packets kept the command silent until urlopen's
    # timeout: the bar, drawn before the connection is made, says what the wait is
    payload = fake_cifar_tgz()
    seen = []

    def urlopen(url, timeout=None):
        seen.append(capsys.readouterr().err)        # what the user sees while the connection is made
        return SizedResponse(payload) if sized else FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    download_cifar10(tmp_path / "root", md5=hashlib.md5(payload).hexdigest(), progress=True)
    assert f"download CIFAR-10 into {tmp_path / 'root'}" in seen[0]
    done = capsys.readouterr().err.replace("\r", "\n").splitlines()[-1]
    kib = f"{len(payload) / 1024:.1f}"[:3]          # (tqdm's 3 significant digits, in KiB)
    assert kib in done and "B" in done, done
    if sized:
        assert "100%" in done, done


def test_no_bar_without_progress(tmp_path, served, capsys):
    payload, _ = served
    download_cifar10(tmp_path / "root", md5=hashlib.md5(payload).hexdigest(), progress=False)
    assert capsys.readouterr().err == ""


def test_load_dataset_s_download_follows_its_progress_option(tmp_path, monkeypatch, capsys):
    payload = fake_cifar_tgz()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    monkeypatch.setattr("wildgan.data.download.CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    load_dataset(tmp_path / "a", "cifar10", download=True, progress=True)
    assert "download CIFAR-10 into" in capsys.readouterr().err
    load_dataset(tmp_path / "b", "cifar10", download=True, progress=False)
    assert "download CIFAR-10" not in capsys.readouterr().err


def test_download_true_with_data_of_its_own_is_warned_in_python_once(tmp_path, monkeypatch):
    """load_dataset(path, download=True) on an .npz or a folder of class folders read the data as it is and ignored
    download in silence, as though a download had been tried (the CLI's --download is refused there): warned once, in
    the API's words. A DataConfig's download (a run's config.json replayed by resume or --config) stays silent: the
    run was made so and replays as it was."""
    import warnings

    from PIL import Image

    from wildgan.errors import WildganWarning

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    rng = np.random.default_rng(0)
    npz = tmp_path / "d.npz"
    np.savez(npz, x_train=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), y_train=np.arange(20) % 2,
             x_test=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), y_test=np.arange(10) % 2)
    tree = tmp_path / "tree"
    for c in ("a", "b"):
        (tree / c).mkdir(parents=True)
        for i in range(40):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tree / c / f"{i}.png")
    for path in (npz, tree):
        for dataset in ("auto", "cifar10"):
            if dataset == "cifar10" and path == npz:
                continue               # (an .npz of other classes is refused for the cifar10 protocol)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                load_dataset(path, dataset, download=True)
            said = [str(w.message) for w in caught if issubclass(w.category, WildganWarning)
                    and "download" in str(w.message)]
            assert len(said) == 1 and "download=True" in said[0] and "--download" not in said[0], (path, said)
            assert "ignored" in said[0]
        # the same read without download=True: no such word
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            load_dataset(path)
        assert not [w for w in caught if "download" in str(w.message)]
    # a DataConfig's recorded download (config.json's `download: true`, replayed): read as before, without the word
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = build_split(DataConfig(data=str(tree), normal=("a",), download=True))
    assert len(s.train_x) and not [w for w in caught if "download" in str(w.message)]
    # build_split's own download=True is the caller's word, as load_dataset's: warned
    with pytest.warns(WildganWarning, match="download=True"):
        build_split(DataConfig(data=str(tree), normal=("a",)), download=True)


@pytest.mark.parametrize("code,reason", [(404, "Not Found"), (503, "Service Unavailable")])
def test_a_server_that_answers_with_an_http_error_is_not_said_as_offline(tmp_path, monkeypatch, code, reason):
    # (an HTTP error is an answer: the machine reached the server, so 'if this machine is offline' sent the user to
    # look at a network that worked; the URL moved or the server is down)
    def urlopen(url, timeout=None):
        raise urllib.error.HTTPError(url, code, reason, None, None)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(DataError) as err:
        download_cifar10(tmp_path)
    msg = str(err.value)
    assert f"HTTP Error {code}" in msg and "offline" not in msg
    assert f"the server answered {code}" in msg and "data=PATH/cifar-10-batches-py" in msg


def test_two_downloads_into_one_folder_at_once_fetch_it_once(tmp_path, monkeypatch):
    # two runs started together on a fresh machine (a study's cells, two terminals) each fetched the 163 MB: the
    # second now waits for the first's download and finds the data set whole
    import threading

    payload = fake_cifar_tgz()
    monkeypatch.setattr("wildgan.data.download.CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    started, go, calls = threading.Event(), threading.Event(), []

    def urlopen(url, timeout=None):
        calls.append(url)
        if len(calls) == 1:
            started.set()
            go.wait(10)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    got, errors = [], []

    def fetch():
        try:
            got.append(download_cifar10(tmp_path / "root", progress=False))
        except BaseException as e:   # (raised in the thread: said by the assert below)
            errors.append(e)

    first = threading.Thread(target=fetch)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=fetch)
    second.start()
    second.join(0.5)                 # (where it does not wait, it downloads now)
    go.set()
    first.join(20)
    second.join(20)
    assert not errors and len(got) == 2 and got[0] == got[1]
    assert len(calls) == 1
    assert (got[0] / "data_batch_5").is_file()
