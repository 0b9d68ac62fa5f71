"""Dedup: items about the same event become one Story that keeps every source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datasketch import MinHash, MinHashLSH

from newsroom.agents._text import canonical_entity, entities, is_cjk, quantities
from newsroom.models import SourceItem, Story
from newsroom.tools.formats import canonical_url


class _Groups:
    """Union-find over item indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _shingles(text: str, n: int) -> set[str]:
    compact = "".join(text.lower().split())
    return {compact[i : i + n] for i in range(max(1, len(compact) - n + 1))}


def _minhash(text: str, n: int, perm: int) -> MinHash:
    """Character n-grams: `n` for Chinese text, `n + 3` for Latin text (letters carry less)."""
    digest = MinHash(num_perm=perm, seed=7)
    for shingle in _shingles(text, n if is_cjk(text) else n + 3):
        digest.update(shingle.encode())
    return digest


def numbers_agree(a: str, b: str) -> bool:
    """Two texts may describe one event unless, for some kind of number (money, percent,
    count...), both carry numbers of that kind and share none."""
    qa, qb = quantities(a), quantities(b)
    for kind in {q.kind for q in qa} & {q.kind for q in qb}:
        if not any(x.matches(y) for x in qa if x.kind == kind for y in qb if y.kind == kind):
            return False
    return True


def _entities_agree(a: str, b: str) -> bool:
    ea = {canonical_entity(e) for e in entities(a)}
    eb = {canonical_entity(e) for e in entities(b)}
    return bool(ea & eb)


def item_vectors(items: Sequence[SourceItem], embedder: Any) -> Any:
    """The sentence vectors the semantic pass compares: each item's title and summary."""
    return embedder.encode([f"{item.title} {item.summary}" for item in items])


class Deduplicator:
    """Canonical URL, then MinHash on character n-grams with a numbers check, then (given
    sentence vectors) semantic near-duplicates: embedding similarity at or above `semantic`
    (`cross_lingual` for a pair in two languages, whose similarities run lower), with a shared
    named entity and agreeing numbers."""

    def __init__(
        self,
        threshold: float = 0.3,
        ngram: int = 2,
        num_perm: int = 128,
        semantic: float = 0.7,
        cross_lingual: float = 0.65,
        block: int = 2048,
    ) -> None:
        self.threshold = threshold
        self.ngram = ngram
        self.num_perm = num_perm
        self.semantic = semantic
        self.cross_lingual = cross_lingual
        self.block = block

    def groups(self, items: Sequence[SourceItem], vectors: object = None) -> list[list[int]]:
        groups = _Groups(len(items))
        by_url: dict[str, int] = {}
        for i, item in enumerate(items):
            key = canonical_url(item.url)
            if key in by_url:
                groups.union(by_url[key], i)
            else:
                by_url[key] = i
        texts = [f"{item.title}\n{item.summary}" for item in items]
        lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        hashes = []
        for i, text in enumerate(texts):
            digest = _minhash(text, self.ngram, self.num_perm)
            hashes.append(digest)
            for j in lsh.query(digest):
                if digest.jaccard(hashes[j]) >= self.threshold and numbers_agree(
                    texts[i], texts[j]
                ):
                    groups.union(i, j)
            lsh.insert(i, digest)
        if self.semantic and vectors is not None:
            self._semantic(items, texts, vectors, groups)
        clusters: dict[int, list[int]] = {}
        for i in range(len(items)):
            clusters.setdefault(groups.find(i), []).append(i)
        return list(clusters.values())

    def _semantic(
        self, items: Sequence[SourceItem], texts: list[str], vectors: object, groups: _Groups
    ) -> None:
        import numpy as np

        matrix = np.asarray(vectors, dtype=np.float32)
        floor = min(self.semantic, self.cross_lingual)
        # Row blocks of the upper triangle: memory grows with block × N, not N × N; pairs come
        # in the same row-major order as from the whole matrix.
        for start in range(0, len(matrix), self.block):
            sims = matrix[start : start + self.block] @ matrix[start:].T
            for row, column in zip(*np.nonzero(sims >= floor), strict=True):
                i, j = start + int(row), start + int(column)
                if j <= i:
                    continue
                same_language = items[i].lang == items[j].lang
                if sims[row, column] < (self.semantic if same_language else self.cross_lingual):
                    continue
                if groups.find(i) == groups.find(j):
                    continue
                if _entities_agree(texts[i], texts[j]) and numbers_agree(texts[i], texts[j]):
                    groups.union(i, j)

    def stories(self, items: Sequence[SourceItem], vectors: object = None) -> list[Story]:
        out = []
        for members in self.groups(items, vectors):
            chosen = [items[i] for i in members]
            lead = max(
                chosen, key=lambda it: (it.lang == "zh", len(it.summary), -it.published.timestamp())
            )
            out.append(
                Story(
                    id=f"s-{lead.id}",
                    title=lead.title,
                    item_ids=[it.id for it in chosen],
                    outlets=list(dict.fromkeys(it.source for it in chosen)),
                    lang=lead.lang,
                    published=min(it.published for it in chosen),
                    category=next((it.category for it in chosen if it.category), None),
                )
            )
        out.sort(key=lambda story: (story.published, story.id))
        return out
