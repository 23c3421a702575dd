"""The Bento: `creatorscore import-champion`, `bentoml build` (bentofile.yaml) in a temporary
BENTOML_HOME, then `bentoml serve` of the built Bento answers /score without any MLflow store
(the model comes from the Bento), with the OpenAPI page."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, server

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "serving" / "examples" / "score_request.json"


def _run(args: list[str], env: dict, cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout + done.stderr


@pytest.mark.slow
def test_bento_build_and_serve_answers_score(champion, tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true", "MLFLOW_TRACKING_URI": champion.tracking_uri}
    env.pop("CREATORSCORE_API_KEY", None)
    imported = _run([sys.executable, "-m", "creatorscore", "import-champion"], env, REPO)
    assert f"creatorscore/{champion.version} imported" in imported
    _run([sys.executable, "-m", "bentoml", "build"], env, REPO)
    listed = json.loads(subprocess.run(
        [sys.executable, "-m", "bentoml", "list", "-o", "json"], env=env, cwd=REPO,
        capture_output=True, text=True, check=True).stdout)
    assert [b["tag"].split(":")[0] for b in listed] == ["creatorscore"]

    # No MLflow store where the Bento runs: the model must come from the Bento.
    serve_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'absent' / 'x.db'}"}
    port = free_port()
    outside = tmp_path / "run"
    outside.mkdir()
    url = f"http://127.0.0.1:{port}"
    with server([sys.executable, "-m", "bentoml", "serve", "creatorscore:latest", "--port",
                 str(port)], serve_env, outside, tmp_path / "serve.log", f"{url}/readyz"):
        body = json.loads(EXAMPLE.read_text())
        answer = httpx.post(f"{url}/score", json=body, timeout=120)
        assert answer.status_code == 200, answer.text
        scored = answer.json()
        assert scored["provenance"]["model_version"] == f"creatorscore/{champion.version}"
        assert len(scored["creators"]) == len(body["creators"])
        assert httpx.get(f"{url}/docs", timeout=30).status_code == 200
        info = httpx.get(f"{url}/model_info", timeout=30).json()
        assert info["training_metrics"]  # carried in the Bento model's metadata
