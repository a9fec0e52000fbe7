"""GraphQL errors with a code: every error the admin API returns has ``extensions.code``.

- A ``portal.errors.LoomError`` keeps its message and gets its code (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND,
  INVALID, CONFLICT). When the error knows where the problem is, ``extensions.field`` is that place as one line and
  ``extensions.location`` the same in parts: ``{file, document, kind, name, field}`` (a document's number counts
  from 1 in the request's ``documents``; ``field`` a path like ``spec.deployments[0].cluster``, or an argument
  name), and ``extensions.detail`` the message without the place, so a form can show it beside that field.
  A refusal of the SSRF guard (a URL the portal will not fetch) says so: ``extensions.refusedBy: egress-guard``.
- A GraphQL syntax or validation error, or a variable of the wrong type, is the caller's input: INVALID.
- Anything else is a bug: it is logged with its traceback and the request id, and the caller gets INTERNAL with the
  request id and no detail, never a traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError, GraphQLInputObjectType
from strawberry import Schema
from strawberry.types import ExecutionContext

from portal.errors import ErrorCode, LoomError
from portal.ssrf import RefusedTarget

__all__ = ["INTERNAL", "LoomSchema", "format_error", "location_of", "loom_error_of"]

INTERNAL = "INTERNAL"
logger = logging.getLogger("portal.api")


def _root_cause(error: GraphQLError) -> BaseException | None:
    """The exception behind a GraphQL error: None when GraphQL itself refused the request (syntax, validation,
    variable coercion), which graphql-core may wrap in further GraphQL errors."""
    original: BaseException | None = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def loom_error_of(error: GraphQLError) -> LoomError | None:
    original = _root_cause(error)
    return original if isinstance(original, LoomError) else None


def _is_input_error(error: GraphQLError) -> bool:
    """Parse, validation and variable-coercion errors have no original exception: the query itself is wrong."""
    return _root_cause(error) is None


# "FILE: document N (Kind/name): field.path", every part after FILE optional; see portal.manifests.Document.where
_WHERE = re.compile(
    r"^(?P<file>[^:]+?): document (?P<document>\d+)(?: \((?P<kind>\w+)/(?P<name>[^)]*)\))?(?:: (?P<field>.+))?$",
    re.DOTALL,
)
_FILE = re.compile(r"^[\w.-]+\.(?:ya?ml|json|graphqls?|gql)$")


def location_of(path: str) -> dict[str, Any]:
    """A ``LoomError.path`` in parts: ``{file, document, kind, name, field}``, each null when the path lacks it."""
    location: dict[str, Any] = {"file": None, "document": None, "kind": None, "name": None, "field": None}
    found = _WHERE.match(path)
    if found is not None:
        location.update(found.groupdict())
        location["document"] = int(found["document"])
    elif _FILE.match(path):
        location["file"] = path
    else:
        location["field"] = path  # an argument or a field path
    return location


def format_error(error: GraphQLError, request_id: str | None) -> dict[str, Any]:
    """The JSON of one error, with ``extensions.code`` (and ``requestId`` for internal errors)."""
    formatted: dict[str, Any] = {"message": error.message}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = list(error.path)
    loom = loom_error_of(error)
    extensions: dict[str, Any]
    if loom is not None:
        formatted["message"] = str(loom)
        extensions = {"code": loom.code.value}
        if isinstance(loom, RefusedTarget):  # the SSRF guard: the UI explains the egress policy beside it
            extensions["refusedBy"] = "egress-guard"
        if loom.path:
            extensions["field"] = loom.path
            extensions["location"] = location_of(loom.path)
            extensions["detail"] = loom.message
    elif _is_input_error(error):
        extensions = {"code": ErrorCode.INVALID.value}
    else:
        formatted["message"] = f"internal error; report request id {request_id} to the operators"
        extensions = {"code": INTERNAL, "requestId": request_id}
    formatted["extensions"] = extensions
    return formatted


class LoomSchema(Schema):
    """A Strawberry schema that logs only unexpected errors: refusals and bad input are the caller's business."""

    def _extend_introspection(self) -> None:
        """Strawberry answers ``__Type.isOneOf`` for its own types by replacing the resolver of graphql-core's
        ``__Type``, which every schema in the process shares: every other input then said it was not @oneOf (the
        gateway that ``loom serve`` embeds introspected products wrongly). This resolver answers both."""
        super()._extend_introspection()
        self._schema.type_map["__Type"].fields["isOneOf"].resolve = _is_one_of  # type: ignore[attr-defined]

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if loom_error_of(error) is not None or _is_input_error(error):
                continue
            request_id = getattr(getattr(execution_context, "context", None), "request_id", None)
            logger.error("admin API internal error (request id %s)", request_id, exc_info=error.original_error or error)


def _is_one_of(type_: Any, _info: Any) -> bool | None:
    definition = (type_.extensions or {}).get("strawberry-definition")
    if definition is not None:
        return bool(definition.is_one_of)
    return type_.is_one_of if isinstance(type_, GraphQLInputObjectType) else None  # graphql-core's own answer
