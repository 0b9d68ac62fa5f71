"""The HTML preview in a real headless Chromium: a screenshot, the headings and the links."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsroom.cli import app

pytestmark = pytest.mark.browser
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("no chromium: install Debian's chromium (`make browser` does it)")
    return found


@pytest.mark.parametrize("edition", ["weekly", "digest", "briefing"])
def test_preview_in_headless_chromium(edition: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--week", "2026-W06", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_id = re.search(r"run (2026-W06-\S+)", result.output)
    assert run_id is not None
    shown = runner.invoke(
        app, ["preview", run_id.group(1), "--edition", edition, "--out", str(tmp_path)]
    )
    assert shown.exit_code == 0, shown.output
    page = Path(shown.output.strip())
    markdown = page.with_name(f"{edition}.md").read_text()
    browser = chromium()
    shot = tmp_path / f"{edition}.png"
    subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'ud1'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'ud2'}", "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    headings = re.findall(r"<h([123])[^>]*>(.*?)</h\1>", dom, re.S)
    expected = re.findall(r"^#{1,3} (.+)$", markdown, re.M)
    assert [text for _, text in headings] == expected and len(expected) >= 2
    if edition == "digest":  # categories are bold lines, as in our users' digests
        assert "<strong>投融资与并购</strong>" in dom
    links = re.findall(r'<a href="(https?://[^"]+)"', dom)
    cited = set(re.findall(r"\[\[\d+\]\]\((https?://[^)]+)\)", markdown))
    assert cited and cited <= set(links)
