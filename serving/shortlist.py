"""The brand manager's shortlist: candidates for a campaign -> the engine's /rank answer, laid
out for the page (serving.app), `creatorscore rank` and its reports (serving.report).

Every number comes from `ScoringEngine.rank_payload` and `score_payload`, the code path of
/rank and /score (and of `creatorscore score`, through `ScoringBundle.score_features`): this
module only builds the request, validates it with the service's request models and reads the
answer. Nothing here ranks, selects or scores.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError

from data.contract import PLATFORMS
from data.domain import TIERS
from features.benchmarks import cohort_codes
from models.fake_risk import verdict_reason
from serving.errors import RequestError, problem
from serving.payloads import campaign_record, collaboration_plans, creator_records, records
from serving.ranking import OBJECTIVES
from serving.schemas import CampaignRecord, CreatorRecords, PlannedCollaboration

# Contributions per model in the creator view (serving.engine.MAX_TOP_N): as many as allowed,
# so the waterfall lists every signal family.
DETAIL_TOP_N = 20
# Contributions per model explained in the shortlist's creator sections (static report).
SHORTLIST_TOP_N = 5
# Campaign fields a brand manager may change before ranking (the rest identify the campaign).
EDITABLE_CAMPAIGN_FIELDS = ("brief", "niche", "target_countries", "product_price")
# serving/models name the exposure offset's explanation item "<feature> (exposure)".
EXPOSURE_SUFFIX = " (exposure)"
OBJECTIVE_WORDS = {
    "roi": "predicted ROI (expected revenue / cost); the selection maximises expected profit",
    "profit": "expected profit (revenue - cost)",
    "conversions": "expected conversions",
    "revenue": "expected revenue",
}

_CREATORS = TypeAdapter(list[CreatorRecords])
_CAMPAIGN = TypeAdapter(CampaignRecord)
_PLANS = TypeAdapter(list[PlannedCollaboration])


# ------------------------------------------------------------------ candidates


@dataclass
class CandidateSource:
    """Candidates a brand manager ranks: validated contract tables (a dataset directory, a zip
    or CSV files) or one request body (as `creatorscore example-request` writes it)."""

    label: str
    tables: dict[str, pd.DataFrame] | None = None
    body: dict | None = None

    def campaigns(self) -> list[dict]:
        """The campaign records that have planned candidates, each with `candidates` (count)
        and `planned_cost` (their total cost)."""
        if self.body is not None:
            campaign = self.body.get("campaign")
            if not isinstance(campaign, dict):
                return []
            plans = self.body.get("collaborations") or []
            cost = sum(p.get("cost") or 0 for p in plans if isinstance(p, dict))
            return [{**campaign, "candidates": len(plans), "planned_cost": cost}]
        campaigns = self.tables.get("campaigns")
        plans = self.tables.get("collaborations")
        if campaigns is None or plans is None:
            return []
        grouped = plans.groupby("campaign_id")["cost"]
        counts, costs = grouped.size(), grouped.sum()
        out = []
        for record in records("campaigns", campaigns):
            count = int(counts.get(record["campaign_id"], 0))
            if count:
                out.append({**record, "candidates": count,
                            "planned_cost": float(costs.get(record["campaign_id"], 0.0))})
        # Latest campaigns first: the one a brand manager is planning.
        return sorted(out, key=lambda c: str(c.get("start_date", "")), reverse=True)

    def rank_request(self, campaign_id: str, overrides: Mapping[str, object] | None = None
                     ) -> dict:
        """{"campaign", "creators", "collaborations"} of the campaign's planned candidates,
        with the brand manager's campaign `overrides` applied (None removes a field)."""
        if self.body is not None:
            campaign = dict(self.body.get("campaign") or {})
            if campaign.get("campaign_id") != campaign_id:
                raise RequestError(422, "unknown campaign", [problem(
                    ["campaign", "campaign_id"], f"campaign {campaign_id!r} is not in the "
                    "uploaded request; expected its campaign", "unknown_campaign")])
            creators = list(self.body.get("creators") or [])
            plans = list(self.body.get("collaborations") or [])
        else:
            known = {c["campaign_id"] for c in self.campaigns()}
            if campaign_id not in known:
                raise RequestError(422, "unknown campaign", [problem(
                    ["campaign", "campaign_id"], f"campaign {campaign_id!r} has no planned "
                    f"collaborations in {self.label}; expected one of {sorted(known)[:10]}",
                    "unknown_campaign")])
            campaign = campaign_record(self.tables, campaign_id)
            plans = collaboration_plans(self.tables, campaign_id)
            ids = list(dict.fromkeys(p["creator_id"] for p in plans))
            creators = creator_records(self.tables, ids)
        for name, value in (overrides or {}).items():
            if value is None:
                campaign.pop(name, None)
            else:
                campaign[name] = value
        return {"campaign": campaign, "creators": creators, "collaborations": plans}

    def creator_rows(self, creator_id: str) -> dict:
        """The creator's records ({"profile", "posts", "follower_history", ...})."""
        if self.body is not None:
            for creator in self.body.get("creators") or []:
                if (creator.get("profile") or {}).get("creator_id") == creator_id:
                    return creator
            return {}
        return creator_records(self.tables, [creator_id])[0]


def validated_request(request: Mapping) -> tuple[list, dict, list]:
    """(creators, campaign, collaborations) through the service's request models, as BentoML
    validates a /rank body; problems become a 422 RequestError with their field paths."""
    detail = []
    parsed = []
    for name, adapter in (("creators", _CREATORS), ("campaign", _CAMPAIGN),
                          ("collaborations", _PLANS)):
        value = request.get(name)
        if value is None:
            detail.append(problem([name], f"missing; expected the {name} of the campaign",
                                  "missing"))
            continue
        try:
            parsed.append(adapter.validate_python(value))
        except ValidationError as error:
            for item in error.errors()[:50]:
                detail.append(problem([name, *item["loc"]], item["msg"], item["type"]))
    if detail:
        raise RequestError(422, "the request does not follow the data contract", detail)
    return parsed[0], parsed[1], parsed[2]


def parse_campaign_overrides(form: Mapping[str, str]) -> dict[str, object]:
    """The editable campaign fields of a form (text); an empty field removes the value.
    A product price that is not a number >= 0 is a 422 naming the field."""
    overrides: dict[str, object] = {}
    for name in EDITABLE_CAMPAIGN_FIELDS:
        if name not in form:
            continue
        text = str(form[name]).strip()
        if name == "product_price" and text:
            price = _parse_number(text)
            if price is None or price < 0:
                raise RequestError(422, "invalid campaign", [problem(
                    ["campaign", "product_price"], f"got {text!r}; expected a number >= 0 "
                    "(the average order value) or nothing", "invalid_number")])
            overrides[name] = price
        else:
            overrides[name] = text or None
    return overrides


def parse_budget(text: str) -> float:
    value = _parse_number(str(text).strip())
    if value is None or value < 0:
        raise RequestError(422, "invalid budget", [problem(
            ["budget"], f"got {text!r}; expected a number >= 0 (the campaign's budget)",
            "invalid_number")])
    return value


def _parse_number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------ the ranked shortlist


@dataclass(frozen=True)
class Row:
    """One candidate as the shortlist shows it (all numbers from the engine's answers)."""

    rank: int
    creator_id: str
    platform: str | None
    tier: str | None
    followers: float | None
    verdict: str
    verdict_reason: str
    audience_quality: float | None
    fake_share: dict
    niche_fit: float | None
    conversions: dict
    revenue: dict
    roi: dict
    cost: float | None
    objective_value: float | None
    selected: bool


@dataclass
class Shortlist:
    """The engine's /rank answer for a campaign, with every candidate's scores."""

    campaign: dict
    budget: float
    objective: str
    answer: dict  # ScoringEngine.rank_payload, as /rank answers it
    scores: dict[str, dict]  # creator_id -> the creator's answer (CreatorScore shape)
    profiles: dict[str, dict] = field(default_factory=dict)

    @property
    def selection(self) -> dict:
        return self.answer["selection"]

    @cached_property
    def rows(self) -> list[Row]:
        out = []
        for entry in self.answer["ranking"]:
            creator_id = entry["creator_id"]
            score = self.scores[creator_id]
            authenticity = score["authenticity"]
            conversion = score["conversion"] or {}
            empty = {"estimate": None, "low": None, "high": None}
            share = authenticity["fake_share"]
            out.append(Row(
                rank=entry["rank"], creator_id=creator_id,
                platform=score["engagement"]["cohort"]["platform"],
                tier=score["engagement"]["cohort"]["tier"],
                followers=(self.profiles.get(creator_id) or {}).get("followers"),
                verdict=authenticity["verdict"] or "unknown",
                verdict_reason=verdict_reason(authenticity["verdict"], share["estimate"],
                                              share["high"], authenticity["fake_follower_risk"]),
                audience_quality=authenticity["audience_quality"],
                fake_share=share, niche_fit=score["niche"]["fit"],
                conversions=conversion.get("expected_conversions", empty),
                revenue=conversion.get("expected_revenue", empty),
                roi=conversion.get("predicted_roi", empty),
                cost=entry["cost"], objective_value=entry["objective_value"],
                selected=entry["selected"]))
        return out


def rank_shortlist(engine, request: Mapping, budget: float, objective: str = "roi",
                   top_n: int = SHORTLIST_TOP_N) -> Shortlist:
    """/rank on `request` ({"campaign", "creators", "collaborations"}) under `budget`, every
    candidate explained up to the service's top_k limit; candidates beyond it carry the
    ranking's scores without explanations (what /score answers for them). Raises
    RequestError (4xx) as the routes answer it."""
    if objective not in OBJECTIVES:
        raise RequestError(422, "invalid request", [problem(
            ["objective"], f"got {objective!r}; expected one of {list(OBJECTIVES)}",
            "invalid_objective")])
    creators, campaign, plans = validated_request(request)
    if not creators:
        raise RequestError(422, "no candidates", [problem(
            ["creators"], "no creators; expected at least one candidate", "too_short")])
    top_k = min(len(creators), engine.config.max_top_k)
    answer = engine.rank_payload(creators, campaign, plans, budget=budget, top_k=top_k,
                                 objective=objective, top_n=top_n)
    scores = {item["creator_id"]: item for item in answer["top"]}
    rest = [c.profile["creator_id"] for c in creators
            if c.profile["creator_id"] not in scores]
    if rest:  # scored with the ranking: read from its candidate set, not scored again
        scored = engine.candidate_scores_payload(answer["candidate_set"], rest)
        scores.update({item["creator_id"]: item for item in scored})
    profiles = {c.profile["creator_id"]: dict(c.profile) for c in creators}
    return Shortlist(campaign=dict(campaign), budget=float(budget), objective=objective,
                     answer=answer, scores=scores, profiles=profiles)


# ------------------------------------------------------------------ one creator, explained


@dataclass(frozen=True)
class WaterfallStep:
    label: str
    multiplier: float | None  # None for the base value
    before: float
    after: float
    words: tuple[str, ...] = ()

    @property
    def delta(self) -> float:
        return self.after - self.before


def conversion_waterfall(score: dict) -> tuple[list[WaterfallStep], float] | None:
    """The conversion prediction as a waterfall: the model's base value (a typical creator at
    the typical exposure), then the exposure and each signal family's total multiplier, in
    the API's words; (steps, prediction) or None without a conversion explanation.

    The families' multipliers are exact TreeSHAP sums, so the steps end on the prediction; a
    family absent from the listed contributions shows as one remaining step."""
    conversion = score.get("conversion")
    model = next((m for m in score.get("explanations") or [] if m["model"] == "conversions"),
                 None)
    if conversion is None or model is None or model.get("base_value") is None:
        return None
    prediction = conversion["expected_conversions"]["estimate"]
    if prediction is None:
        return None
    value = float(model["base_value"])
    steps = [WaterfallStep("A typical creator (model's base value)", None, value, value)]
    for family in model["families"]:
        exposure = [c for c in family["contributions"] if c["feature"].endswith(EXPOSURE_SUFFIX)]
        shap_items = [c for c in family["contributions"] if c not in exposure]
        for item in exposure:
            after = value * item["contribution"]
            steps.append(WaterfallStep(item["label"], item["contribution"], value, after,
                                       (item["text"],)))
            value = after
        if shap_items and family["total"] is not None:
            after = value * family["total"]
            steps.append(WaterfallStep(f"{family['family'].capitalize()} signals",
                                       family["total"], value, after,
                                       tuple(c["text"] for c in shap_items)))
            value = after
    remaining = prediction / value if value > 0 else float("nan")
    if math.isfinite(remaining) and abs(math.log(remaining)) > 1e-9:
        steps.append(WaterfallStep("Signals not listed", remaining, value, prediction))
    return steps, float(prediction)


def follower_growth(rows: dict, campaign_start: str | None, step: dict) -> dict:
    """The creator's follower history (dates, counts) up to the campaign start, the detected
    step (the risk model's evidence: relative size, days before the start, engagement ratio)
    and whether engagement followed it, in words."""
    history = sorted(rows.get("follower_history") or [], key=lambda r: str(r.get("date")))
    start = pd.Timestamp(campaign_start) if campaign_start else None
    dates, followers = [], []
    for row in history:
        when = pd.Timestamp(row["date"])
        if start is None or when < start:
            dates.append(when)
            followers.append(float(row["followers"]))
    size = step.get("growth_step_relative_size")
    days_before = step.get("growth_step_days_before")
    ratio = step.get("growth_step_engagement_ratio")
    step_date = (start - pd.Timedelta(days=float(days_before))
                 if start is not None and days_before is not None else None)
    if size is None or step_date is None:
        words = "no follower history: no growth step can be checked"
    elif ratio is None:
        words = (f"largest step: +{100 * size:.1f}% followers around {step_date:%Y-%m-%d}; "
                 "not enough posts around it to tell whether engagement followed")
    else:
        followed = ratio >= 1.0 + 0.5 * size
        words = (f"largest step: +{100 * size:.1f}% followers around {step_date:%Y-%m-%d}; "
                 f"engagement per post after it was {ratio:.2f}x the level before: "
                 + ("engagement followed the new followers" if followed else
                    "engagement did not follow the new followers (a sign of bought ones)"))
    return {"dates": dates, "followers": followers, "step_date": step_date,
            "step_size": size, "engagement_ratio": ratio, "words": words}


def cohort_engagement(engine, score: dict) -> np.ndarray:
    """The engagement rates (median per post) of the creator's platform x tier cohort among
    the training creators: the reference the served percentile is computed against."""
    cohort = score["engagement"]["cohort"]
    if cohort["platform"] not in PLATFORMS or cohort["tier"] not in TIERS:
        return np.array([])
    code = int(cohort_codes(np.array([PLATFORMS.index(cohort["platform"])]),
                            np.array([TIERS.index(cohort["tier"])]))[0])
    reference = engine.bundle.pipeline.cohort_reference_.sorted_values_
    return np.asarray(reference["engagement_rate_median"].get(code, np.array([])))


def score_creator(engine, request: Mapping, creator_id: str) -> dict:
    """The /score answer for one candidate of `request`, with the campaign and its plan,
    explained with every family (DETAIL_TOP_N contributions per model)."""
    creators, campaign, plans = validated_request({
        "campaign": request["campaign"],
        "creators": [c for c in request["creators"]
                     if (c.get("profile") or {}).get("creator_id") == creator_id],
        "collaborations": [p for p in request["collaborations"]
                           if p.get("creator_id") == creator_id]})
    if not creators:
        raise RequestError(404, "unknown creator", [problem(
            ["creator_id"], f"creator {creator_id!r} is not a candidate of this shortlist",
            "unknown_creator")])
    answer = engine.score_payload(creators, campaign, plans, explain=True,
                                  top_n=DETAIL_TOP_N)
    return answer["creators"][0]
