"""Stored runs: their run.json and trace file, read back for `newsroom traces` and re-export."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsroom.errors import UsageError
from newsroom.observability import semconv as sc


def runs_folder(out_dir: Path) -> Path:
    return out_dir / ".newsroom" / "runs"


def run_folder(out_dir: Path, run_id: str) -> Path:
    return runs_folder(out_dir) / run_id


def edition_copy(run_dir: Path, published: Path) -> Path:
    """Where a run keeps its own copy of an edition file it published."""
    return run_dir / "edition" / published.name


def list_runs(out_dir: Path) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(runs_folder(out_dir).glob("*/run.json")):
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(runs, key=lambda r: r.get("started", ""))


def load_run(out_dir: Path, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    folder = run_folder(out_dir, run_id)
    if not (folder / "run.json").is_file():
        known = ", ".join(r["run_id"] for r in list_runs(out_dir)[-5:]) or "none"
        raise UsageError(f"no run {run_id!r} under {runs_folder(out_dir)} (latest: {known})")
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return run, read_spans(folder / "trace.jsonl")


def read_spans(trace_file: Path) -> list[dict[str, Any]]:
    """The span records of a trace file (one JSON object per line); none if there is no file."""
    if not trace_file.is_file():
        return []
    lines = trace_file.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Totals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class TraceSummary:
    traces: int
    spans: int
    by_agent_model: dict[str, Totals] = field(default_factory=dict)
    tool_calls: int = 0
    status: str | None = None
    stop_reason: str | None = None

    @property
    def total(self) -> Totals:
        out = Totals()
        for line in self.by_agent_model.values():
            out.calls += line.calls
            out.input_tokens += line.input_tokens
            out.output_tokens += line.output_tokens
            out.cost_usd += line.cost_usd
        return out


def summarize(spans: list[dict[str, Any]]) -> TraceSummary:
    summary = TraceSummary(traces=len({s["trace_id"] for s in spans}), spans=len(spans))
    lines: dict[str, Totals] = defaultdict(Totals)
    for span in spans:
        attributes = span["attributes"]
        operation = attributes.get(sc.OPERATION)
        if operation == sc.OP_CHAT:
            line = lines[f"{attributes.get(sc.AGENT_NAME)}/{attributes.get(sc.REQUEST_MODEL)}"]
            line.calls += 1
            line.input_tokens += int(attributes.get(sc.INPUT_TOKENS, 0))
            line.output_tokens += int(attributes.get(sc.OUTPUT_TOKENS, 0))
            line.cost_usd += float(attributes.get(sc.COST_USD, 0.0))
        elif operation == sc.OP_EXECUTE_TOOL:
            summary.tool_calls += 1
        elif operation == sc.OP_INVOKE_WORKFLOW:
            summary.status = attributes.get(sc.STATUS, summary.status)
            summary.stop_reason = attributes.get(sc.STOP_REASON, summary.stop_reason)
    summary.by_agent_model = dict(lines)
    return summary


def tree_lines(spans: list[dict[str, Any]]) -> list[str]:
    """An indented tree per trace: name, duration, tokens and cost where a span has them."""
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    ids = {s["span_id"] for s in spans}
    for span in sorted(spans, key=lambda s: s["start_ns"]):
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children[parent].append(span)
    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        attributes = span["attributes"]
        seconds = (span["end_ns"] - span["start_ns"]) / 1e9
        extra = []
        if sc.INPUT_TOKENS in attributes:
            extra.append(
                f"{attributes[sc.INPUT_TOKENS]}+{attributes.get(sc.OUTPUT_TOKENS, 0)} tokens"
            )
        if attributes.get(sc.COST_USD):
            extra.append(f"${float(attributes[sc.COST_USD]):.6f}")
        if span["status"] == "ERROR":
            extra.append("ERROR")
        extra += [event["name"] for event in span["events"] if event["name"] != sc.EVENT_VERDICTS]
        detail = f"  [{', '.join(extra)}]" if extra else ""
        lines.append(f"{'  ' * depth}{span['name']}  {seconds:.3f}s{detail}")
        for child in children.get(span["span_id"], []):
            walk(child, depth + 1)

    for root in children[None]:
        walk(root, 0)
    return lines


def replay(spans: list[dict[str, Any]]) -> list[Any]:
    """The stored records as SDK spans again, ready for any span exporter."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource.create({"service.name": "newsroom", sc.OI_PROJECT: "newsroom"})
    out = []
    for record in spans:
        context = SpanContext(
            int(record["trace_id"], 16),
            int(record["span_id"], 16),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        parent = None
        if record["parent_id"]:
            parent = SpanContext(
                int(record["trace_id"], 16),
                int(record["parent_id"], 16),
                is_remote=False,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        out.append(
            ReadableSpan(
                name=record["name"],
                context=context,
                parent=parent,
                resource=resource,
                attributes=record["attributes"],
                events=[
                    Event(e["name"], e["attributes"], e["timestamp_ns"]) for e in record["events"]
                ],
                kind=SpanKind[record.get("kind", "INTERNAL")],
                status=Status(StatusCode[record["status"]]),
                start_time=record["start_ns"],
                end_time=record["end_ns"],
            )
        )
    return out


def otlp_exporter(endpoint: str | None = None, protocol: str | None = None) -> Any:
    """An OTLP span exporter: gRPC or HTTP, from arguments or the standard OTEL_* variables."""
    import os

    chosen = (
        protocol
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if chosen == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(endpoint=endpoint, insecure=True) if endpoint else OTLPSpanExporter()
        )
    if chosen not in ("http/protobuf", "http"):
        raise UsageError(f"unknown OTLP protocol {chosen!r}: use grpc or http/protobuf")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return HttpExporter(endpoint=endpoint) if endpoint else HttpExporter()
