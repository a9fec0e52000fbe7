"""Publishing a service's schema: validation before anything is stored, and immutable versions after.

* Federation and GraphQL SDL must parse and build (the stitcher's own readers when they are there, so what is
  accepted here is what the gateway can serve).
* OpenAPI 2.0, 3.0 and 3.1 must parse (JSON or YAML), and every ``$ref`` must resolve: inside the document, or in
  a relative file beside it. Relative files are collected so the stored version is self-contained.
* A publish stores a new :class:`~portal.models.ServiceVersion` only when the schema changed (its hash), with who
  and when; versions are never updated.

Errors are :class:`~portal.errors.Invalid` and name the service, the file, and the line and column when known.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from graphql import GraphQLError, GraphQLSyntaxError, parse
from sqlmodel import Session, col, select

from portal._loop import not_on_the_event_loop
from portal.errors import Invalid
from portal.models import Service, ServiceVersion, utcnow
from stitcher import load_text, pointer_tokens
from stitcher.composition import build_subgraph
from stitcher.errors import StitcherError
from stitcher.ir import SourceKind, Subgraph
from stitcher.sources import SourceSpec

__all__ = [
    "MAX_REF_FILES",
    "ValidatedSchema",
    "latest_version",
    "publish_version",
    "schema_hash",
    "validate_schema",
]

MAX_REF_FILES = 50


@dataclass(frozen=True, slots=True)
class ValidatedSchema:
    """A schema that parsed and built: its text, the relative ``$ref`` files it needs, and its hash. ``translated``
    is an OpenAPI document's translation made by the check (without entities, url or transforms): a composition
    of this very text takes it instead of translating the document again (``stitcher.composition.compose``)."""

    text: str
    files: Mapping[str, str] = field(default_factory=dict)
    translated: Subgraph | None = field(default=None, compare=False, repr=False)

    @property
    def hash(self) -> str:
        return schema_hash(self.text, self.files)


def schema_hash(text: str, files: Mapping[str, str] | None = None) -> str:
    """sha256 of the schema text, and of its relative files when there are any (so a changed file is a change)."""
    digest = hashlib.sha256(text.encode())
    for name in sorted(files or {}):
        digest.update(b"\0" + name.encode() + b"\0" + (files or {})[name].encode())
    return digest.hexdigest()


# --- GraphQL ---------------------------------------------------------------------------------------------------


def _graphql_position(exc: GraphQLError) -> str:
    if exc.locations:
        loc = exc.locations[0]
        return f"line {loc.line}, column {loc.column}: "
    return ""


def _validate_sdl(service: str, protocol: SourceKind, text: str, where: str) -> None:
    try:
        parse(text)  # for the position of a syntax error in the file's own terms
    except GraphQLSyntaxError as exc:
        raise Invalid(
            f"service {service!r}: {where}: {_graphql_position(exc)}SDL does not parse: {exc.message}"
        ) from exc
    _translate(service, protocol, text, where, None)


def _translate(
    service: str,
    protocol: SourceKind,
    text: str,
    where: str,
    base_path: Path | None,
) -> Subgraph:
    """Translate as the composition will, so what it would refuse or lose is refused here, naming the file."""
    not_on_the_event_loop(f"translating service {service!r}")
    try:
        subgraph = build_subgraph(SourceSpec(name=service, protocol=protocol, schema=text, base_path=base_path))
    except StitcherError as exc:
        message = str(exc).removeprefix(f'service "{service}": ')
        raise Invalid(f"service {service!r}: {where}: {message}") from exc
    lost = _degradations(subgraph)
    if lost:
        raise Invalid(
            f"service {service!r}: {where}: the translation would lose part of the API: {'; '.join(lost)}; fix the "
            "document (what the gateway cannot serve is refused, not dropped)"
        )
    return subgraph


def _degradations(subgraph: Any) -> list[str]:
    """What a translation dropped that consumers would miss: an operation (its path skipped), a request body, or
    everything (only the placeholder ``Query._empty`` left). Other warnings (a schema typed as JSON, a parameter
    style sent another way) keep the operation usable and stay warnings, which ``loom compose`` prints."""
    warnings = [str(w) for w in getattr(subgraph, "warnings", ())]
    lost = [w for w in warnings if w.startswith("path ") and w.endswith("; skipped")]
    lost += [w for w in warnings if "request body" in w and w.endswith("; skipped")]
    schema = getattr(subgraph, "schema", None)
    if any("placeholder field" in w for w in warnings) and schema is not None and schema.mutation_type is None:
        lost.append("it has no operation at all (only the placeholder field Query._empty would be left)")
    return lost


# --- OpenAPI ---------------------------------------------------------------------------------------------------


def _load(text: str, where: str, service: str) -> Any:
    """Parse with the stitcher's reader (libyaml, built straight from its nodes: what the translation reads too)."""
    try:
        return load_text(text)
    except ValueError as failure:
        exc = failure.__cause__
        if isinstance(exc, json.JSONDecodeError):
            raise Invalid(
                f"service {service!r}: {where}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            ) from exc
        if isinstance(exc, yaml.YAMLError):
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise Invalid(f"service {service!r}: {where}: {at}invalid YAML: {problem}") from exc
        raise Invalid(f"service {service!r}: {where}: {failure}") from failure


def _pointer(document: Any, pointer: str) -> bool:
    node = document
    for token in pointer_tokens(pointer):  # read as composition reads it (percent-decoded, then ~1 and ~0)
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _refs(node: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.append((path or "/", ref))
        for key, value in node.items():
            if key != "$ref":
                token = str(key).replace("~", "~0").replace("/", "~1")
                found.extend(_refs(value, f"{path}/{token}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_refs(value, f"{path}/{index}"))
    return found


def _validate_openapi(
    service: str,
    text: str,
    where: str,
    *,
    base_dir: Path | None,
    files: Mapping[str, str] | None,
) -> dict[str, str]:
    """Parse the document and follow every ``$ref``; return the relative files it needs (path -> text)."""
    root = _load(text, where, service)
    if not isinstance(root, Mapping):
        raise Invalid(f"service {service!r}: {where}: an OpenAPI document must be a mapping")
    version = str(root.get("openapi") or root.get("swagger") or "")
    if not (version.startswith(("3.0", "3.1")) or version == "2.0"):
        raise Invalid(
            f"service {service!r}: {where}: not an OpenAPI 2.0, 3.0 or 3.1 document "
            f"(openapi/swagger is {version or 'missing'})"
        )
    if not isinstance(root.get("paths", {}), Mapping) or ("paths" not in root and "webhooks" not in root):
        raise Invalid(f"service {service!r}: {where}: the document needs a 'paths' mapping")
    _check_shape(service, where, root)
    collected: dict[str, str] = {}
    documents: dict[str, Any] = {"": root}
    queue: list[str] = [""]
    while queue:
        current = queue.pop()
        for at, ref in _refs(documents[current]):
            file_part, _, pointer = ref.partition("#")
            label = current or where
            if file_part.startswith(("http:", "https:", "//")) or file_part.startswith("/"):
                raise Invalid(
                    f"service {service!r}: {label}: $ref {ref!r} at {at} is not relative; only files beside the "
                    "document can be referenced"
                )
            target = current
            if file_part:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(current), file_part))
                if target.startswith("../") or target == "..":
                    raise Invalid(f"service {service!r}: {label}: $ref {ref!r} at {at} leaves the schema's folder")
                if target not in documents:
                    if len(documents) > MAX_REF_FILES:
                        raise Invalid(f"service {service!r}: {where}: more than {MAX_REF_FILES} referenced files")
                    content = _read_ref_file(service, label, ref, at, target, base_dir=base_dir, files=files)
                    collected[target] = content
                    documents[target] = _load(content, target, service)
                    queue.append(target)
            if pointer and not _pointer(documents[target], pointer):
                raise Invalid(f"service {service!r}: {label}: $ref {ref!r} at {at} points at nothing")
    return collected


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _check_shape(service: str, where: str, root: Mapping[str, Any]) -> None:
    """What OpenAPI requires and a translator would otherwise skip silently: ``info`` with a title and a version,
    path items and operations that are mappings."""
    info = root.get("info")
    if not isinstance(info, Mapping):
        raise Invalid(f"service {service!r}: {where}: info: required by OpenAPI (a mapping with title and version)")
    for key in ("title", "version"):
        value = info.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise Invalid(f"service {service!r}: {where}: info.{key}: required by OpenAPI; add it")
        if not isinstance(value, str | int | float):
            raise Invalid(f"service {service!r}: {where}: info.{key}: must be a string (got {type(value).__name__})")
    for path, item in (root.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            raise Invalid(
                f"service {service!r}: {where}: paths.{path}: a path item must be a mapping of operations "
                f"(got {type(item).__name__})"
            )
        for method in _METHODS:
            if method in item and not isinstance(item[method], Mapping):
                raise Invalid(
                    f"service {service!r}: {where}: paths.{path}.{method}: an operation must be a mapping "
                    f"(got {type(item[method]).__name__}: {str(item[method])[:40]!r})"
                )


def _read_ref_file(
    service: str,
    label: str,
    ref: str,
    at: str,
    target: str,
    *,
    base_dir: Path | None,
    files: Mapping[str, str] | None,
) -> str:
    if files is not None and target in files:
        return files[target]
    if base_dir is None:
        raise Invalid(f"service {service!r}: {label}: $ref {ref!r} at {at}: file {target} was not provided")
    path = (base_dir / target).resolve()
    if not path.is_relative_to(base_dir.resolve()):
        raise Invalid(f"service {service!r}: {label}: $ref {ref!r} at {at} leaves the schema's folder")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise Invalid(f"service {service!r}: {label}: $ref {ref!r} at {at}: {target} not found beside it") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"service {service!r}: {label}: $ref {ref!r}: cannot read {target}: {exc}") from exc


def validate_schema(
    service: str,
    protocol: SourceKind | str,
    text: str,
    *,
    where: str = "schema",
    base_dir: Path | None = None,
    files: Mapping[str, str] | None = None,
) -> ValidatedSchema:
    """Check that ``text`` is a usable schema for ``protocol``; raise :class:`Invalid` naming the service and file.

    ``where`` names the schema (its file name, or ``inline schema``); OpenAPI ``$ref`` files are read from
    ``files`` (relative path -> text) or from ``base_dir``.
    """
    kind = SourceKind(protocol)
    if not text.strip():
        raise Invalid(f"service {service!r}: {where}: the schema is empty")
    if kind is SourceKind.OPENAPI:
        needed = _validate_openapi(service, text, where, base_dir=base_dir, files=files)
        with _materialized(needed) as directory:
            translated = _translate(service, kind, text, where, directory)
        return ValidatedSchema(text=text, files=needed, translated=translated)
    _validate_sdl(service, kind, text, where)
    return ValidatedSchema(text=text)


class _materialized:
    """Relative ``$ref`` files written to a temporary folder, for readers that take a ``base_path``."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self._files = files
        self._tmp: Any = None

    def __enter__(self) -> Path | None:
        if not self._files:
            return None
        import tempfile

        self._tmp = tempfile.TemporaryDirectory(prefix="loom-schema-")
        root = Path(self._tmp.name)
        for name, content in self._files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        return root

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


# --- versions --------------------------------------------------------------------------------------------------


def latest_version(session: Session, service: Service) -> ServiceVersion | None:
    if service.id is None:
        return None
    return session.exec(
        select(ServiceVersion)
        .where(ServiceVersion.service_id == service.id)
        .order_by(col(ServiceVersion.version).desc())
        .limit(1)
    ).first()


def publish_version(
    session: Session, service: Service, schema: ValidatedSchema, *, actor: str
) -> ServiceVersion | None:
    """Store a new immutable version when the schema's hash differs from the newest one; None when unchanged."""
    current = latest_version(session, service)
    if current is not None and current.schema_hash == schema.hash:
        return None
    assert service.id is not None, "flush the service before publishing a version"
    version = ServiceVersion(
        service_id=service.id,
        version=(current.version + 1) if current is not None else 1,
        schema_text=schema.text,
        schema_hash=schema.hash,
        schema_files=dict(schema.files),
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(version)
    service.current_version = version.version
    service.updated_at = utcnow()
    session.add(service)
    session.flush()
    return version
