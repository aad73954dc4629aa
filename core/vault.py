"""The vault: every stored secret is encrypted with MultiFernet.

Keys come from ``TRIBUTARY_FERNET_KEYS`` (comma-separated, newest first) or, on the embedded
default, from ``instance/fernet.keys`` (one per line, newest first, mode 0600), generated on
first run. The first key encrypts; every key decrypts, so a rotation never strands a secret.
"""
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(Exception):
    pass


def fingerprint(key: str | bytes) -> str:
    """A key's public name: the first 16 hex digits of SHA-256 over it. It identifies a key in
    the audit trail and reports without revealing anything that helps to recover it."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()[:16]


class Vault:
    def __init__(self, keys: list[str]):
        if not keys:
            raise VaultError("the vault needs at least one Fernet key")
        try:
            self._fernets = [Fernet(k.encode("ascii") if isinstance(k, str) else k) for k in keys]
        except (ValueError, TypeError) as exc:
            raise VaultError("a Fernet key is malformed (expected 32 url-safe base64 bytes)") from exc
        self.keys = list(keys)
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, plaintext: bytes) -> str:
        return self._multi.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._multi.decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise VaultError("a stored secret cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the primary (first) key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise VaultError("a stored secret cannot be decrypted with the configured keys") from exc

    def decrypts_with_primary(self, token: str) -> bool:
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
            return True
        except InvalidToken:
            return False


def write_private_file(path: Path, content: str) -> None:
    """Write atomically with mode 0600: the file never exists readable by others, even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_keyring(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load_or_create_keyring(path: Path) -> list[str]:
    if path.exists():
        return read_keyring(path)
    keys = [Fernet.generate_key().decode("ascii")]
    write_private_file(path, "\n".join(keys) + "\n")
    return keys
