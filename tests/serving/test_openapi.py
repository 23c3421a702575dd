"""The OpenAPI page where the README says it is: /docs (Swagger UI, no CDN) over /docs.json,
with our title, version and description, the /score example and GET /model_info; the error
answers it documents are the ones the service gives (issue 14, finding 6)."""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest
from starlette.testclient import TestClient

from serving.openapi import SCORE_EXAMPLE, TITLE, package_version


def test_docs_page_and_document(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "./docs.json" in page.text and "cdn" not in page.text.lower()
    assert client.get("/static_content/swagger-ui-bundle.js").status_code == 200

    document = client.get("/docs.json").json()
    info = document["info"]
    assert info["title"] == TITLE and info["version"] == package_version() != "None"
    assert "POST /score" in info["description"] and info["license"]["name"] == "Apache-2.0"
    model_info = document["paths"]["/model_info"]
    assert {"get", "post"} <= set(model_info)
    assert "200" in model_info["get"]["responses"]
    examples = document["paths"]["/score"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    assert examples["campaign"]["value"] == json.loads(SCORE_EXAMPLE.read_text())


def test_the_documented_example_is_answered(client):
    body = json.loads(SCORE_EXAMPLE.read_text())
    answer = client.post("/score", json=body)
    assert answer.status_code == 200, answer.text
    creators = answer.json()["creators"]
    assert len(creators) == len(body["creators"]) == 2
    assert all(c["conversion"] is not None for c in creators)


# ------------------------------------------------------------------ the error answers


SCORING_POSTS = ("/score", "/rank", "/audit_followers", "/model_info")


def _error_schema(document: dict) -> dict:
    return {"$ref": "#/components/schemas/Error", "components": document["components"]}


def test_every_scoring_route_documents_its_errors_with_the_real_body(client):
    document = client.get("/docs.json").json()
    for route in SCORING_POSTS:
        responses = document["paths"][route]["post"]["responses"]
        assert {"200", "400", "401", "413", "415", "422", "503"} <= set(responses), route
        assert not {"404", "500"} & set(responses), route
        for code in ("400", "401", "413", "415", "422", "503"):
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (route, code)
    assert {"401", "503"} <= set(document["paths"]["/model_info"]["get"]["responses"])
    detail = document["components"]["schemas"]["Error"]["properties"]["detail"]
    assert detail["type"] == "array"  # BentoML's own 400 said a string
    for route, name in (("/score", "creators"), ("/rank", "creators"),
                        ("/audit_followers", "accounts")):
        body = document["paths"][route]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["properties"][name]["minItems"] == 1, route
    creator = document["components"]["schemas"]["CreatorRecords"]
    assert creator["properties"]["posts"]["minItems"] == 1


def _refused_by_the_middleware() -> list[tuple[int, dict]]:
    """401, 413 and 415 from the guard, 503 from admission: the served app's middleware over
    a stand-in app (one service app per process; the served one has no key)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from serving.admission import AdmissionMiddleware
    from serving.config import ServingConfig
    from serving.middleware import GuardMiddleware

    async def hold(request):
        await asyncio.sleep(0.3)
        return JSONResponse({})

    app = Starlette(routes=[Route("/score", hold, methods=["POST"])])
    config = ServingConfig(api_key="s3cret", max_body_bytes=100, max_concurrent=1, max_queued=0)
    guarded = AdmissionMiddleware(GuardMiddleware(app, config), config)
    key = {"X-API-Key": "s3cret"}
    answers = []
    with TestClient(guarded) as test_client:
        for response in (test_client.post("/score", json={}),
                         test_client.post("/score", content=b" " * 101, headers=key),
                         test_client.post("/score", content=b"x",
                                          headers={**key, "content-type": "text/csv"})):
            answers.append((response.status_code, response.json()))
        with ThreadPoolExecutor(2) as pool:
            both = list(pool.map(lambda _: test_client.post("/score", json={}, headers=key),
                                 range(2)))
        busy = [r for r in both if r.status_code == 503]
        assert busy and busy[0].headers["retry-after"]
        answers.append((503, busy[0].json()))
    return answers


def test_real_error_answers_match_the_documented_schema(client, champion):
    document = client.get("/docs.json").json()
    good = json.loads(SCORE_EXAMPLE.read_text())
    one = dict(good["creators"][0])
    answers = [
        (client.post("/score", content=b"{not json",
                     headers={"content-type": "application/json"}), 400),
        (client.post("/score", json={"creators": "none"}), 400),
        (client.post("/score", json={"creators": []}), 422),
        (client.post("/audit_followers", json={"accounts": []}), 422),
        (client.post("/score", json={"creators": [{**one, "profile": {
            **one["profile"], "platform": "myspace"}}]}), 422),
        (client.post("/score", json={"creators": [one] * 301}), 413),
        (client.post("/score", content=b"creators=1",
                     headers={"content-type": "application/x-www-form-urlencoded"}), 415),
    ]
    schema = _error_schema(document)
    for response, status in answers:
        assert response.status_code == status, (status, response.text[:300])
        jsonschema.validate(response.json(), schema)
        assert response.json()["detail"], response.text
    for status, body in _refused_by_the_middleware():
        jsonschema.validate(body, schema)
        assert body["detail"], (status, body)
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: BentoML's old shape
        jsonschema.validate({"error": "bad", "detail": "a string"}, schema)
