"""Small real upstreams for the stitcher's tests and the benchmark: raw ASGI + graphql-core over precomputed data.

``python -m tests.stitcher.upstreams NAME=PORT ...`` serves some of them (NAME: a federation subgraph, ``monolith``).
"""
