"""Limits, reservations and the guard every model and tool call passes through.

A call first reserves a guaranteed upper bound of what it can cost — the prompt's UTF-8 length
(no tokenizer puts more than one token in a byte) plus framing, and `max_tokens` of output —
and settles the actual usage after. A reservation that would cross any limit is refused, so the
call is never made: settled usage cannot exceed a limit.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from newsroom.errors import BudgetExceeded, GuardTripped, LoopDetected, Overbilled
from newsroom.guards.loops import LoopDetector
from newsroom.guards.pricing import Pricing, Rate

COUNTERS = ("usd_micro", "tokens", "llm_calls", "tool_calls")
MESSAGE_FRAMING = 8  # tokens a chat format adds around each message, generously
LABELS = {
    "usd_micro": "money",
    "tokens": "tokens",
    "llm_calls": "LLM calls",
    "tool_calls": "tool calls",
}
FLAGS = {
    "usd_micro": "--max-usd",
    "tokens": "--max-tokens",
    "llm_calls": "--max-llm-calls",
    "tool_calls": "--max-tool-calls",
}


@dataclass(frozen=True)
class Amounts:
    usd_micro: int = 0
    tokens: int = 0
    llm_calls: int = 0
    tool_calls: int = 0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(*(getattr(self, f) + getattr(other, f) for f in COUNTERS))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """Per-run limits; None means no limit on that measure."""

    max_usd: float | None = 1.0
    max_tokens: int | None = 400_000
    max_llm_calls: int | None = 60
    max_tool_calls: int | None = 200
    max_seconds: float | None = 1800.0

    def caps(self) -> dict[str, int | None]:
        return {
            "usd_micro": None if self.max_usd is None else round(self.max_usd * 1_000_000),
            "tokens": self.max_tokens,
            "llm_calls": self.max_llm_calls,
            "tool_calls": self.max_tool_calls,
        }

    def describe(self) -> str:
        parts = [
            f"${self.max_usd:g}" if self.max_usd is not None else "no money limit",
            f"{self.max_tokens} tokens" if self.max_tokens is not None else "no token limit",
            f"{self.max_llm_calls} LLM calls"
            if self.max_llm_calls is not None
            else "no call limit",
            f"{self.max_tool_calls} tool calls"
            if self.max_tool_calls is not None
            else "no tool-call limit",
            f"{self.max_seconds:g}s" if self.max_seconds is not None else "no time limit",
        ]
        return ", ".join(parts)


def refusal(counter: str, cap: int, committed: int, requested: int) -> BudgetExceeded:
    def show(value: int) -> str:
        return f"${value / 1_000_000:.6f}" if counter == "usd_micro" else str(value)

    return BudgetExceeded(
        LABELS[counter],
        f"{LABELS[counter]} limit {show(cap)} reached: {show(committed)} used or reserved, the "
        f"next call needs up to {show(requested)} more; it was not made (raise {FLAGS[counter]} "
        "to allow more)",
        limit=cap,
        used=committed,
    )


class Ledger(Protocol):
    """Where reservations and usage are kept: in memory, or shared through Redis."""

    def reserve(self, amounts: Amounts, lease_seconds: float) -> str: ...

    def settle(self, reservation: str, actual: Amounts) -> None: ...

    def used(self) -> Amounts: ...


class MemoryLedger:
    """One run's ledger: atomic under a lock, for any number of concurrent calls."""

    def __init__(self, caps: dict[str, int | None], used: Amounts | None = None) -> None:
        self.caps = caps
        self._lock = threading.Lock()
        self._used = used or Amounts()  # a resumed run starts from what it already spent
        self._open: dict[str, Amounts] = {}
        self._ids = itertools.count(1)

    def reserve(self, amounts: Amounts, lease_seconds: float = 0.0) -> str:
        with self._lock:
            committed = self._used
            for held in self._open.values():
                committed = committed + held
            for counter in COUNTERS:
                cap = self.caps.get(counter)
                requested = getattr(amounts, counter)
                if cap is not None and requested and getattr(committed, counter) + requested > cap:
                    raise refusal(counter, cap, getattr(committed, counter), requested)
            reservation = f"r{next(self._ids)}"
            self._open[reservation] = amounts
            return reservation

    def settle(self, reservation: str, actual: Amounts) -> None:
        with self._lock:
            self._open.pop(reservation, None)
            self._used = self._used + actual

    def used(self) -> Amounts:
        with self._lock:
            return self._used


@dataclass
class Reservation:
    id: str
    amounts: Amounts
    rate: Rate | None = None
    input_bound: int = 0  # the most input tokens the prompt can be
    output_bound: int = 0  # max_tokens of the request


def spent(journal: Path) -> tuple[Amounts, dict[str, dict[str, int]]]:
    """What a run's usage journal says it spent: the guard's totals, and the usage per
    `agent/model` (calls, tokens and cost as reported, failed attempts). A torn last line (a
    killed process) is skipped."""
    total = Amounts()
    lines: dict[str, dict[str, int]] = {}
    try:
        text = journal.read_text("utf-8")
    except OSError:
        return total, lines
    for row in text.splitlines():
        try:
            entry = json.loads(row)
            charged = Amounts(**{k: int(entry["charged"].get(k, 0)) for k in COUNTERS})
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        total = total + charged
        if entry.get("usage"):
            line = lines.setdefault(str(entry.get("key", "?")), {})
            for name, amount in entry["usage"].items():
                line[name] = line.get(name, 0) + int(amount)
    return total, lines


@dataclass
class Guard:
    """The one choke point: every model call and every tool call asks it first."""

    limits: Limits = field(default_factory=Limits)
    pricing: Pricing = field(default_factory=Pricing)
    ledger: Ledger | None = None
    loops: LoopDetector = field(default_factory=LoopDetector)
    lease_seconds: float = 600.0
    started: float = field(default_factory=time.monotonic)
    unpriced: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Every settlement is appended here (one JSON line, flushed): the run's usage survives the
    # process, and a resumed run starts from it.
    journal: Path | None = None
    # What earlier processes of this run spent (from the journal): a limit is the run's.
    earlier: Amounts = field(default_factory=Amounts)

    def __post_init__(self) -> None:
        if self.ledger is None:
            self.ledger = MemoryLedger(self.limits.caps(), self.earlier)
        self._journal_lock = threading.Lock()

    @property
    def store(self) -> Ledger:
        assert self.ledger is not None
        return self.ledger

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining_seconds(self) -> float | None:
        if self.limits.max_seconds is None:
            return None
        return self.limits.max_seconds - self.elapsed()

    def check_time(self) -> None:
        remaining = self.remaining_seconds()
        if remaining is not None and remaining <= 0:
            raise BudgetExceeded(
                "wall time",
                f"wall time limit {self.limits.max_seconds:g}s reached after "
                f"{self.elapsed():.1f}s; no further call was made (raise --max-seconds)",
                limit=self.limits.max_seconds,
                used=self.elapsed(),
            )

    def before_llm(
        self, model: str, provider: str | None, prompt: str, messages: int, max_tokens: int
    ) -> Reservation:
        with _reported():
            return self._before_llm(model, provider, prompt, messages, max_tokens)

    def _before_llm(
        self, model: str, provider: str | None, prompt: str, messages: int, max_tokens: int
    ) -> Reservation:
        self.check_time()
        upper_input = len(prompt.encode("utf-8")) + MESSAGE_FRAMING * (messages + 1)
        rate = self.pricing.rate(model, provider)
        if rate is None:
            self.unpriced.add(model)
        cost = rate.cost(upper_input, max_tokens) if rate else 0
        amounts = Amounts(usd_micro=cost, tokens=upper_input + max_tokens, llm_calls=1)
        return Reservation(
            self.store.reserve(amounts, self.lease_seconds), amounts, rate, upper_input, max_tokens
        )

    def after_llm(
        self, reservation: Reservation, input_tokens: int, output_tokens: int, key: str = ""
    ) -> int:
        """Settle the usage the server reported; returns its cost in micro-dollars. Usage above
        the reservation's bound is settled as reported and trips the guard (`Overbilled`)."""
        cost = reservation.rate.cost(input_tokens, output_tokens) if reservation.rate else 0
        actual = Amounts(usd_micro=cost, tokens=input_tokens + output_tokens, llm_calls=1)
        self.store.settle(reservation.id, actual)
        usage = {"calls": 1, "input_tokens": input_tokens, "output_tokens": output_tokens}
        self._journal(key, actual, {**usage, "cost_micro": cost})
        excess = {
            "input_tokens": input_tokens - reservation.input_bound,
            "output_tokens": output_tokens - reservation.output_bound,
            "usd_micro": cost - reservation.amounts.usd_micro,
        }
        over = {name: amount for name, amount in excess.items() if amount > 0}
        if over and (reservation.input_bound or reservation.output_bound):
            self._overbilled(key, reservation, input_tokens, output_tokens, cost, over)
        return cost

    def failed(self, reservation: Reservation, key: str = "") -> None:
        """An attempt that reached the server and failed may still have been billed, and
        nothing says how much: count what was reserved, and the attempt as a call."""
        self.store.settle(reservation.id, reservation.amounts)
        usage = {"calls": 1, "failed": 1, "cost_micro": reservation.amounts.usd_micro}
        self._journal(key, reservation.amounts, usage)

    def unreached(self, reservation: Reservation) -> None:
        """An attempt that never connected: no server saw it; it costs nothing and counts for
        no limit."""
        self.store.settle(reservation.id, Amounts())

    def _overbilled(
        self,
        key: str,
        reservation: Reservation,
        input_tokens: int,
        output_tokens: int,
        cost: int,
        over: dict[str, int],
    ) -> None:
        from opentelemetry import trace

        from newsroom.observability import semconv as sc

        event = {
            "event": "overbilled",
            "call": key,
            "reserved": {
                "input_tokens": reservation.input_bound,
                "output_tokens": reservation.output_bound,
                "usd_micro": reservation.amounts.usd_micro,
            },
            "reported": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "usd_micro": cost,
            },
            "excess": over,
        }
        self.events.append(event)
        shown = ", ".join(f"{name} +{amount}" for name, amount in over.items())
        tripped = Overbilled(
            "reservation bound",
            f"the server reported more than the call reserved ({shown} for {key or 'a call'}); "
            "stopped, since no limit can be trusted to hold against such a server (see "
            "run.json guard.events)",
            limit=reservation.amounts.tokens,
            used=input_tokens + output_tokens,
        )
        trace.get_current_span().add_event(
            sc.EVENT_BUDGET_DENIED,
            {
                sc.GUARD: tripped.guard,
                sc.GUARD_MESSAGE: str(tripped),
                "newsroom.guard.excess": json.dumps(over),
            },
        )
        raise tripped

    def _journal(self, key: str, charged: Amounts, usage: dict[str, int] | None) -> None:
        if self.journal is None:
            return
        line = json.dumps({"key": key, "charged": charged.as_dict(), "usage": usage})
        with self._journal_lock:
            try:
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                with self.journal.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError:
                return  # the in-memory ledger still holds; only a resume would see less

    def before_tool(self, tool: str, arguments: dict[str, Any]) -> Reservation:
        with _reported():
            self.check_time()
            self.loops.tool_call(tool, arguments)
            amounts = Amounts(tool_calls=1)
            return Reservation(self.store.reserve(amounts, self.lease_seconds), amounts)

    def after_tool(self, reservation: Reservation, key: str = "") -> None:
        self.store.settle(reservation.id, reservation.amounts)
        self._journal(key, reservation.amounts, None)

    def summary(self) -> dict[str, Any]:
        used = self.store.used()
        return {
            "limits": {f.name: getattr(self.limits, f.name) for f in fields(self.limits)},
            "used": {
                **used.as_dict(),
                "usd": used.usd_micro / 1_000_000,
                "seconds": round(self.elapsed(), 3),
            },
            "unpriced_models": sorted(self.unpriced),
            **({"earlier": self.earlier.as_dict()} if any(self.earlier.as_dict().values()) else {}),
            **({"events": list(self.events)} if self.events else {}),
        }


current_guard: ContextVar[Guard | None] = ContextVar("newsroom_guard", default=None)


@contextmanager
def _reported() -> Iterator[None]:
    """A refusal becomes an event on the span of the call that was not made."""
    from opentelemetry import trace

    from newsroom.observability import semconv as sc

    try:
        yield
    except GuardTripped as tripped:
        loop = isinstance(tripped, LoopDetected)
        event = sc.EVENT_LOOP_DETECTED if loop else sc.EVENT_BUDGET_DENIED
        attributes: dict[str, Any] = {sc.GUARD: tripped.guard, sc.GUARD_MESSAGE: str(tripped)}
        if tripped.limit is not None:
            attributes["newsroom.guard.limit"] = tripped.limit
        if tripped.used is not None:
            attributes["newsroom.guard.used"] = tripped.used
        trace.get_current_span().add_event(event, attributes)
        raise
