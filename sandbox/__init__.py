"""Provider sandbox: a small Flask app that emulates, on localhost, the SaaS APIs Tributary's
connectors talk to (GitHub, Pipedrive, X, Google/Gmail, Notion), so tests, benchmarks and the demo
never need the internet.

All state lives in memory on the app, in one :class:`SandboxState` at
``app.extensions["sandbox"]``, guarded by a lock because the sandbox is served by a threaded server;
with ``STATE_FILE`` its grants, keys and writes are also kept in a file across restarts.
"""
from __future__ import annotations

from flask import Flask, jsonify, request

from .state import DEFAULT_CLIENTS, SandboxState

DEFAULT_CONFIG = {
    "SEED": 42,
    "SCALE": 25,
    # Each provider's own access-token lifetime: GitHub's user-to-server tokens live 8 hours,
    # Google's an hour (its token endpoint answers "expires_in": 3599).
    "ACCESS_TOKEN_TTL": {"github": 28800, "google": 3599},
    "REFRESH_TOKEN_TTL": 15811200,
    "CLIENTS": DEFAULT_CLIENTS,
    "PUBLIC_URL": None,
    # A JSON file that keeps grants, keys and writes across restarts (sandbox/persistence.py).
    "STATE_FILE": None,
}


def create_app(config: dict | None = None) -> Flask:
    """Build a sandbox app; ``config`` overrides DEFAULT_CONFIG (see sandbox/README.md)."""
    app = Flask(__name__)
    app.config.update(DEFAULT_CONFIG)
    app.config.update(config or {})
    # Provider bodies keep the providers' own key order.
    app.json.sort_keys = False
    app.json.compact = True

    from .providers import PROVIDERS, provider_modules

    modules = provider_modules()    # imported before the state: kit emulations bring keys and clients
    app.extensions["sandbox"] = SandboxState(
        seed=int(app.config["SEED"]),
        scale=int(app.config["SCALE"]),
        access_token_ttl=app.config["ACCESS_TOKEN_TTL"],
        refresh_token_ttl=int(app.config["REFRESH_TOKEN_TTL"]),
        clients=app.config["CLIENTS"],
        public_url=app.config["PUBLIC_URL"],
    )

    from .control import bp as control_bp
    from .kit import control as kit_control_bp

    for blueprint in dict.fromkeys(m.bp for m in modules if hasattr(m, "bp")):
        app.register_blueprint(blueprint)
    app.register_blueprint(control_bp)
    app.register_blueprint(kit_control_bp)

    if app.config["STATE_FILE"]:
        from .persistence import install

        install(app, app.config["STATE_FILE"])

    @app.errorhandler(404)
    def not_found(_error):
        for provider in PROVIDERS.values():
            if request.path.startswith(provider.prefix + "/"):
                return provider.not_found()
        return jsonify({"error": "not_found", "path": request.path}), 404

    @app.errorhandler(405)
    def method_not_allowed(_error):
        for provider in PROVIDERS.values():
            if request.path.startswith(provider.prefix + "/"):
                return provider.not_found()
        return jsonify({"error": "method_not_allowed", "path": request.path}), 405

    return app


def get_state(app: Flask) -> SandboxState:
    """The sandbox state of ``app`` (for tests and embedding)."""
    return app.extensions["sandbox"]
