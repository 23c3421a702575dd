"""ASGI middleware in front of the BentoML routes: API key, media type and body size.

These checks run before BentoML parses a body, so an unauthenticated or oversized request is
refused without the cost of reading it. Health and monitoring routes (/livez, /readyz,
/healthz, /metrics) and the documentation pages stay open.
"""
from __future__ import annotations

import hmac
import json

from serving.config import ServingConfig

PROTECTED_PATHS = frozenset({"/score", "/rank", "/audit_followers", "/model_info"})
JSON_MEDIA_TYPES = frozenset({"application/json", ""})


def _error(status: int, error: str, loc: list, msg: str, type_: str,
           extra_headers: list[tuple[bytes, bytes]] | None = None):
    body = json.dumps({"error": error, "detail": [{"loc": loc, "msg": msg, "type": type_}]}
                      ).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra_headers or [])]
    return {"type": "http.response.start", "status": status, "headers": headers}, \
        {"type": "http.response.body", "body": body}


class GuardMiddleware:
    """Refuses, on the protected paths: a missing or wrong API key (401), a body that is not
    JSON (415), a body over the size limit (413). Settings are read from the environment
    when the app is built (see serving.config)."""

    def __init__(self, app, config: ServingConfig | None = None) -> None:
        self.app = app
        self.config = config or ServingConfig.from_env()
        self._key = self.config.api_key.encode() if self.config.api_key else None

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        if self._key is None:
            return True
        offered = headers.get(b"x-api-key")
        if offered is None:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            offered = token.strip() if scheme.lower() == b"bearer" else b""
        return hmac.compare_digest(offered, self._key)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path", "").rstrip("/") not in PROTECTED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        if not self._authorised(headers):
            for message in _error(401, "unauthorised", ["header", "X-API-Key"],
                                  "missing or wrong API key; expected the key in the X-API-Key "
                                  "header or as Authorization: Bearer <key>", "unauthorised",
                                  [(b"www-authenticate", b"Bearer")]):
                await send(message)
            return
        if scope.get("method") == "POST":
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media_type.decode("latin-1") not in JSON_MEDIA_TYPES:
                for message in _error(415, "unsupported media type", ["header", "Content-Type"],
                                      f"got {media_type.decode('latin-1')!r}; expected "
                                      "application/json", "unsupported_media_type"):
                    await send(message)
                return
            limit = self.config.max_body_bytes
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await self._too_large(send, int(declared))
                return
            body = await self._read_body(receive, limit)
            if body is None:
                await self._too_large(send, None)
                return
            receive = self._replay(body, receive)
        await self.app(scope, receive, send)

    async def _too_large(self, send, size: int | None) -> None:
        got = f"; got {size:,} bytes" if size is not None else ""
        for message in _error(413, "request too large", ["body"],
                              f"at most {self.config.max_body_bytes:,} bytes per request (set by "
                              f"CREATORSCORE_MAX_BODY_BYTES){got}", "too_large"):
            await send(message)

    @staticmethod
    async def _read_body(receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it exceeds `limit` bytes.

        Read here rather than counted inside BentoML's handler, which would turn an exception
        raised while it reads into a 500.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # client gone: the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _replay(body: bytes, receive):
        sent = False

        async def replay_receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay_receive
