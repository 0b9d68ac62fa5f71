"""The SQLite files the newsroom keeps beside its editions (checkpoints, vectors): opened the
same way, written in whole transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, busy_seconds: float = 5.0) -> sqlite3.Connection:
    """A connection for this process's threads, in autocommit mode (transactions are explicit),
    WAL with synchronous=NORMAL: a commit is in the log before it returns, so a killed process
    loses nothing; other processes may read while one writes, and a writer waits up to
    `busy_seconds` for another."""
    conn = sqlite3.connect(
        str(path), timeout=busy_seconds, check_same_thread=False, isolation_level=None
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed whole, or rolled back."""
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
