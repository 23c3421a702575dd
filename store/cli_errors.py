"""The errors a command meets reading data and the model store, as one-line messages.

Every command of `creatorscore` that reads a dataset or the store runs inside `user_errors`, so
a user sees the contract report or a clear message with exit code 1, never a stack trace.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import typer
from mlflow.exceptions import MlflowException
from rich.console import Console

from data.cli import print_contract_report
from data.io import check_output_path
from data.loader import ContractError
from store.registry import RegistryError
from store.tracking import quiet_mlflow

console = Console(log_path=False)


@contextlib.contextmanager
def user_errors():
    """Turn the errors a user can cause into a message and exit code 1."""
    quiet_mlflow()
    try:
        yield
    except ContractError as error:
        print_contract_report(error)
        raise typer.Exit(1) from None
    except RegistryError as error:
        console.print(f"[red bold]{error}[/red bold]")
        raise typer.Exit(1) from None
    except MlflowException as error:
        console.print(f"[red bold]MLflow error:[/red bold] {error.message}", markup=True)
        raise typer.Exit(1) from None
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as error:
        console.print(f"[red bold]Error:[/red bold] {error}", highlight=False)
        raise typer.Exit(1) from None


def check_out(out: Path) -> None:
    """Exit 1 with a message when `out` is not a writable .csv / .parquet path."""
    try:
        check_output_path(out)
    except ValueError as error:
        console.print(f"[red]--out: {error}[/red]")
        raise typer.Exit(1) from None


def percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.1f}%"
