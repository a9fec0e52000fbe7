"""A Service's entities and traffic settings through the admin API, as the publish form sends them: refused beside the
field that is wrong (the form shows the error there), with the text ``loom apply`` gives, and saved as written."""

from __future__ import annotations

import copy
from typing import Any

from portal.errors import Invalid
from portal.manifests import parse_resource
from tests.portal.api.conftest import Gql, Person, codes
from tests.portal.api.test_api_shapes import APPLY, service

SDL = "type Query { member(id: ID!): Member } type Member { id: ID! name: String }"
SETTINGS = {
    "entities": {"Member": {"key": "id", "operation": "member", "argument": "id"}},
    "traffic": {
        "connectTimeout": 250,  # a bare number: milliseconds
        "retries": {"attempts": 2, "perTryTimeout": "1s"},
        "healthCheck": {"path": "/ready", "interval": "10s", "unhealthyThreshold": 3},
        "outlierDetection": {"consecutive5xx": 5, "maxEjectionPercent": 50},
    },
}
WRONG: dict[str, tuple[str, Any]] = {
    "spec.traffic.healthCheck.interval": ("traffic", {"healthCheck": {"interval": "soon"}}),
    "spec.traffic.outlierDetection.consecutive5xx": ("traffic", {"outlierDetection": {"consecutive5xx": 0}}),
    "spec.traffic.retries.attempts": ("traffic", {"retries": {"attempts": 11}}),
    "spec.traffic.healthCheck.path": ("traffic", {"healthCheck": {"path": "ready"}}),
    "spec.entities.Member.key": ("entities", {"Member": {"operation": "member"}}),
}


async def test_wrong_traffic_or_entities_are_refused_beside_their_field(gql: Gql, people: dict[str, Person]) -> None:
    admin = people["team-admin"]
    for field, (key, value) in WRONG.items():
        doc = service("members", SDL, **{key: value})
        body = await gql(APPLY, {"d": [doc], "dry": True}, as_=admin)
        assert codes(body) == ["INVALID"], (field, body)
        [error] = body["errors"]
        assert error["extensions"]["location"]["field"] == field
        try:  # the same words as `loom apply` on the same document
            parse_resource(copy.deepcopy(doc), source="request")
        except Invalid as exc:
            assert error["extensions"]["detail"] == exc.message, field
        else:
            raise AssertionError(f"{field}: the manifest accepted what the API refused")
    services = await gql('{ resources(kind: "Service") }', as_=admin)
    assert services["data"]["resources"] == []  # nothing was saved


async def test_entities_and_traffic_are_saved_as_written(gql: Gql, people: dict[str, Person]) -> None:
    admin = people["team-admin"]
    body = await gql(APPLY, {"d": [service("members", SDL, **SETTINGS)]}, as_=admin)
    assert "errors" not in body, body
    [doc] = (await gql('{ resources(kind: "Service") }', as_=admin))["data"]["resources"]
    assert doc["spec"]["entities"] == SETTINGS["entities"] and doc["spec"]["traffic"] == SETTINGS["traffic"]
    typed = await gql(
        """{ service(name: "members") { traffic { connectTimeout requestTimeout maxResponseBytes
             retries { attempts perTryTimeout } healthCheck { path interval timeout unhealthyThreshold }
             outlierDetection { consecutive5xx maxEjectionPercent baseEjectionTime }
             circuitBreakers { maxRetries } } } }""",
        as_=people["viewer"],
    )
    assert typed["data"]["service"]["traffic"] == {
        "connectTimeout": "250ms",
        "requestTimeout": None,
        "maxResponseBytes": None,
        "retries": {"attempts": 2, "perTryTimeout": "1s"},
        "healthCheck": {"path": "/ready", "interval": "10s", "timeout": None, "unhealthyThreshold": 3},
        "outlierDetection": {"consecutive5xx": 5, "maxEjectionPercent": 50, "baseEjectionTime": None},
        "circuitBreakers": None,
    }
    refused = await gql(APPLY, {"d": [service("members", SDL, traffic={"connectTimeout": "1s"})]}, as_=people["viewer"])
    assert codes(refused) == ["FORBIDDEN"]
