"""The egress policy shared by the portal (introspection, apply) and the gateway (every upstream connection).

Pure decisions on addresses, and resolution of names through an injected resolver: no traffic leaves loopback.
"""

from __future__ import annotations

import ipaddress

import pytest

from stitcher.egress import EgressPolicy, EgressRefused, IPAddress, check_url, checked_address

STRICT = EgressPolicy()
LOOPBACK = EgressPolicy(allow_loopback=True)


@pytest.mark.parametrize(
    ("url", "policy", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", LOOPBACK, "metadata"),
        ("http://[fd00:ec2::254]/", LOOPBACK, "metadata"),
        ("http://169.254.1.1/", LOOPBACK, "link-local"),
        ("http://127.0.0.1:8080/", STRICT, "allowLoopback"),
        ("http://[::ffff:127.0.0.1]/", STRICT, "allowLoopback"),
        ("http://10.1.2.3/", LOOPBACK, "allowedHosts"),
        ("http://0.0.0.0/", LOOPBACK, "not a unicast"),
        ("http://metadata.google.internal/", LOOPBACK, "metadata host"),
        ("file:///etc/passwd", LOOPBACK, "only http and https"),
        ("http://user:pw@example.com/", LOOPBACK, "credentials"),
    ],
)
def test_check_url_refuses_what_the_policy_forbids(url: str, policy: EgressPolicy, reason: str) -> None:
    with pytest.raises(EgressRefused, match=reason):
        check_url(url, policy, resolver=None)


def test_check_url_allows_what_the_cluster_allows() -> None:
    check_url("http://127.0.0.1:9/", LOOPBACK, resolver=None)
    check_url("http://10.1.2.3/", EgressPolicy.from_hosts(allow_loopback=False, allowed_hosts=["10.0.0.0/8"]))
    check_url("http://8.8.8.8/", STRICT, resolver=None)


def test_check_url_checks_every_resolved_address() -> None:
    answers: dict[str, list[IPAddress] | None] = {
        "sneaky.example": [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("169.254.169.254")],
        "public.example": [ipaddress.ip_address("8.8.8.8")],
        "nowhere.example": None,
    }

    def resolver(host: str, port: int) -> list[IPAddress] | None:
        return answers[host]

    with pytest.raises(EgressRefused, match=r"sneaky.example \(169.254.169.254\) is a cloud metadata address"):
        check_url("http://sneaky.example/", STRICT, resolver=resolver)
    check_url("http://public.example/", STRICT, resolver=resolver)
    check_url("http://nowhere.example/", STRICT, resolver=resolver)  # left to the gateway's connect-time check


async def test_checked_address_resolves_and_checks_localhost() -> None:
    with pytest.raises(EgressRefused, match="loopback"):
        await checked_address("localhost", 80, STRICT)
    address = await checked_address("localhost", 80, LOOPBACK)
    assert address.is_loopback
