"""Workers: take items off the queue, file them under their week, and keep editions current.

Filing is idempotent (a hash keyed by item id per week). A week that received items is marked
dirty; once no item has arrived for `debounce` seconds, one worker (a Redis lock decides which)
runs the weekly graph over the week's items and publishes the edition, under the budgets shared
by all workers. Every update is a run with its own id, trace and run.json; it starts from the
week's current edition (its run id is kept in Redis) and re-writes only the themes that new
items touch (`newsroom.agents.incremental`).

A stop request (SIGTERM) lets the current batch finish and be acknowledged before the loop ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from newsroom.models import SourceItem
from newsroom.service.queue import ItemQueue
from newsroom.weeks import week_of, zone

FILE_ITEMS = 5000  # items per JSON file handed to the archive server (its files are capped)


@dataclass
class WeekStore:
    """Items filed by ISO week, and which weeks changed since their last edition."""

    client: redis.Redis
    name: str = "newsroom"

    def _items(self, week: str) -> str:
        return f"{self.name}:week:{week}:items"

    def file(self, items: list[SourceItem], tz: str) -> set[str]:
        """File items under their weeks; returns the weeks that changed."""
        weeks: dict[str, list[SourceItem]] = {}
        for item in items:
            local = item.published.astimezone(zone(tz)).date()
            weeks.setdefault(week_of(local), []).append(item)
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        for week, chosen in weeks.items():
            pipe.hset(self._items(week), mapping={i.id: i.model_dump_json() for i in chosen})
            pipe.zadd(f"{self.name}:dirty", {week: now})
        pipe.execute()
        return set(weeks)

    def items(self, week: str) -> list[SourceItem]:
        rows = self.client.hvals(self._items(week))
        return [SourceItem.model_validate_json(row) for row in rows]

    def count(self, week: str) -> int:
        return int(self.client.hlen(self._items(week)))

    def quiet_weeks(self, debounce: float) -> list[str]:
        """Dirty weeks whose last item came more than `debounce` seconds ago."""
        cutoff = time.time() - debounce
        rows = self.client.zrangebyscore(f"{self.name}:dirty", "-inf", cutoff)
        return [r.decode() if isinstance(r, bytes) else str(r) for r in rows]

    def edition(self, week: str) -> str | None:
        """The run id of the week's current edition (the base of its next update)."""
        value = self.client.get(f"{self.name}:week:{week}:edition")
        return value.decode() if isinstance(value, bytes) else value

    def set_edition(self, week: str, run_id: str) -> None:
        self.client.set(f"{self.name}:week:{week}:edition", run_id)

    def clean(self, week: str, since: float) -> None:
        """Clear the dirty mark unless an item arrived after `since` (then it stays dirty)."""
        score = self.client.zscore(f"{self.name}:dirty", week)
        if score is not None and score <= since:
            self.client.zrem(f"{self.name}:dirty", week)


@dataclass
class Worker:
    queue: ItemQueue
    store: WeekStore
    out_dir: Path
    consumer: str
    tz: str = "Asia/Shanghai"
    debounce: float = 5.0
    batch: int = 200
    stop: threading.Event = field(default_factory=threading.Event)
    processed: int = 0
    updates: list[str] = field(default_factory=list)  # run ids of the editions it published
    outages: int = 0  # times Redis could not be reached
    settings: Any = None  # newsroom.config.Settings: the limits and the shared budget scope
    # The engine of every update (NEWSROOM_ENGINE or an endpoint chooses the LLM one), built on
    # first use and kept: its embedding cache serves each update's unchanged texts.
    engine: Any = None

    def step(self, block_ms: int = 500) -> int:
        """One batch: read, file, finish. Returns the entries handled."""
        entries = self.queue.read(self.consumer, count=self.batch, block_ms=block_ms)
        if not entries:
            return 0
        fresh = [e for e, done in zip(entries, self.queue.done(entries), strict=True) if not done]
        self.store.file([e.item for e in fresh], self.tz)
        self.queue.finish(entries)
        self.processed += len(fresh)
        return len(entries)

    def update_quiet_weeks(self) -> list[str]:
        """Publish the edition of every week that has been quiet for `debounce` seconds."""
        published = []
        for week in self.store.quiet_weeks(self.debounce):
            key = f"{self.store.name}:lock:{week}"
            if not self.store.client.set(key, self.consumer, nx=True, ex=900):
                continue  # another worker is on it
            try:
                started = time.time()
                run_id = self.publish(week)
                self.store.clean(week, started)
                published.append(run_id)
            finally:
                self.store.client.delete(key)
        self.updates += published
        return published

    def _engine(self) -> Any:
        if self.engine is None:
            from newsroom.agents import engine_for, offline_engine

            settings = self.settings
            self.engine = engine_for(settings) if settings is not None else offline_engine()
        return self.engine

    def publish(self, week: str) -> str:
        """Run the weekly graph over the week's filed items, as an update of the week's current
        edition when there is one (only the themes new items touch are re-written); returns
        the run id."""
        from newsroom.runner import RunOptions, run_week

        folder = self.out_dir / ".newsroom" / "service" / week
        folder.mkdir(parents=True, exist_ok=True)
        items = sorted(self.store.items(week), key=lambda i: i.id)
        for stale in folder.glob("items-*.json"):
            stale.unlink()
        for number, start in enumerate(range(0, len(items), FILE_ITEMS)):
            rows = [i.model_dump(mode="json") for i in items[start : start + FILE_ITEMS]]
            path = folder / f"items-{number:03d}.json"
            path.write_text(json.dumps({"items": rows}, ensure_ascii=False), encoding="utf-8")
        options = RunOptions(
            week=week,
            sources=folder,
            out_dir=self.out_dir,
            tz=self.tz,
            force=True,
            base_run=self.store.edition(week),
        )
        if self.settings is not None:
            # The limits of each update, and (NEWSROOM_BUDGET_SCOPE=week or day) the budget
            # every worker's updates share through Redis.
            options.limits = self.settings.limits()
            options.ledger = self.settings.ledger(options.limits, week)
            options.checkpoint_url = self.settings.postgres_url
        summary = asyncio.run(run_week(options, self._engine()))
        if summary.status in ("ok", "partial"):
            self.store.set_edition(week, summary.run_id)
        return summary.run_id

    def run(self) -> None:
        """Until stopped: file what arrives, publish weeks gone quiet. When Redis goes away the
        worker waits (backing off to 5 s) and carries on once it is back; what it had read but
        not acknowledged is delivered again."""
        pause = 0.25
        while not self.stop.is_set():
            try:
                self.step()
                self.update_quiet_weeks()
                pause = 0.25
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self.outages += 1
                print(f"{self.consumer}: redis unavailable ({exc}); retrying", file=sys.stderr)
                self.stop.wait(pause)
                pause = min(pause * 2, 5.0)
