"""export_onnx's write of the model: a temp file of each export's own (fileio's ".NAME.XXXXXXXX.tmp"), fsynced and
renamed durably, so that two exports to one path at once both end with a whole model and leave no temp file.

Skipped cleanly when onnx is not installed (pip install 'wildgan[onnx]')."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import wildgan.export as export  # noqa: E402
from tiny_detector_fit import fit_quietly, random_images, tiny_fit_kwargs  # noqa: E402
from wildgan import Detector  # noqa: E402
from wildgan.fileio import write_temp_files  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("export_write") / "run"
    fit_quietly(Detector(**tiny_fit_kwargs(run)), random_images())
    return run


def _whole_model(path: Path) -> None:
    """The file at path is a complete exported model: it loads, checks, and has its metadata."""
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    assert {p.key for p in m.metadata_props} >= {"wildgan_version", "resolution", "outputs"}


def test_two_exports_to_one_path_at_once_both_end_whole(run_dir, tmp_path, monkeypatch) -> None:
    # a second export that runs, to the end, while the first is between its write and its rename: with the fixed temp
    # name both wrote .model.onnx.tmp, the second renamed it away, and the first then failed on a file gone
    out = tmp_path / "model.onnx"
    real = export._add_metadata
    temps: list[Path] = []

    def meanwhile(path: Path, meta: dict, doc: str = "") -> None:
        temps.append(Path(path))
        if len(temps) == 1:
            assert export.export_onnx(run_dir, out, batch_size=2) == out      # the other export, whole
            _whole_model(out)
        real(path, meta, doc=doc)

    monkeypatch.setattr(export, "_add_metadata", meanwhile)
    assert export.export_onnx(run_dir, out, batch_size=2) == out
    assert len(temps) == 2 and temps[0] != temps[1]
    # each temp file is named as fileio's atomic writes name theirs: one rule tells a temp file (wildgan info)
    assert all(t.parent == tmp_path and t.name.startswith(".model.onnx.") and t.name.endswith(".tmp") for t in temps)
    _whole_model(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"] and write_temp_files(tmp_path) == []


def test_a_failed_export_leaves_no_temp_file_and_the_old_model(run_dir, tmp_path, monkeypatch) -> None:
    out = tmp_path / "model.onnx"
    export.export_onnx(run_dir, out, batch_size=2)
    before = out.read_bytes()

    def fails(path: Path, meta: dict, doc: str = "") -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_add_metadata", fails)
    with pytest.raises(OSError, match="No space left"):
        export.export_onnx(run_dir, out, batch_size=2)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_the_export_is_fsynced_before_its_rename_and_its_folder_after(run_dir, tmp_path, monkeypatch) -> None:
    # a rename that a power cut can undo (or that lands before the data) left an empty or old model behind a
    # completed `wildgan export`: the file is fsynced before its rename, the folder after, as fileio's writes do
    out = tmp_path / "model.onnx"
    # (each fsync with the size its file had then: the temp file is made, empty, and fsynced before the exporter
    # writes into it by name, so an fsync of its inode alone said nothing of the model's bytes)
    events: list[tuple[str, int, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        events.append(("fsync", st.st_ino, st.st_size))
        real_fsync(fd)

    def replace(src, dst) -> None:
        if Path(dst) == out:
            st = os.stat(src)
            events.append(("replace", st.st_ino, st.st_size))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    export.export_onnx(run_dir, out, batch_size=2)
    monkeypatch.undo()
    model, size, folder = out.stat().st_ino, out.stat().st_size, tmp_path.stat().st_ino
    renamed = events.index(("replace", model, size))
    assert size > 0 and ("fsync", model, size) in events[:renamed]          # the whole model, not the empty file
    assert any(e[:2] == ("fsync", folder) for e in events[renamed:])
    _whole_model(out)


def test_the_export_is_synced_through_a_descriptor_that_may_write(run_dir, tmp_path, monkeypatch) -> None:
    # the exporter writes the model by name, so the write reopens it to fsync: opened read-only, Windows refuses the
    # fsync (FlushFileBuffers needs write access), and every export failed there
    from windows_fsync import fsync_as_on_windows

    out = tmp_path / "model.onnx"
    refused = fsync_as_on_windows(monkeypatch)
    assert export.export_onnx(run_dir, out, batch_size=2) == out
    monkeypatch.undo()
    assert set(refused) <= {"folder"}, refused          # (the folder's sync refused, as on Windows, and passed over)
    _whole_model(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_an_export_to_a_symlink_writes_through_it(run_dir, tmp_path) -> None:
    # refuse_replacing_another_kind checks the link's target as the file replaced; the rename replaced the link
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.onnx"
    link = tmp_path / "current.onnx"
    link.symlink_to(target)
    export.export_onnx(run_dir, link, batch_size=2)
    assert link.is_symlink() and os.readlink(link) == str(target)
    _whole_model(target)
