"""Publishing: the draft (data) rendered as Markdown with 11ty front matter, plus report.json.
References come from the evidence ledger (what claims cite), never from model text."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsroom.models import Claim, Draft, Report, SourceItem, Story, Theme, Verdict
from newsroom.weeks import WeekWindow


@dataclass(frozen=True)
class FrontMatter:
    layout: str = "layouts/post.njk"
    tags: tuple[str, ...] = ("AI", "周报")
    extra: Mapping[str, str] = field(default_factory=dict)


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file so a crash never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _yaml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


class References:
    """Numbers sources in order of first citation."""

    def __init__(self, items: Mapping[str, SourceItem]) -> None:
        self.items = items
        self.order: list[str] = []

    def mark(self, cites: Sequence[str]) -> str:
        marks = []
        for item_id in cites:
            if item_id not in self.order:
                self.order.append(item_id)
            number = self.order.index(item_id) + 1
            marks.append(f"[[{number}]]({self.items[item_id].url})")
        return "".join(marks)

    def render(self) -> list[str]:
        lines = []
        for number, item_id in enumerate(self.order, start=1):
            item = self.items[item_id]
            lines.append(
                f'{number}. <a id="ref-{number}"></a>[{item.title}]({item.url})'
                f" — {item.source}，{item.published:%Y-%m-%d}"
            )
        return lines


def render_weekly(
    window: WeekWindow,
    engine: str,
    run_id: str,
    draft: Draft,
    verdicts: Mapping[str, Verdict],
    items: Mapping[str, SourceItem],
    front_matter: FrontMatter,
    status: str = "ok",
    models: Mapping[str, str] | None = None,
) -> tuple[str, list[Claim], list[Claim]]:
    """Markdown of the weekly analysis; returns it with the published and the dropped claims."""
    claims = {c.id: c for c in draft.claims}
    published = [
        c for c in draft.claims if verdicts.get(c.id) and verdicts[c.id].label == "supported"
    ]
    dropped = [c for c in draft.claims if c not in published]
    refs = References(items)
    last_day = window.days[-1].isoformat()
    description = draft.lead[:120]
    head = [
        "---",
        f"title: {_yaml(draft.title)}",
        f"description: {_yaml(description)}",
        f"date: {last_day}",
        f"scheduled: {last_day}",
        "tags:",
    ]
    head += [f"  - {_yaml(tag)}" for tag in front_matter.tags]
    head += [
        f"layout: {_yaml(front_matter.layout)}",
        f"week: {window.week}",
        f"generator: {engine}",
        f"status: {status}",
        f"run_id: {run_id}",
    ]
    if models:
        head.append("models:")
        head += [f"  {agent}: {_yaml(model)}" for agent, model in sorted(models.items())]
    head += [f"{key}: {_yaml(value)}" for key, value in front_matter.extra.items()]
    head.append("---")
    body = ["", f"# {draft.title}", ""]
    if engine == "offline":
        body += [
            "> 本期由 newsroom **离线引擎**生成：证据句从来源中抽取（MMR），主题由句向量聚类与 "
            "c-TF-IDF 命名，未使用大语言模型；每条证据都经过事实核查并标注来源。",
            "",
        ]
    if status != "ok":
        body += [f"> **注意：本期为不完整版本（status: {status}）。**", ""]
    for note in draft.notes:
        body += [f"> {note}", ""]
    body += [draft.lead, ""]
    for section in draft.sections:
        body += ["---", "", f"### {section.heading}", "", section.lead, ""]
        if section.note:
            body += [f"> {section.note}", ""]
        evidence = [
            claims[i]
            for i in section.claim_ids
            if claims[i] in published and claims[i].kind == "evidence"
        ]
        impact = [
            claims[i]
            for i in section.claim_ids
            if claims[i] in published and claims[i].kind == "impact"
        ]
        if evidence:
            body.append("证据链：")
            body += [f"- {c.text.rstrip('。')}。{refs.mark(c.cites)}" for c in evidence]
            body.append("")
        if impact:
            body.append("影响判断（据来源背景）：" if engine == "offline" else "影响判断：")
            body += [f"- {c.text.rstrip('。')}。{refs.mark(c.cites)}" for c in impact]
            body.append("")
    body += ["---", "", "### 趋势展望（下周要观察的信号）", ""]
    body += [f"{n}. {line}" for n, line in enumerate(draft.outlook, start=1)]
    if draft.advice:
        body += ["", "### 对不同角色的建议", ""]
        body += [f"- {line}" for line in draft.advice]
    revised = sum(1 for c in published if c.revision > 0)
    body += [
        "",
        "### 结语",
        "",
        f"本期共发布{len(published)}条经事实核查的证据与判断（其中{revised}条经修订后通过），"
        f"另有{len(dropped)}条未能被所引来源证实，已删除、未发布。",
        *(["", draft.closing] if draft.closing else []),
        "",
    ]
    body += ["### 参考", "", *refs.render(), ""]
    return "\n".join(head + body), published, dropped


def publish_edition(
    out_dir: Path,
    window: WeekWindow,
    engine: str,
    run_id: str,
    draft: Draft,
    verdicts: Mapping[str, Verdict],
    themes: Sequence[Theme],
    stories: Sequence[Story],
    items: Mapping[str, SourceItem],
    front_matter: FrontMatter,
    status: str = "ok",
    models: Mapping[str, str] | None = None,
) -> dict[str, str]:
    folder = out_dir / window.week
    markdown, published, dropped = render_weekly(
        window, engine, run_id, draft, verdicts, items, front_matter, status, models
    )
    cited = {i for claim in published for i in claim.cites}
    report = Report(
        week=window.week,
        title=draft.title,
        generator=engine,
        models=dict(models or {}),
        themes=list(themes),
        stories=list(stories),
        claims=published,
        verdicts=[verdicts[c.id] for c in draft.claims if c.id in verdicts],
        dropped=dropped,
        sources=[items[i] for i in items if i in cited],
    )
    weekly, report_path = folder / "weekly.md", folder / "report.json"
    write_atomic(report_path, report.model_dump_json(indent=2))
    write_atomic(weekly, markdown)
    return {"weekly": str(weekly), "report": str(report_path)}
