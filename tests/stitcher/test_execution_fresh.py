"""stitcher.execution._fresh: which entity fetches may merge their answers by a plain dict update (no other fetch
brings one of their keys to the same objects), on plans written out by hand."""

from __future__ import annotations

from stitcher.execution._fresh import mark_fresh_fetches
from stitcher.execution._tree import _merge_entities
from stitcher.planning import EntityTarget, FetchNode, ObjectShape, QueryPlan, Selection


def selection(*fields: str | tuple[str, Selection], fragments: dict[str, Selection] | None = None) -> Selection:
    out = Selection(fragments=dict(fragments or {}))
    for item in fields:
        if isinstance(item, tuple):
            out.field(item[0], item[0], "", True).selection = item[1]
        else:
            out.field(item, item, "", False)
    return out


def entity(path: tuple[str, ...], fields: Selection, parent: FetchNode) -> FetchNode:
    node = FetchNode(
        "sub",
        "entity",
        "query",
        path=tuple((key, None) for key in path),
        targets={"Product": EntityTarget("Product", "Product", (("upc", "upc"),), fields)},
        parent=parent,
    )
    parent.children.append(node)
    return node


def test_a_fetch_is_fresh_unless_another_one_brings_one_of_its_keys_to_the_same_objects() -> None:
    reviews = selection("id", ("author", selection("id")))
    root = FetchNode("sub", "root", "query", selection=selection(("products", selection("upc", ("reviews", reviews)))))
    stock = entity(("products",), selection("inStock"), root)
    # `reviews` again, with other fields: the root's reviews must be merged into, not replaced.
    more_reviews = entity(("products",), selection(("reviews", selection("body"))), root)
    author_name = entity(("products", "reviews", "author"), selection("name"), root)
    # `body` reaches these objects through `more_reviews`, one level up.
    body_again = entity(("products", "reviews"), selection("body"), root)
    # A type condition's fields count too.
    typed = entity(("products",), selection(fragments={"Book": selection("upc")}), root)
    plan = QueryPlan("query", ObjectShape(None), ((root,),))
    mark_fresh_fetches(plan)
    assert (stock.fresh, author_name.fresh) == (True, True)
    assert (more_reviews.fresh, body_again.fresh, typed.fresh) == (False, False, False)
    assert not root.fresh


def test_a_fresh_merge_updates_every_object_of_a_group_and_skips_what_is_not_an_object() -> None:
    first, second, third = {"upc": "1"}, {"upc": "1"}, {"upc": "2"}
    _merge_entities([{"name": "a"}, None], [[first, second], [third]], fresh=True)
    assert (first, second, third) == ({"upc": "1", "name": "a"}, {"upc": "1", "name": "a"}, {"upc": "2"})
    nested = {"upc": "3", "dims": {"size": 1}}
    _merge_entities([{"dims": {"weight": 2}}], [[nested]], fresh=False)
    assert nested == {"upc": "3", "dims": {"size": 1, "weight": 2}}
