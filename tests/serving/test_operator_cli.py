"""Operators' commands: `creatorscore --version` and `creatorscore mlflow-ui` on our store."""
from __future__ import annotations

import os
import sys

import httpx
from typer.testing import CliRunner

from creatorscore import app
from serving.openapi import package_version
from tests.processes import free_port, server


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"creatorscore {package_version()}"


def test_mlflow_ui_without_a_store_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")
    result = CliRunner().invoke(app, ["mlflow-ui"])
    assert result.exit_code == 1 and "creatorscore train" in result.output


def test_mlflow_ui_opens_our_store(champion, tmp_path):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": champion.tracking_uri}
    url = f"http://127.0.0.1:{port}"
    with server([sys.executable, "-m", "creatorscore", "mlflow-ui", "--port", str(port)], env,
                tmp_path, tmp_path / "ui.log", f"{url}/health"):
        models = httpx.get(f"{url}/api/2.0/mlflow/registered-models/search", timeout=30).json()
        champion_model = [m for m in models["registered_models"] if m["name"] == "creatorscore"]
        assert champion_model and any(a["alias"] == "champion"
                                      for a in champion_model[0].get("aliases", []))
