"""The offline agents on small hand-made inputs: dedup, clustering, fact-checking."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from newsroom.agents import Engine
from newsroom.agents.clusterer import c_tf_idf
from newsroom.agents.fact_checker import OfflineFactChecker
from newsroom.methods.dedup import Deduplicator, item_vectors, numbers_agree
from newsroom.models import Claim, SourceItem

WHEN = datetime(2026, 2, 4, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def item(
    id: str, title: str, summary: str = "", url: str = "", source: str = "S", lang: str = "zh"
) -> SourceItem:
    return SourceItem(
        id=id,
        title=title,
        summary=summary,
        url=url or f"https://e.com/{id}",
        source=source,
        published=WHEN,
        lang=lang,
    )


def test_canonical_url_merges_and_keeps_every_source() -> None:
    items = [
        item("a", "甲", url="https://www.e.com/x?utm_source=feed", source="一报"),
        item("b", "乙", url="https://e.com/x/", source="二报"),
        item("c", "丙", url="https://e.com/y", source="三报"),
    ]
    stories = Deduplicator().stories(items)
    merged = next(s for s in stories if len(s.item_ids) == 2)
    assert set(merged.item_ids) == {"a", "b"}
    assert merged.outlets == ["一报", "二报"]
    assert merged.weight == 2


def test_minhash_near_duplicates_need_agreeing_numbers() -> None:
    base = "生数科技完成超过6亿元人民币的A+轮融资，本轮由中关村科学城公司和星连资本领投"
    items = [
        item("a", "生数科技完成A+轮融资", base + "。"),
        item("b", "生数科技完成A+轮融资", base + "，资金用于研发。"),
        item("c", "生数科技完成A+轮融资", base.replace("6亿元", "9亿元") + "。"),
    ]
    groups = sorted(sorted(g) for g in Deduplicator(semantic=0).groups(items))
    assert groups == [[0, 1], [2]]
    assert not numbers_agree("融资2亿美元", "融资3亿美元")
    assert numbers_agree("融资2亿美元，两步完成", "估值10亿美元，融资2亿美元")


def test_cross_lingual_duplicates_with_embeddings(engine: Engine) -> None:
    items = [
        item(
            "zh",
            "Resolve AI完成1.25亿美元A轮融资",
            "AI运维公司Resolve AI完成1.25亿美元A轮融资，光速创投领投。",
        ),
        item(
            "en",
            "Resolve AI raises $125 million Series A",
            "Resolve AI raised $125 million in a Series A led by Lightspeed.",
            lang="en",
        ),
        item("other", "Cerebras完成大额融资", "AI芯片公司Cerebras完成新一轮融资。"),
    ]
    vectors = item_vectors(items, engine.embedder)
    stories = engine.deduplicator.stories(items, vectors)
    assert sorted(len(s.item_ids) for s in stories) == [1, 2]


def test_c_tf_idf_prefers_distinctive_terms() -> None:
    ranked = c_tf_idf([["融资", "融资", "估值", "模型"], ["模型", "开源", "开源", "模型"]])
    assert ranked[0][0][0] == "融资"
    assert ranked[1][0][0] == "开源"


SOURCE = item(
    "src",
    "Resolve AI完成1.25亿美元A轮融资",
    "AI运维公司Resolve AI完成1.25亿美元A轮融资，估值达到10亿美元。本轮融资由光速创投领投。"
    "公司于2026年2月4日宣布。",
    source="样例日报",
)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Resolve AI完成1.25亿美元A轮融资，估值达到10亿美元。", "supported"),
        ("据样例日报报道，本轮融资由光速创投领投。", "supported"),
        ("Resolve AI完成2.5亿美元A轮融资，估值达到10亿美元。", "contradicted"),
        ("Resolve AI完成1.25亿美元A轮融资，公司于2026年2月9日宣布。", "contradicted"),
        ("本轮融资未由光速创投领投。", "contradicted"),
        ("据新华社报道，本轮融资由光速创投领投。", "contradicted"),
        ("Resolve AI计划在东京设立亚太总部。", "unsupported"),
        ("Resolve AI与OpenAI达成合作。", "unsupported"),
    ],
)
def test_fact_checker_verdicts(text: str, label: str) -> None:
    verdict = OfflineFactChecker().check(
        Claim(id="c", theme_id="t", text=text, cites=["src"]), {"src": SOURCE}
    )
    assert verdict.label == label, verdict.reasons
    if label != "supported":
        assert verdict.reasons


def test_version_mismatch_is_a_contradiction() -> None:
    source = item("s", "Anthropic发布Claude Opus 4.6", "Claude Opus 4.6支持百万级token上下文窗口。")
    verdict = OfflineFactChecker().check(
        Claim(id="c", theme_id="t", text="Claude Opus 4.5支持百万级token上下文窗口。", cites=["s"]),
        {"s": source},
    )
    assert verdict.label == "contradicted"
    assert any("Claude Opus 4.6" in reason for reason in verdict.reasons)


def test_sources_that_disagree_name_who_supports_whom() -> None:
    one = item("one", "SpaceX入股xAI", "SpaceX在2025年7月以20亿美元入股xAI。", source="甲报")
    two = item("two", "SpaceX入股xAI", "SpaceX在2025年7月曾以15亿美元入股xAI。", source="乙报")
    verdict = OfflineFactChecker().check(
        Claim(
            id="c", theme_id="t", text="SpaceX在2025年7月以20亿美元入股xAI。", cites=["one", "two"]
        ),
        {"one": one, "two": two},
    )
    assert verdict.label == "contradicted"
    assert verdict.support == ["one"] and verdict.against == ["two"]


def test_unknown_citation_is_unsupported() -> None:
    verdict = OfflineFactChecker().check(Claim(id="c", theme_id="t", text="x", cites=["nope"]), {})
    assert verdict.label == "unsupported"
    assert "cites unknown source nope" in verdict.reasons


def test_blockwise_semantic_pass_finds_the_same_stories(engine: Engine, samples: Any) -> None:
    from newsroom.tools.formats import read_folder
    from newsroom.weeks import parse_week

    window = parse_week("2026-W06")
    items = [i for i in read_folder(samples, window.tz).items if window.contains(i.published)]
    vectors = item_vectors(items, engine.embedder)
    whole = Deduplicator(block=10_000).groups(items, vectors)
    for block in (1, 7, 64):
        assert sorted(map(sorted, Deduplicator(block=block).groups(items, vectors))) == sorted(
            map(sorted, whole)
        )
    assert any(len(group) == 3 for group in whole)


def test_revision_never_repeats_an_item_the_edition_cites(engine: Engine) -> None:
    """A failed bullet is replaced by another story's sentence, never by a second bullet on an
    item another bullet already cites (W10: the same Oracle item was written twice)."""
    from newsroom.agents.writer import OfflineWriter
    from newsroom.models import Draft, Section, Story, Theme, Verdict

    items = {
        "a": item("a", "甲骨文裁员", "甲骨文计划裁员数千人。甲骨文的数据中心开支巨大。"),
        "b": item("b", "某公司发布模型", "某公司发布了新模型。"),
    }
    stories = {
        f"s-{k}": Story(
            id=f"s-{k}", title=v.title, item_ids=[k], outlets=["S"], lang="zh", published=WHEN
        )
        for k, v in items.items()
    }
    theme = Theme(id="t", name="x", keywords=[], headline="x", story_ids=list(stories), weight=3.0)
    claims = [
        Claim(id="t-c1", theme_id="t", text="甲骨文计划裁员数千人。", cites=["a"]),
        Claim(
            id="t-c2", theme_id="t", text="**某公司发布模型**：某公司发布了新模型。", cites=["b"]
        ),
    ]
    draft = Draft(
        title="t",
        lead="",
        sections=[Section(theme_id="t", heading="h", lead="", claim_ids=["t-c1", "t-c2"])],
        claims=claims,
        outlook=[],
        closing="",
    )
    verdicts = {
        "t-c1": Verdict(claim_id="t-c1", label="supported", support=["a"]),
        "t-c2": Verdict(claim_id="t-c2", label="unsupported"),
    }
    writer = engine.writer
    assert isinstance(writer, OfflineWriter)
    revised = asyncio.run(writer.revise(draft, verdicts, [theme], stories, items))
    replaced = next(c for c in revised.claims if c.id == "t-c2")
    # The theme's only other sentences are the Oracle item's, which has its bullet already:
    # the claim leaves the loop as it is rather than become a second Oracle bullet.
    assert replaced.cites == ["b"]
    assert replaced.final

    # The failed claim's own story may still give another of its sentences.
    items["b"] = item("b", "某公司发布模型", "某公司发布了新模型。新模型的参数量达到一千亿个。")
    revised = asyncio.run(writer.revise(draft, verdicts, [theme], stories, items))
    replaced = next(c for c in revised.claims if c.id == "t-c2")
    assert replaced.cites == ["b"] and not replaced.final
    assert "一千亿" in replaced.text
