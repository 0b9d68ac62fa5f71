"""The archive MCP server, reached the way the researcher reaches it: through an MCP session."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from newsroom.errors import SourceUnavailable
from newsroom.tools.client import ArchiveConfig, open_archive
from newsroom.weeks import parse_week

WEEK = parse_week("2026-W06")
ARGS = {"start": WEEK.start.isoformat(), "end": WEEK.end.isoformat()}


async def _items(config: ArchiveConfig) -> dict[str, object]:
    async with open_archive(config) as archive:
        tools = await archive.session.list_tools()
        assert [tool.name for tool in tools.tools] == ["items", "search", "item"]
        payload = await archive.call("items", ARGS)
        assert archive.calls == 1
        return payload


def test_in_memory_session_serves_the_week(samples: Path) -> None:
    payload = anyio.run(_items, ArchiveConfig(samples))
    items = payload["items"]
    assert isinstance(items, list) and len(items) == 64
    assert payload["outside_window"] == 5
    assert all(
        WEEK.contains(__import__("datetime").datetime.fromisoformat(i["published"])) for i in items
    )


def test_stdio_subprocess_serves_the_same_items(samples: Path) -> None:
    async def both() -> tuple[dict[str, object], dict[str, object]]:
        with anyio.fail_after(60):
            return (
                await _items(ArchiveConfig(samples, transport="stdio")),
                await _items(ArchiveConfig(samples)),
            )

    over_stdio, in_memory = anyio.run(both)
    ids = sorted(i["id"] for i in over_stdio["items"])  # type: ignore[attr-defined]
    assert ids == sorted(i["id"] for i in in_memory["items"])  # type: ignore[attr-defined]


def test_tool_errors_surface_as_source_unavailable(tmp_path: Path) -> None:
    async def call(config: ArchiveConfig, args: dict[str, str]) -> None:
        async with open_archive(config) as archive:
            await archive.call("items", args)

    with pytest.raises(SourceUnavailable, match="does not exist"):
        anyio.run(call, ArchiveConfig(tmp_path / "missing"), ARGS)
    with pytest.raises(SourceUnavailable, match="needs a UTC offset"):
        anyio.run(
            call,
            ArchiveConfig(tmp_path),
            {"start": "2026-02-02T00:00:00", "end": "2026-02-09T00:00:00+08:00"},
        )
