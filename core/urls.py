"""Absolute URLs of this console, as providers and browsers must see them."""
from urllib.parse import urlsplit

from flask import current_app, request, url_for


def external_url(endpoint: str, **values) -> str:
    """``PUBLIC_URL`` + the route when configured (behind a proxy), else the request's host."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def first_party(url: str | None) -> str | None:
    """``url`` when it points at this console, else ``None`` (an open redirect is refused).

    Accepts a path on this host (``/connections``) or an absolute URL whose scheme and host
    equal ``PUBLIC_URL``'s or, without one, the current request's.
    """
    if not url or not isinstance(url, str) or any(c in url for c in "\r\n\\"):
        return None
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url if url.startswith("/") and not url.startswith("//") else None
    own = urlsplit(current_app.config.get("PUBLIC_URL") or request.host_url)
    if parts.scheme in ("http", "https") and (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
        return url
    return None
