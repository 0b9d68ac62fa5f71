"""The service's API and workers, on a real Redis (or Valkey): auth, bad payloads, and the
edition changing after new items arrive."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import bundled_items, service_space
from fastapi.testclient import TestClient

from newsroom.service.api import create_app
from newsroom.service.queue import ItemQueue
from newsroom.service.worker import WeekStore, Worker
from newsroom.weeks import week_of, zone

TOKEN = "t-" + secrets.token_hex(8)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def service(redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with service_space(redis_url, "svc") as (queue, store):
        app = create_app(queue, store, tmp_path / "out", TOKEN)
        worker = Worker(queue, store, tmp_path / "out", consumer="w1", debounce=0.0)
        yield {"http": TestClient(app), "queue": queue, "store": store, "worker": worker}


def week_items() -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in bundled_items(in_week=True)]


def test_writes_need_the_token(service: dict[str, Any]) -> None:
    http = service["http"]
    body = {"items": week_items()[:2]}
    assert http.post("/items", json=body).status_code == 401
    assert (
        http.post("/items", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert http.post("/feeds", json={"name": "x", "url": "https://e.com/f"}).status_code == 401
    assert service["queue"].length() == 0
    assert http.get("/health").json()["status"] == "ok"  # reads are open


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"id": "x"}]},
        {
            "items": [
                {**{"id": "x", "title": "t", "url": "u", "source": "s"}, "published": "tuesday"}
            ]
        },
        {"nothing": 1},
        [1, 2, 3],
    ],
)
def test_malformed_payloads_are_4xx_and_store_nothing(service: dict[str, Any], body: Any) -> None:
    response = service["http"].post("/items", json=body, headers=AUTH)
    assert response.status_code == 422 and response.json()["detail"]
    assert service["queue"].length() == 0


def test_an_oversized_payload_is_413(service: dict[str, Any]) -> None:
    big = json.dumps({"items": [{"id": "x", "title": "t" * 6_000_000}]})
    response = service["http"].post(
        "/items", content=big, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert service["queue"].length() == 0


def test_the_edition_changes_after_new_items_arrive(service: dict[str, Any]) -> None:
    http, worker = service["http"], service["worker"]
    rows = week_items()
    first, later, last = rows[:40], rows[40:-1], rows[-1:]
    assert http.get("/weeks/2026-W06/edition").status_code == 404
    pushed = http.post("/items", json={"items": first}, headers=AUTH).json()
    assert len(pushed["queued"]) == 40 and pushed["duplicates"] == 0
    assert http.post("/items", json={"items": first[:5]}, headers=AUTH).json()["duplicates"] == 5
    while worker.step(block_ms=100):
        pass
    (run_one,) = worker.update_quiet_weeks()
    before = http.get("/weeks/2026-W06/edition?format=json").json()
    assert len({s["id"] for s in before["sources"]}) <= 40

    http.post("/items", json={"items": later}, headers=AUTH)
    while worker.step(block_ms=100):
        pass
    (run_two,) = worker.update_quiet_weeks()
    after = http.get("/weeks/2026-W06/edition?format=json").json()
    assert run_two != run_one
    cited_after = {s["id"] for s in after["sources"]}
    assert cited_after - {s["id"] for s in before["sources"]}  # new items made it in
    run = http.get(f"/runs/{run_two}").json()
    counts = run["counts"]
    assert run["status"] == "ok" and counts["items"] + counts["left_out"] == len(rows) - 1
    assert run["update"]["base_run"] == run_one

    # One more item: an update of the edition that re-writes only the theme it joins.
    http.post("/items", json={"items": last}, headers=AUTH)
    while worker.step(block_ms=100):
        pass
    (run_three,) = worker.update_quiet_weeks()
    assert service["store"].count("2026-W06") == len(rows)
    run = http.get(f"/runs/{run_three}").json()
    counts = run["counts"]
    assert run["status"] == "ok" and counts["items"] + counts["left_out"] == len(rows)
    update = run["update"]
    assert update["base_run"] == run_two and update["mode"] == "incremental"
    assert update["themes_rewritten"] == 1 < update["themes"]
    assert worker.update_quiet_weeks() == []  # nothing new: no run
    metrics = http.get("/metrics").text
    assert f"newsroom_items_pushed_total {len(rows)}" in metrics


def test_feeds_are_added_listed_and_removed(service: dict[str, Any]) -> None:
    http = service["http"]
    feed = {"name": "wire", "url": "https://e.com/feed.xml", "lang": "en"}
    assert http.post("/feeds", json=feed, headers=AUTH).status_code == 201
    assert [f["name"] for f in http.get("/feeds").json()] == ["wire"]
    assert (
        http.post("/feeds", json={"name": "bad name!", "url": "x"}, headers=AUTH).status_code == 422
    )
    assert http.delete("/feeds/wire", headers=AUTH).status_code == 204
    assert http.delete("/feeds/wire", headers=AUTH).status_code == 404
    assert http.get("/openapi.json").json()["info"]["title"] == "newsroom"


def test_bad_reads(service: dict[str, Any]) -> None:
    http = service["http"]
    assert http.get("/weeks/W06/edition").status_code == 400
    assert http.get("/weeks/2026-W06/edition?format=pdf").status_code == 400
    assert http.get("/runs/..%2F..%2Fetc").status_code in {400, 404}
    assert http.get("/runs/2026-W06-20260101T000000-abcd").status_code == 404


def test_serve_refuses_to_listen_beyond_loopback_without_a_token() -> None:
    from typer.testing import CliRunner

    from newsroom.cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without NEWSROOM_API_TOKEN" in result.output


def test_sigterm_drains_a_worker(redis_url: str, tmp_path: Path) -> None:
    """SIGTERM: the batch in hand is filed and acknowledged; nothing is left pending."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from newsroom.models import SourceItem

    name = f"drain-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = ItemQueue(client, name=name)
    try:
        when = datetime(2026, 2, 4, 10, tzinfo=UTC)
        queue.push(
            SourceItem(
                id=f"d{k}", title=f"第{k}条", url=f"https://e.com/{k}", source="S", published=when
            )
            for k in range(3000)
        )
        env = {**os.environ, "REDIS_URL": redis_url}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "newsroom",
                "worker",
                "--namespace",
                name,
                "--debounce",
                "3600",
                "--out",
                str(tmp_path / "out"),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        store = WeekStore(client, name=name)
        deadline = time.monotonic() + 60
        while store.count("2026-W06") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "stopped:" in err
        assert queue.pending() == 0  # nothing delivered and left unacknowledged
        filed = store.count("2026-W06")
        assert 0 < filed <= 3000
        # What it did not take stays queued for the next worker:
        rest = ItemQueue(client, name=name).read("next", count=5000, block_ms=100)
        assert filed + len(rest) == 3000
    finally:
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)


def test_the_poller_queues_the_entries_of_the_feeds_the_service_follows(
    service: dict[str, Any],
) -> None:
    import asyncio

    from webfixtures import Site, rss, send

    from newsroom.service.poller import Poller
    from newsroom.tools.client import ServerSpec, open_server

    now = datetime.now(UTC)
    stamp = now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    entries = [
        {"title": f"第{k}条新闻", "link": f"https://e.com/p{k}", "guid": f"p{k}", "pubDate": stamp}
        for k in range(3)
    ]
    http, queue = service["http"], service["queue"]
    with Site({"/feed": lambda h: send(h, rss(entries), "application/rss+xml")}) as site:
        feed = {"name": "wire", "url": f"{site.base}/feed", "lang": "zh"}
        assert http.post("/feeds", json=feed, headers=AUTH).status_code == 201
        broken = {"name": "gone", "url": "http://127.0.0.1:9/feed"}
        assert http.post("/feeds", json=broken, headers=AUTH).status_code == 201
        spec = ServerSpec("feeds", allow_hosts=("127.0.0.1",), timeout=3.0)
        poller = Poller(queue, service["store"].name, spec)

        async def twice() -> tuple[int, int]:
            async with open_server(spec) as session:
                return await poller.poll_once(session), await poller.poll_once(session)

        first, second = asyncio.run(twice())
    assert (first, second) == (3, 0)  # read again: nothing queued twice
    assert queue.length() == 3
    assert "gone" in poller.failures and "wire" not in poller.failures


def test_a_restarted_service_keeps_what_it_acknowledged(tmp_path: Path) -> None:
    """`newsroom serve` with its embedded Valkey: items filed before a SIGTERM are there after
    the restart, and the edition still builds from all of them."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    def start(port: int) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "NEWSROOM_REDIS_URL"}}
        env.update({"NEWSROOM_HOME": str(tmp_path / "home"), "NEWSROOM_API_TOKEN": TOKEN})
        command = [sys.executable, "-m", "newsroom", "serve", "--port", str(port)]
        command += ["--out", str(tmp_path / "out"), "--debounce", "0.5", "--poll", "0"]
        return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)

    def wait_for(url: str, check: Any, seconds: float = 90) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                response = httpx.get(url, timeout=5)
                if check(response):
                    return response
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {url}")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    rows = week_items()
    process = start(port)
    try:
        wait_for(f"{base}/health", lambda r: r.status_code == 200)
        httpx.post(f"{base}/items", json={"items": rows[:30]}, headers=AUTH, timeout=30)
        wait_for(f"{base}/weeks/2026-W06/edition", lambda r: r.status_code == 200)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    process = start(port)
    try:
        wait_for(f"{base}/health", lambda r: r.status_code == 200)
        httpx.post(f"{base}/items", json={"items": rows[30:]}, headers=AUTH, timeout=30)

        def complete(response: Any) -> bool:
            if response.status_code != 200:
                return False
            report = response.json()
            on_desk = sum(len(s["item_ids"]) for s in report["stories"])
            return on_desk + len(report["left_out"]) == len(rows)

        wait_for(f"{base}/weeks/2026-W06/edition?format=json", complete, seconds=120)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_workers_share_the_week_budget(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers with the LLM engine update one week: the second worker's update is held to
    what is left of the week's budget after the first worker's (NEWSROOM_BUDGET_SCOPE=week)."""
    from newsroom.config import Settings
    from newsroom.models import SourceItem
    from newsroom.testing import FakeOpenAIServer

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    used_key = "newsroom:budget:week:2026-W06:used"
    client.delete(
        *(used_key.replace(":used", f":{p}") for p in ("used", "reserved", "open", "leases"))
    )
    name = f"svc-{secrets.token_hex(4)}"
    queue = ItemQueue(client, name=name, claim_after=1.0)
    store = WeekStore(client, name=name)
    items = [SourceItem.model_validate(row) for row in week_items()]
    monkeypatch.setenv("NEWSROOM_BUDGET_SCOPE", "week")
    monkeypatch.setenv("REDIS_URL", redis_url)
    try:
        with FakeOpenAIServer() as server:
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            a = Worker(queue, store, tmp_path / "out", "a", debounce=0.0, settings=Settings())
            queue.push(items[:-1])
            while a.step(block_ms=100):
                pass
            (first,) = a.update_quiet_weeks()
            spent = int(client.hget(used_key, "llm_calls") or 0)
            assert spent > 0
            # Worker b's limit for the week is one call more than worker a has spent.
            monkeypatch.setenv("NEWSROOM_MAX_LLM_CALLS", str(spent + 1))
            b = Worker(queue, store, tmp_path / "out", "b", debounce=0.0, settings=Settings())
            queue.push(items[-1:])
            while b.step(block_ms=100):
                pass
            (second,) = b.update_quiet_weeks()
        runs = tmp_path / "out" / ".newsroom" / "runs"
        one = json.loads((runs / first / "run.json").read_text())
        two = json.loads((runs / second / "run.json").read_text())
        assert one["status"] == "ok" and one["engine"] == "llm"
        assert two["status"] == "partial" and two["tripped"]["guard"] == "LLM calls"
        assert two["usage"]["llm_calls"] == 1
        assert int(client.hget(used_key, "llm_calls") or 0) == spent + 1
    finally:
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)


def test_a_poison_date_is_filed_by_its_receipt_and_no_worker_dies(
    service: dict[str, Any],
) -> None:
    http, queue, worker = service["http"], service["queue"], service["worker"]
    row = {"id": "far", "title": "t", "url": "https://e.com/far", "source": "s"}
    row["published"] = "9999-12-31T23:59:59+00:00"
    assert http.post("/items", json={"items": [row]}, headers=AUTH).status_code == 202
    # An entry queued before the bounds (or by another producer) is bounded when it is read.
    queue.client.xadd(queue.stream, {"item": json.dumps({**row, "id": "raw"})})
    handled = 0
    while step := worker.step(block_ms=100):
        handled += step
    assert handled == 2 and queue.pending() == 0
    week = week_of(datetime.now(UTC).astimezone(zone("Asia/Shanghai")).date())
    filed = {i.id: i for i in service["store"].items(week)}
    assert set(filed) == {"far", "raw"}
    assert all(i.dated_by == "collected" and i.collected is not None for i in filed.values())


@pytest.mark.parametrize(
    "change",
    [
        {"url": "javascript:alert(1)"},
        {"url": "ftp://e.com/x"},
        {"id": ""},
        {"title": " "},
        {"weight": 1e308},
        {"weight": -1},
    ],
)
def test_pushed_items_out_of_bounds_are_422(service: dict[str, Any], change: Any) -> None:
    row = {**week_items()[0], **change}
    response = service["http"].post("/items", json={"items": [row]}, headers=AUTH)
    assert response.status_code == 422
    assert service["queue"].length() == 0


def test_pushed_text_is_stripped_and_cut(service: dict[str, Any]) -> None:
    row = {**week_items()[0], "title": "a\x00b", "summary": "s" * 10_000}
    response = service["http"].post("/items", json={"items": [row]}, headers=AUTH)
    assert response.status_code == 202
    (entry,) = service["queue"].read("w9", block_ms=100)
    assert entry.item.title == "ab" and len(entry.item.summary) == 5_000 and entry.item.truncated
