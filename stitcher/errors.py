"""The stitcher's error types. Third-party errors are translated at the boundary into these, chained ``from exc``."""

from __future__ import annotations

__all__ = ["StitcherError"]


class StitcherError(Exception):
    """Base of every error the stitcher raises on purpose; the message says what went wrong and what to fix."""
