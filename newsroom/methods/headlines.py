"""Headlines and news sentences drawn from an item: who did what, in the edition's language.

A Chinese edition shows Chinese headlines. Where an item's title is English and its summary
Chinese, the headline is the summary's first clause that names something the title names (a
company, a product), with the reporting filler (本文介绍了, 据报道, 近日) cut. The news sentence
is the summary sentence that states what happened, not a tail that needs its antecedent."""

from __future__ import annotations

import html
import re

from newsroom.methods.desk import name_words
from newsroom.methods.facts import GENERIC_WORDS, is_known
from newsroom.methods.text import entities, is_cjk, quantities, sentences
from newsroom.models import SourceItem

_CLAUSE = re.compile(r"[，,；;。：:！!？?]")
_FILLER = re.compile(
    r"^(?:据[^，,]{0,30}?(?:报道|消息|透露)[，,]?|近日[，,]?|近期[，,]?|最近[，,]?|日前[，,]?|"
    r"本文(?:介绍|报道|讨论|探讨|总结|指出)了?|本期[^，,]{0,12}?(?:报道|聚焦|讨论)了?|"
    r"该文章?(?:介绍|报道|指出)了?|文章(?:介绍|指出|探讨)了?|这篇(?:新闻)?文章[^，,]{0,10}?了|"
    r"重点介绍了|其中[，,]?|与此同时[，,]?|同时[，,]?|此外[，,]?|另外[，,]?|"
    r"(?:美国)?《?[^》，,]{2,16}》?报道(?:称|指出)?[，,]?|"
    r"(?:报道|介绍|讨论|探讨|总结|分享|回顾)了|了(?=[A-Za-z\u4e00-\u9fff]))"
)
# A clause that only sets the scene (在…上, 随着…) or goes on from the one before (以…, 并…,
# 旨在…, 包括…) names no event by itself.
_SCENE = re.compile(
    r"^(?:在|于|通过|根据|据|随着|为了|作为|如果|由于|面对|针对|以|并|如|因|包括|旨在|用于|资金将|此次|其中|"
    r"从而|进而|使|让|将|帮助|支持|可|能|拒绝|要求|称|表示|指出|认为)"
)
# A sentence that leans on the one before it: not a bullet by itself.
TAIL = re.compile(
    r"^(?:此举|此外|该(?:公司|模型|产品|项目|平台|工具|功能|系统|技术|计划|研究|报告|文章|团队|事件)|"
    r"这|整体而言|总体来看|总的来说|同时|另外|不过|但|然而|而且|并且|"
    r"与此同时|其中|对此|为此|因此|随后|他|她|他们|它|其|且|而|以及)"
)
# A clause that ends where what is said begins (微软发布技术报告指出): no headline by itself.
_SAYS_NEXT = re.compile(r"(?:指出|表示|认为|称|写道|强调|发现|显示|透露|警告)$")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.\-+]*[A-Za-z0-9]|[A-Za-z]{2,}")


def title_names(item: SourceItem) -> set[str]:
    """Lower-cased Latin names of two or more characters in the item's title (`AI` aside:
    every title on the desk has it)."""
    return {n.lower() for n in _NAME.findall(item.title) if len(n) >= 2} - {"ai"}


def _names_shared(text: str, names: set[str]) -> bool:
    return any(n.lower() in names for n in _NAME.findall(text) if len(n) >= 2)


def _clean(clause: str) -> str:
    previous = None
    while previous != clause:
        previous = clause
        clause = _FILLER.sub("", clause.strip()).strip()
    return clause.strip(" “”\"'")


def headline(item: SourceItem, language: str = "zh", limit: int = 48) -> str:
    """The item's headline in `language`: its own title when that is in the language,
    otherwise the first whole summary clause that opens with (or soon names) what the title
    names, so that it says who did what; else the title itself. Never a clause cut short."""
    title = html.unescape(item.title).strip()
    if language != "zh" or is_cjk(title) or not is_cjk(item.summary):
        return title
    names = title_names(item)
    clauses = [_clean(c) for s in sentences(item.summary)[:3] for c in _CLAUSE.split(s)]
    clauses = [
        c
        for c in clauses
        if 8 <= len(c) <= limit
        and not TAIL.match(c)
        and not _SCENE.match(c)
        and not _SAYS_NEXT.search(c)
    ]
    # Who did what: the title's name near the clause's start (its subject) first.
    for window in (12, limit):
        for clause in clauses:
            if _names_shared(clause[:window], names) and _balanced(clause):
                return clause
    # No clause names what the title names: the summary's first clause, after the title's
    # proper name (Nano Banana 2：谷歌DeepMind发布了最新图像生成和编辑模型).
    phrase = name_phrase(title)
    lead = [
        c
        for c in clauses[:2]
        if _balanced(c) and len(c) + len(phrase) < limit and not c.startswith("该")
    ]
    if phrase and lead:
        # A phrase that names nothing the reader could look up (It, 2026, ROI) is left off.
        return f"{phrase}：{lead[0]}" if _worth_naming(phrase, item.summary) else lead[0]
    # Nothing named at all: a whole clause on the title's subject, AI, rather than English.
    for clause in clauses:
        if _names_shared(clause, {"ai"}) and _balanced(clause) and not clause.startswith("该"):
            return clause
    return title


# Words that open a question, never a name however an alias table spells them (Who: WHO).
_QUESTION = frozenset("who what how why when where which whose".split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+]*")


# Words a title opens with that name nothing (It, Why, Choose, Best, Our).
_OPENERS = frozenset(
    """it why how what when where who which choose best our your my this these those that the
    other more start starting save get join meet inside here there can should will""".split()
)


def _worth_naming(phrase: str, summary: str) -> bool:
    """Whether a title's phrase may head a Chinese headline: not a bare number or year, not
    words a title opens with (It, Choose), not an acronym the alias table does not know and
    the summary never writes (ROI)."""
    words = [w.group() for w in _WORD.finditer(phrase)]
    written = re.search(rf"(?i)(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", summary)
    if is_known(phrase) or written:
        return True  # the summary writes it as a word of its own (Go, not inside AlphaGo)
    named = [
        w
        for w in words
        if not w.isdigit() and w.lower() not in _OPENERS and w.lower() not in GENERIC_WORDS
    ]
    if not named:
        return False
    return not (len(words) == 1 and words[0].isupper() and len(words[0]) <= 4)


def name_phrase(title: str) -> str:
    """The title's first run of capitalised words that holds a name (`Nano Banana 2`,
    `Goldman Sachs`), or "" when it names nothing."""
    names = name_words(title) - {"ai"}
    names |= {
        w.group().lower()
        for w in _WORD.finditer(title)
        if is_known(w.group()) and w.group().lower() not in _QUESTION
    }
    words = list(_WORD.finditer(title))
    k = 0
    while k < len(words):
        first = words[k].group()[0]
        if not (first.isupper() or first.isdigit()):
            k += 1
            continue
        run = [words[k]]
        while (
            k + len(run) < len(words)
            and title[run[-1].end() : words[k + len(run)].start()] == " "
            and (
                words[k + len(run)].group()[0].isupper() or words[k + len(run)].group()[0].isdigit()
            )
        ):
            run.append(words[k + len(run)])
        named = [i for i, w in enumerate(run) if w.group().lower().replace("-", "") in names]
        if named:
            # A product's words before its version (Nano Banana 2); else up to the last name
            # (Goldman Sachs), not the Title Case words after it (Nvidia Will Spend).
            versions = [i for i, w in enumerate(run) if w.group()[0].isdigit()]
            last = versions[-1] if versions else named[-1]
            return title[run[0].start() : run[last].end()].rstrip(".'")
        k += len(run)
    return ""


def _balanced(text: str) -> bool:
    """No bracket or quotation mark left open (a clause split inside one is not a headline)."""
    pairs = (("（", "）"), ("(", ")"), ("“", "”"), ("《", "》"), ("「", "」"))
    return all(text.count(a) == text.count(b) for a, b in pairs)


def news_sentence(item: SourceItem, language: str = "zh") -> str:
    """The summary sentence that states the news: early, self-standing, with names and figures,
    in the edition's language when the item has one."""
    parts = sentences(item.summary) or sentences(item.body) or [item.title]
    native = [p for p in parts if is_cjk(p) == (language == "zh")] or parts

    def score(index: int, text: str) -> float:
        value = -0.6 * index
        value += 0.4 * min(3, len(entities(text))) + 0.5 * min(2, len(quantities(text)))
        if TAIL.match(text) or _FILLER.match(text):
            value -= 2.0
        if len(text) < 15:
            value -= 1.0
        if len(text) > 160:
            value -= 0.5
        return value

    best = max(enumerate(native), key=lambda pair: score(pair[0], pair[1]))[1]
    return best.strip()
