"""`creatorscore rank --out FILE.{csv,html,pdf}`: the page's shortlist without a server, the
same numbers as /rank (the engine's answer on the same tables). The PDF is read back with
poppler (pdftotext, pdftoppm) as a person would see it."""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from serving.engine import ScoringEngine
from serving.schemas import CreatorRecords
from tests.serving.helpers import campaign_with_plans, rank_body
from tests.serving.page_helpers import number, page_rows, same

POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm")
if not POPPLER and os.environ.get("CI"):
    raise RuntimeError("the PDF tests must run in CI: apt-get install poppler-utils")


@pytest.fixture(scope="module")
def ranked(champion, tmp_path_factory):
    """The three reports of one campaign, and the engine's /rank answer on the same tables."""
    root = tmp_path_factory.mktemp("rank_cli")
    tables = {k: v for k, v in champion.tables.items() if k != "authenticity_labels"}
    write_dataset(tables, root / "world")
    campaign_id = campaign_with_plans(tables, min_plans=4)
    plans = tables["collaborations"][tables["collaborations"]["campaign_id"] == campaign_id]
    budget = round(float(plans["cost"].sum()) / 3)
    runner = CliRunner()
    outputs = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
        for suffix in ("csv", "html", "pdf"):
            out = root / f"shortlist.{suffix}"
            result = runner.invoke(app, ["rank", "--data", str(root / "world"), "--campaign",
                                         campaign_id, "--budget", str(budget), "--objective",
                                         "conversions", "--out", str(out), "--explain", "3"])
            assert result.exit_code == 0, result.output
            assert f"campaign {campaign_id}" in result.output
            outputs[suffix] = out
    body = rank_body(tables, campaign_id, budget, top_k=len(plans))
    creators = TypeAdapter(list[CreatorRecords]).validate_python(body["creators"])
    answer = ScoringEngine(bundle=champion.bundle, version=champion.version).rank_payload(
        creators, body["campaign"], body["collaborations"], budget=budget, top_k=len(plans),
        objective="conversions")
    return {"outputs": outputs, "answer": answer, "campaign_id": campaign_id,
            "budget": budget, "root": root}


def test_csv_is_the_rank_answer(ranked):
    answer = ranked["answer"]
    with ranked["outputs"]["csv"].open() as handle:
        lines = list(csv.DictReader(handle))
    assert [line["creator_id"] for line in lines] == [r["creator_id"] for r in answer["ranking"]]
    assert [line["creator_id"] for line in lines if line["selected"] == "true"] == \
        answer["selection"]["creator_ids"]
    assert answer["selection"]["creator_ids"], "the budget selects some creators"
    top = {c["creator_id"]: c for c in answer["top"]}
    for line, entry in zip(lines, answer["ranking"], strict=True):
        scored = top[entry["creator_id"]]
        assert same(number(line["objective_value"]), entry["objective_value"])
        assert same(number(line["cost"]), entry["cost"])
        assert same(number(line["expected_conversions_high"]),
                    scored["conversion"]["expected_conversions"]["high"])
        assert same(number(line["predicted_roi"]),
                    scored["conversion"]["predicted_roi"]["estimate"])
        assert same(number(line["fake_share_low"]), scored["authenticity"]["fake_share"]["low"])
        assert line["verdict"] == scored["authenticity"]["verdict"] and line["verdict_reason"]
    spent = sum(number(line["cost"]) for line in lines if line["selected"] == "true")
    assert spent <= ranked["budget"]


def test_html_is_the_page_static_with_the_reasons(ranked):
    html = ranked["outputs"]["html"].read_text()
    rows, ids = page_rows(html)
    answer = ranked["answer"]
    assert [r["data-creator"] for r in rows] == [r["creator_id"] for r in answer["ranking"]]
    assert same(number(ids["spent"]["data-value"]), answer["selection"]["spent"])
    # Self-contained: no link to another origin, no server route; three creators explained.
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert 'id="export-csv"' not in html
    for entry in answer["ranking"][:3]:
        assert f'id="creator-{entry["creator_id"]}"' in html
    assert html.count('<table class="waterfall">') == 3


@pytest.mark.skipif(not POPPLER, reason="pdftotext / pdftoppm (poppler-utils) not installed")
def test_pdf_is_one_readable_page(ranked):
    pdf = ranked["outputs"]["pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, flags=re.MULTILINE), info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    answer = ranked["answer"]
    assert f"campaign {ranked['campaign_id']}" in text
    assert f"Selected {len(answer['selection']['creator_ids'])} of {len(answer['ranking'])}" \
        in text
    for creator_id in answer["selection"]["creator_ids"]:
        line = next(row for row in text.splitlines() if creator_id in row)
        assert line.rstrip().endswith("yes")  # marked selected in its row
    prefix = ranked["root"] / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(prefix)], check=True)
    pages = sorted(ranked["root"].glob("page*.png"))
    assert len(pages) == 1 and pages[0].stat().st_size > 5_000


def test_rank_refuses_bad_input_in_words(champion, tmp_path):
    runner = CliRunner()
    write_dataset({k: v for k, v in champion.tables.items() if k != "authenticity_labels"},
                  tmp_path / "world")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
        wrong_format = runner.invoke(app, ["rank", "--data", str(tmp_path / "world"),
                                           "--campaign", "x", "--budget", "10", "--out",
                                           str(tmp_path / "out.docx")])
        assert wrong_format.exit_code == 2 and ".docx" in wrong_format.output
        unknown = runner.invoke(app, ["rank", "--data", str(tmp_path / "world"), "--campaign",
                                      "no-such-campaign", "--budget", "10", "--out",
                                      str(tmp_path / "out.csv")])
        assert unknown.exit_code == 1 and "no-such-campaign" in unknown.output
        assert "Traceback" not in unknown.output
