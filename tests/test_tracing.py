"""One trace per run: a root span, a span per node, a span per MCP tool call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from newsroom.agents import Engine
from newsroom.runner import RunOptions, run_week


def test_run_writes_one_trace_with_node_and_tool_spans(
    engine: Engine, samples: Path, tmp_path: Path
) -> None:
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    spans = [json.loads(line) for line in Path(summary.outputs["trace"]).read_text().splitlines()]
    assert len({span["trace_id"] for span in spans}) == 1
    by_id = {span["span_id"]: span for span in spans}
    root = next(span for span in spans if span["parent_id"] is None)
    assert root["name"] == "invoke_workflow newsroom"
    assert root["attributes"]["newsroom.week"] == "2026-W06"
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
    from newsroom.agents import llm_engine
    from newsroom.config import AGENTS
    from newsroom.llm import ModelConfig
    from newsroom.testing import ScriptedChatModel

    engine = llm_engine(
        {a: ModelConfig(model="scripted") for a in AGENTS},
        embedder,
        models={a: ScriptedChatModel() for a in AGENTS},
    )
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    spans = [json.loads(line) for line in Path(summary.outputs["trace"]).read_text().splitlines()]
    by_id = {span["span_id"]: span for span in spans}
    chats = [span for span in spans if span["name"] == "chat scripted"]
    assert len(chats) == summary.usage.llm_calls
    assert (
        sum(s["attributes"]["gen_ai.usage.input_tokens"] for s in chats)
        == summary.usage.input_tokens
    )
    parents = {by_id[s["parent_id"]]["name"] for s in chats}
    assert "invoke_agent writer" in parents and "invoke_agent clusterer" in parents
