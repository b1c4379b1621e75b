"""wildgan's input errors are ValueErrors too, as scikit-learn's callers expect (their `except ValueError` for bad
input and bad parameters), and still WildganErrors first (the CLI's exit 2, `except WildganError`)."""

from __future__ import annotations

import argparse

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
            if callable(a.type) and getattr(a.type, "__module__", None) == cli.__name__]


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
