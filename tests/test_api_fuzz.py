"""Fuzzing `POST /items`: whatever is pushed, the API answers 2xx or 4xx (never 5xx), no worker
dies filing what it queued, and every week it filed publishes (or stops cleanly, empty)."""

from __future__ import annotations

import json
import math
import secrets
import time
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsroom.agents import Engine
from newsroom.errors import NewsroomError
from newsroom.service.api import create_app
from newsroom.service.queue import ItemQueue
from newsroom.service.worker import WeekStore, Worker

TOKEN = "t-" + secrets.token_hex(8)
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
DAY = "2026-02-04"  # a Wednesday of 2026-W06

# Text worth pushing: NUL and other control characters, RTL marks and script, emoji, CJK.
_ODD = "\x00\x01\x07\x08\x1b\x7f\u0085\u200b\u200e\u200f\u202e\u2066\ufeff\ufffe"
_SCRIPTS = "abc XYZ 新闻周报 مرحبا שלום 😀🧨👩‍👩‍👧 é\u0301 \t\n\r"
_alphabet = st.sampled_from(list(_ODD + _SCRIPTS)) | st.characters(
    codec="utf-8", exclude_categories=["Cs"]
)
short_text = st.text(_alphabet, max_size=40)
# A long string costs little to make: a short one repeated, up to about 50k characters.
long_text = st.builds(
    lambda unit, n: (unit * n)[:50_000],
    st.text(_alphabet, min_size=1, max_size=8),
    st.integers(1, 50_000),
)
text = st.one_of(short_text, short_text, long_text)

urls = st.one_of(
    st.builds(lambda p: f"https://example.com/{p}", st.text("abc/-_?=&%#", max_size=30)),
    st.builds(lambda p: f"http://news.example.org/a/{p}", st.integers(0, 10**6)),
    st.sampled_from(
        [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "file:///etc/passwd",
            "ftp://e.com/x",
            "http://",
            "https:// spaced out",
            "//example.com/no-scheme",
            "HTTPS://EXAMPLE.COM/UP",
            "https://example.com/" + "x" * 3000,
            "",
        ]
    ),
    short_text,
)
weights = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, 100.0, 100.0001]),
    st.integers(-(10**30), 10**30),
    st.just("1.5"),
    st.none(),
)
# Dates within two weeks of DAY (offsets in seconds, with and without a zone), and garbage.
_stamps = st.builds(
    lambda offset, zone: (
        time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.gmtime(1770163200 + offset)
        )  # 1770163200 = DAY, 00:00 UTC
        + zone
    ),
    st.integers(-14 * 86400, 14 * 86400),
    st.sampled_from(["", "Z", "+08:00", "-05:00"]),
)
dates = st.one_of(
    _stamps,
    _stamps,
    st.sampled_from(
        [
            "tuesday",
            "",
            "0000-00-00",
            "9999-12-31T23:59:59+00:00",
            "1970-01-01T00:00:00Z",
            "2026-02-30",
            "Wed, 04 Feb 2026 10:00:00 +0800",
            "2026-W06",
        ]
    ),
    st.integers(-(2**63), 2**63),
    st.none(),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), short_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=12,
)

_good_text = st.builds(lambda head, rest: head + rest, st.sampled_from("T新ﺍש😀"), text)
# Per field: a value the API takes (with odd text in it), and anything at all.
_FIELDS: dict[str, tuple[Any, Any]] = {
    "id": (st.uuids().map(str), st.one_of(st.text("ab01", min_size=1), text, json_scalars)),
    "title": (_good_text, st.one_of(text, json_scalars)),
    "url": (urls.filter(lambda u: u.startswith(("http://", "https://")) and len(u) < 2000), urls),
    "source": (short_text, json_scalars),
    "published": (_stamps, dates),
    "collected": (_stamps, dates),
    "summary": (text, json_scalars),
    # Bodies stay short: nothing bounds a body's length, and the offline engine embeds it
    # whole (50k characters cost seconds an item), so long ones would only slow the publish.
    "body": (short_text, json_scalars),
    "lang": (st.sampled_from(["zh", "en"]), short_text),
    "category": (st.none() | short_text, json_values),
    "weight": (st.floats(0, 100), weights),
    "dated_by": (st.sampled_from(["published", "collected"]), short_text),
    "truncated": (st.booleans(), json_scalars),
}
_REQUIRED = ("id", "title", "url", "source", "published")


@st.composite
def items(draw: st.DrawFn, hostile: int = 2) -> Any:
    """Item-shaped objects: each field present (the required ones always without `hostile`,
    nearly always with it), its value
    one the API takes but `hostile` times in 100, perhaps extra fields; with `hostile`, 1 in
    20 is anything at all."""
    if hostile and draw(st.integers(0, 19)) == 0:
        return draw(json_values)
    row: dict[str, Any] = {}
    for name, (good, bad) in _FIELDS.items():
        if draw(st.integers(0, 19)) < (19 + (not hostile) if name in _REQUIRED else 8):
            row[name] = draw(good if draw(st.integers(0, 99)) >= hostile else bad)
    if draw(st.booleans()):
        row.update(draw(st.dictionaries(short_text, json_values, max_size=3)))
    return row


bodies = st.one_of(
    st.builds(lambda rows: {"items": rows}, st.lists(items(hostile=0), min_size=1, max_size=5)),
    st.builds(lambda rows: {"items": rows}, st.lists(items(hostile=0), min_size=1, max_size=5)),
    st.builds(lambda rows: {"items": rows}, st.lists(items(), min_size=0, max_size=5)),
    st.builds(lambda rows: {"items": rows}, st.lists(items(hostile=30), max_size=5)),
    st.builds(
        lambda rows, extra: {"items": rows, **extra},
        st.lists(items(), max_size=5),
        st.dictionaries(short_text, json_values, max_size=3),
    ),
    json_values,  # non-object bodies: lists, strings, numbers, null, other objects
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b'{"items": [', b"NaN", b"\xff\xfe{}", b'{"items": 1e999}']),
)


def _encode(body: Any) -> bytes:
    # allow_nan: Python's json (FastAPI's parser) reads NaN/Infinity, so a client can send them.
    return json.dumps(body, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def test_pushed_payloads_never_break_the_api_the_worker_or_an_edition(
    redis_url: str, tmp_path: Path, engine: Engine
) -> None:
    name = f"fuzz-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = ItemQueue(client, name=name, claim_after=1.0)
    store = WeekStore(client, name=name)
    out = tmp_path / "out"
    http = TestClient(create_app(queue, store, out, TOKEN), raise_server_exceptions=False)
    answers: dict[int, int] = {}
    worker = Worker(queue, store, out, consumer="fuzz", debounce=0.0, engine=engine)

    def answer(payload: bytes) -> None:
        response = http.post("/items", content=payload, headers=AUTH)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert response.status_code < 500, (response.status_code, response.text[:500])
        assert 200 <= response.status_code < 500

    @settings(
        max_examples=500,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies)
    def push(body: Any) -> None:
        answer(_encode(body))

    @settings(max_examples=60, deadline=None, database=None)
    @given(payload=raw_bodies)
    def push_raw(payload: bytes) -> None:
        answer(payload)

    try:
        push()
        push_raw()
        assert answers.get(202, 0) >= 25, answers  # the fuzz reached the queue, not only 422s
        queued = queue.length()

        # The worker files everything queued without dying.
        handled = 0
        while step := worker.step(block_ms=100):
            handled += step
        assert handled == queued and queue.pending() == 0
        weeks = sorted(store.quiet_weeks(0.0))
        assert weeks, "nothing was filed"

        # Every filed week publishes: ok/partial, or a clean NewsroomError (an empty week).
        for week in weeks:
            try:
                run_id = worker.publish(week)
            except NewsroomError as exc:
                assert type(exc).__name__ in {"EmptyWeek", "SourceUnavailable"}, repr(exc)
                continue
            run = http.get(f"/runs/{run_id}")
            assert run.status_code == 200, run.text[:300]
            assert run.json()["status"] in {"ok", "partial"}, run.json()
        assert "2026-W06" in weeks
        print(f"answers {answers}; {handled} entries filed into {weeks}")
    finally:
        http.close()
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)
        client.close()
