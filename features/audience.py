"""Audience-sample features: vendor classes of a creator's follower accounts and the fake share.

Each creator's sampled follower accounts go through the scorer's `audit` (the one follower
audit, `models.follower_account.audit_accounts`): the fake share of the sample is estimated as
a quantification problem with an interval that includes the off-domain error, and the accounts
are classed at that share. The scorer is given by whoever builds the pipeline (training gives
the follower classifier), so this layer never imports the models.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

import numpy as np
import pandas as pd

from data.domain import AUDIENCE_CLASSES
from features.arrays import group_count, index_of, safe_divide
from features.entities import Entities

# True in a thread auditing an audience beside the other work of the same transform
# (features.pipeline's helper thread): the scorer should predict on one core, the other
# being busy with that work (a /rank of 1,000 unseen candidates, alternating in process at
# load ~1.6-2: median 541 vs 551 ms wall, 543 vs 565 ms CPU with the classifier's trees on
# both cores).
AUDITING_BESIDE_OTHER_WORK: ContextVar[bool] = ContextVar("auditing_beside_other_work",
                                                          default=False)


class FollowerAudit(Protocol):
    """What the pipeline needs of a follower-account scorer (models.follower_account's
    FollowerAccountClassifier and RuleBasedFollowerScorer): the one follower audit, returning
    per account `classes` and per audience `estimates` (share, low, high, drift)."""

    def audit(self, accounts: pd.DataFrame, group=None, n_groups: int | None = None): ...


def audience_features(ent: Entities, audience: pd.DataFrame | None,
                      scorer: FollowerAudit) -> dict[str, np.ndarray]:
    """Per entity: sample size, class shares and the corrected fake share with its interval."""
    n = ent.n
    names = [f"audience_share_{c}" for c in AUDIENCE_CLASSES] + [
        "audience_fake_share", "audience_fake_share_low", "audience_fake_share_high"]
    out = {name: np.full(n, np.nan) for name in names}
    out["has_audience_sample"] = np.zeros(n)
    out["audience_sample_size"] = np.zeros(n)
    out["audience_domain_drift"] = np.full(n, np.nan)
    if audience is None or len(audience) == 0:
        return out
    if scorer is None:
        raise ValueError("audience_sample: auditing sampled follower accounts needs a "
                         "follower-account scorer; build FeaturePipeline with follower_scorer="
                         "(models.follower_account FollowerAccountClassifier or "
                         "RuleBasedFollowerScorer)")
    # The sample is not dated: every entity of a creator sees the creator's whole sample.
    creators = ent.creator_ids
    if len(set(creators.tolist())) < n:
        creators, entity_to_creator = np.unique(creators.astype(str), return_inverse=True)
    else:
        entity_to_creator = np.arange(n)
    account_group = index_of(audience["creator_id"], creators)
    keep = account_group >= 0
    if not keep.any():
        return out
    # Scoring one creator: its whole sample is kept, and a boolean row filter would copy it.
    accounts = audience if keep.all() else audience[keep]
    account_group = account_group[keep]
    n_groups = len(creators)
    audit = scorer.audit(accounts, account_group, n_groups)
    size = group_count(account_group, n_groups)
    for name in AUDIENCE_CLASSES:
        share = safe_divide(group_count(account_group, n_groups, audit.classes == name), size)
        out[f"audience_share_{name}"] = share[entity_to_creator]
    estimates = audit.estimates
    has = size > 0
    out["audience_fake_share"] = np.where(has, estimates.share, np.nan)[entity_to_creator]
    out["audience_fake_share_low"] = np.where(has, estimates.low, np.nan)[entity_to_creator]
    out["audience_fake_share_high"] = np.where(has, estimates.high, np.nan)[entity_to_creator]
    out["audience_domain_drift"] = np.where(has, estimates.drift, np.nan)[entity_to_creator]
    out["has_audience_sample"] = has.astype("float64")[entity_to_creator]
    out["audience_sample_size"] = size[entity_to_creator]
    return out


class AudienceMemo:
    """The audience features of one audience sample's creators, computed once and reused.

    A creator's sample is not dated and each audience is audited on its own (the share of an
    audience never depends on the others audited with it), so the audience features of a
    creator are the same for every entity of that creator: a collaboration as of any date, a
    candidate of any campaign. `features` remembers the first result that has one entity per
    creator (the creators' features) and answers later entities of those creators from it.
    """

    def __init__(self, audience: pd.DataFrame | None):
        self.audience = audience
        self.creator_ids: np.ndarray | None = None
        self.values: dict[str, np.ndarray] | None = None

    def features(self, ent: Entities, scorer: FollowerAudit) -> dict[str, np.ndarray]:
        """`audience_features(ent, self.audience, scorer)`."""
        if self.values is not None:
            rows = index_of(ent.creator_ids, self.creator_ids)
            if (rows >= 0).all():
                return {name: values[rows] for name, values in self.values.items()}
        out = audience_features(ent, self.audience, scorer)
        if self.values is None and len(set(ent.creator_ids.tolist())) == ent.n:
            self.creator_ids = ent.creator_ids
            self.values = {name: values.copy() for name, values in out.items()}
        return out
