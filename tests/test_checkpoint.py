"""The run's SQLite checkpointer: values stored once per channel version, read back whole."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from newsroom.agents import Engine
from newsroom.checkpoint import SqliteCheckpointer
from newsroom.runner import RunOptions, checkpointer_path, run_week, serializer


class Steps(TypedDict, total=False):
    big: list[str]
    count: int
    note: str


def _graph(saver: SqliteCheckpointer) -> Any:
    def first(state: Steps) -> dict[str, Any]:
        return {"big": [f"item {n}" for n in range(1000)], "count": 1}

    def later(state: Steps) -> dict[str, Any]:
        return {"count": state["count"] + 1, "note": f"step {state['count'] + 1}"}

    builder = StateGraph(Steps)
    builder.add_node("first", first)
    builder.add_node("later", later)
    builder.add_edge(START, "first")
    builder.add_conditional_edges("first", lambda s: "later")
    builder.add_conditional_edges("later", lambda s: "later" if s["count"] < 5 else END)
    return builder.compile(checkpointer=saver)


def test_a_step_writes_only_what_it_changed(tmp_path: Path) -> None:
    saver = SqliteCheckpointer.open(tmp_path / "c.sqlite", serializer())
    graph = _graph(saver)
    config: Any = {"configurable": {"thread_id": "t"}}
    final = asyncio.run(graph.ainvoke({"count": 0}, config, durability="sync"))
    assert final["count"] == 5 and len(final["big"]) == 1000
    blobs = dict(
        saver.conn.execute("select channel, count(*) from run_blobs group by channel").fetchall()
    )
    assert blobs["big"] == 1  # written once, though every later checkpoint holds it
    steps = saver.conn.execute("select count(*) from run_checkpoints").fetchone()[0]
    assert steps == 7  # input, first, four times later
    # Every checkpoint reads back whole, the old ones too.
    history = list(graph.get_state_history(config))
    assert [h.values.get("count") for h in history] == [5, 4, 3, 2, 1, 0, None]
    assert all(len(h.values["big"]) == 1000 for h in history[:-2])
    assert history[0].values["note"] == "step 5"
    assert len(list(saver.list(config, limit=2))) == 2
    assert len(list(saver.list(config, before=history[1].config))) == 5
    assert [t.metadata["step"] for t in saver.list(config, filter={"step": 2})] == [2]
    saver.close()


def test_versions_increase_and_never_repeat() -> None:
    saver = SqliteCheckpointer(sqlite3.connect(":memory:"))
    one = saver.get_next_version(None, None)
    two = saver.get_next_version(one, None)
    again = saver.get_next_version(one, None)  # a fork from the same checkpoint
    assert one < two and two != again and two.split(".")[0] == again.split(".")[0]


def test_a_run_is_stored_per_channel_version(tmp_path: Path, engine: Engine, samples: Path) -> None:
    summary = asyncio.run(
        run_week(RunOptions(week="2026-W06", sources=samples, out_dir=tmp_path), engine)
    )
    with sqlite3.connect(checkpointer_path(tmp_path)) as con:
        items = con.execute(
            "select count(*) from run_blobs where thread_id = ? and channel = 'items'",
            (summary.run_id,),
        ).fetchone()[0]
        steps = con.execute(
            "select count(*) from run_checkpoints where thread_id = ?", (summary.run_id,)
        ).fetchone()[0]
    assert items == 1 and steps >= 7
