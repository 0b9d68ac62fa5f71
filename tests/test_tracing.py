"""One trace per run: a root span, a span per node, a span per MCP tool call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from newsroom.agents import Engine
from newsroom.observability.store import read_spans
from newsroom.runner import RunOptions, run_week


def test_run_writes_one_trace_with_node_and_tool_spans(
    engine: Engine, samples: Path, tmp_path: Path
) -> None:
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    spans = read_spans(Path(summary.outputs["trace"]))
    assert len({span["trace_id"] for span in spans}) == 1
    by_id = {span["span_id"]: span for span in spans}
    root = next(span for span in spans if span["parent_id"] is None)
    assert root["name"] == "invoke_workflow newsroom"
    assert root["attributes"]["newsroom.week"] == "2026-W06"
    assert root["attributes"]["newsroom.edition"] == "weekly"
    assert root["attributes"]["newsroom.status"] == "ok"
    agents = [
        span["attributes"]["gen_ai.agent.name"]
        for span in spans
        if span["name"].startswith("invoke_agent")
    ]
    assert {"researcher", "clusterer", "writer", "fact_checker", "publisher"} <= set(agents)
    tool = next(span for span in spans if span["name"] == "execute_tool archive.items")
    assert by_id[tool["parent_id"]]["name"] == "invoke_agent researcher"
    checks = [e for span in spans for e in span["events"] if e["name"] == "fact_check.verdicts"]
    assert checks and checks[0]["attributes"]["newsroom.verdicts.supported"] > 0
    text = json.dumps(spans)
    assert "OPENAI_API_KEY" not in text and "sk-" not in text


def test_llm_run_has_chat_spans_with_usage(embedder: Any, samples: Path, tmp_path: Path) -> None:
    from newsroom.testing import scripted_engine

    engine, _ = scripted_engine(embedder, "scripted")
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    spans = read_spans(Path(summary.outputs["trace"]))
    by_id = {span["span_id"]: span for span in spans}
    chats = [span for span in spans if span["name"] == "chat scripted"]
    assert len(chats) == summary.usage.llm_calls
    assert (
        sum(s["attributes"]["gen_ai.usage.input_tokens"] for s in chats)
        == summary.usage.input_tokens
    )
    parents = {by_id[s["parent_id"]]["name"] for s in chats}
    assert "invoke_agent writer" in parents and "invoke_agent clusterer" in parents


def _tree(spans: list[dict[str, Any]]) -> list[str]:
    """Span names as an indented tree, children in start order, repeats folded: the shape."""
    ids = {s["span_id"] for s in spans}
    children: dict[Any, list[dict[str, Any]]] = {}
    for span in sorted(spans, key=lambda s: s["start_ns"]):
        children.setdefault(span["parent_id"] if span["parent_id"] in ids else None, []).append(
            span
        )
    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        line = "  " * depth + span["name"]
        if not lines or lines[-1] != line:
            lines.append(line)
        for child in children.get(span["span_id"], []):
            walk(child, depth + 1)

    for root in children[None]:
        walk(root, 0)
    return lines


OFFLINE_TREE = [
    "invoke_workflow newsroom",
    "  invoke_agent researcher",
    "    execute_tool archive.items",
    "      archive items",
    "  invoke_agent clusterer",
    "  invoke_agent writer",
    "  invoke_agent fact_checker",
    "  invoke_agent publisher",
]


def test_offline_span_tree_snapshot(engine: Engine, samples: Path, tmp_path: Path) -> None:
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    spans = read_spans(Path(summary.outputs["trace"]))
    assert _tree(spans) == OFFLINE_TREE


def test_llm_span_tree_snapshot_and_no_secrets(
    embedder: Any, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsroom.testing import scripted_engine

    secret = "sk-live-abcdef123456"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    engine, _ = scripted_engine(embedder, api_key=secret)
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    text = Path(summary.outputs["trace"]).read_text()
    spans = [json.loads(line) for line in text.splitlines()]
    assert _tree(spans) == [
        "invoke_workflow newsroom",
        "  invoke_agent researcher",
        "    execute_tool archive.items",
        "      archive items",
        "    chat scripted",
        "  invoke_agent clusterer",
        "    chat scripted",
        "  invoke_agent writer",
        "    chat scripted",
        "  invoke_agent fact_checker",
        "  invoke_agent publisher",
    ]
    chat = next(s for s in spans if s["name"] == "chat scripted")
    assert {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "newsroom.cost_usd",
        "llm.token_count.prompt",
    } <= set(chat["attributes"])
    assert "gen_ai.input.messages" not in chat["attributes"]  # content only when opted in
    everything = text + (tmp_path / "2026-W06" / "run.json").read_text()
    assert secret not in everything and "api_key" not in everything


def test_message_content_only_when_opted_in(
    embedder: Any, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsroom.testing import scripted_engine

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    engine, _ = scripted_engine(embedder, "scripted")
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    spans = read_spans(Path(summary.outputs["trace"]))
    chat = next(s for s in spans if s["name"] == "chat scripted")
    messages = json.loads(chat["attributes"]["gen_ai.input.messages"])
    assert messages[0]["role"] == "system" and messages[0]["parts"][0]["type"] == "text"
    assert json.loads(chat["attributes"]["gen_ai.output.messages"])[0]["role"] == "assistant"


def test_traces_cli_totals_match_run_json_and_export_over_otlp(tmp_path: Path) -> None:
    import gzip
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from typer.testing import CliRunner

    from newsroom.cli import app
    from newsroom.testing import FakeOpenAIServer

    runner = CliRunner()
    with FakeOpenAIServer() as server:
        result = runner.invoke(
            app,
            ["run", "--week", "2026-W06", "--out", str(tmp_path)],
            env={"OPENAI_BASE_URL": server.base_url},
        )
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "2026-W06" / "run.json").read_text())
    listed = runner.invoke(app, ["traces", "list", "--out", str(tmp_path)], env={"COLUMNS": "300"})
    assert run["run_id"] in listed.output
    shown = runner.invoke(
        app, ["traces", "show", run["run_id"], "--out", str(tmp_path)], env={"COLUMNS": "300"}
    )
    assert shown.exit_code == 0, shown.output
    usage = run["usage"]
    total = next(line for line in shown.output.splitlines() if line.strip().startswith("total"))
    assert f"{usage['llm_calls']} calls" in total
    assert f"{usage['input_tokens']} in" in total and f"{usage['output_tokens']} out" in total
    assert f"${usage['cost_usd']:.6f}" in total and f"{usage['tool_calls']} tool calls" in total
    assert "stop reason: none (finished)" in shown.output

    received: list[ExportTraceServiceRequest] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.append(request)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        exported = runner.invoke(
            app,
            [
                "traces",
                "export",
                run["run_id"],
                "--out",
                str(tmp_path),
                "--endpoint",
                f"http://127.0.0.1:{httpd.server_port}",
            ],
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert exported.exit_code == 0, exported.output
    names = [
        span.name
        for r in received
        for rs in r.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    assert names.count("chat gpt-4o-mini") == usage["llm_calls"]
    assert "invoke_workflow newsroom" in names


def test_stdio_server_spans_join_the_run_trace(
    engine: Engine, samples: Path, tmp_path: Path
) -> None:
    options = RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path, transport="stdio")
    summary = anyio.run(run_week, options, engine)
    spans = read_spans(Path(summary.outputs["trace"]))
    server = next(s for s in spans if s["name"] == "archive items")
    client = next(s for s in spans if s["name"] == "execute_tool archive.items")
    assert server["kind"] == "SERVER" and server["parent_id"] == client["span_id"]
    assert server["trace_id"] == client["trace_id"]


def test_metrics_by_agent_and_model(embedder: Any, samples: Path, tmp_path: Path) -> None:
    from newsroom.guards import Pricing
    from newsroom.testing import scripted_engine

    engine, _ = scripted_engine(embedder, "metered")
    options = RunOptions(
        week="2026-W06",
        sources=samples,
        out_dir=tmp_path,
        pricing=Pricing(overrides={"metered": (1.0, 1.0)}),
    )
    summary = anyio.run(run_week, options, engine)
    metrics = json.loads((Path(summary.outputs["trace"]).parent / "metrics.json").read_text())
    tokens = [
        p
        for p in metrics["gen_ai.client.token.usage"]
        if p["attributes"]["gen_ai.request.model"] == "metered"
    ]
    by_type = {p["attributes"]["gen_ai.token.type"]: 0 for p in tokens}
    for point in tokens:
        by_type[point["attributes"]["gen_ai.token.type"]] += point["sum"]
    assert by_type == {"input": summary.usage.input_tokens, "output": summary.usage.output_tokens}
    durations = [
        p
        for p in metrics["gen_ai.client.operation.duration"]
        if p["attributes"]["gen_ai.request.model"] == "metered"
    ]
    assert sum(p["count"] for p in durations) == summary.usage.llm_calls
    cost = sum(
        p["value"]
        for p in metrics["newsroom.cost"]
        if p["attributes"]["gen_ai.request.model"] == "metered"
    )
    assert abs(cost - summary.usage.cost_usd) < 1e-9
    assert {p["attributes"]["gen_ai.agent.name"] for p in durations} >= {"writer", "clusterer"}
