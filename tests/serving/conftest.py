"""A tiny trained champion in a temporary MLflow store, shared by the serving tests.

The world is small (a few hundred creators, 30 posts each) and the models few-tree, so the
session fixture stays well under a minute on a 2-core CI machine; the point here is the
service's behaviour, not model quality.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd
import pytest

from models.follower_account import RuleBasedFollowerScorer

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


@dataclass
class Champion:
    tracking_uri: str
    tables: dict[str, pd.DataFrame]
    bundle: object
    version: str


def _train_champion(tracking_uri: str, tables: dict[str, pd.DataFrame], data_dir) -> str:
    """`creatorscore train`'s job (training.jobs.run_train) on the world written to data_dir;
    the first registered version becomes the champion."""
    from data.io import write_dataset
    from data.synthetic.audience import generate_follower_accounts
    from training.jobs import run_train
    from training.protocol import TrainConfig

    write_dataset(tables, data_dir)
    # The documented rule-based follower scorer keeps the fixture fast; the service reads
    # whichever scorer the bundle's pipeline holds.
    accounts = generate_follower_accounts(1_000, 1_000, seed=0)
    scorer = RuleBasedFollowerScorer().fit(accounts.drop(columns="is_fake"), accounts["is_fake"])
    config = TrainConfig(conversion_rounds=40, risk_rounds=40, num_threads=1)
    outcome = run_train(data_dir, config, tracking_uri=tracking_uri, follower_classifier=scorer,
                        follower_info={"scorer": "rule-based (test fixture)"}, log_plots=False)
    assert outcome.promoted, "the first trained version should become the champion"
    return outcome.version.version


@pytest.fixture(scope="session")
def champion(tmp_path_factory) -> Champion:
    from data.synthetic import generate_world
    from store.registry import load_champion

    root = tmp_path_factory.mktemp("mlflow_store")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    world = generate_world(n_creators=240, n_campaigns=10, seed=11, posts_per_creator=30)
    _train_champion(tracking_uri, world.tables, root / "world")
    bundle, info = load_champion(tracking_uri)
    return Champion(tracking_uri=tracking_uri, tables=world.tables, bundle=bundle,
                    version=str(info.version))


@pytest.fixture(scope="session")
def client(champion, tmp_path_factory):
    """The service's ASGI app in process (Starlette TestClient), over the test champion, with
    small request limits. One per session: BentoML registers its Prometheus metrics once per
    process, so a second app in the same process cannot be built."""
    from starlette.testclient import TestClient

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
        monkeypatch.setenv("CREATORSCORE_MAX_POSTS_PER_CREATOR", "40")
        monkeypatch.setenv("CREATORSCORE_MAX_CREATORS", "300")
        monkeypatch.setenv("CREATORSCORE_CANDIDATE_DIR",
                           str(tmp_path_factory.mktemp("candidate_sets")))
        monkeypatch.delenv("CREATORSCORE_API_KEY", raising=False)
        from serving.service import CreatorScore

        with TestClient(CreatorScore.to_asgi()) as test_client:
            yield test_client
