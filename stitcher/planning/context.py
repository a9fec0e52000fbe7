"""What the planner reads: the operation (field collection), the supergraph's join information, internal aliases
and result shapes. :class:`~stitcher.planning.planner.Planner` builds the fetches on top of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    get_named_type,
    is_composite_type,
    is_leaf_type,
    parse,
)

from stitcher.ir import FieldJoin, SourceKind, Supergraph, TypeJoin
from stitcher.planning.fieldsets import (
    field_tree,
)
from stitcher.planning.model import (
    INTERNAL_PREFIX,
    K_COMPOSITE,
    K_LEAF,
    FetchNode,
    ObjectShape,
    PlanningError,
    ShapeField,
    TypeShape,
)
from stitcher.planning.operation import included, internal_variables, printed_directives


class PlanningContext:
    """One operation over one supergraph: field collection, join lookups, aliases and shapes (no fetches)."""

    def __init__(
        self,
        supergraph: Supergraph,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        conditions: Mapping[str, bool],
        prefix: str = INTERNAL_PREFIX,
    ) -> None:
        self.sg = supergraph
        self.prefix = prefix
        self.reps_variable, self.key_variable = internal_variables(prefix)
        self.schema: GraphQLSchema = supergraph.schema
        # Keys and @requires may name @inaccessible fields: the gateway fetches them, the client never sees them.
        self.full_schema: GraphQLSchema = supergraph.full_schema or supergraph.schema
        self.operation = operation
        self.fragments = fragments
        self.conditions = conditions
        self.variable_defs: dict[str, VariableDefinitionNode] = {
            d.variable.name.value: d for d in operation.variable_definitions or ()
        }
        self.fetch_count = 0
        self._entity_nodes: dict[tuple[int, tuple[Any, ...], str, frozenset[int], int], FetchNode] = {}
        self._typename_nodes: dict[tuple[int, tuple[str, ...]], FetchNode] = {}
        self._key_cache: dict[tuple[str, str], SelectionSetNode] = {}
        # Internal aliases of fields fetched with arguments: one alias per distinct argument list of a field.
        self._argument_aliases: dict[tuple[str, str], str] = {}
        # Aliases of fields whose type in the subgraph differs in shape from the supergraph's: (key, shape) -> alias.
        self._typed_aliases: dict[tuple[str, str], str] = {}
        # (source, type, field) being fetched as internal fields right now: a cycle is reported, never recursed.
        self._internal_stack: set[tuple[str, str, str]] = set()
        self._frames: list[Any] = []  # fields being planned in place, innermost last (``planner._Frame``)
        # The fetch, subgraph, selection and paths of the object an entity fetch being planned completes.
        self._entity_source: tuple[Any, str, Any, Any, Any] | None = None
        self._directive_owners: dict[str, frozenset[str]] = {}

    def collect(
        self,
        selection_set: SelectionSetNode,
        runtime: GraphQLObjectType,
        out: dict[str, list[FieldNode]],
        seen: set[str],
    ) -> dict[str, list[FieldNode]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if included(selection, self.conditions):
                    key = selection.alias.value if selection.alias else selection.name.value
                    out.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if included(selection, self.conditions) and self._applies(
                    selection.type_condition.name.value if selection.type_condition else None, runtime
                ):
                    self.collect(selection.selection_set, runtime, out, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen or not included(selection, self.conditions):
                    continue
                if self._applies(fragment.type_condition.name.value, runtime):
                    seen.add(name)
                    self.collect(fragment.selection_set, runtime, out, seen)
        return out

    def _applies(self, condition: str | None, runtime: GraphQLObjectType) -> bool:
        if condition is None or condition == runtime.name:
            return True
        target = self.full_schema.get_type(condition)
        return isinstance(target, GraphQLAbstractType) and self.full_schema.is_sub_type(target, runtime)

    def sub_fields(self, nodes: list[FieldNode], runtime: GraphQLObjectType) -> dict[str, list[FieldNode]]:
        out: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node.selection_set is not None:
                self.collect(node.selection_set, runtime, out, set())
        return out

    def forwards_directive(self, subgraph: str, name: str) -> bool:
        """Whether the client's executable directive ``@name`` goes to ``subgraph``: it defines the directive in its
        own schema. When no subgraph schema defines it (a supergraph loaded from SDL keeps no subgraph's directive
        definitions), every GraphQL subgraph does, as Apollo composes an executable directive into the supergraph
        only when all subgraphs define it."""
        owners = self._directive_owners.get(name)
        if owners is None:
            graphql = {g: s for g, s in self.sg.subgraphs.items() if s.kind is not SourceKind.OPENAPI}
            defining = frozenset(
                g for g, s in graphql.items() if s.schema is not None and s.schema.get_directive(name) is not None
            )
            owners = self._directive_owners[name] = defining or frozenset(graphql)
        return subgraph in owners

    def field_directives(self, subgraph: str, type_name: str, node: FieldNode, used: set[str]) -> str:
        """The client's executable directives on a field, printed for ``subgraph``, which resolves it. A directive
        that subgraph does not define cannot be honoured there: a planning error rather than a silent drop (a shared
        root field then goes to a subgraph that defines it)."""
        if not node.directives:
            return ""
        for directive in node.directives:
            name = directive.name.value
            if name not in ("skip", "include") and not self.forwards_directive(subgraph, name):
                owners = sorted(self._directive_owners.get(name, ()))
                raise PlanningError(
                    f"@{name} on {type_name}.{node.name.value} cannot be honoured: subgraph {subgraph!r}, which "
                    f"resolves the field, does not define @{name} (defined by {', '.join(map(repr, owners))})"
                )
        return printed_directives(node.directives, used, lambda name: True)

    def operation_directives(self, subgraph: str, used: set[str]) -> str:
        """The operation's executable directives (``query @inContext(country: DE)``) that ``subgraph`` defines,
        printed for each of its upstream documents (root and entity fetches alike)."""
        if not self.operation.directives:
            return ""
        return printed_directives(self.operation.directives, used, lambda name: self.forwards_directive(subgraph, name))

    def joins(self, type_name: str, field_name: str) -> tuple[FieldJoin, ...]:
        return self.sg.fields.get((type_name, field_name), ())

    def local_join(
        self,
        subgraph: str,
        type_name: str,
        field_name: str,
        provided: dict[str, Any] | None,
        entity_root: bool = False,
    ) -> bool:
        """Whether ``subgraph`` resolves the field in place at this position: not external (unless @provides'd),
        and without @requires unless this is the object of an entity fetch (whose representation carries them)."""
        if provided is not None and field_name in provided and self.defines(subgraph, type_name):
            return True
        join = self.join_of(subgraph, type_name, field_name)
        if join is None:
            return False
        if join.requires:
            return entity_root
        return not join.external

    def join_of(self, subgraph: str, type_name: str, field_name: str) -> FieldJoin | None:
        """How ``subgraph`` resolves the field; for an implementation it knows only through an @interfaceObject,
        the interface object's field (which carries its @requires and @external)."""
        interface = self.interface_object(subgraph, type_name)
        for join in self.joins(interface or type_name, field_name):
            if join.graph == subgraph:
                return join
        return None

    def defines(self, subgraph: str, type_name: str) -> bool:
        return any(join.graph == subgraph for join in self.sg.types.get(type_name, ()))

    def upstream_type(self, subgraph: str, type_name: str) -> str:
        return self.sg.subgraphs[subgraph].renames.upstream_type(type_name)

    def upstream_field(self, subgraph: str, type_name: str, field_name: str) -> str:
        renames = self.sg.subgraphs[subgraph].renames
        if (type_name, field_name) not in renames.fields:
            interface = self.interface_object(subgraph, type_name)  # the subgraph knows only the interface object
            if interface is not None:
                type_name = interface
        return renames.upstream_field(type_name, field_name)

    def key_selection(self, type_name: str, fields: str) -> SelectionSetNode:
        cached = self._key_cache.get((type_name, fields))
        if cached is None:
            operation = parse("{" + fields + "}", no_location=True).definitions[0]
            assert isinstance(operation, OperationDefinitionNode)
            cached = self._key_cache[(type_name, fields)] = operation.selection_set
        return cached

    def type_shape(self, type_: GraphQLOutputType, object_shape: ObjectShape | None) -> TypeShape:
        nonnull = isinstance(type_, GraphQLNonNull)
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if isinstance(inner, GraphQLList):
            return ("l", nonnull, self.type_shape(inner.of_type, object_shape))
        if is_leaf_type(inner):
            return ("s", nonnull, self.shown_values(inner))
        return ("o", nonnull, object_shape)

    def shown_values(self, type_: Any) -> frozenset[str] | None:
        """The values a client may see of an enum some of whose values are @inaccessible (a subgraph may still
        return those: they come out as null), or None when every value is shown (nothing to check)."""
        named = get_named_type(type_)
        if not isinstance(named, GraphQLEnumType) or self.full_schema is self.schema:
            return None
        full = self.full_schema.get_type(named.name)
        if not isinstance(full, GraphQLEnumType) or len(full.values) == len(named.values):
            return None
        return frozenset(named.values)

    def local_field_type(self, subgraph: str, type_name: str, field_name: str) -> GraphQLNamedType | None:
        """The named type of a field in the subgraph's own schema (None when that schema is not known)."""
        own = self.sg.subgraphs[subgraph].schema
        if own is None or self.sg.subgraphs[subgraph].kind is not SourceKind.FEDERATION:
            return None
        owner = own.get_type(type_name)
        definition = getattr(owner, "fields", {}).get(field_name)
        return get_named_type(definition.type) if definition is not None else None

    def field_definition(self, parent: GraphQLObjectType, name: str) -> GraphQLField | None:
        """The field in the API schema, or in the full schema when it is @inaccessible (internal fields only)."""
        definition: GraphQLField | None = parent.fields.get(name)
        if definition is None and self.full_schema is not self.schema:
            full = self.full_schema.get_type(parent.name)
            if isinstance(full, GraphQLObjectType):
                definition = full.fields.get(name)
        return definition

    def internal_alias(self, name: str, arguments: str) -> str:
        """``<prefix><name>``, with a number when the field is fetched with arguments (two requirements may ask for
        the same field with different arguments: each needs its own response key)."""
        if not arguments:
            return self.prefix + name
        alias = self._argument_aliases.get((name, arguments))
        if alias is None:
            alias = self._argument_aliases[(name, arguments)] = f"{self.prefix}{name}_{len(self._argument_aliases)}"
        return alias

    def field_shape(self, key: str, definition: GraphQLField, read: str | None = None) -> ShapeField:
        """The shape of a leaf, or a placeholder for a field resolved elsewhere (``plan_entity`` fills the object
        shape in). ``read``: the field's key in the upstream result when the selection aliased it."""
        named = get_named_type(definition.type)
        if is_leaf_type(named) and not isinstance(
            definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type, GraphQLList
        ):
            nonnull = isinstance(definition.type, GraphQLNonNull)
            return (key, K_LEAF, nonnull, self.shown_values(definition.type), read or key)
        object_shape = ObjectShape(None) if is_composite_type(named) else None
        return (key, K_COMPOSITE, False, self.type_shape(definition.type, object_shape), read or key)

    def type_signature(self, type_text: str) -> str:
        """A printed type as far as response shapes go: list and non-null wrappers, and the name of a scalar or an
        enum (object, interface and union types merge whatever their names)."""
        name = type_text.strip("[]!")
        if is_composite_type(self.full_schema.get_type(name)):
            return type_text.replace(name, "_")
        return type_text

    def read_key(self, subgraph: str, type_name: str, field_name: str, key: str, definition: GraphQLField) -> str:
        """The response key of a field in ``subgraph``'s selection: ``key`` itself, or an alias when the field's
        type there has another shape than in the supergraph (``ID!`` where the supergraph says ``ID``). Sibling
        fragments (``... on User { id } ... on Admin { id }``) would otherwise hold one response key with two types,
        which the subgraph refuses ("fields conflict"); one alias per (key, shape) keeps them apart."""
        join = self.join_of(subgraph, type_name, field_name)
        if join is None or join.type is None:
            return key
        own = self.type_signature(join.type)
        if own == self.type_signature(str(definition.type)):
            return key
        alias = self._typed_aliases.get((key, own))
        if alias is None:
            # ``__`` cannot start a field name, so no internal alias (prefix + field name) can be the same.
            alias = self._typed_aliases[(key, own)] = f"{self.prefix}__{len(self._typed_aliases)}_{key}"
        return alias

    def provided_for(
        self, subgraph: str, type_name: str, field_name: str, provided: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if provided is not None and field_name in provided:
            nested: dict[str, Any] | None = provided[field_name]
            return nested
        for join in self.joins(type_name, field_name):
            if join.graph == subgraph and join.provides:
                return field_tree(self.key_selection("", join.provides))
        return None

    def typename_source(
        self, subgraph: str, interface: str, provided: dict[str, Any] | None
    ) -> tuple[TypeJoin, list[FieldNode]] | None:
        """A subgraph that can tell the concrete type of ``interface`` objects ``subgraph`` returns: it defines the
        interface (not as an interface object) with implementations and a resolvable key ``subgraph`` gives."""
        named = self.full_schema.get_type(interface)
        assert isinstance(named, GraphQLAbstractType)
        possible = self.full_schema.get_possible_types(named)
        for join in self.sg.types.get(interface, ()):
            if (
                join.is_interface_object
                or not join.key
                or not join.resolvable
                or self.sg.subgraphs[join.graph].kind is not SourceKind.FEDERATION
                or not any(self.defines(join.graph, t.name) for t in possible)
            ):
                continue
            key_fields = [f for f in self.key_selection(interface, join.key).selections if isinstance(f, FieldNode)]
            if all(self.local_join(subgraph, interface, f.name.value, provided) for f in key_fields):
                return join, key_fields
        return None

    def interface_object(self, target: str, parent: GraphQLObjectType | str) -> str | None:
        """The interface of ``parent`` that ``target`` defines as an ``@interfaceObject`` (it resolves ``parent``'s
        fields through that interface's key, with ``__typename`` the interface), or None."""
        if not self.sg.subgraphs[target].interface_objects:
            return None
        if isinstance(parent, str):
            named = self.schema.get_type(parent)
            if not isinstance(named, GraphQLObjectType):
                return None
            parent = named
        if self.defines(target, parent.name):
            return None
        for interface in parent.interfaces:
            name: str = interface.name
            if any(j.graph == target and j.is_interface_object for j in self.sg.types.get(name, ())):
                return name
        return None

    def choose_key(self, source: str, target: str, type_name: str, key_type: str | None = None) -> str | None:
        """A resolvable key of ``key_type`` (default ``type_name``) in ``target``, preferably one whose fields
        ``source`` resolves itself on ``type_name``."""
        joins = self.sg.types.get(key_type or type_name, ())
        keys = [j.key for j in joins if j.graph == target and j.key and j.resolvable]
        if not keys:
            return None
        for key in keys:
            selection = self.key_selection(type_name, key)
            if all(
                self.local_join(source, type_name, f.name.value, None)
                for f in selection.selections
                if isinstance(f, FieldNode)
            ):
                return key
        return keys[0]
