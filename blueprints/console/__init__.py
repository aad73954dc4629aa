"""The server-rendered console (HTML + htmx fragments)."""
from flask import Blueprint

bp = Blueprint("console", __name__)

from . import actions, audit, auth, connections, invitations, search, session, settings, usage, words  # noqa: E402,F401  (hooks and routes register on bp)
