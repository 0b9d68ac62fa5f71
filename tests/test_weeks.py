from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from newsroom.errors import UsageError
from newsroom.weeks import parse_week, week_of


def test_iso_week_window_in_shanghai() -> None:
    window = parse_week("2026-W06")
    assert window.start == datetime(2026, 2, 2, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert window.end == datetime(2026, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert [d.day for d in window.days] == [2, 3, 4, 5, 6, 7, 8]


def test_window_edges_follow_the_time_zone() -> None:
    window = parse_week("2026-W06", "Asia/Shanghai")
    utc = ZoneInfo("UTC")
    assert window.contains(datetime(2026, 2, 1, 17, 0, tzinfo=utc))  # 01:00 on Monday in Shanghai
    assert not window.contains(datetime(2026, 2, 8, 17, 30, tzinfo=utc))  # Monday of W07 there
    assert parse_week("2026-W06", "UTC").contains(datetime(2026, 2, 8, 17, 30, tzinfo=utc))


@pytest.mark.parametrize("text", ["2026-W60", "W06", "2026-06", "2026-W6", "2025-W53", ""])
def test_invalid_weeks_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="invalid week"):
        parse_week(text)


def test_week_53_exists_in_long_years() -> None:
    assert parse_week("2026-W53").week == "2026-W53"
    assert week_of(datetime(2021, 1, 3).date()) == "2020-W53"


def test_unknown_time_zone() -> None:
    with pytest.raises(UsageError, match="unknown time zone"):
        parse_week("2026-W06", "Mars/Olympus")
