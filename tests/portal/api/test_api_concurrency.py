"""Concurrent admin API mutations on one database: each is one transaction, none fails for the others."""

from __future__ import annotations

import asyncio

from tests.portal.api.conftest import Gql, Person, codes

CREATE = "mutation($name: String!) { createApplication(name: $name) { name } }"


async def test_concurrent_mutations_each_succeed(gql: Gql, people: dict[str, Person]) -> None:
    """A mutation reads, then writes. On SQLite two such transactions that both read first cannot both write: the
    second failed at once with 'database is locked' (INTERNAL). Mutations take the write lock when they begin, so
    they queue instead (PostgreSQL runs them side by side)."""
    carl = people["consumer"]
    names = [f"app-{i}" for i in range(16)]
    answers = await asyncio.gather(*(gql(CREATE, {"name": name}, as_=carl) for name in names))
    assert [codes(a) for a in answers] == [[]] * len(names), [a.get("errors") for a in answers if codes(a)][:2]
    listed = await gql("{ applications { name } }", as_=carl)
    assert sorted(a["name"] for a in listed["data"]["applications"]) == sorted(names)
