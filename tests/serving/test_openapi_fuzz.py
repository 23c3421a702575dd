"""Bodies generated from the service's own OpenAPI spec never get a 500.

The arbitrary-JSON tests in test_fuzz.py mostly stop at the request models; bodies that follow
the published schema pass them and reach the contract validation, the features and the models,
where an unexpected combination of valid fields is likeliest to break something."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.serving.schema_strategies import from_schema

SCHEMA_FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                       suppress_health_check=[HealthCheck.too_slow,
                                              HealthCheck.data_too_large,
                                              HealthCheck.filter_too_much])
ROUTES = ("/score", "/rank", "/audit_followers")


@pytest.fixture(scope="module")
def openapi(client) -> dict:
    response = client.get("/docs.json")
    assert response.status_code == 200
    return response.json()


def body_schema(spec: dict, route: str) -> dict:
    content = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]
    # Local $refs ("#/components/schemas/...") resolve against the schema's own root.
    return {**content["schema"], "components": spec["components"]}


def test_the_spec_describes_every_scoring_route(openapi):
    for route in ROUTES:
        schema = body_schema(openapi, route)
        assert schema.get("$ref") or schema.get("properties"), route


@pytest.mark.parametrize("route", ROUTES)
def test_bodies_following_the_openapi_schema_never_give_500(client, openapi, route):
    strategy = from_schema(body_schema(openapi, route))
    past_request_model = []

    @SCHEMA_FUZZ
    @given(body=strategy)
    def check(body):
        response = client.post(route, json=body)
        assert response.status_code < 500, (response.status_code, response.text[:500])
        if response.status_code >= 400:
            answer = response.json()
            detail = answer["detail"]
            assert detail and all(item["loc"] is not None and item["msg"] for item in detail)
            past_request_model.append("contract" in answer["error"])
        else:
            past_request_model.append(True)

    check()
    # Not vacuous: some schema-valid bodies reach the contract validation and the models.
    assert any(past_request_model), f"no {route} body got past the request model"


def test_schema_strategy_reaches_the_core(client, openapi):
    """Guard against a vacuous fuzz test: some generated bodies must be scored (200)."""
    strategy = from_schema(body_schema(openapi, "/audit_followers"))
    statuses = []

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=strategy.filter(lambda b: len(b.get("accounts", [])) > 0))
    def collect(body):
        statuses.append(client.post("/audit_followers", json=body).status_code)

    collect()
    assert 200 in statuses
