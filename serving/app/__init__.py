"""The brand manager's page, served by the scoring service at /app (a Starlette app mounted
into the BentoML service; `create_app` builds it over any engine, for tests).

Flow: upload candidates (or pick a dataset the server was started with) -> choose the campaign
and the budget -> the ranked shortlist (the /rank answer) -> a creator's reasons (the /score
answer). Pages are rendered on the server (Jinja2, matplotlib SVG charts); they load nothing
from another origin (a Content-Security-Policy says so to the browser). With
CREATORSCORE_API_KEY set, a sign-in form asks for the key once and keeps a session cookie
(HttpOnly, SameSite=Strict); the key never appears in a URL.

Uploads and shortlists are kept in the worker's memory (the last MAX_SOURCES and
MAX_SHORTLISTS): with several workers (`--workers N`) a page may land on a worker that has
not seen its upload, which then asks for it again.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from data.contract import NICHES
from serving.app.uploads import read_directory, read_upload
from serving.app.views import creator_detail, render, shortlist_context
from serving.config import ServingConfig
from serving.errors import RequestError, problem
from serving.report import shortlist_csv, shortlist_pdf
from serving.shortlist import (
    CandidateSource,
    Shortlist,
    parse_budget,
    parse_campaign_overrides,
    rank_shortlist,
)

logger = logging.getLogger(__name__)

BASE_PATH = "/app"
DATA_DIRS_VARIABLE = "CREATORSCORE_DATA_DIR"  # set by `creatorscore serve --data DIR`
SESSION_COOKIE = "creatorscore_session"
MAX_SOURCES = 8
MAX_SHORTLISTS = 32
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; "
                           "script-src 'unsafe-inline'; img-src 'self' data:; "
                           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class _Settings:
    config: ServingConfig
    datasets: dict[str, Path]
    session: str | None  # the session cookie's value; None when no API key is set


@dataclass
class _Ranked:
    source_token: str
    request: dict
    shortlist: Shortlist


class _Memory:
    """The last uploads and shortlists of this worker (least recently used dropped first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sources: OrderedDict[str, CandidateSource] = OrderedDict()
        self.shortlists: OrderedDict[str, _Ranked] = OrderedDict()

    def put(self, store: OrderedDict, value, limit: int) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            store[token] = value
            while len(store) > limit:
                store.popitem(last=False)
        return token

    def get(self, store: OrderedDict, token: str):
        with self._lock:
            if token not in store:
                raise RequestError(404, "this page has expired", [problem(
                    ["page"], "the server no longer holds these candidates (restarted, or "
                    "replaced by newer uploads); expected a new upload", "expired")])
            store.move_to_end(token)
            return store[token]


def data_dirs_from_env() -> list[Path]:
    raw = os.environ.get(DATA_DIRS_VARIABLE, "")
    return [Path(part) for part in raw.split(os.pathsep) if part.strip()]


def create_app(engine: Callable[[], object], config: ServingConfig | None = None,
               data_dirs: Sequence[Path] | None = None, base: str = BASE_PATH) -> Starlette:
    """The page's ASGI app; mount it at `base`. `engine()` returns the ScoringEngine, or None
    while the champion is loading."""
    memory = _Memory()
    loaded: dict[str, CandidateSource] = {}  # the server's datasets, once read

    @cache
    def settings() -> _Settings:
        # Read on the first request, in the worker: the environment the server was started
        # with (API key, limits, --data), not the one of whoever imported the service.
        conf = config or ServingConfig.from_env()
        dirs = data_dirs_from_env() if data_dirs is None else data_dirs
        session = (hmac.new(conf.api_key.encode(), b"creatorscore page session",
                            hashlib.sha256).hexdigest() if conf.api_key else None)
        return _Settings(conf, {Path(d).name: Path(d) for d in dirs}, session)

    def html(template: str, status: int = 200, **context) -> HTMLResponse:
        page = {"base": base, "static": False, "logged_in": settings().session is not None}
        response = HTMLResponse(render(template, **{**page, **context}), status_code=status)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Cache-Control"] = "no-store"
        return response

    def signed_in(request: Request) -> bool:
        session = settings().session
        if session is None:
            return True
        return hmac.compare_digest(request.cookies.get(SESSION_COOKIE, ""), session)

    def current_engine():
        value = engine()
        if value is None:
            raise RequestError(503, "the models are still loading", [problem(
                ["service"], "the champion model is not loaded yet; expected a moment's "
                "wait", "not_ready")])
        return value

    def home_page(error: RequestError | None = None) -> HTMLResponse:
        return html("home.html", status=error.status if error else 200, error=error,
                    datasets=sorted(settings().datasets),
                    max_mb=round(settings().config.max_body_bytes / 2**20))

    def page_route(handler):
        """Sign-in, then the handler; a RequestError becomes the page with its problems
        (never a stack trace)."""
        async def endpoint(request: Request) -> Response:
            if not signed_in(request):
                return html("login.html", status=401, failed=False, logged_in=False)
            try:
                return await handler(request)
            except RequestError as error:
                return await error_page(request, error)
            except Exception:  # noqa: BLE001 - a page never shows a stack trace
                logger.exception("page %s failed", request.url.path)
                return home_page(RequestError(422, "these data could not be processed", [
                    problem(["page"], "an unexpected error occurred (logged on the server); "
                            "expected data the contract accepts", "internal")]))
        return endpoint

    async def error_page(request: Request, error: RequestError) -> Response:
        token = request.path_params.get("token")
        if token and request.url.path.endswith("/rank") and token in memory.sources:
            form = await request.form()
            return await campaign_page(token, form.get("campaign_id"), error=error,
                                       form=dict(form))
        return home_page(error)

    async def home(request: Request) -> Response:
        return home_page()

    async def login(request: Request) -> Response:
        key, session = settings().config.api_key, settings().session
        if session is None:
            return RedirectResponse(f"{base}/", status_code=303)
        form = await request.form()
        offered = str(form.get("api_key", ""))
        if not hmac.compare_digest(offered.encode(), key.encode()):
            return html("login.html", status=401, failed=True, logged_in=False)
        response = RedirectResponse(f"{base}/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict",
                            path=base)
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse(f"{base}/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=base)
        return response

    async def upload(request: Request) -> Response:
        config = settings().config
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_body_bytes + 64 * 1024:
            raise RequestError(413, "upload too large", [problem(
                ["upload"], f"at most {config.max_body_bytes:,} bytes (set by "
                f"CREATORSCORE_MAX_BODY_BYTES); got {int(declared):,}", "too_large")])
        form = await request.form(max_part_size=config.max_body_bytes + 1)
        files = [(item.filename or "", await item.read()) for item in form.getlist("files")
                 if hasattr(item, "filename")]
        source = await run_in_threadpool(read_upload, files, config.max_body_bytes)
        token = memory.put(memory.sources, source, MAX_SOURCES)
        return RedirectResponse(f"{base}/d/{token}", status_code=303)

    async def server_dataset(request: Request) -> Response:
        name = request.path_params["name"]
        datasets = settings().datasets
        if name not in datasets:
            raise RequestError(404, "unknown dataset", [problem(
                ["dataset"], f"no dataset {name!r}; expected one of {sorted(datasets)}",
                "unknown_dataset")])
        if name not in loaded:  # read and validated once per worker
            loaded[name] = await run_in_threadpool(read_directory, datasets[name])
        token = memory.put(memory.sources, loaded[name], MAX_SOURCES)
        return RedirectResponse(f"{base}/d/{token}", status_code=303)

    async def campaign_page(token: str, campaign_id: str | None,
                            error: RequestError | None = None,
                            form: dict | None = None) -> Response:
        source = memory.get(memory.sources, token)
        campaigns = source.campaigns()
        chosen = next((c for c in campaigns if c["campaign_id"] == campaign_id),
                      campaigns[0] if campaigns else {})
        if form:  # the user's own values, shown again with the problems
            chosen = {**chosen, **{k: form[k] for k in ("brief", "niche", "target_countries",
                                                        "product_price") if k in form}}
        budget = (form or {}).get("budget") or _default_budget(chosen)
        return html("campaign.html", status=error.status if error else 200, error=error,
                    source=source, token=token, campaigns=campaigns, chosen=chosen,
                    niches=NICHES, budget=budget,
                    objective=(form or {}).get("objective", "roi"))

    async def campaign(request: Request) -> Response:
        return await campaign_page(request.path_params["token"],
                                   request.query_params.get("campaign"))

    async def rank(request: Request) -> Response:
        token = request.path_params["token"]
        source = memory.get(memory.sources, token)
        form = await request.form()
        budget = parse_budget(str(form.get("budget", "")))
        overrides = parse_campaign_overrides({k: str(v) for k, v in form.items()})
        objective = str(form.get("objective", "roi"))
        ranking_request = source.rank_request(str(form.get("campaign_id", "")), overrides)
        shortlist = await run_in_threadpool(rank_shortlist, current_engine(), ranking_request,
                                            budget, objective)
        sid = memory.put(memory.shortlists, _Ranked(token, ranking_request, shortlist),
                         MAX_SHORTLISTS)
        return RedirectResponse(f"{base}/s/{sid}", status_code=303)

    async def shortlist_page(request: Request) -> Response:
        sid = request.path_params["sid"]
        ranked = memory.get(memory.shortlists, sid)
        return html("shortlist.html", link=f"{base}/s/{sid}", details=[],
                    provenance=ranked.shortlist.answer["provenance"],
                    **shortlist_context(ranked.shortlist))

    async def creator_page(request: Request) -> Response:
        sid = request.path_params["sid"]
        ranked = memory.get(memory.shortlists, sid)
        source = memory.get(memory.sources, ranked.source_token)
        detail = await run_in_threadpool(creator_detail, current_engine(), source,
                                         ranked.request, ranked.shortlist,
                                         request.path_params["creator_id"])
        return html("creator.html", link=f"{base}/s/{sid}", detail=detail,
                    campaign=ranked.shortlist.campaign,
                    provenance=ranked.shortlist.answer["provenance"])

    async def export(request: Request) -> Response:
        ranked = memory.get(memory.shortlists, request.path_params["sid"])
        if request.path_params["fmt"] not in ("csv", "pdf"):
            raise RequestError(404, "unknown export", [problem(
                ["export"], f"no {request.path_params['fmt']!r} export; expected csv or pdf",
                "unknown_format")])
        name = f"shortlist-{ranked.shortlist.campaign['campaign_id']}"
        if request.path_params["fmt"] == "csv":
            content, media = shortlist_csv(ranked.shortlist), "text/csv; charset=utf-8"
        else:
            content = await run_in_threadpool(shortlist_pdf, ranked.shortlist)
            media = "application/pdf"
        return Response(content, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}.{request.path_params["fmt"]}"',
            "Cache-Control": "no-store"})

    async def login_page(request: Request) -> Response:
        if signed_in(request):
            return RedirectResponse(f"{base}/", status_code=303)
        return html("login.html", status=401, failed=False, logged_in=False)

    routes = [
        Route("/", page_route(home), methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/upload", page_route(upload), methods=["POST"]),
        Route("/data/{name}", page_route(server_dataset), methods=["GET"]),
        Route("/d/{token}", page_route(campaign), methods=["GET"]),
        Route("/d/{token}/rank", page_route(rank), methods=["POST"]),
        Route("/s/{sid}", page_route(shortlist_page), methods=["GET"]),
        Route("/s/{sid}/creator/{creator_id}", page_route(creator_page), methods=["GET"]),
        Route("/s/{sid}/shortlist.{fmt:str}", page_route(export), methods=["GET"]),
    ]
    return Starlette(routes=routes)


def _default_budget(campaign: dict) -> str:
    """Half the campaign's planned spend: a budget that makes the selection choose."""
    if not campaign:
        return ""
    return f"{round(campaign.get('planned_cost', 0.0) / 2, -2):.0f}"
