"""A run's trace in a real Arize Phoenix, started by the test (`make phoenix`).

Phoenix lives in its own venv (it pins mcp 2.x); point NEWSROOM_PHOENIX at its `phoenix`
executable, or let `make phoenix` create `.phoenix/`. Selected with `pytest -m phoenix`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import free_port
from typer.testing import CliRunner

from newsroom.cli import app
from newsroom.methods.embeddings import Embedder

pytestmark = pytest.mark.phoenix


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = os.environ.get("NEWSROOM_PHOENIX", ".phoenix/bin/phoenix")
    if not Path(executable).exists():
        pytest.fail(f"no Phoenix at {executable}: run `make phoenix` or set NEWSROOM_PHOENIX")
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(tmp_path_factory.mktemp("phoenix")),
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
    }
    log = tmp_path_factory.mktemp("phoenix-log") / "serve.log"
    with log.open("w") as handle:
        server = subprocess.Popen([executable, "serve"], env=env, stdout=handle, stderr=handle)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "Phoenix did not start in 120 s"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_run_opens_in_phoenix_with_agents_tokens_cost_and_tools(
    phoenix: str, embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    from newsroom.config import AGENTS
    from newsroom.guards import Limits, Pricing
    from newsroom.runner import RunOptions, run_week
    from newsroom.testing import scripted_engine

    engine, _ = scripted_engine(embedder, "priced")
    options = RunOptions(
        week="2026-W06",
        sources=samples,
        out_dir=tmp_path,
        pricing=Pricing(overrides={"priced": (2.0, 8.0)}),
        limits=Limits(),
    )
    summary = anyio.run(run_week, options, engine)
    exported = CliRunner().invoke(
        app, ["traces", "export", summary.run_id, "--endpoint", phoenix, "--out", str(tmp_path)]
    )
    assert exported.exit_code == 0, exported.output

    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.get(f"{phoenix}/v1/projects/newsroom/spans", params={"limit": 1000})
        if answer.status_code == 200:
            spans = answer.json()["data"]
            if len(spans) >= summary.usage.llm_calls:
                break
        time.sleep(1)
    run = json.loads((tmp_path / "2026-W06" / "run.json").read_text())
    names = [s["name"] for s in spans]
    assert {f"invoke_agent {a}" for a in AGENTS} <= set(names)
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    chats = [s for s in spans if s["span_kind"] == "LLM"]
    assert len(chats) == run["usage"]["llm_calls"] > 0
    assert (
        sum(s["attributes"]["llm.token_count.prompt"] for s in chats)
        == run["usage"]["input_tokens"]
    )
    assert (
        sum(s["attributes"]["llm.token_count.completion"] for s in chats)
        == run["usage"]["output_tokens"]
    )
    assert (
        abs(sum(s["attributes"]["llm.cost.total"] for s in chats) - run["usage"]["cost_usd"]) < 1e-9
    )
    tools = [s for s in spans if s["span_kind"] == "TOOL"]
    assert len(tools) == run["usage"]["tool_calls"]


def test_a_run_written_on_one_host_is_exported_from_another(
    phoenix: str, embedder: Embedder, samples: Path, tmp_path: Path, database: str, monkeypatch: Any
) -> None:
    """Host A runs the week with PostgreSQL as its shared store; host B, whose output folder
    is empty, exports that run to Phoenix from the database."""
    from newsroom.runner import RunOptions, run_week
    from newsroom.testing import scripted_engine

    engine, _ = scripted_engine(embedder, "priced")
    options = RunOptions(
        week="2026-W06", sources=samples, out_dir=tmp_path / "a", checkpoint_url=database
    )
    summary = anyio.run(run_week, options, engine)
    assert summary.status == "ok"
    monkeypatch.setenv("NEWSROOM_POSTGRES_URL", database)
    (tmp_path / "b").mkdir()
    listed = CliRunner().invoke(app, ["traces", "list", "--out", str(tmp_path / "b")])
    assert summary.run_id in listed.output, listed.output
    exported = CliRunner().invoke(
        app,
        ["traces", "export", summary.run_id, "--endpoint", phoenix, "--out", str(tmp_path / "b")],
    )
    assert exported.exit_code == 0, exported.output
    stored = len(
        (tmp_path / "a" / ".newsroom" / "runs" / summary.run_id / "trace.jsonl")
        .read_text()
        .splitlines()
    )
    assert f"exported {stored} spans" in exported.output
    deadline = time.monotonic() + 60
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        answer = httpx.get(f"{phoenix}/v1/projects/newsroom/spans", params={"limit": 1000})
        if answer.status_code == 200:
            data = answer.json()["data"]
            # This run's trace: the one whose root carries its run id (Phoenix's own id form).
            roots = [
                s["context"]["trace_id"]
                for s in data
                if s["attributes"].get("newsroom.run_id") == summary.run_id
            ]
            found = [s for s in data if roots and s["context"]["trace_id"] == roots[0]]
            if len(found) >= stored:
                break
        time.sleep(1)
    assert len(found) == stored
