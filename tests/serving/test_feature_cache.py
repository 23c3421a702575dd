"""The engine's feature cache: the same answers with and without it, rows reused across
requests, changed data never answered from the cache, lookups counted."""
from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from serving.config import ServingConfig
from serving.engine import ScoringEngine
from serving.schemas import CampaignRecord, CreatorRecords, PlannedCollaboration
from tests.serving.helpers import campaign_with_plans, rank_body, score_body

CREATORS = TypeAdapter(list[CreatorRecords])


def _engine(champion, **config) -> ScoringEngine:
    lookups = []
    engine = ScoringEngine(bundle=champion.bundle, version=champion.version,
                           config=ServingConfig(**config),
                           cache_observer=lambda *args: lookups.append(args))
    engine.lookups = lookups
    return engine


def _score(engine, body):
    campaign = body.get("campaign")
    plans = body.get("collaborations")
    return engine.score_payload(
        CREATORS.validate_python(body["creators"]),
        None if campaign is None else TypeAdapter(CampaignRecord).validate_python(campaign),
        None if plans is None else TypeAdapter(list[PlannedCollaboration]).validate_python(
            plans), explain=body.get("explain", True))


def _json(payload) -> str:
    return json.dumps(payload, sort_keys=True, default=str)


@pytest.mark.parametrize("with_campaign", [False, True])
def test_cached_answers_equal_fresh_ones(champion, with_campaign):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables) if with_campaign else None
    ids = (tables["collaborations"].query("campaign_id == @campaign_id")["creator_id"].tolist()
           if with_campaign else tables["creators"]["creator_id"].tolist()[:8])[:6]
    first, second = score_body(tables, ids[:4], campaign_id), score_body(tables, ids[2:],
                                                                            campaign_id)
    engine = _engine(champion)
    _score(engine, first)
    again = _score(engine, first)  # the whole request from the cache
    overlap = _score(engine, second)  # two creators' rows from the cache, two computed
    assert _json(again) == _json(_score(_engine(champion), first))
    assert _json(overlap) == _json(_score(_engine(champion), second))
    assert ("request", 1, 0) in engine.lookups
    rows = [(hits, misses) for name, hits, misses in engine.lookups if name == "creator_features"]
    assert rows[-1] == (2, 2)


def test_changed_records_are_scored_again(champion):
    tables = champion.tables
    ids = tables["creators"]["creator_id"].tolist()[:3]
    body = score_body(tables, ids)
    engine = _engine(champion)
    before = _score(engine, body)
    body["creators"][1]["posts"][0]["likes"] = body["creators"][1]["posts"][0]["likes"] * 50 + 999
    after = _score(engine, body)
    assert _json(after) == _json(_score(_engine(champion), body))
    assert _json(after["creators"][1]) != _json(before["creators"][1])
    assert _json(after["creators"][0]) == _json(before["creators"][0])


def _rank(engine, body):
    return engine.rank_payload(
        CREATORS.validate_python(body["creators"]),
        TypeAdapter(CampaignRecord).validate_python(body["campaign"]),
        TypeAdapter(list[PlannedCollaboration]).validate_python(body["collaborations"]),
        budget=body["budget"], top_k=body["top_k"])


def test_a_rerank_under_another_budget_reuses_the_scores(champion):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables)
    engine = _engine(champion)
    _rank(engine, rank_body(tables, campaign_id, 500.0))
    body = rank_body(tables, campaign_id, 5_000.0)
    rerank = _rank(engine, body)
    assert ("request", 1, 0) in engine.lookups
    assert _json(rerank) == _json(_rank(_engine(champion), body))
