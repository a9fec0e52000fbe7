"""Plan building: roots, upstream documents, stages and batched levels."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLObjectType,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeNode,
    get_named_type,
    print_ast,
)

from stitcher.ir import SourceKind, Subgraph, Supergraph
from stitcher.planning.model import (
    INTERNAL_PREFIX,
    K_LEAF,
    K_TYPENAME,
    FetchBatch,
    FetchNode,
    ObjectShape,
    PlanningError,
    QueryPlan,
    ShapeField,
    TypeShape,
)
from stitcher.planning.operation import INTROSPECTION_FIELDS, introspection_operation
from stitcher.planning.planner import Planner


def _upstream_type_node(node: TypeNode, subgraph: Subgraph) -> str:
    if isinstance(node, NonNullTypeNode):
        return _upstream_type_node(node.type, subgraph) + "!"
    if isinstance(node, ListTypeNode):
        return "[" + _upstream_type_node(node.type, subgraph) + "]"
    assert isinstance(node, NamedTypeNode)
    return subgraph.renames.upstream_type(node.name.value)


def _finish(node: FetchNode, planner: Planner) -> None:
    """Print the upstream document of ``node`` and order its children into stages (recursively)."""
    subgraph = planner.sg.subgraphs[node.subgraph]
    node.operation_directives = planner.operation_directives(node.subgraph, node.used_variables)
    node.variables = tuple(sorted(node.used_variables))
    definitions = []
    for name in node.variables:
        definition = planner.variable_defs.get(name)
        if definition is None:
            raise PlanningError(f"Variable ${name} is not defined by the operation")
        text = f"${name}: {_upstream_type_node(definition.type, subgraph)}"
        if definition.default_value is not None:
            text += f" = {print_ast(definition.default_value)}"
        definitions.append(text)
    node.variable_definitions = ", ".join(definitions)
    if subgraph.kind is not SourceKind.OPENAPI:
        if node.kind == "root":
            head = node.operation if not definitions else f"{node.operation}({node.variable_definitions})"
            node.query = head + node.operation_directives + node.selection.print()
        elif subgraph.kind is SourceKind.FEDERATION:
            # Implementations resolved through one @interfaceObject print the same fragment: send it once.
            fragments = " ".join(
                dict.fromkeys(f"... on {t.upstream_type}{t.selection.print()}" for t in node.targets.values())
            )
            extra = f", {node.variable_definitions}" if definitions else ""
            node.entities_selection = f"{{{fragments}}}"
            node.query = (
                f"query(${planner.reps_variable}: [_Any!]!{extra}){node.operation_directives}"
                f"{{_entities(representations: ${planner.reps_variable}){{{fragments}}}}}"
            )
    for child in node.children:
        child.parent = node
        _finish(child, planner)
    settled: dict[int, int] = {}

    def stage_of(child: FetchNode) -> int:
        # After every sibling it depends on, and after that sibling's own children (a nested requirement is
        # complete only when the entity hops below it have run).
        if id(child) in settled:
            return settled[id(child)]
        settled[id(child)] = child.stage  # a cycle (never planned) cannot recurse
        stage = child.stage
        for dependency in child.depends_on:
            if dependency.parent is node:
                stage = max(stage, stage_of(dependency) + _span(dependency) + 1)
        child.stage = settled[id(child)] = stage
        return stage

    stages: dict[int, list[FetchNode]] = {}
    for child in node.children:
        stages.setdefault(stage_of(child), []).append(child)
    node.stages = tuple(tuple(stages[s]) for s in sorted(stages))


def _viable(
    planner: Planner,
    supergraph: Supergraph,
    operation: OperationDefinitionNode,
    root_type: GraphQLObjectType,
    key: str,
    nodes: list[FieldNode],
    definition: GraphQLField,
    candidates: list[str],
    by_graph: dict[str, FetchNode],
) -> str:
    """The subgraph to ask for a shared root field: one already asked, otherwise the first; but one whose plan
    works (a key @external there can make the selection unplannable from one subgraph and fine from another).
    Each candidate is tried on a throwaway planner; when none works, the usual choice gives the error."""
    ordered = sorted(candidates, key=lambda g: g not in by_graph)
    if len(ordered) == 1:
        return ordered[0]
    for graph in ordered:
        trial = Planner(supergraph, operation, planner.fragments, planner.conditions, planner.prefix)
        node = FetchNode(graph, "root", "query")
        try:
            trial.plan_field(node, graph, root_type, key, nodes, definition, node.selection, (), None)
        except PlanningError:
            continue
        return graph
    return ordered[0]


def _root_node(planner: Planner, graph: str, by_graph: dict[str, FetchNode], roots: list[FetchNode]) -> FetchNode:
    """The query root fetch of ``graph`` (one per subgraph; a REST subgraph gets one per field)."""
    shared = by_graph.get(graph) if planner.sg.subgraphs[graph].kind is not SourceKind.OPENAPI else None
    if shared is None:
        shared = FetchNode(graph, "root", "query")
        by_graph.setdefault(graph, shared)
        roots.append(shared)
        planner.fetch_count += 1
    return shared


def _value_type(definition: GraphQLField) -> GraphQLObjectType:
    named = get_named_type(definition.type)
    assert isinstance(named, GraphQLObjectType)
    return named


def _value_parts(
    planner: Planner, graph: str, candidates: list[str], definition: GraphQLField, nodes: list[FieldNode]
) -> list[tuple[str, list[FieldNode]]]:
    """A shareable root field of a value type (an object type with no key, so no entity fetch can complete it)
    whose selected fields are spread over the subgraphs that share the field: the field is sent to each subgraph
    with the fields it resolves, and the answers merge at the same response key. Otherwise one part, ``graph``."""
    named = get_named_type(definition.type)
    if len(candidates) < 2 or not isinstance(named, GraphQLObjectType):
        return [(graph, nodes)]
    if any(join.key for join in planner.sg.types.get(named.name, ())):
        return [(graph, nodes)]  # an entity: entity fetches complete it
    groups: dict[str, list[FieldNode]] = {}
    for sub_nodes in planner.sub_fields(nodes, named).values():
        field_name = sub_nodes[0].name.value
        owner = graph
        if field_name != "__typename" and not planner.local_join(graph, named.name, field_name, None):
            owner = next((g for g in candidates if planner.local_join(g, named.name, field_name, None)), graph)
        groups.setdefault(owner, []).extend(sub_nodes)
    if len(groups) < 2:
        return [(graph, nodes)]
    first = nodes[0]
    return [
        (
            part_graph,
            [
                FieldNode(
                    alias=first.alias,
                    name=first.name,
                    arguments=first.arguments,
                    directives=first.directives,
                    selection_set=SelectionSetNode(selections=tuple(sub_nodes)),
                )
            ],
        )
        for part_graph, sub_nodes in groups.items()
    ]


def _merged_shape(planned: list[ShapeField], order: list[str]) -> ShapeField:
    """One shape for a field whose parts came from several root fetches (their data merges in one tree)."""

    def merge(shapes: list[TypeShape]) -> TypeShape:
        kind, nonnull, _ = shapes[0]
        if kind == "l":
            return (kind, nonnull, merge([s[2] for s in shapes]))
        objects: list[ObjectShape] = [s[2] for s in shapes]
        fields = {f[0]: f for o in objects for f in o.fields}
        rank = {key: index for index, key in enumerate(order)}
        ordered = tuple(sorted(fields.values(), key=lambda f: rank.get(f[0], len(rank))))
        return (kind, nonnull, ObjectShape(objects[0].static, ordered))

    first = planned[0]
    return (first[0], first[1], first[2], merge([p[3] for p in planned]), first[4])


def _span(node: FetchNode) -> int:
    """How many levels below its own the fetches under ``node`` occupy."""
    return max((child.stage + 1 + _span(child) for child in node.children), default=0)


def build_plan(
    supergraph: Supergraph,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    conditions: Mapping[str, bool],
    prefix: str = INTERNAL_PREFIX,
) -> QueryPlan:
    """Plan ``operation`` (already validated against ``supergraph.schema``) for the given @skip/@include values.
    ``prefix`` starts the gateway's internal aliases: :func:`internal_prefix` of the document."""
    planner = Planner(supergraph, operation, fragments, conditions, prefix)
    schema = supergraph.schema
    kind = operation.operation.value
    root_type = schema.get_root_type(operation.operation)
    if root_type is None:
        raise PlanningError(f"The product schema has no {kind} type")
    if kind == "subscription":
        raise PlanningError("Subscriptions are not supported by the gateway; use a query or a mutation")
    fields = planner.collect(operation.selection_set, root_type, {}, set())
    shape: list[ShapeField] = []
    roots: list[FetchNode] = []
    introspection_keys: list[str] = []
    last: FetchNode | None = None
    by_graph: dict[str, FetchNode] = {}
    for key, nodes in fields.items():
        name = nodes[0].name.value
        if name == "__typename":
            shape.append((key, K_TYPENAME, True, None, key))
            continue
        if name in INTROSPECTION_FIELDS:
            introspection_keys.append(key)
            shape.append((key, K_LEAF, False, None, key))  # graphql-core built the value; copied as is
            continue
        definition = root_type.fields[name]
        candidates = [j.graph for j in planner.joins(root_type.name, name) if not j.external]
        if not candidates:
            raise PlanningError(f"No subgraph resolves {root_type.name}.{name}")
        if kind == "mutation":
            # Mutations run in order: consecutive fields of one subgraph share a fetch, otherwise a new stage.
            graph = last.subgraph if last is not None and last.subgraph in candidates else candidates[0]
            if last is None or last.subgraph != graph or supergraph.subgraphs[graph].kind is SourceKind.OPENAPI:
                last = FetchNode(graph, "root", "mutation", stage=len(roots))
                roots.append(last)
                planner.fetch_count += 1
            node = last
        else:
            graph = _viable(planner, supergraph, operation, root_type, key, nodes, definition, candidates, by_graph)
            parts = _value_parts(planner, graph, candidates, definition, nodes)
            planned: list[ShapeField] = []
            for part_graph, part_nodes in parts:
                node = _root_node(planner, part_graph, by_graph, roots)
                node.root_fields.append((key, name, part_nodes[0]))
                planned.append(
                    planner.plan_field(
                        node, part_graph, root_type, key, part_nodes, definition, node.selection, (), None
                    )
                )
            shape.append(
                _merged_shape(planned, [k for k in planner.sub_fields(nodes, _value_type(definition))])
                if len(planned) > 1
                else planned[0]
            )
            continue
        node.root_fields.append((key, name, nodes[0]))
        shape.append(planner.plan_field(node, graph, root_type, key, nodes, definition, node.selection, (), None))
    for root in roots:
        _finish(root, planner)
    stages: dict[int, list[FetchNode]] = {}
    for root in roots:
        stages.setdefault(root.stage, []).append(root)
    introspection: OperationDefinitionNode | None = None
    if introspection_keys:
        introspection = introspection_operation(operation, [n for key in introspection_keys for n in fields[key]])
    return QueryPlan(
        operation=kind,  # type: ignore[arg-type]
        root=ObjectShape(root_type.name, tuple(shape)),
        stages=tuple(tuple(stages[s]) for s in sorted(stages)),
        introspection=introspection,
        introspection_keys=tuple(introspection_keys),
        fetch_count=planner.fetch_count,
        levels=_levels(roots, planner) if kind == "query" else (),
        internal_prefix=prefix,
        reps_variable=planner.reps_variable,
        key_variable=planner.key_variable,
    )


def _levels(roots: list[FetchNode], planner: Planner) -> tuple[tuple[FetchBatch, ...], ...]:
    """Place every non-root fetch on a level (after its parent and after the siblings it depends on) and group
    each level's Federation fetches by subgraph."""
    by_level: dict[int, list[FetchNode]] = {}

    def place(node: FetchNode, level: int) -> None:
        for stage in node.stages:  # stage numbers keep their gaps: a gap is where a dependency's children run
            for child in stage:
                by_level.setdefault(level + 1 + child.stage, []).append(child)
                place(child, level + 1 + child.stage)

    for root in roots:
        place(root, 0)
    levels: list[tuple[FetchBatch, ...]] = []
    for level in sorted(by_level):
        batches: dict[str, FetchBatch] = {}
        singles: list[FetchBatch] = []
        for node in by_level[level]:
            federation = planner.sg.subgraphs[node.subgraph].kind is SourceKind.FEDERATION
            if federation and node.entities_selection:
                batch = batches.get(node.subgraph)
                if batch is None:
                    batch = batches[node.subgraph] = FetchBatch(node.subgraph, ())
                batch.nodes = (*batch.nodes, node)
            else:
                singles.append(FetchBatch(node.subgraph, (node,)))
        for batch in batches.values():
            _batch_query(batch, planner)
        levels.append((*batches.values(), *singles))
    return tuple(levels)


def _batch_query(batch: FetchBatch, planner: Planner) -> None:
    if len(batch.nodes) == 1:
        node = batch.nodes[0]
        batch.query, batch.variables = node.query, node.variables
        return
    subgraph = planner.sg.subgraphs[batch.subgraph]
    used = sorted({name for node in batch.nodes for name in node.variables})
    definitions = [f"${planner.reps_variable}{i}: [_Any!]!" for i in range(len(batch.nodes))]
    for name in used:
        definition = planner.variable_defs[name]
        text = f"${name}: {_upstream_type_node(definition.type, subgraph)}"
        if definition.default_value is not None:
            text += f" = {print_ast(definition.default_value)}"
        definitions.append(text)
    fields = " ".join(
        f"_e{i}: _entities(representations: ${planner.reps_variable}{i}){node.entities_selection}"
        for i, node in enumerate(batch.nodes)
    )
    batch.query = f"query({', '.join(definitions)}){batch.nodes[0].operation_directives}{{{fields}}}"
    batch.variables = tuple(used)
