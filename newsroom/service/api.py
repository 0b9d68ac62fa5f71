"""The HTTP API of `newsroom serve` (FastAPI; OpenAPI at /docs and /openapi.json).

Reads are open; writes need `Authorization: Bearer TOKEN`. Pushed items go to the queue, never
straight into a week: a worker files them and keeps the edition current.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, HttpUrl, field_validator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsroom.errors import SourceUnavailable
from newsroom.models import MAX_WEIGHT, SourceItem
from newsroom.observability.store import read_spans
from newsroom.results import ResultsStore, otlp_json
from newsroom.service.queue import ItemQueue
from newsroom.service.worker import WeekStore, Worker, running
from newsroom.tools.formats import web_url

MAX_BODY = 5_000_000
MAX_ITEMS = 1000
_WEEK = re.compile(r"^\d{4}-W\d{2}\Z")
_RUN = re.compile(r"^\d{4}-W\d{2}-\d{8}T\d{6}-[0-9a-f]{4}\Z")


class ItemIn(SourceItem):
    """A pushed item: an id and a title, an http(s) URL, a finite weight in range (422
    otherwise); over-long text is cut and flagged, a date out of range replaced by the time it
    is received (`SourceItem`'s bounds)."""

    id: str = Field(min_length=1, pattern=r"\S")
    title: str = Field(min_length=1, pattern=r"\S")
    weight: float = Field(default=1.0, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False)

    @field_validator("url")
    @classmethod
    def _web(cls, url: str) -> str:
        return web_url(url)


class ItemsIn(BaseModel):
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class ItemsOut(BaseModel):
    queued: list[str]
    duplicates: int


class FeedIn(BaseModel):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[\w.-]+$")
    url: HttpUrl
    lang: str | None = None
    category: str | None = None


class BodyCap:
    """The body cap, whatever the transfer encoding: a declared Content-Length over `limit` is
    refused at once; a body without one (chunked) is read as it arrives and refused (413) as
    soon as more than `limit` bytes have come, before the rest is read. A body within the cap
    is handed on as it came."""

    def __init__(self, app: ASGIApp, limit: int, on_reject: Callable[[], None]) -> None:
        self.app, self.limit, self.on_reject = app, limit, on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        handed: list[bool] = []

        async def replay() -> Message:
            if not handed:
                handed.append(True)
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.on_reject()
        response = PlainTextResponse(f"body over {self.limit} bytes", status_code=413)
        response.headers["connection"] = "close"
        await response(scope, receive, send)


def create_app(
    queue: ItemQueue,
    store: WeekStore,
    out_dir: Path,
    token: str,
    workers: Callable[[], Sequence[Worker]] | None = None,
    results: ResultsStore | None = None,
) -> FastAPI:
    """`workers`: the workers whose liveness /health reports; by default those this process
    runs on the store's namespace (`newsroom serve`'s). None running (workers elsewhere, or
    none started yet): /health reports the queue alone."""
    crew = workers if workers is not None else (lambda: running(store.name))
    app = FastAPI(
        title="newsroom",
        version="0.1.0",
        description="Push news items, manage feeds, read the current edition of a week.",
    )
    counters = {"pushed": 0, "duplicates": 0, "rejected": 0}

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "a valid bearer token is required for writes")

    def rejected() -> None:
        counters["rejected"] += 1

    app.add_middleware(BodyCap, limit=MAX_BODY, on_reject=rejected)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each field and item (`loc`) and what is wrong, without echoing the
        input back: a NaN or a megabyte of it has no place in the answer."""
        detail = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/health", response_model=None)
    def health() -> dict[str, Any] | JSONResponse:
        """ok; degraded (with the reason) when a worker's heartbeat is stale or its latest
        update of a week failed; 503 when Redis is down or no worker is alive. `pending`: the
        entries delivered to a worker and not acknowledged yet (the group's backlog; `queued`
        is the stream's length, which is never trimmed). `dead_letters`: entries moved to the
        dead-letter stream; `last_publish`: each published week's latest edition, when and by
        which worker."""
        try:
            queue.client.ping()
        except Exception as exc:  # the service is up; its store is not
            raise HTTPException(503, f"redis unavailable: {exc}") from None
        body: dict[str, Any] = {"status": "ok", "queued": queue.length()}
        if results is not None:  # editions and runs are read from PostgreSQL: it must answer
            try:
                results.ping()
            except SourceUnavailable:
                raise HTTPException(503, "postgres unavailable (NEWSROOM_POSTGRES_URL)") from None
            body["postgres"] = "ok"
        body["pending"] = queue.pending()
        body["dead_letters"] = queue.dead_letters()
        body["last_publish"] = store.published()
        rows = [worker.health() for worker in crew()]
        if not rows:
            return body
        reasons = [f"{row['consumer']}: {row['reason']}" for row in rows if row["reason"]]
        body["workers"] = rows
        if reasons:
            body["status"] = "degraded"
            body["reason"] = "; ".join(reasons)
        if not any(row["alive"] for row in rows):
            body["reason"] = "no worker is alive: " + body["reason"]
            return JSONResponse(body, status_code=503)
        return body

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        lines = [
            "# TYPE newsroom_queue_entries gauge",
            f"newsroom_queue_entries {queue.length()}",
            "# TYPE newsroom_queue_pending gauge",
            f"newsroom_queue_pending {queue.pending()}",
            "# TYPE newsroom_dead_letters gauge",
            f"newsroom_dead_letters {queue.dead_letters()}",
        ]
        for name, value in counters.items():
            lines += [f"# TYPE newsroom_items_{name}_total counter"]
            lines += [f"newsroom_items_{name}_total {value}"]
        return "\n".join(lines) + "\n"

    @app.post("/items", dependencies=[Depends(authorized)], status_code=202)
    def push(body: ItemsIn) -> ItemsOut:
        queued = queue.push(body.items)
        counters["pushed"] += len(queued)
        counters["duplicates"] += len(body.items) - len(queued)
        return ItemsOut(queued=queued, duplicates=len(body.items) - len(queued))

    @app.get("/feeds")
    def feeds() -> list[dict[str, Any]]:
        rows = queue.client.hvals(f"{store.name}:feeds")
        return [json.loads(row) for row in rows]

    @app.post("/feeds", dependencies=[Depends(authorized)], status_code=201)
    def add_feed(feed: FeedIn) -> dict[str, Any]:
        row = feed.model_dump(mode="json")
        queue.client.hset(f"{store.name}:feeds", feed.name, json.dumps(row, ensure_ascii=False))
        return row

    @app.delete("/feeds/{name}", dependencies=[Depends(authorized)], status_code=204)
    def remove_feed(name: str) -> Response:
        if not queue.client.hdel(f"{store.name}:feeds", name):
            raise HTTPException(404, f"no feed named {name!r}")
        return Response(status_code=204)

    @app.get("/weeks/{week}/edition")
    def edition(week: str, format: str = "md") -> Response:
        if not _WEEK.match(week):
            raise HTTPException(400, f"invalid week {week!r}: use YYYY-Www")
        if format not in {"md", "json"}:
            raise HTTPException(400, "format is md or json")
        name = "weekly.md" if format == "md" else "report.json"
        media = "text/markdown; charset=utf-8" if format == "md" else "application/json"
        content: bytes | None = None
        if results is not None:  # the week's latest publish, whichever host wrote it
            latest = _shared(results.latest, week)
            content = _shared(results.file, latest, name) if latest else None
        elif (out_dir / week / name).exists():
            content = (out_dir / week / name).read_bytes()
        if content is None:
            raise HTTPException(404, f"no edition of {week} yet ({store.count(week)} items filed)")
        return Response(content, media_type=media)

    @app.get("/runs/{run_id}")
    def run(run_id: str) -> Response:
        if not _RUN.match(run_id):
            raise HTTPException(400, f"invalid run id {run_id!r}")
        if results is not None:
            record = _shared(results.run, run_id)
            if record is None:
                raise HTTPException(404, f"no run {run_id}")
            return JSONResponse(record)
        path = out_dir / ".newsroom" / "runs" / run_id / "run.json"
        if not path.exists():
            raise HTTPException(404, f"no run {run_id}")
        return Response(path.read_bytes(), media_type="application/json")

    @app.get("/runs/{run_id}/trace")
    def trace(run_id: str) -> JSONResponse:
        """The run's spans as OTLP/JSON (an ExportTraceServiceRequest)."""
        if not _RUN.match(run_id):
            raise HTTPException(400, f"invalid run id {run_id!r}")
        if results is not None:
            if _shared(results.run, run_id) is None:
                raise HTTPException(404, f"no run {run_id}")
            spans = _shared(results.spans, run_id)
        else:
            folder = out_dir / ".newsroom" / "runs" / run_id
            if not (folder / "run.json").exists():
                raise HTTPException(404, f"no run {run_id}")
            spans = read_spans(folder / "trace.jsonl")
        return JSONResponse(otlp_json(spans))

    return app


def _shared(call: Callable[..., Any], *args: Any) -> Any:
    """A read from the shared store; PostgreSQL down is a 503 saying so (no password)."""
    try:
        return call(*args)
    except SourceUnavailable:
        # Details (host, user, database) are in the server's log, not given to any client.
        raise HTTPException(503, "postgres unavailable (NEWSROOM_POSTGRES_URL)") from None
