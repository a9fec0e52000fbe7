"""The web UI: the single-page app built from ``frontend/`` (``make install`` runs ``npm ci`` and the build).

* ``GET`` on the UI's own paths (:data:`UI_PATHS`, and ``/catalog/<product>``) answers its ``index.html``; the
  browser's router takes it from there. Only these paths: every other path keeps the portal's own 404 and 405
  answers (a catch-all fallback would turn ``GET /logout`` or a mistyped API path into a page).
* The hashed files of the build are under :data:`ASSETS_PATH`, cached for a year (a new build has new names);
  ``index.html`` is never cached, so a new build is picked up at the next page load.
* Signing in is the portal's ``/login`` form (it works without JavaScript, and OIDC starts there): a UI path asked
  for without a session is redirected to it, with ``next`` bringing the person back. A signed-in page carries a
  ``<noscript>`` that names the user and points at the admin API, for a browser without JavaScript.

Everything is served from this origin and nothing inline runs, so the portal's Content-Security-Policy
(:mod:`portal._security_headers`) holds unchanged. The UI talks only to ``/api/graphql`` (session cookie and the
cross-site guard of :mod:`portal.login`) and, for its GraphiQL, to the products' gateway at ``/products/...``.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Receive, Scope, Send

from portal.authentication import request_actor
from portal.authorization import Actor
from portal.errors import LoomError

__all__ = ["ASSETS_PATH", "DEFAULT_DIST", "UI_PATHS", "WebUI", "routes"]

DEFAULT_DIST = Path(__file__).resolve().parents[1] / "frontend" / "dist"
"""Where ``npm run build`` writes the UI in a source checkout (``make install`` installs the portal editable)."""
ASSETS_PATH = "/_loom/ui"
"""The build's hashed files (Vite's ``assetsDir``); no portal or gateway route is under it."""
UI_PATHS = ("/", "/catalog", "/apps", "/subscriptions", "/publish", "/compose", "/fleet", "/audit")
"""The UI router's pages (``frontend/src/App.tsx``); ``/catalog/<product>`` too."""

_NOT_BUILT = (
    "<p><strong>The web UI is not built.</strong> Run <code>make install</code> (or <code>npm ci &amp;&amp; npm run "
    "build</code> in <code>frontend/</code>), then reload.</p>"
)


class _ImmutableFiles(StaticFiles):
    """The build's files: content-hashed names, so a browser may keep each for good."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


class WebUI:
    """The UI's page and files from ``dist`` (read on each request: a rebuild needs no restart)."""

    def __init__(self, dist: Path = DEFAULT_DIST) -> None:
        self.dist = dist
        self._files: _ImmutableFiles | None = None

    def index_html(self) -> str | None:
        try:
            return (self.dist / "index.html").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    async def page(self, request: Request) -> Response:
        try:
            actor = await request_actor(request)
        except LoomError:  # a stale or refused credential: sign in again, like having none
            actor = Actor.anonymous()
        if not actor.is_authenticated:
            return RedirectResponse(_sign_in(request), status_code=303)
        greeting = (
            f"<p>Signed in as <strong>{html.escape(actor.name)}</strong>. Without JavaScript, use the "
            '<a href="/api/graphql">admin API</a> or the <code>loom</code> command line.</p>'
            '<form method="post" action="/logout"><button type="submit">Sign out</button></form>'
        )
        index = self.index_html()
        if index is None:
            body = (
                '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Loom</title></head>'
                f"<body><main><h1>Loom</h1>{_NOT_BUILT}{greeting}</main></body></html>"
            )
        else:
            start, end = index.find("<noscript>"), index.find("</noscript>")
            noscript = f"<noscript>{greeting}</noscript>"
            body = index[:start] + noscript + index[end + len("</noscript>") :] if 0 <= start < end else index
        return HTMLResponse(body, headers={"cache-control": "no-cache"})

    async def assets(self, scope: Scope, receive: Receive, send: Send) -> None:
        directory = self.dist / ASSETS_PATH.lstrip("/")
        if not directory.is_dir():
            raise HTTPException(404)  # the portal's own 404; the page says how to build the UI
        if self._files is None:
            self._files = _ImmutableFiles(directory=directory)
        await self._files(scope, receive, send)


def _sign_in(request: Request) -> str:
    path = request.url.path
    if path == "/":
        return "/login"
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


def routes(dist: Path = DEFAULT_DIST) -> list[BaseRoute]:
    """The UI's routes, to add after the portal's own (``portal.server.build_app``)."""
    ui = WebUI(dist)
    return [
        *[Route(path, ui.page, methods=["GET"], name="home" if path == "/" else f"ui{path}") for path in UI_PATHS],
        Route("/catalog/{product}", ui.page, methods=["GET"], name="ui-product"),
        Mount(ASSETS_PATH, app=ui.assets, name="ui-assets"),
    ]
