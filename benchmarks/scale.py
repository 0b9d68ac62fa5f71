"""Time and peak resident memory per offline stage for synthetic weeks of N items, side by side,
the fitted growth exponent of each stage, and quality against the corpus's ground truth.

    python benchmarks/scale.py 1000 10000 100000

Each size runs in a fresh process (so that peak memory is its own). Stages:
research (the archive MCP server reading the corpus files, in memory transport), embed (the
title-and-summary vectors dedup asks for: one per group of near-identical items), dedup (the
rest of it), cluster, write, fact-check. Peak memory per stage is the highest resident set
size sampled every 20 ms while the stage runs (embed and dedup share one figure). Quality:
dedup pair precision and recall against the corpus's duplicate groups, and B-cubed F1 of the
themes against its beats.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


class Peak:
    """Samples this process's resident set size in a thread while a stage runs."""

    def __init__(self) -> None:
        self.value = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.value = max(self.value, _rss_mib())

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.value = max(self.value, _rss_mib())


class TimedEmbedder:
    """The engine's embedder, with the time spent in it added up."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.seconds = 0.0

    def encode(self, texts: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.embedder.encode(texts)
        finally:
            self.seconds += time.perf_counter() - started


def measure(step: Callable[[], Any]) -> tuple[Any, float, float]:
    with Peak() as peak:
        started = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - started
    return result, seconds, peak.value


def one_size(size: int) -> dict[str, Any]:
    """All stages for one N, in this process."""
    sys.path.insert(0, str(HERE))
    from corpus import make_week  # type: ignore[import-not-found]

    from newsroom.agents import offline_engine
    from newsroom.methods.text import tokens
    from newsroom.agents.researcher import OfflineResearcher
    from newsroom.evaluation import b_cubed, pair_scores
    from newsroom.tools.client import ArchiveConfig, open_archive
    from newsroom.weeks import parse_week

    window = parse_week("2026-W06")
    rows = make_week(size)
    truth = {row["id"]: row for row in rows}
    engine = offline_engine()
    engine.embedder.encode(["预热"])  # loading the model is not part of any stage
    tokens("预热分词")
    out: dict[str, Any] = {"stages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for number, start in enumerate(range(0, len(rows), 5000)):
            chunk = {"items": rows[start : start + 5000]}
            (folder / f"week-{number:03d}.json").write_text(json.dumps(chunk, ensure_ascii=False))

        async def research() -> Any:
            async with open_archive(ArchiveConfig(folder=folder, tz=window.tz)) as archive:
                return await OfflineResearcher().gather(window, archive)

        found, seconds, peak = measure(lambda: asyncio.run(research()))
    out["stages"]["research"] = (seconds, peak)
    items = found.items
    by_id = {i.id: i for i in items}
    # Dedup asks the embedder for one text per group of near-identical items, as in a run;
    # the time spent embedding is timed apart and shown as its own stage.
    timed = TimedEmbedder(engine.embedder)
    stories, seconds, peak = measure(lambda: engine.deduplicator.stories(items, timed))
    out["stages"]["embed"] = (timed.seconds, peak)
    out["stages"]["dedup"] = (seconds - timed.seconds, peak)
    themes, seconds, peak = measure(lambda: asyncio.run(engine.clusterer.themes(stories, by_id)))
    out["stages"]["cluster"] = (seconds, peak)
    story_map = {s.id: s for s in stories}
    draft, seconds, peak = measure(
        lambda: asyncio.run(engine.writer.write(window, themes, story_map, by_id))
    )
    out["stages"]["write"] = (seconds, peak)
    _, seconds, peak = measure(
        lambda: asyncio.run(engine.fact_checker.check_all(draft.claims, by_id))
    )
    out["stages"]["fact-check"] = (seconds, peak)

    story_of = {i: s.id for s in stories for i in s.item_ids}
    theme_of = {sid: t.id for t in themes for sid in t.story_ids}
    ids = [i.id for i in items]
    precision, recall = pair_scores(
        [truth[i]["dup_group"] or i for i in ids], [story_of[i] for i in ids]
    )
    out["quality"] = {
        "items": len(items),
        "stories": len(stories),
        "dedup P": precision,
        "dedup R": recall,
        "theme F1": b_cubed([truth[i]["theme"] for i in ids], [theme_of[story_of[i]] for i in ids])[
            2
        ],
        "largest story": max(len(s.item_ids) for s in stories),
    }
    return out


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one_size(int(sys.argv[2]))))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    results = {}
    for n in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(f"N={n} failed:\n{done.stderr[-3000:]}")
        results[n] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"N={n} done", file=sys.stderr)
    stages = list(results[sizes[0]]["stages"])
    print(
        f"{'stage':<12}"
        + "".join(f"{f'N={n} s':>12}{'MiB':>8}" for n in sizes)
        + (f"{'exponent':>10}" if len(sizes) > 1 else "")
    )
    totals = dict.fromkeys(sizes, 0.0)
    for stage in stages:
        row = f"{stage:<12}"
        for n in sizes:
            seconds, peak = results[n]["stages"][stage]
            totals[n] += seconds
            row += f"{seconds:>12.2f}{peak:>8.0f}"
        print(
            row
            + (
                f"{exponent(sizes, [results[n]['stages'][stage][0] for n in sizes]):>10.2f}"
                if len(sizes) > 1
                else ""
            )
        )
    print(
        f"{'total':<12}"
        + "".join(f"{totals[n]:>12.2f}{'':>8}" for n in sizes)
        + (f"{exponent(sizes, [totals[n] for n in sizes]):>10.2f}" if len(sizes) > 1 else "")
    )
    print()
    keys = list(results[sizes[0]]["quality"])
    print(f"{'quality':<14}" + "".join(f"{f'N={n}':>12}" for n in sizes))
    for key in keys:
        values = [results[n]["quality"][key] for n in sizes]
        print(
            f"{key:<14}"
            + "".join(f"{v:>12.3f}" if isinstance(v, float) else f"{v:>12}" for v in values)
        )


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) over log(N)."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(max(s, 1e-6)) for s in seconds]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / max(
        sum((x - mean_x) ** 2 for x in xs), 1e-12
    )


if __name__ == "__main__":
    main()
