"""The four agents and the engine that bundles one implementation of each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from newsroom.agents.incremental import Base, Placement
from newsroom.agents.researcher import Research
from newsroom.llm import Ledger, ModelConfig
from newsroom.methods.dedup import Deduplicator
from newsroom.methods.desk import Desk, default_desk
from newsroom.methods.embeddings import Embedder
from newsroom.models import Claim, Draft, SourceItem, Story, Theme, Verdict
from newsroom.tools.client import ToolSession
from newsroom.weeks import WeekWindow

if TYPE_CHECKING:
    from newsroom.storylines import OutlookLine


class Researcher(Protocol):
    async def gather(self, window: WeekWindow, archive: ToolSession) -> Research: ...


class Clusterer(Protocol):
    def judge(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> list[Story]: ...

    async def themes(
        self, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> list[Theme]: ...

    async def update(
        self, base: Base, stories: Sequence[Story], items: Mapping[str, SourceItem]
    ) -> Placement: ...


class Writer(Protocol):
    async def write(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
        outlook: Sequence[OutlookLine] = (),
    ) -> Draft:
        """The week's draft; its outlook phrased from the storylines' `outlook` lines where
        there are any."""
        ...

    async def update(
        self,
        window: WeekWindow,
        themes: Sequence[Theme],
        affected: Sequence[str],
        base: Draft,
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft: ...

    async def revise(
        self,
        draft: Draft,
        verdicts: Mapping[str, Verdict],
        themes: Sequence[Theme],
        stories: Mapping[str, Story],
        items: Mapping[str, SourceItem],
    ) -> Draft: ...


class FactChecker(Protocol):
    async def check_all(
        self, claims: Sequence[Claim], sources: Mapping[str, SourceItem]
    ) -> dict[str, Verdict]: ...


@dataclass
class Engine:
    """One implementation of each agent; the graph does not care which."""

    name: str
    researcher: Researcher
    deduplicator: Deduplicator
    clusterer: Clusterer
    writer: Writer
    fact_checker: FactChecker
    embedder: Embedder
    ledger: Ledger = field(default_factory=Ledger)
    models: dict[str, str] = field(default_factory=dict)
    desk: Desk = field(default_factory=default_desk)


def engine_for(settings: Any, model: str | None = None, engine: str | None = None) -> Engine:
    """The engine the settings choose (offline unless an endpoint is configured), on the
    settings' desk: what `newsroom run` and every service worker use."""
    from newsroom.local_model import local_configs

    desk = Desk.load(settings.desk)
    if settings.chosen_engine(engine) == "llm":
        configs = local_configs(settings, settings.model_configs(model))
        return llm_engine(configs, lang=settings.lang, desk=desk)
    return offline_engine(desk=desk)


def offline_engine(embedder: Embedder | None = None, desk: Desk | None = None) -> Engine:
    """Real non-LLM methods for all four agents."""
    from newsroom.agents.clusterer import OfflineClusterer
    from newsroom.agents.fact_checker import OfflineFactChecker
    from newsroom.agents.researcher import OfflineResearcher
    from newsroom.agents.writer import OfflineWriter

    embedder = embedder or Embedder()
    desk = desk or default_desk()
    return Engine(
        name="offline",
        researcher=OfflineResearcher(),
        deduplicator=Deduplicator(),
        clusterer=OfflineClusterer(embedder, desk=desk),
        writer=OfflineWriter(embedder),
        fact_checker=OfflineFactChecker(embedder),
        embedder=embedder,
        desk=desk,
    )


def llm_engine(
    configs: Mapping[str, ModelConfig],
    embedder: Embedder | None = None,
    lang: str = "zh",
    models: Mapping[str, Any] | None = None,
    desk: Desk | None = None,
) -> Engine:
    """The four agents driven by chat models (`configs` per agent: researcher, clusterer,
    writer, fact_checker). `models` may supply ready chat models (tests pass scripted ones)."""
    from newsroom.agents.clusterer import OfflineClusterer
    from newsroom.agents.fact_checker import OfflineFactChecker
    from newsroom.agents.llm_agents import LLMClusterer, LLMFactChecker, LLMResearcher, LLMWriter
    from newsroom.agents.writer import OfflineWriter
    from newsroom.llm import Agent, chat_model

    embedder = embedder or Embedder()
    desk = desk or default_desk()
    ledger = Ledger()
    ready = dict(models or {})

    def agent(name: str) -> Agent:
        config = configs[name]
        return Agent(name, ready.get(name) or chat_model(config), config, ledger)

    return Engine(
        name="llm",
        researcher=LLMResearcher(agent("researcher")),
        deduplicator=Deduplicator(),
        clusterer=LLMClusterer(agent("clusterer"), OfflineClusterer(embedder, desk=desk), lang),
        writer=LLMWriter(agent("writer"), OfflineWriter(embedder), lang),
        fact_checker=LLMFactChecker(agent("fact_checker"), OfflineFactChecker(embedder)),
        embedder=embedder,
        ledger=ledger,
        models={name: config.model for name, config in configs.items()},
        desk=desk,
    )
