"""What a hostile user or a careless operator can do at the command line (issue 17)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsroom import cli
from newsroom.cli import app
from newsroom.preview import render_page

runner = CliRunner()


def _run(out: Path, *extra: str) -> str:
    result = runner.invoke(app, ["run", "--week", "2026-W06", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    found = re.search(r"run (2026-W06-\S+)", result.output)
    assert found is not None, result.output
    return found.group(1)


def test_update_of_an_unknown_run_is_exit_2_naming_it(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--week", "2026-W06", "--out", str(tmp_path), "--update", "NO-SUCH-RUN"]
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no run NO-SUCH-RUN" in errors[0]
    assert "Traceback" not in result.output and "✓ research" not in result.output
    assert not (tmp_path / "2026-W06" / "weekly.md").exists()


def test_update_of_a_known_run_still_publishes(tmp_path: Path) -> None:
    first = _run(tmp_path)
    second = _run(tmp_path, "--update", first)
    assert second != first
    run = json.loads((tmp_path / "2026-W06" / "run.json").read_text(encoding="utf-8"))
    assert run["run_id"] == second and run["update"]["base_run"] == first


def test_preview_of_an_old_run_renders_its_own_edition_or_exit_2(
    tmp_path: Path, samples: Path
) -> None:
    first = _run(tmp_path)
    edition = (tmp_path / "2026-W06" / "weekly.md").read_text(encoding="utf-8")
    # A second run, over one file of the week: a different edition replaces the first.
    one_file = next(p for p in sorted(samples.iterdir()) if p.suffix == ".json")
    second = _run(tmp_path, "--force", "--sources", str(one_file))
    current = (tmp_path / "2026-W06" / "weekly.md").read_text(encoding="utf-8")
    assert current != edition

    shown = runner.invoke(app, ["preview", first, "--out", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    page = Path(shown.output.strip())
    assert page.read_text(encoding="utf-8") == render_page(edition)

    latest = runner.invoke(app, ["preview", second, "--out", str(tmp_path)])
    assert latest.exit_code == 0, latest.output
    assert Path(latest.output.strip()) == tmp_path / "2026-W06" / "preview-weekly.html"
    assert (tmp_path / "2026-W06" / "preview-weekly.html").read_text(
        encoding="utf-8"
    ) == render_page(current)

    for copy in (tmp_path / ".newsroom" / "runs" / first / "edition").glob("*.md"):
        copy.unlink()
    gone = runner.invoke(app, ["preview", first, "--out", str(tmp_path)])
    assert gone.exit_code == 2, gone.output
    assert "Traceback" not in gone.output and len(gone.output.strip().splitlines()) == 1
    assert f"edition of run {first} is gone" in " ".join(gone.output.split())


def test_a_week_folder_that_is_a_file_is_exit_2_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "2026-W06").write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["run", "--week", "2026-W06", "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert f"{tmp_path / '2026-W06'} is a file" in " ".join(result.output.split())
    assert not list((tmp_path / ".newsroom" / "runs").glob("*"))


def test_serve_on_a_busy_port_is_exit_2_naming_it() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port), "--poll", "0"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert f"127.0.0.1:{port}" in result.output


@pytest.mark.parametrize("given", [True, False])
def test_ctrl_c_hint_names_the_out_folder_given(
    given: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "elsewhere"
    result = runner.invoke(
        app, ["run", "--week", "2026-W06", *(["--out", str(out)] if given else [])]
    )
    assert result.exit_code == 130, result.output
    hint = " ".join(result.output.split())
    found = re.search(r"continue with (newsroom run .*--resume \S+)", hint)
    assert found is not None, hint
    expected = f"--week 2026-W06 --out {out} --resume" if given else "--week 2026-W06 --resume"
    assert expected in found.group(1)
