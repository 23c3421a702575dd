"""Follower accounts (audience samples) drawn from per-class distributions fitted on real data.

The parameters come from `follower_account_params.json`, written by
`scripts/fit_follower_account_params.py` from the Purba and Kaggle labelled accounts (fitted
parameters only; the data never enters the repository).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from data.contract import TABLES
from data.synthetic.creators import CreatorState

PARAMS_PATH = Path(__file__).with_name("follower_account_params.json")
ACCOUNT_CLASSES = ("real", "mass_follower", "influencer", "fake_inactive", "fake_active")
FAKE_CLASSES = ("fake_inactive", "fake_active")
AUDIENCE_COLUMNS = tuple(c.name for c in TABLES["audience_sample"].columns)

# Username length is not published by the commercial-use sources (only the digit ratio is):
# lengths are an assumption, 5 + Poisson(6) for real accounts, 7 + Poisson(7) for fakes,
# capped at Instagram's 30 characters.
USERNAME_LENGTH = {"real": (5, 6.0), "fake": (7, 7.0)}
INFLUENCER_SHARE_OF_REAL = 0.02  # real followers that are themselves creators (assumption)
BOUGHT_INACTIVE_SHARE = 0.75  # bought followers: mostly inactive shells (assumption)

_CONSONANTS = np.frombuffer(b"bcdfghjklmnprstvwyz", dtype=np.uint8)
_VOWELS = np.frombuffer(b"aeiou", dtype=np.uint8)
_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
FIRST_NAMES = np.array(["Anna", "Lucas", "Emma", "Noah", "Mia", "Leo", "Sofia", "Hugo", "Chloe",
                        "Omar", "Lina", "Jonas", "Sara", "Mateo", "Julia", "Ravi", "Ines",
                        "Tom", "Aya", "Paul"], dtype=object)
LAST_NAMES = np.array(["Martin", "Silva", "Müller", "Rossi", "Garcia", "Smith", "Dubois", "Khan",
                       "Novak", "Costa", "Berg", "Lopez", "Meyer", "Bianchi", "Patel", "Moreau"],
                      dtype=object)


@cache
def load_params(path: Path = PARAMS_PATH) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run scripts/fit_follower_account_params.py")
    return json.loads(path.read_text())["classes"]


def _count(rng: np.random.Generator, spec: dict, n: int) -> np.ndarray:
    values = np.exp(rng.normal(spec["log_mu"], spec["log_sigma"], n))
    values = np.clip(np.round(values), max(spec["min"], 1), max(spec["max"], 1))
    return np.where(rng.random(n) < spec["zero_rate"], 0, values).astype("int64")


def _usernames(rng: np.random.Generator, fake: np.ndarray, digit_ratio: np.ndarray) -> np.ndarray:
    n, width = len(fake), 30
    base = np.where(fake, USERNAME_LENGTH["fake"][0], USERNAME_LENGTH["real"][0])
    lam = np.where(fake, USERNAME_LENGTH["fake"][1], USERNAME_LENGTH["real"][1])
    length = np.minimum(base + rng.poisson(lam), width)
    digits = np.minimum(np.round(digit_ratio * length), length - 1).astype("int64")
    digits = np.where(digit_ratio > 0, np.maximum(digits, 1), 0)
    position = np.arange(width)[None, :]
    # Real accounts read like names (consonant-vowel syllables); fakes are random letters.
    consonants = _CONSONANTS[rng.integers(0, len(_CONSONANTS), (n, width))]
    vowels = _VOWELS[rng.integers(0, len(_VOWELS), (n, width))]
    syllable = np.where(position % 2 == 0, consonants, vowels)
    random_letters = _LETTERS[rng.integers(0, len(_LETTERS), (n, width))]
    letters = np.where(fake[:, None], random_letters, syllable)
    chars = np.where(position < (length - digits)[:, None], letters,
                     _DIGITS[rng.integers(0, 10, (n, width))])
    chars = np.where(position < length[:, None], chars, 0).astype(np.uint8)
    return chars.view(f"S{width}").ravel().astype(str).astype(object)


def _full_names(rng: np.random.Generator, words: np.ndarray) -> np.ndarray:
    n = len(words)
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
    middle = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    names = np.where(words == 1, first, first + " " + last)
    names = np.where(words >= 3, first + " " + middle + " " + last, names)
    return np.where(words == 0, None, names)


def sample_accounts(rng: np.random.Generator, classes: np.ndarray) -> pd.DataFrame:
    """One account per entry of `classes` (indices into ACCOUNT_CLASSES), contract-typed."""
    params = load_params()
    n = len(classes)
    out = {f: np.zeros(n, dtype="int64") for f in ("followers", "following", "posts_count",
                                                    "bio_length")}
    flags = {f: np.zeros(n, dtype=bool) for f in ("has_profile_pic", "has_external_url",
                                                  "is_private")}
    digit_ratio = np.zeros(n)
    words = np.zeros(n, dtype="int64")
    for code, name in enumerate(ACCOUNT_CLASSES):
        mask = classes == code
        m = int(mask.sum())
        if not m:
            continue
        spec = params[name]
        for field in out:
            out[field][mask] = _count(rng, spec[field], m)
        for field in flags:
            flags[field][mask] = rng.random(m) < spec[field]
        ratio = spec["username_digit_ratio"]
        digit_ratio[mask] = np.where(rng.random(m) < ratio["zero_rate"], 0.0,
                                     rng.beta(ratio["beta_a"], ratio["beta_b"], m))
        shares = np.asarray(spec["full_name_words"])
        words[mask] = rng.choice(len(shares), m, p=shares / shares.sum())
    fake = np.isin(classes, [ACCOUNT_CLASSES.index(c) for c in FAKE_CLASSES])
    frame = pd.DataFrame({
        "creator_id": pd.array([None] * n, dtype="str"),
        "follower_id": pd.array([None] * n, dtype="str"),
        "username": pd.array(_usernames(rng, fake, digit_ratio), dtype="str"),
        **{f: pd.array(out[f], dtype="Int64") for f in ("followers", "following", "posts_count")},
        "has_profile_pic": pd.array(flags["has_profile_pic"], dtype="boolean"),
        "is_private": pd.array(flags["is_private"], dtype="boolean"),
        "bio_length": pd.array(out["bio_length"], dtype="Int64"),
        "has_external_url": pd.array(flags["has_external_url"], dtype="boolean"),
        "full_name": pd.array(_full_names(rng, words), dtype="str"),
    })
    return frame[list(AUDIENCE_COLUMNS)]


def generate_follower_accounts(n_real: int, n_fake: int, seed: int) -> pd.DataFrame:
    """Labelled synthetic follower accounts: audience_sample columns + `is_fake` (bool).

    Real accounts mix the real, mass-follower and influencer classes (78/20/2%, as in Purba's
    authentic accounts); fakes mix inactive and active fakes half and half.
    """
    if n_real < 0 or n_fake < 0:
        raise ValueError(f"n_real and n_fake must be >= 0, got {n_real}, {n_fake}")
    rng = np.random.default_rng([seed, 7_001])
    real_classes = rng.choice(3, n_real, p=[0.78, 0.20, 0.02])
    fake_classes = 3 + rng.integers(0, 2, n_fake)
    classes = np.concatenate([real_classes, fake_classes])
    classes = classes[rng.permutation(len(classes))]
    accounts = sample_accounts(rng, classes)
    accounts["follower_id"] = pd.array([f"acct{i:07d}" for i in range(len(classes))], dtype="str")
    accounts["is_fake"] = classes >= 3
    return accounts


def audience_classes(rng: np.random.Generator, state: CreatorState, creators: np.ndarray,
                     ) -> np.ndarray:
    """Class of each sampled follower of `creators` (creator index per account)."""
    u = rng.random(len(creators))
    fake_share = state.fake_share[creators]
    bought_part = np.divide(state.bought_share[creators], fake_share,
                            out=np.zeros(len(creators)), where=fake_share > 0)
    inactive_share = bought_part * BOUGHT_INACTIVE_SHARE + (1 - bought_part) * 0.5
    real_share = 1 - fake_share
    mass = real_share * state.mass_follower_share[creators]
    influencer = real_share * INFLUENCER_SHARE_OF_REAL
    v = rng.random(len(creators))
    return np.select(
        [u < fake_share,
         u < fake_share + mass,
         u < fake_share + mass + influencer],
        [np.where(v < inactive_share, 3, 4), 1, 2],
        0,
    )


def audience_sample(rng: np.random.Generator, state: CreatorState, share: float,
                    size_range: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(audience_sample table, truth with each account's class) for `share` of creators."""
    chosen = np.flatnonzero(rng.random(state.n) < share)
    sizes = rng.integers(size_range[0], size_range[1] + 1, len(chosen))
    creators = np.repeat(chosen, sizes)
    classes = audience_classes(rng, state, creators)
    accounts = sample_accounts(rng, classes)
    rank = np.arange(len(creators)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    creator_ids = state.creator_id[creators]
    accounts["creator_id"] = pd.array(creator_ids, dtype="str")
    # np.char.zfill fails on an empty array (a world with no audience samples).
    padded = np.char.zfill(rank.astype(str), 4).astype(object) if len(rank) else \
        np.empty(0, dtype=object)
    accounts["follower_id"] = pd.array(creator_ids + "-f" + padded, dtype="str")
    truth = pd.DataFrame({
        "creator_id": accounts["creator_id"], "follower_id": accounts["follower_id"],
        "account_class": pd.array(np.asarray(ACCOUNT_CLASSES, dtype=object)[classes],
                                  dtype="str"),
        "is_fake": classes >= 3,
    })
    return accounts, truth
