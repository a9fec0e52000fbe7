"""What a gateway serves: the executor contract, the default factories, one product's runtime and the served set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stitcher.credentials import AccessPolicy
from stitcher.ir import Supergraph
from stitcher.options import GatewayOptions
from stitcher.restsurface import RestSurface
from stitcher.snapshot import ProductConfig
from stitcher.transport import (
    Http11Transport,
    Transport,
    Upstream,
)

SINGLE = ""  # the product name under which a fixed supergraph is served at /graphql


class ExecutionResult(Protocol):
    """What the executor answers (``stitcher.execution.ExecutionResponse``)."""

    @property
    def data(self) -> Any: ...
    @property
    def errors(self) -> Any: ...
    @property
    def request_error(self) -> bool: ...
    def to_json(self) -> bytes: ...
    def data_json(self) -> bytes: ...


class ExecutorLike(Protocol):
    async def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> ExecutionResult: ...


ExecutorFactory = Callable[[Supergraph, Transport, GatewayOptions], ExecutorLike]
Compiler = Callable[[ProductConfig], Supergraph]
TransportFactory = Callable[[], Awaitable[Transport]]


def default_executor_factory(supergraph: Supergraph, transport: Transport, options: GatewayOptions) -> ExecutorLike:
    from stitcher.execution import Executor

    executor: ExecutorLike = Executor(supergraph, transport, options)
    return executor


def default_compiler(config: ProductConfig) -> Supergraph:
    from stitcher.composition import compose

    return compose(config.source_specs(), config.stitching())


async def default_transport_factory() -> Transport:
    return await Http11Transport.create()


@dataclass(slots=True)
class ProductRuntime:
    """One product ready to serve: its supergraph, executor and REST surface."""

    name: str
    fingerprint: str
    supergraph: Supergraph
    executor: ExecutorLike
    rest: RestSurface
    auth_required: bool
    upstreams: Mapping[str, Upstream] = field(default_factory=dict)  # source URL -> egress policy, response cap


@dataclass(frozen=True, slots=True)
class Served:
    """What is being served, swapped as one reference."""

    products: Mapping[str, ProductRuntime]
    policy: AccessPolicy | None
    fingerprint: str | None
    elsewhere: Mapping[str, str] = field(default_factory=dict)  # product -> why this gateway must not process it
