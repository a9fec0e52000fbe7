"""GraphiQL, served from the vendored assets in ``static/graphiql/`` (no CDN: many users have no internet)."""

from __future__ import annotations

import html
import json
from pathlib import Path

__all__ = ["ASSETS_DIR", "ASSETS_PATH", "graphiql_html"]

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/_loom/graphiql"  # where the app mounts ASSETS_DIR

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{assets}/react.production.min.js"></script>
<script src="{assets}/react-dom.production.min.js"></script>
<script src="{assets}/graphiql.min.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({{ url: {endpoint} }});
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{ fetcher, defaultHeaders: {headers}, shouldPersistHeaders: true }})
  );
</script>
</body>
</html>
"""


def graphiql_html(endpoint: str, *, title: str, root_path: str = "", default_headers: str = "") -> str:
    """The GraphiQL page for ``endpoint``; ``default_headers`` pre-fills the headers editor (e.g. an API key)."""
    return _PAGE.format(
        title=html.escape(title),
        assets=html.escape(root_path + ASSETS_PATH),
        # json.dumps makes a JS string literal; escaping "<" keeps a crafted value from closing the script tag.
        endpoint=json.dumps(endpoint).replace("<", "\\u003c"),
        headers=json.dumps(default_headers).replace("<", "\\u003c"),
    )
