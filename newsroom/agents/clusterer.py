"""The clusterer: stories → 4-8 ranked, named themes.

With a desk (the default), it judges like an editor: every story gets a beat (zero-shot from the
desk profile) and an importance score; the themes are the week's strongest beats, each led by its
most important story and named after it (who did what). Without a desk, or on request, it
clusters: embeddings, agglomerative clustering chosen by silhouette, c-TF-IDF keywords over
jieba tokens, the most central headline."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from newsroom.agents.incremental import Base, Placement, place
from newsroom.methods.desk import Desk, anchors, default_desk, name_words
from newsroom.methods.embeddings import Embedder, Vectors
from newsroom.methods.headlines import headline
from newsroom.methods.text import sentences, tokens
from newsroom.models import SourceItem, Story, Theme

# Above this many stories a week is "large": stories are embedded by title and summary only.
FULL_TEXT_LIMIT = 3000


def story_lead(story: Story, items: Mapping[str, SourceItem]) -> SourceItem:
    lead = next((items[i] for i in story.item_ids if items[i].title == story.title), None)
    return lead or items[story.item_ids[0]]


def story_text(story: Story, items: Mapping[str, SourceItem]) -> str:
    """The lead item's title, summary and body: the text a story is clustered by."""
    lead = story_lead(story, items)
    return f"{lead.title}。{lead.summary}\n{lead.body}"


def story_vectors(
    stories: Sequence[Story], items: Mapping[str, SourceItem], embedder: Embedder, full_text: bool
) -> Vectors:
    """Sentence vectors of stories: of their whole text (title, summary, body) when
    `full_text`; otherwise of the lead's title and summary, the vectors dedup already computed
    (an embedding cache hit), which is what makes a week of tens of thousands of stories cheap."""
    if full_text:
        return embedder.encode([story_text(s, items) for s in stories])
    leads = [story_lead(s, items) for s in stories]
    return embedder.encode([f"{lead.title} {lead.summary}" for lead in leads])


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
    others = [i for i, lang in enumerate(langs) if lang != main]
    peer_index = np.array(peers)
    count = min(neighbours, len(peers))
    for start in range(0, len(others), 512):
        rows = others[start : start + 512]
        sims = semantic[rows] @ semantic[peer_index].T
        if len(peers) <= 20_000:
            # Nearest first, ties to the earlier story (what a stable sort gives).
            top = np.argsort(-sims, axis=1, kind="stable")[:, :count]
        else:
            top = np.argpartition(-sims, count - 1, axis=1)[:, :count]
        for row, nearest in zip(rows, peer_index[top], strict=True):
            profile = lexical[nearest].mean(axis=0)
            out[row] = profile / max(float(np.linalg.norm(profile)), 1e-12)
    return out


def sparse_tfidf(docs: Sequence[list[str]]) -> Any:
    """The rows of `tfidf_vectors`, held sparse (CSR): a week of tens of thousands of stories
    has too many terms for a dense matrix."""
    from scipy.sparse import csr_matrix

    frequency = Counter(term for doc in docs for term in set(doc))
    vocabulary = {t: i for i, t in enumerate(sorted(t for t, n in frequency.items() if n >= 2))}
    rows, columns, values = [], [], []
    for row, doc in enumerate(docs):
        for term, count in Counter(doc).items():
            if term in vocabulary:
                rows.append(row)
                columns.append(vocabulary[term])
                idf = math.log((1 + len(docs)) / (1 + frequency[term]))
                values.append((1 + math.log(count)) * idf)
    matrix = csr_matrix(
        (np.array(values, dtype=np.float32), (rows, columns)),
        shape=(len(docs), max(len(vocabulary), 1)),
    )
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = 1.0 / np.maximum(norms, 1e-12)
    return csr_matrix(matrix.multiply(scale[:, None]))


class OfflineClusterer:
    """Real clustering without a model endpoint.

    Up to `full_text_limit` stories, every story is embedded by its whole text and Ward's
    method runs over all of them. Above it (a week of tens of thousands of items), the same
    method runs on a seeded sample of `sample` stories, and every other story takes the theme
    its `neighbours` most similar sampled stories vote for, similarity being the same blend of
    sentence vectors (of title and summary: the vectors dedup already computed) and TF-IDF
    (sparse, over the whole week's vocabulary)."""

    def __init__(
        self,
        embedder: Embedder,
        min_themes: int = 4,
        max_themes: int = 8,
        min_size: int = 2,
        lexical_weight: float = 0.5,
        full_text_limit: int = FULL_TEXT_LIMIT,
        sample: int = 1000,
        neighbours: int = 7,
        desk: Desk | None = None,
        by_beat: bool = True,
        beat_weight: float = 0.3,
        coverage_similarity: float = 0.6,
        repeat_similarity: float = 0.7,
        repeat_anchored: float = 0.45,
    ) -> None:
        self.embedder = embedder
        self.min_themes = min_themes
        self.max_themes = max_themes
        self.min_size = min_size
        self.lexical_weight = lexical_weight
        self.full_text_limit = full_text_limit
        self.sample = sample
        self.neighbours = neighbours
        self.desk = desk or default_desk()
        # Themes from the desk's beats (an editor's grouping) or from clustering alone.
        self.by_beat = by_beat
        # How much a story's beat weighs beside its text when stories are clustered.
        self.beat_weight = beat_weight
        self.coverage_similarity = coverage_similarity
        # Two stories tell one event at this similarity, or at `repeat_anchored` with a shared
        # rare name (see `mark_repeats`).
        self.repeat_similarity = repeat_similarity
        self.repeat_anchored = repeat_anchored

    def large(self, stories: Sequence[Story]) -> bool:
        return len(stories) > self.full_text_limit

    def vectors(
        self,
        stories: Sequence[Story],
        items: Mapping[str, SourceItem],
        docs: Sequence[list[str]] | None = None,
    ) -> Vectors:
        """Sentence embeddings of the whole text joined with TF-IDF token vectors, weighted,
        unit length."""
        semantic = story_vectors(stories, items, self.embedder, full_text=True)
        if not self.lexical_weight:
            return semantic
        if docs is None:
            docs = [tokens(story_text(s, items)) for s in stories]
        lexical = borrow_lexical(tfidf_vectors(docs), semantic, [s.lang for s in stories])
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
        return self._assign_exact(vectors)

    def space(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> tuple[Vectors, list[list[str]]]:
        """The vectors stories are compared and themes' centrality measured in, and each story's
        tokens (the words themes are named by). A large week: sentence vectors of the leads'
        title and summary, and their tokens; otherwise `vectors` of the whole text."""
        if self.large(stories):
            leads = [story_lead(s, items) for s in stories]
            docs = [tokens(f"{lead.title}。{lead.summary}") for lead in leads]
            return story_vectors(stories, items, self.embedder, full_text=False), docs
        docs = [tokens(story_text(s, items)) for s in stories]
        return self.vectors(stories, items, docs), docs

    def _large(
        self,
        stories: Sequence[Story],
        items: Mapping[str, SourceItem],
        semantic: Vectors,
        docs: Sequence[list[str]],
    ) -> np.ndarray:
        """Labels for a large week: Ward's method on a seeded sample, then neighbours' votes."""
        rng = np.random.default_rng(7)
        size = min(self.sample, len(stories))
        chosen = np.sort(rng.choice(len(stories), size=size, replace=False))
        sampled = [stories[i] for i in chosen]
        sample_labels = self.assign(
            self.vectors(sampled, items, [tokens(story_text(s, items)) for s in sampled])
        )
        lexical = sparse_tfidf(docs)
        sample_semantic, sample_lexical = semantic[chosen], lexical[chosen].T.tocsc()
        groups = int(sample_labels.max()) + 1
        labels = np.empty(len(stories), dtype=np.int64)
        count = min(self.neighbours, size)
        w = self.lexical_weight
        for start in range(0, len(stories), 4096):
            stop = min(start + 4096, len(stories))
            sims = (1 - w) * (semantic[start:stop] @ sample_semantic.T)
            sims += w * (lexical[start:stop] @ sample_lexical).toarray()
            nearest = np.argpartition(-sims, count - 1, axis=1)[:, :count]
            votes = np.zeros((stop - start, groups))
            rows = np.arange(stop - start)[:, None]
            np.add.at(votes, (rows, sample_labels[nearest]), np.maximum(sims[rows, nearest], 0))
            labels[start:stop] = np.argmax(votes, axis=1)
        labels[chosen] = sample_labels
        return labels

    def _assign_exact(self, vectors: Vectors) -> np.ndarray:
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

    async def update(
        self, base: Base, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> Placement:
        """The themes of `base` updated for the week's stories now (see `incremental`)."""
        return place(self, base, stories, items)

    def judge(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> list[Story]:
        """Each story with its beat and importance (see `Desk.importance`)."""
        if not stories:
            return []
        beats = self.desk.assign_beats(stories, items, self.embedder)
        start = min(s.published for s in stories)
        end = max(s.published for s in stories)
        large = self.large(stories)
        echoes = _echoes(stories, items, self.desk) if not large else [(0, False)] * len(stories)
        covered = self._coverage(stories, items) if not large else [0] * len(stories)
        judged: list[Story] = []
        for story, (beat, margin), (echo, headlined), coverage in zip(
            stories, beats, echoes, covered, strict=True
        ):
            lead = items[story.item_ids[0]]
            relevance = self.desk.relevance(lead).score
            score, terms = self.desk.importance(
                story, items, relevance, start, end, echo, headlined, coverage
            )
            judged.append(
                story.model_copy(
                    update={
                        "beat": beat,
                        "beat_margin": margin,
                        "importance": score,
                        "importance_terms": terms,
                        "round_up": self.desk.is_round_up(lead),
                    }
                )
            )
        return self.mark_repeats(judged, items)

    def mark_repeats(self, stories: list[Story], items: Mapping[str, SourceItem]) -> list[Story]:
        """Stories dedup kept apart that still tell one event (close sentence vectors, or a
        shared rare name and fairly close vectors, and no conflicting version): each is marked
        as repeating the most important of them, which alone gets a bullet or a highlight."""
        if not stories or self.large(stories):
            return stories
        leads = [items[s.item_ids[0]] for s in stories]
        # A first-hand report stands for its event before a newsletter's mention of it.
        order = sorted(
            range(len(stories)),
            key=lambda k: (self.desk.is_newsletter(leads[k]), _rank(stories[k])),
        )
        vectors = self.embedder.encode([f"{it.title} {it.summary}" for it in leads])
        # A name is a word the week's texts write as a name somewhere (xAI, Astral); two
        # common words alone (`coding`, `tools`) tie no two reports together, a name and a
        # rare word beside it (xAI, exodus) do.
        known = {w for it in items.values() for w in name_words(it.title) | name_words(it.summary)}
        names = [anchors(f"{it.title} {_first(it)}") for it in leads]

        def is_name(anchor: str) -> bool:
            return ":" in anchor or all(w in known for w in anchor.split())

        frequency = Counter(a for found in names for a in found)
        rare = max(3, len(stories) // 25)
        versions = [_versions(it.title) for it in leads]
        shown: list[int] = []
        out = list(stories)
        for k in order:
            same, closest = None, -1.0
            for j in shown:
                similarity = float(vectors[k] @ vectors[j])
                shared = {a for a in names[k] & names[j] if frequency[a] <= rare}
                named = {a for a in shared if is_name(a)}
                # A product with its version, a two-word name or a sum of money ties two
                # reports; one name alone (a company's) needs a second rare word beside it.
                strong = any(" " in a or ":" in a or any(c.isdigit() for c in a) for a in named)
                if not named:
                    shared = set()
                # Two releases: another version of one product, or versions of two products
                # (GLM-5 and MiniMax M2.5 out the same week are two events).
                conflict = any(
                    v != versions[j][stem] for stem, v in versions[k].items() if stem in versions[j]
                ) or bool(versions[k] and versions[j] and not versions[k].keys() & versions[j])
                if (
                    not conflict
                    and similarity > closest
                    and (
                        similarity >= self.repeat_similarity
                        or ((strong or len(shared) >= 2) and similarity >= self.repeat_anchored)
                    )
                ):
                    # The closest of the reports it may repeat, not the first one found.
                    same, closest = j, similarity
            if same is None:
                shown.append(k)
            else:
                out[k] = stories[k].model_copy(update={"repeats": stories[same].id})
                if stories[k].importance > out[same].importance:
                    # The event is as important as its most important report.
                    terms = {**out[same].importance_terms, "repeated": stories[k].importance}
                    out[same] = out[same].model_copy(
                        update={"importance": stories[k].importance, "importance_terms": terms}
                    )
        return self._count_repeat_outlets(stories, out)

    def _count_repeat_outlets(self, stories: list[Story], out: list[Story]) -> list[Story]:
        """An event told by reports that dedup kept apart counts the outlets of them all: the
        `outlets` term of the story shown for it grows by the outlets its repeats add."""
        index = {s.id: k for k, s in enumerate(out)}
        added: dict[int, set[str]] = {}
        for k, story in enumerate(out):
            if story.repeats is not None:
                added.setdefault(index[story.repeats], set()).update(stories[k].outlets)
        for k, extra in added.items():
            own = set(out[k].outlets)
            if not extra - own:
                continue
            gain = self.desk.outlets_term(len(own | extra)) - self.desk.outlets_term(len(own))
            terms = dict(out[k].importance_terms)
            terms["outlets"] = round(terms.get("outlets", 0.0) + gain, 3)
            out[k] = out[k].model_copy(
                update={"importance": round(out[k].importance + gain, 4), "importance_terms": terms}
            )
        return out

    def _coverage(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> list[int]:
        """Per story: the other items whose title-and-summary vectors are within
        `coverage_similarity` of its lead's (the vectors dedup computed: cache hits)."""
        ids = list(items)
        vectors = self.embedder.encode([f"{items[i].title} {items[i].summary}" for i in ids])
        index = {item_id: k for k, item_id in enumerate(ids)}
        leads = vectors[[index[s.item_ids[0]] for s in stories]]
        close = (leads @ vectors.T) >= self.coverage_similarity
        out = []
        for row, story in zip(close, stories, strict=True):
            own = [index[i] for i in story.item_ids if i in index]
            out.append(int(row.sum()) - int(row[own].sum()))
        return out

    def build_themes(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> list[Theme]:
        if not stories:
            return []
        if self.by_beat and any(s.beat is None for s in stories):
            stories = self.judge(stories, items)
        vectors, docs = self.space(stories, items)
        if self.by_beat:
            vectors = self.with_beats(vectors, stories)
        if self.large(stories):
            labels = self._large(stories, items, vectors, docs)
        else:
            labels = self.assign(vectors)
        out = self.make_themes(stories, items, vectors, docs, labels)
        if self.by_beat:
            return self.editorial(out, stories, items)
        out.sort(key=lambda t: (-t.weight, -len(t.story_ids), t.id))
        for rank, theme in enumerate(out, start=1):
            theme.id = f"theme-{rank}"
        return out

    def with_beats(self, vectors: Vectors, stories: Sequence[Story]) -> Vectors:
        """The clustering vectors with each story's beat joined as a one-hot block weighing
        `beat_weight`: stories of one beat stay together unless their text is far apart."""
        if not self.beat_weight or any(s.beat is None for s in stories):
            return vectors
        ids = {b.id: k for k, b in enumerate(self.desk.beats)}
        onehot = np.zeros((len(stories), len(ids) + 1), dtype=np.float32)
        for row, story in enumerate(stories):
            onehot[row, ids.get(story.beat or "", len(ids))] = 1.0
        joined = np.hstack(
            [math.sqrt(1 - self.beat_weight) * vectors, math.sqrt(self.beat_weight) * onehot]
        )
        norms = np.linalg.norm(joined, axis=1, keepdims=True)
        unit: Vectors = (joined / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def editorial(
        self, themes: list[Theme], stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> list[Theme]:
        """Clustered themes as an editor orders them: each theme's stories most important
        first (an event told once; newsletters covering many events last), the theme named
        after its lead story, its beat the one most of its stories share, and the themes
        ranked by the importance of their top stories."""
        by_id = {s.id: s for s in stories}
        out = [self.edit(theme, by_id, items) for theme in themes]
        out.sort(key=lambda t: (-t.weight, -len(t.story_ids), t.id))
        for rank, theme in enumerate(out, start=1):
            theme.id = f"theme-{rank}"
        return out

    def edit(
        self, theme: Theme, stories: Mapping[str, Story], items: Mapping[str, SourceItem]
    ) -> Theme:
        """One theme as an editor orders it (see `editorial`); its id is kept."""

        # A first-hand report leads a theme before a newsletter's mention does.
        def order(story: Story) -> tuple[bool, bool, bool, float, float, str]:
            letter = self.desk.is_newsletter(items[story.item_ids[0]])
            return (story.repeats is not None, story.round_up, letter, *_rank(story))

        members = sorted((stories[s] for s in theme.story_ids), key=order)
        lead = members[0]
        beats = Counter(s.beat for s in members if s.beat)
        beat = beats.most_common(1)[0][0] if beats else None
        described = self.desk.beat(beat) if beat else None
        top = [s for s in members if s.repeats is None and not s.round_up][:3] or members[:1]
        return theme.model_copy(
            update={
                "name": headline(items[lead.item_ids[0]], self.desk.language),
                "headline": lead.title,
                # The beat's name first, then the theme's own words (c-TF-IDF).
                "keywords": [*([described.name] if described else []), *theme.keywords],
                "story_ids": [s.id for s in members],
                "weight": round(sum(s.importance for s in top), 4),
                "beat": beat,
            }
        )

    def make_themes(
        self,
        stories: Sequence[Story],
        items: Mapping[str, SourceItem],
        vectors: Vectors,
        docs: Sequence[list[str]],
        labels: np.ndarray,
        ids: Sequence[str] | None = None,
        only: set[str] | None = None,
    ) -> list[Theme]:
        """One named theme per label: keywords by c-TF-IDF over every group's words, the most
        central story (in the edition's main language) as headline, members most central first.
        Group `g` gets the id `ids[g]` (default `t{g}`); with `only`, just those ids are built."""
        groups = sorted(set(labels.tolist()))
        keywords = c_tf_idf(
            [[t for i in np.flatnonzero(labels == group) for t in docs[int(i)]] for group in groups]
        )
        # Display spellings from the items of (at most) 1,000 stories.
        shown = [items[i] for s in stories[:1000] for i in s.item_ids]
        display = _display_forms(shown)
        main_language = Counter(s.lang for s in stories).most_common(1)[0][0]
        out = []
        for group, ranked in zip(groups, keywords, strict=True):
            theme_id = ids[group] if ids is not None else f"t{group}"
            if only is not None and theme_id not in only:
                continue
            index = np.flatnonzero(labels == group)
            centroid = vectors[index].mean(axis=0)
            centrality = vectors[index] @ centroid
            # The headline in the edition's main language, when the theme has one.
            preference = centrality + np.array(
                [0.0 if stories[int(i)].lang == main_language else -1.0 for i in index]
            )
            central = stories[int(index[int(np.argmax(preference))])]
            words = [display.get(term, term) for term, _ in ranked]
            # Most central first (stable: ties keep the stories' order).
            members = [stories[int(i)] for i in index[np.argsort(-centrality, kind="stable")]]
            out.append(
                Theme(
                    id=theme_id,
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
        return out


def _told_first(story: Story) -> tuple[bool, bool, float, float, str]:
    """Stories that get a bullet first (most important first), repeats and round-ups last."""
    return (story.repeats is not None, story.round_up, *_rank(story))


def _rank(story: Story) -> tuple[float, float, str]:
    """Most important first; ties to the later story."""
    return (-story.importance, -story.published.timestamp(), story.id)


def _echoes(
    stories: Sequence[Story], items: Mapping[str, SourceItem], desk: Desk
) -> list[tuple[int, bool]]:
    """Per story: how many items outside it name one of its title's rare anchors (the week's
    echo of it), and whether a newsletter of the week headlines it (or it is a newsletter
    issue headlined by its one event)."""
    ids = list(items)
    heads = {i: anchors(f"{it.title} {_first(it)}") for i, it in items.items()}
    frequency = Counter(a for found in heads.values() for a in found)
    rare = max(3, len(items) // 20)
    letters = [i for i, it in items.items() if desk.is_newsletter(it)]
    letter_titles = {i: anchors(items[i].title) for i in letters}
    out = []
    for story in stories:
        lead = items[story.item_ids[0]]
        own = set(story.item_ids)
        mine = {a for a in anchors(lead.title) if frequency[a] <= rare}
        echo = sum(1 for i in ids if i not in own and mine & heads[i])
        headlined = (desk.is_newsletter(lead) and not desk.is_round_up(lead)) or any(
            mine & letter_titles[i] for i in letters if i not in own
        )
        out.append((echo, headlined))
    return out


_VERSION = re.compile(r"([A-Za-z][A-Za-z\-]*?)[ \-]?(\d+(?:\.\d+)+|\d+\b)")


def _versions(title: str) -> dict[str, str]:
    """Product stems with their versions in a title (`gpt` → `5.4`): GPT-5.4 and GPT-5.3 are
    two releases, never one event."""
    return {m.group(1).lower().strip("- "): m.group(2) for m in _VERSION.finditer(title)}


def _first(item: SourceItem) -> str:
    parts = sentences(item.summary)
    return parts[0] if parts else item.summary[:200]


def _display_forms(items: Iterable[SourceItem]) -> dict[str, str]:
    """Lower-case token → the spelling sources use most (`openai` → `OpenAI`)."""
    import jieba

    from newsroom.methods.text import tokenizer

    tokenizer()
    seen: dict[str, Counter[str]] = {}
    for item in items:
        for word in jieba.lcut(f"{item.title} {item.summary}"):
            seen.setdefault(word.lower(), Counter())[word] += 1
    return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}
