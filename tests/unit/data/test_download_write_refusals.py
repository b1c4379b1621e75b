"""What the system refuses to write while a data set is unpacked or downloaded (a full disk, a file-size limit, a
folder that cannot be made there) and what the network does wrong mid-download: each said naming the file or folder
and what to do, never as an interrupted download or an offline machine it is not, nor as a bare traceback."""

from __future__ import annotations

import io
import os
import tarfile
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
