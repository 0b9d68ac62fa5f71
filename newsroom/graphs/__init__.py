"""LangGraph state machines: the weekly graph (and later, the incremental one)."""

from newsroom.graphs.weekly import RunContext, build_weekly_graph

__all__ = ["RunContext", "build_weekly_graph"]
