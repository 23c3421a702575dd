"""MLflow tracking configuration: where runs, artifacts and the model registry live.

Tracking URI: the environment variable MLFLOW_TRACKING_URI when set, else
sqlite:///<repo>/mlruns/mlflow.db (MLflow 3.13+ refuses a plain ./mlruns file store).
Artifacts: for a sqlite store, an `artifacts` folder next to the database file
(<repo>/mlruns/artifacts by default); for a tracking server, wherever the server puts them.
Every command resolves the URI through `configure_tracking`, so they all honour the variable.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

# mlflow is imported inside the functions that use it: its import takes seconds, and commands
# that never touch the store (`--help`, `generate`, `features`) import this module too.
if TYPE_CHECKING:
    import mlflow

EXPERIMENT_NAME = "creatorscore"
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_tracking_uri() -> str:
    return f"sqlite:///{REPO_ROOT / 'mlruns' / 'mlflow.db'}"


def other_checkout(cwd: Path | None = None) -> Path | None:
    """The creatorscore checkout around `cwd` when it is not the one whose code runs (a copied
    or moved repository whose virtual environment still points at the original), else None.
    Without MLFLOW_TRACKING_URI such a copy would read and write the original's mlruns/."""
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        project = folder / "pyproject.toml"
        if project.is_file():
            try:
                text = project.read_text(encoding="utf-8")
            except OSError:
                return None
            if 'name = "creatorscore"' in text and folder != REPO_ROOT:
                return folder
            return None
    return None


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """Explicit argument, else MLFLOW_TRACKING_URI, else the repository's sqlite store."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def artifact_root_for(tracking_uri: str) -> str | None:
    """The artifact location for new experiments, or None to let the server decide."""
    if tracking_uri.startswith("sqlite:///"):
        db_path = Path(tracking_uri[len("sqlite:///"):])
        return (db_path.parent / "artifacts").resolve().as_uri()
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        raise ValueError(
            f"tracking URI {tracking_uri!r} is a file store, which MLflow 3.13+ refuses; use "
            "sqlite:///path/to/mlflow.db or an http(s) tracking server")
    return None


def configure_tracking(tracking_uri: str | None = None) -> str:
    """Point mlflow at the resolved URI (creating the sqlite folder) and return the URI."""
    import mlflow  # lazy: see the imports

    uri = resolve_tracking_uri(tracking_uri)
    artifact_root_for(uri)  # validates the scheme
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        relocate_store(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


# Where MLflow records artifact locations (absolute file: URIs) in a sqlite store.
_LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                     ("logged_models", "artifact_location"),
                     ("model_versions", "storage_location"))
_relocated: set[str] = set()


def relocate_store(tracking_uri: str) -> int:
    """Make a moved or copied sqlite store use its own artifacts; the rows rewritten.

    MLflow records absolute artifact locations, so a copied repository kept reading and
    writing the original's mlruns/artifacts. When the store's experiment points at an
    `artifacts` folder other than the one beside its database, and that folder exists, every
    recorded location under the old folder is moved to the new one, in one transaction.
    Checked once per process and store; a read-only store is left as it is."""
    if tracking_uri in _relocated or not tracking_uri.startswith("sqlite:///"):
        return 0
    _relocated.add(tracking_uri)
    database = Path(tracking_uri[len("sqlite:///"):])
    new_root = artifact_root_for(tracking_uri)
    if not database.exists() or not (database.parent / "artifacts").is_dir():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
            row = connection.execute("SELECT artifact_location FROM experiments WHERE name = ?",
                                     (EXPERIMENT_NAME,)).fetchone()
            old_root = row[0] if row else None
            if not old_root or old_root == new_root or not old_root.startswith("file:") \
                    or not old_root.endswith("/artifacts"):
                return 0
            changed = 0
            with connection:  # one transaction: all locations move, or none
                for table, column in _LOCATION_COLUMNS:
                    cursor = connection.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                        (new_root, len(old_root) + 1, old_root, len(old_root) + 1,
                         old_root + "/"))
                    changed += cursor.rowcount
            logging.getLogger(__name__).warning(
                "the store %s was moved: its artifact locations now point at %s, not %s",
                database, new_root, old_root)
            return changed
    except sqlite3.Error:  # read-only or locked: the recorded locations are used as they are
        return 0


def ensure_experiment(tracking_uri: str, name: str = EXPERIMENT_NAME) -> str:
    """The experiment id of `name`, created with the artifact root above when missing."""
    import mlflow  # lazy: see the imports

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_root_for(tracking_uri))


def quiet_mlflow() -> None:
    """Silence MLflow's chatty warnings and alembic logs for command-line use."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


# Every job's run carries the process that ran it, so the next job can tell a run whose
# process died (kill -9, power loss: MLflow never hears of it) from one still going.
RUN_PID_TAG = "creatorscore.pid"
RUN_HOST_TAG = "creatorscore.host"


def job_tags() -> dict[str, str]:
    return {RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _local_path(uri: str | None) -> Path | None:
    """The folder of a local artifact URI (file:), None for remote stores."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(unquote(parsed.path))


def remove_orphan_artifacts(client: mlflow.MlflowClient, run) -> list[str]:
    """Delete what a dead run left behind: its artifacts and the models it logged, unless a
    registered version uses them. Local artifact stores only; returns what was removed."""
    run_id = run.info.run_id
    if client.search_model_versions(f"run_id = '{run_id}'"):
        return []
    removed = []
    models = client.search_logged_models([run.info.experiment_id],
                                         filter_string=f"source_run_id = '{run_id}'")
    for model in models:
        client.delete_logged_model(model.model_id)
        folder = _local_path(model.artifact_location)
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        removed.append(f"model {model.model_id}")
    folder = _local_path(run.info.artifact_uri)
    if folder is not None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(f"artifacts of run {run_id}")
    return removed


def fail_dead_runs(tracking_uri: str, experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs of this machine whose process is gone, and delete their
    orphan artifacts and logged models; the runs' ids."""
    import mlflow  # lazy: see the imports

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    host = socket.gethostname()
    failed = []
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        pid = tags.get(RUN_PID_TAG, "")
        if tags.get(RUN_HOST_TAG) != host or not pid.isdigit() or _alive(int(pid)):
            continue
        client.set_tag(run.info.run_id, "creatorscore.failed_reason",
                       f"process {pid} ended before the run finished")
        client.set_terminated(run.info.run_id, status="FAILED")
        remove_orphan_artifacts(client, run)
        failed.append(run.info.run_id)
    return failed
