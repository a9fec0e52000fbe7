"""The control plane's error types. Every layer raises these; the API, the CLI and ``apply`` translate them.

Third-party errors are translated at the boundary into one of these, chained with ``from exc``.
"""

from __future__ import annotations

import enum

__all__ = [
    "Conflict",
    "ErrorCode",
    "Forbidden",
    "Invalid",
    "LoomError",
    "NotFound",
    "Unauthenticated",
]


class ErrorCode(enum.StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
    CONFLICT = "CONFLICT"


class LoomError(Exception):
    """Base of every error the control plane reports to a person: ``message`` says what to fix."""

    code: ErrorCode = ErrorCode.INVALID

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path  # e.g. "services.yaml: document 2 (Service/inventory): spec.deployments[0].cluster"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Unauthenticated(LoomError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(LoomError):
    code = ErrorCode.FORBIDDEN


class NotFound(LoomError):
    code = ErrorCode.NOT_FOUND


class Invalid(LoomError):
    code = ErrorCode.INVALID


class Conflict(LoomError):
    code = ErrorCode.CONFLICT
