"""Training commands: train, retrain, promote, rollback, score, audit-followers.

Every command resolves the MLflow tracking URI the same way (MLFLOW_TRACKING_URI, else
sqlite:///<repo>/mlruns/mlflow.db). Errors are printed as a clear message with exit code 1,
never as a stack trace.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from data.io import check_output_path, write_frame

console = Console(log_path=False)

HEADLINE_METRICS = (
    ("poisson_deviance", "Poisson deviance (lower is better)"),
    ("spearman", "Spearman, conversions"),
    ("ndcg_at_10", "NDCG@10 within campaign (conversions)"),
    ("ndcg_at_10_roi", "NDCG@10 within campaign (ROI)"),
    ("roi_captured_at_10", "ROI captured vs oracle, top 10"),
    ("conversion_interval_coverage", "Conversion interval coverage"),
    ("revenue_interval_coverage", "Revenue interval coverage"),
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


@contextlib.contextmanager
def _user_errors():
    """Turn the errors a user can cause into a message and exit code 1."""
    from mlflow.exceptions import MlflowException

    from data.cli import print_contract_report
    from data.loader import ContractError
    from training.registry import RegistryError
    from training.tracking import quiet_mlflow

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
    from training.jobs import TrainConfig

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
) -> None:
    """Train every model in one MLflow run and register the bundle (first one = champion)."""
    from training.jobs import run_train

    with _user_errors(), _progress("train") as step:
        outcome = run_train(data, _config(seed, rounds, threads), progress=step)
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
) -> None:
    """Train a challenger, compare it with the champion on the latest campaigns, and promote it
    only when it is better by --min-improvement with no guardrail metric worse."""
    from training.jobs import run_retrain

    with _user_errors(), _progress("retrain") as step:
        outcome = run_retrain(data, _config(seed, rounds, threads), primary_metric=metric,
                              min_improvement=min_improvement,
                              retrain_follower_classifier=retrain_follower_classifier,
                              progress=step)
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
    from training import registry

    with _user_errors():
        info = registry.promote(version, reason=reason)
    console.print(f"{info.model_version} is now the champion.")


def rollback() -> None:
    """Return the champion alias to the previous champion (recorded in the history)."""
    from training import registry

    with _user_errors():
        old, restored = registry.rollback()
    console.print(f"Champion rolled back from {old.model_version} to {restored.model_version}.")


def score(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables)."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv or .parquet."),
    campaign: str = typer.Option(None, "--campaign", help="Campaign id: score its planned "
                                 "collaborations (or every creator for it)."),
) -> None:
    """Score creators (or a campaign's candidates) with the champion model."""
    from data.loader import load_dataset
    from training import registry

    _check_out(out)
    with _user_errors():
        with console.status("Loading the champion model..."):
            bundle, info = registry.load_champion()
        with console.status("Scoring..."):
            ds = load_dataset(data)
            collaborations = None
            if campaign is not None and ds.collaborations is not None:
                planned = ds.collaborations[ds.collaborations["campaign_id"] == campaign]
                collaborations = planned if len(planned) else None
            scores = bundle.score(ds, campaign_id=campaign, collaborations=collaborations)
        write_frame(scores.table, out, index=False)
    console.print(f"{len(scores.table):,} rows scored with {info.model_version} -> {out}")


def audit_followers(
    file: Path = typer.Argument(..., help="CSV of follower accounts (audience_sample columns: "
                                "followers, following, posts_count, has_profile_pic, ...)."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv or .parquet) with the fake "
                             "probability and class of every account."),
) -> None:
    """Score follower accounts with the champion's follower classifier; print the fake share."""
    from models.follower_account import audit_accounts
    from training import registry

    _check_out(out)
    with _user_errors():
        accounts = read_accounts(file)
        try:
            bundle, info = registry.load_champion()
            classifier = bundle.follower_classifier
            source = f"the champion's classifier ({info.model_version})"
        except registry.RegistryError:
            classifier = None
        if classifier is None:
            from training.follower_accounts import train_default_follower_classifier

            console.print("[yellow]No champion model yet: training a default follower-account "
                          "classifier (run `creatorscore train` to register one).[/yellow]")
            with console.status("Training the default follower-account classifier..."):
                classifier, _ = train_default_follower_classifier()
            source = "a freshly trained default classifier"
        audit = audit_accounts(classifier, accounts)
        result = accounts.copy()
        result["p_fake"] = audit.p_fake
        result["p_fake_balanced_prior"] = audit.p_fake_balanced
        result["account_class"] = audit.classes
        write_frame(result, out, index=False)
    estimates = audit.estimates
    console.print(f"{len(result):,} accounts scored with {source} -> {out}")
    console.print(f"Estimated fake share: [bold]{_pct(estimates.share[0])}[/bold] (90% interval "
                  f"{_pct(estimates.low[0])} - {_pct(estimates.high[0])}; "
                  f"{estimates.method.upper()} quantification, the interval includes the "
                  "error measured on data sets the classifier never saw)")
    console.print("p_fake in the output is each account's probability at this audience's "
                  "estimated share; p_fake_balanced_prior the classifier's at 50/50.")
    if audit.warnings[0]:
        console.print(f"[yellow]Domain check: {audit.warnings[0]}[/yellow]")
    else:
        console.print(f"Domain check: passed (largest field drift "
                      f"{estimates.drift[0]:.2f}; fails above 0.15).")


def _check_out(out: Path) -> None:
    try:
        check_output_path(out)
    except ValueError as error:
        console.print(f"[red]--out: {error}[/red]")
        raise typer.Exit(1) from None


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.1f}%"


def read_accounts(path: Path):
    """A follower-account CSV typed by the contract's audience_sample rules (the same validator
    as datasets: every bad value is reported with its column and row). creator_id may be
    absent; the columns of the file are kept as given."""
    import pandas as pd

    from data.validation import validate_table

    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    given = list(frame.columns)
    checked = frame if "creator_id" in frame else frame.assign(creator_id="(audited file)")
    typed = validate_table("audience_sample", checked)
    out = frame[given].copy()
    for column in given:
        if column in typed:
            out[column] = typed[column].array
    return out


def register(app: typer.Typer) -> None:
    """Add the training commands to the `creatorscore` app."""
    app.command()(train)
    app.command()(retrain)
    app.command()(promote)
    app.command()(rollback)
    app.command()(score)
    app.command("audit-followers")(audit_followers)
