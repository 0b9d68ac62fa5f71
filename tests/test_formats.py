from __future__ import annotations

from pathlib import Path

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
