"""Request bodies built from a synthetic world's contract tables; the service on a free port."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pandas as pd
import pytest

from serving.payloads import campaign_record, collaboration_plans, creator_records
from tests.processes import free_port, wait_until_up


def campaign_with_plans(tables: dict[str, pd.DataFrame], min_plans: int = 3) -> str:
    """A campaign of the world with at least `min_plans` collaborations."""
    counts = tables["collaborations"]["campaign_id"].value_counts()
    eligible = counts[counts >= min_plans]
    return str(eligible.index[0])


def score_body(tables, creator_ids, campaign_id: str | None = None, explain: bool = True) -> dict:
    body: dict = {"creators": creator_records(tables, creator_ids), "explain": explain}
    if campaign_id is not None:
        body["campaign"] = campaign_record(tables, campaign_id)
        body["collaborations"] = collaboration_plans(tables, campaign_id, creator_ids)
    return body


def rank_body(tables, campaign_id: str, budget: float, top_k: int = 3) -> dict:
    plans = collaboration_plans(tables, campaign_id)
    ids = [p["creator_id"] for p in plans]
    return {"campaign": campaign_record(tables, campaign_id),
            "creators": creator_records(tables, ids), "collaborations": plans,
            "budget": budget, "top_k": top_k}


@contextmanager
def running_service(env: Mapping[str, str], ready_within: float = 180) -> Iterator[str]:
    """The BentoML service on a free localhost port, its worker started with `env` (tracking
    URI, API key, ...), once /readyz answers; yields its URL and stops it after."""
    import bentoml

    from serving.service import CreatorScore

    port = free_port()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {"BENTOML_DO_NOT_TRACK": "true", **env}.items():
            monkeypatch.setenv(name, value)  # the worker process inherits these
        server = bentoml.serve(CreatorScore, host="127.0.0.1", port=port)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/readyz", timeout=ready_within)
            yield url
        finally:
            server.stop()
