"""Graph checkpoints in PostgreSQL: a run interrupted on one machine resumes on another that
shares only the database (here: another output folder). Uses the PostgreSQL on 127.0.0.1:5432
(CI and development machines run one); skipped, saying so, where none runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from newsroom.agents import Engine
from newsroom.errors import SourceUnavailable
from newsroom.runner import RunOptions, run_week


class InterruptedOnce:
    """A clusterer whose first call is a Ctrl-C: the run stops after research, checkpointed."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    def judge(self, stories: object, items: object) -> object:
        return self.inner.judge(stories, items)  # type: ignore[attr-defined]

    async def themes(self, stories: object, items: object) -> object:
        self.calls += 1
        if self.calls == 1:
            raise KeyboardInterrupt
        return await self.inner.themes(stories, items)  # type: ignore[attr-defined]


def test_a_run_checkpointed_in_postgres_resumes_from_another_folder(
    database: str, engine: Engine, samples: Path, tmp_path: Path
) -> None:
    engine.clusterer = InterruptedOnce(engine.clusterer)  # type: ignore[assignment]
    # Machine one: interrupted after research; its state is in PostgreSQL, not under --out.
    first = RunOptions(
        week="2026-W06", sources=samples, out_dir=tmp_path / "one", checkpoint_url=database
    )
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(run_week(first, engine))
    stopped = json.loads((tmp_path / "one" / "2026-W06" / "run.json").read_text())
    assert stopped["status"] == "interrupted"
    assert not (tmp_path / "one" / ".newsroom" / "checkpoints.sqlite").exists()
    import psycopg

    with psycopg.connect(database) as conn:
        threads = {row[0] for row in conn.execute("select distinct thread_id from checkpoints")}
    assert stopped["run_id"] in threads

    # Machine two: another folder, the same database: it resumes without redoing research.
    second = RunOptions(
        week="2026-W06",
        sources=samples,
        out_dir=tmp_path / "two",
        checkpoint_url=database,
        resume=stopped["run_id"],
    )
    resumed = asyncio.run(run_week(second, engine))
    assert resumed.status == "ok" and resumed.run_id == stopped["run_id"]
    assert resumed.usage.tool_calls == 1  # research ran once, on machine one
    assert (tmp_path / "two" / "2026-W06" / "weekly.md").exists()


def test_an_unreachable_checkpoint_database_is_a_clear_error(
    engine: Engine, samples: Path, tmp_path: Path
) -> None:
    options = RunOptions(
        week="2026-W06",
        sources=samples,
        out_dir=tmp_path,
        checkpoint_url="postgresql://nobody:secret@127.0.0.1:9/none?connect_timeout=2",
    )
    with pytest.raises(
        SourceUnavailable, match=r"PostgreSQL at postgresql://nobody:\*\*\*@127\.0\.0\.1:9"
    ) as caught:
        asyncio.run(run_week(options, engine))
    assert "secret" not in str(caught.value)
