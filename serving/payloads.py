"""Contract tables -> request bodies: the inverse of serving.convert.

Used by the tests (parity with `creatorscore score` on the same tables), the benchmark script
and anyone who holds a dataset directory and wants to call the service.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from data.records import records

NESTED = ("posts", "follower_history", "audience_sample", "comments")


def creator_records(tables: dict[str, pd.DataFrame], creator_ids: Sequence[str] | None = None,
                    include_creator_id: bool = False) -> list[dict]:
    """One `{"profile", "posts", ...}` object per creator, in `creator_ids` order."""
    creators = tables["creators"]
    if creator_ids is None:
        creator_ids = creators["creator_id"].tolist()
    wanted = pd.Index(list(creator_ids))
    profiles = creators.set_index("creator_id", drop=False).loc[wanted]
    body = [{"profile": profile} for profile in records("creators", profiles)]
    position = {cid: i for i, cid in enumerate(creator_ids)}
    drop = () if include_creator_id else ("creator_id",)
    for table in NESTED:
        frame = tables.get(table)
        if frame is None:
            continue
        frame = frame[frame["creator_id"].isin(wanted)]
        owners = frame["creator_id"].tolist()
        for owner, row in zip(owners, records(table, frame, drop=drop), strict=True):
            body[position[owner]].setdefault(table, []).append(row)
    for item in body:
        item.setdefault("posts", [])
    return body


def campaign_record(tables: dict[str, pd.DataFrame], campaign_id: str) -> dict:
    campaigns = tables["campaigns"]
    return records("campaigns", campaigns[campaigns["campaign_id"] == campaign_id])[0]


def collaboration_plans(tables: dict[str, pd.DataFrame], campaign_id: str,
                        creator_ids: Sequence[str] | None = None) -> list[dict]:
    """Planned collaborations (creator_id, compensation, cost) of a campaign."""
    collaborations = tables["collaborations"]
    rows = collaborations[collaborations["campaign_id"] == campaign_id]
    if creator_ids is not None:
        rows = rows[rows["creator_id"].isin(list(creator_ids))]
    return records("collaborations", rows[["creator_id", "compensation", "cost"]])
