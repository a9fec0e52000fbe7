"""The gateway snapshot's ETag through the real portal app: every relevant change made through the admin API gives a
new ETag (approving a subscription, revoking a credential, changing a plan, publishing a served service), and
changes that gateways do not care about (an application without credentials, a token, a refused or dry-run apply,
re-applying what is there) keep it, so gateways polling with If-None-Match get 304."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from stitcher.snapshot_source import SNAPSHOT_PATH
from tests.portal.api.conftest import Gql, Person, codes
from tests.portal.api.test_api_apply import APPLY, library_documents


async def _etag(client: httpx.AsyncClient, admin: Person, previous: str | None = None) -> str:
    headers = {"authorization": f"Bearer {admin.token}"}
    if previous is not None:
        headers["if-none-match"] = previous
    response = await client.get(SNAPSHOT_PATH, headers=headers)
    assert response.status_code in (200, 304), response.text
    etag: str = response.headers["etag"]
    assert (response.status_code == 304) == (etag == previous)
    return etag


def _doc(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name))


async def test_the_etag_follows_relevant_changes_only(
    gql: Gql, people: dict[str, Person], client: httpx.AsyncClient
) -> None:
    admin, carl, viewer = people["platform-admin"], people["consumer"], people["viewer"]
    docs = library_documents()
    assert "errors" not in await gql(APPLY, {"d": docs}, as_=admin)
    app = await gql('mutation { createApplication(name: "reader") { id } }', as_=carl)
    app_id = app["data"]["createApplication"]["id"]
    key = await gql(f"mutation {{ createApiKey(applicationId: {app_id}) {{ credential {{ id }} }} }}", as_=carl)
    credential_id = key["data"]["createApiKey"]["credential"]["id"]
    request = 'mutation($a: Int!) { requestSubscription(applicationId: $a, product: "library", plan: "basic") { id } }'
    sub = await gql(request, {"a": app_id}, as_=carl)
    sub_id = sub["data"]["requestSubscription"]["id"]
    etag = await _etag(client, admin)

    # not relevant: nothing a gateway serves changes
    assert "errors" not in await gql('mutation { createApplication(name: "idle") { id } }', as_=carl)
    assert "errors" not in await gql('mutation { createToken(name: "laptop") { token } }', as_=carl)
    refused = await gql(APPLY, {"d": [_doc(docs, "Plan", "basic")]}, as_=viewer)
    assert codes(refused) == ["FORBIDDEN"]
    cheaper = _doc(docs, "Plan", "basic")
    cheaper["spec"]["rateLimit"]["requests"] = 1
    assert "errors" not in await gql(APPLY, {"d": [cheaper], "dry": True}, as_=admin)
    again = await gql(APPLY, {"d": docs}, as_=admin)
    assert {c["action"] for c in again["data"]["apply"]} == {"unchanged"}
    assert await _etag(client, admin, etag) == etag

    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("approve", f"mutation {{ approveSubscription(id: {sub_id}) {{ state }} }}", {}),
        ("revoke credential", f"mutation {{ revokeCredential(id: {credential_id}) {{ revokedAt }} }}", {}),
        ("plan change", APPLY, {"d": [cheaper]}),
    ]
    members = _doc(docs, "Service", "members")
    members["spec"]["schema"]["sdl"] = members["spec"]["schema"]["sdl"].replace(
        "joinedYear: Int", "joinedYear: Int\n  nickname: String"
    )
    assert "nickname" in members["spec"]["schema"]["sdl"]
    steps.append(("service publish", APPLY, {"d": [members]}))
    seen = {etag}
    for label, mutation, variables in steps:
        body = await gql(mutation, variables, as_=admin)
        assert "errors" not in body, (label, body)
        new = await _etag(client, admin, etag)
        assert new not in seen, f"{label} must give a new ETag"
        seen.add(new)
        etag = new
    assert await _etag(client, admin, etag) == etag  # and it stays put until the next change
