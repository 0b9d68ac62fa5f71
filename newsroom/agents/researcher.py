"""The researcher: gathers the week's items through MCP tools only, and normalizes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from newsroom.errors import GuardTripped
from newsroom.models import SourceItem, SourceProblem
from newsroom.tools.client import ToolSession
from newsroom.weeks import WeekWindow


@dataclass
class Research:
    items: list[SourceItem] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    outside_window: int = 0
    # A guard stopped the optional part of research; what was gathered is kept.
    tripped: GuardTripped | None = None


class OfflineResearcher:
    """Asks the archive for the week's window and keeps what is valid and inside it."""

    async def gather(self, window: WeekWindow, archive: ToolSession) -> Research:
        payload = await archive.call("items", window.archive_args())
        research = Research(outside_window=int(payload.get("outside_window", 0)))
        research.problems = [SourceProblem.model_validate(p) for p in payload.get("problems", [])]
        seen: set[str] = set()
        for row in payload.get("items", []):
            try:
                item = SourceItem.model_validate(row)
            except ValidationError as exc:
                research.problems.append(
                    SourceProblem(
                        origin=str(row.get("origin", "archive"))
                        if isinstance(row, dict)
                        else "archive",
                        message=f"invalid item: {exc.errors()[0]['msg']}",
                    )
                )
                continue
            if not window.selects(item):  # by its publication or collection time
                research.outside_window += 1
                continue
            if item.id in seen:
                continue
            seen.add(item.id)
            research.items.append(item)
        return research
