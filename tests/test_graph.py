"""The assembled weekly graph: topology, a full offline run, the bounded revision loop, resume."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from newsroom.agents import Engine
from newsroom.graphs import RunContext, build_weekly_graph
from newsroom.models import Draft, SourceItem, Story, Theme, Verdict
from newsroom.runner import RunOptions, run_week
from newsroom.tools.client import ArchiveConfig
from newsroom.weeks import WeekWindow, parse_week

TOPOLOGY = """\
---
config:
  flowchart:
    curve: linear
---
graph TD;
	__start__([<p>__start__</p>]):::first
	research(research)
	dedup(dedup)
	cluster(cluster)
	write(write)
	fact_check(fact_check)
	revise(revise)
	publish(publish)
	__end__([<p>__end__</p>]):::last
	__start__ --> research;
	cluster --> write;
	dedup --> cluster;
	fact_check -.-> publish;
	fact_check -.-> revise;
	research -.-> __end__;
	research -.-> dedup;
	revise --> fact_check;
	write --> fact_check;
	publish --> __end__;
"""


def test_topology_snapshot() -> None:
    graph = build_weekly_graph().compile(checkpointer=InMemorySaver())
    mermaid = graph.get_graph().draw_mermaid()
    assert mermaid.split("\tclassDef")[0] == TOPOLOGY


def _context(engine: Engine, samples: Path, out: Path, max_revisions: int = 2) -> RunContext:
    window = parse_week("2026-W06")
    return RunContext(
        engine=engine,
        window=window,
        archive=ArchiveConfig(samples),
        out_dir=out,
        run_id="test-run",
        max_revisions=max_revisions,
    )


async def _invoke(context: RunContext) -> dict[str, Any]:
    graph = build_weekly_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}, "recursion_limit": 40}
    return dict(await graph.ainvoke({"week": "2026-W06"}, config, context=context))


def test_full_offline_run(engine: Engine, samples: Path, tmp_path: Path) -> None:
    state = anyio.run(_invoke, _context(engine, samples, tmp_path))
    report = json.loads((tmp_path / "2026-W06" / "report.json").read_text())
    markdown = (tmp_path / "2026-W06" / "weekly.md").read_text()
    window = parse_week("2026-W06")
    sources = {s["id"]: s for s in report["sources"]}
    assert 4 <= len(report["themes"]) <= 8
    for theme in report["themes"]:
        evidence = [
            c for c in report["claims"] if c["theme_id"] == theme["id"] and c["kind"] == "evidence"
        ]
        assert len(evidence) >= 3, theme["name"]
    for claim in report["claims"]:
        assert claim["cites"]
        for item_id in claim["cites"]:
            assert sources[item_id]["url"].startswith("http")
            assert sources[item_id]["url"] in markdown
    published = {s["id"] for s in report["sources"]}
    assert all(window.contains(i.published) for i in state["items"] if i.id in published)
    assert "下周看点" not in markdown and "一月AI应用榜单回顾" not in markdown
    assert markdown.startswith("---\ntitle: ")
    assert "generator: offline" in markdown and "status: ok" in markdown
    assert {v["label"] for v in report["verdicts"]} == {"supported"}


class StubbornWriter:
    """A test double: writes one claim the sources contradict, and never fixes it; with
    `gives_up` it says so (the claim is final), otherwise it repeats itself."""

    def __init__(self, inner: Any, gives_up: bool = True) -> None:
        self.inner = inner
        self.gives_up = gives_up
        self.revisions = 0

    async def write(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        outlook: Sequence[Any] = (),
    ) -> Draft:
        draft: Draft = await self.inner.write(window, themes, stories, items, outlook)
        resolve = next(i for i in items.values() if i.title.startswith("AI运维公司Resolve"))
        wrong = draft.claims[0].model_copy(
            update={
                "text": "Resolve AI完成2.5亿美元A轮融资，估值达到10亿美元。",
                "cites": [resolve.id],
            }
        )
        return draft.model_copy(update={"claims": [wrong, *draft.claims[1:]]})

    async def revise(self, draft: Draft, verdicts: Mapping[str, Verdict], *args: Any) -> Draft:
        self.revisions += 1
        return draft.model_copy(
            update={
                "claims": [
                    c.model_copy(update={"revision": c.revision + 1, "final": self.gives_up})
                    if verdicts[c.id].label != "supported"
                    else c
                    for c in draft.claims
                ]
            }
        )


@pytest.mark.parametrize(("max_revisions", "rounds"), [(0, 0), (1, 1), (5, 1)])
def test_revision_loop_is_bounded_and_failures_are_dropped(
    engine: Engine, samples: Path, tmp_path: Path, max_revisions: int, rounds: int
) -> None:
    writer = StubbornWriter(engine.writer)
    engine.writer = writer
    state = anyio.run(_invoke, _context(engine, samples, tmp_path, max_revisions))
    assert writer.revisions == rounds  # a writer with nothing better ends the loop itself
    assert state["revisions"] == rounds
    report = json.loads((tmp_path / "2026-W06" / "report.json").read_text())
    assert [c["text"] for c in report["dropped"]] == [
        "Resolve AI完成2.5亿美元A轮融资，估值达到10亿美元。"
    ]
    markdown = (tmp_path / "2026-W06" / "weekly.md").read_text()
    assert "2.5亿美元" not in markdown
    assert "1条未能被所引来源证实" in markdown


class FailingOnce:
    """A clusterer double that crashes on its first call, as a killed process would."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def judge(self, stories: Any, items: Any) -> Any:
        return self.inner.judge(stories, items)

    async def themes(self, stories: Any, items: Any) -> list[Theme]:
        self.calls += 1
        if self.calls == 1:
            raise KeyboardInterrupt
        result: list[Theme] = await self.inner.themes(stories, items)
        return result


def test_resume_after_interrupted_run(engine: Engine, samples: Path, tmp_path: Path) -> None:
    clusterer = FailingOnce(engine.clusterer)
    engine.clusterer = clusterer
    options = RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        anyio.run(run_week, options, engine)
    first = json.loads((tmp_path / "2026-W06" / "run.json").read_text())
    assert first["status"] == "interrupted"
    assert first["counts"]["items"] + first["counts"]["left_out"] == 64
    assert first["counts"]["themes"] == 0
    assert not (tmp_path / "2026-W06" / "weekly.md").exists()

    options.resume = first["run_id"]
    summary = anyio.run(run_week, options, engine)
    assert summary.status == "ok"
    assert summary.run_id == first["run_id"]
    assert summary.usage.tool_calls == 1  # research ran once, before the interruption
    assert clusterer.calls == 2
    assert (tmp_path / "2026-W06" / "weekly.md").exists()
