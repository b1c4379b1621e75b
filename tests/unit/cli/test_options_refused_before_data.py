"""`wildgan train` and `wildgan study` refuse a bad value of an option (--lr -1, --g-image-loss nan, --gp-target -1,
...) before they read the data, in the same words as before: the refusal came only once the split was built, minutes
into decoding a large folder, for a fault the value alone decides. The data here is a folder whose every image fails
to decode, and the readers are replaced by ones that fail the test: a refusal that waited for the read would say the
unreadable files (or the replaced reader's fault) instead."""

from __future__ import annotations

from pathlib import Path

import pytest

import wildgan.data
import wildgan.studies.study
import wildgan.training.run
from wildgan.cli import main


def _undecodable_tree(where: Path) -> Path:
    """A folder of two class folders whose .png files are no images: any read of it is refused as unreadable."""
    for cls in ("a", "b"):
        (where / cls).mkdir(parents=True)
        for i in range(6):
            (where / cls / f"{i}.png").write_bytes(b"not an image")
    return where


@pytest.fixture
def no_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The data's readers replaced by ones that record their call and fail: the list of those called."""
    called: list[str] = []

    def refuse(name: str):
        def read(*args: object, **kwargs: object) -> None:
            called.append(name)
            raise AssertionError(f"{name} read the data before the options were checked")
        return read

    # the modules that bind the readers by name on import too (imported above; replaced there as well, and put back
    # with the rest): one imported while only wildgan.data's were replaced (the command under test imported
    # training.run lazily) kept the failing reader for good, and a later test on the same worker (a Detector.fit)
    # failed with "build_split read the data before the options were checked"
    for module in (wildgan.data, wildgan.training.run, wildgan.studies.study):
        for name in ("build_split", "load_split_data"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse(name))
    return called


GP_TARGET_WORDS = ("must be a positive number, the critic's target gradient norm (1, the authors' code; 750, the pGAN "
                   "paper's CIFAR-10 value), got -1")
# (NaN and inf got only "must be a positive number, got nan", without what the target is: the same words as -1)
GP_TARGET_NAN = f"--gp-target {GP_TARGET_WORDS[:-len('-1')]}nan"
GP_TARGET_INF = f"--gp-target {GP_TARGET_WORDS[:-len('-1')]}inf"


@pytest.mark.parametrize("flags, said", [
    (["--lr", "-1"], "--lr must be a positive number, got -1"),
    (["--g-image-loss", "-1"], "--g-image-loss must be a number >= 0, got -1"),
    (["--g-image-loss", "nan"], "--g-image-loss must be a number >= 0, got nan"),
    (["--gp-target", "-1"], f"--gp-target {GP_TARGET_WORDS}"),
    (["--gp-target", "nan"], GP_TARGET_NAN),
    (["--phase-kimg", "0"], "--phase-kimg must be a positive number, got 0"),
    (["--width", "0"], "--width must be >= 1, got 0"),
    (["--g-image-loss", "1", "--encoder-loss", "latent"], "not --encoder-loss latent"),
])
@pytest.mark.parametrize("dry_run", [True, False])
def test_train_refuses_a_bad_option_before_reading_the_data(tmp_path, capsys, no_read, flags, said,
                                                             dry_run) -> None:
    data = _undecodable_tree(tmp_path / "data")
    rc = main(["train", "--data", str(data), "--normal", "a", "--preset", "tiny", *flags,
               "--out", str(tmp_path / "run"), *(["--dry-run"] if dry_run else [])])
    err = capsys.readouterr().err
    assert rc == 2 and said in err, err
    assert no_read == [] and "unreadable" not in err
    assert not (tmp_path / "run").exists()


def test_a_config_files_bad_value_is_refused_before_the_data_in_the_files_words(tmp_path, capsys, no_read) -> None:
    data = _undecodable_tree(tmp_path / "data")
    cfg = tmp_path / "my.yaml"
    cfg.write_text(f"data: {data}\nnormal: a\nlr: -1\n")
    rc = main(["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{cfg}: lr must be a positive number, got -1 (the --lr setting)" in err, err
    assert no_read == []


@pytest.mark.parametrize("flags, said", [
    (["--lr", "-1"], "--lr must be a positive number, got -1"),
    (["--gp-target", "-1"], f"--gp-target {GP_TARGET_WORDS}"),
    (["--gp-target", "nan"], GP_TARGET_NAN),
    (["--gp-target", "inf"], GP_TARGET_INF),
    (["--g-image-loss", "nan"], "--g-image-loss must be a number >= 0, got nan"),
    (["--g-image-loss", "-1"], "--g-image-loss must be a number >= 0, got -1"),
    (["--phase-kimg", "nan"], "--phase-kimg must be a positive number, got nan"),
])
def test_study_refuses_a_bad_option_before_reading_the_data(tmp_path, capsys, no_read, flags, said) -> None:
    data = _undecodable_tree(tmp_path / "data")
    rc = main(["study", "--data", str(data), "--normal", "a", "--preset", "tiny", *flags,
               "--out", str(tmp_path / "study")])
    err = capsys.readouterr().err
    assert rc == 2 and said in err, err
    assert no_read == [] and "unreadable" not in err


def test_a_valid_option_still_reads_the_data(tmp_path, capsys, no_read) -> None:
    # (the check before the read refuses only what is wrong: good values go on to the read, here the failing one)
    data = _undecodable_tree(tmp_path / "data")
    with pytest.raises(AssertionError, match="build_split read the data"):
        main(["train", "--data", str(data), "--normal", "a", "--preset", "tiny", "--lr", "0.002",
              "--out", str(tmp_path / "run"), "--dry-run"])
    assert no_read == ["build_split"]
