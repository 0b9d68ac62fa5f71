"""Guards that hold everywhere: a service worker builds its runs from the settings exactly as
`newsroom run` does (pricing, limits, front matter, categories, revisions), and a worker
outlives an update that fails — the week waits, backs off and is published once the endpoint
is back, while /health says what is wrong."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import bundled_items, free_port, service_space
from conftest import wait_until as shared_wait_until
from fastapi.testclient import TestClient
from test_service import AUTH, TOKEN, week_items

from newsroom.config import load_settings
from newsroom.models import RunSummary
from newsroom.service.api import create_app
from newsroom.service.queue import ItemQueue
from newsroom.service.worker import WeekStore, Worker

WEEK = "2026-W06"


@pytest.fixture
def space(redis_url: str) -> Iterator[tuple[ItemQueue, WeekStore]]:
    with service_space(redis_url, "guards", claim_after=1.0) as pair:
        yield pair


def wait_until(check: Callable[[], bool], seconds: float = 120.0) -> None:
    shared_wait_until(check, seconds)


SETTINGS = {
    "NEWSROOM_PRICES": '{"house-model": [3, 7]}',
    "NEWSROOM_LAYOUT": "layouts/brief.njk",
    "NEWSROOM_TAGS": '["AI", "weekly"]',
    "NEWSROOM_AUTHOR": "The Desk",
    "NEWSROOM_CATEGORIES": '{"Models": "releases and evaluations", "Money": "deals"}',
    "NEWSROOM_MAX_REVISIONS": "1",
    "NEWSROOM_RECURSION_LIMIT": "55",
    "NEWSROOM_MAX_USD": "0.25",
    "NEWSROOM_MAX_LLM_CALLS": "17",
    "NEWSROOM_WINDOW": "collected",
}


def test_a_worker_builds_the_options_the_cli_builds(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same settings, same runs: what `newsroom run` passes to the runner is what a worker
    passes, but for what each sets itself (sources, run id, force, base)."""
    from typer.testing import CliRunner

    import newsroom.cli
    import newsroom.runner
    from newsroom.errors import NewsroomError

    for key, value in SETTINGS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEWSROOM_TEMPLATES", str(tmp_path / "templates"))
    seen: dict[str, Any] = {}

    def cli_run(options: Any, *args: Any) -> Any:
        seen["cli"] = options
        raise NewsroomError("captured")

    async def run_week(options: Any, engine: Any, on_step: Any = None) -> RunSummary:
        seen.setdefault("workers", []).append(options)
        now = datetime.now(UTC)
        return RunSummary(run_id=f"{WEEK}-x", week=WEEK, status="ok", engine="x", started=now)

    monkeypatch.setattr(newsroom.cli, "_run", cli_run)
    monkeypatch.setattr(newsroom.runner, "run_week", run_week)
    result = CliRunner().invoke(
        newsroom.cli.app, ["run", "--week", WEEK, "--out", str(tmp_path / "out")]
    )
    assert "captured" in result.output, result.output
    queue, store = space
    store.file(bundled_items(in_week=True)[:3], "Asia/Shanghai")
    configured = Worker(queue, store, tmp_path / "out", "a", settings=load_settings())
    unset = Worker(queue, store, tmp_path / "out", "b")  # no settings: load_settings()
    for worker in (configured, unset):
        worker.engine = object()  # the runner is a stand-in: no engine needed
        worker.publish(WEEK)

    def comparable(options: Any) -> dict[str, Any]:
        row = asdict(options)
        for own in ("sources", "run_id", "force", "base_run", "require_base", "ledger"):
            row.pop(own)
        return row

    cli = seen["cli"]
    assert cli.pricing.overrides == {"house-model": (3.0, 7.0)}
    assert cli.front_matter.layout == "layouts/brief.njk"
    assert cli.front_matter.tags == ("AI", "weekly") and cli.front_matter.author == "The Desk"
    assert cli.categories == {"Models": "releases and evaluations", "Money": "deals"}
    assert cli.max_revisions == 1 and cli.recursion_limit == 55 and cli.window == "collected"
    assert cli.limits.max_usd == 0.25 and cli.limits.max_llm_calls == 17
    for options in seen["workers"]:
        assert comparable(options) == comparable(cli)
        assert options.force and options.sources.parent.name == "service"


def test_the_service_prices_from_the_settings_and_stops_at_the_money_limit(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model priced only through NEWSROOM_PRICES costs money in a worker's update too, and
    the money limit stops it as it stops `newsroom run` (not an unpriced run at $0)."""
    from newsroom.testing import FakeOpenAIServer

    queue, store = space
    monkeypatch.setenv("NEWSROOM_MODEL", "house-model")  # no price table knows it
    monkeypatch.setenv("NEWSROOM_PRICES", '{"house-model": [10, 10]}')
    monkeypatch.setenv("NEWSROOM_MAX_USD", "0.1")
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        worker = Worker(queue, store, out, "w", debounce=0.0, settings=load_settings())
        queue.push(bundled_items(in_week=True))
        while worker.step(block_ms=100):
            pass
        (run_id,) = worker.update_quiet_weeks()
        assert server.requests and {r["model"] for r in server.requests} == {"house-model"}
    run = json.loads((out / ".newsroom" / "runs" / run_id / "run.json").read_text())
    assert run["engine"] == "llm"
    assert run["status"] == "partial" and run["tripped"]["guard"] == "money"
    assert run["tripped"]["limit"] == 100_000  # micro-dollars
    assert run["guard"]["unpriced_models"] == []
    assert 0 < run["usage"]["cost_usd"] <= 0.1
    assert run["usage"]["cost_usd"] == run["guard"]["used"]["usd"]
    assert "status: partial" in (out / WEEK / "weekly.md").read_text()
    assert store.edition(WEEK) == run_id  # a partial edition is the week's edition


def test_a_failed_update_is_backed_off_and_the_week_stays_dirty(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue, store = space
    worker = Worker(queue, store, tmp_path / "out", "w", debounce=0.0, retry_base=60.0)
    calls: list[str] = []

    def broken(week: str) -> str:
        calls.append(week)
        raise RuntimeError("disk on fire\nsecond line")

    worker.publish = broken  # type: ignore[method-assign]
    store.file(bundled_items(in_week=True)[:3], worker.tz)
    assert worker.update_quiet_weeks() == []  # no exception out of the loop
    assert worker.update_quiet_weeks() == []  # backing off: not tried again yet
    assert calls == [WEEK] and worker.failures == 1
    assert store.quiet_weeks(0.0) == [WEEK] and store.edition(WEEK) is None
    retry = worker.retries[WEEK]
    assert 30.0 <= retry.at - time.time() <= 60.0  # 60 s with jitter
    assert worker.last_error == f"{WEEK}: RuntimeError: disk on fire second line"
    (line,) = capsys.readouterr().err.splitlines()
    assert "update of 2026-W06 failed (RuntimeError: disk on fire second line)" in line
    retry.at = 0.0  # the back-off is over: tried again, and the delay doubles
    assert worker.update_quiet_weeks() == []
    assert calls == [WEEK, WEEK] and worker.retries[WEEK].failures == 2
    assert 60.0 <= worker.retries[WEEK].at - time.time() <= 120.0
    health = worker.health()
    assert health["status"] == "degraded" and "failed 2 time(s)" in health["reason"]


def test_health_is_503_when_no_worker_is_alive(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path
) -> None:
    queue, store = space
    worker = Worker(queue, store, tmp_path / "out", "w")
    worker.heartbeat = time.time()
    http = TestClient(create_app(queue, store, tmp_path / "out", TOKEN, workers=lambda: [worker]))
    body = http.get("/health").json()
    assert body["status"] == "ok" and body["workers"][0]["alive"] and "queued" in body
    worker.heartbeat = time.time() - 120
    response = http.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and "pending" in body
    assert (
        body["reason"].startswith("no worker is alive")
        and "no heartbeat for 120 s" in (body["reason"])
    )


def test_a_worker_outlives_a_dead_endpoint_and_publishes_once_it_is_back(
    space: tuple[ItemQueue, WeekStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint is down: every update fails, the worker thread lives on and keeps filing,
    the week stays dirty and /health is degraded with the reason. The endpoint comes back on
    its address: a later turn of the loop publishes the week."""
    from newsroom.testing import FakeOpenAIServer

    queue, store = space
    port = free_port()  # nothing listens there (yet)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("NEWSROOM_LLM_RETRIES", "0")
    monkeypatch.setenv("NEWSROOM_LLM_TIMEOUT", "2")
    out = tmp_path / "out"
    settings = load_settings()
    worker = Worker(queue, store, out, "w1", debounce=0.0, settings=settings, retry_base=0.1)
    worker.retry_cap = 0.3
    http = TestClient(create_app(queue, store, out, TOKEN))  # finds the worker as serve does
    assert http.get("/health").json() == {
        "status": "ok",
        "queued": 0,
        "pending": 0,
        "dead_letters": 0,
        "last_publish": {},
    }
    rows = week_items()
    thread = threading.Thread(target=worker.run, name="w1")
    thread.start()
    try:
        assert http.post("/items", json={"items": rows[:-1]}, headers=AUTH).status_code == 202
        wait_until(lambda: worker.failures >= 2)
        assert thread.is_alive()
        assert store.quiet_weeks(0.0) == [WEEK] and store.edition(WEEK) is None
        response = http.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert "w1: update of 2026-W06 failed" in body["reason"]
        assert "EndpointUnavailable" in body["reason"]
        (row,) = body["workers"]
        assert row["alive"] and row["failures"] >= 2 and "EndpointUnavailable" in row["last_error"]
        failed = json.loads((out / WEEK / "run.json").read_text())
        assert failed["status"] == "failed"

        # Items still get filed while the week keeps failing.
        assert http.post("/items", json={"items": rows[-1:]}, headers=AUTH).status_code == 202
        wait_until(lambda: store.count(WEEK) == len(rows))

        with FakeOpenAIServer(port=port) as server:
            wait_until(lambda: store.edition(WEEK) is not None)
            assert server.requests
        assert thread.is_alive() and WEEK not in worker.retries
        run = json.loads((out / WEEK / "run.json").read_text())
        assert run["status"] == "ok" and run["engine"] == "llm"
        assert run["run_id"] == store.edition(WEEK) == worker.updates[-1]
        counts = run["counts"]
        assert counts["items"] + counts["left_out"] == len(rows)
        assert store.quiet_weeks(0.0) == []
        body = http.get("/health").json()
        assert body["status"] == "ok" and body["workers"][0]["failures"] >= 2
    finally:
        worker.stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert http.get("/health").json()["status"] == "ok"  # stopped on purpose: not listed
