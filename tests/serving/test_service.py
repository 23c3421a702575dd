"""The service in process (Starlette TestClient over the BentoML ASGI app): routes, parity with
`ScoringBundle.score` on the same tables read from disk, errors, limits and the API key."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from starlette.testclient import TestClient

from data.io import write_dataset
from data.loader import load_dataset
from tests.serving.helpers import campaign_with_plans, rank_body, score_body


def _close(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None) and (b is None or math.isnan(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_health_routes(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    # /metrics needs the server's Prometheus multiprocess setup: tested over HTTP.


def test_score_equals_cli_scores_on_the_same_tables(client, champion, tmp_path):
    tables = champion.tables
    ids = tables["creators"]["creator_id"].tolist()[:6]
    response = client.post("/score", json=score_body(tables, ids))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["creator_id"] for c in body["creators"]] == ids

    # `creatorscore score` path: tables on disk, load_dataset, ScoringBundle.score.
    subset = {name: frame[frame["creator_id"].isin(ids)] if "creator_id" in frame else frame
              for name, frame in tables.items()
              if name in ("creators", "posts", "follower_history", "audience_sample", "comments")}
    write_dataset(subset, tmp_path)
    expected = champion.bundle.score(load_dataset(tmp_path)).table.set_index("creator_id")
    for creator in body["creators"]:
        row = expected.loc[creator["creator_id"]]
        assert _close(creator["engagement"]["engagement_rate"], row["engagement_rate"])
        assert _close(creator["engagement"]["percentile"], row["engagement_percentile"])
        assert _close(creator["authenticity"]["fake_follower_risk"], row["fake_follower_risk"])
        assert _close(creator["authenticity"]["fake_share"]["estimate"], row["fake_share"])
        assert _close(creator["authenticity"]["fake_share"]["high"], row["fake_share_high"])
        assert _close(creator["authenticity"]["audience_quality"], row["audience_quality"])
        assert creator["conversion"] is None
    assert body["provenance"]["model_version"] == f"creatorscore/{champion.version}"
    assert body["provenance"]["feature_version"]


def test_score_with_campaign_equals_bundle_and_explains(client, champion, tmp_path):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables)
    plans = tables["collaborations"][tables["collaborations"]["campaign_id"] == campaign_id]
    ids = plans["creator_id"].tolist()
    response = client.post("/score", json=score_body(tables, ids, campaign_id))
    assert response.status_code == 200, response.text
    body = response.json()

    write_dataset(tables, tmp_path)
    ds = load_dataset(tmp_path)
    expected = champion.bundle.score(ds, campaign_id=campaign_id,
                                     collaborations=plans[["campaign_id", "creator_id",
                                                           "compensation", "cost"]],
                                     explain=True).table.set_index("creator_id")
    for creator in body["creators"]:
        row = expected.loc[creator["creator_id"]]
        conversion = creator["conversion"]
        assert conversion["campaign_id"] == campaign_id
        assert _close(conversion["expected_conversions"]["estimate"],
                      row["expected_conversions"])
        assert _close(conversion["predicted_roi"]["estimate"], row["predicted_roi"])
        assert _close(creator["niche"]["fit"], row["niche_fit"])
        models = {m["model"] for m in creator["explanations"]}
        assert "conversions" in models
        for model in creator["explanations"]:
            for family in model["families"]:
                assert family["family"] in ("engagement", "authenticity", "niche", "campaign")
                for item in family["contributions"]:
                    assert item["text"] and item["label"] and item["direction"] in ("up", "down")


def test_nested_creator_id_is_filled_and_conflicts_are_reported(client, champion):
    tables = champion.tables
    creator_id = tables["creators"]["creator_id"].iloc[0]
    body = score_body(tables, [creator_id], explain=False)
    body["creators"][0]["posts"][2]["creator_id"] = "someone-else"
    response = client.post("/score", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["creators", 0, "posts", 2, "creator_id"]


def test_rank_selects_within_budget_and_explains_top_k(client, champion):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables)
    plans = tables["collaborations"][tables["collaborations"]["campaign_id"] == campaign_id]
    budget = float(plans["cost"].sum() / 2)
    response = client.post("/rank", json=rank_body(tables, campaign_id, budget, top_k=2))
    assert response.status_code == 200, response.text
    body = response.json()
    selection = body["selection"]
    assert selection["spent"] <= budget + 1e-9
    cost = dict(zip(plans["creator_id"], plans["cost"], strict=True))
    assert math.isclose(sum(cost[c] for c in selection["creator_ids"]), selection["spent"])
    scores = [r["objective_value"] for r in body["ranking"]]
    finite = [s for s in scores if s is not None]
    assert finite == sorted(finite, reverse=True)
    assert len(body["top"]) == 2
    assert [t["creator_id"] for t in body["top"]] == [r["creator_id"] for r in body["ranking"][:2]]
    assert all(t["explanations"] for t in body["top"])


def test_rank_needs_a_plan_for_every_creator(client, champion):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables)
    body = rank_body(tables, campaign_id, 1_000.0)
    body["collaborations"] = body["collaborations"][1:]
    response = client.post("/rank", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["creators", 0, "profile", "creator_id"]


def test_audit_followers(client, champion):
    from serving.payloads import records

    accounts = records("audience_sample", champion.tables["audience_sample"].head(80),
                       drop=("creator_id",))
    response = client.post("/audit_followers", json={"accounts": accounts})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["accounts"]) == 80
    assert all(0 <= a["fake_probability"] <= 1 for a in body["accounts"])
    assert math.isclose(sum(body["class_shares"].values()), 1.0)
    share = body["fake_share"]
    assert share["low"] <= share["high"]
    assert body["provenance"]["model_version"]


def test_model_info_get_and_post(client, champion):
    from features import FEATURES

    for response in (client.get("/model_info"), client.post("/model_info", json={})):
        assert response.status_code == 200, response.text
        info = response.json()
        assert info["provenance"]["model_version"] == f"creatorscore/{champion.version}"
        assert {f["name"] for f in info["features"]} == set(FEATURES)
        assert "conversions" in info["models"]
        assert info["training_metrics"], "the champion's run metrics are reported"


# One validation boundary: a body that is not the request's JSON shape is a 400; every
# contract problem (type, range, vocabulary, date) is a 422 from the contract validator.
@pytest.mark.parametrize("mutate, status, loc", [
    (lambda b: b["creators"][0].pop("profile"), 400, ["creators", 0, "profile"]),
    (lambda b: b["creators"][0].update(posts="none"), 400, ["creators", 0, "posts"]),
    (lambda b: b["creators"][0]["posts"][1].update(likes=[1, 2]), 422,
     ["creators", 0, "posts", 1, "likes"]),
    (lambda b: b["creators"][0]["profile"].update(followers=-3), 422,
     ["creators", 0, "profile", "followers"]),
    (lambda b: b["creators"][0]["posts"][1].update(likes="many"), 422,
     ["creators", 0, "posts", 1, "likes"]),
    (lambda b: b["creators"][0]["profile"].update(followers=2**60), 422,
     ["creators", 0, "profile", "followers"]),
    (lambda b: b["creators"][0]["profile"].pop("followers"), 422,
     ["creators", 0, "profile", "followers"]),
    (lambda b: b["creators"][0]["profile"].update(platform="myspace"), 422,
     ["creators", 0, "profile", "platform"]),
    (lambda b: b["creators"][0]["posts"][4].update(posted_at="yesterday"), 422,
     ["creators", 0, "posts", 4, "posted_at"]),
    (lambda b: b.update(top_n=0), 422, ["top_n"]),
])
def test_bad_input_gets_4xx_with_the_field_path(client, champion, mutate, status, loc):
    tables = champion.tables
    body = score_body(tables, tables["creators"]["creator_id"].tolist()[:1], explain=False)
    mutate(body)
    response = client.post("/score", json=body)
    assert response.status_code == status, response.text
    locs = [list(d["loc"]) for d in response.json()["detail"]]
    assert any(found[-len(loc):] == loc for found in locs), locs


def test_limits_are_answered_with_413(client, champion):
    tables = champion.tables
    body = score_body(tables, tables["creators"]["creator_id"].tolist()[:1], explain=False)
    post = dict(body["creators"][0]["posts"][0])
    body["creators"][0]["posts"] = [dict(post, post_id=f"p{i}") for i in range(41)]
    response = client.post("/score", json=body)
    assert response.status_code == 413
    assert response.json()["detail"][0]["loc"] == ["creators", 0, "posts"]
    assert "CREATORSCORE_MAX_POSTS_PER_CREATOR" in response.json()["detail"][0]["msg"]

    many = {"creators": [body["creators"][0]] * 301}
    response = client.post("/score", json=many)
    assert response.status_code == 413 and response.json()["detail"][0]["loc"] == ["creators"]


def test_malformed_and_non_json_bodies(client):
    response = client.post("/score", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = client.post("/score", content=b"creators=1",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415


def test_guard_middleware_key_media_type_and_body_size():
    """The guard in front of the routes (the served app is tested over HTTP, test_http.py)."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from serving.config import ServingConfig
    from serving.middleware import GuardMiddleware

    async def echo(request):
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(routes=[Route(p, echo, methods=["GET", "POST"])
                            for p in ("/score", "/model_info", "/readyz", "/livez")])
    guarded = GuardMiddleware(app, ServingConfig(api_key="s3cret", max_body_bytes=1_000))
    with TestClient(guarded) as client:
        assert client.post("/score", json={}).status_code == 401
        assert client.post("/score", json={}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/model_info").status_code == 401
        ok = client.post("/score", content=b"{}", headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200 and ok.text == "2"
        bearer = client.post("/score", content=b"{}", headers={"Authorization": "Bearer s3cret"})
        assert bearer.status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/livez").status_code == 200
        key = {"X-API-Key": "s3cret"}
        big = client.post("/score", content=b" " * 1_001, headers=key)
        assert big.status_code == 413 and big.json()["detail"][0]["loc"] == ["body"]

        def chunks():  # no Content-Length: counted while read
            for _ in range(3):
                yield b" " * 400

        assert client.post("/score", content=chunks(), headers=key).status_code == 413
        text = client.post("/score", content=b"x", headers={**key, "content-type": "text/csv"})
        assert text.status_code == 415


def test_engine_scores_without_bentoml(champion):
    """The engine is plain Python: same numbers as the bundle, no server needed."""
    from pydantic import TypeAdapter

    from serving.engine import ScoringEngine
    from serving.schemas import CreatorRecords

    tables = champion.tables
    ids = tables["creators"]["creator_id"].tolist()[10:13]
    creators = TypeAdapter(list[CreatorRecords]).validate_python(
        score_body(tables, ids)["creators"])
    answer = ScoringEngine(bundle=champion.bundle, version=champion.version).score(
        creators, explain=False)
    risks = np.array([c.authenticity.fake_follower_risk for c in answer.creators])
    assert np.isfinite(risks).all() and ((risks >= 0) & (risks <= 1)).all()


def test_duplicate_snapshots_with_an_unreadable_date_get_422(client, champion):
    tables = champion.tables
    body = score_body(tables, tables["creators"]["creator_id"].tolist()[:1], explain=False)
    body["creators"][0]["follower_history"] = [{"date": "2024-13-01", "followers": 10},
                                               {"date": "2024-13-01", "followers": 11}]
    response = client.post("/score", json=body)
    assert response.status_code == 422, response.text


def test_light_requests_run_inline_and_heavy_ones_on_the_engine_thread(client, champion,
                                                                       monkeypatch):
    """The event loop scores a light request itself, a thread a heavy one (serving.service):
    the same answer either way, and the measure of light is the creators' JSON size."""
    import msgspec

    from serving import service
    from serving.request_body import JSONCreators

    tables = champion.tables
    body = score_body(tables, tables["creators"]["creator_id"].tolist()[:3])
    raws = [msgspec.Raw(msgspec.json.encode(c)) for c in body["creators"]]
    creators = JSONCreators(raws, reparse=list)
    assert service.is_light(creators)
    assert service.is_light(None)
    assert not service.is_light(body["creators"])  # parsed by pydantic: not measured
    assert not service.is_light(creators, [{}] * (service.INLINE_MAX_COLLABORATIONS + 1))
    monkeypatch.setattr(service, "INLINE_MAX_BYTES", creators.raw_bytes - 1)
    assert not service.is_light(creators)

    ran_on: list[str] = []
    respond = service._respond

    def recording(call, headers=None):
        ran_on.append(threading.current_thread().name)
        return respond(call, headers)

    monkeypatch.setattr(service, "_respond", recording)
    answers = {}
    for limit in (10**9, 0):
        monkeypatch.setattr(service, "INLINE_MAX_BYTES", limit)
        response = client.post("/score", json=body)
        assert response.status_code == 200, response.text
        answers[limit] = response.json()
    assert answers[10**9] == answers[0]
    inline_thread, engine_thread = ran_on
    assert inline_thread != engine_thread  # the loop's thread, then a worker thread


class _Cyclic:
    """Stands for an engine: its objects hold reference cycles, as a loaded model's do."""

    def __init__(self):
        self.me = self


def test_settle_heap_freezes_what_is_alive_and_frees_a_replaced_engine():
    """The objects alive at settle_heap() are left out of full collections (a frozen heap:
    one costs ~0 instead of ~190 ms after loading an engine); the next call, after a swap,
    collects the replaced engine's cycles before freezing again."""
    import gc
    import weakref

    from serving.service import settle_heap

    old = _Cyclic()
    gone = weakref.ref(old)
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        del old
        gc.collect()
        assert gone() is not None  # frozen: a full collection does not walk it
        settle_heap()  # (after a swap)
        assert gone() is None
    finally:
        gc.unfreeze()
