"""Every edition our users publish, rendered from one run's stories, in both engines."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from newsroom.agents import Engine
from newsroom.cli import app
from newsroom.methods.embeddings import Embedder
from newsroom.publish import FrontMatter
from newsroom.runner import RunOptions, run_week
from newsroom.tools.formats import read_folder
from newsroom.weeks import parse_week

CITE = re.compile(r"\[\[(\d+)\]\]\((https?://[^)]+)\)")
DAY = date(2026, 2, 6)


def _run(engine: Engine, samples: Path, out: Path, **options: Any) -> dict[str, Any]:
    summary = anyio.run(
        run_week,
        RunOptions(week="2026-W06", sources=samples, out_dir=out, day=DAY, **options),
        engine,
    )
    assert summary.status == "ok"
    return summary.outputs


def _references(markdown: str) -> dict[int, str]:
    refs = re.findall(
        r'^(\d+)\. <a id="ref-\d+"></a>\[[^\]]*\]\((https?://[^)]+)\)', markdown, re.M
    )
    return {int(n): url for n, url in refs}


def _factual_lines(markdown: str, edition: str) -> list[str]:
    body = markdown.split("\n---\n", 1)[1].split("### 参考")[0]
    lines = [line for line in body.splitlines() if line.strip()]
    if edition == "digest":
        skip = ("#", ">", "**", "来源出处：", "要点：")
        return [line for line in lines if not line.startswith(skip)]
    return [line for line in lines if line.startswith("- ")]


def assert_all_cited(outputs: dict[str, str], samples: Path) -> None:
    urls = {item.url for item in read_folder(samples, "Asia/Shanghai").items}
    for edition in ("weekly", "digest", "briefing", "digest_day"):
        markdown = Path(outputs[edition]).read_text()
        references = _references(markdown)
        lines = _factual_lines(markdown, "digest" if edition.startswith("digest") else edition)
        assert lines, edition
        for line in lines:
            if edition == "weekly" and not line.startswith("- **") and "[[" not in line:
                continue  # outlook lines and advice are judgements, not facts
            marks = CITE.findall(line)
            assert marks, f"{edition}: no citation on {line!r}"
            for number, url in marks:
                assert references[int(number)] == url and url in urls, (edition, line)


def test_three_editions_from_one_offline_run(engine: Engine, samples: Path, tmp_path: Path) -> None:
    outputs = _run(engine, samples, tmp_path)
    assert_all_cited(outputs, samples)
    for name in ("weekly", "digest", "briefing", "digest_day"):
        assert f"edition: {name.removesuffix('_day')}" in Path(outputs[name]).read_text()
    briefing = Path(outputs["briefing"]).read_text()
    assert "## 亮点回顾" in briefing and "## 深度报道与点评" in briefing and "## 总结" in briefing
    assert "### 1. " in briefing
    digest = json.loads(Path(outputs["digest_json"]).read_text())
    categories = [c["name"] for c in digest["categories"]]
    assert set(categories) <= {
        "政策与监管",
        "模型与技术进展",
        "产品与应用发布",
        "投融资与并购",
        "行业落地与生态",
    }
    assert sum(len(c["entries"]) for c in digest["categories"]) == len(
        json.loads(Path(outputs["report"]).read_text())["stories"]
    )


def test_day_digest_lists_that_days_items_only(
    engine: Engine, samples: Path, tmp_path: Path
) -> None:
    outputs = _run(engine, samples, tmp_path)
    window = parse_week("2026-W06")
    # Items off the desk leave every edition (report.json lists them with the reason).
    left_out = {i["id"] for i in json.loads(Path(outputs["report"]).read_text())["left_out"]}
    that_day = {
        i.id
        for i in read_folder(samples, window.tz).items
        if window.contains(i.published)
        and window.local_date(i.published) == DAY
        and i.id not in left_out
    }
    daily = json.loads(Path(outputs["digest_day_json"]).read_text())
    listed = {s["id"] for c in daily["categories"] for e in c["entries"] for s in e["sources"]}
    assert listed == that_day and len(listed) >= 8
    markdown = Path(outputs["digest_day"]).read_text()
    assert "AI 行业动态 (2026-02-06)" in markdown and "date: 2026-02-06" in markdown


def test_user_templates_and_front_matter(engine: Engine, samples: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.md.j2").write_text(
        '{% include "_front_matter.md.j2" %}\n# 我们的快讯\n'
        "{% for c in categories %}{% for e in c.entries %}- {{ e.title }}{{ cite(e.title_cites) }}\n"
        "{% endfor %}{% endfor %}"
    )
    front = FrontMatter(
        layout="layouts/news.njk", tags=("AI", "快讯"), author="编辑部", templates=templates
    )
    outputs = _run(engine, samples, tmp_path / "out", front_matter=front)
    digest = Path(outputs["digest"]).read_text()
    assert "# 我们的快讯" in digest and 'author: "编辑部"' in digest
    assert 'layout: "layouts/news.njk"' in digest and '- "快讯"' in digest
    assert "### 主轴一" in Path(outputs["weekly"]).read_text()  # the bundled weekly still applies


def test_three_editions_from_one_llm_run(embedder: Embedder, samples: Path, tmp_path: Path) -> None:
    from newsroom.testing import scripted_engine

    engine, _ = scripted_engine(embedder)
    outputs = _run(engine, samples, tmp_path)
    assert_all_cited(outputs, samples)
    assert "generator: llm" in Path(outputs["briefing"]).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--day", "2026-02-10"], "is not in 2026-W06"),
        (["--day", "06/02/2026"], "invalid day"),
        (["--edition", "magazine"], "unknown edition"),
    ],
)
def test_edition_flags_are_checked(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--week", "2026-W06", "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output


def test_an_item_without_a_web_address_links_to_its_reference() -> None:
    """A newsletter's item may have no URL: its citation mark points at its line in the
    references (no empty `()` link), and that line names it without a link."""
    from newsroom.models import SourceItem
    from newsroom.publish import References

    quoted = SourceItem(
        id="q1",
        title="某周报摘录",
        summary="某公司发布了新模型。",
        url="",
        source="某周报",
        published=datetime(2026, 2, 4, tzinfo=UTC),
        lang="zh",
    )
    linked = quoted.model_copy(update={"id": "l1", "url": "https://e.com/l1", "title": "原文"})
    references = References({"q1": quoted, "l1": linked})
    assert references.mark(["l1", "q1"]) == "[[1]](https://e.com/l1)[[2]](#ref-2)"
    lines = references.render()
    assert lines[1].startswith('2. <a id="ref-2"></a>某周报摘录 — 某周报') and "()" not in lines[1]
    assert "[原文](https://e.com/l1)" in lines[0]
