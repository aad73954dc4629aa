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

Checkpoints (``checkpoint``, hourly from the housekeeping and ``flask audit checkpoint``): once
verification from the latest checkpoint (or the anchor) to the head finds the chain intact, the
head's place and hash are recorded with an HMAC under a key derived from ``SECRET_KEY``. Routine
verification (the API, ``flask audit verify``) then starts from the latest checkpoint, so it
recomputes only what was written since (an hour's entries) instead of the whole chain (over
three minutes at a million entries on a loaded 2-core machine, ``bench/audit_verify.py``). What
each mode catches:

* incremental (``verify(ws)``): any change, removal or insertion of an entry after the latest
  checkpoint, a change of the checkpoint's own entry (it is recomputed and compared with the
  signed hash), removal of the newest entries, and a checkpoint that was altered or forged
  (its signature). It does **not** recompute entries before the latest checkpoint: an edit of
  such an entry goes unseen until a full verification;
* full (``verify(ws, full=True)``, ``flask audit verify --full``): every entry from the anchor,
  and every checkpoint on the way must be signed and match the entry at its place. So an edit
  anywhere is caught, even one whose author re-hashed the rest of the chain and its head (which
  a bare hash chain cannot show): the re-hashed entries no longer match a signed checkpoint.

Full walks (``full_walk``) are recorded in the chain they walked (``audit.verified`` or
``audit.chain_broken`` with where it broke), so the API, the console and the SOC 2 report show
the latest one beside the incremental answer. The scheduler's leader runs one every
``AUDIT_FULL_VERIFY_DAYS`` per chain, and on an admin's request (``request_full_walk``), never in a
web request and one at a time (``run_due_full_walks``); ``flask audit verify --full`` records too.

Rotating ``SECRET_KEY``: checkpoints signed with a secret listed in ``SECRET_KEY_FALLBACKS`` still
verify; ``resign`` (``flask audit resign``) verifies every chain fully and re-signs them with the
current secret, after which the fallback can go. Without the previous secret, earlier checkpoints
are reported as not signed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, event, func, inspect, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.extensions import db
from core.timeutil import isoformat, utcnow

from .models import GENESIS, INSTALLATION_CHAIN, AuditChainHead, AuditCheckpoint, AuditEvent

FORMAT = "tributary-audit-v1"
_PENDING = "audit_unchained"
HEADS = AuditChainHead.__table__
CHECKPOINTS = AuditCheckpoint.__table__
log = logging.getLogger(__name__)


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
    """Whether a chain is intact; if not, the first entry where it breaks and why.

    ``verified_from_seq`` is the place verification started after: the latest checkpoint
    (incremental) or the anchor (full, or no checkpoint yet); ``checkpoint_seq`` the latest
    checkpoint it relied on (``None``: none)."""

    intact: bool
    entries_checked: int
    anchor_seq: int
    head_seq: int
    first_bad_entry_id: int | None = None
    first_bad_seq: int | None = None
    reason: str | None = None
    verified_at: str | None = None
    mode: str = "incremental"
    verified_from_seq: int = 0
    checkpoint_seq: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _columns():
    return [AuditEvent.id, AuditEvent.workspace_id, AuditEvent.seq, AuditEvent.created_at, AuditEvent.actor_type,
            AuditEvent.actor_id, AuditEvent.actor_label, AuditEvent.action, AuditEvent.target_type,
            AuditEvent.target_id, AuditEvent.outcome, AuditEvent.client_address, AuditEvent.details,
            AuditEvent.prev_hash, AuditEvent.entry_hash]


def _in_chain(key: str):
    return AuditEvent.workspace_id.is_(None) if key == INSTALLATION_CHAIN else AuditEvent.workspace_id == key


def sign(key: str, seq: int, hash_: str, *, secret=None) -> str:
    """The checkpoint's HMAC-SHA256: of the format, chain, place and hash, under a key derived
    from ``SECRET_KEY`` (or ``secret``; derived, so this use cannot collide with the secret's
    others)."""
    secret = current_app.config["SECRET_KEY"] if secret is None else secret
    secret = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    signing_key = hmac.new(secret, b"tributary-audit-checkpoint-v1", hashlib.sha256).digest()
    message = json.dumps([FORMAT, key, int(seq), hash_], separators=(",", ":")).encode("ascii")
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


def _fallback_secrets() -> list:
    """The previous secrets still accepted on checkpoints: ``SECRET_KEY_FALLBACKS`` (Flask's
    setting for the same purpose; a list, or one string), until ``flask audit resign`` has
    re-signed what they signed."""
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    return [fallbacks] if isinstance(fallbacks, (str, bytes)) else list(fallbacks)


def _signed(key: str, checkpoint, *, current_only: bool = False) -> bool:
    secrets = [None] + ([] if current_only else _fallback_secrets())
    return any(hmac.compare_digest(checkpoint.signature or "", sign(key, checkpoint.seq, checkpoint.entry_hash,
                                                                    secret=secret)) for secret in secrets)


def verify(workspace_id: str | None, *, full: bool = False, batch: int = 5000) -> Verification:
    """Verify the chain of ``workspace_id`` (``None``: the installation's) up to its head,
    recomputing every hash: from the latest checkpoint (after checking its signature and its
    entry), or with ``full`` from the anchor through every checkpoint (module docstring: what
    each catches). Entries committed after the head was read are left for the next
    verification."""
    key = chain_of(workspace_id)
    head = db.session.execute(select(HEADS.c.seq, HEADS.c.head_hash, HEADS.c.anchor_seq, HEADS.c.anchor_hash)
                              .where(HEADS.c.chain == key)).first()
    head_seq, head_hash, anchor_seq, anchor_hash = head if head else (0, GENESIS, 0, GENESIS)
    result = Verification(intact=True, entries_checked=0, anchor_seq=anchor_seq, head_seq=head_seq,
                          verified_at=isoformat(utcnow()), mode="full" if full else "incremental",
                          verified_from_seq=anchor_seq)

    def broken(row, seq, reason):
        result.intact, result.reason = False, reason
        result.first_bad_entry_id, result.first_bad_seq = (row.id if row is not None else None), seq
        return result

    unplaced = db.session.execute(select(AuditEvent.id).where(_in_chain(key), AuditEvent.seq.is_(None))
                                  .order_by(AuditEvent.id).limit(1)).first()
    in_range = (CHECKPOINTS.c.chain == key, CHECKPOINTS.c.seq > anchor_seq, CHECKPOINTS.c.seq <= head_seq)
    checks: dict[int, str] = {}  # place -> the signed hash the entry there must have
    if full:
        checkpoints = db.session.execute(select(CHECKPOINTS).where(*in_range).order_by(CHECKPOINTS.c.seq)).all()
    else:
        checkpoints = db.session.execute(select(CHECKPOINTS).where(*in_range)
                                         .order_by(CHECKPOINTS.c.seq.desc()).limit(1)).all()
    for checkpoint in checkpoints:
        if not _signed(key, checkpoint):
            entry = db.session.execute(select(AuditEvent.id).where(_in_chain(key), AuditEvent.seq == checkpoint.seq)
                                       ).first()
            return broken(entry, checkpoint.seq, "the checkpoint at this place is not signed by this installation "
                                                 "(it was altered or forged, or SECRET_KEY changed)")
        checks[checkpoint.seq] = checkpoint.entry_hash
    if checkpoints:
        result.checkpoint_seq = checkpoints[-1].seq if full else checkpoints[0].seq
    expected, previous = anchor_seq + 1, anchor_hash
    if not full and checkpoints:
        # Start at the checkpoint's own entry: recomputed, and compared with the signed hash.
        start = checkpoints[0].seq
        row = db.session.execute(select(*_columns()).where(_in_chain(key), AuditEvent.seq == start)).first()
        if row is None:
            return broken(None, start, "the entry at the latest checkpoint is missing")
        if row.entry_hash != checks[start] or row.entry_hash != entry_hash(row):
            return broken(row, start, "the entry at the latest checkpoint does not match the checkpoint's signed "
                                      "hash (the entry was altered)")
        result.verified_from_seq = start
        expected, previous = start + 1, row.entry_hash
        result.entries_checked += 1
        checks = {}
    after = expected - 1
    connection = db.session.connection()
    columns = _columns()
    while True:
        rows = connection.execute(select(*columns).where(_in_chain(key), AuditEvent.seq > after,
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
            if row.seq in checks and checks.pop(row.seq) != row.entry_hash:
                return broken(row, row.seq, "its hash does not match the signed checkpoint at this place (the "
                                            "chain was re-hashed from here or earlier)")
            previous, expected = row.entry_hash, expected + 1
            result.entries_checked += 1
        if len(rows) < batch:
            break
        after = rows[-1].seq
    if expected - 1 != head_seq or previous != head_hash:
        return broken(None, expected, f"entries {expected} to {head_seq} of the chain are missing (the newest "
                                      f"entries were removed)")
    if checks:  # a signed place the walk never reached: its entry is gone
        return broken(None, min(checks), "the entry at a signed checkpoint is missing")
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


def checkpoint(workspace_id: str | None) -> tuple[Verification, int | None]:
    """Verify the chain from its latest checkpoint and, when it is intact and has grown since,
    record a signed checkpoint at the head it verified. Returns the verification and the new
    checkpoint's place (``None`` when none was written)."""
    key = chain_of(workspace_id)
    result = verify(workspace_id)
    db.session.rollback()  # verify may have read in a transaction; write in a fresh one
    if not result.intact or result.head_seq <= max(result.anchor_seq, result.checkpoint_seq or 0):
        return result, None
    head_hash = db.session.execute(select(AuditEvent.entry_hash).where(
        _in_chain(key), AuditEvent.seq == result.head_seq)).scalar()
    if head_hash is None:
        return result, None
    db.session.execute(insert(CHECKPOINTS).values(chain=key, seq=result.head_seq, entry_hash=head_hash,
                                                  signature=sign(key, result.head_seq, head_hash),
                                                  created_at=utcnow()))
    db.session.commit()
    return result, result.head_seq


def checkpoint_all() -> dict[str | None, int | None]:
    """``checkpoint`` every chain (the hourly housekeeping); ``{workspace id: new place or None}``."""
    return {key: checkpoint(key)[1] for key in chains()}


def chains() -> list[str | None]:
    """Every chain there is: workspace ids, and ``None`` for the installation's."""
    keys = set(db.session.scalars(select(HEADS.c.chain)))
    keys |= {chain_of(w) for w in db.session.scalars(select(AuditEvent.workspace_id).distinct())}
    return [key or None for key in sorted(keys)]


# -- full walks: scheduled, requested, recorded -------------------------------------------------------

WALKED = ("audit.verified", "audit.chain_broken")  # a full walk's outcome, recorded in the chain it walked
REQUESTED = "audit.verification_requested"


def _latest(key: str, actions) -> AuditEvent | None:
    """The chain's newest entry of any of ``actions``: one seek per action on the (workspace,
    action, place) index (with ``IN``, SQLite walks the chain's place index backwards instead)."""
    found = [db.session.scalar(select(AuditEvent).where(_in_chain(key), AuditEvent.action == action,
                                                        AuditEvent.seq.isnot(None))
                               .order_by(AuditEvent.seq.desc()).limit(1)) for action in actions]
    return max((e for e in found if e is not None), key=lambda e: e.seq, default=None)


def _cadence_days() -> float:
    return float(current_app.config.get("AUDIT_FULL_VERIFY_DAYS") or 0)


def _min_interval() -> timedelta:
    return timedelta(minutes=float(current_app.config.get("AUDIT_FULL_VERIFY_MIN_INTERVAL_MINUTES") or 0))


def full_walk_status(workspace_id: str | None) -> dict:
    """The latest full walk of the chain (``last``: when, by what, intact or where it broke), a
    request waiting for one (``requested``: made after the last walk's head, and when it may run)
    and when the next scheduled walk is due. Read from the chain's own ``audit.verified`` /
    ``audit.chain_broken`` and ``audit.verification_requested`` entries."""
    key = chain_of(workspace_id)
    walked, asked = _latest(key, WALKED), _latest(key, (REQUESTED,))
    last = None
    if walked is not None:
        d = walked.details or {}
        last = {"entry_id": f"aud_{walked.id}", "trigger": d.get("trigger"), "started_at": d.get("started_at"),
                "finished_at": isoformat(walked.created_at), "intact": walked.action == "audit.verified",
                "entries_checked": d.get("entries_checked", 0), "verified_from_seq": d.get("verified_from_seq", 0),
                "head_seq": d.get("head_seq", 0), "first_bad_seq": d.get("first_bad_seq"),
                "first_bad_entry_id": d.get("first_bad_entry_id"), "reason": d.get("reason")}
    requested = None
    if asked is not None and asked.seq > (last["head_seq"] if last else 0):
        runs_after = asked.created_at
        if walked is not None:
            runs_after = max(runs_after, walked.created_at + _min_interval())
        requested = {"entry_id": f"aud_{asked.id}", "requested_at": isoformat(asked.created_at),
                     "requested_by": asked.actor_label, "runs_after": isoformat(runs_after)}
    days = _cadence_days()
    next_scheduled = None
    since = walked.created_at if walked is not None else db.session.scalar(
        select(func.min(AuditEvent.created_at)).where(_in_chain(key)))
    if days > 0 and since is not None:  # the last walk's, or before the first, the oldest entry's age
        next_scheduled = isoformat(since + timedelta(days=days))
    return {"last": last, "requested": requested, "cadence_days": days or None, "next_scheduled_at": next_scheduled}


def full_walk(workspace_id: str | None, trigger: str) -> Verification:
    """Verify the whole chain (``verify(full=True)``) and record the outcome in it, as the system:
    ``audit.verified``, or ``audit.chain_broken`` naming where and why (also logged as a warning).
    ``trigger``: ``schedule``, ``request`` or ``cli``."""
    from core.actor import system_actor

    from .service import record

    started = utcnow()
    result = verify(workspace_id, full=True)
    db.session.rollback()  # verify read in a transaction; record in a fresh one
    details = {"mode": "full", "trigger": trigger, "started_at": isoformat(started),
               "entries_checked": result.entries_checked, "verified_from_seq": result.verified_from_seq,
               "head_seq": result.head_seq, "checkpoint_seq": result.checkpoint_seq}
    if not result.intact:
        details |= {"first_bad_seq": result.first_bad_seq, "first_bad_entry_id": result.first_bad_entry_id,
                    "reason": result.reason}
        log.warning("audit chain %s is broken at place %s: %s", chain_of(workspace_id) or "(installation)",
                    result.first_bad_seq, result.reason)
    record(system_actor(workspace_id), "audit.verified" if result.intact else "audit.chain_broken",
           outcome="success" if result.intact else "failure", target_type="audit_log", workspace_id=workspace_id,
           details=details)
    db.session.commit()
    return result


def request_full_walk(actor) -> dict:
    """Ask for a full walk of ``actor``'s workspace chain (admins only). It never runs in the
    request (a million entries take minutes): the scheduler's leader runs it within
    a minute (``sync.scheduler.audit_full_walks``), or once ``AUDIT_FULL_VERIFY_MIN_INTERVAL_MINUTES`` have passed since the
    previous walk. A request already waiting is answered again instead of adding another.
    Returns ``full_walk_status``."""
    from core.errors import Forbidden

    from .service import record

    if not actor.is_admin:
        raise Forbidden("Only a workspace admin can verify the audit chain.", code="admin_required")
    status = full_walk_status(actor.workspace_id)
    if status["requested"] is None:
        record(actor, "audit.verification_requested", target_type="audit_log", details={"mode": "full"})
        db.session.commit()
        status = full_walk_status(actor.workspace_id)
    return status


def due_full_walks(now: datetime | None = None) -> dict[str | None, str]:
    """The chains whose full walk is due, ``{workspace id: trigger}``: ``request`` when a request
    waits and the minimum interval since the last walk has passed; ``schedule`` when the last walk
    is ``AUDIT_FULL_VERIFY_DAYS`` old (before the first, the chain's oldest entry; 0 days: never
    scheduled)."""
    now, due = now or utcnow(), {}
    # Every chain the application wrote has a head (``chains()`` also scans the entries, too much
    # for every minute at a million of them).
    for key in [key or None for key in db.session.scalars(select(HEADS.c.chain).order_by(HEADS.c.chain))]:
        status = full_walk_status(key)
        requested = status["requested"]
        if requested is not None and _instant(requested["runs_after"]) <= now:
            due[key] = "request"
        elif status["next_scheduled_at"] and _instant(status["next_scheduled_at"]) <= now:
            due[key] = "schedule"
    db.session.rollback()
    return due


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_due_full_walks(now: datetime | None = None) -> dict[str | None, Verification]:
    """Run the full walks that are due, one chain after the other (the leader's
    ``audit_full_walks`` job, which never runs twice at once: one walk at a time per installation)."""
    return {key: full_walk(key, trigger) for key, trigger in due_full_walks(now).items()}


# -- rotating SECRET_KEY -------------------------------------------------------------------------------

def resign() -> tuple[dict[str | None, int], dict[str | None, Verification]]:
    """After ``SECRET_KEY`` was rotated (the previous one in ``SECRET_KEY_FALLBACKS``): verify every
    chain fully, accepting checkpoints signed with the current or a previous secret, and, only if
    every chain is intact, re-sign with the current secret each checkpoint that is not yet signed
    with it, with an ``audit.checkpoints_resigned`` entry per chain, in one transaction. Returns
    ``({workspace id: checkpoints re-signed}, {workspace id: verification of each broken chain})``:
    nothing is written when the second is not empty."""
    from core.actor import system_actor

    from .service import record

    results = {key: verify(key, full=True) for key in chains()}
    broken = {key: result for key, result in results.items() if not result.intact}
    db.session.rollback()
    if broken:
        return {}, broken
    resigned = {}
    for key, result in results.items():
        chain_key = chain_of(key)
        rows = db.session.execute(select(CHECKPOINTS).where(
            CHECKPOINTS.c.chain == chain_key, CHECKPOINTS.c.seq > result.anchor_seq,
            CHECKPOINTS.c.seq <= result.head_seq)).all()
        stale = [row for row in rows if not _signed(chain_key, row, current_only=True)]
        for row in stale:
            # Only the very checkpoint verified (same place and hash): not one altered since.
            db.session.execute(update(CHECKPOINTS).where(
                CHECKPOINTS.c.chain == chain_key, CHECKPOINTS.c.seq == row.seq,
                CHECKPOINTS.c.entry_hash == row.entry_hash).values(signature=sign(chain_key, row.seq, row.entry_hash)))
        if stale:
            record(system_actor(key), "audit.checkpoints_resigned", target_type="audit_log", workspace_id=key,
                   details={"count": len(stale), "through_seq": max(row.seq for row in stale)})
        resigned[key] = len(stale)
    db.session.commit()
    return resigned, {}


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
        connection.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.chain == key, CHECKPOINTS.c.seq <= through))
        connection.execute(update(HEADS).where(HEADS.c.chain == key).values(
            anchor_seq=through, anchor_hash=last_hash or GENESIS, updated_at=utcnow()))
        workspace_id = key or None
        record(system_actor(workspace_id), "audit.entries_removed", workspace_id=workspace_id,
               details={"through_seq": through, "count": count, "older_than": isoformat(cutoff),
                        "retention_days": retention_days})
        db.session.commit()
        removed[workspace_id] = count
    return removed
