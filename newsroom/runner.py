"""Runs the weekly graph once: checkpointing, resume, tracing, and the run summary."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from langgraph.errors import GraphRecursionError

from newsroom.agents import Engine
from newsroom.agents.incremental import Base
from newsroom.errors import (
    AlreadyPublished,
    GuardTripped,
    NewsroomError,
    SourceUnavailable,
    UsageError,
)
from newsroom.graphs.state import SERIALIZED_TYPES
from newsroom.graphs.weekly import RunContext, build_weekly_graph, publish_partial
from newsroom.guards.budget import Amounts, Guard, Ledger, Limits, current_guard, spent
from newsroom.guards.pricing import Pricing
from newsroom.llm import add_usage, causes, usage_delta
from newsroom.models import DatedBy, RunSummary, Usage
from newsroom.observability import semconv as sc
from newsroom.observability.metrics import snapshot as metrics_snapshot
from newsroom.observability.store import edition_copy, run_folder
from newsroom.observability.tracing import JsonlSpanExporter, exporting, flush, tracer
from newsroom.publish import FrontMatter, week_lock, write_atomic
from newsroom.results import first_line, redact
from newsroom.sources import SourcesFile, check_items_file, is_sources_file, load_sources
from newsroom.tools.client import ArchiveConfig, Transport
from newsroom.weeks import WeekWindow, parse_week

StepCallback = Callable[[str, dict[str, Any]], None]


@dataclass
class RunOptions:
    week: str
    sources: Path
    out_dir: Path = Path("out")
    tz: str = "Asia/Shanghai"
    resume: str | None = None
    run_id: str | None = None
    force: bool = False
    max_revisions: int = 2
    recursion_limit: int = 40
    transport: Transport = "memory"
    front_matter: FrontMatter = field(default_factory=FrontMatter)
    limits: Limits = field(default_factory=Limits)
    categories: dict[str, str] | None = None
    day: date | None = None
    pricing: Pricing = field(default_factory=Pricing)
    ledger: Ledger | None = None
    checkpoint_url: str | None = None  # postgresql://…: checkpoints there, not in SQLite
    # Start from the edition this run published: only themes with new or changed stories are
    # re-clustered and re-written (the service's updates).
    base_run: str | None = None
    # Select the week's items by their publication time, or by when they were collected.
    window: DatedBy = "published"
    # `--update RUN_ID`: a run with no checkpoint here is a usage error. The service leaves it
    # off: its last edition's checkpoint gone, it re-clusters the whole week.
    require_base: bool = False
    # `--history N`: build the storylines of the N weeks before from their sources first,
    # where the storyline store holds none of them yet.
    history: int = 0


EDITION_KEYS = ("weekly", "digest", "digest_day", "briefing")


def check_week_folder(folder: Path) -> None:
    """OUT/WEEK must be a folder (or not yet exist): found before the run, not at publish."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder: move it, or choose another --out")


def new_run_id(week: str) -> str:
    return f"{week}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def checkpointer_path(out_dir: Path) -> Path:
    return out_dir / ".newsroom" / "checkpoints.sqlite"


def storylines_path(out_dir: Path) -> Path:
    return out_dir / ".newsroom" / "storylines.sqlite"


def embeddings_path(out_dir: Path) -> Path:
    return out_dir / ".newsroom" / "embeddings.sqlite"


@asynccontextmanager
async def open_checkpointer(db: Path, url: str | None = None) -> AsyncIterator[Any]:
    """The run's checkpointer: PostgreSQL when `url` is given (one store that runs on several
    machines share, so any of them can resume a run), else SQLite at `db`
    (`newsroom.checkpoint`: a step writes only the channels it changed)."""
    if url:
        from contextlib import AsyncExitStack

        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncExitStack() as stack:
            try:
                pg = await stack.enter_async_context(AsyncPostgresSaver.from_conn_string(url))
                pg.serde = serializer()
                await pg.setup()
            except psycopg.Error as exc:
                raise SourceUnavailable(
                    f"cannot use the checkpoint database at {redact(url)}: {redact(str(exc))}"
                ) from None
            yield pg
        return
    from newsroom.checkpoint import SqliteCheckpointer

    try:
        saver = SqliteCheckpointer.open(db, serializer())
    except sqlite3.Error as exc:
        raise SourceUnavailable(f"cannot use the checkpoint file {db}: {exc}") from None
    try:
        yield saver
    finally:
        saver.close()


def serializer() -> Any:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=SERIALIZED_TYPES)


async def run_week(
    options: RunOptions, engine: Engine, on_step: StepCallback | None = None
) -> RunSummary:
    """Run (or resume) one week; always leaves run.json behind, and the checkpoint on failure."""

    window = parse_week(options.week, options.tz, options.window)
    folder = options.out_dir / window.week
    sources_file = None
    if is_sources_file(options.sources):
        sources_file = load_sources(options.sources)  # a bad file is a usage error, exit 2
    elif not options.sources.exists():
        raise SourceUnavailable(f"source folder {options.sources} does not exist")
    elif options.sources.is_file():
        # One JSON, feed or digest file: the archive reads it as if alone in a folder.
        check_items_file(options.sources, options.tz)  # a bad file is a usage error, exit 2
    elif not options.sources.is_dir():
        raise SourceUnavailable(
            f"source path {options.sources} is neither a folder, a file nor a sources file"
        )
    check_week_folder(folder)
    run_id = options.resume or options.run_id or new_run_id(window.week)
    # One run at a time publishes a week into a folder: the lock is held from before the
    # "already published" check until run.json is written (a second run exits 2 at once).
    with week_lock(options.out_dir, window.week, run_id):
        if (folder / "weekly.md").exists() and not options.force and not options.resume:
            raise AlreadyPublished(
                f"{window.week} is already published at {folder / 'weekly.md'}; "
                "pass --force to publish it again"
            )
        return await _run_locked(options, engine, on_step, window, run_id, sources_file)


async def _run_locked(
    options: RunOptions,
    engine: Engine,
    on_step: StepCallback | None,
    window: WeekWindow,
    run_id: str,
    sources_file: SourcesFile | None,
) -> RunSummary:
    folder = options.out_dir / window.week
    summary = RunSummary(
        run_id=run_id,
        week=window.week,
        status="failed",
        engine=engine.name,
        started=datetime.now(UTC),
    )
    context = RunContext(
        engine=engine,
        window=window,
        run_id=run_id,
        out_dir=options.out_dir,
        archive=ArchiveConfig(
            options.sources,
            options.tz,
            options.transport,
            trace_file=run_folder(options.out_dir, run_id) / "trace.jsonl",
        ),
        max_revisions=options.max_revisions,
        front_matter=options.front_matter,
        categories=options.categories,
        day=options.day,
        sources=sources_file,
        storylines=storylines_path(options.out_dir),
    )
    db = checkpointer_path(options.out_dir)
    db.parent.mkdir(parents=True, exist_ok=True)
    # Vectors on disk beside the checkpoints: a re-run, an update or another worker sharing
    # this folder embeds no text twice; with PostgreSQL, every host shares them there.
    shared = _shared_store(engine, options.checkpoint_url)
    if shared is None:
        engine.embedder.attach(embeddings_path(options.out_dir))
    if options.history and not options.resume and options.base_run is None:
        from newsroom.graphs.weekly import build_history

        summary.history, summary.history_skipped = await build_history(context, options.history)
    config: Any = {
        "configurable": {"thread_id": run_id},
        "recursion_limit": options.recursion_limit,
    }
    trace_file = run_folder(options.out_dir, run_id) / "trace.jsonl"
    journal = trace_file.parent / "usage.jsonl"  # every settled attempt, across processes
    spent_before = Amounts()
    values: dict[str, Any] | None = None
    earlier: dict[str, dict[str, int]] = {}  # usage a resumed run had already spent
    ledger_start = engine.ledger.snapshot()
    vectors_start = _vector_counts(engine)
    try:
        async with open_checkpointer(db, options.checkpoint_url) as saver:
            graph = compiled_graph().copy(update={"checkpointer": saver})
            graph_input: Any = {"week": window.week}
            base_run = options.base_run
            if options.resume:
                snapshot = await graph.aget_state(config)
                if not snapshot.values:
                    where = redact(options.checkpoint_url or "") or db
                    raise UsageError(f"no checkpoint for run {run_id} in {where}")
                if snapshot.values.get("week") != window.week:
                    raise UsageError(
                        f"run {run_id} is for {snapshot.values.get('week')}, not {window.week}"
                    )
                if not snapshot.next:
                    raise UsageError(f"run {run_id} already finished; nothing to resume")
                graph_input = None
                earlier = dict(snapshot.values.get("usage", {}))
                base_run = snapshot.values.get("base_run")
                # The journal holds every attempt of the earlier processes, those of a step
                # cut short included (the checkpoint has only finished steps).
                spent_before, journal_lines = spent(journal)
                if journal_lines:
                    earlier = {
                        key: {**line, "fallbacks": earlier.get(key, {}).get("fallbacks", 0)}
                        for key, line in journal_lines.items()
                    }
            if base_run:
                context.base = await _base(graph, base_run, window.week)
                if context.base is None and options.require_base and graph_input is not None:
                    known = await graph.aget_state({"configurable": {"thread_id": base_run}})
                    if not known.values:
                        where = redact(options.checkpoint_url or "") or db
                        raise UsageError(f"--update {base_run}: no run {base_run} in {where}")
                if context.base is None:
                    summary.update = {
                        "base_run": base_run,
                        "mode": "full",
                        "reason": f"no finished edition of {window.week} by that run here",
                    }
                elif graph_input is not None:
                    graph_input["base_run"] = base_run
            with (
                exporting(JsonlSpanExporter(trace_file)),
                tracer().start_as_current_span("invoke_workflow newsroom") as root,
            ):
                root.set_attribute(sc.OPERATION, sc.OP_INVOKE_WORKFLOW)
                root.set_attribute(sc.OI_KIND, "CHAIN")
                root.set_attribute(sc.WEEK, window.week)
                root.set_attribute(sc.EDITION, "weekly")
                root.set_attribute(sc.RUN_ID, run_id)
                root.set_attribute(sc.ENGINE, engine.name)
                root.set_attribute(sc.RESUMED, bool(options.resume))
                guard = Guard(
                    limits=options.limits,
                    pricing=options.pricing,
                    ledger=options.ledger,
                    journal=journal,
                    # A limit is the run's: a resume starts from what the run spent. A shared
                    # ledger (NEWSROOM_BUDGET_SCOPE) already holds it.
                    earlier=spent_before if options.ledger is None else Amounts(),
                )
                token = current_guard.set(guard)
                latest: dict[str, Any] | None = None  # the state after the last step
                try:
                    async for mode, chunk in graph.astream(
                        graph_input,
                        config,
                        context=context,
                        stream_mode=["updates", "values"],
                        durability="sync",  # each step is on disk before the next starts
                    ):
                        if mode == "values":
                            latest = chunk
                            continue
                        for node, delta in chunk.items():
                            if on_step is not None and isinstance(delta, dict):
                                on_step(node, delta)
                    summary.status = "ok"
                    stopped = (latest or {}).get("tripped")
                    if stopped:
                        await _partial(
                            graph,
                            config,
                            context,
                            summary,
                            GuardTripped(
                                stopped["guard"],
                                stopped["message"],
                                stopped["limit"],
                                stopped["used"],
                            ),
                            root,
                        )
                except GraphRecursionError:
                    tripped = GuardTripped(
                        "graph steps",
                        f"graph step limit {options.recursion_limit} reached; stopped (raise "
                        "NEWSROOM_RECURSION_LIMIT)",
                        limit=options.recursion_limit,
                    )
                    await _partial(graph, config, context, summary, tripped, root)
                except GuardTripped as tripped:
                    await _partial(graph, config, context, summary, tripped, root)
                except NewsroomError as exc:
                    summary.stop_reason = str(exc)
                    summary.problems = list(getattr(exc, "problems", []))
                    root.set_attribute(sc.STOP_REASON, str(exc))
                    raise
                except (KeyboardInterrupt, asyncio.CancelledError):
                    summary.status = "interrupted"
                    summary.stop_reason = f"interrupted; continue with --resume {run_id}"
                    raise
                except Exception as exc:
                    if not (options.checkpoint_url and _database_error(exc)):
                        raise
                    lost = SourceUnavailable(
                        f"PostgreSQL at {redact(options.checkpoint_url)} went away during run "
                        f"{run_id} ({first_line(exc)}); the steps checkpointed before are kept: "
                        f"continue with --resume {run_id} once it is back"
                    )
                    summary.stop_reason = str(lost)
                    root.set_attribute(sc.STOP_REASON, str(lost))
                    raise lost from exc
                finally:
                    current_guard.reset(token)
                    summary.guard = guard.summary()
                    used = summary.guard["used"]
                    root.set_attribute(sc.STATUS, summary.status)
                    root.set_attribute(sc.COST_USD, used["usd"])
                    root.set_attribute(sc.OI_COST_TOTAL, used["usd"])
                    root.set_attribute(sc.BUDGET_USED_USD, used["usd"])
                    root.set_attribute(sc.BUDGET_LLM_CALLS, used["llm_calls"])
                    root.set_attribute(sc.BUDGET_TOKENS, used["tokens"])
                    if options.limits.max_usd is not None:
                        root.set_attribute(sc.BUDGET_LIMIT_USD, options.limits.max_usd)
                    if summary.status == "ok" and latest is not None:
                        values = dict(latest)  # what the last checkpoint holds
                    else:
                        try:
                            values = dict((await graph.aget_state(config)).values)
                        except Exception as exc:
                            if not _database_error(exc):
                                raise
                            values = dict(latest or {})  # run.json still says what happened
    finally:
        try:
            if values is not None:
                # Every call this process made, including those of a step a guard cut short.
                values["usage"] = add_usage(
                    earlier, usage_delta(ledger_start, engine.ledger.snapshot())
                )
                computed, stored = _vector_counts(engine)
                values["vectors"] = {
                    "vectors_computed": computed - vectors_start[0],
                    "vectors_stored": stored - vectors_start[1],
                }
                _finish(summary, values, folder, trace_file)
                if shared is not None:
                    _share(shared, summary, folder, trace_file)
        finally:
            if shared is not None:  # one connection per run, none held between updates
                engine.embedder.store = None
                shared.close()
    return summary


def _published(summary: RunSummary) -> bool:
    """The run published an edition (a partial one included)."""
    return summary.status in ("ok", "partial") and "weekly" in summary.outputs


def _vector_counts(engine: Engine) -> tuple[int, int]:
    """Texts the engine's embedder has embedded, and vectors it has read from its store."""
    return getattr(engine.embedder, "computed", 0), getattr(engine.embedder, "stored", 0)


def _database_error(exc: BaseException) -> bool:
    """A PostgreSQL connection lost or refused (psycopg's errors, wherever they are raised)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - installed with langgraph-checkpoint-postgres
        return False
    lost = psycopg.OperationalError | psycopg.InterfaceError
    return any(isinstance(cause, lost) for cause in causes(exc))


def _shared_store(engine: Engine, url: str | None) -> Any:
    """With PostgreSQL configured: the shared results store (opened and migrated at start, so
    that a database that is down or newer than this code stops the run before it works), and
    the embedder reading and keeping vectors there."""
    if not url:
        return None
    from newsroom.results import ResultsStore, SharedVectorStore

    store = ResultsStore(url)
    engine.embedder.attach_store(SharedVectorStore(store))
    return store


def _share(store: Any, summary: RunSummary, folder: Path, trace_file: Path) -> None:
    """Copy the finished run into the shared store; a store gone since the start fails the
    run (exit 4) saying that its results are only in the local folder."""
    import socket

    from newsroom.results import save_local_run

    try:
        save_local_run(
            store,
            summary.model_dump(mode="json"),  # what run.json holds
            _published(summary),
            trace_file.parent,
            folder,
            socket.gethostname(),
        )
    except SourceUnavailable as exc:
        if summary.status in ("ok", "partial"):
            raise SourceUnavailable(
                f"{exc}; run {summary.run_id} finished, but its results are only in "
                f"{trace_file.parent} and {folder}: other hosts cannot read them until "
                "PostgreSQL is back and the week is run again"
            ) from exc


@functools.cache
def compiled_graph() -> Any:
    """The weekly graph, compiled once per process; each run takes a copy with its
    checkpointer."""
    return build_weekly_graph().compile()


async def _base(graph: Any, run_id: str, week: str) -> Base | None:
    """The edition run `run_id` published, if it finished one for `week`."""
    snapshot = await graph.aget_state({"configurable": {"thread_id": run_id}})
    if snapshot.next or snapshot.values.get("week") != week:
        return None
    return Base.from_values(run_id, snapshot.values)


async def _partial(
    graph: Any,
    config: Any,
    context: RunContext,
    summary: RunSummary,
    tripped: GuardTripped,
    root: Any,
) -> None:
    """A guard stopped the run: publish what is finished, marked partial, and say why."""
    summary.status = "partial"
    summary.stop_reason = str(tripped)
    summary.tripped = {
        "guard": tripped.guard,
        "limit": tripped.limit,
        "used": tripped.used,
        "message": str(tripped),
    }
    root.add_event(
        sc.EVENT_GUARD_TRIPPED, {sc.GUARD: tripped.guard, sc.GUARD_MESSAGE: str(tripped)}
    )
    root.set_attribute(sc.STOP_REASON, str(tripped))
    values = dict((await graph.aget_state(config)).values)
    paths = await publish_partial(values, context, tripped)
    if paths:
        await graph.aupdate_state(config, {"published": paths})


def _finish(summary: RunSummary, values: dict[str, Any], folder: Path, trace_file: Path) -> None:
    summary.finished = datetime.now(UTC)
    summary.timings = {k: round(v, 4) for k, v in values.get("timings", {}).items()}
    summary.timings["total"] = round((summary.finished - summary.started).total_seconds(), 4)
    verdicts = values.get("verdicts", {})
    summary.counts = {
        "items": len(values.get("items", [])),
        "left_out": len(values.get("left_out", [])),  # off the desk (report.json says why)
        "outside_window": int(values.get("outside_window", 0)),
        "stories": len(values.get("stories", [])),
        "themes": len(values.get("themes", [])),
        "claims": len(verdicts),
        "supported": sum(v.label == "supported" for v in verdicts.values()),
        "dropped": sum(v.label != "supported" for v in verdicts.values()),
        "revisions": int(values.get("revisions", 0)),
        "problems": len(values.get("problems", [])),
        "dated_by_collection": sum(
            item.dated_by == "collected" for item in values.get("items", [])
        ),
        # Texts this run embedded, and vectors it read from the store (earlier runs', any host's).
        **values.get("vectors", {}),
    }
    lines = values.get("usage", {})
    used = (summary.guard or {}).get("used", {})
    summary.usage = Usage(
        cost_usd=float(used.get("usd", 0.0)),
        llm_calls=sum(line.get("calls", 0) for line in lines.values()),
        input_tokens=sum(line.get("input_tokens", 0) for line in lines.values()),
        output_tokens=sum(line.get("output_tokens", 0) for line in lines.values()),
        fallbacks=sum(line.get("fallbacks", 0) for line in lines.values()),
        tool_calls=int(values.get("tool_calls", 0)),
        by_agent_model=lines,
    )
    summary.problems = list(values.get("problems", [])) or summary.problems
    summary.update = values.get("update") or summary.update
    summary.outputs = {**values.get("published", {}), "trace": str(trace_file)}
    text = summary.model_dump_json(indent=2)
    # The run's own copy of its edition: `newsroom preview RUN_ID` renders it after a later run
    # has published the week again.
    for key in EDITION_KEYS:
        if key in summary.outputs and Path(summary.outputs[key]).is_file():
            source = Path(summary.outputs[key])
            write_atomic(edition_copy(trace_file.parent, source), source.read_text("utf-8"))
    # The week folder's run.json describes the edition there: a run that published none (an
    # interrupted or failed --force run) leaves it as it was when an edition is there, and
    # writes only its own record under .newsroom/runs/RUN_ID/.
    if _published(summary) or not (folder / "weekly.md").exists():
        write_atomic(folder / "run.json", text)
    write_atomic(trace_file.parent / "run.json", text)  # the run's own record, kept per run
    write_atomic(trace_file.parent / "metrics.json", json.dumps(metrics_snapshot(), indent=2))
    flush()
