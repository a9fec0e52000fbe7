"""The planner proper: which subgraph resolves each field, and the entity fetches between them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    print_ast,
)

from stitcher.ir import EntityResolver, FieldJoin, SourceKind, Subgraph, Supergraph
from stitcher.planning.model import (
    INTERNAL_PREFIX,
    K_COMPOSITE,
    K_LEAF,
    K_TYPENAME,
    CutTree,
    EntityTarget,
    FetchNode,
    FieldTree,
    ObjectShape,
    PlanningError,
    Selection,
    ShapeField,
    TypeShape,
)
from stitcher.planning.operation import included, internal_variables, printed_arguments


class Planner:
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

    # -- field collection (GraphQL spec CollectFields, merging sub-selections by response key) --

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

    # -- join information --

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

    # -- shapes --

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

    # -- planning --

    def plan_object(
        self,
        node: FetchNode,
        subgraph: str,
        parent: GraphQLObjectType,
        fields: dict[str, list[FieldNode]],
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        provided: dict[str, Any] | None,
        entity_path: tuple[tuple[str, frozenset[str] | None], ...],
        entity_root: bool = False,
    ) -> tuple[ShapeField, ...]:
        """Plan the fields of one object of type ``parent`` that ``subgraph`` returns inside ``node``.

        ``selection`` receives what ``subgraph`` can resolve; other fields become entity fetches, children of
        ``node``. ``entity_path`` is where those fetches find the objects (``path`` with the last step unfiltered).
        """
        shape: list[ShapeField] = []
        remote: dict[str, dict[str, list[FieldNode]]] = {}
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                shape.append((key, K_TYPENAME, True, None, key))
                continue
            definition = self.field_definition(parent, name)
            if definition is None:
                raise PlanningError(f"Cannot query field {name!r} on type {parent.name!r}")
            if self.local_join(subgraph, parent.name, name, provided, entity_root):
                shape.append(self.plan_field(node, subgraph, parent, key, nodes, definition, selection, path, provided))
                continue
            candidates = [j for j in self.joins(parent.name, name) if not j.external]
            if not candidates:
                raise PlanningError(f"No subgraph resolves {parent.name}.{name}")
            candidates.sort(key=lambda j: (j.graph not in remote, j.requires is not None))
            chosen = candidates[0].graph
            remote.setdefault(chosen, {})[key] = nodes
            shape.append(self.field_shape(key, definition))
        for target_graph, group in remote.items():
            self.plan_entity(node, subgraph, target_graph, parent, group, selection, entity_path, path, shape)
        return tuple(shape)

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

    def plan_field(
        self,
        node: FetchNode,
        subgraph: str,
        parent: GraphQLObjectType,
        key: str,
        nodes: list[FieldNode],
        definition: GraphQLField,
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        provided: dict[str, Any] | None,
    ) -> ShapeField:
        name = nodes[0].name.value
        arguments = printed_arguments(nodes[0], node.used_variables)
        named = get_named_type(definition.type)
        upstream_name = self.upstream_field(subgraph, parent.name, name)
        composite = is_composite_type(named)
        read = self.read_key(subgraph, parent.name, name, key, definition)
        item = selection.field(read, upstream_name, arguments, composite)
        if not composite:
            return self.field_shape(key, definition, read)
        assert item.selection is not None
        sub_provided = self.provided_for(subgraph, parent.name, name, provided)
        object_shape = self.plan_composite(
            node,
            subgraph,
            named,
            nodes,
            item.selection,
            (*path, (read, None)),
            sub_provided,
            self.local_field_type(subgraph, parent.name, name),
        )
        return (key, K_COMPOSITE, False, self.type_shape(definition.type, object_shape), read)

    def provided_for(
        self, subgraph: str, type_name: str, field_name: str, provided: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if provided is not None and field_name in provided:
            nested: dict[str, Any] | None = provided[field_name]
            return nested
        for join in self.joins(type_name, field_name):
            if join.graph == subgraph and join.provides:
                return _field_tree(self.key_selection("", join.provides))
        return None

    def plan_composite(
        self,
        node: FetchNode,
        subgraph: str,
        named: GraphQLNamedType,
        nodes: list[FieldNode],
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        provided: dict[str, Any] | None,
        local: GraphQLNamedType | None = None,
    ) -> ObjectShape:
        """``local`` is the field's type in the subgraph's own schema when known: an abstract position may be a
        concrete type there (no fragments then), or an interface with fewer implementations there."""
        if isinstance(named, GraphQLObjectType):
            fields = self.sub_fields(nodes, named)
            shape = ObjectShape(named.name)
            shape.fields = self.plan_object(node, subgraph, named, fields, selection, path, provided, path)
            return shape
        assert isinstance(named, GraphQLAbstractType)
        if named.name in self.sg.subgraphs[subgraph].interface_objects:
            return self.plan_interface_object(node, subgraph, named, nodes, selection, path, provided)
        selection.typename = True
        shape = ObjectShape(None)
        # Types hidden by @inaccessible are planned too (a requirement may select them), but the shape leaves them
        # out: such an object reaches the client as null.
        full = self.full_schema.get_type(named.name)
        assert isinstance(full, GraphQLAbstractType)
        own = self.sg.subgraphs[subgraph].schema
        for possible in self.full_schema.get_possible_types(full):
            if not self.defines(subgraph, possible.name):
                continue  # this subgraph never returns that type here
            if own is not None and local is not None:
                if isinstance(local, GraphQLObjectType):
                    if local.name != possible.name:
                        continue  # the subgraph's field has this one concrete type
                else:
                    there = own.get_type(possible.name)
                    if not isinstance(there, GraphQLObjectType) or not own.is_sub_type(local, there):  # type: ignore[arg-type]
                        continue  # an implementation (member) that exists only in other subgraphs
            fields = self.sub_fields(nodes, possible)
            typed_path = (*path[:-1], (path[-1][0], frozenset({possible.name})))
            if isinstance(local, GraphQLObjectType):
                fragment = selection
            else:
                fragment = selection.fragment(self.upstream_type(subgraph, possible.name))
            planned = self.plan_object(node, subgraph, possible, fields, fragment, typed_path, provided, path)
            if possible.name not in self.sg.inaccessible:
                shape.by_type[possible.name] = planned
        return shape

    def plan_interface_object(
        self,
        node: FetchNode,
        subgraph: str,
        interface: GraphQLAbstractType,
        nodes: list[FieldNode],
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        provided: dict[str, Any] | None,
    ) -> ObjectShape:
        """Objects of interface ``interface`` returned by its ``@interfaceObject`` subgraph carry no concrete type.
        A typename fetch (``_entities`` with ``... on I { __typename }`` to a subgraph defining the interface) gets
        it; the fields are then planned per implementation as usual, and every fetch they need runs after it."""
        name = interface.name
        registry_key = (id(node), tuple(step[0] for step in path))
        typename_fetch = self._typename_nodes.get(registry_key)
        if typename_fetch is not None:  # the same position below objects of another type: one fetch serves both
            typename_fetch.path = _union_paths(typename_fetch.path, path)
        else:
            typename_fetch = self.typename_fetch(subgraph, name, selection, path, provided)
            self._typename_nodes[registry_key] = typename_fetch
            node.children.append(typename_fetch)
            self.fetch_count += 1
        # Every fetch planned for these objects needs their concrete type: it becomes a child of the typename fetch
        # (fetches planned here before are found again by plan_entity and are its children already).
        earlier = node.children
        node.children = []
        shape = ObjectShape(None)
        for possible in self.schema.get_possible_types(interface):
            typed_path = (*path[:-1], (path[-1][0], frozenset({possible.name})))
            fields = self.sub_fields(nodes, possible)
            shape.by_type[possible.name] = self.plan_object(
                node, subgraph, possible, fields, selection, typed_path, provided, path
            )
        typename_fetch.children.extend(node.children)
        node.children = earlier
        return shape

    def typename_fetch(
        self,
        subgraph: str,
        interface: str,
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        provided: dict[str, Any] | None,
    ) -> FetchNode:
        """``_entities`` with ``... on I { __typename }`` to a subgraph that defines the interface ``I`` with a
        resolvable key that ``subgraph`` (the interface object's) gives; the key goes into ``selection``."""
        for join in self.sg.types.get(interface, ()):
            if (
                join.is_interface_object
                or not join.key
                or not join.resolvable
                or self.sg.subgraphs[join.graph].kind is not SourceKind.FEDERATION
            ):
                continue
            key_fields = [f for f in self.key_selection(interface, join.key).selections if isinstance(f, FieldNode)]
            if not all(self.local_join(subgraph, interface, f.name.value, provided) for f in key_fields):
                continue
            representation: list[tuple[str, str]] = []
            for key_field in key_fields:
                field_name = key_field.name.value
                alias = self.prefix + field_name
                upstream = self.upstream_field(subgraph, interface, field_name)
                item = selection.field(alias, upstream, "", key_field.selection_set is not None)
                if key_field.selection_set is not None and item.selection is not None:
                    _copy_plain(key_field.selection_set, item.selection, set())
                representation.append((field_name, alias))
            fetch = FetchNode(join.graph, "entity", "query", path=path, default_type=interface)
            fetch.targets[interface] = EntityTarget(
                interface, self.upstream_type(join.graph, interface), tuple(representation), Selection(typename=True)
            )
            return fetch
        raise PlanningError(
            f"Subgraph {subgraph!r} returns {interface} as an @interfaceObject, and no subgraph defines the interface "
            f"{interface} with a resolvable @key that {subgraph!r} gives, so the concrete type cannot be found"
        )

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

    def plan_entity(
        self,
        parent_node: FetchNode,
        source: str,
        target: str,
        parent: GraphQLObjectType,
        group: dict[str, list[FieldNode]],
        source_selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        typed_path: tuple[tuple[str, frozenset[str] | None], ...],
        shape: list[ShapeField],
        part: int = 0,
    ) -> None:
        parts = self.requirement_parts(target, parent.name, group)
        if len(parts) > 1:  # requirements that ask for one field with different arguments go in separate fetches
            for index, sub_group in enumerate(parts):
                self.plan_entity(
                    parent_node, source, target, parent, sub_group, source_selection, path, typed_path, shape, index
                )
            return
        subgraph = self.sg.subgraphs[target]
        resolver = subgraph.resolvers.get(parent.name) or subgraph.resolvers.get(
            subgraph.renames.upstream_type(parent.name)
        )
        needed: list[tuple[str, str]] = []  # (representation name, field set to fetch into the source object)
        interface = self.interface_object(target, parent) if subgraph.kind is SourceKind.FEDERATION else None
        if subgraph.kind is SourceKind.FEDERATION or resolver is None:
            key = self.choose_key(source, target, parent.name, interface)
            if key is None:
                raise PlanningError(
                    f"{parent.name} fields {sorted(group)} live in subgraph {target!r}, which has no resolvable key "
                    f"for {parent.name}"
                )
            key_fields = key
        else:
            key_fields = resolver.key
        requires = [
            join.requires
            for key_ in group
            if (join := self.join_of(target, parent.name, group[key_][0].name.value)) is not None and join.requires
        ]
        dependencies: list[FetchNode] = []
        trees: dict[tuple[str, str], CutTree] = {}
        for field_set in (key_fields, *requires):
            for selection_node in self.key_selection(parent.name, field_set).selections:
                if not isinstance(selection_node, FieldNode):
                    continue
                field_name = selection_node.name.value
                before, read_key, planned = self.plan_internal(
                    parent_node, source, parent, selection_node, source_selection, path
                )
                needed.append((field_name, read_key))
                if planned is not None:
                    trees[(field_name, read_key)] = planned
                elif selection_node.selection_set is not None:
                    trees[(field_name, read_key)] = _names_cut(_field_tree(selection_node.selection_set))
                dependencies.extend(d for d in before if d not in dependencies)
        representation = tuple(dict.fromkeys(needed))
        cuts = tuple((i, trees[entry]) for i, entry in enumerate(representation) if entry in trees)
        dependency_ids = frozenset(id(d) for d in dependencies)
        registry_key = (id(parent_node), tuple(step[0] for step in path), target, dependency_ids, part)
        node = self._entity_nodes.get(registry_key)
        if node is None:
            node = FetchNode(target, "entity", "query", path=path)
            node.depends_on.extend(dependencies)
            self._entity_nodes[registry_key] = node
            parent_node.children.append(node)
            self.fetch_count += 1
        else:  # the same fetch below objects of another type (``... on A { x { y } } ... on B { x { y } }``)
            node.path = _union_paths(node.path, path)
        if len(node.targets) == 0:
            node.default_type = parent.name
        elif node.default_type != parent.name:
            node.default_type = None
        entity_target = node.targets.get(parent.name)
        if entity_target is None:
            argument_type = ""
            key_types: tuple[str, ...] = ()
            if resolver is not None and subgraph.kind is SourceKind.GRAPHQL and subgraph.schema is not None:
                if resolver.argument:
                    argument_type = resolver_argument_type(subgraph, resolver, resolver.argument)
                else:
                    key_types = tuple(resolver_argument_type(subgraph, resolver, a) for a in resolver.key_arguments)
            entity_target = EntityTarget(
                parent.name,
                # An @interfaceObject is asked for with the interface's name as __typename (Apollo's semantics).
                self.upstream_type(target, interface or parent.name),
                representation,
                Selection(),
                resolver if subgraph.kind is not SourceKind.FEDERATION else None,
                argument_type,
                key_types,
                cuts,
            )
            node.targets[parent.name] = entity_target
        fields = self.plan_object(node, target, parent, group, entity_target.selection, typed_path, None, path, True)
        # Fill the placeholders ``plan_object`` left in the parent's shape with the entity fetch's shapes.
        by_key = {f[0]: f for f in fields}
        for index, existing in enumerate(shape):
            replacement = by_key.get(existing[0])
            if replacement is not None and existing[0] in group:
                shape[index] = replacement

    def requirement_parts(
        self, target: str, type_name: str, group: dict[str, list[FieldNode]]
    ) -> list[dict[str, list[FieldNode]]]:
        """Split ``group`` so that no two of its fields require one field with different arguments: a
        representation has one value per field name (``price(currency: "USD")`` and ``price(currency: "EUR")``
        cannot both be ``price``)."""
        parts: list[tuple[dict[str, list[FieldNode]], dict[str, str]]] = []
        for key, nodes in group.items():
            wanted: dict[str, str] = {}
            join = self.join_of(target, type_name, nodes[0].name.value)
            if join is not None and join.requires:
                for item in self.key_selection(type_name, join.requires).selections:
                    if isinstance(item, FieldNode):
                        wanted[item.name.value] = print_ast(item)
            for members, signature in parts:
                if all(signature.get(name, printed) == printed for name, printed in wanted.items()):
                    members[key] = nodes
                    signature.update(wanted)
                    break
            else:
                parts.append(({key: nodes}, wanted))
        return [members for members, _ in parts]

    def plan_internal(
        self,
        parent_node: FetchNode,
        source: str,
        parent: GraphQLObjectType,
        node: FieldNode,
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
    ) -> tuple[list[FetchNode], str, CutTree | None]:
        """Fetch a key or @requires field into the source object under an internal alias. Returns the fetches that
        must run first (when the source subgraph cannot resolve it itself), the key to read it from (the client's
        own field when it selected the very same leaf, so it is not fetched twice), and for a nested selection
        planned with entity hops of its own, where its values are read (None: by field name)."""
        name = node.name.value
        arguments = printed_arguments(node, parent_node.used_variables)
        alias = self.internal_alias(name, arguments)
        definition = self.field_definition(parent, name)
        if definition is None:
            raise PlanningError(f"Key or @requires field {parent.name}.{name} is not in the supergraph")
        owner = source if self.local_join(source, parent.name, name, None) else None
        if owner is None:
            # A field with @requires of its own is fine: its entity fetch plans those requirements in turn.
            candidates = [j for j in self.joins(parent.name, name) if not j.external]
            candidates.sort(key=lambda j: j.requires is not None)
            if not candidates:
                raise PlanningError(f"No subgraph resolves {parent.name}.{name}, needed as a key or by @requires")
            owner = candidates[0].graph
            marker = (source, parent.name, name)
            if marker in self._internal_stack:
                raise PlanningError(
                    f"Cannot plan {parent.name}.{name} from subgraph {source!r}: fetching it needs "
                    f"{parent.name}.{name} itself (a key that is @external there and that no other key reaches)"
                )
            synthetic = FieldNode(
                alias=None, name=node.name, arguments=node.arguments, directives=(), selection_set=node.selection_set
            )
            group = {alias: [synthetic]}
            before = list(parent_node.children)
            placeholder: list[ShapeField] = []
            self._internal_stack.add(marker)
            try:
                self.plan_entity(parent_node, source, owner, parent, group, selection, path, path, placeholder)
            finally:
                self._internal_stack.discard(marker)
            created = [child for child in parent_node.children if child not in before]
            read = self.read_key(owner, parent.name, name, alias, definition)
            return created or [c for c in parent_node.children if c.subgraph == owner and c.path == path], read, None
        named = get_named_type(definition.type)
        if (
            node.selection_set is not None
            and isinstance(named, GraphQLObjectType)
            and not self.resolves_all(source, named, node.selection_set)
        ):
            # The source has the field but not everything below it (``products { id pid }`` where its Product has
            # no ``pid``): plan the selection like a client's, with entity hops below the internal alias.
            synthetic = FieldNode(
                alias=None, name=node.name, arguments=node.arguments, directives=(), selection_set=node.selection_set
            )
            before = list(parent_node.children)
            planned = self.plan_field(
                parent_node, source, parent, alias, [synthetic], definition, selection, path, None
            )
            created = [child for child in parent_node.children if child not in before]
            return created, planned[4], _shape_cut(planned[3])
        alias = self.read_key(source, parent.name, name, alias, definition)
        upstream = self.upstream_field(source, parent.name, name)
        if node.selection_set is None:
            client = selection.fields.get(name)
            if (
                client is not None
                and client.name == upstream
                and client.arguments == arguments
                and client.selection is None
            ):
                return [], name, None
        item = selection.field(alias, upstream, arguments, node.selection_set is not None)
        if node.selection_set is not None and item.selection is not None:
            _copy_plain(
                node.selection_set,
                item.selection,
                parent_node.used_variables,
                lambda type_name: self.upstream_type(source, type_name),
            )
        return [], alias, None

    def resolves_all(self, source: str, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> bool:
        """Whether ``source`` resolves every field of a key or requirement selection on ``parent`` itself (below
        an abstract type it is assumed to: the selection is then copied as written)."""
        for child in selection_set.selections:
            if not isinstance(child, FieldNode) or child.name.value == "__typename":
                continue
            if not self.local_join(source, parent.name, child.name.value, None):
                return False
            definition = self.field_definition(parent, child.name.value)
            named = get_named_type(definition.type) if definition is not None else None
            if (
                child.selection_set is not None
                and isinstance(named, GraphQLObjectType)
                and not self.resolves_all(source, named, child.selection_set)
            ):
                return False
        return True


def _union_paths(
    first: tuple[tuple[str, frozenset[str] | None], ...], second: tuple[tuple[str, frozenset[str] | None], ...]
) -> tuple[tuple[str, frozenset[str] | None], ...]:
    """One path through the same response keys that reaches the objects of both: type filters are united."""
    if first == second:
        return first
    return tuple(
        (key, None if a is None or b is None else a | b) for (key, a), (_, b) in zip(first, second, strict=True)
    )


def _copy_plain(
    selection_set: SelectionSetNode, into: Selection, used: set[str], rename: Callable[[str], str] = str
) -> None:
    """A key or requirement selection the source subgraph resolves itself, copied as it is written (type
    conditions renamed to the subgraph's names; ``__typename`` wherever a fragment needs the concrete type)."""
    for child in selection_set.selections:
        if isinstance(child, FieldNode):
            arguments = printed_arguments(child, used)
            if child.name.value == "__typename":
                into.typename = True
                continue
            item = into.field(child.name.value, child.name.value, arguments, child.selection_set is not None)
            if child.selection_set is not None and item.selection is not None:
                _copy_plain(child.selection_set, item.selection, used, rename)
        elif isinstance(child, InlineFragmentNode):
            if child.type_condition is None:
                _copy_plain(child.selection_set, into, used, rename)
            else:
                into.typename = True
                _copy_plain(child.selection_set, into.fragment(rename(child.type_condition.name.value)), used, rename)


def _names_cut(tree: FieldTree) -> CutTree:
    """A field set's tree read by field names."""
    return {name: ((name,), _names_cut(sub) if sub else None) for name, sub in tree.items()}


def _shape_cut(type_shape: Any) -> CutTree | None:
    """Where a planned internal selection's values are: each field's read keys (aliases where its type differs in
    the subgraph that resolved it; one per concrete type at most), from the shapes the planner built for it."""
    kind, _nonnull, arg = type_shape
    while kind == "l":
        kind, _nonnull, arg = arg
    if kind != "o" or arg is None:
        return None
    tree: CutTree = {}
    for fields in (arg.fields, *arg.by_type.values()):
        for key, field_kind, _field_nonnull, sub, read in fields:
            if field_kind == K_TYPENAME:
                continue
            reads, subtree = tree.get(key, ((), None))
            if read not in reads:
                reads = (*reads, read)
            if field_kind == K_COMPOSITE:
                nested = _shape_cut(sub)
                if nested is not None:
                    subtree = nested if subtree is None else {**subtree, **nested}
            tree[key] = (reads, subtree)
    return tree


def _field_tree(selection_set: SelectionSetNode, tree: FieldTree | None = None) -> FieldTree:
    """Field names of a field set, with the fields of inline fragments merged in (values carry ``__typename``)."""
    tree = {} if tree is None else tree
    for child in selection_set.selections:
        if isinstance(child, FieldNode):
            sub = tree.setdefault(child.name.value, {})
            if child.selection_set is not None:
                _field_tree(child.selection_set, sub)
        elif isinstance(child, InlineFragmentNode):
            _field_tree(child.selection_set, tree)
    return tree


def resolver_argument_type(subgraph: Subgraph, resolver: EntityResolver, argument: str) -> str:
    assert subgraph.schema is not None
    query = subgraph.schema.query_type
    definition = query.fields.get(resolver.field) if query is not None else None
    if definition is None or argument not in definition.args:
        raise PlanningError(
            f"Subgraph {subgraph.name!r} resolves {resolver.type_name} with Query.{resolver.field}"
            f"({argument}:), which its schema does not have"
        )
    return str(definition.args[argument].type)
