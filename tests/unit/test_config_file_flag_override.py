"""A flag given beside `--config` changes the setting it controls, even where the file's own value of it would be
refused: `--config`'s help says 'explicit flags change only what they control', `--resume`'s 'options given beside it
change only what they control, e.g. a longer --total-kimg', and config.run_config_in's refusal of a run's config file
names '(the --X setting)' as the way out. A user who mends a bad value by the flag the refusal names must get a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _labelled_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    p = tmp_path / "tiny.npz"
    np.savez(p, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    return p


def test_a_flag_given_beside_a_run_config_changes_the_setting_its_refusal_names(tmp_path: Path, capsys) -> None:
    """A run's config file whose total_kimg is 0 (a hand edit gone wrong), given with `--total-kimg 1` beside it:
    the flag wins and the dry run goes through, or at the least the refusal does not point at --total-kimg, the flag
    that was given and did not help."""
    from wildgan.cli import main

    data = _labelled_npz(tmp_path)
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--out", str(tmp_path / "unused"), "--dry-run"]) == 0, capsys.readouterr().err
    whole = json.loads(capsys.readouterr().out)
    whole["train"]["total_kimg"] = 0                      # (a hand edit gone wrong)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(whole))
    rc = main(["train", "--config", str(cfg), "--total-kimg", "1", "--out", str(tmp_path / "r"), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 0 or "--total-kimg" not in err, err
