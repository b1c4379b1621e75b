"""`import fcntl` refused, as on Windows, where Python has no fcntl and no folder or run can be locked: for the tests
of what runs without the locks (test_detector_save_temps, test_train_run_api, test_fileio_unlocked_folder)."""

from __future__ import annotations

import pytest


def refuse_fcntl_import(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every `import fcntl` raise ModuleNotFoundError (with its name, as the real one has) until monkeypatch
    undoes it; every other import goes on as before. Returns the list of the imports refused, for the test to check
    that the code under test did ask for fcntl (else it passes whatever the code does without it)."""
    import builtins

    real_import = builtins.__import__
    refused_names: list[str] = []

    def refused(name: str, *args: object, **kwargs: object) -> object:
        if name == "fcntl":
            refused_names.append(name)
            raise ModuleNotFoundError("No module named 'fcntl'", name="fcntl")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refused)
    return refused_names
