"""Print a composed product as SDL (the API schema) or as a Federation v2 supergraph, and load a supergraph SDL.

The supergraph is the shape Apollo's composition prints (``@link`` to link v1.0 and join v0.3, ``join__Graph``,
``@join__type``/``@join__field``/``@join__implements``/``@join__unionMember``/``@join__enumValue``), so Apollo
Gateway or Hive Gateway can load what we print, and :func:`load_supergraph` reads what they print.

One module per concept:

- :mod:`.sdl`: the API schema's SDL printer (with hooks for the supergraph's directives), filtering a subgraph's
  document by schema coordinates, and building a schema as graphql-js 16 accepts it;
- :mod:`.printer`: the supergraph SDL;
- :mod:`.loader`: reading a supergraph SDL back into the IR;
- :mod:`.carried`: what a Loom supergraph carries beyond the join information (its sources and stitching), so
  ``loom gateway --supergraph`` serves exactly what was composed.
"""

from __future__ import annotations

from stitcher.supergraph.carried import LOOM_SPEC, uncarried
from stitcher.supergraph.loader import load_supergraph
from stitcher.supergraph.printer import print_supergraph_sdl
from stitcher.supergraph.sdl import (
    ROOT_TYPE_NAMES,
    filter_document,
    print_product_sdl,
    print_schema_sdl,
    schema_from_document,
)

__all__ = [
    "LOOM_SPEC",
    "ROOT_TYPE_NAMES",
    "filter_document",
    "load_supergraph",
    "print_product_sdl",
    "print_schema_sdl",
    "print_supergraph_sdl",
    "schema_from_document",
    "uncarried",
]
