"""Request bodies built from a synthetic world's contract tables."""
from __future__ import annotations

import pandas as pd

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
