"""Tracer provider set-up and a JSON-lines span exporter that writes one file per run."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from newsroom.observability import semconv as sc

P = ParamSpec("P")
R = TypeVar("R")


class JsonlSpanExporter(SpanExporter):
    """Appends each finished span as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._handle: Any = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if self._handle is None:
                # Line-buffered append: each span is one write, on disk when it ends (a crash
                # loses no finished span), and lines from the run's stdio servers never mix.
                self._handle = self.path.open("a", encoding="utf-8", buffering=1)
            for span in spans:
                self._handle.write(json.dumps(span_record(span), ensure_ascii=False) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_id": f"{parent.span_id:016x}" if parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "kind": span.kind.name,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "timestamp_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    }


class _Router(SpanProcessor):
    """Forwards finished spans to the exporters attached for the runs in progress."""

    def __init__(self) -> None:
        self.processors: list[SpanProcessor] = []
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            processors = list(self.processors)
        for processor in processors:
            processor.on_end(span)

    def attach(self, processor: SpanProcessor) -> None:
        with self._lock:
            self.processors.append(processor)

    def detach(self, processor: SpanProcessor) -> None:
        with self._lock:
            self.processors.remove(processor)
        processor.shutdown()


_router: _Router | None = None
_router_lock = threading.Lock()


def _ensure_provider() -> _Router:
    global _router
    with _router_lock:
        if _router is None:
            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                provider = TracerProvider(
                    resource=Resource.create(
                        {"service.name": "newsroom", sc.OI_PROJECT: "newsroom"}
                    )
                )
                trace.set_tracer_provider(provider)
            _router = _Router()
            provider.add_span_processor(_router)
            if otlp_configured():
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                from newsroom.observability.store import otlp_exporter

                provider.add_span_processor(BatchSpanProcessor(otlp_exporter()))
        return _router


def otlp_configured() -> bool:
    """Spans also go to an OTLP receiver when the standard OTEL_* variables name one."""
    import os

    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def flush() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()


@contextmanager
def exporting(exporter: SpanExporter) -> Iterator[None]:
    """Send every span that ends inside this block to `exporter`."""
    router = _ensure_provider()
    processor = SimpleSpanProcessor(exporter)
    router.attach(processor)
    try:
        yield
    finally:
        router.detach(processor)
        exporter.shutdown()


@contextmanager
def server_span(name: str, meta: Any) -> Iterator[trace.Span]:
    """A span in an MCP server that continues the caller's trace (W3C traceparent in _meta)."""
    from opentelemetry import propagate

    carrier = meta.model_dump() if hasattr(meta, "model_dump") else dict(meta or {})
    parent = propagate.extract({k: str(v) for k, v in carrier.items() if v is not None})
    with tracer().start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER) as span:
        span.set_attribute(sc.MCP_METHOD, "tools/call")
        yield span


def tracer() -> trace.Tracer:
    _ensure_provider()
    return trace.get_tracer("newsroom")


def traced_agent(agent: str) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Wrap an async graph node in an `invoke_agent {agent}` span."""
    import functools

    def decorate(node: Callable[P, Any]) -> Callable[P, Any]:
        @functools.wraps(node)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            with tracer().start_as_current_span(f"invoke_agent {agent}") as span:
                span.set_attribute(sc.OPERATION, sc.OP_INVOKE_AGENT)
                span.set_attribute(sc.AGENT_NAME, agent)
                span.set_attribute(sc.OI_KIND, "AGENT")
                span.set_attribute(sc.OI_AGENT_NAME, agent)
                return await node(*args, **kwargs)

        return wrapper

    return decorate
