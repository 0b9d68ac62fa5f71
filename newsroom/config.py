"""Settings read from the environment (`NEWSROOM_*`); only the CLI and the service read them."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from newsroom.errors import UsageError
from newsroom.guards.budget import Ledger, Limits
from newsroom.guards.pricing import Pricing
from newsroom.llm import ModelConfig, StructuredMethod

if TYPE_CHECKING:
    from newsroom.runner import RunOptions

AGENTS = ("researcher", "clusterer", "writer", "fact_checker")


def bundled_sources() -> Path:
    """The sample sources for 2026-W06 that ship inside the package."""
    return Path(str(resources.files("newsroom") / "data" / "samples" / "2026-W06"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", extra="ignore", populate_by_name=True)

    out_dir: Path = Path("out")
    sources: Path | None = None
    tz: str = "Asia/Shanghai"
    # Select a week's items by their publication time or by when they were collected.
    window: str = "published"
    # The desk profile (TOML): the beats the newsroom covers; the bundled AI desk by default.
    desk: Path | None = None
    engine: Literal["offline", "llm"] | None = None
    base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("NEWSROOM_BASE_URL", "OPENAI_BASE_URL")
    )
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("NEWSROOM_API_KEY", "OPENAI_API_KEY")
    )
    model: str = "gpt-4o-mini"
    models: dict[str, str] = {}
    # Seconds a reply may take before its first token (the read timeout adds max_tokens at
    # NEWSROOM_LLM_MIN_TPS), the connect timeout, and our retries of a failed attempt.
    llm_timeout: float = 60.0
    llm_connect_timeout: float = 10.0
    llm_min_tps: float = 20.0
    # Stream replies (a slow but live server is told from a stuck one); off for a server that
    # streams badly. One that refuses streaming is asked without it anyway.
    llm_stream: bool = True
    # Calls in flight at once per endpoint (none: no limit); with --model-file, the slots.
    llm_concurrency: int | None = None
    llm_retries: int = 2
    llm_max_tokens: int = 2048
    structured_method: StructuredMethod = "json_schema"
    # A local GGUF model (--model-file): a llama.cpp server started for the run, with each of
    # its NEWSROOM_LOCAL_PARALLEL slots NEWSROOM_LOCAL_CTX tokens of context, on
    # NEWSROOM_LOCAL_THREADS threads (all cores by default). NEWSROOM_LOCAL_URL is where it
    # listens, set by newsroom itself while it runs.
    model_file: Path | None = None
    local_ctx: int = 8192
    local_threads: int | None = None
    local_parallel: int = 1
    local_ready_timeout: float = 120.0
    local_url: str | None = None
    max_usd: float | None = 1.0
    max_tokens: int | None = 400_000
    max_llm_calls: int | None = 60
    max_tool_calls: int | None = 200
    max_seconds: float | None = 1800.0
    # US dollars per million tokens, input and output: {"my-model": [0.5, 1.5]}
    prices: dict[str, tuple[float, float]] = {}
    # Share the limits through Redis across processes and machines: per week or per day.
    budget_scope: Literal["run", "week", "day"] = "run"
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("NEWSROOM_REDIS_URL", "REDIS_URL")
    )
    # The service: the bearer token for writes, and where an embedded Redis keeps its data.
    api_token: SecretStr | None = None
    home: Path = Path.home() / ".newsroom"
    # Graph checkpoints in PostgreSQL (shared by machines) instead of SQLite under --out.
    postgres_url: str | None = Field(
        default=None, validation_alias=AliasChoices("NEWSROOM_POSTGRES_URL", "POSTGRES_URL")
    )
    lang: str = "zh"
    max_revisions: int = 2
    recursion_limit: int = 40
    transport: Literal["memory", "stdio"] = "memory"
    layout: str = "layouts/post.njk"
    tags: list[str] = ["AI", "周报"]
    author: str | None = None
    templates: Path | None = None  # a folder of Jinja2 templates that replace the bundled ones
    # digest categories, name → a description of what belongs there
    categories: dict[str, str] | None = None

    def source_folder(self) -> Path:
        return self.sources if self.sources is not None else bundled_sources()

    def chosen_engine(self, flag: str | None) -> str:
        """The flag, then NEWSROOM_ENGINE, then `llm` when an endpoint is configured."""
        if flag:
            return flag
        if self.engine:
            return self.engine
        return "llm" if self.base_url or self.api_key else "offline"

    def limits(
        self,
        usd: float | None = None,
        tokens: int | None = None,
        llm_calls: int | None = None,
        tool_calls: int | None = None,
        seconds: float | None = None,
    ) -> Limits:
        """Flags first, then NEWSROOM_MAX_* settings."""
        return Limits(
            max_usd=self.max_usd if usd is None else usd,
            max_tokens=self.max_tokens if tokens is None else tokens,
            max_llm_calls=self.max_llm_calls if llm_calls is None else llm_calls,
            max_tool_calls=self.max_tool_calls if tool_calls is None else tool_calls,
            max_seconds=self.max_seconds if seconds is None else seconds,
        )

    def ledger(self, limits: Limits, week: str) -> Ledger | None:
        """A Redis ledger for a shared week or day budget; None for a run of its own."""
        if self.budget_scope == "run":
            return None
        if not self.redis_url:
            raise UsageError(
                f"NEWSROOM_BUDGET_SCOPE={self.budget_scope} shares the budget through Redis: "
                "set REDIS_URL (or NEWSROOM_REDIS_URL)"
            )
        from datetime import datetime

        from newsroom.guards.shared import RedisLedger
        from newsroom.weeks import zone

        key = week if self.budget_scope == "week" else f"{datetime.now(zone(self.tz)):%Y-%m-%d}"
        return RedisLedger.from_url(self.redis_url, f"{self.budget_scope}:{key}", limits.caps())

    def pricing(self) -> Pricing:
        return Pricing(overrides=dict(self.prices))

    def run_options(
        self,
        week: str,
        *,
        sources: Path | None = None,
        out_dir: Path | None = None,
        tz: str | None = None,
        resume: str | None = None,
        run_id: str | None = None,
        force: bool = False,
        base_run: str | None = None,
        require_base: bool = False,
        window: str | None = None,
        day: date | None = None,
        max_revisions: int | None = None,
        transport: str | None = None,
        max_usd: float | None = None,
        max_tokens: int | None = None,
        max_llm_calls: int | None = None,
        max_tool_calls: int | None = None,
        max_seconds: float | None = None,
    ) -> RunOptions:
        """The options of one run of `week`, all from these settings (pricing, front matter,
        categories, revisions, limits, the shared budget, checkpoints) but what the caller
        sets: `newsroom run` its flags, a service worker its week's folder. The one way both
        build a run, so a setting reaches every run wherever it runs."""
        from newsroom.publish import FrontMatter
        from newsroom.runner import RunOptions
        from newsroom.weeks import parse_week

        chosen_tz = tz or self.tz
        chosen_transport = transport or self.transport
        if chosen_transport not in ("memory", "stdio"):
            raise UsageError(f"unknown transport {chosen_transport!r}: use memory or stdio")
        week_window = parse_week(week, chosen_tz, window or self.window)
        limits = self.limits(max_usd, max_tokens, max_llm_calls, max_tool_calls, max_seconds)
        return RunOptions(
            week=week,
            run_id=run_id,
            sources=sources or self.source_folder(),
            out_dir=out_dir or self.out_dir,
            tz=chosen_tz,
            resume=resume,
            force=force,
            base_run=base_run,
            require_base=require_base,
            window=week_window.by,
            max_revisions=self.max_revisions if max_revisions is None else max_revisions,
            recursion_limit=self.recursion_limit,
            transport="stdio" if chosen_transport == "stdio" else "memory",
            front_matter=FrontMatter(
                layout=self.layout,
                tags=tuple(self.tags),
                author=self.author,
                templates=self.templates,
            ),
            categories=self.categories,
            day=day,
            limits=limits,
            pricing=self.pricing(),
            checkpoint_url=self.postgres_url,
            ledger=self.ledger(limits, week_window.week),
        )

    def model_configs(self, model: str | None = None) -> dict[str, ModelConfig]:
        """One config per agent: `--model` or NEWSROOM_MODEL, overridden per agent by
        NEWSROOM_MODELS='{"writer": "..."}'."""
        key = self.api_key.get_secret_value() if self.api_key else None
        return {
            agent: ModelConfig(
                model=self.models.get(agent) or model or self.model,
                base_url=self.base_url,
                api_key=key,
                timeout=self.llm_timeout,
                connect_timeout=self.llm_connect_timeout,
                min_tokens_per_second=self.llm_min_tps,
                stream=self.llm_stream,
                concurrency=self.llm_concurrency,
                max_retries=self.llm_retries,
                max_tokens=self.llm_max_tokens,
                method=self.structured_method,
            )
            for agent in AGENTS
        }


def load_settings() -> Settings:
    """`Settings()`, with a bad `NEWSROOM_*` value a one-line UsageError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        raise UsageError(
            f"NEWSROOM_{name.upper()}={error.get('input')!r} is not valid: {error['msg']}"
        ) from None
    except SettingsError as exc:
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        raise UsageError(
            f"NEWSROOM_{field.upper()} is not valid JSON (a list or an object, as in the README)"
        ) from None
