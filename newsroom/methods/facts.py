"""What a sentence asserts, in a form two languages share: amounts with their scale and unit,
dates, the names it mentions (through the alias table), and the words that carry its stance —
negation, modality, direction, scope — and the roles of its names (who did what to whom).

The fact-checker compares these between a claim and the sentences of the items it cites.
Everything here is plain code over lexicons; nothing is learned."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise

from newsroom.methods.text import MONTHS, DateMention, aliases, grams, mask_facts

_RESOURCES = resources.files("newsroom.methods") / "resources"
_CJK = re.compile(r"[\u4e00-\u9fff]")

# ---------------------------------------------------------------- clauses
_SENTENCE = re.compile(r"(?<=[。！？；!?;])\s*|(?<=[.])\s+(?=[A-Z\u4e00-\u9fff“\"(（])|\n+")
_CLAUSE_CN = re.compile(r"\s*[，；;：:]\s*|\s*(?:——|--)\s*")
_CLAUSE_EN = re.compile(
    r"\s*;\s*|,\s+(?=(?:but|while|whereas|although|though|and then|which|after which|yet|and)\s)"
    r"|,\s+(?=[a-z]+ing\s)"
    r"|\s+(?=(?:but|whereas|while)\s)"
    # (no break in "less and less", "more and more")
    r"|(?:\s+|\s*[—–]\s*)and\s+(?!(?:less|more|fewer|better|worse|bigger|smaller|higher|lower)\s)"
    r"(?=(?:is|are|was|were|has|have|had|will|would|can|could|does|did|do|not|also|"
    r"then|still|now|plans|aims|expects|says|said)\b|[a-z]+(?:s|ed)\s)",
    re.I,
)
_CN_CLAUSE_BREAK = re.compile(
    r"(?<=[\u4e00-\u9fff\w”）)])(?=(?:但是|但|然而|不过|同时|此后|随后)[\u4e00-\u9fff])"
)
_SHORT = 6  # a clause shorter than this (CJK characters, or words) is joined to its neighbour
# A clause that only says who says it (据虎嗅网报道, 报道称, according to Reuters) goes with
# the next one.
_ONLY_ATTRIBUTION = re.compile(
    r"(?:据|根据)?[^，,。；]{0,24}?(?:报道|消息|透露|披露|表示|称|指出|显示|认为|宣布)(?:称|说)?"
    r"|(?:according to|as reported by|per)\s[^,;]{1,40}|[^,;]{1,40}\s(?:said|says|reported|"
    r"reports|announced)",
    re.I,
)


def split_sentences(text: str) -> list[str]:
    parts = (part.strip(" \t-•*") for part in _SENTENCE.split(text))
    return [part for part in parts if len(part) >= 4]


def _size(text: str) -> int:
    return len(_CJK.findall(text)) + len(re.findall(r"[A-Za-z0-9]+", text))


def split_clauses(sentence: str) -> list[str]:
    """A sentence's clauses: at Chinese clause punctuation (，；：) and the conjunctions that
    start a new assertion (但, 同时); in English only at `;` and `, but`/`, while`/`, which`
    (an English comma more often sets off a phrase). A clause too short to assert anything
    (报道称, 据悉) is joined to the next, unless it says which way a thing goes (可控性越高)."""
    cjk = is_mostly_cjk(sentence)
    pieces = []
    for raw in (_CLAUSE_CN if cjk else _CLAUSE_EN).split(sentence):
        for piece in _CN_CLAUSE_BREAK.split(raw or "") if cjk else [raw or ""]:
            piece = piece.strip(" \t,，。.;；")
            if piece:
                pieces.append(piece)
    out: list[str] = []
    carry = ""
    for piece in pieces:
        joined = f"{carry}{'，' if cjk else ', '}{piece}" if carry else piece
        short = _size(joined) < (_SHORT if cjk else 3) and not stance(piece).poles
        if short or _ONLY_ATTRIBUTION.fullmatch(joined):
            carry = joined
            continue
        out.append(joined)
        carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]}{'，' if cjk else ', '}{carry}"
        else:
            out.append(carry)
    return out or [sentence.strip()]


@lru_cache(maxsize=65536)
def is_mostly_cjk(text: str) -> bool:
    """Chinese, or Chinese with Latin names in it (a quarter of its characters or more)."""
    return len(_CJK.findall(text)) * 4 >= len(re.sub(r"\s", "", text)) > 0


@lru_cache(maxsize=65536)
def _grams(text: str) -> frozenset[str]:
    return frozenset(grams(text))


@lru_cache(maxsize=65536)
def _claim_grams(text: str) -> frozenset[str]:
    return frozenset(grams(mask_facts(text)))


def coverage(claim: str, source: str) -> float:
    """Share of the claim's wording (CJK bigrams, Latin words; figures masked) in `source`
    (`newsroom.methods.text.coverage`, with the bags cached)."""
    wanted = _claim_grams(claim)
    if not wanted:
        return 0.0
    return len(wanted & _grams(source)) / len(wanted)


@cache
def _glossary() -> tuple[dict[str, int], tuple[tuple[str, int], ...]]:
    """English words and phrases, and Chinese words, each mapped to its concept number."""
    english: dict[str, int] = {}
    chinese: list[tuple[str, int]] = []
    lines = (_RESOURCES / "glossary.txt").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(x for x in lines if x.strip() and not x.startswith("#")):
        for word in (w.strip() for w in line.split("|") if w.strip()):
            if _CJK.search(word):
                chinese.append((word, number))
            else:
                english[word.lower()] = number
    return english, tuple(sorted(chinese, key=lambda p: -len(p[0])))


@lru_cache(maxsize=65536)
def concepts_of(text: str) -> frozenset[int]:
    """The glossary concepts a text names, in either language."""
    english, chinese = _glossary()
    found: set[int] = set()
    words = re.findall(r"[a-z][a-z\-]*", text.lower())
    for width in (3, 2, 1):
        for i in range(len(words) - width + 1):
            number = english.get(" ".join(words[i : i + width]))
            if number is not None:
                found.add(number)
    for word, number in chinese:
        if word in text:
            found.add(number)
    return frozenset(found)


def cross_coverage(claim: str, source: str) -> float:
    """Share of the claim's glossary concepts that the source names (across languages)."""
    wanted = concepts_of(claim)
    if len(wanted) < 2:
        return 0.0
    return len(wanted & concepts_of(source)) / len(wanted)


# ---------------------------------------------------------------- amounts
_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_SCALE_CHARS = {"十": 10.0, "百": 100.0, "千": 1e3, "万": 1e4, "亿": 1e8}
_EN_SCALE = {
    "trillion": 1e12,
    "tn": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}
_CURRENCY = {
    "us$": "usd",
    "$": "usd",
    "usd": "usd",
    "美元": "usd",
    "美金": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "a$": "aud",
    "au$": "aud",
    "澳元": "aud",
    "hk$": "hkd",
    "港元": "hkd",
    "港币": "hkd",
    "c$": "cad",
    "加元": "cad",
    "s$": "sgd",
    "新加坡元": "sgd",
    "新元": "sgd",
    "€": "eur",
    "eur": "eur",
    "euro": "eur",
    "euros": "eur",
    "欧元": "eur",
    "£": "gbp",
    "gbp": "gbp",
    "pound": "gbp",
    "pounds": "gbp",
    "英镑": "gbp",
    "¥": "cny",
    "￥": "cny",
    "rmb": "cny",
    "cny": "cny",
    "yuan": "cny",
    "元": "cny",
    "人民币": "cny",
    "元人民币": "cny",
    "日元": "jpy",
    "yen": "jpy",
    "韩元": "krw",
    "won": "krw",
    "卢比": "inr",
    "rupees": "inr",
}
_PERCENT_UNITS = {
    "%",
    "％",
    "percent",
    "per cent",
    "个百分点",
    "百分点",
    "percentage point",
    "percentage points",
    "pp",
}
_TIMES_UNITS = {"倍", "times", "x", "fold", "-fold"}
_PREFIX_CURRENCY = r"(?P<cur>US\$|A\$|AU\$|HK\$|C\$|S\$|\$|€|£|¥|￥|RMB\s?|USD\s?|EUR\s?|GBP\s?)"
_SUFFIX_UNIT = (
    r"(?P<unit>%|％|percent(?:age points?)?|per cent|个百分点|百分点|pp(?![a-z])|"
    r"元人民币|美元|美金|澳元|港元|港币|加元|新加坡元|新元|欧元|英镑|日元|韩元|卢比|人民币|元|"
    r"dollars?|euros?|pounds?|yuan|yen|rupees|倍|times|-?fold|x(?![a-z0-9]))?"
)
_ARABIC = re.compile(
    _PREFIX_CURRENCY + r"?(?<![A-Za-z0-9.\-])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(?:多|余)?(?P<cnmult>[十百千万亿]+)|\s*-?\s*(?P<enmult>trillion|billion|million|thousand|bn|tn|mn"
    r"|[kmb](?![a-z0-9])))?\s*" + _SUFFIX_UNIT,
    re.I,
)
_CN_DIGITS_ALL = "零〇一二两三四五六七八九十百千万亿"
_CN_NUMBER = rf"[{_CN_DIGITS_ALL}]*[一二两三四五六七八九十百千万亿][{_CN_DIGITS_ALL}]*"
_CN_AMOUNT = re.compile(
    rf"(?<![第星周初统唯同逐单万之])(?P<num>{_CN_NUMBER})(?:[多余](?=[万亿]))?"
    r"(?P<unit>元人民币|美元|美金|澳元|港元|欧元|英镑|日元|韩元|人民币|元|个百分点|倍|"
    r"成(?![为立功本员熟长果])"
    r"|个|位|名|家|款|项|件|次|条|张|台|套|枚|人|座|所|颗|块|辆|架|部|支|只|笔|份|轮|周|天|小时|"
    r"分钟|秒|年|"
    r"个月|岁|层|种|类|篇|首|场|国|省|城|吉瓦|兆瓦|千瓦|亿|万)?"
)
_CN_FRACTION = re.compile(
    r"(?P<den>[\d一二两三四五六七八九十百千万]+)分之(?P<num>[\d.一二两三四五六七八九十百千]+)"
)
_HALF = re.compile(
    r"(?:近|约|超过|超|逾|过)?(?:一半|半数|过半|近半|半壁)|"
    r"\b(?:half|halved)\b(?![\s-]*(?:an?\s+)?(?:hour|day|week|month|year|minute|second|million|"
    r"billion|thousand|trillion|dozen)s?\b)",
    re.I,
)
# US cents: "25 cents per million tokens" is $0.25.
_CENTS = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*(?:cents?|¢)", re.I)
_EN_FRACTION = re.compile(
    r"\b(?P<n>a|one|two|three)[\s-](?P<d>third|thirds|quarter|quarters|fifth|fifths|tenth|"
    r"tenths|twentieth|twentieths|hundredth|hundredths)\b",
    re.I,
)
# "one in four", "three out of ten": a share.
_ONE_IN = re.compile(
    r"\b(?P<n>one|two|three|four|five|\d{1,3}) (?:in|out of) (?P<d>two|three|four|five|six|"
    r"seven|eight|nine|ten|twenty|\d{1,4})\b(?! (?:years?|months?|weeks?|days?)\b)",
    re.I,
)
_EN_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
}
_EN_NUMBER = re.compile(
    r"\b(?P<cur>\$)?(?P<word>a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|dozen)(?:[\s-](?P<unit_word>one|two|three|four|five|six|"
    r"seven|eight|nine))?(?:[\s-](?P<scale>hundred|thousand|million|billion|trillion))?"
    r"(?:\s+(?P<unit>percent|dollars|euros|pounds|yuan|times|fold))?\b",
    re.I,
)
# Twice, and 提高一倍 (raised by one fold: doubled). A time drawn out by one fold (延长了一倍)
# is left a bare 一倍: read as twice it would meet "twice as fast", and a longer time cannot
# yet be set against a faster speed at one figure, while its words can (延长 against 减少50%).
_TWICE = re.compile(
    r"\b(?:twice|doubled?|doubling)\b|翻倍|翻番|翻了一番|"
    r"(?:提高|提升|增加|增长|扩大|上涨|加快|翻)了?一倍",
    re.I,
)
# Half a million is 500,000.
_HALF_SCALE = re.compile(r"\bhalf an? (?P<scale>thousand|million|billion|trillion)\b", re.I)
# 七成 is 70%, 一成二 is 12%.
_TENTHS = re.compile(
    r"(?<![完形达变构组促造赞])(?P<num>[一二两三四五六七八九])成"
    r"(?P<sub>[一二三四五六七八九](?![成十百千万亿])|半(?![导岛年天月价数场径]))?"
    r"(?![为立功本员熟长果交])"
)
_TENTHS_SUB = {**_CN_DIGIT, "半": 5}  # 一成二 is 12%, 一成半 15%
_YEARISH = re.compile(r"^(?:19|20)\d{2}$")
# Words made of numeral characters that are no figure.
_CN_NOT_NUMBER = re.compile(
    r"一些|一起|一直|一样|一般|一致|一定|一切|一旦|一同|一体|一流|一线|一系列|一方面|一步|一键|"
    r"一站式|一代|一再|一度|一下|一边|一举|一向|一时|一味|一手|一道|一带|一名为|统一|唯一|同一|"
    r"逐一|"
    r"万一|十分(?!之)|百度|千问|三星|五角大楼|万物|千万别|百货|千兆|三维|二维|十足|百般|千方百计|"
    r"一九|九月份|十月份|一月份|二月份|三月份|四月份|五月份|六月份|七月份|八月份|十一月|十二月|"
    r"[一二三四五六七八九十]+月|两党|两岸|两会|双方|一家独大|独一|第[一二两三四五六七八九十百千]+|"
    r"第\d+(?=期|号|届|集|版|季|轮|名|位|次|代|章|条|款)"  # an ordinal (第448期), no figure
)


@dataclass(frozen=True)
class Amount:
    """A figure: its value (percent as 0-100), its kind (percent, times, a currency, count)
    and its bound: `>` (超过, more than, 以上), `<` (不到, up to, 以下) or none."""

    value: float
    kind: str
    text: str
    bound: str = ""

    def same_value(self, other: Amount, tolerance: float = 0.015) -> bool:
        scale = max(abs(self.value), abs(other.value), 1e-9)
        return abs(self.value - other.value) <= scale * tolerance

    def compatible(self, other: Amount) -> bool:
        """Could both figures measure one thing? A percent only matches a percent; a bare
        count matches any unit (`380 billion` and `3800亿美元`)."""
        if (self.kind == "percent") != (other.kind == "percent"):
            return False
        return self.kind == other.kind or "count" in (self.kind, other.kind)

    def matches(self, other: Amount) -> bool:
        if not self.compatible(other):
            return False
        if self.same_value(other):
            return True
        # 七成以上 for 72%, "up to 40%" for 35%: a floor or a ceiling an exact figure keeps
        # (within a factor of two: "more than 100" is no reading of two hundred million). Two
        # floors that differ are two figures (more than 30 billion, more than 60 billion).
        if not other.bound and self.bound == ">" and self.value < other.value <= 2 * self.value:
            return True
        if not other.bound and self.bound == "<" and self.value / 2 <= other.value < self.value:
            return True
        # "about $20 billion" for 198亿美元: a claim marked approximate may round.
        return self.approximate and _rounds_to(other.value, self.value)

    @property
    def approximate(self) -> bool:
        return self.bound == "~"


_LOWER_BOUND = re.compile(
    r"(?:超过|超出|逾|超|多于|高于|不低于|不少于|至少|起码|突破|达到逾|>|＞|more than|over|above|"
    r"at least|"
    r"exceeding|in excess of|upwards of|north of|greater than)\s*(?:约|近|about|roughly)?\s*\W?$",
    re.I,
)
_UPPER_BOUND = re.compile(
    r"(?:不到|低于|少于|不足|不超过|最多|至多|多达|高达|<|＜|up to|less than|under|below|"
    r"fewer than|"
    r"at most|no more than|as many as|as much as)\s*(?:约|近|about|roughly)?\s*\W?$",
    re.I,
)


_ABOUT = re.compile(
    r"(?:约|大约|近|将近|接近|左右|about|around|roughly|nearly|almost|approximately|some)\s*\W?$",
    re.I,
)


def _bound(text: str, start: int, end: int) -> str:
    """`>` (more than), `<` (less than, up to), `~` (about) or "" for the figure at
    start:end of `text`."""
    before = text[max(0, start - 14) : start]
    after = text[end : end + 4]
    if _LOWER_BOUND.search(before) or re.match(r"\s*(?:以上|多|\+)", after):
        return ">"
    if _UPPER_BOUND.search(before) or re.match(r"\s*以下", after):
        return "<"
    if _ABOUT.search(before) or re.match(r"\s*(?:左右|上下)", after):
        return "~"
    return ""


def _rounds_to(exact: float, rounded: float) -> bool:
    """Is `rounded` `exact` rounded to its own one or two significant digits?"""
    if rounded <= 0 or exact <= 0:
        return False
    digits = f"{rounded:.6e}".split("e")[0].rstrip("0").rstrip(".").replace(".", "")
    significant = max(1, min(2, len(digits)))
    scale = 10 ** (math.floor(math.log10(rounded)) - significant + 1)
    return bool(abs(round(exact / scale) * scale - rounded) <= rounded * 1e-9)


def bounds_conflict(claimed: Amount, found: Amount) -> bool:
    """More than against less than (or up to) for one figure."""
    return {claimed.bound, found.bound} == {">", "<"}


def cn_number(text: str) -> float | None:
    """三千八百亿 → 3.8e11, 一亿两千五百万 → 1.25e8, 两万四千 → 24000; None if not a numeral."""
    total, section, digit = 0.0, 0.0, 0.0
    seen = False
    for ch in text:
        if ch in _CN_DIGIT:
            digit = _CN_DIGIT[ch]
            seen = True
        elif ch in _CN_SMALL:
            section += (digit or 1) * _CN_SMALL[ch]
            digit = 0
            seen = True
        elif ch == "万":
            if not seen and total == 0:
                return None
            if section + digit == 0:  # 亿万, 千万 used as scale words
                total = (total or 1) * 10_000
            else:
                total += (section + digit) * 10_000
            section, digit = 0, 0
        elif ch == "亿":
            if not seen and total == 0 and section == 0:
                return None
            total = (total + section + digit) * 100_000_000
            section, digit = 0, 0
        else:
            return None
    return total + section + digit


def _scale_chars(chars: str) -> float:
    value = 1.0
    for ch in chars:
        value *= _SCALE_CHARS.get(ch, 1.0)
    return value


def _unit_kind(unit: str, currency: str = "") -> str:
    unit = unit.lower().strip()
    if currency:
        return _CURRENCY.get(currency.lower().strip(), "usd")
    if unit in _PERCENT_UNITS or unit.startswith("percent"):
        return "percent"
    if unit in _TIMES_UNITS or unit.endswith("fold"):
        return "times"
    return _CURRENCY.get(unit, "count")


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            chars[i] = " "
    return "".join(chars)


# Parts of a year, each in its spellings: H1 against H2, Q3 against Q4.
_PERIODS = {
    "H1": r"上半年|前半年|\bfirst half\b|\bH1\b|\bearly (?:in )?(?:the year|20\d\d)\b",
    "H2": r"下半年|后半年|\bsecond half\b|\blatter half\b|\bH2\b|\blater (?:this|in the) year\b|"
    r"\blate (?:in )?(?:the year|20\d\d)\b",
    "Q1": r"第一季度|一季度|\bQ1\b|\bfirst quarter\b",
    "Q2": r"第二季度|二季度|\bQ2\b|\bsecond quarter\b",
    "Q3": r"第三季度|三季度|\bQ3\b|\bthird quarter\b",
    "Q4": r"第四季度|四季度|\bQ4\b|\bfourth quarter\b",
    # Seasons, as a time of year (not 夏季奥运会 or a season of a show).
    "Sspring": r"春季(?!发布会|奥运)|春天|\bspring\b(?! festival)",
    "Ssummer": r"夏季(?!奥运|运动会|达沃斯)|夏天|\bsummer\b(?! (?:olympics|games|camp))",
    "Sautumn": r"秋季(?!发布会)|秋天|\bautumn\b|\bfall\b(?= (?:of )?20\d\d\b)|"
    r"\b(?:last|this|next|in the) fall\b",
    "Swinter": r"冬季(?!奥运|运动会)|冬天|\bwinter\b(?! (?:olympics|games))",
}
_PERIOD_PATTERNS = {key: re.compile(pattern, re.I) for key, pattern in _PERIODS.items()}


def matching(patterns: Mapping[str, re.Pattern[str]], text: str) -> frozenset[str]:
    """The keys of `patterns` whose pattern `text` matches."""
    return frozenset(key for key, pattern in patterns.items() if pattern.search(text))


def periods(text: str) -> frozenset[str]:
    """The parts of a year `text` names: H1, H2 (上半年, second half), Q1–Q4 and the seasons
    (Ssummer: 今年夏天, last summer)."""
    return matching(_PERIOD_PATTERNS, text)


# Power, as data centres are sized: 10吉瓦, 10 GW and ten gigawatts are one figure.
_POWER = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>太瓦|吉瓦|兆瓦|千瓦|TW|GW|MW|kW|"
    r"(?:tera|giga|mega|kilo)watts?)(?![A-Za-z])",
    re.I,
)
_WATTS = {
    "太瓦": 1e12,
    "吉瓦": 1e9,
    "兆瓦": 1e6,
    "千瓦": 1e3,
    "tw": 1e12,
    "gw": 1e9,
    "mw": 1e6,
    "kw": 1e3,
    "tera": 1e12,
    "giga": 1e9,
    "mega": 1e6,
    "kilo": 1e3,
}


@lru_cache(maxsize=65536)
def amounts(text: str) -> tuple[Amount, ...]:
    """Every figure in `text`, normalised: 3800亿美元, $380B, 380 billion dollars and
    三千八百亿美元 are one value; 25%, 百分之二十五 and a quarter are 25 (percent); two-thirds,
    三分之二, 两成, 一半 are percents too; 15倍 and 15x are `times`. Dates, versions (GPT-5.4,
    Gemini 3) and years are not figures."""
    return tuple(amount for amount, _ in _amounts_at(text))


# A change from one figure to another: 从15.3%提升至79.3%, from 15.3% to 79.3%, 15.3％から79.3％に.
_CHANGE_FROM = re.compile(
    r"(?:从|由)[^，,。；;：:]{0,8}$|\bfrom(?:\s+(?:about|around|roughly))?$", re.I
)
_CHANGE_TO = re.compile(
    r"^\s*(?:[^，,。；;：:\d]{0,12}?(?:到|至)了?|(?:[a-z]+\s+){0,2}?to)\s*$", re.I
)
_CHANGE_MARK = re.compile(r"^\s*(?:から|→|->|-->)\s*$")  # a change without a "from"


def changes(text: str) -> list[tuple[Amount, Amount]]:
    """The figure-to-figure changes `text` states, each as (from, to), in the order given."""
    spans = sorted(_amounts_at(text), key=lambda found: found[1])
    out = []
    for (first, (start, end)), (second, (next_start, _)) in pairwise(spans):
        before = text[max(0, start - 12) : start].rstrip()
        between = text[end:next_start]
        if first.compatible(second) and (
            (_CHANGE_FROM.search(before) and _CHANGE_TO.match(between))
            or _CHANGE_MARK.match(between)
        ):
            out.append((first, second))
    return out


def _amounts_at(text: str) -> list[tuple[Amount, tuple[int, int]]]:
    """`amounts` with each figure's span in `text`."""
    masked = _mask(text, [span for d in _date_spans(text) for span in [d]])
    masked = _mask(masked, [m.span() for m in _VERSIONED.finditer(masked)])
    masked = _mask(masked, [m.span() for m in _VERSION_FIRST.finditer(masked)])
    masked = _mask(masked, [m.span() for m in _CN_NOT_NUMBER.finditer(masked)])
    found: list[tuple[Amount, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []

    def add(value: float, kind: str, span: tuple[int, int], raw: str) -> None:
        if any(s < span[1] and span[0] < e for s, e in taken):
            return
        taken.append(span)
        found.append((Amount(value, kind, raw.strip(), _bound(text, *span)), span))

    for match in _CN_FRACTION.finditer(masked):
        den_raw, num_raw = match.group("den"), match.group("num")
        den = float(den_raw) if den_raw.isdigit() else cn_number(den_raw)
        num = float(num_raw) if re.fullmatch(r"[\d.]+", num_raw) else cn_number(num_raw)
        if den and num is not None:
            add(100.0 * num / den, "percent", match.span(), match.group(0))
    for match in _HALF_SCALE.finditer(masked):
        add(0.5 * _EN_SCALE[match.group("scale").lower()], "count", match.span(), match.group(0))
    for match in _HALF.finditer(masked):
        add(50.0, "percent", match.span(), match.group(0))
    for match in _CENTS.finditer(masked):
        add(float(match.group("num")) / 100, "usd", match.span(), match.group(0))
    for match in _ONE_IN.finditer(masked):
        n_raw, d_raw = match.group("n").lower(), match.group("d").lower()
        n = float(n_raw) if n_raw.isdigit() else float(_EN_WORDS.get(n_raw, 1))
        d = float(d_raw) if d_raw.isdigit() else float(_EN_WORDS[d_raw])
        if 0 < n < d:
            add(100.0 * n / d, "percent", match.span(), match.group(0))
    for match in _EN_FRACTION.finditer(masked):
        n = {"a": 1, "one": 1, "two": 2, "three": 3}[match.group("n").lower()]
        d = {"thi": 3, "qua": 4, "fif": 5, "ten": 10, "twe": 20, "hun": 100}[
            match.group("d").lower()[:3]
        ]
        add(100.0 * n / d, "percent", match.span(), match.group(0))
    for match in _TENTHS.finditer(masked):
        sub = _TENTHS_SUB.get(match.group("sub") or "", 0)
        add(10.0 * _CN_DIGIT[match.group("num")] + sub, "percent", match.span(), match.group(0))
    for match in _TWICE.finditer(masked):
        add(2.0, "times", match.span(), match.group(0))
    for match in _POWER.finditer(masked):
        unit = match.group("unit").lower()
        watts = next(v for k, v in _WATTS.items() if unit.startswith(k))
        add(float(match.group("num")) * watts, "watt", match.span(), match.group(0))
    for match in _ARABIC.finditer(masked):
        raw = match.group("num").replace(",", "")
        cnmult, enmult = match.group("cnmult") or "", (match.group("enmult") or "").lower()
        unit, currency = match.group("unit") or "", match.group("cur") or ""
        if not (cnmult or enmult or unit or currency) and _YEARISH.match(raw):
            continue  # a year
        if (
            enmult in ("m", "b", "k")
            and not currency
            and not re.search(r"\d\s*[kKmMbB]\b", match.group(0))
        ):
            continue
        value = float(raw) * (_scale_chars(cnmult) if cnmult else _EN_SCALE.get(enmult, 1.0))
        tail = masked[match.end() : match.end() + 4]
        kind = _unit_kind(unit, currency)
        if kind == "count" and re.match(r"\s*(?:美元|美金)", tail):
            kind = "usd"
        add(value, kind, match.span(), match.group(0))
    for match in _CN_AMOUNT.finditer(masked):
        numeral, unit = match.group("num"), match.group("unit") or ""
        parsed = cn_number(numeral)
        if parsed is None or parsed == 0:
            continue
        value = parsed
        has_scale = any(ch in "十百千万亿" for ch in numeral)
        if not unit and not (has_scale and len(numeral) >= 2):
            continue
        if numeral == "一" and unit not in _CURRENCY and unit not in ("倍", "亿", "万"):
            continue  # 一款, 一项: an article, not a figure
        if unit in ("亿", "万"):
            value *= _SCALE_CHARS[unit]
            unit = ""
            after = masked[match.end() : match.end() + 5]
            cur = re.match(r"(元人民币|美元|美金|澳元|港元|欧元|英镑|日元|人民币|元)", after)
            unit = cur.group(1) if cur else ""
        if unit == "成":
            add(10.0 * value, "percent", match.span(), match.group(0))
            continue
        add(value, _unit_kind(unit), match.span(), match.group(0))
    for match in _EN_NUMBER.finditer(masked):
        word = match.group("word").lower()
        scale = (match.group("scale") or "").lower()
        if word in ("a", "one") and not scale:
            continue
        base = 1.0 if word in ("a", "one") else float(_EN_WORDS[word])
        if word == "a" and match.group("unit_word"):
            base = 0.0  # "a one-million-token window": the article, not a figure's part
        if match.group("unit_word") and (base == 0.0 or (base % 10 == 0 and 20 <= base <= 90)):
            base += float(
                _EN_WORDS.get(match.group("unit_word").lower(), 0)
                or {"one": 1}.get(match.group("unit_word").lower(), 0)
            )
        value = base * (_EN_SCALE.get(scale, 100.0) if scale else 1.0)
        if scale == "hundred":
            value = base * 100
        kind = _unit_kind(match.group("unit") or "", match.group("cur") or "")
        add(value, kind, match.span(), match.group(0))
    return found


def derived(found: Sequence[Amount]) -> list[Amount]:
    """Figures a careful reader derives from one clause: the complement of a share (95% saw
    none ⇔ 5% saw some), a difference of two shares (94% and 33% ⇔ 61 points), a share of a
    count (half of 12 ⇔ 6)."""
    out = []
    shares = [a for a in found if a.kind == "percent"]
    counts = [a for a in found if a.kind != "percent"]
    for a in shares:
        if 0 < a.value < 100:
            out.append(Amount(round(100 - a.value, 6), "percent", f"100% - {a.text}"))
    for a in shares:
        for b in shares:
            if a.value > b.value:
                out.append(Amount(round(a.value - b.value, 6), "percent", f"{a.text} - {b.text}"))
    for a in shares:
        for c in counts:
            if 0 < a.value < 100 and c.value >= 2:
                out.append(Amount(c.value * a.value / 100, c.kind, f"{a.text} of {c.text}"))
    # A part of a whole, the clause's only two counts (12位联合创始人中已有6人 ⇔ half).
    if len(counts) == 2 and not shares and {c.kind for c in counts} == {"count"}:
        part, whole = sorted(counts, key=lambda c: c.value)
        if 0 < part.value < whole.value <= 10000:
            share = round(100 * part.value / whole.value, 6)
            out.append(Amount(share, "percent", f"{part.text} of {whole.text}"))
    return out


# ---------------------------------------------------------------- dates
_CN_MONTH = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "十一": 11,
    "十二": 12,
}
_MONTH_NAMES = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_PATTERNS = [
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?:(?P<d>\d{1,2})\s*[日号])?"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?<!\d年)(?<!\d)(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"),
    re.compile(
        rf"\b(?P<mn>{_MONTH_NAMES})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(?P<y>(?:19|20)\d{{2}}))?",
        re.I,
    ),
    re.compile(
        rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mn>{_MONTH_NAMES})\b(?:,?\s*(?P<y>(?:19|20)\d{{2}}))?",
        re.I,
    ),
    re.compile(rf"\b(?P<mn>{_MONTH_NAMES})\.?,?\s+(?:of\s+)?(?P<y>(?:19|20)\d{{2}})\b", re.I),
    re.compile(r"(?P<y>\d{4})\s*年(?![\d度])"),
    re.compile(r"(?<!\d年)(?<!\d)(?P<m>1[0-2]|[1-9])\s*月(?:份)?(?![\d份]*[日号])"),
    re.compile(
        r"(?<![一二三四五六七八九十第])(?P<cm>十[一二]|"
        r"[一二三四五六七八九十])月(?:份)?(?![\d]*[日号])"
    ),
    re.compile(
        rf"\b(?:in|since|by|until|from|last|next|early|mid|late|this|of|before|after)[\s-]+(?P<mn>{_MONTH_NAMES})\b",
        re.I,
    ),
    re.compile(
        r"(?<![\d.,$])\b(?P<y>(?:19|20)\d{2})\b(?!\d|[.,]\d|\s*(?:%|percent|million|billion|美元|"
        r"亿|"
        r"万))"
    ),
]


def _date_spans(text: str) -> list[tuple[int, int]]:
    return [span for _, span in _dates_with_spans(text)]


def _dates_with_spans(text: str) -> list[tuple[DateMention, tuple[int, int]]]:
    found: list[tuple[DateMention, tuple[int, int]]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for _, (s, e) in found):
                continue
            groups = match.groupdict()
            month: int | None = None
            if groups.get("mn"):
                name = groups["mn"].lower().rstrip(".")
                month = MONTHS.get(name) or MONTHS.get(name[:3])
            elif groups.get("cm"):
                month = _CN_MONTH.get(groups["cm"])
            elif groups.get("m"):
                month = int(groups["m"])
            day = int(groups["d"]) if groups.get("d") else None
            year = int(groups["y"]) if groups.get("y") else None
            if (month is not None and not 1 <= month <= 12) or (
                day is not None and not 1 <= day <= 31
            ):
                continue
            found.append((DateMention(year, month, day, match.group(0).strip()), match.span()))
    return found


@lru_cache(maxsize=65536)
def when(text: str) -> tuple[DateMention, ...]:
    """Dates in either language: 2026年2月13日, 2月13日, 2025年, 12月, Feb 13, 2026,
    May 2024, early 2025, mid-March."""
    return tuple(date for date, _ in sorted(_dates_with_spans(text), key=lambda d: d[1]))


def date_rivals(claim: DateMention, other: DateMention) -> bool:
    """Two accounts of one date: a field both give differs, and they are of one kind (a year
    against a year, a month against a month)."""
    pairs = [(claim.year, other.year), (claim.month, other.month), (claim.day, other.day)]
    shared = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not shared or all(a == b for a, b in shared):
        return False
    if claim.year is not None and other.year is not None and claim.year != other.year:
        return True
    if claim.month is not None and other.month is not None and claim.month != other.month:
        return True
    return claim.day is not None and other.day is not None and claim.day != other.day


# ---------------------------------------------------------------- names
# A version written before its product's name (此前的2.5 Flash, the 2.5 Pro model).
_VERSION_FIRST = re.compile(
    r"(?<![\d.$€£¥])\d+\.\d+(?=[ \t]+(?!(?:Million|Billion|Trillion|Thousand)\b)[A-Z][a-z]+)"
)
_VERSIONED = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Z][A-Za-z0-9]+|"
    r"[a-z]+[A-Z][A-Za-z0-9]*)(?:[.\-+][A-Za-z0-9]+)*(?:[ \t]+(?:[A-Z][A-Za-z0-9]*"
    r"(?:[.\-+][A-Za-z0-9]+)*))*[ \t]*-?\d+(?:\.\d+)*(?:[.\-+]?[A-Za-z][A-Za-z0-9]*)*(?![\d%％])"
    r"(?![ \t]*(?:%|％|billion|million|trillion|thousand|美元|亿|万|倍|个|款|名|家|次|张|位|年|月|"
    r"日|小时|秒|分钟))"
    r"|(?<![A-Za-z0-9])[A-Za-z]+\d+[A-Za-z0-9.\-]*",
)
_LATIN_NAME = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Z][A-Za-z0-9]*|[a-z]+[A-Z][A-Za-z0-9]*|[A-Za-z]+\d[A-Za-z0-9]*)"
    r"(?:[.\-+&'][A-Za-z0-9]+)*"
    r"(?:(?:[ \t]+|-)(?:[A-Z][A-Za-z0-9]*(?:[.\-+][A-Za-z0-9]+)*|\d+(?:\.\d+)*(?![\d%％])"
    r"(?![ \t]*(?:%|billion|million|trillion|thousand))|of|de|"
    r"and(?=[ \t]+[A-Z][a-z]+[ \t]+[A-Z]))(?![A-Za-z0-9]))*"
)
_CN_TRANSLIT = re.compile(r"[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}")
# Capitalised English words that name nothing by themselves.
_GENERIC = frozenset(
    """a an the this that these those it its in on at of for to by with and or but as is are was
    were be been he she they we you his her their our says said new after before while when
    according using under over since from into about more most only even also all every each
    ai ceo cto cfo coo president chief founder co-founder former senior vice head executive
    director chairman officer inc corp ltd co llc group company startup lab labs team model
    models app apps report study survey research researchers analysts data internal
    mr ms dr march may june july april august billion million percent january february
    september october november december monday tuesday wednesday thursday friday saturday
    sunday us u.s uk eu api pro max plus ultra mini lite flash preview beta alpha open source
    however meanwhile although though despite still yet now today week month year
    its an through their his her one two three first second last next early late mid
    half many some both few several none four five six seven eight nine ten third quarter
    dozens hundreds thousands roi kpi llm llms gpu gpus cpu saas""".split()
)
GENERIC_WORDS = _GENERIC  # words that name nothing by themselves (the, report, billion)
_DESCRIPTIVE = frozenset(
    """ai lab labs inc corp team research model models app intelligence technologies technology
    systems system robotics capital ventures partners group holdings bank fund foundation
    institute university project platform cloud agent agents studio studios""".split()
)


@dataclass(frozen=True)
class Name:
    """A name in a text: as written, its canonical entity (lower case), where it stands, and
    whether the alias table knows it (a known name can be looked for in another language)."""

    text: str
    canon: str
    start: int
    end: int
    known: bool


@cache
def _alias_table() -> dict[str, str]:
    table = dict(aliases())
    path = _RESOURCES / "places.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names = [n.strip() for n in line.split("|") if n.strip()]
            for name in names:
                table.setdefault(name.lower(), names[0])
    return table


@cache
def _names_by_canon() -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for alias, canon in _alias_table().items():
        grouped.setdefault(canon.lower(), []).append(alias)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in grouped.items()}


def _insensitive(alias: str) -> bool:
    """CamelCase and capitals (OpenAI, NVIDIA, ByteDance) are names in any case; a plain word
    (Block, Target, Meta, US) is a name only as written."""
    if alias.isupper() and len(alias) <= 4:
        return False  # WHO, MIT, TEN: an acronym as written, never the everyday word
    return len(alias) >= 3 and bool(re.search(r"[A-Z]", alias[1:]))


def _alias_regex(alias: str) -> str:
    if _CJK.search(alias):
        return re.escape(alias)
    body = re.escape(alias).replace(r"\ ", r"[\s\-]*").replace(r"\-", r"[\s\-]*")
    body = body if not _insensitive(alias) else f"(?i:{body})"
    return rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9]|[.\-][A-Za-z0-9])"


_LATIN_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.&'+\-]*(?<![.'\-])")
_MAX_WORDS = 5


def _normal(words: Sequence[str]) -> str:
    return " ".join(words)


@cache
def _known_index() -> tuple[tuple[str, ...], dict[str, str], dict[str, str]]:
    """The known names by script: CJK spellings (longest first), and Latin spellings keyed
    by their words joined with single spaces — as written (a plain word such as Block is a
    name only capitalised) and lower-cased (CamelCase and capitals, e.g. OpenAI, NVIDIA)."""
    cjk: list[str] = []
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    for spelled in _all_spellings():
        if _CJK.search(spelled):
            cjk.append(spelled)
            continue
        key = _normal(_LATIN_TOKEN.findall(spelled))
        if not key:
            continue
        exact.setdefault(key, spelled)
        if _insensitive(spelled):
            folded.setdefault(key.lower(), spelled)
    return tuple(sorted(cjk, key=len, reverse=True)), exact, folded


@cache
def _cjk_by_first() -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for spelled in _known_index()[0]:
        grouped.setdefault(spelled[0], []).append(spelled)
    return {k: tuple(v) for k, v in grouped.items()}


# Spellings that are also everyday English words: a name only where a name can stand, not as
# the first word of a sentence ("Benchmark results show…", "Block by block…").
_COMMON_WORDS = frozenset(
    """block target figure benchmark runway notion scale threads pixel galaxy windows sierra
    glean harvey lambda cursor fortune square accel index insight thrive paradigm genie cosmos
    nature economist forbes manus quark maia ironwood trillium""".split()
)


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘(（")
    return not before or before[-1] in ".!?。！？；;:：\n"


def _known_spans(text: str) -> list[tuple[int, int, str]]:
    """Where known names stand in `text`: (start, end, spelling), longest first, no overlaps."""
    _, exact, folded = _known_index()
    spans: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e, _ in spans)

    if _CJK.search(text):
        by_first = _cjk_by_first()
        candidates = sorted(
            {sp for ch in set(text) for sp in by_first.get(ch, ())}, key=len, reverse=True
        )
        for candidate in candidates:
            start = text.find(candidate)
            while start >= 0:
                if free(start, start + len(candidate)):
                    spans.append((start, start + len(candidate), candidate))
                start = text.find(candidate, start + 1)
    tokens = [(m.start(), m.end(), m.group(0)) for m in _LATIN_TOKEN.finditer(text)]
    i = 0
    while i < len(tokens):
        for width in range(min(_MAX_WORDS, len(tokens) - i), 0, -1):
            group = tokens[i : i + width]
            gaps = [text[a[1] : b[0]] for a, b in pairwise(group)]
            if any(g != " " for g in gaps):
                continue
            key = _normal([t[2] for t in group])
            spelled = exact.get(key) or folded.get(key.lower())
            if spelled is None and key.endswith("'s"):
                spelled = exact.get(key[:-2]) or folded.get(key[:-2].lower())
            if spelled is not None and not (
                width == 1 and key.lower() in _COMMON_WORDS and _sentence_start(text, group[0][0])
            ):
                start, end = group[0][0], group[-1][1]
                if key.endswith("'s"):
                    end -= 2
                if free(start, end):
                    spans.append((start, end, spelled))
                i += width - 1
                break
        i += 1
    return sorted(spans)


@cache
def _all_spellings() -> dict[str, str]:
    """Each spelling as written in the resources, mapped to its entity's first name."""
    table: dict[str, str] = {}
    for path in ("aliases.txt", "places.txt"):
        for line in (_RESOURCES / path).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                spelled = [n.strip() for n in line.split("|") if n.strip()]
                for name in spelled:
                    table.setdefault(name, spelled[0])
    return table


@cache
def _places() -> frozenset[str]:
    out = set()
    for line in (_RESOURCES / "places.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.add(line.split("|")[0].strip().lower())
    return frozenset(out)


def is_place(name: Name) -> bool:
    return name.canon in _places()


def canon(name: str) -> str:
    spelled = _all_spellings()
    if name in spelled:
        return spelled[name].lower()
    return _alias_table().get(name.lower(), re.sub(r"[\s\-]+", " ", name)).lower()


def is_known(name: str) -> bool:
    return name in _all_spellings() or name.lower() in _alias_table()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop leading and trailing generic words and a possessive: "The Google's" → "Google"."""
    while True:
        name = text[start:end]
        words = re.match(r"([A-Za-z.\-]+)([ \t]+)", name)
        if words and words.group(1).lower() in _GENERIC:
            start += words.end()
            continue
        year = re.match(r"(?:19|20)\d\d[ \t]+(?=[A-Z])", name)  # In 2025 Greg Brockman
        if year:
            start += year.end()
            continue
        tail = re.search(r"([ \t]+)([A-Za-z.\-]+)$", name)
        if tail and tail.group(2).lower() in _GENERIC:
            end -= len(tail.group(0))
            continue
        break
    name = text[start:end]
    if name.endswith(("'s", "’s")):
        end -= 2
    return start, end


@lru_cache(maxsize=65536)
def names(text: str) -> tuple[Name, ...]:
    """Known names (any alias, either language), transliterated names (萨姆·奥特曼) and other
    Latin-script names (capitalised, CamelCase or with a version number). A versioned product
    (Claude Opus 4.6, GPT-5.4) is kept whole, so that another version is another name."""
    found: list[Name] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in taken)

    latin = []
    for match in _LATIN_NAME.finditer(text):
        # "OpenAI's GPT-5.4-powered ChatGPT" is three names: cut after a possessive and after
        # a lower-case hyphenated word (Sequoia-led, ALS-stricken, GPT-5.4-powered).
        pieces = []
        cursor = match.start()
        for cut in re.finditer(r"['’]s(?=\s)|(?<=[A-Za-z0-9])(?:-[a-z]+)+(?=\s|$)", match.group(0)):
            pieces.append((cursor, match.start() + cut.start()))
            cursor = match.start() + cut.end()
        pieces.append((cursor, match.end()))
        for piece in pieces:
            start, end = _trim(text, *piece)
            while end > start and text[end - 1] in " \t":
                end -= 1
            while start < end and text[start] in " \t":
                start += 1
            if end - start >= 2 and text[start:end].lower() not in _GENERIC:
                latin.append((start, end))
    for start, end in latin:
        name = text[start:end]
        if re.search(r"\d", name) and not is_known(name) and re.search(r"[A-Za-z]{2}", name):
            found.append(Name(name, canon(name), start, end, False))
            taken.append((start, end))
    for start, end, spelled in _known_spans(text):
        if text[start:end].isascii() and text[start:end].islower():
            continue  # "wired into tools", "an apple": a word, not the name it also spells
        if free(start, end):
            found.append(Name(text[start:end], canon(spelled), start, end, True))
            taken.append((start, end))
    for match in _CN_TRANSLIT.finditer(text):
        if free(*match.span()):
            found.append(Name(match.group(0), match.group(0), *match.span(), False))
            taken.append(match.span())
    for start, end in latin:
        if free(start, end):
            name = text[start:end]
            found.append(Name(name, canon(name), start, end, is_known(name)))
            taken.append((start, end))
            continue
        for word in re.finditer(r"[A-Za-z][A-Za-z0-9.\-]*[A-Za-z0-9]|[A-Z]", text[start:end]):
            s0, e0 = word.start() + start, word.end() + start
            if (
                free(s0, e0)
                and word.group(0).lower() not in _GENERIC
                and word.group(0)[0].isupper()
            ):
                found.append(Name(word.group(0), canon(word.group(0)), s0, e0, False))
                taken.append((s0, e0))
    return tuple(sorted(found, key=lambda n: n.start))


def _latin_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _present(alias: str, text: str) -> bool:
    """`alias` in `text`: CJK as a substring; Latin as whole words (a space in the alias
    may be a hyphen or nothing in the text), in any case for CamelCase and capitals."""
    if _CJK.search(alias):
        return alias in text
    words = _LATIN_TOKEN.findall(alias)
    if not words:
        return False
    fold = _insensitive(alias)
    haystack = text.lower() if fold else text
    first = words[0].lower() if fold else words[0]
    start = haystack.find(first)
    while start >= 0:
        end = start + len(first)
        ok = start == 0 or not _latin_alnum(haystack[start - 1])
        for word in words[1:]:
            if not ok:
                break
            while end < len(haystack) and haystack[end] in " -":
                end += 1
            word = word.lower() if fold else word
            ok = haystack.startswith(word, end)
            end += len(word)
        after = haystack[end : end + 2]
        if ok and not (
            _latin_alnum(after[:1]) or (after[:1] in (".", "-") and _latin_alnum(after[1:2]))
        ):
            return True
        start = haystack.find(first, start + 1)
    return False


@cache
def _spellings() -> dict[str, tuple[str, ...]]:
    """Each entity (lower case) with every spelling of it, as written."""
    grouped: dict[str, list[str]] = {}
    for spelled, first in _all_spellings().items():
        grouped.setdefault(first.lower(), []).append(spelled)
    return {k: tuple(v) for k, v in grouped.items()}


def _transliterated_in(name: str, text: str) -> bool:
    """Whether a transliterated name (帕特里克·达林), read with whatever characters stand
    beside it in the claim (音乐人帕特里克·达林在), is written in `text`: two characters or
    more of each side, around one middle dot."""
    left, _, right = name.partition("·")
    for dot in re.finditer("·", text):
        before = text[max(0, dot.start() - len(left)) : dot.start()]
        after = text[dot.end() : dot.end() + len(right)]
        tail = next((k for k in range(len(before), 0, -1) if left.endswith(before[-k:])), 0)
        head = next((k for k in range(len(after), 0, -1) if right.startswith(after[:k])), 0)
        if tail >= 2 and head >= 2:
            return True
    return False


@lru_cache(maxsize=262144)
def mentioned(name: Name, text: str) -> bool | None:
    """Is `name` in `text` under any of its names? None when that cannot be told: an
    unknown Latin name against a Chinese text, which may transliterate it (达林 for Darling)."""
    spellings = _spellings().get(name.canon, ())
    if any(_present(s, text) for s in {*spellings, name.text}):
        return True
    if is_place(name) and set(spellings) & _abbreviated_places(text):
        return True  # the US and India in 美印战略光纤, 美英法德200位财务领导
    parts = [p for p in re.split(r"[-–]", name.text) if p]
    if len(parts) > 1:
        pair = [Name(p, canon(p), 0, 0, is_known(p)) for p in parts]
        if all(is_place(p) for p in pair):  # US-India: each place named
            found = [mentioned(p, text) for p in pair]
            return True if all(found) else (False if False in found else None)
    if name.known:
        return False
    if _CJK.search(name.text):
        if "·" in name.text and not _CJK.search(text):
            return None
        return "·" in name.text and _transliterated_in(name.text, text)
    words = [w for w in re.split(r"[\s\-]+", name.text) if w and w.lower() not in _GENERIC]
    core = [w for w in words if w.lower() not in _DESCRIPTIVE]
    if core and all(
        re.search(rf"(?i)(?<![a-z0-9]){re.escape(_singular(w))}(?:e?s)?(?![a-z0-9])", text)
        for w in core
    ):
        return True  # "Clearview AI" in "Clearview的工具"; "Gemini 3 Deep Think V2" by parts
    if len(_CJK.findall(text)) * 3 < len(text):
        return False  # an English source would keep the name
    if re.fullmatch(r"[A-Z]{2,6}s?", name.text):
        return None  # an acronym (PACs, ALS) a Chinese text may well translate
    distinctive = any(ch.isdigit() for ch in name.text) or re.search(
        r"[a-z][A-Z]|[A-Z]{2,}", name.text
    )
    return False if distinctive else None


# Countries by their one-character names, as Chinese runs them together (美印, 中日韩, 美英法德).
_PLACE_ABBREVIATIONS = {
    "美": "美国",
    "英": "英国",
    "法": "法国",
    "德": "德国",
    "印": "印度",
    "中": "中国",
    "日": "日本",
    "韩": "韩国",
    "俄": "俄罗斯",
    "欧": "欧洲",
    "加": "加拿大",
    "澳": "澳大利亚",
    "意": "意大利",
    "以": "以色列",
    "乌": "乌克兰",
    "朝": "朝鲜",
}
_ABBREVIATED_RUN = re.compile(
    rf"[{''.join(_PLACE_ABBREVIATIONS)}]{{3,5}}(?![洲志门])|"
    rf"[{''.join(_PLACE_ABBREVIATIONS)}]{{2}}"
    r"(?=两国|三国|等国|关系|战略|双边|之间|合作|贸易|峰会|对话|联合|[\d\s，、。（(])"
)


def _abbreviated_places(text: str) -> set[str]:
    """The countries a Chinese text names by runs of one-character names."""
    return {_PLACE_ABBREVIATIONS[ch] for run in _ABBREVIATED_RUN.findall(text) for ch in run}


def _singular(word: str) -> str:
    """MoEs → MoE, LLMs → LLM: a plural names the same thing."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def outlet_key(source: str) -> str:
    """The distinctive part of an outlet's domain: wired.com → wired, blog.google → google,
    importai.substack.com → importai."""
    generic = {"www", "blog", "blogs", "news", "substack", "medium", "com", "co", "org", "net"}
    labels = [p for p in source.lower().split("/")[0].split(".") if p]
    chosen = [p for p in labels[:-1] if p not in generic] or [p for p in labels if p not in generic]
    return re.sub(r"[^a-z0-9]", "", max(chosen, key=len)) if chosen else ""


def names_outlet(name: Name, sources: Sequence[str]) -> bool:
    """Does `name` denote the outlet of one of `sources` (WIRED for wired.com, Ben's Bites for
    bensbites.com, 麻省理工科技评论 for technologyreview.com)? A claim may say who reported."""
    keys = {k for k in (outlet_key(s) for s in sources) if len(k) >= 4}
    if not keys:
        return False
    for spelled in {name.text, *_spellings().get(name.canon, ())}:
        squashed = re.sub(r"[^a-z0-9]", "", spelled.lower())
        if len(squashed) < 4:
            continue
        for key in keys:
            if squashed == key or (len(key) >= 6 and key in squashed):
                return True
    return False


def versions_differ(name: Name, text: str) -> str | None:
    """A name in `text` that is `name` with another version (Claude Opus 4.5 for 4.6)."""
    stem = re.sub(r"\d+(?:\.\d+)*", "#", name.text.lower())
    if "#" not in stem:
        return None
    for other in names(text):
        if other.canon != name.canon and re.sub(r"\d+(?:\.\d+)*", "#", other.text.lower()) == stem:
            return other.text
    return None


# ---------------------------------------------------------------- stance
@dataclass(frozen=True)
class Concept:
    """A predicate with two poles: `positive` words assert it, `negative` words its opposite
    (承认/否认, 继续/停止, 上涨/下跌)."""

    name: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split("|") if w.strip())


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "default_on",
        _words(
            "默认启用|默认开启|默认打开|默认激活|默认开放|on by default|enabled by default|"
            "turned on by default|switched on by default|active by default|opt-out"
        ),
        _words(
            "默认关闭|默认禁用|默认不开启|需手动开启|需要手动开启|off by default|"
            "disabled by default|"
            "switched off by default|turned off by default|opt-in|has to be turned on|must be "
            "turned on|have to turn it on|must be enabled|has to be enabled|needs to be enabled"
        ),
    ),
    Concept(
        "rise",
        _words(
            "增长|增加|上涨|上升|提升|提高|增至|升至|涨至|涨|升高|飙升|攀升|大涨|走高|上调|扩大|"
            "延长|"
            "翻倍|激增|猛增|大增|rose|rise|rises|rising|risen|increase|increased|increases|"
            "increasing|grow|grew|grows|growing|grown|gain|gained|gains|jump|jumped|jumps|climb|"
            "climbed|climbs|climbing|surge|surged|surges|surging|soar|soared|soaring|boost|boosted|boosts|"
            "raise|raises|"
            "raising|higher|expand|expanded|expands|up|upward|doubled|extend|extended|extends|"
            "lift|lifts|lifted|"
            "lengthen|lengthened|增多|扩张|加码|加大|增持|涨价|加息|反弹|回升|走强|新高|提速|widen|"
            "widened|spike|spiked|rally|rallied|rebound|rebounded|hike|hiked|added|adds|增强|加强|"
            "strengthen|strengthened|strengthens|strengthening|reinforce|reinforces|reinforced|"
            "reinforcing|巩固|cement|cements|cemented|cementing|more and more|越来越多|越高|"
            "更高|较高|高了|faster|heavier|"
            "more expensive|pricier|延长|up by"
        ),
        _words(
            "下降|减少|下跌|降低|下滑|缩减|缩短|减至|降至|跌至|跌|大跌|暴跌|下调|萎缩|减半|削减|"
            "回落|走低|放缓|降|减|fall|fell|falls|falling|fallen|drop|dropped|drops|dropping|"
            "decline|declined|declines|declining|decrease|decreased|decreases|decreasing|cut|cuts|"
            "reduce|reduced|reduces|reducing|lower|lowered|lowers|shrink|shrank|shrinks|slump|"
            "slumped|slumping|plunge|plunged|plunging|tumble|tumbled|tumbling|sank|sink|dip|dipped|"
            "slid|slide|sliding|slip|slipped|shrinking|"
            "down|downward|slowed|slow|shorten|shortened|shortens|halved|减持|降价|降息|收缩|"
            "缩小|流失|走弱|新低|narrow|narrowed|contract|contracted|shed|trimmed|"
            "slashed|scale back|scaled back|scales back|pared back|rolled back|下挫|削弱|弱化|"
            "weaken|weakened|weakens|weakening|undermine|undermines|undermined|undermining|"
            "less and less|fewer and fewer|延缓|减缓|越来越少|越低|更低|较低|低了|slower|缩水|"
            "lighter|"
            "cheaper|less expensive|down by"
        ),
    ),
    Concept(
        "ahead",
        _words(
            "超越|超出|优于|领先于|胜过|击败|高于|远超|强于|好于|打败|超过了|超过前代|beat|beats|"
            "beating|outperform|outperforms|outperformed|outperforming|surpass|surpasses|"
            "surpassed|surpassing|exceed|exceeds|exceeded|exceeding|ahead of|better than|"
            "higher than|tops|topped|outscored|outpaced|outdid|outdoes|ahead|更好|更强|胜出|"
            "占优|优势|outshines|outshone|leapfrogged|overtook|overtakes|overtaken|more likely|"
            "更倾向|更可能|larger than|bigger than|greater than|登顶|夺冠|位居榜首|领跑|tops the|"
            "more inclined|more prone|"
            "领先|pulled ahead|several times|数倍|far exceeds|超过|大于|远大于|多于|远多于"
        ),
        _words(
            "落后|不及|不如|逊于|低于|弱于|输给|不敌|差于|trail|trails|trailed|trailing|lag|lags|"
            "lagged|lagging|behind|fall short|fell short|falls short|below|lower than|worse than|"
            "can't keep up|cannot keep up|couldn't keep up|short of|跟不上|赶不上|追不上|"
            "比不上|更差|"
            "更弱|劣势|落于下风|less likely|less inclined|less prone|smaller than|a fraction of|"
            "远没有|远不及|远不如|小于|远小于|少于|远少于|"
            "approaching|closing in on|接近|"
            "逼近|"
            "underperform|underperforms|underperformed|lost to|loses to|falls behind|fell behind"
        ),
    ),
    Concept(
        "admit",
        _words(
            "承认|认错|坦承|admit|admits|admitted|acknowledge|acknowledged|acknowledges|concede|"
            "conceded"
        ),
        _words("否认|驳斥|否定|deny|denies|denied|denying|rejected the claim|disputes|disputed"),
    ),
    Concept(
        "agree",
        _words(
            "同意|接受|答应|认同|签署|签约|agree|agreed|agrees|accept|accepted|accepts|signed on|"
            "sign on|comply|complied|consented"
        ),
        _words(
            "拒绝|拒不|回绝|婉拒|抵制|reject|rejected|rejects|refuse|refused|refuses|decline|"
            "declined|declines|turn down|turned down|turning down|turns down|rebuff|rebuffed|"
            "resist|resisted"
        ),
    ),
    Concept(
        "continue",
        _words(
            "继续|持续|保持|仍将|沿用|continue|continues|continued|keep|keeps|kept|remain|remains|"
            "maintain|"
            "maintains|stay"
        ),
        _words(
            "停止|终止|中止|暂停|取消|放弃|结束|撤回|叫停|退出|stop|stops|stopped|halt|halts|"
            "halted|cease|ceases|ceased|end|ends|ended|discontinue|discontinued|drop|abandon|"
            "abandoned|scrap|scrapped|suspend|suspended|pause|paused|exit|withdraw|withdrew|"
            "pull out|pulled out|wind down|下线|下架|关停|taken offline|took offline|"
            "pulled offline"
        ),
    ),
    Concept(
        "enable",
        _words(
            "启用|开启|打开|激活|上线|开放|enable|enabled|turn on|turned on|switch on|switched on|"
            "activate|"
            "activated|live"
        ),
        _words(
            "关闭|禁用|停用|下线|关停|disable|disabled|turn off|turned off|switch off|switched off|"
            "deactivate|deactivated|shut down|shutting down|shuts down|taken down|pulled|"
            "holding back|holds back|held back|withheld|withholding"
        ),
    ),
    Concept(
        "need",
        _words(
            "需要|必须|需|要求|得先|need|needs|needed|require|requires|required|must|depends on"
        ),
        _words(
            "无需|不需要|不必|免去|无须|不用|without needing|no need|does not need|doesn't need|"
            "does not require|doesn't require|without|needs neither|need neither|"
            "requires neither|require neither|needs no|requires no"
        ),
    ),
    Concept(
        "allow",
        _words(
            "允许|批准|准许|授权|放行|许可|allow|allows|allowed|permit|permits|permitted|approve|"
            "approved|approval|获批|"
            "authorize|authorized|let"
        ),
        _words(
            "禁止|不允许|禁令|封禁|ban|bans|banned|prohibit|prohibits|prohibited|forbid|forbids|"
            "forbidden|"
            "bar|barred|block|blocked"
        ),
    ),
    Concept(
        "succeed",
        _words("成功|实现了|做到|succeed|succeeded|succeeds|managed to|achieved"),
        _words("失败|未能|没能|fail|fails|failed|failing|unable to|could not|couldn't"),
    ),
    Concept(
        "affect",
        _words(
            "影响|左右|干预|改变|主导|influence|influences|influenced|affect|affects|affected|"
            "sway|sways|"
            "swayed|shape|shapes|determine|determines"
        ),
        _words("独立|不受影响|unaffected|independent|independently"),
    ),
    Concept(
        "appear",
        _words(
            "出现|发生|存在|发现|appear|appeared|appears|emerge|emerged|emerges|exist|exists|"
            "existed|"
            "occur|occurred|occurs|happened|seen in the wild|in the wild|materialised|"
            "materialized|materialise|materialize"
        ),
        _words(""),
    ),
    Concept(
        "label",
        _words("标注|标识|标明|labelled|labeled|label|labels|clearly marked|disclosed as"),
        _words("unlabelled|unlabeled"),
    ),
    Concept(
        "binding",
        _words("具约束力|有约束力|具有约束力|法律约束力|约束力|legally binding|binding"),
        _words("非约束性|无约束力|non-binding|nonbinding|not binding"),
    ),
    Concept(
        "promise",
        _words(
            "承诺|保证|誓言|promise|promises|promised|pledge|pledges|pledged|commit|commits|"
            "committed|"
            "vow|vowed|guarantee|guarantees|guaranteed|assurance|assurances"
        ),
        _words(""),
    ),
    Concept(
        "solve",
        _words(
            "解决了|解决|攻克|修复了|修复|solve|solved|solves|resolve|resolved|resolves|fixed|fixes"
        ),
        _words("悬而未决|unsolved|unresolved|remain open|remains open"),
    ),
    Concept(
        "ready",
        _words("准备好|做好了准备|做好准备|准备就绪|ready|prepared"),
        _words("unprepared|not ready"),
    ),
    Concept(
        "rule_out",
        _words("排除|rule out|ruled out|rules out|exclude|excluded|excludes"),
        _words(""),
    ),
    Concept(
        "support",
        _words("支持|赞成|拥护|support|supports|supported|favor|favors|endorse|endorsed"),
        _words("反对|抵制|oppose|opposes|opposed|against"),
    ),
    Concept(
        "include",
        _words(
            "包括|包含|涵盖|含有|including|includes|included|include|covers|covered|cover|contain|"
            "contains"
        ),
        _words("排除在外|不包括|不含|excluding|excludes|excluded|except|apart from"),
    ),
    Concept(
        "speed",
        _words(
            "更快|加快|提速|加速|速度快|快两倍|快一倍|快了|faster|quicker|sped up|speeds up|"
            "speed up|accelerate|accelerates|twice as fast|times as fast"
        ),
        _words(
            "更慢|放慢|减速|拖慢|延缓|减缓|速度慢|慢了|slower|slowed down|slows down|decelerate|"
            "half as fast"
        ),
    ),
    Concept(
        "cost",
        _words("更贵|涨价|提价|pricier|more expensive|costlier|price increase|raised prices"),
        _words(
            "更便宜|降价|便宜|更低的价格|cheaper|less expensive|price cut|cut prices|lowered prices"
        ),
    ),
    Concept(
        "profit",
        _words("盈利|赚钱|扭亏|profit|profits|profitable|profitability|in the black"),
        _words("亏损|亏本|赔钱|loss|losses|loss-making|unprofitable|in the red|lost money"),
    ),
    Concept(
        "timing",
        _words("提前|提早|ahead of schedule|earlier than planned|brought forward|moved up"),
        _words(
            "推迟|延迟|延后|延期|推后|delay|delays|delayed|postpone|postponed|postpones|"
            "pushed back|push back|pushes back|later than planned|behind schedule"
        ),
    ),
    Concept(
        "join",
        _words(
            "加入|入职|加盟|回归|join|joins|joined|joining|rejoin|rejoined|hired by|signed with"
        ),
        _words(
            "离开|离职|辞职|出走|卸任|退出|leave|leaves|leaving|left|quit|quits|resign|resigned|"
            "resigns|depart|departed|departs|departure|step down|stepped down|steps down"
        ),
    ),
    Concept(
        "adopt",
        _words(
            "引入|采用|adopt|adopts|adopted|introduce|introduces|"
            "introduced|bring in|brings in|roll out ads|add ads|adding ads"
        ),
        _words("放弃|弃用|摒弃|废弃|abandon|abandons|abandoned|ditch|ditches|ditched|scrap|scraps"),
    ),
    Concept(
        "keep",
        _words("保留|留在|留下|留用|keep|keeps|kept|retain|retains|retained"),
        _words(
            "移除|删除|撤下|搬走|拆除|remove|removes|removed|removing|got rid of|get rid of|"
            "take out|took out|unplugged"
        ),
    ),
    Concept(
        "open_source",
        _words("开源|开放权重|open-source|open source|open-sourced|open-weight|open weights"),
        _words("闭源|专有|不开源|closed-source|closed source|proprietary|closed-weight"),
    ),
    Concept(
        "win",
        _words("胜诉|获胜|赢得|won|wins|winning|prevailed"),
        _words("败诉|输掉|落败|lost the case|loses the case|defeated"),
    ),
    Concept(
        "buy",
        _words("买入|购入|增购|采购|购买|buy|bought|buys|buying|purchase|purchased|purchases"),
        _words("卖出|出售|抛售|减持|sold|sells|selling|sell off|offloaded|divested"),
    ),
    Concept(
        "free",
        _words("免费|free of charge|for free|free to use|at no cost|no charge|free tier"),
        _words("收费|付费|需付费|paid|paid-only|charges|for a fee|subscription fee|costs extra"),
    ),
    Concept(
        "public",
        _words("公开|披露|公布|publicly|public|disclosed|made public|published"),
        _words("保密|未公开|不公开|未披露|secret|secretly|undisclosed|confidential|private"),
    ),
    Concept(
        "optimism",
        _words("乐观|看好|optimistic|optimism|bullish|upbeat|confident"),
        _words("悲观|看空|担忧|pessimistic|pessimism|bearish|gloomy|worried"),
    ),
    Concept(
        "able",
        _words(
            "能够|可以轻松|轻松地|轻易地|readily|easily|able to|capable of|can readily|can easily|"
            "succeeds in"
        ),
        _words(
            "难以|很难|难于|struggle to|struggles to|struggled to|hard to|difficult to|unable to|"
            "cannot reliably|fail to|fails to"
        ),
    ),
    Concept(
        "still",
        _words("依然|仍然|依旧|仍旧|照样|still|continues to|continue to|persists|persist"),
        _words("不再|no longer|not anymore|ceased to|stopped being|stops being"),
    ),
    Concept(
        "consent",
        _words(
            "征得|征求了|经过同意|经其同意|获得授权|获得许可|获得同意|with permission|with consent|"
            "with their consent|with the consent|sought permission|asked permission|consented"
        ),
        _words(
            "未经|未获授权|未获许可|未经同意|without permission|without consent|without their "
            "consent|without asking|without the consent"
        ),
    ),
    Concept(
        "legal",
        _words("合法|合规|legal|lawful|compliant"),
        _words("违法|非法|违规|illegal|unlawful|violates|violated|in breach"),
    ),
)
_NEGATORS_CN = re.compile(
    r"并未|尚未|从未|未曾|未能|没有|没能|不会|不再|无法|无需|毫无|并非|绝非|决不|绝不|并不|尚不|"
    r"从不|拒不|无意|不打算|不|没|未|无|非(?=[是为])"
)
_NOT_NEGATION_CN = re.compile(
    r"不断|不仅|不少|不同|不久|不过|不管|不论|不足|不得不|不可或缺|不错|不但|不光|不妨|不然|不到|"
    r"不低于|不少于|不超过|不高于|不止|未来|无人机|无人驾驶|无论|无限|无线|无缝|无数|无疑|非常|"
    r"相差无几|无几|无异|"
    r"非洲|"
    r"非营利|非法|否则|非凡|无比|未成年|莫斯科|毫无疑问|无与伦比|非盈利|不平等|非英语|非公开|"
    r"不确定|"
    r"不可感知|不可见|不可逆|不可避免|不可替代|不可预测|不可控|不可篡改|不可分割|不透明|不当|不良|无效|非正式|非官方|无关|否认|不及|不如|不敌|比不上|赶不上|无需|不需要|不必|不用|"
    r"无监督|"
    r"无人监督|无代码|无服务器|无损|无偿|无形|无缘|无穷|无尽|无处不在|不可思议|非凡|非标|非结构化|"
    r"不规则|不稳定|不均|不平衡|不利|不满|不安|不确定性|不公|无障碍|不间断|无间断|未经|非独家|"
    r"不受影响|不允许|不包括|不含|默认不开启|非零|无须|并不排除|不排除|未排除|"
    r"无人(?=机|驾驶|车|艇|潜|船|配送|值守|化|系统|仓|超市|商店|航|飞行)"
)
_REFUSAL_CN = re.compile(r"(?:拒绝|拒不|不愿|未能|尚未|并未)[^，。；,;：:的]{0,10}$")
_NEGATORS_EN = re.compile(
    r"\b(?:not|never|no|none|nobody|nothing|neither|nor|without|cannot|can't|won't|don't|"
    r"doesn't|didn't|isn't|aren't|wasn't|weren't|hasn't|haven't|hadn't|shouldn't|wouldn't|"
    r"no longer|yet to|has yet|have yet|failed to|fail to|unable to|lack|lacks|lacked|"
    r"refuses to|refused to|declined to|declines to|no plans?|has no|have no|had no)\b|n't\b",
    re.I,
)
_CERTAIN = re.compile(
    r"(?<!而)已(?!久|有的|知)|已经|业已|正式|官方确认|确认|完成了|落地|全面上线|推出了|发布了|"
    r"上线了|"
    r"开始了|部署了|签署了|启动了|投入使用|收购了|达成了|获得了|宣布了|解雇了|开设了|投资了|建立了|"
    r"实现了|加入了|关闭了|取消了|任命了|起诉了|批准了|通过了|禁止了|开源了|裁员了|裁减了|\balready\b|\bofficially\b|\bformally\b|\bconfirmed\b|"
    r"\bfinali[sz]ed\b|\bcompleted\b|\bis live\b|\bare live\b|\bnow live\b|\bwent live\b|"
    r"\bha(?:s|ve) (?:already |now |officially |formally )?(?:been )?"
    r"(?:[a-z]+ed|begun|begin|taken|given|shown|built|won|put|made|rolled out|set up)\b|"
    r"\brolled out\b|\bis now available\b|\bare now available\b|\bin mass production\b",
    re.I,
)
_PLANNED = re.compile(
    r"计划|(?<![模虚比])拟(?![人合态真])|打算|(?<!做好了)(?<!做好)准备(?!好|就绪)|预计|预测(?![模型系统工具结果能力准确数据算法市场])|有望|可能|或将|或许|也许|即将|将于|将在|将会|将要|将推出|将发布|"
    r"将上线|将开始|将成为|将加入|将接任|将停止|将继续|将对|将向|将把|将投入|将用于|将从|将与|将被|"
    r"考虑(?!到)|寻求|洽谈|谈判|预告|筹备|尚未|正在研发|正在开发|"
    r"正(?:在)?(?:与[^，。；]{1,15}?)?(?:合作|共同)?(?:制定|起草|拟定|商讨|磋商|筹划)|正重新审视|重新审视|评估(?!了|显示|发现|结果|报告|称)|试点|测试中|"
    r"将(?=扩大|打造|建设|建立|新建|开设|推动|推进|启动|实施|投资|收购|部署|开放|提供|支持|引入|"
    r"增加|扩展|扩充|招聘|裁减|关闭|迁移|进入|采用|落地|上市|开始|成立|正式|全面|逐步|陆续|进一步)|"
    r"\bwill\b|\bplans?\b|\bplanned\b|\bplanning\b|\bcould\b|\bmay\b|\bmight\b|\bexpected\b|"
    r"\bexpects?\b|\bforecasts?\b|\bpredicts?\b|\baims?\b|希望(?:通过|借助|能|在|将|实现|于)|"
    r"\bhop(?:es|ing) to\b|"
    r"\b(?:is|are|was|were|reportedly|now|also) set to\b|"
    r"\bintends?\b|\bconsidering\b|\bin talks\b|\bwould\b|\bproposed\b|\bupcoming\b|"
    r"\bcoming soon\b|\bsoon\b|\bpilot\b|\bweighing\b|\breviewing\b|\byet to\b|"
    r"\bseek(?:s|ing)\b|"
    r"\b(?:is|are) (?:drafting|negotiating|working on|building|developing)\b|"
    r"\b(?:in|under) development\b",
    re.I,
)
_REPORTED = re.compile(
    r"据.{0,20}?(?:报道|消息|透露|披露)|据报道|报道称|消息称|据悉|知情人士|传闻|传出|爆料|"
    r"\breportedly\b|\breported\b|\baccording to\b|\brumou?red\b|\bsources say\b|"
    r"\bpeople familiar\b|\bleaked\b",
    re.I,
)
_OFFICIAL = re.compile(
    r"正式|官方|官宣|确认|宣布|公布|发布声明|\bofficially\b|\bformally\b|\bconfirmed\b|"
    r"\bconfirms\b|\bofficial\b|\bannounced\b|\bannounces\b|\bin a statement\b",
    re.I,
)
# Acts whose stage (planned or done) a claim and its source can disagree on, in either language.
_ACTIONS = {
    "pilot": r"试点|试运行|\bpilot(?:s|ed|ing)?\b|\btrials?\b",
    "invest": r"投资|注资|\binvest(?:s|ed|ing|ment)?\b",
    "sign": r"签署|签订|签约|\bsign(?:s|ed|ing)?\b",
    "deploy": r"部署|投入使用|投入生产|\bdeploy(?:s|ed|ing|ment)?\b|\bin production\b",
    "acquire": r"收购|并购|\bacquir(?:e|es|ed|ing)\b|\bacquisition\b",
    "hire": r"招聘|聘请|\bhir(?:e|es|ed|ing)\b",
    "open": r"开设|开业|\bopen(?:s|ed|ing)?\b",
    "build": r"建设|建造|兴建|\bbuil(?:d|ds|t|ding)\b",
    "layoff": r"裁员|裁减|\blay(?:s|ing)? off\b|\blaid off\b|\blayoffs?\b|\bcuts? (?:\d|jobs)",
    "ipo": r"上市|\bIPO\b|\bgo(?:es|ing)? public\b",
}
_ACTION_PATTERNS = {name: re.compile(rx, re.I) for name, rx in _ACTIONS.items()}


def actions(text: str) -> frozenset[str]:
    """The acts of `_ACTIONS` a text names (试点/pilot, 投资/invest...)."""
    return matching(_ACTION_PATTERNS, text)


def planned_besides(text: str, act: str) -> bool:
    """Whether `text` gives something as planned by more than naming `act` (开启试点项目 is a
    pilot begun; 计划开展试点 is one planned)."""
    return stance(_ACTION_PATTERNS[act].sub("", text)).planned


# A clause that says where things stand now, whatever the clause before it plans.
_PRESENT = re.compile(r"^(?:目前|当前|现已|如今|现在|截至目前)|\bcurrently\b|\bnow\b", re.I)


def is_present(clause: str) -> bool:
    """Whether `clause` says where things stand now (目前年化收入达到140亿美元)."""
    return bool(_PRESENT.search(clause.strip()))


# Strong completion, for a claim that gives as planned what its source says is done.
_DONE = re.compile(
    r"(?<!而)已(?!久|有的|知)|已经|业已|已于|正式(?:发布|推出|上线|完成|宣布)|完成了|"
    r"\balready\b|\bcompleted\b|\bofficially\b|\bhas (?:launched|released|completed)\b",
    re.I,
)
# "Every" of a thing, not of a time (every half hour is how often, not how many).
_EVERY = (
    r"\bevery\b(?!\s+(?:half\s+|other\s+|single\s+)?(?:\d+\s+|few\s+)?(?:hour|day|week|month|"
    r"year|minute|second|morning|night|evening|time|quarter)s?\b)"
)
_UNIVERSAL_CLAIM = re.compile(
    r"全部|所有|全体|一律|全数|无一例外|任何|每一个|每个|无条件|全都|不分|各款|\banywhere\b|\ball\b|"
    + _EVERY
    + r"|\beveryone\b|"
    r"\bentire\b|\bentirely\b|\bwhole\b|\bunconditionally\b|\bwithout conditions?\b|\bfully\b|"
    r"\bacross the board\b|\buniversally\b|\bno matter\b",
    re.I,
)
_UNIVERSAL_SOURCE = re.compile(
    r"全部|所有|全体|一律|全数|全面|全球|任何|每个|各个|均|都|完全|无条件|\ball\b|" + _EVERY + r"|"
    r"(?<!illion )(?<![\d%] )\beach\b|\bentire\b|\bwhole\b|\bfully\b|\bworldwide\b|"
    r"\bglobal(?:ly)?\b|\bany\b",
    re.I,
)
_PARTIAL_CLAIM = re.compile(
    r"部分|一些|少数|一部分|个别|某些|有限|仅|只有|只向|只在|只为|只对|唯独|\bsome\b|\bpart of\b|"
    r"\ba few\b|\bselect(?:ed)?\b|\bcertain\b|\blimited\b|\bnot all\b|\bonly\b|\bseveral\b|"
    r"\ba handful\b|\bsubset\b|\bsolely\b|\bexclusively\b",
    re.I,
)
# "All" said loosely (都, 均, worldwide): compared only with a source that says "some".
_UNIVERSAL_LOOSE_CLAIM = re.compile(
    r"都|均|全球|各地|各国|每位|每一位|(?<!illion )(?<![\d%] )\beach\b|\bworldwide\b|"
    r"\bglobally\b|\beverywhere\b|"
    r"\bany\b",
    re.I,
)
_UNIVERSAL_STRICT_SOURCE = re.compile(
    r"全部|所有|全体|一律|全数|全球|各个|每个|每位|\ball\b|\bevery\b|\beveryone\b|"
    r"\bworldwide\b|\bglobally\b",
    re.I,
)
_PARTIAL_SOURCE = re.compile(
    r"部分|一些|少数|仅|只有|只|仅有|仅剩|一半|半数|首款|首批|其余|其他|剩余|其中|个别|\d+岁以上|"
    r"分之|试点|\bonly\b|\bsome\b|\bpart of\b|\bhalf\b|\blimited\b|\bselect\b|\bcertain\b|"
    r"\bremaining\b|\bthe rest\b|\bexcept\b|\bover \d+\b|\b\d+\+|"
    # more to come later: not all yet (other models later; 其他机型稍后支持)
    r"\b(?:more|other)\b[^.;。；]{0,40}\blater\b|稍后|陆续|"
    r"\boutside (?:the )?(?:US|U\.S\.|United States)\b|美国以外|\bcurrently available in\b|"
    r"目前(?:仅)?(?:在|向)",
    re.I,
)


@dataclass
class Stance:
    """What a clause commits to beyond its facts: its predicates' poles, whether it states a
    thing as done (certain) or as planned, reported or possible (hedged), and whether it
    speaks of all or of some."""

    poles: dict[str, set[int]] = field(default_factory=dict)
    negations: int = 0
    certain: bool = False
    planned: bool = False
    reported: bool = False
    official: bool = False
    universal: bool = False
    universal_loose: bool = False
    universal_loose_claim: bool = False
    universal_strict: bool = False
    partial: bool = False
    partial_loose: bool = False
    done: bool = False


@cache
def _concept_words() -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """The concepts' words: CJK ones by first character, English ones (lower case) with the
    largest number of words a phrase has."""
    cjk: dict[str, list[str]] = {}
    english: dict[str, int] = {}
    for concept in CONCEPTS:
        for word in (*concept.positive, *concept.negative):
            if _CJK.search(word):
                cjk.setdefault(word[0], []).append(word)
            else:
                english[word.lower()] = len(word.split())
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in cjk.items()}, english


_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _concept_matches(text: str) -> list[tuple[int, int, str]]:
    """Where the concepts' words stand in `text`, longest first, no overlaps."""
    cjk, english = _concept_words()
    found: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e, _ in found)

    for i, ch in enumerate(text):
        for word in cjk.get(ch, ()):
            if text.startswith(word, i) and free(i, i + len(word)):
                found.append((i, i + len(word), word))
                break
    tokens = [(m.start(), m.end(), m.group(0).lower()) for m in _EN_WORD.finditer(text)]
    longest = max(english.values(), default=1)
    i = 0
    while i < len(tokens):
        for width in range(min(longest, len(tokens) - i), 0, -1):
            phrase = " ".join(t[2] for t in tokens[i : i + width])
            if phrase in english:
                start, end = tokens[i][0], tokens[i + width - 1][1]
                if free(start, end):
                    found.append((start, end, phrase))
                i += width - 1
                break
        i += 1
    return sorted(found)


@cache
def _concept_of() -> dict[str, list[tuple[str, int]]]:
    table: dict[str, list[tuple[str, int]]] = {}
    for concept in CONCEPTS:
        for word in concept.positive:
            table.setdefault(word.lower(), []).append((concept.name, 1))
        for word in concept.negative:
            table.setdefault(word.lower(), []).append((concept.name, -1))
    return table


def concept_words(text: str, concept: str) -> frozenset[str]:
    """The words by which `text` names `concept` (批准 for allow), lower case."""
    table = _concept_of()
    return frozenset(
        word
        for _, _, word in _concept_matches(text)
        if any(name == concept for name, _ in table.get(word.lower(), []))
    )


def _negated(text: str, start: int) -> bool:
    """Is the word at `start` under a negation: a negator shortly before it in its clause
    (未能超越, 不受广告影响, has not appeared, yet to appear)?"""
    before = text[max(0, start - 24) : start]
    if _CJK.search(before[-6:] if before else ""):
        window = text[max(0, start - 6) : start]
        window = window[window.rfind("的") + 1 :]  # 不具约束力的承诺: the negator is the modifier's
        cleaned = _NOT_NEGATION_CN.sub(lambda m: "_" * len(m.group(0)), window)
        # 拒绝提供明确书面保证: a refusal governs the verb phrase it heads.
        return bool(_NEGATORS_CN.search(cleaned)) or bool(
            _REFUSAL_CN.search(text[max(0, start - 14) : start])
        )
    words = before.split()[-4:]
    return bool(_NEGATORS_EN.search(" ".join(words)))


def _raise_of_money(text: str, end: int) -> bool:
    """`raised $125 million`, `raise funds`: money raised, not a rise."""
    return bool(
        re.match(
            r"\s+(?:(?:about|roughly|nearly|over|more than|up to|another|a|an|its|their|new)\s+)*"
            r"(?:\$|€|£|US\$|\d|funds|funding|money|capital|cash|a round|series|seed|debt)",
            text[end : end + 40],
            re.I,
        )
    )


_SPLIT_COMPARISONS = (
    (
        re.compile(
            r"\b(?:more|higher|larger|bigger|greater|better|stronger|faster)(?:\s+[\w-]+){1,3}"
            r"\s+than\b|比[^，。；,;！？]{1,12}?更(?:多|高|大|快|强|好)",
            re.I,
        ),
        1,
    ),
    (
        re.compile(
            r"\b(?:less|lower|smaller|fewer|weaker|worse|slower)(?:\s+[\w-]+){1,3}\s+than\b|"
            r"比[^，。；,;！？]{1,12}?更(?:少|低|小|慢|弱|差)",
            re.I,
        ),
        -1,
    ),
)


@lru_cache(maxsize=65536)
def stance(text: str) -> Stance:
    found = Stance()
    cleaned = _NOT_NEGATION_CN.sub(lambda m: "_" * len(m.group(0)), text)
    for start, end, word in _concept_matches(text):
        if word in ("raise", "raises", "raising", "raised") and _raise_of_money(text, end):
            continue
        if text[start].isupper() and (
            (start > 0 and not re.search(r"[.!?。！？]\s*$", text[:start]))
            or any(
                n.start <= start
                and end <= n.end
                and (n.end - n.start > end - start or is_mostly_cjk(text))
                for n in names(text)
            )
        ):
            continue  # a capitalised word in a name (Resolve AI) is no verb
        if _CJK.match(word) and text.startswith("的", end) and _negated(text, start):
            continue  # 未标识的视频: a negated modifier of a noun, no predicate of the clause
        if word in ("超过了", "超过", "高于", "超出", "大于", "多于", "小于", "少于") and re.match(
            r"\s*(?:每秒|每分钟|每小时|每天|每年|每)?\s*[\d一二三四五六七八九十百千万约近]",
            text[end:],
        ):
            continue  # 超过1000万, 超过每秒1000个: a figure's floor, not a comparison
        if word == "up" and not re.search(
            r"\b(?:rose|went|gone|goes|go|moved|is|are|was|were|been|up)\s+up\b|\bup\s+\d",
            text[max(0, start - 8) : end + 4],
            re.I,
        ):
            continue
        for concept, pole in _concept_of().get(word, []):
            if _negated(text, start):
                pole = -pole
            found.poles.setdefault(concept, set()).add(pole)
    # A comparison split around its object: smaller average returns than, 比人类更少.
    for pattern, pole in _SPLIT_COMPARISONS:
        for match in pattern.finditer(text):
            if not _negated(text, match.start()):
                found.poles.setdefault("ahead", set()).add(pole)
    found.negations = len(_NEGATORS_CN.findall(cleaned)) + len(_NEGATORS_EN.findall(text))
    found.certain = bool(_CERTAIN.search(text))
    found.planned = bool(_PLANNED.search(text))
    found.reported = bool(_REPORTED.search(text))
    found.official = bool(_OFFICIAL.search(text))
    found.universal = bool(_UNIVERSAL_CLAIM.search(text))
    found.universal_loose = bool(_UNIVERSAL_SOURCE.search(text))
    found.partial = bool(_PARTIAL_CLAIM.search(text))
    found.universal_loose_claim = bool(_UNIVERSAL_LOOSE_CLAIM.search(text))
    found.universal_strict = bool(_UNIVERSAL_STRICT_SOURCE.search(text))
    found.done = bool(_DONE.search(text))
    found.partial_loose = bool(_PARTIAL_SOURCE.search(text))
    return found


def pole_conflicts(claim: Stance, source: Stance) -> list[str]:
    """Concepts the claim asserts one way and the source only the other way."""
    out = []
    for concept, poles in claim.poles.items():
        theirs = source.poles.get(concept)
        if theirs and len(poles) == 1 and len(theirs) == 1 and poles != theirs:
            out.append(concept)
    return out


# ---------------------------------------------------------------- roles
@dataclass(frozen=True)
class Relation:
    """A verb of the kinds that attribution errors swap (who led, sued, accused, acquired,
    rejected, wrote to whom) with the names before it (agents) and after it (patients)."""

    verb: str
    agents: frozenset[str]
    patients: frozenset[str]


_RELATIONS: dict[str, tuple[str, ...]] = {
    "lead_round": _words("领投|led the round|led the|led by|-led|lead investor|co-led|co-lead"),
    "invest": _words("投资|注资|入股|参投|跟投|invest|invests|invested|investing|backed|backs"),
    "acquire": _words(
        "收购|并购|买下|acquire|acquires|acquired|acquiring|buy|buys|bought|purchase|purchased"
    ),
    "sue": _words(
        "起诉|提起诉讼|提起集体诉讼|提起了诉讼|提起了集体诉讼|提出诉讼|控告|状告|告上法庭|告上了法庭|"
        "告到法庭|sue|"
        "sues|sued|suing|filed suit|"
        "filed a lawsuit|lawsuit against|class action against|class-action lawsuit against"
    ),
    "accuse": _words("指控|指责|谴责|accuse|accuses|accused|accusing|charged|blamed|blames"),
    "reject": _words("拒绝|驳回|否决|reject|rejects|rejected|rejecting|turned down|dismissed"),
    "write_to": _words(
        "致信|写信给|写信|去信|上书|wrote to|write to|writes to|letter to|penned a letter|"
        "sent a letter"
    ),
    "give": _words(
        "提供|开放|交给|给予|分享|授予|转交|hand|hands|handing|handed|give|gives|giving|gave|"
        "provide|provides|"
        "providing|provided|share|shares|sharing|shared|open|opens|opened|opening"
    ),
    "replace": _words(
        "接替|接任|取代|替代|接管|succeed|succeeds|replace|replaces|replaced|replacing|take over|"
        "takes over|"
        "took over"
    ),
    "partner_lead": _words("主导|牵头|spearhead|spearheaded|spearheads"),
    "join": _words("加入|加盟|入职|跳槽至|跳槽到|join|joins|joined|joining"),
    "announce": _words(
        "宣布|发布|公布|推出|announce|announces|announced|unveil|unveiled|unveils|launch|launched|"
        "launches|release|released|releases|introduce|introduced|introduces"
    ),
    "warn": _words("警告|warn|warns|warned"),
    "say": _words(
        "表示|声称|称|预测|指出|认为|承认|说|said|says|predicted|predicts|admitted|admits|"
        "claimed|claims|argued|argues|told"
    ),
    "find": _words(
        "研究发现|调查发现|发现|研究显示|调查显示|报告显示|研究表明|调查表明|found|finds|discovered|"
        "concluded|showed|shows"
    ),
    "contribute": _words("贡献|contributed|contributes|contributing|donated"),
    "hire": _words(
        "聘请|招募|招聘|挖来|引入|hire|hires|hired|recruit|recruits|recruited|poached|brought in|"
        "brings in"
    ),
    "designate": _words(
        "认定|列为|定为|视为|designate|designated|designates|label|labelled|labeled|deemed|named"
    ),
}
_PASSIVE_CN = re.compile(r"被|遭|由|获")
_PASSIVE_EN = re.compile(
    r"\b(?:was|were|is|are|been|being|be|get|got|gets)\s+(?:\w+ly\s+)?\w+(?:ed|en)\b.*?\bby\b|"
    r"\bby\b",
    re.I,
)


@cache
def _relation_pattern() -> re.Pattern[str]:
    words = sorted({w for ws in _RELATIONS.values() for w in ws}, key=len, reverse=True)
    parts = [
        re.escape(w) if _CJK.search(w) or w.startswith("-") else rf"\b{re.escape(w)}\b"
        for w in words
    ]
    return re.compile("|".join(parts), re.I)


@cache
def _relation_of() -> dict[str, str]:
    return {w.lower(): verb for verb, ws in _RELATIONS.items() for w in ws}


def _group(found: Sequence[Name], text: str, index: int, step: int) -> set[str]:
    """The name at `index` and the names joined to it by 和/与/及/、/and/commas."""
    out = {found[index].canon}
    i = index
    while 0 <= i + step < len(found):
        a, b = (found[i], found[i + step]) if step > 0 else (found[i + step], found[i])
        between = text[a.end : b.start]
        if re.fullmatch(r"\s*(?:和|与|及|以及|、|,|，|and|&|,\s*and|or|或)\s*", between, re.I):
            out.add(found[i + step].canon)
            i += step
        else:
            break
    return out


# "took Google to court": suing, said around its patient.
_TOOK_TO_COURT = re.compile(
    r"\b(?:took|takes|taking|take|has taken|have taken)\s+(?P<who>[^,.;]{1,60}?)\s+to court\b",
    re.I,
)


@lru_cache(maxsize=65536)
def relations(clause: str) -> tuple[Relation, ...]:
    """The role-bearing verbs of one clause with their agents and patients. Passives are
    turned around: 被X拒绝, 由X领投, rejected by X, X-led make X the agent; 对Y提起诉讼 and
    向Y提供 make Y the patient; "took Y to court" is suing Y."""
    clause = _TOOK_TO_COURT.sub(lambda m: f"sued {m.group('who')}", clause)
    found = list(names(clause))
    out = []
    for match in _relation_pattern().finditer(clause):
        word = match.group(0)
        verb = _relation_of()[word.lower()]
        before = [i for i, n in enumerate(found) if n.end <= match.start()]
        after = [i for i, n in enumerate(found) if n.start >= match.end()]
        agents: set[str] = set()
        patients: set[str] = set()
        prefix = clause[: match.start()]
        if word.startswith("-"):  # Sequoia-led
            agents = _group(found, clause, before[-1], -1) if before else set()
        elif word.lower() == "led by":
            agents = _group(found, clause, after[0], 1) if after else set()
        elif _CJK.search(word):
            passive = None
            for marker in re.finditer(r"被|遭|由", prefix):
                passive = marker
            inside = [i for i in before if passive is not None and found[i].start >= passive.end()]
            towards = re.search(r"(?:对|向|给|针对|将|把)(?=[^，。；对向给将把]{0,40}$)", prefix)
            toward_names = [
                i for i in before if towards is not None and found[i].start >= towards.end()
            ]
            earlier = [i for i in before if passive is not None and found[i].end <= passive.start()]
            if passive is not None and inside:
                agents = {found[i].canon for i in inside}
                patients = _group(found, clause, earlier[-1], -1) if earlier else set()
            elif passive is not None and not clause[passive.end() : match.start()].strip():
                patients = _group(found, clause, earlier[-1], -1) if earlier else set()  # 被起诉
            elif towards is not None and toward_names:
                patients = _group(found, clause, toward_names[-1], -1)
                outer = [i for i in before if found[i].end <= towards.start()]
                agents = _group(found, clause, outer[-1], -1) if outer else set()
            else:
                # 从谷歌挖来: a name after 从 is where it came from, not who acted.
                origin = re.search(r"(?:从|自)(?=[^，。；从自]{0,20}$)", prefix)
                if origin is not None:
                    before = [i for i in before if found[i].end <= origin.start()]
                agents = _group(found, clause, before[-1], -1) if before else set()
                patients = _group(found, clause, after[0], 1) if after else set()
        else:
            is_passive = re.search(
                r"\b(?:was|were|is|are|been|being|be|got|gets|get)\s+(?:\w+ly\s+)?$", prefix, re.I
            )
            by = re.match(r"(?:\s+\w+){0,6}?\s+by\b", clause[match.end() :], re.I)
            if is_passive and by is not None:
                later = [i for i in after if found[i].start >= match.end() + by.end()]
                agents = _group(found, clause, later[0], 1) if later else set()
                patients = _group(found, clause, before[-1], -1) if before else set()
            else:
                agents = _group(found, clause, before[-1], -1) if before else set()
                patients = _group(found, clause, after[0], 1) if after else set()
        out.append(Relation(verb, frozenset(agents), frozenset(patients - agents)))
    return tuple(out)
