"""Audience-sample features: vendor classes of a creator's follower accounts and the fake share.

Each creator's sampled follower accounts go through the one follower audit,
`models.follower_account.audit_accounts` (a scorer with `predict_fake_proba(accounts)` and a
fitted `share_estimator_`, optionally `field_drift_`): the fake share of the sample is
estimated as a quantification problem with an interval that includes the off-domain error,
and the accounts are classed at that share.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.domain import AUDIENCE_CLASSES
from features.arrays import as_float, group_count, index_of, safe_divide
from features.entities import Entities
from models.follower_account import (  # noqa: F401 - ascii_digit_count is re-exported
    ascii_digit_count,
    audit_accounts,
)
from models.quantification import FakeShareEstimator

FLAG_THRESHOLD = 0.5
# Off-domain error assumed for the rule-based scorer, never measured on labelled audiences.
RULE_BASED_DOMAIN_ERROR = 0.15


class RuleBasedFollowerScorer:
    """Transparent default scorer for follower accounts, used until a trained one is supplied.

    p_fake = sigmoid(-3 + 2.0 * no_profile_pic + 1.5 * (posts_count == 0)
                     + 1.0 * log10((following + 1) / (followers + 1)), floored at 0
                     + 1.0 * (username has >= 4 digits) + 0.5 * (bio_length == 0))
    Missing optional fields contribute 0. The signals are those vendors and the fake-account
    literature use (no picture, no posts, following far more than followed, digit-stuffed
    names, empty bio).

    `sensitivity_` / `specificity_` default to assumed values (0.70 / 0.90), NOT measured, and
    its share estimator (adjusted count) uses them; `fit(accounts, is_fake)` replaces both with
    what it measures on labelled accounts. Prefer
    models.follower_account.FollowerAccountClassifier when it is trained.
    """

    sensitivity_ = 0.70
    specificity_ = 0.90

    @property
    def share_estimator_(self) -> FakeShareEstimator:
        fitted = self.__dict__.get("_share_estimator")
        if fitted is not None:
            return fitted
        return FakeShareEstimator(method="acc", domain_error=RULE_BASED_DOMAIN_ERROR).fit_rates(
            self.sensitivity_, 1.0 - self.specificity_)

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
        p_fake = self.predict_fake_proba(accounts)
        flagged = p_fake >= FLAG_THRESHOLD
        self.sensitivity_ = float(flagged[is_fake].mean()) if is_fake.any() else np.nan
        self.specificity_ = float((~flagged[~is_fake]).mean()) if (~is_fake).any() else np.nan
        self._share_estimator = FakeShareEstimator(
            method="acc", domain_error=RULE_BASED_DOMAIN_ERROR).fit(p_fake, is_fake)
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
    out["audience_domain_drift"] = np.full(n, np.nan)
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
    audit = audit_accounts(scorer, accounts, account_group, n_groups, FLAG_THRESHOLD)
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
