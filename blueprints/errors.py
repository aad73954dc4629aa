"""One place decides how an error looks: JSON for API clients, a page for browsers."""
import logging

from flask import render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from core.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/v1/", "/webhooks/")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
              429: "rate_limited"}


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or (
        request.accept_mimetypes.best == "application/json" and not request.headers.get("HX-Request"))


def _json(code: str, message: str, status: int, details: dict | None = None, headers=None):
    return {"error": {"code": code, "message": message, "details": details or {}}}, status, headers or {}


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{limit:,} bytes"


def init_app(app):
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
        if exc.status == 429 and exc.details.get("retry_after") and not headers:
            headers = {"Retry-After": str(int(float(exc.details["retry_after"])))}
        if wants_json():
            return _json(exc.code, exc.message, exc.status, exc.details, headers)
        return render_template("error.html", status=exc.status, code=exc.code, message=exc.message), exc.status, headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = HTTP_CODES.get(exc.code, "http_error")
        if exc.code == 400 and "CSRF" in (exc.description or ""):
            code = "csrf_failed"
        message, details, headers = exc.description or exc.name, {}, {}
        if exc.code == 404:
            message = "Not found."
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            # RFC 9110: a 405 says which methods the resource does support.
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
            message = f"{request.method} is not allowed here; this resource takes {headers['Allow']}."
            details = {"allowed": sorted(exc.valid_methods)}
        if exc.code == 413 and request.max_content_length:
            limit = int(request.max_content_length)
            message = f"The body is larger than {_size(limit)}, the most this endpoint reads."
            details = {"max_bytes": limit}
        if wants_json():
            return _json(code, message, exc.code, details, headers)
        return render_template("error.html", status=exc.code, code=code, message=message), exc.code, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return _json("internal_error", "Something went wrong on our side. It has been logged.", 500)
        return render_template("error.html", status=500, code="internal_error",
                               message="Something went wrong on our side. It has been logged."), 500
