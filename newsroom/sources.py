"""The sources file: which feeds, archive folders and pages a newsroom follows (TOML).

    [fetch]                       # optional; these are the defaults
    allow_hosts = []              # hosts the fetcher may reach although they are not public
    timeout = 15                  # seconds per fetch, redirects included
    max_bytes = 5000000           # body size cap
    max_redirects = 5

    [[source]]
    name = "36kr"                 # unique; named in the report's notes when it fails
    kind = "feed"                 # feed | archive | page
    url = "https://36kr.com/feed" # feed: the feed's URL
    lang = "zh"                   # optional: the language its items are in
    category = "行业落地与生态"     # optional: digest category for its items
    weight = 1.0                  # optional: what its report counts for in a story's weight
                                  # (one outlet counts 1; themes rank by weight)
    rate = 1.0                    # optional: requests per second at most
    timeout = 10                  # optional: seconds per request (else [fetch] timeout)

    [[source]]
    name = "digests"
    kind = "archive"
    path = "digests/"             # archive: a folder of digests, feeds, JSON, or one such
                                  # file (relative to this file)
    [[source]]
    name = "blogs"
    kind = "page"
    urls = ["https://example.com/post/1"]   # page: article pages, one item each

Every entry is validated and every bad one is named in one error.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from newsroom.errors import UsageError
from newsroom.tools.fetch import FetchPolicy

SourceKind = Literal["feed", "archive", "page"]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    kind: SourceKind
    url: str | None = None
    path: Path | None = None
    urls: list[str] = Field(default_factory=list)
    lang: str | None = None
    category: str | None = None
    weight: float = Field(default=1.0, gt=0, le=100)
    rate: float = Field(default=2.0, gt=0, le=100)
    timeout: float | None = Field(default=None, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"url {value!r} must start with http:// or https://")
        return value

    @field_validator("urls")
    @classmethod
    def _all_http(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"url {value!r} must start with http:// or https://")
        return values

    @model_validator(mode="after")
    def _what_it_needs(self) -> Source:
        needs = {"feed": "url", "archive": "path", "page": "urls"}[self.kind]
        if not getattr(self, needs):
            raise ValueError(f"a {self.kind} source needs `{needs}`")
        extra = {"url", "path", "urls"} - {needs}
        given = sorted(k for k in extra if getattr(self, k))
        if given:
            raise ValueError(f"a {self.kind} source takes `{needs}`, not {', '.join(given)}")
        return self


class FetchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_hosts: list[str] = Field(default_factory=list)
    timeout: float = Field(default=15.0, gt=0, le=300)
    max_bytes: int = Field(default=5_000_000, gt=0, le=200_000_000)
    max_redirects: int = Field(default=5, ge=0, le=20)

    def policy(self, timeout: float | None = None) -> FetchPolicy:
        return FetchPolicy.of(
            self.allow_hosts,
            timeout=timeout or self.timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
        )


class SourcesFile(BaseModel):
    path: Path
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    sources: list[Source]

    def of_kind(self, kind: SourceKind) -> list[Source]:
        return [s for s in self.sources if s.kind == kind]


def is_sources_file(path: Path) -> bool:
    """`--sources` names a sources file (TOML), not an archive folder."""
    return path.suffix.lower() == ".toml"


def check_items_file(path: Path, tz: str) -> None:
    """`--sources` names one file of items (JSON, RSS/Atom or a digest), to be read as if it
    were alone in an archive folder: a type we read, holding at least one readable item. Any
    other file is a UsageError, in one line."""
    from newsroom.tools.formats import SUPPORTED_SUFFIXES, read_file

    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UsageError(
            f"source file {path}: unsupported file type {path.suffix or '(none)'}; give a "
            "folder, a sources file (.toml), or one JSON (.json), RSS/Atom (.xml, .rss, .atom) "
            "or digest (.md) file"
        )
    result = read_file(path, tz)
    if not result.items:
        why = result.problems[0].message if result.problems else "it holds no items"
        raise UsageError(f"source file {path}: no item can be read from it ({why})")


def load_sources(path: Path) -> SourcesFile:
    """Read and validate a sources file; every bad entry is named in one UsageError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"sources file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"fetch", "source"})
    errors = [f"unknown section [{name}] (expected [fetch] and [[source]])" for name in unknown]
    try:
        fetch = FetchSettings.model_validate(data.get("fetch", {}))
    except ValidationError as exc:
        fetch = FetchSettings()
        errors += [f"[fetch]: {_first(e)}" for e in exc.errors()]
    rows = data.get("source", [])
    if not isinstance(rows, list) or not rows:
        errors.append("no [[source]] entries")
        rows = []
    sources: list[Source] = []
    for number, row in enumerate(rows, start=1):
        label = f"source #{number}" + (f" {row.get('name')!r}" if isinstance(row, dict) else "")
        try:
            source = Source.model_validate(row)
        except ValidationError as exc:
            errors += [f"{label}: {_first(e)}" for e in exc.errors()]
            continue
        if source.path is not None and not source.path.is_absolute():
            source.path = (path.parent / source.path).resolve()
        if any(s.name == source.name for s in sources):
            errors.append(f"{label}: the name is used twice")
        sources.append(source)
    if errors:
        raise UsageError(f"{path}: " + "; ".join(errors))
    return SourcesFile(path=path, fetch=fetch, sources=sources)


def _first(error: object) -> str:
    detail = dict(error)  # type: ignore[call-overload]
    where = ".".join(str(p) for p in detail.get("loc", ()) if p != "__root__")
    message = str(detail.get("msg", "")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
