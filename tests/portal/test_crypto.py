"""portal._crypto: encryption at rest derived from the settings secret."""

from __future__ import annotations

import pytest

from portal._crypto import decrypt, encrypt
from portal.errors import Invalid
from portal.settings import Settings

SECRET = "a" * 40
PEM = "-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n"


def test_round_trip_and_no_plain_text_at_rest() -> None:
    token = encrypt(SECRET, PEM)
    assert "PRIVATE KEY" not in token
    assert token != encrypt(SECRET, PEM)  # fresh IV each time
    assert decrypt(SECRET, token).decode() == PEM


def test_another_secret_cannot_read_it() -> None:
    token = encrypt(SECRET, PEM)
    with pytest.raises(Invalid, match="another LOOM_AUTH_SECRET_KEY"):
        decrypt("b" * 40, token)


@pytest.mark.parametrize("token", ["", "not-a-token", "gAAAAA\u00e9"])
def test_corrupt_values_are_reported(token: str) -> None:
    with pytest.raises(Invalid, match="cannot decrypt"):
        decrypt(SECRET, token)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(Invalid, match="LOOM_AUTH_SECRET_KEY"):
        encrypt("", PEM)


# Encrypted by the code before keys were generated (git c4fb49b), under a configured LOOM_AUTH_SECRET_KEY.
STORED_BEFORE = "gAAAAABrEU3Vq2ADieoSWfR7fdJRySZp5VWuafR-g99VMUFbAAjWSItw97oMEDv2AqPhrK25PNZqwZA2E9jfvovvdB_j522t2Q=="


def test_what_a_configured_key_encrypted_before_stays_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installations that had set LOOM_AUTH_SECRET_KEY keep reading their stored secrets: the derivation is fixed."""
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", SECRET)
    assert decrypt(Settings().resolved_secret_key(), STORED_BEFORE) == b"loom-at-rest-v1"
