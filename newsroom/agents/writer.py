"""The writer: themes → a weekly analysis draft.

Offline, a theme's bullets are its stories in order of importance, one bullet per event: the
story's news sentence (who did what, with the figure), never a tail that needs its antecedent,
never a second bullet on an event already told. Impact lines come from the sources' own
background statements; the frame (title, lead, outlook) is computed from the data. Themes that
come from clustering alone (no desk) are written by maximal marginal relevance instead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from newsroom.methods.dedup import numbers_agree
from newsroom.methods.embeddings import Embedder
from newsroom.methods.headlines import headline, news_sentence
from newsroom.methods.text import entities, is_cjk, sentences
from newsroom.models import Claim, ClaimKind, Draft, Section, SourceItem, Story, Theme, Verdict
from newsroom.storylines import OutlookLine, with_outlook
from newsroom.weeks import WeekWindow

_ORDINALS = "一二三四五六七八九十"
_IMPACT_CUES = ("将", "推动", "意味着", "标志", "有望", "加速", "成为", "关键", "重点", "热点")


@dataclass(frozen=True)
class Candidate:
    theme_id: str
    story_id: str
    text: str
    cites: tuple[str, ...]
    kind: ClaimKind
    item_id: str


class OfflineWriter:
    """Extractive writing by maximal marginal relevance; every bullet cites its story's sources."""

    def __init__(
        self,
        embedder: Embedder,
        bullets: int = 3,
        min_bullets: int = 3,
        diversity: float = 0.3,
        redundant: float = 0.85,
        pool_stories: int = 40,
        same_event: float = 0.6,
        language: str = "zh",
        beat_margin: float = 1.0,
        max_bullets: int = 4,
        top_stories: int = 10,
    ) -> None:
        self.embedder = embedder
        self.bullets = bullets
        self.min_bullets = min_bullets
        self.diversity = diversity
        self.redundant = redundant
        # Bullets come from a theme's most central stories (story_ids are ordered by
        # centrality): a theme of ten thousand stories is not read sentence by sentence.
        self.pool_stories = pool_stories
        # Two stories whose leads are this similar (or share a versioned product name) tell
        # one event: the second gets no bullet.
        self.same_event = same_event
        self.language = language
        self.beat_margin = beat_margin
        self.max_bullets = max_bullets
        self.top_stories = top_stories

    # ------------------------------------------------------------ candidates
    def candidates(
        self, theme: Theme, stories: Mapping[str, Story], items: Mapping[str, SourceItem]
    ) -> list[Candidate]:
        out: list[Candidate] = []
        for story_id in theme.story_ids[: self.pool_stories]:
            story = stories[story_id]
            members = sorted((items[i] for i in story.item_ids), key=lambda it: it.lang != "zh")
            cites = tuple(story.item_ids)
            seen: set[str] = set()
            for item in members:
                title = item.title.rstrip("。")
                parts = [*sentences(item.summary), *sentences(item.body)]
                for sentence in parts:
                    kind: ClaimKind = "impact" if sentence.startswith("背景") else "evidence"
                    sentence = sentence.removeprefix("背景：").strip()
                    if sentence in seen or len(sentence) < 8:
                        continue
                    seen.add(sentence)
                    text = sentence if kind == "impact" else f"**{title}**：{sentence}"
                    out.append(
                        Candidate(
                            theme.id,
                            story_id,
                            text,
                            cites if kind == "evidence" else (item.id,),
                            kind,
                            item.id,
                        )
                    )
        return out

    def rank(
        self,
        theme_vector: np.ndarray,
        pool: Sequence[Candidate],
        count: int,
        taken: Sequence[Candidate] = (),
    ) -> list[Candidate]:
        """Maximal marginal relevance over `pool`, given what is already `taken`."""
        if not pool:
            return []
        native = [c for c in pool if is_cjk(c.text)]
        if len(native) >= count:  # sources in another language only when ours run short
            pool = native
        vectors = self.embedder.encode([c.text for c in pool])
        chosen_vectors = list(self.embedder.encode([c.text for c in taken])) if taken else []
        relevance = vectors @ theme_vector
        relevance = relevance - np.array([0.0 if is_cjk(c.text) else 0.15 for c in pool])
        per_story: dict[str, int] = {}
        for c in taken:
            per_story[c.story_id] = per_story.get(c.story_id, 0) + 1
        picked: list[Candidate] = []
        remaining = list(range(len(pool)))
        while remaining and len(picked) < count:
            remaining = [
                i
                for i in remaining
                if max((float(vectors[i] @ v) for v in chosen_vectors), default=0.0)
                < self.redundant
            ]
            if not remaining:
                break

            def score(i: int) -> float:
                redundancy = max((float(vectors[i] @ v) for v in chosen_vectors), default=0.0)
                repeat = 0.1 * per_story.get(pool[i].story_id, 0)
                return (
                    (1 - self.diversity) * float(relevance[i])
                    - self.diversity * redundancy
                    - repeat
                )

            best = max(remaining, key=score)
            remaining.remove(best)
            picked.append(pool[best])
            chosen_vectors.append(vectors[best])
            per_story[pool[best].story_id] = per_story.get(pool[best].story_id, 0) + 1
        return picked

    def _theme_vector(self, theme: Theme, stories: Mapping[str, Story]) -> np.ndarray:
        central = theme.story_ids[: 5 * self.pool_stories]
        vectors = self.embedder.encode([stories[s].title for s in central])
        centroid: np.ndarray = vectors.mean(axis=0)
        return centroid / max(float(np.linalg.norm(centroid)), 1e-12)

    # ------------------------------------------------------------ draft
    def story_bullet(self, story: Story, items: Mapping[str, SourceItem]) -> str:
        """One bullet for one story: its news sentence, under its headline unless the sentence
        already says it."""
        lead = items[story.item_ids[0]]
        sentence = news_sentence(lead, self.language)
        title = headline(lead, self.language)
        said = title.split("：", 1)[-1]  # Nano Banana 2：<the summary's clause>
        if said in sentence or said.rstrip("。") in sentence:
            return sentence
        return f"**{title}**：{sentence}"

    def pick_stories(
        self,
        theme: Theme,
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        told: list[tuple[Any, set[str], str]],
        limit: int | None = None,
    ) -> list[Story]:
        """The theme's stories to write, most important first, `limit` (default `bullets`) at
        most and
        `min_bullets` at least: the stories of the theme's beat the desk placed surely first,
        then its other stories, round-ups and repeats last; no story telling an event an
        earlier bullet of the edition told, unless the theme has too few others."""
        members = [stories[s] for s in theme.story_ids[: self.pool_stories]]
        fresh = [s for s in members if s.repeats is None and not s.round_up]
        # One of the week's top stories is written wherever it sits, however narrowly the
        # desk placed it on its beat (the week's biggest story is never left out).
        top = _top_importance(stories, self.top_stories)
        sure = [
            s
            for s in fresh
            if theme.beat is None
            or s.importance >= top
            or (s.beat == theme.beat and s.beat_margin >= self.beat_margin)
        ]
        sure.sort(key=lambda s: -s.importance)  # the theme's limit goes to its biggest first
        by_id = {s.id: s for s in members}
        rest = sorted(fresh, key=lambda s: -s.importance)
        order = [by_id[i] for i in dict.fromkeys(s.id for s in [*sure, *rest, *members])]
        texts = [f"{items[s.item_ids[0]].title} {items[s.item_ids[0]].summary}" for s in order]
        if not texts:
            return []
        vectors = self.embedder.encode(texts)
        picked: list[Story] = []
        mine: list[tuple[Any, set[str], str]] = []
        most = limit or self.bullets
        for rank, (story, vector) in enumerate(zip(order, vectors, strict=True)):
            enough = most if rank < len(sure) else self.min_bullets
            # One of the week's top stories is written even past the theme's limit.
            if len(picked) >= enough and not (rank < len(sure) and story.importance >= top):
                if rank < len(sure):
                    continue
                break
            names = _versioned_names(items[story.item_ids[0]].title)
            text = texts[rank]
            if any(
                (names & other_names) or self._alike(vector, text, other, other_text)
                for other, other_names, other_text in [*told, *mine]
            ):
                continue
            mine.append((vector, names, text))
            picked.append(story)
        # A thin theme still gets its `min_bullets`: its other stories, those telling no event
        # of the edition's bullets first; never a story marked as repeating one it shows.
        shown = {s.id for s in picked}
        fills = [
            (story, vector, text)
            for story, vector, text in zip(order, vectors, texts, strict=True)
            if story not in picked and story.repeats not in shown
        ]
        fills.sort(
            key=lambda fill: any(
                self._alike(fill[1], fill[2], other, other_text)
                for other, _, other_text in [*told, *mine]
            )
        )
        for story, _, _ in fills:
            if len(picked) >= min(self.min_bullets, len(order)):
                break
            picked.append(story)
        told.extend(mine)
        return picked

    def _alike(self, vector: Any, text: str, other: Any, other_text: str) -> bool:
        """Two stories tell one event: their leads are `same_event` alike and no kind of
        number both state differs (a $1B seed and a $26B plan are two events)."""
        return float(vector @ other) >= self.same_event and numbers_agree(text, other_text)

    async def write(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        outlook: Sequence[OutlookLine] = (),
    ) -> Draft:
        """The week's draft; where the storylines give `outlook` lines, the outlook is theirs
        (each part a claim citing its story), not one signal per theme."""
        return with_outlook(await self._draft(window, themes, stories, items), outlook)

    async def _draft(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        if themes and all(t.beat is None for t in themes):
            return await self.write_by_relevance(window, themes, stories, items)
        sections: list[Section] = []
        claims: list[Claim] = []
        told: list[tuple[Any, set[str], str]] = []
        limits = self.allot(themes, stories)
        # A story's bullet cites the reports marked as repeating it: one event, all its sources.
        echoes: dict[str, list[str]] = {}
        for other in stories.values():
            if other.repeats is not None:
                echoes.setdefault(other.repeats, []).extend(other.item_ids[:1])
        for theme in themes:
            picked = self.pick_stories(theme, stories, items, told, limits[theme.id])
            ids = []
            for number, story in enumerate(picked, start=1):
                claim = Claim(
                    id=f"{theme.id}-c{number}",
                    theme_id=theme.id,
                    kind="evidence",
                    text=self.story_bullet(story, items),
                    cites=[story.item_ids[0], *echoes.get(story.id, [])],
                )
                claims.append(claim)
                ids.append(claim.id)
            if not ids:
                continue
            outlets = {o for s in theme.story_ids for o in stories[s].outlets}
            beat = theme.keywords[0] if theme.keywords else ""
            # The heading names the event of the section's first bullet.
            name = headline(items[picked[0].item_ids[0]], self.language)
            sections.append(
                Section(
                    theme_id=theme.id,
                    heading=f"主轴{ordinal(len(sections))}：{name}",
                    lead=(
                        f"{beat + '：' if beat else ''}本周{len(theme.story_ids)}个事件、"
                        f"{len(outlets)}家媒体报道，按重要性排列，首条即本主轴的标题事件。"
                    ),
                    claim_ids=ids,
                )
            )
        return self.frame(window, themes, stories, items, sections, claims)

    def allot(self, themes: Sequence[Theme], stories: Mapping[str, Story]) -> dict[str, int]:
        """Bullets per theme: the edition's `bullets` × themes go to the week's most important
        stories wherever they are, so a theme holding many of them gets more (up to
        `max_bullets`), every theme at least `min_bullets`."""
        owner = {s: t.id for t in themes for s in t.story_ids}
        fresh = [
            stories[s]
            for t in themes
            for s in t.story_ids
            if stories[s].repeats is None and not stories[s].round_up
        ]
        fresh.sort(key=lambda s: (-s.importance, s.id))
        counts = {t.id: 0 for t in themes}
        for story in fresh[: self.bullets * len(themes)]:
            counts[owner[story.id]] += 1
        return {tid: min(self.max_bullets, max(self.min_bullets, n)) for tid, n in counts.items()}

    async def write_by_relevance(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        """Themes from clustering alone: bullets by maximal marginal relevance to the theme."""
        sections: list[Section] = []
        claims: list[Claim] = []
        for index, theme in enumerate(themes):
            pool = self.candidates(theme, stories, items)
            vector = self._theme_vector(theme, stories)
            # About one bullet per story: a small theme is not padded with near-repeats.
            count = min(self.bullets, max(self.min_bullets, len(theme.story_ids)))
            evidence = self.rank(vector, [c for c in pool if c.kind == "evidence"], count)
            impact = self.rank(
                vector,
                [
                    c
                    for c in pool
                    if c.kind == "impact" and any(cue in c.text for cue in _IMPACT_CUES)
                ],
                1,
            )
            ids = []
            for number, candidate in enumerate([*evidence, *impact], start=1):
                claim = Claim(
                    id=f"{theme.id}-c{number}",
                    theme_id=theme.id,
                    kind=candidate.kind,
                    text=candidate.text,
                    cites=list(candidate.cites),
                )
                claims.append(claim)
                ids.append(claim.id)
            outlets = {o for s in theme.story_ids for o in stories[s].outlets}
            sections.append(
                Section(
                    theme_id=theme.id,
                    heading=f"主轴{ordinal(index)}：{theme.name}",
                    lead=(
                        f"本主轴汇集{len(theme.story_ids)}个事件、{len(outlets)}家媒体的报道，"
                        f"关键词为{'、'.join(theme.keywords[:5])}；最具代表性的事件是“{theme.headline}”。"
                    ),
                    claim_ids=ids,
                )
            )
        return self.frame(window, themes, stories, items, sections, claims)

    def frame(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        sections: list[Section],
        claims: list[Claim],
    ) -> Draft:
        """The draft around `sections`: title, lead and outlook of the whole week."""
        return Draft(
            title=self._title(window, themes, sections),
            lead=self._lead(window, themes, stories, items),
            sections=sections,
            claims=claims,
            outlook=[self._signal(theme, stories) for theme in themes],
            closing="",
        )

    async def update(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        affected: Sequence[str],
        base: Draft,
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        """`base` with the `affected` themes' sections written anew and the frame redone."""
        fresh = await self.write(
            window, [t for t in themes if t.id in set(affected)], stories, items
        )
        sections, claims = merge_sections(base, fresh, themes, affected)
        return self.frame(window, themes, stories, items, sections, claims)

    async def revise(
        self,
        draft: Draft,
        verdicts: Mapping[str, Verdict],
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        """Keep a claim on the sources that support it where its own does; attribute claims whose
        sources disagree; replace claims no source supports, never with
        a claim about an item another bullet of the edition cites (one story, one bullet; the
        failed claim's own story may give another sentence)."""
        used = {c.text for c in draft.claims}
        cited = Counter(i for c in draft.claims for i in c.cites)
        claims: list[Claim] = []
        by_theme = {t.id: t for t in themes}
        for claim in draft.claims:
            verdict = verdicts.get(claim.id)
            if verdict is None or verdict.label == "supported" or claim.final:
                claims.append(claim)  # a final claim leaves the loop as it is
                continue
            if verdict.support and len(claim.cites) > 1 and claim.cites[0] in verdict.support:
                # The sentence's own source says it; a report cited beside it does not (an
                # echo marked as the same event that is another): that citation goes.
                claims.append(
                    claim.model_copy(
                        update={"cites": list(verdict.support), "revision": claim.revision + 1}
                    )
                )
                continue
            if verdict.support and verdict.label == "contradicted":
                outlet = items[verdict.support[0]].source
                head, _, body = claim.text.partition("**：")
                text = (
                    f"{head}**：据{outlet}报道，{body}" if body else f"据{outlet}报道，{claim.text}"
                )
                claims.append(
                    claim.model_copy(
                        update={
                            "text": text,
                            "cites": list(verdict.support),
                            "revision": claim.revision + 1,
                        }
                    )
                )
                continue
            theme = by_theme[claim.theme_id]
            others = cited - Counter(claim.cites)  # the items the other bullets cite
            pool = [
                c
                for c in self.candidates(theme, stories, items)
                if c.kind == claim.kind and c.text not in used and not others.keys() & set(c.cites)
            ]
            replacement = self.rank(self._theme_vector(theme, stories), pool, 1)
            if replacement:
                used.add(replacement[0].text)
                cited = others + Counter(replacement[0].cites)
                claims.append(
                    claim.model_copy(
                        update={
                            "text": replacement[0].text,
                            "cites": list(replacement[0].cites),
                            "revision": claim.revision + 1,
                        }
                    )
                )
            else:
                claims.append(
                    claim.model_copy(update={"revision": claim.revision + 1, "final": True})
                )
        return draft.model_copy(update={"claims": claims})

    # ------------------------------------------------------------ frame
    @staticmethod
    def _title(
        window: WeekWindow, themes: Sequence[Theme], sections: Sequence[Section] = ()
    ) -> str:
        year, week = window.week.split("-W")
        if any(t.beat for t in themes):  # the lead events of the first two sections
            leads = [s.heading.split("：", 1)[-1] for s in sections[:2]]
            names = "；".join(leads or [t.name for t in themes[:2]])
        else:
            names = "；".join(
                t.keywords[0] + "与" + t.keywords[1] if len(t.keywords) > 1 else t.name
                for t in themes[:2]
            )
        return f"{year}年第{int(week)}周AI周报：{names}"

    @staticmethod
    def _lead(
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> str:
        first, last = window.days[0], window.days[-1]
        outlets = {o for s in stories.values() for o in s.outlets}
        multi = sorted(stories.values(), key=lambda s: -len(set(s.outlets)))[0] if stories else None
        text = (
            f"本周（{first.month}月{first.day}日至{last.month}月{last.day}日）共收录"
            f"{len(items)}条来源、{len(outlets)}家媒体，合并为{len(stories)}个事件，"
            f"归入{len(themes)}条主轴。"
        )
        if themes and themes[0].beat:
            text += f"本周最重要的事件是“{themes[0].name}”。"
        elif themes:
            text += (
                f"按报道来源计，“{themes[0].name}”一线最受关注，代表事件是“{themes[0].headline}”。"
            )
        if multi is not None and len(set(multi.outlets)) > 1:
            text += f"被最多媒体同时报道的事件是“{multi.title}”（{len(set(multi.outlets))}家）。"
        return text

    @staticmethod
    def _signal(theme: Theme, stories: Mapping[str, Story]) -> str:
        outlets = {o for s in theme.story_ids for o in stories[s].outlets}
        if theme.beat:
            return (
                f"**{theme.keywords[0] if theme.keywords else theme.name}**："
                f"本周{len(theme.story_ids)}个事件、{len(outlets)}家媒体；"
                f"下周观察“{theme.name}”是否出现后续报道与落地进展。"
            )
        return (
            f"**{theme.name}**：本周{len(theme.story_ids)}个事件、{len(outlets)}家媒体；"
            f"下周观察{'、'.join(theme.keywords[:3])}相关事件是否出现后续报道与落地进展。"
        )


def _versioned_names(title: str) -> set[str]:
    """Names with a version or model number in a title (GLM-5, Gemini 3.1 Pro): two titles
    sharing one tell the same release."""
    return {n.lower() for n in entities(title) if any(ch.isdigit() for ch in n) and len(n) >= 4}


def merge_sections(
    base: Draft, fresh: Draft, themes: Sequence[Theme], affected: Sequence[str]
) -> tuple[list[Section], list[Claim]]:
    """The sections (edition order, headings numbered again) and claims of an updated draft:
    the affected themes' from `fresh`, the others' from `base`."""
    rewritten = set(affected)
    sources = {s.theme_id: (s, fresh) for s in fresh.sections if s.theme_id in rewritten}
    sources.update((s.theme_id, (s, base)) for s in base.sections if s.theme_id not in rewritten)
    sections: list[Section] = []
    claims: list[Claim] = []
    for ordinal, theme in enumerate(themes):
        if theme.id not in sources:
            continue
        section, draft = sources[theme.id]
        wanted = set(section.claim_ids)
        claims.extend(c for c in draft.claims if c.id in wanted)
        sections.append(section.model_copy(update={"heading": renumber(section.heading, ordinal)}))
    return sections, claims


def ordinal(index: int) -> str:
    return _ORDINALS[index] if index < len(_ORDINALS) else str(index + 1)


def renumber(heading: str, index: int) -> str:
    """`主轴三：X` as the `index`-th section: `主轴一：X`."""
    head, colon, rest = heading.partition("：")
    if not colon or not head.startswith("主轴"):
        return heading
    return f"主轴{ordinal(index)}：{rest}"


def _top_importance(stories: Mapping[str, Story], count: int) -> float:
    """The importance of the week's `count`-th most important story told for itself (repeats
    and round-ups aside): the bar of its top stories."""
    ranked = sorted(
        (s.importance for s in stories.values() if s.repeats is None and not s.round_up),
        reverse=True,
    )
    if count <= 0 or not ranked:
        return float("inf")  # no top stories
    return ranked[min(count, len(ranked)) - 1]
