"""ISO weeks (`%G-W%V`) turned into half-open date-time windows in a chosen time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsroom.errors import UsageError
from newsroom.models import DatedBy, SourceItem

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class WeekWindow:
    """One ISO week in one time zone: [start, end), and which of an item's times it selects
    by (`collected`: the collection time, else the publication time)."""

    week: str
    tz: str
    start: datetime
    end: datetime
    by: DatedBy = "published"

    @property
    def days(self) -> list[date]:
        return [self.start.date() + timedelta(days=i) for i in range(7)]

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment.astimezone(self.start.tzinfo) < self.end

    def selects(self, item: SourceItem) -> bool:
        """The item's chosen time (`by`) is inside the week."""
        return self.contains(item.moment(self.by))

    def archive_args(self) -> dict[str, Any]:
        """The archive `items` tool's arguments for this window (`by` only when not the
        default, so a published-time call is the same call as ever)."""
        args: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.by != "published":
            args["by"] = self.by
        return args

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.start.tzinfo).date()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown time zone {name!r}; use an IANA name like Asia/Shanghai"
        ) from exc


def parse_week(text: str, tz: str = "Asia/Shanghai", by: str = "published") -> WeekWindow:
    """Parse `2026-W06`; anything else is a UsageError with a one-line message. `by`: select
    items by their publication (default) or collection time."""
    match = _WEEK.match(text.strip())
    if not match:
        raise UsageError(f"invalid week {text!r}: expected an ISO week like 2026-W06")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise UsageError(f"invalid week {text!r}: {year} has no ISO week {number:02d}") from None
    if by not in ("published", "collected"):
        raise UsageError(f"unknown window {by!r}: use published or collected")
    chosen: DatedBy = "collected" if by == "collected" else "published"
    zi = zone(tz)
    start = datetime.combine(monday, time.min, tzinfo=zi)
    return WeekWindow(
        week=f"{year}-W{number:02d}", tz=tz, start=start, end=start + timedelta(7), by=chosen
    )


def week_of(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"
