"""OpenAPI documents are read with libyaml's parser when PyYAML has it, with exactly the values of the pure-Python
loader (YAML 1.2-like booleans, no timestamps)."""

from __future__ import annotations

import re
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


UNUSUAL_YAML = {
    "anchors and aliases": "a: &x {b: 1, c: [1, 2.5, ~, true, on]}\nd: *x\ne: [*x, *x]\n",
    "a merge key": "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n",
    "explicit tags": "a: !!str 12\nb: !!float 1\nc: !!binary aGVsbG8=\nd: !!set {x, y}\n",
    "numbers YAML spells its own way": "a: 0x1F\nb: 0o17\nc: 1_000\nd: .inf\ne: -.INF\nf: 1e3\ng: 190:20:30\n",
    "a sequence as a key": "? [1, 2]\n: pair\n",
    "a value key": "a: {=: 1}\n",
    "a scalar document": "just text\n",
    "an empty document": "# nothing\n",
    "duplicate keys": "a: 1\na: 2\n",
}


@pytest.mark.parametrize("text", UNUSUAL_YAML.values(), ids=UNUSUAL_YAML.keys())
def test_what_the_plain_builder_leaves_to_pyyaml_reads_as_pyyaml_reads_it(text: str) -> None:
    """Mappings, sequences and scalars are built straight from libyaml's nodes; merge keys, tags, non-scalar keys
    and self-containing nodes go to PyYAML's constructor. Either way the value (or the error) is PyYAML's."""
    try:
        expected = yaml.load(text, Loader=_jsonref._PyLoader)
    except yaml.YAMLError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc).splitlines()[0])):
            load_text(text)
        return
    assert load_text(text) == expected


def test_an_alias_is_one_value_and_a_node_may_contain_itself() -> None:
    shared = load_text("a: &x {b: [1]}\nc: *x\n")
    assert shared["a"] is shared["c"]
    looped = load_text("a: &x [1, *x]\n")
    assert looped["a"][0] == 1 and looped["a"][1] is looped["a"]


def test_a_yaml_syntax_error_says_where_on_one_line() -> None:
    with pytest.raises(ValueError, match=r"^invalid YAML: .*line 2, column 2") as info:
        load_text("a: [1, 2\nb: 3")
    assert "\n" not in str(info.value)


def test_pointer_tokens_are_read_as_composition_resolves_them() -> None:
    assert pointer_tokens("/definitions/Transaction%20Id") == ["definitions", "Transaction Id"]
    assert pointer_tokens("/paths/~1users~1{id}/get") == ["paths", "/users/{id}", "get"]
    assert pointer_tokens("/a%7E1b/~01") == ["a/b", "~1"]
