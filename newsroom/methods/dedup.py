"""Dedup: items about the same event become one Story that keeps every source.

Every pair test is vectorized over arrays of candidate pairs, and each item's text is analysed
once (numbers, named entities, MinHash signature), so the cost grows with the number of candidate
pairs rather than with Python work per pair."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from newsroom.methods.text import canonical_entity, entities, is_cjk, quantities
from newsroom.models import SourceItem, Story
from newsroom.tools.formats import canonical_url

Pairs = tuple[NDArray[np.int64], NDArray[np.int64]]

_MAX_HASH = np.uint64((1 << 32) - 1)
_EMPTY = np.int64(-1)


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

    def roots(self) -> NDArray[np.int64]:
        return np.fromiter((self.find(i) for i in range(len(self.parent))), dtype=np.int64)


def _code(text: str) -> int:
    """A stable 63-bit code for a string (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def numbers_agree(a: str, b: str) -> bool:
    """Two texts may describe one event unless, for some kind of number (money, percent,
    count...), both carry numbers of that kind and share none."""
    qa, qb = quantities(a), quantities(b)
    for kind in {q.kind for q in qa} & {q.kind for q in qb}:
        if not any(x.matches(y) for x in qa if x.kind == kind for y in qb if y.kind == kind):
            return False
    return True


def entities_agree(a: str, b: str) -> bool:
    ea = {canonical_entity(e) for e in entities(a)}
    eb = {canonical_entity(e) for e in entities(b)}
    return bool(ea & eb)


def item_vectors(items: Sequence[SourceItem], embedder: Any) -> Any:
    """The sentence vectors the semantic pass compares: each item's title and summary."""
    return embedder.encode([f"{item.title} {item.summary}" for item in items])


def minhash_signatures(
    texts: Sequence[str], ngram: int, num_perm: int, seed: int = 7, chunk: int = 512
) -> NDArray[np.uint32]:
    """MinHash of character n-grams (`ngram` for Chinese text, `ngram + 3` for Latin text,
    whose letters carry less), all texts at once: one (len(texts), num_perm) array. The
    permutations are multiply-shift hashes of 32-bit n-gram hashes; a repeated n-gram changes
    no minimum, so the n-grams of a chunk of texts are hashed as one array."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    compact = ["".join(t.lower().split()) for t in texts]
    for n, wanted in ((ngram, True), (ngram + 3, False)):
        chosen = [i for i, t in enumerate(texts) if is_cjk(t) == wanted]
        for start in range(0, len(chosen), chunk):
            part = chosen[start : start + chunk]
            hashes, owner = _ngram_hashes([compact[i] for i in part], n)
            with np.errstate(over="ignore"):
                permuted = ((hashes[:, None] * a + b) >> np.uint64(32)).astype(np.uint32)
            firsts = np.flatnonzero(np.diff(owner, prepend=-1))
            out[part] = np.minimum.reduceat(permuted, firsts, axis=0)
    return out


def _ngram_hashes(texts: Sequence[str], n: int) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Hashes of every character n-gram of each text (a text shorter than n is one n-gram,
    padded), with the index of the text each came from, in order."""
    padded = [t + "\0" * (n - len(t)) if len(t) < n else t for t in texts]
    points = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.array([len(t) for t in padded], dtype=np.int64)
    owner_of_point = np.repeat(np.arange(len(texts)), lengths)
    windows = np.lib.stride_tricks.sliding_window_view(points, n)
    inside = owner_of_point[: len(windows)] == owner_of_point[n - 1 :]
    with np.errstate(over="ignore"):
        hashed = windows[inside] @ (
            np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, n + 1, dtype=np.uint64)
        )
        hashed ^= hashed >> np.uint64(29)
        hashed *= np.uint64(0xBF58476D1CE4E5B9)
        hashed ^= hashed >> np.uint64(32)
    return hashed & _MAX_HASH, owner_of_point[: len(windows)][inside]


@dataclass
class _Facts:
    """Each item's numbers and named entities as fixed-width code arrays, so that a batch of
    pairs is compared at once. An item with more than fits is marked and checked in Python."""

    numbers: NDArray[np.int64]  # (items, kinds, slots): value codes per number kind, -1 empty
    names: NDArray[np.int64]  # (items, slots): canonical entity codes, -1 empty
    overflow: NDArray[np.bool_]

    @classmethod
    def of(cls, texts: Sequence[str], number_slots: int = 4, name_slots: int = 12) -> _Facts:
        found = [quantities(t) for t in texts]
        kinds = sorted({q.kind for qs in found for q in qs})
        slot_of = {kind: k for k, kind in enumerate(kinds)}
        numbers = np.full((len(texts), max(len(kinds), 1), number_slots), _EMPTY)
        names = np.full((len(texts), name_slots), _EMPTY)
        overflow = np.zeros(len(texts), dtype=np.bool_)
        for i, (text, qs) in enumerate(zip(texts, found, strict=True)):
            filled = [0] * len(kinds)
            for q in qs:
                k = slot_of[q.kind]
                code = _code(f"{q.value:.9g}")
                if code in numbers[i, k, : filled[k]]:
                    continue
                if filled[k] == number_slots:
                    overflow[i] = True
                    break
                numbers[i, k, filled[k]] = code
                filled[k] += 1
            canonical = sorted({canonical_entity(e) for e in entities(text)})
            if len(canonical) > name_slots:
                overflow[i] = True
            for s, name in enumerate(canonical[:name_slots]):
                names[i, s] = _code(name)
        return cls(numbers, names, overflow)

    def numbers_agree(self, left: NDArray[np.int64], right: NDArray[np.int64]) -> NDArray[np.bool_]:
        a, b = self.numbers[left], self.numbers[right]
        both = (a != _EMPTY).any(axis=2) & (b != _EMPTY).any(axis=2)
        shared = ((a[:, :, :, None] == b[:, :, None, :]) & (a[:, :, :, None] != _EMPTY)).any(
            axis=(2, 3)
        )
        agree: NDArray[np.bool_] = (~both | shared).all(axis=1)
        return agree

    def names_shared(self, left: NDArray[np.int64], right: NDArray[np.int64]) -> NDArray[np.bool_]:
        a, b = self.names[left], self.names[right]
        shared: NDArray[np.bool_] = (
            (a[:, :, None] == b[:, None, :]) & (a[:, :, None] != _EMPTY)
        ).any(axis=(1, 2))
        return shared


# A band bucket this full holds items that merely share common n-grams (every text on one beat
# has "模型"): it says nothing about duplicates and would cost its size squared. Skipped.
MAX_BUCKET = 1000


def _bucket_pairs(
    order: NDArray[np.int64],
    starts: NDArray[np.int64],
    sizes: NDArray[np.int64],
    n: int,
    chunk: int,
) -> Iterator[NDArray[np.int64]]:
    """Every pair (as i * n + j, i < j) within each bucket, in pieces of about `chunk`."""
    for size in np.unique(sizes[(sizes > 1) & (sizes <= MAX_BUCKET)]).tolist():
        firsts = starts[sizes == size]
        i, j = np.triu_indices(size, 1)
        per_piece = max(1, chunk // len(i))
        for k in range(0, len(firsts), per_piece):
            # Buckets of one size at a time: a (buckets, size) array of members.
            members = np.sort(order[firsts[k : k + per_piece, None] + np.arange(size)], axis=1)
            yield (members[:, i] * n + members[:, j]).ravel()


def _lsh_pairs(
    signatures: NDArray[np.uint32],
    bands: int,
    rows: int,
    min_jaccard: float = 0.0,
    chunk: int = 1 << 18,
) -> Pairs:
    """Candidate pairs (i < j): items whose signatures agree on all rows of some band, and
    whose estimated Jaccard is at least `min_jaccard`. Each band's pairs are filtered as they
    come, so chance collisions on common n-grams never pile up in memory."""
    kept = []
    n = len(signatures)
    weights = np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, rows + 1, dtype=np.uint64)
    for band in range(bands):
        with np.errstate(over="ignore"):
            keys = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64) @ weights
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_keys)) + 1])
        sizes = np.diff(np.concatenate([starts, [n]]))
        for codes in _bucket_pairs(order, starts, sizes, n, chunk):
            if min_jaccard:
                i, j = codes // n, codes % n
                codes = codes[(signatures[i] == signatures[j]).mean(axis=1) >= min_jaccard]
            kept.append(codes)
        if sum(len(k) for k in kept) > chunk:
            kept = [np.unique(np.concatenate(kept))]
    if not kept:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    codes = np.unique(np.concatenate(kept))
    return codes // n, codes % n


def _mutual_nearest(
    left: NDArray[np.int64], right: NDArray[np.int64], similarity: NDArray[np.float32], k: int
) -> NDArray[np.bool_]:
    """For pairs (left, right) with their similarity: is each side among the other's k most
    similar partners (ties broken by the partner's index)?"""
    n = len(left)
    node = np.concatenate([left, right])
    partner = np.concatenate([right, left])
    order = np.lexsort((partner, -np.concatenate([similarity, similarity]), node))
    sorted_node = node[order]
    first = np.searchsorted(sorted_node, sorted_node, side="left")
    rank = np.empty(2 * n, dtype=np.int64)
    rank[order] = np.arange(2 * n) - first
    mutual: NDArray[np.bool_] = (rank[:n] < k) & (rank[n:] < k)
    return mutual


def _components(groups: _Groups, size: int) -> list[list[int]]:
    clusters: dict[int, list[int]] = {}
    for i in range(size):
        clusters.setdefault(groups.find(i), []).append(i)
    return list(clusters.values())


def _outlet_weights(chosen: Sequence[SourceItem]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in chosen:
        if item.weight != 1.0:
            weights[item.source] = max(weights.get(item.source, 0.0), item.weight)
    return weights


def _lead_key(item: SourceItem) -> tuple[bool, int, float]:
    """The item that leads a story: Chinese first, then the longest summary, then the earliest."""
    return (item.lang == "zh", len(item.summary), -item.published.timestamp())


def _leads(items: Sequence[SourceItem], roots: NDArray[np.int64]) -> NDArray[np.int64]:
    """The lead item of each group (groups given by each item's root), in order of root."""
    best: dict[int, int] = {}
    for i, root in enumerate(roots.tolist()):
        if root not in best or _lead_key(items[i]) > _lead_key(items[best[root]]):
            best[root] = i
    return np.array([best[r] for r in sorted(best)], dtype=np.int64)


class Deduplicator:
    """Canonical URL, then MinHash on character n-grams with a numbers check, then (given
    sentence vectors) semantic near-duplicates: embedding similarity at or above `semantic`
    (`cross_lingual` for a pair in two languages, whose similarities run lower), with a shared
    named entity and agreeing numbers.

    Groups are connected components, so one loose pair can chain two events together, and a
    week of tens of thousands of items holds many loose pairs. So every fuzzy pair must also be
    published within `max_gap_hours` of each other (the reports of one event come within a day
    or two); a MinHash pair below `confident` Jaccard needs its sentence vectors to agree
    (at `semantic`); a semantic pair in one language needs some shared wording (Jaccard at
    least `shared_wording`); and a semantic pair must be mutual nearest neighbours: each among
    the other's `neighbours` most similar qualifying items (a crowd of similar stories on one
    beat cannot chain together, the reports of one event can)."""

    def __init__(
        self,
        threshold: float = 0.3,
        ngram: int = 2,
        num_perm: int = 128,
        semantic: float = 0.75,
        cross_lingual: float = 0.65,
        block: int | None = None,
        bands: tuple[int, int] = (37, 3),
        pair_chunk: int = 1 << 18,
        max_gap_hours: float = 48.0,
        confident: float = 0.6,
        shared_wording: float = 0.1,
        neighbours: int = 2,
    ) -> None:
        self.threshold = threshold
        self.ngram = ngram
        self.num_perm = num_perm
        self.semantic = semantic
        self.cross_lingual = cross_lingual
        self.block = block
        self.bands = bands
        self.pair_chunk = pair_chunk
        self.max_gap_hours = max_gap_hours
        self.confident = confident
        self.shared_wording = shared_wording
        self.neighbours = neighbours

    def groups(self, items: Sequence[SourceItem], vectors: object = None) -> list[list[int]]:
        """Indexes of items, grouped by event. `vectors` is either the items' sentence vectors
        (rows in item order) or an embedder (anything with `encode(texts)`), which is then
        asked only for the texts that matter: one per group of near-identical items."""
        groups = _Groups(len(items))
        by_url: dict[str, int] = {}
        for i, item in enumerate(items):
            if not item.url.strip():
                continue  # no URL (an item quoted from a newsletter): nothing to merge by
            key = canonical_url(item.url)
            if key in by_url:
                groups.union(by_url[key], i)
            else:
                by_url[key] = i
        if len(items) < 2:
            return [[i] for i in range(len(items))]
        texts = [f"{item.title}\n{item.summary}" for item in items]
        facts = _Facts.of(texts)
        hours = np.array([item.published.timestamp() / 3600 for item in items])
        semantic = bool(self.semantic) and vectors is not None
        signatures = minhash_signatures(texts, self.ngram, self.num_perm)
        left, right = _lsh_pairs(signatures, *self.bands, min_jaccard=self.threshold)
        near = np.abs(hours[left] - hours[right]) <= self.max_gap_hours
        left, right = left[near], right[near]
        jaccard = np.concatenate(
            [
                (
                    signatures[left[k : k + self.pair_chunk]]
                    == signatures[right[k : k + self.pair_chunk]]
                ).mean(axis=1)
                for k in range(0, len(left), self.pair_chunk)
            ]
            or [np.zeros(0)]
        )
        if not semantic:
            self._join(groups, texts, facts, left, right, need_names=False)
            return _components(groups, len(items))
        # Confident wording merges at once. Looser wording, and similar sentence vectors, are
        # weighed between the groups so far, each represented by its lead item, and merge only
        # between mutual nearest neighbours.
        strong = jaccard >= self.confident
        self._join(groups, texts, facts, left[strong], right[strong], need_names=False)
        roots = groups.roots()
        leads = _leads(items, roots)
        lead_of = leads[np.searchsorted(roots[leads], roots)]  # each item's group lead
        if hasattr(vectors, "encode"):
            matrix = np.zeros((len(items), 512), dtype=np.float32)
            matrix[leads] = vectors.encode([f"{items[i].title} {items[i].summary}" for i in leads])
        else:
            matrix = np.asarray(vectors, dtype=np.float32)
        a, b = left[~strong], right[~strong]
        agree = self._agree(texts, facts, a, b, False)
        a, b = lead_of[a[agree]], lead_of[b[agree]]
        apart = a != b
        a, b = np.minimum(a[apart], b[apart]), np.maximum(a[apart], b[apart])
        similarity = np.einsum("ij,ij->i", matrix[a], matrix[b])
        weak = [
            (
                a[similarity >= self.semantic],
                b[similarity >= self.semantic],
                similarity[similarity >= self.semantic],
            )
        ]
        weak.extend(self._semantic(items, texts, facts, matrix, hours, signatures, leads))
        first_, second, score = (np.concatenate(parts) for parts in zip(*weak, strict=True))
        # A pair found by both passes counts once.
        _, once = np.unique(first_ * len(items) + second, return_index=True)
        first_, second, score = first_[once], second[once], score[once]
        mutual = _mutual_nearest(first_, second, score, self.neighbours)
        for x, y in zip(first_[mutual].tolist(), second[mutual].tolist(), strict=True):
            groups.union(x, y)
        return _components(groups, len(items))

    def _join(
        self,
        groups: _Groups,
        texts: list[str],
        facts: _Facts,
        i: NDArray[np.int64],
        j: NDArray[np.int64],
        need_names: bool,
    ) -> None:
        """Union the pairs whose numbers agree (and, if asked, that share a named entity)."""
        ok = self._agree(texts, facts, i, j, need_names)
        for a, b in zip(i[ok].tolist(), j[ok].tolist(), strict=True):
            groups.union(a, b)

    @staticmethod
    def _agree(
        texts: list[str],
        facts: _Facts,
        i: NDArray[np.int64],
        j: NDArray[np.int64],
        need_names: bool,
    ) -> NDArray[np.bool_]:
        ok = facts.numbers_agree(i, j)
        if need_names:
            ok &= facts.names_shared(i, j)
        for k in np.flatnonzero(facts.overflow[i] | facts.overflow[j]).tolist():
            a, b = texts[int(i[k])], texts[int(j[k])]
            ok[k] = numbers_agree(a, b) and (not need_names or entities_agree(a, b))
        return ok

    def _semantic(
        self,
        items: Sequence[SourceItem],
        texts: list[str],
        facts: _Facts,
        matrix: NDArray[np.float32],
        hours: NDArray[np.float64],
        signatures: NDArray[np.uint32],
        among: NDArray[np.int64],
    ) -> list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]]:
        """Pairs (i < j) of the items `among` whose sentence vectors are similar and that pass
        every check, with their similarity. The items are taken in time order, and each row
        block is compared only with the items published up to `max_gap_hours` after it."""
        order = among[np.argsort(hours[among], kind="stable")]
        times = hours[order]
        vectors = matrix[order]
        languages = {lang: k for k, lang in enumerate(sorted({item.lang for item in items}))}
        lang = np.array([languages[items[int(i)].lang] for i in order])
        floor = min(self.semantic, self.cross_lingual)
        n = len(order)
        # Row blocks of the upper triangle: memory grows with block × N, not N × N.
        block = self.block or max(64, min(2048, (1 << 26) // max(n, 1)))
        found = []
        for start in range(0, n, block):
            stop = int(
                np.searchsorted(
                    times, times[min(start + block, n) - 1] + self.max_gap_hours, side="right"
                )
            )
            sims = vectors[start : start + block] @ vectors[start:stop].T
            rows, columns = np.nonzero(sims >= floor)
            keep = columns > rows
            rows, columns = rows[keep], columns[keep]
            p, q = rows + start, columns + start
            same = lang[p] == lang[q]
            keep = sims[rows, columns] >= np.where(same, self.semantic, self.cross_lingual)
            keep &= np.abs(times[p] - times[q]) <= self.max_gap_hours
            rows, columns, same = rows[keep], columns[keep], same[keep]
            i, j = order[rows + start], order[columns + start]
            wording = (signatures[i] == signatures[j]).mean(axis=1)
            keep = ~same | (wording >= self.shared_wording)
            rows, columns, i, j = rows[keep], columns[keep], i[keep], j[keep]
            keep = self._agree(texts, facts, i, j, need_names=True)
            similarity = sims[rows[keep], columns[keep]]
            i, j = i[keep], j[keep]
            found.append((np.minimum(i, j), np.maximum(i, j), similarity))
        return found

    def stories(self, items: Sequence[SourceItem], vectors: object = None) -> list[Story]:
        out = []
        for members in self.groups(items, vectors):
            chosen = [items[i] for i in members]
            lead = max(chosen, key=_lead_key)
            out.append(
                Story(
                    id=f"s-{lead.id}",
                    title=lead.title,
                    # The lead first: it is the story's face (title, beat, bullet, headline).
                    item_ids=[lead.id, *(it.id for it in chosen if it is not lead)],
                    outlets=list(dict.fromkeys(it.source for it in chosen)),
                    lang=lead.lang,
                    published=min(it.published for it in chosen),
                    category=next((it.category for it in chosen if it.category), None),
                    outlet_weights=_outlet_weights(chosen),
                )
            )
        out.sort(key=lambda story: (story.published, story.id))
        return out
