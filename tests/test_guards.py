"""Budget guards and loop detection on the assembled graph, and the ledgers underneath."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from langchain_core.messages import HumanMessage

from newsroom.errors import BudgetExceeded, LoopDetected
from newsroom.guards import Amounts, Guard, Limits, MemoryLedger, Pricing
from newsroom.llm import Agent, Ledger, ModelConfig
from newsroom.methods.embeddings import Embedder
from newsroom.observability.store import read_spans
from newsroom.runner import RunOptions, run_week
from newsroom.testing import Reply, ScriptedChatModel, _schema_of, echo, scripted_engine

PRICES = Pricing(overrides={"priced": (2.0, 8.0)})  # dollars per million tokens


def engine_with(embedder: Embedder, max_tokens: int = 512, **models: ScriptedChatModel) -> Any:
    return scripted_engine(embedder, "priced", max_tokens=max_tokens, **models)[0]


def run(engine: Any, samples: Path, out: Path, **limits: Any) -> dict[str, Any]:
    options = RunOptions(
        week="2026-W06",
        sources=samples,
        out_dir=out,
        pricing=PRICES,
        max_revisions=10,
        limits=Limits(**limits),
    )
    summary = anyio.run(run_week, options, engine)
    return json.loads((out / "2026-W06" / "run.json").read_text()) | {"_status": summary.status}


def answer(change: Any) -> ScriptedChatModel:
    def respond(messages: list[Any], kwargs: dict[str, Any]) -> Any:
        schema, tools = _schema_of(kwargs)
        text = "\n".join(str(m.content) for m in messages)
        return change(text, schema, echo(text, schema, tools))

    return ScriptedChatModel(respond=respond)


def assert_partial(out: Path, run_json: dict[str, Any], guard: str) -> str:
    assert run_json["_status"] == "partial" and run_json["status"] == "partial"
    assert run_json["tripped"]["guard"] == guard
    markdown = (out / "2026-W06" / "weekly.md").read_text()
    assert "status: partial" in markdown and f"守卫“{guard}”" in markdown
    spans = read_spans(Path(run_json["outputs"]["trace"]))
    assert any(e["name"] == "guard.tripped" for s in spans for e in s["events"])
    return markdown


def test_writer_that_repeats_its_draft_is_stopped(
    embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    def writer(text: str, schema: str | None, reply: Reply) -> Any:
        if schema == "ThemeSection" and "Resolve AI" in text:
            section = json.loads(reply.content)
            section["evidence"][0]["text"] = "Resolve AI完成9亿美元A轮融资。"
            return json.dumps(section, ensure_ascii=False)
        if schema == "Revisions":  # "revises" by sending the same text back, forever
            rows = [json.loads(r) for r in re.findall(r'^\{"claim_id".*\}$', text, re.M)]
            return json.dumps(
                {"claims": [{k: r[k] for k in ("claim_id", "text", "cites")} for r in rows]},
                ensure_ascii=False,
            )
        return reply

    # The scripted model echoes whole sections and does not stop at max_tokens as a server
    # would: room for the longest of the bundled week's sections, so that only the loop trips.
    engine = engine_with(embedder, max_tokens=1024, writer=answer(writer))
    result = run(engine, samples, tmp_path)
    markdown = assert_partial(tmp_path, result, "no progress")
    assert "9亿美元" not in markdown
    assert result["counts"]["revisions"] == 1


def test_fact_checker_that_rejects_everything_is_stopped(
    embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    flip = {"n": 0}

    def writer(text: str, schema: str | None, reply: Reply) -> Any:
        if schema == "ThemeSection":  # paraphrases the rules cannot settle
            section = json.loads(reply.content)
            for bullet in section["evidence"]:
                bullet["text"] = "这条消息值得关注，相关方面有新的进展。"
            return json.dumps(section, ensure_ascii=False)
        if schema == "Revisions":  # alternates between two wordings: A-B-A-B
            flip["n"] += 1
            rows = [json.loads(r) for r in re.findall(r'^\{"claim_id".*\}$', text, re.M)]
            wording = (
                "此事有新的进展，值得关注。"
                if flip["n"] % 2
                else "这条消息值得关注，相关方面有新的进展。"
            )
            return json.dumps(
                {
                    "claims": [
                        {"claim_id": r["claim_id"], "text": wording, "cites": r["cites"]}
                        for r in rows
                    ]
                },
                ensure_ascii=False,
            )
        return reply

    def checker(text: str, schema: str | None, reply: Reply) -> Any:
        rows = [json.loads(r) for r in re.findall(r'^\{"claim_id".*\}$', text, re.M)]
        return json.dumps(
            {
                "verdicts": [
                    {
                        "claim_id": r["claim_id"],
                        "label": "unsupported",
                        "reason": "not in the source",
                    }
                    for r in rows
                ]
            }
        )

    # Its verdicts on every claim run past 512 tokens: a real server would cut them off there,
    # and one that reports more is stopped as overbilling.
    engine = engine_with(
        embedder, max_tokens=2048, writer=answer(writer), fact_checker=answer(checker)
    )
    result = run(engine, samples, tmp_path)
    assert_partial(tmp_path, result, "ping-pong")
    # Round 0 fails every bullet in wording B (the frame's lead restates them; the outlook's
    # storyline lines are final, dropped rather than rewritten); the revisions then alternate
    # every failing claim A-B, so round 0's draft comes back at round 2.
    assert result["counts"]["revisions"] == 2


def test_researcher_calling_the_same_tool_again_is_stopped(
    embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    def researcher(text: str, schema: str | None, reply: Reply) -> Any:
        return Reply(tool_calls=[{"name": "archive_item", "args": {"id": "wire-health-zh"}}])

    model = answer(researcher)
    engine = engine_with(embedder, researcher=model)
    engine.researcher.max_steps = 50
    result = run(engine, samples, tmp_path)
    assert_partial(tmp_path, result, "repeated tool call")
    assert len(model.calls) == 3  # the third identical call was refused before it was made
    assert result["usage"]["tool_calls"] == 3  # items + two fetches


def test_money_limit_on_the_graph_is_never_crossed(
    embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    engine = engine_with(embedder)
    result = run(engine, samples, tmp_path, max_usd=0.02)
    assert_partial(tmp_path, result, "money")
    used = result["guard"]["used"]
    assert 0 < used["usd_micro"] <= 20_000
    assert result["usage"]["cost_usd"] == used["usd"]
    assert result["tripped"]["limit"] == 20_000


def test_llm_call_limit_stops_and_publishes_what_is_done(
    embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    engine = engine_with(embedder)
    result = run(engine, samples, tmp_path, max_llm_calls=4)
    assert_partial(tmp_path, result, "LLM calls")
    assert result["usage"]["llm_calls"] == 4
    report = json.loads((tmp_path / "2026-W06" / "report.json").read_text())
    assert report["claims"] and all(v["label"] for v in report["verdicts"])


def test_exact_number_of_calls_a_money_limit_allows() -> None:
    """Each call reserves its upper bound and settles its priced usage; the calls made are
    exactly those whose reservation fitted — not one more — and the total stays under."""
    model = ScriptedChatModel(respond=lambda messages, kwargs: "x" * 10)
    config = ModelConfig(model="priced", max_tokens=100)
    agent = Agent("writer", model, config, Ledger())
    limit = 5_000  # micro-dollars
    guard = Guard(limits=Limits(max_usd=limit / 1e6), pricing=PRICES)
    messages = [HumanMessage(content="请写一句话。" * 20)]
    rate = PRICES.rate("priced")
    assert rate is not None
    prompt = "\n".join(str(m.content) for m in messages) + json.dumps({})
    reserve = rate.cost(len(prompt.encode()) + 8 * 2, 100)
    settle = rate.cost(len(prompt.replace("\n", "")), 1)  # scripted usage: approx tokens
    expected = max(n for n in range(1, 1000) if (n - 1) * settle + reserve <= limit)

    async def spend() -> int:
        from newsroom.guards.budget import current_guard

        current_guard.set(guard)
        calls = 0
        with pytest.raises(BudgetExceeded, match="money limit"):
            while True:
                await agent.invoke(messages)
                calls += 1
        return calls

    calls = anyio.run(spend)
    assert calls == expected == len(model.calls)
    assert guard.store.used().usd_micro <= limit


def test_memory_ledger_never_overshoots_under_threads() -> None:
    import threading

    ledger = MemoryLedger(Limits(max_usd=0.001).caps())  # 1000 micro-dollars
    made: list[int] = []

    def worker() -> None:
        while True:
            try:
                reservation = ledger.reserve(Amounts(usd_micro=7))
            except BudgetExceeded:
                return
            made.append(5)
            ledger.settle(reservation, Amounts(usd_micro=5))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.used().usd_micro == sum(made) <= 1000
    assert ledger.used().usd_micro > 1000 - 7


def test_loop_detector_counts_canonical_arguments() -> None:
    from newsroom.guards import LoopDetector

    detector = LoopDetector(repeats=3)
    detector.tool_call("archive.item", {"id": "a", "x": 1})
    detector.tool_call("archive.item", {"x": 1, "id": "a"})
    detector.tool_call("archive.item", {"id": "b"})
    with pytest.raises(LoopDetected, match="3 times"):
        detector.tool_call("archive.item", {"id": "a", "x": 1})


def test_wall_time_limit() -> None:
    guard = Guard(limits=Limits(max_seconds=0.0))
    with pytest.raises(BudgetExceeded, match="wall time"):
        guard.before_tool("archive.items", {})


def test_unknown_model_is_unpriced_and_said_so() -> None:
    guard = Guard(limits=Limits(), pricing=Pricing())
    reservation = guard.before_llm("my-local-model", None, "hello", 1, 10)
    guard.after_llm(reservation, 3, 4)
    assert guard.summary()["unpriced_models"] == ["my-local-model"]
    assert guard.store.used().tokens == 7 and guard.store.used().usd_micro == 0


def test_progress_checks_on_rounds() -> None:
    from newsroom.guards.loops import check_progress

    a = [["c1", "Resolve AI完成9亿美元A轮融资，由光速创投领投。", "contradicted"]]
    almost = [["c1", "Resolve AI完成9亿美元A轮融资，由光速创投领投了。", "contradicted"]]
    b = [["c1", "Resolve AI完成融资。", "unsupported"]]
    check_progress([], a, 1)
    check_progress([a], b, 1)
    with pytest.raises(LoopDetected, match="same claims failing"):
        check_progress([a], a, 1)
    with pytest.raises(LoopDetected, match="less than 10%"):
        check_progress([a], almost, 1)
    with pytest.raises(LoopDetected, match="A-B-A-B"):
        check_progress([a, b], a, 2)
