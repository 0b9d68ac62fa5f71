"""The API's entrance refuses what it should: a body over the cap whatever its transfer encoding
(chunked, no Content-Length), items out of bounds; and nothing with a NUL byte or a
`javascript:` link reaches a published edition, whoever queued it."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import service_space
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsroom.config import bundled_sources
from newsroom.models import SourceItem
from newsroom.publish import References
from newsroom.service.api import MAX_BODY, create_app
from newsroom.service.worker import Worker
from newsroom.tools.formats import read_folder
from newsroom.weeks import parse_week

TOKEN = "t-" + secrets.token_hex(8)
AUTH = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
BIG = MAX_BODY + 1_000_000  # 6 MB


@pytest.fixture
def service(redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with service_space(redis_url, "bounds") as (queue, store):
        app = create_app(queue, store, tmp_path / "out", TOKEN)
        worker = Worker(queue, store, tmp_path / "out", consumer="w1", debounce=0.0)
        yield {"app": app, "http": TestClient(app), "queue": queue, "worker": worker}


def rows() -> list[dict[str, Any]]:
    window = parse_week("2026-W06")
    items = read_folder(bundled_sources(), window.tz).items
    return [i.model_dump(mode="json") for i in items if window.contains(i.published)]


def big_body(size: int = BIG) -> Iterator[bytes]:
    """A JSON body of `size` bytes and more, in 64 KiB pieces: sent chunked, never declared."""
    yield b'{"items": [{"id": "x", "url": "https://e.com/x", "source": "s", "title": "'
    for _ in range(size // 65_536 + 1):
        yield b"t" * 65_536
    yield b'", "published": "2026-02-03T00:00:00+00:00"}]}'


def test_a_chunked_body_over_the_cap_is_413(service: dict[str, Any]) -> None:
    request = service["http"].build_request("POST", "/items", content=big_body(), headers=AUTH)
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = service["http"].send(request)
    assert response.status_code == 413
    assert service["queue"].length() == 0
    assert "newsroom_items_rejected_total 1" in service["http"].get("/metrics").text


def test_a_chunked_body_within_the_cap_is_read_whole(service: dict[str, Any]) -> None:
    body = json.dumps({"items": rows()[:3]}).encode()
    pieces = (body[i : i + 1000] for i in range(0, len(body), 1000))
    request = service["http"].build_request("POST", "/items", content=pieces, headers=AUTH)
    assert "content-length" not in request.headers
    response = service["http"].send(request)
    assert response.status_code == 202 and len(response.json()["queued"]) == 3


@pytest.fixture
def server(service: dict[str, Any]) -> Iterator[int]:
    """The app on a real uvicorn (real chunked transfer), on a free loopback port."""
    app: FastAPI = service["app"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running.started
    try:
        yield sock.getsockname()[1]
    finally:
        running.should_exit = True
        thread.join(10)
        sock.close()


def test_a_chunked_body_over_the_cap_is_413_on_a_real_server(
    service: dict[str, Any], server: int
) -> None:
    sent = 0

    def counted() -> Iterator[bytes]:
        nonlocal sent
        for piece in big_body(BIG * 4):
            sent += len(piece)
            yield piece

    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    try:
        connection.putrequest("POST", "/items")
        for key, value in {**AUTH, "Transfer-Encoding": "chunked"}.items():
            connection.putheader(key, value)
        connection.endheaders()
        try:
            for piece in counted():
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
        except OSError:  # the server answered and closed before the body was all sent
            pass
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("content-length") is not None
    finally:
        connection.close()
    assert sent < BIG * 4  # it stopped reading well before the end
    assert service["queue"].length() == 0
    assert httpx.get(f"http://127.0.0.1:{server}/metrics").status_code == 200


def push(service: dict[str, Any], row: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = service["http"].post(
        "/items", json={"items": [rows()[0], row]}, headers=AUTH
    )
    return response


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": " \t"}, "id"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "data:text/html,<b>x</b>"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"weight": 1e308}, "weight"),
        ({"weight": -0.5}, "weight"),
    ],
)
def test_an_item_out_of_bounds_is_422_naming_its_field_and_index(
    service: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    response = push(service, {**rows()[1], **change})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "items", 1, field]
    assert service["queue"].length() == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_weight_that_is_not_finite_is_422(service: dict[str, Any], number: str) -> None:
    body = json.dumps({"items": [rows()[0]]}).replace('"weight": 1.0', f'"weight": {number}')
    assert number in body
    response = service["http"].post("/items", content=body, headers=AUTH)
    assert response.status_code == 422
    assert service["queue"].length() == 0


def test_nul_bytes_are_stripped_and_a_long_summary_is_cut_not_refused(
    service: dict[str, Any],
) -> None:
    row = {**rows()[0], "title": "a\x00b\x07c", "source": "s\x00", "body": "x\x00\ty\nz"}
    row["summary"] = "s\x00" * 500_000  # 1 MB
    response = service["http"].post("/items", json={"items": [row]}, headers=AUTH)
    assert response.status_code == 202
    (entry,) = service["queue"].read("w9", block_ms=100)
    item = entry.item
    assert (item.title, item.source, item.body) == ("abc", "s", "x\ty\nz")
    assert item.summary == "s" * 5_000 and item.truncated


def test_a_link_other_than_http_is_dropped_and_the_item_kept() -> None:
    row = {**rows()[0], "url": "javascript:alert(1)"}
    item = SourceItem.model_validate(row)
    assert item.url == "" and item.title == row["title"]
    assert SourceItem.model_validate({**row, "url": "HTTPS://e.com/x"}).url == "HTTPS://e.com/x"


def test_nothing_with_nul_or_javascript_reaches_the_published_edition(
    service: dict[str, Any],
) -> None:
    """Pushed items with NUL bytes, and entries another producer queued straight onto the
    stream with `javascript:` links: the edition holds neither."""
    queue, worker, http_ = service["queue"], service["worker"], service["http"]
    week = rows()
    pushed = [{**r, "title": r["title"] + "\x00"} for r in week[: len(week) // 2]]
    assert http_.post("/items", json={"items": pushed}, headers=AUTH).status_code == 202
    for number, row in enumerate(week[len(week) // 2 :]):
        raw = {**row, "url": f"javascript:alert({number})", "summary": row["summary"] + "\x00"}
        queue.client.xadd(queue.stream, {"item": json.dumps(raw)})
    while worker.step(block_ms=100):
        pass
    assert worker.update_quiet_weeks()
    markdown = http_.get("/weeks/2026-W06/edition").text
    report = http_.get("/weeks/2026-W06/edition?format=json").text
    assert "](http" in markdown  # it cites its sources
    for text in (markdown, report):
        assert "\x00" not in text and "\\u0000" not in text
        assert "javascript:" not in text.lower()


def test_an_item_built_past_every_entrance_renders_no_nul_and_no_script_link() -> None:
    """Whatever builds a SourceItem (a producer writing to the stream, a future reader), its
    reference in the Markdown carries neither a NUL byte nor a `javascript:` link."""
    row = {**rows()[0], "title": "新模型\x00发布", "url": "javascript:alert(1)"}
    item = SourceItem.model_validate(row)
    references = References({item.id: item})
    markdown = references.mark([item.id]) + "\n".join(references.render())
    assert "新模型发布" in markdown
    assert "\x00" not in markdown and "javascript" not in markdown
