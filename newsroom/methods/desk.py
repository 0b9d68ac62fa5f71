"""The desk: the beats a newsroom covers (a TOML profile), how relevant an item is to them, which
beat a story belongs to, and how important a story is.

Relevance is a documented sum of cues, read where an editor reads first:

    score = Σ over the title (×2), the summary's first sentence (×1) and the rest (×0.3) of
            1.5 · core terms (AI, 人工智能, 大模型 …) + 1.0 · desk entities + 0.2 · beat keywords
            − 1.5 · off-desk cues (deals, promo codes, sport …)
          + outlet bonus (a source the desk lists as its own)

An item scoring `threshold` or more is on the desk. A story's beat is zero-shot: the beat whose
keywords and entities its lead names most (title first), plus the similarity of its sentence
vector to the beat's description and example headlines. Importance is in `importance()`."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsroom.errors import UsageError
from newsroom.methods.text import quantities, sentences

if TYPE_CHECKING:
    import numpy as np

    from newsroom.methods.embeddings import Embedder
    from newsroom.models import SourceItem, Story

_CJK = re.compile(r"[\u4e00-\u9fff]")
_VERSIONED = re.compile(r"[A-Za-z][A-Za-z\-]*[ \-]?\d+(?:\.\d+)+|[A-Z][A-Za-z]+[ \-]\d+\b(?![%$])")
_SEVERAL = re.compile(r",|;|，|；|、| and | & |\band\b")
DEFAULT_DESK = "ai_desk.toml"
FIELD_WEIGHTS = (2.0, 1.0, 0.3)  # title, the summary's first sentence, the rest
# How a story's beat is scored: per field (title 1, the summary's first sentence `lead`, the
# rest `rest`), the beat's entities, companies and keywords it names, plus `similarity` × the
# cosine of its vector to the beat's description and examples.
BEAT_WEIGHTS = {
    "entities": 1.0,
    "companies": 1.0,
    "keywords": 1.0,
    "lead": 1.0,
    "rest": 0.4,
    "similarity": 20.0,
}
PRECEDENCE_MARGIN = 10.0
# What the default importance weights are when a profile leaves them out.
IMPORTANCE = {
    "outlets": 1.0,
    "weight": 0.5,
    "major": 1.0,
    "magnitude": 1.0,
    "event": 1.0,
    "relevance": 0.3,
    "recency": 0.3,
    "echo": 0.5,
    "headlined": 1.0,
    "versioned": 1.0,
    "coverage": 1.0,
    "round_up": -1.5,
    "commentary": -0.7,
}


class Terms:
    """A list of terms matched as whole words in Latin script and as substrings in Chinese.
    `A|B|C` is one term with three spellings: it counts once. One regular expression per
    list, so a week of ten thousand items is read quickly."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.names = [t.split("|")[0].strip() for t in terms if t.strip()]
        # Every spelling of every term (OpenAI|开放人工智能 gives both).
        self.spellings = [w.strip() for t in terms for w in t.split("|") if w.strip()]
        self._term_of: dict[str, int] = {}
        self._exact: set[str] = set()  # short all-capital names (AI, GPU, ICE): case counts
        latin, cjk = [], []
        for index, term in enumerate(t for t in terms if t.strip()):
            for spelling in (s.strip() for s in term.split("|")):
                if not spelling:
                    continue
                self._term_of[spelling.lower()] = index
                if _CJK.search(spelling):
                    cjk.append(spelling)
                else:
                    latin.append(spelling)
                    if spelling.isupper() and len(spelling) <= 4:
                        self._exact.add(spelling)
        self._exact_lower = {w.lower() for w in self._exact}
        by_length = sorted(set(latin), key=len, reverse=True)
        self._latin = (
            re.compile(
                r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, by_length)) + r")(?![A-Za-z0-9])",
                re.I,
            )
            if latin
            else None
        )
        cjk_by_length = sorted(set(cjk), key=len, reverse=True)
        self._cjk = re.compile("|".join(map(re.escape, cjk_by_length))) if cjk else None

    def _indexes(self, text: str) -> set[int]:
        found: set[int] = set()
        if self._latin is not None:
            for match in self._latin.finditer(text):
                word = match.group(0)
                if word.lower() in self._exact_lower and word not in self._exact:
                    continue  # `ai` in running text is not the name `AI`
                index = self._term_of.get(word.lower())
                if index is not None:
                    found.add(index)
        if self._cjk is not None:
            found.update(self._term_of[m.group(0).lower()] for m in self._cjk.finditer(text))
        return found

    def count(self, text: str) -> int:
        """How many terms (not spellings, not occurrences) the text names."""
        return len(self._indexes(text))

    def found(self, text: str) -> list[str]:
        """The terms the text names (by their first spelling), in list order."""
        return [self.names[i] for i in sorted(self._indexes(text))]


@dataclass
class Beat:
    id: str
    name: str
    description: str
    keywords: Terms
    entities: Terms  # names that make an item the desk's news (OpenAI, Claude …)
    companies: Terms  # names that place a story on this beat but are not the desk's by themselves
    examples: list[str]


@dataclass
class Relevance:
    score: float
    on_desk: bool
    reason: str


@dataclass
class Desk:
    """A desk profile: what the newsroom covers and how it weighs a story."""

    name: str
    language: str
    threshold: float
    beats: list[Beat]
    core: Terms
    off_desk: Terms
    majors: Terms
    events: Terms
    commentary: Terms
    outlets: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=lambda: dict(IMPORTANCE))
    round_up_titles: list[re.Pattern[str]] = field(default_factory=list)
    beat_weights: dict[str, float] = field(default_factory=lambda: dict(BEAT_WEIGHTS))
    precedence: list[str] = field(default_factory=list)
    path: str = ""
    _prototypes: Any = None

    # ------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: Path | None = None) -> Desk:
        """The profile at `path`, or the default AI desk; a bad file is a UsageError naming it."""
        if path is None or str(path) in ("", "."):
            return default_desk()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"desk profile {path} does not exist") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"desk profile {path} cannot be read: {exc}") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: Mapping[str, Any], where: str) -> Desk:
        def strings(value: Any, key: str) -> list[str]:
            if value is None:
                return []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{where}: `{key}` must be a list of strings")
            return list(value)

        desk = data.get("desk", {})
        raw_beats = data.get("beat", [])
        if not isinstance(desk, dict) or not isinstance(raw_beats, list) or not raw_beats:
            raise UsageError(f"{where}: a desk profile needs a [desk] table and [[beat]] entries")
        beats = []
        for number, raw in enumerate(raw_beats, start=1):
            if not isinstance(raw, dict) or not raw.get("id") or not raw.get("name"):
                raise UsageError(f"{where}: beat {number} needs an `id` and a `name`")
            beats.append(
                Beat(
                    id=str(raw["id"]),
                    name=str(raw["name"]),
                    description=str(raw.get("description", "")),
                    keywords=Terms(strings(raw.get("keywords"), f"beat.{raw['id']}.keywords")),
                    entities=Terms(strings(raw.get("entities"), f"beat.{raw['id']}.entities")),
                    companies=Terms(strings(raw.get("companies"), f"beat.{raw['id']}.companies")),
                    examples=strings(raw.get("examples"), f"beat.{raw['id']}.examples"),
                )
            )
        ids = [b.id for b in beats]
        if len(set(ids)) != len(ids):
            raise UsageError(f"{where}: beat ids must be unique")
        weights = dict(IMPORTANCE)
        for key, value in dict(data.get("importance", {})).items():
            if key not in IMPORTANCE or not isinstance(value, int | float):
                raise UsageError(
                    f"{where}: [importance] {key} is not one of {', '.join(IMPORTANCE)}"
                )
            weights[key] = float(value)
        outlets = desk.get("outlets", {})
        if not isinstance(outlets, dict) or not all(
            isinstance(v, int | float) and math.isfinite(v) for v in outlets.values()
        ):
            raise UsageError(f"{where}: [desk.outlets] must map hosts to numbers (host = 1.0)")
        try:
            threshold = float(desk.get("threshold", 2.0))
        except (TypeError, ValueError):
            raise UsageError(f"{where}: [desk] threshold must be a number") from None
        if not math.isfinite(threshold):
            raise UsageError(f"{where}: [desk] threshold must be a finite number")
        precedence = strings(data.get("precedence"), "precedence")
        unknown = [b for b in precedence if b not in ids]
        if unknown:
            raise UsageError(f"{where}: precedence names unknown beats: {', '.join(unknown)}")
        round_ups = []
        for pattern in strings(desk.get("round_ups"), "desk.round_ups"):
            try:
                round_ups.append(re.compile(pattern, re.I))
            except re.error as exc:
                raise UsageError(f"{where}: round_ups pattern {pattern!r}: {exc}") from None
        return cls(
            name=str(desk.get("name", "desk")),
            language=str(desk.get("language", "zh")),
            threshold=threshold,
            beats=beats,
            core=Terms(strings(desk.get("core"), "desk.core")),
            off_desk=Terms(strings(data.get("off_desk", {}).get("keywords"), "off_desk")),
            majors=Terms(strings(desk.get("majors"), "desk.majors")),
            events=Terms(strings(desk.get("events"), "desk.events")),
            commentary=Terms(strings(desk.get("commentary"), "desk.commentary")),
            outlets={str(k).lower(): float(v) for k, v in outlets.items()},
            weights=weights,
            precedence=precedence,
            round_up_titles=round_ups,
            path=where,
        )

    # ------------------------------------------------------------ relevance
    def entity_names(self) -> list[str]:
        """Every spelling of the names the desk knows: its beats' entities and companies and
        its major players (what a heading may name besides a Latin-letter name)."""
        terms = [self.majors, *(b.entities for b in self.beats), *(b.companies for b in self.beats)]
        return sorted({name for t in terms for name in t.spellings})

    def beat(self, beat_id: str) -> Beat | None:
        return next((b for b in self.beats if b.id == beat_id), None)

    def relevance(self, item: SourceItem) -> Relevance:
        """How much the item is the desk's news (see the module's docstring)."""
        score, named = 0.0, []
        for text, weight in zip(_fields(item), FIELD_WEIGHTS, strict=True):
            if not text:
                continue
            core = self.core.found(text)
            entities = [e for b in self.beats for e in b.entities.found(text)]
            keywords = sum(b.keywords.count(text) for b in self.beats)
            off = self.off_desk.found(text)
            score += weight * (1.5 * len(core) + 1.0 * len(set(entities)) + 0.2 * keywords)
            score -= weight * 1.5 * len(off)
            if weight >= 1.0:
                named.extend(core + entities + [f"-{o}" for o in off])
        host = item.source.lower().removeprefix("www.")
        score += self.outlets.get(host, 0.0)
        on = score >= self.threshold
        cues = "、".join(dict.fromkeys(named)) or "no desk term in its title or lead"
        reason = f"{'on' if on else 'off'} the {self.name} desk (score {score:.1f}: {cues})"
        return Relevance(round(score, 2), on, reason)

    def misses(self, items: Sequence[SourceItem]) -> bool:
        """True when no item reaches the threshold (the desk keeps them all rather than
        publish nothing, and says so)."""
        return not any(self.relevance(item).on_desk for item in items)

    # ------------------------------------------------------------ beats
    def prototypes(self, embedder: Embedder) -> np.ndarray:
        """One unit vector per beat: the mean of its description and examples."""
        import numpy as np

        if self._prototypes is None:
            rows = []
            for beat in self.beats:
                vectors = embedder.encode([beat.description or beat.name, *beat.examples])
                centre = vectors.mean(axis=0)
                rows.append(centre / max(float(np.linalg.norm(centre)), 1e-12))
            self._prototypes = np.stack(rows).astype(np.float32)
        prototypes: np.ndarray = self._prototypes
        return prototypes

    def beat_scores(
        self, item: SourceItem, vector: np.ndarray | None, embedder: Embedder
    ) -> list[float]:
        """Per beat: the cues the item names (title first) and its vector's similarity."""
        title, lead, rest = _fields(item)
        similarity = self.prototypes(embedder) @ vector if vector is not None else None
        w = self.beat_weights
        out = []
        for index, beat in enumerate(self.beats):
            score = 0.0
            for text, weight in ((title, 1.0), (lead, w["lead"]), (rest, w["rest"])):
                score += weight * (
                    w["entities"] * beat.entities.count(text)
                    + w["companies"] * beat.companies.count(text)
                    + w["keywords"] * beat.keywords.count(text)
                )
            if similarity is not None:
                score += w["similarity"] * float(similarity[index])
            out.append(score)
        return out

    def assign_beats(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem], embedder: Embedder
    ) -> list[tuple[str, float]]:
        """Each story's beat and the margin it won by, from its lead item (zero-shot)."""
        if not stories:
            return []
        leads = [items[s.item_ids[0]] for s in stories]
        vectors = embedder.encode([f"{it.title} {it.summary}" for it in leads])
        return [
            self.judge_beat(lead, vector, embedder)
            for lead, vector in zip(leads, vectors, strict=True)
        ]

    def judge_beat(
        self, item: SourceItem, vector: np.ndarray | None, embedder: Embedder
    ) -> tuple[str, float]:
        """The beat of one item (a precedence beat its title names, else the best score) and
        how far ahead of the next beat it is (a precedence beat wins by a length)."""
        for beat_id in self.precedence:
            beat = self.beat(beat_id)
            if beat and (beat.entities.count(item.title) or beat.companies.count(item.title)):
                return beat.id, PRECEDENCE_MARGIN
        scores = self.beat_scores(item, vector, embedder)
        order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
        margin = scores[order[0]] - scores[order[1]] if len(order) > 1 else PRECEDENCE_MARGIN
        return self.beats[order[0]].id, round(margin, 3)

    def beat_of(self, item: SourceItem, vector: np.ndarray | None, embedder: Embedder) -> str:
        return self.judge_beat(item, vector, embedder)[0]

    # ------------------------------------------------------------ importance
    def is_newsletter(self, item: SourceItem) -> bool:
        """An issue of a newsletter (by its title)."""
        return any(p.search(item.title) for p in self.round_up_titles)

    def is_round_up(self, item: SourceItem) -> bool:
        """A newsletter issue whose title names several events (`A, B and C`); an issue
        headlined by one event is that event's report."""
        if not self.is_newsletter(item):
            return False
        rest = next((p.sub("", item.title, count=1) for p in self.round_up_titles), item.title)
        return bool(_SEVERAL.search(rest))

    def outlets_term(self, outlets: int) -> float:
        """The `outlets` term of a story told by this many distinct outlets."""
        return self.weights["outlets"] * math.log2(1 + outlets)

    def importance(
        self,
        story: Story,
        items: Mapping[str, SourceItem],
        relevance: float,
        start: datetime,
        end: datetime,
        echo: int = 0,
        headlined: bool = False,
        coverage: int = 0,
    ) -> tuple[float, dict[str, float]]:
        """A story's score, and its terms:
        - outlets: log2(1 + distinct outlets after cross-language dedup);
        - weight: the sources' own weight above one outlet each;
        - major: a major organisation of the desk named in the title or lead;
        - magnitude: money, parameters, users or a benchmark figure in the title or lead;
        - event: a launch, release, funding, acquisition, ruling; commentary (analysis,
          podcasts, reviews, how-tos) takes the `commentary` weight instead;
        - relevance: the desk score, capped at 3 × threshold, as a share of that cap;
        - recency: where in the week it was published (0 first day, 1 last);
        - echo: log2(1 + other items of the week naming its distinctive names);
        - headlined: a newsletter of the week headlines it (curators picked it);
        - versioned: the title names a product with its version (a release: GPT-5.4);
        - coverage: log2(1 + other items of the week whose sentence vectors are close to it:
          reports of the same event that dedup kept apart, and the week's talk around it);
        - round_up: a newsletter issue covering many events is not one story's news."""
        lead = items[story.item_ids[0]]
        title, first, _ = _fields(lead)
        head = f"{title} {first}"
        w = self.weights
        outlets = len(set(story.outlets))
        terms = {
            "outlets": self.outlets_term(outlets),
            "weight": w["weight"] * max(0.0, story.weight - outlets),
            "major": w["major"] * min(1, self.majors.count(head)),
            "magnitude": w["magnitude"] * min(1, len(_magnitudes(head))),
            "event": w["event"] * min(1, self.events.count(head)),
            "commentary": w["commentary"] * min(1, self.commentary.count(title)),
            "relevance": w["relevance"] * min(relevance, 3 * self.threshold) / (3 * self.threshold),
            "recency": w["recency"] * _position(story.published, start, end),
            "echo": w["echo"] * math.log2(1 + echo),
            "headlined": w["headlined"] * headlined,
            "versioned": w["versioned"] * bool(_VERSIONED.search(title)),
            "coverage": w["coverage"] * math.log2(1 + coverage),
            "round_up": w["round_up"] * self.is_round_up(lead),
        }
        return round(sum(terms.values()), 4), {k: round(v, 3) for k, v in terms.items() if v}


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*|\d+(?:\.\d+)?[A-Za-z]*")
_BREAK = re.compile(r"[:：,，;；|()（）\[\]“”\"'‘’!?。、]")
_ANCHOR_STOP = frozenset(
    "the a an of for to in on and with by is are was new how what why its it as at from your "
    "our you we this that can now more than ai into about after over just all".split()
)


def anchors(text: str) -> set[str]:
    """Names that can tie two reports of one event together: runs of one to three Latin words
    or versions (`nano banana 2`, `gpt5.4`, `codex security`; hyphens dropped, lower case), and
    sums of money (`usd:1.1e+11`). Rare ones are what matter; callers weigh them by frequency."""
    out: set[str] = set()
    for part in _BREAK.split(text):
        words = [t.lower().replace("-", "") for t in _TOKEN.findall(part)]
        for n in (1, 2, 3):
            for k in range(len(words) - n + 1):
                gram = words[k : k + n]
                if gram[0] in _ANCHOR_STOP or gram[-1] in _ANCHOR_STOP:
                    continue
                if n == 1 and len(gram[0]) < 3:
                    continue
                if all(re.fullmatch(r"[\d.]+", w) for w in gram):
                    continue  # figures alone name nothing: "2026 2" (a date), "3.1" (a version)
                out.add(" ".join(gram))
    for q in quantities(text):
        if q.kind in ("usd", "cny") and q.value >= 1e6:
            out.add(f"{q.kind}:{q.value:.3g}")
    return out


_CJK_NEAR = re.compile(r"[\u4e00-\u9fff]")


def name_words(text: str) -> set[str]:
    """The Latin words of `text` that are names, lower case, as `anchors` spells them: a word
    with a digit or an inner capital (`gpt5.4`, `openai`), a Latin word inside Chinese text
    (Chinese keeps only names in Latin: Ruff, Codex), or a capitalised word past a part's first
    in a part that is not Title Case (`Google pulls back on browser AI`: google; not `coding`)."""
    out: set[str] = set()
    for part in _BREAK.split(text):
        found = list(_TOKEN.finditer(part))
        capitals = sum(m.group()[0].isupper() for m in found)
        title_case = len(found) >= 4 and capitals >= 0.6 * len(found)
        for k, m in enumerate(found):
            word = m.group()
            key = word.lower().replace("-", "")
            near = part[max(0, m.start() - 2) : m.end() + 2]
            if (
                any(c.isdigit() for c in word)
                or any(c.isupper() for c in word[1:])
                or _CJK_NEAR.search(near)
                or (word[0].isupper() and k > 0 and not title_case)
            ):
                out.add(key)
    return out


def _fields(item: SourceItem) -> tuple[str, str, str]:
    """Title, the summary's first sentence, and the rest of the summary and body."""
    parts = sentences(item.summary) or ([item.summary] if item.summary else [])
    lead = parts[0] if parts else ""
    rest = " ".join([*parts[1:], item.body[:2000]])
    return item.title, lead, rest


def _magnitudes(text: str) -> list[Any]:
    return [
        q
        for q in quantities(text)
        if q.kind in ("usd", "cny", "percent") or (q.kind == "count" and q.value >= 1e6)
    ]


def _position(moment: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds()
    if span <= 0:
        return 0.0
    return min(1.0, max(0.0, (moment - start).total_seconds() / span))


@cache
def default_desk() -> Desk:
    text = (resources.files("newsroom.methods") / "resources" / DEFAULT_DESK).read_text(
        encoding="utf-8"
    )
    return Desk.parse(tomllib.loads(text), DEFAULT_DESK)
