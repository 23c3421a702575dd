"""Follower-account classifier: is one account of a creator's audience sample fake?

Three pieces, used by the features and the fake-risk model:

- `follower_account_features`: `audience_sample` rows -> all-float64 feature frame;
- `FollowerAccountClassifier`: LightGBM binary model on those features, trained with random
  masking of the optional fields so that a sample carrying only followers, following,
  posts_count, has_profile_pic and username still gets sensible probabilities; it records its
  own sensitivity and specificity on an internal held-out split;
- `fake_share_interval` / `estimate_fake_share`: the fake share of a sample, corrected for the
  classifier's errors (Rogan-Gladen) with an interval for sample size and classifier error.

Probabilities are under a balanced prior (each training source weighted 50/50 fake/real): the
training sets' class mixes are sampling choices, not the prevalence in real audiences, which is
why a share is estimated by correcting the flagged rate, never by averaging probabilities.
"""
from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

from data.domain import INFLUENCER_MIN_FOLLOWERS, MASS_FOLLOWER_MIN_FOLLOWING

FEATURE_NAMES = (
    "followers",
    "following",
    "posts_count",
    "log_following_to_followers",
    "log_posts_to_followers",
    "has_profile_pic",
    "is_private",
    "bio_length",
    "has_external_url",
    "username_length",
    "username_digit_count",
    "username_digit_ratio",
)
# What a scraper almost always gets; the classifier must work on these alone.
MINIMAL_FIELDS = ("followers", "following", "posts_count", "has_profile_pic", "username")
# Optional input fields, masked together with the features derived from them during training.
OPTIONAL_FIELD_GROUPS = {
    "is_private": ("is_private",),
    "bio_length": ("bio_length",),
    "has_external_url": ("has_external_url",),
    "username": ("username_length", "username_digit_count", "username_digit_ratio"),
    "has_profile_pic": ("has_profile_pic",),
}
# has_profile_pic belongs to the minimal set: mask it less often than the rest.
MASK_PROBABILITY_SCALE = {"has_profile_pic": 0.4}

# Monotone constraints only where the direction holds for every class of fake in the training
# data (active/inactive fakes, spammers, bought accounts): following many accounts relative to
# one's followers, and digit-stuffed usernames, never make an account look more genuine.
# Follower or post counts get none: spammers post a lot, some fakes have thousands of followers.
MONOTONE_DIRECTIONS = {"log_following_to_followers": 1, "username_digit_ratio": 1}

AUDIENCE_CLASS_SUSPICIOUS = "suspicious"


PARALLEL_PREDICT_MIN_ROWS = 200_000

def _numeric_column(accounts: pd.DataFrame, column: str) -> pd.Series:
    """The column as float64 (booleans as 0/1), NaN where missing or absent."""
    if column not in accounts.columns:
        return pd.Series(np.nan, index=accounts.index, dtype="float64")
    values = accounts[column]
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64") if values.dtype == bool else \
            values.astype("Float64").astype("float64")
    try:
        numeric = pd.to_numeric(values, errors="raise")
    except (TypeError, ValueError) as error:
        bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        raise ValueError(
            f"audience_sample column {column!r}: non-numeric values {list(bad.unique()[:5])} "
            f"at rows {list(bad.index[:5])}"
        ) from error
    numeric = numeric.astype("Float64").astype("float64")
    negative = numeric < 0
    if negative.any():
        raise ValueError(f"audience_sample column {column!r}: negative values at rows "
                         f"{list(numeric.index[negative][:5])}")
    return numeric


def _numeric_values(accounts: pd.DataFrame, column: str) -> np.ndarray:
    """`_numeric_column` as a numpy array. Numeric and boolean columns (what a validated
    audience_sample holds) are read directly: a few pandas conversions per column cost more
    than the whole classifier when one creator's sample is scored."""
    if column not in accounts.columns:
        return np.full(len(accounts), np.nan)
    values = accounts[column]
    kind = getattr(values.dtype, "kind", "O")
    if kind in "iufb":
        numbers = _float_array(values)
        if kind == "b" or not (numbers < 0).any():
            return numbers
    # Text, dates, negative numbers: the general path (it also words the errors).
    return _numeric_column(accounts, column).to_numpy(dtype="float64")


def _float_array(values: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float64, NaN for missing. Nullable (Int64, boolean)
    columns go through their Arrow form: pandas' own conversion costs ~30 us a column."""
    if not isinstance(values.dtype, np.dtype):
        try:
            array = pa.array(values.array)
        except (TypeError, ValueError, pa.ArrowException):
            array = None
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array is not None and (pa.types.is_integer(array.type)
                                  or pa.types.is_floating(array.type)
                                  or pa.types.is_boolean(array.type)):
            return pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return values.to_numpy(dtype="float64", na_value=np.nan)


def ascii_digit_count(text) -> np.ndarray:
    """Number of digits (regex \\d, Unicode-aware as in pandas' `str.count`) in each string,
    NaN when missing. ASCII strings are counted from their UTF-8 bytes (0x30-0x39 encode only
    the digits 0-9); Python's regex only runs on the rare strings with other characters."""
    array = _large_string_array(text)
    offsets = np.frombuffer(array.buffers()[1], dtype="int64")[array.offset:
                                                               array.offset + len(array) + 1]
    data = array.buffers()[2]
    raw = (np.frombuffer(data, dtype="uint8") if data is not None
           else np.zeros(0, dtype="uint8"))[: offsets[-1] if len(offsets) else 0]
    is_digit = (raw >= 0x30) & (raw <= 0x39)
    before = np.concatenate(([0], np.cumsum(is_digit, dtype="int64")))
    digits = (before[offsets[1:]] - before[offsets[:-1]]).astype("float64")
    wide_before = np.concatenate(([0], np.cumsum(raw >= 0x80, dtype="int64")))
    non_ascii = np.flatnonzero(wide_before[offsets[1:]] > wide_before[offsets[:-1]])
    if len(non_ascii):
        texts = array.take(pa.array(non_ascii)).to_pylist()
        digits[non_ascii] = [len(_DIGIT.findall(text)) for text in texts]
    if array.null_count:
        digits[array.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return digits


_DIGIT = re.compile(r"\d")


def _large_string_array(text) -> pa.Array:
    array = pa.array(text, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type == pa.null():
        return pa.nulls(len(array), type=pa.large_string())
    return array.cast(pa.large_string()) if array.type != pa.large_string() else array


def _username_length_and_digits(username: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(characters, digits) of each username as str (as `str.len()` / `str.count(r"\\d")`
    count them), NaN where the username is missing."""
    names = username if isinstance(username.dtype, pd.StringDtype) else username.astype("str")
    array = _large_string_array(names)
    length = pc.utf8_length(array).to_numpy(zero_copy_only=False).astype("float64")
    digits = ascii_digit_count(array)
    missing = username.isna().to_numpy()
    length[missing] = np.nan
    digits[missing] = np.nan
    return length, digits


def _feature_matrix(accounts: pd.DataFrame) -> np.ndarray:
    """Rows x FEATURE_NAMES float64 matrix (see `follower_account_features`)."""
    n = len(accounts)
    followers = _numeric_values(accounts, "followers")
    following = _numeric_values(accounts, "following")
    posts = _numeric_values(accounts, "posts_count")

    length = _numeric_values(accounts, "username_length")
    digits = _numeric_values(accounts, "username_digit_count")
    ratio = _numeric_values(accounts, "username_digit_ratio")
    if "username" in accounts.columns:
        username = accounts["username"]
        has_name = username.notna().to_numpy()
        name_length, name_digits = _username_length_and_digits(username)
        length = np.where(has_name, name_length, length)
        digits = np.where(has_name, name_digits, digits)
    with np.errstate(invalid="ignore", divide="ignore"):
        derived_ratio = digits / np.where(length > 0, length, np.nan)
        ratio = np.where(np.isnan(derived_ratio), ratio, derived_ratio)
        # log1p both sides: defined for zero counts, symmetric in the two directions.
        log_following_to_followers = np.log1p(following) - np.log1p(followers)
        log_posts_to_followers = np.log1p(posts) - np.log1p(followers)

    columns = {
        "followers": followers,
        "following": following,
        "posts_count": posts,
        "log_following_to_followers": log_following_to_followers,
        "log_posts_to_followers": log_posts_to_followers,
        "has_profile_pic": _numeric_values(accounts, "has_profile_pic"),
        "is_private": _numeric_values(accounts, "is_private"),
        "bio_length": _numeric_values(accounts, "bio_length"),
        "has_external_url": _numeric_values(accounts, "has_external_url"),
        "username_length": length,
        "username_digit_count": digits,
        "username_digit_ratio": ratio,
    }
    matrix = np.empty((n, len(FEATURE_NAMES)))
    for position, name in enumerate(FEATURE_NAMES):
        matrix[:, position] = columns[name]
    return matrix


def follower_account_features(accounts: pd.DataFrame) -> pd.DataFrame:
    """Numeric features of follower accounts (all float64, NaN where a field is missing).

    Username length and digit count come from `username` when it is given, else from the
    `username_length` / `username_digit_count` / `username_digit_ratio` columns (labelled data
    sets publish those instead of names).
    """
    return pd.DataFrame(_feature_matrix(accounts), index=accounts.index,
                        columns=pd.Index(FEATURE_NAMES))


def _mask_optional_fields(features: pd.DataFrame, probability: float,
                          rng: np.random.Generator) -> pd.DataFrame:
    """A copy with each optional field group blanked independently per row."""
    masked = features.copy()
    for group, columns in OPTIONAL_FIELD_GROUPS.items():
        p = probability * MASK_PROBABILITY_SCALE.get(group, 1.0)
        drop = rng.random(len(masked)) < p
        masked.loc[drop, list(columns)] = np.nan
    return masked


def _balanced_weights(is_fake: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Within each group (data source) fake and real rows get equal total weight; groups keep
    a weight proportional to their size. Structural missingness (a source lacking a field) then
    carries no label information."""
    weights = np.empty(len(is_fake), dtype="float64")
    for group in np.unique(groups):
        in_group = groups == group
        n_group = in_group.sum()
        for label in (False, True):
            cell = in_group & (is_fake == label)
            if cell.any():
                weights[cell] = 0.5 * n_group / cell.sum()
    return weights / weights.mean()


class FollowerAccountClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM binary classifier of fake follower accounts, robust to missing fields.

    `fit` holds out `holdout_fraction` of the accounts (stratified by source and label), trains
    on the rest, measures `sensitivity_` and `specificity_` at `threshold` on the held-out part
    (fields as given) and `minimal_sensitivity_` / `minimal_specificity_` with only the minimal
    fields; then, when `refit` is true, retrains on all the accounts with the same settings.

    `n_jobs` defaults to 1: on a shared 2-core machine LightGBM's OpenMP threads spin-wait and
    a 2-thread fit was measured 10x slower than a 1-thread one.
    """

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05,
                 num_leaves: int = 31, min_child_samples: int = 20,
                 feature_fraction: float = 0.9, reg_lambda: float = 1.0,
                 mask_probability: float = 0.5, n_masked_copies: int = 1,
                 holdout_fraction: float = 0.2, threshold: float = 0.5, refit: bool = True,
                 monotone: bool = True, n_jobs: int = 1, random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.mask_probability = mask_probability
        self.n_masked_copies = n_masked_copies
        self.holdout_fraction = holdout_fraction
        self.threshold = threshold
        self.refit = refit
        self.monotone = monotone
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _params(self) -> dict:
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.reg_lambda,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "verbosity": -1,
        }
        if self.monotone:
            params["monotone_constraints"] = [MONOTONE_DIRECTIONS.get(f, 0)
                                              for f in FEATURE_NAMES]
            params["monotone_constraints_method"] = "advanced"
        return params

    def _train(self, features: pd.DataFrame, is_fake: np.ndarray, groups: np.ndarray,
               rng: np.random.Generator) -> lgb.Booster:
        copies = [features] + [_mask_optional_fields(features, self.mask_probability, rng)
                               for _ in range(self.n_masked_copies)]
        n_copies = len(copies)
        weights = _balanced_weights(is_fake, groups)
        train = lgb.Dataset(
            pd.concat(copies, ignore_index=True),
            label=np.tile(is_fake.astype("float64"), n_copies),
            weight=np.tile(weights, n_copies),
            free_raw_data=True,
        )
        return lgb.train(self._params(), train, num_boost_round=self.n_estimators)

    def fit(self, accounts: pd.DataFrame, is_fake, groups: Sequence | None = None):
        """Fit on labelled accounts. `groups` (e.g. the data source) balances classes within
        each group; defaults to `accounts["source"]` when present, else one group."""
        labels = np.asarray(is_fake)
        if labels.shape != (len(accounts),):
            raise ValueError(f"is_fake has shape {labels.shape}; expected ({len(accounts)},)")
        if pd.isna(labels).any():
            raise ValueError("is_fake has missing labels")
        labels = labels.astype(bool)
        if labels.all() or not labels.any():
            raise ValueError("is_fake needs both fake and real accounts")
        if groups is None:
            groups = accounts["source"] if "source" in accounts.columns else \
                np.zeros(len(accounts))
        groups = np.asarray(pd.Series(groups).astype("str"))

        features = follower_account_features(accounts).reset_index(drop=True)
        rng = np.random.default_rng(self.random_state)
        strata = np.char.add(groups.astype("U"), labels.astype("U"))
        train_idx, held_idx = train_test_split(
            np.arange(len(features)), test_size=self.holdout_fraction,
            random_state=self.random_state, stratify=strata)
        booster = self._train(features.iloc[train_idx], labels[train_idx], groups[train_idx], rng)

        held = features.iloc[held_idx]
        held_labels = labels[held_idx]
        minimal = held.copy()
        minimal[["is_private", "bio_length", "has_external_url"]] = np.nan
        self.sensitivity_, self.specificity_ = _error_rates(
            booster.predict(held) >= self.threshold, held_labels)
        self.minimal_sensitivity_, self.minimal_specificity_ = _error_rates(
            booster.predict(minimal) >= self.threshold, held_labels)
        self.n_holdout_ = len(held_idx)
        self.holdout_positives_ = int(held_labels.sum())

        self.booster_ = (self._train(features, labels, groups, rng) if self.refit else booster)
        self.feature_names_ = list(FEATURE_NAMES)
        self.n_features_in_ = len(FEATURE_NAMES)
        self.classes_ = np.array([False, True])
        return self

    def predict_fake_proba(self, accounts: pd.DataFrame) -> np.ndarray:
        """Probability that each account is fake (balanced prior)."""
        if not hasattr(self, "booster_"):
            raise RuntimeError("FollowerAccountClassifier is not fitted; call fit first")
        if len(accounts) == 0:
            return np.empty(0, dtype="float64")
        # One thread for a request's few hundred rows: OpenMP's start-up and spin-waiting on
        # a loaded machine cost more than the trees. A training batch of millions of accounts
        # is worth every core (same predictions either way).
        threads = getattr(self, "n_jobs", 1)
        if len(accounts) >= PARALLEL_PREDICT_MIN_ROWS:
            threads = max(threads, os.cpu_count() or 1)
        return self.booster_.predict(_feature_matrix(accounts), num_threads=threads
                                     ).astype("float64")

    def predict_proba(self, accounts: pd.DataFrame) -> np.ndarray:
        p_fake = self.predict_fake_proba(accounts)
        return np.column_stack([1.0 - p_fake, p_fake])

    def predict(self, accounts: pd.DataFrame) -> np.ndarray:
        return self.predict_fake_proba(accounts) >= self.threshold


def _error_rates(flagged: np.ndarray, is_fake: np.ndarray) -> tuple[float, float]:
    sensitivity = float(flagged[is_fake].mean()) if is_fake.any() else math.nan
    specificity = float((~flagged[~is_fake]).mean()) if (~is_fake).any() else math.nan
    return sensitivity, specificity


def classify_accounts(accounts: pd.DataFrame, p_fake, threshold: float = 0.5) -> np.ndarray:
    """Vendor audience classes: suspicious (p_fake >= threshold), else influencer (followers >
    5,000), else mass_follower (following > 1,500), else real. Missing counts never qualify."""
    p_fake = np.asarray(p_fake, dtype="float64")
    if p_fake.shape != (len(accounts),):
        raise ValueError(f"p_fake has shape {p_fake.shape}; expected ({len(accounts)},)")
    followers = _numeric_values(accounts, "followers")
    following = _numeric_values(accounts, "following")
    classes = np.full(len(p_fake), "real", dtype=object)
    # Lowest priority first, so that each later rule overrides the earlier ones.
    classes[following > MASS_FOLLOWER_MIN_FOLLOWING] = "mass_follower"
    classes[followers > INFLUENCER_MIN_FOLLOWERS] = "influencer"
    classes[p_fake >= threshold] = AUDIENCE_CLASS_SUSPICIOUS
    return classes


def fake_share_interval(n_flagged, n_total, sensitivity, specificity,
                        confidence: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fake share corrected for classifier error, with an interval (vectorised).

    The flagged rate q = n_flagged / n_total gets a Wilson score interval (sample size); the
    point estimate and both bounds go through the Rogan-Gladen correction
    p = (q + specificity - 1) / (sensitivity + specificity - 1), which widens the interval by
    1 / (sensitivity + specificity - 1) (classifier error), then are clipped to [0, 1].
    Where n_total is 0 or the classifier is no better than chance (sensitivity + specificity
    <= 1) the share is NaN and the interval is [0, 1].
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n_flagged, n_total, sensitivity, specificity = np.broadcast_arrays(
        *(np.asarray(a, dtype="float64") for a in (n_flagged, n_total, sensitivity,
                                                    specificity)))
    if np.any(n_flagged < 0) or np.any(n_flagged > n_total):
        raise ValueError("n_flagged must be between 0 and n_total")
    z = _two_sided_z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = n_flagged / n_total
        denominator = 1 + z**2 / n_total
        centre = (q + z**2 / (2 * n_total)) / denominator
        half_width = z * np.sqrt(q * (1 - q) / n_total + z**2 / (4 * n_total**2)) / denominator
        youden = sensitivity + specificity - 1
        informative = (n_total > 0) & (youden > 0)

        def corrected(rate):
            return np.clip((rate + specificity - 1) / youden, 0.0, 1.0)

        share = np.where(informative, corrected(q), np.nan)
        low = np.where(informative, corrected(centre - half_width), 0.0)
        high = np.where(informative, corrected(centre + half_width), 1.0)
    return share, low, high


@functools.lru_cache(maxsize=64)
def _two_sided_z(confidence: float) -> float:
    """Normal quantile of a two-sided `confidence` interval (scipy's ppf has ~50 us overhead)."""
    return float(norm.ppf(0.5 + confidence / 2))


def estimate_fake_share(p_fake, sensitivity: float, specificity: float,
                        confidence: float = 0.9,
                        threshold: float = 0.5) -> tuple[float, float, float]:
    """(share, low, high) of fake accounts in one audience sample from per-account p_fake."""
    flagged = np.asarray(p_fake, dtype="float64") >= threshold
    share, low, high = fake_share_interval(flagged.sum(), flagged.size, sensitivity,
                                           specificity, confidence)
    return float(share), float(low), float(high)
