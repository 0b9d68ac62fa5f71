"""Workers: take items off the queue, file them under their week, and keep editions current.

Filing is idempotent (a hash keyed by item id per week). A week that received items is marked
dirty; once no item has arrived for `debounce` seconds, one worker (a lease in Redis decides
which) runs the weekly graph over the week's items and publishes the edition, under the budgets
shared by all workers. Every update is a run with its own id, trace and run.json; it starts from the
week's current edition (its run id is kept in Redis) and re-writes only the themes that new
items touch (`newsroom.agents.incremental`).

The lease on a week is short (`lease_ttl`, 30 s) and renewed every third of it while its
holder works, so a holder that dies (SIGKILL, a lost machine) frees its week within `lease_ttl`:
another worker takes it and runs the update again from the week's current edition (the dead run
is not resumed: its checkpoint may be on another machine). A holder that finds its lease gone
(renewed by nobody in time, taken over) abandons its run before the graph's next step and never
records its edition over the new holder's (the edition is set by compare-and-set on the lease).

An entry that cannot be filed is left to the queue's poison handling (`ItemQueue.fail`): the
rest of its batch is filed, and it is tried again or, at its last delivery, dead-lettered.

A failed update (the model endpoint or a source down, a bad setting, any error) costs the worker
nothing: it says so on stderr in one line, leaves the week dirty and retries it later, backing
off per week (exponentially, with jitter, capped); meanwhile it keeps filing items. Each turn
of its loop is a heartbeat: /health reports a worker whose heartbeat is stale or whose week
keeps failing (`Worker.health`, `running`).

A stop request (SIGTERM) lets the current batch finish and be acknowledged before the loop ends.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from newsroom.models import SourceItem
from newsroom.service.queue import Entry, ItemQueue
from newsroom.weeks import week_of, zone

FILE_ITEMS = 5000  # items per JSON file handed to the archive server (its files are capped)
STALE_AFTER = 60.0  # seconds without a heartbeat before a worker is reported not alive
LEASE_TTL = 30.0  # seconds a week's lease lives unless its holder renews it

# Compare-and-pexpire, compare-and-delete, and compare-and-set of the edition: each acts only
# while the lease is still the caller's.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_SET_EDITION = """
if KEYS[1] ~= '' and redis.call('get', KEYS[1]) ~= ARGV[1] then
    return 0
end
redis.call('set', KEYS[2], ARGV[2])
redis.call('hset', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


class LeaseLost(Exception):
    """The week's lease is no longer ours: another worker holds it (or nobody, after expiry)."""


class Lease:
    """`SET key token NX PX ttl`, renewed every ttl/3 by a background thread while held, and
    released by compare-and-delete. `check` raises LeaseLost once it is not ours any more."""

    def __init__(self, client: redis.Redis, key: str, owner: str, ttl: float = LEASE_TTL):
        self.client, self.key, self.ttl = client, key, ttl
        self.token = f"{owner}:{uuid.uuid4().hex[:12]}"
        self.lost: str | None = None  # why it is not ours any more
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed = 0.0  # time.monotonic() of the latest acquire or renewal

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._renewed = time.monotonic()
        self._thread = threading.Thread(target=self._keep, name=f"lease {self.key}", daemon=True)
        self._thread.start()
        return True

    def renew(self) -> bool:
        """Extend the lease if it is still ours; False (and `lost`) when it is not."""
        if self.lost is not None:
            return False
        if int(self.client.eval(_RENEW, 1, self.key, self.token, str(self.ttl_ms))):
            self._renewed = time.monotonic()
            return True
        owner = _text(self.client.get(self.key))
        self.lost = (
            f"lease {self.key} taken over by {owner}" if owner else f"lease {self.key} expired"
        )
        return False

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.renew():
                    return
            except redis.RedisError as exc:  # it may still be ours: try again, until it expired
                if time.monotonic() - self._renewed > self.ttl:
                    self.lost = f"lease {self.key} not renewed for {self.ttl:.0f} s ({exc})"
                    return

    def check(self) -> None:
        """Raise LeaseLost unless the lease is still ours (asks Redis, not only the thread)."""
        if self.lost is None:
            owner = _text(self.client.get(self.key))
            if owner != self.token:
                taken = f"taken over by {owner}" if owner else "expired"
                self.lost = f"lease {self.key} {taken}"
        if self.lost is not None:
            raise LeaseLost(self.lost)

    def release(self) -> None:
        """Stop renewing and delete the key if it is still ours (never another holder's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl)
        self.client.eval(_RELEASE, 1, self.key, self.token)


@dataclass
class WeekStore:
    """Items filed by ISO week, and which weeks changed since their last edition."""

    client: redis.Redis
    name: str = "newsroom"

    def _items(self, week: str) -> str:
        return f"{self.name}:week:{week}:items"

    def file(self, items: list[SourceItem], tz: str) -> set[str]:
        """File items under their weeks; returns the weeks that changed. An item whose week
        cannot be told raises before anything of the call is filed."""
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

    def set_edition(
        self, week: str, run_id: str, lease: Lease | None = None, consumer: str = ""
    ) -> bool:
        """Make `run_id` the week's edition and record when (`published`); with a lease, only
        while it is still the lease holder's (compare-and-set). Returns whether it was set."""
        record = json.dumps(
            {
                "run_id": run_id,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "consumer": consumer or None,
            }
        )
        keys = [lease.key if lease else "", f"{self.name}:week:{week}:edition"]
        keys.append(f"{self.name}:published")
        token = lease.token if lease else ""
        return bool(self.client.eval(_SET_EDITION, 3, *keys, token, run_id, week, record))

    def published(self) -> dict[str, dict[str, Any]]:
        """The latest edition of each week: its run id, when, and by which worker."""
        rows: Any = self.client.hgetall(f"{self.name}:published")
        out = {}
        for week, value in sorted(rows.items()):
            week = week.decode() if isinstance(week, bytes) else week
            try:
                out[week] = json.loads(value)
            except ValueError:
                continue
        return out

    def clean(self, week: str, since: float) -> None:
        """Clear the dirty mark unless an item arrived after `since` (then it stays dirty)."""
        score = self.client.zscore(f"{self.name}:dirty", week)
        if score is not None and score <= since:
            self.client.zrem(f"{self.name}:dirty", week)


@dataclass
class Retry:
    """A week whose last update failed: how often in a row, why, and when to try again."""

    failures: int
    error: str
    at: float  # time.time() of the next try


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
    # newsroom.config.Settings: every update's options (`Settings.run_options`) and engine;
    # `load_settings()` when none is given.
    settings: Any = None
    # The engine of every update (NEWSROOM_ENGINE or an endpoint chooses the LLM one), built on
    # first use and kept: its embedding cache serves each update's unchanged texts.
    engine: Any = None
    # A week whose update failed is retried after retry_base seconds, doubling to retry_cap.
    retry_base: float = 5.0
    retry_cap: float = 300.0
    failures: int = 0  # updates that failed
    last_error: str | None = None  # the latest failure, with its week
    retries: dict[str, Retry] = field(default_factory=dict)  # weeks failing now, by week
    heartbeat: float = 0.0  # time.time() of the loop's latest turn
    failing: str | None = None  # the error of the loop's latest turn, if it failed
    publishing: tuple[str, float] | None = None  # the week being updated, since when
    exited: bool = False  # the loop ended (stopped, or killed by an error)
    lease_ttl: float = LEASE_TTL  # seconds a week's lease lives without a renewal
    abandoned: int = 0  # updates given up because the week's lease was lost
    rejected: int = 0  # entries it could not read or file (retried, or dead-lettered)
    lease: Lease | None = None  # the lease of the week being updated

    def step(self, block_ms: int = 500) -> int:
        """One batch: read, file, finish. Returns the entries handled. An entry that cannot be
        read or filed is the queue's to retry or dead-letter; the rest of the batch is filed.
        Redis failing is raised (`run` waits it out): no entry is blamed for it."""
        batch = self.queue.take(self.consumer, count=self.batch, block_ms=block_ms)
        entries = batch.entries
        self.rejected += batch.rejected
        if not entries:
            return batch.rejected
        fresh = [e for e, done in zip(entries, self.queue.done(entries), strict=True) if not done]
        try:
            self.store.file([e.item for e in fresh], self.tz)
            filed = entries
        except redis.RedisError:
            raise
        except Exception:
            filed = self._file_one_by_one(entries, fresh)
        self.queue.finish(filed)
        self.processed += len(fresh) - (len(entries) - len(filed))
        return len(entries) + batch.rejected

    def _file_one_by_one(self, entries: list[Entry], fresh: list[Entry]) -> list[Entry]:
        """A batch that failed to file: each fresh entry alone; those that fail again go to the
        queue's poison handling. Returns the entries to finish (filed, or done before)."""
        failed = set()
        for entry in fresh:
            try:
                self.store.file([entry.item], self.tz)
            except redis.RedisError:
                raise
            except Exception as exc:
                failed.add(entry.entry_id)
                self.rejected += 1
                self.queue.fail(entry, f"filing failed: {_one_line(exc)}", self.consumer)
        return [e for e in entries if e.entry_id not in failed]

    def update_quiet_weeks(self) -> list[str]:
        """Publish the edition of every week that has been quiet for `debounce` seconds. A
        week whose update fails stays dirty and waits out its back-off; Redis going away is
        left to `run`."""
        published = []
        for week in list(self.retries):
            if self.store.client.zscore(f"{self.store.name}:dirty", week) is None:
                del self.retries[week]  # published since (by another worker): nothing to retry
        for week in self.store.quiet_weeks(self.debounce):
            retry = self.retries.get(week)
            if retry is not None and time.time() < retry.at:
                continue  # backing off after a failure
            lease = Lease(
                self.store.client, f"{self.store.name}:lock:{week}", self.consumer, self.lease_ttl
            )
            if not lease.acquire():
                continue  # another worker is on it
            self.lease = lease
            try:
                started = time.time()
                self.publishing = (week, started)
                try:
                    run_id = self.publish(week)
                except LeaseLost as exc:
                    self.abandoned += 1
                    print(
                        f"{self.consumer}: {exc}; abandoned the update of {week} "
                        "(the new holder publishes it)",
                        file=sys.stderr,
                    )
                    continue
                except (redis.ConnectionError, redis.TimeoutError):
                    raise
                except Exception as exc:
                    self._failed(week, exc)
                    continue
                finally:
                    self.publishing = None
                    self.heartbeat = time.time()
                self.retries.pop(week, None)
                self.store.clean(week, started)
                published.append(run_id)
            finally:
                self.lease = None
                lease.release()
        self.updates += published
        return published

    def _failed(self, week: str, exc: Exception) -> None:
        """Count the failure, say it in one line, and back the week off (it stays dirty)."""
        before = self.retries.get(week)
        failures = before.failures + 1 if before is not None else 1
        delay = min(self.retry_cap, self.retry_base * 2 ** (failures - 1))
        wait = delay * random.uniform(0.5, 1.0)  # jitter: workers do not retry in step
        error = _one_line(exc)
        self.retries[week] = Retry(failures, error, time.time() + wait)
        self.failures += 1
        self.last_error = f"{week}: {error}"
        print(
            f"{self.consumer}: update of {week} failed ({error}); "
            f"retrying in {wait:.0f} s (failure {failures})",
            file=sys.stderr,
        )

    def _settings(self) -> Any:
        if self.settings is None:
            from newsroom.config import load_settings

            self.settings = load_settings()
        return self.settings

    def _engine(self) -> Any:
        if self.engine is None:
            from newsroom.agents import engine_for

            self.engine = engine_for(self._settings())
        return self.engine

    def options(self, week: str, folder: Path) -> Any:
        """The week's run options: the settings' (as `newsroom run` builds them), over the
        week's filed items, as an update of its current edition."""
        return self._settings().run_options(
            week,
            sources=folder,
            out_dir=self.out_dir,
            tz=self.tz,
            force=True,
            base_run=self.store.edition(week),
        )

    def publish(self, week: str) -> str:
        """Run the weekly graph over the week's filed items, as an update of the week's current
        edition when there is one (only the themes new items touch are re-written); returns
        the run id."""
        from newsroom.runner import run_week

        folder = self.out_dir / ".newsroom" / "service" / week
        folder.mkdir(parents=True, exist_ok=True)
        items = sorted(self.store.items(week), key=lambda i: i.id)
        for stale in folder.glob("items-*.json"):
            stale.unlink()
        for number, start in enumerate(range(0, len(items), FILE_ITEMS)):
            rows = [i.model_dump(mode="json") for i in items[start : start + FILE_ITEMS]]
            path = folder / f"items-{number:03d}.json"
            path.write_text(json.dumps({"items": rows}, ensure_ascii=False), encoding="utf-8")
        # As `newsroom run` builds it: pricing, front matter, categories, revisions, the limits
        # of each update and (NEWSROOM_BUDGET_SCOPE=week or day) the budget every worker's
        # updates share through Redis.
        options = self.options(week, folder)
        lease = self.lease

        def still_ours(node: str, update: dict[str, Any]) -> None:
            # After every step of the graph, so before `publish` runs: a holder whose lease
            # was taken over stops here and writes no edition over the new holder's.
            if lease is not None:
                lease.check()

        summary = asyncio.run(run_week(options, self._engine(), on_step=still_ours))
        if summary.status in ("ok", "partial"):
            if lease is not None:
                lease.check()
            if not self.store.set_edition(week, summary.run_id, lease, self.consumer):
                raise LeaseLost(f"lease of {week} lost before run {summary.run_id} was recorded")
        return summary.run_id

    def health(self, now: float | None = None, stale_after: float = STALE_AFTER) -> dict[str, Any]:
        """Whether the worker is alive (its loop turned in the last `stale_after` seconds, or
        it is inside an update that has not outrun the wall time limit) and, when it is
        degraded, why."""
        now = time.time() if now is None else now
        age = now - self.heartbeat
        # Read once: the worker's thread changes these while /health reads them.
        publishing, retries, failing = self.publishing, self.retries.copy(), self.failing
        reasons = []
        alive = True
        if self.exited:
            alive = False
            reasons.append(f"worker stopped ({self.last_error or 'no error'})")
        elif publishing is not None:
            week, since = publishing
            limit = getattr(self.settings, "max_seconds", None) or 1800.0
            if now - since > limit + stale_after:
                alive = False
                reasons.append(f"update of {week} running for {now - since:.0f} s")
        elif age > stale_after:
            alive = False
            reasons.append(f"no heartbeat for {age:.0f} s")
        if failing is not None:
            reasons.append(f"loop failing: {failing}")
        for week, retry in sorted(retries.items()):
            reasons.append(
                f"update of {week} failed {retry.failures} time(s): {retry.error}; "
                f"next try in {max(0.0, retry.at - now):.0f} s"
            )
        return {
            "consumer": self.consumer,
            "status": "ok" if not reasons else "degraded",
            "alive": alive,
            "reason": "; ".join(reasons) or None,
            "heartbeat_age_s": round(age, 1),
            "publishing": publishing[0] if publishing else None,
            "processed": self.processed,
            "updates": len(self.updates),
            "failures": self.failures,
            "last_error": self.last_error,
            "rejected": self.rejected,
            "abandoned": self.abandoned,
        }

    def run(self) -> None:
        """Until stopped: file what arrives, publish weeks gone quiet. When Redis goes away the
        worker waits (backing off to 5 s) and carries on once it is back; what it had read but
        not acknowledged is delivered again. Any other error is reported and waited out the
        same way: the loop ends only when it is stopped."""
        pause = 0.25
        self.heartbeat, self.exited = time.time(), False
        _register(self)
        try:
            while not self.stop.is_set():
                self.heartbeat = time.time()
                try:
                    self.step()
                    self.update_quiet_weeks()
                    pause, self.failing = 0.25, None
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    self.outages += 1
                    print(f"{self.consumer}: redis unavailable ({exc}); retrying", file=sys.stderr)
                    self.stop.wait(pause)
                    pause = min(pause * 2, 5.0)
                except Exception as exc:
                    self.failing = self.last_error = _one_line(exc)
                    print(f"{self.consumer}: {self.failing}; retrying", file=sys.stderr)
                    self.stop.wait(pause)
                    pause = min(pause * 2, 5.0)
        except BaseException as exc:
            self.last_error = _one_line(exc)
            raise
        finally:
            self.exited = True
            if self.stop.is_set():
                _unregister(self)  # stopped on purpose: no longer reported
            # killed by an error: stays listed, reported not alive


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


# The workers running in this process, by namespace: what /health reports on.
_RUNNING: dict[str, list[Worker]] = {}
_RUNNING_LOCK = threading.Lock()


def _register(worker: Worker) -> None:
    with _RUNNING_LOCK:
        crew = _RUNNING.setdefault(worker.store.name, [])
        if all(w is not worker for w in crew):
            crew.append(worker)


def _unregister(worker: Worker) -> None:
    with _RUNNING_LOCK:
        crew = _RUNNING.get(worker.store.name, [])
        _RUNNING[worker.store.name] = [w for w in crew if w is not worker]


def running(namespace: str) -> list[Worker]:
    """The workers this process runs (or ran, until an error ended them) on `namespace`."""
    with _RUNNING_LOCK:
        return list(_RUNNING.get(namespace, []))
