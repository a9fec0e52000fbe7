"""The shop as three products over real upstreams: Federation, plain GraphQL, and plain GraphQL + REST.

``ShopUpstreams`` starts every upstream once (a test module's fixture) and builds the products' supergraphs.
"""

from __future__ import annotations

from typing import Any

from stitcher.composition import compose
from stitcher.ir import SourceKind, Supergraph
from stitcher.sources import EntityConfig, SourceSpec
from tests.stitcher.upstreams import federation, plain, rest
from tests.stitcher.upstreams.faults import FLAKY_SDL, FaultApp
from tests.stitcher.upstreams.monolith import monolith_app
from tests.stitcher.upstreams.serving import UpstreamServers

FAULTS = ("hang", "garbage", "http500")


def shop_apps() -> dict[str, Any]:
    apps: dict[str, Any] = {f"fed-{name}": make() for name, (_sdl, make) in federation.SUBGRAPHS.items()}
    apps.update({f"gql-{name}": make() for name, (_sdl, make) in plain.SERVICES.items()})
    apps["rest-inventory"] = rest.InventoryApp()
    apps["monolith"] = monolith_app()
    apps.update({f"fault-{mode}": FaultApp(mode) for mode in FAULTS})
    return apps


class ShopUpstreams(UpstreamServers):
    def __init__(self) -> None:
        super().__init__(shop_apps())

    def requests(self) -> dict[str, int]:
        return {name: app.requests for name, app in self.apps.items()}

    def federation_specs(self) -> list[SourceSpec]:
        return [
            SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=self.urls[f"fed-{name}"])
            for name, (sdl, _make) in federation.SUBGRAPHS.items()
        ]

    def federation(self) -> Supergraph:
        return compose(self.federation_specs())

    def graphql(self) -> Supergraph:
        return compose(
            [
                SourceSpec(
                    name=name,
                    protocol=SourceKind.GRAPHQL,
                    schema=sdl,
                    url=self.urls[f"gql-{name}"],
                    entities=plain.ENTITIES[name],
                )
                for name, (sdl, _make) in plain.SERVICES.items()
            ]
        )

    def openapi(self) -> Supergraph:
        """Plain GraphQL products + the REST inventory joined on Product.upc."""
        return compose(
            [
                SourceSpec(
                    name="products",
                    protocol=SourceKind.GRAPHQL,
                    schema=plain.PRODUCTS_SDL,
                    url=self.urls["gql-products"],
                    entities=plain.ENTITIES["products"],
                ),
                SourceSpec(
                    name="inventory",
                    protocol=SourceKind.OPENAPI,
                    schema=rest.OPENAPI,
                    url=self.urls["rest-inventory"],
                    entities={"Product": EntityConfig(key="upc", operation="inventoryByUpcs")},
                ),
            ]
        )

    def with_flaky(self, mode: str) -> Supergraph:
        """The Federation shop plus a subgraph (``Query.status``, ``Product.rating``) served by a faulty app."""
        specs = self.federation_specs()
        specs.append(
            SourceSpec(name="flaky", protocol=SourceKind.FEDERATION, schema=FLAKY_SDL, url=self.urls[f"fault-{mode}"])
        )
        return compose(specs)
