"""A synthetic week of N news items, reproducible from a seed: Chinese and English, eight beats
(half the items carry the beat's digest category), near-duplicates at a known rate, dated across
the week.

    python benchmarks/corpus.py 1000 --seed 7 --out /tmp/week-1k   # writes week-000.json, ...

Items are assembled from the labelled dev week (`evals/dev-2026-W06`): each synthetic event picks
a beat (the dev set's theme labels), a company from a combinatorial pool, an amount and a day, and
writes its title, summary and body with a word-level Markov chain over that beat's sample texts in
its language, so that two events share words the way two stories on one beat do, not whole
sentences. A share of events are
reported again by other outlets with reworded text: the near-duplicates. Each item carries its
ground truth (`theme`, `dup_group`), so quality at scale is measured, not assumed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from newsroom.weeks import parse_week

DEV_ITEMS = Path(__file__).resolve().parent.parent / "evals" / "dev-2026-W06" / "items.jsonl"

ZH_HEADS = (
    "星河 深蓝 云帆 极光 北辰 蓝鲸 青藤 天枢 玄武 启明 赤霄 长风 "
    "远山 澄明 九章 鸿鹄 灵犀 磐石 拾光 墨子 知微 曜石 松果 鲲鹏"
).split()
ZH_TAILS = "科技 智能 数据 机器人 算力 模型 云 芯片 视觉 语音 网络 信息".split()
EN_HEADS = (
    "Nova Helix Orbit Quanta Lumen Vector Apex Cobalt Zenith Arbor Kestrel Tidal Ember Solace Atlas"
).split()
EN_TAILS = "AI Labs Robotics Cloud Data Systems Compute Vision".split()
OUTLETS = ["样例科技日报", "样例财经", "样例快讯", "Sample Tech Wire", "样例周刊", "样例观察"]
UNITS = ["亿元", "亿美元", "万台", "%", "万用户"]
EN_UNITS = ["billion dollars", "million dollars", "percent", "million users"]
CATEGORIES = {
    "models-evals": "模型与技术进展",
    "coding-agents": "产品与应用发布",
    "creative-world": "产品与应用发布",
    "funding": "投融资与并购",
    "adoption": "行业落地与生态",
    "compute": "行业落地与生态",
    "policy": "政策与监管",
    "security": "政策与监管",
}
REWORDS = [
    ("发布", "推出"),
    ("完成", "宣布完成"),
    ("计划", "拟"),
    ("提升", "提高"),
    ("用于", "将用于"),
]
EN_REWORDS = [("released", "launched"), ("announced", "unveiled"), ("plans", "intends")]


def _clauses(text: str) -> list[str]:
    parts = re.split(r"(?<=[。；！？!?])|(?<=[.;])\s+|\n", text)
    parts = [re.sub(r"^(背景|要点|说明)：", "", p.strip()) for p in parts]
    return [p for p in parts if len(p) >= 8]


class _Beat:
    """A word-level Markov chain over one beat's sample clauses in one language, with a
    random jump at each step: text with the beat's vocabulary and local phrasing, in which two
    events share words, as two stories on one beat do, but not whole sentences."""

    def __init__(self, clauses: list[str], lang: str) -> None:
        import jieba

        jieba.setLogLevel(60)
        self.lang = lang
        self.next: dict[str, list[str]] = defaultdict(list)
        self.vocabulary: list[str] = []
        for clause in clauses:
            words = [
                w for w in (jieba.lcut(clause) if lang == "zh" else clause.split()) if w.strip()
            ]
            self.vocabulary.extend(words)
            for a, b in itertools.pairwise(words):
                self.next[a].append(b)

    def text(self, rng: random.Random, words: int) -> str:
        word = rng.choice(self.vocabulary)
        out = [word]
        while len(out) < words:
            follow = self.next.get(word)
            word = (
                rng.choice(follow)
                if follow and rng.random() > 0.35
                else rng.choice(self.vocabulary)
            )
            out.append(word)
        return ("" if self.lang == "zh" else " ").join(out)


def _beats() -> dict[tuple[str, str], _Beat]:
    """One chain per (beat, language) from the dev week's summaries and bodies."""
    pools: dict[tuple[str, str], list[str]] = defaultdict(list)
    for line in DEV_ITEMS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", row["title"]) else "en"
        pools[(row["theme"], lang)].extend(_clauses(f"{row['summary']}\n{row.get('body', '')}"))
    return {key: _Beat(clauses, key[1]) for key, clauses in pools.items() if len(clauses) >= 3}


def make_week(size: int, seed: int = 7, duplicate_rate: float = 0.2) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    window = parse_week("2026-W06")
    chains = _beats()
    beats = sorted({beat for beat, _ in chains})
    items: list[dict[str, Any]] = []
    event = 0
    while len(items) < size:
        beat = rng.choice(beats)
        lang = "en" if rng.random() < 0.1 and (beat, "en") in chains else "zh"
        chain = chains[(beat, lang)]
        figure = round(rng.uniform(1, 999), 1)
        if lang == "zh":
            company = rng.choice(ZH_HEADS) + rng.choice(ZH_TAILS)
            title = f"{company}{chain.text(rng, 6)}"
            summary = f"{company}{chain.text(rng, 30)}，涉及规模约{figure}{rng.choice(UNITS)}。"
            rewords = REWORDS
        else:
            company = f"{rng.choice(EN_HEADS)} {rng.choice(EN_TAILS)}"
            title = f"{company}: {chain.text(rng, 7)}"
            summary = f"{company} {chain.text(rng, 30)}, about {figure} {rng.choice(EN_UNITS)}."
            rewords = EN_REWORDS
        body = chain.text(rng, 30)
        day = window.start + timedelta(days=rng.randrange(7), hours=rng.randrange(8, 22))
        category = CATEGORIES[beat] if rng.random() < 0.5 else None
        reports = 1 + (rng.random() < duplicate_rate) * rng.randint(1, 3)
        for copy in range(min(reports, size - len(items))):
            text = summary
            if copy:
                for old, new in rng.sample(rewords, 2):
                    text = text.replace(old, new, 1)
            items.append(
                {
                    "id": f"syn-{event}-{copy}",
                    "title": title if not copy else f"{title}（{OUTLETS[copy]}）",
                    "summary": text,
                    "body": body,
                    "source": OUTLETS[(event + copy) % len(OUTLETS)],
                    "url": f"https://samples.newsroom.example/synthetic/{event}/{copy}",
                    "published": (day + timedelta(minutes=37 * copy)).isoformat(),
                    "lang": lang,
                    "category": category,
                    "theme": beat,
                    "dup_group": f"event-{event}" if reports > 1 else None,
                }
            )
        event += 1
    return items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("size", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-file", type=int, default=5000, help="items per JSON file")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = make_week(args.size, args.seed)
    for number, start in enumerate(range(0, len(items), args.per_file)):
        chunk = items[start : start + args.per_file]
        path = args.out / f"week-{number:03d}.json"
        path.write_text(json.dumps({"items": chunk}, ensure_ascii=False), encoding="utf-8")
    print(
        f"{len(items)} items, {len({i['dup_group'] for i in items if i['dup_group']})} "
        f"duplicated events → {args.out}"
    )


if __name__ == "__main__":
    main()
