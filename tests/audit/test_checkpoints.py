"""Signed checkpoints: routine verification starts from the latest one, the full verification
walks every entry and checks every checkpoint. What each catches, by editing rows in the database
before and after a checkpoint (``audit/chain.py`` says the same in prose)."""
from sqlalchemy import select, text

from audit import chain
from audit.models import AuditChainHead, AuditCheckpoint
from core.extensions import db
from tests.audit.helpers import edit_entry, rows_by_place


_rows, _edit = rows_by_place, edit_entry


def test_routine_verification_starts_at_the_latest_checkpoint(acme):
    routine = chain.verify(acme)
    assert (routine.intact, routine.mode, routine.checkpoint_seq, routine.verified_from_seq) == (
        True, "incremental", 6, 6)
    assert routine.entries_checked == 4  # the checkpoint's own entry, then places 7 to 9
    full = chain.verify(acme, full=True)
    assert (full.intact, full.mode, full.verified_from_seq, full.entries_checked, full.checkpoint_seq) == (
        True, "full", 0, 9, 6)
    signed = db.session.get(AuditCheckpoint, (acme, 6))
    assert signed.entry_hash == _rows(acme)[6].entry_hash and len(signed.signature) == 64
    # A second checkpoint goes at the new head; with nothing new, none is written.
    assert chain.checkpoint(acme)[1] == 9
    assert chain.checkpoint(acme)[1] is None
    assert chain.verify(acme).entries_checked == 1


def test_an_edit_after_the_checkpoint_fails_both(acme):
    _edit(acme, 8)
    for result in (chain.verify(acme), chain.verify(acme, full=True)):
        assert (result.intact, result.first_bad_seq, result.first_bad_entry_id) == (False, 8, _rows(acme)[8].id)
        assert "altered" in result.reason
    # No checkpoint is written over a broken chain.
    result, place = chain.checkpoint(acme)
    assert (result.intact, place) == (False, None)
    assert db.session.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == acme)).all() == [6]


def test_an_edit_before_the_checkpoint_fails_the_full_verification_only(acme):
    _edit(acme, 3)
    routine = chain.verify(acme)
    assert routine.intact and routine.verified_from_seq == 6  # place 3 is not recomputed by design
    full = chain.verify(acme, full=True)
    assert (full.intact, full.first_bad_seq, full.first_bad_entry_id) == (False, 3, _rows(acme)[3].id)
    assert "altered" in full.reason


def test_an_edit_of_the_checkpoints_own_entry_fails_both(acme):
    _edit(acme, 6)
    for result in (chain.verify(acme), chain.verify(acme, full=True)):
        assert (result.intact, result.first_bad_seq) == (False, 6)


def test_re_hashing_the_chain_after_an_edit_is_caught_at_the_signed_checkpoint(acme):
    """Someone with write access to the database edits place 3 and recomputes every hash after it
    and the head, as a bare hash chain would let them: each entry then matches its hash, but
    the checkpoint's signed hash at place 6 no longer matches its entry."""
    _edit(acme, 3)
    rows, previous = _rows(acme), None
    for seq in sorted(rows):
        row = rows[seq]
        if previous is not None:
            row.prev_hash = previous
        row.entry_hash = previous = chain.entry_hash(row)
    db.session.get(AuditChainHead, acme).head_hash = previous
    db.session.commit()
    db.session.expire_all()

    full = chain.verify(acme, full=True)
    assert (full.intact, full.first_bad_seq) == (False, 6)
    assert "signed checkpoint" in full.reason
    routine = chain.verify(acme)
    assert (routine.intact, routine.first_bad_seq) == (False, 6)
    assert "checkpoint" in routine.reason


def test_a_forged_checkpoint_fails_both(acme, app):
    # A checkpoint moved onto a re-hashed entry without the secret: its signature does not match.
    row = db.session.get(AuditCheckpoint, (acme, 6))
    row.entry_hash = "f" * 64
    db.session.commit()
    for result in (chain.verify(acme), chain.verify(acme, full=True)):
        assert (result.intact, result.first_bad_seq) == (False, 6)
        assert "not signed" in result.reason
    # One made by someone without the secret (here: another installation's SECRET_KEY).
    row.entry_hash = _rows(acme)[6].entry_hash
    with app.test_request_context():
        app.config["SECRET_KEY"], real = "another installation", app.config["SECRET_KEY"]
        try:
            row.signature = chain.sign(acme, 6, row.entry_hash)
        finally:
            app.config["SECRET_KEY"] = real
    db.session.commit()
    assert not chain.verify(acme).intact
    row.signature = chain.sign(acme, 6, row.entry_hash)
    db.session.commit()
    assert chain.verify(acme).intact


def test_removing_the_newest_entries_or_the_checkpoint_entry_is_caught(acme):
    db.session.execute(text("DELETE FROM audit_events WHERE workspace_id = :ws AND seq = 9"), {"ws": acme})
    db.session.commit()
    for result in (chain.verify(acme), chain.verify(acme, full=True)):
        assert (result.intact, result.first_bad_seq) == (False, 9)
    db.session.execute(text("DELETE FROM audit_events WHERE workspace_id = :ws AND seq = 6"), {"ws": acme})
    db.session.commit()
    routine = chain.verify(acme)
    assert (routine.intact, routine.first_bad_seq) == (False, 6) and "missing" in routine.reason
    assert not chain.verify(acme, full=True).intact


def test_retention_past_a_checkpoint_drops_it_and_verification_starts_at_the_anchor(acme, app):
    from datetime import timedelta

    from core.timeutil import utcnow

    db.session.execute(text("UPDATE audit_events SET created_at = :old WHERE workspace_id = :ws AND seq <= 7"),
                       {"old": utcnow() - timedelta(days=500), "ws": acme})
    # The hashes cover created_at: re-chain as if the entries had been written then (a fixture
    # only; what is under test is what retention does with the checkpoint).
    db.session.expire_all()
    rows, previous = _rows(acme), None
    for seq in sorted(rows):
        row = rows[seq]
        if previous is not None:
            row.prev_hash = previous
        row.entry_hash = previous = chain.entry_hash(row)
    db.session.get(AuditChainHead, acme).head_hash = previous
    signed = db.session.get(AuditCheckpoint, (acme, 6))
    signed.entry_hash = rows[6].entry_hash
    signed.signature = chain.sign(acme, 6, signed.entry_hash)
    db.session.commit()
    assert chain.checkpoint(acme)[1] == 9
    chain.remove_expired(365)
    assert db.session.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == acme)).all() == [9]
    result = chain.verify(acme)
    assert (result.intact, result.anchor_seq, result.checkpoint_seq, result.entries_checked) == (True, 7, 9, 2)
    assert chain.verify(acme, full=True).intact


def test_the_cli_verifies_from_checkpoints_and_fully_on_request(acme, app):
    runner = app.test_cli_runner()
    _edit(acme, 3)
    routine = runner.invoke(args=["audit", "verify", "--workspace", acme])
    assert routine.exit_code == 0 and "4 entries intact (places 7 to 9, from checkpoint 6)" in routine.output
    full = runner.invoke(args=["audit", "verify", "--workspace", acme, "--full"])
    assert full.exit_code == 1 and "at place 3" in full.output
    # The full walk is recorded in the chain (place 10), as the latest full verification.
    last = chain.full_walk_status(acme)["last"]
    assert (last["trigger"], last["intact"], last["first_bad_seq"], last["head_seq"]) == ("cli", False, 3, 9)
    checkpoint = runner.invoke(args=["audit", "checkpoint"])
    assert checkpoint.exit_code == 0 and f"ok    {acme}: checkpoint at place 10" in checkpoint.output
    # A workspace without a chain is refused, not given one by the walk's record.
    unknown = runner.invoke(args=["audit", "verify", "--workspace", "org_nosuchworkspace", "--full"])
    assert unknown.exit_code == 2 and "no audit chain" in unknown.output
    assert "org_nosuchworkspace" not in chain.chains()
