"""Security headers on every portal response: no framing, a strict Content-Security-Policy, no MIME sniffing, no
referrer to other sites.

The policy allows scripts from the portal itself and, by hash, the one inline script the portal serves: the admin
GraphiQL page's (``stitcher.graphiql``, for ``/api/graphql``); no other inline script runs. Styles may be inline
(GraphiQL's editor sets them at run time); fonts and images may be ``data:`` URIs (GraphiQL's stylesheet embeds
them). A response that sets one of these headers itself keeps its own value. Paths served by a mounted app with its
own rules (the embedded gateway under ``loom serve``: its GraphiQL pages and its sandboxed pass-through) get none.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stitcher.graphiql import graphiql_html

__all__ = ["SecurityHeaders", "content_security_policy", "inline_script_hashes"]

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(page: str) -> list[str]:
    """The CSP source expressions (``'sha256-...'``) of the inline scripts of ``page``."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    ]


def content_security_policy(graphql_path: str = "/api/graphql") -> str:
    """The portal's policy; the admin GraphiQL page's inline script (which names only ``graphql_path``) is
    allowed by its hash."""
    scripts = " ".join(["'self'", *inline_script_hashes(graphiql_html(graphql_path, title=""))])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """Adds the headers to every HTTP response whose path is not under one of ``exempt_prefixes``."""

    def __init__(self, app: ASGIApp, *, exempt_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.exempt_prefixes = tuple(prefix.rstrip("/") + "/" for prefix in exempt_prefixes)
        self.headers = {
            "content-security-policy": content_security_policy(),
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "cross-origin-opener-policy": "same-origin",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
