"""The msgspec decoding of /score and /rank bodies (serving.request_body) against pydantic's.

msgspec may refuse more than pydantic (pydantic then decides), never less: every body it
accepts, pydantic accepts with the same values. And a request seen before is answered without
decoding its creators again.
"""
from __future__ import annotations

import json
import threading

import msgspec
import pydantic
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from serving.engine import ScoringEngine
from serving.request_body import CreatorBody, JSONCreators, RankBody, ScoreBody, decode
from serving.schemas import PLAN_COLUMNS, CreatorRecords
from tests.serving.helpers import rank_body, score_body

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=False), st.text(max_size=4))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=3), inner, max_size=2)),
    max_leaves=4)
RECORDS = st.dictionaries(st.sampled_from(["post_id", "likes", "creator_id", "cost",
                                           "conversions", "x"]), VALUES,
                          max_size=3)


SPECIAL = st.sampled_from([[], {}, [1], [{}], [[]], "", "5", 0, 5.0, None, True])
ODD = st.one_of(SPECIAL, SPECIAL, VALUES)
ONE_CREATOR = {"profile": {"creator_id": "c"}, "posts": [{"post_id": "p"}]}
NESTED = ("posts", "follower_history", "audience_sample", "comments")


@st.composite
def bodies(draw):
    """A valid body of either route, then (mostly) one change somewhere: a value replaced by
    any JSON value, or a field removed."""
    creators = [{"profile": draw(RECORDS), "posts": draw(st.lists(RECORDS, min_size=1,
                                                                  max_size=3)),
                 **{table: draw(st.lists(RECORDS, max_size=3)) for table in NESTED[1:]
                    if draw(st.booleans())}}
                for _ in range(draw(st.integers(0, 3)))]
    body = {"creators": creators, "campaign": draw(RECORDS),
            "collaborations": draw(st.lists(RECORDS, max_size=2)),
            "explain": draw(st.booleans()), "top_n": draw(st.integers(-5, 30)),
            "top_k": draw(st.integers(-5, 30)), "budget": draw(st.floats(allow_nan=False)),
            "objective": draw(st.sampled_from(["roi", "conversions", "ROI"])),
            "extra": draw(VALUES)}
    if draw(st.booleans()):  # /rank's name of an earlier candidate set (ignored by /score)
        body["candidate_set"] = draw(st.one_of(
            st.text(alphabet="0123456789abcdef", min_size=32, max_size=32), VALUES))
    where = draw(st.sampled_from(["nothing", "body", "creator", "table", "record"]))
    if where == "body":
        target = body
    elif where in ("creator", "table", "record") and creators:
        creator = draw(st.sampled_from(creators))
        target = creator
        if where in ("table", "record"):
            table = draw(st.sampled_from([t for t in NESTED if t in creator]))
            target = creator[table] if where == "record" and creator[table] else creator
            if target is not creator:
                target = draw(st.sampled_from(target))
    else:
        return body
    key = draw(st.sampled_from(sorted(target)) if target else st.just("x"))
    if draw(st.integers(0, 4)) == 0:
        target.pop(key, None)
    else:
        target[key] = draw(ODD)
    return body


def _input_spec(route: str):
    from serving.service import CreatorScore

    return CreatorScore.apis[route].input_spec


def _contract_fields(name: str, value):
    from data.contract import TABLES

    if value is None:
        return None
    known = TABLES["campaigns"].column_by_name if name == "campaign" else PLAN_COLUMNS
    rows = [value] if name == "campaign" else value
    kept = [{k: v for k, v in row.items() if k in known} for row in rows]
    return kept[0] if name == "campaign" else kept


def _plain(record) -> dict:
    """A record's given values: structs have every contract column (None when absent),
    pydantic's dicts the fields sent (both drop unknown fields)."""
    if not isinstance(record, dict):
        record = msgspec.structs.asdict(record)
    return {k: v for k, v in record.items() if v is not None}


def _records(creator) -> dict:
    if isinstance(creator, CreatorRecords):
        tables = {name: getattr(creator, name) for name in type(creator).model_fields}
    else:
        tables = {name: getattr(creator, name) for name in creator.__struct_fields__}
    out = {"profile": _plain(tables["profile"])}
    for name, rows in tables.items():
        if name != "profile" and rows is not None:
            out[name] = [_plain(row) for row in rows]
    return out


@pytest.mark.parametrize("route,shape", [("score", ScoreBody), ("rank", RankBody)])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
@example(body={"creators": [dict(ONE_CREATOR, posts=[])]})
@example(body={"creators": [dict(ONE_CREATOR, comments=[3])]})
@example(body={"creators": [dict(ONE_CREATOR, profile=[])], "campaign": {}})
@example(body={"creators": [ONE_CREATOR], "top_n": 5.0, "explain": "true"})
def test_msgspec_accepts_only_what_pydantic_accepts_with_the_same_values(route, shape, body):
    raw = json.dumps(body).encode()
    spec = _input_spec(route)
    try:
        expected = spec.model_validate_json(raw)
    except pydantic.ValidationError:
        expected = None
    fields = decode(raw, shape, reparse=lambda: pytest.fail("pydantic was not asked"))
    if fields is None:
        return  # refused at the top level: pydantic decides, as before
    creators = fields["creators"]  # None: a /rank by candidate_set
    try:
        decoded = None if creators is None else [
            msgspec.json.decode(r, type=CreatorBody) for r in creators.raws]
    except msgspec.MsgspecError:
        return  # refused a creator: pydantic decides (reparse)
    assert expected is not None, f"msgspec accepted a body pydantic refuses: {body!r}"
    for name, value in fields.items():
        if name in ("campaign", "collaborations"):
            # pydantic's records drop unknown fields; the validator reads known ones only.
            value, wanted = _contract_fields(name, value), _contract_fields(
                name, getattr(expected, name))
            assert value == wanted, name
        elif name != "creators":
            assert value == getattr(expected, name), name
    if decoded is None:
        assert expected.creators is None
    else:
        assert [_records(c) for c in decoded] == [_records(c) for c in expected.creators]


def test_what_msgspec_refuses_gets_pydantics_answer(client, champion):
    body = score_body(champion.tables, champion.tables["creators"]["creator_id"][:2].tolist())
    lax = dict(body, top_n="3")  # pydantic's lax mode takes a numeric string
    assert client.post("/score", json=lax).status_code == 200
    bad_creator = dict(body, creators=[body["creators"][0], {"profile": 5, "posts": [{}]}])
    response = client.post("/score", json=bad_creator)
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"][:3] == ["creators", 1, "profile"]
    no_posts = dict(body, creators=[dict(body["creators"][0], posts=[])])
    response = client.post("/score", json=no_posts)
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"][:3] == ["creators", 0, "posts"]


def test_a_request_seen_before_is_not_decoded_again(champion):
    engine = ScoringEngine(bundle=champion.bundle, version=champion.version)
    ids = champion.tables["creators"]["creator_id"][:3].tolist()
    raw = json.dumps(score_body(champion.tables, ids)).encode()
    first = decode(raw, ScoreBody, reparse=lambda: pytest.fail("valid body"))
    answer = engine.score_payload(first["creators"], explain=True)
    second = decode(raw, ScoreBody, reparse=lambda: pytest.fail("valid body"))
    assert engine.score_payload(second["creators"], explain=True) == answer
    assert second["creators"]._decoded is None  # answered from the request cache
    # Changed content is a new key: decoded and scored afresh.
    changed = json.loads(raw)
    changed["creators"][0]["profile"]["followers"] += 1_000
    third = decode(json.dumps(changed).encode(), ScoreBody, reparse=lambda: pytest.fail(""))
    engine.score_payload(third["creators"], explain=True)
    assert third["creators"]._decoded is not None


def test_rank_over_decoded_creators_equals_rank_over_records(champion):
    from tests.serving.helpers import campaign_with_plans

    campaign_id = campaign_with_plans(champion.tables)
    body = rank_body(champion.tables, campaign_id, budget=5_000.0)
    fields = decode(json.dumps(body).encode(), RankBody, reparse=lambda: pytest.fail(""))
    assert isinstance(fields["creators"], JSONCreators)
    records = pydantic.TypeAdapter(list[CreatorRecords]).validate_python(body["creators"])
    engine = ScoringEngine(bundle=champion.bundle, version=champion.version)
    from_json = engine.rank_payload(fields["creators"], fields["campaign"],
                                    fields["collaborations"], budget=fields["budget"],
                                    top_k=fields["top_k"])
    fresh = ScoringEngine(bundle=champion.bundle, version=champion.version)
    from_records = fresh.rank_payload(records, body["campaign"], body["collaborations"],
                                      budget=body["budget"], top_k=body["top_k"])
    # The set's name digests the records as they came (raw JSON or records): each face
    # names its own; everything else is equal.
    assert from_records.pop("candidate_set") != from_json.pop("candidate_set")
    assert from_records == from_json


def test_a_plans_outcome_fields_are_ignored_as_pydantic_ignored_them(client, champion):
    """pydantic's PlannedCollaboration kept the plan only; decoded plans keep every field,
    so the request's tables read the plan columns only."""
    from tests.serving.helpers import campaign_with_plans

    body = rank_body(champion.tables, campaign_with_plans(champion.tables), budget=5_000.0)
    noisy = dict(body, collaborations=[dict(plan, conversions="many", revenue=[1])
                                       for plan in body["collaborations"]])
    plain = client.post("/rank", json=body)
    assert plain.status_code == 200
    answer = client.post("/rank", json=noisy)
    assert answer.status_code == 200
    # The candidate set's name digests the plans as sent, ignored fields too (a miss, never a
    # wrong hit); the rest of the answer is the same.
    noisy_answer, plain_answer = answer.json(), plain.json()
    assert noisy_answer.pop("candidate_set") != plain_answer.pop("candidate_set")
    assert noisy_answer == plain_answer


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
@example(body={"creators": [ONE_CREATOR, dict(ONE_CREATOR, posts=[{"likes": 5.0}]),
                            dict(ONE_CREATOR, comments=[{"text": 3}])]})
def test_typed_records_hold_what_any_json_records_hold(body):
    """The typed decoder (tried first) accepts a creator only if the decoder of any JSON
    values does, with the same values; it refuses every value of another JSON type than its
    column's."""
    from data.contract import TABLES
    from serving.request_body import TypedCreatorBody

    json_types = {"str": (str,), "date": (str,), "ts": (str,), "int": (int,),
                  "float": (int, float), "bool": (bool,)}
    creators = body.get("creators")
    for creator in creators if isinstance(creators, list) else ():
        raw = json.dumps(creator).encode()
        try:
            typed = msgspec.json.decode(raw, type=TypedCreatorBody)
        except msgspec.MsgspecError:
            typed = None
        try:
            plain = msgspec.json.decode(raw, type=CreatorBody)
        except msgspec.MsgspecError:
            assert typed is None
            continue
        tables = {"creators": [plain.profile], **{
            name: getattr(plain, name) or [] for name in NESTED}}
        of_their_types = all(
            getattr(row, column.name) is None
            or type(getattr(row, column.name)) in json_types[column.type]
            for name, rows in tables.items() for row in rows for column in TABLES[name].columns)
        assert (typed is not None) == of_their_types
        if typed is not None:
            assert _records(typed) == _records(plain)


def test_large_bodies_are_hashed_in_two_halves_with_the_same_digests(monkeypatch):
    """From PARALLEL_DIGEST_BYTES of creators, half of them are hashed on a helper thread:
    the digests, and their order, are those of hashing them one after the other."""
    import hashlib

    import serving.request_body as request_body

    raws = [msgspec.Raw(json.dumps({"profile": {"creator_id": f"c{i}"}, "n": "x" * i}).encode())
            for i in range(37)]
    expected = [hashlib.sha256(raw).digest()[:request_body.DIGEST_BYTES] for raw in raws]
    assert JSONCreators(raws, list).raw_bytes < request_body.PARALLEL_DIGEST_BYTES
    assert JSONCreators(raws, list).content_digests == expected
    monkeypatch.setattr(request_body, "PARALLEL_DIGEST_BYTES", 1)
    threads = []
    original = request_body._digests

    def digests(part):
        threads.append(threading.current_thread().name)
        return original(part)

    monkeypatch.setattr(request_body, "_digests", digests)
    assert JSONCreators(raws, list).content_digests == expected
    here, helper = sorted(threads)
    assert here == threading.current_thread().name and helper.startswith("creator-digests")
