"""Publishing: one run's stories rendered as every edition our users publish — the weekly
analysis, the daily (or weekly) digest and the briefing — in Markdown with 11ty front matter from
Jinja2 templates (the user's own folder first), plus JSON. References come from what each line
cites, never from model text; nothing that failed the fact-check is published."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from newsroom.errors import UsageError
from newsroom.methods.headlines import headline
from newsroom.methods.text import sentences
from newsroom.models import (
    Claim,
    Draft,
    LeftOut,
    Opinion,
    Report,
    SourceItem,
    Story,
    Theme,
    Verdict,
)
from newsroom.weeks import WeekWindow

EDITIONS = ("weekly", "digest", "briefing")


@dataclass(frozen=True)
class FrontMatter:
    layout: str = "layouts/post.njk"
    tags: tuple[str, ...] = ("AI", "周报")
    author: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    templates: Path | None = None  # a folder whose templates replace the bundled ones


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file so a crash never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class WeekLocked(UsageError):
    """Another process is publishing the same week into the same folder (exit 2)."""


def lock_path(out_dir: Path, week: str) -> Path:
    return out_dir / ".newsroom" / "locks" / f"{week}.lock"


def staging_folder(out_dir: Path, run_id: str) -> Path:
    """Where a run writes its edition before swapping it into the week folder."""
    return out_dir / ".newsroom" / "staging" / run_id


@contextlib.contextmanager
def week_lock(out_dir: Path, week: str, run_id: str) -> Iterator[None]:
    """Hold the lock on publishing `week` into `out_dir`, or raise WeekLocked at once.

    An exclusive `flock` on OUT/.newsroom/locks/WEEK.lock: the OS releases it when its holder
    dies, so a lock file left by a dead process blocks nothing. The file only names the holder
    (run id and pid) for the message another run prints."""
    path = lock_path(out_dir, week)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                holder = {}
            raise WeekLocked(
                f"{week} is being published into {out_dir} by run "
                f"{holder.get('run_id', 'unknown')} (pid {holder.get('pid', 'unknown')}); "
                "wait for it or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"run_id": run_id, "pid": os.getpid()}).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _yaml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sentence(text: str) -> str:
    return text.rstrip("。.") + ("。" if any("\u4e00" <= c <= "\u9fff" for c in text) else ".")


class References:
    """Numbers sources in order of first citation."""

    def __init__(self, items: Mapping[str, SourceItem]) -> None:
        self.items = items
        self.order: list[str] = []
        self._number: dict[str, int] = {}

    def mark(self, cites: Sequence[str]) -> str:
        marks = []
        for item_id in cites:
            if item_id not in self.items:
                continue
            if item_id not in self._number:
                self.order.append(item_id)
                self._number[item_id] = len(self.order)
            number = self._number[item_id]
            # An item without a web address (quoted from a newsletter) links to its reference.
            marks.append(f"[[{number}]]({self.items[item_id].url or f'#ref-{number}'})")
        return "".join(marks)

    def render(self) -> list[str]:
        lines = []
        for number, item_id in enumerate(self.order, start=1):
            item = self.items[item_id]
            title = f"[{item.title}]({item.url})" if item.url else item.title
            lines.append(
                f'{number}. <a id="ref-{number}"></a>{title}'
                f" — {item.source}，{item.published:%Y-%m-%d}"
            )
        return lines


@functools.cache
def _templates(folder: Path | None) -> Any:
    """One environment per template folder: it compiles each template once and reloads a file
    the user changes (a service keeps running while its templates are edited)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

    loaders: list[Any] = []
    if folder is not None:
        loaders.append(FileSystemLoader(str(folder)))
    loaders.append(PackageLoader("newsroom", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["yaml"] = _yaml
    env.filters["sentence"] = _sentence
    return env


@dataclass
class RunView:
    """What every edition is rendered from: one run's stories, themes and checked draft."""

    window: WeekWindow
    engine: str
    run_id: str
    draft: Draft
    verdicts: Mapping[str, Verdict]
    themes: Sequence[Theme]
    stories: Sequence[Story]
    items: Mapping[str, SourceItem]
    front_matter: FrontMatter
    status: str = "ok"
    models: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)  # story id → digest category

    @property
    def published(self) -> list[Claim]:
        return [
            c
            for c in self.draft.claims
            if self.verdicts.get(c.id) is not None and self.verdicts[c.id].label == "supported"
        ]

    @property
    def lead_claims(self) -> list[Claim]:
        return [c for c in self.published if c.kind == "lead"]

    @property
    def lead_text(self) -> str:
        return self.draft.lead or "".join(_sentence(c.text) for c in self.lead_claims)

    @property
    def dropped(self) -> list[Claim]:
        kept = {c.id for c in self.published}
        return [c for c in self.draft.claims if c.id not in kept]

    def render(
        self,
        template: str,
        edition: str,
        title: str,
        description: str,
        day: date | None = None,
        **values: Any,
    ) -> str:
        refs = References(self.items)
        env = _templates(self.front_matter.templates)
        text = str(
            env.get_template(template).render(
                title=title,
                description=description[:120],
                date=(day or self.window.days[-1]).isoformat(),
                front_matter=self.front_matter,
                edition=edition,
                week=self.window.week,
                engine=self.engine,
                status=self.status,
                run_id=self.run_id,
                models=dict(self.models),
                notes=self.draft.notes,
                draft=self.draft,
                lead_claims=self.lead_claims,
                cite=refs.mark,
                references=refs.render,
                **values,
            )
        )
        # templates stay readable with generous blank lines; the edition gets one at most
        return re.sub(r"\n{3,}", "\n\n", text)


def outlook_lines(view: RunView) -> list[dict[str, Any]]:
    """The outlook: checked outlook claims where the writer made them claims, each line's
    parts together (a line is published whole or not at all), its plain lines otherwise."""
    if not any(c.kind == "outlook" for c in view.draft.claims):
        return [
            {"parts": [{"text": line, "cites": [], "context": ""}]} for line in view.draft.outlook
        ]
    published = {c.id for c in view.published}
    lines: dict[str, list[Claim]] = {}
    for claim in view.draft.claims:
        if claim.kind == "outlook":
            # A storyline line's parts share `outlook-N`; any other outlook claim is a line.
            key = claim.theme_id if claim.theme_id.startswith("outlook-") else claim.id
            lines.setdefault(key, []).append(claim)
    return [
        {"parts": [{"text": c.text, "cites": c.cites, "context": c.context} for c in parts]}
        for parts in lines.values()
        if all(c.id in published for c in parts)
    ]


def opinion_lines(draft: Draft) -> list[Opinion]:
    """The closing and the advice, when the draft publishes them as the newsroom's opinion."""
    if not draft.opinion:
        return []
    lines = [Opinion(kind="advice", text=line) for line in draft.advice]
    return lines + ([Opinion(kind="closing", text=draft.closing)] if draft.closing else [])


def render_weekly(view: RunView) -> str:
    claims = {c.id: c for c in view.published}
    sections = []
    for section in view.draft.sections:
        kept = [claims[i] for i in section.claim_ids if i in claims]
        sections.append(
            {
                "heading": section.heading,
                "lead": section.lead,
                "lead_claim": next((c for c in kept if c.kind == "section_lead"), None),
                "note": section.note,
                "evidence": [c for c in kept if c.kind == "evidence"],
                "impact": [c for c in kept if c.kind == "impact"],
            }
        )
    return view.render(
        "weekly.md.j2",
        "weekly",
        view.draft.title,
        view.lead_text,
        sections=sections,
        outlook=outlook_lines(view),
        published=view.published,
        dropped=view.dropped,
        revised=sum(1 for c in view.published if c.revision > 0),
    )


def _entry_lines(item: SourceItem) -> list[dict[str, Any]]:
    """说明 / 背景 / 要点 lines of one item, each a statement of that item."""
    lines = [{"field": "说明", "text": s, "cites": [item.id]} for s in sentences(item.summary)[:1]]
    for line in item.body.splitlines():
        line = line.strip()
        if line.startswith("背景："):
            lines.append({"field": "背景", "text": line.removeprefix("背景："), "cites": [item.id]})
        elif line:
            lines.append({"field": "要点", "text": line, "cites": [item.id]})
    if len(lines) == 1:  # a feed item: the rest of its summary as 要点
        lines += [
            {"field": "要点", "text": s, "cites": [item.id]} for s in sentences(item.summary)[1:3]
        ]
    return lines


def _quoted(line: Mapping[str, Any], items: Mapping[str, SourceItem]) -> bool:
    cites = line["cites"]
    return len(cites) == 1 and cites[0] in items and line["text"] in items[cites[0]].text


def digest_data(view: RunView, day: date | None = None) -> dict[str, Any]:
    """Stories by category; with `day`, only that day's items (in the week's time zone)."""
    from newsroom.agents.fact_checker import OfflineFactChecker

    checker = OfflineFactChecker()
    by_category: dict[str, list[dict[str, Any]]] = {}
    dropped = 0
    for story in view.stories:
        members = [view.items[i] for i in story.item_ids if i in view.items]
        if day is not None:
            members = [i for i in members if view.window.local_date(i.published) == day]
        if not members:
            continue
        lead = next((i for i in members if i.title == story.title), members[0])
        lines = []
        for line in _entry_lines(lead):
            # A line quoted word for word from the one source it cites says what that source
            # says; anything else goes through the fact-checker.
            if _quoted(line, view.items):
                lines.append(line)
                continue
            claim = Claim(id="digest", theme_id="digest", text=line["text"], cites=line["cites"])
            if checker.check(claim, view.items).label == "supported":
                lines.append(line)
            else:
                dropped += 1
        category = view.categories.get(story.id) or lead.category or "其他"
        by_category.setdefault(category, []).append(
            {
                "story_id": story.id,
                "title": lead.title,
                "title_cites": [lead.id],
                "lines": lines,
                "sources": [{"source": i.source, "url": i.url, "id": i.id} for i in members],
                "published": min(i.published for i in members).isoformat(),
            }
        )
    order = list(dict.fromkeys([*view.categories.values()]))
    names = sorted(by_category, key=lambda n: order.index(n) if n in order else len(order))
    return {
        "day": day.isoformat() if day else None,
        "dropped_lines": dropped,
        "categories": [{"name": n, "entries": by_category[n]} for n in names],
    }


def render_digest(view: RunView, day: date | None = None) -> tuple[str, dict[str, Any]]:
    data = digest_data(view, day)
    when = day.isoformat() if day else view.window.week
    entries = sum(len(c["entries"]) for c in data["categories"])
    title = f"AI 行业动态 ({when})"
    description = (
        f"{when}：{entries}条AI行业动态，按{len(data['categories'])}个类别整理，每条附来源。"
    )
    markdown = view.render(
        "digest.md.j2", "digest", title, description, day=day, categories=data["categories"]
    )
    return markdown, data


def briefing_data(view: RunView, highlights: int = 10) -> dict[str, Any]:
    """The week's top stories by importance (newest first among equals; a round-up only when
    nothing else is left), then the weekly's sections, then the other stories in brief."""
    claims = {c.id: c for c in view.published}
    by_id = {s.id: s for s in view.stories}
    ranked = sorted(
        view.stories,
        key=lambda s: (s.round_up, -s.importance, -s.weight, -s.published.timestamp()),
    )
    # One line per event: a story repeating a more important one is told there.
    top = [s for s in ranked if s.repeats is None][:highlights]
    sections = []
    covered = {s.id for s in top}
    for theme, section in zip(view.themes, view.draft.sections, strict=False):
        kept = [
            claims[i] for i in section.claim_ids if i in claims and claims[i].kind == "evidence"
        ]
        if not kept:
            continue
        name = section.heading.split("：", 1)[-1]
        lead = next(
            (
                claims[i]
                for i in section.claim_ids
                if i in claims and claims[i].kind == "section_lead"
            ),
            None,
        )
        sections.append({"name": name, "lead": lead.text if lead else section.lead, "claims": kept})
        cited = {i for c in kept for i in c.cites}
        covered |= {s for s in theme.story_ids if set(by_id[s].item_ids) & cited}
    # In brief: the other events (a repeat of one already told is not told again).
    others = [s for s in ranked if s.id not in covered and s.repeats is None]
    headlines = {
        s.id: headline(view.items[s.item_ids[0]]) if s.item_ids[0] in view.items else s.title
        for s in [*top, *others]
    }
    # A highlight cites its story's reports and those the weekly's checked bullet on it cites
    # beside them (a newsletter's report of the same event).
    checked = {c.cites[0]: c.cites for c in claims.values() if c.kind == "evidence" and c.cites}
    cites = {s.id: list(dict.fromkeys([*s.item_ids, *checked.get(s.item_ids[0], [])])) for s in top}
    return {
        "highlights": top,
        "cites": cites,
        "sections": sections,
        "others": others,
        "headlines": headlines,
    }


def render_briefing(view: RunView) -> tuple[str, dict[str, Any]]:
    data = briefing_data(view)
    year, week = view.window.week.split("-W")
    title = f"{year}年第{int(week)}周AI简报：亮点与深度"
    storylines = (
        [line for line in outlook_lines(view) if any(p["cites"] for p in line["parts"])]
        if any(c.kind == "outlook" and c.theme_id.startswith("outlook-") for c in view.draft.claims)
        else []
    )
    markdown = view.render(
        "briefing.md.j2", "briefing", title, view.lead_text, storylines=storylines, **data
    )
    json_data = {
        "highlights": [
            {"title": s.title, "headline": data["headlines"][s.id], "cites": data["cites"][s.id]}
            for s in data["highlights"]
        ],
        "sections": [
            {"name": s["name"], "lead": s["lead"], "claims": [c.model_dump() for c in s["claims"]]}
            for s in data["sections"]
        ],
        "others": [{"title": s.title, "cites": s.item_ids} for s in data["others"]],
    }
    return markdown, json_data


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
    categories: Mapping[str, str] | None = None,
    day: date | None = None,
    left_out: Sequence[LeftOut] = (),
) -> dict[str, str]:
    """Every edition of the run: weekly.md + report.json, digest.md/.json, briefing.md/.json,
    and with `day` that day's digest."""
    folder = out_dir / window.week
    view = RunView(
        window,
        engine,
        run_id,
        draft,
        verdicts,
        themes,
        stories,
        items,
        front_matter,
        status,
        dict(models or {}),
        dict(categories or {}),
    )
    published = view.published
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
        dropped=view.dropped,
        sources=[items[i] for i in items if i in cited],
        opinion=opinion_lines(draft),
        left_out=list(left_out),
        dated_by_collection=[i for i, item in items.items() if item.dated_by == "collected"],
    )
    # The whole edition is written beside the week folder first, then each file is swapped in:
    # a run that fails while rendering leaves the week folder's edition as it was. The runner
    # holds the week's lock (`week_lock`) from here until run.json is written, last; a reader
    # that wants one whole edition takes that lock, or reads run.json's `outputs` and checks
    # each file's run_id.
    staging = staging_folder(out_dir, run_id)
    if staging.exists():
        shutil.rmtree(staging)  # what an earlier attempt of this run left
    staging.mkdir(parents=True)
    paths = {"weekly": staging / "weekly.md", "report": staging / "report.json"}
    write_atomic(paths["report"], report.model_dump_json(indent=2))
    write_atomic(paths["weekly"], render_weekly(view))
    digest, digest_json = render_digest(view)
    paths |= {"digest": staging / "digest.md", "digest_json": staging / "digest.json"}
    write_atomic(paths["digest"], digest)
    write_atomic(paths["digest_json"], json.dumps(digest_json, ensure_ascii=False, indent=2))
    if day is not None:
        daily, daily_json = render_digest(view, day)
        paths |= {
            "digest_day": staging / f"digest-{day.isoformat()}.md",
            "digest_day_json": staging / f"digest-{day.isoformat()}.json",
        }
        write_atomic(paths["digest_day"], daily)
        write_atomic(paths["digest_day_json"], json.dumps(daily_json, ensure_ascii=False, indent=2))
    briefing, briefing_json = render_briefing(view)
    paths |= {"briefing": staging / "briefing.md", "briefing_json": staging / "briefing.json"}
    write_atomic(paths["briefing"], briefing)
    write_atomic(
        paths["briefing_json"], json.dumps(briefing_json, ensure_ascii=False, indent=2, default=str)
    )
    folder.mkdir(parents=True, exist_ok=True)
    final = {}
    for name, staged in paths.items():
        final[name] = folder / staged.name
        os.replace(staged, final[name])
    shutil.rmtree(staging, ignore_errors=True)
    return {name: str(path) for name, path in final.items()}
