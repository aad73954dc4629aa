"""Public identifiers: a short type prefix plus 80 random bits, e.g. ``conn_3kq9x0v7m2p1a8bd``.

The prefix makes ids self-describing in logs and support tickets; the random part makes
them unguessable, so an id alone never grants or reveals anything.
"""
import base64
import secrets


def new_id(prefix: str) -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return f"{prefix}_{raw}"


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random secret (OAuth state, API keys, webhook secrets)."""
    return secrets.token_urlsafe(nbytes)
