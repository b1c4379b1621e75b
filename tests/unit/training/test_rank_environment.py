"""init_distributed's reading of torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT):
a value set by hand that cannot be a rank of a job is refused at once, naming the variable, before any rendezvous
(which waited for peers that never come when RANK was out of range) and not as a bare ValueError traceback."""

from __future__ import annotations

import pytest
import torch.distributed as tdist

from wildgan.cli import main
from wildgan.errors import ConfigError
from wildgan.training import distributed as dist

_GOOD = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.fixture
def no_rendezvous(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rendezvous reached fails the test at once (it would wait for the other ranks, minutes)."""
    def joined(*args: object, **kwargs: object) -> None:
        raise AssertionError("init_process_group was called: the environment was not refused first")

    monkeypatch.setattr(tdist, "init_process_group", joined)
    monkeypatch.setattr(dist, "_CTX", None)


@pytest.mark.parametrize("changed, named", [
    ({"RANK": "abc"}, "RANK='abc' is not an integer"),
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not an integer"),
    ({"LOCAL_RANK": "x"}, "LOCAL_RANK='x' is not an integer"),
    ({"LOCAL_RANK": "-1"}, "LOCAL_RANK='-1' is negative"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0'"),
    ({"RANK": "2"}, "RANK='2' with WORLD_SIZE='2'"),
    ({"RANK": "-1"}, "RANK='-1' with WORLD_SIZE='2'"),
    ({"MASTER_ADDR": None}, "MASTER_ADDR is not set"),
    ({"MASTER_PORT": None}, "MASTER_PORT is not set"),
    ({"MASTER_PORT": "http"}, "MASTER_PORT='http' is not an integer"),
    ({"MASTER_PORT": "70000"}, "MASTER_PORT='70000' is not a port"),
])
def test_an_environment_that_is_no_rank_of_a_job_is_refused_naming_the_variable(
        changed: dict, named: str, no_rendezvous: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {**_GOOD, **changed}.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match="torchrun sets RANK, WORLD_SIZE") as got:
        dist.init_distributed("cpu")
    assert named in str(got.value)
    assert dist.current() is None


def test_a_good_environment_is_read_as_it_is() -> None:
    assert dist.rank_environment({**_GOOD, "RANK": "1", "LOCAL_RANK": " 1 "}) == (1, 2, 1)
    # LOCAL_RANK unset: the RANK; a process group set up already needs no rendezvous address
    env = {k: v for k, v in _GOOD.items() if k not in ("LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    assert dist.rank_environment({**env, "RANK": "1"}, rendezvous=False) == (1, 2, 1)


def test_train_distributed_with_a_bad_rank_says_so_without_a_traceback(
        no_rendezvous: None, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture) -> None:
    for k, v in {**_GOOD, "RANK": "one"}.items():
        monkeypatch.setenv(k, v)
    assert main(["train", "--distributed", "--device", "cpu", "--data", str(tmp_path / "x.npz"),
                 "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "RANK='one' is not an integer" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
