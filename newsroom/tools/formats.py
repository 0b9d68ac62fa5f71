"""Parsers for the source formats we read: daily digests (Markdown), RSS/Atom XML and JSON."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import date, datetime, time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from newsroom.models import MAX_URL, DatedBy, SourceItem, SourceProblem, dated_in_range

SUPPORTED_SUFFIXES = (".md", ".xml", ".rss", ".atom", ".json")
MAX_FILE_BYTES = 20 * 1024 * 1024
# Problem lines one file may add: past this, one line counts the rest (a file of a million
# broken entries is one bad file, not a million lines in run.json and on the terminal).
MAX_FILE_PROBLEMS = 20
MAX_QUOTE = 80  # characters of a title or value quoted in a problem line

_TRACKING = re.compile(r"^(utm_.*|spm|from|froms|vt|share_token|fbclid|gclid|ref)$", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_HEADER_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)")
_FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_CATEGORY = re.compile(r"^\*\*(.+?)\*\*$")
# Link text holds no bracket: a search stops at the next one, so a line of brackets takes
# linear time, not quadratic.
_LINK = re.compile(r"\[([^\[\]]+)\]\((https?://[^)\s]+)\)")
_TAG = re.compile(r"<[^<>]+>")  # as above: a run of '<' is linear
_FIELD = re.compile(r"^(说明|背景|要点|来源出处)[:：]\s*(.*)$")


class ParseResult:
    """Items read from one or more files, plus what could not be read."""

    def __init__(self) -> None:
        self.items: list[SourceItem] = []
        self.problems: list[SourceProblem] = []

    def extend(self, other: ParseResult) -> None:
        self.items.extend(other.items)
        self.problems.extend(other.problems)


def canonical_url(url: str) -> str:
    """Lower-case host without `www.`, no fragment, no tracking parameters, no trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)))
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(
        ("https" if parts.scheme in ("http", "https") else parts.scheme, host, path, query, "")
    )


def web_url(url: str) -> str:
    """The URL of an item, refused (ValueError, a problem line) unless it is http or https and
    at most MAX_URL characters."""
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        raise ValueError(f"url {url[:80]!r} is not http or https")
    if len(url) > MAX_URL:
        raise ValueError(f"url is {len(url)} characters, over the {MAX_URL} character limit")
    return url


def load_json(text: str) -> Any:
    """`json.loads`, with nesting too deep for the parser a ValueError like any malformed
    JSON (a problem line, never a stopped run)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply") from None


def quote(value: str, limit: int = MAX_QUOTE) -> str:
    """`value` as a problem line quotes it: repr'd, cut to `limit` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def guess_lang(text: str) -> str:
    return "zh" if len(_CJK.findall(text)) >= max(2, len(text) // 20) else "en"


def item_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


def read_path(path: Path, tz: str) -> ParseResult:
    """A folder (every supported file under it) or one file, read exactly as if it were alone
    in a folder."""
    if path.is_dir():
        return read_folder(path, tz)
    return _read_supported(path, tz)


def read_folder(folder: Path, tz: str) -> ParseResult:
    """Read every supported file under `folder`; one bad file never stops the others."""
    result = ParseResult()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith("."):
            continue
        result.extend(_read_supported(path, tz))
    return result


def _read_supported(path: Path, tz: str) -> ParseResult:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        result = ParseResult()
        result.problems.append(
            SourceProblem(
                origin=str(path),
                message=f"skipped: unsupported file type {path.suffix or '(none)'}",
            )
        )
        return result
    return read_file(path, tz)


def read_file(path: Path, tz: str) -> ParseResult:
    result = ParseResult()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        result.problems.append(SourceProblem(origin=str(path), message=f"unreadable: {exc}"))
        return result
    suffix = path.suffix.lower()
    try:
        if suffix == ".md":
            result = parse_digest(text, str(path), tz)
        elif suffix == ".json":
            result = parse_json(text, str(path), tz)
        else:
            result = parse_feed(text, str(path), tz)
    except ValueError as exc:
        result.problems.append(SourceProblem(origin=str(path), message=str(exc)))
    return _capped(result, str(path))


def _capped(result: ParseResult, origin: str) -> ParseResult:
    """At most MAX_FILE_PROBLEMS problem lines from one file, the last counting the rest."""
    if len(result.problems) > MAX_FILE_PROBLEMS:
        rest = len(result.problems) - (MAX_FILE_PROBLEMS - 1)
        del result.problems[MAX_FILE_PROBLEMS - 1 :]
        result.problems.append(
            SourceProblem(origin=origin, message=f"{rest} more problems in this file not listed")
        )
    return result


def parse_digest(text: str, origin: str, tz: str) -> ParseResult:
    """A daily digest (seed 004's shape): categories, then 说明/背景/要点/来源出处 per item."""
    result = ParseResult()
    lines = text.splitlines()
    day = _digest_date(lines, origin)
    published = datetime.combine(day, time(9, 0), tzinfo=ZoneInfo(tz))
    category: str | None = None
    entry: dict[str, Any] | None = None
    field: str | None = None

    def close(entry: dict[str, Any] | None) -> None:
        if entry is None:
            return
        missing = [name for name in ("说明", "来源出处") if not entry.get(name)]
        where = f"{origin}:{entry['line']}"
        if missing:
            result.problems.append(
                SourceProblem(
                    origin=where,
                    message=f"digest item {quote(entry['title'])} lacks {'/'.join(missing)}",
                )
            )
            return
        link = _LINK.search(entry["来源出处"])
        if not link:
            result.problems.append(
                SourceProblem(
                    origin=where,
                    message=f"digest item {quote(entry['title'])}: "
                    "来源出处 has no [name](url) link",
                )
            )
            return
        body = []
        if entry.get("背景"):
            body.append(f"背景：{entry['背景']}")
        body.extend(entry.get("要点", []))
        result.items.append(
            SourceItem(
                id=item_id("d", canonical_url(link.group(2)), entry["title"]),
                title=entry["title"],
                url=link.group(2),
                source=link.group(1).strip(),
                published=published,
                lang=guess_lang(entry["title"] + entry["说明"]),
                summary=entry["说明"],
                body="\n".join(body),
                category=entry["category"],
                origin=origin,
            )
        )

    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("<"):
            continue
        if (heading := _CATEGORY.match(line)) is not None:
            close(entry)
            entry, field, category = None, None, heading.group(1).strip()
            continue
        if (match := _FIELD.match(line)) is not None:
            if entry is None:
                result.problems.append(
                    SourceProblem(
                        origin=f"{origin}:{number}",
                        message=f"{match.group(1)} without an item title",
                    )
                )
                continue
            field = match.group(1)
            value = match.group(2).strip()
            if field == "要点":
                entry.setdefault("要点", [])
                if value:
                    entry["要点"].append(value)
            else:
                entry[field] = value
            continue
        if line.startswith(("-", "*", "•")) and entry is not None and field == "要点":
            entry.setdefault("要点", []).append(line.lstrip("-*• ").strip())
            continue
        close(entry)
        entry, field = {"title": line, "line": number, "category": category}, None
    close(entry)
    if not result.items and not result.problems:
        result.problems.append(SourceProblem(origin=origin, message="digest holds no items"))
    return result


def _digest_date(lines: list[str], origin: str) -> date:
    for line in lines[:5]:
        if (match := _HEADER_DATE.search(line)) is not None:
            return _iso_date(match.group(1), origin)
    if (match := _FILE_DATE.search(Path(origin).name)) is not None:
        return _iso_date(match.group(1), origin)
    raise ValueError("digest has no date: expected '(YYYY-MM-DD)' in its heading or file name")


def _iso_date(text: str, origin: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"digest date {quote(text)} is not a valid date") from None


def _local(text: str) -> str:
    return text.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, *names: str) -> str:
    for child in element:
        if _local(child.tag) in names and (child.text or "").strip():
            return (child.text or "").strip()
    return ""


def parse_feed(text: str, origin: str, tz: str) -> ParseResult:
    """RSS 2.0 or Atom."""
    result = ParseResult()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from None
    channel = next((c for c in root.iter() if _local(c.tag) == "channel"), root)
    feed_title = _child_text(channel, "title") or Path(origin).stem
    entries = [e for e in root.iter() if _local(e.tag) in ("item", "entry")]
    if not entries:
        raise ValueError("feed holds no <item> or <entry>")
    for position, entry in enumerate(entries, start=1):
        title = _child_text(entry, "title")
        link = _child_text(entry, "link")
        if not link:
            link = next((c.get("href", "") for c in entry if _local(c.tag) == "link"), "")
        stamp = _child_text(entry, "pubDate", "published", "updated", "date")
        summary = strip_tags(_child_text(entry, "description", "summary", "content"))
        outlet = _child_text(entry, "source", "author") or feed_title
        guid = _child_text(entry, "guid", "id") or link
        where = f"{origin}#{position}"
        if not title or not link:
            result.problems.append(
                SourceProblem(origin=where, message="entry lacks a title or link")
            )
            continue
        try:
            published = parse_stamp(stamp, tz)
            link = web_url(link)
        except ValueError as exc:
            result.problems.append(SourceProblem(origin=where, message=f"{quote(title)}: {exc}"))
            continue
        result.items.append(
            SourceItem(
                id=item_id("f", guid),
                title=title,
                url=link,
                source=outlet,
                published=published,
                lang=guess_lang(title + summary),
                summary=summary,
                origin=origin,
            )
        )
    return result


def parse_json(text: str, origin: str, tz: str) -> ParseResult:
    """`{"items": [...]}` or a bare list of objects with id/title/url/source/published."""
    result = ParseResult()
    data = load_json(text)
    rows = data.get("items") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValueError("JSON must be a list of items or an object with an 'items' list")
    default_source = data.get("source", "") if isinstance(data, dict) else ""
    for position, row in enumerate(rows, start=1):
        where = f"{origin}#{position}"
        if not isinstance(row, dict):
            result.problems.append(SourceProblem(origin=where, message="item is not an object"))
            continue
        try:
            published, collected, dated_by = _json_dates(row, tz)
            title = str(row["title"])
            summary = str(row.get("summary", ""))
            result.items.append(
                SourceItem(
                    id=str(row.get("id") or item_id("j", str(row["url"]))),
                    title=title,
                    url=web_url(str(row["url"])),
                    source=str(row.get("source") or default_source),
                    published=published,
                    lang=str(row.get("lang") or guess_lang(title + summary)),
                    summary=summary,
                    body=str(row.get("body", "")),
                    category=row.get("category"),
                    origin=origin,
                    collected=collected,
                    dated_by=dated_by,
                )
            )
        except KeyError as exc:
            result.problems.append(
                SourceProblem(origin=where, message=f"item lacks {exc.args[0]!r}")
            )
        except (ValueError, ValidationError) as exc:
            result.problems.append(SourceProblem(origin=where, message=str(exc).splitlines()[0]))
    return result


def _json_dates(row: dict[str, Any], tz: str) -> tuple[datetime, datetime | None, DatedBy]:
    """Publication time, collection time, and which of them dates the item: an unreadable
    `published` with a readable `collected` is dated by collection; with neither readable the
    publication date's error stands."""
    collected: datetime | None = None
    if row.get("collected"):
        try:
            collected = parse_stamp(str(row["collected"]), tz)
        except ValueError:
            collected = None  # only a missing publication date makes it matter
    try:
        published = parse_stamp(str(row.get("published", "")), tz)
    except ValueError:
        if collected is None:
            raise
        return collected, collected, "collected"
    # An item passed on as JSON (the service's files) keeps the flag it had.
    dated_by: DatedBy = "collected" if row.get("dated_by") == "collected" else "published"
    return published, collected, dated_by


def parse_stamp(stamp: str, tz: str) -> datetime:
    if not stamp:
        raise ValueError("no publication date")
    try:
        moment = parsedate_to_datetime(stamp)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"unreadable publication date {quote(stamp)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    if not dated_in_range(moment):
        when = "before 2000-01-01" if moment.year < 2000 else "in the future, over 366 days ahead"
        raise ValueError(f"publication date {quote(stamp)} is {when}")
    return moment


def strip_tags(text: str) -> str:
    return re.sub(r"\s+", " ", _TAG.sub(" ", text)).strip()


def in_window(
    items: Iterable[SourceItem], start: datetime, end: datetime, by: DatedBy = "published"
) -> list[SourceItem]:
    """Items whose publication (or with `by="collected"` collection) time is in [start, end)."""
    return [item for item in items if start <= item.moment(by) < end]
