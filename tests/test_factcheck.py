"""The fact-checker: figures and names in two languages, each kind of error pinned with a
real-week claim, the LLM engine's use of the model, the judgement lines of the weekly, and
`newsroom eval factcheck`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from newsroom import testing
from newsroom.agents.fact_checker import OfflineFactChecker
from newsroom.cli import app
from newsroom.evaluation import claim_items, read_jsonl
from newsroom.methods import facts
from newsroom.methods.embeddings import Embedder
from newsroom.models import Claim, SourceItem, Verdict
from newsroom.runner import RunOptions, run_week
from newsroom.testing import ScriptedChatModel
from newsroom.tools.formats import read_folder

REPO = Path(__file__).parents[1]
SHARED = Path(__file__).parents[1].parent / "shared" / "realweeks"
CLAIMS = REPO / "evals" / "realweeks"
TUNING = [f"2026-W{n:02d}" for n in range(7, 12)]


def shared_weeks() -> Path:
    """The real weeks' items live beside the repository, not in it: without them these tests
    skip, except in CI, where they must be there."""
    if not SHARED.is_dir():
        message = f"{SHARED} is absent: the real weeks' items are kept outside the repository"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED


# ---------------------------------------------------------------- figures, dates, names
@pytest.mark.parametrize(
    "text",
    [
        "估值3800亿美元",
        "valued at $380 billion",
        "a $380B valuation",
        "三千八百亿美元",
        "3.8千亿美元",
    ],
)
def test_one_figure_in_every_form(text: str) -> None:
    assert any(a.value == pytest.approx(3.8e11) and a.kind == "usd" for a in facts.amounts(text))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("增长25%", 25),
        ("增长百分之二十五", 25),
        ("a quarter of them", 25),
        ("约两成用户", 20),
        ("三分之一的企业", 100 / 3),
        ("千分之一", 0.1),
        ("近一半员工", 50),
    ],
)
def test_shares_in_every_form(text: str, value: float) -> None:
    assert any(
        a.kind == "percent" and a.value == pytest.approx(value) for a in facts.amounts(text)
    ), facts.amounts(text)


def test_versions_years_and_words_are_not_figures() -> None:
    assert facts.amounts("GPT-5.4与Gemini 3.1 Pro于2026年3月发布，五角大楼与三星也在列") == ()
    assert facts.amounts("in 2025, a model") == ()


def test_a_complement_reading_is_support_not_contradiction() -> None:
    source = SourceItem(
        id="s",
        title="Survey of AI pilots",
        url="",
        source="wire",
        published="2026-03-02T00:00:00+00:00",
        summary="一项调查显示，95%的企业AI试点没有产生可衡量的影响。",
    )
    checker = OfflineFactChecker()
    true = Claim(id="t", theme_id="t", text="只有5%的企业AI试点产生了可衡量的影响。", cites=["s"])
    false = Claim(id="f", theme_id="t", text="只有15%的企业AI试点产生了可衡量的影响。", cites=["s"])
    assert checker.check(true, {"s": source}).label == "supported"
    assert checker.check(false, {"s": source}).label == "contradicted"


def test_dates_in_both_languages() -> None:
    found = {
        (d.year, d.month, d.day) for d in facts.when("自2025年5月起；since May 2024; early 2023")
    }
    assert found == {(2025, 5, None), (2024, 5, None), (2023, None, None)}


def test_names_across_languages() -> None:
    source = "英伟达拟向OpenAI投资约300亿美元，软银也将参与"
    by_text = {n.text: n for n in facts.names("Nvidia and SoftBank back OpenAI; Mastercard")}
    assert facts.mentioned(by_text["Nvidia"], source)
    assert facts.mentioned(by_text["SoftBank"], source)
    assert facts.mentioned(by_text["Mastercard"], source) is False
    # An unknown English name against a Chinese text cannot be told (it may be transliterated).
    person = next(
        n for n in facts.names("Patrick Darling sang again") if n.text == "Patrick Darling"
    )
    assert facts.mentioned(person, "音乐家达林重新获得了歌声") is None


# ---------------------------------------------------------------- real weeks, kind by kind
# One claim of the tuning weeks for each kind (ids in evals/realweeks; the items they cite
# are read from ../shared/realweeks).
KINDS = {
    "number": "w07-c002",
    "scale": "w07-c003",
    "date": "w07-c010",
    "entity": "w07-c024",
    "attribution": "w07-c008",
    "negation": "w07-c017",
    "modality": "w07-c012",
    "direction": "w07-c019",
    "scope": "w07-c022",
    "invented": "w07-c001",
}
SUPPORTED = ["w07-c014", "w07-c018", "w07-c020", "w08-c007", "w11-c019"]


# The second tuning set (evals/claims-tune2), written blind after the first was tuned on: one
# claim per rule it taught the checker.
TUNE2 = REPO / "evals" / "claims-tune2"
TUNE2_CAUGHT = {
    "w07-t021": "announces",  # who launched the benchmark
    "w11-t003": "finds",  # whose study found it
    "w09-t016": "still",  # no longer against still
    "w10-t005": "able",  # readily against hard to
    "w10-t020": "consent",  # with consent against without it
    "w08-t039": "only one",  # only one field against several
    # Taught after the fourth set was written (tuned on the pool of sets two to four):
    "w07-t020": "solve",  # 已经一并解决 against 仍未解决
    "w08-t027": "preview or a trial",  # has rolled out against 已开始测试
    "w09-t018": "promise",  # written guarantees against 拒绝提供明确书面保证
    "w09-t019": "rise",  # slipped down the leaderboards against 再次登顶
    "w08-t006": "ready",  # 已经做好了准备 against 尚未完全准备好, anywhere in the item
}
TUNE2_SUPPORTED = ["w10-t006", "w11-t013", "w10-t009"]  # the outlet names itself as reporter


# The third tuning set (evals/claims-tune3), written blind after the second was tuned on.
TUNE3 = REPO / "evals" / "claims-tune3"
TUNE3_CAUGHT = {
    "w10-u021": "worldwide",  # worldwide where the item names three countries
    "w11-u021": "ahead",  # ahead of demand against 跟不上需求
    "w08-u017": "adopt",  # brings in ads against 放弃投放广告
    "w09-u033": "rise",  # 削弱 against 提升
    "w11-u017": "sues",  # 国防部把Anthropic告上了法庭 against Anthropic起诉国防部
    "w10-u033": "keep",  # keep it in the kitchen against 最终决定将设备从厨房移除
    "w07-u037": "rise",  # scaled back against 上调, not the title's cut costs and boost returns
    "w07-u038": "affect",  # ads affect the answers against 不受广告影响, anywhere in the item
    "w11-u015": "H1",  # 预计于2026年上半年推出 against 预计2026年下半年发布
    "w08-u037": "join",  # 将加盟Anthropic against 将加入OpenAI，OpenClaw也将转型: the comma ends it
}
# The fourth tuning set (evals/claims-tune4), written blind after the third was tuned on.
TUNE4 = REPO / "evals" / "claims-tune4"
TUNE4_CAUGHT = {
    "w07-v020": "megawatts",  # 10 megawatts against 10吉瓦
    "w10-v032": "planned (pilot)",  # have begun piloting against 计划于秋季开展试点
    "w11-v023": "opposite ways",  # six points lower against 比前一版本提高了6分
    "w09-v032": "promise",  # 已提供书面保证 against 拒绝提供明确书面保证
    "w07-v028": "allow",  # 已批准 against 尚未批准, in a clause worded like the claim's
    "w11-v030": "only one",  # only the hosts' teams against all 48 teams
    "w10-v026": "诺基亚",  # 在MWC 2026上 is no subject: 爱立信 against 诺基亚
    "w09-v028": "planned",  # has signed against 正与五角大楼合作制定 (drafting)
}
TUNE4_SUPPORTED = [
    "w07-v009",  # free on Hugging Face: no giver turned around
    "w10-v016",  # Krieger shared the milestone
    "w07-v037",  # 从谷歌挖来: Google is where they came from, not who hired
    "w09-v038",  # $30 billion each: apiece, not "all"
    "w10-v022",  # said it would challenge it in court: the plan is what was announced
]
# The fifth tuning set (evals/claims-tune5), written blind after the fourth was tuned on.
TUNE5 = REPO / "evals" / "claims-tune5"
TUNE5_CAUGHT = {
    "w07-x015": "rise",  # 同比缩水12% against 增长12%
    "w07-x034": "appear",  # have already materialised against 尚未出现
    "w07-x040": "label",  # 不会被明确标注 against 将明确标识
    "w09-x028": "allow",  # has not yet won FDA approval against the first to be approved
    "w10-x007": "binding",  # legally binding against 不具约束力
    "w11-x001": "ahead",  # 领先 against 落后于
    "w08-x028": "sues",  # SerpApi took Google to court against Google sued SerpApi
    "w09-x006": "agree",  # turning down the terms against 已同意新条款
    "w10-x039": "中国",  # 已向全球用户开放 against 仅限中国用户使用, a passage ranked low
    "w08-x010": "ahead",  # 逊于前代 against 得分77.1%，远超前代: the clause after the figure
    "w11-x039": "rise",  # 延长了一倍 against 减少50%: a figure the items do not give
}
TUNE5_SUPPORTED = [
    "w07-x031",  # costs only a tenth to a twentieth: "only" of a size, not a scope
    "w08-x023",  # every half hour is no share of one half
    "w10-x015",  # 25 cents per million tokens is $0.25
    "w07-x010",  # 目前年化收入达到140亿美元 is no plan, after 计划将资金用于研发
    "w09-x008",  # 核武器模拟 plans nothing (拟 inside 模拟)
]
# The sixth tuning set (evals/claims-tune6), written blind after the fifth was tuned on.
TUNE6 = REPO / "evals" / "claims-tune6"
TUNE6_CAUGHT = {
    "w10-y003": "rise",  # has gone up against 有所下降
    "w10-y017": "ahead",  # 不及此前的2.5 Flash (a version, no figure) against 超过
    "w11-y010": "rise",  # 低了6分 against 提高了6分
    "w11-y011": "ahead",  # 落后于竞争对手 against 表现超过竞争对手, a clause ranked low
    "w10-y023": "中国",  # around the world against 仅限中国用户使用, not 限制了全球推广
    "w07-y013": "solve",  # has solved its security problems against 安全问题仍未解决, anywhere
    "w08-y011": "join",  # is joining Anthropic against 将加入OpenAI
    "w07-y019": "ahead",  # 准确率超过更大的模型 against 低于; 超过每秒1000个 is a floor
}
TUNE6_SUPPORTED = [
    "w07-y025",  # In 2025 Greg Brockman: the year is no part of the name
    "w08-y030",  # one in four against 四分之一
    "w11-y040",  # half of the twelve co-founders against 12位联合创始人中已有6人
    "w08-y012",  # has scored 77.1%: a passage giving the figure plans nothing
    "w11-y018",  # has started piloting against 开启试点项目: the pilot is begun, not planned
]
# The seventh tuning set (evals/claims-tune7), written blind after the sixth was tuned on.
TUNE7 = REPO / "evals" / "claims-tune7"
TUNE7_SUPPORTED = [
    "w09-z001",  # 1600多万次 is sixteen million, not 1600
    "w09-z028",  # half a million wafers is 500,000, not a share of one half
    "w10-z023",  # 相差无几 (close to) negates nothing
    "w11-z004",  # needs neither a connection nor a subscription against 无需联网或订阅
    "w08-z036",  # every half hour is how often, not how many
    "w11-z029",  # according to the Wall Street Journal. against 据《华尔街日报》报道
    "w08-z002",  # 速度能提高一倍 against 快两倍: both twice as fast
    "w09-z013",  # IBM, Anthropic's Claude Code and COBOL in one part: no pairs traded
    "w10-z033",  # 亚马逊出资500亿美元，英伟达和软银各投300亿美元: the pairs the items have
]
# The eighth tuning set (evals/claims-tune8), written blind after the seventh was tuned on.
TUNE8 = REPO / "evals" / "claims-tune8"
TUNE8_CAUGHT = {
    "w09-y029": "trial",  # 已把…投入日常合规工作 against 正在测试
    "w10-y016": "trial",  # now open to the public against an AI-executed payment pilot
    "w10-y023": "planned",  # has signed its $40 billion loan against SoftBank seeks it
    "w08-y029": "speed",  # 训练的速度更慢 against 训练速度快两倍
    "w09-y019": "of some",  # anywhere in the world against outside the US
    "w08-y004": "rise",  # lift employment by 0.7% against 就业则小幅减少0.7%
    "w09-y009": "ahead",  # less inclined than US models against 比美国模型更倾向于
    "w10-y035": "ahead",  # 已经超过了OpenAI against approaching (接近) OpenAI's $20B
}
# The tenth tuning set (evals/claims-tune10), written blind while the ninth was tuned on.
TUNE10 = REPO / "evals" / "claims-tune10"
# The eleventh tuning set (evals/claims-tune11), written blind while the tenth was tuned on.
TUNE11 = REPO / "evals" / "claims-tune11"
# The twelfth tuning set (evals/claims-tune12), written blind and measured before any rule.
TUNE12 = REPO / "evals" / "claims-tune12"
TUNE12_CAUGHT = {
    "w09-p010": "weighed or rumoured",  # 据传正在考虑扩建 against 宣布将扩大其伦敦办公室
    "w07-p002": "weighed or rumoured",  # 正在评估是否由红帽搭建 against 选择红帽公司搭建
    "w08-p030": "weighed or rumoured",  # 有望成为首家 against 去年成为首个
    "w07-p010": "planned what",  # 正计划加入Send to Alexa against 推出了Send to Alexa
    "w08-p013": "already so",  # has already deployed climbing robots against 未来计划采用
    "w09-p035": "has 其高级副总裁",  # Anthropic has stressed, where IBM's vice president did
    "w10-p040": "has 多位学者",  # Grammarly employees have criticised, where scholars did
    "w11-p028": "国防部长",  # President Zelensky announced, where the defence minister did
    "w11-p002": "continue",  # has kept the feature running against 该功能已被下线
    "w07-p022": "rise",  # 传统媒体模式反而会得到巩固 against 削弱了传统…模式
    "w10-p012": "only one",  # 目前只有Snapshot Serengeti在用 against four users named
    "w08-p008": "only one",  # confined its AI rollout to customer service against 多个领域
    "w09-p005": "“上传”",  # 数据会同步上传至云端 against 数据不上传云端
    "w10-p009": "rise around 50%",  # false positives rose 50%, even as alerts fell 84%
    "w09-p026": "already so",  # have already made it 100% automated against 希望通过…实现
    "w07-p024": "“威胁”",  # 人工智能正在威胁公司的核心业务 against 是成分而非威胁
    "w10-p023": "“借口”",  # 在一定程度上只是个借口 against 而非简单的裁员借口
}
# A direction said beside a figure, not of it: compared with the passages, not at the figure.
FIGURE_ASIDE = {
    "w11-y025": (TUNE8, "rise"),  # about 17% …, with the share lower in entertainment
    "w10-x019": (REPO / "evals" / "claims-tune5", "ahead"),  # $19 billion ARR, pulled ahead
}
TUNE12_INVENTED = {
    "w11-p024": "autumn is not in",  # under a contract signed last autumn: no season in the item
}
# The ninth tuning set (evals/claims-tune9), written blind after the eighth was tuned on.
TUNE9 = REPO / "evals" / "claims-tune9"
TUNE9_CAUGHT = {
    "w07-q002": "claim pairs",  # Microsoft's WebMCP, Google's NLWeb: the items have it reversed
    "w07-q028": "claim pairs",  # Alibaba's Youtu-Agent, Tencent on Qwen: the roles swapped
    "w08-q023": "claim pairs",  # SoftBank's $30 billion, where the items make it Nvidia's
    "w09-q037": "buy",  # will no longer buy GPUs against 将向Nvidia和AMD购买大量GPU
    "w10-q021": "binding",  # 具有法律约束力 against 非约束性承诺
}
TUNE9_SUPPORTED = [
    "w08-q031",  # 计划把Claude用于交易核算 beside 此前已在软件开发中用Claude: two uses
    "w11-q034",  # Import AI第448期: an issue's number is no figure against 14 metrics
]
TUNE8_SUPPORTED = [
    "w07-y012",  # 多赚一成二 is 12% more
    "w07-y017",  # 六百多亿张 is 60 billion and more, not 600
    "w09-y032",  # 一千六百多万次 is sixteen million and more
    "w07-y024",  # 音乐人帕特里克·达林在…: the name, not the characters beside it
    "w08-y026",  # 七成以上（72%）: a floor 72% keeps
    "w09-y028",  # 逾六成（61%）
]
TUNE3_SUPPORTED = [
    "w07-u014",  # one-tenth to one-twentieth against 十分之一至二十分之一
    "w10-u008",  # Krieger posted on X that Claude…: the speaker is no subject of the news
    "w10-u039",  # 尚未向公众推出 against 尚未面向公众推出: negated in both
]
TUNE2_SUPPORTED_NEGATION = [
    "w08-t005",  # 尚未承诺 in both: the clause compared is the one worded like the claim's
    "w10-t010",  # 不具约束力的承诺 against 非约束性承诺: neither negates the promise
]


def real_claim(
    claim_id: str, folder: Path = CLAIMS
) -> tuple[dict[str, Any], dict[str, SourceItem]]:
    week = f"2026-W{claim_id[1:3]}"
    rows = read_jsonl(folder / week / "claims.jsonl", ["id", "claim", "cites", "label"])
    row = next(r for r in rows if r["id"] == claim_id)
    items = {i.id: i for i in claim_items(shared_weeks() / week / "items.json")}
    return row, items


def verdict_on(claim_id: str, checker: OfflineFactChecker, folder: Path = CLAIMS) -> Verdict:
    """The offline checker's verdict on one labelled real-week claim."""
    row, items = real_claim(claim_id, folder)
    claim = Claim(id=claim_id, theme_id="t", text=row["claim"], cites=row["cites"])
    return anyio.run(checker.check_all, [claim], items)[claim_id]


@pytest.fixture(scope="module")
def checker(embedder: Embedder) -> OfflineFactChecker:
    return OfflineFactChecker(embedder)


@pytest.mark.parametrize(("kind", "claim_id"), sorted(KINDS.items()))
def test_each_kind_of_error_is_caught(
    kind: str, claim_id: str, checker: OfflineFactChecker
) -> None:
    row, items = real_claim(claim_id)
    assert row["kind"] == kind
    claim = Claim(id=claim_id, theme_id="t", text=row["claim"], cites=row["cites"])
    verdict = anyio.run(checker.check_all, [claim], items)[claim_id]
    expected = {"contradicted"} if kind != "invented" else {"unsupported", "contradicted"}
    assert verdict.label in expected, verdict.reasons
    assert verdict.reasons and verdict.evidence
    assert all(e.item_id in row["cites"] for e in verdict.evidence)


@pytest.mark.parametrize("claim_id", SUPPORTED)
def test_paraphrases_of_the_source_pass(claim_id: str, checker: OfflineFactChecker) -> None:
    """Translated, reordered, with figures in another form or as a complement."""
    verdict = verdict_on(claim_id, checker)
    assert verdict.label == "supported", verdict.reasons
    assert verdict.evidence


@pytest.mark.parametrize(
    ("folder", "claim_id", "said"),
    [
        *((TUNE2, i, said) for i, said in sorted(TUNE2_CAUGHT.items())),
        *((TUNE3, i, said) for i, said in sorted(TUNE3_CAUGHT.items())),
        *((TUNE4, i, said) for i, said in sorted(TUNE4_CAUGHT.items())),
        *((TUNE5, i, said) for i, said in sorted(TUNE5_CAUGHT.items())),
        *((TUNE6, i, said) for i, said in sorted(TUNE6_CAUGHT.items())),
        *((TUNE8, i, said) for i, said in sorted(TUNE8_CAUGHT.items())),
        *((TUNE9, i, said) for i, said in sorted(TUNE9_CAUGHT.items())),
        *((TUNE12, i, said) for i, said in sorted(TUNE12_CAUGHT.items())),
        (TUNE4, "w08-v028", "ahead"),  # even larger than advertised against 远没有宣传的那么大
        (TUNE7, "w10-z034", "rise"),  # has been climbing against 就业率有所下降
        (TUNE9, "w10-q011", "still"),  # 将不再向美军提供 against 继续向军方提供
        (TUNE8, "w09-y011", "continue"),  # will keep evaluating against we no longer evaluate
        (TUNE7, "w09-z005", "continue"),  # will keep Vy up and running against 将关闭Vy
        (TUNE8, "w08-y023", "planned"),  # already on sale against OpenAI is building a speaker
        (TUNE7, "w10-z027", "面向公众推出"),  # 已面向公众推出 against 目前尚未面向公众推出
        (TUNE4, "w07-v017", "contributes"),  # Calendar Gym contributed by Meta, not Turing
        (TUNE10, "w11-r037", "finds"),  # 谷歌自己的研究显示 against SE Ranking's study
        (TUNE7, "w08-z022", "from 79.3% to 15.3%"),  # 从79.3%降到了15.3% against 15.3％から79.3％に
        (TUNE7, "w07-z001", "ahead"),  # smaller average returns than against 显著高于…67%
        (TUNE7, "w09-z017", "demo"),  # has rolled out … to its cardholders against 演示了
        (TUNE9, "w08-q002", "trial"),  # has moved past testing and is now using against 开始测试
        (TUNE9, "w10-q027", "as done"),  # rolled out … following their pilot against 仍处试点
        (TUNE11, "w10-s017", "as done"),  # 已在实际商业场所试点 against 计划于2026年秋季开展试点
        (TUNE11, "w08-s039", "several"),  # 只扶持共和党候选人 against 分别针对共和党和民主党候选人
        (TUNE11, "w08-s002", "2027年2月"),  # 2026年2月发货 where 2026 is only another plan's year
        (TUNE11, "w08-s008", "ahead"),  # 用户规模远大于谷歌 against 远不及谷歌和OpenAI
        (TUNE11, "w08-s026", "rise"),  # needs less and less CPU against 需求日益增长
        (TUNE11, "w11-s038", "Karpathy"),  # Anthropic reported against Karpathy报道
        (TUNE11, "w08-s018", "Nick Bostrom"),  # 有经济学家主张 against 学者Nick Bostrom主张
        (
            TUNE11,
            "w11-s040",
            "迈克尔",
        ),  # 美国国防部长表示 against 国防部首席技术官埃米尔·迈克尔指出
        (TUNE4, "w09-v037", "Emil Michael"),  # Hegseth threatened against Emil Michael威胁
        (TUNE10, "w08-r034", "trial"),  # 已全面部署AI，自动生成广告脚本 against 已开始测试
    ],
)
def test_rules_from_the_later_tuning_sets(
    folder: Path, claim_id: str, said: str, checker: OfflineFactChecker
) -> None:
    verdict = verdict_on(claim_id, checker, folder)
    assert verdict.label == "contradicted" and any(said in r for r in verdict.reasons), (
        verdict.reasons
    )


@pytest.mark.parametrize(
    ("folder", "claim_id", "said"),
    [
        (TUNE5, "w09-x010", "limited"),  # 仅向Max档订阅用户开放: no item limits anything
        (TUNE6, "w08-y019", "limited"),  # super PACs aimed solely at Republicans
        (TUNE4, "w08-v033", "limited"),  # backing only Republican candidates
        (TUNE5, "w09-x034", "world"),  # 向全球用户推出: no item speaks of the world
    ],
)
def test_a_limit_or_a_reach_no_item_speaks_of_is_contradicted(
    folder: Path, claim_id: str, said: str, checker: OfflineFactChecker
) -> None:
    """The claim narrows or widens what the items say (all paid users made Max only, two
    countries made the world): a scope contradiction, as each of these claims is labelled."""
    verdict = verdict_on(claim_id, checker, folder)
    assert verdict.label == "contradicted" and any(said in r for r in verdict.reasons), (
        verdict.reasons
    )


@pytest.mark.parametrize("claim_id", TUNE2_SUPPORTED)
def test_the_reporting_outlet_is_no_unsupported_name(
    claim_id: str, checker: OfflineFactChecker
) -> None:
    verdict = verdict_on(claim_id, checker, TUNE2)
    assert verdict.label == "supported", verdict.reasons


@pytest.mark.parametrize(
    ("folder", "claim_id"),
    [
        *((TUNE4, i) for i in TUNE4_SUPPORTED),
        *((TUNE3, i) for i in TUNE3_SUPPORTED),
        *((TUNE5, i) for i in TUNE5_SUPPORTED),
        *((TUNE6, i) for i in TUNE6_SUPPORTED),
        *((TUNE7, i) for i in TUNE7_SUPPORTED),
        *((TUNE8, i) for i in TUNE8_SUPPORTED),
        *((TUNE9, i) for i in TUNE9_SUPPORTED),
        (TUNE9, "w07-q029"),  # Calendar Gym, contributed by Turing: no reversal read into it
        (TUNE10, "w07-r021"),
        (TUNE8, "w08-y003"),  # would value the ChatGPT maker at…: OpenAI by another name
        (TUNE8, "w09-y006"),  # …4,000 people—and its share price rose 25%: a clause of its own
        (TUNE8, "w11-y036"),  # 从100张放宽到600，是原来的六倍: a change is a ratio too
        (TUNE10, "w09-r009"),  # the US, UK, France and Germany against 美英法德200位财务领导
        (TUNE10, "w08-r021"),  # a US-India fiber initiative against 美印战略光纤互联
        (TUNE10, "w11-r026"),  # the EU AI Act against 欧盟AI法案
        (TUNE11, "w07-s029"),  # 谷歌威胁情报组报告称 against 谷歌威胁情报组（GTIG）报告指出
        (TUNE11, "w09-s012"),  # 最多缩短一成半 is up to 15%
        (TUNE11, "w11-s025"),  # 据一位美国国防部官员透露: a person who spoke, no outlet
        (TUNE11, "w09-s040"),  # 坚持不让…用于 against 坚决反对将其…用于: one negation each
        (TUNE10, "w07-r014"),  # 仅有2%的机构尚未使用AI, in a clause that goes on after a semicolon
        (TUNE2, "w11-t015"),  # a Defense Department official said: the 国防部 the item names
        (TUNE10, "w10-r010"),  # Mike Krieger在X上透露: the speaker the item names beside it
    ],
)
def test_true_paraphrases_of_the_later_sets_pass(
    folder: Path, claim_id: str, checker: OfflineFactChecker
) -> None:
    verdict = verdict_on(claim_id, checker, folder)
    assert verdict.label == "supported", verdict.reasons


def test_an_acronym_is_not_the_everyday_word() -> None:
    assert [n.text for n in facts.names("A WIRED journalist who tried it")] == ["WIRED"]
    assert [n.canon for n in facts.names("WHO warned on Monday")] == ["世界卫生组织"]


# ---------------------------------------------------------------- the LLM engine
def _sample_item(samples: Path, marker: str) -> SourceItem:
    return next(i for i in read_folder(samples, "Asia/Shanghai").items if marker in i.title)


def test_only_uncertain_claims_go_to_the_model_once_a_round_with_their_sentences(
    embedder: Embedder, samples: Path
) -> None:
    item = _sample_item(samples, "生数科技")
    first = facts.split_sentences(item.summary)[0]
    changed = re.sub(r"\d+", lambda m: str(int(m.group(0)) + 3), first, count=1)
    assert changed != first
    claims = [
        Claim(id="verbatim", theme_id="t", text=first, cites=[item.id]),
        Claim(id="changed", theme_id="t", text=changed, cites=[item.id]),
        Claim(
            id="loose",
            theme_id="t",
            text="视频模型公司生数拿到新一轮资金，投资方阵容强大。",
            cites=[item.id],
        ),
    ]
    model = ScriptedChatModel()
    engine, _ = testing.scripted_engine(embedder, fact_checker=model)
    verdicts = anyio.run(engine.fact_checker.check_all, claims, {item.id: item})
    assert len(model.calls) == 1
    prompt = "\n".join(str(m.content) for m in model.calls[0]["messages"])
    assert '"claim_id": "loose"' in prompt
    assert '"claim_id": "verbatim"' not in prompt and '"claim_id": "changed"' not in prompt
    blocks = re.findall(r'<source id="[^"]+" outlet="[^"]*">\n(.*?)\n</source>', prompt, re.S)
    shown = [line for block in blocks for line in block.splitlines()]
    evidence = {e.sentence for e in verdicts["loose"].evidence}
    assert shown and set(shown) <= evidence  # only the cited sentences, never the whole item
    assert any(s not in prompt for s in facts.split_sentences(item.text))
    assert verdicts["loose"].method == "llm"
    assert verdicts["verbatim"].method == verdicts["changed"].method == "rules"
    assert verdicts["verbatim"].label == "supported" and verdicts["changed"].label == "contradicted"
    # The next round asks again, once, for what is still uncertain.
    anyio.run(engine.fact_checker.check_all, claims, {item.id: item})
    assert len(model.calls) == 2


CITED = re.compile(r"\[\[\d+\]\]\(https?://[^)]+\)")


def test_every_line_of_the_llm_weekly_is_checked_or_labelled_opinion(
    embedder: Embedder, samples: Path, tmp_path: Path
) -> None:
    """Section leads are claims resting on bullets, outlook lines claims citing the stories of
    a storyline (the store's figures beside them), checked like them; the advice and the
    closing are published as opinion, labelled so in both outputs."""
    engine, _ = testing.scripted_engine(embedder)
    summary = anyio.run(
        run_week, RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine
    )
    assert summary.status == "ok"
    report = json.loads(Path(summary.outputs["report"]).read_text())
    verdicts = {v["claim_id"]: v["label"] for v in report["verdicts"]}
    claims = {c["id"]: c for c in report["claims"]}
    published = [c for c in report["claims"] if verdicts.get(c["id"]) == "supported"]
    kinds = {c["kind"] for c in published}
    assert {"section_lead", "outlook", "lead", "evidence"} <= kinds
    for claim in claims.values():
        if claim["kind"] == "outlook" and claim["theme_id"].startswith("outlook-"):
            assert claim["cites"] and claim["context"]  # a storyline's line and its figures
        elif claim["kind"] in ("section_lead", "outlook"):
            assert claim["rests_on"] and all(b in claims for b in claim["rests_on"])
            rested = {i for b in claim["rests_on"] for i in claims[b]["cites"]}
            assert set(claim["cites"]) == rested
    opinion = {o["text"] for o in report["opinion"]}
    assert {o["kind"] for o in report["opinion"]} == {"advice", "closing"}

    markdown = Path(summary.outputs["weekly"]).read_text()
    body = markdown.split("\n---\n", 1)[1].split("### 参考")[0]
    texts = {c["text"].rstrip("。.") for c in published}
    texts |= {(c["context"] + c["text"]).rstrip("。.") for c in published if c["context"]}
    heading = ""
    for line in (raw.strip() for raw in body.splitlines()):
        if line.startswith("#"):
            heading = line
            continue
        if not line or line.startswith((">", "---")) or line in ("证据链：", "影响判断："):
            continue
        if line.startswith("本期共发布"):
            continue  # the edition's own count of checked and dropped claims
        if "本刊观点" in heading and line.startswith("- "):
            assert line.removeprefix("- ") in opinion, line
            continue
        if line.startswith("**本刊观点：**"):
            assert line.removeprefix("**本刊观点：**") in opinion, line
            continue
        assert CITED.search(line), f"an uncited line under {heading!r}: {line!r}"
        segments = CITED.split(re.sub(r"^(?:- |\d+\. )", "", line))
        for segment in (s.strip().rstrip("。.") for s in segments if s.strip()):
            assert segment in texts, f"not a checked claim under {heading!r}: {segment!r}"


# ---------------------------------------------------------------- the eval command
def test_eval_factcheck_takes_the_real_week_shape_and_prints_kinds(tmp_path: Path) -> None:
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps(
            {
                "items": [
                    {
                        "id": "n1",
                        "title": "Newsletter item without a link",
                        "source": "newsletter",
                        "published": "unknown",
                        "summary": "Resolve AI完成1.25亿美元A轮融资，由光速创投领投。",
                    }
                ]
            },
            ensure_ascii=False,
        )
    )
    claims = tmp_path / "claims.jsonl"
    rows = [
        {
            "id": "a",
            "claim": "Resolve AI完成1.25亿美元A轮融资。",
            "cites": ["n1"],
            "label": "supported",
        },
        {
            "id": "b",
            "claim": "Resolve AI完成2.5亿美元A轮融资。",
            "cites": ["n1"],
            "label": "contradicted",
            "perturbation": "number",
        },
    ]
    claims.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    result = CliRunner().invoke(
        app, ["eval", "factcheck", "--items", str(items), "--claims", str(claims)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["by_kind"]["number"] == {
        "n": 1,
        "flagged": 1.0,
        "contradicted": 1.0,
        "unsupported": 0.0,
    }
    assert metrics["by_kind"]["supported"] == {"n": 1, "recall": 1.0}
    for figure in ("contradicted_flagged", "contradicted_labelled_contradicted", "flag_precision"):
        assert metrics[figure] == 1.0


def test_eval_factcheck_pools_the_tuning_weeks(tmp_path: Path) -> None:
    shared = shared_weeks()
    weeks = [arg for week in TUNING for arg in ("--week", week)]
    predictions = tmp_path / "predictions.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "factcheck",
            "--items",
            str(shared),
            "--claims",
            str(CLAIMS),
            *weeks,
            "--predictions",
            str(predictions),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["claims"] == 160 and set(metrics["by_set"]) == set(TUNING)
    assert len(metrics["by_kind"]) == 11
    assert metrics["contradicted_flagged"] >= 0.9 and metrics["supported_recall"] >= 0.9
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert {r["set"] for r in rows} == set(TUNING) and all(r["set"] != "2026-W12" for r in rows)


@pytest.mark.parametrize(
    ("claim_id", "folder"),
    [
        *((i, TUNE2) for i in TUNE2_SUPPORTED_NEGATION),
        ("w07-p011", TUNE12),  # 73%, nearly double the 38% average: the claim's own ratio
        ("w10-p026", TUNE12),  # GPT-5.4 was quickly wired into tools: the word, not WIRED
        ("w08-p006", TUNE12),  # 不再投放广告 against 放弃投放广告; 比不上 against 远不及
    ],
)
def test_modifiers_and_articles_are_no_conflict(
    claim_id: str, folder: Path, checker: OfflineFactChecker
) -> None:
    verdict = verdict_on(claim_id, checker, folder)
    assert verdict.label == "supported", verdict.reasons


@pytest.mark.parametrize(("claim_id", "said"), sorted(TUNE12_INVENTED.items()))
def test_a_season_no_item_gives_is_a_detail_added(
    claim_id: str, said: str, checker: OfflineFactChecker
) -> None:
    verdict = verdict_on(claim_id, checker, TUNE12)
    assert verdict.label == "unsupported"
    assert any(said in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(("claim_id", "where"), sorted(FIGURE_ASIDE.items()))
def test_a_direction_beside_a_figure_is_the_claims_own(
    claim_id: str, where: tuple[Path, str], checker: OfflineFactChecker
) -> None:
    folder, concept = where
    verdict = verdict_on(claim_id, checker, folder)
    assert verdict.label == "contradicted"
    assert any(f"differ on {concept}" in r for r in verdict.reasons), verdict.reasons


def test_seasons_are_parts_of_a_year_and_games_are_not() -> None:
    assert facts.periods("测试期将持续到今年夏天") == {"Ssummer"}
    assert facts.periods("signed last fall") == {"Sautumn"}
    assert facts.periods("夏季奥运会") == frozenset()
    assert facts.periods("prices fall 2%") == frozenset()


def test_a_speaker_is_who_says_it_in_the_passage_about_it(checker: OfflineFactChecker) -> None:
    """Nadella is quoted in the item, but the prediction the claim gives him is Suleyman's."""
    verdict = verdict_on("w07-t004", checker, TUNE2)
    assert verdict.label == "contradicted"
    assert any("the one who says" in r for r in verdict.reasons), verdict.reasons


def test_an_article_before_a_number_word_is_no_part_of_it() -> None:
    """From w10-u032: "a one-million-token context" is one million, not two."""
    assert [a.value for a in facts.amounts("a one-million-token context")] == [1e6]
    assert [a.value for a in facts.amounts("twenty-five million users")] == [25e6]


def test_a_name_or_a_noun_modifier_is_no_predicate() -> None:
    from newsroom.methods import facts

    # Resolve AI is a company, not "resolve"; 未标识的视频 describes videos, it asserts nothing.
    assert "solve" not in facts.stance("Resolve AI的本轮融资未由光速创投领投").poles
    assert "label" not in facts.stance("欧盟要求删除未标识的合成视频").poles
    assert facts.stance("这些广告不会被明确标注").poles["label"] == {-1}
    assert facts.stance("The flaw was resolved last week").poles["solve"] == {1}
