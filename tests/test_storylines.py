"""Storylines across weeks: one product's stories in weeks 1, 2 and 4 are one storyline with
its gap; the outlook built from them cites this week's stories and earlier weeks', and every
line passes the fact-checker against the items it cites (the earlier weeks' kept in the store).
The sample stories are our own words."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from newsroom.agents.fact_checker import OfflineFactChecker
from newsroom.methods.embeddings import Embedder
from newsroom.models import SourceItem, Story
from newsroom.storylines import StorylineStore, evaluate, outlook, outlook_claims

# (week, id, title, summary): the Quillmate coding agent in weeks 10, 11 and 13 (not 12); the
# rest are other news of those weeks.
STORIES = [
    (
        "2026-W10",
        "a1",
        "Inkwell launches Quillmate 1, a coding agent for data teams",
        "Inkwell公司发布编程代理Quillmate 1，面向数据团队，可自动编写和测试SQL与Python代码。",
    ),
    (
        "2026-W10",
        "b1",
        "Harbor Bank pilots an AI teller in 40 branches",
        "Harbor银行在40家网点试点AI柜员，处理开户和转账咨询。",
    ),
    (
        "2026-W10",
        "c1",
        "Lumen Chips opens a fab for inference accelerators in Ohio",
        "Lumen芯片公司在俄亥俄州开设推理加速芯片工厂，预计年产两百万片。",
    ),
    (
        "2026-W11",
        "a2",
        "Quillmate now reviews pull requests, Inkwell says",
        "Inkwell表示，AI编程代理Quillmate新增代码审查功能，可在合并请求中自动给出修改建议。",
    ),
    (
        "2026-W11",
        "d2",
        "Songbird releases a music model that writes lyrics in twelve languages",
        "Songbird发布音乐生成模型，可用十二种语言写歌词并生成伴奏。",
    ),
    (
        "2026-W12",
        "e3",
        "City of Porto bans facial recognition in public transport",
        "波尔图市禁止在公共交通中使用人脸识别技术。",
    ),
    (
        "2026-W12",
        "f3",
        "Meridian raises $200 million for robot arms in warehouses",
        "Meridian完成2亿美元融资，用于仓储机械臂的研发和部署。",
    ),
    (
        "2026-W13",
        "a4",
        "Inkwell's Quillmate 2, an AI coding agent, writes and ships whole data pipelines",
        "Inkwell发布Quillmate 2，这款AI编程代理可独立编写并上线完整的数据管道。",
    ),
    (
        "2026-W13",
        "g4",
        "Harbor Bank's AI teller reaches all 300 branches",
        "Harbor银行的AI柜员已推广至全部300家网点。",
    ),
]


def _item(item_id: str, title: str, summary: str, week: str) -> SourceItem:
    day = {"2026-W10": 3, "2026-W11": 10, "2026-W12": 17, "2026-W13": 24}[week]
    return SourceItem(
        id=item_id,
        title=title,
        summary=summary,
        url=f"https://news.example/{item_id}",
        source="news.example",
        published=datetime(2026, 3, day, 9, tzinfo=UTC),
    )


def _story(item: SourceItem, importance: float = 0.0) -> Story:
    """A story of one item, as dedup makes it."""
    return Story(
        id=f"s-{item.id}",
        title=item.title,
        item_ids=[item.id],
        outlets=[item.source],
        lang="zh",
        published=item.published,
        importance=importance,
    )


def _record(store: StorylineStore, embedder: Embedder) -> dict[str, SourceItem]:
    items: dict[str, SourceItem] = {}
    for week in ("2026-W10", "2026-W11", "2026-W12", "2026-W13"):
        mine = {i: _item(i, t, s, week) for w, i, t, s in STORIES if w == week}
        items.update(mine)
        stories = [_story(it, 5.0 if i.startswith("a") else 3.0) for i, it in mine.items()]
        store.record(week, stories, mine, embedder)
    return items


@pytest.fixture
def store(tmp_path: Path) -> StorylineStore:
    opened = StorylineStore(tmp_path / "storylines.sqlite")
    yield opened
    opened.close()


def test_a_product_in_weeks_one_two_and_four_is_one_storyline_with_its_gap(
    store: StorylineStore, embedder: Embedder
) -> None:
    _record(store, embedder)
    lines = {s.id: s for s in store.storylines()}
    quill = [s for s in lines.values() if {"a1", "a2", "a4"} & {e.lead for e in s.entries}]
    assert len(quill) == 1, [(s.name, s.weeks) for s in quill]
    line = quill[0]
    assert {e.lead for e in line.entries} == {"a1", "a2", "a4"}
    assert line.weeks == ["2026-W10", "2026-W11", "2026-W13"]
    assert line.gaps() == ["2026-W12"]
    assert line.pace()["2026-W11"] == {"stories": 1, "outlets": 1}
    assert "quillmate" in line.name.lower()
    # Nothing else joined it: every other story stands alone (the bank's teller aside).
    assert all(len(s.entries) <= 2 for s in lines.values() if s is not line)
    # Pairwise links against labels: the product's three stories, the bank's two.
    labels = [{"name": "Quillmate", "items": ["a1", "a2", "a4"]}, {"name": "x", "items": ["b1"]}]
    figures = evaluate(store, labels)
    assert figures["true_pairs"] == 3 and figures["recall"] == 1.0
    assert figures["precision"] == 1.0


def test_the_outlook_cites_this_week_and_earlier_weeks_and_passes_the_checker(
    store: StorylineStore, embedder: Embedder
) -> None:
    items = _record(store, embedder)
    lines = outlook(store, "2026-W13")
    assert len(lines) >= 2
    continues = [line for line in lines if line.kind == "continues"]
    assert continues and {p.item_id for p in continues[0].parts} == {"a2", "a4"}
    # The figures are the store's own, said as such: weeks, stories, the pace before.
    assert "2026-W10" in continues[0].context and "3周" in continues[0].context
    claims = outlook_claims(lines)
    assert all(len(c.cites) == 1 and c.final and c.kind == "outlook" for c in claims)
    # Each part is checked against the one item it cites, the earlier weeks' from the store.
    kept = store.items(c.cites[0] for c in claims)
    assert set(kept) == {c.cites[0] for c in claims}
    verdicts = anyio.run(OfflineFactChecker(embedder).check_all, claims, kept)
    assert all(v.label == "supported" for v in verdicts.values()), verdicts
    # A storyline that went quiet is said to have, citing its last story.
    quiet = outlook(store, "2026-W12")
    assert any(line.kind == "quiet" and line.parts[0].item_id == "a2" for line in quiet)
    assert items["a2"].title in {i.title for i in kept.values()}


def test_a_week_run_again_replaces_its_rows(store: StorylineStore, embedder: Embedder) -> None:
    _record(store, embedder)
    before = len(store.entries())
    _record(store, embedder)
    assert len(store.entries()) == before


def test_history_builds_earlier_weeks_and_the_cli_lists_and_scores_them(tmp_path: Path) -> None:
    """A real week run with `--history 1` (the week before read from its own folder): the
    outlook cites an earlier week; `newsroom storylines` lists them and `newsroom eval
    storylines` scores them against the labels."""
    import json
    import os

    from typer.testing import CliRunner

    from newsroom.cli import app

    root = Path(__file__).resolve().parents[1]
    weeks = root.parent / "shared" / "realweeks"
    if not (weeks / "2026-W08" / "items.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the real weeks are missing: {weeks}")
        pytest.skip(f"no real weeks at {weeks} (they sit beside the project, not in it)")
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "run",
            "--week",
            "2026-W08",
            "--history",
            "1",
            "--out",
            str(out),
            "--sources",
            str(weeks / "2026-W08" / "items.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    run = json.loads((out / "2026-W08" / "run.json").read_text(encoding="utf-8"))
    assert run["history"] == ["2026-W07"] and "storylines" in run["timings"]
    weekly = (out / "2026-W08" / "weekly.md").read_text(encoding="utf-8")
    outlook = weekly[weekly.index("### 趋势展望") : weekly.index("### 结语")]
    lines = [line for line in outlook.splitlines() if line[:1].isdigit()]
    assert len(lines) >= 3 and all("[[" in line for line in lines)
    assert any("2026-W07：" in line for line in lines)  # a story of the week before, cited
    report = json.loads((out / "2026-W08" / "report.json").read_text(encoding="utf-8"))
    cited = {c for claim in report["claims"] if claim["kind"] == "outlook" for c in claim["cites"]}
    assert any(c.startswith("w07-") for c in cited)
    assert all(
        v["label"] == "supported" for v in report["verdicts"] if v["claim_id"].startswith("outlook")
    )

    listed = runner.invoke(app, ["storylines", "--out", str(out), "--json", "--since", "2026-W08"])
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.output)
    assert any(line["weeks"] == ["2026-W07", "2026-W08"] for line in found)
    text = runner.invoke(app, ["storylines", "--out", str(out)])
    assert text.exit_code == 0 and "stories/outlets per week" in text.output
    scored = runner.invoke(
        app,
        [
            "eval",
            "storylines",
            "--out",
            str(out),
            "--labels",
            str(root / "evals" / "realweeks" / "storylines.json"),
        ],
    )
    assert scored.exit_code == 0, scored.output
    figures = json.loads(scored.output)
    assert figures["items_in_store"] > 0 and 0.0 <= figures["precision"] <= 1.0
    missing = runner.invoke(app, ["storylines", "--out", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "no storylines" in missing.output

    # History where the earlier weeks have no file: skipped, said so, nothing recorded for them.
    only = tmp_path / "only" / "2026-W09"
    only.mkdir(parents=True)
    (only / "items.json").write_bytes((weeks / "2026-W09" / "items.json").read_bytes())
    lone = tmp_path / "lone"
    result = runner.invoke(
        app,
        [
            "run",
            "--week",
            "2026-W09",
            "--history",
            "2",
            "--out",
            str(lone),
            "--sources",
            str(only / "items.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    run = json.loads((lone / "2026-W09" / "run.json").read_text(encoding="utf-8"))
    assert run["history"] == [] and set(run["history_skipped"]) == {"2026-W07", "2026-W08"}
    assert "no sources at" in run["history_skipped"]["2026-W08"]
    assert "skipped 2026-W07" in result.output


def test_a_broken_store_costs_the_outlook_its_memory_not_the_edition(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from newsroom.cli import app

    out = tmp_path / "out"
    (out / ".newsroom").mkdir(parents=True)
    (out / ".newsroom" / "storylines.sqlite").write_bytes(b"not a database at all")
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--week", "2026-W06", "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "2026-W06" / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "ok"
    assert any("storylines skipped" in p["message"] for p in run["problems"])
    weekly = (out / "2026-W06" / "weekly.md").read_text(encoding="utf-8")
    assert "### 趋势展望" in weekly  # the writer's own outlook stands in
    listed = runner.invoke(app, ["storylines", "--out", str(out)])
    assert listed.exit_code == 1 and "unusable" in listed.output
    assert "Traceback" not in listed.output
    bad_week = runner.invoke(app, ["storylines", "--out", str(out), "--since", "W99"])
    assert bad_week.exit_code == 2 and "invalid week" in bad_week.output


def test_one_id_in_two_weeks_is_two_items(store: StorylineStore, embedder: Embedder) -> None:
    _record(store, embedder)
    impostor = _item(
        "a1", "Lumen Chips ships a new fab tool", "Lumen芯片公司推出新工具。", "2026-W13"
    )
    store.record("2026-W14", [_story(impostor)], {"a1": impostor}, embedder)
    # The week-10 story keeps its own text, for the weeks that cite it.
    assert "Quillmate" in store.items(["a1"], before="2026-W14")["a1"].title
    assert store.items(["a1"])["a1"].title == impostor.title


def test_headlines_print_as_written_and_empty_labels_score_nothing(
    tmp_path: Path, embedder: Embedder
) -> None:
    import json

    from typer.testing import CliRunner

    from newsroom.cli import app

    out = tmp_path / "out"
    opened = StorylineStore(out / ".newsroom" / "storylines.sqlite")
    try:
        item = _item(
            "m1", "Agents [/b] and [bold]markup[/bold] in a title", "no Chinese", "2026-W10"
        )
        opened.record("2026-W10", [_story(item)], {"m1": item}, embedder)
    finally:
        opened.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["storylines", "--out", str(out)])
    assert listed.exit_code == 0, listed.output
    assert "[/b]" in listed.output and "[bold]markup[/bold]" in listed.output
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"name": "x", "items": ["nowhere-1", "nowhere-2"]}]))
    scored = runner.invoke(app, ["eval", "storylines", "--out", str(out), "--labels", str(labels)])
    assert scored.exit_code == 0, scored.output
    figures = json.loads(scored.output)
    assert figures["precision"] is None and figures["items_in_store"] == 0
    labels.write_text(json.dumps([{"name": "x", "items": ["m1"]}, {"name": "y", "items": ["m1"]}]))
    twice = runner.invoke(app, ["eval", "storylines", "--out", str(out), "--labels", str(labels)])
    assert twice.exit_code == 2 and "two storylines" in twice.output


def _run_weeks_with_llm(
    tmp_path: Path, embedder: Embedder, frame: Any = None
) -> tuple[Path, list[dict[str, Any]]]:
    """The Quillmate weeks run in order by the LLM engine (scripted models; `frame` changes
    the writer's Frame reply); the writer's calls of the last week."""
    from newsroom import testing
    from newsroom.runner import RunOptions, run_week

    out = tmp_path / "out"
    tmp_path.mkdir(parents=True, exist_ok=True)
    calls: list[dict[str, Any]] = []
    for week in ("2026-W10", "2026-W11", "2026-W13"):
        mine = [_item(i, t, s, week) for w, i, t, s in STORIES if w == week]
        sources = tmp_path / f"{week}.json"
        sources.write_text(
            json.dumps({"items": [i.model_dump(mode="json") for i in mine]}, ensure_ascii=False),
            encoding="utf-8",
        )
        models = {"writer": _changing(frame)} if frame else {}
        engine, used = testing.scripted_engine(embedder, per_agent_model=True, **models)
        summary = anyio.run(run_week, RunOptions(week=week, sources=sources, out_dir=out), engine)
        assert summary.status == "ok", summary
        calls = used["writer"].calls
    return out / "2026-W13", calls


def _changing(change: Any) -> Any:
    from newsroom.testing import ScriptedChatModel, _schema_of, echo

    def respond(messages: list[Any], kwargs: dict[str, Any]) -> Any:
        schema, tools = _schema_of(kwargs)
        reply = echo("\n".join(str(m.content) for m in messages), schema, tools)
        return change(reply) if schema == "Frame" else reply

    return ScriptedChatModel(respond=respond)


def test_the_llm_engine_phrases_the_outlook_from_the_storylines(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The model sees the storylines (this week's story and the earlier edition's, with the
    store's figures) in its one frame call and writes a line for each, citing the stories it
    rests on, an earlier week's included; each passes the checker against what it cites."""
    from newsroom.testing import Reply

    change = (
        "Quillmate新增代码审查功能后，Inkwell又发布了可独立编写并上线完整数据管道的Quillmate 2。"
    )

    def across_weeks(reply: Any) -> Any:
        frame = json.loads(reply.content)
        for line in frame["storylines"]:
            if "Quillmate" in line["text"]:
                line.update(text=change, stories=["a2", "a4"])
        return Reply(json.dumps(frame, ensure_ascii=False))

    folder, calls = _run_weeks_with_llm(tmp_path, embedder, frame=across_weeks)
    frames = [c for c in calls if c["schema"] == "Frame"]
    assert len(frames) == 1
    asked = "\n".join(str(m.content) for m in frames[0]["messages"][1:])
    assert 'id="storyline-1"' in asked and "[a2]" in asked and "[a4]" in asked
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    verdicts = {v["claim_id"]: v["label"] for v in report["verdicts"]}
    phrased = {c["text"]: c for c in report["claims"] if c["kind"] == "outlook"}
    # The model's sentences, not the offline phrasing (a headline per part, labelled).
    assert change in phrased and set(phrased[change]["cites"]) == {"a2", "a4"}
    assert "2026-W10" in phrased[change]["context"] and "本周：" not in phrased[change]["context"]
    harbor = [c for t, c in phrased.items() if t.startswith("Harbor Bank's AI teller")]
    assert len(harbor) == 1 and harbor[0]["cites"] == ["g4"]
    assert all(verdicts[c["id"]] == "supported" for c in phrased.values()), verdicts
    weekly = (folder / "weekly.md").read_text(encoding="utf-8")
    ahead = weekly[weekly.index("### 趋势展望") :]
    ahead = ahead[: ahead.index("\n### ", 3)]
    assert change in ahead and "由离线方法" not in weekly


def test_an_llm_outlook_line_the_sources_do_not_bear_is_dropped(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A model that says Quillmate 2 cannot write pipelines: the line is checked against the
    story it cites, fails (rule-certain, never put to the model), and is not published; a
    model that phrases no storyline leaves the offline phrasing in place, said so."""
    from newsroom.testing import Reply

    def false_line(reply: Any) -> Any:
        frame = json.loads(reply.content)
        for line in frame["storylines"]:
            if "Quillmate" in line["text"]:
                line["text"] = "Inkwell发布Quillmate 2，这款AI编程代理无法独立编写数据管道。"
        return Reply(json.dumps(frame, ensure_ascii=False))

    folder, _ = _run_weeks_with_llm(tmp_path / "false", embedder, frame=false_line)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    false = [c for c in report["dropped"] if "无法" in c["text"]]
    assert len(false) == 1 and false[0]["cites"] == ["a4"]
    assert not [c for c in report["claims"] if "无法" in c["text"]]
    verdicts = {v["claim_id"]: v["label"] for v in report["verdicts"]}
    assert verdicts[false[0]["id"]] == "contradicted"
    weekly = (folder / "weekly.md").read_text(encoding="utf-8")
    ahead = weekly[weekly.index("### 趋势展望") :]
    ahead = ahead[: ahead.index("\n### ", 3)]
    assert "无法" not in ahead and "Quillmate" not in ahead and "Harbor" in ahead

    def no_lines(reply: Any) -> Any:
        frame = json.loads(reply.content)
        frame["storylines"] = []
        return Reply(json.dumps(frame, ensure_ascii=False))

    folder, _ = _run_weeks_with_llm(tmp_path / "none", embedder, frame=no_lines)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    parts = [c for c in report["claims"] if c["kind"] == "outlook" and c["cites"] == ["a2"]]
    assert parts and parts[0]["context"].endswith("2026-W11：")  # the offline part, labelled
    weekly = (folder / "weekly.md").read_text(encoding="utf-8")
    ahead = weekly[weekly.index("### 趋势展望") :]
    assert "由离线方法依故事线生成" in weekly and "Quillmate" in ahead[: ahead.index("\n### ", 3)]


def test_a_newsletter_tag_and_a_business_acronym_link_no_stories() -> None:
    """[AINews] heads every issue of one newsletter and ROI a hundred unrelated stories: neither
    is a name two stories can share a storyline by; the product they tell of is."""
    from newsroom.storylines import story_names

    issue = _item(
        "n1",
        "[AINews] Inkwell's Quillmate 2 lifts ROI for data teams",
        "数据团队的投资回报提升。",
        "2026-W10",
    )
    assert {"ainews", "roi"}.isdisjoint(story_names(issue)) and "quillmate" in story_names(issue)


def test_a_versioned_product_is_named_with_and_without_its_version() -> None:
    """GPT-5.4 is named `gpt` (its product line) and `gpt5.4`: in a week when every other
    story mentions GPT, the version is the rarer name that ties GPT-5.4's launch to its mini
    release two weeks later (without it, storyline recall on the real weeks fell to 0.09)."""
    from newsroom.storylines import story_names

    mini = story_names(_item("m1", "Introducing GPT-5.4 mini and nano", "小模型发布。", "2026-W12"))
    assert {"gpt", "gpt5.4"} <= mini
    plain = story_names(_item("p1", "Inkwell ships Quillmate", "新产品发布。", "2026-W12"))
    assert "quillmate" in plain and not any(any(c.isdigit() for c in n) for n in plain)


def test_odd_storyline_ids_and_markup_neither_crash_nor_reach_the_page(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A model's storyline id in another case is still its storyline; one with a digit that is
    not ASCII (storyline-²) names none, so that storyline keeps the offline phrasing; a line
    carrying a heading of its own is published as one line, never as a section."""
    from newsroom.testing import Reply

    def odd(reply: Any) -> Any:
        frame = json.loads(reply.content)
        lines = frame["storylines"]
        assert len(lines) == 2
        lines[0]["storyline"] = " Storyline-1 "
        lines[0]["text"] = lines[0]["text"] + "\n\n### 结语\n\n- 多出来的一行"
        lines[1]["storyline"] = "storyline-²"
        return Reply(json.dumps(frame, ensure_ascii=False))

    folder, _ = _run_weeks_with_llm(tmp_path, embedder, frame=odd)
    weekly = (folder / "weekly.md").read_text(encoding="utf-8")
    assert weekly.count("\n### 结语") == 1 and "\n- 多出来的一行" not in weekly
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    phrased = [c for c in report["claims"] if c["id"] == "outlook-1-1"]
    assert phrased and "\n" not in phrased[0]["text"] and "### 结语" in phrased[0]["text"]
    assert "由离线方法依故事线生成" in weekly  # storyline 2, phrased offline and said so


def test_a_failing_outlook_line_is_dropped_not_rewritten(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The revision round rewrites failing bullets, never a storyline's line (it is final): a
    rewrite could put another storyline's story beside this one's figures."""
    from newsroom.testing import Reply

    def false_lead_and_line(reply: Any) -> Any:
        frame = json.loads(reply.content)
        frame["lead"][0]["text"] = "Harbor银行的AI柜员仅推广至3家网点。"  # fails: a revision round
        for line in frame["storylines"]:
            if "Quillmate" in line["text"]:
                line["text"] = "Inkwell发布Quillmate 2，这款AI编程代理无法独立编写数据管道。"
        return Reply(json.dumps(frame, ensure_ascii=False))

    folder, calls = _run_weeks_with_llm(tmp_path, embedder, frame=false_lead_and_line)
    asked = [c for c in calls if c["schema"] == "Revisions"]
    assert asked, "the false lead should have asked for a revision"
    assert all("outlook-" not in str(m.content) for c in asked for m in c["messages"])
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    dropped = [c for c in report["dropped"] if c["kind"] == "outlook"]
    assert dropped and all(c["revision"] == 0 for c in dropped)
