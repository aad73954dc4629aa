"""The errors a client raises: one class per kind of failure, each carrying the API's stable
error ``code`` (branch on it, never on the message) and its ``details``."""
from __future__ import annotations

from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Any

import httpx


class TributaryError(Exception):
    """Any failure of a Tributary call; ``status`` is ``None`` when no answer came back."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.message} ({self.status} {self.code})" if self.status else f"{self.message} ({self.code})"


class AuthenticationError(TributaryError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(TributaryError):
    """403: the key lacks the operation's scope (``details["required_scope"]``) or its member
    may not do this."""


class NotFoundError(TributaryError):
    """404: no such resource in the key's workspace (another workspace's id reads the same)."""


class ConflictError(TributaryError):
    """409: the request conflicts with the resource's state (a run already in flight, ...)."""


class ValidationError(TributaryError):
    """400 or 422: the request was refused as it stands; ``code`` says why and ``details``
    names the field or parameter."""


class RateLimitError(TributaryError):
    """429, after the client's retries: wait ``retry_after`` seconds (when the server said)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(TributaryError):
    """5xx, after the client's retries: the server (or a provider behind it) failed."""


class APIConnectionError(TributaryError):
    """The server could not be reached, or did not answer in time."""


_BY_STATUS: dict[int, type[TributaryError]] = {
    400: ValidationError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    409: ConflictError, 413: ValidationError, 422: ValidationError,
}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the ``Retry-After`` header asks to wait (a number or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_for(response: httpx.Response) -> TributaryError:
    """The error an answer of status 400 or more stands for, from its ``{"error": {...}}`` body."""
    try:
        body = response.json()
        error = body["error"] if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    except ValueError:
        error = {}
    message = str(error.get("message") or response.reason_phrase or "HTTP error")
    code = str(error.get("code") or f"http_{response.status_code}")
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    status = response.status_code
    if status == 429:
        return RateLimitError(message, retry_after=retry_after(response), code=code, status=status, details=details)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else TributaryError)
    return cls(message, code=code, status=status, details=details)
