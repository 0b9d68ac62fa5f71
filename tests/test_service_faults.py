"""Nothing one item, one file or one crash can do stops the newsroom or corrupts an edition:
a poison entry is retried a bounded number of times and dead-lettered while the rest of its
batch is filed; a week's lease outlives no dead holder; a holder whose lease was taken over
publishes nothing over the new holder's edition."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import bundled_items, service_space, wait_until
from fastapi.testclient import TestClient
from test_service import TOKEN

from newsroom.models import SourceItem
from newsroom.service.api import create_app
from newsroom.service.queue import ItemQueue
from newsroom.service.worker import WeekStore, Worker
from newsroom.weeks import week_of, zone

WEEK = "2026-W06"


@pytest.fixture
def space(redis_url: str) -> Iterator[tuple[ItemQueue, WeekStore]]:
    with service_space(redis_url, "faults", claim_after=0.2) as pair:
        yield pair


def test_poison_entries_are_dead_lettered_and_their_batch_is_filed(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue, store = space
    client = queue.client
    good = bundled_items(in_week=True)[:5]
    boom = good[0].model_copy(update={"id": "boom", "url": "https://e.com/boom"})
    queue.push([*good[:2], boom])
    # Written straight onto the stream, past the API: not JSON at all, and a date no time zone
    # can hold (it killed every worker in turn, once).
    broken = client.xadd(queue.stream, {"item": '{"id": "broken", "title": '})
    far = {**good[0].model_dump(mode="json"), "id": "far", "url": "https://e.com/far"}
    far["published"] = "9999-12-31T23:59:59+00:00"
    client.xadd(queue.stream, {"item": json.dumps(far)})
    queue.push(good[2:])

    real = store.file

    def file(chosen: list[SourceItem], tz: str) -> set[str]:
        if any(i.id == "boom" for i in chosen):
            raise OverflowError("date value out of range")  # filing this one item fails
        return real(chosen, tz)

    store.file = file  # type: ignore[method-assign]
    out = tmp_path / "out"
    worker = Worker(queue, store, out, "w1", debounce=3600.0)
    http = TestClient(create_app(queue, store, out, TOKEN, workers=lambda: [worker]))
    thread = threading.Thread(target=worker.run, name="w1")
    thread.start()
    try:
        wait_until(lambda: queue.dead_letters() == 2 and queue.pending() == 0)
        assert thread.is_alive() and worker.failing is None
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    # The good items, in the same batches as the poison ones, are filed; the far date under
    # the week it was received.
    assert {i.id for i in store.items(WEEK)} == {i.id for i in good}
    now = week_of(datetime.now(UTC).astimezone(zone(worker.tz)).date())
    if now != WEEK:
        assert {i.id for i in store.items(now)} == {"far"}
    letters = {letter["entry_id"]: letter for letter in queue.letters()}
    assert len(letters) == 2 and broken in letters
    assert letters[broken]["deliveries"] == str(queue.max_deliveries) == "3"
    assert "JSONDecodeError" in letters[broken]["error"]
    assert letters[broken]["payload"] == '{"id": "broken", "title": '
    assert datetime.fromisoformat(letters[broken]["at"]).tzinfo is not None
    (filing,) = [letter for key, letter in letters.items() if key != broken]
    assert "OverflowError: date value out of range" in filing["error"]
    assert json.loads(filing["payload"])["id"] == "boom"
    assert worker.processed == len(good) + 1  # the good ones and "far", each once
    err = capsys.readouterr().err
    assert err.count("dead-lettered") == 2
    assert f"entry {broken} dead-lettered to {queue.dead} after 3 deliveries" in err
    body = http.get("/health").json()
    assert body["dead_letters"] == 2 and body["pending"] == 0
    assert "newsroom_dead_letters 2" in http.get("/metrics").text


def test_redis_failing_is_no_items_fault(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path
) -> None:
    queue, store = space
    queue.push(bundled_items(in_week=True)[:4])
    real = store.file

    def down(chosen: list[SourceItem], tz: str) -> set[str]:
        raise redis.ConnectionError("Connection refused")

    store.file = down  # type: ignore[method-assign]
    worker = Worker(queue, store, tmp_path / "out", "w1", debounce=3600.0)
    for _ in range(queue.max_deliveries + 2):  # delivered more often than a poison entry may be
        with pytest.raises(redis.ConnectionError):
            worker.step(block_ms=100)
        time.sleep(0.25)
    assert queue.dead_letters() == 0 and queue.pending() == 4
    store.file = real  # type: ignore[method-assign]
    while worker.step(block_ms=100):
        pass
    assert store.count(WEEK) == 4 and queue.pending() == 0 and queue.dead_letters() == 0


DOOMED = """
import sys, time
from pathlib import Path
import redis
from newsroom.service.queue import ItemQueue
from newsroom.service.worker import WeekStore, Worker
url, name, out = sys.argv[1:4]
client = redis.Redis.from_url(url, decode_responses=True)
worker = Worker(ItemQueue(client, name=name), WeekStore(client, name=name), Path(out), "doomed",
                debounce=0.0, lease_ttl=2.0)
def publish(week):
    print("publishing", week, flush=True)
    time.sleep(600)  # killed while it holds the week's lease
worker.publish = publish
worker.update_quiet_weeks()
"""


def test_a_killed_holders_week_is_taken_over_within_the_lease(
    space: tuple[ItemQueue, WeekStore], redis_url: str, tmp_path: Path
) -> None:
    queue, store = space
    ttl = 2.0
    store.file(bundled_items(in_week=True), "Asia/Shanghai")
    key = f"{store.name}:lock:{WEEK}"
    out = tmp_path / "out"
    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED, redis_url, store.name, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert doomed.stdout is not None
        assert doomed.stdout.readline().split() == ["publishing", WEEK]
        holder = queue.client.get(key)
        assert holder is not None and holder.startswith("doomed:")
        time.sleep(2 * ttl)  # alive: its lease is renewed past its ttl
        assert queue.client.get(key) == holder
        os.kill(doomed.pid, signal.SIGKILL)
        killed = time.monotonic()
    finally:
        doomed.kill()
        doomed.wait(timeout=30)
        if doomed.stdout is not None:
            doomed.stdout.close()
    survivor = Worker(queue, store, out, "survivor", debounce=0.0, lease_ttl=ttl)
    published: list[str] = []
    while not published:
        started = time.monotonic()
        assert started - killed < ttl + 3.0, "the week was not taken over in time"
        published = survivor.update_quiet_weeks()
        time.sleep(0.1)
    # Not before the dead holder's lease ran out (renewed at most ttl/3 before the kill).
    assert started - killed >= ttl * 2 / 3 - 0.3
    (run_id,) = published
    assert store.edition(WEEK) == run_id
    record = store.published()[WEEK]
    assert record["run_id"] == run_id and record["consumer"] == "survivor"
    assert queue.client.get(key) is None  # released
    report = json.loads((out / WEEK / "report.json").read_text())
    assert sum(len(s["item_ids"]) for s in report["stories"]) + len(report["left_out"]) == len(
        bundled_items(in_week=True)
    )


def test_a_holder_whose_lease_was_taken_over_does_not_publish(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue, store = space
    store.file(bundled_items(in_week=True), "Asia/Shanghai")
    key = f"{store.name}:lock:{WEEK}"
    out = tmp_path / "out"
    worker = Worker(queue, store, out, "slow", debounce=0.0)
    recorded: list[tuple[str, str]] = []
    set_edition = store.set_edition

    def spy(week: str, run_id: str, *args: Any, **kwargs: Any) -> bool:
        recorded.append((week, run_id))
        return set_edition(week, run_id, *args, **kwargs)

    store.set_edition = spy  # type: ignore[method-assign]
    options = worker.options

    def taken_over(week: str, folder: Path) -> Any:
        # The holder stalled past its lease (a pause, a partition): another worker took it.
        queue.client.set(key, "other:1234", px=60_000)
        return options(week, folder)

    worker.options = taken_over  # type: ignore[method-assign]
    assert worker.update_quiet_weeks() == []
    assert recorded == [] and store.edition(WEEK) is None and WEEK not in store.published()
    assert not (out / WEEK / "weekly.md").exists()
    assert queue.client.get(key) == "other:1234"  # the new holder's lease is left alone
    assert store.quiet_weeks(0.0) == [WEEK]  # still dirty: the new holder publishes it
    assert worker.abandoned == 1 and worker.failures == 0 and WEEK not in worker.retries
    err = capsys.readouterr().err
    assert f"lease {key} taken over by other:1234; abandoned the update of {WEEK}" in err
