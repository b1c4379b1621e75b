"""`wildgan score` given data it cannot read as the labelled test split the run's protocol asks for: CIFAR-10
batches or an .npz whose labels are damaged (given by --data, or the run's own data read again), a lone CIFAR-10
batch file, a .tar.gz of class folders with images beside them or an empty class folder.

score refuses what it cannot read, or scores every image where the run has no protocol of its own, and its words
name only ways that work for that input: options score has (leaving out --normal), or the Python API's
Detector.from_run(RUN).decision_function(DATA), each followed here to check that it does (with --checkpoint too:
from_run loads the final networks, so that way is judged by theirs). It never names --dataset unlabelled, an option
score has not (a usage error for a user who copies it). Its success line suggests --normal only where --normal would
be taken."""

from __future__ import annotations

import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from damaged_data import cifar10_protocol_run, cifar_run_and_batches, damaged_cifar

from wildgan import Detector
from wildgan.cli import main
from wildgan.errors import DataError


def _follow_the_advice(err: str, run: Path, data: Path, out: Path, normal: list[str],
                       capsys: pytest.CaptureFixture[str]) -> None:
    """Does what score's refusal `err` names as the way to score every image of `data` without labels, and checks
    that it works: the Python API's call as written, or the command without --normal."""
    from wildgan import Detector
    from wildgan.cli import main

    way = err.split("to score every image of it without labels, ", 1)[1].strip()
    if way.startswith("use the Python API, "):
        call = way[len("use the Python API, "):]
        assert call == f"Detector.from_run({str(run)!r}).decision_function({str(data)!r})", call
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = eval(call, {"Detector": Detector})     # (the call exactly as the advice words it)
        assert len(scores) == 24
    else:
        assert way == "leave out --normal" and normal, way
        assert main(["score", str(run), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
        assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["labels", "meta"])
@pytest.mark.parametrize("given", ["folder", "archive"])
@pytest.mark.parametrize("runs, normal", [("trained", []), ("trained", ["--normal", "airplane"]),
                                          ("fit", ["--normal", "airplane"])])
def test_score_s_advice_for_cifar_batches_with_damaged_labels_works(
        trained_run: Path, fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str,
        given: str, runs: str, normal: list[str]) -> None:
    # CIFAR-10 batches (a folder or a .tar.gz) whose labels or batches.meta are damaged, given to `wildgan score`:
    # refused as the labelled test split it cannot be, with the way to score their every image without labels. That
    # way must work for this input (the Python API for a run with a protocol, leaving out --normal for one without),
    # and nothing in the refusal may name an option score has not (--dataset unlabelled, which score refuses as an
    # unrecognized argument, is what the plain refusal of a damaged batches.meta advises)
    from wildgan.cli import main

    run = trained_run if runs == "trained" else fit_run
    data = damaged_cifar(tmp_path / "data", damage, given)
    out = tmp_path / "scores.csv"
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(data), *normal, "--out", str(out), "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("labels outside 0..9" if damage == "labels" else "not a CIFAR-10 batches.meta") in err, err
    assert "--dataset" not in err, err
    if damage == "meta":        # (its other way, which score does take: the batches under CIFAR-10's own names)
        assert "remove it to read the batches under CIFAR-10's own class names" in err, err
    _follow_the_advice(err, run, data, out, normal, capsys)


def test_score_s_pile_reading_of_cifar_batches_names_no_dataset_option(fit_run: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # after a protocol-less run, the batches with a damaged batches.meta are scored whole; the warning that says
    # their labels are not read names no --dataset option, which score has not (and needs not: it reads them without
    # labels already)
    from wildgan.cli import main

    data = damaged_cifar(tmp_path / "data", "meta", "folder")
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    told = [" ".join(str(w.message).split()) for w in said if "not a CIFAR-10 batches.meta" in str(w.message)]
    assert len(told) == 1 and "its images are read without labels" in told[0], told
    assert "--dataset" not in told[0], told


@pytest.mark.parametrize("labels", ["sound", "2-D", "one short", "cifar"])
def test_score_s_success_line_suggests_normal_only_where_it_works(fit_run: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  labels: str) -> None:
    # a protocol-less run scores a data-set file whole without --normal; its line suggests "--normal CLASS labels
    # the rows" only where --normal works (not where the file's labels are damaged, which --normal is refused for),
    # as checked by running it
    from wildgan.cli import main

    x = np.random.default_rng(1).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    if labels == "cifar":
        data = damaged_cifar(tmp_path / "data", "labels", "folder")
    else:
        data = tmp_path / "d.npz"
        y = {"sound": np.arange(20) % 2, "2-D": np.zeros((20, 2), np.int64), "one short": np.arange(19) % 2}[labels]
        np.savez(data, x_train=x, y_train=y)
    out = tmp_path / "scores.csv"
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
        line = " ".join(capsys.readouterr().err.split())
        assert line.startswith("scored ") and f"every image of {data} (" in line, line
        normal_works = main(["score", str(fit_run), "--data", str(data), "--normal", "0" if labels == "sound" else
                             "airplane", "--whole", "--out", str(out), "--no-progress"]) == 0
    assert normal_works == (labels == "sound")
    assert ("--normal CLASS labels the rows" in line) == normal_works, line
    if not normal_works:
        assert "its labels are damaged: read without them" in line, line


@pytest.mark.parametrize("tree", ["sound", "empty class folder", "loose files beside", "three, one empty"])
def test_score_s_line_for_a_tar_of_class_folders_offers_normal_only_where_it_works(
        fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tree: str) -> None:
    # after a run without a protocol of its own, a .tar.gz of class folders given without --normal is scored whole;
    # the line suggests "--normal CLASS labels the rows" only where --normal works (not where a class folder is
    # empty, which --normal's labelled reading of it refuses), as checked by running it, and says why otherwise
    from PIL import Image

    from wildgan.cli import main

    rng = np.random.default_rng(0)
    top = tmp_path / "tree"
    counts = {"good": 24, "bad": 6}
    if tree == "empty class folder":
        counts["bad"] = 0
    if tree == "three, one empty":
        counts["worse"] = 0
    for name, n in counts.items():
        (top / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(top / name / f"{i}.png")
    if tree == "loose files beside":
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(top / "loose.png")
    data = tmp_path / "classes.tar.gz"
    with tarfile.open(data, "w:gz") as tf:
        for child in sorted(top.iterdir()):
            tf.add(child, arcname=child.name)
    out = tmp_path / "scores.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capsys.readouterr()
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
        line = " ".join(capsys.readouterr().err.split())
        assert line.startswith("scored ") and f"every image of {data} (labels not used" in line, line
        normal = main(["score", str(fit_run), "--data", str(data), "--normal", "good", "--whole", "--out", str(out),
                       "--no-progress"])
    refusal = " ".join(capsys.readouterr().err.split())
    assert (normal == 0) == (tree in ("sound", "loose files beside")), refusal
    assert ("--normal CLASS labels the rows" in line) == (normal == 0), line
    if normal != 0:     # (the line names why, in the refusal's words)
        assert "class folder contains no image files" in refusal and f"{data}:" in refusal, refusal
        assert f"--normal is refused for it: {data}:" in line and "class folder contains no image files" in line, line


def _npz_without_y_test(path: Path) -> Path:
    rng = np.random.default_rng(3)
    np.savez(path, x_train=rng.integers(1, 255, (20, 8, 8), dtype=np.uint8), y_train=np.repeat([0, 1], 10),
             x_test=rng.integers(1, 255, (6, 8, 8), dtype=np.uint8))
    return path


def test_an_npz_missing_y_test_is_scored_as_the_pile_it_also_is(fit_run: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An .npz with x_train, y_train and x_test but no y_test has sound images: the Detector and `wildgan score` of a
    run without a protocol of its own read it as the pile it also is, saying that its labels are missing, and name
    no --dataset unlabelled / dataset='unlabelled', which score has not."""
    from wildgan import Detector
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    data = _npz_without_y_test(tmp_path / "part.npz")
    with pytest.warns(WildganWarning, match="missing labels '?y_test") as said:
        scores = Detector.from_run(fit_run, device="cpu").decision_function(str(data))
    assert len(scores) == 26
    assert not any("--dataset unlabelled" in str(w.message) or "dataset='unlabelled'" in str(w.message)
                   for w in said), [str(w.message) for w in said]
    with pytest.warns(WildganWarning, match="missing labels y_test") as said:
        assert main(["score", str(fit_run), "--data", str(data), "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    assert not any("--dataset unlabelled" in str(w.message) for w in said), [str(w.message) for w in said]
    assert "its labels are damaged: read without them" in capsys.readouterr().err
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 27


def _class_tar_with_loose_image(where: Path) -> Path:
    """A .tar.gz of a class-folder tree (a/, b/, 4 images each) with one image beside the class folders."""
    import tarfile

    from PIL import Image

    tree = where / "tree"
    rng = np.random.default_rng(4)
    for name in ("a/0.png", "a/1.png", "a/2.png", "a/3.png", "b/0.png", "b/1.png", "b/2.png", "b/3.png", "loose.png"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tree / name)
    archive = where / "classes.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for f in sorted(tree.rglob("*.png")):
            tf.add(f, arcname=f.relative_to(tree).as_posix())
    return archive


def test_score_says_its_own_way_to_score_the_loose_images_of_a_class_folder_tar(
        fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The warning about images beside the class folders of a tar given to `wildgan score --normal` names score's
    own way to score them too (leaving out --normal), which works, not '--dataset unlabelled', an option score has
    not."""
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    archive = _class_tar_with_loose_image(tmp_path)
    with pytest.warns(WildganWarning, match="not in a class folder") as said:
        assert main(["score", str(fit_run), "--data", str(archive), "--normal", "a", "--out",
                     str(tmp_path / "labelled.csv"), "--no-progress"]) == 0
    loose = [str(w.message) for w in said if "not in a class folder" in str(w.message)]
    assert loose and all("--dataset" not in m and "leave out --normal" in m for m in loose), loose
    # the way named scores them: every image of the tar, the loose one too
    assert main(["score", str(fit_run), "--data", str(archive), "--out", str(tmp_path / "all.csv"),
                 "--no-progress"]) == 0
    assert len((tmp_path / "all.csv").read_text().splitlines()) == 1 + 9
    capsys.readouterr()


@pytest.fixture(scope="module")
def protocol_cifar_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run, its data): a tiny `wildgan train` run of fake CIFAR-10 batches (cifar10 protocol), whose batches.meta
    was damaged since (no label_names); trained without a batches.meta, under CIFAR-10's own names."""
    return cifar10_protocol_run(tmp_path_factory.mktemp("cifar-run"), meta=None)


def test_score_of_the_runs_own_damaged_batches_names_a_way_that_scores_them(
        protocol_cifar_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wildgan score RUN` refuses the run's own batches whose batches.meta lost label_names since training, and
    names a way to score them without labels that works (the Python API's), not --dataset unlabelled, which score
    has not."""
    import warnings

    from wildgan import Detector
    from wildgan.cli import main
    from wildgan.errors import WildganWarning

    run, data = protocol_cifar_run
    capsys.readouterr()
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    way = f"Detector.from_run({str(run)!r}).decision_function({str(data)!r})"
    assert "--dataset unlabelled" not in err and way in err, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)       # (its labels are damaged: read without them, said)
        scores = Detector.from_run(run, device="cpu").decision_function(str(data))
    assert len(scores) == 240 and np.isfinite(scores).all()


def test_score_of_an_npz_missing_y_test_after_a_protocol_run_names_scores_way(
        protocol_cifar_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After a run with a protocol of its own, such an .npz is refused as a labelled split (its test images have no
    labels), naming score's way to score it whole, not --dataset unlabelled, an option score has not."""
    from wildgan.cli import main

    run, _ = protocol_cifar_run
    data = _npz_without_y_test(tmp_path / "part.npz")
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(data), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "missing labels y_test" in err and "--dataset unlabelled" not in err, err
    assert "decision_function(" in err, err


def test_score_of_the_runs_own_damaged_batches_as_data_names_no_refused_way(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # `--data` naming the run's own batches (damaged since training, no training scores cached): the refusal names
    # the Python API's from_run(...).decision_function(DATA), which works (from_run reads the training scores, which
    # need the labels, only at the first call that needs them; decision_function needs none), and does not say that
    # this way needs the labels too; once mended, score takes the batches
    from damaged_data import cifar_train_run, write_meta

    run = cifar_train_run(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    write_meta(folder, names=False)
    capsys.readouterr()
    args = ["score", str(run), "--data", str(folder), "--out", str(tmp_path / "s.csv"), "--no-progress"]
    assert main(args) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    assert way in said and "needs them too here" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(eval(way, {"Detector": Detector})) == 48
    write_meta(folder, names=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
        assert len(Detector.from_run(str(run), device="cpu").decision_function(str(folder))) == 48


@pytest.mark.parametrize("checkpoint", [False, True], ids=["final", "checkpoint"])
def test_score_names_the_from_run_way_that_works_where_the_training_scores_are_cached(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], checkpoint: bool) -> None:
    """A run scored once (its train_scores.csv of the final networks written), its CIFAR-10 batches.meta then losing
    its label_names: `wildgan score RUN`, and `wildgan score RUN --checkpoint CKPT`, are refused (exit 2) and name the
    Python API's way, which scores the 48 images: with the training scores cached, from_run does not read the run's
    data by its labels at all, so the way is not said to need them too. from_run loads the run's final networks,
    whatever networks --checkpoint scored with, and reads their training scores only where a call needs them (here
    they are cached), so the refusal must not judge that way by the checkpoint's networks (nor say the cache 'is
    missing or stale')."""
    from damaged_data import cifar_train_run, write_meta

    run = cifar_train_run(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(run), "--threshold", "contamination", "--out", str(tmp_path / "s.csv"),
                     "--no-progress"]) == 0
    assert (run / "train_scores.csv").is_file()
    write_meta(folder, names=False)
    ck = ["--checkpoint", str(sorted((run / "checkpoints").glob("ckpt-*.json"))[-1])] if checkpoint else []
    capsys.readouterr()
    assert main(["score", str(run), *ck, "--out", str(tmp_path / "s2.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    assert way in said and "needs them too" not in said and "is missing or stale" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(eval(way, {"Detector": Detector}).tolist()) == 48      # (the way works: the cache is current)


def test_score_advice_for_the_runs_own_damaged_cifar_batches_works(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # `wildgan score RUN` refused for the run's own damaged labels (a batches.meta without label_names, the run
    # trained --no-train-scores) names both ways out: Detector.from_run(RUN).decision_function(DATA), which scores
    # every image without labels (from_run leaves the training scores, which need the labels, to the first call that
    # needs them: the threshold is still refused), and removing batches.meta; each is followed here and works
    from damaged_data import cifar_train_run, write_meta

    run = cifar_train_run(tmp_path)                       # (trained with --no-train-scores)
    folder = tmp_path / "cifar-10-batches-py"
    write_meta(folder, names=False)                       # damaged since training
    capsys.readouterr()
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    way = f"Detector.from_run({str(run)!r}).decision_function({str(folder)!r})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (from_run reads the training scores at the first call that needs them: the way works, as written too; the
        # threshold still needs the labels)
        assert len(Detector.from_run(str(run), device="cpu").decision_function(str(folder))) == 48
        assert len(eval(way, {"Detector": Detector})) == 48
        with pytest.raises(DataError, match="batches.meta"):
            Detector.from_run(str(run), device="cpu").threshold_
    assert way in said, said
    assert "remove it to read the batches under CIFAR-10's own class names" in said, said
    (folder / "batches.meta").unlink()                    # the advice followed: both ways work now
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                   # (2 test images: the mixed batch mode's warning)
        assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 0
        scores = Detector.from_run(str(run), device="cpu").decision_function(str(folder))
    assert len(scores) == 48                              # every image of the batches (6 files of 8)


@pytest.mark.parametrize("lone", [False, True])
def test_score_data_of_one_cifar_batch_file_advises_what_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  lone: bool) -> None:
    # `--data` of one CIFAR-10 batch file is refused; the advice names ways that read it, not
    # from_run(RUN).decision_function(FILE) nor `wildgan score RUN --data FILE`, which refuse one batch file too: the
    # folder of the six batches (or, for a batch alone, Python code reading the batch's own arrays), each followed
    run, folder = cifar_run_and_batches(tmp_path)
    batch = folder / "data_batch_1"
    if lone:
        (tmp_path / "lone").mkdir()
        batch = Path(shutil.copy(batch, tmp_path / "lone" / "data_batch_1"))
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(batch), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert f".decision_function({str(batch)!r})" not in said and f"--data {batch} does" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run(str(run), device="cpu")
        if not lone:
            way = f"Detector.from_run(RUN).decision_function({str(folder)!r})"
            assert way in said, said
            assert len(eval(way, {"Detector": Detector, "RUN": str(run)})) == 48
            assert f"`wildgan score RUN --data {folder}` reads them as a data set" in said, said
            assert main(["score", str(run), "--data", str(folder), "--out", str(tmp_path / "s.csv"),
                         "--no-progress"]) == 0
        else:
            code = said[said.index("from wildgan.data.dataset_files"):].split("`")[0]
            got: dict = {"Detector": Detector, "RUN": str(run)}
            exec(code, got)
            assert det.decision_function(got["x"]).shape == (8,)
