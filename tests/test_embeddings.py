"""The embedding store: vectors kept on disk by content hash, shared by runs and processes."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from newsroom.agents import offline_engine
from newsroom.methods.embeddings import Embedder, VectorStore, content_key
from newsroom.runner import RunOptions, embeddings_path, run_week


def fresh_texts(n: int) -> list[str]:
    """Texts no embedder of this session has seen."""
    tag = uuid.uuid4().hex[:8]
    return [f"第{k}条（{tag}）：开源模型与算力的新消息" for k in range(n)]


def test_a_second_embedder_reads_the_stored_vectors_exactly(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = tmp_path / "embeddings.sqlite"
    texts = fresh_texts(5)
    embedder.attach(store)
    first = embedder.encode([*texts, texts[0]])  # a repeated text is embedded once
    assert first.shape == (6, 512)

    other = Embedder(workers=1)
    other.attach(store)
    again = other.encode(texts)
    assert other._model is None  # nothing was embedded: every vector came from the store
    assert other.stored == 5
    assert np.array_equal(again, first[:5])  # float32 exactly, so runs cluster the same
    rows = sqlite3.connect(store).execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert rows >= 5


def test_vectors_of_another_size_are_embedded_again(embedder: Embedder, tmp_path: Path) -> None:
    store = tmp_path / "embeddings.sqlite"
    texts = fresh_texts(2)
    VectorStore(store).put([(content_key(texts[0]), np.zeros(3, dtype=np.float32))])
    embedder.attach(store)
    vectors = embedder.encode(texts)
    assert vectors.shape == (2, 512)
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5


def test_a_file_that_is_not_a_store_is_warned_about_and_left_alone(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = tmp_path / "embeddings.sqlite"
    store.write_bytes(b"this is not a database, and it stays as it is" * 100)
    before = store.read_bytes()
    with pytest.warns(RuntimeWarning, match="embedding store .* not used"):
        embedder.attach(store)
    assert embedder.store is None
    assert embedder.encode(fresh_texts(2)).shape == (2, 512)
    assert store.read_bytes() == before


def test_a_second_run_embeds_nothing(samples: Path, tmp_path: Path) -> None:
    """A re-run in the same folder (or another worker sharing it) reads every vector it needs
    from the store; the first run's model is never loaded."""
    out = tmp_path / "out"
    first = offline_engine(Embedder(workers=1))
    summary = asyncio.run(run_week(RunOptions("2026-W06", samples, out), first))
    assert summary.status == "ok"
    assert embeddings_path(out).exists()
    report = out / "2026-W06" / "weekly.md"
    headings = [
        line
        for line in report.read_text(encoding="utf-8").splitlines()
        if line.startswith("### 主轴")
    ]
    assert len(headings) >= 4

    second = offline_engine(Embedder(workers=1))
    again = asyncio.run(run_week(RunOptions("2026-W06", samples, out, force=True), second))
    assert again.status == "ok"
    assert second.embedder._model is None
    assert second.embedder.stored > 0
    vectors = ("vectors_computed", "vectors_stored")
    assert {k: v for k, v in again.counts.items() if k not in vectors} == {
        k: v for k, v in summary.counts.items() if k not in vectors
    }
    assert summary.counts["vectors_computed"] > 0 and summary.counts["vectors_stored"] == 0
    assert again.counts["vectors_computed"] == 0 and again.counts["vectors_stored"] > 0
    lines = report.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("### 主轴")] == headings  # the same themes


def test_a_large_store_drops_old_vectors_once_a_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsroom.methods import embeddings

    path = tmp_path / "embeddings.sqlite"
    store = VectorStore(path)
    vector = np.ones(512, dtype=np.float32)
    store.put([("recent", vector)])
    today = embeddings.storage_day()
    store.conn.execute(
        "INSERT INTO vectors VALUES ('old', ?, ?)",
        (today - embeddings.KEEP_DAYS - 1, vector.tobytes()),
    )
    store.close()
    monkeypatch.setattr(embeddings, "PRUNE_FROM", 0)  # every store counts as large
    pruned = VectorStore(path)
    assert sorted(pruned.get(["recent", "old"])) == ["recent"]
    pruned.conn.execute(
        "INSERT INTO vectors VALUES ('old', ?, ?)",
        (today - embeddings.KEEP_DAYS - 1, vector.tobytes()),
    )
    pruned.close()
    assert sorted(VectorStore(path).get(["recent", "old"])) == ["old", "recent"]  # not today
