"""Tamper evidence: each workspace's audit entries form a hash chain.

An entry's hash is the SHA-256 of its canonical form (``canonical``): every stored field but the
row id, including its place in the chain (``seq``) and the previous entry's hash. Changing,
removing or reordering an entry breaks the chain at that entry (its recomputed hash no longer
matches, or the next place or ``prev_hash`` does not follow), and removing the newest entries
shows against the chain head, which holds the last place and hash.

Entries get their place when the transaction that recorded them commits (a ``before_commit``
hook on every session), so ``audit.service.record`` stays a plain ``session.add`` and the entry
still commits with the change it describes. The hook locks the chain's head row first
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time, and the transaction
already holds the write lock from inserting the entries), so two transactions never take the
same place: the chain cannot fork. It takes that lock last, after every other write of the
transaction, and holds it only to the commit, so no deadlock can involve it.

Retention (``remove_expired``) removes a chain's oldest entries and keeps, in the head, the place
and hash of the last one removed: the anchor from which ``verify`` checks what remains.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, event, func, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.extensions import db
from core.timeutil import isoformat, utcnow

from .models import GENESIS, INSTALLATION_CHAIN, AuditChainHead, AuditEvent

FORMAT = "tributary-audit-v1"
_PENDING = "audit_unchained"
HEADS = AuditChainHead.__table__


def chain_of(workspace_id: str | None) -> str:
    return workspace_id or INSTALLATION_CHAIN


def _stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry) -> bytes:
    """The bytes an entry's hash covers: its stored fields in a fixed order, as compact JSON with
    sorted keys (``details`` included), ASCII only. ``entry`` is a row or an ``AuditEvent``."""
    fields = [FORMAT, entry.workspace_id, entry.seq, _stamp(entry.created_at), entry.actor_type, entry.actor_id,
              entry.actor_label, entry.action, entry.target_type, entry.target_id, entry.outcome,
              entry.client_address, entry.details if entry.details is not None else {}, entry.prev_hash]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def entry_hash(entry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


# -- placing entries in their chain, at commit -------------------------------------------------------

@event.listens_for(Session, "before_flush")
def _collect(session, _flush_context, _instances):
    for obj in session.new:
        if isinstance(obj, AuditEvent) and obj.entry_hash is None:
            if obj.created_at is None:
                obj.created_at = utcnow()
            session.info.setdefault(_PENDING, []).append(obj)


@event.listens_for(Session, "before_commit")
def _place(session):
    if not session.info.get(_PENDING) and not any(isinstance(o, AuditEvent) for o in session.new):
        return
    session.flush()
    pending = [e for e in dict.fromkeys(session.info.pop(_PENDING, []))
               if e.entry_hash is None and inspect(e).persistent]
    if not pending:
        return
    by_chain: dict[str, list[AuditEvent]] = {}
    for entry in sorted(pending, key=lambda e: e.id):  # ids follow the order they were recorded in
        by_chain.setdefault(chain_of(entry.workspace_id), []).append(entry)
    connection = session.connection()
    for key in sorted(by_chain):  # always the same order: two multi-chain commits cannot deadlock
        seq, head = lock_head(connection, key)
        for entry in by_chain[key]:
            seq += 1
            entry.seq, entry.prev_hash = seq, head
            head = entry.entry_hash = entry_hash(entry)
        connection.execute(update(HEADS).where(HEADS.c.chain == key).values(seq=seq, head_hash=head,
                                                                            updated_at=utcnow()))
    session.flush()


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(_PENDING, None)


def lock_head(connection, key: str) -> tuple[int, str]:
    """Lock the chain's head row (creating it on first use) and return its last place and hash."""
    query = select(HEADS.c.seq, HEADS.c.head_hash).where(HEADS.c.chain == key).with_for_update()
    row = connection.execute(query).first()
    if row is None:
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(insert(HEADS).values(chain=key, seq=0, head_hash=GENESIS, anchor_seq=0,
                                                anchor_hash=GENESIS, updated_at=utcnow())
                           .on_conflict_do_nothing(index_elements=["chain"]))
        row = connection.execute(query).first()
    return row.seq, row.head_hash


# -- verification ------------------------------------------------------------------------------------

@dataclass
class Verification:
    """Whether a chain is intact; if not, the first entry where it breaks and why."""

    intact: bool
    entries_checked: int
    anchor_seq: int
    head_seq: int
    first_bad_entry_id: int | None = None
    first_bad_seq: int | None = None
    reason: str | None = None
    verified_at: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _columns():
    return [AuditEvent.id, AuditEvent.workspace_id, AuditEvent.seq, AuditEvent.created_at, AuditEvent.actor_type,
            AuditEvent.actor_id, AuditEvent.actor_label, AuditEvent.action, AuditEvent.target_type,
            AuditEvent.target_id, AuditEvent.outcome, AuditEvent.client_address, AuditEvent.details,
            AuditEvent.prev_hash, AuditEvent.entry_hash]


def _in_chain(key: str):
    return AuditEvent.workspace_id.is_(None) if key == INSTALLATION_CHAIN else AuditEvent.workspace_id == key


def verify(workspace_id: str | None, *, batch: int = 1000) -> Verification:
    """Walk the chain of ``workspace_id`` (``None``: the installation's) from its anchor to its
    head, recomputing every hash. Entries committed after the head was read are left for the
    next verification."""
    key = chain_of(workspace_id)
    head = db.session.execute(select(HEADS.c.seq, HEADS.c.head_hash, HEADS.c.anchor_seq, HEADS.c.anchor_hash)
                              .where(HEADS.c.chain == key)).first()
    head_seq, head_hash, anchor_seq, anchor_hash = head if head else (0, GENESIS, 0, GENESIS)
    result = Verification(intact=True, entries_checked=0, anchor_seq=anchor_seq, head_seq=head_seq,
                          verified_at=isoformat(utcnow()))

    def broken(row, seq, reason):
        result.intact, result.reason = False, reason
        result.first_bad_entry_id, result.first_bad_seq = (row.id if row is not None else None), seq
        return result

    unplaced = db.session.execute(select(AuditEvent.id).where(_in_chain(key), AuditEvent.seq.is_(None))
                                  .order_by(AuditEvent.id).limit(1)).first()
    expected, previous = anchor_seq + 1, anchor_hash
    after = anchor_seq
    while True:
        rows = db.session.execute(select(*_columns()).where(_in_chain(key), AuditEvent.seq > after,
                                                            AuditEvent.seq <= head_seq)
                                  .order_by(AuditEvent.seq).limit(batch)).all()
        for row in rows:
            if row.seq != expected:
                return broken(row, row.seq, f"entries {expected} to {row.seq - 1} of the chain are missing "
                                            f"before this entry")
            if row.prev_hash != previous:
                return broken(row, row.seq, "its previous hash does not match the entry before it")
            if row.entry_hash != entry_hash(row):
                return broken(row, row.seq, "its stored fields do not match its hash (the entry was altered)")
            previous, expected = row.entry_hash, expected + 1
            result.entries_checked += 1
        if len(rows) < batch:
            break
        after = rows[-1].seq
    if expected - 1 != head_seq or previous != head_hash:
        return broken(None, expected, f"entries {expected} to {head_seq} of the chain are missing (the newest "
                                      f"entries were removed)")
    if unplaced is not None:
        return broken(unplaced, None, "the entry is not part of the chain (it was inserted outside the application)")
    beyond = db.session.execute(select(AuditEvent.id, AuditEvent.seq).where(_in_chain(key), AuditEvent.seq > head_seq)
                                .order_by(AuditEvent.seq).limit(1)).first()
    if beyond is not None:
        db.session.rollback()  # a fresh snapshot: was it only committed after the head was read?
        now_head = db.session.execute(select(HEADS.c.seq).where(HEADS.c.chain == key)).scalar() or 0
        if beyond.seq > now_head:
            return broken(beyond, beyond.seq, "the entry is beyond the chain's head (it was inserted outside the "
                                              "application)")
    return result


def chains() -> list[str | None]:
    """Every chain there is: workspace ids, and ``None`` for the installation's."""
    keys = set(db.session.scalars(select(HEADS.c.chain)))
    keys |= {chain_of(w) for w in db.session.scalars(select(AuditEvent.workspace_id).distinct())}
    return [key or None for key in sorted(keys)]


# -- retention ---------------------------------------------------------------------------------------

def remove_expired(retention_days: float, *, now: datetime | None = None) -> dict[str | None, int]:
    """Remove every chain's entries older than ``retention_days`` (0 or less: keep everything).

    A chain loses a prefix only: its oldest entries up to the first one inside the retention
    period (so entries are never removed from the middle of a chain). The head keeps the last
    removed entry's place and hash as the chain's anchor, and an ``audit.entries_removed`` entry
    says what went. One transaction per chain. Returns ``{workspace id: entries removed}``.
    """
    from .service import record
    from core.actor import system_actor

    if not retention_days or retention_days <= 0:
        return {}
    cutoff = (now or utcnow()) - timedelta(days=float(retention_days))
    expired = {chain_of(w) for w in db.session.scalars(
        select(AuditEvent.workspace_id).where(AuditEvent.created_at < cutoff).distinct())}
    db.session.rollback()
    removed = {}
    for key in sorted(expired):
        connection = db.session.connection()
        head_seq, _ = lock_head(connection, key)
        anchor_seq = connection.execute(select(HEADS.c.anchor_seq).where(HEADS.c.chain == key)).scalar_one()
        first_kept = connection.execute(select(func.min(AuditEvent.seq)).where(
            _in_chain(key), AuditEvent.created_at >= cutoff)).scalar()
        through = min(first_kept - 1 if first_kept is not None else head_seq, head_seq)
        if through <= anchor_seq:
            db.session.rollback()
            continue
        last_hash = connection.execute(select(AuditEvent.entry_hash).where(
            _in_chain(key), AuditEvent.seq == through)).scalar()
        count = connection.execute(delete(AuditEvent).where(_in_chain(key), AuditEvent.seq <= through)).rowcount
        connection.execute(update(HEADS).where(HEADS.c.chain == key).values(
            anchor_seq=through, anchor_hash=last_hash or GENESIS, updated_at=utcnow()))
        workspace_id = key or None
        record(system_actor(workspace_id), "audit.entries_removed", workspace_id=workspace_id,
               details={"through_seq": through, "count": count, "older_than": isoformat(cutoff),
                        "retention_days": retention_days})
        db.session.commit()
        removed[workspace_id] = count
    return removed
