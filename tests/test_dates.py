"""Dates: items dated by collection time, `--window collected`, and `--sources` as one file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from newsroom.agents.researcher import OfflineResearcher
from newsroom.cli import app
from newsroom.models import SourceItem
from newsroom.sources import load_sources
from newsroom.tools.client import ArchiveConfig, open_archive
from newsroom.tools.formats import parse_json, read_folder, read_path
from newsroom.tools.gather import gather, open_servers
from newsroom.weeks import WeekWindow, parse_week

TZ = "Asia/Shanghai"
runner = CliRunner()

# Written for these tests: an item whose page gave no date, one published the week before but
# collected in 2026-W06, and one with no readable date at all.
UNDATED = {
    "id": "t-undated",
    "title": "Orchard Robotics 推出仓储拣选机器人 PickPal 3，单班拣选量提升 40%",
    "url": "https://example.org/orchard-pickpal-3",
    "source": "example.org",
    "published": "unknown",
    "collected": "2026-02-05T03:00:00+00:00",
    "summary": "Orchard Robotics 发布第三代仓储拣选机器人 PickPal 3，称单班拣选量比上一代提升 40%。",
}
LATE = {
    "id": "t-late",
    "title": "Lumen Forge 完成 1.2 亿美元 B 轮融资，扩建推理芯片产线",
    "url": "https://example.org/lumen-forge-series-b",
    "source": "example.org",
    "published": "2026-01-30T09:00:00+08:00",
    "collected": "2026-02-06T12:00:00+08:00",
    "summary": "推理芯片初创公司 Lumen Forge 宣布完成 1.2 亿美元 B 轮融资，资金将用于扩建产线。",
}
NO_DATE = {
    "id": "t-nodate",
    "title": "A note without any date",
    "url": "https://example.org/no-date",
    "source": "example.org",
    "published": "unknown",
    "collected": "sometime",
    "summary": "No readable time at all.",
}


def items_file(folder: Path, samples: Path, *extra: dict[str, Any]) -> Path:
    """The bundled 2026-W06 samples as one JSON items file, with the rows given."""
    rows = [item.model_dump(mode="json") for item in read_folder(samples, TZ).items]
    for row in rows:
        del row["collected"], row["dated_by"]
    path = folder / "items.json"
    path.write_text(json.dumps({"items": [*rows, *extra]}, ensure_ascii=False), "utf-8")
    return path


# ------------------------------------------------------------------ reading dates


def test_unreadable_published_with_a_collection_time_is_dated_by_it() -> None:
    result = parse_json(json.dumps({"items": [UNDATED, LATE, NO_DATE]}), "w.json", TZ)
    by_id = {item.id: item for item in result.items}
    undated = by_id["t-undated"]
    assert undated.dated_by == "collected"
    assert undated.published == undated.collected
    assert undated.published.isoformat() == "2026-02-05T03:00:00+00:00"
    late = by_id["t-late"]
    assert late.dated_by == "published" and late.collected is not None
    assert late.published.isoformat() == "2026-01-30T09:00:00+08:00"
    # Neither date readable: a problem line, as before.
    assert "t-nodate" not in by_id
    assert [p.origin for p in result.problems] == ["w.json#3"]
    assert "unknown" in result.problems[0].message


def test_without_collected_an_unreadable_date_stays_a_problem() -> None:
    row = {key: value for key, value in UNDATED.items() if key != "collected"}
    result = parse_json(json.dumps([row]), "w.json", TZ)
    assert not result.items and len(result.problems) == 1


def test_the_flag_survives_items_passed_on_as_json() -> None:
    """The service files items as JSON: an item dated by collection stays flagged."""
    item = parse_json(json.dumps([UNDATED]), "a.json", TZ).items[0]
    again = parse_json(json.dumps([item.model_dump(mode="json")]), "b.json", TZ).items[0]
    assert again.dated_by == "collected" and again.published == item.published


def test_an_item_is_chosen_by_its_window_time() -> None:
    week = parse_week("2026-W06", TZ)
    collected = parse_week("2026-W06", TZ, "collected")
    late = parse_json(json.dumps([LATE]), "w.json", TZ).items[0]
    assert not week.selects(late) and collected.selects(late)
    plain = SourceItem.model_validate({**LATE, "collected": None})
    assert not collected.selects(plain)  # no collection time: its publication time counts


# ------------------------------------------------------------------ one file, both windows


def test_one_file_reads_as_if_alone_in_a_folder(samples: Path, tmp_path: Path) -> None:
    for name in ("feed.xml", "wire.json", "digest-2026-02-03.md"):
        alone = tmp_path / name.split(".")[0]
        alone.mkdir()
        shutil.copy(samples / name, alone / name)
        from_file = read_path(samples / name, TZ)
        from_folder = read_path(alone, TZ)
        assert from_file.items and not from_file.problems
        assert [i.id for i in from_file.items] == [i.id for i in from_folder.items]


def _ids(payload: dict[str, Any]) -> set[str]:
    return {row["id"] for row in payload["items"]}


def test_the_archive_and_the_researcher_select_by_collection(samples: Path, tmp_path: Path) -> None:
    path = items_file(tmp_path, samples, UNDATED, LATE)

    async def both(window: WeekWindow) -> tuple[dict[str, Any], set[str]]:
        async with open_archive(ArchiveConfig(path)) as archive:
            payload = await archive.call("items", window.archive_args())
            research = await OfflineResearcher().gather(window, archive)
        return payload, {item.id for item in research.items}

    published, kept = anyio.run(both, parse_week("2026-W06", TZ))
    assert _ids(published) == kept
    assert "t-undated" in kept and "t-late" not in kept
    collected, kept_by_collection = anyio.run(both, parse_week("2026-W06", TZ, "collected"))
    assert _ids(collected) == kept_by_collection
    assert kept_by_collection - kept == {"t-late"}
    assert collected["outside_window"] == published["outside_window"] - 1


def test_a_sources_file_gathers_by_collection_time(samples: Path, tmp_path: Path) -> None:
    path = items_file(tmp_path, samples, UNDATED, LATE)
    toml = tmp_path / "sources.toml"
    toml.write_text(f'[[source]]\nname = "collector"\nkind = "archive"\npath = "{path.name}"\n')
    sources = load_sources(toml)

    async def gathered(window: WeekWindow) -> set[str]:
        async with open_servers(sources, TZ) as servers:
            found = await gather(window, sources, servers)
        return {item.id for item in found.items}

    by_published = anyio.run(gathered, parse_week("2026-W06", TZ))
    by_collection = anyio.run(gathered, parse_week("2026-W06", TZ, "collected"))
    assert "t-undated" in by_published and "t-late" not in by_published
    assert by_collection - by_published == {"t-late"}


# ------------------------------------------------------------------ the command line


def test_run_on_one_items_file_keeps_and_flags_undated_items(samples: Path, tmp_path: Path) -> None:
    path = items_file(tmp_path, samples, UNDATED, LATE, NO_DATE)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", "--week", "2026-W06", "--sources", str(path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "1 dated by collection time" in text and "1 problem(s)" in text
    folder = out / "2026-W06"
    report = json.loads((folder / "report.json").read_text())
    assert report["dated_by_collection"] == ["t-undated"]
    run = json.loads((folder / "run.json").read_text())
    assert run["counts"]["dated_by_collection"] == 1
    last = len(json.loads(path.read_text())["items"])  # the row with no readable date
    assert [p["origin"] for p in run["problems"]] == [f"{path}#{last}"]


def test_unsupported_or_unreadable_single_files_are_one_line_errors(tmp_path: Path) -> None:
    table = tmp_path / "items.csv"
    table.write_text("id,title\n1,x\n")
    broken = tmp_path / "items.json"
    broken.write_text("{not json")
    for path, expected in ((table, "unsupported file type .csv"), (broken, "malformed JSON")):
        out = tmp_path / "out"
        result = runner.invoke(
            app, ["run", "--week", "2026-W06", "--sources", str(path), "--out", str(out)]
        )
        assert result.exit_code == 2, result.output
        assert expected in " ".join(result.output.split())
        assert "Traceback" not in result.output
        assert not (out / "2026-W06").exists()


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_an_unknown_window_is_a_usage_error(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["run", "--week", "2026-W06", "--out", str(tmp_path)]
    if how == "flag":
        args += ["--window", "recent"]
    else:
        monkeypatch.setenv("NEWSROOM_WINDOW", "recent")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "unknown window 'recent'" in result.output
    assert not list(tmp_path.iterdir())
