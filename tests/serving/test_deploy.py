"""deploy/compose.yaml and its Prometheus configuration agree with the service (Docker is not
needed to check that): Prometheus scrapes the service's /metrics on its port, the MLflow image
is the MLflow version we pin, the service image is the Bento's name. (That the service serves
BentoML's metrics at /metrics is tested on a real server in test_http.py.)"""
from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import yaml

from serving.config import DEFAULT_PORT

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_wires_service_mlflow_and_prometheus():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"creatorscore", "mlflow", "prometheus"}
    service = services["creatorscore"]
    assert f"{DEFAULT_PORT}:{DEFAULT_PORT}" in service["ports"]
    assert service["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "creatorscore:latest" in service["image"]
    assert services["mlflow"]["image"].endswith(f":v{version('mlflow')}")
    assert "--serve-artifacts" in services["mlflow"]["command"]
    mounted = services["prometheus"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).resolve() == (DEPLOY / "prometheus.yml").resolve()

    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "creatorscore")
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"creatorscore:{DEFAULT_PORT}"]
