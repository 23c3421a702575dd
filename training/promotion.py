"""Champion vs challenger: both scored on the same holdout, then the promotion decision.

`compare_on_holdout` scores the champion and the challenger on the challenger's test campaigns
(the most recent) and its held-out audited creators; `decide_promotion` promotes only if the
primary metric improves enough and no guardrail metric gets worse beyond its tolerance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from data.dataset import Dataset
from features import transform_in_pieces
from models.bundle import ScoringBundle
from training.evaluation import evaluate_predictions, risk_metrics
from training.protocol import (
    Progress,
    TrainResult,
    labelled_collaborations,
    no_progress,
    prediction_frame,
)
from training.stress import evaluate_candidates, planned_with_candidates
from training.training_data import TrainingData

PRIMARY_METRICS = {"poisson_deviance": False, "ndcg_at_10": True}  # name -> higher is better


@dataclass(frozen=True)
class Guardrail:
    """A metric the challenger may not worsen by more than `tolerance` (absolute).

    Values are capped at `cap` before comparing (coverage above the nominal level is no better).
    """

    metric: str
    higher_is_better: bool = True
    tolerance: float = 0.02
    cap: float | None = None


def default_guardrails(nominal_coverage: float = 0.9) -> tuple[Guardrail, ...]:
    return (
        Guardrail("conversion_interval_coverage", True, 0.03, cap=nominal_coverage),
        Guardrail("fake_share_interval_coverage", True, 0.05, cap=nominal_coverage),
        Guardrail("fake_share_mae", False, 0.02),
        Guardrail("risk_auc", True, 0.02),
        Guardrail("ndcg_at_10", True, 0.02),
        Guardrail("poisson_deviance", False, 0.02),
    )


@dataclass
class PromotionDecision:
    promote: bool
    primary_metric: str
    improvement: float  # relative improvement of the primary metric (positive = better)
    reasons: list[str] = field(default_factory=list)


def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def decide_promotion(champion: dict[str, float], challenger: dict[str, float],
                     primary_metric: str = "poisson_deviance", min_improvement: float = 0.01,
                     guardrails: tuple[Guardrail, ...] | None = None) -> PromotionDecision:
    """Promote only if the primary metric improves strictly and by at least `min_improvement`
    (relative: (champion - challenger) / |champion| for Poisson deviance, (challenger -
    champion) / |champion| for NDCG@10) and no guardrail metric is worse beyond its tolerance.
    A guardrail the champion has but the challenger lacks (NaN) blocks promotion.
    """
    if primary_metric not in PRIMARY_METRICS:
        raise ValueError(f"primary metric must be one of {sorted(PRIMARY_METRICS)}")
    higher = PRIMARY_METRICS[primary_metric]
    guardrails = default_guardrails() if guardrails is None else guardrails
    reasons: list[str] = []
    old, new = champion.get(primary_metric), challenger.get(primary_metric)
    if not (_finite(old) and _finite(new)):
        return PromotionDecision(False, primary_metric, float("nan"),
                                 [f"{primary_metric} missing for champion or challenger"])
    delta = (new - old) if higher else (old - new)
    improvement = delta / abs(old) if old != 0 else (math.inf if delta > 0 else 0.0)
    # Strictly better is required even with min_improvement 0: a tie keeps the champion.
    ok = improvement >= min_improvement and improvement > 0
    reasons.append(f"{primary_metric}: champion {old:.4f}, challenger {new:.4f}, improvement "
                   f"{100 * improvement:+.2f}% (needs >= {100 * min_improvement:.2f}%)")
    for rail in guardrails:
        if rail.metric == primary_metric:
            continue
        old_v, new_v = champion.get(rail.metric), challenger.get(rail.metric)
        if not _finite(old_v):
            continue
        if not _finite(new_v):
            ok = False
            reasons.append(f"guardrail {rail.metric}: challenger has no value")
            continue
        if rail.cap is not None:
            old_v, new_v = min(old_v, rail.cap), min(new_v, rail.cap)
        worse_by = (old_v - new_v) if rail.higher_is_better else (new_v - old_v)
        if rail.metric == "poisson_deviance":
            worse_by = worse_by / abs(old_v) if old_v else worse_by  # relative for deviance
        if worse_by > rail.tolerance:
            ok = False
            reasons.append(f"guardrail {rail.metric}: worse by {worse_by:.4f} "
                           f"(tolerance {rail.tolerance})")
    return PromotionDecision(ok, primary_metric, float(improvement), reasons)



@dataclass
class Comparison:
    champion: dict[str, float]
    challenger: dict[str, float]
    decision: PromotionDecision
    holdout_campaigns: tuple[str, ...]


def evaluate_on_holdout(bundle: ScoringBundle, data: TrainingData, holdout: pd.DataFrame,
                        train_reference: pd.DataFrame | None, labels: pd.DataFrame | None,
                        truth: dict[str, pd.DataFrame] | None = None) -> dict[str, float]:
    """Metrics of any bundle on the given holdout collaborations (and, in generated worlds,
    every candidate of their campaigns) and audited creators; its features computed piece by
    piece by its own pipeline."""
    campaigns = holdout["campaign_id"].unique()
    planned = planned_with_candidates("holdout", holdout, truth, campaigns)
    frames = transform_in_pieces(bundle.pipeline, data.pieces(), planned)
    frame = prediction_frame(bundle, data.tables, holdout, frames["holdout"], truth)
    out = evaluate_predictions(frame, train_reference)
    out.update(evaluate_candidates(bundle, data.tables, truth, campaigns,
                                   frames.get("candidates")))
    if labels is not None and len(labels):
        risk = bundle.risk_model.predict(frames["creators"].loc[labels["creator_id"].to_numpy()])
        out.update(risk_metrics(labels, risk))
    return out


def compare_on_holdout(champion: ScoringBundle, challenger: TrainResult,
                       data: Dataset | TrainingData,
                       truth: dict[str, pd.DataFrame] | None = None,
                       primary_metric: str = "poisson_deviance", min_improvement: float = 0.01,
                       guardrails=None, progress: Progress = no_progress) -> Comparison:
    """Score champion and challenger on the challenger's test campaigns (the most recent) and
    its held-out audited creators; decide the promotion."""
    data = data if isinstance(data, TrainingData) else TrainingData.of_dataset(data)
    collabs = labelled_collaborations(data.tables)
    slices = challenger.split.slice_of(collabs["campaign_id"].to_numpy(dtype=object))
    holdout = collabs[slices == "test"].reset_index(drop=True)
    # Baseline count scales are fitted on the challenger's training collaborations.
    train_reference = challenger.train_predictions
    labels = None
    if not challenger.risk_test.empty:
        labels = challenger.risk_test.reset_index()[["creator_id", "fake_follower_share",
                                                    "bought_followers"]]
    progress("evaluating the champion on the holdout")
    champion_metrics = evaluate_on_holdout(champion, data, holdout, train_reference, labels, truth)
    # The challenger was scored on these very rows while it was trained: reuse that.
    challenger_metrics = evaluate_predictions(challenger.test_predictions, train_reference)
    challenger_metrics.update({k: v for k, v in challenger.metrics.items()
                               if "candidate_" in k})
    if labels is not None:
        challenger_metrics.update(risk_metrics(labels, challenger.risk_test.drop(
            columns=["fake_follower_share", "bought_followers"])))
    nominal = 1.0 - challenger.config.alpha
    decision = decide_promotion(champion_metrics, challenger_metrics, primary_metric,
                                min_improvement,
                                guardrails if guardrails is not None
                                else default_guardrails(nominal))
    return Comparison(champion_metrics, challenger_metrics, decision,
                      tuple(challenger.split.test))
