"""Fail loudly, before pytest starts, when the real PostgreSQL or Redis the tests need is not reachable.

Opt out explicitly on a machine without them: LOOM_TEST_SKIP_POSTGRES=1 / LOOM_TEST_SKIP_REDIS=1.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    failed = False
    checks = [
        ("PostgreSQL", "LOOM_TEST_DATABASE_URL", DEFAULT_PG, 5432, "LOOM_TEST_SKIP_POSTGRES"),
        ("Redis", "LOOM_TEST_REDIS_URL", DEFAULT_REDIS, 6379, "LOOM_TEST_SKIP_REDIS"),
    ]
    for name, var, default, port, skip in checks:
        if os.environ.get(skip) == "1":
            print(f"check_services: {name} tests skipped on purpose ({skip}=1)")
            continue
        url = os.environ.get(var, default)
        if not reachable(url, port):
            print(
                f"check_services: {name} is not reachable at {url}. Start it, point {var} at one, "
                f"or set {skip}=1 to skip its tests on purpose.",
                file=sys.stderr,
            )
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
