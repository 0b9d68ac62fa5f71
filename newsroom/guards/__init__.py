"""Budget guards: limits, prices, reservations before every call, and loop detection."""

from newsroom.guards.budget import Amounts, Guard, Limits, MemoryLedger, Reservation
from newsroom.guards.loops import LoopDetector
from newsroom.guards.pricing import Pricing

__all__ = ["Amounts", "Guard", "Limits", "LoopDetector", "MemoryLedger", "Pricing", "Reservation"]
