"""Tributary's application factory. ``flask run`` works from the repository root."""
import logging
import os

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.environ.get("TRIBUTARY_INSTANCE_PATH") or None)
    from core.config import load_config

    load_config(app, test_config)
    init_logging(app)
    init_extensions(app)
    init_blueprints(app)
    init_proxy_fix(app)
    init_cli(app)
    init_database(app)
    init_workers(app)
    if not app.testing:
        announce_degradations(app)
        _freeze_startup_objects()
    return app


def announce_degradations(app: Flask) -> None:
    """Say once, at start, what cannot work here and the command that fixes it (``flask doctor``
    checks the whole installation)."""
    from knowledge.embeddings import announce, model_status

    announce(model_status(app.config))


def _freeze_startup_objects() -> None:
    """Move the objects made at start (modules, classes, SQLAlchemy's mappers, ...) out of the
    garbage collector's reach: they live as long as the process, and every full collection would
    otherwise walk them all again (~100 ms in a pipeline request that happened to trigger one).
    Not in tests, where many apps come and go and frozen garbage would never be freed."""
    import gc

    gc.collect()
    gc.freeze()


def init_workers(app: Flask) -> None:
    """Embedded default: sync worker threads, the index worker (chunking and embedding) and a bid
    to lead the scheduler in the web process; in every web process, the upkeep of its vector
    indexes. Started by the first request, so `flask db ...` and other commands never start
    them."""
    if app.testing:
        return
    import threading

    started = threading.Lock()

    @app.before_request
    def _start_workers():
        if "sync_workers" in app.extensions or not started.acquire(blocking=False):
            return
        from sync.service import _wakeups
        from sync.worker import WorkerPool

        if int(app.config["EMBEDDED_WORKERS"]) > 0:
            pool = WorkerPool(app, threads=int(app.config["EMBEDDED_WORKERS"])).start()
            _wakeups.append(pool.wake)
            app.extensions["sync_workers"] = pool
            if app.config["EMBEDDING_WORKER"]:
                from knowledge.embedding_queue import start_embedding_worker

                start_embedding_worker(app)
        # This process answers queries: keep its vector indexes current and saved.
        from knowledge.indexes import manager

        index_manager = manager(app).start()
        import atexit

        atexit.register(index_manager.stop)
        if app.config["SCHEDULER_ENABLED"]:
            from sync.scheduler import Scheduler

            app.extensions["sync_scheduler"] = Scheduler(app).start()
        app.extensions.setdefault("sync_workers", None)


# Libraries that narrate routine work at INFO: faiss's loader lists every CPU build it could not
# load at import, APScheduler two lines per job run (the reconcile job runs every 30 s). Only
# their warnings show unless LOG_VERBOSE. The MCP SDK logs a line or two per request at INFO.
CHATTY_LOGGERS = ("apscheduler", "faiss.loader", "alembic", "mcp")


def init_logging(app: Flask) -> None:
    level = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if app.config.get("LOG_VERBOSE") else logging.WARNING)
    from core import logs

    logs.install()


def init_extensions(app: Flask) -> None:
    from core.extensions import csrf, db, htmx, migrate
    from core.vault import Vault

    app.extensions["vault"] = Vault(app.config["FERNET_KEYS"])
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    _import_models()


def _import_models() -> None:
    # Every model module, so metadata (and Alembic) sees all tables.
    import actions.models  # noqa: F401
    import access.models  # noqa: F401
    import accounts.models  # noqa: F401
    import audit.models  # noqa: F401
    import connections.models  # noqa: F401
    import knowledge.models  # noqa: F401
    import sync.models  # noqa: F401
    import usage.models  # noqa: F401


def init_blueprints(app: Flask) -> None:
    from blueprints import inputs

    inputs.init_app(app)  # the id converter must exist before the blueprints' rules are added
    from blueprints import api, console, errors, oauth, webhooks
    # The unversioned /api blueprint of the specs' /api/sync* and /api/admin/* paths; importing
    # admin registers its routes on it.
    from blueprints.api import admin, connectors, pipeline, sync_jobs  # noqa: F401
    from core.extensions import csrf

    app.register_blueprint(api.bp)
    app.register_blueprint(sync_jobs.bp)
    app.register_blueprint(pipeline.bp)
    app.register_blueprint(connectors.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(console.bp)
    # Bearer-token and signed-webhook requests carry no cookie session to forge.
    csrf.exempt(api.bp)
    csrf.exempt(sync_jobs.bp)
    csrf.exempt(pipeline.bp)
    csrf.exempt(connectors.bp)
    csrf.exempt(webhooks.bp)
    errors.init_app(app)
    from blueprints import mcp

    mcp.init_app(app)  # /mcp, in front of Flask (streamable HTTP), and `flask mcp` (stdio)


def init_proxy_fix(app: Flask) -> None:
    """Trust ``X-Forwarded-*`` from ``PROXY_FIX`` proxies; outermost, so that the MCP mount in
    front of Flask sees the client's address and host too."""
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def init_cli(app: Flask) -> None:
    from audit.cli import audit_cli
    from core.cli import doctor_command, keys_cli
    from sync.cli import sync_cli, worker_command

    app.cli.add_command(audit_cli)
    app.cli.add_command(doctor_command)
    app.cli.add_command(keys_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(sync_cli)


def _sqlite_regexp(pattern, value) -> bool:
    """SQLite's ``value REGEXP pattern``, case-insensitive (compiled patterns are cached)."""
    import re

    return value is not None and re.search(pattern, value, re.IGNORECASE) is not None


def init_database(app: Flask) -> None:
    from sqlalchemy import event

    from core.extensions import db

    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()
                # REGEXP for the exact re-check of quoted phrases (knowledge/search.py).
                dbapi_connection.create_function("regexp", 2, _sqlite_regexp, deterministic=True)

            from core import sqlite_wal

            checkpointer = sqlite_wal.install(engine)
            if checkpointer is not None:
                app.extensions["wal_checkpointer"] = checkpointer
            engine.dispose()  # connections opened before the listeners get the pragmas too
        if app.config["AUTO_MIGRATE"]:
            from flask_migrate import upgrade

            upgrade(directory=app.extensions["migrate"].directory)
