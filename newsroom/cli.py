"""The `newsroom` command line: run a week, serve MCP tools, evaluate the agents."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from newsroom.errors import NewsroomError, UsageError

if TYPE_CHECKING:
    from newsroom.config import Settings
    from newsroom.storylines import StorylineStore

app = typer.Typer(
    name="newsroom",
    no_args_is_help=True,
    add_completion=False,
    help="A multi-agent newsroom: cited, fact-checked weekly AI reports.",
)
mcp_app = typer.Typer(no_args_is_help=True, help="Run one of newsroom's MCP tool servers.")
traces_app = typer.Typer(no_args_is_help=True, help="Read stored runs and their traces.")
eval_app = typer.Typer(no_args_is_help=True, help="Measure the agents on a labelled dev set.")
app.add_typer(mcp_app, name="mcp")
app.add_typer(eval_app, name="eval")
app.add_typer(traces_app, name="traces")
console = Console(stderr=True)
out = Console()

_STEPS = {
    "research": "researcher: gathering the week through MCP",
    "dedup": "clusterer: merging duplicate reports into stories",
    "cluster": "clusterer: grouping stories into themes",
    "write": "writer: drafting the edition",
    "fact_check": "fact-checker: checking every claim against its sources",
    "revise": "writer: revising what failed the check",
    "publish": "publisher: rendering the edition",
}


def _fail(exc: NewsroomError) -> typer.Exit:
    from rich.markup import escape

    # The message is text, not markup: `[desk.outlets]` must print as written.
    console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _settings() -> Settings:
    """The settings, or a one-line error (exit 2) naming the bad `NEWSROOM_*` variable."""
    from newsroom.config import load_settings

    try:
        return load_settings()
    except UsageError as exc:
        raise _fail(exc) from None


def _out_folder(path: Path) -> Path:
    """`--out`, created if missing; a file, a path under a file or a folder that cannot be
    written is a UsageError."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file, not a folder")
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise UsageError(f"--out {path} is under {above}, which is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".newsroom-write-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out {path} cannot be written: {exc.strerror or exc}") from None
    return path


ModelFile = Annotated[
    Path | None,
    typer.Option(
        "--model-file",
        help="A local GGUF model: a llama.cpp server is started for it and every agent uses "
        "it (needs newsroom[local]) [default: NEWSROOM_MODEL_FILE].",
    ),
]


def _local_model(settings: Any, model_file: Path | None) -> Any:
    """The local llama.cpp server of `--model-file` or NEWSROOM_MODEL_FILE, started, with its
    URL in the environment (a worker reads its settings again); an ExitStack that stops it.
    Nothing is started without a model file."""
    from contextlib import ExitStack

    from newsroom.local_model import serving

    if model_file is not None:
        settings.model_file = model_file
    stack = ExitStack()
    try:
        stack.enter_context(serving(settings, environ=True))
    except NewsroomError as exc:
        stack.close()
        raise _fail(exc) from None
    return stack


@app.command()
def run(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W06.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: out].")
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            help="A folder of digests, feeds and JSON; one such file (.json, .xml/.rss/.atom, "
            ".md); or a sources file (.toml) of feeds, archive folders and pages "
            "[default: bundled 2026-W06 samples]."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="offline or llm [default: llm when an endpoint is configured]."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model for every agent [default: NEWSROOM_MODEL].")
    ] = None,
    model_file: ModelFile = None,
    lang: Annotated[str | None, typer.Option(help="Language of the edition [default: zh].")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue an interrupted run by its id.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Publish again over an existing edition.")] = False,
    update: Annotated[
        str | None,
        typer.Option(
            help="Update the edition run RUN_ID published: only themes with new or changed "
            "stories are re-clustered and re-written (implies --force)."
        ),
    ] = None,
    tz: Annotated[
        str | None, typer.Option(help="Time zone of the week [default: Asia/Shanghai].")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            help="Select the week's items by their published or collected time (an item "
            "without a collection time goes by its publication) [default: published]."
        ),
    ] = None,
    max_revisions: Annotated[
        int | None, typer.Option(help="Writer ⇄ fact-checker rounds [default: 2].")
    ] = None,
    transport: Annotated[
        str | None, typer.Option(help="How the researcher reaches MCP servers: memory or stdio.")
    ] = None,
    max_usd: Annotated[
        float | None, typer.Option(help="Money limit per run, US dollars [default: 1].")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Input + output token limit [default: 400000].")
    ] = None,
    max_llm_calls: Annotated[int | None, typer.Option(help="LLM call limit [default: 60].")] = None,
    max_tool_calls: Annotated[
        int | None, typer.Option(help="MCP tool call limit [default: 200].")
    ] = None,
    max_seconds: Annotated[
        float | None, typer.Option(help="Wall time limit in seconds [default: 1800].")
    ] = None,
    edition: Annotated[
        str, typer.Option(help="Edition to report: weekly, digest or briefing (all are written).")
    ] = "weekly",
    desk: Annotated[
        Path | None,
        typer.Option(
            help="Desk profile (TOML): the beats the newsroom covers; items off them are left "
            "out [default: the bundled AI desk]."
        ),
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Also write the digest of one day of the week, YYYY-MM-DD.")
    ] = None,
    history: Annotated[
        int,
        typer.Option(
            help="Build the storylines of the N weeks before from their sources first, where "
            "no edition of them is in --out (a path naming the week is read with the earlier "
            "week's name) [default: 0]."
        ),
    ] = 0,
) -> None:
    """Write one week's report: research → dedup → cluster → write → fact-check → publish."""
    import signal
    import threading

    run_id = resume or "RUN_ID"
    record: Path | None = None  # the run's own run.json, named when it is interrupted
    terminated = False

    def on_sigterm(signum: int, frame: Any) -> None:
        # SIGTERM takes Ctrl-C's path: the SIGINT handler in force (asyncio's cancels the
        # run, which writes its run.json) or a plain KeyboardInterrupt.
        nonlocal terminated
        terminated = True
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        settings = _settings()
        if desk is not None:
            settings.desk = desk
        if model_file is not None:
            settings.model_file = model_file
        if model_file is not None and engine == "offline":
            raise UsageError("--model-file is for the llm engine, not --engine offline")
        if settings.model_file is not None and engine != "offline":
            engine = "llm"  # the local model is for the LLM engine
        chosen_engine = settings.chosen_engine(engine)
        if chosen_engine not in ("offline", "llm"):
            raise UsageError(f"unknown engine {chosen_engine!r}: use offline or llm")
        chosen_transport = transport or settings.transport
        if chosen_transport not in ("memory", "stdio"):
            raise UsageError(f"unknown transport {chosen_transport!r}: use memory or stdio")
        if max_revisions is not None and max_revisions < 0:
            raise UsageError("--max-revisions must be 0 or more")
        if not 0 <= history <= 52:
            raise UsageError("--history must be between 0 and 52 weeks")
        from newsroom.runner import check_week_folder, new_run_id
        from newsroom.weeks import parse_week

        chosen_window = window or settings.window
        week_window = parse_week(week, tz or settings.tz, chosen_window)
        run_id = resume or new_run_id(week_window.week)
        if edition not in ("weekly", "digest", "briefing"):
            raise UsageError(f"unknown edition {edition!r}: use weekly, digest or briefing")
        chosen_day = _day(day, week_window) if day else None
        chosen_out = _out_folder(out_dir or settings.out_dir)
        record = chosen_out / ".newsroom" / "runs" / run_id / "run.json"
        check_week_folder(chosen_out / week_window.week)
        # The flags over the settings, built as every service worker builds its runs.
        options = settings.run_options(
            week,
            run_id=run_id,
            sources=sources,
            out_dir=chosen_out,
            tz=tz,
            resume=resume,
            force=force or update is not None,
            base_run=update,
            require_base=update is not None,
            window=chosen_window,
            day=chosen_day,
            max_revisions=max_revisions,
            transport=chosen_transport,
            max_usd=max_usd,
            max_tokens=max_tokens,
            max_llm_calls=max_llm_calls,
            max_tool_calls=max_tool_calls,
            max_seconds=max_seconds,
        )
        options.history = history
        import contextlib

        from newsroom.local_model import serving

        with serving(settings) if chosen_engine == "llm" else contextlib.nullcontext():
            summary = _run(options, chosen_engine, settings, model, lang or settings.lang)
    except NewsroomError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        from rich.markup import escape

        where = f" --out {escape(str(out_dir))}" if out_dir is not None else ""
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        kept = (
            f"; the run's record is {escape(str(record))}"
            if record is not None and record.is_file()
            else ""
        )
        console.print(
            f"[yellow]{what}:[/] every finished step is checkpointed{kept}; continue with "
            f"newsroom run --week {week}{where} --resume {run_id}",
            soft_wrap=True,
            highlight=False,
        )
        raise typer.Exit(143 if terminated else 130) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    counts, usage = summary.counts, summary.usage
    if summary.status == "partial":
        console.print(
            f"[bold red]stopped by a guard:[/] {summary.stop_reason}",
            highlight=False,
            soft_wrap=True,
        )
    if summary.update:
        what = summary.update
        if what.get("mode") == "incremental":
            console.print(
                f"update of {what['base_run']}: {what['themes_rewritten']} of {what['themes']} "
                f"themes re-written, {what['themes_kept']} kept ({what['new_stories']} new, "
                f"{what['changed_stories']} changed stories)",
                highlight=False,
                soft_wrap=True,
            )
        else:
            console.print(
                f"[yellow]update of {what['base_run']} re-clustered the whole week:[/] "
                f"{what.get('reason', '')}",
                highlight=False,
                soft_wrap=True,
            )
    shown = summary.outputs.get("digest_day" if day and edition == "digest" else edition)
    others = [
        summary.outputs[k]
        for k in ("weekly", "digest", "digest_day", "briefing")
        if k in summary.outputs and summary.outputs[k] != shown
    ]
    out.print(
        f"[green]published[/] {shown} · {counts['themes']} themes · "
        f"{counts['supported']} claims checked and published · {counts['dropped']} dropped · "
        f"{counts['revisions']} revision round(s) · {summary.timings.get('total', 0):.1f}s",
        highlight=False,
        soft_wrap=True,
    )
    if others:
        out.print(f"also written: {' · '.join(others)}", highlight=False, soft_wrap=True)
    if summary.history or summary.history_skipped:
        skipped = "; ".join(f"{w}: {why}" for w, why in summary.history_skipped.items())
        out.print(
            f"history: storylines built for {', '.join(summary.history) or 'no week'}"
            + (f"; skipped {skipped}" if skipped else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if usage.llm_calls:
        out.print(
            f"usage: {usage.llm_calls} LLM calls · {usage.input_tokens} input + "
            f"{usage.output_tokens} output tokens · ${usage.cost_usd:.4f} · "
            f"{usage.fallbacks} fallback(s)",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        f"report {summary.outputs.get('report')} · run {summary.run_id} · "
        f"trace {summary.outputs.get('trace')}",
        highlight=False,
        soft_wrap=True,
    )
    if summary.status == "partial":
        raise typer.Exit(3)


def _day(text: str, window: Any) -> Any:
    from datetime import date

    try:
        chosen = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid day {text!r}: expected YYYY-MM-DD") from None
    if chosen not in window.days:
        raise UsageError(
            f"day {chosen} is not in {window.week} ({window.days[0]} to {window.days[-1]})"
        )
    return chosen


def _run(options: Any, engine_name: str, settings: Any, model: str | None, lang: str) -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from newsroom.agents import llm_engine, offline_engine
    from newsroom.local_model import local_configs
    from newsroom.methods.desk import Desk
    from newsroom.runner import run_week

    desk = Desk.load(settings.desk)
    if engine_name == "llm":
        configs = local_configs(settings, settings.model_configs(model))
        engine = llm_engine(configs, lang=lang, desk=desk)
        where = settings.local_url or settings.base_url or "https://api.openai.com/v1"
        chosen = ", ".join(f"{agent} {config.model}" for agent, config in configs.items())
        console.print(
            f"[bold green]engine: llm[/] — {where} · {chosen} · "
            f"structured output by {settings.structured_method}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        engine = offline_engine(desk=desk)
        console.print(
            "[bold yellow]engine: offline[/] — no LLM: sentence embeddings "
            "(USE multilingual v3), desk relevance, beats and importance, agglomerative "
            "clustering, themes named after their lead story, extractive writing, "
            "deterministic fact-checking",
            highlight=False,
            soft_wrap=True,
        )
    shared = "" if settings.budget_scope == "run" else f" (shared per {settings.budget_scope})"
    console.print(f"limits{shared}: {options.limits.describe()}", highlight=False, soft_wrap=True)
    console.print(
        f"run {options.run_id}{' (resumed)' if options.resume else ''} · "
        f"sources: {options.sources} · out: {options.out_dir}"
        + (f" · items selected by {options.window} time" if options.window != "published" else ""),
        highlight=False,
        soft_wrap=True,
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(_STEPS["research"], total=None)

        def on_step(node: str, delta: dict[str, Any]) -> None:
            detail = _detail(node, delta)
            progress.console.print(f"  [green]✓[/] {node:<10} {detail}", highlight=False)
            for problem in delta.get("problems", []) if node == "research" else []:
                progress.console.print(
                    f"    [yellow]![/] {problem.origin}: {problem.message}",
                    highlight=False,
                    soft_wrap=True,
                )
            following = {
                "research": "dedup",
                "dedup": "cluster",
                "cluster": "write",
                "write": "fact_check",
                "fact_check": "revise",
                "revise": "fact_check",
            }
            progress.update(task, description=_STEPS.get(following.get(node, "publish"), ""))

        return asyncio.run(run_week(options, engine, on_step))


def _detail(node: str, delta: dict[str, Any]) -> str:
    if node == "research":
        items = delta["items"]
        undated = sum(item.dated_by == "collected" for item in items)
        off_desk = len(delta.get("left_out", []))
        return (
            f"{len(items)} items on the desk"
            + (f" ({undated} dated by collection time)" if undated else "")
            + (f", {off_desk} off the desk left out" if off_desk else "")
            + f", {delta.get('outside_window', 0)} outside the week left out, "
            f"{len(delta.get('problems', []))} problem(s)"
        )
    if node == "dedup":
        return f"{len(delta['stories'])} stories"
    if node == "cluster":
        return f"{len(delta['themes'])} themes"
    if node in ("write", "revise"):
        return f"{len(delta['draft'].claims)} claims"
    if node == "fact_check":
        labels = [v.label for v in delta["verdicts"].values()]
        return ", ".join(
            f"{labels.count(k)} {k}" for k in ("supported", "contradicted", "unsupported")
        )
    if node == "publish":
        return str(delta.get("published", {}).get("weekly", ""))
    return ""


McpTransport = Annotated[
    str, typer.Option(help="stdio, or http (streamable HTTP on --host/--port, path /mcp).")
]
McpHost = Annotated[str, typer.Option(help="Address to listen on (http).")]
McpPort = Annotated[int, typer.Option(help="Port to listen on (http).")]
AllowHosts = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        help="A host the fetcher may reach although it is not public (repeatable).",
    ),
]


def _serve_mcp(spec: Any, transport: str, host: str, port: int) -> None:
    import os
    from contextlib import ExitStack

    from newsroom.weeks import zone

    try:
        zone(spec.tz)
        if transport not in {"stdio", "http"}:
            raise UsageError(f"--transport must be stdio or http, not {transport!r}")
        if transport == "http" and host not in {"127.0.0.1", "localhost", "::1"}:
            print(
                f"warning: serving {spec.name} on {host}:{port} without authentication",
                file=sys.stderr,
            )
    except NewsroomError as exc:
        raise _fail(exc) from None
    with ExitStack() as stack:
        if os.environ.get("NEWSROOM_TRACE_FILE"):  # started by a run: its spans join the run's
            from newsroom.observability.tracing import JsonlSpanExporter, exporting

            trace_file = Path(os.environ["NEWSROOM_TRACE_FILE"])
            stack.enter_context(exporting(JsonlSpanExporter(trace_file)))
        server = spec.build()
        if transport == "stdio":
            server.run("stdio")
        else:
            server.settings.host, server.settings.port = host, port
            server.run("streamable-http")


@mcp_app.command("archive")
def mcp_archive(
    folder: Annotated[
        Path | None,
        typer.Option(
            help="Folder (or one JSON, feed or digest file) to serve [default: bundled samples]."
        ),
    ] = None,
    tz: Annotated[str, typer.Option(help="Time zone for digest dates.")] = "Asia/Shanghai",
    transport: McpTransport = "stdio",
    host: McpHost = "127.0.0.1",
    port: McpPort = 8801,
) -> None:
    """The archive server: items for a date range from a folder, and keyword search."""
    from newsroom.tools.client import ServerSpec

    _serve_mcp(ServerSpec("archive", folder=folder, tz=tz), transport, host, port)


def _fetching_server_command(name: str, port_default: int, summary: str) -> None:
    """Register `newsroom mcp NAME` for a server that fetches from the web (feeds, web)."""

    def command(
        tz: Annotated[str, typer.Option(help="Time zone for dates without one.")] = "Asia/Shanghai",
        allow_host: AllowHosts = None,
        timeout: Annotated[float, typer.Option(help="Seconds per fetch.")] = 15.0,
        max_bytes: Annotated[int, typer.Option(help="Body size cap.")] = 5_000_000,
        max_redirects: Annotated[int, typer.Option(help="Redirects followed at most.")] = 5,
        transport: McpTransport = "stdio",
        host: McpHost = "127.0.0.1",
        port: McpPort = port_default,
    ) -> None:
        from newsroom.tools.client import ServerSpec

        spec = ServerSpec(
            name,  # type: ignore[arg-type]
            tz=tz,
            allow_hosts=tuple(allow_host or ()),
            timeout=timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
        )
        _serve_mcp(spec, transport, host, port)

    command.__doc__ = summary
    mcp_app.command(name)(command)


_fetching_server_command(
    "feeds", 8802, "The feeds server: RSS, Atom and JSON Feed over the web, conditional requests."
)
_fetching_server_command(
    "web", 8803, "The web server: one page's article text, title, date and language."
)


@eval_app.command("cluster")
def eval_cluster(
    items: Annotated[Path, typer.Option(help="Items JSONL with theme and dup_group labels.")],
    predictions: Annotated[
        Path | None, typer.Option(help="Write one JSON line per item here.")
    ] = None,
    desk: Annotated[
        bool, typer.Option("--desk", help="Themes as the edition builds them (desk beats).")
    ] = False,
) -> None:
    """Dedup and theme clustering quality: B-cubed, ARI, NMI, dedup pair precision/recall."""
    from newsroom.evaluation import evaluate_clusters

    try:
        metrics, rows = evaluate_clusters(items, desk=desk)
    except NewsroomError as exc:
        raise _fail(exc) from None
    _write_predictions(predictions, rows)
    out.print_json(json.dumps(metrics))


@eval_app.command("factcheck")
def eval_factcheck(
    items: Annotated[
        list[Path],
        typer.Option(
            help="Items the claims cite (items.json, a list or JSON lines), or a folder of "
            "WEEK/items.json. Repeat it with --claims to pool several sets."
        ),
    ],
    claims: Annotated[
        list[Path],
        typer.Option(help="Claims JSONL with labels, or a folder of WEEK/claims.jsonl."),
    ],
    week: Annotated[
        list[str] | None, typer.Option(help="Only these WEEK folders (repeatable).")
    ] = None,
    predictions: Annotated[
        Path | None, typer.Option(help="Write one JSON line per claim here.")
    ] = None,
) -> None:
    """Fact-check figures of the offline rules: contradicted claims flagged and labelled
    contradicted, flag precision, supported recall, precision/recall per label, and per
    error kind (`by_kind`) when claims carry a `kind` or `perturbation`."""
    from newsroom.evaluation import evaluate_factcheck

    try:
        metrics, rows = evaluate_factcheck(items, claims, week or ())
    except NewsroomError as exc:
        raise _fail(exc) from None
    _write_predictions(predictions, rows)
    out.print_json(json.dumps(metrics))


@eval_app.command("edition")
def eval_edition(
    items: Annotated[
        Path,
        typer.Option(
            help="The week's items (items.json or JSONL, or the week's folder holding items.json)."
        ),
    ],
    labels: Annotated[Path, typer.Option(help="The week's labels.json.")],
    edition: Annotated[
        Path, typer.Option(help="The edition folder (weekly.md, briefing.md, report.json).")
    ],
    desk: Annotated[
        Path | None,
        typer.Option(
            help="The desk profile the edition was written with: a heading naming one of its "
            "entities names its event [default: NEWSROOM_DESK, else the bundled AI desk]."
        ),
    ] = None,
) -> None:
    """An edition against a labelled week: highlight and lead recall, off-topic share,
    duplicate bullets, theme purity, headings that name the lead event, same-event pairs."""
    from newsroom.evaluation_edition import evaluate_edition
    from newsroom.methods.desk import Desk

    try:
        names = Desk.load(desk or _settings().desk).entity_names()
        metrics = evaluate_edition(items, labels, edition, names)
    except NewsroomError as exc:
        raise _fail(exc) from None
    out.print_json(json.dumps(metrics, ensure_ascii=False))


OutOption = Annotated[Path | None, typer.Option("--out", help="Output folder [default: out].")]


T = TypeVar("T")


def _read_storylines(out_dir: Path | None, read: Callable[[StorylineStore], T]) -> T:
    """`read` applied to the output folder's storyline store; a missing store is exit 2, an
    unreadable one exit 1, each one line."""
    from newsroom.runner import storylines_path
    from newsroom.storylines import opened

    path = storylines_path(_out(out_dir))
    if not path.is_file():
        raise _fail(UsageError(f"no storylines at {path}: run a week into that folder first"))
    try:
        with opened(path) as store:
            return read(store)
    except NewsroomError as exc:
        raise _fail(exc) from None


@eval_app.command("storylines")
def eval_storylines(
    labels: Annotated[Path, typer.Option(help="Labelled storylines: [{name, items}] (JSON).")],
    out_dir: OutOption = None,
) -> None:
    """The storylines the runs into an output folder built, against labelled ones: pairwise
    links between labelled items of different weeks (precision, recall)."""
    from newsroom.storylines import evaluate

    try:
        rows = json.loads(labels.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(UsageError(f"cannot read labels {labels}: {exc}")) from None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict)
        and isinstance(r.get("items"), list)
        and all(isinstance(i, str) for i in r["items"])
        for r in rows
    ):
        raise _fail(UsageError(f"{labels}: expected a list of {{name, items: [item ids]}} (JSON)"))
    metrics = _read_storylines(out_dir, lambda store: evaluate(store, rows))
    out.print_json(json.dumps(metrics, ensure_ascii=False))


@app.command()
def storylines(
    since: Annotated[
        str | None, typer.Option(help="Only storylines with a story this week or later.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
    out_dir: OutOption = None,
) -> None:
    """The storylines of the editions in an output folder: each with its weeks, its gaps,
    its stories and outlets per week."""
    if since is not None:
        from newsroom.weeks import parse_week

        try:
            since = parse_week(since).week
        except NewsroomError as exc:
            raise _fail(exc) from None
    found = _read_storylines(out_dir, lambda store: store.storylines(since=since))
    if as_json:
        out.print_json(json.dumps([s.as_json() for s in found], ensure_ascii=False))
        return
    for line in found:
        pace = "  ".join(f"{w}: {p['stories']}/{p['outlets']}" for w, p in line.pace().items())
        gaps = f"  (gaps: {', '.join(line.gaps())})" if line.gaps() else ""
        # Headlines are the sources' text: printed as written, never read as markup.
        show = functools.partial(out.print, markup=False, highlight=False, soft_wrap=True)
        show(f"{line.name}  [{len(line.weeks)} weeks, {len(line.entries)} stories]{gaps}")
        show(f"  stories/outlets per week: {pace}")
        for e in line.entries:
            show(f"  {e.week}  {e.headline}")


def _out(out_dir: Path | None) -> Path:
    return out_dir or _settings().out_dir


@app.command()
def preview(
    run_id: str,
    edition: Annotated[str, typer.Option(help="weekly, digest or briefing.")] = "weekly",
    out_dir: OutOption = None,
) -> None:
    """Write a standalone HTML page of a run's edition (and print its path)."""
    from newsroom.observability.store import load_run, run_folder
    from newsroom.preview import write_preview

    try:
        folder = _out(out_dir)
        run, _ = load_run(folder, run_id)
        page = write_preview(run, edition, run_folder(folder, run_id))
    except NewsroomError as exc:
        raise _fail(exc) from None
    out.print(str(page), highlight=False, soft_wrap=True)


@traces_app.command("list")
def traces_list(out_dir: OutOption = None) -> None:
    """Every stored run: status, engine, calls, tokens, cost, stop reason."""
    from newsroom.observability.store import list_runs

    shared = _results(_settings())
    if shared is not None:
        with contextlib.closing(shared):
            runs = shared.runs()
    else:
        runs = list_runs(_out(out_dir))
    if not runs:
        where = f"under {_out(out_dir)}" if shared is None else "in the shared store"
        console.print(f"no runs {where}")
        return
    out.print(
        f"{'run':<32} {'status':<11} {'engine':<7} {'started':<19} {'secs':>6} "
        f"{'calls':>5} {'tokens':>8} {'cost $':>9}  stop reason",
        highlight=False,
        soft_wrap=True,
    )
    for run in runs:
        usage = run.get("usage", {})
        tokens = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
        out.print(
            f"{run['run_id']:<32} {run['status']:<11} {run.get('engine', ''):<7} "
            f"{run.get('started', '')[:19]:<19} {run.get('timings', {}).get('total', 0):>6.1f} "
            f"{usage.get('llm_calls', 0):>5} {tokens:>8} {usage.get('cost_usd', 0):>9.4f}  "
            f"{run.get('stop_reason') or ''}",
            highlight=False,
            soft_wrap=True,
        )


@traces_app.command("show")
def traces_show(run_id: str, out_dir: OutOption = None) -> None:
    """A run's span tree, then calls, tokens and cost per agent and model, and the stop reason."""
    from newsroom.observability.store import summarize, tree_lines

    try:
        run, spans = _load_run(_out(out_dir), run_id)
    except NewsroomError as exc:
        raise _fail(exc) from None
    for row in tree_lines(spans):
        out.print(row, highlight=False, soft_wrap=True)
    summary = summarize(spans)
    out.print(
        f"\nrun {run_id} · week {run['week']} · {run['engine']} · status {run['status']} · "
        f"{summary.traces} trace(s), {summary.spans} spans",
        highlight=False,
    )
    for key, line in sorted(summary.by_agent_model.items()):
        out.print(
            f"  {key:<36} {line.calls:>4} calls {line.input_tokens:>8} in "
            f"{line.output_tokens:>7} out  ${line.cost_usd:.6f}",
            highlight=False,
            soft_wrap=True,
        )
    total = summary.total
    out.print(
        f"  {'total':<36} {total.calls:>4} calls {total.input_tokens:>8} in "
        f"{total.output_tokens:>7} out  ${total.cost_usd:.6f} · {summary.tool_calls} tool "
        "calls",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"stop reason: {run.get('stop_reason') or 'none (finished)'}",
        highlight=False,
        soft_wrap=True,
    )


@traces_app.command("export")
def traces_export(
    run_id: str,
    endpoint: Annotated[str, typer.Option(help="OTLP receiver, e.g. http://127.0.0.1:6006")],
    protocol: Annotated[str, typer.Option(help="http/protobuf or grpc.")] = "http/protobuf",
    out_dir: OutOption = None,
) -> None:
    """Replay a stored run's spans into any OTLP receiver (Phoenix, Jaeger, Tempo, Langfuse)."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    from newsroom.observability.store import otlp_exporter, replay

    try:
        _, spans = _load_run(_out(out_dir), run_id)
        exporter = otlp_exporter(endpoint, protocol)
    except NewsroomError as exc:
        raise _fail(exc) from None
    result = exporter.export(replay(spans))
    exporter.shutdown()
    if result != SpanExportResult.SUCCESS:
        console.print(f"[bold red]error:[/] {endpoint} did not accept the spans", highlight=False)
        raise typer.Exit(4)
    out.print(f"exported {len(spans)} spans of run {run_id} to {endpoint}", highlight=False)


def _results(settings: Any) -> Any:
    """The shared results store when NEWSROOM_POSTGRES_URL is set (else None); PostgreSQL
    down, or migrated by newer code, is a clear error naming it (its password left out)."""
    if not settings.postgres_url:
        return None
    from newsroom.results import ResultsStore

    try:
        return ResultsStore(settings.postgres_url)
    except NewsroomError as exc:
        raise _fail(exc) from None


def _load_run(folder: Path, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run's record and spans: from PostgreSQL when it is configured (any host's runs),
    else from the output folder."""
    from newsroom.observability.store import load_run

    shared = _results(_settings())
    if shared is None:
        return load_run(folder, run_id)
    with contextlib.closing(shared):
        run = shared.run(run_id)
        if run is None:
            known = ", ".join(r["run_id"] for r in shared.runs()[-5:]) or "none"
            raise UsageError(f"no run {run_id!r} in the shared store (latest: {known})")
        return run, shared.spans(run_id)


def _write_predictions(path: Path | None, rows: list[dict[str, Any]]) -> None:
    if path is not None:
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )


ServeOut = Annotated[Path | None, typer.Option("--out", help="Output folder [default: out].")]
Debounce = Annotated[
    float, typer.Option(help="Seconds a week must be quiet before its edition is updated.")
]


def _service_redis(settings: Any) -> tuple[str, Any]:
    """The Redis to use: REDIS_URL, or an embedded Valkey persisting under the home folder."""
    if settings.redis_url:
        return settings.redis_url, None
    from newsroom.service.embedded import EmbeddedValkey

    data = settings.home / "valkey"
    # Append-only file, fsynced every second: a restart, or a crash of the server, keeps
    # every acknowledged item; only a power cut may lose the last second. One server per data
    # folder (a lock), stopped by the kernel when this process dies (see service/embedded.py).
    server = EmbeddedValkey(data)
    url = server.start()
    print(f"embedded Valkey on 127.0.0.1:{server.port}, data in {data}", file=sys.stderr)
    return url, server


def _worker(
    url: str, out_dir: Path, debounce: float, consumer: str, tz: str, namespace: str
) -> Any:
    import redis

    from newsroom.service.queue import ItemQueue
    from newsroom.service.worker import WeekStore, Worker

    client = redis.Redis.from_url(url, decode_responses=True)
    queue, store = ItemQueue(client, name=namespace), WeekStore(client, name=namespace)
    settings = _settings()
    settings.redis_url = settings.redis_url or url  # the embedded one, for shared budgets
    return Worker(queue, store, out_dir, consumer, tz, debounce, settings=settings)


Namespace = Annotated[str, typer.Option(help="Prefix of the service's Redis keys.")]


def _free_port(host: str, port: int) -> None:
    """A port another process listens on is a UsageError, found before anything starts."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                "(choose another --port, or stop what holds it)"
            ) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8800,
    out_dir: ServeOut = None,
    workers: Annotated[int, typer.Option(help="Workers in this process.")] = 1,
    debounce: Debounce = 30.0,
    namespace: Namespace = "newsroom",
    poll: Annotated[float, typer.Option(help="Seconds between feed polls (0: no poller).")] = 300.0,
    allow_host: AllowHosts = None,
    model_file: ModelFile = None,
) -> None:
    """The long-running service: HTTP API, a feed poller, and workers keeping each week's
    edition current."""
    import secrets
    import signal
    import socket
    import threading

    import uvicorn

    from newsroom.service.api import create_app

    settings = _settings()
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token and host not in {"127.0.0.1", "localhost", "::1"}:
        raise _fail(
            UsageError(
                f"refusing to listen on {host} without NEWSROOM_API_TOKEN: set a token "
                "for writes, or listen on 127.0.0.1"
            )
        )
    try:
        _free_port(host, port)  # before Redis and the workers start, not after
    except UsageError as exc:
        raise _fail(exc) from None
    if not token:
        token = secrets.token_urlsafe(24)
        print(f"write token for this session: {token}", file=sys.stderr)
    local = _local_model(settings, model_file)  # a bad model file is found before Redis
    shared = _results(settings)  # PostgreSQL down or newer than this code: said before Redis
    try:
        url, embedded = _service_redis(settings)
    except UsageError as exc:  # another serve holds the embedded Valkey's data folder
        raise _fail(exc) from None
    out = out_dir or settings.out_dir
    crew = [
        _worker(url, out, debounce, f"{socket.gethostname()}-{k}", settings.tz, namespace)
        for k in range(workers)
    ]
    threads = [threading.Thread(target=w.run, name=w.consumer) for w in crew]
    poller = None
    if poll > 0:
        from newsroom.service.poller import Poller
        from newsroom.tools.client import ServerSpec

        source = crew[0] if crew else _worker(url, out, debounce, "poller", settings.tz, namespace)
        spec = ServerSpec("feeds", tz=settings.tz, allow_hosts=tuple(allow_host or ()))
        poller = Poller(source.queue, namespace, spec, interval=poll)
        threads.append(threading.Thread(target=poller.run, name="poller"))
    for thread in threads:
        thread.start()
    try:
        first = crew[0] if crew else _worker(url, out, debounce, "api", settings.tz, namespace)
        app_ = create_app(first.queue, first.store, out, token, results=shared)
        # uvicorn shuts down on SIGTERM/SIGINT, then raises the signal again under the handler
        # that was there before it: with these, that ends in the drain below, not in death.
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        uvicorn.run(app_, host=host, port=port, log_level="warning")
    finally:
        for worker in crew:
            worker.stop.set()  # the current batch finishes and is acknowledged
        if poller is not None:
            poller.stop.set()
        for thread in threads:
            thread.join()
        if embedded is not None:
            embedded.stop()
        if shared is not None:
            shared.close()
        local.close()
        print("stopped: workers drained", file=sys.stderr)


@app.command()
def worker(
    out_dir: ServeOut = None,
    debounce: Debounce = 30.0,
    name: Annotated[str | None, typer.Option(help="Consumer name [default: host-pid].")] = None,
    namespace: Namespace = "newsroom",
    model_file: ModelFile = None,
) -> None:
    """One worker: files queued items under their weeks and publishes weeks gone quiet (needs
    REDIS_URL: the service's Redis, shared by workers on any machine)."""
    import os
    import signal
    import socket

    settings = _settings()
    if not settings.redis_url:
        raise _fail(UsageError("a worker needs REDIS_URL (the service's Redis)"))
    shared = _results(settings)  # PostgreSQL down, or migrated by newer code: said at start
    if shared is not None:
        shared.close()
    with _local_model(settings, model_file):
        crew = _worker(
            settings.redis_url,
            out_dir or settings.out_dir,
            debounce,
            name or f"{socket.gethostname()}-{os.getpid()}",
            settings.tz,
            namespace,
        )
        signal.signal(signal.SIGTERM, lambda *_: crew.stop.set())
        try:
            crew.run()
        except KeyboardInterrupt:
            crew.stop.set()
    print(f"stopped: {crew.processed} items filed, {len(crew.updates)} editions", file=sys.stderr)


def main() -> None:
    try:
        app()
    except UsageError as exc:  # pragma: no cover - typer handles its own
        console.print(f"error: {exc}")
        sys.exit(2)
