"""Incremental updates: new items change only the themes they touch.

The service publishes a week's edition again whenever items arrive. An update starts from the
edition before it (its base: stories, themes, draft and verdicts, read from the checkpoint of the
run that published it) and

- keeps every story whose items did not change in the theme it was in;
- puts a story that grew, or merged with another, in the theme most of its items were in;
- lets new stories that are closer to one another than to any theme form a theme of their own
  (when there are enough of them and they hang together), and puts every other new story in
  the theme whose centre is nearest;
- re-clusters the whole week when more than half of its stories are new or changed, or when
  new stories make a theme of their own and the edition has no room for another.

Only the themes that gained, lost or changed a story are renamed and re-written; the others keep
their sections, their claims and their verdicts, so the fact-checker sees only new claims.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from newsroom.models import Claim, Draft, SourceItem, Story, Theme, Verdict

if TYPE_CHECKING:  # the clusterer calls `place`; this module only calls the clusterer back
    from newsroom.agents.clusterer import OfflineClusterer

# Re-cluster the week when more than this share of its stories is new or changed.
FULL_SHARE = 0.5
# New stories close to one another and to no theme: a new theme, when there are this many.
NEW_THEME_MIN = 3


@dataclass
class Base:
    """The edition an update starts from."""

    run_id: str
    stories: list[Story]
    themes: list[Theme]
    draft: Draft
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @classmethod
    def from_values(cls, run_id: str, values: Mapping[str, Any]) -> Base | None:
        """The base in a finished run's final state, or None when it published no edition."""
        if not values.get("themes") or values.get("draft") is None:
            return None
        return cls(
            run_id=run_id,
            stories=list(values.get("stories", [])),
            themes=list(values["themes"]),
            draft=values["draft"],
            verdicts=dict(values.get("verdicts", {})),
        )


@dataclass
class Placement:
    """The week's themes after an update, and which of them must be written again."""

    themes: list[Theme]
    affected: list[str]  # ids of the themes to (re)write, edition order
    full: bool  # the whole week was re-clustered
    new_stories: int
    changed_stories: int
    reason: str = ""  # why the week was re-clustered whole

    def record(self, base: Base) -> dict[str, Any]:
        return {
            "base_run": base.run_id,
            "mode": "full" if self.full else "incremental",
            "themes": len(self.themes),
            "themes_rewritten": len(self.affected),
            "themes_kept": len(self.themes) - len(self.affected),
            "new_stories": self.new_stories,
            "changed_stories": self.changed_stories,
            **({"reason": self.reason} if self.reason else {}),
        }


def place(
    clusterer: OfflineClusterer,
    base: Base,
    stories: Sequence[Story],
    items: Mapping[str, SourceItem],
) -> Placement:
    """The week's themes, updated from `base` for `stories` (the whole week's, deduplicated)."""
    theme_of_story = {sid: t.id for t in base.themes for sid in t.story_ids}
    story_of_item = {iid: s.id for s in base.stories for iid in s.item_ids}
    items_of_story = {s.id: frozenset(s.item_ids) for s in base.stories}
    members: dict[str, list[int]] = {t.id: [] for t in base.themes}
    affected: set[str] = set()
    unplaced: list[int] = []
    changed = 0
    for index, story in enumerate(stories):
        before = Counter(story_of_item[i] for i in story.item_ids if i in story_of_item)
        origin = Counter[str]()
        for sid, count in before.items():
            if sid in theme_of_story:
                origin[theme_of_story[sid]] += count
        if not origin:
            unplaced.append(index)
            continue
        members[origin.most_common(1)[0][0]].append(index)
        same = len(before) == 1 and items_of_story[next(iter(before))] == set(story.item_ids)
        if not same:
            changed += 1
            affected.update(origin)  # every theme it took items from
    if not base.themes or len(unplaced) + changed > FULL_SHARE * len(stories):
        why = "more than half of the stories are new or changed"
        return _full(clusterer, stories, items, len(unplaced), changed, why)
    for theme in base.themes:
        if {stories[i].id for i in members[theme.id]} != set(theme.story_ids):
            affected.add(theme.id)
    if not unplaced and not affected:
        return Placement(sorted(base.themes, key=_rank), [], False, 0, 0)
    vectors, docs = clusterer.space(stories, items)
    if clusterer.by_beat:
        vectors = clusterer.with_beats(vectors, stories)
    if unplaced and _place_new(clusterer, vectors, members, unplaced, affected, base):
        why = f"new stories form a theme and the edition has {clusterer.max_themes} already"
        return _full(clusterer, stories, items, len(unplaced), changed, why)
    themes = _rebuild(clusterer, base, stories, items, (vectors, docs), members, affected)
    order = [t.id for t in themes if t.id in affected]
    return Placement(themes, order, False, len(unplaced), changed)


def _full(
    clusterer: OfflineClusterer,
    stories: Sequence[Story],
    items: Mapping[str, SourceItem],
    new: int,
    changed: int,
    reason: str,
) -> Placement:
    themes = clusterer.build_themes(stories, items)
    return Placement(themes, [t.id for t in themes], True, new, changed, reason)


def _place_new(
    clusterer: OfflineClusterer,
    vectors: np.ndarray,
    members: dict[str, list[int]],
    unplaced: list[int],
    affected: set[str],
    base: Base,
) -> bool:
    """Put each new story in a theme (`members` and `affected` are updated in place); True when
    the week must be re-clustered instead.

    New stories that are closer to one another (each to the centre of the others) than to any
    theme form a theme of their own, when there are at least `NEW_THEME_MIN` of them, they hang
    together as well as the loosest theme of the edition does (with no room for another theme,
    the week is re-clustered). Every other new story joins the theme whose centre is nearest."""
    ids = [tid for tid, rows in members.items() if rows]
    centres = np.stack([_unit(vectors[members[tid]].mean(axis=0)) for tid in ids])
    new = vectors[unplaced]
    sims = new @ centres.T
    nearest = np.argmax(sims, axis=1)
    closest = sims[np.arange(len(unplaced)), nearest]
    group = np.zeros(len(unplaced), dtype=bool)
    if len(unplaced) >= NEW_THEME_MIN:
        group[:] = True
        for _ in range(3):
            total = new[group].sum(axis=0)
            others = total[None, :] - new * group[:, None]  # leave each member out
            norms = np.maximum(np.linalg.norm(others, axis=1), 1e-12)
            own = np.einsum("ij,ij->i", new, others) / norms
            moved = own > closest
            if (moved == group).all() or moved.sum() < NEW_THEME_MIN:
                group = moved
                break
            group = moved
        if group.sum() >= NEW_THEME_MIN:
            centre = _unit(new[group].mean(axis=0))
            cohesion = float(np.mean(new[group] @ centre))
            if cohesion < min(t.cohesion for t in base.themes):
                group[:] = False
        else:
            group[:] = False
    if group.any() and len(ids) >= clusterer.max_themes:
        return True  # a new theme, and no room for it: the week is re-clustered
    if group.any():
        new_id = f"theme-{max((_number(tid) for tid in members), default=0) + 1}"
        members[new_id] = [row for row, g in zip(unplaced, group, strict=True) if g]
        affected.add(new_id)
    for row, n, g in zip(unplaced, nearest, group, strict=True):
        if not g:
            members[ids[int(n)]].append(row)
            affected.add(ids[int(n)])
    return False


def _rebuild(
    clusterer: OfflineClusterer,
    base: Base,
    stories: Sequence[Story],
    items: Mapping[str, SourceItem],
    space: tuple[np.ndarray, Sequence[list[str]]],
    members: dict[str, list[int]],
    affected: set[str],
) -> list[Theme]:
    """Unaffected themes as they were; affected ones named and ranked anew by the clusterer's
    own method (c-TF-IDF over every theme's words, the most central story as headline)."""
    kept = {t.id: t for t in base.themes if t.id not in affected and members.get(t.id)}
    groups = [tid for tid, rows in members.items() if rows]
    affected &= set(groups)
    if not affected:
        return sorted(kept.values(), key=_rank)
    vectors, docs = space
    labels = np.full(len(stories), -1, dtype=np.int64)
    for number, tid in enumerate(groups):
        labels[members[tid]] = number
    rebuilt = clusterer.make_themes(
        stories, items, vectors, docs, labels, only=affected, ids=groups
    )
    if clusterer.by_beat:  # named and ordered as an editor would, as a full run does
        by_id = {s.id: s for s in stories}
        rebuilt = [clusterer.edit(theme, by_id, items) for theme in rebuilt]
    return sorted([*kept.values(), *rebuilt], key=_rank)


def reused_verdicts(base: Base, claims: Sequence[Claim]) -> dict[str, Verdict]:
    """Verdicts of claims that are word for word the base's, citing the same sources."""
    before = {c.id: c for c in base.draft.claims}
    out = {}
    for claim in claims:
        old = before.get(claim.id)
        if (
            old is not None
            and claim.id in base.verdicts
            and old.text == claim.text
            and old.cites == claim.cites
        ):
            out[claim.id] = base.verdicts[claim.id]
    return out


def _rank(theme: Theme) -> tuple[float, int, int]:
    return (-theme.weight, -len(theme.story_ids), _number(theme.id))


def _number(theme_id: str) -> int:
    tail = theme_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
