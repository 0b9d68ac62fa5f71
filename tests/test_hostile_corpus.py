"""A sources folder holding the bundled week plus hostile files: `newsroom run` publishes the
week's edition, names every bad file in one problem line, and stays well under 1 GB."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from newsroom.config import bundled_sources
from newsroom.tools.formats import MAX_FILE_PROBLEMS

WEEK = "2026-W06"
PEAK_RSS_LIMIT = 1024**3  # bytes
ITEM = {
    "title": "A normal item",
    "url": "https://example.com/normal",
    "source": "Wire",
    "published": "2026-02-04T10:00:00+08:00",
    "summary": "short",
}


def _feed(doctype: str, title: str) -> str:
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>x</title>'
        f"<item><title>{title}</title><link>https://example.com/feed/1</link>"
        "<pubDate>Wed, 04 Feb 2026 10:00:00 +0800</pubDate>"
        "<description>d</description></item></channel></rss>\n"
    )


def hostile_files(folder: Path, huge_mb: int = 50) -> list[str]:
    """Write the bad files into `folder`; their names."""
    laughs = "".join(
        f'<!ENTITY lol{k} "{f"&lol{k - 1};" * 10}">' for k in range(1, 10)
    )  # lol9 expands to 10^9 "lol"s
    files: dict[str, bytes] = {
        "deep.json": ("[" * 100_000 + "]" * 100_000).encode(),
        "laughs.xml": _feed(f'<!DOCTYPE rss [<!ENTITY lol0 "lol">{laughs}]>', "&lol9;").encode(),
        "xxe.xml": _feed(
            '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"
        ).encode(),
        "gbk.json": json.dumps({"items": [{**ITEM, "title": "中文标题"}]}, ensure_ascii=False)
        .replace("A normal item", "中文")
        .encode("gbk"),
        "truncated.json": json.dumps({"items": [ITEM, ITEM]}).encode()[:-17],
        "binary.json": bytes(range(256)) * 64 + b"\x00" * 4096,
        # 100,000 nested elements, and a description of a million '<' (quadratic tag stripping)
        "deep.xml": ("<rss>" + "<a>" * 100_000 + "</a>" * 100_000 + "</rss>").encode(),
        "tags.xml": _feed("", "Tags")
        .replace("<description>d", "<description>" + "&lt;" * 10**6)
        .replace("/feed/1", "/feed/tags")
        .encode(),
        "empty.json": b"",
        "empty.md": b"",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    # 50 MB (over the per-file cap) of one item with a huge summary, written in pieces.
    with open(folder / "huge.json", "w", encoding="utf-8") as out:
        out.write('{"items": [{"title": "huge", "url": "https://example.com/huge", ')
        out.write('"source": "S", "published": "2026-02-04T10:00:00+08:00", "summary": "')
        chunk = "长文本" * 100_000 + "x"
        for _ in range(huge_mb * 1024 * 1024 // len(chunk.encode())):
            out.write(chunk)
        out.write('"}]}')
    # A normal items file whose second item has a 680k-character summary.
    long_row = {**ITEM, "url": "https://example.com/long", "summary": "摘要" * 340_000}
    (folder / "long-summary.json").write_text(
        json.dumps({"items": [{**ITEM, "title": "Neighbour of a long one"}, long_row]}),
        encoding="utf-8",
    )
    # A digest with pathological nesting and very long lines.
    lines = ["# AI 日报 (2026-02-04)", "", "**" + "*" * 50_000 + "**"]
    lines += ["> " * 20_000 + "nested", "- " * 30_000 + "list", "[" * 100_000 + "](" * 50_000]
    lines += ["说明：" + "说" * 200_000, "来源出处：" + "[x](" * 40_000 + "[" * 200_000]
    lines += ["broken entry"] * 5_000  # a problem line each, past the per-file cap
    (folder / "pathological-2026-02-04.md").write_text("\n".join(lines), encoding="utf-8")
    readable = {"tags.xml"}  # odd but readable: its one item is kept
    return [*(n for n in files if n not in readable), "huge.json", "pathological-2026-02-04.md"]


def _run(sources: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """Run `newsroom run`; its result, its peak RSS in bytes (by /proc polling and, after it
    exits, getrusage of the waited-for children), and its wall time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSROOM_", "OPENAI_"))}
    command = [sys.executable, "-m", "newsroom", "run", "--week", WEEK]
    command += ["--sources", str(sources), "--out", str(out)]
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = 0
    import threading

    def poll() -> None:
        nonlocal peak
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError):
                pass
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    if Path("/proc/self/status").exists():
        watcher.start()
    stdout, stderr = process.communicate(timeout=600)
    if watcher.is_alive():
        watcher.join()
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after > before:  # the largest child so far is this one (KiB on Linux)
        peak = max(peak, after * 1024)
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return result, peak, elapsed


def _themes(out: Path) -> list[str]:
    report = json.loads((out / WEEK / "report.json").read_text(encoding="utf-8"))
    return [theme["name"] for theme in report["themes"]]


def test_a_hostile_corpus_publishes_the_week_and_names_each_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    shutil.copytree(bundled_sources(), folder)
    bad = hostile_files(folder)

    clean, _, _ = _run(bundled_sources(), tmp_path / "clean")
    assert clean.returncode == 0, clean.stderr[-2000:]

    result, peak, elapsed = _run(folder, tmp_path / "out")
    print(
        f"hostile corpus: exit {result.returncode}, peak RSS {peak / 2**20:.0f} MiB, {elapsed:.1f} s"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"

    run = json.loads((tmp_path / "out" / WEEK / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "ok"
    assert (tmp_path / "out" / WEEK / "weekly.md").exists()
    assert _themes(tmp_path / "out") == _themes(tmp_path / "clean")

    problems = [f"{p['origin']}: {p['message']}" for p in run["problems"]]

    def named(name: str) -> list[str]:
        return [p for p in problems if Path(p.split(": ", 1)[0].split("#")[0]).name == name]

    digest = "pathological-2026-02-04.md"
    for name in bad:
        if name != digest:  # a file that cannot be read at all: one line
            assert len(named(name)) == 1, (name, named(name), problems)
    # The digest is read item by item: a line per broken item (origin file:line), at most
    # MAX_FILE_PROBLEMS of them, the last counting the rest.
    lines = [p for p in problems if p.startswith(str(folder / digest))]
    assert len(lines) == MAX_FILE_PROBLEMS and "more problems" in lines[-1], lines
    assert "tags.xml" not in str(problems) and "long-summary.json" not in str(problems)
    # No problem line holds a file's contents: the billion laughs, /etc/passwd, a huge text.
    assert all(len(p) < 1000 for p in problems), max(problems, key=len)[:300]
    assert "root:" not in output and "lollol" not in output
