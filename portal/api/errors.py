"""GraphQL errors with a code: every error the admin API returns has ``extensions.code``.

- A ``portal.errors.LoomError`` keeps its message and gets its code (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND,
  INVALID, CONFLICT); ``extensions.path`` names the field to fix when the error knows it.
- A GraphQL syntax or validation error, or a variable of the wrong type, is the caller's input: INVALID.
- Anything else is a bug: it is logged with its traceback and the request id, and the caller gets INTERNAL with the
  request id and no detail, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLInputObjectType
from strawberry import Schema
from strawberry.types import ExecutionContext

from portal.errors import ErrorCode, LoomError

__all__ = ["INTERNAL", "LoomSchema", "format_error", "loom_error_of"]

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
        if loom.path:
            extensions["field"] = loom.path
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
