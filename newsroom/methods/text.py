"""Text helpers shared by the offline agents: tokens, sentences, numbers, dates and entities."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

_RESOURCES = resources.files("newsroom.methods") / "resources"
_jieba_lock = threading.Lock()
_jieba_ready = False

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])\s*|(?<=[.])\s+(?=[A-Z\u4e00-\u9fff])|\n+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")
_STOP = frozenset(
    "的 了 和 与 及 在 是 为 将 对 等 也 并 其 这 该 "
    "一 个 中 上 有 被 由 于 以 把 从 向 让 this that with "
    "from have been will the and for its are was were has had into over ".split()
)


def tokenizer() -> Any:
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(60)
            with (_RESOURCES / "ai_entities.txt").open("rb") as handle:
                jieba.load_userdict(handle)
            _jieba_ready = True
    return jieba


def tokens(text: str) -> list[str]:
    """Content tokens: jieba words (with our AI-entity dictionary), lower-cased, no stop words."""
    jieba = tokenizer()
    out = []
    for raw in jieba.lcut(text):
        token = raw.strip().lower()
        if len(token) < 2 and not _CJK.search(token):
            continue
        if token in _STOP or not any(ch.isalnum() for ch in token):
            continue
        if token.replace(".", "").isdigit():
            continue
        out.append(token)
    return out


def sentences(text: str) -> list[str]:
    parts = (part.strip(" \t-•*") for part in _SENTENCE_END.split(text))
    return [part for part in parts if len(part) >= 6]


def grams(text: str) -> set[str]:
    """Character bigrams of the CJK text and lower-case Latin words: a language-light bag."""
    lowered = text.lower()
    cjk = "".join(ch if _CJK.match(ch) else " " for ch in lowered)
    out = {a + b for chunk in cjk.split() for a, b in pairwise(chunk)}
    out.update(word for word in _WORD.findall(lowered) if not word.isdigit())
    return {gram for gram in out if gram not in _STOP}


def coverage(claim: str, source: str) -> float:
    """Share of the claim's grams found in the source (1.0 = every bigram is there)."""
    wanted = grams(mask_facts(claim))
    if not wanted:
        return 0.0
    return len(wanted & grams(source)) / len(wanted)


def is_cjk(text: str) -> bool:
    return len(_CJK.findall(text)) * 4 >= len(text.replace(" ", "")) > 0


# ---------------------------------------------------------------- numbers
_MULT = {
    "万亿": 1e12,
    "亿": 1e8,
    "万": 1e4,
    "千": 1e3,
    "百": 1e2,
    "trillion": 1e12,
    "billion": 1e9,
    "million": 1e6,
    "thousand": 1e3,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "tn": 1e12,
}
_UNIT_KIND = {
    "%": "percent",
    "％": "percent",
    "percent": "percent",
    "美元": "usd",
    "$": "usd",
    "dollars": "usd",
    "usd": "usd",
    "元": "cny",
    "人民币": "cny",
    "元人民币": "cny",
    "yuan": "cny",
    "倍": "times",
    "x": "times",
    "times": "times",
    "gw": "gw",
}
_ARABIC = re.compile(
    r"(?P<cur>\$)?(?<![A-Za-z0-9.\-])(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s*"
    r"(?P<mult>万亿|亿|万|千(?!问)|百(?!度)|trillion|billion|million|thousand|bn|tn|[kmb](?![a-z]))?\s*"
    r"(?P<unit>%|％|percent|美元|元人民币|元|人民币|dollars|usd|yuan|倍|times|gw|x(?![a-z]))?",
    re.I,
)
_CN_NUMERAL = re.compile(
    r"(?<![进统唯第单同逐万千百])(?P<num>[零一二两三四五六七八九十百千]+(?:[万亿]+)?)"
    r"(?P<unit>倍|个|件|项|名|家|款|位|步|轮)"
)
_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True)
class Quantity:
    value: float
    kind: str
    text: str

    def matches(self, other: Quantity) -> bool:
        if self.kind != other.kind:
            return False
        scale = max(abs(self.value), abs(other.value), 1e-9)
        return abs(self.value - other.value) <= scale * 1e-6

    def rivals(self, other: Quantity) -> bool:
        """Same kind, different value, close enough in size to describe the same thing."""
        if self.kind != other.kind or self.matches(other):
            return False
        if self.kind == "percent":
            return True
        low, high = sorted((abs(self.value), abs(other.value)))
        return low > 0 and high / low <= 10


def _cn_to_int(text: str) -> int | None:
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10_000
            section, digit = 0, 0
        elif ch == "亿":
            total = (total + section + digit) * 100_000_000
            section, digit = 0, 0
        else:
            return None
    return total + section + digit


@lru_cache(maxsize=65536)
def quantities(text: str) -> tuple[Quantity, ...]:
    """Numbers with their multiplier and unit kind; dates are masked first. Cached: dedup asks
    about the same texts for every candidate pair."""
    masked = mask_entities(mask_dates(text))
    found = []
    for match in _ARABIC.finditer(masked):
        raw = match.group("num").replace(",", "")
        mult = (match.group("mult") or "").lower()
        unit = (match.group("unit") or "").lower()
        tail = masked[match.end() : match.end() + 1]
        if not mult and not unit and not match.group("cur") and tail in "年月日号":
            continue
        value = float(raw) * _MULT.get(mult, 1.0)
        kind = "usd" if match.group("cur") else _UNIT_KIND.get(unit, "count")
        if kind == "count" and tail == "美":
            kind = "usd"
        found.append(Quantity(value, kind, match.group(0).strip()))
    for match in _CN_NUMERAL.finditer(masked):
        number = _cn_to_int(match.group("num"))
        if number is None or match.group("num") == "一":  # 一款, 新一轮: an article, no figure
            continue
        kind = "times" if match.group("unit") == "倍" else "count"
        found.append(Quantity(float(number), kind, match.group(0)))
    return tuple(found)


# ---------------------------------------------------------------- dates
MONTHS = {
    name: i
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ],
        start=1,
    )
    for name in names.split()
}
_DATE_PATTERNS = [
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?:(?P<d>\d{1,2})[日号])?"),
    re.compile(r"(?<!\d)(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"),
    re.compile(
        r"(?P<mn>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*)\.?\s+"
        r"(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,\s*(?P<y>\d{4}))?",
        re.I,
    ),
    re.compile(r"(?P<y>\d{4})年(?!\d)"),
]


@dataclass(frozen=True)
class DateMention:
    year: int | None
    month: int | None
    day: int | None
    text: str

    def matches(self, other: DateMention) -> bool:
        pairs = [(self.year, other.year), (self.month, other.month), (self.day, other.day)]
        shared = [(a, b) for a, b in pairs if a is not None and b is not None]
        return bool(shared) and all(a == b for a, b in shared)

    def rivals(self, other: DateMention) -> bool:
        """Same granularity, different value: two accounts of one date."""
        same_shape = (self.year is None) == (other.year is None) and (self.day is None) == (
            other.day is None
        )
        return same_shape and not self.matches(other)


@lru_cache(maxsize=65536)
def dates(text: str) -> tuple[DateMention, ...]:
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            groups = match.groupdict()
            month = groups.get("m")
            if groups.get("mn"):
                month_number: int | None = MONTHS.get(groups["mn"].lower()[:3])
                if groups["mn"].lower() in MONTHS:
                    month_number = MONTHS[groups["mn"].lower()]
            else:
                month_number = int(month) if month else None
            found.append(
                DateMention(
                    int(groups["y"]) if groups.get("y") else None,
                    month_number,
                    int(groups["d"]) if groups.get("d") else None,
                    match.group(0),
                )
            )
            taken.append(match.span())
    return tuple(found)


def mask_dates(text: str) -> str:
    for pattern in _DATE_PATTERNS:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


# ---------------------------------------------------------------- entities
_LATIN_ENTITY = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:[.\-+][A-Za-z0-9]+)*"
    r"(?:[ \t]+(?:[A-Z][A-Za-z0-9]*(?:[.\-+][A-Za-z0-9]+)*|\d+(?:\.\d+)+"
    r"|\d+(?![\d%％.])(?![ \t]*[A-Za-z]))"
    r"(?![A-Za-z0-9]))*"
)
_EN_FUNCTION = frozenset(
    "a an the this that these those it its in on at of for to by "
    "with and or but as is are was were be been he she they we you "
    "his her their our says said new its ".split()
)


@cache
def aliases() -> dict[str, str]:
    """Each known name, lower-cased, mapped to its entity's first name."""
    table: dict[str, str] = {}
    for line in (_RESOURCES / "aliases.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names = [name.strip() for name in line.split("|")]
            for name in names:
                table[name.lower()] = names[0]
    return table


@cache
def known_entities() -> tuple[str, ...]:
    words = []
    for line in (_RESOURCES / "ai_entities.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in ("nt", "nz", "nr"):
            words.append(parts[0])
    words.extend(name for name in aliases() if _CJK.search(name))
    return tuple(sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=65536)
def entities(text: str) -> tuple[str, ...]:
    """Named things in the text: Latin-script names with versions, and known Chinese entities."""
    found = []
    for match in _LATIN_ENTITY.finditer(mask_dates(text)):
        name = match.group(0).strip()
        head = name.split()[0]
        if head.lower() in _EN_FUNCTION and " " not in name:
            continue
        if not any(ch.isupper() for ch in name) and not any(ch.isdigit() for ch in head):
            continue
        if len(name) < 2:
            continue
        if head.lower() in _EN_FUNCTION:
            name = name.split(maxsplit=1)[1]
        found.append(name)
    lowered = text.lower()
    for word in known_entities():
        if word.lower() in lowered and not any(word in other for other in found):
            found.append(word)
    return tuple(found)


def mask_entities(text: str) -> str:
    return _LATIN_ENTITY.sub(
        lambda m: m.group(0) if not any(c.isdigit() for c in m.group(0)) else " " * len(m.group(0)),
        text,
    )


def mask_facts(text: str) -> str:
    """The text without numbers and dates: what remains is the wording to compare."""
    return re.sub(r"\d+(?:[.,]\d+)*", " ", mask_dates(text))


def canonical_entity(name: str) -> str:
    return aliases().get(name.lower(), name).lower()


def mentions(text: str, name: str) -> bool:
    """Is `name` (or one of its aliases) in `text` as a whole token, not part of a longer name?"""
    target = canonical_entity(name)
    names = [alias for alias, canon in aliases().items() if canon.lower() == target] or [name]
    lowered = text.lower()
    for alias in {*names, name.lower()}:
        pattern = re.escape(alias.lower())
        if _CJK.search(alias):
            if alias.lower() in lowered:
                return True
        elif re.search(rf"(?<![a-z0-9.\-]){pattern}(?![a-z0-9]|[.\-][a-z0-9])", lowered):
            return True
    return False


def stem(name: str) -> str:
    """A name without its version numbers: `GPT-5.3-Codex` → `gpt--codex`."""
    return re.sub(r"\d+(?:\.\d+)*", "", name.lower()).strip()


_NEGATION = re.compile(
    r"(?<!尚)未(?!成年|来|知|经)|尚未|没有|并非|不会|不再|否认|取消|暂停|"
    r"\bnot\b|\bno longer\b|\bdenied\b|\bnever\b",
    re.I,
)
_HEADLINE = re.compile(r"^\*\*(?P<title>.+?)\*\*[:：]\s*(?P<rest>.*)$", re.S)


def claim_parts(text: str) -> list[str]:
    """A bullet `**headline**：sentence` is two statements; anything else is one."""
    match = _HEADLINE.match(text.strip())
    if match is None:
        return [text]
    return [part for part in (match.group("title"), match.group("rest")) if part.strip()]


def negations(text: str) -> int:
    return len(_NEGATION.findall(text))
