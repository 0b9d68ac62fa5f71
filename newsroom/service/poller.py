"""The service's feed poller: every `interval` seconds, each feed the service follows (added
through the API) is read through the `feeds` MCP server, and its entries of the last days go to
the queue. Pushes are idempotent, so an entry read again is not queued again; the feeds server
keeps ETag/Last-Modified, so an unchanged feed costs a 304."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from newsroom.errors import NewsroomError
from newsroom.models import SourceItem
from newsroom.service.queue import ItemQueue
from newsroom.tools.client import ServerSpec, ToolSession, open_server


@dataclass
class Poller:
    queue: ItemQueue
    namespace: str
    spec: ServerSpec  # the feeds server and its fetch policy
    interval: float = 300.0
    lookback: timedelta = timedelta(days=8)
    stop: threading.Event = field(default_factory=threading.Event)
    failures: dict[str, str] = field(default_factory=dict)  # feed name → last error

    def feeds(self) -> list[dict[str, Any]]:
        rows = self.queue.client.hvals(f"{self.namespace}:feeds")
        return [json.loads(row) for row in rows]

    async def poll_once(self, session: ToolSession) -> int:
        """Read every feed once; returns the items queued now."""
        now = datetime.now(UTC)
        window = {
            "start": (now - self.lookback).isoformat(),
            "end": (now + timedelta(1)).isoformat(),
        }
        queued = 0
        for feed in self.feeds():
            try:
                payload = await session.call("feed_items", {"url": feed["url"], **window})
            except NewsroomError as exc:
                self.failures[feed["name"]] = str(exc)
                continue
            self.failures.pop(feed["name"], None)
            items = []
            for row in payload.get("items", []):
                update = {"origin": feed["name"]}
                if feed.get("lang"):
                    update["lang"] = feed["lang"]
                if feed.get("category"):
                    update["category"] = feed["category"]
                items.append(SourceItem.model_validate({**row, **update}))
            queued += len(self.queue.push(items))
        return queued

    def run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        async with open_server(self.spec) as session:
            while not self.stop.is_set():
                try:
                    await self.poll_once(session)
                except Exception as exc:  # a bad round must not end the service's polling
                    print(f"feed poller: {type(exc).__name__}: {exc}", file=sys.stderr)
                await asyncio.to_thread(self.stop.wait, self.interval)
