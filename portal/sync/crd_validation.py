"""Strict validation of Gloo objects: the CRDs' ``openAPIV3Schema``, then the rules the CRDs do not encode.

:func:`validate` checks one object the way ``kubectl apply --validate=strict`` and the API server would, and
stricter where the API server would silently drop something:

* **The schema** of the object's CRD (vendored in ``portal/sync/crds/``, read with :mod:`importlib.resources`):
  an unknown field is an error (the API server prunes it without a word, so a typo would vanish), as is a wrong
  type, a number out of range, ``null`` where the field is not ``nullable`` (write nothing instead), a string
  that is not base64 where the format is ``byte``. ``x-kubernetes-preserve-unknown-fields`` keeps what it keeps
  (``status``, ``metadata`` maps of endpoints) and ``x-kubernetes-int-or-string`` takes an integer or a string.
  Gloo's CRDs use a small part of OpenAPI (``type``, ``properties``, ``additionalProperties``, ``items``,
  ``nullable``, ``minimum``/``maximum``, ``maxProperties``, ``format``, ``default`` and the two extensions); a CRD
  using any other keyword is refused when it is loaded rather than half-checked. ``jsonschema`` is not used: it
  knows neither Kubernetes' extensions nor ``nullable``, and strictness would need every schema rewritten.
* **The object's envelope**: ``apiVersion``/``kind`` of a vendored CRD, ``metadata`` with a DNS-1123 name and
  valid label keys and values.
* **Gloo's own rules** (gloo-notes.md §1 and §6), which only its proto validation or its translator enforce:
  exactly one upstream type; static hosts with an address and a port; every health check with a ``timeout``, an
  ``interval`` and exactly one checker; failover only with health checks or outlier detection, and with endpoints
  in every locality; durations written as protobuf durations (``0.25s``, the only form Gloo reads); one action per
  route, one destination per ``routeAction``, one path per matcher; a delegating route matches by ``prefix``
  alone (no headers, methods or query parameters unless it passes them down with ``inheritableMatchers``) and
  delegates with ``ref`` or ``selector``; retry back-off with a base interval of at least 1 ms; a
  VirtualService with domains (no duplicates) and routes (Gloo ignores a virtual host without routes).

:func:`validate_set` checks a cluster's whole set on top: no object twice, every Upstream a route names is in the
set, every delegation reaches a RouteTable of the set whose matchers begin with the parent's prefix, no delegation
cycle, no RouteTable that nothing delegates to (Gloo would ignore it), no domain claimed by two VirtualServices.

Every error is :class:`~portal.sync.errors.ConfigRejected` naming the object (``Upstream/gloo-system/name``) and
the path of each problem (``spec.healthChecks[0].timeout``).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import hashlib
import importlib.resources
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from portal.sync.errors import ConfigRejected

__all__ = ["CRD_FILES", "CrdSchemaError", "fingerprint", "schema_of", "validate", "validate_set"]

# (apiVersion, kind) -> the vendored CRD file that defines it.
CRD_FILES: dict[tuple[str, str], str] = {
    ("gloo.solo.io/v1", "Upstream"): "gloo.solo.io_v1_Upstream.yaml",
    ("gateway.solo.io/v1", "RouteTable"): "gateway.solo.io_v1_RouteTable.yaml",
    ("gateway.solo.io/v1", "VirtualService"): "gateway.solo.io_v1_VirtualService.yaml",
}

_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "items",
        "nullable",
        "minimum",
        "maximum",
        "maxProperties",
        "minProperties",
        "format",
        "default",
        "description",
        "required",
        "enum",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
    }
)
_ENVELOPE = ("apiVersion", "kind", "metadata")
_METADATA = {
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "selfLink",
}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
# Fields of Gloo's kinds that are google.protobuf.Duration (the CRD only says "string").
_DURATION_FIELDS = frozenset(
    {
        "timeout",
        "interval",
        "noTrafficInterval",
        "unhealthyInterval",
        "unhealthyEdgeInterval",
        "healthyEdgeInterval",
        "initialJitter",
        "intervalJitter",
        "baseEjectionTime",
        "connectTimeout",
        "idleTimeout",
        "maxStreamDuration",
        "updateMergeWindow",
        "perTryTimeout",
        "baseInterval",
        "maxInterval",
        "dnsRefreshRate",
        "keepaliveInterval",
        "keepaliveTime",
    }
)
_UPSTREAM_TYPES = ("kube", "static", "pipe", "aws", "azure", "consul", "awsEc2", "gcp", "ai")
_CHECKERS = ("httpHealthCheck", "tcpHealthCheck", "grpcHealthCheck", "customHealthCheck")
_ROUTE_ACTIONS = ("routeAction", "redirectAction", "directResponseAction", "delegateAction")
_DESTINATIONS = ("single", "multi", "upstreamGroup", "clusterHeader", "dynamicForwardProxy")
_SINGLE = ("upstream", "kube", "consul")
_PATHS = ("prefix", "exact", "regex")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_MAX_ERRORS = 10


class CrdSchemaError(Exception):
    """A vendored CRD uses schema keywords this validator does not implement (a newer CRD copy): extend it."""


Errors = list[str]


# --- the schemas --------------------------------------------------------------------------------------------


@functools.cache
def schema_of(api_version: str, kind: str) -> Mapping[str, Any]:
    """The ``openAPIV3Schema`` of a vendored CRD, checked to use only the keywords this module implements."""
    file = CRD_FILES[(api_version, kind)]
    text = importlib.resources.files("portal.sync").joinpath("crds", file).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader, C or Python)
    group, _, version = api_version.rpartition("/")
    spec = crd["spec"]
    if spec["group"] != group or spec["names"]["kind"] != kind:
        raise CrdSchemaError(f"{file} defines {spec['group']}/{spec['names']['kind']}, not {group}/{kind}")
    for served in spec["versions"]:
        if served["name"] == version:
            schema: Mapping[str, Any] = served["schema"]["openAPIV3Schema"]
            _check_keywords(schema, f"{file}:openAPIV3Schema")
            return schema
    raise CrdSchemaError(f"{file} has no version {version!r}")


def _check_keywords(schema: Mapping[str, Any], where: str) -> None:
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise CrdSchemaError(f"{where} uses {sorted(unknown)}, which this validator does not implement")
    for name, sub in (schema.get("properties") or {}).items():
        _check_keywords(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            _check_keywords(sub, f"{where}/{key}")


# --- one object ---------------------------------------------------------------------------------------------


_MAX_REMEMBERED = 200_000
# Labels whose value never decides validity (always digits), left out of what ``valid`` remembers, so a new
# generation of unchanged objects is not checked again.
_VOLATILE_LABELS = ("loom.dev/generation",)


def fingerprint(obj: Mapping[str, Any], *, ignore_labels: Iterable[str] = ()) -> str:
    """A digest of an object's content: equal objects, equal digests (keys in any order). ``ignore_labels`` leaves
    those labels out (e.g. the generation, which moves while the object stays the same)."""
    if ignore_labels:
        labels = dict((obj.get("metadata") or {}).get("labels") or {})
        for label in ignore_labels:
            labels.pop(label, None)
        obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "labels": labels}}
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def validate(obj: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigRejected` naming the object and every problem's path, unless ``obj`` is valid."""
    _raise(_ref(obj), _object_errors(obj))


def _object_errors(obj: Mapping[str, Any]) -> Errors:
    errors: Errors = []
    if not isinstance(obj, Mapping):
        return [f"an object must be a mapping, not {_type_name(obj)}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    key = (str(api_version), str(kind))
    if key not in CRD_FILES:
        known = ", ".join(f"{v}/{k}" for v, k in sorted(CRD_FILES))
        return [f"apiVersion/kind {api_version}/{kind} has no vendored CRD schema (known: {known})"]
    _metadata(obj.get("metadata"), errors)
    schema = schema_of(*key)
    rest = {k: v for k, v in obj.items() if k not in _ENVELOPE}
    _check(rest, schema, "", errors)
    spec = obj.get("spec")
    if isinstance(spec, Mapping):
        _durations(spec, "spec", errors)
        rules = {"Upstream": _upstream_rules, "RouteTable": _route_table_rules, "VirtualService": _vs_rules}
        rules[key[1]](spec, errors)
    elif "spec" not in obj:
        errors.append("spec: missing (every Gloo object needs a spec)")
    return errors


def _metadata(meta: Any, errors: Errors) -> None:
    if not isinstance(meta, Mapping):
        errors.append("metadata: missing or not a mapping")
        return
    for key in sorted(set(meta) - _METADATA):
        errors.append(f"metadata.{key}: unknown field{_did_you_mean(key, _METADATA)}")
    name = meta.get("name")
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        errors.append(
            f"metadata.name: {name!r} is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253)"
        )
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not _DNS_LABEL.match(namespace)):
        errors.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            errors.append(f"metadata.{field}: must be a mapping of strings, not {_type_name(values)}")
            continue
        for label, value in values.items():
            where = f"metadata.{field}{_key_path(str(label))}"
            if not isinstance(label, str) or not _label_key_ok(label):
                errors.append(f"{where}: {label!r} is not a valid key ([prefix/]name, name at most 63 characters)")
            if not isinstance(value, str):
                errors.append(f"{where}: must be a string, not {_type_name(value)} (quote it)")
            elif field == "labels" and not _LABEL_VALUE.match(value):
                errors.append(f"{where}: {value!r} is not a valid label value (at most 63 letters, digits, '-_.')")


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return bool(_LABEL_NAME.match(name))


def _check(value: Any, schema: Mapping[str, Any], path: str, errors: Errors) -> None:
    """``value`` against a structural schema, strictly; problems appended to ``errors``."""
    where = path or "(root)"
    if value is None:
        if not schema.get("nullable"):
            errors.append(f"{where}: null is not allowed here (the field is not nullable): leave the field out")
        return
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors.append(f"{where}: must be an integer or a string, not {_type_name(value)}")
        return
    kind = schema.get("type")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if kind is None and not schema.get("properties"):
        return  # anything (preserve-unknown-fields without a type)
    if kind == "object" or (kind is None and schema.get("properties")):
        _check_object(value, schema, path, preserve, errors)
    elif kind == "array":
        if not isinstance(value, list):
            errors.append(f"{where}: must be a list, not {_type_name(value)}")
            return
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                _check(item, items, f"{path}[{i}]", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{where}: must be a string, not {_type_name(value)}")
        elif schema.get("format") == "byte":
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                errors.append(f"{where}: must be base64 (format byte)")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{where}: must be an integer, not {_type_name(value)}")
            return
        _range(value, schema, where, errors)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{where}: must be a number, not {_type_name(value)}")
            return
        _range(value, schema, where, errors)
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: must be true or false, not {_type_name(value)}")
    else:
        raise CrdSchemaError(f"type {kind!r} at {where} is not implemented")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")


def _check_object(value: Any, schema: Mapping[str, Any], path: str, preserve: bool, errors: Errors) -> None:
    where = path or "(root)"
    if not isinstance(value, Mapping):
        errors.append(f"{where}: must be a mapping, not {_type_name(value)}")
        return
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        limit = schema["maxProperties"]
        errors.append(f"{where}: at most {limit} fields" + (" (it must be empty: {})" if limit == 0 else ""))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(f"{where}: at least {schema['minProperties']} fields")
    for required in schema.get("required") or ():
        if required not in value:
            errors.append(f"{_join(path, required)}: required field missing")
    for key in value:
        sub_path = _join(path, str(key))
        if not isinstance(key, str):
            errors.append(f"{sub_path}: field names must be strings")
        elif key in properties:
            _check(value[key], properties[key], sub_path, errors)
        elif isinstance(extra, Mapping):
            _check(value[key], extra, sub_path, errors)
        elif extra is True or preserve:
            continue
        elif not properties:
            errors.append(f"{sub_path}: unknown field ({where} takes no fields: write {{}})")
        else:
            errors.append(f"{sub_path}: unknown field{_did_you_mean(key, properties)}")


def _range(value: int | float, schema: Mapping[str, Any], where: str, errors: Errors) -> None:
    low, high = _INT_RANGES.get(str(schema.get("format")), (None, None))
    low = schema.get("minimum", low)
    high = schema.get("maximum", high)
    if low is not None and value < low:
        errors.append(f"{where}: {value} is below the minimum {low}")
    if high is not None and value > high:
        errors.append(f"{where}: {value} is above the maximum {high}")


# --- Gloo's rules that the CRDs do not encode ------------------------------------------------------------------


def _durations(value: Any, path: str, errors: Errors) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            sub_path = _join(path, str(key))
            if key in _DURATION_FIELDS and isinstance(sub, str) and not _DURATION.match(sub):
                errors.append(f"{sub_path}: {sub!r} is not a protobuf duration (write seconds like 0.25s or 10s)")
            else:
                _durations(sub, sub_path, errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _durations(item, f"{path}[{i}]", errors)


def _positive_duration(value: Any) -> bool:
    return isinstance(value, str) and bool(_DURATION.match(value)) and float(value[:-1]) > 0


def _exactly_one(spec: Mapping[str, Any], names: Sequence[str], path: str, what: str, errors: Errors) -> str | None:
    present = [n for n in names if spec.get(n) is not None]
    if len(present) == 1:
        return present[0]
    if present:
        errors.append(f"{path}: sets {', '.join(present)}; {what} takes exactly one of them")
    else:
        errors.append(f"{path}: {what} needs exactly one of {', '.join(names)}")
    return None


def _upstream_rules(spec: Mapping[str, Any], errors: Errors) -> None:
    kind = _exactly_one(spec, _UPSTREAM_TYPES, "spec", "an Upstream", errors)
    if kind == "static" and isinstance(spec["static"], Mapping):
        hosts = spec["static"].get("hosts")
        if not hosts:
            errors.append("spec.static.hosts: a static Upstream needs at least one host")
        for i, host in enumerate(hosts if isinstance(hosts, list) else []):
            if isinstance(host, Mapping):
                _address(host.get("addr"), host.get("port"), f"spec.static.hosts[{i}]", "addr", errors)
    checks = spec.get("healthChecks")
    for i, check in enumerate(checks if isinstance(checks, list) else []):
        if not isinstance(check, Mapping):
            continue
        path = f"spec.healthChecks[{i}]"
        for field in ("timeout", "interval"):
            if not _positive_duration(check.get(field)):
                errors.append(f"{path}.{field}: required, a duration above 0 (Gloo refuses a health check without)")
        checker = _exactly_one(check, _CHECKERS, path, "a health check", errors)
        if checker == "httpHealthCheck":
            http = check[checker]
            if not isinstance(http, Mapping) or not str(http.get("path") or "").startswith("/"):
                errors.append(f"{path}.httpHealthCheck.path: required, a path starting with /")
    failover = spec.get("failover")
    if isinstance(failover, Mapping):
        if not checks and not spec.get("outlierDetection"):
            errors.append(
                "spec.failover: failover needs active (healthChecks) or passive (outlierDetection) health checking, "
                "or Gloo never knows to fail over"
            )
        localities = failover.get("prioritizedLocalities")
        if not localities:
            errors.append("spec.failover.prioritizedLocalities: failover needs at least one priority")
        for i, priority in enumerate(localities if isinstance(localities, list) else []):
            path = f"spec.failover.prioritizedLocalities[{i}]"
            groups = priority.get("localityEndpoints") if isinstance(priority, Mapping) else None
            if not groups:
                errors.append(f"{path}.localityEndpoints: a priority needs at least one locality")
            for j, group in enumerate(groups if isinstance(groups, list) else []):
                endpoints = group.get("lbEndpoints") if isinstance(group, Mapping) else None
                if not endpoints:
                    errors.append(f"{path}.localityEndpoints[{j}].lbEndpoints: a locality needs endpoints")
                for k, endpoint in enumerate(endpoints if isinstance(endpoints, list) else []):
                    if not isinstance(endpoint, Mapping):
                        continue
                    where = f"{path}.localityEndpoints[{j}].lbEndpoints[{k}]"
                    _address(endpoint.get("address"), endpoint.get("port"), where, "address", errors)
                    weight = endpoint.get("loadBalancingWeight")
                    if weight is not None and isinstance(weight, int) and weight < 1:
                        errors.append(f"{where}.loadBalancingWeight: at least 1")


def _address(address: Any, port: Any, path: str, field: str, errors: Errors) -> None:
    if not isinstance(address, str) or not address:
        errors.append(f"{path}.{field}: required, a host name or IP address")
    if port is None or (isinstance(port, int) and not isinstance(port, bool) and not 1 <= port <= 65535):
        errors.append(f"{path}.port: required, a port from 1 to 65535")  # (a port of another type: see the schema)


def _vs_rules(spec: Mapping[str, Any], errors: Errors) -> None:
    host = spec.get("virtualHost")
    if not isinstance(host, Mapping):
        errors.append("spec.virtualHost: required")
        return
    domains = host.get("domains")
    if not domains:
        errors.append("spec.virtualHost.domains: at least one domain (or '*')")
    elif isinstance(domains, list):
        seen: set[Any] = set()
        for i, domain in enumerate(domains):
            if domain in seen:
                errors.append(f"spec.virtualHost.domains[{i}]: {domain!r} is listed twice")
            seen.add(domain)
    _routes_rules(host.get("routes"), "spec.virtualHost.routes", "a VirtualService", errors)


def _route_table_rules(spec: Mapping[str, Any], errors: Errors) -> None:
    _routes_rules(spec.get("routes"), "spec.routes", "a RouteTable", errors)


def _routes_rules(routes: Any, path: str, owner: str, errors: Errors) -> None:
    if not routes:
        errors.append(f"{path}: {owner} without routes is ignored by Gloo: give it at least one")
        return
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if isinstance(route, Mapping):
            _route_rules(route, f"{path}[{i}]", errors)


def _route_rules(route: Mapping[str, Any], path: str, errors: Errors) -> None:
    matchers = route.get("matchers")
    for i, matcher in enumerate(matchers if isinstance(matchers, list) else []):
        if not isinstance(matcher, Mapping):
            continue
        paths = [p for p in _PATHS if matcher.get(p) is not None]
        if len(paths) > 1:
            errors.append(f"{path}.matchers[{i}]: sets {', '.join(paths)}; a matcher takes one path")
        for kind in ("prefix", "exact"):
            value = matcher.get(kind)
            if isinstance(value, str) and not value.startswith("/"):
                errors.append(f"{path}.matchers[{i}].{kind}: {value!r} must start with /")
    action = _exactly_one(route, _ROUTE_ACTIONS, path, "a route", errors)
    if action == "routeAction" and isinstance(route[action], Mapping):
        destination = _exactly_one(route[action], _DESTINATIONS, f"{path}.routeAction", "a routeAction", errors)
        single = route[action].get("single")
        if destination == "single" and isinstance(single, Mapping):
            target = _exactly_one(single, _SINGLE, f"{path}.routeAction.single", "a destination", errors)
            ref = single.get("upstream")
            if target == "upstream" and (not isinstance(ref, Mapping) or not ref.get("name")):
                errors.append(f"{path}.routeAction.single.upstream.name: required")
    elif action == "delegateAction" and isinstance(route[action], Mapping):
        _delegation_rules(route, path, errors)
    options = route.get("options")
    retries = options.get("retries") if isinstance(options, Mapping) else None
    backoff = retries.get("retryBackOff") if isinstance(retries, Mapping) else None
    if isinstance(backoff, Mapping):
        base, most = backoff.get("baseInterval"), backoff.get("maxInterval")
        if not _positive_duration(base) or float(str(base)[:-1]) < 0.001:
            errors.append(f"{path}.options.retries.retryBackOff.baseInterval: required, at least 0.001s")
        elif _positive_duration(most) and float(str(most)[:-1]) < float(str(base)[:-1]):
            errors.append(f"{path}.options.retries.retryBackOff.maxInterval: below the base interval")


def _delegation_rules(route: Mapping[str, Any], path: str, errors: Errors) -> None:
    delegate = route["delegateAction"]
    if delegate.get("name") is not None or delegate.get("namespace") is not None:
        errors.append(
            f"{path}.delegateAction: name/namespace are deprecated (Gloo then ignores ref and selector): use ref"
        )
    _exactly_one(delegate, ("ref", "selector"), f"{path}.delegateAction", "a delegateAction", errors)
    ref = delegate.get("ref")
    if isinstance(ref, Mapping) and not ref.get("name"):
        errors.append(f"{path}.delegateAction.ref.name: required")
    matchers = route.get("matchers")
    if not matchers:
        errors.append(f"{path}.matchers: a delegating route needs a prefix matcher")
        return
    inherits = bool(route.get("inheritableMatchers"))
    for i, matcher in enumerate(matchers if isinstance(matchers, list) else []):
        if not isinstance(matcher, Mapping):
            continue
        if matcher.get("prefix") is None:
            errors.append(f"{path}.matchers[{i}]: a delegating route must match with prefix (not exact or regex)")
        if not inherits:
            for part in ("headers", "methods", "queryParameters"):
                if matcher.get(part):
                    errors.append(
                        f"{path}.matchers[{i}].{part}: a delegating route cannot match {part} (unless "
                        "inheritableMatchers passes them down)"
                    )


# --- the whole set ------------------------------------------------------------------------------------------


def validate_set(
    objects: Iterable[Mapping[str, Any]], *, valid: set[str] | None = None, fingerprints: Sequence[str] | None = None
) -> None:
    """Every object on its own (:func:`validate`), then the rules across them; the first object with a problem is
    named in the :class:`ConfigRejected`.

    ``valid`` remembers the fingerprints (:func:`fingerprint`) of objects that passed on their own, so a caller that
    checks mostly the same objects pass after pass (a sync target) checks each distinct object once; a caller that
    has them already passes each object's ``fingerprints`` (without the generation label), in order."""
    items = list(objects)
    for index, obj in enumerate(items):
        if valid is None:
            validate(obj)
            continue
        digest = fingerprints[index] if fingerprints is not None else fingerprint(obj, ignore_labels=_VOLATILE_LABELS)
        if digest not in valid:
            validate(obj)
            if len(valid) > _MAX_REMEMBERED:
                valid.clear()
            valid.add(digest)
    by_key: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for obj in items:
        key = _key(obj)
        if key in by_key:
            _raise(_ref(obj), ["made twice: every object of a cluster needs its own kind, namespace and name"])
        by_key[key] = obj
    tables = {(ns, name): obj for (kind, ns, name), obj in by_key.items() if kind == "RouteTable"}
    upstreams = {(ns, name) for kind, ns, name in by_key if kind == "Upstream"}
    delegated: set[tuple[str, str]] = set()
    domains: dict[str, str] = {}
    for obj in items:
        kind, namespace, _ = _key(obj)
        errors: Errors = []
        spec = obj.get("spec") or {}
        if kind == "VirtualService":
            host = spec.get("virtualHost") or {}
            for domain in host.get("domains") or ():
                if domain in domains:
                    errors.append(f"spec.virtualHost.domains: {domain!r} is also claimed by {domains[domain]}")
                domains.setdefault(domain, _ref(obj))
            for i, route in enumerate(host.get("routes") or ()):
                path = f"spec.virtualHost.routes[{i}]"
                _route_set_rules(route, path, namespace, upstreams, tables, delegated, [], errors)
        _raise(_ref(obj), errors)
    for table_key, table in sorted(tables.items()):
        if table_key not in delegated:
            _raise(_ref(table), ["no route delegates to it, so Gloo ignores it: delegate to it or leave it out"])


def _route_set_rules(
    route: Mapping[str, Any],
    path: str,
    namespace: str,
    upstreams: set[tuple[str, str]],
    tables: Mapping[tuple[str, str], Mapping[str, Any]],
    delegated: set[tuple[str, str]],
    chain: list[tuple[str, str]],
    errors: Errors,
) -> None:
    """One route of a VirtualService (or, through ``chain``, of a RouteTable it delegates to)."""
    single = (route.get("routeAction") or {}).get("single") or {}
    ref = single.get("upstream")
    if isinstance(ref, Mapping):
        target = (str(ref.get("namespace") or namespace), str(ref.get("name")))
        if target not in upstreams:
            errors.append(
                f"{path}.routeAction.single.upstream: Upstream {target[0]}/{target[1]} is not among the "
                "objects of this cluster"
            )
    delegate = route.get("delegateAction")
    if not isinstance(delegate, Mapping):
        return
    prefixes = [m["prefix"] for m in route.get("matchers") or () if isinstance(m, Mapping) and "prefix" in m]
    for key in _delegated_tables(delegate, namespace, tables, path, errors):
        if key in chain:
            cycle = " -> ".join(f"RouteTable/{ns}/{name}" for ns, name in [*chain, key])
            errors.append(f"{path}.delegateAction: delegation cycle {cycle}")
            continue
        delegated.add(key)
        table = tables[key]
        for j, child in enumerate((table.get("spec") or {}).get("routes") or ()):
            child_path = f"{path} -> RouteTable/{key[0]}/{key[1]} spec.routes[{j}]"
            for k, matcher in enumerate(child.get("matchers") or [{}]):
                child_prefix = matcher.get("prefix", matcher.get("exact"))
                if child_prefix is None:
                    errors.append(
                        f"{child_path}.matchers[{k}]: a delegated route matches with prefix or exact, beginning with "
                        f"its parent's prefix {prefixes}"
                    )
                    continue
                for prefix in prefixes:
                    if not str(child_prefix).startswith(prefix):
                        errors.append(
                            f"{child_path}.matchers[{k}]: {child_prefix!r} does not begin with the parent's prefix "
                            f"{prefix!r} (Gloo: route table matchers must begin with the prefix of their parent)"
                        )
            _route_set_rules(child, child_path, key[0], upstreams, tables, delegated, [*chain, key], errors)


def _delegated_tables(
    delegate: Mapping[str, Any],
    namespace: str,
    tables: Mapping[tuple[str, str], Mapping[str, Any]],
    path: str,
    errors: Errors,
) -> list[tuple[str, str]]:
    ref = delegate.get("ref")
    if isinstance(ref, Mapping):
        key = (str(ref.get("namespace") or namespace), str(ref.get("name")))
        if key not in tables:
            errors.append(
                f"{path}.delegateAction.ref: RouteTable {key[0]}/{key[1]} is not among this cluster's objects"
            )
            return []
        return [key]
    selector = delegate.get("selector")
    if not isinstance(selector, Mapping):
        return []
    if selector.get("expressions"):
        errors.append(f"{path}.delegateAction.selector.expressions: not checked by Loom: select by labels instead")
        return []
    namespaces = selector.get("namespaces") or [namespace]
    labels = selector.get("labels") or {}
    found = [
        key
        for key, table in sorted(tables.items())
        if ("*" in namespaces or key[0] in namespaces)
        and all(((table.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items())
    ]
    if not found:
        errors.append(f"{path}.delegateAction.selector: selects no RouteTable of this cluster")
    return found


# --- small pieces -------------------------------------------------------------------------------------------


def _raise(ref: str, errors: Errors) -> None:
    if not errors:
        return
    shown = "; ".join(errors[:_MAX_ERRORS])
    more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
    raise ConfigRejected(f"{ref} is invalid: {shown}{more}", object=ref)


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _ref(obj: Mapping[str, Any]) -> str:
    if not isinstance(obj, Mapping):
        return "object"
    kind, namespace, name = _key(obj)
    return "/".join(part for part in (kind, namespace, name) if part)


def _join(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}{_key_path(key)}"


def _key_path(key: str) -> str:
    return f".{key}" if _IDENTIFIER.match(key) else f"[{key!r}]"


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (strict validation, as kubectl apply --validate=strict){hint}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "a mapping" if isinstance(value, Mapping) else type(value).__name__
    )
