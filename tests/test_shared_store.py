"""Several machines, one newsroom: runs, editions, spans and vectors in PostgreSQL (issue 19).

Uses the PostgreSQL on 127.0.0.1:5432 and the Redis the other service tests use; skipped, saying
so, where no PostgreSQL runs (a failure under CI=true, where one is meant to run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import bundled_items, free_port, service_space, wait_until
from fastapi.testclient import TestClient

from newsroom import results
from newsroom.agents import offline_engine
from newsroom.errors import SourceUnavailable
from newsroom.methods.embeddings import Embedder
from newsroom.models import SourceItem
from newsroom.results import ResultsStore, SchemaTooNew
from newsroom.runner import RunOptions, run_week
from newsroom.service.api import create_app

WEEK = "2026-W06"


def items_folder(path: Path, items: list[SourceItem]) -> Path:
    path.mkdir(parents=True)
    rows = [i.model_dump(mode="json") for i in items]
    (path / "items.json").write_text(json.dumps({"items": rows}, ensure_ascii=False))
    return path


class Counting(Embedder):
    """An embedder that counts the texts its model embeds (not those read from a store)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def _keep(self, keys: Any, vectors: Any) -> None:
        self.embedded.extend(keys)
        super()._keep(keys, vectors)


def test_two_hosts_share_the_edition_its_update_the_vectors_and_the_traces(
    database: str, tmp_path: Path, redis_url: str
) -> None:
    items = bundled_items()

    def host(name: str, week_items: list[SourceItem], **options: Any) -> tuple[Any, set[str]]:
        """One machine's run: a fresh engine (no vectors in memory), a folder of its own."""
        embedder = Counting()
        summary = asyncio.run(
            run_week(
                RunOptions(
                    week=WEEK,
                    sources=items_folder(tmp_path / f"{name}-src", week_items),
                    out_dir=tmp_path / name,
                    checkpoint_url=database,
                    **options,
                ),
                offline_engine(embedder),
            )
        )
        return summary, set(embedder.embedded)

    # Host A: the week without its last ten items.
    a, a_keys = host("a", items[:-10])
    assert a.status == "ok" and a_keys
    # Host B: another folder and process state, the same database; an update on A's edition.
    b, b_keys = host("b", items, base_run=a.run_id, force=True)
    assert b.status == "ok"
    assert b.update["mode"] == "incremental" and b.update["base_run"] == a.run_id
    assert b_keys and not (b_keys & a_keys), "B embedded a text A had embedded"

    # Host C: the API with an empty folder of its own serves what A and B wrote.
    store = ResultsStore(database)
    assert store.latest(WEEK) == b.run_id
    with service_space(redis_url, "shared") as (queue, week_store):
        http = TestClient(create_app(queue, week_store, tmp_path / "c", "t", results=store))
        edition = http.get(f"/weeks/{WEEK}/edition")
        assert edition.status_code == 200
        assert edition.text == (tmp_path / "b" / WEEK / "weekly.md").read_text(encoding="utf-8")
        report = http.get(f"/weeks/{WEEK}/edition", params={"format": "json"}).json()
        assert report == json.loads((tmp_path / "b" / WEEK / "report.json").read_text())
        for run in (a, b):
            assert http.get(f"/runs/{run.run_id}").json()["run_id"] == run.run_id
            trace = http.get(f"/runs/{run.run_id}/trace").json()
            spans = trace["resourceSpans"][0]["scopeSpans"][0]["spans"]
            local = tmp_path / ("a" if run is a else "b") / ".newsroom" / "runs" / run.run_id
            assert len(spans) == len((local / "trace.jsonl").read_text().splitlines())
            root = [s for s in spans if "parentSpanId" not in s]
            assert root and root[0]["name"] == "invoke_workflow newsroom"
            assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in spans)
        assert http.get("/runs/2026-W06-20260101T000000-dead/trace").status_code == 404
    store.close()


def test_a_host_older_than_the_schema_refuses_to_write(database: str, monkeypatch: Any) -> None:
    ResultsStore(database).close()  # migrated to this code's version
    monkeypatch.setattr(results, "SCHEMA_VERSION", results.SCHEMA_VERSION - 1)
    with pytest.raises(SchemaTooNew, match=r"upgrade newsroom on this host") as caught:
        ResultsStore(database)
    assert f"schema version {results.SCHEMA_VERSION + 1}" in str(caught.value)


def test_migrations_run_once_whatever_the_hosts(database: str) -> None:
    stores = [ResultsStore(database) for _ in range(3)]
    assert {s.version() for s in stores} == {results.SCHEMA_VERSION}
    rows = stores[0].conn.execute("SELECT count(*) FROM newsroom_schema").fetchone()
    assert rows is not None and rows[0] == results.SCHEMA_VERSION
    for store in stores:
        store.close()


def test_postgres_down_at_start_names_it_without_its_password(
    tmp_path: Path, embedder: Embedder
) -> None:
    url = "postgresql://newsroom:hunter2@127.0.0.1:9/newsroom"
    with pytest.raises(SourceUnavailable, match=r"PostgreSQL at postgresql://newsroom:\*\*\*@"):
        ResultsStore(url, connect_timeout=2)
    from newsroom.config import bundled_sources

    options = RunOptions(week=WEEK, sources=bundled_sources(), out_dir=tmp_path, checkpoint_url=url)
    with pytest.raises(SourceUnavailable, match="NEWSROOM_POSTGRES_URL") as caught:
        asyncio.run(run_week(options, offline_engine(embedder)))
    assert "hunter2" not in str(caught.value)


def _host(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A machine of its own: a working directory, an output folder and a home folder."""
    home = tmp_path / name
    (home / "home").mkdir(parents=True)
    return home, {
        **env,
        "HOME": str(home / "home"),
        "NEWSROOM_HOME": str(home / "home" / ".newsroom"),
        "NEWSROOM_OUT_DIR": str(home / "out"),
    }


class Hosts:
    """Machines of their own on this one (a working directory, an output folder and a home
    each) running `newsroom` commands against one Redis and one PostgreSQL; the API on host
    "c" (`serve --workers 0`)."""

    def __init__(self, tmp_path: Path, database: str, redis_url: str) -> None:
        self.tmp_path = tmp_path
        self.namespace = f"hosts-{secrets.token_hex(4)}"
        token = secrets.token_hex(8)
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "NEWSROOM_POSTGRES_URL": database,
            "NEWSROOM_API_TOKEN": token,
        }
        self.head = {"Authorization": f"Bearer {token}"}
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        cwd, env = _host(self.tmp_path, name, self.env)
        with (cwd / "log.txt").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "newsroom", *args, "--namespace", self.namespace],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def serve(self) -> None:
        self.start("c", "serve", "--workers", "0", "--port", str(self.port), "--poll", "0")
        wait_until(lambda: _up(self.api), 60)

    def push(self, items: list[dict[str, Any]]) -> None:
        answer = httpx.post(f"{self.api}/items", json={"items": items}, headers=self.head)
        assert answer.is_success, answer.text

    def edition(self, format: str = "md") -> httpx.Response:
        return httpx.get(f"{self.api}/weeks/{WEEK}/edition", params={"format": format})

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.tmp_path.glob("*/log.txt"):
            print(log.parent.name, log.read_text(errors="replace")[-3000:])


@pytest.fixture
def hosts(tmp_path: Path, database: str, redis_url: str) -> Iterator[Hosts]:
    machines = Hosts(tmp_path, database, redis_url)
    try:
        yield machines
    finally:
        machines.stop()


def test_three_processes_share_nothing_but_redis_and_postgres(
    hosts: Hosts, database: str, tmp_path: Path
) -> None:
    items = [i.model_dump(mode="json") for i in bundled_items()]
    hosts.serve()
    worker_a = hosts.start("a", "worker", "--debounce", "1", "--name", "a")
    hosts.push(items[:-10])
    wait_until(lambda: hosts.edition().status_code == 200, 120)
    first = hosts.edition("json").json()
    worker_a.terminate()
    worker_a.wait(30)
    before = _vectors(database)  # every text A embedded
    worker_b = hosts.start("b", "worker", "--debounce", "1", "--name", "b")
    hosts.push(items[-10:])

    def updated() -> bool:
        got = hosts.edition("json")
        return got.status_code == 200 and got.json() != first

    wait_until(updated, 120)
    worker_b.terminate()  # it may still be publishing a neighbouring week: let it finish
    worker_b.wait(120)
    with contextlib.closing(ResultsStore(database)) as store:
        every = store.runs()  # the weeks around W06 too: the samples hold a few of their items
        runs = [r for r in every if r["week"] == WEEK and r["status"] == "ok"]
        latest = store.latest(WEEK)
    assert len(runs) == 2, [r["run_id"] for r in runs]
    a_run, b_run = runs
    assert b_run["update"]["mode"] == "incremental"
    assert b_run["update"]["base_run"] == a_run["run_id"]
    # No text was embedded twice, on either host: every vector a run computed is a row of its
    # own (an upsert of a text embedded before would add none). B read A's from the store.
    assert sum(r["counts"]["vectors_computed"] for r in every) == _vectors(database)
    assert _vectors(database) > before and b_run["counts"]["vectors_stored"] > 0
    assert 0 < b_run["counts"]["vectors_computed"] < a_run["counts"]["vectors_computed"]
    assert latest == b_run["run_id"]
    for run in runs:
        spans = httpx.get(f"{hosts.api}/runs/{run['run_id']}/trace").json()
        assert spans["resourceSpans"][0]["scopeSpans"][0]["spans"]
    # Each host wrote into its own folder only; C's stayed empty of editions.
    assert (tmp_path / "a" / "out" / WEEK / "weekly.md").exists()
    assert (tmp_path / "b" / "out" / WEEK / "weekly.md").exists()
    assert not (tmp_path / "c" / "out" / WEEK).exists()


def _vectors(database: str) -> int:
    import psycopg

    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM newsroom_vectors").fetchone()
    return int(row[0]) if row else 0


def _up(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def test_a_worker_killed_mid_run_leaves_the_week_to_another_host(
    hosts: Hosts, database: str, redis_url: str, tmp_path: Path
) -> None:
    """SIGKILL worker A while it holds the week: B (another host) finishes it; nothing
    acknowledged is lost and the edition holds every pushed item once."""
    import redis

    items = [i.model_dump(mode="json") for i in bundled_items()]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    lock = f"{hosts.namespace}:lock:{WEEK}"
    hosts.serve()
    worker_a = hosts.start("a", "worker", "--debounce", "1", "--name", "a")
    hosts.push(items)
    runs = tmp_path / "a" / "out" / ".newsroom" / "runs"
    # A holds the week and its run has begun (its trace file is open): it is mid-run.
    wait_until(lambda: bool(client.get(lock)) and any(runs.glob(f"{WEEK}-*/trace.jsonl")), 120)
    assert hosts.edition().status_code == 404
    worker_a.kill()
    worker_a.wait(30)
    hosts.start("b", "worker", "--debounce", "1", "--name", "b")
    wait_until(lambda: hosts.edition().status_code == 200, 180)
    report = hosts.edition("json").json()
    listed = [i for s in report["stories"] for i in s["item_ids"]]
    listed += [row["id"] for row in report.get("left_out", [])]
    in_week = [i.id for i in bundled_items(in_week=True)]
    assert len(in_week) < len(items)  # the samples hold items of the weeks around it
    assert sorted(listed) == sorted(in_week)  # each pushed item of the week, once
    with contextlib.closing(ResultsStore(database)) as store:
        latest = store.run(store.latest(WEEK) or "")
    assert latest is not None and latest["status"] == "ok"
    assert not (tmp_path / "a" / "out" / WEEK / "weekly.md").exists()


class DatabaseRestartsOnce:
    """A clusterer whose first call finds PostgreSQL restarted: every connection to the
    database is cut (as a restart or failover does) before it works."""

    def __init__(self, inner: Any, database: str) -> None:
        self.inner = inner
        self.database = database
        self.calls = 0

    def judge(self, stories: Any, items: Any) -> Any:
        return self.inner.judge(stories, items)

    async def themes(self, stories: Any, items: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            import psycopg

            name = self.database.rsplit("/", 1)[-1]
            with psycopg.connect(self.database, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
        return await self.inner.themes(stories, items)


def test_postgres_lost_mid_run_fails_resumable_and_says_so(
    database: str, embedder: Embedder, tmp_path: Path
) -> None:
    from newsroom.config import bundled_sources

    engine = offline_engine(embedder)
    engine.clusterer = DatabaseRestartsOnce(engine.clusterer, database)  # type: ignore[assignment]
    options = RunOptions(
        week=WEEK, sources=bundled_sources(), out_dir=tmp_path / "one", checkpoint_url=database
    )
    with pytest.raises(SourceUnavailable, match=r"went away during run .* --resume") as caught:
        asyncio.run(run_week(options, engine))
    run = json.loads((tmp_path / "one" / WEEK / "run.json").read_text())
    assert run["status"] == "failed" and "--resume" in run["stop_reason"]
    assert str(caught.value).startswith("PostgreSQL at postgresql://postgres@127.0.0.1:5432/")
    # Back (a new connection): the run resumes from its checkpoints, on another host too.
    resumed = asyncio.run(
        run_week(
            RunOptions(
                week=WEEK,
                sources=bundled_sources(),
                out_dir=tmp_path / "two",
                checkpoint_url=database,
                resume=run["run_id"],
            ),
            engine,
        )
    )
    assert resumed.status == "ok" and resumed.usage.tool_calls == 1  # research not redone
    with contextlib.closing(ResultsStore(database)) as store:
        assert store.latest(WEEK) == run["run_id"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://p19:S3cretPw@127.0.0.1:9/db",
        "postgresql://:S3cretPw@127.0.0.1:9/db",
        "postgresql://p19@127.0.0.1:9/db?sslmode=disable&password=S3cretPw",
        "host=127.0.0.1 port=9 user=p19 password=S3cretPw dbname=db",
        "host=127.0.0.1 port=9 user=p19 password='S3cret Pw' dbname=db",
    ],
)
def test_no_form_of_connection_string_shows_its_password(url: str) -> None:
    """Found by a hostile probe: libpq's query and key=value forms carried the password into
    messages, run.json and spans."""
    assert "S3cret" not in results.redact(url)
    with pytest.raises(SourceUnavailable) as caught:
        ResultsStore(url, connect_timeout=2)
    assert "S3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_the_api_reconnects_after_postgres_restarts_and_health_says_when_it_is_down(
    database: str, tmp_path: Path, redis_url: str, embedder: Embedder
) -> None:
    """Found by a hostile probe: one lost connection made every later read a 503, while
    /health said ok."""
    import psycopg

    from newsroom.config import bundled_sources

    options = RunOptions(
        week=WEEK, sources=bundled_sources(), out_dir=tmp_path / "a", checkpoint_url=database
    )
    assert asyncio.run(run_week(options, offline_engine(embedder))).status == "ok"
    store = ResultsStore(database)
    with service_space(redis_url, "reconnect") as (queue, week_store):
        http = TestClient(create_app(queue, week_store, tmp_path / "c", "t", results=store))
        assert http.get(f"/weeks/{WEEK}/edition").status_code == 200
        assert http.get("/health").json()["postgres"] == "ok"
        name = database.rsplit("/", 1)[-1]
        with psycopg.connect(database, autocommit=True) as admin:  # a restart, for the API
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        first = http.get(f"/weeks/{WEEK}/edition")  # the lost connection shows once at most
        assert first.status_code in (200, 503)
        assert "postgres@" not in first.text
        assert http.get(f"/weeks/{WEEK}/edition").status_code == 200  # and is opened again
        assert http.get("/health").status_code == 200
        store.url = "postgresql://postgres@127.0.0.1:9/none"  # now it is down for good
        store.conn.close()
        down = http.get("/health")
        assert down.status_code == 503 and "postgres unavailable" in down.text
    store.close()


def test_a_half_written_database_is_said_to_be_one(database: str) -> None:
    ResultsStore(database).close()
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP TABLE newsroom_vectors")
    with pytest.raises(results.SchemaBroken, match="lacks newsroom_vectors"):
        ResultsStore(database)
