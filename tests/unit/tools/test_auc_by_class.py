"""tools/auc_by_class.py: per anomalous class, the AUC of every score and where the class ranks (rank 1 = most
normal), from a run's test_scores.csv and the classes of its labelled .npz."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from repo_root import REPO

TOOL = REPO / "tools" / "auc_by_class.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("auc_by_class", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def fake_run(tmp_path: Path, ids: list[str], labels: list[int], a: list[float], l_r: list[float]) -> Path:
    """A run folder as `wildgan evaluate` leaves it: test_scores.csv, test_controls.csv, split.json."""
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "test_scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "a", "L_r"])
        w.writerows(zip(ids, labels, a, l_r))
    with open(run / "test_controls.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "untrained_a"])
        w.writerows((i, lab, -v) for i, lab, v in zip(ids, labels, a))
    return run


def toy(tmp_path: Path) -> tuple[Path, Path]:
    """12 test images of 'cells:all:K' (K = 0..11): 4 normal, 4 'odd' that `a` ranks the most normal of all (lowest)
    and L_r the most anomalous, 4 'plain' between."""
    npz = tmp_path / "cells.npz"
    y = np.array([0] * 4 + [1] * 4 + [2] * 4)
    np.savez(npz, x=np.zeros((12, 4, 4), np.uint8), y=y, class_names=np.array(["normal", "odd", "plain"]))
    ids = [f"cells:all:{k}" for k in range(12)]
    a = [5.0, 6, 7, 8] + [0.0, 1, 2, 3] + [4.5, 9, 10, 11]
    l_r = [1.0, 2, 3, 4] + [9.0, 10, 11, 12] + [0.5, 5, 6, 7]
    run = fake_run(tmp_path, ids, [int(c > 0) for c in y], a, l_r)
    (run / "split.json").write_text(json.dumps({"source": str(npz)}))
    return run, npz


def test_a_class_the_score_calls_normal_is_named_with_its_auc_and_ranks(tmp_path, capsys):
    run, _ = toy(tmp_path)
    assert load_tool().main([str(run), "--scores", "a,L_r,untrained_a"]) == 0   # --data: split.json's source
    lines = {line.split(" | ")[0].strip("| "): line for line in capsys.readouterr().out.splitlines()}
    # odd: all four below every normal under a (AUC 0), above them under L_r (1), and the untrained column
    # (-a here) from test_controls.csv; their ranks 1-4 by a: median 2.5, one of them in the
    # 1 most normal (12 // 10)
    assert lines["odd"] == "| odd | 4 | 0.000 | 1.000 | 1.000 | 2.5 of 12 | 1 |"
    # plain: 4.5 below every normal, the other three above: 3/4 under a; L_r 0.5 below all, 5-7 above 4 of 4
    assert lines["plain"] == "| plain | 4 | 0.750 | 0.750 | 0.250 | 10.5 of 12 | 0 |"
    assert lines["(normal)"].startswith("| (normal) | 4 |") and lines["(normal)"].endswith("| 7.5 of 12 | 0 |")
    assert "in the 1 most normal" in lines["class"]


def test_ids_that_are_not_the_npz_s_are_refused_naming_the_file_and_the_fix(tmp_path):
    run, npz = toy(tmp_path)
    other = tmp_path / "other.npz"
    np.savez(other, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([0, 1]))
    with pytest.raises(SystemExit, match=r"other\.npz: has no label for test image 'cells:all:0'.*--data"):
        load_tool().main([str(run), "--data", str(other)])
    # and a run not evaluated yet says what to run
    (run / "test_scores.csv").unlink()
    with pytest.raises(SystemExit, match=r"no test_scores.csv; run `wildgan evaluate"):
        load_tool().main([str(run), "--data", str(npz)])


def test_npz_with_train_and_test_arrays_and_no_class_names(tmp_path, capsys):
    npz = tmp_path / "digits.npz"
    np.savez(npz, x_train=np.zeros((3, 4, 4), np.uint8), y_train=np.array([0, 0, 0]),
             x_test=np.zeros((4, 4, 4), np.uint8), y_test=np.array([0, 0, 7, 7]))
    ids = ["digits:test:0", "digits:test:1", "digits:test:2", "digits:test:3"]
    run = fake_run(tmp_path, ids, [0, 0, 1, 1], [1.0, 2, 3, 4], [1.0, 2, 3, 4])
    assert load_tool().main([str(run), "--data", str(npz), "--scores", "L_r"]) == 0
    out = capsys.readouterr().out
    assert "| 7 | 2 | 1.000 | 3.5 of 4 | 0 |" in out.splitlines()


def test_a_test_scores_csv_with_its_class_column_needs_no_data_file(tmp_path, capsys):
    # evaluate keeps each test image's class in test_scores.csv: the tool reads it there, for data of any format
    # (a class-folder tree here: no .npz to look the ids up in)
    run = fake_run(tmp_path, ["t/ok/1.png", "t/ok/2.png", "t/cat/3.png", "t/cat/4.png"], [0, 0, 1, 1],
                   [1.0, 2, 3, 4], [4.0, 3, 2, 1])
    with open(run / "test_scores.csv") as f:
        head, *body = f.read().splitlines()
    rows = [head + ",class", *(f"{line},{line.split('/')[1]}" for line in body)]
    (run / "test_scores.csv").write_text("\n".join(rows) + "\n")
    (run / "split.json").write_text(json.dumps({"source": str(tmp_path / "t")}))      # a folder: no labels to read
    assert load_tool().main([str(run), "--scores", "a,L_r,untrained_a"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "| cat | 2 | 1.000 | 0.000 | 0.000 | 3.5 of 4 | 0 |" in out and len(out) == 4


def _record(run: Path, names: tuple[str, ...]) -> dict:
    """eval.json's record of the side files `names` there, as `wildgan evaluate` writes it (size and sha256)."""
    import hashlib

    return {n: {"bytes": (run / n).stat().st_size, "sha256": hashlib.sha256((run / n).read_bytes()).hexdigest()}
            for n in names}


def test_scores_and_controls_of_two_evaluations_are_refused_not_joined(tmp_path, capsys):
    """An evaluation stopped among its renames leaves its test_controls.csv beside an earlier one's test_scores.csv
    (and eval.json): the tool joined them by id into one table. By the eval.json's record (each side file's sha256),
    the file that is not its own is named, with the command that writes them anew together."""
    run, _ = toy(tmp_path)
    ev = {"run_dir": str(run), "data": {"source": str(tmp_path / "cells.npz")},
          "files": _record(run, ("test_scores.csv", "test_controls.csv"))}
    (run / "eval.json").write_text(json.dumps(ev))
    assert load_tool().main([str(run), "--scores", "a,untrained_a"]) == 0       # its own files: read
    capsys.readouterr()
    with open(run / "test_controls.csv", "a") as f:                             # another evaluation's
        f.write("cells:all:0,0,1.5\n")
    with pytest.raises(SystemExit) as stop:
        load_tool().main([str(run), "--scores", "a,untrained_a"])
    assert str(stop.value) == (
        f"{run}: test_controls.csv differs from what the evaluation of its eval.json wrote (by the size and sha256 it "
        f"records): another evaluation, stopped while it renamed its files into place, left it there, or it was "
        f"edited since; run `wildgan evaluate {run}` again to write them anew, together")
    assert capsys.readouterr().out == ""
    # an eval.json of an older wildgan (no record): read as before
    (run / "eval.json").write_text(json.dumps({k: v for k, v in ev.items() if k != "files"}))
    assert load_tool().main([str(run), "--scores", "a,untrained_a"]) == 0


@pytest.mark.parametrize("in_eval_dir", [False, True], ids=["run", "eval-dir"])
def test_the_refusal_names_the_folder_given_not_where_the_run_was_evaluated(tmp_path, capsys, in_eval_dir):
    """eval.json's run_dir is the path the evaluation was given then: relative to the folder it ran in, or where a
    run since moved or copied was. The refusal's command named that path, which from here evaluates another run or
    none; it names the run the folder given is of (for RUN/eval-*/, the run folder above it)."""
    run, _ = toy(tmp_path)
    (run / "config.json").write_text(json.dumps({"net": {}, "train": {}}))      # (a run folder, as is_run_dir tells)
    folder = run / "eval-cells" if in_eval_dir else run
    if in_eval_dir:
        folder.mkdir()
        for name in ("test_scores.csv", "test_controls.csv"):
            (run / name).rename(folder / name)
    ev = {"run_dir": "runs/elsewhere", "data": {"source": str(tmp_path / "cells.npz"), "normal_classes": ["normal"]},
          "files": _record(folder, ("test_scores.csv", "test_controls.csv"))}
    (folder / "eval.json").write_text(json.dumps(ev))
    with open(folder / "test_scores.csv", "a") as f:                   # another evaluation's
        f.write("cells:all:12,1,0.5,0.5\n")
    with pytest.raises(SystemExit) as stop:
        load_tool().main([str(folder), "--scores", "a,untrained_a"])
    assert "runs/elsewhere" not in str(stop.value), stop.value
    again = (f"wildgan evaluate {run} --data {tmp_path / 'cells.npz'} --normal normal" if in_eval_dir else
             f"wildgan evaluate {run}")
    assert f"run `{again}` again" in str(stop.value), stop.value
