"""The test suite's own harness: its tests of Ctrl-C and SIGHUP (a stopped `wildgan score` keeps its chunks, training
checkpoints on a stop, ...) get those signals as from a terminal however pytest was started (conftest's
_stop_signals_as_from_a_terminal). Started as a shell script's background job, pytest inherited SIGINT ignored:
test_cli's test_a_stopped_score_promises_only_the_chunks_the_same_command_would_resume failed there (`wildgan
score` finished with 0 instead of stopping with 130), which read as a failure under load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_a_test_gets_ctrl_c_and_the_commands_it_starts_a_hangup() -> None:
    # (fails only in a pytest started with them ignored, without the fixture: the next test starts one so)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    said = subprocess.run([sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT).__name__, "
                           "signal.getsignal(signal.SIGHUP).name)"], capture_output=True, text=True, timeout=60)
    assert said.stdout.split() == ["default_int_handler", "SIG_DFL"], said


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_a_pytest_started_with_ctrl_c_and_hangups_ignored_gives_its_tests_them_all_the_same() -> None:
    """`pytest ... &` in a script (SIGINT ignored) and `nohup pytest` (SIGHUP ignored); exec keeps an ignored signal
    ignored, as the shell's own start of pytest does. The ignored signals are put back after each test."""
    test = f"{HERE}::test_a_test_gets_ctrl_c_and_the_commands_it_starts_a_hangup"
    code = ("import os, signal, sys\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
            "os.execv(sys.executable, [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', "
            "*sys.argv[1:]])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}   # (not an xdist worker's settings)
    proc = subprocess.run([sys.executable, "-c", code, test], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
