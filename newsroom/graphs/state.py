"""Graph state: the input the caller gives, and the internal state the nodes fill in."""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired, TypedDict

from newsroom.llm import add_usage
from newsroom.models import (
    Claim,
    Draft,
    LeftOut,
    SourceItem,
    SourceProblem,
    Story,
    Theme,
    Verdict,
)


def add_times(left: dict[str, float], right: dict[str, float]) -> dict[str, float]:
    """Seconds per step; a step that runs again (fact_check, revise) adds up."""
    return {key: left.get(key, 0.0) + right.get(key, 0.0) for key in {*left, *right}}


class WeeklyInput(TypedDict):
    week: str
    base_run: NotRequired[str]  # an update: the run whose edition it starts from


class WeeklyState(TypedDict, total=False):
    week: str
    base_run: str
    affected: list[str]  # an update: the themes to (re)write; absent in a full run
    update: dict[str, Any]  # an update: what it kept and what it re-wrote
    items: list[SourceItem]
    history: list[SourceItem]  # earlier weeks' items the outlook cites (from the storylines)
    left_out: list[LeftOut]  # items off the desk, with the reason
    problems: list[SourceProblem]
    failed_sources: list[str]  # sources (from a sources file) that gave nothing this run
    outside_window: int
    stories: list[Story]
    themes: list[Theme]
    draft: Draft
    verdicts: dict[str, Verdict]
    revisions: int
    rounds: list[list[list[str]]]  # per round, the failing [claim id, text, label]
    tripped: dict[str, Any]
    dropped: list[Claim]
    published: dict[str, str]
    tool_calls: Annotated[int, operator.add]
    usage: Annotated[dict[str, dict[str, int]], add_usage]
    timings: Annotated[dict[str, float], add_times]


SERIALIZED_TYPES = [
    ("newsroom.models", name)
    for name in (
        "SourceItem",
        "SourceProblem",
        "Story",
        "Theme",
        "Claim",
        "Verdict",
        "Section",
        "Draft",
        "LeftOut",
    )
]
