"""Incremental updates: an update re-clusters and re-writes only the themes new items touch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from newsroom import testing
from newsroom.agents import Engine, offline_engine
from newsroom.agents.fact_checker import OfflineFactChecker
from newsroom.graphs.weekly import build_weekly_graph
from newsroom.methods.embeddings import Embedder
from newsroom.models import Claim, SourceItem, Verdict
from newsroom.runner import RunOptions, checkpointer_path, open_checkpointer, run_week

WEEK = "2026-W06"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingChecker(OfflineFactChecker):
    """The offline fact-checker, recording the claims it is asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    async def check_all(self, claims: Any, sources: Any) -> dict[str, Verdict]:
        self.asked.extend(c.id for c in claims)
        return await super().check_all(claims, sources)


async def final_state(out: Path, run_id: str) -> dict[str, Any]:
    async with open_checkpointer(checkpointer_path(out)) as saver:
        graph = build_weekly_graph().compile(checkpointer=saver)
        return dict((await graph.aget_state({"configurable": {"thread_id": run_id}})).values)


def folder(path: Path, items: list[SourceItem]) -> Path:
    """Items in the JSON shape the service hands the archive server."""
    path.mkdir(parents=True)
    rows = [i.model_dump(mode="json") for i in items]
    (path / "items-000.json").write_text(json.dumps({"items": rows}, ensure_ascii=False))
    return path


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Any]:
    """The bundled week's items, stories and themes, from one full run."""
    import asyncio

    from newsroom.config import bundled_sources

    out = tmp_path_factory.mktemp("full")
    options = RunOptions(week=WEEK, sources=bundled_sources(), out_dir=out)
    summary = asyncio.run(run_week(options, offline_engine(embedder)))
    return asyncio.run(final_state(out, summary.run_id))


def without(week: dict[str, Any], theme_index: int) -> tuple[list[SourceItem], set[str]]:
    stories = {s.id: s for s in week["stories"]}
    theme = week["themes"][theme_index]
    held = {i for sid in theme.story_ids for i in stories[sid].item_ids}
    return [i for i in week["items"] if i.id not in held], held


async def base_then_update(
    tmp_path: Path, engine: Engine, first: list[SourceItem], then: list[SourceItem]
) -> tuple[Any, Any]:
    out = tmp_path / "out"
    base = await run_week(
        RunOptions(week=WEEK, sources=folder(tmp_path / "a", first), out_dir=out), engine
    )
    update = await run_week(
        RunOptions(
            week=WEEK,
            sources=folder(tmp_path / "b", then),
            out_dir=out,
            force=True,
            base_run=base.run_id,
        ),
        engine,
    )
    return base, update


async def test_new_stories_touch_only_their_themes(
    tmp_path: Path, embedder: Embedder, week: dict[str, Any]
) -> None:
    # One item of a story reported by several outlets, and a story of its own, arrive late.
    stories = {s.id: s for s in week["stories"]}
    multi = next(s for s in week["stories"] if len(s.item_ids) > 2)
    single = next(
        stories[sid]
        for t in week["themes"]
        if multi.id not in t.story_ids
        for sid in t.story_ids
        if len(stories[sid].item_ids) == 1
    )
    late = {multi.item_ids[-1], single.item_ids[0]}
    engine = offline_engine(embedder)
    checker = CountingChecker()
    engine.fact_checker = checker
    first = [i for i in week["items"] if i.id not in late]
    base, update = await base_then_update(tmp_path, engine, first, week["items"])

    assert update.status == "ok" and update.counts["items"] == len(week["items"])
    record = update.update
    assert record["mode"] == "incremental" and record["base_run"] == base.run_id
    assert record["new_stories"] == 1 and record["changed_stories"] == 1
    assert 1 <= record["themes_rewritten"] <= 2 < record["themes"]
    before = await final_state(tmp_path / "out", base.run_id)
    after = await final_state(tmp_path / "out", update.run_id)
    rewritten = set(after["affected"])
    assert len(rewritten) == record["themes_rewritten"]
    # The themes the late items went to are the rewritten ones; the others are as they were:
    # the same stories, sections and claims, their verdicts reused (never checked again).
    where = {sid: t.id for t in after["themes"] for sid in t.story_ids}
    grown = next(s for s in after["stories"] if multi.item_ids[-1] in s.item_ids)
    assert {where[grown.id], where[f"s-{single.item_ids[0]}"]} == rewritten
    old_themes = {t.id: t for t in before["themes"]}
    old_sections = {s.theme_id: s for s in before["draft"].sections}
    old_claims: dict[str, Claim] = {c.id: c for c in before["draft"].claims}
    for theme in after["themes"]:
        if theme.id in rewritten:
            continue
        assert theme == old_themes[theme.id]
        section = next(s for s in after["draft"].sections if s.theme_id == theme.id)
        assert section.lead == old_sections[theme.id].lead
        assert section.claim_ids == old_sections[theme.id].claim_ids
        for cid in section.claim_ids:
            assert next(c for c in after["draft"].claims if c.id == cid) == old_claims[cid]
    checked_in_update = checker.asked[len(before["draft"].claims) :]
    assert checked_in_update, "the rewritten themes' claims are checked"
    assert {cid.rsplit("-c", 1)[0] for cid in checked_in_update} <= rewritten
    # The edition has the late items and numbers its sections in order.
    edition = (tmp_path / "out" / WEEK / "weekly.md").read_text(encoding="utf-8")
    items = {i.id: i for i in week["items"]}
    assert any(items[i].url in edition for i in late)
    headings = [line for line in edition.splitlines() if line.startswith("### 主轴")]
    assert [h[6] for h in headings] == list("一二三四五六七八九十")[: len(headings)]


async def test_a_new_topic_becomes_a_theme_of_its_own(
    tmp_path: Path, embedder: Embedder, week: dict[str, Any]
) -> None:
    # The week's "industry, law and education" theme is held back, then all of it arrives.
    index = next(n for n, t in enumerate(week["themes"]) if "立法" in t.keywords)
    first, held = without(week, index)
    _, update = await base_then_update(tmp_path, offline_engine(embedder), first, week["items"])
    after = await final_state(tmp_path / "out", update.run_id)
    assert update.update["mode"] == "incremental"
    assert update.update["themes_rewritten"] == 1
    (new_id,) = after["affected"]
    new_theme = next(t for t in after["themes"] if t.id == new_id)
    stories = {s.id: s for s in after["stories"]}
    assert {i for sid in new_theme.story_ids for i in stories[sid].item_ids} == held


async def test_new_theme_without_room_or_a_changed_week_reclusters_it_whole(
    tmp_path: Path, embedder: Embedder, week: dict[str, Any]
) -> None:
    engine = offline_engine(embedder)
    # The funding theme held back: its stories make a theme, and the base has no room for
    # another (the edition's limit is the number of themes the base has).
    index = next(n for n, t in enumerate(week["themes"]) if "融资" in t.keywords)
    first, _ = without(week, index)
    engine.clusterer.max_themes = len(week["themes"]) - 1
    base, update = await base_then_update(tmp_path / "one", engine, first, week["items"])
    assert base.counts["themes"] == engine.clusterer.max_themes
    assert update.update["mode"] == "full"
    assert "already" in update.update["reason"]
    after = await final_state(tmp_path / "one" / "out", update.run_id)
    names = sorted(t.name for t in after["themes"])
    items = {i.id: i for i in after["items"]}
    full = engine.clusterer.build_themes(after["stories"], items)
    assert names == sorted(t.name for t in full)  # what a full run of the week gives
    # A quarter of the week first, then all of it: more than half of the stories are new.
    _, update = await base_then_update(
        tmp_path / "two", engine, week["items"][: len(week["items"]) // 4], week["items"]
    )
    assert update.update["mode"] == "full"
    assert update.update["themes_rewritten"] == update.update["themes"]


async def test_llm_update_calls_the_writer_for_rewritten_themes_only(
    tmp_path: Path, embedder: Embedder, week: dict[str, Any]
) -> None:
    engine, models = testing.scripted_engine(embedder)
    single = next(s for s in week["stories"] if len(s.item_ids) == 1)
    first = [i for i in week["items"] if i.id != single.item_ids[0]]
    base, update = await base_then_update(tmp_path, engine, first, week["items"])
    themes = base.counts["themes"]
    assert update.update["mode"] == "incremental"
    rewritten = update.update["themes_rewritten"]
    writer_calls = [c for c in models["writer"].calls if c["schema"] is not None]
    schemas = [c["schema"] for c in writer_calls]
    # The base: one call per theme and one frame; the update: the rewritten themes and a frame.
    assert schemas.count("ThemeSection") == themes + rewritten
    assert schemas.count("Frame") == 2
    after = await final_state(tmp_path / "out", update.run_id)
    before = await final_state(tmp_path / "out", base.run_id)
    titles = {t.id: t.name for t in before["themes"]}
    # Themes keep the editorial titles the model gave them in the base.
    assert all(t.name == titles[t.id] for t in after["themes"] if t.id in titles)
    assert update.usage.llm_calls < base.usage.llm_calls


async def test_an_unknown_base_runs_the_week_in_full(
    tmp_path: Path, embedder: Embedder, samples: Path
) -> None:
    summary = await run_week(
        RunOptions(week=WEEK, sources=samples, out_dir=tmp_path, base_run="2026-W06-nope"),
        offline_engine(embedder),
    )
    assert summary.status == "ok"
    assert summary.update is not None
    assert summary.update["mode"] == "full" and summary.update["base_run"] == "2026-W06-nope"
    assert "no finished edition" in summary.update["reason"]


def test_the_cli_updates_an_edition(tmp_path: Path, week: dict[str, Any]) -> None:
    from typer.testing import CliRunner

    from newsroom.cli import app

    single = next(s for s in week["stories"] if len(s.item_ids) == 1)
    sources = folder(tmp_path / "src", [i for i in week["items"] if i.id != single.item_ids[0]])
    out = tmp_path / "out"
    first = CliRunner().invoke(
        app, ["run", "--week", WEEK, "--sources", str(sources), "--out", str(out)]
    )
    assert first.exit_code == 0, first.output
    base_run = json.loads((out / WEEK / "run.json").read_text())["run_id"]
    folder(tmp_path / "late", [i for i in week["items"] if i.id == single.item_ids[0]])
    (tmp_path / "late" / "items-000.json").rename(sources / "items-001.json")
    result = CliRunner().invoke(
        app,
        ["run", "--week", WEEK, "--sources", str(sources), "--out", str(out), "--update", base_run],
    )
    assert result.exit_code == 0, result.output
    assert f"update of {base_run}: 1 of" in result.output
    run = json.loads((out / WEEK / "run.json").read_text())
    assert run["update"]["themes_rewritten"] == 1 and run["counts"]["items"] == len(week["items"])
