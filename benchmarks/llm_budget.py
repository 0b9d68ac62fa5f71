"""How many LLM calls and input tokens the LLM engine spends on the bundled week.

Runs the real graph and the real ChatOpenAI client against the fake OpenAI-compatible server
(newsroom.testing), whose usage counts tokens with the same estimate used for the source text.
Prints calls against the bound 2 × themes + 4, and input tokens against 3 × the tokens of the
week's unique source text.

    python benchmarks/llm_budget.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from newsroom.agents import llm_engine
from newsroom.config import Settings, bundled_sources
from newsroom.llm import approx_tokens
from newsroom.runner import RunOptions, run_week
from newsroom.testing import FakeOpenAIServer
from newsroom.tools.formats import read_folder
from newsroom.weeks import parse_week


def main() -> int:
    window = parse_week("2026-W06")
    sources = bundled_sources()
    items = [i for i in read_folder(sources, window.tz).items if window.contains(i.published)]
    unique = {i.id: i.text for i in items}
    source_tokens = sum(approx_tokens(text) for text in unique.values())
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as out:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        settings = Settings()
        engine = llm_engine(settings.model_configs("fake-model"))
        summary = asyncio.run(
            run_week(RunOptions(week=window.week, sources=sources, out_dir=Path(out)), engine)
        )
        themes = summary.counts["themes"]
        by_schema: dict[str, int] = {}
        for request in server.requests:
            name = (request.get("response_format") or {}).get("json_schema", {}).get("name")
            name = name or "tool call"
            by_schema[name] = by_schema.get(name, 0) + 1
    calls, bound = summary.usage.llm_calls, 2 * themes + 4
    ratio = summary.usage.input_tokens / source_tokens
    print(
        f"week {window.week}: {len(unique)} unique items, {source_tokens} source tokens, "
        f"{themes} themes"
    )
    print(f"{'measure':<26}{'used':>10}{'bound':>10}{'used/bound':>12}")
    print(f"{'LLM calls':<26}{calls:>10}{bound:>10}{calls / bound:>12.2f}")
    print(
        f"{'input tokens':<26}{summary.usage.input_tokens:>10}{3 * source_tokens:>10}"
        f"{ratio / 3:>12.2f}"
    )
    print(f"input tokens / source tokens: {ratio:.2f} (bound 3.00)")
    print("calls by request:", json.dumps(by_schema))
    return 0 if calls <= bound and ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
