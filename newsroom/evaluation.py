"""Evaluation on labelled dev sets: clustering/dedup metrics and fact-check metrics."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsroom.errors import UsageError
from newsroom.models import Claim, SourceItem
from newsroom.tools.formats import guess_lang


def read_jsonl(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON ({exc.msg})") from None
        missing = [key for key in required if key not in row]
        if missing:
            raise UsageError(f"{path}:{number}: missing {', '.join(missing)}")
        rows.append(row)
    if not rows:
        raise UsageError(f"{path} holds no rows")
    return rows


def dev_items(path: Path) -> tuple[list[SourceItem], list[dict[str, Any]]]:
    rows = read_jsonl(path, ["id", "title", "summary"])
    items = [
        SourceItem(
            id=str(r["id"]),
            title=r["title"],
            summary=r["summary"],
            source=r.get("source_name") or r.get("source") or "",
            url=r.get("url") or "",
            published=_stamp(r.get("published")) or _stamp(r.get("collected")) or _EPOCH,
            lang=r.get("lang") or guess_lang(r["title"] + r["summary"]),
            body=r.get("body", ""),
        )
        for r in rows
    ]
    return items, rows


def _contingency(
    truth: Sequence[Any], predicted: Sequence[Any]
) -> tuple[Counter[Any], Counter[Any], Counter[tuple[Any, Any]]]:
    """Sizes of each true group, each predicted group and each (true, predicted) cell."""
    return Counter(truth), Counter(predicted), Counter(zip(truth, predicted, strict=True))


def b_cubed(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1, from the contingency table (linear in the items)."""
    n = len(truth)
    if not n:
        return 0.0, 0.0, 0.0
    true_size, pred_size, cells = _contingency(truth, predicted)
    # Each of the `count` items of cell (t, p) scores count/|p| precision and count/|t| recall.
    precision = sum(count * count / pred_size[p] for (_, p), count in cells.items()) / n
    recall = sum(count * count / true_size[t] for (t, _), count in cells.items()) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _comb2(x: int) -> float:
    return x * (x - 1) / 2


def adjusted_rand(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    pairs = Counter(zip(truth, predicted, strict=True))
    index = sum(_comb2(v) for v in pairs.values())
    a = sum(_comb2(v) for v in Counter(truth).values())
    b = sum(_comb2(v) for v in Counter(predicted).values())
    total = _comb2(len(truth))
    expected = a * b / total if total else 0.0
    maximum = (a + b) / 2
    return (index - expected) / (maximum - expected) if maximum != expected else 1.0


def nmi(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    n = len(truth)
    joint = Counter(zip(truth, predicted, strict=True))
    ct, cp = Counter(truth), Counter(predicted)
    mutual = sum(v / n * math.log(v * n / (ct[t] * cp[p])) for (t, p), v in joint.items())
    ht = -sum(v / n * math.log(v / n) for v in ct.values())
    hp = -sum(v / n * math.log(v / n) for v in cp.values())
    return mutual / math.sqrt(ht * hp) if ht and hp else 1.0


def pair_scores(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float]:
    """Precision and recall over item pairs placed in the same group."""
    true_size, pred_size, cells = _contingency(truth, predicted)
    true_pairs = sum(_comb2(size) for size in true_size.values())
    pred_pairs = sum(_comb2(size) for size in pred_size.values())
    hit = sum(_comb2(size) for size in cells.values())
    precision = hit / pred_pairs if pred_pairs else 1.0
    recall = hit / true_pairs if true_pairs else 1.0
    return precision, recall


def evaluate_clusters(
    path: Path, desk: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Dedup and themes against the labels. By default the themes are the clusterer's text
    clustering alone (the stage the labels' topics measure); with `desk`, the edition's
    themes: the desk's beats joined to the text, ordered and named by importance."""
    from newsroom.agents import offline_engine

    items, rows = dev_items(path)
    engine = offline_engine()
    if not desk and hasattr(engine.clusterer, "by_beat"):
        engine.clusterer.by_beat = False
    stories = engine.deduplicator.stories(items, engine.embedder)
    themes = asyncio.run(engine.clusterer.themes(stories, {it.id: it for it in items}))
    story_of = {item_id: s.id for s in stories for item_id in s.item_ids}
    theme_of = {story_id: t.id for t in themes for story_id in t.story_ids}
    # A story the edition leaves out of every theme (a beat too thin to be a theme) is a
    # cluster of its own.
    predicted_theme = [theme_of.get(story_of[it.id], f"none-{story_of[it.id]}") for it in items]
    predicted_dup = [story_of[it.id] for it in items]
    true_theme = [r.get("theme") for r in rows]
    true_dup = [r.get("dup_group") or f"solo-{r['id']}" for r in rows]
    p, r, f1 = b_cubed(true_theme, predicted_theme)
    dp, dr = pair_scores(true_dup, predicted_dup)
    metrics = {
        "items": len(items),
        "stories": len(stories),
        "themes": len(themes),
        "bcubed_precision": round(p, 4),
        "bcubed_recall": round(r, 4),
        "bcubed_f1": round(f1, 4),
        "ari": round(adjusted_rand(true_theme, predicted_theme), 4),
        "nmi": round(nmi(true_theme, predicted_theme), 4),
        "dedup_precision": round(dp, 4),
        "dedup_recall": round(dr, 4),
    }
    predictions = [
        {"id": it.id, "theme_cluster": t, "dup_cluster": d}
        for it, t, d in zip(items, predicted_theme, predicted_dup, strict=True)
    ]
    return metrics, predictions


def _stamp(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def item_rows(path: Path) -> list[Any]:
    """The rows of an items file: `{"items": [...]}`, a bare list, or JSON lines.

    A folder stands for the `items.json` inside it (a real week's folder)."""
    if path.is_dir():
        if not (path / "items.json").is_file():
            raise UsageError(f"{path} is a folder with no items.json in it")
        path = path / "items.json"
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: neither JSON nor JSON lines ({exc.msg})") from None
    rows = data.get("items") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise UsageError(f"{path}: expected a list of items or an object with an `items` list")
    return rows


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def claim_items(path: Path) -> list[SourceItem]:
    """The items claims cite: `{"items": [...]}`, a bare list or JSON lines (the dev set's
    shape). Only `id` and `title` are required: an item quoted from a newsletter may have no
    URL, and `published` may be missing or the literal `unknown` (the checker reads only the
    title, summary and body)."""
    rows = item_rows(path)
    items = []
    for number, row in enumerate(rows, start=1):
        missing = [k for k in ("id", "title") if not isinstance(row, dict) or k not in row]
        if missing:
            raise UsageError(f"{path}: item {number} lacks {', '.join(missing)}")
        summary = str(row.get("summary") or "")
        items.append(
            SourceItem(
                id=str(row["id"]),
                title=str(row["title"]),
                summary=summary,
                body=str(row.get("body") or ""),
                source=str(row.get("source_name") or row.get("source") or ""),
                url=str(row.get("url") or ""),
                published=_stamp(row.get("published")) or _stamp(row.get("collected")) or _EPOCH,
                lang=str(row.get("lang") or guess_lang(str(row["title"]) + summary)),
            )
        )
    return items


def claim_sets(
    items: Sequence[Path], claims: Sequence[Path], weeks: Sequence[str] = ()
) -> list[tuple[str, Path, Path]]:
    """(name, items file, claims file) for each set to check. `claims` and `items` are paired
    in order; a claims folder stands for every `WEEK/claims.jsonl` under it, its items in the
    same WEEK folder under the paired items folder (`items.json` or `items.jsonl`). `weeks`,
    when given, keeps only those folders."""
    if len(items) != len(claims):
        raise UsageError(f"give one --items per --claims ({len(items)} and {len(claims)} given)")
    sets = []
    for items_path, claims_path in zip(items, claims, strict=True):
        if not claims_path.is_dir():
            sets.append((claims_path.stem, items_path, claims_path))
            continue
        if not items_path.is_dir():
            raise UsageError(f"{claims_path} is a folder: --items must be one too")
        for folder in sorted(p for p in claims_path.iterdir() if (p / "claims.jsonl").is_file()):
            if weeks and folder.name not in weeks:
                continue
            found = [items_path / folder.name / n for n in ("items.json", "items.jsonl")]
            source = next((f for f in found if f.is_file()), found[0])
            sets.append((folder.name, source, folder / "claims.jsonl"))
    if not sets:
        raise UsageError("no claims to check" + (f" for {', '.join(weeks)}" if weeks else ""))
    return sets


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def factcheck_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures an editor asks of a checker, from rows with `label` and `predicted`:
    how many wrong claims it flags (contradicted or unsupported), how many contradictions
    it names as such, how often a flag is right, and how many true claims it passes."""
    truth = [r["label"] for r in rows]
    guess = [r["predicted"] for r in rows]
    pairs = list(zip(truth, guess, strict=True))
    contradicted = [g for t, g in pairs if t == "contradicted"]
    unsupported = [g for t, g in pairs if t == "unsupported"]
    flagged = [t for t, g in pairs if g != "supported"]
    return {
        "claims": len(rows),
        "accuracy": _share(sum(t == g for t, g in pairs), len(pairs)),
        "contradicted_flagged": _share(
            sum(g != "supported" for g in contradicted), len(contradicted)
        ),
        "contradicted_labelled_contradicted": _share(
            sum(g == "contradicted" for g in contradicted), len(contradicted)
        ),
        "unsupported_flagged": _share(sum(g != "supported" for g in unsupported), len(unsupported)),
        "flag_precision": _share(sum(t != "supported" for t in flagged), len(flagged)),
        "supported_recall": _share(
            sum(g == "supported" for t, g in pairs if t == "supported"), truth.count("supported")
        ),
    }


def by_kind(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind of error: n, the share flagged (contradicted or unsupported) and the shares
    labelled contradicted and unsupported; true claims (`supported`): n and recall."""
    kinds: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = "supported" if row["label"] == "supported" else str(row.get("kind") or row["label"])
        kinds.setdefault(key, []).append(row)
    table: dict[str, dict[str, Any]] = {}
    for key in sorted(kinds, key=lambda k: (k == "supported", k)):
        group = [r["predicted"] for r in kinds[key]]
        if key == "supported":
            table[key] = {"n": len(group), "recall": _share(group.count("supported"), len(group))}
            continue
        table[key] = {
            "n": len(group),
            "flagged": _share(sum(g != "supported" for g in group), len(group)),
            "contradicted": _share(group.count("contradicted"), len(group)),
            "unsupported": _share(group.count("unsupported"), len(group)),
        }
    return table


def evaluate_factcheck(
    items: Path | Sequence[Path],
    claims: Path | Sequence[Path],
    weeks: Sequence[str] = (),
    embedder: Any = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check every claim of each set against the items it cites (offline rules, all claims
    of a set in one `check_all`) and score the verdicts against the labels. A claim's error
    kind is its `kind` or `perturbation` field; `by_kind` appears when claims carry one."""
    from newsroom.agents.fact_checker import OfflineFactChecker
    from newsroom.methods.embeddings import Embedder

    sets = claim_sets(
        [items] if isinstance(items, Path) else items,
        [claims] if isinstance(claims, Path) else claims,
        weeks,
    )
    checker = OfflineFactChecker(embedder or Embedder())
    predictions: list[dict[str, Any]] = []
    for name, items_path, claims_path in sets:
        by_id = {it.id: it for it in claim_items(items_path)}
        rows = read_jsonl(claims_path, ["id", "claim", "cites", "label"])
        for number, row in enumerate(rows, start=1):
            if row["label"] not in ("supported", "contradicted", "unsupported"):
                raise UsageError(f"{claims_path}:{number}: unknown label {row['label']!r}")
        batch = [
            Claim(
                id=str(row["id"]),
                theme_id="eval",
                text=str(row["claim"]),
                cites=[str(c) for c in row["cites"]],
            )
            for row in rows
        ]
        verdicts = asyncio.run(checker.check_all(batch, by_id))
        for row, claim in zip(rows, batch, strict=True):
            verdict = verdicts[claim.id]
            predictions.append(
                {
                    "id": claim.id,
                    "set": name,
                    "label": row["label"],
                    "kind": row.get("kind") or row.get("perturbation"),
                    "predicted": verdict.label,
                    "unsettled": verdict.unsettled,
                    "reasons": verdict.reasons,
                    "evidence": [e.model_dump() for e in verdict.evidence],
                }
            )
    metrics = factcheck_figures(predictions)
    for label in ("supported", "contradicted", "unsupported"):
        tp = sum(p["label"] == p["predicted"] == label for p in predictions)
        predicted_n = sum(p["predicted"] == label for p in predictions)
        true_n = sum(p["label"] == label for p in predictions)
        metrics[label] = {
            "precision": round(tp / predicted_n, 4) if predicted_n else 0.0,
            "recall": round(tp / true_n, 4) if true_n else 0.0,
            "support": true_n,
        }
    if any(p["kind"] for p in predictions):
        metrics["by_kind"] = by_kind(predictions)
    if len(sets) > 1:
        metrics["by_set"] = {
            name: factcheck_figures([p for p in predictions if p["set"] == name])
            for name, _, _ in sets
        }
    return metrics, predictions
