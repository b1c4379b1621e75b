"""`wildgan score --out`, `wildgan export --out` and their API writers (write_scores_csv, export_onnx) replace a file
of their own kind only: never one of the images being scored, nor an existing file of the user's of another kind (a
photo, notes), nor an ONNX model written under a name that is not .onnx. Each refusal names the file and comes before
anything is written, so that a mistyped --out loses the user nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wildgan.cli import main
from wildgan.errors import ConfigError


def test_score_does_not_write_its_csv_over_an_image_it_scores(scoring_pile, capsys):
    """`wildgan score --out` naming one of the very images it was given to score is refused (exit 2), and the image
    is left as it was."""
    pile, run_dir, _ = scoring_pile(4)
    image = pile / "0.png"
    before = image.read_bytes()
    code = main(["score", str(run_dir), "--data", str(pile), "--out", str(image), "--no-progress"])
    err = capsys.readouterr().err
    assert image.read_bytes() == before and code == 2
    assert f"--out {image} is one of the images in --data {pile}, which are scored" in err, err
    # the one file given, as --out too
    code = main(["score", str(run_dir), "--data", str(image), "--out", str(image), "--no-progress"])
    err = capsys.readouterr().err
    assert image.read_bytes() == before and code == 2
    assert f"--out {image} is one of the files given to score (--data {image})" in err, err


def test_score_out_replaces_a_csv_but_no_file_of_another_kind(scoring_pile, tmp_path, capsys):
    """An --out that is an existing file of the user's, not a scores CSV (an image elsewhere, notes), is refused,
    naming the file; a scores CSV written before (under a .csv name or any other) is replaced, as always."""
    pile, run_dir, _ = scoring_pile(4)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for other, kind in ((photo, "a .jpg file"), (notes, "a .txt file")):
        before = other.read_bytes()
        assert main(["score", str(run_dir), "--data", str(pile), "--out", str(other), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert other.read_bytes() == before
        assert f"--out {other} is an existing file that is not a scores CSV ({kind})" in err, err
    # a new file named as an image: a CSV among images would be read as a broken one
    assert main(["score", str(run_dir), "--data", str(pile), "--out", str(tmp_path / "new.png"), "--no-progress"]) == 2
    assert "names an image file (.png), but a scores CSV is written there" in capsys.readouterr().err
    assert not (tmp_path / "new.png").exists()
    # a scores CSV written before is known by its id column, under any name (saved again by a spreadsheet: with a
    # byte-order mark); an empty file (a script's `mktemp`) holds nothing to lose
    (tmp_path / "scores.csv").write_text("id,a\nx,0.5\n")
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbfid,a\r\nx,0.5\r\n")
    (tmp_path / "tmp.XXXX").touch()
    for out in (tmp_path / "scores.csv", tmp_path / "scores", tmp_path / "scores", tmp_path / "excel.csv",
                tmp_path / "tmp.XXXX"):
        assert main(["score", str(run_dir), "--data", str(pile), "--out", str(out), "--no-progress"]) == 0
        assert out.read_text().startswith("id,"), capsys.readouterr().err


def test_score_out_does_not_replace_a_csv_of_the_users(scoring_pile, tmp_path, capsys):
    """A .csv name was enough to be replaced: `score --out labels.csv` (a tab completion one file off) replaced the
    user's labels with the scores and exited 0. A CSV that is not a scores CSV (its first line not `id,...`) is
    refused, naming it and what it starts with, and left as it was; by the API's writer too."""
    from wildgan.scoring.run import write_scores_csv

    pile, run_dir, _ = scoring_pile(4)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n0.png,1\n")
    before = labels.read_bytes()
    assert main(["score", str(run_dir), "--data", str(pile), "--out", str(labels), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert labels.read_bytes() == before
    assert (f"--out {labels} is an existing file that is not a scores CSV written by wildgan (it starts "
            f"'file,label', not 'id,'): writing there would replace it; give a new name, e.g. "
            f"{tmp_path / 'scores.csv'}, or delete it first") in err, err
    with pytest.raises(ConfigError, match="write_scores_csv's path .* is an existing file that is not a scores CSV "
                                          "written by wildgan"):
        write_scores_csv(labels, ["a"], {"a": np.zeros(1)})
    assert labels.read_bytes() == before


def test_a_csv_that_cannot_be_read_is_refused_saying_so(tmp_path, monkeypatch):
    """A .csv whose first line cannot be read (no read permission: not known to be a scores CSV) is refused as one of
    another kind, as a file of another name is; the message said it "starts ''", a first line it never read."""
    import wildgan.fileio as fileio
    from wildgan.fileio import refuse_replacing_another_kind

    path = tmp_path / "locked.csv"
    path.write_text("id,a\nx,0.5\n")

    def unreadable(file, *a, **k):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(fileio, "open", unreadable, raising=False)   # (as root, chmod 000 does not stop a read)
    with pytest.raises(ConfigError) as e:
        refuse_replacing_another_kind(path, (".csv",), "a scores CSV", "scores.csv", label="--out", starts=b"id,")
    assert str(e.value) == (f"--out {path} is an existing file that is not known to be a scores CSV written by "
                            f"wildgan (it cannot be read: Permission denied): writing there would replace it; give a "
                            f"new name, e.g. {tmp_path / 'scores.csv'}, or delete it first"), str(e.value)


def test_export_out_must_be_an_onnx_name_and_replaces_no_other_file(tmp_path, capsys):
    """`export --out ni/car_0002.jpg` must not replace the image with the ONNX model, and `--out x.txt` must not be
    taken, since the help says .onnx. Both are refused before the run is read (a folder that is no run is enough)."""
    run = tmp_path / "run"
    run.mkdir()
    photo = tmp_path / "car.jpg"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    before = photo.read_bytes()
    assert main(["export", str(run), "--out", str(photo)]) == 2
    err = capsys.readouterr().err
    assert photo.read_bytes() == before
    assert f"--out {photo} is an existing file that is not an ONNX model (a .jpg file)" in err, err
    assert main(["export", str(run), "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'x.txt'} does not end in .onnx" in err and str(tmp_path / "x.onnx") in err, err


def test_the_api_writers_replace_no_file_of_another_kind(tmp_path):
    from wildgan.export import export_onnx
    from wildgan.scoring.run import write_scores_csv

    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    before = photo.read_bytes()
    with pytest.raises(ConfigError, match="write_scores_csv's path .* is an existing file that is not a scores CSV"):
        write_scores_csv(photo, ["a"], {"a": np.zeros(1)})
    with pytest.raises(ConfigError, match="export_onnx's path .* is an existing file that is not an ONNX model"):
        export_onnx(tmp_path / "no-run", photo)
    assert photo.read_bytes() == before
    write_scores_csv(tmp_path / "s.csv", ["a"], {"a": np.zeros(1)})
    write_scores_csv(tmp_path / "s.csv", ["a"], {"a": np.ones(1)})       # (its own kind: replaced)
    assert (tmp_path / "s.csv").read_text() == "id,a\na,1\n"


def test_score_help_says_which_existing_out_file_is_replaced(capsys):
    # the help said "an existing file is replaced only if it is a CSV", where a .csv not written as a scores CSV
    # (the user's labels.csv) is refused since: the help says what the refusal says
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "only if it is a CSV" not in text, text
    assert "an existing file is replaced only if it is a scores CSV (its first line id,...) or empty" in text, text
