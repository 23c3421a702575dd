"""`creatorscore example-request`: a /score body from a dataset directory the service accepts;
`creatorscore score` and `features` over a dataset read in pieces of creators."""
from __future__ import annotations

import json
import tempfile
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from data.loader import load_dataset
from data.validation import ContractError
from features import FeaturePipeline, build_feature_frames
from models.bundle import campaign_plans
from models.follower_account import RuleBasedFollowerScorer
from tests.serving.helpers import campaign_with_plans


@pytest.fixture
def pieces_tmp(tmp_path, monkeypatch):
    """A TMPDIR of its own, to see the pieces' files left there (none, after every command)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    return folder


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


def _words(text: str) -> str:
    """Text with its line breaks (the console wraps long lines) as single spaces."""
    return " ".join(text.split())


def _dataset_with_a_late_problem(champion, directory):
    """The champion's world with a bad value in the last posts row and an orphan post."""
    tables = {name: frame.astype(object) for name, frame in champion.tables.items()}
    last = len(tables["posts"]) - 1
    tables["posts"].loc[last, "likes"] = "plenty"
    tables["posts"].loc[3, "creator_id"] = "nobody"
    write_dataset(tables, directory)
    return last


@pytest.mark.parametrize("chunk", ["7", "100000"])
def test_score_in_pieces_equals_scoring_the_loaded_dataset(champion, tmp_path, monkeypatch,
                                                           chunk, pieces_tmp):
    """`creatorscore score` (Arrow tables, validated and scored piece by piece): the rows of
    scoring the whole loaded dataset, with and without a campaign; contract problems are
    reported with the file's rows, as loading the whole dataset reports them."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
    data = tmp_path / "world"
    write_dataset(champion.tables, data)
    ds = load_dataset(data)
    runner = CliRunner()
    for campaign in (None, campaign_with_plans(champion.tables)):
        out = tmp_path / f"scores_{campaign}.parquet"
        args = ["score", "--data", str(data), "--out", str(out), "--chunk-creators", chunk]
        result = runner.invoke(app, args + (["--campaign", campaign] if campaign else []))
        assert result.exit_code == 0, result.output
        expected = champion.bundle.score_table(ds, campaign_id=campaign,
                                               collaborations=campaign_plans(ds, campaign))
        pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)
        assert not any(pieces_tmp.iterdir())

    broken = tmp_path / "broken"
    last = _dataset_with_a_late_problem(champion, broken)
    with pytest.raises(ContractError) as whole:
        load_dataset(broken)
    out = tmp_path / "broken.parquet"
    result = runner.invoke(app, ["score", "--data", str(broken), "--out", str(out),
                                 "--chunk-creators", chunk])
    assert result.exit_code == 1 and not out.exists()
    assert _words(whole.value.report()) in _words(result.output)
    assert f"row {last + 1} ('plenty')" in _words(result.output)
    assert not any(pieces_tmp.iterdir())


def test_features_in_pieces_equal_the_features_of_the_loaded_dataset(champion, tmp_path,
                                                                     pieces_tmp):
    data = tmp_path / "world"
    write_dataset(champion.tables, data)
    ds = load_dataset(data)
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    expected = build_feature_frames(ds, pipeline)
    runner = CliRunner()
    out = tmp_path / "features.parquet"
    result = runner.invoke(app, ["features", "--data", str(data), "--out", str(out),
                                 "--chunk-creators", "9"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected["creators"])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "features_collaborations.parquet"),
                                  expected["collaborations"])
    assert not any(pieces_tmp.iterdir())

    broken = tmp_path / "broken"
    last = _dataset_with_a_late_problem(champion, broken)
    with pytest.raises(ContractError) as whole:
        load_dataset(broken)
    result = runner.invoke(app, ["features", "--data", str(broken), "--out",
                                 str(tmp_path / "broken.parquet"), "--chunk-creators", "9"])
    assert result.exit_code == 1 and not (tmp_path / "broken.parquet").exists()
    assert _words(whole.value.report()) in _words(result.output)
    assert f"row {last + 1} ('plenty')" in _words(result.output)
    assert not any(pieces_tmp.iterdir())


def test_score_reports_a_missing_champion_before_the_data_it_read_meanwhile(
        champion, tmp_path, monkeypatch, pieces_tmp):
    """`score` reads the files while the champion loads: without a champion, the one-line
    champion message and exit 1, as before, never the data's problems or a traceback; with
    one, the data's problems (the test above)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    broken = tmp_path / "broken"
    _dataset_with_a_late_problem(champion, broken)
    result = CliRunner().invoke(app, ["score", "--data", str(broken), "--out",
                                      str(tmp_path / "scores.parquet")])
    assert result.exit_code == 1
    assert "no champion model yet" in result.output
    assert "data contract" not in result.output and "Traceback" not in result.output
    # The dataset read meanwhile is not used: its pieces' files go once its reading ends.
    waited = 0.0
    while any(pieces_tmp.iterdir()) and waited < 30:
        time.sleep(0.1)
        waited += 0.1
    assert not any(pieces_tmp.iterdir())
