"""The SOC 2 evidence report of a workspace over a period: who had access, how they signed in,
what changed, who read what, how secrets are encrypted at rest, and whether the audit chain holds.

Every figure is computed from what is stored: the workspace's audit entries in the period (and,
for failed sign-ins, the installation's entries about its members' accounts, which belong to no
workspace), the current members and API keys, and the stored ciphertexts. ``build`` returns the
report as a dict (the JSON answer); ``audit.pdf.render`` draws the same dict as a PDF.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import select, text

from accounts.models import ApiKey, Membership, User, Workspace
from core.extensions import db
from core.timeutil import isoformat, utcnow
from core.vault import fingerprint

from . import chain
from .models import AuditEvent

SIGN_IN = "auth.sign_in"


def _events(workspace_id: str | None, start: datetime, end: datetime, actions, *extra):
    where = [AuditEvent.created_at >= start, AuditEvent.created_at <= end, AuditEvent.action.in_(actions), *extra]
    where.append(AuditEvent.workspace_id.is_(None) if workspace_id is None else AuditEvent.workspace_id == workspace_id)
    return list(db.session.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.created_at, AuditEvent.id)))


def _brief(event: AuditEvent) -> dict:
    """An entry as the report lists it."""
    return {"id": f"aud_{event.id}", "time": isoformat(event.created_at), "action": event.action,
            "actor": event.actor_label or event.actor_type, "target_id": event.target_id,
            "details": event.details or {}}


def _access(workspace_id: str, start: datetime, end: datetime) -> dict:
    members = db.session.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                                 .where(Membership.workspace_id == workspace_id).order_by(User.name)).all()
    changes = _events(workspace_id, start, end, ("member.added", "member.removed", "member.role_changed"))
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        {k.created_by_user_id for k in db.session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id))}
        - {None})))}
    keys = list(db.session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.created_at)))
    key_events = _events(workspace_id, start, end, ("api_key.created", "api_key.revoked"))
    counted = Counter(e.action for e in changes + key_events)
    return {
        "members": [{"user_id": user.id, "name": user.name, "email": user.email, "role": membership.role,
                     "joined_at": isoformat(membership.created_at), "last_sign_in_at": isoformat(user.last_login_at)}
                    for user, membership in members],
        "member_count": len(members),
        "admin_count": sum(1 for _, m in members if m.role == "admin"),
        "members_added": counted["member.added"],
        "members_removed": counted["member.removed"],
        "role_changes": counted["member.role_changed"],
        "membership_changes": [_brief(e) for e in changes],
        "api_keys": [{"id": key.id, "name": key.name, "scopes": sorted(key.scopes or []), "kind": key.kind,
                      "created_by": ({"id": key.created_by_user_id, "name": users[key.created_by_user_id].name}
                                     if key.created_by_user_id in users else None),
                      "created_at": isoformat(key.created_at), "last_used_at": isoformat(key.last_used_at),
                      "revoked_at": isoformat(key.revoked_at)} for key in keys],
        "api_keys_active": sum(1 for key in keys if key.revoked_at is None),
        "api_keys_created": counted["api_key.created"],
        "api_keys_revoked": counted["api_key.revoked"],
    }


def _people(workspace_id: str) -> set[str]:
    """The user ids that are or were members of the workspace (by its membership entries too)."""
    current = set(db.session.scalars(select(Membership.user_id).where(Membership.workspace_id == workspace_id)))
    past = set(db.session.scalars(select(AuditEvent.target_id).where(
        AuditEvent.workspace_id == workspace_id, AuditEvent.action == "member.added")))
    return current | past


def _authentication(workspace_id: str, start: datetime, end: datetime) -> dict:
    signed = _events(workspace_id, start, end, (SIGN_IN, "auth.sign_out"))
    people = _people(workspace_id)
    # Refused sign-ins belong to no workspace; those for this workspace's members' accounts count here.
    refused = [e for e in _events(None, start, end, (SIGN_IN,), AuditEvent.outcome == "failure")
               if e.actor_id in people]
    by_account = Counter(e.actor_label for e in refused)
    return {
        "sign_ins": sum(1 for e in signed if e.action == SIGN_IN and e.outcome == "success"),
        "sign_outs": sum(1 for e in signed if e.action == "auth.sign_out"),
        "failed_sign_ins": sum(1 for e in refused if (e.details or {}).get("reason") == "bad_credentials"),
        "lockouts": sum(1 for e in refused if (e.details or {}).get("locked")),
        "refused_while_locked": sum(1 for e in refused if (e.details or {}).get("reason") == "locked_out"),
        "failures_by_account": [{"account": account, "failures": n} for account, n in sorted(
            by_account.items(), key=lambda item: (-item[1], item[0] or ""))],
    }


CHANGES = {
    "connections_added": "connection.connected",
    "connections_removed": "connection.disconnected",
    "connections_reconnected": "connection.reconnected",
    "connection_settings_changed": "connection.updated",
    "webhook_secret_rotations": "connection.secret_rotated",
    "cadence_changes": "sync.cadence_updated",
    "schedule_changes": "sync.schedule_updated",
}


def _change_management(workspace_id: str, start: datetime, end: datetime) -> dict:
    events = _events(workspace_id, start, end, tuple(CHANGES.values()))
    counted = Counter(e.action for e in events)
    rotations = _events(None, start, end, ("vault.keys_rotated",))
    return {**{name: counted[action] for name, action in CHANGES.items()},
            "encryption_key_rotations": len(rotations),
            "changes": [_brief(e) for e in events]}


def _data_access(workspace_id: str, start: datetime, end: datetime) -> dict:
    events = _events(workspace_id, start, end, ("query.executed", "document.deleted", "pipeline.sync",
                                                "vector_store.deleted", "audit.exported", "access.override"))
    queries = Counter((e.actor_type, e.actor_id, e.actor_label) for e in events if e.action == "query.executed")
    by_action = Counter(e.action for e in events)

    def deleted_by(action):
        return sum(int((e.details or {}).get("documents_deleted") or 0) for e in events if e.action == action)

    single, piped, stores = by_action["document.deleted"], deleted_by("pipeline.sync"), deleted_by("vector_store.deleted")
    return {
        "queries": sum(queries.values()),
        "queries_by_actor": [{"actor_type": t, "actor_id": i, "actor": label, "queries": n}
                             for (t, i, label), n in sorted(queries.items(), key=lambda kv: (-kv[1], kv[0][2] or ""))],
        "access_overrides": by_action["access.override"],
        "documents_deleted": single + piped + stores,
        "documents_deleted_one_by_one": single,
        "documents_deleted_by_pipeline_sync": piped,
        "documents_deleted_with_vector_stores": stores,
        "exports": by_action["audit.exported"],
        "exports_by_format": dict(sorted(Counter((e.details or {}).get("format") for e in events
                                                 if e.action == "audit.exported").items())),
    }


def _workspace_tokens(workspace_id: str):
    """Every ciphertext this workspace stores (rows of tables that carry a ``workspace_id``)."""
    from core.cli import encrypted_columns

    for table, _pk, column in encrypted_columns():
        if "workspace_id" not in table.c:
            continue
        yield from db.session.execute(text(f'SELECT "{column.name}" FROM "{table.name}" WHERE "{column.name}" IS '
                                           f'NOT NULL AND workspace_id = :w'), {"w": workspace_id}).scalars()


def _encryption(workspace_id: str, start: datetime, end: datetime, now: datetime) -> dict:
    keys = list(current_app.extensions["vault"].keys)
    fernets = [Fernet(k.encode("ascii") if isinstance(k, str) else k) for k in keys]
    secrets, oldest = Counter(), {}
    for token in _workspace_tokens(workspace_id):
        for index, fernet in enumerate(fernets):
            try:
                # Verifies the token's HMAC with this key and reads the time it was encrypted at.
                stamp = fernet.extract_timestamp(token.encode("ascii"))
            except InvalidToken:
                continue
            secrets[index] += 1
            oldest[index] = min(oldest.get(index, stamp), stamp)
            break
    rotations = list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.workspace_id.is_(None), AuditEvent.action.in_(("vault.keys_rotated", "vault.keys_retired")))
        .order_by(AuditEvent.created_at)))
    first_primary = {}
    for event in rotations:
        if event.action == "vault.keys_rotated":
            first_primary.setdefault((event.details or {}).get("primary_key"), event.created_at)
    entries = []
    for index, key in enumerate(keys):
        name = fingerprint(key)
        known = [t for t in (first_primary.get(name),
                             datetime.fromtimestamp(oldest[index], timezone.utc) if index in oldest else None) if t]
        since = min(known) if known else None
        entries.append({"fingerprint": name, "primary": index == 0, "secrets": secrets[index],
                        "oldest_secret_encrypted_at": isoformat(datetime.fromtimestamp(oldest[index], timezone.utc))
                        if index in oldest else None,
                        "became_primary_at": isoformat(first_primary.get(name)),
                        "in_use_since": isoformat(since),
                        "age_days": (now - since).days if since else None})
    last = [e for e in rotations if e.action == "vault.keys_rotated"]
    return {"algorithm": "Fernet (AES-128-CBC with HMAC-SHA256), MultiFernet key ring",
            "keys_in_use": len(keys), "keys": entries,
            "secrets_under_older_keys": sum(n for index, n in secrets.items() if index > 0),
            "last_rotation_at": isoformat(last[-1].created_at) if last else None,
            "rotations_in_period": sum(1 for e in last if start <= e.created_at <= end)}


def build(actor, start: datetime, end: datetime) -> dict:
    """The report of ``actor``'s workspace for ``start`` to ``end`` (both included)."""
    workspace = db.session.get(Workspace, actor.workspace_id)
    now = utcnow()
    verification = chain.verify(actor.workspace_id)
    return {
        "workspace": {"id": workspace.id, "name": workspace.name},
        "period": {"start": isoformat(start), "end": isoformat(end)},
        "generated_at": isoformat(now),
        "access": _access(workspace.id, start, end),
        "authentication": _authentication(workspace.id, start, end),
        "change_management": _change_management(workspace.id, start, end),
        "data_access": _data_access(workspace.id, start, end),
        "encryption_at_rest": _encryption(workspace.id, start, end, now),
        "audit_chain": {**verification.to_dict(), "full_verification": chain.full_walk_status(actor.workspace_id)},
    }
