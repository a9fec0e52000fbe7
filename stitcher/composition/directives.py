"""Merging custom directive definitions (executable ones are kept, type-system ones warned about)."""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    DirectiveLocation,
    GraphQLDirective,
    GraphQLSchema,
    is_required_argument,
    is_specified_directive,
    print_directive,
)
from graphql.language.print_string import print_string

from stitcher.composition.fields import _description, _first, _merge_input_value, _optional_deprecation
from stitcher.composition.state import _Composer
from stitcher.ir import SourceKind, Subgraph

_VERSIONED = re.compile(r"^(.*)/v(\d+)\.(\d+)$")
_EXECUTABLE_LOCATIONS = frozenset(
    {
        DirectiveLocation.QUERY,
        DirectiveLocation.MUTATION,
        DirectiveLocation.SUBSCRIPTION,
        DirectiveLocation.FIELD,
        DirectiveLocation.FRAGMENT_DEFINITION,
        DirectiveLocation.FRAGMENT_SPREAD,
        DirectiveLocation.INLINE_FRAGMENT,
        DirectiveLocation.VARIABLE_DEFINITION,
    }
)


def _merge_directives(composer: _Composer) -> None:
    """Custom directive definitions. Executable ones (``@inContext(country:) on QUERY``) are kept in the product
    schema, so client operations may use them; the gateway forwards them to the services that define them. Where
    several services define one, the product takes the locations all of them accept and merges the arguments like
    a field's. Type-system directives (on fields, types, ...) are the services' own metadata: the product schema
    carries only @deprecated, @specifiedBy and @oneOf, so each is reported as left out, never dropped silently."""
    by_name: dict[str, list[tuple[Subgraph, GraphQLDirective]]] = {}
    for sub in composer.subgraphs:
        assert sub.schema is not None
        for directive in sub.schema.directives:
            if not is_specified_directive(directive):
                by_name.setdefault(directive.name, []).append((sub, directive))
    repeatable: dict[str, bool] = {}
    for name, defs in by_name.items():
        if any(name in sub.composed_directives for sub, _ in defs):
            kept = _compose_directive(composer, name, defs)
            if kept is not None:
                repeatable[name] = kept.is_repeatable
            _warn_not_composing(composer, name, [sub for sub, _ in defs])
            continue
        for sub, directive in defs:
            system = [loc.name for loc in directive.locations if loc not in _EXECUTABLE_LOCATIONS]
            if system:
                uses = _directive_uses(sub, name)
                used = f"applied {uses} time{'s' if uses != 1 else ''}" if uses else "not applied"
                composer.warnings.append(
                    f'@{name}: a type-system directive of service "{sub.name}" (on {" | ".join(system)}; {used}) '
                    "is left out of the product schema, which carries only @deprecated, @specifiedBy and @oneOf"
                )
        executable = [(sub, d) for sub, d in defs if any(loc in _EXECUTABLE_LOCATIONS for loc in d.locations)]
        if executable:
            _merge_executable_directive(composer, name, executable)
    composer.directive_usages = _kept_usages(composer, repeatable)


def _spec_version(url: str) -> tuple[str, int, int]:
    """A spec URL's identity and version (``https://specs.example.com/shop/v1.2`` -> ``(…/shop, 1, 2)``); a URL
    without a version is its own identity, version 0.0."""
    found = _VERSIONED.match(url.rstrip("/"))
    return (found[1], int(found[2]), int(found[3])) if found else (url, 0, 0)


def _compose_directive(
    composer: _Composer, name: str, defs: list[tuple[Subgraph, GraphQLDirective]]
) -> GraphQLDirective | None:
    """A directive some subgraph lists in ``@composeDirective``: its definition and applications are the product's,
    as Apollo composes them. The subgraphs composing it must import it from one spec and one major version of it;
    the definition of the newest minor version wins. Definitions of the same version (or of a subgraph that defines
    it without composing it) must be alike. Anything else is a conflict naming both services. The definition the
    product takes, None on a conflict."""
    composing = [(sub, d) for sub, d in defs if name in sub.composed_directives]
    specs = {sub.name: sub.composed_directives[name] for sub, _ in composing}
    versions = {service: _spec_version(url) for service, url in specs.items()}
    (one, (identity, major, _)), *others = versions.items()
    for other, (other_identity, other_major, _) in others:
        if other_identity != identity:
            composer.conflicts.append(
                f'@{name}: composed from different specs: {specs[one]} in service "{one}" and {specs[other]} in '
                f'service "{other}"'
            )
            return None
        if other_major != major:
            composer.conflicts.append(
                f'@{name}: composed from different major versions of {identity}: {specs[one]} in service "{one}" '
                f'and {specs[other]} in service "{other}" (use one major version)'
            )
            return None
    newest_sub, newest = max(composing, key=lambda each: versions[each[0].name][2])
    printed = print_directive(newest)
    version = specs[newest_sub.name]
    for sub, directive in defs:
        alike = sub.composed_directives.get(name, version) != version or print_directive(directive) == printed
        if not alike:
            composer.conflicts.append(
                f'@{name}: @composeDirective needs one definition, but service "{newest_sub.name}" defines '
                f'"{printed}" and service "{sub.name}" "{print_directive(directive)}" (define it alike in both)'
            )
    composer.directives[f"@{name}"] = printed
    composer.composed_directives[name] = version
    return newest


def _applied_name(application: str) -> str:
    """``@foo(level: 2)`` -> ``foo``."""
    return application[1:].split("(", 1)[0]


def _warn_not_composing(composer: _Composer, name: str, defining: list[Subgraph]) -> None:
    """A subgraph that defines a directive another one composes, without composing it itself: Apollo composition
    leaves its applications out, and so does the product; the report names them."""
    for sub in defining:
        if name in sub.composed_directives:
            continue
        if sub.kind is not SourceKind.FEDERATION:  # it cannot compose: its SDL says where it applies it
            uses = _directive_uses(sub, name)
            if uses:
                composer.warnings.append(
                    f'@{name}: service "{sub.name}" applies it {uses} time{"s" if uses != 1 else ""}, but only a '
                    "Federation subgraph can compose a directive (@composeDirective): those applications are left out"
                )
            continue
        where = [
            c or "the schema"
            for c, found in sub.directive_usages.items()
            if any(_applied_name(d) == name for d in found)
        ]
        if where:
            composer.warnings.append(
                f'@{name}: service "{sub.name}" defines it without @composeDirective, so its applications (on '
                f'{", ".join(where)}) are left out (add @composeDirective(name: "@{name}") to its schema to keep them)'
            )


def _kept_usages(composer: _Composer, repeatable: dict[str, bool]) -> dict[str, tuple[str, ...]]:
    """The applications of the composed directives, per schema coordinate, merged over the subgraphs that compose
    them (in first-seen order, each once). What the product cannot carry is a warning naming its coordinate: an
    application on the argument of a directive definition the product leaves out, and a second, different
    application of a non-repeatable directive (the one most services apply is kept, the first on a tie)."""
    by_coordinate: dict[str, dict[str, list[str]]] = {}  # coordinate -> application -> the services applying it
    for sub in composer.subgraphs:
        for coordinate, found in sub.directive_usages.items():
            owner = coordinate[1:].split("(", 1)[0] if coordinate.startswith("@") else None
            for application in found:
                name = _applied_name(application)
                if name not in sub.composed_directives or name not in composer.composed_directives:
                    continue
                if owner is not None and f"@{owner}" not in composer.directives:
                    composer.warnings.append(
                        f'@{name} on {coordinate} in service "{sub.name}": left out with the directive @{owner} it '
                        "is applied to"
                    )
                    continue
                by_coordinate.setdefault(coordinate, {}).setdefault(application, []).append(sub.name)
    out: dict[str, tuple[str, ...]] = {}
    for coordinate, applications in by_coordinate.items():
        kept = list(applications)
        for name in dict.fromkeys(_applied_name(a) for a in applications):
            same = [a for a in applications if _applied_name(a) == name]
            if len(same) < 2 or repeatable.get(name, True):
                continue
            winner = max(same, key=lambda a: len(applications[a]))  # the first of the most applied
            kept = [a for a in kept if a == winner or _applied_name(a) != name]
            left = ", ".join(f"{a} ({_services(applications[a])})" for a in same if a != winner)
            composer.warnings.append(
                f"@{name} on {coordinate or 'the schema'}: a non-repeatable directive applied differently by the "
                f"services: {winner} ({_services(applications[winner])}) is kept, {left} is left out"
            )
        out[coordinate] = tuple(kept)
    return out


def _services(names: list[str]) -> str:
    return f'service "{names[0]}"' if len(names) == 1 else "services " + ", ".join(f'"{n}"' for n in names)


def _merge_executable_directive(composer: _Composer, name: str, defs: list[tuple[Subgraph, GraphQLDirective]]) -> None:
    locations = [loc for loc in defs[0][1].locations if all(loc in d.locations for _, d in defs)]
    locations = [loc for loc in locations if loc in _EXECUTABLE_LOCATIONS]
    everywhere = {loc for _, d in defs for loc in d.locations if loc in _EXECUTABLE_LOCATIONS}
    services = " and ".join(f'"{sub.name}"' for sub, _ in defs)
    if not locations:
        composer.warnings.append(
            f"@{name}: services {services} define it on different locations, none common to all: left out of the "
            "product (rename it in one service, or define it alike)"
        )
        return
    if len(locations) < len(everywhere):
        left = sorted(loc.name for loc in everywhere - set(locations))
        composer.warnings.append(
            f"@{name}: locations {', '.join(left)} are not accepted by every service of {services}: left out"
        )
    parts: list[str] = []
    arg_names = dict.fromkeys(a for _, d in defs for a in d.args)
    for arg_name in arg_names:
        present = [(sub, d.args[arg_name]) for sub, d in defs if arg_name in d.args]
        missing = [sub for sub, d in defs if arg_name not in d.args]
        coordinate = f"@{name}({arg_name}:)"
        value = _merge_input_value(composer, coordinate, present, missing, is_required_argument, warn_left_out=True)
        if value is None:
            continue
        merged, default, description, deprecation = value
        described = f"{print_string(description)} " if description else ""
        deprecated = _optional_deprecation(composer, coordinate, merged, default, deprecation)
        parts.append(f"{described}{arg_name}: {merged}{default}{deprecated}")
    args = f"({', '.join(parts)})" if parts else ""
    repeatable = " repeatable" if all(d.is_repeatable for _, d in defs) else ""
    description = _first([d.description for _, d in defs])
    composer.directives[f"@{name}"] = (
        f"{_description(description, '')}directive @{name}{args}{repeatable} on "
        + " | ".join(loc.name for loc in locations)
    )


def _directive_uses(sub: Subgraph, name: str) -> int:
    """How often a subgraph applies directive ``name`` in its SDL (an introspection result carries none)."""
    if sub.directive_uses is not None:
        return sub.directive_uses.get(name, 0)
    assert sub.schema is not None
    return count_directive_uses(sub.schema).get(name, 0)


def count_directive_uses(schema: GraphQLSchema) -> dict[str, int]:
    """How often the schema's SDL applies each directive (an introspection result carries none)."""
    counts: dict[str, int] = {}

    def applied(node: Any) -> None:
        for d in getattr(node, "directives", None) or ():
            counts[d.name.value] = counts.get(d.name.value, 0) + 1

    nodes: list[Any] = [schema.ast_node, *schema.extension_ast_nodes]
    for named in schema.type_map.values():
        nodes.append(named.ast_node)
        nodes.extend(named.extension_ast_nodes)
    for node in nodes:
        if node is None:
            continue
        applied(node)
        for member in (*(getattr(node, "fields", None) or ()), *(getattr(node, "values", None) or ())):
            applied(member)
            for argument in getattr(member, "arguments", None) or ():
                applied(argument)
    for directive in schema.directives:  # ``directive @x(a: Int @name) on FIELD``
        for argument in getattr(directive.ast_node, "arguments", None) or ():
            applied(argument)
    return counts
