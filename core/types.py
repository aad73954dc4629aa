"""Column types shared by every model.

``UTCDateTime`` stores UTC and always hands back timezone-aware values, on SQLite (which has
no timezone support) as on PostgreSQL. ``EncryptedJSON`` / ``EncryptedText`` encrypt with the
application's vault on the way in and decrypt on the way out, so a secret never sits in a
column in clear and code never handles ciphertext by hand.
"""
import json
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _vault():
    return current_app.extensions["vault"]


class EncryptedText(TypeDecorator):
    """A string encrypted at rest with the vault (MultiFernet)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return _vault().encrypt(value.encode("utf-8"))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _vault().decrypt(value).decode("utf-8")


class EncryptedJSON(TypeDecorator):
    """A JSON document encrypted at rest with the vault (MultiFernet)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return _vault().encrypt(json.dumps(value, separators=(",", ":")).encode("utf-8"))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(_vault().decrypt(value))


ENCRYPTED_TYPES = (EncryptedText, EncryptedJSON)
