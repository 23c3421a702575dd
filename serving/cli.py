"""`creatorscore serve`: the BentoML scoring service over the registry's champion."""
from __future__ import annotations

import os

import typer

from serving.config import DEFAULT_PORT, ConfigError, ServingConfig


def serve(
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535,
                             help="Port to listen on."),
    host: str = typer.Option("0.0.0.0", "--host", help="Address to bind (0.0.0.0: all)."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Worker processes (each loads the champion once)."),
) -> None:
    """Serve /score, /rank, /audit_followers and /model_info with the champion model of the
    MLflow store named by MLFLOW_TRACKING_URI (the repository's local store by default).

    Settings (API key, request limits) come from CREATORSCORE_* environment variables; see
    serving/config.py. Health: /livez, /readyz; Prometheus metrics: /metrics."""
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    os.environ["CREATORSCORE_WORKERS"] = str(workers)
    try:
        config = ServingConfig.from_env()
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None

    from training.registry import get_alias

    if get_alias("champion", config.tracking_uri) is None:
        typer.echo("error: the MLflow store has no champion model; run `creatorscore train` "
                   "first (or set MLFLOW_TRACKING_URI to the store that has one)", err=True)
        raise typer.Exit(1)

    import bentoml

    from serving.service import CreatorScore

    typer.echo(f"creatorscore: serving on http://{host}:{port} "
               f"(API key {'required' if config.api_key else 'not required'})")
    bentoml.serve(CreatorScore, host=host, port=port, blocking=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
