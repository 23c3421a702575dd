"""The errors a command meets, as one-line messages.

Every command of `creatorscore` runs inside `user_errors` (the entry point wraps each one, see
creatorscore.py), so a user sees the contract report or a one-line message with exit code 1,
never a stack trace: contract problems, the model store (missing or damaged champion, MLflow),
the file system (missing, a directory where a file is expected, read-only, disk full) and
anything unexpected. `creatorscore --verbose ...` (or CREATORSCORE_VERBOSE=1) adds the
traceback and MLflow's own logs.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import pickle
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console

from data.cli import print_contract_report
from data.io import check_output_path
from data.loader import ContractError
from store.errors import RegistryError
from store.tracking import quiet_mlflow

console = Console(log_path=False)
VERBOSE_VARIABLE = "CREATORSCORE_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _fail(message: str, error: BaseException | None = None) -> typer.Exit:
    """Print the message's first line (and the traceback when verbose); the Exit to raise."""
    console.print(f"[red bold]Error:[/red bold] {_first_line(message)}", highlight=False,
                  soft_wrap=True)
    if error is not None:
        if verbose():
            console.print("".join(traceback.format_exception(error)), markup=False,
                          highlight=False)
        else:
            console.print("(run `creatorscore --verbose ...` for details)", style="dim")
    return typer.Exit(1)


def os_error_message(error: OSError) -> str:
    """One line for a file-system error, naming the file and what was expected."""
    where = f"{error.filename}: " if error.filename else ""
    if isinstance(error, IsADirectoryError):
        return f"{where}is a directory; expected a file"
    if isinstance(error, NotADirectoryError):
        return f"{where}a part of this path is a file; expected a directory"
    if isinstance(error, FileExistsError):
        return f"{where}exists and is not a directory; expected a directory there"
    if isinstance(error, FileNotFoundError):
        return f"{where}no such file or directory"
    if isinstance(error, PermissionError) or error.errno == errno.EROFS:
        return f"{where}not writable or not readable ({error.strerror or error})"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}the disk is full ({error.strerror}); free space and run again"
    return f"{where}{error.strerror or error}"


def _root_os_error(error: BaseException) -> OSError | None:
    """The OSError behind `error` (MLflow wraps them), if any."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OSError):
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def _is_mlflow_error(error: BaseException) -> bool:
    """Whether `error` is an MlflowException. mlflow is imported only by the commands that use
    the model store (its import takes seconds), so the check does not import it: a process that
    has not imported mlflow.exceptions cannot have raised one."""
    exceptions = sys.modules.get("mlflow.exceptions")
    return exceptions is not None and isinstance(error, exceptions.MlflowException)


def _message(error: Exception) -> str:
    """The one line that says what went wrong (and what to do), for any error of a command."""
    if isinstance(error, RegistryError):
        cause = _root_os_error(error)
        return f"{error}" + (f" ({os_error_message(cause)})" if cause else "")
    if _is_mlflow_error(error):
        cause = _root_os_error(error)
        return "MLflow store: " + (os_error_message(cause) if cause else
                                   error.message.splitlines()[0])
    if isinstance(error, OSError):
        return os_error_message(error)
    if isinstance(error, pickle.UnpicklingError | EOFError):
        return f"a stored file is damaged ({type(error).__name__}: {error})"
    if isinstance(error, MemoryError):
        return "out of memory; use a smaller input or a machine with more memory"
    if isinstance(error, ValueError | KeyError | RuntimeError):
        return str(error)
    # The last resort: never a traceback to the user.
    cause = _root_os_error(error)
    return os_error_message(cause) if cause else f"unexpected {type(error).__name__}: {error}"


@contextlib.contextmanager
def user_errors():
    """Turn every error a command can meet into a one-line message and exit code 1."""
    quiet_mlflow()
    if not verbose():
        # MLflow logs its own tracebacks before raising (hundreds of lines on a full disk).
        for name in ("mlflow", "alembic", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except ContractError as error:
        print_contract_report(error)
        raise typer.Exit(1) from None
    except Exception as error:  # noqa: BLE001 - every error becomes one line (_message)
        raise _fail(_message(error), error) from None


def check_out(out: Path) -> None:
    """Exit 1 with a message when `out` is not a writable .csv / .parquet path."""
    try:
        check_output_path(out)
    except ValueError as error:
        console.print(f"[red]--out: {error}[/red]")
        raise typer.Exit(1) from None


def percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.1f}%"
