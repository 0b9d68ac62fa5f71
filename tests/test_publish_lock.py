"""One week, one folder, one publisher at a time: the per-week lock, the edition swapped in as a
whole, and SIGTERM taking Ctrl-C's path."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import start_past_research
from typer.testing import CliRunner, Result

import newsroom.publish
from newsroom.cli import app
from newsroom.publish import week_lock

runner = CliRunner()
WEEK = "2026-W06"
EDITION = ("weekly.md", "digest.md", "briefing.md")


def _run(out: Path, *extra: str) -> Result:
    return runner.invoke(app, ["run", "--week", WEEK, "--out", str(out), *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _run_ids(folder: Path) -> set[str]:
    """The run id of run.json and of every edition file's front matter."""
    ids = {json.loads((folder / "run.json").read_text())["run_id"]}
    for name in EDITION:
        found = re.search(r"^run_id: (\S+)$", (folder / name).read_text(), re.MULTILINE)
        assert found, name
        ids.add(found.group(1))
    return ids


def test_a_second_run_of_the_week_while_one_holds_the_lock_exits_2(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first.exit_code == 0, first.output
    folder = tmp_path / WEEK
    before = _snapshot(folder)
    with week_lock(tmp_path, WEEK, "2026-W06-holder"):
        second = _run(tmp_path, "--force")
    assert second.exit_code == 2, second.output
    line = " ".join(second.output.split())
    assert f"{WEEK} is being published into {tmp_path} by run 2026-W06-holder" in line
    assert f"(pid {os.getpid()})" in line and "another --out" in line
    assert "Traceback" not in line
    assert _snapshot(folder) == before
    # The holder gone, its lock file left behind blocks nothing.
    assert (tmp_path / ".newsroom" / "locks" / f"{WEEK}.lock").is_file()
    assert _run(tmp_path, "--force").exit_code == 0


def test_the_edition_is_one_run_s_after_force_runs_and_a_crash_mid_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / WEEK
    assert _run(tmp_path).exit_code == 0
    assert _run(tmp_path, "--force").exit_code == 0
    ids = _run_ids(folder)
    assert len(ids) == 1
    before = _snapshot(folder)

    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("the briefing template broke")

    # A run that fails after the weekly and the digest are rendered replaces none of them.
    monkeypatch.setattr(newsroom.publish, "render_briefing", broken)
    failed = _run(tmp_path, "--force")
    assert failed.exit_code != 0
    assert _run_ids(folder) == ids
    assert _snapshot(folder) == before


def _own_record(out: Path) -> dict[str, Any]:
    records: list[dict[str, Any]] = [
        json.loads(p.read_text()) for p in (out / ".newsroom" / "runs").glob("*/run.json")
    ]
    interrupted = [r for r in records if r["status"] == "interrupted"]
    assert len(interrupted) == 1, records
    return interrupted[0]


def test_sigterm_is_ctrl_c_exit_143_and_resume_finishes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "newsroom", "run", "--week", WEEK, "--out", str(out)]
    process, env = start_past_research(command, tmp_path)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    run = _own_record(out)
    message = " ".join(err.split())
    assert "SIGTERM" in message
    assert f"--out {out} --resume {run['run_id']}" in message
    resumed = subprocess.run(
        [*command, "--resume", str(run["run_id"])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    finished = json.loads((out / WEEK / "run.json").read_text())
    assert finished["status"] == "ok" and finished["run_id"] == run["run_id"]


def test_an_interrupted_force_run_leaves_the_week_s_run_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(out).exit_code == 0
    folder = out / WEEK
    old = json.loads((folder / "run.json").read_text())["run_id"]
    before = _snapshot(folder)
    command = [sys.executable, "-m", "newsroom", "run", "--week", WEEK, "--out", str(out)]
    process, _ = start_past_research([*command, "--force"], tmp_path)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    run = _own_record(out)
    assert run["run_id"] != old
    assert _snapshot(folder) == before
    assert _run_ids(folder) == {old}
