"""newsroom: a multi-agent newsroom that writes a cited, fact-checked weekly AI report."""

from __future__ import annotations

__version__ = "0.1.0"
