"""Operators' commands: `creatorscore --version` and `creatorscore mlflow-ui` on our store."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from creatorscore import app
from serving.openapi import package_version
from tests.serving.test_http import _free_port


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"creatorscore {package_version()}"


def test_mlflow_ui_without_a_store_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")
    result = CliRunner().invoke(app, ["mlflow-ui"])
    assert result.exit_code == 1 and "creatorscore train" in result.output


def test_mlflow_ui_opens_our_store(champion, tmp_path):
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": champion.tracking_uri}
    ui = subprocess.Popen([sys.executable, "-m", "creatorscore", "mlflow-ui", "--port", str(port)],
                          env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                          stderr=open(tmp_path / "ui.log", "w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert ui.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the MLflow UI did not start"
            time.sleep(0.5)
        models = httpx.get(f"{url}/api/2.0/mlflow/registered-models/search", timeout=30).json()
        champion_model = [m for m in models["registered_models"] if m["name"] == "creatorscore"]
        assert champion_model and any(a["alias"] == "champion"
                                      for a in champion_model[0].get("aliases", []))
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
