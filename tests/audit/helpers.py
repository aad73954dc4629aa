"""Recording audit entries directly, as the domain functions do, with chosen times."""
from datetime import datetime

from sqlalchemy import select, text

from audit.models import AuditEvent
from audit.service import record
from core.actor import Actor
from core.extensions import db


def member_actor(workspace_id: str, user, role: str = "admin", address: str = "203.0.113.7") -> Actor:
    return Actor(type="user", id=user.id, label=user.email, workspace_id=workspace_id, user_id=user.id, role=role,
                 client_address=address)


def key_actor(workspace_id: str, key_id: str, name: str, scopes=("admin",)) -> Actor:
    return Actor(type="api_key", id=key_id, label=name, workspace_id=workspace_id, scopes=frozenset(scopes))


def entry(actor, action: str, *, at: datetime | None = None, commit: bool = True, **kwargs):
    """Record one entry (at ``at``, when given) and commit it, as a domain change would."""
    event = record(actor, action, **kwargs)
    if at is not None:
        event.created_at = at
    if commit:
        db.session.commit()
    return event


def rows_by_place(workspace_id: str) -> dict:
    """The chain's entries by place."""
    return {row.seq: row for row in db.session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == workspace_id))}


def edit_entry(workspace_id: str, seq: int, target: str = "conn_other") -> None:
    """Change the entry at ``seq`` with SQL, as someone with write access to the database would."""
    db.session.execute(text("UPDATE audit_events SET target_id = :target WHERE workspace_id = :ws AND seq = :seq"),
                       {"target": target, "ws": workspace_id, "seq": seq})
    db.session.commit()
    db.session.expire_all()
