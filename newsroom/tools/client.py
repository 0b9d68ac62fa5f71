"""Client side of the MCP tools: open a session (in-memory or stdio) and call tools with spans."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.memory import create_connected_server_and_client_session
from opentelemetry import propagate, trace

from newsroom.errors import SourceUnavailable
from newsroom.observability import semconv as sc

Transport = Literal["memory", "stdio"]
_tracer = trace.get_tracer("newsroom.tools")


@dataclass(frozen=True)
class ArchiveConfig:
    """Where the archive server reads from and how the researcher reaches it."""

    folder: Path
    tz: str = "Asia/Shanghai"
    transport: Transport = "memory"
    trace_file: Path | None = None  # where a stdio server writes its spans


class ToolSession:
    """One MCP client session; every call is an `execute_tool` span and is counted."""

    def __init__(self, server: str, session: ClientSession) -> None:
        self.server = server
        self.session = session
        self.calls = 0

    async def function_tools(self, names: set[str]) -> list[dict[str, Any]]:
        """The server's own MCP tool definitions, as OpenAI function tools `server_tool`."""
        listed = await self.session.list_tools()
        return [
            {
                "type": "function",
                "function": {
                    "name": f"{self.server}_{tool.name}",
                    "description": tool.description or tool.name,
                    "parameters": tool.inputSchema,
                },
            }
            for tool in listed.tools
            if tool.name in names
        ]

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        from newsroom.guards.budget import current_guard

        with _tracer.start_as_current_span(f"execute_tool {self.server}.{tool}") as span:
            span.set_attribute(sc.OPERATION, sc.OP_EXECUTE_TOOL)
            span.set_attribute(sc.TOOL_NAME, f"{self.server}.{tool}")
            span.set_attribute(sc.TOOL_TYPE, "extension")
            span.set_attribute(sc.MCP_SERVER, self.server)
            span.set_attribute(sc.MCP_METHOD, "tools/call")
            span.set_attribute(sc.OI_KIND, "TOOL")
            span.set_attribute(sc.OI_TOOL_NAME, f"{self.server}.{tool}")
            span.set_attribute(sc.TOOL_CALL_ARGUMENTS, json.dumps(arguments, ensure_ascii=False))
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # the server's spans join this trace
            guard = current_guard.get()
            reservation = guard.before_tool(f"{self.server}.{tool}", arguments) if guard else None
            self.calls += 1
            try:
                result = await self.session.call_tool(tool, arguments, meta=carrier)
            finally:
                if guard is not None and reservation is not None:
                    guard.after_tool(reservation, f"tool:{self.server}.{tool}")
            text = "".join(getattr(block, "text", "") for block in result.content)
            if result.isError:
                span.set_status(trace.StatusCode.ERROR, text[:200])
                raise SourceUnavailable(f"{self.server}.{tool} failed: {text}")
            payload = result.structuredContent
            if payload is None:
                payload = json.loads(text)
            if not isinstance(payload, dict):
                raise SourceUnavailable(f"{self.server}.{tool} returned {type(payload).__name__}")
            return payload


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one real error inside nested task-group exception groups, or the group itself."""
    leaves = []
    stack: list[BaseException] = [group]
    while stack:
        current = stack.pop()
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        else:
            leaves.append(current)
    return leaves[0] if len(leaves) == 1 else group


@dataclass(frozen=True)
class ServerSpec:
    """One of newsroom's own MCP servers and its settings. Only these can be started: the
    command is always this Python running `newsroom mcp NAME`; settings travel as arguments."""

    name: Literal["archive", "feeds", "web"]
    folder: Path | None = None  # archive
    tz: str = "Asia/Shanghai"
    allow_hosts: tuple[str, ...] = ()  # feeds, web: the fetch policy
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5

    def policy(self) -> Any:
        from newsroom.tools.fetch import FetchPolicy

        return FetchPolicy.of(
            self.allow_hosts,
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
        )

    def build(self) -> Any:
        """The server object, for the in-memory transport or `newsroom mcp`."""
        if self.name == "archive":
            from newsroom.config import bundled_sources
            from newsroom.tools.archive import build_archive_server

            return build_archive_server(self.folder or bundled_sources(), self.tz)
        if self.name == "feeds":
            from newsroom.tools.feeds import build_feeds_server

            return build_feeds_server(self.policy(), self.tz)
        from newsroom.tools.web import build_web_server

        return build_web_server(self.policy())

    def arguments(self) -> list[str]:
        args = ["-m", "newsroom", "mcp", self.name, "--transport", "stdio", "--tz", self.tz]
        if self.folder is not None:
            args += ["--folder", str(self.folder)]
        for host in self.allow_hosts:
            args += ["--allow-host", host]
        if self.name != "archive":
            args += ["--timeout", str(self.timeout), "--max-bytes", str(self.max_bytes)]
            args += ["--max-redirects", str(self.max_redirects)]
        return args


@asynccontextmanager
async def open_server(
    spec: ServerSpec, transport: Transport = "memory", trace_file: Path | None = None
) -> AsyncIterator[ToolSession]:
    """A session with one server, in this process or as a stdio subprocess."""
    try:
        async with _open_server(spec, transport, trace_file) as session:
            yield session
    except BaseExceptionGroup as group:
        raise _single(group) from None


@asynccontextmanager
async def open_archive(config: ArchiveConfig) -> AsyncIterator[ToolSession]:
    """A session with the archive server, in this process or as a stdio subprocess."""
    spec = ServerSpec("archive", folder=config.folder, tz=config.tz)
    async with open_server(spec, config.transport, config.trace_file) as session:
        yield session


@asynccontextmanager
async def _open_server(
    spec: ServerSpec, transport: Transport, trace_file: Path | None
) -> AsyncIterator[ToolSession]:
    if transport == "memory":
        async with create_connected_server_and_client_session(spec.build()) as session:
            yield ToolSession(spec.name, session)
        return
    import os

    from mcp.client.stdio import get_default_environment

    env = get_default_environment()
    env.update({k: v for k, v in os.environ.items() if k.startswith("OTEL_")})
    if trace_file is not None:
        env["NEWSROOM_TRACE_FILE"] = str(trace_file)
    params = StdioServerParameters(command=sys.executable, args=spec.arguments(), env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield ToolSession(spec.name, session)
