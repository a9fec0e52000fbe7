"""Prints the admin API's SDL, the file the web UI's typed operations are generated from.

``.venv/bin/python -m tests.ui.print_sdl > frontend/schema.graphql`` after changing ``portal/api``;
``test_sdl.py`` fails until the committed file matches the server again.
"""

from __future__ import annotations

from pathlib import Path

from portal.api import schema

__all__ = ["SDL_FILE", "admin_sdl"]

SDL_FILE = Path(__file__).parents[2] / "frontend" / "schema.graphql"


def admin_sdl() -> str:
    """The admin API's schema as Strawberry prints it, with one final newline."""
    return schema.as_str().rstrip("\n") + "\n"


if __name__ == "__main__":
    print(admin_sdl(), end="")
