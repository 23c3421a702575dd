"""The rows features are computed for ("entities") and the dated rows that belong to each.

An entity is a creator seen at a point in time: a creator (as of a given date or of its latest
observation) for `transform_creators`, or a (campaign, creator) pair as of the campaign's
start date for `transform_collaborations`. Both go through the same code: posts, follower
snapshots and comments are expanded per entity and filtered to the ones dated strictly before
the entity's cutoff, so a collaboration's features never see the campaign or what followed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.contract import FORMATS, PLATFORMS
from data.dataset import Dataset
from data.domain import tier_codes
from features.arrays import as_days, as_float, as_str, group_max, index_of


def expand_by_entity(entity_creator: np.ndarray, entity_cutoff: np.ndarray,
                     item_creator: np.ndarray, item_day: np.ndarray,
                     n_creators: int) -> tuple[np.ndarray, np.ndarray]:
    """(entity code, item row) pairs: every item of the entity's creator dated before its cutoff.

    A NaN cutoff keeps all items of the creator; with a cutoff, undated items are dropped
    (they cannot be shown to precede it).
    """
    valid = np.flatnonzero(item_creator >= 0)
    order = valid[np.argsort(item_creator[valid], kind="stable")]
    counts = np.bincount(item_creator[valid], minlength=n_creators)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    per_entity = counts[entity_creator]
    total = int(per_entity.sum())
    entity_codes = np.repeat(np.arange(len(entity_creator)), per_entity)
    entity_starts = np.cumsum(per_entity) - per_entity
    offsets = np.arange(total) - np.repeat(entity_starts, per_entity)
    item_rows = order[np.repeat(starts[entity_creator], per_entity) + offsets]
    cutoff = entity_cutoff[entity_codes]
    keep = np.isnan(cutoff) | (item_day[item_rows] < cutoff)
    return entity_codes[keep], item_rows[keep]


@dataclass
class Entities:
    """Flat arrays for one batch of entities; post/snapshot/comment arrays carry entity codes."""

    n: int
    creator_ids: np.ndarray          # object, per entity
    creator_row: np.ndarray          # row of the entity's creator in ds.creators
    cutoff_day: np.ndarray           # as-of day (float days since epoch), NaN = no cutoff
    reference_day: np.ndarray        # cutoff, or the entity's latest observation
    platform_code: np.ndarray        # index into PLATFORMS
    followers: np.ndarray            # followers as of the cutoff
    tier_code: np.ndarray            # index into data.domain.TIERS
    # posts
    post_entity: np.ndarray
    post_row: np.ndarray
    post_day: np.ndarray
    likes: np.ndarray
    comments: np.ndarray
    views: np.ndarray
    format_code: np.ndarray
    sponsored: np.ndarray
    posts_after_cutoff: np.ndarray   # per entity: the creator's posts dropped by the cutoff
    # follower history, sorted by (entity, day)
    history_entity: np.ndarray
    history_day: np.ndarray
    history_followers: np.ndarray
    has_history_table: bool
    # comments
    comment_entity: np.ndarray
    comment_row: np.ndarray
    has_comments_table: bool


def build_entities(ds: Dataset, creator_row: np.ndarray, cutoff_day: np.ndarray) -> Entities:
    """Entities for the given creators rows (into ds.creators) and cutoffs (NaN = none)."""
    n_creators = ds.rows("creators")
    n = len(creator_row)
    creator_row = np.asarray(creator_row, dtype="int64")
    cutoff_day = np.asarray(cutoff_day, dtype="float64")
    # Columns are read as arrays (Dataset.column), each once.
    creator_ids = ds.column("creators", "creator_id")

    post_creator = index_of(ds.column("posts", "creator_id"), creator_ids)
    post_day_all = as_days(ds.column("posts", "posted_at"))
    post_entity, post_row = expand_by_entity(creator_row, cutoff_day, post_creator,
                                             post_day_all, n_creators)
    post_day = post_day_all[post_row]
    creator_post_total = np.bincount(post_creator[post_creator >= 0], minlength=n_creators)
    posts_after_cutoff = (creator_post_total[creator_row]
                          - np.bincount(post_entity, minlength=n)).astype("float64")

    if ds.rows("follower_history"):
        history_creator = index_of(ds.column("follower_history", "creator_id"), creator_ids)
        history_day_all = as_days(ds.column("follower_history", "date"))
        history_entity, history_rows = expand_by_entity(
            creator_row, cutoff_day, history_creator, history_day_all, n_creators)
        history_day = history_day_all[history_rows]
        history_followers = as_float(ds.column("follower_history", "followers"))[history_rows]
        order = np.lexsort((history_day, history_entity))
        history_entity = history_entity[order]
        history_day = history_day[order]
        history_followers = history_followers[order]
        ok = ~np.isnan(history_followers) & ~np.isnan(history_day)
        history_entity, history_day, history_followers = (
            history_entity[ok], history_day[ok], history_followers[ok])
    else:
        history_entity = np.zeros(0, dtype="int64")
        history_day = history_followers = np.zeros(0)

    if ds.rows("comments"):
        comment_post = index_of(ds.column("comments", "post_id"), ds.column("posts", "post_id"))
        comment_day_all = np.where(comment_post >= 0, post_day_all[comment_post], np.nan)
        comment_creator = index_of(ds.column("comments", "creator_id"), creator_ids)
        comment_entity, comment_row = expand_by_entity(
            creator_row, cutoff_day, comment_creator, comment_day_all, n_creators)
    else:
        comment_entity = comment_row = np.zeros(0, dtype="int64")

    current_followers = as_float(ds.column("creators", "followers"))[creator_row]
    # Followers as of the cutoff: the last snapshot before it when there is one (the current
    # count would leak growth that happened after the campaign started).
    followers = current_followers.copy()
    if len(history_entity):
        last_of_entity = np.r_[history_entity[1:] != history_entity[:-1], True]
        last_entity = history_entity[last_of_entity]
        dated = ~np.isnan(cutoff_day[last_entity])
        followers[last_entity[dated]] = history_followers[last_of_entity][dated]

    latest = np.fmax(group_max(post_entity, post_day, n),
                     group_max(history_entity, history_day, n) if len(history_entity)
                     else np.full(n, np.nan))
    reference_day = np.where(np.isnan(cutoff_day), latest, cutoff_day)

    platform_code = index_of(ds.column("creators", "platform"), PLATFORMS)[creator_row]
    format_code = index_of(ds.column("posts", "format"), FORMATS)[post_row]

    return Entities(
        n=n,
        creator_ids=as_str(creator_ids)[creator_row],
        creator_row=creator_row,
        cutoff_day=cutoff_day,
        reference_day=reference_day,
        platform_code=platform_code,
        followers=followers,
        tier_code=tier_codes(followers),
        post_entity=post_entity,
        post_row=post_row,
        post_day=post_day,
        likes=as_float(ds.column("posts", "likes"))[post_row],
        comments=as_float(ds.column("posts", "comments"))[post_row],
        views=as_float(ds.column("posts", "views"))[post_row],
        format_code=format_code,
        sponsored=as_float(ds.column("posts", "sponsored"))[post_row],
        posts_after_cutoff=posts_after_cutoff,
        history_entity=history_entity,
        history_day=history_day,
        history_followers=history_followers,
        has_history_table=ds.has("follower_history"),
        comment_entity=comment_entity,
        comment_row=comment_row,
        has_comments_table=ds.has("comments"),
    )
