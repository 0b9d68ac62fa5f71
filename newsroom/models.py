"""Domain types shared by every agent: sources, stories, themes, claims, verdicts, reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Label = Literal["supported", "contradicted", "unsupported"]
ClaimKind = Literal["evidence", "impact", "lead"]
RunStatus = Literal["ok", "partial", "failed", "interrupted"]


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


class Usage(BaseModel):
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0
    fallbacks: int = 0
    by_agent_model: dict[str, dict[str, int]] = Field(default_factory=dict)


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
