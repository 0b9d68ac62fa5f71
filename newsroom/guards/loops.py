"""Loop detection: repeated identical tool calls, and revision rounds that make no progress."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from newsroom.errors import LoopDetected


def _key(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


class LoopDetector:
    """`repeats` identical tool calls (same tool, same canonical arguments) trip it."""

    def __init__(self, repeats: int = 3) -> None:
        self.repeats = repeats
        self.tool_calls: Counter[str] = Counter()

    def tool_call(self, tool: str, arguments: dict[str, Any]) -> None:
        key = _key([tool, arguments])
        self.tool_calls[key] += 1
        if self.tool_calls[key] >= self.repeats:
            raise LoopDetected(
                "repeated tool call",
                f"{tool} was called {self.tool_calls[key]} times with the same arguments "
                f"{json.dumps(arguments, ensure_ascii=False)}; stopped as a loop",
                limit=self.repeats - 1,
                used=self.tool_calls[key],
            )


def round_signature(failing: Sequence[tuple[str, str, str]]) -> str:
    """What a writer ⇄ fact-checker round leaves failing: (claim id, text, label) triples."""
    return _key(sorted(failing))


def check_progress(history: Sequence[str], current: str, round_number: int) -> None:
    """The same failures as the round before (a writer repeating its draft, a checker that
    rejects everything the same way), or as two rounds before (A-B-A-B), are no progress."""
    if history and history[-1] == current:
        raise LoopDetected(
            "no progress",
            f"revision round {round_number} left the same claims failing for the same reasons "
            "as the round before; stopped as a loop",
            limit=len(history),
            used=len(history) + 1,
        )
    if len(history) >= 2 and history[-2] == current:
        raise LoopDetected(
            "ping-pong",
            f"revision round {round_number} returned to the draft of two rounds before "
            "(A-B-A-B); stopped as a loop",
            limit=len(history),
            used=len(history) + 1,
        )
