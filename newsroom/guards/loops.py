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


Round = list[list[str]]  # the claims a round leaves failing: [claim id, text, label]


def _similar(a: str, b: str) -> float:
    from newsroom.methods.text import grams

    left, right = grams(a), grams(b)
    return len(left & right) / max(len(left | right), 1)


def _near(previous: Round, current: Round, threshold: float) -> bool:
    """Every failing claim is still failing the same way, with barely changed wording."""
    before = {claim_id: (text, label) for claim_id, text, label in previous}
    return bool(current) and all(
        claim_id in before
        and before[claim_id][1] == label
        and _similar(before[claim_id][0], text) >= threshold
        for claim_id, text, label in current
    )


def check_progress(
    history: Sequence[Round], current: Round, round_number: int, near: float = 0.9
) -> None:
    """The same failures as the round before (a writer repeating its draft, a checker that
    rejects everything the same way), nearly the same draft again, or the draft of two rounds
    before (A-B-A-B) are no progress."""
    current = sorted(current)
    if history and sorted(history[-1]) == current:
        raise LoopDetected(
            "no progress",
            f"revision round {round_number} left the same claims failing for the same reasons "
            "as the round before; stopped as a loop",
            limit=len(history),
            used=len(history) + 1,
        )
    if history and _near(history[-1], current, near):
        raise LoopDetected(
            "near-identical drafts",
            f"revision round {round_number} changed the failing claims by less than "
            f"{1 - near:.0%} of their wording, and they still fail; stopped as a loop",
            limit=len(history),
            used=len(history) + 1,
        )
    if len(history) >= 2 and sorted(history[-2]) == current:
        raise LoopDetected(
            "ping-pong",
            f"revision round {round_number} returned to the draft of two rounds before "
            "(A-B-A-B); stopped as a loop",
            limit=len(history),
            used=len(history) + 1,
        )
