"""Fit the per-class follower-account distributions used by the synthetic generator.

Reads the public labelled data sets in ../shared/datasets (Purba 4-class, Kaggle), through
`data.real_datasets`, and writes ONLY fitted parameters (never rows) to
`data/synthetic/follower_account_params.json`:

- count fields (followers, following, posts_count, bio_length): a zero rate, then a log-normal
  (mu, sigma of log(value)) for the positive values, clipped to the class's 0.5th percentile of
  positive values and 99.5th percentile;
- flags (has_profile_pic, has_external_url, is_private): Bernoulli rates;
- username digit ratio (digits / length): a zero rate, then a Beta(a, b) by moments;
- full-name word count: a categorical distribution over 0..4 (4 = "4 or more").

Classes (vendor audience classes, domain.md): `real` (Purba authentic, following <= 1,500 and
followers <= 5,000), `mass_follower` (authentic, following > 1,500), `influencer` (authentic,
followers > 5,000), `fake_inactive` (Purba inactive fake: the typical bought follower),
`fake_active` (Purba active fake + spammer). Purba has no usernames or privacy flag: those come
from Kaggle (genuine -> real classes, fake -> fake classes).

Run: /work/venv/bin/python scripts/fit_follower_account_params.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from data.domain import INFLUENCER_MIN_FOLLOWERS, MASS_FOLLOWER_MIN_FOLLOWING  # noqa: E402
from data.real_datasets import KAGGLE_FILES, load_kaggle, load_purba  # noqa: E402

OUTPUT = REPO_ROOT / "data" / "synthetic" / "follower_account_params.json"
COUNT_FIELDS = ("followers", "following", "posts_count", "bio_length")
FLAG_FIELDS = ("has_profile_pic", "has_external_url")


def fit_count(values: pd.Series) -> dict:
    x = values.dropna().to_numpy(dtype="float64")
    positive = x[x > 0]
    logs = np.log(positive) if len(positive) else np.array([0.0])
    return {
        "zero_rate": round(float(np.mean(x == 0)), 5),
        "log_mu": round(float(logs.mean()), 5),
        "log_sigma": round(float(max(logs.std(ddof=1) if len(logs) > 1 else 0.0, 0.05)), 5),
        "min": float(np.quantile(positive, 0.005)) if len(positive) else 0.0,
        "max": float(np.quantile(x, 0.995)),
        "n": int(len(x)),
    }


def fit_ratio(values: pd.Series) -> dict:
    x = values.dropna().to_numpy(dtype="float64")
    positive = x[x > 0]
    mean, var = positive.mean(), positive.var(ddof=1)
    common = mean * (1 - mean) / var - 1  # Beta method of moments
    return {"zero_rate": round(float(np.mean(x == 0)), 5), "beta_a": round(float(mean * common), 5),
            "beta_b": round(float((1 - mean) * common), 5), "n": int(len(x))}


def fit_word_counts(values: pd.Series) -> list[float]:
    counts = values.dropna().astype("int64").clip(upper=4)
    shares = counts.value_counts(normalize=True).reindex(range(5), fill_value=0.0)
    return [round(float(v), 5) for v in shares]


def purba_classes(purba: pd.DataFrame) -> dict[str, pd.DataFrame]:
    authentic = purba[purba["purba_class"] == "r"]
    influencer = authentic["followers"] > INFLUENCER_MIN_FOLLOWERS
    mass = (authentic["following"] > MASS_FOLLOWER_MIN_FOLLOWING) & ~influencer
    return {
        "real": authentic[~influencer & ~mass],
        "mass_follower": authentic[mass],
        "influencer": authentic[influencer],
        "fake_inactive": purba[purba["purba_class"] == "i"],
        "fake_active": purba[purba["purba_class"].isin(["a", "s"])],
    }


def fit_params(purba: pd.DataFrame, kaggle: pd.DataFrame) -> dict:
    genuine, fake = kaggle[~kaggle["is_fake"]], kaggle[kaggle["is_fake"]]
    classes = {}
    for name, rows in purba_classes(purba).items():
        names = fake if name.startswith("fake") else genuine
        classes[name] = {
            "n_purba": int(len(rows)),
            **{f: fit_count(rows[f]) for f in COUNT_FIELDS},
            **{f: round(float(rows[f].astype("float64").mean()), 5) for f in FLAG_FIELDS},
            "is_private": round(float(names["is_private"].astype("float64").mean()), 5),
            "username_digit_ratio": fit_ratio(names["username_digit_ratio"]),
            "full_name_words": fit_word_counts(names["full_name_word_count"]),
        }
    return {
        "description": "Fitted per-class follower-account distributions (parameters only, no "
                       "rows). Written by scripts/fit_follower_account_params.py.",
        "sources": {"purba": "purba_instagram_fake/user_fake_authentic_4class.csv",
                    "kaggle": "kaggle_instagram_fake/train.csv + test.csv"},
        "classes": classes,
    }


def main() -> None:
    purba = load_purba()
    kaggle = pd.concat([load_kaggle(split=s) for s in KAGGLE_FILES], ignore_index=True)
    params = fit_params(purba, kaggle)
    OUTPUT.write_text(json.dumps(params, indent=1) + "\n")
    print(f"wrote {OUTPUT}")
    for name, p in params["classes"].items():
        print(f"{name:14s} n={p['n_purba']:6d} followers mu={p['followers']['log_mu']:.2f} "
              f"following mu={p['following']['log_mu']:.2f} "
              f"posts zero={p['posts_count']['zero_rate']:.2f}")


if __name__ == "__main__":
    main()
