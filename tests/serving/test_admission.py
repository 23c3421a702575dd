"""Admission control and the champion watch (issue 14, findings 5 and 7), on the ASGI layer
and the watch itself, without a model."""
from __future__ import annotations

import asyncio
import json

from serving import admission
from serving.admission import PAGE_WORK, AdmissionMiddleware
from serving.champion_watch import ChampionWatch
from serving.config import ServingConfig


async def _post(middleware, path: str = "/score", method: str = "POST") -> list[dict]:
    """One request through the middleware; the messages sent back."""
    messages = []

    async def send(message):
        messages.append(message)

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    await middleware({"type": "http", "method": method, "path": path, "headers": []},
                     receive, send)
    return messages


def _run_burst(config: ServingConfig, n: int, path: str = "/score", method: str = "POST"):
    """n requests at once through the middleware over an app that holds each one until all
    have arrived; returns (statuses, headers by status, the most requests running at once)."""
    running = 0
    most = 0
    release = asyncio.Event()

    async def app(scope, receive, send):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = AdmissionMiddleware(app, config)

    async def burst():
        tasks = [asyncio.create_task(_post(middleware, path, method)) for _ in range(n)]
        for _ in range(20):
            await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(burst())
    statuses = [messages[0]["status"] for messages in results]
    headers = {messages[0]["status"]: dict(messages[0]["headers"]) for messages in results}
    bodies = {messages[0]["status"]: messages[1]["body"] for messages in results}
    return statuses, headers, bodies, most, middleware


def test_past_running_plus_waiting_requests_are_refused_with_503_and_retry_after():
    config = ServingConfig(max_concurrent=2, max_queued=3)
    statuses, headers, bodies, most, middleware = _run_burst(config, 9)
    assert statuses.count(200) == 5 and statuses.count(503) == 4
    assert most == 2  # never more than max_concurrent running
    assert headers[503][b"retry-after"] == b"1"
    detail = json.loads(bodies[503])
    assert detail["error"] == "service busy" and "CREATORSCORE_MAX_QUEUED" in \
        detail["detail"][0]["msg"]
    assert middleware.refused == 4


def test_the_pages_scoring_routes_share_the_slots_and_get_an_html_503():
    from serving.app import BASE_PATH

    assert all(pattern.pattern.startswith(BASE_PATH + "/") for _, pattern in PAGE_WORK)
    config = ServingConfig(max_concurrent=1, max_queued=1)
    for method, path in (("POST", "/app/upload"), ("POST", "/app/d/abc123/rank"),
                         ("GET", "/app/data/demo")):
        statuses, headers, bodies, most, _ = _run_burst(config, 4, path=path, method=method)
        assert statuses.count(200) == 2 and statuses.count(503) == 2 and most == 1, path
        assert headers[503][b"content-type"].startswith(b"text/html")
        assert headers[503][b"retry-after"] == b"1"
        assert b"The service is busy" in bodies[503]
    for method, path in (("GET", "/app/"), ("GET", "/app/d/abc123"), ("POST", "/app/login"),
                         ("GET", "/app/s/x/shortlist.csv")):
        statuses, _, _, most, _ = _run_burst(config, 4, path=path, method=method)
        assert statuses == [200] * 4 and most == 4, path


def test_health_routes_are_never_queued_or_refused():
    config = ServingConfig(max_concurrent=1, max_queued=0)
    statuses, _, _, most, _ = _run_burst(config, 5, path="/readyz", method="GET")
    assert statuses == [200] * 5 and most == 5


def test_config_reads_the_admission_limits():
    config = ServingConfig.from_env({"CREATORSCORE_MAX_CONCURRENT": "3",
                                     "CREATORSCORE_MAX_QUEUED": "7",
                                     "CREATORSCORE_RELOAD_INTERVAL": "0"})
    assert (config.max_concurrent, config.max_queued, config.reload_interval_s) == (3, 7, 0)
    assert ServingConfig().max_body_bytes == 32 * 2**20


class _Engine:
    def __init__(self, version: str) -> None:
        self.version = version
        self.provenance = {"model_version": f"creatorscore/{version}"}


def test_the_watch_swaps_to_a_new_champion_and_keeps_serving_on_a_bad_one(monkeypatch):
    from store import registry

    alias = {"version": "1"}
    monkeypatch.setattr(registry, "peek_alias", lambda name, uri=None: registry.VersionInfo(
        "creatorscore", alias["version"], None, (name,), {}))
    loads = {"2": _Engine("2"), "3": RuntimeError("model creatorscore/3 is damaged")}
    served = []

    def load():
        result = loads[alias["version"]]
        if isinstance(result, Exception):
            raise result
        return result

    watch = ChampionWatch(None, "1", interval=0, load=load, swap=served.append)
    assert not watch.check() and watch.is_current
    alias["version"] = "2"
    assert watch.check() and [e.version for e in served] == ["2"] and watch.is_current
    alias["version"] = "3"  # promoted, but damaged: keep answering with version 2
    assert not watch.check() and len(served) == 1
    assert not watch.is_current and watch.registry_version == "3"


def test_the_heap_is_trimmed_once_the_worker_has_been_idle_not_after_every_request(
        monkeypatch):
    """A client sending requests one after another empties the worker between them: the
    trim waits for IDLE_TRIM_S without work, and a request within it cancels the trim."""
    monkeypatch.setattr(admission, "IDLE_TRIM_S", 0.05)
    trimmed = []
    monkeypatch.setattr(admission, "release_memory", lambda: trimmed.append(1))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = AdmissionMiddleware(app, ServingConfig())

    async def request():
        await _post(middleware)

    async def session():
        for _ in range(5):  # one after another, each within the idle time of the last
            await request()
            await asyncio.sleep(0.01)
        assert middleware.trims == 0
        await asyncio.sleep(0.15)
        assert middleware.trims == 1
        await request()  # a new burst, then idle again: one more trim
        await asyncio.sleep(0.15)

    asyncio.run(session())
    assert middleware.trims == 2 and len(trimmed) == 2


def test_a_request_arriving_while_the_worker_has_scoring_work_closes_its_connection():
    """Kept-alive connections stay on the worker that accepted them: a client whose request
    found this worker busy is told to reconnect (an idle worker then likely accepts it); a
    request alone in the worker keeps its connection."""
    release = asyncio.Event()

    async def app(scope, receive, send):
        await release.wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = AdmissionMiddleware(app, ServingConfig(max_concurrent=2, max_queued=4))

    async def request():
        return dict((await _post(middleware))[0]["headers"])

    async def session():
        alone_task = asyncio.create_task(request())
        await asyncio.sleep(0)
        others = [asyncio.create_task(request()) for _ in range(2)]
        await asyncio.sleep(0)
        release.set()
        alone, *crowded = await asyncio.gather(alone_task, *others)
        later = await request()  # the worker empty again
        return alone, crowded, later

    alone, crowded, later = asyncio.run(session())
    assert b"connection" not in alone and b"connection" not in later
    assert all(headers[b"connection"] == b"close" for headers in crowded)
    assert all(headers[b"content-type"] == b"application/json" for headers in crowded)
