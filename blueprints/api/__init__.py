"""The JSON API under /api/v1 (bearer API keys)."""
from flask import Blueprint

from .body import limit_body_size

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(limit_body_size)

from . import actions, audit, connections, knowledge, meta, query  # noqa: E402,F401  (routes register on bp)
