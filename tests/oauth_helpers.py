"""Drive the provider sandbox's consent page over HTTP, as a browser would."""
from urllib.parse import urlsplit

from sandbox.consent import consent  # noqa: F401  (re-exported for the tests)


def local_path(url: str) -> str:
    """The path and query of a callback URL, for the Flask test client."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")
