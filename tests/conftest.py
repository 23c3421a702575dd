"""Fixtures shared by the store, training and serving tests: a fresh MLflow store."""
import os
import shutil

import mlflow
import pytest

from store import tracking

# Compiling the follower classifier (models/compiled.py) runs gcc for tens of seconds in the
# background of every loaded engine; its parity with LightGBM has its own test.
os.environ.setdefault("CREATORSCORE_COMPILE_TREES", "0")


@pytest.fixture(scope="session")
def _empty_store_template(tmp_path_factory):
    """An empty, migrated MLflow sqlite store (creating one takes seconds: done once)."""
    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch, _empty_store_template):
    """A fresh MLflow store in tmp_path, selected through MLFLOW_TRACKING_URI."""
    path = tmp_path / "mlflow.db"
    shutil.copy(_empty_store_template, path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.configure_tracking()
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
