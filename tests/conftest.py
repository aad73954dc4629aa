"""Shared fixtures: the app on SQLite (default) or PostgreSQL (TEST_DATABASE_URL), a live
provider sandbox over real HTTP, a live console server for the browser, and factories."""
import gc
import os
import shutil
import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from core.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")


def _share_url_builders() -> None:
    """Every test creates its own app (~3,700 in a full run, on two databases), and 90 % of
    ``create_app``'s ~40 ms went to werkzeug generating and compiling the same Python source for
    each of its ~100 URL rules' two builders again. The builders of the same rule are the same
    function (it reads the rule's converters through its ``self`` when called), so the suite
    makes each once. Skipped, with the cost back, if werkzeug's private method changes shape."""
    import inspect

    from werkzeug.routing.rules import Rule

    compile_builder = Rule.__dict__.get("_compile_builder")
    if compile_builder is None or list(inspect.signature(compile_builder).parameters) != ["self", "append_unknown"]:
        return
    made: dict = {}

    def shared(self, append_unknown=True):
        key = (self.rule, repr(self._trace), repr(sorted((self.defaults or {}).items(), key=repr)),
               repr({name: type(c) for name, c in self._converters.items()}), append_unknown)
        if key not in made:
            made[key] = compile_builder(self, append_unknown)
        return made[key]

    Rule._compile_builder = shared


_share_url_builders()


def pytest_configure(config):
    """The collector's youngest generation 20,000 allocations instead of 700 (and 50 of each
    before the next, instead of 10). A test process holds ~500-650k tracked objects (every
    module of the app, the sandbox, schemathesis...) and each test makes an app whose ~100 URL
    rules alone leave thousands of objects behind: with the defaults the oldest generation was
    collected every ~18 tests at ~0.4 s a time, and collections took 17 of tests/api's 98 s
    (6 s with these). Test processes only: the server's are left as Python sets them."""
    gc.set_threshold(20_000, 50, 50)


def pytest_addoption(parser):
    parser.addoption("--database-tests-only", action="store_true",
                     help="run only the tests that use a database (the Makefile's PostgreSQL pass, "
                          "after the whole suite ran on SQLite)")


def pytest_collection_modifyitems(config, items):
    """``--database-tests-only``: the second pass of `make test`, on PostgreSQL. Tests that never
    reach a database (no ``database_url`` among their fixtures: the sandbox's fidelity checks
    against the providers' descriptions, parsers, the docs) ran in the SQLite pass already and
    would prove nothing new."""
    if not config.getoption("--database-tests-only"):
        return
    selected = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    if len(selected) < len(items):
        kept = set(selected)
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = selected


class ClosedEvenIfDropped:
    """A response's iterable, closed when the server lets go of it at the latest. werkzeug's
    development server skips ``close()`` when the client drops the connection while the server
    drains the request after the response (serving.py, ``execute``: the read in its ``finally``
    raises before ``application_iter.close()``); a browser leaving a page mid-way through a
    static file then leaves the file open, and its ResourceWarning fails whichever test runs next."""

    def __init__(self, iterable):
        self._iterable = iterable
        self._closed = False

    def __iter__(self):
        return iter(self._iterable)

    def close(self):
        if not self._closed:
            self._closed = True
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()

    def __del__(self):
        self.close()


class closing_wsgi:
    """``wsgi_app`` with each response wrapped in ClosedEvenIfDropped; anything else (the Flask
    app's ``extensions``...) is the wrapped app's."""

    def __init__(self, wsgi_app):
        self.wrapped = wsgi_app

    def __call__(self, environ, start_response):
        return ClosedEvenIfDropped(self.wrapped(environ, start_response))

    def __getattr__(self, name):
        return getattr(self.wrapped, name)


class LiveServer:
    def __init__(self, wsgi_app):
        self.server = make_server("127.0.0.1", 0, closing_wsgi(wsgi_app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


def worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (``<name>_gw0``...),
    created on first use: a worker resets the schema and truncates every table, which must
    never reach another worker's tests."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if PG_URL:
        return worker_database(PG_URL)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def fernet_keys():
    return [Fernet.generate_key().decode()]


@pytest.fixture(scope="session")
def sandbox_server():
    """The provider sandbox on a real port (connectors talk to it over HTTP)."""
    from sandbox import create_app as create_sandbox

    server = LiveServer(create_sandbox({"SEED": 42, "SCALE": 25}))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _schema(database_url, fernet_keys, tmp_path_factory):
    """Create the schema once per session, through the real migrations."""
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({"DATABASE_URL": database_url, "AUTO_MIGRATE": False, "FERNET_KEYS": fernet_keys,
                      "SECRET_KEY": "test", "TESTING": True})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    yield
    shutil.rmtree(instance, ignore_errors=True)


def _clean(app):
    """Empty every table after a test: the ones holding rows (one query finds them), dependants
    first, until none holds any (a delete's trigger may write another table). A test touches a
    few of ~35 tables, and PostgreSQL's TRUNCATE costs per table named (~60 ms for all of them
    on a quiet machine, ~0.4 s a test while the suite ran: a third of the PostgreSQL pass)."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        holding = text(" UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables))
        with db.engine.begin() as conn:
            for _ in range(5):
                full = {row[0] for row in conn.execute(holding)}
                if not full:
                    return
                for table in tables:
                    if table in full:
                        conn.execute(text(f'DELETE FROM "{table}"'))
        raise AssertionError(f"tables still hold rows after the test: {sorted(full)}")


@pytest.fixture
def app_config(database_url, fernet_keys, sandbox_server, tmp_path):
    """Override keys in a test with ``app_config.update(...)`` before using ``app``."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "AUTO_MIGRATE": False,
        "FERNET_KEYS": list(fernet_keys),
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "SANDBOX_URL": sandbox_server.url,
        # Connect in isolation; tests of the first sync turn it back on (the default).
        "SYNC_ON_CONNECT": False,
        "EMBEDDED_WORKERS": 0,
    }


@pytest.fixture
def app(_schema, app_config, sandbox_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(app_config)
    import requests

    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5)
    yield application
    _clean(application)
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


from tests.factories import *  # noqa: E402,F401,F403  (fixtures and factories)
