"""/score and /rank bodies decoded with msgspec, each creator kept as its raw JSON until needed.

BentoML parses a body with the route's pydantic input model (serving.schemas): ~230 ms for a
/rank of 1,000 creators (~28 MB), before any scoring. Here the top level is decoded with
msgspec (~20 ms) and every creator stays as its raw JSON bytes, hashed at once (SHA-256, ~9-16
ms): the feature cache keys creators by that content (serving.feature_cache), so a request
seen before (a brand manager moving the budget) is answered without decoding its creators at
all. A creator is decoded (msgspec, into the same plain dicts pydantic gives) only when the
engine reads it, its records as structs of the contract's columns: typed ones (each value of
its column's JSON type or null, which serving.convert reads into columns without looking at
each value's type) when every creator's values are, else ones of any JSON values.

One shape, pydantic's: whatever msgspec refuses, at the top level or in a creator, is parsed
again by the route's pydantic model, which either gives the 400 it always gave or accepts it
(e.g. `"top_n": "5"`, which pydantic's lax mode takes), and then its result is used. msgspec's
structs below are strictly narrower than the pydantic models (tests/serving/test_request_body.py
checks both on the same bodies), so a body is never accepted here that pydantic would refuse.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

import msgspec

from data.contract import TABLES

# A creator's tables besides its profile, in the request's order.
NESTED_TABLES = ("posts", "follower_history", "audience_sample", "comments")
# Content digests of the raw creators: SHA-256 runs on the CPU's SHA extensions (~1.7 GB/s
# here, 2x blake2b); 16 bytes are plenty for a cache key.
DIGEST_BYTES = 16


# JSON type of a contract column's values in the typed records (floats may be sent as integers:
# msgspec keeps each as it came, as for `Any`).
_JSON_TYPES = {"str": str, "date": str, "ts": str, "int": int, "float": int | float,
               "bool": bool}


class TypedRecord(msgspec.Struct, gc=False):
    """Base of the typed records: every value of its column's JSON type or null, which
    serving.convert reads into columns without checking or inferring their types."""


def _record(table: str, typed: bool = False) -> type[msgspec.Struct]:
    """A row of a contract table: every contract column, absent = None; other fields
    ignored, as pydantic's records do. Values: any JSON value (the contract validator
    decides it), or with `typed` only their column's JSON type (a TypedRecord).
    Rows decode ~40% faster as structs than as dicts, and columns read faster from them.
    Not tracked by the garbage collector (a decoded record holds no cycle): a /rank of 1,000
    creators makes ~190k of them, which every full collection would walk again."""
    return msgspec.defstruct(
        f"{table}_{'typed_' if typed else ''}record",
        [(column.name, _JSON_TYPES[column.type] | None if typed else Any, None)
         for column in TABLES[table].columns],
        bases=(TypedRecord,) if typed else None, gc=False)


def _creator_body(name: str, typed: bool, doc: str) -> type[msgspec.Struct]:
    """One creator as `serving.schemas.CreatorRecords` accepts it: records are JSON objects
    (see `_record`), posts at least one."""
    return msgspec.defstruct(name, [
        ("profile", _record("creators", typed)),
        ("posts", Annotated[list[_record("posts", typed)], msgspec.Meta(min_length=1)]),
        *((table, list[_record(table, typed)] | None, None) for table in NESTED_TABLES[1:]),
    ], namespace={"__doc__": doc}, module=__name__, gc=False)


CreatorBody = _creator_body("CreatorBody", False, "A creator's records, any JSON values.")
TypedCreatorBody = _creator_body(
    "TypedCreatorBody", True,
    "A creator's records, values of their columns' JSON types: the usual request, read into "
    "typed columns without a check per value (a value of another type: `CreatorBody`).")


class ScoreBody(msgspec.Struct):
    creators: list[msgspec.Raw]
    campaign: dict[str, Any] | None = None
    collaborations: list[dict[str, Any]] | None = None
    explain: bool = True
    top_n: int = 5


class RankBody(msgspec.Struct):
    budget: float
    campaign: dict[str, Any] | None = None
    creators: list[msgspec.Raw] | None = None
    collaborations: list[dict[str, Any]] | None = None
    candidate_set: str | None = None
    top_k: int = 10
    objective: Literal["roi", "profit", "conversions", "revenue"] = "roi"
    top_n: int = 5


# From this many bytes of creators, half of them are hashed on a helper thread (hashlib
# releases the GIL while it hashes): a /rank of 1,000 creators (~28 MB) 16 -> 9 ms in process
# when the second core is free. One thread for the process: a request waits for its own half.
PARALLEL_DIGEST_BYTES = 4 << 20
_DIGESTER = ThreadPoolExecutor(1, thread_name_prefix="creator-digests")


def _digests(raws: Sequence[bytes]) -> list[bytes]:
    return [hashlib.sha256(raw).digest()[:DIGEST_BYTES] for raw in raws]


_TYPED_CREATOR_DECODER = msgspec.json.Decoder(TypedCreatorBody)
_CREATOR_DECODER = msgspec.json.Decoder(CreatorBody)


class JSONCreators(Sequence):
    """The creators of a decoded body: their count and content digests without decoding
    them; indexing or iterating decodes them all, once. `reparse()` parses the whole body
    with pydantic: called when msgspec refuses a creator, it raises pydantic's
    ValidationError (BentoML's 400) or returns the creators pydantic accepted."""

    def __init__(self, raws: list[msgspec.Raw], reparse: Callable[[], Sequence]) -> None:
        self.raws = raws
        self.reparse = reparse
        self._decoded: Sequence | None = None
        self._digests: list[bytes] | None = None

    @property
    def content_digests(self) -> list[bytes]:
        """A digest of each creator's JSON as sent (equal bytes, equal records)."""
        if self._digests is None:
            raws = self.raws
            if self.raw_bytes >= PARALLEL_DIGEST_BYTES:
                half = len(raws) // 2
                later = _DIGESTER.submit(_digests, raws[half:])
                self._digests = _digests(raws[:half]) + later.result()
            else:
                self._digests = _digests(raws)
        return self._digests

    @functools.cached_property
    def raw_bytes(self) -> int:
        """The size of the creators' JSON as sent: the measure of their scoring work before
        any is done (serving.service scores light requests on the event loop)."""
        return sum(map(len, self.raws))

    def decoded(self) -> Sequence:
        if self._decoded is None:
            # One kind of record per request: typed if every creator's values are of their
            # columns' types, else any JSON values, else pydantic's answer.
            try:
                self._decoded = [_TYPED_CREATOR_DECODER.decode(raw) for raw in self.raws]
            except msgspec.MsgspecError:
                try:
                    self._decoded = [_CREATOR_DECODER.decode(raw) for raw in self.raws]
                except msgspec.MsgspecError:
                    self._decoded = self.reparse()
        return self._decoded

    def __len__(self) -> int:
        return len(self.raws)

    def __getitem__(self, index):
        return self.decoded()[index]

    def __iter__(self) -> Iterator:
        return iter(self.decoded())


def decode(body: bytes, shape: type[msgspec.Struct], reparse: Callable[[], Sequence]
           ) -> dict[str, Any] | None:
    """The body's fields by name, creators as `JSONCreators`; None when msgspec refuses the
    top level (the caller parses it with pydantic)."""
    try:
        decoded = msgspec.json.decode(body or b"{}", type=shape)
    except msgspec.MsgspecError:
        return None
    fields = {name: getattr(decoded, name) for name in decoded.__struct_fields__}
    if decoded.creators is not None:
        fields["creators"] = JSONCreators(decoded.creators, reparse)
    return fields


def accelerated(input_spec: type, shape: type[msgspec.Struct]) -> type:
    """The route's BentoML input model (a pydantic model; same fields, same schema) whose
    JSON bodies are decoded by `decode`; any other body, and every body msgspec refuses, is
    parsed by the model itself, as before."""

    async def from_http_request(cls, request, serde):
        if getattr(serde, "media_type", None) != "application/json":
            return await input_spec.from_http_request.__func__(cls, request, serde)
        body = await request.body()

        def reparse() -> Sequence:
            return input_spec.model_validate_json(body or b"{}").creators

        fields = decode(body, shape, reparse)
        if fields is None:
            return await input_spec.from_http_request.__func__(cls, request, serde)
        return cls.model_construct(**fields)

    return type(input_spec.__name__, (input_spec,), {
        "__module__": input_spec.__module__,
        "from_http_request": classmethod(from_http_request),
    })
