"""The LLM engine's agents: the offline methods do the cheap, exact work; the model names,
writes, revises and judges what rules cannot. Every source reaches the writer once, as data."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field

from newsroom.agents.clusterer import OfflineClusterer
from newsroom.agents.fact_checker import OfflineFactChecker
from newsroom.agents.incremental import Base, Placement, place
from newsroom.agents.researcher import OfflineResearcher, Research
from newsroom.agents.writer import OfflineWriter, merge_sections
from newsroom.errors import GuardTripped
from newsroom.llm import (
    DATA_RULE,
    Agent,
    StructuredOutputError,
    cited_ids,
    fence_attribute,
    fence_text,
    source_block,
)
from newsroom.models import Claim, ClaimKind, Draft, Section, SourceItem, Story, Theme, Verdict
from newsroom.storylines import OutlookLine, line_claims, phrased_claim, with_outlook
from newsroom.tools.client import ToolSession
from newsroom.weeks import WeekWindow

LANGUAGES = {"zh": "Simplified Chinese", "en": "English"}


def _system(role: str, lang: str) -> Any:
    from langchain_core.messages import SystemMessage

    return SystemMessage(
        content=f"You are the {role} of a newsroom that publishes a weekly AI industry "
        f"analysis in {LANGUAGES.get(lang, lang)}. {DATA_RULE} Translate sources in other "
        "languages faithfully; never add facts, figures or dates that the sources do not give."
    )


def _human(text: str) -> Any:
    from langchain_core.messages import HumanMessage

    return HumanMessage(content=text)


# Every value that comes from a source (ids, outlets, titles, text), or is written from one (a
# theme's keywords and name, a heading, a bullet, a claim under revision, a checker's reasons),
# reaches a prompt inside a <source> block (`source_block`); an id the model must answer with
# stands in the block's id attribute, escaped, and `cited_ids` reads it back. Outside blocks a
# prompt has the newsroom's own words and ids (themes, claims, bullets, `claim/n`), a value cut
# to `_token`'s characters, and one exception: the fact-checker's claims (see there).
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


def _token(value: str, limit: int = 64) -> str:
    """An id the model gave, fit to be named outside a block: safe characters only, short."""
    return _UNSAFE.sub("_", value)[:limit]


# ---------------------------------------------------------------- researcher
T = TypeVar("T")


class LLMResearcher:
    """Gathers like the offline researcher, then lets the model pick, by tool calls, which thin
    items need their full record from the archive: at most `max_steps` model calls (usually one)
    and `max_fetch` fetches."""

    def __init__(
        self, agent: Agent, max_fetch: int = 8, thin: int = 60, max_steps: int = 3
    ) -> None:
        self.agent = agent
        self.max_fetch = max_fetch
        self.thin = thin
        self.max_steps = max_steps

    async def gather(self, window: WeekWindow, archive: ToolSession) -> Research:
        research = await OfflineResearcher().gather(window, archive)
        thin = [i for i in research.items if len(i.summary) + len(i.body) < self.thin]
        if not thin:
            return research
        listing = "\n".join(source_block(i.id, i.source, f"{i.title}\n{i.summary}") for i in thin)

        tools = await archive.function_tools({"item"})
        messages: list[Any] = [
            _system("researcher", "en"),
            _human(
                "These items have little text. Call archive_item with the id of each one whose "
                f"full text a weekly analysis would need (at most {self.max_fetch} in all); "
                f"call nothing when nothing more is needed.\n{listing}"
            ),
        ]
        try:
            await self._enrich(research, messages, tools, archive)
        except GuardTripped as tripped:
            research.tripped = tripped
        return research

    async def _enrich(
        self, research: Research, messages: list[Any], tools: list[Any], archive: ToolSession
    ) -> None:
        from langchain_core.messages import ToolMessage

        known = {i.id: i for i in research.items}
        ids = cited_ids(list(known))
        fetched = 0
        for _ in range(self.max_steps):
            reply = await self.agent.invoke(messages, tools=tools)
            calls = [
                c
                for c in getattr(reply, "tool_calls", None) or []
                if c.get("name") == "archive_item"
            ]
            if not calls or fetched >= self.max_fetch:
                break
            messages.append(reply)
            for call in calls[: self.max_fetch - fetched]:
                asked = str(call["args"].get("id", ""))
                item_id = ids.get(asked)
                if item_id is not None:
                    record = await archive.call("item", {"id": item_id})
                    fuller = SourceItem.model_validate(record["item"])
                    known[item_id].body = fuller.body or known[item_id].body
                    fetched += 1
                    answer = source_block(item_id, fuller.source, fuller.text)
                else:
                    answer = f"no item {_token(asked)!r} among the listed items"
                messages.append(ToolMessage(content=answer, tool_call_id=call.get("id") or "call"))


# A theme's most central stories (story_ids are ordered by centrality) are what a model is
# shown of it: prompts stay bounded however large the week.
SHOWN_STORIES = 40


# ---------------------------------------------------------------- clusterer
class NamedTheme(BaseModel):
    id: str
    title: str = Field(description="An editorial heading for the theme, 12-30 characters.")


class Move(BaseModel):
    story_id: str
    theme_id: str


class ThemePlan(BaseModel):
    """Editorial titles for the themes, and stories that belong in another theme."""

    themes: list[NamedTheme]
    moves: list[Move] = Field(default_factory=list)


async def settle(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run `calls` together and wait for all of them, even when one fails (a guard that stops
    one section must not leave the others' calls in flight, unrecorded); then raise the first
    failure."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


class LLMClusterer:
    """Clusters by the offline algorithm, then one call names the themes and fixes misplacements."""

    def __init__(self, agent: Agent, offline: OfflineClusterer, lang: str = "zh") -> None:
        self.agent = agent
        self.offline = offline
        self.lang = lang

    def judge(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> list[Story]:
        """The same desk, beats and importance as the offline engine."""
        return self.offline.judge(stories, items)

    async def themes(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> list[Theme]:
        return await self._named(self.offline.build_themes(stories, items), stories)

    async def _named(self, themes: list[Theme], stories: Sequence[Story]) -> list[Theme]:
        """One call: editorial titles for `themes`, and stories moved where they belong."""
        by_story = {s.id: s for s in stories}
        # A theme's keywords, its stories' ids and titles all come from the sources: each
        # theme is one block.
        listing = "\n".join(
            source_block(
                t.id,
                "",
                f"theme {t.id} | keywords: {'、'.join(t.keywords)}\n"
                + "\n".join(
                    f"  story {sid}: {by_story[sid].title}" for sid in t.story_ids[:SHOWN_STORIES]
                )
                + (
                    f"\n  (and {len(t.story_ids) - SHOWN_STORIES} less central stories)"
                    if len(t.story_ids) > SHOWN_STORIES
                    else ""
                ),
            )
            for t in themes
        )
        try:
            plan = await self.agent.structured(
                ThemePlan,
                [
                    _system("clusterer", self.lang),
                    _human(
                        "Give each theme an editorial heading in the report language, like a "
                        "magazine section title. Move a story only if it clearly belongs to "
                        "another theme. Each theme is one source block: its id, its keywords, "
                        f"and the ids and titles of its stories.\n{listing}"
                    ),
                ],
            )
        except StructuredOutputError:
            return themes
        ids = {t.id for t in themes}
        for move in plan.moves:
            if move.story_id in by_story and move.theme_id in ids:
                for theme in themes:
                    if move.story_id in theme.story_ids:
                        theme.story_ids.remove(move.story_id)
                target = next(t for t in themes if t.id == move.theme_id)
                target.story_ids.append(move.story_id)
        titles = {n.id: n.title.strip() for n in plan.themes if n.id in ids and n.title.strip()}
        kept = [t for t in themes if t.story_ids]
        for theme in kept:
            theme.name = titles.get(theme.id, theme.name)
            theme.weight = sum(by_story[s].weight for s in theme.story_ids)
        return kept

    async def update(
        self, base: Base, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> Placement:
        """The offline placement; a theme that was in `base` keeps its editorial title, and
        a week re-clustered whole is named again by the model."""
        placement = place(self.offline, base, stories, items)
        if placement.full:
            placement.themes = await self._named(placement.themes, stories)
            placement.affected = [t.id for t in placement.themes]
            return placement
        titles = {t.id: t.name for t in base.themes}
        for theme in placement.themes:
            theme.name = titles.get(theme.id, theme.name)
        return placement


# ---------------------------------------------------------------- writer
class Bullet(BaseModel):
    text: str
    cites: list[str] = Field(description="ids of the <source> blocks that state this")


class SectionLead(BaseModel):
    """A theme's lead: a judgement that rests on some of its evidence bullets."""

    text: str
    rests_on: list[int] = Field(
        description="numbers (1 = the first) of the evidence bullets this lead rests on"
    )


class ThemeSection(BaseModel):
    """One theme of the edition."""

    evidence: list[Bullet]
    impact: Bullet
    lead: SectionLead


class FrameLine(BaseModel):
    """A line of the frame that rests on bullets of the themes."""

    text: str
    bullets: list[str] = Field(description="the [bullet: …] ids it rests on")


class StorylineLine(BaseModel):
    storyline: str = Field(description="the storyline's source block id (storyline-N)")
    text: str = Field(description="one sentence on what the storyline's stories state")
    stories: list[str] = Field(description="the ids of the stories ([id]) the line rests on")


class Frame(BaseModel):
    """The edition's frame around the themes."""

    title: str
    lead: list[FrameLine] = Field(
        description="2-4 factual sentences summing up the week, each with the [bullet: …] ids "
        "it draws on"
    )
    outlook: list[FrameLine] = Field(
        description="signals to watch, one per line, each with the [bullet: …] ids it rests on"
    )
    storylines: list[StorylineLine] = Field(
        default_factory=list,
        description="one line per storyline source block, where there are any (the outlook)",
    )
    advice: list[str] = Field(description="one line per role: '角色：建议' (published as opinion)")
    closing: str = Field(description="a closing paragraph (published as the newsroom's opinion)")


class Revision(BaseModel):
    claim_id: str
    text: str
    cites: list[str]


class Revisions(BaseModel):
    """Rewritten claims."""

    claims: list[Revision]


class LLMWriter:
    """One structured call per theme (its sources, each sent once), one for the frame, and one
    per revision round for every failing claim. A malformed theme falls back to the offline
    writer and says so in the edition."""

    def __init__(self, agent: Agent, offline: OfflineWriter, lang: str = "zh") -> None:
        self.agent = agent
        self.offline = offline
        self.lang = lang

    async def write(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        outlook: Sequence[OutlookLine] = (),
    ) -> Draft:
        draft = await self._sections(window, themes, stories, items)
        return await self._frame(window, draft, draft.claims, draft, outlook)

    async def update(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        affected: Sequence[str],
        base: Draft,
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        """One call per affected theme and one for the frame; the other sections are `base`'s."""
        todo = [t for t in themes if t.id in set(affected)]
        fresh = await self._sections(window, todo, stories, items)
        merged, claims = merge_sections(base, fresh, themes, affected)
        offline = self.offline.frame(window, themes, stories, items, merged, claims)
        return await self._frame(window, offline, claims, offline)

    async def _sections(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        """The offline draft of `themes` with one model-written section per theme (the offline
        section where the model's fails), all calls together."""
        fallback = await self.offline.write(window, themes, stories, items)
        # A theme the offline writer found too thin for a section has none here either.
        written = {section.theme_id: n for n, section in enumerate(fallback.sections)}
        sections = await settle(
            self._section(written[t.id], t, stories, items, fallback)
            for t in themes
            if t.id in written
        )
        return fallback.model_copy(
            update={
                "sections": [section for section, _ in sections],
                "claims": [claim for _, section_claims in sections for claim in section_claims],
            }
        )

    async def _section(
        self,
        index: int,
        theme: Theme,
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        fallback: Draft,
    ) -> tuple[Section, list[Claim]]:
        offline_section = fallback.sections[index]
        ids = [i for s in theme.story_ids[:SHOWN_STORIES] for i in stories[s].item_ids]
        # The theme's name (its keywords, or the clusterer's title) is data too: a block with
        # no id, which nothing can cite.
        blocks = "\n".join(
            [
                source_block("", "", theme.name),
                *(source_block(i, items[i].source, items[i].text) for i in ids),
            ]
        )
        try:
            section = await self.agent.structured(
                ThemeSection,
                [
                    _system("writer", self.lang),
                    _human(
                        "The theme's name is the first source block (it has no id), its "
                        "sources are the others. Write 3-5 evidence bullets, each one factual "
                        "sentence citing the ids of the sources that state it, one impact "
                        "judgement grounded in the sources, and the theme's lead (1-2 "
                        "sentences) with the numbers of the evidence bullets it rests on. The "
                        "lead is fact-checked against those bullets' sources: say nothing they "
                        f"do not.\n{blocks}"
                    ),
                ],
            )
        except StructuredOutputError:
            claims = [c for c in fallback.claims if c.theme_id == theme.id]
            note = "本节的模型输出两次不合格，已改用离线方法（抽取式）撰写。"
            return offline_section.model_copy(update={"note": note}), claims
        known = cited_ids(ids)
        claims = []
        bullets = [(b, "evidence") for b in section.evidence] + [(section.impact, "impact")]
        for number, (bullet, kind) in enumerate(bullets, start=1):
            cites = list(dict.fromkeys(known[c] for c in bullet.cites if c in known))
            if not cites or not bullet.text.strip():
                continue
            claims.append(
                Claim(
                    id=f"{theme.id}-c{number}",
                    theme_id=theme.id,
                    kind="impact" if kind == "impact" else "evidence",
                    text=one_line(bullet.text),
                    cites=cites,
                )
            )
        lead = section_lead(theme.id, section.lead, [c for c in claims if c.kind == "evidence"])
        claims = [lead, *claims] if lead is not None else claims
        heading = offline_section.heading.split("：")[0] + "：" + theme.name
        return (
            offline_section.model_copy(
                update={
                    "heading": heading,
                    # A lead is published only as its checked claim (or not at all).
                    "lead": "",
                    "claim_ids": [c.id for c in claims],
                }
            ),
            claims,
        )

    async def _frame(
        self,
        window: WeekWindow,
        draft: Draft,
        claims: Sequence[Claim],
        fallback: Draft,
        outlook: Sequence[OutlookLine] = (),
    ) -> Draft:
        bullets = {c.id: c for c in claims if c.kind in ("evidence", "impact")}
        # Headings and bullets are written from the sources: each theme is one block.
        outline = "\n".join(
            source_block(
                s.theme_id,
                "",
                f"## {s.heading}\n"
                + "\n".join(
                    f"- {c.text} [bullet: {c.id}]"
                    for c in claims
                    if c.id in s.claim_ids and c.id in bullets
                ),
            )
            for s in draft.sections
        )
        if outlook:
            # The outlook is phrased from the storylines: what each one's stories (this
            # week's and an earlier edition's) state; the store's figures stand beside it.
            ask_outlook = (
                "The storylines the newsroom has followed across its editions follow the "
                "themes, one source block each (id storyline-N): for each, one outlook line "
                "on what its stories state changed or continued, with that id and the [ids] "
                "of the stories it rests on (it is checked against each of them). Its weeks "
                "and counts are published beside your line: leave them out. Leave `outlook` "
                "empty."
            )
            outline += "\n" + "\n".join(
                source_block(f"storyline-{k}", "", storyline_text(line))
                for k, line in enumerate(outlook, start=1)
            )
        else:
            ask_outlook = (
                "Write 4-6 outlook lines (observable signals to watch), each with the "
                "[bullet: …] ids it rests on."
            )
        try:
            frame = await self.agent.structured(
                Frame,
                [
                    _system("editor", self.lang),
                    _human(
                        f"The themes of week {window.week} are below, one source block each: "
                        "its heading and its bullets with their ids. Write the edition's title "
                        "and a lead of 2-4 factual sentences, each with the [bullet: …] ids it "
                        f"rests on. {ask_outlook} The lead and the outlook are fact-checked "
                        "against the sources they rest on, and a line that fails is dropped. "
                        "Then write advice for 3-4 roles and a closing paragraph, which are "
                        "published as the newsroom's opinion. Use only what the sources say."
                        f"\n{outline}"
                    ),
                ],
            )
        except StructuredOutputError:
            notes = [*draft.notes, "标题与导语由离线方法生成。"]
            if outlook:
                notes.append("趋势展望由离线方法依故事线生成。")
            return with_outlook(draft.model_copy(update={"notes": notes}), outlook)
        # The lead and the outlook are claims: each cites the bullets it rests on (their
        # sources are what it is checked against) or is dropped.
        lead = frame_claims("lead", "lead", frame.lead, bullets)
        if outlook:
            ahead, notes = storyline_claims(frame.storylines, outlook)
        else:
            ahead, notes = frame_claims("outlook", "outlook", frame.outlook, bullets), []
        return draft.model_copy(
            update={
                "title": one_line(frame.title) or fallback.title,
                "lead": "" if lead else fallback.lead,
                "claims": [*draft.claims, *lead, *ahead],
                "outlook": [] if outlook or frame.outlook else fallback.outlook,
                "advice": [one_line(line) for line in frame.advice if one_line(line)],
                "closing": one_line(frame.closing),
                "opinion": True,
                "notes": [*draft.notes, *notes],
            }
        )

    async def revise(
        self,
        draft: Draft,
        verdicts: Mapping[str, Verdict],
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft:
        # A final claim (a storyline's outlook line) leaves the loop as it is: dropped if it
        # failed, never rewritten to cite something else.
        failing = [c for c in draft.claims if verdicts[c.id].label != "supported" and not c.final]
        if not failing:
            return draft
        cited = list(dict.fromkeys(i for c in failing for i in c.cites if i in items))
        blocks = "\n".join(source_block(i, items[i].source, items[i].text) for i in cited)
        # A claim, its cites and the checker's reasons quote the sources: one block each.
        listing = "\n".join(
            source_block(
                c.id,
                "",
                json.dumps(
                    {
                        "claim_id": c.id,
                        "text": c.text,
                        "cites": [fence_attribute(i) for i in c.cites],
                        "problem": "; ".join(verdicts[c.id].reasons) or verdicts[c.id].label,
                    },
                    ensure_ascii=False,
                ),
            )
            for c in failing
        )
        try:
            revised = await self.agent.structured(
                Revisions,
                [
                    _system("writer", self.lang),
                    _human(
                        "The fact-checker rejected these claims, one source block each (a JSON "
                        "line: its id, text, cites and the problem found). Rewrite each so that "
                        "the sources it cites support it (attribute disputed figures to their "
                        f"outlet), or cite other given sources.\n{listing}\n{blocks}"
                    ),
                ],
            )
        except StructuredOutputError:
            return await self.offline.revise(draft, verdicts, themes, stories, items)
        fixes = {r.claim_id: r for r in revised.claims}
        shown = cited_ids(cited)
        claims = []
        for claim in draft.claims:
            fix = fixes.get(claim.id)
            if claim in failing:
                update: dict[str, Any] = {"revision": claim.revision + 1}
                cites = [] if fix is None else [shown.get(c, c) for c in fix.cites]
                cites = list(dict.fromkeys(c for c in cites if c in items))
                if fix is not None and cites and one_line(fix.text):
                    update |= {"text": one_line(fix.text), "cites": cites}
                claim = claim.model_copy(update=update)
            claims.append(claim)
        return draft.model_copy(update={"claims": claims})


def section_lead(theme_id: str, lead: SectionLead, evidence: Sequence[Claim]) -> Claim | None:
    """A theme's lead as a claim citing the sources of the bullets it rests on; None when it
    rests on none of them (a lead with nothing under it is not published)."""
    rests = [evidence[n - 1] for n in dict.fromkeys(lead.rests_on) if 1 <= n <= len(evidence)]
    if not rests or not one_line(lead.text):
        return None
    return Claim(
        id=f"{theme_id}-lead",
        theme_id=theme_id,
        kind="section_lead",
        text=one_line(lead.text),
        cites=list(dict.fromkeys(i for c in rests for i in c.cites)),
        rests_on=[c.id for c in rests],
    )


def one_line(text: str) -> str:
    """A model's sentence as the edition prints it: one line, whitespace collapsed, no heading,
    list or quote marker of its own (a reply cannot open a section of the weekly)."""
    line = " ".join(text.split())
    return re.sub(r"^(?:[#>*+\-]+|\d+[.)])\s*", "", line).strip()


def storyline_text(line: OutlookLine) -> str:
    """A storyline as the model sees it: the store's figures, then each story's week, id and
    what its item says."""
    stories = [f"{p.label or '本周：'}[{p.item_id}] {p.source}" for p in line.parts]
    return "\n".join([line.context, *stories])


def storyline_claims(
    phrased: Sequence[StorylineLine], lines: Sequence[OutlookLine]
) -> tuple[list[Claim], list[str]]:
    """The model's outlook lines as claims, each citing the stories of its storyline it rests
    on; a storyline it left unphrased keeps the offline phrasing, said in a note."""
    text: dict[int, tuple[str, list[str]]] = {}
    for said in phrased:
        number = re.fullmatch(r"storyline-([0-9]{1,4})", said.storyline.strip().lower())
        sentence = one_line(said.text)
        if number and 1 <= int(number.group(1)) <= len(lines) and sentence:
            rests_on = [s.strip("[] ") for s in said.stories]
            text.setdefault(int(number.group(1)), (sentence, rests_on))
    claims = []
    for k, line in enumerate(lines, start=1):
        if k in text:
            claims.append(phrased_claim(k, line, *text[k]))
        else:
            claims += line_claims(k, line)
    missed = len(lines) - len(text)
    notes = [f"趋势展望中{missed}条由离线方法依故事线生成（模型未写）。"] if missed else []
    return claims, notes


def frame_claims(
    prefix: str, kind: ClaimKind, lines: Sequence[FrameLine], bullets: Mapping[str, Claim]
) -> list[Claim]:
    """Frame lines as claims citing the sources of the bullets they rest on; lines resting on
    no known bullet are left out."""
    out = []
    for number, line in enumerate(lines, start=1):
        rests = [bullets[b] for b in dict.fromkeys(b.strip() for b in line.bullets) if b in bullets]
        if not rests or not one_line(line.text):
            continue
        out.append(
            Claim(
                id=f"{prefix}-c{number}",
                theme_id=prefix,
                kind=kind,
                text=one_line(line.text),
                cites=list(dict.fromkeys(i for c in rests for i in c.cites)),
                rests_on=[c.id for c in rests],
            )
        )
    return out


# ---------------------------------------------------------------- fact-checker
class Judgement(BaseModel):
    claim_id: str
    label: Literal["supported", "contradicted", "unsupported"]
    reason: str


class Judgements(BaseModel):
    """Entailment verdicts."""

    verdicts: list[Judgement]


class LLMFactChecker:
    """The deterministic checks first (free); then, once per check round, one entailment call
    for the claims they could not settle (`unsettled`). The model sees each such claim and only
    the cited sentences its verdict rests on, never whole items; a claim the rules settled is
    never put to it."""

    def __init__(self, agent: Agent, rules: OfflineFactChecker) -> None:
        self.agent = agent
        self.rules = rules

    async def check_all(
        self, claims: Sequence[Claim], sources: Mapping[str, SourceItem]
    ) -> dict[str, Verdict]:
        verdicts = await self.rules.check_all(claims, sources)
        open_claims = [c for c in claims if verdicts[c.id].unsettled]
        if not open_claims:
            return verdicts
        # The cited items of each claim, numbered: a block is named `claim/n`, never by its
        # item's id (a source's value), so that the claims' list names only our own ids. The
        # blocks hold only the cited sentences (the model sees nothing else of the items), so a
        # claim's text, the writer's, stands outside them, in JSON, unable to open or close a
        # block.
        cited = {
            c.id: [
                i for i in dict.fromkeys(e.item_id for e in verdicts[c.id].evidence) if i in sources
            ]
            for c in open_claims
        }
        blocks = "\n".join(
            source_block(
                f"{c.id}/{n}",
                sources[i].source,
                "\n".join(e.sentence for e in verdicts[c.id].evidence if e.item_id == i),
            )
            for c in open_claims
            for n, i in enumerate(cited[c.id], start=1)
        )
        listing = "\n".join(
            fence_text(
                json.dumps(
                    {
                        "claim_id": c.id,
                        "text": c.text,
                        "sentences": [f"{c.id}/{n}" for n in range(1, len(cited[c.id]) + 1)],
                    },
                    ensure_ascii=False,
                )
            )
            for c in open_claims
        )
        try:
            judged = await self.agent.structured(
                Judgements,
                [
                    _system("fact-checker", "en"),
                    _human(
                        "For each claim decide whether the cited sentences given for it "
                        "(the source blocks named in its `sentences`) support it (supported), "
                        "say otherwise (contradicted), or do not say it (unsupported). Judge "
                        "only from those sentences. Give a short reason."
                        f"\nClaims:\n{listing}\n{blocks}"
                    ),
                ],
            )
        except StructuredOutputError:
            return verdicts
        for judgement in judged.verdicts:
            verdict = verdicts.get(judgement.claim_id)
            if verdict is None or not verdict.unsettled:
                continue
            verdicts[judgement.claim_id] = verdict.model_copy(
                update={
                    "label": judgement.label,
                    "reasons": [*verdict.reasons, f"model: {judgement.reason}"],
                    "method": "llm",
                    "unsettled": False,
                }
            )
        return verdicts
