"""train_run called from Python: the messages it gives name its keyword arguments, not the CLI's options (which a
Python caller never typed), while a command of the CLI still names its options."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest

from wildgan.errors import CLI_SKIP_BAD, ConfigError, DivergenceError, skip_bad_said_as
from wildgan.training.divergence import rollback_checkpoint
from wildgan.training.run import check_out_dir


def _words(cli: bool):
    """The block a message is made in: a command of the CLI (cli._main's setting) or a Python call."""
    return skip_bad_said_as(CLI_SKIP_BAD) if cli else nullcontext()


def _a_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "stats.jsonl").write_text('{"kimg": 0.1}\n')       # a run that trained: not one a start may replace
    return run


@pytest.mark.parametrize("cli", [False, True])
def test_a_folder_holding_a_run_is_refused_in_the_caller_s_words(tmp_path, cli):
    run = _a_run(tmp_path)
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(run, None)
    said = str(e.value)
    assert said.startswith(f"{run} already holds a run (stats.jsonl): "), said
    if cli:
        assert "use --resume to continue it, --overwrite to delete it and start again, or another --out" in said
    else:
        assert "use resume=True to continue it, overwrite=True to delete it and start again, or another run_dir" \
            in said
        assert "--" not in said, said


@pytest.mark.parametrize("cli", [False, True])
def test_resume_refusals_name_the_caller_s_resume(tmp_path, cli):
    resume, overwrite = ("--resume", "--overwrite") if cli else ("resume=True", "overwrite=True")
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(tmp_path / "nothere", None, resume=True)
    assert str(e.value) == (f"{tmp_path / 'nothere'}: nothing to resume (no such folder); start a run there without "
                            f"{resume}, or give the run's folder")
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(tmp_path / "nothere", None, resume=True, overwrite=True)
    assert str(e.value) == f"{resume} continues the run in place and {overwrite} deletes it: give one of them"
    # a run whose config.json is gone, its checkpoints there: restore it, or start again (deleting them)
    run = _a_run(tmp_path)
    with _words(cli), pytest.raises(ConfigError) as e:
        check_out_dir(run, None, resume=True)
    assert str(e.value).endswith(f"or start again with {overwrite} (which deletes them)"), str(e.value)


@pytest.mark.parametrize("cli", [False, True])
def test_a_divergence_names_the_caller_s_way_on(tmp_path, cli):
    def diverge(ck_dir: Path, on_divergence: str = "stop", rollbacks: int = 0) -> str:
        with _words(cli), pytest.raises(DivergenceError) as e:
            rollback_checkpoint("NaN in loss_D", ck_dir, on_divergence=on_divergence, rollbacks=rollbacks, lr=1e-3,
                                kind="train_state", lower_lr="LR", interval="every N", log=lambda m: None)
        return str(e.value)

    empty = tmp_path / "none"
    ck_dir = tmp_path / "checkpoints"
    ck_dir.mkdir()
    (ck_dir / "ckpt-000000000512.json").write_text("{}")      # (only listed: nothing is read before the advice)
    kept, again, none = diverge(ck_dir), diverge(ck_dir, "rollback", 3), diverge(empty)
    if cli:
        assert kept.endswith("continue with --resume --on-divergence rollback (back to it with half the lr), or "
                             "start again with a lower LR"), kept
        assert again.endswith("start again with a lower LR (--overwrite, or another --out)"), again
        assert none.endswith("a smaller --checkpoint-kimg with --on-divergence rollback"), none
    else:
        assert kept.endswith("continue with resume=True and train.on_divergence='rollback' (back to it with half "
                             "the lr), or start again with a lower LR"), kept
        assert again.endswith("start again with a lower LR (overwrite=True, or another run_dir)"), again
        assert none.endswith("a smaller train.checkpoint_kimg with train.on_divergence='rollback'"), none
        assert not any("--" in m for m in (kept, again, none)), (kept, again, none)
