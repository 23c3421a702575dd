"""The floors of scripts/benchmark_service.py: a BentoML service with the scoring routes' input
types (pydantic's parsing of the body, as BentoML does by default) that does nothing with
them, and `/floor/read_body`, which only reads the body (HTTP and the transfer of the bytes:
what no parsing can go below). What the real service costs above these is ours."""
from __future__ import annotations

import os

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

import bentoml  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from serving.config import default_workers  # noqa: E402
from serving.schemas import CampaignRecord, CreatorRecords, PlannedCollaboration  # noqa: E402


@bentoml.service(name="creatorscore_noop", workers=default_workers())
class NoOp:
    @bentoml.api(route="/score")
    def score(self, creators: list[CreatorRecords],
              campaign: CampaignRecord | None = None,  # type: ignore[valid-type]
              collaborations: list[PlannedCollaboration] | None = None,  # type: ignore[valid-type]
              explain: bool = True, top_n: int = 5) -> dict:
        return {"creators": len(creators)}

    @bentoml.api(route="/rank")
    def rank(self, budget: float,
             campaign: CampaignRecord | None = None,  # type: ignore[valid-type]
             creators: list[CreatorRecords] | None = None,
             collaborations: list[PlannedCollaboration] | None = None,  # type: ignore[valid-type]
             candidate_set: str | None = None, top_k: int = 10, objective: str = "roi",
             top_n: int = 5) -> dict:
        return {"creators": len(creators or ())}


async def _read_body(request: Request) -> JSONResponse:
    return JSONResponse({"bytes": len(await request.body())})


NoOp.mount_asgi_app(Starlette(routes=[Route("/read_body", _read_body, methods=["POST"])]),
                    path="/floor")
