"""The executor: cached documents and plans, the fetch plan run against the upstreams, the response."""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, cast

import msgspec
import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import Visitor, visit

from stitcher.errors import StitcherError
from stitcher.execution._errors import (
    _client_path,
    _failure,
    _graphql_error,
    _limit_error,
    _locate_errors,
    _pass_through,
    _upstream_failure,
)
from stitcher.execution._fresh import mark_fresh_fetches
from stitcher.execution._run import _JSON_HEADERS, _QUERY_HEADERS, _Run
from stitcher.execution._shaping import _INVALID, _reached_errors, _shape_object
from stitcher.execution._structs import encode as _encode
from stitcher.execution._tree import (
    _concrete_representations,
    _cut,
    _flatten_paths,
    _merge,
    _merge_entities,
    _project,
    _rename_typenames,
    _walk,
)
from stitcher.ir import SourceKind, Subgraph, Supergraph
from stitcher.limits import CostEstimate, DocumentLimits, LimitExceeded, check_document
from stitcher.linking import link_parts, linked_value
from stitcher.options import GatewayOptions
from stitcher.planning import (
    INTERNAL_PREFIX,
    FetchBatch,
    FetchNode,
    PlanningError,
    QueryPlan,
    build_plan,
    condition_variables,
    internal_prefix,
)
from stitcher.rest import (
    InvalidValue,
    RestResponseError,
    RestStatusError,
    build_request,
    check_status,
    settle,
    shape_result,
)
from stitcher.transport import SAFE_RETRY, Transport, UpstreamResponse

log = logging.getLogger("stitcher.execution")
_DEFAULT_OPTIONS = GatewayOptions()

_MAX_TOKENS = 20_000
_PREPARE_INLINE_CHARS = 2_000  # smaller new documents are prepared on the loop (a thread hop costs more)
_MAX_PLANS_PER_DOCUMENT = 64
_MAX_FETCH_ERRORS = 50
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ExecutionResponse:
    """An operation's outcome: ``data`` (None where a request error or a null root stopped it), ``errors``, whether
    the request itself was refused (``request_error``: nothing ran) and the operation's type.

    A result built by the executor holds its tree as shaping built it (structs, see
    :mod:`stitcher.execution._shaping`): :meth:`to_json` encodes that tree as it is, and ``data`` gives it as plain
    dicts and lists, made on first use, for callers that read it."""

    __slots__ = ("_data", "errors", "operation_type", "request_error")

    def __init__(
        self,
        data: Any,
        errors: list[dict[str, Any]] | None,
        request_error: bool = False,
        operation_type: str | None = None,
    ) -> None:
        self._data = data
        self.errors = errors
        self.request_error = request_error
        self.operation_type = operation_type

    @property
    def data(self) -> dict[str, Any] | None:
        data = self._data
        if data is not None and data.__class__ is not dict:
            data = self._data = msgspec.to_builtins(data)
        return cast("dict[str, Any] | None", data)

    def to_json(self) -> bytes:
        if self.request_error:
            return _encode({"errors": self.errors})
        if self.errors:
            return _encode({"errors": self.errors, "data": self._data})
        return _encode({"data": self._data})

    def data_json(self) -> bytes:
        """``data`` alone as JSON (a REST route's answer)."""
        return _encode(self._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExecutionResponse):
            return NotImplemented
        return (self.data, self.errors, self.request_error, self.operation_type) == (
            other.data,
            other.errors,
            other.request_error,
            other.operation_type,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (
            f"ExecutionResponse(data={self.data!r}, errors={self.errors!r}, request_error={self.request_error!r}, "
            f"operation_type={self.operation_type!r})"
        )


class _Document:
    """A cache entry: the outcome of parsing, limits and validation of one (document, operation name)."""

    __slots__ = (
        "conditions",
        "cost",
        "errors",
        "fragments",
        "has_variables",
        "operation",
        "operation_type",
        "plans",
        "prefix",
    )

    def __init__(self) -> None:
        self.cost: CostEstimate | None = None  # where its cost depends on each request's variables (a page size as $n)
        self.errors: list[dict[str, Any]] | None = None
        self.operation: OperationDefinitionNode | None = None
        self.operation_type: str | None = None
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        self.conditions: tuple[str, ...] = ()
        self.has_variables = False
        self.prefix = INTERNAL_PREFIX
        self.plans: dict[tuple[bool, ...], QueryPlan | list[dict[str, Any]]] = {}


class Executor:
    """Executes GraphQL operations over one supergraph. One instance per supergraph; safe for concurrent use."""

    def __init__(
        self, supergraph: Supergraph, transport: Transport, options: GatewayOptions = _DEFAULT_OPTIONS
    ) -> None:
        self.supergraph = supergraph
        self.schema: GraphQLSchema = supergraph.schema
        self.transport = transport
        self.options = options
        self._limits = DocumentLimits(
            max_depth=options.limits.max_depth,
            max_aliases=options.limits.max_aliases,
            max_cost=options.limits.max_cost,
        )
        self._cache: OrderedDict[tuple[str, str | None], _Document] = OrderedDict()
        self.cache_hits = 0  # documents served without parsing or validation
        self.cache_misses = 0
        self._inflight: dict[tuple[str, bytes, tuple[tuple[str, str], ...]], asyncio.Future[UpstreamResponse]] = {}
        self._reverse_types: dict[str, dict[str, str]] = {
            name: {upstream: product for product, upstream in sg.renames.types.items()}
            for name, sg in supergraph.subgraphs.items()
            if sg.renames.types
        }

    @property
    def cached_documents(self) -> int:
        return len(self._cache)

    # -- documents --

    def _document(self, document: str, operation_name: str | None) -> _Document:
        key = (document, operation_name)
        cache = self._cache
        entry = cache.get(key)
        if entry is not None:
            cache.move_to_end(key)
            self.cache_hits += 1
            return entry
        self.cache_misses += 1
        entry = self._prepare(document, operation_name)
        cache[key] = entry
        if len(cache) > self.options.plan_cache_size:
            cache.popitem(last=False)
        return entry

    async def _document_off_loop(self, document: str, operation_name: str | None) -> _Document:
        """:meth:`_document`, with a big new document parsed and validated in a worker thread (the loop's bounded
        default executor): a burst of 10k-token documents held /healthz for seconds on the event loop."""
        if len(document) < _PREPARE_INLINE_CHARS or (document, operation_name) in self._cache:
            return self._document(document, operation_name)
        self.cache_misses += 1
        entry = await asyncio.to_thread(self._prepare, document, operation_name)
        cache = self._cache
        cache[(document, operation_name)] = entry  # back on the loop: the cache is only touched here
        if len(cache) > self.options.plan_cache_size:
            cache.popitem(last=False)
        return entry

    def _prepare(self, document: str, operation_name: str | None) -> _Document:
        entry = _Document()
        try:
            ast = parse(document, max_tokens=_MAX_TOKENS)
        except GraphQLError as exc:
            entry.errors = [_graphql_error(exc, "GRAPHQL_PARSE_FAILED")]
            return entry
        except RecursionError:
            entry.errors = [
                {"message": "The document is nested too deeply", "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}
            ]
            return entry
        operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
        operation: OperationDefinitionNode | None = None
        if operation_name is None:
            if len(operations) == 1:
                operation = operations[0]
        else:
            operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
        if operation is not None:
            entry.operation_type = operation.operation.value
            try:
                entry.cost = check_document(ast, operation, self.schema, self._limits)
            except LimitExceeded as exc:
                entry.errors = [_limit_error(exc)]
                return entry
        try:
            errors = validate(self.schema, ast, max_errors=20)
        except RecursionError:
            errors = [GraphQLError("The document is nested too deeply")]
        if errors:
            entry.errors = [_graphql_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]
            if not self.options.introspection:  # suggestions would reveal the schema introspection hides
                for error in entry.errors:
                    error["message"] = _SUGGESTION.sub("", str(error["message"]))
            return entry
        if operation is None:
            if operation_name is not None:
                message = f"Unknown operation named {operation_name!r}."
            elif not operations:
                message = "The document contains no operation."
            else:
                message = "The document has several operations: pass operationName to pick one."
            entry.errors = [{"message": message, "extensions": {"code": "OPERATION_RESOLUTION_FAILURE"}}]
            return entry
        if not self.options.introspection and _uses_introspection(ast):
            entry.errors = [
                {
                    "message": "GraphQL introspection is disabled on this gateway; __schema and __type are refused.",
                    "extensions": {"code": "INTROSPECTION_DISABLED"},
                }
            ]
            return entry
        entry.operation = operation
        entry.fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
        entry.conditions = condition_variables(operation, entry.fragments)
        entry.has_variables = bool(operation.variable_definitions)
        entry.prefix = internal_prefix(document)
        return entry

    def _plan(self, entry: _Document, coerced: Mapping[str, Any]) -> QueryPlan | list[dict[str, Any]]:
        conditions = tuple(bool(coerced.get(name)) for name in entry.conditions)
        plan = entry.plans.get(conditions)
        if plan is None:
            assert entry.operation is not None
            try:
                plan = build_plan(
                    self.supergraph,
                    entry.operation,
                    entry.fragments,
                    dict(zip(entry.conditions, conditions, strict=True)),
                    entry.prefix,
                )
                mark_fresh_fetches(plan)
            except PlanningError as exc:
                plan = [{"message": str(exc), "extensions": {"code": "QUERY_PLANNING_FAILED"}}]
            except RecursionError:  # a planner bug must still answer as GraphQL, never as HTTP 500
                log.exception("planning recursed without end")
                plan = [
                    {
                        "message": "The gateway could not plan this operation over the supergraph (planning did not "
                        "terminate); report it with the document and the supergraph",
                        "extensions": {"code": "QUERY_PLANNING_FAILED"},
                    }
                ]
            if len(entry.plans) >= _MAX_PLANS_PER_DOCUMENT:
                entry.plans.pop(next(iter(entry.plans)))
            entry.plans[conditions] = plan
        return plan

    # -- execution --

    async def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> ExecutionResponse:
        entry = await self._document_off_loop(document, operation_name)
        if entry.errors is not None:  # cached refusal: a copy, so a caller that edits it cannot alter the cache
            return ExecutionResponse(None, [dict(e) for e in entry.errors], True, entry.operation_type)
        operation = entry.operation
        assert operation is not None
        raw: Mapping[str, Any] = variables if variables is not None else {}
        coerced: Mapping[str, Any] = raw
        variable_values: Any = None
        if entry.has_variables:
            if not isinstance(raw, Mapping):
                return _bad_input(["Variables must be a JSON object."], entry.operation_type)
            result = get_variable_values(self.schema, operation.variable_definitions or (), dict(raw), max_errors=20)
            if isinstance(result, list):
                return _bad_input([e.message for e in result], entry.operation_type)
            variable_values = result
            coerced = getattr(result, "coerced", variable_values)  # graphql-core 3.3: VariableValues; 3.2: a dict
            if entry.cost is not None:  # a page size passed as $n costs what the same literal costs
                try:
                    entry.cost.check(self._limits, coerced)
                except LimitExceeded as exc:
                    error = {
                        "message": str(exc),
                        "extensions": {"code": exc.code, "value": exc.value, "maximum": exc.maximum},
                    }
                    return ExecutionResponse(None, [error], True, entry.operation_type)
        plan = self._plan(entry, coerced)
        if isinstance(plan, list):
            return ExecutionResponse(None, [dict(e) for e in plan], True, entry.operation_type)
        run = _Run(self, raw, coerced)
        if plan.internal_prefix != INTERNAL_PREFIX:
            run.prefix, run.reps_variable, run.key_variable = (
                plan.internal_prefix,
                plan.reps_variable,
                plan.key_variable,
            )
        run.variable_values = variable_values
        if headers is not None and self.options.upstream.forward_headers:
            forwarded = dict(_JSON_HEADERS)
            for name in self.options.upstream.forward_headers:
                value = headers.get(name)
                if value is not None:
                    forwarded[name] = value
            run.headers = forwarded
            run.query_headers = {**forwarded, SAFE_RETRY[0]: SAFE_RETRY[1]}
        if plan.introspection is not None:
            self._introspect(plan, entry, run)
        if plan.levels and self.options.upstream.batch_levels:
            await self._run_levels(plan, run)
        else:
            for stage in plan.stages:
                if len(stage) == 1:
                    await self._run_node(stage[0], run, None, 0)
                else:
                    await asyncio.gather(*(self._run_node(node, run, None, 0) for node in stage))
        run.track = bool(run.errors)
        data = _shape_object(run.data, plan.root, None, run)
        if data is _INVALID:
            data = None
            run.nulled.append(None)
        if run.errors:
            if run.nulled:
                run.errors = _reached_errors(run)
            _locate_errors(run.errors, entry)
        return ExecutionResponse(data, run.errors or None, False, plan.operation)

    def _introspect(self, plan: QueryPlan, entry: _Document, run: _Run) -> None:
        assert plan.introspection is not None
        document = DocumentNode(definitions=(plan.introspection, *entry.fragments.values()))
        result = execute_sync(self.schema, document, variable_values=dict(run.coerced))
        if result.data:
            run.data.update(result.data)
        for error in result.errors or ():
            run.add_error(dict(error.formatted))

    async def _run_levels(self, plan: QueryPlan, run: _Run) -> None:
        """Queries: root fetches in parallel, then each level's batches in parallel, level after level."""
        objects_of: dict[int, list[Any]] = {}
        roots = [node for stage in plan.stages for node in stage]
        subgraphs = self.supergraph.subgraphs
        if len(roots) == 1:
            oks = [await self._root_fetch(roots[0], subgraphs[roots[0].subgraph], run)]
        else:
            oks = await asyncio.gather(*(self._root_fetch(node, subgraphs[node.subgraph], run) for node in roots))
        for node, ok in zip(roots, oks, strict=True):
            if ok:
                objects_of[id(node)] = [run.data]
        for level in plan.levels:
            work = []
            for batch in level:
                prepared: list[tuple[FetchNode, list[Any]]] = []
                for node in batch.nodes:
                    parent = node.parent
                    base = objects_of.get(id(parent)) if parent is not None else None
                    if base is None or parent is None:
                        continue  # the parent failed or found nothing
                    objects = _walk(base, node.path, 0 if parent.kind == "root" else len(parent.path))
                    if objects:
                        prepared.append((node, objects))
                if prepared:
                    work.append(self._run_batch(batch, prepared, run, objects_of))
            if len(work) == 1:
                await work[0]
            elif work:
                await _together(work)

    async def _run_batch(
        self,
        batch: FetchBatch,
        prepared: list[tuple[FetchNode, list[Any]]],
        run: _Run,
        objects_of: dict[int, list[Any]],
    ) -> None:
        subgraph = self.supergraph.subgraphs[batch.subgraph]
        if len(prepared) == 1:
            node, objects = prepared[0]
            if await self._fetch_entities(node, subgraph, run, objects):
                objects_of[id(node)] = objects
            return
        raw = run.variables
        variables = {name: raw[name] for name in batch.variables if name in raw}
        by_node = {id(node): objects for node, objects in prepared}
        parts: list[tuple[FetchNode, list[Any], list[list[dict[str, Any]]], list[str]]] = []
        for index, node in enumerate(batch.nodes):
            objects = by_node.get(id(node), [])
            reps, groups, types = self._representations(node, objects) if objects else ([], [], [])
            variables[f"{run.reps_variable}{index}"] = reps
            parts.append((node, objects, groups, types))
        if not any(groups for _node, _objects, groups, _types in parts):
            return
        data, errors, failure = await self._graphql(batch.nodes[0], subgraph, run, batch.query, variables)
        if errors:
            aliases = {f"_e{index}": index for index in range(len(parts))}
            for error in errors:
                error_path = error.get("path")
                at = aliases.get(error_path[0]) if isinstance(error_path, list) and error_path else None
                if at is None or not isinstance(error_path, list):
                    run.add_error(_pass_through(error, None, run.prefix, drop_path=True))
                else:
                    self._entity_errors(parts[at][0], run, [error], parts[at][2], (error_path[0],))
        for index, (node, objects, groups, types) in enumerate(parts):
            if not groups:
                continue
            entities = data.get(f"_e{index}") if data is not None else None
            if failure is not None or not isinstance(entities, list):
                self._fail_objects(node, run, groups, types, failure)
                continue
            _merge_entities(entities, groups, node.fresh)
            objects_of[id(node)] = objects

    async def _run_node(self, node: FetchNode, run: _Run, base: list[Any] | None, depth: int) -> None:
        """Run one fetch, then its children stage by stage. ``base`` holds the objects at the first ``depth`` steps
        of ``node.path`` (the parent's objects), so a child walks only the rest of its path."""
        subgraph = self.supergraph.subgraphs[node.subgraph]
        objects: list[Any]
        if node.kind == "root":
            ok = await self._root_fetch(node, subgraph, run)
            objects = [run.data]
            depth = 0
        else:
            objects = _walk(base if base is not None else [run.data], node.path, depth)
            depth = len(node.path)
            if not objects:
                return
            ok = await self._fetch_entities(node, subgraph, run, objects)
        if not ok:
            return
        for stage in node.stages:
            if len(stage) == 1:
                await self._run_node(stage[0], run, objects, depth)
            else:
                await asyncio.gather(*(self._run_node(child, run, objects, depth) for child in stage))

    def _fetch_entities(self, node: FetchNode, subgraph: Subgraph, run: _Run, objects: list[Any]) -> Awaitable[bool]:
        """One entity fetch by the subgraph's kind: ``_entities``, a REST operation or a merge-config field."""
        if subgraph.kind is SourceKind.FEDERATION or not any(t.resolver for t in node.targets.values()):
            return self._entity_fetch(node, subgraph, run, objects)
        if subgraph.kind is SourceKind.OPENAPI:
            return self._rest_entity_fetch(node, subgraph, run, objects)
        return self._resolver_fetch(node, subgraph, run, objects)

    def _variables(self, node: FetchNode, run: _Run) -> dict[str, Any]:
        raw = run.variables
        return {name: raw[name] for name in node.variables if name in raw}

    async def _graphql(
        self, node: FetchNode, subgraph: Subgraph, run: _Run, query: str, variables: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None]:
        """POST one GraphQL request; returns (data, upstream errors, failure error without path)."""
        if subgraph.url is None:
            return None, [], _failure(f"Subgraph {subgraph.name!r} has no URL", "UPSTREAM_ERROR", subgraph.name)
        body = _encode({"query": query, "variables": variables} if variables else {"query": query})
        try:
            safe = node.operation == "query"
            response = await self._send(subgraph.url, body, run.query_headers if safe else run.headers, safe)
        except Exception as exc:
            return None, [], _upstream_failure(subgraph.name, exc)
        try:
            payload = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
            if response.status != 200:
                failure = _failure(
                    f"Subgraph {subgraph.name!r} answered HTTP {response.status}",
                    f"UPSTREAM_HTTP_{response.status}",
                    subgraph.name,
                )
                failure["extensions"]["status"] = response.status
                return None, [], failure
            return (
                None,
                [],
                _failure(
                    f"Subgraph {subgraph.name!r} returned a response that is not a GraphQL result",
                    "UPSTREAM_INVALID_RESPONSE",
                    subgraph.name,
                ),
            )
        data = payload.get("data")
        errors = payload.get("errors") or []
        if not isinstance(errors, list):
            errors = []
        if data is not None and not isinstance(data, dict):
            data = None
        if data is None and not errors:
            return None, [], _failure(f"Subgraph {subgraph.name!r} returned no data", "UPSTREAM_ERROR", subgraph.name)
        reverse = self._reverse_types.get(subgraph.name)
        if reverse and data is not None:
            _rename_typenames(data, reverse)
        return data, [e for e in errors if isinstance(e, dict)], None

    async def _send(self, url: str, body: bytes, headers: dict[str, str], query: bool) -> UpstreamResponse:
        """POST ``body`` to ``url``; ``headers`` are the run's (with SAFE_RETRY for a query: ``run.query_headers``)."""
        timeout = self.options.timeouts.upstream_seconds
        if not (query and self.options.upstream.dedupe_inflight):
            return await self.transport.request("POST", url, headers=headers, body=body, timeout=timeout)
        key = (url, body, tuple(sorted(headers.items())) if headers is not _QUERY_HEADERS else ())
        pending = self._inflight.get(key)
        if pending is None:
            # The shared call is its own task, so a caller that goes away (client disconnect) cancels only its wait.
            pending = asyncio.ensure_future(
                self.transport.request("POST", url, headers=headers, body=body, timeout=timeout)
            )
            self._inflight[key] = pending
            pending.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(pending)

    def _forget(
        self, key: tuple[str, bytes, tuple[tuple[str, str], ...]], done: asyncio.Future[UpstreamResponse]
    ) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter got it already; no "never retrieved" warning

    async def _root_fetch(self, node: FetchNode, subgraph: Subgraph, run: _Run) -> bool:
        if subgraph.kind is SourceKind.OPENAPI:
            return await self._rest_root_fetch(node, subgraph, run)
        data, errors, failure = await self._graphql(node, subgraph, run, node.query, self._variables(node, run))
        for error in errors:
            run.add_error(_pass_through(error, None, run.prefix))
        if failure is not None or data is None:
            for key, _name, _ast in node.root_fields:
                run.data[key] = None
                if failure is not None:
                    run.add_error({**failure, "path": [key]})
            return False
        _merge(run.data, data)
        return True

    async def _rest_call(
        self, subgraph: Subgraph, root: str, field_name: str, arguments: Mapping[str, Any], run: _Run
    ) -> tuple[Any, dict[str, Any] | None, bool]:
        """One REST request for root field ``root.field_name`` (upstream names); returns (shaped value, failure,
        whether the value holds :class:`~stitcher.rest.InvalidValue` positions for :meth:`_settle` to report)."""
        root_type = subgraph.schema.get_type(root) if subgraph.schema is not None else None
        if subgraph.url is None or not isinstance(root_type, GraphQLObjectType) or field_name not in root_type.fields:
            message = f"Subgraph {subgraph.name!r} has no URL or no REST operation for {root}.{field_name}"
            return None, _failure(message, "UPSTREAM_ERROR", subgraph.name), False
        return_type = root_type.fields[field_name].type
        try:
            request = build_request(subgraph, root, field_name, arguments)
        except StitcherError as exc:
            return None, _failure(f"Subgraph {subgraph.name!r}: {exc}", "UPSTREAM_ERROR", subgraph.name), False
        url = request.url(subgraph.url)  # percent-encoded by stitcher.rest: sent as it is
        headers = request.headers
        if request.method in _SAFE_METHODS:
            headers = {**headers, SAFE_RETRY[0]: SAFE_RETRY[1]}
        try:
            response = await self.transport.request(
                request.method, url, headers=headers, body=request.body, timeout=self.options.timeouts.upstream_seconds
            )
        except Exception as exc:
            return None, _upstream_failure(subgraph.name, exc), False
        invalid: list[InvalidValue] = []
        try:
            check_status(response.status, response.body)
            value = shape_result(subgraph, return_type, response.body, invalid, response.status)
        except RestStatusError as exc:
            failure = _failure(f"Subgraph {subgraph.name!r}: {exc}", f"UPSTREAM_HTTP_{exc.status}", subgraph.name)
            failure["extensions"]["status"] = exc.status
            return None, failure, False
        except RestResponseError as exc:
            message = f"Subgraph {subgraph.name!r}: {exc}"
            return None, _failure(message, "UPSTREAM_INVALID_RESPONSE", subgraph.name), False
        reverse = self._reverse_types.get(subgraph.name)
        if reverse:
            _rename_typenames(value, reverse)
        return value, None, bool(invalid)

    @staticmethod
    def _settle(value: Any, base: list[Any], subgraph: Subgraph, run: _Run) -> Any:
        """Values of a REST answer that its schema cannot represent become null and a field error at their path."""
        value, found = settle(value)
        for relative, message in found:
            if any(isinstance(key, str) and key.startswith(run.prefix) for key in relative):
                continue  # a field only the gateway asked for (a key): the fetch that needs it reports the null
            extensions = {"code": "UPSTREAM_INVALID_VALUE", "subgraph": subgraph.name}
            run.add_error({"message": message, "path": [*base, *relative], "extensions": extensions})
        return value

    async def _rest_root_fetch(self, node: FetchNode, subgraph: Subgraph, run: _Run) -> bool:
        root_name = "Mutation" if node.operation == "mutation" else "Query"
        product_root = self.schema.mutation_type if node.operation == "mutation" else self.schema.query_type
        assert product_root is not None
        ok = True
        for key, name, ast in node.root_fields:
            definition = product_root.fields[name]
            try:
                arguments = get_argument_values(definition, ast, run.variable_values)
            except GraphQLError as exc:
                run.data[key] = None
                run.add_error({"message": exc.message, "path": [key], "extensions": {"code": "BAD_USER_INPUT"}})
                ok = False
                continue
            upstream = subgraph.renames.upstream_field(product_root.name, name)
            value, failure, invalid = await self._rest_call(subgraph, root_name, upstream, arguments, run)
            if failure is not None:
                run.data[key] = None
                run.add_error({**failure, "path": [key]})
                ok = False
                continue
            item = node.selection.fields.get(key)
            run.data[key] = _project(value, item.selection if item is not None else None)
            if invalid:
                run.data[key] = self._settle(run.data[key], [key], subgraph, run)
        return ok

    async def _rest_entity_fetch(self, node: FetchNode, subgraph: Subgraph, run: _Run, objects: list[Any]) -> bool:
        """REST entities: a batched operation gets every key in one request, a single-key one a request per key,
        sent in parallel."""
        reps, groups, types = self._representations(node, objects)
        if not reps:
            return False
        calls: list[tuple[list[int], bool, Any]] = []
        for type_name, target in node.targets.items():
            resolver = target.resolver
            assert resolver is not None
            positions = [i for i, t in enumerate(types) if t == type_name]
            if not positions:
                continue
            if resolver.batched:
                arguments = {resolver.argument: [reps[i] for i in positions]}
                calls.append((positions, True, self._rest_call(subgraph, "Query", resolver.field, arguments, run)))
            else:
                for i in positions:
                    arguments = {resolver.argument: reps[i]} if resolver.argument else reps[i]
                    calls.append(([i], False, self._rest_call(subgraph, "Query", resolver.field, arguments, run)))
        results = await asyncio.gather(*(call for _p, _b, call in calls))
        any_ok = False
        paths: dict[int, list[Any]] | None = None
        for (positions, batched, _call), (value, failure, invalid) in zip(calls, results, strict=True):
            type_name = types[positions[0]]
            target = node.targets[type_name]
            if failure is not None:
                self._fail_objects(node, run, [groups[i] for i in positions], [types[i] for i in positions], failure)
                continue
            any_ok = True
            items = value if batched and isinstance(value, list) else [value]
            if batched:
                assert target.resolver is not None
                key_field = target.resolver.key
                by_key = {item.get(key_field): item for item in items if isinstance(item, dict)}
                matched = [by_key.get(reps[i]) for i in positions]
                if target.resolver.link is not None or not any(m is not None for m in matched):
                    matched = list(items)  # no key in the result: the operation returns them in key order
            else:
                matched = items
            link = target.resolver.link if target.resolver is not None else None
            for i, item in zip(positions, matched, strict=False):
                if isinstance(item, dict) or link is not None:
                    projected = (
                        _project(item, target.selection)
                        if link is None
                        else {key: _project(item, part.selection) for key, part in target.selection.fields.items()}
                    )
                    for obj in groups[i]:
                        if invalid:
                            paths = self._object_paths(node, run) if paths is None else paths
                            _merge(obj, self._settle(copy.deepcopy(projected), paths.get(id(obj), []), subgraph, run))
                        else:
                            _merge(obj, projected)
        return any_ok

    def _object_paths(self, node: FetchNode, run: _Run) -> dict[int, list[Any]]:
        level: list[tuple[Any, list[Any]]] = [(run.data, [])]
        for key, types in node.path:
            found: list[tuple[Any, list[Any]]] = []
            for obj, path in level:
                _flatten_paths(obj.get(key), [*path, key], found)
            if types is not None:
                found = [(o, p) for o, p in found if o.get("__typename") in types]
            level = found
        return {id(o): p for o, p in level}

    def _representations(
        self, node: FetchNode, objects: list[Any]
    ) -> tuple[list[Any], list[list[dict[str, Any]]], list[str]]:
        """Unique representations (deduplicated), the objects each one stands for, and the target type of each."""
        reps: list[Any] = []
        groups: list[list[dict[str, Any]]] = []
        types: list[str] = []
        index: dict[Any, int] = {}
        default = node.default_type
        targets = node.targets
        if default is not None and len(targets) == 1:
            target = targets.get(default)
            if target is not None and target.resolver is None and not target.cuts and target.representation:
                return _concrete_representations(objects, default, target)
        for obj in objects:
            type_name: str | None = obj.get("__typename") or default
            target = targets.get(type_name) if type_name is not None else None
            if target is None or type_name is None:
                continue
            values = [obj.get(read) for _name, read in target.representation]
            for at, tree in target.cuts:
                values[at] = _cut(values[at], tree)
            if values and values[0] is None:
                continue  # no key: the parent returned a partial object; its fields stay null
            try:
                dedupe_key: Any = (type_name, *values)
                position = index.get(dedupe_key)
            except TypeError:  # nested key values (dicts) are not hashable
                dedupe_key = orjson.dumps([type_name, values], option=orjson.OPT_SORT_KEYS)
                position = index.get(dedupe_key)
            if position is None:
                index[dedupe_key] = len(reps)
                groups.append([obj])
                types.append(type_name)
                resolver = target.resolver
                if resolver is not None:
                    # A compound key is one value per key field, keyed by the argument or input field receiving it.
                    names = resolver.key_arguments
                    reps.append(dict(zip(names, values, strict=False)) if names else values[0])
                else:
                    rep: dict[str, Any] = {"__typename": target.upstream_type}
                    for (name, _read), value in zip(target.representation, values, strict=True):
                        rep[name] = value
                    reps.append(rep)
            else:
                groups[position].append(obj)
        return reps, groups, types

    async def _entity_fetch(self, node: FetchNode, subgraph: Subgraph, run: _Run, objects: list[Any]) -> bool:
        reps, groups, types = self._representations(node, objects)
        if not reps:
            return False
        variables = self._variables(node, run)
        variables[run.reps_variable] = reps
        data, errors, failure = await self._graphql(node, subgraph, run, node.query, variables)
        entities = data.get("_entities") if data is not None else None
        if errors:
            self._entity_errors(node, run, errors, groups, ("_entities",))
        if failure is not None or not isinstance(entities, list):
            self._fail_objects(node, run, groups, types, failure)
            return False
        _merge_entities(entities, groups, node.fresh)
        return True

    async def _resolver_fetch(self, node: FetchNode, subgraph: Subgraph, run: _Run, objects: list[Any]) -> bool:
        """Plain GraphQL entities through the merge-config field: a batched list argument, or one aliased call per
        key, all in ONE request."""
        reps, groups, types = self._representations(node, objects)
        if not reps:
            return False
        variables = self._variables(node, run)
        k = run.key_variable
        fields: list[str] = []
        definitions: list[str] = [node.variable_definitions] if node.variable_definitions else []
        slots: list[tuple[str, list[int], bool, str | None]] = []  # (alias, rep positions, batched, link key)
        for type_name, target in node.targets.items():
            resolver = target.resolver
            assert resolver is not None
            positions = [i for i, t in enumerate(types) if t == type_name]
            if not positions:
                continue
            field = subgraph.renames.upstream_field("Query", resolver.field)
            for part, selection in link_parts(target):
                if resolver.batched:
                    alias = f"_e{len(slots)}"
                    variables[f"{k}{len(slots)}"] = [reps[i] for i in positions]
                    definitions.append(f"${k}{len(slots)}: {target.resolver_argument_type}")
                    fields.append(f"{alias}: {field}({resolver.argument}: ${k}{len(slots)}){selection}")
                    slots.append((alias, positions, True, part))
                elif resolver.argument:
                    for i in positions:
                        alias = f"_e{len(slots)}"
                        variables[f"{k}{len(slots)}"] = reps[i]
                        definitions.append(f"${k}{len(slots)}: {target.resolver_argument_type}")
                        fields.append(f"{alias}: {field}({resolver.argument}: ${k}{len(slots)}){selection}")
                        slots.append((alias, [i], False, part))
                else:  # a compound key, one argument per key field
                    for i in positions:
                        slot = len(slots)
                        passed: list[str] = []
                        for n, (name, type_text) in enumerate(
                            zip(resolver.key_arguments, target.resolver_key_types, strict=True)
                        ):
                            variables[f"{k}{slot}_{n}"] = reps[i][name]
                            definitions.append(f"${k}{slot}_{n}: {type_text}")
                            passed.append(f"{name}: ${k}{slot}_{n}")
                        fields.append(f"_e{slot}: {field}({', '.join(passed)}){selection}")
                        slots.append((f"_e{slot}", [i], False, part))
        query = "query(" + ", ".join(definitions) + ")" + node.operation_directives + "{" + " ".join(fields) + "}"
        data, errors, failure = await self._graphql(node, subgraph, run, query, variables)
        if errors:
            self._resolver_errors(node, run, errors, groups, slots)
        if failure is not None or data is None:
            self._fail_objects(node, run, groups, types, failure)
            return False
        for alias, positions, batched, part in slots:
            value = data.get(alias)
            results = value if batched else [value]
            if not isinstance(results, list):
                continue
            for position, result in zip(positions, results, strict=False):
                merged = linked_value(part, result)
                if merged is not None:
                    for obj in groups[position]:
                        _merge(obj, merged)
        return True

    def _entity_errors(
        self,
        node: FetchNode,
        run: _Run,
        errors: list[dict[str, Any]],
        groups: list[list[dict[str, Any]]],
        prefix: tuple[str, ...],
    ) -> None:
        paths: dict[int, list[Any]] | None = None
        for error in errors:
            path = error.get("path")
            if isinstance(path, list) and len(path) >= 2 and path[0] == prefix[0] and isinstance(path[1], int):
                if paths is None:
                    paths = self._object_paths(node, run)
                position = path[1]
                base = paths.get(id(groups[position][0])) if 0 <= position < len(groups) else None
                run.add_error(_pass_through(error, [*base, *path[2:]] if base is not None else None, run.prefix))
            else:
                run.add_error(_pass_through(error, None, run.prefix, drop_path=True))

    def _resolver_errors(
        self,
        node: FetchNode,
        run: _Run,
        errors: list[dict[str, Any]],
        groups: list[list[dict[str, Any]]],
        slots: list[tuple[str, list[int], bool, str | None]],
    ) -> None:
        by_alias = {alias: (positions, batched, part) for alias, positions, batched, part in slots}
        paths: dict[int, list[Any]] | None = None
        for error in errors:
            path = error.get("path")
            slot = by_alias.get(path[0]) if isinstance(path, list) and path else None
            if slot is None or not isinstance(path, list):
                run.add_error(_pass_through(error, None, run.prefix, drop_path=True))
                continue
            positions, batched, part = slot
            rest = path[1:]
            position = positions[0]
            if batched and rest and isinstance(rest[0], int) and rest[0] < len(positions):
                position, rest = positions[rest[0]], rest[1:]
            if part is not None:  # a link's result is the value of the link field
                rest = [part, *rest]
            if paths is None:
                paths = self._object_paths(node, run)
            base = paths.get(id(groups[position][0]))
            run.add_error(_pass_through(error, [*base, *rest] if base is not None else None, run.prefix))

    def _fail_objects(
        self,
        node: FetchNode,
        run: _Run,
        groups: list[list[dict[str, Any]]],
        types: list[str],
        failure: dict[str, Any] | None,
    ) -> None:
        """A failed entity fetch: its fields stay null; one error per affected field (capped), each with a path."""
        if failure is None:
            return
        paths = self._object_paths(node, run)
        reported = 0
        for group, type_name in zip(groups, types, strict=True):
            keys = [k for k in node.targets[type_name].selection.fields if not k.startswith(run.prefix)]
            # A fetch of the concrete __typename only (interface objects): the object itself is lost.
            suffixes = [[key] for key in keys] or [[]]
            for obj in group:
                base = paths.get(id(obj))
                if base is None:
                    continue
                for suffix in suffixes:
                    path = _client_path([*base, *suffix], run.prefix)
                    if reported < _MAX_FETCH_ERRORS:
                        run.add_error({**failure, "path": path})
                        reported += 1
                    else:
                        for end in range(1, len(path) + 1):
                            run.error_paths.add(tuple(path[:end]))
        if reported == 0:
            run.add_error(failure)


async def _together(work: list[Coroutine[Any, Any, None]]) -> None:
    """Await ``work`` concurrently, like ``asyncio.gather`` with one task fewer and no gathering future: the first
    runs in the current task, the others as tasks started in order right after it reaches its first wait (the order
    gather starts them in). If anything fails or the current task is cancelled, the tasks still running are
    cancelled and the first exception propagates."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in work[1:]]
    try:
        await work[0]
        for task in tasks:
            await task
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def _bad_input(messages: list[str], operation_type: str | None) -> ExecutionResponse:
    # graphql-core speaks Python ("not to be None"); clients send JSON.
    errors = [
        {"message": message.replace(" to be None.", " to be null."), "extensions": {"code": "BAD_USER_INPUT"}}
        for message in messages
    ]
    return ExecutionResponse(None, errors, True, operation_type)


def _uses_introspection(document: DocumentNode) -> bool:
    found = False

    class _Find(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal found
            if node.name.value in ("__schema", "__type"):
                found = True

    visit(document, _Find())
    return found
