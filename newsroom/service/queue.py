"""The item queue of the long-running service: a Redis Stream read by a consumer group.

Any number of workers, on any machines, read the stream as members of one group: each entry goes
to one of them. A worker acknowledges an entry only once the item is processed; an entry whose
worker died stays pending and, once idle for `claim_after` seconds, is claimed by another worker
(XAUTOCLAIM). A worker processes an entry, then marks its item id done and acknowledges it; an
entry redelivered after its item was done (the worker died between the two) is acknowledged
without processing it again, and processing itself stores by item id, so an item takes effect
once. Pushing is idempotent too: an item id queued before is not queued again.

Plain Redis 5+ or Valkey serve all of it (streams, sets, no modules).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from newsroom.models import SourceItem


@dataclass(frozen=True)
class Entry:
    """One delivery of one item: `entry_id` is the stream's, `item` the payload."""

    entry_id: str
    item: SourceItem
    deliveries: int = 1


class ItemQueue:
    def __init__(
        self,
        client: redis.Redis,
        name: str = "newsroom",
        group: str = "workers",
        claim_after: float = 30.0,
        keep_ids_for: int = 14 * 24 * 3600,
    ) -> None:
        self.client = client
        self.stream = f"{name}:items"
        self.seen = f"{name}:items:seen"  # ids ever queued (push is idempotent)
        self.done_prefix = f"{name}:items:done:"
        self.group = group
        self.claim_after_ms = int(claim_after * 1000)
        self.keep_ids_for = keep_ids_for
        self._ensure_group()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ItemQueue:
        return cls(redis.Redis.from_url(url, decode_responses=True), **options)

    def _ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # ---------------------------------------------------------------- producers
    def push(self, items: Iterable[SourceItem]) -> list[str]:
        """Queue the items not queued before; returns the ids queued now."""
        items = list(items)
        if not items:
            return []
        fresh = self.client.smismember(self.seen, [i.id for i in items])
        queued = []
        pipe = self.client.pipeline(transaction=False)
        for item, known in zip(items, fresh, strict=True):
            if known:
                continue
            pipe.sadd(self.seen, item.id)
            pipe.xadd(self.stream, {"item": item.model_dump_json()})
            queued.append(item.id)
        pipe.execute()
        return queued

    # ---------------------------------------------------------------- consumers
    def read(self, consumer: str, count: int = 100, block_ms: int = 1000) -> list[Entry]:
        """Entries for `consumer`: first those abandoned by dead workers, then new ones."""
        out = self._claim(consumer, count)
        if len(out) < count:
            reply: Any = self.client.xreadgroup(
                self.group, consumer, {self.stream: ">"}, count=count - len(out), block=block_ms
            )
            for _, rows in reply or []:
                out += [self._entry(entry_id, fields) for entry_id, fields in rows]
        return out

    def _claim(self, consumer: str, count: int) -> list[Entry]:
        reply: Any = self.client.xautoclaim(
            self.stream, self.group, consumer, self.claim_after_ms, start_id="0-0", count=count
        )
        rows = reply[1] if reply else []
        return [self._entry(entry_id, fields, 2) for entry_id, fields in rows if fields]

    @staticmethod
    def _entry(entry_id: str, fields: dict[str, str], deliveries: int = 1) -> Entry:
        return Entry(entry_id, SourceItem.model_validate(json.loads(fields["item"])), deliveries)

    def done(self, entries: Iterable[Entry]) -> list[bool]:
        """For each entry: was its item already processed (a redelivery to skip)?"""
        keys = [f"{self.done_prefix}{e.item.id}" for e in entries]
        return [bool(v) for v in self.client.mget(keys)] if keys else []

    def finish(self, entries: Iterable[Entry]) -> None:
        """Mark the entries' items processed, then acknowledge the entries (in that order: a
        crash between the two leaves a redelivery that `done` recognises)."""
        entries = list(entries)
        if not entries:
            return
        pipe = self.client.pipeline(transaction=True)
        for entry in entries:
            pipe.set(f"{self.done_prefix}{entry.item.id}", "1", ex=self.keep_ids_for)
        pipe.xack(self.stream, self.group, *[e.entry_id for e in entries])
        pipe.execute()

    def pending(self) -> int:
        info = self.client.xpending(self.stream, self.group)
        return int(info["pending"] if isinstance(info, dict) else info[0])

    def length(self) -> int:
        return int(self.client.xlen(self.stream))
