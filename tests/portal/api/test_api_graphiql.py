"""The admin API's GraphiQL page works offline: every script and stylesheet it loads is served by the portal."""

from __future__ import annotations

import re

import httpx

from portal.api.schema import PATH


async def test_graphiql_loads_only_assets_the_portal_serves(client: httpx.AsyncClient) -> None:
    page = await client.get(PATH, headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    assert not [a for a in assets if not a.startswith("/")], "GraphiQL must not load anything from another origin"
    for asset in assets:
        answer = await client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 1000, asset
    assert f'url: "{PATH}"' in page.text
