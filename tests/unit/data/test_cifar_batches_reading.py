"""How CIFAR-10 batches (a cifar-10-batches-py folder, or an archive of one) are read when their labels are damaged
(labels outside 0..9, a batches.meta without label_names) and when a batch is edited after a read of them was kept.

Readings that need the labels refuse damaged ones naming the file and what it holds; readings that use every image
and ignore the labels (the Detector's fit, decision_function, X_val) read the batches as the pile of images they also
are, with a warning that says so in the words of what the user is doing (training or scoring). A user with a
half-damaged download can still score or train on it, and learns which file to mend."""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from damaged_data import TINY_FIT, damaged_cifar, small_batches


def _cifar_batches(folder: Path, n: int = 4) -> Path:
    """A tiny cifar-10-batches-py folder: the six batches of n images each, and CIFAR-10's batches.meta."""
    from wildgan.data.dataset_files import CIFAR10_CLASSES, CIFAR_BATCH_FILES

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in CIFAR_BATCH_FILES:
        d = {b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(d, protocol=3))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    return folder


@pytest.mark.parametrize("meta", [{b"num_vis": 3072, b"label_nmaes": [b"a"] * 10}, [b"a"] * 10])
def test_a_batches_meta_without_label_names_is_refused_naming_it(tmp_path: Path, meta: object) -> None:
    # a batches.meta that is no dict, or has no label_names, is refused naming the file and what it holds, as one
    # that does not unpickle is (not read as CIFAR-10's class names in silence), marked as a damaged label array is
    # (split_problem: the images are sound); reading the batches as a pile does not read it; without a batches.meta
    # at all, the batches have CIFAR-10's own class names
    from wildgan.data import load_dataset
    from wildgan.errors import SPLIT_CLASSES, DataError

    folder = _cifar_batches(tmp_path / "cifar-10-batches-py")
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    with pytest.raises(DataError) as e:
        load_dataset(folder)
    said = str(e.value)
    assert said.startswith(f"{folder / 'batches.meta'}: not a CIFAR-10 batches.meta: "), said
    assert ("without 'label_names' (it holds label_nmaes, num_vis)" if isinstance(meta, dict) else
            "a list, not a dict") in said, said
    assert "dataset='unlabelled'" in said and e.value.split_problem == SPLIT_CLASSES
    pile, _, kind = load_dataset(folder, "unlabelled")
    assert kind == "unlabelled-cifar-batches" and len(pile) == 24
    # no batches.meta at all: CIFAR-10's names
    (folder / "batches.meta").unlink()
    train, _, _ = load_dataset(folder)
    assert train.class_names[0] == "airplane"


@pytest.mark.parametrize("damage", ["labels", "meta"])
@pytest.mark.parametrize("given", ["folder", "archive"])
def test_cifar_batches_with_damaged_labels_are_read_as_a_pile_like_an_npz(tmp_path: Path, damage: str,
                                                                          given: str) -> None:
    # the Detector (decode_items: fit, decision_function, X_val) reads a data-set file's every image, labels ignored:
    # CIFAR-10 batches (a folder or an archive of them) whose labels are damaged are read as the pile they also are,
    # as an .npz is, with a warning naming the damaged file (an archive's member by ARCHIVE:MEMBER), under the ids of
    # a sound copy; labels that reading never uses must not refuse it
    import tarfile

    from wildgan.data.dataset_files import restricted_unpickle
    from wildgan.data.inputs import decode_items
    from wildgan.errors import WildganWarning

    folder = _cifar_batches(tmp_path / "cifar-10-batches-py")
    x_sound, ids_sound = decode_items(str(folder), "per-image")
    if damage == "labels":
        d = restricted_unpickle(folder / "test_batch")
        (folder / "test_batch").write_bytes(pickle.dumps({**d, b"labels": [12] * len(d[b"labels"])}, protocol=3))
        said = "test_batch: labels outside 0..9"
    else:
        (folder / "batches.meta").write_bytes(pickle.dumps({b"num_vis": 3072}, protocol=3))
        said = "batches.meta: not a CIFAR-10 batches.meta"
    X = folder
    if given == "archive":
        X = tmp_path / "c.tar.gz"
        with tarfile.open(X, "w:gz") as tf:
            tf.add(folder, arcname="cifar-10-batches-py")
        said = f"{X}:cifar-10-batches-py/{said}"
    with pytest.warns(WildganWarning, match=re.escape(said) + ".*its images are read without labels"):
        x, ids = decode_items(str(X), "per-image")
    assert ids == ids_sound and np.array_equal(np.asarray(x), np.asarray(x_sound))


@pytest.mark.parametrize("damage", ["meta", "labels"])
def test_the_pile_warning_names_training_in_fit_and_scoring_in_scoring(tmp_path: Path, damage: str) -> None:
    # batches with damaged labels given whole to the Detector are read as a pile, with a warning that says what the
    # labels are not used for: training in Detector.fit, scoring in decision_function (not "scoring" in both)
    from wildgan import Detector
    from wildgan.data.dataset_files import LabelsUnreadWarning

    data = damaged_cifar(tmp_path / "data", damage, "folder")

    def said(call: object) -> list[str]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            call()      # type: ignore[operator]
        return [" ".join(str(w.message).split()) for w in got if issubclass(w.category, LabelsUnreadWarning)]

    model = Detector(**TINY_FIT, run_dir=str(tmp_path / "run"))
    fitting = said(lambda: model.fit(str(data)))
    assert len(fitting) == 1 and fitting[0].endswith("its images are read without labels, which training does not "
                                                     "use"), fitting
    scoring = said(lambda: model.decision_function(str(data)))
    assert len(scoring) == 1 and scoring[0].endswith("its images are read without labels, which scoring does not "
                                                     "use"), scoring


@pytest.mark.usefixtures("one_thread")
def test_a_kept_cifar_read_of_the_downloads_layout_is_read_again_after_a_batch_is_edited(tmp_path: Path) -> None:
    # a folder in the download's layout (holding cifar-10-batches-py, read as the batches too), kept as Detector.fit's
    # X_val read, is read again after a batch inside it is edited in place (the stamp of a kept read covers the
    # batches' files, not only the folder's own): scoring the old pixels would give scores of images no longer there
    import wildgan.data.inputs as inputs
    from wildgan.data.readers import detect_format

    root = tmp_path / "cifar"
    folder = root / "cifar-10-batches-py"
    small_batches(folder, {b"label_names": [b"c%d" % i for i in range(10)]})
    assert detect_format(root) == "cifar-batches"
    kept: list = []
    assert inputs.check_image_paths(str(root), "X_val", keep=kept) == 12 and kept
    batch = folder / "data_batch_3"
    d = pickle.loads(batch.read_bytes())
    d[b"data"] = 255 - d[b"data"]
    batch.write_bytes(pickle.dumps(d, protocol=3))         # (in place: the folders' own mtimes stay as they were)
    with inputs.reusing_read(kept[0]):
        x, _ = inputs.decode_items(str(root), "per-image")
    edited = d[b"data"].reshape(2, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(np.stack(x)[4:6], edited), "the batch's pixels from before its edit were reused"
