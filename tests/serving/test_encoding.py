"""The service encodes the engine's plain answers directly (pydantic_core.to_json): they must
be exactly what the documented response models give, value for value and type for type."""
from __future__ import annotations

import json

from pydantic import TypeAdapter
from pydantic_core import to_json

from serving.engine import ScoringEngine
from serving.payloads import records
from serving.schemas import AuditResponse, CreatorRecords, RankResponse, ScoreResponse
from tests.serving.helpers import campaign_with_plans, rank_body, score_body

CREATORS = TypeAdapter(list[CreatorRecords])


def _same(a, b, path=()) -> None:
    """Equal JSON with equal types (1 and 1.0 differ)."""
    assert type(a) is type(b), (path, a, b)
    if isinstance(a, dict):
        assert list(a) == list(b), (path, list(a), list(b))
        for key in a:
            _same(a[key], b[key], (*path, key))
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, (*path, i))
    else:
        assert a == b, (path, a, b)


def _check(payload: dict, model) -> None:
    direct = json.loads(to_json(payload))
    _same(direct, json.loads(model.model_validate(payload).model_dump_json()))


def test_direct_encoding_equals_the_response_models(champion):
    engine = ScoringEngine(bundle=champion.bundle, version=champion.version)
    tables = champion.tables
    campaign_id = campaign_with_plans(tables)
    ids = tables["creators"]["creator_id"].tolist()[:3]
    for explain in (True, False):
        body = score_body(tables, ids, explain=explain)
        _check(engine.score_payload(CREATORS.validate_python(body["creators"]),
                                    explain=explain), ScoreResponse)
    body = score_body(tables, ids, campaign_id)
    _check(engine.score_payload(CREATORS.validate_python(body["creators"]), body["campaign"],
                                body["collaborations"]), ScoreResponse)
    body = rank_body(tables, campaign_id, budget=300.0, top_k=2)
    _check(engine.rank_payload(CREATORS.validate_python(body["creators"]), body["campaign"],
                               body["collaborations"], budget=300.0, top_k=2), RankResponse)
    accounts = records("audience_sample", tables["audience_sample"].head(20))
    _check(engine.audit_payload(accounts), AuditResponse)
