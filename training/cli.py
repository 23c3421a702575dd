"""Training commands: train, retrain, promote, rollback.

Every command resolves the MLflow tracking URI the same way (MLFLOW_TRACKING_URI, else
sqlite:///<repo>/mlruns/mlflow.db). Errors are printed as a clear message with exit code 1,
never as a stack trace.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from data.chunked import CHUNK_CREATORS
from store.cli_errors import console, user_errors

# The training stack (training.jobs, training.protocol) and the registry import MLflow,
# LightGBM, scikit-learn and matplotlib, seconds before a command starts: each command imports
# them when it runs, so `creatorscore --help` and the other packages' commands do not pay.

CHUNK_HELP = ("Creators read, validated and turned into features at a time (same model and "
              "figures): memory is three such pieces, the dataset's id columns and a row of "
              "features per creator and per collaboration, not the dataset.")

HEADLINE_METRICS = (
    ("poisson_deviance", "Poisson deviance (lower is better)"),
    ("spearman", "Spearman, conversions"),
    ("ndcg_at_10", "NDCG@10 within campaign (conversions)"),
    ("ndcg_at_10_roi", "NDCG@10 within campaign (ROI)"),
    ("roi_captured_at_10", "ROI captured vs oracle, top 10"),
    ("level_ratio", "Level: sum predicted / sum realised conversions"),
    ("conversion_interval_coverage", "Conversion interval coverage"),
    ("conversion_interval_coverage_worst_quintile", "Conversion coverage, worst quintile"),
    ("revenue_interval_coverage", "Revenue interval coverage"),
    # Generated worlds: every shortlisted candidate, hired or not, against truth
    # (training.stress): does the model generalise beyond the creators brands hired?
    ("candidate_ndcg_at_10_roi", "Candidates: NDCG@10, predicted vs true ROI"),
    ("candidate_roi_captured_at_10", "Candidates: true ROI of top 10 / oracle's"),
    ("candidate_spearman", "Candidates: Spearman, expected vs true conversions"),
    ("candidate_level_ratio", "Candidates: sum predicted / sum true conversions"),
    ("candidate_interval_coverage", "Candidates: conversion interval coverage"),
    ("candidate_interval_coverage_worst_quintile", "Candidates: coverage, worst quintile"),
    ("risk_auc", "Bought-followers AUC"),
    ("fake_share_mae", "Fake share MAE"),
    ("fake_share_interval_coverage", "Fake share interval coverage"),
)


@contextlib.contextmanager
def _progress(title: str):
    """A rich spinner + elapsed time; yields a callback taking the current step's name."""
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(title, total=None)

        def step(name: str) -> None:
            progress.update(task, description=f"{title}: {name}")
            console.log(name)

        yield step


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4f}"


def _metrics_table(title: str, metrics: dict) -> RichTable:
    table = RichTable(title=title)
    table.add_column("metric")
    table.add_column("model", justify="right")
    for baseline in ("followers", "engagement_rate", "tier_rule"):
        table.add_column(f"by {baseline.replace('_', ' ')}", justify="right")
    for key, label in HEADLINE_METRICS:
        if key not in metrics:
            continue
        row = [label, _fmt(metrics.get(key))]
        row += [_fmt(metrics.get(f"baseline_{b}_{key}"))
                for b in ("followers", "engagement_rate", "tier_rule")]
        table.add_row(*row)
    return table


def _comparison_table(comparison) -> RichTable:
    table = RichTable(title="Champion vs challenger on the same holdout (latest campaigns)")
    table.add_column("metric")
    table.add_column("champion", justify="right")
    table.add_column("challenger", justify="right")
    for key, label in HEADLINE_METRICS:
        if key in comparison.champion or key in comparison.challenger:
            table.add_row(label, _fmt(comparison.champion.get(key)),
                          _fmt(comparison.challenger.get(key)))
    return table


def _config(seed: int, rounds: int | None, threads: int):
    from training.protocol import TrainConfig  # lazy: see the imports

    config = TrainConfig(seed=seed, num_threads=threads)
    if rounds is not None:
        config.conversion_rounds = rounds
    return config


def train(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables; a "
                              "truth/ folder from `generate` enables ROI-vs-oracle figures)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    rounds: int = typer.Option(None, "--rounds", help="Boosting rounds of the conversion model."),
    threads: int = typer.Option(1, "--threads", help="LightGBM threads."),
    chunk_creators: int = typer.Option(CHUNK_CREATORS, "--chunk-creators", min=1,
                                       help=CHUNK_HELP),
) -> None:
    """Train every model in one MLflow run and register the bundle (first one = champion).

    The dataset is read in pieces of --chunk-creators creators (data/chunked.py: files read
    in batches into the pieces' files in a temporary directory, TMPDIR, about twice the size
    of the CSV files, removed after); every contract problem is reported before training."""
    from training.jobs import run_train  # lazy: see the imports

    with user_errors(), _progress("train") as step:
        outcome = run_train(data, _config(seed, rounds, threads), progress=step,
                            chunk_creators=chunk_creators)
    note = outcome.result.follower_info.get("training_note")
    if note:
        console.print(f"Follower-account classifier trained on: {note}")
    console.print(_metrics_table("Test campaigns (latest), model vs baselines",
                                 outcome.result.metrics))
    console.print(f"Run {outcome.run_id} registered as [bold]{outcome.version.model_version}"
                  "[/bold]" + (" and promoted to champion." if outcome.promoted else
                               " (champion unchanged: use `creatorscore retrain` or "
                               "`creatorscore promote`)."))


def retrain(
    data: Path = typer.Option(..., "--data", help="Dataset directory with the new data."),
    min_improvement: float = typer.Option(
        0.01, "--min-improvement", help="Relative improvement of the primary metric the "
        "challenger needs to be promoted (0.01 = 1%)."),
    metric: str = typer.Option("poisson_deviance", "--metric",
                               help="Primary metric: poisson_deviance or ndcg_at_10."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    rounds: int = typer.Option(None, "--rounds", help="Boosting rounds of the conversion model."),
    threads: int = typer.Option(1, "--threads", help="LightGBM threads."),
    retrain_follower_classifier: bool = typer.Option(
        False, "--retrain-follower-classifier",
        help="Retrain the follower-account classifier instead of reusing the champion's."),
    chunk_creators: int = typer.Option(CHUNK_CREATORS, "--chunk-creators", min=1,
                                       help=CHUNK_HELP),
) -> None:
    """Train a challenger, compare it with the champion on the latest campaigns, and promote it
    only when it is better by --min-improvement with no guardrail metric worse."""
    from training.jobs import run_retrain  # lazy: see the imports

    with user_errors(), _progress("retrain") as step:
        outcome = run_retrain(data, _config(seed, rounds, threads), primary_metric=metric,
                              min_improvement=min_improvement,
                              retrain_follower_classifier=retrain_follower_classifier,
                              progress=step, chunk_creators=chunk_creators)
    comparison = outcome.comparison
    console.print(_comparison_table(comparison))
    for reason in comparison.decision.reasons:
        console.print(f"  - {reason}", highlight=False)
    if outcome.promoted:
        console.print(f"[green bold]Promoted {outcome.version.model_version} to champion."
                      "[/green bold]")
    else:
        console.print(f"[yellow bold]Champion kept.[/yellow bold] {outcome.version.model_version}"
                      " is registered with the alias 'challenger'.")


def promote(version: str = typer.Argument(..., help="Registered version number to promote."),
            reason: str = typer.Option("manual", "--reason", help="Recorded with the change.")
            ) -> None:
    """Make VERSION the champion (recorded in the champion history)."""
    from store import registry  # lazy: see the imports

    with user_errors():
        info = registry.promote(version, reason=reason)
    console.print(f"{info.model_version} is now the champion.")


def rollback() -> None:
    """Return the champion alias to the previous champion (recorded in the history)."""
    from store import registry  # lazy: see the imports

    with user_errors():
        old, restored = registry.rollback()
    console.print(f"Champion rolled back from {old.model_version} to {restored.model_version}.")


def register(app: typer.Typer) -> None:
    """Add the training commands to the `creatorscore` app."""
    app.command()(train)
    app.command()(retrain)
    app.command()(promote)
    app.command()(rollback)
