"""The desk profile: what is news, which beat, what leads; and how a bad profile is refused."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsroom.cli import app
from newsroom.errors import UsageError
from newsroom.evaluation_edition import canonical, evaluate_edition
from newsroom.methods.dedup import Deduplicator
from newsroom.methods.desk import Desk, default_desk
from newsroom.methods.embeddings import Embedder
from newsroom.methods.headlines import headline, news_sentence
from newsroom.models import SourceItem

DEFAULT = Path(__file__).resolve().parents[1] / "newsroom/methods/resources/ai_desk.toml"
WHEN = datetime(2026, 2, 10, 9, tzinfo=UTC)


def item(
    item_id: str, title: str, summary: str = "", url: str = "", source: str = "x.com"
) -> SourceItem:
    return SourceItem(
        id=item_id,
        title=title,
        summary=summary,
        url=url or f"https://{source}/{item_id}",
        source=source,
        published=WHEN,
    )


def test_the_ai_desk_keeps_ai_news_and_leaves_deals_out() -> None:
    desk = default_desk()
    launch = item(
        "a",
        "AI lab ships a new reasoning model",
        "某实验室发布新一代推理大模型，支持百万级上下文。",
    )
    deal = item("b", "The 20 Best Headphone Deals This Week", "多款耳机正在促销，最高降价40%。")
    assert desk.relevance(launch).on_desk
    verdict = desk.relevance(deal)
    assert not verdict.on_desk and "off" in verdict.reason and verdict.score < desk.threshold


def test_beats_take_the_precedence_beat_and_report_a_margin() -> None:
    desk = default_desk()
    chinese = item("c", "DeepSeek opens a new model", "DeepSeek发布新模型，推理成本大幅下降。")
    beat, margin = desk.judge_beat(chinese, None, embedder=None)  # type: ignore[arg-type]
    assert beat == "china_ai" and margin > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('"^Import ?AI \\\\d+"', '"([unclosed"'), "round_ups pattern"),
        (('"openai.com" = 1.5', '"openai.com" = "x"'), "desk.outlets"),
        (('precedence = ["china_ai"]', 'precedence = ["no_such_beat"]'), "unknown beats"),
        (("threshold = 2.0", "threshold = nan"), "finite"),
    ],
)
def test_a_bad_profile_is_one_line_naming_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "desk.toml"
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        Desk.load(path)
    result = CliRunner().invoke(app, ["run", "--week", "2026-W06", "--desk", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output


def test_an_empty_desk_setting_means_the_default_desk() -> None:
    assert Desk.load(Path("")) is default_desk()


def test_a_desk_that_keeps_nothing_keeps_all_and_says_so(samples: Path, tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace("threshold = 2.0", "threshold = 1000", 1)
    desk = tmp_path / "strict.toml"
    desk.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", "--week", "2026-W06", "--desk", str(desk), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    run = json.loads((out / "2026-W06" / "run.json").read_text(encoding="utf-8"))
    assert run["counts"]["left_out"] == 0
    assert any("scores no item of the week" in p["message"] for p in run["problems"])


def test_items_without_a_url_are_not_one_story() -> None:
    items = [
        item("n1", "某公司发布新芯片", "某公司发布新一代推理芯片。", url=" "),
        item("n2", "另一家公司完成融资", "另一家公司完成5亿元融资。", url=" "),
    ]
    stories = Deduplicator().stories(items)
    assert len(stories) == 2


def test_headlines_are_whole_clauses_that_name_the_title() -> None:
    english = item(
        "h",
        "Acme ships Widget-3 with a longer context",
        "据报道，Acme发布新一代模型Widget-3，上下文窗口扩展至百万级token，并开放API。",
    )
    assert headline(english) == "Acme发布新一代模型Widget-3"
    # No clause names the title's names: the title stands.
    vague = item("v", "Acme ships Widget-3", "此举引发业内关注，多家公司跟进。")
    assert headline(vague) == "Acme ships Widget-3"
    # The summary never names it: its first clause after the title's proper name.
    unnamed = item(
        "u",
        "Build with Nano Banana 2, our best image generation and editing model",
        "谷歌发布了最新图像生成和编辑模型，提升了图像质量和编辑速度。",
    )
    assert headline(unnamed) == "Nano Banana 2：谷歌发布了最新图像生成和编辑模型"
    # A question word is no name, whatever an alias table says (Who: WHO).
    question = item("q", "Who pays for the agents", "越来越多企业开始为AI代理设立专门预算。")
    assert headline(question) == "越来越多企业开始为AI代理设立专门预算"
    # A title's opening number, a title-case opener or an unknown acronym names nothing: the
    # clause stands alone (not "2026：…", "ROI：…").
    for title in ("20 Best Desk Chairs (2026)", "ROI gains from agentic finance", "It Is Here"):
        bare = item("b", title, "财务领导者利用自主型AI实现应付账款自动化，节省大量人力。")
        assert headline(bare) == "财务领导者利用自主型AI实现应付账款自动化", title
    tail = item("t", "新模型发布", "此外，该模型还支持多模态。新模型在推理基准上提升了20%。")
    assert news_sentence(tail).startswith("新模型在推理基准上")


def labelled_week(tmp_path: Path, title: str, beat: str, theme: str) -> tuple[Path, Path, Path]:
    """One labelled item of 2026-W08 and an edition whose one theme (`theme`, its last line
    the bullet) cites it."""
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps({"items": [{"id": "i1", "title": title, "url": "https://x.com/a"}]}),
        encoding="utf-8",
    )
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps({"week": "2026-W08", "items": {"i1": {"ai": True, "beat": beat}}}),
        encoding="utf-8",
    )
    edition = tmp_path / "edition"
    edition.mkdir()
    (edition / "weekly.md").write_text(
        f"---\nweek: 2026-W08\n---\n{theme}[[1]](https://x.com/a)\n", encoding="utf-8"
    )
    return items, labels, edition


def test_edition_urls_drop_tracking_and_a_mismatched_week_is_an_error(tmp_path: Path) -> None:
    assert canonical("http://www.x.com/a/?utm_source=feed#top") == "x.com/a"
    assert canonical("https://x.com/a?id=3&utm_medium=m") == "x.com/a?id=3"
    items, labels, edition = labelled_week(tmp_path, "t", "agents", "### 主轴一：x\n- a bullet")
    (edition / "weekly.md").write_text(
        "---\nweek: 2026-W07\n---\n### 主轴一：x\n- a bullet[[1]](https://x.com/a)\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="edition of 2026-W07"):
        evaluate_edition(items, labels, edition)
    (edition / "weekly.md").write_text(
        "---\nweek: 2026-W08\n---\n### 主轴一：x\n- a bullet[[1]](https://x.com/a)\n",
        encoding="utf-8",
    )
    figures = evaluate_edition(items, labels, edition)
    assert figures["evidence_bullets"] == 1 and figures["lead_recall"] is None  # no briefing


def test_eval_edition_counts_a_heading_naming_a_desk_entity(tmp_path: Path) -> None:
    """A heading in Chinese names its lead event by an entity of the desk the edition was
    written with (`--desk`, else NEWSROOM_DESK): 字节跳动 has no Latin letters."""
    items, labels, edition = labelled_week(
        tmp_path, "字节跳动发布新模型", "china_ai", "### 主轴一：字节跳动发布新模型\n- 新模型发布"
    )
    args = ["eval", "edition", "--items", str(items), "--labels", str(labels)]
    args += ["--edition", str(edition)]
    assert "字节跳动" in default_desk().entity_names()
    named = CliRunner().invoke(app, args)  # the bundled AI desk knows 字节跳动
    assert named.exit_code == 0, named.output
    assert json.loads(named.output)["heading_entity_share"] == 1.0
    bare = tmp_path / "bare.toml"
    bare.write_text(
        DEFAULT.read_text(encoding="utf-8").replace('|字节"', '"').replace("字节跳动", "ZJTD"),
        encoding="utf-8",
    )
    unnamed = CliRunner().invoke(app, [*args, "--desk", str(bare)])
    assert json.loads(unnamed.output)["heading_entity_share"] == 0.0
    missing = CliRunner().invoke(app, [*args, "--desk", str(tmp_path / "none.toml")])
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_same_event_pairs_join_the_stories_marked_as_repeating() -> None:
    from newsroom.evaluation_edition import merged_stories

    stories = [
        {"id": "s-a", "item_ids": ["a", "a2"]},
        {"id": "s-b", "item_ids": ["b"], "repeats": "s-a"},
        {"id": "s-c", "item_ids": ["c"], "repeats": "s-b"},
        {"id": "s-d", "item_ids": ["d"], "repeats": "s-gone"},
    ]
    events = sorted(sorted(e) for e in merged_stories(stories))
    assert events == [["a", "a2", "b", "c"], ["d"]]


def test_name_words_are_names_not_the_common_words_of_a_title() -> None:
    from newsroom.methods.desk import name_words

    # Sentence case: capitalised words past the first are names; `coding`, `tools` are not.
    assert name_words("Google pulls back on browser AI as the industry bets on coding tools") == {
        "ai"
    }
    # Title Case says nothing about names; digits and inner capitals still do.
    assert name_words("Gemini Can Now Book You an Uber or Order a DoorDash Meal") == {"doordash"}
    # Latin words inside Chinese are names.
    assert name_words("OpenAI收购了开发Ruff和uv的公司Astral") >= {"openai", "ruff", "uv", "astral"}


def test_a_top_story_narrowly_on_its_beat_is_still_written(embedder: Embedder) -> None:
    from newsroom.agents.writer import OfflineWriter
    from newsroom.models import Story, Theme

    texts = {
        "a": (
            "Nvidia to spend $26 billion on open models",
            "英伟达计划五年投入260亿美元开发开源模型。",
        ),
        "b": ("Grok 4.20 scores 48", "xAI的Grok 4.20在基准测试中得分48。"),
        "c": ("GPT-5.4 Pro ships", "OpenAI推出GPT-5.4专业版，支持百万上下文。"),
        "d": ("Anthropic drops a surcharge", "Anthropic取消百万上下文窗口的额外收费。"),
        "e": ("Meta delays Avocado", "Meta推迟新模型Avocado的发布。"),
    }
    items = {k: item(k, t, s) for k, (t, s) in texts.items()}
    importance = {"a": 9.0, "b": 6.0, "c": 5.0, "d": 4.0, "e": 3.0}
    stories = {
        f"s-{k}": Story(
            id=f"s-{k}",
            title=texts[k][0],
            item_ids=[k],
            outlets=["x.com"],
            lang="zh",
            published=WHEN,
            beat="frontier_models",
            # The biggest story sits on its beat by a hair; the others surely.
            beat_margin=0.1 if k == "a" else 2.0,
            importance=importance[k],
        )
        for k in texts
    }
    theme = Theme(
        id="t1",
        name="x",
        keywords=[],
        headline="x",
        story_ids=list(stories),
        weight=1.0,
        beat="frontier_models",
    )
    picked = OfflineWriter(embedder, top_stories=1).pick_stories(theme, stories, items, [], limit=3)
    assert picked[0].id == "s-a"  # the lead of its theme
    # Without the rule it comes after every story surely on the beat, if at all.
    picked = OfflineWriter(embedder, top_stories=0).pick_stories(theme, stories, items, [], limit=3)
    assert picked[0].id != "s-a"
    # The week's top stories are written past the theme's limit, whatever beat the desk gave
    # them, biggest first however the theme orders its stories (by centrality).
    stories["s-e"] = stories["s-e"].model_copy(update={"beat": "policy", "importance": 8.0})
    theme = theme.model_copy(update={"story_ids": list(reversed(theme.story_ids))})
    picked = OfflineWriter(embedder, top_stories=4).pick_stories(theme, stories, items, [], limit=2)
    assert [s.id for s in picked] == ["s-a", "s-e", "s-b", "s-c"]


def test_an_event_told_by_reports_dedup_kept_apart_counts_their_outlets(
    embedder: Embedder,
) -> None:
    """A report marked as repeating a story adds its outlet to that story's `outlets` term (the
    issue's "distinct outlets after dedup"): two outlets on one event outrank one."""
    from newsroom.agents.clusterer import OfflineClusterer
    from newsroom.models import Story

    text = (
        "Anthropic releases Claude Sonnet 4.6",
        "Anthropic发布Claude Sonnet 4.6，支持百万上下文。",
    )
    items = {
        "a": item("a", *text, source="the-decoder.com"),
        "b": item("b", *text, source="bensbites.com"),
        "c": item("c", "Meta delays Avocado", "Meta推迟新模型Avocado的发布。", source="x.com"),
    }
    stories = [
        Story(
            id=f"s-{k}",
            title=items[k].title,
            item_ids=[k],
            outlets=[items[k].source],
            lang="zh",
            published=WHEN,
            importance=5.0,
            importance_terms={"outlets": 1.0},
        )
        for k in items
    ]
    out = OfflineClusterer(embedder).mark_repeats(stories, items)
    shown = {s.id: s for s in out if s.repeats is None}
    assert [s.repeats for s in out].count(None) == 2
    told = next(s for s in shown.values() if s.id in ("s-a", "s-b"))
    # The desk's outlets weight × (log2(1 + 2) − log2(1 + 1)) more.
    gain = default_desk().weights["outlets"] * (math.log2(3) - 1)
    assert told.importance_terms["outlets"] == pytest.approx(1.0 + gain, abs=1e-3)
    assert told.importance > shown["s-c"].importance


def test_the_figures_of_a_date_tie_no_two_reports() -> None:
    """`2026 2` (a month written 2026年2月) is no name: two reports of a week both dated in
    February were marked as one event by it (W07: a newsletter issue and GPT-4o's retirement)."""
    from newsroom.methods.desk import anchors

    found = anchors("Sci-Fi with a touch of Madness，2026年2月 GPT-5.4 发布")
    assert "2026 2" not in found and not any(a.replace(" ", "").isdigit() for a in found)
    assert "gpt5.4" in found and "madness" in found
