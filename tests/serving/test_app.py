"""The brand manager's page in process: its numbers are /rank's and /score's answers on the same
input, bad uploads show the contract's problems, the API key is asked for once (never in a URL),
exports carry the same shortlist."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from serving.app import create_app
from serving.config import ServingConfig
from serving.engine import ScoringEngine
from tests.serving.helpers import campaign_with_plans, rank_body
from tests.serving.page_helpers import number, page_rows, same, world_zip

API_KEY = "page-key-456"


def _page_client(champion, **config) -> TestClient:
    settings = ServingConfig(**config)
    engine = ScoringEngine(bundle=champion.bundle, version=champion.version, config=settings)
    app = Starlette(routes=[Mount("/app", create_app(lambda: engine, settings, data_dirs=[]))])
    return TestClient(app)


def _upload(client, files) -> object:
    return client.post("/app/upload", files=[("files", f) for f in files])


def _rank(client, campaign_page_url: str, campaign_id: str, budget: float, **fields):
    return client.post(campaign_page_url + "/rank",
                       data={"campaign_id": campaign_id, "budget": str(budget),
                             "objective": "roi", **fields})


@pytest.fixture(scope="module")
def uploaded(champion, tmp_path_factory):
    """The test world uploaded as a zip through the service's own page (the `client`
    fixture: the BentoML app with /app mounted)."""
    return world_zip(champion.tables, tmp_path_factory.mktemp("page_world"))


@pytest.mark.parametrize("objective", ["roi", "conversions"])
def test_page_shortlist_is_the_rank_answer(client, champion, uploaded, objective):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables, min_plans=4)
    plans = tables["collaborations"][tables["collaborations"]["campaign_id"] == campaign_id]
    budget = float(plans["cost"].sum()) / 2

    response = _upload(client, [("world.zip", uploaded, "application/zip")])
    assert response.status_code == 200, response.text
    assert campaign_id in response.text and "Choose the campaign" in response.text
    page = _rank(client, str(response.url.path), campaign_id, budget, objective=objective)
    assert page.status_code == 200, page.text
    assert "Content-Security-Policy" in page.headers
    rows, ids = page_rows(page.text)

    body = {**rank_body(tables, campaign_id, budget, top_k=len(plans)),
            "objective": objective}
    api = client.post("/rank", json=body)
    assert api.status_code == 200, api.text
    answer = api.json()
    ranking = answer["ranking"]
    if objective == "conversions":
        assert answer["selection"]["creator_ids"], "the budget selects some creators"
    assert [r["data-creator"] for r in rows] == [r["creator_id"] for r in ranking]
    assert [r["data-selected"] == "1" for r in rows] == [r["selected"] for r in ranking]
    assert same(number(ids["spent"]["data-value"]), answer["selection"]["spent"])
    assert number(ids["spent"]["data-value"]) <= budget
    assert same(number(ids["selected-roi"]["data-value"]), answer["selection"]["expected_roi"])
    top = {c["creator_id"]: c for c in answer["top"]}
    for row, ranked in zip(rows, ranking, strict=True):
        scored = top[ranked["creator_id"]]
        assert same(number(row["data-cost"]), ranked["cost"])
        assert same(number(row["data-objective"]), ranked["objective_value"])
        assert same(number(row["data-roi"]),
                    scored["conversion"]["predicted_roi"]["estimate"])
        assert same(number(row["data-conversions"]),
                    scored["conversion"]["expected_conversions"]["estimate"])
        assert same(number(row["data-fake-share"]),
                    scored["authenticity"]["fake_share"]["estimate"])
        assert same(number(row["data-quality"]), scored["authenticity"]["audience_quality"])
        assert same(number(row["data-niche-fit"]), scored["niche"]["fit"])
        assert row["data-verdict"] == scored["authenticity"]["verdict"]

    # Exports: the same shortlist.
    link = str(page.url.path)
    exported = client.get(f"{link}/shortlist.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert [line["creator_id"] for line in lines] == [r["creator_id"] for r in ranking]
    for line, ranked in zip(lines, ranking, strict=True):
        assert same(number(line["objective_value"]), ranked["objective_value"])
        assert (line["selected"] == "true") == ranked["selected"]
    pdf = client.get(f"{link}/shortlist.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # The creator view: the /score answer for that creator, its waterfall ends on it.
    first = ranking[0]["creator_id"]
    view = client.get(f"{link}/creator/{first}")
    assert view.status_code == 200, view.text
    score = client.post("/score", json={
        "creators": body["creators"][[c["profile"]["creator_id"] for c in body["creators"]]
                                     .index(first):][:1],
        "campaign": body["campaign"],
        "collaborations": [p for p in body["collaborations"] if p["creator_id"] == first],
        "top_n": 20}).json()["creators"][0]
    _check_waterfall(view.text, score["conversion"]["expected_conversions"]["estimate"])
    assert same(score["conversion"]["predicted_roi"]["estimate"],
                top[first]["conversion"]["predicted_roi"]["estimate"])
    for chart in ("Waterfall of expected conversions", "Engagement rate", "Followers from",
                  "Audience sample by account class", "Top niches"):
        assert chart in view.text


def _check_waterfall(html: str, prediction: float) -> None:
    steps = re.findall(r'class="waterfall-step" data-after="([^"]*)" data-delta="([^"]*)" '
                       r'data-base="(\d)"', html)
    assert len(steps) >= 3, "base value, exposure and at least one family"
    base = [float(after) for after, _, is_base in steps if is_base == "1"]
    deltas = [float(delta) for _, delta, is_base in steps if is_base == "0"]
    assert len(base) == 1
    assert abs(base[0] + sum(deltas) - prediction) <= 1e-9 * max(1.0, prediction)
    total = float(re.search(r'class="waterfall-total" data-value="([^"]*)"', html).group(1))
    assert same(total, prediction)
    # Every family's exact total is listed: nothing is left to a "not listed" step.
    assert "Signals not listed" not in html


def test_request_json_upload_ranks_its_candidates(champion):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables, min_plans=3)
    body = rank_body(tables, campaign_id, 0)
    request = {k: body[k] for k in ("campaign", "creators", "collaborations")}
    with _page_client(champion) as client:
        response = _upload(client, [("request.json", json.dumps(request).encode(),
                                     "application/json")])
        assert response.status_code == 200, response.text
        page = _rank(client, str(response.url.path), campaign_id, 0, product_price="")
        assert page.status_code == 200, page.text
        rows, ids = page_rows(page.text)
        assert len(rows) == len(body["creators"])
        assert number(ids["spent"]["data-value"]) == 0.0  # no budget, nothing selected
        assert all(r["data-selected"] == "0" for r in rows)


@pytest.mark.parametrize("case", ["wrong_columns", "bad_values", "not_a_zip", "too_large",
                                  "unknown_file", "bad_json"])
def test_bad_uploads_show_the_problems_in_the_page(champion, tmp_path, case):
    tables = {k: v for k, v in champion.tables.items() if k != "authenticity_labels"}
    posts = tables["posts"].drop(columns="likes")
    creators = tables["creators"].copy()
    creators["followers"] = creators["followers"].astype(object)
    creators.loc[2, "followers"] = "lots"
    files, expected = {
        "wrong_columns": ({**tables, "posts": posts}, ["posts / likes", "missing"]),
        "bad_values": ({**tables, "creators": creators}, ["creators / followers / row 3",
                                                          "lots"]),
    }.get(case, (None, None)) if case in ("wrong_columns", "bad_values") else (None, None)
    limit = 10_000_000
    if files is not None:
        upload = [("world.zip", world_zip(files, tmp_path / "w"), "application/zip")]
    elif case == "not_a_zip":
        upload, expected = [("world.zip", b"this is text", "application/zip")], \
            ["world.zip", "not a zip file"]
    elif case == "too_large":
        upload, expected = [("world.zip", world_zip(tables, tmp_path / "w"),
                             "application/zip")], ["at most", "CREATORSCORE_MAX_BODY_BYTES"]
        limit = 10_000
    elif case == "unknown_file":
        upload, expected = [("notes.txt", b"hello", "text/plain")], \
            ["notes.txt", "not a contract table"]
    else:
        upload, expected = [("request.json", b"{not json", "application/json")], \
            ["request.json", "not valid JSON"]
    with _page_client(champion, max_body_bytes=limit) as client:
        response = _upload(client, upload)
    assert response.status_code in (413, 422)
    assert 'id="problems"' in response.text and "Traceback" not in response.text
    for text in expected:
        assert text in response.text, (text, response.text[:3000])


def test_bad_campaign_fields_are_named_and_the_form_kept(champion, uploaded):
    campaign_id = campaign_with_plans(champion.tables, min_plans=2)
    with _page_client(champion) as client:
        response = _upload(client, [("world.zip", uploaded, "application/zip")])
        page = _rank(client, str(response.url.path), campaign_id, "a lot",
                     product_price="cheap")
    assert page.status_code == 422
    assert "budget" in page.text and "a lot" in page.text and 'id="problems"' in page.text


def test_the_api_key_is_asked_once_and_never_in_a_url(champion):
    with _page_client(champion, api_key=API_KEY) as client:
        first = client.get("/app/")
        assert first.status_code == 401 and 'type="password"' in first.text
        assert 'method="post"' in first.text
        assert client.post("/app/upload", files=[("files", ("a.csv", b"x"))]).status_code == 401
        wrong = client.post("/app/login", data={"api_key": "nope"})
        assert wrong.status_code == 401 and "not this service's API key" in wrong.text
        signed = client.post("/app/login", data={"api_key": API_KEY})
        assert signed.status_code == 200 and "Rank creators for a campaign" in signed.text
        assert API_KEY not in str(signed.url) and API_KEY not in signed.text
        cookie = signed.history[0].headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        client.post("/app/logout")
        assert client.get("/app/").status_code == 401
