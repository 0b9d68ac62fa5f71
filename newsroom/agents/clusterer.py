"""The clusterer: stories → 4-8 ranked, named themes (offline: embeddings, agglomerative
clustering chosen by silhouette, c-TF-IDF keywords over jieba tokens, most central headline)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from newsroom.agents._text import tokens
from newsroom.agents.embeddings import Embedder, Vectors
from newsroom.models import SourceItem, Story, Theme


def story_text(story: Story, items: Mapping[str, SourceItem]) -> str:
    lead = next((items[i] for i in story.item_ids if items[i].title == story.title), None)
    lead = lead or items[story.item_ids[0]]
    return f"{lead.title}。{lead.summary}"


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient over a precomputed distance matrix."""
    scores = []
    for i in range(len(labels)):
        same = labels == labels[i]
        if same.sum() <= 1:
            scores.append(0.0)
            continue
        a = distances[i, same].sum() / (same.sum() - 1)
        b = min(distances[i, labels == other].mean() for other in set(labels) if other != labels[i])
        scores.append((b - a) / max(a, b, 1e-12))
    return float(np.mean(scores)) if scores else 0.0


def c_tf_idf(docs: Sequence[list[str]], top: int = 5) -> list[list[tuple[str, float]]]:
    """Class-based TF-IDF: each doc is the concatenated tokens of one cluster."""
    counts = [Counter(doc) for doc in docs]
    total = Counter[str]()
    for count in counts:
        total.update(count)
    average = sum(total.values()) / max(len(docs), 1)
    ranked = []
    for count in counts:
        size = max(sum(count.values()), 1)
        scores = {
            term: (n / size) * math.log(1 + average / total[term])
            for term, n in count.items() if n >= 2 or len(count) < 8
        }
        ranked.append(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
    return ranked


class OfflineClusterer:
    """Real clustering without a model endpoint."""

    def __init__(
        self, embedder: Embedder, min_themes: int = 4, max_themes: int = 8, min_size: int = 2
    ) -> None:
        self.embedder = embedder
        self.min_themes = min_themes
        self.max_themes = max_themes
        self.min_size = min_size

    def vectors(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> Vectors:
        return self.embedder.encode([story_text(s, items) for s in stories])

    def assign(self, vectors: Vectors) -> np.ndarray:
        """Cluster labels 0..k-1, k in [min_themes, max_themes] chosen by silhouette."""
        from scipy.cluster.hierarchy import fcluster, linkage

        n = len(vectors)
        if n <= self.min_themes:
            return np.arange(n)
        distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
        np.fill_diagonal(distances, 0.0)
        # Ward on unit vectors: squared Euclidean distance is 2 - 2·cosine.
        tree = linkage(vectors.astype(np.float64), method="ward")
        best: tuple[float, np.ndarray] | None = None
        for k in range(self.min_themes, min(self.max_themes, n - 1) + 1):
            labels = self._absorb_small(fcluster(tree, k, criterion="maxclust") - 1, vectors)
            if len(set(labels)) < self.min_themes:
                continue
            score = silhouette(distances, labels)
            if best is None or score > best[0] + 1e-9:
                best = (score, labels)
        if best is None:
            return self._absorb_small(fcluster(tree, self.min_themes, criterion="maxclust") - 1,
                                      vectors)
        return best[1]

    def _absorb_small(self, labels: np.ndarray, vectors: Vectors) -> np.ndarray:
        """Stories in clusters below `min_size` join the nearest larger cluster's centroid."""
        labels = labels.copy()
        sizes = Counter(labels.tolist())
        large = [c for c, size in sizes.items() if size >= self.min_size]
        if not large:
            return labels
        centroids = {c: vectors[labels == c].mean(axis=0) for c in large}
        for i, label in enumerate(labels):
            if sizes[int(label)] < self.min_size:
                labels[i] = max(large, key=lambda c: float(vectors[i] @ centroids[c]))
        remap = {c: i for i, c in enumerate(sorted(set(labels.tolist())))}
        return np.array([remap[int(c)] for c in labels])

    def themes(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> list[Theme]:
        if not stories:
            return []
        vectors = self.vectors(stories, items)
        labels = self.assign(vectors)
        groups = sorted(set(labels.tolist()))
        docs = []
        for group in groups:
            members = [s for s, label in zip(stories, labels, strict=True) if label == group]
            docs.append([t for s in members for t in tokens(story_text(s, items))])
        keywords = c_tf_idf(docs)
        display = _display_forms(items.values())
        out = []
        for group, ranked in zip(groups, keywords, strict=True):
            index = [i for i, label in enumerate(labels) if label == group]
            centroid = vectors[index].mean(axis=0)
            centrality = vectors[index] @ centroid
            central = stories[index[int(np.argmax(centrality))]]
            words = [display.get(term, term) for term, _ in ranked]
            members = [stories[i] for i in index]
            members.sort(key=lambda s: -float(vectors[stories.index(s)] @ centroid))
            out.append(Theme(
                id=f"t{group}",
                name="、".join(words[:3]),
                keywords=words,
                headline=central.title,
                story_ids=[s.id for s in members],
                weight=sum(s.weight for s in members),
                cohesion=round(float(centrality.mean() / max(np.linalg.norm(centroid), 1e-12)), 4),
            ))
        out.sort(key=lambda t: (-t.weight, -len(t.story_ids), t.id))
        for rank, theme in enumerate(out, start=1):
            theme.id = f"theme-{rank}"
        return out


def _display_forms(items: object) -> dict[str, str]:
    """Lower-case token → the spelling sources use most (`openai` → `OpenAI`)."""
    import jieba

    from newsroom.agents._text import _tokenizer

    _tokenizer()
    seen: dict[str, Counter[str]] = {}
    for item in items:  # type: ignore[attr-defined]
        for word in jieba.lcut(f"{item.title} {item.summary}"):
            seen.setdefault(word.lower(), Counter())[word] += 1
    return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}
