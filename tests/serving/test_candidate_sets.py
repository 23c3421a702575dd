"""Re-ranks by candidate set name (serving.candidate_sets): the same answer as sending the
candidates again, shared by workers through the store, never for another model or other data,
and a clear 422 when a set is not kept."""
from __future__ import annotations

import json
import os

import pytest
from pydantic import TypeAdapter

from serving import engine as engine_module
from serving.candidate_sets import CandidateSetStore
from serving.config import ServingConfig
from serving.engine import ScoringEngine
from serving.errors import RequestError
from serving.schemas import CampaignRecord, CreatorRecords, PlannedCollaboration
from store.registry import CHECKSUM_TAG
from tests.serving.helpers import campaign_with_plans, rank_body

CREATORS = TypeAdapter(list[CreatorRecords])


def _engine(champion, directory, checksum: str | None = "a" * 64) -> ScoringEngine:
    tags = {} if checksum is None else {CHECKSUM_TAG: checksum}
    return ScoringEngine(bundle=champion.bundle, version=champion.version,
                         config=ServingConfig(candidate_dir=str(directory), candidate_sets=4),
                         version_tags=tags)


def _candidates(body) -> dict:
    return {"creators": CREATORS.validate_python(body["creators"]),
            "campaign": TypeAdapter(CampaignRecord).validate_python(body["campaign"]),
            "collaborations": TypeAdapter(list[PlannedCollaboration]).validate_python(
                body["collaborations"])}


def _store(directory, engine) -> CandidateSetStore:
    return CandidateSetStore(directory, 4, scope=engine.cache.version)


@pytest.fixture
def body(champion):
    return rank_body(champion.tables, campaign_with_plans(champion.tables), budget=500.0)


def _problems(call) -> list[dict]:
    with pytest.raises(RequestError) as raised:
        call()
    assert raised.value.status == 422
    return raised.value.body()["detail"]


def test_a_rerank_by_name_equals_sending_the_candidates_again(champion, body, tmp_path):
    engine = _engine(champion, tmp_path)
    first = engine.rank_payload(**_candidates(body), budget=500.0)
    name = first["candidate_set"]
    for budget, objective, top_k in ((5_000.0, "roi", 3), (50.0, "conversions", 2)):
        by_name = engine.rank_payload(candidate_set=name, budget=budget, objective=objective,
                                      top_k=top_k)
        again = _engine(champion, tmp_path / "other").rank_payload(
            **_candidates(body), budget=budget, objective=objective, top_k=top_k)
        assert json.dumps(by_name, sort_keys=True) == json.dumps(again, sort_keys=True)


def test_another_worker_ranks_a_set_by_name_without_validating_it(champion, body, tmp_path,
                                                                  monkeypatch):
    name = _engine(champion, tmp_path).rank_payload(**_candidates(body),
                                                    budget=500.0)["candidate_set"]
    assert len(CandidateSetStore(tmp_path, 4, b"")) == 1
    expected = _engine(champion, tmp_path / "fresh").rank_payload(**_candidates(body),
                                                                  budget=900.0, top_k=2)

    def refuse(*args, **kwargs):
        raise AssertionError("a kept set is not validated again")

    monkeypatch.setattr(engine_module, "build_request_data", refuse)
    other_worker = _engine(champion, tmp_path)
    assert other_worker.rank_payload(candidate_set=name, budget=900.0, top_k=2) == expected
    # The store's set is now in the worker's own cache too.
    assert other_worker.cache.get_request(bytes.fromhex(name)) is not None


def test_a_set_is_never_ranked_by_another_model_or_without_a_checksum(champion, body,
                                                                      tmp_path):
    name = _engine(champion, tmp_path).rank_payload(**_candidates(body),
                                                    budget=500.0)["candidate_set"]
    for other in (_engine(champion, tmp_path, checksum="b" * 64),
                  _engine(champion, tmp_path, checksum=None)):
        detail = _problems(lambda other=other: other.rank_payload(candidate_set=name,
                                                                  budget=500.0))
        assert detail[0]["loc"] == ["candidate_set"]
        assert detail[0]["type"] == "unknown_candidate_set"
    # Without a checksum, sets stay in the worker's memory: still ranked there by name.
    alone = _engine(champion, tmp_path / "none", checksum=None)
    own = alone.rank_payload(**_candidates(body), budget=500.0)["candidate_set"]
    assert alone.rank_payload(candidate_set=own, budget=800.0)["candidate_set"] == own
    assert not (tmp_path / "none").exists()


def test_requests_that_name_no_candidates_or_two_kinds_get_a_clear_422(champion, body,
                                                                       tmp_path):
    engine = _engine(champion, tmp_path)
    missing = _problems(lambda: engine.rank_payload(budget=10.0))
    assert [p["loc"] for p in missing] == [["campaign"], ["creators"], ["collaborations"]]
    assert all(p["type"] == "missing" for p in missing)
    both = _problems(lambda: engine.rank_payload(**_candidates(body), budget=1.0,
                                                 candidate_set="0" * 32))
    assert both[0]["type"] == "conflict" and "creators" in both[0]["msg"]
    for bad in ("XYZ", "0" * 31, "../" + "0" * 29):
        assert _problems(lambda bad=bad: engine.rank_payload(
            candidate_set=bad, budget=1.0))[0]["type"] == "invalid"
    unknown = _problems(lambda: engine.rank_payload(candidate_set="f" * 32, budget=1.0))
    assert unknown[0]["type"] == "unknown_candidate_set"
    assert "campaign, creators and collaborations again" in unknown[0]["msg"]


def test_the_store_keeps_the_most_recently_used_sets_and_drops_damaged_ones(champion, body,
                                                                           tmp_path):
    engine = _engine(champion, tmp_path)
    kept = engine.cache.get_request(bytes.fromhex(engine.rank_payload(
        **_candidates(body), budget=500.0)["candidate_set"]))
    store = CandidateSetStore(tmp_path / "small", max_sets=2, scope=engine.cache.version)
    names = [f"{i:032x}" for i in range(2)]
    for age, name in enumerate(names):
        store.put(name, kept)
        os.utime(store._path(name), (1_000 + age, 1_000 + age))
    store.get(names[0])  # used: now the most recent
    store.put("f" * 32, kept)
    assert {p.name for p in (tmp_path / "small").iterdir()} == {
        store._path(names[0]).name, store._path("f" * 32).name}
    store._path(names[0]).write_bytes(b"not a pickle")
    assert store.get(names[0]) is None and not store._path(names[0]).exists()
    assert (tmp_path / "small").stat().st_mode & 0o777 == 0o700


def test_a_directory_others_can_write_is_never_read(champion, body, tmp_path):
    engine = _engine(champion, tmp_path)
    name = engine.rank_payload(**_candidates(body), budget=500.0)["candidate_set"]
    tmp_path.chmod(0o777)
    try:
        assert _store(tmp_path, engine).get(name) is None
    finally:
        tmp_path.chmod(0o700)
    assert _store(tmp_path, engine).get(name) is not None


def test_over_http_a_rerank_by_name_answers_as_a_full_request(client, champion):
    body = rank_body(champion.tables, campaign_with_plans(champion.tables), budget=500.0)
    first = client.post("/rank", json=body)
    assert first.status_code == 200
    name = first.json()["candidate_set"]
    again = client.post("/rank", json=dict(body, budget=2_000.0))
    by_name = client.post("/rank", json={"candidate_set": name, "budget": 2_000.0,
                                         "top_k": body["top_k"]})
    assert by_name.status_code == 200 and by_name.json() == again.json()
    nothing = client.post("/rank", json={"budget": 2_000.0})
    assert nothing.status_code == 422
    assert [p["loc"] for p in nothing.json()["detail"]] == [
        ["campaign"], ["creators"], ["collaborations"]]
    unknown = client.post("/rank", json={"candidate_set": "e" * 32, "budget": 1.0})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["type"] == "unknown_candidate_set"
