"""The JSON API under /api/v1 (bearer API keys)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import connections, knowledge, meta  # noqa: E402,F401  (routes register on bp)
