"""Prices in integer micro-dollars: genai-prices' bundled table, with a local override table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

MICRO = 1_000_000


@dataclass(frozen=True)
class Rate:
    """Micro-dollars per million tokens, input and output."""

    input: int
    output: int

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Rounded up, so a price never undercounts."""
        total = input_tokens * self.input + output_tokens * self.output
        return -(-total // 1_000_000)


@cache
def _known(model: str, provider: str | None) -> Rate | None:
    from genai_prices import Usage, calc_price

    try:
        million = calc_price(
            Usage(input_tokens=1_000_000, output_tokens=0), model_ref=model, provider_id=provider
        )
        output = calc_price(
            Usage(input_tokens=0, output_tokens=1_000_000), model_ref=model, provider_id=provider
        )
    except LookupError:
        if provider is not None:
            return _known(model, None)
        return None
    return Rate(int(Decimal(million.total_price) * MICRO), int(Decimal(output.total_price) * MICRO))


@dataclass
class Pricing:
    """`overrides` maps a model to (input, output) US dollars per million tokens."""

    overrides: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def rate(self, model: str, provider: str | None = None) -> Rate | None:
        if model in self.overrides:
            dollars_in, dollars_out = self.overrides[model]
            return Rate(round(dollars_in * MICRO), round(dollars_out * MICRO))
        known_provider = provider if provider in ("openai", "anthropic", "deepseek") else None
        return _known(model, known_provider)
