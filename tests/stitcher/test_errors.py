"""stitcher.errors: every exception the stitcher defines is in one documented tree, with a message and a suggestion."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import re

import pytest

import stitcher
from stitcher import errors
from stitcher.errors import CompositionError, SchemaError, StitcherError


def _stitcher_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a stitcher module, by ``module.Name``."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(stitcher.__path__, prefix="stitcher."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_stitcher_exception_is_a_stitcher_error_on_the_map() -> None:
    found = _stitcher_exceptions()
    assert len(found) > 15  # the walk reached the modules
    public = {where: cls for where, cls in found.items() if not cls.__name__.startswith("_")}
    outside = sorted(where for where, cls in public.items() if not issubclass(cls, StitcherError))
    assert outside == []
    doc = errors.__doc__ or ""
    unmapped = sorted(where for where, cls in public.items() if not re.search(rf"\b{cls.__name__}\b", doc))
    assert unmapped == []


def test_private_exceptions_are_named_in_the_docstring_too() -> None:
    """They never leave their module; the map says so, so nobody hunts for them."""
    private = {cls.__name__ for cls in _stitcher_exceptions().values() if cls.__name__.startswith("_")}
    assert private
    assert all(name in (errors.__doc__ or "") for name in private)


def test_a_stitcher_error_carries_its_message_and_suggestion() -> None:
    plain = StitcherError("the port 8080 is busy")
    assert (plain.message, plain.suggestion, str(plain)) == ("the port 8080 is busy", None, "the port 8080 is busy")
    helped = SchemaError("the SDL uses @key", service="books", suggestion="declare it with protocol: federation")
    assert helped.message == 'service "books": the SDL uses @key'
    assert helped.suggestion == "declare it with protocol: federation"
    assert str(helped) == 'service "books": the SDL uses @key (declare it with protocol: federation)'
    assert str(pickle.loads(pickle.dumps(plain))) == str(plain)  # a worker process can report it to its supervisor


@pytest.mark.parametrize("conflicts", [["a"], ["a", "b"]])
def test_composition_errors_list_every_conflict_one_per_line(conflicts: list[str]) -> None:
    exc = CompositionError(conflicts)
    assert exc.conflicts == conflicts
    assert str(exc).splitlines()[1:] == [f"- {c}" for c in conflicts]
    assert exc.message == str(exc)
