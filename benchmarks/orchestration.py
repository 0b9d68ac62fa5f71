"""Orchestration overhead per LLM call, with a zero-latency scripted chat model, side by side:

- direct: `await model.ainvoke(messages)`, nothing else;
- agent: the same call through `Agent.invoke` under a Guard (reservation, loop check, settle,
  usage ledger, metrics) with tracing to a JSONL file, as every model call of a run goes;
- graph N/step: the calls inside LangGraph steps, N at a time (concurrently, as the writer makes
  one call per theme in one step), with the run's SQLite checkpointer committing every step
  before the next (durability "sync", as `newsroom run` does). 1/step is the worst case: each
  call its own durable step.

And what a run costs whatever its calls: a durable step with no call in it, and the real weekly
graph on the bundled week, zero-latency models, LLM engine against the offline engine (the same
seven steps, no LLM call): its time outside the nodes (graph steps, checkpoints, opening the
checkpoint file, trace and run record).

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
PER_STEP = (1, 9)  # calls a graph step makes: one alone, or one per theme of a week


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
    steps: int


async def graph(steps: int, per_step: int, folder: Path) -> float:
    """Seconds per step of a graph whose every step makes `per_step` calls."""
    from langgraph.graph import END, START, StateGraph

    from newsroom.runner import open_checkpointer

    caller = _agent()

    async def call(state: Count) -> dict[str, Any]:
        await asyncio.gather(*(caller.invoke(MESSAGES) for _ in range(per_step)))
        return {"steps": state["steps"] + 1}

    async def route(state: Count) -> str:
        return "call" if state["steps"] < steps else END

    builder = StateGraph(Count)
    builder.add_node("call", call)
    builder.add_edge(START, "call")
    builder.add_conditional_edges("call", route)
    token = current_guard.set(_guard())
    try:
        async with open_checkpointer(folder / f"checkpoints-{per_step}.sqlite") as saver:
            compiled = builder.compile(checkpointer=saver)
            with exporting(JsonlSpanExporter(folder / "graph-trace.jsonl")):
                started = time.perf_counter()
                await compiled.ainvoke(
                    {"steps": 0},
                    {"configurable": {"thread_id": "bench"}, "recursion_limit": steps + 10},
                    durability="sync",
                )
                return (time.perf_counter() - started) / steps
    finally:
        current_guard.reset(token)


def weekly(engine: Any, folder: Path) -> tuple[float, int]:
    """Seconds of one run spent outside its nodes, and its LLM calls."""
    from newsroom.config import bundled_sources
    from newsroom.runner import RunOptions, run_week

    options = RunOptions(week="2026-W06", sources=bundled_sources(), out_dir=folder)
    summary = asyncio.run(run_week(options, engine))
    nodes = sum(v for k, v in summary.timings.items() if k != "total")
    return summary.timings["total"] - nodes, summary.usage.llm_calls


def main() -> None:
    from newsroom import testing
    from newsroom.agents import offline_engine

    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = 5
    rows: dict[str, list[float]] = {"direct": [], "agent": []}
    rows |= {f"graph {n}/step": [] for n in PER_STEP}
    empty_steps: list[float] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rows["direct"].append(asyncio.run(direct(calls)))
            rows["agent"].append(asyncio.run(agent(calls, folder)))
            for n in PER_STEP:
                per_step = asyncio.run(graph(max(calls // n, 1), n, folder))
                rows[f"graph {n}/step"].append(per_step / n)
            empty_steps.append(asyncio.run(graph(calls, 0, folder)))
    engines = {"LLM engine": testing.scripted_engine()[0], "offline engine": offline_engine()}
    runs: dict[str, list[float]] = {name: [] for name in engines}
    llm_calls = dict.fromkeys(engines, 0)
    for _ in range(5):  # interleaved, so that both see the same machine
        for name, engine in engines.items():
            with tempfile.TemporaryDirectory() as tmp:
                seconds, llm_calls[name] = weekly(engine, Path(tmp))
                runs[name].append(seconds)
    base = statistics.median(rows["direct"])
    print(f"{calls} calls, median of {repeats} runs, zero-latency scripted chat model")
    print(f"{'path':<15}{'ms/call':>10}{'overhead ms':>13}{'ratio':>8}")
    for name, values in rows.items():
        per_call = statistics.median(values)
        overhead = (per_call - base) * 1e3
        print(f"{name:<15}{per_call * 1e3:>10.3f}{overhead:>13.3f}{per_call / base:>8.2f}")
    print(f"a durable graph step with no call in it: {statistics.median(empty_steps) * 1e3:.3f} ms")
    print("weekly run on the bundled week, time outside its nodes (median of 5):")
    for name in engines:
        ms = statistics.median(runs[name]) * 1e3
        print(f"  {name:<15}{llm_calls[name]:>3} LLM calls  {ms:7.1f} ms")


if __name__ == "__main__":
    main()
