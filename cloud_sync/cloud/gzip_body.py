"""ASGI middleware: accept `Content-Encoding: gzip` request bodies (the sync agent sends
gzip batches), with a cap on the decompressed size so a small bomb cannot exhaust memory."""

from __future__ import annotations

import json
import zlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class GzipRequestMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        encoding = headers.get(b"content-encoding", b"").lower()
        if encoding in (b"", b"identity"):
            await self.app(scope, receive, send)
            return
        if encoding != b"gzip":
            await _error(send, 415, "unsupported_media_type", "only gzip content encoding")
            return
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        parts: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            more = bool(message.get("more_body"))
            try:
                chunk = inflater.decompress(message.get("body", b""), self.max_bytes - size + 1)
            except zlib.error:
                await _error(send, 400, "bad_request", "body is not valid gzip")
                return
            size += len(chunk)
            if size > self.max_bytes or inflater.unconsumed_tail:
                await _error(send, 413, "too_large", "decompressed body too large")
                return
            parts.append(chunk)
        body = b"".join(parts)
        new_headers = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
        ] + [(b"content-length", str(len(body)).encode())]
        scope = dict(scope, headers=new_headers)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _error(send: Send, status: int, code: str, message: str) -> None:
    payload: dict[str, Any] = {"code": code, "message": message, "details": None}
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
