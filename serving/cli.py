"""`creatorscore serve` (the BentoML scoring service over the registry's champion) and
`creatorscore example-request` (a /score request body built from a dataset directory)."""
from __future__ import annotations

import json
import os
from pathlib import Path

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


def example_body(tables: dict, campaign_id: str | None = None, n_creators: int = 3) -> dict:
    """A /score request body for `n_creators` creators of `tables` (contract tables by name).

    With `campaign_id`: the campaign record and the planned collaborations of the chosen
    creators; creators planned in that campaign come first (in the collaborations' order),
    then the dataset's first creators fill up to `n_creators`. Without: the first creators.
    Raises ValueError naming the campaign when it is not in the campaigns table.
    """
    from serving.payloads import campaign_record, collaboration_plans, creator_records

    creator_ids = tables["creators"]["creator_id"].astype(str).tolist()
    chosen: list[str] = []
    if campaign_id is not None:
        campaigns = tables.get("campaigns")
        if campaigns is None or not (campaigns["campaign_id"] == campaign_id).any():
            raise ValueError(f"campaign_id {campaign_id!r} is not in the campaigns table")
        collaborations = tables.get("collaborations")
        if collaborations is not None:
            planned = collaborations.loc[collaborations["campaign_id"] == campaign_id,
                                         "creator_id"].astype(str)
            known = set(creator_ids)
            chosen = [c for c in dict.fromkeys(planned.tolist()) if c in known][:n_creators]
    if len(chosen) < n_creators:
        taken = set(chosen)
        chosen += [c for c in creator_ids if c not in taken][:n_creators - len(chosen)]
    body: dict = {"creators": creator_records(tables, chosen), "explain": True}
    if campaign_id is not None:
        body["campaign"] = campaign_record(tables, campaign_id)
        if tables.get("collaborations") is not None:
            plans = collaboration_plans(tables, campaign_id, chosen)
            if plans:
                body["collaborations"] = plans
    return body


def example_request(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables)."),
    campaign: str | None = typer.Option(None, "--campaign",
                                        help="Campaign id: adds the campaign and the planned "
                                             "collaborations of the chosen creators."),
    creators: int = typer.Option(3, "--creators", min=1, max=1_000,
                                 help="Number of creators in the request."),
    out: Path | None = typer.Option(None, "--out",
                                    help="File to write the JSON body to (default: stdout)."),
) -> None:
    """Write a /score request body (JSON) for creators of a dataset directory.

    With --campaign, the creators planned in that campaign come first, and the body carries
    the campaign and their planned collaborations (compensation, cost), so the answer includes
    expected conversions, revenue and ROI. POST it to /score with
    `Content-Type: application/json`."""
    from data.cli import load_dataset_or_exit

    dataset = load_dataset_or_exit(data)
    try:
        body = example_body(dataset.tables, campaign, creators)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    text = json.dumps(body, indent=1, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"{out}: /score request for {len(body['creators'])} creator(s)"
               + (f", campaign {campaign}" if campaign else ""), err=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("example-request")(example_request)
