"""Orchestration overhead per LLM call, with a zero-latency scripted chat model, side by side:

- direct: `await model.ainvoke(messages)`, nothing else;
- agent: the same call through `Agent.invoke` under a Guard (reservation, loop check, settle,
  usage ledger, metrics) with tracing to a JSONL file, as every model call of a run goes;
- graph: each call in its own LangGraph step, with the run's SQLite checkpointer saving every
  step before the next (durability "sync", as `newsroom run` does): the worst case, one call a
  step;
- weekly: the real weekly graph, LLM engine, bundled week, zero-latency models: the time of the
  run outside its nodes (graph, checkpoints, set-up, run.json) per LLM call, plus the agent
  overhead above: what orchestration costs each call of a real run.

    python benchmarks/orchestration.py 1000

Prints milliseconds per call, the overhead over direct, and the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from newsroom.guards.budget import Guard, Limits, current_guard
from newsroom.llm import Agent, Ledger, ModelConfig
from newsroom.observability.tracing import JsonlSpanExporter, exporting
from newsroom.testing import ScriptedChatModel

MESSAGES = [
    SystemMessage("You are the newsroom's writer."),
    HumanMessage("请用一句话总结本周的AI新闻。" * 20),
]


def zero_latency_model() -> ScriptedChatModel:
    return ScriptedChatModel(respond=lambda messages, kwargs: AIMessage("本周模型发布密集。"))


async def direct(calls: int) -> float:
    model = zero_latency_model()
    started = time.perf_counter()
    for _ in range(calls):
        await model.ainvoke(MESSAGES)
    return (time.perf_counter() - started) / calls


def _agent() -> Agent:
    return Agent("writer", zero_latency_model(), ModelConfig(model="gpt-4o-mini"), Ledger())


def _guard() -> Guard:
    return Guard(limits=Limits(max_usd=None, max_tokens=None, max_llm_calls=None))


async def agent(calls: int, folder: Path) -> float:
    caller = _agent()
    token = current_guard.set(_guard())
    try:
        with exporting(JsonlSpanExporter(folder / "agent-trace.jsonl")):
            started = time.perf_counter()
            for _ in range(calls):
                await caller.invoke(MESSAGES)
            return (time.perf_counter() - started) / calls
    finally:
        current_guard.reset(token)


class Count(TypedDict):
    calls: int


async def graph(calls: int, folder: Path) -> float:
    from langgraph.graph import END, START, StateGraph

    from newsroom.runner import open_checkpointer

    caller = _agent()

    async def call(state: Count) -> dict[str, Any]:
        await caller.invoke(MESSAGES)
        return {"calls": state["calls"] + 1}

    builder = StateGraph(Count)
    builder.add_node("call", call)
    builder.add_edge(START, "call")
    builder.add_conditional_edges("call", lambda s: "call" if s["calls"] < calls else END)
    token = current_guard.set(_guard())
    try:
        async with open_checkpointer(folder / "checkpoints.sqlite") as saver:
            compiled = builder.compile(checkpointer=saver)
            with exporting(JsonlSpanExporter(folder / "graph-trace.jsonl")):
                started = time.perf_counter()
                await compiled.ainvoke(
                    {"calls": 0},
                    {"configurable": {"thread_id": "bench"}, "recursion_limit": calls + 10},
                    durability="sync",
                )
                return (time.perf_counter() - started) / calls
    finally:
        current_guard.reset(token)


def weekly(folder: Path) -> tuple[float, int]:
    """Seconds of one LLM run spent outside its nodes, and its LLM calls."""
    from newsroom import testing
    from newsroom.config import bundled_sources
    from newsroom.runner import RunOptions, run_week

    engine, _ = testing.scripted_engine()
    options = RunOptions(week="2026-W06", sources=bundled_sources(), out_dir=folder)
    summary = asyncio.run(run_week(options, engine))
    nodes = sum(v for k, v in summary.timings.items() if k != "total")
    calls = summary.usage.llm_calls
    return summary.timings["total"] - nodes, calls


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = 3
    results: dict[str, list[float]] = {"direct": [], "agent": [], "graph": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            results["direct"].append(asyncio.run(direct(calls)))
            results["agent"].append(asyncio.run(agent(calls, folder)))
            results["graph"].append(asyncio.run(graph(calls, folder)))
    outside = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, llm_calls = weekly(Path(tmp))
            outside.append(seconds / llm_calls)
    base = statistics.median(results["direct"])
    agent_overhead = statistics.median(results["agent"]) - base
    results["weekly"] = [base + agent_overhead + statistics.median(outside)]
    print(f"{calls} calls, median of {repeats} runs, zero-latency scripted chat model")
    print(f"{'path':<8}{'ms/call':>10}{'overhead ms':>13}{'ratio':>8}")
    for name, values in results.items():
        per_call = statistics.median(values)
        overhead = (per_call - base) * 1e3
        print(f"{name:<8}{per_call * 1e3:>10.3f}{overhead:>13.3f}{per_call / base:>8.2f}")
    print(
        f"weekly: {llm_calls} LLM calls a run; outside the nodes "
        f"{statistics.median(outside) * 1e3:.3f} ms per call, agent layer "
        f"{agent_overhead * 1e3:.3f} ms per call"
    )


if __name__ == "__main__":
    main()
