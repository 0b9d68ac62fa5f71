"""The run's SQLite checkpointer: each channel's value is written once per version.

LangGraph's own SQLite saver serializes the whole state at every step (every item of the week,
again and again) and sends each write through a worker thread. This one keeps, like the
PostgreSQL saver, a checkpoint row of channel versions and one blob per channel version: a step
writes only what it changed. Writes go through one `sqlite3` connection in WAL mode with
synchronous=NORMAL: each step's commit is in the log before the next step starts, so a killed
process loses nothing; only a power cut may lose the last steps (and `--resume` redoes them).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from newsroom import storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS run_checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    type TEXT,
    checkpoint BLOB,
    metadata BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE TABLE IF NOT EXISTS run_blobs (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    type TEXT NOT NULL,
    blob BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
);
CREATE TABLE IF NOT EXISTS run_writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    blob BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
"""


class SqliteCheckpointer(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on one SQLite file, storing channel values by version."""

    def __init__(self, conn: sqlite3.Connection, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = threading.Lock()
        # What put_writes serialized, by object: a node's update usually becomes the channel's
        # value as it is, and the checkpoint that follows then stores those bytes again
        # instead of serializing the week's items twice. Holding the object keeps its id
        # from being reused; the next checkpoint clears it.
        self._written: dict[int, tuple[Any, str, bytes | None]] = {}

    @classmethod
    def open(cls, path: Path, serde: SerializerProtocol | None = None) -> SqliteCheckpointer:
        conn = storage.connect(path)
        conn.executescript(SCHEMA)
        return cls(conn, serde)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ versions
    def get_next_version(self, current: str | None, channel: None) -> str:
        """`<counter>.<random>`: a fork from an older checkpoint never reuses a version."""
        number = 0 if current is None else int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.random():016}"

    # ------------------------------------------------------------ writing
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id = str(config["configurable"]["thread_id"])
        ns = str(config["configurable"].get("checkpoint_ns", ""))
        values = dict(checkpoint["channel_values"])
        inline = {k: v for k, v in values.items() if _inline(v)}
        blobs = [
            (thread_id, ns, channel, str(version), *self._dump(values, channel))
            for channel, version in new_versions.items()
            if channel not in inline
        ]
        row = {**checkpoint, "channel_values": inline}
        kind, data = self.serde.dumps_typed(row)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
        self._written.clear()
        with self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO run_blobs VALUES (?, ?, ?, ?, ?, ?)", blobs)
            conn.execute(
                "INSERT OR REPLACE INTO run_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    thread_id,
                    ns,
                    checkpoint["id"],
                    config["configurable"].get("checkpoint_id"),
                    kind,
                    data,
                    meta.encode("utf-8", "ignore"),
                ),
            )
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def _dump(self, values: dict[str, Any], channel: str) -> tuple[str, bytes | None]:
        if channel not in values:
            return "empty", None
        value = values[channel]
        written = self._written.get(id(value))
        if written is not None and written[0] is value:
            return written[1], written[2]
        return self.serde.dumps_typed(value)

    def _dump_write(self, value: Any) -> tuple[str, bytes | None]:
        kind, data = self.serde.dumps_typed(value)
        if not _inline(value):
            self._written[id(value)] = (value, kind, data)
        return kind, data

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id = str(config["configurable"]["thread_id"])
        ns = str(config["configurable"].get("checkpoint_ns", ""))
        checkpoint_id = str(config["configurable"]["checkpoint_id"])
        verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        rows = [
            (
                thread_id,
                ns,
                checkpoint_id,
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                *self._dump_write(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]
        with self._transaction() as conn:
            conn.executemany(
                f"INSERT OR {verb} INTO run_writes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def delete_thread(self, thread_id: str) -> None:
        with self._transaction() as conn:
            for table in ("run_checkpoints", "run_blobs", "run_writes"):
                conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (str(thread_id),))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock: committed whole, or rolled back."""
        with self.lock, storage.transaction(self.conn) as conn:
            yield conn

    # ------------------------------------------------------------ reading
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id = str(config["configurable"]["thread_id"])
        ns = str(config["configurable"].get("checkpoint_ns", ""))
        wanted = get_checkpoint_id(config)
        query = "SELECT * FROM run_checkpoints WHERE thread_id = ? AND checkpoint_ns = ?" + (
            " AND checkpoint_id = ?" if wanted else " ORDER BY checkpoint_id DESC LIMIT 1"
        )
        args = (thread_id, ns, wanted) if wanted else (thread_id, ns)
        with self.lock:
            row = self.conn.execute(query, args).fetchone()
            return self._tuple(row) if row else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        where, args = [], []
        if config is not None:
            where.append("thread_id = ?")
            args.append(str(config["configurable"]["thread_id"]))
            if "checkpoint_ns" in config["configurable"]:
                where.append("checkpoint_ns = ?")
                args.append(str(config["configurable"]["checkpoint_ns"]))
        if before is not None:
            where.append("checkpoint_id < ?")
            args.append(str(get_checkpoint_id(before)))
        query = "SELECT * FROM run_checkpoints"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY checkpoint_id DESC"
        with self.lock:
            rows = self.conn.execute(query, args).fetchall()
        count = 0
        for row in rows:
            if filter and not _matches(json.loads(row[6] or b"{}"), filter):
                continue
            with self.lock:
                found = self._tuple(row)
            yield found
            count += 1
            if limit is not None and count >= limit:
                return

    def _tuple(self, row: tuple[Any, ...]) -> CheckpointTuple:
        thread_id, ns, checkpoint_id, parent_id, kind, data, meta = row
        checkpoint = cast(Checkpoint, self.serde.loads_typed((kind, data)))
        values = dict(checkpoint.get("channel_values") or {})
        for channel, version in checkpoint["channel_versions"].items():
            if channel in values:
                continue
            blob = self.conn.execute(
                "SELECT type, blob FROM run_blobs WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND channel = ? AND version = ?",
                (thread_id, ns, channel, str(version)),
            ).fetchone()
            if blob is not None and blob[0] != "empty":
                values[channel] = self.serde.loads_typed((blob[0], blob[1]))
        writes = self.conn.execute(
            "SELECT task_id, channel, type, blob FROM run_writes WHERE thread_id = ? AND "
            "checkpoint_ns = ? AND checkpoint_id = ? ORDER BY task_id, idx",
            (thread_id, ns, checkpoint_id),
        ).fetchall()
        return CheckpointTuple(
            config={
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": checkpoint_id,
                }
            },
            checkpoint={**checkpoint, "channel_values": values},
            metadata=cast(CheckpointMetadata, json.loads(meta or b"{}")),
            parent_config=(
                {
                    "configurable": {
                        "thread_id": thread_id,
                        "checkpoint_ns": ns,
                        "checkpoint_id": parent_id,
                    }
                }
                if parent_id
                else None
            ),
            pending_writes=[
                (task, channel, self.serde.loads_typed((wkind, blob)))
                for task, channel, wkind, blob in writes
            ],
        )

    # ------------------------------------------------------------ async: the same, in the loop
    # Each call is one short local transaction; a thread hop would cost more than it saves.
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for found in self.list(config, filter=filter, before=before, limit=limit):
            yield found

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)


def _inline(value: Any) -> bool:
    """Scalars stay in the checkpoint row; everything else is a blob of its own."""
    return value is None or isinstance(value, str | int | float)


def _matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())
