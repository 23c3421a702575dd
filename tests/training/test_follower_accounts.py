"""Training the shipped follower-account classifier (real data or synthetic fallback) and the
published-protocol benchmarks."""
from __future__ import annotations

import importlib
import logging

import numpy as np
import pandas as pd
import pytest

from data.real_datasets import SHARED_DIR_ENV, shared_datasets_available
from models.follower_account import audit_accounts
from training.follower_accounts import (
    benchmark_follower_classifier,
    benchmark_share_estimators,
    calibrate_domain_error,
    interval_coverage,
    labelled_frames,
    train_default_follower_classifier,
)

needs_shared = pytest.mark.skipif(
    not shared_datasets_available(),
    reason="shared labelled data sets (../shared/datasets) not found; set "
           "CREATORSCORE_SHARED_DIR to run the real-data training and benchmarks",
)
BOT_AND_PERSON = pd.DataFrame({
    "username": ["jess_48213977", "marie.dupont"], "followers": [20, 420],
    "following": [4000, 310], "posts_count": [0, 85], "has_profile_pic": [False, True]})


def _generator_available() -> bool:
    try:
        module = importlib.import_module("data.synthetic")
    except ImportError:
        return False
    return hasattr(module, "generate_follower_accounts")


@pytest.mark.skipif(not _generator_available(),
                    reason="data.synthetic.generate_follower_accounts not written yet")
def test_fallback_trains_on_synthetic_when_shared_data_absent(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(SHARED_DIR_ENV, str(tmp_path / "no_shared_here"))
    # MLflow / BentoML imports elsewhere in the suite may run logging.config with
    # disable_existing_loggers; the warning itself is what this test is about.
    monkeypatch.setattr(logging.getLogger("training.follower_accounts"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="training.follower_accounts"):
        classifier, info = train_default_follower_classifier(
            seed=3, synthetic_sizes=(3000, 1500), n_estimators=60)
    assert info["training_data"] == "synthetic"
    assert "SYNTHETIC" in caplog.text
    assert "shared data sets absent" in info["training_note"]
    assert info["n_accounts"] > 0 and 0 < info["n_fake"] < info["n_accounts"]
    assert 0.5 < classifier.sensitivity_ <= 1 and 0.5 < classifier.specificity_ <= 1
    p_fake = classifier.predict_fake_proba(BOT_AND_PERSON)
    assert p_fake[0] > p_fake[1]


@pytest.mark.real_data
@needs_shared
def test_default_classifier_trains_on_real_purba_and_kaggle_only(caplog):
    with caplog.at_level(logging.WARNING, logger="training.follower_accounts"):
        classifier, info = train_default_follower_classifier(n_estimators=40)
    assert info["training_data"] == "real"
    assert info["sources"] == {"purba": 43_307, "kaggle": 696}  # never InstaFake
    assert "SYNTHETIC" not in caplog.text
    assert 0.6 < info["sensitivity"] <= 1 and 0.6 < info["specificity"] <= 1
    p_fake = classifier.predict_fake_proba(BOT_AND_PERSON)
    assert p_fake[0] > 0.7 and p_fake[0] > p_fake[1] + 0.3


@pytest.mark.real_data
@needs_shared
def test_benchmark_table_runs_quick():
    table = benchmark_follower_classifier(quick=True)
    assert {"benchmark", "protocol", "metric", "ours", "published",
            "published_source"} <= set(table.columns)
    assert len(table) == 6
    assert table["ours"].between(0, 1).all()
    published = table.dropna(subset=["published"])
    assert len(published) == 3
    # Even the quick (small-grid, subsampled) run is well above chance on every benchmark.
    assert (table["ours"] > 0.6).all()
    assert np.isfinite(table["ours"]).all()


@pytest.fixture(scope="module")
def shipped_classifier():
    classifier, _ = train_default_follower_classifier()  # the shipped size
    return classifier


@pytest.mark.real_data
@needs_shared
def test_low_activity_real_people_are_not_swept_into_suspicious(shipped_classifier):
    """InstaFake (never trained on) real accounts with few followers, a few posts, a picture
    and a normal following count, in an audience 10% fake: they stay real at the audience's
    share, and the interval covers the truth."""
    instafake = labelled_frames()["instafake"]
    low_activity = instafake[~instafake["is_fake"]
                             & (instafake["followers"] <= 150) & (instafake["following"] <= 1000)
                             & (instafake["posts_count"] >= 3)
                             & instafake["has_profile_pic"].astype(bool)]
    assert len(low_activity) >= 50
    fakes = instafake[instafake["is_fake"]].sample(len(low_activity) // 9, random_state=0)
    audience = pd.concat([low_activity, fakes], ignore_index=True)
    truth = audience["is_fake"].to_numpy(dtype=bool)
    audit = audit_accounts(shipped_classifier, audience)
    swept = np.mean(audit.classes[~truth] == "suspicious")
    balanced_swept = np.mean(audit.p_fake_balanced[~truth] >= 0.5)
    assert swept <= 0.2 and swept <= balanced_swept
    estimates = audit.estimates
    assert estimates.low[0] <= truth.mean() <= estimates.high[0]


@pytest.mark.real_data
@needs_shared
def test_label_mapping_follows_one_definition_of_fake():
    frames = labelled_frames()
    purba = frames["purba"]
    # Purba: every bought class (active, inactive, spammer) is fake, authentic is real.
    mapping = purba.groupby("purba_class")["is_fake"].agg(["min", "max"])
    assert mapping.loc["r"].tolist() == [False, False]
    for bought in ("a", "i", "s"):
        assert mapping.loc[bought].tolist() == [True, True]
    assert frames["kaggle"]["is_fake"].mean() == pytest.approx(0.5)
    assert frames["instafake"]["is_fake"].sum() == 200


@pytest.mark.real_data
@needs_shared
def test_share_benchmark_runs_leave_one_dataset_out_quick():
    result = benchmark_share_estimators(quick=True)
    accounts = result["accounts"].set_index("held_out")
    assert set(accounts.index) == {"purba", "kaggle", "instafake"}
    assert accounts.loc["instafake", "auc"] > 0.9  # profile fields shared with a real audit
    methods = result["methods"]
    assert set(methods.index) == {"cc", "acc", "pcc", "pacc", "sld", "hdy"}
    # The off-domain term is what makes the interval cover: without it coverage collapses.
    calibration = result["calibration"]
    assert (calibration["coverage_without"] < 0.8).all()
    covered = calibration[[c for c in calibration if c.startswith("coverage_")
                           and c != "coverage_without"]].mean(axis=1)
    assert (covered >= 0.9 - 1e-9).all()


def test_the_calibrated_domain_error_is_the_smallest_that_covers_nominally():
    """The coverage check reads the estimator's own interval (models.quantification
    .share_interval): share +- sqrt((z se)^2 + e^2), clipped to [0, 1]."""
    audiences = pd.DataFrame({
        "method": "sld", "held_out": ["a"] * 5 + ["b"] * 5,
        "estimate": [0.10, 0.20, 0.30, 0.40, 0.50] * 2,
        "sampling_se": 0.0,
        # Misses of 0, 0.01, ..., 0.04 in set a and 0.05, ..., 0.09 in set b.
        "prevalence": [0.10, 0.21, 0.32, 0.43, 0.54, 0.15, 0.26, 0.37, 0.48, 0.59]})
    assert interval_coverage(audiences, 0.045).to_dict() == {"a": 1.0, "b": 0.0}
    assert interval_coverage(audiences, 0.085).to_dict() == {"a": 1.0, "b": 0.8}
    # The sampling error widens the interval too: z = 1.645 at 90%.
    wide = audiences.assign(sampling_se=0.1)
    assert interval_coverage(wide, 0.0).to_dict() == {"a": 1.0, "b": 1.0}
    calibrated = calibrate_domain_error(audiences).loc["sld"]
    assert 0.08 <= calibrated["domain_error"] < 0.09 + 1e-12
    assert calibrated["coverage_without"] == 0.1
