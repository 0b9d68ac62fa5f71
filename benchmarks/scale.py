"""Time and peak resident memory per offline stage for synthetic weeks of N items, side by side, and
the fitted growth exponent of each stage.

    python benchmarks/scale.py 250 500 1000 2000
"""

from __future__ import annotations

import asyncio
import math
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from corpus import make_week  # type: ignore[import-not-found]

from newsroom.agents import offline_engine
from newsroom.agents.dedup import item_vectors
from newsroom.models import SourceItem
from newsroom.weeks import parse_week


def measure(step: Callable[[], Any]) -> tuple[Any, float, float]:
    """Wall seconds of the step, and the process's peak resident memory after it (MiB)."""
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, seconds, peak


def run(size: int) -> dict[str, tuple[float, float]]:
    window = parse_week("2026-W06")
    rows = make_week(size)
    items = [SourceItem.model_validate(row) for row in rows]
    by_id = {i.id: i for i in items}
    engine = offline_engine()
    engine.embedder.encode(["预热"])  # model loading is not part of any stage
    from newsroom.agents._text import tokens

    tokens("预热分词")
    out: dict[str, tuple[float, float]] = {}
    vectors, seconds, peak = measure(lambda: item_vectors(items, engine.embedder))
    out["embed"] = (seconds, peak)
    stories, seconds, peak = measure(lambda: engine.deduplicator.stories(items, vectors))
    out["dedup"] = (seconds, peak)
    themes, seconds, peak = measure(lambda: asyncio.run(engine.clusterer.themes(stories, by_id)))
    out["cluster"] = (seconds, peak)
    story_map = {s.id: s for s in stories}
    draft, seconds, peak = measure(
        lambda: asyncio.run(engine.writer.write(window, themes, story_map, by_id))
    )
    out["write"] = (seconds, peak)
    _, seconds, peak = measure(
        lambda: asyncio.run(engine.fact_checker.check_all(draft.claims, by_id))
    )
    out["fact-check"] = (seconds, peak)
    return out


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [250, 500, 1000]
    results = {n: run(n) for n in sizes}
    stages = list(next(iter(results.values())))
    print(
        f"{'stage':<12}"
        + "".join(f"{f'N={n} s':>12}{'MiB':>8}" for n in sizes)
        + f"{'exponent':>10}"
    )
    for stage in stages:
        row = f"{stage:<12}"
        for n in sizes:
            seconds, peak = results[n][stage]
            row += f"{seconds:>12.2f}{peak:>8.0f}"
        xs = [math.log(n) for n in sizes]
        ys = [math.log(max(results[n][stage][0], 1e-6)) for n in sizes]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / max(
            sum((x - mean_x) ** 2 for x in xs), 1e-12
        )
        print(row + f"{slope:>10.2f}")


if __name__ == "__main__":
    main()
