"""Follower-account classifier: is one account of a creator's audience sample fake?

Three pieces, used by the features and the fake-risk model:

- `follower_account_features`: `audience_sample` rows -> all-float64 feature frame;
- `FollowerAccountClassifier`: LightGBM binary model on those features, trained with random
  masking of the optional fields so that a sample carrying only followers, following,
  posts_count, has_profile_pic and username still gets sensible probabilities; its
  out-of-fold probabilities fit the share estimator and the domain check it carries;
- `RuleBasedFollowerScorer`: a transparent scorer with assumed error rates, for when no
  classifier is trained;
- `audit_accounts`: the one follower audit (CLI, service and audience features): the fake share
  of each audience estimated as a quantification problem (models.quantification) with an
  interval that includes the off-domain error, a domain check, and each account's probability
  and class at its audience's estimated share.

Probabilities are under a balanced prior (each training source weighted 50/50 fake/real): the
training sets' class mixes are sampling choices, not the prevalence in real audiences. A real
audience's share is re-estimated from the probabilities (EM on the prior, `SHARE_METHOD`), and a
low-activity person whose profile is as common among real as among fake accounts is then
judged at that audience's prevalence, not at 50/50.
"""
from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from data.domain import INFLUENCER_MIN_FOLLOWERS, MASS_FOLLOWER_MIN_FOLLOWING
from features.arrays import MASKED_ARRAYS
from features.audience import AUDITING_BESIDE_OTHER_WORK
from models.cache import BoundedCache
from models.compiled import CompiledBooster, compile_booster
from models.quantification import (
    DRIFT_FIELDS,
    FakeShareEstimator,
    FieldDrift,
    ShareEstimates,
    drift_warning,
)

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
# What a scraper almost always gets is followers, following, posts_count, has_profile_pic and
# username; the classifier must work on these alone. These features come from the other fields.
NON_MINIMAL_FEATURES = ("is_private", "bio_length", "has_external_url")
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

# Monotone constraints wherever the literature and every labelled set agree on the direction:
# more followers, more posts, a picture, a bio, a link or a private account never make an account
# look *more* fake; following more accounts (absolutely or per follower) and digit-stuffed
# usernames never make it look more genuine. A model held to these directions cannot learn a
# data set's quirks that point the other way (measured: leave-one-dataset-out share error and
# the flag rate of low-activity real people both fall; training/README.md). Spammers that post
# a lot are the price: their profiles look like people's, and a profile audit cannot see them.
MONOTONE_DIRECTIONS = {
    "followers": -1, "following": 1, "posts_count": -1, "log_following_to_followers": 1,
    "has_profile_pic": -1, "is_private": -1, "bio_length": -1, "has_external_url": -1,
    "username_digit_count": 1, "username_digit_ratio": 1,
}
# The quantifier the product uses, and its off-domain error (share points) that the interval
# adds in quadrature to sampling error: the leave-one-dataset-out calibration of
# `training.follower_accounts.benchmark_share_estimators` (the smallest value that gives 90%
# coverage on artificial audiences of the audit-like held-out sets; training/README.md).
SHARE_METHOD = "sld"
DOMAIN_ERROR = 0.145

AUDIENCE_CLASS_SUSPICIOUS = "suspicious"
# An account is classed suspicious when its fake probability at its audience's share is >= this.
FLAG_THRESHOLD = 0.5


PARALLEL_PREDICT_MIN_ROWS = 200_000
# Accounts whose probability a serving classifier remembers (~250 bytes each: ~50 MB).
ACCOUNT_CACHE_SIZE = 200_000
# Runtime aids set by `accelerate` / `compile`, never pickled (see __getstate__).
_RUNTIME_ATTRIBUTES = ("_account_cache", "_compiled")

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
    values = _column_array(accounts, column)
    kind = getattr(values.dtype, "kind", "O")
    if kind in "iufb":
        numbers = _float_array(values)
        if kind == "b" or not (numbers < 0).any():
            return numbers
    # Text, dates, negative numbers: the general path (it also words the errors).
    return _numeric_column(accounts, column).to_numpy(dtype="float64")


def _column_array(accounts: pd.DataFrame, column: str):
    """The array a frame's column holds (numpy, or a pandas extension array), without the
    Series `accounts[column]` builds (~10-25 us each; an audit reads a dozen columns)."""
    position = accounts.columns.get_loc(column)
    if isinstance(position, int):
        return accounts._get_column_array(position)
    return accounts[column].array  # a repeated name: pandas' own path and its error


def _float_array(values) -> np.ndarray:
    """A numeric or boolean column's array as float64, NaN for missing. Nullable (Int64,
    boolean) arrays convert themselves (~6 us; the Series' conversion costs ~30 us a column);
    other extension arrays go through their Arrow form."""
    if isinstance(values, MASKED_ARRAYS):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    if not isinstance(values.dtype, np.dtype):
        try:
            array = pa.array(values)
        except (TypeError, ValueError, pa.ArrowException):
            array = None
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array is not None and (pa.types.is_integer(array.type)
                                  or pa.types.is_floating(array.type)
                                  or pa.types.is_boolean(array.type)):
            return pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return pd.Series(values, copy=False).to_numpy(dtype="float64", na_value=np.nan)


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


def _username_length_and_digits(username, missing: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray]:
    """(characters, digits) of each username (a column's array) as str (as `str.len()` /
    `str.count(r"\\d")` count them), NaN where the username is `missing`."""
    names = (username if isinstance(username.dtype, pd.StringDtype)
             else pd.Series(username, copy=False).astype("str"))
    array = _large_string_array(names)
    length = pc.utf8_length(array).to_numpy(zero_copy_only=False).astype("float64")
    digits = ascii_digit_count(array)
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
        username = _column_array(accounts, "username")
        missing = np.asarray(pd.isna(username), dtype=bool)
        has_name = ~missing
        name_length, name_digits = _username_length_and_digits(username, missing)
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
    """Every group (data source) weighs the same, and within it fake and real rows get equal
    total weight. Structural missingness (a source lacking a field) then carries no label
    information, and no single collection's way of finding fakes (Purba's 43k accounts against
    Kaggle's 696) dominates what the model believes a fake looks like: each source is one domain,
    and the model has to hold on all of them."""
    weights = np.empty(len(is_fake), dtype="float64")
    for group in np.unique(groups):
        in_group = groups == group
        for label in (False, True):
            cell = in_group & (is_fake == label)
            if cell.any():
                weights[cell] = 0.5 / cell.sum()
    return weights / weights.mean()


class FollowerAccountClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM binary classifier of fake follower accounts, robust to missing fields, with the
    quantifier that turns its probabilities into an audience's fake share.

    `fit` predicts every account out of fold (`n_folds` folds stratified by source and label),
    fits `share_estimator_` (models.quantification.FakeShareEstimator, `share_method`, interval
    widened by `domain_error`) and `field_drift_` (the domain check) on those out-of-fold
    probabilities, records `sensitivity_` / `specificity_` at `threshold` (fields as given) and
    `minimal_sensitivity_` / `minimal_specificity_` (only the minimal fields), then trains
    `booster_` on all the accounts. Probabilities are under a balanced prior: each source is one
    domain and weighs the same, fake and real halves within it (see `_balanced_weights`).

    The size (100 trees of 15 leaves at learning rate 0.15) was chosen leaving one data set
    out, seeds 0-2 (training/README.md): against 300 trees of 31 leaves at 0.05, held-out AUC,
    share error and interval coverage are the same or better on average (AUC 0.725 / 0.917 /
    0.987 against 0.722 / 0.912 / 0.987 for Purba / Kaggle / InstaFake), and predictions cost
    4.3x less: every sampled account of every creator goes through it.

    `n_jobs` defaults to 1: on a shared 2-core machine LightGBM's OpenMP threads spin-wait and
    a 2-thread fit was measured 10x slower than a 1-thread one.
    """

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.15,
                 num_leaves: int = 15, min_child_samples: int = 20,
                 feature_fraction: float = 0.9, reg_lambda: float = 1.0,
                 mask_probability: float = 0.5, n_masked_copies: int = 1,
                 n_folds: int = 3, threshold: float = 0.5, share_method: str = SHARE_METHOD,
                 domain_error: float = DOMAIN_ERROR, monotone: bool = True, n_jobs: int = 1,
                 random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.mask_probability = mask_probability
        self.n_masked_copies = n_masked_copies
        self.n_folds = n_folds
        self.threshold = threshold
        self.share_method = share_method
        self.domain_error = domain_error
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

    def _train(self, features: pd.DataFrame, is_fake: np.ndarray, weights: np.ndarray,
               rng: np.random.Generator) -> lgb.Booster:
        copies = [features] + [_mask_optional_fields(features, self.mask_probability, rng)
                               for _ in range(self.n_masked_copies)]
        n_copies = len(copies)
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
        weights = _balanced_weights(labels, groups)
        rng = np.random.default_rng(self.random_state)
        strata = np.char.add(groups.astype("U"), labels.astype("U"))
        minimal = features.copy()
        minimal[list(NON_MINIMAL_FEATURES)] = np.nan
        out_of_fold = np.empty(len(features))
        out_of_fold_minimal = np.empty(len(features))
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for fit_idx, held_idx in folds.split(features, strata):
            booster = self._train(features.iloc[fit_idx], labels[fit_idx], weights[fit_idx],
                                  rng)
            out_of_fold[held_idx] = booster.predict(features.iloc[held_idx])
            out_of_fold_minimal[held_idx] = booster.predict(minimal.iloc[held_idx])

        self.sensitivity_, self.specificity_ = _error_rates(out_of_fold >= self.threshold,
                                                            labels)
        self.minimal_sensitivity_, self.minimal_specificity_ = _error_rates(
            out_of_fold_minimal >= self.threshold, labels)
        # Kept so that other quantification methods can be compared on the same footing.
        self.out_of_fold_ = {"p_fake": out_of_fold, "is_fake": labels, "weight": weights}
        self.share_estimator_ = FakeShareEstimator(
            method=self.share_method, threshold=self.threshold,
            domain_error=self.domain_error).fit(out_of_fold, labels, weights)
        self.field_drift_ = FieldDrift().fit(
            {name: features[name].to_numpy() for name in DRIFT_FIELDS}, labels, weights)
        self.n_accounts_ = len(features)
        self.booster_ = self._train(features, labels, weights, rng)
        self.feature_names_ = list(FEATURE_NAMES)
        self.n_features_in_ = len(FEATURE_NAMES)
        self.classes_ = np.array([False, True])
        return self

    def predict_fake_proba(self, accounts: pd.DataFrame) -> np.ndarray:
        """Probability that each account is fake under a balanced prior (see `audit_accounts`
        for the probability in a given audience)."""
        if not hasattr(self, "booster_"):
            raise RuntimeError("FollowerAccountClassifier is not fitted; call fit first")
        if len(accounts) == 0:
            return np.empty(0, dtype="float64")
        # One thread for a request's few hundred rows: OpenMP's start-up and spin-waiting on
        # a loaded machine cost more than the trees. A training batch of millions of accounts
        # is worth every core (same predictions either way).
        return self.predict_rows(_feature_matrix(accounts))

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """`predict_fake_proba` of a FEATURE_NAMES matrix. The compiled booster predicts when
        `compile` produced one; otherwise, with `accelerate`, LightGBM predicts each distinct
        account content (its feature row) once and it is remembered."""
        cache: BoundedCache | None = self.__dict__.get("_account_cache")
        # Compiled trees predict an account for less than the cache costs (63k new accounts:
        # 35 ms CPU to predict, 25 ms to look them up, 50 ms more to remember them): the cache
        # is for LightGBM's ~3 us an account (before compiling ends, without a compiler, in
        # training).
        if cache is None or len(X) == 0 or self.is_compiled:
            return self._predict_uncached(X)
        # The row's bytes are the key: the same content under any name or creator is one entry.
        keys = np.ascontiguousarray(X, dtype="float64").view(
            np.dtype((np.void, 8 * X.shape[1]))).ravel().tolist()
        found = cache.get_many(keys)
        out = np.fromiter((np.nan if value is None else value for value in found),
                          dtype="float64", count=len(found))
        missing = np.flatnonzero(np.isnan(out))  # a probability is never NaN
        if len(missing):
            out[missing] = self._predict_uncached(X[missing])
            cache.put_many((keys[i], float(out[i])) for i in missing.tolist())
        return out

    def _predict_uncached(self, X: np.ndarray) -> np.ndarray:
        compiled: CompiledBooster | None = self.__dict__.get("_compiled")
        one_core = AUDITING_BESIDE_OTHER_WORK.get()  # (the other core has work of this request)
        if compiled is not None:
            return compiled.predict_on(compiled.predictor, X) if one_core else compiled.predict(X)
        threads = getattr(self, "n_jobs", 1)
        if len(X) >= PARALLEL_PREDICT_MIN_ROWS and not one_core:
            threads = max(threads, os.cpu_count() or 1)
        return self.booster_.predict(X, num_threads=threads).astype("float64")

    def accelerate(self, cache_size: int = ACCOUNT_CACHE_SIZE) -> FollowerAccountClassifier:
        """Remember up to `cache_size` accounts' probabilities (for a long-lived scorer: the
        service, a CLI run over a dataset) while LightGBM predicts them (see `predict_rows`).
        Same predictions, computed once per content."""
        self._account_cache = BoundedCache(cache_size)
        return self

    def compile(self, directory=None) -> bool:
        """Predict with the booster compiled to native code (models.compiled) when it
        reproduces LightGBM's predictions to 1e-9; False (LightGBM kept) otherwise."""
        compiled = compile_booster(self.booster_, directory)
        if compiled is not None:
            self._compiled = compiled
        return compiled is not None

    @property
    def account_cache(self) -> BoundedCache | None:
        return self.__dict__.get("_account_cache")

    @property
    def is_compiled(self) -> bool:
        return self.__dict__.get("_compiled") is not None

    def __getstate__(self):
        state = super().__getstate__()
        return {key: value for key, value in state.items() if key not in _RUNTIME_ATTRIBUTES}

    def predict_proba(self, accounts: pd.DataFrame) -> np.ndarray:
        p_fake = self.predict_fake_proba(accounts)
        return np.column_stack([1.0 - p_fake, p_fake])

    def predict(self, accounts: pd.DataFrame) -> np.ndarray:
        return self.predict_fake_proba(accounts) >= self.threshold

    def audit(self, accounts: pd.DataFrame, group=None, n_groups: int | None = None
              ) -> AudienceAudit:
        """The one follower audit (`audit_accounts`) with this classifier."""
        return audit_accounts(self, accounts, group, n_groups)


def _error_rates(flagged: np.ndarray, is_fake: np.ndarray) -> tuple[float, float]:
    sensitivity = float(flagged[is_fake].mean()) if is_fake.any() else math.nan
    specificity = float((~flagged[~is_fake]).mean()) if (~is_fake).any() else math.nan
    return sensitivity, specificity


def classify_accounts(accounts: pd.DataFrame, p_fake, threshold: float = 0.5,
                      read: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Vendor audience classes: suspicious (p_fake >= threshold), else influencer (followers >
    5,000), else mass_follower (following > 1,500), else real. Missing counts never qualify.
    `read`: columns already read by `_numeric_values`, by name (an audit's domain check reads
    the same counts)."""
    p_fake = np.asarray(p_fake, dtype="float64")
    if p_fake.shape != (len(accounts),):
        raise ValueError(f"p_fake has shape {p_fake.shape}; expected ({len(accounts)},)")
    read = {} if read is None else read
    followers = read.get("followers")
    followers = _numeric_values(accounts, "followers") if followers is None else followers
    following = read.get("following")
    following = _numeric_values(accounts, "following") if following is None else following
    classes = np.full(len(p_fake), "real", dtype=object)
    # Lowest priority first, so that each later rule overrides the earlier ones.
    classes[following > MASS_FOLLOWER_MIN_FOLLOWING] = "mass_follower"
    classes[followers > INFLUENCER_MIN_FOLLOWERS] = "influencer"
    classes[p_fake >= threshold] = AUDIENCE_CLASS_SUSPICIOUS
    return classes


@dataclass
class AudienceAudit:
    """What an audit of follower accounts says, per account and per audience (group).

    p_fake: each account's probability of being fake *in its audience* (the classifier's
    balanced-prior probability moved to the audience's estimated share); p_fake_balanced: the
    classifier's own; classes: vendor audience classes (suspicious when p_fake >= 0.5);
    estimates: the share of every audience with its interval and domain check; warnings: the
    domain check in plain words per audience (None when it passes).
    """

    p_fake: np.ndarray
    p_fake_balanced: np.ndarray
    classes: np.ndarray
    estimates: ShareEstimates
    warnings: list[str | None]


def audit_accounts(scorer, accounts: pd.DataFrame, group=None,
                   n_groups: int | None = None, threshold: float = FLAG_THRESHOLD
                   ) -> AudienceAudit:
    """The one follower audit: score the accounts, estimate each audience's fake share with the
    scorer's quantifier, check the domain, and class the accounts at the audience's share.
    `group` (int codes, one per account) splits the accounts into `n_groups` audiences; None is
    one audience. The scorer needs `predict_fake_proba` and `share_estimator_`; its
    `field_drift_`, when present, runs the domain check."""
    p_balanced = np.asarray(scorer.predict_fake_proba(accounts), dtype="float64")
    if group is None:
        group, n_groups = np.zeros(len(p_balanced), dtype="int64"), 1
    group = np.asarray(group, dtype="int64")
    estimator = scorer.share_estimator_
    drift = getattr(scorer, "field_drift_", None)
    check = None
    fields = {}
    if drift is not None and len(p_balanced):
        fields = {name: _numeric_values(accounts, name) for name in DRIFT_FIELDS
                  if name in accounts.columns}
        if fields:
            check = functools.partial(drift.score, fields, group=group, n_groups=n_groups)
    estimates = estimator.estimate_groups(p_balanced, group, n_groups, check=check)
    p_fake = estimator.posterior(p_balanced, estimates.share[group])
    classes = classify_accounts(accounts, p_fake, threshold, read=fields)
    return AudienceAudit(p_fake=p_fake, p_fake_balanced=p_balanced, classes=classes,
                         estimates=estimates,
                         warnings=[drift_warning(f) for f in estimates.drifted_fields])


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
    FollowerAccountClassifier when it is trained.
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
            return _numeric_values(accounts, name) if name in accounts else np.full(n, np.nan)

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

    def audit(self, accounts: pd.DataFrame, group=None, n_groups: int | None = None
              ) -> AudienceAudit:
        return audit_accounts(self, accounts, group, n_groups)

    def fit(self, accounts: pd.DataFrame, is_fake) -> RuleBasedFollowerScorer:
        is_fake = np.asarray(is_fake, dtype=bool)
        p_fake = self.predict_fake_proba(accounts)
        flagged = p_fake >= FLAG_THRESHOLD
        self.sensitivity_ = float(flagged[is_fake].mean()) if is_fake.any() else np.nan
        self.specificity_ = float((~flagged[~is_fake]).mean()) if (~is_fake).any() else np.nan
        self._share_estimator = FakeShareEstimator(
            method="acc", domain_error=RULE_BASED_DOMAIN_ERROR).fit(p_fake, is_fake)
        return self
