"""Every attempt is a call: retries, resumes and overbilling servers against the budget guard.

The fake server misbehaves on purpose (429s, 500s, usage above the reservation), so that a gap
in the guard would show as more requests than the limit, or as a count that differs from what
the server saw.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from newsroom.cli import app
from newsroom.guards.budget import Guard, Limits, current_guard, spent
from newsroom.llm import Agent, EndpointUnavailable, Ledger, ModelConfig, chat_model
from newsroom.testing import FakeOpenAIServer, HttpStep

runner = CliRunner()
WEEK = ["run", "--week", "2026-W06"]


def _run_json(out: Path) -> dict[str, Any]:
    return json.loads((out / "2026-W06" / "run.json").read_text())


def _spans(out: Path, run_id: str) -> list[dict[str, Any]]:
    trace = out / ".newsroom" / "runs" / run_id / "trace.jsonl"
    return [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]


def test_every_second_request_429_each_attempt_counts(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.fail_every, server.fail_status = 2, 429
        result = runner.invoke(
            app,
            [*WEEK, "--out", str(tmp_path), "--max-llm-calls", "4"],
            env={"OPENAI_BASE_URL": server.base_url},
        )
        seen = len(server.requests)
    assert result.exit_code == 3, result.output
    assert seen == 4  # the 4th answered 429; its retry was refused before it was sent
    run = _run_json(tmp_path)
    assert run["usage"]["llm_calls"] == seen
    assert run["guard"]["used"]["llm_calls"] == seen
    assert sum(line.get("failed", 0) for line in run["usage"]["by_agent_model"].values()) == 2
    chats = [s for s in _spans(tmp_path, run["run_id"]) if s["name"].startswith("chat ")]
    outcomes = [s["attributes"]["newsroom.llm.outcome"] for s in chats]
    sent = [o for o in outcomes if o != "refused"]  # a refused call is a span, never a request
    assert len(sent) == seen and "refused" in outcomes
    assert sent.count("HTTP 429") == 2 and sent.count("ok") == 2


def test_retry_after_is_honoured_and_the_retry_is_its_own_span() -> None:
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(status=429, headers={"Retry-After": "1"}), HttpStep()]
        config = ModelConfig(model="m", base_url=server.base_url, max_retries=1)
        caller = Agent("writer", chat_model(config), config, Ledger())
        started = time.monotonic()
        anyio.run(caller.invoke, [HumanMessage(content="hello")])
        assert time.monotonic() - started >= 1.0
        assert len(server.requests) == 2
    line = caller.ledger.lines["writer/m"]
    assert (line.calls, line.failed) == (2, 1)


def _with_guard(guard: Guard, caller: Agent) -> None:
    async def call() -> None:
        token = current_guard.set(guard)
        try:
            await caller.invoke([HumanMessage(content="hello")])
        finally:
            current_guard.reset(token)

    anyio.run(call)


def test_an_attempt_that_never_connected_costs_nothing() -> None:
    config = ModelConfig(model="m", base_url="http://127.0.0.1:9/v1", max_retries=2)
    caller = Agent("writer", chat_model(config), config, Ledger())
    guard = Guard(limits=Limits(max_llm_calls=1))
    with pytest.raises(EndpointUnavailable, match=r"could not be reached.*3 attempt"):
        _with_guard(guard, caller)
    assert guard.store.used().llm_calls == 0 and guard.store.used().tokens == 0


def test_a_dropped_connection_says_what_lies_under_the_clients_words() -> None:
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def hang_up() -> None:  # reads the request, answers nothing, closes
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    config = ModelConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    caller = Agent("writer", chat_model(config), config, Ledger())
    try:
        with pytest.raises(EndpointUnavailable) as caught:
            _with_guard(Guard(limits=Limits()), caller)
    finally:
        listener.close()
    said = str(caught.value)
    # The cause under the client's words: a close (or, with the request unread, a reset).
    assert re.search(
        r"connection dropped: Connection error\. — (RemoteProtocolError|ConnectionResetError): ",
        said,
    ), said
    assert "on each of 2 attempt(s)" in said


def test_an_attempt_that_reached_the_server_settles_its_reservation() -> None:
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(status=500)]
        config = ModelConfig(model="m", base_url=server.base_url, max_retries=0, max_tokens=50)
        caller = Agent("writer", chat_model(config), config, Ledger())
        guard = Guard(limits=Limits())
        with pytest.raises(EndpointUnavailable, match="HTTP 500"):
            _with_guard(guard, caller)
    used = guard.store.used()
    assert used.llm_calls == 1 and used.tokens > 50  # the whole reservation: nothing reported


def test_an_overbilling_server_trips_the_guard_and_shows_the_excess(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(usage={"prompt_tokens": 5_000_000})]
        result = runner.invoke(
            app,
            [*WEEK, "--out", str(tmp_path), "--max-tokens", "10000000"],
            env={"OPENAI_BASE_URL": server.base_url},
        )
        seen = len(server.requests)
    assert result.exit_code == 3, result.output
    assert "reported more than the call reserved" in result.output
    run = _run_json(tmp_path)
    assert run["status"] == "partial" and run["tripped"]["guard"] == "reservation bound"
    (event,) = run["guard"]["events"]
    assert event["event"] == "overbilled" and event["reported"]["input_tokens"] == 5_000_000
    assert event["excess"]["input_tokens"] == 5_000_000 - event["reserved"]["input_tokens"]
    assert run["guard"]["used"]["tokens"] >= 5_000_000  # settled as reported
    assert seen == 1 and run["usage"]["llm_calls"] == 1


def test_tool_call_arguments_count_in_the_bound() -> None:
    from langchain_core.messages import AIMessage

    from newsroom.llm import prompt_text

    reply = AIMessage(
        content="", tool_calls=[{"name": "Plan", "args": {"x": "长" * 500}, "id": "1"}]
    )
    assert prompt_text([reply], {}).count("长") == 500


def test_calls_across_an_interrupted_run_and_its_resume_stay_within_the_limit(
    tmp_path: Path,
) -> None:
    env = {"NEWSROOM_LLM_RETRIES": "0"}
    with FakeOpenAIServer() as server:
        # One good answer, then the endpoint fails: exit 4, resumable.
        server.script = [HttpStep(), *[HttpStep(status=500)] * 40]
        first = runner.invoke(
            app,
            [*WEEK, "--out", str(tmp_path), "--max-llm-calls", "6"],
            env={**env, "OPENAI_BASE_URL": server.base_url},
        )
        assert first.exit_code == 4, first.output
        before = len(server.requests)
        server.script = []
        assert 2 <= before < 6
        run_id = _run_json(tmp_path)["run_id"]
        journal = tmp_path / ".newsroom" / "runs" / run_id / "usage.jsonl"
        assert spent(journal)[0].llm_calls == before

        resumed = runner.invoke(
            app,
            [*WEEK, "--out", str(tmp_path), "--max-llm-calls", "6", "--resume", run_id],
            env={**env, "OPENAI_BASE_URL": server.base_url},
        )
        total = len(server.requests)
    assert resumed.exit_code == 3, resumed.output  # the run's 6 calls are spent
    assert before < total <= 6
    run = _run_json(tmp_path)
    assert run["usage"]["llm_calls"] == total
    assert run["guard"]["used"]["llm_calls"] == total
    assert run["guard"]["earlier"]["llm_calls"] == before


def test_an_update_is_a_new_run_with_its_own_limits(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        first = runner.invoke(app, [*WEEK, "--out", str(tmp_path)], env=env)
        assert first.exit_code == 0, first.output
        base = _run_json(tmp_path)["run_id"]
        before = len(server.requests)
        update = runner.invoke(
            app,
            [*WEEK, "--out", str(tmp_path), "--update", base, "--max-llm-calls", "2"],
            env=env,
        )
        made = len(server.requests) - before
    run = _run_json(tmp_path)
    assert run["run_id"] != base and made <= 2
    assert run["usage"]["llm_calls"] == made
    assert update.exit_code in (0, 3), update.output


def test_an_attempt_cut_off_by_an_interrupt_is_counted(tmp_path: Path) -> None:
    """A call in flight when the run is interrupted may have been billed: it settles at its
    reservation and reaches the journal a resume starts from."""
    with FakeOpenAIServer() as server:
        server.script = [HttpStep(stall_after=1)]
        config = ModelConfig(model="m", base_url=server.base_url, max_retries=0)
        caller = Agent("writer", chat_model(config), config, Ledger())
        guard = Guard(limits=Limits(), journal=tmp_path / "usage.jsonl")

        async def call() -> None:
            token = current_guard.set(guard)
            try:
                with anyio.move_on_after(1):
                    await caller.invoke([HumanMessage(content="hello")])
            finally:
                current_guard.reset(token)

        anyio.run(call)
    assert guard.store.used().llm_calls == 1
    assert spent(tmp_path / "usage.jsonl")[0].llm_calls == 1
