"""A synthetic week of N news items, reproducible from a seed: Chinese and English, five
categories, near-duplicates at a known rate, dated across the week.

    python benchmarks/corpus.py 1000 --seed 7 --out /tmp/week-1k     # writes week.json

Items are built from the bundled sample week: each synthetic event takes a sample item's
category, entities and figures and varies them (another company, another amount, another day);
a share of events are reported again by other outlets with reworded text (the near-duplicates).
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from newsroom.config import bundled_sources
from newsroom.tools.formats import read_folder
from newsroom.weeks import parse_week

COMPANIES = [
    "星河智能",
    "深度求索",
    "云帆科技",
    "极光数据",
    "北辰机器人",
    "蓝鲸算力",
    "青藤模型",
    "Nova AI",
    "Helix Labs",
    "Orbit Robotics",
    "Quanta Cloud",
    "Lumen Data",
]
OUTLETS = ["样例科技日报", "样例财经", "样例快讯", "Sample Tech Wire", "样例周刊", "样例观察"]
REWORDS = [
    ("发布", "推出"),
    ("完成", "宣布完成"),
    ("计划", "拟"),
    ("提升", "提高"),
    ("用于", "将用于"),
]


def make_week(size: int, seed: int = 7, duplicate_rate: float = 0.2) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    window = parse_week("2026-W06")
    base = [
        i for i in read_folder(bundled_sources(), window.tz).items if window.contains(i.published)
    ]
    items: list[dict[str, Any]] = []
    event = 0
    while len(items) < size:
        template = rng.choice(base)
        company = rng.choice(COMPANIES)
        figure = rng.randint(2, 90)
        day = window.start + timedelta(days=rng.randrange(7), hours=rng.randrange(8, 22))
        summary = template.summary
        for name in ("OpenAI", "百度", "阿里巴巴", "月之暗面", "生数科技", "Resolve AI", "谷歌"):
            summary = summary.replace(name, company)
        summary = f"{company}：{summary}本次涉及金额约{figure}亿元。"
        title = f"{company}{template.title[-16:]}"
        reports = 1 + (rng.random() < duplicate_rate) * rng.randint(1, 3)
        for copy in range(min(reports, size - len(items))):
            text = summary
            if copy:
                old, new = rng.choice(REWORDS)
                text = text.replace(old, new, 1)
            items.append(
                {
                    "id": f"syn-{event}-{copy}",
                    "title": title,
                    "summary": text,
                    "source": OUTLETS[(event + copy) % len(OUTLETS)],
                    "url": f"https://samples.newsroom.example/synthetic/{event}/{copy}",
                    "published": (day + timedelta(minutes=37 * copy)).isoformat(),
                    "lang": template.lang,
                    "category": template.category,
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
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = make_week(args.size, args.seed)
    (args.out / "week.json").write_text(json.dumps({"items": items}, ensure_ascii=False))
    print(
        f"{len(items)} items, {len({i['dup_group'] for i in items if i['dup_group']})} "
        f"duplicated events → {args.out / 'week.json'}"
    )


if __name__ == "__main__":
    main()
