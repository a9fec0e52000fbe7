"""A consumer's use of her plan, end to end in a real browser: the world's gateway counts in the real Redis (see
conftest), GraphiQL's requests with her key are counted there, the Subscriptions page shows that count to her and to
the product's team admin, and the request past the limit is answered 429 and explained. A second portal on the same
database, without ``LOOM_REDIS_URL``, says why it cannot know the use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from playwright.sync_api import Locator, Page, expect

from portal.api.usage import counter_key
from portal.db import create_engine_for
from portal.server import build_app
from portal.settings import RedisSettings
from tests._serving import serving
from tests.ui.conftest import PRODUCT, TIMEOUT_MS, World
from tests.ui.test_journeys import _choose_key

pytestmark = pytest.mark.slow


# The time left of an hour's window, as a person reads it ("59 min 58 s", "1 h" at its very start), never "3598 s".
_WITHIN_THE_HOUR = r"(1 h|[1-5]?\d min [1-5]?\d s|[1-5]?\d min|[1-5]?\d s)"


def _use(page: Page, application: str) -> Locator:
    """The "Use of the limit" cell of ``application``'s subscription."""
    return page.get_by_role("row").filter(has_text=application).locator('td[data-label="Use of the limit"]')


def _counted(world: World) -> int:
    """What the gateway has counted in Redis for erin on plan sample of the product, under the world's namespace."""
    assert world.settings.redis.url is not None
    client = redis.Redis.from_url(world.settings.redis.url)
    try:
        value = client.get(world.settings.gateway.rate_limit_key_prefix + counter_key("erin", "sample", PRODUCT))
    finally:
        client.close()
    return int(value or 0)


def _run_query(page: Page) -> int:
    """Press GraphiQL's run button once and give the gateway's status once GraphiQL has taken the answer in."""
    run = page.get_by_role("button", name="Execute query (Ctrl-Enter)")
    expect(run).to_be_enabled()  # not the Stop button of a request still running
    with page.expect_response(lambda r: r.url.endswith(f"/products/{PRODUCT}/graphql")) as answer:
        run.click()
    expect(run).to_be_visible()
    return answer.value.status


def test_a_consumers_use_of_her_plan_is_counted_in_redis_and_shown_to_her_and_her_team_admin(
    people: Any, world: World
) -> None:
    """erin's plan sample allows two requests an hour (no window ends during the test); only this test uses it."""
    erin = people()
    subscriptions = erin.sign_in("erin", "/subscriptions")
    use = _use(subscriptions, "erin-sample")
    expect(use).to_have_text("0 of 2 per hour")  # nothing counted yet in this world's namespace

    trying = people()
    graphiql = trying.sign_in("erin", f"/catalog/{PRODUCT}?tab=try")
    _choose_key(graphiql, "erin-sample: sample")
    expect(graphiql.get_by_text("subscribed under plan sample")).to_be_visible()
    graphiql.get_by_label(re.compile("Paste the key")).fill(world.sample_key)
    expect(graphiql.locator(".graphiql-query-editor .CodeMirror")).to_contain_text("__typename")
    assert [_run_query(graphiql), _run_query(graphiql)] == [200, 200]
    assert _counted(world) == 2

    subscriptions.get_by_role("button", name="Refresh the use").click()
    expect(use).to_have_text(re.compile(rf"^2 of 2 per hour, limit reached; the window ends in {_WITHIN_THE_HOUR}$"))
    erin.check("a subscription's use of its limit, read from Redis")

    assert _run_query(graphiql) == 429  # the third request of the hour
    explained = graphiql.get_by_role("status").filter(has_text="429")
    # The gateway says the wait as a person reads it, and the UI does not say it twice.
    expect(explained).to_contain_text(
        re.compile(rf"^429 Too Many Requests: plan 'sample' allows 2 requests per hour; retry in {_WITHIN_THE_HOUR}\. ")
    )
    expect(explained).not_to_contain_text("Try again")
    expect(explained).to_contain_text("all your applications on this plan and product")
    expect(graphiql.locator(".graphiql-response")).to_contain_text("RATE_LIMITED")
    trying.check("GraphiQL past the plan's limit")
    assert _counted(world) == 3  # the gateway counts what it refuses too

    subscriptions.get_by_role("button", name="Refresh the use").click()
    past = re.compile(
        rf"^2 of 2 per hour, limit reached \(1 more refused with 429\); the window ends in {_WITHIN_THE_HOUR}$"
    )
    expect(use).to_have_text(past)

    tara = people()  # the product's team admin sees the consumer's use beside the action she may take
    admin = tara.sign_in("tara", "/subscriptions")
    expect(_use(admin, "erin-sample")).to_have_text(past)
    expect(admin.get_by_role("row").filter(has_text="erin-sample").get_by_role("button", name="Revoke")).to_be_visible()
    tara.check("a consumer's use of her limit, as the team admin")
    tara.screenshot("subscriptions-usage", full_page=True)


@pytest.fixture(scope="module")
def memory_world(world: World) -> Iterator[World]:
    """The world's database behind a second portal whose embedded gateway counts in its own memory (no Redis)."""
    settings = world.settings.model_copy(update={"redis": RedisSettings(url=None)})
    engine = create_engine_for(settings)
    try:
        with serving(build_app(settings, engine), "the portal without Redis") as url:
            yield replace(world, url=url, settings=settings)
    finally:
        engine.dispose()


def test_without_redis_a_subscription_shows_its_limit_and_why_its_use_is_not_known(
    people: Any, memory_world: World
) -> None:
    """Without LOOM_REDIS_URL each gateway counts in its memory, which the portal cannot read: it says so."""
    dana = people(on=memory_world)
    page = dana.sign_in("dana", "/subscriptions")
    use = _use(page, "dana-trial")
    expect(use).to_contain_text("limit 2 per minute; use not known", timeout=TIMEOUT_MS)
    expect(use).to_contain_text("LOOM_REDIS_URL is not set")
    dana.check("a subscription's use of its limit, without Redis")
