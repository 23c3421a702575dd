"""`creatorscore example-request`: a /score body from a dataset directory the service accepts."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from tests.serving.helpers import campaign_with_plans


def test_example_request_with_a_campaign_is_scored(client, champion, tmp_path):
    tables = champion.tables
    campaign_id = campaign_with_plans(tables, min_plans=2)
    planned = tables["collaborations"].loc[
        tables["collaborations"]["campaign_id"] == campaign_id, "creator_id"].tolist()
    write_dataset(tables, tmp_path / "world")
    out = tmp_path / "request.json"
    n = len(set(planned)) + 1  # every planned creator, then one unplanned
    result = CliRunner().invoke(app, ["example-request", "--data", str(tmp_path / "world"),
                                      "--campaign", campaign_id, "--creators", str(n),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    ids = [c["profile"]["creator_id"] for c in body["creators"]]
    assert len(ids) == n and len(set(ids)) == n
    assert set(ids[:-1]) == set(planned) and ids[-1] not in planned
    assert body["campaign"]["campaign_id"] == campaign_id
    assert {p["creator_id"] for p in body["collaborations"]} == set(planned)

    response = client.post("/score", json=body)
    assert response.status_code == 200, response.text
    scored = response.json()["creators"]
    assert [c["creator_id"] for c in scored] == ids
    assert all(c["conversion"]["campaign_id"] == campaign_id for c in scored)
    assert scored[0]["conversion"]["predicted_roi"]["estimate"] is not None
    assert scored[-1]["conversion"]["cost"] is None  # unplanned: cost unknown


def test_example_request_without_campaign_and_unknown_campaign(champion, tmp_path):
    write_dataset({k: v for k, v in champion.tables.items() if k != "authenticity_labels"},
                  tmp_path / "world")
    runner = CliRunner()
    result = runner.invoke(app, ["example-request", "--data", str(tmp_path / "world"),
                                 "--creators", "2"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [c["profile"]["creator_id"] for c in body["creators"]] == \
        champion.tables["creators"]["creator_id"].tolist()[:2]
    assert "campaign" not in body and all(c["posts"] for c in body["creators"])
    result = runner.invoke(app, ["example-request", "--data", str(tmp_path / "world"),
                                 "--campaign", "no-such-campaign"])
    assert result.exit_code == 2 and "no-such-campaign" in result.output
