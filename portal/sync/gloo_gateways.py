"""Which of a cluster's Gloo Gateways serve Loom's VirtualServices, and what is wrong with that.

Loom renders two VirtualServices per cluster (:mod:`portal.sync.gloo`): ``loom-products``, the public entry, and
``loom-internal``, whose routes reach every service past the Loom gateway (credentials, plans and limits are
enforced by the gateway, not by those routes). Gateways are the installation's, not Loom's, and a Gateway with no
selection serves every VirtualService: Gloo's default ``gateway-proxy`` does, so out of the box the public listener
serves the internal routes to anyone who sets their Host header. The sync worker cannot fix another owner's Gateway,
so it reads them and says what is wrong, in the cluster's status.

A Gateway's ``httpGateway`` chooses its VirtualServices by ``virtualServices`` (refs), else ``virtualServiceSelector``
(labels), else ``virtualServiceExpressions`` (label expressions), else every VirtualService in
``virtualServiceNamespaces`` (all when empty or ``*``). A TCP gateway serves none; a hybrid gateway serves what each
of its matched HTTP gateways does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from portal.sync.gloo import INTERNAL_VIRTUAL_SERVICE, LISTENER_LABEL, PRODUCTS_VIRTUAL_SERVICE

__all__ = ["listener_problems", "serves"]

_UNKNOWN = object()  # an expression this module cannot evaluate: assume the Gateway may serve it
# An expression's operator is a name or its number, in the order of Gloo's enum (gloo-notes §1.5 lists it).
_OPERATORS = ("Equals", "DoubleEquals", "NotEquals", "In", "NotIn", "Exists", "DoesNotExist", "GreaterThan", "LessThan")


def serves(gateway: Mapping[str, Any], virtual_service: Mapping[str, Any]) -> bool:
    """Whether ``gateway`` serves ``virtual_service`` (when it cannot tell, True: the warning errs on the safe side)."""
    spec = gateway.get("spec") or {}
    namespace = str((gateway.get("metadata") or {}).get("namespace") or "")
    if spec.get("tcpGateway") is not None:
        return False
    hybrid = spec.get("hybridGateway")
    if isinstance(hybrid, Mapping):
        matched = hybrid.get("matchedGateways") or ()
        return any(
            _http_serves(m.get("httpGateway") or {}, namespace, virtual_service)
            for m in matched
            if isinstance(m, Mapping) and m.get("httpGateway") is not None
        )
    return _http_serves(spec.get("httpGateway") or {}, namespace, virtual_service)


def listener_problems(
    gateways: Sequence[Mapping[str, Any]], virtual_services: Iterable[Mapping[str, Any]]
) -> list[str]:
    """What is wrong with how ``gateways`` serve Loom's ``virtual_services`` (the rendered ones), one line each."""
    by_name = {str((vs.get("metadata") or {}).get("name")): vs for vs in virtual_services}
    internal, products = by_name.get(INTERNAL_VIRTUAL_SERVICE), by_name.get(PRODUCTS_VIRTUAL_SERVICE)
    problems: list[str] = []
    if internal is not None:
        serving_internal = [g for g in gateways if serves(g, internal)]
        for gateway in serving_internal:
            if products is not None and serves(gateway, products):
                problems.append(
                    f"Gateway {_ref(gateway)} serves both {PRODUCTS_VIRTUAL_SERVICE} and {INTERNAL_VIRTUAL_SERVICE}: "
                    "whoever reaches the public listener can call every service past the Loom gateway by its Host "
                    f"header; give its httpGateway a virtualServiceSelector {{{LISTENER_LABEL}: products}} and serve "
                    f"{INTERNAL_VIRTUAL_SERVICE} on an internal Gateway ({{{LISTENER_LABEL}: internal}})"
                )
        if not serving_internal:
            problems.append(
                f"no Gateway serves {INTERNAL_VIRTUAL_SERVICE}, so the Loom gateway cannot reach the services: add "
                f"an internal Gateway with virtualServiceSelector {{{LISTENER_LABEL}: internal}}"
            )
    if products is not None and not any(serves(g, products) for g in gateways):
        problems.append(
            f"no Gateway serves {PRODUCTS_VIRTUAL_SERVICE}, so no product is reachable in this cluster: give the "
            f"public Gateway a virtualServiceSelector {{{LISTENER_LABEL}: products}}"
        )
    return problems


def _http_serves(http: Mapping[str, Any], namespace: str, vs: Mapping[str, Any]) -> bool:
    meta = vs.get("metadata") or {}
    name, vs_namespace = meta.get("name"), meta.get("namespace")
    labels: Mapping[str, str] = meta.get("labels") or {}
    refs = http.get("virtualServices")
    if refs:
        return any(
            isinstance(r, Mapping) and r.get("name") == name and (r.get("namespace") or namespace) == vs_namespace
            for r in refs
        )
    selector = http.get("virtualServiceSelector")
    if selector:
        return all(labels.get(key) == value for key, value in selector.items())
    expressions = http.get("virtualServiceExpressions")
    if isinstance(expressions, Mapping) and expressions.get("expressions"):
        results = [_expression(e, labels) for e in expressions["expressions"]]
        return all(r is _UNKNOWN or r for r in results)
    namespaces = http.get("virtualServiceNamespaces") or ()
    return not namespaces or "*" in namespaces or vs_namespace in namespaces


def _expression(expression: Any, labels: Mapping[str, str]) -> object:
    if not isinstance(expression, Mapping):
        return _UNKNOWN
    key, operator = expression.get("key"), expression.get("operator", 0)
    if isinstance(operator, int) and 0 <= operator < len(_OPERATORS):
        operator = _OPERATORS[operator]
    values = [str(v) for v in expression.get("values") or ()]
    value = labels.get(str(key))
    if operator in ("Equals", "DoubleEquals", "In"):
        return value is not None and value in values
    if operator in ("NotEquals", "NotIn"):
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    return _UNKNOWN


def _ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
