"""A small generated world and a bundle trained on it, built once per test session.

Sizes are chosen so the whole training test suite stays well under a minute on 2 cores; the
follower-account classifier is a small one trained on generated accounts (single-threaded), as
the default one trained on the real data sets takes minutes.
"""
from __future__ import annotations

from functools import lru_cache

N_CREATORS = 300
N_CAMPAIGNS = 60
POSTS_PER_CREATOR = 30
FAST_CONFIG = {"conversion_rounds": 100, "risk_rounds": 60, "num_threads": 1}


@lru_cache(maxsize=1)
def small_world(seed: int = 1):
    from data.synthetic import generate_world

    return generate_world(N_CREATORS, N_CAMPAIGNS, seed=seed, posts_per_creator=POSTS_PER_CREATOR)


@lru_cache(maxsize=1)
def small_dataset():
    from data.loader import validate_tables

    return validate_tables(small_world().tables)


@lru_cache(maxsize=1)
def small_follower_classifier():
    from data.synthetic import generate_follower_accounts
    from models.follower_account import FollowerAccountClassifier

    accounts = generate_follower_accounts(1000, 500, 0)
    classifier = FollowerAccountClassifier(n_estimators=50, n_jobs=1, random_state=0)
    return classifier.fit(accounts, accounts["is_fake"].to_numpy(dtype=bool))


def fast_config(**overrides):
    from training.protocol import TrainConfig

    return TrainConfig(**{**FAST_CONFIG, **overrides})


@lru_cache(maxsize=1)
def small_train_result():
    from training.protocol import train_and_evaluate

    return train_and_evaluate(small_dataset(), fast_config(), truth=small_world().truth,
                              follower_classifier=small_follower_classifier(),
                              follower_info={"training_data": "synthetic (test)"})
