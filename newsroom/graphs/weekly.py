"""The weekly graph: research → dedup → cluster → write → fact_check ⇄ revise → publish."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from newsroom.agents import Engine
from newsroom.agents.incremental import Base, reused_verdicts
from newsroom.agents.researcher import Research
from newsroom.errors import EmptyWeek, GuardTripped
from newsroom.graphs.state import WeeklyInput, WeeklyState
from newsroom.guards.loops import check_progress
from newsroom.llm import usage_delta
from newsroom.methods.desk import Desk
from newsroom.models import Draft, LeftOut, SourceItem, SourceProblem, Story
from newsroom.observability import semconv as sc
from newsroom.observability.tracing import traced_agent
from newsroom.publish import FrontMatter, publish_edition
from newsroom.sources import SourcesFile
from newsroom.tools.client import ArchiveConfig, open_archive
from newsroom.weeks import WeekWindow, parse_week, week_of

if TYPE_CHECKING:
    from newsroom.storylines import OutlookLine


@dataclass
class RunContext:
    """What the nodes need that is not state: never checkpointed, given again on resume."""

    engine: Engine
    window: WeekWindow
    archive: ArchiveConfig
    out_dir: Path
    run_id: str
    max_revisions: int = 2
    front_matter: FrontMatter = field(default_factory=FrontMatter)
    categories: dict[str, str] | None = None  # digest categories: name → description
    day: date | None = None  # also publish that day's digest
    sources: SourcesFile | None = None  # a sources file, instead of the archive folder
    base: Base | None = None  # an update: the edition it starts from
    storylines: Path | None = None  # the storyline store (None: no storylines kept)


def _items(state: Mapping[str, Any]) -> dict[str, SourceItem]:
    return {item.id: item for item in state.get("items", [])}


def _cited(state: Mapping[str, Any]) -> dict[str, SourceItem]:
    """What claims may cite: the week's items and the earlier weeks' items the outlook cites."""
    return {item.id: item for item in [*state.get("history", []), *state.get("items", [])]}


class Node(Protocol):
    """A graph node: state in, an update out; the runtime carries the RunContext."""

    async def __call__(
        self, state: WeeklyState, *, runtime: Runtime[RunContext]
    ) -> dict[str, Any]: ...


def step(agent: str, name: str) -> Callable[[Node], Node]:
    """An `invoke_agent` span around the node, and its time and model usage added to state."""

    def decorate(node: Node) -> Node:
        @traced_agent(agent)
        @functools.wraps(node)
        async def wrapper(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
            started = time.perf_counter()
            ledger = runtime.context.engine.ledger
            before = ledger.snapshot()
            try:
                update = await node(state, runtime=runtime)
            except GuardTripped as tripped:
                from opentelemetry import trace

                trace.get_current_span().add_event(
                    sc.EVENT_GUARD_TRIPPED,
                    {sc.GUARD: tripped.guard, sc.GUARD_MESSAGE: str(tripped)},
                )
                raise
            update["timings"] = {**update.get("timings", {}), name: time.perf_counter() - started}
            update["usage"] = usage_delta(before, ledger.snapshot())
            return update

        return wrapper

    return decorate


async def gather_week(
    ctx: RunContext, window: WeekWindow, archive: ArchiveConfig | None = None
) -> tuple[Research, int, list[str], str]:
    """The week's items from the run's sources: what was found, the tool calls it took, the
    sources that gave nothing, and where it looked."""
    if ctx.sources is not None:
        from newsroom.tools.gather import gather, open_servers

        async with open_servers(
            ctx.sources, window.tz, ctx.archive.transport, ctx.archive.trace_file
        ) as servers:
            gathered = await gather(window, ctx.sources, servers)
        found = Research(gathered.items, gathered.problems, gathered.outside_window)
        return found, gathered.calls, gathered.failed_sources, str(ctx.sources.path)
    config = archive or ctx.archive
    async with open_archive(config) as opened:
        found = await ctx.engine.researcher.gather(window, opened)
        return found, opened.calls, [], str(config.folder)


# An earlier week with fewer items on the desk than this is a remnant of another week's file
# (items dated a few days early), not the week: it is not recorded.
MIN_HISTORY_ITEMS = 5


async def build_history(ctx: RunContext, weeks: int) -> tuple[list[str], dict[str, str]]:
    """The storylines of the `weeks` weeks before the run's, from their sources, where the
    store holds none of them yet (the first run on a new desk is not blind). A path naming the
    run's week (…/2026-W12/items.json) is read with the earlier week's name in its place, and
    such a week with no file is skipped. No edition is written for them. Returns the weeks
    built, and the weeks skipped with the reason; a store that cannot be used skips them all
    (the run goes on: the storylines are the outlook's memory, not the edition)."""
    from newsroom.errors import StorylineStoreError
    from newsroom.storylines import opened, weeks_between

    built: list[str] = []
    skipped: dict[str, str] = {}
    if ctx.storylines is None or weeks <= 0:
        return built, skipped
    first = week_of(ctx.window.start.date() - timedelta(days=7 * weeks))
    try:
        with opened(ctx.storylines) as store:
            have = set(store.weeks())
            for label in weeks_between(first, ctx.window.week)[:-1]:
                if label in have:
                    continue
                archive = ctx.archive
                named = str(archive.folder)
                if ctx.sources is None and ctx.window.week in named:
                    earlier = Path(named.replace(ctx.window.week, label))
                    if not earlier.exists():
                        skipped[label] = f"no sources at {earlier}"
                        continue
                    archive = replace(archive, folder=earlier)
                window = parse_week(label, ctx.window.tz, ctx.window.by)
                found, _, _, _ = await gather_week(ctx, window, archive)
                kept, _ = screen(ctx.engine.desk, found.items)
                if len(kept) < MIN_HISTORY_ITEMS:
                    skipped[label] = f"{len(kept)} items on the desk: too few to stand for the week"
                    continue
                items = {item.id: item for item in kept}
                stories = ctx.engine.deduplicator.stories(kept, ctx.engine.embedder)
                stories = ctx.engine.clusterer.judge(stories, items)
                store.record(label, stories, items, ctx.engine.embedder, ctx.engine.desk.language)
                built.append(label)
    except StorylineStoreError as exc:
        for label in weeks_between(first, ctx.window.week)[:-1]:
            if label not in built:
                skipped.setdefault(label, f"storylines skipped: {exc}")
    return built, skipped


@step("researcher", "research")
async def research(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    found, calls, failed, where = await gather_week(ctx, ctx.window)
    if not found.items:
        unread = "; ".join(f"{p.origin}: {p.message}" for p in found.problems[:5])
        raise EmptyWeek(
            f"no item published in {ctx.window.week} ({ctx.window.start:%Y-%m-%d} to "
            f"{ctx.window.days[-1]:%Y-%m-%d}, {ctx.window.tz}) in {where}"
            + (f"; could not read {unread}" if unread else ""),
            problems=found.problems,
        )
    kept, left_out = screen(ctx.engine.desk, found.items)
    problems = list(found.problems)
    if len(kept) == len(found.items) and found.items and ctx.engine.desk.misses(found.items):
        problems.append(
            SourceProblem(
                origin=ctx.engine.desk.path or "desk",
                message=(
                    f"the {ctx.engine.desk.name} desk scores no item of the week at its "
                    f"threshold {ctx.engine.desk.threshold:g}: every item was kept; check the "
                    "desk profile"
                ),
            )
        )
    update: dict[str, Any] = {
        "items": kept,
        "left_out": left_out,
        "problems": problems,
        "failed_sources": failed,
        "outside_window": found.outside_window,
        "tool_calls": calls,
    }
    if found.tripped is not None:
        update["tripped"] = tripped_record(found.tripped)
    return update


def screen(desk: Desk, items: list[SourceItem]) -> tuple[list[SourceItem], list[LeftOut]]:
    """The researcher's desk judgement: items on the desk go on; the others are left out,
    each with its reason and score (the edition lists them in report.json)."""
    kept, left_out = [], []
    for item in items:
        relevance = desk.relevance(item)
        if relevance.on_desk:
            kept.append(item)
        else:
            left_out.append(
                LeftOut(
                    id=item.id,
                    title=item.title,
                    reason=relevance.reason,
                    score=relevance.score,
                    origin=item.origin,
                )
            )
    if not kept:  # a desk that keeps nothing is the wrong desk for this week: keep everything
        return items, []
    return kept, left_out


def tripped_record(tripped: GuardTripped) -> dict[str, Any]:
    return {
        "guard": tripped.guard,
        "limit": tripped.limit,
        "used": tripped.used,
        "message": str(tripped),
    }


# The routers are coroutines: LangGraph runs a plain function in a worker thread, one thread
# hop (about 0.2 ms) per step for a decision that takes microseconds.
async def after_research(state: WeeklyState) -> Literal["dedup", "__end__"]:
    """A guard that stopped research ends the run here; the runner publishes what there is."""
    return "__end__" if state.get("tripped") else "dedup"


@step("clusterer", "dedup")
async def dedup(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    engine = runtime.context.engine
    # The embedder is asked only for what dedup needs: one text per group of near-identical
    # items (and the clusterer then finds those vectors cached).
    return {"stories": engine.deduplicator.stories(state["items"], engine.embedder)}


@step("clusterer", "cluster")
async def cluster(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    clusterer, base = runtime.context.engine.clusterer, runtime.context.base
    if base is None:
        stories = clusterer.judge(state["stories"], _items(state))
        return {"stories": stories, "themes": await clusterer.themes(stories, _items(state))}
    from opentelemetry import trace

    stories = clusterer.judge(state["stories"], _items(state))
    placement = await clusterer.update(base, stories, _items(state))
    record = placement.record(base)
    span = trace.get_current_span()
    span.set_attribute(sc.BASE_RUN, base.run_id)
    span.set_attribute(sc.UPDATE_MODE, record["mode"])
    span.set_attribute(sc.THEMES_REWRITTEN, record["themes_rewritten"])
    span.set_attribute(sc.THEMES_KEPT, record["themes_kept"])
    return {
        "stories": stories,
        "themes": placement.themes,
        "affected": placement.affected,
        "update": record,
    }


@step("writer", "write")
async def write(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    stories = {s.id: s for s in state["stories"]}
    affected = state.get("affected")
    if ctx.base is not None and affected is not None:
        # An update: only the affected themes are written; the others' claims keep their
        # verdicts, so the fact-checker sees only what is new.
        draft = await ctx.engine.writer.update(
            ctx.window, state["themes"], affected, ctx.base.draft, stories, _items(state)
        )
        verdicts = reused_verdicts(ctx.base, draft.claims)
        memory: dict[str, Any] = {}
    else:
        # The storylines first: the writer phrases the outlook from them.
        lines: list[OutlookLine] = []
        memory = {}
        if ctx.storylines is not None:
            lines, memory = record_storylines(
                ctx, state["stories"], _items(state), state.get("problems", [])
            )
        draft = await ctx.engine.writer.write(
            ctx.window, state["themes"], stories, _items(state), outlook=lines
        )
        verdicts = {}
    return {"draft": draft, "revisions": 0, "verdicts": verdicts, "rounds": [], **memory}


def record_storylines(
    ctx: RunContext,
    stories: list[Story],
    items: dict[str, SourceItem],
    problems: list[SourceProblem],
) -> tuple[list[OutlookLine], dict[str, Any]]:
    """The week's stories recorded in the storyline store, and the outlook's lines built from
    the storylines (what continues, what is new, what went quiet), each to be a claim citing
    this week's story and an earlier week's, checked like any other; with the state's update:
    the earlier weeks' items the lines cite (`history`), the time it took, or why the store
    was skipped."""
    from newsroom.errors import StorylineStoreError
    from newsroom.storylines import opened, outlook

    assert ctx.storylines is not None
    started = time.perf_counter()
    try:
        with opened(ctx.storylines) as store:
            store.record(
                ctx.window.week, stories, items, ctx.engine.embedder, ctx.engine.desk.language
            )
            lines = outlook(store, ctx.window.week)
            history = store.items(
                (p.item_id for line in lines for p in line.parts if p.item_id not in items),
                before=ctx.window.week,
            )
    except StorylineStoreError as exc:
        # The storylines are the outlook's memory, not the edition: without them the week is
        # published with the writer's own outlook, and run.json says why.
        problem = SourceProblem(origin=str(ctx.storylines), message=f"storylines skipped: {exc}")
        return [], {
            "problems": [*problems, problem],
            "timings": {"storylines": round(time.perf_counter() - started, 4)},
        }
    update: dict[str, Any] = {"timings": {"storylines": round(time.perf_counter() - started, 4)}}
    if lines:
        update["history"] = list(history.values())
    return lines, update


@step("fact_checker", "fact_check")
async def fact_check(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    from opentelemetry import trace

    previous = state.get("verdicts", {})
    # Revisions touch only failing claims: what passed before is not checked (or paid for) again.
    pending = [
        claim
        for claim in state["draft"].claims
        if claim.id not in previous or previous[claim.id].label != "supported"
    ]
    checked = await runtime.context.engine.fact_checker.check_all(pending, _cited(state))
    verdicts = {
        claim.id: checked.get(claim.id) or previous[claim.id] for claim in state["draft"].claims
    }
    failing = [
        [c.id, c.text, verdicts[c.id].label]
        for c in state["draft"].claims
        if verdicts[c.id].label != "supported" and not c.final
    ]
    rounds = list(state.get("rounds", []))
    if failing and state.get("revisions", 0) > 0:
        check_progress(rounds, failing, state.get("revisions", 0))
    counts = {
        label: sum(v.label == label for v in verdicts.values())
        for label in ("supported", "contradicted", "unsupported")
    }
    span = trace.get_current_span()
    span.add_event(sc.EVENT_VERDICTS, {f"{sc.VERDICTS}.{k}": v for k, v in counts.items()})
    return {"verdicts": verdicts, "rounds": [*rounds, failing]}


async def after_check(
    state: WeeklyState, runtime: Runtime[RunContext]
) -> Literal["revise", "publish"]:
    verdicts = state["verdicts"]
    failing = [
        c for c in state["draft"].claims if verdicts[c.id].label != "supported" and not c.final
    ]
    if failing and state.get("revisions", 0) < runtime.context.max_revisions:
        return "revise"
    return "publish"


@step("writer", "revise")
async def revise(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    stories = {s.id: s for s in state["stories"]}
    draft = await runtime.context.engine.writer.revise(
        state["draft"], state["verdicts"], state["themes"], stories, _cited(state)
    )
    return {"draft": draft, "revisions": state.get("revisions", 0) + 1}


@step("publisher", "publish")
async def publish(state: WeeklyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    paths = publish_edition(
        out_dir=ctx.out_dir,
        window=ctx.window,
        engine=ctx.engine.name,
        run_id=ctx.run_id,
        draft=with_source_notes(state["draft"], state),
        verdicts=state["verdicts"],
        themes=state["themes"],
        stories=state["stories"],
        items=_cited(state),
        front_matter=ctx.front_matter,
        models=ctx.engine.models,
        categories=_categories(ctx, state["stories"], _items(state)),
        day=ctx.day,
        left_out=state.get("left_out", []),
    )
    return {"published": paths}


def with_source_notes(draft: Draft, state: Mapping[str, Any]) -> Draft:
    """The draft with a note naming every source that gave nothing this run, and why."""
    failed = state.get("failed_sources") or []
    if not failed:
        return draft
    reasons = {p.origin: p.message for p in state.get("problems", []) if p.origin in set(failed)}
    named = "；".join(f"{name}（{reasons.get(name, '无法读取')}）" for name in failed)
    note = f"以下来源本期未能读取，相关内容未纳入：{named}。"
    return draft.model_copy(update={"notes": [*draft.notes, note]})


def _categories(ctx: RunContext, stories: Any, items: Mapping[str, SourceItem]) -> dict[str, str]:
    from newsroom.agents.classifier import CategoryClassifier

    return CategoryClassifier(ctx.engine.embedder, ctx.categories).assign(stories, items)


async def publish_partial(
    values: dict[str, Any], ctx: RunContext, tripped: GuardTripped
) -> dict[str, str]:
    """After a guard stopped the run: publish what is finished, marked partial. What is missing
    is finished only by the free offline methods (dedup, clustering, extractive writing, the
    deterministic checks) — no model or tool is called; nothing unchecked is published."""
    from newsroom.agents.clusterer import OfflineClusterer
    from newsroom.agents.fact_checker import OfflineFactChecker
    from newsroom.agents.writer import OfflineWriter
    from newsroom.methods.dedup import Deduplicator

    items = _items(values)
    if not items:
        return {}
    embedder = ctx.engine.embedder
    stories = values.get("stories") or Deduplicator().stories(list(items.values()), embedder)
    themes = values.get("themes") or OfflineClusterer(embedder).build_themes(stories, items)
    draft = values.get("draft")
    if draft is None:
        by_id = {s.id: s for s in stories}
        draft = await OfflineWriter(embedder).write(ctx.window, themes, by_id, items)
    verdicts = dict(values.get("verdicts") or {})
    rules = OfflineFactChecker()
    cited = _cited(values)
    for claim in draft.claims:
        if claim.id not in verdicts or verdicts[claim.id].label != "supported":
            verdicts[claim.id] = rules.check(claim, cited)
    notice = (
        f"本期在生成过程中被守卫“{tripped.guard}”停止：{tripped}。以下只包含已完成、"
        "并经事实核查的部分。"
    )
    draft = with_source_notes(draft.model_copy(update={"notes": [notice, *draft.notes]}), values)
    return publish_edition(
        out_dir=ctx.out_dir,
        window=ctx.window,
        engine=ctx.engine.name,
        run_id=ctx.run_id,
        draft=draft,
        verdicts=verdicts,
        themes=themes,
        stories=stories,
        items=cited,
        front_matter=ctx.front_matter,
        status="partial",
        models=ctx.engine.models,
        categories=_categories(ctx, stories, items),
        day=ctx.day,
        left_out=values.get("left_out", []),
    )


def build_weekly_graph() -> StateGraph[WeeklyState, RunContext, WeeklyInput, WeeklyState]:
    """The graph builder; callers compile it with their own checkpointer."""
    graph = StateGraph(WeeklyState, context_schema=RunContext, input_schema=WeeklyInput)
    graph.add_node("research", research)
    graph.add_node("dedup", dedup)
    graph.add_node("cluster", cluster)
    graph.add_node("write", write)
    graph.add_node("fact_check", fact_check)
    graph.add_node("revise", revise)
    graph.add_node("publish", publish)
    graph.add_edge(START, "research")
    graph.add_conditional_edges("research", after_research, ["dedup", END])
    graph.add_edge("dedup", "cluster")
    graph.add_edge("cluster", "write")
    graph.add_edge("write", "fact_check")
    graph.add_conditional_edges("fact_check", after_check, ["revise", "publish"])
    graph.add_edge("revise", "fact_check")
    graph.add_edge("publish", END)
    return graph
