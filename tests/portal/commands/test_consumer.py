"""``loom apps|keys|subscriptions|audit`` against a real portal (uvicorn on loopback): the consumer journey from an
application to a working key, approval by the product's team admin, revocation, and the audit trail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.accounts import create_token, create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.cli import main
from portal.models import Lifecycle
from portal.settings import Settings
from portal.snapshot import build_snapshot
from stitcher.credentials import AccessPolicy, NotSubscribed
from stitcher.snapshot import Snapshot
from tests._serving import serving
from tests.factories import make_plan, make_product, make_team, make_user

SYSTEM = Actor.system("test")
T = TypeVar("T")


@pytest.fixture
def portal(engine: Engine, settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    """A portal with product 'shop' of team 'alpha' (plan 'gold', approval required), its team admin 'ada' and a
    consumer 'carl', each with a token."""
    with Session(engine, expire_on_commit=False) as session:
        alpha = make_team(session, "alpha")
        shop = make_product(session, "shop", team=alpha, lifecycle=Lifecycle.PUBLISHED)
        make_plan(session, "gold", products=[shop], requests=100, per_seconds=60)
        ada = create_user(session, SYSTEM, name="ada", role="team-admin", team="alpha")
        carl = make_user(session, "carl")
        tokens = {u.name: create_token(session, SYSTEM, u, name="cli").token for u in (ada, carl)}
        session.commit()
    with serving(create_app(settings, engine=engine), "the portal") as url:
        yield url, tokens


def loom(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_consumer_journey(
    portal: tuple[str, dict[str, str]], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    url, tokens = portal
    carl = ("--server", url, "--token", tokens["carl"])
    ada = ("--server", url, "--token", tokens["ada"])

    code, out, err = loom(capsys, "apps", "create", "mobile", *carl, "-o", "json")
    assert code == 0, err
    [app] = json.loads(out)
    assert (app["name"], app["owner"]) == ("mobile", "carl")
    app_id = str(app["id"])

    code, out, err = loom(capsys, "keys", "create", "--app", app_id, "--name", "ci", *carl)
    assert code == 0, err
    key = out.strip().splitlines()[-1]
    assert key.startswith("lk_") and "the secret is shown only now" in err

    code, out, _ = loom(
        capsys, "subscriptions", "request", "--app", app_id, "--product", "shop", "--plan", "gold", *carl
    )
    assert code == 0 and "requested" in out
    code, out, _ = loom(capsys, "subscriptions", "list", "--state", "requested", *ada, "-o", "yaml")
    [requested] = yaml.safe_load(out)
    assert (requested["application"], requested["product"]) == ("mobile", "shop")

    code, _, err = loom(capsys, "subscriptions", "approve", str(requested["id"]), *carl)
    assert code == 1 and "FORBIDDEN" in err  # a consumer cannot approve their own request
    code, out, err = loom(capsys, "subscriptions", "approve", str(requested["id"]), *ada)
    assert code == 0 and "approved" in out, err

    with Session(engine) as session:
        snapshot: Snapshot = build_snapshot(session, issuer=url)
    principal = asyncio_run(AccessPolicy(snapshot).authenticate({"x-api-key": key}, "shop"))
    assert principal.application == "carl/mobile"

    code, out, _ = loom(capsys, "subscriptions", "revoke", str(requested["id"]), *carl)
    assert code == 0 and "revoked" in out
    with Session(engine) as session:
        after = build_snapshot(session, issuer=url)
    with pytest.raises(NotSubscribed):
        asyncio_run(AccessPolicy(after).authenticate({"x-api-key": key}, "shop"))

    code, out, _ = loom(capsys, "keys", "list", "--app", app_id, *carl)
    assert code == 0 and "API_KEY" not in out and "ci" in out  # the table names the credential
    code, out, _ = loom(capsys, "audit", *carl, "-o", "json")
    events = {(e["action"], e["outcome"]) for e in json.loads(out)}  # carl sees his own events
    for action in ("application.create", "credential.create", "subscription.request", "subscription.revoke"):
        assert (action, "allowed") in events
    assert ("subscription.approve", "denied") in events and ("subscription.approve", "allowed") not in events


def test_errors_are_one_clear_line(portal: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    url, tokens = portal
    code, _, err = loom(capsys, "keys", "create", "--app", "4242", "--server", url, "--token", tokens["carl"])
    assert code == 1 and err.startswith("loom: error: NOT_FOUND: application 4242 does not exist or is not yours")
    code, _, err = loom(capsys, "apps", "list", "--server", url, "--token", "lpat_nope_nope")
    assert code == 1 and "UNAUTHENTICATED" in err


def asyncio_run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
