"""The planner proper: which subgraph resolves each field, and the entity fetches between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    NameNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
    print_ast,
)

from stitcher.ir import SourceKind
from stitcher.planning.context import PlanningContext
from stitcher.planning.fieldsets import (
    copy_plain,
    field_tree,
    names_cut,
    only_on,
    resolver_argument_type,
    shape_cut,
    union_paths,
)
from stitcher.planning.model import (
    K_COMPOSITE,
    K_TYPENAME,
    CutTree,
    EntityTarget,
    FetchNode,
    ObjectShape,
    PlanningError,
    Selection,
    ShapeField,
)
from stitcher.planning.operation import printed_arguments


@dataclass(slots=True)
class _Frame:
    """A field being planned in place, with what an entity fetch of its parent object needs."""

    node: FetchNode
    subgraph: str
    parent: GraphQLObjectType
    key: str
    nodes: list[FieldNode]
    selection: Selection
    path: tuple[tuple[str, frozenset[str] | None], ...]
    entity_path: tuple[tuple[str, frozenset[str] | None], ...]


def _narrowed(node: FieldNode, selections: list[FieldNode]) -> FieldNode:
    """``node`` (alias and arguments kept) selecting only ``selections``: a hop that reaches nested fields through
    it (the client's directives on it are the source subgraph's, which resolves the field itself)."""
    return FieldNode(
        alias=node.alias,
        name=node.name,
        arguments=node.arguments,
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(selections)),
    )


def _aliased(node: FieldNode, key: str) -> FieldNode:
    return FieldNode(
        alias=NameNode(value=key),
        name=node.name,
        arguments=node.arguments,
        directives=node.directives,
        selection_set=node.selection_set,
    )


def _object_of(field: ShapeField) -> ObjectShape:
    type_shape = field[3]
    while type_shape[0] == "l":
        type_shape = type_shape[2]
    object_shape = type_shape[2]
    if not isinstance(object_shape, ObjectShape) or object_shape.by_type:
        raise PlanningError(f"Cannot plan the fields below {field[0]!r} through an entity above an abstract type")
    return object_shape


def _field_in(field: ShapeField, key: str) -> ShapeField:
    for child in _object_of(field).fields:
        if child[0] == key:
            return child
    raise PlanningError(f"The entity fetch planned no field {key!r}")


class Planner(PlanningContext):
    """Plans fields into fetches: what each subgraph resolves in place, and the entity fetches between them."""

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
                frame = _Frame(node, subgraph, parent, key, nodes, selection, path, entity_path)
                if entity_root and self._entity_source is not None:
                    # The object of an entity fetch is the source's object too: an entity hop above a value type
                    # is asked with the key as the source has it (it may be @external in this subgraph).
                    source_node, source, source_selection, source_path, source_typed = self._entity_source
                    frame = _Frame(source_node, source, parent, key, nodes, source_selection, source_typed, source_path)
                self._frames.append(frame)
                try:
                    planned = self.plan_field(node, subgraph, parent, key, nodes, definition, selection, path, provided)
                finally:
                    self._frames.pop()
                shape.append(planned)
                continue
            candidates = [j for j in self.joins(parent.name, name) if not j.external]
            if not candidates:
                raise PlanningError(f"No subgraph resolves {parent.name}.{name}")
            candidates.sort(key=lambda j: (j.graph not in remote, j.requires is not None))
            chosen = candidates[0].graph
            remote.setdefault(chosen, {})[key] = nodes
            shape.append(self.field_shape(key, definition))
        for target_graph, group in remote.items():
            if self._frames and self.keyless(subgraph, target_graph, parent):
                self.plan_through_ancestor(target_graph, group, shape)
                continue
            self.plan_entity(
                node, subgraph, target_graph, parent, group, selection, entity_path, path, shape, provided=provided
            )
        return tuple(shape)

    def keyless(self, source: str, target: str, parent: GraphQLObjectType) -> bool:
        """Whether ``target`` is a Federation subgraph that cannot be asked for ``parent`` objects (no resolvable
        key there: a value type, or an entity that subgraph only returns)."""
        if self.sg.subgraphs[target].kind is not SourceKind.FEDERATION:
            return False
        return self.choose_key(source, target, parent.name, self.interface_object(target, parent)) is None

    def plan_through_ancestor(
        self, target: str, group: dict[str, list[FieldNode]], shape: list[ShapeField]
    ) -> tuple[FetchNode, list[FetchNode]]:
        """Fields of an object ``target`` cannot be asked for (a value type) are fetched by asking ``target`` for
        the nearest enclosing entity it has a key for, with the fields between them (``_entities { ... on Product
        { category { details { ... } } } }``); the answer merges into the same objects."""
        for depth in range(len(self._frames) - 1, -1, -1):
            frame = self._frames[depth]
            if self.keyless(frame.subgraph, target, frame.parent):
                continue
            chain = self._frames[depth + 1 :]
            inner: list[FieldNode] = [
                n if (n.alias or n.name).value == key else _aliased(n, key)
                for key, nodes in group.items()
                for n in nodes
            ]
            before = list(frame.node.children)
            for step in reversed(chain):
                inner = [_narrowed(step.nodes[0], inner)]
            top = _narrowed(frame.nodes[0], inner)
            placeholder: list[ShapeField] = [(frame.key, K_COMPOSITE, False, None, frame.key)]
            saved, self._frames = self._frames, []
            try:
                self.plan_entity(
                    frame.node,
                    frame.subgraph,
                    target,
                    frame.parent,
                    {frame.key: [top]},
                    frame.selection,
                    frame.entity_path,
                    frame.path,
                    placeholder,
                )
            finally:
                self._frames = saved
            found = placeholder[0]
            for step in chain:
                found = _field_in(found, step.key)
            by_key = {f[0]: f for f in _object_of(found).fields}
            for index, existing in enumerate(shape):
                if existing[0] in group and existing[0] in by_key:
                    shape[index] = by_key[existing[0]]
            created = [child for child in frame.node.children if child not in before]
            # None new: the hop was planned already (for another field) and now fetches this one too.
            return frame.node, created or [
                c for c in frame.node.children if c.subgraph == target and c.path == frame.entity_path
            ]
        raise PlanningError(
            f"Fields {sorted(group)} live in subgraph {target!r}, which has no resolvable key for their type nor for "
            f"any entity above them"
        )

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
        directives = self.field_directives(subgraph, parent.name, nodes[0], node.used_variables)
        item = selection.field(read, upstream_name, arguments, composite, directives)
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
        full = self.full_schema.get_type(named.name)
        assert isinstance(full, GraphQLAbstractType)
        if named.name in self.sg.subgraphs[subgraph].interface_objects:
            # Objects typed only by their interface: when nothing needs the concrete type (no ``__typename``, no
            # fragment on an implementation), the fields are planned on the interface itself, those of other
            # subgraphs through the interface's key (Apollo's plan; an implementation's own resolver of a shared
            # field is not asked). Otherwise the concrete type is fetched first.
            direct = self.plan_on_interface(node, subgraph, named, nodes, selection, path, provided, remote=True)
            if direct is not None:
                return direct
            return self.plan_interface_object(node, subgraph, named, nodes, selection, path, provided)
        if not self.full_schema.get_possible_types(full):
            # No concrete type can be known (the interface has no implementation): fields the subgraph resolves on
            # the interface itself are planned there.
            direct = self.plan_on_interface(node, subgraph, named, nodes, selection, path, provided)
            if direct is not None:
                return direct
            raise PlanningError(
                f"{named.name} has no implementation in the supergraph, and subgraph {subgraph!r}, which "
                f"returns it, does not resolve every field selected on it"
            )
        selection.typename = True
        shape = ObjectShape(None)
        # Types hidden by @inaccessible are planned too (a requirement may select them), but the shape leaves them
        # out: such an object reaches the client as null.
        sharing = self.sharing_subgraphs(subgraph, nodes)
        for possible in self.full_schema.get_possible_types(full):
            if not self.returns_type(subgraph, possible.name, local):
                continue  # an implementation (member) this subgraph never returns here
            fields = self.sub_fields(nodes, possible)
            if not all(self.returns_type(other, possible.name, there) for other, there in sharing):
                # Another subgraph could resolve this position as well and never returns this type there: only the
                # types common to all of them are fetched (Apollo's plan); such an object keeps its __typename and
                # its other fields come out null.
                if possible.name not in self.sg.inaccessible:
                    shape.by_type[possible.name] = self.unfetched(possible, fields)
                continue
            typed_path = (*path[:-1], (path[-1][0], frozenset({possible.name})))
            if isinstance(local, GraphQLObjectType):
                fragment = selection
            else:
                fragment = selection.fragment(self.upstream_type(subgraph, possible.name))
            planned = self.plan_object(node, subgraph, possible, fields, fragment, typed_path, provided, path)
            if possible.name not in self.sg.inaccessible:
                shape.by_type[possible.name] = planned
        return shape

    def returns_type(self, subgraph: str, type_name: str, local: GraphQLNamedType | None) -> bool:
        """Whether ``subgraph`` may return objects of ``type_name`` at a position whose type in its own schema is
        ``local`` (None when unknown: any type it defines)."""
        if not self.defines(subgraph, type_name):
            return False
        own = self.sg.subgraphs[subgraph].schema
        if own is None or local is None:
            return True
        if isinstance(local, GraphQLObjectType):
            return local.name == type_name  # the subgraph's field has this one concrete type
        there = own.get_type(type_name)
        return isinstance(there, GraphQLObjectType) and own.is_sub_type(local, there)  # type: ignore[arg-type]

    def sharing_subgraphs(self, subgraph: str, nodes: list[FieldNode]) -> list[tuple[str, GraphQLNamedType | None]]:
        """Other Federation subgraphs that could resolve the abstract field being planned (``nodes``, the innermost
        frame) just as well: each resolves every field from an enclosing entity down to it, and has a resolvable
        key for that entity whose fields ``subgraph`` gives there (or the entity is the object of the entity fetch
        being planned, whose key is known). Returns each with the field's type in its own schema."""
        if not self._frames or self._frames[-1].nodes is not nodes:
            return []
        innermost = self._frames[-1]
        field_name = innermost.nodes[0].name.value
        found: list[tuple[str, GraphQLNamedType | None]] = []
        for other, source in self.sg.subgraphs.items():
            if other == subgraph or source.kind is not SourceKind.FEDERATION:
                continue
            for frame in reversed(self._frames):
                parent = frame.parent.name
                if not self.local_join(other, parent, frame.nodes[0].name.value, None):
                    break
                key = self.choose_key(subgraph, other, parent, self.interface_object(other, frame.parent))
                if key is not None and (
                    (self._entity_source is not None and frame is self._frames[0])
                    or all(
                        self.local_join(subgraph, parent, f.name.value, None)
                        for f in self.key_selection(parent, key).selections
                        if isinstance(f, FieldNode)
                    )
                ):
                    found.append((other, self.local_field_type(other, innermost.parent.name, field_name)))
                    break
        return found

    def unfetched(self, possible: GraphQLObjectType, fields: dict[str, list[FieldNode]]) -> tuple[ShapeField, ...]:
        """The shape of objects of a type the plan fetches no fields of: ``__typename`` and nulls."""
        shape: list[ShapeField] = []
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                shape.append((key, K_TYPENAME, True, None, key))
            elif (definition := self.field_definition(possible, name)) is not None:
                shape.append(self.field_shape(key, definition))
        return tuple(shape)

    def plan_on_interface(
        self,
        node: FetchNode,
        subgraph: str,
        interface: GraphQLAbstractType,
        nodes: list[FieldNode],
        selection: Selection,
        path: tuple[tuple[str, frozenset[str] | None], ...],
        provided: dict[str, Any] | None,
        remote: bool = False,
    ) -> ObjectShape | None:
        """The fields selected on interface ``interface`` planned on the interface itself, when ``subgraph``
        resolves each of them there (``remote``: or another subgraph does, through the interface's key) and nothing
        needs the concrete type (no ``__typename``, no fragment on another type); None otherwise."""
        if not isinstance(interface, GraphQLInterfaceType) or not only_on(
            [n.selection_set for n in nodes if n.selection_set is not None], interface.name, self.fragments
        ):
            return None
        # The interface stands for its objects here: its fields are looked up by name like an object's.
        runtime = cast(GraphQLObjectType, interface)
        fields = self.sub_fields(nodes, runtime)
        for field_nodes in fields.values():
            name = field_nodes[0].name.value
            if name == "__typename":
                return None
            if not self.local_join(subgraph, interface.name, name, provided) and not (
                remote and self.through_interface_key(subgraph, interface.name, name, provided)
            ):
                return None
        shape = ObjectShape(interface.name)
        shape.fields = self.plan_object(node, subgraph, runtime, fields, selection, path, provided, path)
        return shape

    def through_interface_key(
        self, subgraph: str, interface: str, field_name: str, provided: dict[str, Any] | None
    ) -> bool:
        """Whether every other subgraph resolving ``interface.field_name`` can be asked for it through a resolvable
        key of the interface whose fields ``subgraph`` gives (``__typename`` the interface in the representation),
        with no @requires."""
        joins = [j for j in self.joins(interface, field_name) if not j.external]
        if not joins:
            return False
        for join in joins:
            if join.requires or self.sg.subgraphs[join.graph].kind is not SourceKind.FEDERATION:
                return False
            keys = [j.key for j in self.sg.types.get(interface, ()) if j.graph == join.graph and j.key and j.resolvable]
            if not any(
                all(
                    self.local_join(subgraph, interface, f.name.value, provided)
                    for f in self.key_selection(interface, key).selections
                    if isinstance(f, FieldNode)
                )
                for key in keys
            ):
                return False
        return True

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
        it; the fields are then planned per implementation as usual, and every fetch they need runs after it.
        Fields the typename fetch's subgraph resolves on an implementation are asked in that same fetch
        (``... on I { __typename ... on Book { pages } }``), as Apollo plans it: no second request for them."""
        name = interface.name
        registry_key = (id(node), tuple(step[0] for step in path))
        typename_fetch = self._typename_nodes.get(registry_key)
        if typename_fetch is not None:  # the same position below objects of another type: one fetch serves both
            typename_fetch.path = union_paths(typename_fetch.path, path)
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
            folded = {
                key: field_nodes
                for key, field_nodes in fields.items()
                if self.foldable(typename_fetch.subgraph, subgraph, possible, field_nodes[0].name.value, provided)
            }
            planned = {
                f[0]: f
                for f in self.plan_object(
                    node,
                    subgraph,
                    possible,
                    {k: v for k, v in fields.items() if k not in folded},
                    selection,
                    typed_path,
                    provided,
                    path,
                )
            }
            if folded:
                target = typename_fetch.targets[name]
                fragment = target.selection.fragment(self.upstream_type(typename_fetch.subgraph, possible.name))
                saved, self._frames = self._frames, []  # the fields around belong to another fetch
                saved_source = self._entity_source
                self._entity_source = (node, subgraph, selection, path, typed_path)
                try:
                    for f in self.plan_object(
                        typename_fetch,
                        typename_fetch.subgraph,
                        possible,
                        folded,
                        fragment,
                        typed_path,
                        None,
                        path,
                        True,
                    ):
                        planned[f[0]] = f
                finally:
                    self._frames = saved
                    self._entity_source = saved_source
            shape.by_type[possible.name] = tuple(planned[key] for key in fields)
        typename_fetch.children.extend(node.children)
        node.children = earlier
        return shape

    def foldable(
        self,
        typed_by: str,
        subgraph: str,
        possible: GraphQLObjectType,
        field_name: str,
        provided: dict[str, Any] | None,
    ) -> bool:
        """Whether a field of implementation ``possible`` can be asked in the typename fetch to ``typed_by``: the
        interface-object subgraph does not resolve it, and ``typed_by`` resolves it on ``possible`` in place."""
        if field_name == "__typename" or self.local_join(subgraph, possible.name, field_name, provided):
            return False
        if not self.defines(typed_by, possible.name):
            return False
        join = self.join_of(typed_by, possible.name, field_name)
        return join is not None and not join.external and not join.requires

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
        found = self.typename_source(subgraph, interface, provided)
        if found is not None:
            join, key_fields = found
            representation: list[tuple[str, str]] = []
            for key_field in key_fields:
                field_name = key_field.name.value
                alias = self.prefix + field_name
                upstream = self.upstream_field(subgraph, interface, field_name)
                item = selection.field(alias, upstream, "", key_field.selection_set is not None)
                if key_field.selection_set is not None and item.selection is not None:
                    copy_plain(key_field.selection_set, item.selection, set())
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
        provided: dict[str, Any] | None = None,
    ) -> None:
        """``provided``: what the source's field @provides at this position (a key it resolves there)."""
        parts = self.requirement_parts(target, parent.name, group)
        if len(parts) > 1:  # requirements that ask for one field with different arguments go in separate fetches
            for index, sub_group in enumerate(parts):
                self.plan_entity(
                    parent_node,
                    source,
                    target,
                    parent,
                    sub_group,
                    source_selection,
                    path,
                    typed_path,
                    shape,
                    index,
                    provided,
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
                    parent_node, source, parent, selection_node, source_selection, path, provided
                )
                needed.append((field_name, read_key))
                if planned is not None:
                    trees[(field_name, read_key)] = planned
                elif selection_node.selection_set is not None:
                    trees[(field_name, read_key)] = names_cut(field_tree(selection_node.selection_set))
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
            node.path = union_paths(node.path, path)
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
        saved, self._frames = self._frames, []  # the fields around belong to another fetch
        saved_source = self._entity_source
        self._entity_source = (parent_node, source, source_selection, path, typed_path)
        try:
            fields = self.plan_object(
                node, target, parent, group, entity_target.selection, typed_path, None, path, True
            )
        finally:
            self._frames = saved
            self._entity_source = saved_source
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
        provided: dict[str, Any] | None = None,
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
        owner = source if self.local_join(source, parent.name, name, provided) else None
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
            placeholder: list[ShapeField] = [self.field_shape(alias, definition)]
            if self._frames and self.keyless(source, owner, parent):
                # A value type: ``owner`` is asked for the entity above it (``id`` of a keyless Category, say).
                self._internal_stack.add(marker)
                try:
                    frame_node, created = self.plan_through_ancestor(owner, group, placeholder)
                finally:
                    self._internal_stack.discard(marker)
                if frame_node is parent_node:
                    return created, alias, None
                # The hop hangs above this fetch: this fetch (and so what it plans below) waits for it.
                parent_node.depends_on.extend(c for c in created if all(c is not d for d in parent_node.depends_on))
                return [], alias, None
            before = list(parent_node.children)
            placeholder = []
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
            return created, planned[4], shape_cut(planned[3])
        alias = self.read_key(source, parent.name, name, alias, definition)
        upstream = self.upstream_field(source, parent.name, name)
        if node.selection_set is None:
            client = selection.fields.get(name)
            if (
                client is not None
                and client.name == upstream
                and client.arguments == arguments
                and client.selection is None
                and not client.directives  # a directive may change the client's value: the key is fetched as is
            ):
                return [], name, None
        item = selection.field(alias, upstream, arguments, node.selection_set is not None)
        if node.selection_set is not None and item.selection is not None:
            copy_plain(
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
