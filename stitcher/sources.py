"""What a product is composed from: one :class:`SourceSpec` per service, with its merge config and transforms.

These are plain values (no I/O): the portal builds them from Service/Product resources, ``loom compose`` builds
them from YAML files, and the gateway builds them from the config snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stitcher.ir import SourceKind

__all__ = ["EntityConfig", "Link", "SourceSpec", "Stitching", "Transforms"]


@dataclass(frozen=True, slots=True)
class EntityConfig:
    """How a plain GraphQL or REST source resolves an entity by key (``spec.entities`` of a Service).

    ``operation`` is the OpenAPI operationId (REST) or the Query field (plain GraphQL) that fetches the entity.
    ``argument`` defaults to the operation's only argument, or the one named like the key; ``batched`` defaults to
    whether that argument is a list.

    Compound keys (``key: "sku vendor"``, flat fields): a plain GraphQL field takes them as one input-object argument
    with fields named like the key fields (``argument``, or the field's only argument; a list of them when batched),
    or as one argument per key field named like it (single fetches). A REST operation takes each key field as the
    path or query parameter named like it, one entity per request. Anything else is refused when the source is read.
    """

    key: str
    operation: str
    argument: str | None = None
    batched: bool | None = None


@dataclass(frozen=True, slots=True)
class Transforms:
    """Per-source transforms applied before composition: prefix type names, rename types or fields, hide some.

    ``rename_fields`` and ``hide`` use coordinates in the source's own names: ``"Type.field"`` (``hide`` also
    takes a bare ``"Type"``). ``prefix`` applies to every type the source defines except the root types.
    """

    prefix: str | None = None
    rename_types: Mapping[str, str] = field(default_factory=dict)
    rename_fields: Mapping[str, str] = field(default_factory=dict)
    hide: tuple[str, ...] = ()
    # Renames by pattern: regular expression (matching the whole source name) -> replacement (``\\1`` for groups),
    # the first matching pattern wins; an explicit rename wins over a pattern. ``type_patterns`` rename types
    # (not root types; they replace ``prefix`` for the types they match), ``root_field_patterns`` the fields of
    # Query, Mutation and Subscription (``"(.*)": "artsy_\\1"``).
    type_patterns: Mapping[str, str] = field(default_factory=dict)
    root_field_patterns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One service as a source of a product.

    ``schema`` is the text the service published: Federation or GraphQL SDL, a GraphQL introspection result
    (JSON), or an OpenAPI 2.0/3.0/3.1 document (JSON or YAML). ``base_path`` is the directory that relative
    ``$ref`` files are read from (None: relative files are refused).
    """

    name: str
    protocol: SourceKind
    schema: str
    url: str | None = None
    entities: Mapping[str, EntityConfig] = field(default_factory=dict)
    transforms: Transforms = field(default_factory=Transforms)
    base_path: Path | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A field the product adds to one service's type, resolved by another service's operation, so that two services
    that share no entity are joined without changing either (GraphQL Mesh's additional resolvers, Hasura's remote
    relationships): ``Loan.member`` is ``member(id: <the loan's memberId>)`` of the members service.

    ``type_name``, ``operation`` and the fields named in ``arguments`` are product names (after transforms).
    ``operation`` is a Query field of ``service`` (for an OpenAPI service, the field bound to the operation, or its
    operationId). ``arguments`` maps each argument of the operation to the field of ``type_name`` that gives its
    value. With one argument that is a list, the call is batched: the values of every object at once, and the
    results in the same order. The new field's type is the operation's (its item type when batched).
    """

    type_name: str
    field: str
    service: str
    operation: str
    arguments: Mapping[str, str]
    description: str | None = None
    # The type the new field returns (its named type, e.g. ``Member``), checked against the operation's when given.
    returns: str | None = None


@dataclass(frozen=True, slots=True)
class Stitching:
    """What a product says about the composition of its sources as a whole.

    ``prefer``: type (product name) -> the service whose definition of that shared type wins: where the services'
    definitions of a field differ, that service's is the product's and the others stop resolving the field; an enum,
    input, union or scalar is that service's definition. ``links``: fields joining services (:class:`Link`).
    """

    prefer: Mapping[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
