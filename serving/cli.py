"""The inference commands: `serve` (the BentoML scoring service over the registry's champion,
with the brand manager's page at /app), `score` (a dataset with the champion), `rank` (a
campaign's shortlist under a budget as CSV, HTML or PDF, the page's without a server),
`audit-followers` (follower accounts), `features` (the feature frames of a dataset) and
`example-request` (a /score body from a dataset directory). They read models from the store,
never from training code."""
from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import typer

from data.chunked import CHUNK_CREATORS, ChunkedDataset
from data.cli import load_dataset_or_exit, print_contract_report
from data.io import write_frame
from data.loader import read_table_file
from data.validation import ContractError, validate_accounts
from features import FeaturePipeline, fit_and_build_in_chunks
from serving.config import DEFAULT_PORT, ConfigError, ServingConfig, default_workers
from serving.payloads import campaign_record, collaboration_plans, creator_records
from store.cli_errors import check_out, console, percent, user_errors
from store.tracking import artifact_root_for, resolve_tracking_uri

# store.registry imports MLflow (seconds) and the models LightGBM and scikit-learn (~0.8 s):
# the commands that use them import them when they run, so `creatorscore --help` and the other
# commands start without them (`creatorscore --help`: 1.65 -> 0.7 s, alternating runs,
# 2026-12-01).


def serve(
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535,
                             help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind: this machine only by default; 0.0.0.0 "
                             "listens on every interface (set CREATORSCORE_API_KEY then)."),
    workers: int = typer.Option(None, "--workers", min=1,
                                help="Worker processes (each loads the champion once); "
                                     "default CREATORSCORE_WORKERS, else one per core."),
    data: list[Path] = typer.Option([], "--data", help="Dataset directory the brand "
                                    "manager's page (/app) offers (repeatable)."),
) -> None:
    """Serve /score, /rank, /audit_followers and /model_info with the champion model of the
    MLflow store named by MLFLOW_TRACKING_URI (the repository's local store by default).

    Settings (API key, request limits) come from CREATORSCORE_* environment variables; see
    serving/config.py. Health: /livez, /readyz; Prometheus metrics: /metrics."""
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    if workers is not None:
        os.environ["CREATORSCORE_WORKERS"] = str(workers)
    from serving.app import DATA_DIRS_VARIABLE

    missing = [str(d) for d in data if not d.is_dir()]
    if missing:
        typer.echo(f"error: --data: no such directory: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    os.environ[DATA_DIRS_VARIABLE] = os.pathsep.join(str(d.resolve()) for d in data)
    try:
        config = ServingConfig.from_env()
        default_workers()
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None

    # Load and verify the champion here, before any port is bound: a missing or damaged model
    # is one line and exit 1, not a worker crash-looping behind a port that never answers.
    from store import registry  # lazy: see the imports

    with user_errors(), console.status("Loading and verifying the champion model..."):
        _, info = registry.load_champion(config.tracking_uri)

    # The service module builds the BentoML service at import (seconds, and BentoML's
    # configuration): imported only when serving, not for every command of the CLI.
    import bentoml

    from serving.service import CreatorScore

    if not config.api_key and not _is_loopback(host):
        typer.echo(f"warning: listening on {host} without an API key: anyone who can reach "
                   "this machine can use the service; set CREATORSCORE_API_KEY", err=True)
    typer.echo(f"creatorscore: serving {info.model_version} on http://{host}:{port} "
               f"(API key {'required' if config.api_key else 'not required'}); "
               f"the brand manager's page: http://{host}:{port}/app/")
    bentoml.serve(CreatorScore, host=host, port=port, blocking=True)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def example_body(tables: dict, campaign_id: str | None = None, n_creators: int = 3) -> dict:
    """A /score request body for `n_creators` creators of `tables` (contract tables by name).

    With `campaign_id`: the campaign record and the planned collaborations of the chosen
    creators; creators planned in that campaign come first (in the collaborations' order),
    then the dataset's first creators fill up to `n_creators`. Without: the first creators.
    Raises ValueError naming the campaign when it is not in the campaigns table.
    """
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


ENGINES = ("pandas", "spark")


def score(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables; with "
                              "--engine spark, a table may be a directory of Parquet parts)."),
    out: Path = typer.Option(..., "--out", help="Output: a .csv or .parquet file (pandas), a "
                             "directory of Parquet parts (spark)."),
    campaign: str = typer.Option(None, "--campaign", help="Campaign id: score its planned "
                                 "collaborations (or every creator for it)."),
    chunk_creators: int = typer.Option(CHUNK_CREATORS, "--chunk-creators", min=1,
                                       help="Creators validated and scored at a time (pandas "
                                            "engine; same scores): memory is two such pieces "
                                            "plus the dataset's id columns."),
    engine: str = typer.Option("pandas", "--engine", help="pandas: one process; spark: "
                               "groups of creators scored in parallel by Spark "
                               "(pip install 'creatorscore[spark]', Java 17+)."),
    spark_master: str = typer.Option("local[*]", "--spark-master",
                                     help="Spark master URL for --engine spark."),
    creators_per_group: int = typer.Option(
        2_000, "--creators-per-group", min=1,
        help="Creators scored together by one Spark task (memory per task grows with it)."),
) -> None:
    """Score creators (or a campaign's candidates) with the champion model.

    Memory (pandas engine): two pieces of --chunk-creators creators (one scored, the next
    validated meanwhile), plus the dataset's id columns (data/chunked.py) and the output
    rows, not the dataset: the files are read in batches into the pieces' files in a
    temporary directory (TMPDIR; about the size of the CSV files), removed after. Every
    contract problem is still reported, with the file's rows, before anything is written."""
    if engine not in ENGINES:
        console.print(f"[red]--engine: {engine!r}; expected one of {', '.join(ENGINES)}[/red]")
        raise typer.Exit(2)
    if engine == "pandas":
        check_out(out)
    elif out.is_file():
        console.print(f"[red]--out: {out} is a file; --engine spark writes a directory of "
                      "Parquet parts[/red]")
        raise typer.Exit(1)
    if engine == "pandas":
        # A problem of the reading or of the champion is reported as before, the champion's
        # first.
        reading = _read_in_background(data, chunk_creators)
    from store import registry  # lazy: see the imports

    try:
        with user_errors():
            with console.status("Loading the champion model..."):
                bundle, info = registry.load_champion()
            if engine == "spark":
                rows = _score_on_spark(bundle, data, out, campaign, spark_master,
                                       creators_per_group)
            else:
                with console.status("Scoring..."), reading.result() as chunked:
                    compiling = bundle.accelerate()
                    table = bundle.score_in_chunks(chunked, campaign_id=campaign)
                    if compiling is not None:  # no compiler left running behind the command
                        compiling.join()
                write_frame(table, out, index=False)
                rows = len(table)
    except BaseException:
        if engine == "pandas":  # the dataset read meanwhile, unused: its files go once read
            reading.add_done_callback(_close_read)
        raise
    console.print(f"{rows:,} rows scored with {info.model_version} -> {out}")


def _read_in_background(data: Path, chunk_creators: int) -> concurrent.futures.Future:
    """ChunkedDataset.read of `data` on a thread of its own: the files are read (Arrow's
    parser: native code, without the GIL) while the command imports MLflow and the models and
    loads the champion (Python, ~1.7 s of a 10k-creator run): on two cores the two overlap."""
    reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="read-dataset")
    reading = reader.submit(ChunkedDataset.read, data, chunk_creators)
    reader.shutdown(wait=False)
    return reading


def _close_read(reading: concurrent.futures.Future) -> None:
    """Remove the pieces' files of a ChunkedDataset read for nothing (a failed read removed
    its own)."""
    if not reading.cancelled() and reading.exception() is None:
        reading.result().close()


def _score_on_spark(bundle, data: Path, out: Path, campaign: str | None, master: str,
                    creators_per_group: int) -> int:
    try:
        from serving import batch_spark  # lazy: pyspark is an optional dependency
    except ModuleNotFoundError as error:
        raise RuntimeError(f"--engine spark needs pyspark ({error}); install it with "
                           "pip install 'creatorscore[spark]'") from None
    with console.status(f"Scoring on Spark ({master})..."):
        spark = batch_spark.spark_session(master)
        try:
            result = batch_spark.score_directory(spark, bundle, data, out, campaign,
                                                 creators_per_group)
        finally:
            spark.stop()
    return result.rows


def audit_followers(
    file: Path = typer.Argument(..., help="CSV of follower accounts (audience_sample columns: "
                                "followers, following, posts_count, has_profile_pic, ...)."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv or .parquet) with the fake "
                             "probability and class of every account."),
) -> None:
    """Score follower accounts with the champion's follower classifier; print the fake share."""
    from models.follower_account import RuleBasedFollowerScorer  # lazy: see the imports
    from models.quantification import DRIFT_TOLERANCE
    from store import registry

    check_out(out)
    with user_errors():
        accounts = read_accounts(file)
        try:
            bundle, info = registry.load_champion()
            classifier = bundle.follower_classifier
            source = f"the champion's classifier ({info.model_version})"
        except registry.RegistryError:
            classifier = None
        if classifier is None:
            console.print("[yellow]No champion model yet: auditing with the transparent "
                          "rule-based scorer, whose error rates are assumed, not measured (run "
                          "`creatorscore train` to register a trained classifier).[/yellow]")
            classifier = RuleBasedFollowerScorer()
            source = "the rule-based scorer"
        audit = classifier.audit(accounts)
        result = accounts.copy()
        result["p_fake"] = audit.p_fake
        result["p_fake_balanced_prior"] = audit.p_fake_balanced
        result["account_class"] = audit.classes
        write_frame(result, out, index=False)
    estimates = audit.estimates
    console.print(f"{len(result):,} accounts scored with {source} -> {out}")
    console.print(f"Estimated fake share: [bold]{percent(estimates.share[0])}[/bold] (90% interval "
                  f"{percent(estimates.low[0])} - {percent(estimates.high[0])}; "
                  f"{estimates.method.upper()} quantification, the interval includes the "
                  "error measured on data sets the classifier never saw)")
    console.print("p_fake in the output is each account's probability at this audience's "
                  "estimated share; p_fake_balanced_prior the classifier's at 50/50.")
    if audit.warnings[0]:
        console.print(f"[yellow]Domain check: {audit.warnings[0]}[/yellow]")
    else:
        console.print(f"Domain check: passed (largest field drift "
                      f"{estimates.drift[0]:.2f}; fails above {DRIFT_TOLERANCE}).")


def read_accounts(path: Path) -> pd.DataFrame:
    """A follower-account CSV typed and checked by the contract validator
    (`data.validation.validate_accounts`, the one /audit_followers uses)."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    return validate_accounts(read_table_file(path))


def features(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables)."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv or .parquet) for the "
                             "per-creator features; per-collaboration features go beside it "
                             "as <stem>_collaborations<suffix> when the dataset has campaigns."),
    chunk_creators: int = typer.Option(CHUNK_CREATORS, "--chunk-creators", min=1,
                                       help="Creators validated and computed at a time (same "
                                            "values): memory is three such pieces (two at "
                                            "work, one validated ahead) plus the dataset's "
                                            "id columns."),
) -> None:
    """Compute the documented numeric feature frames of a dataset.

    Memory: the dataset's id columns (data/chunked.py), three pieces of --chunk-creators
    creators as pandas (two at work, one on each core: features.pipeline.PIECE_THREADS; the
    next validated meanwhile), the fit's inputs (a few
    numbers per creator and the texts' distinct words) and the output rows. The files are
    read in batches into the pieces' files in a temporary directory (TMPDIR; about the size
    of the CSV files). The pipeline is fitted on the whole dataset's cohorts and texts first,
    piece by piece, so the pieces are used three times: validated once, and kept meanwhile as
    Arrow files there too (about as much again) when there is more than one."""
    from models.follower_account import RuleBasedFollowerScorer  # lazy: see the imports

    check_out(out)
    try:
        with ChunkedDataset.read(data, chunk_creators) as chunked, \
                console.status("Computing features..."):
            pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer())
            frames = fit_and_build_in_chunks(chunked, pipeline)
    except ContractError as error:
        print_contract_report(error, data)
        raise typer.Exit(1) from None
    write_frame(frames["creators"], out)
    console.print(f"{len(frames['creators']):,} creators x {frames['creators'].shape[1]} "
                  f"features -> {out}")
    if "collaborations" in frames:
        collab_out = out.with_name(f"{out.stem}_collaborations{out.suffix}")
        write_frame(frames["collaborations"], collab_out)
        console.print(f"{len(frames['collaborations']):,} collaborations x "
                      f"{frames['collaborations'].shape[1]} features -> {collab_out}")


def rank(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables) with "
                              "the campaign and its planned collaborations (the candidates)."),
    campaign: str = typer.Option(..., "--campaign", help="Campaign id."),
    budget: float = typer.Option(..., "--budget", min=0, help="The campaign's budget."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv (every candidate), .html "
                             "(the page, static, with the reasons) or .pdf (one-page report)."),
    objective: str = typer.Option("roi", "--objective",
                                  help="roi, profit, conversions or revenue."),
    explain: int = typer.Option(10, "--explain", min=0, max=100,
                                help="Creators explained in the HTML report (best first)."),
) -> None:
    """Rank a campaign's candidates under a budget with the champion model: the shortlist of
    the brand manager's page (/app) and of POST /rank, the same numbers, without a server."""
    from serving.app.views import creator_detail
    from serving.engine import load_engine
    from serving.errors import RequestError
    from serving.report import check_report_path, write_report
    from serving.shortlist import CandidateSource, rank_shortlist

    try:
        check_report_path(out)
        config = ServingConfig.from_env()
    except (ValueError, ConfigError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    dataset = load_dataset_or_exit(data)
    source = CandidateSource(label=data.name, tables=dataset.tables)
    try:
        engine = load_engine(config)
    except Exception as error:  # noqa: BLE001 - no champion, unreachable store: in words
        typer.echo(f"error: cannot load the champion model ({error}); run `creatorscore "
                   "train` first or set MLFLOW_TRACKING_URI", err=True)
        raise typer.Exit(1) from None
    try:
        request = source.rank_request(campaign)
        shortlist = rank_shortlist(engine, request, budget, objective)
        details = []
        if out.suffix.lower() == ".html":
            details = [creator_detail(engine, source, request, shortlist, row.creator_id)
                       for row in shortlist.rows[:explain]]
    except RequestError as error:
        typer.echo(f"error: {error.error}", err=True)
        for item in error.detail:
            typer.echo(f"  - {' / '.join(map(str, item['loc']))}: {item['msg']}", err=True)
        raise typer.Exit(1) from None
    write_report(shortlist, out, details)
    selection = shortlist.selection
    typer.echo(f"{out}: {len(shortlist.rows)} candidates of campaign {campaign}, "
               f"{len(selection['creator_ids'])} selected; spend {selection['spent']:,.0f} of "
               f"{budget:,.0f} ({shortlist.answer['provenance']['model_version']})")


def mlflow_ui(
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port of the UI."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
) -> None:
    """Open the MLflow UI on this project's store: runs, metrics, plots and the registered
    models with their aliases (MLFLOW_TRACKING_URI, else the repository's mlruns/mlflow.db;
    a plain `mlflow ui` would open an empty ./mlruns instead)."""
    uri = resolve_tracking_uri()
    if not uri.startswith("sqlite:///"):
        typer.echo(f"The store is the tracking server {uri}: open it in a browser.")
        return
    if not Path(uri[len("sqlite:///"):]).exists():
        typer.echo(f"error: no MLflow store at {uri}; run `creatorscore train --data DIR` "
                   "first (or set MLFLOW_TRACKING_URI)", err=True)
        raise typer.Exit(1)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
               "--default-artifact-root", artifact_root_for(uri), "--host", host,
               "--port", str(port)]
    typer.echo(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(command))


def import_champion() -> None:
    """Copy the champion of the MLflow store into the BentoML model store (BENTOML_HOME, by
    default ~/bentoml) as `creatorscore:<tag>`, for `bentoml build` (see bentofile.yaml)."""
    from serving.bento_model import import_champion as import_into_bentoml

    with user_errors():
        model = import_into_bentoml()
    meta = model.info.metadata
    console.print(f"{meta['model_name']}/{meta['version']} imported into the BentoML model "
                  f"store as {model.tag}; next: `bentoml build` in the repository root")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("mlflow-ui")(mlflow_ui)
    app.command("import-champion")(import_champion)
    app.command()(score)
    app.command("audit-followers")(audit_followers)
    app.command()(features)
    app.command("rank")(rank)
    app.command("example-request")(example_request)
