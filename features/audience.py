"""Audience-sample features: vendor classes of a creator's follower accounts and the fake share.

Each sampled follower account is scored by a follower-account scorer (protocol: an object with
`predict_fake_proba(accounts) -> ndarray` and `sensitivity_`, `specificity_`), classed with
`models.follower_account.classify_accounts`, and the flagged rate is turned into a fake share
corrected for the scorer's errors (Rogan-Gladen) with a Wilson interval for the sample size
(`models.follower_account.fake_share_interval`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.domain import AUDIENCE_CLASSES
from features.arrays import as_float, group_count, index_of, safe_divide
from features.entities import Entities
from models.follower_account import (  # noqa: F401 - ascii_digit_count is re-exported
    ascii_digit_count,
    classify_accounts,
    fake_share_interval,
)

FAKE_SHARE_CONFIDENCE = 0.9
FLAG_THRESHOLD = 0.5


class RuleBasedFollowerScorer:
    """Transparent default scorer for follower accounts, used until a trained one is supplied.

    p_fake = sigmoid(-3 + 2.0 * no_profile_pic + 1.5 * (posts_count == 0)
                     + 1.0 * log10((following + 1) / (followers + 1)), floored at 0
                     + 1.0 * (username has >= 4 digits) + 0.5 * (bio_length == 0))
    Missing optional fields contribute 0. The signals are those vendors and the fake-account
    literature use (no picture, no posts, following far more than followed, digit-stuffed
    names, empty bio).

    `sensitivity_` / `specificity_` default to assumed values (0.70 / 0.90), NOT measured;
    `fit(accounts, is_fake)` replaces them with the rates measured at p_fake >= 0.5 on labelled
    accounts. Prefer models.follower_account.FollowerAccountClassifier when it is trained.
    """

    sensitivity_ = 0.70
    specificity_ = 0.90

    def predict_fake_proba(self, accounts: pd.DataFrame) -> np.ndarray:
        n = len(accounts)

        def column(name: str) -> np.ndarray:
            return as_float(accounts[name]) if name in accounts else np.full(n, np.nan)

        followers, following = column("followers"), column("following")
        posts, bio_length = column("posts_count"), column("bio_length")
        has_pic = column("has_profile_pic")
        if "username" in accounts:
            digits = ascii_digit_count(accounts["username"])
        else:
            digits = np.full(n, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            follow_ratio = np.log10((following + 1.0) / (followers + 1.0))
        score = (-3.0
                 + 2.0 * (has_pic == 0)
                 + 1.5 * (posts == 0)
                 + 1.0 * np.nan_to_num(np.maximum(follow_ratio, 0.0))
                 + 1.0 * (digits >= 4)
                 + 0.5 * (bio_length == 0))
        return 1.0 / (1.0 + np.exp(-score))

    def fit(self, accounts: pd.DataFrame, is_fake) -> RuleBasedFollowerScorer:
        is_fake = np.asarray(is_fake, dtype=bool)
        flagged = self.predict_fake_proba(accounts) >= FLAG_THRESHOLD
        self.sensitivity_ = float(flagged[is_fake].mean()) if is_fake.any() else np.nan
        self.specificity_ = float((~flagged[~is_fake]).mean()) if (~is_fake).any() else np.nan
        return self


def audience_features(ent: Entities, audience: pd.DataFrame | None,
                      scorer) -> dict[str, np.ndarray]:
    """Per entity: sample size, class shares and the corrected fake share with its interval."""
    n = ent.n
    names = [f"audience_share_{c}" for c in AUDIENCE_CLASSES] + [
        "audience_fake_share", "audience_fake_share_low", "audience_fake_share_high"]
    out = {name: np.full(n, np.nan) for name in names}
    out["has_audience_sample"] = np.zeros(n)
    out["audience_sample_size"] = np.zeros(n)
    if audience is None or len(audience) == 0:
        return out
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
    p_fake = np.asarray(scorer.predict_fake_proba(accounts), dtype="float64")
    classes = classify_accounts(accounts, p_fake, FLAG_THRESHOLD)
    size = group_count(account_group, n_groups)
    for name in AUDIENCE_CLASSES:
        share = safe_divide(group_count(account_group, n_groups, classes == name), size)
        out[f"audience_share_{name}"] = share[entity_to_creator]
    flagged = group_count(account_group, n_groups, p_fake >= FLAG_THRESHOLD)
    share, low, high = fake_share_interval(flagged, size, scorer.sensitivity_,
                                           scorer.specificity_, FAKE_SHARE_CONFIDENCE)
    has = size > 0
    out["audience_fake_share"] = np.where(has, share, np.nan)[entity_to_creator]
    out["audience_fake_share_low"] = np.where(has, low, np.nan)[entity_to_creator]
    out["audience_fake_share_high"] = np.where(has, high, np.nan)[entity_to_creator]
    out["has_audience_sample"] = has.astype("float64")[entity_to_creator]
    out["audience_sample_size"] = size[entity_to_creator]
    return out
