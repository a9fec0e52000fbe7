"""The committed SDL the web UI is generated from is the admin API's schema, exactly."""

from __future__ import annotations

from tests.ui.print_sdl import SDL_FILE, admin_sdl


def test_the_committed_sdl_is_the_servers_schema() -> None:
    assert SDL_FILE.read_text() == admin_sdl(), (
        "frontend/schema.graphql and the admin API have drifted: run `.venv/bin/python -m tests.ui.print_sdl > "
        "frontend/schema.graphql`, then `cd frontend && npm run build` (it type-checks the UI's operations against "
        "the new schema)"
    )
