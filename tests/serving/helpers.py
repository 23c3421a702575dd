"""Request bodies built from a synthetic world's contract tables; the service on a free port."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx
import pandas as pd
import pytest

from serving.payloads import campaign_record, collaboration_plans, creator_records


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
            deadline = time.monotonic() + ready_within
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not become ready within "
                                       f"{ready_within:.0f} s")
                time.sleep(0.5)
            yield url
        finally:
            server.stop()
