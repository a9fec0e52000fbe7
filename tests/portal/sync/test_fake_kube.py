"""The fake Kubernetes API server (tests/portal/sync/fake_kube.py) behaves like the real one where the kubernetes
target relies on it. These tests speak plain HTTP to it (not the client under test), so a client bug cannot hide a
fake bug. It is a FAKE: no Kubernetes API server can run on this machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.portal.sync.fake_kube import APPLY, MERGE, FakeKube, Kind

UPSTREAMS = "/apis/gloo.solo.io/v1/namespaces/gloo-system/upstreams"
WITH_STATUS = Kind("example.loom.dev", "v1", "Widget", "widgets", status_subresource=True)
WIDGETS = "/apis/example.loom.dev/v1/namespaces/default/widgets"


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    fake = FakeKube(kinds=(Kind("gloo.solo.io", "v1", "Upstream", "upstreams"), WITH_STATUS))
    with fake.serving():
        yield fake


@pytest.fixture
def http(fake: FakeKube) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.token}"}) as client:
        yield client


def upstream(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {"name": name, "namespace": "gloo-system", **({"labels": labels} if labels else {})},
        "spec": spec,
    }


def apply(http: httpx.Client, obj: dict[str, Any], manager: str, *, force: bool = False) -> httpx.Response:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    url = f"{UPSTREAMS}/{obj['metadata']['name']}"
    return http.patch(url, json=obj, params=params, headers={"Content-Type": APPLY})


def test_apply_creates_then_changes_nothing_when_nothing_differs(fake: FakeKube, http: httpx.Client) -> None:
    created = apply(http, upstream("a", {"static": {"hosts": [{"addr": "x", "port": 80}]}}), "loom")
    assert created.status_code == 201
    again = apply(http, upstream("a", {"static": {"hosts": [{"addr": "x", "port": 80}]}}), "loom")
    assert again.status_code == 200
    assert again.json()["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
    assert again.json()["metadata"]["managedFields"][0]["manager"] == "loom"
    assert fake.writes == {"Upstream/gloo-system/a": 2}  # requests are counted even when nothing changed
    assert http.get(f"{UPSTREAMS}/a").json()["spec"] == {"static": {"hosts": [{"addr": "x", "port": 80}]}}


def test_missing_objects_are_404_with_a_status(http: httpx.Client) -> None:
    for response in (http.get(f"{UPSTREAMS}/nope"), http.delete(f"{UPSTREAMS}/nope")):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json()["reason"] == "NotFound"
        assert response.json()["message"] == 'upstreams.gloo.solo.io "nope" not found'


def test_a_wrong_token_is_401(fake: FakeKube) -> None:
    response = httpx.get(f"{fake.url}{UPSTREAMS}", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_lists_filter_by_label_selectors_in_one_or_all_namespaces(http: httpx.Client) -> None:
    apply(http, upstream("a", {"x": 1}, {"owner": "loom", "tier": "gold"}), "loom")
    apply(http, upstream("b", {"x": 1}, {"owner": "loom", "tier": "silver"}), "loom")
    apply(http, upstream("c", {"x": 1}, {"owner": "else"}), "other")

    def names(selector: str, path: str = UPSTREAMS) -> list[str]:
        response = http.get(path, params={"labelSelector": selector})
        assert response.status_code == 200, response.text
        return [item["metadata"]["name"] for item in response.json()["items"]]

    assert names("") == ["a", "b", "c"]
    assert names("owner=loom") == ["a", "b"]
    assert names("owner==loom,tier!=gold") == ["b"]
    assert names("tier in (gold, bronze)") == ["a"]
    assert names("tier notin (gold)") == ["b", "c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c"]
    assert names("owner=loom", "/apis/gloo.solo.io/v1/upstreams") == ["a", "b"]
    assert names("owner=loom", "/apis/gloo.solo.io/v1/namespaces/other/upstreams") == []
    assert http.get(UPSTREAMS, params={"labelSelector": "a b c"}).status_code == 400


def test_apply_conflicts_between_managers_unless_forced(fake: FakeKube, http: httpx.Client) -> None:
    apply(http, upstream("a", {"port": 80, "host": "x"}), "loom")
    same = apply(http, upstream("a", {"port": 80}), "discovery")  # the same value: shared, no conflict
    assert same.status_code == 200
    conflict = apply(http, upstream("a", {"port": 81}), "gloo-fed")
    assert conflict.status_code == 409
    assert conflict.json()["reason"] == "Conflict"
    causes = sorted(conflict.json()["details"]["causes"], key=lambda c: c["message"])
    assert causes == [
        {"type": "FieldManagerConflict", "message": 'conflict with "discovery"', "field": ".spec.port"},
        {"type": "FieldManagerConflict", "message": 'conflict with "loom"', "field": ".spec.port"},
    ]
    assert fake.get("Upstream", "gloo-system", "a")["spec"]["port"] == 80  # type: ignore[index]

    forced = apply(http, upstream("a", {"port": 81}), "gloo-fed", force=True)
    assert forced.status_code == 200
    assert forced.json()["spec"] == {"port": 81, "host": "x"}
    assert fake.managers("Upstream", "gloo-system", "a") == {
        "loom": {("spec", "host")},
        "gloo-fed": {("spec", "port")},
    }


def test_apply_removes_the_fields_a_manager_stops_sending_unless_another_owns_them(
    fake: FakeKube, http: httpx.Client
) -> None:
    apply(http, upstream("a", {"port": 80, "host": "x", "sni": "y"}), "loom")
    apply(http, upstream("a", {"sni": "y"}), "other")
    after = apply(http, upstream("a", {"port": 80}), "loom").json()
    assert after["spec"] == {"port": 80, "sni": "y"}  # host went; sni stays: "other" owns it too


def test_an_update_needs_the_current_resource_version_and_takes_the_fields_it_changes(
    fake: FakeKube, http: httpx.Client
) -> None:
    current = apply(http, upstream("a", {"port": 80}, {"owner": "loom"}), "loom").json()
    edited = {**current, "spec": {"port": 9999}}
    unversioned = {**edited, "metadata": {k: v for k, v in current["metadata"].items() if k != "resourceVersion"}}
    assert http.put(f"{UPSTREAMS}/a", json=unversioned).status_code == 422
    updated = http.put(f"{UPSTREAMS}/a", json=edited, params={"fieldManager": "kubectl-edit"})
    assert updated.status_code == 200
    assert int(updated.json()["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])
    assert updated.json()["metadata"]["generation"] == 2

    stale = http.put(f"{UPSTREAMS}/a", json=edited)  # the version it was read at is gone
    assert stale.status_code == 409
    assert "the object has been modified" in stale.json()["message"]

    # the edit owns spec.port now: loom's apply of its own value conflicts until it forces
    assert apply(http, upstream("a", {"port": 80}, {"owner": "loom"}), "loom").status_code == 409
    restored = apply(http, upstream("a", {"port": 80}, {"owner": "loom"}), "loom", force=True)
    assert restored.json()["spec"] == {"port": 80}


def test_a_merge_patch_changes_only_what_it_names(http: httpx.Client) -> None:
    apply(http, upstream("a", {"port": 80, "host": "x"}), "loom")
    patched = http.patch(f"{UPSTREAMS}/a", json={"spec": {"host": None, "sni": "s"}}, headers={"Content-Type": MERGE})
    assert patched.status_code == 200
    assert patched.json()["spec"] == {"port": 80, "sni": "s"}
    unknown = http.patch(f"{UPSTREAMS}/a", json={}, headers={"Content-Type": "application/json-patch+json"})
    assert unknown.status_code == 415


def test_without_a_status_subresource_the_status_is_written_through_the_object(http: httpx.Client) -> None:
    current = apply(http, upstream("a", {"port": 80}), "loom").json()
    assert http.get(f"{UPSTREAMS}/a/status").status_code == 404  # as for the real Gloo CRDs
    status = {"statuses": {"gloo-system": {"state": "Accepted"}}}
    written = http.put(f"{UPSTREAMS}/a", json={**current, "status": status}, params={"fieldManager": "gloo"})
    assert written.json()["status"] == status
    # loom never sent a status, so its next apply leaves Gloo's alone
    assert apply(http, upstream("a", {"port": 81}), "loom").json()["status"] == status


def test_the_status_subresource_writes_only_the_status(http: httpx.Client) -> None:
    widget = {"apiVersion": "example.loom.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    created = http.patch(
        f"{WIDGETS}/w",
        json={**widget, "status": {"ignored": True}},
        params={"fieldManager": "loom"},
        headers={"Content-Type": APPLY},
    ).json()
    assert "status" not in created  # the main resource ignores status when the subresource exists
    body = {**created, "spec": {"a": 2}, "status": {"statuses": {"gloo-system": {"state": 1}}}}
    status = http.put(f"{WIDGETS}/w/status", json=body, params={"fieldManager": "gloo"}).json()
    assert status["status"] == {"statuses": {"gloo-system": {"state": 1}}}
    assert status["spec"] == {"a": 1}  # the status subresource writes nothing else
    assert status["metadata"]["generation"] == 1
    merged = http.patch(
        f"{WIDGETS}/w/status",
        json={"status": {"statuses": {"gloo-system": {"state": 2, "reason": "bad"}}}},
        headers={"Content-Type": MERGE},
    ).json()
    assert merged["status"] == {"statuses": {"gloo-system": {"state": 2, "reason": "bad"}}}


@pytest.mark.parametrize("code", [400, 403])
def test_the_admission_webhook_switch_refuses_writes_and_changes_nothing(
    fake: FakeKube, http: httpx.Client, code: int
) -> None:
    before = apply(http, upstream("a", {"port": 80}), "loom").json()
    fake.reject("resource incompatible with current Gloo snapshot: bad port", kind="Upstream", name="a", code=code)
    refused = apply(http, upstream("a", {"port": 81}), "loom")
    assert refused.status_code == code
    assert refused.json()["message"] == (
        'admission webhook "gloo.gloo-system.svc" denied the request: '
        "resource incompatible with current Gloo snapshot: bad port"
    )
    assert apply(http, upstream("b", {"port": 81}), "loom").status_code == 201  # only the named object
    assert fake.get("Upstream", "gloo-system", "a") == before
    assert [(r.object, r.accepted) for r in fake.write_log][-2:] == [
        ("Upstream/gloo-system/a", False),
        ("Upstream/gloo-system/b", True),
    ]
    fake.accept_all()
    assert apply(http, upstream("a", {"port": 81}), "loom").status_code == 200


def test_watch_streams_changes_after_a_resource_version(fake: FakeKube, http: httpx.Client) -> None:
    apply(http, upstream("a", {"port": 80}, {"owner": "loom"}), "loom")
    version = http.get(UPSTREAMS).json()["metadata"]["resourceVersion"]
    params = {"watch": "1", "resourceVersion": version, "labelSelector": "owner=loom", "timeoutSeconds": "30"}
    with http.stream("GET", UPSTREAMS, params=params) as stream:
        apply(http, upstream("a", {"port": 81}, {"owner": "loom"}), "loom")
        apply(http, upstream("b", {"port": 80}, {"owner": "else"}), "loom")  # not selected: not seen
        apply(http, upstream("c", {"port": 80}, {"owner": "loom"}), "loom")
        http.delete(f"{UPSTREAMS}/a")
        lines = stream.iter_lines()
        events = [next(lines) for _ in range(3)]
    seen = [(e["type"], e["object"]["metadata"]["name"]) for e in map(json.loads, events)]
    assert seen == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "a")]


def test_a_watch_without_a_version_starts_with_what_exists(http: httpx.Client) -> None:
    apply(http, upstream("a", {"port": 80}), "loom")
    with http.stream("GET", UPSTREAMS, params={"watch": "true", "timeoutSeconds": "30"}) as stream:
        first = json.loads(next(stream.iter_lines()))
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "a")


def test_stopping_makes_it_unreachable_and_starting_again_keeps_the_state(fake: FakeKube) -> None:
    headers = {"Authorization": f"Bearer {fake.token}"}
    url = fake.url
    with httpx.Client(base_url=url, headers=headers) as http:
        apply(http, upstream("a", {"port": 80}), "loom")
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}{UPSTREAMS}", headers=headers)
    assert fake.start() == url
    assert httpx.get(f"{url}{UPSTREAMS}/a", headers=headers).json()["spec"] == {"port": 80}


def test_a_null_in_an_applied_object_sets_nothing(http: httpx.Client) -> None:
    created = apply(http, upstream("a", {"port": 80, "sni": None, "tls": {"secret": None}}), "loom")
    assert created.json()["spec"] == {"port": 80, "tls": {}}
