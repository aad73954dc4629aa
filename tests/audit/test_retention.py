"""Retention: the housekeeping job removes entries past AUDIT_RETENTION_DAYS, keeps each chain's
anchor, and what remains still verifies (and tampering with it is still found)."""
from datetime import timedelta

from sqlalchemy import select, text

from audit import chain
from audit.models import AuditChainHead, AuditEvent
from core.extensions import db
from core.timeutil import utcnow
from sync import scheduler
from tests.audit.helpers import entry, member_actor
from tests.factories import make_workspace


def remaining(workspace_id):
    return list(db.session.execute(select(AuditEvent.seq, AuditEvent.action).where(
        AuditEvent.workspace_id == workspace_id).order_by(AuditEvent.seq)))


def test_housekeeping_removes_expired_entries_and_keeps_the_anchor(app, ctx, monkeypatch):
    app.config["AUDIT_RETENTION_DAYS"] = 365
    monkeypatch.setattr(scheduler, "_app", app)
    acme, alice = make_workspace("Acme")
    globex, gus = make_workspace("Globex")
    now = utcnow()
    me, them = member_actor(acme.id, alice), member_actor(globex.id, gus)
    old = [entry(me, "auth.sign_in", at=now - timedelta(days=400 - n)) for n in range(3)]
    kept = [entry(me, "connection.connected", target_id=f"conn_{n}", at=now - timedelta(days=10)) for n in range(2)]
    entry(them, "auth.sign_in", at=now - timedelta(days=366))
    anchor_hash = old[-1].entry_hash

    scheduler.housekeeping()

    db.session.expire_all()
    assert remaining(acme.id) == [(4, "connection.connected"), (5, "connection.connected"),
                                  (6, "audit.entries_removed")]
    head = db.session.get(AuditChainHead, acme.id)
    assert (head.anchor_seq, head.anchor_hash, head.seq) == (3, anchor_hash, 6)
    removal = db.session.scalar(select(AuditEvent).where(AuditEvent.workspace_id == acme.id,
                                                         AuditEvent.action == "audit.entries_removed"))
    assert removal.details == {**removal.details, "through_seq": 3, "count": 3, "retention_days": 365}
    assert remaining(globex.id) == [(2, "audit.entries_removed")]
    verified = chain.verify(acme.id, full=True)
    assert (verified.intact, verified.entries_checked, verified.anchor_seq) == (True, 3, 3)
    assert chain.verify(globex.id, full=True).intact
    # The housekeeping also checkpointed what it verified: routine verification starts there.
    routine = chain.verify(acme.id)
    assert (routine.intact, routine.checkpoint_seq, routine.entries_checked) == (True, 6, 1)

    scheduler.housekeeping()  # nothing more to remove: nothing changes
    assert len(remaining(acme.id)) == 3

    # What remains is still tamper-evident, from the anchor on: the full verification finds an
    # edit before the checkpoint (the routine one, from the checkpoint, does not recompute it).
    db.session.execute(text("UPDATE audit_events SET target_id = 'conn_x' WHERE id = :id"), {"id": kept[0].id})
    db.session.commit()
    full = chain.verify(acme.id, full=True)
    assert (full.intact, full.first_bad_entry_id) == (False, kept[0].id)
    assert chain.verify(acme.id).intact


def test_removing_the_first_entry_after_the_anchor_by_hand_is_found(app, ctx):
    acme, alice = make_workspace("Acme")
    now = utcnow()
    me = member_actor(acme.id, alice)
    entry(me, "auth.sign_in", at=now - timedelta(days=40))
    first_kept, second = (entry(me, "auth.sign_out", at=now - timedelta(days=n)) for n in (2, 1))
    assert chain.remove_expired(30) == {acme.id: 1}
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": first_kept.id})
    db.session.commit()
    result = chain.verify(acme.id)
    assert (result.intact, result.first_bad_entry_id, result.first_bad_seq) == (False, second.id, 3)


def test_a_retention_of_zero_keeps_everything(app, ctx):
    acme, alice = make_workspace("Acme")
    entry(member_actor(acme.id, alice), "auth.sign_in", at=utcnow() - timedelta(days=5000))
    assert chain.remove_expired(0) == {}
    assert len(remaining(acme.id)) == 1
