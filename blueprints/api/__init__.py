"""The JSON API under /api/v1 (bearer API keys)."""
from flask import Blueprint

from .auth import count_api_call
from .body import limit_body_size

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(limit_body_size)
# Every blueprint's requests made with a key (/api/sync*, /v1/pipeline/sync too) are counted.
bp.after_app_request(count_api_call)

from . import account, actions, audit, connections, knowledge, meta, query, users  # noqa: E402,F401  (routes register on bp)
