"""The clusterer: stories → 4-8 ranked, named themes (offline: embeddings, agglomerative
clustering chosen by silhouette, c-TF-IDF keywords over jieba tokens, most central headline)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from newsroom.agents._text import tokens
from newsroom.agents.embeddings import Embedder, Vectors
from newsroom.models import SourceItem, Story, Theme


def story_text(story: Story, items: Mapping[str, SourceItem]) -> str:
    """The lead item's title, summary and body: the text a story is clustered by."""
    lead = next((items[i] for i in story.item_ids if items[i].title == story.title), None)
    lead = lead or items[story.item_ids[0]]
    return f"{lead.title}。{lead.summary}\n{lead.body}"


def tfidf_vectors(docs: Sequence[list[str]]) -> np.ndarray:
    """Sublinear TF-IDF rows (unit length) over terms that occur in two or more docs."""
    frequency = Counter(term for doc in docs for term in set(doc))
    vocabulary = {t: i for i, t in enumerate(sorted(t for t, n in frequency.items() if n >= 2))}
    matrix = np.zeros((len(docs), max(len(vocabulary), 1)), dtype=np.float32)
    for row, doc in enumerate(docs):
        for term, count in Counter(doc).items():
            if term in vocabulary:
                idf = math.log((1 + len(docs)) / (1 + frequency[term]))
                matrix[row, vocabulary[term]] = (1 + math.log(count)) * idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = matrix / np.maximum(norms, 1e-12)
    return unit


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient over a precomputed distance matrix."""
    if len(set(labels.tolist())) < 2:
        return 0.0
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


# Words every AI news story uses: they name no theme.
NAMING_STOP = frozenset(
    "ai 人工智能 发布 推出 完成 公司 宣布 正式 能力 提供 支持 用户 "
    "称 相关 进行 实现 通过 可以 领域 技术 产品 服务 新 成为 "
    "方式 面向 目前 近期 此次 本轮 计划 ".split()
)


def c_tf_idf(docs: Sequence[list[str]], top: int = 5) -> list[list[tuple[str, float]]]:
    """Class-based TF-IDF: each doc is the concatenated tokens of one cluster."""
    counts = [Counter(t for t in doc if t not in NAMING_STOP) for doc in docs]
    total = Counter[str]()
    for count in counts:
        total.update(count)
    average = sum(total.values()) / max(len(docs), 1)
    ranked = []
    for count in counts:
        size = max(sum(count.values()), 1)
        scores = {
            term: (n / size) * math.log(1 + average / total[term])
            for term, n in count.items()
            if n >= 2 or len(count) < 8
        }
        ranked.append(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
    return ranked


def borrow_lexical(
    lexical: np.ndarray, semantic: np.ndarray, langs: Sequence[str], neighbours: int = 3
) -> np.ndarray:
    """Words only match within a language: a story in a minority language takes the mean word
    profile of its semantically nearest stories in the main language, so that it clusters by
    topic, not by language."""
    main = Counter(langs).most_common(1)[0][0] if langs else ""
    peers = [j for j, lang in enumerate(langs) if lang == main]
    if not peers or len(peers) == len(langs):
        return lexical
    out = lexical.copy()
    for i, lang in enumerate(langs):
        if lang == main:
            continue
        nearest = sorted(peers, key=lambda j: -float(semantic[i] @ semantic[j]))[:neighbours]
        profile = lexical[nearest].mean(axis=0)
        out[i] = profile / max(float(np.linalg.norm(profile)), 1e-12)
    return out


class OfflineClusterer:
    """Real clustering without a model endpoint."""

    def __init__(
        self,
        embedder: Embedder,
        min_themes: int = 4,
        max_themes: int = 8,
        min_size: int = 2,
        lexical_weight: float = 0.5,
    ) -> None:
        self.embedder = embedder
        self.min_themes = min_themes
        self.max_themes = max_themes
        self.min_size = min_size
        self.lexical_weight = lexical_weight

    def vectors(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> Vectors:
        """Sentence embeddings joined with TF-IDF token vectors, weighted, unit length."""
        texts = [story_text(s, items) for s in stories]
        semantic = self.embedder.encode(texts)
        if not self.lexical_weight:
            return semantic
        lexical = borrow_lexical(
            tfidf_vectors([tokens(t) for t in texts]), semantic, [s.lang for s in stories]
        )
        joined = np.hstack(
            [
                math.sqrt(1 - self.lexical_weight) * semantic,
                math.sqrt(self.lexical_weight) * lexical,
            ]
        )
        norms = np.linalg.norm(joined, axis=1, keepdims=True)
        unit: Vectors = (joined / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

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
            return self._absorb_small(
                fcluster(tree, self.min_themes, criterion="maxclust") - 1, vectors
            )
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

    async def themes(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> list[Theme]:
        return self.build_themes(stories, items)

    def build_themes(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> list[Theme]:
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
            # The headline in the edition's main language, when the theme has one.
            languages = Counter(s.lang for s in stories)
            main_language = languages.most_common(1)[0][0]
            preference = centrality + np.array(
                [0.0 if stories[i].lang == main_language else -1.0 for i in index]
            )
            central = stories[index[int(np.argmax(preference))]]
            words = [display.get(term, term) for term, _ in ranked]
            members = [stories[i] for i in index]
            members.sort(key=lambda s: -float(vectors[stories.index(s)] @ centroid))
            out.append(
                Theme(
                    id=f"t{group}",
                    name="、".join(words[:3]),
                    keywords=words,
                    headline=central.title,
                    story_ids=[s.id for s in members],
                    weight=sum(s.weight for s in members),
                    cohesion=round(
                        float(centrality.mean() / max(np.linalg.norm(centroid), 1e-12)), 4
                    ),
                )
            )
        out.sort(key=lambda t: (-t.weight, -len(t.story_ids), t.id))
        for rank, theme in enumerate(out, start=1):
            theme.id = f"theme-{rank}"
        return out


def _display_forms(items: Iterable[SourceItem]) -> dict[str, str]:
    """Lower-case token → the spelling sources use most (`openai` → `OpenAI`)."""
    import jieba

    from newsroom.agents._text import _tokenizer

    _tokenizer()
    seen: dict[str, Counter[str]] = {}
    for item in items:
        for word in jieba.lcut(f"{item.title} {item.summary}"):
            seen.setdefault(word.lower(), Counter())[word] += 1
    return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}
