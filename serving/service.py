"""The BentoML service: thin routes over `serving.engine.ScoringEngine`.

Routes: POST /score, POST /rank, POST /audit_followers, GET (or POST) /model_info, plus
BentoML's /livez, /readyz (ready once the champion is loaded) and /metrics; the brand
manager's page at /app (serving.app, over the same engine); the OpenAPI page at /docs
(document: /docs.json, see serving.openapi).
Run with `creatorscore serve [--port N]`, `bentoml serve serving.service:CreatorScore`, or
`bentoml serve creatorscore:latest` once built into a Bento (bentofile.yaml).

The champion ScoringBundle is loaded once per worker, in `__init__`: from the Bento's model
when the service runs from a Bento (see serving.bento_model), else from the MLflow registry
named by MLFLOW_TRACKING_URI (the repository's local store by default).
"""
from __future__ import annotations

import functools
import gc
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

import anyio.to_thread  # noqa: E402
import bentoml  # noqa: E402  (after opting out of BentoML's usage tracking)
from pydantic_core import to_json  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse, JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from serving import openapi  # noqa: E402
from serving.admission import AdmissionMiddleware  # noqa: E402
from serving.app import BASE_PATH, create_app  # noqa: E402
from serving.bento_model import (  # noqa: E402
    BENTO_MODEL_TAG,
    champion_imported,
    load_engine_from_bento,
    model_source,
)
from serving.champion_watch import ChampionWatch  # noqa: E402
from serving.config import DEFAULT_PORT, ServingConfig, default_workers  # noqa: E402
from serving.engine import ScoringEngine, load_engine  # noqa: E402
from serving.errors import RequestError  # noqa: E402
from serving.logs import install as install_log_filters  # noqa: E402
from serving.middleware import GuardMiddleware  # noqa: E402
from serving.request_body import JSONCreators, RankBody, ScoreBody, accelerated  # noqa: E402
from serving.schemas import (  # noqa: E402
    AudienceAccount,
    AuditResponse,
    Budget,
    CampaignRecord,
    CandidateSetName,
    CreatorRecords,
    ModelInfo,
    Objective,
    PlannedCollaboration,
    RankResponse,
    ScoreResponse,
    TopK,
    TopN,
)

logger = logging.getLogger(__name__)
install_log_filters()

_cache_lookups = None
_cache_lookups_lock = threading.Lock()


def _count_cache_lookup(cache: str, hits: int, misses: int) -> None:
    """On /metrics: creatorscore_cache_lookups_total{cache, outcome} (serving/feature_cache.py).
    The counter is made at the first lookup, in the worker: BentoML points prometheus_client at
    its multiprocess directory only after this module is imported, and a metric made before
    that would never reach /metrics."""
    global _cache_lookups
    with _cache_lookups_lock:
        if _cache_lookups is None:
            import prometheus_client  # lazy: see the docstring

            _cache_lookups = prometheus_client.Counter(
                "creatorscore_cache_lookups", "Feature cache lookups: cache = creator_features "
                "(rows) or request (validated requests); outcome = hit or miss",
                ["cache", "outcome"])
    if hits:
        _cache_lookups.labels(cache=cache, outcome="hit").inc(hits)
    if misses:
        _cache_lookups.labels(cache=cache, outcome="miss").inc(misses)


# Requests whose creators' JSON is at most this many bytes (~9 creators of 30 posts: 15-23 ms of
# work in process, median 16) are scored on the worker's event loop: handing the work to a
# thread and waking the loop again cost ~0.8 ms a request (/score of one creator over HTTP:
# p50 10.4-11.5 ms on a thread, 9.6-10.3 ms inline, same engine time), a tenth of the answer.
# Larger ones run on a thread, so that the loop goes on answering health checks, /metrics and
# the admission queue while they run (a /rank of 1,000 creators takes ~0.5 s).
INLINE_MAX_BYTES = 256 * 1024
# Planned collaborations are small dicts, but each is a row to validate and score.
INLINE_MAX_COLLABORATIONS = 100
# As BentoML runs a sync API: one engine thread per worker (its `threads` default), which
# admission's slots feed.
_engine_threads: anyio.CapacityLimiter | None = None


def is_light(creators: Sequence | None, collaborations: Sequence | None = None) -> bool:
    """True when a request is small enough to score on the event loop (see INLINE_MAX_BYTES):
    creators still as their JSON (serving.request_body; a body pydantic parsed instead is
    not measured, and goes to the thread)."""
    if len(collaborations or ()) > INLINE_MAX_COLLABORATIONS:
        return False
    return creators is None or (isinstance(creators, JSONCreators)
                                and creators.raw_bytes <= INLINE_MAX_BYTES)


async def _answer(call, headers: dict[str, str] | None = None, inline: bool = False):
    """Run an engine call, inline or on the engine thread; see `_respond`."""
    global _engine_threads
    if inline:
        return _respond(call, headers)
    if _engine_threads is None:  # (made in the worker's event loop)
        _engine_threads = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(_respond, call, headers, limiter=_engine_threads)


def _respond(call, headers: dict[str, str] | None = None):
    """Run an engine call; a RequestError becomes its 4xx JSON answer.

    The engine's `*_payload` answers are plain dicts of the response models' shape (see
    serving.engine), encoded here in one pass in Rust: validating them into the response
    models first and dumping those would cost as much again as building them. `headers` say
    which model answered (every answer, errors included)."""
    started = time.perf_counter()
    try:
        payload = call()
    except RequestError as error:
        return JSONResponse(error.body(), status_code=error.status,
                            headers=_timed(headers, started))
    if isinstance(payload, dict):
        body = to_json(payload)
        return Response(body, media_type="application/json", headers=_timed(headers, started))
    return JSONResponse(payload.model_dump(mode="json"), headers=_timed(headers, started))


SERVER_TIMING_HEADER = "Server-Timing"


def _timed(headers: dict[str, str] | None, started: float) -> dict[str, str]:
    """`headers` and Server-Timing (W3C): the engine's wall time in ms, from the decoded body
    to the encoded answer. What a client measures above it is HTTP, BentoML and the body's
    decoding: scripts/benchmark_service.py reports the two apart."""
    elapsed_ms = 1000 * (time.perf_counter() - started)
    return {**(headers or {}),
            SERVER_TIMING_HEADER: f'engine;dur={elapsed_ms:.2f};desc="validation, features, '
                                  f'models and answer"'}


MODEL_VERSION_HEADER = "X-Model-Version"
CURRENT_CHAMPION_HEADER = "X-Registry-Champion"


# The Bento's Python environment: the project's dependencies, read from pyproject.toml where
# `bentoml build` runs (the repository root; BentoML takes paths relative to it only); a built
# Bento already carries its environment.
IMAGE = bentoml.images.Image(python_version="3.11", lock_python_packages=False)
if Path.cwd() == Path(__file__).resolve().parents[1] and Path("pyproject.toml").exists():
    IMAGE = IMAGE.pyproject_toml("pyproject.toml")


def settle_heap() -> None:
    """Keep the objects alive now out of Python's full garbage collections. Once the engine is
    loaded the worker holds ~350k of them (the models, MLflow's, BentoML's and the libraries'
    objects), all alive as long as it runs; a full collection walked them all, ~190 ms
    (measured after `load_engine`: 187 ms, 0.0 ms frozen), stalling whichever request it fell
    in. Unfrozen first: after a swap the replaced engine's cycles are collected, once."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@bentoml.service(
    name="creatorscore",
    image=IMAGE,
    description=openapi.DESCRIPTION,
    http={"port": DEFAULT_PORT},
    traffic={"timeout": 120},
    workers=default_workers(),
)
class CreatorScore:
    """Creator scoring: engagement, authenticity, niche fit and campaign conversion."""

    # The champion imported into the BentoML model store (`creatorscore import-champion`) is
    # declared only when it is there: `bentoml build` then packs it into the Bento, while a
    # service without it (`creatorscore serve` on the registry) still starts.
    champion = bentoml.models.BentoModel(BENTO_MODEL_TAG) if champion_imported() else None

    def __init__(self) -> None:
        config = ServingConfig.from_env()
        self.engine: ScoringEngine | None = None
        # One loader for the start and the watch's reloads: a swapped-in engine keeps
        # counting its cache lookups on /metrics.
        reload = functools.partial(load_engine, config, cache_observer=_count_cache_lookup)
        from_bento = model_source(served_from_bento=CreatorScore.bento is not None) == "bento"
        if from_bento:
            self.engine = load_engine_from_bento(self.champion, config,
                                                 cache_observer=_count_cache_lookup)
        else:
            self.engine = reload()
        settle_heap()
        logger.info("creatorscore service ready: %s", self.engine.provenance["model_version"])
        # A Bento serves the model it carries: no registry to follow (interval 0: no watch).
        self.watch = ChampionWatch(config.tracking_uri, str(self.engine.version),
                                   0 if from_bento else config.reload_interval_s,
                                   reload, self._swap).start()

    def _swap(self, engine: ScoringEngine) -> None:
        self.engine = engine  # one assignment: running requests keep the engine they read
        settle_heap()  # (on the watch's thread: the old engine's cycles freed, once)

    def _headers(self, engine: ScoringEngine) -> dict[str, str]:
        return {MODEL_VERSION_HEADER: engine.provenance["model_version"],
                CURRENT_CHAMPION_HEADER: "current" if self.watch.is_current else
                f"stale (the registry's champion is version {self.watch.registry_version})"}

    def __is_ready__(self) -> bool:
        return self.engine is not None

    @bentoml.api(route="/score")
    async def score(
        self,
        creators: list[CreatorRecords],
        campaign: CampaignRecord | None = None,  # type: ignore[valid-type]
        collaborations: list[PlannedCollaboration] | None = None,  # type: ignore[valid-type]
        explain: bool = True,
        top_n: TopN = 5,
    ) -> ScoreResponse:
        """Score 1..N creators (contract records); with a campaign, their expected conversions,
        revenue and ROI. `explain` adds each model's top `top_n` contributions."""
        engine = self.engine
        return await _answer(lambda: engine.score_payload(creators, campaign, collaborations,
                                                          explain=explain, top_n=top_n),
                             self._headers(engine), inline=is_light(creators, collaborations))

    @bentoml.api(route="/rank")
    async def rank(
        self,
        budget: Budget,
        campaign: CampaignRecord | None = None,  # type: ignore[valid-type]
        creators: list[CreatorRecords] | None = None,
        collaborations: list[PlannedCollaboration] | None = None,  # type: ignore[valid-type]
        candidate_set: CandidateSetName | None = None,
        top_k: TopK = 10,
        objective: Objective = "roi",
        top_n: TopN = 5,
    ) -> RankResponse:
        """Rank candidates for a campaign by `objective`, choose the best selection within
        `budget` (see serving.ranking) and explain the `top_k` best candidates. The
        candidates are `campaign`, `creators` and `collaborations`, or the `candidate_set` an
        earlier answer named (a re-rank without sending them again)."""
        engine = self.engine
        # A re-rank by candidate_set reads a set of up to CREATORSCORE_MAX_CREATORS: a thread.
        return await _answer(lambda: engine.rank_payload(
            creators, campaign, collaborations, budget=budget, top_k=top_k,
            objective=objective, top_n=top_n, candidate_set=candidate_set),
            self._headers(engine),
            inline=candidate_set is None and is_light(creators, collaborations))

    @bentoml.api(route="/audit_followers")
    def audit_followers(self, accounts: list[AudienceAccount]) -> AuditResponse:  # type: ignore[valid-type]
        """Per follower account: probability of being fake and audience class; the sample's
        fake share with its interval."""
        engine = self.engine
        return _respond(lambda: engine.audit_payload(accounts), self._headers(engine))

    @bentoml.api(route="/model_info")
    def model_info(self) -> ModelInfo:
        """Model names and versions, training metrics, and the feature documentation."""
        engine = self.engine
        return _respond(engine.model_info, self._headers(engine))


async def _model_info_get(request: Request) -> JSONResponse:
    # BentoML APIs answer POST only; GET /model_info reads the same engine.
    service = bentoml.get_current_service()
    engine = getattr(service, "engine", None)
    if engine is None:
        return JSONResponse({"error": "models are not loaded yet", "detail": []},
                            status_code=503)
    return JSONResponse(engine.model_info().model_dump(mode="json"),
                        headers=service._headers(engine))


async def _docs(request: Request) -> HTMLResponse:
    return HTMLResponse(openapi.swagger_page())


async def _docs_json(request: Request) -> JSONResponse:
    # Mounted before BentoML's own /docs.json route, so this one answers.
    return JSONResponse(_document())


@functools.cache
def _document() -> dict:
    return openapi.openapi_document(
        CreatorScore.openapi_spec.asdict(),
        answers={"/score": ScoreResponse, "/rank": RankResponse,
                 "/audit_followers": AuditResponse, "/model_info": ModelInfo})


# JSON bodies of the two heavy routes are decoded with msgspec, creators on demand (see
# serving.request_body); the input models keep their fields and schema.
for _route, _shape in (("score", ScoreBody), ("rank", RankBody)):
    CreatorScore.apis[_route].input_spec = accelerated(CreatorScore.apis[_route].input_spec,
                                                       _shape)

CreatorScore.mount_asgi_app(
    create_app(lambda: getattr(bentoml.get_current_service(), "engine", None)),
    path=BASE_PATH, name="brand_manager_page")
CreatorScore.mount_asgi_app(
    Starlette(routes=[Route("/model_info", _model_info_get, methods=["GET"]),
                      Route("/docs", _docs, methods=["GET"]),
                      Route("/docs.json", _docs_json, methods=["GET"])]),
    path="/", name="creatorscore_extra_routes")
# Admission first (outermost): a request waiting for a slot has not had its body read yet.
CreatorScore.add_asgi_middleware(AdmissionMiddleware)
CreatorScore.add_asgi_middleware(GuardMiddleware)
