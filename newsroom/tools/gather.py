"""Gathering a week from every source in a sources file, through the MCP servers only.

Each source has its own gate: a rate limit (requests per second), a timeout per request and a
circuit breaker (after `trip_after` failures in a row, its remaining requests are skipped). A
failing source becomes a problem in the run's notes, never the end of the run. Items whose
summary is thin get their page's article text through the `web` server, within a budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from newsroom.errors import GuardTripped, NewsroomError
from newsroom.models import SourceItem, SourceProblem
from newsroom.sources import Source, SourcesFile
from newsroom.tools.client import ServerSpec, ToolSession, Transport, open_server
from newsroom.weeks import WeekWindow


@dataclass
class Gate:
    """One source's rate limit and circuit breaker."""

    rate: float
    trip_after: int = 3
    failures: int = 0
    _next: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def open(self) -> bool:
        return self.failures >= self.trip_after

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + 1.0 / self.rate

    def passed(self) -> None:
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1


@dataclass
class Gathered:
    items: list[SourceItem] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    outside_window: int = 0
    calls: int = 0
    failed_sources: list[str] = field(default_factory=list)


@dataclass
class Servers:
    """Sessions with the servers a sources file needs: one per archive folder, one `feeds`,
    one `web`."""

    archives: dict[str, ToolSession]
    feeds: ToolSession | None
    web: ToolSession | None

    @property
    def calls(self) -> int:
        sessions = [*self.archives.values(), self.feeds, self.web]
        return sum(s.calls for s in sessions if s is not None)


@asynccontextmanager
async def open_servers(
    sources: SourcesFile, tz: str, transport: Transport = "memory", trace_file: Path | None = None
) -> AsyncIterator[Servers]:
    settings = sources.fetch
    common: dict[str, Any] = {
        "tz": tz,
        "allow_hosts": tuple(settings.allow_hosts),
        "timeout": settings.timeout,
        "max_bytes": settings.max_bytes,
        "max_redirects": settings.max_redirects,
    }
    async with AsyncExitStack() as stack:
        archives = {}
        for source in sources.of_kind("archive"):
            spec = ServerSpec("archive", folder=source.path, tz=tz)
            archives[source.name] = await stack.enter_async_context(
                open_server(spec, transport, trace_file)
            )
        feeds = web = None
        if sources.of_kind("feed"):
            feeds = await stack.enter_async_context(
                open_server(ServerSpec("feeds", **common), transport, trace_file)
            )
        # The web server also fills in thin feed summaries.
        if sources.of_kind("page") or sources.of_kind("feed"):
            web = await stack.enter_async_context(
                open_server(ServerSpec("web", **common), transport, trace_file)
            )
        yield Servers(archives, feeds, web)


async def gather(
    window: WeekWindow,
    sources: SourcesFile,
    servers: Servers,
    thin: int = 60,
    max_pages: int = 30,
) -> Gathered:
    """Every configured source, concurrently (each one at its own pace)."""
    out = Gathered()
    gates = {s.name: Gate(rate=s.rate) for s in sources.sources}
    results = await asyncio.gather(
        *(_one(window, source, servers, gates[source.name], sources) for source in sources.sources)
    )
    seen: set[str] = set()
    for source, (items, problems, outside) in zip(sources.sources, results, strict=True):
        out.problems += problems
        out.outside_window += outside
        if problems and not items and gates[source.name].failures:
            out.failed_sources.append(source.name)
        for item in items:
            if item.id not in seen:
                seen.add(item.id)
                out.items.append(item)
    if servers.web is not None:
        await _fill_thin(out, servers.web, sources, gates, thin, max_pages)
    out.calls = servers.calls
    return out


async def _call(
    gate: Gate,
    session: ToolSession,
    tool: str,
    args: dict[str, Any],
    timeout: float,
) -> dict[str, Any]:
    await gate.wait()
    try:
        async with asyncio.timeout(timeout):
            payload = await session.call(tool, args)
    except GuardTripped:
        raise
    except TimeoutError:
        gate.failed()
        raise NewsroomError(f"no answer within {timeout:g}s") from None
    except NewsroomError:
        gate.failed()
        raise
    gate.passed()
    return payload


async def _one(
    window: WeekWindow, source: Source, servers: Servers, gate: Gate, sources: SourcesFile
) -> tuple[list[SourceItem], list[SourceProblem], int]:
    timeout = (source.timeout or sources.fetch.timeout) + 5  # the server's own limit comes first
    span = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    problems: list[SourceProblem] = []
    rows: list[dict[str, Any]] = []
    outside = 0
    try:
        if source.kind == "archive":
            args = window.archive_args()  # by publication or collection time
            payload = await _call(gate, servers.archives[source.name], "items", args, timeout)
            rows, outside = payload.get("items", []), int(payload.get("outside_window", 0))
            problems += [SourceProblem.model_validate(p) for p in payload.get("problems", [])]
        elif source.kind == "feed":
            assert servers.feeds is not None
            args = {"url": source.url, **span}
            payload = await _call(gate, servers.feeds, "feed_items", args, timeout)
            rows, outside = payload.get("items", []), int(payload.get("outside_window", 0))
            problems += [SourceProblem.model_validate(p) for p in payload.get("problems", [])]
        else:
            assert servers.web is not None
            for url in source.urls:
                if gate.open:
                    skipped = len(source.urls) - source.urls.index(url)
                    problems.append(
                        SourceProblem(
                            origin=source.name,
                            message=f"{gate.failures} failures in a row: circuit open, "
                            f"{skipped} page(s) skipped",
                        )
                    )
                    break
                try:
                    page = await _call(gate, servers.web, "page", {"url": url}, timeout)
                except NewsroomError as exc:
                    problems.append(SourceProblem(origin=f"{source.name}: {url}", message=str(exc)))
                    continue
                row = _page_item(source, page, window.tz)
                if row is None:
                    problems.append(
                        SourceProblem(origin=f"{source.name}: {url}", message="page has no date")
                    )
                    continue
                rows.append(row)
    except GuardTripped:
        raise
    except NewsroomError as exc:
        problems.append(SourceProblem(origin=source.name, message=f"source failed: {exc}"))
        return [], problems, outside
    items = []
    for row in rows:
        try:
            item = SourceItem.model_validate(row)
        except ValidationError as exc:
            problems.append(
                SourceProblem(origin=source.name, message=f"invalid item: {exc.errors()[0]['msg']}")
            )
            continue
        if not window.selects(item):
            outside += 1
            continue
        # Where it came from, by source name (an archive item keeps its file too).
        origin = f"{source.name}:{item.origin}" if source.kind == "archive" else source.name
        update: dict[str, Any] = {"origin": origin}
        if source.lang:
            update["lang"] = source.lang
        if source.weight != 1.0:
            update["weight"] = source.weight
        if source.category and not item.category:
            update["category"] = source.category
        if source.kind != "archive":
            update["source"] = (
                item.source if item.source and item.source != source.url else source.name
            )
        items.append(item.model_copy(update=update))
    return items, problems, outside


def _page_item(source: Source, page: dict[str, Any], tz: str) -> dict[str, Any] | None:
    if not page.get("date"):
        return None
    from newsroom.tools.formats import item_id

    text = str(page["text"])
    published = datetime.fromisoformat(str(page["date"]))
    return {
        "id": item_id("w", str(page["url"])),
        "title": page.get("title") or text[:40],
        "url": page["url"],
        "source": source.name,
        "published": (
            published if published.tzinfo else published.replace(tzinfo=ZoneInfo(tz))
        ).isoformat(),
        "lang": page.get("lang") or "zh",
        "summary": text[:200],
        "body": text,
        "origin": source.name,
    }


async def _fill_thin(
    out: Gathered,
    web: ToolSession,
    sources: SourcesFile,
    gates: dict[str, Gate],
    thin: int,
    max_pages: int,
) -> None:
    """Article text for items whose summary is under `thin` characters, up to `max_pages`."""
    by_name = {s.name: s for s in sources.sources}
    wanted = [
        (k, item)
        for k, item in enumerate(out.items)
        if len(item.summary) < thin
        and not item.body
        and item.url.startswith(("http://", "https://"))
    ][:max_pages]
    for k, item in wanted:
        source = by_name.get(item.origin) or next(
            (s for s in sources.sources if s.url == item.origin), None
        )
        gate = gates.get(source.name) if source else None
        if gate is not None and gate.open:
            continue
        try:
            page = await _call(
                gate or Gate(rate=2.0),
                web,
                "page",
                {"url": item.url},
                sources.fetch.timeout + 5,
            )
        except NewsroomError as exc:
            out.problems.append(
                SourceProblem(origin=item.url, message=f"full text not fetched: {exc}")
            )
            continue
        out.items[k] = item.model_copy(update={"body": str(page.get("text", ""))})
