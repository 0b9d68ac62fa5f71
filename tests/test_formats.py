from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from newsroom.models import MAX_CHARS, MAX_WEIGHT, SourceItem
from newsroom.tools.formats import canonical_url, parse_digest, parse_feed, parse_json, read_folder
from newsroom.weeks import parse_week

TZ = "Asia/Shanghai"

DIGEST = """# AI 行业动态 (2026-02-03)

**投融资与并购**

某公司完成新一轮融资
说明：某公司宣布完成2亿元融资。
背景：行业投资升温。
要点：
- 本轮由甲资本领投。
- 资金用于研发。
来源出处：[样例日报](https://example.com/a?utm_source=x)

缺少出处的条目
说明：这一条没有来源出处。

**政策与监管**

另一条
说明：第二条说明。
来源出处：[样例晚报](https://example.com/b)
"""


def test_digest_items_fields_and_bad_entry_reported() -> None:
    result = parse_digest(DIGEST, "digest.md", TZ)
    assert [item.title for item in result.items] == ["某公司完成新一轮融资", "另一条"]
    first = result.items[0]
    assert first.source == "样例日报"
    assert first.category == "投融资与并购"
    assert first.summary == "某公司宣布完成2亿元融资。"
    assert "本轮由甲资本领投。" in first.body and "背景：行业投资升温。" in first.body
    assert first.published.isoformat() == "2026-02-03T09:00:00+08:00"
    assert len(result.problems) == 1
    assert result.problems[0].origin == "digest.md:13"
    assert "来源出处" in result.problems[0].message


def test_digest_without_date_is_a_problem_for_that_file_only(tmp_path: Path) -> None:
    (tmp_path / "undated.md").write_text(
        "**模型**\n\n标题\n说明：x。\n来源出处：[a](https://a.b/c)\n"
    )
    (tmp_path / "digest-2026-02-04.md").write_text(DIGEST.replace("(2026-02-03)", ""))
    (tmp_path / "broken.xml").write_text("<rss><channel><item><title>x</title>")
    (tmp_path / "notes.txt").write_text("not a source")
    result = read_folder(tmp_path, TZ)
    assert {item.published.date().isoformat() for item in result.items} == {"2026-02-04"}
    messages = {Path(p.origin.split(":")[0]).name: p.message for p in result.problems}
    assert "no date" in messages["undated.md"]
    assert "malformed XML" in messages["broken.xml"]
    assert "unsupported file type" in messages["notes.txt"]


def test_rss_dates_and_missing_fields() -> None:
    xml = """<rss><channel><title>Feed</title>
      <item><title>A</title><link>https://e.com/a</link><pubDate>Sun, 08 Feb 2026 17:30:00 GMT</pubDate>
        <description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description></item>
      <item><title>B</title><link>https://e.com/b</link></item>
      <item><link>https://e.com/c</link><pubDate>Sun, 08 Feb 2026 10:00:00 GMT</pubDate></item>
    </channel></rss>"""
    result = parse_feed(xml, "feed.xml", TZ)
    assert [i.title for i in result.items] == ["A"]
    assert result.items[0].summary == "Hello world"
    assert result.items[0].source == "Feed"
    assert not parse_week("2026-W06").contains(result.items[0].published)
    assert len(result.problems) == 2


def test_atom_entries() -> None:
    xml = """<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
      <entry><title>T</title><link href="https://e.com/t"/><id>urn:1</id>
      <updated>2026-02-05T08:00:00Z</updated><summary>S</summary></entry></feed>"""
    result = parse_feed(xml, "a.atom", TZ)
    assert result.items[0].url == "https://e.com/t"
    assert result.items[0].published.isoformat() == "2026-02-05T08:00:00+00:00"


def test_json_rows_validated_one_by_one() -> None:
    text = """{"items": [
      {"id": "1", "title": "ok", "url": "https://e.com/1", "source": "S", "published": "2026-02-03T10:00:00+08:00"},
      {"id": "2", "url": "https://e.com/2", "published": "2026-02-03T10:00:00+08:00"},
      {"id": "3", "title": "bad date", "url": "https://e.com/3", "published": "yesterday"},
      "nonsense"
    ]}"""
    result = parse_json(text, "w.json", TZ)
    assert [i.id for i in result.items] == ["1"]
    assert [p.origin for p in result.problems] == ["w.json#2", "w.json#3", "w.json#4"]


def test_canonical_url_drops_tracking_and_case() -> None:
    assert (
        canonical_url("HTTP://WWW.Example.com/a/?utm_source=x&b=2&vt=4#top")
        == "https://example.com/a?b=2"
    )
    assert canonical_url("https://example.com/a") == canonical_url("https://www.example.com/a/")


def test_bundled_samples_cover_the_week(samples: Path) -> None:
    result = read_folder(samples, TZ)
    window = parse_week("2026-W06")
    inside = [i for i in result.items if window.contains(i.published)]
    assert not result.problems
    assert len(inside) >= 60
    assert {window.local_date(i.published).isoformat() for i in inside} == {
        d.isoformat() for d in window.days
    }
    assert {i.lang for i in inside} == {"zh", "en"}
    assert len(result.items) - len(inside) == 5


def test_a_date_out_of_range_is_a_problem_or_dated_by_collection() -> None:
    rows = [
        {"id": "far", "title": "t", "url": "https://e.com/1", "source": "s"},
        {"id": "old", "title": "t", "url": "https://e.com/2", "source": "s"},
        {"id": "kept", "title": "t", "url": "https://e.com/3", "source": "s"},
    ]
    rows[0]["published"] = "9999-12-31T23:59:59+00:00"
    rows[1]["published"] = "1970-01-01T00:00:00+00:00"
    rows[2]["published"] = "9999-12-31T23:59:59+00:00"
    rows[2]["collected"] = "2026-02-03T08:00:00+08:00"
    result = parse_json(json.dumps({"items": rows}), "x.json", "Asia/Shanghai")
    assert [p.origin for p in result.problems] == ["x.json#1", "x.json#2"]
    assert "in the future" in result.problems[0].message
    assert "before 2000-01-01" in result.problems[1].message
    (kept,) = result.items
    assert kept.dated_by == "collected" and kept.published == kept.collected
    assert kept.published.isoformat() == "2026-02-03T08:00:00+08:00"
    feed = RSS_ONE.replace("STAMP", "Fri, 31 Dec 9999 23:59:59 +0000")
    assert not parse_feed(feed, "f.xml", "Asia/Shanghai").items


RSS_ONE = """<rss><channel><title>F</title><item><title>T</title>
<link>https://e.com/a</link><pubDate>STAMP</pubDate></item></channel></rss>"""


def test_fields_are_stripped_and_cut_at_their_bounds_never_refused() -> None:
    row = {
        "id": "i" * 300,
        "title": "a\x00b\x07c\nd" + "t" * 600,
        "url": "https://e.com/x",
        "source": "s\x00",
        "published": "2026-02-03T08:00:00+08:00",
        "summary": "s" * 6_000,
        "body": "b\x00" * 60_000,
    }
    (item,) = parse_json(json.dumps([row]), "x.json", "Asia/Shanghai").items
    assert item.truncated and item.source == "s"
    assert item.title.startswith("abc d") and len(item.title) == MAX_CHARS["title"] == 500
    assert len(item.id) == 200 and len(item.summary) == 5_000 and len(item.body) == 50_000
    assert "\x00" not in item.body
    short = {**row, "id": "i", "title": "t", "summary": "", "body": ""}
    assert not parse_json(json.dumps([short]), "x.json", "Asia/Shanghai").items[0].truncated


def test_only_http_urls_and_finite_weights_get_in() -> None:
    rows = [
        {"id": str(k), "title": "t", "url": url, "source": "s", "published": "2026-02-03"}
        for k, url in enumerate(["javascript:alert(1)", "ftp://e.com/x", "https://e.com/x"])
    ]
    result = parse_json(json.dumps(rows), "x.json", "Asia/Shanghai")
    assert [i.id for i in result.items] == ["2"]
    assert ["not http or https" in p.message for p in result.problems] == [True, True]
    feed = RSS_ONE.replace("https://e.com/a", "javascript:alert(1)").replace(
        "STAMP", "Tue, 03 Feb 2026 08:00:00 +0800"
    )
    assert "not http or https" in parse_feed(feed, "f.xml", "Asia/Shanghai").problems[0].message
    heavy = SourceItem(
        id="a", title="t", url="https://e.com", source="s", published=datetime.now(UTC)
    )
    assert heavy.model_copy(update={"weight": 1.0}).weight == 1.0
    for weight, kept in ((1e308, MAX_WEIGHT), (float("nan"), 1.0), (-3.0, 0.0)):
        item = SourceItem.model_validate({**heavy.model_dump(), "weight": weight})
        assert item.weight == kept


def test_a_deeply_nested_json_file_is_one_problem_line(samples: Path, tmp_path: Path) -> None:
    folder = tmp_path / "week"
    shutil.copytree(samples, folder)
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = read_folder(folder, "Asia/Shanghai")
    baseline = read_folder(samples, "Asia/Shanghai")
    assert len(result.items) == len(baseline.items)
    (deep,) = [p for p in result.problems if p.origin.endswith("deep.json")]
    assert deep.message == "malformed JSON: nested too deeply"
    assert len(result.problems) == len(baseline.problems) + 1
