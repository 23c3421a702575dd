"""schemathesis against the service's own OpenAPI document (/docs.json), in process.

Bodies generated from the published schema, and valid /score and /rank bodies (the documented
example, a campaign of the test world) with generated parameters, go through the same app the
other serving tests use; every answer must pass schemathesis' response-conformance checks:
documented status code, documented content type, a body that matches the documented schema
(errors included) and documented headers, and never a 5xx. Derandomized and bounded so the
module stays within a couple of minutes on a 2-core machine."""
from __future__ import annotations

import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from serving.openapi import SCORE_EXAMPLE
from serving.schemas import MAX_TOP_N
from tests.serving.helpers import campaign_with_plans, rank_body

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
OPERATIONS = (("/score", "POST"), ("/rank", "POST"), ("/audit_followers", "POST"),
              ("/model_info", "POST"), ("/model_info", "GET"))
GENERATED = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))
VALID = settings(GENERATED, max_examples=20)


@pytest.fixture(scope="module")
def api(client):
    return schemathesis.openapi.from_dict(client.get("/docs.json").json())


@pytest.fixture(scope="module")
def run(client):
    """Sends a case through the in-process app and applies the checks; counts what it saw."""
    tally = Counter()

    def send(case) -> int:
        kwargs = {"headers": dict(case.headers or {})}
        if case.body is not NOT_SET:
            kwargs["content"] = json.dumps(case.body).encode()
            kwargs["headers"].setdefault("content-type", "application/json")
        response = client.request(case.method, case.formatted_path, **kwargs)
        tally["cases"] += 1
        tally[f"{case.method} {case.path} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)
        tally["checks"] += len(CHECKS)
        return response.status_code

    send.tally = tally
    return send


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_generated_requests_conform_to_the_spec(api, run, path, method):
    statuses = []

    @GENERATED
    @given(case=api[path][method].as_strategy())
    def check(case):
        statuses.append(run(case))

    check()
    assert statuses and all(status < 500 for status in statuses)
    if path == "/model_info":
        assert set(statuses) == {200}
    elif path != "/model_info":
        # Not vacuous: schema-valid bodies get past the request models to the contract
        # validator (422) or are answered (200).
        assert {200, 422} & set(statuses), statuses


def _valid_bodies(champion) -> dict[str, dict]:
    tables = champion.tables
    return {"/score": json.loads(SCORE_EXAMPLE.read_text()),
            "/rank": rank_body(tables, campaign_with_plans(tables), budget=5_000.0)}


@pytest.mark.parametrize("path", ["/score", "/rank"])
def test_valid_bodies_with_generated_parameters_are_answered(api, run, champion, path):
    """The documented example and a campaign's candidates, with generated options: these reach
    the models and every answer is a conforming 200."""
    base = _valid_bodies(champion)[path]
    bases = [base]
    if path == "/score":  # also without the campaign: campaign_id is null in the answer
        bases.append({"creators": base["creators"]})
    options = {"explain": st.booleans(), "top_n": st.integers(1, MAX_TOP_N)}
    if path == "/rank":
        options = {"top_n": options["top_n"], "top_k": st.integers(1, 5),
                   "objective": st.sampled_from(["roi", "profit", "conversions", "revenue"]),
                   "budget": st.floats(0, 1e6, allow_nan=False)}
    operation = api[path]["POST"]
    statuses = []

    @VALID
    @given(body=st.sampled_from(bases), changes=st.fixed_dictionaries({}, optional=options))
    def check(body, changes):
        statuses.append(run(operation.Case(body={**body, **changes},
                                           media_type="application/json")))

    check()
    assert statuses and set(statuses) == {200}, statuses


def test_the_checks_fail_on_an_undocumented_answer(client):
    """Not vacuous: with 422 left out of the document, the contract's answer fails the checks."""
    document = client.get("/docs.json").json()
    del document["paths"]["/score"]["post"]["responses"]["422"]
    case = schemathesis.openapi.from_dict(document)["/score"]["POST"].Case(
        body={"creators": []}, media_type="application/json")
    response = client.post("/score", json={"creators": []})
    assert response.status_code == 422
    with pytest.raises(FailureGroup) as raised:
        case.validate_response(response, checks=CHECKS)
    assert any(isinstance(failure, UndefinedStatusCode) for failure in raised.value.exceptions)


def test_run_figures(run):
    """Prints what the module ran (pytest -s): cases, checks and statuses by route."""
    print(dict(run.tally))
    assert run.tally["cases"] > 0
