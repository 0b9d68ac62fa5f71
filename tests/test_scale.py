"""The pieces that keep a week of tens of thousands of items fast, checked against the plain
definitions they replace, and the guards against chaining that a large week needs."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from newsroom.agents import Engine
from newsroom.agents.clusterer import OfflineClusterer
from newsroom.evaluation import b_cubed, dev_items, pair_scores
from newsroom.methods.dedup import (
    Deduplicator,
    _lsh_pairs,
    _mutual_nearest,
    item_vectors,
    minhash_signatures,
)
from newsroom.models import SourceItem

WHEN = datetime(2026, 2, 4, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def item(id: str, title: str, summary: str) -> SourceItem:
    return SourceItem(
        id=id, title=title, summary=summary, url=f"https://e.com/{id}", source="S", published=WHEN
    )


def _shingles(text: str, n: int) -> set[str]:
    compact = "".join(text.lower().split())
    return {compact[i : i + n] for i in range(max(1, len(compact) - n + 1))}


def test_minhash_estimates_jaccard_of_character_ngrams() -> None:
    rng = random.Random(3)
    alphabet = "模型发布融资芯片算力开源评测代理安全监管数据平台用户公司"
    texts = ["".join(rng.choice(alphabet) for _ in range(60)) for _ in range(6)]
    texts += [texts[0][:45] + "".join(rng.choice(alphabet) for _ in range(15)), texts[1]]
    signatures = minhash_signatures(texts, ngram=2, num_perm=256)
    assert signatures.shape == (8, 256)
    assert (signatures[1] == signatures[7]).all()  # the same text, the same signature
    for a, b in [(0, 6), (0, 1), (2, 3), (1, 7)]:
        exact = len(_shingles(texts[a], 2) & _shingles(texts[b], 2)) / len(
            _shingles(texts[a], 2) | _shingles(texts[b], 2)
        )
        estimate = float((signatures[a] == signatures[b]).mean())
        assert abs(estimate - exact) < 0.12, (a, b, exact, estimate)


def test_latin_text_uses_longer_ngrams_and_short_text_is_one_ngram() -> None:
    signatures = minhash_signatures(["ab", "ab", "OpenAI ships a model", "x"], 2, 64)
    assert (signatures[0] == signatures[1]).all()
    assert not (signatures[0] == signatures[3]).all()


def test_banded_pairs_are_exactly_the_rows_agreeing_on_some_band() -> None:
    rng = np.random.default_rng(5)
    signatures = rng.integers(0, 4, size=(60, 12), dtype=np.uint32)
    left, right = _lsh_pairs(signatures, bands=4, rows=3)
    found = set(zip(left.tolist(), right.tolist(), strict=True))
    expected = {
        (i, j)
        for i in range(60)
        for j in range(i + 1, 60)
        if any(
            (signatures[i, b * 3 : b * 3 + 3] == signatures[j, b * 3 : b * 3 + 3]).all()
            for b in range(4)
        )
    }
    assert found == expected and expected


def test_mutual_nearest_keeps_pairs_within_each_others_top_k() -> None:
    # 0's partners by similarity: 1 (.9), 2 (.8), 3 (.7); 3's only partner is 0.
    left = np.array([0, 0, 0, 1])
    right = np.array([1, 2, 3, 2])
    similarity = np.array([0.9, 0.8, 0.7, 0.85], dtype=np.float32)
    assert _mutual_nearest(left, right, similarity, 2).tolist() == [True, True, False, True]
    assert _mutual_nearest(left, right, similarity, 3).tolist() == [True, True, True, True]


def test_contingency_scores_equal_their_pairwise_definitions() -> None:
    rng = random.Random(11)
    truth = [rng.randrange(6) for _ in range(80)]
    predicted = [rng.randrange(5) for _ in range(80)]
    n = len(truth)
    same_true = {(i, j) for i in range(n) for j in range(i + 1, n) if truth[i] == truth[j]}
    same_pred = {(i, j) for i in range(n) for j in range(i + 1, n) if predicted[i] == predicted[j]}
    precision, recall = pair_scores(truth, predicted)
    assert precision == pytest.approx(len(same_true & same_pred) / len(same_pred))
    assert recall == pytest.approx(len(same_true & same_pred) / len(same_true))
    bp = (
        sum(
            sum(1 for j in range(n) if predicted[j] == predicted[i] and truth[j] == truth[i])
            / predicted.count(predicted[i])
            for i in range(n)
        )
        / n
    )
    assert b_cubed(truth, predicted)[0] == pytest.approx(bp)


def _spread(items: list[SourceItem], hours: float) -> list[SourceItem]:
    return [
        it.model_copy(update={"published": WHEN + timedelta(hours=hours * k)})
        for k, it in enumerate(items)
    ]


def test_reports_days_apart_are_not_merged_by_wording() -> None:
    text = "OpenAI发布面向企业的智能体管理平台Frontier，支持统一的身份与权限管理"
    near = [item("a", "OpenAI发布Frontier", text), item("b", "OpenAI发布Frontier", text + "。")]
    assert len(Deduplicator(semantic=0).groups(_spread(near, 20))) == 1
    assert len(Deduplicator(semantic=0).groups(_spread(near, 72))) == 2


def test_a_crowd_of_similar_reports_does_not_chain_into_one_story() -> None:
    """Five reports on one beat, each a little similar to the next (a chain of loose pairs,
    all with a shared entity and no clashing numbers): single linkage would make them one story;
    only mutual nearest neighbours may merge."""
    items = [
        item(f"r{k}", f"OpenAI动态{k}", f"OpenAI相关消息第{k}条，涉及不同的产品线与合作方{k * 7}")
        for k in range(5)
    ]
    # Unit vectors along a curve: each is closest to its neighbours on the curve.
    angles = np.array([0.0, 0.55, 1.1, 1.65, 2.2])
    vectors = np.stack([np.cos(angles), np.sin(angles), np.full(5, 0.9)], axis=1)
    vectors = np.hstack([vectors, np.zeros((5, 509))]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = vectors @ vectors.T
    assert (sims[np.arange(4), np.arange(1, 5)] >= 0.7).all()  # every neighbour pair qualifies
    groups = Deduplicator(shared_wording=0.0).groups(items, vectors)
    assert max(len(g) for g in groups) < 5


def test_large_week_path_clusters_the_dev_week(engine: Engine, dev_dir: Any) -> None:
    """The large-week path (Ward on a sample, the rest by their nearest sampled stories), run
    on the dev week by lowering its threshold. With the whole week as its sample it is the exact
    path; with most of it, every story still gets a theme and the beats are still found."""
    items, rows = dev_items(dev_dir / "items.jsonl")
    by_id = {i.id: i for i in items}
    stories = engine.deduplicator.stories(items, item_vectors(items, engine.embedder))
    story_of = {i: s.id for s in stories for i in s.item_ids}
    truth = [row["theme"] for row in rows]

    def f1(clusterer: OfflineClusterer) -> float:
        themes = clusterer.build_themes(stories, by_id)
        assert 4 <= len(themes) <= 8
        theme_of = {sid: t.id for t in themes for sid in t.story_ids}
        assert sorted(theme_of) == sorted(s.id for s in stories)  # one theme each
        return b_cubed(truth, [theme_of[story_of[i.id]] for i in items])[2]

    # The text clustering alone (the labels are topics, not the desk's beats).
    exact = f1(OfflineClusterer(engine.embedder, by_beat=False))
    large = OfflineClusterer(engine.embedder, full_text_limit=10, sample=1000, by_beat=False)
    assert f1(large) == exact
    sampled = OfflineClusterer(engine.embedder, full_text_limit=10, sample=40, by_beat=False)
    assert f1(sampled) >= 0.5


def test_pooled_embedding_equals_one_process() -> None:
    """A large batch is shared among worker processes; the vectors are the same."""
    from newsroom.methods.embeddings import Embedder

    texts = [f"第{k}条：模型与算力的新消息，编号{k * 13}" for k in range(24)]
    pooled = Embedder(workers=2, pool_from=10).encode(texts)
    alone = Embedder(workers=1).encode(texts)
    assert pooled.shape == (24, 512)
    assert np.abs(pooled - alone).max() < 1e-4
