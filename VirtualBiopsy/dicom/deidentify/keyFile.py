"""The secret key of keyed pseudonyms: made once, kept private, read with checks.

The key file holds the secret as text (64 hexadecimal characters, 32 random bytes, when made here). Whoever has
the key can recompute every pseudonym from an identifier, so it must stay inside the hospital and is never written
into the output.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import stat

from VirtualBiopsy.errors import InputError

#: The shortest key accepted, in bytes.
MINIMUM_KEY_BYTES = 32


def makeKey(path: str | os.PathLike) -> pathlib.Path:
    """Create ``path`` with a new random key (mode 0600, readable by its owner only).

    :raises InputError: when ``path`` exists already (a key is never overwritten: pseudonyms made with it would be
        lost).
    """
    path = pathlib.Path(path)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"Key file {path} exists already; a key is never overwritten (the pseudonyms made with it would change). "
            "Give it as --key, or name a new file."
        ) from None
    with os.fdopen(handle, "w", encoding="ascii") as stream:
        os.fchmod(stream.fileno(), 0o600)
        stream.write(secrets.token_hex(MINIMUM_KEY_BYTES) + "\n")
    return path


def readKey(path: str | os.PathLike) -> bytes:
    """The secret in ``path`` (surrounding white space removed).

    :raises InputError: for a missing or unreadable file, a file that group or others may read or write (with the
        ``chmod`` fix), or a secret shorter than :data:`MINIMUM_KEY_BYTES`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(
            f"Key file {path} does not exist or is not a file; make one with "
            f"'virtual-biopsy dicom deidentify --make-key {path}' (keep it inside the hospital), or give --new-key."
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InputError(
            f"Key file {path} has mode {mode:04o}: others than its owner may read or change it, and whoever reads it can "
            f"recompute every pseudonym. Fix: chmod 600 {path}"
        )
    secret = path.read_bytes().strip()
    if len(secret) < MINIMUM_KEY_BYTES:
        raise InputError(
            f"Key file {path} holds {len(secret)} bytes; a key needs at least {MINIMUM_KEY_BYTES} random bytes. Make a "
            f"new one with 'virtual-biopsy dicom deidentify --make-key NEWFILE'."
        )
    return secret
