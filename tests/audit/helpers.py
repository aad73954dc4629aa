"""Recording audit entries directly, as the domain functions do, with chosen times."""
from datetime import datetime

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
