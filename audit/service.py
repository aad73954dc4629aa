"""Recording audit events.

``record`` only adds the event to the current session: the caller's commit writes it with the
change it describes, so there is never a change without its event or an event without its
change. Details are scrubbed of anything that looks like a secret before they are stored.
"""
import re

from core.extensions import db

from .models import AuditEvent

_SECRETISH = re.compile(r"(secret|token|password|api_key|apikey|credential|key_hash|signature)", re.I)


def scrub(details: dict | None) -> dict:
    clean = {}
    for key, value in (details or {}).items():
        if _SECRETISH.search(key):
            continue
        clean[key] = scrub(value) if isinstance(value, dict) else value
    return clean


def record(actor, action: str, *, target_type: str | None = None, target_id: str | None = None,
           outcome: str = "success", details: dict | None = None,
           workspace_id: str | None = None) -> AuditEvent:
    event = AuditEvent(
        workspace_id=workspace_id if workspace_id is not None else getattr(actor, "workspace_id", None),
        actor_type=getattr(actor, "type", "system"),
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "label", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        client_address=getattr(actor, "client_address", None),
        details=scrub(details),
    )
    db.session.add(event)
    return event
