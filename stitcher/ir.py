"""The stitcher's intermediate representation (IR).

Every source of a product (a Federation v2 subgraph, a plain GraphQL service with merge configuration, a REST
service described by OpenAPI) becomes one :class:`Subgraph`. Composition merges subgraphs into one
:class:`Supergraph`, and the one query planner works only on the supergraph: the API schema plus the join
information (which subgraph can resolve which type by which key, and which field).

Contract for producers and consumers of the IR:

* ``Supergraph.fields`` lists, for *every* field of every object/interface type of the API schema, every subgraph
  that can resolve it (composition and the supergraph loader both normalise to this; no implicit ownership).
* ``Supergraph.types`` lists, for every composite type, every subgraph that defines it, with its keys.
* Names in the supergraph are product names (after transforms). A subgraph's :class:`Renames` maps them back to
  the names its upstream understands; the executor applies them when it builds upstream requests and results.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from graphql import GraphQLSchema

if TYPE_CHECKING:
    from stitcher.sources import SourceSpec, Stitching

__all__ = [
    "SCHEMA_COORDINATE",
    "Discriminator",
    "EntityKey",
    "EntityResolver",
    "FieldDirectives",
    "FieldJoin",
    "ParameterStyle",
    "Renames",
    "RestBinding",
    "RestOperation",
    "RestParameter",
    "SourceKind",
    "Subgraph",
    "Supergraph",
    "TypeJoin",
]


# The parameter styles that explode and a separator cannot say (see RestParameter.style).
ParameterStyle = Literal["", "label", "matrix", "deepObject"]


class SourceKind(enum.StrEnum):
    FEDERATION = "federation"
    GRAPHQL = "graphql"
    OPENAPI = "openapi"


# The schema coordinate of the schema itself (``schema @foo { ... }``): no type may be named so.
SCHEMA_COORDINATE = ""


@dataclass(frozen=True, slots=True)
class EntityKey:
    """One ``@key`` of an entity type in one subgraph. ``fields`` is a selection set: ``"id"``, ``"sku org { id }"``."""

    fields: str
    resolvable: bool = True


@dataclass(frozen=True, slots=True)
class EntityResolver:
    """How a plain GraphQL or REST subgraph fetches an entity by key (merge configuration or ``entities``).

    ``field`` is a Query field of the subgraph (for REST: the field bound to the operation), ``argument`` the
    argument that receives the key value, or the list of key values when ``batched`` (results come back in the
    same order as the keys; a missing entity is ``null``).

    Compound keys (``key="sku vendor"``, flat fields only) set ``key_arguments``, one name per key field in the
    key's order. With an ``argument``, it is an input object (a list of them when batched) and ``key_arguments``
    are its fields: the gateway passes ``{sku: ..., vendor: ...}``. Without one (``argument == ""``, single fetches
    only), each key field goes to its own argument (for REST: the path/query parameter) named ``key_arguments[i]``.
    """

    type_name: str
    key: str
    field: str
    argument: str
    batched: bool
    key_arguments: tuple[str, ...] = ()
    # A product's link (:class:`stitcher.sources.Link`): the field's result is the value of the entity's field
    # ``link`` (``Loan.member``), not the entity itself; ``key`` holds the entity's fields the arguments come from.
    link: str | None = None


@dataclass(frozen=True, slots=True)
class FieldDirectives:
    """Federation directives on one field of one subgraph (all off for non-federation sources)."""

    external: bool = False
    requires: str | None = None
    provides: str | None = None
    shareable: bool = False
    override_from: str | None = None
    inaccessible: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RestParameter:
    """A parameter of a REST operation and the GraphQL argument that carries it."""

    name: str
    location: Literal["path", "query", "header", "cookie"]
    argument: str
    required: bool = False
    # Arrays: True sends one parameter per item (form/explode, ``collectionFormat: multi``), False one value with
    # the items comma-separated (``explode: false``, ``style: simple``, Swagger's default ``csv``).
    explode: bool = True
    # What separates the items of an unexploded array (``,``; `` `` for spaceDelimited/ssv, ``|`` for
    # pipeDelimited/pipes, a tab for tsv); an item's own separator characters are percent-encoded.
    separator: str = ","
    # The styles that explode and separator cannot say: ``label`` (``.a,b``) and ``matrix`` (``;id=a,b``) in a
    # path, ``deepObject`` (``filter[size]=L``) in a query; "" is the location's default (form in a query or cookie,
    # simple in a path or header), or what explode and separator say.
    style: ParameterStyle = ""
    # A query value's reserved characters (``:/?#[]@!$&'()*+,;=``) are sent as they are (``allowReserved``).
    allow_reserved: bool = False


@dataclass(frozen=True, slots=True)
class RestOperation:
    """A REST operation bound to a root field (``Query.x`` for GET/HEAD, ``Mutation.x`` otherwise)."""

    method: str
    path: str
    parameters: tuple[RestParameter, ...] = ()
    body_argument: str | None = None
    content_type: str = "application/json"
    operation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Discriminator:
    """How a REST result picks its concrete GraphQL type for a union or interface."""

    property_name: str | None
    mapping: dict[str, str]  # property value -> GraphQL type name
    # For oneOf/anyOf without a discriminator: each candidate type with the JSON properties it requires.
    required: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(slots=True)
class RestBinding:
    """Everything the executor needs to run REST fetches and shape their JSON as GraphQL."""

    operations: dict[tuple[str, str], RestOperation]  # (root type, field) -> operation
    json_names: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, field) -> JSON property
    discriminators: dict[str, Discriminator] = field(default_factory=dict)  # abstract type -> how to resolve
    # JSON scalars stand where a construct could not be typed; enum values may need mapping back to JSON.
    enum_values: dict[str, dict[str, str]] = field(default_factory=dict)  # enum type -> GraphQL value -> JSON


@dataclass(slots=True)
class Renames:
    """Product names -> upstream names, produced by source transforms (prefix, rename)."""

    types: dict[str, str] = field(default_factory=dict)
    fields: dict[tuple[str, str], str] = field(default_factory=dict)  # (product type, product field) -> upstream

    def upstream_type(self, name: str) -> str:
        return self.types.get(name, name)

    def upstream_field(self, type_name: str, field_name: str) -> str:
        return self.fields.get((type_name, field_name), field_name)


@dataclass(slots=True)
class Subgraph:
    """One source of a product, in product names (after its transforms); ``renames`` maps them to upstream names."""

    name: str
    kind: SourceKind
    schema: GraphQLSchema | None  # None only for subgraphs read from a supergraph SDL
    url: str | None = None
    keys: dict[str, tuple[EntityKey, ...]] = field(default_factory=dict)
    resolvers: dict[str, EntityResolver] = field(default_factory=dict)
    fields: dict[tuple[str, str], FieldDirectives] = field(default_factory=dict)
    interface_objects: frozenset[str] = frozenset()
    rest: RestBinding | None = None
    renames: Renames = field(default_factory=Renames)
    warnings: list[str] = field(default_factory=list)
    # Schema coordinates other than fields marked @inaccessible (or hidden by a transform): "Type",
    # "Enum.VALUE", "Input.field", "Type.field(arg:)". Fields use ``FieldDirectives.inaccessible``.
    inaccessible: frozenset[str] = frozenset()
    # ``@tag(name:)`` on schema coordinates other than fields (same forms as ``inaccessible``), in order; fields
    # use ``FieldDirectives.tags``.
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A Federation 1 subgraph (no ``@link`` to Federation 2): composed with Federation 1 rules, where every field
    # is shareable (Apollo composition upgrades such a subgraph the same way).
    federation_v1: bool = False
    # Fields hidden by this source's transforms ("Type.field", product names): where another source exposes the
    # field, this source's definition takes no part in the product (nor in its conflicts).
    hidden_fields: frozenset[str] = frozenset()
    # Types hidden by this source's transforms (product names): where another source exposes the type, this
    # source's definition takes no part in the product (nor in its conflicts).
    hidden_types: frozenset[str] = frozenset()
    # A link's subgraph (:mod:`stitcher.composition.links`): the source that serves it. Its types are copies of
    # that source's, but for the linked type (the type its resolver is for).
    link_of: str | None = None
    # ``@composeDirective(name: "@foo")`` (Federation 2.1): directives this subgraph asks composition to keep, by
    # name, with the URL of the ``@link`` that imports each; and the applications of the subgraph's own directives
    # (composed or not: composition names those it leaves out) by schema coordinate (same forms as ``tags``, fields
    # and ``@directive(arg:)`` too; :data:`SCHEMA_COORDINATE` for the schema itself), printed (``@foo(level: 2)``).
    composed_directives: dict[str, str] = field(default_factory=dict)
    directive_usages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # How often the source's SDL applies each of its own directives, counted as it was read, before transforms (a
    # transformed schema is built again and carries no applications); None: not counted, read from the schema.
    directive_uses: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class TypeJoin:
    """``@join__type``: subgraph ``graph`` defines the type; ``key`` is None for a value type or a non-entity."""

    graph: str
    key: str | None = None
    resolvable: bool = True
    extension: bool = False
    is_interface_object: bool = False


@dataclass(frozen=True, slots=True)
class FieldJoin:
    """``@join__field``: subgraph ``graph`` can resolve the field (unless ``external``)."""

    graph: str
    requires: str | None = None
    provides: str | None = None
    external: bool = False
    override_from: str | None = None
    type: str | None = None  # the field's type in that subgraph when it differs (e.g. nullability)


@dataclass(slots=True)
class Supergraph:
    """A composed product: the API schema, the subgraphs and the join information the planner uses."""

    schema: GraphQLSchema
    subgraphs: dict[str, Subgraph]
    types: dict[str, tuple[TypeJoin, ...]]
    fields: dict[tuple[str, str], tuple[FieldJoin, ...]]
    warnings: list[str] = field(default_factory=list)
    # The enum member name used for each subgraph in join__Graph (upper snake case, unique).
    graph_enum: dict[str, str] = field(default_factory=dict)
    # The composed schema *with* the @inaccessible elements (None: same as ``schema``), and their coordinates
    # ("Type", "Type.field", "Enum.VALUE", "Type.field(arg:)"); the supergraph SDL printer needs both.
    full_schema: GraphQLSchema | None = None
    inaccessible: frozenset[str] = frozenset()
    # ``@tag(name:)`` applied in any subgraph, by coordinate ("Type", "Type.field", "Type.field(arg:)",
    # "Enum.VALUE", "Input.field"), in first-seen order; the supergraph SDL carries them (for contracts and schema
    # tooling), execution ignores them.
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What the product was composed from (set by composition, empty for a supergraph composed elsewhere): the
    # supergraph SDL carries them (``@loom__source``, ``@loom__stitching``) so a gateway serving it composes the same
    # product, REST bindings, merge configuration, transforms and links included.
    sources: tuple[SourceSpec, ...] = ()
    stitching: Stitching | None = None
    # Directives kept by ``@composeDirective`` (name -> URL of the spec that defines it) and their applications by
    # schema coordinate (as ``tags``), printed: both SDLs carry them; executable ones are forwarded as any other.
    composed_directives: dict[str, str] = field(default_factory=dict)
    directive_usages: dict[str, tuple[str, ...]] = field(default_factory=dict)
