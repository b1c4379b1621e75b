"""The per-class AUC tables a user reads to see which kinds of anomaly a run finds: the console and Markdown tables
stay whole (one line per row, the cells under their header) whatever a class is named, a line break or a pipe
included; and tools/auc_by_class.py reads the folder of an evaluation on other data (`wildgan evaluate RUN --data
OTHER`) by its eval.json, and refuses a folder that says neither its data nor its split, naming --data."""

from __future__ import annotations

import numpy as np
from repo_root import REPO

from wildgan.evaluation.by_class import auc_by_class, by_class_lines, by_class_markdown
from wildgan.markdown import split_md_row


def test_a_class_name_with_a_line_break_and_a_pipe_keeps_the_console_and_markdown_tables_whole() -> None:
    odd = "left|right\nnext"
    labels = np.array([0, 0, 1, 1, 1, 1])
    classes = ["n", "n", odd, odd, "y", "y"]
    t = auc_by_class(labels, classes, {"a": np.array([1.0, 2, 3, 4, 0, 0.5])}, "a")
    md = by_class_markdown(t, ["a"]).splitlines()
    # one line per row, and the row's cells where the header's are: the name escaped, read back as it shows
    assert len(md) == 2 + 2 + 1, md
    cells = split_md_row(md[2])
    assert len(cells) == len(split_md_row(md[0])) and cells[1:] == ["2", "1.000", "5.5 of 6", "0"], cells
    assert cells[0] == r"'left|right\\nnext'", cells       # (the backslash itself Markdown-escaped: it shows as \n)
    lines = by_class_lines(t, ["a"])
    assert len(lines) == 3, lines
    assert lines[1].split() == [r"'left|right\nnext'", "2", "1.000", "5.5"], lines
    # the columns still line up: the AUCs end where the header's column does
    assert lines[1].index("1.000") + 5 == lines[0].index(" a") + 2 == lines[2].index("0.000") + 5, lines


def _tool():  # noqa: ANN202 (a module loaded from its file: tools/ is no package)
    """tools/auc_by_class.py, loaded as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("auc_by_class", REPO / "tools" / "auc_by_class.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_auc_by_class_reads_an_evaluation_on_other_data_by_its_eval_json(tmp_path, capsys):
    """`wildgan evaluate RUN --data OTHER.npz` writes its test_scores.csv in RUN/eval-*/, beside its eval.json and no
    split.json: tools/auc_by_class.py on that folder finds the file the evaluation scored in its eval.json, rather
    than stopping with a bare FileNotFoundError for split.json. A folder that says neither is refused naming
    --data."""
    import csv
    import json

    import numpy as np
    import pytest

    npz = tmp_path / "other.npz"
    np.savez(npz, x=np.zeros((4, 4, 4), np.uint8), y=np.array([0, 0, 1, 1]), class_names=np.array(["n", "odd"]))
    folder = tmp_path / "run" / "eval-other-abc123"
    folder.mkdir(parents=True)
    with open(folder / "test_scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "a"])
        w.writerows([(f"other:all:{k}", int(k > 1), float(k + 1)) for k in range(4)])
    (folder / "eval.json").write_text(json.dumps({"data": {"source": str(npz)}}))
    assert _tool().main([str(folder), "--scores", "a"]) == 0
    assert "| odd | 2 | 1.000 | 3.5 of 4 | 0 |" in capsys.readouterr().out.splitlines()
    (folder / "eval.json").unlink()
    with pytest.raises(SystemExit, match=r"eval-other-abc123: neither its eval\.json nor a split\.json .*--data"):
        _tool().main([str(folder)])
