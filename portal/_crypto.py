"""Encryption at rest for the few secrets the portal must be able to read back (signing keys' private halves).

The Fernet key is derived with HKDF from the installation's secret key (``LOOM_AUTH_SECRET_KEY``, or the key generated
in ``LOOM_DATA_DIR/secret_key``: :meth:`portal.settings.Settings.resolved_secret_key`), so changing that key makes old
ciphertexts unreadable: :func:`decrypt` then says so instead of returning garbage. The derivation is unchanged, so
what an installation encrypted under its configured ``LOOM_AUTH_SECRET_KEY`` stays readable with that value.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal.errors import Invalid

__all__ = ["decrypt", "encrypt", "fernet_for"]

# Domain separation: a key derived for this purpose is useless for anything else derived from the same secret.
_INFO = b"loom/v1/encryption-at-rest"


def fernet_for(secret: str) -> Fernet:
    """The Fernet cipher derived from the installation's secret key (``settings.resolved_secret_key()``)."""
    if not secret:
        raise Invalid("the secret key is empty; set LOOM_AUTH_SECRET_KEY")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str, plaintext: str | bytes) -> str:
    """Encrypt ``plaintext`` (text is UTF-8 encoded) into an ASCII token fit for a Text column."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    return fernet_for(secret).encrypt(data).decode("ascii")


def decrypt(secret: str, token: str) -> bytes:
    """Decrypt a token made by :func:`encrypt` with the same secret."""
    try:
        return fernet_for(secret).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise Invalid(
            "cannot decrypt a value stored at rest: it was encrypted with another LOOM_AUTH_SECRET_KEY (or "
            "another LOOM_DATA_DIR/secret_key) or is corrupt; restore the previous key or rotate the signing keys"
        ) from exc
