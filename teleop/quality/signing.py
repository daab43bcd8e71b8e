"""The station's Ed25519 key: created on first use, kept private, used to sign manifests.

The private key lives outside any recordings directory, in
``$TELEOP_KEY_DIR/station_key.pem`` or, without that variable,
``~/.config/teleop/station_key.pem`` (``$XDG_CONFIG_HOME`` is honoured). The file is
PKCS#8 PEM with mode 0600 in a 0700 directory; a key file others can read is refused,
as ssh does. Its public half is published with every dataset the station signs, under
``meta/station/keys/<key_id>.pem``; ``key_id`` is the first 16 hex digits of the
SHA-256 of the raw public key.

    SigningError (a TeleopError)   the key cannot be created, read, or is exposed
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from teleop.errors import TeleopError

log = logging.getLogger(__name__)

KEY_DIR_ENV = "TELEOP_KEY_DIR"
KEY_NAME = "station_key.pem"


class SigningError(TeleopError):
    """The station key cannot be created or read, or a public key is malformed."""


def default_key_path() -> Path:
    """Where the station key lives: ``$TELEOP_KEY_DIR`` or the user's config directory."""
    env = os.environ.get(KEY_DIR_ENV)
    if env:
        return Path(env) / KEY_NAME
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "teleop" / KEY_NAME


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """A public key as SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes, source: str = "public key") -> Ed25519PublicKey:
    """Parse an Ed25519 public key from PEM.

    Raises:
        SigningError: Not an Ed25519 public key; ``source`` names where it came from.
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise SigningError(f"{source} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{source} is not an Ed25519 key ({type(key).__name__})")
    return key


def verify(public_key: Ed25519PublicKey, data: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` (base64) is ``public_key``'s signature of ``data``."""
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


class StationKey:
    """The station's signing key.

    Args:
        private_key: The Ed25519 private key.
        path: The file it was read from or written to.
    """

    def __init__(self, private_key: Ed25519PrivateKey, path: Path) -> None:
        self._private = private_key
        self.path = path
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def load_or_create(cls, path: Path | None = None) -> StationKey:
        """The key at ``path`` (default: :func:`default_key_path`), created if missing.

        Raises:
            SigningError: The file cannot be created or read, is not an Ed25519 key, or
                is readable by other users.
        """
        path = Path(path) if path is not None else default_key_path()
        if not path.exists():
            _create(path)
        return cls(_read(path), path)

    @property
    def public_pem(self) -> bytes:
        """The public key as PEM, to publish."""
        return public_pem(self.public_key)

    def sign(self, data: bytes) -> str:
        """Sign ``data``; returns the signature in base64."""
        return base64.b64encode(self._private.sign(data)).decode()


def _create(path: Path) -> None:
    """Write a new key to ``path`` with mode 0600; losing a race to another process is fine."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)  # fails if another process created the key meanwhile
            log.warning("created a new station key %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise SigningError(
            f"cannot create the station key {path}: {exc.strerror or exc}; "
            f"set ${KEY_DIR_ENV} to a writable directory outside recordings/"
        ) from exc


def _read(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise SigningError(
                f"station key {path} is accessible by other users (mode {mode:o}); "
                f"run: chmod 600 {path}"
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise SigningError(f"cannot read the station key {path}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise SigningError(f"station key {path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"station key {path} is not an Ed25519 key ({type(key).__name__})")
    return key
