"""The key-encryption key (KEK): AES-256-GCM over the signing keys' private halves before they reach the database.

Where it comes from (exactly one):

* ``REMIT_KEY_ENCRYPTION_KEY`` (the setting ``key_encryption_key``): base64url (or base64) of 32 random bytes;
* ``tokens.kek_file``: a file holding the same, readable by its owner only;
* by default ``<home>/keys/kek``, created on first use with mode 0600 in a 0700 directory. Fine for one server;
  several servers on one PostgreSQL store need the same key, so ``env = "production"`` with PostgreSQL refuses
  to invent one.

A sealed value is ``v1.<base64url(nonce || ciphertext || tag)>`` with a random 96-bit nonce; the associated data
names what was sealed (the signing key's ``kid``), so a ciphertext copied onto another row does not open. The key
itself never leaves this module's objects: no attribute holds it and ``repr`` shows only its id.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from remit.errors import ConfigurationError

if TYPE_CHECKING:
    from remit.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = "v1."
DEFAULT_FILE = "kek"
ENV_VAR = "REMIT_KEY_ENCRYPTION_KEY"
#: what to run to make a key; printed in the errors that ask for one
MAKE_ONE = "openssl rand -base64 32"

_B64 = re.compile(r"^[A-Za-z0-9_-]+$")


class KeyDecryptionError(ConfigurationError):
    """A sealed private key does not open with this process's key-encryption key (another KEK, or a damaged
    value). The message names both key ids; never the key."""

    code = "key_decryption_failed"
    default_message = "a signing key cannot be decrypted with this server's key-encryption key"


class KeyEncryptionKey:
    """An AES-256-GCM key that seals and opens small secrets. ``id`` names it without revealing it."""

    __slots__ = ("_aead", "id", "source")

    def __init__(self, key: bytes, *, source: str) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"{source} must hold {KEY_BYTES} random bytes; make one with: {MAKE_ONE}")
        self._aead = AESGCM(key)
        #: first 16 hex digits of a SHA-256 over the key, domain-separated: tells keys apart, reveals nothing
        self.id = hashlib.sha256(b"remit.kek-id/v1\x00" + key).hexdigest()[:16]
        #: where the key came from, for messages
        self.source = source

    def __repr__(self) -> str:  # never the key material
        return f"KeyEncryptionKey(id={self.id!r}, source={self.source!r})"

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        """Seal ``plaintext``; ``context`` (associated data) must be given again to open it."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode("utf-8"))
        return VERSION + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, sealed: str, *, context: str) -> bytes:
        """Open a value from ``encrypt``; ``KeyDecryptionError`` if this key (or ``context``) does not fit."""
        raw = _unb64(sealed.removeprefix(VERSION)) if sealed.startswith(VERSION) else None
        if raw is None:
            raise KeyDecryptionError(f"{context}: the stored value is not one this version of Remit sealed")
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError):
            # from None: the cause says nothing more, and the message already names both sides
            raise KeyDecryptionError(
                f"{context} cannot be decrypted with the key-encryption key {self.id} from {self.source}"
            ) from None

    # -- where keys come from ---------------------------------------------------------------------------------------

    @classmethod
    def generate(cls, *, source: str = "a generated key") -> KeyEncryptionKey:
        return cls(secrets.token_bytes(KEY_BYTES), source=source)

    @classmethod
    def from_text(cls, text: str, *, source: str) -> KeyEncryptionKey:
        """From base64url or base64 text (padding optional). Errors never echo the text."""
        raw = _unb64(text.strip().replace("+", "-").replace("/", "_").rstrip("="))
        if raw is None:
            raise ConfigurationError(f"{source} is not base64 text; make a key with: {MAKE_ONE}")
        if len(raw) != KEY_BYTES:
            raise ConfigurationError(f"{source} holds {len(raw)} bytes, not {KEY_BYTES}; make a key with: {MAKE_ONE}")
        return cls(raw, source=source)

    @classmethod
    def from_file(cls, path: Path) -> KeyEncryptionKey:
        """From a file that only its owner may read or write; anything looser is refused."""
        try:
            info = path.stat()
        except FileNotFoundError:
            raise ConfigurationError(f"the key-encryption key file {path} does not exist", field="kek_file") from None
        except OSError as exc:
            raise ConfigurationError(f"the key-encryption key file {path} cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"the key-encryption key file {path} is not a regular file", field="kek_file")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise ConfigurationError(
                f"the key-encryption key file {path} is open to group or others (mode {mode:04o}); "
                f"restrict it to its owner: chmod 600 {path}",
                field="kek_file",
            )
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            raise ConfigurationError(f"the key-encryption key file {path} cannot be read as text") from None
        return cls.from_text(text, source=str(path))

    @classmethod
    def load_or_create(cls, path: Path) -> KeyEncryptionKey:
        """The key in ``path``, created (mode 0600, directory 0700) if absent. Two processes creating it at once end
        up with the same key: the file appears whole, by a hard link, or not at all."""
        if path.exists():
            return cls.from_file(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=") + b"\n"
        partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            try:
                os.write(fd, text)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(partial, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            partial.unlink(missing_ok=True)
        _sync_directory(path.parent)
        return cls.from_file(path)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyEncryptionKey:
        """The key the settings name; see the module docstring."""
        given = settings.key_encryption_key
        file = settings.tokens.kek_file
        if given is not None and file is not None:
            raise ConfigurationError(
                f"both {ENV_VAR} and tokens.kek_file are set; keep one of them", field="key_encryption_key"
            )
        if given is not None:
            return cls.from_text(given.get_secret_value(), source=f"{ENV_VAR} (key_encryption_key)")
        if file is not None:
            return cls.from_file(file)
        if settings.env == "production" and not settings.is_sqlite:
            raise ConfigurationError(
                f"env=production with PostgreSQL needs a key-encryption key that every server shares: set {ENV_VAR} "
                f"(or tokens.kek_file) on each of them; make one with: {MAKE_ONE}",
                field="key_encryption_key",
            )
        return cls.load_or_create(settings.home / "keys" / DEFAULT_FILE)


def _unb64(text: str) -> bytes | None:
    """Unpadded base64url, or None for anything else."""
    if not _B64.fullmatch(text) or len(text) % 4 == 1:
        return None
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sync_directory(directory: Path) -> None:
    """Make a new directory entry durable (best effort: not every platform opens directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
