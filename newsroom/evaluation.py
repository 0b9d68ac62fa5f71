"""Evaluation on labelled dev sets: clustering/dedup metrics and fact-check metrics."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
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
    rows = read_jsonl(path, ["id", "title", "summary", "source_name", "url", "published"])
    items = [
        SourceItem(
            id=str(r["id"]),
            title=r["title"],
            summary=r["summary"],
            source=r["source_name"],
            url=r["url"],
            published=datetime.fromisoformat(r["published"]),
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


def evaluate_clusters(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from newsroom.agents import offline_engine

    items, rows = dev_items(path)
    engine = offline_engine()
    stories = engine.deduplicator.stories(items, engine.embedder)
    themes = asyncio.run(engine.clusterer.themes(stories, {it.id: it for it in items}))
    story_of = {item_id: s.id for s in stories for item_id in s.item_ids}
    theme_of = {story_id: t.id for t in themes for story_id in t.story_ids}
    predicted_theme = [theme_of[story_of[it.id]] for it in items]
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


def evaluate_factcheck(
    items_path: Path, claims_path: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from newsroom.agents.fact_checker import OfflineFactChecker

    items, _ = dev_items(items_path)
    by_id = {it.id: it for it in items}
    rows = read_jsonl(claims_path, ["id", "claim", "cites", "label"])
    checker = OfflineFactChecker()
    predictions, truth, guessed = [], [], []
    for row in rows:
        claim = Claim(
            id=str(row["id"]),
            theme_id="eval",
            text=row["claim"],
            cites=[str(c) for c in row["cites"]],
        )
        verdict = checker.check(claim, by_id)
        predictions.append({"id": claim.id, "predicted": verdict.label, "reasons": verdict.reasons})
        truth.append(row["label"])
        guessed.append(verdict.label)
    metrics: dict[str, Any] = {
        "claims": len(rows),
        "accuracy": round(sum(t == g for t, g in zip(truth, guessed, strict=True)) / len(rows), 4),
    }
    for label in ("supported", "contradicted", "unsupported"):
        tp = sum(t == g == label for t, g in zip(truth, guessed, strict=True))
        predicted_n, true_n = guessed.count(label), truth.count(label)
        metrics[label] = {
            "precision": round(tp / predicted_n, 4) if predicted_n else 0.0,
            "recall": round(tp / true_n, 4) if true_n else 0.0,
            "support": true_n,
        }
    return metrics, predictions
