"""The real ChatOpenAI client against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from newsroom.agents.llm_agents import ThemePlan
from newsroom.llm import (
    Agent,
    EndpointUnavailable,
    Ledger,
    ModelConfig,
    StructuredMethod,
    chat_model,
)
from newsroom.testing import FakeOpenAIServer, HttpStep

PLAN = {"themes": [{"id": "theme-1", "title": "编程代理的新一轮竞赛"}], "moves": []}
MESSAGES = [
    SystemMessage(content="You are a test."),
    HumanMessage(content="theme theme-1 | keywords: 代理"),
]


def agent(server: FakeOpenAIServer, **config: Any) -> Agent:
    settings = ModelConfig(
        model="fake-model", base_url=server.base_url, api_key="sk-test", **config
    )
    return Agent("clusterer", chat_model(settings), settings, Ledger())


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_and_usage(method: StructuredMethod) -> None:
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(content=json.dumps(PLAN, ensure_ascii=False))]
        caller = agent(server, method=method)
        plan = anyio.run(caller.structured, ThemePlan, MESSAGES)
        assert plan.themes[0].title == "编程代理的新一轮竞赛"
        request = server.requests[0]
        if method == "function_calling":
            assert request["tool_choice"]["function"]["name"] == "ThemePlan"
        elif method == "json_schema":
            assert request["response_format"]["json_schema"]["name"] == "ThemePlan"
        else:
            assert request["response_format"] == {"type": "json_object"}
        assert request["model"] == "fake-model" and request["max_completion_tokens"] == 2048
        line = caller.ledger.lines["clusterer/fake-model"]
        expected = server.completion(request, json.dumps(PLAN, ensure_ascii=False))["usage"]
        assert (line.calls, line.input_tokens, line.output_tokens) == (
            1,
            expected["prompt_tokens"],
            expected["completion_tokens"],
        )


def test_malformed_then_repaired_over_http() -> None:
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(content="not json"), HttpStep(content=json.dumps(PLAN))]
        caller = agent(server)
        plan = anyio.run(caller.structured, ThemePlan, MESSAGES)
        assert plan.themes[0].id == "theme-1"
        assert (
            "did not fit the required JSON schema" in server.requests[1]["messages"][-1]["content"]
        )
        assert caller.ledger.lines["clusterer/fake-model"].calls == 2


def test_429_is_retried_then_succeeds() -> None:
    with FakeOpenAIServer() as server:
        server.script = [
            HttpStep(status=429),
            HttpStep(status=503),
            HttpStep(content=json.dumps(PLAN)),
        ]
        plan = anyio.run(agent(server, max_retries=2).structured, ThemePlan, MESSAGES)
        assert plan.themes[0].id == "theme-1"
        assert len(server.requests) == 3


def test_a_hang_hits_the_timeout_and_says_what_to_do() -> None:
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(delay=30), HttpStep(delay=30)]
        started = time.monotonic()
        slow = agent(
            server,
            timeout=0.5,
            max_retries=1,
            max_tokens=10,
            min_tokens_per_second=100,
            stream=False,
        )
        with pytest.raises(EndpointUnavailable, match=r"no reply within 0\.6s.*--resume"):
            anyio.run(slow.structured, ThemePlan, MESSAGES)
        assert time.monotonic() - started < 10
        assert len(server.requests) == 2


def test_dead_endpoint_is_endpoint_unavailable() -> None:
    settings = ModelConfig(model="m", base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=0)
    caller = Agent("writer", chat_model(settings), settings, Ledger())
    with pytest.raises(EndpointUnavailable, match=r"127\.0\.0\.1:9/v1 could not be reached"):
        anyio.run(caller.structured, ThemePlan, MESSAGES)


def test_a_stuck_stream_is_told_from_a_slow_one() -> None:
    """Streaming: silence for the idle timeout is stuck (retried); a server still sending when
    max_tokens at the floor speed has passed is alive but too slow (not retried)."""
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(stall_after=2), HttpStep(stall_after=2)]
        stuck = agent(server, timeout=0.5, max_retries=1)
        with pytest.raises(EndpointUnavailable, match=r"sent nothing for 0\.5s after 2 chunk"):
            anyio.run(stuck.structured, ThemePlan, MESSAGES)
        assert len(server.requests) == 2
    with FakeOpenAIServer() as server:
        long = json.dumps({**PLAN, "note": "长" * 400}, ensure_ascii=False)  # ~20 chunks
        server.script = [HttpStep(content=long, chunk_delay=0.2)]
        slow = agent(server, timeout=1, max_retries=2, max_tokens=20, min_tokens_per_second=40)
        started = time.monotonic()
        with pytest.raises(EndpointUnavailable, match=r"still sending after 1\.5s.*40 tokens/s"):
            anyio.run(slow.structured, ThemePlan, MESSAGES)
        assert len(server.requests) == 1 and time.monotonic() - started < 5
        line = slow.ledger.lines["clusterer/fake-model"]
        assert (line.calls, line.failed) == (1, 1)


def test_a_server_that_does_not_stream_is_asked_without() -> None:
    with FakeOpenAIServer() as server:
        server.streaming = False
        server.script = [HttpStep(), HttpStep(content=json.dumps(PLAN))]
        caller = agent(server, max_retries=1)
        plan = anyio.run(caller.structured, ThemePlan, MESSAGES)
        assert plan.themes[0].id == "theme-1"
        assert [bool(r.get("stream")) for r in server.requests] == [True, False]
        assert caller.streaming is False


@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_cut_at_max_tokens_gets_the_repair_not_a_crash(stream: bool) -> None:
    with FakeOpenAIServer() as server:
        server.script = [
            HttpStep(content='{"themes": [{"id": "theme-1", "ti', finish_reason="length"),
            HttpStep(content=json.dumps(PLAN)),
        ]
        caller = agent(server, stream=stream)
        plan = anyio.run(caller.structured, ThemePlan, MESSAGES)
        assert plan.themes[0].id == "theme-1"
        line = caller.ledger.lines["clusterer/fake-model"]
        assert line.calls == 2 and line.failed == 0 and line.output_tokens > 0
        assert line.estimated == 0  # the server's usage was read, the stream to its end


def test_no_more_calls_in_flight_than_the_endpoint_has_slots() -> None:
    """A call queued inside a one-slot server sends nothing and would look stuck: with
    `concurrency`, it waits on our side, before its silence is timed."""

    async def three(caller: Agent) -> float:
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(caller.invoke, MESSAGES)
        return time.monotonic() - started

    with FakeOpenAIServer() as server:
        server.script = [HttpStep(delay=0.5) for _ in range(6)]
        free = anyio.run(three, agent(server))
        one = anyio.run(three, agent(server, concurrency=1, timeout=0.8))
    assert free < 1.2 and one >= 1.5  # one at a time, and none taken for stuck
    assert len(server.requests) == 6
