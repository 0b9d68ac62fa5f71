"""A real collector's week, end to end: the offline edition leaves the off-desk items out, leads
with the desk's news, names its themes after their lead events, and `newsroom eval edition`
judges it against the labels.

The weeks live beside the project (`../shared/realweeks`), not in it: a user's machine has no
such folder, and there the test is skipped, saying so. Under CI=true their absence fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsroom.cli import app

ROOT = Path(__file__).resolve().parents[1]
REALWEEKS = ROOT.parent / "shared" / "realweeks"
LABELS = ROOT / "evals" / "realweeks"
WEEK = "2026-W07"  # a week the desk was tuned on; W12 is kept for the held-out figures


def _week_folder() -> Path:
    folder = REALWEEKS / WEEK
    if not (folder / "items.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the real weeks are missing: {folder}")
        pytest.skip(f"no real weeks at {REALWEEKS} (they sit beside the project, not in it)")
    return folder


def test_a_real_week_runs_end_to_end_and_is_judged(tmp_path: Path) -> None:
    folder = _week_folder()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["run", "--week", WEEK, "--sources", str(folder / "items.json"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    run = json.loads((out / WEEK / "run.json").read_text(encoding="utf-8"))
    assert run["counts"]["left_out"] > 0

    report = json.loads((out / WEEK / "report.json").read_text(encoding="utf-8"))
    labels = json.loads((LABELS / WEEK / "labels.json").read_text(encoding="utf-8"))
    left_out = {row["id"] for row in report["left_out"]}
    off_desk = {i for i, label in labels["items"].items() if not label["ai"]}
    # Most of what the labeller called not AI is left out, each with its reason and score.
    assert len(left_out & off_desk) >= 0.8 * len(off_desk)
    assert all(row["reason"] and "score" in row for row in report["left_out"])
    # Items dated `unknown` but collected in the week are kept and flagged.
    assert report["dated_by_collection"]

    result = CliRunner().invoke(
        app,
        [
            "eval",
            "edition",
            "--items",
            str(folder),  # a week's folder stands for its items.json
            "--labels",
            str(LABELS / WEEK / "labels.json"),
            "--edition",
            str(out / WEEK),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["week"] == WEEK and figures["unmapped_bullets"] == 0
    assert figures["evidence_bullets"] >= 12
    assert figures["off_topic_share"] <= 0.05
    assert figures["heading_entity_share"] == 1.0
    assert figures["highlight_recall"] >= 0.6
    assert figures["lead_recall"] >= 0.4

    weekly = (out / WEEK / "weekly.md").read_text(encoding="utf-8")
    headings = [line for line in weekly.splitlines() if line.startswith("### 主轴")]
    assert headings and not any("、" in h and len(h) < 20 for h in headings)  # no keyword lists
    briefing = (out / WEEK / "briefing.md").read_text(encoding="utf-8")
    highlights = briefing.split("## 亮点回顾", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in highlights.splitlines() if line.startswith("- ")]
    assert 1 <= len(lines) <= 10
    # A Chinese edition leads with Chinese headlines.
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in line) for line in lines) >= 0.7 * len(lines)
