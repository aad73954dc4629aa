"""Domain errors. Each carries an HTTP status and a stable, documented ``code``.

Domain functions raise these; the API turns them into ``{"error": {"code", "message",
"details"}}`` and the console into a flash message or an error page. Codes are part of the
public contract: never rename one.
"""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(DomainError):
    status = 422
    code = "validation_error"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        details = {"retry_after": retry_after, **kwargs.pop("details", {})}
        super().__init__(message, details=details, **kwargs)
        self.retry_after = retry_after


class UpstreamError(DomainError):
    """The provider could not be reached or answered in a way we cannot use."""

    status = 502
    code = "provider_unavailable"
