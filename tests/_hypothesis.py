"""Settings for the property tests that run real upstreams: the same examples on every CI run, new ones on demand."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["across_upstreams"]

# LOOM_HYPOTHESIS_EXPLORE=1 draws new examples instead of CI's fixed ones.
_EXPLORE = os.environ.get("LOOM_HYPOTHESIS_EXPLORE") == "1"


def across_upstreams(examples: int) -> settings:
    """``examples`` examples, derandomized unless exploring, without a deadline or the slowness check (each
    example makes HTTP calls), and without a database of failures (a CI clone keeps none)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not _EXPLORE,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
