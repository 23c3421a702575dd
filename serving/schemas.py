"""Request and response models of the scoring service.

The request records are generated from `data.contract.TABLES`, so the JSON the service accepts
is the contract, column for column: same names, and unknown extra fields are ignored. Records
are TypedDicts (validated by pydantic, kept as plain dicts): a /rank request carries tens of
thousands of post records and building a model object for each would cost more than scoring
them.

One validation boundary: these models check the JSON *shape* only (objects, lists, and a
scalar in every field); every contract rule (types, ranges, vocabularies, dates, uniqueness,
references) is decided by the contract validator, `data.validation.validate_tables`, the one
that also guards the command line, and reported as a 422 with the field path of each problem.
The JSON schema still states each field's contract type, range and vocabulary, for clients.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# pydantic needs typing_extensions' TypedDict before Python 3.12.
from typing_extensions import TypedDict

from data.contract import TABLES, Column
from data.validation import MAX_EXACT_NUMBER
from serving.config import DEFAULT_MAX_TOP_K

_RECORD_CONFIG = ConfigDict(extra="ignore", str_strip_whitespace=True)



def _column_schema(column: Column) -> dict[str, Any]:
    """The JSON schema a client reads for one contract column (the validator enforces it)."""
    if column.type == "str":
        schema: dict[str, Any] = {"type": "string"}
        if column.allowed:
            schema.update(enum=list(column.allowed), description="case-insensitive")
        return schema
    if column.type in ("int", "float"):
        schema = {"type": "integer" if column.type == "int" else "number",
                  "minimum": column.min_value if column.min_value is not None
                  else -MAX_EXACT_NUMBER,
                  "maximum": column.max_value if column.max_value is not None
                  else MAX_EXACT_NUMBER}
        return schema
    if column.type == "bool":
        return {"type": "boolean"}
    if column.type == "date":
        return {"type": "string", "format": "date", "description": "ISO 8601 YYYY-MM-DD"}
    return {"type": "string", "format": "date-time",
            "description": "ISO 8601 timestamp, UTC if no offset"}


def _column_type(column: Column) -> Any:
    """The pydantic type of one contract column: any JSON value, documented as the contract's
    column. Whether the value fits (a list or text in a number column is the wrong type) is the
    contract validator's decision, so that every contract problem gets one status and shape."""
    return Annotated[Any, WithJsonSchema(_column_schema(column))]


def _record_type(table: str, title: str, *, optional: tuple[str, ...] = (),
                 only: tuple[str, ...] | None = None) -> type:
    """A TypedDict for one row of `table`: every field may be absent (the validator reports a
    missing required value); the schema lists the contract's required fields.

    `optional` names columns that are required in the contract but may be omitted here
    (creator_id of a nested record: filled from the enclosing profile).
    """
    fields: dict[str, Any] = {}
    required = []
    for column in TABLES[table].columns:
        if only is not None and column.name not in only:
            continue
        doc = column.doc or f"{column.type} ({'optional' if column.nullable else 'required'})"
        fields[column.name] = NotRequired[Annotated[_column_type(column), Field(description=doc)]]
        if column.required and not column.nullable and column.name not in optional:
            required.append(column.name)
    record = TypedDict(title, fields, total=False)  # type: ignore[operator]
    record.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
        **_RECORD_CONFIG, json_schema_extra={"required": required} if required else None)
    return record


# A planned collaboration is the plan only: its outcome columns are what the models predict.
PLAN_COLUMNS = ("campaign_id", "creator_id", "compensation", "cost")
CreatorProfile = _record_type("creators", "CreatorProfile")
PostRecord = _record_type("posts", "PostRecord", optional=("creator_id",))
FollowerSnapshot = _record_type("follower_history", "FollowerSnapshot", optional=("creator_id",))
AudienceAccount = _record_type("audience_sample", "AudienceAccount", optional=("creator_id",))
CommentRecord = _record_type("comments", "CommentRecord", optional=("creator_id",))
CampaignRecord = _record_type("campaigns", "CampaignRecord")
PlannedCollaboration = _record_type(
    "collaborations", "PlannedCollaboration", optional=("campaign_id",),
    only=PLAN_COLUMNS,
)


class CreatorRecords(BaseModel):
    """One creator: the profile (a creators row) and the rows of the other tables about them."""

    model_config = ConfigDict(extra="ignore")

    profile: CreatorProfile  # type: ignore[valid-type]
    posts: list[PostRecord] = Field(min_length=1)  # type: ignore[valid-type]
    follower_history: list[FollowerSnapshot] | None = None  # type: ignore[valid-type]
    audience_sample: list[AudienceAccount] | None = None  # type: ignore[valid-type]
    comments: list[CommentRecord] | None = None  # type: ignore[valid-type]


Objective = Literal["roi", "profit", "conversions", "revenue"]

# Request parameters beyond the contract: the engine checks them (422 with the field path);
# the schema states the same bounds for clients.
MAX_TOP_N = 20
TopN = Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_TOP_N,
                                      "default": 5})]
TopK = Annotated[int, WithJsonSchema({
    "type": "integer", "minimum": 1, "maximum": DEFAULT_MAX_TOP_K, "default": 10,
    "description": f"at most CREATORSCORE_MAX_TOP_K (default {DEFAULT_MAX_TOP_K})"})]
Budget = Annotated[float, WithJsonSchema({"type": "number", "minimum": 0})]
CandidateSetName = Annotated[str, WithJsonSchema({
    "type": "string", "pattern": "^[0-9a-f]{32}$",
    "description": "the candidate_set of an earlier /rank answer, instead of campaign, "
                   "creators and collaborations: a re-rank under another budget, objective or "
                   "top_k without sending the candidates again (422 when it is no longer "
                   "kept: send them again)"})]


# ------------------------------------------------------------------ responses


class Interval(BaseModel):
    estimate: float | None
    low: float | None
    high: float | None


class Cohort(BaseModel):
    platform: str | None
    tier: str | None
    size: int | None


class Engagement(BaseModel):
    engagement_rate: float | None
    percentile: float | None = Field(
        description="within the creator's platform x tier cohort, 0-100")
    cohort: Cohort
    metrics: dict[str, float | None] = Field(default_factory=dict)


class Component(BaseModel):
    name: str
    value: float | None
    evidence: dict[str, Any] = Field(default_factory=dict)


class DomainCheck(BaseModel):
    passed: bool | None = Field(description="null without an audience sample")
    drift: float | None = Field(
        description="largest excess Hellinger distance of a field from the labelled accounts")
    fields: list[str] = Field(default_factory=list,
                              description="the fields that fail (empty when none or unknown)")
    warning: str | None = None


class Authenticity(BaseModel):
    fake_follower_risk: float | None = Field(description="probability of bought followers")
    fake_share: Interval
    audience_check: DomainCheck | None = Field(
        default=None, description="is the audience sample like the labelled accounts?")
    audience_quality: float | None = Field(description="0-100")
    verdict: str | None = Field(description="ok, check, avoid or unknown")
    audience_classes: dict[str, float | None] = Field(
        default_factory=dict, description="share of the audience sample in each class")
    components: list[Component] = Field(default_factory=list)


class NicheScore(BaseModel):
    niche: str
    score: float | None


class Niche(BaseModel):
    top_niches: list[NicheScore]
    fit: float | None = Field(description="fit with the campaign's niche (with a campaign)")


class Conversion(BaseModel):
    campaign_id: str
    compensation: str | None = None
    cost: float | None = None
    revenue_per_conversion: float | None = None
    expected_conversions: Interval
    expected_revenue: Interval
    predicted_roi: Interval = Field(description="expected revenue / cost")


class Contribution(BaseModel):
    feature: str
    label: str = Field(description="readable feature label")
    value: float | str | None = Field(description="the creator's value of the feature")
    contribution: float = Field(description="size, in `unit`")
    unit: str = Field(description="probability_points, share_points or multiplier")
    direction: str = Field(description="up or down: the effect on the model's output")
    text: str = Field(description="the contribution in plain language")


class FamilyExplanation(BaseModel):
    family: str = Field(description="engagement, authenticity, niche or campaign")
    total: float | None = Field(description="the whole family's contribution, in `unit`")
    unit: str
    contributions: list[Contribution]


class ModelExplanation(BaseModel):
    model: str
    output: str
    base_value: float | None = Field(
        default=None, description="the output with no feature contribution (a typical "
        "creator; conversions: at the typical exposure)")
    families: list[FamilyExplanation]


class CreatorScoreResult(BaseModel):
    creator_id: str
    engagement: Engagement
    authenticity: Authenticity
    niche: Niche
    conversion: Conversion | None = None
    explanations: list[ModelExplanation] | None = Field(
        default=None, description="top contributions per model, grouped by signal family")


class Provenance(BaseModel):
    model_name: str
    model_version: str
    model_versions: dict[str, str]
    feature_version: str
    contract_version: str


class ScoreResponse(BaseModel):
    provenance: Provenance
    campaign_id: str | None
    creators: list[CreatorScoreResult]


class RankedCandidate(BaseModel):
    rank: int
    creator_id: str
    objective_value: float | None
    cost: float | None
    selected: bool


class Selection(BaseModel):
    method: str = Field(description="'knapsack_dp' (exact on the cost grid) or 'greedy_fixup'")
    budget: float
    spent: float
    creator_ids: list[str]
    expected_conversions: float
    expected_revenue: float | None
    expected_roi: float | None
    objective_total: float


class RankResponse(BaseModel):
    provenance: Provenance
    campaign_id: str
    objective: str
    selection: Selection
    ranking: list[RankedCandidate]
    top: list[CreatorScoreResult] = Field(description="the top_k candidates, explained")
    candidate_set: str = Field(description="names these validated candidates (a digest of "
                               "their records, the campaign, the plans and the model): send it "
                               "as the request's candidate_set to rank them again")


class AccountScore(BaseModel):
    index: int
    follower_id: str | None
    creator_id: str | None
    fake_probability: float
    account_class: str


class AuditShare(Interval):
    method: str
    domain_check: DomainCheck


class AuditResponse(BaseModel):
    provenance: Provenance
    accounts: list[AccountScore]
    fake_share: AuditShare
    class_shares: dict[str, float]


class ModelInfo(BaseModel):
    provenance: Provenance
    models: dict[str, Any]
    training_metrics: dict[str, Any]
    features: list[dict[str, Any]]
    limits: dict[str, int]
