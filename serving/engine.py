"""The scoring logic behind the routes, free of BentoML so it can be called and tested directly.

`ScoringEngine` holds the champion ScoringBundle and answers each route with a response model
(serving.schemas); a request it cannot answer raises `serving.errors.RequestError` (4xx).
Scores come from `ScoringBundle.score`, the code path of `creatorscore score`, on the Dataset
the request converts to (serving.convert): the service and the CLI give the same numbers.

Each route has two faces: `*_payload` returns the answer as plain JSON-ready dicts (what the
service encodes, in one `pydantic_core.to_json` call), and `score` / `rank` / `audit` /
`model_info` return the same answer as a response model. Validating a response model costs
about as much as building the answer, so the service skips it; the tests check both faces
give the same JSON (serving.schemas stays the documented shape).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from data.contract import CONTRACT_VERSION
from data.dataset import Dataset
from features import FEATURE_VERSION, FEATURES
from models.bundle import Scorer, Scores
from serving import responses
from serving.candidate_sets import CandidateSetStore, default_directory, is_name
from serving.config import ServingConfig
from serving.convert import RequestData, accounts_frame, build_request_data
from serving.errors import RequestError, problem
from serving.feature_cache import CachedRequest, FeatureCache
from serving.ranking import objective_values, rank_order, select_within_budget
from serving.schemas import (
    MAX_TOP_N,
    AuditResponse,
    ModelInfo,
    RankResponse,
    ScoreResponse,
)
from store import registry
from store.registry import CHECKSUM_TAG

logger = logging.getLogger(__name__)



@dataclass
class ScoringEngine:
    bundle: Scorer
    version: str = "unregistered"
    config: ServingConfig = field(default_factory=ServingConfig)
    model_name: str = "creatorscore"
    training_metrics: dict = field(default_factory=dict)
    version_tags: dict = field(default_factory=dict)
    cache_observer: object = None  # (cache name, hits, misses) -> None, e.g. /metrics counters

    @cached_property
    def cache(self) -> FeatureCache:
        """Feature rows and validated requests already seen (serving.feature_cache), keyed
        with the model version and the bundle's checksum when the registry recorded one."""
        identity = f"{self.provenance['model_version']}\n{self.model_checksum or ''}"
        return FeatureCache(identity, self.feature_version,
                            max_rows=self.config.feature_cache_rows,
                            max_requests=self.config.request_cache_size,
                            observe=self.cache_observer)

    @cached_property
    def model_checksum(self) -> str | None:
        return self.version_tags.get(CHECKSUM_TAG) or None

    @cached_property
    def candidate_sets(self) -> CandidateSetStore | None:
        """/rank candidate sets shared with the other workers (serving.candidate_sets); only
        for a model whose checksum is known: a set's name must tell two models apart, and a
        version number alone does not across registries."""
        if self.model_checksum is None:
            return None
        return CandidateSetStore(self.config.candidate_dir or default_directory(),
                                 self.config.candidate_sets, scope=self.cache.version)

    # The answers' provenance never changes once the champion is loaded: computed once.
    @cached_property
    def feature_version(self) -> str:
        return str(getattr(self.bundle, "feature_version", None) or FEATURE_VERSION)

    @cached_property
    def provenance(self) -> dict:
        model_version = f"{self.model_name}/{self.version}"
        return {
            "model_name": self.model_name,
            "model_version": model_version,
            "model_versions": {name: model_version for name in responses.MODEL_NAMES},
            "feature_version": self.feature_version,
            "contract_version": CONTRACT_VERSION,
        }

    # ------------------------------------------------------------------ /score

    def score(self, creators: Sequence, campaign: dict | None = None,
              collaborations: Sequence[dict] | None = None, explain: bool = True,
              top_n: int = 5) -> ScoreResponse:
        return ScoreResponse.model_validate(self.score_payload(
            creators, campaign, collaborations, explain=explain, top_n=top_n))

    def score_payload(self, creators: Sequence, campaign: dict | None = None,
                      collaborations: Sequence[dict] | None = None, explain: bool = True,
                      top_n: int = 5) -> dict:
        _check_top_n(top_n)
        data, scores = self._score(creators, campaign, collaborations, explain=explain,
                                   top_n=top_n)
        payload = {
            "provenance": self.provenance,
            "campaign_id": data.campaign_id,
            "creators": responses.creator_scores(scores, scores.features, data.dataset,
                                                 order=data.creator_ids, explain=explain),
        }
        return payload

    def _score(self, creators: Sequence, campaign: dict | None,
               collaborations: Sequence[dict] | None, explain: bool, top_n: int,
               check=None) -> tuple[CachedRequest, Scores]:
        """The request's scores, as `ScoringBundle.score` (the code path of `creatorscore
        score`) gives them; a campaign's creators without a plan are scored as unplanned
        candidates. Features of creators already seen come from `cache`, and a request seen
        before (same content) skips validation and features; `check(data)` runs on the
        validated request before it is scored or remembered."""
        cache = self.cache
        creator_keys = cache.creator_keys(creators)
        request_key = cache.request_key("rank" if check else "score", creator_keys, campaign,
                                        collaborations)
        request = cache.get_request(request_key)
        if request is None:
            data = build_request_data(creators, campaign, collaborations, self.config)
            if check is not None:
                check(data)
            request = self._features(data, creator_keys, campaign, request_key)
            cache.put_request(request_key, request)
        return request, self._scores(request, explain, top_n)

    def _scores(self, request: CachedRequest, explain: bool, top_n: int) -> Scores:
        # top_n only shapes explanations: without them, one Scores serves every top_n.
        key = (explain, top_n if explain else None)
        scores = request.scores.get(key)
        if scores is None:
            scores = self.bundle.score_features(request.dataset, request.features,
                                                request.planned, explain=explain, top_n=top_n)
            request.scores[key] = scores
        return scores

    def _features(self, data: RequestData, creator_keys: list[bytes], campaign,
                  request_key: bytes) -> CachedRequest:
        """Features of every row `ScoringBundle.score` would score, computed only for the
        creators whose rows are not in the cache."""
        ds = data.dataset
        try:
            planned = self.bundle.planned_collaborations(ds, data.campaign_id, ds.collaborations,
                                                         every_creator=True)
        except ValueError as error:  # inconsistent campaign / collaborations
            raise RequestError(422, "invalid request",
                               [problem(["collaborations"], str(error), "invalid")]) from None
        ids = np.array(data.creator_ids, dtype=object) if planned is None \
            else planned["creator_id"].to_numpy(dtype=object)
        keys = self.cache.row_keys(dict(zip(data.creator_ids, creator_keys, strict=True)), ids,
                                   campaign, planned)
        found = self.cache.get_rows(keys)
        missing = [i for i, row in enumerate(found) if row is None]
        if len(missing) == len(found):
            features = self.bundle.features(ds, planned)
            self.cache.put_rows(keys, features.to_numpy(dtype="float64"))
        else:
            names = (self.bundle.pipeline.creator_feature_names_ if planned is None
                     else self.bundle.pipeline.collaboration_feature_names_)
            values = np.empty((len(found), len(names)))
            if missing:
                subset = ds.for_creators(ids[missing])
                computed = self.bundle.features(
                    subset, None if planned is None
                    else planned.iloc[missing].reset_index(drop=True)).to_numpy(dtype="float64")
                values[missing] = computed
                self.cache.put_rows([keys[i] for i in missing], computed)
            for i, row in enumerate(found):
                if row is not None:
                    values[i] = row
            if planned is None:
                index = pd.Index(ids, name="creator_id")
            else:
                index = pd.MultiIndex.from_arrays(
                    [planned["campaign_id"].to_numpy(dtype=object), ids],
                    names=["campaign_id", "creator_id"])
            features = pd.DataFrame(values, index=index, columns=pd.Index(names))
        # The answer reads creators, the money campaigns: the rest of the request is not kept.
        kept = ds.with_tables(posts=self._no_posts(ds), follower_history=None,
                              audience_sample=None, comments=None, authenticity_labels=None)
        return CachedRequest(key=request_key, creator_ids=data.creator_ids,
                             campaign_id=data.campaign_id,
                             dataset=kept, features=features, planned=planned)

    def _no_posts(self, ds: Dataset) -> pd.DataFrame:
        """An empty posts table, made once: every request's posts have the contract's columns
        and types (making the frame of `ds.posts` and `.iloc[:0]` of it cost ~0.1 ms of every
        request)."""
        empty = self.__dict__.get("_empty_posts")
        if empty is None:
            empty = self.__dict__["_empty_posts"] = ds.posts.iloc[:0]
        return empty

    # ------------------------------------------------------------------ /rank

    def rank(self, creators: Sequence | None = None, campaign: dict | None = None,
             collaborations: Sequence[dict] | None = None, *, budget: float, top_k: int = 10,
             objective: str = "roi", top_n: int = 5,
             candidate_set: str | None = None) -> RankResponse:
        return RankResponse.model_validate(self.rank_payload(
            creators, campaign, collaborations, budget=budget, top_k=top_k,
            objective=objective, top_n=top_n, candidate_set=candidate_set))

    def rank_payload(self, creators: Sequence | None = None, campaign: dict | None = None,
                     collaborations: Sequence[dict] | None = None, *, budget: float,
                     top_k: int = 10, objective: str = "roi", top_n: int = 5,
                     candidate_set: str | None = None) -> dict:
        """Candidates ranked and selected within `budget`: given as `campaign`, `creators`
        and `collaborations`, or as the `candidate_set` an earlier answer named (its
        candidates, validated and scored then; serving.candidate_sets)."""
        _check_top_n(top_n)
        detail = _candidates_problems(creators, campaign, collaborations, candidate_set)
        if not 1 <= top_k <= self.config.max_top_k:
            detail.append(problem(["top_k"], f"expected 1 <= top_k <= {self.config.max_top_k} "
                                  "(CREATORSCORE_MAX_TOP_K)", "out_of_range"))
        if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget >= 0):
            detail.append(problem(["budget"], "expected a finite number >= 0", "out_of_range"))
        if detail:
            raise RequestError(422, "invalid request", detail)
        if candidate_set is None:
            data, scores = self._score(creators, campaign, collaborations, explain=False,
                                       top_n=top_n, check=_check_every_creator_planned)
        else:
            data = self._kept_candidates(candidate_set)
            scores = self._scores(data, explain=False, top_n=top_n)
        features, planned, table = scores.features, scores.planned, scores.columns
        revenue = np.asarray(table["expected_revenue"], dtype="float64")
        if objective in ("roi", "profit", "revenue") and np.isnan(revenue).all():
            raise RequestError(422, "invalid request", [problem(
                ["objective"], f"objective {objective!r} needs expected revenue, which needs the "
                "campaign's product_price; expected objective 'conversions' or a product_price",
                "needs_revenue")])
        cost = np.asarray(table["cost"], dtype="float64")
        conversions = np.asarray(table["expected_conversions"], dtype="float64")
        score, value = objective_values(objective, revenue, conversions, cost)
        order = rank_order(score)
        selection = select_within_budget(value, cost, float(budget), order=order)
        chosen = np.zeros(len(order), dtype=bool)
        chosen[selection.indices] = True
        ids = np.asarray(table["creator_id"], dtype=object)
        top = order[:top_k]
        top_ids = [str(ids[i]) for i in top]
        # Explanations for the returned candidates only, from the features already computed.
        explained = data.explained.get((objective, top_k, top_n))
        if explained is None:
            explained = self.bundle.score_features(
                data.dataset, features.iloc[top], planned.iloc[top].reset_index(drop=True),
                explain=True, top_n=top_n)
            data.explained[(objective, top_k, top_n)] = explained
        selected_revenue = float(np.nansum(revenue[chosen])) if chosen.any() else 0.0
        payload = {
            "provenance": self.provenance,
            "campaign_id": data.campaign_id,
            "objective": objective,
            "selection": {
                "method": selection.method,
                "budget": float(budget),
                "spent": selection.spent,
                "creator_ids": [str(ids[i]) for i in selection.indices],
                "expected_conversions": float(np.nansum(conversions[chosen])),
                "expected_revenue": None if np.isnan(revenue).all() else selected_revenue,
                "expected_roi": (None if np.isnan(revenue).all() or selection.spent <= 0
                                 else selected_revenue / selection.spent),
                "objective_total": selection.total_value,
            },
            "ranking": [
                {"rank": rank + 1, "creator_id": str(ids[i]),
                 "objective_value": _finite_or_none(score[i]),
                 "cost": _finite_or_none(cost[i]), "selected": bool(chosen[i])}
                for rank, i in enumerate(order)
            ],
            "top": responses.creator_scores(explained, features.iloc[top], data.dataset,
                                            order=top_ids, explain=True),
            "candidate_set": data.key.hex(),
        }
        if self.candidate_sets is not None and candidate_set is None:
            self.candidate_sets.put(data.key.hex(), data)  # kept once (put skips a kept set)
        return payload

    def candidate_scores_payload(self, candidate_set: str, creator_ids: Sequence[str]
                                 ) -> list[dict]:
        """The unexplained scores of `creator_ids` of a kept candidate set, as /score answers
        them for those creators with the same campaign and plans: the page's candidates
        beyond the explained top_k, without validating or scoring them again."""
        data = self._kept_candidates(candidate_set)
        scores = self._scores(data, explain=False, top_n=5)
        return responses.creator_scores(scores, scores.features, data.dataset,
                                        order=list(creator_ids), explain=False)

    def _kept_candidates(self, name: str) -> CachedRequest:
        """The candidate set `name`, from this worker's cache or the shared store; a 422
        asking for the candidates again when neither keeps it."""
        key = bytes.fromhex(name)
        request = self.cache.get_request(key)
        if request is None and self.candidate_sets is not None:
            request = self.candidate_sets.get(name)  # scoped by this model: never another's
            if request is not None:
                self.cache.put_request(key, request)
        if request is None:
            raise RequestError(422, "invalid request", [problem(
                ["candidate_set"], f"candidate set {name!r} is not kept (unknown, evicted, or "
                "ranked by another model version); expected campaign, creators and "
                "collaborations again", "unknown_candidate_set")])
        return request

    # ------------------------------------------------------------------ /audit_followers

    def audit(self, accounts: Sequence[dict]) -> AuditResponse:
        return AuditResponse.model_validate(self.audit_payload(accounts))

    def audit_payload(self, accounts: Sequence[dict]) -> dict:
        frame = accounts_frame(accounts, self.config)  # refuses an empty list (422)
        # The scorer the feature pipeline uses for audience samples, through the same audit:
        # an audit agrees with the audience features of /score.
        audit = self.bundle.pipeline.follower_scorer_.audit(frame)
        p_fake, classes, estimates = audit.p_fake, audit.classes, audit.estimates
        share, low, high = estimates.share[0], estimates.low[0], estimates.high[0]
        class_names, counts = np.unique(classes.astype(str), return_counts=True)
        payload = {
            "provenance": self.provenance,
            "accounts": [
                {"index": i, "follower_id": _text_or_none(fid), "creator_id": _text_or_none(cid),
                 "fake_probability": float(p), "account_class": str(c)}
                for i, (fid, cid, p, c) in enumerate(zip(
                    _column_or_none(frame, "follower_id"), _column_or_none(frame, "creator_id"),
                    p_fake.tolist(), classes.tolist(), strict=True))
            ],
            "fake_share": {"estimate": _finite_or_none(share), "low": _finite_or_none(low),
                           "high": _finite_or_none(high), "method": estimates.method,
                           "domain_check": {"passed": audit.warnings[0] is None,
                                            "drift": float(estimates.drift[0]),
                                            "fields": list(estimates.drifted_fields[0]),
                                            "warning": audit.warnings[0]}},
            "class_shares": {str(name): float(count / len(frame))
                             for name, count in zip(class_names, counts, strict=True)},
        }
        return payload

    # ------------------------------------------------------------------ /model_info

    def model_info(self) -> ModelInfo:
        return ModelInfo.model_validate({
            "provenance": self.provenance,
            "models": responses.model_descriptions(self.bundle, self.provenance),
            "training_metrics": self.training_metrics,
            "features": [asdict(spec) for spec in FEATURES.values()],
            "limits": self.config.limits,
        })


def _check_top_n(top_n: int) -> None:
    if not 1 <= top_n <= MAX_TOP_N:
        raise RequestError(422, "invalid request", [problem(
            ["top_n"], f"expected 1 <= top_n <= {MAX_TOP_N}", "out_of_range")])


def _candidates_problems(creators, campaign, collaborations, candidate_set) -> list[dict]:
    """What a /rank needs: its candidates, or the name of a set ranked before; not both."""
    given = {"campaign": campaign, "creators": creators, "collaborations": collaborations}
    if candidate_set is not None:
        if not is_name(candidate_set):
            return [problem(["candidate_set"], "expected the 32 hex digits of an earlier "
                            "/rank answer's candidate_set", "invalid")]
        sent = [name for name, value in given.items() if value is not None]
        if sent:
            return [problem(["candidate_set"], f"expected either candidate_set or the "
                            f"candidates, not both (also sent: {', '.join(sent)})", "conflict")]
        return []
    return [problem([name], f"{name} is required (or the candidate_set of an earlier /rank "
                    "answer instead of campaign, creators and collaborations)", "missing")
            for name, value in given.items() if value is None]


def _check_every_creator_planned(data: RequestData) -> None:
    planned = set()
    if data.dataset.collaborations is not None:
        planned = set(data.dataset.collaborations["creator_id"].tolist())
    missing = [i for i, cid in enumerate(data.creator_ids) if cid not in planned]
    if missing:
        raise RequestError(422, "invalid request", [
            problem(["creators", i, "profile", "creator_id"],
                    f"creator {data.creator_ids[i]!r} has no planned collaboration; expected a "
                    "collaborations record with its compensation and cost", "missing_plan")
            for i in missing[:20]])


def _column_or_none(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame.columns else [None] * len(frame)


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _text_or_none(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        or value is pd.NA else str(value)


def load_engine(config: ServingConfig, cache_observer=None) -> ScoringEngine:
    """The engine over the registry's champion (MLFLOW_TRACKING_URI, else the local store),
    its follower classifier remembering accounts and compiled in the background
    (ScoringBundle.accelerate); `cache_observer` sees every cache lookup."""
    bundle, info = registry.load_champion(config.tracking_uri)
    return engine_over(bundle, info.name, str(info.version), config,
                       training_metrics=_run_metrics(info, config), version_tags=dict(info.tags),
                       cache_observer=cache_observer)


def engine_over(bundle, model_name: str, version: str, config: ServingConfig,
                training_metrics: dict, version_tags: dict,
                cache_observer=None) -> ScoringEngine:
    """The engine over a loaded bundle (from the registry or a Bento), its follower classifier
    accelerated (ScoringBundle.accelerate)."""
    bundle.accelerate()
    return ScoringEngine(bundle=bundle, version=version, config=config, model_name=model_name,
                         training_metrics=training_metrics, version_tags=version_tags,
                         cache_observer=cache_observer)


def _run_metrics(info, config: ServingConfig) -> dict:
    """The metrics MLflow recorded for the champion's training run ({} if unavailable)."""
    try:
        return registry.training_metrics(info, config.tracking_uri)
    except Exception:  # noqa: BLE001 - metrics are informative; scoring must still start
        logger.exception("could not read the training metrics of run %s", info.run_id)
        return {}
