"""Fetching from the open web without becoming a way into the machine it runs on.

Only http(s). The host of every request, the first and each redirect's, is resolved and every
address it resolves to must be a public one: no loopback, private, link-local (cloud metadata),
shared, multicast, reserved or unspecified address, unless the host is explicitly allowed.
Redirects are followed by hand and capped, a loop is refused, the body is read in pieces and
refused past a size cap, the content type must be one the caller accepts, and the whole fetch
has one deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

# Addresses that are public in form but serve cloud instance metadata.
METADATA_ADDRESSES = frozenset({"100.100.100.200", "fd00:ec2::254", "169.254.169.254"})
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "application/feed+json",
    "application/json",
    "text/plain",  # many servers label feeds so
)


class FetchRefused(Exception):
    """The fetcher will not fetch this: scheme, address, redirects, size or content type."""


class FetchFailed(Exception):
    """The server gave no usable answer: an HTTP error, a timeout, a refused connection."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_hosts: frozenset[str] = frozenset()  # host names or addresses exempt from the check
    max_redirects: int = 5
    max_bytes: int = 5_000_000
    timeout: float = 15.0  # seconds for the whole fetch, redirects included
    user_agent: str = "newsroom/0.1 (+https://github.com/newsroom)"

    @classmethod
    def of(cls, allow_hosts: Iterable[str] = (), **options: object) -> FetchPolicy:
        hosts = frozenset(h.strip().lower().strip("[]") for h in allow_hosts if h.strip())
        return cls(allow_hosts=hosts, **options)  # type: ignore[arg-type]


@dataclass
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body decoded: the charset the server names, else the one the page declares,
        else a detected one (GBK pages often declare none)."""
        return decode(self.body, self.headers.get("content-type", ""))


def decode(body: bytes, content_type: str = "") -> str:
    name = ""
    in_header = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    in_page = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.I)
    if in_header is not None:
        name = in_header.group(1)
    elif in_page is not None:
        name = in_page.group(1).decode("ascii", "replace")
    if name:
        if name.lower() in {"gb2312", "gbk"}:
            name = "gb18030"  # a superset: pages labelled gb2312 often use GBK characters
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", "replace")


def _refused_address(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for name in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return f"a {name.replace('_', '-')} address"
    if not ip.is_global:
        return "not a public address"
    return None


def check_url(url: str, policy: FetchPolicy) -> None:
    """Refuse a URL the fetcher must not reach (resolving its host: this blocks, run it in a
    thread from async code)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise FetchRefused(f"{url}: only http and https are fetched, not {parts.scheme or '?'}:")
    host = (parts.hostname or "").lower()
    if not host:
        raise FetchRefused(f"{url}: no host")
    if host in policy.allow_hosts:
        return
    if host in METADATA_NAMES or host == "localhost" or host.endswith(".localhost"):
        raise FetchRefused(f"{url}: {host} is not a public host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchRefused(f"{url}: bad port") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"{url}: cannot resolve {host} ({exc})") from None
    for info in infos:
        address = str(info[4][0])
        if address in policy.allow_hosts:
            continue
        reason = _refused_address(address)
        if reason:
            raise FetchRefused(f"{url}: {host} resolves to {address}, {reason}")


async def fetch(
    url: str,
    policy: FetchPolicy,
    accept: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET `url` under `policy`; `accept` lists acceptable content types (any when empty)."""
    try:
        async with asyncio.timeout(policy.timeout):
            return await _fetch(url, policy, accept, headers or {})
    except TimeoutError:
        raise FetchFailed(f"{url}: no complete answer within {policy.timeout:g}s") from None


async def _fetch(
    url: str, policy: FetchPolicy, accept: tuple[str, ...], headers: dict[str, str]
) -> Fetched:
    seen: set[str] = set()
    request_headers = {"user-agent": policy.user_agent, **headers}
    # httpx's own 5 s default would apply first to a longer policy: the policy's timeout is
    # the one that holds, for each step here and (asyncio.timeout in `fetch`) for the whole.
    timeout = httpx.Timeout(policy.timeout)
    async with httpx.AsyncClient(
        follow_redirects=False, trust_env=False, timeout=timeout
    ) as client:
        for _ in range(policy.max_redirects + 1):
            if url in seen:
                raise FetchRefused(f"{url}: redirect loop")
            seen.add(url)
            await asyncio.to_thread(check_url, url, policy)
            try:
                async with client.stream("GET", url, headers=request_headers) as response:
                    if response.status_code in {301, 302, 303, 307, 308}:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchFailed(f"{url}: redirect without a location")
                        url = urljoin(url, location)
                        continue
                    return await _read(url, response, policy, accept)
            except httpx.TimeoutException as exc:
                raise FetchFailed(
                    f"{url}: no answer within {policy.timeout:g}s ({type(exc).__name__})"
                ) from None
            except httpx.HTTPError as exc:
                detail = str(exc) or "no detail"
                raise FetchFailed(f"{url}: {type(exc).__name__}: {detail}") from None
        raise FetchRefused(f"{url}: more than {policy.max_redirects} redirects")


async def _read(
    url: str, response: httpx.Response, policy: FetchPolicy, accept: tuple[str, ...]
) -> Fetched:
    kept = {k.lower(): v for k, v in response.headers.items()}
    content_type = kept.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code == 304:
        return Fetched(url, 304, content_type, b"", kept)
    if response.status_code >= 400:
        raise FetchFailed(f"{url}: HTTP {response.status_code}")
    if accept and content_type not in accept:
        raise FetchRefused(
            f"{url}: content type {content_type or 'none'} is not one of {', '.join(accept)}"
        )
    declared = kept.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchRefused(
            f"{url}: body of {declared} bytes is over the {policy.max_bytes} byte cap"
        )
    body = bytearray()
    async for piece in response.aiter_bytes():
        body.extend(piece)
        if len(body) > policy.max_bytes:
            raise FetchRefused(f"{url}: body is over the {policy.max_bytes} byte cap")
    return Fetched(url, response.status_code, content_type, bytes(body), kept)
