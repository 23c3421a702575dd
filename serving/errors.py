"""Request errors with the field path of each problem, in the shape of pydantic's errors.

Every 4xx answer of the service has the body
`{"error": "<summary>", "detail": [{"loc": [...field path...], "msg": "...", "type": "..."}]}`:
the same shape BentoML gives pydantic validation errors, so a client handles one format.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class RequestError(Exception):
    """A request the service cannot answer; `status` is the HTTP status (4xx)."""

    status: int
    error: str
    detail: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.error)

    def body(self) -> dict:
        return {"error": self.error, "detail": self.detail}


def problem(loc: Sequence[str | int], msg: str, type_: str) -> dict:
    return {"loc": list(loc), "msg": msg, "type": type_}


def too_large(loc: Sequence[str | int], what: str, limit: int, got: int, variable: str) -> dict:
    return problem(loc, f"at most {limit:,} {what} per request (set by {variable}); got {got:,}",
                   "too_large")
