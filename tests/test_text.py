from __future__ import annotations

import pytest

from newsroom.methods.text import claim_parts, dates, entities, mentions, negations, quantities


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("合并后估值达1.25万亿美元", 1.25e12, "usd"),
        ("values it at $1.25 trillion", 1.25e12, "usd"),
        ("完成1.25亿美元A轮融资", 1.25e8, "usd"),
        ("raised $125 million", 1.25e8, "usd"),
        ("超过6亿元人民币", 6e8, "cny"),
        ("速度提升25%", 25, "percent"),
        ("runs 25% faster", 25, "percent"),
        ("效率提升4.5倍", 4.5, "times"),
        ("拟安排十三件立法项目", 13, "count"),
        ("总功率达2GW", 2, "gw"),
    ],
)
def test_quantities_normalized(text: str, value: float, kind: str) -> None:
    found = quantities(text)
    assert any(q.kind == kind and abs(q.value - value) < 1e-6 * value for q in found), found


def test_versions_and_dates_are_not_quantities() -> None:
    assert quantities("GPT-5.3-Codex与Claude Opus 4.6于2026年2月2日发布") == ()
    assert quantities("进一步统一千问的能力") == ()
    assert quantities("完成新一轮融资，推出一款产品") == ()


def test_dates_in_both_languages() -> None:
    found = dates("第一步在2025年7月，第二步于2026年2月2日；closed on February 2, 2026")
    assert [(d.year, d.month, d.day) for d in found] == [
        (2025, 7, None),
        (2026, 2, 2),
        (2026, 2, 2),
    ]


def test_entities_keep_versions_and_respect_token_boundaries() -> None:
    assert "GPT-5.3-Codex" in entities("OpenAI发布GPT-5.3-Codex")
    assert "Claude Opus 4.6" in entities("Anthropic推出Claude Opus 4.6，上下文")
    assert not mentions("OpenAI发布GPT-5.3-Codex", "GPT-5.3")
    assert mentions("OpenAI发布GPT-5.3-Codex", "GPT-5.3-Codex")
    assert mentions("led by Lightspeed Venture Partners", "光速创投")


def test_negation_ignores_words_that_only_look_negative() -> None:
    assert negations("不向未成年人展示，面向未来") == 0
    assert negations("尚未公布") == 1
    assert negations("did not disclose") == 1


def test_claim_parts_split_headline_and_sentence() -> None:
    assert claim_parts("**标题**：句子。") == ["标题", "句子。"]
    assert claim_parts("一句话。") == ["一句话。"]
