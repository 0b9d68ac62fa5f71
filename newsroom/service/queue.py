"""The item queue of the long-running service: a Redis Stream read by a consumer group.

Any number of workers, on any machines, read the stream as members of one group: each entry goes
to one of them. A worker acknowledges an entry only once the item is processed; an entry whose
worker died stays pending and, once idle for `claim_after` seconds, is claimed by another worker
(XAUTOCLAIM). A worker processes an entry, then marks its item id done and acknowledges it; an
entry redelivered after its item was done (the worker died between the two) is acknowledged
without processing it again, and processing itself stores by item id, so an item takes effect
once. Pushing is idempotent too: an item id queued before is not queued again.

An entry that cannot be read as an item (bad JSON, a field out of its bounds) or that its worker
cannot file is a poison entry: it is left pending and delivered again (the stream counts the
deliveries), and at its `max_deliveries`-th delivery it is moved to the dead-letter stream
`{name}:dead` with its error, acknowledged, and said on stderr in one line. One bad entry costs
its batch nothing: the others are processed. Redis itself failing is nobody's item's fault:
nothing is dead-lettered for it.

Plain Redis 5+ or Valkey serve all of it (streams, sets, no modules).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from newsroom.models import SourceItem


@dataclass(frozen=True)
class Entry:
    """One delivery of one item: `entry_id` is the stream's, `item` the payload."""

    entry_id: str
    item: SourceItem
    deliveries: int = 1


@dataclass
class Batch:
    """What one read took: the entries read as items, and how many it could not read (left
    pending for a later delivery, or moved to the dead letters)."""

    entries: list[Entry] = field(default_factory=list)
    rejected: int = 0


MAX_DELIVERIES = 3  # deliveries of a poison entry before it is dead-lettered
PAYLOAD_KEPT = 2000  # characters of a dead entry's payload kept with it


class ItemQueue:
    def __init__(
        self,
        client: redis.Redis,
        name: str = "newsroom",
        group: str = "workers",
        claim_after: float = 30.0,
        keep_ids_for: int = 14 * 24 * 3600,
        max_deliveries: int = MAX_DELIVERIES,
    ) -> None:
        self.client = client
        self.stream = f"{name}:items"
        self.seen = f"{name}:items:seen"  # ids ever queued (push is idempotent)
        self.done_prefix = f"{name}:items:done:"
        self.dead = f"{name}:dead"  # dead letters: entries that failed max_deliveries times
        self.max_deliveries = max(1, max_deliveries)
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
        return self.take(consumer, count, block_ms).entries

    def take(self, consumer: str, count: int = 100, block_ms: int = 1000) -> Batch:
        """As `read`, and how many entries of the batch could not be read as items: each of
        those is left pending for a later delivery or, at its last, dead-lettered."""
        batch = Batch()
        self._add(batch, consumer, self._claim(consumer, count))
        if len(batch.entries) + batch.rejected < count:
            reply: Any = self.client.xreadgroup(
                self.group,
                consumer,
                {self.stream: ">"},
                count=count - len(batch.entries) - batch.rejected,
                block=block_ms,
            )
            for _, rows in reply or []:
                self._add(batch, consumer, [(entry_id, fields, 1) for entry_id, fields in rows])
        return batch

    def _add(
        self, batch: Batch, consumer: str, rows: list[tuple[str, dict[str, str], int]]
    ) -> None:
        for entry_id, fields, deliveries in rows:
            try:
                batch.entries.append(self._entry(entry_id, fields, deliveries))
            except Exception as exc:  # the payload's fault, not Redis's: nothing Redis raises
                batch.rejected += 1
                self._reject(entry_id, fields, deliveries, _one_line(exc), consumer)

    def _claim(self, consumer: str, count: int) -> list[tuple[str, dict[str, str], int]]:
        reply: Any = self.client.xautoclaim(
            self.stream, self.group, consumer, self.claim_after_ms, start_id="0-0", count=count
        )
        rows = [(entry_id, fields) for entry_id, fields in (reply[1] if reply else []) if fields]
        if not rows:
            return []
        # How often each was delivered, this claim included (XAUTOCLAIM counts it).
        pending: Any = self.client.xpending_range(
            self.stream,
            self.group,
            min=rows[0][0],
            max=rows[-1][0],
            count=len(rows) + 1000,
            consumername=consumer,
        )
        times = {row["message_id"]: int(row["times_delivered"]) for row in pending}
        return [(entry_id, fields, times.get(entry_id, 2)) for entry_id, fields in rows]

    @staticmethod
    def _entry(entry_id: str, fields: dict[str, str], deliveries: int = 1) -> Entry:
        return Entry(entry_id, SourceItem.model_validate(json.loads(fields["item"])), deliveries)

    def fail(self, entry: Entry, error: str, consumer: str) -> bool:
        """An entry its worker could not process (its item's fault): left pending for a later
        delivery, or dead-lettered at its last. Returns whether it was dead-lettered."""
        return self._reject(
            entry.entry_id,
            {"item": entry.item.model_dump_json()},
            entry.deliveries,
            error,
            consumer,
        )

    def _reject(
        self, entry_id: str, fields: dict[str, str], deliveries: int, error: str, consumer: str
    ) -> bool:
        if deliveries < self.max_deliveries:
            print(
                f"{consumer}: entry {entry_id} failed (delivery {deliveries} of "
                f"{self.max_deliveries}): {error}",
                file=sys.stderr,
            )
            return False  # pending: delivered again once idle for claim_after
        payload = fields.get("item") if set(fields) == {"item"} else json.dumps(fields)
        letter = {
            "entry_id": entry_id,
            "payload": (payload or "")[:PAYLOAD_KEPT],
            "error": error[:PAYLOAD_KEPT],
            "deliveries": str(deliveries),
            "consumer": consumer,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.dead, letter)  # type: ignore[arg-type]
        pipe.xack(self.stream, self.group, entry_id)
        pipe.execute()
        print(
            f"{consumer}: entry {entry_id} dead-lettered to {self.dead} after {deliveries} "
            f"deliveries: {error}",
            file=sys.stderr,
        )
        return True

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

    def dead_letters(self) -> int:
        return int(self.client.xlen(self.dead))

    def letters(self, count: int = 100) -> list[dict[str, str]]:
        """The latest dead letters, newest first."""
        rows: Any = self.client.xrevrange(self.dead, count=count)
        return [dict(fields) for _, fields in rows]


def _one_line(exc: BaseException, limit: int = 500) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:limit]
