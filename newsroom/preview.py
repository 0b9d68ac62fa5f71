"""A standalone HTML page of an edition: its Markdown rendered, front matter as a header."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from newsroom.errors import UsageError
from newsroom.publish import write_atomic

STYLE = """
body { font-family: -apple-system, "Noto Sans CJK SC", "PingFang SC", sans-serif;
       max-width: 52rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.7; color: #222; }
header.meta { font-size: .85rem; color: #666; border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
blockquote { margin: 1rem 0; padding: .5rem 1rem; background: #f6f8fa;
             border-left: 4px solid #1677ff; }
a { color: #1677ff; } h1 { font-size: 1.7rem; } h3 { margin-top: 2rem; }
"""


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.index("\n---\n", 4)
    meta = {}
    for line in text[4:end].splitlines():
        if ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip().strip('"')
    return meta, text[end + 5 :]


def _current_run(folder: Path) -> str | None:
    """The run whose edition `folder` (OUT/WEEK) holds now, by its run.json."""
    try:
        run_id = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return run_id if isinstance(run_id, str) else None


def render_page(markdown_text: str) -> str:
    from markdown_it import MarkdownIt

    meta, body = split_front_matter(markdown_text)
    content = MarkdownIt("commonmark", {"html": True}).enable("table").render(body)
    facts = " · ".join(
        html.escape(f"{k}: {meta[k]}")
        for k in ("edition", "week", "date", "generator", "status")
        if k in meta
    )
    return (
        '<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(meta.get('title', 'newsroom'))}</title>\n"
        f'<style>{STYLE}</style>\n</head>\n<body>\n<header class="meta">{facts}</header>\n'
        f"<main>\n{content}</main>\n</body>\n</html>\n"
    )


def write_preview(run: dict[str, Any], edition: str, run_dir: Path) -> Path:
    """The page of the edition run `run` published: beside the edition while it is the week's
    current one, else beside the run's own copy in `run_dir`; gone from both, a UsageError."""
    from newsroom.observability.store import edition_copy

    outputs = run.get("outputs", {})
    if edition not in ("weekly", "digest", "briefing"):
        raise UsageError(f"unknown edition {edition!r}: use weekly, digest or briefing")
    if edition not in outputs:
        raise UsageError(f"run {run['run_id']} has no {edition} edition (status {run['status']})")
    source = Path(outputs[edition])
    current = _current_run(source.parent)
    if current != run["run_id"] or not source.is_file():
        published = source
        source = edition_copy(run_dir, published)
        if not source.is_file():
            raise UsageError(
                f"the {edition} edition of run {run['run_id']} is gone: {published.parent} "
                f"holds {f'run {current}' if current else 'no edition'} and {run_dir} no copy"
            )
    page = source.with_name(f"preview-{edition}.html")
    write_atomic(page, render_page(source.read_text(encoding="utf-8")))
    return page
