"""Storylines: the stories of one product, organisation or dispute, linked across weeks.

Every run records its week's stories (the desk's, one row per story told for itself) in the run
store beside the editions (`OUT/.newsroom/storylines.sqlite`), each joined to the storyline of
the closest story of an earlier week when the two share a rare name (Codex, OpenClaw, 五角大楼
and Anthropic) and their sentence vectors agree; a story that continues none starts its own.
A week's run can then ask which of its stories continue a storyline, since when, at what pace
(stories and outlets per week), and what went quiet; the weekly's outlook is built from that.

Counts and pace are the store's own figures; what an item states is checked by the
fact-checker against that item, the earlier weeks' items included (they are kept here)."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from newsroom.errors import StorylineStoreError, UsageError
from newsroom.methods import facts
from newsroom.methods.desk import name_words
from newsroom.methods.headlines import headline
from newsroom.models import Claim, Draft, SourceItem, Story
from newsroom.storage import connect, transaction
from newsroom.weeks import parse_week, week_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    week TEXT NOT NULL,
    story_id TEXT NOT NULL,
    storyline TEXT NOT NULL,
    item_ids TEXT NOT NULL,
    outlets INTEGER NOT NULL,
    importance REAL NOT NULL,
    headline TEXT NOT NULL,
    names TEXT NOT NULL,
    PRIMARY KEY (week, story_id)
);
CREATE TABLE IF NOT EXISTS item_texts (
    week TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (week, id)
);
"""

_COLUMNS = {
    "week",
    "story_id",
    "storyline",
    "item_ids",
    "outlets",
    "importance",
    "headline",
    "names",
}

# A story joins an earlier one's storyline at this similarity when they share rare names worth
# `MIN_SHARED` (inverse document frequency, summed), or at `ALONE` without any.
# (Chosen on the six labelled real weeks, evals/realweeks/storylines.json: pairwise links
# precision 0.73, recall 0.46, tuned-on figures.)
SIMILAR = 0.3
ALONE = 0.8
MIN_SHARED = 1.0
# Names in more than this share of the stored stories (OpenAI, Google) tie nothing by themselves.
COMMON = 0.03
# A storyline's core: the names at least this share of its stories carry.
CORE = 0.5


@dataclass
class Entry:
    """One story of one week, as the storyline store keeps it."""

    week: str
    story_id: str
    storyline: str
    item_ids: list[str]
    outlets: int
    importance: float
    headline: str
    names: frozenset[str]

    @property
    def lead(self) -> str:
        return self.item_ids[0]


@dataclass
class Storyline:
    """A storyline's entries, oldest week first, with its figures."""

    id: str
    name: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def weeks(self) -> list[str]:
        return sorted({e.week for e in self.entries})

    def in_week(self, week: str) -> list[Entry]:
        return [e for e in self.entries if e.week == week]

    def pace(self) -> dict[str, dict[str, int]]:
        """Per week: stories and outlets."""
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            row = out.setdefault(e.week, {"stories": 0, "outlets": 0})
            row["stories"] += 1
            row["outlets"] += e.outlets
        return dict(sorted(out.items()))

    def gaps(self) -> list[str]:
        """The weeks missing between its first and last."""
        weeks = self.weeks
        if len(weeks) < 2:
            return []
        return [w for w in weeks_between(weeks[0], weeks[-1]) if w not in weeks]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "weeks": self.weeks,
            "gaps": self.gaps(),
            "pace": self.pace(),
            "stories": [
                {"week": e.week, "story": e.story_id, "items": e.item_ids, "headline": e.headline}
                for e in self.entries
            ],
        }


@contextmanager
def opened(path: Path) -> Iterator[StorylineStore]:
    """The store at `path`, closed after use. Any failure to read or write it (SQLite's, or a
    row that is not ours: bad JSON) is a StorylineStoreError naming the file."""
    store = StorylineStore(path)
    try:
        yield store
    except (sqlite3.Error, ValueError) as exc:
        raise StorylineStoreError(f"storyline store {path} is unreadable: {exc}") from exc
    finally:
        store.close()


def weeks_between(first: str, last: str) -> list[str]:
    """Every ISO week from `first` to `last`, both included."""
    day = parse_week(first).start.date()
    end = parse_week(last).start.date()
    out = []
    while day <= end:
        out.append(week_of(day))
        day += timedelta(days=7)
    return out


def story_names(item: SourceItem) -> frozenset[str]:
    """The names a story can be linked by: known names in either language (英伟达 is nvidia),
    and the title's own names (Codex, OpenClaw), lower case, versions dropped (GPT-5.4 and
    GPT-5.3 are one product line)."""
    first = re.split(r"[。.!?！？]", item.summary, maxsplit=1)[0][:200]
    title = re.sub(r"^\s*\[[^\]]{1,30}\]\s*", "", item.title)  # a newsletter's [AINews]
    found = {
        n.canon
        for n in facts.names(f"{title}\n{first}")
        if n.known and not facts.is_place(n) and not facts.names_outlet(n, [item.source])
    }
    # The title's names, and the Latin names the summary's first sentence writes inside
    # Chinese (a title's first word, capitalised anyway, is named there).
    for word in name_words(title) | name_words(first):
        stem = word.rstrip("0123456789.").rstrip("-")
        if len(stem) >= 3 and not stem.isdigit() and stem not in facts.GENERIC_WORDS:
            found.add(facts.canon(stem) if facts.is_known(stem) else stem)
            if stem != word:
                # The version too: gpt5.4 is rarer than gpt, and ties GPT-5.4's weeks.
                found.add(word)
    return frozenset(found - {"ai"})


class StorylineStore:
    """The storylines of one output folder, in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = connect(path)
            self.conn.executescript(_SCHEMA)
            columns = {row[1] for row in self.conn.execute("PRAGMA table_info(entries)")}
        except (sqlite3.Error, OSError) as exc:
            raise StorylineStoreError(f"storyline store {path} is unusable: {exc}") from exc
        if columns != _COLUMNS:
            self.conn.close()
            raise StorylineStoreError(
                f"storyline store {path} has a table `entries` of another shape "
                f"({', '.join(sorted(columns))}); move it away to start anew"
            )

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ reading
    def weeks(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT week FROM entries ORDER BY week")]

    def entries(self, before: str | None = None, since: str | None = None) -> list[Entry]:
        query = "SELECT week, story_id, storyline, item_ids, outlets, importance, headline, names "
        query += "FROM entries WHERE 1=1"
        args: list[str] = []
        if before:
            query += " AND week < ?"
            args.append(before)
        if since:
            query += " AND week >= ?"
            args.append(since)
        return [
            Entry(w, s, line, json.loads(ids), n, imp, head, frozenset(json.loads(names)))
            for w, s, line, ids, n, imp, head, names in self.conn.execute(
                query + " ORDER BY week, importance DESC", args
            )
        ]

    def items(self, ids: Iterable[str], before: str | None = None) -> dict[str, SourceItem]:
        """The stored items by id (as of the latest week before `before` that has each: the
        same id in two weeks is two items, and an earlier week's is not overwritten)."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, SourceItem] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT id, body FROM item_texts WHERE id IN ({marks})"
            args = list(part)
            if before:
                query += " AND week < ?"
                args.append(before)
            for item_id, body in self.conn.execute(query + " ORDER BY week", args):
                out[item_id] = SourceItem.model_validate_json(body)
        return out

    def texts(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The title-and-summary text of each (week, item id): one query per week."""
        by_week: dict[str, list[str]] = {}
        for week, item_id in keys:
            by_week.setdefault(week, []).append(item_id)
        out: dict[tuple[str, str], str] = {}
        for week, leads in by_week.items():
            for start in range(0, len(leads), 500):
                part = leads[start : start + 500]
                marks = ",".join("?" * len(part))
                for item_id, body in self.conn.execute(
                    f"SELECT id, body FROM item_texts WHERE week = ? AND id IN ({marks})",
                    [week, *part],
                ):
                    out[(week, item_id)] = _text(SourceItem.model_validate_json(body))
        return out

    def storylines(self, since: str | None = None, until: str | None = None) -> list[Storyline]:
        """Storylines with an entry in [since, until], every entry of each, busiest first."""
        grouped: dict[str, list[Entry]] = {}
        for e in self.entries():
            if until and e.week > until:
                continue
            grouped.setdefault(e.storyline, []).append(e)
        out = []
        for line_id, entries in grouped.items():
            if since and not any(e.week >= since for e in entries):
                continue
            out.append(Storyline(line_id, _name(entries), entries))
        out.sort(key=lambda s: (-len(s.weeks), -len(s.entries), s.id))
        return out

    # ------------------------------------------------------------ writing
    def record(
        self,
        week: str,
        stories: Sequence[Story],
        items: Mapping[str, SourceItem],
        embedder: Any,
        language: str = "zh",
    ) -> list[Entry]:
        """The week's stories, each joined to an earlier storyline or starting its own; the
        week's earlier rows (a run again) are replaced."""
        # Round-ups (a newsletter of ten events) belong to no storyline; a story marked as
        # repeating another joins that one's storyline.
        told = [s for s in stories if not s.round_up and s.item_ids and s.item_ids[0] in items]
        earlier = self.entries(before=week)
        current = [
            Entry(
                week=week,
                story_id=s.id,
                storyline="",
                item_ids=list(s.item_ids),
                outlets=len(set(s.outlets)),
                importance=s.importance,
                headline=headline(items[s.item_ids[0]], language),
                names=story_names(items[s.item_ids[0]]),
            )
            for s in told
        ]
        repeats = {s.id: s.repeats for s in told if s.repeats}
        own = [e for e in current if e.story_id not in repeats]
        texts = self.texts((e.week, e.lead) for e in earlier)
        texts.update({(e.week, e.lead): _text(items[e.lead]) for e in own})
        link(own, earlier, texts, embedder)
        line_of = {e.story_id: e.storyline for e in own}
        for e in current:
            if e.story_id in repeats:
                e.storyline = line_of.get(repeats[e.story_id] or "", f"sl-{week}-{e.story_id}")
        with transaction(self.conn):
            self.conn.execute("DELETE FROM entries WHERE week = ?", (week,))
            self.conn.execute("DELETE FROM item_texts WHERE week = ?", (week,))
            self.conn.executemany(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.week,
                        e.story_id,
                        e.storyline,
                        json.dumps(e.item_ids),
                        e.outlets,
                        e.importance,
                        e.headline,
                        json.dumps(sorted(e.names)),
                    )
                    for e in current
                ],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO item_texts VALUES (?, ?, ?)",
                [
                    (week, i, items[i].model_dump_json())
                    for e in current
                    for i in e.item_ids
                    if i in items
                ],
            )
        return current


def _text(item: SourceItem) -> str:
    return f"{item.title} {item.summary}"


def link(
    current: list[Entry],
    earlier: Sequence[Entry],
    texts: Mapping[tuple[str, str], str],
    embedder: Any,
) -> None:
    """Each current entry joins the earlier storyline it is closest to (the most similar of its
    stories, and rare names in common with its core: the names most of its stories carry),
    else starts one named by its own id. Comparing with a storyline's core, not with any one
    story, keeps a story that names everyone from becoming a hub that joins them all."""
    for entry in current:
        entry.storyline = entry.storyline or f"sl-{entry.week}-{entry.story_id}"
    candidates = [e for e in earlier if (e.week, e.lead) in texts]
    if not current or not candidates:
        return
    everyone = [*candidates, *current]
    members: dict[str, list[int]] = {}
    for j, other in enumerate(candidates):
        members.setdefault(other.storyline, []).append(j)
    # How rare a name is: counted once per storyline (a product's own storyline repeating its
    # name makes it no commoner) and once per story of this week.
    groups = [{n for j in rows for n in candidates[j].names} for rows in members.values()]
    groups += [set(e.names) for e in current]
    frequency = Counter(n for names in groups for n in names)
    total = len(groups)
    weight = {n: math.log(total / c) for n, c in frequency.items() if c <= max(2, COMMON * total)}
    vectors = embedder.encode([texts[(e.week, e.lead)] for e in everyone])
    old, new = vectors[: len(candidates)], vectors[len(candidates) :]
    similarity = np.asarray(new @ old.T)
    cores = {}
    for line_id, rows in members.items():
        counts = Counter(n for j in rows for n in candidates[j].names)
        need = max(1, math.ceil(CORE * len(rows)))
        cores[line_id] = {n for n, c in counts.items() if c >= need}
    for k, entry in enumerate(current):
        best, best_score = None, 0.0
        for line_id, rows in members.items():
            sim = max(float(similarity[k, j]) for j in rows)
            shared = sum(weight.get(n, 0.0) for n in entry.names & cores[line_id])
            if (sim >= SIMILAR and shared >= MIN_SHARED) or sim >= ALONE:
                score = sim + 0.1 * shared
                if score > best_score:
                    best, best_score = line_id, score
        if best is not None:
            entry.storyline = best


def _name(entries: Sequence[Entry]) -> str:
    """The name most of a storyline's stories share (two at least), in its usual spelling;
    else its first story's headline, cut short."""
    counts = Counter(n for e in entries for n in e.names)
    shared = [(c, len(n), n) for n, c in counts.items() if c >= 2]
    if shared:
        return _display(max(shared)[2], entries)
    head = entries[0].headline
    return head if len(head) <= 24 else head[:23] + "…"


def _display(name: str, entries: Sequence[Entry]) -> str:
    """`name` as the storyline's headlines spell it (openclaw → OpenClaw)."""
    for e in entries:
        at = e.headline.lower().find(name)
        if at >= 0:
            # With the capitalised word before it: Hugging Face, Goldman Sachs, not Face.
            before = re.search(r"[A-Z][A-Za-z0-9.\-]* $", e.headline[:at])
            start = before.start() if before else at
            return e.headline[start : at + len(name)]
    return name if not name.isascii() else name[:1].upper() + name[1:]


# ------------------------------------------------------------ the outlook
@dataclass
class Part:
    """A checkable part of an outlook line: one story's headline, citing that story alone
    (`label` says which week it is of; it is the store's, not the item's)."""

    label: str
    text: str
    item_id: str
    week: str
    source: str = ""  # the cited item's title and summary: what a model phrases the line from


@dataclass
class OutlookLine:
    """One line of the outlook: the store's figures (`context`), then its parts, each checked
    against the one item it cites: this week's story and, where it continues a storyline, an
    earlier week's."""

    kind: str  # continues | new | quiet
    context: str
    parts: list[Part]
    storyline: str


def outlook(
    store: StorylineStore, week: str, limit: int = 5, quiet_limit: int = 1
) -> list[OutlookLine]:
    """What the storylines say of `week` (recorded already): what continues and at what pace,
    what is new, what went quiet; busiest first."""
    lines: dict[str, list[OutlookLine]] = {"continues": [], "new": [], "quiet": []}
    previous_weeks = [w for w in store.weeks() if w < week]
    last_week = previous_weeks[-1] if previous_weeks else None
    importance: dict[str, float] = {}
    for line in store.storylines(until=week):
        now = line.in_week(week)
        before = [e for e in line.entries if e.week < week]
        if now:
            importance[line.id] = max(e.importance for e in now)
        if now and before:
            lead = max(now, key=lambda e: e.importance)
            last = max(e.week for e in before)
            prior = max((e for e in before if e.week == last), key=lambda e: e.importance)
            weeks = sorted({e.week for e in before})
            earlier_rate = len(before) / len(weeks)
            trend = "升温" if len(now) > earlier_rate else "延续"
            context = (
                f"【{trend}】「{line.name}」自{weeks[0]}起已在{len(weeks) + 1}周出现，"
                f"本周{len(now)}篇报道、{sum(e.outlets for e in now)}家媒体"
                f"（此前每周平均{earlier_rate:.1f}篇）。"
            )
            parts = [Part(f"{prior.week}：", prior.headline, prior.lead, prior.week)]
            parts.append(Part("本周：", lead.headline, lead.lead, week))
            lines["continues"].append(OutlookLine("continues", context, parts, line.id))
        elif now:
            lead = max(now, key=lambda e: e.importance)
            context = f"【新出现】本周{len(now)}篇报道、{sum(e.outlets for e in now)}家媒体："
            parts = [Part("", lead.headline, lead.lead, week)]
            lines["new"].append(OutlookLine("new", context, parts, line.id))
        elif last_week and before and max(e.week for e in before) == last_week:
            if len(line.weeks) < 2:
                continue
            prior = max(line.in_week(last_week), key=lambda e: e.importance)
            context = (
                f"【转冷】「{line.name}」此前{len(line.weeks)}周有报道（自{line.weeks[0]}起），"
                "本周未见新事件。"
            )
            parts = [Part(f"最近一次（{last_week}）：", prior.headline, prior.lead, last_week)]
            lines["quiet"].append(OutlookLine("quiet", context, parts, line.id))
    for kind in ("continues", "new"):
        lines[kind].sort(key=lambda x: -importance.get(x.storyline, 0.0))
    picked = lines["continues"][: limit - 1]
    picked += lines["new"][: max(1, limit - len(picked) - quiet_limit)]
    picked += lines["quiet"][:quiet_limit]
    # What each part's story says, for a model to phrase the line from (the LLM engine).
    parts = [p for line in picked for p in line.parts]
    texts = store.texts((p.week, p.item_id) for p in parts)
    for p in parts:
        p.source = texts.get((p.week, p.item_id), p.text)
    return picked


def line_claims(number: int, line: OutlookLine) -> list[Claim]:
    """One outlook line as claims the fact-checker checks, one per part, each citing its own
    story (final: never rewritten); they share the line's `theme_id` and are published
    together or not at all."""
    return [
        Claim(
            id=f"outlook-{number}-{p + 1}",
            theme_id=f"outlook-{number}",
            kind="outlook",
            text=part.text,
            cites=[part.item_id],
            final=True,
            context=(line.context if p == 0 else "") + part.label,
        )
        for p, part in enumerate(line.parts)
    ]


def phrased_claim(number: int, line: OutlookLine, text: str, rests_on: Sequence[str]) -> Claim:
    """One outlook line as a model phrased it: a claim citing the line's stories it rests on
    (all of them where it names none of them), the store's figures beside it (`context`)."""
    own = [p.item_id for p in line.parts]
    named = set(rests_on)
    cites = [i for i in own if i in named] or own
    return Claim(
        id=f"outlook-{number}-1",
        theme_id=f"outlook-{number}",
        kind="outlook",
        text=text,
        cites=list(dict.fromkeys(cites)),
        final=True,
        context=line.context,
    )


def outlook_claims(lines: Sequence[OutlookLine]) -> list[Claim]:
    """The outlook as claims, line by line (`line_claims`)."""
    return [c for k, line in enumerate(lines, start=1) for c in line_claims(k, line)]


def with_outlook(draft: Draft, lines: Sequence[OutlookLine]) -> Draft:
    """`draft` with the storylines' outlook in place of its own (the offline phrasing)."""
    if not lines:
        return draft
    claims = [*draft.claims, *outlook_claims(lines)]
    return draft.model_copy(update={"claims": claims, "outlook": []})


# ------------------------------------------------------------ evaluation
def evaluate(store: StorylineStore, labels: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pairwise links between labelled items of different weeks: the store's storylines
    against the labelled ones (`[{"name", "items"}]`), over the labelled items the store
    holds."""
    week_of_item: dict[str, str] = {}
    line_of_item: dict[str, str] = {}
    for e in store.entries():
        for i in e.item_ids:
            week_of_item[i] = e.week
            line_of_item[i] = e.storyline
    truth_line: dict[str, str] = {}
    for k, labelled in enumerate(labels):
        for i in labelled.get("items", []):
            if i in truth_line and truth_line[i] != str(k):
                raise UsageError(f"item {i} is labelled in two storylines (#{truth_line[i]}, #{k})")
            truth_line[i] = str(k)
    held = sorted(i for i in truth_line if i in line_of_item)
    if not held:
        return {
            "labelled_items": len(truth_line),
            "items_in_store": 0,
            "precision": None,
            "recall": None,
            "note": "no labelled item is in the store: run the labelled weeks into --out first",
        }

    def pairs(line: Mapping[str, str]) -> set[tuple[str, str]]:
        out = set()
        for a_index, a in enumerate(held):
            for b in held[a_index + 1 :]:
                if week_of_item[a] != week_of_item[b] and line[a] == line[b]:
                    out.add((a, b))
        return out

    predicted, truth = pairs(line_of_item), pairs(truth_line)
    hits = len(predicted & truth)
    return {
        "labelled_items": len(truth_line),
        "items_in_store": len(held),
        "predicted_pairs": len(predicted),
        "true_pairs": len(truth),
        "hits": hits,
        "precision": round(hits / len(predicted), 4) if predicted else 1.0,
        "recall": round(hits / len(truth), 4) if truth else 1.0,
    }
