"""Scores (flat table + explanations) -> the nested JSON of the service's answers.

Per creator: engagement (rates, cohort percentile, cohort), authenticity (bought-followers
risk, fake share with its interval, audience classes, components with their evidence), niche
(top niches, fit with the campaign) and, with a campaign, conversion (expected conversions,
revenue and ROI with intervals). Explanations are grouped per model, then per signal family.

Columns are read column-wise once (numpy / lists); the per-creator loop only assembles dicts.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from data.domain import AUDIENCE_CLASSES, tier_names
from features.arrays import as_float, as_str, index_of
from models.matrix import FeatureMatrix
from models.quantification import DRIFT_TOLERANCE, failed_check_text

MODEL_NAMES = ("follower_account", "bought_followers", "fake_share", "conversions")
MODEL_OUTPUTS = {
    "bought_followers": "probability that the creator bought followers",
    "fake_share": "share of fake followers",
    "conversions": "expected conversions of the collaboration",
}
FAMILY_ORDER = ("engagement", "authenticity", "niche", "campaign")

# Risk components and the evidence columns each rests on (models.fake_risk).
COMPONENT_EVIDENCE = {
    "bought_followers_risk": ("growth_step_relative_size", "growth_step_days_before",
                              "growth_step_engagement_ratio"),
    "mass_follower_share": ("audience_sample_size",),
    "engagement_pod_score": ("comment_generic_share", "comment_duplicate_share",
                             "commenter_top10_share"),
    "growth_anomaly_score": ("growth_anomalies",),
}
# Engagement figures from the creator's feature row, reported as they are.
ENGAGEMENT_METRICS = ("engagement_rate_mean", "engagement_rate_median",
                      "engagement_rate_by_views_median",
                      "engagement_rate_by_views_median_cohort_percentile",
                      "engagement_rate_vs_cohort_median")


def _number(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _number_lists(columns: Mapping[str, np.ndarray], names: Sequence[str], rows: np.ndarray
                  ) -> dict[str, list]:
    """Columns `names` at positions `rows` as Python floats/None (all None for a column
    absent from `columns`), by name: one float block and one conversion to Python values for
    all of them (a few numpy calls per column cost ~0.2 ms an answer)."""
    present = [name for name in names if name in columns]
    block = np.empty((len(present), len(rows)))
    for position, name in enumerate(present):
        block[position] = np.asarray(columns[name], dtype="float64")[rows]
    out = dict(zip(present, _floats_or_none(block), strict=True))
    return {name: out[name] if name in out else [None] * len(rows) for name in names}


def _floats_or_none(values: np.ndarray) -> list:
    """Python floats, None where not finite (no Python call per value)."""
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _texts(columns: Mapping[str, np.ndarray], name: str, rows: np.ndarray) -> list:
    if name not in columns:
        return [None] * len(rows)
    values = np.asarray(columns[name], dtype=object)[rows]
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
            else str(v) for v in values.tolist()]


def _top_niches(text: str | None) -> list[dict]:
    if not text:
        return []
    out = []
    for part in text.split(";"):
        niche, _, score = part.partition(":")
        out.append({"niche": niche, "score": _number(score) if score else None})
    return out


def _interval(estimates: list, lows: list, highs: list, i: int) -> dict:
    return {"estimate": estimates[i], "low": lows[i], "high": highs[i]}


def group_explanations(items: Sequence[dict]) -> list[dict]:
    """[{model, output, families: [{family, total, unit, contributions}]}], models in the order
    they appear, families in FAMILY_ORDER."""
    by_model: dict[str, dict[str, list[dict]]] = {}
    for item in items:
        by_model.setdefault(item["model"], {}).setdefault(item["family"], []).append(item)
    out = []
    for model, families in by_model.items():
        ordered = sorted(families, key=lambda f: (FAMILY_ORDER.index(f)
                                                  if f in FAMILY_ORDER else len(FAMILY_ORDER), f))
        out.append({
            "model": model,
            "output": MODEL_OUTPUTS.get(model, model),
            "base_value": _number(next((item["base_value"] for family in families.values()
                                        for item in family if "base_value" in item), None)),
            "families": [{
                "family": family,
                "total": _number(families[family][0].get("family_contribution")),
                "unit": families[family][0].get("unit", ""),
                "contributions": [_contribution(item) for item in families[family]],
            } for family in ordered],
        })
    return out


def _contribution(item: dict) -> dict:
    value = item.get("value")
    return {
        "feature": str(item["feature"]),
        "label": str(item.get("label", item["feature"])),
        "value": value if isinstance(value, str) else _number(value),
        "contribution": _number(item.get("contribution")) or 0.0,
        "unit": str(item.get("unit", "")),
        "direction": str(item.get("direction", "")),
        "text": str(item.get("text", "")),
    }


def _positions(scored_ids: np.ndarray, creator_ids: Sequence[str]) -> np.ndarray:
    positions = index_of(list(creator_ids), np.asarray(scored_ids, dtype=object))
    if (positions < 0).any():
        missing = [c for c, p in zip(creator_ids, positions, strict=True) if p < 0][:5]
        raise RuntimeError(f"scores are missing creators {missing}")
    return positions


def creator_scores(scores, features: pd.DataFrame, dataset, order: Sequence[str],
                   explain: bool, audience_classes: dict[str, list] | None = None
                   ) -> list[dict]:
    """One nested answer per creator of `order` (request order).

    `features` is the bundle pipeline's feature frame the scores came from (same row order as
    `scores.columns`); `audience_classes` maps each class to per-row shares when the caller
    computed them (else read from the `audience_share_<class>` features).
    """
    table = scores.columns
    rows = _positions(table["creator_id"], order)
    # Read by position (same row order as the scores), from one float matrix: the scores'
    # own when they were computed from this very frame.
    matrix = scores.matrix if (getattr(scores, "matrix", None) is not None
                               and scores.features is features) else FeatureMatrix.of(features)
    feature_frame = {name: values for name, values in zip(
        matrix.columns, matrix.values.T, strict=True)}
    at = index_of(list(order), dataset.column("creators", "creator_id"))
    platforms = as_str(dataset.column("creators", "platform"))[at].tolist()
    tiers = tier_names(as_float(dataset.column("creators", "followers"))[at]).tolist()
    get = _number_lists(table, (
        "engagement_rate", "engagement_percentile", "cohort_size", "fake_follower_risk",
        "fake_share", "fake_share_low", "fake_share_high", "audience_quality", "niche_fit",
        "audience_domain_drift", "cost", "expected_conversions", "expected_conversions_low",
        "expected_conversions_high",
        "expected_revenue", "expected_revenue_low", "expected_revenue_high", "predicted_roi",
        "predicted_roi_low", "predicted_roi_high", "revenue_per_conversion",
        *COMPONENT_EVIDENCE, *(e for group in COMPONENT_EVIDENCE.values() for e in group)),
        rows)
    metrics = _number_lists(feature_frame, ENGAGEMENT_METRICS, rows)
    classes = audience_classes or dict(zip(AUDIENCE_CLASSES, _number_lists(
        feature_frame, [f"audience_share_{name}" for name in AUDIENCE_CLASSES], rows).values(),
        strict=True))
    campaign_ids = _texts(table, "campaign_id", rows)
    compensations = _texts(table, "compensation", rows)
    top_niches = _texts(table, "top_niches", rows)
    verdicts = _texts(table, "verdict", rows)
    out = []
    for i, creator_id in enumerate(order):
        campaign_id = campaign_ids[i]
        item = {
            "creator_id": str(creator_id),
            "engagement": {
                "engagement_rate": get["engagement_rate"][i],
                "percentile": get["engagement_percentile"][i],
                "cohort": {"platform": platforms[i], "tier": tiers[i],
                           "size": None if get["cohort_size"][i] is None
                           else int(get["cohort_size"][i])},
                "metrics": {name: values[i] for name, values in metrics.items()},
            },
            "authenticity": {
                "fake_follower_risk": get["fake_follower_risk"][i],
                "fake_share": _interval(get["fake_share"], get["fake_share_low"],
                                        get["fake_share_high"], i),
                "audience_check": _domain_check(get["audience_domain_drift"][i]),
                "audience_quality": get["audience_quality"][i],
                "verdict": verdicts[i],
                "audience_classes": {name: values[i] for name, values in classes.items()},
                "components": [
                    {"name": name, "value": get[name][i],
                     "evidence": {e: get[e][i] for e in evidence}}
                    for name, evidence in COMPONENT_EVIDENCE.items()],
            },
            "niche": {"top_niches": _top_niches(top_niches[i]), "fit": get["niche_fit"][i]},
            "conversion": None,
        }
        if campaign_id is not None:
            item["conversion"] = {
                "campaign_id": campaign_id,
                "compensation": compensations[i],
                "cost": get["cost"][i],
                "revenue_per_conversion": get["revenue_per_conversion"][i],
                "expected_conversions": _interval(
                    get["expected_conversions"], get["expected_conversions_low"],
                    get["expected_conversions_high"], i),
                "expected_revenue": _interval(get["expected_revenue"],
                                              get["expected_revenue_low"],
                                              get["expected_revenue_high"], i),
                "predicted_roi": _interval(get["predicted_roi"], get["predicted_roi_low"],
                                           get["predicted_roi_high"], i),
            }
        # Present (null) without explanations, as the response model serialises it.
        item["explanations"] = None
        if explain:
            key = (campaign_id, str(creator_id))
            item["explanations"] = group_explanations(scores.explanations.get(key, []))
        out.append(item)
    return out


def _domain_check(drift: float | None) -> dict:
    if drift is None:
        return {"passed": None, "drift": None, "fields": [], "warning": None}
    passed = drift <= DRIFT_TOLERANCE
    return {"passed": passed, "drift": drift, "fields": [],
            "warning": None if passed else failed_check_text()}


def model_descriptions(bundle, provenance: dict) -> dict:
    """What each model of the bundle is, with its version (the registered bundle version)."""
    version = provenance["model_version"]
    models = {
        "follower_account": {"output": "probability that a follower account is fake",
                             "estimator": type(getattr(bundle, "follower_classifier", None)
                                               ).__name__},
        "bought_followers": {"output": MODEL_OUTPUTS["bought_followers"],
                             "estimator": type(getattr(bundle, "risk_model", None)).__name__},
        "fake_share": {"output": MODEL_OUTPUTS["fake_share"],
                       "estimator": type(getattr(bundle, "risk_model", None)).__name__},
        "conversions": {"output": MODEL_OUTPUTS["conversions"],
                        "estimator": type(getattr(bundle, "conversion_model", None)).__name__},
    }
    for description in models.values():
        description["version"] = version
    return models
