"""What the system refuses to write while a data set is unpacked or downloaded (a full disk, a file-size limit, a
folder that cannot be made there) and what the network does wrong mid-download: each said naming the file or folder
and what to do, never as an interrupted download or an offline machine it is not, nor as a bare traceback."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import urllib.request
from pathlib import Path

import pytest

from wildgan.data import download as dl
from wildgan.errors import DataError


def _tar_of(size: int, path: Path) -> Path:
    """A plain tar of one member of `size` random bytes (random: a compressed tar would be no smaller)."""
    with tarfile.open(path, "w") as t:
        info = tarfile.TarInfo("pile/000.png")
        info.size = size
        t.addfile(info, io.BytesIO(os.urandom(size)))
    return path


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_an_unpack_that_a_file_size_limit_refuses_says_where_and_what_to_do(tmp_path: Path) -> None:
    """A real refusal (`ulimit -f`; Python ignores SIGXFSZ, so the write gets EFBIG, as on a FAT drive a member over
    4 GiB does): it was said 'could not unpack it ([Errno 27] File too large)', naming neither where it was written
    nor what to do, as a full disk (ENOSPC) is said."""
    import resource

    archive = _tar_of(256 * 1024, tmp_path / "pile.tar")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(DataError) as e:
            dl.safe_extract(archive, tmp_path / "cache" / ".tmp-pile-x")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    said = str(e.value)
    assert said.startswith(f"{archive}: could not write its unpacked files into {tmp_path / 'cache'} ([Errno 27] "), \
        said
    assert said.endswith("or unpack it into a folder on another file system"), said
    assert "ulimit -f" in said and "4 GiB" in said, said


class _Response(io.BytesIO):
    """urlopen's answer: `payload`, with a Content-Length of `length` (the payload's own by default)."""

    def __init__(self, payload: bytes, length: int | None = None) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload) if length is None else length)}

    def __enter__(self) -> "_Response":
        return self

    def __exit__(self, *a: object) -> None:
        self.close()


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_download_that_the_disk_refuses_names_the_file_and_is_not_said_as_offline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (here `ulimit -f`'s EFBIG, the same refusal of the write) while CIFAR-10's 163 MB came in was said
    'could not download CIFAR-10 from URL ([Errno 28] No space left on device); if this machine is offline, download
    it elsewhere': the network blamed, the file and its folder not named."""
    import resource

    payload = os.urandom(256 * 1024)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _Response(payload))
    root = tmp_path / "data" / "cifar10"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(DataError) as e:
            dl.download_cifar10(root, md5=hashlib.md5(payload).hexdigest(), progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    said = str(e.value)
    assert said.startswith(f"{root / dl.CIFAR10_ARCHIVE}: could not write the download ([Errno 27] "), said
    assert "offline" not in said and "free space in" in said and "data=FOLDER, download=True" in said, said
    assert not (tmp_path / "data").exists()            # (no partial download left, nor the folders made for it)


def test_a_download_into_a_cache_under_a_file_names_the_file_and_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$WILDGAN_CACHE set to a path under a regular file: `wildgan train --dataset cifar10 --download` ended on
    `error: [Errno 20] Not a directory: 'FILE/c/cifar10'`, naming neither the file in the way nor the variable."""
    (tmp_path / "afile").write_text("mine")
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "afile" / "c"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: pytest.fail("downloaded"))
    with pytest.raises(DataError) as e:
        dl.download_cifar10(dl.cache_root() / "cifar10", progress=False)
    said = str(e.value)
    assert said.startswith(f"{tmp_path / 'afile' / 'c' / 'cifar10' / dl.CIFAR10_ARCHIVE}: cannot download CIFAR-10 "
                           f"there: {tmp_path / 'afile'} is a file, not a folder; set $WILDGAN_CACHE to "), said
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_download_cut_short_says_so_and_to_run_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server closed the connection halfway (its Content-Length not reached; http.client's read(n) then returns
    b'' without a word): it was said 'md5 mismatch ... the download is corrupt or not CIFAR-10, refusing to use it',
    an interrupted download called corrupt, and no word of what to do."""
    payload = os.urandom(100_000)
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout=None: _Response(payload[:40_000], length=len(payload)))
    with pytest.raises(DataError) as e:
        dl.download_cifar10(tmp_path / "root", md5=hashlib.md5(payload).hexdigest(), progress=False)
    said = str(e.value)
    assert said.startswith(f"{dl.CIFAR10_URL}: the download ended after 40,000 of its 100,000 bytes (the connection "
                           f"was closed: an interrupted download?); run again"), said
    assert "md5" not in said, said
    assert not (tmp_path / "root").exists()


def test_a_download_whose_md5_does_not_match_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole (as long as the server said) but not the file: a proxy's page, a changed file. It said 'refusing to use
    it' and no more."""
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _Response(b"<html>login</html>"))
    with pytest.raises(DataError, match=r"md5 mismatch \(got [0-9a-f]{32}, expected c58f.*\); the download is corrupt "
                                        r"or not CIFAR-10, refusing to use it; run again, and where it fails so again, "
                                        r"download cifar-10-python\.tar\.gz elsewhere, unpack it and pass "
                                        r"data=PATH/cifar-10-batches-py$"):
        dl.download_cifar10(tmp_path / "root", progress=False)


@pytest.mark.parametrize("where", ["answer", "body"])
def test_a_server_s_answer_that_is_not_http_is_said_as_a_failed_download(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """http.client's own errors (not OSErrors: a proxy's or captive portal's answer that is not HTTP, BadStatusLine;
    a chunked body cut inside a chunk, IncompleteRead) ended the command on a traceback."""
    import http.client

    class Cut(_Response):
        def read(self, n: int = -1) -> bytes:
            raise http.client.IncompleteRead(b"x" * 10, 90)

    def urlopen(url: str, timeout: float | None = None) -> _Response:
        if where == "answer":
            raise http.client.BadStatusLine("HELLO")
        return Cut(b"")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(DataError, match=rf"^could not download CIFAR-10 from {dl.CIFAR10_URL} \((BadStatusLine: HELLO|"
                                        rf"IncompleteRead: .*)\); if this machine is offline, .*"):
        dl.download_cifar10(tmp_path / "root", progress=False)
    assert not (tmp_path / "root").exists()


def test_a_download_into_a_folder_that_cannot_be_made_names_the_folder_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only folder (here its refusal to make a folder in it, as `chattr +i` or a read-only mount gives) is
    named as the one to make writable, not the folder still to be made in it."""
    real_mkdir = Path.mkdir

    def refused(self: Path, *a: object, **k: object) -> None:
        if self.parent == tmp_path / "ro":
            raise PermissionError(1, "Operation not permitted", str(self))
        real_mkdir(self, *a, **k)                       # type: ignore[arg-type]

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(Path, "mkdir", refused)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: pytest.fail("downloaded"))
    with pytest.raises(DataError) as e:
        dl.download_cifar10(tmp_path / "ro" / "x", progress=False)
    assert str(e.value).startswith(f"{tmp_path / 'ro' / 'x' / dl.CIFAR10_ARCHIVE}: could not write the download "
                                   f"([Errno 1] Operation not permitted); free space in {tmp_path / 'ro'} ("), e.value


@pytest.mark.parametrize("member, why, advice", [
    (("../x.png", None), "that escapes the target folder: '../x.png'", "make the archive again with paths relative "
     "to the data set's folder (tar -C FOLDER -czf ARCHIVE .)"),
    (("/tmp/x.png", None), "with an absolute path: '/tmp/x.png'", "make the archive again with paths relative to the "
     "data set's folder (tar -C FOLDER -czf ARCHIVE .)"),
    (("pile/l.png", "/etc/passwd"), "that is not a plain file or folder (a symbolic link): 'pile/l.png'",
     "make the archive again holding the files its links point to (tar -h; zip without -y)"),
])
def test_a_member_refused_as_unsafe_says_how_to_make_the_archive_again(
        tmp_path: Path, member: tuple[str, str | None], why: str, advice: str) -> None:
    """A tar of a folder whose class folders or images are links (read as they are from the folder: docs/data.md)
    was refused, naming the member, with no word of how to make one that is read."""
    archive = tmp_path / "pile.tar"
    with tarfile.open(archive, "w") as t:
        name, link = member
        info = tarfile.TarInfo(name)
        if link is None:
            info.size = 3
            t.addfile(info, io.BytesIO(b"png"))
        else:
            info.type, info.linkname = tarfile.SYMTYPE, link
            t.addfile(info)
    with pytest.raises(DataError) as e:
        dl.safe_extract(archive, tmp_path / "dest")
    assert str(e.value) == f"{archive}: refusing archive member {why}; {advice}"
    assert not (tmp_path / "dest").exists()


def test_offline_with_an_archive_there_whose_md5_is_wrong_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive copied into the download's folder by hand (a machine offline), cut short: it is downloaded again,
    and offline that was said as 'could not download CIFAR-10 ... if this machine is offline', no word of the copy
    there that was passed over, nor why."""
    import urllib.error

    def offline(url: str, timeout: float | None = None) -> None:
        raise urllib.error.URLError("Name or service not known")

    (tmp_path / "root").mkdir()
    (tmp_path / "root" / dl.CIFAR10_ARCHIVE).write_bytes(b"\x1f\x8b" + b"\0" * 100)
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as e:
        dl.download_cifar10(tmp_path / "root", progress=False)
    assert f"({tmp_path / 'root' / dl.CIFAR10_ARCHIVE} is there, but its md5 is not CIFAR-10's: a copy cut short?)" \
        in str(e.value), e.value
    assert (tmp_path / "root" / dl.CIFAR10_ARCHIVE).stat().st_size == 102       # (left as it was)
