"""The OpenAPI page where the README says it is: /docs (Swagger UI, no CDN) over /docs.json,
with our title, version and description, the /score example and GET /model_info."""
from __future__ import annotations

import json

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
