"""wildgan's input errors are ValueErrors too, as scikit-learn's callers expect (their `except ValueError` for bad
input and bad parameters), and still WildganErrors first (the CLI's exit 2, `except WildganError`)."""

from __future__ import annotations

import argparse
import contextlib

import numpy as np
import pytest

from wildgan import cli
from wildgan.detector import Detector
from wildgan.errors import CheckpointError, ConfigError, DataError, DivergenceError, WildganError
from wildgan.training import run as training_run


def test_data_and_config_errors_are_value_errors_after_wildgan_errors() -> None:
    for cls in (DataError, ConfigError):
        assert issubclass(cls, ValueError) and issubclass(cls, WildganError)
        # WildganError first: a handler list that tells them apart by the first base, and the message, are ours
        assert cls.__bases__ == (WildganError, ValueError)
        e = cls("x.npz: no images")
        assert isinstance(e, ValueError) and str(e) == "x.npz: no images"
    # the others are not bad input or a bad parameter: a damaged checkpoint, a diverged training
    assert not issubclass(CheckpointError, ValueError) and not issubclass(DivergenceError, ValueError)


def test_wildgan_error_is_reachable_where_the_python_api_page_names_it() -> None:
    """docs/python_api.md: 'Errors are `wildgan.WildganError`s (`ConfigError`, `DataError`, ...)', beside
    `wildgan.WildganWarning`. The package exported the warning but not the error once: a caller who wrote
    `except wildgan.WildganError:` as the page says got an AttributeError, raised while the except clause is
    evaluated, i.e. only once a wildgan error had happened, which hid the error it was meant to catch."""
    import wildgan

    assert wildgan.WildganError is WildganError and "WildganError" in wildgan.__all__
    assert issubclass(ConfigError, wildgan.WildganError) and issubclass(DataError, wildgan.WildganError)
    try:
        raise DataError("x.npz: no images")
    except wildgan.WildganError as e:
        assert str(e) == "x.npz: no images"

def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a, **k):
        raise AssertionError("training started")
    monkeypatch.setattr(training_run, "train_run", refuse)


def test_a_detector_s_bad_input_and_bad_parameter_are_caught_as_value_errors(monkeypatch) -> None:
    _no_training(monkeypatch)
    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"^X: an empty path") as bad_input:
        Detector(preset="tiny", device="cpu").fit("")
    assert isinstance(bad_input.value, DataError)
    with pytest.raises(ValueError, match=r"^threshold must be one of") as bad_parameter:
        Detector(preset="tiny", device="cpu", threshold="median").fit(x)
    assert isinstance(bad_parameter.value, ConfigError)


def _typed_actions() -> list[tuple[str, argparse.Action]]:
    """(command, action) for every option of every command whose type= is one of wildgan's own parsers."""
    sub = next(a for a in cli.make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [(cmd, a) for cmd, parser in sub.choices.items() for a in parser._actions
            if callable(a.type) and getattr(a.type, "__module__", None) == cli.parser.__name__]


def test_the_option_parsers_never_let_a_value_error_reach_argparse() -> None:
    # argparse reads a ValueError (a ConfigError is one now) from a type= function as its own "invalid _device
    # value: 'gpu'", and drops our message: each of ours must say its refusal as an ArgumentTypeError
    typed = _typed_actions()
    assert {a.type.__name__ for _, a in typed} >= {"_device", "_threads", "_positive_int", "_keep_count"}
    for cmd, a in typed:
        for bad in ("", "x", "-1", "1.5", "nan", "gpu", "cuda:x", "cuda:-1", "0"):
            try:
                a.type(bad)
            except argparse.ArgumentTypeError:
                pass
            except Exception as e:      # noqa: BLE001 - any other kind is what this test is about
                pytest.fail(f"{cmd} {a.option_strings[0]} {bad!r}: {type(e).__name__}: {e}")


@pytest.mark.parametrize("argv, said", [
    (["train", "--device", "gpu"], "argument --device: gpu is not a device (a GPU is cuda): use auto, cpu, cuda or "
                                   "cuda:N (N: a GPU's number, from 0)"),
    (["score", "RUN", "--threads", "-1"], "argument --threads: must be at least 0 (0 = torch's default), "
                                                  "got -1"),
    (["train", "--keep-checkpoints", "some"], "argument --keep-checkpoints: expected a whole number or 'all', "
                                              "got some")])
def test_an_option_s_own_refusal_is_said_not_argparse_s(argv: list[str], said: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        cli.make_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and said in err and "invalid" not in err, err


def test_commands_and_links_the_data_messages_suggest_quote_a_path_with_spaces(tmp_path) -> None:
    # copied as printed, `ln -s NEW_PLACE /data/my set.npz` or `--data /data/my set.npz` was split by the shell at the
    # space: each suggested path goes through errors.shell_word
    from wildgan.data.dataset_files import dataset_among_images_error
    from wildgan.data.readers import missing_run_data_error
    from wildgan.data.source_identity import restore_advice

    p = tmp_path / "my data" / "set.npz"
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with skip_bad_said_as(CLI_SKIP_BAD):       # (the command's words: a Python caller is told its calls)
        assert f"(score a data set on its own: `wildgan score RUN --data '{p}'`)" in str(dataset_among_images_error(p))
    assert str(dataset_among_images_error(p)).endswith(
        f"(score a data set on its own: Detector.decision_function({str(p)!r}), or score_files(model, [{str(p)!r}]))")
    assert str(missing_run_data_error(str(p), tmp_path / "run")).endswith(f"(ln -s NEW_PLACE '{p}')")
    assert f"(or link its new place there: ln -s NEW_PLACE '{p}');" in restore_advice(p)
    # a --resume refused for its --data, whose recorded data is gone: the link from the new place back to the old
    from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig

    new = tmp_path / "new place" / "set.npz"
    hint = training_run._moved_data_hint(RunConfig(DataConfig(data=str(p)), NetConfig(), TrainConfig()),
                                         RunConfig(DataConfig(data=str(new)), NetConfig(), TrainConfig()))
    assert hint.endswith(f"link it there (ln -s '{new}' '{p}') and resume with the data path the run records "
                         f"(read_run_config(RUN).data)"), hint
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with skip_bad_said_as(CLI_SKIP_BAD):               # (the command's: its --data is what moved the data)
        hint = training_run._moved_data_hint(RunConfig(DataConfig(data=str(p)), NetConfig(), TrainConfig()),
                                             RunConfig(DataConfig(data=str(new)), NetConfig(), TrainConfig()))
    assert f"link it there (ln -s '{new}' '{p}') and resume without --data" in hint, hint


def test_a_stop_s_resume_advice_is_a_command_to_paste_and_comes_off_whole() -> None:
    # a stop said "continue with --resume": now the command, with the run's folder quoted as one shell word; the demo
    # and a study, whose own way on replaces it, take it off whatever the run's path holds (a fixed phrase matched by
    # replace() broke on any rewording)
    import shlex

    from wildgan.errors import CLI_SKIP_BAD, TrainingInterrupted, resume_advice, skip_bad_said_as

    run = "runs/my run's `x`"
    with skip_bad_said_as(CLI_SKIP_BAD):
        assert resume_advice(run) == f"continue with `wildgan train --out {shlex.quote(run)} --resume`"
        assert shlex.split(resume_advice(run).split("`", 1)[1].rsplit("`", 1)[0]) == \
            ["wildgan", "train", "--out", run, "--resume"]
        assert resume_advice(run, distributed=True).endswith(f"--out {shlex.quote(run)} --resume --distributed`")
    head = f"interrupted by SIGINT (Ctrl-C) at 3.2 of 30 kimg; checkpoint saved in {run}/checkpoints"
    for distributed in (False, True):
        advice = resume_advice(run, distributed)
        e = TrainingInterrupted(head, 2, checkpoint_dir=f"{run}/checkpoints", resume_advice=advice)
        assert str(e) == f"{head}; {advice}" and e.resume_advice == advice and e.without_advice == head
        assert e.message == head
    # a message without it (the stop as training ended) is kept as it is
    done = TrainingInterrupted("as training ended at 30 kimg; the training is complete", 2, checkpoint_dir="r/c",
                               complete=True)
    assert done.resume_advice is None and done.without_advice == done.message == str(done)


def test_a_torchrun_job_stopped_by_sighup_is_told_how_its_next_one_outlives_the_terminal() -> None:
    # torchrun sets its own SIGHUP handler over nohup's SIG_IGN and passes the signal on to the ranks: `nohup torchrun`
    # stopped when its terminal closed, and the advice to run the same torchrun command again would stop again
    import signal

    from wildgan.errors import CLI_SKIP_BAD, resume_advice, skip_bad_said_as

    with skip_bad_said_as(CLI_SKIP_BAD):
        plain = resume_advice("runs/a", distributed=True)
        hup = resume_advice("runs/a", distributed=True, signum=signal.SIGHUP)
        assert hup.startswith(f"{plain} (torchrun passes a closed terminal's SIGHUP on to every rank, under nohup too")
        assert hup.endswith("run it in tmux or screen, or give torchrun --signals-to-handle SIGTERM,SIGINT,SIGQUIT)")
        # one process (which nohup keeps alive) and the other signals: nothing more
        assert resume_advice("runs/a", signum=signal.SIGHUP) == resume_advice("runs/a")
        assert resume_advice("runs/a", True, signal.SIGTERM) == resume_advice("runs/a", True, None) == plain
    # a Python caller's torchrun job too
    assert "--signals-to-handle" in resume_advice("runs/a", True, signal.SIGHUP)
    assert "--signals-to-handle" not in resume_advice("runs/a", True, signal.SIGINT)


def test_a_stop_s_resume_advice_names_train_run_s_keyword_to_a_python_caller() -> None:
    # `wildgan train --out RUN --resume` told a Python caller of train_run of a command it had not typed
    from wildgan.errors import CLI_SKIP_BAD, resume_advice, skip_bad_said_as

    assert resume_advice("runs/a") == "continue with train_run(cfg, 'runs/a', resume=True) with the same cfg"
    assert "resume=True" in resume_advice("runs/a", distributed=True)
    assert "--resume" not in resume_advice("runs/a") + resume_advice("runs/a", distributed=True)
    with skip_bad_said_as(CLI_SKIP_BAD):
        assert "--resume" in resume_advice("runs/a") and "resume=True" not in resume_advice("runs/a")


def test_a_stop_s_advice_is_a_field_that_survives_pickle() -> None:
    # the ranks of a torchrun job send each other their errors by pickle: the advice, kept apart from the message,
    # must come back apart (a copy whose advice is in its text only would be parsed again)
    import pickle

    from wildgan.errors import TrainingInterrupted

    e = TrainingInterrupted("interrupted at 1 of 2 kimg; checkpoint saved in r/checkpoints", 15, where="at 1 of 2",
                            checkpoint_dir="r/checkpoints", resume_advice="continue with X")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is TrainingInterrupted and str(back) == str(e)
    assert (back.signum, back.where, back.checkpoint_dir, back.complete) == (15, "at 1 of 2", "r/checkpoints", False)
    assert back.resume_advice == "continue with X" and back.without_advice == e.without_advice


def test_what_a_stop_left_undone_is_a_field_a_caller_replaces_without_touching_the_message() -> None:
    # a stop as training ended said "what was to follow it (the training scores, --evaluate) was not run" in its text
    # only, and the demo and a study replaced those words in it: a run path holding them was rewritten too, and any
    # rewording of the loops' text left train's --evaluate in the demo's and the study's messages
    import pickle

    from wildgan.errors import TrainingInterrupted, after_training_words

    head = "interrupted as training ended; its networks are saved (runs/x (the training scores, --evaluate)/final)"
    e = TrainingInterrupted(head, 2, complete=True, not_run="the training scores, --evaluate")
    assert after_training_words("the cell's evaluation") == "what was to follow it (the cell's evaluation) was not run"
    assert str(e) == e.without_advice == f"{head}; what was to follow it (the training scores, --evaluate) was not run"
    assert (e.message, e.not_run, e.resume_advice) == (head, "the training scores, --evaluate", None)
    back = pickle.loads(pickle.dumps(e))
    assert (str(back), back.message, back.not_run) == (str(e), head, e.not_run)
    # a caller's own terms, set as fields: the path in the message keeps its words
    ours = TrainingInterrupted(e.message, e.signum, complete=e.complete, not_run="the cell's evaluation",
                               resume_advice="to continue, run the study again")
    assert str(ours) == f"{head}; what was to follow it (the cell's evaluation) was not run; to continue, run the " \
                        f"study again"
    assert TrainingInterrupted("stopped", 2).not_run is None and str(TrainingInterrupted("stopped", 2)) == "stopped"


@pytest.mark.parametrize("cli", [False, True])
def test_data_and_config_messages_name_the_caller_s_options(tmp_path, cli) -> None:
    """Messages made below the Python entry points named the CLI's options to a Python caller (--depth16, --square
    letterbox, --config, --no-controls): errors.option_words names them as the call in progress takes them."""
    import warnings

    from PIL import Image

    from wildgan.config import load_config_file
    from wildgan.data.readers import iter_images
    from wildgan.data.transforms import float_image_to_uint8
    from wildgan.errors import CLI_SKIP_BAD, ConfigError, DataError, skip_bad_said_as
    from wildgan.evaluation.run import format_table

    def words():
        return skip_bad_said_as(CLI_SKIP_BAD) if cli else contextlib.nullcontext()

    binary = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 16), np.uint8)).save(binary)
    with words(), pytest.raises(ConfigError) as config:
        load_config_file(binary)
    with words(), pytest.raises(DataError) as floats:
        float_image_to_uint8(np.full((2, 2), 300.0, np.float32), "x")
    with words(), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        list(iter_images([binary], 8, 1))
    with words():
        table = format_table({"auc": {"a": 0.5}, "ap": {"a": 0.5}, "n_test": 4, "n_anomalous": 2})
    texts = [str(config.value), str(floats.value), " ".join(str(w.message) for w in said), table]
    if cli:
        assert "--config takes a YAML" in texts[0] and "(then --depth16 chooses the rule)" in texts[1]
        assert "(a run trained with --square letterbox letterboxes" in texts[2] and "without --no-controls" in texts[3]
    else:
        assert "not a text file (invalid start byte at byte 0); a config file is a YAML" in texts[0], texts[0]
        assert texts[1].endswith("(then depth16= chooses the rule)"), texts[1]
        assert "(a run trained with square='letterbox' letterboxes" in texts[2], texts[2]
        assert "(no controls: evaluate with controls=True to see" in texts[3], texts[3]
        assert not any("--" in t for t in texts), texts


def _every_part() -> ConfigError:
    # a refusal with every part a ConfigError keeps set, each to a value of its own
    from wildgan.errors import SPLIT_CLASSES

    return ConfigError("total_kimg must be a positive number, got 0", start_again="; or start again with --overwrite",
                       then=" (the --total-kimg setting)", setting="train.total_kimg", flag="--total-kimg",
                       problem="must be a positive number", value=0,
                       settings=(("--total-kimg", "train.total_kimg", "0", 0),), file="cfg.yaml",
                       split_problem=SPLIT_CLASSES)


def _parts(e: ConfigError) -> tuple:
    return (e.start_again, e.then, e.setting, e.flag, e.problem, e.value, e.settings, e.file, e.split_problem)


def test_a_refusal_said_within_a_context_keeps_every_part() -> None:
    """ConfigError.within, the one way to re-raise a refusal with its context (a config file's name, a study's cell):
    "WHERE: " before the message, its advice to start again and `then` after it as they were, and every part kept."""
    e = _every_part()
    said = e.within("cell 0_g0_wildgan_none_s0", " (more)")
    assert type(said) is ConfigError
    assert str(said) == f"cell 0_g0_wildgan_none_s0: {e} (more)"
    assert said.message == f"cell 0_g0_wildgan_none_s0: {e.message}"
    assert _parts(said) == (*_parts(e)[:1], f"{e.then} (more)", *_parts(e)[2:])
    # a config file's reader names the file the refusal is now of (config.in_file)
    from wildgan.config import in_file

    assert in_file("run/config.yaml", e).file == "run/config.yaml"
    assert str(in_file("run/config.yaml", e)) == f"run/config.yaml: {e}"


def test_a_study_cells_refusal_of_its_encoder_loss_keeps_every_part_of_the_refusal(monkeypatch) -> None:
    """The study's words for a cell's untrained encoder (studies.study._refuse_untrained_cell) built a ConfigError by
    hand from the refusal's message and some of its fields: its advice to start again, settings, file and
    split_problem were dropped. Now ConfigError.within: the same type and words as before for the user ("CELL:
    MESSAGE..."), and every part kept."""
    from wildgan.studies import study

    def refuse(cfg: object, resumed: object = None, *, said: str | None = None) -> None:
        raise _every_part()

    monkeypatch.setattr(study, "refuse_untrained_encoder", refuse)
    cell = study.Cell("0", 0.0, "wildgan", "none", 0)
    cfg = object()          # (the refusal is the stand-in's, whatever the config)
    with pytest.raises(ConfigError) as got:
        study._refuse_untrained_cell(cfg, cell)  # type: ignore[arg-type]
    assert type(got.value) is ConfigError
    assert str(got.value) == f"{study._describe(cell)}: {_every_part()}"
    assert _parts(got.value) == _parts(_every_part())
    # without a cell (check_cells names its cells itself): the refusal as it came
    with pytest.raises(ConfigError) as bare:
        study._refuse_untrained_cell(cfg)  # type: ignore[arg-type]
    assert str(bare.value) == str(_every_part())


def test_the_skip_bad_words_of_one_thread_are_not_another_thread_s(tmp_path) -> None:
    """skip_bad_said_as was process-wide (a module list): a Python caller reading images on one thread while
    cli.main ran a command on another was told of --skip-bad and the CLI's options (in_cli answered True for it).
    Each thread's calls name their own: here the refusal of an unreadable file, made while the other thread is
    inside the command's words, names skip_bad=True, and that thread keeps its --skip-bad all along."""
    import threading

    from wildgan.data import load_images
    from wildgan.errors import API_SKIP_BAD, CLI_SKIP_BAD, in_cli, option_words, skip_bad_option, skip_bad_said_as

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    inside, done = threading.Event(), threading.Event()
    seen: list[object] = []

    def command() -> None:
        with skip_bad_said_as(CLI_SKIP_BAD):
            inside.set()
            done.wait(30)
            seen.extend([skip_bad_option(), in_cli(), option_words("--normal CLASS", "normal=('CLASS',)")])

    other = threading.Thread(target=command)
    other.start()
    try:
        assert inside.wait(30)
        assert skip_bad_option() == API_SKIP_BAD and not in_cli()
        with pytest.raises(DataError) as e:
            load_images([bad], 8, 1)
        assert f"({API_SKIP_BAD} leaves unreadable files out)" in str(e.value), e.value
        assert CLI_SKIP_BAD not in str(e.value), e.value
    finally:
        done.set()
        other.join(30)
    assert seen == [CLI_SKIP_BAD, True, "--normal CLASS"]     # (the command's own words, all along)
    assert skip_bad_option() == API_SKIP_BAD                   # (and put back for nobody else: never changed here)
