"""OpenAPI documents are read with libyaml's parser when PyYAML has it, with exactly the values of the pure-Python
loader (YAML 1.2-like booleans, no timestamps)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stitcher import _jsonref
from stitcher._jsonref import load_text, pointer_tokens

SPECS = sorted((Path(__file__).parent / "specs").rglob("*.yaml")) + sorted(
    (Path(__file__).parent / "schemas").glob("*.yaml")
)


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")
    assert issubclass(_jsonref._Loader, yaml.CSafeLoader)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_libyaml_and_pure_python_loaders_read_the_same_values(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_text(text) == yaml.load(text, Loader=_jsonref._PyLoader)


def test_only_true_and_false_are_booleans_and_dates_stay_strings() -> None:
    text = "a: on\nb: no\nc: 2024-01-01\nd: true\ne: FALSE\nf: 1.5\ng: ~\nh: 0x1F\ni: 'yes'\n"
    expected = {
        "a": "on",
        "b": "no",
        "c": "2024-01-01",
        "d": True,
        "e": False,
        "f": 1.5,
        "g": None,
        "h": 31,
        "i": "yes",
    }
    assert load_text(text) == expected
    assert yaml.load(text, Loader=_jsonref._PyLoader) == expected


def test_a_yaml_syntax_error_says_where_on_one_line() -> None:
    with pytest.raises(ValueError, match=r"^invalid YAML: .*line 2, column 2") as info:
        load_text("a: [1, 2\nb: 3")
    assert "\n" not in str(info.value)


def test_pointer_tokens_are_read_as_composition_resolves_them() -> None:
    assert pointer_tokens("/definitions/Transaction%20Id") == ["definitions", "Transaction Id"]
    assert pointer_tokens("/paths/~1users~1{id}/get") == ["paths", "/users/{id}", "get"]
    assert pointer_tokens("/a%7E1b/~01") == ["a/b", "~1"]
