"""``flask doctor``: check an installation and say what is wrong, with what fixes it.

Each check returns a ``Finding``: ``ok``, ``warn`` (may be fine: for instance no worker has
claimed a run yet because the server is not running) or ``fail`` (Tributary cannot work as
configured). The command exits 1 when any check fails, else 0.

The checks read the configuration and the database only; they start nothing (no worker, no
scheduler) and change nothing, so they are safe to run beside a live deployment.
"""
from __future__ import annotations

import fcntl
import os
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text

from .extensions import db
from .timeutil import utcnow

NOT_MIGRATED = "no migration has been applied"
# A pending run older than this, with nothing running, means no worker is claiming runs.
STUCK_AFTER = timedelta(minutes=5)


@dataclass
class Finding:
    check: str
    level: str  # ok, warn, fail
    summary: str
    fix: str | None = None


def run_checks() -> list[Finding]:
    """Every check, in order; a check that cannot run (the database is down) says so itself."""
    findings = [check_model(), check_database()]
    missing = "no database" if findings[-1].level == "fail" else None
    for check in (check_migrations, check_keys, check_workers, check_scheduler):
        name = check.__name__.removeprefix("check_")
        if missing and check is not check_scheduler:
            findings.append(Finding(name, "warn", f"not checked: {missing}"))
            continue
        try:
            findings.append(check())
        except Exception as exc:  # noqa: BLE001 - report it, go on with the others
            db.session.rollback()
            findings.append(Finding(name, "fail", f"the check failed: {str(exc).splitlines()[0]}"))
        if check is check_migrations and findings[-1].summary.startswith(NOT_MIGRATED):
            missing = "the database has no tables yet"
    return findings


def check_model() -> Finding:
    """The embedding model loads and embeds (semantic search needs it)."""
    from knowledge.embeddings import ModelUnavailable, get_embedder, model_status

    status = model_status()
    if status.available:
        try:
            embedder = get_embedder()
            vector = embedder.embed(["doctor"])[0]
        except ModelUnavailable as exc:
            status = exc.status
        else:
            return Finding("model", "ok", f"{status.model} loads and embeds ({len(vector)} dimensions)")
    return Finding("model", "fail", f"semantic search is unavailable: {status.reason}; queries answer from lexical "
                                    "search only", fix=status.fix_exact or status.fix)


def check_database() -> Finding:
    url = db.engine.url.render_as_string(hide_password=True)
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            version = connection.dialect.server_version_info
    except Exception as exc:  # noqa: BLE001 - any driver error: unreachable
        return Finding("database", "fail", f"{url} cannot be reached: {str(exc).splitlines()[0]}",
                       fix="check DATABASE_URL (TRIBUTARY_DATABASE_URL) and that the database server is running")
    name = db.engine.dialect.name
    shown = ".".join(str(part) for part in version or ())
    return Finding("database", "ok", f"{name} {shown} at {url} answers")


def check_migrations() -> Finding:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    heads = set(script.get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return Finding("migrations", "ok", f"the schema is at {', '.join(sorted(heads))} (the latest)")
    expected = ", ".join(sorted(heads))
    if not current:
        return Finding("migrations", "fail", f"{NOT_MIGRATED}: the code expects {expected}",
                       fix="flask --app app db upgrade")
    return Finding("migrations", "fail", f"the schema is at {', '.join(sorted(current))}; the code expects {expected}",
                   fix="flask --app app db upgrade")


def check_keys() -> Finding:
    """The Fernet keys decrypt every stored secret, and a keyring file is private."""
    from .cli import raw_tokens
    from .vault import VaultError

    vault = current_app.extensions["vault"]
    total = unreadable = 0
    for token in raw_tokens():
        total += 1
        try:
            vault.decrypt(token)
        except VaultError:
            unreadable += 1
    path = current_app.config.get("FERNET_KEYRING_PATH")
    source = path or "TRIBUTARY_FERNET_KEYS"
    if unreadable:
        return Finding("keys", "fail", f"{unreadable} of {total} stored secrets cannot be decrypted with the "
                                       f"{len(vault.keys)} key(s) in {source}",
                       fix="restore the Fernet key they were encrypted with (keep the old key after a rotation "
                           "until `flask keys retire` agrees); the affected connections need reconnecting otherwise")
    if path and stat.S_IMODE(os.stat(path).st_mode) & 0o077:
        return Finding("keys", "fail", f"{path} can be read by other users (mode "
                                       f"{oct(stat.S_IMODE(os.stat(path).st_mode))})", fix=f"chmod 600 {path}")
    return Finding("keys", "ok", f"{len(vault.keys)} Fernet key(s) from {source} decrypt all {total} stored secrets")


def check_workers() -> Finding:
    """Runs get claimed: a pending run that waited long while nothing runs has no worker."""
    from sync.models import SyncRun

    now = utcnow()
    oldest_pending = db.session.scalar(select(func.min(SyncRun.created_at)).where(SyncRun.status == "pending"))
    running = db.session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "running")) or 0
    timeout = timedelta(seconds=int(current_app.config["SYNC_HEARTBEAT_TIMEOUT"]))
    silent = db.session.scalar(select(func.count()).select_from(SyncRun).where(
        SyncRun.status == "running", SyncRun.heartbeat_at < now - timeout)) or 0
    db.session.rollback()
    embedded = int(current_app.config["EMBEDDED_WORKERS"])
    where = (f"{embedded} worker threads in each web process" if embedded
             else "no worker threads in the web process (EMBEDDED_WORKERS=0): `flask worker` processes run syncs")
    if silent:
        return Finding("workers", "warn", f"{silent} running run(s) stopped sending heartbeats (their worker died); "
                                          "a live worker takes them over", fix="start `flask --app app worker` if "
                                                                               "none is running")
    if oldest_pending is not None and now - oldest_pending > STUCK_AFTER and not running:
        waited = int((now - oldest_pending).total_seconds() // 60)
        return Finding("workers", "warn", f"a sync run has waited {waited} min and nothing is running: no worker is "
                                          f"claiming runs ({where})",
                       fix="start the server (`make run`) or `flask --app app worker`")
    return Finding("workers", "ok", f"runs are being claimed ({where}; {running} running now)")


def check_scheduler() -> Finding:
    """Exactly one process leads the scheduler, or schedules never fire."""
    if not current_app.config["SCHEDULER_ENABLED"]:
        return Finding("scheduler", "warn", "SCHEDULER_ENABLED is off in this configuration: schedules fire only "
                                            "where it is on")
    if db.engine.dialect.name == "postgresql":
        from sync.scheduler import LOCK_KEY

        with db.engine.connect() as connection:
            held = connection.execute(text(
                # Advisory locks are per database: another deployment on the same server is not ours.
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"),
                {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}).scalar()
    else:
        path = Path(current_app.instance_path) / "scheduler.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                held = 1  # another process holds it: the leader
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
                held = 0
    if held:
        return Finding("scheduler", "ok", "a process leads the scheduler: schedules fire")
    return Finding("scheduler", "warn", "no process leads the scheduler: if Tributary is running, scheduled syncs "
                                        "are not firing", fix="start the server (`make run`) or a `flask --app app "
                                                              "worker`; either takes the lead")
