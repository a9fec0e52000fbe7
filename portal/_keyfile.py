"""The installation's generated secret key: ``LOOM_DATA_DIR/secret_key``, readable by its owner only.

Created once, atomically: the key is written to a private temporary file which is then hard-linked to its name, so
processes starting together (``loom serve`` and a CLI command, test subprocesses) never see half a key and all end
up with the one that was linked first. A key file that the group or others may read is refused, not used: whoever
can read it can sign sessions and read the secrets stored encrypted with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from portal.settings import InsecureSettingsError

__all__ = ["KEY_FILE_NAME", "ensure_private_dir", "load_or_create_key"]

KEY_FILE_NAME = "secret_key"
_MIN_LENGTH = 32


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing; the directory itself is created 0700."""
    if path.is_dir():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise InsecureSettingsError(
            f"cannot create the data directory {path} ({exc.strerror}): set LOOM_DATA_DIR to a writable directory"
        ) from exc


def load_or_create_key(data_dir: Path) -> str:
    """The key in ``data_dir/secret_key``, generating it (256 random bits and more) on first use."""
    path = data_dir / KEY_FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    ensure_private_dir(data_dir)
    temporary = data_dir / f".{KEY_FILE_NAME}.{secrets.token_hex(8)}"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key is the key
            os.link(temporary, path)
    except OSError as exc:
        raise InsecureSettingsError(
            f"cannot create the secret key file {path} ({exc.strerror}): make LOOM_DATA_DIR writable, or set "
            "LOOM_AUTH_SECRET_KEY"
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return _read(path)


def _read(path: Path) -> str:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InsecureSettingsError(
            f"cannot read the secret key file {path} ({exc.strerror}): run Loom as the user who owns it, or set "
            "LOOM_AUTH_SECRET_KEY"
        ) from exc
    with os.fdopen(descriptor, encoding="ascii", errors="replace") as file:
        mode = os.fstat(file.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InsecureSettingsError(
                f"the secret key file {path} may be read by others (mode {stat.S_IMODE(mode):04o}): anyone who "
                f"reads it can forge sessions; run `chmod 600 {path}` (if it leaked, delete it and restart instead: "
                "everybody is signed out and the OAuth signing keys must be rotated)"
            )
        key = file.read().strip()
    if len(key) < _MIN_LENGTH:
        raise InsecureSettingsError(
            f"the secret key file {path} holds {len(key)} characters, not a generated key: delete it to have a new "
            "one generated (everybody is signed out), or set LOOM_AUTH_SECRET_KEY"
        )
    return key
