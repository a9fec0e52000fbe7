"""Deployment addresses obey the cluster's egress policy, checked when a Service is applied.

A team admin chooses a deployment's ``address``, and the gateway connects there on consumers' behalf: without a
check, a service "deployed" at ``http://169.254.169.254`` or at the portal host's loopback would turn the gateway's
REST pass-through into a proxy for them. The policy is the one schema introspection obeys (:mod:`portal.ssrf`, the
cluster's ``spec.introspection``, owned by platform admins): metadata and link-local addresses never, loopback only
when the cluster allows it, private addresses only when listed in ``allowedHosts``.

An IP literal is checked as it is. A host name is checked on every address it resolves to from here; one that does
not resolve here (a name only the cluster's DNS knows) is left to the check where the gateway connects, which runs
again on every connection anyway (DNS can change).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from portal.ssrf import EgressPolicy, check_address, check_url

__all__ = ["Resolver", "check_deployment_address", "system_resolver"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress] | None]
"""A host name and port -> its addresses, or None when it does not resolve here."""


def system_resolver(host: str, port: int) -> list[IPAddress] | None:
    """The operating system's resolver (blocking: ``apply`` runs in a worker thread)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    out: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    return out or None


def check_deployment_address(url: str, policy: EgressPolicy, resolve: Resolver = system_resolver) -> None:
    """Raise :class:`portal.ssrf.RefusedTarget` when ``policy`` forbids connecting to ``url``'s host."""
    _scheme, host, port = check_url(url)
    try:
        addresses: list[IPAddress] | None = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        addresses = resolve(host, port)
    for address in addresses or ():
        check_address(host, address, policy)
