"""GenAI client metrics: token usage and operation duration histograms, a cost counter."""

from __future__ import annotations

from functools import cache
from typing import Any

from opentelemetry import metrics

from newsroom.observability import semconv as sc


@cache
def _instruments() -> tuple[Any, Any, Any]:
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
    base = {
        sc.OPERATION: sc.OP_CHAT,
        sc.PROVIDER: config.provider,
        sc.REQUEST_MODEL: config.model,
        sc.AGENT_NAME: agent,
    }
    tokens.record(input_tokens, {**base, sc.TOKEN_TYPE: "input"})
    tokens.record(output_tokens, {**base, sc.TOKEN_TYPE: "output"})
    duration.record(seconds, base)
    cost.add(cost_micro / 1_000_000, base)
