"""The embedded Valkey of `newsroom serve` dies with its parent and is never doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from newsroom.errors import UsageError
from newsroom.service.embedded import EmbeddedValkey, _alive, serves_folder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from newsroom.service.embedded import EmbeddedValkey

    server = EmbeddedValkey(Path(sys.argv[1]))
    server.start()
    print(server.process.pid, server.port, flush=True)
    time.sleep(600)
    """
)


def _servers_of(data: Path) -> list[int]:
    """Live Valkey servers working in this folder, by /proc."""
    pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    return sorted(p for p in pids if serves_folder(p, data.resolve()) and _alive(p))


def _start_child(data: Path) -> tuple[subprocess.Popen[str], int, int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    pid, port = (int(x) for x in child.stdout.readline().split())
    return child, pid, port


def _get(port: int, key: str) -> bytes | None:
    with redis.Redis(port=port) as client:
        value: bytes | None = client.get(key)
    return value


def _set(port: int, key: str, value: str) -> None:
    with redis.Redis(port=port) as client:
        client.set(key, value)


def _end(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def _gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_sigkill_of_its_parent_stops_the_server(tmp_path: Path) -> None:
    data = tmp_path / "valkey"
    child, pid, port = _start_child(data)
    try:
        _set(port, "kept", "yes")
        assert _servers_of(data) == [pid]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert _gone(pid), "the embedded Valkey outlived the SIGKILLed process that started it"
        assert _servers_of(data) == []
        # The next start finds the folder free, and what was acknowledged is there.
        server = EmbeddedValkey(data)
        server.start()
        try:
            assert _get(server.port, "kept") == b"yes"
            assert _servers_of(data) == [server.process.pid if server.process else -1]
        finally:
            server.stop()
    finally:
        _end(child)


def test_a_second_serve_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "valkey"
    child, pid, _ = _start_child(data)
    try:
        with pytest.raises(UsageError, match="in use by newsroom serve pid"):
            EmbeddedValkey(data).start()
        assert _servers_of(data) == [pid]
    finally:
        child.terminate()
        child.wait(timeout=10)
        _end(child)
    assert _gone(pid)


def test_a_server_left_by_a_dead_serve_is_stopped_and_replaced(tmp_path: Path) -> None:
    """A server that outlived its serve (not tied to it: an older newsroom, another OS) is found
    through the pid file and /proc, stopped cleanly, and replaced: one server per folder."""
    data = tmp_path / "valkey"
    old = EmbeddedValkey(data)
    old.start()
    assert old.process is not None
    orphan = old.process
    _set(old.port, "kept", "yes")
    # Its serve "dies" without stopping it: the lock goes, the server and pid file stay.
    old.process = None
    old.stop()
    assert _alive(orphan.pid) and (data / "valkey.pid").exists()

    new = EmbeddedValkey(data)
    new.start()
    try:
        orphan.wait(timeout=10)  # it was stopped (SIGTERM: a clean shutdown)
        assert orphan.returncode == 0
        assert new.process is not None
        assert _servers_of(data) == [new.process.pid]
        assert _get(new.port, "kept") == b"yes"
    finally:
        new.stop()
    assert _servers_of(data) == []
    assert not (data / "valkey.pid").exists()


def test_the_pid_file_names_the_running_server(tmp_path: Path) -> None:
    import json

    server = EmbeddedValkey(tmp_path / "v")
    server.start()
    try:
        record = json.loads((tmp_path / "v" / "valkey.pid").read_text())
        assert server.process is not None
        assert record["pid"] == server.process.pid and record["port"] == server.port
        assert record["parent"] == os.getpid()
    finally:
        server.stop()
