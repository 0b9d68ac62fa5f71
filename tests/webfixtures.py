"""Local HTTP servers for the feed and web tests: real sockets on 127.0.0.1, routes in a dict."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[BaseHTTPRequestHandler], None]

WEEK_DAY = "Tue, 03 Feb 2026 10:00:00 +0800"


def send(
    handler: BaseHTTPRequestHandler,
    body: bytes | str,
    content_type: str = "text/html; charset=utf-8",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def redirect(target: str) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def status(code: int) -> Route:
    return lambda handler: send(handler, f"status {code}", status=code)


def slow(seconds: float) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        send(handler, "<html><body>late</body></html>")

    return route


def endless(total: int = 50 * 1024 * 1024) -> Route:
    """A body of `total` bytes, chunked, with no Content-Length: only counting stops it."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b"<p>" + b"x" * 65530 + b"</p>"
        sent = 0
        try:
            while sent < total:
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
            handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    return route


def article_page(title: str, paragraphs: list[str], date: str = "2026-02-04") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title>"
        f'<meta property="article:published_time" content="{date}T09:00:00+08:00"></head>'
        f"<body><nav>首页 | 科技 | 财经</nav><article><h1>{title}</h1>{body}</article>"
        "<footer>版权所有</footer></body></html>"
    )


def rss(entries: list[dict[str, str]], title: str = "样例订阅") -> str:
    items = "".join(
        "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in entry.items()) + "</item>"
        for entry in entries
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'


class Site:
    """A threaded HTTP server on 127.0.0.1 with its own routes; `hits` counts requests."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.hits: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                site.hits[path] = site.hits.get(path, 0) + 1
                site.requests.append({"path": path, "headers": dict(self.headers)})
                route = site.routes.get(path)
                if route is None:
                    send(self, "not found", status=404)
                    return
                route(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
