"""A newsroom on several machines: its durable results in PostgreSQL.

With `NEWSROOM_POSTGRES_URL` set, every run also lands in PostgreSQL: its `run.json`, its edition
files (every format, `report.json` included), its spans and the week's publish order; and the
embedding store keyed by content hash lives there too. Any host then reads any run: the API
serves the week's latest published edition whoever wrote it, `newsroom traces` lists and shows
runs written elsewhere, and a worker embeds no text another worker has embedded. Without the
variable nothing here is used: the embedded default stays serverless.

Schema changes are migrations appended to `MIGRATIONS`, never edited; every process applies the
missing ones at start under an advisory lock (the same check on every host), and a process whose
code knows fewer migrations than the database holds refuses to write, saying so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from newsroom.errors import SourceUnavailable, UsageError

# Append only: a released migration is never edited or removed (hosts of older code check
# the count).
MIGRATIONS: tuple[str, ...] = (
    # 1: runs, their files and spans, and the publish order of editions.
    """
    CREATE TABLE newsroom_runs (
        run_id TEXT PRIMARY KEY,
        week TEXT NOT NULL,
        status TEXT NOT NULL,
        started TEXT NOT NULL,
        host TEXT NOT NULL,
        run JSONB NOT NULL,
        published BIGINT UNIQUE
    );
    CREATE INDEX newsroom_runs_week ON newsroom_runs (week, published);
    CREATE SEQUENCE newsroom_publish_order;
    CREATE TABLE newsroom_files (
        run_id TEXT NOT NULL REFERENCES newsroom_runs ON DELETE CASCADE,
        name TEXT NOT NULL,
        content BYTEA NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE newsroom_spans (
        run_id TEXT NOT NULL REFERENCES newsroom_runs ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        span JSONB NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    """,
    # 2: the shared embedding store (exact float32 vectors by content hash).
    """
    CREATE TABLE newsroom_vectors (
        key TEXT PRIMARY KEY,
        day INTEGER NOT NULL,
        vector BYTEA NOT NULL
    );
    CREATE INDEX newsroom_vectors_day ON newsroom_vectors (day);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_LOCK = 0x6E657773  # the advisory lock migrations run under ("news")
FILES = ("weekly.md", "digest.md", "briefing.md", "report.json", "digest.json", "briefing.json")


class SchemaTooNew(UsageError):
    """The database was migrated by newer code than this host runs."""


class SchemaBroken(UsageError):
    """The database says it is migrated, but a newsroom table is missing."""


TABLES = ("newsroom_runs", "newsroom_files", "newsroom_spans", "newsroom_vectors")


def redact(text: str) -> str:
    """`text` without any password a libpq connection string can carry: `user:pw@` in a URL
    (an empty user too), `?password=` / `&password=` in its query, `password=...` in the
    key=value form."""
    text = re.sub(r"(://[^:/@?]*):[^/?]*@", r"\1:***@", text)
    text = re.sub(r"([?&]password=)[^&\s]*", r"\1***", text, flags=re.I)
    return re.sub(r"(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&]+)", r"\1***", text, flags=re.I)


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, without any password in it."""
    text = str(exc).strip()
    return redact(text.splitlines()[0]) if text else type(exc).__name__


def _unavailable(url: str, exc: Exception) -> SourceUnavailable:
    """A connection refused or lost: the database is unavailable. Anything else (a missing
    table, a permission) is the database's state, said as such."""
    import psycopg

    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return SourceUnavailable(
            f"PostgreSQL at {redact(url)} (NEWSROOM_POSTGRES_URL) is unavailable: {first_line(exc)}"
        )
    return SourceUnavailable(
        f"PostgreSQL at {redact(url)} (NEWSROOM_POSTGRES_URL) refused the newsroom's query: "
        f"{first_line(exc)} (a newsroom table missing or not ours to use?)"
    )


class ResultsStore:
    """Runs, editions, spans and vectors in one PostgreSQL database, shared by every host."""

    def __init__(self, url: str, connect_timeout: int = 5) -> None:
        import psycopg

        self.url = url
        self.connect_timeout = connect_timeout
        try:
            self.conn = psycopg.connect(url, connect_timeout=connect_timeout, autocommit=True)
        except psycopg.Error as exc:
            raise _unavailable(url, exc) from exc
        try:
            self.migrate()
        except BaseException:
            self.conn.close()
            raise

    # ------------------------------------------------------------------ schema
    def version(self) -> int:
        row = self.conn.execute("SELECT coalesce(max(version), 0) FROM newsroom_schema").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        """Apply the migrations the database lacks; refuse a database newer than this code."""
        import psycopg

        try:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS newsroom_schema (version INTEGER PRIMARY KEY, "
                    "applied TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                current = self.version()
                if current > SCHEMA_VERSION:
                    raise SchemaTooNew(
                        f"the newsroom database at {redact(self.url)} is at schema version "
                        f"{current}; this newsroom knows {SCHEMA_VERSION}: upgrade newsroom on "
                        "this host before it writes there"
                    )
                for number in range(current + 1, SCHEMA_VERSION + 1):
                    self.conn.execute(MIGRATIONS[number - 1])
                    self.conn.execute(
                        "INSERT INTO newsroom_schema (version) VALUES (%s)", (number,)
                    )
                missing = [
                    table
                    for table in TABLES
                    if self.conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,)
                ]
                if missing:
                    raise SchemaBroken(
                        f"the newsroom database at {redact(self.url)} is at schema version "
                        f"{SCHEMA_VERSION} but lacks {', '.join(missing)}: restore it, or point "
                        "NEWSROOM_POSTGRES_URL at a new database"
                    )
        except psycopg.Error as exc:
            raise _unavailable(self.url, exc) from exc

    def _ready(self) -> None:
        """A connection lost (PostgreSQL restarted, a failover, a network blip) is opened
        again at the next use."""
        import psycopg

        if self.conn.closed or self.conn.broken:
            try:
                self.conn = psycopg.connect(
                    self.url, connect_timeout=self.connect_timeout, autocommit=True
                )
            except psycopg.Error as exc:
                raise _unavailable(self.url, exc) from exc

    def ping(self) -> None:
        """Raise SourceUnavailable unless the database answers now."""
        with self._errors():
            self.conn.execute("SELECT 1")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import psycopg

        self._ready()
        try:
            yield
        except psycopg.Error as exc:
            raise _unavailable(self.url, exc) from exc

    # ------------------------------------------------------------------ runs
    def save_run(
        self,
        run: Mapping[str, Any],
        files: Mapping[str, bytes],
        spans: Sequence[Mapping[str, Any]],
        published: bool,
        host: str,
    ) -> None:
        """One run's record, files and spans, in one transaction; a published edition takes
        the next place in the publish order."""
        with self._errors(), self.conn.transaction():
            self.conn.execute(
                "INSERT INTO newsroom_runs (run_id, week, status, started, host, run) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
                "status = excluded.status, host = excluded.host, run = excluded.run",
                (
                    run["run_id"],
                    run["week"],
                    run["status"],
                    str(run.get("started", "")),
                    host,
                    json.dumps(run),
                ),
            )
            self.conn.execute("DELETE FROM newsroom_files WHERE run_id = %s", (run["run_id"],))
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO newsroom_files (run_id, name, content) VALUES (%s, %s, %s)",
                    [(run["run_id"], name, content) for name, content in files.items()],
                )
            self.conn.execute("DELETE FROM newsroom_spans WHERE run_id = %s", (run["run_id"],))
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO newsroom_spans (run_id, seq, span) VALUES (%s, %s, %s)",
                    [(run["run_id"], n, json.dumps(span)) for n, span in enumerate(spans)],
                )
            if published:
                self.conn.execute(
                    "UPDATE newsroom_runs SET published = nextval('newsroom_publish_order') "
                    "WHERE run_id = %s AND published IS NULL",
                    (run["run_id"],),
                )

    def latest(self, week: str) -> str | None:
        """The run whose edition of `week` was published last, whichever host wrote it."""
        with self._errors():
            row = self.conn.execute(
                "SELECT run_id FROM newsroom_runs WHERE week = %s AND published IS NOT NULL "
                "ORDER BY published DESC LIMIT 1",
                (week,),
            ).fetchone()
        return str(row[0]) if row else None

    def file(self, run_id: str, name: str) -> bytes | None:
        with self._errors():
            row = self.conn.execute(
                "SELECT content FROM newsroom_files WHERE run_id = %s AND name = %s",
                (run_id, name),
            ).fetchone()
        return bytes(row[0]) if row else None

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._errors():
            row = self.conn.execute(
                "SELECT run FROM newsroom_runs WHERE run_id = %s", (run_id,)
            ).fetchone()
        return dict(row[0]) if row else None

    def runs(self) -> list[dict[str, Any]]:
        with self._errors():
            rows = self.conn.execute("SELECT run FROM newsroom_runs ORDER BY started").fetchall()
        return [dict(r[0]) for r in rows]

    def spans(self, run_id: str) -> list[dict[str, Any]]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT span FROM newsroom_spans WHERE run_id = %s ORDER BY seq", (run_id,)
            ).fetchall()
        return [dict(r[0]) for r in rows]


def save_local_run(
    store: ResultsStore,
    run: Mapping[str, Any],
    published: bool,
    run_dir: Path,
    week_folder: Path,
    host: str,
) -> None:
    """Copy a finished run into the shared store: its record (`run.json`), its spans from
    `OUT/.newsroom/runs/RUN_ID/`, and its edition files from the week folder when it published
    them."""
    from newsroom.observability.store import read_spans

    outputs = {Path(p).name for k, p in run.get("outputs", {}).items() if k != "trace"}
    files: dict[str, bytes] = {}
    if published:
        for name in FILES:
            path = week_folder / name
            if (name in outputs or name.endswith(".json")) and path.is_file():
                files[name] = path.read_bytes()
    store.save_run(run, files, read_spans(run_dir / "trace.jsonl"), published, host)


class SharedVectorStore:
    """The embedding store in PostgreSQL (same contract as the SQLite one: exact float32
    vectors by content hash, older ones pruned once the table passes its size)."""

    def __init__(self, store: ResultsStore) -> None:
        from newsroom.methods import embeddings as emb

        self.store = store
        self.path = Path(redact(store.url))  # what warnings name
        self._dims = emb.DIMENSIONS
        self._today = emb.storage_day
        with store._errors():
            size = store.conn.execute(
                "SELECT pg_total_relation_size('newsroom_vectors')"
            ).fetchone()
            if size and int(size[0]) > emb.PRUNE_FROM:
                store.conn.execute(
                    "DELETE FROM newsroom_vectors WHERE day < %s",
                    (self._today() - emb.KEEP_DAYS,),
                )

    def get(self, keys: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        from newsroom.methods.embeddings import VectorStoreError

        found: dict[str, NDArray[np.float32]] = {}
        try:
            self.store._ready()
            for start in range(0, len(keys), 1000):
                rows = self.store.conn.execute(
                    "SELECT key, vector FROM newsroom_vectors WHERE key = ANY(%s)",
                    (list(keys[start : start + 1000]),),
                )
                for key, blob in rows:
                    if len(blob) == self._dims * 4:
                        found[key] = np.frombuffer(bytes(blob), dtype=np.float32)
        except Exception as exc:
            raise VectorStoreError(str(exc)) from exc
        return found

    def put(self, pairs: Iterable[tuple[str, NDArray[np.float32]]]) -> None:
        from newsroom.methods.embeddings import VectorStoreError

        day = self._today()
        rows = [(k, day, np.asarray(v, dtype=np.float32).tobytes()) for k, v in pairs]
        try:
            self.store._ready()
            with self.store.conn.transaction(), self.store.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO newsroom_vectors (key, day, vector) VALUES (%s, %s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET day = excluded.day",
                    rows,
                )
        except Exception as exc:
            raise VectorStoreError(str(exc)) from exc

    def close(self) -> None:
        """The connection is the results store's: closed with it."""


def otlp_json(spans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Span records as an OTLP/JSON `ExportTraceServiceRequest` (hex ids, nanosecond strings)."""

    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        if isinstance(v, list | tuple):
            return {"arrayValue": {"values": [value(x) for x in v]}}
        return {"stringValue": str(v)}

    def attributes(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"key": k, "value": value(v)} for k, v in attrs.items()]

    kinds = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
    codes = {"UNSET": 0, "OK": 1, "ERROR": 2}
    out = []
    for record in spans:
        span: dict[str, Any] = {
            "traceId": record["trace_id"],
            "spanId": record["span_id"],
            "name": record["name"],
            "kind": kinds.get(record.get("kind", "INTERNAL"), 1),
            "startTimeUnixNano": str(record["start_ns"]),
            "endTimeUnixNano": str(record["end_ns"]),
            "attributes": attributes(record.get("attributes", {})),
            "events": [
                {
                    "name": e["name"],
                    "timeUnixNano": str(e["timestamp_ns"]),
                    "attributes": attributes(e.get("attributes", {})),
                }
                for e in record.get("events", [])
            ],
            "status": {"code": codes.get(record.get("status", "UNSET"), 0)},
        }
        if record.get("parent_id"):
            span["parentSpanId"] = record["parent_id"]
        out.append(span)
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": attributes({"service.name": "newsroom"}),
                },
                "scopeSpans": [{"scope": {"name": "newsroom"}, "spans": out}],
            }
        ]
    }
