"""Tamper evidence: each workspace's entries form a hash chain that verification recomputes."""
import threading

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from audit import chain
from audit.models import GENESIS, AuditChainHead, AuditEvent
from core.extensions import db
from tests.audit.helpers import entry, member_actor
from tests.factories import make_workspace


def chained(workspace_id):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
                                   .order_by(AuditEvent.seq)))


@pytest.fixture
def two_workspaces(app, ctx):
    acme, acme_admin = make_workspace("Acme")
    globex, globex_admin = make_workspace("Globex")
    return member_actor(acme.id, acme_admin), member_actor(globex.id, globex_admin)


def test_entries_chain_per_workspace_in_the_order_they_commit(two_workspaces):
    acme, globex = two_workspaces
    entry(acme, "connection.connected", target_type="connection", target_id="conn_a")
    entry(globex, "connection.connected", target_type="connection", target_id="conn_g")
    # Two entries in one transaction keep the order they were recorded in.
    entry(acme, "sync.requested", commit=False, target_id="conn_a", details={"mode": "full"})
    entry(acme, "connection.updated", target_id="conn_a", details={"name": "x"})

    rows = chained(acme.workspace_id)
    assert [(r.seq, r.action) for r in rows] == [(1, "connection.connected"), (2, "sync.requested"),
                                                 (3, "connection.updated")]
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.entry_hash for r in rows[:-1]]
    assert all(r.entry_hash == chain.entry_hash(r) for r in rows)
    assert [(r.seq, r.prev_hash) for r in chained(globex.workspace_id)] == [(1, GENESIS)]
    head = db.session.get(AuditChainHead, acme.workspace_id)
    assert (head.seq, head.head_hash) == (3, rows[-1].entry_hash)
    result = chain.verify(acme.workspace_id)
    assert result.intact and result.entries_checked == 3 and result.head_seq == 3


def test_a_rolled_back_entry_takes_no_place(two_workspaces):
    acme, _ = two_workspaces
    entry(acme, "member.added", commit=False, target_id="usr_x")
    db.session.rollback()
    entry(acme, "member.added", target_id="usr_y")
    assert [(r.seq, r.target_id) for r in chained(acme.workspace_id)] == [(1, "usr_y")]
    assert chain.verify(acme.workspace_id).intact


def _edit(sql: str, **params):
    db.session.execute(text(sql), params)
    db.session.commit()


def test_editing_a_stored_entry_breaks_verification_at_that_entry(app, two_workspaces):
    acme, globex = two_workspaces
    events = [entry(acme, "connection.checked", target_id=f"conn_{n}", details={"ok": True}) for n in range(4)]
    entry(globex, "connection.checked", target_id="conn_g")
    tampered = events[2].id
    _edit("UPDATE audit_events SET target_id = 'conn_other' WHERE id = :id", id=tampered)

    result = chain.verify(acme.workspace_id)
    assert not result.intact
    assert (result.first_bad_entry_id, result.first_bad_seq) == (tampered, 3)
    assert "altered" in result.reason and result.entries_checked == 2
    assert chain.verify(globex.workspace_id).intact  # another workspace's chain is its own

    cli = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert cli.exit_code == 1
    assert f"BROKEN {acme.workspace_id}: entry aud_{tampered} at place 3" in cli.output
    assert f"ok    {globex.workspace_id}: 1 entries intact" in cli.output


def test_recomputing_the_hash_of_an_edited_entry_still_breaks_the_next_one(two_workspaces):
    """A forger who rehashes the entry they changed must rewrite every later entry too."""
    acme, _ = two_workspaces
    events = [entry(acme, "api_key.created", target_id=f"key_{n}", details={"scopes": ["query"]}) for n in range(3)]
    forged = db.session.get(AuditEvent, events[1].id)
    forged.details = {"scopes": ["admin"]}
    forged.entry_hash = chain.entry_hash(forged)
    db.session.commit()
    result = chain.verify(acme.workspace_id)
    assert (result.intact, result.first_bad_entry_id, result.first_bad_seq) == (False, events[2].id, 3)
    assert "previous hash" in result.reason


def test_removing_an_entry_from_the_middle_or_the_end_is_found(two_workspaces):
    acme, _ = two_workspaces
    events = [entry(acme, "document.deleted", target_id=f"doc_{n}") for n in range(5)]
    _edit("DELETE FROM audit_events WHERE id = :id", id=events[4].id)
    result = chain.verify(acme.workspace_id)
    assert (result.intact, result.first_bad_entry_id, result.first_bad_seq) == (False, None, 5)
    assert "newest entries were removed" in result.reason
    _edit("DELETE FROM audit_events WHERE id = :id", id=events[1].id)
    result = chain.verify(acme.workspace_id)
    assert (result.intact, result.first_bad_entry_id, result.first_bad_seq) == (False, events[2].id, 3)
    assert "missing" in result.reason


def test_an_entry_inserted_outside_the_application_is_found(two_workspaces):
    acme, _ = two_workspaces
    entry(acme, "auth.sign_in")
    _edit("INSERT INTO audit_events (workspace_id, actor_type, action, outcome, details, created_at) "
          "VALUES (:w, 'user', 'auth.sign_out', 'success', '{}', :t)", w=acme.workspace_id,
          t=db.session.scalar(select(AuditEvent.created_at)).replace(tzinfo=None))
    result = chain.verify(acme.workspace_id)
    assert not result.intact and "not part of the chain" in result.reason
    # Even with a place after the head and the right previous hash.
    _edit("UPDATE audit_events SET seq = 2, prev_hash = :h WHERE seq IS NULL",
          h=db.session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.seq == 1)))
    result = chain.verify(acme.workspace_id)
    assert (result.intact, result.first_bad_seq) == (False, 2) and "beyond the chain's head" in result.reason


def test_the_cli_passes_an_intact_installation(app, two_workspaces):
    acme, globex = two_workspaces
    entry(acme, "auth.sign_in")
    entry(globex, "auth.sign_in")
    cli = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert cli.exit_code == 0, cli.output
    assert "All 2 chain(s) intact." in cli.output


def test_concurrent_writers_never_fork_a_chain(app, two_workspaces):
    """Writers of one workspace in parallel transactions (threads, each its own connection) still
    take distinct, consecutive places."""
    acme, _ = two_workspaces
    errors = []

    def write(n):
        try:
            with app.app_context():
                for i in range(5):
                    entry(acme, "sync.requested", target_id=f"conn_{n}_{i}")
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.expire_all()
    assert [r.seq for r in chained(acme.workspace_id)] == list(range(1, 21))
    assert chain.verify(acme.workspace_id).intact


def test_the_migration_chains_entries_written_before_it(app, database_url, fernet_keys, tmp_path, monkeypatch):
    """Migration 0010 on a database holding entries of version 0009: afterwards every chain verifies."""
    from flask_migrate import downgrade, upgrade

    from app import create_app

    url = database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrate.db'}"
    else:
        base = make_url(url)
        name = f"{base.database}_audit_migration"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path / "instance"))
    other = create_app({"DATABASE_URL": url, "AUTO_MIGRATE": False, "FERNET_KEYS": list(fernet_keys),
                        "SECRET_KEY": "t", "TESTING": True, "EMBEDDED_WORKERS": 0})
    with other.app_context():
        directory = other.extensions["migrate"].directory
        upgrade(directory=directory, revision="0009")
        with db.engine.begin() as conn:
            for n, (workspace, action) in enumerate([("org_a", "auth.sign_in"), ("org_b", "auth.sign_in"),
                                                     ("org_a", "member.added"), (None, "auth.sign_in")]):
                conn.execute(text("INSERT INTO audit_events (workspace_id, actor_type, actor_id, action, outcome, "
                                  "details, created_at) VALUES (:w, 'user', :a, :action, 'success', :d, :t)"),
                             {"w": workspace, "a": f"usr_{n}", "action": action, "d": '{"n": %d}' % n,
                              "t": f"2026-01-0{n + 1} 10:00:00"})
        upgrade(directory=directory)
        seqs = db.session.execute(text("SELECT workspace_id, seq FROM audit_events ORDER BY id")).all()
        assert [tuple(r) for r in seqs] == [("org_a", 1), ("org_b", 1), ("org_a", 2), (None, 1)]
        assert all(chain.verify(key).intact for key in ("org_a", "org_b", None))
        assert chain.verify("org_a").entries_checked == 2
        db.session.remove()  # its read locks would hold up the downgrade's ALTER TABLE (PostgreSQL)
        downgrade(directory=directory, revision="0009")  # and back, cleanly
        db.engine.dispose()
    if not database_url.startswith("sqlite"):
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()
