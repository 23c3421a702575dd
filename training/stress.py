"""Conversion figures against the truth of every candidate, and the stress suite of worlds.

A brand asks about every creator it shortlisted, while a conversion model learns only from the
ones brands hired. Generated worlds keep truth for each campaign's candidates, hired or not
(`truth["candidate_truth"]`, data.synthetic.assumptions), so a bundle can be judged where it
is used:

- `candidate_ndcg_at_10_roi`: candidates of a campaign ranked by predicted ROI, gains = true
  ROI (truth expected revenue / offered cost), NDCG@10, mean over campaigns;
- `candidate_roi_captured_at_10`: true ROI of the top 10 by predicted ROI / the oracle's top 10;
- `candidate_spearman`: Spearman of expected vs true expected conversions over the candidates;
- `candidate_level_ratio`: sum of expected / sum of true expected conversions (1 = right level);
- `candidate_interval_coverage` (+ `_worst_quintile` over quintiles of the prediction): share of
  realised conversions (the hires' own, a draw of the same noise for the others) inside the
  90% conversion interval;
- the same ranking figures for the followers / engagement-rate / tier-rule baselines
  (`baseline_<name>_candidate_...`).

The training protocol adds these figures to a run's metrics when the data has candidate truth,
and the retrain comparison reports them for champion and challenger on the same holdout.

`run_stress_suite` generates every world of a suite, trains a bundle on each by the validation
protocol (time split) and measures it on the candidates of its test campaigns.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.dataset import Dataset
from training import metrics
from training.evaluation import TOP_K, _worst_bin_coverage, baseline_scores, ranking_score

CANDIDATE_TRUTH = "candidate_truth"
RANKING_FIGURES = ("ndcg_at_10_roi", "roi_captured_at_10", "spearman")


def candidate_rows(truth: dict[str, pd.DataFrame] | None,
                   campaign_ids: Iterable[str]) -> pd.DataFrame | None:
    """The rows of truth["candidate_truth"] of `campaign_ids` (None without candidate truth
    or without a row)."""
    if not truth or CANDIDATE_TRUTH not in truth:
        return None
    table = truth[CANDIDATE_TRUTH]
    rows = table[table["campaign_id"].isin(list(campaign_ids))].reset_index(drop=True)
    return None if rows.empty else rows


# The columns of a planned collaboration: what collaboration features are computed from.
PLAN_COLUMNS = ["campaign_id", "creator_id", "compensation", "cost"]


def planned_candidates(candidates: pd.DataFrame) -> pd.DataFrame:
    """The (campaign_id, creator_id, compensation, cost) rows a `candidate_frame` scores."""
    required = (*PLAN_COLUMNS, "expected_conversions", "expected_revenue", "conversions")
    missing = [c for c in required if c not in candidates.columns]
    if missing:
        raise ValueError(f"candidate_truth: missing column(s) {missing}")
    return candidates[PLAN_COLUMNS].reset_index(drop=True)


def planned_with_candidates(name: str, collaborations: pd.DataFrame,
                            truth: dict[str, pd.DataFrame] | None,
                            campaign_ids: Iterable[str]) -> dict[str, pd.DataFrame]:
    """{name: the plans of `collaborations`, then "candidates": those of the candidates of
    `campaign_ids` when the data has candidate truth for them (generated worlds)}: the planned
    tables whose features training and the holdout comparison compute piece by piece
    (features.transform_in_pieces; its last table goes on the helper thread)."""
    planned = {name: collaborations[PLAN_COLUMNS]}
    candidates = candidate_rows(truth, campaign_ids)
    if candidates is not None:
        planned["candidates"] = planned_candidates(candidates)
    return planned


def candidate_frame(bundle, ds: Dataset, candidates: pd.DataFrame,
                    X: pd.DataFrame | None = None) -> pd.DataFrame:
    """`bundle`'s predictions for candidate truth rows, with the truth beside them.

    candidates: rows of truth["candidate_truth"] (campaign_id, creator_id, compensation, cost,
    expected_conversions, expected_revenue, conversions). X: the collaboration features of
    `planned_candidates(candidates)` by this bundle's pipeline (computed here when None).
    """
    planned = planned_candidates(candidates)
    if X is None:
        X = bundle.pipeline.transform_collaborations(ds, planned)
    table = bundle.score_features(ds, X, planned).table
    frame = table[["campaign_id", "creator_id", "cost", "revenue_per_conversion",
                   "expected_conversions", "expected_conversions_low",
                   "expected_conversions_high", "predicted_roi"]].copy()
    frame["followers"] = X["followers"].to_numpy()
    frame["engagement_rate"] = X["engagement_rate_median"].to_numpy()
    frame["tier_code"] = X["tier_code"].to_numpy()
    frame["true_expected_conversions"] = candidates["expected_conversions"].to_numpy(
        dtype="float64")
    cost = frame["cost"].to_numpy(dtype="float64")
    revenue = candidates["expected_revenue"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["true_roi"] = np.where(cost > 0, revenue / cost, 0.0)
    frame["conversions"] = candidates["conversions"].to_numpy(dtype="float64")
    if "hired" in candidates.columns:
        frame["hired"] = candidates["hired"].to_numpy(dtype=bool)
    return frame


def _ranking(frame: pd.DataFrame, count_score: np.ndarray, roi_score: np.ndarray,
             prefix: str) -> dict[str, float]:
    groups = frame["campaign_id"].to_numpy(dtype=object)
    true_roi = frame["true_roi"].to_numpy(dtype="float64")
    roi_rank = ranking_score(roi_score)
    return {
        f"{prefix}ndcg_at_10_roi": metrics.mean_ndcg_at_k(true_roi, roi_rank, groups, TOP_K),
        f"{prefix}roi_captured_at_10": metrics.roi_captured(true_roi, roi_rank, groups, TOP_K),
        f"{prefix}spearman": metrics.spearman(frame["true_expected_conversions"], count_score),
    }


def candidate_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """The figures of the module docstring from a `candidate_frame`."""
    mu = frame["expected_conversions"].to_numpy(dtype="float64")
    truth = frame["true_expected_conversions"].to_numpy(dtype="float64")
    y = frame["conversions"].to_numpy(dtype="float64")
    low = frame["expected_conversions_low"].to_numpy(dtype="float64")
    high = frame["expected_conversions_high"].to_numpy(dtype="float64")
    out = {
        "candidate_n": float(len(frame)),
        "candidate_n_campaigns": float(frame["campaign_id"].nunique()),
        "candidate_level_ratio": float(mu.sum() / truth.sum()) if truth.sum() > 0 else np.nan,
        "candidate_interval_coverage": metrics.interval_coverage(y, low, high),
        "candidate_interval_coverage_worst_quintile": _worst_bin_coverage(y, mu, low, high),
    }
    out.update(_ranking(frame, mu, frame["predicted_roi"].to_numpy(dtype="float64"),
                        "candidate_"))
    if "hired" in frame.columns:
        hired = frame["hired"].to_numpy(dtype=bool)
        for name, mask in (("hired", hired), ("not_hired", ~hired)):
            if mask.any() and truth[mask].sum() > 0:
                out[f"candidate_level_ratio_{name}"] = float(mu[mask].sum() / truth[mask].sum())
    for name, (count_score, roi_score) in baseline_scores(frame).items():
        out.update(_ranking(frame, count_score, roi_score, f"baseline_{name}_candidate_"))
    return out


def evaluate_candidates(bundle, ds: Dataset, truth: dict[str, pd.DataFrame] | None,
                        campaign_ids: Iterable[str], X: pd.DataFrame | None = None
                        ) -> dict[str, float]:
    """candidate_metrics of `bundle` on the candidates of `campaign_ids` ({} without truth).
    X: the collaboration features of those candidates (see `candidate_frame`), when known."""
    rows = candidate_rows(truth, campaign_ids)
    if rows is None:
        return {}
    return candidate_metrics(candidate_frame(bundle, ds, rows, X))


# --- the suite -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SuiteSize:
    """World size of a stress run (the defaults run the whole suite in minutes on 2 cores)."""

    creators: int = 3_000
    campaigns: int = 400
    posts_per_creator: int = 30
    seed: int = 0


@dataclass
class WorldResult:
    name: str
    description: str
    metrics: dict[str, float]
    seconds: float
    train_metrics: dict[str, float] = field(default_factory=dict)


def run_world(assumptions, size: SuiteSize, config, follower_classifier,
              follower_info: dict | None = None) -> WorldResult:
    """Generate one world, train by the validation protocol, measure on its test candidates."""
    from data.loader import validate_tables
    from data.synthetic import generate_world
    from training.protocol import train_and_evaluate

    started = time.perf_counter()
    world = generate_world(size.creators, size.campaigns, seed=size.seed,
                           posts_per_creator=size.posts_per_creator, assumptions=assumptions)
    ds = validate_tables(world.tables)
    result = train_and_evaluate(ds, config, world.truth, follower_classifier, follower_info)
    figures = {k: v for k, v in result.metrics.items() if "candidate_" in k}
    return WorldResult(assumptions.name, assumptions.description, figures,
                       time.perf_counter() - started, result.metrics)


def run_stress_suite(worlds, size: SuiteSize, config, follower_classifier,
                     follower_info: dict | None = None,
                     progress: Callable[[str], None] = lambda _: None) -> list[WorldResult]:
    results = []
    for assumptions in worlds:
        progress(assumptions.name)
        results.append(run_world(assumptions, size, config, follower_classifier, follower_info))
    return results


def suite_average(results: list[WorldResult]) -> dict[str, float]:
    """Mean of every figure over the worlds (NaN-aware)."""
    keys = sorted({k for r in results for k in r.metrics})
    return {k: float(np.nanmean([r.metrics.get(k, np.nan) for r in results])) for k in keys}
