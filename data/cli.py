"""`creatorscore generate` and `creatorscore validate`."""
from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from data.io import FORMATS
from data.loader import ContractError, load_dataset
from data.synthetic import generate_world, write_world
from data.synthetic.assumptions import STRESS_WORLDS, assumptions_named

console = Console()


def generate(
    out: Path = typer.Option(..., "--out", help="Directory to write the contract tables to; "
                             "the ground truth goes to OUT/truth/."),
    creators: int = typer.Option(2_000, "--creators", min=1, help="Number of creators."),
    campaigns: int = typer.Option(60, "--campaigns", min=0, help="Number of campaigns."),
    posts_per_creator: int = typer.Option(50, "--posts-per-creator", min=1,
                                          help="Recent posts per creator."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same world."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
    assumptions: str = typer.Option(
        "calibrated", "--assumptions",
        help="World assumptions: 'calibrated' or a stress world that breaks some of them ("
        + ", ".join(n for n in STRESS_WORLDS if n != "calibrated")
        + "; data/synthetic/assumptions.py says how each differs)."),
) -> None:
    """Generate a synthetic world (every contract table, plus its ground truth): the calibrated
    one, or a stress world with other assumptions (--assumptions)."""
    if fmt not in FORMATS:
        console.print(f"[red]--format must be csv or parquet, not {fmt!r}[/red]")
        raise typer.Exit(2)
    try:
        world_assumptions = assumptions_named(assumptions)
    except ValueError as error:
        console.print(f"[red]--assumptions: {error}[/red]")
        raise typer.Exit(2) from None
    started = time.perf_counter()
    with console.status(f"Generating {creators:,} creators and {campaigns:,} campaigns..."):
        world = generate_world(n_creators=creators, n_campaigns=campaigns, seed=seed,
                               posts_per_creator=posts_per_creator,
                               assumptions=world_assumptions)
        generated = time.perf_counter() - started
        write_world(world, out, fmt=fmt)
    summary = RichTable(title=f"World written to {out} (seed {seed}, assumptions "
                        f"{assumptions}: {world_assumptions.description})")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, frame in world.tables.items():
        summary.add_row(name, f"{len(frame):,}")
    for name, frame in world.truth.items():
        summary.add_row(f"truth/{name}", f"{len(frame):,}")
    console.print(summary)
    console.print(f"Generated in {generated:.1f} s, written in "
                  f"{time.perf_counter() - started - generated:.1f} s.")


def load_dataset_or_exit(directory: Path):
    """The validated dataset of `directory`, or the contract report and exit code 1.

    Every command that reads a dataset goes through here, so a user sees the same readable
    report (table, column, rows, expectation) and never a stack trace.
    """
    try:
        return load_dataset(directory)
    except ContractError as error:
        print_contract_report(error, directory)
        raise typer.Exit(1) from None


def print_contract_report(error: ContractError, directory: Path | None = None) -> None:
    """The readable report of every contract problem, as every command shows it."""
    where = f"{directory}: the dataset" if directory is not None else "The dataset"
    console.print(f"[red bold]{where} does not follow the data contract[/red bold]")
    console.print(error.report(), markup=False, highlight=False)


def validate(
    directory: Path = typer.Argument(..., help="Dataset directory with <table>.csv or "
                                     "<table>.parquet files."),
) -> None:
    """Check a dataset against the data contract; exit 1 with a report of every problem."""
    dataset = load_dataset_or_exit(directory)
    report = RichTable(title=f"{directory}: valid (contract v1)")
    report.add_column("table")
    report.add_column("rows", justify="right")
    for name, frame in dataset.tables.items():
        report.add_row(name, f"{len(frame):,}")
    console.print(report)


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(validate)
