"""Settings read from the environment (`NEWSROOM_*`); only the CLI and the service read them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


def bundled_sources() -> Path:
    """The sample sources for 2026-W06 that ship inside the package."""
    return Path(str(resources.files("newsroom") / "data" / "samples" / "2026-W06"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", extra="ignore")

    out_dir: Path = Path("out")
    sources: Path | None = None
    tz: str = "Asia/Shanghai"
    engine: Literal["offline", "llm"] = "offline"
    max_revisions: int = 2
    recursion_limit: int = 40
    transport: Literal["memory", "stdio"] = "memory"
    layout: str = "layouts/post.njk"
    tags: list[str] = ["AI", "周报"]

    def source_folder(self) -> Path:
        return self.sources if self.sources is not None else bundled_sources()
