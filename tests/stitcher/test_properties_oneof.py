"""Property test: execution through Loom equals execution against the upstream, for ``@oneOf`` input objects.

Each example generates a schema: input objects (the first always ``@oneOf``, others ``@oneOf`` or plain, members of
leaf types, lists and earlier inputs) used as arguments of root fields that echo their coerced arguments as JSON.
The root fields are split over two services served over real HTTP (plain GraphQL services or Federation subgraphs,
both defining every input), composed into a product, and queried with values drawn for the arguments: ``@oneOf``
values with one member set, and invalid ones (two members, a null member, none), as literals or in variables (a
member's variable nullable or not). Loom's answer must be graphql-core's executing the same document against the
whole schema directly: the same data, and errors of the same kind with the same messages (a validation error, a
variable's coercion error, or none).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import build_schema, execute_sync, parse, validate
from hypothesis import event, given, strategies as st

from stitcher.composition import compose
from stitcher.execution import Executor
from stitcher.ir import SourceKind
from stitcher.options import GatewayOptions, Limits
from stitcher.sources import SourceSpec
from stitcher.transport import AiohttpTransport
from tests._hypothesis import across_upstreams
from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.federation import executable_schema
from tests.stitcher.upstreams.serving import UpstreamServers

_FEDERATION_LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
SERVICES = ("left", "right")
LEAVES: dict[str, st.SearchStrategy[Any]] = {
    "Int": st.integers(-5, 5),
    "Float": st.sampled_from([0.5, -2.0, 3.25]),
    "String": st.sampled_from(["a", 'q"uote', "é", ""]),
    "Boolean": st.booleans(),
    "ID": st.sampled_from(["1", "x9"]),
    "Colour": st.sampled_from(["RED", "GREEN"]),
}


@dataclass
class _Schema:
    """A generated schema: inputs (name -> whether @oneOf, member -> type) and root fields (name -> arg -> type)."""

    inputs: dict[str, tuple[bool, dict[str, str]]]
    fields: dict[str, dict[str, str]]
    served_by: dict[str, str]  # root field -> service

    def sdl(self, service: str | None = None) -> str:
        lines = ["enum Colour { RED GREEN }"]
        for name, (one_of, members) in self.inputs.items():
            body = " ".join(f"{member}: {type_}" for member, type_ in members.items())
            lines.append(f"input {name}{' @oneOf' if one_of else ''} {{ {body} }}")
        roots = [
            f"{name}({', '.join(f'{arg}: {type_}' for arg, type_ in args.items())}): String"
            for name, args in self.fields.items()
            if service is None or self.served_by[name] == service
        ]
        lines.append("type Query { " + " ".join(roots) + " }")
        return "\n".join(lines)


@st.composite
def _schemas(draw: st.DrawFn) -> _Schema:
    inputs: dict[str, tuple[bool, dict[str, str]]] = {}
    for index in range(draw(st.integers(1, 3))):
        one_of = index == 0 or draw(st.booleans())
        members: dict[str, str] = {}
        for member in range(draw(st.integers(1, 4))):
            kinds = ["leaf", "list"] + (["input"] if inputs else [])
            kind = draw(st.sampled_from(kinds))
            type_ = draw(st.sampled_from(sorted(inputs))) if kind == "input" else draw(st.sampled_from(sorted(LEAVES)))
            type_ = f"[{type_}]" if kind == "list" else type_
            required = not one_of and draw(st.integers(0, 3)) == 0  # @oneOf members are nullable by the spec
            members[f"m{member}"] = type_ + ("!" if required else "")
        inputs[f"In{index}"] = (one_of, members)
    fields: dict[str, dict[str, str]] = {}
    served_by: dict[str, str] = {}
    for index in range(draw(st.integers(1, 4))):
        args: dict[str, str] = {}
        for arg in range(draw(st.integers(1, 2))):
            type_ = "In0" if index == arg == 0 else draw(st.sampled_from(sorted(inputs)))
            shape = draw(st.sampled_from(["{}", "{}!", "[{}!]"]))
            args[f"a{arg}"] = shape.format(type_)
        fields[f"f{index}"] = args
        served_by[f"f{index}"] = draw(st.sampled_from(SERVICES))
    return _Schema(inputs, fields, served_by)


@dataclass
class _Query:
    """A document being drawn: its variable declarations and values."""

    declared: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)

    def variable(self, type_: str, value: Any) -> str:
        name = f"v{len(self.declared)}"
        self.declared.append(f"${name}: {type_}")
        self.variables[name] = value
        return f"${name}"


@st.composite
def _value(draw: st.DrawFn, schema: _Schema, type_: str, nullable: bool = True) -> Any:
    """A JSON value for ``type_``: valid for leaves, lists and plain inputs; a @oneOf value has one member set most
    of the time, else two, a null one or none."""
    if type_.endswith("!"):
        return draw(_value(schema, type_[:-1], nullable=False))
    if nullable and draw(st.integers(0, 9)) == 0:
        return None
    if type_.startswith("["):
        return draw(st.lists(_value(schema, type_[1:-1]), max_size=2))
    if type_ in LEAVES:
        return draw(LEAVES[type_])
    one_of, members = schema.inputs[type_]
    if not one_of:
        chosen = [m for m, t in members.items() if t.endswith("!") or draw(st.booleans())]
        return {m: draw(_value(schema, members[m])) for m in chosen}
    names = sorted(members)
    shape = draw(st.integers(0, 9))
    if shape < 6:  # one member, not null
        member = draw(st.sampled_from(names))
        return {member: draw(_value(schema, members[member], nullable=False))}
    if shape < 8 and len(names) > 1:  # two members
        two = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
        return {m: draw(_value(schema, members[m])) for m in two}
    if shape < 9:  # a member set to null
        return {draw(st.sampled_from(names)): None}
    return {}


@st.composite
def _literal(draw: st.DrawFn, schema: _Schema, type_: str, value: Any, query: _Query, one_of_member: bool) -> str:
    """``value`` written in the document, or in a variable (of the position's type; a @oneOf member's variable is
    nullable or not, and only a non-null one is valid there)."""
    if draw(st.integers(0, 3)) == 0:
        declared = type_
        if one_of_member and draw(st.booleans()):
            declared = type_ + "!"
        return query.variable(declared, value)
    bare = type_.removesuffix("!")
    if value is None:
        return "null"
    if bare.startswith("["):
        items = value if isinstance(value, list) else [value]
        return "[" + ", ".join(draw(_literal(schema, bare[1:-1], v, query, False)) for v in items) + "]"
    if bare == "Colour":
        return str(value)
    if bare in LEAVES:
        return json.dumps(value) if not isinstance(value, bool) else str(value).lower()
    one_of, members = schema.inputs[bare]
    parts = [f"{m}: {draw(_literal(schema, members[m], v, query, one_of))}" for m, v in value.items()]
    return "{" + ", ".join(parts) + "}"


@st.composite
def _cases(draw: st.DrawFn) -> tuple[_Schema, str, dict[str, Any] | None]:
    schema = draw(_schemas())
    query = _Query()
    selections = []
    for name in draw(st.lists(st.sampled_from(sorted(schema.fields)), min_size=1, max_size=3, unique=True)):
        args = []
        for arg, type_ in schema.fields[name].items():
            if not type_.endswith("!") and draw(st.integers(0, 4)) == 0:
                continue
            value = draw(_value(schema, type_))
            args.append(f"{arg}: {draw(_literal(schema, type_, value, query, False))}")
        selections.append(f"{name}({', '.join(args)})" if args else name)
    head = f"query Q({', '.join(query.declared)}) " if query.declared else ""
    return schema, head + "{ " + " ".join(selections) + " }", (query.variables or None)


def _echo(info: Any, **arguments: Any) -> str:
    return json.dumps(arguments, sort_keys=True)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[UpstreamServers]:
    """Two services whose schemas each example replaces (no response cache: the schemas change)."""
    apps = {name: GraphQLApp(build_schema("type Query { ok: Int }"), cache=False) for name in SERVICES}
    with UpstreamServers(apps) as servers:
        yield servers


@pytest.fixture(scope="module")
def loop() -> Iterator[tuple[asyncio.AbstractEventLoop, AiohttpTransport]]:
    event_loop = asyncio.new_event_loop()
    transport = event_loop.run_until_complete(AiohttpTransport.create())
    yield event_loop, transport
    event_loop.run_until_complete(transport.aclose())
    event_loop.close()


def _outcome(data: Any, errors: Sequence[Mapping[str, Any]] | None, request_error: bool) -> tuple[Any, ...]:
    """What must agree: the data, whether the request as a whole was refused, and the errors' messages (graphql-core
    says a variable's value is "not to be None" where Loom, answering JSON clients, says "null")."""
    messages = sorted(str(e.get("message")).replace(" to be None.", " to be null.") for e in errors or ())
    return data, request_error, messages


@pytest.mark.parametrize(("protocol", "examples"), [(SourceKind.GRAPHQL, 80), (SourceKind.FEDERATION, 30)])
def test_execution_through_loom_equals_execution_against_the_upstream_for_one_of_inputs(
    upstreams: UpstreamServers,
    loop: tuple[asyncio.AbstractEventLoop, AiohttpTransport],
    protocol: SourceKind,
    examples: int,
) -> None:
    event_loop, transport = loop
    head = _FEDERATION_LINK if protocol is SourceKind.FEDERATION else ""

    @across_upstreams(examples)
    @given(case=_cases())
    def check(case: tuple[_Schema, str, dict[str, Any] | None]) -> None:
        schema, query, variables = case
        root = {name: _echo for name in schema.fields}
        whole = build_schema(schema.sdl())
        sources = []
        for service in SERVICES:
            if service not in schema.served_by.values():
                continue
            sdl = head + schema.sdl(service)
            app: GraphQLApp = upstreams.apps[service]
            app.schema = executable_schema(sdl, []) if head else build_schema(sdl)
            app.root_value = root
            sources.append(SourceSpec(service, protocol, sdl, url=upstreams.urls[service]))
        executor = Executor(compose(sources), transport, GatewayOptions(limits=Limits(max_cost=0, max_aliases=0)))
        document = parse(query)
        invalid = validate(whole, document)
        if invalid:
            expected = _outcome(None, [e.formatted for e in invalid], True)
        else:
            result = execute_sync(whole, document, root, variable_values=variables)
            refused = result.data is None
            expected = _outcome(result.data, [e.formatted for e in result.errors or ()], refused)
        event("refused by validation" if invalid else "a variable refused" if expected[1] else "executed")
        response = event_loop.run_until_complete(executor.execute(query, variables))
        assert _outcome(response.data, response.errors, response.request_error) == expected, (
            schema.sdl(),
            query,
            variables,
        )

    check()
