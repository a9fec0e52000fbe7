"""The admin API's client: what the CLI's ``--server URL --token T`` commands use to talk to a running portal.

One class, :class:`AdminClient`, sends GraphQL documents to ``<server>/api/graphql`` with a personal access token
and answers the ``data`` object, or raises the :mod:`portal.errors` type the server named in ``extensions.code``
(so a remote refusal reads exactly like a local one). The HTTP client is injected with a real default: tests pass
an ``httpx.Client`` with their own transport or point it at a real server.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from portal.errors import Conflict, ErrorCode, Forbidden, Invalid, LoomError, NotFound, Unauthenticated

__all__ = ["GRAPHQL_PATH", "AdminClient"]

GRAPHQL_PATH = "/api/graphql"
_ERRORS: Mapping[str, type[LoomError]] = {
    ErrorCode.UNAUTHENTICATED: Unauthenticated,
    ErrorCode.FORBIDDEN: Forbidden,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.INVALID: Invalid,
    ErrorCode.CONFLICT: Conflict,
}


class AdminClient:
    """``AdminClient(server, token).execute(document, variables)`` -> the answer's ``data``.

    Use it as a context manager (or call :meth:`close`) when it created its own HTTP client.
    """

    def __init__(
        self, server: str, token: str | None, *, http: httpx.Client | None = None, timeout: float = 60.0
    ) -> None:
        if not token:
            raise Unauthenticated("--server needs --token (a personal access token: `loom tokens create USER`)")
        self.url = server.rstrip("/") + GRAPHQL_PATH
        self._token = token
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> Any:
        """Run one GraphQL document; the ``data`` object, or the first error as its :class:`LoomError` type."""
        try:
            response = self._http.post(
                self.url,
                json={"query": document, "variables": dict(variables or {})},
                headers={"authorization": f"Bearer {self._token}"},
            )
        except httpx.HTTPError as exc:
            raise Invalid(f"cannot reach {self.url}: {exc}; is the portal running there?") from exc
        try:
            payload = response.json()
        except ValueError as exc:
            message = f"{self.url} answered HTTP {response.status_code} without JSON; is it a Loom portal?"
            raise Invalid(message) from exc
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            first: dict[str, Any] = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
            code = str((first.get("extensions") or {}).get("code", ErrorCode.INVALID))
            error_type = _ERRORS.get(code, Invalid)
            raise error_type(f"{code}: {first.get('message')}")
        if response.status_code >= 400 or not isinstance(payload, dict):
            raise Invalid(f"{self.url} answered HTTP {response.status_code}")
        return payload.get("data")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
