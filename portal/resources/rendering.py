"""Resources as text: ``---``-separated YAML (schemas as literal blocks) or JSON, what ``loom get`` prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

__all__ = ["render"]


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line strings (schemas) as literal blocks, so ``get -o yaml`` stays readable."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockStyleDumper.add_representer(str, _str_presenter)


def render(resources: Sequence[Mapping[str, Any]], output: str) -> str:
    """``yaml``: ``---``-separated documents; ``json``: one object, or a list for several."""
    if output == "json":
        return json.dumps(resources[0] if len(resources) == 1 else list(resources), indent=2)
    return "".join(
        ("---\n" if i else "") + yaml.dump(dict(r), Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True)
        for i, r in enumerate(resources)
    )
