"""GenAI client metrics: token usage and operation duration histograms, a cost counter."""

from __future__ import annotations

from functools import cache
from typing import Any

from opentelemetry import metrics

from newsroom.observability import semconv as sc

_reader: Any = None


def ensure_meter_provider() -> None:
    """Metrics kept in memory (for each run's metrics.json) and, when the OTEL_* variables
    name an OTLP receiver, exported there too."""
    global _reader
    if _reader is not None:
        return
    from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader

    from newsroom.observability.tracing import otlp_configured

    _reader = InMemoryMetricReader()
    readers: list[MetricReader] = [_reader]
    if otlp_configured():
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    # No exemplars: nothing reads them, and sampling one costs more than the point itself.
    metrics.set_meter_provider(
        MeterProvider(metric_readers=readers, exemplar_filter=AlwaysOffExemplarFilter())
    )


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every metric point so far: sums for counters, count/sum/min/max for histograms."""
    if _reader is None:
        return {}
    data = _reader.get_metrics_data()
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in getattr(data, "resource_metrics", []) or []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = out.setdefault(metric.name, [])
                for point in metric.data.data_points:
                    row: dict[str, Any] = {"attributes": dict(point.attributes or {})}
                    if hasattr(point, "count"):
                        row |= {
                            "count": point.count,
                            "sum": point.sum,
                            "min": point.min,
                            "max": point.max,
                        }
                    else:
                        row["value"] = point.value
                    points.append(row)
    return out


@cache
def _instruments() -> tuple[Any, Any, Any]:
    ensure_meter_provider()
    meter = metrics.get_meter("newsroom", schema_url=sc.SCHEMA_URL)
    tokens = meter.create_histogram(
        sc.METRIC_TOKEN_USAGE, unit="{token}", description="Tokens used per model call"
    )
    duration = meter.create_histogram(
        sc.METRIC_DURATION, unit="s", description="Duration of each model call"
    )
    cost = meter.create_counter(
        sc.METRIC_COST, unit="USD", description="Settled cost of model calls"
    )
    return tokens, duration, cost


def record_call(
    agent: str, config: Any, input_tokens: int, output_tokens: int, cost_micro: int, seconds: float
) -> None:
    tokens, duration, cost = _instruments()
    base, inputs, outputs = _attributes(agent, config.provider, config.model)
    tokens.record(input_tokens, inputs)
    tokens.record(output_tokens, outputs)
    duration.record(seconds, base)
    cost.add(cost_micro / 1_000_000, base)


@cache
def _attributes(
    agent: str, provider: str, model: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The attribute sets of one agent's calls to one model, built once."""
    base = {
        sc.OPERATION: sc.OP_CHAT,
        sc.PROVIDER: provider,
        sc.REQUEST_MODEL: model,
        sc.AGENT_NAME: agent,
    }
    return base, {**base, sc.TOKEN_TYPE: "input"}, {**base, sc.TOKEN_TYPE: "output"}
