"""The REST pass-through's request hygiene: which client headers reach an upstream, and which paths are refused.

``/products/<p>/rest/<service>/<path>`` forwards a consumer's request to an OpenAPI service's base URL. Two things
must not pass with it:

* Headers an upstream (or a proxy in front of it) trusts to say who the client is or what to do: ``X-Forwarded-*``,
  ``Forwarded``, ``X-Real-IP`` (a consumer would choose their own address), ``X-Original-URL``/``X-Rewrite-URL``
  (route past the path the gateway checked), ``X-HTTP-Method-Override``/``X-Method-Override`` (turn a GET the
  gateway let through into a DELETE); the hop-by-hop headers of RFC 9110 section 7.6.1 and every header the request's
  ``Connection`` names; and the gateway's own credentials.
* Paths that leave the service's base URL on some upstream: ``..`` segments, also with a matrix parameter
  (``..;/``, Tomcat), behind a backslash (``..\\`` or ``..%5C``, IIS) or percent-encoded once or twice
  (``%2e%2e``, ``%252e``); and ``.`` segments, which no REST path needs (the server decoded the path once, so
  a ``.`` may have been ``%2e``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from stitcher.errors import StitcherError

__all__ = ["UnsafePath", "check_path", "forwarded_headers"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_SPOOFABLE = frozenset(
    {
        "forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-original-url",
        "x-rewrite-url",
        "x-original-uri",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    }
)
# The transport sets these itself; the credentials are the gateway's, never the upstream's.
_OWN = frozenset({"host", "content-length", "x-api-key", "authorization", "cookie"})
_SEGMENT = re.compile(r"[/\\]")
_MAX_DECODES = 3


class UnsafePath(StitcherError):
    """A pass-through path that could leave the service's base URL; the message says which part (answer 400)."""


def forwarded_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The client headers (lower-case names) that may reach an upstream."""
    items = [(name.lower(), value) for name, value in headers]
    named = {token.strip().lower() for name, value in items if name == "connection" for token in value.split(",")}
    return {
        name: value
        for name, value in items
        if name not in _HOP_BY_HOP
        and name not in _SPOOFABLE
        and name not in _OWN
        and name not in named
        and not name.startswith("x-forwarded-")
    }


def check_path(path: str) -> None:
    """Raise :class:`UnsafePath` when ``path`` (the request path as decoded once by the server) holds a dot segment
    that an upstream could resolve above the service's base URL: ``..`` at any decoding depth, with or without
    ``;params``, split by ``/`` or ``\\``, and any ``.`` segment (it may have been ``%2e``)."""
    current = path
    for depth in range(_MAX_DECODES + 1):
        for segment in _SEGMENT.split(current):
            name = segment.split(";", 1)[0]
            if name == "..":
                raise UnsafePath(
                    f"the path {path!r} holds a '..' segment"
                    + (" (percent-encoded)" if depth else "")
                    + "; a passed-through path must stay under its service's base URL"
                )
            if name == ".":  # the server decoded the path once: a "." here may have been "%2e"
                raise UnsafePath(f"the path {path!r} holds a '.' segment; send the path without dot segments")
        decoded = unquote(current)
        if decoded == current:
            return
        current = decoded
    raise UnsafePath(f"the path {path!r} is percent-encoded more than {_MAX_DECODES} times")
