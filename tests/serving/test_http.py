"""The service over real HTTP on localhost (a BentoML server started on a free port), with an
API key set: health routes open, scoring routes closed without the key, /metrics, and the
same scores as in process."""
from __future__ import annotations

import httpx
import pytest

from tests.serving.helpers import running_service, score_body

API_KEY = "test-key-123"


@pytest.fixture(scope="module")
def server_url(champion):
    with running_service({"MLFLOW_TRACKING_URI": champion.tracking_uri,
                          "CREATORSCORE_API_KEY": API_KEY}, ready_within=120) as url:
        yield url


def test_health_and_metrics_are_open(server_url):
    assert httpx.get(f"{server_url}/livez").status_code == 200
    assert httpx.get(f"{server_url}/readyz").status_code == 200
    metrics = httpx.get(f"{server_url}/metrics")
    assert metrics.status_code == 200 and "bentoml_" in metrics.text


def test_scoring_needs_the_key_and_matches_in_process(server_url, champion):
    from pydantic import TypeAdapter

    from serving.engine import ScoringEngine
    from serving.schemas import CreatorRecords

    tables = champion.tables
    ids = tables["creators"]["creator_id"].tolist()[20:23]
    body = score_body(tables, ids, explain=True)
    assert httpx.post(f"{server_url}/score", json=body).status_code == 401
    assert httpx.get(f"{server_url}/model_info").status_code == 401
    response = httpx.post(f"{server_url}/score", json=body, headers={"X-API-Key": API_KEY},
                          timeout=30)
    assert response.status_code == 200, response.text
    bearer = httpx.post(f"{server_url}/score", json=body, timeout=30,
                        headers={"Authorization": f"Bearer {API_KEY}"})
    assert bearer.status_code == 200 and bearer.json() == response.json()

    creators = TypeAdapter(list[CreatorRecords]).validate_python(body["creators"])
    local = ScoringEngine(bundle=champion.bundle, version=champion.version).score(
        creators, explain=True).model_dump(mode="json")
    assert response.json()["creators"] == local["creators"]
    info = httpx.get(f"{server_url}/model_info", headers={"X-API-Key": API_KEY})
    assert info.status_code == 200
    assert info.json()["provenance"] == response.json()["provenance"]


def test_cache_lookups_are_counted_on_metrics(server_url, champion):
    tables = champion.tables
    body = score_body(tables, tables["creators"]["creator_id"].tolist()[30:32], explain=False)
    headers = {"X-API-Key": API_KEY}
    # With several workers a repeat may land on another worker: send it a few times.
    for _ in range(8):
        assert httpx.post(f"{server_url}/score", json=body, headers=headers,
                          timeout=30).status_code == 200
    metrics = httpx.get(f"{server_url}/metrics").text
    counted = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.splitlines()
               if line.startswith("creatorscore_cache_lookups_total")}
    hits = [v for k, v in counted.items() if 'cache="request"' in k and 'outcome="hit"' in k]
    misses = [v for k, v in counted.items() if 'cache="request"' in k and 'outcome="miss"' in k]
    assert hits and sum(hits) >= 1 and misses and sum(misses) >= 1, metrics[-2000:]
