"""The command line, through Typer's runner and, for the README command, as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import start_past_research
from typer.testing import CliRunner

from newsroom.cli import app

runner = CliRunner()


@pytest.mark.parametrize("week", ["2026-W60", "W06", "2026-06"])
def test_invalid_week_is_one_line_exit_2(week: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--week", week, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "invalid week" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_missing_source_folder_exit_4(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--week",
            "2026-W06",
            "--out",
            str(tmp_path / "o"),
            "--sources",
            str(tmp_path / "nowhere"),
        ],
    )
    assert result.exit_code == 4
    assert "nowhere" in result.output and "does not exist" in result.output


def test_empty_week_names_the_folder_and_bad_files(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "broken.json").write_text("{not json")
    result = runner.invoke(
        app, ["run", "--week", "2026-W06", "--out", str(tmp_path / "o"), "--sources", str(sources)]
    )
    assert result.exit_code == 4
    assert "no item published in 2026-W06" in " ".join(result.output.split())
    run = json.loads((tmp_path / "o" / "2026-W06" / "run.json").read_text())
    assert run["status"] == "failed"
    assert run["problems"][0]["origin"].endswith("broken.json")


def test_unknown_engine_and_llm_not_yet(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--week", "2026-W06", "--engine", "gpt", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "unknown engine" in result.output


def test_resume_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--week", "2026-W06", "--out", str(tmp_path), "--resume", "nope"]
    )
    assert result.exit_code == 2
    assert "no checkpoint for run nope" in result.output


def test_readme_command_as_a_process_then_force(tmp_path: Path) -> None:
    """`newsroom run --week 2026-W06` exactly as the README has it, in a fresh folder."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "newsroom", "run", "--week", "2026-W06"]
    first = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    assert "engine: offline" in first.stderr
    folder = tmp_path / "out" / "2026-W06"
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "ok" and run["stop_reason"] is None
    assert set(run["usage"]) >= {
        "llm_calls",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "tool_calls",
    }
    assert run["usage"]["tool_calls"] == 1
    report = json.loads((folder / "report.json").read_text())
    assert {"themes", "stories", "claims", "sources"} <= set(report)

    again = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 2
    assert "already published" in again.stderr and "--force" in again.stderr

    forced = subprocess.run(
        [*command, "--force"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert forced.returncode == 0, forced.stderr
    assert json.loads((folder / "run.json").read_text())["run_id"] != run["run_id"]


def test_eval_commands_print_metrics_and_predictions(dev_dir: Path, tmp_path: Path) -> None:
    predictions = tmp_path / "items.pred.jsonl"
    result = runner.invoke(
        app,
        [
            "eval",
            "cluster",
            "--items",
            str(dev_dir / "items.jsonl"),
            "--predictions",
            str(predictions),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["bcubed_f1"] >= 0.80
    assert metrics["dedup_precision"] >= 0.95 and metrics["dedup_recall"] >= 0.85
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == metrics["items"] >= 50
    assert set(rows[0]) == {"id", "theme_cluster", "dup_cluster"}

    claims = tmp_path / "claims.pred.jsonl"
    result = runner.invoke(
        app,
        [
            "eval",
            "factcheck",
            "--items",
            str(dev_dir / "items.jsonl"),
            "--claims",
            str(dev_dir / "claims.jsonl"),
            "--predictions",
            str(claims),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["claims"] >= 60
    assert metrics["contradicted"]["recall"] >= 0.90
    assert metrics["contradicted"]["precision"] >= 0.90
    assert {"id", "predicted"} <= set(json.loads(claims.read_text().splitlines()[0]))


def test_eval_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "items.jsonl"
    bad.write_text('{"id": "1"}\n')
    result = runner.invoke(app, ["eval", "cluster", "--items", str(bad)])
    assert result.exit_code == 2
    assert "missing title" in result.output


def test_ctrl_c_keeps_the_checkpoint_and_resume_finishes(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "newsroom", "run", "--week", "2026-W06"]
    process, env = start_past_research(command, tmp_path)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    run = json.loads((tmp_path / "out" / "2026-W06" / "run.json").read_text())
    assert run["status"] == "interrupted"
    assert f"--resume {run['run_id']}" in err

    resumed = subprocess.run(
        [*command, "--resume", run["run_id"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "✓ research" not in resumed.stderr and "✓ publish" in resumed.stderr
    finished = json.loads((tmp_path / "out" / "2026-W06" / "run.json").read_text())
    assert finished["status"] == "ok" and finished["run_id"] == run["run_id"]
    assert finished["usage"]["tool_calls"] == 1


def test_llm_engine_against_fake_server_then_dead_endpoint_and_resume(tmp_path: Path) -> None:
    from newsroom.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        result = runner.invoke(
            app,
            ["run", "--week", "2026-W06", "--out", str(tmp_path / "a")],
            env={"OPENAI_BASE_URL": server.base_url, "NEWSROOM_MODEL": "fake-1"},
        )
        assert result.exit_code == 0, result.output
        assert "engine: llm" in result.output and "writer fake-1" in result.output
        assert "LLM calls" in result.output
        assert server.requests
    markdown = (tmp_path / "a" / "2026-W06" / "weekly.md").read_text()
    assert "generator: llm" in markdown and 'writer: "fake-1"' in markdown
    usage = json.loads((tmp_path / "a" / "2026-W06" / "run.json").read_text())["usage"]
    assert usage["llm_calls"] == len(server.requests)

    dead = {
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "NEWSROOM_LLM_RETRIES": "0",
        "NEWSROOM_LLM_TIMEOUT": "2",
    }
    failed = runner.invoke(
        app, ["run", "--week", "2026-W06", "--out", str(tmp_path / "b")], env=dead
    )
    assert failed.exit_code == 4
    assert "could not be reached" in failed.output and "--resume" in failed.output
    assert "Traceback" not in failed.output
    run = json.loads((tmp_path / "b" / "2026-W06" / "run.json").read_text())
    assert run["status"] == "failed"

    with FakeOpenAIServer() as server:
        resumed = runner.invoke(
            app,
            ["run", "--week", "2026-W06", "--out", str(tmp_path / "b"), "--resume", run["run_id"]],
            env={"OPENAI_BASE_URL": server.base_url},
        )
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((tmp_path / "b" / "2026-W06" / "run.json").read_text())["status"] == "ok"


def test_engine_is_chosen_by_configuration() -> None:
    from newsroom.config import Settings

    assert Settings().chosen_engine(None) == "offline"
    assert Settings(base_url="http://127.0.0.1:1/v1").chosen_engine(None) == "llm"
    assert Settings(base_url="http://127.0.0.1:1/v1").chosen_engine("offline") == "offline"
    assert Settings(engine="offline", api_key="sk-x").chosen_engine(None) == "offline"


def test_a_guard_ends_the_run_with_exit_3_and_a_partial_edition(tmp_path: Path) -> None:
    from newsroom.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        result = runner.invoke(
            app,
            ["run", "--week", "2026-W06", "--out", str(tmp_path), "--max-llm-calls", "3"],
            env={"OPENAI_BASE_URL": server.base_url, "NEWSROOM_PRICES": '{"gpt-4o-mini": [1, 2]}'},
        )
        assert len(server.requests) == 3
    assert result.exit_code == 3, result.output
    assert "limits: $1, 400000 tokens, 3 LLM calls" in result.output
    assert "stopped by a guard" in result.output and "LLM calls limit 3 reached" in result.output
    run = json.loads((tmp_path / "2026-W06" / "run.json").read_text())
    assert run["status"] == "partial" and run["tripped"]["guard"] == "LLM calls"
    assert run["tripped"]["limit"] == 3 and run["usage"]["llm_calls"] == 3
    assert "status: partial" in (tmp_path / "2026-W06" / "weekly.md").read_text()


def test_shared_week_budget_through_redis(tmp_path: Path, redis_url: str) -> None:
    import redis

    from newsroom.testing import FakeOpenAIServer

    week_keys = [
        f"newsroom:budget:week:2026-W06:{p}" for p in ("used", "reserved", "open", "leases")
    ]
    client = redis.Redis.from_url(redis_url)
    client.delete(*week_keys)
    env = {"NEWSROOM_BUDGET_SCOPE": "week", "REDIS_URL": redis_url}
    try:
        with FakeOpenAIServer() as server:
            env["OPENAI_BASE_URL"] = server.base_url
            first = runner.invoke(
                app,
                [
                    "run",
                    "--week",
                    "2026-W06",
                    "--out",
                    str(tmp_path / "a"),
                    "--max-llm-calls",
                    "14",
                ],
                env=env,
            )
            assert first.exit_code == 0, first.output
            assert "limits (shared per week)" in first.output
            second = runner.invoke(
                app,
                [
                    "run",
                    "--week",
                    "2026-W06",
                    "--out",
                    str(tmp_path / "b"),
                    "--max-llm-calls",
                    "14",
                ],
                env=env,
            )
        assert second.exit_code == 3, second.output  # the week's budget was mostly spent
        used = int(client.hget(week_keys[0], "llm_calls") or 0)
        assert used == 14
    finally:
        client.delete(*week_keys)
    missing = runner.invoke(
        app,
        ["run", "--week", "2026-W06", "--out", str(tmp_path / "c")],
        env={"NEWSROOM_BUDGET_SCOPE": "week"},
    )
    assert missing.exit_code == 2 and "set REDIS_URL" in missing.output


@pytest.mark.parametrize("where", ["file", "under_file", "unwritable"])
def test_a_bad_out_folder_is_one_line_exit_2(where: str, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x", encoding="utf-8")
    out = {
        "file": blocker,
        "under_file": blocker / "out",
        "unwritable": Path("/proc/newsroom-out"),  # even root cannot make a folder there
    }[where]
    result = runner.invoke(app, ["run", "--week", "2026-W06", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and f"--out {out}" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSROOM_MAX_REVISIONS", "abc"),
        ("NEWSROOM_TAGS", "[oops"),
        ("NEWSROOM_PRICES", '{"m": "cheap"}'),
        ("NEWSROOM_CATEGORIES", "not json"),
    ],
)
def test_a_bad_setting_is_one_line_exit_2(
    name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["run", "--week", "2026-W06", "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and name in result.output
    assert len(result.output.strip().splitlines()) == 1
