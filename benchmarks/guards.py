"""Budget guards: overshoot under 50 concurrent reservers, and the guard's cost per call.

    python benchmarks/guards.py [--redis redis://127.0.0.1:6379/0]

1. 50 threads reserve random amounts and settle less, until refused, against one in-memory
   ledger and against one Redis ledger (50 connections); overshoot = used - limit, if positive.
2. The same 2,000 model calls (a zero-latency scripted model, through Agent.invoke) without and
   with a guard: the difference per call, and the ratio.
3. The bound itself: 200 calls against an honest model (it stops at max_tokens) and against one
   that bills 10x max_tokens of output; settled above reserved must trip the guard on the first
   overbilled call, with the excess recorded.
"""

from __future__ import annotations

import argparse
import random
import secrets
import threading
import time
from typing import Any

import anyio
from langchain_core.messages import HumanMessage

from newsroom.errors import BudgetExceeded, Overbilled
from newsroom.guards import Amounts, Guard, Limits, MemoryLedger, Pricing
from newsroom.guards.budget import current_guard
from newsroom.llm import Agent, Ledger, ModelConfig
from newsroom.testing import ScriptedChatModel

CAP = 2_000_000  # micro-dollars
MONEY_ONLY = Limits(max_usd=CAP / 1e6, max_tokens=None, max_llm_calls=None, max_tool_calls=None)


def hammer(ledger: Any, workers: int = 50) -> tuple[int, int, int, float]:
    made = refused = 0
    lock = threading.Lock()

    def work(seed: int) -> None:
        nonlocal made, refused
        rng = random.Random(seed)
        while True:
            want = rng.randint(1, 2_000)
            try:
                reservation = ledger.reserve(Amounts(usd_micro=want, llm_calls=1), 60)
            except BudgetExceeded:
                with lock:
                    refused += 1
                return
            ledger.settle(reservation, Amounts(usd_micro=rng.randint(0, want), llm_calls=1))
            with lock:
                made += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ledger.used().usd_micro, made, refused, time.perf_counter() - started


def overhead(calls: int = 2_000) -> tuple[float, float]:
    config = ModelConfig(model="gpt-4o-mini", max_tokens=256)
    messages = [HumanMessage(content="请用一句话总结本周的AI新闻。" * 20)]

    async def timed(guarded: bool) -> float:
        model = ScriptedChatModel(respond=lambda m, k: "好的。")
        agent = Agent("writer", model, config, Ledger())
        guard = Guard(
            limits=Limits(max_usd=None, max_tokens=None, max_llm_calls=None), pricing=Pricing()
        )
        token = current_guard.set(guard if guarded else None)
        try:
            for _ in range(50):  # warm up
                await agent.invoke(messages)
            started = time.perf_counter()
            for _ in range(calls):
                await agent.invoke(messages)
            return (time.perf_counter() - started) / calls
        finally:
            current_guard.reset(token)

    plain = min(anyio.run(timed, False) for _ in range(3))
    guarded = min(anyio.run(timed, True) for _ in range(3))
    return plain, guarded


def guard_alone(calls: int = 20_000) -> float:
    """Reserve and settle one model call, nothing else: the guard's own cost."""
    guard = Guard(limits=Limits(max_usd=None, max_tokens=None, max_llm_calls=None))
    prompt = "请用一句话总结本周的AI新闻。" * 20
    started = time.perf_counter()
    for _ in range(calls):
        reservation = guard.before_llm("gpt-4o-mini", "openai", prompt, 2, 256)
        guard.after_llm(reservation, 300, 20)
    return (time.perf_counter() - started) / calls


def overbilling(calls: int = 200, max_tokens: int = 16) -> dict[str, tuple[int, int, int]]:
    """(calls made, trips, tokens settled above the reservations) per server."""
    config = ModelConfig(model="gpt-4o-mini", max_tokens=max_tokens)
    messages = [HumanMessage(content="请用一句话总结本周的AI新闻。")]
    out: dict[str, tuple[int, int, int]] = {}
    for name, reply in (("honest", "好的" * (max_tokens // 2 - 1)), ("overbilling", "好" * 160)):

        async def run(text: str = reply) -> tuple[int, int, int]:
            agent = Agent("writer", ScriptedChatModel(respond=lambda m, k: text), config, Ledger())
            guard = Guard(limits=Limits(max_usd=None, max_tokens=None, max_llm_calls=None))
            token = current_guard.set(guard)
            made = trips = 0
            try:
                for _ in range(calls):
                    try:
                        await agent.invoke(messages)
                    except Overbilled:
                        trips += 1
                        break  # a run stops here (exit 3)
                    finally:
                        made += 1
            finally:
                current_guard.reset(token)
            excess = sum(e["excess"].get("output_tokens", 0) for e in guard.events)
            return made, trips, excess

        out[name] = anyio.run(run)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(
        f"{'ledger':<10}{'limit $':>10}{'used $':>10}{'overshoot':>11}{'reserved':>10}"
        f"{'refused':>9}{'ops/s':>9}"
    )
    ledgers: list[tuple[str, Any]] = [("memory", MemoryLedger(MONEY_ONLY.caps()))]
    try:
        from newsroom.guards.shared import RedisLedger

        shared = RedisLedger.from_url(
            args.redis, f"bench-{secrets.token_hex(4)}", MONEY_ONLY.caps()
        )
        shared.client.ping()
        ledgers.append(("redis", shared))
    except Exception as exc:  # no Redis here: say so, keep the memory figure
        print(f"(redis skipped: {exc})")
    for name, ledger in ledgers:
        used, made, refused, seconds = hammer(ledger)
        print(
            f"{name:<10}{CAP / 1e6:>10.2f}{used / 1e6:>10.6f}{max(0, used - CAP):>11}"
            f"{made:>10}{refused:>9}{(made + refused) / seconds:>9.0f}"
        )
        if name == "redis":
            ledger.reset()
    plain, guarded = overhead()
    alone = guard_alone()
    print(
        f"per model call through Agent.invoke: unguarded {plain * 1e3:.3f} ms, guarded "
        f"{guarded * 1e3:.3f} ms, ratio {guarded / plain:.2f}"
    )
    print(
        f"the guard alone (reserve + settle, priced, in memory): {alone * 1e3:.4f} ms per call "
        f"(target < 1 ms)"
    )
    print(f"{'server':<13}{'calls':>7}{'trips':>7}{'excess tokens':>15}")
    for name, (made, trips, excess) in overbilling().items():
        print(f"{name:<13}{made:>7}{trips:>7}{excess:>15}")


if __name__ == "__main__":
    main()
