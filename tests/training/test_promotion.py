import math

import numpy as np
import pandas as pd
import pytest

from training.evaluation import evaluate_predictions
from training.promotion import Guardrail, decide_promotion

CHAMPION = {"poisson_deviance": 1.00, "ndcg_at_10": 0.60, "conversion_interval_coverage": 0.90,
            "risk_auc": 0.85}


def test_better_challenger_is_promoted():
    challenger = {**CHAMPION, "poisson_deviance": 0.90}
    decision = decide_promotion(CHAMPION, challenger, min_improvement=0.05)
    assert decision.promote
    assert decision.improvement == pytest.approx(0.10)


def test_worse_or_marginal_challenger_is_not_promoted():
    assert not decide_promotion(CHAMPION, {**CHAMPION, "poisson_deviance": 1.10}).promote
    marginal = {**CHAMPION, "poisson_deviance": 0.99}
    assert not decide_promotion(CHAMPION, marginal, min_improvement=0.05).promote


def test_a_worse_fake_share_mae_blocks_promotion():
    """Issue 14: a challenger whose fake-share MAE went from 0.040 to 0.225 was promoted."""
    champion = {**CHAMPION, "fake_share_mae": 0.040}
    challenger = {**champion, "poisson_deviance": 0.80, "fake_share_mae": 0.225}
    decision = decide_promotion(champion, challenger, min_improvement=0.01)
    assert not decision.promote
    assert any("fake_share_mae" in r for r in decision.reasons)
    within = {**challenger, "fake_share_mae": 0.050}
    assert decide_promotion(champion, within, min_improvement=0.01).promote


def test_guardrail_blocks_better_primary():
    challenger = {**CHAMPION, "poisson_deviance": 0.80, "risk_auc": 0.70}
    decision = decide_promotion(CHAMPION, challenger, min_improvement=0.01)
    assert not decision.promote
    assert any("risk_auc" in r for r in decision.reasons)
    missing = {**CHAMPION, "poisson_deviance": 0.80, "risk_auc": float("nan")}
    assert not decide_promotion(CHAMPION, missing).promote


def test_coverage_above_nominal_is_capped():
    champion = {**CHAMPION, "conversion_interval_coverage": 0.99}
    challenger = {**CHAMPION, "poisson_deviance": 0.8, "conversion_interval_coverage": 0.89}
    assert decide_promotion(champion, challenger).promote  # 0.90 cap vs 0.89: within 0.03


def test_ndcg_primary_and_unknown_metric():
    challenger = {**CHAMPION, "ndcg_at_10": 0.66}
    decision = decide_promotion(CHAMPION, challenger, primary_metric="ndcg_at_10",
                                min_improvement=0.05)
    assert decision.promote and decision.improvement == pytest.approx(0.1)
    with pytest.raises(ValueError):
        decide_promotion(CHAMPION, challenger, primary_metric="accuracy")
    rails = (Guardrail("ndcg_at_10", True, 0.0),)
    worse = {**CHAMPION, "poisson_deviance": 0.5, "ndcg_at_10": 0.59}
    assert not decide_promotion(CHAMPION, worse, guardrails=rails).promote


def _prediction_frame(rng, n_campaigns=12, per_campaign=30, noise=0.0):
    rows = n_campaigns * per_campaign
    followers = rng.lognormal(10, 1.2, rows)
    rate = rng.gamma(2.0, 0.5, rows)
    mu_true = followers * 1e-4 * rate
    y = rng.poisson(mu_true)
    cost = followers * 0.02
    mu_pred = mu_true * np.exp(rng.normal(0, noise, rows))
    price = 40.0
    return pd.DataFrame({
        "campaign_id": np.repeat([f"c{i}" for i in range(n_campaigns)], per_campaign),
        "creator_id": [f"k{i}" for i in range(rows)],
        "conversions": y, "expected_conversions": mu_pred,
        "expected_conversions_low": np.maximum(mu_pred - 2 * np.sqrt(mu_pred), 0),
        "expected_conversions_high": mu_pred + 2 * np.sqrt(mu_pred) + 1,
        "cost": cost, "revenue_per_conversion": price, "realised_revenue": y * price,
        "expected_revenue": mu_pred * price, "expected_revenue_low": np.nan,
        "expected_revenue_high": np.nan, "predicted_roi": mu_pred * price / cost,
        "predicted_roi_low": np.nan, "predicted_roi_high": np.nan,
        "followers": followers, "engagement_rate": rate * 0.01, "tier_code": 1.0,
        "true_roi": mu_true * price / cost,
    })


def test_evaluate_predictions_beats_baselines_on_informative_model():
    rng = np.random.default_rng(0)
    test = _prediction_frame(rng, noise=0.1)
    train = _prediction_frame(rng, noise=0.1)
    result = evaluate_predictions(test, train)
    assert result["roi_captured_at_10"] > 0.9
    assert result["roi_captured_at_10"] > result["baseline_followers_roi_captured_at_10"]
    assert result["poisson_deviance"] < result["baseline_followers_poisson_deviance"]
    assert 0 <= result["conversion_interval_coverage"] <= 1
    assert not math.isnan(result["ndcg_at_10"])
    noisy = evaluate_predictions(_prediction_frame(np.random.default_rng(0), noise=2.0), train)
    assert noisy["roi_captured_at_10"] < result["roi_captured_at_10"]
