"""The stitcher's error types. Third-party errors are translated at the boundary into these, chained ``from exc``."""

from __future__ import annotations

__all__ = ["CompositionError", "SchemaError", "StitcherError"]


class StitcherError(Exception):
    """Base of every error the stitcher raises on purpose; the message says what went wrong and what to fix."""


class SchemaError(StitcherError):
    """A source's schema cannot be used: bad SDL or introspection, or merge configuration that does not fit it."""

    def __init__(self, message: str, *, service: str | None = None) -> None:
        super().__init__(f'service "{service}": {message}' if service else message)
        self.service = service


class CompositionError(StitcherError):
    """Sources cannot be composed; ``conflicts`` lists every conflict found, each naming both services."""

    def __init__(self, conflicts: list[str]) -> None:
        self.conflicts = list(conflicts)
        head = f"{len(self.conflicts)} composition conflict{'s' if len(self.conflicts) != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"- {c}" for c in self.conflicts))
