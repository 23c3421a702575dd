"""No JSON input produces a 500: arbitrary JSON and mutated valid bodies against every route
(hypothesis, in process). Every refusal is a 4xx with an error and field paths."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.helpers import campaign_with_plans, rank_body, score_body

ROUTES = ("/score", "/rank", "/audit_followers", "/model_info")
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
    | st.sampled_from(["", "2024-01-01", "2024-02-30T10:00:00Z", "instagram", "NaN", "1e400",
                       "fixed", "-1", "true"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12) | st.sampled_from(
        ["creators", "profile", "posts", "campaign", "collaborations", "budget", "top_k",
         "accounts", "creator_id", "followers", "likes", "posted_at"]), children, max_size=4),
    max_leaves=12,
)


def _check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert body["error"]
        assert isinstance(body["detail"], list)
        for item in body["detail"]:
            assert isinstance(item["loc"], list | tuple) and item["msg"]


@pytest.fixture(scope="module")
def valid_bodies(champion):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables)
    ranked = rank_body(tables, campaign_id, budget=500.0, top_k=2)
    for creator in ranked["creators"]:
        creator["posts"] = creator["posts"][:6]
        for table in ("comments",):
            creator.pop(table, None)
        creator["audience_sample"] = creator.get("audience_sample", [])[:5]
        creator["follower_history"] = creator.get("follower_history", [])[:5]
    scored = {**score_body(tables, [], None), "creators": ranked["creators"][:2],
              "campaign": ranked["campaign"], "collaborations": ranked["collaborations"][:2]}
    from serving.payloads import records

    audit = {"accounts": records("audience_sample", tables["audience_sample"].head(5))}
    return {"/score": scored, "/rank": ranked, "/audit_followers": audit}


@FUZZ
@given(route=st.sampled_from(ROUTES), body=json_values)
def test_arbitrary_json_never_gives_500(client, route, body):
    _check(client.post(route, content=json.dumps(body).encode(),
                       headers={"content-type": "application/json"}))


@FUZZ
@given(route=st.sampled_from(ROUTES), raw=st.binary(max_size=64))
def test_arbitrary_bytes_never_give_500(client, route, raw):
    _check(client.post(route, content=raw, headers={"content-type": "application/json"}))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


EDGE_TEXT = st.sampled_from(["", " ", "0", "x" * 200, "INSTAGRAM", "2024-13-01", "1900-01-01",
                             "2262-04-12T00:00:00Z", "2024-01-01T00:00:00+14:00", "é🙂", "cp0",
                             "cr000000", "null"])


def _same_type(value):
    """A value of the same JSON type as `value`, often at an edge: it passes the request model
    and reaches the validator, the features and the models."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.sampled_from([0, 1, 2**53, 2**31]) | st.integers(0, 10**9)
    if isinstance(value, float):
        return st.sampled_from([0.0, 1e-300, 1e15, 0.5]) | st.floats(0, 1e12)
    if isinstance(value, str):
        return EDGE_TEXT | st.text(max_size=20)
    if isinstance(value, list):
        return st.just([])
    return json_values


def _mutate(body, path, action, value):
    body = copy.deepcopy(body)
    if not path:
        return value
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = value
    return body


@FUZZ
@given(data=st.data())
def test_mutated_valid_bodies_never_give_500(client, valid_bodies, data):
    route = data.draw(st.sampled_from(sorted(valid_bodies)))
    body = valid_bodies[route]
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(body))
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["same_type", "same_type", "replace", "delete",
                                            "duplicate"]))
        if action == "delete" and not path:
            action = "replace"
        if action == "same_type":
            node = body
            for step in path:
                node = node[step]
            value = data.draw(_same_type(node))
        else:
            value = data.draw(json_values)
        body = _mutate(body, path, action, value)
    _check(client.post(route, json=body))


def test_the_valid_bodies_are_accepted(client, valid_bodies):
    for route, body in valid_bodies.items():
        response = client.post(route, json=body)
        assert response.status_code == 200, (route, response.text[:500])
