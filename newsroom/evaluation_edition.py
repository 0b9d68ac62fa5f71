"""Judging a published edition against a labelled real week: does it carry the week's AI
highlights, lead with them, leave the off-desk items out, keep one bullet per event, keep its
themes pure, name its lead events in the headings, and merge what one event told by many outlets?

The figures are defined in the issue on editorial judgement; each function below says which."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from newsroom.errors import UsageError
from newsroom.evaluation import item_rows

ROUND_UP_LISTS = 3
_LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?P<text>.+)$")
_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<text>.*?)\s*$")
_LINK = re.compile(r"\]\((?P<url>[^)\s]+)\)")
_NOT_A_THEME = re.compile(
    r"趋势|展望|参考|来源|结语|总结|小结|建议|影响|outlook|trend|reference|closing|summary|advice",
    re.I,
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+]*")


_TRACKING = re.compile(r"(?:^|&)(?:utm_[^=&]*|fbclid|gclid)=[^&]*")


def canonical(url: str) -> str:
    """The issue's URL key: no scheme, no `www.`, no `#fragment`, no trailing `/` (and no
    tracking parameters: `utm_*`, `fbclid`, `gclid`)."""
    text = url.strip().split("#", 1)[0]
    if "?" in text:
        head, query = text.split("?", 1)
        query = _TRACKING.sub("", query).strip("&")
        text = f"{head}?{query}" if query else head
    text = re.sub(r"^[a-z][a-z0-9+.\-]*://", "", text, flags=re.I)
    text = re.sub(r"^www\.", "", text, flags=re.I)
    return text.rstrip("/").lower()


@dataclass
class Bullet:
    line: int
    text: str
    items: list[str]
    heading: str | None = None


@dataclass
class Week:
    """One labelled week: its items (by id and URL), labels, round-ups and event partners."""

    week: str
    titles: dict[str, str]
    by_url: dict[str, str]
    ai: dict[str, bool]
    beat: dict[str, str]
    highlights: list[dict[str, Any]]
    events: list[list[str]]
    round_ups: set[str] = field(default_factory=set)

    def is_ai(self, item: str) -> bool:
        return self.ai.get(item, True)  # items missing from the labels count as AI

    def related(self, a: str, b: str) -> bool:
        """Same item, or two items in one event group or one highlight (round-ups aside)."""
        if a == b:
            return True
        if a in self.round_ups or b in self.round_ups:
            return False
        groups = [*self.events, *(h["items"] for h in self.highlights)]
        return any(a in g and b in g for g in groups)


def read_items(path: Path) -> list[dict[str, Any]]:
    """The week's items; every row needs an `id`."""
    rows = item_rows(path)
    if not all(isinstance(r, dict) and "id" in r for r in rows):
        raise UsageError(f"{path}: expected a list of items, each with an `id`")
    return rows


def load_week(items_path: Path, labels_path: Path) -> Week:
    rows = read_items(items_path)
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{labels_path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{labels_path}: not JSON ({exc.msg})") from None
    if not isinstance(labels, dict) or not isinstance(labels.get("items"), dict):
        raise UsageError(f"{labels_path}: expected the labels' shape (week, items, highlights)")
    week = Week(
        week=str(labels.get("week", "")),
        titles={str(r["id"]): str(r.get("title", "")) for r in rows},
        by_url={canonical(str(r["url"])): str(r["id"]) for r in rows if r.get("url")},
        ai={k: bool(v.get("ai", True)) for k, v in labels["items"].items()},
        beat={k: str(v.get("beat", "")) for k, v in labels["items"].items()},
        highlights=[h for h in labels.get("highlights", []) if isinstance(h, dict)],
        events=[list(g) for g in labels.get("events", [])],
    )
    listed = Counter(
        item for group in [*week.events, *(h["items"] for h in week.highlights)] for item in group
    )
    week.round_ups = {item for item, n in listed.items() if n >= ROUND_UP_LISTS}
    return week


def _cited(text: str, week: Week) -> tuple[list[str], bool]:
    """Items a line cites (in order, once each), and whether it cites anything at all."""
    urls = [m.group("url") for m in _LINK.finditer(text)]
    items = [week.by_url[canonical(u)] for u in urls if canonical(u) in week.by_url]
    return list(dict.fromkeys(items)), bool(urls)


def evidence_bullets(markdown: str, week: Week) -> tuple[list[Bullet], int]:
    """List lines with a citation under a theme heading (`###`), outlook, references, closing
    and summary sections left out; and how many of them cite no item of the week."""
    bullets, unmapped = [], 0
    heading: str | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        head = _HEADING.match(line)
        if head:
            level, text = len(head.group("level")), head.group("text")
            heading = text if level == 3 and not _NOT_A_THEME.search(text) else None
            continue
        listed = _LIST_LINE.match(line)
        if heading is None or listed is None:
            continue
        items, cites = _cited(listed.group("text"), week)
        if not cites:
            continue
        if not items:
            unmapped += 1
            continue
        bullets.append(Bullet(number, listed.group("text"), items, heading))
    return bullets, unmapped


def lead_lines(markdown: str, week: Week) -> list[list[str]]:
    """The items each list line of the briefing's first `##` section cites."""
    lines, inside = [], False
    for line in markdown.splitlines():
        head = _HEADING.match(line)
        if head and len(head.group("level")) <= 2:
            if inside:
                break
            inside = len(head.group("level")) == 2
            continue
        listed = _LIST_LINE.match(line)
        if inside and listed:
            items, _ = _cited(listed.group("text"), week)
            if items:
                lines.append(items)
    return lines


def highlight_recall(week: Week, cited: Iterable[Sequence[str]]) -> tuple[float, list[int]]:
    """Of the AI highlights with items, the share some cited line reaches; a round-up counts
    for a highlight only when the highlight lists no other item. Also the missed highlights."""
    reached = {item for items in cited for item in items}
    wanted, missed = 0, []
    for highlight in week.highlights:
        if not highlight.get("ai", True) or not highlight.get("items"):
            continue
        wanted += 1
        own = [i for i in highlight["items"] if i not in week.round_ups] or highlight["items"]
        if not reached.intersection(own):
            missed.append(int(highlight.get("n", 0)))
    return (1 - len(missed) / wanted if wanted else 1.0), missed


def duplicate_pairs(bullets: Sequence[Bullet], week: Week) -> list[tuple[int, int]]:
    """Pairs of bullets reporting one event (same item, one event group, one highlight)."""
    pairs = []
    for a, b in combinations(bullets, 2):
        mine = [i for i in a.items if i not in week.round_ups]
        theirs = [i for i in b.items if i not in week.round_ups]
        if any(week.related(x, y) for x in mine for y in theirs):
            pairs.append((a.line, b.line))
    return pairs


def theme_purity(bullets: Sequence[Bullet], week: Week) -> float | None:
    by_theme: dict[str, list[str]] = {}
    for bullet in bullets:
        by_theme.setdefault(bullet.heading or "", []).append(week.beat.get(bullet.items[0], ""))
    shares = [
        Counter(beats).most_common(1)[0][1] / len(beats)
        for beats in by_theme.values()
        if len(beats) >= 2
    ]
    return sum(shares) / len(shares) if shares else None


def heading_entity_share(
    bullets: Sequence[Bullet], week: Week, desk_entities: Sequence[str] = ()
) -> tuple[float | None, list[str]]:
    """Share of theme headings holding a name (Latin letters or digits, 2+ long, or a desk
    entity) that is in the title of the theme's first bullet's item; and the headings that fail."""
    first: dict[str, str] = {}
    for bullet in bullets:
        first.setdefault(bullet.heading or "", bullet.items[0])
    failing = []
    for heading, item in first.items():
        title = week.titles.get(item, "").lower()
        names = [n for n in _NAME.findall(heading) if len(n) >= 2]
        names += [e for e in desk_entities if e in heading]
        if not any(name.lower().strip(".-+") in title for name in names):
            failing.append(heading)
    return (1 - len(failing) / len(first) if first else None), failing


def _pairs(groups: Iterable[Iterable[str]], keep: set[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for group in groups:
        members = sorted({i for i in group if i in keep})
        out.update(combinations(members, 2))
    return out


def merged_stories(stories: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The run's events: each story's items, joined with the stories marked as repeating it
    (the clusterer's second pass: reports dedup kept apart that it judged one event)."""
    parent: dict[str, str] = {}

    def root(story_id: str) -> str:
        while parent.get(story_id, story_id) != story_id:
            story_id = parent[story_id]
        return story_id

    known = {str(s.get("id")) for s in stories}
    for story in stories:
        target = story.get("repeats")
        if target and str(target) in known and root(str(target)) != root(str(story["id"])):
            parent[root(str(story["id"]))] = root(str(target))
    events: dict[str, list[str]] = {}
    for story in stories:
        events.setdefault(root(str(story.get("id"))), []).extend(story.get("item_ids", []))
    return list(events.values())


def same_event_pairs(stories: Sequence[Sequence[str]], week: Week) -> tuple[int, int, int]:
    """Predicted pairs, true pairs and their overlap over the run's non-round-up items."""
    in_run = {i for story in stories for i in story} - week.round_ups
    predicted = _pairs(stories, in_run)
    truth = _pairs(week.events, in_run)
    return len(predicted), len(truth), len(predicted & truth)


def _edition_folder(edition: Path, week: str) -> Path:
    if (edition / "weekly.md").is_file():
        return edition
    if week and (edition / week / "weekly.md").is_file():
        return edition / week
    raise UsageError(f"{edition} holds no weekly.md (nor {week}/weekly.md)")


def evaluate_edition(
    items_path: Path, labels_path: Path, edition: Path, desk_entities: Sequence[str] = ()
) -> dict[str, Any]:
    week = load_week(items_path, labels_path)
    folder = _edition_folder(edition, week.week)
    weekly = (folder / "weekly.md").read_text(encoding="utf-8")
    said = re.search(r"^week:\s*(\S+)\s*$", weekly, re.M)
    if said and week.week and said.group(1).strip("\"'") != week.week:
        raise UsageError(
            f"{folder / 'weekly.md'} is the edition of {said.group(1)}, the labels are of "
            f"{week.week}"
        )
    bullets, unmapped = evidence_bullets(weekly, week)
    if unmapped and not bullets:
        raise UsageError(
            f"no evidence bullet of {folder / 'weekly.md'} cites an item of {items_path}: "
            "are they the same week?"
        )
    recall, missed = highlight_recall(week, (b.items for b in bullets))
    briefing_path = folder / "briefing.md"
    # No briefing: no lead recall (None), rather than a confident zero.
    leads = (
        lead_lines(briefing_path.read_text(encoding="utf-8"), week)
        if briefing_path.is_file()
        else []
    )
    lead: float | None = None
    lead_missed: list[int] = []
    if briefing_path.is_file():
        lead, lead_missed = highlight_recall(week, leads)
    off = [b for b in bullets if not any(week.is_ai(i) for i in b.items)]
    duplicates = duplicate_pairs(bullets, week)
    heading_share, failing = heading_entity_share(bullets, week, desk_entities)
    report_path = folder / "report.json"
    stories: list[list[str]] = []
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        stories = merged_stories(report.get("stories", []))
    predicted, truth, hit = same_event_pairs(stories, week)
    return {
        "week": week.week,
        "evidence_bullets": len(bullets),
        "unmapped_bullets": unmapped,
        "highlight_recall": round(recall, 4),
        "highlights_missed": missed,
        "lead_recall": None if lead is None else round(lead, 4),  # None: no briefing.md
        "lead_lines": len(leads),
        "leads_missed": lead_missed,
        "off_topic_share": round(len(off) / len(bullets), 4) if bullets else 0.0,
        "off_topic_bullets": [b.line for b in off],
        "duplicate_bullet_pairs": len(duplicates),
        "duplicate_lines": duplicates,
        "theme_purity": None if (p := theme_purity(bullets, week)) is None else round(p, 4),
        "heading_entity_share": None if heading_share is None else round(heading_share, 4),
        "headings_without_entity": failing,
        "same_event": {
            "predicted_pairs": predicted,
            "true_pairs": truth,
            "hits": hit,
            "precision": round(hit / predicted, 4) if predicted else 1.0,
            "recall": round(hit / truth, 4) if truth else 1.0,
        },
    }


def pooled_same_event(results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    predicted = sum(r["same_event"]["predicted_pairs"] for r in results)
    truth = sum(r["same_event"]["true_pairs"] for r in results)
    hit = sum(r["same_event"]["hits"] for r in results)
    return {
        "precision": round(hit / predicted, 4) if predicted else 1.0,
        "recall": round(hit / truth, 4) if truth else 1.0,
    }
