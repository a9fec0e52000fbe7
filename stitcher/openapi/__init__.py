"""OpenAPI 2.0 (Swagger), 3.0 and 3.1 documents as GraphQL subgraphs.

:func:`subgraph_from_openapi` turns a REST service's description into a :class:`~stitcher.ir.Subgraph` whose schema
is always a valid GraphQL schema and whose :class:`~stitcher.ir.RestBinding` tells :mod:`stitcher.rest` how to build
requests and shape responses. Decisions worth knowing:

* GET and HEAD operations become ``Query`` fields, every other method a ``Mutation`` field. The field is named by
  the operationId in camelCase (``list_books`` -> ``listBooks``), else by method and path
  (``GET /books/{isbn}`` -> ``getBooksByIsbn``); names are claimed in document order, operationIds first, so a new
  operation never renames an existing one. Root fields are nullable: a failed fetch is ``null`` plus an error.
* The field's type is the schema of the lowest 2xx response that has content (``default`` when there is no 2xx);
  when 2xx responses have different object schemas, a union of them resolved by the answer's status code
  (``StartJobResponses = Job | Ticket``), and ``JSON`` (with a warning) when they are not all objects. A success
  without content (204) among others is ``null``.
  An operation whose success has no content (204, HEAD, no schema) returns ``Boolean``: ``true`` on success.
* Parameters become arguments (sanitized camelCase names; :class:`~stitcher.ir.RestParameter` keeps the original),
  the request body the argument ``input``. ``Accept``, ``Content-Type`` and ``Authorization`` header parameters are
  left to the gateway, as OpenAPI 3 says. Arrays and objects are sent as their ``style``/``explode`` (``simple``,
  ``label``, ``matrix`` in a path; ``form``, ``spaceDelimited``, ``pipeDelimited``, ``deepObject`` in a query) or
  Swagger ``collectionFormat`` (``csv``, ``ssv``, ``tsv``, ``pipes``, ``multi``) say, as OpenAPI's style table
  writes them, each item percent-encoded on its own (reserved characters kept with ``allowReserved``;
  :mod:`stitcher.rest`); a style the parameter's location does not take is its default, with a warning. An
  argument has a default only where the description declares one that fits its type; a parameter the client leaves
  out without one is not sent.
* Object schemas become object types (output) and input object types (input, named ``<Name>Input``), named after
  their component/definition or, when inline, after where they appear (``PlaceHoldInput``, ``BookFormat``).
  ``readOnly`` properties are left out of input types and ``writeOnly`` ones out of output types. ``allOf`` merges
  its members; ``oneOf``/``anyOf`` of objects becomes a union resolved by the discriminator (explicit mapping, then
  Azure's ``x-ms-discriminator-value``, then a single-valued ``enum``/``const`` of the discriminator property, then
  schema names) or, without one, by the properties present (see :func:`stitcher.rest.shape_result`). A base schema
  with a ``discriminator`` that other schemas extend through ``allOf``, directly or through another subtype
  (Swagger's and Azure's inheritance), becomes an interface that they implement; when answers of the base's own kind
  exist (its ``x-ms-discriminator-value``, a mapping entry naming it, or, without a mapping, its own name, which
  Swagger 2 and OpenAPI 3's implicit mapping make a valid value) an object type ``<Base>Object`` implements it too.
  In input, both are ``@oneOf`` input objects with one field per member (``{cat: {...}}``, the concrete base one
  more), each member's discriminator property defaulting to the value that names it. Recursive schemas are
  recursive types. A property is non-null when it is required and not nullable; list items are non-null unless
  nullable. ``integer`` with ``format: int64`` is the ``BigInt`` scalar (GraphQL ``Int`` is 32-bit).
* Property, parameter and enum names that are valid GraphQL names are kept as they are and win over sanitized ones
  (``type`` stays, ``@type`` becomes ``type2``); ``RestBinding.json_names`` lists only the renamed ones.
* String enums become enum types; a value that is not a valid GraphQL name is sanitized (``in-progress`` ->
  ``in_progress``) and mapped back through ``RestBinding.enum_values``. Enum values' internal values are their
  GraphQL names. Numeric enums are just ``Int``/``Float``.
* Whatever cannot be typed (free-form objects, ``additionalProperties`` maps, mixed primitive unions, unresolvable
  or refused ``$ref``) becomes the ``JSON`` scalar and adds a warning to ``Subgraph.warnings``. Only a document
  that is not OpenAPI at all raises :class:`~stitcher.errors.SchemaError`.
* A path template parameter that is not declared becomes a required ``String`` argument (with a warning). A spec
  with no GET operation gets a placeholder ``Query._empty: Boolean`` (GraphQL needs a query type).
* Paths in :class:`~stitcher.ir.RestOperation` include Swagger's ``basePath`` or the path of the first
  ``servers`` URL, so the service URL is just scheme, host and port.

One module per concept: :mod:`~stitcher.openapi.names` (GraphQL names), :mod:`~stitcher.openapi.context` (where a
schema is: every cache is keyed by document and JSON pointer), :mod:`~stitcher.openapi.classification` (what a
schema is, as a :class:`Kind`), :mod:`~stitcher.openapi.leaves` (scalars, enums),
:mod:`~stitcher.openapi.outputs` and :mod:`~stitcher.openapi.inputs` (object, union, interface and input types),
:mod:`~stitcher.openapi.operations` (root fields and REST operations), :mod:`~stitcher.openapi.entities`, and
:mod:`~stitcher.openapi.description` (the operations as OpenAPI 3.1, for the REST surface's ``openapi.json``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from graphql import GraphQLBoolean, GraphQLField, GraphQLObjectType, GraphQLSchema, validate_schema

from stitcher._jsonref import load_text
from stitcher.errors import SchemaError
from stitcher.ir import SourceKind, Subgraph
from stitcher.openapi.classification import Classifier, Kind, Prop
from stitcher.openapi.context import Context, Location, Node, detect_version
from stitcher.openapi.entities import bind_entities
from stitcher.openapi.inputs import InputTypes
from stitcher.openapi.leaves import BIG_INT, JSON_SCALAR, Leaves
from stitcher.openapi.names import camel_name, enum_value_name, field_name, pascal_name, type_name
from stitcher.openapi.operations import Operations
from stitcher.openapi.outputs import OutputTypes
from stitcher.sources import SourceSpec

__all__ = [
    "BIG_INT",
    "JSON_SCALAR",
    "Kind",
    "Location",
    "Node",
    "Prop",
    "camel_name",
    "enum_value_name",
    "field_name",
    "pascal_name",
    "subgraph_from_openapi",
    "type_name",
]


def subgraph_from_openapi(spec: SourceSpec, translated: Subgraph | None = None) -> Subgraph:
    """Translate ``spec.schema`` (OpenAPI 2.0/3.0/3.1, JSON or YAML) into a REST-bound subgraph.

    ``translated`` is a translation of the same document made before without entities (a publishing check's): it
    is not translated again, and a copy of it gets ``spec.entities`` and ``spec.url`` (it is left as it was).

    Raises :class:`~stitcher.errors.SchemaError` when the text is not an OpenAPI document or when ``spec.entities``
    does not fit the operations; everything else degrades to ``JSON`` plus a warning.
    """
    if translated is not None:
        return _with_entities(spec, translated)
    try:
        document = load_text(spec.schema)
    except ValueError as exc:
        raise SchemaError(f"cannot parse the OpenAPI document: {exc}", service=spec.name) from exc
    swagger = detect_version(document, spec.name)
    context = Context(spec, cast(dict[str, Any], document), swagger)
    classifier = Classifier(context)
    leaves = Leaves(context)
    outputs = OutputTypes(context, classifier, leaves)
    operations = Operations(context, outputs, InputTypes(context, classifier, leaves))
    operations.translate()
    outputs.finish_interfaces()
    query_fields = operations.query_fields
    if not query_fields:
        context.warn("no GET operation: Query has only the placeholder field `_empty`")
        query_fields = {"_empty": GraphQLField(GraphQLBoolean, description="Placeholder: always null.")}
    query = GraphQLObjectType("Query", query_fields)
    mutation = GraphQLObjectType("Mutation", operations.mutation_fields) if operations.mutation_fields else None
    schema = GraphQLSchema(query=query, mutation=mutation, types=outputs.extra_types)
    errors = validate_schema(schema)
    if errors:  # a translation bug, not the user's fault: say so plainly
        details = "; ".join(e.message for e in errors[:5])
        raise SchemaError(f"the OpenAPI translation produced an invalid GraphQL schema ({details})", service=spec.name)
    subgraph = Subgraph(
        name=spec.name,
        kind=SourceKind.OPENAPI,
        schema=schema,
        url=spec.url,
        rest=context.binding,
        warnings=context.warnings,
    )
    bind_entities(subgraph, context.binding, operations.query_fields, spec.name, spec.entities)
    return subgraph


def _with_entities(spec: SourceSpec, translated: Subgraph) -> Subgraph:
    assert translated.kind is SourceKind.OPENAPI and translated.rest is not None and translated.schema is not None
    assert not translated.keys and not translated.resolvers, "a translation handed over is one without entities"
    subgraph = dataclasses.replace(
        translated, name=spec.name, url=spec.url, keys={}, resolvers={}, warnings=list(translated.warnings)
    )
    query_fields = translated.schema.query_type.fields if translated.schema.query_type is not None else {}
    bind_entities(subgraph, translated.rest, query_fields, spec.name, spec.entities)
    return subgraph
