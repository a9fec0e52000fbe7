"""The kubernetes target's one way to a Kubernetes API: a small interface over lightkube.

Like kopf's own API wrapper, this keeps the third-party client behind what the target needs (list by labels
across namespaces, get, server-side apply, delete, watch) and translates its errors at this boundary: a transport
failure becomes :class:`~portal.sync.errors.ClusterUnreachable`, a bad kubeconfig or missing service account
:class:`~portal.sync.errors.InvalidDesiredState`, and every answer of the API server that is an error a
:class:`KubeApiError` carrying its code, reason, message and conflict causes (the target decides what each means).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx2
import lightkube
from lightkube.generic_resource import GenericNamespacedResource, create_namespaced_resource
from lightkube.types import PatchType

from portal.sync.errors import ClusterUnreachable, InvalidDesiredState

__all__ = ["SERVICE_ACCOUNT_DIR", "KubeApiError", "KubeClient", "ObjectKind"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True, slots=True)
class ObjectKind:
    """A namespaced custom resource kind, named as the API server's URLs name it (no discovery needed)."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


class KubeApiError(Exception):
    """The API server answered with an error ``Status``: ``code`` (HTTP), ``reason`` (``Conflict``, ``NotFound``,
    ...), ``message`` as the server (or its admission webhook) wrote it, ``causes`` (e.g. conflicting fields)."""

    def __init__(self, code: int, reason: str, message: str, causes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes


class KubeClient:
    """One cluster's API. ``where`` names it in every error (a kubeconfig context, or in-cluster)."""

    def __init__(self, client: lightkube.AsyncClient, where: str, *, retry_delay: float = 5.0) -> None:
        self._client = client
        self.where = where
        self.retry_delay = retry_delay
        self._resources: dict[ObjectKind, type[GenericNamespacedResource]] = {}

    @classmethod
    def from_kubeconfig(
        cls,
        context: str,
        *,
        kubeconfig: Path | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry_delay: float = 5.0,
    ) -> KubeClient:
        """A client for ``context`` of ``kubeconfig`` (default: ``$KUBECONFIG``, then ``~/.kube/config``)."""
        paths = [kubeconfig] if kubeconfig is not None else _kubeconfig_paths()
        where = f"kube context {context!r}"
        for path in paths:
            if not path.is_file():
                continue
            try:
                config = lightkube.KubeConfig.from_file(path)
                if context not in config.contexts:
                    continue
                single = config.get(context_name=context)
                client = lightkube.AsyncClient(single, timeout=httpx2.Timeout(timeout), transport=transport)
            except (lightkube.ConfigError, KeyError, ValueError, TypeError, OSError) as exc:
                raise InvalidDesiredState(
                    f"{where}: kubeconfig {path} cannot be used ({exc}): fix the file or point the cluster at "
                    "another context"
                ) from exc
            return cls(client, f"{where} ({path})", retry_delay=retry_delay)
        listed = ", ".join(str(p) for p in paths) or "no file"
        raise InvalidDesiredState(
            f"{where} is in no kubeconfig ({listed}): add the context, set KUBECONFIG, or fix the cluster's "
            "kube context"
        )

    @classmethod
    def in_cluster(
        cls,
        *,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry_delay: float = 5.0,
    ) -> KubeClient:
        """A client for the cluster this process runs in, with its pod's service account."""
        try:
            config = lightkube.KubeConfig.from_service_account(service_account=service_account_dir)
            client = lightkube.AsyncClient(config, timeout=httpx2.Timeout(timeout), transport=transport)
        except (lightkube.ConfigError, KeyError, OSError) as exc:
            raise InvalidDesiredState(
                f"no in-cluster service account ({service_account_dir}, KUBERNETES_SERVICE_HOST/PORT): {exc!s}. "
                "Run the sync worker in a pod with a service account, or give the cluster a kube context"
            ) from exc
        return cls(client, "in-cluster service account", retry_delay=retry_delay)

    # -- the operations the target uses --------------------------------------------------------------------

    async def list(self, kind: ObjectKind, labels: Mapping[str, str]) -> tuple[list[dict[str, Any]], str]:
        """Every object of ``kind`` in every namespace carrying ``labels``, and the list's resourceVersion."""
        items = self._client.list(self._resource(kind), namespace=lightkube.ALL_NS, labels=dict(labels))
        async with self._translated(f"list {kind.plural}"):
            objects = [_plain(item) async for item in items]
            return objects, items.resourceVersion

    async def get(self, kind: ObjectKind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            async with self._translated(f"get {kind.kind}/{namespace}/{name}"):
                return _plain(await self._client.get(self._resource(kind), name, namespace=namespace))
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def apply(self, kind: ObjectKind, obj: Mapping[str, Any], *, field_manager: str, force: bool) -> None:
        """Server-side apply of ``obj`` as ``field_manager``."""
        meta = obj["metadata"]
        async with self._translated(f"apply {kind.kind}/{meta['namespace']}/{meta['name']}"):
            await self._client.patch(
                self._resource(kind),
                meta["name"],
                dict(obj),
                namespace=meta["namespace"],
                patch_type=PatchType.APPLY,
                field_manager=field_manager,
                force=force,
            )

    async def delete(self, kind: ObjectKind, namespace: str, name: str) -> bool:
        """Delete; False when it was already gone."""
        try:
            async with self._translated(f"delete {kind.kind}/{namespace}/{name}"):
                await self._client.delete(self._resource(kind), name, namespace=namespace)
                return True
        except KubeApiError as exc:
            if exc.code == 404:
                return False
            raise

    async def watch(
        self, kind: ObjectKind, labels: Mapping[str, str], resource_version: str
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Changes to the objects of ``kind`` carrying ``labels`` after ``resource_version``, as (type, object)."""
        events = self._client.watch(
            self._resource(kind), namespace=lightkube.ALL_NS, labels=dict(labels), resource_version=resource_version
        )
        async with self._translated(f"watch {kind.plural}"):
            async for event, obj in events:
                yield event, _plain(obj)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the boundary ----------------------------------------------------------------------------------------

    def _resource(self, kind: ObjectKind) -> type[GenericNamespacedResource]:
        if kind not in self._resources:
            self._resources[kind] = create_namespaced_resource(kind.group, kind.version, kind.kind, kind.plural)
        return self._resources[kind]

    def _translated(self, what: str) -> _Translated:
        return _Translated(self, what)


class _Translated:
    """Turns lightkube's and httpx2's errors raised inside the block into ours, chained."""

    def __init__(self, client: KubeClient, what: str) -> None:
        self._client = client
        self._what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        where = self._client.where
        if isinstance(exc, lightkube.ApiError):
            status = exc.status
            causes = tuple(
                f"{c.field}: {c.message}" if c.field else str(c.message)
                for c in ((status.details.causes or []) if status.details else [])
            )
            code = status.code or (exc.response.status_code if exc.response is not None else 0)
            raise KubeApiError(
                int(code),
                str(status.reason or ""),
                str(status.message or ""),
                causes,
            ) from exc
        if isinstance(exc, httpx2.HTTPStatusError):  # an answer that is no Kubernetes Status (a proxy's page)
            response = exc.response
            raise KubeApiError(response.status_code, response.reason_phrase, response.text[:500]) from exc
        if isinstance(exc, httpx2.TransportError):
            raise ClusterUnreachable(
                f"the Kubernetes API of {where} cannot be reached ({self._what}: {type(exc).__name__}: {exc}); "
                "the next pass tries again",
                delay=self._client.retry_delay,
            ) from exc


def _plain(obj: Any) -> dict[str, Any]:
    """lightkube's generic object (a dict subclass, metadata possibly decoded) as a plain JSON-shaped dict."""
    return cast(dict[str, Any], obj.to_dict() if hasattr(obj, "to_dict") else dict(obj))


def _kubeconfig_paths() -> list[Path]:
    """kubectl's search: every file of ``$KUBECONFIG`` (a path list), else ``~/.kube/config``."""
    value = os.environ.get("KUBECONFIG", "")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]
