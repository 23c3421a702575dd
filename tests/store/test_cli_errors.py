"""The command line's error handler (store.cli_errors.user_errors) and its start-up: the
commands that do not use the model store never import MLflow, yet its errors still become one
line."""
from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from mlflow.exceptions import MlflowException

from store.cli_errors import user_errors
from store.registry import RegistryError

ROOT = Path(__file__).resolve().parents[2]


def _message(error: Exception, capsys) -> str:
    with pytest.raises(typer.Exit) as caught, user_errors():
        raise error
    assert caught.value.exit_code == 1
    output = capsys.readouterr().out
    assert "Traceback" not in output
    return output.splitlines()[0]


def test_mlflow_and_registry_errors_are_one_line(capsys):
    assert _message(MlflowException("the store is locked\nand much more"), capsys) == (
        "Error: MLflow store: the store is locked")
    try:
        raise OSError(errno.ENOSPC, "No space left on device", "/store/mlflow.db")
    except OSError as full:
        wrapped = MlflowException("cannot write")
        wrapped.__cause__ = full
    assert _message(wrapped, capsys) == ("Error: MLflow store: /store/mlflow.db: the disk is "
                                         "full (No space left on device); free space and run "
                                         "again")
    assert _message(RegistryError("no champion yet"), capsys) == "Error: no champion yet"
    assert _message(KeyError("x"), capsys) == "Error: 'x'"
    assert _message(TypeError("odd"), capsys) == "Error: unexpected TypeError: odd"


def test_the_command_line_starts_without_mlflow_or_the_training_stack():
    # Nor LightGBM and scikit-learn (~0.8 s): the commands that use them import them when they
    # run (`score` while its files are read on another thread).
    heavy = ("mlflow", "training.jobs", "store.registry", "matplotlib", "lightgbm", "sklearn")
    code = ("import sys, creatorscore; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
