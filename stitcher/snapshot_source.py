"""Where a gateway gets its :class:`~stitcher.snapshot.Snapshot`: the portal, polled with its ETag, plus a copy of
the last good snapshot on disk so a restart while the portal is down still serves.

The portal serves ``GET /api/gateway/snapshot`` with a bearer token; it answers ``304 Not Modified`` to an
``If-None-Match`` that matches its ETag, and with ``?wait=SECONDS`` holds such a request until the snapshot changes
(a watch). The app calls :meth:`PortalSnapshotSource.fetch` in a loop, watching (``Timeouts.watch_seconds``), and
:meth:`PortalSnapshotSource.store` once a snapshot compiled, so only a snapshot that served is kept on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError

from stitcher.errors import StitcherError
from stitcher.snapshot import Snapshot


def _version() -> str:
    try:
        return importlib.metadata.version("loom")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


VERSION = _version()
USER_AGENT = f"loom-gateway/{VERSION}"  # the portal shows it in the fleet status (a gateway checks in by polling)

__all__ = [
    "MAX_WATCH_SECONDS",
    "SNAPSHOT_PATH",
    "USER_AGENT",
    "VERSION",
    "PortalSnapshotSource",
    "SnapshotError",
    "SnapshotSource",
    "StaticSnapshotSource",
]

SNAPSHOT_PATH = "/api/gateway/snapshot"
MAX_WATCH_SECONDS = 60.0  # the longest ``?wait=`` a portal holds a snapshot request for (it refuses more)
_CACHE_FILE = "snapshot.json"


class SnapshotError(StitcherError):
    """The snapshot could not be fetched, read or stored; the message says which and why."""


class SnapshotSource(Protocol):
    async def fetch(self, wait: float = 0.0) -> Snapshot | None:
        """The current snapshot, or None when it has not changed since the last fetch. With ``wait``, an unchanged
        snapshot may be waited on for up to that many seconds (a source that cannot watch answers at once)."""
        ...

    def load_cached(self) -> Snapshot | None:
        """The last good snapshot kept on disk, if any."""
        ...

    def store(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` (it compiled and is being served) as the last good one."""
        ...

    async def aclose(self) -> None: ...


class StaticSnapshotSource:
    """A fixed snapshot that a caller may replace (``set``); for embedding the gateway and for tests."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._snapshot = snapshot
        self._fresh = asyncio.Event()
        if snapshot is not None:
            self._fresh.set()
        self.stored: Snapshot | None = None

    def set(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._fresh.set()

    async def fetch(self, wait: float = 0.0) -> Snapshot | None:
        if not self._fresh.is_set() and wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._fresh.wait()
        if not self._fresh.is_set():
            return None
        self._fresh.clear()
        return self._snapshot

    def load_cached(self) -> Snapshot | None:
        return None

    def store(self, snapshot: Snapshot) -> None:
        self.stored = snapshot

    async def aclose(self) -> None:
        return None


class PortalSnapshotSource:
    """Polls the portal. ``http`` is injected (tests pass ``httpx.ASGITransport``); by default one is created."""

    def __init__(
        self,
        portal_url: str,
        token: str,
        *,
        cache_dir: Path | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        cluster: str | None = None,
    ) -> None:
        # ``cluster``: the snapshot of what this cluster's gateway processes, reaching services through its Envoy.
        query = f"?{urlencode({'cluster': cluster})}" if cluster else ""
        self.url = portal_url.rstrip("/") + SNAPSHOT_PATH + query
        self._token = token
        self._cache_path = cache_dir / _CACHE_FILE if cache_dir is not None else None
        self._owns_http = http is None
        self._http = http  # the default client is created on first use, inside the app's event loop
        self._timeout = timeout
        self._etag: str | None = None

    async def fetch(self, wait: float = 0.0) -> Snapshot | None:
        headers = {"authorization": f"Bearer {self._token}", "accept": "application/json", "user-agent": USER_AGENT}
        url, timeout = self.url, httpx.Timeout(self._timeout)
        if self._etag:
            headers["if-none-match"] = self._etag
            if wait > 0:  # a watch: the portal holds the request until the snapshot changes or the wait is over
                url += ("&" if "?" in url else "?") + urlencode({"wait": f"{wait:g}"})
                timeout = httpx.Timeout(self._timeout, read=wait + self._timeout)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._http.get(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise SnapshotError(f"cannot reach the portal at {self.url}: {exc!r}") from exc
        if response.status_code == 304:
            return None
        if response.status_code in (401, 403):
            raise SnapshotError(
                f"the portal refused the gateway's token (HTTP {response.status_code}) at {self.url}: "
                "pass a valid token with --token"
            )
        if response.status_code != 200:
            raise SnapshotError(f"the portal answered HTTP {response.status_code} at {self.url}")
        try:
            snapshot = Snapshot.model_validate_json(response.content)
        except ValidationError as exc:
            raise SnapshotError(f"the portal sent a snapshot this gateway cannot read: {exc}") from exc
        self._etag = response.headers.get("etag")
        return snapshot

    def load_cached(self) -> Snapshot | None:
        if self._cache_path is None or not self._cache_path.exists():
            return None
        try:
            data = json.loads(self._cache_path.read_bytes())
            snapshot = Snapshot.model_validate(data["snapshot"])
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            raise SnapshotError(f"the cached snapshot {self._cache_path} is unreadable ({exc}); delete it") from exc
        # Revalidate with the portal: a 304 then confirms that the cached copy is still current.
        self._etag = data.get("etag") if isinstance(data.get("etag"), str) else None
        return snapshot

    def store(self, snapshot: Snapshot) -> None:
        if self._cache_path is None:
            return
        body = json.dumps({"etag": self._etag, "snapshot": snapshot.model_dump(mode="json")})
        directory = self._cache_path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a crash never leaves half a snapshot where the last good one was.
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".snapshot-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body)
            os.replace(tmp, self._cache_path)
        except OSError as exc:
            raise SnapshotError(f"cannot keep the snapshot in {directory}: {exc}") from exc

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
