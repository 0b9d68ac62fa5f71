"""Domain types shared by every agent: sources, stories, themes, claims, verdicts, reports."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

Label = Literal["supported", "contradicted", "unsupported"]
# section_lead and outlook: judgement lines of the LLM engine, checked against the sources of
# the bullets they rest on.
ClaimKind = Literal["evidence", "impact", "lead", "section_lead", "outlook"]
RunStatus = Literal["ok", "partial", "failed", "interrupted"]
# Which of an item's times dates it, and which one a week's window selects by.
DatedBy = Literal["published", "collected"]

# The bounds of a source item's fields (README, "Sources"): longer text is cut and the item
# flagged `truncated`, never refused whole.
MAX_CHARS = {"id": 200, "title": 500, "source": 200, "category": 200, "summary": 5_000}
MAX_CHARS["body"] = 50_000
MAX_URL = 2_000
MAX_WEIGHT = 100.0
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_AFTER = timedelta(days=366)  # how far after its collection an item may be dated
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\t\n\r]+")
_ONE_LINE = ("id", "title", "source", "category", "url")
_WEB = re.compile(r"^\s*https?://", re.IGNORECASE)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def dated_in_range(moment: datetime, collected: datetime | None = None) -> bool:
    """From 2000-01-01 to 366 days after the item was collected (or now, when it is read or
    received): a date outside that is as good as unreadable."""
    reference = _aware(collected) if collected is not None else datetime.now(UTC)
    return EARLIEST <= _aware(moment) <= reference + LATEST_AFTER


class SourceItem(BaseModel):
    """One article or digest entry, normalized from any source format."""

    id: str
    title: str
    url: str
    source: str
    published: datetime
    lang: str = "zh"
    summary: str = ""
    body: str = ""
    category: str | None = None
    origin: str = ""
    weight: float = 1.0  # its source's weight (a sources file may weigh a source more)
    collected: datetime | None = None  # when a collector read it, where the source says
    # "collected": its publication date was unreadable, so `published` is its collection time.
    dated_by: DatedBy = "published"
    truncated: bool = False  # a field was longer than its bound (MAX_CHARS) and was cut

    @model_validator(mode="after")
    def _bounded(self) -> SourceItem:
        """Control characters stripped, text cut at its bound, a link other than http(s)
        dropped (the item kept, without one), the weight finite and in range, the dates in
        range (outside it, the collection time, or the time it is read, stands in, flagged):
        whatever an entrance let through, no item can break what files or publishes it."""
        for name in (*MAX_CHARS, "url"):
            value = getattr(self, name)
            if value is None:
                continue
            clean = _CONTROL.sub("", value)
            if name in _ONE_LINE:
                clean = _LINE_BREAK.sub(" ", clean)
            limit = MAX_CHARS.get(name)
            if limit is not None and len(clean) > limit:
                clean = clean[:limit]
                self.truncated = True
            if clean != value:
                setattr(self, name, clean)
        if not _WEB.match(self.url):  # javascript:, data:, file: dropped, the item kept
            self.url = ""
        if not math.isfinite(self.weight):
            self.weight = 1.0
        self.weight = min(max(self.weight, 0.0), MAX_WEIGHT)
        if self.collected is not None and not dated_in_range(self.collected):
            self.collected = None
        if not dated_in_range(self.published, self.collected):
            stand_in = self.collected or datetime.now(UTC)
            self.published, self.collected, self.dated_by = stand_in, stand_in, "collected"
        return self

    def moment(self, by: DatedBy = "published") -> datetime:
        """The time a window selects it by: its collection time (else its publication time)
        with `collected`, its publication time otherwise."""
        if by == "collected" and self.collected is not None:
            return self.collected
        return self.published

    @property
    def text(self) -> str:
        """Everything a claim may be checked against."""
        return "\n".join(part for part in (self.title, self.summary, self.body) if part)


class SourceProblem(BaseModel):
    """A file or entry that could not be read; reported, never fatal for the others."""

    origin: str
    message: str


class Story(BaseModel):
    """One event, with every source that reported it (more sources, more weight)."""

    id: str
    title: str
    item_ids: list[str]
    outlets: list[str]
    lang: str
    published: datetime
    category: str | None = None
    outlet_weights: dict[str, float] = Field(default_factory=dict)  # only those other than 1
    # The editor's judgement (the desk): its beat, its importance and the terms of that score.
    beat: str | None = None
    beat_margin: float = 0.0  # how far its beat's score is ahead of the next beat's
    importance: float = 0.0
    importance_terms: dict[str, float] = Field(default_factory=dict)
    round_up: bool = False
    repeats: str | None = None  # a more important story of the same event: shown once, there

    @property
    def weight(self) -> float:
        """One per outlet that reported it, or that outlet's source weight."""
        return sum(self.outlet_weights.get(o, 1.0) for o in set(self.outlets))


class Theme(BaseModel):
    """A group of stories the edition treats as one axis (主轴)."""

    id: str
    name: str
    keywords: list[str]
    headline: str
    story_ids: list[str]
    weight: float
    cohesion: float = 0.0
    beat: str | None = None  # the desk's beat the theme is built from


class Claim(BaseModel):
    """One checkable sentence of the draft, with the items it cites."""

    id: str
    theme_id: str
    kind: ClaimKind = "evidence"
    text: str
    cites: list[str]
    revision: int = 0
    # The writer has nothing better to offer: the claim leaves the revision loop as it is.
    final: bool = False
    # A judgement line (a section lead, an outlook line): the bullets it rests on.
    rests_on: list[str] = Field(default_factory=list)
    # Shown before the checked text and not checked against the items: figures the newsroom
    # computed itself (a storyline's weeks, stories and outlets), said as such.
    context: str = ""


class Evidence(BaseModel):
    """A sentence of a cited item that a verdict rests on."""

    item_id: str
    sentence: str


class Verdict(BaseModel):
    """The fact-checker's judgement of one claim against the sources it cites."""

    claim_id: str
    label: Label
    reasons: list[str] = Field(default_factory=list)
    support: list[str] = Field(default_factory=list)
    against: list[str] = Field(default_factory=list)
    method: Literal["rules", "llm"] = "rules"
    # Rules found nothing wrong but could not confirm the wording (a paraphrase, a translation).
    unsettled: bool = False
    # The cited sentences the verdict rests on (the model, when asked, sees only these).
    evidence: list[Evidence] = Field(default_factory=list)


class Section(BaseModel):
    theme_id: str
    heading: str
    lead: str
    claim_ids: list[str]
    note: str = ""


class Draft(BaseModel):
    """The writer's output: data, rendered only at publish time."""

    title: str
    lead: str
    sections: list[Section]
    claims: list[Claim]
    outlook: list[str]
    closing: str
    advice: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # The closing and the advice are the newsroom's opinion, published and labelled as such
    # rather than checked (the LLM engine's frame).
    opinion: bool = False


class Opinion(BaseModel):
    """A line published as the newsroom's opinion, not as a checked fact."""

    kind: Literal["closing", "advice"]
    text: str


class Usage(BaseModel):
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0
    fallbacks: int = 0
    by_agent_model: dict[str, dict[str, int]] = Field(default_factory=dict)


class LeftOut(BaseModel):
    """An item the desk does not cover: left out of the weekly and the briefing."""

    id: str
    title: str
    reason: str
    score: float
    origin: str = ""  # where it was read (file, feed)


class Report(BaseModel):
    """What `report.json` holds."""

    week: str
    title: str
    generator: str
    models: dict[str, str] = Field(default_factory=dict)
    themes: list[Theme]
    stories: list[Story]
    claims: list[Claim]
    verdicts: list[Verdict]
    dropped: list[Claim]
    sources: list[SourceItem]
    # The closing and the advice, where they are published as opinion (labelled in the edition).
    opinion: list[Opinion] = Field(default_factory=list)
    left_out: list[LeftOut] = Field(default_factory=list)  # off the desk, with the reason
    # Items kept although their publication date was unreadable: dated by collection time.
    dated_by_collection: list[str] = Field(default_factory=list)


class RunSummary(BaseModel):
    """What `run.json` holds."""

    run_id: str
    week: str
    status: RunStatus
    stop_reason: str | None = None
    engine: str
    started: datetime
    finished: datetime | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    problems: list[SourceProblem] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)
    guard: dict[str, Any] = Field(default_factory=dict)
    tripped: dict[str, Any] | None = None
    update: dict[str, Any] | None = None  # an update: its base run, what it kept and re-wrote
    history: list[str] = Field(default_factory=list)  # weeks whose storylines `--history` built
    history_skipped: dict[str, str] = Field(default_factory=dict)  # week → why it was not
