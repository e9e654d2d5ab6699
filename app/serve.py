"""The HTTP side of `hearth serve`: an OpenAI-compatible API on Starlette, answered from the library.

Routes (all need `Authorization: Bearer <token>`): GET /v1/models, POST /v1/chat/completions
(SSE when "stream": true), POST /v1/embeddings, and Hearth's own POST /v1/search and
GET /v1/hearth/status (the queue). Every error is
an OpenAI-shaped JSON body ({"error": {"message", "type", "code"}}), never a traceback.

Requests never touch the model here: each becomes a job for the one model owner thread
(`app.serve_engine.ModelOwner`); results come back over an asyncio queue. A client that goes
away cancels its job, whether it is still queued or already generating.

Imported only by `hearth serve` and the GUI's server toggle: starlette loads on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app import serve_api as api
from app.serve_engine import ModelOwner, RequestError, ServerBusy
from rag.base.cancel import CancelToken
from rag.base.errors import HearthError

log = logging.getLogger("hearth.serve")

MAX_BODY = 1_000_000  # bytes; an OpenAI chat body with long history is far smaller
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               404: "not_found_error", 405: "invalid_request_error",
               413: "invalid_request_error", 415: "invalid_request_error",
               429: "rate_limit_error", 500: "server_error", 503: "server_error"}


def error(status: int, message: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": ERROR_TYPES.get(status, "error"),
                                   "param": None, "code": code}}, status_code=status)


def CANCELLED() -> JSONResponse:  # noqa: N802 - reads like the constant it stands for
    return error(499, "The request was cancelled (its client went away, or the server is "
                      "stopping).", "cancelled")


class Guard:
    """Pure ASGI middleware in front of every route: Host check (DNS rebinding), bearer token,
    declared body size. Pure ASGI, not BaseHTTPMiddleware, so streaming is untouched."""

    def __init__(self, app, token: str, hosts: Sequence[str] | None, max_body: int) -> None:
        self.app, self.token, self.max_body = app, token.encode("ascii"), max_body
        self.hosts = {h.lower() for h in hosts} if hosts is not None else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        problem = self.check(headers)
        if problem is not None:
            await problem(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, headers: dict[bytes, bytes]) -> Response | None:
        if self.hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.hosts:
                return error(400, "This server only answers requests addressed to localhost.",
                             "bad_host")
        auth = headers.get(b"authorization", b"")
        scheme, _, given = auth.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            return error(401, "Missing or wrong API key. Use the token from "
                              "`hearth serve --show-token` as the bearer token.", "invalid_api_key")
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return error(413, f"The request body is larger than {self.max_body} bytes.",
                         "too_large")
        return None


async def read_json(request: Request, max_body: int) -> Any:
    # Any Content-Type: the body must parse as JSON (curl's -d sends form-urlencoded by default).
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > max_body:
            raise RequestError(f"The request body is larger than {max_body} bytes.", 413)
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"The body is not valid JSON: {exc}") from None


class Job:
    """One request's job on the owner thread, seen from the event loop as an async queue."""

    def __init__(self, owner: ModelOwner, work) -> None:
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.cancel = CancelToken()

        def sink(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))

        owner.submit(work, sink, self.cancel)  # ServerBusy -> 429

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        """(kind, value) items until the job ends; raises its error; stops if cancelled."""
        while True:
            status, value = await self.queue.get()
            if status == "item":
                yield value
            elif status == "error":
                raise value
            else:
                return


async def next_or_gone(events: AsyncIterator, watcher: asyncio.Task) -> Any:
    """The job's next item; None when it has ended or its client went away (a queued request
    whose client hung up returns at once, not when the model reaches it)."""
    step = asyncio.ensure_future(anext(events, None))
    done, _ = await asyncio.wait({step, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if step in done:
        return step.result()
    step.cancel()
    return None


async def watch_disconnect(request: Request, cancel: CancelToken) -> None:
    """The body is read, so the next ASGI message is the client going away: cancel its job."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancel.cancel()
            return


class Api:
    def __init__(self, engine, owner: ModelOwner, max_body: int = MAX_BODY) -> None:
        self.engine, self.owner, self.max_body = engine, owner, max_body

    async def models(self, _request: Request) -> Response:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "hearth"}
                for name in self.engine.model_names]
        data.append({"id": self.engine.embedding_model, "object": "model", "created": 0,
                     "owned_by": "hearth"})
        return JSONResponse({"object": "list", "data": data})

    async def status(self, _request: Request) -> Response:
        """Hearth's own: the queue, for scripts that watch load (and tests that watch cancels)."""
        o = self.owner
        return JSONResponse({"object": "hearth.status", "pending": o.pending,
                             "completed": o.completed, "cancelled": o.cancelled,
                             "failed": o.failed, "max_pending": o.max_pending,
                             "models": self.engine.model_names,
                             "embedding_model": self.engine.embedding_model,
                             "forget_owed": self.engine.forget_owed()})

    async def embeddings(self, request: Request) -> Response:
        texts, fmt = api.parse_embeddings(await read_json(request, self.max_body))
        return await self._one_result(request, api.embed_job(self.engine, texts, fmt))

    async def search(self, request: Request) -> Response:
        query, k, folders = api.parse_search(await read_json(request, self.max_body))
        return await self._one_result(request, api.search_job(self.engine, query, k, folders))

    async def _one_result(self, request: Request, work) -> Response:
        job = Job(self.owner, work)
        watcher = asyncio.create_task(watch_disconnect(request, job.cancel))
        try:
            item = await next_or_gone(job.events(), watcher)
        finally:
            watcher.cancel()
        return JSONResponse(item[1]) if item is not None else CANCELLED()

    async def chat(self, request: Request) -> Response:
        req = api.parse_chat(await read_json(request, self.max_body), self.engine.settings)
        work = (api.answer_job if req.retrieval else api.chat_job)(self.engine, req)
        job = Job(self.owner, work)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()),
                "model": (self.engine.model_names or ["hearth"])[0]}
        events = job.events()
        watcher = asyncio.create_task(watch_disconnect(request, job.cancel))
        try:  # wait here (no headers yet) until the job starts: its errors can still be a 4xx
            first = await next_or_gone(events, watcher)
            if not req.stream:
                return await self._complete(first, events, watcher, meta, req)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if first is None:
            return CANCELLED()
        return StreamingResponse(self._sse(first, events, job, meta, req),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _complete(self, first, events, watcher, meta: dict,
                        req: api.ChatRequest) -> Response:
        final: dict | None = None
        parts: list[str] = []
        item = first
        while item is not None:
            kind, value = item
            if kind == "token":
                parts.append(value)
            elif kind == "done":
                final = value
            item = await next_or_gone(events, watcher)
        if final is None:
            return CANCELLED()
        meta["model"] = final.get("model") or meta["model"]
        return JSONResponse({
            **meta, "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": api.finish_reason(final, req.max_tokens),
                         "message": {"role": "assistant", "content": final.get("answer", "")},
                         "logprobs": None}],
            "usage": api.usage(final), **api.extras(final)})

    async def _sse(self, first, events, job: Job, meta: dict,
                   req: api.ChatRequest) -> AsyncIterator[str]:
        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
            body = {**meta, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}], **extra}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        try:
            kind, value = first
            yield chunk({"role": "assistant", "content": ""},
                        **(value if kind == "sources" else {"sources": []}))
            item: tuple | None = first if kind != "sources" else await anext(events, None)
            while item is not None:
                kind, value = item
                if kind == "token":
                    yield chunk({"content": value})
                elif kind == "done":
                    meta["model"] = value.get("model") or meta["model"]
                    yield chunk({}, api.finish_reason(value, req.max_tokens), **api.extras(value))
                    if req.include_usage:
                        body = {**meta, "object": "chat.completion.chunk", "choices": [],
                                "usage": api.usage(value)}
                        yield f"data: {json.dumps(body)}\n\n"
                item = await anext(events, None)
            yield "data: [DONE]\n\n"
        except Exception as exc:  # noqa: BLE001 - headers are gone: say it in the stream, end it
            message = str(exc) if isinstance(exc, HearthError) else \
                f"Unexpected error ({type(exc).__name__}); the server keeps running."
            log.error("hearth serve: stream ended by %s: %s", type(exc).__name__, exc)
            yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error'}})}\n\n"
        finally:
            job.cancel.cancel()  # the client went away mid-stream: stop generating


def create_app(engine, owner: ModelOwner, token: str, *, hosts: Sequence[str] | None = LOOPBACK_HOSTS,
               max_body: int = MAX_BODY, cors_origins: Sequence[str] = ()) -> Starlette:
    """The ASGI app. `hosts=None` skips the Host check (only with --allow-remote)."""
    a = Api(engine, owner, max_body)

    async def on_request_error(_request: Request, exc: Exception) -> Response:
        if isinstance(exc, RequestError):
            return error(exc.status, str(exc), exc.code)
        if isinstance(exc, ServerBusy):
            return error(429, str(exc), "busy")
        if isinstance(exc, HTTPException):
            return error(exc.status_code, "No such endpoint." if exc.status_code == 404
                         else str(exc.detail), None)
        if isinstance(exc, HearthError):
            return error(400, str(exc), "hearth_error")
        log.error("hearth serve: unexpected %s: %s", type(exc).__name__, exc)
        return error(500, f"Unexpected error ({type(exc).__name__}); the server keeps running.",
                     "internal")

    routes = [Route("/v1/models", a.models, methods=["GET"]),
              Route("/v1/chat/completions", a.chat, methods=["POST"]),
              Route("/v1/embeddings", a.embeddings, methods=["POST"]),
              Route("/v1/search", a.search, methods=["POST"]),
              Route("/v1/hearth/status", a.status, methods=["GET"])]
    app = Starlette(routes=routes, exception_handlers={
        RequestError: on_request_error, ServerBusy: on_request_error,
        HTTPException: on_request_error, HearthError: on_request_error,
        Exception: on_request_error})
    app.add_middleware(Guard, token=token, hosts=hosts, max_body=max_body)
    if cors_origins:  # off by default: browsers' pages may not call this server
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"])
    return app
