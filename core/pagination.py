"""Keyset pages for the list endpoints: an opaque cursor carrying the last row's
``(created_at, id)``, and the ``limit`` parameter's rules.

Lists are newest first, ordered by ``(created_at, id)`` descending; a page starts strictly after
its cursor, so paging never repeats or skips a row that exists throughout.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone

from sqlalchemy import and_, or_

from .errors import ValidationError


def parse_limit(value, *, default: int, maximum: int) -> int:
    """``limit`` from a query string or a body: a whole number from 1, capped at ``maximum``."""
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise ValidationError("limit must be a whole number.", code="invalid_limit", details={"field": "limit"}) from None
    if limit < 1:
        raise ValidationError("limit must be at least 1.", code="invalid_limit", details={"field": "limit"})
    return min(limit, maximum)


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), row_id],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    invalid = ValidationError("cursor is not a cursor this API returned.", code="invalid_cursor",
                              details={"parameter": "cursor"})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, row_id = json.loads(raw)
        created_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(row_id, str):
        raise invalid
    return created_at, row_id


def after(created_at_column, id_column, cursor: str):
    """The condition "strictly after this cursor" in newest-first order."""
    created_at, row_id = decode_cursor(cursor)
    return or_(created_at_column < created_at, and_(created_at_column == created_at, id_column < row_id))
